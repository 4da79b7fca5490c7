#if TESSERA_AVX512
import KernelsAVX512
#endif
import Scheduler

/// Direct convolution as an indirect GEMM (stride-1 width, AVX-512): the image is copied once into
/// a zero-padded buffer, and the 8×32 micro-kernel reads its B operand straight from it through a
/// table of tap offsets (channel, kernel row, kernel column), so nothing is packed per call. A tile
/// of C is 8 output channels × 32 consecutive output pixels of one output row.
enum DirectConvolution {
    static let rowsPerTile = 4, channelsPerTile = 64
    /// The automatic choice takes this path up to this many output channels.
    static let automaticMaxOutChannels = 128

    /// Whether the path applies: AVX-512 weights, stride 1 along the width, one group, output
    /// channels in whole 8-row panels, and output rows at least one 32-wide tile long.
    static func applies(_ g: ConvGeometry, weights: PackedMatrixA) -> Bool {
        weights.microKernel == .avx512_8x32 && g.strideWidth == 1 && g.groups == 1
            && g.outChannels % 8 == 0 && g.outWidth >= 32
    }

    /// Tap offsets in the padded image, in im2col row order (channel, kernel row, kernel column).
    static func tapOffsets(_ g: ConvGeometry) -> [Int32] {
        let p = g.padding
        let hp = g.inHeight + p.top + p.bottom, wp = g.inWidth + p.left + p.right
        var offsets = [Int32](repeating: 0, count: g.reductionLength)
        var q = 0
        for c in 0..<g.inChannels {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    offsets[q] = Int32(c * hp * wp + ki * g.dilationHeight * wp + kj * g.dilationWidth)
                    q += 1
                }
            }
        }
        return offsets
    }

    /// y = conv(x) (+ bias, ReLU) for the whole batch; `offsets` is `tapOffsets(g)`.
    static func forward(
        _ x: UnsafePointer<Float>, _ g: ConvGeometry, weights: PackedMatrixA, offsets offsetTable: UnsafePointer<Int32>,
        bias: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>, threads: Int?
    ) {
        #if TESSERA_AVX512
        let p = g.padding
        let hp = g.inHeight + p.top + p.bottom, wp = g.inWidth + p.left + p.right
        let paddedImage = g.inChannels * hp * wp
        let k = g.reductionLength, m = g.outChannels, outPlane = g.outHeight * g.outWidth
        let kcBlock = weights.microKernel.blocking.kc
        Workspace.withScratch(count: g.batch * paddedImage) { padded in
            // The padded copy: one parallel region over images × channels.
            let planes = g.batch * g.inChannels
            Scheduler.parallelFor(tiles: planes, work: Double(planes * hp * wp) * 8 * Scheduler.flopsPerByte, threads: threads) { t in
                let dst = padded + t * hp * wp, src = x + t * g.inHeight * g.inWidth
                zeroFloats(dst, count: p.top * wp)
                for i in 0..<g.inHeight {
                    let row = dst + (p.top + i) * wp
                    zeroFloats(row, count: p.left)
                    copyFloats(row + p.left, src + i * g.inWidth, count: g.inWidth)
                    zeroFloats(row + p.left + g.inWidth, count: p.right)
                }
                zeroFloats(dst + (p.top + g.inHeight) * wp, count: p.bottom * wp)
            }
            do {
                let rowTiles = (g.outHeight + rowsPerTile - 1) / rowsPerTile
                let channelTiles = (m + channelsPerTile - 1) / channelsPerTile
                let tiles = g.batch * rowTiles * channelTiles
                Scheduler.parallelFor(tiles: tiles, work: g.flops, threads: threads) { t in
                    let n = t / (rowTiles * channelTiles), rest = t % (rowTiles * channelTiles)
                    let rowTile = rest / channelTiles, channelTile = rest % channelTiles
                    let image = UnsafePointer(padded + n * paddedImage)
                    let out = y + n * m * outPlane
                    let o1 = min(m, (channelTile + 1) * channelsPerTile)
                    var o = channelTile * channelsPerTile
                    while o < o1 {
                        for oi in (rowTile * rowsPerTile)..<min(g.outHeight, (rowTile + 1) * rowsPerTile) {
                            let rowBase = image + oi * g.strideHeight * wp
                            // 32-wide tiles along the row; a last partial tile moves back to end at the row's end.
                            _ = coverWithGroups(from: 0, to: g.outWidth, width: 32, last: g.outWidth - 32) { oj in
                                var p0 = 0
                                while p0 < k {
                                    let kc = min(kcBlock, k - p0)
                                    let isLast = p0 + kc == k
                                    sgemmKernel8x32AVX512Indirect(
                                        kc: kc, a: weights.storage + p0 * weights.paddedM + o * kc, b: rowBase + oj,
                                        offsets: offsetTable + p0, c: out + o * outPlane + oi * g.outWidth + oj, ldc: outPlane,
                                        alpha: 1, mode: p0 == 0 ? 0 : 2, beta: 0, epilogue: isLast && (bias != nil || relu),
                                        rowBias: bias.map { $0 + o }, columnBias: nil, relu: relu)
                                    p0 += kc
                                }
                            }
                        }
                        o += 8
                    }
                }
            }
        }
        #else
        preconditionFailure("the direct path needs the AVX-512 kernels")
        #endif
    }
}
