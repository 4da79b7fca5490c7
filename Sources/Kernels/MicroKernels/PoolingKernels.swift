import CPUHints

/// Per-plane pooling micro-kernels (one H×W plane of one image and channel).
///
/// Outputs whose windows lie wholly inside the plane run 8 at a time in SIMD8 lanes; those that
/// touch padding run one at a time. Window elements are visited in row-major scan order, and a
/// later element wins only if it is strictly larger, or the first NaN (SPEC §1), so the fast
/// paths and the reference agree on ties and NaN. The exceptions are the 3×3 stride-2 paths
/// without indices, which reduce rows first and then columns (see them).

/// A pooling window in plane coordinates.
struct PoolWindow {
    var kh: Int, kw: Int, sh: Int, sw: Int, pt: Int, pl: Int
}

/// Elements p[0], p[s], …, p[7s]. Stride 2 deinterleaves 16 contiguous floats, so the caller must
/// guarantee p[15] is readable then.
@inline(__always)
func loadStrided8(_ p: UnsafePointer<Float>, _ s: Int) -> SIMD8<Float> {
    if s == 1 { return load8(p) }
    if s == 2 { return SIMD8(lowHalf: load8(p).evenHalf, highHalf: load8(p, 8).evenHalf) }
    return SIMD8(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s])
}

/// Lanes where `v` replaces `best` in a max scan: strictly larger, or the first NaN.
@inline(__always)
func maxWins(_ v: SIMD8<Float>, _ best: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>> {
    (v .> best) .| ((v .!= v) .& (best .== best))
}

@inline(__always)
func maxWins(_ v: Float, _ best: Float) -> Bool { v > best || (v.isNaN && !best.isNaN) }

@inline(__always)
func maxWins4(_ v: SIMD4<Float>, _ best: SIMD4<Float>) -> SIMDMask<SIMD4<Int32>> {
    (v .> best) .| ((v .!= v) .& (best .== best))
}

/// One step of a scalar max scan, written as selects so that random data costs no branch misses.
@inline(__always)
func maxStep(_ best: inout Float, _ bestIndex: inout Int, _ v: Float, _ index: Int) {
    let wins = (v > best) || (v != v && best == best)
    best = wins ? v : best
    bestIndex = wins ? index : bestIndex
}

/// The output columns [lo, hi) whose windows are wholly inside a row of `w` floats, with room for
/// the stride-2 SIMD loads (8 outputs read up to 16·… elements).
@inline(__always)
func interiorColumns(ow: Int, w: Int, _ d: PoolWindow) -> (lo: Int, hi: Int) {
    let lo = min(ow, (d.pl + d.sw - 1) / d.sw)
    // Last element read for output j by a SIMD group starting there: j·sw − pl + kw − 1 (+1 for stride 2).
    let extra = d.sw == 2 ? 1 : 0
    var hi = ow
    while hi > lo && (hi - 1) * d.sw - d.pl + d.kw - 1 + extra > w - 1 { hi -= 1 }
    return (lo, max(lo, hi))
}

/// Max pooling of one plane; `indices` (optional) receives the plane-local index ii·w + jj of each max.
@inline(never)
func maxPoolPlane(
    _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
    _ indices: UnsafeMutablePointer<Int32>?, oh: Int, ow: Int, _ d: PoolWindow
) {
    let (lo, hi) = interiorColumns(ow: ow, w: w, d)
    let lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &* Int32(d.sw)
    for oi in 0..<oh {
        let i0 = oi * d.sh - d.pt
        let kiLo = max(0, -i0), kiHi = min(d.kh, h - i0)
        let yRow = y + oi * ow
        let iRow = indices.map { $0 + oi * ow }
        func scalar(_ oj: Int) {
            let j0 = oj * d.sw - d.pl
            let kjLo = max(0, -j0), kjHi = min(d.kw, w - j0)
            var best = x[(i0 + kiLo) * w + j0 + kjLo], bestIndex = (i0 + kiLo) * w + j0 + kjLo
            for ki in kiLo..<kiHi {
                for kj in kjLo..<kjHi {
                    let idx = (i0 + ki) * w + j0 + kj
                    maxStep(&best, &bestIndex, x[idx], idx)
                }
            }
            yRow[oj] = best
            iRow?[oj] = Int32(bestIndex)
        }
        let groups = SIMDGroups(lo: lo, hi: hi)
        for oj in 0..<groups.scalarEnd { scalar(oj) }
        if let iRow {
            for oj in groups {
                let j0 = oj * d.sw - d.pl
                var best = loadStrided8(x + (i0 + kiLo) * w + j0, d.sw)
                var bestIndex = SIMD8<Int32>(repeating: Int32((i0 + kiLo) * w + j0)) &+ lane
                for ki in kiLo..<kiHi {
                    let row = x + (i0 + ki) * w + j0
                    let rowIndex = SIMD8<Int32>(repeating: Int32((i0 + ki) * w + j0)) &+ lane
                    for kj in 0..<d.kw {
                        let v = loadStrided8(row + kj, d.sw)
                        let wins = maxWins(v, best)
                        best.replace(with: v, where: wins)
                        bestIndex.replace(with: rowIndex &+ Int32(kj), where: wins)
                    }
                }
                store8(best, yRow, oj)
                UnsafeMutableRawPointer(iRow + oj).storeBytes(of: bestIndex, as: SIMD8<Int32>.self)
            }
        } else {
            // Two groups at a time: two independent compare-select chains hide each other's latency.
            var pending: Int? = nil
            for oj in groups {
                guard let first = pending else { pending = oj; continue }
                pending = nil
                let j0 = first * d.sw - d.pl, j1 = oj * d.sw - d.pl
                // Values only: a plain max, with NaN tracked on the side (any NaN makes the output NaN;
                // which element won does not matter here).
                var best0 = loadStrided8(x + (i0 + kiLo) * w + j0, d.sw)
                var best1 = loadStrided8(x + (i0 + kiLo) * w + j1, d.sw)
                var nan0 = best0 .!= best0, nan1 = best1 .!= best1
                for ki in kiLo..<kiHi {
                    let row = x + (i0 + ki) * w
                    for kj in 0..<d.kw {
                        let v0 = loadStrided8(row + j0 + kj, d.sw), v1 = loadStrided8(row + j1 + kj, d.sw)
                        best0.replace(with: v0, where: v0 .> best0)
                        best1.replace(with: v1, where: v1 .> best1)
                        nan0 = nan0 .| (v0 .!= v0)
                        nan1 = nan1 .| (v1 .!= v1)
                    }
                }
                best0.replace(with: .nan, where: nan0)
                best1.replace(with: .nan, where: nan1)
                store8(best0, yRow, first)
                store8(best1, yRow, oj)
            }
            if let oj = pending {
                let j0 = oj * d.sw - d.pl
                var best = loadStrided8(x + (i0 + kiLo) * w + j0, d.sw)
                for ki in kiLo..<kiHi {
                    let row = x + (i0 + ki) * w + j0
                    for kj in 0..<d.kw {
                        let v = loadStrided8(row + kj, d.sw)
                        best.replace(with: v, where: maxWins(v, best))
                    }
                }
                store8(best, yRow, oj)
            }
        }
        for oj in hi..<ow { scalar(oj) }
    }
}

/// The starts of 8-wide SIMD groups covering the interior outputs [lo, hi): groups of 8 from `lo`,
/// and, when 8 does not divide the interior, one last group moved back to end exactly at `hi`.
/// It recomputes a few outputs (with identical results) instead of leaving them to scalar code.
/// An interior narrower than 8 is left wholly to the scalar path.
struct SIMDGroups: Sequence, IteratorProtocol {
    let lo: Int, hi: Int
    private var cursor: Int
    init(lo: Int, hi: Int) { self.lo = lo; self.hi = hi; cursor = lo }
    /// Scalar outputs are [0, scalarEnd) and [hi, ow).
    var scalarEnd: Int { hi - lo >= 8 ? lo : hi }
    mutating func next() -> Int? {
        guard hi - lo >= 8, cursor < hi else { return nil }
        let start = Swift.min(cursor, hi - 8)
        cursor = start + 8
        return start
    }
}

/// 2×2 stride-2 max pooling of one plane without padding (VGG-16's pools): two input rows per
/// output row, deinterleaved into the four window positions in scan order. Groups of 8 outputs
/// (16 floats of each row), then of 4 (narrow rows: VGG's pool5), then single outputs; a last group
/// that does not fit is moved back to overlap the previous one (recomputed outputs are identical).
/// With `prefetchAhead`, each output row first prefetches the row pair two output rows below.
@inline(never)
func maxPool2x2s2Plane(
    _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
    _ indices: UnsafeMutablePointer<Int32>?, oh: Int, ow: Int, prefetchAhead: Bool
) {
    for oi in 0..<oh {
        let r0 = x + 2 * oi * w
        if prefetchAhead { tessera_prefetch_floats(r0 + 4 * w, 2 * w) }
        if let indices {
            maxPool2x2s2RowIndices(r0, w: w, y + oi * ow, indices + oi * ow, ow: ow, first: 2 * oi * w)
        } else {
            maxPool2x2s2RowValues(r0, w: w, y + oi * ow, ow: ow)
        }
    }
}

/// The last start of a group of `width` outputs whose 2·`width` floats per row stay inside a row of
/// `w`; −1: no group fits.
@inline(__always)
func lastGroupStart(width: Int, ow: Int, w: Int) -> Int { ow >= width && w >= 2 * width ? min(ow - width, (w - 2 * width) / 2) : -1 }

/// One output row of `maxPool2x2s2Plane`, values only. The group loops are written out: passed as
/// closures, each group of 8 outputs compiled to a call (objdump), and so did the group functions
/// below when the plane's loop held both rows' code; the indices row is a call per row instead.
@inline(__always)
func maxPool2x2s2RowValues(_ r0: UnsafePointer<Float>, w: Int, _ yRow: UnsafeMutablePointer<Float>, ow: Int) {
    let r1 = r0 + w, last8 = lastGroupStart(width: 8, ow: ow, w: w), last4 = lastGroupStart(width: 4, ow: ow, w: w)
    var oj = 0
    while oj < ow && last8 >= 0 && last8 + 8 > oj {
        let s = min(oj, last8)
        store8(maxPool2x2Values8(r0 + 2 * s, r1 + 2 * s), yRow, s)
        oj = s + 8
    }
    while oj < ow && last4 >= 0 && last4 + 4 > oj {
        let s = min(oj, last4)
        UnsafeMutableRawPointer(yRow + s).storeBytes(of: maxPool2x2Values4(r0 + 2 * s, r1 + 2 * s), as: SIMD4<Float>.self)
        oj = s + 4
    }
    while oj < ow {
        var best = r0[2 * oj], index = 0
        maxStep(&best, &index, r0[2 * oj + 1], 0)
        maxStep(&best, &index, r1[2 * oj], 0)
        maxStep(&best, &index, r1[2 * oj + 1], 0)
        yRow[oj] = best
        oj += 1
    }
}

/// One output row of `maxPool2x2s2Plane` with the plane-local index of each maximum (`first`: the
/// index of r0[0]).
@inline(never)
func maxPool2x2s2RowIndices(_ r0: UnsafePointer<Float>, w: Int, _ yRow: UnsafeMutablePointer<Float>,
                            _ iRow: UnsafeMutablePointer<Int32>, ow: Int, first: Int) {
    let r1 = r0 + w, last8 = lastGroupStart(width: 8, ow: ow, w: w), last4 = lastGroupStart(width: 4, ow: ow, w: w)
    var oj = 0
    while oj < ow && last8 >= 0 && last8 + 8 > oj {
        let s = min(oj, last8)
        let (best, index) = maxPool2x2Indices8(r0 + 2 * s, r1 + 2 * s, w: w, first: Int32(first + 2 * s))
        store8(best, yRow, s)
        UnsafeMutableRawPointer(iRow + s).storeBytes(of: index, as: SIMD8<Int32>.self)
        oj = s + 8
    }
    while oj < ow && last4 >= 0 && last4 + 4 > oj {
        let s = min(oj, last4)
        let (best, index) = maxPool2x2Indices4(r0 + 2 * s, r1 + 2 * s, w: w, first: Int32(first + 2 * s))
        UnsafeMutableRawPointer(yRow + s).storeBytes(of: best, as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(iRow + s).storeBytes(of: index, as: SIMD4<Int32>.self)
        oj = s + 4
    }
    while oj < ow {
        let c = first + 2 * oj
        var best = r0[2 * oj], bestIndex = c
        maxStep(&best, &bestIndex, r0[2 * oj + 1], c + 1)
        maxStep(&best, &bestIndex, r1[2 * oj], c + w)
        maxStep(&best, &bestIndex, r1[2 * oj + 1], c + w + 1)
        yRow[oj] = best
        iRow[oj] = Int32(bestIndex)
        oj += 1
    }
}

/// Elements 0, 2 (and 1, 3) of each 128-bit lane of `a`, then of `b`: what one `vshufps` makes of
/// two vectors, the pairs (a0 a2 b0 b2 a4 a6 b4 b6) out of order across lanes (`acrossLanes`).
@inline(__always)
func laneEvens(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8(a[0], a[2], b[0], b[2], a[4], a[6], b[4], b[6]) }
@inline(__always)
func laneOdds(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8(a[1], a[3], b[1], b[3], a[5], a[7], b[5], b[7]) }
/// (a0 a2 b0 b2 a4 a6 b4 b6) → (a0 a2 a4 a6 b0 b2 b4 b6): one `vpermpd`.
@inline(__always)
func acrossLanes(_ v: SIMD8<Float>) -> SIMD8<Float> { SIMD8(v[0], v[1], v[4], v[5], v[2], v[3], v[6], v[7]) }

/// The 2×2 maxima of 8 outputs, values only, from 16 floats of the window's top row `r0` and bottom
/// row `r1`. Each row's pairs reduce first, then the two rows, in the lanes `vshufps` leaves, and one
/// permute puts the 8 results in order. A later element wins only if strictly larger, so the maximum
/// is the first in scan order p00, p01, p10, p11 (this first-max reduction is associative over
/// consecutive runs); any NaN in a window makes its output NaN.
@inline(__always)
func maxPool2x2Values8(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>) -> SIMD8<Float> {
    let a0 = load8(r0), a1 = load8(r0, 8), b0 = load8(r1), b1 = load8(r1, 8)
    let p00 = laneEvens(a0, a1), p01 = laneOdds(a0, a1), p10 = laneEvens(b0, b1), p11 = laneOdds(b0, b1)
    var top = p00, bottom = p10
    top.replace(with: p01, where: p01 .> top)
    bottom.replace(with: p11, where: p11 .> bottom)
    top.replace(with: bottom, where: bottom .> top)
    top.replace(with: .nan, where: (p00 .!= p00) .| (p01 .!= p01) .| (p10 .!= p10) .| (p11 .!= p11))
    return acrossLanes(top)
}

/// `maxPool2x2Values8` for 4 outputs, from 8 floats of each row.
@inline(__always)
func maxPool2x2Values4(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>) -> SIMD4<Float> {
    let a = load8(r0), b = load8(r1)
    let p01 = a.oddHalf, p10 = b.evenHalf, p11 = b.oddHalf
    var best = a.evenHalf
    let nan = (best .!= best) .| (p01 .!= p01) .| (p10 .!= p10) .| (p11 .!= p11)
    best.replace(with: p01, where: p01 .> best)
    best.replace(with: p10, where: p10 .> best)
    best.replace(with: p11, where: p11 .> best)
    best.replace(with: .nan, where: nan)
    return best
}

/// The 2×2 maxima of 8 outputs and their plane-local indices (`first`: the index of r0[0]), in
/// scan order with `maxWins` (strictly larger, or the first NaN). Each winner mask becomes lane
/// bits once and selects both the value and the index by bitwise ops: `replace(with:where:)` with
/// one mask on a float and an Int32 vector compiled to lane-by-lane mask shuffling.
@inline(__always)
func maxPool2x2Indices8(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, w: Int, first: Int32)
    -> (SIMD8<Float>, SIMD8<Int32>) {
    let a0 = load8(r0), a1 = load8(r0, 8), b0 = load8(r1), b1 = load8(r1, 8)
    let p00 = SIMD8(lowHalf: a0.evenHalf, highHalf: a1.evenHalf), p01 = SIMD8(lowHalf: a0.oddHalf, highHalf: a1.oddHalf)
    let p10 = SIMD8(lowHalf: b0.evenHalf, highHalf: b1.evenHalf), p11 = SIMD8(lowHalf: b0.oddHalf, highHalf: b1.oddHalf)
    // The winner's offset from its window's first element, selected among splats (lane-varying
    // candidates were selected lane by lane in scalar code), then added to the windows' starts.
    var best = p00.bits, offset = SIMD8<Int32>()
    @inline(__always) func step(_ v: SIMD8<Float>, _ candidate: Int32) {
        // `maxWins` as lane bits: strictly larger, or the first NaN (all ones where v wins).
        let b = SIMD8<Float>(bits: best)
        let m = (v .> b)._storage | ((v .!= v)._storage & (b .== b)._storage)
        best = bitSelect(m, v.bits, best)
        offset = bitSelect(m, SIMD8(repeating: candidate), offset)
    }
    step(p01, 1)
    step(p10, Int32(w))
    step(p11, Int32(w + 1))
    return (SIMD8<Float>(bits: best), SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14) &+ first &+ offset)
}

extension SIMD8<Float> {
    /// The lanes' bit patterns.
    @inline(__always) var bits: SIMD8<Int32> { unsafeBitCast(self, to: SIMD8<Int32>.self) }
    /// Lanes from bit patterns.
    @inline(__always) init(bits: SIMD8<Int32>) { self = unsafeBitCast(bits, to: SIMD8<Float>.self) }
}

/// `a` where the lane bits `mask` are all ones, else `b`: a select through `&`, `|`, `~`, for masks
/// kept as lane bits (`SIMDMask._storage`; see `perf/codegen.md`).
@inline(__always)
func bitSelect(_ mask: SIMD8<Int32>, _ a: SIMD8<Int32>, _ b: SIMD8<Int32>) -> SIMD8<Int32> { (a & mask) | (b & ~mask) }

/// `maxPool2x2Indices8` for 4 outputs, from 8 floats of each row.
@inline(__always)
func maxPool2x2Indices4(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, w: Int, first: Int32)
    -> (SIMD4<Float>, SIMD4<Int32>) {
    let a = load8(r0), b = load8(r1)
    let p01 = a.oddHalf, p10 = b.evenHalf, p11 = b.oddHalf
    var best = a.evenHalf
    let base = SIMD4<Int32>(0, 2, 4, 6) &+ first
    var index = base
    var wins = maxWins4(p01, best); best.replace(with: p01, where: wins); index.replace(with: base &+ 1, where: wins)
    wins = maxWins4(p10, best); best.replace(with: p10, where: wins); index.replace(with: base &+ Int32(w), where: wins)
    wins = maxWins4(p11, best); best.replace(with: p11, where: wins); index.replace(with: base &+ Int32(w + 1), where: wins)
    return (best, index)
}

/// Max pooling 3×3, stride 2, padding at most 1 on each side (ResNet's stem pool), values only: the
/// max of the window's (up to) three input rows goes into a row buffer with −∞ beyond both edges
/// (padding never wins), then the max of three neighbouring columns, 8 outputs at a time from
/// contiguous loads and even/odd halves instead of strided gathers. Any NaN in a window makes its
/// output NaN. Equal maxima (±0) may come from another element of the window than the first in scan
/// order; with indices, `maxPoolPlane` keeps the exact scan.
@inline(never)
func maxPool3x3s2Plane(_ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
                       oh: Int, ow: Int, top: Int, left: Int, rowBuffer t: UnsafeMutablePointer<Float>) {
    let width = w + 48, quietNaNBits = SIMD8<Float>(repeating: .nan).bits
    // t: w + 48 floats; t[1 + j]: column j's max over the window's rows
    t.initialize(repeating: -.infinity, count: width)
    for oi in 0..<oh {
        let i0 = 2 * oi - top, r0 = max(0, i0), rows = min(h, i0 + 3) - r0
        let a = x + r0 * w
        var j = 0
        while j + 8 <= w {
            // The NaN lanes are gathered as lane bits: a mask carried across the loop as a SIMDMask
            // compiled to lane-by-lane packing and unpacking (a third of this function's samples).
            var v = load8(a, j), nan = (v .!= v)._storage
            for r in 1..<rows {
                let u = load8(a + r * w, j)
                v.replace(with: u, where: u .> v)
                nan |= (u .!= u)._storage
            }
            store8(SIMD8<Float>(bits: bitSelect(nan, quietNaNBits, v.bits)), t + 1, j)
            j += 8
        }
        while j < w {
            var v = a[j], nan = v.isNaN
            for r in 1..<rows {
                let u = a[r * w + j]
                if u > v { v = u }
                nan = nan || u.isNaN
            }
            t[1 + j] = nan ? .nan : v
            j += 1
        }
        let yRow = y + oi * ow
        var oj = 0
        while oj + 8 <= ow {
            let c = t + 2 * oj - left + 1   // the first column of output oj's window
            let l0 = load8(c), l1 = load8(c, 8), l2 = load8(c, 2), l3 = load8(c, 10)
            let first = SIMD8(lowHalf: l0.evenHalf, highHalf: l1.evenHalf)
            let second = SIMD8(lowHalf: l0.oddHalf, highHalf: l1.oddHalf)
            let third = SIMD8(lowHalf: l2.evenHalf, highHalf: l3.evenHalf)
            var v = first
            v.replace(with: second, where: second .> v)
            v.replace(with: third, where: third .> v)
            v.replace(with: .nan, where: (first .!= first) .| (second .!= second) .| (third .!= third))
            store8(v, yRow, oj)
            oj += 8
        }
        while oj < ow {
            let c = t + 2 * oj - left + 1
            var v = c[0]
            if c[1] > v { v = c[1] }
            if c[2] > v { v = c[2] }
            yRow[oj] = c[0].isNaN || c[1].isNaN || c[2].isNaN ? .nan : v
            oj += 1
        }
    }
}

/// Average pooling 3×3, stride 2, padding at most 1 on each side: as `maxPool3x3s2Plane`, the sum of
/// the window's rows into a row buffer with zeros beyond both edges, then of three neighbouring
/// columns, divided by 9 (`countIncludesPadding`) or by the in-bounds rows × columns. The sum runs
/// column by column rather than in the reference's row-major order (a rounding difference only).
@inline(never)
func avgPool3x3s2Plane(_ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
                       oh: Int, ow: Int, top: Int, left: Int, countIncludesPadding: Bool, rowBuffer t: UnsafeMutablePointer<Float>) {
    let width = w + 48
    // t: w + 48 floats; t[1 + j]: column j's sum over the window's rows
    t.initialize(repeating: 0, count: width)
    let lane = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    for oi in 0..<oh {
        let i0 = 2 * oi - top, r0 = max(0, i0), rows = min(h, i0 + 3) - r0
        let a = x + r0 * w
        var j = 0
        while j + 8 <= w {
            var v = load8(a, j)
            for r in 1..<rows { v += load8(a + r * w, j) }
            store8(v, t + 1, j)
            j += 8
        }
        while j < w {
            var v = a[j]
            for r in 1..<rows { v += a[r * w + j] }
            t[1 + j] = v
            j += 1
        }
        let yRow = y + oi * ow
        var oj = 0
        while oj + 8 <= ow {
            let c = t + 2 * oj - left + 1
            let l0 = load8(c), l1 = load8(c, 8), l2 = load8(c, 2), l3 = load8(c, 10)
            let sum = SIMD8(lowHalf: l0.evenHalf, highHalf: l1.evenHalf) + SIMD8(lowHalf: l0.oddHalf, highHalf: l1.oddHalf)
                + SIMD8(lowHalf: l2.evenHalf, highHalf: l3.evenHalf)
            let count: SIMD8<Float>
            if countIncludesPadding {
                count = SIMD8(repeating: 9)
            } else {
                let first = lane &+ Int32(2 * oj - left)
                let columns = pointwiseMin(first &+ 3, SIMD8(repeating: Int32(w))) &- pointwiseMax(first, SIMD8(repeating: 0))
                count = SIMD8<Float>(columns) * Float(rows)
            }
            store8(sum / count, yRow, oj)
            oj += 8
        }
        while oj < ow {
            let first = 2 * oj - left, c = t + first + 1
            let count = countIncludesPadding ? 9 : rows * (min(w, first + 3) - max(0, first))
            yRow[oj] = (c[0] + c[1] + c[2]) / Float(count)
            oj += 1
        }
    }
}

/// Average pooling of one plane: the in-bounds sum (scan order) divided by the window's count.
@inline(never)
func avgPoolPlane(
    _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
    _ d: PoolWindow, countIncludesPadding: Bool
) {
    let (lo, hi) = interiorColumns(ow: ow, w: w, d)
    for oi in 0..<oh {
        let i0 = oi * d.sh - d.pt
        let kiLo = max(0, -i0), kiHi = min(d.kh, h - i0)
        let yRow = y + oi * ow
        func scalar(_ oj: Int) {
            let j0 = oj * d.sw - d.pl
            let kjLo = max(0, -j0), kjHi = min(d.kw, w - j0)
            var sum: Float = 0
            for ki in kiLo..<kiHi { for kj in kjLo..<kjHi { sum += x[(i0 + ki) * w + j0 + kj] } }
            let count = countIncludesPadding ? d.kh * d.kw : (kiHi - kiLo) * (kjHi - kjLo)
            yRow[oj] = sum / Float(count)
        }
        let groups = SIMDGroups(lo: lo, hi: hi)
        for oj in 0..<groups.scalarEnd { scalar(oj) }
        let count = SIMD8<Float>(repeating: Float(countIncludesPadding ? d.kh * d.kw : (kiHi - kiLo) * d.kw))
        for oj in groups {
            let j0 = oj * d.sw - d.pl
            var sum = SIMD8<Float>()
            for ki in kiLo..<kiHi {
                let row = x + (i0 + ki) * w + j0
                for kj in 0..<d.kw { sum += loadStrided8(row + kj, d.sw) }
            }
            store8(sum / count, yRow, oj)
        }
        for oj in hi..<ow { scalar(oj) }
    }
}

/// y[p] = (Σ of plane p) / planeSize for `planes` contiguous planes (global average pooling, SIMD8):
/// per plane, `vectorSum8` over its whole vectors; then the horizontal sums of 8 planes
/// at once (two rounds of pair sums, `laneEvens` + `laneOdds`, and one of halves), and the planes'
/// last floats added a column at a time across the 8 planes. Each lane only ever adds its own
/// plane's values, so the order of the additions depends on `planeSize` alone, not on which planes
/// a call covers. (A plane at a time, the horizontal sum and the scalar tail were most of the cost
/// of a 7×7 plane: ResNet-50's global pool ran at 13 GB/s.)
@inline(never)
func planeMeans(_ x: UnsafePointer<Float>, planeSize n: Int, planes: Int, _ y: UnsafeMutablePointer<Float>) {
    let whole = n / 8 * 8
    var p = 0
    while p < planes {
        let g = min(8, planes - p), base = x + p * n
        let v0 = vectorSum8(base, whole: whole)
        let v1 = g > 1 ? vectorSum8(base + n, whole: whole) : SIMD8()
        let v2 = g > 2 ? vectorSum8(base + 2 * n, whole: whole) : SIMD8()
        let v3 = g > 3 ? vectorSum8(base + 3 * n, whole: whole) : SIMD8()
        let v4 = g > 4 ? vectorSum8(base + 4 * n, whole: whole) : SIMD8()
        let v5 = g > 5 ? vectorSum8(base + 5 * n, whole: whole) : SIMD8()
        let v6 = g > 6 ? vectorSum8(base + 6 * n, whole: whole) : SIMD8()
        let v7 = g > 7 ? vectorSum8(base + 7 * n, whole: whole) : SIMD8()
        // Lanes (v0 v1 v2 v3 | v0 v1 v2 v3) of four-float sums, then the halves added: one sum per plane.
        let f0 = pairSums(pairSums(v0, v1), pairSums(v2, v3)), f1 = pairSums(pairSums(v4, v5), pairSums(v6, v7))
        var sums = SIMD8(lowHalf: f0.lowHalf + f0.highHalf, highHalf: f1.lowHalf + f1.highHalf)
        for i in whole..<n {
            var column = SIMD8<Float>()
            for j in 0..<g { column[j] = base[j * n + i] }
            sums += column
        }
        let means = sums / SIMD8(repeating: Float(n))
        if g == 8 { store8(means, y, p) } else { for j in 0..<g { y[p + j] = means[j] } }
        p += 8
    }
}

/// (a0+a1, a2+a3, b0+b1, b2+b3, a4+a5, a6+a7, b4+b5, b6+b7): what `vhaddps` computes.
@inline(__always)
private func pairSums(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { laneEvens(a, b) + laneOdds(a, b) }
