/// Command-line options of `swift run -c release Bench`.
struct Options {
    var filter: String? = nil
    var threads: Int = 0          // 0: all available
    var quick = false
    var json = false
    var help = false
    var memoryProbe = false
    /// Where the Markdown report and SVG chart go: --report DIR, else perf/ for unfiltered runs.
    var reportDirectory: String? = nil
    var noReport = false

    static let usage = """
    usage: swift run -c release Bench [--filter SUBSTRING] [--threads N] [--quick] [--json]
      --filter S   run only the cases whose "suite/name" contains S
      --threads N  the "all threads" runs use N threads (default: the CPU affinity count)
      --quick      fewer repeats and smaller machine probes (about a minute in all)
      --json       one JSON object per measured case on stdout; the table goes to stderr
      --report DIR write report.md and report.svg into DIR (default: perf/, when it exists and no
                   --filter is given)
      --no-report  write no report
      --memory-probe  only build VGG-16, run one forward at batch 1 and report its memory against
                   the bound weights + packed weights + the two largest activations (for /usr/bin/time -v)
    """

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw BenchError.usage("\(flag) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--filter": o.filter = try value("--filter")
            case "--threads":
                guard let n = Int(try value("--threads")), n >= 1 else { throw BenchError.usage("--threads needs N ≥ 1") }
                o.threads = n
            case "--quick": o.quick = true
            case "--json": o.json = true
            case "-h", "--help": o.help = true
            case "--memory-probe": o.memoryProbe = true
            case "--report": o.reportDirectory = try value("--report")
            case "--no-report": o.noReport = true
            default: throw BenchError.usage("unknown option \(args[i])")
            }
            i += 1
        }
        return o
    }
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    case validation(String)
    var description: String {
        switch self {
        case .usage(let s): return "\(s)\n\(Options.usage)"
        case .validation(let s): return "validation failed: \(s)"
        }
    }
}
