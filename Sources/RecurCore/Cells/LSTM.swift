/// LSTM, fused path: the plain PyTorch equations and gate order (rows i, f, g, o):
///   i = σ(W_i x + b_ii + R_i h + b_hi)   f, o likewise;  g = tanh(W_g x + b_ig + R_g h + b_hg)
///   c' = f ⊙ c + i ⊙ g;   h' = o ⊙ tanh(c')
/// Every option (peepholes, coupling, clips, projection, layer norm, other
/// functions, initial state) runs in GeneralCell instead.
///
/// Panel per 16-unit block: 4 bias vectors (b_ih + b_hh for i, f, g, o), then
/// input_size + hidden_size columns of 4 vectors (x columns first, then h);
/// on tiers with lstmHalves, two such panels of 8 units, each with 2 vectors
/// per column, i | f and g | o (Kernels/Panels.swift).
/// State per stream: a slot for x right before h, so that one pass over the
/// columns reads [x | h]; h; c; and h' (scratch, written while h is still read).
@usableFromInline
enum LSTMCell {
    @inlinable static var gates: Int { 4 }

    static func packedBytes(_ d: CellDescription) throws(RecurError) -> Int {
        try checkedProduct(blockCount(d.hiddenSize), 1 + d.inputSize + d.hiddenSize, gates, lanes, 4)
    }

    static func pack(_ d: CellDescription, halves: Bool, into panels: UnsafeMutablePointer<Float>) {
        packRecurrent(d, gates: gates, into: panels, biasVectors: gates, halves: halves, bias: bias(d))
    }

    static func packNarrow(_ d: CellDescription, _ p: CellPlan, into panels: UnsafeMutableRawPointer) {
        packNarrowRecurrent(d, p, gates: gates, into: panels, biasVectors: gates, bias: bias(d))
    }

    /// Bias vector `gate` holds b_ih + b_hh of that gate.
    static func bias(_ d: CellDescription) -> (_ set: (Int, Float) -> Void, _ row: Int, _ gate: Int) -> Void {
        { set, row, gate in set(gate, (d.biasIH?[row] ?? 0) + (d.biasHH?[row] ?? 0)) }
    }

    @inlinable @inline(never)  // one call per layer; keeps the activations inlined inside
    static func step<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                     _ x: UnsafePointer<Float>, _ stream: UnsafeMutableRawPointer) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let c = (stream + plan.pointee.cState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, columns = inputs &+ plan.pointee.hidden, blocks = plan.pointee.blocks
        let xh = loadInput(x, before: h, inputs)
        let panelVectors = (1 &+ columns) &* gates
        let whole = lastBlockIsHalf(plan.pointee.hidden) ? blocks &- 1 : blocks
        // One pass reads all of h before it writes any: h' goes straight to
        // h. More passes (blocks, or halves of a block) write h' aside while
        // later passes still read h.
        let hNext = blocks == 1 && (whole == 0 || !M.lstmHalves)
            ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        var panel = panels
        var b = 0
        while b < whole {
            if M.lstmHalves {
                // Units 0-7, then 8-15, each finished after its own pass, so
                // that its activations overlap the next pass's loads.
                let (a0, a1) = halfSums(m, panel, xh, columns)
                finishHalves(m, a0, a1, c + b &* lanes, hNext + b &* lanes)
                let (b0, b1) = halfSums(m, panel + (1 &+ columns) &* 2, xh, columns)
                finishHalves(m, b0, b1, c + (b &* lanes &+ 8), hNext + (b &* lanes &+ 8))
            } else {
                var i = panel[0], f = panel[1], g = panel[2], o = panel[3]
                accumulate4(m, &i, &f, &g, &o, panel + gates, xh, columns)
                finish(m, i, f, g, o, c + b &* lanes, hNext + b &* lanes)
            }
            panel += panelVectors
            b &+= 1
        }
        if b < blocks {
            // At most 8 units: the gates two to a vector (accumulate4's sums).
            if M.lstmHalves {
                // The first half's panel holds them so.
                let (a0, a1) = halfSums(m, panel, xh, columns)
                finishHalves(m, a0, a1, c + b &* lanes, hNext + b &* lanes)
            } else {
                var a0 = halvesAt(panel, 0), a1 = halvesAt(panel, 2), z0 = Vec(), z1 = Vec()
                chainsPair(m, &a0, &a1, &z0, &z1, panel + gates, xh, columns, oddStart: false, halves: true)
                finishHalves(m, a0 + z0, a1 + z1, c + b &* lanes, hNext + b &* lanes)
            }
        }
        if hNext != h { copyVectors(h, hNext, blocks &* lanes) }
    }

    /// The sums i | f and g | o of one half of a block (Panels.swift) over
    /// `columns` columns of [x | h]: one pass of two vectors, the sums of
    /// accumulate4 in those lanes.
    @inlinable @inline(always)
    static func halfSums<M: MultiplyAdd>(_ m: M.Type, _ half: UnsafePointer<Vec>, _ xh: UnsafePointer<Float>,
                                         _ columns: Int) -> (Vec, Vec) {
        var a0 = half[0], a1 = half[1]
        accumulatePair(m, &a0, &a1, half + 2, stride: 2, xh, columns)
        return (a0, a1)
    }

    /// A block's gate sums i, f, g, o from a panel in halves: units 0-7,
    /// then 8-15.
    @inlinable @inline(always)
    static func sumsInHalves<M: MultiplyAdd>(_ m: M.Type, _ panel: UnsafePointer<Vec>, _ xh: UnsafePointer<Float>,
                                             _ columns: Int) -> (Vec, Vec, Vec, Vec) {
        let (a0, a1) = halfSums(m, panel, xh, columns)
        let (b0, b1) = halfSums(m, panel + (1 &+ columns) &* 2, xh, columns)
        return joinHalves(a0, a1, b0, b1)
    }

    /// i, f, g, o from i | f and g | o of units 0-7 (`a0`, `a1`) and of
    /// units 8-15 (`b0`, `b1`).
    @inlinable @inline(always)
    static func joinHalves(_ a0: Vec, _ a1: Vec, _ b0: Vec, _ b1: Vec) -> (Vec, Vec, Vec, Vec) {
        (Vec(lowHalf: a0.lowHalf, highHalf: b0.lowHalf), Vec(lowHalf: a0.highHalf, highHalf: b0.highHalf),
         Vec(lowHalf: a1.lowHalf, highHalf: b1.lowHalf), Vec(lowHalf: a1.highHalf, highHalf: b1.highHalf))
    }

    /// `step` for narrow panels (Kernels/Narrow.swift): each block's sums
    /// over the x part and the h part, widened in registers.
    @inlinable @inline(never)
    static func stepNarrow<W: NarrowWeights, M: MultiplyAdd>(_ w: W.Type, _ m: M.Type, _ plan: UnsafePointer<CellPlan>,
                                                             _ model: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                                             _ stream: UnsafeMutableRawPointer) {
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let c = (stream + plan.pointee.cState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, hidden = plan.pointee.hidden, blocks = plan.pointee.blocks
        let panelBytes = plan.pointee.panelBytes
        let xPart = W.headVectors(gates: gates, biasVectors: gates) &* MemoryLayout<Vec>.stride
        let hPart = xPart &+ W.partBytes(gates: gates, columns: inputs)
        let hNext = blocks == 1 ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        var panel = model + plan.pointee.fusedPanels
        var b = 0
        while b < blocks {
            let v = panel.assumingMemoryBound(to: Vec.self)
            let sx = narrow4(w, m, panel + xPart, x, inputs)
            let sh = narrow4(w, m, panel + hPart, h, hidden)
            let i = combine(w, m, v[0], sx.v0, v[4], sh.v0, v[8])
            let f = combine(w, m, v[1], sx.v1, v[5], sh.v1, v[9])
            let g = combine(w, m, v[2], sx.v2, v[6], sh.v2, v[10])
            let o = combine(w, m, v[3], sx.v3, v[7], sh.v3, v[11])
            finish(m, i, f, g, o, c + b &* lanes, hNext + b &* lanes)
            panel += panelBytes
            b &+= 1
        }
        if blocks > 1 { copyVectors(h, hNext, blocks &* lanes) }
    }

    /// A block's new c and h' from its gate sums.
    @inlinable @inline(always)
    static func finish<M: MultiplyAdd>(_ m: M.Type, _ i: Vec, _ f: Vec, _ g: Vec, _ o: Vec,
                                       _ c: UnsafeMutablePointer<Float>, _ hNext: UnsafeMutablePointer<Float>) {
        let cv = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Vec.self)
        let cell = sigmoidApprox(m, f) * cv.pointee + sigmoidApprox(m, i) * tanhApprox(m, g)
        cv.pointee = cell
        UnsafeMutableRawPointer(hNext).assumingMemoryBound(to: Vec.self).pointee = sigmoidApprox(m, o) * tanhApprox(m, cell)
    }

    /// `finish` for a block of at most 8 units, its gates two to a vector:
    /// i | f and g | o. The same bits as `finish` in the live lanes, with
    /// three activations of a vector instead of five; the padded lanes above
    /// stay as they are (zero).
    @inlinable @inline(always)
    static func finishHalves<M: MultiplyAdd>(_ m: M.Type, _ iF: Vec, _ gO: Vec,
                                             _ c: UnsafeMutablePointer<Float>, _ hNext: UnsafeMutablePointer<Float>) {
        let sigmoidIF = sigmoidApprox(m, iF), tanhGSigmoidO = tanhSigmoid(m, gO)
        let cv = UnsafeMutableRawPointer(c)
        let cell = sigmoidIF.highHalf * cv.load(as: Half.self) + sigmoidIF.lowHalf * tanhGSigmoidO.lowHalf
        cv.storeBytes(of: cell, as: Half.self)
        let tanhCell = tanhApprox(m, Vec(lowHalf: cell, highHalf: Half())).lowHalf
        UnsafeMutableRawPointer(hNext).storeBytes(of: tanhGSigmoidO.highHalf * tanhCell, as: Half.self)
    }

    /// One step of `n` streams (StepStreams.swift): the same sums and
    /// pointwise code as `step`, three streams per read of a panel on tiers
    /// with the registers for it.
    @inlinable @inline(never)
    static func stepStreams<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                            _ input: StreamInputs, _ streams: UnsafePointer<UnsafeMutableRawPointer>, _ n: Int) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let hOffset = plan.pointee.hState, cOffset = plan.pointee.cState
        let inputs = plan.pointee.inputSize, columns = inputs &+ plan.pointee.hidden, blocks = plan.pointee.blocks
        let nextOffset = blocks == 1 ? hOffset : plan.pointee.scratch
        @inline(always) func floats(_ k: Int, _ offset: Int) -> UnsafeMutablePointer<Float> {
            (streams[k] + offset).assumingMemoryBound(to: Float.self)
        }
        for k in 0..<n { _ = loadInput(input.row(k, streams), before: floats(k, hOffset), inputs) }
        // [x | h] of stream k: the slot before h.
        @inline(always) func xh(_ k: Int) -> UnsafePointer<Float> { UnsafePointer(floats(k, hOffset) - inputs) }
        let panelVectors = (1 &+ columns) &* gates
        var panel = panels
        var b = 0
        while b < blocks {
            let at = b &* lanes
            var k = 0
            if M.streamsPerTile >= 3 && M.gatesPerPass < 4 {
                // One gate at a time.
                while k &+ 3 <= n {
                    let x0 = xh(k), x1 = xh(k &+ 1), x2 = xh(k &+ 2)
                    if M.lstmHalves {
                        // The vectors i | f and g | o of each half.
                        @inline(always) func pair(_ v: Int) -> (Vec, Vec, Vec) {
                            let start = (v >> 1) &* (1 &+ columns) &* 2 &+ (v & 1)
                            return tile1x3(m, (panel[start], panel[start], panel[start]), panel + (start &+ 2), stride: 2,
                                           x0, x1, x2, columns)
                        }
                        let a0 = pair(0), a1 = pair(1), b0 = pair(2), b1 = pair(3)
                        @inline(always) func finishStream(_ j: Int, _ sums: (Vec, Vec, Vec, Vec)) {
                            finish(m, sums.0, sums.1, sums.2, sums.3, floats(k &+ j, cOffset) + at, floats(k &+ j, nextOffset) + at)
                        }
                        finishStream(0, joinHalves(a0.0, a1.0, b0.0, b1.0))
                        finishStream(1, joinHalves(a0.1, a1.1, b0.1, b1.1))
                        finishStream(2, joinHalves(a0.2, a1.2, b0.2, b1.2))
                    } else {
                        @inline(always) func gate(_ g: Int) -> (Vec, Vec, Vec) {
                            tile1x3(m, (panel[g], panel[g], panel[g]), panel + (gates &+ g), stride: gates, x0, x1, x2, columns)
                        }
                        let i = gate(0), f = gate(1), g = gate(2), o = gate(3)
                        finish(m, i.0, f.0, g.0, o.0, floats(k, cOffset) + at, floats(k, nextOffset) + at)
                        finish(m, i.1, f.1, g.1, o.1, floats(k &+ 1, cOffset) + at, floats(k &+ 1, nextOffset) + at)
                        finish(m, i.2, f.2, g.2, o.2, floats(k &+ 2, cOffset) + at, floats(k &+ 2, nextOffset) + at)
                    }
                    k &+= 3
                }
            } else if M.streamsPerTile >= 3 {
                while k &+ 3 <= n {
                    var s0 = Sums4(panel), s1 = s0, s2 = s0
                    accumulate4x3(m, &s0, &s1, &s2, panel + gates, xh(k), xh(k &+ 1), xh(k &+ 2), columns)
                    finish(m, s0.v0, s0.v1, s0.v2, s0.v3, floats(k, cOffset) + at, floats(k, nextOffset) + at)
                    finish(m, s1.v0, s1.v1, s1.v2, s1.v3, floats(k &+ 1, cOffset) + at, floats(k &+ 1, nextOffset) + at)
                    finish(m, s2.v0, s2.v1, s2.v2, s2.v3, floats(k &+ 2, cOffset) + at, floats(k &+ 2, nextOffset) + at)
                    k &+= 3
                }
            }
            while k < n {
                if M.lstmHalves {
                    let (i, f, g, o) = sumsInHalves(m, panel, xh(k), columns)
                    finish(m, i, f, g, o, floats(k, cOffset) + at, floats(k, nextOffset) + at)
                } else {
                    var i = panel[0], f = panel[1], g = panel[2], o = panel[3]
                    accumulate4(m, &i, &f, &g, &o, panel + gates, xh(k), columns)
                    finish(m, i, f, g, o, floats(k, cOffset) + at, floats(k, nextOffset) + at)
                }
                k &+= 1
            }
            panel += panelVectors
            b &+= 1
        }
        if blocks > 1 { for k in 0..<n { copyVectors(floats(k, hOffset), floats(k, nextOffset), blocks &* lanes) } }
    }
}

extension LSTMCell {
    /// Vectors of sequence-mode sums per block and step: both chains of the
    /// four gates after the x columns.
    @inlinable static var sumVectors: Int { 8 }

    /// Sequence mode over one chunk (`chunk.count` steps, at most the
    /// stream's chunkSteps): first the x half of every gate for all steps,
    /// three steps per read of the x columns on tiers with tiles (a
    /// matrix–matrix product), kept as the two chains of the one-pass sum;
    /// then step by step the h half, continuing those chains. The sums are
    /// the step's, so the result is bit-identical to stepping.
    @inlinable @inline(never)
    static func run<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                    _ stream: UnsafeMutableRawPointer, _ chunk: Chunk, _ sums: UnsafeMutablePointer<Vec>) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let c = (stream + plan.pointee.cState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, hidden = plan.pointee.hidden, blocks = plan.pointee.blocks
        let panelVectors = (1 &+ inputs &+ hidden) &* gates
        let perStep = blocks &* sumVectors
        let n = chunk.count
        // In halves (lstmHalves), the sums of a block are those of i | f and
        // g | o of units 0-7, then of units 8-15, each half's panel
        // `second` vectors long, its h columns `hPart` vectors in.
        let second = (1 &+ inputs &+ hidden) &* 2, hPart = 2 &+ inputs &* 2
        // The x half, block by block.
        var panel = panels
        var b = 0
        while b < blocks {
            let bias = M.lstmHalves ? Sums4(panel[0], panel[1], panel[second], panel[second &+ 1]) : Sums4(panel)
            let zero = Sums4(Vec(), Vec(), Vec(), Vec())
            var j = 0
            @inline(always) func store(_ j: Int, _ a: Sums4, _ z: Sums4) {
                let to = sums + (j &* perStep &+ b &* sumVectors)
                to[0] = a.v0; to[1] = a.v1; to[2] = a.v2; to[3] = a.v3
                to[4] = z.v0; to[5] = z.v1; to[6] = z.v2; to[7] = z.v3
            }
            if M.streamsPerTile >= 3 && M.gatesPerPass < 4 {
                // One gate at a time.
                while j &+ 3 <= n {
                    let x0 = chunk.row(j), x1 = chunk.row(j &+ 1), x2 = chunk.row(j &+ 2)
                    for g in 0..<gates {
                        // Gate g, or in halves the vector g of the sums.
                        let start = M.lstmHalves ? (g >> 1) &* second &+ (g & 1) : g
                        var a0 = panel[start], a1 = a0, a2 = a0, z0 = Vec(), z1 = z0, z2 = z0
                        chains1x3(m, &a0, &a1, &a2, &z0, &z1, &z2, panel + (M.lstmHalves ? start &+ 2 : gates &+ g),
                                  stride: M.lstmHalves ? 2 : gates, x0, x1, x2, inputs)
                        let to = sums + (j &* perStep &+ b &* sumVectors &+ g)
                        to[0] = a0; to[4] = z0
                        to[perStep] = a1; to[perStep &+ 4] = z1
                        to[2 &* perStep] = a2; to[2 &* perStep &+ 4] = z2
                    }
                    j &+= 3
                }
            } else if M.streamsPerTile >= 3 {
                while j &+ 3 <= n {
                    var a0 = bias, a1 = bias, a2 = bias, z0 = zero, z1 = zero, z2 = zero
                    chains4x3(m, &a0, &a1, &a2, &z0, &z1, &z2, panel + gates, chunk.row(j), chunk.row(j &+ 1),
                              chunk.row(j &+ 2), inputs)
                    store(j, a0, z0); store(j &+ 1, a1, z1); store(j &+ 2, a2, z2)
                    j &+= 3
                }
            }
            while j < n {
                var a = bias, z = zero
                if M.lstmHalves {
                    chainsPair(m, &a.v0, &a.v1, &z.v0, &z.v1, panel + 2, chunk.row(j), inputs, oddStart: false, stride: 2)
                    chainsPair(m, &a.v2, &a.v3, &z.v2, &z.v3, panel + (second &+ 2), chunk.row(j), inputs, oddStart: false,
                               stride: 2)
                } else {
                    chains4(m, &a, &z, panel + gates, chunk.row(j), inputs, oddStart: false)
                }
                store(j, a, z)
                j &+= 1
            }
            panel += panelVectors
            b &+= 1
        }
        // The h half, step by step.
        let hColumns = gates &+ inputs &* gates
        let odd = inputs & 1 == 1
        let whole = lastBlockIsHalf(hidden) ? blocks &- 1 : blocks  // the half block, if any
        let hNext = blocks == 1 ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        for j in 0..<n {
            let from = sums + j &* perStep
            panel = panels
            b = 0
            while b < blocks {
                let p = from + b &* sumVectors
                if M.lstmHalves {
                    // Units 0-7, then (unless this is the half block) 8-15.
                    // (Finishing each half after its pass, as `step` does,
                    // ran 1.19x slower here; the bits are the same.)
                    var a0 = p[0], a1 = p[1], z0 = p[4], z1 = p[5]
                    chainsPair(m, &a0, &a1, &z0, &z1, panel + hPart, h, hidden, oddStart: odd, stride: 2)
                    if b == whole {
                        finishHalves(m, a0 + z0, a1 + z1, c + b &* lanes, hNext + b &* lanes)
                    } else {
                        var a2 = p[2], a3 = p[3], z2 = p[6], z3 = p[7]
                        chainsPair(m, &a2, &a3, &z2, &z3, panel + (second &+ hPart), h, hidden, oddStart: odd, stride: 2)
                        let (i, f, g, o) = joinHalves(a0 + z0, a1 + z1, a2 + z2, a3 + z3)
                        finish(m, i, f, g, o, c + b &* lanes, hNext + b &* lanes)
                    }
                } else if b == whole {
                    // At most 8 units: the gates two to a vector, as in `step`.
                    let q = UnsafePointer(p)
                    var a0 = halvesAt(q, 0), a1 = halvesAt(q, 2), z0 = halvesAt(q, 4), z1 = halvesAt(q, 6)
                    chainsPair(m, &a0, &a1, &z0, &z1, panel + hColumns, h, hidden, oddStart: odd, halves: true)
                    finishHalves(m, a0 + z0, a1 + z1, c + b &* lanes, hNext + b &* lanes)
                } else {
                    var a = Sums4(p), z = Sums4(p + 4)
                    chains4(m, &a, &z, panel + hColumns, h, hidden, oddStart: odd)
                    a.add(z)
                    finish(m, a.v0, a.v1, a.v2, a.v3, c + b &* lanes, hNext + b &* lanes)
                }
                panel += panelVectors
                b &+= 1
            }
            if blocks > 1 { copyVectors(h, hNext, blocks &* lanes) }
            chunk.keep(j, h, plan.pointee.out)
        }
    }
}

/// Shared packing for narrow fused panels (Kernels/Narrow.swift): the bias
/// vectors as packRecurrent's, the int8 row scales of weight_ih and
/// weight_hh, then the x and h parts, each element as the file stores it.
func packNarrowRecurrent(_ d: CellDescription, _ p: CellPlan, gates: Int, into panels: UnsafeMutableRawPointer,
                         biasVectors: Int,
                         bias: (_ set: (_ vector: Int, _ value: Float) -> Void, _ row: Int, _ gate: Int) -> Void) {
    let hidden = d.hiddenSize, inputs = d.inputSize, storage = p.weights
    let headBytes = (biasVectors + (storage.scaled ? 2 * gates : 0)) * lanes * 4
    let xBytes = (inputs + 1) / 2 * gates * storage.pairBytes
    for block in 0..<blockCount(hidden) {
        let panel = panels + block * p.panelBytes
        let floats = panel.assumingMemoryBound(to: Float.self)
        let used = min(lanes, hidden - block * lanes)
        @inline(__always) func row(_ gate: Int, _ lane: Int) -> Int { gate * hidden + block * lanes + lane }
        for lane in 0..<used {
            for gate in 0..<gates {
                bias({ vector, value in floats[vector * lanes + lane] = value }, row(gate, lane), gate)
                if storage.scaled {
                    floats[(biasVectors + gate) * lanes + lane] = d.weightIH.scale(row: row(gate, lane))
                    floats[(biasVectors + gates + gate) * lanes + lane] = d.weightHH.scale(row: row(gate, lane))
                }
            }
        }
        storage.pack(panel + headBytes, gates: gates, columns: inputs, lanesUsed: used) { gate, lane, k in
            d.weightIH.bits(row(gate, lane) * inputs + k)
        }
        storage.pack(panel + headBytes + xBytes, gates: gates, columns: hidden, lanesUsed: used) { gate, lane, k in
            d.weightHH.bits(row(gate, lane) * hidden + k)
        }
    }
}

/// Shared packing for the fused LSTM and GRU panels: for each block,
/// `biasVectors` bias vectors filled by `bias`, then the x columns, then the
/// h columns, `gates` vectors per column. Gate `g`'s row for unit `u` is g*hidden + u.
func packRecurrent(_ d: CellDescription, gates: Int, into panels: UnsafeMutablePointer<Float>,
                   biasVectors: Int, halves: Bool = false,
                   bias: (_ set: (_ vector: Int, _ value: Float) -> Void, _ row: Int, _ gate: Int) -> Void) {
    let hidden = d.hiddenSize, inputs = d.inputSize
    let columns = inputs + hidden
    let panelFloats = (biasVectors + columns * gates) * lanes
    // The float of vector v (bias vectors, then column by column) and lane.
    // In halves (LSTM only: 4 bias vectors, 4 gates), lanes 0-7 and 8-15 of
    // the block go to two panels of 2 vectors per column, i | f and g | o.
    @inline(__always) func at(_ v: Int, _ lane: Int) -> Int {
        guard halves else { return v * lanes + lane }
        let gate = v % 4, half = lane / 8
        return ((half * (1 + columns) + v / 4) * 2 + gate / 2) * lanes + gate % 2 * 8 + lane % 8
    }
    for block in 0..<blockCount(hidden) {
        let panel = panels + block * panelFloats
        for lane in 0..<min(lanes, hidden - block * lanes) {
            let unit = block * lanes + lane
            for gate in 0..<gates {
                let row = gate * hidden + unit
                bias({ vector, value in panel[at(vector, lane)] = value }, row, gate)
                for k in 0..<inputs {
                    panel[at(biasVectors + k * gates + gate, lane)] = d.weightIH[row * inputs + k]
                }
                for k in 0..<hidden {
                    panel[at(biasVectors + (inputs + k) * gates + gate, lane)] = d.weightHH[row * hidden + k]
                }
            }
        }
    }
}
