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
    do throws(RecurError) {
        let model = try Model.load(file: bytes)
        do throws(RecurError) {
            out.pointee = try Registry.open(model.base, kind: .model)
        } catch {
            model.free()
            throw error
        }
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
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
