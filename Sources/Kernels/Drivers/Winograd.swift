import Scheduler

/// Winograd F(m×m, 3×3) convolution (Lavin & Gray 2016; SPEC §3) for 3×3 kernels, stride 1,
/// dilation 1, one group, any padding and batch. The weights are transformed once into α² packed
/// O×C matrices U_ξ; per block of tile rows, the input tiles are transformed (V_ξ, C × tiles), each
/// transform position ξ is one GEMM M_ξ = U_ξ·V_ξ over the channels, and the output transform
/// Y = Aᵀ·M·A adds the bias and applies ReLU. Blocks hold at most 8 MiB of V and of M, so they stay
/// in cache between the three steps.
final class WinogradConvolution: @unchecked Sendable {
    let transform: WinogradTransform
    let outChannels: Int, inChannels: Int
    private let positions: [PackedMatrixA]   // α² matrices U_ξ, O × C

    /// Floats of V (and of M) one block may hold.
    static let maximumBlockFloats = 1 << 21
    /// The backward-filter pass's blocks are smaller (V and ∂M ≤ 512 KiB each): its 16 GEMMs reduce
    /// over the tiles, and with 8 MiB blocks two threads ran no faster than one (measured, Bench `train`).
    static let filterGradientBlockFloats = 1 << 17

    /// The automatic choice considers Winograd from this many input × output channels: below it each
    /// transformed value feeds too few products to pay for the transforms.
    static let automaticMinimumChannelProduct = 64 * 64

    /// Whether the automatic choice may run this descriptor through Winograd.
    static func automaticallyApplies(_ d: Conv2DDescriptor) -> Bool {
        applies(d) && d.inChannels * d.outChannels >= automaticMinimumChannelProduct
    }

    /// The variant the automatic choice takes for this geometry (measured, perf/winograd.md): F(4×4)
    /// on outputs of at least 28×28, F(2×2) from 7×7 (on 14×14 and 7×7, F(4×4)'s partly empty tiles
    /// and α² = 36 small GEMMs lose to F(2×2)), none below. F(6×6) is opt-in only (SPEC §4).
    static func automaticTransform(_ g: ConvGeometry) -> WinogradTransform? {
        let side = min(g.outHeight, g.outWidth)
        return side >= 28 ? .f4x4 : side >= 7 ? .f2x2 : nil
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

    /// Scratch floats for one image of this geometry: the channel-blocked padded copy, V and M.
    func scratchCount(_ g: ConvGeometry) -> Int {
        let b = blocking(g)
        return b.paddedChannels * b.paddedHeight * b.paddedWidth
            + transform.alpha * transform.alpha * (Self.positionStride(b.blockColumns, b.paddedChannels) + Self.positionStride(outChannels, b.blockColumns))
    }

    /// Floats from one transform position's matrix (rows × columns) to the next. The transforms touch
    /// all α² positions per tile; at a stride that is a multiple of 4 KiB those α² accesses would
    /// share one L1 set (12 ways), so each position is shifted by one more cache line.
    private static func positionStride(_ rows: Int, _ columns: Int) -> Int { rows * columns + 16 }

    /// Tiles form one row-major grid; a block is `rowsPerBlock` tile rows, whose V (tiles × channels
    /// rounded up to 8) and M (O × tiles rounded up to 8) stay in cache between the three steps.
    private func blocking(_ g: ConvGeometry) -> (tilesH: Int, tilesW: Int, paddedChannels: Int, paddedHeight: Int, paddedWidth: Int,
                                                  rowsPerBlock: Int, blockColumns: Int) {
        let m = transform.m, a2 = transform.alpha * transform.alpha, cPad = (inChannels + 7) / 8 * 8
        let tilesH = (g.outHeight + m - 1) / m, tilesW = (g.outWidth + m - 1) / m
        let rowsPerBlock = max(1, min(tilesH, WinogradConvolution.maximumBlockFloats / (a2 * max(cPad, outChannels) * tilesW)))
        return (tilesH, tilesW, cPad, tilesH * m + 2, tilesW * m + 2, rowsPerBlock, (rowsPerBlock * tilesW + 7) / 8 * 8)
    }

    func forward(_ x: UnsafePointer<Float>, _ g: ConvGeometry, bias: UnsafePointer<Float>?, relu: Bool,
                 y: UnsafeMutablePointer<Float>, threads: Int?) {
        let tf = transform, m = tf.m, a2 = tf.alpha * tf.alpha
        let c = inChannels, o = outChannels
        let b = blocking(g)
        let cPad = b.paddedChannels, channelBlocks = cPad / 8, tb = b.blockColumns
        let blockPlane = 8 * b.paddedHeight * b.paddedWidth, rowStride = 8 * b.paddedWidth
        let outPlane = g.outHeight * g.outWidth
        Workspace.withScratch(count: scratchCount(g)) { scratch in
            let vStride = Self.positionStride(tb, cPad), mStride = Self.positionStride(o, tb)
            let padded = scratch, v = padded + cPad * b.paddedHeight * b.paddedWidth, mm = v + a2 * vStride
            for n in 0..<g.batch {
                WinogradConvolution.padChannelBlocked(x + n * c * g.inHeight * g.inWidth, channels: c, height: g.inHeight, width: g.inWidth,
                                                      top: g.padding.top, left: g.padding.left, into: padded,
                                                      paddedHeight: b.paddedHeight, paddedWidth: b.paddedWidth, threads: threads)
                for ty0 in stride(from: 0, to: b.tilesH, by: b.rowsPerBlock) {
                    let rows = min(b.rowsPerBlock, b.tilesH - ty0), count = rows * b.tilesW
                    let used = (count + 7) / 8 * 8
                    // V_ξ is tiles × channels: one task per (channel block, tile row).
                    Scheduler.parallelFor(tiles: channelBlocks * rows, work: Double(cPad * count * a2 * tf.alpha * 4), threads: threads) { task in
                        let cb = task % channelBlocks, r = task / channelBlocks
                        let src = padded + cb * blockPlane + (ty0 + r) * m * rowStride
                        for tx in 0..<b.tilesW {
                            tf.inputC8(src + tx * m * 8, rowStride: rowStride,
                                       dst: v + (r * b.tilesW + tx) * cPad + cb * 8, positionStride: vStride)
                        }
                    }
                    // One GEMM per transform position, M_ξ = U_ξ·V_ξᵀ (O × tiles), the positions spread over the threads.
                    Scheduler.parallelFor(tiles: a2, work: 2 * Double(o) * Double(c) * Double(used * a2), threads: threads) { xi in
                        try! GEMM.sgemm(packedA: positions[xi], transB: .transpose, n: count,
                                        b: UnsafeBufferPointer(start: v + xi * vStride, count: (count - 1) * cPad + c), ldb: cPad,
                                        c: UnsafeMutableBufferPointer(start: mm + xi * mStride, count: (o - 1) * tb + count), ldc: tb,
                                        threads: 1)
                    }
                    let first = ty0 * b.tilesW
                    Scheduler.parallelFor(tiles: o, work: Double(o * used * a2 * tf.alpha * 4), threads: threads) { oc in
                        for k in stride(from: 0, to: count, by: 8) {
                            tf.output8(mm + oc * tb + k, positionStride: mStride, bias: bias?[oc] ?? 0, relu: relu,
                                       plane: y + (n * o + oc) * outPlane, height: g.outHeight, width: g.outWidth,
                                       WinogradTileGroup(first: first + k, count: min(8, count - k), tilesW: b.tilesW))
                        }
                    }
                }
            }
        }
    }

    /// The zero-padded planes of one image in channel blocks of 8 (NCHW8c, channels past `channels`
    /// zero): `dst[cb][r][col][8]`, the `height` × `width` planes placed at row `top`, column `left`.
    /// Full 8×8 blocks go through register transposes.
    static func padChannelBlocked(_ x: UnsafePointer<Float>, channels c: Int, height: Int, width: Int, top: Int, left: Int,
                                  into dst: UnsafeMutablePointer<Float>, paddedHeight: Int, paddedWidth: Int, threads: Int?) {
        let inPlane = height * width, blockPlane = 8 * paddedHeight * paddedWidth
        let blocks = (c + 7) / 8
        Scheduler.parallelFor(tiles: blocks, work: Double(blocks * blockPlane) * 8 * Scheduler.flopsPerByte, threads: threads) { cb in
            let out = dst + cb * blockPlane, channels = min(8, c - cb * 8), src = x + cb * 8 * inPlane
            zeroFloats(out, count: blockPlane)
            for r in 0..<height {
                let row = out + ((r + top) * paddedWidth + left) * 8, s = src + r * width
                var col = 0
                if channels == 8 {
                    while col + 8 <= width { transpose8x8(s + col, inPlane, row + col * 8, 8); col += 8 }
                }
                for ch in 0..<channels {
                    for cc in col..<width { row[cc * 8 + ch] = s[ch * inPlane + cc] }
                }
            }
        }
    }

    /// Whether `ConvolutionBackward.filter` takes the Winograd path: the forward's automatic
    /// F(2×2) layers and up (C·O ≥ 64·64, outputs from 7×7).
    static func filterGradientApplies(_ g: ConvGeometry) -> Bool {
        automaticallyApplies(g.descriptor) && min(g.outHeight, g.outWidth) >= 7
    }

    /// dW for a 3×3, stride-1 convolution through Winograd F(2×2, 3×3) (Lavin & Gray 2016, §5): per
    /// tile, V = Bᵀ·d·B of the input and ∂M = A·∂Y·Aᵀ of the output gradient; per transform position
    /// ξ, ∂U_ξ = Σ_tiles ∂M_ξ·V_ξᵀ (O × C, one GEMM per block of tiles, K = tiles); then
    /// dW = Gᵀ·∂U·G per filter. 2.25× fewer multiplications than the im2col GEMM. Blocks of tiles
    /// and images add in a fixed order and each position's GEMM runs on one thread, so dW does not
    /// depend on the thread count. Overwrites `dw` (OIHW).
    static func filterGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ g: ConvGeometry,
                               into dw: UnsafeMutablePointer<Float>, threads: Int?) {
        let tf = WinogradTransform.f2x2, m = 2, a2 = 16
        let c = g.inChannels, o = g.outChannels, cPad = (c + 7) / 8 * 8, oPad = (o + 7) / 8 * 8
        let tilesH = (g.outHeight + m - 1) / m, tilesW = (g.outWidth + m - 1) / m
        let inH = tilesH * m + 2, inW = tilesW * m + 2, outH = tilesH * m, outW = tilesW * m
        let rowsPerBlock = max(1, min(tilesH, filterGradientBlockFloats / (a2 * max(cPad, oPad) * tilesW)))
        let tb = (rowsPerBlock * tilesW + 7) / 8 * 8
        let vStride = positionStride(tb, cPad), mStride = positionStride(tb, oPad)
        let scratch = cPad * inH * inW + oPad * outH * outW + a2 * (vStride + mStride + o * c)
        Workspace.withScratch(count: scratch) { buf in
            let xb = buf, dyb = xb + cPad * inH * inW, v = dyb + oPad * outH * outW, dm = v + a2 * vStride, du = dm + a2 * mStride
            for n in 0..<g.batch {
                padChannelBlocked(x + n * c * g.inHeight * g.inWidth, channels: c, height: g.inHeight, width: g.inWidth,
                                  top: g.padding.top, left: g.padding.left, into: xb, paddedHeight: inH, paddedWidth: inW, threads: threads)
                padChannelBlocked(dy + n * o * g.outHeight * g.outWidth, channels: o, height: g.outHeight, width: g.outWidth,
                                  top: 0, left: 0, into: dyb, paddedHeight: outH, paddedWidth: outW, threads: threads)
                for ty0 in stride(from: 0, to: tilesH, by: rowsPerBlock) {
                    let rows = min(rowsPerBlock, tilesH - ty0), count = rows * tilesW
                    let cBlocks = cPad / 8, oBlocks = oPad / 8
                    Scheduler.parallelFor(tiles: (cBlocks + oBlocks) * rows, work: Double((cPad + oPad) * count * a2 * 16),
                                          threads: threads) { task in
                        let b = task % (cBlocks + oBlocks), r = task / (cBlocks + oBlocks)
                        for tx in 0..<tilesW {
                            let t = r * tilesW + tx
                            if b < cBlocks {
                                tf.inputC8(xb + b * 8 * inH * inW + ((ty0 + r) * m * inW + tx * m) * 8, rowStride: 8 * inW,
                                           dst: v + t * cPad + b * 8, positionStride: vStride)
                            } else {
                                let ob = b - cBlocks
                                winogradOutputGradientTransformF2x2C8(dyb + ob * 8 * outH * outW + ((ty0 + r) * m * outW + tx * m) * 8,
                                                                      rowStride: 8 * outW, dst: dm + t * oPad + ob * 8, positionStride: mStride)
                            }
                        }
                    }
                    let first = n == 0 && ty0 == 0
                    Scheduler.parallelFor(tiles: a2, work: 2 * Double(o) * Double(c) * Double(count * a2), threads: threads) { xi in
                        try! GEMM.sgemm(transA: .transpose, m: o, n: c, k: count,
                                        a: UnsafeBufferPointer(start: dm + xi * mStride, count: (count - 1) * oPad + o), lda: oPad,
                                        b: UnsafeBufferPointer(start: v + xi * vStride, count: (count - 1) * cPad + c), ldb: cPad,
                                        beta: first ? 0 : 1, c: UnsafeMutableBufferPointer(start: du + xi * o * c, count: o * c), ldc: c,
                                        threads: 1)
                    }
                }
            }
            // dW[o][c] = Gᵀ·∂U[o][c]·G (α×α → 3×3), 8 input channels at a time; G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
            Scheduler.parallelFor(tiles: o, work: Double(o * c) * 200, threads: threads) { oc in
                for c0 in stride(from: 0, to: c, by: 8) {
                    let lanes = min(8, c - c0), at = du + oc * c + c0
                    @inline(__always) func u(_ i: Int, _ j: Int) -> SIMD8<Float> {
                        let p = at + (i * 4 + j) * o * c
                        if lanes == 8 { return load8(p) }
                        var v = SIMD8<Float>()
                        for l in 0..<lanes { v[l] = p[l] }
                        return v
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
