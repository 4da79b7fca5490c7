// AVX-512 micro-kernels. This module alone is compiled for skylake-avx512 (x86-64-v4: AVX-512
// F/CD/BW/DQ/VL); `Kernels` calls into it only after checking at run time that the CPU has those
// features, so the package still runs on AVX2-only CPUs (README "Code generation").
// SIMD16<Float> is one zmm register. Entry points take only plain values and pointers, so that
// no type crosses between modules compiled for different CPUs.
import CPUHints

/// C[0..<8, 0..<32] ⊕= α·A·B over `kc` steps, 16 zmm accumulators.
///
/// `a`: an 8-row panel packed k-major (8 floats per step); `b`: a 32-column panel packed k-major
/// (32 floats per step), both zero-padded. `mode`: 0 → C = α·acc (C not read), 1 → C = α·acc + β·C,
/// 2 → C = α·acc + C. With `epilogue`, the row bias (8 values) or column bias (32 values) is added and
/// then ReLU applied (NaN passes).
@inline(never)
public func sgemmKernel8x32AVX512(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { b + 32 * $0 }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// `sgemmKernel8x32AVX512` with mode 0 (C = α·acc, then the epilogue), C stored past the caches
/// (`vmovntps`): C's rows must be 64-byte aligned, and the caller fences (`tessera_store_fence`) before
/// another thread reads C. An entry of its own, so that the other kernels' stores stay as they were
/// (a store-mode branch in the shared store path cost ResNet's 1×1 64→256 as a GEMM 3 % on 1 thread).
@inline(never)
public func sgemmKernel8x32AVX512StreamingC(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { b + 32 * $0 }, c: c, ldc: ldc, alpha: alpha, mode: 0, beta: 0,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu, streamsC: true))
}

/// `sgemmKernel8x32AVX512` that also prefetches into L2, one cache line per step k in its first `count`
/// steps, from a block of rows: `linesPerRow` lines from each row's start, rows `stride` bytes apart,
/// starting at row `row`, line `line` of the block at `base`. Spread over the steps, the prefetches
/// overlap the FMAs; issued back to back before the call, they waited for free miss buffers.
@inline(never)
public func sgemmKernel8x32AVX512PrefetchingRows(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool,
    base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int
) {
    var stream = LineStream(base: base, stride: stride, linesPerRow: linesPerRow, row: row, line: line, count: min(count, kc))
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { k in stream.step(); return b + 32 &* k },
               c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The L2 prefetch stream of `sgemmKernel8x32AVX512PrefetchingRows`: a line per `step()`, `count` in all.
private struct LineStream {
    var next: UnsafeRawPointer, lineInRow: Int, left: Int
    let stride: Int, linesPerRow: Int

    @inline(__always)
    init(base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int) {
        next = base + row &* stride; lineInRow = line; left = count
        self.stride = stride; self.linesPerRow = linesPerRow
    }

    @inline(__always)
    mutating func step() {
        guard left > 0 else { return }
        tessera_prefetch_l2(next + 64 &* lineInRow)
        lineInRow &+= 1
        if lineInRow == linesPerRow { lineInRow = 0; next += stride }
        left &-= 1
    }
}

/// `sgemmKernel8x32AVX512` with B read in place: step k loads the 32 floats at `b + k·ldb` (a row-major
/// B, never packed). The rows are `ldb` apart, so the panel a tile reuses stays in L1/L2 only while its
/// row panels of A pass; the first of them prefetches the next panel (`...PrefetchingNextPanel`).
/// Same A panel, store modes and epilogue, and the same arithmetic per element as the packed kernel.
@inline(never)
public func sgemmKernel8x32AVX512RowsB(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { b + ldb &* $0 }, c: c, ldc: ldc, alpha: alpha, mode: mode,
               beta: beta, e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// `sgemmKernel8x32AVX512RowsB` with mode 0, C stored past the caches, as `sgemmKernel8x32AVX512StreamingC`.
@inline(never)
public func sgemmKernel8x32AVX512RowsBStreamingC(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { b + ldb &* $0 }, c: c, ldc: ldc, alpha: alpha, mode: 0,
               beta: 0, e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu, streamsC: true))
}

/// `sgemmKernel8x32AVX512RowsB` that also brings the next 32 columns of each of its rows of B into L2
/// (two lines a step), for the calls on the next column panel.
@inline(never)
public func sgemmKernel8x32AVX512RowsBPrefetchingNextPanel(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { rowOfBPrefetchingNextPanel(b, ldb, $0) }, c: c, ldc: ldc,
               alpha: alpha, mode: mode, beta: beta, e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// Step k's 32 floats of an in-place B, `b + k·ldb`, after an L2 prefetch of the 32 floats that follow
/// them (the next column panel's row k).
@inline(__always)
private func rowOfBPrefetchingNextPanel(_ b: UnsafePointer<Float>, _ ldb: Int, _ k: Int) -> UnsafePointer<Float> {
    let p = b + ldb &* k
    tessera_prefetch_l2(p + 32)
    tessera_prefetch_l2(p + 48)
    return p
}

/// `sgemmKernel8x32AVX512` with A read in place: row r of the tile starts at `a + min(r, rows − 1)·lda`,
/// k contiguous (a row-major A, never packed), and is broadcast a float at a time. Rows past `rows`
/// (1…8) read the last valid row again and are meaningless: an edge tile runs on scratch. Same B
/// panel, store modes and epilogue, and the same arithmetic per element as the packed kernel.
@inline(never)
public func sgemmKernel8x32AVX512RowsA(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    let x = EightRows(a, rows: rows, stride: lda)
    kernel8x32(kc: kc, a: { k, r in x[r, k] }, bStep: { b + 32 &* $0 }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// `sgemmKernel8x32AVX512RowsA` with the L2 prefetch stream of `sgemmKernel8x32AVX512PrefetchingRows`.
@inline(never)
public func sgemmKernel8x32AVX512RowsAPrefetchingRows(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool,
    base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int
) {
    let x = EightRows(a, rows: rows, stride: lda)
    var stream = LineStream(base: base, stride: stride, linesPerRow: linesPerRow, row: row, line: line, count: min(count, kc))
    kernel8x32(kc: kc, a: { k, r in x[r, k] }, bStep: { k in stream.step(); return b + 32 &* k },
               c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The 8×32 kernel with both operands in place: A's rows as in `sgemmKernel8x32AVX512RowsA` (row r at
/// `a + min(r, rows − 1)·lda`), B's as in `sgemmKernel8x32AVX512RowsB` (step k at `b + k·ldb`). Nothing is
/// packed but a partial last panel of B. Same store modes and epilogue, and the same arithmetic per element.
@inline(never)
public func sgemmKernel8x32AVX512RowsARowsB(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>,
    ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    let x = EightRows(a, rows: rows, stride: lda)
    kernel8x32(kc: kc, a: { k, r in x[r, k] }, bStep: { b + ldb &* $0 }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// `sgemmKernel8x32AVX512RowsARowsB` with the L2 prefetch stream of `sgemmKernel8x32AVX512PrefetchingRows`:
/// for the next row panel's rows of A while an MC block's first column panel computes (its own rows come
/// from L3 or DRAM there, so those calls ran at 78 % of the FMA peak against 93 % for the others).
@inline(never)
public func sgemmKernel8x32AVX512RowsARowsBPrefetchingRows(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>,
    ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool,
    base: UnsafeRawPointer, stride: Int, linesPerRow: Int, row: Int, line: Int, count: Int
) {
    let x = EightRows(a, rows: rows, stride: lda)
    var stream = LineStream(base: base, stride: stride, linesPerRow: linesPerRow, row: row, line: line, count: min(count, kc))
    kernel8x32(kc: kc, a: { k, r in x[r, k] }, bStep: { k in stream.step(); return b + ldb &* k }, c: c, ldc: ldc,
               alpha: alpha, mode: mode, beta: beta, e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// `sgemmKernel8x32AVX512RowsARowsB` that also brings the next 32 columns of each of its rows of B into
/// L2, as `sgemmKernel8x32AVX512RowsBPrefetchingNextPanel` does.
@inline(never)
public func sgemmKernel8x32AVX512RowsARowsBPrefetchingNextPanel(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>,
    ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    let x = EightRows(a, rows: rows, stride: lda)
    kernel8x32(kc: kc, a: { k, r in x[r, k] }, bStep: { rowOfBPrefetchingNextPanel(b, ldb, $0) }, c: c, ldc: ldc,
               alpha: alpha, mode: mode, beta: beta, e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// C[0..<7, 0..<32] ⊕= α·A·B: the 7×32 tile (14 accumulators) on a 7-row A panel (7 floats per
/// step), for a transposed GEMM whose short side is a multiple of 7 but not of 8 (ResNet's 49
/// pixels; `GEMMMicroKernel.transposedBlocking`), where 8-row panels would compute one row in eight
/// on padding. Same B, store modes and epilogue
/// as `sgemmKernel8x32AVX512` (row bias: 7 values), the same arithmetic per element.
@inline(never)
public func sgemmKernel7x32AVX512(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x32(rows: 7, kc: kc, a: { k, row in a[7 &* k &+ row] }, bStep: { b + 32 * $0 }, c: c, ldc: ldc, alpha: alpha,
               mode: mode, beta: beta, e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The 8×32 kernel with B read straight from an image instead of a packed panel (indirect GEMM for
/// direct convolution): step k loads 32 floats at `b + offsets[k]`, the k-th tap (channel, kernel
/// row, kernel column) of 32 consecutive output pixels in a padded input. Same store modes as
/// `sgemmKernel8x32AVX512`. With `prefetchDistance` d > 0, step k also prefetches the first and last
/// line of step k + d's 32 floats (not in the last d steps): the taps walk channel planes and rows,
/// a pattern the hardware prefetchers do not follow.
@inline(never)
public func sgemmKernel8x32AVX512Indirect(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool,
    prefetchDistance: Int = 0
) {
    kernel8x32(kc: kc, a: { k, row in a[8 &* k &+ row] }, bStep: { k in
        if prefetchDistance > 0 && k &+ prefetchDistance < kc {
            let ahead = b + Int(offsets[k &+ prefetchDistance])
            tessera_prefetch_read(ahead)
            tessera_prefetch_read(ahead + 31)
        }
        return b + Int(offsets[k])
    }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The 8×32 kernel for a direct convolution computed transposed, Yᵀ = im2col(X)ᵀ·Wᵀ: row r of the
/// tile is output pixel r, column j output channel j. Step k broadcasts pixel r's k-th tap (channel,
/// kernel row, kernel column) straight from a padded image, `image[pixels[r] + offsets[k]]`, so the
/// 8 pixels may lie anywhere (across a row's end, strided); `b` is a 32-channel panel of Wᵀ packed
/// k-major (32 floats per step). Stores as `sgemmKernel8x32AVX512` with α = 1 (mode 0 or 2; the
/// column bias is per channel). With `prefetchDistance` d > 0, step k prefetches step k + d's line
/// of the first and the last pixel (not in the last d steps): the taps walk channel planes.
/// `rows` 7 gives the 7×32 tile (14 accumulators, `pixels[0..<7]`, rows 0–6 of C), for planes of 49
/// or 196 pixels: the same arithmetic per element.
@inline(never)
public func sgemmKernel8x32AVX512BroadcastImage(
    rows: Int = 8, kc: Int, image: UnsafePointer<Float>, pixels: UnsafePointer<Int32>, offsets: UnsafePointer<Int32>,
    b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int,
    epilogue: Bool, columnBias: UnsafePointer<Float>?, relu: Bool, prefetchDistance: Int = 0
) {
    // Each branch inlines the body with its row count constant.
    if rows == 7 {
        broadcastImageKernel(rows: 7, kc: kc, image: image, pixels: pixels, offsets: offsets, b: b, c: c, ldc: ldc, mode: mode,
                             epilogue: epilogue, columnBias: columnBias, relu: relu, prefetchDistance: prefetchDistance)
    } else {
        broadcastImageKernel(rows: 8, kc: kc, image: image, pixels: pixels, offsets: offsets, b: b, c: c, ldc: ldc, mode: mode,
                             epilogue: epilogue, columnBias: columnBias, relu: relu, prefetchDistance: prefetchDistance)
    }
}

@inline(__always)
private func broadcastImageKernel(
    rows: Int, kc: Int, image: UnsafePointer<Float>, pixels: UnsafePointer<Int32>, offsets: UnsafePointer<Int32>,
    b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int,
    epilogue: Bool, columnBias: UnsafePointer<Float>?, relu: Bool, prefetchDistance: Int
) {
    let x = EightRows(image, pixels: pixels, rows: rows)
    kernel8x32(rows: rows, kc: kc, a: { k, r in x[r, Int(offsets[k])] }, bStep: { k in
        if prefetchDistance > 0 && k &+ prefetchDistance < kc {
            let o = Int(offsets[k &+ prefetchDistance])
            tessera_prefetch_read(x.first + o)
            tessera_prefetch_read(x.last + o)
        }
        return b + 32 &* k
    }, c: c, ldc: ldc, alpha: 1, mode: mode, beta: 0,
               e: Epilogue16(enabled: epilogue, rowBias: nil, columnBias: columnBias, relu: relu))
}

/// The 8 rows a broadcast kernel reads A from, each contiguous: `self[r, i]` is element i of row r.
private struct EightRows {
    let x0, x1, x2, x3, x4, x5, x6, x7: UnsafePointer<Float>
    /// The last row in use (row 6 of a 7-row tile).
    let last: UnsafePointer<Float>
    var first: UnsafePointer<Float> { x0 }

    /// Rows `stride` apart from `base`; rows past `rows` repeat the last one (valid memory).
    @inline(__always)
    init(_ base: UnsafePointer<Float>, rows: Int, stride: Int) {
        @inline(__always) func at(_ r: Int) -> UnsafePointer<Float> { base + (r < rows ? r : rows - 1) &* stride }
        x0 = at(0); x1 = at(1); x2 = at(2); x3 = at(3); x4 = at(4); x5 = at(5); x6 = at(6); x7 = at(7)
        last = at(7)
    }

    /// Pixels of an image (`pixels[r]` floats from `image`), 7 or 8 of them.
    @inline(__always)
    init(_ image: UnsafePointer<Float>, pixels: UnsafePointer<Int32>, rows: Int) {
        x0 = image + Int(pixels[0]); x1 = image + Int(pixels[1]); x2 = image + Int(pixels[2]); x3 = image + Int(pixels[3])
        x4 = image + Int(pixels[4]); x5 = image + Int(pixels[5]); x6 = image + Int(pixels[6])
        x7 = rows > 7 ? image + Int(pixels[7]) : x6
        last = rows > 7 ? x7 : x6
    }

    @inline(__always)
    subscript(r: Int, i: Int) -> Float {
        switch r {
        case 0: return x0[i]
        case 1: return x1[i]
        case 2: return x2[i]
        case 3: return x3[i]
        case 4: return x4[i]
        case 5: return x5[i]
        case 6: return x6[i]
        default: return x7[i]
        }
    }
}

/// The body the entry points inline: `a(k, row)` is A's element of step k in `row`, and `bStep(k)`
/// is where step k's 32 B values start. `rows` is 8, or 7 (a constant at every call site, so the
/// eighth row's code folds away): the 7×32 tile.
@inline(__always)
private func kernel8x32(
    rows: Int = 8, kc: Int, a: (_ k: Int, _ row: Int) -> Float, bStep: (Int) -> UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float, e: Epilogue16
) {
    var c00 = SIMD16<Float>(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00
    var c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00
    for k in 0..<kc {
        let pb = bStep(k)
        let b0 = load16(pb), b1 = load16(pb, 16)
        var ai = SIMD16<Float>(repeating: a(k, 0))
        c00 = c00.addingProduct(ai, b0); c01 = c01.addingProduct(ai, b1)
        ai = SIMD16<Float>(repeating: a(k, 1))
        c10 = c10.addingProduct(ai, b0); c11 = c11.addingProduct(ai, b1)
        ai = SIMD16<Float>(repeating: a(k, 2))
        c20 = c20.addingProduct(ai, b0); c21 = c21.addingProduct(ai, b1)
        ai = SIMD16<Float>(repeating: a(k, 3))
        c30 = c30.addingProduct(ai, b0); c31 = c31.addingProduct(ai, b1)
        ai = SIMD16<Float>(repeating: a(k, 4))
        c40 = c40.addingProduct(ai, b0); c41 = c41.addingProduct(ai, b1)
        ai = SIMD16<Float>(repeating: a(k, 5))
        c50 = c50.addingProduct(ai, b0); c51 = c51.addingProduct(ai, b1)
        ai = SIMD16<Float>(repeating: a(k, 6))
        c60 = c60.addingProduct(ai, b0); c61 = c61.addingProduct(ai, b1)
        if rows > 7 {
            ai = SIMD16<Float>(repeating: a(k, 7))
            c70 = c70.addingProduct(ai, b0); c71 = c71.addingProduct(ai, b1)
        }
    }
    storeRow16(c00, c01, c, alpha, mode, beta, e, 0)
    storeRow16(c10, c11, c + ldc, alpha, mode, beta, e, 1)
    storeRow16(c20, c21, c + 2 * ldc, alpha, mode, beta, e, 2)
    storeRow16(c30, c31, c + 3 * ldc, alpha, mode, beta, e, 3)
    storeRow16(c40, c41, c + 4 * ldc, alpha, mode, beta, e, 4)
    storeRow16(c50, c51, c + 5 * ldc, alpha, mode, beta, e, 5)
    storeRow16(c60, c61, c + 6 * ldc, alpha, mode, beta, e, 6)
    if rows > 7 { storeRow16(c70, c71, c + 7 * ldc, alpha, mode, beta, e, 7) }
}

/// C[0..<8, 0..<16] ⊕= α·A·B over `kc` steps, 8 zmm accumulators: the half-width tile for a last B
/// panel of at most 16 columns (a 16-tile Winograd image, a GEMM whose N leaves 1–16 columns in its
/// last panel), where the 8×32 kernel would spend half its FMAs on zero columns. `a`: an 8-row panel
/// as for the 8×32 kernel; `b`: 16 floats per step, `bStride` floats apart (the first half of a
/// 32-wide panel). Store modes and epilogue as `sgemmKernel8x32AVX512`, with the same arithmetic per
/// element (column bias: 16 values).
@inline(never)
public func sgemmKernel8x16AVX512(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x16(kc: kc, a: { k, r in a[8 &* k &+ r] }, bStep: { b + bStride * $0 }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The half-width kernel with A read in place, as `sgemmKernel8x32AVX512RowsA` (row r at
/// `a + min(r, rows − 1)·lda`): for a GEMM that reads A in place, the last 1–16 columns, where the
/// 8×32 kernel spent half its FMAs on zero columns (VGG conv4_x as GEMMs: N = 784, 16 in the last panel).
@inline(never)
public func sgemmKernel8x16AVX512RowsA(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    let x = EightRows(a, rows: rows, stride: lda)
    kernel8x16(kc: kc, a: { k, r in x[r, k] }, bStep: { b + bStride &* $0 }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The half-width kernel with B read through tap offsets, as `sgemmKernel8x32AVX512Indirect`: step k
/// loads 16 floats at `b + offsets[k]`. For a direct convolution's last 1–16 output pixels of a row.
@inline(never)
public func sgemmKernel8x16AVX512Indirect(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    kernel8x16(kc: kc, a: { k, r in a[8 &* k &+ r] }, bStep: { b + Int(offsets[$0]) }, c: c, ldc: ldc, alpha: alpha, mode: mode, beta: beta,
               e: Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu))
}

/// The body the half-width entry points inline: `a(k, row)` is A's element of step k in `row`, and
/// `bStep(k)` is where step k's 16 B values start.
@inline(__always)
private func kernel8x16(
    kc: Int, a: (_ k: Int, _ row: Int) -> Float, bStep: (Int) -> UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: Int, beta: Float, e: Epilogue16
) {
    var c0 = SIMD16<Float>(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0
    for k in 0..<kc {
        let b0 = load16(bStep(k))
        c0 = c0.addingProduct(SIMD16<Float>(repeating: a(k, 0)), b0)
        c1 = c1.addingProduct(SIMD16<Float>(repeating: a(k, 1)), b0)
        c2 = c2.addingProduct(SIMD16<Float>(repeating: a(k, 2)), b0)
        c3 = c3.addingProduct(SIMD16<Float>(repeating: a(k, 3)), b0)
        c4 = c4.addingProduct(SIMD16<Float>(repeating: a(k, 4)), b0)
        c5 = c5.addingProduct(SIMD16<Float>(repeating: a(k, 5)), b0)
        c6 = c6.addingProduct(SIMD16<Float>(repeating: a(k, 6)), b0)
        c7 = c7.addingProduct(SIMD16<Float>(repeating: a(k, 7)), b0)
    }
    storeVector16(c0, c, alpha, mode, beta, e, 0, column: 0)
    storeVector16(c1, c + ldc, alpha, mode, beta, e, 1, column: 0)
    storeVector16(c2, c + 2 * ldc, alpha, mode, beta, e, 2, column: 0)
    storeVector16(c3, c + 3 * ldc, alpha, mode, beta, e, 3, column: 0)
    storeVector16(c4, c + 4 * ldc, alpha, mode, beta, e, 4, column: 0)
    storeVector16(c5, c + 5 * ldc, alpha, mode, beta, e, 5, column: 0)
    storeVector16(c6, c + 6 * ldc, alpha, mode, beta, e, 6, column: 0)
    storeVector16(c7, c + 7 * ldc, alpha, mode, beta, e, 7, column: 0)
}

/// The last 1–8 columns of C over one or two 8-row A panels (8 or 16 rows), as column vectors: one ymm
/// per column and panel, `acc[j] += A-panel · B[k, j]` (B broadcast), where the 8×16 kernel would
/// spend at least half its FMAs on zero columns (4 of 16 used at N = 196; Zen 4 runs two ymm FMAs a
/// cycle, as many flops as one zmm). `c`: a column-major block, column j at `c + j · columnStride`
/// (rows 0..<16). The per-element arithmetic is the 8×32 kernel's: the same FMA chain from zero, then
/// α·acc, β·C or + C by `mode`, the bias (row bias: 8 or 16 values; column bias: 8) and ReLU.
@inline(never)
public func sgemmKernelColumnEdge16x8AVX512(
    kc: Int, a: UnsafePointer<Float>, panels: Int, b: UnsafePointer<Float>, bStride: Int, columns: Int,
    c: UnsafeMutablePointer<Float>, columnStride: Int, alpha: Float, mode: Int, beta: Float,
    epilogue: Bool, rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    let e = Epilogue16(enabled: epilogue, rowBias: rowBias, columnBias: columnBias, relu: relu)
    // A constant pair per branch: each inlines its own body (`@_transparent`; with `@inline(__always)` the
    // optimizer kept one out-of-line body that tested both flags in its loop).
    switch (columns > 4, panels >= 2) {
    case (false, false): columnEdge(kc: kc, a: a, twoPanels: false, wide: false, b: b, bStride: bStride, c: c, cs: columnStride, alpha: alpha, mode: mode, beta: beta, e: e)
    case (false, true): columnEdge(kc: kc, a: a, twoPanels: true, wide: false, b: b, bStride: bStride, c: c, cs: columnStride, alpha: alpha, mode: mode, beta: beta, e: e)
    case (true, false): columnEdge(kc: kc, a: a, twoPanels: false, wide: true, b: b, bStride: bStride, c: c, cs: columnStride, alpha: alpha, mode: mode, beta: beta, e: e)
    case (true, true): columnEdge(kc: kc, a: a, twoPanels: true, wide: true, b: b, bStride: bStride, c: c, cs: columnStride, alpha: alpha, mode: mode, beta: beta, e: e)
    }
}

@_transparent
private func columnEdge(
    kc: Int, a: UnsafePointer<Float>, twoPanels: Bool, wide: Bool, b: UnsafePointer<Float>, bStride: Int,
    c: UnsafeMutablePointer<Float>, cs: Int, alpha: Float, mode: Int, beta: Float, e: Epilogue16
) {
    typealias V = SIMD8<Float>
    var u0 = V(), u1 = u0, u2 = u0, u3 = u0, u4 = u0, u5 = u0, u6 = u0, u7 = u0
    var v0 = V(), v1 = v0, v2 = v0, v3 = v0, v4 = v0, v5 = v0, v6 = v0, v7 = v0
    var pa = a, pb = b
    let second = 8 &* kc
    for _ in 0..<kc {
        let x = load8(pa)
        let y = twoPanels ? load8(pa + second) : x
        var s = V(repeating: pb[0])
        u0 = u0.addingProduct(x, s); if twoPanels { v0 = v0.addingProduct(y, s) }
        s = V(repeating: pb[1])
        u1 = u1.addingProduct(x, s); if twoPanels { v1 = v1.addingProduct(y, s) }
        s = V(repeating: pb[2])
        u2 = u2.addingProduct(x, s); if twoPanels { v2 = v2.addingProduct(y, s) }
        s = V(repeating: pb[3])
        u3 = u3.addingProduct(x, s); if twoPanels { v3 = v3.addingProduct(y, s) }
        if wide {
            s = V(repeating: pb[4])
            u4 = u4.addingProduct(x, s); if twoPanels { v4 = v4.addingProduct(y, s) }
            s = V(repeating: pb[5])
            u5 = u5.addingProduct(x, s); if twoPanels { v5 = v5.addingProduct(y, s) }
            s = V(repeating: pb[6])
            u6 = u6.addingProduct(x, s); if twoPanels { v6 = v6.addingProduct(y, s) }
            s = V(repeating: pb[7])
            u7 = u7.addingProduct(x, s); if twoPanels { v7 = v7.addingProduct(y, s) }
        }
        pa += 8
        pb += bStride
    }
    storeColumn8(u0, c, alpha, mode, beta, e, row: 0, column: 0)
    storeColumn8(u1, c + cs, alpha, mode, beta, e, row: 0, column: 1)
    storeColumn8(u2, c + 2 &* cs, alpha, mode, beta, e, row: 0, column: 2)
    storeColumn8(u3, c + 3 &* cs, alpha, mode, beta, e, row: 0, column: 3)
    if wide {
        storeColumn8(u4, c + 4 &* cs, alpha, mode, beta, e, row: 0, column: 4)
        storeColumn8(u5, c + 5 &* cs, alpha, mode, beta, e, row: 0, column: 5)
        storeColumn8(u6, c + 6 &* cs, alpha, mode, beta, e, row: 0, column: 6)
        storeColumn8(u7, c + 7 &* cs, alpha, mode, beta, e, row: 0, column: 7)
    }
    guard twoPanels else { return }
    storeColumn8(v0, c + 8, alpha, mode, beta, e, row: 8, column: 0)
    storeColumn8(v1, c + cs + 8, alpha, mode, beta, e, row: 8, column: 1)
    storeColumn8(v2, c + 2 &* cs + 8, alpha, mode, beta, e, row: 8, column: 2)
    storeColumn8(v3, c + 3 &* cs + 8, alpha, mode, beta, e, row: 8, column: 3)
    if wide {
        storeColumn8(v4, c + 4 &* cs + 8, alpha, mode, beta, e, row: 8, column: 4)
        storeColumn8(v5, c + 5 &* cs + 8, alpha, mode, beta, e, row: 8, column: 5)
        storeColumn8(v6, c + 6 &* cs + 8, alpha, mode, beta, e, row: 8, column: 6)
        storeColumn8(v7, c + 7 &* cs + 8, alpha, mode, beta, e, row: 8, column: 7)
    }
}

/// `storeVector16`'s arithmetic on 8 rows of one column: α·acc, then β·C or C by `mode`, then the row
/// bias (rows `row`..<`row`+8), the column bias of `column`, and ReLU.
@_transparent
private func storeColumn8(
    _ acc: SIMD8<Float>, _ c: UnsafeMutablePointer<Float>,
    _ alpha: Float, _ mode: Int, _ beta: Float, _ e: Epilogue16, row: Int, column: Int
) {
    typealias V = SIMD8<Float>
    var v = acc * V(repeating: alpha)
    if mode == 1 {
        v = v.addingProduct(V(repeating: beta), load8(c))
    } else if mode == 2 {
        v += load8(c)
    }
    if e.enabled {
        if let rb = e.rowBias { v += load8(rb + row) }
        if let cb = e.columnBias { v += V(repeating: cb[column]) }
        if e.relu { v = v.replacing(with: 0, where: v .< 0) }
    }
    store8(v, c)
}

private struct Epilogue16 {
    var enabled: Bool
    var rowBias: UnsafePointer<Float>?
    var columnBias: UnsafePointer<Float>?
    var relu: Bool
    /// Stores past the caches (`sgemmKernel8x32AVX512StreamingC`); a constant per entry point.
    var streamsC = false
}

/// `@_transparent`, not `@inline(__always)`: with the latter the optimizer kept this as one
/// out-of-line function (33 calls across the kernels, each rebuilding its two zmm arguments from
/// xmm pieces). Inlined, the 8×32 kernel alone went 102 → 108 GFLOPS at kc = 64 and 112 → 114 at
/// kc = 256; 256×3136×64 GEMM +7 %, ResNet 64→256 1×1 conv +6 %, its 3×3 convs +4–8 % (Zen 4, 1
/// thread, in-process alternating runs).
@_transparent
private func storeRow16(
    _ lo: SIMD16<Float>, _ hi: SIMD16<Float>, _ c: UnsafeMutablePointer<Float>,
    _ alpha: Float, _ mode: Int, _ beta: Float, _ e: Epilogue16, _ row: Int
) {
    storeVector16(lo, c, alpha, mode, beta, e, row, column: 0)
    storeVector16(hi, c + 16, alpha, mode, beta, e, row, column: 16)
}

/// 16 accumulators of row `row` to C at `c`: α·acc, then β·C or C by `mode`, then the epilogue
/// (column bias from `column` on). Both kernels store through this, so an element's value does not
/// depend on which kernel computed it.
@inline(__always)
private func storeVector16(
    _ acc: SIMD16<Float>, _ c: UnsafeMutablePointer<Float>,
    _ alpha: Float, _ mode: Int, _ beta: Float, _ e: Epilogue16, _ row: Int, column: Int
) {
    var v = acc * SIMD16<Float>(repeating: alpha)
    if mode == 1 {
        v = v.addingProduct(SIMD16<Float>(repeating: beta), load16(c))
    } else if mode == 2 {
        v += load16(c)
    }
    if e.enabled {
        if let rb = e.rowBias { v += SIMD16<Float>(repeating: rb[row]) }
        if let cb = e.columnBias { v += load16(cb, column) }
        if e.relu { v = v.replacing(with: 0, where: v .< 0) }
    }
    if e.streamsC { tessera_stream_store16(c, v) } else { store16(v, c) }
}

/// Sixteen independent zmm multiply-add chains, `iterations` rounds: 512 flops a round.
/// The 512-bit FMA peak probe (two FMA-512 ports on Intel server cores; one double-pumped on Zen 4).
@inline(never)
public func fmaChainsAVX512(iterations: Int) -> Float {
    let a = SIMD16<Float>(repeating: 0.999_9), b = SIMD16<Float>(repeating: 1e-4)
    var c0 = SIMD16<Float>(repeating: 0.1), c1 = c0 + 0.01, c2 = c0 + 0.02, c3 = c0 + 0.03
    var c4 = c0 + 0.04, c5 = c0 + 0.05, c6 = c0 + 0.06, c7 = c0 + 0.07
    var c8 = c0 + 0.08, c9 = c0 + 0.09, c10 = c0 + 0.10, c11 = c0 + 0.11
    var c12 = c0 + 0.12, c13 = c0 + 0.13, c14 = c0 + 0.14, c15 = c0 + 0.15
    for _ in 0..<iterations {
        c0 = b.addingProduct(c0, a); c1 = b.addingProduct(c1, a); c2 = b.addingProduct(c2, a); c3 = b.addingProduct(c3, a)
        c4 = b.addingProduct(c4, a); c5 = b.addingProduct(c5, a); c6 = b.addingProduct(c6, a); c7 = b.addingProduct(c7, a)
        c8 = b.addingProduct(c8, a); c9 = b.addingProduct(c9, a); c10 = b.addingProduct(c10, a); c11 = b.addingProduct(c11, a)
        c12 = b.addingProduct(c12, a); c13 = b.addingProduct(c13, a); c14 = b.addingProduct(c14, a); c15 = b.addingProduct(c15, a)
    }
    let s = (((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))) + (((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15)))
    return s.sum()
}
