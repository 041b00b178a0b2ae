// The C ABI: loading, freeing and describing models.
import CRecurSupport
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Models

@_cdecl("recur_model_load_memory")
public func recur_model_load_memory(_ data: UnsafeRawPointer?, _ size: Int,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadMemory(data, size, nil, out, "recur_model_load_memory")
}

@_cdecl("recur_model_load_memory_ex")
public func recur_model_load_memory_ex(_ data: UnsafeRawPointer?, _ size: Int, _ options: UnsafePointer<recur_load_options>?,
                                       _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadMemory(data, size, options, out, "recur_model_load_memory_ex")
}

@_cdecl("recur_model_load_file")
public func recur_model_load_file(_ path: UnsafePointer<CChar>?,
                                  _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadFile(path, nil, out, "recur_model_load_file")
}

@_cdecl("recur_model_load_file_ex")
public func recur_model_load_file_ex(_ path: UnsafePointer<CChar>?, _ options: UnsafePointer<recur_load_options>?,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadFile(path, options, out, "recur_model_load_file_ex")
}

@_cdecl("recur_load_options_default")
public func recur_load_options_default() -> recur_load_options {
    let d = LoadLimits.defaults
    return recur_load_options(
        struct_size: MemoryLayout<recur_load_options>.size, max_file_bytes: d.maxFileBytes,
        max_content_bytes: d.maxContentBytes, max_model_bytes: d.maxModelBytes, max_stream_bytes: d.maxStreamBytes,
        max_layers: d.maxLayers, max_dimension: d.maxDimension, max_metadata_entries: d.maxMetadataEntries,
        max_metadata_bytes: d.maxMetadataBytes, max_name_bytes: d.maxNameBytes,
        allocator: recur_allocator(alloc: nil, free: nil, opaque: nil), weight_storage: RECUR_WEIGHTS_AUTO)
}

private func loadMemory(_ data: UnsafeRawPointer?, _ size: Int, _ options: UnsafePointer<recur_load_options>?,
                        _ out: UnsafeMutablePointer<OpaquePointer?>?, _ function: StaticString) -> Int32 {
    guard let out else { return fail(.invalidArgument, "\(function): out is NULL") }
    out.pointee = nil
    guard let data else { return fail(.invalidArgument, "\(function): data is NULL") }
    do throws(RecurError) {
        let (limits, allocator) = try readOptions(options, function)
        guard size >= 0, size <= limits.maxFileBytes else {
            throw RecurError(.tooLarge, "\(function): size \(UInt(bitPattern: size)) exceeds the limit of \(limits.maxFileBytes) bytes (max_file_bytes)")
        }
        try load(.memory(UnsafeRawBufferPointer(start: data, count: size)), limits, allocator, out)
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

private func loadFile(_ path: UnsafePointer<CChar>?, _ options: UnsafePointer<recur_load_options>?,
                      _ out: UnsafeMutablePointer<OpaquePointer?>?, _ function: StaticString) -> Int32 {
    guard let out else { return fail(.invalidArgument, "\(function): out is NULL") }
    out.pointee = nil
    guard let path else { return fail(.invalidArgument, "\(function): path is NULL") }
    do throws(RecurError) {
        let (limits, allocator) = try readOptions(options, function)
        let file = try openModelFile(path, limits: limits)
        defer { close(file.descriptor) }
        try load(.file(descriptor: file.descriptor, size: file.size, path: path), limits, allocator, out)
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

private func load(_ source: FrameSource, _ limits: LoadLimits, _ allocator: Allocator,
                  _ out: UnsafeMutablePointer<OpaquePointer?>) throws(RecurError) {
    let model = try Model.load(source, kernels: processKernels, limits: limits, allocator: allocator)
    do throws(RecurError) {
        out.pointee = try Registry.open(model.base, kind: .model)
    } catch {
        model.free()
        throw error
    }
}

/// The CPU's largest cache (0: unknown), read once.
private let cacheBytes = rsupport_last_level_cache()

/// The limits and allocator `options` asks for (see "Extensible structs" in
/// recur.h): missing or zero fields take their defaults.
private func readOptions(_ options: UnsafePointer<recur_load_options>?,
                         _ function: StaticString) throws(RecurError) -> (LoadLimits, Allocator) {
    guard let options else {
        var limits = LoadLimits.defaults
        if cacheBytes > 0 { limits.cacheBytes = cacheBytes }
        return (limits, .system)
    }
    let known = MemoryLayout<recur_load_options>.size
    let given = options.pointee.struct_size
    guard given >= MemoryLayout<Int>.size else {
        throw RecurError(.invalidArgument, "\(function): options->struct_size is \(given); set it to sizeof(recur_load_options) (recur_load_options_default does)")
    }
    var o = recur_load_options()
    withUnsafeMutableBytes(of: &o) { mine in
        mine.copyMemory(from: UnsafeRawBufferPointer(start: options, count: min(given, known)))
    }
    if given > known {
        let extra = UnsafeRawBufferPointer(start: UnsafeRawPointer(options) + known, count: given - known)
        guard extra.allSatisfy({ $0 == 0 }) else {
            throw RecurError(.invalidArgument, "\(function): options has \(given) bytes and sets fields this library (version \(String(cString: rsupport_version_string()))) does not know; it knows \(known) bytes")
        }
    }
    // 0 keeps the default; sizes past Int.max mean "no limit".
    func pick(_ value: Int, _ standard: Int) -> Int { value == 0 ? standard : value < 0 ? Int.max : value }
    var limits = LoadLimits.defaults
    limits.maxFileBytes = pick(o.max_file_bytes, limits.maxFileBytes)
    limits.maxContentBytes = pick(o.max_content_bytes, limits.maxContentBytes)
    limits.maxModelBytes = pick(o.max_model_bytes, limits.maxModelBytes)
    limits.maxStreamBytes = pick(o.max_stream_bytes, limits.maxStreamBytes)
    limits.maxLayers = pick(o.max_layers, limits.maxLayers)
    limits.maxDimension = pick(o.max_dimension, limits.maxDimension)
    limits.maxMetadataEntries = pick(o.max_metadata_entries, limits.maxMetadataEntries)
    limits.maxMetadataBytes = pick(o.max_metadata_bytes, limits.maxMetadataBytes)
    limits.maxNameBytes = pick(o.max_name_bytes, limits.maxNameBytes)
    guard let policy = WeightPolicy(rawValue: Int(o.weight_storage.rawValue)) else {
        throw RecurError(.invalidArgument, "\(function): options->weight_storage is \(o.weight_storage.rawValue); it is RECUR_WEIGHTS_AUTO (0), RECUR_WEIGHTS_NARROW (1) or RECUR_WEIGHTS_FLOAT32 (2)")
    }
    limits.weightStorage = policy
    if cacheBytes > 0 { limits.cacheBytes = cacheBytes }
    let hooks = o.allocator
    guard (hooks.alloc == nil) == (hooks.free == nil) else {
        throw RecurError(.invalidArgument, "\(function): options->allocator needs both alloc and free, or neither")
    }
    return (limits, Allocator(allocate: hooks.alloc, release: hooks.free, opaque: hooks.opaque))
}

@_cdecl("recur_model_free")
public func recur_model_free(_ model: OpaquePointer?) {
    Registry.closeModel(model)
}

/// Runs `body` on the model behind an open model handle, holding a reference
/// so that a recur_model_free on another thread cannot pull the weights away
/// during the call. Nil when the handle is not open.
@inline(__always)
func withModel<T>(_ handle: OpaquePointer?, _ body: (Model) -> T) -> T? {
    guard let retained = try? Registry.retainModel(handle) else { return nil }
    defer { Registry.releaseModel(retained.1) }
    return body(retained.0)
}

@_cdecl("recur_model_input_size")
public func recur_model_input_size(_ model: OpaquePointer?) -> Int {
    withModel(model) { $0.inputSize } ?? 0
}

@_cdecl("recur_model_output_size")
public func recur_model_output_size(_ model: OpaquePointer?) -> Int {
    withModel(model) { $0.outputSize } ?? 0
}

// MARK: - Layers and state sizes

@_cdecl("recur_model_layer_count")
public func recur_model_layer_count(_ model: OpaquePointer?) -> Int {
    withModel(model) { $0.layerCount } ?? 0
}

@_cdecl("recur_model_vocab_size")
public func recur_model_vocab_size(_ model: OpaquePointer?) -> Int {
    withModel(model) { $0.header.pointee.vocab } ?? 0
}

@_cdecl("recur_model_state_size")
public func recur_model_state_size(_ model: OpaquePointer?, _ layer: Int, _ hCount: UnsafeMutablePointer<Int>?,
                                   _ cCount: UnsafeMutablePointer<Int>?) -> Int32 {
    withModel(model) { checked in
        guard layer >= 0, layer < checked.layerCount else {
            return fail(.outOfRange, "recur_model_state_size: layer \(UInt(bitPattern: layer)) is not below the layer count \(checked.layerCount)")
        }
        let sizes = Stream.stateSizes(checked, layer)
        hCount?.pointee = sizes.h
        cCount?.pointee = sizes.c
        return Status.ok.rawValue
    } ?? refuse(model, .model, "recur_model_state_size")
}
