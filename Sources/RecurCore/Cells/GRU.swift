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
        packRecurrent(d, gates: gates, into: panels, biasVectors: biasVectors) { set, row, gate in
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
            let previous = UnsafeRawPointer(h + b &* lanes).load(as: Vec.self)
            let n = tanhApprox(m, M.madd(nx, sigmoidApprox(m, r), nh))
            let next = M.madd(n, sigmoidApprox(m, z), previous - n)
            UnsafeMutableRawPointer(hNext + b &* lanes).assumingMemoryBound(to: Vec.self).pointee = next
            panel += panelVectors
            b &+= 1
        }
        if blocks > 1 { copyVectors(h, hNext, blocks &* lanes) }
    }
}
