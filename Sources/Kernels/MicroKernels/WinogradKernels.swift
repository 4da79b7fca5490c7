/// Winograd F(m×m, 3×3) transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016): a tile of α×α inputs (α = m + 2) gives m×m outputs with α² products instead
/// of 9·m². V = Bᵀ·d·B, U = G·g·Gᵀ, Y = Aᵀ·(U ⊙ V)·A.
struct WinogradTransform: Sendable {
    /// Outputs per tile side, and the input tile side α = m + 2.
    let m: Int, alpha: Int
    /// Bᵀ (α×α), G (α×3), Aᵀ (m×α), row-major.
    let bt: [Float], g: [Double], at: [Float]

    /// F(2×2, 3×3): points 0, ±1.
    static let f2x2 = WinogradTransform(
        m: 2, alpha: 4,
        bt: [1, 0, -1, 0,
             0, 1, 1, 0,
             0, -1, 1, 0,
             0, 1, 0, -1],
        g: [1, 0, 0,
            0.5, 0.5, 0.5,
            0.5, -0.5, 0.5,
            0, 0, 1],
        at: [1, 1, 1, 0,
             0, 1, -1, -1])

    /// F(4×4, 3×3): points 0, ±1, ±2 (the integer points SPEC §3 allows; ±3 loses 3000× accuracy).
    static let f4x4 = WinogradTransform(
        m: 4, alpha: 6,
        bt: [4, 0, -5, 0, 1, 0,
             0, -4, -4, 1, 1, 0,
             0, 4, -4, -1, 1, 0,
             0, -2, -1, 2, 1, 0,
             0, 2, -1, -2, 1, 0,
             0, 4, 0, -5, 0, 1],
        g: [1.0 / 4, 0, 0,
            -1.0 / 6, -1.0 / 6, -1.0 / 6,
            -1.0 / 6, 1.0 / 6, -1.0 / 6,
            1.0 / 24, 1.0 / 12, 1.0 / 6,
            1.0 / 24, -1.0 / 12, 1.0 / 6,
            0, 0, 1],
        at: [1, 1, 1, 1, 1, 0,
             0, 1, -1, 2, -2, 0,
             0, 1, 1, 4, 4, 0,
             0, 1, -1, 8, -8, 1])

    /// U = G·g·Gᵀ for one 3×3 filter (row-major `w`), accumulated in Double, written as α² floats.
    func filter(_ w: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>) {
        let a = alpha
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * a) { t in
            g.withUnsafeBufferPointer { g in
                for i in 0..<a {   // t = G·w (α×3)
                    let g0 = g[i * 3], g1 = g[i * 3 + 1], g2 = g[i * 3 + 2]
                    for j in 0..<3 { t[i * 3 + j] = g0 * Double(w[j]) + g1 * Double(w[3 + j]) + g2 * Double(w[6 + j]) }
                }
                for i in 0..<a {   // u = t·Gᵀ (α×α)
                    let t0 = t[i * 3], t1 = t[i * 3 + 1], t2 = t[i * 3 + 2]
                    for j in 0..<a { u[i * a + j] = Float(t0 * g[j * 3] + t1 * g[j * 3 + 1] + t2 * g[j * 3 + 2]) }
                }
            }
        }
    }
}

/// Input transform of up to 8 horizontally adjacent tiles of one channel, SIMD8 across the tiles:
/// v[ξ] = (Bᵀ·d·B)[ξ] for ξ = i·α + j, stored at `dst + ξ·positionStride` (8 floats, the tiles in
/// order). `src` is the tile row's top-left in a zero-padded plane with row length `ld`; tile q starts
/// m·q columns to the right. Lanes past the last real tile read padding and are stored but unused.
@inline(never)
func winogradInputTransform8(
    _ src: UnsafePointer<Float>, ld: Int, _ tf: WinogradTransform, bt: UnsafePointer<Float>,
    dst: UnsafeMutablePointer<Float>, positionStride: Int
) {
    let a = tf.alpha, m = tf.m
    withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * a * a) { buf in
        let d = buf.baseAddress!, t = d + a * a
        // d[i][j] lane q = row_i[m·q + j]: stride-m deinterleaves of contiguous loads (no scalar gathers);
        // columns j ≥ m are columns j − m of the same deinterleave started m floats further.
        for i in 0..<a {
            let row = src + i * ld
            var j = 0
            while j < a {
                deinterleave(row + j, m, into: d + i * a + j, count: min(m, a - j))
                j += m
            }
        }
        // t = Bᵀ·d
        for i in 0..<a {
            for j in 0..<a {
                var s = SIMD8<Float>()
                for k in 0..<a where bt[i * a + k] != 0 { s = madd(s, SIMD8(repeating: bt[i * a + k]), d[k * a + j]) }
                t[i * a + j] = s
            }
        }
        // v = t·B, B = (Bᵀ)ᵀ
        for i in 0..<a {
            for j in 0..<a {
                var s = SIMD8<Float>()
                for k in 0..<a where bt[j * a + k] != 0 { s = madd(s, SIMD8(repeating: bt[j * a + k]), t[i * a + k]) }
                store8(s, dst + (i * a + j) * positionStride)
            }
        }
    }
}

/// Output transform of up to 8 adjacent tiles of one output channel: y = Aᵀ·M·A from the α² products
/// at `src + ξ·positionStride` (8 floats each), then bias and ReLU, written to the m×m blocks of the
/// first `tiles` tiles at `dst` (row length `ld`), clipped to `rows` × `columns` valid outputs.
@inline(never)
func winogradOutputTransform8(
    _ src: UnsafePointer<Float>, positionStride: Int, _ tf: WinogradTransform, at: UnsafePointer<Float>,
    bias: Float, relu: Bool, dst: UnsafeMutablePointer<Float>, ld: Int, tiles: Int, rows: Int, columns: Int
) {
    let a = tf.alpha, m = tf.m
    withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: a * a + m * a + m * m) { buf in
        let v = buf.baseAddress!, t = v + a * a, y = t + m * a
        for x in 0..<(a * a) { v[x] = load8(src + x * positionStride) }
        // t = Aᵀ·M (m×α)
        for i in 0..<m {
            for j in 0..<a {
                var s = SIMD8<Float>()
                for k in 0..<a where at[i * a + k] != 0 { s = madd(s, SIMD8(repeating: at[i * a + k]), v[k * a + j]) }
                t[i * a + j] = s
            }
        }
        // y = t·A (m×m), + bias, ReLU
        let b = SIMD8<Float>(repeating: bias)
        for i in 0..<m {
            for j in 0..<m {
                var s = b
                for k in 0..<a where at[j * a + k] != 0 { s = madd(s, SIMD8(repeating: at[j * a + k]), t[i * a + k]) }
                y[i * m + j] = relu ? relu8(s) : s
            }
        }
        for i in 0..<min(m, rows) {
            let out = dst + i * ld
            for q in 0..<tiles {
                for j in 0..<min(m, columns - q * m) { out[q * m + j] = y[i * m + j][q] }
            }
        }
    }
}

/// The first `count` of the m stride-m lanes of the 8·m floats at `p`: out[k] lane q = p[m·q + k]
/// (m = 2 or 4), by even/odd splits of contiguous SIMD16 loads.
@inline(__always)
func deinterleave(_ p: UnsafePointer<Float>, _ m: Int, into out: UnsafeMutablePointer<SIMD8<Float>>, count: Int) {
    let lo = SIMD16<Float>(lowHalf: load8(p), highHalf: load8(p, 8))
    if m == 2 {
        out[0] = lo.evenHalf
        if count > 1 { out[1] = lo.oddHalf }
        return
    }
    let hi = SIMD16<Float>(lowHalf: load8(p, 16), highHalf: load8(p, 24))
    let evens = SIMD16<Float>(lowHalf: lo.evenHalf, highHalf: hi.evenHalf)   // p[0, 2, …, 30]
    let odds = SIMD16<Float>(lowHalf: lo.oddHalf, highHalf: hi.oddHalf)      // p[1, 3, …, 31]
    out[0] = evens.evenHalf
    if count > 1 { out[1] = odds.evenHalf }
    if count > 2 { out[2] = evens.oddHalf }
    if count > 3 { out[3] = odds.oddHalf }
}
