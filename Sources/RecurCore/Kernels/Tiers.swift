// Instruction-set tiers. The step path (Kernels/, the step functions of
// Cells/, Stepping.swift) is written once, generic over a MultiplyAdd and
// @inlinable; each tier module (Sources/RecurAVX512, RecurAVX2,
// RecurBaseline) defines its own MultiplyAdd type and instantiates the path
// with its own -target-cpu, so one library holds one copy per tier. The C
// ABI picks a tier per process from cpuid and stores its table in each
// model. The tier type is each module's own so that the specialized symbols
// differ between tiers (the linker would merge identical ones).

/// How a tier multiplies and adds vectors: one fused instruction (the FMA
/// tiers) or a multiply then an add (the baseline: without FMA in the target
/// CPU, `addingProduct` becomes a libm `fmaf` call per lane).
public protocol MultiplyAdd {
    /// a + b * c
    static func madd(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec
    /// Gates a panel pass accumulates at once on small panels (Panels.swift):
    /// as many as the tier's registers hold with two columns in flight, so
    /// that nothing spills (a 16-lane vector is one zmm, two ymm or four xmm
    /// registers).
    /// Each gate's sum is formed in the same order whatever the passes, so
    /// the FMA tiers agree bit for bit.
    static var gatesPerPass: Int { get }
    /// Streams a tile of Kernels/Tiles.swift steps together (1: no tiles,
    /// each stream of a group runs the one-stream sums in turn).
    static var streamsPerTile: Int { get }
}

extension MultiplyAdd {
    /// Whether sequence mode takes chunks (Stepping.swift, runCell): only
    /// with tiles does the product over steps beat stepping; either way the
    /// sums, and so the outputs, are the same.
    @inlinable static var chunksSequences: Bool { streamsPerTile >= 3 }

    /// Whether an LSTM panel holds each 16-unit block as two halves of 8
    /// units (Panels.swift): on tiers that take two gates per pass, a
    /// vector is two registers, and a pass over a whole block would need 16
    /// accumulators, which spill.
    @inlinable public static var lstmHalves: Bool { gatesPerPass == 2 }
}

/// One tier's entry points into the step path (C function pointers, so a
/// model can hold them in its arena).
public struct Kernels {
    public typealias Step = @convention(c) (UnsafeMutableRawPointer, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    public typealias StepToken = @convention(c) (UnsafeMutableRawPointer, Int, UnsafeMutablePointer<Float>) -> Void
    public typealias Run = @convention(c) (UnsafeMutableRawPointer, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    public typealias RunTokens = @convention(c) (UnsafeMutableRawPointer, Int, UnsafePointer<Int32>, UnsafeMutablePointer<Float>) -> Void
    /// (model, streams, n, xs or nil, tokens or nil, ys): Model.stepStreams.
    public typealias StepStreams = @convention(c) (UnsafeMutableRawPointer, UnsafePointer<UnsafeMutableRawPointer>, Int,
                                                   UnsafePointer<Float>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Float>) -> Void

    /// (stream, layer, rows, count): Stream.setMemory.
    public typealias SetMemory = @convention(c) (UnsafeMutableRawPointer, Int, UnsafeRawPointer, Int) -> Void

    /// "avx512", "avx2" or "baseline" (recur_isa).
    public let name: StaticString
    public let step: Step
    public let stepToken: StepToken
    public let run: Run
    public let runTokens: RunTokens
    public let stepStreams: StepStreams
    public let setMemory: SetMemory
    /// RECUR_WEIGHTS_AUTO keeps a layer's reduced weights narrow past this
    /// many bytes of float32 weights (Narrow.swift): below it, on this
    /// tier, widening costs more than the bytes it saves.
    public let autoNarrowBytes: Int
    /// The tier's MultiplyAdd.lstmHalves: how the load packs LSTM panels.
    public let lstmHalves: Bool

    public init(name: StaticString, step: Step, stepToken: StepToken, run: Run, runTokens: RunTokens,
                stepStreams: StepStreams, setMemory: SetMemory, autoNarrowBytes: Int, lstmHalves: Bool) {
        self.autoNarrowBytes = autoNarrowBytes
        self.lstmHalves = lstmHalves
        self.name = name
        self.step = step
        self.stepToken = stepToken
        self.run = run
        self.runTokens = runTokens
        self.stepStreams = stepStreams
        self.setMemory = setMemory
    }
}
