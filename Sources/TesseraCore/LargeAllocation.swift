#if canImport(Glibc)
import Glibc
#endif

/// Allocation of the library's large buffers (packed weights, Winograd U, scratch, tensors).
///
/// Buffers of at least `hugePageBytes` are aligned to 2 MiB and, on Linux, advised as transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`; with THP in its common `madvise` mode nothing is a huge
/// page otherwise). A micro-kernel streaming 16–40 MiB of Winograd U or packed weights then walks
/// a handful of TLB entries instead of thousands of 4 KiB pages. Free with `deallocate()`.
public enum LargeAllocation {
    public static let hugePageBytes = 2 << 20

    public static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        guard byteCount >= hugePageBytes else { return .allocate(byteCount: byteCount, alignment: 64) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: hugePageBytes)
        #if os(Linux)
        // Whole huge pages of this buffer only: the tail belongs to no one else's advice.
        _ = madvise(p, byteCount / hugePageBytes * hugePageBytes, 14 /* MADV_HUGEPAGE */)
        #endif
        return p
    }
}
