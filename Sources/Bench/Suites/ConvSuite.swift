import Kernels
import Reference

/// Suite `conv`: every VGG-16 convolution layer and ResNet-50's 3×3, 1×1 and stem layers at batch 1,
/// through `Conv2DPlan` with its automatic algorithm, ReLU and bias fused.
enum ConvSuite {
    struct Layer {
        var name: String
        var inChannels: Int, outChannels: Int, size: Int, kernel: Int, stride: Int = 1, padding: Int

        var descriptor: Conv2DDescriptor {
            Conv2DDescriptor(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding)
        }
    }

    static let layers: [Layer] = [
        Layer(name: "vgg16/conv1_1", inChannels: 3, outChannels: 64, size: 224, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv1_2", inChannels: 64, outChannels: 64, size: 224, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv2_1", inChannels: 64, outChannels: 128, size: 112, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv2_2", inChannels: 128, outChannels: 128, size: 112, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv3_1", inChannels: 128, outChannels: 256, size: 56, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv3_2", inChannels: 256, outChannels: 256, size: 56, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv4_1", inChannels: 256, outChannels: 512, size: 28, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv4_2", inChannels: 512, outChannels: 512, size: 28, kernel: 3, padding: 1),
        Layer(name: "vgg16/conv5_1", inChannels: 512, outChannels: 512, size: 14, kernel: 3, padding: 1),
        Layer(name: "resnet50/stem7x7s2", inChannels: 3, outChannels: 64, size: 224, kernel: 7, stride: 2, padding: 3),
        Layer(name: "resnet50/conv3x3_64", inChannels: 64, outChannels: 64, size: 56, kernel: 3, padding: 1),
        Layer(name: "resnet50/conv3x3_128", inChannels: 128, outChannels: 128, size: 28, kernel: 3, padding: 1),
        Layer(name: "resnet50/conv3x3_256", inChannels: 256, outChannels: 256, size: 14, kernel: 3, padding: 1),
        Layer(name: "resnet50/conv3x3_512", inChannels: 512, outChannels: 512, size: 7, kernel: 3, padding: 1),
        Layer(name: "resnet50/conv1x1_64to256", inChannels: 64, outChannels: 256, size: 56, kernel: 1, padding: 0),
        Layer(name: "resnet50/conv1x1_256to64", inChannels: 256, outChannels: 64, size: 56, kernel: 1, padding: 0),
        Layer(name: "resnet50/conv1x1_512to128", inChannels: 512, outChannels: 128, size: 28, kernel: 1, padding: 0),
        Layer(name: "resnet50/conv1x1_1024to256", inChannels: 1024, outChannels: 256, size: 14, kernel: 1, padding: 0),
        Layer(name: "resnet50/conv1x1_2048to512", inChannels: 2048, outChannels: 512, size: 7, kernel: 1, padding: 0),
    ]
    // VGG-16's conv3_3, conv4_3 and conv5_2/5_3 repeat the shapes of conv3_2, conv4_2 and conv5_1.

    static let suite = Suite(name: "conv") { ctx in
        for l in layers where ctx.wants("conv", l.name) { try measure(ctx, l, algorithm: nil) }
    }

    /// Every other non-Winograd algorithm on every layer, beside the automatic choice: the figures the
    /// choice is made from. An algorithm that does not apply to a layer (it would fall back) is skipped.
    /// (`gemm-1x1` applies only where it is the automatic choice, so it never runs here.)
    static let algorithms = Suite(name: "conv-algorithms") { ctx in
        for l in layers {
            // The algorithm the automatic plan runs on this input (direct paths are chosen per input shape).
            let d = l.descriptor
            let auto = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape), relu: true)
                .algorithm(forInputShape: [1, l.inChannels, l.size, l.size])
            for a in [ConvAlgorithm.implicitGEMM, .directIndirect, .directTransposed, .im2colGEMM]
            where a != auto && ctx.wants("conv", "\(l.name)/\(a.rawValue)") {
                try measure(ctx, l, algorithm: a, skipFallback: true)
            }
        }
    }

    /// The opt-in Winograd variants on every 3×3 stride-1 layer, beside the automatic choice.
    static let winograd = Suite(name: "conv-winograd") { ctx in
        for l in layers where l.kernel == 3 && l.stride == 1 {
            for a in [ConvAlgorithm.winograd2x2, .winograd4x4, .winograd6x6] where ctx.wants("conv", "\(l.name)/\(a.rawValue)") {
                try measure(ctx, l, algorithm: a)
            }
        }
    }

    /// SPEC §4's bound for the algorithm that ran: F(2×2) 2× the direct bound, F(4×4) 2e-5, F(6×6) 1e-4.
    static func bound(_ a: ConvAlgorithm, _ g: ConvGeometry) -> Double {
        let direct = 1e-6 * Double(g.reductionLength).squareRoot()
        switch a {
        case .winograd2x2: return 2 * direct
        case .winograd4x4: return 2e-5
        case .winograd6x6: return 1e-4
        default: return direct
        }
    }

    /// One layer through a plan (the automatic choice, or `algorithm`): validated against Double sums,
    /// then timed at each thread count. Effective GFLOPS = direct-convolution flops ÷ time.
    /// With `skipFallback`, a requested algorithm that does not apply to the layer is not measured.
    static func measure(_ ctx: BenchContext, _ l: Layer, algorithm: ConvAlgorithm?, skipFallback: Bool = false) throws {
        let name = l.name + (algorithm.map { "/\($0.rawValue)" } ?? "")
        let d = l.descriptor
        let x = try Tensor(shape: [1, l.inChannels, l.size, l.size], seed: 1)
        let w = try Tensor(shape: d.weightShape, seed: 2, low: -0.1, high: 0.1)
        let b = try Tensor(shape: [l.outChannels], seed: 3)
        let plan = try Conv2DPlan(descriptor: d, weights: w, bias: b, relu: true, algorithm: algorithm)
        let ran = try plan.algorithm(forInputShape: x.shape)
        if skipFallback, ran != algorithm { return }
        ctx.reporter.progress("conv/\(name)")
        let g = try ConvGeometry(inputShape: x.shape, descriptor: d)
        Workspace.resetPeak()
        let y = try plan.forward(x)
        let scratch = Double(Workspace.peakBytes)
        let error = spotCheck(x, w, b, y, g)
        if error > bound(ran, g) {
            throw BenchError.validation("conv/\(name): normalized error \(error) > \(bound(ran, g)) (\(ran.rawValue))")
        }
        for threads in ctx.threadCounts {
            let t = Measure.median(minRepeats: ctx.options.quick ? 3 : 5, budget: ctx.options.quick ? 0.1 : 0.5) {
                _ = try! plan.forward(x, threads: threads)
            }
            let gflops = g.flops / t / 1e9
            ctx.reporter.record(CaseResult(
                suite: "conv", name: name, threads: threads, seconds: t, gflops: gflops,
                peakFraction: gflops / ctx.peak.fma(threads: threads), maxError: error,
                algorithm: "\(ran.rawValue) + \(GEMMMicroKernel.active.rawValue)",
                shape: "\(l.inChannels)x\(l.size)x\(l.size)->\(l.outChannels)k\(l.kernel)s\(l.stride)p\(l.padding)",
                scratchBytes: scratch))
        }
    }

    /// SPEC §4's error on 64 sampled outputs against Double sums (with ReLU): max |y − y_ref| / max Σ|w·x|.
    static func spotCheck(_ x: Tensor, _ w: Tensor, _ b: Tensor, _ y: Tensor, _ g: ConvGeometry) -> Double {
        var rng = SeededGenerator(seed: 42)
        var worst = 0.0, scale = 0.0
        for _ in 0..<64 {
            let o = Int(rng.next() % UInt64(g.outChannels))
            let oi = Int(rng.next() % UInt64(g.outHeight)), oj = Int(rng.next() % UInt64(g.outWidth))
            let (sum, abs) = Reference.conv2dPoint(input: x, weights: w, bias: b, geometry: g, n: 0, o: o, oi: oi, oj: oj)
            worst = max(worst, Swift.abs(Double(y[0, o, oi, oj]) - max(sum, 0)))
            scale = max(scale, abs)
        }
        return worst / max(scale, 1e-30)
    }
}
