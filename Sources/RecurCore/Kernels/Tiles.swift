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
    chains4x3(m, &s0, &s1, &s2, &t0, &t1, &t2, panel, x0, x1, x2, count)
    s0.add(t0); s1.add(t1); s2.add(t2)
}

/// The two sums of accumulate4x3 kept apart: column c goes to `a` (even
/// c) or `b` (odd c), in order. Sequence mode stores both after the x
/// columns and continues them over the h columns (chains4), which gives
/// the one-pass sums of the step.
@inlinable @inline(always)
func chains4x3<M: MultiplyAdd>(_ m: M.Type, _ a0: inout Sums4, _ a1: inout Sums4, _ a2: inout Sums4,
                               _ b0: inout Sums4, _ b1: inout Sums4, _ b2: inout Sums4,
                               _ panel: UnsafePointer<Vec>, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                               _ x2: UnsafePointer<Float>, _ count: Int) {
    var q = panel
    var c = 0
    while c &+ 1 < count {
        let even = Sums4(q), odd = Sums4(q + 4)
        a0.madd(m, even, x0[c]); a1.madd(m, even, x1[c]); a2.madd(m, even, x2[c])
        b0.madd(m, odd, x0[c &+ 1]); b1.madd(m, odd, x1[c &+ 1]); b2.madd(m, odd, x2[c &+ 1])
        q += 8
        c &+= 2
    }
    if c < count {
        let even = Sums4(q)
        a0.madd(m, even, x0[c]); a1.madd(m, even, x1[c]); a2.madd(m, even, x2[c])
    }
}

/// One stream's four gate sums kept as two chains over `count` columns of a
/// panel with 4 gates per column: column c goes to `a` when c + (oddStart
/// ? 1 : 0) is even, else to `b`. With oddStart false and `b` zero, a + b is
/// accumulate4's sum; run over the x columns, then the h columns (oddStart
/// when the x columns were odd in number), it is the one-pass sum over
/// [x | h]. The baseline takes the gates in passes, as accumulate4 does.
@inlinable @inline(always)
func chains4<M: MultiplyAdd>(_ m: M.Type, _ a: inout Sums4, _ b: inout Sums4, _ panel: UnsafePointer<Vec>,
                             _ column: UnsafePointer<Float>, _ count: Int, oddStart: Bool) {
    if M.gatesPerPass >= 4 || !splitPasses(gates: 4, count) {
        var q = panel
        var c = 0
        if oddStart && count > 0 {
            b.madd(m, Sums4(q), column[0])
            q += 4
            c = 1
        }
        while c &+ 1 < count {
            a.madd(m, Sums4(q), column[c])
            b.madd(m, Sums4(q + 4), column[c &+ 1])
            q += 8
            c &+= 2
        }
        if c < count { a.madd(m, Sums4(q), column[c]) }
    } else {
        // (Tiers with two gates per pass read LSTM panels in halves:
        // LSTMCell.run.)
        chainsOne(m, &a.v0, &b.v0, panel, column, count, oddStart: oddStart)
        chainsOne(m, &a.v1, &b.v1, panel + 1, column, count, oddStart: oddStart)
        chainsOne(m, &a.v2, &b.v2, panel + 2, column, count, oddStart: oddStart)
        chainsOne(m, &a.v3, &b.v3, panel + 3, column, count, oddStart: oddStart)
    }
}

/// Two gates of chains4, at `panel` in a panel of `stride` vectors per
/// column (4: an LSTM panel, where `panel` points at gate 0 or 2; 2: a
/// half of a block on tiers with lstmHalves, Panels.swift). With `halves`
/// (stride 4), a block of at most 8 units: a0 and b0 hold gates 0 | 1 and
/// a1 and b1 gates 2 | 3, the low 8 lanes of each (halvesAt), so that all
/// four run in two vectors.
@inlinable @inline(always)
func chainsPair<M: MultiplyAdd>(_: M.Type, _ a0: inout Vec, _ a1: inout Vec, _ b0: inout Vec, _ b1: inout Vec,
                                _ panel: UnsafePointer<Vec>, _ column: UnsafePointer<Float>, _ count: Int, oddStart: Bool,
                                halves: Bool = false, stride: Int = 4) {
    var q = panel
    var c = 0
    // Load k of a column pair (k = 0, 1 in column c, stride, stride + 1 in
    // column c + 1): vector k, or with halves the low halves of vectors j
    // and j + 1 for j = k + (k & 1), that is gates 0 | 1 and 2 | 3 of each
    // column.
    @inline(__always) func gate(_ k: Int) -> Vec { halves ? halvesAt(q, k &+ (k & 1)) : q[k] }
    if oddStart && count > 0 {
        let x = Vec(repeating: column[0])
        b0 = M.madd(b0, gate(0), x)
        b1 = M.madd(b1, gate(1), x)
        q += stride
        c = 1
    }
    while c &+ 1 < count {
        let x0 = Vec(repeating: column[c])
        let x1 = Vec(repeating: column[c &+ 1])
        a0 = M.madd(a0, gate(0), x0)
        a1 = M.madd(a1, gate(1), x0)
        b0 = M.madd(b0, gate(stride), x1)
        b1 = M.madd(b1, gate(stride &+ 1), x1)
        q += 2 &* stride
        c &+= 2
    }
    if c < count {
        let x0 = Vec(repeating: column[c])
        a0 = M.madd(a0, gate(0), x0)
        a1 = M.madd(a1, gate(1), x0)
    }
}

/// The low 8 lanes of vectors k and k + 1 at `q`, as one vector.
@inlinable @inline(__always)
func halvesAt(_ q: UnsafePointer<Vec>, _ k: Int) -> Vec {
    Vec(lowHalf: UnsafeRawPointer(q + k).load(as: Half.self), highHalf: UnsafeRawPointer(q + (k &+ 1)).load(as: Half.self))
}

/// One gate of chains4 (4 gates per column).
@inlinable @inline(always)
func chainsOne<M: MultiplyAdd>(_: M.Type, _ a0: inout Vec, _ b0: inout Vec, _ panel: UnsafePointer<Vec>,
                               _ column: UnsafePointer<Float>, _ count: Int, oddStart: Bool) {
    var q = panel
    var c = 0
    if oddStart && count > 0 {
        b0 = M.madd(b0, q[0], Vec(repeating: column[0]))
        q += 4
        c = 1
    }
    while c &+ 1 < count {
        a0 = M.madd(a0, q[0], Vec(repeating: column[c]))
        b0 = M.madd(b0, q[4], Vec(repeating: column[c &+ 1]))
        q += 8
        c &+= 2
    }
    if c < count { a0 = M.madd(a0, q[0], Vec(repeating: column[c])) }
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

// Tiers with fewer registers (AVX2: 16 ymm, a vector is two) take a tile one
// gate at a time: three column vectors × 2 sums = 12 ymm registers.

/// One gate (`panel` points at it; `stride` gates per column) for three
/// column vectors: the chains of chains4x3 for that gate alone.
@inlinable @inline(always)
func chains1x3<M: MultiplyAdd>(_: M.Type, _ a0: inout Vec, _ a1: inout Vec, _ a2: inout Vec,
                               _ b0: inout Vec, _ b1: inout Vec, _ b2: inout Vec,
                               _ panel: UnsafePointer<Vec>, stride: Int, _ x0: UnsafePointer<Float>,
                               _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>, _ count: Int) {
    var q = panel
    var c = 0
    while c &+ 1 < count {
        let even = q[0], odd = q[stride]
        a0 = M.madd(a0, even, Vec(repeating: x0[c]))
        a1 = M.madd(a1, even, Vec(repeating: x1[c]))
        a2 = M.madd(a2, even, Vec(repeating: x2[c]))
        b0 = M.madd(b0, odd, Vec(repeating: x0[c &+ 1]))
        b1 = M.madd(b1, odd, Vec(repeating: x1[c &+ 1]))
        b2 = M.madd(b2, odd, Vec(repeating: x2[c &+ 1]))
        q += 2 &* stride
        c &+= 2
    }
    if c < count {
        let even = q[0]
        a0 = M.madd(a0, even, Vec(repeating: x0[c]))
        a1 = M.madd(a1, even, Vec(repeating: x1[c]))
        a2 = M.madd(a2, even, Vec(repeating: x2[c]))
    }
}

/// One gate's whole sums for three column vectors, each starting from its
/// own value: what accumulate4 or accumulate3 gives that gate for each.
@inlinable @inline(always)
func tile1x3<M: MultiplyAdd>(_ m: M.Type, _ start: (Vec, Vec, Vec), _ panel: UnsafePointer<Vec>, stride: Int,
                             _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                             _ count: Int) -> (Vec, Vec, Vec) {
    var (a0, a1, a2) = start
    var b0 = Vec(), b1 = Vec(), b2 = Vec()
    chains1x3(m, &a0, &a1, &a2, &b0, &b1, &b2, panel, stride: stride, x0, x1, x2, count)
    return (a0 + b0, a1 + b1, a2 + b2)
}
