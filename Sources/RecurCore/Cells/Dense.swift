/// Dense: y = activation(W x + b), W is [output, input].
///
/// Panel per 16-row block: 1 bias vector, then input_size column vectors.
/// State per stream: the output vector (read by the next layer).
enum DenseLayer {
    static let stateVectors = 1

    static func packedBytes(_ d: DenseDescription) throws(RecurError) -> Int {
        try checkedProduct(blockCount(d.outputSize), 1 + d.inputSize, lanes, 4)
    }

    static func pack(_ d: DenseDescription, into panels: UnsafeMutablePointer<Float>) {
        let panelFloats = (1 + d.inputSize) * lanes
        for block in 0..<blockCount(d.outputSize) {
            let panel = panels + block * panelFloats
            for lane in 0..<min(lanes, d.outputSize - block * lanes) {
                let row = block * lanes + lane
                panel[lane] = d.bias?[row] ?? 0
                for k in 0..<d.inputSize {
                    panel[(1 + k) * lanes + lane] = d.weight[row * d.inputSize + k]
                }
            }
        }
    }

    @inline(never)  // one call per layer; keeps the activations inlined inside
    static func step(_ plan: LayerPlan, _ panels: UnsafePointer<Vec>, _ x: UnsafePointer<Float>,
                     _ out: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let inputs = plan.inputSize
        var panel = panels
        for b in 0..<plan.blocks {
            var a = panel[0]
            accumulate1(&a, panel + 1, x, inputs)
            switch plan.activation {
            case .identity: break
            case .sigmoid: a = sigmoidApprox(a)
            case .tanh: a = tanhApprox(a)
            case .relu: a = relu(a)
            }
            UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self).pointee = a
            panel += 1 &+ inputs
        }
        return UnsafePointer(out)
    }
}
