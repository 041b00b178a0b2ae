@_exported import RecurFormat

#if canImport(Glibc)
import Glibc
#endif

/// Kinds of layer the runtime executes.
public enum LayerKind: UInt8 {
    case recurrent, dense, embedding, softmax, attention
}

/// How one direction of a recurrent layer runs. Offsets of weights are bytes
/// from the model base (0 = absent: the header lives there); offsets of state
/// are bytes from the stream base. Plain data, stored in the model arena.
public struct CellPlan {
    public var kind: CellKind = .lstm
    /// Plain PyTorch equations: the fused single-pass kernels.
    public var fused = false
    public var inputSize = 0
    public var hidden = 0
    public var hiddenPadded = 0
    /// Floats of h (proj_size or hidden) and its padded width.
    public var out = 0
    public var outPadded = 0
    public var coupling: Coupling = .none
    public var resetBefore = false
    public var clip: Float = 0
    public var cellClip: Float = 0
    public var projClip: Float = 0
    public var f = Function.sigmoid, g = Function.tanh, h = Function.tanh
    // Weights in the model arena.
    public var fusedPanels = 0
    /// How the fused panels hold the weights (Kernels/Narrow.swift), and
    /// the bytes of one block's panel when narrow.
    public var weights = WeightStorage.float32
    public var panelBytes = 0
    public var wx = 0, wh = 0, proj = 0
    public var peephole = 0, lnWeight = 0, lnBias = 0
    /// Full peephole matrices U_i, U_f, U_o (packed, gate-padded rows), and
    /// whether the output gate's peepholes read c rather than c'.
    public var peepholeMatrix = 0
    public var outputPeepholePrevious = false
    public var initialH = 0, initialC = 0
    // State and scratch in the stream.
    public var hState = 0, cState = 0, scratch = 0
    /// Cells that run backwards (reverse layers, backward halves): the state
    /// each sequence-mode run starts from (stream offsets; 0 = not such a cell).
    public var startH = 0, startC = 0

    /// 16-unit blocks of the hidden width.
    @inlinable @inline(always) var blocks: Int { hiddenPadded / lanes }
}

/// How one layer runs.
public struct LayerPlan {
    public var kind: LayerKind = .dense
    public var direction: Direction = .forward
    public var inputSize = 0
    public var outputSize = 0
    /// Stream offset of the layer's output vector (dense, softmax, bidirectional).
    public var output = 0
    public var forward = CellPlan()
    public var backward = CellPlan()
    /// Dense panels or the embedding table (model offset).
    public var weights = 0
    /// How the dense panels hold the weights (Kernels/Narrow.swift).
    public var storage = WeightStorage.float32
    public var activation = Function(.identity)
    public var vocab = 0
    public var attention = AttentionPlan()
}

/// Fixed header at the start of a model's single allocation:
/// [ModelHeader][LayerPlan x layerCount][weights, each 64-byte aligned].
public struct ModelHeader {
    public var byteCount: Int
    public var inputSize: Int
    public var outputSize: Int
    public var layerCount: Int
    public var streamByteCount: Int
    /// Vocabulary size when the first layer is an Embedding (token input), else 0.
    public var vocab: Int
    /// Index of the first reverse or bidirectional layer, or -1: such models
    /// run in sequence mode only.
    public var firstSequenceLayer: Int
    /// Widest layer input or output, for sequence-mode buffers.
    public var maxWidth: Int
    /// The file's identity (ModelDescription.identity), for stream snapshots.
    public var identity: UInt64
    /// Where the layer records, names and metadata are (ModelInfo.swift).
    public var text: ModelTextLayout
    /// Where the model's memory and its streams' come from.
    public var allocator: Allocator
    /// The step path of the instruction-set tier chosen at load.
    public var kernels: Kernels
    /// Sequence mode runs fused cells over chunks of this many steps
    /// (Sequence.swift), with the x halves of their gates for the chunk in
    /// the stream at `chunkSums`; forward-only models pass layer outputs
    /// through two buffers of chunkSteps × maxWidth floats at `chunkBuffers`
    /// (0 = none).
    public var chunkSteps: Int
    public var chunkSums: Int
    public var chunkBuffers: Int
    /// Whether a forward-only model's recur_run goes chunk by chunk (some
    /// fused cell has enough x columns to gain from it), else step by step.
    public var chunked: Bool
    /// Attention layers, and the floats a stream's memory block holds per
    /// row of capacity for all of them (Cells/Attention.swift).
    public var attentionLayers: Int
    public var memoryFloatsPerRow: Int
}

/// Fused cells with fewer x columns run sequences step by step: their x
/// half is too small for a product over steps to pay for storing its sums.
@inlinable var chunkedInputs: Int { 8 }

let alignment = 64

@inline(__always)
func roundUp(_ n: Int, _ to: Int) throws(RecurError) -> Int {
    let (s, overflow) = n.addingReportingOverflow(to - 1)
    guard !overflow else { throw RecurError(.tooLarge, "model size overflows") }
    return s / to * to
}

/// Hands out 64-byte-aligned regions of a block being laid out.
struct Layout {
    var end: Int

    mutating func bytes(_ n: Int) throws(RecurError) -> Int {
        let start = end
        end = try checkedSum(end, try roundUp(n, alignment))
        return start
    }

    mutating func floats(_ n: Int) throws(RecurError) -> Int { try bytes(try checkedProduct(n, 4)) }
}

/// An immutable model: one 64-byte-aligned allocation holding the header,
/// the layer plans and every layer's packed weights. Shared freely between
/// threads; freed with `free()` once no stream uses it.
public struct Model {
    public let base: UnsafeMutableRawPointer

    @inlinable public init(base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable public var header: UnsafeMutablePointer<ModelHeader> {
        base.assumingMemoryBound(to: ModelHeader.self)
    }
    @inlinable public var plans: UnsafeMutablePointer<LayerPlan> {
        (base + Model.plansOffset).assumingMemoryBound(to: LayerPlan.self)
    }
    @inlinable static var plansOffset: Int { (MemoryLayout<ModelHeader>.stride + 63) / 64 * 64 }

    public var inputSize: Int { header.pointee.inputSize }
    public var outputSize: Int { header.pointee.outputSize }
    public var layerCount: Int { header.pointee.layerCount }

    /// Loads a .recur file: every allocation through `allocator`, every
    /// size within `limits`.
    public static func load(_ source: FrameSource, kernels: Kernels, limits: LoadLimits = .defaults,
                            allocator: Allocator = .system) throws(RecurError) -> Model {
        try withModelDescription(source, limits: limits, allocator: allocator) { (description) throws(RecurError) in
            try Model(description, kernels: kernels, limits: limits, allocator: allocator)
        }
    }

    /// Lays out and fills the arena for a validated description. Swift
    /// allocations: the plan array only (one, whatever the model).
    public init(_ description: ModelDescription, kernels: Kernels, limits: LoadLimits = .defaults,
                allocator: Allocator = .system) throws(RecurError) {
        let count = description.layers.count
        var arena = Layout(end: try roundUp(Model.plansOffset + MemoryLayout<LayerPlan>.stride * count, alignment))
        var state = Layout(end: Stream.headerBytes)
        var plans: [LayerPlan] = []
        plans.reserveCapacity(count)
        var firstSequenceLayer = -1
        var maxWidth = description.inputSize
        var attentionLayers = 0, memoryFloatsPerRow = 0
        for (index, layer) in description.layers.enumerated() {
            var plan = LayerPlan()
            plan.outputSize = layer.outputSize
            maxWidth = max(maxWidth, layer.outputSize)
            switch layer {
            case .recurrent(let direction, let forward, let backward):
                plan.kind = .recurrent
                plan.direction = direction
                plan.inputSize = forward.inputSize
                plan.forward = try planCell(forward, backwards: direction == .reverse, limits, narrowBytes: kernels.autoNarrowBytes,
                                            &arena, &state)
                plan.output = plan.forward.hState
                if let backward {
                    plan.backward = try planCell(backward, backwards: true, limits, narrowBytes: kernels.autoNarrowBytes,
                                                 &arena, &state)
                    plan.output = try state.floats(plan.outputSize + lanes)
                }
                if direction != .forward && firstSequenceLayer < 0 { firstSequenceLayer = index }
            case .dense(let d):
                plan.kind = .dense
                plan.inputSize = d.inputSize
                plan.activation = d.activation
                let rows = blockCount(d.outputSize) * lanes
                plan.storage = WeightStorage.choose(d.weight.type,
                                                    floatBytes: try WeightStorage.float32.matVecBytes(rows: rows, columns: d.inputSize),
                                                    limits.weightStorage, cacheBytes: limits.cacheBytes,
                                                    narrowBytes: kernels.autoNarrowBytes)
                plan.weights = try arena.bytes(try plan.storage.matVecBytes(rows: rows, columns: d.inputSize))
                plan.output = try state.floats(blockCount(d.outputSize) * lanes)
            case .embedding(let e):
                plan.kind = .embedding
                plan.inputSize = 1
                plan.vocab = e.vocabSize
                plan.weights = try arena.floats(try checkedProduct(e.vocabSize, e.dim))
            case .softmax(let size):
                plan.kind = .softmax
                plan.inputSize = size
                plan.output = try state.floats(blockCount(size) * lanes)
            case .attention(let a):
                plan.kind = .attention
                plan.inputSize = a.querySize
                plan.attention = try AttentionLayer.plan(a, &arena, &state, memoryOffset: &memoryFloatsPerRow)
                plan.output = try state.floats(blockCount(plan.outputSize) * lanes)
                attentionLayers += 1
            }
            plans.append(plan)
        }
        // Sequence-mode chunks: about 64 KiB of x sums, 3 to 15 steps (tiles take 3).
        // (No array of the two cells: the Swift allocations of a load must not grow with its layers.)
        var sumVectors = 0
        func chunkSums(_ cell: CellPlan) {
            guard cell.fused && cell.weights == .float32 && cell.inputSize >= chunkedInputs else { return }
            sumVectors = max(sumVectors, cell.blocks * (cell.kind == .lstm ? LSTMCell.sumVectors : GRUCell.sumVectors))
        }
        for plan in plans where plan.kind == .recurrent {
            chunkSums(plan.forward)
            if plan.direction == .bidirectional { chunkSums(plan.backward) }
        }
        let chunkSteps = max(3, min(15, 65_536 / max(1, sumVectors * alignment) / 3 * 3))
        let chunkSums = sumVectors > 0 ? try state.floats(try checkedProduct(chunkSteps, sumVectors, lanes)) : 0
        let chunked = firstSequenceLayer < 0 && sumVectors > 0
        let chunkBuffers = chunked ? try state.floats(try checkedProduct(2, chunkSteps, maxWidth)) : 0
        let sizes = try Model.textBytes(description)
        var text = ModelTextLayout()
        text.layers = try arena.bytes(sizes.records)
        text.metadata = try arena.bytes(sizes.pairs)
        text.metadataCount = description.text.metadataCount
        let strings = try arena.bytes(sizes.strings)
        let total = arena.end
        guard total <= limits.maxModelBytes else {
            throw RecurError(.tooLarge, "the model needs \(total) bytes of packed weights, the limit is \(limits.maxModelBytes) (max_model_bytes)")
        }
        guard state.end <= limits.maxStreamBytes else {
            throw RecurError(.tooLarge, "a stream of this model needs \(state.end) bytes, the limit is \(limits.maxStreamBytes) (max_stream_bytes)")
        }
        let base = try allocator.aligned(total, for: "the model's packed weights")
        memset(base, 0, total)
        self.base = base
        var vocab = 0
        if case .embedding(let e) = description.layers[0] { vocab = e.vocabSize }
        header.initialize(to: ModelHeader(
            byteCount: total, inputSize: description.inputSize,
            outputSize: description.outputSize, layerCount: count, streamByteCount: state.end,
            vocab: vocab, firstSequenceLayer: firstSequenceLayer, maxWidth: maxWidth, identity: description.identity,
            text: ModelTextLayout(), allocator: allocator,
            kernels: kernels, chunkSteps: chunkSteps, chunkSums: chunkSums, chunkBuffers: chunkBuffers,
            chunked: chunked, attentionLayers: attentionLayers, memoryFloatsPerRow: memoryFloatsPerRow))
        for (i, plan) in plans.enumerated() { (self.plans + i).initialize(to: plan) }
        for (layer, plan) in zip(description.layers, plans) { pack(layer, plan, base, lstmHalves: kernels.lstmHalves) }
        writeText(description, text, strings: strings)
    }

    /// Releases the model through the allocator it came from. Liveness is the
    /// C ABI's business (its handle registry); nothing here is read after this.
    public func free() {
        header.pointee.allocator.free(aligned: base)
    }
}

/// Copies one layer's weights into its place in the arena.
private func pack(_ layer: LayerDescription, _ plan: LayerPlan, _ base: UnsafeMutableRawPointer, lstmHalves: Bool) {
    switch layer {
    case .recurrent(_, let forward, let backward):
        packCell(forward, plan.forward, base, lstmHalves: lstmHalves)
        if let backward { packCell(backward, plan.backward, base, lstmHalves: lstmHalves) }
    case .dense(let d) where plan.storage != .float32:
        DenseLayer.packNarrow(d, plan, into: base + plan.weights)
    case .dense(let d):
        DenseLayer.pack(d, into: (base + plan.weights).assumingMemoryBound(to: Float.self))
    case .embedding(let e):
        let table = (base + plan.weights).assumingMemoryBound(to: Float.self)
        for i in 0..<e.weight.count { table[i] = e.weight[i] }
    case .softmax:
        break
    case .attention(let a):
        AttentionLayer.pack(a, plan.attention, base)
    }
}

/// Plans one direction of a recurrent layer: chooses the fused or general
/// path and reserves its weights and state (packCell fills them).
func planCell(_ c: CellDescription, backwards: Bool, _ limits: LoadLimits, narrowBytes: Int, _ arena: inout Layout,
              _ state: inout Layout) throws(RecurError) -> CellPlan {
    var p = CellPlan()
    p.kind = c.kind
    p.fused = c.isPlain
    p.inputSize = c.inputSize
    p.hidden = c.hiddenSize
    p.hiddenPadded = blockCount(c.hiddenSize) * lanes
    p.out = c.outputSize
    p.outPadded = blockCount(c.outputSize) * lanes
    p.coupling = c.coupling
    p.resetBefore = c.resetBeforeMatmul
    p.clip = c.clip
    p.cellClip = c.cellClip
    p.projClip = c.projClip
    p.f = c.f
    p.g = c.g
    p.h = c.h
    // The fused kernels read one contiguous [x | h]: a slot for x right
    // before h (x is copied in at each step; h stays 64-byte aligned).
    if p.fused { _ = try state.floats(blockCount(c.inputSize) * lanes) }
    p.hState = try state.floats(p.outPadded)
    if c.kind == .lstm { p.cState = try state.floats(p.hiddenPadded) }
    if backwards {
        p.startH = try state.floats(p.outPadded)
        if c.kind == .lstm { p.startC = try state.floats(p.hiddenPadded) }
    }
    if p.fused {
        let floatBytes = c.kind == .lstm ? try LSTMCell.packedBytes(c) : try GRUCell.packedBytes(c)
        p.weights = WeightStorage.choose(c.weightIH.type == c.weightHH.type ? c.weightIH.type : nil,
                                         floatBytes: floatBytes, limits.weightStorage, cacheBytes: limits.cacheBytes,
                                         narrowBytes: narrowBytes)
        let bytes: Int
        if p.weights == .float32 {
            bytes = floatBytes
        } else {
            let gates = c.kind.gates, biasVectors = c.kind == .lstm ? LSTMCell.gates : GRUCell.biasVectors
            p.panelBytes = try p.weights.panelBytes(gates: gates, biasVectors: biasVectors, inputs: c.inputSize,
                                                    recurrent: c.hiddenSize)
            bytes = try checkedProduct(p.panelBytes, p.blocks)
        }
        p.fusedPanels = try arena.bytes(bytes)
        p.scratch = try state.floats(p.outPadded)
    } else {
        let gates = c.kind.gates
        let rows = gates * p.hiddenPadded
        // Narrow matrices when all of them have one reduced type (MatVec.swift).
        let type = c.weightIH.type
        let shared = c.weightHH.type == type && (c.peepholeMatrix?.type ?? type) == type && (c.weightProj?.type ?? type) == type
        let floatBytes = try checkedSum(try WeightStorage.float32.matVecBytes(rows: rows, columns: c.inputSize),
                                        try WeightStorage.float32.matVecBytes(rows: rows, columns: c.outputSize),
                                        c.projSize > 0 ? try WeightStorage.float32.matVecBytes(rows: p.outPadded, columns: c.hiddenSize) : 0)
        p.weights = WeightStorage.choose(shared ? type : nil, floatBytes: floatBytes, limits.weightStorage,
                                         cacheBytes: limits.cacheBytes, narrowBytes: narrowBytes)
        p.wx = try arena.bytes(try p.weights.matVecBytes(rows: rows, columns: c.inputSize))
        p.wh = try arena.bytes(try p.weights.matVecBytes(rows: rows, columns: c.outputSize))
        if c.layerNorm != nil {
            p.lnWeight = try arena.floats(4 * p.hiddenPadded)
            p.lnBias = try arena.floats(4 * p.hiddenPadded)
        }
        if c.peephole != nil { p.peephole = try arena.floats(3 * p.hiddenPadded) }
        if c.peepholeMatrix != nil {
            p.peepholeMatrix = try arena.bytes(try p.weights.matVecBytes(rows: 3 * p.hiddenPadded, columns: c.hiddenSize))
        }
        p.outputPeepholePrevious = c.outputPeepholePrevious
        if c.projSize > 0 { p.proj = try arena.bytes(try p.weights.matVecBytes(rows: p.outPadded, columns: c.hiddenSize)) }
        // gx, gh (gates x padded hidden each), then the cell output or r*h.
        p.scratch = try state.floats(2 * rows + p.hiddenPadded)
    }
    if c.initialH != nil { p.initialH = try arena.floats(p.outPadded) }
    if c.initialC != nil { p.initialC = try arena.floats(p.hiddenPadded) }
    return p
}

/// Fills the weights and initial state planned for one cell (LSTM panels
/// in halves for tiers with lstmHalves).
func packCell(_ c: CellDescription, _ p: CellPlan, _ base: UnsafeMutableRawPointer, lstmHalves: Bool) {
    if p.fused && p.weights != .float32 {
        if c.kind == .lstm { LSTMCell.packNarrow(c, p, into: base + p.fusedPanels) } else { GRUCell.packNarrow(c, p, into: base + p.fusedPanels) }
    } else if p.fused {
        let panels = (base + p.fusedPanels).assumingMemoryBound(to: Float.self)
        if c.kind == .lstm { LSTMCell.pack(c, halves: lstmHalves, into: panels) } else { GRUCell.pack(c, into: panels) }
    } else {
        GeneralCell.pack(c, p, base)
    }
    if let v = c.initialH {
        let d = (base + p.initialH).assumingMemoryBound(to: Float.self)
        for i in 0..<v.count { d[i] = v[i] }
    }
    if let v = c.initialC {
        let d = (base + p.initialC).assumingMemoryBound(to: Float.self)
        for i in 0..<v.count { d[i] = v[i] }
    }
}
