import Foundation
import Kernels
import Scheduler

/// The performance report (issue: production): `report.md` with every case at all threads against
/// the measured peak, beside the peers' times from `perf/peers.json` when the peer scripts have run,
/// and `report.svg`, a bar chart of effective GFLOPS per convolution layer, network and training case.
struct ReportWriter {
    let ctx: BenchContext

    /// `perf/peers.json`: "suite/name@threads" → { peer: seconds, "taken": date }.
    func peers(_ dir: String) -> [String: [String: Any]] {
        guard let data = FileManager.default.contents(atPath: dir + "/peers.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return [:] }
        return object
    }

    func write(to dir: String) throws {
        let peers = peers(dir)
        let all = ctx.allThreads
        let results = ctx.reporter.results.filter { $0.threads == all && $0.suite != "machine" }
        let p = ctx.peak
        var md = ["# Tessera Bench report", ""]
        let date = ISO8601DateFormatter().string(from: Date())
        md.append("Taken \(date) by `swift run -c release Bench\(ctx.options.quick ? " --quick" : "")`; "
                  + "\(InstructionSet.name); GEMM micro-kernel \(GEMMMicroKernel.active.rawValue); \(all) threads. "
                  + "Measured peaks: FMA \(f1(p.fmaGflops1)) GFLOPS (1 thread), \(f1(p.fmaGflopsAll)) (\(all) threads); "
                  + "DRAM read \(f1(p.readGBpsAll)) GB/s, L2 \(f1(p.l2GBpsAll)), L3 \(f1(p.l3GBpsAll)). "
                  + "Every row is the median at \(all) threads; `peer ÷ ours` > 1 means Tessera is faster. Peer times come "
                  + "from `perf/peers.json` (written by the scripts in perf/, each with its date), not from this run.")
        md += ["", "![effective GFLOPS per layer](report.svg)", ""]
        for suite in ["conv", "network", "train", "gemm", "pool", "eltwise", "scheduler"] {
            let rows = results.filter { $0.suite == suite }
            guard !rows.isEmpty else { continue }
            md += ["## \(suite)", "", "| case | time | rate | of peak | algorithm | peer times | peer ÷ ours |", "|---|---|---|---|---|---|---|"]
            for r in rows {
                let rate = r.gflops.map { "\(f1($0)) GFLOPS" } ?? r.gbps.map { "\(f1($0)) GB/s" } ?? ""
                let frac = r.peakFraction.map { String(format: "%.0f%%", $0 * 100) } ?? ""
                let peer = peers["\(r.suite)/\(r.name)@\(r.threads)"] ?? [:]
                let times = peer.compactMap { k, v in (v as? Double).map { (k, $0) } }.filter { !$0.0.contains("_") }.sorted { $0.0 < $1.0 }
                let peerText = times.map { "\($0.0) \(ms($0.1))" }.joined(separator: ", ")
                let ratio = times.map(\.1).min().map { String(format: "**%.2f**", $0 / r.seconds) } ?? ""
                md.append("| \(r.name) | \(ms(r.seconds)) | \(rate) | \(frac) | \(r.algorithm ?? "") | \(peerText) | \(ratio) |")
            }
            md.append("")
        }
        try md.joined(separator: "\n").write(toFile: dir + "/report.md", atomically: true, encoding: .utf8)
        try chart(results.filter { ["conv", "network", "train"].contains($0.suite) && $0.gflops != nil }, peers)
            .write(toFile: dir + "/report.svg", atomically: true, encoding: .utf8)
    }

    /// Horizontal bars: Tessera's effective GFLOPS; a dot: the fastest peer's; a dashed line: the measured FMA peak.
    func chart(_ rows: [CaseResult], _ peers: [String: [String: Any]]) -> String {
        let peak = ctx.peak.fmaGflopsAll
        let left = 230.0, width = 560.0, rowHeight = 18.0, top = 40.0
        let scale = width / max(peak * 1.05, 1)
        let height = top + Double(rows.count) * rowHeight + 40
        var svg = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 20))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"10\" y=\"18\" font-size=\"13\">Effective GFLOPS at \(ctx.allThreads) threads (bars: Tessera; dots: fastest peer in perf/peers.json; dashed: measured FMA peak \(f1(peak)))</text>"]
        for (i, r) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            let g = r.gflops ?? 0
            svg.append("<text x=\"\(f1(left - 6))\" y=\"\(f1(y + 12))\" text-anchor=\"end\">\(r.suite)/\(r.name)</text>")
            svg.append("<rect x=\"\(f1(left))\" y=\"\(f1(y + 3))\" width=\"\(f1(g * scale))\" height=\"\(f1(rowHeight - 6))\" fill=\"#4477aa\"/>")
            svg.append("<text x=\"\(f1(left + g * scale + 4))\" y=\"\(f1(y + 12))\">\(f1(g))</text>")
            let peer = peers["\(r.suite)/\(r.name)@\(r.threads)"] ?? [:]
            if let best = peer.filter({ !$0.key.contains("_") }).compactMap({ $0.value as? Double }).min(), best > 0 {
                let pg = g * r.seconds / best
                svg.append("<circle cx=\"\(f1(left + min(pg, peak * 1.05) * scale))\" cy=\"\(f1(y + rowHeight / 2))\" r=\"4\" fill=\"#cc6677\"/>")
            }
        }
        let px = left + peak * scale
        svg.append("<line x1=\"\(f1(px))\" y1=\"\(f1(top))\" x2=\"\(f1(px))\" y2=\"\(f1(height - 30))\" stroke=\"black\" stroke-dasharray=\"4 3\"/>")
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    func f1(_ v: Double) -> String { String(format: "%.1f", v) }
    func ms(_ s: Double) -> String { s < 1e-3 ? String(format: "%.1f µs", s * 1e6) : String(format: "%.2f ms", s * 1e3) }
}
