#if TESSERA_AVX512
import KernelsAVX512
#endif
import Scheduler

/// Winograd F(m×m, 3×3) convolution (Lavin & Gray 2016; SPEC §3) for 3×3 kernels, stride 1,
/// dilation 1, one group, any padding and batch. The weights are transformed once into α² packed
/// O×C matrices U_ξ (the micro-kernel's A panels). The forward is one parallel region of tasks, each
/// one block of consecutive tiles × one group of output channels: pad and transform the block's tiles
/// into V_ξ (straight into the micro-kernel's B panels), M_ξ = U_ξ·V_ξ per transform position ξ on
/// the micro-kernel, and the output transform Y = Aᵀ·M·A with bias and ReLU, V and M in the core's L2.
final class WinogradConvolution: @unchecked Sendable {
    let transform: WinogradTransform
    let outChannels: Int, inChannels: Int
    private let positions: [PackedMatrixA]   // α² matrices U_ξ, O × C

    /// The forward's blocks: V and M of one block within this many floats (the core's L2), but at
    /// least `forwardMinimumTiles` tiles, so that each MR×K panel of U read from L3 feeds enough
    /// tiles; output channels in `channelGroups` (a task reads only its group's U).
    /// (Until 2026-11-23 images of 17–127 tiles ran one GEMM per position in parallel regions of
    /// their own; on Zen 4 at 2 threads the fused tasks with a shared V won or tied on every VGG-16
    /// and ResNet-50 layer: ResNet conv3x3_128 0.53 → 0.46 ms, conv3x3_256 0.79 → 0.68 ms,
    /// conv3x3_512 1.39 → 0.75 ms, VGG conv3_x 7.5 → 7.0 ms; perf/winograd.md.)
    static let forwardBlockFloats = 1 << 18
    static let forwardMinimumTiles = 32
    /// An image of two blocks runs as one only if its output-channel groups alone make this many tasks.
    static let forwardMinimumTasks = 4
    /// The forward transforms V once for all output-channel groups, in tasks of its own (this many
    /// channel ranges per block), when all blocks' V fit in `sharedVMaximumFloats`; otherwise
    /// every group's task transforms its block's V itself.
    static let sharedVMaximumFloats = 1 << 21
    static let sharedVTasksPerBlock = 8
    /// Floats of V and ∂M together in one block of the backward-filter pass.
    static let filterGradientBlockFloats = 1 << 20
    /// Tiles (the products' K) one backward-filter block holds at least.
    static let filterGradientMinimumDepth = 256
    /// The tasks the backward-filter pass aims at (output-channel groups × tile-row ranges): a fixed
    /// number, not the thread count, so that dW is the same on any machine.
    static let filterGradientTasks = 4

    /// Output channels per task group of the fused forward and of the backward-filter pass.
    static let groupChannels = 128

    /// `panels` row panels of `outChannels` output channels in groups of about `groupChannels`
    /// channels (whole panels), from the shape alone.
    static func channelGroups(outChannels: Int, panels: Int) -> (panelsPerGroup: Int, groups: Int) {
        let wanted = max(1, outChannels / groupChannels), perGroup = (panels + wanted - 1) / wanted
        return (perGroup, (panels + perGroup - 1) / perGroup)
    }

    /// The automatic choice considers Winograd from this many input × output channels: below it each
    /// transformed value feeds too few products to pay for the transforms.
    static let automaticMinimumChannelProduct = 64 * 64

    /// Whether the automatic choice may run this descriptor through Winograd.
    static func automaticallyApplies(_ d: Conv2DDescriptor) -> Bool {
        applies(d) && d.inChannels * d.outChannels >= automaticMinimumChannelProduct
    }

    /// The variant the automatic choice takes for this geometry (measured, perf/winograd.md): F(4×4)
    /// on outputs of at least 14×14, F(2×2) from 7×7 (at 7×7, F(4×4)'s 4 tiles per image leave its
    /// 36 U_ξ, 2.25× F(2×2)'s, to stream from DRAM for few products), none below. On Zen 4 at 2
    /// threads F(4×4) against F(2×2): VGG conv5_1 2.2 vs 2.7 ms, ResNet conv3x3_256 0.44 vs 0.68 ms,
    /// conv3x3_512 2.0 vs 0.78 ms. F(6×6) is opt-in only (SPEC §4).
    static func automaticTransform(_ g: ConvGeometry) -> WinogradTransform? {
        let side = min(g.outHeight, g.outWidth)
        return side >= 14 ? .f4x4 : side >= 7 ? .f2x2 : nil
    }

    /// Whether Winograd can compute this convolution: 3×3, stride 1, dilation 1, one group.
    static func applies(_ d: Conv2DDescriptor) -> Bool {
        d.kernelHeight == 3 && d.kernelWidth == 3 && d.strideHeight == 1 && d.strideWidth == 1
            && d.dilationHeight == 1 && d.dilationWidth == 1 && d.groups == 1
    }

    init(weights: Tensor, transform: WinogradTransform) {
        self.transform = transform
        let o = weights.shape[0], c = weights.shape[1]
        outChannels = o
        inChannels = c
        positions = (0..<(transform.alpha * transform.alpha)).map { _ in PackedMatrixA(zeroedM: o, k: c) }
        weights.withUnsafeBufferPointer { update(weights: $0.baseAddress!) }
    }

    /// Transforms OIHW 3×3 weights straight into the packed U matrices: U_ξ[o][c] = (G·w[o,c]·Gᵀ)[ξ],
    /// 8 output channels at a time (one packed panel's k step when the panels are 8 rows), parallel
    /// over those groups. No allocation: what a training step runs after every update.
    func update(weights w: UnsafePointer<Float>) {
        let o = outChannels, c = inChannels, tf = transform, a2 = tf.alpha * tf.alpha
        let packed = positions
        Scheduler.parallelFor(tiles: (o + 7) / 8, work: Double(o * c) * Double(a2) * 8) { group in
            let o0 = group * 8, count = min(8, o - o0)
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: a2) { bases in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 8) { lanes in
                    for x in 0..<a2 { bases[x] = packed[x].storage }
                    for ci in 0..<c {
                        for l in 0..<count { lanes[l] = packed[0].packedOffset(row: o0 + l, column: ci) }
                        tf.filter8(w + (o0 * c + ci) * 9, filterStride: c * 9, count: count, into: UnsafePointer(bases.baseAddress!),
                                   laneOffsets: lanes.baseAddress!, contiguous: count == 8 && lanes[7] == lanes[0] + 7)
                    }
                }
            }
        }
    }

    var packedWeightBytes: Int { positions.reduce(0) { $0 + $1.byteCount } }

    /// Floats from one transform position's matrix (rows × columns) to the next. The transforms touch
    /// all α² positions per tile; at a stride that is a multiple of 4 KiB those α² accesses would
    /// share one L1 set (12 ways), so each position is shifted by one more cache line.
    private static func positionStride(_ rows: Int, _ columns: Int) -> Int { rows * columns + 16 }

    /// The forward's split of one convolution into tasks: output-channel groups (whole MR-row panels
    /// of U) × blocks of tiles over the batch. A block is a run of consecutive tiles of one image's
    /// row-major tile grid (it may start and end inside a tile row), a whole number of NR-tile panels
    /// except the image's last block, so that the micro-kernel's B panels are full. From the shape
    /// alone, so results never depend on the thread count (each task writes its own outputs anyway).
    private struct ForwardSplit {
        let tilesH: Int, tilesW: Int, inW: Int
        let panelsPerGroup: Int, groups: Int
        let tilesPerBlock: Int, blocksPerImage: Int
        let maximumRows: Int            // tile rows one block can touch
        let tilePanels: Int, ldm: Int   // tiles of one block rounded up to NR, the row stride of M
        let vStride: Int, mStride: Int, perWorker: Int

        /// Block `b` of an image: its first tile, its tile count, and the first tile row it touches.
        func block(_ b: Int) -> (first: Int, count: Int, firstRow: Int, rows: Int) {
            let first = b * tilesPerBlock, count = min(tilesPerBlock, tilesH * tilesW - first)
            let firstRow = first / tilesW
            return (first, count, firstRow, (first + count - 1) / tilesW - firstRow + 1)
        }
    }

    private func split(_ g: ConvGeometry, _ blocking: GEMMBlocking) -> ForwardSplit {
        let m = transform.m, a2 = transform.alpha * transform.alpha, cPad = (inChannels + 7) / 8 * 8, nr = blocking.nr
        let tilesH = (g.outHeight + m - 1) / m, tilesW = (g.outWidth + m - 1) / m, inW = tilesW * m + 2
        let tiles = tilesH * tilesW
        let panels = (outChannels + blocking.mr - 1) / blocking.mr
        let (panelsPerGroup, groups) = Self.channelGroups(outChannels: outChannels, panels: panels)
        let perTile = a2 * (cPad + panelsPerGroup * blocking.mr)
        var perBlock = max(Self.forwardBlockFloats / perTile, Self.forwardMinimumTiles) / nr * nr
        perBlock = max(nr, perBlock)
        // An image of at most two blocks is one block when the output-channel groups alone give
        // enough tasks: U, then ≥ 9 MiB per group, is read once instead of once per block (VGG conv4_x).
        if perBlock >= tiles || (perBlock * 2 >= tiles && groups * g.batch >= Self.forwardMinimumTasks) { perBlock = tiles }
        let blocksPerImage = (tiles + perBlock - 1) / perBlock
        let maximumRows = min(tilesH, (perBlock + tilesW - 1) / tilesW + 1)
        let tilePanels = (perBlock + nr - 1) / nr, ldm = tilePanels * nr
        let vStride = Self.positionStride(tilePanels * cPad, nr), mStride = Self.positionStride(panelsPerGroup * blocking.mr, ldm)
        let perWorker = cPad * (maximumRows * m + 2) * inW + a2 * (64 + vStride + mStride)
        return ForwardSplit(tilesH: tilesH, tilesW: tilesW, inW: inW, panelsPerGroup: panelsPerGroup, groups: groups,
                            tilesPerBlock: perBlock, blocksPerImage: blocksPerImage, maximumRows: maximumRows,
                            tilePanels: tilePanels, ldm: ldm, vStride: vStride, mStride: mStride, perWorker: perWorker)
    }

    /// y = conv(x) + bias, ReLU if asked, for N×C×H×W `x`, in one parallel region: each task takes
    /// one block of consecutive tiles of one image and one group of output channels, on its own thread:
    /// it pads its input rows into channel blocks of 8, transforms 8 tiles × 8 channels at a time
    /// and transposes them (8×8 in registers) straight into the micro-kernel's B panels (V_ξ:
    /// channels × tiles), multiplies each position by the packed U_ξ (M_ξ = U_ξ·V_ξ, no packing), and
    /// transforms M back into its outputs with bias and ReLU. V and M stay in the core's L2. A last
    /// tile panel at most half full (a 16-tile image) runs on the half-width micro-kernel.
    func forward(_ x: UnsafePointer<Float>, _ g: ConvGeometry, bias: UnsafePointer<Float>?, relu: Bool,
                 y: UnsafeMutablePointer<Float>, threads: Int?) {
        let tf = transform, m = tf.m, a2 = tf.alpha * tf.alpha
        let c = inChannels, o = outChannels, cPad = (c + 7) / 8 * 8
        let kernel = positions[0].microKernel, blocking = kernel.blocking, mr = blocking.mr, nr = blocking.nr, kc = blocking.kc
        let sp = split(g, blocking), paddedM = positions[0].paddedM
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let blocks = g.batch * sp.blocksPerImage, tasks = blocks * sp.groups
        let work = 2 * Double(o) * Double(c) * Double(a2) * Double(g.batch * sp.tilesH * sp.tilesW)
        let channelBlocks = cPad / 8
        // With several output-channel groups and little V, V is transformed once by tasks of its own
        // (channel ranges of each block) that the product tasks wait for, instead of by every group.
        let vShared = sp.groups > 1 && blocks * a2 * sp.vStride <= Self.sharedVMaximumFloats
        let vParts = vShared ? min(channelBlocks, Self.sharedVTasksPerBlock) : 0, vTasks = blocks * vParts
        let sharedFloats = vShared ? blocks * a2 * sp.vStride : 0
        let workers = Scheduler.threadCount(tiles: tasks, work: work, threads: threads)
        let transformed = TileLatch()
        /// Pads the rows of `block` for channel blocks `cbs` and writes their V_ξ as B panels,
        /// [tile panel][channel][NR tiles], at `v`.
        func transformInput(block: Int, cbs: Range<Int>, xb: UnsafeMutablePointer<Float>, tmp: UnsafeMutablePointer<Float>,
                            v: UnsafeMutablePointer<Float>) {
            let n = block / sp.blocksPerImage, (first, count, ty0, rows) = sp.block(block % sp.blocksPerImage)
            let xRows = (ty0 * m)..<((ty0 + rows) * m + 2), blockFloats = xRows.count * sp.inW * 8
            for cb in cbs {
                let xc = xb + cb * blockFloats
                Self.padBlockRows(x + (n * c + cb * 8) * inPlane, channels: c - cb * 8, height: g.inHeight, width: g.inWidth,
                             top: g.padding.top, left: g.padding.left, rows: xRows, into: xc, paddedWidth: sp.inW)
                for t0 in stride(from: 0, to: (count + nr - 1) / nr * nr, by: 8) {
                    for i in 0..<8 {   // tmp[ξ][tile i][8 channels]
                        let t = first + t0 + i
                        if t0 + i < count {
                            tf.inputC8(xc + ((t / sp.tilesW - ty0) * m * sp.inW + t % sp.tilesW * m) * 8, rowStride: 8 * sp.inW,
                                       dst: tmp + i * 8, positionStride: 64)
                        } else {
                            for xi in 0..<a2 { zeroFloats(tmp + xi * 64 + i * 8, count: 8) }
                        }
                    }
                    let panel = v + (t0 / nr) * cPad * nr + cb * 8 * nr + t0 % nr
                    for xi in 0..<a2 { transpose8x8(tmp + xi * 64, 8, panel + xi * sp.vStride, nr) }
                }
            }
        }
        Workspace.withScratch(count: sharedFloats + workers * sp.perWorker) { scratch in
            Scheduler.parallelFor(tiles: vTasks + tasks, workers: workers) { tile, worker in
                let xb = scratch + sharedFloats + worker * sp.perWorker
                let blockFloats = ((sp.maximumRows * m + 2) * sp.inW) * 8
                let tmp = xb + cPad / 8 * blockFloats
                if tile < vTasks {
                    let block = tile / vParts, part = tile % vParts
                    transformInput(block: block, cbs: (part * channelBlocks / vParts)..<((part + 1) * channelBlocks / vParts),
                                   xb: xb, tmp: tmp, v: scratch + block * a2 * sp.vStride)
                    transformed.arrive()
                    return
                }
                let task = tile - vTasks
                let block = task / sp.groups, group = task % sp.groups
                let n = block / sp.blocksPerImage, (first, count, _, _) = sp.block(block % sp.blocksPerImage)
                let tilePanels = (count + nr - 1) / nr
                let own = tmp + a2 * 64, mm = own + a2 * sp.vStride
                let v: UnsafeMutablePointer<Float>
                if vShared {
                    transformed.wait(until: vTasks)
                    v = scratch + block * a2 * sp.vStride
                } else {
                    transformInput(block: block, cbs: 0..<channelBlocks, xb: xb, tmp: tmp, v: own)
                    v = own
                }
                // M_ξ = U_ξ·V_ξ for this group's rows: an MR×K panel of U in L1 across the tile panels.
                let p0 = group * sp.panelsPerGroup, p1 = min(p0 + sp.panelsPerGroup, paddedM / mr)
                for xi in 0..<a2 {
                    let u = positions[xi].storage, vx = v + xi * sp.vStride, mx = mm + xi * sp.mStride
                    for k0 in stride(from: 0, to: c, by: kc) {
                        let depth = min(kc, c - k0), mode: KernelStoreMode = k0 == 0 ? .overwrite : .accumulate
                        for p in p0..<p1 {
                            let a = u + k0 * paddedM + p * mr * depth
                            for tp in 0..<tilePanels {
                                // A last panel at most half full (a 16-tile image) takes the half-width kernel,
                                // a last row panel of fewer than MR channels the SIMD8 kernel's rows variant.
                                GEMM.runMicroKernel(kernel, rows: min(mr, o - p * mr), columns: min(nr, count - tp * nr), kc: depth, a: a,
                                                    b: vx + tp * cPad * nr + k0 * nr, c: mx + (p - p0) * mr * sp.ldm + tp * nr,
                                                    ldc: sp.ldm, alpha: 1, mode: mode, epilogue: nil)
                            }
                        }
                    }
                }
                let channels = (p0 * mr)..<min(o, p1 * mr)
                var k = 0
                while k < count {
                    if Self.wideOutput(tf, count: count - k) {
                        Self.outputWide(mm + k, sp, tf, channels: channels, firstChannel: p0 * mr, bias: bias, relu: relu,
                                        y: y + n * o * outPlane, outPlane: outPlane, g: g, firstTile: first + k)
                        k += 16
                        continue
                    }
                    for oc in channels {
                        tf.output8(mm + (oc - p0 * mr) * sp.ldm + k, positionStride: sp.mStride, bias: bias?[oc] ?? 0, relu: relu,
                                   plane: y + (n * o + oc) * outPlane, height: g.outHeight, width: g.outWidth,
                                   WinogradTileGroup(first: first + k, count: min(8, count - k), tilesW: sp.tilesW))
                    }
                    k += 8
                }
            }
        }
    }

    /// Whether the 16 tiles from here take the AVX-512 output transform (F(4×4) only).
    @inline(__always)
    static func wideOutput(_ tf: WinogradTransform, count: Int) -> Bool {
        #if TESSERA_AVX512
        return tf.m == 4 && count >= 16 && InstructionSet.usesAVX512
        #else
        return false
        #endif
    }

    /// The F(4×4) output transform of 16 tiles from `firstTile` for every channel in `channels`
    /// (`winogradOutputTransformF4x4x16AVX512`; tiles cut by the plane's edge store only their inside
    /// part). `m` holds M of channel `firstChannel` at tile 0.
    private static func outputWide(_ m: UnsafePointer<Float>, _ sp: ForwardSplit, _ tf: WinogradTransform, channels: Range<Int>,
                           firstChannel: Int, bias: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>,
                           outPlane: Int, g: ConvGeometry, firstTile: Int) {
        #if TESSERA_AVX512
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 48) { buffer in
            let offsets = buffer.baseAddress!, clip = offsets + 16   // clip[k]: rows, clip[16 + k]: columns
            var whole = true
            WinogradTileGroup(first: firstTile, count: 16, tilesW: sp.tilesW).forEachTile(m: tf.m, ld: g.outWidth, lanes: 16) { k, o, ty, tx in
                offsets[k] = o
                clip[k] = min(tf.m, g.outHeight - ty * tf.m)
                clip[16 + k] = min(tf.m, g.outWidth - tx * tf.m)
                whole = whole && clip[k] == tf.m && clip[16 + k] == tf.m
            }
            for oc in channels {
                winogradOutputTransformF4x4x16AVX512(m + (oc - firstChannel) * sp.ldm, positionStride: sp.mStride,
                                                     bias: bias?[oc] ?? 0, relu: relu, plane: y + oc * outPlane,
                                                     width: g.outWidth, offsets: offsets, clip: whole ? nil : UnsafePointer(clip))
            }
        }
        #endif
    }

    /// Rows `rows` (padded coordinates) of one zero-padded channel block of 8: `out[r − rows.lowerBound][col][8]`
    /// from the NCHW planes at `src`, of which the first `channels` exist (none when ≤ 0: a block of
    /// zeros). Full 8×8 blocks go through register transposes. Needs paddedWidth ≥ left + width.
    static func padBlockRows(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, top: Int, left: Int,
                             rows: Range<Int>, into out: UnsafeMutablePointer<Float>, paddedWidth: Int) {
        let plane = height * width, lanes = min(8, channels)
        for pr in rows {
            let row = out + (pr - rows.lowerBound) * paddedWidth * 8, r = pr - top
            guard r >= 0 && r < height && lanes > 0 else { zeroFloats(row, count: paddedWidth * 8); continue }
            if lanes < 8 { zeroFloats(row, count: paddedWidth * 8) } else {
                zeroFloats(row, count: left * 8)
                zeroFloats(row + (left + width) * 8, count: (paddedWidth - left - width) * 8)
            }
            let dst = row + left * 8, s = src + r * width
            var col = 0
            if lanes == 8 {
                while col + 8 <= width { transpose8x8(s + col, plane, dst + col * 8, 8); col += 8 }
            }
            for ch in 0..<lanes {
                for cc in col..<width { dst[cc * 8 + ch] = s[ch * plane + cc] }
            }
        }
    }

    /// Whether `ConvolutionBackward.filter` takes the Winograd path: the forward's automatic
    /// F(2×2) layers and up (C·O ≥ 64·64, outputs from 7×7), with a micro-kernel of 8-row A panels
    /// (the ∂M transform writes those panels directly; the 6×16 kernel keeps the im2col GEMM).
    static func filterGradientApplies(_ g: ConvGeometry) -> Bool {
        automaticallyApplies(g.descriptor) && min(g.outHeight, g.outWidth) >= 7 && GEMMMicroKernel.active.blocking.mr == 8
    }

    /// dW for a 3×3, stride-1 convolution through Winograd F(2×2, 3×3) (Lavin & Gray 2016, §5): per
    /// tile, V = Bᵀ·d·B of the input and ∂M = A·∂Y·Aᵀ of the output gradient; per transform position
    /// ξ, ∂U_ξ = Σ_tiles ∂M_ξᵀ·V_ξ (O × C, K = tiles); then dW = Gᵀ·∂U·G per filter. 2.25× fewer
    /// multiplications than the im2col GEMM.
    ///
    /// One parallel region. Its tasks split the output channels into groups and the blocks of tile
    /// rows (over the whole batch) into ranges, both fixed by the shape alone; a task pads, transforms
    /// and multiplies its blocks on its own thread (V and ∂M go straight into the micro-kernel's packed
    /// panels, no packing) and adds them, in order, into its own partial ∂U. The partials are added in
    /// a fixed order at the end, so dW does not depend on the thread count. Overwrites `dw` (OIHW).
    static func filterGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ g: ConvGeometry,
                               into dw: UnsafeMutablePointer<Float>, threads: Int?) {
        let kernel = GEMMMicroKernel.active, nr = kernel.blocking.nr, kc = kernel.blocking.kc
        precondition(kernel.blocking.mr == 8 && nr % 8 == 0, "Winograd dW needs 8-row A panels")
        let tf = WinogradTransform.f2x2, m = 2, a2 = 16
        let c = g.inChannels, o = g.outChannels, cPanels = (c + nr - 1) / nr, cWide = cPanels * nr
        let tilesH = (g.outHeight + m - 1) / m, tilesW = (g.outWidth + m - 1) / m
        let inW = tilesW * m + 2, outW = tilesW * m
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        // Output-channel groups (each task transforms all of V).
        let (groupBlocks, groups) = channelGroups(outChannels: o, panels: (o + 7) / 8)
        let oGroup = groupBlocks * 8, oRows = groups * oGroup
        // Blocks of tile rows: V and ∂M within `filterGradientBlockFloats`, but at least
        // `filterGradientMinimumDepth` tiles deep; then as many row ranges as give `filterGradientTasks` tasks.
        let byFloats = filterGradientBlockFloats / (a2 * (cWide + oGroup) * tilesW)
        var rowsPerBlock = max(1, min(tilesH, max(byFloats, (filterGradientMinimumDepth + tilesW - 1) / tilesW)))
        let ranges = min(g.batch * ((tilesH + rowsPerBlock - 1) / rowsPerBlock), max(1, filterGradientTasks / groups))
        if g.batch == 1 {   // blocks of equal height, a whole number per range
            let perRange = (tilesH + ranges * rowsPerBlock - 1) / (ranges * rowsPerBlock)
            rowsPerBlock = (tilesH + ranges * perRange - 1) / (ranges * perRange)
        }
        let blocksPerImage = (tilesH + rowsPerBlock - 1) / rowsPerBlock, blocks = g.batch * blocksPerImage
        let maxCount = rowsPerBlock * tilesW
        // Per worker: padded input rows (all channels), padded ∂Y rows (one group), V and ∂M in panels.
        let xRowsFloats = cWide * (rowsPerBlock * m + 2) * inW, dyRowsFloats = oGroup * rowsPerBlock * m * outW
        let vPanel = maxCount * nr, mPanel = maxCount * 8
        let vStride = positionStride(cPanels, vPanel), mStride = positionStride(groupBlocks, mPanel)
        let perWorker = xRowsFloats + dyRowsFloats + a2 * (vStride + mStride)
        let uStride = positionStride(oRows, cWide), partialFloats = a2 * uStride
        let tasks = groups * ranges
        let workers = Scheduler.threadCount(tiles: tasks, work: 2 * Double(o * c * a2) * Double(g.batch * tilesH * tilesW), threads: threads)
        Workspace.withScratch(count: ranges * partialFloats + workers * perWorker) { buf in
            let partials = buf
            Scheduler.parallelFor(tiles: tasks, workers: workers) { task, worker in
                let range = task / groups, group = task % groups
                let xb = partials + ranges * partialFloats + worker * perWorker, dyb = xb + xRowsFloats
                let v = dyb + dyRowsFloats, dm = v + a2 * vStride
                let du = partials + range * partialFloats + group * oGroup * cWide
                for j in (range * blocks / ranges)..<((range + 1) * blocks / ranges) {
                    let n = j / blocksPerImage, ty0 = j % blocksPerImage * rowsPerBlock
                    let rows = min(rowsPerBlock, tilesH - ty0), count = rows * tilesW
                    let xRows = (ty0 * m)..<((ty0 + rows) * m + 2), dyRows = (ty0 * m)..<((ty0 + rows) * m)
                    for cb in 0..<(cWide / 8) {
                        let block = xb + cb * xRows.count * inW * 8
                        padBlockRows(x + (n * c + min(cb * 8, c)) * inPlane, channels: c - cb * 8, height: g.inHeight, width: g.inWidth,
                                     top: g.padding.top, left: g.padding.left, rows: xRows, into: block, paddedWidth: inW)
                        for r in 0..<rows {
                            for tx in 0..<tilesW {
                                tf.inputC8(block + (r * m * inW + tx * m) * 8, rowStride: 8 * inW,
                                           dst: v + (cb * 8 / nr) * vPanel + (r * tilesW + tx) * nr + cb * 8 % nr, positionStride: vStride)
                            }
                        }
                    }
                    for ob in 0..<groupBlocks {
                        let oc = group * oGroup + ob * 8, block = dyb + ob * dyRows.count * outW * 8
                        padBlockRows(dy + (n * o + min(oc, o)) * outPlane, channels: o - oc, height: g.outHeight, width: g.outWidth,
                                     top: 0, left: 0, rows: dyRows, into: block, paddedWidth: outW)
                        for r in 0..<rows {
                            for tx in 0..<tilesW {
                                winogradOutputGradientTransformF2x2C8(block + (r * m * outW + tx * m) * 8, rowStride: 8 * outW,
                                                                      dst: dm + ob * mPanel + (r * tilesW + tx) * 8, positionStride: mStride)
                            }
                        }
                    }
                    // Per position: a K step of ∂M_ξ stays in L2 across the column panels, a V panel in L1 across the row panels.
                    let first = j == range * blocks / ranges
                    for xi in 0..<a2 {
                        let vp = v + xi * vStride, mp = dm + xi * mStride, up = du + xi * uStride
                        for k0 in stride(from: 0, to: count, by: kc) {
                            let mode: KernelStoreMode = first && k0 == 0 ? .overwrite : .accumulate
                            for cp in 0..<cPanels {
                                for ob in 0..<groupBlocks {
                                    GEMM.runMicroKernel(kernel, kc: min(kc, count - k0), a: mp + ob * mPanel + k0 * 8, b: vp + cp * vPanel + k0 * nr,
                                                        c: up + ob * 8 * cWide + cp * nr, ldc: cWide, alpha: 1, mode: mode, epilogue: nil)
                                }
                            }
                        }
                    }
                }
            }
            // dW[o][c] = Gᵀ·∂U[o][c]·G (α×α → 3×3), 8 input channels at a time; G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
            Scheduler.parallelFor(tiles: o, work: Double(o * c) * 200, threads: threads) { oc in
                for c0 in stride(from: 0, to: c, by: 8) {
                    let lanes = min(8, c - c0), at = partials + oc * cWide + c0
                    @inline(__always) func u(_ i: Int, _ j: Int) -> SIMD8<Float> {   // Σ of the partials, in order
                        var sum = SIMD8<Float>()
                        for r in 0..<ranges {
                            let p = at + r * partialFloats + (i * 4 + j) * uStride
                            if lanes == 8 { sum += load8(p) } else { for l in 0..<lanes { sum[l] += p[l] } }
                        }
                        return sum
                    }
                    let half = SIMD8<Float>(repeating: 0.5)
                    // Row i of ∂U·G: (u0, ½(u0 + u1 + u2), ½(u0 − u1 + u2), u3)… kept as its 3 columns.
                    @inline(__always) func rowTimesG(_ i: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                        let u0 = u(i, 0), u1 = u(i, 1), u2 = u(i, 2), u3 = u(i, 3)
                        return (u0 + half * (u1 + u2), half * (u1 - u2), half * (u1 + u2) + u3)
                    }
                    let t0 = rowTimesG(0), t1 = rowTimesG(1), t2 = rowTimesG(2), t3 = rowTimesG(3)
                    // Gᵀ·T: dW row 0 = t0 + ½(t1 + t2), row 1 = ½(t1 − t2), row 2 = ½(t1 + t2) + t3.
                    @inline(__always) func column(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>)
                        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                        (a + half * (b + c), half * (b - c), half * (b + c) + d)
                    }
                    let k0 = column(t0.0, t1.0, t2.0, t3.0), k1 = column(t0.1, t1.1, t2.1, t3.1), k2 = column(t0.2, t1.2, t2.2, t3.2)
                    let out = dw + (oc * c + c0) * 9   // row-major 3×3 per input channel
                    for l in 0..<lanes {
                        let f = out + l * 9
                        f[0] = k0.0[l]; f[1] = k1.0[l]; f[2] = k2.0[l]
                        f[3] = k0.1[l]; f[4] = k1.1[l]; f[5] = k2.1[l]
                        f[6] = k0.2[l]; f[7] = k1.2[l]; f[8] = k2.2[l]
                    }
                }
            }
        }
    }
}
