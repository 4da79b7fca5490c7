import Scheduler

/// How `Conv2DBackwardDataPlan` computes dX.
public enum ConvBackwardDataAlgorithm: String, Sendable, CaseIterable {
    /// Stride 1: dX is a forward convolution of dY with the kernel rotated by 180° and its channel
    /// axes swapped, padded by dilation·(k−1) − padding (SEEDS-DIGEST O4, T17b: a full convolution),
    /// so it runs on the forward plans' fast paths. Needs padding ≤ dilation·(k−1) on every side.
    case rotatedKernelConvolution = "rotated-kernel-conv"
    /// Any shape: dCol = Wᵀ·dY as a GEMM over bounded chunks of output rows, then col2im adds
    /// each column back to the input element it came from (SEEDS-DIGEST O4, eqs. 38–46).
    case gemmCol2im = "gemm-col2im"
}

/// Convolution backward-data bound to one set of weights: the transformed weights are packed once,
/// at creation, like `Conv2DPlan`'s. Rebuild it when the weights change.
///
/// ```swift
/// let back = try Conv2DBackwardDataPlan(descriptor: d, weights: w)
/// let dx = try back.backward(outputGradient: dy, inputShape: x.shape)
/// ```
public final class Conv2DBackwardDataPlan: @unchecked Sendable {
    /// The forward convolution whose input gradient this plan computes.
    public let descriptor: Conv2DDescriptor
    /// The algorithm `backward` runs.
    public let algorithm: ConvBackwardDataAlgorithm
    private let rotated: Conv2DPlan?
    private let transposedWeights: [PackedMatrixA]   // per group: (C/G·kh·kw) × (O/G) = W_gᵀ

    /// Output-row chunks of the gemm-col2im path hold at most this many floats of dCol (8 MiB).
    static let maximumChunkFloats = 1 << 21

    /// Creates the plan from the forward convolution's OIHW weights.
    /// - Parameter allowWinograd: whether the rotated-kernel convolution may take Winograd where its
    ///   automatic choice would (see `Conv2DPlan`).
    public init(descriptor d: Conv2DDescriptor, weights: Tensor, algorithm: ConvBackwardDataAlgorithm? = nil,
                allowWinograd: Bool = true) throws {
        try d.validate("Conv2DBackwardDataPlan")
        try ConvGeometry.check(weights.shape, equals: d.weightShape, "weights", "Conv2DBackwardDataPlan")
        descriptor = d
        let rotatedPadding = Padding2D(
            top: d.dilationHeight * (d.kernelHeight - 1) - d.padding.top,
            bottom: d.dilationHeight * (d.kernelHeight - 1) - d.padding.bottom,
            left: d.dilationWidth * (d.kernelWidth - 1) - d.padding.left,
            right: d.dilationWidth * (d.kernelWidth - 1) - d.padding.right)
        let rotates = d.strideHeight == 1 && d.strideWidth == 1
            && min(rotatedPadding.top, rotatedPadding.bottom, rotatedPadding.left, rotatedPadding.right) >= 0
        if algorithm == .rotatedKernelConvolution && !rotates {
            throw TesseraError.invalidArgument(
                operation: "Conv2DBackwardDataPlan",
                message: "rotated-kernel-conv needs stride 1 and padding ≤ dilation·(kernel − 1); got stride \(d.strideHeight)×\(d.strideWidth), \(d.padding)")
        }
        self.algorithm = algorithm ?? (rotates ? .rotatedKernelConvolution : .gemmCol2im)
        let og = d.outChannels / d.groups, cg = d.inChannels / d.groups
        let kh = d.kernelHeight, kw = d.kernelWidth, taps = kh * kw
        if self.algorithm == .rotatedKernelConvolution {
            let w = try Tensor(shape: [d.inChannels, og, kh, kw]) { r in
                weights.withUnsafeBufferPointer { Conv2DBackwardDataPlan.rotate($0.baseAddress!, d, into: r.baseAddress!) }
            }
            let transposed = Conv2DDescriptor(
                inChannels: d.outChannels, outChannels: d.inChannels, kernelHeight: kh, kernelWidth: kw,
                strideHeight: 1, strideWidth: 1, padding: rotatedPadding,
                dilationHeight: d.dilationHeight, dilationWidth: d.dilationWidth, groups: d.groups)
            rotated = try Conv2DPlan(descriptor: transposed, weights: w, allowWinograd: allowWinograd)
            transposedWeights = []
        } else {
            rotated = nil
            let k = cg * taps
            transposedWeights = try (0..<d.groups).map { grp in
                try weights.withUnsafeBufferPointer { wb in
                    try PackedMatrixA(transpose: .transpose, m: k, k: og,
                                      a: UnsafeBufferPointer(rebasing: wb[(grp * og * k)..<((grp + 1) * og * k)]), lda: k)
                }
            }
        }
    }

    /// W'[g·Cg + c, o, i, j] = W[g·Og + o, c, kh−1−i, kw−1−j]: the kernel rotated by 180° with its
    /// channel axes swapped, as the rotated-kernel convolution's OIHW weights.
    static func rotate(_ w: UnsafePointer<Float>, _ d: Conv2DDescriptor, into dst: UnsafeMutablePointer<Float>) {
        let og = d.outChannels / d.groups, cg = d.inChannels / d.groups, taps = d.kernelHeight * d.kernelWidth
        for grp in 0..<d.groups {
            for c in 0..<cg {
                for o in 0..<og {
                    let from = w + ((grp * og + o) * cg + c) * taps, to = dst + ((grp * cg + c) * og + o) * taps
                    for t in 0..<taps { to[t] = from[taps - 1 - t] }
                }
            }
        }
    }

    /// Replaces the weights with new values of the same shape, re-packing them into the plan's
    /// storage (the rotation goes through pooled scratch). Must not run while another thread calls
    /// `backward` on this plan.
    public func update(weights: Tensor) throws {
        let d = descriptor
        try ConvGeometry.check(weights.shape, equals: d.weightShape, "weights", "Conv2DBackwardDataPlan.update")
        if let rotated {
            try weights.withUnsafeBufferPointer { wb in
                try Workspace.withScratch(count: wb.count) { r in
                    Conv2DBackwardDataPlan.rotate(wb.baseAddress!, d, into: r)
                    try rotated.update(weights: UnsafeBufferPointer(start: r, count: wb.count), bias: nil)
                }
            }
            return
        }
        let og = d.outChannels / d.groups, k = d.inChannels / d.groups * d.kernelHeight * d.kernelWidth
        try weights.withUnsafeBufferPointer { wb in
            for (grp, packed) in transposedWeights.enumerated() {
                try packed.repack(transpose: .transpose, a: UnsafeBufferPointer(rebasing: wb[(grp * og * k)..<((grp + 1) * og * k)]), lda: k)
            }
        }
    }

    /// Bytes of transformed weights the plan holds.
    public var packedWeightBytes: Int { rotated?.packedWeightBytes ?? transposedWeights.reduce(0) { $0 + $1.byteCount } }

    /// dX for an input of `inputShape`, given dY (the forward output's shape for that input).
    public func backward(outputGradient dy: Tensor, inputShape: [Int], threads: Int? = nil) throws -> Tensor {
        let g = try ConvGeometry(inputShape: inputShape, descriptor: descriptor, operation: "Conv2DBackwardDataPlan.backward")
        try ConvGeometry.check(dy.shape, equals: g.outputShape, "output gradient", "Conv2DBackwardDataPlan.backward")
        if let rotated {
            let dx = try rotated.forward(dy, threads: threads)
            try ConvGeometry.check(dx.shape, equals: inputShape, "rotated-kernel result", "Conv2DBackwardDataPlan.backward")
            return dx
        }
        let og = g.groupOutChannels, cg = g.groupInChannels, taps = g.kernelHeight * g.kernelWidth, k = g.reductionLength
        let pixels = g.outHeight * g.outWidth, plane = g.inHeight * g.inWidth
        let chunkRows = max(1, min(g.outHeight, Conv2DBackwardDataPlan.maximumChunkFloats / (k * g.outWidth)))
        var dx = try Tensor(shape: inputShape)   // zeros: col2im adds into it
        try dx.withUnsafeMutableBufferPointer { dxb in
            try dy.withUnsafeBufferPointer { dyb in
                try Workspace.withScratch(count: k * chunkRows * g.outWidth) { cols in
                    try ConvolutionBackward.forEachChunk(g, chunkRows: chunkRows) { grp, n, rows in
                        let dyG = dyb.baseAddress! + (n * g.outChannels + grp * og) * pixels
                        let dxG = dxb.baseAddress! + (n * g.inChannels + grp * cg) * plane
                        let pc = rows.count * g.outWidth
                        try GEMM.sgemm(packedA: transposedWeights[grp], n: pc,
                                       b: UnsafeBufferPointer(start: dyG + rows.lowerBound * g.outWidth, count: (og - 1) * pixels + pc),
                                       ldb: pixels, c: UnsafeMutableBufferPointer(start: cols, count: k * pc), ldc: pc,
                                       threads: threads)
                        // Each channel's rows scatter into that channel's plane only: no two tiles write the same dX.
                        Scheduler.parallelFor(tiles: cg, work: Double(k * pc) * 12 * Scheduler.flopsPerByte,
                                              threads: threads) { c in
                            col2imChannel(cols + c * taps * pc, g, into: dxG + c * plane, outputRows: rows)
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// Convolution gradients that need no plan: backward-filter and backward-bias (SEEDS-DIGEST O4).
public enum ConvolutionBackward {
    /// Chunks of the backward-filter im2col hold at most this many floats (8 MiB). Measured on VGG
    /// conv1_2–conv3_2: chunks of 2^17–2^19 floats (L2-sized) were 10–60% slower at 2 threads, because
    /// every chunk costs two parallel regions.
    static let filterChunkFloats = 1 << 21
    /// dX without a plan: builds a `Conv2DBackwardDataPlan` for this call.
    public static func data(outputGradient dy: Tensor, weights: Tensor, inputShape: [Int], descriptor: Conv2DDescriptor,
                            threads: Int? = nil) throws -> Tensor {
        try Conv2DBackwardDataPlan(descriptor: descriptor, weights: weights)
            .backward(outputGradient: dy, inputShape: inputShape, threads: threads)
    }

    /// db[o] = Σ over the batch and the pixels of dY[n, o, ·, ·] (SEEDS-DIGEST O4: ∂L/∂b_j = Σ δ_j).
    /// `dy` is N×O×… (rank ≥ 2); the sums run in a fixed order.
    public static func bias(outputGradient dy: Tensor, threads: Int? = nil) throws -> Tensor {
        guard dy.rank >= 2, dy.count > 0 else {
            throw TesseraError.invalidShape(operation: "ConvolutionBackward.bias", shape: dy.shape, expected: "N×O×… with rank ≥ 2")
        }
        let n = dy.shape[0], o = dy.shape[1], inner = dy.count / (n * o)
        return try Tensor(shape: [o]) { db in
            dy.withUnsafeBufferPointer { dyb in
                let src = dyb.baseAddress!, dst = db.baseAddress!
                Scheduler.parallelFor(tiles: o, work: Double(dy.count * 4) * Scheduler.flopsPerByte, threads: threads) { c in
                    var total: Float = 0
                    for b in 0..<n { total += sumKernel(src + (b * o + c) * inner, count: inner) }
                    dst[c] = total
                }
            }
        }
    }

    /// dW = Σ over the batch of dY·colᵀ, where col is the im2col expansion of x (SEEDS-DIGEST O4,
    /// [000] eq. 35: ∂z/∂F = φ(x)ᵀ·∂z/∂Y), one GEMM per image and chunk of output rows. The chunks and
    /// images add in a fixed order and the GEMMs never split K, so dW does not depend on the thread count.
    /// 1×1 stride-1 unpadded convolutions use x itself as col.
    ///
    /// 3×3 stride-1 layers with C·O ≥ 64·64 and outputs from 7×7 take Winograd F(2×2, 3×3) instead
    /// (`allowWinograd: false` keeps them on the GEMM): error ≤ 2 × 1e-6·√K like the forward F(2×2).
    public static func filter(input x: Tensor, outputGradient dy: Tensor, descriptor: Conv2DDescriptor,
                              allowWinograd: Bool = true, threads: Int? = nil) throws -> Tensor {
        var dw = try Tensor(shape: descriptor.weightShape) { _ in }   // every element is written (β = 0 first)
        try filter(input: x, outputGradient: dy, descriptor: descriptor, into: &dw, allowWinograd: allowWinograd, threads: threads)
        return dw
    }

    /// Whether `filter` runs Winograd F(2×2) for this input shape (else the chunked im2col GEMM).
    public static func filterUsesWinograd(inputShape: [Int], descriptor: Conv2DDescriptor, allowWinograd: Bool = true) throws -> Bool {
        let g = try ConvGeometry(inputShape: inputShape, descriptor: descriptor, operation: "ConvolutionBackward.filter")
        return allowWinograd && WinogradConvolution.filterGradientApplies(g)
    }

    /// `filter`, overwriting `dw` (OIHW) in place: a training loop reuses one gradient buffer per
    /// layer instead of allocating (and page-faulting) a new one every step.
    public static func filter(input x: Tensor, outputGradient dy: Tensor, descriptor: Conv2DDescriptor,
                              into dw: inout Tensor, allowWinograd: Bool = true, threads: Int? = nil) throws {
        let g = try ConvGeometry(inputShape: x.shape, descriptor: descriptor, operation: "ConvolutionBackward.filter")
        try ConvGeometry.check(dy.shape, equals: g.outputShape, "output gradient", "ConvolutionBackward.filter")
        try ConvGeometry.check(dw.shape, equals: g.weightShape, "weight gradient", "ConvolutionBackward.filter")
        if try filterUsesWinograd(inputShape: x.shape, descriptor: descriptor, allowWinograd: allowWinograd) {
            dw.withUnsafeMutableBufferPointer { dwb in
                x.withUnsafeBufferPointer { xb in
                    dy.withUnsafeBufferPointer { dyb in
                        WinogradConvolution.filterGradient(xb.baseAddress!, dyb.baseAddress!, g, into: dwb.baseAddress!, threads: threads)
                    }
                }
            }
            return
        }
        let og = g.groupOutChannels, cg = g.groupInChannels, taps = g.kernelHeight * g.kernelWidth, k = g.reductionLength
        let pixels = g.outHeight * g.outWidth, plane = g.inHeight * g.inWidth
        let pointwise = Conv2DPlan.automaticAlgorithm(for: descriptor) == .gemm1x1
        let chunkRows = pointwise ? g.outHeight
            : max(1, min(g.outHeight, ConvolutionBackward.filterChunkFloats / (k * g.outWidth)))
        try dw.withUnsafeMutableBufferPointer { dwb in
            try x.withUnsafeBufferPointer { xb in
                try dy.withUnsafeBufferPointer { dyb in
                    try Workspace.withScratch(count: pointwise ? 1 : k * chunkRows * g.outWidth) { cols in
                        // Images and chunks add into each group's dW in this fixed order (β = 0 for the first).
                        try forEachChunk(g, chunkRows: chunkRows) { grp, n, rows in
                            let dwG = UnsafeMutableBufferPointer(rebasing: dwb[(grp * og * k)..<((grp + 1) * og * k)])
                            let dyG = dyb.baseAddress! + (n * g.outChannels + grp * og) * pixels
                            let xG = xb.baseAddress! + (n * g.inChannels + grp * cg) * plane
                            let pc = rows.count * g.outWidth
                            let b: UnsafePointer<Float>
                            if pointwise {
                                b = xG
                            } else {
                                Scheduler.parallelFor(tiles: cg, work: Double(k * pc) * 8 * Scheduler.flopsPerByte,
                                                      threads: threads) { c in
                                    im2colChannel(xG + c * plane, g, into: cols + c * taps * pc, outputRows: rows)
                                }
                                b = UnsafePointer(cols)
                            }
                            let first = n == 0 && rows.lowerBound == 0
                            try GEMM.sgemm(transB: .transpose, m: og, n: k, k: pc,
                                           a: UnsafeBufferPointer(start: dyG + rows.lowerBound * g.outWidth, count: (og - 1) * pixels + pc),
                                           lda: pixels,
                                           b: UnsafeBufferPointer(start: b, count: k * pc), ldb: pc,
                                           beta: first ? 0 : 1, c: dwG, ldc: k, threads: threads)
                        }
                    }
                }
            }
        }
    }

    /// Visits (group, image, chunk of output rows) in a fixed order: the loop nest of both
    /// GEMM-based backward passes. The order fixes the order of dW's additions.
    static func forEachChunk(_ g: ConvGeometry, chunkRows: Int,
                             _ body: (_ group: Int, _ image: Int, _ rows: Range<Int>) throws -> Void) rethrows {
        for grp in 0..<g.groups {
            for n in 0..<g.batch {
                for r0 in stride(from: 0, to: g.outHeight, by: chunkRows) {
                    try body(grp, n, r0..<min(g.outHeight, r0 + chunkRows))
                }
            }
        }
    }
}
