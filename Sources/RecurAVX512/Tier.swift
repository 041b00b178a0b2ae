// The AVX-512 tier (-target-cpu skylake-avx512): 16 lanes in one zmm register, FMA.
// The step path of RecurCore (Stepping.swift and the kernels it calls),
// instantiated for this tier: Package.swift compiles this module for the
// tier's CPU, and every specialization below is this module's own.
import RecurCore

public enum AVX512: MultiplyAdd {
    @inlinable @inline(__always)
    public static func madd(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec { a.addingProduct(b, c) }
    /// 32 zmm registers: all four gates, two columns at a time (16 accumulators).
    @inlinable public static var gatesPerPass: Int { 4 }
    /// 4 gates × 3 streams × 2 sums: 24 of the 32 zmm registers.
    @inlinable public static var streamsPerTile: Int { 3 }
}

public let avx512Kernels = Kernels(
    name: "avx512",
    step: { Stream(base: $0).step(AVX512.self, $1, $2) },
    stepToken: { Stream(base: $0).stepToken(AVX512.self, $1, $2) },
    run: { Stream(base: $0).run(AVX512.self, $1, $2, $3) },
    runTokens: { Stream(base: $0).runTokens(AVX512.self, $1, $2, $3) },
    stepStreams: { Model(base: $0).stepStreams(AVX512.self, $1, $2, $3, $4, $5) },
    setMemory: { Stream(base: $0).setMemory(AVX512.self, $1, $2, $3) },
    autoNarrowBytes: 32 << 10,
    lstmHalves: AVX512.lstmHalves)
