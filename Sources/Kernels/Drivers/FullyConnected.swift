/// Fully connected forward and backward (SEEDS-DIGEST O5; SPEC §1: weights `[out, in]`,
/// y = W·x + b for each sample), as GEMMs over the batch: Y = X·Wᵀ + b, dX = dY·W, dW = dYᵀ·X,
/// db = Σ over the batch of dY. Batches of ≤ 4 samples take the row-vector kernels, which
/// stream W once without packing it (the memory-bound FC layers of VGG at batch 1).
///
/// ```swift
/// let y = try FullyConnected.forward(x, weights: w, bias: b, relu: true)    // x: N×in → N×out
/// let (dx, dw, db) = try FullyConnected.backward(outputGradient: dy, input: x, weights: w)
/// ```
public enum FullyConnected {
    /// (samples, features) of an input whose first axis is the batch; the rest is flattened.
    static func rows(_ x: Tensor, features: Int, _ operation: String) throws -> Int {
        guard x.rank >= 2, x.count == x.shape[0] * features else {
            throw TesseraError.invalidShape(operation: operation, shape: x.shape,
                                            expected: "N×\(features) (batch first, \(features) features per sample)")
        }
        return x.shape[0]
    }

    static func weightShape(_ w: Tensor, _ operation: String) throws -> (out: Int, in: Int) {
        guard w.rank == 2 else {
            throw TesseraError.invalidShape(operation: operation, shape: w.shape, expected: "weights [out, in]")
        }
        return (w.shape[0], w.shape[1])
    }

    /// Y = X·Wᵀ + b (then ReLU if asked). `x` is N×in (or N×C×H×W with C·H·W = in); the result is N×out.
    public static func forward(_ x: Tensor, weights w: Tensor, bias: Tensor? = nil, relu: Bool = false,
                               threads: Int? = nil) throws -> Tensor {
        let op = "FullyConnected.forward"
        let (outFeatures, inFeatures) = try weightShape(w, op)
        let n = try rows(x, features: inFeatures, op)
        if let bias { try ConvGeometry.check(bias.shape, equals: [outFeatures], "bias", op) }
        return try Tensor(shape: [n, outFeatures]) { yb in
            try x.withUnsafeBufferPointer { xb in
                try w.withUnsafeBufferPointer { wb in
                    let run = { (bb: UnsafeBufferPointer<Float>?) in
                        try GEMM.sgemm(transB: .transpose, m: n, n: outFeatures, k: inFeatures, a: xb, lda: inFeatures,
                                       b: wb, ldb: inFeatures, c: yb, ldc: outFeatures,
                                       epilogue: GEMMEpilogue(bias: bb, biasAxis: bb == nil ? .none : .column, relu: relu),
                                       threads: threads)
                    }
                    if let bias { try bias.withUnsafeBufferPointer { try run($0) } } else { try run(nil) }
                }
            }
        }
    }

    /// The gradients of `forward` before its ReLU: dX (x's shape), dW ([out, in], summed over the
    /// batch) and db ([out]). With `inputGradient: false`, dX is skipped and returned as nil.
    public static func backward(outputGradient dy: Tensor, input x: Tensor, weights w: Tensor,
                                inputGradient: Bool = true, threads: Int? = nil)
        throws -> (inputGradient: Tensor?, weightGradient: Tensor, biasGradient: Tensor) {
        var dw = try Tensor(shape: w.shape) { _ in }   // every element is written (β = 0)
        var db = try Tensor(shape: [w.shape[0]])
        let dx = try backward(outputGradient: dy, input: x, weights: w, inputGradient: inputGradient,
                              weightGradient: &dw, biasGradient: &db, threads: threads)
        return (dx, dw, db)
    }

    /// `backward`, overwriting `weightGradient` ([out, in]) and `biasGradient` ([out]) in place, so
    /// that a training loop reuses its gradient buffers (FC6's is 411 MB) instead of allocating them.
    public static func backward(outputGradient dy: Tensor, input x: Tensor, weights w: Tensor, inputGradient: Bool = true,
                                weightGradient dw: inout Tensor, biasGradient db: inout Tensor, threads: Int? = nil) throws -> Tensor? {
        let op = "FullyConnected.backward"
        let (outFeatures, inFeatures) = try weightShape(w, op)
        let n = try rows(x, features: inFeatures, op)
        try ConvGeometry.check(dy.shape, equals: [n, outFeatures], "output gradient", op)
        try ConvGeometry.check(dw.shape, equals: w.shape, "weight gradient", op)
        try ConvGeometry.check(db.shape, equals: [outFeatures], "bias gradient", op)
        return try dy.withUnsafeBufferPointer { dyb in
            try x.withUnsafeBufferPointer { xb in
                try dw.withUnsafeMutableBufferPointer { dwb in
                    try GEMM.sgemm(transA: .transpose, m: outFeatures, n: inFeatures, k: n, a: dyb, lda: outFeatures,
                                   b: xb, ldb: inFeatures, c: dwb, ldc: inFeatures, threads: threads)
                }
                // Σ over the batch, sample by sample in order: the same sums at any thread count.
                db.withUnsafeMutableBufferPointer { dbb in
                    copyFloats(dbb.baseAddress!, dyb.baseAddress!, count: outFeatures)
                    for b in 1..<max(n, 1) { addKernel(dbb.baseAddress!, dyb.baseAddress! + b * outFeatures, count: outFeatures) }
                }
                guard inputGradient else { return nil }
                return try w.withUnsafeBufferPointer { wb in
                    try Tensor(shape: x.shape) { dxb in
                        try GEMM.sgemm(m: n, n: inFeatures, k: outFeatures, a: dyb, lda: outFeatures,
                                       b: wb, ldb: inFeatures, c: dxb, ldc: inFeatures, threads: threads)
                    }
                }
            }
        }
    }
}
