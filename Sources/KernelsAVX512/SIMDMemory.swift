// Unaligned SIMD16 (zmm) and SIMD8 (ymm) loads and stores for this module's kernels: one `vmovups`
// each. `@inline(__always)` helpers: a generic `loadUnaligned` called straight from a large kernel
// stayed an out-of-line call (the column-edge kernel, before it used these). `Kernels` has its own
// load8/store8 (SIMDMath.swift): this module is compiled for another CPU and shares no inlined code.

@inline(__always)
func load16(_ p: UnsafePointer<Float>, _ i: Int = 0) -> SIMD16<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int = 0) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD16<Float>.self)
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
