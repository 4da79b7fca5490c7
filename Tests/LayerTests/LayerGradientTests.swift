import XCTest
import Layers
import Reference
import Scheduler

/// Every layer's backward pass, twice (SPEC §5): against the reference backward, and by centered
/// finite differences of L = Σ r·y for a fixed random r, so that dL/dy = r.
final class LayerGradientTests: NaNFilledOutputsTestCase {
    /// max |a − b| / max |b|.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        var worst: Float = 0, scale: Float = 0
        for i in 0..<a.count { worst = max(worst, abs(a[flat: i] - b[flat: i])); scale = max(scale, abs(b[flat: i])) }
        return a.scalars.contains { $0.isNaN } ? .nan : worst / max(scale, .leastNormalMagnitude)
    }

    /// L = Σ r·layer(x) in Double, at inference (no state kept).
    static func projection(_ layer: Layer, _ x: Tensor, _ r: Tensor) throws -> Double {
        let y = try layer.forward(x, training: false)
        var total = 0.0
        for i in 0..<y.count { total += Double(y[flat: i]) * Double(r[flat: i]) }
        return total
    }

    /// Centered differences of L with respect to `count` entries of `tensor` (spread over it),
    /// compared with the analytic gradient `analytic` of those entries.
    static func checkFiniteDifferences(_ what: String, count: Int = 24, epsilon: Float = 1e-2, tolerance: Float = 1e-2,
                                       tensor: (Tensor) -> Void, get: () -> Tensor, loss: () throws -> Double,
                                       analytic: Tensor, file: StaticString = #filePath, line: UInt = #line) rethrows {
        let base = get()
        var worst: Float = 0
        let step = max(1, base.count / count)
        var scale: Float = 0
        for i in 0..<analytic.count { scale = max(scale, abs(analytic[flat: i])) }
        for i in stride(from: 0, to: base.count, by: step) {
            var plus = base, minus = base
            plus[flat: i] += epsilon
            minus[flat: i] -= epsilon
            tensor(plus)
            let lp = try loss()
            tensor(minus)
            let lm = try loss()
            let numeric = Float((lp - lm) / Double(2 * epsilon))
            worst = max(worst, abs(numeric - analytic[flat: i]))
        }
        tensor(base)
        XCTAssertLessThanOrEqual(worst / max(scale, 1e-6), tolerance, what, file: file, line: line)
    }

    /// Inputs that are distinct and at least 0.01 apart (no max-pool ties, no ReLU kinks within ε = 1e-3 steps).
    static func spacedInput(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let n = shape.reduce(1, *)
        var values = (0..<n).map { Float($0 - n / 2) * 0.01 + 0.005 }
        values.shuffle(using: &rng)
        return try Tensor(shape: shape, values: values)
    }

    func testConv2DAgainstReferenceAndFiniteDifferences() throws {
        let cases: [([Int], Conv2DDescriptor)] = [
            ([2, 3, 7, 6], .init(inChannels: 3, outChannels: 4, kernel: 3, padding: 1)),
            ([1, 4, 9, 8], .init(inChannels: 4, outChannels: 6, kernel: 3, stride: 2, padding: 1)),
            ([2, 4, 6, 6], .init(inChannels: 4, outChannels: 4, kernel: 3, padding: 2, dilation: 2, groups: 2)),
            ([1, 5, 4, 4], .init(inChannels: 5, outChannels: 3, kernel: 1)),
            // C·O ≥ 64·64: dW runs Winograd F(2×2) (outputs 8×9 and 28×29, partial tiles included).
            ([1, 64, 8, 9], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1)),
            ([1, 64, 28, 29], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1)),
        ]
        for (shape, d) in cases {
            for relu in [false, true] {
                let layer = try Conv2D(d, relu: relu, seed: 3)
                layer.bias!.value = try Tensor(shape: [d.outChannels], seed: 4, low: -0.1, high: 0.1)
                let x = try Tensor(shape: shape, seed: 5)
                let y = try layer.forward(x, training: true)
                XCTAssertEqual(try ConvolutionBackward.filterUsesWinograd(inputShape: shape, descriptor: d),
                               d.inChannels * d.outChannels >= 64 * 64 && GEMMMicroKernel.best == .avx512_8x32)
                let r = try Tensor(shape: y.shape, seed: 6)
                let dx = try layer.backward(r, inputGradient: true)!
                // Reference: ReLU's mask from the output, then the three convolution gradients.
                let delta = relu ? try Reference.reluBackward(outputGradient: r, input: y) : r
                let w = layer.weight.value
                XCTAssertLessThanOrEqual(Self.relativeError(dx, try Reference.conv2dBackwardData(
                    outputGradient: delta, weights: w, inputShape: shape, descriptor: d)), 1e-5, "dX \(d) relu \(relu)")
                XCTAssertLessThanOrEqual(Self.relativeError(layer.weight.gradient, try Reference.conv2dBackwardFilter(
                    input: x, outputGradient: delta, descriptor: d)), 1e-5, "dW \(d) relu \(relu)")
                XCTAssertLessThanOrEqual(Self.relativeError(layer.bias!.gradient, try Reference.conv2dBackwardBias(
                    outputGradient: delta)), 1e-5, "db \(d) relu \(relu)")
                if relu { continue }   // finite differences on the smooth layer; ReLU has its own test
                let gw = layer.weight.gradient
                var xv = x
                try Self.checkFiniteDifferences("conv dX \(d)", tensor: { xv = $0 }, get: { xv },
                                                loss: { try Self.projection(layer, xv, r) }, analytic: dx)
                try Self.checkFiniteDifferences("conv dW \(d)", tensor: { layer.weight.value = $0 }, get: { layer.weight.value },
                                                loss: { try Self.projection(layer, x, r) }, analytic: gw)
            }
        }
    }

    func testDenseAgainstReferenceAndFiniteDifferences() throws {
        for (n, fanIn, fanOut) in [(1, 7, 5), (3, 12, 9), (6, 40, 17)] {
            let layer = try Dense(fanIn, fanOut, seed: 9)
            layer.bias!.value = try Tensor(shape: [fanOut], seed: 10)
            let x = try Tensor(shape: [n, fanIn], seed: 11)
            let y = try layer.forward(x, training: true)
            XCTAssertLessThanOrEqual(Self.relativeError(y, try Reference.fullyConnectedForward(
                input: x, weights: layer.weight.value, bias: layer.bias!.value)), 1e-5)
            let r = try Tensor(shape: y.shape, seed: 12)
            let dx = try layer.backward(r, inputGradient: true)!
            let ref = try Reference.fullyConnectedBackward(outputGradient: r, input: x, weights: layer.weight.value)
            XCTAssertLessThanOrEqual(Self.relativeError(dx, ref.inputGradient), 1e-5)
            XCTAssertLessThanOrEqual(Self.relativeError(layer.weight.gradient, ref.weightGradient), 1e-5)
            XCTAssertLessThanOrEqual(Self.relativeError(layer.bias!.gradient, ref.biasGradient), 1e-5)
            let gw = layer.weight.gradient, gb = layer.bias!.gradient
            var xv = x
            try Self.checkFiniteDifferences("dense dX", tensor: { xv = $0 }, get: { xv },
                                            loss: { try Self.projection(layer, xv, r) }, analytic: dx)
            try Self.checkFiniteDifferences("dense dW", tensor: { layer.weight.value = $0 }, get: { layer.weight.value },
                                            loss: { try Self.projection(layer, x, r) }, analytic: gw)
            try Self.checkFiniteDifferences("dense db", tensor: { layer.bias!.value = $0 }, get: { layer.bias!.value },
                                            loss: { try Self.projection(layer, x, r) }, analytic: gb)
        }
    }

    func testParameterFreeLayers() throws {
        let shape = [2, 3, 7, 8]
        let x = try Self.spacedInput(shape, seed: 13)
        let layers: [(Layer, (Tensor, Tensor) throws -> Tensor)] = [
            (ReLU(), { dy, x in try Reference.reluBackward(outputGradient: dy, input: x) }),
            (MaxPool2D(window: 2, stride: 2), { dy, x in
                let d = Pool2DDescriptor(window: 2, stride: 2)
                let (_, argmax) = try Reference.maxPool2dForward(input: x, descriptor: d)
                return try Reference.maxPool2dBackward(outputGradient: dy, argmax: argmax, inputShape: x.shape)
            }),
            (MaxPool2D(window: 3, stride: 2, padding: 1), { dy, x in
                let d = Pool2DDescriptor(window: 3, stride: 2, padding: 1)
                let (_, argmax) = try Reference.maxPool2dForward(input: x, descriptor: d)
                return try Reference.maxPool2dBackward(outputGradient: dy, argmax: argmax, inputShape: x.shape)
            }),
            (AvgPool2D(Pool2DDescriptor(window: 3, stride: 2, padding: 1, countIncludesPadding: false)), { dy, x in
                try Reference.avgPool2dBackward(outputGradient: dy, inputShape: x.shape,
                                                descriptor: Pool2DDescriptor(window: 3, stride: 2, padding: 1))
            }),
            (GlobalAvgPool(), { dy, x in try Reference.globalAvgPoolBackward(outputGradient: dy, inputShape: x.shape) }),
            (Flatten(), { dy, x in try dy.reshaped(x.shape) }),
        ]
        for (layer, reference) in layers {
            let y = try layer.forward(x, training: true)
            XCTAssertEqual(y.shape, try layer.outputShape(forInputShape: shape), layer.name)
            let r = try Tensor(shape: y.shape, seed: 14)
            let dx = try layer.backward(r, inputGradient: true)!
            XCTAssertLessThanOrEqual(Self.relativeError(dx, try reference(r, x)), 1e-6, layer.name)
            var xv = x
            try Self.checkFiniteDifferences(layer.name, count: 60, epsilon: 1e-3, tensor: { xv = $0 }, get: { xv },
                                            loss: { try Self.projection(layer, xv, r) }, analytic: dx)
        }
    }

    func testDropoutLayer() throws {
        let layer = try Dropout(probability: 0.5, seed: 1)
        let x = try Tensor(shape: [4, 100], seed: 2)
        XCTAssertEqual(try layer.forward(x, training: false).scalars, x.scalars, "identity at inference")
        let y1 = try layer.forward(x, training: true)
        let dx = try layer.backward(x, inputGradient: true)!
        // dX = dY·mask, and y = x·mask: with dY = x they coincide.
        XCTAssertEqual(dx.scalars, y1.scalars)
        let kept = y1.scalars.filter { $0 != 0 }.count
        XCTAssertGreaterThan(kept, 150); XCTAssertLessThan(kept, 250)
        let y2 = try layer.forward(x, training: true)
        XCTAssertNotEqual(y1.scalars, y2.scalars, "a new mask every step")
        XCTAssertThrowsError(try Dropout(probability: 1, seed: 0))
    }

    /// The whole gradient of a small network (conv + ReLU, max pool, conv, global pool, dense,
    /// softmax cross-entropy) by finite differences on a tiny input, for weights and input alike.
    func testWholeNetworkGradientByFiniteDifferences() throws {
        let net = Sequential([
            try Conv2D(.init(inChannels: 2, outChannels: 4, kernel: 3, padding: 1), relu: true, seed: 1),
            MaxPool2D(window: 2, stride: 2),
            try Conv2D(.init(inChannels: 4, outChannels: 5, kernel: 3, stride: 2, padding: 1), seed: 2),
            AvgPool2D(Pool2DDescriptor(window: 2, stride: 1)),
            Flatten(),
            try Dense(5 * 1 * 1, 3, initializer: .xavier, seed: 3),
        ])
        for p in net.parameters where p.name == "bias" { p.value = try Tensor(shape: p.value.shape, seed: 4, low: -0.2, high: 0.2) }
        let x = try Self.spacedInput([2, 2, 8, 8], seed: 5)
        let labels = [2, 0]
        let logits = try net.forward(x, training: true)
        XCTAssertEqual(logits.shape, [2, 3])
        let (_, gradient) = try Loss.softmaxCrossEntropy(logits: logits, labels: labels)
        let dx = try net.backward(gradient, inputGradient: true)!
        func loss(_ input: Tensor) throws -> Double {
            let out = try net.forward(input, training: false)
            // Cross-entropy in Double from the Float logits.
            var total = 0.0
            for b in 0..<2 {
                let row = (0..<3).map { Double(out[b, $0]) }
                let m = row.max()!
                total += log(row.map { exp($0 - m) }.reduce(0, +)) + m - row[labels[b]]
            }
            return total / 2
        }
        var xv = x
        try Self.checkFiniteDifferences("network dX", count: 40, epsilon: 1e-3, tolerance: 2e-2, tensor: { xv = $0 },
                                        get: { xv }, loss: { try loss(xv) }, analytic: dx)
        for (i, p) in net.parameters.enumerated() {
            let analytic = p.gradient
            try Self.checkFiniteDifferences("network parameter \(i) (\(p.name))", count: 30, epsilon: 1e-3, tolerance: 2e-2,
                                            tensor: { p.value = $0 }, get: { p.value }, loss: { try loss(x) }, analytic: analytic)
        }
    }
}
