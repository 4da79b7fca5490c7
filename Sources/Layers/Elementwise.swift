/// ReLU (SEEDS-DIGEST O6): y = max(0, x); backward passes dy where x > 0.
public final class ReLU: Layer, @unchecked Sendable {
    private var savedInput: Tensor?
    /// A ReLU layer.
    public init() {}
    public var name: String { "ReLU" }
    public func outputShape(forInputShape shape: [Int]) throws -> [Int] { shape }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        if training { savedInput = x }
        return Elementwise.relu(x)
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let savedInput else { throw missingForward(name) }
        return inputGradient ? try Elementwise.reluBackward(dy, input: savedInput) : nil
    }
}

/// Inverted dropout (SPEC §1): in training, keeps each element with probability 1 − p and scales it
/// by 1/(1 − p); identity at inference. Each training forward draws a new mask from the layer's
/// seed and a step counter, so runs repeat exactly.
public final class Dropout: Layer, @unchecked Sendable {
    /// The drop probability p, in [0, 1).
    public let probability: Float
    private let seed: UInt64
    private var step: UInt64 = 0
    private var mask: Tensor?

    /// A dropout layer; throws unless 0 ≤ `probability` < 1.
    public init(probability: Float, seed: UInt64) throws {
        guard probability >= 0, probability < 1 else {
            throw TesseraError.invalidArgument(operation: "Dropout", message: "probability \(probability) outside [0, 1)")
        }
        self.probability = probability
        self.seed = seed
    }

    public var name: String { "Dropout(\(probability))" }
    public func outputShape(forInputShape shape: [Int]) throws -> [Int] { shape }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard training else { return x }
        guard probability > 0 else { mask = nil; return x }
        step &+= 1
        let (y, m) = try Elementwise.dropout(x, probability: probability, seed: seed &+ step &* 0x9E37_79B9_7F4A_7C15)
        mask = m
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard inputGradient else { return nil }
        guard let mask else { return dy }   // p = 0: identity
        return try Elementwise.dropoutBackward(dy, mask: mask)
    }
}

/// Flatten: N×C×H×W (or any rank) → N×(C·H·W), no copy.
public final class Flatten: Layer, @unchecked Sendable {
    private var savedShape: [Int]?
    /// A flatten layer.
    public init() {}
    public var name: String { "Flatten" }

    public func outputShape(forInputShape shape: [Int]) throws -> [Int] {
        guard shape.count >= 2 else { throw shapeError(name, shape, expected: "a batch axis and at least one more") }
        return [shape[0], shape.dropFirst().reduce(1, *)]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        if training { savedShape = x.shape }
        return try x.reshaped(try outputShape(forInputShape: x.shape))
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let savedShape else { throw missingForward(name) }
        return inputGradient ? try dy.reshaped(savedShape) : nil
    }
}
