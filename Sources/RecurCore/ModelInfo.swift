// What is inside a model, kept in its arena for the C API's
// recur_model_layer_info / recur_model_metadata: one record per layer, and
// the layer names, producer and metadata as NUL-terminated strings.
#if canImport(Glibc)
import Glibc
#endif

/// One layer as the file describes it (numbers as in include/recur.h).
public struct LayerInfo {
    public var kind: Int32 = 0        // recur_layer_kind
    public var direction: Int32 = 0   // 0 forward, 1 reverse, 2 bidirectional
    public var inputSize = 0, outputSize = 0, hiddenSize = 0, projSize = 0, vocabSize = 0
    public var parameters = 0         // floats of weights, biases and initial states in the file
    public var options: UInt32 = 0    // RECUR_OPTION_*
    public var name = 0               // offset of the name in the arena
    /// The layer's functions: a cell's f, g, h (as many as its kind uses),
    /// or a dense layer's activation.
    public var functionCount = 0
    public var functions: (Function, Function, Function) = (.sigmoid, .sigmoid, .sigmoid)
    /// Attention layers: the width of a memory row, the score (0 dot,
    /// 1 general, 2 additive), the additive score's units, the scale.
    public var memorySize = 0, score: Int32 = 0, units = 0
    public var scale: Float = 0
    /// The element type of the layer's weights in the file (proto DataType: 1 float32).
    public var elementType: Int32 = 1
    /// How the loaded model keeps them, numbered alike (Kernels/Narrow.swift).
    public var storageType: Int32 = 1
}

/// Where the text lives in the arena (offsets from the model base).
public struct ModelTextLayout {
    public var layers = 0            // LayerInfo x layerCount
    public var metadata = 0          // (key, value) offsets x metadataCount
    public var metadataCount = 0
    public var producer = 0
}

/// Bits of LayerInfo.options (RECUR_OPTION_* in include/recur.h).
enum Option {
    static let bias: UInt32 = 1 << 0, initialState: UInt32 = 1 << 1, clip: UInt32 = 1 << 2
    static let peephole: UInt32 = 1 << 3, coupled: UInt32 = 1 << 4, cellClip: UInt32 = 1 << 5
    static let projection: UInt32 = 1 << 6, projClip: UInt32 = 1 << 7, layerNorm: UInt32 = 1 << 8
    static let resetBefore: UInt32 = 1 << 9, peepholeMatrix: UInt32 = 1 << 10, outputPeepholePrevious: UInt32 = 1 << 11
}

extension LayerInfo {
    init(_ layer: LayerDescription) {
        outputSize = layer.outputSize
        switch layer {
        case .recurrent(let direction, let forward, let backward):
            kind = Int32(forward.kind.rawValue)  // lstm 0, gru 1, rnn 2
            elementType = Int32(forward.weightIH.type.rawValue)
            self.direction = Int32(direction.rawValue)
            inputSize = forward.inputSize
            hiddenSize = forward.hiddenSize
            projSize = forward.projSize
            add(forward)
            if let backward { add(backward) }
            functionCount = forward.kind == .lstm ? 3 : forward.kind == .gru ? 2 : 1
            functions = (forward.f, forward.g, forward.h)
        case .dense(let d):
            kind = 3
            elementType = Int32(d.weight.type.rawValue)
            inputSize = d.inputSize
            parameters = d.weight.count + (d.bias?.count ?? 0)
            if d.bias != nil { options |= Option.bias }
            functionCount = 1
            functions.0 = d.activation
        case .embedding(let e):
            kind = 4
            elementType = Int32(e.weight.type.rawValue)
            inputSize = 1
            vocabSize = e.vocabSize
            parameters = e.weight.count
        case .softmax(let size):
            kind = 5
            inputSize = size
        case .attention(let a):
            kind = 6
            inputSize = a.querySize
            memorySize = a.memorySize
            score = Int32(a.score.rawValue)
            units = a.units
            scale = a.scale
            elementType = Int32((a.weight ?? a.weightQuery)?.type.rawValue ?? 1)
            for t in [a.weight, a.weightQuery, a.weightMemory, a.bias, a.v] { parameters += t?.count ?? 0 }
            if a.bias != nil { options |= Option.bias }
        }
    }

    private mutating func add(_ c: CellDescription) {
        parameters += c.weightIH.count + c.weightHH.count + (c.biasIH?.count ?? 0) + (c.biasHH?.count ?? 0)
        parameters += (c.initialH?.count ?? 0) + (c.initialC?.count ?? 0) + (c.peephole?.count ?? 0)
        parameters += (c.weightProj?.count ?? 0) + (c.biasProj?.count ?? 0) + (c.layerNorm?.count ?? 0)
        parameters += c.peepholeMatrix?.count ?? 0
        if c.biasIH != nil || c.biasHH != nil { options |= Option.bias }
        if c.initialH != nil || c.initialC != nil { options |= Option.initialState }
        if c.clip > 0 { options |= Option.clip }
        if c.peephole != nil { options |= Option.peephole }
        if c.coupling != .none { options |= Option.coupled }
        if c.cellClip > 0 { options |= Option.cellClip }
        if c.projSize > 0 { options |= Option.projection }
        if c.projClip > 0 { options |= Option.projClip }
        if c.layerNorm != nil { options |= Option.layerNorm }
        if c.resetBeforeMatmul { options |= Option.resetBefore }
        if c.peepholeMatrix != nil { options |= Option.peepholeMatrix }
        if c.outputPeepholePrevious { options |= Option.outputPeepholePrevious }
    }
}

extension Model {
    /// Bytes of the arena's text part for `description` (records, offsets, strings).
    static func textBytes(_ description: ModelDescription) throws(RecurError) -> (records: Int, pairs: Int, strings: Int) {
        let text = description.text
        var strings = length(text.producer)
        for i in 0..<description.layers.count { strings += length(text.layerName(i)) }
        for i in 0..<text.metadataCount {
            let (key, value) = text.metadata(i)
            strings += length(key) + length(value)
        }
        return (try checkedProduct(MemoryLayout<LayerInfo>.stride, description.layers.count),
                try checkedProduct(16, text.metadataCount), strings)
    }

    /// Writes the records and strings into the arena at `layout`; `strings`
    /// is the offset of the string area.
    func writeText(_ description: ModelDescription, _ layout: ModelTextLayout, strings: Int) {
        var at = strings
        func put(_ s: UnsafePointer<CChar>?) -> Int {
            let start = at, n = length(s) - 1
            if let s { (base + at).copyMemory(from: s, byteCount: n) }
            (base + at + n).storeBytes(of: 0, as: UInt8.self)
            at += n + 1
            return start
        }
        let text = description.text
        header.pointee.text = layout
        header.pointee.text.producer = put(text.producer)
        let records = (base + layout.layers).assumingMemoryBound(to: LayerInfo.self)
        for (i, layer) in description.layers.enumerated() {
            var info = LayerInfo(layer)
            info.name = put(text.layerName(i))
            let plan = plans + i
            let storage = plan.pointee.kind == .recurrent ? plan.pointee.forward.weights : plan.pointee.storage
            info.storageType = Int32(storage.keptType.rawValue)
            (records + i).initialize(to: info)
        }
        let pairs = (base + layout.metadata).assumingMemoryBound(to: Int.self)
        for i in 0..<text.metadataCount {
            let (key, value) = text.metadata(i)
            pairs[2 * i] = put(key)
            pairs[2 * i + 1] = put(value)
        }
    }

    public func layerInfo(_ layer: Int) -> LayerInfo {
        (base + header.pointee.text.layers).assumingMemoryBound(to: LayerInfo.self)[layer]
    }

    public func string(at offset: Int) -> UnsafePointer<CChar> {
        UnsafePointer((base + offset).assumingMemoryBound(to: CChar.self))
    }

    public var metadataCount: Int { header.pointee.text.metadataCount }

    public func metadata(_ index: Int) -> (key: UnsafePointer<CChar>, value: UnsafePointer<CChar>) {
        let pairs = (base + header.pointee.text.metadata).assumingMemoryBound(to: Int.self)
        return (string(at: pairs[2 * index]), string(at: pairs[2 * index + 1]))
    }

    public var producer: UnsafePointer<CChar> { string(at: header.pointee.text.producer) }
}

/// Bytes of a string with its NUL (1 for none).
private func length(_ s: UnsafePointer<CChar>?) -> Int { s.map { strlen($0) + 1 } ?? 1 }
