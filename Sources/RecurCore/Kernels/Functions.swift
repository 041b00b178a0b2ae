#if canImport(Glibc)
import Glibc
#endif

// The ONNX activation set over 16 lanes, all in vector instructions: no
// libm call on the step path.

@inlinable @inline(always)
func clamp(_ v: Vec, _ lo: Float, _ hi: Float) -> Vec {
    var r = v.replacing(with: hi, where: v .> hi)
    r.replace(with: lo, where: r .< lo)
    return r
}

/// `v` clamped to ±limit when limit > 0. (Generic over the tier: the
/// optimizer does not always inline it, and the copy it calls must be the
/// tier's own.)
@inlinable @inline(always)
func clipped<M: MultiplyAdd>(_: M.Type, _ v: Vec, _ limit: Float) -> Vec { limit > 0 ? clamp(v, -limit, limit) : v }

@inlinable @inline(always)
func apply<M: MultiplyAdd>(_ m: M.Type, _ f: Function, _ x: Vec) -> Vec {
    switch f.kind {
    case .sigmoid: return sigmoidApprox(m, x)
    case .tanh: return tanhApprox(m, x)
    case .identity: return x
    case .relu: return relu(x)
    case .affine: return M.madd(Vec(repeating: f.beta), x, Vec(repeating: f.alpha))
    case .leakyRelu: return x.replacing(with: x * f.alpha, where: x .< 0)
    case .thresholdedRelu: return x.replacing(with: 0, where: x .<= f.alpha)
    case .scaledTanh: return tanhApprox(m, x * f.beta) * f.alpha
    case .hardSigmoid: return clamp(M.madd(Vec(repeating: f.beta), x, Vec(repeating: f.alpha)), 0, 1)
    case .softsign:
        let magnitude = x.replacing(with: -x, where: x .< 0)
        return x / (magnitude + 1)
    case .elu:
        return x.replacing(with: (expApprox(m, x) - 1) * f.alpha, where: x .< 0)
    case .softplus:
        // ln(1 + e^x); past 20, x itself (e^-20 is below float's precision at 20).
        return logApprox(m, expApprox(m, x) + 1).replacing(with: x, where: x .> 20)
    }
}

/// Copies `count` floats (a multiple of 16) a vector at a time: no memmove
/// call on the step path.
@inlinable @inline(__always)
func copyVectors(_ to: UnsafeMutablePointer<Float>, _ from: UnsafePointer<Float>, _ count: Int) {
    var i = 0
    while i < count {
        UnsafeMutableRawPointer(to + i).storeBytes(of: UnsafeRawPointer(from + i).load(as: Vec.self), as: Vec.self)
        i &+= lanes
    }
}

/// Copies `count` floats of x into the slot right before `h` (the fused
/// cells' [x | h]) and returns the slot's start.
@inlinable @inline(__always)
func loadInput(_ x: UnsafePointer<Float>, before h: UnsafeMutablePointer<Float>, _ count: Int) -> UnsafePointer<Float> {
    let slot = h.advanced(by: 0 &- count)
    var i = 0
    while i < count {
        slot[i] = x[i]
        i &+= 1
    }
    return UnsafePointer(slot)
}
