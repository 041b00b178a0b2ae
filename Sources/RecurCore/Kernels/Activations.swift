// Vectorised pointwise functions over 16 lanes. No libm calls: tanh is a
// rational minimax approximation (the odd 13/6 form used by Eigen), sigmoid
// is derived from it, so both compile to a few multiply-adds and one
// division. Measured against float64: |tanh error| <= 3.5e-7,
// |sigmoid error| <= 2e-7 (either tier's multiply-add); a saturated
// sigmoid gives exactly 0 or 1, as float32 libm does.

public typealias Vec = SIMD16<Float>

/// Lanes per vector; every packed panel and every state buffer is a multiple.
/// (Computed, so that tier modules see a constant rather than a global.)
@inlinable public var lanes: Int { 16 }

/// Half a vector: the live lanes of a block of at most 8 units.
public typealias Half = SIMD8<Float>

/// a * tanh(a * x), lane by lane for a = 1 (tanh) or a power of two: with
/// u = a * x, tanh(u) = u P(u²) / Q(u²), so a * tanh(a * x) = x (a² P(a² x²)) / Q(a² x²).
/// Scaling the coefficients by powers of two is exact, so every a gives
/// the same bits as scaling x and the result by hand, without the two
/// multiplies on the critical path. `a` is a constant at every call, so
/// the coefficient vectors fold into constants.
@inlinable @inline(always)
func scaledTanh<M: MultiplyAdd>(_: M.Type, _ x: Vec, _ a: Vec) -> Vec {
    // Clamp with compare-and-blend: `clamped(lowerBound:upperBound:)` and
    // `pointwiseMin` compile to scalar code per lane (NaN rules).
    let clamp = Vec(repeating: 7.90531110763549805) / a
    var v = x.replacing(with: clamp, where: x .> clamp)
    v.replace(with: -clamp, where: v .< -clamp)
    // Estrin's scheme: the polynomials as a tree of multiply-adds rather
    // than a Horner chain, so the step's critical path (two of these in
    // series per LSTM step) is 4 multiply-adds deep instead of 7.
    let s = a * a, s2 = s * s, s3 = s2 * s, s4 = s2 * s2, s5 = s4 * s, s6 = s3 * s3, s7 = s6 * s
    @inline(__always) func c(_ value: Float) -> Vec { Vec(repeating: value) }
    let v2 = v * v, v4 = v2 * v2, v8 = v4 * v4
    let p01 = M.madd(c(4.89352455891786e-03) * s, c(6.37261928875436e-04) * s2, v2)
    let p23 = M.madd(c(1.48572235717979e-05) * s3, c(5.12229709037114e-08) * s4, v2)
    let p45 = M.madd(c(-8.60467152213735e-11) * s5, c(2.00018790482477e-13) * s6, v2)
    let p6 = c(-2.76076847742355e-16) * s7
    let p = M.madd(M.madd(p01, p23, v4), M.madd(p45, p6, v4), v8) * v
    let q01 = M.madd(c(4.89352518554385e-03), c(2.26843463243900e-03) * s, v2)
    let q23 = M.madd(c(1.18534705686654e-04) * s2, c(1.19825839466702e-06) * s3, v2)
    let q = M.madd(q01, q23, v4)
    return p / q
}

@inlinable @inline(always)
func tanhApprox<M: MultiplyAdd>(_ m: M.Type, _ x: Vec) -> Vec { scaledTanh(m, x, Vec(repeating: 1)) }

/// sigmoid(x) = 1/2 + tanh(x / 2) / 2, and exactly 0 or 1 once saturated.
/// (tanh's approximation stops at 1 − 2.7e-7 at its clamp, so a saturated
/// sigmoid would give 0.99999986 where float32 libm gives 1, and a forget
/// or update gate held open would leak that much of the state every step.
/// The mask and the edge depend on x alone, off the critical path: one
/// blend after the sum. A saturated tanh's 2.7e-7 is not fed back.)
@inlinable @inline(always)
func sigmoidApprox<M: MultiplyAdd>(_ m: M.Type, _ x: Vec) -> Vec {
    sigmoidEdges(x, Vec(repeating: 0.5) + scaledTanh(m, x, Vec(repeating: 0.5)))
}

/// `sigmoid` (1/2 + the half-scaled tanh) with the saturated lanes set to 0 or 1.
/// (Two compare-and-blends: or-ing the two masks of a 16-lane vector on
/// AVX2 packed them to bytes and back, 13 more instructions per vector.)
@inlinable @inline(always)
func sigmoidEdges(_ x: Vec, _ sigmoid: Vec) -> Vec {
    let clamp: Float = 7.90531110763549805 / 0.5
    return sigmoid.replacing(with: 1, where: x .> clamp).replacing(with: 0, where: x .< -clamp)
}

/// tanh of the low 8 lanes and sigmoid of the high 8, in one vector: the
/// same bits as tanhApprox and sigmoidApprox give those lanes. (A block of
/// at most 8 units packs its gates two to a vector: LSTMCell.finishHalves.)
@inlinable @inline(always)
func tanhSigmoid<M: MultiplyAdd>(_ m: M.Type, _ x: Vec) -> Vec {
    let t = scaledTanh(m, x, Vec(lowHalf: Half(repeating: 1), highHalf: Half(repeating: 0.5)))
    return Vec(lowHalf: t.lowHalf, highHalf: sigmoidEdges(x, Vec(repeating: 0.5) + t).highHalf)
}

/// e^x (Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, e^r by a degree-7
/// polynomial, 2^n put in the exponent field). Relative error below 3e-7
/// against float64; NaN stays NaN; x is clamped to [-87.33, 88.02], so the
/// result is a normal float (e^-inf gives 1.2e-38, not 0).
@inlinable @inline(always)
func expApprox<M: MultiplyAdd>(_: M.Type, _ x: Vec) -> Vec {
    let high: Float = 88.02, low: Float = -87.3365447504
    var v = x.replacing(with: high, where: x .> high)
    v.replace(with: low, where: v .< low)
    // Adding 1.5 * 2^23 rounds x log2(e) to an integer n, which then sits
    // in the low bits of the sum.
    let magic = Vec(repeating: 12582912)
    let shifted = M.madd(magic, v, Vec(repeating: 1.44269504088896341))
    let n = shifted - magic
    var r = M.madd(v, n, Vec(repeating: -0.693359375))  // ln 2 in two parts
    r = M.madd(r, n, Vec(repeating: 2.12194440e-4))
    let r2 = r * r
    var p = Vec(repeating: 1.9875691500e-4)
    p = M.madd(Vec(repeating: 1.3981999507e-3), p, r)
    p = M.madd(Vec(repeating: 8.3334519073e-3), p, r)
    p = M.madd(Vec(repeating: 4.1665795894e-2), p, r)
    p = M.madd(Vec(repeating: 1.6666665459e-1), p, r)
    p = M.madd(Vec(repeating: 5.0000001201e-1), p, r)
    p = M.madd(r + 1, p, r2)
    let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(exponent, to: Vec.self)
}

/// ln x for normal x > 0 (Cephes' logf: x = m 2^e with m in [√½, √2),
/// ln m by a degree-9 polynomial in m − 1). Relative error below 3e-7;
/// NaN stays NaN; Softplus uses it on 1 + e^x (never below 1).
@inlinable @inline(always)
func logApprox<M: MultiplyAdd>(_: M.Type, _ x: Vec) -> Vec {
    let bits = unsafeBitCast(x, to: SIMD16<Int32>.self)
    // The exponent field as a float: or-ed into 2^23's mantissa, minus 2^23.
    var e = unsafeBitCast(((bits &>> 23) & 0xFF) | 0x4B00_0000, to: Vec.self) - (8_388_608 + 126)
    // The mantissa with exponent 2^-1: m in [0.5, 1).
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: Vec.self)
    let small = m .< 0.707106781186547524
    e.replace(with: e - 1, where: small)
    m = m.replacing(with: m + m, where: small) - 1
    let z = m * m
    var y = Vec(repeating: 7.0376836292e-2)
    y = M.madd(Vec(repeating: -1.1514610310e-1), y, m)
    y = M.madd(Vec(repeating: 1.1676998740e-1), y, m)
    y = M.madd(Vec(repeating: -1.2420140846e-1), y, m)
    y = M.madd(Vec(repeating: 1.4249322787e-1), y, m)
    y = M.madd(Vec(repeating: -1.6668057665e-1), y, m)
    y = M.madd(Vec(repeating: 2.0000714765e-1), y, m)
    y = M.madd(Vec(repeating: -2.4999993993e-1), y, m)
    y = M.madd(Vec(repeating: 3.3333331174e-1), y, m)
    y = y * m * z
    y = M.madd(y, e, Vec(repeating: -2.12194440e-4))
    y = M.madd(y, z, Vec(repeating: -0.5))
    let result = M.madd(m + y, e, Vec(repeating: 0.693359375))
    return result.replacing(with: x, where: x .!= x)  // NaN stays NaN
}

@inlinable @inline(always)
func relu(_ x: Vec) -> Vec {
    x.replacing(with: 0, where: x .< 0)
}

/// Scalar entry points over whole buffers, for tests of the approximations.
public func tanhVector<M: MultiplyAdd>(_ m: M.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    applyPointwise(x, y, count) { tanhApprox(m, $0) }
}

public func expVector<M: MultiplyAdd>(_ m: M.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    applyPointwise(x, y, count) { expApprox(m, $0) }
}

public func logVector<M: MultiplyAdd>(_ m: M.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    applyPointwise(x, y, count) { logApprox(m, $0) }
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
