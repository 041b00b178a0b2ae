/// LSTM, fused path: the plain PyTorch equations and gate order (rows i, f, g, o):
///   i = σ(W_i x + b_ii + R_i h + b_hi)   f, o likewise;  g = tanh(W_g x + b_ig + R_g h + b_hg)
///   c' = f ⊙ c + i ⊙ g;   h' = o ⊙ tanh(c')
/// Every option (peepholes, coupling, clips, projection, layer norm, other
/// functions, initial state) runs in GeneralCell instead.
///
/// Panel per 16-unit block: 4 bias vectors (b_ih + b_hh for i, f, g, o), then
/// input_size + hidden_size columns of 4 vectors (x columns first, then h).
/// State per stream: a slot for x right before h, so that one pass over the
/// columns reads [x | h]; h; c; and h' (scratch, written while h is still read).
@usableFromInline
enum LSTMCell {
    @inlinable static var gates: Int { 4 }

    static func packedBytes(_ d: CellDescription) throws(RecurError) -> Int {
        try checkedProduct(blockCount(d.hiddenSize), 1 + d.inputSize + d.hiddenSize, gates, lanes, 4)
    }

    static func pack(_ d: CellDescription, into panels: UnsafeMutablePointer<Float>) {
        packRecurrent(d, gates: gates, into: panels, biasVectors: gates) { set, row, gate in
            set(gate, (d.biasIH?[row] ?? 0) + (d.biasHH?[row] ?? 0))
        }
    }

    @inlinable @inline(never)  // one call per layer; keeps the activations inlined inside
    static func step<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                     _ x: UnsafePointer<Float>, _ stream: UnsafeMutableRawPointer) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let c = (stream + plan.pointee.cState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, columns = inputs &+ plan.pointee.hidden, blocks = plan.pointee.blocks
        let xh = loadInput(x, before: h, inputs)
        // One block reads all of h before it writes any: h' goes straight
        // to h. More blocks write h' aside while later blocks still read h.
        let hNext = blocks == 1 ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        let panelVectors = (1 &+ columns) &* gates
        var panel = panels
        var b = 0
        while b < blocks {
            var i = panel[0], f = panel[1], g = panel[2], o = panel[3]
            accumulate4(m, &i, &f, &g, &o, panel + gates, xh, columns)
            finish(m, i, f, g, o, c + b &* lanes, hNext + b &* lanes)
            panel += panelVectors
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
            if M.streamsPerTile >= 3 {
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
                var i = panel[0], f = panel[1], g = panel[2], o = panel[3]
                accumulate4(m, &i, &f, &g, &o, panel + gates, xh(k), columns)
                finish(m, i, f, g, o, floats(k, cOffset) + at, floats(k, nextOffset) + at)
                k &+= 1
            }
            panel += panelVectors
            b &+= 1
        }
        if blocks > 1 { for k in 0..<n { copyVectors(floats(k, hOffset), floats(k, nextOffset), blocks &* lanes) } }
    }
}

/// Shared packing for the fused LSTM and GRU panels: for each block,
/// `biasVectors` bias vectors filled by `bias`, then the x columns, then the
/// h columns, `gates` vectors per column. Gate `g`'s row for unit `u` is g*hidden + u.
func packRecurrent(_ d: CellDescription, gates: Int, into panels: UnsafeMutablePointer<Float>,
                   biasVectors: Int,
                   bias: (_ set: (_ vector: Int, _ value: Float) -> Void, _ row: Int, _ gate: Int) -> Void) {
    let hidden = d.hiddenSize, inputs = d.inputSize
    let columns = inputs + hidden
    let panelFloats = (biasVectors + columns * gates) * lanes
    for block in 0..<blockCount(hidden) {
        let panel = panels + block * panelFloats
        for lane in 0..<min(lanes, hidden - block * lanes) {
            let unit = block * lanes + lane
            for gate in 0..<gates {
                let row = gate * hidden + unit
                bias({ vector, value in panel[vector * lanes + lane] = value }, row, gate)
                for k in 0..<inputs {
                    panel[(biasVectors + k * gates + gate) * lanes + lane] = d.weightIH[row * inputs + k]
                }
                for k in 0..<hidden {
                    panel[(biasVectors + (inputs + k) * gates + gate) * lanes + lane] = d.weightHH[row * hidden + k]
                }
            }
        }
    }
}
