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
/// output row, deinterleaved into the four window positions in scan order.
@inline(never)
func maxPool2x2s2Plane(
    _ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
    _ indices: UnsafeMutablePointer<Int32>?, oh: Int, ow: Int
) {
    let even = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    for oi in 0..<oh {
        let r0 = x + 2 * oi * w, r1 = r0 + w
        let yRow = y + oi * ow
        // A group of 8 outputs reads 16 floats from column 2·oj, a group of 4 reads 8: keep them in the row.
        var oj = coverWithGroups(from: 0, to: ow, width: 8, last: ow >= 8 && w >= 16 ? min(ow - 8, (w - 16) / 2) : -1) { oj in
            let a0 = load8(r0, 2 * oj), a1 = load8(r0, 2 * oj + 8), b0 = load8(r1, 2 * oj), b1 = load8(r1, 2 * oj + 8)
            let p00 = SIMD8(lowHalf: a0.evenHalf, highHalf: a1.evenHalf), p01 = SIMD8(lowHalf: a0.oddHalf, highHalf: a1.oddHalf)
            let p10 = SIMD8(lowHalf: b0.evenHalf, highHalf: b1.evenHalf), p11 = SIMD8(lowHalf: b0.oddHalf, highHalf: b1.oddHalf)
            var best = p00
            if let indices {
                let base = SIMD8<Int32>(repeating: Int32(2 * oi * w + 2 * oj)) &+ even
                var index = base
                var wins = maxWins(p01, best); best.replace(with: p01, where: wins); index.replace(with: base &+ 1, where: wins)
                wins = maxWins(p10, best); best.replace(with: p10, where: wins); index.replace(with: base &+ Int32(w), where: wins)
                wins = maxWins(p11, best); best.replace(with: p11, where: wins); index.replace(with: base &+ Int32(w + 1), where: wins)
                UnsafeMutableRawPointer(indices + oi * ow + oj).storeBytes(of: index, as: SIMD8<Int32>.self)
            } else {
                // Values only: a plain max; any NaN in the window makes the output NaN.
                let nan = (p00 .!= p00) .| (p01 .!= p01) .| (p10 .!= p10) .| (p11 .!= p11)
                best.replace(with: p01, where: p01 .> best)
                best.replace(with: p10, where: p10 .> best)
                best.replace(with: p11, where: p11 .> best)
                best.replace(with: .nan, where: nan)
            }
            store8(best, yRow, oj)
        }
        // Narrow rows (VGG's pool4/pool5) and what is left: groups of 4 outputs from 8 floats per row.
        oj = coverWithGroups(from: oj, to: ow, width: 4, last: ow >= 4 && w >= 8 ? min(ow - 4, (w - 8) / 2) : -1) { oj in
            let a = load8(r0, 2 * oj), b = load8(r1, 2 * oj)
            let p01 = a.oddHalf, p10 = b.evenHalf, p11 = b.oddHalf
            var best = a.evenHalf
            guard let indices else {
                // Values only, as in the groups of 8: a plain max, NaN if any NaN in the window.
                let nan = (best .!= best) .| (p01 .!= p01) .| (p10 .!= p10) .| (p11 .!= p11)
                best.replace(with: p01, where: p01 .> best)
                best.replace(with: p10, where: p10 .> best)
                best.replace(with: p11, where: p11 .> best)
                best.replace(with: .nan, where: nan)
                UnsafeMutableRawPointer(yRow + oj).storeBytes(of: best, as: SIMD4<Float>.self)
                return
            }
            var wins = maxWins4(p01, best); best.replace(with: p01, where: wins)
            var index = SIMD4<Int32>(0, 2, 4, 6) &+ Int32(2 * oi * w + 2 * oj)
            let base = index
            index.replace(with: base &+ 1, where: wins)
            wins = maxWins4(p10, best); best.replace(with: p10, where: wins); index.replace(with: base &+ Int32(w), where: wins)
            wins = maxWins4(p11, best); best.replace(with: p11, where: wins); index.replace(with: base &+ Int32(w + 1), where: wins)
            UnsafeMutableRawPointer(yRow + oj).storeBytes(of: best, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(indices + oi * ow + oj).storeBytes(of: index, as: SIMD4<Int32>.self)
        }
        while oj < ow {
            let first = 2 * oi * w + 2 * oj
            var bestIndex = first, best = x[first]
            maxStep(&best, &bestIndex, x[first + 1], first + 1)
            maxStep(&best, &bestIndex, x[first + w], first + w)
            maxStep(&best, &bestIndex, x[first + w + 1], first + w + 1)
            yRow[oj] = best
            indices?[oi * ow + oj] = Int32(bestIndex)
            oj += 1
        }
    }
}

/// Covers outputs [from, to) with groups of `width` starting at most at `last` (−1: none fit),
/// moving a last partial group back so that it overlaps the previous one (recomputing outputs
/// gives identical results). Returns the end of the covered range; the rest is the caller's.
/// Max pooling 3×3, stride 2, padding at most 1 on each side (ResNet's stem pool), values only: the
/// max of the window's (up to) three input rows goes into a row buffer with −∞ beyond both edges
/// (padding never wins), then the max of three neighbouring columns, 8 outputs at a time from
/// contiguous loads and even/odd halves instead of strided gathers. Any NaN in a window makes its
/// output NaN. Equal maxima (±0) may come from another element of the window than the first in scan
/// order; with indices, `maxPoolPlane` keeps the exact scan.
@inline(never)
func maxPool3x3s2Plane(_ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
                       oh: Int, ow: Int, top: Int, left: Int) {
    let width = w + 48
    withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { buffer in
        let t = buffer.baseAddress!   // t[1 + j]: column j's max over the window's rows
        t.initialize(repeating: -.infinity, count: width)
        for oi in 0..<oh {
            let i0 = 2 * oi - top, r0 = max(0, i0), rows = min(h, i0 + 3) - r0
            let a = x + r0 * w
            var j = 0
            while j + 8 <= w {
                var v = load8(a, j), nan = v .!= v
                for r in 1..<rows {
                    let u = load8(a + r * w, j)
                    v.replace(with: u, where: u .> v)
                    nan = nan .| (u .!= u)
                }
                v.replace(with: .nan, where: nan)
                store8(v, t + 1, j)
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
}

/// Average pooling 3×3, stride 2, padding at most 1 on each side: as `maxPool3x3s2Plane`, the sum of
/// the window's rows into a row buffer with zeros beyond both edges, then of three neighbouring
/// columns, divided by 9 (`countIncludesPadding`) or by the in-bounds rows × columns. The sum runs
/// column by column rather than in the reference's row-major order (a rounding difference only).
@inline(never)
func avgPool3x3s2Plane(_ x: UnsafePointer<Float>, h: Int, w: Int, _ y: UnsafeMutablePointer<Float>,
                       oh: Int, ow: Int, top: Int, left: Int, countIncludesPadding: Bool) {
    let width = w + 48
    withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { buffer in
        let t = buffer.baseAddress!   // t[1 + j]: column j's sum over the window's rows
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
}

@inline(__always)
func coverWithGroups(from: Int, to end: Int, width: Int, last: Int, _ body: (Int) -> Void) -> Int {
    var covered = from
    while covered < end && last >= 0 && last + width > covered {
        let start = Swift.min(covered, last)
        body(start)
        covered = start + width
    }
    return covered
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
