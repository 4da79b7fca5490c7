import Scheduler
import CPUHints
#if TESSERA_AVX512
import KernelsAVX512
#endif

extension GEMM {
    /// Whether `sgemm` reads A in place (`unpackedAGEMM`): on the AVX-512 kernel, a row-major A and
    /// 16…64 columns with at least 32 rows, or 65…256 columns with at least 128 rows. Zen 4, alternating
    /// in-process medians of 5–9 against the packed and transposed paths, 1 / 2 threads: N = 49
    /// (512×49×2048, 2048×49×512, 512×49×4608) +20–32 % / +19–27 %, 64×49×4608 +47 % (1 thread),
    /// 128×64×2048 +8 %, 100×60×300 +5 %; N = 196: 512×196×4608 +10 % / +9 %, 256×196×2304 +3 % / +1 %,
    /// 256×196×1024 +2 % / 0, 1024×196×256 0 / 0; 512×100×2048 +8 % / +4 %, 256×128×1024 +6 % / −3 %.
    /// Past 256 columns the K block of op(B) outgrows L2 (256×392×1152 +1 % / −1 %, 512×512×512 0 / −7 %),
    /// and with few rows the region has few tiles (32×256×8192 −12 % / −19 %).
    static func prefersUnpackedA(_ kernel: GEMMMicroKernel, _ transA: Transpose, m: Int, n: Int) -> Bool {
        #if TESSERA_AVX512 && arch(x86_64)
        guard kernel == .avx512_8x32 && transA == .none && n >= 16 else { return false }
        return n <= 64 ? m >= 32 : n <= 256 && m >= 128
        #else
        return false
        #endif
    }

    /// C = α·A·op(B) + β·C (+ epilogue) with A read in place: for few columns (a late convolution layer
    /// as a GEMM, M×49×K or M×196×K), where packing A, a transposing copy of the whole weight matrix,
    /// took a fifth of the time (`perf`: 512×49×2048 on 1 thread).
    ///
    /// op(B) is packed in panels of 48 columns (the last one 16, 32 or 48, zero-padded), each multiplied
    /// by `sgemmKernel8x48AVX512UnpackedA`, which broadcasts A's 8 rows from the matrix. A row-major op(B)
    /// of at most `GEMMBlocking.maximumPrivatePackedB` floats whose panels need no padding is read in place
    /// instead, rows `ldb` apart (the copy was 3 % of a 1-thread call; Zen 4, alternating in-process medians
    /// of 9, packed → in place, 1 / 2 threads: 256×196×1024 +2 / +6 %, 256×196×2304 +2 / +5 %, 512×49×4608
    /// +2 / +4 %, 512×49×2048 +2 / +3.5 %, 2048×49×512 +1 / +1 %, 1024×196×256 +0.5 / +0.5 %; a larger one
    /// streams from L3 on every K block, where packed panels did better: 512×196×4608 −9 % on 1 thread).
    /// The last columns that fill no vector (at most 11, `UnpackedABlocking`) run on
    /// `sgemmDotKernel4x6AVX512`, on op(B)ᵀ rows (always copied). Per K block, a tile's row groups run in
    /// turn, each across all panels (its 8 rows of A stay in L1); the sums over K blocks stay in the
    /// worker's scratch, then `combine` applies α, β and the epilogue. With β = 0, one K block and no
    /// padded panel, the kernels write C itself and `combine` runs in place, only for α ≠ 1 or an epilogue
    /// (the copy from scratch was a pass over C; Zen 4, alternating in-process medians of 5, 1 / 2 threads:
    /// 1024×196×256 0 to +7 % / +6 to +10 %, 2048×49×512 +1 to +8 % / +3 to +5 %, 512×49×2048 0 to +4 % /
    /// 0 to +3 %; over two K blocks C's unaligned rows, 196 floats apart, cost it: 256×196×1024 −2 % on 2).
    ///
    /// Where the packed op(B) is at most `GEMMBlocking.maximumPrivatePackedB`, each worker packs all of
    /// it for itself on its first tile (2 threads, alternating medians of 9: 256×196×1024 +5 %,
    /// 512×49×2048 +4 %, 256×196×2304 +2 %; shared, the packing tiles took four times as long as the
    /// same packing into a core's own recent copy, the lines having last been read by the other core).
    /// Otherwise the region's first tiles pack it in K chunks, and the row tiles wait for them
    /// (`TileLatch`). Each 8-row group runs the same kernel calls whichever tile holds it, so results do
    /// not depend on the thread count.
    static func unpackedAGEMM(
        _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        #if TESSERA_AVX512 && arch(x86_64)
        let blocking = UnpackedABlocking(n: n)
        let panels = blocking.panels, rest = blocking.rest, mainColumns = n - rest
        let k16 = (k + 15) / 16 * 16, kcBlock = blocking.kc
        let groups = (m + 7) / 8
        let cap = Scheduler.threadCount(tiles: groups, work: 2 * Double(m) * Double(n) * Double(k), threads: threads)
        let tiling = UnpackedARowTiles(groups: groups, workers: cap, kBlocks: (k + kcBlock - 1) / kcBlock)
        let rowTiles = tiling.count
        let workers = min(cap, rowTiles)
        let chunks = (k + UnpackedABlocking.packChunk - 1) / UnpackedABlocking.packChunk
        let tileRows = tiling.widest * 8
        let w = UnpackedABlocking.panelColumns, paddedMain = (panels - 1) * w + blocking.lastPanelColumns
        let scratchStride = paddedMain + (rest + 15) / 16 * 16   // a worker's scratch rows of C
        // A row-major op(B) of whole panels that each worker would copy for itself is read in place instead.
        let inPlaceB = transB == .none && paddedMain == mainColumns && k * n <= GEMMBlocking.maximumPrivatePackedB
        let bFloats = (inPlaceB ? 0 : k * paddedMain) + rest * k16
        let privateB = workers > 1 && bFloats <= GEMMBlocking.maximumPrivatePackedB
        let packTiles = privateB ? 0 : chunks
        // β = 0, one K block, no padded columns: the kernels write C itself (see above).
        let direct = beta == 0 && paddedMain == mainColumns && k <= kcBlock
        let perWorker = (direct ? 0 : tileRows * scratchStride) + 8 * 16 + (privateB ? bFloats : 0)
        // Packs op(B)'s rows of chunk `chunk` into the copy at `dst`: panels, then op(B)ᵀ rows.
        func pack(_ chunk: Int, _ dst: UnsafeMutablePointer<Float>) {
            let p0 = chunk * UnpackedABlocking.packChunk, kc = min(UnpackedABlocking.packChunk, k - p0)
            let columns = dst + (inPlaceB ? 0 : k * paddedMain)
            if inPlaceB {
                for p in p0..<(p0 + kc) { for j in 0..<rest { columns[j * k16 + p] = b[p * ldb + mainColumns + j] } }
            } else if transB == .none {
                packRows(b, ldb, p0: p0, kc: kc, n: n, blocking, panels: dst, k: k, columns: columns, k16: k16)
            } else {
                for q in 0..<panels {
                    let width = q == panels - 1 ? blocking.lastPanelColumns : w
                    Packing.packB(transB, b, ldb, p0: p0, kc: kc, n0: w * q, nc: min(width, mainColumns - w * q), nr: width,
                                  dst: dst + q * w * k + p0 * width)
                }
                for j in 0..<rest { (columns + j * k16 + p0).update(from: b + (mainColumns + j) * ldb + p0, count: kc) }
            }
            if p0 + kc == k {
                for j in 0..<rest { (columns + j * k16 + k).update(repeating: 0, count: k16 - k) }
            }
        }
        Workspace.withScratch(count: (privateB ? 0 : bFloats) + workers * perWorker) { scratch in
            let workerScratch = scratch + (privateB ? 0 : bFloats)
            let packed = TileLatch()
            withUnsafeTemporaryAllocation(of: Bool.self, capacity: workers) { packedBy in
            packedBy.initialize(repeating: false)
            Scheduler.parallelFor(tiles: packTiles + rowTiles, workers: workers) { tile, worker in
                if tile < packTiles {
                    pack(tile, scratch)
                    packed.arrive()
                    return
                }
                let t = tile - packTiles
                let (g0, g1) = tiling.groups(t)
                let out = workerScratch + worker * perWorker, tail = out + (direct ? 0 : tileRows * scratchStride)
                let ldo = direct ? ldc : scratchStride   // where this tile's kernels write: C itself or scratch
                let bCopy = privateB ? tail + 8 * 16 : scratch
                if privateB && !packedBy[worker] {
                    packedBy[worker] = true
                    for chunk in 0..<chunks { pack(chunk, bCopy) }
                }
                let columns = bCopy + (inPlaceB ? 0 : k * paddedMain)
                packed.wait(until: packTiles)
                var p0 = 0
                while p0 < k {
                    let kc = min(kcBlock, k - p0), kc16 = kc / 16 * 16
                    for g in g0..<g1 {
                        let i0 = g * 8, rows = min(8, m - i0), o = direct ? c + i0 * ldc : out + (g - g0) * 8 * ldo
                        let ap = a + i0 * lda + p0
                        for q in 0..<panels {
                            let width = q == panels - 1 ? blocking.lastPanelColumns : w
                            let panel: UnsafePointer<Float> = inPlaceB ? b + (p0 * ldb + w * q)
                                : UnsafePointer(bCopy + (q * w * k + p0 * width))
                            sgemmKernel8x48AVX512UnpackedA(vectors: width / 16, kc: kc, a: ap, lda: lda, rows: rows, b: panel,
                                                           bStride: inPlaceB ? ldb : width, out: o + w * q, ldo: ldo, accumulate: p0 > 0)
                        }
                        guard rest > 0 else { continue }
                        // The last K block's steps past a multiple of 16: A's rows copied, zero-padded.
                        if kc16 < kc {
                            tail.update(repeating: 0, count: 8 * 16)
                            for r in 0..<rows { (tail + r * 16).update(from: ap + r * lda + kc16, count: kc - kc16) }
                        }
                        for half in stride(from: 0, to: rows, by: 4) {
                            let r4 = min(4, rows - half)
                            for j in stride(from: 0, to: rest, by: 6) {
                                let bj = columns + j * k16 + p0, oj = o + half * ldo + paddedMain + j
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
                if direct && alpha == 1 && epilogue.isNone { return }
                for i in (g0 * 8)..<min(m, g1 * 8) {
                    let o = direct ? c + i * ldc : out + (i - g0 * 8) * ldo
                    combine(o, cols: n, row: i, col0: 0, alpha: alpha, beta: beta, c: c + i * ldc, epilogue: epilogue)
                }
            }
            }
        }
        #else
        preconditionFailure("unpackedAGEMM needs the AVX-512 kernels")
        #endif
    }

    /// C = α·op(A)·Bᵀ + β·C (+ epilogue) for few rows of C and B stored N×K (a fully connected layer's
    /// weights, at batch 16–128): Cᵀ = B·op(A)ᵀ is an in-place-A GEMM on B, which the packed path would
    /// instead transpose whole into its panels on every call (VGG-16 FC6: 411 MB). Cᵀ goes to scratch,
    /// then to C through `combineTransposed` (α, β, epilogue), after the region: at
    /// most 128 × N floats against 2·M·N·K flops.
    static func unpackedATransposedGEMM(
        _ transA: Transpose, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        Workspace.withScratch(count: 2 * m * n) { t in
            let tt = t + m * n
            // op(A)ᵀ as the product's op(B): A stored M×K is read transposed, A stored K×M as it is.
            unpackedAGEMM(transA == .none ? .transpose : .none, n, m, k, 1, b, ldb, a, lda, 0, t, m, .none, threads)
            combineTransposed(t, m: m, n: n, rows: 0..<n, columns: 0..<m, scratch: tt, alpha: alpha, beta: beta,
                              c: c, ldc: ldc, epilogue: epilogue)
        }
    }

    /// Rows p0..<p0+kc of a row-major B, each read once: its 48-column runs into the panels (K × width
    /// each, zero-padded), its last `rest` columns into op(B)ᵀ rows `k16` apart. Row p + 4 is prefetched
    /// meanwhile (rows are ldb apart: a short stream each, which the hardware prefetcher does not follow).
    /// (A 512×196 block: 50 µs, against 55 panel by panel with a strided gather per last column; 12 µs
    /// into lines this core wrote last, which is why workers keep their own copy where it is small.)
    static func packRows(
        _ b: UnsafePointer<Float>, _ ldb: Int, p0: Int, kc: Int, n: Int, _ blocking: UnpackedABlocking,
        panels: UnsafeMutablePointer<Float>, k: Int, columns: UnsafeMutablePointer<Float>, k16: Int
    ) {
        let mainColumns = n - blocking.rest, w = UnpackedABlocking.panelColumns
        for p in p0..<(p0 + kc) {
            let src = b + p * ldb
            tessera_prefetch_floats(src + 4 * ldb, n)
            for q in 0..<blocking.panels {
                let width = q == blocking.panels - 1 ? blocking.lastPanelColumns : w
                let count = min(width, mainColumns - w * q), s = src + w * q, d = panels + q * w * k + p * width
                var j = 0
                while j + 8 <= count { store8(load8(s, j), d, j); j += 8 }
                while j < count { d[j] = s[j]; j += 1 }
                while j < width { d[j] = 0; j += 1 }
            }
            for j in 0..<blocking.rest { columns[j * k16 + p] = src[mainColumns + j] }
        }
    }
}
