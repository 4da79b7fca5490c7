import Scheduler

extension GEMM {
    /// Columns of C per parallel tile in the row-vector path: dot form (B transposed) and AXPY form
    /// (B as stored; wider, so that each row of B is read in long contiguous runs).
    static let rowVectorTile = 256
    static let rowVectorAxpyTile = 2048

    /// C = α·op(A)·op(B) + β·C (+ epilogue) for M ≤ `GEMMBlocking.smallM`, without packing.
    static func rowVectorGEMM(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: GEMMEpilogue, _ threads: Int?
    ) {
        let tileWidth = transB == .transpose ? rowVectorTile : rowVectorAxpyTile
        let tiles = (n + tileWidth - 1) / tileWidth
        // Memory-bound: B is streamed once per row of C.
        let work = Double(m) * Double(n) * Double(k) * 4 * Scheduler.flopsPerByte
        let workers = Scheduler.threadCount(tiles: tiles, work: work, threads: threads)
        // Scratch: op(A)'s rows made contiguous (for the dot form), then one tile of results per worker.
        Workspace.withScratch(count: m * k + workers * tileWidth) { scratch in
            let rowsA = UnsafeMutablePointer(scratch)
            for i in 0..<m {
                for p in 0..<k { rowsA[i * k + p] = transA == .none ? a[i * lda + p] : a[p * lda + i] }
            }
            let results = scratch + m * k
            Scheduler.parallelFor(tiles: tiles, workers: workers) { tile, worker in
                let j0 = tile * tileWidth, cols = min(tileWidth, n - j0)
                let out = results + worker * tileWidth
                for i in 0..<m {
                    let x = UnsafePointer(rowsA + i * k)
                    if transB == .transpose {
                        // op(B)[p, j] = B[j, p]: each column of op(B) is a contiguous row of B.
                        var j = 0
                        while j + 4 <= cols { sdotKernel4(k: k, x: x, w: b + (j0 + j) * ldb, ldw: ldb, out: out + j); j += 4 }
                        while j < cols { sdotKernel1(k: k, x: x, w: b + (j0 + j) * ldb, out: out + j); j += 1 }
                    } else {
                        saxpyRowKernel(k: k, x: x, incx: 1, b: b + j0, ldb: ldb, n: cols, out: out)
                    }
                    combine(out, cols: cols, row: i, col0: j0, alpha: alpha, beta: beta, c: c + i * ldc + j0, epilogue: epilogue)
                }
            }
        }
    }

    /// c[j] = α·acc[j] (+ β·c[j]) (+ bias) (ReLU, NaN passing), for one row segment.
    static func combine(
        _ acc: UnsafePointer<Float>, cols: Int, row: Int, col0: Int, alpha: Float, beta: Float,
        c: UnsafeMutablePointer<Float>, epilogue: GEMMEpilogue
    ) {
        let bias = epilogue.bias?.baseAddress
        // SIMD8 over the row, then the same arithmetic per element for the tail (unfused: Swift
        // never fuses `*` and `+`), so an element's value does not depend on where it falls.
        let a8 = SIMD8<Float>(repeating: alpha), b8 = SIMD8<Float>(repeating: beta)
        let rowBias = bias != nil && epilogue.biasAxis == .row ? SIMD8<Float>(repeating: bias![row]) : nil
        let columnBias = epilogue.biasAxis == .column ? bias : nil
        var j0 = 0
        while j0 + 8 <= cols {
            var v = a8 * load8(acc, j0)
            if beta != 0 { v += b8 * load8(c, j0) }
            if let rowBias { v += rowBias }
            if let columnBias { v += load8(columnBias, col0 + j0) }
            if epilogue.relu { v = relu8(v) }
            store8(v, c, j0)
            j0 += 8
        }
        for j in j0..<cols {
            var v = alpha * acc[j]
            if beta != 0 { v += beta * c[j] }
            if let bias {
                if epilogue.biasAxis == .row { v += bias[row] } else if epilogue.biasAxis == .column { v += bias[col0 + j] }
            }
            if epilogue.relu, v < 0 { v = 0 }
            c[j] = v
        }
    }
}
