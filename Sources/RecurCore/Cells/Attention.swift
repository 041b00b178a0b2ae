#if canImport(Glibc)
import Glibc
#endif

/// Attention over a memory (docs/cells/attention.md): for input q,
///   s_i = scale * score(q, m_i),  a = softmax(s),  context = Σ a_i m_i,
/// output [context, q]. The memory rows m_i (the encoder's outputs) are set
/// on each stream (recur_stream_set_memory), which also forms each row's
/// key once: the row itself (dot), W m_i (general) or W_m m_i + b
/// (additive). A step then scores every key against q (additive: against
/// W_q q through v · tanh), takes the softmax and sums the rows.
///
/// Where things live: the weights in the model arena (packed like the
/// general cells' matrices, MatVec.swift); per stream, the row count and
/// the query vector in the stream block, and the rows, keys and scores in
/// the stream's memory block (recur_stream_reserve_memory), which holds
/// `capacity` rows for every attention layer: layer L's region starts at
/// capacity × memoryOffset floats and holds values [capacity × memoryPadded],
/// keys [capacity × keysPadded] (none for dot: the keys are the values),
/// then scores [capacity].
public struct AttentionPlan {
    public var score: AttentionScore = .dot
    public var query = 0, memory = 0, units = 0
    /// Padded widths of a memory row and of a key (for dot, the row's).
    public var memoryPadded = 0, keysPadded = 0
    public var scale: Float = 1
    /// Model offsets: W (general) or W_m with b (additive) as a packed
    /// matrix with one row per key float; W_q (additive); v (additive).
    public var keyWeights = 0, queryWeights = 0, v = 0
    /// Stream offsets: the number of rows set (an Int), and the query
    /// (dot, general: q padded with zeros; additive: W_q q).
    public var rows = 0, queryVector = 0
    /// Floats per row of capacity before this layer's region.
    public var memoryOffset = 0

    /// Floats of this layer's region per row of capacity: value, key, score.
    @inlinable var floatsPerRow: Int { memoryPadded &+ (score == .dot ? 0 : keysPadded) &+ 1 }
}

@usableFromInline
enum AttentionLayer {
    /// Plans the layer: its weights in the arena, its row count, query and
    /// output in the stream; `memoryOffset` is the region's start per row of
    /// capacity, advanced past this layer.
    static func plan(_ d: AttentionDescription, _ arena: inout Layout, _ state: inout Layout,
                     memoryOffset: inout Int) throws(RecurError) -> AttentionPlan {
        var p = AttentionPlan()
        p.score = d.score
        p.query = d.querySize
        p.memory = d.memorySize
        p.units = d.units
        p.memoryPadded = blockCount(d.memorySize) * lanes
        p.keysPadded = blockCount(d.keySize) * lanes
        p.scale = d.scale
        if d.score != .dot {
            p.keyWeights = try arena.floats(try matVecFloats(rows: p.keysPadded, columns: d.memorySize))
        }
        if d.score == .additive {
            p.queryWeights = try arena.floats(try matVecFloats(rows: p.keysPadded, columns: d.querySize))
            p.v = try arena.floats(p.keysPadded)
        }
        p.rows = try state.bytes(MemoryLayout<Int>.size)
        p.queryVector = try state.floats(p.keysPadded)
        p.memoryOffset = memoryOffset
        memoryOffset = try checkedSum(memoryOffset, p.floatsPerRow)
        return p
    }

    static func pack(_ d: AttentionDescription, _ p: AttentionPlan, _ base: UnsafeMutableRawPointer) {
        let floats = { (offset: Int) in (base + offset).assumingMemoryBound(to: Float.self) }
        let keyRows = d.keySize
        switch d.score {
        case .dot:
            break
        case .general:
            let w = d.weight!
            packMatVec(floats(p.keyWeights), paddedRows: p.keysPadded, columns: d.memorySize,
                       rows: { $0 < keyRows ? $0 : nil }, value: { w[$0 * d.memorySize + $1] }, bias: { _ in 0 })
        case .additive:
            let wm = d.weightMemory!, wq = d.weightQuery!, v = d.v!, b = d.bias
            packMatVec(floats(p.keyWeights), paddedRows: p.keysPadded, columns: d.memorySize,
                       rows: { $0 < keyRows ? $0 : nil }, value: { wm[$0 * d.memorySize + $1] }, bias: { b?[$0] ?? 0 })
            packMatVec(floats(p.queryWeights), paddedRows: p.keysPadded, columns: d.querySize,
                       rows: { $0 < keyRows ? $0 : nil }, value: { wq[$0 * d.querySize + $1] }, bias: { _ in 0 })
            for i in 0..<keyRows { floats(p.v)[i] = v[i] }
        }
    }

    /// The layer's region of the stream's memory block: values, keys, scores.
    @inlinable @inline(__always)
    static func region(_ a: UnsafePointer<AttentionPlan>, _ memory: UnsafeMutablePointer<Float>, capacity: Int)
        -> (values: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
        let values = memory + capacity &* a.pointee.memoryOffset
        let dot = a.pointee.score == .dot
        let keys = dot ? values : values + capacity &* a.pointee.memoryPadded
        let scores = keys + capacity &* (dot ? a.pointee.memoryPadded : a.pointee.keysPadded)
        return (values, keys, scores)
    }

    /// Copies `count` rows of memory (memorySize floats each, row-major, at
    /// any alignment: a snapshot's bytes, say) into the region and forms
    /// their keys. The caller has checked the capacity. Allocation-free.
    @inlinable @inline(never)
    static func setMemory<M: MultiplyAdd>(_ m: M.Type, _ layer: UnsafePointer<LayerPlan>, _ model: UnsafeRawPointer,
                                          _ stream: UnsafeMutableRawPointer, _ rows: UnsafeRawPointer, _ count: Int) {
        let a = attentionPlan(layer)
        let header = stream.assumingMemoryBound(to: StreamHeader.self)
        let capacity = header.pointee.memoryCapacity
        let (values, keys, _) = region(a, header.pointee.memory!, capacity: capacity)
        let width = a.pointee.memory, padded = a.pointee.memoryPadded, keysPadded = a.pointee.keysPadded
        for i in 0..<count {
            let to = values + i &* padded, from = rows + i &* width &* 4
            for j in 0..<width { to[j] = from.loadUnaligned(fromByteOffset: j &* 4, as: Float.self) }
            for j in width..<padded { to[j] = 0 }
        }
        if a.pointee.score != .dot {
            let panels = (model + a.pointee.keyWeights).assumingMemoryBound(to: Vec.self)
            for i in 0..<count {
                matVec(m, panels, columns: width, blocks: 0..<(keysPadded / lanes), values + i &* padded,
                       keys + i &* keysPadded, accumulate: false)
            }
        }
        (stream + a.pointee.rows).storeBytes(of: count, as: Int.self)
    }

    /// One step: reads q (query floats), writes [context, q] to the layer's
    /// output and returns it. Without memory rows (never set: the C ABI
    /// refuses that) the context is zero.
    @inlinable @inline(never)
    static func step<M: MultiplyAdd>(_ m: M.Type, _ layer: UnsafePointer<LayerPlan>, _ model: UnsafeRawPointer,
                                     _ q: UnsafePointer<Float>, _ stream: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
        let a = attentionPlan(layer)
        let out = (stream + layer.pointee.output).assumingMemoryBound(to: Float.self)
        let header = stream.assumingMemoryBound(to: StreamHeader.self)
        let count = (stream + a.pointee.rows).load(as: Int.self)
        let width = a.pointee.memory, blocks = a.pointee.memoryPadded / lanes
        let queryWidth = a.pointee.query
        guard count > 0, let memory = header.pointee.memory else {
            for i in 0..<width { out[i] = 0 }
            for i in 0..<queryWidth { out[width &+ i] = q[i] }
            return UnsafePointer(out)
        }
        let (values, keys, scores) = region(a, memory, capacity: header.pointee.memoryCapacity)
        let u = (stream + a.pointee.queryVector).assumingMemoryBound(to: Vec.self)
        let keyBlocks = a.pointee.keysPadded / lanes
        let additive = a.pointee.score == .additive
        if additive {
            let panels = (model + a.pointee.queryWeights).assumingMemoryBound(to: Vec.self)
            matVec(m, panels, columns: queryWidth, blocks: 0..<keyBlocks, q, UnsafeMutableRawPointer(u).assumingMemoryBound(to: Float.self), accumulate: false)
        } else {
            // The stream's copy of q is zero past `query` (reset zeroes it, nothing writes there).
            let copy = UnsafeMutableRawPointer(u).assumingMemoryBound(to: Float.self)
            for i in 0..<queryWidth { copy[i] = q[i] }
        }
        // Scores, and their maximum.
        let keyStride = a.pointee.score == .dot ? a.pointee.memoryPadded : a.pointee.keysPadded
        let v = (model + a.pointee.v).assumingMemoryBound(to: Vec.self)
        let scale = a.pointee.scale
        var top = -Float.infinity
        for i in 0..<count {
            let k = UnsafeRawPointer(keys + i &* keyStride).assumingMemoryBound(to: Vec.self)
            var s0 = Vec(), s1 = Vec()
            var b = 0
            if additive {
                while b &+ 1 < keyBlocks {
                    s0 = M.madd(s0, tanhApprox(m, u[b] + k[b]), v[b])
                    s1 = M.madd(s1, tanhApprox(m, u[b &+ 1] + k[b &+ 1]), v[b &+ 1])
                    b &+= 2
                }
                if b < keyBlocks { s0 = M.madd(s0, tanhApprox(m, u[b] + k[b]), v[b]) }
            } else {
                while b &+ 1 < keyBlocks {
                    s0 = M.madd(s0, u[b], k[b])
                    s1 = M.madd(s1, u[b &+ 1], k[b &+ 1])
                    b &+= 2
                }
                if b < keyBlocks { s0 = M.madd(s0, u[b], k[b]) }
            }
            let s = (s0 + s1).sum() * scale
            scores[i] = s
            top = max(top, s)
        }
        // Softmax over the rows, in vectors (the region's scores hold a
        // multiple of 16 floats: the capacity is rounded up to one).
        var sums = Vec()
        var i = 0
        while i < count {
            let p = UnsafeMutableRawPointer(scores + i)
            var e = expApprox(m, p.load(as: Vec.self) - top)
            let valid = count &- i
            if valid < lanes { for j in valid..<lanes { e[j] = 0 } }
            p.storeBytes(of: e, as: Vec.self)
            sums += e
            i &+= lanes
        }
        let inverse = 1 / sums.sum()
        // context = Σ a_i m_i, one 16-float block at a time.
        let rows = UnsafeRawPointer(values).assumingMemoryBound(to: Vec.self)
        for b in 0..<blocks {
            var c0 = Vec(), c1 = Vec()
            var r = 0
            while r &+ 1 < count {
                c0 = M.madd(c0, rows[r &* blocks &+ b], Vec(repeating: scores[r]))
                c1 = M.madd(c1, rows[(r &+ 1) &* blocks &+ b], Vec(repeating: scores[r &+ 1]))
                r &+= 2
            }
            if r < count { c0 = M.madd(c0, rows[r &* blocks &+ b], Vec(repeating: scores[r])) }
            UnsafeMutableRawPointer(out + b &* lanes).storeBytes(of: (c0 + c1) * inverse, as: Vec.self)
        }
        for j in 0..<queryWidth { out[width &+ j] = q[j] }
        return UnsafePointer(out)
    }
}

/// A layer's attention plan, by address (see forwardCell in Stepping.swift).
@inlinable @inline(__always)
func attentionPlan(_ layer: UnsafePointer<LayerPlan>) -> UnsafePointer<AttentionPlan> {
    (UnsafeRawPointer(layer) + MemoryLayout<LayerPlan>.offset(of: \.attention)!).assumingMemoryBound(to: AttentionPlan.self)
}

// MARK: - A stream's memory

extension Stream {
    /// Rows of memory layer `layer` (an attention layer) holds now.
    public func memoryRows(_ layer: Int) -> Int {
        (base + model.plans[layer].attention.rows).load(as: Int.self)
    }

    /// Makes room for `rows` rows of memory in every attention layer,
    /// keeping the rows already set. Allocates (through the model's
    /// allocator); the only call that does, besides creation and reserve.
    public func reserveMemory(_ rows: Int) throws(RecurError) {
        let m = model
        let perRow = m.header.pointee.memoryFloatsPerRow
        guard perRow > 0 else { return }
        let capacity = try roundUp(rows, lanes)
        let old = header.pointee.memoryCapacity
        guard capacity > old else { return }
        let bytes = try checkedProduct(capacity, perRow, 4)
        let allocator = m.header.pointee.allocator
        let block = try allocator.aligned(bytes, for: "\(rows) rows of attention memory").assumingMemoryBound(to: Float.self)
        if let previous = header.pointee.memory {
            for l in 0..<m.layerCount where m.plans[l].kind == .attention {
                let a = attentionPlan(m.plans + l)
                let count = memoryRows(l)
                let from = AttentionLayer.region(a, previous, capacity: old)
                let to = AttentionLayer.region(a, block, capacity: capacity)
                to.values.update(from: from.values, count: count * a.pointee.memoryPadded)
                if a.pointee.score != .dot { to.keys.update(from: from.keys, count: count * a.pointee.keysPadded) }
            }
            allocator.free(aligned: UnsafeMutableRawPointer(previous))
        }
        header.pointee.memory = block
        header.pointee.memoryCapacity = capacity
    }

    /// Sets layer `layer`'s memory to `count` rows (1 ≤ count ≤ capacity,
    /// checked by the caller) through the model's tier.
    public func setMemory(_ layer: Int, _ rows: UnsafeRawPointer, _ count: Int) {
        if memoryRows(layer) == 0 { header.pointee.layersWithoutMemory -= 1 }
        model.header.pointee.kernels.setMemory(base, layer, rows, count)
    }

    /// Recounts the attention layers without memory (after a restore).
    func countLayersWithoutMemory() {
        let m = model
        var n = 0
        for l in 0..<m.layerCount where m.plans[l].kind == .attention && memoryRows(l) == 0 { n += 1 }
        header.pointee.layersWithoutMemory = n
    }

    /// The first attention layer without memory, or nil.
    public var firstLayerWithoutMemory: Int? {
        guard header.pointee.layersWithoutMemory > 0 else { return nil }
        let m = model
        for l in 0..<m.layerCount where m.plans[l].kind == .attention && memoryRows(l) == 0 { return l }
        return nil
    }

    /// Sets memory through tier `m` (Kernels.setMemory).
    @inlinable
    public func setMemory<M: MultiplyAdd>(_ m: M.Type, _ layer: Int, _ rows: UnsafeRawPointer, _ count: Int) {
        let model = self.model
        AttentionLayer.setMemory(m, model.plans + layer, UnsafeRawPointer(model.base), base, rows, count)
    }
}
