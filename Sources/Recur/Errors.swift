// The C ABI, declared in include/recur.h: every exported function lives in
// this module, one file per concern (errors and version here; Models.swift,
// Streams.swift, Stepping.swift; handles in Handles.swift, shared argument
// checks in Arguments.swift). Each function checks its arguments
// completely before the core runs, turns RecurError into a status code plus
// this thread's detail message, and never lets a Swift trap reach the host.
import CRecurSupport
import RecurCore

// MARK: - Errors

/// Records `message` as this thread's detail message and returns `status`.
@inline(never)
func fail(_ status: Status, _ message: String) -> Int32 {
    let buffer = rsupport_message_buffer()!
    let capacity = Int(RECUR_SUPPORT_MESSAGE_CAPACITY)
    var n = 0
    for byte in message.utf8 {
        if n == capacity - 1 { break }
        buffer[n] = CChar(bitPattern: byte)
        n += 1
    }
    if n == capacity - 1 {  // truncated: do not end inside a UTF-8 sequence
        while n > 0 && UInt8(bitPattern: buffer[n]) & 0xC0 == 0x80 { n -= 1 }
    }
    buffer[n] = 0
    return status.rawValue
}

@inline(never)
func fail(_ error: RecurError) -> Int32 { fail(error.status, error.message) }

func staticText(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

// MARK: - Version and status

@_cdecl("recur_version")
public func recur_version() -> UnsafePointer<CChar> { rsupport_version_string()! }

@_cdecl("recur_version_number")
public func recur_version_number() -> Int32 { rsupport_version_number() }

@_cdecl("recur_status_string")
public func recur_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    switch Status(rawValue: status) {
    case .ok: return staticText("ok")
    case .invalidArgument: return staticText("invalid argument")
    case .sizeMismatch: return staticText("size mismatch")
    case .io: return staticText("i/o error")
    case .badFrame: return staticText("bad LZ4 frame")
    case .badEncoding: return staticText("bad protobuf encoding")
    case .badModel: return staticText("bad model")
    case .unsupportedVersion: return staticText("unsupported format version")
    case .tooLarge: return staticText("too large")
    case .outOfMemory: return staticText("out of memory")
    case .badHandle: return staticText("bad handle")
    case .bufferTooSmall: return staticText("buffer too small or misaligned")
    case .unsupported: return staticText("unsupported")
    case .outOfRange: return staticText("out of range")
    case .badSnapshot: return staticText("bad snapshot")
    case .wrongModel: return staticText("snapshot of another model")
    case .noMemorySet: return staticText("attention memory not set")
    case nil: return staticText("unknown status")
    }
}

@_cdecl("recur_last_error")
public func recur_last_error() -> UnsafePointer<CChar> {
    UnsafePointer(rsupport_message_buffer()!)
}

