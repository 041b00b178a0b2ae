import CRecurProto

/// A validated model: every size checked, every tensor's bytes matching its
/// shape. Tensor views point into the decoded message and are valid only
/// inside the `withModelDescription` closure that produced them.
public struct ModelDescription {
    public var inputSize: Int
    public var layers: [LayerDescription]
    public var outputSize: Int { layers.last!.outputSize }
    /// A 64-bit hash of the file's content (Reader.swift), which stream
    /// snapshots carry so that they restore only into this model.
    public var identity: UInt64 = 0
    /// Layer names, producer and metadata, in the decoded message.
    public var text = ModelText(message: nil)

    public init(inputSize: Int, layers: [LayerDescription]) {
        self.inputSize = inputSize
        self.layers = layers
    }
}

/// The model's names and metadata as NUL-terminated strings in the decoded
/// message: valid, like tensor views, only inside withModelDescription.
/// Their sizes were checked against the limits before decoding.
public struct ModelText {
    let message: UnsafePointer<Recur__Model>?

    public func layerName(_ index: Int) -> UnsafePointer<CChar>? {
        guard let layer = message?.pointee.layers[index] else { return nil }
        return UnsafePointer(layer.pointee.name)
    }
    public var producer: UnsafePointer<CChar>? { message.flatMap { UnsafePointer($0.pointee.producer) } }
    public var metadataCount: Int { message?.pointee.n_metadata ?? 0 }
    public func metadata(_ index: Int) -> (key: UnsafePointer<CChar>?, value: UnsafePointer<CChar>?) {
        guard let entry = message?.pointee.metadata[index] else { return (nil, nil) }
        return (UnsafePointer(entry.pointee.key), UnsafePointer(entry.pointee.value))
    }
}

public enum Direction: Int, Sendable {
    case forward = 0, reverse = 1, bidirectional = 2
}

public enum LayerDescription {
    /// LSTM, GRU or RNN; `backward` is set exactly for `.bidirectional`.
    case recurrent(direction: Direction, forward: CellDescription, backward: CellDescription?)
    case dense(DenseDescription)
    case embedding(EmbeddingDescription)
    case softmax(size: Int)
    case attention(AttentionDescription)

    public var outputSize: Int {
        switch self {
        case .recurrent(let direction, let cell, _):
            return direction == .bidirectional ? 2 * cell.outputSize : cell.outputSize
        case .dense(let d): return d.outputSize
        case .embedding(let e): return e.dim
        case .softmax(let size): return size
        case .attention(let a): return a.memorySize + a.querySize
        }
    }

    /// The format version the layer needs and the field that needs it, when above 1.
    public var requiredFormatVersion: (UInt32, StaticString)? {
        switch self {
        case .recurrent(_, let forward, let backward):
            return forward.requiredFormatVersion ?? backward?.requiredFormatVersion
        case .attention(let a):
            return reduced(a.weight) || reduced(a.weightQuery) || reduced(a.weightMemory)
                ? (4, "BFLOAT16 or INT8 weights") : (3, "attention")
        case .dense(let d): return d.weight.isReduced ? (4, "BFLOAT16 or INT8 weights") : nil
        case .embedding(let e): return e.weight.isReduced ? (4, "BFLOAT16 or INT8 weights") : nil
        case .softmax: return nil
        }
    }
}

public enum Activation: Int, Sendable {
    case identity = 0, sigmoid, tanh, relu, affine, leakyRelu, thresholdedRelu, scaledTanh,
         hardSigmoid, elu, softsign, softplus
}

/// A pointwise function with its parameters.
public struct Function: Equatable, Sendable {
    public var kind: Activation
    public var alpha: Float
    public var beta: Float

    public init(_ kind: Activation, alpha: Float = 0, beta: Float = 0) {
        self.kind = kind
        self.alpha = alpha
        self.beta = beta
    }

    public static let sigmoid = Function(.sigmoid)
    public static let tanh = Function(.tanh)
}

public enum CellKind: Int, Sendable {
    case lstm = 0, gru, rnn

    /// Row blocks of weight_ih / weight_hh.
    @inlinable public var gates: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnn: return 1
        }
    }
}

public enum Coupling: Int, Sendable {
    case none = 0, inputFromForget = 1, forgetFromInput = 2
}

/// One direction of an LSTM (rows i, f, g, o), GRU (rows r, z, n) or RNN.
public struct CellDescription {
    public var kind: CellKind
    public var inputSize: Int
    public var hiddenSize: Int
    public var weightIH: TensorView   // [gates*hidden, input]
    public var weightHH: TensorView   // [gates*hidden, recurrentSize]
    public var biasIH: TensorView?    // [gates*hidden]
    public var biasHH: TensorView?    // [gates*hidden]
    // Options; their defaults give the plain PyTorch cell.
    public var f: Function = .sigmoid           // LSTM/GRU gates; RNN: its one function (default tanh)
    public var g: Function = .tanh
    public var h: Function = .tanh
    public var clip: Float = 0                  // > 0: gate pre-activations
    public var initialH: TensorView? = nil      // [recurrentSize]
    // LSTM only
    public var peephole: TensorView? = nil      // [3, hidden]: i, f, o
    public var coupling: Coupling = .none
    public var cellClip: Float = 0
    public var projSize: Int = 0
    public var weightProj: TensorView? = nil    // [projSize, hidden]
    public var biasProj: TensorView? = nil      // [projSize]
    public var projClip: Float = 0
    public var layerNorm: TensorView? = nil     // [4, hidden]
    public var initialC: TensorView? = nil      // [hidden]
    public var peepholeMatrix: TensorView? = nil   // [3*hidden, hidden]: U_i, U_f, U_o (format version 2)
    public var outputPeepholePrevious = false   // p_o and U_o read c, not c' (format version 2)
    // GRU only
    public var resetBeforeMatmul = false

    public init(kind: CellKind, inputSize: Int, hiddenSize: Int, weightIH: TensorView,
                weightHH: TensorView, biasIH: TensorView?, biasHH: TensorView?) {
        self.kind = kind
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.weightIH = weightIH
        self.weightHH = weightHH
        self.biasIH = biasIH
        self.biasHH = biasHH
        if kind == .rnn { f = .tanh }
    }

    /// Floats of h: proj_size when projecting, else hidden_size.
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }

    /// True when only the plain PyTorch equations are needed (fused kernels).
    public var isPlain: Bool {
        kind != .rnn && f == .sigmoid && g == .tanh && h == .tanh && clip == 0 && initialH == nil
            && peephole == nil && coupling == .none && cellClip == 0 && projSize == 0 && layerNorm == nil
            && initialC == nil && !resetBeforeMatmul && peepholeMatrix == nil && !outputPeepholePrevious
    }

    /// The format version this cell needs and the field that needs it, when above 1.
    public var requiredFormatVersion: (UInt32, StaticString)? {
        if reduced(weightIH) || reduced(weightHH) || reduced(weightProj) || reduced(peepholeMatrix) {
            return (4, "BFLOAT16 or INT8 weights")
        }
        if peepholeMatrix != nil { return (2, "peephole_matrix") }
        if outputPeepholePrevious { return (2, "output_peephole_previous") }
        return nil
    }
}

public struct DenseDescription {
    public var inputSize: Int
    public var outputSize: Int
    public var weight: TensorView     // [output, input]
    public var bias: TensorView?      // [output]
    public var activation: Function

    public init(inputSize: Int, outputSize: Int, weight: TensorView, bias: TensorView?,
                activation: Function) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }
}

public enum AttentionScore: Int, Sendable {
    case dot = 0, general, additive
}

/// Attention over a memory set per stream (proto/recur.proto's Attention):
/// output [context, q] for input q.
public struct AttentionDescription {
    public var score: AttentionScore
    public var querySize: Int
    public var memorySize: Int
    /// Scores are multiplied by this (1 when the file says 0).
    public var scale: Float
    public var weight: TensorView?        // general: [query, memory]
    public var units: Int                 // additive
    public var weightQuery: TensorView?   // additive: [units, query]
    public var weightMemory: TensorView?  // additive: [units, memory]
    public var bias: TensorView?          // additive: [units]
    public var v: TensorView?             // additive: [units]

    public init(score: AttentionScore, querySize: Int, memorySize: Int, scale: Float = 1) {
        self.score = score
        self.querySize = querySize
        self.memorySize = memorySize
        self.scale = scale
        units = 0
    }

    /// Floats of each memory row's key: the row itself (dot), W m_i
    /// (general) or W_m m_i + b (additive).
    public var keySize: Int {
        switch score {
        case .dot: return memorySize
        case .general: return querySize
        case .additive: return units
        }
    }
}

public struct EmbeddingDescription {
    public var vocabSize: Int
    public var dim: Int
    public var weight: TensorView     // [vocab, dim]
}

/// How a tensor's elements are stored (proto/recur.proto's DataType).
public enum ElementType: Int, Sendable {
    case float32 = 1
    /// The high half of a binary32 (format version 4).
    case bfloat16 = 3
    /// Symmetric integers with a scale per row (format version 4).
    case int8 = 4
}

/// Row-major little-endian elements, possibly unaligned; read as Float
/// (bfloat16 widened, int8 times its row's scale).
public struct TensorView {
    public let base: UnsafeRawPointer
    public let count: Int
    public let type: ElementType
    /// Elements per row (the row of element i is i / columns), and the
    /// rows' scales (int8 only).
    public let columns: Int
    public let scales: UnsafePointer<Float>?

    public init(base: UnsafeRawPointer, count: Int, type: ElementType = .float32, columns: Int = 1,
                scales: UnsafePointer<Float>? = nil) {
        self.base = base
        self.count = count
        self.type = type
        self.columns = columns
        self.scales = scales
    }

    /// Whether the elements are narrower than float32 (format version 4).
    public var isReduced: Bool { type != .float32 }

    @inline(__always)
    public subscript(index: Int) -> Float {
        switch type {
        case .float32:
            return Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)))
        case .bfloat16:
            let high = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
            return Float(bitPattern: UInt32(high) << 16)
        case .int8:
            return Float(base.load(fromByteOffset: index, as: Int8.self)) * scales![index / columns]
        }
    }

    /// Element `index` as stored: a bfloat16's 16 bits, or an int8 (as its
    /// 8 bits); the packers of narrow panels copy these unchanged.
    @inline(__always)
    public func bits(_ index: Int) -> UInt16 {
        switch type {
        case .float32: return 0
        case .bfloat16: return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
        case .int8: return UInt16(base.load(fromByteOffset: index, as: UInt8.self))
        }
    }

    /// Row `row`'s scale (int8), else 1.
    @inline(__always)
    public func scale(row: Int) -> Float { scales?[row] ?? 1 }
}

/// Whether `view` is present and narrower than float32. (One view per call:
/// a variadic list would be an array, a Swift allocation per layer at load.)
@inline(__always)
func reduced(_ view: TensorView?) -> Bool { view?.isReduced ?? false }
