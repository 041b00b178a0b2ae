import Glibc
import RecurBaseline
import RecurCore

/// The repository's tests/fixtures folder.
let fixturesDirectory: String = {
    var path = #filePath  // .../Tests/RecurTests/Fixtures.swift
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path + "/tests/fixtures"
}()

/// A whole file's bytes.
func readBytes(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else { throw RecurError(.io, "cannot open \(path)") }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}

/// Loads a model from bytes; on success frees it at once and returns .ok.
func loadStatus(_ bytes: [UInt8]) -> (Status, String) {
    bytes.withUnsafeBytes { buffer in
        do {
            let model = try Model.load(.memory(buffer), kernels: baselineKernels)
            model.free()
            return (.ok, "")
        } catch let error as RecurError {
            return (error.status, error.message)
        } catch {
            return (.invalidArgument, "unexpected \(error)")
        }
    }
}
