/// A validated model: every size checked, every tensor's bytes matching its
/// shape. Tensor views point into the decoded message and are valid only
/// inside the `withModelDescription` closure that produced them.
public struct ModelDescription {
    public var inputSize: Int
    public var layers: [LayerDescription]
    public var outputSize: Int { layers.last!.outputSize }

    public init(inputSize: Int, layers: [LayerDescription]) {
        self.inputSize = inputSize
        self.layers = layers
    }
}

public enum LayerDescription {
    case lstm(RecurrentDescription)
    case gru(RecurrentDescription)
    case dense(DenseDescription)

    public var outputSize: Int {
        switch self {
        case .lstm(let l), .gru(let l): return l.hiddenSize
        case .dense(let d): return d.outputSize
        }
    }
}

/// LSTM (rows i, f, g, o) or GRU (rows r, z, n); `gates` is 4 or 3.
public struct RecurrentDescription {
    public var name: String
    public var inputSize: Int
    public var hiddenSize: Int
    public var weightIH: TensorView   // [gates*hidden, input]
    public var weightHH: TensorView   // [gates*hidden, hidden]
    public var biasIH: TensorView?    // [gates*hidden]
    public var biasHH: TensorView?    // [gates*hidden]

    public init(name: String, inputSize: Int, hiddenSize: Int, weightIH: TensorView, weightHH: TensorView,
                biasIH: TensorView?, biasHH: TensorView?) {
        self.name = name
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.weightIH = weightIH
        self.weightHH = weightHH
        self.biasIH = biasIH
        self.biasHH = biasHH
    }
}

public enum Activation: Int, Sendable {
    case identity = 0, sigmoid = 1, tanh = 2, relu = 3
}

public struct DenseDescription {
    public var name: String
    public var inputSize: Int
    public var outputSize: Int
    public var weight: TensorView     // [output, input]
    public var bias: TensorView?      // [output]
    public var activation: Activation

    public init(name: String, inputSize: Int, outputSize: Int, weight: TensorView, bias: TensorView?,
                activation: Activation) {
        self.name = name
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }
}

/// Row-major little-endian float32 elements, possibly unaligned.
public struct TensorView {
    public let base: UnsafeRawPointer
    public let count: Int

    public init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    @inline(__always)
    public subscript(index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)))
    }
}
