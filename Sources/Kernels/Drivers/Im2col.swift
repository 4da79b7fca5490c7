import Scheduler

/// im2col of one image (SEEDS-DIGEST O3, [002] img2col): rows q = (c·kh + i)·kw + j, columns = output
/// pixels in row-major order; padding reads as 0. Parallel over channels (each writes its own rows).
func im2col(
    _ x: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry, into cols: UnsafeMutablePointer<Float>, threads: Int?
) {
    let rows = g.kernelHeight * g.kernelWidth, pixels = g.outHeight * g.outWidth
    // A copy is worth about 8 flop-equivalents per element (a load and a store through L2/L3).
    Scheduler.parallelFor(tiles: channels, work: Double(channels * rows * pixels) * 2 * 4 * Scheduler.flopsPerByte,
                          threads: threads) { c in
        im2colChannel(x + c * g.inHeight * g.inWidth, g, into: cols + c * rows * pixels)
    }
}

/// The kh·kw rows of im2col that come from one input channel plane, one output row at a time.
/// With `outputRows`, only the columns of those output rows (a chunk of `outputRows.count·ow` columns).
func im2colChannel(_ plane: UnsafePointer<Float>, _ g: ConvGeometry, into cols: UnsafeMutablePointer<Float>,
                   outputRows: Range<Int>? = nil) {
    let rows = outputRows ?? 0..<g.outHeight
    let ow = g.outWidth, pixels = rows.count * ow
    var q = 0
    for ki in 0..<g.kernelHeight {
        for kj in 0..<g.kernelWidth {
            let dj = kj * g.dilationWidth - g.padding.left
            for oi in rows {
                let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                let out = cols + q * pixels + (oi - rows.lowerBound) * ow
                if ii < 0 || ii >= g.inHeight {
                    zeroFloats(out, count: ow)
                } else {
                    copyRow(out, plane + ii * g.inWidth, start: dj, stride: g.strideWidth, count: ow, width: g.inWidth)
                }
            }
            q += 1
        }
    }
}

/// col2im for one input channel plane (SEEDS-DIGEST O4: "row2im"): the inverse scatter of
/// `im2colChannel`. Each of the plane's kh·kw rows of `cols` (columns = the output pixels of
/// `outputRows`) is added back to the input element it was copied from; padding is dropped and
/// overlapping windows add. The order of the additions is fixed, so results do not depend on threads.
func col2imChannel(_ cols: UnsafePointer<Float>, _ g: ConvGeometry, into plane: UnsafeMutablePointer<Float>,
                   outputRows rows: Range<Int>) {
    let ow = g.outWidth, pixels = rows.count * ow, s = g.strideWidth
    var q = 0
    for ki in 0..<g.kernelHeight {
        for kj in 0..<g.kernelWidth {
            let jj0 = kj * g.dilationWidth - g.padding.left
            // Output columns whose input column lies inside 0..<inWidth.
            let lo = min(max(0, (-jj0 + s - 1) / s), ow)
            let hi = max(lo, min(ow, jj0 < g.inWidth ? (g.inWidth - 1 - jj0) / s + 1 : 0))
            for oi in rows {
                let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                if ii < 0 || ii >= g.inHeight { continue }
                let src = cols + q * pixels + (oi - rows.lowerBound) * ow
                let dst = plane + ii * g.inWidth + jj0
                if s == 1 {
                    var t = lo
                    while t + 8 <= hi { store8(load8(dst, t) + load8(src, t), dst, t); t += 8 }
                    while t < hi { dst[t] += src[t]; t += 1 }
                } else {
                    for t in lo..<hi { dst[s * t] += src[t] }
                }
            }
            q += 1
        }
    }
}

/// Packs im2col(x)[p0..<p0+kc, n0..<n0+nc] of one image straight into zero-padded NR-column panels:
/// the B operand of the implicit GEMM, never materialized whole. Row q of im2col is channel
/// q / (kh·kw), tap ((q mod kh·kw) / kw, q mod kw); column p is output pixel (p / ow, p mod ow).
/// A panel's pixels split into runs along output rows; the runs are worked out once per panel and
/// the taps advance incrementally, so the inner loops do no integer division.
func packIm2colPanels(
    _ x: UnsafePointer<Float>, _ g: ConvGeometry, p0: Int, kc: Int, n0: Int, nc: Int, nr: Int,
    dst: UnsafeMutablePointer<Float>
) {
    let taps = g.kernelHeight * g.kernelWidth, ow = g.outWidth
    let plane = g.inHeight * g.inWidth
    withUnsafeTemporaryAllocation(of: (row: Int, column: Int, offset: Int, length: Int).self, capacity: nr) { runs in
        var panel = dst
        var j0 = 0
        while j0 < nc {
            let cols = min(nr, nc - j0)
            // The runs of this panel: (output row, first output column, offset in the panel, length).
            var runCount = 0
            var pixel = n0 + j0, j = 0
            while j < cols {
                let oi = pixel / ow, oj = pixel - oi * ow
                let length = min(cols - j, ow - oj)
                runs[runCount] = (oi, oj, j, length)
                runCount += 1
                j += length
                pixel += length
            }
            let c0 = p0 / taps, tap0 = p0 - c0 * taps
            var c = c0, ki = tap0 / g.kernelWidth, kj = tap0 - (tap0 / g.kernelWidth) * g.kernelWidth
            for p in 0..<kc {
                let src = x + c * plane
                let out = panel + p * nr
                for r in 0..<runCount {
                    let run = runs[r]
                    let o = out + run.offset
                    let ii = run.row * g.strideHeight - g.padding.top + ki * g.dilationHeight
                    if ii < 0 || ii >= g.inHeight {
                        zeroFloats(o, count: run.length)
                        continue
                    }
                    let row = src + ii * g.inWidth
                    let jj0 = run.column * g.strideWidth - g.padding.left + kj * g.dilationWidth
                    copyRow(o, row, start: jj0, stride: g.strideWidth, count: run.length, width: g.inWidth)
                }
                if cols < nr { zeroFloats(out + cols, count: nr - cols) }
                kj += 1
                if kj == g.kernelWidth { kj = 0; ki += 1; if ki == g.kernelHeight { ki = 0; c += 1 } }
            }
            panel += kc * nr
            j0 += nr
        }
    }
}

/// o[t] = row[start + stride·t] for t in 0..<count, reading 0 outside 0..<width.
@inline(__always)
func copyRow(_ o: UnsafeMutablePointer<Float>, _ row: UnsafePointer<Float>, start jj0: Int, stride s: Int, count run: Int, width: Int) {
    if s == 1 {
        let lo = min(max(0, -jj0), run), hi = max(lo, min(run, width - jj0))
        if lo > 0 { zeroFloats(o, count: lo) }
        if hi > lo { copyFloats(o + lo, row + jj0 + lo, count: hi - lo) }
        if hi < run { zeroFloats(o + hi, count: run - hi) }
        return
    }
    let lo = min(max(0, (-jj0 + s - 1) / s), run)
    let hi = max(lo, min(run, jj0 < width ? (width - 1 - jj0) / s + 1 : 0))
    if lo > 0 { zeroFloats(o, count: lo) }
    var t = lo
    // Groups of 8 read up to s·7 + 1 (stride 2: 15) floats past their first element.
    while t + 8 <= hi && jj0 + s * t + (s == 2 ? 15 : 7 * s) < width {
        store8(loadStrided8(row + jj0 + s * t, s), o, t)
        t += 8
    }
    while t < hi { o[t] = row[jj0 + s * t]; t += 1 }
    if hi < run { zeroFloats(o + hi, count: run - hi) }
}

/// Short copies inside the packer: SIMD8 moves instead of a memmove call per run of pixels.
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count { store8(load8(src, i), dst, i); i += 8 }
    while i < count { dst[i] = src[i]; i += 1 }
}

@inline(__always)
func zeroFloats(_ dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count { store8(SIMD8<Float>(), dst, i); i += 8 }
    while i < count { dst[i] = 0; i += 1 }
}
