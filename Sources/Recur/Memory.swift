// The C ABI: attention memory per stream (RecurCore/Cells/Attention.swift).
// Reserving allocates; setting is allocation-free.
import RecurCore

@_cdecl("recur_stream_reserve_memory")
public func recur_stream_reserve_memory(_ stream: OpaquePointer?, _ rows: Int) -> Int32 {
    let function: StaticString = "recur_stream_reserve_memory"
    let (checked, status) = checkStream(stream, function)
    guard let checked else { return status }
    guard rows >= 0 else { return fail(.tooLarge, "\(function): \(UInt(bitPattern: rows)) rows is too many") }
    do throws(RecurError) {
        try checked.reserveMemory(rows)
        return Status.ok.rawValue
    } catch {
        return fail(error.status, "\(function): \(error.message)")
    }
}

@_cdecl("recur_stream_set_memory")
public func recur_stream_set_memory(_ stream: OpaquePointer?, _ layer: Int, _ values: UnsafePointer<Float>?,
                                    _ rows: Int, _ width: Int) -> Int32 {
    let function: StaticString = "recur_stream_set_memory"
    let (checked, status) = checkStream(stream, function)
    guard let checked else { return status }
    let model = checked.model
    guard layer >= 0, layer < model.layerCount else {
        return fail(.outOfRange, "\(function): layer \(UInt(bitPattern: layer)) is not below the layer count \(model.layerCount)")
    }
    guard model.plans[layer].kind == .attention else {
        return fail(.invalidArgument, "\(function): layer \(layer) is not an attention layer")
    }
    guard let values else { return fail(.invalidArgument, "\(function): values is NULL") }
    let expected = model.plans[layer].attention.memory
    guard width == expected else {
        return fail(.sizeMismatch, "\(function): width is \(UInt(bitPattern: width)), layer \(layer) has memory rows of \(expected) floats")
    }
    let capacity = checked.header.pointee.memoryCapacity
    guard rows >= 1, rows <= capacity else {
        return fail(.tooLarge, rows == 0
            ? "\(function): rows is 0; an attention layer needs at least one row"
            : "\(function): \(UInt(bitPattern: rows)) rows, the stream has room for \(capacity); call recur_stream_reserve_memory(stream, \(UInt(bitPattern: rows))) first")
    }
    checked.setMemory(layer, UnsafeRawPointer(values), rows)
    return Status.ok.rawValue
}
