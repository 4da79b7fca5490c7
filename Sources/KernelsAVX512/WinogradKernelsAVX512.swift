// AVX-512 Winograd kernels (see SGEMMKernel8x32AVX512.swift for why they live in this module).

/// Aᵀ of F(4×4, 3×3) applied to 6 vectors (Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0;
/// 0 1 −1 8 −8 1]): the same operations, in the same order, as `winogradOutputColumn(4, _:)` in
/// `Kernels` (copied: this module is compiled for another CPU and cannot inline that one).
@inline(__always)
private func outputColumnF4x4(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>,
                              _ v3: SIMD16<Float>, _ v4: SIMD16<Float>, _ v5: SIMD16<Float>)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let s12 = v1 + v2, d12 = v1 - v2, s34 = v3 + v4, d34 = v3 - v4
    return (v0 + s12 + s34,
            d12.addingProduct(SIMD16(repeating: 2), d34),
            s12.addingProduct(SIMD16(repeating: 4), s34),
            d12.addingProduct(SIMD16(repeating: 8), d34) + v5)
}

/// F(4×4, 3×3) output transform Y = Aᵀ·M·A of 16 tiles of one output channel, then bias and ReLU:
/// the 36 products of tile k are at `src + ξ·positionStride + k` (ξ = 6i + j), and tile k's 4×4
/// outputs go to `plane + offsets[k]`, rows `width` apart. One zmm per position holds all 16 tiles;
/// four 4×16 blocks are transposed to 16 rows of 4 floats by two rounds of unpack-style lane
/// picks (LLVM lowers them to a mix of `vunpck*ps`, `vinsertps` and `vblendps`). With
/// `clip`, tile k keeps only its first `clip[k]` rows and `clip[16 + k]` columns (tiles cut by the
/// plane's edge). Every element takes the operations `winogradOutputTransformF4x4x8` applies, in
/// the same order.
@inline(never)
public func winogradOutputTransformF4x4x16AVX512(
    _ src: UnsafePointer<Float>, positionStride: Int, bias: Float, relu: Bool,
    plane: UnsafeMutablePointer<Float>, width: Int, offsets: UnsafePointer<Int>, clip: UnsafePointer<Int>?
) {
    @inline(__always) func at(_ i: Int, _ j: Int) -> SIMD16<Float> {
        UnsafeRawPointer(src + (6 * i + j) * positionStride).loadUnaligned(as: SIMD16<Float>.self)
    }
    // Rows of M·A: u_i = Aᵀ applied along j.
    @inline(__always) func row(_ i: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        outputColumnF4x4(at(i, 0), at(i, 1), at(i, 2), at(i, 3), at(i, 4), at(i, 5))
    }
    let u0 = row(0), u1 = row(1), u2 = row(2), u3 = row(3), u4 = row(4), u5 = row(5)
    // Columns of Aᵀ·(M·A): entry i of column j is Y[i][j].
    let y0 = outputColumnF4x4(u0.0, u1.0, u2.0, u3.0, u4.0, u5.0)
    let y1 = outputColumnF4x4(u0.1, u1.1, u2.1, u3.1, u4.1, u5.1)
    let y2 = outputColumnF4x4(u0.2, u1.2, u2.2, u3.2, u4.2, u5.2)
    let y3 = outputColumnF4x4(u0.3, u1.3, u2.3, u3.3, u4.3, u5.3)
    let b = SIMD16<Float>(repeating: bias)
    @inline(__always) func out(_ v: SIMD16<Float>) -> SIMD16<Float> {
        let s = v + b
        return relu ? s.replacing(with: 0, where: s .< 0) : s
    }
    @inline(__always) func storeRow(_ i: Int, _ a: SIMD16<Float>, _ c: SIMD16<Float>, _ e: SIMD16<Float>, _ g: SIMD16<Float>) {
        // Per 128-bit block q: t0 = a0 c0 a1 c1, t1 = a2 c2 a3 c3, t2 = e0 g0 e1 g1, t3 = e2 g2 e3 g3.
        let t0 = SIMD16<Float>(a[0], c[0], a[1], c[1], a[4], c[4], a[5], c[5], a[8], c[8], a[9], c[9], a[12], c[12], a[13], c[13])
        let t1 = SIMD16<Float>(a[2], c[2], a[3], c[3], a[6], c[6], a[7], c[7], a[10], c[10], a[11], c[11], a[14], c[14], a[15], c[15])
        let t2 = SIMD16<Float>(e[0], g[0], e[1], g[1], e[4], g[4], e[5], g[5], e[8], g[8], e[9], g[9], e[12], g[12], e[13], g[13])
        let t3 = SIMD16<Float>(e[2], g[2], e[3], g[3], e[6], g[6], e[7], g[7], e[10], g[10], e[11], g[11], e[14], g[14], e[15], g[15])
        // r_s's block q holds tile 4q + s: (Y[i][0], Y[i][1], Y[i][2], Y[i][3]).
        let r0 = SIMD16<Float>(t0[0], t0[1], t2[0], t2[1], t0[4], t0[5], t2[4], t2[5], t0[8], t0[9], t2[8], t2[9], t0[12], t0[13], t2[12], t2[13])
        let r1 = SIMD16<Float>(t0[2], t0[3], t2[2], t2[3], t0[6], t0[7], t2[6], t2[7], t0[10], t0[11], t2[10], t2[11], t0[14], t0[15], t2[14], t2[15])
        let r2 = SIMD16<Float>(t1[0], t1[1], t3[0], t3[1], t1[4], t1[5], t3[4], t3[5], t1[8], t1[9], t3[8], t3[9], t1[12], t1[13], t3[12], t3[13])
        let r3 = SIMD16<Float>(t1[2], t1[3], t3[2], t3[3], t1[6], t1[7], t3[6], t3[7], t1[10], t1[11], t3[10], t3[11], t1[14], t1[15], t3[14], t3[15])
        @inline(__always) func put(_ k: Int, _ v: SIMD4<Float>) {
            UnsafeMutableRawPointer(plane + offsets[k] + i * width).storeBytes(of: v, as: SIMD4<Float>.self)
        }
        @inline(__always) func put4(_ s: Int, _ r: SIMD16<Float>) {
            put(s, r.lowHalf.lowHalf); put(4 + s, r.lowHalf.highHalf); put(8 + s, r.highHalf.lowHalf); put(12 + s, r.highHalf.highHalf)
        }
        put4(0, r0); put4(1, r1); put4(2, r2); put4(3, r3)
    }
    if let clip {
        // Tiles cut by the edge: Y[i][j] of all 16 tiles to the stack, then the inside elements.
        withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: 16) { buffer in
            let t = buffer.baseAddress!   // t[4i + j] = Y[i][j]
            t[0] = out(y0.0); t[1] = out(y1.0); t[2] = out(y2.0); t[3] = out(y3.0)
            t[4] = out(y0.1); t[5] = out(y1.1); t[6] = out(y2.1); t[7] = out(y3.1)
            t[8] = out(y0.2); t[9] = out(y1.2); t[10] = out(y2.2); t[11] = out(y3.2)
            t[12] = out(y0.3); t[13] = out(y1.3); t[14] = out(y2.3); t[15] = out(y3.3)
            for k in 0..<16 {
                for i in 0..<clip[k] {
                    let p = plane + offsets[k] + i * width
                    for j in 0..<clip[16 + k] { p[j] = t[4 * i + j][k] }
                }
            }
        }
        return
    }
    storeRow(0, out(y0.0), out(y1.0), out(y2.0), out(y3.0))
    storeRow(1, out(y0.1), out(y1.1), out(y2.1), out(y3.1))
    storeRow(2, out(y0.2), out(y1.2), out(y2.2), out(y3.2))
    storeRow(3, out(y0.3), out(y1.3), out(y2.3), out(y3.3))
}
