import Kernels

/// Suite `network`: VGG-16 at batch 1 (SEEDS-DIGEST §4.1), built from the public kernels: the
/// feature stack (13 convolutions with bias and ReLU fused, 5 max-pools) and the whole forward
/// (plus FC6–FC8 with ReLU, and softmax). Weights are random; the work is the real one.
enum NetworkSuite {
    static let featureConfig: [Int] = [64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1]

    struct VGG16 {
        var convs: [Conv2DPlan] = []
        var fc: [(w: Tensor, b: Tensor)] = []

        init() throws {
            var c = 3, seed: UInt64 = 100
            for v in featureConfig where v > 0 {
                let d = Conv2DDescriptor(inChannels: c, outChannels: v, kernel: 3, padding: 1)
                let scale = (2 / Float(c * 9)).squareRoot()
                convs.append(try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape, seed: seed, low: -scale, high: scale),
                                            bias: try Tensor(shape: [v], repeating: 0.01), relu: true))
                c = v
                seed += 1
            }
            for (i, o) in [(25088, 4096), (4096, 4096), (4096, 1000)] {
                let scale = (2 / Float(i)).squareRoot()
                fc.append((try Tensor(shape: [o, i], seed: seed, low: -scale, high: scale), try Tensor(shape: [o], repeating: 0.01)))
                seed += 1
            }
        }

        func features(_ x: Tensor, threads: Int) throws -> Tensor {
            var h = x, conv = 0
            for v in featureConfig {
                if v > 0 {
                    h = try convs[conv].forward(h, threads: threads)
                    conv += 1
                } else {
                    h = try Pooling.maxPool2d(h, .init(window: 2, stride: 2), threads: threads).output
                }
            }
            return h
        }

        func forward(_ x: Tensor, threads: Int) throws -> Tensor {
            var h = try features(x, threads: threads).reshaped([x.shape[0], 25088])
            for (i, layer) in fc.enumerated() {
                let (out, inF) = (layer.w.shape[0], layer.w.shape[1])
                var y = try Tensor(shape: [h.shape[0], out])
                try h.withUnsafeBufferPointer { a in
                    try layer.w.withUnsafeBufferPointer { w in
                        try layer.b.withUnsafeBufferPointer { b in
                            try y.withUnsafeMutableBufferPointer { c in
                                try GEMM.sgemm(transB: .transpose, m: h.shape[0], n: out, k: inF, a: a, lda: inF, b: w, ldb: inF,
                                               c: c, ldc: out, epilogue: GEMMEpilogue(bias: b, biasAxis: .column, relu: i < 2),
                                               threads: threads)
                            }
                        }
                    }
                }
                h = y
            }
            return try Loss.softmax(h, threads: threads)
        }
    }

    static let suite = Suite(name: "network") { ctx in
        guard ctx.wants("network", "vgg16/features_batch1") || ctx.wants("network", "vgg16/forward_batch1") else { return }
        ctx.reporter.progress("network/vgg16")
        let net = try VGG16()
        let x = try Tensor(shape: [1, 3, 224, 224], seed: 7)
        // Sanity: a probability vector comes out.
        let p = try net.forward(x, threads: ctx.allThreads)
        let total = p.scalars.reduce(0, +)
        guard abs(total - 1) < 1e-3, !p.scalars.contains(where: { $0.isNaN }) else {
            throw BenchError.validation("network/vgg16: softmax output sums to \(total)")
        }
        let convFlops: Double = 30.69e9
        let fcMultiplyAdds: Double = 25088 * 4096 + 4096 * 4096 + 4096 * 1000
        let fcFlops: Double = 2 * fcMultiplyAdds
        for (name, flops) in [("vgg16/features_batch1", convFlops), ("vgg16/forward_batch1", convFlops + fcFlops)]
        where ctx.wants("network", name) {
            for threads in ctx.threadCounts {
                let t = Measure.median(minRepeats: ctx.options.quick ? 3 : 5, budget: ctx.options.quick ? 0.5 : 2) {
                    if name.hasSuffix("features_batch1") { _ = try! net.features(x, threads: threads) } else { _ = try! net.forward(x, threads: threads) }
                }
                ctx.reporter.record(CaseResult(
                    suite: "network", name: name, threads: threads, seconds: t, gflops: flops / t / 1e9,
                    peakFraction: flops / t / 1e9 / ctx.peak.fma(threads: threads),
                    algorithm: "Conv2DPlan (auto) + max-pool 2x2s2\(name.hasSuffix("forward_batch1") ? " + FC row-vector GEMM + softmax" : "")",
                    shape: "1x3x224x224"))
            }
        }
    }
}
