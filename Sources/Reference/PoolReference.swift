import TesseraCore

extension Reference {
    /// Max pooling forward (SEEDS-DIGEST O8, generalized to any window, stride and padding; SPEC §1).
    /// Padding never wins; ties go to the first element in row-major scan order; NaN propagates.
    /// - Returns: the output and, for each output, the flat index into `x` of the element it took.
    public static func maxPool2dForward(input x: Tensor, descriptor: Pool2DDescriptor) throws -> (output: Tensor, argmax: [Int]) {
        let g = try PoolGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Reference.maxPool2dForward")
        let d = descriptor
        var y = try Tensor(shape: g.outputShape)
        var argmax = [Int](repeating: -1, count: y.count)
        for n in 0..<g.batch {
            for c in 0..<g.channels {
                for oi in 0..<g.outHeight {
                    for oj in 0..<g.outWidth {
                        var best = Float.nan, bestIndex = -1
                        for ki in 0..<d.windowHeight {
                            let ii = oi * d.strideHeight - d.padding.top + ki
                            if ii < 0 || ii >= g.inHeight { continue }
                            for kj in 0..<d.windowWidth {
                                let jj = oj * d.strideWidth - d.padding.left + kj
                                if jj < 0 || jj >= g.inWidth { continue }
                                let v = x[n, c, ii, jj]
                                // First element, a strictly larger one, or the first NaN (which then sticks).
                                if bestIndex < 0 || (!best.isNaN && (v > best || v.isNaN)) {
                                    best = v
                                    bestIndex = ((n * g.channels + c) * g.inHeight + ii) * g.inWidth + jj
                                }
                            }
                        }
                        y[n, c, oi, oj] = best
                        argmax[((n * g.channels + c) * g.outHeight + oi) * g.outWidth + oj] = bestIndex
                    }
                }
            }
        }
        return (y, argmax)
    }

    /// Max pooling backward (SEEDS-DIGEST O8, T6): each dy goes to its window's arg-max; overlapping windows add.
    public static func maxPool2dBackward(outputGradient dy: Tensor, argmax: [Int], inputShape: [Int]) throws -> Tensor {
        guard argmax.count == dy.count else {
            throw TesseraError.invalidShape(operation: "Reference.maxPool2dBackward", shape: dy.shape,
                                            expected: "one arg-max per output gradient (\(argmax.count))")
        }
        var acc = [Double](repeating: 0, count: try Tensor.elementCount(of: inputShape))
        for i in 0..<dy.count { acc[argmax[i]] += Double(dy[flat: i]) }
        return try Tensor(shape: inputShape, values: acc.map { Float($0) })
    }

    /// The divisor of one average-pooling window: the in-bounds count, or the whole window
    /// when `countIncludesPadding` (SPEC §1).
    static func averageDivisor(_ g: PoolGeometry, _ oi: Int, _ oj: Int) -> Double {
        let d = g.descriptor
        if d.countIncludesPadding { return Double(d.windowHeight * d.windowWidth) }
        let i0 = oi * d.strideHeight - d.padding.top, j0 = oj * d.strideWidth - d.padding.left
        let rows = min(i0 + d.windowHeight, g.inHeight) - max(i0, 0)
        let cols = min(j0 + d.windowWidth, g.inWidth) - max(j0, 0)
        return Double(rows * cols)
    }

    /// Average pooling forward (SEEDS-DIGEST O9): the mean of each window, padding excluded
    /// from the count unless `countIncludesPadding`.
    public static func avgPool2dForward(input x: Tensor, descriptor: Pool2DDescriptor) throws -> Tensor {
        let g = try PoolGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Reference.avgPool2dForward")
        let d = descriptor
        var y = try Tensor(shape: g.outputShape)
        for n in 0..<g.batch {
            for c in 0..<g.channels {
                for oi in 0..<g.outHeight {
                    for oj in 0..<g.outWidth {
                        var sum = 0.0
                        for ki in 0..<d.windowHeight {
                            let ii = oi * d.strideHeight - d.padding.top + ki
                            if ii < 0 || ii >= g.inHeight { continue }
                            for kj in 0..<d.windowWidth {
                                let jj = oj * d.strideWidth - d.padding.left + kj
                                if jj < 0 || jj >= g.inWidth { continue }
                                sum += Double(x[n, c, ii, jj])
                            }
                        }
                        y[n, c, oi, oj] = Float(sum / averageDivisor(g, oi, oj))
                    }
                }
            }
        }
        return y
    }

    /// Average pooling backward: every in-bounds input of a window receives dy / divisor; overlaps add.
    public static func avgPool2dBackward(outputGradient dy: Tensor, inputShape: [Int], descriptor: Pool2DDescriptor) throws -> Tensor {
        let g = try PoolGeometry(inputShape: inputShape, descriptor: descriptor, operation: "Reference.avgPool2dBackward")
        try ConvGeometry.check(dy.shape, equals: g.outputShape, "output gradient", "Reference.avgPool2dBackward")
        let d = descriptor
        var acc = [Double](repeating: 0, count: inputShape.reduce(1, *))
        for n in 0..<g.batch {
            for c in 0..<g.channels {
                for oi in 0..<g.outHeight {
                    for oj in 0..<g.outWidth {
                        let share = Double(dy[n, c, oi, oj]) / averageDivisor(g, oi, oj)
                        for ki in 0..<d.windowHeight {
                            let ii = oi * d.strideHeight - d.padding.top + ki
                            if ii < 0 || ii >= g.inHeight { continue }
                            for kj in 0..<d.windowWidth {
                                let jj = oj * d.strideWidth - d.padding.left + kj
                                if jj < 0 || jj >= g.inWidth { continue }
                                acc[((n * g.channels + c) * g.inHeight + ii) * g.inWidth + jj] += share
                            }
                        }
                    }
                }
            }
        }
        return try Tensor(shape: inputShape, values: acc.map { Float($0) })
    }

    /// Global average pooling (SEEDS-DIGEST O9): N×C×H×W → N×C×1×1.
    public static func globalAvgPoolForward(input x: Tensor) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("Reference.globalAvgPoolForward")
        var y = try Tensor(shape: [n, c, 1, 1])
        for b in 0..<n {
            for k in 0..<c {
                var sum = 0.0
                for i in 0..<h { for j in 0..<w { sum += Double(x[b, k, i, j]) } }
                y[b, k, 0, 0] = Float(sum / Double(h * w))
            }
        }
        return y
    }

    /// Global average pooling backward: dy / (H·W) to every input of the plane.
    public static func globalAvgPoolBackward(outputGradient dy: Tensor, inputShape: [Int]) throws -> Tensor {
        guard inputShape.count == 4, dy.shape == [inputShape[0], inputShape[1], 1, 1] else {
            throw TesseraError.invalidShape(operation: "Reference.globalAvgPoolBackward", shape: dy.shape,
                                            expected: "N×C×1×1 for input \(inputShape)")
        }
        var dx = try Tensor(shape: inputShape)
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        for b in 0..<n {
            for k in 0..<c {
                let share = Float(Double(dy[b, k, 0, 0]) / Double(h * w))
                for i in 0..<h { for j in 0..<w { dx[b, k, i, j] = share } }
            }
        }
        return dx
    }
}
