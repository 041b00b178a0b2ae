// Argument checks shared by the C ABI: handles, and overlapping memory.
import CRecurSupport
import RecurCore

/// Records why `handle` was refused where an open handle of `kind` was
/// expected; INVALID_ARGUMENT for NULL, BAD_HANDLE otherwise.
@inline(never)
func refuse(_ handle: OpaquePointer?, _ kind: HandleKind, _ function: StaticString, name: String? = nil) -> Int32 {
    let noun = name ?? (kind == .model ? "model" : "stream")
    switch Registry.problem(handle, kind) {
    case .null:
        return fail(.invalidArgument, "\(function): \(noun) is NULL")
    case .foreign:
        return fail(.badHandle, "\(function): \(noun) is not a \(kind.name) handle made by this library")
    case .freed:
        return fail(.badHandle, "\(function): \(name.map { "\($0) names a \(kind.name) that" } ?? "the \(kind.name)") has been freed")
    case .otherKind:
        return fail(.badHandle, "\(function): \(noun) is a \(kind == .model ? "recur_stream" : "recur_model") handle, not a \(kind.name)")
    case nil:  // it was freed by another thread while this call started
        return fail(.badHandle, "\(function): \(name.map { "\($0) names a \(kind.name) that" } ?? "the \(kind.name)") was freed during the call")
    }
}

/// The stream behind an open stream handle, or a refusal. Lock-free.
@inline(__always)
func checkStream(_ handle: OpaquePointer?, _ function: StaticString) -> (Stream?, Int32) {
    guard let stream = Registry.stream(handle) else { return (nil, refuse(handle, .stream, function)) }
    return (stream, 0)
}

/// True when [a, a + aBytes) and [b, b + bBytes) share a byte.
@inline(__always)
func overlaps(_ a: UnsafeRawPointer?, _ aBytes: Int, _ b: UnsafeRawPointer?, _ bBytes: Int) -> Bool {
    guard let a, let b, aBytes > 0, bBytes > 0 else { return false }
    let x = UInt(bitPattern: a), y = UInt(bitPattern: b)
    return x < y &+ UInt(bBytes) && y < x &+ UInt(aBytes)
}

/// True when `count` elements of `T` at `p` overlap the stream's own block.
@inline(__always)
func overlapsStream<T>(_ p: UnsafePointer<T>?, _ count: Int, _ stream: Stream) -> Bool {
    overlaps(p.map(UnsafeRawPointer.init), count &* MemoryLayout<T>.stride,
             UnsafeRawPointer(stream.base), Stream.byteCount(stream.model))
}
