import Synchronization

/// Storage of a tensor: one contiguous, 64-byte-aligned `Float` buffer.
///
/// Large buffers are recycled through `TensorBufferCache`.
/// 64-byte alignment puts every row start that is a multiple of 16 floats on a
/// cache line, which the SIMD kernels rely on for their aligned fast paths.
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int

    init(count: Int) {
        self.count = count
        let raw = TensorBufferCache.allocate(bytes: max(count, 1) * MemoryLayout<Float>.stride)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func copy() -> TensorStorage {
        let s = TensorStorage(count: count)
        s.base.update(from: base, count: count)
        return s
    }

    deinit { TensorBufferCache.deallocate(UnsafeMutableRawPointer(base), bytes: max(count, 1) * MemoryLayout<Float>.stride) }
}

/// A dense `Float` tensor in row-major order, NCHW for images (SPEC §1).
///
/// `Tensor` has value semantics: copies share storage until one of them is
/// written (copy on write). Its buffer is contiguous and aligned to 64 bytes.
///
/// ```swift
/// let x = try Tensor(shape: [1, 3, 224, 224], seed: 42)        // uniform in [-1, 1)
/// let w = try Tensor(shape: [2, 1, 2, 2], values: [1, 1, 1, 1, 0, 0, 0, 1])
/// print(x[0, 2, 10, 10], w.shape)
/// ```
public struct Tensor: Sendable, CustomStringConvertible {
    /// The extent of each axis, outermost first; e.g. `[N, C, H, W]`.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// The number of elements: the product of `shape`.
    public var count: Int { storage.count }
    /// The number of axes.
    public var rank: Int { shape.count }

    /// Checks that `shape` is a usable tensor shape and returns its element count.
    public static func elementCount(of shape: [Int], operation: String = "Tensor") throws -> Int {
        guard !shape.isEmpty, shape.count <= 8 else {
            throw TesseraError.invalidShape(operation: operation, shape: shape, expected: "between 1 and 8 axes")
        }
        var n = 1
        for d in shape {
            guard d >= 1 else {
                throw TesseraError.invalidShape(operation: operation, shape: shape, expected: "every axis ≥ 1")
            }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= Int(Int32.max) * 16 else {
                throw TesseraError.invalidShape(operation: operation, shape: shape, expected: "fewer than 2^35 elements")
            }
            n = p
        }
        return n
    }

    /// A tensor of the given shape with every element equal to `value` (0 by default).
    public init(shape: [Int], repeating value: Float = 0) throws {
        let n = try Tensor.elementCount(of: shape)
        self.shape = shape
        storage = TensorStorage(count: n)
        storage.base.initialize(repeating: value, count: n)
    }

    /// A tensor whose elements `initializer` writes, every one of them, before it returns.
    ///
    /// Kernels that overwrite their whole output use this to skip the zero-fill pass of
    /// `init(shape:repeating:)`. Elements the initializer leaves unwritten hold unspecified values.
    public init(shape: [Int], unsafeUninitializedInitializingWith initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let n = try Tensor.elementCount(of: shape)
        self.shape = shape
        storage = TensorStorage(count: n)
        if Tensor.fillsUninitializedWithNaN { storage.base.update(repeating: .nan, count: n) }
        try initializer(UnsafeMutableBufferPointer(start: storage.base, count: n))
    }

    /// A testing aid, off by default: when on, `init(shape:unsafeUninitializedInitializingWith:)`
    /// fills the buffer with NaN before the initializer runs. An element a kernel leaves unwritten
    /// then shows up as NaN, instead of whatever a recycled buffer held (perhaps the correct value,
    /// left there by the previous call). The test suites turn it on; it costs a pass over the output.
    public static var fillsUninitializedWithNaN: Bool {
        get { nanFill.load(ordering: .relaxed) }
        set { nanFill.store(newValue, ordering: .relaxed) }
    }
    private static let nanFill = Atomic<Bool>(false)

    /// A tensor built from `values` in row-major order; `values.count` must match `shape`.
    public init(shape: [Int], values: [Float]) throws {
        let n = try Tensor.elementCount(of: shape)
        guard values.count == n else {
            throw TesseraError.invalidShape(
                operation: "Tensor(shape:values:)", shape: shape,
                expected: "\(values.count) values to fill it, but the shape holds \(n)")
        }
        self.shape = shape
        storage = TensorStorage(count: n)
        values.withUnsafeBufferPointer { storage.base.initialize(from: $0.baseAddress!, count: n) }
    }

    /// A tensor of uniform random values in [`low`, `high`) from a seeded generator.
    public init(shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) throws {
        var g = SeededGenerator(seed: seed)
        try self.init(shape: shape, generator: &g, low: low, high: high)
    }

    /// A tensor of uniform random values in [`low`, `high`) drawn from `generator`.
    public init(shape: [Int], generator: inout SeededGenerator, low: Float = -1, high: Float = 1) throws {
        try self.init(shape: shape)
        let p = storage.base
        for i in 0..<count { p[i] = generator.nextFloat(in: low, high) }
    }

    /// A tensor of normal random values with the given standard deviation.
    public init(shape: [Int], normalWithStandardDeviation std: Float, generator: inout SeededGenerator) throws {
        try self.init(shape: shape)
        let p = storage.base
        for i in 0..<count { p[i] = std * generator.nextNormal() }
    }

    init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let n = try Tensor.elementCount(of: newShape, operation: "Tensor.reshaped")
        guard n == count else {
            throw TesseraError.invalidShape(
                operation: "Tensor.reshaped", shape: newShape,
                expected: "\(count) elements, as in \(shape)")
        }
        return Tensor(shape: newShape, storage: storage)
    }

    /// Calls `body` with a read-only view of the contiguous storage.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    /// Calls `body` with a writable view of the contiguous storage (copying it first if shared).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    @usableFromInline
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Element at a flat row-major index. Traps when out of range, like `Array`.
    public subscript(flat i: Int) -> Float {
        get {
            precondition(i >= 0 && i < count, "Tensor index \(i) out of range 0..<\(count)")
            return storage.base[i]
        }
        set {
            precondition(i >= 0 && i < count, "Tensor index \(i) out of range 0..<\(count)")
            makeUnique()
            storage.base[i] = newValue
        }
    }

    /// Element at a multi-axis index, one coordinate per axis. Traps when out of range, like `Array`.
    public subscript(_ index: Int...) -> Float {
        get { storage.base[offset(index)] }
        set {
            let o = offset(index)
            makeUnique()
            storage.base[o] = newValue
        }
    }

    /// Element at (i0, i1) of a rank-2 tensor. Traps when out of range, like `Array`.
    public subscript(_ i0: Int, _ i1: Int) -> Float {
        get { storage.base[offset2(i0, i1)] }
        set { let o = offset2(i0, i1); makeUnique(); storage.base[o] = newValue }
    }

    /// Element at (i0, i1, i2) of a rank-3 tensor. Traps when out of range, like `Array`.
    public subscript(_ i0: Int, _ i1: Int, _ i2: Int) -> Float {
        get { storage.base[offset3(i0, i1, i2)] }
        set { let o = offset3(i0, i1, i2); makeUnique(); storage.base[o] = newValue }
    }

    /// Element at (n, c, h, w) of a rank-4 tensor. Traps when out of range, like `Array`.
    public subscript(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int) -> Float {
        get { storage.base[offset4(i0, i1, i2, i3)] }
        set { let o = offset4(i0, i1, i2, i3); makeUnique(); storage.base[o] = newValue }
    }

    @inline(__always) private func offset2(_ a: Int, _ b: Int) -> Int {
        precondition(shape.count == 2 && UInt(a) < UInt(shape[0]) && UInt(b) < UInt(shape[1]),
                     "Tensor index [\(a), \(b)] out of range for shape \(shape)")
        return a * shape[1] + b
    }

    @inline(__always) private func offset3(_ a: Int, _ b: Int, _ c: Int) -> Int {
        precondition(shape.count == 3 && UInt(a) < UInt(shape[0]) && UInt(b) < UInt(shape[1]) && UInt(c) < UInt(shape[2]),
                     "Tensor index [\(a), \(b), \(c)] out of range for shape \(shape)")
        return (a * shape[1] + b) * shape[2] + c
    }

    @inline(__always) private func offset4(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int {
        precondition(shape.count == 4 && UInt(a) < UInt(shape[0]) && UInt(b) < UInt(shape[1])
                     && UInt(c) < UInt(shape[2]) && UInt(d) < UInt(shape[3]),
                     "Tensor index [\(a), \(b), \(c), \(d)] out of range for shape \(shape)")
        return ((a * shape[1] + b) * shape[2] + c) * shape[3] + d
    }

    /// The flat offset of a multi-axis index.
    public func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Tensor of shape \(shape) indexed with \(index.count) coordinates")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "Tensor index \(index) out of range for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// NCHW extents of a rank-4 tensor, or a thrown error naming the shape.
    public func nchw(_ operation: String) throws -> (n: Int, c: Int, h: Int, w: Int) {
        guard rank == 4 else {
            throw TesseraError.invalidShape(operation: operation, shape: shape, expected: "4 axes N×C×H×W")
        }
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// A readable summary.
    public var description: String {
        let head = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}
