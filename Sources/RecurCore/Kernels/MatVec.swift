// A packed matrix for the general (non-fused) paths: rows in blocks of 16,
// each block one panel of [bias vector][one vector per column], the same
// panel shape as Dense. Rows of recurrent cells are gate-padded: gate k's
// unit u is row k * paddedHidden + u, so every gate starts a new block.

/// Floats of a packed matrix with `rows` (a multiple of 16) and `columns`.
func matVecFloats(rows: Int, columns: Int) throws(RecurError) -> Int {
    try checkedProduct(rows / lanes, 1 + columns, lanes)
}

/// Packs `value(row, column)` and `bias(row)` for rows < `rows`; the caller
/// has zeroed the panels, so padded rows stay zero.
func packMatVec(_ panels: UnsafeMutablePointer<Float>, paddedRows: Int, columns: Int,
                rows: (Int) -> Int?, value: (Int, Int) -> Float, bias: (Int) -> Float) {
    let panelFloats = (1 + columns) * lanes
    for padded in 0..<paddedRows {
        guard let row = rows(padded) else { continue }
        let panel = panels + (padded / lanes) * panelFloats
        let lane = padded % lanes
        panel[lane] = bias(row)
        for c in 0..<columns { panel[(1 + c) * lanes + lane] = value(row, c) }
    }
}

/// out[block] = (accumulate ? out[block] : 0) + bias + W x, for blocks in
/// `blocks` of a packed matrix with `columns` columns.
@inlinable @inline(__always)
func matVec<M: MultiplyAdd>(_ m: M.Type, _ panels: UnsafePointer<Vec>, columns: Int, blocks: Range<Int>,
                            _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let stride = 1 &+ columns
    for b in blocks {
        let panel = panels + b &* stride
        var a = panel[0]
        accumulate1(m, &a, panel + 1, x, columns)
        let o = UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self)
        o.pointee = accumulate ? o.pointee + a : a
    }
}

// Narrow packed matrices (Narrow.swift): each block's panel is [bias
// vector][row scales (int8, int8 codes)][the columns in pairs], rounded up
// to 64 bytes.

extension WeightStorage {
    /// Bytes of one 16-row block of a packed matrix with `columns` columns.
    func matVecPanelBytes(columns: Int) throws(RecurError) -> Int {
        if self == .float32 { return try checkedProduct(1 + columns, lanes, 4) }
        return try roundUp(try checkedSum((scaled ? 2 : 1) * lanes * 4, try partBytes(gates: 1, columns: columns)), alignment)
    }

    /// Bytes of a packed matrix with `rows` (a multiple of 16) and `columns`.
    func matVecBytes(rows: Int, columns: Int) throws(RecurError) -> Int {
        try checkedProduct(rows / lanes, try matVecPanelBytes(columns: columns))
    }
}

/// packMatVec for narrow panels: `bits(row, column)` is the element as the
/// file stores it, `scale(row)` its row's scale.
func packMatVecNarrow(_ panels: UnsafeMutableRawPointer, _ storage: WeightStorage, paddedRows: Int, columns: Int,
                      rows: (Int) -> Int?, bits: (Int, Int) -> UInt16, scale: (Int) -> Float, bias: (Int) -> Float) {
    let panelBytes = (try? storage.matVecPanelBytes(columns: columns)) ?? 0  // planned already: does not throw
    let head = (storage.scaled ? 2 : 1) * lanes * 4
    for block in 0..<paddedRows / lanes {
        let panel = panels + block * panelBytes
        let floats = panel.assumingMemoryBound(to: Float.self)
        for lane in 0..<lanes {
            guard let row = rows(block * lanes + lane) else { continue }
            floats[lane] = bias(row)
            if storage.scaled { floats[lanes + lane] = scale(row) }
        }
        storage.pack(panel + head, gates: 1, columns: columns, lanesUsed: lanes) { _, lane, k in
            rows(block * lanes + lane).map { bits($0, k) } ?? 0
        }
    }
}

/// How a cell's packed matrices are multiplied: float32 panels or narrow
/// ones (GeneralCell runs generic over it).
public protocol PanelProduct {
    /// matVec over the panels at `panels`.
    static func product<M: MultiplyAdd>(_ m: M.Type, _ panels: UnsafeRawPointer, columns: Int, blocks: Range<Int>,
                                        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, accumulate: Bool)
    /// Bytes of one block's panel.
    static func panelBytes(columns: Int) -> Int
}

public enum Float32Panels: PanelProduct {
    @inlinable @inline(__always)
    public static func product<M: MultiplyAdd>(_ m: M.Type, _ panels: UnsafeRawPointer, columns: Int, blocks: Range<Int>,
                                               _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                               accumulate: Bool) {
        matVec(m, panels.assumingMemoryBound(to: Vec.self), columns: columns, blocks: blocks, x, out, accumulate: accumulate)
    }

    @inlinable @inline(__always)
    public static func panelBytes(columns: Int) -> Int { (1 &+ columns) &* MemoryLayout<Vec>.stride }
}

public enum NarrowPanels<W: NarrowWeights>: PanelProduct {
    /// out[block] = (accumulate ? out[block] : 0) + bias + s ⊙ Σ, the columns widened in registers.
    @inlinable @inline(__always)
    public static func product<M: MultiplyAdd>(_ m: M.Type, _ panels: UnsafeRawPointer, columns: Int, blocks: Range<Int>,
                                               _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                               accumulate: Bool) {
        let bytes = panelBytes(columns: columns), head = (W.scaled ? 2 : 1) &* MemoryLayout<Vec>.stride
        for b in blocks {
            let panel = panels + b &* bytes
            let v = panel.assumingMemoryBound(to: Vec.self)
            let sum = narrow1(W.self, m, panel + head, x, columns)
            let a = W.scaled ? M.madd(v[0], sum, v[1]) : v[0] + sum
            let o = UnsafeMutableRawPointer(out + b &* lanes).assumingMemoryBound(to: Vec.self)
            o.pointee = accumulate ? o.pointee + a : a
        }
    }

    @inlinable @inline(__always)
    public static func panelBytes(columns: Int) -> Int {
        let head = (W.scaled ? 2 : 1) &* MemoryLayout<Vec>.stride
        return (head &+ W.partBytes(gates: 1, columns: columns) &+ 63) & ~63
    }
}
