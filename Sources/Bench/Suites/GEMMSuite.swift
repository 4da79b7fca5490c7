import Kernels
import Scheduler

/// Suite `gemm`: SGEMM squares, the conv-as-GEMM shapes of VGG-16 and ResNet-50, and FC6.
enum GEMMSuite {
    static let suite = Suite(name: "gemm") { ctx in
        let shapes = Shapes.squares(quick: ctx.options.quick) + Shapes.convAsGEMM + Shapes.fullyConnected
        for s in shapes where ctx.wants("gemm", s.name) {
            try measure(s, ctx)
        }
    }

    static func measure(_ s: Shapes.GEMMShape, _ ctx: BenchContext) throws {
        ctx.reporter.progress("gemm/\(s.name)")
        var g = SeededGenerator(seed: 7)
        let a = try Tensor(shape: [s.m, s.k], generator: &g)
        let bShape = s.transB == .none ? [s.k, s.n] : [s.n, s.k]
        let b = try Tensor(shape: bShape, generator: &g)
        var c = try Tensor(shape: [s.m, s.n], repeating: .nan)
        let ldb = bShape[1]
        func call(_ threads: Int) throws {
            try a.withUnsafeBufferPointer { a in
                try b.withUnsafeBufferPointer { b in
                    try c.withUnsafeMutableBufferPointer { c in
                        try GEMM.sgemm(transB: s.transB, m: s.m, n: s.n, k: s.k, a: a, lda: s.k, b: b, ldb: ldb,
                                       c: c, ldc: s.n, threads: threads)
                    }
                }
            }
        }
        try call(1)
        let error = spotCheck(s, a, b, c)
        if error > 1e-6 * Double(s.k).squareRoot() {
            throw BenchError.validation("gemm/\(s.name): normalized error \(error)")
        }
        let flops = 2 * Double(s.m) * Double(s.n) * Double(s.k)
        let bytes = 4 * Double(s.m * s.k + s.k * s.n + s.m * s.n)
        let memoryBound = s.m <= 4
        for threads in ctx.threadCounts {
            let budget = ctx.options.quick ? 0.1 : 0.4
            let t = Measure.median(minRepeats: ctx.options.quick ? 3 : 5, budget: budget) { try! call(threads) }
            let path = GEMM.path(transB: s.transB, m: s.m, n: s.n, k: s.k)
            let algorithm = switch path {
            case .rowVector: "row-vector \(s.transB == .transpose ? "dot" : "axpy") (no packing)"
            case .packed, .transposed: "\(path.rawValue) \(GEMMMicroKernel.active.rawValue)"
            case .rankK, .unpackedA, .unpackedATransposed, .packedB, .packedA, .inPlace: path.rawValue
            }
            ctx.reporter.record(CaseResult(
                suite: "gemm", name: s.name, threads: threads, seconds: t,
                gflops: flops / t / 1e9, gbps: bytes / t / 1e9,
                peakFraction: memoryBound ? bytes / t / 1e9 / ctx.peak.dram(threads: threads)
                                          : flops / t / 1e9 / ctx.peak.fma(threads: threads),
                maxError: error, algorithm: algorithm,
                shape: "\(s.m)x\(s.n)x\(s.k)\(s.transB == .transpose ? "xT" : "")"))
        }
    }

    /// SPEC §4's error on 64 sampled elements: max |c − c_ref| / max Σ|a·b|, with c_ref in Double.
    static func spotCheck(_ s: Shapes.GEMMShape, _ a: Tensor, _ b: Tensor, _ c: Tensor) -> Double {
        var g = SeededGenerator(seed: 99)
        var worst = 0.0, scale = 0.0
        for _ in 0..<64 {
            let i = Int(g.next() % UInt64(s.m)), j = Int(g.next() % UInt64(s.n))
            var sum = 0.0, abs = 0.0
            for p in 0..<s.k {
                let bv = s.transB == .none ? b[flat: p * s.n + j] : b[flat: j * s.k + p]
                let prod = Double(a[flat: i * s.k + p]) * Double(bv)
                sum += prod; abs += Swift.abs(prod)
            }
            worst = max(worst, Swift.abs(Double(c[flat: i * s.n + j]) - sum))
            scale = max(scale, abs)
        }
        return worst / max(scale, 1e-30)
    }
}
