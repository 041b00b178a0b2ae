// Register tiles for stepping several streams of one model together: one
// read of a panel's weights feeds the gates of three streams (a 16·gates ×
// 3 tile of a matrix–matrix product) instead of one.
//
// Each (gate, stream) sum is formed exactly as accumulate4/accumulate3 form
// it for one stream (Panels.swift): the bias plus the even columns, plus the
// odd columns, the last odd-count column going to the first sum. So a
// stream stepped in a tile gets the same bits as stepped alone.

/// A block's four gate sums for one stream (LSTM i, f, g, o).
@frozen @usableFromInline
struct Sums4 {
    @usableFromInline var v0, v1, v2, v3: Vec

    @inlinable @inline(always)
    init(_ v0: Vec, _ v1: Vec, _ v2: Vec, _ v3: Vec) { (self.v0, self.v1, self.v2, self.v3) = (v0, v1, v2, v3) }

    @inlinable @inline(always)
    init(_ p: UnsafePointer<Vec>) { self.init(p[0], p[1], p[2], p[3]) }

    @inlinable @inline(always)
    mutating func madd<M: MultiplyAdd>(_: M.Type, _ w: Sums4, _ x: Float) {
        let b = Vec(repeating: x)
        v0 = M.madd(v0, w.v0, b)
        v1 = M.madd(v1, w.v1, b)
        v2 = M.madd(v2, w.v2, b)
        v3 = M.madd(v3, w.v3, b)
    }

    @inlinable @inline(always)
    mutating func add(_ o: Sums4) { v0 += o.v0; v1 += o.v1; v2 += o.v2; v3 += o.v3 }
}

/// A block's three gate sums for one stream (GRU r, z and one n sum).
@frozen @usableFromInline
struct Sums3 {
    @usableFromInline var v0, v1, v2: Vec

    @inlinable @inline(always)
    init(_ v0: Vec, _ v1: Vec, _ v2: Vec) { (self.v0, self.v1, self.v2) = (v0, v1, v2) }

    @inlinable @inline(always)
    init(_ p: UnsafePointer<Vec>) { self.init(p[0], p[1], p[2]) }

    @inlinable @inline(always)
    mutating func madd<M: MultiplyAdd>(_: M.Type, _ w: Sums3, _ x: Float) {
        let b = Vec(repeating: x)
        v0 = M.madd(v0, w.v0, b)
        v1 = M.madd(v1, w.v1, b)
        v2 = M.madd(v2, w.v2, b)
    }

    @inlinable @inline(always)
    mutating func add(_ o: Sums3) { v0 += o.v0; v1 += o.v1; v2 += o.v2 }
}

/// accumulate4 for three streams at once: `s0`, `s1`, `s2` start as each
/// stream's sums and gain panel × column over `count` columns (panel
/// `c * 4 + g`), each stream reading its own column vector.
@inlinable @inline(always)
func accumulate4x3<M: MultiplyAdd>(_ m: M.Type, _ s0: inout Sums4, _ s1: inout Sums4, _ s2: inout Sums4,
                                   _ panel: UnsafePointer<Vec>, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                                   _ x2: UnsafePointer<Float>, _ count: Int) {
    let zero = Vec()
    var t0 = Sums4(zero, zero, zero, zero), t1 = t0, t2 = t0
    var q = panel
    var c = 0
    while c &+ 1 < count {
        let even = Sums4(q), odd = Sums4(q + 4)
        s0.madd(m, even, x0[c]); s1.madd(m, even, x1[c]); s2.madd(m, even, x2[c])
        t0.madd(m, odd, x0[c &+ 1]); t1.madd(m, odd, x1[c &+ 1]); t2.madd(m, odd, x2[c &+ 1])
        q += 8
        c &+= 2
    }
    if c < count {
        let even = Sums4(q)
        s0.madd(m, even, x0[c]); s1.madd(m, even, x1[c]); s2.madd(m, even, x2[c])
    }
    s0.add(t0); s1.add(t1); s2.add(t2)
}

/// accumulate3 for three streams at once (see accumulate4x3).
@inlinable @inline(always)
func accumulate3x3<M: MultiplyAdd>(_ m: M.Type, _ s0: inout Sums3, _ s1: inout Sums3, _ s2: inout Sums3,
                                   _ panel: UnsafePointer<Vec>, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                                   _ x2: UnsafePointer<Float>, _ count: Int) {
    let zero = Vec()
    var t0 = Sums3(zero, zero, zero), t1 = t0, t2 = t0
    var q = panel
    var c = 0
    while c &+ 1 < count {
        let even = Sums3(q), odd = Sums3(q + 3)
        s0.madd(m, even, x0[c]); s1.madd(m, even, x1[c]); s2.madd(m, even, x2[c])
        t0.madd(m, odd, x0[c &+ 1]); t1.madd(m, odd, x1[c &+ 1]); t2.madd(m, odd, x2[c &+ 1])
        q += 6
        c &+= 2
    }
    if c < count {
        let even = Sums3(q)
        s0.madd(m, even, x0[c]); s1.madd(m, even, x1[c]); s2.madd(m, even, x2[c])
    }
    s0.add(t0); s1.add(t1); s2.add(t2)
}
