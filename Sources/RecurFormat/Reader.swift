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
    let at = { (kind: String) in "layer \(index) (\(kind) '\(name)')" }
    guard let direction = Direction(rawValue: Int(layer.direction.rawValue)) else {
        throw RecurError(.unsupported, "\(at("?")): direction \(layer.direction.rawValue) is not known to this version")
    }
    let recurrentKinds = [RECUR__LAYER__KIND_LSTM, RECUR__LAYER__KIND_GRU, RECUR__LAYER__KIND_RNN]
    if !recurrentKinds.contains(layer.kind_case)
        && (direction != .forward || layer.backward_case != RECUR__LAYER__BACKWARD__NOT_SET) {
        throw RecurError(.badModel, "layer \(index) ('\(name)'): only recurrent layers have a direction or a backward cell")
    }
    if index > 0 && layer.kind_case == RECUR__LAYER__KIND_EMBEDDING {
        throw RecurError(.badModel, "\(at("embedding")): an embedding can only be the first layer")
    }
    switch layer.kind_case {
    case RECUR__LAYER__KIND_LSTM, RECUR__LAYER__KIND_GRU, RECUR__LAYER__KIND_RNN:
        let kindName = ["lstm", "gru", "rnn"][recurrentKinds.firstIndex(of: layer.kind_case)!]
        let forward = try cell(layer, backward: false, at(kindName), inputWidth)
        var backward: CellDescription?
        if direction == .bidirectional {
            guard layer.backward_case.rawValue == layer.kind_case.rawValue + 10 else {
                throw RecurError(.badModel, "\(at(kindName)): a bidirectional layer needs a backward \(kindName) cell")
            }
            let b = try cell(layer, backward: true, at(kindName) + " backward", inputWidth)
            guard b.hiddenSize == forward.hiddenSize, b.outputSize == forward.outputSize else {
                throw RecurError(.badModel, "\(at(kindName)): the backward cell's sizes differ from the forward cell's")
            }
            backward = b
        } else if layer.backward_case != RECUR__LAYER__BACKWARD__NOT_SET {
            throw RecurError(.badModel, "\(at(kindName)): a backward cell is only allowed when the direction is BIDIRECTIONAL")
        }
        return .recurrent(direction: direction, forward: forward, backward: backward)
    case RECUR__LAYER__KIND_DENSE:
        let where_ = at("dense")
        let d = layer.dense.pointee
        let input = try dimension(UInt64(d.input_size), "\(where_): input_size")
        try chain(where_, input, inputWidth)
        let output = try dimension(UInt64(d.output_size), "\(where_): output_size")
        let weight = try tensor(d.weight, "\(where_): weight", [output, input], required: true)!
        let bias = try tensor(d.bias, "\(where_): bias", [output], required: false)
        let activation = try function(d.activation, d.alpha, d.beta, "\(where_): activation")
        return .dense(DenseDescription(name: name, inputSize: input, outputSize: output,
                                       weight: weight, bias: bias, activation: activation))
    case RECUR__LAYER__KIND_EMBEDDING:
        let where_ = at("embedding")
        let e = layer.embedding.pointee
        try chain(where_, 1, inputWidth)
        let vocab = try dimension(UInt64(e.vocab_size), "\(where_): vocab_size")
        let dim = try dimension(UInt64(e.dim), "\(where_): dim")
        let weight = try tensor(e.weight, "\(where_): weight", [vocab, dim], required: true)!
        return .embedding(EmbeddingDescription(name: name, vocabSize: vocab, dim: dim, weight: weight))
    case RECUR__LAYER__KIND_SOFTMAX:
        let size = try dimension(UInt64(layer.softmax.pointee.size), "\(at("softmax")): size")
        try chain(at("softmax"), size, inputWidth)
        return .softmax(size: size)
    case RECUR__LAYER__KIND__NOT_SET:
        throw RecurError(.badModel, "layer \(index) ('\(name)') has no kind (lstm, gru, rnn, dense, embedding or softmax)")
    default:
        throw RecurError(.unsupported, "layer \(index) ('\(name)') has kind \(layer.kind_case.rawValue), unknown to this version")
    }
}

private func function(_ kind: Recur__Activation, _ alpha: Float, _ beta: Float,
                      _ what: String) throws(RecurError) -> Function {
    guard let k = Activation(rawValue: Int(kind.rawValue)) else {
        throw RecurError(.unsupported, "\(what): activation \(kind.rawValue) is not known to this version")
    }
    guard alpha.isFinite, beta.isFinite else { throw RecurError(.badModel, "\(what): alpha or beta is not finite") }
    return Function(k, alpha: alpha, beta: beta)
}

/// A Function field; absent gives `value`.
private func function(_ message: UnsafeMutablePointer<Recur__Function>?, default value: Function,
                      _ what: String) throws(RecurError) -> Function {
    guard let f = message?.pointee else { return value }
    return try function(f.kind, f.alpha, f.beta, what)
}

private func limit(_ value: Float, _ what: String) throws(RecurError) -> Float {
    guard value.isFinite, value >= 0 else { throw RecurError(.badModel, "\(what) is \(value), expected a finite value >= 0") }
    return value
}

private func cell(_ layer: Recur__Layer, backward: Bool, _ where_: String, _ inputWidth: Int) throws(RecurError) -> CellDescription {
    switch layer.kind_case {
    case RECUR__LAYER__KIND_LSTM:
        let l = (backward ? layer.lstm_backward : layer.lstm).pointee
        let i = try dimension(UInt64(l.input_size), "\(where_): input_size")
        try chain(where_, i, inputWidth)
        let h = try dimension(UInt64(l.hidden_size), "\(where_): hidden_size")
        let p = l.proj_size == 0 ? 0 : try dimension(UInt64(l.proj_size), "\(where_): proj_size")
        let r = p > 0 ? p : h
        var c = CellDescription(
            kind: .lstm, name: where_, inputSize: i, hiddenSize: h,
            weightIH: try tensor(l.weight_ih, "\(where_): weight_ih", [4 * h, i], required: true)!,
            weightHH: try tensor(l.weight_hh, "\(where_): weight_hh", [4 * h, r], required: true)!,
            biasIH: try tensor(l.bias_ih, "\(where_): bias_ih", [4 * h], required: false),
            biasHH: try tensor(l.bias_hh, "\(where_): bias_hh", [4 * h], required: false))
        c.peephole = try tensor(l.peephole, "\(where_): peephole", [3, h], required: false)
        guard let coupling = Coupling(rawValue: Int(l.coupling.rawValue)) else {
            throw RecurError(.unsupported, "\(where_): coupling \(l.coupling.rawValue) is not known to this version")
        }
        c.coupling = coupling
        c.clip = try limit(l.clip, "\(where_): clip")
        c.cellClip = try limit(l.cell_clip, "\(where_): cell_clip")
        c.projClip = try limit(l.proj_clip, "\(where_): proj_clip")
        if p > 0 {
            c.projSize = p
            c.weightProj = try tensor(l.weight_proj, "\(where_): weight_proj", [p, h], required: true)
            c.biasProj = try tensor(l.bias_proj, "\(where_): bias_proj", [p], required: false)
        } else if l.weight_proj != nil || l.bias_proj != nil {
            throw RecurError(.badModel, "\(where_): weight_proj or bias_proj given but proj_size is 0")
        }
        c.layerNorm = try tensor(l.layer_norm, "\(where_): layer_norm", [4, h], required: false)
        c.f = try function(l.f, default: .sigmoid, "\(where_): f")
        c.g = try function(l.g, default: .tanh, "\(where_): g")
        c.h = try function(l.h, default: .tanh, "\(where_): h")
        c.initialH = try tensor(l.initial_h, "\(where_): initial_h", [r], required: false)
        c.initialC = try tensor(l.initial_c, "\(where_): initial_c", [h], required: false)
        return c
    case RECUR__LAYER__KIND_GRU:
        let g = (backward ? layer.gru_backward : layer.gru).pointee
        let i = try dimension(UInt64(g.input_size), "\(where_): input_size")
        try chain(where_, i, inputWidth)
        let h = try dimension(UInt64(g.hidden_size), "\(where_): hidden_size")
        var c = CellDescription(
            kind: .gru, name: where_, inputSize: i, hiddenSize: h,
            weightIH: try tensor(g.weight_ih, "\(where_): weight_ih", [3 * h, i], required: true)!,
            weightHH: try tensor(g.weight_hh, "\(where_): weight_hh", [3 * h, h], required: true)!,
            biasIH: try tensor(g.bias_ih, "\(where_): bias_ih", [3 * h], required: false),
            biasHH: try tensor(g.bias_hh, "\(where_): bias_hh", [3 * h], required: false))
        c.resetBeforeMatmul = g.reset_before_matmul != 0
        c.clip = try limit(g.clip, "\(where_): clip")
        c.f = try function(g.f, default: .sigmoid, "\(where_): f")
        c.g = try function(g.g, default: .tanh, "\(where_): g")
        c.initialH = try tensor(g.initial_h, "\(where_): initial_h", [h], required: false)
        return c
    default:
        let n = (backward ? layer.rnn_backward : layer.rnn).pointee
        let i = try dimension(UInt64(n.input_size), "\(where_): input_size")
        try chain(where_, i, inputWidth)
        let h = try dimension(UInt64(n.hidden_size), "\(where_): hidden_size")
        var c = CellDescription(
            kind: .rnn, name: where_, inputSize: i, hiddenSize: h,
            weightIH: try tensor(n.weight_ih, "\(where_): weight_ih", [h, i], required: true)!,
            weightHH: try tensor(n.weight_hh, "\(where_): weight_hh", [h, h], required: true)!,
            biasIH: try tensor(n.bias_ih, "\(where_): bias_ih", [h], required: false),
            biasHH: try tensor(n.bias_hh, "\(where_): bias_hh", [h], required: false))
        c.clip = try limit(n.clip, "\(where_): clip")
        c.f = try function(n.f, default: .tanh, "\(where_): f")
        c.initialH = try tensor(n.initial_h, "\(where_): initial_h", [h], required: false)
        return c
    }
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
        let names = [0: "DATA_TYPE_UNSPECIFIED", 2: "FLOAT16", 3: "BFLOAT16", 4: "INT8"]
        throw RecurError(.unsupported, "\(what) has element type \(names[Int(t.dtype.rawValue)] ?? String(t.dtype.rawValue)), this version reads FLOAT32 only")
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
