@_exported import RecurFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Kinds of layer the runtime executes.
public enum LayerKind: UInt8 {
    case lstm, gru, dense
}

/// How one layer runs: sizes, and where its weights (in the model arena) and
/// its state (in each stream) live. Plain data, stored in the arena.
public struct LayerPlan {
    public var kind: LayerKind
    public var activation: Activation
    public var inputSize: Int
    public var outputSize: Int
    /// 16-row blocks covering outputSize.
    public var blocks: Int
    /// Byte offset of the layer's packed panels from the model base.
    public var weightsOffset: Int
    /// Byte offset of the layer's state from the stream base.
    public var stateOffset: Int

    /// Floats of one padded state vector.
    @inline(__always) var paddedWidth: Int { blocks &* lanes }
}

/// Fixed header at the start of a model's single allocation:
/// [ModelHeader][LayerPlan x layerCount][packed weights, 64-byte aligned].
public struct ModelHeader {
    public static let liveMagic: UInt64 = 0x4C45_444F_4D52_4552  // "RERMODEL"
    public static let deadMagic: UInt64 = 0x4441_4544_4D52_4552  // "RERMDEAD"
    public var magic: UInt64
    public var byteCount: Int
    public var inputSize: Int
    public var outputSize: Int
    public var layerCount: Int
    public var streamByteCount: Int
}

let alignment = 64

@inline(__always)
func roundUp(_ n: Int, _ to: Int) throws(RecurError) -> Int {
    let (s, overflow) = n.addingReportingOverflow(to - 1)
    guard !overflow else { throw RecurError(.tooLarge, "model size overflows") }
    return s / to * to
}

/// An immutable model: one 64-byte-aligned allocation holding the header,
/// the layer plans and every layer's packed weights. Shared freely between
/// threads; freed with `free()`.
public struct Model {
    public let base: UnsafeMutableRawPointer

    public init(base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always) public var header: UnsafeMutablePointer<ModelHeader> {
        base.assumingMemoryBound(to: ModelHeader.self)
    }
    @inline(__always) public var plans: UnsafeMutablePointer<LayerPlan> {
        (base + Model.plansOffset).assumingMemoryBound(to: LayerPlan.self)
    }
    static let plansOffset = (MemoryLayout<ModelHeader>.stride + alignment - 1) / alignment * alignment

    public var isLive: Bool { header.pointee.magic == ModelHeader.liveMagic }
    public var inputSize: Int { header.pointee.inputSize }
    public var outputSize: Int { header.pointee.outputSize }

    /// Loads a .recur file held in memory.
    public static func load(file: UnsafeRawBufferPointer) throws(RecurError) -> Model {
        try withModelDescription(file: file) { (description) throws(RecurError) in
            try Model(description)
        }
    }

    /// Lays out and fills the arena for a validated description.
    public init(_ description: ModelDescription) throws(RecurError) {
        let count = description.layers.count
        var offset = try roundUp(Model.plansOffset + MemoryLayout<LayerPlan>.stride * count, alignment)
        var stateOffset = Stream.headerBytes
        var layout: [LayerPlan] = []
        layout.reserveCapacity(count)
        for layer in description.layers {
            var plan = LayerPlan(kind: .dense, activation: .identity, inputSize: 0, outputSize: layer.outputSize,
                                 blocks: blockCount(layer.outputSize), weightsOffset: offset, stateOffset: stateOffset)
            let weightBytes: Int
            let stateVectors: Int
            switch layer {
            case .lstm(let l):
                plan.kind = .lstm
                plan.inputSize = l.inputSize
                weightBytes = try LSTMCell.packedBytes(l)
                stateVectors = LSTMCell.stateVectors
            case .gru(let g):
                plan.kind = .gru
                plan.inputSize = g.inputSize
                weightBytes = try GRUCell.packedBytes(g)
                stateVectors = GRUCell.stateVectors
            case .dense(let d):
                plan.kind = .dense
                plan.inputSize = d.inputSize
                plan.activation = d.activation
                weightBytes = try DenseLayer.packedBytes(d)
                stateVectors = DenseLayer.stateVectors
            }
            offset = try checkedSum(offset, try roundUp(weightBytes, alignment))
            stateOffset = try checkedSum(stateOffset, try checkedProduct(stateVectors, plan.paddedWidth, 4))
            layout.append(plan)
        }
        guard offset <= Model.maxArenaBytes else {
            throw RecurError(.tooLarge, "model needs \(offset) bytes of packed weights, the limit is \(Model.maxArenaBytes)")
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, alignment, offset) == 0, let base = raw else {
            throw RecurError(.outOfMemory, "cannot allocate \(offset) bytes for the model")
        }
        memset(base, 0, offset)
        self.base = base
        header.initialize(to: ModelHeader(magic: ModelHeader.liveMagic, byteCount: offset,
                                          inputSize: description.inputSize, outputSize: description.outputSize,
                                          layerCount: count, streamByteCount: stateOffset))
        for (i, (plan, layer)) in zip(layout, description.layers).enumerated() {
            (plans + i).initialize(to: plan)
            let panels = (base + plan.weightsOffset).assumingMemoryBound(to: Float.self)
            switch layer {
            case .lstm(let l): LSTMCell.pack(l, into: panels)
            case .gru(let g): GRUCell.pack(g, into: panels)
            case .dense(let d): DenseLayer.pack(d, into: panels)
            }
        }
    }

    /// Largest packed arena accepted (padding can make it larger than the file).
    public static let maxArenaBytes = 4 << 30

    /// Marks the model dead (so a stale handle is refused where detectable)
    /// and releases it.
    public func free() {
        header.pointee.magic = ModelHeader.deadMagic
        Glibc.free(base)
    }
}
