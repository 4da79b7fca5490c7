import Scheduler

extension GEMM {
    /// C = α·op(A)·op(B) + β·C (+ epilogue) for K ≤ `GEMMBlocking.smallK`: a rank-K update, such as
    /// a fully connected layer's dW = dYᵀ·X at batch ≤ 4 (FC6: 4096 × 25088, K = 1). Packing would cost
    /// as much as the product, and the micro-kernel would run K = 1 blocks; instead op(B)'s K rows are
    /// made contiguous once and each row of C is written in one streaming pass. Parallel over blocks of
    /// rows; every element is computed by one thread in p order.
    static func rankKGEMM(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        Workspace.withScratch(count: k * n) { rows in
            for p in 0..<k {
                for j in 0..<n { rows[p * n + j] = transB == .none ? b[p * ldb + j] : b[j * ldb + p] }
            }
            let rowsPerTile = max(1, 16_384 / n)
            let tiles = (m + rowsPerTile - 1) / rowsPerTile
            let work = Double(m) * Double(n) * 4 * (beta == 0 ? 1 : 2) * Scheduler.flopsPerByte
            let bias = epilogue.bias?.baseAddress
            let rowBias = epilogue.biasAxis == .row, columnBias = epilogue.biasAxis == .column
            let relu = epilogue.relu
            Scheduler.parallelFor(tiles: tiles, work: work, threads: threads) { t in
                for i in (t * rowsPerTile)..<min(m, (t + 1) * rowsPerTile) {
                    let out = c + i * ldc
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { coefficient in
                        for p in 0..<k { coefficient[p] = transA == .none ? a[i * lda + p] : a[p * lda + i] }
                        let vectorEnd = n / 8 * 8
                        var j = 0
                        while j < vectorEnd {
                            var v = SIMD8<Float>()
                            for p in 0..<k { v = madd(v, SIMD8<Float>(repeating: coefficient[p]), load8(rows + p * n, j)) }
                            v *= SIMD8<Float>(repeating: alpha)
                            if beta != 0 { v = madd(v, SIMD8<Float>(repeating: beta), load8(out, j)) }
                            if let bias {
                                if rowBias { v += SIMD8<Float>(repeating: bias[i]) } else if columnBias { v += load8(bias, j) }
                            }
                            if relu { v.replace(with: 0, where: v .< 0) }
                            store8(v, out, j)
                            j += 8
                        }
                        while j < n {
                            var s: Float = 0
                            for p in 0..<k { s += coefficient[p] * rows[p * n + j] }
                            var v = alpha * s
                            if beta != 0 { v += beta * out[j] }
                            if let bias {
                                if rowBias { v += bias[i] } else if columnBias { v += bias[j] }
                            }
                            if relu, v < 0 { v = 0 }
                            out[j] = v
                            j += 1
                        }
                    }
                }
            }
        }
    }
}
