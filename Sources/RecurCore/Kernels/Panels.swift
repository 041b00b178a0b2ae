// The packed weight layout shared by every cell.
//
// A layer's output rows are cut into blocks of `lanes` (16) units. For each
// block the weights of all its gates are stored together as one panel:
// first one vector of bias per accumulator, then, column by column, one
// vector per gate holding that column's weights for the block's 16 rows.
// A step walks each panel once from start to end: it broadcasts x[c] and
// fuses it into the block's accumulators, so there is no horizontal
// reduction and the gate non-linearities run on registers. Rows past the
// layer's true width are zero, which keeps padded state lanes at zero.
//
// On tiers whose vector is two registers (MultiplyAdd.lstmHalves: AVX2), an
// LSTM block is stored as two such panels of 8 units each, units 0-7 then
// 8-15, each with 2 vectors per column (bias first): gates i | f and g | o
// of that column. A pass over one half keeps its 8 accumulators (2 vectors
// x 2 chains x 2 registers) in 16 registers, where a pass over a whole
// 4-gate block needs 16 of them plus the broadcasts and spills; and each
// half is read start to end. The lanes are summed in the same order either
// way, so every tier gives the same bits (bench/layouts.c models the two
// layouts).

/// Number of 16-row blocks covering `width` rows.
@inlinable @inline(__always)
func blockCount(_ width: Int) -> Int { (width &+ lanes &- 1) / lanes }

/// Whether the last block of a layer `width` units wide has at most 8 of
/// them (LSTMCell.finishHalves).
@inlinable @inline(__always)
func lastBlockIsHalf(_ width: Int) -> Bool { (width &- 1) & 15 < 8 }

/// Checked arithmetic for load-time size computations. (Fixed arities, not
/// variadic: a variadic list is an array, a Swift allocation per call, and
/// the allocations of a load must not grow with its layers.)
func checkedProduct(_ a: Int, _ b: Int) throws(RecurError) -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw RecurError(.tooLarge, "model size overflows") }
    return p
}

func checkedProduct(_ a: Int, _ b: Int, _ c: Int) throws(RecurError) -> Int {
    try checkedProduct(try checkedProduct(a, b), c)
}

func checkedProduct(_ a: Int, _ b: Int, _ c: Int, _ d: Int) throws(RecurError) -> Int {
    try checkedProduct(try checkedProduct(a, b, c), d)
}

func checkedProduct(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int) throws(RecurError) -> Int {
    try checkedProduct(try checkedProduct(a, b, c, d), e)
}

func checkedSum(_ a: Int, _ b: Int) throws(RecurError) -> Int {
    let (s, overflow) = a.addingReportingOverflow(b)
    guard !overflow else { throw RecurError(.tooLarge, "model size overflows") }
    return s
}

func checkedSum(_ a: Int, _ b: Int, _ c: Int) throws(RecurError) -> Int { try checkedSum(try checkedSum(a, b), c) }

/// Multiply-accumulate of `count` columns into `n` accumulators:
/// acc[g] += panel[c * n + g] * column[c] for every c. Every gate's sum has
/// the same order on every tier: the bias plus the even columns, plus
/// (the odd columns), the last odd-count column going to the first sum.
@inlinable @inline(always)
func accumulate4<M: MultiplyAdd>(_ m: M.Type, _ a0: inout Vec, _ a1: inout Vec, _ a2: inout Vec, _ a3: inout Vec,
                 _ panel: UnsafePointer<Vec>, _ column: UnsafePointer<Float>, _ count: Int) {
    if M.gatesPerPass >= 4 || !splitPasses(gates: 4, count) {
        var q = panel
        var c = 0
        // Two columns per iteration into two accumulator sets: eight
        // independent FMA chains hide the FMA latency.
        var b0 = Vec(), b1 = Vec(), b2 = Vec(), b3 = Vec()
        while c &+ 1 < count {
            let x0 = Vec(repeating: column[c])
            let x1 = Vec(repeating: column[c &+ 1])
            a0 = M.madd(a0, q[0], x0)
            a1 = M.madd(a1, q[1], x0)
            a2 = M.madd(a2, q[2], x0)
            a3 = M.madd(a3, q[3], x0)
            b0 = M.madd(b0, q[4], x1)
            b1 = M.madd(b1, q[5], x1)
            b2 = M.madd(b2, q[6], x1)
            b3 = M.madd(b3, q[7], x1)
            q += 8
            c &+= 2
        }
        if c < count {
            let x0 = Vec(repeating: column[c])
            a0 = M.madd(a0, q[0], x0)
            a1 = M.madd(a1, q[1], x0)
            a2 = M.madd(a2, q[2], x0)
            a3 = M.madd(a3, q[3], x0)
        }
        a0 += b0; a1 += b1; a2 += b2; a3 += b3
    } else {
        // (Tiers with two gates per pass store LSTM panels in halves and
        // never come here: LSTMCell.step.)
        accumulateOne(m, &a0, panel, stride: 4, column, count)
        accumulateOne(m, &a1, panel + 1, stride: 4, column, count)
        accumulateOne(m, &a2, panel + 2, stride: 4, column, count)
        accumulateOne(m, &a3, panel + 3, stride: 4, column, count)
    }
}

@inlinable @inline(always)
func accumulate3<M: MultiplyAdd>(_ m: M.Type, _ a0: inout Vec, _ a1: inout Vec, _ a2: inout Vec,
                 _ panel: UnsafePointer<Vec>, _ column: UnsafePointer<Float>, _ count: Int) {
    if M.gatesPerPass >= 3 || !splitPasses(gates: 3, count) {
        var q = panel
        var c = 0
        var b0 = Vec(), b1 = Vec(), b2 = Vec()
        while c &+ 1 < count {
            let x0 = Vec(repeating: column[c])
            let x1 = Vec(repeating: column[c &+ 1])
            a0 = M.madd(a0, q[0], x0)
            a1 = M.madd(a1, q[1], x0)
            a2 = M.madd(a2, q[2], x0)
            b0 = M.madd(b0, q[3], x1)
            b1 = M.madd(b1, q[4], x1)
            b2 = M.madd(b2, q[5], x1)
            q += 6
            c &+= 2
        }
        if c < count {
            let x0 = Vec(repeating: column[c])
            a0 = M.madd(a0, q[0], x0)
            a1 = M.madd(a1, q[1], x0)
            a2 = M.madd(a2, q[2], x0)
        }
        a0 += b0; a1 += b1; a2 += b2
    } else if M.gatesPerPass == 2 {
        accumulatePair(m, &a0, &a1, panel, stride: 3, column, count)
        accumulateOne(m, &a2, panel + 2, stride: 3, column, count)
    } else {
        accumulateOne(m, &a0, panel, stride: 3, column, count)
        accumulateOne(m, &a1, panel + 1, stride: 3, column, count)
        accumulateOne(m, &a2, panel + 2, stride: 3, column, count)
    }
}

/// Whether a tier with fewer registers splits a block's gates into passes:
/// when the panel part fits in a 32 KiB L1 (most AVX2 CPUs'), so that the
/// second pass finds its lines there. On larger parts, read from L2, L3 or
/// memory, passes that each take every other pair of cache lines run slower
/// than one pass (GRU's three gates fit in registers). At 48 KiB, GRU
/// 128,256 and 256,512 on AVX2 ran 4-6% slower (their 48 KiB h and x parts
/// went in passes).
@inlinable @inline(always)
func splitPasses(gates: Int, _ columns: Int) -> Bool { columns &* gates &* 64 <= 32_768 }

/// Two gates of a panel with `stride` gates per column, in the order of
/// accumulate4: each pass reads whole 64-byte vectors, so the passes
/// together read each cache line of the panel once.
@inlinable @inline(always)
func accumulatePair<M: MultiplyAdd>(_: M.Type, _ a0: inout Vec, _ a1: inout Vec, _ panel: UnsafePointer<Vec>,
                                    stride: Int, _ column: UnsafePointer<Float>, _ count: Int) {
    var q = panel
    var c = 0
    var b0 = Vec(), b1 = Vec()
    while c &+ 1 < count {
        let x0 = Vec(repeating: column[c])
        let x1 = Vec(repeating: column[c &+ 1])
        a0 = M.madd(a0, q[0], x0)
        a1 = M.madd(a1, q[1], x0)
        b0 = M.madd(b0, q[stride], x1)
        b1 = M.madd(b1, q[stride &+ 1], x1)
        q += 2 &* stride
        c &+= 2
    }
    if c < count {
        let x0 = Vec(repeating: column[c])
        a0 = M.madd(a0, q[0], x0)
        a1 = M.madd(a1, q[1], x0)
    }
    a0 += b0; a1 += b1
}

/// One gate, likewise.
@inlinable @inline(always)
func accumulateOne<M: MultiplyAdd>(_: M.Type, _ a0: inout Vec, _ panel: UnsafePointer<Vec>,
                                   stride: Int, _ column: UnsafePointer<Float>, _ count: Int) {
    var q = panel
    var c = 0
    var b0 = Vec()
    while c &+ 1 < count {
        a0 = M.madd(a0, q[0], Vec(repeating: column[c]))
        b0 = M.madd(b0, q[stride], Vec(repeating: column[c &+ 1]))
        q += 2 &* stride
        c &+= 2
    }
    if c < count { a0 = M.madd(a0, q[0], Vec(repeating: column[c])) }
    a0 += b0
}

@inlinable @inline(always)
func accumulate1<M: MultiplyAdd>(_: M.Type, _ a0: inout Vec, _ panel: UnsafePointer<Vec>, _ column: UnsafePointer<Float>, _ count: Int) {
    var q = panel
    var c = 0
    var b0 = Vec(), b1 = Vec(), b2 = Vec(), b3 = Vec()
    while c &+ 3 < count {
        a0 = M.madd(a0, q[0], Vec(repeating: column[c]))
        b1 = M.madd(b1, q[1], Vec(repeating: column[c &+ 1]))
        b2 = M.madd(b2, q[2], Vec(repeating: column[c &+ 2]))
        b3 = M.madd(b3, q[3], Vec(repeating: column[c &+ 3]))
        q += 4
        c &+= 4
    }
    while c < count {
        b0 = M.madd(b0, q[0], Vec(repeating: column[c]))
        q += 1
        c &+= 1
    }
    a0 += (b0 + b1) + (b2 + b3)
}
