import XCTest
import Kernels
import Reference
import TesseraCore

/// The elementwise, softmax, loss and SGD kernels against the references.
final class ElementwiseTests: NaNFilledOutputsTestCase {
    func random(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) throws -> Tensor {
        try Tensor(shape: shape, seed: seed, low: low, high: high)
    }

    func testReluForwardAndBackward() throws {
        var x = try random([3, 5, 7, 11], seed: 1)
        x[flat: 3] = 0; x[flat: 4] = .nan; x[flat: 5] = -.infinity; x[flat: 6] = .infinity
        let y = Elementwise.relu(x)
        let yRef = Reference.reluForward(x)
        for i in 0..<y.count { XCTAssertTrue(y[flat: i] == yRef[flat: i] || (y[flat: i].isNaN && yRef[flat: i].isNaN)) }
        let dy = try random(x.shape, seed: 2)
        XCTAssertEqual(try Elementwise.reluBackward(dy, input: x).scalars,
                       try Reference.reluBackward(outputGradient: dy, input: x).scalars)
    }

    func testBiasAdd() throws {
        var x = try random([2, 3, 5, 9], seed: 3)
        let b = try random([3], seed: 4)
        let before = x
        try Elementwise.addBias(&x, bias: b)
        for n in 0..<2 { for c in 0..<3 { for i in 0..<5 { for j in 0..<9 {
            XCTAssertEqual(x[n, c, i, j], before[n, c, i, j] + b[c])
        } } } }
        XCTAssertThrowsError(try Elementwise.addBias(&x, bias: try random([4], seed: 1)))
    }

    func testDropoutMatchesTheSequentialReference() throws {
        let x = try random([4, 1000], seed: 5)
        for p in [Float(0), 0.3, 0.5, 0.9] {
            let (y, mask) = try Elementwise.dropout(x, probability: p, seed: 77)
            let (yRef, maskRef) = try Reference.dropoutForward(x, probability: p, seed: 77)
            XCTAssertEqual(mask.scalars, maskRef.scalars)
            XCTAssertEqual(y.scalars, yRef.scalars)
            let kept = mask.scalars.filter { $0 != 0 }.count
            XCTAssertEqual(Double(kept) / 4000, Double(1 - p), accuracy: 0.05)
            let dy = try random(x.shape, seed: 6)
            XCTAssertEqual(try Elementwise.dropoutBackward(dy, mask: mask).scalars,
                           try Reference.dropoutBackward(outputGradient: dy, mask: maskRef).scalars)
        }
        XCTAssertThrowsError(try Elementwise.dropout(x, probability: 1, seed: 1))
    }

    func testSoftmaxAndCrossEntropy() throws {
        // Rows under 16 and of 16, 64 (whole vectors), 17, 31, 65 and 1000 (a partial last vector).
        let cases: [([Int], Float)] = [([3, 10], 3), ([5, 1000], 10), ([2, 7], 1e4), ([1, 1], 1), ([2, 16], 5),
                                       ([3, 64], 20), ([2, 17], 1e4), ([3, 31], 8), ([2, 65], 50)]
        for (shape, scale) in cases {
            var logits = try random(shape, seed: 7, low: -scale, high: scale)
            if shape == [2, 7] { logits[0, 0] = 1e4; logits[0, 1] = 1e4 - 1 }
            let p = try Loss.softmax(logits)
            let pRef = try Reference.softmax(logits)
            for i in 0..<p.count { XCTAssertEqual(p[flat: i], pRef[flat: i], accuracy: 1e-6, "\(shape)") }
            let labels = (0..<shape[0]).map { ($0 * 7 + 3) % shape[1] }
            let (loss, grad) = try Loss.softmaxCrossEntropy(logits: logits, labels: labels)
            let (lossRef, gradRef) = try Reference.softmaxCrossEntropy(logits: logits, labels: labels)
            XCTAssertFalse(loss.isNaN || loss.isInfinite)
            XCTAssertEqual(loss, lossRef, accuracy: 1e-6 * max(1, abs(lossRef)), "\(shape)")
            for i in 0..<grad.count { XCTAssertEqual(grad[flat: i], gradRef[flat: i], accuracy: 1e-6, "\(shape)") }
        }
        // A NaN anywhere in a row makes that whole row NaN, and no other row.
        for c in [10, 16, 40] {
            var logits = try random([2, c], seed: 3)
            logits[1, c - 3] = .nan
            let p = try Loss.softmax(logits)
            for k in 0..<c {
                XCTAssertFalse(p[0, k].isNaN, "row 0 of \(c)")
                XCTAssertTrue(p[1, k].isNaN, "row 1 of \(c)")
            }
        }
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: try random([2, 3], seed: 1), labels: [0, 3]))
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: try random([2, 3], seed: 1), labels: [0]))
    }

    /// ±∞ logits, as the reference treats them: −∞ (a masked class) gets probability 0 and leaves the
    /// rest of its row finite, a +∞ or a row of only −∞ makes its row NaN (∞ − ∞), and no other row.
    func testSoftmaxInfiniteLogits() throws {
        for c in [10, 16, 17, 40, 1000] {
            var logits = try random([4, c], seed: 31, low: -3, high: 3)
            for k in stride(from: 0, to: c, by: 3) { logits[0, k] = -.infinity }   // masked classes
            logits[1, c / 2] = .infinity
            for k in 0..<c { logits[2, k] = -.infinity }
            let p = try Loss.softmax(logits), pRef = try Reference.softmax(logits)
            for b in 0..<4 {
                for k in 0..<c {
                    let v = p[b, k], r = pRef[b, k]
                    XCTAssertEqual(v.isNaN, r.isNaN, "row \(b) of \(c), class \(k)")
                    if !r.isNaN { XCTAssertEqual(v, r, accuracy: 1e-6, "row \(b) of \(c), class \(k)") }
                }
            }
            for k in stride(from: 0, to: c, by: 3) { XCTAssertEqual(p[0, k], 0, "masked class \(k) of \(c)") }
            for k in 0..<c {
                XCTAssertTrue(p[1, k].isNaN && p[2, k].isNaN, "rows 1 and 2 of \(c)")
                XCTAssertFalse(p[3, k].isNaN, "row 3 of \(c)")
            }
            // Cross-entropy on the masked row with an unmasked label stays finite and matches.
            let masked = try Tensor(shape: [1, c], values: (0..<c).map { logits[0, $0] })
            let (loss, _) = try Loss.softmaxCrossEntropy(logits: masked, labels: [1])
            let (lossRef, _) = try Reference.softmaxCrossEntropy(logits: masked, labels: [1])
            XCTAssertTrue(loss.isFinite, "loss of the masked row of \(c)")
            XCTAssertEqual(loss, lossRef, accuracy: 1e-6 * max(1, abs(lossRef)))
        }
    }

    /// The exponential inside softmax, to its documented bound (about 1.5 ulp; the AVX-512 kernel's
    /// note): with the row's max at x₀ = 0, e^(x₀ − max) = 1 exactly, so p_i / p₀ = e^(x_i), up to that
    /// error and the rounding of the two scalings by 1/Σ, at most 3 · 2⁻²³ relative (plus 2⁻¹⁵⁰
    /// absolute where p_i is subnormal). Checked in
    /// Double against `Foundation.exp` for 40,000 logits in [−87, 0]; below −88 it must be 0 or tiny.
    func testSoftmaxExponentialAccuracy() throws {
        for width in [1000, 17, 4096] {
            for seed in UInt64(20)..<UInt64(30) {
                var logits = try random([1, width], seed: seed, low: -87, high: 0)
                logits[0, 0] = 0
                if width > 2 { logits[0, 1] = -1000; logits[0, 2] = -88.5 }
                let p = try Loss.softmax(logits)
                for i in 1..<width {
                    let x = Double(logits[0, i]), ratio = Double(p[0, i]) / Double(p[0, 0])
                    if x < -88 {
                        XCTAssertLessThanOrEqual(ratio, 1.2e-38, "e^\(x)")
                    } else {
                        // p_i under 2⁻¹²⁶ is subnormal: its rounding is absolute, up to 2⁻¹⁵⁰.
                        let tolerance = 3 * 0x1p-23 * Foundation.exp(x) + 0x1p-150 / Double(p[0, 0])
                        XCTAssertEqual(ratio, Foundation.exp(x), accuracy: tolerance, "e^\(x), row of \(width)")
                    }
                }
            }
        }
    }

    func testSquaredLoss() throws {
        let x = try random([4, 3, 5], seed: 8), t = try random([4, 3, 5], seed: 9)
        let (loss, grad) = try Loss.squaredLoss(prediction: x, target: t)
        let (lossRef, gradRef) = try Reference.squaredLoss(prediction: x, target: t)
        XCTAssertEqual(loss, lossRef, accuracy: 1e-6 * abs(lossRef))
        for i in 0..<grad.count { XCTAssertEqual(grad[flat: i], gradRef[flat: i], accuracy: 1e-7) }
    }

    func testSGDStep() throws {
        for (mu, lambda) in [(Float(0), Float(0)), (0.9, 1e-4), (0.5, 0.1)] {
            var w = try random([1003], seed: 10), v = try random([1003], seed: 11)
            var wRef = w, vRef = v
            let g = try random([1003], seed: 12)
            for _ in 0..<3 {
                try Optimizer.sgdStep(weights: &w, gradient: g, velocity: &v, learningRate: 0.05, momentum: mu, weightDecay: lambda)
                try Reference.sgdStep(weights: &wRef, gradient: g, velocity: &vRef, learningRate: 0.05, momentum: mu, weightDecay: lambda)
            }
            for i in 0..<w.count {
                XCTAssertEqual(w[flat: i], wRef[flat: i], accuracy: 1e-6)
                XCTAssertEqual(v[flat: i], vRef[flat: i], accuracy: 1e-6)
            }
        }
    }

    func testSameResultsAtAnyThreadCount() throws {
        let x = try random([64, 1000], seed: 13)
        let labels = (0..<64).map { $0 % 1000 }
        let one = try Loss.softmaxCrossEntropy(logits: x, labels: labels, threads: 1)
        let big = try random([8, 64, 56, 56], seed: 14)
        let reluOne = Elementwise.relu(big, threads: 1)
        for threads in [2, 5] {
            let other = try Loss.softmaxCrossEntropy(logits: x, labels: labels, threads: threads)
            XCTAssertEqual(one.loss.bitPattern, other.loss.bitPattern)
            XCTAssertEqual(one.gradient.scalars, other.gradient.scalars)
            XCTAssertEqual(reluOne.scalars, Elementwise.relu(big, threads: threads).scalars)
        }
    }
}
