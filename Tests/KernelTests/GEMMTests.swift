import XCTest
import Kernels
import Reference
import TesseraCore

/// The packed and row-vector GEMM paths against `Reference.gemm` (SPEC §4, §5).
final class GEMMTests: NaNFilledOutputsTestCase {
    static let guardValue: Float = -12345.5

    struct Case {
        var transA: Transpose = .none, transB: Transpose = .none
        var m: Int, n: Int, k: Int
        var alpha: Float = 1, beta: Float = 0
        var padA = 0, padB = 0, padC = 0
        var biasAxis: BiasAxis = .none, relu = false
    }

    /// Every micro-kernel this build and CPU can run.
    static let kernels = GEMMMicroKernel.allCases.filter(\.isSupported)

    override func tearDown() { GEMMMicroKernel.active = GEMMMicroKernel.best }

    /// Reference results (C and Σ|a·b| per element) by case and seed, for this test method's runs.
    private var references: [String: ([Float], [Float])] = [:]

    /// Runs one case with every supported micro-kernel; returns C from the last one.
    @discardableResult
    func run(_ t: Case, threads: Int? = nil, seed: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        var out: [Float] = []
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            out = try runOnce(t, threads: threads, seed: seed, file: file, line: line)
        }
        return out
    }

    /// Runs one case; returns C (without guards) so callers can compare thread counts bit for bit.
    func runOnce(_ t: Case, threads: Int?, seed: UInt64, file: StaticString, line: UInt) throws -> [Float] {
        var g = SeededGenerator(seed: seed)
        let (aRows, aCols) = t.transA == .none ? (t.m, t.k) : (t.k, t.m)
        let (bRows, bCols) = t.transB == .none ? (t.k, t.n) : (t.n, t.k)
        let lda = aCols + t.padA, ldb = bCols + t.padB, ldc = t.n + t.padC
        let a = (0..<(aRows * lda)).map { _ in g.nextFloat(in: -1, 1) }
        let b = (0..<(bRows * ldb)).map { _ in g.nextFloat(in: -1, 1) }
        let biasCount = t.biasAxis == .row ? t.m : t.n
        let bias = (0..<biasCount).map { _ in g.nextFloat(in: -1, 1) }
        // C: a guard band of 32 floats each side; β = 0 cases start from NaN, which must not leak.
        let guardCount = 32
        var cInit = [Float](repeating: Self.guardValue, count: t.m * ldc + 2 * guardCount)
        for i in 0..<t.m { for j in 0..<t.n { cInit[guardCount + i * ldc + j] = t.beta == 0 ? .nan : g.nextFloat(in: -1, 1) } }
        // The reference depends on the case and seed only: computed once, reused for every kernel and
        // thread count (it was most of this suite's time under ThreadSanitizer).
        let key = "\(t) \(seed)"
        if references[key] == nil {
            var cRef = [Float](repeating: 0, count: t.m * ldc)
            for i in 0..<t.m { for j in 0..<t.n { cRef[i * ldc + j] = cInit[guardCount + i * ldc + j] } }
            let magnitude = Reference.gemm(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                           a: a, lda: lda, b: b, ldb: ldb, beta: t.beta, c: &cRef, ldc: ldc,
                                           bias: t.biasAxis == .none ? nil : bias, biasAxis: t.biasAxis, relu: t.relu)
            references[key] = (cRef, magnitude)
        }
        let (cRef, magnitude) = references[key]!
        // C 64-byte aligned, as a Tensor's storage is (the guard band is two cache lines): with ldc a multiple
        // of 16 its rows are whole cache lines, which the streaming stores of a large C need.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: cInit.count * MemoryLayout<Float>.stride, alignment: 64)
        defer { raw.deallocate() }
        let c = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: cInit.count), count: cInit.count)
        _ = c.initialize(from: cInit)
        try a.withUnsafeBufferPointer { a in
            try b.withUnsafeBufferPointer { b in
                try bias.withUnsafeBufferPointer { bias in
                    let cView = UnsafeMutableBufferPointer(rebasing: c[guardCount..<(guardCount + t.m * ldc)])
                    let epilogue = GEMMEpilogue(bias: t.biasAxis == .none ? nil : bias, biasAxis: t.biasAxis, relu: t.relu)
                    try GEMM.sgemm(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                   a: a, lda: lda, b: b, ldb: ldb, beta: t.beta, c: cView, ldc: ldc,
                                   epilogue: epilogue, threads: threads)
                }
            }
        }
        var worst: Float = 0, scale: Float = 0
        for i in 0..<t.m {
            for j in 0..<t.n {
                let v = c[guardCount + i * ldc + j]
                XCTAssertFalse(v.isNaN, "NaN at (\(i),\(j)) in \(t) with \(GEMMMicroKernel.active)", file: file, line: line)
                worst = max(worst, abs(v - cRef[i * ldc + j]))
                scale = max(scale, magnitude[i * t.n + j])
            }
            for j in t.n..<ldc { XCTAssertEqual(c[guardCount + i * ldc + j], Self.guardValue, "gap written in \(t)", file: file, line: line) }
        }
        for i in 0..<guardCount {
            XCTAssertEqual(c[i], Self.guardValue, "front guard written in \(t)", file: file, line: line)
            XCTAssertEqual(c[c.count - 1 - i], Self.guardValue, "back guard written in \(t)", file: file, line: line)
        }
        let bound = 1e-6 * Float(t.k).squareRoot()
        XCTAssertLessThanOrEqual(worst / max(scale, 1e-30), bound, "error in \(t) with \(GEMMMicroKernel.active)", file: file, line: line)
        return (0..<t.m).flatMap { i in Array(c[(guardCount + i * ldc)..<(guardCount + i * ldc + t.n)]) }
    }

    func testSizeSweepAroundTheRegisterTile() throws {
        // 1…MR+1 rows and 1…NR+1 columns of both kernels (6×16, 8×32), through the row-vector (M ≤ 4) and packed paths.
        for m in 1...9 {
            for n in [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33] {
                try run(Case(m: m, n: n, k: 5))
            }
        }
    }

    func testDepthsAroundKC() throws {
        // KC is 256 for packed weights and 768 for sgemm on unpacked operands (AVX-512): one block,
        // exactly one, one and a step, and several of each.
        for k in [1, 2, 255, 256, 257, 600, 767, 768, 769, 1601] {
            try run(Case(m: 13, n: 35, k: k))
            try run(Case(m: 3, n: 35, k: k))
        }
    }

    func testPackedAOverTheL2PrefetchThreshold() throws {
        // Packed A over 2^20 floats, the regime where tiles prefetch their next A block (BlockPrefetch):
        // the results must not change (a prefetch cannot change them; this checks the GEMM there, with a
        // partial last row block, K block and column panel).
        try run(Case(m: 523, n: 70, k: 2049, beta: 0.5))
    }

    func testPrimesTransposesAndLeadingDimensions() throws {
        for ta in Transpose.allCases {
            for tb in Transpose.allCases {
                try run(Case(transA: ta, transB: tb, m: 37, n: 41, k: 43, padA: 3, padB: 5, padC: 7))
                try run(Case(transA: ta, transB: tb, m: 149, n: 19, k: 263, padA: 1, padB: 2, padC: 3))
                try run(Case(transA: ta, transB: tb, m: 2, n: 29, k: 31, padA: 1, padB: 1, padC: 2))
                try run(Case(transA: ta, transB: tb, m: 1, n: 1, k: 1))
            }
        }
    }

    /// K ≤ 4: the rank-K update path (no packing), with every transpose, α/β and epilogue, and K = 5 beside it.
    func testRankKUpdates() throws {
        for k in 1...5 {
            for ta in Transpose.allCases {
                for tb in Transpose.allCases {
                    try run(Case(transA: ta, transB: tb, m: 37, n: 43, k: k, padA: 1, padB: 2, padC: 3))
                }
            }
            for axis in [BiasAxis.none, .row, .column] {
                try run(Case(m: 13, n: 35, k: k, alpha: -0.5, beta: 0.75, padC: 1, biasAxis: axis, relu: true))
                try run(Case(m: 9, n: 7, k: k, alpha: 2, beta: 0, biasAxis: axis, relu: false))
            }
        }
    }

    /// Tiles of at most MC rows pack B's K blocks in chunks of columns (`GEMMBlocking.maxPackedBChunk`):
    /// tiles wider than a chunk, K over two K blocks, a partial last panel, both bias axes.
    func testPackedBChunks() throws {
        for axis in [BiasAxis.row, .column] {
            try run(Case(m: 24, n: 2100, k: 800, alpha: 0.5, beta: 0.5, padB: 3, padC: 5, biasAxis: axis, relu: true))
        }
    }

    func testPackedBChunksOverTheSourcePrefetchThreshold() throws {
        // B of 2^22 floats or more: the chunks are half as wide and each prefetches the next one's rows
        // of B (SourceRowsPrefetch), here across a partial last panel, a second K block and padded rows.
        // A prefetch cannot change a result: this checks the chunking there, and the thread counts.
        try checkEveryKernelAtOneAndTwoThreads(
            Case(m: 13, n: 5300, k: 800, alpha: 0.5, beta: 0.5, padB: 3, padC: 5, biasAxis: .column, relu: true), seed: 2)
    }

    /// C written once (β = 0, one K block), its rows whole cache lines, of at least `GEMMBlocking.minimumStreamedC`
    /// floats on packed B, or `minimumStreamedShallowC` with K under `minimumDepthForCPrefetch` (B packed or
    /// its rows read in place): the AVX-512 kernel stores its full tiles past the caches (`vmovntps`), the
    /// edges as usual. Last row panels of 6, 4, 5 and 4 rows, last column panels of 6, 8, 20 and 8 columns,
    /// biases and ReLU over a NaN-filled C; 1 and 2 threads bit-identical. The last case is as deep as C's
    /// tiles are prefetched, so it stores them as usual.
    func testStreamedStoresOfALargeC() throws {
        try checkEveryKernelAtOneAndTwoThreads(Case(m: 70, n: 31_270, k: 27, alpha: 0.5, padC: 10, biasAxis: .row, relu: true), seed: 11)
        try checkEveryKernelAtOneAndTwoThreads(Case(m: 100, n: 21_000, k: 40, padB: 3, padC: 8, biasAxis: .column, relu: true), seed: 12)
        try checkEveryKernelAtOneAndTwoThreads(Case(m: 61, n: 4500, k: 100, alpha: -1.5, padB: 1, padC: 12, biasAxis: .row, relu: true), seed: 13)
        try checkEveryKernelAtOneAndTwoThreads(Case(m: 300, n: 1000, k: 100, alpha: 0.5, padC: 8, biasAxis: .column, relu: true), seed: 15)
        try checkEveryKernelAtOneAndTwoThreads(Case(m: 61, n: 4500, k: 144, padC: 12), seed: 14)
    }

    func testTallTilesChunkOverTheSourcePrefetchThreshold() throws {
        // Rows over one MC block (128 on AVX-512, 144 on SIMD8) and B of at least 2^21 floats: one row tile
        // runs B a K block at a time on both blocks of rows (`minimumTallSource`), so both blocks' partial
        // last column panels are in flight at once; B read in place on AVX-512 (only its partial last panel
        // packed), packed in prefetched chunks on SIMD8. Here with partial last row and column panels and
        // two K blocks.
        try checkEveryKernelAtOneAndTwoThreads(
            Case(m: 149, n: 2100, k: 1000, alpha: 0.5, beta: 0.5, padB: 1, padC: 3, biasAxis: .row, relu: true), seed: 3)
    }

    /// `t` against the reference with every kernel, at 1 and 2 threads, and the two bit-identical.
    func checkEveryKernelAtOneAndTwoThreads(_ t: Case, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            let one = try runOnce(t, threads: 1, seed: seed, file: file, line: line)
            let two = try runOnce(t, threads: 2, seed: seed, file: file, line: line)
            XCTAssertTrue(one.elementsEqual(two) { $0.bitPattern == $1.bitPattern }, "\(kernel) differs at 2 threads", file: file, line: line)
        }
    }

    func testAlphaBeta() throws {
        for (alpha, beta) in [(Float(2.5), Float(0)), (1, 1), (-0.5, 0.75), (0, 2)] {
            try run(Case(m: 19, n: 23, k: 300, alpha: alpha, beta: beta, padC: 3))
            try run(Case(m: 3, n: 23, k: 30, alpha: alpha, beta: beta, padC: 3))
        }
    }

    func testFusedEpilogues() throws {
        for axis in [BiasAxis.none, .row, .column] {
            for relu in [false, true] {
                try run(Case(m: 20, n: 37, k: 270, beta: 0.5, biasAxis: axis, relu: relu))
                try run(Case(m: 2, n: 37, k: 27, biasAxis: axis, relu: relu))
                // Few columns, many rows: the transposed path (T = op(B)ᵀ·op(A)ᵀ, then C = α·Tᵀ + β·C).
                try run(Case(transA: .transpose, m: 130, n: 9, k: 70, alpha: 1.5, beta: 0.5, padC: 2, biasAxis: axis, relu: relu))
                // N a multiple of 7 and not of 8: 7-row panels (the 7×32 kernel on AVX-512), over two K blocks,
                // with a last column panel of C's rows under and over half of NR.
                try run(Case(transB: .transpose, m: 270, n: 49, k: 800, alpha: 0.5, beta: 0.5, padB: 1, padC: 2, biasAxis: axis, relu: relu))
                try run(Case(m: 250, n: 21, k: 37, biasAxis: axis, relu: relu))
            }
        }
    }

    /// Row-major A with 16…64 columns (M ≥ 32) or 65…256 (M ≥ 128): on AVX-512, A is read in place
    /// (`GEMM.unpackedAGEMM`): the 8×48 broadcast kernel on 48-column panels and a last panel of 16, 32
    /// or 48 (padded), the 4×6 dot-product kernel on the last 1…11 columns. Columns: whole panels (16,
    /// 48, 96), padded (30, 47, 124), remainders of 1, 4, 6, 7, 11 (17, 23, 49, 54, 55, 59, 100, 196); a
    /// second panel (64, 256); rows not a multiple of 8 or 4; K under 16, off a multiple of 16, and
    /// around the K blocks (2048 for one panel, 1024 for up to three, else 512); both layouts of B, a
    /// row-major one read in place or packed; β = 0, where in one K block the kernels write C itself.
    /// (With transposed A or the SIMD8 kernel these shapes take the other paths.)
    func testUnpackedAColumnsRowsAndDepths() throws {
        for n in [16, 17, 23, 30, 47, 48, 49, 54, 55, 59, 64] {
            try run(Case(m: 35, n: n, k: 37, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3, biasAxis: .row, relu: true))
            try run(Case(transB: .transpose, m: 4 * n + 5, n: n, k: 21, alpha: 2, padB: 1, biasAxis: .column))
        }
        for n in [96, 100, 124, 196, 256] {
            try run(Case(m: 131, n: n, k: 53, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3, biasAxis: .column, relu: true))
            try run(Case(transB: .transpose, m: 133, n: n, k: 1030, beta: 1, padB: 1, biasAxis: .row))
        }
        for k in [5, 15, 16, 17, 2047, 2048, 2049, 2100] {
            try run(Case(m: 203, n: 49, k: k, alpha: -1, beta: 1, padA: 3, padC: 1))
            try run(Case(transB: .transpose, m: 98, n: 52, k: k, beta: 0.5, padB: 2, biasAxis: .row, relu: true))
        }
        for k in [511, 512, 513, 1100] {
            try run(Case(m: 129, n: 199, k: k, alpha: 1.5, beta: 0.5, padA: 2, padB: 1, padC: 1, biasAxis: .row, relu: true))
        }
        // β = 0 on whole panels: in one K block the kernels write C itself (NaN-filled), then α and the epilogue
        // in place, or nothing more with α = 1 and no epilogue; over several (2049; 1100 at N = 196) through scratch.
        for k in [37, 1100, 2049] {
            try run(Case(m: 203, n: 49, k: k, padA: 3, padC: 1))
            try run(Case(m: 131, n: 196, k: k, alpha: 0.5, padB: 1, padC: 2, biasAxis: .row, relu: true))
        }
        // A row-major op(B) over `GEMMBlocking.maximumPrivatePackedB` floats is packed; smaller ones of whole
        // panels (48, 49, 96, 196, ... above) are read in place, padded ones (30, 47, 124) packed.
        for n in [48, 49] {
            try run(Case(m: 40, n: n, k: 11_000, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 1, biasAxis: .column))
        }
    }

    /// Row-major A, at least 256 rows, at most 2048 columns and depth at least 1024 on AVX-512, B packed: the
    /// 8×32 kernel reads A's rows in place (`GEMMPath.packedB`). B's rows 1024 or 2048 floats apart (on few
    /// L2 sets, so B stays packed), or B transposed. A last row panel of 1 row (a scratch tile); last
    /// column panels of 1, 8, 9, 16, 17 and 31 columns (the column-edge block); K over two and three
    /// 768-deep blocks; α, β, both bias axes, leading dimensions over the minimum; row
    /// tiles that share the packed B; and one tile of two MC blocks of rows that packs B in chunks while
    /// prefetching the next chunk's rows (`SourceRowsPrefetch.minimumTallSource`), at 1 and 2 threads.
    /// (With transposed A, the SIMD8 kernel or other shapes, the packed path runs.)
    func testRowsOfAReadInPlace() throws {
        let avx512 = Self.kernels.contains(.avx512_8x32)
        for n in [257, 264, 265, 272, 273, 287] {
            try run(Case(m: 257, n: n, k: 1025, alpha: 0.5, beta: 0.5, padA: 1, padB: 1024 - n, padC: 3, biasAxis: .row, relu: true))
            if avx512 { XCTAssertEqual(Self.avx512Path(m: 257, n: n, k: 1025, ldb: 1024), .packedB) }
        }
        try run(Case(transB: .transpose, m: 262, n: 273, k: 1601, beta: 1, padA: 2, padB: 1, biasAxis: .column, relu: true))
        try checkEveryKernelAtOneAndTwoThreads(
            Case(m: 256, n: 2000, k: 1100, alpha: -1, beta: 0.5, padA: 1, padB: 48, padC: 1, biasAxis: .column, relu: true), seed: 5)
        if avx512 { XCTAssertEqual(Self.avx512Path(m: 256, n: 2000, k: 1100, ldb: 2048), .packedB) }
    }

    /// The path `sgemm` takes for a row-major A and B on the AVX-512 kernel (which stays active).
    static func avx512Path(m: Int, n: Int, k: Int, ldb: Int) -> GEMMPath {
        GEMMMicroKernel.active = .avx512_8x32
        return GEMM.path(m: m, n: n, k: k, ldb: ldb)
    }

    /// The `packedB` shapes with at most 4·MC rows on a row-major B whose rows spread over L2's sets: the
    /// 8×32 kernel reads both operands in place (`GEMMPath.inPlace`), only a partial last panel of B packed.
    /// A last row panel of 1 row; last column panels of 1, 8, 9, 16, 17 and 31 columns; K over two and three
    /// 768-deep blocks; α, β, both bias axes, leading dimensions over the minimum; row tiles of 2·MC rows
    /// (the column-edge blocks of both MC blocks in flight), and of at most 2·MC where the tiling alone would
    /// leave 3 MC blocks in one; 1, 2 and 5 threads bit-identical.
    func testBothOperandsReadInPlace() throws {
        let avx512 = Self.kernels.contains(.avx512_8x32)
        for n in [257, 264, 265, 272, 273, 287] {
            try run(Case(m: 257, n: n, k: 1025, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3, biasAxis: .row, relu: true))
            if avx512 { XCTAssertEqual(Self.avx512Path(m: 257, n: n, k: 1025, ldb: n + 2), .inPlace) }
        }
        try run(Case(m: 512, n: 257, k: 1025, beta: 1, padA: 3, padB: 1, biasAxis: .column, relu: true))
        // 36 column tiles' worth of columns: one row tile of 3 MC blocks, but for the 2·MC bound on row tiles.
        let t = Case(m: 264, n: 1160, k: 1025, alpha: -1, beta: 0.5, padA: 1, padC: 1, biasAxis: .column, relu: true)
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            let one = try runOnce(t, threads: 1, seed: 9, file: #filePath, line: #line)
            for threads in [2, 5] {
                let other = try runOnce(t, threads: threads, seed: 9, file: #filePath, line: #line)
                XCTAssertTrue(one.elementsEqual(other) { $0.bitPattern == $1.bitPattern }, "differs at \(threads) threads with \(kernel)")
            }
        }
        if avx512 {
            XCTAssertEqual(Self.avx512Path(m: 512, n: 257, k: 1025, ldb: 258), .inPlace)
            XCTAssertEqual(Self.avx512Path(m: 264, n: 1160, k: 1025, ldb: 1160), .inPlace)
        }
    }

    /// One row tile of at most MC rows on a row-major B under `SourceRowsPrefetch.minimumSource` floats, or
    /// of at most 2·MC rows, and K ≥ 32 on AVX-512: the 8×32 kernel reads B's rows in place and only a
    /// partial last panel is packed (`GEMMBlocking.readsRowsOfBInPlace`). Rows not a multiple of 8 (a scratch
    /// tile); last panels of 1, 8, 17 and 31 columns; column tiles of several chunks; two MC blocks with all K
    /// blocks per call; K at the bound, over one and two 768-deep blocks;
    /// α, β, both bias axes, leading dimensions over the minimum; packed weights (`PackedMatrixA`, 256-deep
    /// blocks) against the reference; 1, 2 and 5 threads bit-identical. (K = 31 keeps B packed.)
    func testRowsOfBReadInPlace() throws {
        for n in [257, 264, 273, 287] {
            try run(Case(m: 61, n: n, k: 32, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3, biasAxis: .row, relu: true))
            try run(Case(m: 13, n: n, k: 1601, alpha: -1, beta: 1, padB: 1, biasAxis: .column, relu: true))
        }
        try run(Case(m: 128, n: 1000, k: 769, beta: 0.5, padB: 5, biasAxis: .column))
        // Two MC blocks of rows in one row tile (8 column tiles), all K blocks per call: B of under 2^21 floats.
        try checkEveryKernelAtOneAndTwoThreads(
            Case(m: 200, n: 1500, k: 1300, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3, biasAxis: .row, relu: true), seed: 8)
        try run(Case(m: 9, n: 100, k: 31, beta: 0.5, padB: 1, biasAxis: .row))
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            let t = Case(m: 100, n: 1500, k: 300, alpha: 0.5, beta: 0.5, padA: 2, padB: 3, padC: 1, biasAxis: .row, relu: true)
            let one = try runOnce(t, threads: 1, seed: 6, file: #filePath, line: #line)
            for threads in [2, 5] {
                let other = try runOnce(t, threads: threads, seed: 6, file: #filePath, line: #line)
                XCTAssertTrue(one.elementsEqual(other) { $0.bitPattern == $1.bitPattern }, "differs at \(threads) threads with \(kernel)")
            }
            try packedWeightsMatchReference(m: 77, n: 801, k: 600, kernel: kernel)
        }
    }

    /// `PackedMatrixA` times a row-major B against the reference (Σ|a·b|-normalized error, as `runOnce`).
    func packedWeightsMatchReference(m: Int, n: Int, k: Int, kernel: GEMMMicroKernel) throws {
        var g = SeededGenerator(seed: 7)
        let a = (0..<(m * k)).map { _ in g.nextFloat(in: -1, 1) }
        let b = (0..<(k * n)).map { _ in g.nextFloat(in: -1, 1) }
        var c = [Float](repeating: .nan, count: m * n), ref = [Float](repeating: 0, count: m * n)
        let magnitude = Reference.gemm(transA: .none, transB: .none, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                                       beta: 0, c: &ref, ldc: n, bias: nil, biasAxis: .none, relu: false)
        try a.withUnsafeBufferPointer { a in
            try b.withUnsafeBufferPointer { b in
                let packed = try PackedMatrixA(m: m, k: k, a: a, lda: k)
                try c.withUnsafeMutableBufferPointer { try GEMM.sgemm(packedA: packed, n: n, b: b, ldb: n, c: $0, ldc: n) }
            }
        }
        XCTAssertFalse(c.contains { $0.isNaN }, "NaN left in C with \(kernel)")
        let worst = zip(c, ref).map { abs($0 - $1) }.max()!, scale = magnitude.max()!
        XCTAssertLessThanOrEqual(worst / scale, 1e-6 * Float(k).squareRoot(), "packed weights with \(kernel)")
    }

    /// 16…128 rows of C and B stored N×K (a fully connected layer at batch 16–128): on AVX-512, Cᵀ = B·op(A)ᵀ
    /// with B read in place (`GEMM.unpackedATransposedGEMM`), then C = α·(Cᵀ)ᵀ + β·C with the epilogue's
    /// axes kept: rows not a multiple of 8, both layouts of A, both bias axes, leading dimensions over the
    /// minimum, K off a multiple of 16 and over one block.
    func testFewRowsOnTransposedBReadInPlace() throws {
        for (m, n) in [(16, 32), (17, 40), (33, 100), (49, 301), (64, 70), (127, 260)] {
            for ta in Transpose.allCases {
                try run(Case(transA: ta, transB: .transpose, m: m, n: n, k: 37, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3,
                             biasAxis: .row, relu: true))
            }
            try run(Case(transB: .transpose, m: m, n: n, k: 2100, alpha: 2, padB: 1, biasAxis: .column))
        }
    }

    /// `GEMM.path` names the loops `sgemm` runs (Bench prints it): the shape classes of the paths above.
    func testPathNamesTheShapeClass() {
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            let avx512 = kernel == .avx512_8x32
            XCTAssertEqual(GEMM.path(m: 4, n: 4096, k: 25088), .rowVector)
            XCTAssertEqual(GEMM.path(m: 64, n: 300, k: 4), .rankK)
            XCTAssertEqual(GEMM.path(m: 512, n: 49, k: 4608), avx512 ? .unpackedA : .transposed)
            XCTAssertEqual(GEMM.path(transA: .transpose, m: 512, n: 49, k: 4608), .transposed)
            XCTAssertEqual(GEMM.path(m: 512, n: 196, k: 4608), avx512 ? .unpackedA : .packed)
            XCTAssertEqual(GEMM.path(m: 64, n: 196, k: 576), avx512 ? .packedA : .packed)
            XCTAssertEqual(GEMM.path(m: 64, n: 196, k: 31), .packed)
            XCTAssertEqual(GEMM.path(transA: .transpose, m: 64, n: 300, k: 576), avx512 ? .packedA : .packed)
            XCTAssertEqual(GEMM.path(transB: .transpose, m: 200, n: 300, k: 576), .packed)
            XCTAssertEqual(GEMM.path(m: 64, n: 50176, k: 576), .packed)
            XCTAssertEqual(GEMM.path(m: 512, n: 784, k: 2304), avx512 ? .inPlace : .packed)
            XCTAssertEqual(GEMM.path(m: 512, n: 784, k: 2304, ldb: 1024), avx512 ? .packedB : .packed)   // B's rows on few L2 sets
            XCTAssertEqual(GEMM.path(m: 512, n: 1280, k: 2304), avx512 ? .packedB : .packed)
            XCTAssertEqual(GEMM.path(m: 513, n: 784, k: 2304), avx512 ? .packedB : .packed)
            XCTAssertEqual(GEMM.path(transB: .transpose, m: 512, n: 784, k: 2304), avx512 ? .packedB : .packed)
            XCTAssertEqual(GEMM.path(m: 256, n: 2048, k: 1024), avx512 ? .packedB : .packed)
            XCTAssertEqual(GEMM.path(transA: .transpose, m: 512, n: 784, k: 2304), .packed)
            XCTAssertEqual(GEMM.path(m: 255, n: 784, k: 2304), .packed)
            XCTAssertEqual(GEMM.path(m: 256, n: 2049, k: 2304), avx512 ? .packedA : .packed)   // a tall tile
            XCTAssertEqual(GEMM.path(m: 257, n: 3136, k: 2304), .packed)
            XCTAssertEqual(GEMM.path(m: 200, n: 1000, k: 2000), .packed)   // two row tiles share the packed B
            XCTAssertEqual(GEMM.path(m: 256, n: 3136, k: 64), avx512 ? .packedA : .packed)
            XCTAssertEqual(GEMM.path(m: 512, n: 784, k: 1023), .packed)
            XCTAssertEqual(GEMM.path(transB: .transpose, m: 32, n: 4096, k: 25088), avx512 ? .unpackedATransposed : .packed)
            XCTAssertEqual(GEMM.path(transB: .transpose, m: 100, n: 4096, k: 25088), avx512 ? .unpackedATransposed : .packed)
            XCTAssertEqual(GEMM.path(transB: .transpose, m: 200, n: 4096, k: 25088), .packed)
        }
    }

    func testBitIdenticalAcrossThreadCounts() throws {
        // Large enough to run in parallel (> 5e7 flop-equivalents), with edge tiles in both axes.
        let shapes = [Case(m: 203, n: 301, k: 517, beta: 0.5, biasAxis: .row, relu: true),
                      Case(m: 259, n: 300, k: 1030, beta: 0.5, biasAxis: .column, relu: true),  // A in place on AVX-512
                      Case(transB: .transpose, m: 2, n: 3001, k: 2999),
                      Case(m: 1, n: 5003, k: 2001),                        // row-vector AXPY form
                      Case(transA: .transpose, m: 2001, n: 4003, k: 1, beta: 0.5, biasAxis: .column, relu: true),  // rank-K
                      Case(m: 2000, n: 40, k: 700, beta: 1, biasAxis: .column),          // transposed, tiles to C in the region
                      Case(transA: .transpose, m: 1200, n: 49, k: 500, beta: 0.5, biasAxis: .row, relu: true), // transposed on 7-row panels
                      Case(m: 1200, n: 49, k: 500, beta: 0.5, biasAxis: .row, relu: true), // A in place on AVX-512
                      Case(m: 1001, n: 55, k: 2100, beta: 0.5, biasAxis: .column, relu: true), // and two K blocks, dot-kernel columns
                      Case(m: 300, n: 197, k: 1100, beta: 0.5, biasAxis: .row, relu: true), // and five panels, three K blocks
                      Case(transB: .transpose, m: 33, n: 1000, k: 2000, beta: 0.5, biasAxis: .row, relu: true), // Cᵀ, B in place
                      // op(B) over 2 MiB packed: shared by the workers (packing tiles) instead of a copy each.
                      Case(transB: .transpose, m: 130, n: 203, k: 3000, alpha: 0.5, beta: 0.5, padB: 1, biasAxis: .column),
                      // One column tile: each row tile packs its own rows of A (tiles that cross an MC block,
                      // K over two of the AVX-512 kernel's 768-deep blocks), just over the parallel threshold.
                      Case(transA: .transpose, m: 460, n: 72, k: 770, alpha: 0.5, beta: 0.5, biasAxis: .row, relu: true),
                      // One block of rows, 8 column tiles at one worker: guided column tiles on 2 and 5.
                      Case(m: 80, n: 1280, k: 300, beta: 0.5, biasAxis: .column, relu: true),
                      // Row tiles with few rows of A (`GEMMBlocking.maximumGuidedRowTileA`), each cut into guided
                      // column tiles that narrow to one panel; one packed B per column tile, shared by the rows.
                      Case(m: 300, n: 500, k: 400, alpha: 0.5, beta: 0.5, padA: 1, padB: 2, padC: 3, biasAxis: .row, relu: true)]
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            for t in shapes {
                let one = try runOnce(t, threads: 1, seed: 1, file: #filePath, line: #line)
                for threads in [2, 5] {
                    let other = try runOnce(t, threads: threads, seed: 1, file: #filePath, line: #line)
                    XCTAssertTrue(one.elementsEqual(other) { $0.bitPattern == $1.bitPattern }, "\(t) differs at \(threads) threads with \(kernel)")
                }
            }
        }
    }

    func testHugeThreadCountsMatchOneThread() throws {
        // The tiling rounds its tile count to a multiple of the workers: a request far above any
        // machine's cores must neither overflow nor change the result.
        let t = Case(m: 203, n: 301, k: 517, beta: 0.5, biasAxis: .row, relu: true)
        let one = try runOnce(t, threads: 1, seed: 1, file: #filePath, line: #line)
        for threads in [64, 1 << 20, Int.max] {
            let other = try runOnce(t, threads: threads, seed: 1, file: #filePath, line: #line)
            XCTAssertTrue(one.elementsEqual(other) { $0.bitPattern == $1.bitPattern }, "differs at \(threads) threads")
        }
    }

    func testPackedWeightsMatchUnpacked() throws {
        for kernel in Self.kernels {
            GEMMMicroKernel.active = kernel
            try packedWeightsMatchUnpacked()
        }
    }

    func packedWeightsMatchUnpacked() throws {
        var g = SeededGenerator(seed: 4)
        let (m, n, k) = (30, 50, 70)
        let a = (0..<(m * k)).map { _ in g.nextFloat(in: -1, 1) }
        let b = (0..<(k * n)).map { _ in g.nextFloat(in: -1, 1) }
        var c1 = [Float](repeating: .nan, count: m * n), c2 = c1
        try a.withUnsafeBufferPointer { a in
            try b.withUnsafeBufferPointer { b in
                let packed = try PackedMatrixA(m: m, k: k, a: a, lda: k)
                try c1.withUnsafeMutableBufferPointer { try GEMM.sgemm(packedA: packed, n: n, b: b, ldb: n, c: $0, ldc: n) }
                try c2.withUnsafeMutableBufferPointer { try GEMM.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: $0, ldc: n) }
            }
        }
        XCTAssertEqual(c1, c2)
    }

    func testBadArgumentsThrowAndWriteNothing() throws {
        let a = [Float](repeating: 1, count: 12), b = [Float](repeating: 1, count: 12)
        var c = [Float](repeating: 7, count: 12)
        try a.withUnsafeBufferPointer { a in
            try b.withUnsafeBufferPointer { b in
                try c.withUnsafeMutableBufferPointer { c in
                    XCTAssertThrowsError(try GEMM.sgemm(m: 3, n: 4, k: 4, a: a, lda: 3, b: b, ldb: 4, c: c, ldc: 4))  // lda < k
                    XCTAssertThrowsError(try GEMM.sgemm(m: 4, n: 4, k: 4, a: a, lda: 4, b: b, ldb: 4, c: c, ldc: 4))  // A too short
                    XCTAssertThrowsError(try GEMM.sgemm(m: 3, n: 4, k: 0, a: a, lda: 4, b: b, ldb: 4, c: c, ldc: 4))  // k < 1
                    XCTAssertThrowsError(try GEMM.sgemm(m: 3, n: 4, k: 3, a: a, lda: 4, b: b, ldb: 4, c: c, ldc: 5))  // C too short
                }
            }
        }
        XCTAssertEqual(c, [Float](repeating: 7, count: 12))
    }
}
