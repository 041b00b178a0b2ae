import Glibc
import RecurAVX2
import RecurBaseline
import RecurCore
import XCTest

/// Cells and kernels against a scalar float64 reference written here, on
/// descriptions built directly (no file), at sizes around the 16-lane panels.
final class CellTests: XCTestCase {
    /// Both kinds of multiply-add (this test module is built for plain
    /// x86-64, where AVX2's fused one is libm's exact fmaf).
    func testTanhSigmoidAndExpApproximations() {
        approximations(Baseline.self)
        approximations(AVX2.self)
    }

    func approximations<M: MultiplyAdd>(_ m: M.Type) {
        let xs = (0..<20001).map { Float($0 - 10000) / 1000 }  // [-10, 10]
        var t = [Float](repeating: 0, count: xs.count), s = t
        tanhVector(m, xs, &t, xs.count)
        sigmoidVector(m, xs, &s, xs.count)
        var worstTanh = 0.0, worstSigmoid = 0.0
        for (i, x) in xs.enumerated() {
            worstTanh = max(worstTanh, abs(Double(t[i]) - Glibc.tanh(Double(x))))
            worstSigmoid = max(worstSigmoid, abs(Double(s[i]) - 1 / (1 + Glibc.exp(-Double(x)))))
        }
        XCTAssertLessThan(worstTanh, 4e-7, "\(m)")
        XCTAssertLessThan(worstSigmoid, 3e-7, "\(m)")
        // exp: relative error over [-87, 88], and its edges.
        let es = (0..<17501).map { Float($0 - 8700) / 100 } + [-Float.infinity, -200, 200, .nan]
        var e = [Float](repeating: 0, count: es.count)
        expVector(m, es, &e, es.count)
        var worstExp = 0.0
        for (i, x) in es.enumerated().prefix(17501) {
            worstExp = max(worstExp, abs(Double(e[i]) / Glibc.exp(Double(x)) - 1))
        }
        XCTAssertLessThan(worstExp, 3e-7, "\(m)")
        XCTAssertLessThan(e[17501], 2e-38, "\(m): exp(-inf)")
        XCTAssertEqual(e[17502], e[17501], "\(m): exp(-200) clamps")
        XCTAssertTrue(e[17503].isFinite && e[17503] > 1e38, "\(m): exp(200) clamps to a finite float")
        XCTAssertTrue(e[17504].isNaN, "\(m): NaN stays NaN")
        // ln over [1, 1e8] (Softplus's range) and around 1.
        let ls = (0..<20001).map { Float(Glibc.exp(Double($0) / 20000 * 18.5)) } + (0..<1000).map { 0.5 + Float($0) / 1000 }
        var l = [Float](repeating: 0, count: ls.count)
        logVector(m, ls, &l, ls.count)
        var worstLog = 0.0
        for (i, x) in ls.enumerated() {
            worstLog = max(worstLog, abs(Double(l[i]) - Glibc.log(Double(x))) / max(1, abs(Glibc.log(Double(x)))))
        }
        XCTAssertLessThan(worstLog, 3e-7, "\(m)")
        var nan = Float.nan, logNaN: Float = 0
        logVector(m, &nan, &logNaN, 1)
        XCTAssertTrue(logNaN.isNaN, "\(m): ln NaN")
    }

    struct Rng {
        var state: UInt64
        mutating func next(_ scale: Double) -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float((Double(state >> 11) / Double(1 << 53) * 2 - 1) * scale)
        }
        mutating func array(_ n: Int, _ scale: Double) -> [Float] { (0..<n).map { _ in next(scale) } }
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// One LSTM or GRU layer stepped by the runtime and by float64 scalar code.
    func check(gru: Bool, input: Int, hidden: Int, steps: Int = 300, file: StaticString = #filePath, line: UInt = #line) throws {
        let gates = gru ? 3 : 4
        var rng = Rng(state: UInt64(input * 1000 + hidden))
        let scale = 1 / Double(hidden).squareRoot()
        let wih = rng.array(gates * hidden * input, scale), whh = rng.array(gates * hidden * hidden, scale)
        let bih = rng.array(gates * hidden, scale), bhh = rng.array(gates * hidden, scale)
        let xs = rng.array(steps * input, 2)
        var got = [Float](repeating: 0, count: steps * hidden)
        try wih.withUnsafeBytes { a in try whh.withUnsafeBytes { b in try bih.withUnsafeBytes { c in try bhh.withUnsafeBytes { d in
            let layer = CellDescription(
                kind: gru ? .gru : .lstm, inputSize: input, hiddenSize: hidden,
                weightIH: TensorView(base: a.baseAddress!, count: wih.count),
                weightHH: TensorView(base: b.baseAddress!, count: whh.count),
                biasIH: TensorView(base: c.baseAddress!, count: bih.count),
                biasHH: TensorView(base: d.baseAddress!, count: bhh.count))
            let model = try Model(ModelDescription(
                inputSize: input, layers: [.recurrent(direction: .forward, forward: layer, backward: nil)]),
                kernels: baselineKernels)
            defer { model.free() }
            let stream = try Stream.create(model)
            defer { stream.free() }
            xs.withUnsafeBufferPointer { x in got.withUnsafeMutableBufferPointer { y in
                stream.run(steps, x.baseAddress!, y.baseAddress!)
            } }
        } } } }

        var h = [Double](repeating: 0, count: hidden), c = h
        var worst = 0.0
        for t in 0..<steps {
            let x = xs[t * input..<(t + 1) * input].map(Double.init)
            func row(_ r: Int) -> (Double, Double) {
                var gx = Double(bih[r]), gh = Double(bhh[r])
                for k in 0..<input { gx += Double(wih[r * input + k]) * x[k - 0] }
                for k in 0..<hidden { gh += Double(whh[r * hidden + k]) * h[k] }
                return (gx, gh)
            }
            var next = h
            for u in 0..<hidden {
                if gru {
                    let (rx, rh) = row(u), (zx, zh) = row(hidden + u), (nx, nh) = row(2 * hidden + u)
                    let r = Self.sigmoid(rx + rh), z = Self.sigmoid(zx + zh)
                    let n = Glibc.tanh(nx + r * nh)
                    next[u] = (1 - z) * n + z * h[u]
                } else {
                    let (ix, ih) = row(u), (fx, fh) = row(hidden + u)
                    let (gx, gh) = row(2 * hidden + u), (ox, oh) = row(3 * hidden + u)
                    c[u] = Self.sigmoid(fx + fh) * c[u] + Self.sigmoid(ix + ih) * Glibc.tanh(gx + gh)
                    next[u] = Self.sigmoid(ox + oh) * Glibc.tanh(c[u])
                }
            }
            h = next
            for u in 0..<hidden { worst = max(worst, abs(Double(got[t * hidden + u]) - h[u])) }
        }
        XCTAssertLessThanOrEqual(worst, 1e-5, "\(gru ? "GRU" : "LSTM") \(input)x\(hidden)", file: file, line: line)
    }

    func testLSTMSizes() throws {
        for (i, h) in [(1, 1), (1, 8), (3, 15), (16, 16), (5, 17), (33, 48), (2, 65)] {
            try check(gru: false, input: i, hidden: h)
        }
    }

    func testGRUSizes() throws {
        for (i, h) in [(1, 1), (1, 5), (4, 15), (16, 16), (7, 31), (20, 33)] {
            try check(gru: true, input: i, hidden: h)
        }
    }

    func testDenseActivationsAndStreamLifecycle() throws {
        var rng = Rng(state: 5)
        let w = rng.array(19 * 3, 1), b = rng.array(19, 1)
        for activation in [Function(.identity), .sigmoid, .tanh, Function(.relu)] {
            try w.withUnsafeBytes { wp in try b.withUnsafeBytes { bp in
                let dense = DenseDescription(inputSize: 3, outputSize: 19,
                                             weight: TensorView(base: wp.baseAddress!, count: w.count),
                                             bias: TensorView(base: bp.baseAddress!, count: b.count),
                                             activation: activation)
                let model = try Model(ModelDescription(inputSize: 3, layers: [.dense(dense)]), kernels: baselineKernels)
                defer { model.free() }
                XCTAssertEqual(model.inputSize, 3)
                XCTAssertEqual(model.outputSize, 19)
                let stream = try Stream.create(model)
                defer { stream.free() }
                let x: [Float] = [0.5, -1.25, 2]
                var y = [Float](repeating: .nan, count: 19)
                stream.step(x, &y)
                for r in 0..<19 {
                    var v = Double(b[r])
                    for k in 0..<3 { v += Double(w[r * 3 + k]) * Double(x[k]) }
                    switch activation.kind {
                    case .identity: break
                    case .sigmoid: v = Self.sigmoid(v)
                    case .tanh: v = Glibc.tanh(v)
                    case .relu: v = max(v, 0)
                    default: XCTFail("untested")
                    }
                    XCTAssertEqual(Double(y[r]), v, accuracy: 1e-6, "\(activation.kind) row \(r)")
                }
            } }
        }
    }
}
