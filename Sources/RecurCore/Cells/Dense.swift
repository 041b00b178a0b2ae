#if canImport(Glibc)
import Glibc
#endif

/// Dense: y = activation(W x + b), W is [output, input]; the activation is
/// any of the format's functions (Kernels/Functions.swift).
///
/// Panel per 16-row block: 1 bias vector, then input_size column vectors.
/// State per stream: the output vector (read by the next layer).
@usableFromInline
enum DenseLayer {
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

    @inlinable @inline(never)  // one call per layer; keeps the activations inlined inside
    static func step<M: MultiplyAdd>(_ m: M.Type, _ layer: UnsafePointer<LayerPlan>, _ model: UnsafeRawPointer,
                                     _ x: UnsafePointer<Float>, _ stream: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
        let plan = layer.pointee
        let panels = (model + plan.weights).assumingMemoryBound(to: Vec.self)
        let out = (stream + plan.output).assumingMemoryBound(to: Float.self)
        let inputs = plan.inputSize
        var panel = panels
        for b in 0..<blockCount(plan.outputSize) {
            var a = panel[0]
            accumulate1(m, &a, panel + 1, x, inputs)
            a = apply(m, plan.activation, a)
            UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self).pointee = a
            panel += 1 &+ inputs
        }
        return UnsafePointer(out)
    }
}

/// Softmax over the whole vector: exp(x − max x) / Σ exp(x − max x).
/// (Generic over the tier only so that each tier gets its own copy.)
@usableFromInline
enum SoftmaxLayer {
    @inlinable @inline(never)
    static func step<M: MultiplyAdd>(_: M.Type, _ layer: UnsafePointer<LayerPlan>, _ x: UnsafePointer<Float>,
                                     _ stream: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
        let plan = layer.pointee
        let out = (stream + plan.output).assumingMemoryBound(to: Float.self)
        let n = plan.outputSize
        var top = -Float.infinity
        for i in 0..<n { top = max(top, x[i]) }
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(x[i] - top)
            out[i] = e
            sum += e
        }
        let scale = 1 / sum
        for i in 0..<n { out[i] *= scale }
        return UnsafePointer(out)
    }
}
