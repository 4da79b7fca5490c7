import XCTest
import Kernels
import TesseraCore

/// Every class of bad input, one table: each call must throw a `TesseraError` whose text names the
/// offending shape or argument, and must leave the caller's buffers untouched.
final class BadInputTests: NaNFilledOutputsTestCase {
    struct Case {
        var name: String
        /// Fragments the error text must contain (the shape or value, and what was expected).
        var mentions: [String]
        var call: () throws -> Void
    }

    func testEveryClassOfBadInputThrowsADescriptiveError() throws {
        let x = try Tensor(shape: [1, 4, 6, 6], seed: 1)
        let conv = Conv2DDescriptor(inChannels: 4, outChannels: 8, kernel: 3, padding: 1)
        let w = try Tensor(shape: conv.weightShape, seed: 2)
        let plan = try Conv2DPlan(descriptor: conv, weights: w)
        func descriptor(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1, kernel: Int = 3) -> Conv2DDescriptor {
            Conv2DDescriptor(inChannels: 4, outChannels: 8, kernel: kernel, stride: stride, padding: padding,
                             dilation: dilation, groups: groups)
        }
        let cases: [Case] = [
            // Tensors.
            Case(name: "zero extent", mentions: ["[2, 0, 3]", "≥ 1"]) { _ = try Tensor(shape: [2, 0, 3]) },
            Case(name: "too few values", mentions: ["[2, 3]", "5 values"]) { _ = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5]) },
            Case(name: "reshape count", mentions: ["[5, 5]", "144"]) { _ = try x.reshaped([5, 5]) },
            // Convolution descriptors and shapes.
            Case(name: "stride 0", mentions: ["stride 0×0"]) { _ = try Conv2DPlan(descriptor: descriptor(stride: 0), weights: w) },
            Case(name: "negative padding", mentions: ["padding", "≥ 0"]) { _ = try Conv2DPlan(descriptor: descriptor(padding: -1), weights: w) },
            Case(name: "dilation 0", mentions: ["dilation 0×0"]) { _ = try Conv2DPlan(descriptor: descriptor(dilation: 0), weights: w) },
            Case(name: "groups not dividing", mentions: ["groups 3", "4", "8"]) {
                _ = try Conv2DPlan(descriptor: descriptor(groups: 3), weights: w)
            },
            Case(name: "weights shape", mentions: ["[8, 4, 3, 2]", "[8, 4, 3, 3]"]) {
                _ = try Conv2DPlan(descriptor: conv, weights: try Tensor(shape: [8, 4, 3, 2]))
            },
            Case(name: "bias length", mentions: ["[7]", "[8]"]) {
                _ = try Conv2DPlan(descriptor: conv, weights: w, bias: try Tensor(shape: [7]))
            },
            Case(name: "input channels", mentions: ["[1, 3, 6, 6]", "4"]) { _ = try plan.forward(try Tensor(shape: [1, 3, 6, 6])) },
            Case(name: "input rank", mentions: ["[4, 6, 6]"]) { _ = try plan.forward(try Tensor(shape: [4, 6, 6])) },
            Case(name: "output smaller than 1", mentions: ["window extent 5", "padded input 2"]) {
                _ = try Conv2DPlan(descriptor: descriptor(kernel: 5), weights: try Tensor(shape: [8, 4, 5, 5]))
                    .forward(try Tensor(shape: [1, 4, 2, 9]))
            },
            Case(name: "gemm-1x1 on a 3×3", mentions: ["gemm-1x1", "3×3"]) {
                _ = try Conv2DPlan(descriptor: conv, weights: w, algorithm: .gemm1x1)
            },
            Case(name: "backward dy shape", mentions: ["[1, 8, 5, 6]", "[1, 8, 6, 6]"]) {
                _ = try Conv2DBackwardDataPlan(descriptor: conv, weights: w)
                    .backward(outputGradient: try Tensor(shape: [1, 8, 5, 6]), inputShape: x.shape)
            },
            // Pooling.
            Case(name: "pool window 0", mentions: ["window 0×0"]) { _ = try Pooling.maxPool2d(x, Pool2DDescriptor(window: 0, stride: 1)) },
            Case(name: "pool padding ≥ window", mentions: ["padding", "2×2"]) {
                _ = try Pooling.avgPool2d(x, Pool2DDescriptor(window: 2, stride: 2, padding: 2))
            },
            Case(name: "pool rank", mentions: ["[4, 6, 6]", "N×C×H×W"]) {
                _ = try Pooling.maxPool2d(try Tensor(shape: [4, 6, 6]), Pool2DDescriptor(window: 2, stride: 2))
            },
            Case(name: "pool backward shape", mentions: ["[1, 4, 2, 2]"]) {
                _ = try Pooling.avgPool2dBackward(try Tensor(shape: [1, 4, 2, 2]), inputShape: x.shape, Pool2DDescriptor(window: 2, stride: 2))
            },
            // Elementwise, losses, fully connected.
            Case(name: "relu backward shapes", mentions: ["[1, 4, 6, 5]", "[1, 4, 6, 6]"]) {
                _ = try Elementwise.reluBackward(try Tensor(shape: [1, 4, 6, 5]), input: x)
            },
            Case(name: "dropout probability", mentions: ["1.5"]) { _ = try Elementwise.dropout(x, probability: 1.5, seed: 1) },
            Case(name: "label out of range", mentions: ["label 10", "0..<10"]) {
                _ = try Loss.softmaxCrossEntropy(logits: try Tensor(shape: [2, 10]), labels: [3, 10])
            },
            Case(name: "negative label", mentions: ["label -1"]) {
                _ = try Loss.softmaxCrossEntropy(logits: try Tensor(shape: [2, 10]), labels: [-1, 0])
            },
            Case(name: "label count", mentions: ["1 labels", "batch of 2"]) {
                _ = try Loss.softmaxCrossEntropy(logits: try Tensor(shape: [2, 10]), labels: [3])
            },
            Case(name: "squared loss target", mentions: ["[2, 4]", "[2, 3]"]) {
                _ = try Loss.squaredLoss(prediction: try Tensor(shape: [2, 3]), target: try Tensor(shape: [2, 4]))
            },
            Case(name: "fully connected features", mentions: ["[2, 5]", "N×6"]) {
                _ = try FullyConnected.forward(try Tensor(shape: [2, 5]), weights: try Tensor(shape: [3, 6]))
            },
        ]
        for c in cases {
            XCTAssertThrowsError(try c.call(), c.name) { error in
                XCTAssertTrue(error is TesseraError, "\(c.name): \(error)")
                let text = "\(error)"
                for m in c.mentions { XCTAssertTrue(text.contains(m), "\(c.name): “\(text)” does not mention \(m)") }
            }
        }
    }

    /// The calls that write into the caller's memory write nothing when they throw.
    func testNothingIsWrittenOnError() throws {
        let guardValue: Float = 12345
        // GEMM: a leading dimension too small, a buffer too short, a zero dimension, a short bias.
        let a = [Float](repeating: 1, count: 12), b = [Float](repeating: 1, count: 12)
        var c = [Float](repeating: guardValue, count: 16)
        let gemmCalls: [(String, (UnsafeMutableBufferPointer<Float>) throws -> Void)] = [
            ("lda", { c in try a.withUnsafeBufferPointer { a in try b.withUnsafeBufferPointer { b in
                try GEMM.sgemm(m: 3, n: 4, k: 4, a: a, lda: 3, b: b, ldb: 4, c: c, ldc: 4) } } }),
            ("short C", { c in try a.withUnsafeBufferPointer { a in try b.withUnsafeBufferPointer { b in
                try GEMM.sgemm(m: 4, n: 5, k: 3, a: a, lda: 3, b: b, ldb: 5, c: c, ldc: 5) } } }),
            ("m = 0", { c in try a.withUnsafeBufferPointer { a in try b.withUnsafeBufferPointer { b in
                try GEMM.sgemm(m: 0, n: 4, k: 3, a: a, lda: 3, b: b, ldb: 4, c: c, ldc: 4) } } }),
            ("short bias", { c in try a.withUnsafeBufferPointer { a in try b.withUnsafeBufferPointer { b in
                try [Float](repeating: 1, count: 2).withUnsafeBufferPointer { bias in
                    try GEMM.sgemm(m: 4, n: 4, k: 3, a: a, lda: 3, b: b, ldb: 4, c: c, ldc: 4,
                                   epilogue: GEMMEpilogue(bias: bias, biasAxis: .row)) } } } }),
        ]
        for (name, call) in gemmCalls {
            XCTAssertThrowsError(try c.withUnsafeMutableBufferPointer { try call($0) }, name)
            XCTAssertEqual(c, [Float](repeating: guardValue, count: 16), "GEMM \(name) wrote into C")
        }
        // In-place APIs: the tensors passed inout keep their values.
        var weights = try Tensor(shape: [4, 3], repeating: guardValue)
        var velocity = try Tensor(shape: [4, 3], repeating: guardValue)
        XCTAssertThrowsError(try Optimizer.sgdStep(weights: &weights, gradient: try Tensor(shape: [3, 4]), velocity: &velocity,
                                                   learningRate: 0.1))
        XCTAssertEqual(weights.scalars + velocity.scalars, [Float](repeating: guardValue, count: 24))
        var dw = try Tensor(shape: [8, 4, 3, 3], repeating: guardValue)
        let conv = Conv2DDescriptor(inChannels: 4, outChannels: 8, kernel: 3, padding: 1)
        XCTAssertThrowsError(try ConvolutionBackward.filter(input: try Tensor(shape: [1, 4, 6, 6]), outputGradient: try Tensor(shape: [1, 8, 6, 5]),
                                                            descriptor: conv, into: &dw))
        XCTAssertEqual(dw.scalars, [Float](repeating: guardValue, count: dw.count))
        var fcW = try Tensor(shape: [3, 6], repeating: guardValue), fcB = try Tensor(shape: [3], repeating: guardValue)
        XCTAssertThrowsError(try FullyConnected.backward(outputGradient: try Tensor(shape: [2, 4]), input: try Tensor(shape: [2, 6]),
                                                         weights: try Tensor(shape: [3, 6]), weightGradient: &fcW, biasGradient: &fcB))
        XCTAssertEqual(fcW.scalars + fcB.scalars, [Float](repeating: guardValue, count: 21))
        var image = try Tensor(shape: [1, 4, 2, 2], repeating: guardValue)
        XCTAssertThrowsError(try Elementwise.addBias(&image, bias: try Tensor(shape: [3])))
        XCTAssertEqual(image.scalars, [Float](repeating: guardValue, count: 16))
    }
}
