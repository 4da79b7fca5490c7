import Scheduler
#if TESSERA_AVX512
import KernelsAVX512
#endif

/// The arg-max of every output of a max pooling: for backward (SEEDS-DIGEST O8).
public struct MaxPoolIndices: Sendable {
    /// The pooled input's shape, N×C×H×W.
    public let inputShape: [Int]
    /// The output's shape, N×C×OH×OW.
    public let outputShape: [Int]
    /// The indices as Int32 bit patterns in a tensor's buffer, which large tensors recycle: a fresh
    /// array of over 128 KiB came from `mmap` and faulted in every page on every call (1 thread,
    /// best of 5: 4 planes of 224² 136 → 23 µs, VGG pool1's 64 planes 969 → 809 µs).
    let storage: Tensor

    /// Per output, the index ii·W + jj of its max inside its own H×W input plane: a new array on
    /// every access, so take it once rather than per element.
    public var planeIndices: [Int32] { withUnsafeIndices { Array($0) } }

    /// Calls `body` with the indices in place.
    func withUnsafeIndices<R>(_ body: (UnsafeBufferPointer<Int32>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { try $0.withMemoryRebound(to: Int32.self, body) }
    }
}

/// Max, average and global average pooling over NCHW tensors, forward and backward (SPEC §1, §2).
///
/// Parallel over the N·C planes; every output is computed by one plane's kernel, so results do
/// not depend on the thread count. Max pooling: padding never wins, ties go to the first element
/// in row-major scan order, NaN propagates. Average pooling divides by the in-bounds count
/// unless `countIncludesPadding`.
///
/// ```swift
/// let (y, indices) = try Pooling.maxPool2d(x, Pool2DDescriptor(window: 2, stride: 2), returnIndices: true)
/// let dx = try Pooling.maxPool2dBackward(dy, indices: indices!)
/// ```
public enum Pooling {
    /// Max pooling; with `returnIndices`, also the arg-max that backward needs.
    public static func maxPool2d(
        _ x: Tensor, _ descriptor: Pool2DDescriptor, returnIndices: Bool = false, threads: Int? = nil
    ) throws -> (output: Tensor, indices: MaxPoolIndices?) {
        let g = try PoolGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Pooling.maxPool2d")
        let d = window(descriptor), kernel = PoolKernel.maxPool(g, returnIndices: returnIndices)
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let (h, w, oh, ow, top, left) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth, d.pt, d.pl)
        let prefetchAhead = w >= PoolTuning.prefetchMinimumWidth
        // Every kernel writes every index: no fill pass over them first.
        var indices = returnIndices ? try Tensor(shape: g.outputShape, unsafeUninitializedInitializingWith: { _ in }) : nil
        let y = try Tensor(shape: g.outputShape) { yb in
            x.withUnsafeBufferPointer { xb in
                withIndexBuffer(&indices) { ip in
                    let xp = xb.baseAddress!, yp = yb.baseAddress!
                    if kernel == .max2x2s2StackedAVX512 || kernel == .max2x2s2Stacked {
                        // Without indices and with an even height, the planes stack into one tall plane
                        // whose row pairs never straddle two planes: run it in 16 slabs of whole planes.
                        let planes = g.batch * g.channels, slabs = min(planes, 16)
                        let work = Double(planes * (inPlane + outPlane) * 4) * Scheduler.flopsPerByte
                        Scheduler.parallelFor(tiles: slabs, work: work, threads: threads) { t in
                            let p0 = t * planes / slabs, p1 = (t + 1) * planes / slabs
                            let (xs, ys, rows) = (xp + p0 * inPlane, yp + p0 * outPlane, (p1 - p0) * oh)
                            #if TESSERA_AVX512
                            if kernel == .max2x2s2StackedAVX512 && !maxPool2x2s2ValuesAVX512(xs, w: w, ys, oh: rows, ow: ow, prefetchAhead: prefetchAhead) {
                                return
                            }
                            #endif
                            // The SIMD8 kernel, and the exact recomputation when the AVX-512 one saw a NaN.
                            maxPool2x2s2Plane(xs, h: 2 * rows, w: w, ys, nil, oh: rows, ow: ow, prefetchAhead: prefetchAhead)
                        }
                        return
                    }
                    let rowBuffer = kernel == .max3x3s2AVX512 || kernel == .max3x3s2 ? rowBufferCount(w) : 0
                    forEachPlane(g, outPlane: outPlane, bytesPerPlane: (inPlane + outPlane) * 4, threads: threads,
                                 scratchPerWorker: rowBuffer) { p, scratch in
                        let (xs, ys, idx) = (xp + p * inPlane, yp + p * outPlane, returnIndices ? ip! + p * outPlane : nil)
                        switch kernel {
                        case .max3x3s2AVX512:
                            #if TESSERA_AVX512
                            let sawNaN = maxPool3x3s2ValuesAVX512(xs, h: h, w: w, ys, oh: oh, ow: ow, top: top, left: left,
                                                                  rowBuffer: scratch)
                            if !sawNaN { return }
                            #endif
                            maxPool3x3s2Plane(xs, h: h, w: w, ys, oh: oh, ow: ow, top: top, left: left, rowBuffer: scratch)
                        case .max3x3s2:
                            maxPool3x3s2Plane(xs, h: h, w: w, ys, oh: oh, ow: ow, top: top, left: left, rowBuffer: scratch)
                        case .max2x2s2IndicesAVX512:
                            #if TESSERA_AVX512
                            maxPool2x2s2IndicesAVX512(xs, w: w, ys, idx!, oh: oh, ow: ow, prefetchAhead: prefetchAhead)
                            #endif
                        case .max2x2s2:
                            maxPool2x2s2Plane(xs, h: h, w: w, ys, idx, oh: oh, ow: ow, prefetchAhead: prefetchAhead)
                        default:
                            maxPoolPlane(xs, h: h, w: w, ys, idx, oh: oh, ow: ow, d)
                        }
                    }
                }
            }
        }
        let result = indices.map { MaxPoolIndices(inputShape: x.shape, outputShape: g.outputShape, storage: $0) }
        return (y, result)
    }

    /// `body` with the index tensor's buffer as Int32 (nil without one).
    private static func withIndexBuffer(_ indices: inout Tensor?, _ body: (UnsafeMutablePointer<Int32>?) -> Void) {
        guard indices != nil else { return body(nil) }
        indices!.withUnsafeMutableBufferPointer { b in b.withMemoryRebound(to: Int32.self) { body($0.baseAddress!) } }
    }

    /// Max pooling backward: each output gradient goes to its window's arg-max; overlapping windows add (T6).
    public static func maxPool2dBackward(_ dy: Tensor, indices: MaxPoolIndices, threads: Int? = nil) throws -> Tensor {
        try ConvGeometry.check(dy.shape, equals: indices.outputShape, "output gradient", "Pooling.maxPool2dBackward")
        var dx = try Tensor(shape: indices.inputShape)
        let inPlane = indices.inputShape[2] * indices.inputShape[3]
        let outPlane = indices.outputShape[2] * indices.outputShape[3]
        let planes = indices.inputShape[0] * indices.inputShape[1]
        dy.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { xb in
                indices.withUnsafeIndices { ib in
                    let dp = db.baseAddress!, xp = xb.baseAddress!, ip = ib.baseAddress!
                    Scheduler.parallelFor(tiles: planes, work: Double(planes * (inPlane + 2 * outPlane) * 4) * Scheduler.flopsPerByte,
                                          threads: threads) { p in
                        let out = xp + p * inPlane, g = dp + p * outPlane, idx = ip + p * outPlane
                        for i in 0..<outPlane { out[Int(idx[i])] += g[i] }
                    }
                }
            }
        }
        return dx
    }

    /// Average pooling.
    public static func avgPool2d(_ x: Tensor, _ descriptor: Pool2DDescriptor, threads: Int? = nil) throws -> Tensor {
        let g = try PoolGeometry(inputShape: x.shape, descriptor: descriptor, operation: "Pooling.avgPool2d")
        let d = window(descriptor), kernel = PoolKernel.avgPool(g), include = descriptor.countIncludesPadding
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let (h, w, oh, ow, top, left) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth, d.pt, d.pl)
        return try Tensor(shape: g.outputShape) { yb in
            x.withUnsafeBufferPointer { xb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                let rowBuffer = kernel == .avg3x3s2AVX512 || kernel == .avg3x3s2 ? rowBufferCount(w) : 0
                forEachPlane(g, outPlane: outPlane, bytesPerPlane: (inPlane + outPlane) * 4, threads: threads,
                             scratchPerWorker: rowBuffer) { p, scratch in
                    let xs = xp + p * inPlane, ys = yp + p * outPlane
                    switch kernel {
                    case .avg3x3s2AVX512:
                        #if TESSERA_AVX512
                        avgPool3x3s2AVX512(xs, h: h, w: w, ys, oh: oh, ow: ow, top: top, left: left,
                                           countIncludesPadding: include, rowBuffer: scratch)
                        #endif
                    case .avg3x3s2:
                        avgPool3x3s2Plane(xs, h: h, w: w, ys, oh: oh, ow: ow, top: top, left: left, countIncludesPadding: include,
                                          rowBuffer: scratch)
                    default:
                        avgPoolPlane(xs, h: h, w: w, ys, oh: oh, ow: ow, d, countIncludesPadding: include)
                    }
                }
            }
        }
    }

    /// Average pooling backward: dy / count to every in-bounds input of the window; overlaps add.
    public static func avgPool2dBackward(
        _ dy: Tensor, inputShape: [Int], _ descriptor: Pool2DDescriptor, threads: Int? = nil
    ) throws -> Tensor {
        let g = try PoolGeometry(inputShape: inputShape, descriptor: descriptor, operation: "Pooling.avgPool2dBackward")
        try ConvGeometry.check(dy.shape, equals: g.outputShape, "output gradient", "Pooling.avgPool2dBackward")
        var dx = try Tensor(shape: inputShape)
        let d = window(descriptor)
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        dy.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { xb in
                let dp = db.baseAddress!, xp = xb.baseAddress!
                forEachPlane(g, outPlane: outPlane, bytesPerPlane: (2 * inPlane + outPlane) * 4, threads: threads) { p, _ in
                    let out = xp + p * inPlane, grad = dp + p * outPlane
                    for oi in 0..<g.outHeight {
                        let i0 = oi * d.sh - d.pt
                        let kiLo = max(0, -i0), kiHi = min(d.kh, g.inHeight - i0)
                        for oj in 0..<g.outWidth {
                            let j0 = oj * d.sw - d.pl
                            let kjLo = max(0, -j0), kjHi = min(d.kw, g.inWidth - j0)
                            let count = descriptor.countIncludesPadding ? d.kh * d.kw : (kiHi - kiLo) * (kjHi - kjLo)
                            let share = grad[oi * g.outWidth + oj] / Float(count)
                            for ki in kiLo..<kiHi {
                                let row = out + (i0 + ki) * g.inWidth + j0
                                for kj in kjLo..<kjHi { row[kj] += share }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Global average pooling: N×C×H×W → N×C×1×1.
    public static func globalAvgPool(_ x: Tensor, threads: Int? = nil) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("Pooling.globalAvgPool")
        var y = try Tensor(shape: [n, c, 1, 1])
        let plane = h * w
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                // Tiles of whole planes; each plane's sum runs in an order fixed by its size alone.
                let planes = n * c, tiles = min(planes, 64)
                Scheduler.parallelFor(tiles: tiles, work: Double(planes * plane * 4) * Scheduler.flopsPerByte, threads: threads) { t in
                    let p0 = t * planes / tiles, p1 = (t + 1) * planes / tiles
                    #if TESSERA_AVX512
                    if InstructionSet.usesAVX512 {
                        planeMeansAVX512(xp + p0 * plane, planeSize: plane, planes: p1 - p0, yp + p0)
                        return
                    }
                    #endif
                    planeMeans(xp + p0 * plane, planeSize: plane, planes: p1 - p0, yp + p0)
                }
            }
        }
        return y
    }

    /// Global average pooling backward: dy / (H·W) to every input of the plane.
    public static func globalAvgPoolBackward(_ dy: Tensor, inputShape: [Int], threads: Int? = nil) throws -> Tensor {
        guard inputShape.count == 4, dy.shape == [inputShape[0], inputShape[1], 1, 1] else {
            throw TesseraError.invalidShape(operation: "Pooling.globalAvgPoolBackward", shape: dy.shape,
                                            expected: "N×C×1×1 for input \(inputShape)")
        }
        var dx = try Tensor(shape: inputShape)
        let plane = inputShape[2] * inputShape[3], planes = inputShape[0] * inputShape[1]
        dy.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { xb in
                let dp = db.baseAddress!, xp = xb.baseAddress!
                Scheduler.parallelFor(tiles: planes, work: Double(planes * plane * 4) * Scheduler.flopsPerByte, threads: threads) { p in
                    (xp + p * plane).update(repeating: dp[p] / Float(plane), count: plane)
                }
            }
        }
        return dx
    }

    /// Floats of the row buffer the 3×3/2 kernels take: the AVX-512 ones' three rows of the plane and
    /// their vector overrun (the SIMD8 ones need w + 48 of it).
    static func rowBufferCount(_ w: Int) -> Int { 3 * w + 160 }

    static func window(_ d: Pool2DDescriptor) -> PoolWindow {
        PoolWindow(kh: d.windowHeight, kw: d.windowWidth, sh: d.strideHeight, sw: d.strideWidth,
                   pt: d.padding.top, pl: d.padding.left)
    }

    /// Runs `body(plane, scratch)` over the N·C planes in parallel. The work is the larger of the
    /// traffic and the window scan (about 32 flop-equivalents per window element: strided load,
    /// compare, select). `scratch`: `scratchPerWorker` floats private to the thread, from the
    /// workspace pool (a steady-state call allocates nothing for it; per plane it was a malloc each).
    static func forEachPlane(
        _ g: PoolGeometry, outPlane: Int, bytesPerPlane: Int, threads: Int?, scratchPerWorker: Int = 0,
        _ body: (_ plane: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void
    ) {
        let planes = g.batch * g.channels
        let window = g.descriptor.windowHeight * g.descriptor.windowWidth
        let work = Double(planes) * max(Double(bytesPerPlane) * Scheduler.flopsPerByte, Double(outPlane * window) * 32)
        let workers = Scheduler.threadCount(tiles: planes, work: work, threads: threads)
        Workspace.withScratch(count: scratchPerWorker * workers) { scratch in
            Scheduler.parallelFor(tiles: planes, workers: workers) { p, worker in body(p, scratch + worker * scratchPerWorker) }
        }
    }
}

/// The kernel a pooling call runs, chosen from the geometry and the CPU: `Pooling.maxPool2d` and
/// `avgPool2d` dispatch on it, and Bench reports it.
public enum PoolKernel: String, Sendable {
    /// 2×2/2 without padding, values only, even height: planes stacked, 16 outputs per `vpermt2ps` pair.
    case max2x2s2StackedAVX512 = "max 2x2/2, stacked planes, SIMD16 AVX-512 (vpermt2ps deinterleave)"
    /// The same without AVX-512, or with fewer than 4 outputs a row.
    case max2x2s2Stacked = "max 2x2/2, stacked planes, SIMD8"
    /// 2×2/2 without padding with indices, rows of 16 outputs or more: the exact scan, 16 at a time.
    case max2x2s2IndicesAVX512 = "max 2x2/2, per plane, SIMD16 AVX-512 exact scan"
    /// 2×2/2 without padding, per plane: with indices, or an odd height.
    case max2x2s2 = "max 2x2/2, per plane, SIMD8"
    /// 3×3/2, padding ≤ 1, values only, planes 16 wide or more: rows, then columns.
    case max3x3s2AVX512 = "max 3x3/2, rows then columns, SIMD16 AVX-512"
    /// The same without AVX-512 or on narrower planes.
    case max3x3s2 = "max 3x3/2, rows then columns, SIMD8"
    /// Any other window: SIMD8 over output columns, strided loads.
    case maxGeneric = "max, any window, SIMD8 strided"
    /// 3×3/2 average, padding ≤ 1, planes 16 wide or more: row sums, then column sums.
    case avg3x3s2AVX512 = "avg 3x3/2, rows then columns, SIMD16 AVX-512"
    /// The same without AVX-512 or on narrower planes.
    case avg3x3s2 = "avg 3x3/2, rows then columns, SIMD8"
    /// Any other average window: SIMD8 over output columns.
    case avgGeneric = "avg, any window, SIMD8 strided"
    /// Global average: per plane, SIMD16 sums and a tree reduction on AVX-512, else SIMD8.
    case globalAverage = "global average, per-plane SIMD16 (AVX-512) or SIMD8 sums (8 planes per horizontal sum)"

    static func is3x3s2(_ d: Pool2DDescriptor) -> Bool {
        let p = d.padding
        return d.windowHeight == 3 && d.windowWidth == 3 && d.strideHeight == 2 && d.strideWidth == 2
            && max(p.top, p.left, p.bottom, p.right) <= 1
    }

    /// What `Pooling.maxPool2d` runs for this geometry.
    public static func maxPool(_ g: PoolGeometry, returnIndices: Bool) -> PoolKernel {
        let d = g.descriptor
        if d.windowHeight == 2 && d.windowWidth == 2 && d.strideHeight == 2 && d.strideWidth == 2 && d.padding == .zero {
            if returnIndices { return InstructionSet.usesAVX512 && g.outWidth >= 16 ? .max2x2s2IndicesAVX512 : .max2x2s2 }
            guard g.inHeight % 2 == 0 else { return .max2x2s2 }
            return InstructionSet.usesAVX512 && g.outWidth >= 4 ? .max2x2s2StackedAVX512 : .max2x2s2Stacked
        }
        if is3x3s2(d) && !returnIndices {
            return InstructionSet.usesAVX512 && g.inWidth >= 16 && g.outWidth >= 16 ? .max3x3s2AVX512 : .max3x3s2
        }
        return .maxGeneric
    }

    /// What `Pooling.avgPool2d` runs for this geometry.
    public static func avgPool(_ g: PoolGeometry) -> PoolKernel {
        guard is3x3s2(g.descriptor) else { return .avgGeneric }
        return InstructionSet.usesAVX512 && g.inWidth >= 16 && g.outWidth >= 16 ? .avg3x3s2AVX512 : .avg3x3s2
    }
}
