// AVX-512 elementwise micro-kernels (see SGEMMKernel8x32AVX512.swift for why they live in this module).

/// e^d for d ≤ 0 or NaN: `expNonPositive8` of `Kernels` (its note gives the method and the
/// accuracy, about 1.5 ulp), one zmm wide. A copy because this module is compiled for another CPU and
/// cannot share inlined code with `Kernels`. The exp loop is bound by the FMA pipe (one zmm FMA per
/// cycle on Zen 4): 10 multiply-adds per vector, against 11 and four compare-and-blend fix-ups for
/// the general Cephes exp this replaced.
@inline(__always)
private func expNonPositive16(_ d: SIMD16<Float>) -> SIMD16<Float> {
    let lo = SIMD16<Float>(repeating: -88.029_69)
    let v = d.replacing(with: lo, where: d .< lo)
    // 1.5·2²³ + 127: adding it rounds v·log2(e) to an integer n and leaves n + 127 in the low bits.
    let magic = SIMD16<Float>(repeating: 12_583_039)
    let shifted = magic.addingProduct(v, SIMD16<Float>(repeating: 1.442_695_04))
    let n = shifted - magic
    var r = v.addingProduct(n, SIMD16<Float>(repeating: -0.693_359_375))
    r = r.addingProduct(n, SIMD16<Float>(repeating: 2.121_944_4e-4))
    var p = SIMD16<Float>(repeating: 1.384_365_4e-3)
    p = SIMD16<Float>(repeating: 8.374_155_5e-3).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 4.166_800_2e-2).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1.666_643_2e-1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 0.499_999_94).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1).addingProduct(p, r)
    // (0x4B40_0000 + n + 127) << 23: the shift drops the magic's bits, leaving 2^n's exponent field.
    let scale = unsafeBitCast(unsafeBitCast(shifted, to: SIMD16<Int32>.self) &<< 23, to: SIMD16<Float>.self)
    return p * scale
}

/// Softmax of one row of `count` ≥ 16 floats, y = e^(x − max) / Σ e^(x − max), with `y` equal to `x`
/// allowed (in place). Returns the max (NaN if any input is NaN) and Σ e^(x − max).
///
/// Max over four accumulators with `maxps`, NaN tracked on the side; exponentials and sum over
/// 16 lanes; the last partial vector is loaded before the passes write (so that in-place works),
/// computed overlapping the vector before it, and only its new lanes are summed.
@inline(never)
public func softmaxRowAVX512(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) -> (max: Float, sum: Float) {
    let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    // The tail vector's lanes that the full vectors already cover: all of them when 16 divides n.
    let tail = load16(x + n - 16), repeated = lanes .< Int32(16 - n % 16)
    var m0 = SIMD16<Float>(repeating: -.infinity), m1 = m0, m2 = m0, m3 = m0
    var nan = tail .!= tail
    var i = 0
    while i + 64 <= n {
        let a = load16(x + i), b = load16(x + i + 16), c = load16(x + i + 32), d = load16(x + i + 48)
        nan = nan .| (a .!= a) .| (b .!= b) .| (c .!= c) .| (d .!= d)
        m0.replace(with: a, where: a .> m0); m1.replace(with: b, where: b .> m1)
        m2.replace(with: c, where: c .> m2); m3.replace(with: d, where: d .> m3)
        i += 64
    }
    while i + 16 <= n {
        let a = load16(x + i)
        nan = nan .| (a .!= a)
        m0.replace(with: a, where: a .> m0)
        i += 16
    }
    m0.replace(with: tail, where: tail .> m0)
    m0.replace(with: m1, where: m1 .> m0); m2.replace(with: m3, where: m3 .> m2); m0.replace(with: m2, where: m2 .> m0)
    let maximum = any(nan) ? Float.nan : m0.max()
    let mv = SIMD16<Float>(repeating: maximum)
    let tailExp = expNonPositive16(tail - mv)
    var s0 = tailExp.replacing(with: 0, where: repeated), s1 = SIMD16<Float>()
    i = 0
    while i + 32 <= n {
        let e0 = expNonPositive16(load16(x + i) - mv), e1 = expNonPositive16(load16(x + i + 16) - mv)
        store16(e0, y + i); store16(e1, y + i + 16)
        s0 += e0; s1 += e1
        i += 32
    }
    if i + 16 <= n {
        let e0 = expNonPositive16(load16(x + i) - mv)
        store16(e0, y + i)
        s0 += e0
    }
    store16(tailExp, y + n - 16)
    let s8 = (s0 + s1).lowHalf + (s0 + s1).highHalf, s4 = s8.lowHalf + s8.highHalf, s2 = s4.lowHalf + s4.highHalf
    let sum = s2[0] + s2[1]
    // Scale: the last vector is read before the loop rewrites any of it, then stored whole.
    let scale = SIMD16<Float>(repeating: 1 / sum), scaledTail = load16(y + n - 16) * scale
    i = 0
    while i + 16 <= n { store16(load16(y + i) * scale, y + i); i += 16 }
    store16(scaledTail, y + n - 16)
    return (maximum, sum)
}
