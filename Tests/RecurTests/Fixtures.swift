import Glibc
import RecurCore

/// The repository's tests/fixtures folder.
let fixturesDirectory: String = {
    var path = #filePath  // .../Tests/RecurTests/Fixtures.swift
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path + "/tests/fixtures"
}()

/// A whole file's bytes.
func readBytes(_ path: String) throws -> [UInt8] {
    let file = try readFile(path)
    defer { file.storage.deallocate() }
    return Array(UnsafeRawBufferPointer(rebasing: file.storage[0..<file.count]))
}

/// Loads a model from bytes; on success frees it at once and returns .ok.
func loadStatus(_ bytes: [UInt8]) -> (Status, String) {
    bytes.withUnsafeBytes { buffer in
        do {
            let model = try Model.load(file: buffer)
            model.free()
            return (.ok, "")
        } catch let error as RecurError {
            return (error.status, error.message)
        } catch {
            return (.invalidArgument, "unexpected \(error)")
        }
    }
}
