// The C ABI: stepping and running streams.
import CRecurSupport
import RecurCore

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

