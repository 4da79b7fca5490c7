/// A fully connected layer (SEEDS-DIGEST O5): weights `[out, in]`, y = W·x + b per sample, with
/// ReLU optionally fused. The input's first axis is the batch; the rest is flattened.
public final class Dense: Layer, @unchecked Sendable {
    /// Input features.
    public let inFeatures: Int
    /// Output features.
    public let outFeatures: Int
    /// Whether ReLU is fused into the output.
    public let relu: Bool
    /// `[out, in]` weights.
    public let weight: Parameter
    /// `out` biases, or nil.
    public let bias: Parameter?
    private var saved: (input: Tensor, output: Tensor?)?

    /// A layer with weights drawn by `initializer` from `seed` and zero bias.
    public convenience init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, relu: Bool = false,
                            initializer: Initializer = .he, seed: UInt64) throws {
        guard inFeatures >= 1, outFeatures >= 1 else {
            throw TesseraError.invalidShape(operation: "Dense", shape: [outFeatures, inFeatures], expected: "[out, in] with both ≥ 1")
        }
        let w = try initializer.tensor(shape: [outFeatures, inFeatures], fanIn: inFeatures, fanOut: outFeatures, seed: seed)
        try self.init(weights: w, bias: bias ? try Tensor(shape: [outFeatures]) : nil, relu: relu)
    }

    /// A layer with given `[out, in]` weights and bias.
    public init(weights: Tensor, bias: Tensor?, relu: Bool = false) throws {
        guard weights.rank == 2 else {
            throw TesseraError.invalidShape(operation: "Dense", shape: weights.shape, expected: "weights [out, in]")
        }
        outFeatures = weights.shape[0]
        inFeatures = weights.shape[1]
        if let bias { try ConvGeometry.check(bias.shape, equals: [outFeatures], "bias", "Dense") }
        self.relu = relu
        weight = Parameter(name: "weight", value: weights)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
    }

    public var name: String { "Dense \(inFeatures)→\(outFeatures)" + (relu ? " +ReLU" : "") }
    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func outputShape(forInputShape shape: [Int]) throws -> [Int] {
        guard shape.count >= 2, shape.dropFirst().reduce(1, *) == inFeatures else {
            throw shapeError(name, shape, expected: "N×\(inFeatures) (or N×… with \(inFeatures) features per sample)")
        }
        return [shape[0], outFeatures]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        _ = try outputShape(forInputShape: x.shape)
        let y = try FullyConnected.forward(x, weights: weight.value, bias: bias?.value, relu: relu)
        if training { saved = (x, relu ? y : nil) }   // inference writes no state
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let saved else { throw missingForward(name) }
        let delta = try saved.output.map { try Elementwise.reluBackward(dy, input: $0) } ?? dy
        // The weight gradient is overwritten in place (no per-step allocation of FC6's 411 MB); the bias's is small.
        var biasGradient = try Tensor(shape: [outFeatures])
        let dx = try FullyConnected.backward(outputGradient: delta, input: saved.input, weights: weight.value,
                                             inputGradient: inputGradient, weightGradient: &weight.gradient,
                                             biasGradient: &biasGradient)
        bias?.gradient = biasGradient
        return dx
    }
}
