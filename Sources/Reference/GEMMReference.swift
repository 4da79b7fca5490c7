import TesseraCore

/// Naive reference implementations: plain loops, accumulated in `Double`, written to be
/// checked by eye against SPEC.md and SEEDS-DIGEST.md. Every fast kernel is tested against them.
public enum Reference {}

extension Reference {
    /// C = relu?(α·op(A)·op(B) + β·C + bias), row-major with leading dimensions (SPEC §2).
    ///
    /// op(A) is M×K and op(B) is K×N. With β = 0, C is not read, so NaN in C does not leak.
    /// - Returns: the magnitude Σₖ|α·a·b| + |β·c| + |bias| behind each element of C (M×N, row-major),
    ///   the normalizer of SPEC §4's error measure.
    @discardableResult
    public static func gemm(
        transA: Transpose, transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float, a: [Float], lda: Int, b: [Float], ldb: Int,
        beta: Float, c: inout [Float], ldc: Int,
        bias: [Float]? = nil, biasAxis: BiasAxis = .none, relu: Bool = false
    ) -> [Float] {
        var magnitude = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, abs = 0.0
                for p in 0..<k {
                    let av = Double(transA == .none ? a[i * lda + p] : a[p * lda + i])
                    let bv = Double(transB == .none ? b[p * ldb + j] : b[j * ldb + p])
                    sum += av * bv
                    abs += Swift.abs(av * bv)
                }
                var value = Double(alpha) * sum
                abs *= Swift.abs(Double(alpha))
                if beta != 0 {
                    value += Double(beta) * Double(c[i * ldc + j])
                    abs += Swift.abs(Double(beta) * Double(c[i * ldc + j]))
                }
                if let bias {
                    let bv = biasAxis == .row ? bias[i] : biasAxis == .column ? bias[j] : 0
                    value += Double(bv)
                    abs += Swift.abs(Double(bv))
                }
                if relu, value < 0 { value = 0 }  // NaN passes through ReLU (SPEC §1 NaN policy)
                c[i * ldc + j] = Float(value)
                magnitude[i * n + j] = Float(abs)
            }
        }
        return magnitude
    }
}
