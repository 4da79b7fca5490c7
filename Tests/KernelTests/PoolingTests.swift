import XCTest
import Kernels
import Reference
import TesseraCore

/// The pooling kernels against the references (SPEC §1, §5).
final class PoolingTests: NaNFilledOutputsTestCase {
    func same(_ a: Float, _ b: Float) -> Bool { a == b || (a.isNaN && b.isNaN) }

    /// Random input with a few exact ties, and optionally NaN and ±Inf sprinkled in.
    func input(_ shape: [Int], seed: UInt64, specials: Bool = false, nanEvery: Int? = nil) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        var x = try Tensor(shape: shape, generator: &g)
        for i in 0..<x.count {
            if let k = nanEvery, i % k == 0 { x[flat: i] = .nan; continue }
            let r = g.next() % 97
            if r < 6 { x[flat: i] = 0.5 }                     // ties
            if specials && r == 10 { x[flat: i] = .nan }
            if specials && r == 11 { x[flat: i] = .infinity }
            if specials && r == 12 { x[flat: i] = -.infinity }
        }
        return x
    }

    func checkMax(_ shape: [Int], _ d: Pool2DDescriptor, specials: Bool = false, nanEvery: Int? = nil, threads: Int? = nil,
                  file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try input(shape, seed: UInt64(shape.reduce(1, *)), specials: specials, nanEvery: nanEvery)
        let (y, indices) = try Pooling.maxPool2d(x, d, returnIndices: true, threads: threads)
        let (yValuesOnly, none) = try Pooling.maxPool2d(x, d, threads: threads)
        XCTAssertNil(none)
        let (yRef, argmaxRef) = try Reference.maxPool2dForward(input: x, descriptor: d)
        XCTAssertEqual(y.shape, yRef.shape, file: file, line: line)
        let inPlane = shape[2] * shape[3], outPlane = y.shape[2] * y.shape[3]
        let planeIndices = indices!.planeIndices
        for i in 0..<y.count {
            XCTAssertTrue(same(y[flat: i], yRef[flat: i]), "value \(i) of \(shape) \(d)", file: file, line: line)
            XCTAssertTrue(same(yValuesOnly[flat: i], yRef[flat: i]), "value-only \(i) of \(shape) \(d)", file: file, line: line)
            let global = (i / outPlane) * inPlane + Int(planeIndices[i])
            XCTAssertEqual(global, argmaxRef[i], "arg-max \(i) of \(shape) \(d)", file: file, line: line)
        }
        // Backward: each gradient to its arg-max, overlaps added.
        var g = SeededGenerator(seed: 3)
        let dy = try Tensor(shape: y.shape, generator: &g)
        let dx = try Pooling.maxPool2dBackward(dy, indices: indices!, threads: threads)
        let dxRef = try Reference.maxPool2dBackward(outputGradient: dy, argmax: argmaxRef, inputShape: shape)
        for i in 0..<dx.count { XCTAssertEqual(dx[flat: i], dxRef[flat: i], accuracy: 1e-5, file: file, line: line) }
    }

    func checkAvg(_ shape: [Int], _ d: Pool2DDescriptor, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try input(shape, seed: UInt64(shape.reduce(7, +)))
        let y = try Pooling.avgPool2d(x, d)
        let yRef = try Reference.avgPool2dForward(input: x, descriptor: d)
        // Inputs lie in [-1, 1): the magnitude behind each output is at most 1.
        let bound = 1e-6 * Float(d.windowHeight * d.windowWidth).squareRoot()
        for i in 0..<y.count { XCTAssertEqual(y[flat: i], yRef[flat: i], accuracy: bound, "\(shape) \(d)", file: file, line: line) }
        var g = SeededGenerator(seed: 5)
        let dy = try Tensor(shape: y.shape, generator: &g)
        let dx = try Pooling.avgPool2dBackward(dy, inputShape: shape, d)
        let dxRef = try Reference.avgPool2dBackward(outputGradient: dy, inputShape: shape, descriptor: d)
        for i in 0..<dx.count { XCTAssertEqual(dx[flat: i], dxRef[flat: i], accuracy: 1e-5, "\(shape) \(d)", file: file, line: line) }
    }

    static let windows: [Pool2DDescriptor] = [
        .init(window: 2, stride: 2),
        .init(window: 3, stride: 2, padding: 1),
        .init(window: 3, stride: 1, padding: 1),
        .init(window: 2, stride: 1),
        .init(window: 3, stride: 3),
        .init(windowHeight: 3, windowWidth: 2, strideHeight: 2, strideWidth: 1, padding: .init(top: 1, bottom: 2, left: 0, right: 1)),
        .init(window: 5, stride: 3, padding: 2),
        // The 3×3/2 fast paths with one-sided padding.
        .init(windowHeight: 3, windowWidth: 3, strideHeight: 2, strideWidth: 2, padding: .init(top: 0, bottom: 1, left: 1, right: 0)),
    ]

    func testMaxPoolSweep() throws {
        for d in Self.windows {
            for shape in [[1, 1, 1, 1], [2, 3, 7, 9], [1, 2, 16, 37], [3, 1, 33, 40], [1, 1, 5, 100]] {
                guard (try? PoolGeometry(inputShape: shape, descriptor: d)) != nil else { continue }
                try checkMax(shape, d)
            }
        }
    }

    func testMaxPoolTiesNaNAndInfinities() throws {
        for d in Self.windows {
            try checkMax([2, 2, 19, 41], d, specials: true)
            // Narrow rows (VGG pool5's 14 wide): the groups of 4 outputs, values-only and with indices.
            try checkMax([2, 3, 14, 14], d, specials: true)
            try checkMax([1, 2, 8, 11], d, specials: true)
            // Even heights take the stacked-plane 2×2/2 path: groups of 16 (ow 20) and of 8 (ow 11).
            try checkMax([1, 3, 6, 40], d, specials: true)
            try checkMax([2, 2, 4, 22], d, specials: true)
            // Rows of 144 floats or more: the 2×2/2 kernels prefetch ahead (`PoolTuning`).
            try checkMax([2, 2, 10, 151], d, specials: true)
            try checkMax([1, 3, 9, 144], d, specials: true)
        }
    }

    /// Windows holding two or more NaN: the index is the first NaN's, whatever comes between.
    func testMaxPoolSeveralNaNInAWindow() throws {
        for d in Self.windows {
            for k in [3, 5] {
                try checkMax([1, 2, 6, 40], d, nanEvery: k)
                try checkMax([1, 1, 9, 37], d, nanEvery: k)
            }
        }
    }

    func testAvgPoolSweep() throws {
        for d in Self.windows {
            for include in [false, true] {
                var d = d
                d.countIncludesPadding = include
                for shape in [[1, 1, 1, 1], [2, 3, 7, 9], [1, 2, 16, 37], [3, 1, 33, 40]] {
                    guard (try? PoolGeometry(inputShape: shape, descriptor: d)) != nil else { continue }
                    try checkAvg(shape, d)
                }
            }
        }
    }

    func testGlobalAveragePool() throws {
        // Planes under 16, of exactly 16 and 32, and with a partial last vector (49, 403).
        for shape in [[1, 1, 1, 1], [2, 3, 7, 7], [1, 4, 13, 31], [1, 2, 4, 4], [3, 5, 4, 8], [1, 17, 3, 5]] {
            let x = try input(shape, seed: 11)
            let y = try Pooling.globalAvgPool(x)
            let yRef = try Reference.globalAvgPoolForward(input: x)
            for i in 0..<y.count { XCTAssertEqual(y[flat: i], yRef[flat: i], accuracy: 1e-6) }
            var g = SeededGenerator(seed: 2)
            let dy = try Tensor(shape: y.shape, generator: &g)
            let dx = try Pooling.globalAvgPoolBackward(dy, inputShape: shape)
            let dxRef = try Reference.globalAvgPoolBackward(outputGradient: dy, inputShape: shape)
            for i in 0..<dx.count { XCTAssertEqual(dx[flat: i], dxRef[flat: i], accuracy: 1e-7) }
        }
    }

    /// VGG-16's five pools and ResNet-50's stem max-pool and global average pool, full size, batch 1.
    func testNetworkPoolingShapes() throws {
        let vgg: [[Int]] = [[1, 64, 224, 224], [1, 128, 112, 112], [1, 256, 56, 56], [1, 512, 28, 28], [1, 512, 14, 14]]
        for shape in vgg { try checkMax(shape, .init(window: 2, stride: 2)) }
        try checkMax([1, 64, 112, 112], .init(window: 3, stride: 2, padding: 1))
        let x = try input([1, 2048, 7, 7], seed: 1)
        let y = try Pooling.globalAvgPool(x)
        let yRef = try Reference.globalAvgPoolForward(input: x)
        for i in 0..<y.count { XCTAssertEqual(y[flat: i], yRef[flat: i], accuracy: 1e-6) }
    }

    func testSameResultsAtAnyThreadCount() throws {
        let x = try input([2, 64, 56, 56], seed: 9)
        let d = Pool2DDescriptor(window: 3, stride: 2, padding: 1)
        let one = try Pooling.maxPool2d(x, d, returnIndices: true, threads: 1)
        let avgOne = try Pooling.avgPool2d(x, d, threads: 1)
        for threads in [2, 5] {
            let other = try Pooling.maxPool2d(x, d, returnIndices: true, threads: threads)
            XCTAssertEqual(one.output.scalars, other.output.scalars)
            XCTAssertEqual(one.indices!.planeIndices, other.indices!.planeIndices)
            XCTAssertEqual(avgOne.scalars, try Pooling.avgPool2d(x, d, threads: threads).scalars)
        }
    }

    func testBadShapesThrow() {
        let x = try! Tensor(shape: [1, 1, 2, 2])
        XCTAssertThrowsError(try Pooling.maxPool2d(x, .init(window: 3, stride: 1)))
        XCTAssertThrowsError(try Pooling.maxPool2d(x, .init(window: 2, stride: 1, padding: 2)))
        XCTAssertThrowsError(try Pooling.avgPool2d(try! Tensor(shape: [4, 4]), .init(window: 2, stride: 2)))
        XCTAssertThrowsError(try Pooling.globalAvgPoolBackward(try! Tensor(shape: [1, 2, 1, 1]), inputShape: [1, 3, 4, 4]))
    }
}
