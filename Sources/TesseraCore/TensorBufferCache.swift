/// Recycles large tensor buffers.
///
/// A fresh large allocation comes from `mmap`, so every page faults on its first write: measured
/// here at about 1.3 µs per 4 KiB page, 16 % of a VGG-16 conv layer's time once Winograd made the
/// arithmetic fast. A network allocates the same activation sizes on every call, so freed buffers
/// of at least `minimumBytes` are kept (up to `capacityBytes` in all) and handed back to the next
/// allocation of exactly the same size, already faulted in. The memory this holds is part of what
/// `perf/memory.md` measures.
///
/// Taking a buffer pops it through `Dictionary.values[index]`: `free[bytes]?.popLast()` made three
/// heap allocations per call (the optional-chained accessor copies the array; MallocCounter).
enum TensorBufferCache {
    /// Buffers below this size come from malloc's own free lists. Above it, glibc can give a freed
    /// buffer back to the system (it trims the heap's top past 128 KiB, and serves large requests
    /// from mmap): with 256 KiB here, a 3×3/2 max-pool over 16×112×112 (200 KiB out) faulted 64
    /// pages a call, 220 µs against 28 recycled.
    static let minimumBytes = 64 << 10
    /// The most the cache holds; a buffer freed past it is released to the system.
    static let capacityBytes = 256 << 20

    private static let cache = Locked<(free: [Int: [UInt]], bytes: Int)>(([:], 0))

    /// A 64-byte-aligned buffer of `bytes` bytes, recycled when one of that size is free.
    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= minimumBytes, let address = cache.withLock({ c -> UInt? in
            guard let i = c.free.index(forKey: bytes), let address = c.free.values[i].popLast() else { return nil }
            c.bytes -= bytes
            return address
        }) {
            return UnsafeMutableRawPointer(bitPattern: address)!
        }
        return LargeAllocation.allocate(byteCount: bytes)
    }

    /// Returns a buffer from `allocate(bytes:)`. When the cache is full, buffers of other sizes are
    /// released to make room: a process that meets new shapes (Bench's suites one after another)
    /// otherwise filled it with sizes it no longer used, and every new size faulted its pages in on
    /// each call again (VGG pool1 with indices 0.32 → 1.5 ms after 300 MiB of other sizes).
    static func deallocate(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let kept = bytes >= minimumBytes && bytes <= capacityBytes && cache.withLock { c in
            var i = c.free.startIndex
            while c.bytes + bytes > capacityBytes && i != c.free.endIndex {
                let size = c.free.keys[i]
                while size != bytes && c.bytes + bytes > capacityBytes, let address = c.free.values[i].popLast() {
                    UnsafeMutableRawPointer(bitPattern: address)!.deallocate()
                    c.bytes -= size
                }
                c.free.formIndex(after: &i)
            }
            guard c.bytes + bytes <= capacityBytes else { return false }
            c.free[bytes, default: []].append(UInt(bitPattern: pointer))
            c.bytes += bytes
            return true
        }
        if !kept { pointer.deallocate() }
    }
}
