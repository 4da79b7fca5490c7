/// A 2-D convolution layer (SPEC §1: NCHW input, OIHW weights, bias of O values), with ReLU
/// optionally fused into its output.
///
/// It holds a forward `Conv2DPlan` and a `Conv2DBackwardDataPlan`, both built from the current
/// weights and rebuilt lazily after the weights change (an optimizer step).
///
/// ```swift
/// let conv = try Conv2D(Conv2DDescriptor(inChannels: 3, outChannels: 64, kernel: 3, padding: 1), relu: true, seed: 1)
/// let y = try conv.forward(x, training: true)
/// let dx = try conv.backward(dy, inputGradient: true)
/// ```
public final class Conv2D: Layer, @unchecked Sendable {
    /// Channels, kernel, stride, padding, dilation, groups.
    public let descriptor: Conv2DDescriptor
    /// Whether ReLU is fused into the output.
    public let relu: Bool
    /// OIHW weights.
    public let weight: Parameter
    /// O biases, or nil.
    public let bias: Parameter?
    private let algorithm: ConvAlgorithm?
    private let allowWinograd: Bool
    /// The plans for the weights of `version`; behind a lock so that concurrent inference calls can share them.
    private let planCache = Locked<(version: Int, forward: Conv2DPlan, backward: Conv2DBackwardDataPlan?)?>(nil)
    private var saved: (input: Tensor, output: Tensor?)?

    /// A layer with weights drawn by `initializer` from `seed` (fan-in C/G·kh·kw, fan-out O/G·kh·kw) and zero bias.
    public convenience init(_ descriptor: Conv2DDescriptor, bias: Bool = true, relu: Bool = false,
                            initializer: Initializer = .he, seed: UInt64, algorithm: ConvAlgorithm? = nil,
                            allowWinograd: Bool = true) throws {
        try descriptor.validate("Conv2D")
        let taps = descriptor.kernelHeight * descriptor.kernelWidth
        let w = try initializer.tensor(shape: descriptor.weightShape, fanIn: descriptor.inChannels / descriptor.groups * taps,
                                       fanOut: descriptor.outChannels / descriptor.groups * taps, seed: seed)
        try self.init(descriptor, weights: w, bias: bias ? try Tensor(shape: [descriptor.outChannels]) : nil,
                      relu: relu, algorithm: algorithm, allowWinograd: allowWinograd)
    }

    /// A layer with given OIHW weights and bias. `algorithm` and `allowWinograd` go to its `Conv2DPlan`.
    public init(_ descriptor: Conv2DDescriptor, weights: Tensor, bias: Tensor?, relu: Bool = false,
                algorithm: ConvAlgorithm? = nil, allowWinograd: Bool = true) throws {
        try descriptor.validate("Conv2D")
        try ConvGeometry.check(weights.shape, equals: descriptor.weightShape, "weights", "Conv2D")
        if let bias { try ConvGeometry.check(bias.shape, equals: [descriptor.outChannels], "bias", "Conv2D") }
        self.descriptor = descriptor
        self.relu = relu
        self.algorithm = algorithm
        self.allowWinograd = allowWinograd
        weight = Parameter(name: "weight", value: weights)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
    }

    public var name: String {
        let d = descriptor
        return "Conv2D \(d.inChannels)→\(d.outChannels) \(d.kernelHeight)×\(d.kernelWidth)"
            + (d.strideHeight > 1 || d.strideWidth > 1 ? " /\(d.strideHeight)" : "") + (relu ? " +ReLU" : "")
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    private var version: Int { weight.version &+ (bias?.version ?? 0) &* 31 }

    /// The forward plan for the current weights (what ran, and the memory it holds).
    public func forwardPlan() throws -> Conv2DPlan { try plans(backward: false).forward }

    /// The plans for the current weights. Training runs forward, dX and dW through Winograd where the
    /// automatic choice takes it (unless `allowWinograd` is false); after an optimizer step the plans
    /// copy the new weights and re-transform or re-pack only the variants the next calls run.
    /// (From 2026-11-23 to 2026-12-02 training forward and dX stayed off Winograd after sporadic
    /// multi-second stalls at 2 threads in long Bench runs, with the per-block Winograd paths of then;
    /// not seen since the forward became one parallel region: 60 VGG-16 steps, max 1.35× the median.)
    private func plans(backward: Bool) throws -> (forward: Conv2DPlan, backward: Conv2DBackwardDataPlan?) {
        let version = self.version
        return try planCache.withLock { plan in
            if var current = plan {
                if current.version != version {
                    // New weights (an optimizer step): re-pack them into the plans' storage, no allocation.
                    try current.forward.update(weights: weight.value, bias: bias?.value)
                    try current.backward?.update(weights: weight.value)
                    current.version = version
                }
                if backward && current.backward == nil {
                    current.backward = try Conv2DBackwardDataPlan(descriptor: descriptor, weights: weight.value,
                                                                  allowWinograd: allowWinograd)
                }
                plan = current
                return (current.forward, current.backward)
            }
            let forward = try Conv2DPlan(descriptor: descriptor, weights: weight.value, bias: bias?.value, relu: relu,
                                         algorithm: algorithm, allowWinograd: allowWinograd)
            let back = backward ? try Conv2DBackwardDataPlan(descriptor: descriptor, weights: weight.value,
                                                             allowWinograd: allowWinograd) : nil
            plan = (version, forward, back)
            return (forward, back)
        }
    }

    public func outputShape(forInputShape shape: [Int]) throws -> [Int] {
        try check(shape)
        return try ConvGeometry(inputShape: shape, descriptor: descriptor, operation: name).outputShape
    }

    private func check(_ shape: [Int]) throws {
        guard shape.count == 4, shape[1] == descriptor.inChannels else {
            throw shapeError(name, shape, expected: "N×\(descriptor.inChannels)×H×W")
        }
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try check(x.shape)
        let y = try plans(backward: false).forward.forward(x)
        if training { saved = (x, relu ? y : nil) }   // inference writes no state: concurrent callers may share the layer
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let saved else { throw missingForward(name) }
        // With ReLU fused, y > 0 exactly where the pre-activation is > 0 (SEEDS-DIGEST O6).
        let delta = try saved.output.map { try Elementwise.reluBackward(dy, input: $0) } ?? dy
        try ConvolutionBackward.filter(input: saved.input, outputGradient: delta, descriptor: descriptor, into: &weight.gradient,
                                       allowWinograd: allowWinograd)
        if let bias { bias.gradient = try ConvolutionBackward.bias(outputGradient: delta) }
        guard inputGradient else { return nil }
        return try plans(backward: true).backward!.backward(outputGradient: delta, inputShape: saved.input.shape)
    }

    public func inputExtent(forOutputExtent r: Int) -> Int {
        (r - 1) * descriptor.strideHeight + descriptor.dilationHeight * (descriptor.kernelHeight - 1) + 1
    }
}
