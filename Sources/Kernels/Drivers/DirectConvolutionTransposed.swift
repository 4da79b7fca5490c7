#if TESSERA_AVX512
import KernelsAVX512
#endif
import Scheduler

/// Wᵀ in panels of `width` output channels (the micro-kernel's NR: 32 on AVX-512, 16 on SIMD8),
/// K × width floats each, k-major, zero past the last channel: the B operand of
/// `DirectConvolution.forwardTransposed`, packed once per plan for the plan's micro-kernel.
final class ChannelPanels: @unchecked Sendable {
    let outChannels: Int, k: Int, microKernel: GEMMMicroKernel, width: Int, panels: Int
    let storage: UnsafeMutablePointer<Float>
    var byteCount: Int { panels * k * width * 4 }

    /// Packs the O × K row-major weights at `w` for `microKernel`.
    init(outChannels: Int, k: Int, microKernel: GEMMMicroKernel, weights w: UnsafePointer<Float>) {
        self.outChannels = outChannels; self.k = k; self.microKernel = microKernel
        width = microKernel.blocking.nr
        panels = (outChannels + width - 1) / width
        storage = LargeAllocation.allocate(byteCount: panels * k * width * 4)
            .bindMemory(to: Float.self, capacity: panels * k * width)
        repack(weights: w)
    }

    /// Packs new weights of the same shape into this storage: no allocation.
    func repack(weights w: UnsafePointer<Float>) {
        for j in 0..<panels {
            let panel = storage + j * k * width
            for c in 0..<width {
                let o = j * width + c
                for p in 0..<k { panel[p * width + c] = o < outChannels ? w[o * k + p] : 0 }
            }
        }
    }

    func panel(_ j: Int) -> UnsafePointer<Float> { UnsafePointer(storage + j * k * width) }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }
}

extension DirectConvolution {
    /// The largest tile a call computes (8 pixels × 32 channels, for the stack buffers), and calls per parallel tile.
    static let transposedTileFloats = 8 * 32, transposedCallsPerTile = 8

    /// Output pixels per call for weights packed for `kernel`, on a plane of `outPlane` output pixels:
    /// the kernel's MR, 8 on AVX-512 (7 where 7 divides the plane and 8 does not) and 6 on SIMD8. The
    /// channels per call are its NR (`ChannelPanels.width`).
    static func pixelsPerCall(_ kernel: GEMMMicroKernel, pixels outPlane: Int) -> Int {
        let mr = kernel.blocking.mr
        return kernel == .avx512_8x32 && outPlane % mr != 0 && outPlane % 7 == 0 ? 7 : mr
    }

    /// The automatic choice takes this path from this reduction length C·kh·kw on (see `Conv2DPlan`).
    /// 1×1 stride 2 (ResNet's projections, in place: no padding), against the implicit GEMM at
    /// 1 / 2 threads: 256→512 at 56² 99 / 191 against 73 / 173 GFLOPS, 512→1024 at 28² 97 / 200
    /// against 87 / 178, 1024→2048 at 14² 101 / 205 against 76 / 153.
    static let transposedMinimumReduction = 256
    /// The kernel prefetches `prefetchSteps` taps ahead when the padded image exceeds this many bytes.
    /// Zen 4, in-process medians, 1 / 2 threads: 512 channels at 28² (1.8 MB) 91 → 105 / 177 → 215
    /// GFLOPS, 256 at 56² 109 → 112 / 151 → 196; at 14² and 7² (≤ 512 KB, resident in L2) ±3 %.
    static let transposedPrefetchMinimumImage = 512 << 10

    /// Whether `forwardTransposed` applies with weights packed for `kernel`: one group, at least one
    /// call's pixels (8 on AVX-512, 6 on SIMD8).
    static func appliesTransposed(_ g: ConvGeometry, kernel: GEMMMicroKernel) -> Bool {
        let outPlane = g.outHeight * g.outWidth
        return g.groups == 1 && outPlane >= pixelsPerCall(kernel, pixels: outPlane)
    }

    /// Whether the automatic choice runs a 1×1 stride-1 unpadded layer here rather than on `gemm-1x1`:
    /// from 512 input channels, or from 256 with no more output than input channels. It reads the
    /// input in place (no copy) and skips the GEMM's packing of X; with fewer input channels the
    /// per-call transpose weighs more. Zen 4, in-process medians, GFLOPS at 1 / 2 threads against
    /// gemm-1x1: 2048→512 at 7² 108 / 201 against 95 / 174, 1024→256 at 14² 111 / 208 against
    /// 105 / 178, 512→2048 at 7² 105 / 161 against 95 / 149, 512→128 at 28² 112 / 209 against 109,
    /// 256→64 at 56² 106 / 189 against 96 / 182; but 256→1024 at 14² 98 / 143 against 105 / 145,
    /// 128→512 at 28² 102 against 108, 64→256 at 56² 87 / 138 against 100 / 181.
    /// Only with the 8×32 kernel: the 6×16 one, whose step is 6 FMA cycles against 16, stalls on the
    /// new line each 1×1 tap reads (2048→512 at 7²: 72 against gemm-1x1's 104 GFLOPS at 1 thread).
    static func prefersTransposedPointwise(_ g: ConvGeometry, kernel: GEMMMicroKernel) -> Bool {
        let k = g.reductionLength
        return kernel == .avx512_8x32 && appliesTransposed(g, kernel: kernel) && (k >= 512 || (k >= 256 && g.outChannels <= k))
    }

    /// y = conv(x) (+ bias, ReLU) computed transposed, Yᵀ = im2col(X)ᵀ·Wᵀ, straight from a padded copy
    /// of the image (the input itself when unpadded): each kernel call computes 8 consecutive output
    /// pixels (in row-major order, so they may wrap onto the next row) × 32 output channels over all
    /// of K, broadcasting each pixel's taps from the image (`sgemmKernel8x32AVX512BroadcastImage`;
    /// 6 × 16 with `sgemmKernel6x16BroadcastImage` on SIMD8 panels), then transposes the tile into
    /// the NCHW output. Unlike `forward`, whose 32 pixels must be consecutive floats of one row, no
    /// pixel is wasted on narrow rows (28, 14, 7), and strides need no column phases. A last call of
    /// fewer pixels moves back to end at the plane's end (same arithmetic: a pixel computed twice
    /// gets the same value); on AVX-512 a plane of 49 or 196 pixels runs 7 pixels a call instead.
    /// `offsets` is `tapOffsets(g, Layout(g, splitPhases: false))`; `panels` fixes the kernel.
    static func forwardTransposed(
        _ x: UnsafePointer<Float>, _ g: ConvGeometry, panels: ChannelPanels, offsets: UnsafePointer<Int32>,
        bias: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>, threads: Int?
    ) {
        let l = Layout(g, splitPhases: false), width = panels.width
        let k = g.reductionLength, m = g.outChannels, outPlane = g.outHeight * g.outWidth
        // 7 pixels a call (the 7×32 kernel) where 7 divides the plane and 8 does not (49, 196): no pixel
        // computed twice. ResNet's 512 channels at 7², in-process medians: 92 → 110 GFLOPS at 1 thread,
        // 171 → 207 at 2; at 14² ±3 %.
        let avx512 = panels.microKernel == .avx512_8x32, perCall = pixelsPerCall(panels.microKernel, pixels: outPlane)
        let calls = (outPlane + perCall - 1) / perCall
        let pixelBlocks = (calls + transposedCallsPerTile - 1) / transposedCallsPerTile
        let imageBytes = g.inChannels * l.plane * 4
        let prefetchDistance = imageBytes > transposedPrefetchMinimumImage ? prefetchSteps : 0
        // Channel panel outermost within an image, so that consecutive tiles share a panel of Wᵀ; but
        // on an image over 1 MiB and twice Wᵀ, pixel block outermost, so that the panels share the
        // block's image lines instead of each panel streaming the whole image. In-process medians at
        // 2 threads, 8×32 / 6×16 kernel: VGG conv1_2 188 → 197 / 119 → 165 GFLOPS, conv2_1 185 → 192 /
        // 134 → 170, conv2_2 184 → 210 / 49 → 133; panel-major stays better on 64 channels at 56²
        // (0.85 MB: 203 against 192) and equal at 256 channels at 56² (3.4 MB against 2.4 MB of Wᵀ).
        let pixelMajor = imageBytes > max(1 << 20, 2 * panels.byteCount)
        withPaddedImage(x, g, l, productTiles: g.batch * panels.panels * pixelBlocks, threads: threads) { t, padded in
            let n = t / (panels.panels * pixelBlocks), r = t % (panels.panels * pixelBlocks)
            let panel = pixelMajor ? r % panels.panels : r / pixelBlocks, block = pixelMajor ? r / panels.panels : r % pixelBlocks
            let image = padded + n * g.inChannels * l.plane, out = y + n * m * outPlane
            let o0 = panel * width, channels = min(width, m - o0)
            // Three stack buffers: Swift puts one of more than 1 KiB on the heap.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: transposedTileFloats) { scratch in
              withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { paddedBias in
                let tile = scratch.baseAddress!
                // A last panel of fewer than 32 channels reads its bias from a zero-padded copy.
                var columnBias = bias.map { $0 + o0 }
                if let b = bias, channels < width {
                    for c in 0..<width { paddedBias[c] = c < channels ? b[o0 + c] : 0 }
                    columnBias = UnsafePointer(paddedBias.baseAddress!)
                }
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: perCall) { pixels in
                    for call in (block * calls / pixelBlocks)..<((block + 1) * calls / pixelBlocks) {
                        let q = min(call * perCall, outPlane - perCall)
                        for r in 0..<perCall {
                            let oi = (q + r) / g.outWidth, oj = (q + r) % g.outWidth
                            pixels[r] = Int32(oi * g.strideHeight * l.rowLength + oj * g.strideWidth)
                        }
                        if avx512 {
                            #if TESSERA_AVX512
                            sgemmKernel8x32AVX512BroadcastImage(
                                rows: perCall, kc: k, image: image, pixels: pixels.baseAddress!, offsets: offsets, b: panels.panel(panel),
                                c: tile, ldc: width, mode: 0, epilogue: bias != nil || relu, columnBias: columnBias, relu: relu,
                                prefetchDistance: prefetchDistance)
                            #else
                            preconditionFailure("AVX-512 panels in a build without the AVX-512 kernels")
                            #endif
                        } else {
                            sgemmKernel6x16BroadcastImage(
                                kc: k, image: image, pixels: pixels.baseAddress!, offsets: offsets, b: panels.panel(panel),
                                c: tile, ldc: width,
                                epilogue: bias != nil || relu ? KernelEpilogue(columnBias: columnBias, relu: relu) : nil)
                        }
                        GEMM.transposeBlock(rows: perCall, cols: channels, tile, width, out + o0 * outPlane + q, outPlane)
                    }
                }
              }
            }
        }
    }
}
