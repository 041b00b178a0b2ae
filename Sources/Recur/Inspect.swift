// The C ABI: what is inside a model (RecurCore/ModelInfo.swift keeps it in
// the arena at load time).
import CRecurSupport
import RecurCore

@_cdecl("recur_model_layer_info")
public func recur_model_layer_info(_ model: OpaquePointer?, _ layer: Int, _ info: UnsafeMutablePointer<recur_layer_info>?) -> Int32 {
    let function: StaticString = "recur_model_layer_info"
    guard let (checked, index) = try? Registry.retainModel(model) else { return refuse(model, .model, function) }
    defer { Registry.releaseModel(index) }
    guard let info else { return fail(.invalidArgument, "\(function): info is NULL") }
    let given = info.pointee.struct_size
    guard given >= MemoryLayout<Int>.size else {
        return fail(.invalidArgument, "\(function): info->struct_size is \(given); set it to sizeof(recur_layer_info)")
    }
    guard layer >= 0, layer < checked.layerCount else {
        return fail(.outOfRange, "\(function): layer \(UInt(bitPattern: layer)) is not below the layer count \(checked.layerCount)")
    }
    let l = checked.layerInfo(layer)
    var out = recur_layer_info()
    out.struct_size = given
    out.kind = recur_layer_kind(rawValue: UInt32(l.kind))
    out.direction = l.direction
    out.name = checked.string(at: l.name)
    out.input_size = l.inputSize
    out.output_size = l.outputSize
    out.hidden_size = l.hiddenSize
    out.proj_size = l.projSize
    out.vocab_size = l.vocabSize
    out.parameters = l.parameters
    out.options = l.options
    out.element_type = UInt32(l.elementType)
    out.storage_type = UInt32(l.storageType)
    out.function_count = UInt32(l.functionCount)
    let f = l.functions
    out.functions = (recur_function(rawValue: UInt32(f.0.kind.rawValue)), recur_function(rawValue: UInt32(f.1.kind.rawValue)),
                     recur_function(rawValue: UInt32(f.2.kind.rawValue)))
    out.alpha = (f.0.alpha, f.1.alpha, f.2.alpha)
    out.beta = (f.0.beta, f.1.beta, f.2.beta)
    out.memory_size = l.memorySize
    out.score = recur_attention_score(rawValue: UInt32(l.score))
    out.units = l.units
    out.scale = l.scale
    let known = MemoryLayout<recur_layer_info>.size
    withUnsafeBytes(of: &out) { mine in
        UnsafeMutableRawPointer(info).copyMemory(from: mine.baseAddress!, byteCount: min(given, known))
    }
    if given > known { (UnsafeMutableRawPointer(info) + known).initializeMemory(as: UInt8.self, repeating: 0, count: given - known) }
    return Status.ok.rawValue
}

@_cdecl("recur_model_producer")
public func recur_model_producer(_ model: OpaquePointer?) -> UnsafePointer<CChar> {
    withModel(model) { $0.producer } ?? staticText("")
}

@_cdecl("recur_model_metadata_count")
public func recur_model_metadata_count(_ model: OpaquePointer?) -> Int {
    withModel(model) { $0.metadataCount } ?? 0
}

@_cdecl("recur_model_metadata")
public func recur_model_metadata(_ model: OpaquePointer?, _ index: Int, _ key: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                 _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    let function: StaticString = "recur_model_metadata"
    guard let (checked, slot) = try? Registry.retainModel(model) else { return refuse(model, .model, function) }
    defer { Registry.releaseModel(slot) }
    guard index >= 0, index < checked.metadataCount else {
        return fail(.outOfRange, "\(function): index \(UInt(bitPattern: index)) is not below the metadata count \(checked.metadataCount)")
    }
    let entry = checked.metadata(index)
    key?.pointee = entry.key
    value?.pointee = entry.value
    return Status.ok.rawValue
}
