import Foundation

/// One measured case, as printed in the table and in `--json` lines.
struct CaseResult {
    var suite: String
    var name: String
    var threads: Int
    var seconds: Double
    var gflops: Double? = nil
    var gbps: Double? = nil
    var peakFraction: Double? = nil
    var maxError: Double? = nil
    var algorithm: String? = nil
    /// Problem size, e.g. "M×N×K" for a GEMM, so that peer scripts can rerun the same case.
    var shape: String? = nil
    /// Scratch (`Workspace`) bytes the case needed at most, measured.
    var scratchBytes: Double? = nil
}

/// Prints results: a table for people (stdout, or stderr under --json) and JSON lines for tools.
final class Reporter {
    let json: Bool
    /// Every case recorded so far, for the Markdown report.
    private(set) var results: [CaseResult] = []
    init(json: Bool) { self.json = json }

    func say(_ s: String) {
        if json { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) } else { print(s) }
    }

    /// Progress for long runs: one line per case on stderr (only when stdout is a table).
    func progress(_ s: String) {
        if !json { FileHandle.standardError.write(("… " + s + "\n").data(using: .utf8)!) }
    }

    func record(_ r: CaseResult) {
        results.append(r)
        if json {
            FileHandle.standardOutput.write((jsonLine(r) + "\n").data(using: .utf8)!)
        }
        let time = r.seconds < 1e-3 ? String(format: "%8.1f µs", r.seconds * 1e6) : String(format: "%8.3f ms", r.seconds * 1e3)
        var cols = ["\(r.suite)/\(r.name)".padding(toLength: 44, withPad: " ", startingAt: 0),
                    "t=\(r.threads)".padding(toLength: 4, withPad: " ", startingAt: 0), time]
        if let g = r.gflops { cols.append(String(format: "%8.1f GFLOPS", g)) }
        if let b = r.gbps { cols.append(String(format: "%7.1f GB/s", b)) }
        if let p = r.peakFraction { cols.append(String(format: "%5.1f%% peak", p * 100)) }
        if let e = r.maxError { cols.append(String(format: "err %.1e", e)) }
        if let s = r.scratchBytes { cols.append(String(format: "scratch %.1f MB", s / 1e6)) }
        if let a = r.algorithm { cols.append("[\(a)]") }
        say(cols.joined(separator: "  "))
    }

    private func jsonLine(_ r: CaseResult) -> String {
        func num(_ v: Double?) -> String {
            guard let v, v.isFinite else { return "null" }
            return String(format: "%.6g", v)
        }
        func str(_ s: String?) -> String {
            guard let s else { return "null" }
            let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        }
        return "{\"suite\":\(str(r.suite)),\"name\":\(str(r.name)),\"threads\":\(r.threads),"
            + "\"seconds\":\(num(r.seconds)),\"gflops\":\(num(r.gflops)),\"gbps\":\(num(r.gbps)),"
            + "\"peak_fraction\":\(num(r.peakFraction)),\"max_error\":\(num(r.maxError)),\"algorithm\":\(str(r.algorithm)),"
            + "\"shape\":\(str(r.shape)),\"scratch_bytes\":\(num(r.scratchBytes))}"
    }
}
