/// SIMD8 elementwise micro-kernels over contiguous ranges.

/// e^d for SIMD8 where d ≤ 0 or NaN, as softmax's d = x − max is: d = n·ln2 + r with |r| ≤ ln2/2
/// (Cody–Waite, Cephes' split of ln2), e^r by a degree-6 polynomial, then 2^n put in the exponent
/// field. The coefficients are a relative-error minimax fit on [−ln2/2, ln2/2] (fit error 2·10⁻⁹):
/// 0.87 ulp at most for e^r with fused multiply-adds (2·10⁶ random r, against float64), so e^d is
/// within about 1.5 ulp. Below ln 2⁻¹²⁷ ≈ −88.03 it gives 0 (n = −127 makes the exponent field 0;
/// the true values there are under 1.2·10⁻³⁸); NaN stays NaN (`maxps` keeps its second operand and
/// the arithmetic carries it). `testSoftmaxExponentialAccuracy` enforces 3·2⁻²³ through softmax.
///
/// No overflow path and no NaN or range fix-ups, which the general exp needs and softmax does not:
/// 10 multiply-adds, a max, a subtract and a shift. `expNonPositive16` in `KernelsAVX512` is the same
/// one zmm wide (that module is compiled for another CPU and cannot inline this one).
@inline(__always)
func expNonPositive8(_ d: SIMD8<Float>) -> SIMD8<Float> {
    let lo = SIMD8<Float>(repeating: -88.029_69)
    let v = d.replacing(with: lo, where: d .< lo)
    // 1.5·2²³ + 127: adding it rounds v·log2(e) to an integer n and leaves n + 127 in the low bits.
    let magic = SIMD8<Float>(repeating: 12_583_039)
    let shifted = madd(magic, v, SIMD8<Float>(repeating: 1.442_695_04))
    let n = shifted - magic
    var r = madd(v, n, SIMD8<Float>(repeating: -0.693_359_375))
    r = madd(r, n, SIMD8<Float>(repeating: 2.121_944_4e-4))
    var p = SIMD8<Float>(repeating: 1.384_365_4e-3)
    p = madd(SIMD8<Float>(repeating: 8.374_155_5e-3), p, r)
    p = madd(SIMD8<Float>(repeating: 4.166_800_2e-2), p, r)
    p = madd(SIMD8<Float>(repeating: 1.666_643_2e-1), p, r)
    p = madd(SIMD8<Float>(repeating: 0.499_999_94), p, r)
    p = madd(SIMD8<Float>(repeating: 1), p, r)
    p = madd(SIMD8<Float>(repeating: 1), p, r)
    // (0x4B40_0000 + n + 127) << 23: the shift drops the magic's bits, leaving 2^n's exponent field.
    let scale = unsafeBitCast(unsafeBitCast(shifted, to: SIMD8<Int32>.self) &<< 23, to: SIMD8<Float>.self)
    return p * scale
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
    while i + 8 <= count { let e = expNonPositive8(load8(p, i) - mv); store8(e, p, i); s8 += e; i += 8 }
    var s = s8.sum()
    while i < count {
        let e = expNonPositive8(SIMD8<Float>(repeating: p[i] - m))[0]
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
