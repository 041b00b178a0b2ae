/// A validated model: every size checked, every tensor's bytes matching its
/// shape. Tensor views point into the decoded message and are valid only
/// inside the `withModelDescription` closure that produced them.
public struct ModelDescription {
    public var inputSize: Int
    public var layers: [LayerDescription]
    public var outputSize: Int { layers.last!.outputSize }
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
}

/// Row-major little-endian float32 elements, possibly unaligned.
public struct TensorView {
    public let base: UnsafeRawPointer
    public let count: Int

    @inline(__always)
    public subscript(index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)))
    }
}
