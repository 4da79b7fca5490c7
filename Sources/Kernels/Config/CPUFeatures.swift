import Foundation

/// What this CPU can run, read once at start-up (Linux: the kernel's view in /proc/cpuinfo,
/// which also tells that the OS saves the zmm state).
enum CPUFeatures {
    static let flags: Set<Substring> = {
        #if os(Linux)
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: " "))
        #else
        return []
        #endif
    }()

    /// AVX-512 F, CD, BW, DQ and VL: what code compiled for skylake-avx512 may use.
    static let hasAVX512: Bool = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy { flags.contains($0) }

    static func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }
}
