// The baseline tier (plain x86-64, SSE2): four xmm registers per vector, no FMA, so a
// multiply then an add (addingProduct would be a libm fmaf call per lane).
// The step path of RecurCore (Stepping.swift and the kernels it calls),
// instantiated for this tier: Package.swift compiles this module for the
// tier's CPU, and every specialization below is this module's own.
import RecurCore

public enum Baseline: MultiplyAdd {
    @inlinable @inline(__always)
    public static func madd(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec { a + b * c }
    /// 16 xmm registers: one gate per pass (8 xmm accumulators).
    @inlinable public static var gatesPerPass: Int { 1 }
    @inlinable public static var streamsPerTile: Int { 1 }
}

public let baselineKernels = Kernels(
    name: "baseline",
    step: { Stream(base: $0).step(Baseline.self, $1, $2) },
    stepToken: { Stream(base: $0).stepToken(Baseline.self, $1, $2) },
    run: { Stream(base: $0).run(Baseline.self, $1, $2, $3) },
    runTokens: { Stream(base: $0).runTokens(Baseline.self, $1, $2, $3) },
    stepStreams: { Model(base: $0).stepStreams(Baseline.self, $1, $2, $3, $4, $5) },
    setMemory: { Stream(base: $0).setMemory(Baseline.self, $1, $2, $3) },
    autoNarrowBytes: .max,  // never narrow by default: without FMA and SSE4.1, widening costs more than the bytes
    lstmHalves: Baseline.lstmHalves)
