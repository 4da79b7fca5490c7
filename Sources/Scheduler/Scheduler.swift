import CPUHints
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The work scheduler: parallel loops over tile grids on `DispatchQueue.concurrentPerform`.
///
/// Rules it enforces (DEVELOPERS.md "Threads", ANCHORS.md §4):
/// - one parallel region per operation, and only when the work is worth waking a core
///   (`minimumParallelWork`, about 0.5 ms of FMA work);
/// - a kernel called from inside a parallel region runs serially instead of nesting;
/// - tiles are claimed dynamically, but each tile's result depends only on its index,
///   so results are bit-identical for any thread count;
/// - the thread count comes from the CPU affinity mask, can be capped by the
///   `TESSERA_NUM_THREADS` environment variable or `maximumThreads`, and never exceeds
///   the number of tiles.
public enum Scheduler {
    /// CPUs in this process's affinity mask (what `taskset` or a cgroup cpuset allows).
    public static let availableThreads: Int = affinityCPUCount()

    /// Work below this (in flop-equivalents, ≈ 0.5 ms of one core's FMA peak) runs on the caller.
    public static let minimumParallelWork: Double = 5e7

    /// Pause rounds (~65 cycles each on Zen) the caller spins at a region's end, about a millisecond at
    /// most, before it leaves the waiting to concurrentPerform.
    static let joinSpinLimit = 50_000

    /// Flop-equivalents per byte for memory-bound work: ~116 GFLOPS ÷ ~30 GB/s on this machine.
    public static let flopsPerByte: Double = 4

    private static let threadCap = Atomic<Int>(environmentThreadCap() ?? 0)

    /// The most threads one operation uses: the `TESSERA_NUM_THREADS` environment variable
    /// or the last value set here, else `availableThreads`. Set 0 to return to the default.
    public static var maximumThreads: Int {
        get {
            let cap = threadCap.load(ordering: .relaxed)
            return cap > 0 ? cap : availableThreads
        }
        set { threadCap.store(max(newValue, 0), ordering: .relaxed) }
    }

    /// True on a thread that is executing the body of a parallel region.
    public static var isInsideParallelRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// The number of threads a region of `tiles` tiles and `work` flop-equivalents would use.
    /// - Parameter threads: a per-call cap; `nil` uses `maximumThreads`.
    public static func threadCount(tiles: Int, work: Double, threads: Int? = nil) -> Int {
        if tiles <= 1 || isInsideParallelRegion || work < minimumParallelWork { return 1 }
        let cap = max(1, threads ?? maximumThreads)
        return min(cap, tiles)
    }

    /// Runs `body(tile)` for every tile in `0..<tiles`, in parallel when it pays.
    ///
    /// - Parameters:
    ///   - tiles: the number of independent tiles.
    ///   - work: the total work of all tiles, in flop-equivalents (bytes × `flopsPerByte`
    ///     for memory-bound work). Small work runs on the calling thread.
    ///   - threads: a per-call cap on the thread count; `nil` uses `maximumThreads`.
    ///   - body: computes one tile. It must write only memory that belongs to that tile.
    public static func parallelFor(tiles: Int, work: Double, threads: Int? = nil, _ body: (Int) -> Void) {
        let n = threadCount(tiles: tiles, work: work, threads: threads)
        parallelFor(tiles: tiles, workers: n) { tile, _ in body(tile) }
    }

    /// Runs `body(tile, worker)` for every tile on exactly `workers` threads (the caller's included),
    /// where `worker` in `0..<workers` names the thread's private scratch. Get `workers` from
    /// `threadCount(tiles:work:threads:)` so that the small-work and nesting rules hold.
    public static func parallelFor(tiles: Int, workers: Int, _ body: (_ tile: Int, _ worker: Int) -> Void) {
        guard tiles > 0 else { return }
        let n = max(1, min(workers, tiles))
        if n == 1 {
            for t in 0..<tiles { body(t, 0) }
            return
        }
        let next = TileCounter(), finished = TileLatch()
        let caller = pthread_self()
        withoutActuallyEscaping(body) { body in
            // concurrentPerform's closure is @Sendable; the tiles handed to each worker are disjoint.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: n) { worker in
                let outer = pthread_getspecific(regionKey)
                pthread_setspecific(regionKey, regionMarker)
                defer { pthread_setspecific(regionKey, outer) }
                while true {
                    let t = next.claim()
                    if t >= tiles { break }
                    body(t, worker)
                    finished.arrive()
                }
                // The caller waits for the other workers' last tiles by spinning, briefly: blocked in
                // concurrentPerform's join it was woken ~30 µs after the last tile ended (measured on
                // 2-vCPU VMs: a 0.33 ms region took 330 → 314 µs, median of 4,000 alternating calls).
                // Every unfinished tile is running on a worker that will finish it, so the spin ends.
                if pthread_equal(pthread_self(), caller) != 0 { finished.spin(until: tiles, atMost: joinSpinLimit) }
            }
        }
    }

    /// Runs `body(row, column)` over a `rows × columns` grid of tiles; see `parallelFor`.
    public static func parallelFor2D(
        rows: Int, columns: Int, work: Double, threads: Int? = nil, _ body: (Int, Int) -> Void
    ) {
        guard rows > 0, columns > 0 else { return }
        parallelFor(tiles: rows * columns, work: work, threads: threads) { t in
            body(t / columns, t % columns)
        }
    }
}

/// Counts finished tiles of a region so that a later tile can wait for earlier ones, e.g. for the
/// packed operand that the first tiles of a region write and the others read (one region instead
/// of two: one wake-up of the workers instead of two).
///
/// Waiting is safe only on tiles with *smaller* indices in the same region: `parallelFor` hands out
/// tiles in increasing order, so by the time a tile runs, every earlier tile has been claimed by a
/// running thread and will finish. On one thread the tiles run in order and never wait.
public final class TileLatch: Sendable {
    private let finished = Atomic<Int>(0)

    public init() {}

    /// Marks one tile finished; its writes become visible to the threads that `wait` for it.
    public func arrive() { finished.add(1, ordering: .releasing) }

    /// Spins (with the CPU's pause hint) until `count` tiles have arrived or `limit` rounds have passed.
    func spin(until count: Int, atMost limit: Int) {
        var rounds = 0
        while finished.load(ordering: .acquiring) < count && rounds < limit {
            rounds += 1
            tessera_spin_pause()
        }
    }

    /// Returns once `count` tiles have arrived.
    public func wait(until count: Int) {
        var spins = 0
        while finished.load(ordering: .acquiring) < count {
            spins += 1
            if spins >= 256 { sched_yield(); spins = 0 }
        }
    }
}

/// Hands out tiles in increasing index order (`TileLatch` relies on it).
private final class TileCounter: Sendable {
    private let value = Atomic<Int>(0)
    func claim() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

private let regionKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

nonisolated(unsafe) private let regionMarker = UnsafeMutableRawPointer(bitPattern: 1)

private func environmentThreadCap() -> Int? {
    guard let s = getenv("TESSERA_NUM_THREADS"), let n = Int(String(cString: s)), n > 0 else { return nil }
    return n
}

/// CPUs in the affinity mask, read from /proc (sched_getaffinity needs _GNU_SOURCE, which
/// Swift's Glibc module does not define). `activeProcessorCount` ignores `taskset`.
private func affinityCPUCount() -> Int {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            let hex = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
            let count = hex.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
            if count > 0 { return count }
        }
    }
    #endif
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}
