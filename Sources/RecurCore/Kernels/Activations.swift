// Vectorised pointwise functions over 16 lanes. No libm calls: tanh is a
// rational minimax approximation (the odd 13/6 form used by Eigen), sigmoid
// is derived from it, so both compile to a few multiply-adds and one
// division. Measured against float64: |tanh error| <= 3.5e-7,
// |sigmoid error| <= 2e-7 (either tier's multiply-add).

public typealias Vec = SIMD16<Float>

/// Lanes per vector; every packed panel and every state buffer is a multiple.
/// (Computed, so that tier modules see a constant rather than a global.)
@inlinable public var lanes: Int { 16 }

@inlinable @inline(__always)
func tanhApprox<M: MultiplyAdd>(_: M.Type, _ x: Vec) -> Vec {
    // Clamp with compare-and-blend: `clamped(lowerBound:upperBound:)` and
    // `pointwiseMin` compile to scalar code per lane (NaN rules).
    let clamp: Float = 7.90531110763549805
    var v = x.replacing(with: clamp, where: x .> clamp)
    v.replace(with: -clamp, where: v .< -clamp)
    let v2 = v * v
    var p = Vec(repeating: -2.76076847742355e-16)
    p = M.madd(Vec(repeating: 2.00018790482477e-13), p, v2)
    p = M.madd(Vec(repeating: -8.60467152213735e-11), p, v2)
    p = M.madd(Vec(repeating: 5.12229709037114e-08), p, v2)
    p = M.madd(Vec(repeating: 1.48572235717979e-05), p, v2)
    p = M.madd(Vec(repeating: 6.37261928875436e-04), p, v2)
    p = M.madd(Vec(repeating: 4.89352455891786e-03), p, v2)
    p = p * v
    var q = Vec(repeating: 1.19825839466702e-06)
    q = M.madd(Vec(repeating: 1.18534705686654e-04), q, v2)
    q = M.madd(Vec(repeating: 2.26843463243900e-03), q, v2)
    q = M.madd(Vec(repeating: 4.89352518554385e-03), q, v2)
    return p / q
}

/// sigmoid(x) = (1 + tanh(x / 2)) / 2
@inlinable @inline(__always)
func sigmoidApprox<M: MultiplyAdd>(_ m: M.Type, _ x: Vec) -> Vec {
    let half = Vec(repeating: 0.5)
    return M.madd(half, half, tanhApprox(m, x * half))
}

@inlinable @inline(__always)
func relu(_ x: Vec) -> Vec {
    x.replacing(with: 0, where: x .< 0)
}

/// Scalar entry points over whole buffers, for tests of the approximations.
public func tanhVector<M: MultiplyAdd>(_ m: M.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    applyPointwise(x, y, count) { tanhApprox(m, $0) }
}

public func sigmoidVector<M: MultiplyAdd>(_ m: M.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    applyPointwise(x, y, count) { sigmoidApprox(m, $0) }
}

func applyPointwise(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                    _ f: (Vec) -> Vec) {
    var i = 0
    while i < count {
        var v = Vec()
        let n = min(lanes, count - i)
        for j in 0..<n { v[j] = x[i + j] }
        let r = f(v)
        for j in 0..<n { y[i + j] = r[j] }
        i += lanes
    }
}
