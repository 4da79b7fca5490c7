/// Kernels for GEMMs with few rows of C (M ≤ 4: a fully connected layer at batch 1…4), where
/// packing costs as much as the product. Both are memory-bound and stream B once per row of C.

/// out[r] = Σₚ x[p]·w[r·ldw + p] for r in 0..<4: four dot products against rows of a row-major W.
/// Two accumulators per row keep eight FMA chains in flight.
@inline(never)
func sdotKernel4(k: Int, x: UnsafePointer<Float>, w: UnsafePointer<Float>, ldw: Int, out: UnsafeMutablePointer<Float>) {
    let w0 = w, w1 = w + ldw, w2 = w + 2 * ldw, w3 = w + 3 * ldw
    var a0 = SIMD8<Float>(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0
    var p = 0
    while p + 16 <= k {
        let x0 = load8(x, p), x1 = load8(x, p + 8)
        a0 = madd(a0, x0, load8(w0, p)); b0 = madd(b0, x1, load8(w0, p + 8))
        a1 = madd(a1, x0, load8(w1, p)); b1 = madd(b1, x1, load8(w1, p + 8))
        a2 = madd(a2, x0, load8(w2, p)); b2 = madd(b2, x1, load8(w2, p + 8))
        a3 = madd(a3, x0, load8(w3, p)); b3 = madd(b3, x1, load8(w3, p + 8))
        p += 16
    }
    var s0 = (a0 + b0).sum(), s1 = (a1 + b1).sum(), s2 = (a2 + b2).sum(), s3 = (a3 + b3).sum()
    while p < k {
        let xv = x[p]
        s0 += xv * w0[p]; s1 += xv * w1[p]; s2 += xv * w2[p]; s3 += xv * w3[p]
        p += 1
    }
    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3
}

/// out[0] = Σₚ x[p]·w[p]: the one-row remainder of `sdotKernel4`, with the same summation order.
@inline(never)
func sdotKernel1(k: Int, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    var a0 = SIMD8<Float>(), b0 = a0
    var p = 0
    while p + 16 <= k {
        a0 = madd(a0, load8(x, p), load8(w, p)); b0 = madd(b0, load8(x, p + 8), load8(w, p + 8))
        p += 16
    }
    var s0 = (a0 + b0).sum()
    while p < k { s0 += x[p] * w[p]; p += 1 }
    out[0] = s0
}

/// out[j] = Σₚ x[p·incx]·b[p·ldb + j] for j in 0..<n: a row vector times a row-major matrix,
/// vectorized over 32 columns at a time (AXPY form).
@inline(never)
func saxpyRowKernel(
    k: Int, x: UnsafePointer<Float>, incx: Int, b: UnsafePointer<Float>, ldb: Int, n: Int, out: UnsafeMutablePointer<Float>
) {
    var j = 0
    while j + 32 <= n {
        var c0 = SIMD8<Float>(), c1 = c0, c2 = c0, c3 = c0
        for p in 0..<k {
            let xv = SIMD8<Float>(repeating: x[p * incx]), row = b + p * ldb + j
            c0 = madd(c0, xv, load8(row)); c1 = madd(c1, xv, load8(row, 8))
            c2 = madd(c2, xv, load8(row, 16)); c3 = madd(c3, xv, load8(row, 24))
        }
        store8(c0, out, j); store8(c1, out, j + 8); store8(c2, out, j + 16); store8(c3, out, j + 24)
        j += 32
    }
    while j + 8 <= n {
        var c0 = SIMD8<Float>()
        for p in 0..<k { c0 = madd(c0, SIMD8<Float>(repeating: x[p * incx]), load8(b + p * ldb + j)) }
        store8(c0, out, j)
        j += 8
    }
    while j < n {
        var s: Float = 0
        for p in 0..<k { s += x[p * incx] * b[p * ldb + j] }
        out[j] = s
        j += 1
    }
}
