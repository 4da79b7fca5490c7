// Dot-product SGEMM micro-kernel: C = A·Bᵀ with both operands read along K as stored.

/// out[r·ldo + s] = Σ_{k<kc} a[r·lda + k]·b[s·ldb + k] (or out += that, with `accumulate`), for
/// r < `rows` (1…4) and s < `columns` (1…6): 24 zmm accumulators, 16 steps of k per iteration.
/// `kc` is a multiple of 16. Lane l of an accumulator sums the steps k ≡ l (mod 16); the 16 lanes
/// are then added by a fixed tree, so an element's arithmetic depends on `kc` alone. Rows past
/// `rows` read the last row again and are not stored.
///
/// For the last 1–16 columns of `GEMM.unpackedAGEMM` (ResNet's 49 pixels: 48 + 1), where the broadcast
/// kernel would spend a 16-column vector per column. Both operands come from L2 at 10 loads per 24 FMAs,
/// so it is the slower of the two per column (a 512×49×2048 GEMM on it alone: 86 GFLOPS, against 107
/// with the 8×48 broadcast kernel for the first 48 columns).
@inline(never)
public func sgemmDotKernel4x6AVX512(
    kc: Int, a: UnsafePointer<Float>, lda: Int, rows: Int, b: UnsafePointer<Float>, ldb: Int, columns: Int,
    out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool
) {
    let a0 = a, a1 = a + min(1, rows - 1) * lda, a2 = a + min(2, rows - 1) * lda, a3 = a + min(3, rows - 1) * lda
    switch columns {
    case 6: dot4(6, kc, a0, a1, a2, a3, b, ldb, rows, out, ldo, accumulate)
    case 5: dot4(5, kc, a0, a1, a2, a3, b, ldb, rows, out, ldo, accumulate)
    case 4: dot4(4, kc, a0, a1, a2, a3, b, ldb, rows, out, ldo, accumulate)
    case 3: dot4(3, kc, a0, a1, a2, a3, b, ldb, rows, out, ldo, accumulate)
    case 2: dot4(2, kc, a0, a1, a2, a3, b, ldb, rows, out, ldo, accumulate)
    default: dot4(1, kc, a0, a1, a2, a3, b, ldb, rows, out, ldo, accumulate)
    }
}

@_transparent
private func dot4(
    _ n: Int, _ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>, _ a3: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, _ ldb: Int, _ rows: Int, _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ accumulate: Bool
) {
    let z = SIMD16<Float>()
    var c00 = z, c10 = z, c20 = z, c30 = z, c01 = z, c11 = z, c21 = z, c31 = z, c02 = z, c12 = z, c22 = z, c32 = z
    var c03 = z, c13 = z, c23 = z, c33 = z, c04 = z, c14 = z, c24 = z, c34 = z, c05 = z, c15 = z, c25 = z, c35 = z
    let b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb, b4 = b + 4 * ldb, b5 = b + 5 * ldb
    var k = 0
    while k < kc {
        let x0 = load16(a0, k), x1 = load16(a1, k), x2 = load16(a2, k), x3 = load16(a3, k)
        @_transparent func column(_ j: Int, _ bj: UnsafePointer<Float>, _ s0: inout SIMD16<Float>, _ s1: inout SIMD16<Float>,
                                  _ s2: inout SIMD16<Float>, _ s3: inout SIMD16<Float>) {
            guard j < n else { return }
            let y = load16(bj, k)
            s0 = s0.addingProduct(x0, y); s1 = s1.addingProduct(x1, y); s2 = s2.addingProduct(x2, y); s3 = s3.addingProduct(x3, y)
        }
        column(0, b0, &c00, &c10, &c20, &c30); column(1, b1, &c01, &c11, &c21, &c31); column(2, b2, &c02, &c12, &c22, &c32)
        column(3, b3, &c03, &c13, &c23, &c33); column(4, b4, &c04, &c14, &c24, &c34); column(5, b5, &c05, &c15, &c25, &c35)
        k &+= 16
    }
    @_transparent func put(_ j: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>) {
        guard j < n else { return }
        let s = sum4(v0, v1, v2, v3), o = out + j
        for r in 0..<rows { o[r * ldo] = accumulate ? o[r * ldo] + s[r] : s[r] }
    }
    put(0, c00, c10, c20, c30); put(1, c01, c11, c21, c31); put(2, c02, c12, c22, c32)
    put(3, c03, c13, c23, c33); put(4, c04, c14, c24, c34); put(5, c05, c15, c25, c35)
}

/// The lane sums of four accumulators, by one fixed tree (halves, then even + odd lanes, three times).
@inline(__always)
private func sum4(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>) -> SIMD4<Float> {
    let h0 = v0.lowHalf + v0.highHalf, h1 = v1.lowHalf + v1.highHalf, h2 = v2.lowHalf + v2.highHalf, h3 = v3.lowHalf + v3.highHalf
    let t01 = SIMD16(lowHalf: h0, highHalf: h1), t23 = SIMD16(lowHalf: h2, highHalf: h3)
    let u01 = t01.evenHalf + t01.oddHalf, u23 = t23.evenHalf + t23.oddHalf
    let t = SIMD16(lowHalf: u01, highHalf: u23)
    let w = t.evenHalf + t.oddHalf
    return w.evenHalf + w.oddHalf
}
