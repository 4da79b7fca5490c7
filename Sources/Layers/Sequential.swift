/// Layers run in order (SEEDS-DIGEST §5, [002]'s modular API): forward over the layers, the loss,
/// then backward over them in reverse, each filling its parameters' gradients.
///
/// ```swift
/// let net = try Models.digitsCNN(seed: 1)
/// var sgd = try SGD(learningRate: 0.05, momentum: 0.9)
/// let loss = try net.trainingStep(images, labels: labels, optimizer: &sgd)
/// let predicted = try net.predict(testImages)
/// ```
///
/// Threads: inference (`forward(_:training: false)`, `predict`) may run from many threads at once
/// on one network; training steps must not overlap each other or inference.
public final class Sequential: @unchecked Sendable {
    /// The layers, first to last.
    public let layers: [Layer]

    /// A network of these layers, run first to last.
    public init(_ layers: [Layer]) { self.layers = layers }

    /// Every trainable parameter, in layer order.
    public var parameters: [Parameter] { layers.flatMap { $0.parameters } }

    /// The number of trainable scalars (weights and biases).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The shape after each layer, for an input shape; throws at the first layer that cannot take its input.
    public func shapes(forInputShape shape: [Int]) throws -> [[Int]] {
        var s = shape, result: [[Int]] = []
        for (i, layer) in layers.enumerated() {
            s = try annotate(i, layer) { try layer.outputShape(forInputShape: s) }
            result.append(s)
        }
        return result
    }

    /// Runs every layer. With `training`, layers keep what `backward` needs and dropout is active.
    public func forward(_ x: Tensor, training: Bool = false) throws -> Tensor {
        var y = x
        for (i, layer) in layers.enumerated() {
            y = try annotate(i, layer) { try layer.forward(y, training: training) }
        }
        return y
    }

    /// Back-propagates dL/d(output) of the last training forward through every layer, filling every
    /// parameter's gradient. Returns dL/d(input) if `inputGradient`, else skips the first layer's dX.
    @discardableResult
    public func backward(_ lossGradient: Tensor, inputGradient: Bool = false) throws -> Tensor? {
        var g: Tensor? = lossGradient
        for (i, layer) in layers.enumerated().reversed() {
            g = try annotate(i, layer) { try layer.backward(g!, inputGradient: i > 0 || inputGradient) }
        }
        return g
    }

    /// One SGD step on a batch with integer labels: forward, softmax + cross-entropy, backward,
    /// update. Returns the batch's mean loss (before the update).
    @discardableResult
    public func trainingStep(_ x: Tensor, labels: [Int], optimizer: inout SGD) throws -> Float {
        let logits = try forward(x, training: true)
        let (loss, gradient) = try SoftmaxCrossEntropyLoss()(logits, labels: labels)
        try backward(gradient)
        try optimizer.step(parameters)
        return loss
    }

    /// One SGD step on a batch with a squared loss against `target`.
    @discardableResult
    public func trainingStep(_ x: Tensor, target: Tensor, optimizer: inout SGD) throws -> Float {
        let y = try forward(x, training: true)
        let (loss, gradient) = try SquaredErrorLoss()(y, target: target)
        try backward(gradient)
        try optimizer.step(parameters)
        return loss
    }

    /// The arg-max class of each sample (SEEDS-DIGEST §5: predict argmaxᵢ xᴸᵢ), at inference.
    public func predict(_ x: Tensor) throws -> [Int] {
        let y = try forward(x, training: false)
        let n = y.shape[0], c = y.count / n
        let v = y.scalars
        return (0..<n).map { b in
            var best = 0
            for j in 1..<max(c, 1) where v[b * c + j] > v[b * c + best] { best = j }
            return best
        }
    }

    /// For each of the first `count` layers, the input extent (along one spatial axis) that one
    /// output element of layer `count − 1` depends on: SEEDS-DIGEST T13's "r.size" column.
    public func receptiveFields(throughLayer count: Int) -> [Int] {
        var r = 1
        var fields = [Int](repeating: 0, count: count)
        for i in stride(from: count - 1, through: 0, by: -1) {
            r = layers[i].inputExtent(forOutputExtent: r)
            fields[i] = r
        }
        return fields
    }

    /// One line per layer: index, name, output shape and parameter count.
    public func summary(inputShape: [Int]) throws -> String {
        let shapes = try shapes(forInputShape: inputShape)
        var lines = ["input \(inputShape)"]
        for (i, layer) in layers.enumerated() {
            let p = layer.parameters.reduce(0) { $0 + $1.count }
            lines.append("\(i + 1). \(layer.name) → \(shapes[i])" + (p > 0 ? "  (\(p) parameters)" : ""))
        }
        lines.append("total parameters: \(parameterCount)")
        return lines.joined(separator: "\n")
    }

    /// Runs `body`, prefixing a thrown `TesseraError` with the layer it came from.
    private func annotate<T>(_ i: Int, _ layer: Layer, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as TesseraError {
            let prefix = "layer \(i + 1) (\(layer.name))"
            switch e {
            case let .invalidShape(operation, shape, expected):
                throw TesseraError.invalidShape(operation: operation == layer.name ? prefix : "\(prefix): \(operation)",
                                                shape: shape, expected: expected)
            case let .invalidArgument(operation, message):
                throw TesseraError.invalidArgument(operation: "\(prefix): \(operation)", message: message)
            }
        }
    }
}

/// Fused softmax + cross-entropy on integer labels, mean over the batch (SPEC §1).
public struct SoftmaxCrossEntropyLoss: Sendable {
    /// The loss.
    public init() {}
    /// The loss and dL/d(logits) = (P − onehot)/N. Throws for a label outside 0..<classes.
    public func callAsFunction(_ logits: Tensor, labels: [Int]) throws -> (loss: Float, gradient: Tensor) {
        try Loss.softmaxCrossEntropy(logits: logits, labels: labels)
    }
}

/// Squared loss ½‖y − t‖² per sample, mean over the batch (SPEC §1).
public struct SquaredErrorLoss: Sendable {
    /// The loss.
    public init() {}
    /// The loss and dL/dy = (y − t)/N. Throws when the shapes differ.
    public func callAsFunction(_ prediction: Tensor, target: Tensor) throws -> (loss: Float, gradient: Tensor) {
        try Loss.squaredLoss(prediction: prediction, target: target)
    }
}

/// Stochastic gradient descent with momentum and weight decay, in PyTorch's form (SPEC §1):
/// v ← μ·v + (g + λ·w); w ← w − η·v.
public struct SGD: Sendable {
    /// η.
    public var learningRate: Float
    /// μ.
    public var momentum: Float
    /// λ.
    public var weightDecay: Float

    /// Throws for a negative or non-finite rate, a momentum outside [0, 1) or a negative decay.
    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) throws {
        guard learningRate.isFinite, learningRate >= 0, momentum >= 0, momentum < 1, weightDecay.isFinite, weightDecay >= 0 else {
            throw TesseraError.invalidArgument(
                operation: "SGD", message: "learning rate \(learningRate) must be ≥ 0, momentum \(momentum) in [0, 1), weight decay \(weightDecay) ≥ 0")
        }
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
    }

    /// Updates every parameter in place from its gradient.
    public func step(_ parameters: [Parameter]) throws {
        for p in parameters {
            if p.velocity == nil { p.velocity = try Tensor(shape: p.value.shape) }
            try Optimizer.sgdStep(weights: &p.value, gradient: p.gradient, velocity: &p.velocity!,
                                  learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        }
    }
}
