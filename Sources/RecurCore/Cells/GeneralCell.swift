#if canImport(Glibc)
import Glibc
#endif

/// The general path for LSTM, GRU and RNN: every option of the format, in
/// two steps per cell: gate pre-activations by packed matrix-vector products
/// into stream scratch (gate-padded rows, see MatVec.swift), then pointwise
/// passes. Equations in docs/cells/{lstm,gru,rnn}.md.
///
/// LSTM (rows i, f, g, o), in this order:
///   z = W x + R h (+ b_ih + b_hh unless layer-normalised)
///   z_i += U_i c, z_f += U_f c                         (peephole matrices)
///   z_i += p_i ⊙ c, z_f += p_f ⊙ c                     (peepholes)
///   z_o += U_o c + p_o ⊙ c  only with output_peephole_previous
///   z_k = LN(z_k) ⊙ w_k + b_k for k in i, f, g         (layer norm)
///   z = clip(z);  i = f(z_i), f = f(z_f), g = g(z_g)
///   i = 1 − f or f = 1 − i                             (coupling)
///   c' = f ⊙ c + i ⊙ g, clipped to ±cell_clip
///   z_o += p_o ⊙ c' + U_o c' (unless output_peephole_previous);
///   z_o = LN(z_o) ⊙ w_o + b_o;  o = f(clip(z_o))
///   h' = o ⊙ h(c');  with projection h' = clip(W_p h' + b_p, ±proj_clip)
/// GRU (rows r, z, n): r, z = f(clip(·)); n = g(clip(W_n x + b_in + r ⊙ (R_n h + b_hn)))
///   or, reset before the matmul, n = g(clip(W_n x + b_in + R_n (r ⊙ h) + b_hn));
///   h' = (1 − z) ⊙ n + z ⊙ h
/// RNN: h' = f(clip(W x + b_ih + R h + b_hh))
@usableFromInline
enum GeneralCell {
    @inlinable static var layerNormEpsilon: Float { 1e-8 }  // TensorFlow Lite's

    static func pack(_ c: CellDescription, _ p: CellPlan, _ base: UnsafeMutableRawPointer) {
        let hidden = c.hiddenSize, hp = p.hiddenPadded, gates = c.kind.gates
        let inputs = c.inputSize, recurrent = c.outputSize
        let rowOf: (Int) -> Int? = { padded in
            let unit = padded % hp
            return unit < hidden ? (padded / hp) * hidden + unit : nil
        }
        let combined: (Int) -> Float = { row in (c.biasIH?[row] ?? 0) + (c.biasHH?[row] ?? 0) }
        let biasX: (Int) -> Float = { row in
            switch c.kind {
            case .gru: return c.biasIH?[row] ?? 0
            case .lstm where c.layerNorm != nil: return 0
            default: return combined(row)
            }
        }
        let biasH: (Int) -> Float = { row in c.kind == .gru ? c.biasHH?[row] ?? 0 : 0 }
        // One matrix in the cell's storage: float32, or narrow (MatVec.swift).
        func pack(_ offset: Int, _ weights: TensorView, paddedRows: Int, columns: Int, rows: (Int) -> Int?,
                  bias: (Int) -> Float) {
            if p.weights == .float32 {
                packMatVec(floats(base, offset), paddedRows: paddedRows, columns: columns, rows: rows,
                           value: { row, col in weights[row * columns + col] }, bias: bias)
            } else {
                packMatVecNarrow(base + offset, p.weights, paddedRows: paddedRows, columns: columns, rows: rows,
                                 bits: { row, col in weights.bits(row * columns + col) },
                                 scale: { weights.scale(row: $0) }, bias: bias)
            }
        }
        pack(p.wx, c.weightIH, paddedRows: gates * hp, columns: inputs, rows: rowOf, bias: biasX)
        pack(p.wh, c.weightHH, paddedRows: gates * hp, columns: recurrent, rows: rowOf, bias: biasH)
        for u in 0..<hidden {
            if let ln = c.layerNorm {
                for k in 0..<4 {
                    floats(base, p.lnWeight)[k * hp + u] = ln[k * hidden + u]
                    floats(base, p.lnBias)[k * hp + u] = combined(k * hidden + u)
                }
            }
            if let peephole = c.peephole {
                for k in 0..<3 { floats(base, p.peephole)[k * hp + u] = peephole[k * hidden + u] }
            }
        }
        if let matrix = c.peepholeMatrix {
            pack(p.peepholeMatrix, matrix, paddedRows: 3 * hp, columns: hidden, rows: rowOf, bias: { _ in 0 })
        }
        if let weight = c.weightProj {
            let projected = c.projSize
            pack(p.proj, weight, paddedRows: p.outPadded, columns: hidden, rows: { $0 < projected ? $0 : nil },
                 bias: { c.biasProj?[$0] ?? 0 })
        }
    }

    /// (A plan comes by pointer: a struct this large passed by value is a
    /// memcpy per call.)
    @inlinable @inline(__always)
    static func floats(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UnsafeMutablePointer<Float> {
        (base + offset).assumingMemoryBound(to: Float.self)
    }

    @inlinable @inline(__always)
    static func vec(_ p: UnsafeMutablePointer<Float>, _ block: Int) -> UnsafeMutablePointer<Vec> {
        UnsafeMutableRawPointer(p + block &* lanes).assumingMemoryBound(to: Vec.self)
    }

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ at: Int) -> Vec {
        UnsafeRawPointer(p + at).load(as: Vec.self)
    }


    /// Layer normalisation of `count` values (over the real units only), then
    /// scale and shift by the packed weight and bias. Finite for every finite
    /// input: the values are first scaled by a power of two (exact) so that
    /// the largest has magnitude below 2, which keeps the differences and
    /// their squares far from overflow; epsilon is scaled to match.
    @inlinable @inline(never)
    static func layerNorm<M: MultiplyAdd>(_: M.Type, _ v: UnsafeMutablePointer<Float>, _ count: Int,
                                          _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>) {
        var largest: Float = 0
        for u in 0..<count { largest = max(largest, abs(v[u])) }
        // (NaN or infinity in: no scaling, and NaN out, as in float64.)
        // (The exponent from the bits: Float.exponent is a call into the stdlib.)
        let exponent = largest.isFinite && largest >= 2 ? Int((largest.bitPattern >> 23) & 0xFF) &- 127 : 0
        let down = Float(sign: .plus, exponent: -exponent, significand: 1)
        var sum: Float = 0
        for u in 0..<count { sum += v[u] * down }
        let mean = sum / Float(count)
        var squares: Float = 0
        for u in 0..<count { let d = v[u] * down - mean; squares += d * d }
        // epsilon / 4^exponent: 0 once the values are large, as in float64.
        let epsilon = layerNormEpsilon * down * down
        let inverse = 1 / (squares / Float(count) + epsilon).squareRoot()
        for u in 0..<count { v[u] = (v[u] * down - mean) * inverse * weight[u] + bias[u] }
    }

    /// One step, with the matrices in the cell's storage.
    @inlinable @inline(__always)
    static func step<M: MultiplyAdd>(_ tier: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                     _ x: UnsafePointer<Float>, _ stream: UnsafeMutableRawPointer) {
        switch plan.pointee.weights {
        case .float32: step(Float32Panels.self, tier, plan, model, x, stream)
        case .bfloat16: step(NarrowPanels<BFloat16Pairs>.self, tier, plan, model, x, stream)
        case .int8: step(NarrowPanels<Int8Columns>.self, tier, plan, model, x, stream)
        case .int8Codes: step(NarrowPanels<Int8Codes>.self, tier, plan, model, x, stream)
        }
    }

    @inlinable @inline(never)
    static func step<P: PanelProduct, M: MultiplyAdd>(_: P.Type, _ tier: M.Type, _ plan: UnsafePointer<CellPlan>,
                                                      _ model: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                                      _ stream: UnsafeMutableRawPointer) {
        // Fields through the pointer: a copy of the plan would be a memcpy per step.
        let p = plan
        let hp = p.pointee.hiddenPadded, rows = (p.pointee.kind == .lstm ? 4 : p.pointee.kind == .gru ? 3 : 1) &* hp
        let m = UnsafeMutableRawPointer(mutating: model)
        let h = floats(stream, p.pointee.hState)
        let gx = floats(stream, p.pointee.scratch), gh = gx + rows, extra = gh + rows
        let wx = UnsafeRawPointer(m + p.pointee.wx), wh = UnsafeRawPointer(m + p.pointee.wh)
        @inline(__always) func matVec(_: M.Type, _ panels: UnsafeRawPointer, columns: Int, blocks: Range<Int>,
                                      _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
            P.product(tier, panels, columns: columns, blocks: blocks, x, out, accumulate: accumulate)
        }
        let all = 0..<(rows / lanes)
        let blocks = hp / lanes
        matVec(tier, wx, columns: p.pointee.inputSize, blocks: all, x, gx, accumulate: false)

        switch p.pointee.kind {
        case .rnn:
            matVec(tier, wh, columns: p.pointee.out, blocks: all, h, gx, accumulate: true)
            for b in 0..<blocks { vec(h, b).pointee = apply(tier, p.pointee.f, clipped(tier, vec(gx, b).pointee, p.pointee.clip)) }

        case .gru:
            if p.pointee.resetBefore {
                matVec(tier, wh, columns: p.pointee.out, blocks: 0..<(2 &* blocks), h, gh, accumulate: false)
                for b in 0..<blocks {
                    let rPre: Vec = vec(gx, b).pointee + vec(gh, b).pointee
                    let r = apply(tier, p.pointee.f, clipped(tier, rPre, p.pointee.clip))
                    vec(extra, b).pointee = r * vec(h, b).pointee
                }
                matVec(tier, wh, columns: p.pointee.out, blocks: (2 &* blocks)..<(3 &* blocks), extra, gh, accumulate: false)
                for b in 0..<blocks {
                    let zPre: Vec = vec(gx, blocks &+ b).pointee + vec(gh, blocks &+ b).pointee
                    let nPre: Vec = vec(gx, 2 &* blocks &+ b).pointee + vec(gh, 2 &* blocks &+ b).pointee
                    let z = apply(tier, p.pointee.f, clipped(tier, zPre, p.pointee.clip))
                    let n = apply(tier, p.pointee.g, clipped(tier, nPre, p.pointee.clip))
                    let previous: Vec = vec(h, b).pointee
                    vec(h, b).pointee = M.madd(n, z, previous - n)
                }
            } else {
                matVec(tier, wh, columns: p.pointee.out, blocks: all, h, gh, accumulate: false)
                for b in 0..<blocks {
                    let rPre: Vec = vec(gx, b).pointee + vec(gh, b).pointee
                    let zPre: Vec = vec(gx, blocks &+ b).pointee + vec(gh, blocks &+ b).pointee
                    let r = apply(tier, p.pointee.f, clipped(tier, rPre, p.pointee.clip))
                    let z = apply(tier, p.pointee.f, clipped(tier, zPre, p.pointee.clip))
                    let nx: Vec = vec(gx, 2 &* blocks &+ b).pointee, nh: Vec = vec(gh, 2 &* blocks &+ b).pointee
                    let n = apply(tier, p.pointee.g, clipped(tier, M.madd(nx, r, nh), p.pointee.clip))
                    let previous: Vec = vec(h, b).pointee
                    vec(h, b).pointee = M.madd(n, z, previous - n)
                }
            }

        case .lstm:
            matVec(tier, wh, columns: p.pointee.out, blocks: all, h, gx, accumulate: true)
            let c = floats(stream, p.pointee.cState)
            let zi = gx, zf = gx + hp, zg = gx + 2 &* hp, zo = gx + 3 &* hp
            let peep = p.pointee.peephole != 0 ? UnsafePointer(floats(m, p.pointee.peephole)) : nil
            let previous = p.pointee.outputPeepholePrevious
            // U_i, U_f (rows i, f: zi and zf are consecutive), then U_o,
            // each block a panel of P.panelBytes.
            let matrix = p.pointee.peepholeMatrix != 0 ? UnsafeRawPointer(m + p.pointee.peepholeMatrix) : nil
            let matrixO = matrix.map { $0 + 2 &* blocks &* P.panelBytes(columns: p.pointee.hidden) }
            if let matrix {
                matVec(tier, matrix, columns: p.pointee.hidden, blocks: 0..<(2 &* blocks), c, gx, accumulate: true)
                if previous, let matrixO {
                    matVec(tier, matrixO, columns: p.pointee.hidden, blocks: 0..<blocks, c, zo, accumulate: true)
                }
            }
            if let peep {
                for b in 0..<blocks {
                    let cv = vec(c, b).pointee
                    let pi = load(peep, b &* lanes), pf = load(peep, hp &+ b &* lanes)
                    vec(zi, b).pointee = M.madd(vec(zi, b).pointee, pi, cv)
                    vec(zf, b).pointee = M.madd(vec(zf, b).pointee, pf, cv)
                    if previous { vec(zo, b).pointee = M.madd(vec(zo, b).pointee, load(peep, 2 &* hp &+ b &* lanes), cv) }
                }
            }
            let lnW = floats(m, p.pointee.lnWeight), lnB = floats(m, p.pointee.lnBias)
            if p.pointee.lnWeight != 0 {
                for k in 0..<3 { layerNorm(tier, gx + k &* hp, p.pointee.hidden, lnW + k &* hp, lnB + k &* hp) }
            }
            for b in 0..<blocks {
                var i = apply(tier, p.pointee.f, clipped(tier, vec(zi, b).pointee, p.pointee.clip))
                var f = apply(tier, p.pointee.f, clipped(tier, vec(zf, b).pointee, p.pointee.clip))
                let g = apply(tier, p.pointee.g, clipped(tier, vec(zg, b).pointee, p.pointee.clip))
                switch p.pointee.coupling {
                case .none: break
                case .inputFromForget: i = 1 - f
                case .forgetFromInput: f = 1 - i
                }
                let cn = clipped(tier, f * vec(c, b).pointee + i * g, p.pointee.cellClip)
                vec(c, b).pointee = cn
                if let peep, !previous {
                    let po = load(peep, 2 &* hp &+ b &* lanes)
                    vec(zo, b).pointee = M.madd(vec(zo, b).pointee, po, cn)
                }
            }
            if !previous, let matrixO {
                matVec(tier, matrixO, columns: p.pointee.hidden, blocks: 0..<blocks, c, zo, accumulate: true)
            }
            if p.pointee.lnWeight != 0 { layerNorm(tier, zo, p.pointee.hidden, lnW + 3 &* hp, lnB + 3 &* hp) }
            let target = p.pointee.proj != 0 ? extra : h
            for b in 0..<blocks {
                let o = apply(tier, p.pointee.f, clipped(tier, vec(zo, b).pointee, p.pointee.clip))
                vec(target, b).pointee = o * apply(tier, p.pointee.h, vec(c, b).pointee)
            }
            if p.pointee.proj != 0 {
                let proj = UnsafeRawPointer(m + p.pointee.proj)
                matVec(tier, proj, columns: p.pointee.hidden, blocks: 0..<(p.pointee.outPadded / lanes), extra, h, accumulate: false)
                if p.pointee.projClip > 0 {
                    for b in 0..<(p.pointee.outPadded / lanes) { vec(h, b).pointee = clipped(tier, vec(h, b).pointee, p.pointee.projClip) }
                }
            }
        }
    }
}
