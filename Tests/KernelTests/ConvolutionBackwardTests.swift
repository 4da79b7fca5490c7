import XCTest
import Kernels
import Reference
import Scheduler
import TesseraCore

/// Convolution backward-data, backward-filter and backward-bias against the references, with
/// SPEC §4's normalized error: the largest error over the largest Σ|a·b| behind any gradient element.
final class ConvolutionBackwardTests: NaNFilledOutputsTestCase {
    static func absolute(_ t: Tensor) throws -> Tensor { try Tensor(shape: t.shape, values: t.scalars.map { abs($0) }) }

    static func normalizedError(_ y: Tensor, _ reference: Tensor, magnitude: Tensor) -> Float {
        var worst: Float = 0
        for i in 0..<y.count { worst = max(worst, abs(y[flat: i] - reference[flat: i])) }
        if y.scalars.contains(where: { $0.isNaN }) { return .nan }
        return worst / max(magnitude.scalars.max() ?? 1, .leastNormalMagnitude)
    }

    func check(_ shape: [Int], _ d: Conv2DDescriptor, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: UInt64(shape.reduce(7, *) + d.outChannels * 13 + d.strideHeight))
        let g = try ConvGeometry(inputShape: shape, descriptor: d)
        let x = try Tensor(shape: shape, generator: &rng)
        let w = try Tensor(shape: d.weightShape, generator: &rng)
        let dy = try Tensor(shape: g.outputShape, generator: &rng)
        let dxRef = try Reference.conv2dBackwardData(outputGradient: dy, weights: w, inputShape: shape, descriptor: d)
        let dxMagnitude = try Reference.conv2dBackwardData(outputGradient: Self.absolute(dy), weights: Self.absolute(w),
                                                           inputShape: shape, descriptor: d)
        let dwRef = try Reference.conv2dBackwardFilter(input: x, outputGradient: dy, descriptor: d)
        let dwMagnitude = try Reference.conv2dBackwardFilter(input: Self.absolute(x), outputGradient: Self.absolute(dy), descriptor: d)
        let dbRef = try Reference.conv2dBackwardBias(outputGradient: dy)
        let dbMagnitude = try Reference.conv2dBackwardBias(outputGradient: Self.absolute(dy))
        // Reduction lengths: dX sums over O/G·kh·kw products, dW over N·OH·OW, db over N·OH·OW.
        let dxBound = 1e-6 * Float(g.groupOutChannels * d.kernelHeight * d.kernelWidth).squareRoot()
        let dwBound = 1e-6 * Float(g.batch * g.outHeight * g.outWidth).squareRoot()

        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            GEMMMicroKernel.active = kernel
            defer { GEMMMicroKernel.active = GEMMMicroKernel.best }
            var algorithms: [ConvBackwardDataAlgorithm] = [.gemmCol2im]
            let automatic = try Conv2DBackwardDataPlan(descriptor: d, weights: w)
            if automatic.algorithm == .rotatedKernelConvolution { algorithms.append(.rotatedKernelConvolution) }
            for a in algorithms {
                let plan = try Conv2DBackwardDataPlan(descriptor: d, weights: w, algorithm: a)
                let dx = try plan.backward(outputGradient: dy, inputShape: shape)
                XCTAssertEqual(dx.shape, shape, file: file, line: line)
                XCTAssertLessThanOrEqual(Self.normalizedError(dx, dxRef, magnitude: dxMagnitude), dxBound,
                                         "dX \(a) \(kernel) \(shape) \(d)", file: file, line: line)
            }
            // 3×3 stride-1 layers with C·O ≥ 64·64 and outputs from 7×7 take Winograd F(2×2) under the
            // 8-row AVX-512 kernel (its panels are what the ∂M transform writes): 2× the bound.
            let winograd = kernel == .avx512_8x32 && d.kernelHeight == 3 && d.kernelWidth == 3 && d.strideHeight == 1 && d.strideWidth == 1
                && d.dilationHeight == 1 && d.dilationWidth == 1 && d.groups == 1
                && d.inChannels * d.outChannels >= 64 * 64 && min(g.outHeight, g.outWidth) >= 7
            for allowWinograd in [true, false] {
                XCTAssertEqual(try ConvolutionBackward.filterUsesWinograd(inputShape: shape, descriptor: d, allowWinograd: allowWinograd),
                               winograd && allowWinograd, file: file, line: line)
                let dw = try ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: d, allowWinograd: allowWinograd)
                XCTAssertEqual(dw.shape, d.weightShape, file: file, line: line)
                XCTAssertLessThanOrEqual(Self.normalizedError(dw, dwRef, magnitude: dwMagnitude),
                                         (winograd && allowWinograd ? 2 : 1) * dwBound,
                                         "dW \(kernel) \(shape) \(d) winograd \(winograd && allowWinograd)", file: file, line: line)
            }
            let db = try ConvolutionBackward.bias(outputGradient: dy)
            XCTAssertLessThanOrEqual(Self.normalizedError(db, dbRef, magnitude: dbMagnitude), dwBound,
                                     "db \(shape) \(d)", file: file, line: line)
        }
    }

    /// dW through Winograd F(2×2): batch 1 and 3, odd sizes (partial tiles), asymmetric padding,
    /// channel counts that are not multiples of 8, each also through the GEMM path.
    func testWinogradFilterGradient() throws {
        try check([2, 64, 9, 10], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1))
        try check([1, 64, 13, 8], .init(inChannels: 64, outChannels: 72, kernelHeight: 3, kernelWidth: 3,
                                         padding: .init(top: 2, bottom: 0, left: 1, right: 2)))
        try check([3, 66, 9, 9], .init(inChannels: 66, outChannels: 65, kernel: 3))
        try check([3, 16, 9, 11], .init(inChannels: 16, outChannels: 264, kernel: 3, padding: 1))   // two output-channel groups, two ranges of 2 and 1 images
        try check([1, 64, 47, 50], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1))   // two blocks of tile rows, two ranges
    }

    /// Winograd dW with output-channel groups and tile-row ranges (batch 3) at 1, 2 and 5 threads.
    func testWinogradFilterGradientBitIdenticalAcrossThreadCounts() throws {
        let d = Conv2DDescriptor(inChannels: 16, outChannels: 264, kernel: 3, padding: 1)
        let shape = [3, 16, 12, 13]
        let g = try ConvGeometry(inputShape: shape, descriptor: d)
        XCTAssertEqual(try ConvolutionBackward.filterUsesWinograd(inputShape: shape, descriptor: d), GEMMMicroKernel.best == .avx512_8x32)
        let x = try Tensor(shape: shape, seed: 4), dy = try Tensor(shape: g.outputShape, seed: 5)
        let dw = try [1, 2, 5].map { try ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: d, threads: $0).scalars }
        XCTAssertEqual(dw[0], dw[1])
        XCTAssertEqual(dw[0], dw[2])
    }

    func testSweptShapes() throws {
        try check([1, 3, 7, 9], .init(inChannels: 3, outChannels: 5, kernel: 3, padding: 1))
        try check([3, 5, 6, 5], .init(inChannels: 5, outChannels: 7, kernel: 3, stride: 2, padding: 1))
        try check([2, 4, 8, 7], .init(inChannels: 4, outChannels: 6, kernelHeight: 3, kernelWidth: 2,
                                      padding: .init(top: 2, bottom: 0, left: 1, right: 3)))
        try check([1, 4, 9, 9], .init(inChannels: 4, outChannels: 4, kernel: 3, padding: 2, dilation: 2))
        try check([2, 6, 5, 5], .init(inChannels: 6, outChannels: 4, kernel: 3, padding: 1, groups: 2))
        try check([1, 8, 6, 6], .init(inChannels: 8, outChannels: 8, kernel: 3, padding: 1, groups: 8))
        try check([1, 1, 1, 1], .init(inChannels: 1, outChannels: 3, kernel: 1))
        try check([2, 13, 5, 3], .init(inChannels: 13, outChannels: 17, kernel: 1))
        try check([1, 16, 7, 7], .init(inChannels: 16, outChannels: 9, kernel: 1, stride: 2))
        try check([2, 4, 37, 45], .init(inChannels: 4, outChannels: 12, kernel: 3, stride: 2, padding: 1))
        try check([1, 3, 31, 70], .init(inChannels: 3, outChannels: 8, kernel: 5, stride: 3, padding: 2))
        try check([1, 2, 5, 5], .init(inChannels: 2, outChannels: 3, kernel: 1, padding: 1))   // padding > k−1
        try check([2, 1, 12, 12], .init(inChannels: 1, outChannels: 4, kernel: 5))            // T20's first layer, valid
    }

    /// VGG-16 and ResNet-50 layer shapes at reduced spatial size (wide enough rows for the direct paths).
    func testNetworkLayerShapes() throws {
        try check([1, 64, 6, 34], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1))
        try check([1, 128, 4, 33], .init(inChannels: 128, outChannels: 256, kernel: 3, padding: 1))
        try check([1, 3, 8, 35], .init(inChannels: 3, outChannels: 64, kernel: 3, padding: 1))
        try check([2, 3, 15, 15], .init(inChannels: 3, outChannels: 16, kernel: 7, stride: 2, padding: 3))
        try check([1, 64, 7, 7], .init(inChannels: 64, outChannels: 256, kernel: 1))
        try check([1, 256, 8, 8], .init(inChannels: 256, outChannels: 128, kernel: 1, stride: 2))
    }

    func testBitIdenticalAcrossThreadCounts() throws {
        let d = Conv2DDescriptor(inChannels: 32, outChannels: 48, kernel: 3, stride: 2, padding: 1)
        let shape = [3, 32, 40, 38]
        let g = try ConvGeometry(inputShape: shape, descriptor: d)
        let x = try Tensor(shape: shape, seed: 1), w = try Tensor(shape: d.weightShape, seed: 2)
        let dy = try Tensor(shape: g.outputShape, seed: 3)
        let plan = try Conv2DBackwardDataPlan(descriptor: d, weights: w)
        var results: [[[Float]]] = []
        for t in [1, 2, 5] {
            results.append([
                try plan.backward(outputGradient: dy, inputShape: shape, threads: t).scalars,
                try ConvolutionBackward.filter(input: x, outputGradient: dy, descriptor: d, threads: t).scalars,
                try ConvolutionBackward.bias(outputGradient: dy, threads: t).scalars,
            ])
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    func testBadShapesThrow() throws {
        let d = Conv2DDescriptor(inChannels: 4, outChannels: 6, kernel: 3, padding: 1)
        let w = try Tensor(shape: d.weightShape)
        let plan = try Conv2DBackwardDataPlan(descriptor: d, weights: w)
        XCTAssertThrowsError(try plan.backward(outputGradient: try Tensor(shape: [1, 6, 5, 4]), inputShape: [1, 4, 5, 5]))
        XCTAssertThrowsError(try plan.backward(outputGradient: try Tensor(shape: [1, 6, 5, 5]), inputShape: [1, 3, 5, 5]))
        XCTAssertThrowsError(try ConvolutionBackward.filter(input: try Tensor(shape: [1, 4, 5, 5]),
                                                            outputGradient: try Tensor(shape: [2, 6, 5, 5]), descriptor: d))
        XCTAssertThrowsError(try Conv2DBackwardDataPlan(descriptor: d, weights: try Tensor(shape: [6, 4, 3, 2])))
        let strided = Conv2DDescriptor(inChannels: 4, outChannels: 6, kernel: 3, stride: 2)
        XCTAssertThrowsError(try Conv2DBackwardDataPlan(descriptor: strided, weights: w, algorithm: .rotatedKernelConvolution))
        XCTAssertThrowsError(try ConvolutionBackward.bias(outputGradient: try Tensor(shape: [6])))
    }

    /// `update(weights:)` re-packs in place: the plans then compute exactly what fresh plans compute.
    func testUpdatedPlansMatchFreshPlans() throws {
        for (shape, d) in [([2, 6, 9, 35], Conv2DDescriptor(inChannels: 6, outChannels: 8, kernel: 3, padding: 1)),
                           ([1, 4, 9, 9], Conv2DDescriptor(inChannels: 4, outChannels: 6, kernel: 3, stride: 2, padding: 1, groups: 2))] {
            let g = try ConvGeometry(inputShape: shape, descriptor: d)
            let x = try Tensor(shape: shape, seed: 1), dy = try Tensor(shape: g.outputShape, seed: 2)
            let w1 = try Tensor(shape: d.weightShape, seed: 3), w2 = try Tensor(shape: d.weightShape, seed: 4)
            let b2 = try Tensor(shape: [d.outChannels], seed: 5)
            let forward = try Conv2DPlan(descriptor: d, weights: w1, relu: true)
            try forward.update(weights: w2, bias: b2)
            XCTAssertEqual(try forward.forward(x).scalars,
                           try Conv2DPlan(descriptor: d, weights: w2, bias: b2, relu: true).forward(x).scalars, "\(d)")
            if d.groups == 1 && d.strideHeight == 1 {
                // Winograd's transformed weights are refreshed too.
                let winograd = try Conv2DPlan(descriptor: d, weights: w1, algorithm: .winograd4x4)
                try winograd.update(weights: w2, bias: b2)
                XCTAssertEqual(try winograd.forward(x).scalars,
                               try Conv2DPlan(descriptor: d, weights: w2, bias: b2, algorithm: .winograd4x4).forward(x).scalars)
            }
            try forward.update(weights: w1, bias: nil)
            XCTAssertEqual(try forward.forward(x).scalars, try Conv2DPlan(descriptor: d, weights: w1, relu: true).forward(x).scalars)
            for a in ConvBackwardDataAlgorithm.allCases where a == .gemmCol2im || d.strideHeight == 1 {
                let back = try Conv2DBackwardDataPlan(descriptor: d, weights: w1, algorithm: a)
                try back.update(weights: w2)
                XCTAssertEqual(try back.backward(outputGradient: dy, inputShape: shape).scalars,
                               try Conv2DBackwardDataPlan(descriptor: d, weights: w2, algorithm: a)
                                   .backward(outputGradient: dy, inputShape: shape).scalars, "\(a)")
            }
            XCTAssertThrowsError(try forward.update(weights: try Tensor(shape: [1, 1, 1, 1]), bias: nil))
        }
    }
}
