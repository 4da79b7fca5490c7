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

    /// The automatic choice takes F(4×4) from this many input × output channels (VGG conv4_1 on)…
    static let automaticMinimumChannelProduct = 256 * 512
    /// …and outputs at least this high and wide.
    static let automaticMinimumOutput = 28

    /// Whether the automatic choice prepares Winograd weights for this descriptor.
    static func automaticallyApplies(_ d: Conv2DDescriptor) -> Bool {
        applies(d) && d.inChannels * d.outChannels >= automaticMinimumChannelProduct
    }

    /// Whether Winograd can compute this convolution: 3×3, stride 1, dilation 1, one group.
    static func applies(_ d: Conv2DDescriptor) -> Bool {
        d.kernelHeight == 3 && d.kernelWidth == 3 && d.strideHeight == 1 && d.strideWidth == 1
            && d.dilationHeight == 1 && d.dilationWidth == 1 && d.groups == 1
    }

    init(weights: Tensor, transform: WinogradTransform) throws {
        self.transform = transform
        let o = weights.shape[0], c = weights.shape[1], n = o * c
        outChannels = o
        inChannels = c
        positions = try weights.withUnsafeBufferPointer { w in
            try Workspace.withScratch(count: transform.alpha * transform.alpha * n) { u in
                WinogradConvolution.transform(w.baseAddress!, outChannels: o, inChannels: c, transform, into: u)
                return try (0..<(transform.alpha * transform.alpha)).map { x in
                    try PackedMatrixA(m: o, k: c, a: UnsafeBufferPointer(start: u + x * n, count: n), lda: c)
                }
            }
        }
    }

    /// U laid out by position: U[ξ][o][c] = (G·w[o,c]·Gᵀ)[ξ], from OIHW 3×3 weights; parallel over output channels.
    static func transform(_ w: UnsafePointer<Float>, outChannels o: Int, inChannels c: Int, _ tf: WinogradTransform,
                          into u: UnsafeMutablePointer<Float>) {
        let a2 = tf.alpha * tf.alpha
        Scheduler.parallelFor(tiles: o, work: Double(o * c) * 400) { oc in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: a2) { tile in
                for ci in 0..<c {
                    tf.filter(w + (oc * c + ci) * 9, into: tile.baseAddress!)
                    for x in 0..<a2 { u[x * o * c + oc * c + ci] = tile[x] }
                }
            }
        }
    }

    /// Re-transforms new OIHW weights of the same shape into the packed storage (scratch from the pool).
    func update(weights w: UnsafePointer<Float>) throws {
        let n = outChannels * inChannels
        try Workspace.withScratch(count: transform.alpha * transform.alpha * n) { u in
            WinogradConvolution.transform(w, outChannels: outChannels, inChannels: inChannels, transform, into: u)
            for (x, p) in positions.enumerated() { try p.repack(a: UnsafeBufferPointer(start: u + x * n, count: n), lda: inChannels) }
        }
    }

    var packedWeightBytes: Int { positions.reduce(0) { $0 + $1.byteCount } }

    /// Scratch floats for one image of this geometry: the padded copy, V and M.
    func scratchCount(_ g: ConvGeometry) -> Int {
        let b = blocking(g)
        return g.inChannels * b.paddedHeight * b.paddedWidth + transform.alpha * transform.alpha * (inChannels + outChannels) * b.blockColumns + 8
    }

    private func blocking(_ g: ConvGeometry) -> (tilesH: Int, tilesW: Int, tilesWPadded: Int, paddedHeight: Int, paddedWidth: Int,
                                                  rowsPerBlock: Int, blockColumns: Int) {
        let m = transform.m, a2 = transform.alpha * transform.alpha
        let tilesH = (g.outHeight + m - 1) / m, tilesW = (g.outWidth + m - 1) / m
        let tilesWPadded = (tilesW + 7) / 8 * 8
        let rowsPerBlock = max(1, min(tilesH, WinogradConvolution.maximumBlockFloats / (a2 * max(inChannels, outChannels) * tilesWPadded)))
        return (tilesH, tilesW, tilesWPadded, tilesH * m + 2, tilesWPadded * m + 2, rowsPerBlock, rowsPerBlock * tilesWPadded)
    }

    func forward(_ x: UnsafePointer<Float>, _ g: ConvGeometry, bias: UnsafePointer<Float>?, relu: Bool,
                 y: UnsafeMutablePointer<Float>, threads: Int?) {
        let tf = transform, m = tf.m, a2 = tf.alpha * tf.alpha
        let c = inChannels, o = outChannels
        let b = blocking(g)
        let plane = b.paddedHeight * b.paddedWidth, tb = b.blockColumns
        let outPlane = g.outHeight * g.outWidth, inPlane = g.inHeight * g.inWidth
        Workspace.withScratch(count: scratchCount(g)) { scratch in
            let padded = scratch, v = padded + c * plane, mm = v + a2 * c * tb
            tf.bt.withUnsafeBufferPointer { bt in
                tf.at.withUnsafeBufferPointer { at in
                    for n in 0..<g.batch {
                        // The zero-padded copy: every tile, the padding tiles past the edge included, reads inside it.
                        Scheduler.parallelFor(tiles: c, work: Double(c * plane) * 8 * Scheduler.flopsPerByte, threads: threads) { ch in
                            let dst = padded + ch * plane, src = x + (n * c + ch) * inPlane
                            zeroFloats(dst, count: plane)
                            for r in 0..<g.inHeight {
                                copyFloats(dst + (r + g.padding.top) * b.paddedWidth + g.padding.left, src + r * g.inWidth, count: g.inWidth)
                            }
                        }
                        for ty0 in stride(from: 0, to: b.tilesH, by: b.rowsPerBlock) {
                            let rows = min(b.rowsPerBlock, b.tilesH - ty0), used = rows * b.tilesWPadded
                            Scheduler.parallelFor(tiles: c, work: Double(c * used * a2 * tf.alpha * 4), threads: threads) { ch in
                                for r in 0..<rows {
                                    for tx0 in stride(from: 0, to: b.tilesW, by: 8) {
                                        winogradInputTransform8(padded + ch * plane + (ty0 + r) * m * b.paddedWidth + tx0 * m,
                                                                ld: b.paddedWidth, tf, bt: bt.baseAddress!,
                                                                dst: v + ch * tb + r * b.tilesWPadded + tx0, positionStride: c * tb)
                                    }
                                }
                            }
                            // One GEMM per transform position, the positions spread over the threads.
                            Scheduler.parallelFor(tiles: a2, work: 2 * Double(o) * Double(c) * Double(used * a2), threads: threads) { xi in
                                try! GEMM.sgemm(packedA: positions[xi], n: used,
                                                b: UnsafeBufferPointer(start: v + xi * c * tb, count: (c - 1) * tb + used), ldb: tb,
                                                c: UnsafeMutableBufferPointer(start: mm + xi * o * tb, count: (o - 1) * tb + used), ldc: tb,
                                                threads: 1)
                            }
                            Scheduler.parallelFor(tiles: o, work: Double(o * used * a2 * tf.alpha * 4), threads: threads) { oc in
                                for r in 0..<rows {
                                    let outRow = (ty0 + r) * m
                                    for tx0 in stride(from: 0, to: b.tilesW, by: 8) {
                                        winogradOutputTransform8(mm + oc * tb + r * b.tilesWPadded + tx0, positionStride: o * tb, tf,
                                                                 at: at.baseAddress!, bias: bias?[oc] ?? 0, relu: relu,
                                                                 dst: y + (n * o + oc) * outPlane + outRow * g.outWidth + tx0 * m,
                                                                 ld: g.outWidth, tiles: min(8, b.tilesW - tx0),
                                                                 rows: g.outHeight - outRow, columns: g.outWidth - tx0 * m)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
