// The C ABI: creating, freeing and resetting streams; their state in and out.
import CRecurSupport
import RecurCore

// MARK: - Streams

@_cdecl("recur_stream_size")
public func recur_stream_size(_ model: OpaquePointer?) -> Int {
    withModel(model, Stream.byteCount) ?? 0
}

@_cdecl("recur_stream_alignment")
public func recur_stream_alignment() -> Int { Stream.requiredAlignment }

@_cdecl("recur_stream_create")
public func recur_stream_create(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "recur_stream_create: out is NULL") }
    out.pointee = nil
    return withStreamReference(model, "recur_stream_create") { checked, index throws(RecurError) in
        let stream = try Stream.create(checked)
        do throws(RecurError) {
            out.pointee = try Registry.open(stream.base, kind: .stream, owner: index)
        } catch {
            stream.free()
            throw error
        }
    }
}

@_cdecl("recur_stream_init")
public func recur_stream_init(_ model: OpaquePointer?, _ memory: UnsafeMutableRawPointer?, _ size: Int,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "recur_stream_init: out is NULL") }
    out.pointee = nil
    return withStreamReference(model, "recur_stream_init") { checked, index throws(RecurError) in
        guard let memory else { throw RecurError(.invalidArgument, "recur_stream_init: memory is NULL") }
        let needed = Stream.byteCount(checked)
        guard UInt(bitPattern: size) >= UInt(needed) else {
            throw RecurError(.bufferTooSmall, "recur_stream_init: memory has \(UInt(bitPattern: size)) bytes, the stream needs \(needed)")
        }
        guard UInt(bitPattern: memory) % UInt(Stream.requiredAlignment) == 0 else {
            throw RecurError(.bufferTooSmall, "recur_stream_init: memory is not aligned to \(Stream.requiredAlignment) bytes")
        }
        // Open the handle first: on failure the caller's memory stays untouched.
        out.pointee = try Registry.open(memory, kind: .stream, owner: index)
        _ = Stream.initialize(checked, in: memory, ownsMemory: false)
    }
}

/// Takes the model reference a new stream keeps, runs `make`, and gives the
/// reference back if `make` fails.
private func withStreamReference(_ model: OpaquePointer?, _ function: StaticString,
                                  _ make: (Model, Int) throws(RecurError) -> Void) -> Int32 {
    do throws(RecurError) {
        guard let (checked, index) = try Registry.retainModel(model) else { return refuse(model, .model, function) }
        do throws(RecurError) {
            try make(checked, index)
        } catch {
            Registry.releaseModel(index)
            throw error
        }
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

@_cdecl("recur_stream_free")
public func recur_stream_free(_ stream: OpaquePointer?) {
    Registry.closeStream(stream)
}

@_cdecl("recur_stream_reset")
public func recur_stream_reset(_ stream: OpaquePointer?) {
    Registry.stream(stream)?.reset()
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

/// get_state / set_state: the handle, then the layer, then NULLs against
/// counts, counts against the model, and overlaps.
private func transfer(_ stream: OpaquePointer?, _ layer: Int, _ h: UnsafeMutablePointer<Float>?, _ hCount: Int,
                      _ c: UnsafeMutablePointer<Float>?, _ cCount: Int, write: Bool, _ function: StaticString) -> Int32 {
    let (checked, status) = checkStream(stream, function)
    guard let checked else { return status }
    let model = checked.model
    guard layer >= 0, layer < model.layerCount else {
        return fail(.outOfRange, "\(function): layer \(UInt(bitPattern: layer)) is not below the layer count \(model.layerCount)")
    }
    guard h != nil || hCount == 0 else { return fail(.invalidArgument, "\(function): h is NULL and h_count is \(UInt(bitPattern: hCount))") }
    guard c != nil || cCount == 0 else { return fail(.invalidArgument, "\(function): c is NULL and c_count is \(UInt(bitPattern: cCount))") }
    let sizes = Stream.stateSizes(model, layer)
    guard hCount == 0 || hCount == sizes.h else {
        return fail(.sizeMismatch, "\(function): h_count is \(UInt(bitPattern: hCount)), layer \(layer) has \(sizes.h) floats of h")
    }
    guard cCount == 0 || cCount == sizes.c else {
        return fail(.sizeMismatch, "\(function): c_count is \(UInt(bitPattern: cCount)), layer \(layer) has \(sizes.c) floats of c")
    }
    let (hIn, cIn) = (UnsafePointer(h), UnsafePointer(c))
    guard !overlapsStream(hIn, hCount, checked), !overlapsStream(cIn, cCount, checked) else {
        return fail(.invalidArgument, "\(function): h or c lies inside the stream's own memory")
    }
    guard write || !overlaps(hIn, hCount &* 4, cIn, cCount &* 4) else {
        return fail(.invalidArgument, "\(function): h and c overlap")
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
