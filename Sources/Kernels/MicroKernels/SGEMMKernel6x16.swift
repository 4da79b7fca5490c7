/// How the micro-kernel combines its accumulators with C.
enum KernelStoreMode {
    /// C = α·acc (β = 0: C is never read, so NaN in C cannot leak).
    case overwrite
    /// C = α·acc + β·C.
    case scale(Float)
    /// C = α·acc + C (later K blocks).
    case accumulate
}

extension KernelStoreMode {
    /// The mode as the AVX-512 kernels take it: 0 overwrite, 1 scale by β, 2 accumulate.
    var codeAndBeta: (Int, Float) {
        switch self {
        case .overwrite: return (0, 0)
        case .scale(let b): return (1, b)
        case .accumulate: return (2, 1)
        }
    }
}

/// The epilogue applied after the last K block: bias along rows or columns, then ReLU.
struct KernelEpilogue {
    var rowBias: UnsafePointer<Float>? = nil      // MR values, for this tile's rows
    var columnBias: UnsafePointer<Float>? = nil   // NR values, for this tile's columns
    var relu = false
}

/// C[0..<6, 0..<16] ⊕= α · A·B over `kc` steps: the register-blocked SGEMM micro-kernel.
///
/// `a` is an MR-panel packed k-major (6 floats per step) and `b` an NR-panel packed k-major
/// (16 floats per step); both are zero-padded, so the kernel always computes a full 6×16 tile.
/// Edge tiles are run on a 6×16 scratch tile by the driver. The 12 accumulators stay in ymm
/// registers for the whole loop.
@inline(never)
func sgemmKernel6x16(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: KernelStoreMode, epilogue: KernelEpilogue?
) {
    var acc = Accumulators6x16()
    var pa = a, pb = b
    for _ in 0..<kc {
        acc.step(pa, load8(pb), load8(pb, 8))
        pa += 6
        pb += 16
    }
    acc.store(c, ldc, alpha, mode, epilogue)
}

/// The 6×16 kernel with B read straight from an image instead of a packed panel (indirect GEMM for
/// direct convolution): step k loads 16 floats at `b + offsets[k]`, the k-th tap (channel, kernel
/// row, kernel column) of 16 consecutive output pixels in a padded input. C = acc, then the epilogue,
/// through the same stores as `sgemmKernel6x16` with α = 1 and β = 0.
@inline(never)
func sgemmKernel6x16Indirect(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: KernelEpilogue?
) {
    var acc = Accumulators6x16()
    var pa = a
    for q in 0..<kc {
        let pb = b + Int(offsets[q])
        acc.step(pa, load8(pb), load8(pb, 8))
        pa += 6
    }
    acc.store(c, ldc, 1, .overwrite, epilogue)
}

/// The 6×16 kernels for a tile whose first `rows` (1…5) rows matter, the last panel of an M that 6
/// does not divide: only those rows' FMAs run, where the zero-padded rows of A cost a whole 6-row
/// pass (a 49-row transposed product's last panel of one row was a ninth of its kernel time; with
/// this it takes 0.64 of a full call, Zen 3 profile: its 2 FMA chains wait on the FMA latency, and
/// splitting K over more accumulators would change the sums). Each row accumulates exactly as in
/// the full kernels, so its values are the same; all 6 rows are stored, the others from zero
/// accumulators, so `c` is a scratch tile (`GEMM.onScratchTile`).
@inline(never)
func sgemmKernel6x16(
    rows: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, mode: KernelStoreMode, epilogue: KernelEpilogue?
) {
    switch rows {
    case 1: packedRows(1, kc, a, b, c, ldc, alpha, mode, epilogue)
    case 2: packedRows(2, kc, a, b, c, ldc, alpha, mode, epilogue)
    case 3: packedRows(3, kc, a, b, c, ldc, alpha, mode, epilogue)
    case 4: packedRows(4, kc, a, b, c, ldc, alpha, mode, epilogue)
    default: packedRows(5, kc, a, b, c, ldc, alpha, mode, epilogue)
    }
}

/// The loop of `sgemmKernel6x16(rows:…)` for a constant `rows` (a nested function was not inlined,
/// and kept the row tests in its loop).
@_transparent
private func packedRows(
    _ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ mode: KernelStoreMode, _ epilogue: KernelEpilogue?
) {
    var acc = Accumulators6x16()
    var pa = a, pb = b
    for _ in 0..<kc {
        acc.step(pa, load8(pb), load8(pb, 8), rows: rows)
        pa += 6
        pb += 16
    }
    acc.store(c, ldc, alpha, mode, epilogue)
}

/// `sgemmKernel6x16Indirect` for the first `rows` (1…5) rows of a tile; see `sgemmKernel6x16(rows:…)`.
@inline(never)
func sgemmKernel6x16Indirect(
    rows: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: KernelEpilogue?
) {
    switch rows {
    case 1: indirectRows(1, kc, a, b, offsets, c, ldc, epilogue)
    case 2: indirectRows(2, kc, a, b, offsets, c, ldc, epilogue)
    case 3: indirectRows(3, kc, a, b, offsets, c, ldc, epilogue)
    case 4: indirectRows(4, kc, a, b, offsets, c, ldc, epilogue)
    default: indirectRows(5, kc, a, b, offsets, c, ldc, epilogue)
    }
}

/// The loop of `sgemmKernel6x16Indirect(rows:…)` for a constant `rows`.
@_transparent
private func indirectRows(
    _ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offsets: UnsafePointer<Int32>,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: KernelEpilogue?
) {
    var acc = Accumulators6x16()
    var pa = a
    for q in 0..<kc {
        let pb = b + Int(offsets[q])
        acc.step(pa, load8(pb), load8(pb, 8), rows: rows)
        pa += 6
    }
    acc.store(c, ldc, 1, .overwrite, epilogue)
}

/// The 6×16 kernel for a direct convolution computed transposed (`sgemmKernel8x32AVX512BroadcastImage`
/// on ymm): row r of the tile is output pixel r, column j output channel j; step k broadcasts pixel
/// r's k-th tap from a padded image, `image[pixels[r] + offsets[k]]`, against a 16-channel panel of
/// Wᵀ packed k-major (16 floats per step). C = acc, then the epilogue (column bias per channel),
/// through the same stores as `sgemmKernel6x16` with α = 1 and β = 0. (Its row switch repeats the
/// AVX-512 kernel's: that module is compiled for another CPU, so the two cannot share inlined code.)
@inline(never)
func sgemmKernel6x16BroadcastImage(
    kc: Int, image: UnsafePointer<Float>, pixels: UnsafePointer<Int32>, offsets: UnsafePointer<Int32>,
    b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: KernelEpilogue?
) {
    let x0 = image + Int(pixels[0]), x1 = image + Int(pixels[1]), x2 = image + Int(pixels[2])
    let x3 = image + Int(pixels[3]), x4 = image + Int(pixels[4]), x5 = image + Int(pixels[5])
    var acc = Accumulators6x16()
    var pb = b
    for q in 0..<kc {
        let o = Int(offsets[q])
        acc.step({ row in
            switch row {
            case 0: return x0[o]
            case 1: return x1[o]
            case 2: return x2[o]
            case 3: return x3[o]
            case 4: return x4[o]
            default: return x5[o]
            }
        }, load8(pb), load8(pb, 8), rows: 6)
        pb += 16
    }
    acc.store(c, ldc, 1, .overwrite, epilogue)
}

/// The 6×16 tile of accumulators, twelve SIMD8 values that live in ymm registers.
private struct Accumulators6x16 {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()

    /// One k step: rows 0..<6 of A (`pa`) times the 16 floats `b0`, `b1` of B.
    @inline(__always)
    mutating func step(_ pa: UnsafePointer<Float>, _ b0: SIMD8<Float>, _ b1: SIMD8<Float>) { step(pa, b0, b1, rows: 6) }

    /// One k step for the first `rows` rows only (a constant after inlining, so the tests fold away);
    /// the other accumulators are left as they are.
    @inline(__always)
    mutating func step(_ pa: UnsafePointer<Float>, _ b0: SIMD8<Float>, _ b1: SIMD8<Float>, rows: Int) {
        step({ pa[$0] }, b0, b1, rows: rows)
    }

    /// One k step with row r's A value `a(r)` (a packed panel, or an image read through offsets).
    @inline(__always)
    mutating func step(_ a: (Int) -> Float, _ b0: SIMD8<Float>, _ b1: SIMD8<Float>, rows: Int) {
        var ai = SIMD8<Float>(repeating: a(0))
        c00 = madd(c00, ai, b0); c01 = madd(c01, ai, b1)
        if rows < 2 { return }
        ai = SIMD8<Float>(repeating: a(1))
        c10 = madd(c10, ai, b0); c11 = madd(c11, ai, b1)
        if rows < 3 { return }
        ai = SIMD8<Float>(repeating: a(2))
        c20 = madd(c20, ai, b0); c21 = madd(c21, ai, b1)
        if rows < 4 { return }
        ai = SIMD8<Float>(repeating: a(3))
        c30 = madd(c30, ai, b0); c31 = madd(c31, ai, b1)
        if rows < 5 { return }
        ai = SIMD8<Float>(repeating: a(4))
        c40 = madd(c40, ai, b0); c41 = madd(c41, ai, b1)
        if rows < 6 { return }
        ai = SIMD8<Float>(repeating: a(5))
        c50 = madd(c50, ai, b0); c51 = madd(c51, ai, b1)
    }

    @inline(__always)
    func store(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ mode: KernelStoreMode, _ epilogue: KernelEpilogue?) {
        storeRow(c00, c01, c, alpha, mode, epilogue, 0)
        storeRow(c10, c11, c + ldc, alpha, mode, epilogue, 1)
        storeRow(c20, c21, c + 2 * ldc, alpha, mode, epilogue, 2)
        storeRow(c30, c31, c + 3 * ldc, alpha, mode, epilogue, 3)
        storeRow(c40, c41, c + 4 * ldc, alpha, mode, epilogue, 4)
        storeRow(c50, c51, c + 5 * ldc, alpha, mode, epilogue, 5)
    }
}

/// Combines one 16-wide accumulator row with C and applies the epilogue.
@inline(__always)
private func storeRow(
    _ lo: SIMD8<Float>, _ hi: SIMD8<Float>, _ c: UnsafeMutablePointer<Float>,
    _ alpha: Float, _ mode: KernelStoreMode, _ epilogue: KernelEpilogue?, _ row: Int
) {
    let al = SIMD8<Float>(repeating: alpha)
    var v0 = lo * al, v1 = hi * al
    switch mode {
    case .overwrite: break
    case .scale(let beta):
        let be = SIMD8<Float>(repeating: beta)
        v0 = madd(v0, be, load8(c)); v1 = madd(v1, be, load8(c, 8))
    case .accumulate:
        v0 += load8(c); v1 += load8(c, 8)
    }
    if let e = epilogue {
        if let rb = e.rowBias {
            let r = SIMD8<Float>(repeating: rb[row])
            v0 += r; v1 += r
        }
        if let cb = e.columnBias {
            v0 += load8(cb); v1 += load8(cb, 8)
        }
        if e.relu { v0 = relu8(v0); v1 = relu8(v1) }
    }
    store8(v0, c); store8(v1, c, 8)
}
