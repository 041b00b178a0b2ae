// The C ABI: stepping and running streams.
//
// Every call checks in the same order, so the same mistake gets the same
// status from each: the stream handle; whether the call fits the model
// (vectors or tokens, streaming or whole sequences); NULL pointers (allowed
// only with a count of 0); counts against the model; overlapping memory;
// token values; sequence buffers; attention memory. Nothing is read or written before all of
// them pass.
import CRecurSupport
import RecurCore

// MARK: - Refusals

/// Refuses a call that does not fit how the model is fed: vectors or tokens,
/// step by step or whole sequences only. Nil when it fits.
@inline(__always)
private func kindRefusal(_ model: Model, _ function: StaticString, tokens: Bool, streaming: Bool) -> Int32? {
    let header = model.header
    guard (header.pointee.vocab > 0) != tokens || (streaming && header.pointee.firstSequenceLayer >= 0) else { return nil }
    return refuseKind(model, function, tokens: tokens, streaming: streaming)
}

@inline(never)
private func refuseKind(_ model: Model, _ function: StaticString, tokens: Bool, streaming: Bool) -> Int32 {
    let header = model.header.pointee
    if tokens && header.vocab == 0 {
        return fail(.unsupported, "\(function): the model takes vectors, not tokens (its first layer is not an embedding); use \(streaming ? "recur_step" : "recur_run")")
    }
    if !tokens && header.vocab > 0 {
        return fail(.unsupported, "\(function): the model takes tokens (its first layer is an embedding); use \(streaming ? "recur_step_token" : "recur_run_tokens")")
    }
    let layer = header.firstSequenceLayer
    let direction = model.plans[layer].direction == .reverse ? "reverse" : "bidirectional"
    return fail(.unsupported, "\(function): layer \(layer) is \(direction), so the model needs whole sequences; run them with \(tokens ? "recur_run_tokens" : "recur_run")")
}

@inline(never)
private func refuseNull(_ function: StaticString, _ name: StaticString, _ count: Int) -> Int32 {
    fail(.invalidArgument, "\(function): \(name) is NULL and \(name)_count is \(UInt(bitPattern: count))")
}

@inline(never)
private func refuseCount(_ function: StaticString, _ name: StaticString, _ count: Int, _ expected: String) -> Int32 {
    fail(.sizeMismatch, "\(function): \(name)_count is \(UInt(bitPattern: count)), \(expected)")
}

@inline(never)
private func refuseInsideStream(_ function: StaticString, _ name: StaticString) -> Int32 {
    fail(.invalidArgument, "\(function): \(name) lies inside the stream's own memory")
}

/// `steps` rows of `width` floats: the count, or nil if it overflows.
@inline(__always)
private func rows(_ steps: Int, _ width: Int) -> Int? {
    let (n, overflow) = steps.multipliedReportingOverflow(by: width)
    return overflow ? nil : n
}

/// Refuses a sequence-mode run longer than the stream's reserved buffers.
private func sequenceRefusal(_ stream: Stream, _ steps: Int, _ function: StaticString) -> Int32? {
    let header = stream.model.header.pointee
    guard header.firstSequenceLayer >= 0, !stream.hasSequenceCapacity(steps) else { return nil }
    return fail(.bufferTooSmall, "\(function): layer \(header.firstSequenceLayer) runs over whole sequences and the stream has buffers for \(stream.header.pointee.sequenceCapacity) steps; call recur_stream_reserve(stream, \(steps)) first")
}

/// Refuses stepping a stream with an attention layer whose memory is not
/// set. One load and compare for every model.
@inline(__always)
func memoryRefusal(_ stream: Stream, _ function: StaticString, position: Int? = nil) -> Int32? {
    guard stream.header.pointee.layersWithoutMemory > 0 else { return nil }
    return refuseMemory(stream, function, position: position)
}

@inline(never)
private func refuseMemory(_ stream: Stream, _ function: StaticString, position: Int?) -> Int32 {
    let layer = stream.firstLayerWithoutMemory ?? -1
    let which = position.map { "streams[\($0)]" } ?? "the stream"
    return fail(.noMemorySet, "\(function): layer \(layer) is an attention layer and \(which) has no memory for it; call recur_stream_set_memory first")
}

// MARK: - Stepping

@_cdecl("recur_step")
public func recur_step(_ stream: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int,
                       _ y: UnsafeMutablePointer<Float>?, _ yCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_step")
    guard let checked else { return status }
    let model = checked.model
    if let refused = kindRefusal(model, "recur_step", tokens: false, streaming: true) { return refused }
    guard let x else { return refuseNull("recur_step", "x", xCount) }
    guard let y else { return refuseNull("recur_step", "y", yCount) }
    let inputs = model.header.pointee.inputSize, outputs = model.header.pointee.outputSize
    guard xCount == inputs else { return refuseCount("recur_step", "x", xCount, "the model takes \(inputs) floats per step") }
    guard yCount == outputs else { return refuseCount("recur_step", "y", yCount, "the model gives \(outputs) floats per step") }
    guard !overlapsStream(x, xCount, checked) else { return refuseInsideStream("recur_step", "x") }
    guard !overlapsStream(UnsafePointer(y), yCount, checked) else { return refuseInsideStream("recur_step", "y") }
    if let refused = memoryRefusal(checked, "recur_step") { return refused }
    checked.step(x, y)
    return Status.ok.rawValue
}

@_cdecl("recur_run")
public func recur_run(_ stream: OpaquePointer?, _ steps: Int, _ xs: UnsafePointer<Float>?, _ xsCount: Int,
                      _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_run")
    guard let checked else { return status }
    let model = checked.model
    if let refused = kindRefusal(model, "recur_run", tokens: false, streaming: false) { return refused }
    guard xs != nil || xsCount == 0 else { return refuseNull("recur_run", "xs", xsCount) }
    guard ys != nil || ysCount == 0 else { return refuseNull("recur_run", "ys", ysCount) }
    let inputs = model.header.pointee.inputSize, outputs = model.header.pointee.outputSize
    guard steps >= 0, let xsNeeded = rows(steps, inputs), let ysNeeded = rows(steps, outputs) else {
        return fail(.sizeMismatch, "recur_run: \(UInt(bitPattern: steps)) steps is more than any buffer can hold")
    }
    guard xsCount == xsNeeded else { return refuseCount("recur_run", "xs", xsCount, "\(steps) steps of \(inputs) floats need \(xsNeeded)") }
    guard ysCount == ysNeeded else { return refuseCount("recur_run", "ys", ysCount, "\(steps) steps of \(outputs) floats need \(ysNeeded)") }
    guard steps > 0, let xs, let ys else { return Status.ok.rawValue }
    guard !overlapsStream(xs, xsCount, checked) else { return refuseInsideStream("recur_run", "xs") }
    guard !overlapsStream(UnsafePointer(ys), ysCount, checked) else { return refuseInsideStream("recur_run", "ys") }
    let inPlace = xs == UnsafePointer(ys)
    guard !overlaps(xs, xsCount &* 4, ys, ysCount &* 4) || (inPlace && outputs <= inputs) else {
        return fail(.invalidArgument, "recur_run: xs and ys overlap; they may only be the same array (in place), and only when output_size (\(outputs)) <= input_size (\(inputs))")
    }
    if let refused = sequenceRefusal(checked, steps, "recur_run") { return refused }
    if let refused = memoryRefusal(checked, "recur_run") { return refused }
    checked.run(steps, xs, ys)
    return Status.ok.rawValue
}

@_cdecl("recur_step_token")
public func recur_step_token(_ stream: OpaquePointer?, _ token: Int32, _ y: UnsafeMutablePointer<Float>?, _ yCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_step_token")
    guard let checked else { return status }
    let model = checked.model
    if let refused = kindRefusal(model, "recur_step_token", tokens: true, streaming: true) { return refused }
    guard let y else { return refuseNull("recur_step_token", "y", yCount) }
    let outputs = model.header.pointee.outputSize, vocab = model.header.pointee.vocab
    guard yCount == outputs else { return refuseCount("recur_step_token", "y", yCount, "the model gives \(outputs) floats per step") }
    guard !overlapsStream(UnsafePointer(y), yCount, checked) else { return refuseInsideStream("recur_step_token", "y") }
    guard token >= 0, Int(token) < vocab else {
        return fail(.outOfRange, "recur_step_token: token \(token) is outside the vocabulary [0, \(vocab))")
    }
    if let refused = memoryRefusal(checked, "recur_step_token") { return refused }
    checked.stepToken(Int(token), y)
    return Status.ok.rawValue
}

@_cdecl("recur_run_tokens")
public func recur_run_tokens(_ stream: OpaquePointer?, _ steps: Int, _ tokens: UnsafePointer<Int32>?, _ tokensCount: Int,
                             _ ys: UnsafeMutablePointer<Float>?, _ ysCount: Int) -> Int32 {
    let (checked, status) = checkStream(stream, "recur_run_tokens")
    guard let checked else { return status }
    let model = checked.model
    if let refused = kindRefusal(model, "recur_run_tokens", tokens: true, streaming: false) { return refused }
    guard tokens != nil || tokensCount == 0 else { return refuseNull("recur_run_tokens", "tokens", tokensCount) }
    guard ys != nil || ysCount == 0 else { return refuseNull("recur_run_tokens", "ys", ysCount) }
    let outputs = model.header.pointee.outputSize, vocab = model.header.pointee.vocab
    guard steps >= 0, let ysNeeded = rows(steps, outputs) else {
        return fail(.sizeMismatch, "recur_run_tokens: \(UInt(bitPattern: steps)) steps is more than any buffer can hold")
    }
    guard tokensCount == steps else { return refuseCount("recur_run_tokens", "tokens", tokensCount, "one token per step needs \(steps)") }
    guard ysCount == ysNeeded else { return refuseCount("recur_run_tokens", "ys", ysCount, "\(steps) steps of \(outputs) floats need \(ysNeeded)") }
    guard steps > 0, let tokens, let ys else { return Status.ok.rawValue }
    guard !overlapsStream(tokens, tokensCount, checked) else { return refuseInsideStream("recur_run_tokens", "tokens") }
    guard !overlapsStream(UnsafePointer(ys), ysCount, checked) else { return refuseInsideStream("recur_run_tokens", "ys") }
    // Tokens are checked once, before any step; outputs written over them
    // would change tokens already checked.
    guard !overlaps(tokens, tokensCount &* 4, ys, ysCount &* 4) else {
        return fail(.invalidArgument, "recur_run_tokens: tokens and ys overlap")
    }
    for t in 0..<steps where tokens[t] < 0 || Int(tokens[t]) >= vocab {
        return fail(.outOfRange, "recur_run_tokens: token \(tokens[t]) at step \(t) is outside the vocabulary [0, \(vocab))")
    }
    if let refused = sequenceRefusal(checked, steps, "recur_run_tokens") { return refused }
    if let refused = memoryRefusal(checked, "recur_run_tokens") { return refused }
    checked.runTokens(steps, tokens, ys)
    return Status.ok.rawValue
}
