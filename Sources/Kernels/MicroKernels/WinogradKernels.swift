/// Winograd F(m×m, 3×3) transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016): a tile of α×α inputs (α = m + 2) gives m×m outputs with α² products instead
/// of 9·m². V = Bᵀ·d·B, U = G·g·Gᵀ, Y = Aᵀ·(U ⊙ V)·A.
struct WinogradTransform: Sendable {
    /// Outputs per tile side, and the input tile side α = m + 2.
    let m: Int, alpha: Int
    /// G (α×3), row-major. Bᵀ and Aᵀ live as straight-line code in `winogradInputColumn` /
    /// `winogradOutputColumn`.
    let g: [Float]

    /// F(2×2, 3×3): points 0, ±1.
    /// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
    static let f2x2 = WinogradTransform(
        m: 2, alpha: 4,
        g: [1, 0, 0,
            0.5, 0.5, 0.5,
            0.5, -0.5, 0.5,
            0, 0, 1])

    /// F(4×4, 3×3): points 0, ±1, ±2 (the integer points SPEC §3 allows; ±3 loses 3000× accuracy).
    /// Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
    /// Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
    static let f4x4 = WinogradTransform(
        m: 4, alpha: 6,
        g: [1.0 / 4, 0, 0,
            -1.0 / 6, -1.0 / 6, -1.0 / 6,
            -1.0 / 6, 1.0 / 6, -1.0 / 6,
            1.0 / 24, 1.0 / 12, 1.0 / 6,
            1.0 / 24, -1.0 / 12, 1.0 / 6,
            0, 0, 1])

    /// F(6×6, 3×3): points 0, ±1, ±2, ±½ (NNPACK's choice; ANCHORS.md §5: about 25× the error of
    /// F(2×2), where ±3 would give 3000×). Matrices as Lavin & Gray derive them:
    /// Bᵀ = [1 0 −21/4 0 21/4 0 −1 0; 0 1 1 −17/4 −17/4 1 1 0; 0 −1 1 17/4 −17/4 −1 1 0;
    ///       0 1/2 1/4 −5/2 −5/4 2 1 0; 0 −1/2 1/4 5/2 −5/4 −2 1 0; 0 2 4 −5/2 −5 1/2 1 0;
    ///       0 −2 4 5/2 −5 −1/2 1 0; 0 −1 0 21/4 0 −21/4 0 1],
    /// Aᵀ row k = [k = 0 ? 1 : 0, 1, (−1)ᵏ, 2ᵏ, (−2)ᵏ, 2⁻ᵏ, (−2)⁻ᵏ, k = 5 ? 1 : 0].
    static let f6x6 = WinogradTransform(
        m: 6, alpha: 8,
        g: [1, 0, 0,
            -2.0 / 9, -2.0 / 9, -2.0 / 9,
            -2.0 / 9, 2.0 / 9, -2.0 / 9,
            1.0 / 90, 1.0 / 45, 2.0 / 45,
            1.0 / 90, -1.0 / 45, 2.0 / 45,
            32.0 / 45, 16.0 / 45, 8.0 / 45,
            32.0 / 45, -16.0 / 45, 8.0 / 45,
            0, 0, 1])

    /// Input transform of one tile for 8 channels (`winogradInputTransformC8`) for this tile size.
    func inputC8(_ src: UnsafePointer<Float>, rowStride: Int, dst: UnsafeMutablePointer<Float>, positionStride: Int) {
        switch m {
        case 2: winogradInputTransformF2x2C8(src, rowStride: rowStride, dst: dst, positionStride: positionStride)
        case 4: winogradInputTransformF4x4C8(src, rowStride: rowStride, dst: dst, positionStride: positionStride)
        default: winogradInputTransformF6x6C8(src, rowStride: rowStride, dst: dst, positionStride: positionStride)
        }
    }

    /// Output transform of a group of up to 8 tiles (`winogradOutputTransform8`) for this tile size.
    func output8(_ src: UnsafePointer<Float>, positionStride: Int, bias: Float, relu: Bool,
                 plane: UnsafeMutablePointer<Float>, height: Int, width: Int, _ group: WinogradTileGroup) {
        switch m {
        case 2: winogradOutputTransformF2x2x8(src, positionStride: positionStride, bias: bias, relu: relu,
                                              plane: plane, height: height, width: width, group)
        case 4: winogradOutputTransformF4x4x8(src, positionStride: positionStride, bias: bias, relu: relu,
                                              plane: plane, height: height, width: width, group)
        default: winogradOutputTransformF6x6x8(src, positionStride: positionStride, bias: bias, relu: relu,
                                               plane: plane, height: height, width: width, group)
        }
    }

    /// U = G·g·Gᵀ for up to 8 filters at once (SIMD8 across the filters): filter l (< count) is the
    /// row-major 3×3 at `w + l·filterStride`; U[ξ] of filter l goes to `bases[ξ][laneOffsets[l]]`, one
    /// vector store when `contiguous` (the 8 offsets consecutive). In fp32: the rounding of G's
    /// fractions adds about 1e-7 relative to U, far inside each variant's bound.
    func filter8(_ w: UnsafePointer<Float>, filterStride: Int, count: Int,
                 into bases: UnsafePointer<UnsafeMutablePointer<Float>>, laneOffsets: UnsafePointer<Int>, contiguous: Bool) {
        var taps = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(),
                    SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        withUnsafeMutableBytes(of: &taps) { raw in
            let t = raw.baseAddress!.assumingMemoryBound(to: Float.self)   // t[tap·8 + l]
            for l in 0..<count { for tap in 0..<9 { t[tap * 8 + l] = w[l * filterStride + tap] } }
        }
        let a = alpha
        g.withUnsafeBufferPointer { g in
            withUnsafeBytes(of: &taps) { raw in
                let d = raw.baseAddress!.assumingMemoryBound(to: SIMD8<Float>.self)
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 24) { gw in   // G·w, α×3
                    let t = gw.baseAddress!
                    for i in 0..<a {
                        let g0 = SIMD8(repeating: g[i * 3]), g1 = SIMD8(repeating: g[i * 3 + 1]), g2 = SIMD8(repeating: g[i * 3 + 2])
                        for j in 0..<3 { t[i * 3 + j] = madd(madd(g0 * d[j], g1, d[3 + j]), g2, d[6 + j]) }
                    }
                    for i in 0..<a {
                        for j in 0..<a {
                            let v = madd(madd(SIMD8(repeating: g[j * 3]) * t[i * 3], SIMD8(repeating: g[j * 3 + 1]), t[i * 3 + 1]),
                                         SIMD8(repeating: g[j * 3 + 2]), t[i * 3 + 2])
                            let base = bases[i * a + j]
                            if contiguous { store8(v, base + laneOffsets[0]) } else { for l in 0..<count { base[laneOffsets[l]] = v[l] } }
                        }
                    }
                }
            }
        }
    }
}

/// Bᵀ·d for one column of α inputs (entries past α are ignored and returned as zero), as
/// straight-line code with the constants of `WinogradTransform.bt` factored the way NNPACK does
/// (shared sums of the ± point pairs). `m` is a compile-time constant at every call site.
@inline(__always)
func winogradInputColumn(_ m: Int, _ d: SIMD8x8) -> SIMD8x8 {
    let z = SIMD8<Float>()
    @inline(__always) func k(_ c: Float) -> SIMD8<Float> { SIMD8(repeating: c) }
    switch m {
    case 2:
        return (d.0 - d.2, d.1 + d.2, d.2 - d.1, d.1 - d.3, z, z, z, z)
    case 4:
        let t1 = madd(d.4, k(-4), d.2), t2 = madd(d.3, k(-4), d.1)
        let t3 = d.4 - d.2, t4 = k(2) * (d.3 - d.1)
        return (madd(madd(d.4, k(4), d.0), k(-5), d.2), t1 + t2, t1 - t2, t3 + t4, t3 - t4,
                madd(madd(d.5, k(4), d.1), k(-5), d.3), z, z)
    default:
        let t1 = madd(d.2 + d.6, k(-4.25), d.4), t2 = madd(d.1 + d.5, k(-4.25), d.3)
        let t3 = madd(madd(d.6, k(0.25), d.2), k(-1.25), d.4), t4 = madd(madd(k(2) * d.5, k(0.5), d.1), k(-2.5), d.3)
        let t5 = madd(d.6, k(4), madd(d.2, k(-1.25), d.4)), t6 = madd(madd(k(2) * d.1, k(0.5), d.5), k(-2.5), d.3)
        return (madd(d.0 - d.6, k(5.25), d.4 - d.2), t1 + t2, t1 - t2, t3 + t4, t3 - t4, t5 + t6, t5 - t6,
                madd(d.7 - d.1, k(5.25), d.3 - d.5))
    }
}

/// Aᵀ·v for one column of α products; the first m entries of the result are the outputs.
@inline(__always)
func winogradOutputColumn(_ m: Int, _ v: SIMD8x8) -> SIMD8x8 {
    let z = SIMD8<Float>()
    @inline(__always) func k(_ c: Float) -> SIMD8<Float> { SIMD8(repeating: c) }
    let s12 = v.1 + v.2, d12 = v.1 - v.2
    switch m {
    case 2:
        return (v.0 + s12, d12 - v.3, z, z, z, z, z, z)
    case 4:
        let s34 = v.3 + v.4, d34 = v.3 - v.4
        return (v.0 + s12 + s34, madd(d12, k(2), d34), madd(s12, k(4), s34), madd(d12, k(8), d34) + v.5, z, z, z, z)
    default:
        let s34 = v.3 + v.4, d34 = v.3 - v.4, s56 = v.5 + v.6, d56 = v.5 - v.6
        return (v.0 + s12 + s34 + s56,
                madd(madd(d12, k(2), d34), k(0.5), d56),
                madd(madd(s12, k(4), s34), k(0.25), s56),
                madd(madd(d12, k(8), d34), k(0.125), d56),
                madd(madd(s12, k(16), s34), k(0.0625), s56),
                madd(madd(d12, k(32), d34), k(0.03125), d56) + v.7,
                z, z)
    }
}

/// Element i of a SIMD8x8 (i a constant after inlining).
@inline(__always)
private func lane(_ t: SIMD8x8, _ i: Int) -> SIMD8<Float> {
    switch i {
    case 0: t.0
    case 1: t.1
    case 2: t.2
    case 3: t.3
    case 4: t.4
    case 5: t.5
    case 6: t.6
    default: t.7
    }
}

/// Where `lanes` (8, or 16 on AVX-512) consecutive tiles of a row-major grid of `tilesW` tiles per row
/// start: tile k of the group (k < count) is tile `first + k`, at (ty·m)·ld + tx·m in its plane; tiles
/// past `count` get offset −1.
struct WinogradTileGroup {
    /// Tile index (row-major over the whole grid) of the group's first tile, and the tiles it holds (1…lanes).
    let first: Int, count: Int
    /// Tiles per row of the grid.
    let tilesW: Int

    /// The group's tiles: offsets in a plane of row length `ld`, and (ty, tx) of each.
    @inline(__always)
    func forEachTile(m: Int, ld: Int, lanes: Int = 8, _ body: (_ k: Int, _ offset: Int, _ ty: Int, _ tx: Int) -> Void) {
        var ty = first / tilesW, tx = first - (first / tilesW) * tilesW
        for k in 0..<lanes {
            if k < count {
                body(k, ty * m * ld + tx * m, ty, tx)
                tx += 1
                if tx == tilesW { tx = 0; ty += 1 }
            } else {
                body(k, -1, -1, -1)
            }
        }
    }
}

/// Input transform V = Bᵀ·d·B of one α×α tile for 8 channels at once, from the channel-blocked
/// padded image (8 channels interleaved per pixel): `src` is the tile's top-left pixel, pixels 8
/// floats apart and rows `rowStride` floats apart. Every load is a whole vector and the transforms are
/// lane-wise, so there are no shuffles (across tiles, the stride-m gathers cost 8×8 transposes that
/// the compiler scalarized). V[ξ] (8 channels) goes to `dst + ξ·positionStride`, ξ = i·α + j.
@inline(__always)
private func winogradInputTransformC8(
    _ m: Int, _ src: UnsafePointer<Float>, rowStride: Int, dst: UnsafeMutablePointer<Float>, positionStride: Int
) {
    let a = m + 2
    // Row i of d·B (entries j < α).
    @inline(__always) func row(_ i: Int) -> SIMD8x8 {
        guard i < a else { return (SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8()) }
        let r = src + i * rowStride
        @inline(__always) func at(_ j: Int) -> SIMD8<Float> { j < a ? load8(r, 8 * j) : SIMD8() }
        return winogradInputColumn(m, (at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)))
    }
    let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
    for j in 0..<a {
        let v = winogradInputColumn(m, (lane(r0, j), lane(r1, j), lane(r2, j), lane(r3, j),
                                        lane(r4, j), lane(r5, j), lane(r6, j), lane(r7, j)))
        for i in 0..<a { store8(lane(v, i), dst + (i * a + j) * positionStride) }
    }
}

/// Output transform Y = Aᵀ·M·A of a group of up to 8 tiles of one output channel from the α² products
/// at `src + ξ·positionStride` (8 floats each), then bias and ReLU, written into the output `plane`
/// (`height` × `width`, row length `width`), each tile clipped to the plane. Groups of whole tiles are
/// transposed back to rows in registers and stored m floats per tile.
@inline(__always)
private func winogradOutputTransform8(
    _ m: Int, _ src: UnsafePointer<Float>, positionStride: Int, bias: Float, relu: Bool,
    plane: UnsafeMutablePointer<Float>, height: Int, width: Int, _ group: WinogradTileGroup
) {
    let a = m + 2
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 24) { tiles in
        let offset = tiles.baseAddress!, rows = offset + 8, columns = offset + 16
        var whole = group.count == 8
        group.forEachTile(m: m, ld: width) { k, o, ty, tx in
            offset[k] = o
            rows[k] = o < 0 ? 0 : min(m, height - ty * m)
            columns[k] = o < 0 ? 0 : min(m, width - tx * m)
            whole = whole && rows[k] == m && columns[k] == m
        }
        // Row i of M·A (its first m entries), from the products M[i][j] at src + (i·α + j)·positionStride.
        @inline(__always) func row(_ i: Int) -> SIMD8x8 {
            guard i < a else { return (SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8()) }
            let r = src + i * a * positionStride
            @inline(__always) func at(_ j: Int) -> SIMD8<Float> { j < a ? load8(r + j * positionStride) : SIMD8() }
            return winogradOutputColumn(m, (at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)))
        }
        let u0 = row(0), u1 = row(1), u2 = row(2), u3 = row(3), u4 = row(4), u5 = row(5), u6 = row(6), u7 = row(7)
        // Column j of Y = Aᵀ·(M·A): entry i is Y[i][j].
        @inline(__always) func column(_ j: Int) -> SIMD8x8 {
            guard j < m else { return (SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8()) }
            return winogradOutputColumn(m, (lane(u0, j), lane(u1, j), lane(u2, j), lane(u3, j),
                                            lane(u4, j), lane(u5, j), lane(u6, j), lane(u7, j)))
        }
        let y0 = column(0), y1 = column(1), y2 = column(2), y3 = column(3), y4 = column(4), y5 = column(5)
        let b = SIMD8<Float>(repeating: bias)
        for i in 0..<m {
            @inline(__always) func out(_ y: SIMD8x8, _ j: Int) -> SIMD8<Float> {
                guard j < m else { return SIMD8() }
                let s = lane(y, i) + b
                return relu ? relu8(s) : s
            }
            let y = (out(y0, 0), out(y1, 1), out(y2, 2), out(y3, 3), out(y4, 4), out(y5, 5), SIMD8<Float>(), SIMD8<Float>())
            if whole {
                let p = transposed8x8(y)   // entry k: tile k's m outputs of this row
                for k in 0..<8 { storeFirst(m, lane(p, k), plane + offset[k] + i * width) }
            } else {
                for k in 0..<group.count where i < rows[k] {
                    let row = plane + offset[k] + i * width
                    for j in 0..<columns[k] { row[j] = lane(y, j)[k] }
                }
            }
        }
    }
}

/// Stores the first `count` (2, 4 or 6) lanes of `v` at `p`.
@inline(__always)
private func storeFirst(_ count: Int, _ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    let raw = UnsafeMutableRawPointer(p)
    switch count {
    case 2: raw.storeBytes(of: v.lowHalf.lowHalf, as: SIMD2<Float>.self)
    case 4: raw.storeBytes(of: v.lowHalf, as: SIMD4<Float>.self)
    default:
        raw.storeBytes(of: v.lowHalf, as: SIMD4<Float>.self)
        raw.storeBytes(of: v.highHalf.lowHalf, toByteOffset: 16, as: SIMD2<Float>.self)
    }
}

/// ∂M = A·∂Y·Aᵀ of one 2×2 output-gradient tile for 8 channels at once (F(2×2, 3×3)'s output
/// transform, transposed: A = (Aᵀ)ᵀ = [1 0; 1 1; 1 −1; 0 −1]), from the channel-blocked gradient
/// (`src` the tile's top-left pixel, pixels 8 floats apart, rows `rowStride` apart). ∂M[ξ] goes to
/// `dst + ξ·positionStride`, ξ = i·4 + j. Used by the Winograd backward-filter pass.
@inline(never)
func winogradOutputGradientTransformF2x2C8(_ src: UnsafePointer<Float>, rowStride: Int, dst: UnsafeMutablePointer<Float>,
                                          positionStride: Int) {
    @inline(__always) func a(_ y0: SIMD8<Float>, _ y1: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        (y0, y0 + y1, y0 - y1, -y1)
    }
    let c0 = a(load8(src), load8(src + rowStride)), c1 = a(load8(src, 8), load8(src + rowStride, 8))   // columns of A·∂Y
    @inline(__always) func row(_ i: Int, _ p0: SIMD8<Float>, _ p1: SIMD8<Float>) {
        let r = a(p0, p1)
        store8(r.0, dst + (i * 4) * positionStride)
        store8(r.1, dst + (i * 4 + 1) * positionStride)
        store8(r.2, dst + (i * 4 + 2) * positionStride)
        store8(r.3, dst + (i * 4 + 3) * positionStride)
    }
    row(0, c0.0, c1.0)
    row(1, c0.1, c1.1)
    row(2, c0.2, c1.2)
    row(3, c0.3, c1.3)
}

// One non-inlined entry point per tile size, so that m is a constant inside each.

/// F(2×2, 3×3) input transform of one tile, 8 channels (see `winogradInputTransformC8`).
@inline(never)
func winogradInputTransformF2x2C8(_ src: UnsafePointer<Float>, rowStride: Int, dst: UnsafeMutablePointer<Float>, positionStride: Int) {
    winogradInputTransformC8(2, src, rowStride: rowStride, dst: dst, positionStride: positionStride)
}

/// F(4×4, 3×3) input transform of one tile, 8 channels (see `winogradInputTransformC8`).
@inline(never)
func winogradInputTransformF4x4C8(_ src: UnsafePointer<Float>, rowStride: Int, dst: UnsafeMutablePointer<Float>, positionStride: Int) {
    winogradInputTransformC8(4, src, rowStride: rowStride, dst: dst, positionStride: positionStride)
}

/// F(6×6, 3×3) input transform of one tile, 8 channels (see `winogradInputTransformC8`).
@inline(never)
func winogradInputTransformF6x6C8(_ src: UnsafePointer<Float>, rowStride: Int, dst: UnsafeMutablePointer<Float>, positionStride: Int) {
    winogradInputTransformC8(6, src, rowStride: rowStride, dst: dst, positionStride: positionStride)
}

/// F(2×2, 3×3) output transform of a group of up to 8 tiles (see `winogradOutputTransform8`).
@inline(never)
func winogradOutputTransformF2x2x8(_ src: UnsafePointer<Float>, positionStride: Int, bias: Float, relu: Bool,
                                   plane: UnsafeMutablePointer<Float>, height: Int, width: Int, _ group: WinogradTileGroup) {
    winogradOutputTransform8(2, src, positionStride: positionStride, bias: bias, relu: relu,
                             plane: plane, height: height, width: width, group)
}

/// F(4×4, 3×3) output transform of a group of up to 8 tiles.
@inline(never)
func winogradOutputTransformF4x4x8(_ src: UnsafePointer<Float>, positionStride: Int, bias: Float, relu: Bool,
                                   plane: UnsafeMutablePointer<Float>, height: Int, width: Int, _ group: WinogradTileGroup) {
    winogradOutputTransform8(4, src, positionStride: positionStride, bias: bias, relu: relu,
                             plane: plane, height: height, width: width, group)
}

/// F(6×6, 3×3) output transform of a group of up to 8 tiles.
@inline(never)
func winogradOutputTransformF6x6x8(_ src: UnsafePointer<Float>, positionStride: Int, bias: Float, relu: Bool,
                                   plane: UnsafeMutablePointer<Float>, height: Int, width: Int, _ group: WinogradTileGroup) {
    winogradOutputTransform8(6, src, positionStride: positionStride, bias: bias, relu: relu,
                             plane: plane, height: height, width: width, group)
}
