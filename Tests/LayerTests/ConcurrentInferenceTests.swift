import XCTest
import Dispatch
import Layers

/// Four threads run a VGG-style network at inference on their own inputs, sharing one set of
/// weights (the layers and their plans): every result equals the serial one (SPEC §5; issue:
/// concurrent callers). Run under ThreadSanitizer in CI.
final class ConcurrentInferenceTests: NaNFilledOutputsTestCase {
    func testFourThreadsShareOneNetwork() throws {
        // VGG-16's layer kinds at a reduced size: conv + ReLU blocks, max pools, FC + dropout, softmax.
        var layers: [Layer] = []
        var channels = 3, i = 0
        for (width, convs) in [(16, 2), (32, 2), (64, 3)] {
            for _ in 0..<convs {
                layers.append(try Conv2D(.init(inChannels: channels, outChannels: width, kernel: 3, padding: 1),
                                         relu: true, seed: UInt64(i)))
                channels = width; i += 1
            }
            layers.append(MaxPool2D(window: 2, stride: 2))
        }
        layers += [Flatten(), try Dense(64 * 5 * 5, 48, relu: true, seed: 20), try Dropout(probability: 0.5, seed: 21),
                   try Dense(48, 10, initializer: .xavier, seed: 22)]
        let net = Sequential(layers)
        let inputs = try (0..<4).map { try Tensor(shape: [2, 3, 40, 40], seed: UInt64(100 + $0)) }
        let serial = try inputs.map { try Loss.softmax(try net.forward($0)).scalars }

        let results = Locked([[Float]](repeating: [], count: 4))
        for _ in 0..<3 {
            DispatchQueue.concurrentPerform(iterations: 4) { t in
                let p = try! Loss.softmax(try! net.forward(inputs[t], training: false)).scalars
                results.withLock { $0[t] = p }
            }
            let got = results.withLock { $0 }
            for t in 0..<4 { XCTAssertEqual(got[t], serial[t], "caller \(t)") }
        }
    }
}
