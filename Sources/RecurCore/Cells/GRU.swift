/// GRU, fused path: PyTorch semantics (reset gate applied after the
/// recurrent matmul) and gate order (rows r, z, n):
///   r = σ(W_r x + b_ir + R_r h + b_hr);   z = σ(W_z x + b_iz + R_z h + b_hz)
///   n = tanh(W_n x + b_in + r ⊙ (R_n h + b_hn));   h' = (1 − z) ⊙ n + z ⊙ h
/// The reset-before variant, clips, other functions and initial state run in
/// GeneralCell.
///
/// Panel per 16-unit block: 4 bias vectors (b_ir + b_hr, b_iz + b_hz, b_in,
/// b_hn), then input_size + hidden_size columns of 3 vectors (r, z, n).
/// The n rows accumulate into separate x and h sums so r can scale the h sum.
/// State per stream: a slot for x right before h, h, and h' (scratch).
@usableFromInline
enum GRUCell {
    @inlinable static var gates: Int { 3 }
    @inlinable static var biasVectors: Int { 4 }

    static func packedBytes(_ d: CellDescription) throws(RecurError) -> Int {
        try checkedProduct(blockCount(d.hiddenSize), biasVectors + (d.inputSize + d.hiddenSize) * gates, lanes, 4)
    }

    static func pack(_ d: CellDescription, into panels: UnsafeMutablePointer<Float>) {
        packRecurrent(d, gates: gates, into: panels, biasVectors: biasVectors, bias: bias(d))
    }

    static func packNarrow(_ d: CellDescription, _ p: CellPlan, into panels: UnsafeMutableRawPointer) {
        packNarrowRecurrent(d, p, gates: gates, into: panels, biasVectors: biasVectors, bias: bias(d))
    }

    /// Bias vectors: b_ir + b_hr, b_iz + b_hz, b_in, b_hn.
    static func bias(_ d: CellDescription) -> (_ set: (Int, Float) -> Void, _ row: Int, _ gate: Int) -> Void {
        { set, row, gate in
            let bih = d.biasIH?[row] ?? 0, bhh = d.biasHH?[row] ?? 0
            if gate < 2 {
                set(gate, bih + bhh)
            } else {
                set(2, bih)
                set(3, bhh)
            }
        }
    }

    @inlinable @inline(never)  // one call per layer; keeps the activations inlined inside
    static func step<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                     _ x: UnsafePointer<Float>, _ stream: UnsafeMutableRawPointer) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, hidden = plan.pointee.hidden, blocks = plan.pointee.blocks
        let xh = loadInput(x, before: h, inputs)
        let hNext = blocks == 1 ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        let panelVectors = biasVectors &+ (inputs &+ hidden) &* gates
        var panel = panels
        var b = 0
        while b < blocks {
            // r and z over [x | h] in one pass; n's x and h sums apart, so
            // that r can scale the h sum.
            var r = panel[0], z = panel[1], nx = panel[2], nh = panel[3]
            accumulate3(m, &r, &z, &nx, panel + biasVectors, xh, inputs)
            accumulate3(m, &r, &z, &nh, panel + (biasVectors &+ inputs &* gates), h, hidden)
            finish(m, r, z, nx, nh, h + b &* lanes, hNext + b &* lanes)
            panel += panelVectors
            b &+= 1
        }
        if blocks > 1 { copyVectors(h, hNext, blocks &* lanes) }
    }

    /// `step` for narrow panels (Kernels/Narrow.swift): each block's sums
    /// over the x part and the h part, widened in registers.
    @inlinable @inline(never)
    static func stepNarrow<W: NarrowWeights, M: MultiplyAdd>(_ w: W.Type, _ m: M.Type, _ plan: UnsafePointer<CellPlan>,
                                                             _ model: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                                             _ stream: UnsafeMutableRawPointer) {
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, hidden = plan.pointee.hidden, blocks = plan.pointee.blocks
        let panelBytes = plan.pointee.panelBytes
        let xPart = W.headVectors(gates: gates, biasVectors: biasVectors) &* MemoryLayout<Vec>.stride
        let hPart = xPart &+ W.partBytes(gates: gates, columns: inputs)
        let hNext = blocks == 1 ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        var panel = model + plan.pointee.fusedPanels
        var b = 0
        while b < blocks {
            // Scales after the 4 bias vectors: x part r, z, n; h part r, z, n.
            let v = panel.assumingMemoryBound(to: Vec.self)
            let sx = narrow3(w, m, panel + xPart, x, inputs)
            let sh = narrow3(w, m, panel + hPart, h, hidden)
            let r = combine(w, m, v[0], sx.v0, v[4], sh.v0, v[7])
            let z = combine(w, m, v[1], sx.v1, v[5], sh.v1, v[8])
            let nx = W.scaled ? M.madd(v[2], sx.v2, v[6]) : v[2] + sx.v2
            let nh = W.scaled ? M.madd(v[3], sh.v2, v[9]) : v[3] + sh.v2
            finish(m, r, z, nx, nh, h + b &* lanes, hNext + b &* lanes)
            panel += panelBytes
            b &+= 1
        }
        if blocks > 1 { copyVectors(h, hNext, blocks &* lanes) }
    }

    /// A block's h' from its sums: r and z over [x | h], n's x and h sums.
    @inlinable @inline(always)
    static func finish<M: MultiplyAdd>(_ m: M.Type, _ r: Vec, _ z: Vec, _ nx: Vec, _ nh: Vec, _ h: UnsafePointer<Float>,
                                       _ hNext: UnsafeMutablePointer<Float>) {
        let previous = UnsafeRawPointer(h).load(as: Vec.self)
        let n = tanhApprox(m, M.madd(nx, sigmoidApprox(m, r), nh))
        let next = M.madd(n, sigmoidApprox(m, z), previous - n)
        UnsafeMutableRawPointer(hNext).assumingMemoryBound(to: Vec.self).pointee = next
    }

    /// One step of `n` streams (StepStreams.swift): the same sums and
    /// pointwise code as `step`, three streams per read of a panel on tiers
    /// with the registers for it.
    @inlinable @inline(never)
    static func stepStreams<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                            _ input: StreamInputs, _ streams: UnsafePointer<UnsafeMutableRawPointer>, _ n: Int) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let hOffset = plan.pointee.hState
        let inputs = plan.pointee.inputSize, hidden = plan.pointee.hidden, blocks = plan.pointee.blocks
        let nextOffset = blocks == 1 ? hOffset : plan.pointee.scratch
        @inline(always) func floats(_ k: Int, _ offset: Int) -> UnsafeMutablePointer<Float> {
            (streams[k] + offset).assumingMemoryBound(to: Float.self)
        }
        for k in 0..<n { _ = loadInput(input.row(k, streams), before: floats(k, hOffset), inputs) }
        @inline(always) func x(_ k: Int) -> UnsafePointer<Float> { UnsafePointer(floats(k, hOffset) - inputs) }
        @inline(always) func h(_ k: Int) -> UnsafePointer<Float> { UnsafePointer(floats(k, hOffset)) }
        let panelVectors = biasVectors &+ (inputs &+ hidden) &* gates
        let hPanel = biasVectors &+ inputs &* gates
        var panel = panels
        var b = 0
        while b < blocks {
            let at = b &* lanes
            var k = 0
            if M.streamsPerTile >= 3 && M.gatesPerPass < 4 {
                // One gate at a time.
                while k &+ 3 <= n {
                    let x0 = x(k), x1 = x(k &+ 1), x2 = x(k &+ 2), h0 = h(k), h1 = h(k &+ 1), h2 = h(k &+ 2)
                    @inline(always) func xSums(_ g: Int) -> (Vec, Vec, Vec) {
                        tile1x3(m, (panel[g], panel[g], panel[g]), panel + (biasVectors &+ g), stride: gates, x0, x1, x2, inputs)
                    }
                    @inline(always) func hSums(_ g: Int, _ start: (Vec, Vec, Vec)) -> (Vec, Vec, Vec) {
                        tile1x3(m, start, panel + (hPanel &+ g), stride: gates, h0, h1, h2, hidden)
                    }
                    let r = hSums(0, xSums(0)), z = hSums(1, xSums(1)), nx = xSums(2)
                    let nh = hSums(2, (panel[3], panel[3], panel[3]))
                    finish(m, r.0, z.0, nx.0, nh.0, h0 + at, floats(k, nextOffset) + at)
                    finish(m, r.1, z.1, nx.1, nh.1, h1 + at, floats(k &+ 1, nextOffset) + at)
                    finish(m, r.2, z.2, nx.2, nh.2, h2 + at, floats(k &+ 2, nextOffset) + at)
                    k &+= 3
                }
            } else if M.streamsPerTile >= 3 {
                while k &+ 3 <= n {
                    var x0 = Sums3(panel), x1 = x0, x2 = x0
                    accumulate3x3(m, &x0, &x1, &x2, panel + biasVectors, x(k), x(k &+ 1), x(k &+ 2), inputs)
                    var h0 = Sums3(x0.v0, x0.v1, panel[3]), h1 = Sums3(x1.v0, x1.v1, panel[3]), h2 = Sums3(x2.v0, x2.v1, panel[3])
                    accumulate3x3(m, &h0, &h1, &h2, panel + hPanel, h(k), h(k &+ 1), h(k &+ 2), hidden)
                    finish(m, h0.v0, h0.v1, x0.v2, h0.v2, h(k) + at, floats(k, nextOffset) + at)
                    finish(m, h1.v0, h1.v1, x1.v2, h1.v2, h(k &+ 1) + at, floats(k &+ 1, nextOffset) + at)
                    finish(m, h2.v0, h2.v1, x2.v2, h2.v2, h(k &+ 2) + at, floats(k &+ 2, nextOffset) + at)
                    k &+= 3
                }
            }
            while k < n {
                var r = panel[0], z = panel[1], nx = panel[2], nh = panel[3]
                accumulate3(m, &r, &z, &nx, panel + biasVectors, x(k), inputs)
                accumulate3(m, &r, &z, &nh, panel + hPanel, h(k), hidden)
                finish(m, r, z, nx, nh, h(k) + at, floats(k, nextOffset) + at)
                k &+= 1
            }
            panel += panelVectors
            b &+= 1
        }
        if blocks > 1 { for k in 0..<n { copyVectors(floats(k, hOffset), floats(k, nextOffset), blocks &* lanes) } }
    }
}

extension GRUCell {
    /// Vectors of sequence-mode sums per block and step: r and z over x, n's x sum.
    @inlinable static var sumVectors: Int { 3 }

    /// Sequence mode over one chunk (see LSTMCell.run): the x sums of r, z
    /// and n for all steps, three steps per read of the x columns on tiers
    /// with tiles; then step by step the h sums. The same sums as `step`.
    @inlinable @inline(never)
    static func run<M: MultiplyAdd>(_ m: M.Type, _ plan: UnsafePointer<CellPlan>, _ model: UnsafeRawPointer,
                                    _ stream: UnsafeMutableRawPointer, _ chunk: Chunk, _ sums: UnsafeMutablePointer<Vec>) {
        let panels = (model + plan.pointee.fusedPanels).assumingMemoryBound(to: Vec.self)
        let h = (stream + plan.pointee.hState).assumingMemoryBound(to: Float.self)
        let inputs = plan.pointee.inputSize, hidden = plan.pointee.hidden, blocks = plan.pointee.blocks
        let panelVectors = biasVectors &+ (inputs &+ hidden) &* gates
        let perStep = blocks &* sumVectors
        let n = chunk.count
        var panel = panels
        var b = 0
        while b < blocks {
            let bias = Sums3(panel)
            @inline(always) func store(_ j: Int, _ s: Sums3) {
                let to = sums + (j &* perStep &+ b &* sumVectors)
                to[0] = s.v0; to[1] = s.v1; to[2] = s.v2
            }
            var j = 0
            if M.streamsPerTile >= 3 && M.gatesPerPass < 4 {
                // One gate at a time.
                while j &+ 3 <= n {
                    let x0 = chunk.row(j), x1 = chunk.row(j &+ 1), x2 = chunk.row(j &+ 2)
                    for g in 0..<gates {
                        let s = tile1x3(m, (panel[g], panel[g], panel[g]), panel + (biasVectors &+ g), stride: gates,
                                        x0, x1, x2, inputs)
                        let to = sums + (j &* perStep &+ b &* sumVectors &+ g)
                        to[0] = s.0; to[perStep] = s.1; to[2 &* perStep] = s.2
                    }
                    j &+= 3
                }
            } else if M.streamsPerTile >= 3 {
                while j &+ 3 <= n {
                    var s0 = bias, s1 = bias, s2 = bias
                    accumulate3x3(m, &s0, &s1, &s2, panel + biasVectors, chunk.row(j), chunk.row(j &+ 1),
                                  chunk.row(j &+ 2), inputs)
                    store(j, s0); store(j &+ 1, s1); store(j &+ 2, s2)
                    j &+= 3
                }
            }
            while j < n {
                var s = bias
                accumulate3(m, &s.v0, &s.v1, &s.v2, panel + biasVectors, chunk.row(j), inputs)
                store(j, s)
                j &+= 1
            }
            panel += panelVectors
            b &+= 1
        }
        let hNext = blocks == 1 ? h : (stream + plan.pointee.scratch).assumingMemoryBound(to: Float.self)
        let hPanel = biasVectors &+ inputs &* gates
        for j in 0..<n {
            let from = sums + j &* perStep
            panel = panels
            b = 0
            while b < blocks {
                let p = from + b &* sumVectors
                var r = p[0], z = p[1], nh = panel[3]
                let nx = p[2]
                accumulate3(m, &r, &z, &nh, panel + hPanel, h, hidden)
                finish(m, r, z, nx, nh, h + b &* lanes, hNext + b &* lanes)
                panel += panelVectors
                b &+= 1
            }
            if blocks > 1 { copyVectors(h, hNext, blocks &* lanes) }
            chunk.keep(j, h, hidden)
        }
    }
}
