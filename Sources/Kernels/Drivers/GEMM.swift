import Scheduler
@_exported import TesseraCore

/// What a GEMM does after the product: add a bias vector along rows or columns, then ReLU.
public struct GEMMEpilogue: @unchecked Sendable {
    /// The bias values: M of them for `.row`, N for `.column`.
    public var bias: UnsafeBufferPointer<Float>?
    public var biasAxis: BiasAxis
    public var relu: Bool

    public init(bias: UnsafeBufferPointer<Float>? = nil, biasAxis: BiasAxis = .none, relu: Bool = false) {
        self.bias = bias; self.biasAxis = biasAxis; self.relu = relu
    }

    /// No bias, no ReLU.
    public static let none = GEMMEpilogue()
    var isNone: Bool { (bias == nil || biasAxis == .none) && !relu }
}

/// op(A), packed once into the micro-kernel's panel layout, for reuse across many GEMMs
/// (a layer's weights). Holds ⌈M/6⌉·6 × K floats.
public final class PackedMatrixA: @unchecked Sendable {
    /// Rows of op(A).
    public let m: Int
    /// Columns of op(A): the reduction length.
    public let k: Int
    let paddedM: Int
    let storage: UnsafeMutablePointer<Float>

    /// Bytes held by the packed copy.
    public var byteCount: Int { paddedM * k * 4 }

    /// Packs op(A) (M×K) from a row-major buffer with leading dimension `lda`.
    public init(transpose: Transpose = .none, m: Int, k: Int, a: UnsafeBufferPointer<Float>, lda: Int,
                threads: Int? = nil) throws {
        try GEMM.validate(operand: "A", trans: transpose, rows: m, cols: k, buffer: a.count, ld: lda)
        self.m = m; self.k = k
        paddedM = (m + GEMMBlocking.mr - 1) / GEMMBlocking.mr * GEMMBlocking.mr
        storage = UnsafeMutableRawPointer.allocate(byteCount: paddedM * k * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: paddedM * k)
        GEMM.packAll(transpose, a.baseAddress!, lda, m: m, k: k, paddedM: paddedM, dst: storage, threads: threads)
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }
}

/// Single-precision GEMM: C = α·op(A)·op(B) + β·C, then an optional bias and ReLU (SPEC §2).
///
/// Matrices are row-major with leading dimensions. The packed path follows Goto/BLIS: A packed
/// in 6-row panels, B in 16-column panels, a 6×16 `SIMD8` register-blocked micro-kernel, and
/// (MC, KC, NC) cache blocking from `GEMMBlocking`. Rows of C ≤ 4 take row-vector kernels that skip
/// packing. Work is split over tiles of C (never over K), so each element is computed by the same
/// sequence of operations whatever the thread count: results are bit-identical for any `threads`.
///
/// ```swift
/// try a.withUnsafeBufferPointer { a in try b.withUnsafeBufferPointer { b in
///     try c.withUnsafeMutableBufferPointer { c in
///         try GEMM.sgemm(m: 64, n: 196, k: 576, a: a, lda: 576, b: b, ldb: 196, c: c, ldc: 196)
/// } } }
/// ```
public enum GEMM {
    /// C = α·op(A)·op(B) + β·C (+ epilogue). With β = 0, C is not read (NaN in C does not leak).
    /// Throws if a dimension is < 1, a leading dimension is too small, or a buffer is too short.
    public static func sgemm(
        transA: Transpose = .none, transB: Transpose = .none, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafeBufferPointer<Float>, lda: Int,
        b: UnsafeBufferPointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutableBufferPointer<Float>, ldc: Int,
        epilogue: GEMMEpilogue = .none, threads: Int? = nil
    ) throws {
        try validate(operand: "A", trans: transA, rows: m, cols: k, buffer: a.count, ld: lda)
        try validate(operand: "B", trans: transB, rows: k, cols: n, buffer: b.count, ld: ldb)
        try validateC(m: m, n: n, c: c, ldc: ldc, epilogue: epilogue)
        let a0 = a.baseAddress!, b0 = b.baseAddress!, c0 = c.baseAddress!
        if m <= GEMMBlocking.smallM {
            rowVectorGEMM(transA, transB, m, n, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, epilogue, threads)
            return
        }
        let paddedM = (m + GEMMBlocking.mr - 1) / GEMMBlocking.mr * GEMMBlocking.mr
        Workspace.withScratch(count: paddedM * k) { packed in
            packAll(transA, a0, lda, m: m, k: k, paddedM: paddedM, dst: packed, threads: threads)
            packedGEMM(m, n, k, alpha, packed, paddedM, transB, b0, ldb, beta, c0, ldc, epilogue, threads)
        }
    }

    /// C = α·A·op(B) + β·C (+ epilogue) with A packed beforehand (`PackedMatrixA`).
    public static func sgemm(
        packedA: PackedMatrixA, transB: Transpose = .none, n: Int,
        alpha: Float = 1, b: UnsafeBufferPointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutableBufferPointer<Float>, ldc: Int,
        epilogue: GEMMEpilogue = .none, threads: Int? = nil
    ) throws {
        let m = packedA.m, k = packedA.k
        try validate(operand: "B", trans: transB, rows: k, cols: n, buffer: b.count, ld: ldb)
        try validateC(m: m, n: n, c: c, ldc: ldc, epilogue: epilogue)
        packedGEMM(m, n, k, alpha, packedA.storage, packedA.paddedM, transB, b.baseAddress!, ldb,
                   beta, c.baseAddress!, ldc, epilogue, threads)
    }

    // MARK: - Validation

    static func validate(operand: String, trans: Transpose, rows: Int, cols: Int, buffer: Int, ld: Int) throws {
        let op = "GEMM.sgemm"
        guard rows >= 1, cols >= 1 else {
            throw TesseraError.invalidShape(operation: op, shape: [rows, cols], expected: "op(\(operand)) with every dimension ≥ 1")
        }
        // Stored shape: op(X) = X for .none, Xᵀ for .transpose.
        let (storedRows, storedCols) = trans == .none ? (rows, cols) : (cols, rows)
        guard ld >= storedCols else {
            throw TesseraError.invalidArgument(
                operation: op, message: "leading dimension \(ld) of \(operand) (stored \(storedRows)×\(storedCols)) must be ≥ \(storedCols)")
        }
        let needed = (storedRows - 1) * ld + storedCols
        guard buffer >= needed else {
            throw TesseraError.invalidShape(
                operation: op, shape: [storedRows, storedCols],
                expected: "\(operand)'s buffer to hold \(needed) floats with leading dimension \(ld), but it holds \(buffer)")
        }
    }

    static func validateC(m: Int, n: Int, c: UnsafeMutableBufferPointer<Float>, ldc: Int, epilogue: GEMMEpilogue) throws {
        try validate(operand: "C", trans: .none, rows: m, cols: n, buffer: c.count, ld: ldc)
        if let bias = epilogue.bias, epilogue.biasAxis != .none {
            let needed = epilogue.biasAxis == .row ? m : n
            guard bias.count >= needed else {
                throw TesseraError.invalidShape(operation: "GEMM.sgemm", shape: [bias.count],
                                                expected: "a \(epilogue.biasAxis) bias of \(needed) values")
            }
        }
    }

    // MARK: - Packed path

    /// Packs all of op(A) as KC-deep blocks of MR-row panels: block pb starts at pb·KC·paddedM.
    static func packAll(
        _ trans: Transpose, _ a: UnsafePointer<Float>, _ lda: Int, m: Int, k: Int, paddedM: Int,
        dst: UnsafeMutablePointer<Float>, threads: Int?
    ) {
        let kc = GEMMBlocking.kc, mc = GEMMBlocking.mc
        let kBlocks = (k + kc - 1) / kc, mBlocks = (m + mc - 1) / mc
        Scheduler.parallelFor(tiles: kBlocks * mBlocks, work: Double(m * k) * 8 * Scheduler.flopsPerByte, threads: threads) { t in
            let pb = t / mBlocks, ib = t % mBlocks
            let p0 = pb * kc, i0 = ib * mc
            let depth = min(kc, k - p0)
            Packing.packA(trans, a, lda, m0: i0, mc: min(mc, m - i0), p0: p0, kc: depth,
                          dst: dst + p0 * paddedM + i0 * depth)
        }
    }

    /// The tiles of C that one parallel region hands out: column chunks first, then row chunks.
    /// Depends on the shape only, never on the thread count.
    static func tiling(m: Int, n: Int) -> (rowsPerTile: Int, colsPerTile: Int) {
        let mr = GEMMBlocking.mr, nr = GEMMBlocking.nr
        var nTiles = (n + GEMMBlocking.nc - 1) / GEMMBlocking.nc, mTiles = 1
        while nTiles * mTiles < 8 {
            if n / (nTiles + 1) >= 128 { nTiles += 1 } else if m / (mTiles + 1) >= 8 * mr { mTiles += 1 } else { break }
        }
        let cols = ((n + nTiles - 1) / nTiles + nr - 1) / nr * nr
        let rows = ((m + mTiles - 1) / mTiles + mr - 1) / mr * mr
        return (rows, cols)
    }

    static func packedGEMM(
        _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ packedA: UnsafePointer<Float>, _ paddedM: Int,
        _ transB: Transpose, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        let (rowsPerTile, colsPerTile) = tiling(m: m, n: n)
        let rowTiles = (m + rowsPerTile - 1) / rowsPerTile, colTiles = (n + colsPerTile - 1) / colsPerTile
        let workers = Scheduler.threadCount(
            tiles: rowTiles * colTiles, work: 2 * Double(m) * Double(n) * Double(k), threads: threads)
        let kcMax = min(GEMMBlocking.kc, k)
        let edgeScratch = 6 * 16 + 6 + 16
        let perWorker = kcMax * colsPerTile + edgeScratch
        Workspace.withScratch(count: perWorker * workers) { scratch in
            Scheduler.parallelFor(tiles: rowTiles * colTiles, workers: workers) { tile, worker in
                let ti = tile / colTiles, tj = tile % colTiles
                let m0 = ti * rowsPerTile, n0 = tj * colsPerTile
                let tileM = min(rowsPerTile, m - m0), tileN = min(colsPerTile, n - n0)
                let bBuffer = scratch + worker * perWorker
                gemmTile(m0: m0, tileM: tileM, n0: n0, tileN: tileN, m: m, n: n, k: k, alpha: alpha,
                         packedA: packedA, paddedM: paddedM, transB: transB, b: b, ldb: ldb, beta: beta,
                         c: c, ldc: ldc, epilogue: epilogue, bBuffer: bBuffer,
                         edge: bBuffer + kcMax * colsPerTile)
            }
        }
    }

    /// One tile of C: the Goto loops around the micro-kernel (pc → ic → jr → ir).
    static func gemmTile(
        m0: Int, tileM: Int, n0: Int, tileN: Int, m: Int, n: Int, k: Int, alpha: Float,
        packedA: UnsafePointer<Float>, paddedM: Int, transB: Transpose, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GEMMEpilogue,
        bBuffer: UnsafeMutablePointer<Float>, edge: UnsafeMutablePointer<Float>
    ) {
        let mr = GEMMBlocking.mr, nr = GEMMBlocking.nr, kcBlock = GEMMBlocking.kc, mcBlock = GEMMBlocking.mc
        let biasPointer = epilogue.bias?.baseAddress
        var p0 = 0
        while p0 < k {
            let kc = min(kcBlock, k - p0)
            let isLast = p0 + kc == k
            Packing.packB(transB, b, ldb, p0: p0, kc: kc, n0: n0, nc: tileN, dst: bBuffer)
            let mode: KernelStoreMode = p0 > 0 ? .accumulate : (beta == 0 ? .overwrite : .scale(beta))
            var i0 = m0
            while i0 < m0 + tileM {
                let mc = min(mcBlock, m0 + tileM - i0)
                var j = 0
                while j < tileN {
                    let col = n0 + j, cols = min(nr, n - col)
                    let bPanel = bBuffer + j * kc
                    var i = 0
                    while i < mc {
                        let row = i0 + i, rows = min(mr, m - row)
                        let aPanel = packedA + p0 * paddedM + row * kc
                        var e: KernelEpilogue? = nil
                        if isLast && !epilogue.isNone {
                            e = KernelEpilogue(relu: epilogue.relu)
                            if let bp = biasPointer {
                                if epilogue.biasAxis == .row { e!.rowBias = bp + row }
                                if epilogue.biasAxis == .column { e!.columnBias = bp + col }
                            }
                        }
                        if rows == mr && cols == nr {
                            sgemmKernel6x16(kc: kc, a: aPanel, b: bPanel, c: c + row * ldc + col, ldc: ldc,
                                            alpha: alpha, mode: mode, epilogue: e)
                        } else {
                            edgeTile(kc: kc, a: aPanel, b: bPanel, c: c + row * ldc + col, ldc: ldc, rows: rows,
                                     cols: cols, alpha: alpha, mode: mode, epilogue: e, scratch: edge)
                        }
                        i += mr
                    }
                    j += nr
                }
                i0 += mc
            }
            p0 += kc
        }
    }

    /// A partial tile at the edge of C: the same micro-kernel, run on a 6×16 scratch tile that
    /// holds the valid part of C (and of the bias), then copied back. The arithmetic is the full
    /// tile's, so an element's value does not depend on whether it sat in an edge tile.
    static func edgeTile(
        kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        rows: Int, cols: Int, alpha: Float, mode: KernelStoreMode, epilogue: KernelEpilogue?,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let tile = scratch, rowBias = scratch + 96, colBias = scratch + 102
        tile.update(repeating: 0, count: 96)
        if case .overwrite = mode {} else {
            for r in 0..<rows { for j in 0..<cols { tile[r * 16 + j] = c[r * ldc + j] } }
        }
        var e = epilogue
        if let rb = epilogue?.rowBias {
            rowBias.update(repeating: 0, count: 6)
            for r in 0..<rows { rowBias[r] = rb[r] }
            e!.rowBias = UnsafePointer(rowBias)
        }
        if let cb = epilogue?.columnBias {
            colBias.update(repeating: 0, count: 16)
            for j in 0..<cols { colBias[j] = cb[j] }
            e!.columnBias = UnsafePointer(colBias)
        }
        sgemmKernel6x16(kc: kc, a: a, b: b, c: tile, ldc: 16, alpha: alpha, mode: mode, epilogue: e)
        for r in 0..<rows { for j in 0..<cols { c[r * ldc + j] = tile[r * 16 + j] } }
    }
}
