#if canImport(Glibc)
import Glibc
#endif

/// Fixed header at the start of a stream's memory:
/// [StreamHeader][each layer's state, 64-byte aligned vectors].
public struct StreamHeader {
    public static let liveMagic: UInt64 = 0x4D41_4552_5452_5245  // "RERTREAM"
    public static let deadMagic: UInt64 = 0x4441_4544_5452_5245  // "RERTDEAD"
    public var magic: UInt64
    public var model: UnsafeMutableRawPointer
    /// True when the library allocated the memory (recur_stream_create).
    public var ownsMemory: Bool
}

/// One stream's state over a shared model. All of it lives in one block of
/// `Model.header.streamByteCount` bytes, allocated by the library or handed
/// over by the host; stepping touches nothing else.
public struct Stream {
    public let base: UnsafeMutableRawPointer

    public init(base: UnsafeMutableRawPointer) { self.base = base }

    static let headerBytes = (MemoryLayout<StreamHeader>.stride + alignment - 1) / alignment * alignment
    public static let requiredAlignment = alignment

    @inline(__always) public var header: UnsafeMutablePointer<StreamHeader> {
        base.assumingMemoryBound(to: StreamHeader.self)
    }
    @inline(__always) public var model: Model { Model(base: header.pointee.model) }
    public var isLive: Bool { header.pointee.magic == StreamHeader.liveMagic }

    /// Bytes a stream of `model` needs.
    public static func byteCount(_ model: Model) -> Int { model.header.pointee.streamByteCount }

    /// Lays a stream out in `memory` (at least `byteCount(model)` bytes,
    /// 64-byte aligned) with zero state.
    public static func initialize(_ model: Model, in memory: UnsafeMutableRawPointer, ownsMemory: Bool) -> Stream {
        memory.assumingMemoryBound(to: StreamHeader.self)
            .initialize(to: StreamHeader(magic: StreamHeader.liveMagic, model: model.base, ownsMemory: ownsMemory))
        let stream = Stream(base: memory)
        stream.reset()
        return stream
    }

    /// Allocates and initializes a stream.
    public static func create(_ model: Model) throws(RecurError) -> Stream {
        var raw: UnsafeMutableRawPointer?
        let size = byteCount(model)
        guard posix_memalign(&raw, alignment, size) == 0, let memory = raw else {
            throw RecurError(.outOfMemory, "cannot allocate \(size) bytes for a stream")
        }
        return initialize(model, in: memory, ownsMemory: true)
    }

    /// Marks the stream dead and releases its memory if the library owns it.
    public func free() {
        let owns = header.pointee.ownsMemory
        header.pointee.magic = StreamHeader.deadMagic
        if owns { Glibc.free(base) }
    }

    /// All state back to zero.
    public func reset() {
        let total = Stream.byteCount(model)
        memset(base + Stream.headerBytes, 0, total - Stream.headerBytes)
    }

    /// One step: `x` holds inputSize floats, `y` receives outputSize floats.
    /// Allocates nothing, takes no lock, makes no system call.
    @inline(__always)
    public func step(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let model = self.model
        let plans = model.plans
        let layerCount = model.header.pointee.layerCount
        var input = x
        for l in 0..<layerCount {
            let plan = plans[l]
            let weights = UnsafeRawPointer(model.base + plan.weightsOffset).assumingMemoryBound(to: Vec.self)
            let state = (base + plan.stateOffset).assumingMemoryBound(to: Float.self)
            switch plan.kind {
            case .lstm: input = LSTMCell.step(plan, weights, input, state)
            case .gru: input = GRUCell.step(plan, weights, input, state)
            case .dense: input = DenseLayer.step(plan, weights, input, state)
            }
        }
        y.update(from: input, count: model.header.pointee.outputSize)
    }

    /// `steps` steps over row-major inputs and outputs.
    public func run(_ steps: Int, _ xs: UnsafePointer<Float>, _ ys: UnsafeMutablePointer<Float>) {
        let header = model.header.pointee
        for t in 0..<steps {
            step(xs + t &* header.inputSize, ys + t &* header.outputSize)
        }
    }
}
