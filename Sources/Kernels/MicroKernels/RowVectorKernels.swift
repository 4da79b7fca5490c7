import CPUHints

/// Kernels for GEMMs with few rows of C (M ≤ 4: a fully connected layer at batch 1…4), where
/// packing costs as much as the product. Both are memory-bound and stream B once per row of C.

/// How far ahead (floats) `sdotKernel4` prefetches each of its four rows of W: 1 KiB. The hardware
/// prefetcher alone left a Xeon (Sapphire Rapids class) VM core short of its read bandwidth: VGG-16
/// FC6 at batch 1, alternating calls, 10.9 → 12.7 GB/s on 1 thread and 21.9 → 23.6 GB/s on 2.
let sdotPrefetchAhead = 256

/// out[r] = Σₚ x[p]·w[r·ldw + p] for r in 0..<4: four dot products against rows of a row-major W.
/// Two accumulators per row keep eight FMA chains in flight.
@inline(never)
func sdotKernel4(k: Int, x: UnsafePointer<Float>, w: UnsafePointer<Float>, ldw: Int, out: UnsafeMutablePointer<Float>) {
    let w0 = w, w1 = w + ldw, w2 = w + 2 * ldw, w3 = w + 3 * ldw
    var a0 = SIMD8<Float>(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0
    var p = 0
    while p + 16 <= k {
        // One 64-byte line per row per step (a prefetch past the end never faults).
        let ahead = p + sdotPrefetchAhead
        tessera_prefetch_read(w0 + ahead); tessera_prefetch_read(w1 + ahead)
        tessera_prefetch_read(w2 + ahead); tessera_prefetch_read(w3 + ahead)
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

/// out[0..<n] = Σ_p x[p·incx] · b[p·ldb + 0..<n]: B streamed row by row (each row segment is
/// contiguous, so the hardware prefetcher follows it), four rows per pass over `out`, which stays in
/// L1. The sum for each element runs in p order, as a plain loop would.
@inline(never)
func saxpyRowKernel(
    k: Int, x: UnsafePointer<Float>, incx: Int, b: UnsafePointer<Float>, ldb: Int, n: Int, out: UnsafeMutablePointer<Float>
) {
    let vectorEnd = n / 8 * 8
    var j = 0
    while j < vectorEnd { store8(SIMD8<Float>(), out, j); j += 8 }
    for t in vectorEnd..<n { out[t] = 0 }
    var p = 0
    while p + 4 <= k {
        let x0 = x[p * incx], x1 = x[(p + 1) * incx], x2 = x[(p + 2) * incx], x3 = x[(p + 3) * incx]
        let v0 = SIMD8<Float>(repeating: x0), v1 = SIMD8<Float>(repeating: x1)
        let v2 = SIMD8<Float>(repeating: x2), v3 = SIMD8<Float>(repeating: x3)
        let r0 = b + p * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb
        j = 0
        while j < vectorEnd {
            store8(madd(madd(madd(madd(load8(out, j), v0, load8(r0, j)), v1, load8(r1, j)), v2, load8(r2, j)), v3, load8(r3, j)), out, j)
            j += 8
        }
        for t in vectorEnd..<n { out[t] = (((out[t] + x0 * r0[t]) + x1 * r1[t]) + x2 * r2[t]) + x3 * r3[t] }
        p += 4
    }
    while p < k {
        let x0 = x[p * incx], v0 = SIMD8<Float>(repeating: x0), r0 = b + p * ldb
        j = 0
        while j < vectorEnd { store8(madd(load8(out, j), v0, load8(r0, j)), out, j); j += 8 }
        for t in vectorEnd..<n { out[t] += x0 * r0[t] }
        p += 1
    }
}
