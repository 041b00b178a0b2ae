// A stream's state as bytes (RecurFormat/Snapshot.swift has the format):
// which blocks a model's streams carry, and the copies in and out. Nothing
// here allocates; restore checks every byte before it writes any.
import RecurFormat

extension Stream {
    /// The state segments of one block, as (offset in the stream, floats),
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
        }
    }

    /// Every block a snapshot of `model` holds, in order: (tag, layer, floats).
    @inline(__always)
    static func blocks<E: Error>(_ model: Model, _ body: (SnapshotFormat.Tag, Int, Int) throws(E) -> Void) throws(E) {
        for l in 0..<model.layerCount where model.plans[l].kind == .recurrent {
            var state = 0, start = 0
            segments(model.plans + l, .state) { state += $1 }
            segments(model.plans + l, .start) { start += $1 }
            if state > 0 { try body(.state, l, state) }
            if start > 0 { try body(.start, l, start) }
        }
    }

    /// (blocks, bytes) of a snapshot of a stream of `model`.
    public static func snapshotLayout(_ model: Model) -> (blocks: Int, bytes: Int) {
        var blocks = 0, bytes = SnapshotFormat.headerBytes + SnapshotFormat.trailerBytes
        Stream.blocks(model) { (_, _, floats) in
            blocks += 1
            bytes += SnapshotFormat.blockHeaderBytes + floats * 4
        }
        return (blocks, bytes)
    }

    /// Writes the snapshot (snapshotLayout(model).bytes bytes) to `buffer`.
    public func snapshot(into buffer: UnsafeMutableRawPointer) {
        let m = model
        let layout = Stream.snapshotLayout(m)
        var writer = SnapshotWriter(buffer, identity: m.header.pointee.identity, blocks: layout.blocks, total: layout.bytes)
        Stream.blocks(m) { (tag, layer, floats) in
            writer.block(tag, layer: layer, floats: floats)
            Stream.segments(m.plans + layer, tag) { offset, count in writer.floats(base + offset, count) }
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
        try Stream.blocks(m) { (tag, layer, floats) throws(RecurError) in _ = try reader.next(tag, layer: layer, floats: floats) }
        try reader.finish(expectedBlocks: layout.blocks)
        try Stream.blocks(m) { (tag, layer, floats) throws(RecurError) in
            var from = try copier.next(tag, layer: layer, floats: floats)
            Stream.segments(m.plans + layer, tag) { offset, count in
                (base + offset).copyMemory(from: from, byteCount: count * 4)
                from += count * 4
            }
        }
    }
}
