/// SIMD8 elementwise micro-kernels over contiguous ranges.

/// e^x for SIMD8 (Cephes expf: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial, ≈ 1 ulp).
/// Inputs below −87.3 give 0 and above 88.7 give +∞; NaN stays NaN.
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let hi = SIMD8<Float>(repeating: 88.72283), lo = SIMD8<Float>(repeating: -87.33654)
    var v = x.replacing(with: hi, where: x .> hi)
    v.replace(with: lo, where: v .< lo)
    // Round x·log2(e) to an integer with the 1.5·2^23 trick: its low mantissa bits then hold n.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = madd(magic, v, SIMD8<Float>(repeating: 1.442_695_04))
    let n = shifted - magic
    var r = madd(v, n, SIMD8<Float>(repeating: -0.693_359_375))
    r = madd(r, n, SIMD8<Float>(repeating: 2.121_944_4e-4))
    var p = SIMD8<Float>(repeating: 1.987_569_1e-4)
    p = madd(SIMD8<Float>(repeating: 1.398_199_9e-3), p, r)
    p = madd(SIMD8<Float>(repeating: 8.333_452e-3), p, r)
    p = madd(SIMD8<Float>(repeating: 4.166_579_6e-2), p, r)
    p = madd(SIMD8<Float>(repeating: 1.666_666_5e-1), p, r)
    p = madd(SIMD8<Float>(repeating: 0.5), p, r)
    p = madd(r + 1, p, r * r)
    // 2^n built in the exponent field; n ∈ [−126, 128] after the clamp.
    let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    var result = p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    result.replace(with: Float.infinity, where: x .> hi)
    result.replace(with: 0, where: x .< lo)
    result.replace(with: x, where: x .!= x)
    return result
}

/// y[i] = max(x[i], 0), NaN passing.
@inline(never)
func reluKernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 32 <= count {
        store8(relu8(load8(x, i)), y, i); store8(relu8(load8(x, i + 8)), y, i + 8)
        store8(relu8(load8(x, i + 16)), y, i + 16); store8(relu8(load8(x, i + 24)), y, i + 24)
        i += 32
    }
    while i + 8 <= count { store8(relu8(load8(x, i)), y, i); i += 8 }
    while i < count { y[i] = x[i] < 0 ? 0 : x[i]; i += 1 }
}

/// dy[i] = x[i] > 0 ? dy[i] : 0.
@inline(never)
func reluBackwardKernel(_ dy: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        store8(load8(dy, i).replacing(with: 0, where: .!(load8(x, i) .> 0)), dy, i)
        i += 8
    }
    while i < count { if !(x[i] > 0) { dy[i] = 0 }; i += 1 }
}

/// p[i] += s.
@inline(never)
func addScalarKernel(_ p: UnsafeMutablePointer<Float>, _ s: Float, count: Int) {
    let v = SIMD8<Float>(repeating: s)
    var i = 0
    while i + 8 <= count { store8(load8(p, i) + v, p, i); i += 8 }
    while i < count { p[i] += s; i += 1 }
}

/// p[i] *= s.
@inline(never)
func scaleKernel(_ p: UnsafeMutablePointer<Float>, _ s: Float, count: Int) {
    let v = SIMD8<Float>(repeating: s)
    var i = 0
    while i + 8 <= count { store8(load8(p, i) * v, p, i); i += 8 }
    while i < count { p[i] *= s; i += 1 }
}

/// p[i] *= q[i].
@inline(never)
func multiplyKernel(_ p: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count { store8(load8(p, i) * load8(q, i), p, i); i += 8 }
    while i < count { p[i] *= q[i]; i += 1 }
}

/// Softmax of one row in place; returns the row's max and Σ e^(x − max).
@inline(never)
func softmaxRowKernel(_ p: UnsafeMutablePointer<Float>, count: Int) -> (max: Float, sum: Float) {
    var m8 = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= count { let v = load8(p, i); m8.replace(with: v, where: v .> m8 .| (v .!= v)); i += 8 }
    var m = -Float.infinity
    for l in 0..<8 where m8[l] > m || m8[l].isNaN { m = m8[l] }
    while i < count { if p[i] > m || p[i].isNaN { m = p[i] }; i += 1 }
    let mv = SIMD8<Float>(repeating: m)
    var s8 = SIMD8<Float>()
    i = 0
    while i + 8 <= count { let e = exp8(load8(p, i) - mv); store8(e, p, i); s8 += e; i += 8 }
    var s = s8.sum()
    while i < count {
        let e = exp8(SIMD8<Float>(repeating: p[i] - m))[0]
        p[i] = e; s += e; i += 1
    }
    scaleKernel(p, 1 / s, count: count)
    return (m, s)
}

/// g[i] = (g[i] − t[i])·scale in place; returns Σ (g[i] − t[i])² in Double.
@inline(never)
func squaredDifferenceKernel(_ g: UnsafeMutablePointer<Float>, _ t: UnsafePointer<Float>, scale: Float, count: Int) -> Double {
    var total = 0.0
    var i = 0
    let sv = SIMD8<Float>(repeating: scale)
    while i + 8 <= count {
        let d = load8(g, i) - load8(t, i)
        total += Double((d * d).sum())
        store8(d * sv, g, i)
        i += 8
    }
    while i < count { let d = g[i] - t[i]; total += Double(d * d); g[i] = d * scale; i += 1 }
    return total
}

/// v ← μ·v + (g + λ·w); w ← w − η·v.
@inline(never)
func sgdKernel(
    _ w: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    eta: Float, mu: Float, lambda: Float, count: Int
) {
    let e = SIMD8<Float>(repeating: -eta), m = SIMD8<Float>(repeating: mu), l = SIMD8<Float>(repeating: lambda)
    var i = 0
    while i + 8 <= count {
        let wi = load8(w, i)
        let vi = madd(madd(load8(g, i), l, wi), m, load8(v, i))
        store8(vi, v, i)
        store8(madd(wi, e, vi), w, i)
        i += 8
    }
    while i < count {
        let vi = mu * v[i] + (g[i] + lambda * w[i])
        v[i] = vi
        w[i] = w[i] - eta * vi
        i += 1
    }
}

/// Σ p[i], in a fixed order (four SIMD8 accumulators, then the tail), so the sum is reproducible.
@inline(never)
func sumKernel(_ p: UnsafePointer<Float>, count: Int) -> Float {
    let whole = count / 8 * 8
    var total = vectorSum8(p, whole: whole).sum()
    for i in whole..<count { total += p[i] }
    return total
}

/// Σ over the first `whole` floats (a multiple of 8) in four SIMD8 accumulators, as one SIMD8:
/// the vector part of `sumKernel` and of `planeMeans`.
@inline(__always)
func vectorSum8(_ p: UnsafePointer<Float>, whole: Int) -> SIMD8<Float> {
    var s0 = SIMD8<Float>(), s1 = s0, s2 = s0, s3 = s0
    var i = 0
    while i + 32 <= whole {
        s0 += load8(p, i); s1 += load8(p, i + 8); s2 += load8(p, i + 16); s3 += load8(p, i + 24)
        i += 32
    }
    while i < whole { s0 += load8(p, i); i += 8 }
    return (s0 + s1) + (s2 + s3)
}

/// p[i] += q[i].
@inline(never)
func addKernel(_ p: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count { store8(load8(p, i) + load8(q, i), p, i); i += 8 }
    while i < count { p[i] += q[i]; i += 1 }
}
