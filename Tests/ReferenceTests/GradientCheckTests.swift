import XCTest
import TesseraCore
import Reference

/// Finite-difference checks of every backward reference (SPEC §5): for L(x) = Σ r·f(x) with a
/// random r, the backward pass given dy = r must match centered differences of L.
final class GradientCheckTests: XCTestCase {
    /// Compares `analytic` with centered differences of `loss` in each element of `x`.
    func checkGradient(
        _ x: Tensor, analytic: Tensor, eps: Float = 1e-2, tolerance: Double = 2e-3,
        file: StaticString = #filePath, line: UInt = #line, loss: (Tensor) throws -> Double
    ) throws {
        XCTAssertEqual(analytic.shape, x.shape, file: file, line: line)
        var worst = 0.0, scale = 1.0
        for i in 0..<x.count {
            var plus = x, minus = x
            plus[flat: i] += eps
            minus[flat: i] -= eps
            let fd = (try loss(plus) - loss(minus)) / Double(2 * eps)
            worst = max(worst, abs(fd - Double(analytic[flat: i])))
            scale = max(scale, abs(fd))
        }
        XCTAssertLessThanOrEqual(worst / scale, tolerance, "finite-difference mismatch", file: file, line: line)
    }

    func dot(_ a: Tensor, _ b: Tensor) -> Double {
        (0..<a.count).reduce(0.0) { $0 + Double(a[flat: $1]) * Double(b[flat: $1]) }
    }

    func testConvolutionBackwardPasses() throws {
        let cases: [(shape: [Int], d: Conv2DDescriptor)] = [
            ([2, 3, 5, 6], .init(inChannels: 3, outChannels: 4, kernel: 3, padding: 1)),
            ([1, 2, 7, 6], .init(inChannels: 2, outChannels: 3, kernelHeight: 3, kernelWidth: 2, strideHeight: 2,
                                 strideWidth: 2, padding: .init(top: 1, bottom: 0, left: 2, right: 1))),
            ([1, 2, 7, 7], .init(inChannels: 2, outChannels: 2, kernel: 3, padding: 2, dilation: 2)),
            ([2, 4, 5, 5], .init(inChannels: 4, outChannels: 6, kernel: 3, stride: 2, padding: 1, groups: 2)),
            ([1, 3, 4, 5], .init(inChannels: 3, outChannels: 3, kernel: 3, padding: 1, groups: 3)),
        ]
        var g = SeededGenerator(seed: 5)
        for (shape, d) in cases {
            let x = try Tensor(shape: shape, generator: &g)
            let w = try Tensor(shape: d.weightShape, generator: &g)
            let b = try Tensor(shape: [d.outChannels], generator: &g)
            let geometry = try ConvGeometry(inputShape: shape, descriptor: d)
            let r = try Tensor(shape: geometry.outputShape, generator: &g)
            let dx = try Reference.conv2dBackwardData(outputGradient: r, weights: w, inputShape: shape, descriptor: d)
            let dw = try Reference.conv2dBackwardFilter(input: x, outputGradient: r, descriptor: d)
            let db = try Reference.conv2dBackwardBias(outputGradient: r)
            try checkGradient(x, analytic: dx) { try dot(Reference.conv2dForward(input: $0, weights: w, bias: b, descriptor: d), r) }
            try checkGradient(w, analytic: dw) { try dot(Reference.conv2dForward(input: x, weights: $0, bias: b, descriptor: d), r) }
            try checkGradient(b, analytic: db) { try dot(Reference.conv2dForward(input: x, weights: w, bias: $0, descriptor: d), r) }
        }
    }

    func testIm2colAndCol2imAreAdjoint() throws {
        var g = SeededGenerator(seed: 9)
        let d = Conv2DDescriptor(inChannels: 3, outChannels: 1, kernelHeight: 3, kernelWidth: 2, strideHeight: 2,
                                 strideWidth: 1, padding: .init(top: 1, bottom: 2, left: 0, right: 1), dilationHeight: 2)
        let x = try Tensor(shape: [3, 7, 5], generator: &g)
        let cols = try Reference.im2col(image: x, descriptor: d)
        let c = try Tensor(shape: cols.shape, generator: &g)
        let back = try Reference.col2im(columns: c, imageShape: x.shape, descriptor: d)
        XCTAssertEqual(dot(cols, c), dot(x, back), accuracy: 1e-4)
    }

    /// Distinct values, far apart compared with eps, so that no max changes under the perturbation.
    func distinctInput(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        let n = try Tensor.elementCount(of: shape)
        var values = (0..<n).map { Float($0) * 0.1 }
        values.shuffle(using: &g)
        return try Tensor(shape: shape, values: values)
    }

    func testPoolingBackwardPasses() throws {
        var g = SeededGenerator(seed: 3)
        let x = try distinctInput([2, 3, 7, 6], seed: 4)
        for d in [Pool2DDescriptor(window: 2, stride: 2), Pool2DDescriptor(window: 3, stride: 2, padding: 1),
                  Pool2DDescriptor(windowHeight: 3, windowWidth: 2, strideHeight: 1, strideWidth: 2,
                                   padding: .init(top: 1, bottom: 2, left: 0, right: 1))] {
            let outShape = try PoolGeometry(inputShape: x.shape, descriptor: d).outputShape
            let r = try Tensor(shape: outShape, generator: &g)
            let (_, argmax) = try Reference.maxPool2dForward(input: x, descriptor: d)
            let dxMax = try Reference.maxPool2dBackward(outputGradient: r, argmax: argmax, inputShape: x.shape)
            try checkGradient(x, analytic: dxMax) { try dot(Reference.maxPool2dForward(input: $0, descriptor: d).output, r) }
            for includePad in [false, true] {
                var da = d
                da.countIncludesPadding = includePad
                let dxAvg = try Reference.avgPool2dBackward(outputGradient: r, inputShape: x.shape, descriptor: da)
                try checkGradient(x, analytic: dxAvg) { try dot(Reference.avgPool2dForward(input: $0, descriptor: da), r) }
            }
        }
        let r = try Tensor(shape: [2, 3, 1, 1], generator: &g)
        let dxGlobal = try Reference.globalAvgPoolBackward(outputGradient: r, inputShape: x.shape)
        try checkGradient(x, analytic: dxGlobal) { try dot(Reference.globalAvgPoolForward(input: $0), r) }
    }

    func testElementwiseAndLossBackwardPasses() throws {
        var g = SeededGenerator(seed: 11)
        // ReLU: values kept away from 0 so the kink is not crossed.
        var x = try Tensor(shape: [2, 3, 4, 5], generator: &g)
        for i in 0..<x.count where abs(x[flat: i]) < 0.05 { x[flat: i] = 0.5 }
        let r = try Tensor(shape: x.shape, generator: &g)
        try checkGradient(x, analytic: try Reference.reluBackward(outputGradient: r, input: x)) {
            dot(Reference.reluForward($0), r)
        }
        // Dropout with a fixed mask is linear.
        let (_, mask) = try Reference.dropoutForward(x, probability: 0.3, seed: 8)
        try checkGradient(x, analytic: try Reference.dropoutBackward(outputGradient: r, mask: mask)) {
            try dot(Reference.dropoutForward($0, probability: 0.3, seed: 8).output, r)
        }
        // Softmax + cross-entropy and squared loss: scalar losses.
        let logits = try Tensor(shape: [3, 5], generator: &g, low: -3, high: 3)
        let labels = [4, 0, 2]
        let ce = try Reference.softmaxCrossEntropy(logits: logits, labels: labels)
        try checkGradient(logits, analytic: ce.gradient, eps: 1e-3) {
            Double(try Reference.softmaxCrossEntropy(logits: $0, labels: labels).loss)
        }
        let target = try Tensor(shape: [3, 5], generator: &g)
        let sq = try Reference.squaredLoss(prediction: logits, target: target)
        try checkGradient(logits, analytic: sq.gradient, eps: 1e-3) {
            Double(try Reference.squaredLoss(prediction: $0, target: target).loss)
        }
        // Fully connected, input given as N×C×H×W and flattened.
        let input = try Tensor(shape: [2, 2, 2, 3], generator: &g)
        let w = try Tensor(shape: [4, 12], generator: &g)
        let b = try Tensor(shape: [4], generator: &g)
        let dy = try Tensor(shape: [2, 4], generator: &g)
        let fc = try Reference.fullyConnectedBackward(outputGradient: dy, input: input, weights: w)
        try checkGradient(input, analytic: fc.inputGradient) { try dot(Reference.fullyConnectedForward(input: $0, weights: w, bias: b), dy) }
        try checkGradient(w, analytic: fc.weightGradient) { try dot(Reference.fullyConnectedForward(input: input, weights: $0, bias: b), dy) }
        try checkGradient(b, analytic: fc.biasGradient) { try dot(Reference.fullyConnectedForward(input: input, weights: w, bias: $0), dy) }
    }
}
