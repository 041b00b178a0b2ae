#if canImport(Glibc)
import Glibc
#endif

/// Fixed header at the start of a stream's memory:
/// [StreamHeader][each layer's state and scratch, 64-byte aligned vectors].
public struct StreamHeader {
    public var model: UnsafeMutableRawPointer
    /// True when the library allocated the memory (recur_stream_create).
    public var ownsMemory: Bool
    /// Sequence-mode buffers (recur_stream_reserve): two of capacity x maxWidth floats.
    public var sequence: UnsafeMutablePointer<Float>?
    public var sequenceCapacity: Int
    /// Set only inside a call that steps many streams, to find a stream
    /// listed twice without allocating (recur_step_streams).
    public var listed: Bool
    /// Attention memory (recur_stream_reserve_memory): `memoryCapacity`
    /// rows (a multiple of 16) for every attention layer, laid out in
    /// Cells/Attention.swift; and how many attention layers have no rows set.
    public var memory: UnsafeMutablePointer<Float>?
    public var memoryCapacity: Int
    public var layersWithoutMemory: Int
}

/// One stream's state over a shared model. All of it lives in one block of
/// `Model.header.streamByteCount` bytes, allocated by the library or handed
/// over by the host; stepping touches nothing else.
public struct Stream {
    public let base: UnsafeMutableRawPointer

    @inlinable public init(base: UnsafeMutableRawPointer) { self.base = base }

    static let headerBytes = (MemoryLayout<StreamHeader>.stride + alignment - 1) / alignment * alignment
    public static let requiredAlignment = alignment

    @inlinable public var header: UnsafeMutablePointer<StreamHeader> {
        base.assumingMemoryBound(to: StreamHeader.self)
    }
    @inlinable public var model: Model { Model(base: header.pointee.model) }

    /// Bytes a stream of `model` needs.
    public static func byteCount(_ model: Model) -> Int { model.header.pointee.streamByteCount }

    /// Lays a stream out in `memory` (at least `byteCount(model)` bytes,
    /// 64-byte aligned) with its initial state.
    public static func initialize(_ model: Model, in memory: UnsafeMutableRawPointer, ownsMemory: Bool) -> Stream {
        memory.assumingMemoryBound(to: StreamHeader.self).initialize(to: StreamHeader(
            model: model.base, ownsMemory: ownsMemory, sequence: nil, sequenceCapacity: 0, listed: false,
            memory: nil, memoryCapacity: 0, layersWithoutMemory: 0))
        let stream = Stream(base: memory)
        stream.reset()
        return stream
    }

    /// Allocates (through the model's allocator) and initializes a stream.
    public static func create(_ model: Model) throws(RecurError) -> Stream {
        let size = byteCount(model)
        let memory = try model.header.pointee.allocator.aligned(size, for: "a stream")
        return initialize(model, in: memory, ownsMemory: true)
    }

    /// Releases what the library allocated (caller memory stays the
    /// caller's). Liveness is the C ABI's business (its handle registry).
    public func free() {
        let allocator = model.header.pointee.allocator
        let owns = header.pointee.ownsMemory
        allocator.free(aligned: header.pointee.sequence.map(UnsafeMutableRawPointer.init))
        header.pointee.sequence = nil
        allocator.free(aligned: header.pointee.memory.map(UnsafeMutableRawPointer.init))
        header.pointee.memory = nil
        if owns { allocator.free(aligned: base) }
    }

    // MARK: State

    /// Every state back to its initial value (zero, or the file's initial
    /// state); every attention layer's memory back to no rows (the room
    /// reserved for them stays).
    public func reset() {
        let total = Stream.byteCount(model)
        memset(base + Stream.headerBytes, 0, total - Stream.headerBytes)
        let m = model
        header.pointee.layersWithoutMemory = m.header.pointee.attentionLayers
        for l in 0..<m.layerCount where m.plans[l].kind == .recurrent {
            resetCell(m.plans[l].forward)
            if m.plans[l].direction == .bidirectional { resetCell(m.plans[l].backward) }
        }
    }

    @inlinable @inline(__always)
    func floats(_ offset: Int) -> UnsafeMutablePointer<Float> { (base + offset).assumingMemoryBound(to: Float.self) }

    /// A cell's state (and, for a cell that runs backwards, the state its
    /// runs start from) back to the file's initial state, or zero.
    func resetCell(_ cell: CellPlan) {
        let m = model.base
        memset(floats(cell.hState), 0, cell.outPadded * 4)
        if cell.initialH != 0 { floats(cell.hState).update(from: (m + cell.initialH).assumingMemoryBound(to: Float.self), count: cell.out) }
        if cell.kind == .lstm {
            memset(floats(cell.cState), 0, cell.hiddenPadded * 4)
            if cell.initialC != 0 { floats(cell.cState).update(from: (m + cell.initialC).assumingMemoryBound(to: Float.self), count: cell.hidden) }
        }
        if cell.startH != 0 {
            floats(cell.startH).update(from: floats(cell.hState), count: cell.outPadded)
            if cell.kind == .lstm { floats(cell.startC).update(from: floats(cell.cState), count: cell.hiddenPadded) }
        }
    }

    /// Floats of layer `layer`'s h and c (0 for layers without state).
    public static func stateSizes(_ model: Model, _ layer: Int) -> (h: Int, c: Int) {
        let plan = model.plans[layer]
        guard plan.kind == .recurrent else { return (0, 0) }
        let directions = plan.direction == .bidirectional ? 2 : 1
        return (directions * plan.forward.out, plan.forward.kind == .lstm ? directions * plan.forward.hidden : 0)
    }

    /// Copies layer `layer`'s state out (`write` true: in) as [forward, backward].
    /// Out: each cell's state now (for a cell that runs backwards, after its
    /// last run: its state at step 0). In: a cell that runs backwards also
    /// starts its next runs from what is written.
    public func transferState(_ layer: Int, h: UnsafeMutablePointer<Float>?, c: UnsafeMutablePointer<Float>?, write: Bool) {
        let plan = model.plans[layer]
        guard plan.kind == .recurrent else { return }
        for k in 0..<(plan.direction == .bidirectional ? 2 : 1) {
            let cell = k == 0 ? plan.forward : plan.backward
            if let h {
                let outside = h + k * cell.out
                if write {
                    floats(cell.hState).update(from: outside, count: cell.out)
                    if cell.startH != 0 { floats(cell.startH).update(from: outside, count: cell.out) }
                } else {
                    outside.update(from: floats(cell.hState), count: cell.out)
                }
            }
            if let c, cell.kind == .lstm {
                let outside = c + k * cell.hidden
                if write {
                    floats(cell.cState).update(from: outside, count: cell.hidden)
                    if cell.startC != 0 { floats(cell.startC).update(from: outside, count: cell.hidden) }
                } else {
                    outside.update(from: floats(cell.cState), count: cell.hidden)
                }
            }
        }
    }

    // MARK: Stepping (through the model's tier; Stepping.swift has the code)

    /// One step: `x` holds inputSize floats, `y` receives outputSize floats.
    /// Only for models without reverse or bidirectional layers and without an
    /// embedding. Allocates nothing, takes no lock, makes no system call.
    @inline(__always)
    public func step(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        model.header.pointee.kernels.step(base, x, y)
    }

    /// One step of a model whose first layer is an Embedding (0 ≤ token < vocab).
    @inline(__always)
    public func stepToken(_ token: Int, _ y: UnsafeMutablePointer<Float>) {
        model.header.pointee.kernels.stepToken(base, token, y)
    }

    /// `steps` steps over row-major inputs and outputs. For models with
    /// reverse or bidirectional layers the caller has checked
    /// `hasSequenceCapacity(steps)`. `xs` and `ys` may be the same array when
    /// outputSize <= inputSize; otherwise they must not overlap.
    public func run(_ steps: Int, _ xs: UnsafePointer<Float>, _ ys: UnsafeMutablePointer<Float>) {
        model.header.pointee.kernels.run(base, steps, xs, ys)
    }

    /// `steps` steps of a token model.
    public func runTokens(_ steps: Int, _ tokens: UnsafePointer<Int32>, _ ys: UnsafeMutablePointer<Float>) {
        model.header.pointee.kernels.runTokens(base, steps, tokens, ys)
    }

    /// True when `steps` more steps can run in sequence mode without allocating.
    public func hasSequenceCapacity(_ steps: Int) -> Bool { steps <= header.pointee.sequenceCapacity }

    /// Allocates sequence-mode buffers for up to `steps` steps (models with
    /// reverse or bidirectional layers need them for recur_run).
    public func reserve(_ steps: Int) throws(RecurError) {
        guard steps > header.pointee.sequenceCapacity else { return }
        let floats = try checkedProduct(2, steps, model.header.pointee.maxWidth)
        let bytes = try checkedProduct(floats, 4)
        let allocator = model.header.pointee.allocator
        let memory = try allocator.aligned(bytes, for: "\(steps) steps of sequence buffers")
        allocator.free(aligned: header.pointee.sequence.map(UnsafeMutableRawPointer.init))
        header.pointee.sequence = memory.assumingMemoryBound(to: Float.self)
        header.pointee.sequenceCapacity = steps
    }
}
