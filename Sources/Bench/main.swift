import Foundation
import Kernels
import Scheduler

// `swift run -c release Bench`: the machine's peaks first, then every suite (SPEC §6).
let suites: [Suite] = [SchedulerSuite.suite, ProbeSuite.suite, GEMMSuite.suite, ConvSuite.suite, ConvSuite.algorithms, ConvSuite.winograd, PoolEltwiseSuite.pool, PoolEltwiseSuite.eltwise, NetworkSuite.suite, TrainSuite.suite]

do {
    let options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    if options.help { print(Options.usage); exit(0) }
    if options.memoryProbe { try MemoryProbe.run(); exit(0) }
    var ctx = BenchContext(options: options, reporter: Reporter(json: options.json))
    let r = ctx.reporter
    r.say("Tessera Bench")
    r.say("instruction set: \(InstructionSet.name)")
    r.say("GEMM micro-kernel: \(GEMMMicroKernel.active.rawValue) (AVX-512 kernels \(GEMMMicroKernel.avx512_8x32.isSupported ? "in use" : "not available")); widest FMA \(MachineProbes.widestFMA)")
    r.say("threads: \(ctx.allThreads) (affinity \(Scheduler.availableThreads))\(options.quick ? ", quick" : "")")
    ctx.peak = MachineSuite.measure(ctx)
    r.say(String(format: "peak: FMA %.1f GFLOPS (1 thread), %.1f GFLOPS (%d threads); DRAM read %.1f / %.1f GB/s, triad %.1f / %.1f GB/s",
                 ctx.peak.fmaGflops1, ctx.peak.fmaGflopsAll, ctx.allThreads,
                 ctx.peak.readGBps1, ctx.peak.readGBpsAll, ctx.peak.triadGBps1, ctx.peak.triadGBpsAll))
    for suite in suites {
        r.say("== \(suite.name)")
        try suite.run(ctx)
    }
    let reportDirectory = options.reportDirectory
        ?? (options.filter == nil && FileManager.default.fileExists(atPath: "perf") ? "perf" : nil)
    if let dir = reportDirectory, !options.noReport {
        try ReportWriter(ctx: ctx).write(to: dir)
        r.say("report: \(dir)/report.md, \(dir)/report.svg")
    }
} catch {
    FileHandle.standardError.write("Bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}
