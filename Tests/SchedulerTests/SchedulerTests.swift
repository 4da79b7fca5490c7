import XCTest
import Synchronization
import Scheduler

final class SchedulerTests: XCTestCase {
    override func tearDown() { Scheduler.maximumThreads = 0 }

    func testThreadCountRules() {
        XCTAssertGreaterThanOrEqual(Scheduler.availableThreads, 1)
        // Small work stays on the caller.
        XCTAssertEqual(Scheduler.threadCount(tiles: 100, work: 1e3, threads: 8), 1)
        // Never more threads than tiles; the per-call cap wins.
        XCTAssertEqual(Scheduler.threadCount(tiles: 3, work: 1e12, threads: 8), 3)
        XCTAssertEqual(Scheduler.threadCount(tiles: 100, work: 1e12, threads: 5), 5)
        // The global cap applies when no per-call cap is given.
        Scheduler.maximumThreads = 1
        XCTAssertEqual(Scheduler.threadCount(tiles: 100, work: 1e12), 1)
        Scheduler.maximumThreads = 0
        XCTAssertEqual(Scheduler.maximumThreads, Scheduler.availableThreads)
    }

    func testEveryTileRunsExactlyOnce() {
        for workers in [1, 2, 5] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
            hits.initialize(repeating: 0, count: 1000)
            defer { hits.deallocate() }
            // Each tile writes only its own slot, as the scheduler's contract requires.
            Scheduler.parallelFor(tiles: 1000, workers: workers) { tile, worker in
                XCTAssertLessThan(worker, workers)
                hits[tile] += 1
            }
            XCTAssertTrue((0..<1000).allSatisfy { hits[$0] == 1 }, "workers \(workers)")
        }
    }

    func testLaterTilesSeeWhatEarlierTilesWroteBeforeArriving() {
        // The first 16 tiles fill a buffer (slowly, so that later tiles really wait), the other
        // 64 read all of it after waiting on the latch: the GEMM's shared packed B in miniature.
        for workers in [1, 2, 5] {
            let data = UnsafeMutablePointer<Int>.allocate(capacity: 16 * 4096)
            let sums = UnsafeMutablePointer<Int>.allocate(capacity: 64)
            data.initialize(repeating: 0, count: 16 * 4096)
            sums.initialize(repeating: 0, count: 64)
            defer { data.deallocate(); sums.deallocate() }
            let latch = TileLatch()
            Scheduler.parallelFor(tiles: 80, workers: workers) { tile, _ in
                if tile < 16 {
                    usleep(1000)
                    for i in 0..<4096 { data[tile * 4096 + i] = tile + 1 }
                    latch.arrive()
                    return
                }
                latch.wait(until: 16)
                var s = 0
                for i in 0..<(16 * 4096) { s += data[i] }
                sums[tile - 16] = s
            }
            XCTAssertTrue((0..<64).allSatisfy { sums[$0] == 4096 * (16 * 17 / 2) }, "workers \(workers)")
        }
    }

    func testNestedRegionsRunSerially() {
        let nestedCounts = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        nestedCounts.initialize(repeating: -1, count: 4)
        defer { nestedCounts.deallocate() }
        XCTAssertFalse(Scheduler.isInsideParallelRegion)
        Scheduler.parallelFor(tiles: 4, workers: 4) { tile, _ in
            XCTAssertTrue(Scheduler.isInsideParallelRegion)
            nestedCounts[tile] = Scheduler.threadCount(tiles: 64, work: 1e12, threads: 8)
        }
        XCTAssertFalse(Scheduler.isInsideParallelRegion)
        XCTAssertEqual((0..<4).map { nestedCounts[$0] }, [1, 1, 1, 1])
    }
}
