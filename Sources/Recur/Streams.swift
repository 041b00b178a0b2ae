// The C ABI: creating, freeing and resetting streams; their state in and out.
import CRecurSupport
import RecurCore

// MARK: - Streams

@_cdecl("recur_stream_size")
public func recur_stream_size(_ model: OpaquePointer?) -> Int {
    liveModel(model).map(Stream.byteCount) ?? 0
}

@_cdecl("recur_stream_alignment")
public func recur_stream_alignment() -> Int { Stream.requiredAlignment }

@_cdecl("recur_stream_create")
public func recur_stream_create(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "recur_stream_create: out is NULL") }
    out.pointee = nil
    let (checked, status) = checkModel(model, "recur_stream_create")
    guard let checked else { return status }
    do {
        out.pointee = OpaquePointer(try Stream.create(checked).base)
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

@_cdecl("recur_stream_init")
public func recur_stream_init(_ model: OpaquePointer?, _ memory: UnsafeMutableRawPointer?, _ size: Int,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "recur_stream_init: out is NULL") }
    out.pointee = nil
    let (checked, status) = checkModel(model, "recur_stream_init")
    guard let checked else { return status }
    guard let memory else { return fail(.invalidArgument, "recur_stream_init: memory is NULL") }
    let needed = Stream.byteCount(checked)
    guard size >= 0, size >= needed else {
        return fail(.bufferTooSmall, "recur_stream_init: memory has \(UInt(bitPattern: size)) bytes, the stream needs \(needed)")
    }
    guard UInt(bitPattern: memory) % UInt(Stream.requiredAlignment) == 0 else {
        return fail(.bufferTooSmall, "recur_stream_init: memory is not aligned to \(Stream.requiredAlignment) bytes")
    }
    out.pointee = OpaquePointer(Stream.initialize(checked, in: memory, ownsMemory: false).base)
    return Status.ok.rawValue
}

@_cdecl("recur_stream_free")
public func recur_stream_free(_ stream: OpaquePointer?) {
    guard let stream else { return }
    let s = Stream(base: UnsafeMutableRawPointer(stream))
    if s.isLive { s.free() }
}

@_cdecl("recur_stream_reset")
public func recur_stream_reset(_ stream: OpaquePointer?) {
    guard let stream else { return }
    let s = Stream(base: UnsafeMutableRawPointer(stream))
    if s.isLive && s.model.isLive { s.reset() }
}

@_cdecl("recur_stream_reserve")
public func recur_stream_reserve(_ stream: OpaquePointer?, _ steps: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_stream_reserve")
    guard let checked else { return status }
    guard steps >= 0 else { return fail(.tooLarge, "recur_stream_reserve: \(UInt(bitPattern: steps)) steps is too many") }
    do {
        try checked.reserve(steps)
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

// MARK: - State

private func transfer(_ stream: OpaquePointer?, _ layer: Int, _ h: UnsafeMutablePointer<Float>?, _ hCount: Int,
                      _ c: UnsafeMutablePointer<Float>?, _ cCount: Int, write: Bool, _ function: StaticString) -> Int32 {
    let (checked, status) = checkStream(stream, function)
    guard let checked else { return status }
    let model = checked.model
    guard layer >= 0, layer < model.layerCount else {
        return fail(.outOfRange, "\(function): layer \(UInt(bitPattern: layer)) is not below the layer count \(model.layerCount)")
    }
    let sizes = Stream.stateSizes(model, layer)
    guard (h == nil && hCount == 0) || hCount == sizes.h else {
        return fail(.sizeMismatch, "\(function): h_count is \(UInt(bitPattern: hCount)), layer \(layer) has \(sizes.h) floats of h")
    }
    guard (c == nil && cCount == 0) || cCount == sizes.c else {
        return fail(.sizeMismatch, "\(function): c_count is \(UInt(bitPattern: cCount)), layer \(layer) has \(sizes.c) floats of c")
    }
    guard h != nil || hCount == 0, c != nil || cCount == 0 else {
        return fail(.invalidArgument, "\(function): h or c is NULL with a non-zero count")
    }
    checked.transferState(layer, h: hCount > 0 ? h : nil, c: cCount > 0 ? c : nil, write: write)
    return Status.ok.rawValue
}

@_cdecl("recur_stream_get_state")
public func recur_stream_get_state(_ stream: OpaquePointer?, _ layer: Int, _ h: UnsafeMutablePointer<Float>?, _ hCount: Int,
                                   _ c: UnsafeMutablePointer<Float>?, _ cCount: Int) -> Int32 {
    transfer(stream, layer, h, hCount, c, cCount, write: false, "recur_stream_get_state")
}

@_cdecl("recur_stream_set_state")
public func recur_stream_set_state(_ stream: OpaquePointer?, _ layer: Int, _ h: UnsafePointer<Float>?, _ hCount: Int,
                                   _ c: UnsafePointer<Float>?, _ cCount: Int) -> Int32 {
    transfer(stream, layer, UnsafeMutablePointer(mutating: h), hCount, UnsafeMutablePointer(mutating: c), cCount,
             write: true, "recur_stream_set_state")
}
