/// A process-wide pool of 64-byte-aligned scratch buffers, so that kernels called in a
/// steady state reuse memory instead of allocating (and page-faulting) on every call.
///
/// Buffers are owned by one caller at a time: `withScratch` takes one out of the pool
/// and puts it back when the closure returns, so concurrent callers never share scratch.
public enum Workspace {
    private static let pool = Locked<[ScratchBuffer]>([])
    /// Bytes handed out and not yet returned, and their high-water mark.
    private static let usage = Locked<(current: Int, peak: Int)>((0, 0))
    /// Buffers kept for reuse at most; the largest ones are kept.
    private static let maximumPooled = 8

    /// Calls `body` with at least `count` floats of uninitialized, 64-byte-aligned scratch.
    public static func withScratch<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let bytes = max(count, 16) * 4
        usage.withLock { $0.current += bytes; $0.peak = max($0.peak, $0.current) }
        let buffer = take(count: max(count, 16))
        defer {
            give(buffer)
            usage.withLock { $0.current -= bytes }
        }
        return try body(buffer.base)
    }

    /// Bytes currently held in the pool (for memory reports).
    public static var pooledBytes: Int { pool.withLock { $0.reduce(0) { $0 + $1.count * 4 } } }

    /// The most scratch bytes held out at once since the last `resetPeak()` (all callers together):
    /// what an operation needed, measured.
    public static var peakBytes: Int { usage.withLock { $0.peak } }

    /// Restarts `peakBytes` from the bytes held out now.
    public static func resetPeak() { usage.withLock { $0.peak = $0.current } }

    /// Frees every pooled buffer.
    public static func drain() { pool.withLock { $0.removeAll() } }

    private static func take(count: Int) -> ScratchBuffer {
        let found: ScratchBuffer? = pool.withLock { buffers in
            // The smallest pooled buffer that is large enough.
            var best: Int? = nil
            for (i, b) in buffers.enumerated() where b.count >= count {
                if best == nil || b.count < buffers[best!].count { best = i }
            }
            return best.map { buffers.remove(at: $0) }
        }
        return found ?? ScratchBuffer(count: count)
    }

    private static func give(_ buffer: ScratchBuffer) {
        pool.withLock { buffers in
            buffers.append(buffer)
            if buffers.count > maximumPooled {
                buffers.sort { $0.count > $1.count }
                buffers.removeLast()
            }
        }
    }
}

private final class ScratchBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
        self.count = count
        base = LargeAllocation.allocate(byteCount: count * 4).bindMemory(to: Float.self, capacity: count)
    }
    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
