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
