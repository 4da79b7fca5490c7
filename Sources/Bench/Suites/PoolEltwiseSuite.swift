import Kernels

/// Suites `pool` and `eltwise`: memory-bound kernels, reported in GB/s against the measured read
/// bandwidth of the cache level their working set (input + output) fits in.
enum PoolEltwiseSuite {
    struct PoolCase {
        var name: String
        var shape: [Int]
        var kind: String            // "max", "max+indices", "avg", "global"
        var descriptor: Pool2DDescriptor
    }

    static let poolCases: [PoolCase] = [
        PoolCase(name: "vgg16/pool1", shape: [1, 64, 224, 224], kind: "max", descriptor: .init(window: 2, stride: 2)),
        PoolCase(name: "vgg16/pool1_with_indices", shape: [1, 64, 224, 224], kind: "max+indices", descriptor: .init(window: 2, stride: 2)),
        PoolCase(name: "vgg16/pool2", shape: [1, 128, 112, 112], kind: "max", descriptor: .init(window: 2, stride: 2)),
        PoolCase(name: "vgg16/pool3", shape: [1, 256, 56, 56], kind: "max", descriptor: .init(window: 2, stride: 2)),
        PoolCase(name: "vgg16/pool4", shape: [1, 512, 28, 28], kind: "max", descriptor: .init(window: 2, stride: 2)),
        PoolCase(name: "vgg16/pool5", shape: [1, 512, 14, 14], kind: "max", descriptor: .init(window: 2, stride: 2)),
        PoolCase(name: "resnet50/maxpool3x3s2", shape: [1, 64, 112, 112], kind: "max", descriptor: .init(window: 3, stride: 2, padding: 1)),
        PoolCase(name: "resnet50/avgpool3x3s2", shape: [1, 64, 112, 112], kind: "avg", descriptor: .init(window: 3, stride: 2, padding: 1)),
        PoolCase(name: "resnet50/globalavgpool", shape: [1, 2048, 7, 7], kind: "global", descriptor: .init(window: 1, stride: 1)),
    ]

    static let pool = Suite(name: "pool") { ctx in
        for c in poolCases where ctx.wants("pool", c.name) {
            ctx.reporter.progress("pool/\(c.name)")
            let x = try Tensor(shape: c.shape, seed: 3)
            let outCount: Int, kernel: String
            if c.kind == "global" {
                outCount = c.shape[0] * c.shape[1]
                kernel = PoolKernel.globalAverage.rawValue
            } else {
                let g = try PoolGeometry(inputShape: c.shape, descriptor: c.descriptor)
                outCount = g.outputShape.reduce(1, *)
                let k = c.kind == "avg" ? PoolKernel.avgPool(g) : PoolKernel.maxPool(g, returnIndices: c.kind == "max+indices")
                kernel = k.rawValue + (c.kind == "max+indices" ? ", with indices" : "")
            }
            let bytes = 4 * (x.count + outCount) + (c.kind == "max+indices" ? 4 * outCount : 0)
            for threads in ctx.threadCounts {
                let t = Measure.median(minRepeats: ctx.options.quick ? 5 : 11, budget: ctx.options.quick ? 0.05 : 0.3) {
                    switch c.kind {
                    case "max": _ = try! Pooling.maxPool2d(x, c.descriptor, threads: threads)
                    case "max+indices": _ = try! Pooling.maxPool2d(x, c.descriptor, returnIndices: true, threads: threads)
                    case "avg": _ = try! Pooling.avgPool2d(x, c.descriptor, threads: threads)
                    default: _ = try! Pooling.globalAvgPool(x, threads: threads)
                    }
                }
                record(ctx, suite: "pool", name: c.name, threads: threads, seconds: t, bytes: bytes,
                       algorithm: kernel,
                       shape: c.shape.map(String.init).joined(separator: "x")
                           + ":\(c.kind):k\(c.descriptor.windowHeight)s\(c.descriptor.strideHeight)p\(c.descriptor.padding.top)")
            }
        }
    }

    static let eltwise = Suite(name: "eltwise") { ctx in
        let cases: [(name: String, shape: [Int])] = [
            ("relu/vgg16_conv1", [1, 64, 224, 224]), ("relu/resnet50_stage1", [1, 256, 56, 56]),
            ("softmax/1x1000", [1, 1000]), ("softmax/32x1000", [32, 1000]),
        ]
        for c in cases where ctx.wants("eltwise", c.name) {
            ctx.reporter.progress("eltwise/\(c.name)")
            let x = try Tensor(shape: c.shape, seed: 5, low: -4, high: 4)
            for threads in ctx.threadCounts {
                let t = Measure.median(minRepeats: ctx.options.quick ? 5 : 11, budget: ctx.options.quick ? 0.05 : 0.3) {
                    if c.name.hasPrefix("relu") { _ = Elementwise.relu(x, threads: threads) } else { _ = try! Loss.softmax(x, threads: threads) }
                }
                record(ctx, suite: "eltwise", name: c.name, threads: threads, seconds: t, bytes: 8 * x.count,
                       algorithm: c.name.hasPrefix("relu") ? "SIMD8 max(x, 0)"
                           : "\(InstructionSet.usesAVX512 ? "SIMD16 AVX-512" : "SIMD8") max-subtracted exp (degree-6 minimax, no overflow path)",
                       shape: c.shape.map(String.init).joined(separator: "x"))
            }
        }
    }

    static func record(_ ctx: BenchContext, suite: String, name: String, threads: Int, seconds: Double, bytes: Int,
                       algorithm: String, shape: String) {
        let (level, bandwidth) = ctx.peak.bandwidth(forWorkingSet: bytes, threads: threads)
        let gbps = Double(bytes) / seconds / 1e9
        ctx.reporter.record(CaseResult(suite: suite, name: name, threads: threads, seconds: seconds, gbps: gbps,
                                       peakFraction: gbps / bandwidth, algorithm: "\(algorithm); vs \(level) read",
                                       shape: shape))
    }
}
