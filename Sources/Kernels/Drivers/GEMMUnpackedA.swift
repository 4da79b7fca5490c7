import Scheduler
#if TESSERA_AVX512
import KernelsAVX512
#endif

extension GEMM {
    /// Whether `sgemm` reads A in place (`unpackedAGEMM`): a row-major A, few columns and many rows
    /// (`prefersTransposed`), at least one whole 16-column vector, on the AVX-512 kernel.
    static func prefersUnpackedA(_ kernel: GEMMMicroKernel, _ transA: Transpose, m: Int, n: Int) -> Bool {
        #if TESSERA_AVX512 && arch(x86_64)
        return kernel == .avx512_8x32 && transA == .none && n >= 16 && prefersTransposed(m: m, n: n)
        #else
        return false
        #endif
    }

    /// C = α·A·op(B) + β·C (+ epilogue) with A read in place: for few columns and many rows (a late
    /// convolution layer as a GEMM, M×49×K), where packing A, a transposing copy of the whole weight
    /// matrix, took a fifth of the time (`perf`: 512×49×2048 on 1 thread).
    ///
    /// Columns 0..<16·V (`UnpackedABlocking.columns`) run on `sgemmKernel8x48AVX512UnpackedA`, which
    /// broadcasts A's 8 rows from the matrix against a K × 16V panel of op(B); the remaining columns
    /// (up to 16) on `sgemmDotKernel4x6AVX512`, on op(B)ᵀ rows. The products of a tile's rows are summed
    /// over K blocks in the worker's scratch, then `combine` applies α, β and the epilogue.
    ///
    /// The region's first tiles pack op(B) in K chunks; the row tiles wait for them (`TileLatch`). Each
    /// 8-row group runs the same kernel calls whichever tile holds it, so results do not depend on
    /// the thread count.
    static func unpackedAGEMM(
        _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        #if TESSERA_AVX512 && arch(x86_64)
        let blocking = UnpackedABlocking(n: n)
        let width = blocking.panelColumns, rest = n - blocking.mainColumns
        let k16 = (k + 15) / 16 * 16
        let groups = (m + 7) / 8
        let cap = Scheduler.threadCount(tiles: groups, work: 2 * Double(m) * Double(n) * Double(k), threads: threads)
        let rowTiles = UnpackedABlocking.rowTiles(groups: groups, workers: cap)
        let workers = min(cap, rowTiles)
        let packTiles = (k + UnpackedABlocking.packChunk - 1) / UnpackedABlocking.packChunk
        let tileRows = (groups + rowTiles - 1) / rowTiles * 8
        let ldo = width + (rest + 15) / 16 * 16
        let perWorker = tileRows * ldo + 8 * 16
        Workspace.withScratch(count: k * width + rest * k16 + workers * perWorker) { scratch in
            let panel = scratch, columns = scratch + k * width, workerScratch = columns + rest * k16
            let packed = TileLatch()
            Scheduler.parallelFor(tiles: packTiles + rowTiles, workers: workers) { tile, worker in
                if tile < packTiles {
                    let p0 = tile * UnpackedABlocking.packChunk, kc = min(UnpackedABlocking.packChunk, k - p0)
                    Packing.packB(transB, b, ldb, p0: p0, kc: kc, n0: 0, nc: min(n, width), nr: width, dst: panel + p0 * width)
                    // op(B)ᵀ rows of the remaining columns, zero-padded to k16.
                    for j in 0..<rest {
                        let dst = columns + j * k16, col = blocking.mainColumns + j
                        if transB == .none {
                            for p in p0..<(p0 + kc) { dst[p] = b[p * ldb + col] }
                        } else {
                            (dst + p0).update(from: b + col * ldb + p0, count: kc)
                        }
                        if p0 + kc == k { (dst + k).update(repeating: 0, count: k16 - k) }
                    }
                    packed.arrive()
                    return
                }
                let t = tile - packTiles
                let g0 = groups * t / rowTiles, g1 = groups * (t + 1) / rowTiles
                let out = workerScratch + worker * perWorker, tail = out + tileRows * ldo
                packed.wait(until: packTiles)
                var p0 = 0
                while p0 < k {
                    let kc = min(UnpackedABlocking.kc, k - p0), kc16 = kc / 16 * 16
                    for g in g0..<g1 {
                        let i0 = g * 8, rows = min(8, m - i0), o = out + (g - g0) * 8 * ldo
                        let ap = a + i0 * lda + p0
                        sgemmKernel8x48AVX512UnpackedA(vectors: blocking.vectors, kc: kc, a: ap, lda: lda, rows: rows,
                                                       b: panel + p0 * width, out: o, ldo: ldo, accumulate: p0 > 0)
                        guard rest > 0 else { continue }
                        // The last K block's steps past a multiple of 16: A's rows copied, zero-padded.
                        if kc16 < kc {
                            tail.update(repeating: 0, count: 8 * 16)
                            for r in 0..<rows { (tail + r * 16).update(from: ap + r * lda + kc16, count: kc - kc16) }
                        }
                        for half in stride(from: 0, to: rows, by: 4) {
                            let r4 = min(4, rows - half)
                            for j in stride(from: 0, to: rest, by: 6) {
                                let bj = columns + j * k16 + p0, oj = o + half * ldo + blocking.mainColumns + j
                                if kc16 > 0 {
                                    sgemmDotKernel4x6AVX512(kc: kc16, a: ap + half * lda, lda: lda, rows: r4, b: bj, ldb: k16,
                                                            columns: min(6, rest - j), out: oj, ldo: ldo, accumulate: p0 > 0)
                                }
                                if kc16 < kc {
                                    sgemmDotKernel4x6AVX512(kc: 16, a: tail + half * 16, lda: 16, rows: r4, b: bj + kc16, ldb: k16,
                                                            columns: min(6, rest - j), out: oj, ldo: ldo, accumulate: p0 > 0 || kc16 > 0)
                                }
                            }
                        }
                    }
                    p0 += kc
                }
                for i in (g0 * 8)..<min(m, g1 * 8) {
                    combine(out + (i - g0 * 8) * ldo, cols: n, row: i, col0: 0, alpha: alpha, beta: beta, c: c + i * ldc, epilogue: epilogue)
                }
            }
        }
        #else
        preconditionFailure("unpackedAGEMM needs the AVX-512 kernels")
        #endif
    }
}
