// SGEMM micro-kernel that reads A in place, rows as stored, for GEMMs with few columns.

/// out[r·ldo + j] = Σ_{k<kc} a[r·lda + k]·b[bStride·k + j] (or out += that, with `accumulate`), for
/// r < `rows` (1…8) and j < 16·`vectors` (`vectors` 1…3): 8 × `vectors` zmm accumulators.
///
/// A's rows are broadcast one float at a time straight from the matrix, so A is never packed; `b` is a
/// panel of 16·`vectors` columns, step k's at `b + k·bStride`: packed k-major (zero-padded, `bStride`
/// 16·`vectors`), or the rows of a row-major B in place (`bStride` its leading dimension). Where C has
/// few columns (49 pixels of a late convolution layer), packing A is a transposing copy of the whole
/// weight matrix that the few FMAs per weight cannot hide.
@inline(never)
public func sgemmKernel8x48AVX512UnpackedA(
    vectors: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, rows: Int, b: UnsafePointer<Float>, bStride: Int,
    out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool
) {
    switch vectors {
    case 3: unpackedA(3, kc, a, lda, rows, b, bStride, out, ldo, accumulate)
    case 2: unpackedA(2, kc, a, lda, rows, b, bStride, out, ldo, accumulate)
    default: unpackedA(1, kc, a, lda, rows, b, bStride, out, ldo, accumulate)
    }
}

@_transparent
private func unpackedA(
    _ v: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ b: UnsafePointer<Float>, _ bStride: Int,
    _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ accumulate: Bool
) {
    // Rows past `rows` read the last row again (valid memory) and are not stored.
    @_transparent func row(_ r: Int) -> UnsafePointer<Float> { a + min(r, rows - 1) * lda }
    let a0 = row(0), a1 = row(1), a2 = row(2), a3 = row(3), a4 = row(4), a5 = row(5), a6 = row(6), a7 = row(7)
    let z = SIMD16<Float>()
    var c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z
    var c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z
    var p = b
    var k = 0
    while k < kc {
        let y0 = load16(p), y1 = v > 1 ? load16(p, 16) : z, y2 = v > 2 ? load16(p, 32) : z
        @_transparent func step(_ x: Float, _ s0: inout SIMD16<Float>, _ s1: inout SIMD16<Float>, _ s2: inout SIMD16<Float>) {
            let xv = SIMD16<Float>(repeating: x)
            s0 = s0.addingProduct(xv, y0)
            if v > 1 { s1 = s1.addingProduct(xv, y1) }
            if v > 2 { s2 = s2.addingProduct(xv, y2) }
        }
        step(a0[k], &c00, &c01, &c02); step(a1[k], &c10, &c11, &c12); step(a2[k], &c20, &c21, &c22); step(a3[k], &c30, &c31, &c32)
        step(a4[k], &c40, &c41, &c42); step(a5[k], &c50, &c51, &c52); step(a6[k], &c60, &c61, &c62); step(a7[k], &c70, &c71, &c72)
        p += bStride
        k &+= 1
    }
    @_transparent func put(_ r: Int, _ s0: SIMD16<Float>, _ s1: SIMD16<Float>, _ s2: SIMD16<Float>) {
        guard r < rows else { return }
        let o = out + r * ldo
        store16(accumulate ? load16(o) + s0 : s0, o)
        if v > 1 { store16(accumulate ? load16(o, 16) + s1 : s1, o, 16) }
        if v > 2 { store16(accumulate ? load16(o, 32) + s2 : s2, o, 32) }
    }
    put(0, c00, c01, c02); put(1, c10, c11, c12); put(2, c20, c21, c22); put(3, c30, c31, c32)
    put(4, c40, c41, c42); put(5, c50, c51, c52); put(6, c60, c61, c62); put(7, c70, c71, c72)
}
