import XCTest
import TesseraCore
import Reference

/// The worked examples of SEEDS-DIGEST §3, reproduced exactly by the references.
final class WorkedExampleTests: XCTestCase {
    // T2's 3×4 input and 2×2 all-ones kernel.
    let t2Input: [Float] = [1, 2, 3, 1, 4, 5, 6, 1, 7, 8, 9, 1]

    func testT2ValidConvolution() throws {
        let x = try Tensor(shape: [1, 1, 3, 4], values: t2Input)
        let w = try Tensor(shape: [1, 1, 2, 2], repeating: 1)
        let y = try Reference.conv2dForward(input: x, weights: w, descriptor: .init(inChannels: 1, outChannels: 1, kernel: 2))
        XCTAssertEqual(y.shape, [1, 1, 2, 3])
        XCTAssertEqual(y.scalars, [12, 16, 11, 24, 28, 17])
    }

    func testT3Im2colMatchesMatlabUpToOrdering() throws {
        // Matlab's im2col(A,[2 2]) is column-first in both kernel position and output position;
        // ours ([002] img2col) is row-major in both. The same entries, re-indexed.
        let matlabB: [[Float]] = [[1, 4, 2, 5, 3, 6], [4, 7, 5, 8, 6, 9], [2, 5, 3, 6, 1, 1], [5, 8, 6, 9, 1, 1]]
        let image = try Tensor(shape: [1, 3, 4], values: t2Input)
        let cols = try Reference.im2col(image: image, descriptor: .init(inChannels: 1, outChannels: 1, kernel: 2))
        XCTAssertEqual(cols.shape, [4, 6])
        let outH = 2
        for qcf in 0..<4 {
            for pcf in 0..<6 {
                let (ki, kj) = (qcf % 2, qcf / 2)            // q = i + H·j
                let (oi, oj) = (pcf % outH, pcf / outH)      // p = i' + H'·j'
                XCTAssertEqual(cols[ki * 2 + kj, oi * 3 + oj], matlabB[qcf][pcf], "B[\(qcf)][\(pcf)]")
            }
        }
        // Bᵀ·vec(kernel) = (12, 24, 16, 28, 11, 17): T2's output, column-first.
        let bt1 = (0..<6).map { p in (0..<4).reduce(Float(0)) { $0 + matlabB[$1][p] } }
        XCTAssertEqual(bt1, [12, 24, 16, 28, 11, 17])
    }

    func testT6OverlappingMaxPoolForwardAndBackward() throws {
        let x = try Tensor(shape: [1, 1, 3, 4], values: t2Input)
        let d = Pool2DDescriptor(window: 2, stride: 1)
        let (y, argmax) = try Reference.maxPool2dForward(input: x, descriptor: d)
        XCTAssertEqual(y.scalars, [5, 6, 6, 8, 9, 9])
        let dy = try Tensor(shape: [1, 1, 2, 3], values: [1, 10, 100, 1000, 10000, 100000])
        let dx = try Reference.maxPool2dBackward(outputGradient: dy, argmax: argmax, inputShape: x.shape)
        // 9 at (2,2) is the max of windows (1,1) and (1,2): dX(2,2) = dY(1,1) + dY(1,2).
        XCTAssertEqual(dx[0, 0, 2, 2], 10000 + 100000)
        // 6 at (1,2) wins windows (0,1) and (0,2); 5 at (1,1) wins (0,0); 8 at (2,1) wins (1,0).
        XCTAssertEqual(dx[0, 0, 1, 2], 10 + 100)
        XCTAssertEqual(dx[0, 0, 1, 1], 1)
        XCTAssertEqual(dx[0, 0, 2, 1], 1000)
        XCTAssertEqual(dx.scalars.reduce(0, +), dy.scalars.reduce(0, +))
    }

    func testT6bNonOverlappingMaxPoolBackward() throws {
        let x = try Tensor(shape: [1, 1, 2, 2], values: [1, 7, 3, 2])
        let (_, argmax) = try Reference.maxPool2dForward(input: x, descriptor: .init(window: 2, stride: 2))
        let dx = try Reference.maxPool2dBackward(
            outputGradient: try Tensor(shape: [1, 1, 1, 1], values: [5]), argmax: argmax, inputShape: x.shape)
        XCTAssertEqual(dx.scalars, [0, 5, 0, 0])
    }

    func testT7MovingAverageAs1xNImages() throws {
        let x = try Tensor(shape: [1, 1, 1, 9], values: [1, 2, 3, 1, 2, 3, 1, 2, 3])
        let h = try Tensor(shape: [1, 1, 1, 3], repeating: 1.0 / 3.0)
        func run(pad: Int, stride: Int) throws -> [Float] {
            let d = Conv2DDescriptor(inChannels: 1, outChannels: 1, kernelHeight: 1, kernelWidth: 3,
                                     strideWidth: stride, padding: Padding2D(top: 0, bottom: 0, left: pad, right: pad))
            return try Reference.conv2dForward(input: x, weights: h, descriptor: d).scalars
        }
        func assertClose(_ a: [Float], _ b: [Double], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(a.count, b.count, file: file, line: line)
            for (u, v) in zip(a, b) { XCTAssertEqual(Double(u), v, accuracy: 1e-6, file: file, line: line) }
        }
        assertClose(try run(pad: 2, stride: 1), [1.0 / 3, 1, 2, 2, 2, 2, 2, 2, 2, 5.0 / 3, 1])
        assertClose(try run(pad: 0, stride: 1), [2, 2, 2, 2, 2, 2, 2])
        assertClose(try run(pad: 1, stride: 2), [1, 2, 2, 2, 5.0 / 3])
    }

    func testT9TwoChannelStride2Im2col() throws {
        let fm0: [Float] = [1, 2, 1, 2, 3, 4, 2, 2, 3, 1, 2, 0, 1, 1, 2, 1, 0, 1, 2, 1, 2, 1, 1, 3]
        let fm1: [Float] = [0, 2, 3, 2, 0, 1, 1, 0, 1, 1, 2, 0, 2, 0, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2]
        let image = try Tensor(shape: [2, 4, 6], values: fm0 + fm1)
        let cols = try Reference.im2col(image: image, descriptor: .init(inChannels: 2, outChannels: 1, kernel: 2, stride: 2))
        let expected: [Float] = [1, 1, 3, 1, 2, 0, 2, 2, 4, 1, 1, 1, 2, 3, 2, 2, 2, 1, 2, 1, 0, 1, 1, 3,
                                 0, 3, 0, 2, 1, 1, 2, 2, 1, 0, 1, 1, 1, 1, 2, 1, 2, 1, 0, 1, 0, 1, 1, 2]
        XCTAssertEqual(cols.shape, [8, 6])
        XCTAssertEqual(cols.scalars, expected)
    }

    func testT5SamePadding() {
        XCTAssertEqual(Padding2D.same(kernelHeight: 2, kernelWidth: 2), Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual(Padding2D.same(kernelHeight: 3, kernelWidth: 3), Padding2D(1))
        XCTAssertEqual(Padding2D.same(kernelHeight: 4, kernelWidth: 5), Padding2D(top: 1, bottom: 2, left: 2, right: 2))
        for k in 1...7 {
            let out = try? slidingWindowOutputExtent(input: 13, kernel: k, stride: 1, padBegin: (k - 1) / 2, padEnd: k / 2)
            XCTAssertEqual(out, 13)
        }
    }

    /// T17: the backward identities, on the multi-channel case of [000] (5×6×3 input, 3×2 kernel, 4 filters).
    func testT17BackwardIdentities() throws {
        var g = SeededGenerator(seed: 17)
        let x = try Tensor(shape: [1, 3, 5, 6], generator: &g)
        let w = try Tensor(shape: [4, 3, 3, 2], generator: &g)
        let d = Conv2DDescriptor(inChannels: 3, outChannels: 4, kernelHeight: 3, kernelWidth: 2)
        let dy = try Tensor(shape: [1, 4, 3, 5], generator: &g)
        let dx = try Reference.conv2dBackwardData(outputGradient: dy, weights: w, inputShape: x.shape, descriptor: d)
        let dw = try Reference.conv2dBackwardFilter(input: x, outputGradient: dy, descriptor: d)
        let db = try Reference.conv2dBackwardBias(outputGradient: dy)

        // dX = full true convolution of dY with W: dX[c,i,j] = Σ_{o,u,v} dY[o, i−u, j−v]·W[o,c,u,v].
        for c in 0..<3 { for i in 0..<5 { for j in 0..<6 {
            var s = 0.0
            for o in 0..<4 { for u in 0..<3 { for v in 0..<2 where (0..<3).contains(i - u) && (0..<5).contains(j - v) {
                s += Double(dy[0, o, i - u, j - v]) * Double(w[o, c, u, v])
            } } }
            XCTAssertEqual(Double(dx[0, c, i, j]), s, accuracy: 1e-5)
        } } }
        // [000]: dF = φ(x)ᵀ·dY and dX = col2im(Fᵀ·dY) in img2col orientation (X = im2col, Y = W·X).
        let image = try x.reshaped([3, 5, 6])
        let cols = try Reference.im2col(image: image, descriptor: d)          // 18 × 15
        for o in 0..<4 { for q in 0..<18 {
            var s = 0.0
            for p in 0..<15 { s += Double(cols[q, p]) * Double(dy[flat: o * 15 + p]) }
            XCTAssertEqual(Double(dw[flat: o * 18 + q]), s, accuracy: 1e-5)
        } }
        var gradCols = try Tensor(shape: [18, 15])
        for q in 0..<18 { for p in 0..<15 {
            var s = 0.0
            for o in 0..<4 { s += Double(w[flat: o * 18 + q]) * Double(dy[flat: o * 15 + p]) }
            gradCols[q, p] = Float(s)
        } }
        let dx2 = try Reference.col2im(columns: gradCols, imageShape: [3, 5, 6], descriptor: d)
        for i in 0..<dx.count { XCTAssertEqual(dx[flat: i], dx2[flat: i], accuracy: 1e-5) }
        // db = Σ δ.
        for o in 0..<4 {
            XCTAssertEqual(Double(db[o]), (0..<15).reduce(0.0) { $0 + Double(dy[flat: o * 15 + $1]) }, accuracy: 1e-5)
        }
    }
}
