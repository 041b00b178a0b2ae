import CProtobufC
import CRecurProto

/// The newest format version this reader understands (`Model.format_version`):
/// it reads every version from 1 to this one (docs/format.md, "Versions").
public let formatVersion: UInt32 = 4

/// Decodes and validates a whole .recur file and calls `body` with the
/// validated description. Memory: the decompressed content (freed as soon
/// as the message is decoded), the decoder's allocations (at most twice the
/// content plus 1 MiB: more is TOO_LARGE, never a larger peak) and, inside
/// `body`, whatever it allocates; all through `allocator`. The message is
/// released before this returns, so `body` must copy what it keeps (the
/// tensor views die with the message).
public func withModelDescription<R>(
    _ source: FrameSource, limits: LoadLimits = .defaults, allocator: Allocator = .system,
    _ body: (ModelDescription) throws(RecurError) -> R
) throws(RecurError) -> R {
    var budget = LoadBudget(allocator)
    return try withUnsafeMutablePointer(to: &budget) { (budget) throws(RecurError) -> R in
        let (message, identity) = try decode(source, limits, budget)
        defer {
            var decoder = decoderAllocator(budget)
            recur__model__free_unpacked(message, &decoder)
        }
        var description = try validate(message.pointee, limits)
        description.identity = identity
        description.text = ModelText(message: UnsafePointer(message))
        return try body(description)
    }
}

/// The content as a message, through the budget, and the content's
/// identity: its frame checksum and a second XXH32 of it with another seed,
/// 64 bits that change with any change of weights, structure or metadata.
private func decode(_ source: FrameSource, _ limits: LoadLimits, _ budget: UnsafeMutablePointer<LoadBudget>)
    throws(RecurError) -> (UnsafeMutablePointer<Recur__Model>, UInt64) {
    let content = try decompressFrame(source, limits: limits, allocator: budget.pointee.allocator)
    defer { content.deallocate() }
    let bytes = UnsafeRawBufferPointer(content.bytes)
    let identity = UInt64(XXH32.hash(bytes.baseAddress!, bytes.count, seed: identitySeed)) << 32 | UInt64(content.checksum)
    try scanModel(bytes, limits)
    budget.pointee.decodeLimit = bytes.count &* 2 &+ (1 << 20)
    var decoder = decoderAllocator(budget)
    guard let message = recur__model__unpack(&decoder, bytes.count, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)) else {
        if budget.pointee.outOfMemory {
            throw RecurError(.outOfMemory, "cannot allocate memory to decode the model's protobuf message")
        }
        if budget.pointee.overBudget {
            throw RecurError(.tooLarge, "decoding the \(bytes.count)-byte protobuf message needs more than \(budget.pointee.decodeLimit) bytes (twice the content plus 1 MiB); its fields are padded out")
        }
        throw RecurError(.badEncoding, "the frame's \(bytes.count) bytes are not a valid recur.Model protobuf message")
    }
    return (message, identity)
}

/// The seed of the identity's second hash ("RCID").
let identitySeed: UInt32 = 0x4449_4352

/// protobuf-c's allocator: the host's hooks, within the decoder's budget.
private func decoderAllocator(_ budget: UnsafeMutablePointer<LoadBudget>) -> ProtobufCAllocator {
    ProtobufCAllocator(
        alloc: { data, size in
            let b = data!.assumingMemoryBound(to: LoadBudget.self)
            let (used, overflow) = b.pointee.decodeUsed.addingReportingOverflow(size)
            guard !overflow, used <= b.pointee.decodeLimit else {
                b.pointee.overBudget = true
                return nil
            }
            guard let p = b.pointee.allocator.raw(size) else {
                b.pointee.outOfMemory = true
                return nil
            }
            b.pointee.decodeUsed = used
            return p
        },
        free: { data, pointer in
            data!.assumingMemoryBound(to: LoadBudget.self).pointee.allocator.free(raw: pointer)
        },
        allocator_data: UnsafeMutableRawPointer(budget))
}

// MARK: - Counting before decoding

/// Walks the message's top level (and each layer's name) without decoding
/// it, so that the limits on layers, metadata and names are refused with
/// their own message before the decoder allocates anything for them.
func scanModel(_ bytes: UnsafeRawBufferPointer, _ limits: LoadLimits) throws(RecurError) {
    var layers = 0, entries = 0, metadataBytes = 0
    try forEachField(bytes) { (field, value) throws(RecurError) in
        switch field {
        case 3:  // layers
            layers += 1
            guard layers <= limits.maxLayers else {
                throw RecurError(.tooLarge, "the model has more than \(limits.maxLayers) layers (the limit, max_layers)")
            }
            let index = layers - 1
            try forEachField(value) { (inner, name) throws(RecurError) in
                guard inner == 1, name.count > limits.maxNameBytes else { return }
                throw RecurError(.tooLarge, "layer \(index): its name has \(name.count) bytes, the limit is \(limits.maxNameBytes) (max_name_bytes)")
            }
        case 4, 5:  // producer, metadata
            if field == 5 {
                entries += 1
                guard entries <= limits.maxMetadataEntries else {
                    throw RecurError(.tooLarge, "the model has more than \(limits.maxMetadataEntries) metadata entries (the limit, max_metadata_entries)")
                }
            }
            metadataBytes += value.count
            guard metadataBytes <= limits.maxMetadataBytes else {
                throw RecurError(.tooLarge, "the model's metadata and producer take more than \(limits.maxMetadataBytes) bytes (the limit, max_metadata_bytes)")
            }
        default: break
        }
    }
}

/// Calls `body` with the number and bytes of each length-delimited field of
/// a message; skips the others. Refuses what is not protobuf wire format.
private func forEachField(_ bytes: UnsafeRawBufferPointer,
                          _ body: (Int, UnsafeRawBufferPointer) throws(RecurError) -> Void) throws(RecurError) {
    var at = 0
    func varint() throws(RecurError) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard at < bytes.count else { break }
            let byte = bytes[at]
            at += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        throw RecurError(.badEncoding, "the content is not a valid recur.Model protobuf message (a varint runs past byte \(at))")
    }
    while at < bytes.count {
        let key = try varint()
        let skip: UInt64
        switch key & 7 {
        case 0: _ = try varint(); continue
        case 1: skip = 8
        case 5: skip = 4
        case 2:
            skip = try varint()
            guard skip <= UInt64(bytes.count - at) else { break }
            try body(Int(key >> 3), UnsafeRawBufferPointer(rebasing: bytes[at..<(at + Int(skip))]))
        default:
            throw RecurError(.badEncoding, "the content is not a valid recur.Model protobuf message (wire type \(key & 7) at byte \(at))")
        }
        guard skip <= UInt64(bytes.count - at) else {
            throw RecurError(.badEncoding, "the content is not a valid recur.Model protobuf message (a field runs past the end)")
        }
        at += Int(skip)
    }
}

// MARK: - Validation
//
// Error texts are built only when something is refused: a load that
// succeeds makes no Swift allocation per layer or per tensor.

/// Where in the model a check is: a layer, its kind and name, which cell.
struct Place {
    let index: Int
    let kind: StaticString
    let name: UnsafePointer<CChar>?
    var backward = false

    /// "layer 2 (lstm 'enc') backward: weight_ih"
    func text(_ field: StaticString? = nil) -> String {
        var t = "layer \(index) (\(kind) '\(name.map { String(cString: $0) } ?? "")')"
        if backward { t += " backward" }
        if let field { t += ": \(field)" }
        return t
    }
}

private func validate(_ model: Recur__Model, _ limits: LoadLimits) throws(RecurError) -> ModelDescription {
    guard model.format_version >= 1 && model.format_version <= formatVersion else {
        throw RecurError(.unsupportedVersion, model.format_version == 0
            ? "file has format version 0, which no library reads (versions start at 1)"
            : "file has format version \(model.format_version), this library reads versions 1 to \(formatVersion); a newer Recur reads it")
    }
    guard model.n_layers > 0 else { throw RecurError(.badModel, "model has no layers") }
    guard model.n_layers <= limits.maxLayers else {
        throw RecurError(.tooLarge, "the model has \(model.n_layers) layers, the limit is \(limits.maxLayers) (max_layers)")
    }
    guard model.input_size > 0 else { throw RecurError(.badModel, "model input_size is 0") }
    guard Int(model.input_size) <= limits.maxDimension else {
        throw RecurError(.tooLarge, "model input_size is \(model.input_size), the limit is \(limits.maxDimension) (max_dimension)")
    }
    let inputSize = Int(model.input_size)
    var layers: [LayerDescription] = []
    layers.reserveCapacity(model.n_layers)
    var width = inputSize
    for index in 0..<model.n_layers {
        guard let layer = model.layers[index] else {
            throw RecurError(.badEncoding, "layer \(index) is missing")
        }
        let described = try validate(layer.pointee, index: index, inputWidth: width, limits)
        // A writer sets the oldest version that computes the file: an older
        // reader would silently skip the newer fields of a file that claims less.
        if let (version, field) = described.requiredFormatVersion, version > model.format_version {
            throw RecurError(.badModel, "layer \(index) uses \(field), which needs format version \(version), but the file says \(model.format_version)")
        }
        layers.append(described)
        width = described.outputSize
    }
    return ModelDescription(inputSize: inputSize, layers: layers)
}

private func validate(_ layer: Recur__Layer, index: Int, inputWidth: Int, _ limits: LoadLimits) throws(RecurError) -> LayerDescription {
    let kind: StaticString
    switch layer.kind_case {
    case RECUR__LAYER__KIND_LSTM: kind = "lstm"
    case RECUR__LAYER__KIND_GRU: kind = "gru"
    case RECUR__LAYER__KIND_RNN: kind = "rnn"
    case RECUR__LAYER__KIND_DENSE: kind = "dense"
    case RECUR__LAYER__KIND_EMBEDDING: kind = "embedding"
    case RECUR__LAYER__KIND_SOFTMAX: kind = "softmax"
    case RECUR__LAYER__KIND_ATTENTION: kind = "attention"
    case RECUR__LAYER__KIND__NOT_SET:
        throw RecurError(.badModel, "\(Place(index: index, kind: "?", name: layer.name).text()) has no kind (lstm, gru, rnn, dense, embedding, softmax or attention)")
    default:
        throw RecurError(.unsupported, "\(Place(index: index, kind: "?", name: layer.name).text()) has kind \(layer.kind_case.rawValue), unknown to this version")
    }
    let place = Place(index: index, kind: kind, name: layer.name)
    let recurrent = layer.kind_case == RECUR__LAYER__KIND_LSTM || layer.kind_case == RECUR__LAYER__KIND_GRU
        || layer.kind_case == RECUR__LAYER__KIND_RNN
    guard let direction = Direction(rawValue: Int(layer.direction.rawValue)) else {
        throw RecurError(.unsupported, "\(place.text()): direction \(layer.direction.rawValue) is not known to this version")
    }
    if !recurrent && (direction != .forward || layer.backward_case != RECUR__LAYER__BACKWARD__NOT_SET) {
        throw RecurError(.badModel, "\(place.text()): only recurrent layers have a direction or a backward cell")
    }
    if index > 0 && layer.kind_case == RECUR__LAYER__KIND_EMBEDDING {
        throw RecurError(.badModel, "\(place.text()): an embedding can only be the first layer")
    }
    let check = Checks(limits: limits)
    switch layer.kind_case {
    case RECUR__LAYER__KIND_LSTM, RECUR__LAYER__KIND_GRU, RECUR__LAYER__KIND_RNN:
        let forward = try cell(layer, place, inputWidth, check)
        var backward: CellDescription?
        if direction == .bidirectional {
            guard layer.backward_case.rawValue == layer.kind_case.rawValue + 10 else {
                throw RecurError(.badModel, "\(place.text()): a bidirectional layer needs a backward \(kind) cell")
            }
            var back = place
            back.backward = true
            let b = try cell(layer, back, inputWidth, check)
            guard b.hiddenSize == forward.hiddenSize, b.outputSize == forward.outputSize else {
                throw RecurError(.badModel, "\(place.text()): the backward cell's sizes differ from the forward cell's")
            }
            backward = b
        } else if layer.backward_case != RECUR__LAYER__BACKWARD__NOT_SET {
            throw RecurError(.badModel, "\(place.text()): a backward cell is only allowed when the direction is BIDIRECTIONAL")
        }
        return .recurrent(direction: direction, forward: forward, backward: backward)
    case RECUR__LAYER__KIND_DENSE:
        let d = layer.dense.pointee
        let input = try check.dimension(d.input_size, place, "input_size")
        try check.chain(place, input, inputWidth)
        let output = try check.dimension(d.output_size, place, "output_size")
        let weight = try check.tensor(d.weight, place, "weight", output, input, required: true, weights: true)!
        let bias = try check.tensor(d.bias, place, "bias", output, required: false)
        let activation = try check.function(d.activation, d.alpha, d.beta, place, "activation")
        return .dense(DenseDescription(inputSize: input, outputSize: output, weight: weight, bias: bias, activation: activation))
    case RECUR__LAYER__KIND_EMBEDDING:
        let e = layer.embedding.pointee
        try check.chain(place, 1, inputWidth)
        let vocab = try check.dimension(e.vocab_size, place, "vocab_size")
        let dim = try check.dimension(e.dim, place, "dim")
        let weight = try check.tensor(e.weight, place, "weight", vocab, dim, required: true, weights: true)!
        return .embedding(EmbeddingDescription(vocabSize: vocab, dim: dim, weight: weight))
    case RECUR__LAYER__KIND_ATTENTION:
        return .attention(try attention(layer.attention.pointee, place, inputWidth, check))
    default:  // softmax
        let size = try check.dimension(layer.softmax.pointee.size, place, "size")
        try check.chain(place, size, inputWidth)
        return .softmax(size: size)
    }
}

private func attention(_ a: Recur__Attention, _ at: Place, _ inputWidth: Int, _ check: Checks) throws(RecurError) -> AttentionDescription {
    let q = try check.dimension(a.query_size, at, "query_size")
    try check.chain(at, q, inputWidth)
    let m = try check.dimension(a.memory_size, at, "memory_size")
    guard let score = AttentionScore(rawValue: Int(a.score.rawValue)) else {
        throw RecurError(.unsupported, "\(at.text("score")) is \(a.score.rawValue), not known to this version (DOT, GENERAL or ADDITIVE)")
    }
    let scale = try check.limit(a.scale, at, "scale")
    var d = AttentionDescription(score: score, querySize: q, memorySize: m, scale: scale == 0 ? 1 : scale)
    /// A field this score does not use is an error, not silently ignored.
    func unused(_ present: Bool, _ field: StaticString, _ score: StaticString) throws(RecurError) {
        if present { throw RecurError(.badModel, "\(at.text(field)) is given, but a \(score) score has no such weight") }
    }
    switch score {
    case .dot:
        guard q == m else {
            throw RecurError(.badModel, "\(at.text()): a DOT score needs query_size == memory_size, got \(q) and \(m)")
        }
        try unused(a.weight != nil, "weight", "DOT")
    case .general:
        d.weight = try check.tensor(a.weight, at, "weight", q, m, required: true, weights: true)
    case .additive:
        d.units = try check.dimension(a.units, at, "units")
        d.weightQuery = try check.tensor(a.weight_query, at, "weight_query", d.units, q, required: true, weights: true)
        d.weightMemory = try check.tensor(a.weight_memory, at, "weight_memory", d.units, m, required: true, weights: true)
        d.bias = try check.tensor(a.bias, at, "bias", d.units, required: false)
        d.v = try check.tensor(a.v, at, "v", d.units, required: true)
        try unused(a.weight != nil, "weight", "ADDITIVE")
    }
    if score != .additive {
        try unused(a.units != 0, "units", score == .dot ? "DOT" : "GENERAL")
        try unused(a.weight_query != nil || a.weight_memory != nil || a.bias != nil || a.v != nil,
                   "weight_query, weight_memory, bias or v", score == .dot ? "DOT" : "GENERAL")
    }
    return d
}

private func cell(_ layer: Recur__Layer, _ at: Place, _ inputWidth: Int, _ check: Checks) throws(RecurError) -> CellDescription {
    switch layer.kind_case {
    case RECUR__LAYER__KIND_LSTM:
        let l = (at.backward ? layer.lstm_backward : layer.lstm).pointee
        let i = try check.dimension(l.input_size, at, "input_size")
        try check.chain(at, i, inputWidth)
        let h = try check.dimension(l.hidden_size, at, "hidden_size")
        let p = l.proj_size == 0 ? 0 : try check.dimension(l.proj_size, at, "proj_size")
        let r = p > 0 ? p : h
        var c = CellDescription(
            kind: .lstm, inputSize: i, hiddenSize: h,
            weightIH: try check.tensor(l.weight_ih, at, "weight_ih", 4 * h, i, required: true, weights: true)!,
            weightHH: try check.tensor(l.weight_hh, at, "weight_hh", 4 * h, r, required: true, weights: true)!,
            biasIH: try check.tensor(l.bias_ih, at, "bias_ih", 4 * h, required: false),
            biasHH: try check.tensor(l.bias_hh, at, "bias_hh", 4 * h, required: false))
        c.peephole = try check.tensor(l.peephole, at, "peephole", 3, h, required: false)
        guard let coupling = Coupling(rawValue: Int(l.coupling.rawValue)) else {
            throw RecurError(.unsupported, "\(at.text()): coupling \(l.coupling.rawValue) is not known to this version")
        }
        c.coupling = coupling
        c.clip = try check.limit(l.clip, at, "clip")
        c.cellClip = try check.limit(l.cell_clip, at, "cell_clip")
        c.projClip = try check.limit(l.proj_clip, at, "proj_clip")
        if p > 0 {
            c.projSize = p
            c.weightProj = try check.tensor(l.weight_proj, at, "weight_proj", p, h, required: true, weights: true)
            c.biasProj = try check.tensor(l.bias_proj, at, "bias_proj", p, required: false)
        } else if l.weight_proj != nil || l.bias_proj != nil {
            throw RecurError(.badModel, "\(at.text()): weight_proj or bias_proj given but proj_size is 0")
        }
        c.layerNorm = try check.tensor(l.layer_norm, at, "layer_norm", 4, h, required: false)
        c.f = try check.function(l.f, default: .sigmoid, at, "f")
        c.g = try check.function(l.g, default: .tanh, at, "g")
        c.h = try check.function(l.h, default: .tanh, at, "h")
        c.initialH = try check.tensor(l.initial_h, at, "initial_h", r, required: false)
        c.initialC = try check.tensor(l.initial_c, at, "initial_c", h, required: false)
        c.peepholeMatrix = try check.tensor(l.peephole_matrix, at, "peephole_matrix", 3 * h, h, required: false, weights: true)
        c.outputPeepholePrevious = l.output_peephole_previous != 0
        return c
    case RECUR__LAYER__KIND_GRU:
        let g = (at.backward ? layer.gru_backward : layer.gru).pointee
        let i = try check.dimension(g.input_size, at, "input_size")
        try check.chain(at, i, inputWidth)
        let h = try check.dimension(g.hidden_size, at, "hidden_size")
        var c = CellDescription(
            kind: .gru, inputSize: i, hiddenSize: h,
            weightIH: try check.tensor(g.weight_ih, at, "weight_ih", 3 * h, i, required: true, weights: true)!,
            weightHH: try check.tensor(g.weight_hh, at, "weight_hh", 3 * h, h, required: true, weights: true)!,
            biasIH: try check.tensor(g.bias_ih, at, "bias_ih", 3 * h, required: false),
            biasHH: try check.tensor(g.bias_hh, at, "bias_hh", 3 * h, required: false))
        c.resetBeforeMatmul = g.reset_before_matmul != 0
        c.clip = try check.limit(g.clip, at, "clip")
        c.f = try check.function(g.f, default: .sigmoid, at, "f")
        c.g = try check.function(g.g, default: .tanh, at, "g")
        c.initialH = try check.tensor(g.initial_h, at, "initial_h", h, required: false)
        return c
    default:
        let n = (at.backward ? layer.rnn_backward : layer.rnn).pointee
        let i = try check.dimension(n.input_size, at, "input_size")
        try check.chain(at, i, inputWidth)
        let h = try check.dimension(n.hidden_size, at, "hidden_size")
        var c = CellDescription(
            kind: .rnn, inputSize: i, hiddenSize: h,
            weightIH: try check.tensor(n.weight_ih, at, "weight_ih", h, i, required: true, weights: true)!,
            weightHH: try check.tensor(n.weight_hh, at, "weight_hh", h, h, required: true, weights: true)!,
            biasIH: try check.tensor(n.bias_ih, at, "bias_ih", h, required: false),
            biasHH: try check.tensor(n.bias_hh, at, "bias_hh", h, required: false))
        c.clip = try check.limit(n.clip, at, "clip")
        c.f = try check.function(n.f, default: .tanh, at, "f")
        c.initialH = try check.tensor(n.initial_h, at, "initial_h", h, required: false)
        return c
    }
}

/// The checks every field goes through, with the load's limits.
private struct Checks {
    let limits: LoadLimits

    func chain(_ at: Place, _ input: Int, _ width: Int) throws(RecurError) {
        guard input == width else {
            throw RecurError(.badModel, "\(at.text("input_size")) is \(input) but the previous layer gives \(width)")
        }
    }

    func dimension(_ value: UInt32, _ at: Place, _ field: StaticString) throws(RecurError) -> Int {
        guard value > 0 else { throw RecurError(.badModel, "\(at.text(field)) is 0") }
        guard Int(value) <= limits.maxDimension else {
            throw RecurError(.tooLarge, "\(at.text(field)) is \(value), the limit is \(limits.maxDimension) (max_dimension)")
        }
        return Int(value)
    }

    func limit(_ value: Float, _ at: Place, _ field: StaticString) throws(RecurError) -> Float {
        guard value.isFinite, value >= 0 else {
            throw RecurError(.badModel, "\(at.text(field)) is \(value), expected a finite value >= 0")
        }
        return value
    }

    func function(_ kind: Recur__Activation, _ alpha: Float, _ beta: Float, _ at: Place,
                  _ field: StaticString) throws(RecurError) -> Function {
        guard let k = Activation(rawValue: Int(kind.rawValue)) else {
            throw RecurError(.unsupported, "\(at.text(field)): activation \(kind.rawValue) is not known to this version")
        }
        guard alpha.isFinite, beta.isFinite else { throw RecurError(.badModel, "\(at.text(field)): alpha or beta is not finite") }
        return Function(k, alpha: alpha, beta: beta)
    }

    /// A Function field; absent gives `value`.
    func function(_ message: UnsafeMutablePointer<Recur__Function>?, default value: Function, _ at: Place,
                  _ field: StaticString) throws(RecurError) -> Function {
        guard let f = message?.pointee else { return value }
        return try function(f.kind, f.alpha, f.beta, at, field)
    }

    /// Checks one tensor against the shape the layer needs ([rows] or
    /// [rows, columns]): rank, every dimension, element type and byte count.
    /// Weight matrices (`weights`) may also be BFLOAT16, or INT8 with a
    /// finite scale per row.
    func tensor(_ pointer: UnsafeMutablePointer<Recur__Tensor>?, _ at: Place, _ field: StaticString,
                _ rows: Int, _ columns: Int? = nil, required: Bool, weights: Bool = false) throws(RecurError) -> TensorView? {
        guard let t = pointer?.pointee else {
            if required { throw RecurError(.badModel, "\(at.text(field)) is missing") }
            return nil
        }
        let shape = UnsafeBufferPointer(start: t.shape, count: t.n_shape)
        let rank = columns == nil ? 1 : 2
        guard shape.count == rank, shape[0] == UInt64(rows), rank == 1 || shape[1] == UInt64(columns!) else {
            let expected = columns.map { "[\(rows), \($0)]" } ?? "[\(rows)]"
            throw RecurError(.badModel, "\(at.text(field)) has shape [\(shape.map { String($0) }.joined(separator: ", "))], expected \(expected)")
        }
        let type: ElementType
        switch t.dtype {
        case RECUR__DATA_TYPE__FLOAT32: type = .float32
        case RECUR__DATA_TYPE__BFLOAT16 where weights && columns != nil: type = .bfloat16
        case RECUR__DATA_TYPE__INT8 where weights && columns != nil: type = .int8
        default:
            let name: String
            switch t.dtype.rawValue {
            case 0: name = "DATA_TYPE_UNSPECIFIED"
            case 2: name = "FLOAT16"
            case 3: name = "BFLOAT16"
            case 4: name = "INT8"
            default: name = String(t.dtype.rawValue)
            }
            let reads = weights ? "FLOAT32, BFLOAT16 or INT8" : "FLOAT32 only (BFLOAT16 and INT8 are for weight matrices)"
            throw RecurError(.unsupported, "\(at.text(field)) has element type \(name), this version reads \(reads)")
        }
        let size = type == .float32 ? 4 : type == .bfloat16 ? 2 : 1
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns ?? 1)
        guard !overflow, count <= Int.max / 4 else { throw RecurError(.tooLarge, "\(at.text(field)): element count overflows") }
        guard t.data.len == count &* size else {
            throw RecurError(.badModel, "\(at.text(field)) has \(t.data.len) bytes, expected \(count) \(type) = \(count &* size) bytes")
        }
        if type == .int8 {
            guard t.n_scales == rows else {
                throw RecurError(.badModel, "\(at.text(field)) is INT8 with \(t.n_scales) scales, expected one per row: \(rows)")
            }
            for r in 0..<rows where !t.scales[r].isFinite {
                throw RecurError(.badModel, "\(at.text(field)): the scale of row \(r) is \(t.scales[r]), expected a finite value")
            }
        } else if t.n_scales != 0 {
            throw RecurError(.badModel, "\(at.text(field)) has \(t.n_scales) scales, which only INT8 tensors have")
        }
        return TensorView(base: UnsafeRawPointer(t.data.data!), count: count, type: type, columns: columns ?? 1,
                          scales: type == .int8 ? UnsafePointer(t.scales) : nil)
    }
}
