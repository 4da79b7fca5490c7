import XCTest
import TesseraCore
import Reference

/// SPEC §1's decisions that the seeds leave open, checked on the references.
final class ReferenceSemanticsTests: XCTestCase {
    func testMaxPoolTiesGoToFirstAndNaNPropagates() throws {
        let x = try Tensor(shape: [1, 1, 2, 2], values: [3, 3, 3, 1])
        let (_, argmax) = try Reference.maxPool2dForward(input: x, descriptor: .init(window: 2, stride: 2))
        XCTAssertEqual(argmax, [0])
        let withNaN = try Tensor(shape: [1, 1, 2, 2], values: [1, .nan, 5, .infinity])
        let (y, idx) = try Reference.maxPool2dForward(input: withNaN, descriptor: .init(window: 2, stride: 2))
        XCTAssertTrue(y[flat: 0].isNaN)
        XCTAssertEqual(idx, [1])
        // Padding never wins, even over negative values.
        let negative = try Tensor(shape: [1, 1, 2, 2], values: [-4, -3, -2, -5])
        let (yp, _) = try Reference.maxPool2dForward(input: negative, descriptor: .init(window: 2, stride: 2, padding: 1))
        XCTAssertEqual(yp.scalars, [-4, -3, -2, -5])
    }

    func testAveragePoolCountsPaddingOnlyWhenAsked() throws {
        let x = try Tensor(shape: [1, 1, 2, 2], values: [4, 8, 12, 16])
        let excl = try Reference.avgPool2dForward(input: x, descriptor: .init(window: 2, stride: 2, padding: 1))
        XCTAssertEqual(excl.scalars, [4, 8, 12, 16])
        let incl = try Reference.avgPool2dForward(
            input: x, descriptor: .init(window: 2, stride: 2, padding: 1, countIncludesPadding: true))
        XCTAssertEqual(incl.scalars, [1, 2, 3, 4])
    }

    func testSoftmaxIsStableForLargeLogits() throws {
        let logits = try Tensor(shape: [1, 3], values: [1e4, 1e4 - 1, -1e4])
        let p = try Reference.softmax(logits)
        XCTAssertEqual(Double(p[0, 0]), 1 / (1 + exp(-1.0)), accuracy: 1e-6)
        XCTAssertEqual(p[0, 2], 0)
        let (loss, _) = try Reference.softmaxCrossEntropy(logits: logits, labels: [1])
        XCTAssertEqual(Double(loss), log(1 + exp(1.0)), accuracy: 1e-5)
    }

    func testReluGradientIsZeroAtZero() throws {
        let x = try Tensor(shape: [3], values: [-1, 0, 2])
        let dx = try Reference.reluBackward(outputGradient: try Tensor(shape: [3], repeating: 1), input: x)
        XCTAssertEqual(dx.scalars, [0, 0, 1])
    }

    func testSGDMatchesPyTorchForm() throws {
        var w = try Tensor(shape: [2], values: [1, -2])
        var v = try Tensor(shape: [2], values: [0.5, 0])
        let g = try Tensor(shape: [2], values: [0.1, 0.2])
        try Reference.sgdStep(weights: &w, gradient: g, velocity: &v, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        // v = 0.9·0.5 + (0.1 + 0.01·1) = 0.56; w = 1 − 0.056. v = 0 + (0.2 − 0.02) = 0.18; w = −2 − 0.018.
        XCTAssertEqual(v[0], 0.56, accuracy: 1e-6); XCTAssertEqual(w[0], 0.944, accuracy: 1e-6)
        XCTAssertEqual(v[1], 0.18, accuracy: 1e-6); XCTAssertEqual(w[1], -2.018, accuracy: 1e-6)
    }

    func testBadShapesThrowDescriptiveErrors() {
        XCTAssertThrowsError(try Tensor(shape: [2, 0, 3])) { e in
            XCTAssertTrue("\(e)".contains("[2, 0, 3]"), "\(e)")
        }
        XCTAssertThrowsError(try Tensor(shape: [2, 2], values: [1, 2, 3]))
        let x = try! Tensor(shape: [1, 3, 4, 4])
        let w = try! Tensor(shape: [2, 3, 5, 5])
        XCTAssertThrowsError(try Reference.conv2dForward(input: x, weights: w, descriptor: .init(inChannels: 3, outChannels: 2, kernel: 5))) { e in
            XCTAssertTrue("\(e)".contains("exceeds padded input"), "\(e)")
        }
        XCTAssertThrowsError(try Reference.conv2dForward(input: x, weights: w, descriptor: .init(inChannels: 4, outChannels: 2, kernel: 1))) { e in
            XCTAssertTrue("\(e)".contains("[1, 3, 4, 4]"), "\(e)")
        }
        XCTAssertThrowsError(try Reference.conv2dForward(input: x, weights: w, descriptor: .init(inChannels: 3, outChannels: 2, kernel: 1, groups: 2)))
        XCTAssertThrowsError(try Reference.softmaxCrossEntropy(logits: try! Tensor(shape: [1, 3]), labels: [3]))
    }
}
