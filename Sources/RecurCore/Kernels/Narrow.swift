// Narrow panels: weight matrices kept in the arena as the file stores them
// (bfloat16, or int8 with a scale per row) and widened to float32 in
// registers as the step reads them. Past a few MB of weights a step is
// bound by the bytes it reads (docs/quantization.md), so half or a quarter
// of the bytes is most of the way to twice or four times the speed. Only the
// weights are narrow: activations, state and sums stay float32.
//
// Layout of a narrow panel (one block of 16 rows, `gates` gates):
//   [bias: one float32 vector per bias vector of the cell]
//   [int8 and int8 codes only: the row scales of the x part, one vector
//    per gate; then those of the h part]
//   [x part: the x columns in pairs][h part: the h columns in pairs]
// rounded up to 64 bytes. A column pair holds columns c and c + 1 of every gate:
//   bfloat16: one 64-byte vector per gate, whose 32-bit lane l is row l's
//     weight in column c + 1 (high half) and in column c (low half). Masking
//     the low half away gives column c + 1 as float32; shifting it up 16
//     bits gives column c: one integer instruction per 16 weights.
//   int8: 16 bytes per gate for column c, then 16 per gate for column c + 1;
//     widened by sign extension and conversion (vpmovsxbd, vcvtdq2ps).
//   int8 codes: as bfloat16, each integer q as its (exact) bfloat16 code.
// A part with an odd number of columns has a zero partner for its last
// column, never read.
//
// Each part's sum is formed from zero, even columns and odd columns apart
// and then added, the same way on every FMA tier; an int8 part's sum is
// multiplied by its row scales once: sum = bias + s_x ⊙ Σ_x + s_h ⊙ Σ_h.
// That is the file's weights exactly (w = q · s for int8), in float32
// arithmetic: the fidelity tests hold narrow panels to 1e-5 of a float64
// reference that reads the file's bfloat16 halves and int8 scales itself.

/// How a layer's weight matrices are kept in the arena.
public enum WeightStorage: UInt8 {
    /// float32 panels (Panels.swift): float32 files, and the reduced
    /// weights of layers whose matrices have no narrow kernel or do not
    /// share one type (widened at load).
    case float32
    case bfloat16
    case int8
    /// An int8 file's integers as bfloat16 codes (exact: |q| <= 127 needs 7
    /// significant bits, bfloat16 has 8), with the int8 row scales: twice
    /// int8's bytes, but the bfloat16 kernel's one widening instruction per
    /// 16 weights instead of int8's two. Faster while the weights stay in
    /// the caches; past them int8's fewer bytes win (`choose`).
    case int8Codes
}

extension WeightStorage {
    /// How a layer whose weight matrices are all `type` (nil: of mixed
    /// types) keeps them under `policy`, when its float32 panels would take
    /// `floatBytes`. Automatically narrow only past what stays in a core's
    /// caches: there the widening instructions cost more than the bytes
    /// they save (one per 16 weights for bfloat16, two for int8; `make
    /// bench`'s weights table).
    /// An int8 layer whose bfloat16 codes would fit in half the largest
    /// cache (`cacheBytes`) takes the codes; a larger one, int8.
    /// `narrowBytes` is the tier's threshold (Kernels.autoNarrowBytes).
    static func choose(_ type: ElementType?, floatBytes: Int, _ policy: WeightPolicy, cacheBytes: Int,
                       narrowBytes: Int) -> WeightStorage {
        guard let type, type != .float32, policy != .float32 else { return .float32 }
        if policy == .narrow { return WeightStorage(type) }
        if floatBytes <= narrowBytes { return .float32 }
        return type == .int8 && floatBytes / 2 <= cacheBytes / 2 ? .int8Codes : WeightStorage(type)
    }

    /// Whether sums are multiplied by row scales.
    var scaled: Bool { self == .int8 || self == .int8Codes }

    /// The element type the model keeps (recur_layer_info.storage_type).
    var keptType: ElementType {
        switch self {
        case .float32: return .float32
        case .bfloat16, .int8Codes: return .bfloat16
        case .int8: return .int8
        }
    }

    /// The storage for a layer whose weight matrices are all `type`.
    init(_ type: ElementType) {
        switch type {
        case .float32: self = .float32
        case .bfloat16: self = .bfloat16
        case .int8: self = .int8
        }
    }

    /// Bytes of one gate's column pair.
    var pairBytes: Int { self == .int8 ? 32 : 64 }

    /// Bytes of a part of `columns` columns with `gates` gates.
    func partBytes(gates: Int, columns: Int) throws(RecurError) -> Int {
        try checkedProduct((columns + 1) / 2, gates, pairBytes)
    }

    /// Bytes of one block's panel: `biasVectors` bias vectors, the scales
    /// (int8), and the parts of `inputs` and `recurrent` columns.
    func panelBytes(gates: Int, biasVectors: Int, inputs: Int, recurrent: Int) throws(RecurError) -> Int {
        let head = try checkedProduct(biasVectors + (scaled ? 2 * gates : 0), lanes, 4)
        let bytes = try checkedSum(head, try partBytes(gates: gates, columns: inputs),
                                   try partBytes(gates: gates, columns: recurrent))
        return try roundUp(bytes, alignment)
    }

    /// Writes one part of a block's panel at `part`: row `lane` of gate
    /// `gate` in column k is `bits(gate, lane, k)`, the element as the file
    /// stores it (int8Codes: converted to its bfloat16 code). The part was
    /// zeroed (the arena is).
    func pack(_ part: UnsafeMutableRawPointer, gates: Int, columns: Int, lanesUsed: Int,
              _ bits: (_ gate: Int, _ lane: Int, _ column: Int) -> UInt16) {
        for k in 0..<columns {
            let pair = part + (k / 2) * gates * pairBytes, odd = k & 1
            for gate in 0..<gates {
                for lane in 0..<lanesUsed {
                    var value = bits(gate, lane, k)
                    if self == .int8Codes {
                        value = UInt16(Float(Int8(truncatingIfNeeded: value)).bitPattern >> 16)
                    }
                    if self == .int8 {
                        pair.storeBytes(of: UInt8(truncatingIfNeeded: value),
                                        toByteOffset: (odd * gates + gate) * lanes + lane, as: UInt8.self)
                    } else {
                        pair.storeBytes(of: value.littleEndian, toByteOffset: gate * 64 + lane * 4 + odd * 2, as: UInt16.self)
                    }
                }
            }
        }
    }
}

/// How the step widens one storage's column pairs (generic, so each
/// storage has its own specialized kernels on each tier).
public protocol NarrowWeights {
    static var storage: WeightStorage { get }
    /// Gate `gate`'s weights (of `gates`) in the even column of `pair`, as float32.
    static func even(_ pair: UnsafeRawPointer, _ gate: Int, _ gates: Int) -> Vec
    /// Likewise in the odd column.
    static func odd(_ pair: UnsafeRawPointer, _ gate: Int, _ gates: Int) -> Vec
}

public enum BFloat16Pairs: NarrowWeights {
    @inlinable public static var storage: WeightStorage { .bfloat16 }

    @inlinable @inline(__always)
    public static func even(_ pair: UnsafeRawPointer, _ gate: Int, _: Int) -> Vec {
        unsafeBitCast(pair.load(fromByteOffset: gate &* 64, as: SIMD16<UInt32>.self) &<< 16, to: Vec.self)
    }

    @inlinable @inline(__always)
    public static func odd(_ pair: UnsafeRawPointer, _ gate: Int, _: Int) -> Vec {
        unsafeBitCast(pair.load(fromByteOffset: gate &* 64, as: SIMD16<UInt32>.self) & 0xFFFF_0000, to: Vec.self)
    }
}

/// int8Codes: the bfloat16 pairs, summed as int8 is (times the row scales).
public enum Int8Codes: NarrowWeights {
    @inlinable public static var storage: WeightStorage { .int8Codes }

    @inlinable @inline(__always)
    public static func even(_ pair: UnsafeRawPointer, _ gate: Int, _ gates: Int) -> Vec {
        BFloat16Pairs.even(pair, gate, gates)
    }

    @inlinable @inline(__always)
    public static func odd(_ pair: UnsafeRawPointer, _ gate: Int, _ gates: Int) -> Vec {
        BFloat16Pairs.odd(pair, gate, gates)
    }
}

public enum Int8Columns: NarrowWeights {
    @inlinable public static var storage: WeightStorage { .int8 }

    /// 16 int8 at `p` as float32. (Element by element: the optimizer turns
    /// it into one sign extension and one conversion; the standard library's
    /// vector conversions are calls.)
    @inlinable @inline(__always)
    static func widen(_ p: UnsafeRawPointer) -> Vec {
        let q = p.load(as: SIMD16<Int8>.self)
        var v = Vec()
        for i in 0..<lanes { v[i] = Float(q[i]) }
        return v
    }

    @inlinable @inline(__always)
    public static func even(_ pair: UnsafeRawPointer, _ gate: Int, _: Int) -> Vec { widen(pair + gate &* lanes) }

    @inlinable @inline(__always)
    public static func odd(_ pair: UnsafeRawPointer, _ gate: Int, _ gates: Int) -> Vec {
        widen(pair + (gates &+ gate) &* lanes)
    }
}

extension NarrowWeights {
    /// Whether sums are multiplied by row scales (int8, int8Codes).
    @inlinable static var scaled: Bool { storage == .int8 || storage == .int8Codes }

    /// Bytes of one gate's column pair.
    @inlinable static var pairBytes: Int { storage == .int8 ? 32 : 64 }

    /// Bytes of a part of `columns` columns with `gates` gates (as WeightStorage.partBytes).
    @inlinable @inline(__always)
    static func partBytes(gates: Int, columns: Int) -> Int { ((columns &+ 1) >> 1) &* gates &* pairBytes }

    /// Vectors before the x part: `biasVectors`, then the scales.
    @inlinable @inline(__always)
    static func headVectors(gates: Int, biasVectors: Int) -> Int { biasVectors &+ (scaled ? 2 &* gates : 0) }
}

/// Four gates' sums over one part (`count` columns of `column`), from zero.
/// Tiers with fewer registers take two gates per pass (as Panels.swift's
/// accumulate4): each gate's sum is formed in the same order either way.
@inlinable @inline(always)
func narrow4<W: NarrowWeights, M: MultiplyAdd>(_ w: W.Type, _ m: M.Type, _ part: UnsafeRawPointer,
                                              _ column: UnsafePointer<Float>, _ count: Int) -> Sums4 {
    if M.gatesPerPass < 4 {
        let (i, f) = narrow2(w, m, part, column, count, gate: 0, of: 4)
        let (g, o) = narrow2(w, m, part, column, count, gate: 2, of: 4)
        return Sums4(i, f, g, o)
    }
    var a0 = Vec(), a1 = Vec(), a2 = Vec(), a3 = Vec()
    var b0 = Vec(), b1 = Vec(), b2 = Vec(), b3 = Vec()
    var q = part
    var c = 0
    while c &+ 1 < count {
        let x0 = Vec(repeating: column[c]), x1 = Vec(repeating: column[c &+ 1])
        a0 = M.madd(a0, W.even(q, 0, 4), x0)
        a1 = M.madd(a1, W.even(q, 1, 4), x0)
        a2 = M.madd(a2, W.even(q, 2, 4), x0)
        a3 = M.madd(a3, W.even(q, 3, 4), x0)
        b0 = M.madd(b0, W.odd(q, 0, 4), x1)
        b1 = M.madd(b1, W.odd(q, 1, 4), x1)
        b2 = M.madd(b2, W.odd(q, 2, 4), x1)
        b3 = M.madd(b3, W.odd(q, 3, 4), x1)
        q += 4 &* W.pairBytes
        c &+= 2
    }
    if c < count {
        let x0 = Vec(repeating: column[c])
        a0 = M.madd(a0, W.even(q, 0, 4), x0)
        a1 = M.madd(a1, W.even(q, 1, 4), x0)
        a2 = M.madd(a2, W.even(q, 2, 4), x0)
        a3 = M.madd(a3, W.even(q, 3, 4), x0)
    }
    return Sums4(a0 + b0, a1 + b1, a2 + b2, a3 + b3)
}

/// Three gates' sums over one part, from zero (in two passes on the
/// baseline; AVX2 holds the six chains, 12 ymm registers, and measured
/// slower in passes).
@inlinable @inline(always)
func narrow3<W: NarrowWeights, M: MultiplyAdd>(_ w: W.Type, _ m: M.Type, _ part: UnsafeRawPointer,
                                              _ column: UnsafePointer<Float>, _ count: Int) -> Sums3 {
    if M.gatesPerPass < 2 {
        let (r, z) = narrow2(w, m, part, column, count, gate: 0, of: 3)
        return Sums3(r, z, narrowGate(w, m, part, column, count, gate: 2, of: 3))
    }
    var a0 = Vec(), a1 = Vec(), a2 = Vec()
    var b0 = Vec(), b1 = Vec(), b2 = Vec()
    var q = part
    var c = 0
    while c &+ 1 < count {
        let x0 = Vec(repeating: column[c]), x1 = Vec(repeating: column[c &+ 1])
        a0 = M.madd(a0, W.even(q, 0, 3), x0)
        a1 = M.madd(a1, W.even(q, 1, 3), x0)
        a2 = M.madd(a2, W.even(q, 2, 3), x0)
        b0 = M.madd(b0, W.odd(q, 0, 3), x1)
        b1 = M.madd(b1, W.odd(q, 1, 3), x1)
        b2 = M.madd(b2, W.odd(q, 2, 3), x1)
        q += 3 &* W.pairBytes
        c &+= 2
    }
    if c < count {
        let x0 = Vec(repeating: column[c])
        a0 = M.madd(a0, W.even(q, 0, 3), x0)
        a1 = M.madd(a1, W.even(q, 1, 3), x0)
        a2 = M.madd(a2, W.even(q, 2, 3), x0)
    }
    return Sums3(a0 + b0, a1 + b1, a2 + b2)
}

/// Gates `gate` and `gate + 1` (of `gates`) of narrow4 or narrow3, the same chains.
@inlinable @inline(always)
func narrow2<W: NarrowWeights, M: MultiplyAdd>(_: W.Type, _: M.Type, _ part: UnsafeRawPointer,
                                              _ column: UnsafePointer<Float>, _ count: Int,
                                              gate: Int, of gates: Int) -> (Vec, Vec) {
    var a0 = Vec(), a1 = Vec(), b0 = Vec(), b1 = Vec()
    var q = part
    var c = 0
    while c &+ 1 < count {
        let x0 = Vec(repeating: column[c]), x1 = Vec(repeating: column[c &+ 1])
        a0 = M.madd(a0, W.even(q, gate, gates), x0)
        a1 = M.madd(a1, W.even(q, gate &+ 1, gates), x0)
        b0 = M.madd(b0, W.odd(q, gate, gates), x1)
        b1 = M.madd(b1, W.odd(q, gate &+ 1, gates), x1)
        q += gates &* W.pairBytes
        c &+= 2
    }
    if c < count {
        let x0 = Vec(repeating: column[c])
        a0 = M.madd(a0, W.even(q, gate, gates), x0)
        a1 = M.madd(a1, W.even(q, gate &+ 1, gates), x0)
    }
    return (a0 + b0, a1 + b1)
}

/// Gate `gate` (of `gates`) of narrow4 or narrow3, the same chains.
@inlinable @inline(always)
func narrowGate<W: NarrowWeights, M: MultiplyAdd>(_: W.Type, _: M.Type, _ part: UnsafeRawPointer,
                                                 _ column: UnsafePointer<Float>, _ count: Int,
                                                 gate: Int, of gates: Int) -> Vec {
    var a0 = Vec(), b0 = Vec()
    var q = part
    var c = 0
    while c &+ 1 < count {
        a0 = M.madd(a0, W.even(q, gate, gates), Vec(repeating: column[c]))
        b0 = M.madd(b0, W.odd(q, gate, gates), Vec(repeating: column[c &+ 1]))
        q += gates &* W.pairBytes
        c &+= 2
    }
    if c < count { a0 = M.madd(a0, W.even(q, gate, gates), Vec(repeating: column[c])) }
    return a0 + b0
}

/// One gate's sum over one part, from zero: two column pairs per iteration
/// into four chains.
@inlinable @inline(always)
func narrow1<W: NarrowWeights, M: MultiplyAdd>(_: W.Type, _: M.Type, _ part: UnsafeRawPointer,
                                              _ column: UnsafePointer<Float>, _ count: Int) -> Vec {
    var a0 = Vec(), a1 = Vec(), b0 = Vec(), b1 = Vec()
    var q = part
    var c = 0
    while c &+ 3 < count {
        a0 = M.madd(a0, W.even(q, 0, 1), Vec(repeating: column[c]))
        b0 = M.madd(b0, W.odd(q, 0, 1), Vec(repeating: column[c &+ 1]))
        a1 = M.madd(a1, W.even(q + W.pairBytes, 0, 1), Vec(repeating: column[c &+ 2]))
        b1 = M.madd(b1, W.odd(q + W.pairBytes, 0, 1), Vec(repeating: column[c &+ 3]))
        q += 2 &* W.pairBytes
        c &+= 4
    }
    if c &+ 1 < count {
        a0 = M.madd(a0, W.even(q, 0, 1), Vec(repeating: column[c]))
        b0 = M.madd(b0, W.odd(q, 0, 1), Vec(repeating: column[c &+ 1]))
        q += W.pairBytes
        c &+= 2
    }
    if c < count { a0 = M.madd(a0, W.even(q, 0, 1), Vec(repeating: column[c])) }
    return (a0 + b0) + (a1 + b1)
}

/// A gate's whole sum from its bias and its parts' sums (scale vectors
/// read only for int8).
@inlinable @inline(always)
func combine<W: NarrowWeights, M: MultiplyAdd>(_: W.Type, _: M.Type, _ bias: Vec, _ x: Vec, _ sx: Vec,
                                               _ h: Vec, _ sh: Vec) -> Vec {
    W.scaled ? M.madd(M.madd(bias, x, sx), h, sh) : (bias + x) + h
}
