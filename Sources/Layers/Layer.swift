@_exported import Kernels
@_exported import TesseraCore

/// One layer of a network: a forward pass, and a backward pass that turns dL/dy into dL/dx and
/// fills its parameters' gradients (SEEDS-DIGEST §5: "each layer computes ∂z/∂wⁱ and ∂z/∂xⁱ").
///
/// A layer keeps what its backward pass needs from the last `forward(_:training: true)`:
/// the input, the ReLU output, the max-pool arg-max or the dropout mask. Layers are classes
/// and are not safe to train from two threads at once; inference (`training: false`) writes no
/// layer state, so many threads may run inference through the same layers (shared weights) at once,
/// as long as none of them trains or updates the parameters meanwhile.
public protocol Layer: AnyObject, Sendable {
    /// A short description, e.g. "Conv2D 3→64 3×3".
    var name: String { get }
    /// The trainable parameters (empty for layers without any).
    var parameters: [Parameter] { get }
    /// The output shape for an input shape; throws, naming both, when the layer cannot take it.
    func outputShape(forInputShape shape: [Int]) throws -> [Int]
    /// The forward pass. With `training`, the layer keeps what `backward` needs (and dropout drops).
    func forward(_ x: Tensor, training: Bool) throws -> Tensor
    /// The backward pass for the last training forward: fills each parameter's `gradient` (the sum
    /// over the batch, SPEC §1) and returns dL/dx, or nil when `inputGradient` is false.
    func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor?
    /// The input extent, along one spatial axis, that feeds `r` adjacent outputs: (r − 1)·stride +
    /// dilation·(k − 1) + 1 for a window, r for elementwise layers (SEEDS-DIGEST T13).
    func inputExtent(forOutputExtent r: Int) -> Int
}

extension Layer {
    /// No parameters, unless the layer has some.
    public var parameters: [Parameter] { [] }
    /// Elementwise layers: the extent passes through unchanged.
    public func inputExtent(forOutputExtent r: Int) -> Int { r }
}

/// A trainable tensor, its gradient, and the optimizer's velocity.
///
/// Every change to `value` (assignment or in-place mutation) bumps `version`, which is how a layer
/// knows to re-pack its weights before the next forward pass.
public final class Parameter: @unchecked Sendable {
    /// e.g. "weight" or "bias".
    public let name: String
    private var storage: Tensor
    private var gradientStorage: Tensor?
    /// The gradient from the last backward pass, summed over the batch; zeros before any.
    /// Allocated on first use, so that a network used only for inference holds no gradient memory.
    public var gradient: Tensor {
        get { gradientStorage ?? (try! Tensor(shape: storage.shape)) }
        // In place: backward passes overwrite the same buffer every step.
        _modify {
            if gradientStorage == nil { gradientStorage = try! Tensor(shape: storage.shape) }
            yield &gradientStorage!
        }
        set { gradientStorage = newValue }
    }
    /// SGD's momentum buffer, created on the first step.
    var velocity: Tensor?
    /// Increases on every change to `value`.
    public private(set) var version = 0

    /// The parameter's value.
    public var value: Tensor {
        get { storage }
        // In place, without a copy: an optimizer step mutates the weights where they are.
        _modify { yield &storage; version &+= 1 }
        set { storage = newValue; version &+= 1 }
    }

    /// A parameter with this initial value and a zero gradient.
    public init(name: String, value: Tensor) {
        self.name = name
        storage = value
    }

    /// Element count.
    public var count: Int { storage.count }
}

/// How a layer's weights are drawn from its seed (SPEC §1): bias starts at 0.
public enum Initializer: Sendable {
    /// He (fan-in), for layers followed by ReLU: uniform in ±√(6 / fanIn).
    case he
    /// Xavier (Glorot): uniform in ±√(6 / (fanIn + fanOut)).
    case xavier

    func tensor(shape: [Int], fanIn: Int, fanOut: Int, seed: UInt64) throws -> Tensor {
        let limit: Float = switch self {
        case .he: (6 / Float(fanIn)).squareRoot()
        case .xavier: (6 / Float(fanIn + fanOut)).squareRoot()
        }
        return try Tensor(shape: shape, seed: seed, low: -limit, high: limit)
    }
}

/// Errors for a layer that got an input it cannot take: names the layer, the shape, and what it expected.
func shapeError(_ layer: String, _ shape: [Int], expected: String) -> TesseraError {
    .invalidShape(operation: layer, shape: shape, expected: expected)
}

func missingForward(_ layer: String) -> TesseraError {
    .invalidArgument(operation: layer, message: "backward called without a training forward pass before it")
}
