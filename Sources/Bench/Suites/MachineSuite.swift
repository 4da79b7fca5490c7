import Kernels
import Scheduler

/// Measures the FMA peak (1 thread, all threads) and memory bandwidth: the yardsticks of every other figure.
enum MachineSuite {
    static func measure(_ ctx: BenchContext) -> MachinePeak {
        var peak = MachinePeak()
        let quick = ctx.options.quick
        let iterations = quick ? 5_000_000 : 20_000_000
        let repeats = quick ? 3 : 7

        func fmaRate(threads: Int) -> Double {
            let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
            defer { sink.deallocate() }
            var flops = 0.0
            let t = Measure.median(minRepeats: repeats, budget: 0) {
                Scheduler.parallelFor(tiles: threads, work: .infinity, threads: threads) { i in
                    let f = MachineProbes.widestFMAChains(iterations: iterations, sink: sink + i)
                    if i == 0 { flops = f }
                }
            }
            return flops * Double(threads) / t / 1e9
        }
        peak.fmaGflops1 = fmaRate(threads: 1)
        peak.fmaGflopsAll = ctx.allThreads > 1 ? fmaRate(threads: ctx.allThreads) : peak.fmaGflops1

        // Arrays of 512 MiB (64 MiB with --quick): twice the largest L3 seen here (260 MiB), so this is DRAM.
        let count = (quick ? 16 : 128) << 20
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        a.initialize(repeating: 1, count: count)
        b.initialize(repeating: 2, count: count)
        c.initialize(repeating: 3, count: count)

        func split(_ threads: Int, _ body: (Range<Int>) -> Void) {
            let chunk = (count / threads) & ~31
            Scheduler.parallelFor(tiles: threads, work: .infinity, threads: threads) { t in
                body(t * chunk ..< (t == threads - 1 ? count : (t + 1) * chunk))
            }
        }
        func readRate(threads: Int) -> Double {
            let sink = UnsafeMutablePointer<Float>.allocate(capacity: count / 32)
            defer { sink.deallocate() }
            let t = Measure.median(minRepeats: repeats, budget: 0) {
                split(threads) { r in sink[r.lowerBound / 32] = MachineProbes.readSum(a + r.lowerBound, count: r.count) }
            }
            return Double(count * 4) / t / 1e9
        }
        func triadRate(threads: Int) -> Double {
            let t = Measure.median(minRepeats: repeats, budget: 0) {
                split(threads) { r in
                    MachineProbes.triad(a + r.lowerBound, b + r.lowerBound, c + r.lowerBound, scalar: 0.5, count: r.count)
                }
            }
            return Double(count * 12) / t / 1e9
        }
        peak.readGBps1 = readRate(threads: 1)
        peak.triadGBps1 = triadRate(threads: 1)
        peak.readGBpsAll = ctx.allThreads > 1 ? readRate(threads: ctx.allThreads) : peak.readGBps1
        peak.triadGBpsAll = ctx.allThreads > 1 ? triadRate(threads: ctx.allThreads) : peak.triadGBps1

        // Cache-resident read bandwidth: each thread sums its own buffer, many times over.
        func cachedRate(bytesPerThread: Int, threads: Int) -> Double {
            let n = bytesPerThread / 4 & ~63
            let passes = max(1, (64 << 20) / bytesPerThread)
            let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads * 16)
            defer { sink.deallocate() }
            let t = Measure.median(minRepeats: repeats, budget: 0) {
                Scheduler.parallelFor(tiles: threads, work: .infinity, threads: threads) { i in
                    let base = a + i * n
                    for _ in 0..<passes { sink[i * 16] = MachineProbes.readSum(base, count: n) }
                }
            }
            return Double(n * 4 * passes * threads) / t / 1e9
        }
        let l2Bytes = CacheSizes.l2 / 4, l3Bytes = min(CacheSizes.l3 / 8, 32 << 20) / max(ctx.allThreads, 1)
        peak.l2GBps1 = cachedRate(bytesPerThread: l2Bytes, threads: 1)
        peak.l3GBps1 = cachedRate(bytesPerThread: min(CacheSizes.l3 / 8, 32 << 20), threads: 1)
        peak.l2GBpsAll = ctx.allThreads > 1 ? cachedRate(bytesPerThread: l2Bytes, threads: ctx.allThreads) : peak.l2GBps1
        peak.l3GBpsAll = ctx.allThreads > 1 ? cachedRate(bytesPerThread: l3Bytes, threads: ctx.allThreads) : peak.l3GBps1

        let r = ctx.reporter
        for (threads, gflops, read, triad) in [(1, peak.fmaGflops1, peak.readGBps1, peak.triadGBps1),
                                               (ctx.allThreads, peak.fmaGflopsAll, peak.readGBpsAll, peak.triadGBpsAll)]
        where threads == 1 || ctx.allThreads > 1 {
            r.record(CaseResult(suite: "machine", name: "fma_peak", threads: threads,
                                seconds: 0, gflops: gflops, peakFraction: 1, algorithm: "independent FMA chains, \(MachineProbes.widestFMA)"))
            r.record(CaseResult(suite: "machine", name: "dram_read", threads: threads,
                                seconds: 0, gbps: read, algorithm: "SIMD8 sum over \((count * 4) >> 20) MiB"))
            r.record(CaseResult(suite: "machine", name: "l2_read", threads: threads, seconds: 0,
                                gbps: threads == 1 ? peak.l2GBps1 : peak.l2GBpsAll,
                                algorithm: "SIMD8 sum over \(l2Bytes >> 10) KiB per thread"))
            r.record(CaseResult(suite: "machine", name: "l3_read", threads: threads, seconds: 0,
                                gbps: threads == 1 ? peak.l3GBps1 : peak.l3GBpsAll,
                                algorithm: "SIMD8 sum over \((threads == 1 ? min(CacheSizes.l3 / 8, 32 << 20) : l3Bytes * threads) >> 20) MiB"))
            r.record(CaseResult(suite: "machine", name: "dram_triad", threads: threads,
                                seconds: 0, gbps: triad, algorithm: "a = b + s·c, 3×\((count * 4) >> 20) MiB"))
        }
        return peak
    }
}
