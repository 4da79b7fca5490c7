import CPUHints

/// Packing of GEMM operands into the micro-kernels' panel layouts (Goto & van de Geijn 2008).
///
/// A is packed in MR-row panels, k-major: panel r holds rows r·MR..<r·MR+MR, MR floats per k step.
/// B is packed in NR-column panels, k-major: NR floats per k step. Rows or columns past the
/// matrix edge are zero, so a micro-kernel never needs an edge case in its loop.
enum Packing {
    /// How many rows ahead `packB` prefetches the rows of a row-major B.
    static let packBPrefetchRows = 4
    /// How far ahead along its 8 rows of B the transposed `packB` prefetches (512 bytes): the rows are
    /// ldb apart, and 8 short streams at once outran the hardware prefetcher. Zen 4, all of a 512×4608
    /// Aᵀ from L3 alone: 10 → 16 GB/s; 512×49×4608 GEMM (the transposed path's weight repack) +1–4 %,
    /// 1 and 2 threads. (The same prefetch in `packA` left the GEMMs within ±1 %.)
    static let packTransposedBPrefetchFloats = 128

    /// Packs op(A)[m0..<m0+mc, p0..<p0+kc] into ceil(mc/mr) panels at `dst`.
    static func packA(
        _ trans: Transpose, _ a: UnsafePointer<Float>, _ lda: Int,
        m0: Int, mc: Int, p0: Int, kc: Int, mr: Int, dst: UnsafeMutablePointer<Float>
    ) {
        if trans == .transpose {
            packTransposedA(a, lda, m0: m0, mc: mc, p0: p0, kc: kc, mr: mr, dst: dst)
            return
        }
        var out = dst
        var i0 = 0
        while i0 < mc {
            let rows = min(mr, mc - i0)
            if rows < mr { out.update(repeating: 0, count: kc * mr) }
            if rows == 8 && mr == 8 {
                // Eight rows contiguous in k: 8×8 blocks transposed in registers.
                let src = a + (m0 + i0) * lda + p0
                var p = 0
                while p + 8 <= kc { transpose8x8(src + p, lda, out + p * 8, 8); p += 8 }
                for ii in 0..<8 { for q in p..<kc { out[q * 8 + ii] = src[ii * lda + q] } }
            } else {
                // Row i of A is contiguous in k: one pass per row, strided writes.
                for ii in 0..<rows {
                    let src = a + (m0 + i0 + ii) * lda + p0
                    for p in 0..<kc { out[p * mr + ii] = src[p] }
                }
            }
            out += kc * mr
            i0 += mr
        }
    }

    /// `packA` of op(A) = Aᵀ: op(A)[i, p] = A[p, i], so row p of A holds k step p of every panel,
    /// contiguous. Each row is read once, front to back, and scattered MR floats at a time into the
    /// panels, with vector copies for the kernels' MR (8; 6 as 4 + 2; 7 as 4 + 2 + 1). Panel by panel, every k step
    /// re-read the rows' cache lines, and a 24-byte memmove per k step was 4–5 % of a transposed
    /// 1×1 convolution at 7×7 (Zen 3 profile).
    private static func packTransposedA(
        _ a: UnsafePointer<Float>, _ lda: Int, m0: Int, mc: Int, p0: Int, kc: Int, mr: Int, dst: UnsafeMutablePointer<Float>
    ) {
        let fullPanels = mc / mr, edgeRows = mc - fullPanels * mr
        if edgeRows > 0 { (dst + fullPanels * kc * mr).update(repeating: 0, count: kc * mr) }
        for p in 0..<kc {
            var src = a + (p0 + p) * lda + m0
            var o = dst + p * mr
            for _ in 0..<fullPanels {
                if mr == 8 {
                    store8(load8(src), o)
                } else if mr == 6 || mr == 7 {
                    let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(o)
                    d.storeBytes(of: s.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                    d.storeBytes(of: s.loadUnaligned(fromByteOffset: 16, as: SIMD2<Float>.self), toByteOffset: 16, as: SIMD2<Float>.self)
                    if mr == 7 { o[6] = src[6] }
                } else {
                    for r in 0..<mr { o[r] = src[r] }
                }
                src += mr
                o += kc * mr
            }
            for r in 0..<edgeRows { o[r] = src[r] }
        }
    }

    /// Packs op(B)[p0..<p0+kc, n0..<n0+nc] into ceil(nc/nr) panels at `dst`.
    static func packB(
        _ trans: Transpose, _ b: UnsafePointer<Float>, _ ldb: Int,
        p0: Int, kc: Int, n0: Int, nc: Int, nr: Int, dst: UnsafeMutablePointer<Float>
    ) {
        if trans == .none {
            // Row p of B is contiguous in n: each row segment is read once, front to back, and
            // scattered NR floats at a time into the panels. (Panel by panel, every k step would
            // land on another page: ldb is often a whole image row of floats.)
            // The rows are ldb apart, so the hardware prefetcher sees a short stream per row and the
            // copy waits on each row's misses: row p + `packBPrefetchRows` is prefetched while row p
            // is copied (a prefetch past the matrix is harmless: it never faults).
            let fullPanels = nc / nr, edgeCols = nc - fullPanels * nr
            if edgeCols > 0 { (dst + fullPanels * kc * nr).update(repeating: 0, count: kc * nr) }
            for p in 0..<kc {
                let src = b + (p0 + p) * ldb + n0
                let ahead = src + packBPrefetchRows * ldb
                var o = dst + p * nr
                for jp in 0..<fullPanels {
                    let s = src + jp * nr
                    var j = 0
                    while j < nr { store8(load8(s, j), o, j); j += 8 }
                    j = 0
                    while j < nr { tessera_prefetch_read(ahead + jp * nr + j); j += 16 }
                    o += kc * nr
                }
                if edgeCols > 0 { o.update(from: src + fullPanels * nr, count: edgeCols) }
            }
            return
        }
        // op(B)[p, j] = B[j, p]: column j of op(B) is row j of B, contiguous in k.
        // Whole groups of 8 columns go through 8×8 register transposes.
        var out = dst
        var j0 = 0
        while j0 < nc {
            let cols = min(nr, nc - j0)
            if cols < nr { out.update(repeating: 0, count: kc * nr) }
            var jj = 0
            while jj + 8 <= cols {
                let src = b + (n0 + j0 + jj) * ldb + p0
                var p = 0
                while p + 16 <= kc {
                    for r in 0..<8 { tessera_prefetch_read(src + r * ldb + p + packTransposedBPrefetchFloats) }
                    transpose8x8(src + p, ldb, out + p * nr + jj, nr)
                    transpose8x8(src + p + 8, ldb, out + (p + 8) * nr + jj, nr)
                    p += 16
                }
                while p + 8 <= kc { transpose8x8(src + p, ldb, out + p * nr + jj, nr); p += 8 }
                for c in 0..<8 { for q in p..<kc { out[q * nr + jj + c] = src[c * ldb + q] } }
                jj += 8
            }
            for jj in jj..<cols {
                let src = b + (n0 + j0 + jj) * ldb + p0
                for p in 0..<kc { out[p * nr + jj] = src[p] }
            }
            out += kc * nr
            j0 += nr
        }
    }
}
