// The C ABI: loading, freeing and describing models.
import CRecurSupport
import RecurCore

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

// MARK: - Layers and state sizes

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

