// The step path, generic over the tier's MultiplyAdd and @inlinable: each
// tier module compiles its own copy with its own -target-cpu (Tiers.swift).
// Nothing here allocates, locks, makes a system call or calls memmove.
extension Stream {
    /// Plans are passed by pointer into the arena: a plan copied by value
    /// would be a memcpy per call.
    @inlinable @inline(__always)
    func stepCell<M: MultiplyAdd>(_ m: M.Type, _ cell: UnsafePointer<CellPlan>, _ x: UnsafePointer<Float>) {
        let weights = UnsafeRawPointer(model.base)
        if cell.pointee.fused {
            let lstm = cell.pointee.kind == .lstm
            switch cell.pointee.weights {
            case .float32:
                if lstm { LSTMCell.step(m, cell, weights, x, base) } else { GRUCell.step(m, cell, weights, x, base) }
            case .bfloat16:
                if lstm {
                    LSTMCell.stepNarrow(BFloat16Pairs.self, m, cell, weights, x, base)
                } else {
                    GRUCell.stepNarrow(BFloat16Pairs.self, m, cell, weights, x, base)
                }
            case .int8:
                if lstm {
                    LSTMCell.stepNarrow(Int8Columns.self, m, cell, weights, x, base)
                } else {
                    GRUCell.stepNarrow(Int8Columns.self, m, cell, weights, x, base)
                }
            case .int8Codes:
                if lstm {
                    LSTMCell.stepNarrow(Int8Codes.self, m, cell, weights, x, base)
                } else {
                    GRUCell.stepNarrow(Int8Codes.self, m, cell, weights, x, base)
                }
            }
        } else {
            GeneralCell.step(m, cell, weights, x, base)
        }
    }


    /// One streaming step of layers `first...` on `input`; returns the output.
    @inlinable @inline(__always)
    func forward<M: MultiplyAdd>(_ m: M.Type, from first: Int, _ input: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let model = self.model
        let plans = model.plans
        var input = input
        for l in first..<model.header.pointee.layerCount {
            let plan = plans + l
            switch plan.pointee.kind {
            case .recurrent:
                stepCell(m, forwardCell(plan), input)
                input = UnsafePointer(floats(plan.pointee.forward.hState))
            case .dense: input = DenseLayer.step(m, plan, model.base, input, base)
            case .softmax: input = SoftmaxLayer.step(m, plan, input, base)
            case .attention: input = AttentionLayer.step(m, plan, model.base, input, base)
            case .embedding: break  // first layer only; see stepToken
            }
        }
        return input
    }

    @inlinable @inline(__always)
    func copyOut(_ from: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<model.header.pointee.outputSize { y[i] = from[i] }
    }

    /// One step (see `step(_:_:)`) with tier `m`. `run` calls the same
    /// function for each step, so both execute the same code.
    @inlinable @inline(never)
    public func step<M: MultiplyAdd>(_ m: M.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        copyOut(forward(m, from: 0, x), y)
    }

    /// The embedding row of `token` (0 ≤ token < vocab).
    @inlinable @inline(__always)
    func embedding(_ token: Int) -> UnsafePointer<Float> {
        let plan = model.plans
        return UnsafePointer((model.base + plan.pointee.weights).assumingMemoryBound(to: Float.self) + token &* plan.pointee.outputSize)
    }

    /// One step of a token model with tier `m`.
    @inlinable
    public func stepToken<M: MultiplyAdd>(_ m: M.Type, _ token: Int, _ y: UnsafeMutablePointer<Float>) {
        copyOut(forward(m, from: 1, embedding(token)), y)
    }

    /// `steps` steps (see `run(_:_:_:)`) with tier `m`. Forward-only
    /// models run in chunks of chunkSteps steps, layer by layer (so that a
    /// fused cell takes the x halves of a chunk as one product); each
    /// step's sums are still the step's, so the outputs are recur_step's.
    @inlinable
    public func run<M: MultiplyAdd>(_ m: M.Type, _ steps: Int, _ xs: UnsafePointer<Float>, _ ys: UnsafeMutablePointer<Float>) {
        let header = model.header
        let inputs = header.pointee.inputSize, outputs = header.pointee.outputSize, width = header.pointee.maxWidth
        if header.pointee.firstSequenceLayer < 0 && !(header.pointee.chunked && M.chunksSequences) {
            // In place is safe: step t writes only floats that steps <= t read.
            for t in 0..<steps { step(m, xs + t &* inputs, ys + t &* outputs) }
        } else if header.pointee.firstSequenceLayer < 0 {
            // In place is safe: a chunk's outputs go over inputs it has read.
            let chunk = header.pointee.chunkSteps, buffers = floats(header.pointee.chunkBuffers)
            var start = 0
            while start < steps {
                let n = min(chunk, steps &- start)
                runLayers(m, n, from: 0, xs + start &* inputs, stride: inputs, ys + start &* outputs,
                          buffers: buffers, inputInBuffer: false)
                start &+= n
            }
        } else if xs == UnsafePointer(ys) {
            // Sequence mode reads every input more than once: copy them aside.
            let buffer = self.header.pointee.sequence!
            for t in 0..<steps {
                for i in 0..<inputs { buffer[t &* width &+ i] = xs[t &* inputs &+ i] }
            }
            runLayers(m, steps, from: 0, UnsafePointer(buffer), stride: width, ys, buffers: buffer, inputInBuffer: true)
        } else {
            runLayers(m, steps, from: 0, xs, stride: inputs, ys, buffers: self.header.pointee.sequence!, inputInBuffer: false)
        }
    }

    /// `steps` steps of a token model with tier `m`.
    @inlinable
    public func runTokens<M: MultiplyAdd>(_ m: M.Type, _ steps: Int, _ tokens: UnsafePointer<Int32>,
                                          _ ys: UnsafeMutablePointer<Float>) {
        let header = model.header
        let outputs = header.pointee.outputSize, width = header.pointee.maxWidth
        let dim = model.plans.pointee.outputSize
        // The embedding rows of `count` tokens into the first half of `buffer`.
        @inline(__always) func embed(_ tokens: UnsafePointer<Int32>, _ count: Int, _ buffer: UnsafeMutablePointer<Float>) {
            for t in 0..<count {
                let row = embedding(Int(tokens[t]))
                for i in 0..<dim { buffer[t &* width &+ i] = row[i] }
            }
        }
        if header.pointee.firstSequenceLayer < 0 && !(header.pointee.chunked && M.chunksSequences) {
            for t in 0..<steps { copyOut(forward(m, from: 1, embedding(Int(tokens[t]))), ys + t &* outputs) }
        } else if header.pointee.firstSequenceLayer < 0 {
            let chunk = header.pointee.chunkSteps, buffers = floats(header.pointee.chunkBuffers)
            var start = 0
            while start < steps {
                let n = min(chunk, steps &- start)
                if header.pointee.layerCount == 1 {
                    for t in 0..<n { copyOut(embedding(Int(tokens[start &+ t])), ys + (start &+ t) &* outputs) }
                } else {
                    embed(tokens + start, n, buffers)
                    runLayers(m, n, from: 1, UnsafePointer(buffers), stride: width, ys + start &* outputs,
                              buffers: buffers, inputInBuffer: true)
                }
                start &+= n
            }
        } else {
            let buffer = self.header.pointee.sequence!
            embed(tokens, steps, buffer)
            runLayers(m, steps, from: 1, UnsafePointer(buffer), stride: width, ys, buffers: buffer, inputInBuffer: true)
        }
    }

    /// Sequence mode: each layer over the whole sequence, then the next.
    /// Forward cells continue from the stream's state; cells that run
    /// backwards start at the sequence's end from their start state (the
    /// file's initial state, or what set_state gave). `inputInBuffer`: the
    /// input rows are in the first half of the sequence buffers.
    @inlinable @inline(never)
    func runLayers<M: MultiplyAdd>(_ m: M.Type, _ steps: Int, from first: Int, _ xs: UnsafePointer<Float>,
                                   stride inStride: Int, _ ys: UnsafeMutablePointer<Float>,
                                   buffers: UnsafeMutablePointer<Float>, inputInBuffer: Bool) {
        let model = self.model
        let header = model.header
        let width = header.pointee.maxWidth, layers = header.pointee.layerCount, outputs = header.pointee.outputSize
        var input = xs, stride = inStride
        // Layer outputs alternate between the two halves of the buffers; the
        // first half may hold the input of layer `first`.
        var half = inputInBuffer ? 1 : 0
        for l in first..<layers {
            let layer = model.plans + l
            let plan = layer.pointee
            let last = l == layers &- 1
            let out = last ? ys : buffers + half &* steps &* width
            let outStride = last ? outputs : width
            @inline(__always) func keep(_ from: UnsafePointer<Float>, _ t: Int, _ offset: Int, _ count: Int) {
                let to = out + (t &* outStride &+ offset)
                for i in 0..<count { to[i] = from[i] }
            }
            switch plan.kind {
            case .recurrent:
                let cell = forwardCell(layer)
                let units = cell.pointee.out
                if plan.direction == .reverse { restartCell(cell) }
                runCell(m, cell, steps, input, stride, out, outStride, offset: 0, backwards: plan.direction == .reverse)
                if plan.direction == .bidirectional {
                    let back = backwardCell(layer)
                    restartCell(back)
                    runCell(m, back, steps, input, stride, out, outStride, offset: units, backwards: true)
                }
            case .dense:
                for t in 0..<steps { keep(DenseLayer.step(m, layer, model.base, input + t &* stride, base), t, 0, plan.outputSize) }
            case .softmax:
                for t in 0..<steps { keep(SoftmaxLayer.step(m, layer, input + t &* stride, base), t, 0, plan.outputSize) }
            case .attention:
                for t in 0..<steps {
                    keep(AttentionLayer.step(m, layer, model.base, input + t &* stride, base), t, 0, plan.outputSize)
                }
            case .embedding: break
            }
            input = UnsafePointer(out)
            stride = outStride
            half ^= 1
        }
    }

    /// One cell over `steps` input rows (from the last when `backwards`),
    /// its h after each step kept in row t of `out` at `offset`. Fused cells
    /// with float32 panels and at least `chunkedInputs` x columns take
    /// chunks of chunkSteps steps, x halves first (Cells/); the others step.
    @inlinable @inline(__always)
    func runCell<M: MultiplyAdd>(_ m: M.Type, _ cell: UnsafePointer<CellPlan>, _ steps: Int, _ input: UnsafePointer<Float>,
                                 _ stride: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int, offset: Int,
                                 backwards: Bool) {
        let header = model.header
        if cell.pointee.fused && cell.pointee.weights == .float32 && cell.pointee.inputSize >= chunkedInputs
            && M.chunksSequences {
            let sums = UnsafeMutableRawPointer(floats(header.pointee.chunkSums)).assumingMemoryBound(to: Vec.self)
            let size = header.pointee.chunkSteps, weights = UnsafeRawPointer(model.base)
            var done = 0
            while done < steps {
                let n = min(size, steps &- done)
                let chunk = Chunk(rows: input, stride: stride, out: out + offset, outStride: outStride,
                                  first: backwards ? steps &- 1 &- done : done, direction: backwards ? -1 : 1, count: n)
                if cell.pointee.kind == .lstm {
                    LSTMCell.run(m, cell, weights, base, chunk, sums)
                } else {
                    GRUCell.run(m, cell, weights, base, chunk, sums)
                }
                done &+= n
            }
        } else {
            let h = UnsafePointer(floats(cell.pointee.hState)), units = cell.pointee.out
            let chunk = Chunk(rows: input, stride: stride, out: out + offset, outStride: outStride,
                              first: backwards ? steps &- 1 : 0, direction: backwards ? -1 : 1, count: steps)
            for j in 0..<steps {
                stepCell(m, cell, chunk.row(j))
                chunk.keep(j, h, units)
            }
        }
    }

    /// A cell that runs backwards, back to the state its runs start from.
    @inlinable @inline(__always)
    func restartCell(_ plan: UnsafePointer<CellPlan>) {
        let cell = plan.pointee
        copyVectors(floats(cell.hState), floats(cell.startH), cell.outPadded)
        if cell.kind == .lstm { copyVectors(floats(cell.cState), floats(cell.startC), cell.hiddenPadded) }
    }
}

/// Steps `first`, `first + direction`, ... (`count` of them) of a sequence:
/// where step j's input row is and where its output goes.
@frozen @usableFromInline
struct Chunk {
    @usableFromInline let rows: UnsafePointer<Float>
    @usableFromInline let stride: Int
    @usableFromInline let out: UnsafeMutablePointer<Float>
    @usableFromInline let outStride: Int
    @usableFromInline let first: Int
    @usableFromInline let direction: Int
    @usableFromInline let count: Int

    @inlinable init(rows: UnsafePointer<Float>, stride: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                    first: Int, direction: Int, count: Int) {
        self.rows = rows
        self.stride = stride
        self.out = out
        self.outStride = outStride
        self.first = first
        self.direction = direction
        self.count = count
    }

    @inlinable @inline(always)
    func row(_ j: Int) -> UnsafePointer<Float> { rows + (first &+ j &* direction) &* stride }

    /// Copies `n` floats of `from` to step j's output row.
    @inlinable @inline(always)
    func keep(_ j: Int, _ from: UnsafePointer<Float>, _ n: Int) {
        let to = out + (first &+ j &* direction) &* outStride
        for i in 0..<n { to[i] = from[i] }
    }
}

/// A layer's cells, by address: no access to the plan at all (an `inout` to
/// the shared plan would be a write to Swift, so a data race between
/// streams of one model under ThreadSanitizer). The offsets fold to constants.
@inlinable @inline(__always)
func forwardCell(_ layer: UnsafePointer<LayerPlan>) -> UnsafePointer<CellPlan> {
    (UnsafeRawPointer(layer) + MemoryLayout<LayerPlan>.offset(of: \.forward)!).assumingMemoryBound(to: CellPlan.self)
}

@inlinable @inline(__always)
func backwardCell(_ layer: UnsafePointer<LayerPlan>) -> UnsafePointer<CellPlan> {
    (UnsafeRawPointer(layer) + MemoryLayout<LayerPlan>.offset(of: \.backward)!).assumingMemoryBound(to: CellPlan.self)
}
