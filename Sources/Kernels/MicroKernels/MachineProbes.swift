import CPUHints
#if TESSERA_AVX512
import KernelsAVX512
#endif

/// Micro-kernels that measure the machine itself: the FMA peak and memory bandwidth.
/// Bench reports every kernel as a fraction of these figures (SPEC §6).
public enum MachineProbes {
    /// Runs `iterations` rounds of 12 independent SIMD8 multiply-add chains: 192 flops a round.
    ///
    /// Twelve chains cover the 4-cycle FMA latency on two FMA pipes with room to spare.
    /// - Returns: a checksum, so that the work cannot be optimized away.
    @inline(never)
    public static func fmaChains(iterations: Int) -> Float {
        let a = SIMD8<Float>(repeating: 0.999_9), b = SIMD8<Float>(repeating: 1e-4)
        var c0 = SIMD8<Float>(repeating: 0.1), c1 = c0 + 0.01, c2 = c0 + 0.02, c3 = c0 + 0.03
        var c4 = c0 + 0.04, c5 = c0 + 0.05, c6 = c0 + 0.06, c7 = c0 + 0.07
        var c8 = c0 + 0.08, c9 = c0 + 0.09, c10 = c0 + 0.10, c11 = c0 + 0.11
        for _ in 0..<iterations {
            c0 = madd(b, c0, a); c1 = madd(b, c1, a); c2 = madd(b, c2, a); c3 = madd(b, c3, a)
            c4 = madd(b, c4, a); c5 = madd(b, c5, a); c6 = madd(b, c6, a); c7 = madd(b, c7, a)
            c8 = madd(b, c8, a); c9 = madd(b, c9, a); c10 = madd(b, c10, a); c11 = madd(b, c11, a)
        }
        let s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11))
        return s.sum()
    }

    /// Flops done by one call of `fmaChains(iterations:)`.
    public static func fmaChainsFlops(iterations: Int) -> Double { Double(iterations) * 12 * 8 * 2 }

    /// Sums `count` floats (a multiple of 64) with eight independent SIMD8 accumulators, enough to
    /// keep two loads a cycle in flight past the add latency: a read-bandwidth probe. It prefetches
    /// 2 KiB ahead, as the kernels that stream from DRAM may: on a Xeon VM the hardware prefetcher
    /// alone read 10.4 / 20.9 GB/s (1 / 2 threads), with this 11.4 / 22.7, which the FC6 GEMV reached.
    @inline(never)
    public static func readSum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0
        var i = 0
        while i + 64 <= count {
            let ahead = p + i + 512
            tessera_prefetch_read(ahead); tessera_prefetch_read(ahead + 16)
            tessera_prefetch_read(ahead + 32); tessera_prefetch_read(ahead + 48)
            s0 += load8(p, i); s1 += load8(p, i + 8); s2 += load8(p, i + 16); s3 += load8(p, i + 24)
            s4 += load8(p, i + 32); s5 += load8(p, i + 40); s6 += load8(p, i + 48); s7 += load8(p, i + 56)
            i += 64
        }
        var s = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))).sum()
        while i < count { s += p[i]; i += 1 }
        return s
    }

    /// a[i] = b[i] + s·c[i] over `count` floats (a multiple of 8): the STREAM triad.
    @inline(never)
    public static func triad(
        _ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        scalar: Float, count: Int
    ) {
        let s = SIMD8<Float>(repeating: scalar)
        var i = 0
        while i + 8 <= count {
            store8(madd(load8(b, i), s, load8(c, i)), a, i)
            i += 8
        }
    }
}

extension MachineProbes {
    /// The widest FMA this build and CPU can run: "zmm" (AVX-512) or "ymm"/"vector".
    public static var widestFMA: String {
        GEMMMicroKernel.avx512_8x32.isSupported ? "512-bit (zmm)" : (InstructionSet.usesFusedMultiplyAdd ? "256-bit (ymm)" : "unfused")
    }

    /// Like `fmaChains`, with the widest vectors this CPU runs: 16 zmm chains where AVX-512 is
    /// available (512 flops a round), else the SIMD8 chains (192 flops a round).
    /// - Returns: the flops done (the checksum goes to `sink`).
    public static func widestFMAChains(iterations: Int, sink: UnsafeMutablePointer<Float>) -> Double {
        #if TESSERA_AVX512
        if GEMMMicroKernel.avx512_8x32.isSupported {
            sink.pointee = fmaChainsAVX512(iterations: iterations)
            return Double(iterations) * 16 * 16 * 2
        }
        #endif
        sink.pointee = fmaChains(iterations: iterations)
        return fmaChainsFlops(iterations: iterations)
    }
}
