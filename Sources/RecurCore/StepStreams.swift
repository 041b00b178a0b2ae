// Many streams of one model, one step each, in one pass over the weights.
// A server holding thousands of streams reads every weight once per group
// instead of once per stream: each layer runs for all streams of the group
// before the next, and the fused cells walk each panel once for all of them
// (Cells/, Kernels/Tiles.swift). Each stream gets the same bits as from its
// own step. Like Stepping.swift: @inlinable, generic over the tier,
// allocation-free.

/// Where each stream of a group finds a layer's input.
@frozen @usableFromInline
struct StreamInputs {
    /// Row-major rows (stream k's at rows + k * stride), or, with `tokens`,
    /// the embedding table (stream k's row at rows + tokens[k] * stride).
    @usableFromInline let rows: UnsafePointer<Float>?
    @usableFromInline let stride: Int
    @usableFromInline let tokens: UnsafePointer<Int32>?
    /// Without rows: each stream's own vector at this offset (the previous layer's output).
    @usableFromInline let offset: Int

    @inlinable init(rows: UnsafePointer<Float>?, stride: Int, tokens: UnsafePointer<Int32>?, offset: Int) {
        self.rows = rows
        self.stride = stride
        self.tokens = tokens
        self.offset = offset
    }

    @inlinable @inline(always)
    func row(_ k: Int, _ streams: UnsafePointer<UnsafeMutableRawPointer>) -> UnsafePointer<Float> {
        guard let rows else { return UnsafePointer((streams[k] + offset).assumingMemoryBound(to: Float.self)) }
        if let tokens { return rows + Int(tokens[k]) &* stride }
        return rows + k &* stride
    }
}

extension Model {
    /// Streams a group of `stepStreams` may hold: the caller (the C ABI)
    /// cuts longer lists into groups of this many.
    public static let streamGroup = 64

    /// One step of each of `n` (at most `streamGroup`) distinct streams of
    /// this model, stream k reading row k of `xs` (or, for a token model,
    /// the embedding row of `tokens[k]`) and writing row k of `ys`.
    @inlinable @inline(never)
    public func stepStreams<M: MultiplyAdd>(_ m: M.Type, _ streams: UnsafePointer<UnsafeMutableRawPointer>, _ n: Int,
                                            _ xs: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                            _ ys: UnsafeMutablePointer<Float>) {
        let header = self.header
        let layers = header.pointee.layerCount
        var input: StreamInputs
        var first = 0
        if let tokens {
            input = StreamInputs(rows: UnsafePointer((base + plans.pointee.weights).assumingMemoryBound(to: Float.self)),
                                 stride: plans.pointee.outputSize, tokens: tokens, offset: 0)
            first = 1
        } else {
            input = StreamInputs(rows: xs, stride: header.pointee.inputSize, tokens: nil, offset: 0)
        }
        let weights = UnsafeRawPointer(base)
        for l in first..<layers {
            let plan = plans + l
            let output: Int
            switch plan.pointee.kind {
            case .recurrent:
                let cell = forwardCell(plan)
                if cell.pointee.fused && cell.pointee.weights != .float32 {
                    // Narrow panels: stream by stream (tiles read float32 panels).
                    for k in 0..<n { Stream(base: streams[k]).stepCell(m, cell, input.row(k, streams)) }
                } else if cell.pointee.fused {
                    if cell.pointee.kind == .lstm {
                        LSTMCell.stepStreams(m, cell, weights, input, streams, n)
                    } else {
                        GRUCell.stepStreams(m, cell, weights, input, streams, n)
                    }
                } else {
                    for k in 0..<n { GeneralCell.step(m, cell, weights, input.row(k, streams), streams[k]) }
                }
                output = cell.pointee.hState
            case .dense:
                for k in 0..<n { _ = DenseLayer.step(m, plan, base, input.row(k, streams), streams[k]) }
                output = plan.pointee.output
            case .softmax:
                for k in 0..<n { _ = SoftmaxLayer.step(m, plan, input.row(k, streams), streams[k]) }
                output = plan.pointee.output
            case .attention:
                for k in 0..<n { _ = AttentionLayer.step(m, plan, base, input.row(k, streams), streams[k]) }
                output = plan.pointee.output
            case .embedding:
                continue  // first layer only
            }
            input = StreamInputs(rows: nil, stride: 0, tokens: nil, offset: output)
        }
        let outputs = header.pointee.outputSize
        for k in 0..<n {
            let from = input.row(k, streams), to = ys + k &* outputs
            for i in 0..<outputs { to[i] = from[i] }
        }
    }
}

extension Model {
    /// `stepStreams` through the model's tier.
    @inline(__always)
    public func stepStreams(_ streams: UnsafePointer<UnsafeMutableRawPointer>, _ n: Int, _ xs: UnsafePointer<Float>?,
                            _ tokens: UnsafePointer<Int32>?, _ ys: UnsafeMutablePointer<Float>) {
        header.pointee.kernels.stepStreams(base, streams, n, xs, tokens, ys)
    }
}
