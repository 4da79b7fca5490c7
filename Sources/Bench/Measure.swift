import Dispatch

/// Wall-clock timing with medians, since the machines are shared and noisy (DEVELOPERS.md).
enum Measure {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Warms up (at least once, and for up to `warmUp` seconds), then runs `body` repeatedly; returns the
    /// median time in seconds. Repeats at least `minRepeats` times and keeps going until `minRepeats`
    /// and `budget` seconds are both spent, capped at `maxRepeats`.
    ///
    /// Sub-millisecond cases need the warm-up and hundreds of repeats: on these VMs a vCPU that sat
    /// idle through a 1-thread phase takes a while to answer wake-ups promptly, and with 50 repeats
    /// the median of a 0.6 ms 2-thread case landed in that slow start (0.85 ms) about half the time.
    /// The peer scripts (perf/peers_ort.py, perf/gemm_vs_openblas.py) time their peers by the same rule.
    static func median(minRepeats: Int = 5, maxRepeats: Int = 1000, budget: Double = 0.5, warmUp: Double = 0.05,
                       _ body: () -> Void) -> Double {
        let warmStart = now()
        repeat { body() } while Double(now() - warmStart) * 1e-9 < warmUp
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
