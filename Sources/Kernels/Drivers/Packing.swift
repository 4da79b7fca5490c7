/// Packing of GEMM operands into the micro-kernel's panel layouts (Goto & van de Geijn 2008).
///
/// A is packed in MR-row panels, k-major: panel r holds rows r·MR..<r·MR+MR, MR floats per k step.
/// B is packed in NR-column panels, k-major: NR floats per k step. Rows or columns past the
/// matrix edge are zero, so the micro-kernel never needs an edge case in its loop.
enum Packing {
    /// Packs op(A)[m0..<m0+mc, p0..<p0+kc] into ceil(mc/MR) panels at `dst`.
    static func packA(
        _ trans: Transpose, _ a: UnsafePointer<Float>, _ lda: Int,
        m0: Int, mc: Int, p0: Int, kc: Int, dst: UnsafeMutablePointer<Float>
    ) {
        let mr = GEMMBlocking.mr
        var out = dst
        var i0 = 0
        while i0 < mc {
            let rows = min(mr, mc - i0)
            if trans == .none {
                // Row i of A is contiguous in k: read MR rows side by side.
                for p in 0..<kc {
                    for ii in 0..<mr { out[p * mr + ii] = ii < rows ? a[(m0 + i0 + ii) * lda + p0 + p] : 0 }
                }
            } else {
                // op(A)[i, p] = A[p, i]: MR consecutive floats per k step.
                for p in 0..<kc {
                    let src = a + (p0 + p) * lda + m0 + i0
                    for ii in 0..<mr { out[p * mr + ii] = ii < rows ? src[ii] : 0 }
                }
            }
            out += kc * mr
            i0 += mr
        }
    }

    /// Packs op(B)[p0..<p0+kc, n0..<n0+nc] into ceil(nc/NR) panels at `dst`.
    static func packB(
        _ trans: Transpose, _ b: UnsafePointer<Float>, _ ldb: Int,
        p0: Int, kc: Int, n0: Int, nc: Int, dst: UnsafeMutablePointer<Float>
    ) {
        let nr = GEMMBlocking.nr
        var out = dst
        var j0 = 0
        while j0 < nc {
            let cols = min(nr, nc - j0)
            if trans == .none {
                // Row p of B is contiguous in n: copy NR floats per k step.
                if cols == nr {
                    for p in 0..<kc {
                        let src = b + (p0 + p) * ldb + n0 + j0
                        store8(load8(src), out + p * nr)
                        store8(load8(src, 8), out + p * nr + 8)
                    }
                } else {
                    for p in 0..<kc {
                        let src = b + (p0 + p) * ldb + n0 + j0
                        for jj in 0..<nr { out[p * nr + jj] = jj < cols ? src[jj] : 0 }
                    }
                }
            } else {
                // op(B)[p, j] = B[j, p]: column j of op(B) is row j of B, contiguous in k.
                for jj in 0..<nr {
                    if jj < cols {
                        let src = b + (n0 + j0 + jj) * ldb + p0
                        for p in 0..<kc { out[p * nr + jj] = src[p] }
                    } else {
                        for p in 0..<kc { out[p * nr + jj] = 0 }
                    }
                }
            }
            out += kc * nr
            j0 += nr
        }
    }
}
