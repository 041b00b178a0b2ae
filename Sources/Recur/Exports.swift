// The C ABI: every function declared in include/recur.h, and nothing else.
// Each one checks its arguments completely before the core runs, turns
// RecurError into a status code plus this thread's detail message, and never
// lets a Swift trap reach the host.
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

private func staticText(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// The live model behind a handle, or nil.
@inline(__always)
private func liveModel(_ handle: OpaquePointer?) -> Model? {
    guard let handle else { return nil }
    let model = Model(base: UnsafeMutableRawPointer(handle))
    return model.isLive ? model : nil
}

/// Checks a model handle argument; returns 0 or a status.
private func checkModel(_ handle: OpaquePointer?, _ function: String) -> (Model?, Int32) {
    guard handle != nil else { return (nil, fail(.invalidArgument, "\(function): model is NULL")) }
    guard let model = liveModel(handle) else {
        return (nil, fail(.badHandle, "\(function): model is not a live recur_model (freed, or not made by recur_model_load_*)"))
    }
    return (model, 0)
}

/// Checks a stream handle argument and its model.
@inline(__always)
private func checkStream(_ handle: OpaquePointer?, _ function: StaticString) -> (Stream?, Int32) {
    guard let handle else { return (nil, fail(.invalidArgument, "\(function): stream is NULL")) }
    let stream = Stream(base: UnsafeMutableRawPointer(handle))
    guard stream.isLive else {
        return (nil, fail(.badHandle, "\(function): stream is not a live recur_stream (freed, or not made by recur_stream_create/_init)"))
    }
    guard stream.model.isLive else {
        return (nil, fail(.badHandle, "\(function): the stream's model has been freed"))
    }
    return (stream, 0)
}

// MARK: - Version and status

@_cdecl("recur_version")
public func recur_version() -> UnsafePointer<CChar> { staticText("0.1.0") }

@_cdecl("recur_version_number")
public func recur_version_number() -> Int32 { 100 }

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
    case nil: return staticText("unknown status")
    }
}

@_cdecl("recur_last_error")
public func recur_last_error() -> UnsafePointer<CChar> {
    UnsafePointer(rsupport_message_buffer()!)
}

// MARK: - Models

@_cdecl("recur_model_load_memory")
public func recur_model_load_memory(_ data: UnsafeRawPointer?, _ size: Int,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "recur_model_load_memory: out is NULL") }
    out.pointee = nil
    guard let data else { return fail(.invalidArgument, "recur_model_load_memory: data is NULL") }
    guard size >= 0, size <= Limits.maxContentBytes else {
        return fail(.tooLarge, "recur_model_load_memory: size \(UInt(bitPattern: size)) exceeds the limit of \(Limits.maxContentBytes) bytes")
    }
    return load(UnsafeRawBufferPointer(start: data, count: size), out)
}

@_cdecl("recur_model_load_file")
public func recur_model_load_file(_ path: UnsafePointer<CChar>?,
                                  _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "recur_model_load_file: out is NULL") }
    out.pointee = nil
    guard let path else { return fail(.invalidArgument, "recur_model_load_file: path is NULL") }
    do {
        let file = try readFile(path)
        defer { file.storage.deallocate() }
        return load(UnsafeRawBufferPointer(rebasing: file.storage[0..<file.count]), out)
    } catch {
        return fail(error)
    }
}

private func load(_ bytes: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<OpaquePointer?>) -> Int32 {
    do {
        let model = try Model.load(file: bytes)
        out.pointee = OpaquePointer(model.base)
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

@_cdecl("recur_model_free")
public func recur_model_free(_ model: OpaquePointer?) {
    liveModel(model)?.free()
}

@_cdecl("recur_model_input_size")
public func recur_model_input_size(_ model: OpaquePointer?) -> Int {
    liveModel(model)?.inputSize ?? 0
}

@_cdecl("recur_model_output_size")
public func recur_model_output_size(_ model: OpaquePointer?) -> Int {
    liveModel(model)?.outputSize ?? 0
}

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

// MARK: - Stepping

@_cdecl("recur_step")
public func recur_step(_ stream: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int,
                       _ y: UnsafeMutablePointer<Float>?, _ yCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_step")
    guard let checked else { return status }
    let header = checked.model.header
    guard let x else { return fail(.invalidArgument, "recur_step: x is NULL") }
    guard let y else { return fail(.invalidArgument, "recur_step: y is NULL") }
    guard xCount == header.pointee.inputSize else {
        return fail(.sizeMismatch, "recur_step: x_count is \(UInt(bitPattern: xCount)), the model takes \(header.pointee.inputSize) floats per step")
    }
    guard yCount == header.pointee.outputSize else {
        return fail(.sizeMismatch, "recur_step: y_count is \(UInt(bitPattern: yCount)), the model gives \(header.pointee.outputSize) floats per step")
    }
    checked.step(x, y)
    return Status.ok.rawValue
}

@_cdecl("recur_run")
public func recur_run(_ stream: OpaquePointer?, _ steps: Int, _ xs: UnsafePointer<Float>?, _ xsCount: Int,
                      _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_run")
    guard let checked else { return status }
    let header = checked.model.header.pointee
    let (xsNeeded, xsOverflow) = steps.multipliedReportingOverflow(by: header.inputSize)
    let (ysNeeded, ysOverflow) = steps.multipliedReportingOverflow(by: header.outputSize)
    guard steps >= 0, !xsOverflow, !ysOverflow else {
        return fail(.sizeMismatch, "recur_run: \(UInt(bitPattern: steps)) steps is more than any buffer can hold")
    }
    guard xsCount == xsNeeded else {
        return fail(.sizeMismatch, "recur_run: xs_count is \(UInt(bitPattern: xsCount)), \(steps) steps of \(header.inputSize) floats need \(xsNeeded)")
    }
    guard ysCount == ysNeeded else {
        return fail(.sizeMismatch, "recur_run: ys_count is \(UInt(bitPattern: ysCount)), \(steps) steps of \(header.outputSize) floats need \(ysNeeded)")
    }
    if steps == 0 { return Status.ok.rawValue }
    guard let xs else { return fail(.invalidArgument, "recur_run: xs is NULL") }
    guard let ys else { return fail(.invalidArgument, "recur_run: ys is NULL") }
    checked.run(steps, xs, ys)
    return Status.ok.rawValue
}
