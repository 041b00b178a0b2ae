import CLZ4

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The LZ4 frame (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md),
// decoded here block by block with liblz4's block decoder: the frame API
// would allocate its own buffers of up to 8 MiB, outside any budget, and
// would need the whole file in memory. A file is read block by block, so a
// load holds at most the decompressed content and one block of input.

/// Decompressed content of an LZ4 frame, owned by the caller (`deallocate`).
public struct FrameContent {
    public let bytes: UnsafeMutableRawBufferPointer
    /// The frame's content checksum (XXH32 of the content, seed 0), verified.
    public let checksum: UInt32
    let allocator: Allocator

    public func deallocate() { allocator.free(raw: bytes.baseAddress) }
}

/// Where a frame's bytes come from.
public enum FrameSource {
    /// Bytes the caller keeps.
    case memory(UnsafeRawBufferPointer)
    /// An open regular file of `size` bytes, read in order.
    case file(descriptor: Int32, size: Int, path: UnsafePointer<CChar>)

    var count: Int {
        switch self {
        case .memory(let bytes): return bytes.count
        case .file(_, let size, _): return size
        }
    }
}

private let lz4FrameMagic: UInt32 = 0x184D_2204

// (No dictionaries or other runtime-heavy Swift here: in a fully static link
// without the Swift runtime's start-up object, Dictionary crashes.)

/// The block maximum size a frame's BD byte names (codes 4 to 7).
private func blockMaxSize(_ code: UInt8) -> Int? { (4...7).contains(code) ? 1 << (8 + 2 * Int(code)) : nil }

/// Reads a frame's bytes in order: pointers into memory, or file bytes
/// copied into a buffer the caller provides.
private struct Input {
    let source: FrameSource
    var offset = 0

    var remaining: Int { source.count - offset }

    /// The next `n` bytes; for a file they land in `buffer` (>= n bytes).
    mutating func next(_ n: Int, into buffer: UnsafeMutableRawPointer?) throws(RecurError) -> UnsafeRawPointer {
        guard n <= remaining else {
            throw RecurError(.badFrame, "LZ4 frame is truncated: \(source.count) bytes end before the frame does")
        }
        defer { offset += n }
        switch source {
        case .memory(let bytes):
            return bytes.baseAddress! + offset
        case .file(let fd, _, let path):
            var done = 0
            while done < n {
                let got = read(fd, buffer! + done, n - done)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    throw RecurError(.io, "cannot read '\(String(cString: path))': \(got == 0 ? "the file shrank while reading" : String(cString: strerror(errno)))")
                }
                done += got
            }
            return UnsafeRawPointer(buffer!)
        }
    }
}

@inline(__always)
func le32(_ p: UnsafeRawPointer, _ offset: Int = 0) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

/// Decodes one standard LZ4 frame that declares its content size and carries
/// a content checksum. Refuses anything else: other magic numbers, missing
/// flags, dictionaries, a declared size above the limit or above what LZ4
/// can encode in the input, bad checksums, truncation and trailing bytes.
/// Allocates the content and (for a file) one block buffer, both through
/// `allocator`; everything it allocated is freed if it throws.
public func decompressFrame(_ source: FrameSource, limits: LoadLimits = .defaults,
                            allocator: Allocator = .system) throws(RecurError) -> FrameContent {
    guard source.count > 0 else { throw RecurError(.badFrame, "file is empty") }
    guard source.count >= 7 else {
        throw RecurError(.badFrame, "file has \(source.count) bytes, too short for an LZ4 frame")
    }
    var input = Input(source: source)
    // The header: magic, FLG, BD, content size, header checksum (19 bytes),
    // read through a buffer on the stack.
    var header: (UInt64, UInt64, UInt64) = (0, 0, 0)
    let (flags, blockMax, contentSize): (UInt8, Int, UInt64) = try withUnsafeMutableBytes(of: &header) { (h) throws(RecurError) in
        let start = h.baseAddress!
        let first = try input.next(6, into: start)
        if first != UnsafeRawPointer(start) { start.copyMemory(from: first, byteCount: 6) }
        let magic = le32(start)
        guard magic == lz4FrameMagic else {
            throw RecurError(.badFrame, "not an LZ4 frame: magic number is 0x\(String(magic, radix: 16)), expected 0x184d2204")
        }
        let flg = h[4], bd = h[5]
        guard flg >> 6 == 1, flg & 0x02 == 0, bd & 0x8F == 0 else {
            throw RecurError(.badFrame, "LZ4 frame header: unknown version or reserved bits set (FLG 0x\(String(flg, radix: 16)), BD 0x\(String(bd, radix: 16)))")
        }
        guard flg & 0x08 != 0 else {
            throw RecurError(.badFrame, "LZ4 frame does not declare its content size")
        }
        guard flg & 0x04 != 0 else { throw RecurError(.badFrame, "LZ4 frame has no content checksum") }
        guard flg & 0x01 == 0 else { throw RecurError(.badFrame, "LZ4 frame needs a dictionary, which a model file never uses") }
        guard let blockMax = blockMaxSize(bd >> 4) else {
            throw RecurError(.badFrame, "LZ4 frame header: block maximum size code \(bd >> 4) is not 4 to 7")
        }
        let rest = try input.next(9, into: start + 6)
        if rest != UnsafeRawPointer(start + 6) { (start + 6).copyMemory(from: rest, byteCount: 9) }
        let declared = UInt64(le32(start, 6)) | UInt64(le32(start, 10)) << 32
        let check = UInt8(truncatingIfNeeded: XXH32.hash(start + 4, 10) >> 8)
        guard check == h[14] else {
            throw RecurError(.badFrame, "LZ4 frame header checksum is 0x\(String(h[14], radix: 16)), the header hashes to 0x\(String(check, radix: 16))")
        }
        return (flg, blockMax, declared)
    }
    guard contentSize > 0 else { throw RecurError(.badFrame, "LZ4 frame declares 0 bytes of content") }
    guard contentSize <= UInt64(limits.maxContentBytes) else {
        throw RecurError(.tooLarge, "LZ4 frame declares \(contentSize) bytes of content, the limit is \(limits.maxContentBytes) (max_content_bytes)")
    }
    // An LZ4 block gives at most 255 bytes per byte of input.
    guard contentSize <= UInt64(source.count) * 255 else {
        throw RecurError(.badFrame, "LZ4 frame declares \(contentSize) bytes of content, more than LZ4 can encode in \(source.count) bytes")
    }
    let size = Int(contentSize)
    guard let content = allocator.raw(size) else {
        throw RecurError(.outOfMemory, "cannot allocate \(size) bytes for the decompressed content")
    }
    // A file's blocks pass through one buffer: a block is never larger than
    // the content it encodes plus LZ4's overhead, nor than the block maximum.
    var buffer: UnsafeMutableRawPointer?
    defer { allocator.free(raw: buffer) }
    if case .file = source {
        let bytes = min(blockMax, largestBlock(size)) + 4
        guard let b = allocator.raw(bytes) else {
            allocator.free(raw: content)
            throw RecurError(.outOfMemory, "cannot allocate \(bytes) bytes to read the file's LZ4 blocks")
        }
        buffer = b
    }
    let checksum: UInt32
    do {
        checksum = try decodeBlocks(&input, buffer, flags, blockMax, UnsafeMutableRawPointer(content), size)
    } catch {
        allocator.free(raw: content)
        throw error
    }
    return FrameContent(bytes: UnsafeMutableRawBufferPointer(start: content, count: size), checksum: checksum,
                        allocator: allocator)
}

/// The most input bytes a block of `size` bytes of content can take: LZ4's
/// bound for incompressible data (an encoder stores such a block raw).
@inline(__always)
private func largestBlock(_ size: Int) -> Int { size + size / 255 + 16 }

/// The blocks, the end mark and the content checksum, into `content`;
/// returns the checksum.
private func decodeBlocks(_ input: inout Input, _ buffer: UnsafeMutableRawPointer?, _ flags: UInt8, _ blockMax: Int,
                          _ content: UnsafeMutableRawPointer, _ size: Int) throws(RecurError) -> UInt32 {
    let independent = flags & 0x20 != 0, blockChecksums = flags & 0x10 != 0
    var hash = XXH32()
    var produced = 0
    var index = 0
    while true {
        let word = le32(try input.next(4, into: buffer))
        if word == 0 { break }  // the end mark
        let stored = word & 0x8000_0000 != 0
        let length = Int(word & 0x7FFF_FFFF)
        guard length <= blockMax else {
            throw RecurError(.badFrame, "LZ4 frame: block \(index) has \(length) bytes, the frame's blocks have at most \(blockMax)")
        }
        // An encoder stores a block raw rather than let it grow past this.
        guard length <= largestBlock(size) else {
            throw RecurError(.badFrame, "LZ4 frame: block \(index) has \(length) bytes, more than \(size) bytes of content can need")
        }
        let data = try input.next(length + (blockChecksums ? 4 : 0), into: buffer)
        if blockChecksums && XXH32.hash(data, length) != le32(data, length) {
            throw RecurError(.badFrame, "LZ4 frame: block \(index) fails its checksum")
        }
        let room = size - produced
        let out = content + produced
        var written: Int
        if stored {
            guard length <= room else {
                throw RecurError(.badFrame, "LZ4 frame holds more content than the \(size) bytes it declares")
            }
            out.copyMemory(from: data, byteCount: length)
            written = length
        } else {
            // Linked blocks may refer to the 64 KiB decoded before them,
            // which sit just before `out` in the same buffer.
            let history = independent ? 0 : min(produced, 64 << 10)
            let result = LZ4_decompress_safe_usingDict(
                data.assumingMemoryBound(to: CChar.self), out.assumingMemoryBound(to: CChar.self),
                Int32(length), Int32(clamping: room),
                UnsafeRawPointer(out - history).assumingMemoryBound(to: CChar.self), Int32(history))
            guard result > 0 else {
                throw RecurError(.badFrame, "LZ4 frame: block \(index) is corrupt, empty, or holds more content than the \(size) bytes the frame declares")
            }
            written = Int(result)
        }
        hash.update(out, written)
        produced += written
        index += 1
    }
    guard produced == size else {
        throw RecurError(.badFrame, "LZ4 frame decoded to \(produced) bytes, it declares \(size)")
    }
    let checksum = le32(try input.next(4, into: buffer))
    guard checksum == hash.digest() else {
        throw RecurError(.badFrame, "LZ4 frame: the content checksum does not match (the file is corrupt)")
    }
    guard input.remaining == 0 else {
        throw RecurError(.badFrame, "\(input.remaining) bytes follow the LZ4 frame")
    }
    return checksum
}

/// Opens a model file for reading: only a regular file of at most
/// `limits.maxFileBytes` bytes (a FIFO, device or directory is refused
/// without blocking). The caller closes the descriptor.
public func openModelFile(_ path: UnsafePointer<CChar>, limits: LoadLimits = .defaults) throws(RecurError) -> (descriptor: Int32, size: Int) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
    guard fd >= 0 else {
        throw RecurError(.io, "cannot open '\(String(cString: path))': \(String(cString: strerror(errno)))")
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw RecurError(.io, "cannot stat '\(String(cString: path))': \(reason)")
    }
    let kind = info.st_mode & S_IFMT
    guard kind == S_IFREG else {
        close(fd)
        let what: StaticString
        switch kind {
        case S_IFDIR: what = "a directory"
        case S_IFIFO: what = "a FIFO"
        case S_IFCHR: what = "a character device"
        case S_IFBLK: what = "a block device"
        case S_IFSOCK: what = "a socket"
        default: what = "of an unknown kind"
        }
        throw RecurError(.io, "'\(String(cString: path))' is \(what), not a regular file")
    }
    guard info.st_size <= limits.maxFileBytes else {
        close(fd)
        throw RecurError(.tooLarge, "'\(String(cString: path))' has \(info.st_size) bytes, the limit is \(limits.maxFileBytes) (max_file_bytes)")
    }
    // Regular files never block; reads go on normally.
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return (fd, Int(info.st_size))
}
