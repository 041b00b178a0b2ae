#if canImport(Glibc)
import Glibc
#endif

// The ONNX activation set over 16 lanes. Everything but ELU and Softplus is
// a few vector instructions; those two call libm per lane (no allocation, no
// system call) since they are rare in recurrent models.

@inline(__always)
func clamp(_ v: Vec, _ lo: Float, _ hi: Float) -> Vec {
    var r = v.replacing(with: hi, where: v .> hi)
    r.replace(with: lo, where: r .< lo)
    return r
}

@inline(__always)
func apply(_ f: Function, _ x: Vec) -> Vec {
    switch f.kind {
    case .sigmoid: return sigmoidApprox(x)
    case .tanh: return tanhApprox(x)
    case .identity: return x
    case .relu: return relu(x)
    case .affine: return Vec(repeating: f.beta).addingProduct(x, Vec(repeating: f.alpha))
    case .leakyRelu: return x.replacing(with: x * f.alpha, where: x .< 0)
    case .thresholdedRelu: return x.replacing(with: 0, where: x .<= f.alpha)
    case .scaledTanh: return tanhApprox(x * f.beta) * f.alpha
    case .hardSigmoid: return clamp(Vec(repeating: f.beta).addingProduct(x, Vec(repeating: f.alpha)), 0, 1)
    case .softsign:
        let magnitude = x.replacing(with: -x, where: x .< 0)
        return x / (magnitude + 1)
    case .elu:
        var r = x
        for i in 0..<lanes where x[i] < 0 { r[i] = f.alpha * expm1f(x[i]) }
        return r
    case .softplus:
        var r = x
        for i in 0..<lanes {
            let v = x[i]
            r[i] = v > 20 ? v : log1pf(expf(v))
        }
        return r
    }
}

/// Applies `f` to `count` floats in place (count a multiple of 16).
@inline(__always)
func apply(_ f: Function, _ v: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i < count {
        let p = UnsafeMutableRawPointer(v + i).assumingMemoryBound(to: Vec.self)
        p.pointee = apply(f, p.pointee)
        i &+= lanes
    }
}

/// Function kinds for tests of the pointwise code.
public func applyFunction(_ f: Function, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i < count {
        var v = Vec()
        let n = min(lanes, count - i)
        for j in 0..<n { v[j] = x[i + j] }
        let r = apply(f, v)
        for j in 0..<n { y[i + j] = r[j] }
        i += lanes
    }
}
