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
private func checkModel(_ handle: OpaquePointer?, _ function: StaticString) -> (Model?, Int32) {
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
    case .outOfRange: return staticText("out of range")
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
    if let refused = streamingRefusal(checked.model, "recur_step", tokens: false) { return refused }
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
    if checked.model.header.pointee.vocab > 0 {
        return fail(.unsupported, "recur_run: the model takes tokens (its first layer is an embedding); use recur_run_tokens")
    }
    if steps == 0 { return Status.ok.rawValue }
    guard let xs else { return fail(.invalidArgument, "recur_run: xs is NULL") }
    guard let ys else { return fail(.invalidArgument, "recur_run: ys is NULL") }
    if let refused = sequenceRefusal(checked, steps, "recur_run") { return refused }
    checked.run(steps, xs, ys)
    return Status.ok.rawValue
}

/// Refuses streaming calls on models that need whole sequences or tokens.
private func streamingRefusal(_ model: Model, _ function: StaticString, tokens: Bool) -> Int32? {
    let header = model.header.pointee
    if header.firstSequenceLayer >= 0 {
        let plan = model.plans[header.firstSequenceLayer]
        return fail(.unsupported, "\(function): layer \(header.firstSequenceLayer) is \(plan.direction == .reverse ? "reverse" : "bidirectional"), which is unsupported in streaming; run whole sequences with recur_run\(tokens ? "_tokens" : "")")
    }
    if tokens && header.vocab == 0 {
        return fail(.unsupported, "\(function): the model takes vectors, not tokens (its first layer is not an embedding); use recur_step")
    }
    if !tokens && header.vocab > 0 {
        return fail(.unsupported, "\(function): the model takes tokens (its first layer is an embedding); use recur_step_token")
    }
    return nil
}

/// Refuses a sequence-mode run longer than the stream's reserved buffers.
private func sequenceRefusal(_ stream: Stream, _ steps: Int, _ function: StaticString) -> Int32? {
    let header = stream.model.header.pointee
    guard header.firstSequenceLayer >= 0, !stream.hasSequenceCapacity(steps) else { return nil }
    return fail(.bufferTooSmall, "\(function): layer \(header.firstSequenceLayer) runs over whole sequences and the stream has buffers for \(stream.header.pointee.sequenceCapacity) steps; call recur_stream_reserve(stream, \(steps)) first")
}

@_cdecl("recur_step_token")
public func recur_step_token(_ stream: OpaquePointer?, _ token: Int32, _ y: UnsafeMutablePointer<Float>?, _ yCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_step_token")
    guard let checked else { return status }
    let header = checked.model.header
    guard let y else { return fail(.invalidArgument, "recur_step_token: y is NULL") }
    guard yCount == header.pointee.outputSize else {
        return fail(.sizeMismatch, "recur_step_token: y_count is \(UInt(bitPattern: yCount)), the model gives \(header.pointee.outputSize) floats per step")
    }
    if let refused = streamingRefusal(checked.model, "recur_step_token", tokens: true) { return refused }
    guard token >= 0, Int(token) < header.pointee.vocab else {
        return fail(.outOfRange, "recur_step_token: token \(token) is outside the vocabulary [0, \(header.pointee.vocab))")
    }
    checked.stepToken(Int(token), y)
    return Status.ok.rawValue
}

@_cdecl("recur_run_tokens")
public func recur_run_tokens(_ stream: OpaquePointer?, _ steps: Int, _ tokens: UnsafePointer<Int32>?, _ tokensCount: Int,
                             _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_run_tokens")
    guard let checked else { return status }
    let header = checked.model.header.pointee
    guard header.vocab > 0 else {
        return fail(.unsupported, "recur_run_tokens: the model takes vectors, not tokens (its first layer is not an embedding); use recur_run")
    }
    let (ysNeeded, overflow) = steps.multipliedReportingOverflow(by: header.outputSize)
    guard steps >= 0, !overflow else {
        return fail(.sizeMismatch, "recur_run_tokens: \(UInt(bitPattern: steps)) steps is more than any buffer can hold")
    }
    guard tokensCount == steps else {
        return fail(.sizeMismatch, "recur_run_tokens: tokens_count is \(UInt(bitPattern: tokensCount)), expected one token per step (\(steps))")
    }
    guard ysCount == ysNeeded else {
        return fail(.sizeMismatch, "recur_run_tokens: ys_count is \(UInt(bitPattern: ysCount)), \(steps) steps of \(header.outputSize) floats need \(ysNeeded)")
    }
    if steps == 0 { return Status.ok.rawValue }
    guard let tokens else { return fail(.invalidArgument, "recur_run_tokens: tokens is NULL") }
    guard let ys else { return fail(.invalidArgument, "recur_run_tokens: ys is NULL") }
    for t in 0..<steps where tokens[t] < 0 || Int(tokens[t]) >= header.vocab {
        return fail(.outOfRange, "recur_run_tokens: token \(tokens[t]) at step \(t) is outside the vocabulary [0, \(header.vocab))")
    }
    if let refused = sequenceRefusal(checked, steps, "recur_run_tokens") { return refused }
    checked.runTokens(steps, tokens, ys)
    return Status.ok.rawValue
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

@_cdecl("recur_model_layer_count")
public func recur_model_layer_count(_ model: OpaquePointer?) -> Int {
    liveModel(model)?.layerCount ?? 0
}

@_cdecl("recur_model_vocab_size")
public func recur_model_vocab_size(_ model: OpaquePointer?) -> Int {
    liveModel(model)?.header.pointee.vocab ?? 0
}

@_cdecl("recur_model_state_size")
public func recur_model_state_size(_ model: OpaquePointer?, _ layer: Int, _ hCount: UnsafeMutablePointer<Int>?,
                                   _ cCount: UnsafeMutablePointer<Int>?) -> Int32 {
    let (checked, status) = checkModel(model, "recur_model_state_size")
    guard let checked else { return status }
    guard layer >= 0, layer < checked.layerCount else {
        return fail(.outOfRange, "recur_model_state_size: layer \(UInt(bitPattern: layer)) is not below the layer count \(checked.layerCount)")
    }
    let sizes = Stream.stateSizes(checked, layer)
    hCount?.pointee = sizes.h
    cCount?.pointee = sizes.c
    return Status.ok.rawValue
}

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
