import Scheduler

/// The algorithm a convolution plan runs.
public enum ConvAlgorithm: String, Sendable, CaseIterable {
    /// 1×1, stride 1, no padding: a GEMM straight on the NCHW input, no copy.
    case gemm1x1 = "gemm-1x1"
    /// im2col of each image, then a GEMM with the packed weights.
    case im2colGEMM = "im2col-gemm"
}

/// A 2-D convolution forward pass bound to one set of weights (SPEC §2): the weights are packed
/// once, at creation, and reused by every call.
///
/// ```swift
/// let d = Conv2DDescriptor(inChannels: 3, outChannels: 64, kernel: 3, padding: 1)
/// let plan = try Conv2DPlan(descriptor: d, weights: w, bias: b, relu: true)
/// let y = try plan.forward(x)          // x: N×3×H×W  →  y: N×64×H×W
/// print(plan.algorithm)                // im2col-gemm
/// ```
public final class Conv2DPlan: @unchecked Sendable {
    public let descriptor: Conv2DDescriptor
    /// Whether ReLU is fused into the output.
    public let relu: Bool
    private let packedWeights: [PackedMatrixA]   // one per group: (O/G) × (C/G·kh·kw)
    private let bias: Tensor?

    /// Creates a plan from OIHW weights and an optional bias of `outChannels` values.
    public init(descriptor: Conv2DDescriptor, weights: Tensor, bias: Tensor? = nil, relu: Bool = false) throws {
        try descriptor.validate("Conv2DPlan")
        try ConvGeometry.check(weights.shape, equals: descriptor.weightShape, "weights", "Conv2DPlan")
        if let bias { try ConvGeometry.check(bias.shape, equals: [descriptor.outChannels], "bias", "Conv2DPlan") }
        self.descriptor = descriptor
        self.relu = relu
        self.bias = bias
        let og = descriptor.outChannels / descriptor.groups
        let k = descriptor.inChannels / descriptor.groups * descriptor.kernelHeight * descriptor.kernelWidth
        packedWeights = try (0..<descriptor.groups).map { g in
            try weights.withUnsafeBufferPointer { w in
                try PackedMatrixA(m: og, k: k, a: UnsafeBufferPointer(rebasing: w[(g * og * k)..<((g + 1) * og * k)]), lda: k)
            }
        }
    }

    /// The algorithm this plan runs.
    public var algorithm: ConvAlgorithm {
        let d = descriptor
        let pointwise = d.kernelHeight == 1 && d.kernelWidth == 1 && d.strideHeight == 1 && d.strideWidth == 1
            && d.padding == .zero
        return pointwise ? .gemm1x1 : .im2colGEMM
    }

    /// Bytes of packed weights the plan holds.
    public var packedWeightBytes: Int { packedWeights.reduce(0) { $0 + $1.byteCount } }

    /// y = conv(x) + bias (then ReLU if the plan fuses it). `x` is N×C×H×W.
    public func forward(_ x: Tensor, threads: Int? = nil) throws -> Tensor {
        let g = try ConvGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Conv2DPlan.forward")
        var y = try Tensor(shape: g.outputShape)
        let pixels = g.outHeight * g.outWidth
        let og = g.groupOutChannels, cg = g.groupInChannels, k = g.reductionLength
        let pointwise = algorithm == .gemm1x1
        try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { yb in
                try (bias ?? Tensor(shape: [1])).withUnsafeBufferPointer { bb in
                    try Workspace.withScratch(count: pointwise ? 1 : k * pixels) { cols in
                        for n in 0..<g.batch {
                            for grp in 0..<g.groups {
                                let xImage = xb.baseAddress! + (n * g.inChannels + grp * cg) * g.inHeight * g.inWidth
                                let b: UnsafeBufferPointer<Float>
                                if pointwise {
                                    b = UnsafeBufferPointer(start: xImage, count: k * pixels)
                                } else {
                                    im2col(xImage, channels: cg, g, into: cols)
                                    b = UnsafeBufferPointer(start: cols, count: k * pixels)
                                }
                                let out = UnsafeMutableBufferPointer(rebasing: yb[((n * g.outChannels + grp * og) * pixels)...].prefix(og * pixels))
                                let epilogue = GEMMEpilogue(
                                    bias: bias == nil ? nil : UnsafeBufferPointer(rebasing: bb[(grp * og)..<((grp + 1) * og)]),
                                    biasAxis: bias == nil ? .none : .row, relu: relu)
                                try GEMM.sgemm(packedA: packedWeights[grp], n: pixels, b: b, ldb: pixels,
                                               c: out, ldc: pixels, epilogue: epilogue, threads: threads)
                            }
                        }
                    }
                }
            }
        }
        return y
    }
}
