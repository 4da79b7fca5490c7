// AVX-512 pooling micro-kernels (see SGEMMKernel8x32AVX512.swift for why they live in this module).
// AVX2 has no two-register permute, so deinterleaving even and odd columns costs a shuffle and a
// cross-lane permute per 8 outputs there; `vpermt2ps` does 16 in one instruction.
import CPUHints

/// `maxps`: with a NaN in either operand it returns `a`; the callers track NaN on the side.
@inline(__always)
private func plainMax(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .> a) }

@inline(__always)
private func plainMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }

@inline(__always)
private func plainMax(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { a.replacing(with: b, where: b .> a) }

/// The four elements of 16 consecutive 2×2/2 windows starting at column 2·j of rows `r0` and `r1`,
/// in scan order: (top-left, top-right, bottom-left, bottom-right). The deinterleave comes before any
/// max: LLVM sinks a max placed before these shuffles below them as compare/blend pairs on both
/// inputs, twice the work.
@inline(__always)
private func windows2x2(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ j: Int)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let a0 = load16(r0 + 2 * j), a1 = load16(r0 + 2 * j + 16)
    let b0 = load16(r1 + 2 * j), b1 = load16(r1 + 2 * j + 16)
    return (SIMD16(lowHalf: a0.evenHalf, highHalf: a1.evenHalf), SIMD16(lowHalf: a0.oddHalf, highHalf: a1.oddHalf),
            SIMD16(lowHalf: b0.evenHalf, highHalf: b1.evenHalf), SIMD16(lowHalf: b0.oddHalf, highHalf: b1.oddHalf))
}

/// 2×2 stride-2 max pooling without padding, values only, of `oh` output rows of `ow` (one plane,
/// or planes stacked so that no row pair straddles two): per group of outputs, the vertical max
/// of the two input rows, then the max of its even and odd columns. Needs 4 ≤ ow and 2·ow ≤ w.
///
/// NaN does not propagate through `maxps`: the return value says whether any input read was NaN,
/// and the caller then recomputes these rows with an exact scan. With `prefetchAhead` (ow ≥ 16
/// only), each output row first prefetches the row pair two output rows below (see `PoolTuning`).
@inline(never)
public func maxPool2x2s2ValuesAVX512(
    _ x: UnsafePointer<Float>, w: Int, _ y: UnsafeMutablePointer<Float>, oh: Int, ow: Int, prefetchAhead: Bool
) -> Bool {
    var nan = SIMDMask<SIMD16<Int32>>(repeating: false)
    if ow >= 16 {
        for oi in 0..<oh {
            let r0 = x + 2 * oi * w, r1 = r0 + w, yRow = y + oi * ow
            if prefetchAhead { tessera_prefetch_floats(r0 + 4 * w, 2 * w) }
            var oj = 0
            while oj < ow {
                let j = min(oj, ow - 16)   // the last group moves back: 2·j + 32 ≤ 2·ow ≤ w
                let (ae, ao, be, bo) = windows2x2(r0, r1, j)
                nan = nan .| (ae .!= ae) .| (ao .!= ao) .| (be .!= be) .| (bo .!= bo)
                let out = plainMax(plainMax(ae, ao), plainMax(be, bo))
                UnsafeMutableRawPointer(yRow + j).storeBytes(of: out, as: SIMD16<Float>.self)
                oj = j + 16
            }
        }
    } else if ow >= 8 {
        for oi in 0..<oh {
            let r0 = x + 2 * oi * w, r1 = r0 + w, yRow = y + oi * ow
            var oj = 0
            while oj < ow {
                let j = min(oj, ow - 8)
                let a = load16(r0 + 2 * j), b = load16(r1 + 2 * j)
                nan = nan .| (a .!= a) .| (b .!= b)
                let ae = a.evenHalf, ao = a.oddHalf, be = b.evenHalf, bo = b.oddHalf
                UnsafeMutableRawPointer(yRow + j).storeBytes(of: plainMax(plainMax(ae, ao), plainMax(be, bo)), as: SIMD8<Float>.self)
                oj = j + 8
            }
        }
    } else {
        var nan8 = SIMDMask<SIMD8<Int32>>(repeating: false)
        var first = 0
        if w == 14 && ow == 7 && oh > 1 {
            // 14 wide (VGG pool5): a row pair is 28 contiguous floats, loaded as P = x[0..<16) and
            // Q = x[12..<28) (never past the pair); four permutes gather each row's even and odd
            // columns. The 8-float store writes one float of the next row's output, which that row
            // then overwrites: not for the last row.
            first = oh - 1
            for oi in 0..<(oh - 1) {
                let pair = x + 28 * oi
                let p = load16(pair), q = load16(pair + 12)
                nan = nan .| (p .!= p) .| (q .!= q)
                // All four permutes before any max (see `windows2x2`).
                let ae = SIMD8(p[0], p[2], p[4], p[6], p[8], p[10], p[12], p[12])
                let ao = SIMD8(p[1], p[3], p[5], p[7], p[9], p[11], p[13], p[13])
                let be = SIMD8(q[2], q[4], q[6], q[8], q[10], q[12], q[14], q[14])
                let bo = SIMD8(q[3], q[5], q[7], q[9], q[11], q[13], q[15], q[15])
                let out = plainMax(plainMax(ae, ao), plainMax(be, bo))
                UnsafeMutableRawPointer(y + 7 * oi).storeBytes(of: out, as: SIMD8<Float>.self)
            }
        }
        for oi in first..<oh {
            let r0 = x + 2 * oi * w, r1 = r0 + w, yRow = y + oi * ow
            // Two groups of 4, the second moved back: 2·(ow − 4) + 8 ≤ w.
            let last = 2 * (ow - 4)
            let a0 = load8(r0), b0 = load8(r1), a1 = load8(r0 + last), b1 = load8(r1 + last)
            nan8 = nan8 .| (a0 .!= a0) .| (b0 .!= b0) .| (a1 .!= a1) .| (b1 .!= b1)
            UnsafeMutableRawPointer(yRow).storeBytes(of: plainMax(plainMax(a0.evenHalf, a0.oddHalf), plainMax(b0.evenHalf, b0.oddHalf)),
                                                     as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(yRow + ow - 4).storeBytes(of: plainMax(plainMax(a1.evenHalf, a1.oddHalf), plainMax(b1.evenHalf, b1.oddHalf)),
                                                              as: SIMD4<Float>.self)
        }
        return any(nan8) || any(nan)
    }
    return any(nan)
}

/// 3×3 stride-2 pooling of one plane with padding at most 1 on each side (ResNet's stem pool):
/// max (values only) or average. Per output row, the max (or sum) of the window's up to three input
/// rows goes into a row of `rowBuffer` with −∞ (or 0) beyond both edges, so padding never wins (or adds
/// nothing); then 16 outputs at a time take the max (or sum) of columns 2·oj, 2·oj + 1, 2·oj + 2 of
/// it, deinterleaved by `vpermt2ps`. Needs w ≥ 16 and ow ≥ 16; `rowBuffer` holds 3·w + 160 floats.
///
/// Max returns whether an input was NaN (`maxps` drops it): the caller then recomputes the plane.
/// Average divides each sum by 9 (`countIncludesPadding`) or by its in-bounds rows × columns; the
/// sum runs rows first, then columns, not in the reference's row-major order (rounding only).
@inline(__always)
private func pool3x3s2AVX512(
    isMax: Bool, _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
    oh: Int, ow: Int, top: Int, left: Int, countIncludesPadding: Bool, rowBuffer t: UnsafeMutablePointer<Float>
) -> Bool {
    // Two row buffers, t[b·stride + 1 + j]: column j reduced over the window's rows of output row
    // oi with b = oi % 2, and 16 zeros after them. Row oi + 1 is reduced before row oi's columns are
    // read, so that those loads never wait on the stores just made (they straddle them: a store
    // forwarding stall that cost about half the time).
    let stride = w + 64, zeros = UnsafePointer(t + 2 * stride)
    t.initialize(repeating: isMax ? -.infinity : 0, count: 2 * stride)
    (t + 2 * stride).initialize(repeating: 0, count: 16)
    // Average without padding counted: the in-bounds columns of each output's window.
    let columns = t + 2 * stride + 16
    if !isMax && !countIncludesPadding {
        for o in 0..<ow { columns[o] = Float(min(w, 2 * o - left + 3) - max(0, 2 * o - left)) }
    }
    var nan = SIMDMask<SIMD16<Int32>>(repeating: false)
    func rows(_ oi: Int) -> (first: Int, count: Int) {
        let i0 = 2 * oi - top, r0 = max(0, i0)
        return (r0, min(h, i0 + 3) - r0)
    }
    // Returns the NaN lanes seen. (It must not touch `nan` itself: a local function that captures a
    // mutable variable is not inlined, and the mask then made a round trip through memory per vector.)
    func reduceRows(_ oi: Int) -> SIMDMask<SIMD16<Int32>> {
        var seen = SIMDMask<SIMD16<Int32>>(repeating: false)
        let (r0, count) = rows(oi)
        let a = x + r0 * w, b = t + (oi & 1) * stride + 1
        // Rows beyond the plane: max reads a row twice (harmless), the sum adds zeros.
        let a1 = count > 1 ? a + w : (isMax ? a : zeros), a2 = count > 2 ? a + 2 * w : (isMax ? a1 : zeros)
        let step1 = count > 1 || isMax ? 1 : 0, step2 = count > 2 || isMax ? 1 : 0
        var j = 0
        while j < w {
            let c = min(j, w - 16)
            let u0 = load16(a + c), u1 = load16(a1 + step1 * c), u2 = load16(a2 + step2 * c)
            let v: SIMD16<Float>
            if isMax {
                seen = seen .| (u0 .!= u0) .| (u1 .!= u1) .| (u2 .!= u2)
                v = plainMax(plainMax(u0, u1), u2)
            } else {
                v = u0 + u1 + u2
            }
            UnsafeMutableRawPointer(b + c).storeBytes(of: v, as: SIMD16<Float>.self)
            j = c + 16
        }
        return seen
    }
    nan = reduceRows(0)
    for oi in 0..<oh {
        if oi + 1 < oh { nan = nan .| reduceRows(oi + 1) }
        let count = Float(rows(oi).count)
        let yRow = y + oi * ow, b = t + (oi & 1) * stride + 1
        var oj = 0
        while oj < ow {
            let o = min(oj, ow - 16)
            let c = b + 2 * o - left   // the first column of output o's window
            let l0 = load16(c), l1 = load16(c + 16), l2 = load16(c + 2), l3 = load16(c + 18)
            let first = SIMD16(lowHalf: l0.evenHalf, highHalf: l1.evenHalf)
            let second = SIMD16(lowHalf: l0.oddHalf, highHalf: l1.oddHalf)
            let third = SIMD16(lowHalf: l2.evenHalf, highHalf: l3.evenHalf)
            let out: SIMD16<Float>
            if isMax {
                out = plainMax(plainMax(first, second), third)
            } else if countIncludesPadding {
                out = (first + second + third) / 9
            } else {
                out = (first + second + third) / (load16(columns + o) * count)
            }
            UnsafeMutableRawPointer(yRow + o).storeBytes(of: out, as: SIMD16<Float>.self)
            oj = o + 16
        }
    }
    return any(nan)
}

/// 3×3 stride-2 max pooling, values only (see `pool3x3s2AVX512`); true if an input was NaN.
@inline(never)
public func maxPool3x3s2ValuesAVX512(
    _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
    top: Int, left: Int, rowBuffer: UnsafeMutablePointer<Float>
) -> Bool {
    pool3x3s2AVX512(isMax: true, x, h: h, w: w, y, oh: oh, ow: ow, top: top, left: left,
                    countIncludesPadding: false, rowBuffer: rowBuffer)
}

/// 3×3 stride-2 average pooling (see `pool3x3s2AVX512`).
@inline(never)
public func avgPool3x3s2AVX512(
    _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
    top: Int, left: Int, countIncludesPadding: Bool, rowBuffer: UnsafeMutablePointer<Float>
) {
    _ = pool3x3s2AVX512(isMax: false, x, h: h, w: w, y, oh: oh, ow: ow, top: top, left: left,
                        countIncludesPadding: countIncludesPadding, rowBuffer: rowBuffer)
}

/// Σ of the 16 lanes as a tree of half-vector adds (`SIMD.sum()` adds lane by lane, in one chain).
@inline(__always)
private func treeSum(_ v: SIMD16<Float>) -> Float {
    let v8 = v.lowHalf + v.highHalf, v4 = v8.lowHalf + v8.highHalf, v2 = v4.lowHalf + v4.highHalf
    return v2[0] + v2[1]
}

/// y[p] = (Σ of plane p) / planeSize for `planes` contiguous planes (global average pooling): per
/// plane, two SIMD16 accumulators (the last partial vector loaded so that it ends at the plane's
/// end, its repeated lanes zeroed), then a tree sum. The order of the additions depends on
/// `planeSize` alone, never on which planes a call covers.
@inline(never)
public func planeMeansAVX512(_ x: UnsafePointer<Float>, planeSize n: Int, planes: Int, _ y: UnsafeMutablePointer<Float>) {
    let repeated = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .< Int32(16 - n % 16)
    for p in 0..<planes {
        let a = x + p * n
        if n < 16 {
            var s: Float = 0
            for i in 0..<n { s += a[i] }
            y[p] = s / Float(n)
            continue
        }
        var s0 = SIMD16<Float>(), s1 = s0
        var i = 0
        while i + 32 <= n { s0 += load16(a + i); s1 += load16(a + i + 16); i += 32 }
        if i + 16 <= n { s0 += load16(a + i); i += 16 }
        if i < n { s1 += load16(a + n - 16).replacing(with: 0, where: repeated) }
        y[p] = treeSum(s0 + s1) / Float(n)
    }
}

/// One step of a max scan: `v` (at `vIndex`) wins where strictly larger, or the first NaN.
@inline(__always)
private func scanStep(_ best: inout SIMD16<Float>, _ index: inout SIMD16<Int32>, _ bestIsNaN: inout SIMDMask<SIMD16<Int32>>,
                      _ v: SIMD16<Float>, _ vIndex: SIMD16<Int32>) {
    let vIsNaN = v .!= v
    let wins = (v .> best) .| (vIsNaN .& .!bestIsNaN)
    best.replace(with: v, where: wins)
    index.replace(with: vIndex, where: wins)
    bestIsNaN = bestIsNaN .| vIsNaN
}

/// 2×2 stride-2 max pooling of one plane without padding, with the arg-max: 16 outputs at a time,
/// the window's four elements deinterleaved by `vpermt2ps` and scanned in row-major order; a later
/// element wins only if strictly larger, or the first NaN (SPEC §1), so ties and NaN give the
/// reference's index. `indices` receives the plane-local ii·w + jj. Needs ow ≥ 16 and 2·ow ≤ w.
/// `prefetchAhead` as in `maxPool2x2s2ValuesAVX512`.
@inline(never)
public func maxPool2x2s2IndicesAVX512(
    _ x: UnsafePointer<Float>, w: Int, _ y: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int32>,
    oh: Int, ow: Int, prefetchAhead: Bool
) {
    let even = SIMD16<Int32>(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
    let one = SIMD16<Int32>(repeating: 1), below = SIMD16<Int32>(repeating: Int32(w)), belowRight = below &+ 1
    for oi in 0..<oh {
        let r0 = x + 2 * oi * w, r1 = r0 + w, yRow = y + oi * ow, iRow = indices + oi * ow
        if prefetchAhead { tessera_prefetch_floats(r0 + 4 * w, 2 * w) }
        var oj = 0
        while oj < ow {
            let j = min(oj, ow - 16)
            let (topLeft, topRight, bottomLeft, bottomRight) = windows2x2(r0, r1, j)
            // The winner's offset from the window's first element; the index is added at the end.
            var best = topLeft, offset = SIMD16<Int32>()
            var bestIsNaN = best .!= best
            scanStep(&best, &offset, &bestIsNaN, topRight, one)
            scanStep(&best, &offset, &bestIsNaN, bottomLeft, below)
            scanStep(&best, &offset, &bestIsNaN, bottomRight, belowRight)
            let index = offset &+ even &+ Int32(2 * oi * w + 2 * j)
            UnsafeMutableRawPointer(yRow + j).storeBytes(of: best, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(iRow + j).storeBytes(of: index, as: SIMD16<Int32>.self)
            oj = j + 16
        }
    }
}
