import Scheduler

/// The algorithm a convolution plan runs.
public enum ConvAlgorithm: String, Sendable, CaseIterable {
    /// 1×1, stride 1, no padding: a GEMM straight on the NCHW input, no copy.
    case gemm1x1 = "gemm-1x1"
    /// Implicit GEMM: the im2col matrix is packed tile by tile straight from the image into the
    /// GEMM's B panels, never materialized whole. The general path for any shape.
    case implicitGEMM = "implicit-gemm"
    /// Direct convolution as an indirect GEMM: the micro-kernel reads the zero-padded image through a
    /// table of tap offsets, with no packing per call (a width stride s stores each padded row as s
    /// column phases). One group, and with the 8×32 AVX-512 kernel output channels a multiple of 8 and
    /// output rows ≥ 32 wide; with the 6×16 SIMD8 kernel output rows ≥ 16 wide and C·kh·kw ≤ 256 (few
    /// input channels: VGG conv1_1, the ResNet stem). Falls back to `implicitGEMM` otherwise.
    /// Chosen automatically up to 128 output channels where `directTransposed` is not.
    case directIndirect = "direct-indirect-gemm"
    /// Direct convolution computed transposed, Yᵀ = im2col(X)ᵀ·Wᵀ: tiles of 8 (or 7) consecutive
    /// output pixels × 32 output channels on AVX-512, 6 × 16 on SIMD8, each pixel's taps broadcast
    /// straight from a zero-padded copy of the image (the input itself when unpadded), Wᵀ packed once
    /// (on the first call) in channel panels. Any row width (the pixels of a tile may wrap onto the
    /// next row), stride and dilation; one group, at least one tile of output pixels. Falls back to
    /// `implicitGEMM` otherwise.
    case directTransposed = "direct-transposed"
    /// im2col of each whole image into scratch, then a GEMM with the packed weights
    /// (scratch of C/groups·kh·kw × OH·OW floats). Kept for comparison.
    case im2colGEMM = "im2col-gemm"
    /// Winograd F(2×2, 3×3): 3×3, stride 1, dilation 1, one group; 2.25× fewer multiplications.
    /// Opt-in. Error ≤ 2× the direct bound (SPEC §4).
    case winograd2x2 = "winograd-f2x2"
    /// Winograd F(4×4, 3×3), points 0, ±1, ±2: 4× fewer multiplications. Opt-in. Error ≤ 2e-5 (SPEC §4).
    case winograd4x4 = "winograd-f4x4"
    /// Winograd F(6×6, 3×3), points 0, ±1, ±2, ±½: 5.06× fewer multiplications. Opt-in only, never
    /// chosen automatically. Error ≤ 1e-4 (SPEC §4).
    case winograd6x6 = "winograd-f6x6"

    /// The Winograd variant this algorithm names, if it is one.
    var winogradTransform: WinogradTransform? {
        switch self {
        case .winograd2x2: .f2x2
        case .winograd4x4: .f4x4
        case .winograd6x6: .f6x6
        default: nil
        }
    }
}

/// A 2-D convolution forward pass bound to one set of weights (SPEC §2): the weights are packed
/// once, at creation, and reused by every call.
///
/// ```swift
/// let d = Conv2DDescriptor(inChannels: 3, outChannels: 64, kernel: 3, padding: 1)
/// let plan = try Conv2DPlan(descriptor: d, weights: w, bias: b, relu: true)
/// let y = try plan.forward(x)          // x: N×3×H×W  →  y: N×64×H×W
/// print(plan.algorithm.rawValue)       // implicit-gemm
/// ```
public final class Conv2DPlan: @unchecked Sendable {
    /// What the plan computes: channels, kernel, stride, padding, dilation, groups.
    public let descriptor: Conv2DDescriptor
    /// Whether ReLU is fused into the output.
    public let relu: Bool
    /// One per group: (O/G) × (C/G·kh·kw). Empty when the caller asked for Winograd, which never falls back.
    private let packedWeights: [PackedMatrixA]
    private var bias: Tensor?
    /// The bias, or zeros when there is none, so that `forward` always has a buffer to point into.
    private var biasOrZeros: Tensor
    /// The direct paths' tap tables for the last input size, by the layout's column phases (the two
    /// paths share one table at width stride 1).
    private let tapOffsetCache = Locked<[Int: (height: Int, width: Int, table: [Int32])]>([:])
    /// Wᵀ in channel panels for `directTransposed`, built on the first such call.
    private let channelPanels = Locked<ChannelPanels?>(nil)
    /// gemm-1x1 on images of few pixels runs transposed, Yᵀ = Xᵀ·Wᵀ, on Wᵀ packed as the B operand
    /// (one per group), built on the first such call: the output channels then fill the micro-kernel's
    /// 32-wide axis instead of 49 pixels filling 64 (ResNet's 7×7 stage).
    private let transposedWeights = Locked<[PackedMatrixB]?>(nil)
    /// Set by `update` on a plan that keeps a copy of the weights: the GEMM packings (and Wᵀ) are
    /// re-packed from it by the next call that runs them, not by `update` itself, so that a training
    /// step whose layer runs Winograd does not also re-pack the GEMM weights it never reads.
    private let gemmPackingStale = Locked<Bool>(false)
    /// The Winograd convolution the caller asked for (`algorithm` is a Winograd variant).
    private let explicitWinograd: WinogradConvolution?
    /// OIHW weights kept for the Winograd variants the automatic choice builds on first use (only
    /// where it may take one), and those variants, keyed by tile size m. Built lazily because the
    /// variant depends on the image size and each holds α²/9 times the weights.
    private var winogradSource: Tensor?
    /// The variants built so far, keyed by m, and those whose weights `update` has changed since.
    private let automaticWinograd = Locked<(variants: [Int: WinogradConvolution], stale: Set<Int>)>(([:], []))

    /// The algorithm this plan was created with: the automatic choice, or the caller's.
    /// `algorithm(forInputShape:)` says what runs for a given input.
    public let algorithm: ConvAlgorithm
    private let chosenAutomatically: Bool

    /// The algorithm `forward` runs for an input of this shape: the automatic choice moves from
    /// `implicitGEMM` to Winograd where Winograd is allowed and `WinogradConvolution.automaticTransform`
    /// picks a variant (F(4×4) from 14×14 outputs, F(2×2) from 7×7, 3×3 layers with C·O ≥ 64·64), else
    /// to `directTransposed` where C·kh·kw ≥ 256 (for a 1×1 stride-2 layer only on AVX-512), else to
    /// `directIndirect` where that path applies; and, on AVX-512, from `gemm1x1` to `directTransposed`
    /// for 1×1 layers of ≥ 512 input channels, or ≥ 256 with no more output channels
    /// (`DirectConvolution.prefersTransposedPointwise`). A request for a direct path falls back to
    /// `implicitGEMM` where it does not apply.
    public func algorithm(forInputShape shape: [Int]) throws -> ConvAlgorithm {
        let g = try ConvGeometry(inputShape: shape, descriptor: descriptor, operation: "Conv2DPlan")
        return resolvedAlgorithm(g)
    }

    func resolvedAlgorithm(_ g: ConvGeometry) -> ConvAlgorithm {
        if algorithm.winogradTransform != nil { return algorithm }
        // Measured crossovers: perf/winograd.md.
        if chosenAutomatically, winogradSource != nil, let tf = WinogradConvolution.automaticTransform(g) {
            return tf.m == 4 ? .winograd4x4 : .winograd2x2
        }
        let direct = g.groups == 1 && DirectConvolution.applies(g, weights: packedWeights[0])
        switch algorithm {
        // Measured on Zen 4 (in-process medians, README "Algorithms"): the transposed direct path beats
        // the implicit GEMM and the row-tiled direct path on every layer here with a reduction of at
        // least 256 (3×3 at any width and stride 1 or 2, 5×5; 1×1 stride 2 with the 8×32 kernel only);
        // with fewer taps (VGG conv1_1, K = 27; the stem, 147) its transpose per call costs more than
        // it saves, and the row-tiled direct path wins while packing B would cost as much as the
        // product (≤ 128 output channels).
        case .implicitGEMM where chosenAutomatically
            && g.reductionLength >= DirectConvolution.transposedMinimumReduction
            && DirectConvolution.appliesTransposed(g, kernel: packedWeights[0].microKernel)
            && (g.kernelHeight * g.kernelWidth > 1 || packedWeights[0].microKernel == .avx512_8x32):
            return .directTransposed
        case .implicitGEMM where chosenAutomatically && direct && g.outChannels <= DirectConvolution.automaticMaxOutChannels:
            return .directIndirect
        case .gemm1x1 where chosenAutomatically && DirectConvolution.prefersTransposedPointwise(g, kernel: packedWeights[0].microKernel):
            return .directTransposed
        case .directIndirect where !direct: return .implicitGEMM
        case .directTransposed where !DirectConvolution.appliesTransposed(g, kernel: packedWeights[0].microKernel): return .implicitGEMM
        default: return algorithm
        }
    }

    /// The automatic choice for a descriptor: a plain GEMM for 1×1 stride-1 unpadded convolution,
    /// the implicit GEMM otherwise. (`forward` then takes Winograd or a direct path where the shape
    /// allows it; see `algorithm(forInputShape:)`.)
    public static func automaticAlgorithm(for d: Conv2DDescriptor) -> ConvAlgorithm {
        let pointwise = d.kernelHeight == 1 && d.kernelWidth == 1 && d.strideHeight == 1 && d.strideWidth == 1
            && d.padding == .zero
        return pointwise ? .gemm1x1 : .implicitGEMM
    }

    /// Creates a plan from OIHW weights and an optional bias of `outChannels` values.
    /// - Parameters:
    ///   - algorithm: overrides the automatic choice; `.gemm1x1` needs a 1×1, stride-1, unpadded
    ///     descriptor, the Winograd variants a 3×3, stride-1, undilated, single-group one.
    ///   - allowWinograd: with false, the automatic choice never takes Winograd (whose error bound is
    ///     looser, SPEC §4) and the plan holds no Winograd weights. With true, a plan the automatic
    ///     choice may run through Winograd keeps a copy of the weights and transforms them on the
    ///     first call that needs a variant (one-time cost; the plan's memory grows by α²/9 × weights).
    public init(descriptor: Conv2DDescriptor, weights: Tensor, bias: Tensor? = nil, relu: Bool = false,
                algorithm: ConvAlgorithm? = nil, allowWinograd: Bool = true) throws {
        try descriptor.validate("Conv2DPlan")
        let automatic = Conv2DPlan.automaticAlgorithm(for: descriptor)
        if algorithm == .gemm1x1 && automatic != .gemm1x1 {
            throw TesseraError.invalidArgument(
                operation: "Conv2DPlan",
                message: "algorithm gemm-1x1 needs a 1×1 kernel, stride 1 and no padding; got \(descriptor.kernelHeight)×\(descriptor.kernelWidth), stride \(descriptor.strideHeight)×\(descriptor.strideWidth), \(descriptor.padding)")
        }
        if let algorithm, algorithm.winogradTransform != nil, !WinogradConvolution.applies(descriptor) {
            throw TesseraError.invalidArgument(
                operation: "Conv2DPlan",
                message: "algorithm \(algorithm.rawValue) needs a 3×3 kernel, stride 1, dilation 1 and one group; got \(descriptor.kernelHeight)×\(descriptor.kernelWidth), stride \(descriptor.strideHeight)×\(descriptor.strideWidth), dilation \(descriptor.dilationHeight)×\(descriptor.dilationWidth), groups \(descriptor.groups)")
        }
        self.algorithm = algorithm ?? automatic
        chosenAutomatically = algorithm == nil
        try ConvGeometry.check(weights.shape, equals: descriptor.weightShape, "weights", "Conv2DPlan")
        if let bias { try ConvGeometry.check(bias.shape, equals: [descriptor.outChannels], "bias", "Conv2DPlan") }
        self.descriptor = descriptor
        self.relu = relu
        self.bias = bias
        biasOrZeros = try bias ?? Tensor(shape: [descriptor.outChannels])
        explicitWinograd = self.algorithm.winogradTransform.map { WinogradConvolution(weights: weights, transform: $0) }
        if algorithm == nil && allowWinograd && WinogradConvolution.automaticallyApplies(descriptor) {
            winogradSource = try weights.withUnsafeBufferPointer { w in
                try Tensor(shape: weights.shape) { $0.baseAddress!.update(from: w.baseAddress!, count: w.count) }
            }
        }
        let og = descriptor.outChannels / descriptor.groups
        let k = descriptor.inChannels / descriptor.groups * descriptor.kernelHeight * descriptor.kernelWidth
        // The automatic choice keeps the GEMM packing beside Winograd's, for images under its crossovers.
        let deepK = self.algorithm == .gemm1x1   // only packedGEMM reads a gemm-1x1 packing
        packedWeights = self.algorithm.winogradTransform != nil ? [] : try (0..<descriptor.groups).map { g in
            try weights.withUnsafeBufferPointer { w in
                try PackedMatrixA(m: og, k: k, a: UnsafeBufferPointer(rebasing: w[(g * og * k)..<((g + 1) * og * k)]), lda: k,
                                  deepK: deepK)
            }
        }
    }

    /// Replaces the weights (and bias) with new values of the same shapes, re-packing them into the
    /// plan's storage without allocating: what a training loop does after every update. Must not
    /// run while another thread calls `forward` on this plan. A plan that keeps a copy of the weights
    /// (the automatic choice where Winograd may run) only copies them here; each packing is refreshed
    /// by the first call that uses it.
    public func update(weights: Tensor, bias: Tensor?) throws {
        try ConvGeometry.check(weights.shape, equals: descriptor.weightShape, "weights", "Conv2DPlan.update")
        try weights.withUnsafeBufferPointer { try update(weights: $0, bias: bias) }
    }

    /// `update` from OIHW weights in a buffer of exactly `descriptor.weightShape`'s count.
    func update(weights w: UnsafeBufferPointer<Float>, bias: Tensor?) throws {
        if let bias { try ConvGeometry.check(bias.shape, equals: [descriptor.outChannels], "bias", "Conv2DPlan.update") }
        let og = descriptor.outChannels / descriptor.groups
        let k = descriptor.inChannels / descriptor.groups * descriptor.kernelHeight * descriptor.kernelWidth
        explicitWinograd?.update(weights: w.baseAddress!)
        if winogradSource != nil {
            winogradSource!.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: w.baseAddress!, count: w.count) }
            automaticWinograd.withLock { $0.stale = Set($0.variants.keys) }
            gemmPackingStale.withLock { $0 = true }
        } else {
            repackGEMMWeights(w.baseAddress!, og: og, k: k)
        }
        if bias != nil || self.bias != nil { biasOrZeros = try bias ?? Tensor(shape: [descriptor.outChannels]) }
        self.bias = bias
    }

    /// The GEMM packings (and Wᵀ where built) from OIHW weights at `w`.
    private func repackGEMMWeights(_ w: UnsafePointer<Float>, og: Int, k: Int) {
        for (g, packed) in packedWeights.enumerated() {
            packed.repackUnchecked(a: w + g * og * k, lda: k)
        }
        transposedWeights.withLock { cache in
            for (g, packed) in (cache ?? []).enumerated() { packed.repack(transpose: .transpose, b: w + g * og * k, ldb: k) }
        }
        channelPanels.withLock { $0?.repack(weights: w) }
    }

    /// Re-packs the GEMM weights from the kept copy if `update` changed them; before any GEMM-path call.
    private func refreshGEMMPacking() {
        gemmPackingStale.withLock { stale in
            guard stale, let source = winogradSource else { return }
            let og = descriptor.outChannels / descriptor.groups
            let k = descriptor.inChannels / descriptor.groups * descriptor.kernelHeight * descriptor.kernelWidth
            source.withUnsafeBufferPointer { repackGEMMWeights($0.baseAddress!, og: og, k: k) }
            stale = false
        }
    }

    /// Bytes of packed weights the plan holds.
    /// Counts the Winograd weights built so far and the copy of the weights kept to build them.
    public var packedWeightBytes: Int {
        packedWeights.reduce(0) { $0 + $1.byteCount } + (explicitWinograd?.packedWeightBytes ?? 0)
            + transposedWeights.withLock { ($0 ?? []).reduce(0) { $0 + $1.byteCount } }
            + channelPanels.withLock { $0?.byteCount ?? 0 }
            + (winogradSource?.count ?? 0) * MemoryLayout<Float>.size
            + automaticWinograd.withLock { $0.variants.values.reduce(0) { $0 + $1.packedWeightBytes } }
    }

    /// The Winograd convolution for a variant: the caller's, or the automatic choice's, built on first use.
    private func winogradConvolution(_ tf: WinogradTransform) -> WinogradConvolution {
        if let explicitWinograd { return explicitWinograd }
        return automaticWinograd.withLock { state in
            if let built = state.variants[tf.m] {
                if state.stale.remove(tf.m) != nil {
                    winogradSource!.withUnsafeBufferPointer { built.update(weights: $0.baseAddress!) }
                }
                return built
            }
            let built = WinogradConvolution(weights: winogradSource!, transform: tf)
            state.variants[tf.m] = built
            return built
        }
    }

    /// y = conv(x) + bias (then ReLU if the plan fuses it). `x` is N×C×H×W.
    public func forward(_ x: Tensor, threads: Int? = nil) throws -> Tensor {
        let g = try ConvGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Conv2DPlan.forward")
        // Every output is written (β = 0 in every path), so the output skips the zero fill.
        return try Tensor(shape: g.outputShape) { yb in try run(x, g, y: yb.baseAddress!, threads: threads) }
    }

    /// `forward` into an existing output tensor of the output shape, which it overwrites: a call in a
    /// steady state (an input size the plan has run before, `y` not shared) on one thread allocates
    /// nothing on the heap; a parallel region allocates 4 small blocks, 3 of them inside
    /// `concurrentPerform` (README "Threads"). Throws, writing nothing, if `y` has another shape.
    ///
    /// ```swift
    /// var y = try Tensor(shape: [1, 64, 56, 56])
    /// for x in images { try plan.forward(x, into: &y) }   // reuses y's buffer every call
    /// ```
    public func forward(_ x: Tensor, into y: inout Tensor, threads: Int? = nil) throws {
        let g = try ConvGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Conv2DPlan.forward(into:)")
        let s = y.shape
        guard s.count == 4, s[0] == g.batch, s[1] == g.outChannels, s[2] == g.outHeight, s[3] == g.outWidth else {
            throw TesseraError.invalidShape(operation: "Conv2DPlan.forward(into:)", shape: s,
                                            expected: "the output shape \(g.outputShape) for input \(x.shape)")
        }
        try y.withUnsafeMutableBufferPointer { yb in try run(x, g, y: yb.baseAddress!, threads: threads) }
    }

    /// The convolution of `x` (geometry `g`) into the N×O×OH×OW buffer at `y`, every element written.
    private func run(_ x: Tensor, _ g: ConvGeometry, y yOut: UnsafeMutablePointer<Float>, threads: Int?) throws {
        let pixels = g.outHeight * g.outWidth
        let og = g.groupOutChannels, cg = g.groupInChannels, k = g.reductionLength
        let algorithm = resolvedAlgorithm(g)
        let materialize = algorithm == .im2colGEMM
        let hasBias = bias != nil
        let winograd = algorithm.winogradTransform.map { winogradConvolution($0) }
        if winograd == nil { refreshGEMMPacking() }
        let yb = UnsafeMutableBufferPointer(start: yOut, count: g.batch * g.outChannels * pixels)
        try x.withUnsafeBufferPointer { xb in
            try biasOrZeros.withUnsafeBufferPointer { bb in
                if let winograd {
                    winograd.forward(xb.baseAddress!, g, bias: hasBias ? bb.baseAddress! : nil, relu: relu,
                                     y: yb.baseAddress!, threads: threads)
                    return
                }
                if algorithm == .directTransposed {
                    let panels = channelPanels.withLock { cache in
                        if cache == nil {
                            let weights = packedWeights[0]
                            cache = weights.unpacked().withUnsafeBufferPointer {
                                ChannelPanels(outChannels: g.outChannels, k: k, microKernel: weights.microKernel, weights: $0.baseAddress!)
                            }
                        }
                        return cache!
                    }
                    directTapOffsets(g, splitPhases: false).withUnsafeBufferPointer { ob in
                        DirectConvolution.forwardTransposed(xb.baseAddress!, g, panels: panels, offsets: ob.baseAddress!,
                                                            bias: hasBias ? bb.baseAddress! : nil, relu: relu,
                                                            y: yb.baseAddress!, threads: threads)
                    }
                    return
                }
                if algorithm == .directIndirect {
                    // One call covers the whole batch (one group).
                    let offsets = directTapOffsets(g, splitPhases: true)
                    offsets.withUnsafeBufferPointer { ob in
                        DirectConvolution.forward(xb.baseAddress!, g, weights: packedWeights[0], offsets: ob.baseAddress!,
                                                  bias: hasBias ? bb.baseAddress! : nil, relu: relu,
                                                  y: yb.baseAddress!, threads: threads)
                    }
                    return
                }
                try Workspace.withScratch(count: materialize ? k * pixels : 1) { cols in
                    for n in 0..<g.batch {
                        for grp in 0..<g.groups {
                            let xImage = xb.baseAddress! + (n * g.inChannels + grp * cg) * g.inHeight * g.inWidth
                            let out = UnsafeMutableBufferPointer(rebasing: yb[((n * g.outChannels + grp * og) * pixels)...].prefix(og * pixels))
                            let epilogue = GEMMEpilogue(
                                bias: hasBias ? UnsafeBufferPointer(rebasing: bb[(grp * og)..<((grp + 1) * og)]) : nil,
                                biasAxis: hasBias ? .row : .none, relu: relu)
                            let weights = packedWeights[grp]
                            if algorithm == .implicitGEMM {
                                GEMM.packedGEMM(weights.microKernel, og, pixels, k, 1, weights.storage, weights.paddedM,
                                                0, out.baseAddress!, pixels, epilogue, threads, blocking: weights.blocking) { p0, kc, n0, nc, nr, dst in
                                    packIm2colPanels(xImage, g, p0: p0, kc: kc, n0: n0, nc: nc, nr: nr, dst: dst)
                                }
                            } else if !materialize && GEMM.prefersTransposed(m: og, n: pixels) {
                                forwardTransposed1x1(xImage, group: grp, pixels: pixels, weights: weights,
                                                     epilogue: epilogue, y: out.baseAddress!, threads: threads)
                            } else {
                                // gemm-1x1 reads the image as B; im2col-gemm expands it first.
                                if materialize { im2col(xImage, channels: cg, g, into: cols, threads: threads) }
                                let b = UnsafeBufferPointer(start: materialize ? UnsafePointer(cols) : xImage, count: k * pixels)
                                try GEMM.sgemm(packedA: weights, n: pixels, b: b, ldb: pixels,
                                               c: out, ldc: pixels, epilogue: epilogue, threads: threads)
                            }
                        }
                    }
                }
            }
        }
    }

    /// One image's 1×1 convolution for one group as Yᵀ = Xᵀ·Wᵀ (pixels × channels) into scratch,
    /// bias (per column) and ReLU fused, then transposed into the NCHW output. Same sums in the same
    /// order as the plain orientation's.
    private func forwardTransposed1x1(
        _ x: UnsafePointer<Float>, group: Int, pixels: Int, weights: PackedMatrixA, epilogue: GEMMEpilogue,
        y: UnsafeMutablePointer<Float>, threads: Int?
    ) {
        let og = weights.m, k = weights.k, kernel = weights.microKernel, blocking = kernel.blocking
        let wt = transposedWeights.withLock { cache -> PackedMatrixB in
            if cache == nil {
                // The plan keeps no copy of W: read it back out of the A packing, once.
                cache = packedWeights.map { packed in
                    packed.unpacked().withUnsafeBufferPointer { PackedMatrixB(transpose: .transpose, k: k, n: og, b: $0.baseAddress!, ldb: k) }
                }
            }
            return cache![group]
        }
        let paddedPixels = (pixels + blocking.mr - 1) / blocking.mr * blocking.mr
        Workspace.withScratch(count: paddedPixels * k + pixels * og) { scratch in
            let t = scratch + paddedPixels * k
            // Xᵀ is packed by the first tiles of the product's own region.
            let packA = GEMM.PackingTilesA(trans: .transpose, a: x, lda: pixels, m: pixels, k: k, paddedM: paddedPixels, dst: scratch, blocking: blocking)
            let columnBias = GEMMEpilogue(bias: epilogue.bias, biasAxis: epilogue.bias == nil ? .none : .column, relu: epilogue.relu)
            // Each tile of Yᵀ goes to Y in the same region, as soon as it is computed.
            GEMM.packedGEMM(kernel, pixels, og, k, 1, scratch, paddedPixels, 0, t, og, columnBias, threads, prepackedB: wt,
                            packA: packA, finishTile: { ps, cs in
                GEMM.transposeBlock(rows: ps.count, cols: cs.count, t + ps.lowerBound * og + cs.lowerBound, og,
                                    y + cs.lowerBound * pixels + ps.lowerBound, pixels)
            }, keepsCCached: true) { _, _, _, _, _, _ in
                preconditionFailure("B is packed beforehand")
            }
        }
    }

    /// A direct path's tap-offset table for this input size, built once and reused while the
    /// input size stays the same (the usual case: a layer sees one image size).
    private func directTapOffsets(_ g: ConvGeometry, splitPhases: Bool) -> [Int32] {
        let layout = DirectConvolution.Layout(g, splitPhases: splitPhases)
        return tapOffsetCache.withLock { cache in
            if let c = cache[layout.phases], c.height == g.inHeight, c.width == g.inWidth { return c.table }
            let table = DirectConvolution.tapOffsets(g, layout)
            cache[layout.phases] = (g.inHeight, g.inWidth, table)
            return table
        }
    }
}
