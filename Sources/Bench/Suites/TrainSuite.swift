import Foundation
import Kernels
import Layers
import Scheduler

/// Suite `train`: convolution backward (dX + dW + db) on VGG conv2_2 and conv3_2, and whole SGD
/// steps (forward, backward, update) of VGG-16 at batch 1 and of a ResNet-style block at batch 8.
enum TrainSuite {
    /// dX + dW + db of one layer: 2× the forward flops (dX and dW each cost one forward).
    static let backwardLayers: [(name: String, shape: [Int], d: Conv2DDescriptor)] = [
        ("vgg16/conv1_2_backward", [1, 64, 224, 224], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1)),
        ("vgg16/conv2_2_backward", [1, 128, 112, 112], .init(inChannels: 128, outChannels: 128, kernel: 3, padding: 1)),
        ("vgg16/conv3_2_backward", [1, 256, 56, 56], .init(inChannels: 256, outChannels: 256, kernel: 3, padding: 1)),
    ]

    /// SPEC §4's normalized error of a few dX and dW entries, recomputed by plain sums in Double.
    static func spotCheck(x: Tensor, w: Tensor, dy: Tensor, dx: Tensor, dw: Tensor, _ g: ConvGeometry) -> Double {
        var worst = 0.0, scale = 0.0
        for t in 0..<6 {
            // dW[o, c, i, j] = Σ_p dy[o, p] · x[c, p shifted by the tap].
            let (o, c, i, j) = ((t * 37) % g.outChannels, (t * 53) % g.inChannels, t % 3, (t / 3) % 3)
            var s = 0.0, m = 0.0
            for oi in 0..<g.outHeight {
                let ii = oi - g.padding.top + i
                if ii < 0 || ii >= g.inHeight { continue }
                for oj in 0..<g.outWidth {
                    let jj = oj - g.padding.left + j
                    if jj < 0 || jj >= g.inWidth { continue }
                    let p = Double(dy[0, o, oi, oj]) * Double(x[0, c, ii, jj])
                    s += p; m += abs(p)
                }
            }
            worst = max(worst, abs(s - Double(dw[o, c, i, j]))); scale = max(scale, m)
            // dX[c, y, x] = Σ_{o,i,j} dy[o, y + pad − i, x + pad − j] · w[o, c, i, j].
            let (yy, xx) = ((t * 17) % g.inHeight, (t * 29) % g.inWidth)
            var sx = 0.0, mx = 0.0
            for o in 0..<g.outChannels {
                for i in 0..<3 {
                    for j in 0..<3 {
                        let oi = yy + g.padding.top - i, oj = xx + g.padding.left - j
                        if oi < 0 || oi >= g.outHeight || oj < 0 || oj >= g.outWidth { continue }
                        let p = Double(dy[0, o, oi, oj]) * Double(w[o, c, i, j])
                        sx += p; mx += abs(p)
                    }
                }
            }
            worst = max(worst, abs(sx - Double(dx[0, c, yy, xx]))); scale = max(scale, mx)
        }
        return worst / scale
    }

    static let suite = Suite(name: "train") { ctx in
        for layer in backwardLayers where ctx.wants("train", layer.name) {
            ctx.reporter.progress("train/\(layer.name)")
            let g = try ConvGeometry(inputShape: layer.shape, descriptor: layer.d)
            let x = try Tensor(shape: layer.shape, seed: 1)
            let w = try Tensor(shape: layer.d.weightShape, seed: 2, low: -0.05, high: 0.05)
            let dy = try Tensor(shape: g.outputShape, seed: 3)
            let plan = try Conv2DBackwardDataPlan(descriptor: layer.d, weights: w)
            let dx = try plan.backward(outputGradient: dy, inputShape: layer.shape)
            let dw = try ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: layer.d)
            let error = spotCheck(x: x, w: w, dy: dy, dx: dx, dw: dw, g)
            // dW's bound (SPEC §4 with K = N·OH·OW), twice that through Winograd F(2×2).
            let winogradDW = try ConvolutionBackward.filterUsesWinograd(inputShape: layer.shape, descriptor: layer.d)
            let bound = (winogradDW ? 2 : 1) * 1e-6 * Double(g.outHeight * g.outWidth).squareRoot()
            guard error <= bound else { throw BenchError.validation("train/\(layer.name): error \(error) > \(bound)") }
            let flops = 2 * g.flops
            for threads in ctx.threadCounts {
                let t = Measure.median(minRepeats: 3, budget: ctx.options.quick ? 0.3 : 1.5) {
                    _ = try! plan.backward(outputGradient: dy, inputShape: layer.shape, threads: threads)
                    _ = try! ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: layer.d, threads: threads)
                    _ = try! ConvolutionBackward.bias(outputGradient: dy, threads: threads)
                }
                let budget = ctx.options.quick ? 0.2 : 1
                let tdx = Measure.median(minRepeats: 3, budget: budget) {
                    _ = try! plan.backward(outputGradient: dy, inputShape: layer.shape, threads: threads)
                }
                let tdw = Measure.median(minRepeats: 3, budget: budget) {
                    _ = try! ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: layer.d, threads: threads)
                }
                // The GEMM path beside Winograd's, in the same run.
                let tdwGEMM = !winogradDW ? tdw : Measure.median(minRepeats: 3, budget: budget) {
                    _ = try! ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: layer.d, allowWinograd: false, threads: threads)
                }
                ctx.reporter.record(CaseResult(
                    suite: "train", name: layer.name, threads: threads, seconds: t, gflops: flops / t / 1e9,
                    peakFraction: flops / t / 1e9 / ctx.peak.fma(threads: threads), maxError: error,
                    algorithm: String(format: "dX %@ %.1f ms, dW %@ %.1f ms (chunked im2col-GEMM %.1f ms)", plan.algorithm.rawValue, tdx * 1e3,
                                      winogradDW ? "winograd-f2x2" : "chunked im2col-GEMM", tdw * 1e3, tdwGEMM * 1e3), shape: layer.shape.map(String.init).joined(separator: "x")))
            }
        }

        // Whole steps. Forward + dX + dW ≈ 3× the forward flops (VGG-16: 30.9 GFLOP forward per image).
        let steps: [(name: String, build: () throws -> Sequential, input: [Int], flops: Double)] = [
            ("vgg16/sgd_step_batch1", { try Models.vgg16(fuseReLU: true, seed: 1) }, [1, 3, 224, 224], 3 * 30.94e9),
            ("resnet_block/sgd_step_batch8", {
                Sequential([
                    try Conv2D(.init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1), relu: true, seed: 1),
                    try Conv2D(.init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1), relu: true, seed: 2),
                    GlobalAvgPool(), Flatten(), try Dense(64, 10, initializer: .xavier, seed: 3),
                ])
            }, [8, 64, 56, 56], 3 * 2 * 8 * 2 * 64 * 576 * 3136),
        ]
        for step in steps where ctx.wants("train", step.name) {
            ctx.reporter.progress("train/\(step.name)")
            let net = try step.build()
            let x = try Tensor(shape: step.input, seed: 4)
            let labels = (0..<step.input[0]).map { $0 % 10 }
            var sgd = try SGD(learningRate: 1e-4, momentum: 0.9)
            let first = try net.trainingStep(x, labels: labels, optimizer: &sgd)
            guard first.isFinite else { throw BenchError.validation("train/\(step.name): loss \(first)") }
            for threads in ctx.threadCounts {
                Scheduler.maximumThreads = threads
                defer { Scheduler.maximumThreads = 0 }
                let t = Measure.median(minRepeats: 3, budget: ctx.options.quick ? 0.5 : 3) {
                    _ = try! net.trainingStep(x, labels: labels, optimizer: &sgd)
                }
                // The step's three phases, timed apart.
                let budget = ctx.options.quick ? 0.3 : 1.5
                let logits = try net.forward(x, training: true)
                let (_, gradient) = try SoftmaxCrossEntropyLoss()(logits, labels: labels)
                let forward = Measure.median(minRepeats: 3, budget: budget) { _ = try! net.forward(x, training: true) }
                let backward = Measure.median(minRepeats: 3, budget: budget) { try! net.backward(gradient) }
                let update = Measure.median(minRepeats: 3, budget: budget) { try! sgd.step(net.parameters) }
                ctx.reporter.record(CaseResult(
                    suite: "train", name: step.name, threads: threads, seconds: t, gflops: step.flops / t / 1e9,
                    peakFraction: step.flops / t / 1e9 / ctx.peak.fma(threads: threads),
                    algorithm: String(format: "%.1f images/s; forward %.0f ms, backward %.0f ms, SGD update %.0f ms",
                                      Double(step.input[0]) / t, forward * 1e3, backward * 1e3, update * 1e3),
                    shape: step.input.map(String.init).joined(separator: "x")))
            }
        }
    }
}
