import XCTest
import Kernels
import Reference
import TesseraCore

/// Conv2DPlan against `Reference.conv2dForward`, with SPEC §4's normalized error.
final class ConvolutionTests: NaNFilledOutputsTestCase {
    func check(_ shape: [Int], _ d: Conv2DDescriptor, bias: Bool = true, relu: Bool = false,
               expect algorithm: ConvAlgorithm? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        var g = SeededGenerator(seed: UInt64(shape.reduce(0, +) * 31 + d.outChannels))
        let x = try Tensor(shape: shape, generator: &g)
        let w = try Tensor(shape: d.weightShape, generator: &g)
        let b = bias ? try Tensor(shape: [d.outChannels], generator: &g) : nil
        let auto = try Conv2DPlan(descriptor: d, weights: w, bias: b, relu: relu)
        if let algorithm { XCTAssertEqual(auto.algorithm, algorithm, file: file, line: line) }
        let (yRef, magnitude) = try Reference.conv2dForwardWithMagnitude(input: x, weights: w, bias: b, descriptor: d, relu: relu)
        var algorithms: [ConvAlgorithm] = [.implicitGEMM, .im2colGEMM, .directIndirect, .directTransposed]
        if Conv2DPlan.automaticAlgorithm(for: d) == .gemm1x1 { algorithms.append(.gemm1x1) }
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            GEMMMicroKernel.active = kernel
            defer { GEMMMicroKernel.active = GEMMMicroKernel.best }
            for a in algorithms {
                let plan = try Conv2DPlan(descriptor: d, weights: w, bias: b, relu: relu, algorithm: a)
                // Into a NaN-filled output: `forward(x)` may get a recycled buffer that still holds the
                // previous algorithm's (correct) output, which would hide an output left unwritten.
                var y = try Tensor(shape: yRef.shape, repeating: .nan)
                try plan.forward(x, into: &y)
                try compare(y, yRef, magnitude, shape, d, "\(a) \(kernel)", file: file, line: line)
            }
        }
    }

    func compare(_ y: Tensor, _ yRef: Tensor, _ magnitude: Tensor, _ shape: [Int], _ d: Conv2DDescriptor, _ what: String,
                 file: StaticString, line: UInt) throws {
        XCTAssertEqual(y.shape, yRef.shape, file: file, line: line)
        var worst: Float = 0
        for i in 0..<y.count {
            XCTAssertFalse(y[flat: i].isNaN, file: file, line: line)
            worst = max(worst, abs(y[flat: i] - yRef[flat: i]))
        }
        let scale = magnitude.scalars.max() ?? 1
        let bound = 1e-6 * Float(try ConvGeometry(inputShape: shape, descriptor: d).reductionLength).squareRoot()
        XCTAssertLessThanOrEqual(worst / scale, bound, "\(shape) \(d) \(what)", file: file, line: line)
    }

    func testSweptShapes() throws {
        try check([1, 3, 7, 9], .init(inChannels: 3, outChannels: 5, kernel: 3, padding: 1), expect: .implicitGEMM)
        try check([3, 5, 6, 5], .init(inChannels: 5, outChannels: 7, kernel: 3, stride: 2, padding: 1), relu: true)
        try check([2, 4, 8, 7], .init(inChannels: 4, outChannels: 6, kernelHeight: 3, kernelWidth: 2,
                                      padding: .init(top: 2, bottom: 0, left: 1, right: 3)))
        try check([1, 4, 9, 9], .init(inChannels: 4, outChannels: 4, kernel: 3, padding: 2, dilation: 2))
        try check([2, 6, 5, 5], .init(inChannels: 6, outChannels: 4, kernel: 3, padding: 1, groups: 2))
        try check([1, 8, 6, 6], .init(inChannels: 8, outChannels: 8, kernel: 3, padding: 1, groups: 8), bias: false)
        try check([1, 1, 1, 1], .init(inChannels: 1, outChannels: 3, kernel: 1))
        try check([2, 13, 5, 3], .init(inChannels: 13, outChannels: 17, kernel: 1), relu: true, expect: .gemm1x1)
        // gemm-1x1 weights are packed in K blocks of 768 on AVX-512: two blocks, the second partial.
        try check([1, 800, 9, 10], .init(inChannels: 800, outChannels: 40, kernel: 1), relu: true, expect: .gemm1x1)
        try check([1, 16, 7, 7], .init(inChannels: 16, outChannels: 9, kernel: 1, stride: 2))
        // Wide rows, so that strided runs go through the SIMD gather of the implicit-GEMM packer.
        try check([2, 4, 37, 45], .init(inChannels: 4, outChannels: 12, kernel: 3, stride: 2, padding: 1))
        try check([1, 3, 31, 70], .init(inChannels: 3, outChannels: 8, kernel: 5, stride: 3, padding: 2))
    }

    func testDirectPathShapes() throws {
        // The direct (indirect-GEMM) path: with the AVX-512 kernel for output rows ≥ 32 wide and output
        // channels in panels of 8, with the SIMD8 one for rows ≥ 16 wide and C·kh·kw ≤ 256 (one K
        // block; a last panel of < 6 channels on a scratch tile). Partial last tiles, padding,
        // dilation, strides. (shape, descriptor, direct with AVX-512, direct with SIMD8)
        let cases: [([Int], Conv2DDescriptor, Bool, Bool)] = [
            ([2, 5, 9, 40], .init(inChannels: 5, outChannels: 16, kernel: 3, padding: 1), true, true),
            ([1, 3, 11, 45], .init(inChannels: 3, outChannels: 8, kernel: 3, padding: 2, dilation: 2), true, true),
            ([1, 4, 10, 70], .init(inChannels: 4, outChannels: 24, kernelHeight: 3, kernelWidth: 5, strideHeight: 2,
                                   strideWidth: 1, padding: .init(top: 0, bottom: 2, left: 1, right: 3)), true, true),
            ([1, 70, 6, 33], .init(inChannels: 70, outChannels: 8, kernel: 3, padding: 1), true, false),
            // A last tile of 25 pixels moved back over the previous one (rows of 1–16 leftover pixels
            // above take the half-width kernel on AVX-512).
            ([1, 3, 5, 57], .init(inChannels: 3, outChannels: 16, kernel: 3, padding: 1), true, true),
            // Width strides through the column phases: the stem's 7×7/2, an odd padded width, stride 3
            // with dilation, and asymmetric padding.
            ([2, 3, 9, 70], .init(inChannels: 3, outChannels: 16, kernel: 7, stride: 2, padding: 3), true, true),
            ([1, 5, 7, 67], .init(inChannels: 5, outChannels: 8, kernel: 3, stride: 2, padding: 1), true, true),
            ([1, 2, 8, 110], .init(inChannels: 2, outChannels: 8, kernelHeight: 2, kernelWidth: 3, strideHeight: 1,
                                   strideWidth: 3, padding: .init(top: 1, bottom: 0, left: 0, right: 2), dilationWidth: 2), true, true),
            // Padded rows of ≥ 128 floats: the AVX-512 kernel prefetches 32 taps ahead, in two K blocks
            // (K = 360) whose last 32 steps do not; and a 7×7/2 on rows of 250 (two phases of 128).
            ([1, 40, 5, 130], .init(inChannels: 40, outChannels: 16, kernel: 3, padding: 1), true, false),
            ([1, 3, 7, 250], .init(inChannels: 3, outChannels: 8, kernel: 7, stride: 2, padding: 3), true, true),
            // No padding: the kernel reads the input in place, no padded copy.
            ([2, 6, 5, 40], .init(inChannels: 6, outChannels: 16, kernel: 3), true, true),
            // SIMD8 only: 10 channels (a last panel of 4), rows of 20 (one tile and one moved back).
            ([1, 3, 6, 20], .init(inChannels: 3, outChannels: 10, kernel: 3, padding: 1), false, true),
        ]
        // Past 128 output channels the automatic choice stays with the implicit GEMM; an explicit request still runs direct.
        let wide = Conv2DDescriptor(inChannels: 2, outChannels: 136, kernel: 3, padding: 1)
        let widePlan = try Conv2DPlan(descriptor: wide, weights: try Tensor(shape: wide.weightShape))
        XCTAssertEqual(try widePlan.algorithm(forInputShape: [1, 2, 4, 40]), .implicitGEMM)
        try check([1, 2, 4, 40], wide)
        for (shape, d, avx512, simd8) in cases {
            try check(shape, d, relu: true)
            let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape))
            let direct = GEMMMicroKernel.active == .avx512_8x32 ? avx512 : simd8
            // From a reduction of 256 on, the automatic choice takes the transposed direct path instead.
            let transposed = d.inChannels * d.kernelHeight * d.kernelWidth >= 256
            XCTAssertEqual(try plan.algorithm(forInputShape: shape),
                           transposed ? .directTransposed : direct ? .directIndirect : .implicitGEMM, "\(shape) \(d)")
        }
        // No bias and no ReLU: the kernels store without an epilogue.
        try check([1, 3, 6, 20], .init(inChannels: 3, outChannels: 10, kernel: 3, padding: 1), bias: false)
    }

    /// 1×1 layers of ≥ 512 input channels, or ≥ 256 with no more outputs, run on direct-transposed
    /// (AVX-512), reading the input in place; the others stay on gemm-1x1. Strided ones from 256.
    func testPointwiseAutomaticChoice() throws {
        let avx512 = GEMMMicroKernel.active == .avx512_8x32
        let cases: [([Int], Conv2DDescriptor, Bool)] = [
            ([1, 512, 7, 7], .init(inChannels: 512, outChannels: 72, kernel: 1), true),
            ([2, 256, 5, 6], .init(inChannels: 256, outChannels: 40, kernel: 1), true),
            ([1, 256, 4, 5], .init(inChannels: 256, outChannels: 264, kernel: 1), false),
            ([1, 128, 6, 6], .init(inChannels: 128, outChannels: 32, kernel: 1), false),
            ([1, 600, 2, 3], .init(inChannels: 600, outChannels: 16, kernel: 1), false),   // 6 pixels: fewer than 8
        ]
        for (shape, d, transposed) in cases {
            try check(shape, d, relu: true, expect: .gemm1x1)
            let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape))
            XCTAssertEqual(try plan.algorithm(forInputShape: shape), avx512 && transposed ? .directTransposed : .gemm1x1, "\(shape) \(d)")
        }
        // A strided 1×1 (ResNet's projections) leaves the implicit GEMM for direct-transposed from K = 256.
        let projection = Conv2DDescriptor(inChannels: 256, outChannels: 24, kernel: 1, stride: 2)
        try check([1, 256, 9, 9], projection, relu: true, expect: .implicitGEMM)
        XCTAssertEqual(try Conv2DPlan(descriptor: projection, weights: try Tensor(shape: projection.weightShape))
            .algorithm(forInputShape: [1, 256, 9, 9]), avx512 ? .directTransposed : .implicitGEMM)
    }

    func testTransposedDirectPathShapes() throws {
        // The transposed direct path: 8 (AVX-512) or 6 (SIMD8) consecutive output pixels per kernel
        // call, wrapping across rows of any width (the last call moved back), panels of 32 or 16
        // output channels (a last partial panel takes its bias from a padded copy), strides and
        // dilation on plain padded rows. `check` runs both micro-kernels.
        let cases: [([Int], Conv2DDescriptor)] = [
            ([2, 20, 5, 7], .init(inChannels: 20, outChannels: 40, kernel: 3, padding: 1)),    // 35 pixels, rows of 7
            ([1, 30, 2, 4], .init(inChannels: 30, outChannels: 32, kernel: 3, padding: 1)),    // exactly 8 pixels
            ([1, 33, 9, 11], .init(inChannels: 33, outChannels: 70, kernel: 3, stride: 2, padding: 1)),
            ([1, 29, 10, 9], .init(inChannels: 29, outChannels: 36, kernelHeight: 3, kernelWidth: 2, strideHeight: 1,
                                   strideWidth: 2, padding: .init(top: 2, bottom: 0, left: 1, right: 3), dilationHeight: 2)),
            ([1, 12, 14, 14], .init(inChannels: 12, outChannels: 24, kernel: 5, padding: 2)),
            // 49 and 196 pixels: calls of 7 pixels (the 7×32 kernel), none computed twice.
            ([2, 16, 7, 7], .init(inChannels: 16, outChannels: 40, kernel: 3, padding: 1)),
            ([1, 9, 7, 28], .init(inChannels: 9, outChannels: 32, kernel: 3, padding: 1)),
            // A padded image over 512 KB: the kernel prefetches 32 taps ahead (not in the last 32 steps).
            ([1, 80, 40, 40], .init(inChannels: 80, outChannels: 8, kernel: 3, padding: 1)),
            // A padded image over 1 MiB and twice Wᵀ: pixel blocks outermost, 2 or 3 channel panels each.
            ([1, 8, 150, 250], .init(inChannels: 8, outChannels: 40, kernel: 3, padding: 1)),
        ]
        for (shape, d) in cases {
            try check(shape, d, relu: true)
            let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape), algorithm: .directTransposed)
            XCTAssertEqual(try plan.algorithm(forInputShape: shape), .directTransposed, "\(shape) \(d)")
        }
        try check([1, 20, 5, 7], .init(inChannels: 20, outChannels: 40, kernel: 3, padding: 1), bias: false)
        // Fewer output pixels than one call takes (8 on AVX-512, 6 on SIMD8), or groups: the implicit GEMM instead.
        let small = Conv2DDescriptor(inChannels: 4, outChannels: 8, kernel: 3, padding: 1)
        let fallback = try Conv2DPlan(descriptor: small, weights: try Tensor(shape: small.weightShape), algorithm: .directTransposed)
        XCTAssertEqual(try fallback.algorithm(forInputShape: [1, 4, 1, 5]), .implicitGEMM)
        try check([1, 4, 1, 5], small)
        // 6 pixels: one 6×16 call on SIMD8; on AVX-512 the implicit GEMM.
        try check([1, 20, 2, 3], .init(inChannels: 20, outChannels: 24, kernel: 3, padding: 1), relu: true)
        // Bit-identical at any thread count; `update(weights:)` re-packs the Wᵀ panels built on the first call.
        let d = Conv2DDescriptor(inChannels: 64, outChannels: 96, kernel: 3, padding: 1)
        let x = try Tensor(shape: [1, 64, 24, 23], seed: 5), b = try Tensor(shape: [96], seed: 7)
        let w1 = try Tensor(shape: d.weightShape, seed: 6), w2 = try Tensor(shape: d.weightShape, seed: 8)
        let plan = try Conv2DPlan(descriptor: d, weights: w1, bias: b, relu: true, algorithm: .directTransposed)
        let y = try plan.forward(x, threads: 1).scalars
        for t in [2, 5] { XCTAssertEqual(try plan.forward(x, threads: t).scalars, y, "bit-identical at \(t) threads") }
        try plan.update(weights: w2, bias: b)
        XCTAssertEqual(try plan.forward(x).scalars,
                       try Conv2DPlan(descriptor: d, weights: w2, bias: b, relu: true, algorithm: .directTransposed).forward(x).scalars)
    }

    /// The transposed 1×1 path large enough for a parallel region (ResNet-50's 512→2048 at 7×7): each
    /// tile of Yᵀ is written to Y inside the region; against the reference and bit-identical at 1, 2, 5 threads.
    func testPointwiseTransposedInParallel() throws {
        let d = Conv2DDescriptor(inChannels: 512, outChannels: 2048, kernel: 1)
        try check([1, 512, 7, 7], d, relu: true, expect: .gemm1x1)
        let x = try Tensor(shape: [1, 512, 7, 7], seed: 5), w = try Tensor(shape: d.weightShape, seed: 6)
        // Requested: on AVX-512 the automatic choice runs this layer on direct-transposed.
        let plan = try Conv2DPlan(descriptor: d, weights: w, bias: try Tensor(shape: [2048], seed: 7), relu: true,
                                  algorithm: .gemm1x1)
        XCTAssertEqual(try plan.algorithm(forInputShape: x.shape), .gemm1x1)
        let y = try plan.forward(x, threads: 1).scalars
        for t in [2, 5] { XCTAssertEqual(try plan.forward(x, threads: t).scalars, y, "bit-identical at \(t) threads") }
    }

    /// 1×1 on images of ≤ 64 pixels with ≥ 4× as many output channels runs transposed, Yᵀ = Xᵀ·Wᵀ, on
    /// Wᵀ packed on first use (the plan's packed bytes grow), which `update(weights:)` re-packs.
    func testPointwiseOnFewPixelsRunsTransposed() throws {
        // At most 64 pixels, with either micro-kernel (`GEMM.prefersTransposed`).
        let cases: [([Int], Conv2DDescriptor)] = [
            ([2, 16, 3, 5], .init(inChannels: 16, outChannels: 64, kernel: 1)),
            ([1, 16, 5, 6], .init(inChannels: 16, outChannels: 456, kernel: 1, groups: 2)),
            ([1, 300, 4, 7], .init(inChannels: 300, outChannels: 200, kernel: 1)),   // K over one KC block
            ([1, 800, 2, 3], .init(inChannels: 800, outChannels: 32, kernel: 1)),    // and over one block of 768
            ([1, 64, 7, 7], .init(inChannels: 64, outChannels: 256, kernel: 1)),
        ]
        for (shape, d) in cases {
            try check(shape, d, relu: true, expect: .gemm1x1)
            let x = try Tensor(shape: shape, seed: 1), b = try Tensor(shape: [d.outChannels], seed: 2)
            let w1 = try Tensor(shape: d.weightShape, seed: 3), w2 = try Tensor(shape: d.weightShape, seed: 4)
            // Requested, since the automatic choice runs the deeper ones on direct-transposed (AVX-512).
            let plan = try Conv2DPlan(descriptor: d, weights: w1, bias: b, relu: true, algorithm: .gemm1x1)
            let before = plan.packedWeightBytes
            _ = try plan.forward(x)
            XCTAssertGreaterThan(plan.packedWeightBytes, before, "\(d): Wᵀ packed, the transposed path ran")
            try plan.update(weights: w2, bias: b)
            XCTAssertEqual(try plan.forward(x).scalars,
                           try Conv2DPlan(descriptor: d, weights: w2, bias: b, relu: true, algorithm: .gemm1x1).forward(x).scalars,
                           "\(d)")
        }
    }

    func testLargeImageCrossesManyTiles() throws {
        // Enough pixels for several column tiles, row-split tiles and K blocks, and 2 threads.
        try check([2, 40, 37, 41], .init(inChannels: 40, outChannels: 70, kernel: 3, padding: 1), relu: true)
    }

    func testReducedNetworkLayers() throws {
        // VGG-16 and ResNet-50 layer kinds at reduced spatial size.
        try check([1, 3, 16, 16], .init(inChannels: 3, outChannels: 64, kernel: 3, padding: 1), relu: true)
        try check([1, 64, 8, 8], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1), relu: true)
        try check([1, 3, 20, 20], .init(inChannels: 3, outChannels: 16, kernel: 7, stride: 2, padding: 3))
        try check([1, 64, 7, 7], .init(inChannels: 64, outChannels: 256, kernel: 1))
    }

    func testShapeMismatchThrows() throws {
        let d = Conv2DDescriptor(inChannels: 3, outChannels: 4, kernel: 3)
        XCTAssertThrowsError(try Conv2DPlan(descriptor: d, weights: try Tensor(shape: [4, 3, 3, 2])))
        let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: [4, 3, 3, 3]))
        XCTAssertThrowsError(try plan.forward(try Tensor(shape: [1, 2, 5, 5]))) { e in
            XCTAssertTrue("\(e)".contains("[1, 2, 5, 5]"), "\(e)")
        }
        XCTAssertThrowsError(try plan.forward(try Tensor(shape: [1, 3, 2, 5])))
        XCTAssertThrowsError(try Conv2DPlan(descriptor: d, weights: try Tensor(shape: [4, 3, 3, 3]), algorithm: .gemm1x1))
    }

    /// The implicit GEMM never materializes a large layer's im2col matrix: its scratch stays under
    /// the shared-B bound (16 MiB) plus per-thread panels, while the whole expansion would be 29 MB.
    func testImplicitGEMMScratchIsBounded() throws {
        let d = Conv2DDescriptor(inChannels: 256, outChannels: 256, kernel: 3, padding: 1)
        let x = try Tensor(shape: [1, 256, 56, 56], seed: 1)
        let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape, seed: 2), algorithm: .implicitGEMM)
        let expansion = 256 * 9 * 56 * 56 * 4
        Workspace.resetPeak()
        _ = try plan.forward(x, threads: 2)
        XCTAssertLessThan(Workspace.peakBytes, 16 << 20 + 2 * (8 << 20) + (1 << 20))
        XCTAssertLessThan(Workspace.peakBytes, expansion)
        let im2col = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape, seed: 2), algorithm: .im2colGEMM)
        Workspace.resetPeak()
        _ = try im2col.forward(x, threads: 2)
        XCTAssertGreaterThanOrEqual(Workspace.peakBytes, expansion, "im2col-gemm does hold the whole expansion")
    }

    /// Winograd F(2×2), F(4×4) and F(6×6) against the reference (SPEC §4: F(2×2) ≤ 2× the direct
    /// bound, F(4×4) ≤ 2e-5, F(6×6) ≤ 1e-4): tile edges at odd sizes, 1×1 and 2×2 images, channel counts that are not
    /// multiples of 8, batch 3, asymmetric padding, and VGG-16 / ResNet-50 3×3 shapes at reduced size.
    func testWinograd() throws {
        let cases: [([Int], Conv2DDescriptor)] = [
            ([1, 3, 7, 9], .init(inChannels: 3, outChannels: 5, kernel: 3, padding: 1)),
            ([3, 5, 6, 5], .init(inChannels: 5, outChannels: 7, kernel: 3, padding: 1)),
            ([1, 4, 1, 1], .init(inChannels: 4, outChannels: 3, kernel: 3, padding: 1)),
            ([2, 4, 2, 2], .init(inChannels: 4, outChannels: 9, kernel: 3, padding: 1)),
            ([1, 6, 11, 13], .init(inChannels: 6, outChannels: 10, kernelHeight: 3, kernelWidth: 3,
                                   padding: .init(top: 2, bottom: 0, left: 1, right: 2))),
            ([1, 9, 10, 10], .init(inChannels: 9, outChannels: 4, kernel: 3)),                 // valid, no padding
            ([1, 64, 12, 37], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1)),   // VGG conv1_2-like, 5 SIMD tile groups
            ([1, 128, 9, 9], .init(inChannels: 128, outChannels: 256, kernel: 3, padding: 1)),
            ([1, 512, 7, 7], .init(inChannels: 512, outChannels: 512, kernel: 3, padding: 1)),  // ResNet-50 conv5 3×3
            // ≥ 256 tiles: several blocks of tile rows; two output-channel groups (V shared or per group); C > KC.
            ([2, 5, 100, 99], .init(inChannels: 5, outChannels: 9, kernel: 3, padding: 1)),
            ([1, 3, 66, 70], .init(inChannels: 3, outChannels: 264, kernel: 3, padding: 1)),
            ([1, 264, 34, 34], .init(inChannels: 264, outChannels: 8, kernel: 3, padding: 1)),
            // 49 tiles at F(4×4), four output-channel groups: two blocks' worth of tiles run as one.
            ([1, 8, 28, 28], .init(inChannels: 8, outChannels: 512, kernel: 3, padding: 1)),
        ]
        for (shape, d) in cases { try checkWinograd(shape, d) }
        let strided = Conv2DDescriptor(inChannels: 4, outChannels: 4, kernel: 3, stride: 2, padding: 1)
        XCTAssertThrowsError(try Conv2DPlan(descriptor: strided, weights: try Tensor(shape: strided.weightShape), algorithm: .winograd4x4))
    }

    /// Every input × output channel count of VGG-16's and ResNet-50's 3×3 layers, at a reduced odd
    /// image size, through all three variants.
    func testWinogradOnEveryNetworkChannelShape() throws {
        for (c, o) in [(64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512)] {
            try checkWinograd([1, c, 7, 9], .init(inChannels: c, outChannels: o, kernel: 3, padding: 1))
        }
    }

    /// Each Winograd variant against the reference with its bound (SPEC §4), with every micro-kernel,
    /// bit-identical at 1 and 2 threads.
    func checkWinograd(_ shape: [Int], _ d: Conv2DDescriptor) throws {
        var rng = SeededGenerator(seed: UInt64(shape.reduce(0, +) + d.outChannels))
        let x = try Tensor(shape: shape, generator: &rng)
        let w = try Tensor(shape: d.weightShape, generator: &rng)
        let b = try Tensor(shape: [d.outChannels], generator: &rng)
        let (yRef, magnitude) = try Reference.conv2dForwardWithMagnitude(input: x, weights: w, bias: b, descriptor: d, relu: true)
        let k = Float(try ConvGeometry(inputShape: shape, descriptor: d).reductionLength)
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            GEMMMicroKernel.active = kernel
            defer { GEMMMicroKernel.active = GEMMMicroKernel.best }
            for (a, bound) in [(ConvAlgorithm.winograd2x2, 2e-6 * k.squareRoot()), (.winograd4x4, Float(2e-5)), (.winograd6x6, Float(1e-4))] {
                let plan = try Conv2DPlan(descriptor: d, weights: w, bias: b, relu: true, algorithm: a)
                XCTAssertEqual(try plan.algorithm(forInputShape: shape), a)
                let y = try plan.forward(x, threads: 1)
                XCTAssertEqual(try plan.forward(x, threads: 2).scalars, y.scalars, "bit-identical at 1 and 2 threads")
                var worst: Float = 0
                for i in 0..<y.count {
                    XCTAssertFalse(y[flat: i].isNaN)
                    worst = max(worst, abs(y[flat: i] - yRef[flat: i]))
                }
                let error = worst / (magnitude.scalars.max() ?? 1)
                XCTAssertLessThanOrEqual(error, bound, "\(a) \(kernel) \(shape) \(d)")
            }
        }
    }

    /// The automatic choice takes F(4×4) on outputs of 14×14 and more, F(2×2) from 7×7, for 3×3 layers
    /// with C·O ≥ 64·64, unless forbidden; the variants it builds on first use match the reference.
    func testAutomaticWinogradChoice() throws {
        let d = Conv2DDescriptor(inChannels: 256, outChannels: 512, kernel: 3, padding: 1)
        let w = try Tensor(shape: d.weightShape, seed: 1, low: -0.1, high: 0.1)
        let plan = try Conv2DPlan(descriptor: d, weights: w)
        XCTAssertEqual(plan.algorithm, .implicitGEMM)
        // Without Winograd, the automatic choice's path for a 3×3 layer of this depth.
        let nonWinograd: ConvAlgorithm = .directTransposed
        XCTAssertEqual(try plan.algorithm(forInputShape: [1, 256, 28, 30]), .winograd4x4)
        XCTAssertEqual(try plan.algorithm(forInputShape: [1, 256, 14, 14]), .winograd4x4)
        XCTAssertEqual(try plan.algorithm(forInputShape: [1, 256, 13, 20]), .winograd2x2)
        XCTAssertEqual(try plan.algorithm(forInputShape: [1, 256, 7, 7]), .winograd2x2)
        XCTAssertEqual(try plan.algorithm(forInputShape: [1, 256, 6, 40]), nonWinograd)
        let forbidden = try Conv2DPlan(descriptor: d, weights: w, allowWinograd: false)
        XCTAssertEqual(try forbidden.algorithm(forInputShape: [1, 256, 28, 30]), nonWinograd)
        XCTAssertLessThan(forbidden.packedWeightBytes, plan.packedWeightBytes)
        let narrow = Conv2DDescriptor(inChannels: 32, outChannels: 64, kernel: 3, padding: 1)
        XCTAssertFalse(try Conv2DPlan(descriptor: narrow, weights: try Tensor(shape: narrow.weightShape))
            .algorithm(forInputShape: [1, 32, 56, 56]).rawValue.hasPrefix("winograd"))
        // Each automatic variant against the reference, with its bound (SPEC §4); the second variant
        // is built beside the first, and both follow an update of the weights, as does the GEMM path. The smallest channel
        // counts the automatic choice takes Winograd for (C·O ≥ 64·64), O not a multiple of 8, keep
        // the reference cheap (the sanitizer runs of CI repeat it).
        let small = Conv2DDescriptor(inChannels: 64, outChannels: 68, kernel: 3, padding: 1)
        let w1 = try Tensor(shape: small.weightShape, seed: 1, low: -0.1, high: 0.1)
        let w2 = try Tensor(shape: small.weightShape, seed: 3, low: -0.1, high: 0.1)
        let smallPlan = try Conv2DPlan(descriptor: small, weights: w1)
        XCTAssertEqual(try smallPlan.algorithm(forInputShape: [1, 64, 28, 29]), .winograd4x4)
        XCTAssertEqual(try smallPlan.algorithm(forInputShape: [1, 64, 13, 15]), .winograd2x2)
        for (weights, update) in [(w1, false), (w2, true)] {
            if update { try smallPlan.update(weights: w2, bias: nil) }
            // An image under the Winograd crossovers runs the implicit GEMM, whose packing an update
            // refreshes only when it runs.
            for (shape, bound) in [([1, 64, 28, 29], Float(2e-5)), ([1, 64, 13, 15], 2e-6 * Float(9 * 64).squareRoot()),
                                   ([1, 64, 6, 40], 1e-6 * Float(9 * 64).squareRoot())] {
                let x = try Tensor(shape: shape, seed: 2)
                let (yRef, magnitude) = try Reference.conv2dForwardWithMagnitude(input: x, weights: weights, descriptor: small)
                let y = try smallPlan.forward(x)
                var worst: Float = 0
                for i in 0..<y.count { worst = max(worst, abs(y[flat: i] - yRef[flat: i])) }
                XCTAssertLessThanOrEqual(worst / (magnitude.scalars.max() ?? 1), bound, "\(shape) updated: \(update)")
            }
        }
    }
}
