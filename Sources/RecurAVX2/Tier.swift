// The AVX2 tier (-target-cpu haswell): 16 lanes in two ymm registers, FMA.
// The step path of RecurCore (Stepping.swift and the kernels it calls),
// instantiated for this tier: Package.swift compiles this module for the
// tier's CPU, and every specialization below is this module's own.
import RecurCore

public enum AVX2: MultiplyAdd {
    @inlinable @inline(__always)
    public static func madd(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec { a.addingProduct(b, c) }
    /// 16 ymm registers: two gates per pass (8 ymm accumulators).
    @inlinable public static var gatesPerPass: Int { 2 }
    /// Tiles one gate at a time: 3 streams × 2 sums, 12 ymm registers.
    @inlinable public static var streamsPerTile: Int { 3 }
}

public let avx2Kernels = Kernels(
    name: "avx2",
    step: { Stream(base: $0).step(AVX2.self, $1, $2) },
    stepToken: { Stream(base: $0).stepToken(AVX2.self, $1, $2) },
    run: { Stream(base: $0).run(AVX2.self, $1, $2, $3) },
    runTokens: { Stream(base: $0).runTokens(AVX2.self, $1, $2, $3) },
    stepStreams: { Model(base: $0).stepStreams(AVX2.self, $1, $2, $3, $4, $5) },
    setMemory: { Stream(base: $0).setMemory(AVX2.self, $1, $2, $3) },
    autoNarrowBytes: 1 << 20,  // narrow past L2: 1 MiB (with two ymm per vector, narrow panels in L2 ran up to 0.76x float32)
    lstmHalves: AVX2.lstmHalves)
