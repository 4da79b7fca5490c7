import Foundation
import Scheduler
#if TESSERA_AVX512
import KernelsAVX512
#endif

/// Elementwise layers' kernels: ReLU, bias, dropout (SPEC §1, §2). Parallel over fixed chunks of
/// elements; every element's value depends on that element alone, so results are the same for
/// any thread count.
public enum Elementwise {
    /// Elements per parallel tile.
    static let chunk = 1 << 15

    /// Runs `body(range)` over `0..<count` in fixed chunks, in parallel when the traffic pays.
    static func forEachChunk(count: Int, bytesPerElement: Int, threads: Int?, _ body: (Range<Int>) -> Void) {
        let tiles = (count + chunk - 1) / chunk
        Scheduler.parallelFor(tiles: tiles, work: Double(count * bytesPerElement) * Scheduler.flopsPerByte, threads: threads) { t in
            body(t * chunk ..< min(count, (t + 1) * chunk))
        }
    }

    /// y = max(x, 0); NaN passes through.
    public static func relu(_ x: Tensor, threads: Int? = nil) -> Tensor {
        // The shape is x's, so it cannot be rejected.
        try! Tensor(shape: x.shape) { yb in
            x.withUnsafeBufferPointer { xb in
                let src = xb.baseAddress!, dst = yb.baseAddress!
                forEachChunk(count: yb.count, bytesPerElement: 8, threads: threads) { r in
                    reluKernel(src + r.lowerBound, dst + r.lowerBound, count: r.count)
                }
            }
        }
    }

    /// dx = dy where x > 0, else 0 (0 at x == 0 and for NaN x).
    public static func reluBackward(_ dy: Tensor, input x: Tensor, threads: Int? = nil) throws -> Tensor {
        try ConvGeometry.check(dy.shape, equals: x.shape, "output gradient", "Elementwise.reluBackward")
        return gradient(dy, times: x, threads: threads) { reluBackwardKernel($0, $1, count: $2) }
    }

    /// A copy of `dy` with `kernel(dx + i, other + i, count)` applied over fixed chunks (the shapes are checked by the caller).
    static func gradient(_ dy: Tensor, times other: Tensor, threads: Int?,
                         _ kernel: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void) -> Tensor {
        var dx = dy
        other.withUnsafeBufferPointer { ob in
            dx.withUnsafeMutableBufferPointer { db in
                let op = ob.baseAddress!, dp = db.baseAddress!
                forEachChunk(count: db.count, bytesPerElement: 12, threads: threads) { r in
                    kernel(dp + r.lowerBound, op + r.lowerBound, r.count)
                }
            }
        }
        return dx
    }

    /// x[n, c, …] += bias[c] for an N×C×… tensor (axis 1 is the channel).
    public static func addBias(_ x: inout Tensor, bias: Tensor, threads: Int? = nil) throws {
        guard x.rank >= 2, bias.shape == [x.shape[1]] else {
            throw TesseraError.invalidShape(operation: "Elementwise.addBias", shape: bias.shape,
                                            expected: "one value per channel of \(x.shape), i.e. [\(x.rank >= 2 ? x.shape[1] : 0)]")
        }
        let channels = x.shape[1], plane = x.count / (x.shape[0] * channels), planes = x.shape[0] * channels
        x.withUnsafeMutableBufferPointer { xb in
            bias.withUnsafeBufferPointer { bb in
                let xp = xb.baseAddress!, bp = bb.baseAddress!
                Scheduler.parallelFor(tiles: planes, work: Double(planes * plane * 8) * Scheduler.flopsPerByte, threads: threads) { p in
                    addScalarKernel(xp + p * plane, bp[p % channels], count: plane)
                }
            }
        }
    }

    /// Inverted dropout (SPEC §1): element i is kept when `SeededGenerator.unitFloat(seed:index: i)` ≥ p,
    /// and kept values are scaled by 1/(1−p). The same mask as a sequential `SeededGenerator(seed:)`.
    /// - Returns: the output and the mask (0 or 1/(1−p)) for `dropoutBackward`.
    public static func dropout(_ x: Tensor, probability p: Float, seed: UInt64, threads: Int? = nil) throws -> (output: Tensor, mask: Tensor) {
        guard p >= 0, p < 1 else {
            throw TesseraError.invalidArgument(operation: "Elementwise.dropout", message: "probability \(p) outside [0, 1)")
        }
        var y = x
        var mask = try Tensor(shape: x.shape)
        let scale = 1 / (1 - p)
        y.withUnsafeMutableBufferPointer { yb in
            mask.withUnsafeMutableBufferPointer { mb in
                let yp = yb.baseAddress!, mp = mb.baseAddress!
                forEachChunk(count: yb.count, bytesPerElement: 64, threads: threads) { r in
                    for i in r {
                        let m: Float = SeededGenerator.unitFloat(seed: seed, index: i) >= p ? scale : 0
                        mp[i] = m
                        yp[i] *= m
                    }
                }
            }
        }
        return (y, mask)
    }

    /// Dropout backward: dy · mask.
    public static func dropoutBackward(_ dy: Tensor, mask: Tensor, threads: Int? = nil) throws -> Tensor {
        try ConvGeometry.check(mask.shape, equals: dy.shape, "mask", "Elementwise.dropoutBackward")
        return gradient(dy, times: mask, threads: threads) { multiplyKernel($0, $1, count: $2) }
    }
}

/// Softmax and the losses of SPEC §1, over the rows of an N×C tensor (N = the first axis).
public enum Loss {
    static func rows(_ t: Tensor, _ operation: String) throws -> (n: Int, c: Int) {
        guard t.rank >= 2 else {
            throw TesseraError.invalidShape(operation: operation, shape: t.shape, expected: "at least 2 axes, batch first")
        }
        return (t.shape[0], t.count / t.shape[0])
    }

    /// Softmax of each row, max-subtracted so that large logits cannot overflow.
    public static func softmax(_ logits: Tensor, threads: Int? = nil) throws -> Tensor {
        let (n, c) = try rows(logits, "Loss.softmax")
        return try Tensor(shape: logits.shape) { yb in
            logits.withUnsafeBufferPointer { xb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                Scheduler.parallelFor(tiles: n, work: Double(n * c) * 40, threads: threads) { b in
                    _ = softmaxRow(xp + b * c, yp + b * c, count: c)
                }
            }
        }
    }

    /// One row's softmax from `x` into `y` (the same pointer allowed): the AVX-512 kernel where the
    /// CPU has it and the row holds 16 floats or more, else the SIMD8 one in place.
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) -> (max: Float, sum: Float) {
        #if TESSERA_AVX512
        if InstructionSet.usesAVX512 && count >= 16 { return softmaxRowAVX512(x, y, count: count) }
        #endif
        if UnsafePointer(y) != x { y.update(from: x, count: count) }
        return softmaxRowKernel(y, count: count)
    }

    /// Fused softmax + cross-entropy on integer labels, mean over the batch: L = −(1/N) Σ log P[label];
    /// gradient (P − onehot)/N. Throws for a label outside 0..<C or a label count ≠ N.
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int], threads: Int? = nil) throws -> (loss: Float, gradient: Tensor) {
        let (n, c) = try rows(logits, "Loss.softmaxCrossEntropy")
        guard labels.count == n else {
            throw TesseraError.invalidArgument(operation: "Loss.softmaxCrossEntropy", message: "\(labels.count) labels for a batch of \(n)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
            throw TesseraError.invalidArgument(operation: "Loss.softmaxCrossEntropy", message: "label \(bad) outside 0..<\(c)")
        }
        var grad = logits
        var rowLoss = [Double](repeating: 0, count: n)
        grad.withUnsafeMutableBufferPointer { gb in
            rowLoss.withUnsafeMutableBufferPointer { lb in
                let gp = gb.baseAddress!, lp = lb.baseAddress!
                Scheduler.parallelFor(tiles: n, work: Double(n * c) * 40, threads: threads) { b in
                    let row = gp + b * c
                    let label = labels[b]
                    let logit = row[label]
                    let (maximum, sum) = softmaxRow(row, row, count: c)
                    // −log P[label] = log Σ e^(x − max) + max − x[label].
                    lp[b] = Double(log(sum)) + Double(maximum) - Double(logit)
                    scaleKernel(row, 1 / Float(n), count: c)
                    row[label] -= 1 / Float(n)
                }
            }
        }
        // Summed in a fixed order, whatever the thread count.
        return (Float(rowLoss.reduce(0, +) / Double(n)), grad)
    }

    /// Squared loss (SEEDS-DIGEST eq.6): ½‖x − t‖² per sample, mean over the batch; gradient (x − t)/N.
    public static func squaredLoss(prediction x: Tensor, target t: Tensor) throws -> (loss: Float, gradient: Tensor) {
        try ConvGeometry.check(t.shape, equals: x.shape, "target", "Loss.squaredLoss")
        let n = x.shape[0]
        var grad = x
        var loss = 0.0
        grad.withUnsafeMutableBufferPointer { gb in
            t.withUnsafeBufferPointer { tb in
                loss = squaredDifferenceKernel(gb.baseAddress!, tb.baseAddress!, scale: 1 / Float(n), count: gb.count)
            }
        }
        return (Float(0.5 * loss / Double(n)), grad)
    }
}

/// Training updates.
public enum Optimizer {
    /// One SGD step in PyTorch's form (SPEC §1): v ← μ·v + (g + λ·w); w ← w − η·v, in place.
    public static func sgdStep(
        weights w: inout Tensor, gradient g: Tensor, velocity v: inout Tensor,
        learningRate eta: Float, momentum mu: Float = 0, weightDecay lambda: Float = 0, threads: Int? = nil
    ) throws {
        try ConvGeometry.check(g.shape, equals: w.shape, "gradient", "Optimizer.sgdStep")
        try ConvGeometry.check(v.shape, equals: w.shape, "velocity", "Optimizer.sgdStep")
        w.withUnsafeMutableBufferPointer { wb in
            v.withUnsafeMutableBufferPointer { vb in
                g.withUnsafeBufferPointer { gb in
                    let wp = wb.baseAddress!, vp = vb.baseAddress!, gp = gb.baseAddress!
                    Elementwise.forEachChunk(count: wb.count, bytesPerElement: 20, threads: threads) { r in
                        let o = r.lowerBound
                        sgdKernel(wp + o, vp + o, gp + o, eta: eta, mu: mu, lambda: lambda, count: r.count)
                    }
                }
            }
        }
    }
}
