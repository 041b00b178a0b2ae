// The instruction-set tier of this process: the best the CPU and the OS
// support (cpuid and xgetbv, CRecurSupport), lowered (never raised) by the
// environment variable RECUR_ISA = avx512 | avx2 | baseline, read once.
// Every model loaded in the process steps with it (ModelHeader.kernels).
import CRecurSupport
import RecurAVX2
import RecurAVX512
import RecurBaseline
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

let processKernels: Kernels = {
    var level = Int(rsupport_cpu_tier())
    if let requested = getenv("RECUR_ISA") {
        if strcmp(requested, "baseline") == 0 { level = 0 }
        if strcmp(requested, "avx2") == 0 { level = min(level, 1) }
        // "avx512" (or anything else) keeps what the CPU supports.
    }
    switch level {
    case 2: return avx512Kernels
    case 1: return avx2Kernels
    default: return baselineKernels
    }
}()

@_cdecl("recur_isa")
public func recur_isa() -> UnsafePointer<CChar> {
    UnsafeRawPointer(processKernels.name.utf8Start).assumingMemoryBound(to: CChar.self)
}
