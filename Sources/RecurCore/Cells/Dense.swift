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
    /// Narrow panels are a narrow packed matrix (Kernels/MatVec.swift): per
    /// 16-row block the bias vector, the row scales (int8), the columns in pairs.
    static func packNarrow(_ d: DenseDescription, _ p: LayerPlan, into panels: UnsafeMutableRawPointer) {
        let inputs = d.inputSize, outputs = d.outputSize
        packMatVecNarrow(panels, p.storage, paddedRows: blockCount(outputs) * lanes, columns: inputs,
                         rows: { $0 < outputs ? $0 : nil }, bits: { row, col in d.weight.bits(row * inputs + col) },
                         scale: { d.weight.scale(row: $0) }, bias: { d.bias?[$0] ?? 0 })
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
    /// widened in registers (NarrowPanels.product).
    @inlinable @inline(never)
    static func stepNarrow<W: NarrowWeights, M: MultiplyAdd>(_ w: W.Type, _ m: M.Type, _ layer: UnsafePointer<LayerPlan>,
                                                             _ model: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                                             _ stream: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
        let out = (stream + layer.pointee.output).assumingMemoryBound(to: Float.self)
        let blocks = blockCount(layer.pointee.outputSize), activation = layer.pointee.activation
        NarrowPanels<W>.product(m, model + layer.pointee.weights, columns: layer.pointee.inputSize, blocks: 0..<blocks,
                                x, out, accumulate: false)
        for b in 0..<blocks {
            let o = UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self)
            o.pointee = apply(m, activation, o.pointee)
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
