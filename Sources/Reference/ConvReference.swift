import TesseraCore

extension Reference {
    /// Convolution forward (cross-correlation, SEEDS-DIGEST O2 eq.15 with stride, padding,
    /// dilation and groups): y[n,o,i',j'] = b[o] + Σ_{c,i,j} w[o,c,i,j] · x[n, g·C/G + c, s·i' − pt + d·i, s·j' − pl + d·j],
    /// where g is o's group and out-of-range x reads as 0.
    public static func conv2dForward(
        input x: Tensor, weights w: Tensor, bias: Tensor? = nil, descriptor: Conv2DDescriptor, relu: Bool = false
    ) throws -> Tensor {
        try conv2dForwardWithMagnitude(input: x, weights: w, bias: bias, descriptor: descriptor, relu: relu).output
    }

    /// `conv2dForward`, also returning Σ|w·x| + |b| behind each output: SPEC §4's error normalizer.
    public static func conv2dForwardWithMagnitude(
        input x: Tensor, weights w: Tensor, bias: Tensor? = nil, descriptor: Conv2DDescriptor, relu: Bool = false
    ) throws -> (output: Tensor, magnitude: Tensor) {
        let g = try ConvGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Reference.conv2dForward")
        try ConvGeometry.check(w.shape, equals: g.weightShape, "weights", "Reference.conv2dForward")
        if let bias { try ConvGeometry.check(bias.shape, equals: [g.outChannels], "bias", "Reference.conv2dForward") }
        var y = try Tensor(shape: g.outputShape)
        var mag = try Tensor(shape: g.outputShape)
        for n in 0..<g.batch {
            for o in 0..<g.outChannels {
                for oi in 0..<g.outHeight {
                    for oj in 0..<g.outWidth {
                        var (sum, abs) = conv2dPoint(input: x, weights: w, bias: bias, geometry: g, n: n, o: o, oi: oi, oj: oj)
                        if relu, sum < 0 { sum = 0 }
                        y[n, o, oi, oj] = Float(sum)
                        mag[n, o, oi, oj] = Float(abs)
                    }
                }
            }
        }
        return (y, mag)
    }

    /// One output of `conv2dForward` before ReLU, in Double, with its magnitude Σ|w·x| + |b|.
    /// Bench spot-checks whole network layers with it.
    public static func conv2dPoint(
        input x: Tensor, weights w: Tensor, bias: Tensor?, geometry g: ConvGeometry, n: Int, o: Int, oi: Int, oj: Int
    ) -> (value: Double, magnitude: Double) {
        let cig = g.groupInChannels, group = o / g.groupOutChannels
        var sum = 0.0, abs = 0.0
        if let bias { sum = Double(bias[o]); abs = Swift.abs(sum) }
        for c in 0..<cig {
            for ki in 0..<g.kernelHeight {
                let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                if ii < 0 || ii >= g.inHeight { continue }
                for kj in 0..<g.kernelWidth {
                    let jj = oj * g.strideWidth - g.padding.left + kj * g.dilationWidth
                    if jj < 0 || jj >= g.inWidth { continue }
                    let p = Double(w[o, c, ki, kj]) * Double(x[n, group * cig + c, ii, jj])
                    sum += p
                    abs += Swift.abs(p)
                }
            }
        }
        return (sum, abs)
    }

    /// Convolution backward-data (SEEDS-DIGEST O4, T17b): every product of the forward pass
    /// sends dy·w back to the input element it read; overlapping windows add.
    public static func conv2dBackwardData(
        outputGradient dy: Tensor, weights w: Tensor, inputShape: [Int], descriptor: Conv2DDescriptor
    ) throws -> Tensor {
        let g = try ConvGeometry(inputShape: inputShape, descriptor: descriptor, operation: "Reference.conv2dBackwardData")
        try ConvGeometry.check(w.shape, equals: g.weightShape, "weights", "Reference.conv2dBackwardData")
        try ConvGeometry.check(dy.shape, equals: g.outputShape, "output gradient", "Reference.conv2dBackwardData")
        var acc = [Double](repeating: 0, count: g.inputShape.reduce(1, *))
        let cig = g.groupInChannels, cog = g.groupOutChannels
        for n in 0..<g.batch {
            for o in 0..<g.outChannels {
                let group = o / cog
                for oi in 0..<g.outHeight {
                    for oj in 0..<g.outWidth {
                        let d = Double(dy[n, o, oi, oj])
                        for c in 0..<cig {
                            for ki in 0..<g.kernelHeight {
                                let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                                if ii < 0 || ii >= g.inHeight { continue }
                                for kj in 0..<g.kernelWidth {
                                    let jj = oj * g.strideWidth - g.padding.left + kj * g.dilationWidth
                                    if jj < 0 || jj >= g.inWidth { continue }
                                    let idx = ((n * g.inChannels + group * cig + c) * g.inHeight + ii) * g.inWidth + jj
                                    acc[idx] += d * Double(w[o, c, ki, kj])
                                }
                            }
                        }
                    }
                }
            }
        }
        return try Tensor(shape: g.inputShape, values: acc.map { Float($0) })
    }

    /// Convolution backward-filter (SEEDS-DIGEST O4, T17b: dW = xcorr_valid(x, dY)), summed over the batch:
    /// dw[o,c,i,j] = Σ_{n,i',j'} dy[n,o,i',j'] · x[n, g·C/G + c, s·i' − pt + d·i, s·j' − pl + d·j].
    public static func conv2dBackwardFilter(
        input x: Tensor, outputGradient dy: Tensor, descriptor: Conv2DDescriptor
    ) throws -> Tensor {
        let g = try ConvGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Reference.conv2dBackwardFilter")
        try ConvGeometry.check(dy.shape, equals: g.outputShape, "output gradient", "Reference.conv2dBackwardFilter")
        var dw = try Tensor(shape: g.weightShape)
        let cig = g.groupInChannels, cog = g.groupOutChannels
        for o in 0..<g.outChannels {
            let group = o / cog
            for c in 0..<cig {
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        var sum = 0.0
                        for n in 0..<g.batch {
                            for oi in 0..<g.outHeight {
                                let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                                if ii < 0 || ii >= g.inHeight { continue }
                                for oj in 0..<g.outWidth {
                                    let jj = oj * g.strideWidth - g.padding.left + kj * g.dilationWidth
                                    if jj < 0 || jj >= g.inWidth { continue }
                                    sum += Double(dy[n, o, oi, oj]) * Double(x[n, group * cig + c, ii, jj])
                                }
                            }
                        }
                        dw[o, c, ki, kj] = Float(sum)
                    }
                }
            }
        }
        return dw
    }

    /// Convolution backward-bias (SEEDS-DIGEST O4: db = Σ δ over batch and space).
    public static func conv2dBackwardBias(outputGradient dy: Tensor) throws -> Tensor {
        let (n, c, h, w) = try dy.nchw("Reference.conv2dBackwardBias")
        var db = try Tensor(shape: [c])
        for o in 0..<c {
            var sum = 0.0
            for b in 0..<n { for i in 0..<h { for j in 0..<w { sum += Double(dy[b, o, i, j]) } } }
            db[o] = Float(sum)
        }
        return db
    }

    /// im2col ([002] img2col, SEEDS-DIGEST O3) of one C×H×W image: a (C·kh·kw) × (oh·ow) matrix.
    /// Row q = (c·kh + i)·kw + j (channel-major, then kernel rows); column p = i'·ow + j'
    /// (output positions row-major). Padding reads as 0. Groups are ignored: all channels expand.
    public static func im2col(image: Tensor, descriptor: Conv2DDescriptor) throws -> Tensor {
        guard image.rank == 3 else {
            throw TesseraError.invalidShape(operation: "Reference.im2col", shape: image.shape, expected: "3 axes C×H×W")
        }
        var d = descriptor
        d.groups = 1
        let g = try ConvGeometry(inputShape: [1] + image.shape, descriptor: d, operation: "Reference.im2col")
        let cols = g.outHeight * g.outWidth
        var out = try Tensor(shape: [g.inChannels * g.kernelHeight * g.kernelWidth, cols])
        for c in 0..<g.inChannels {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let q = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                    for oi in 0..<g.outHeight {
                        for oj in 0..<g.outWidth {
                            let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                            let jj = oj * g.strideWidth - g.padding.left + kj * g.dilationWidth
                            let inside = ii >= 0 && ii < g.inHeight && jj >= 0 && jj < g.inWidth
                            out[q, oi * g.outWidth + oj] = inside ? image[c, ii, jj] : 0
                        }
                    }
                }
            }
        }
        return out
    }

    /// col2im (SEEDS-DIGEST O4, Caffe's name): the adjoint of `im2col`. Each column entry is
    /// added back to the image element it was copied from; entries that came from padding are dropped.
    public static func col2im(columns: Tensor, imageShape: [Int], descriptor: Conv2DDescriptor) throws -> Tensor {
        guard imageShape.count == 3 else {
            throw TesseraError.invalidShape(operation: "Reference.col2im", shape: imageShape, expected: "3 axes C×H×W")
        }
        var d = descriptor
        d.groups = 1
        let g = try ConvGeometry(inputShape: [1] + imageShape, descriptor: d, operation: "Reference.col2im")
        try ConvGeometry.check(
            columns.shape, equals: [g.inChannels * g.kernelHeight * g.kernelWidth, g.outHeight * g.outWidth],
            "columns", "Reference.col2im")
        var acc = [Double](repeating: 0, count: imageShape.reduce(1, *))
        for c in 0..<g.inChannels {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let q = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                    for oi in 0..<g.outHeight {
                        for oj in 0..<g.outWidth {
                            let ii = oi * g.strideHeight - g.padding.top + ki * g.dilationHeight
                            let jj = oj * g.strideWidth - g.padding.left + kj * g.dilationWidth
                            guard ii >= 0, ii < g.inHeight, jj >= 0, jj < g.inWidth else { continue }
                            acc[(c * g.inHeight + ii) * g.inWidth + jj] += Double(columns[q, oi * g.outWidth + oj])
                        }
                    }
                }
            }
        }
        return try Tensor(shape: imageShape, values: acc.map { Float($0) })
    }
}
