import Scheduler

/// The machine's own peaks, measured at the start of every Bench run (SPEC §6).
struct MachinePeak {
    var fmaGflops1: Double = 0
    var fmaGflopsAll: Double = 0
    var readGBps1: Double = 0
    var readGBpsAll: Double = 0
    var triadGBps1: Double = 0
    var triadGBpsAll: Double = 0

    func fma(threads: Int) -> Double { threads == 1 ? fmaGflops1 : fmaGflopsAll }
    func dram(threads: Int) -> Double { threads == 1 ? readGBps1 : readGBpsAll }
}

/// What every suite needs: options, output, peaks and the thread counts to run at.
struct BenchContext {
    let options: Options
    let reporter: Reporter
    var peak = MachinePeak()

    /// The "all threads" count: --threads, else the affinity count.
    var allThreads: Int { options.threads > 0 ? options.threads : Scheduler.availableThreads }
    /// Each case runs at 1 thread and at all threads.
    var threadCounts: [Int] { allThreads == 1 ? [1] : [1, allThreads] }

    func wants(_ suite: String, _ name: String) -> Bool {
        guard let f = options.filter else { return true }
        return "\(suite)/\(name)".contains(f)
    }
}

/// A Bench suite: a name and a function that measures and records its cases.
struct Suite: Sendable {
    let name: String
    let run: @Sendable (BenchContext) throws -> Void
}
