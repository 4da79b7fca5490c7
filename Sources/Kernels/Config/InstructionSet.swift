/// What the kernels were compiled for, as Bench prints it (README "Code generation").
public enum InstructionSet {
    /// A human-readable name of the instruction set the SIMD kernels target.
    public static var name: String {
        #if TESSERA_FMA
        return "x86-64-v3: AVX2 + FMA3 (trait FMA, -target-cpu haswell), SIMD8<Float> on ymm, fused multiply-add"
        #elseif arch(x86_64)
        return "x86-64 baseline: SSE2, no FMA (trait FMA off); a + b*c in the kernels"
        #elseif arch(arm64)
        return "arm64: NEON; a + b*c in the kernels"
        #else
        return "portable: a + b*c in the kernels"
        #endif
    }

    /// True when the kernels use fused multiply-add (`addingProduct`).
    public static var usesFusedMultiplyAdd: Bool {
        #if TESSERA_FMA
        return true
        #else
        return false
        #endif
    }

    /// True when the AVX-512 kernels run: built with the `AVX512` trait, on a CPU that has it.
    public static var usesAVX512: Bool {
        #if TESSERA_AVX512
        return CPUFeatures.hasAVX512
        #else
        return false
        #endif
    }
}
