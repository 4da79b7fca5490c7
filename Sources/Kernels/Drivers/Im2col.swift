/// im2col of one image (SEEDS-DIGEST O3, [002] img2col): rows q = (c·kh + i)·kw + j, columns = output
/// pixels in row-major order; padding reads as 0. Copies whole output rows where the tap is in bounds.
func im2col(
    _ x: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry, into cols: UnsafeMutablePointer<Float>
) {
    let oh = g.outHeight, ow = g.outWidth, pixels = oh * ow
    var q = 0
    for c in 0..<channels {
        let plane = x + c * g.inHeight * g.inWidth
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
