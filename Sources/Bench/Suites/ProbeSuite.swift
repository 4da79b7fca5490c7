import Kernels

/// Suite `kernel`: micro-kernels alone, on L1-resident data: the ceiling the drivers aim at.
enum ProbeSuite {
    static let suite = Suite(name: "kernel") { ctx in
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            let name = "sgemm_\(kernel == .avx512_8x32 ? "8x32_avx512" : "6x16_simd8")_L1"
            guard ctx.wants("kernel", name) else { continue }
            let calls = ctx.options.quick ? 20_000 : 100_000
            var flops = 0.0
            let t = Measure.median(minRepeats: 5, budget: 0) { flops = GEMM.microKernelProbe(kernel, calls: calls) }
            ctx.reporter.record(CaseResult(suite: "kernel", name: name, threads: 1, seconds: t,
                                           gflops: flops / t / 1e9, peakFraction: flops / t / 1e9 / ctx.peak.fmaGflops1,
                                           algorithm: "\(kernel.rawValue), kc 256, L1-resident panels"))
        }
    }
}
