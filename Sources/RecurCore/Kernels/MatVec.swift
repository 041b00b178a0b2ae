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
