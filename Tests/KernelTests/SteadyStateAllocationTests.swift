import XCTest
import Kernels
import MallocCounter
import TesseraCore

/// A convolution plan's steady-state call allocates nothing on the heap (issue 4): once the plan has
/// run on an input size (scratch pooled, tap offsets and Winograd weights built), `forward(_:into:)`
/// on one thread makes no allocation at all. Counted per thread by the `MallocCounter` wrappers.
final class SteadyStateAllocationTests: NaNFilledOutputsTestCase {
    nonisolated(unsafe) static var sink: UnsafeMutableRawPointer?

    /// Skips where the counting wrappers are not in effect (a sanitizer's allocator replaces them,
    /// or the C library is not glibc), so that a count of 0 always means no allocation, and in a
    /// debug build.
    func requireCounting() throws {
        #if DEBUG
        // At -Onone closure contexts and temporaries go to the heap that -O keeps on the stack: the
        // counts say nothing about the library as built for use. (`swift test -c release` runs these.)
        throw XCTSkip("allocation counts need an optimized build (swift test -c release)")
        #endif
        let before = tessera_thread_allocations()
        Self.sink = malloc(24)   // kept in a static: an unused malloc/free pair is optimized away
        free(Self.sink)
        if tessera_thread_allocations() == before {
            throw XCTSkip("the allocation counter is not in effect in this build (sanitizer or non-glibc C library)")
        }
    }

    func testConvolutionForwardIntoAllocatesNothing() throws {
        try requireCounting()
        let conv3x3 = Conv2DDescriptor(inChannels: 16, outChannels: 16, kernel: 3, padding: 1)
        let cases: [(shape: [Int], descriptor: Conv2DDescriptor, algorithm: ConvAlgorithm?)] = [
            ([1, 16, 20, 40], conv3x3, .directIndirect),
            ([1, 16, 20, 40], conv3x3, .directTransposed),
            ([2, 16, 20, 40], conv3x3, .implicitGEMM),
            ([1, 16, 20, 40], conv3x3, .im2colGEMM),
            ([1, 16, 20, 40], conv3x3, .winograd2x2),
            ([1, 16, 20, 40], conv3x3, .winograd4x4),
            ([1, 16, 20, 40], conv3x3, .winograd6x6),
            ([1, 64, 16, 16], .init(inChannels: 64, outChannels: 64, kernel: 3, padding: 1), nil),   // automatic: Winograd
            ([1, 3, 30, 70], .init(inChannels: 3, outChannels: 8, kernel: 7, stride: 2, padding: 3), nil),   // strided direct
            ([2, 32, 9, 9], .init(inChannels: 32, outChannels: 24, kernel: 1), .gemm1x1),
            ([1, 64, 7, 7], .init(inChannels: 64, outChannels: 256, kernel: 1), .gemm1x1),   // transposed: Yᵀ = Xᵀ·Wᵀ
            ([1, 256, 7, 7], .init(inChannels: 256, outChannels: 64, kernel: 1), nil),   // automatic: direct-transposed, no copy
            ([1, 12, 11, 13], .init(inChannels: 12, outChannels: 6, kernel: 3, stride: 2, padding: 1, groups: 2), nil),
        ]
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            GEMMMicroKernel.active = kernel
            defer { GEMMMicroKernel.active = GEMMMicroKernel.best }
            for c in cases {
                var g = SeededGenerator(seed: 5)
                let x = try Tensor(shape: c.shape, generator: &g)
                let w = try Tensor(shape: c.descriptor.weightShape, generator: &g, low: -0.2, high: 0.2)
                let b = try Tensor(shape: [c.descriptor.outChannels], generator: &g)
                let plan = try Conv2DPlan(descriptor: c.descriptor, weights: w, bias: b, relu: true, algorithm: c.algorithm)
                let expected = try plan.forward(x, threads: 1)
                var y = try Tensor(shape: expected.shape, repeating: .nan)
                try plan.forward(x, into: &y, threads: 1)   // the first call on this buffer
                let before = tessera_thread_allocations()
                for _ in 0..<3 { try plan.forward(x, into: &y, threads: 1) }
                let allocations = tessera_thread_allocations() - before   // before building any message
                let what = "\(c.shape) \(c.descriptor) \(try plan.algorithm(forInputShape: x.shape).rawValue) \(kernel)"
                XCTAssertEqual(allocations, 0, "allocations in 3 steady-state calls: \(what)")
                XCTAssertTrue(y.scalars.elementsEqual(expected.scalars) { $0.bitPattern == $1.bitPattern },
                              "forward(into:) differs from forward: \(what)")
            }
        }
    }

    /// The 3×3/2 pooling kernels' row buffers come from the workspace pool, one per thread: a call
    /// allocates its output tensor (2 allocations: its shape and its storage object; the buffer is
    /// recycled) and nothing per plane (it was a malloc per plane, on rows over 1 KiB: 37 a call).
    func testPoolingAllocatesNothingPerPlane() throws {
        try requireCounting()
        let x = try Tensor(shape: [1, 32, 224, 224], seed: 3)
        let d = Pool2DDescriptor(window: 3, stride: 2, padding: 1)
        for average in [false, true] {
            let pool = { average ? try Pooling.avgPool2d(x, d, threads: 1) : try Pooling.maxPool2d(x, d, threads: 1).output }
            _ = try pool()
            let before = tessera_thread_allocations()
            for _ in 0..<3 { _ = try pool() }
            let perCall = (tessera_thread_allocations() - before) / 3
            XCTAssertLessThanOrEqual(perCall, 2, "allocations per call, average: \(average) (32 planes)")
        }
    }

    /// Tensor buffers of 64 KiB and more are recycled, not malloc'd again: glibc handed freed buffers of
    /// 64–256 KiB back to the system (heap trimming), so each call faulted their pages in again (a 3×3/2
    /// max-pool over 16×112×112, 200 KiB out: 64 page faults and 220 µs a call, 28 µs recycled). A
    /// recycled buffer costs no allocation at all (the cache's own bookkeeping made three), so a tensor
    /// is one allocation (its storage object), or two with its buffer from malloc.
    func testMidSizedTensorBuffersAreRecycled() throws {
        try requireCounting()
        XCTAssertEqual(try allocationsPerTensor([1, 64, 32, 32]), 1, "256 KiB")
        XCTAssertEqual(try allocationsPerTensor([1, 16, 32, 32]), 1, "64 KiB")
        XCTAssertEqual(try allocationsPerTensor([1, 49, 32, 32]), 1, "196 KiB")
        XCTAssertEqual(try allocationsPerTensor([1, 15, 32, 32]), 2, "60 KiB: from malloc")
    }

    /// A full buffer cache makes room for the size just freed: after more than its capacity in
    /// tensors of 300 other sizes, a size not seen before is still recycled. (It used to keep the
    /// stale sizes and fault every new one in on each call: VGG pool1 with indices 0.32 → 1.5 ms.)
    func testFullCacheStillRecyclesNewSizes() throws {
        try requireCounting()
        for i in 0..<300 { _ = try Tensor(shape: [262_144 + 16 * i], unsafeUninitializedInitializingWith: { _ in }) }
        XCTAssertEqual(try allocationsPerTensor([1, 3, 301, 299]), 1)
    }

    /// Heap allocations per `Tensor(shape:)` of this shape, after one to warm the buffer cache.
    func allocationsPerTensor(_ shape: [Int]) throws -> Int {
        _ = try Tensor(shape: shape)
        let before = tessera_thread_allocations()
        for _ in 0..<4 { _ = try Tensor(shape: shape) }
        return (tessera_thread_allocations() - before) / 4
    }

    func testForwardIntoRejectsAnOutputOfAnotherShapeAndWritesNothing() throws {
        let d = Conv2DDescriptor(inChannels: 4, outChannels: 8, kernel: 3, padding: 1)
        let plan = try Conv2DPlan(descriptor: d, weights: try Tensor(shape: d.weightShape, seed: 1))
        let x = try Tensor(shape: [1, 4, 6, 6], seed: 2)
        for shape in [[1, 8, 6, 5], [2, 8, 6, 6], [1, 4, 6, 6], [8, 6, 6]] {
            var y = try Tensor(shape: shape, repeating: 7)
            XCTAssertThrowsError(try plan.forward(x, into: &y), "\(shape)") { error in
                XCTAssertTrue("\(error)".contains("[1, 8, 6, 6]"), "the error names the expected shape: \(error)")
            }
            XCTAssertTrue(y.scalars.allSatisfy { $0 == 7 }, "\(shape) written")
        }
    }
}
