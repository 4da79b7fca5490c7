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

/// The kh·kw rows of im2col that come from one input channel plane. Copies whole output rows
/// where the tap is in bounds.
func im2colChannel(_ plane: UnsafePointer<Float>, _ g: ConvGeometry, into cols: UnsafeMutablePointer<Float>) {
    let oh = g.outHeight, ow = g.outWidth, pixels = oh * ow
    var q = 0
    do {
        for ki in 0..<g.kernelHeight {
            for kj in 0..<g.kernelWidth {
                let row = cols + q * pixels
                let dj = kj * g.dilationWidth - g.padding.left
                for oi in 0..<oh {
                    let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                    let out = row + oi * ow
                    guard ii >= 0 && ii < g.inHeight else {
                        out.update(repeating: 0, count: ow)
                        continue
                    }
                    let src = plane + ii * g.inWidth
                    if g.strideWidth == 1 {
                        // In-bounds output columns: 0 ≤ oj + dj < inWidth.
                        let lo = min(max(0, -dj), ow), hi = max(lo, min(ow, g.inWidth - dj))
                        if lo > 0 { out.update(repeating: 0, count: lo) }
                        if hi > lo { out.advanced(by: lo).update(from: src + lo + dj, count: hi - lo) }
                        if hi < ow { out.advanced(by: hi).update(repeating: 0, count: ow - hi) }
                    } else {
                        for oj in 0..<ow {
                            let jj = oj * g.strideWidth + dj
                            out[oj] = jj >= 0 && jj < g.inWidth ? src[jj] : 0
                        }
                    }
                }
                q += 1
            }
        }
    }
}

/// Packs im2col(x)[p0..<p0+kc, n0..<n0+nc] of one image straight into zero-padded NR-column panels:
/// the B operand of the implicit GEMM, never materialized whole. Row q of im2col is channel
/// q / (kh·kw), tap ((q mod kh·kw) / kw, q mod kw); column p is output pixel (p / ow, p mod ow).
func packIm2colPanels(
    _ x: UnsafePointer<Float>, _ g: ConvGeometry, p0: Int, kc: Int, n0: Int, nc: Int, nr: Int,
    dst: UnsafeMutablePointer<Float>
) {
    let taps = g.kernelHeight * g.kernelWidth, ow = g.outWidth
    let plane = g.inHeight * g.inWidth
    var panel = dst
    var j0 = 0
    while j0 < nc {
        let cols = min(nr, nc - j0)
        for p in 0..<kc {
            let q = p0 + p
            let c = q / taps, tap = q - c * taps
            let ki = tap / g.kernelWidth, kj = tap - ki * g.kernelWidth
            let src = x + c * plane
            let out = panel + p * nr
            var pixel = n0 + j0, j = 0
            while j < cols {
                let oi = pixel / ow, oj = pixel - oi * ow
                let run = min(cols - j, ow - oj)
                let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                let o = out + j
                if ii < 0 || ii >= g.inHeight {
                    zeroFloats(o, count: run)
                } else {
                    let row = src + ii * g.inWidth
                    let jj0 = oj * g.strideWidth - g.padding.left + kj * g.dilationWidth
                    if g.strideWidth == 1 {
                        // In-bounds part of the run: 0 ≤ jj0 + t < inWidth.
                        let lo = min(max(0, -jj0), run), hi = max(lo, min(run, g.inWidth - jj0))
                        if lo > 0 { zeroFloats(o, count: lo) }
                        if hi > lo { copyFloats(o + lo, row + jj0 + lo, count: hi - lo) }
                        if hi < run { zeroFloats(o + hi, count: run - hi) }
                    } else {
                        // In-bounds part of the strided run: 0 ≤ jj0 + s·t < inWidth.
                        let s = g.strideWidth
                        let lo = min(max(0, (-jj0 + s - 1) / s), run)
                        let hi = max(lo, min(run, jj0 < g.inWidth ? (g.inWidth - 1 - jj0) / s + 1 : 0))
                        if lo > 0 { zeroFloats(o, count: lo) }
                        var t = lo
                        // Groups of 8 read up to s·7 + 1 (stride 2: 15) floats past their first element.
                        while t + 8 <= hi && jj0 + s * t + (s == 2 ? 15 : 7 * s) < g.inWidth {
                            store8(loadStrided8(row + jj0 + s * t, s), o, t)
                            t += 8
                        }
                        while t < hi { o[t] = row[jj0 + s * t]; t += 1 }
                        if hi < run { zeroFloats(o + hi, count: run - hi) }
                    }
                }
                j += run
                pixel += run
            }
            if cols < nr { zeroFloats(out + cols, count: nr - cols) }
        }
        panel += kc * nr
        j0 += nr
    }
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
