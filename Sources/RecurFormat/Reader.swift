import CProtobufC
import CRecurProto

/// The format version this reader understands (`Model.format_version`).
public let formatVersion: UInt32 = 1

/// Decodes and validates a whole .recur file held in memory and calls `body`
/// with the validated description. The decompressed bytes and the decoded
/// message are released before this returns, so `body` must copy what it
/// keeps (the tensor views die with the message).
public func withModelDescription<R>(
    file: UnsafeRawBufferPointer,
    _ body: (ModelDescription) throws(RecurError) -> R
) throws(RecurError) -> R {
    let content = try decompressFrame(file)
    defer { content.deallocate() }
    guard let message = recur__model__unpack(nil, content.bytes.count,
                                             content.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)) else {
        throw RecurError(.badEncoding, "the frame's \(content.bytes.count) bytes are not a valid recur.Model protobuf message")
    }
    defer { recur__model__free_unpacked(message, nil) }
    let description = try validate(message.pointee)
    return try body(description)
}

// MARK: - Validation

private func validate(_ model: Recur__Model) throws(RecurError) -> ModelDescription {
    guard model.format_version == formatVersion else {
        throw RecurError(.unsupportedVersion, "file has format version \(model.format_version), this library reads version \(formatVersion)")
    }
    guard model.n_layers > 0 else { throw RecurError(.badModel, "model has no layers") }
    guard model.n_layers <= Limits.maxLayers else {
        throw RecurError(.badModel, "model has \(model.n_layers) layers, the limit is \(Limits.maxLayers)")
    }
    let inputSize = try dimension(UInt64(model.input_size), "model input_size")
    var layers: [LayerDescription] = []
    layers.reserveCapacity(model.n_layers)
    var width = inputSize
    for index in 0..<model.n_layers {
        guard let layer = model.layers[index] else {
            throw RecurError(.badEncoding, "layer \(index) is missing")
        }
        let described = try validate(layer.pointee, index: index, inputWidth: width)
        layers.append(described)
        width = described.outputSize
    }
    return ModelDescription(inputSize: inputSize, layers: layers)
}

private func validate(_ layer: Recur__Layer, index: Int, inputWidth: Int) throws(RecurError) -> LayerDescription {
    let name = layer.name.map { String(cString: $0) } ?? ""
    switch layer.kind_case {
    case RECUR__LAYER__KIND_LSTM:
        let where_ = "layer \(index) (lstm '\(name)')"
        let l = layer.lstm.pointee
        return .lstm(try recurrent(name: name, where_: where_, gates: 4, inputWidth: inputWidth,
                                   input: l.input_size, hidden: l.hidden_size,
                                   wih: l.weight_ih, whh: l.weight_hh, bih: l.bias_ih, bhh: l.bias_hh))
    case RECUR__LAYER__KIND_GRU:
        let where_ = "layer \(index) (gru '\(name)')"
        let g = layer.gru.pointee
        return .gru(try recurrent(name: name, where_: where_, gates: 3, inputWidth: inputWidth,
                                  input: g.input_size, hidden: g.hidden_size,
                                  wih: g.weight_ih, whh: g.weight_hh, bih: g.bias_ih, bhh: g.bias_hh))
    case RECUR__LAYER__KIND_DENSE:
        let where_ = "layer \(index) (dense '\(name)')"
        let d = layer.dense.pointee
        let input = try dimension(UInt64(d.input_size), "\(where_): input_size")
        try chain(where_, input, inputWidth)
        let output = try dimension(UInt64(d.output_size), "\(where_): output_size")
        let weight = try tensor(d.weight, "\(where_): weight", [output, input], required: true)!
        let bias = try tensor(d.bias, "\(where_): bias", [output], required: false)
        guard let activation = Activation(rawValue: Int(d.activation.rawValue)) else {
            throw RecurError(.unsupported, "\(where_): activation \(d.activation.rawValue) is not known to this version")
        }
        return .dense(DenseDescription(name: name, inputSize: input, outputSize: output,
                                       weight: weight, bias: bias, activation: activation))
    case RECUR__LAYER__KIND__NOT_SET:
        throw RecurError(.badModel, "layer \(index) ('\(name)') has no kind (lstm, gru or dense)")
    default:
        throw RecurError(.unsupported, "layer \(index) ('\(name)') has kind \(layer.kind_case.rawValue), unknown to this version")
    }
}

private func recurrent(
    name: String, where_: String, gates: Int, inputWidth: Int, input: UInt32, hidden: UInt32,
    wih: UnsafeMutablePointer<Recur__Tensor>?, whh: UnsafeMutablePointer<Recur__Tensor>?,
    bih: UnsafeMutablePointer<Recur__Tensor>?, bhh: UnsafeMutablePointer<Recur__Tensor>?
) throws(RecurError) -> RecurrentDescription {
    let i = try dimension(UInt64(input), "\(where_): input_size")
    try chain(where_, i, inputWidth)
    let h = try dimension(UInt64(hidden), "\(where_): hidden_size")
    let rows = gates * h  // cannot overflow: h <= 2^24
    return RecurrentDescription(
        name: name, inputSize: i, hiddenSize: h,
        weightIH: try tensor(wih, "\(where_): weight_ih", [rows, i], required: true)!,
        weightHH: try tensor(whh, "\(where_): weight_hh", [rows, h], required: true)!,
        biasIH: try tensor(bih, "\(where_): bias_ih", [rows], required: false),
        biasHH: try tensor(bhh, "\(where_): bias_hh", [rows], required: false))
}

private func chain(_ where_: String, _ input: Int, _ width: Int) throws(RecurError) {
    guard input == width else {
        throw RecurError(.badModel, "\(where_): input_size is \(input) but the previous layer gives \(width)")
    }
}

private func dimension(_ value: UInt64, _ what: String) throws(RecurError) -> Int {
    guard value > 0 else { throw RecurError(.badModel, "\(what) is 0") }
    guard value <= UInt64(Limits.maxDimension) else {
        throw RecurError(.tooLarge, "\(what) is \(value), the limit is \(Limits.maxDimension)")
    }
    return Int(value)
}

private func shapeText(_ dims: some Sequence<some BinaryInteger>) -> String {
    "[" + dims.map { String($0) }.joined(separator: ", ") + "]"
}

/// Checks one tensor against the shape the layer needs: rank, every
/// dimension, element type and byte count (overflow-checked).
private func tensor(
    _ pointer: UnsafeMutablePointer<Recur__Tensor>?, _ what: String, _ expected: [Int], required: Bool
) throws(RecurError) -> TensorView? {
    guard let t = pointer?.pointee else {
        if required { throw RecurError(.badModel, "\(what) is missing") }
        return nil
    }
    let shape = UnsafeBufferPointer(start: t.shape, count: t.n_shape)
    guard shape.count == expected.count, zip(shape, expected).allSatisfy({ $0 == UInt64($1) }) else {
        throw RecurError(.badModel, "\(what) has shape \(shapeText(shape)), expected \(shapeText(expected))")
    }
    guard t.dtype == RECUR__DATA_TYPE__FLOAT32 else {
        throw RecurError(.unsupported, "\(what) has element type \(t.dtype.rawValue), this version reads FLOAT32 (1) only")
    }
    var count = 1
    for d in expected {
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow else { throw RecurError(.tooLarge, "\(what): element count overflows") }
        count = product
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: 4)
    guard !overflow, t.data.len == bytes else {
        throw RecurError(.badModel, "\(what) has \(t.data.len) bytes, expected \(count) float32 = \(count &* 4) bytes")
    }
    return TensorView(base: UnsafeRawPointer(t.data.data!), count: count)
}
