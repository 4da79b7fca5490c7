import TesseraCore
import Foundation

extension Reference {
    /// ReLU forward (SEEDS-DIGEST O6): max(0, x). NaN passes through.
    public static func reluForward(_ x: Tensor) -> Tensor {
        var y = x
        for i in 0..<y.count where x[flat: i] < 0 { y[flat: i] = 0 }
        return y
    }

    /// ReLU backward (SEEDS-DIGEST O6): dy where x > 0, else 0 (0 at x == 0).
    public static func reluBackward(outputGradient dy: Tensor, input x: Tensor) throws -> Tensor {
        try ConvGeometry.check(dy.shape, equals: x.shape, "output gradient", "Reference.reluBackward")
        var dx = dy
        for i in 0..<dx.count where !(x[flat: i] > 0) { dx[flat: i] = 0 }
        return dx
    }

    /// Splits a tensor into N rows of equal length (N = first axis).
    static func rows(_ t: Tensor, _ operation: String) throws -> (n: Int, width: Int) {
        guard t.rank >= 2 else {
            throw TesseraError.invalidShape(operation: operation, shape: t.shape, expected: "at least 2 axes, batch first")
        }
        return (t.shape[0], t.count / t.shape[0])
    }

    /// Softmax over each row of an N×C tensor, max-subtracted for stability (SEEDS-DIGEST O10).
    public static func softmax(_ logits: Tensor) throws -> Tensor {
        let (n, c) = try rows(logits, "Reference.softmax")
        var p = logits
        for b in 0..<n {
            var m = -Double.infinity
            for k in 0..<c { m = max(m, Double(logits[flat: b * c + k])) }
            var sum = 0.0
            for k in 0..<c { sum += exp(Double(logits[flat: b * c + k]) - m) }
            for k in 0..<c { p[flat: b * c + k] = Float(exp(Double(logits[flat: b * c + k]) - m) / sum) }
        }
        return p
    }

    /// Fused softmax + cross-entropy on integer labels, mean over the batch (SPEC §1):
    /// L = −(1/N) Σₙ log Pₙ[labelₙ]; gradient (P − onehot)/N.
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int]) throws -> (loss: Float, gradient: Tensor) {
        let (n, c) = try rows(logits, "Reference.softmaxCrossEntropy")
        guard labels.count == n else {
            throw TesseraError.invalidArgument(operation: "Reference.softmaxCrossEntropy",
                                               message: "\(labels.count) labels for a batch of \(n)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
            throw TesseraError.invalidArgument(operation: "Reference.softmaxCrossEntropy",
                                               message: "label \(bad) outside 0..<\(c)")
        }
        var grad = try softmax(logits)
        var loss = 0.0
        for b in 0..<n {
            var m = -Double.infinity
            for k in 0..<c { m = max(m, Double(logits[flat: b * c + k])) }
            var sum = 0.0
            for k in 0..<c { sum += exp(Double(logits[flat: b * c + k]) - m) }
            loss += (log(sum) + m) - Double(logits[flat: b * c + labels[b]])
            for k in 0..<c {
                let target = k == labels[b] ? 1.0 : 0.0
                grad[flat: b * c + k] = Float((Double(grad[flat: b * c + k]) - target) / Double(n))
            }
        }
        return (Float(loss / Double(n)), grad)
    }

    /// Squared loss (SEEDS-DIGEST O11, eq.6): ½‖x − t‖² per sample, mean over the batch; gradient (x − t)/N.
    public static func squaredLoss(prediction x: Tensor, target t: Tensor) throws -> (loss: Float, gradient: Tensor) {
        try ConvGeometry.check(t.shape, equals: x.shape, "target", "Reference.squaredLoss")
        let n = Double(x.shape[0])
        var grad = x
        var loss = 0.0
        for i in 0..<x.count {
            let d = Double(x[flat: i]) - Double(t[flat: i])
            loss += 0.5 * d * d
            grad[flat: i] = Float(d / n)
        }
        return (Float(loss / n), grad)
    }

    /// Inverted dropout forward (SEEDS-DIGEST O12, SPEC §1): element i is kept when the i-th
    /// `nextUnitFloat()` of `SeededGenerator(seed:)` is ≥ p, and kept values are scaled by 1/(1−p).
    /// - Returns: the output and the mask (0 or 1/(1−p)) that backward multiplies by.
    public static func dropoutForward(_ x: Tensor, probability p: Float, seed: UInt64) throws -> (output: Tensor, mask: Tensor) {
        guard p >= 0, p < 1 else {
            throw TesseraError.invalidArgument(operation: "Reference.dropoutForward", message: "probability \(p) outside [0, 1)")
        }
        var g = SeededGenerator(seed: seed)
        var mask = try Tensor(shape: x.shape)
        var y = x
        let scale = 1 / (1 - p)
        for i in 0..<x.count {
            let m: Float = g.nextUnitFloat() >= p ? scale : 0
            mask[flat: i] = m
            y[flat: i] = x[flat: i] * m
        }
        return (y, mask)
    }

    /// Dropout backward: dy · mask.
    public static func dropoutBackward(outputGradient dy: Tensor, mask: Tensor) throws -> Tensor {
        try ConvGeometry.check(mask.shape, equals: dy.shape, "mask", "Reference.dropoutBackward")
        var dx = dy
        for i in 0..<dx.count { dx[flat: i] = dy[flat: i] * mask[flat: i] }
        return dx
    }

    /// Fully connected forward (SEEDS-DIGEST O5): y[n,o] = b[o] + Σᵢ W[o,i]·x[n,i], with W of shape
    /// [out, in] and x any tensor whose first axis is the batch (flattened to [N, in]).
    public static func fullyConnectedForward(input x: Tensor, weights w: Tensor, bias: Tensor?) throws -> Tensor {
        let (n, inFeatures) = try rows(x, "Reference.fullyConnectedForward")
        guard w.rank == 2, w.shape[1] == inFeatures else {
            throw TesseraError.invalidShape(operation: "Reference.fullyConnectedForward", shape: w.shape,
                                            expected: "weights [out, \(inFeatures)]")
        }
        let outFeatures = w.shape[0]
        if let bias { try ConvGeometry.check(bias.shape, equals: [outFeatures], "bias", "Reference.fullyConnectedForward") }
        var y = try Tensor(shape: [n, outFeatures])
        for b in 0..<n {
            for o in 0..<outFeatures {
                var sum = bias.map { Double($0[flat: o]) } ?? 0
                for i in 0..<inFeatures { sum += Double(w[o, i]) * Double(x[flat: b * inFeatures + i]) }
                y[b, o] = Float(sum)
            }
        }
        return y
    }

    /// Fully connected backward (SEEDS-DIGEST O5, column convention): dX = dY·W, dW = dYᵀ·X
    /// summed over the batch, db = Σ over the batch of dY. dX has x's shape.
    public static func fullyConnectedBackward(
        outputGradient dy: Tensor, input x: Tensor, weights w: Tensor
    ) throws -> (inputGradient: Tensor, weightGradient: Tensor, biasGradient: Tensor) {
        let (n, inFeatures) = try rows(x, "Reference.fullyConnectedBackward")
        let outFeatures = w.shape[0]
        try ConvGeometry.check(w.shape, equals: [outFeatures, inFeatures], "weights", "Reference.fullyConnectedBackward")
        try ConvGeometry.check(dy.shape, equals: [n, outFeatures], "output gradient", "Reference.fullyConnectedBackward")
        var dx = try Tensor(shape: x.shape)
        var dw = try Tensor(shape: w.shape)
        var db = try Tensor(shape: [outFeatures])
        for b in 0..<n {
            for i in 0..<inFeatures {
                var sum = 0.0
                for o in 0..<outFeatures { sum += Double(dy[b, o]) * Double(w[o, i]) }
                dx[flat: b * inFeatures + i] = Float(sum)
            }
        }
        for o in 0..<outFeatures {
            var bias = 0.0
            for b in 0..<n { bias += Double(dy[b, o]) }
            db[flat: o] = Float(bias)
            for i in 0..<inFeatures {
                var sum = 0.0
                for b in 0..<n { sum += Double(dy[b, o]) * Double(x[flat: b * inFeatures + i]) }
                dw[o, i] = Float(sum)
            }
        }
        return (dx, dw, db)
    }

    /// One SGD step (SPEC §1, PyTorch's form): v ← μ·v + (g + λ·w); w ← w − η·v.
    public static func sgdStep(
        weights w: inout Tensor, gradient g: Tensor, velocity v: inout Tensor,
        learningRate eta: Float, momentum mu: Float = 0, weightDecay lambda: Float = 0
    ) throws {
        try ConvGeometry.check(g.shape, equals: w.shape, "gradient", "Reference.sgdStep")
        try ConvGeometry.check(v.shape, equals: w.shape, "velocity", "Reference.sgdStep")
        for i in 0..<w.count {
            let vi = Double(mu) * Double(v[flat: i]) + (Double(g[flat: i]) + Double(lambda) * Double(w[flat: i]))
            v[flat: i] = Float(vi)
            w[flat: i] = Float(Double(w[flat: i]) - Double(eta) * vi)
        }
    }
}
