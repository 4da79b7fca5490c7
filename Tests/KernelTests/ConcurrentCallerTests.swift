import XCTest
import Dispatch
import Kernels
import TesseraCore

/// Many threads calling into the library at once, sharing one plan's weights: the results must
/// be bit-identical to serial calls (SPEC §5; no shared mutable scratch without an owner).
final class ConcurrentCallerTests: NaNFilledOutputsTestCase {
    func testFourCallersShareOnePlan() throws {
        let d = Conv2DDescriptor(inChannels: 32, outChannels: 64, kernel: 3, padding: 1)
        let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape, seed: 1), relu: true)
        let inputs = try (0..<4).map { try Tensor(shape: [1, 32, 48, 44], seed: UInt64(10 + $0)) }
        let serial = try inputs.map { try plan.forward($0).scalars }

        let results = Locked([[Float]](repeating: [], count: 4))
        for _ in 0..<3 {
            DispatchQueue.concurrentPerform(iterations: 4) { i in
                // Conv, pooling and softmax through shared code paths and the shared scratch pool.
                let y = try! plan.forward(inputs[i])
                let pooled = try! Pooling.maxPool2d(y, .init(window: 2, stride: 2), returnIndices: true).output
                _ = try! Loss.softmax(try! pooled.reshaped([1, pooled.count]))
                let values = y.scalars
                results.withLock { $0[i] = values }
            }
            let got = results.withLock { $0 }
            for i in 0..<4 { XCTAssertEqual(got[i], serial[i], "caller \(i)") }
        }
    }
}
