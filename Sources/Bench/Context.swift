import Foundation
import Scheduler

/// The machine's own peaks, measured at the start of every Bench run (SPEC §6).
struct MachinePeak {
    var fmaGflops1: Double = 0
    var fmaGflopsAll: Double = 0
    var readGBps1: Double = 0
    var readGBpsAll: Double = 0
    var triadGBps1: Double = 0
    var triadGBpsAll: Double = 0

    /// Read bandwidth from a buffer that fits in L2 (per core) and in L3, 1 thread / all threads.
    var l2GBps1: Double = 0, l2GBpsAll: Double = 0, l3GBps1: Double = 0, l3GBpsAll: Double = 0

    func fma(threads: Int) -> Double { threads == 1 ? fmaGflops1 : fmaGflopsAll }
    func dram(threads: Int) -> Double { threads == 1 ? readGBps1 : readGBpsAll }

    /// The cache level a working set of `bytes` fits in, and that level's measured read bandwidth.
    func bandwidth(forWorkingSet bytes: Int, threads: Int) -> (level: String, gbps: Double) {
        if bytes <= CacheSizes.l2 * threads * 3 / 4 { return ("L2", threads == 1 ? l2GBps1 : l2GBpsAll) }
        if bytes <= CacheSizes.l3 * 3 / 4 { return ("L3", threads == 1 ? l3GBps1 : l3GBpsAll) }
        return ("DRAM", dram(threads: threads))
    }
}

/// Per-core L2 and shared L3 sizes, from sysfs (defaults: Zen 4's 1 MiB and 32 MiB).
enum CacheSizes {
    static let l2 = size(level: 2) ?? (1 << 20)
    static let l3 = size(level: 3) ?? (32 << 20)

    static func size(level: Int) -> Int? {
        for index in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(index)"
            guard let l = try? String(contentsOfFile: dir + "/level", encoding: .utf8),
                  Int(l.trimmingCharacters(in: .whitespacesAndNewlines)) == level,
                  let s = try? String(contentsOfFile: dir + "/size", encoding: .utf8) else { continue }
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.hasSuffix("K"), let v = Int(t.dropLast()) { return v << 10 }
            if t.hasSuffix("M"), let v = Int(t.dropLast()) { return v << 20 }
            if let v = Int(t) { return v }
        }
        return nil
    }
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
