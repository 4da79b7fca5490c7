#if TESSERA_AVX512
import KernelsAVX512
#endif
import Scheduler

/// Direct convolution as an indirect GEMM: the image is copied once into a zero-padded buffer, and
/// the micro-kernel reads its B operand straight from it through a table of tap offsets (channel,
/// kernel row, kernel column), so nothing is packed per call. A tile of C is one panel of output
/// channels × consecutive output pixels of one output row: 8 × 32 with the AVX-512 kernel, 6 × 16
/// with the SIMD8 one (`sgemmKernel6x16Indirect`).
///
/// With a stride s along the width, each padded row is stored as s column phases (columns
/// ≡ 0, 1, …, s−1 mod s, one after the other): output column oj at tap column kj reads padded column
/// s·oj + kj·dilation, which is entry oj + ⌊kj·dilation/s⌋ of phase kj·dilation mod s, so the pixels
/// of a tile are still consecutive floats (the ResNet stem, 7×7 stride 2, runs this way).
enum DirectConvolution {
    /// Output rows per parallel tile, and channel panels per parallel tile.
    static let rowsPerTile = 4, panelsPerTile = 8
    /// The padded copy is cut into about this many tiles: whole planes, or bands of a plane's rows.
    static let copyTilesTarget = 8
    /// The automatic choice takes this path up to this many output channels.
    static let automaticMaxOutChannels = 128
    /// The 8×32 AVX-512 kernel prefetches the image `prefetchSteps` taps ahead on padded rows of at
    /// least `prefetchMinimumRow` floats. Zen 4, alternating in-process medians of 8 rounds, 1 thread:
    /// VGG conv1_2 (rows of 226) 91 → 102 GFLOPS (150 → 167 and 177 → 201 at 2 threads, two runs), 32 channels at 224²
    /// 69 → 90, 64 at 160² 92 → 103, 64 at 200² 88 → 98, 128 at 160² 100 → 107; on rows of 114 and
    /// less (conv2_x, ResNet's 64-channel 3×3) it was 0 to −2 %, so it is off there. Distances 48–96
    /// were slower than 32.
    static let prefetchSteps = 32, prefetchMinimumRow = 128

    /// Whether the path applies: one group, and
    /// - AVX-512 weights: output channels in whole 8-row panels, output rows at least one 32-wide tile;
    /// - SIMD8 weights: output rows at least one 16-wide tile, and the whole reduction in one K block
    ///   (C·kh·kw ≤ KC = 256: the layers with few input channels this path is for, VGG conv1_1 and
    ///   the ResNet stem), so each tile is one kernel call that stores C once; a last panel of fewer
    ///   than 6 channels goes through a scratch tile.
    static func applies(_ g: ConvGeometry, weights: PackedMatrixA) -> Bool {
        guard g.groups == 1 else { return false }
        switch weights.microKernel {
        case .avx512_8x32: return g.outChannels % 8 == 0 && g.outWidth >= 32
        case .simd8_6x16: return g.outWidth >= 16 && g.reductionLength <= weights.blocking.kc
        }
    }

    /// The padded copy's layout: `phaseWidth` floats per column phase, `rowLength` (= stride ×
    /// phaseWidth) per padded row, `plane` per channel. Stride 1 is the plain padded image.
    struct Layout {
        let paddedHeight: Int, paddedWidth: Int, phases: Int, phaseWidth: Int
        var rowLength: Int { phases * phaseWidth }
        var plane: Int { paddedHeight * rowLength }

        /// `splitPhases`: false stores plain padded rows whatever the stride (the transposed path,
        /// whose pixels need not be consecutive floats).
        init(_ g: ConvGeometry, splitPhases: Bool = true) {
            let p = g.padding
            paddedHeight = g.inHeight + p.top + p.bottom
            paddedWidth = g.inWidth + p.left + p.right
            phases = splitPhases ? g.strideWidth : 1
            // Whole vectors per phase, so that the stride-2 split stores 8 floats at a time.
            phaseWidth = phases == 1 ? paddedWidth : ((paddedWidth + phases - 1) / phases + 7) / 8 * 8
        }

        /// Where padded column `column` of a row lives, from the row's start.
        func offset(ofColumn column: Int) -> Int { column % phases * phaseWidth + column / phases }
    }

    /// Tap offsets in the padded copy of layout `l`, in im2col row order (channel, kernel row, kernel column).
    static func tapOffsets(_ g: ConvGeometry, _ l: Layout) -> [Int32] {
        var offsets = [Int32](repeating: 0, count: g.reductionLength)
        var q = 0
        for c in 0..<g.inChannels {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    offsets[q] = Int32(c * l.plane + ki * g.dilationHeight * l.rowLength + l.offset(ofColumn: kj * g.dilationWidth))
                    q += 1
                }
            }
        }
        return offsets
    }

    /// One padded row of the copy: `source` (the image row, `width` floats) between `left` and
    /// `right` zeros, split into the layout's column phases at `dst`. `row` is scratch of at least
    /// `paddedWidth` rounded up to 16 floats.
    @inline(__always)
    static func padRow(_ source: UnsafePointer<Float>, width: Int, left: Int, right: Int, _ l: Layout,
                       dst: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>) {
        let target = l.phases == 1 ? dst : row
        zeroFloats(target, count: left)
        copyFloats(target + left, source, count: width)
        zeroFloats(target + left + width, count: right)
        if l.phases == 1 { return }
        let vectors = (l.paddedWidth + 15) / 16 * 16
        zeroFloats(row + l.paddedWidth, count: vectors - l.paddedWidth)
        if l.phases == 2 {
            // The two phases are vectors/2 = phaseWidth floats each: every float is stored.
            var t = 0
            while t < vectors {
                let a = load8(row, t), b = load8(row, t + 8)
                store8(SIMD8(lowHalf: a.evenHalf, highHalf: b.evenHalf), dst, t / 2)
                store8(SIMD8(lowHalf: a.oddHalf, highHalf: b.oddHalf), dst + l.phaseWidth, t / 2)
                t += 16
            }
        } else {
            zeroFloats(dst, count: l.rowLength)   // phase tails past their last column
            for column in 0..<l.paddedWidth { dst[l.offset(ofColumn: column)] = row[column] }
        }
    }

    /// y = conv(x) (+ bias, ReLU) for the whole batch; `offsets` is `tapOffsets(g, Layout(g))`.
    static func forward(
        _ x: UnsafePointer<Float>, _ g: ConvGeometry, weights: PackedMatrixA, offsets offsetTable: UnsafePointer<Int32>,
        bias: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>, threads: Int?
    ) {
        let l = Layout(g)
        let m = g.outChannels, outPlane = g.outHeight * g.outWidth
        let mr = weights.microKernel.blocking.mr, channelsPerTile = panelsPerTile * mr
        let rowTiles = (g.outHeight + rowsPerTile - 1) / rowsPerTile
        let channelTiles = (m + channelsPerTile - 1) / channelsPerTile
        withPaddedImage(x, g, l, productTiles: g.batch * rowTiles * channelTiles, threads: threads) { t, padded in
            let n = t / (rowTiles * channelTiles), rest = t % (rowTiles * channelTiles)
            let rowTile = rest / channelTiles, channelTile = rest % channelTiles
            let image = padded + n * g.inChannels * l.plane
            let out = y + n * m * outPlane
            let o0 = channelTile * channelsPerTile, o1 = min(m, o0 + channelsPerTile)
            let oRows = (rowTile * rowsPerTile)..<min(g.outHeight, (rowTile + 1) * rowsPerTile)
            switch weights.microKernel {
            case .avx512_8x32:
                forwardTileAVX512(g, l, weights: weights, offsets: offsetTable, image: image, channels: o0..<o1, outputRows: oRows,
                                  bias: bias, relu: relu, out: out)
            case .simd8_6x16:
                forwardTileSIMD8(g, l, weights: weights, offsets: offsetTable, image: image, channels: o0..<o1, outputRows: oRows,
                                 bias: bias, relu: relu, out: out)
            }
        }
    }

    /// Copies the batch into a zero-padded buffer of layout `l` (or, with no padding and no column
    /// phases, hands over the input itself) and runs `product(tile, padded)` for `productTiles`
    /// tiles, in one parallel region: the copy runs as the region's first tiles (a
    /// plane, or a band of a plane's rows), which the product tiles wait for, shared by the workers
    /// and overlapping their wake-up, instead of on the caller alone before the region (56 µs of the
    /// stem at 1 thread, 100–126 at 2, where the other core held the buffer's lines). In-process
    /// alternating medians, Zen 3, 2 threads: stem +2 to +6 %, VGG conv1_1 +2 to +24 %.
    static func withPaddedImage(
        _ x: UnsafePointer<Float>, _ g: ConvGeometry, _ l: Layout, productTiles tiles: Int, threads: Int?,
        _ product: (_ tile: Int, _ padded: UnsafePointer<Float>) -> Void
    ) {
        let p = g.padding
        let paddedImage = g.inChannels * l.plane
        // Without padding or column phases the padded copy would equal the input: read it in place
        // (ResNet-50's 1×1 layers on the transposed path: 2048→512 at 7², 97 → 108 GFLOPS at 1 thread,
        // 140 → 201 at 2, in-process medians).
        if p == .zero && l.phases == 1 {
            let workers = Scheduler.threadCount(tiles: tiles, work: g.flops, threads: threads)
            Scheduler.parallelFor(tiles: tiles, workers: workers) { tile, _ in product(tile, x) }
            return
        }
        let planes = g.batch * g.inChannels
        let bands = max(1, min((copyTilesTarget + planes - 1) / planes, g.inHeight / 8))
        let copyTiles = planes * bands
        let workers = Scheduler.threadCount(tiles: copyTiles + tiles, work: g.flops, threads: threads)
        // Each worker splits rows into phases through a row of its own.
        let rowScratch = l.phases == 1 ? 0 : (l.paddedWidth + 15) / 16 * 16
        Workspace.withScratch(count: g.batch * paddedImage + workers * rowScratch) { padded in
            let rows = padded + g.batch * paddedImage
            let copied = TileLatch()
            Scheduler.parallelFor(tiles: copyTiles + tiles, workers: workers) { tile, worker in
                if tile < copyTiles {
                    let plane = tile / bands, band = tile % bands
                    let dst = padded + plane * l.plane, src = x + plane * g.inHeight * g.inWidth
                    let i0 = g.inHeight * band / bands, i1 = g.inHeight * (band + 1) / bands
                    if band == 0 { zeroFloats(dst, count: p.top * l.rowLength) }
                    for i in i0..<i1 {
                        padRow(src + i * g.inWidth, width: g.inWidth, left: p.left, right: p.right, l,
                               dst: dst + (p.top + i) * l.rowLength, row: rows + worker * rowScratch)
                    }
                    if band == bands - 1 { zeroFloats(dst + (p.top + g.inHeight) * l.rowLength, count: p.bottom * l.rowLength) }
                    copied.arrive()
                    return
                }
                copied.wait(until: copyTiles)
                product(tile - copyTiles, padded)
            }
        }
    }

    /// One parallel tile on the 8×32 AVX-512 kernel: panels of 8 channels × 32-wide pixel tiles,
    /// K in blocks of the weights' KC.
    private static func forwardTileAVX512(
        _ g: ConvGeometry, _ l: Layout, weights: PackedMatrixA, offsets offsetTable: UnsafePointer<Int32>, image: UnsafePointer<Float>,
        channels: Range<Int>, outputRows: Range<Int>, bias: UnsafePointer<Float>?, relu: Bool, out: UnsafeMutablePointer<Float>
    ) {
        #if TESSERA_AVX512
        let k = g.reductionLength, outPlane = g.outHeight * g.outWidth, kcBlock = weights.blocking.kc
        let prefetchDistance = l.rowLength >= prefetchMinimumRow ? prefetchSteps : 0
        for o in stride(from: channels.lowerBound, to: channels.upperBound, by: 8) {
            for oi in outputRows {
                let rowBase = image + oi * g.strideHeight * l.rowLength
                // 32-wide tiles along the row; the last 1–16 pixels take the half-width kernel,
                // 17–31 a 32-wide tile moved back to end at the row's end. Both kernels store
                // through the same arithmetic, so a pixel computed twice gets the same value.
                func run(_ oj: Int, halfWidth: Bool) {
                    var p0 = 0
                    while p0 < k {
                        let kc = min(kcBlock, k - p0)
                        let isLast = p0 + kc == k
                        let a = weights.storage + p0 * weights.paddedM + o * kc, c = out + o * outPlane + oi * g.outWidth + oj
                        let epilogue = isLast && (bias != nil || relu)
                        if halfWidth {
                            sgemmKernel8x16AVX512Indirect(kc: kc, a: a, b: rowBase + oj, offsets: offsetTable + p0, c: c, ldc: outPlane,
                                                          alpha: 1, mode: p0 == 0 ? 0 : 2, beta: 0, epilogue: epilogue,
                                                          rowBias: bias.map { $0 + o }, columnBias: nil, relu: relu)
                        } else {
                            sgemmKernel8x32AVX512Indirect(kc: kc, a: a, b: rowBase + oj, offsets: offsetTable + p0, c: c, ldc: outPlane,
                                                          alpha: 1, mode: p0 == 0 ? 0 : 2, beta: 0, epilogue: epilogue,
                                                          rowBias: bias.map { $0 + o }, columnBias: nil, relu: relu,
                                                          prefetchDistance: prefetchDistance)
                        }
                        p0 += kc
                    }
                }
                var oj = 0
                while oj + 32 <= g.outWidth { run(oj, halfWidth: false); oj += 32 }
                let rest = g.outWidth - oj
                if rest > 16 { run(g.outWidth - 32, halfWidth: false) } else if rest > 0 { run(g.outWidth - 16, halfWidth: true) }
            }
        }
        #else
        preconditionFailure("the AVX-512 kernels are not in this build")
        #endif
    }

    /// One parallel tile on the 6×16 SIMD8 kernel: panels of 6 channels × 16-wide pixel tiles, all
    /// of K in one call (`applies`). The last 1–15 pixels of a row take a 16-wide tile moved back to
    /// end at the row's end (same kernel, same inputs: a pixel computed twice gets the same value);
    /// a last panel of fewer than 6 channels runs on a scratch tile (`GEMM.onScratchTile`).
    private static func forwardTileSIMD8(
        _ g: ConvGeometry, _ l: Layout, weights: PackedMatrixA, offsets: UnsafePointer<Int32>, image: UnsafePointer<Float>,
        channels: Range<Int>, outputRows: Range<Int>, bias: UnsafePointer<Float>?, relu: Bool, out: UnsafeMutablePointer<Float>
    ) {
        let k = g.reductionLength, outPlane = g.outHeight * g.outWidth
        let blocking = GEMMMicroKernel.simd8_6x16.blocking
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blocking.mr * blocking.nr + blocking.mr + blocking.nr) { scratch in
            for o in stride(from: channels.lowerBound, to: channels.upperBound, by: 6) {
                let rows = min(6, channels.upperBound - o)
                let epilogue: KernelEpilogue? = bias != nil || relu ? KernelEpilogue(rowBias: bias.map { $0 + o }, relu: relu) : nil
                let a = weights.storage + o * k
                for oi in outputRows {
                    let rowBase = image + oi * g.strideHeight * l.rowLength
                    let yRow = out + o * outPlane + oi * g.outWidth
                    func run(_ oj: Int) {
                        if rows == 6 {
                            sgemmKernel6x16Indirect(kc: k, a: a, b: rowBase + oj, offsets: offsets, c: yRow + oj, ldc: outPlane,
                                                    epilogue: epilogue)
                        } else {
                            GEMM.onScratchTile(mr: blocking.mr, nr: blocking.nr, c: yRow + oj, ldc: outPlane, rows: rows, cols: 16, mode: .overwrite,
                                               epilogue: epilogue, scratch: scratch.baseAddress!) { tile, e in
                                sgemmKernel6x16Indirect(rows: rows, kc: k, a: a, b: rowBase + oj, offsets: offsets, c: tile, ldc: 16,
                                                        epilogue: e)
                            }
                        }
                    }
                    var oj = 0
                    while oj + 16 <= g.outWidth { run(oj); oj += 16 }
                    if oj < g.outWidth { run(g.outWidth - 16) }
                }
            }
        }
    }
}
