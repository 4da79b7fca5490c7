import XCTest
import Datasets
import Layers
import Scheduler

/// Networks as wholes: the seeds' models (parameter counts, shape chains, receptive fields),
/// determinism across thread counts, error messages, and a real training run on the UCI digits.
final class NetworkTests: NaNFilledOutputsTestCase {
    func testVGG16MatchesTheCaseStudy() throws {
        let vgg = try Models.vgg16()
        // SEEDS-DIGEST §4.1 / T15: 138,344,128 weights + 13,416 biases.
        XCTAssertEqual(vgg.parameterCount, 138_357_544)
        let shapes = try vgg.shapes(forInputShape: [1, 3, 224, 224])
        XCTAssertEqual(shapes[0], [1, 64, 224, 224])
        XCTAssertEqual(shapes[4], [1, 64, 112, 112])
        XCTAssertEqual(shapes[30], [1, 512, 7, 7])
        XCTAssertEqual(shapes.last, [1, 1000])
        // T13: the r.size column for layers 1…31 (conv adds 2, pool doubles, ReLU adds nothing).
        XCTAssertEqual(vgg.receptiveFields(throughLayer: 31), [
            212, 210, 210, 208, 208, 104, 102, 102, 100, 100, 50, 48, 48, 46, 46, 44, 44,
            22, 20, 20, 18, 18, 16, 16, 8, 6, 6, 4, 4, 2, 2,
        ])
        // Per-layer weight counts of the table (without biases), conv layers in order.
        let convWeights = vgg.layers.compactMap { ($0 as? Conv2D)?.weight.count }
        XCTAssertEqual(convWeights, [1_728, 36_864, 73_728, 147_456, 294_912, 589_824, 589_824,
                                     1_179_648, 2_359_296, 2_359_296, 2_359_296, 2_359_296, 2_359_296])
    }

    func testSeedNetworks() throws {
        // T10 model2: 208 + 1,168 + 4,010.
        let model2 = try Models.mnistModel2()
        XCTAssertEqual(model2.parameterCount, 5_386)
        XCTAssertEqual(try model2.shapes(forInputShape: [1, 1, 28, 28]),
                       [[1, 8, 24, 24], [1, 8, 12, 12], [1, 16, 10, 10], [1, 16, 5, 5], [1, 400], [1, 10]])
        // T20 MNIST BASE: 520 + 25,050 + 400,500 + 5,010.
        let base = try Models.mnistBase()
        XCTAssertEqual(base.parameterCount, 431_080)
        XCTAssertEqual(try base.shapes(forInputShape: [1, 1, 28, 28]),
                       [[1, 20, 24, 24], [1, 20, 12, 12], [1, 50, 8, 8], [1, 50, 4, 4], [1, 500, 1, 1], [1, 10, 1, 1]])
        // Both train: a step on a random batch lowers the loss on that batch.
        for net in [model2, base] {
            let x = try Tensor(shape: [4, 1, 28, 28], seed: 3, low: 0, high: 1)
            var sgd = try SGD(learningRate: 0.05)
            let first = try net.trainingStep(x, labels: [1, 2, 3, 4], optimizer: &sgd)
            var last = first
            for _ in 0..<5 { last = try net.trainingStep(x, labels: [1, 2, 3, 4], optimizer: &sgd) }
            XCTAssertLessThan(last, first)
        }
    }

    func testShapeMismatchNamesBothShapes() throws {
        let net = try Models.digitsCNN()
        XCTAssertThrowsError(try net.forward(try Tensor(shape: [2, 3, 8, 8]))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("[2, 3, 8, 8]") && text.contains("N×1×H×W") && text.contains("layer 1"), text)
        }
        XCTAssertThrowsError(try net.forward(try Tensor(shape: [2, 1, 10, 10]))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("[2, 32, 5, 5]") || text.contains("[2, 800]"), text)
            XCTAssertTrue(text.contains("512"), text)
        }
        XCTAssertThrowsError(try Models.digitsCNN().backward(try Tensor(shape: [1, 10])), "backward before forward")
        var sgd = try SGD(learningRate: 0.1)
        XCTAssertThrowsError(try net.trainingStep(try Tensor(shape: [2, 1, 8, 8]), labels: [0, 10], optimizer: &sgd))
        XCTAssertThrowsError(try SGD(learningRate: -1))
    }

    /// A few SGD steps of a network big enough to run its convolutions in parallel: the weights come
    /// out bit-identical at 1 and 2 threads (and more threads than cores).
    func testTrainingIsIdenticalAtAnyThreadCount() throws {
        func train(threads: Int) throws -> [[Float]] {
            Scheduler.maximumThreads = threads
            defer { Scheduler.maximumThreads = 0 }
            let net = Sequential([
                try Conv2D(.init(inChannels: 3, outChannels: 32, kernel: 3, padding: 1), relu: true, seed: 1),
                try Conv2D(.init(inChannels: 32, outChannels: 64, kernel: 3, padding: 1), relu: true, seed: 2),
                MaxPool2D(window: 2, stride: 2),
                try Conv2D(.init(inChannels: 64, outChannels: 64, kernel: 3, stride: 2, padding: 1), relu: true, seed: 3),
                GlobalAvgPool(),
                Flatten(),
                try Dropout(probability: 0.25, seed: 4),
                try Dense(64, 10, initializer: .xavier, seed: 5),
            ])
            var sgd = try SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 1e-4)
            let x = try Tensor(shape: [4, 3, 48, 48], seed: 6)
            for _ in 0..<2 { try net.trainingStep(x, labels: [0, 3, 5, 9], optimizer: &sgd) }
            return net.parameters.map { $0.value.scalars }
        }
        let one = try train(threads: 1)
        XCTAssertEqual(one, try train(threads: 2))
        XCTAssertEqual(one, try train(threads: 5))
    }

    /// A few epochs on a subset of the digits lower the loss and beat chance (10%) by a wide margin.
    func testDigitsTrainingLearns() throws {
        let (train, test) = try Digits.load().split()
        XCTAssertEqual(train.count, 1_437)
        XCTAssertEqual(test.count, 360)
        XCTAssertEqual(Set(train.labels), Set(0..<10))
        let subset = try train.subset(Array(0..<640))
        let net = try Models.digitsCNN(seed: 42)
        var sgd = try SGD(learningRate: 0.05, momentum: 0.9)
        var epochLoss: [Float] = []
        for _ in 0..<6 {
            var total: Float = 0
            for b in stride(from: 0, to: subset.count, by: 32) {
                let batch = try subset.subset(Array(b..<min(subset.count, b + 32)))
                total += try net.trainingStep(batch.images, labels: batch.labels, optimizer: &sgd)
            }
            epochLoss.append(total / 20)
        }
        XCTAssertLessThan(epochLoss.last!, epochLoss.first! * 0.5, "\(epochLoss)")
        let predicted = try net.predict(test.images)
        let accuracy = Double(zip(predicted, test.labels).filter { $0 == $1 }.count) / Double(test.count)
        XCTAssertGreaterThan(accuracy, 0.8, "test accuracy \(accuracy)")
    }
}
