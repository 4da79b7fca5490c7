/// Max pooling (SPEC §1): ties go to the first element, NaN propagates; backward sends each
/// gradient to its window's arg-max, overlapping windows add (SEEDS-DIGEST T6).
public final class MaxPool2D: Layer, @unchecked Sendable {
    /// Window, stride, padding.
    public let descriptor: Pool2DDescriptor
    private var indices: MaxPoolIndices?

    /// Max pooling with this window, stride and padding.
    public init(_ descriptor: Pool2DDescriptor) { self.descriptor = descriptor }
    /// A k×k window with stride s.
    public convenience init(window k: Int, stride s: Int, padding p: Int = 0) {
        self.init(Pool2DDescriptor(window: k, stride: s, padding: p))
    }

    public var name: String { "MaxPool2D \(descriptor.windowHeight)×\(descriptor.windowWidth)/\(descriptor.strideHeight)" }

    public func outputShape(forInputShape shape: [Int]) throws -> [Int] {
        try PoolGeometry(inputShape: shape, descriptor: descriptor, operation: name).outputShape
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let (y, i) = try Pooling.maxPool2d(x, descriptor, returnIndices: training)
        if training { indices = i }
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let indices else { throw missingForward(name) }
        return inputGradient ? try Pooling.maxPool2dBackward(dy, indices: indices) : nil
    }

    public func inputExtent(forOutputExtent r: Int) -> Int { (r - 1) * descriptor.strideHeight + descriptor.windowHeight }
}

/// Average pooling (SPEC §1), with the `countIncludesPadding` option of its descriptor.
public final class AvgPool2D: Layer, @unchecked Sendable {
    /// Window, stride, padding, and whether padding counts in the divisor.
    public let descriptor: Pool2DDescriptor
    private var inputShape: [Int]?

    /// Average pooling with this window, stride, padding and divisor rule.
    public init(_ descriptor: Pool2DDescriptor) { self.descriptor = descriptor }

    public var name: String { "AvgPool2D \(descriptor.windowHeight)×\(descriptor.windowWidth)/\(descriptor.strideHeight)" }

    public func outputShape(forInputShape shape: [Int]) throws -> [Int] {
        try PoolGeometry(inputShape: shape, descriptor: descriptor, operation: name).outputShape
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        if training { inputShape = x.shape }
        return try Pooling.avgPool2d(x, descriptor)
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let inputShape else { throw missingForward(name) }
        return inputGradient ? try Pooling.avgPool2dBackward(dy, inputShape: inputShape, descriptor) : nil
    }

    public func inputExtent(forOutputExtent r: Int) -> Int { (r - 1) * descriptor.strideHeight + descriptor.windowHeight }
}

/// Global average pooling: N×C×H×W → N×C×1×1.
public final class GlobalAvgPool: Layer, @unchecked Sendable {
    private var inputShape: [Int]?
    /// A global average pooling layer.
    public init() {}
    public var name: String { "GlobalAvgPool" }

    public func outputShape(forInputShape shape: [Int]) throws -> [Int] {
        guard shape.count == 4 else { throw shapeError(name, shape, expected: "N×C×H×W") }
        return [shape[0], shape[1], 1, 1]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        if training { inputShape = x.shape }
        return try Pooling.globalAvgPool(x)
    }

    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor? {
        guard let inputShape else { throw missingForward(name) }
        return inputGradient ? try Pooling.globalAvgPoolBackward(dy, inputShape: inputShape) : nil
    }
}
