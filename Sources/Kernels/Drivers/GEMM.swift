import Scheduler
import CPUHints
#if TESSERA_AVX512
import KernelsAVX512
#endif
@_exported import TesseraCore

/// What a GEMM does after the product: add a bias vector along rows or columns, then ReLU.
public struct GEMMEpilogue: @unchecked Sendable {
    /// The bias values: M of them for `.row`, N for `.column`.
    public var bias: UnsafeBufferPointer<Float>?
    /// Whether the bias runs along rows (one value per row of C) or columns.
    public var biasAxis: BiasAxis
    /// Whether ReLU follows the bias (NaN passes through).
    public var relu: Bool

    /// An epilogue; `bias` must hold M values for `.row` and N for `.column` (checked by `sgemm`).
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
    /// The micro-kernel whose panel layout this packing uses.
    public let microKernel: GEMMMicroKernel
    /// The blocking of the packing (its KC): the kernel's, or `unpackedBlocking` where asked for.
    let blocking: GEMMBlocking

    /// Bytes held by the packed copy.
    public var byteCount: Int { paddedM * k * 4 }

    /// Packs op(A) (M×K) from a row-major buffer with leading dimension `lda`.
    public convenience init(transpose: Transpose = .none, m: Int, k: Int, a: UnsafeBufferPointer<Float>, lda: Int,
                            threads: Int? = nil) throws {
        try self.init(transpose: transpose, m: m, k: k, a: a, lda: lda, threads: threads, deepK: false)
    }

    /// With `deepK`, packed in the deeper K blocks of `GEMMMicroKernel.unpackedBlocking`, for weights
    /// that only ever meet `packedGEMM` (a 1×1 convolution), not the Winograd or direct loops.
    convenience init(transpose: Transpose = .none, m: Int, k: Int, a: UnsafeBufferPointer<Float>, lda: Int,
                     threads: Int? = nil, deepK: Bool) throws {
        try GEMM.validate(operand: "A", trans: transpose, rows: m, cols: k, buffer: a.count, ld: lda)
        self.init(uninitializedM: m, k: k, deepK: deepK)
        GEMM.packAll(transpose, a.baseAddress!, lda, m: m, k: k, paddedM: paddedM, dst: storage,
                     blocking: blocking, threads: threads)
    }

    /// Storage for an M×K packing for the active micro-kernel, not yet written.
    private init(uninitializedM m: Int, k: Int, deepK: Bool = false) {
        self.m = m; self.k = k
        microKernel = GEMMMicroKernel.active
        blocking = deepK ? microKernel.unpackedBlocking : microKernel.blocking
        let mr = microKernel.blocking.mr
        paddedM = (m + mr - 1) / mr * mr
        storage = LargeAllocation.allocate(byteCount: paddedM * k * 4)
            .bindMemory(to: Float.self, capacity: paddedM * k)
    }

    /// Packs new values of op(A), of the same M×K, into this packing's storage: no allocation.
    /// Must not run while a GEMM reads this packing.
    public func repack(transpose: Transpose = .none, a: UnsafeBufferPointer<Float>, lda: Int, threads: Int? = nil) throws {
        try GEMM.validate(operand: "A", trans: transpose, rows: m, cols: k, buffer: a.count, ld: lda)
        repackUnchecked(transpose: transpose, a: a.baseAddress!, lda: lda, threads: threads)
    }

    /// `repack` from a buffer the caller has checked: no validation, no throw.
    func repackUnchecked(transpose: Transpose = .none, a: UnsafePointer<Float>, lda: Int, threads: Int? = nil) {
        GEMM.packAll(transpose, a, lda, m: m, k: k, paddedM: paddedM, dst: storage, blocking: blocking, threads: threads)
    }

    /// Storage for an M×K packing with every element zero, to be written in place through
    /// `packedOffset` (the Winograd filter transform writes U straight into its panels).
    convenience init(zeroedM m: Int, k: Int) {
        self.init(uninitializedM: m, k: k)
        storage.update(repeating: 0, count: paddedM * k)
    }

    /// Where element (i, p) of op(A) lives in `storage`: `GEMM.packAll`'s layout (KC blocks of
    /// MC-row blocks of MR-row panels, MR floats per k step).
    func packedOffset(row i: Int, column p: Int) -> Int {
        let kc = blocking.kc, mc = blocking.mc, mr = blocking.mr
        let p0 = p / kc * kc, i0 = i / mc * mc, depth = min(kc, k - p0)
        return p0 * paddedM + i0 * depth + (i - i0) / mr * (depth * mr) + (p - p0) * mr + (i - i0) % mr
    }

    /// op(A) read back out of the packing, M×K row-major: for the layouts that plans build from
    /// their packed weights on first use, since a plan keeps no other copy.
    func unpacked() -> [Float] {
        var a = [Float](repeating: 0, count: m * k)
        for i in 0..<m { for p in 0..<k { a[i * k + p] = storage[packedOffset(row: i, column: p)] } }
        return a
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }
}

/// op(B) (K×N) packed once in the column-tile layout the packed GEMM reads in place: a weight
/// matrix that is the B operand of many GEMMs (a 1×1 convolution on a small image computes
/// Yᵀ = Xᵀ·Wᵀ, with the output channels along the micro-kernel's wide axis). The layout depends on
/// N and K only (`GEMMTiling.columnTiles`), not on the M of each call.
final class PackedMatrixB: @unchecked Sendable {
    let n: Int, k: Int
    /// The column split this packing is laid out in; every GEMM on it uses this split.
    let columnTiles: Int
    let microKernel: GEMMMicroKernel
    let storage: UnsafeMutablePointer<Float>
    var byteCount: Int { k * columnTiles * widestColumns * 4 }
    /// Columns of the widest column tile: each tile's packed B is K × this, one after another.
    private let widestColumns: Int

    /// Packs op(B) from a row-major buffer with leading dimension `ldb`.
    init(transpose: Transpose, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int) {
        self.n = n; self.k = k
        microKernel = GEMMMicroKernel.active
        columnTiles = GEMMTiling.columnTiles(n: n, k: k, microKernel.blocking)
        widestColumns = GEMMTiling(m: 1, n: n, k: k, microKernel.blocking, workers: 1, columnTiles: columnTiles).widestColumns
        storage = LargeAllocation.allocate(byteCount: k * columnTiles * widestColumns * 4)
            .bindMemory(to: Float.self, capacity: k * columnTiles * widestColumns)
        repack(transpose: transpose, b: b, ldb: ldb)
    }

    /// Column tile `j`'s packed B.
    func tile(_ j: Int) -> UnsafeMutablePointer<Float> { storage + j * k * widestColumns }

    /// Packs new values of op(B), of the same K×N, into this packing's storage: no allocation.
    /// Must not run while a GEMM reads this packing.
    func repack(transpose: Transpose, b: UnsafePointer<Float>, ldb: Int) {
        let blocking = microKernel.blocking
        let tiling = GEMMTiling(m: 1, n: n, k: k, blocking, workers: 1, columnTiles: columnTiles)
        for tj in 0..<columnTiles {
            let (n0, tileN) = tiling.columns(tj)
            for p0 in stride(from: 0, to: k, by: blocking.kc) {
                GEMM.packTileB(blocking, { Packing.packB(transpose, b, ldb, p0: $0, kc: $1, n0: $2, nc: $3, nr: $4, dst: $5) },
                               p0: p0, k: k, n0: n0, tileN: tileN, dst: tile(tj))
            }
        }
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }
}

/// Which loops `GEMM.sgemm` runs; chosen from the shape, the transposes and the micro-kernel alone.
public enum GEMMPath: String, Sendable {
    /// M ≤ 4: row-vector kernels on A and B as stored, no packing.
    case rowVector = "row-vector (no packing)"
    /// K ≤ 4: a rank-K update written row by row.
    case rankK = "rank-K update (no packing)"
    /// Few columns, A row-major, AVX-512: A read in place by the 8×48 broadcast kernel, the last
    /// columns by the 4×6 dot-product kernel (`GEMM.unpackedAGEMM`).
    case unpackedA = "A in place: 8x48 broadcast + 4x6 dot AVX-512"
    /// Few rows (16…128), B stored N×K, AVX-512: Cᵀ = B·op(A)ᵀ with B read in place, then C = α·(Cᵀ)ᵀ + β·C.
    case unpackedATransposed = "B in place, Cᵀ = B·op(A)ᵀ: 8x48 broadcast + 4x6 dot AVX-512"
    /// Few columns otherwise: T = op(B)ᵀ·op(A)ᵀ on the packed path, then C = α·Tᵀ + β·C.
    case transposed = "transposed packed"
    /// The Goto/BLIS loops with B packed and A's rows read in place by the 8×32 kernel: row-major A,
    /// AVX-512, many rows, few columns, deep (`GEMMBlocking.readsRowsOfAInPlace`), where `inPlace` does not apply.
    case packedB = "B packed, A in place: 8x32 AVX-512"
    /// The Goto/BLIS loops with neither operand packed: the `packedB` shapes on a row-major B, at most 4·MC
    /// rows, whose rows spread over L2's sets (`GEMMBlocking.readsRowsOfBInPlaceWithA`), read in place by
    /// the 8×32 kernel on row tiles of at most 2·MC rows, K block by K block.
    case inPlace = "A and B in place: 8x32 AVX-512"
    /// The Goto/BLIS loops with A packed and B's rows read in place by the 8×32 kernel (only a partial
    /// last panel packed): one row tile of at most 2·MC rows, row-major B, AVX-512 (`GEMMBlocking.readsRowsOfBInPlace`).
    case packedA = "A packed, B in place: 8x32 AVX-512"
    /// The Goto/BLIS path: A and B packed, the register-blocked micro-kernel.
    case packed = "packed"
}

/// Single-precision GEMM: C = α·op(A)·op(B) + β·C, then an optional bias and ReLU (SPEC §2).
///
/// Matrices are row-major with leading dimensions. The packed path follows Goto/BLIS: A packed
/// in MR-row panels, B in NR-column panels, a register-blocked micro-kernel (8×32 `SIMD16` on
/// AVX-512 CPUs, else 6×16 `SIMD8`; see `GEMMMicroKernel`), and (MC, KC, NC) cache blocking.
/// Rows of C ≤ 4 take row-vector kernels that skip packing, and so does a depth K ≤ 4 (a rank-K
/// update). Work is split over tiles of C (never over K), so each element is computed by the same
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
        let kernel = GEMMMicroKernel.active, blocking = kernel.unpackedBlocking
        switch path(kernel, transA: transA, transB: transB, m: m, n: n, k: k, ldb: ldb) {
        case .rowVector:
            rowVectorGEMM(transA, transB, m, n, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, epilogue, threads)
            return
        case .rankK:
            rankKGEMM(transA, transB, m, n, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, epilogue, threads)
            return
        case .unpackedA:
            unpackedAGEMM(transB, m, n, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, epilogue, threads)
            return
        case .unpackedATransposed:
            unpackedATransposedGEMM(transA, m, n, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, epilogue, threads)
            return
        case .transposed:
            transposedGEMM(kernel, transA, transB, m, n, k, alpha, a0, lda, b0, ldb, beta, c0, ldc, epilogue, threads)
            return
        case .packedB:
            // No packed A: `aRows` replaces it (the packed-A pointer and its padded rows go unused).
            packedGEMM(kernel, m, n, k, alpha, a0, 0, beta, c0, ldc, epilogue, threads, blocking: blocking,
                       sourceB: transB == .none ? RowMajorSource(base: b0, ld: ldb) : nil, aRows: RowMajorSource(base: a0, ld: lda)) {
                Packing.packB(transB, b0, ldb, p0: $0, kc: $1, n0: $2, nc: $3, nr: $4, dst: $5)
            }
            return
        case .inPlace:
            // Neither operand packed (but B's partial last panel): `aRows` and `bRows` replace them.
            packedGEMM(kernel, m, n, k, alpha, a0, 0, beta, c0, ldc, epilogue, threads, blocking: blocking,
                       aRows: RowMajorSource(base: a0, ld: lda), bRows: RowMajorSource(base: b0, ld: ldb)) {
                Packing.packB(.none, b0, ldb, p0: $0, kc: $1, n0: $2, nc: $3, nr: $4, dst: $5)
            }
            return
        case .packedA, .packed:
            break
        }
        let paddedM = (m + blocking.mr - 1) / blocking.mr * blocking.mr
        Workspace.withScratch(count: paddedM * k) { packed in
            // A is packed by the first tiles of the GEMM's own region: one wake-up of the workers, not two.
            let packA = PackingTilesA(trans: transA, a: a0, lda: lda, m: m, k: k, paddedM: paddedM, dst: packed, blocking: blocking)
            packedGEMM(kernel, m, n, k, alpha, packed, paddedM, beta, c0, ldc, epilogue, threads, blocking: blocking,
                       packA: packA, sourceB: transB == .none ? RowMajorSource(base: b0, ld: ldb) : nil) {
                Packing.packB(transB, b0, ldb, p0: $0, kc: $1, n0: $2, nc: $3, nr: $4, dst: $5)
            }
        }
    }

    /// The loops `sgemm` runs for this shape with the active micro-kernel (Bench reports it).
    /// `ldb`: B's leading dimension, the minimum (N, or K for a transposed B) by default.
    public static func path(transA: Transpose = .none, transB: Transpose = .none, m: Int, n: Int, k: Int, ldb: Int? = nil) -> GEMMPath {
        path(GEMMMicroKernel.active, transA: transA, transB: transB, m: m, n: n, k: k, ldb: ldb ?? (transB == .none ? n : k))
    }

    static func path(_ kernel: GEMMMicroKernel, transA: Transpose, transB: Transpose, m: Int, n: Int, k: Int, ldb: Int) -> GEMMPath {
        if m <= GEMMBlocking.smallM { return .rowVector }
        if k <= GEMMBlocking.smallK { return .rankK }
        if prefersUnpackedA(kernel, transA, m: m, n: n) { return .unpackedA }
        // Few rows on B stored N×K (a fully connected layer's weights): B in place for Cᵀ. Alternating medians
        // of 5 against the packed path, 1 / 2 threads: VGG FC6 at batch 32 (32×4096×25088) 68 → 106 / 123 → 211
        // GFLOPS, 64×4096×4096 +36 % / +36 %, 16×1000×4096 +84 % / +74 %, 128×4096×4096 +26 % / +26 %,
        // 100×1000×2048 +31 % / +32 %; at 256 rows (256×2048×1024) +3 % / −2 %, hence the bound.
        if transB == .transpose && m <= 128 && prefersUnpackedA(kernel, .none, m: n, n: m) { return .unpackedATransposed }
        if prefersTransposed(m: m, n: n) { return .transposed }
        if kernel == .avx512_8x32 && transA == .none && GEMMBlocking.readsRowsOfAInPlace(m: m, n: n, k: k) {
            return transB == .none && GEMMBlocking.readsRowsOfBInPlaceWithA(kernel.unpackedBlocking, m: m, ldb: ldb) ? .inPlace : .packedB
        }
        // B in place is decided per tile, for a single row tile of C (as here on one worker; on several, the
        // tiling may add row tiles where it finds no other even split).
        let blocking = kernel.unpackedBlocking
        if transB == .none && GEMMBlocking.readsRowsOfBInPlace(kernel, blocking, rowMajorB: true, rows: m, n: n, k: k)
            && GEMMTiling(m: m, n: n, k: k, blocking, workers: 1).rowTiles == 1 {
            return .packedA
        }
        return .packed
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
        packedGEMM(packedA.microKernel, m, n, k, alpha, packedA.storage, packedA.paddedM, beta, c.baseAddress!, ldc, epilogue,
                   threads, blocking: packedA.blocking, sourceB: transB == .none ? RowMajorSource(base: b.baseAddress!, ld: ldb) : nil) {
            Packing.packB(transB, b.baseAddress!, ldb, p0: $0, kc: $1, n0: $2, nc: $3, nr: $4, dst: $5)
        }
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

    /// Packing one element costs about half a nanosecond to a nanosecond (strided loads and stores,
    /// im2col index arithmetic): about 128 flops of FMA time. The scheduler weighs packing regions with this.
    static let packingWorkPerElement: Double = 128

    /// Few columns and many rows (a late convolution layer at batch 1): the NR-wide register tile
    /// would mostly hold padding, so compute T = op(B)ᵀ·op(A)ᵀ (N×M, rows of T along the wide axis)
    /// and then C = α·Tᵀ + β·C (+ epilogue). The choice depends on the shape only.
    static func transposedGEMM(
        _ kernel: GEMMMicroKernel, _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        let blocking = kernel.transposedBlocking(rows: n)
        let paddedN = (n + blocking.mr - 1) / blocking.mr * blocking.mr
        // op(B)ᵀ is B read with the other transpose flag, and likewise op(A)ᵀ.
        let flippedB: Transpose = transB == .none ? .transpose : .none
        let flippedA: Transpose = transA == .none ? .transpose : .none
        Workspace.withScratch(count: paddedN * k + 2 * n * m) { scratch in
            let t = scratch + paddedN * k, tt = t + n * m
            let packA = PackingTilesA(trans: flippedB, a: b, lda: ldb, m: n, k: k, paddedM: paddedN, dst: scratch, blocking: blocking)
            // Each tile of T, once computed, goes to C in the same region: its block of Tᵀ through 8×8
            // register transposes (a column of T read element by element, m floats apart, cost a quarter
            // of the GEMM at M = 2048), then C row by row. (After the region, on one thread, this was
            // 15–20 % of the 2-thread time at 2048×49×512.) `combine` is elementwise, so where a tile's
            // edges fall does not change a value.
            packedGEMM(kernel, n, m, k, 1, scratch, paddedN, 0, t, m, .none, threads, blocking: blocking, packA: packA,
                       finishTile: { tRows, tColumns in
                combineTransposed(t, m: m, n: n, rows: tRows, columns: tColumns, scratch: tt, alpha: alpha, beta: beta,
                                  c: c, ldc: ldc, epilogue: epilogue)
            }, keepsCCached: true) { Packing.packB(flippedA, a, lda, p0: $0, kc: $1, n0: $2, nc: $3, nr: $4, dst: $5) }
        }
    }

    /// Few columns and many rows: the NR-wide register tile would mostly hold padding, so the product
    /// runs transposed (N along the micro-kernel's MR rows). Depends on the shape only. At most 64
    /// columns, two AVX-512 panels or four SIMD8 ones (the bound was 2 NR, 32 for SIMD8): Zen 3,
    /// SIMD8, alternating in-process medians, N = 49 transposed: 2048×49×512 29 → 51 GFLOPS at
    /// 1 thread and 53 → 81 at 2, 512×49×2048 +50 % / +81 %, 512×49×4608 +37 % / +61 %; the 1×1 convolutions
    /// 2048→512 and 512→2048 at 7×7 +10 % / +17 % and +8 % / +2 %.
    static func prefersTransposed(m: Int, n: Int) -> Bool { n <= 64 && m >= 4 * n }

    /// C[i, j] = α·T[j, i] + β·C[i, j] (+ epilogue) for a block of T = Cᵀ (N×M, rows `m` apart): T's rows
    /// `rows` are C's columns, its columns `columns` C's rows. The block goes through 8×8 register
    /// transposes into `scratch` (M×N, rows `n` apart), then to C row by row through `combine`.
    static func combineTransposed(
        _ t: UnsafePointer<Float>, m: Int, n: Int, rows: Range<Int>, columns: Range<Int>, scratch: UnsafeMutablePointer<Float>,
        alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GEMMEpilogue
    ) {
        let j0 = rows.lowerBound, i0 = columns.lowerBound
        transposeBlock(rows: rows.count, cols: columns.count, t + j0 * m + i0, m, scratch + i0 * n + j0, n)
        for i in columns {
            combine(scratch + i * n + j0, cols: rows.count, row: i, col0: j0, alpha: alpha, beta: beta, c: c + i * ldc + j0, epilogue: epilogue)
        }
    }

    /// Xᵀ ↔ X for an R×C row-major block: dst[j·ldd + i] = src[i·lds + j], through 8×8 register transposes.
    static func transposeBlock(rows: Int, cols: Int, _ src: UnsafePointer<Float>, _ lds: Int, _ dst: UnsafeMutablePointer<Float>, _ ldd: Int) {
        var i = 0
        while i + 8 <= rows {
            var j = 0
            while j + 8 <= cols { transpose8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd); j += 8 }
            for jj in j..<cols { for ii in i..<(i + 8) { dst[jj * ldd + ii] = src[ii * lds + jj] } }
            i += 8
        }
        for ii in i..<rows { for jj in 0..<cols { dst[jj * ldd + ii] = src[ii * lds + jj] } }
    }

    /// Packs all of op(A) as KC-deep blocks of MR-row panels: block pb starts at pb·KC·paddedM.
    static func packAll(
        _ trans: Transpose, _ a: UnsafePointer<Float>, _ lda: Int, m: Int, k: Int, paddedM: Int,
        dst: UnsafeMutablePointer<Float>, blocking: GEMMBlocking, threads: Int?
    ) {
        let packA = PackingTilesA(trans: trans, a: a, lda: lda, m: m, k: k, paddedM: paddedM, dst: dst, blocking: blocking)
        Scheduler.parallelFor(tiles: packA.tiles, work: Double(m * k) * packingWorkPerElement, threads: threads, packA.pack)
    }

    /// op(A)'s packing (`packAll`'s layout) for a GEMM region to run: as `tiles` tiles of its own
    /// (`pack(t)`, one per KC block × MC block), or row range by row range (`packRows(r0, r1)`, whole
    /// MR panels) by the product tiles that use those rows. A plain value, not closures: a
    /// steady-state GEMM allocates nothing for it.
    struct PackingTilesA {
        let trans: Transpose, a: UnsafePointer<Float>, lda: Int, m: Int, k: Int, paddedM: Int
        let dst: UnsafeMutablePointer<Float>, blocking: GEMMBlocking
        var kBlocks: Int { (k + blocking.kc - 1) / blocking.kc }
        var mBlocks: Int { (m + blocking.mc - 1) / blocking.mc }
        var tiles: Int { kBlocks * mBlocks }

        /// Packs tile `t`: one MC block of rows of one KC block.
        func pack(_ t: Int) {
            let kc = blocking.kc, mc = blocking.mc
            let pb = t / mBlocks, ib = t % mBlocks
            let p0 = pb * kc, i0 = ib * mc
            let depth = min(kc, k - p0)
            Packing.packA(trans, a, lda, m0: i0, mc: min(mc, m - i0), p0: p0, kc: depth, mr: blocking.mr,
                          dst: dst + p0 * paddedM + i0 * depth)
        }

        /// Packs rows r0..<r1 (whole MR panels) of every K block, split where they cross an MC block.
        func packRows(_ r0: Int, _ r1: Int) {
            let kc = blocking.kc, mc = blocking.mc
            for p0 in stride(from: 0, to: k, by: kc) {
                let depth = min(kc, k - p0)
                var i = r0
                while i < r1 {
                    let i0 = i / mc * mc, end = min(r1, i0 + mc)
                    Packing.packA(trans, a, lda, m0: i, mc: end - i, p0: p0, kc: depth, mr: blocking.mr,
                                  dst: dst + p0 * paddedM + i0 * depth + (i - i0) * depth)
                    i = i0 + mc
                }
            }
        }
    }

    /// Packs op(B)[p0..<p0+kc, n0..<n0+nc] into ⌈nc/NR⌉ zero-padded NR-column panels at `dst`.
    /// The GEMM driver asks for B only through this, so a convolution can pack its im2col matrix
    /// straight from the image (implicit GEMM) instead of materializing it.
    /// Call sites pass a closure literal (a row-major B: `{ Packing.packB(trans, b, ldb, p0: $0, …) }`):
    /// a closure returned by a helper would be escaping and allocate its context on every call.
    typealias BPacker = (_ p0: Int, _ kc: Int, _ n0: Int, _ nc: Int, _ nr: Int, _ dst: UnsafeMutablePointer<Float>) -> Void

    /// C = α·A·op(B) + β·C (+ epilogue) with A packed (`packAll`'s layout) and B either packed per call
    /// through `packB` or, with `prepackedB`, packed once beforehand by `PackedMatrixB` for this N and K.
    /// With `packA` (`PackingTilesA`), A is not packed yet: the region's first tiles pack it and the
    /// product tiles wait for them (with one column tile, each product tile packs its own rows).
    /// `finishTile(rows, columns)` runs on a tile of C once it is complete, in the same region; with
    /// `keepsCCached` (a `finishTile` that reads the tile back), C is never stored past the caches.
    /// `blocking`: the one A was packed with (its KC), the kernel's by default. `aRows`: A read in place
    /// instead (`packedA` unused); `bRows`: B read in place by every tile as well, K block by K block
    /// (`GEMMPath.inPlace`; `packB` packs only a partial last panel), on row tiles of at most 2·MC rows.
    static func packedGEMM(
        _ kernel: GEMMMicroKernel, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ packedA: UnsafePointer<Float>, _ paddedM: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?,
        blocking: GEMMBlocking? = nil, prepackedB: PackedMatrixB? = nil, packA: PackingTilesA? = nil,
        sourceB: RowMajorSource? = nil, aRows: RowMajorSource? = nil, bRows: RowMajorSource? = nil,
        finishTile: (_ rows: Range<Int>, _ columns: Range<Int>) -> Void = { _, _ in }, keepsCCached: Bool = false, packB: BPacker
    ) {
        let blocking = blocking ?? kernel.blocking
        precondition(prepackedB == nil || blocking.kc == kernel.blocking.kc, "PackedMatrixB is packed with the kernel's KC")
        // Tiling for the threads the region may use (rounded to a multiple of them), then the workers.
        let cap = Scheduler.threadCount(tiles: Int.max, work: 2 * Double(m) * Double(n) * Double(k), threads: threads)
        let tiling = GEMMTiling(m: m, n: n, k: k, blocking, workers: cap, columnTiles: prepackedB?.columnTiles,
                                maximumRows: bRows == nil ? nil : 2 * blocking.mc)   // MC blocks' column edges: 2 in flight
        let rowTiles = tiling.rowTiles, colTiles = tiling.columnTiles
        let workers = min(cap, tiling.count)
        let edgeScratch = edgeScratchCount(blocking)
        let packedBPerTile = k * tiling.widestColumns
        if let prepackedB {
            precondition(prepackedB.n == n && prepackedB.k == k && prepackedB.microKernel == kernel,
                         "PackedMatrixB packed for another shape or kernel")
        }
        // With several row tiles per column chunk, B is packed once for all of them by the first
        // tiles of the region (one per K block and column tile), which the product tiles wait for
        // (`TileLatch`); otherwise each tile packs its own slice of B as it starts. Shared packed
        // B is bounded (`GEMMBlocking.maximumSharedPackedB`): column tiles go in groups that fit, so
        // an implicit-GEMM convolution never holds its whole im2col matrix. B packed beforehand is
        // read in place, as one group. But with one column tile whose packed B is small
        // (`GEMMBlocking.maximumPrivatePackedB`), each worker packs all of B for itself on its first
        // tile: no product waits for another core's packing or reads the lines that core just wrote.
        let privateB = bRows == nil && prepackedB == nil && colTiles == 1 && rowTiles > 1 && workers > 1
            && packedBPerTile <= GEMMBlocking.maximumPrivatePackedB
        let sharedB = (rowTiles > 1 && !privateB && bRows == nil) || prepackedB != nil
        // A private B included; B in place packs only its partial last panel, K × NR (`gemmTile`'s `rowsB`).
        let perWorker = (sharedB ? 0 : bRows != nil ? k * blocking.nr : packedBPerTile) + edgeScratch
        let groupTiles = prepackedB != nil ? colTiles
            : sharedB ? max(1, min(colTiles, GEMMBlocking.maximumSharedPackedB / packedBPerTile)) : colTiles
        let shared = sharedB && prepackedB == nil ? groupTiles * packedBPerTile : 0
        let kBlocks = (k + blocking.kc - 1) / blocking.kc
        Workspace.withScratch(count: shared + perWorker * workers) { scratch in
            let workerScratch = scratch + shared
            var g0 = 0
            while g0 < colTiles {
                let tilesInGroup = min(groupTiles, colTiles - g0)
                // Tiles in order: A's packing (first group only), B's shared packing, the products.
                // With one column tile, each row of A meets one product tile only, which packs those
                // rows itself as it starts: they stay in that core's L2, and no product waits on
                // another core's A (2 threads, alternating calls on a Xeon VM: the ResNet-50 and VGG
                // shapes with N = 196, M 128…1024, +1–11 %; 1 thread ±3 %).
                let aInTile = packA != nil && colTiles == 1
                let aTiles = g0 == 0 && !aInTile ? packA?.tiles ?? 0 : 0
                let packTiles = aTiles + (sharedB && prepackedB == nil ? tilesInGroup * kBlocks : 0)
                let packed = TileLatch()
                withUnsafeTemporaryAllocation(of: Bool.self, capacity: workers) { packedBy in
                packedBy.initialize(repeating: false)
                Scheduler.parallelFor(tiles: packTiles + rowTiles * tilesInGroup, workers: workers) { tile, worker in
                    if tile < aTiles {
                        packA!.pack(tile)
                        packed.arrive()
                        return
                    }
                    if tile < packTiles {
                        let tj = g0 + (tile - aTiles) / kBlocks, p0 = ((tile - aTiles) % kBlocks) * blocking.kc
                        let (n0, tileN) = tiling.columns(tj)
                        packTileB(blocking, packB, p0: p0, k: k, n0: n0, tileN: tileN, dst: scratch + (tj - g0) * packedBPerTile)
                        packed.arrive()
                        return
                    }
                    let product = tile - packTiles
                    let ti = product / tilesInGroup, tj = g0 + product % tilesInGroup
                    let (m0, tileM) = tiling.rows(ti), (n0, tileN) = tiling.columns(tj)
                    let mine = workerScratch + worker * perWorker
                    if aInTile { packA!.packRows(m0, m0 + tileM) }
                    if sharedB || privateB {
                        let bPacked: UnsafePointer<Float>
                        if privateB {
                            // This worker's copy of all of B, packed on its first tile.
                            let own = mine + edgeScratch
                            if !packedBy[worker] {
                                packedBy[worker] = true
                                for q in stride(from: 0, to: k, by: blocking.kc) {
                                    packTileB(blocking, packB, p0: q, k: k, n0: n0, tileN: tileN, dst: own)
                                }
                            }
                            bPacked = UnsafePointer(own)
                        } else {
                            bPacked = UnsafePointer(prepackedB?.tile(tj) ?? scratch + (tj - g0) * packedBPerTile)
                        }
                        packed.wait(until: packTiles)
                        gemmTile(kernel, blocking, m0: m0, tileM: tileM, n0: n0, tileN: tileN, m: m, n: n, k: k, kBlocks: 0..<k,
                                 alpha: alpha, packedA: packedA, paddedM: paddedM, aRows: aRows, bPacked: bPacked, beta: beta,
                                 c: c, ldc: ldc, epilogue: epilogue, edge: mine, mayStreamC: !keepsCCached)
                    } else {
                        let bPacked = mine + edgeScratch
                        // The tile packs its own B. With one block of rows, each K block is packed just
                        // before its product, so it is read back from L2 instead of from L3 or DRAM (a
                        // tile's whole packed B can exceed L2); with several, all of K first, since every
                        // row block reuses it. Same kernel calls in the same order per element of C either way.
                        // With one block of rows, B's K block is also packed in chunks of columns
                        // (`GEMMBlocking.maxPackedBChunk`), each multiplied while it is still in L2; half
                        // as wide where the next chunk's rows of a large B are prefetched meanwhile. So is
                        // a tile of two blocks of rows on a B that DRAM would feed (`minimumTallSource`).
                        let tall = tileM > blocking.mc && tileM <= 2 * blocking.mc && sourceB != nil
                            && k * n >= SourceRowsPrefetch.minimumTallSource
                        let round = tileM <= blocking.mc || tall || bRows != nil ? blocking.kc : k
                        // B read in place by the kernel (only its partial last panel packed), where it pays;
                        // elsewhere a B that DRAM would feed is prefetched a chunk ahead of its packing.
                        let rowsB = bRows ?? (aRows == nil && GEMMBlocking.readsRowsOfBInPlace(
                            kernel, blocking, rowMajorB: sourceB != nil, rows: tileM, n: n, k: k) ? sourceB : nil)
                        let prefetchSource = rowsB == nil
                            && (tall || (tileM <= blocking.mc && sourceB != nil && k * n >= SourceRowsPrefetch.minimumSource))
                        let chunk = prefetchSource ? blocking.prefetchedBChunkColumns
                            : tileM <= blocking.mc ? blocking.packedBChunkColumns : tileN
                        var p0 = 0
                        while p0 < k {
                            let p1 = min(k, p0 + round)
                            var c0 = 0
                            while c0 < tileN {
                                let cn = min(chunk, tileN - c0)
                                for q in stride(from: p0, to: p1, by: blocking.kc) {
                                    if rowsB == nil {
                                        packTileB(blocking, packB, p0: q, k: k, n0: n0 + c0, tileN: cn, dst: bPacked)
                                    } else if cn % blocking.nr != 0 {
                                        let full = cn / blocking.nr * blocking.nr
                                        packB(q, min(blocking.kc, k - q), n0 + c0 + full, cn - full, blocking.nr, bPacked + q * blocking.nr)
                                    }
                                }
                                if p0 == 0 && c0 == 0 { packed.wait(until: packTiles) }   // A's packing
                                // The rows of B the next chunk packs (the next columns of this K block, else
                                // the next K block's first), into L2 while this one computes: one K block here.
                                var source = SourceRowsPrefetch()
                                if let sourceB, prefetchSource {
                                    let (q0, d0) = c0 + cn < tileN ? (p0, c0 + cn) : (p1, 0)
                                    if q0 < k {
                                        source = SourceRowsPrefetch(
                                            sourceB, rows: q0..<min(k, q0 + round), columns: (n0 + d0)..<(n0 + d0 + min(chunk, tileN - d0)),
                                            calls: cn / blocking.nr * ((tileM + blocking.mr - 1) / blocking.mr))
                                    }
                                }
                                gemmTile(kernel, blocking, m0: m0, tileM: tileM, n0: n0 + c0, tileN: cn, m: m, n: n, k: k, kBlocks: p0..<p1,
                                         alpha: alpha, packedA: packedA, paddedM: paddedM, aRows: aRows, bPacked: bPacked, beta: beta,
                                         c: c, ldc: ldc, epilogue: epilogue, edge: mine, source: source, rowsB: rowsB,
                                         nextStart: c0 + cn < tileN ? (p0, n0 + c0 + cn) : (p1, n0), mayStreamC: !keepsCCached)
                                c0 += cn
                            }
                            p0 = p1
                        }
                    }
                    finishTile(m0..<(m0 + tileM), n0..<(n0 + tileN))
                }
                }
                g0 += tilesInGroup
            }
        }
    }

    /// Packs the K block starting at `p0` of a tile's columns of op(B), at its place in the tile's
    /// packed B: block p0 starts at p0 · paddedN, panels of kc × NR inside it.
    static func packTileB(
        _ blocking: GEMMBlocking, _ packB: BPacker, p0: Int, k: Int, n0: Int, tileN: Int, dst: UnsafeMutablePointer<Float>
    ) {
        let paddedN = (tileN + blocking.nr - 1) / blocking.nr * blocking.nr
        packB(p0, min(blocking.kc, k - p0), n0, tileN, blocking.nr, dst + p0 * paddedN)
    }

    /// One tile of C: the Goto loops around the micro-kernel, on a tile's packed B (all K).
    /// For each MC block of rows the K blocks run innermost, so that the MC×tile C block stays
    /// in L2 between K blocks instead of returning from L3 or DRAM (ic → pc → jr → ir).
    /// `kBlocks`: the range of K (whole KC blocks) this call runs; the rest of K is run by other calls.
    /// `nextStart`: where the tile's next call starts (its K offset and first column), whose first rows
    /// of A and first B panel the in-place path prefetches while this call ends. `mayStreamC`: C may be
    /// stored past the caches (`GEMMBlocking.streamsC`).
    static func gemmTile(
        _ kernel: GEMMMicroKernel, _ blocking: GEMMBlocking, m0: Int, tileM: Int, n0: Int, tileN: Int, m: Int, n: Int, k: Int,
        kBlocks: Range<Int>, alpha: Float,
        packedA: UnsafePointer<Float>, paddedM: Int, aRows: RowMajorSource? = nil, bPacked: UnsafePointer<Float>,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GEMMEpilogue,
        edge: UnsafeMutablePointer<Float>, source: SourceRowsPrefetch = SourceRowsPrefetch(), rowsB: RowMajorSource? = nil,
        nextStart: (p0: Int, col: Int)? = nil, mayStreamC: Bool = true
    ) {
        var source = source
        let mr = blocking.mr, nr = blocking.nr, kcBlock = blocking.kc, mcBlock = blocking.mc
        // C written once and too large to stay in L2 (or in cache at all, on deeper calls): full tiles stored
        // past the caches, fenced before the tile counts as finished (`GEMMBlocking.streamsC`).
        let streamC = mayStreamC && aRows == nil
            && GEMMBlocking.streamsC(kernel, blocking, m: m, n: n, k: k, beta: beta, c: c, ldc: ldc, bInPlace: rowsB != nil)
        defer { if streamC { tessera_store_fence() } }
        let paddedN = (tileN + nr - 1) / nr * nr
        let biasPointer = epilogue.bias?.baseAddress
        var p0 = 0
        var i0 = m0
        while i0 < m0 + tileM {
            let mc = min(mcBlock, m0 + tileM - i0)
            p0 = kBlocks.lowerBound
            while p0 < kBlocks.upperBound {
                let kc = min(kcBlock, k - p0)
                let isLast = p0 + kc == k
                let mode: KernelStoreMode = p0 > 0 ? .accumulate : (beta == 0 ? .overwrite : .scale(beta))
                let bBlock = bPacked + p0 * paddedN
                // The next A block (the next K block of these rows, else the next rows' first).
                let (np0, ni0) = p0 + kc < kBlocks.upperBound ? (p0 + kc, i0) : (kBlocks.lowerBound, i0 + mc)
                var prefetch = BlockPrefetch(
                    next: aRows == nil && ni0 < m0 + tileM && paddedM * k > BlockPrefetch.minimumPackedA
                        ? packedA + np0 * paddedM + ni0 * min(kcBlock, k - np0) : nil,
                    floats: (min(mcBlock, m0 + tileM - ni0) + mr - 1) / mr * mr * min(kcBlock, k - np0),
                    calls: tileN / nr * ((mc + mr - 1) / mr))
                // Both operands in place: the last full column panel's calls bring the rows of A, then the B panel,
                // of the next MC block's or K block's first call into L2. That call read both from L3: 8.4 µs
                // against 3.5 µs for most calls in VGG conv4_1 as a GEMM, 4.9 µs with this (1 thread; alternating
                // medians of 15, conv4_1 +1.4 %, conv4_2 +0.8 %, 256×784×1152 +0.2 %; 2 threads ±1 %).
                let lastFull = (tileN / nr - 1) * nr
                var ahead = (a: SourceRowsPrefetch(), b: SourceRowsPrefetch())
                if let rowsB, let aRows, lastFull > 0 {
                    let next = p0 + kc < kBlocks.upperBound ? (i0, p0 + kc, n0)
                        : i0 + mc < m0 + tileM ? (i0 + mc, kBlocks.lowerBound, n0) : nextStart.map { (m0, $0.p0, $0.col) }
                    if let (row, q0, col) = next, q0 < k {
                        let depth = min(kcBlock, k - q0), calls = (mc + mr - 1) / mr
                        ahead.a = SourceRowsPrefetch(aRows, rows: row..<min(m, row + mr), columns: q0..<(q0 + depth), calls: calls / 2)
                        ahead.b = SourceRowsPrefetch(rowsB, rows: q0..<(q0 + depth), columns: col..<min(n, col + nr),
                                                     calls: calls - calls / 2)
                    }
                }
                var j = 0
                while j < tileN {
                    let col = n0 + j, cols = min(nr, n - col)
                    // B in place: only the partial last panel is packed, all K of it, K block p0 at p0 · NR.
                    let bPanel = rowsB == nil ? bBlock + j * kc : bPacked + p0 * nr
                    if cols < nr {
                        // The partial last column panel accumulates over all K blocks in a scratch block
                        // and reaches C once, instead of a copy in and out per K block.
                        columnEdgeBlock(kernel, blocking, i0: i0, mc: mc, m: m, col: col, cols: cols, p0: p0, kc: kc, isLast: isLast,
                                        alpha: alpha, beta: beta, mode: mode, packedA: packedA, paddedM: paddedM, aRows: aRows,
                                        bPanel: bPanel, c: c, ldc: ldc, epilogue: epilogue,
                                        scratch: edge + (i0 - m0) / mcBlock % 2 * columnEdgeBlockCount(blocking))
                        j += nr
                        continue
                    }
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
                        prefetch.step()
                        if rows == mr && cols == nr && kc >= GEMMBlocking.minimumDepthForCPrefetch {
                            prefetchTile(c + row * ldc + col, ld: ldc, rows: mr, columns: nr)
                        }
                        if let rowsB {
                            // B in place: the first row panel of a column panel prefetches the next column panel.
                            let (code, betaValue) = mode.codeAndBeta
                            let b = rowsB.base + p0 * rowsB.ld + col, next = i == 0 && j + 2 * nr <= tileN
                            guard let aRows else {
                                // A packed: a whole row panel goes straight to C, an edge one through a scratch tile.
                                // (Through the A-row stream set-up and the scratch closure of the case below, a whole
                                // row panel cost ~40 cycles a call more. Zen 4, alternating in-process medians of 9–11,
                                // 1 / 2 threads: ResNet's 1×1 64→256 as a GEMM (256×3136×64) +3.9 / +3.0 %, 128×3136×128
                                // +1.4 / +1.8 %, 64×3136×256 +1.6 / +0.8 %, the other B-in-place shapes (K ≥ 147) 0 to +0.7 %.)
                                if rows == mr {
                                    rowsBKernel(rows: mr, kc: kc, a: aPanel, aRows: nil, b: b, ldb: rowsB.ld, c: c + row * ldc + col, ldc: ldc,
                                                alpha: alpha, mode: code, beta: betaValue, epilogue: e, prefetchingNext: next, streaming: streamC)
                                } else {
                                    onTileOrScratch(mr: mr, nr: nr, c: c + row * ldc + col, ldc: ldc, rows: rows, mode: mode, epilogue: e,
                                                    scratch: edge) { c, ldc, e in
                                        rowsBKernel(rows: rows, kc: kc, a: aPanel, aRows: nil, b: b, ldb: rowsB.ld, c: c, ldc: ldc, alpha: alpha,
                                                    mode: code, beta: betaValue, epilogue: e, prefetchingNext: next)
                                    }
                                }
                                i += mr
                                continue
                            }
                            // A in place too (C never streamed there): on the first column panel, the others prefetch
                            // the next row panel's rows of A.
                            let nextRows = min(mr, m0 + tileM - row - mr), lines = (kc * 4 + 63) / 64 + 1
                            var stream: (base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int)? =
                                j == 0 && i > 0 && nextRows > 0
                                ? (UnsafeRawPointer(aRows.base + (row + mr) * aRows.ld + p0), aRows.ld * 4, lines, 0, 0, nextRows * lines) : nil
                            if j == lastFull && j > 0 {
                                stream = ahead.a.isActive ? ahead.a.kernelSlice(kc: kc) : ahead.b.isActive ? ahead.b.kernelSlice(kc: kc) : nil
                            }
                            onTileOrScratch(mr: mr, nr: nr, c: c + row * ldc + col, ldc: ldc, rows: rows, mode: mode, epilogue: e,
                                            scratch: edge) { c, ldc, e in
                                rowsBKernel(rows: rows, kc: kc, a: aPanel, aRows: (aRows.base + row * aRows.ld + p0, aRows.ld),
                                            b: b, ldb: rowsB.ld, c: c, ldc: ldc, alpha: alpha, mode: code, beta: betaValue, epilogue: e,
                                            prefetchingNext: next, stream: stream)
                            }
                            i += mr
                            continue
                        }
                        if let aRows {
                            let (code, betaValue) = mode.codeAndBeta
                            let s = source.isActive && rows == mr ? source.kernelSlice(kc: kc) : nil
                            if s == nil { source.step() }
                            let a = aRows.base + row * aRows.ld + p0
                            onTileOrScratch(mr: mr, nr: nr, c: c + row * ldc + col, ldc: ldc, rows: rows, mode: mode, epilogue: e,
                                            scratch: edge) { c, ldc, e in
                                rowsAKernel(rows: rows, kc: kc, a: a, lda: aRows.ld, b: bPanel, c: c, ldc: ldc, alpha: alpha, mode: code,
                                            beta: betaValue, epilogue: e, stream: s)
                            }
                            i += mr
                            continue
                        }
                        #if TESSERA_AVX512
                        // The AVX-512 kernel takes the source rows' slice as a stream, a line a step.
                        if kernel == .avx512_8x32 && mr == 8 && rows == mr && cols == nr && source.isActive {
                            let (code, betaValue) = mode.codeAndBeta
                            let s = source.kernelSlice(kc: kc)
                            sgemmKernel8x32AVX512PrefetchingRows(
                                kc: kc, a: aPanel, b: bPanel, c: c + row * ldc + col, ldc: ldc, alpha: alpha, mode: code, beta: betaValue,
                                epilogue: e != nil, rowBias: e?.rowBias, columnBias: e?.columnBias, relu: e?.relu ?? false,
                                base: s.base, stride: s.stride, linesPerRow: s.linesPerRow, row: s.row, line: s.line, count: s.count)
                            i += mr
                            continue
                        }
                        #endif
                        source.step()
                        if rows == mr && cols == nr {
                            runMicroKernel(kernel, panelRows: mr, kc: kc, a: aPanel, b: bPanel, c: c + row * ldc + col, ldc: ldc,
                                           alpha: alpha, mode: mode, epilogue: e, streaming: streamC)
                        } else {
                            edgeTile(kernel, blocking, kc: kc, a: aPanel, b: bPanel, c: c + row * ldc + col, ldc: ldc, rows: rows,
                                     cols: cols, alpha: alpha, mode: mode, epilogue: e, scratch: edge)
                        }
                        i += mr
                    }
                    j += nr
                }
                p0 += kc
            }
            i0 += mc
        }
    }

    /// The scratch one worker needs for edges: one MR×NR tile with its biases, and two MC×NR column
    /// blocks with theirs. A tile whose K blocks run outermost (`SourceRowsPrefetch.minimumTallSource`)
    /// keeps both of its MC blocks' column edges in flight; MC block i uses block i mod 2.
    static func edgeScratchCount(_ b: GEMMBlocking) -> Int { b.mr * b.nr + b.mr + b.nr + 2 * columnEdgeBlockCount(b) }

    /// One MC×NR column block with its row and column biases.
    static func columnEdgeBlockCount(_ b: GEMMBlocking) -> Int { b.mc * b.nr + b.mr + b.nr }

    /// One K block of the partial last column panel (cols < NR) of an MC block of rows, computed in an
    /// MC×NR scratch block that stays in L1/L2 across the K blocks: C is read into it before the
    /// first block (when β ≠ 0) and written back after the last. The kernel's arithmetic is the one
    /// it does on C directly, so values do not depend on the path.
    static func columnEdgeBlock(
        _ kernel: GEMMMicroKernel, _ b: GEMMBlocking, i0: Int, mc: Int, m: Int, col: Int, cols: Int, p0: Int, kc: Int, isLast: Bool,
        alpha: Float, beta: Float, mode: KernelStoreMode, packedA: UnsafePointer<Float>, paddedM: Int, aRows: RowMajorSource?,
        bPanel: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GEMMEpilogue,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let mr = b.mr, nr = b.nr
        let block = scratch + mr * nr + mr + nr
        let rowBias = block + b.mc * nr, colBias = rowBias + mr
        let validRows = min(mc, m - i0)
        #if TESSERA_AVX512
        if kernel == .avx512_8x32 && mr == 8 && cols <= 8 && aRows == nil {
            columnEdgeBlockByColumns(b, i0: i0, mc: mc, validRows: validRows, col: col, cols: cols, p0: p0, kc: kc,
                                     isLast: isLast, alpha: alpha, beta: beta, mode: mode, packedA: packedA, paddedM: paddedM,
                                     bPanel: bPanel, c: c, ldc: ldc, epilogue: epilogue, block: block)
            return
        }
        #endif
        if p0 == 0 && beta != 0 {
            block.update(repeating: 0, count: b.mc * nr)
            for r in 0..<validRows { (block + r * nr).update(from: c + (i0 + r) * ldc + col, count: cols) }
        }
        let bias = epilogue.bias?.baseAddress
        if isLast, let bias, epilogue.biasAxis == .column {
            colBias.update(repeating: 0, count: nr)
            colBias.update(from: bias + col, count: cols)
        }
        var i = 0
        while i < mc {
            let row = i0 + i, rows = min(mr, m - row)
            var e: KernelEpilogue? = nil
            if isLast && !epilogue.isNone {
                e = KernelEpilogue(relu: epilogue.relu)
                if let bias, epilogue.biasAxis == .row {
                    if rows == mr {
                        e!.rowBias = bias + row
                    } else {
                        rowBias.update(repeating: 0, count: mr)
                        rowBias.update(from: bias + row, count: rows)
                        e!.rowBias = UnsafePointer(rowBias)
                    }
                }
                if bias != nil, epilogue.biasAxis == .column { e!.columnBias = UnsafePointer(colBias) }
            }
            if let aRows {
                let (code, betaValue) = mode.codeAndBeta
                rowsAKernel(rows: rows, kc: kc, a: aRows.base + row * aRows.ld + p0, lda: aRows.ld, b: bPanel, c: block + i * nr, ldc: nr,
                            alpha: alpha, mode: code, beta: betaValue, epilogue: e, stream: nil, halfWidth: 2 * cols <= nr)
            } else {
                runMicroKernel(kernel, panelRows: mr, rows: rows, columns: cols, kc: kc, a: packedA + p0 * paddedM + row * kc, b: bPanel,
                               c: block + i * nr, ldc: nr, alpha: alpha, mode: mode, epilogue: e)
            }
            i += mr
        }
        if isLast {
            for r in 0..<validRows { (c + (i0 + r) * ldc + col).update(from: block + r * nr, count: cols) }
        }
    }

    #if TESSERA_AVX512
    /// `columnEdgeBlock` for a last panel of at most 8 columns on the AVX-512 kernel: the block is kept
    /// column-major (column j of the MC rows at `block + j · mc`), and `sgemmKernelColumnEdge16x8AVX512`
    /// computes 16 rows at a time as column vectors, with the 8×32 kernel's arithmetic per element.
    /// The block's room (MC × NR floats) holds the 8 columns, a 16-value row bias and 8 column biases.
    static func columnEdgeBlockByColumns(
        _ b: GEMMBlocking, i0: Int, mc: Int, validRows: Int, col: Int, cols: Int, p0: Int, kc: Int, isLast: Bool,
        alpha: Float, beta: Float, mode: KernelStoreMode, packedA: UnsafePointer<Float>, paddedM: Int,
        bPanel: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GEMMEpilogue,
        block: UnsafeMutablePointer<Float>
    ) {
        let stride = b.mc
        let rowBias = block + 8 * stride, colBias = rowBias + 16
        if p0 == 0 && beta != 0 {
            block.update(repeating: 0, count: 8 * stride)
            for j in 0..<cols { for r in 0..<validRows { block[j * stride + r] = c[(i0 + r) * ldc + col + j] } }
        }
        let bias = epilogue.bias?.baseAddress
        if isLast, let bias, epilogue.biasAxis == .column {
            colBias.update(repeating: 0, count: 8)
            colBias.update(from: bias + col, count: cols)
        }
        let (code, betaValue) = mode.codeAndBeta
        var i = 0
        while i < mc {
            let rows = min(16, mc - i), valid = min(rows, validRows - i)
            var rb: UnsafePointer<Float>? = nil
            if isLast, let bias, epilogue.biasAxis == .row {
                if valid == rows && rows == 16 {
                    rb = bias + i0 + i
                } else {
                    rowBias.update(repeating: 0, count: 16)
                    rowBias.update(from: bias + i0 + i, count: valid)
                    rb = UnsafePointer(rowBias)
                }
            }
            let enabled = isLast && !epilogue.isNone
            sgemmKernelColumnEdge16x8AVX512(
                kc: kc, a: packedA + p0 * paddedM + (i0 + i) * kc, panels: (rows + 7) / 8, b: bPanel, bStride: b.nr, columns: cols,
                c: block + i, columnStride: stride, alpha: alpha, mode: code, beta: betaValue, epilogue: enabled,
                rowBias: enabled ? rb : nil, columnBias: enabled && bias != nil && epilogue.biasAxis == .column ? UnsafePointer(colBias) : nil,
                relu: enabled && epilogue.relu)
            i += 16
        }
        if isLast {
            for r in 0..<validRows { for j in 0..<cols { c[(i0 + r) * ldc + col + j] = block[j * stride + r] } }
        }
    }
    #endif

    /// A partial tile at the edge of C: the same micro-kernel, run on an MR×NR scratch tile that
    /// holds the valid part of C (and of the bias), then copied back. The arithmetic is the full
    /// tile's, so an element's value does not depend on whether it sat in an edge tile.
    static func edgeTile(
        _ kernel: GEMMMicroKernel, _ blocking: GEMMBlocking, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        rows: Int, cols: Int, alpha: Float, mode: KernelStoreMode, epilogue: KernelEpilogue?,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let nr = blocking.nr
        onScratchTile(mr: blocking.mr, nr: nr, c: c, ldc: ldc, rows: rows, cols: cols, mode: mode,
                      epilogue: epilogue, scratch: scratch) { tile, e in
            runMicroKernel(kernel, panelRows: blocking.mr, rows: rows, kc: kc, a: a, b: b, c: tile, ldc: nr, alpha: alpha, mode: mode, epilogue: e)
        }
    }

    /// Runs `kernel(c, ldc, epilogue)` on a full-width tile of C: in place when it has all MR rows, else on
    /// a scratch tile (`onScratchTile`), which the kernel fills whole.
    @inline(__always)
    static func onTileOrScratch(
        mr: Int, nr: Int, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, mode: KernelStoreMode,
        epilogue: KernelEpilogue?, scratch: UnsafeMutablePointer<Float>,
        _ kernel: (_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: KernelEpilogue?) -> Void
    ) {
        if rows == mr { kernel(c, ldc, epilogue); return }
        onScratchTile(mr: mr, nr: nr, c: c, ldc: ldc, rows: rows, cols: nr, mode: mode, epilogue: epilogue, scratch: scratch) {
            kernel($0, nr, $1)
        }
    }

    /// Runs `kernel(tile, epilogue)` for the valid `rows × cols` part of an MR×NR tile of C on a
    /// scratch tile (ldc NR, `edgeScratchCount`-sized `scratch`): C's valid part is copied in unless
    /// `mode` overwrites, the biases are copied and zero-padded to the full tile (the kernel reads all
    /// MR and NR of them), and the valid part goes back to C afterwards.
    @inline(__always)
    static func onScratchTile(
        mr: Int, nr: Int, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, mode: KernelStoreMode,
        epilogue: KernelEpilogue?, scratch: UnsafeMutablePointer<Float>,
        _ kernel: (_ tile: UnsafeMutablePointer<Float>, _ epilogue: KernelEpilogue?) -> Void
    ) {
        let tile = scratch, rowBias = scratch + mr * nr, colBias = scratch + mr * nr + mr
        tile.update(repeating: 0, count: mr * nr)
        if case .overwrite = mode {} else {
            for r in 0..<rows { (tile + r * nr).update(from: c + r * ldc, count: cols) }
        }
        var e = epilogue
        if let rb = epilogue?.rowBias {
            rowBias.update(repeating: 0, count: mr)
            rowBias.update(from: rb, count: rows)
            e!.rowBias = UnsafePointer(rowBias)
        }
        if let cb = epilogue?.columnBias {
            colBias.update(repeating: 0, count: nr)
            colBias.update(from: cb, count: cols)
            e!.columnBias = UnsafePointer(colBias)
        }
        kernel(tile, e)
        for r in 0..<rows { (c + r * ldc).update(from: tile + r * nr, count: cols) }
    }

    /// Calls the chosen micro-kernel on one full MR×NR tile. `panelRows`: the MR that A was packed
    /// with, where it is not the kernel's own (7 for `GEMMMicroKernel.transposedBlocking`). `streaming`:
    /// the 8×32 AVX-512 kernel overwrites C past the caches (`GEMMBlocking.streamsC`; mode `.overwrite`).
    @inline(__always)
    static func runMicroKernel(
        _ kernel: GEMMMicroKernel, panelRows: Int? = nil, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: KernelStoreMode, epilogue: KernelEpilogue?,
        streaming: Bool = false
    ) {
        switch kernel {
        case .simd8_6x16:
            sgemmKernel6x16(kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, mode: mode, epilogue: epilogue)
        case .avx512_8x32:
            #if TESSERA_AVX512
            let (code, beta) = mode.codeAndBeta
            if panelRows == 7 {
                sgemmKernel7x32AVX512(kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, mode: code, beta: beta,
                                      epilogue: epilogue != nil, rowBias: epilogue?.rowBias,
                                      columnBias: epilogue?.columnBias, relu: epilogue?.relu ?? false)
                return
            }
            if streaming {
                sgemmKernel8x32AVX512StreamingC(kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, epilogue: epilogue != nil,
                                                rowBias: epilogue?.rowBias, columnBias: epilogue?.columnBias, relu: epilogue?.relu ?? false)
                return
            }
            sgemmKernel8x32AVX512(kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, mode: code, beta: beta,
                                  epilogue: epilogue != nil, rowBias: epilogue?.rowBias,
                                  columnBias: epilogue?.columnBias, relu: epilogue?.relu ?? false)
            #else
            preconditionFailure("AVX-512 kernels are not in this build")
            #endif
        }
    }
}

extension GEMM {
    /// The 8×32 AVX-512 kernel on A's rows in place (`sgemmKernel8x32AVX512RowsA`), with the slice of a
    /// source-rows prefetch stream where one is given; with `halfWidth`, the 8×16 one
    /// (`sgemmKernel8x16AVX512RowsA`) on the first 16 columns of the 32-wide B panel.
    @inline(__always)
    static func rowsAKernel(
        rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float, mode: Int, beta: Float, epilogue e: KernelEpilogue?,
        stream s: (base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int)?, halfWidth: Bool = false
    ) {
        #if TESSERA_AVX512
        if halfWidth {
            sgemmKernel8x16AVX512RowsA(
                rows: rows, kc: kc, a: a, lda: lda, b: b, bStride: 32, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: e != nil, rowBias: e?.rowBias, columnBias: e?.columnBias, relu: e?.relu ?? false)
        } else if let s {
            sgemmKernel8x32AVX512RowsAPrefetchingRows(
                rows: rows, kc: kc, a: a, lda: lda, b: b, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: e != nil, rowBias: e?.rowBias, columnBias: e?.columnBias, relu: e?.relu ?? false,
                base: s.base, stride: s.stride, linesPerRow: s.linesPerRow, row: s.row, line: s.line, count: s.count)
        } else {
            sgemmKernel8x32AVX512RowsA(
                rows: rows, kc: kc, a: a, lda: lda, b: b, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: e != nil, rowBias: e?.rowBias, columnBias: e?.columnBias, relu: e?.relu ?? false)
        }
        #else
        preconditionFailure("A in place needs the AVX-512 kernels")
        #endif
    }

    /// The 8×32 AVX-512 kernel on B's rows in place, prefetching the next column panel or not: on a packed
    /// A panel (`sgemmKernel8x32AVX512RowsB`), or with `aRows` (its tile's first row, `lda`) on A's rows in
    /// place too (`sgemmKernel8x32AVX512RowsARowsB`; `rows` of them valid), there with a prefetch stream of
    /// rows (`…PrefetchingRows`) where `stream` is given and the next panel is not prefetched. `streaming`: on a
    /// packed A panel, a call that does not prefetch the next panel stores its full tile of C past the caches
    /// (`sgemmKernel8x32AVX512RowsBStreamingC`; mode 0, `GEMMBlocking.streamsC`).
    @inline(__always)
    static func rowsBKernel(
        rows: Int, kc: Int, a: UnsafePointer<Float>, aRows: (UnsafePointer<Float>, lda: Int)?, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float, epilogue e: KernelEpilogue?, prefetchingNext: Bool,
        stream s: (base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int)? = nil, streaming: Bool = false
    ) {
        #if TESSERA_AVX512
        let bias = (epilogue: e != nil, row: e?.rowBias, column: e?.columnBias, relu: e?.relu ?? false)
        if let (a, lda) = aRows, let s, !prefetchingNext {
            sgemmKernel8x32AVX512RowsARowsBPrefetchingRows(
                rows: rows, kc: kc, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: bias.epilogue, rowBias: bias.row, columnBias: bias.column, relu: bias.relu,
                base: s.base, stride: s.stride, linesPerRow: s.linesPerRow, row: s.row, line: s.line, count: s.count)
            return
        }
        switch (aRows, prefetchingNext) {
        case let ((a, lda)?, true):
            sgemmKernel8x32AVX512RowsARowsBPrefetchingNextPanel(
                rows: rows, kc: kc, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: bias.epilogue, rowBias: bias.row, columnBias: bias.column, relu: bias.relu)
        case let ((a, lda)?, false):
            sgemmKernel8x32AVX512RowsARowsB(
                rows: rows, kc: kc, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: bias.epilogue, rowBias: bias.row, columnBias: bias.column, relu: bias.relu)
        case (nil, true):
            sgemmKernel8x32AVX512RowsBPrefetchingNextPanel(
                kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: bias.epilogue, rowBias: bias.row, columnBias: bias.column, relu: bias.relu)
        case (nil, false) where streaming:
            sgemmKernel8x32AVX512RowsBStreamingC(
                kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha,
                epilogue: bias.epilogue, rowBias: bias.row, columnBias: bias.column, relu: bias.relu)
        case (nil, false):
            sgemmKernel8x32AVX512RowsB(
                kc: kc, a: a, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
                epilogue: bias.epilogue, rowBias: bias.row, columnBias: bias.column, relu: bias.relu)
        }
        #else
        preconditionFailure("B in place needs the AVX-512 kernels")
        #endif
    }

    /// The micro-kernel on a scratch tile whose first `rows` rows and `columns` columns matter (the
    /// rest may be left unwritten or written with anything): the half-width MR × NR/2 AVX-512 kernel
    /// when `columns` ≤ NR/2 (a last panel at most half used, B the first half of its NR-wide panel),
    /// the SIMD8 kernel's `rows` variant when `rows` < MR, else the full kernel (on 7-row panels, always
    /// the 7×32 one). All of them store through the same per-vector arithmetic, so an element's value
    /// does not depend on the choice.
    @inline(__always)
    static func runMicroKernel(
        _ kernel: GEMMMicroKernel, panelRows: Int? = nil, rows: Int, columns: Int? = nil, kc: Int, a: UnsafePointer<Float>,
        b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: KernelStoreMode,
        epilogue: KernelEpilogue?
    ) {
        #if TESSERA_AVX512
        if kernel == .avx512_8x32, panelRows != 7, let columns, columns <= kernel.blocking.nr / 2 {
            let (code, beta) = mode.codeAndBeta
            sgemmKernel8x16AVX512(kc: kc, a: a, b: b, bStride: kernel.blocking.nr, c: c, ldc: ldc, alpha: alpha, mode: code,
                                  beta: beta, epilogue: epilogue != nil, rowBias: epilogue?.rowBias,
                                  columnBias: epilogue?.columnBias, relu: epilogue?.relu ?? false)
            return
        }
        #endif
        if kernel == .simd8_6x16 && rows < kernel.blocking.mr {
            sgemmKernel6x16(rows: rows, kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, mode: mode, epilogue: epilogue)
            return
        }
        runMicroKernel(kernel, panelRows: panelRows, kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, mode: mode,
                       epilogue: epilogue)
    }

    /// Runs the 6×16 micro-kernel `calls` times on one L1-resident pair of panels of depth `kc`:
    /// the kernel's own ceiling, without packing or cache misses. Returns the flops done.
    public static func microKernelProbe(_ kernel: GEMMMicroKernel, calls: Int, kc: Int = 256) -> Double {
        let mr = kernel.blocking.mr, nr = kernel.blocking.nr
        let a = UnsafeMutablePointer<Float>.allocate(capacity: mr * kc)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: nr * kc)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: mr * nr)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        a.initialize(repeating: 0.001, count: mr * kc)
        b.initialize(repeating: 0.001, count: nr * kc)
        c.initialize(repeating: 0, count: mr * nr)
        for _ in 0..<calls { runMicroKernel(kernel, kc: kc, a: a, b: b, c: c, ldc: nr, alpha: 1, mode: .accumulate, epilogue: nil) }
        return Double(calls) * 2 * Double(mr * nr) * Double(kc)
    }
}

/// Brings a packed A block into L2 a slice per micro-kernel call while the block before it computes,
/// so that the block's first column panel does not stream it from DRAM. Only for a packed A over
/// 4 MiB (`minimumPackedA` floats), which the other column tiles have pushed out of L3 by then:
/// alternating calls on Zen 5, 2048³ +5–8 %, VGG conv4_2 as a GEMM +8 %, conv4_1 +2–3 %, conv5_1
/// +1–5 %; on 1024³ (A stays in L3) it cost 1–2 %, so it is off there. Prefetching the next B panel
/// the same way cost 2–6 % everywhere.
struct BlockPrefetch {
    static let minimumPackedA = 1 << 20
    private let next: UnsafePointer<Float>?, lines: Int, linesPerCall: Int
    private var done = 0

    /// `floats` from `next` (nil: nothing to prefetch), spread over `calls` micro-kernel calls.
    init(next: UnsafePointer<Float>?, floats: Int, calls: Int) {
        self.next = next
        lines = (floats + 15) / 16
        linesPerCall = (lines + max(1, calls) - 1) / max(1, calls)
    }

    /// Prefetches the next slice: call once before each micro-kernel call.
    @inline(__always)
    mutating func step() {
        guard let next, done < lines else { return }
        let end = min(lines, done + linesPerCall)
        while done < end { tessera_prefetch_l2(next + 16 * done); done += 1 }
    }
}

/// Brings `rows` × `columns` floats at `p`, rows `ld` apart, into L2: a tile of C ahead of the kernel call
/// that loads and stores it at its end, where an L3 miss per line would stall it
/// (`GEMMBlocking.minimumDepthForCPrefetch`).
@inline(__always)
func prefetchTile(_ p: UnsafePointer<Float>, ld: Int, rows: Int, columns: Int) {
    for r in 0..<rows {
        let row = p + r * ld
        var q = 0
        while q < columns { tessera_prefetch_l2(row + q); q += 16 }
        tessera_prefetch_l2(row + columns - 1)
    }
}

/// Where the rows of a row-major op(B) are (B itself, not transposed), for `SourceRowsPrefetch`.
struct RowMajorSource {
    let base: UnsafePointer<Float>, ld: Int
}

/// Brings a block of rows of a row-major op(B) into L2, a slice per micro-kernel call: the rows the
/// next chunk of B (`GEMMBlocking.prefetchedBChunkColumns`) will pack, while the current chunk
/// computes. The rows are `ld` apart, so the packing's own prefetch, a few rows ahead, waited on
/// DRAM for each short row segment: packing was a fifth of VGG conv1_2 as a GEMM (64×50176×576,
/// `perf record`, 1 thread), about 14 GB/s from a 115 MB B. Only for a B of at least
/// `minimumSource` floats (16 MiB), half this machine's L3: a B that stays in L3 streams fast enough. Zen 4,
/// alternating in-process medians of 15 rounds, three runs, 1 / 2 threads: 64×50176×576 +6 to +8 % /
/// +3 to +10 %, 128×12544×1152 +3 to +4 % / 0 to +2 %, 128×12544×576 −7 to +3 % / −6 to +2 %
/// (noise). On a B that stays in L3 it did not pay: 64×3136×576 (7 MiB) −4 to −10 % on 1 thread,
/// while the stem 64×12544×147 (7 MiB) gained 6 %, so smaller B keeps the plain chunks.
///
/// The AVX-512 kernel issues its slice itself, a line per step k (`sgemmKernel8x32AVX512PrefetchingRows`,
/// from `kernelSlice`): issued back to back before each call (`step`, 180 lines at 64×50176×576), the
/// prefetches waited for free miss buffers, 12 % of the GEMM's samples; spread over the kernel's steps,
/// 2 %. Zen 4, alternating in-process medians of 11 rounds, 1 / 2 threads: 64×50176×576 +6 / +7 %,
/// 128×12544×1152 +5 / +7 %, 128×12544×576 +4 / +5 %; smaller B (7 MiB and less) still gained nothing.
struct SourceRowsPrefetch {
    static let minimumSource = 1 << 22
    /// A tile of two MC blocks of rows (M = 256) on a B of at least this many floats (8 MiB) packs B a K
    /// block at a time in these prefetched chunks too, instead of all its K × columns first, each one
    /// read from DRAM (packB was 11 % of 256×3136×2304 on 1 thread). Each chunk then meets both blocks
    /// of A, which stream from L3. Zen 4, medians of 11 per-round ratios, two runs, 1 / 2 threads:
    /// 256×3136×2304 +4–6 / +3–5 %, 256×3136×1152 +4–5 / +3 %, 200×3136×1152 +7 / +3 %; with four blocks
    /// (512×3136×2304, A read four times a chunk) ±3 %, so two at most.
    static let minimumTallSource = 1 << 21
    private let base: UnsafePointer<Float>?, ld: Int, rows: Int, first: Int, width: Int, perCall: Int
    private var row = 0, line = 0, linesInRow = 0

    /// Nothing to prefetch.
    init() { base = nil; ld = 0; rows = 0; first = 0; width = 0; perCall = 0 }

    /// `rows` × `columns` of `source`, spread over `calls` micro-kernel calls.
    init(_ source: RowMajorSource, rows r: Range<Int>, columns: Range<Int>, calls: Int) {
        base = source.base + r.lowerBound * source.ld
        ld = source.ld; rows = r.count; first = columns.lowerBound; width = columns.count
        let linesPerRow = (width + 15) / 16 + 1
        perCall = (rows * linesPerRow + max(1, calls) - 1) / max(1, calls)
        linesInRow = SourceRowsPrefetch.lines(base! + first, width)
    }

    /// Cache lines that `count` floats from `p` touch.
    private static func lines(_ p: UnsafePointer<Float>, _ count: Int) -> Int {
        let offset = Int(bitPattern: p) & 63
        return (offset + 4 * count + 63) / 64
    }

    /// Whether there are lines left to prefetch.
    var isActive: Bool { base != nil && row < rows }

    /// The next slice as a stream for `sgemmKernel8x32AVX512PrefetchingRows` (at most `kc` lines, one a
    /// step), which it then counts as done. Each row takes the lines from its first float's, one more
    /// than its width needs when the row is not line-aligned.
    mutating func kernelSlice(kc: Int) -> (base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int) {
        let perRow = (width + 15) / 16 + 1
        let at = (row: row, line: min(line, perRow - 1))
        let count = min(perCall, kc, (rows - row) * perRow - at.line)
        let end = at.row * perRow + at.line + count
        row = end / perRow; line = end % perRow
        return (UnsafeRawPointer(base! + first), 4 * ld, perRow, at.row, at.line, count)
    }

    /// Prefetches the next slice: call once before each micro-kernel call.
    @inline(__always)
    mutating func step() {
        guard let base, row < rows else { return }
        var left = perCall
        while left > 0 && row < rows {
            let start = UnsafeRawPointer(base + row * ld + first)
            tessera_prefetch_l2(start + 64 * line - (Int(bitPattern: start) & 63))
            line += 1; left -= 1
            if line == linesInRow {
                line = 0; row += 1
                if row < rows { linesInRow = SourceRowsPrefetch.lines(base + row * ld + first, width) }
            }
        }
    }
}
