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
    /// Bytes of the float32 panels.
    static func floatBytes(_ d: DenseDescription) throws(RecurError) -> Int {
        try checkedProduct(blockCount(d.outputSize), 1 + d.inputSize, lanes, 4)
    }

    /// Narrow panels (Kernels/Narrow.swift) per 16-row block: the bias
    /// vector, the row scales (int8), then the columns in pairs.
    static func narrowPanelBytes(_ d: DenseDescription, _ storage: WeightStorage) throws(RecurError) -> Int {
        let head = (storage.scaled ? 2 : 1) * lanes * 4
        return try roundUp(try checkedSum(head, try storage.partBytes(gates: 1, columns: d.inputSize)), alignment)
    }

    static func packNarrow(_ d: DenseDescription, _ p: LayerPlan, into panels: UnsafeMutableRawPointer) {
        let storage = p.storage, inputs = d.inputSize, panelBytes = p.panelBytes
        for block in 0..<blockCount(d.outputSize) {
            let panel = panels + block * panelBytes
            let floats = panel.assumingMemoryBound(to: Float.self)
            let used = min(lanes, d.outputSize - block * lanes)
            for lane in 0..<used {
                let row = block * lanes + lane
                floats[lane] = d.bias?[row] ?? 0
                if storage.scaled { floats[lanes + lane] = d.weight.scale(row: row) }
            }
            storage.pack(panel + (storage.scaled ? 2 : 1) * lanes * 4, gates: 1, columns: inputs, lanesUsed: used) {
                _, lane, k in d.weight.bits((block * lanes + lane) * inputs + k)
            }
        }
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
        switch layer.pointee.storage {
        case .float32: break
        case .bfloat16: return stepNarrow(BFloat16Pairs.self, m, layer, model, x, stream)
        case .int8: return stepNarrow(Int8Columns.self, m, layer, model, x, stream)
        case .int8Codes: return stepNarrow(Int8Codes.self, m, layer, model, x, stream)
        }
        let panels = (model + layer.pointee.weights).assumingMemoryBound(to: Vec.self)
        let out = (stream + layer.pointee.output).assumingMemoryBound(to: Float.self)
        let inputs = layer.pointee.inputSize, activation = layer.pointee.activation
        var panel = panels
        for b in 0..<blockCount(layer.pointee.outputSize) {
            var a = panel[0]
            accumulate1(m, &a, panel + 1, x, inputs)
            a = apply(m, activation, a)
            UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self).pointee = a
            panel += 1 &+ inputs
        }
        return UnsafePointer(out)
    }
}

extension DenseLayer {
    /// `step` for narrow panels: y = activation(b + s ⊙ Σ), the columns
    /// widened in registers.
    @inlinable @inline(never)
    static func stepNarrow<W: NarrowWeights, M: MultiplyAdd>(_ w: W.Type, _ m: M.Type, _ layer: UnsafePointer<LayerPlan>,
                                                             _ model: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                                             _ stream: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
        let out = (stream + layer.pointee.output).assumingMemoryBound(to: Float.self)
        let inputs = layer.pointee.inputSize, activation = layer.pointee.activation
        let head = (W.scaled ? 2 : 1) &* MemoryLayout<Vec>.stride
        let panelBytes = layer.pointee.panelBytes
        var panel = model + layer.pointee.weights
        for b in 0..<blockCount(layer.pointee.outputSize) {
            let v = panel.assumingMemoryBound(to: Vec.self)
            let sum = narrow1(w, m, panel + head, x, inputs)
            let a = W.scaled ? M.madd(v[0], sum, v[1]) : v[0] + sum
            UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self).pointee = apply(m, activation, a)
            panel += panelBytes
        }
        return UnsafePointer(out)
    }
}

/// Softmax over the whole vector: exp(x − max x) / Σ exp(x − max x), in
/// vectors (expApprox), so a token model's step calls no libm.
@usableFromInline
enum SoftmaxLayer {
    @inlinable @inline(never)
    static func step<M: MultiplyAdd>(_ m: M.Type, _ layer: UnsafePointer<LayerPlan>, _ x: UnsafePointer<Float>,
                                     _ stream: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
        let out = (stream + layer.pointee.output).assumingMemoryBound(to: Float.self)
        let n = layer.pointee.outputSize
        var top = -Float.infinity
        var i = 0
        while i < n {
            top = max(top, x[i])
            i &+= 1
        }
        var sums = Vec()
        i = 0
        while i < n {
            let count = min(lanes, n &- i)
            var v = Vec(repeating: top)
            if count == lanes {
                v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
            } else {
                for j in 0..<count { v[j] = x[i &+ j] }
            }
            var e = expApprox(m, v - top)
            if count < lanes { for j in count..<lanes { e[j] = 0 } }
            UnsafeMutableRawPointer(out + i).storeBytes(of: e, as: Vec.self)
            sums += e
            i &+= lanes
        }
        let scale = Vec(repeating: 1 / sums.sum())
        i = 0
        while i < n {
            let o = UnsafeMutableRawPointer(out + i)
            o.storeBytes(of: o.load(as: Vec.self) * scale, as: Vec.self)
            i &+= lanes
        }
        return UnsafePointer(out)
    }
}
