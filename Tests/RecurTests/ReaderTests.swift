import RecurCore
@testable import RecurFormat
import XCTest

/// The reader against malformed input: every crafted case of
/// tests/fixtures/bad/expected.txt, truncations, bit flips and garbage.
/// `make test-asan` runs this class under AddressSanitizer and LeakSanitizer.
final class ReaderTests: XCTestCase {
    static let statusNames: [String: Status] = [
        "INVALID_ARGUMENT": .invalidArgument, "SIZE_MISMATCH": .sizeMismatch, "IO": .io,
        "BAD_FRAME": .badFrame, "BAD_ENCODING": .badEncoding, "BAD_MODEL": .badModel,
        "UNSUPPORTED_VERSION": .unsupportedVersion, "TOO_LARGE": .tooLarge,
        "OUT_OF_MEMORY": .outOfMemory, "UNSUPPORTED": .unsupported,
    ]

    func testValidFixturesLoad() throws {
        for name in ["lstm_i1_h8", "gru2_i24_h50", "mixed_i7"] {
            let (status, message) = loadStatus(try readBytes("\(fixturesDirectory)/\(name).recur"))
            XCTAssertEqual(status, .ok, "\(name): \(message)")
        }
    }

    func testCraftedFilesGetTheirStatus() throws {
        let bad = fixturesDirectory + "/bad"
        let manifest = String(decoding: try readBytes(bad + "/expected.txt"), as: UTF8.self)
        var cases = 0
        for line in manifest.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { continue }
            let (status, message) = loadStatus(try readBytes("\(bad)/\(parts[0])"))
            XCTAssertEqual(status, Self.statusNames[parts[1]], "\(parts[0]): \(message)")
            XCTAssertTrue(message.contains(parts[2]), "\(parts[0]): '\(message)' lacks '\(parts[2])'")
            cases += 1
        }
        XCTAssertGreaterThanOrEqual(cases, 20)
    }

    func testTruncationsAndBitFlipsAreRefused() throws {
        let good = try readBytes(fixturesDirectory + "/bad/good.model")
        XCTAssertEqual(loadStatus(good).0, .ok)
        for k in 0..<64 {
            let cut = good.count * k / 64
            let (status, message) = loadStatus(Array(good[0..<cut]))
            XCTAssertNotEqual(status, .ok, "truncated to \(cut)")
            XCTAssertFalse(message.isEmpty)
        }
        var seed: UInt32 = 2_463_534_242
        for k in 0..<300 {
            seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5
            let position = min(good.count - 1, k * good.count / 300 + Int(seed) % (good.count / 300 + 1))
            var copy = good
            copy[position] ^= UInt8(1 << (seed % 8))
            XCTAssertNotEqual(loadStatus(copy).0, .ok, "bit flip at \(position)")
        }
    }

    func testGarbageIsRefused() {
        var seed: UInt64 = 99
        for size in [1, 3, 4, 7, 100, 4096] {
            let garbage = (0..<size).map { _ -> UInt8 in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: seed >> 33)
            }
            XCTAssertEqual(loadStatus(garbage).0, .badFrame, "\(size) garbage bytes")
        }
        XCTAssertEqual(loadStatus([]).0, .badFrame)
    }

    func testOnlyRegularFilesOpen() {
        for (path, word) in [("/nonexistent/x.recur", "No such file"), ("/tmp", "directory"), ("/dev/null", "device")] {
            XCTAssertThrowsError(try openModelFile(path)) { error in
                XCTAssertEqual((error as? RecurError)?.status, .io, path)
                XCTAssertTrue((error as? RecurError)?.message.contains(word) ?? false, "\(path): \(error)")
            }
        }
    }

    /// XXH32 (LZ4's checksum): the specification's value for no input, and
    /// the same digest whichever pieces the input arrives in.
    func testXXH32() {
        XCTAssertEqual(XXH32.hash(UnsafeRawPointer(bitPattern: 1)!, 0), 0x02CC_5D05)
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }
        bytes.withUnsafeBytes { b in
            let whole = XXH32.hash(b.baseAddress!, b.count)
            for piece in [1, 3, 15, 16, 17, 100] {
                var x = XXH32()
                var at = 0
                while at < b.count {
                    let n = min(piece, b.count - at)
                    x.update(b.baseAddress! + at, n)
                    at += n
                }
                XCTAssertEqual(x.digest(), whole, "pieces of \(piece)")
            }
        }
    }
}
