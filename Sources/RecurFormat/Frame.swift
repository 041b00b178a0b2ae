import CLZ4

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Decompressed content of an LZ4 frame, owned by the caller (`deallocate`).
public struct FrameContent {
    public let bytes: UnsafeMutableRawBufferPointer

    public func deallocate() { bytes.deallocate() }
}

private let lz4FrameMagic: UInt32 = 0x184D_2204

/// Decodes one standard LZ4 frame that declares its content size and carries
/// a content checksum. Refuses anything else: other magic numbers, missing
/// flags, a declared size above `maxContentBytes`, a checksum mismatch,
/// truncation and trailing bytes.
public func decompressFrame(
    _ src: UnsafeRawBufferPointer, maxContentBytes: Int = Limits.maxContentBytes
) throws(RecurError) -> FrameContent {
    guard src.count > 0 else { throw RecurError(.badFrame, "file is empty") }
    guard src.count >= 4 else {
        throw RecurError(.badFrame, "file has \(src.count) bytes, too short for an LZ4 frame")
    }
    let magic = UInt32(littleEndian: src.loadUnaligned(as: UInt32.self))
    guard magic == lz4FrameMagic else {
        throw RecurError(.badFrame, "not an LZ4 frame: magic number is 0x\(String(magic, radix: 16)), expected 0x184d2204")
    }

    var context: OpaquePointer?
    let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
    guard LZ4F_isError(created) == 0, let dctx = context else {
        throw RecurError(.outOfMemory, "cannot create an LZ4 decompression context")
    }
    defer { LZ4F_freeDecompressionContext(dctx) }

    var info = LZ4F_frameInfo_t()
    var consumed = src.count
    let hint = LZ4F_getFrameInfo(dctx, &info, src.baseAddress, &consumed)
    if LZ4F_isError(hint) != 0 {
        throw RecurError(.badFrame, "LZ4 frame header: \(String(cString: LZ4F_getErrorName(hint)))")
    }
    guard info.contentSize > 0 else {
        throw RecurError(.badFrame, "LZ4 frame does not declare its content size (or declares 0 bytes)")
    }
    guard info.contentChecksumFlag == LZ4F_contentChecksumEnabled else {
        throw RecurError(.badFrame, "LZ4 frame has no content checksum")
    }
    guard info.contentSize <= UInt64(maxContentBytes) else {
        throw RecurError(.tooLarge, "LZ4 frame declares \(info.contentSize) bytes of content, the limit is \(maxContentBytes)")
    }
    let size = Int(info.contentSize)
    let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    var srcPos = consumed
    var dstPos = 0
    while true {
        var srcSize = src.count - srcPos
        var dstSize = size - dstPos
        let result = LZ4F_decompress(dctx, dst.baseAddress! + dstPos, &dstSize,
                                     src.baseAddress! + srcPos, &srcSize, nil)
        if LZ4F_isError(result) != 0 {
            dst.deallocate()
            throw RecurError(.badFrame, "LZ4 frame: \(String(cString: LZ4F_getErrorName(result)))")
        }
        srcPos += srcSize
        dstPos += dstSize
        if result == 0 { break }
        if srcSize == 0 && dstSize == 0 {
            dst.deallocate()
            if srcPos == src.count {
                throw RecurError(.badFrame, "LZ4 frame is truncated: \(src.count) bytes end before the frame does (\(dstPos) of \(size) content bytes decoded)")
            }
            throw RecurError(.badFrame, "LZ4 frame holds more content than the \(size) bytes it declares")
        }
    }
    guard dstPos == size else {
        dst.deallocate()
        throw RecurError(.badFrame, "LZ4 frame decoded to \(dstPos) bytes, it declares \(size)")
    }
    guard srcPos == src.count else {
        dst.deallocate()
        throw RecurError(.badFrame, "\(src.count - srcPos) bytes follow the LZ4 frame")
    }
    return FrameContent(bytes: dst)
}

/// Reads a whole file (at most `maxBytes`) into memory owned by the caller:
/// `storage` is to be deallocated, its first `count` bytes are the file.
public func readFile(_ path: UnsafePointer<CChar>, maxBytes: Int = Limits.maxContentBytes) throws(RecurError) -> (storage: UnsafeMutableRawBufferPointer, count: Int) {
    let shown = String(cString: path)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw RecurError(.io, "cannot open '\(shown)': \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw RecurError(.io, "cannot stat '\(shown)': \(String(cString: strerror(errno)))")
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
        throw RecurError(.io, "'\(shown)' is not a regular file")
    }
    guard info.st_size <= maxBytes else {
        throw RecurError(.tooLarge, "'\(shown)' has \(info.st_size) bytes, the limit is \(maxBytes)")
    }
    let size = Int(info.st_size)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
    var done = 0
    while done < size {
        let n = read(fd, buffer.baseAddress! + done, size - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else {
            buffer.deallocate()
            throw RecurError(.io, "cannot read '\(shown)': \(n == 0 ? "file shrank while reading" : String(cString: strerror(errno)))")
        }
        done += n
    }
    return (buffer, size)
}
