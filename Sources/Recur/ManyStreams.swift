// The C ABI: one step of many streams of one model (recur_step_streams,
// recur_step_streams_tokens). Checks run in the order of every other call
// (the model handle; whether the call suits the model; NULLs; each stream
// handle and its model; counts; streams listed twice; overlapping memory;
// tokens; attention memory), all before any stream moves.
import RecurCore

@_cdecl("recur_step_streams")
public func recur_step_streams(_ model: OpaquePointer?, _ streams: UnsafePointer<OpaquePointer?>?, _ n: Int,
                               _ xs: UnsafePointer<Float>?, _ xsCount: Int,
                               _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int) -> Int32 {
    stepMany(model, streams, n, xs, xsCount, nil, 0, ys, ysCount, tokens: false, "recur_step_streams")
}

@_cdecl("recur_step_streams_tokens")
public func recur_step_streams_tokens(_ model: OpaquePointer?, _ streams: UnsafePointer<OpaquePointer?>?, _ n: Int,
                                      _ tokens: UnsafePointer<Int32>?, _ tokensCount: Int,
                                      _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int) -> Int32 {
    stepMany(model, streams, n, nil, 0, tokens, tokensCount, ys, ysCount, tokens: true, "recur_step_streams_tokens")
}

private func stepMany(_ handle: OpaquePointer?, _ streams: UnsafePointer<OpaquePointer?>?, _ n: Int,
                      _ xs: UnsafePointer<Float>?, _ xsCount: Int, _ tokens: UnsafePointer<Int32>?, _ tokensCount: Int,
                      _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int, tokens isTokens: Bool,
                      _ function: StaticString) -> Int32 {
    let retained: (Model, Int)?
    do throws(RecurError) { retained = try Registry.retainModel(handle) } catch { return fail(error) }
    guard let (model, index) = retained else { return refuse(handle, .model, function) }
    defer { Registry.releaseModel(index) }
    let header = model.header.pointee
    // Whether the call suits the model.
    if (header.vocab > 0) != isTokens {
        return fail(.unsupported, header.vocab > 0
            ? "\(function): the model takes tokens (its first layer is an embedding); use recur_step_streams_tokens"
            : "\(function): the model takes vectors, not tokens (its first layer is not an embedding); use recur_step_streams")
    }
    if header.firstSequenceLayer >= 0 {
        let layer = header.firstSequenceLayer
        return fail(.unsupported, "\(function): layer \(layer) is \(model.plans[layer].direction == .reverse ? "reverse" : "bidirectional"), so the model needs whole sequences; run each stream with \(isTokens ? "recur_run_tokens" : "recur_run")")
    }
    // NULL pointers.
    let count = UInt(bitPattern: n)
    guard streams != nil || n == 0 else { return fail(.invalidArgument, "\(function): streams is NULL and n is \(count)") }
    let inputName: StaticString = isTokens ? "tokens" : "xs"
    let inputCount = isTokens ? tokensCount : xsCount
    guard (isTokens ? tokens != nil : xs != nil) || inputCount == 0 else {
        return fail(.invalidArgument, "\(function): \(inputName) is NULL and \(inputName)_count is \(UInt(bitPattern: inputCount))")
    }
    guard ys != nil || ysCount == 0 else {
        return fail(.invalidArgument, "\(function): ys is NULL and ys_count is \(UInt(bitPattern: ysCount))")
    }
    // Each stream: open, and of this model.
    guard n >= 0 else { return fail(.tooLarge, "\(function): n is \(count), more streams than can exist") }
    for k in 0..<n {
        guard let stream = Registry.stream(streams![k]) else {
            return refuse(streams![k], .stream, function, name: "streams[\(k)]")
        }
        guard stream.header.pointee.model == model.base else {
            return fail(.invalidArgument, "\(function): streams[\(k)] was created from another model")
        }
    }
    // Counts.
    let inputs = header.inputSize, outputs = header.outputSize
    let inputNeeded = isTokens ? n : n &* inputs, outputNeeded = n &* outputs
    guard inputCount == inputNeeded else {
        return fail(.sizeMismatch, isTokens
            ? "\(function): tokens_count is \(UInt(bitPattern: inputCount)), one token per stream needs \(n)"
            : "\(function): xs_count is \(UInt(bitPattern: inputCount)), \(n) streams of \(inputs) floats need \(inputNeeded)")
    }
    guard ysCount == outputNeeded else {
        return fail(.sizeMismatch, "\(function): ys_count is \(UInt(bitPattern: ysCount)), \(n) streams of \(outputs) floats need \(outputNeeded)")
    }
    guard n > 0, let streams, let ys else { return Status.ok.rawValue }
    // Streams listed twice: a mark in each stream, set, then cleared.
    if let (first, second) = repeated(streams, n) {
        return fail(.invalidArgument, "\(function): streams[\(first)] and streams[\(second)] are the same stream")
    }
    // Overlapping memory.
    let input: UnsafeRawPointer? = isTokens ? tokens.map(UnsafeRawPointer.init) : xs.map(UnsafeRawPointer.init)
    let inputBytes = inputCount &* 4, outputBytes = ysCount &* 4, streamBytes = Stream.byteCount(model)
    for k in 0..<n {
        let base = UnsafeRawPointer(Registry.stream(streams[k])!.base)
        if overlaps(input, inputBytes, base, streamBytes) || overlaps(UnsafeRawPointer(ys), outputBytes, base, streamBytes) {
            return fail(.invalidArgument, "\(function): \(overlaps(input, inputBytes, base, streamBytes) ? inputName : "ys") lies inside the memory of streams[\(k)]")
        }
    }
    // Groups write their outputs before later groups read their inputs.
    let inPlace = !isTokens && input == UnsafeRawPointer(ys) && outputs <= inputs
    guard !overlaps(input, inputBytes, UnsafeRawPointer(ys), outputBytes) || inPlace else {
        return fail(.invalidArgument, isTokens
            ? "\(function): tokens and ys overlap"
            : "\(function): xs and ys overlap; they may only be the same array (in place), and only when output_size (\(outputs)) <= input_size (\(inputs))")
    }
    if let tokens {
        for k in 0..<n where tokens[k] < 0 || Int(tokens[k]) >= header.vocab {
            return fail(.outOfRange, "\(function): token \(tokens[k]) of streams[\(k)] is outside the vocabulary [0, \(header.vocab))")
        }
    }
    if header.attentionLayers > 0 {
        for k in 0..<n {
            if let refused = memoryRefusal(Registry.stream(streams[k])!, function, position: k) { return refused }
        }
    }
    // Step, a group at a time.
    let group = Model.streamGroup
    return withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: group) { bases in
        var start = 0
        while start < n {
            let size = min(group, n - start)
            for k in 0..<size { bases[k] = Registry.stream(streams[start + k])!.base }
            model.stepStreams(UnsafePointer(bases.baseAddress!), size,
                              xs.map { $0 + start * inputs }, tokens.map { $0 + start }, ys + start * outputs)
            start += size
        }
        return Status.ok.rawValue
    }
}

/// The first pair of positions holding the same stream, or nil. Uses a mark
/// in each stream's header (a stream belongs to one thread at a time, and
/// every mark is cleared before returning).
private func repeated(_ streams: UnsafePointer<OpaquePointer?>, _ n: Int) -> (Int, Int)? {
    var found: Int? = nil
    var marked = 0
    while marked < n {
        let header = Registry.stream(streams[marked])!.header
        if header.pointee.listed {
            found = marked
            break
        }
        header.pointee.listed = true
        marked += 1
    }
    for k in 0..<marked { Registry.stream(streams[k])!.header.pointee.listed = false }
    guard let second = found else { return nil }
    for k in 0..<second where streams[k] == streams[second] { return (k, second) }
    return nil
}
