/// Zero padding on the four sides of an image, possibly asymmetric (SPEC §1).
public struct Padding2D: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Rows added above and below, columns added left and right (all ≥ 0).
    public var top: Int, bottom: Int, left: Int, right: Int

    /// Asymmetric padding, one value per side.
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    /// The same padding `p` on every side.
    public init(_ p: Int) { self.init(top: p, bottom: p, left: p, right: p) }

    /// No padding.
    public static let zero = Padding2D(0)

    /// "Same" padding for a kernel extent: floor((k−1)/2) before, floor(k/2) after (SEEDS-DIGEST T5).
    /// With stride 1 and dilation 1 the output has the input's size.
    public static func same(kernelHeight kh: Int, kernelWidth kw: Int) -> Padding2D {
        Padding2D(top: (kh - 1) / 2, bottom: kh / 2, left: (kw - 1) / 2, right: kw / 2)
    }

    /// A compact form for messages, e.g. `pad(t1 b1 l1 r1)`.
    public var description: String { "pad(t\(top) b\(bottom) l\(left) r\(right))" }
}

/// The output extent of a sliding window along one axis (SPEC §1):
/// `floor((in + padBegin + padEnd − dilation·(k−1) − 1) / stride) + 1`.
///
/// Throws when the arguments are out of range or the output would be empty.
public func slidingWindowOutputExtent(
    input: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int, dilation: Int = 1,
    operation: String = "slidingWindowOutputExtent"
) throws -> Int {
    guard input >= 1, kernel >= 1, stride >= 1, dilation >= 1, padBegin >= 0, padEnd >= 0 else {
        throw TesseraError.invalidArgument(
            operation: operation,
            message: "input \(input), kernel \(kernel), stride \(stride), dilation \(dilation) must be ≥ 1 and padding \(padBegin)/\(padEnd) ≥ 0")
    }
    let span = dilation * (kernel - 1) + 1
    let padded = input + padBegin + padEnd
    guard padded >= span else {
        throw TesseraError.invalidArgument(
            operation: operation,
            message: "window extent \(span) (kernel \(kernel), dilation \(dilation)) exceeds padded input \(padded) (input \(input) + padding \(padBegin)+\(padEnd)); the output would be empty")
    }
    return (padded - span) / stride + 1
}

/// What a 2-D convolution computes, independent of the input's spatial size.
///
/// Weights are OIHW: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`; bias has
/// `outChannels` elements. "Convolution" is cross-correlation, with no kernel flip (SPEC §1).
public struct Conv2DDescriptor: Equatable, Hashable, Sendable {
    /// Input channels (C) and output channels (O).
    public var inChannels: Int, outChannels: Int
    /// Kernel extent in rows and columns.
    public var kernelHeight: Int, kernelWidth: Int
    /// Step between windows along rows and columns.
    public var strideHeight: Int, strideWidth: Int
    /// Zero padding on each side.
    public var padding: Padding2D
    /// Spacing between kernel taps (1: dense).
    public var dilationHeight: Int, dilationWidth: Int
    /// Channel groups; `groups == inChannels` is depthwise.
    public var groups: Int

    /// A convolution with every parameter spelled out (stride, padding, dilation default to 1, none, 1).
    public init(
        inChannels: Int, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
        strideHeight: Int = 1, strideWidth: Int = 1, padding: Padding2D = .zero,
        dilationHeight: Int = 1, dilationWidth: Int = 1, groups: Int = 1
    ) {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        self.padding = padding
        self.dilationHeight = dilationHeight; self.dilationWidth = dilationWidth
        self.groups = groups
    }

    /// A square-kernel convenience: kernel `k`, stride `stride`, the same padding on all sides.
    public init(inChannels: Int, outChannels: Int, kernel k: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1) {
        self.init(inChannels: inChannels, outChannels: outChannels, kernelHeight: k, kernelWidth: k,
                  strideHeight: stride, strideWidth: stride, padding: Padding2D(padding),
                  dilationHeight: dilation, dilationWidth: dilation, groups: groups)
    }

    /// The OIHW weight shape.
    public var weightShape: [Int] { [outChannels, inChannels / max(groups, 1), kernelHeight, kernelWidth] }

    /// Checks the descriptor on its own (channel counts, groups, kernel, stride, dilation, padding).
    public func validate(_ operation: String = "Conv2D") throws {
        guard inChannels >= 1, outChannels >= 1, kernelHeight >= 1, kernelWidth >= 1 else {
            throw TesseraError.invalidArgument(
                operation: operation,
                message: "channels \(inChannels)→\(outChannels) and kernel \(kernelHeight)×\(kernelWidth) must be ≥ 1")
        }
        guard strideHeight >= 1, strideWidth >= 1, dilationHeight >= 1, dilationWidth >= 1 else {
            throw TesseraError.invalidArgument(
                operation: operation,
                message: "stride \(strideHeight)×\(strideWidth) and dilation \(dilationHeight)×\(dilationWidth) must be ≥ 1")
        }
        guard padding.top >= 0, padding.bottom >= 0, padding.left >= 0, padding.right >= 0 else {
            throw TesseraError.invalidArgument(operation: operation, message: "padding \(padding) must be ≥ 0")
        }
        guard groups >= 1, inChannels % groups == 0, outChannels % groups == 0 else {
            throw TesseraError.invalidArgument(
                operation: operation,
                message: "groups \(groups) must be ≥ 1 and divide both channel counts \(inChannels) and \(outChannels)")
        }
    }
}

/// A convolution descriptor bound to an input shape: every extent a kernel needs, validated once.
public struct ConvGeometry: Equatable, Hashable, Sendable {
    /// Images in the batch (N).
    public let batch: Int
    /// The input extents C, H, W.
    public let inChannels: Int, inHeight: Int, inWidth: Int
    /// The output extents O, OH, OW (SPEC §1 output-size rule).
    public let outChannels: Int, outHeight: Int, outWidth: Int
    /// The descriptor this geometry binds.
    public let descriptor: Conv2DDescriptor

    /// Kernel rows.
    public var kernelHeight: Int { descriptor.kernelHeight }
    /// Kernel columns.
    public var kernelWidth: Int { descriptor.kernelWidth }
    /// Row stride.
    public var strideHeight: Int { descriptor.strideHeight }
    /// Column stride.
    public var strideWidth: Int { descriptor.strideWidth }
    /// Row dilation.
    public var dilationHeight: Int { descriptor.dilationHeight }
    /// Column dilation.
    public var dilationWidth: Int { descriptor.dilationWidth }
    /// Zero padding on each side.
    public var padding: Padding2D { descriptor.padding }
    /// Channel groups.
    public var groups: Int { descriptor.groups }
    /// Input channels per group.
    public var groupInChannels: Int { inChannels / groups }
    /// Output channels per group.
    public var groupOutChannels: Int { outChannels / groups }
    /// The reduction length of one output: (C/groups)·kh·kw.
    public var reductionLength: Int { groupInChannels * kernelHeight * kernelWidth }

    /// N×C×H×W.
    public var inputShape: [Int] { [batch, inChannels, inHeight, inWidth] }
    /// N×O×OH×OW.
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    /// O×(C/groups)×kh×kw.
    public var weightShape: [Int] { descriptor.weightShape }

    /// Multiply-adds ×2 of the direct algorithm: the "effective" flop count used in reports.
    public var flops: Double {
        2 * Double(batch) * Double(outChannels) * Double(outHeight * outWidth) * Double(reductionLength)
    }

    /// Binds `descriptor` to an NCHW input shape, or throws naming what does not fit.
    public init(inputShape: [Int], descriptor: Conv2DDescriptor, operation: String = "Conv2D") throws {
        try descriptor.validate(operation)
        guard inputShape.count == 4 else {
            throw TesseraError.invalidShape(operation: operation, shape: inputShape, expected: "4 axes N×C×H×W")
        }
        _ = try Tensor.elementCount(of: inputShape, operation: operation)
        guard inputShape[1] == descriptor.inChannels else {
            throw TesseraError.invalidShape(
                operation: operation, shape: inputShape,
                expected: "\(descriptor.inChannels) input channels on axis 1")
        }
        batch = inputShape[0]
        inChannels = inputShape[1]; inHeight = inputShape[2]; inWidth = inputShape[3]
        outChannels = descriptor.outChannels
        let p = descriptor.padding
        outHeight = try slidingWindowOutputExtent(
            input: inHeight, kernel: descriptor.kernelHeight, stride: descriptor.strideHeight,
            padBegin: p.top, padEnd: p.bottom, dilation: descriptor.dilationHeight, operation: operation)
        outWidth = try slidingWindowOutputExtent(
            input: inWidth, kernel: descriptor.kernelWidth, stride: descriptor.strideWidth,
            padBegin: p.left, padEnd: p.right, dilation: descriptor.dilationWidth, operation: operation)
        self.descriptor = descriptor
    }

    /// Throws unless `shape` equals `expected`, naming `what` it is.
    public static func check(_ shape: [Int], equals expected: [Int], _ what: String, _ operation: String) throws {
        guard shape == expected else {
            throw TesseraError.invalidShape(operation: operation, shape: shape, expected: "\(what) of shape \(expected)")
        }
    }
}

/// A pooling window: size, stride and zero padding (padding never wins a max; SPEC §1).
public struct Pool2DDescriptor: Equatable, Hashable, Sendable {
    /// Window extent in rows and columns.
    public var windowHeight: Int, windowWidth: Int
    /// Step between windows along rows and columns.
    public var strideHeight: Int, strideWidth: Int
    /// Zero padding on each side.
    public var padding: Padding2D
    /// Average pooling only: divide by the full window size, padding included (default false).
    public var countIncludesPadding: Bool

    /// A pooling window with its stride and padding; padding must be smaller than the window.
    public init(windowHeight: Int, windowWidth: Int, strideHeight: Int, strideWidth: Int,
                padding: Padding2D = .zero, countIncludesPadding: Bool = false) {
        self.windowHeight = windowHeight; self.windowWidth = windowWidth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        self.padding = padding; self.countIncludesPadding = countIncludesPadding
    }

    /// Square window `k`, stride `stride`, padding `padding` on every side.
    public init(window k: Int, stride: Int, padding: Int = 0, countIncludesPadding: Bool = false) {
        self.init(windowHeight: k, windowWidth: k, strideHeight: stride, strideWidth: stride,
                  padding: Padding2D(padding), countIncludesPadding: countIncludesPadding)
    }
}

/// A pooling descriptor bound to an NCHW input shape.
public struct PoolGeometry: Equatable, Hashable, Sendable {
    /// N, C, the input H×W and the output OH×OW.
    public let batch: Int, channels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    /// The window this geometry binds.
    public let descriptor: Pool2DDescriptor

    /// N×C×H×W.
    public var inputShape: [Int] { [batch, channels, inHeight, inWidth] }
    /// N×C×OH×OW.
    public var outputShape: [Int] { [batch, channels, outHeight, outWidth] }

    /// Binds `d` to an NCHW input shape, or throws naming what does not fit.
    public init(inputShape: [Int], descriptor d: Pool2DDescriptor, operation: String = "Pool2D") throws {
        guard inputShape.count == 4 else {
            throw TesseraError.invalidShape(operation: operation, shape: inputShape, expected: "4 axes N×C×H×W")
        }
        _ = try Tensor.elementCount(of: inputShape, operation: operation)
        // A window that lies wholly in the padding would have nothing to pool.
        guard d.padding.top < d.windowHeight, d.padding.bottom < d.windowHeight,
              d.padding.left < d.windowWidth, d.padding.right < d.windowWidth
        else {
            throw TesseraError.invalidArgument(
                operation: operation,
                message: "padding \(d.padding) must be smaller than the window \(d.windowHeight)×\(d.windowWidth)")
        }
        batch = inputShape[0]; channels = inputShape[1]; inHeight = inputShape[2]; inWidth = inputShape[3]
        outHeight = try slidingWindowOutputExtent(
            input: inHeight, kernel: d.windowHeight, stride: d.strideHeight,
            padBegin: d.padding.top, padEnd: d.padding.bottom, operation: operation)
        outWidth = try slidingWindowOutputExtent(
            input: inWidth, kernel: d.windowWidth, stride: d.strideWidth,
            padBegin: d.padding.left, padEnd: d.padding.right, operation: operation)
        descriptor = d
    }
}
