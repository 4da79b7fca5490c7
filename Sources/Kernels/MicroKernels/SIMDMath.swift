/// a + b·c for SIMD8, fused where the build targets FMA hardware.
///
/// Swift never fuses `a + b*c` itself, and `addingProduct` without an FMA target CPU
/// becomes eight libm `fmaf` calls (ANCHORS.md §4), so the choice is made at compile time
/// by the `TESSERA_FMA` define that the package's `FMA` trait sets.
@inline(__always)
func madd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
    #if TESSERA_FMA
    return a.addingProduct(b, c)
    #else
    return a + b * c
    #endif
}

/// Unaligned SIMD8 load at element offset `i` (a single `vmovups`; ANCHORS.md §4).
@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int = 0) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

/// Unaligned SIMD8 store at element offset `i`.
@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int = 0) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// max(v, 0) that lets NaN through, compiled to `vmaxps`-class code rather than scalar branches.
@inline(__always)
func relu8(_ v: SIMD8<Float>) -> SIMD8<Float> {
    v.replacing(with: 0, where: v .< 0)
}

/// Eight SIMD8 registers: eight rows of an 8×8 block held in registers.
typealias SIMD8x8 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                     SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// The 8×8 transpose of eight SIMD8 rows: three rounds of even/odd lane splits (a perfect shuffle).
@inline(__always)
func transposed8x8(_ r: SIMD8x8) -> SIMD8x8 {
    var (r0, r1, r2, r3, r4, r5, r6, r7) = r
    for _ in 0..<3 {
        (r0, r1, r2, r3, r4, r5, r6, r7) = (
            SIMD8(lowHalf: r0.evenHalf, highHalf: r1.evenHalf), SIMD8(lowHalf: r2.evenHalf, highHalf: r3.evenHalf),
            SIMD8(lowHalf: r4.evenHalf, highHalf: r5.evenHalf), SIMD8(lowHalf: r6.evenHalf, highHalf: r7.evenHalf),
            SIMD8(lowHalf: r0.oddHalf, highHalf: r1.oddHalf), SIMD8(lowHalf: r2.oddHalf, highHalf: r3.oddHalf),
            SIMD8(lowHalf: r4.oddHalf, highHalf: r5.oddHalf), SIMD8(lowHalf: r6.oddHalf, highHalf: r7.oddHalf))
    }
    return (r0, r1, r2, r3, r4, r5, r6, r7)
}

/// dst[j·ldd + i] = src[i·lds + j] for an 8×8 block, so packing writes whole vectors.
@inline(__always)
func transpose8x8(_ src: UnsafePointer<Float>, _ lds: Int, _ dst: UnsafeMutablePointer<Float>, _ ldd: Int) {
    let (r0, r1, r2, r3, r4, r5, r6, r7) = transposed8x8((
        load8(src), load8(src + lds), load8(src + 2 * lds), load8(src + 3 * lds),
        load8(src + 4 * lds), load8(src + 5 * lds), load8(src + 6 * lds), load8(src + 7 * lds)))
    store8(r0, dst); store8(r1, dst + ldd); store8(r2, dst + 2 * ldd); store8(r3, dst + 3 * ldd)
    store8(r4, dst + 4 * ldd); store8(r5, dst + 5 * ldd); store8(r6, dst + 6 * ldd); store8(r7, dst + 7 * ldd)
}

