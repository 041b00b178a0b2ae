// A stream's state as bytes (RecurFormat/Snapshot.swift has the format):
// which blocks a model's streams carry, and the copies in and out. Nothing
// here allocates; restore checks every byte before it writes any.
import RecurFormat
#if canImport(Glibc)
import Glibc
#endif

extension Stream {
    /// The state segments of one recurrent layer's block, as (offset in the stream, floats),
    /// in the order the block holds them.
    @inline(__always)
    static func segments(_ plan: UnsafePointer<LayerPlan>, _ tag: SnapshotFormat.Tag, _ body: (Int, Int) -> Void) {
        let two = plan.pointee.direction == .bidirectional
        let cells = (plan.pointee.forward, two ? plan.pointee.backward : nil)
        func each(_ visit: (CellPlan) -> Void) {
            visit(cells.0)
            if let backward = cells.1 { visit(backward) }
        }
        switch tag {
        case .state:
            each { body($0.hState, $0.out) }
            each { if $0.kind == .lstm { body($0.cState, $0.hidden) } }
        case .start:
            each { if $0.startH != 0 { body($0.startH, $0.out) } }
            each { if $0.startH != 0 && $0.kind == .lstm { body($0.startC, $0.hidden) } }
        case .memory:
            break  // not a cell's: snapshot(into:) and restore(from:) copy rows
        }
    }

    /// Every block a snapshot of `model` holds, in order: (tag, layer,
    /// floats); an attention layer's memory block holds `rows(layer)` rows.
    @inline(__always)
    static func blocks<E: Error>(_ model: Model, rows: (Int) -> Int,
                                 _ body: (SnapshotFormat.Tag, Int, Int) throws(E) -> Void) throws(E) {
        for l in 0..<model.layerCount {
            let plan = model.plans + l
            if plan.pointee.kind == .attention {
                try body(.memory, l, rows(l) * plan.pointee.attention.memory)
                continue
            }
            guard plan.pointee.kind == .recurrent else { continue }
            var state = 0, start = 0
            segments(plan, .state) { state += $1 }
            segments(plan, .start) { start += $1 }
            if state > 0 { try body(.state, l, state) }
            if start > 0 { try body(.start, l, start) }
        }
    }

    /// (blocks, bytes) of a snapshot of a stream of `model` whose attention
    /// layers hold `rows(layer)` rows of memory (none: `{ _ in 0 }`).
    public static func snapshotLayout(_ model: Model, rows: (Int) -> Int = { _ in 0 }) -> (blocks: Int, bytes: Int) {
        var blocks = 0, bytes = SnapshotFormat.headerBytes + SnapshotFormat.trailerBytes
        Stream.blocks(model, rows: rows) { (_, _, floats) in
            blocks += 1
            bytes += SnapshotFormat.blockHeaderBytes + floats * 4
        }
        return (blocks, bytes)
    }

    /// (blocks, bytes) of this stream's snapshot.
    public var snapshotLayout: (blocks: Int, bytes: Int) { Stream.snapshotLayout(model, rows: memoryRows) }

    /// Writes the snapshot (snapshotLayout.bytes bytes) to `buffer`.
    public func snapshot(into buffer: UnsafeMutableRawPointer) {
        let m = model
        let layout = snapshotLayout
        let version: UInt32 = m.header.pointee.attentionLayers > 0 ? 2 : 1
        var writer = SnapshotWriter(buffer, version: version, identity: m.header.pointee.identity, blocks: layout.blocks,
                                    total: layout.bytes)
        Stream.blocks(m, rows: memoryRows) { (tag, layer, floats) in
            writer.block(tag, layer: layer, floats: floats)
            if tag == .memory {
                guard let memory = header.pointee.memory else { return }  // no rows without room
                let a = attentionPlan(m.plans + layer)
                let values = AttentionLayer.region(a, memory, capacity: header.pointee.memoryCapacity).values
                for r in 0..<memoryRows(layer) { writer.floats(values + r * a.pointee.memoryPadded, a.pointee.memory) }
            } else {
                Stream.segments(m.plans + layer, tag) { offset, count in writer.floats(base + offset, count) }
            }
        }
        writer.finish()
    }

    /// Replaces the stream's state with a snapshot's, or throws and leaves it
    /// unchanged: every check runs before the first byte is written.
    public func restore(from bytes: UnsafeRawPointer, _ size: Int) throws(RecurError) {
        let m = model
        let layout = Stream.snapshotLayout(m)
        var reader = try SnapshotReader(bytes, size, identity: m.header.pointee.identity)
        var copier = reader  // the second pass, once the first has checked every block
        let capacity = header.pointee.memoryCapacity
        try Stream.blocks(m, rows: { _ in 0 }) { (tag, layer, floats) throws(RecurError) in
            guard tag == .memory else {
                _ = try reader.next(tag, layer: layer, floats: floats)
                return
            }
            let (_, rows) = try reader.nextMemory(layer: layer, width: m.plans[layer].attention.memory)
            guard rows <= capacity else {
                throw RecurError(.tooLarge, "the snapshot holds \(rows) rows of memory for layer \(layer), the stream has room for \(capacity); call recur_stream_reserve_memory first")
            }
        }
        try reader.finish(expectedBlocks: layout.blocks)
        try Stream.blocks(m, rows: { _ in 0 }) { (tag, layer, floats) throws(RecurError) in
            guard tag == .memory else {
                var from = try copier.next(tag, layer: layer, floats: floats)
                Stream.segments(m.plans + layer, tag) { offset, count in
                    (base + offset).copyMemory(from: from, byteCount: count * 4)
                    from += count * 4
                }
                return
            }
            let (payload, rows) = try copier.nextMemory(layer: layer, width: m.plans[layer].attention.memory)
            if rows > 0 {
                // Beam search restores snapshots into streams that already
                // hold the same rows: then the keys need not be formed again.
                if !holdsRows(layer, payload, rows) { m.header.pointee.kernels.setMemory(base, layer, payload, rows) }
            } else {
                (base + m.plans[layer].attention.rows).storeBytes(of: 0, as: Int.self)
            }
        }
        countLayersWithoutMemory()
    }

    /// Whether attention layer `layer` holds exactly these `rows` rows (bytes
    /// at any alignment, as a snapshot holds them).
    func holdsRows(_ layer: Int, _ bytes: UnsafeRawPointer, _ rows: Int) -> Bool {
        guard rows == memoryRows(layer), let memory = header.pointee.memory else { return false }
        let a = attentionPlan(model.plans + layer)
        let values = AttentionLayer.region(a, memory, capacity: header.pointee.memoryCapacity).values
        let width = a.pointee.memory
        for r in 0..<rows where memcmp(values + r * a.pointee.memoryPadded, bytes + r * width * 4, width * 4) != 0 {
            return false
        }
        return true
    }
}
