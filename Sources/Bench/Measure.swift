import Dispatch

/// Wall-clock timing with medians, since the machines are shared and noisy (DEVELOPERS.md).
enum Measure {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Runs `body` once to warm up, then repeatedly; returns the median time in seconds.
    /// Repeats at least `minRepeats` times and keeps going until `minRepeats` and `budget` seconds are both spent,
    /// capped at `maxRepeats`.
    static func median(minRepeats: Int = 5, maxRepeats: Int = 50, budget: Double = 0.5, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        let start = now()
        while times.count < maxRepeats {
            let t0 = now()
            body()
            times.append(Double(now() - t0) * 1e-9)
            if times.count >= minRepeats && Double(now() - start) * 1e-9 >= budget { break }
        }
        times.sort()
        return times[times.count / 2]
    }
}
