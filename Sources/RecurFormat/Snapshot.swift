// Stream snapshots as bytes (docs/format.md, "Stream snapshots"): the
// writer, and the reader of bytes a host hands back, which may be
// truncated, corrupt, from another model or from a later library. All
// little-endian; nothing here allocates.
//
//   header   "RECURSNP" | u32 version | u32 block count | u64 model identity | u64 total bytes
//   block    u32 tag | u32 layer | u64 float count | float32 x count      (repeated)
//   trailer  u32 XXH32 (seed 0) of every byte before it

public enum SnapshotFormat {
    /// The highest version this library reads, and writes for models with
    /// attention layers (whose snapshots hold memory blocks); snapshots of
    /// other models are written as version 1, which older libraries read.
    public static let version: UInt32 = 2
    static let magic: UInt64 = 0x504E_5352_5543_4552  // "RECURSNP"
    public static let headerBytes = 32
    public static let blockHeaderBytes = 16
    public static let trailerBytes = 4

    /// What a block holds. Later layer kinds add tags (with a new version).
    public enum Tag: UInt32 {
        /// The layer's state now, as recur_stream_get_state lays it out: h of
        /// each cell (forward, then backward), then c of each LSTM cell.
        case state = 1
        /// For the cells that run backwards: the state each run starts from,
        /// h of each such cell then c.
        case start = 2
        /// Version 2. An attention layer's memory: its rows (memory_size
        /// floats each, row-major; none when it has no memory set).
        case memory = 3
    }
}

/// Writes a snapshot into memory the caller sized with the model's layout.
public struct SnapshotWriter {
    let start: UnsafeMutableRawPointer
    var at: UnsafeMutableRawPointer
    let total: Int

    public init(_ buffer: UnsafeMutableRawPointer, version: UInt32, identity: UInt64, blocks: Int, total: Int) {
        start = buffer
        at = buffer
        self.total = total
        put64(SnapshotFormat.magic)
        put32(version)
        put32(UInt32(truncatingIfNeeded: blocks))
        put64(identity)
        put64(UInt64(total))
    }

    @inline(__always) mutating func put32(_ v: UInt32) {
        at.storeBytes(of: v.littleEndian, as: UInt32.self)
        at += 4
    }

    @inline(__always) mutating func put64(_ v: UInt64) {
        at.storeBytes(of: v.littleEndian, as: UInt64.self)
        at += 8
    }

    public mutating func block(_ tag: SnapshotFormat.Tag, layer: Int, floats: Int) {
        put32(tag.rawValue)
        put32(UInt32(truncatingIfNeeded: layer))
        put64(UInt64(floats))
    }

    public mutating func floats(_ from: UnsafeRawPointer, _ count: Int) {
        at.copyMemory(from: from, byteCount: count &* 4)
        at += count &* 4
    }

    /// Appends the checksum; the snapshot must now be `total` bytes long.
    public mutating func finish() {
        let written = at - start
        assert(written &+ SnapshotFormat.trailerBytes == total, "snapshot layout and size disagree")
        put32(XXH32.hash(start, written))
    }
}

/// Reads a snapshot handed back by a host: the header, length, checksum and
/// identity are checked before any block is looked at; each block is then
/// checked against what the model expects by the caller, through `next`.
public struct SnapshotReader {
    let start: UnsafeRawPointer
    var at: UnsafeRawPointer
    let end: UnsafeRawPointer  // the trailer
    public let blockCount: Int

    /// Throws BAD_SNAPSHOT (too short, not a snapshot, truncated or with
    /// bytes after it, checksum), UNSUPPORTED_VERSION (a later format) or
    /// WRONG_MODEL (another model's, or this file changed).
    public init(_ bytes: UnsafeRawPointer, _ size: Int, identity: UInt64) throws(RecurError) {
        let minimum = SnapshotFormat.headerBytes + SnapshotFormat.trailerBytes
        guard size >= minimum else {
            throw RecurError(.badSnapshot, "the snapshot has \(size) bytes, fewer than the \(minimum) of an empty one (truncated)")
        }
        guard le64(bytes, 0) == SnapshotFormat.magic else {
            throw RecurError(.badSnapshot, "these bytes are not a Recur stream snapshot (they do not start with RECURSNP)")
        }
        let version = le32(bytes, 8)
        guard version != 0 else { throw RecurError(.badSnapshot, "the snapshot's format version is 0") }
        guard version <= SnapshotFormat.version else {
            throw RecurError(.unsupportedVersion, "the snapshot has format version \(version); this library reads up to \(SnapshotFormat.version)")
        }
        let total = le64(bytes, 24)
        guard total == UInt64(size) else {
            throw RecurError(.badSnapshot, "the snapshot declares \(total) bytes and \(size) were given (\(total > UInt64(size) ? "truncated" : "bytes after it"))")
        }
        let body = size - SnapshotFormat.trailerBytes
        guard XXH32.hash(bytes, body) == le32(bytes, body) else {
            throw RecurError(.badSnapshot, "the snapshot fails its checksum (corrupt)")
        }
        let theirs = le64(bytes, 16)
        guard theirs == identity else {
            throw RecurError(.wrongModel, "the snapshot is of another model, or of another version of this model's file (identity \(hex(theirs)), this model \(hex(identity)))")
        }
        start = bytes
        at = bytes + SnapshotFormat.headerBytes
        end = bytes + body
        blockCount = Int(le32(bytes, 12))
    }

    /// The next block's header, which must be `tag`, `layer` and `floats`
    /// (what the model's layout expects); returns its payload.
    public mutating func next(_ tag: SnapshotFormat.Tag, layer: Int, floats: Int) throws(RecurError) -> UnsafeRawPointer {
        guard end - at >= SnapshotFormat.blockHeaderBytes else {
            throw RecurError(.badSnapshot, "the snapshot ends at byte \(at - start); the model expects a \(tag) block of layer \(layer) there")
        }
        let (t, l, n) = (le32(at, 0), le32(at, 4), le64(at, 8))
        guard t == tag.rawValue, l == UInt32(truncatingIfNeeded: layer), n == UInt64(floats) else {
            throw RecurError(.badSnapshot, "the snapshot holds a block (tag \(t), layer \(l), \(n) floats) where the model expects (tag \(tag.rawValue), layer \(layer), \(floats) floats)")
        }
        guard UInt64(end - at - SnapshotFormat.blockHeaderBytes) >= n &* 4 else {
            throw RecurError(.badSnapshot, "the snapshot's block of layer \(layer) runs past its end")
        }
        let payload = at + SnapshotFormat.blockHeaderBytes
        at = payload + floats &* 4
        return payload
    }

    /// The next block, which must be layer `layer`'s memory: whole rows of
    /// `width` floats, as many as the snapshot holds. Returns its payload
    /// and its row count.
    public mutating func nextMemory(layer: Int, width: Int) throws(RecurError) -> (UnsafeRawPointer, Int) {
        guard end - at >= SnapshotFormat.blockHeaderBytes else {
            throw RecurError(.badSnapshot, "the snapshot ends at byte \(at - start); the model expects the memory block of layer \(layer) there")
        }
        let (t, l, n) = (le32(at, 0), le32(at, 4), le64(at, 8))
        guard t == SnapshotFormat.Tag.memory.rawValue, l == UInt32(truncatingIfNeeded: layer), n % UInt64(width) == 0 else {
            throw RecurError(.badSnapshot, "the snapshot holds a block (tag \(t), layer \(l), \(n) floats) where the model expects the memory of layer \(layer) (tag \(SnapshotFormat.Tag.memory.rawValue), rows of \(width) floats)")
        }
        guard n <= UInt64(end - at - SnapshotFormat.blockHeaderBytes) / 4 else {
            throw RecurError(.badSnapshot, "the snapshot's block of layer \(layer) runs past its end")
        }
        let payload = at + SnapshotFormat.blockHeaderBytes
        at = payload + Int(n) &* 4
        return (payload, Int(n) / width)
    }

    /// Every byte was a block the model expects.
    public func finish(expectedBlocks: Int) throws(RecurError) {
        guard at == end, blockCount == expectedBlocks else {
            throw RecurError(.badSnapshot, "the snapshot holds \(blockCount) blocks and \(end - at) bytes more than the model's \(expectedBlocks) blocks")
        }
    }
}

@inline(__always) private func le64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}

private func hex(_ v: UInt64) -> String {
    let digits = String(v, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
