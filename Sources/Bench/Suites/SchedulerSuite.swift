import Dispatch
import Kernels
import Scheduler

/// Suite `scheduler`: what one parallel region costs.
///
/// - `empty_region`: `parallelFor` over 2 tiles with empty bodies on all threads: the call itself.
/// - `wake_cost`: a region of 2 tiles × ~250 µs of FMA work on 2 threads, minus one tile's
///   serial time: the price of waking the idle core and joining it.
enum SchedulerSuite {
    static let suite = Suite(name: "scheduler") { ctx in
        let threads = ctx.allThreads
        guard threads > 1 else { return }
        if ctx.wants("scheduler", "empty_region") {
            let calls = 10_000
            let t = Measure.median(minRepeats: 5, budget: 0.2) {
                for _ in 0..<calls { Scheduler.parallelFor(tiles: threads, workers: threads) { _, _ in } }
            } / Double(calls)
            ctx.reporter.record(CaseResult(suite: "scheduler", name: "empty_region", threads: threads, seconds: t,
                                           algorithm: "concurrentPerform, dynamic tiles"))
        }
        if ctx.wants("scheduler", "wake_cost") {
            let sink = UnsafeMutablePointer<Float>.allocate(capacity: 64)
            defer { sink.deallocate() }
            // ~250 µs of FMA chains per tile at this machine's peak.
            let iterations = Int(250e-6 * ctx.peak.fmaGflops1 * 1e9 / 192)
            let serial = Measure.median(minRepeats: 21, budget: 0.3) {
                sink[0] = MachineProbes.fmaChains(iterations: iterations)
            }
            let parallel = Measure.median(minRepeats: 21, budget: 0.3) {
                Scheduler.parallelFor(tiles: threads, workers: threads) { tile, _ in
                    sink[tile * 16] = MachineProbes.fmaChains(iterations: iterations)
                }
            }
            ctx.reporter.record(CaseResult(suite: "scheduler", name: "wake_cost", threads: threads,
                                           seconds: max(parallel - serial, 0),
                                           algorithm: "region of \(threads)×\(Int(serial * 1e6)) µs minus one tile"))
        }
    }
}
