// The C ABI: a stream's state as checked bytes (RecurCore/Snapshot.swift;
// the format in docs/format.md). Allocation-free, like stepping.
import RecurCore

@_cdecl("recur_stream_snapshot_size")
public func recur_stream_snapshot_size(_ model: OpaquePointer?) -> Int {
    withModel(model) { Stream.snapshotLayout($0).bytes } ?? 0
}

@_cdecl("recur_stream_snapshot")
public func recur_stream_snapshot(_ stream: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ size: Int,
                                  _ written: UnsafeMutablePointer<Int>?) -> Int32 {
    let function: StaticString = "recur_stream_snapshot"
    let (checked, status) = checkStream(stream, function)
    guard let checked else { return status }
    guard buffer != nil || size == 0 else {
        return fail(.invalidArgument, "\(function): buffer is NULL and size is \(UInt(bitPattern: size))")
    }
    let needed = checked.snapshotLayout.bytes
    written?.pointee = needed
    guard UInt(bitPattern: size) >= UInt(needed), let buffer else {
        return fail(.bufferTooSmall, "\(function): the buffer has \(UInt(bitPattern: size)) bytes, the snapshot needs \(needed)")
    }
    guard !overlapsStream(UnsafePointer(buffer.assumingMemoryBound(to: UInt8.self)), needed, checked) else {
        return fail(.invalidArgument, "\(function): buffer lies inside the stream's own memory")
    }
    checked.snapshot(into: buffer)
    return Status.ok.rawValue
}

@_cdecl("recur_stream_restore")
public func recur_stream_restore(_ stream: OpaquePointer?, _ buffer: UnsafeRawPointer?, _ size: Int) -> Int32 {
    let function: StaticString = "recur_stream_restore"
    let (checked, status) = checkStream(stream, function)
    guard let checked else { return status }
    guard let buffer else { return fail(.invalidArgument, "\(function): buffer is NULL") }
    guard size >= 0 else { return fail(.badSnapshot, "\(function): size \(UInt(bitPattern: size)) is no snapshot's") }
    guard !overlapsStream(buffer.assumingMemoryBound(to: UInt8.self), size, checked) else {
        return fail(.invalidArgument, "\(function): buffer lies inside the stream's own memory")
    }
    do {
        try checked.restore(from: buffer, size)
        return Status.ok.rawValue
    } catch {
        return fail(error.status, "\(function): \(error.message)")
    }
}
