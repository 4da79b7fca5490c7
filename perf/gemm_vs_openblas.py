#!/usr/bin/env python3
"""GEMM: Tessera vs OpenBLAS (numpy) on the same machine, in the same run.

Runs `Bench --json --filter gemm`, then times every shape it reported through numpy's
OpenBLAS at the same thread counts (one subprocess per thread count, OPENBLAS_NUM_THREADS
set before numpy loads), and writes perf/gemm-vs-openblas.md with ours ÷ OpenBLAS.
numpy is optional: the package and its tests never need it.

Both sides run case by case, back to back: for each case, Bench on that case alone, then OpenBLAS on
its shape at each thread count (persistent numpy processes, one per thread count), some seconds apart;
then the next case; all of that `--rounds` times (3 by default). The ratio is the median over the
rounds of each round's ratio, and the GFLOPS the median time's: on this shared machine the slow phases
last minutes, and whole-suite rounds (`--by-suite`: all of Bench, then all of OpenBLAS, a few minutes
apart) let one side's round fall in a slow phase and the other's not.

usage: python3 perf/gemm_vs_openblas.py [--quick] [--filter SUBSTRING] [--rounds N] [--by-suite]
"""
import json, os, subprocess, sys, statistics, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PEER = r'''
import json, sys, time, statistics
import numpy as np
rng = np.random.default_rng(7)
def timed(key):
    parts = key.split("x")
    m, n, k = int(parts[0]), int(parts[1]), int(parts[2])
    trans = len(parts) > 3
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if trans else (k, n)).astype(np.float32)
    bb = b.T if trans else b
    c = np.empty((m, n), np.float32)
    np.matmul(a, bb, out=c)
    warm = time.perf_counter()   # Bench's rule: 50 ms of warm-up, then up to 1000 repeats
    while time.perf_counter() - warm < 0.05:
        np.matmul(a, bb, out=c)
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < 0.4 and len(times) < 1000):
        t0 = time.perf_counter(); np.matmul(a, bb, out=c); times.append(time.perf_counter() - t0)
    return statistics.median(times)
def kernel():
    try:
        import threadpoolctl
        return [i.get("architecture") for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"]
    except ImportError:
        return ["unknown (pip install threadpoolctl)"]
if len(sys.argv) > 1:   # all the shapes given, one JSON answer
    out = {key: timed(key) for key in json.loads(sys.argv[1])}
    out["__kernel__"] = kernel()
    print(json.dumps(out))
else:                   # a server: one shape per line in, its time out
    print(json.dumps(kernel()), flush=True)
    for line in sys.stdin:
        print(json.dumps(timed(line.strip())), flush=True)
'''

def main():
    args = sys.argv[1:]
    flt = "gemm/"
    if "--filter" in args:
        flt = args[args.index("--filter") + 1]
    def bench(filter):
        return [os.path.join(ROOT, ".build/release/Bench"), "--json", "--filter", filter] + (["--quick"] if "--quick" in args else [])
    subprocess.run(["swift", "build", "-c", "release", "--product", "Bench"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    by_suite = "--by-suite" in args
    def peer_env(threads):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        # Some machines here set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) to pin an older kernel;
        # the peer runs with the kernel OpenBLAS picks for this CPU (printed in the table header).
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        return env
    def run_bench(cmd):
        lines = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()
        return [json.loads(l) for l in lines if l.startswith("{")]
    runs, peer_runs = [], []
    if by_suite:
        for _ in range(rounds):
            runs.append(run_bench(bench(flt)))
            shapes = sorted({r["shape"] for r in runs[-1] if r["suite"] == "gemm"})
            peer_round = {}
            for threads in sorted({r["threads"] for r in runs[-1] if r["suite"] == "gemm"}):
                res = subprocess.run([sys.executable, "-c", PEER, json.dumps(shapes)], env=peer_env(threads), check=True,
                                     capture_output=True, text=True).stdout
                peer_round[threads] = json.loads(res)
            peer_runs.append(peer_round)
    else:
        # The cases (and their thread counts) from one run of the suite, then case by case.
        listing = [r for r in run_bench(bench(flt)) if r["suite"] == "gemm"]
        names = list(dict.fromkeys(r["name"] for r in listing))
        counts = sorted({r["threads"] for r in listing})
        servers = {}
        for t in counts:
            servers[t] = subprocess.Popen([sys.executable, "-c", PEER], env=peer_env(t), stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True)
            kernel = json.loads(servers[t].stdout.readline())
        for _ in range(rounds):
            run, peer_round = [], {t: {"__kernel__": kernel} for t in counts}
            for name in names:
                rows = [r for r in run_bench(bench("gemm/" + name)) if r["suite"] != "gemm" or r["name"] == name]
                run += rows if not run else [r for r in rows if r["suite"] == "gemm"]
                for r in rows:
                    if r["suite"] == "gemm":
                        servers[r["threads"]].stdin.write(r["shape"] + "\n"); servers[r["threads"]].stdin.flush()
                        peer_round[r["threads"]][r["shape"]] = json.loads(servers[r["threads"]].stdout.readline())
            runs.append(run)
            peer_runs.append(peer_round)
        for p in servers.values():
            p.stdin.close(); p.wait()
    # Medians over the rounds: Bench rows by (suite, name, threads), peer times by (threads, shape).
    med = lambda xs: statistics.median(xs)
    rows = []
    for r in runs[0]:
        same = [x for run in runs for x in run if (x["suite"], x["name"], x["threads"]) == (r["suite"], r["name"], r["threads"])]
        row = dict(r)
        # Each round's % of peak is against that round's own peak probe (Bench's figure).
        for key in ("seconds", "gflops", "gbps", "peak_fraction"):
            if r.get(key) is not None:
                row[key] = med([x[key] for x in same])
        rows.append(row)
    peaks = {(r["name"], r["threads"]): r for r in rows if r["suite"] == "machine"}
    ours = [r for r in rows if r["suite"] == "gemm"]
    peer = {t: {k: (med([pr[t][k] for pr in peer_runs]) if k != "__kernel__" else peer_runs[0][t][k])
                for k in peer_runs[0][t]} for t in peer_runs[0]}
    def ratio(r):   # the median of the rounds' ratios: each round's two sides ran close together
        key = (r["suite"], r["name"], r["threads"])
        return med([pr[r["threads"]][r["shape"]] / x["seconds"]
                    for run, pr in zip(runs, peer_runs) for x in run if (x["suite"], x["name"], x["threads"]) == key])
    import numpy
    md = ["# GEMM: Tessera vs OpenBLAS, same machine, same run", "",
          f"Taken {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `python3 perf/gemm_vs_openblas.py`; "
          f"numpy {numpy.__version__} with its bundled OpenBLAS (kernel: {', '.join(peer[min(peer)]['__kernel__'])}; "
          f"OPENBLAS_CORETYPE unset). {rounds} rounds, " +
          ("each all of Bench, then all of OpenBLAS" if by_suite else "each case by case: Bench on the case, then OpenBLAS on its shape, back to back") +
          "; GFLOPS from each side's median time. Ratio = OpenBLAS time ÷ Tessera time (> 1: we are faster), the median of the rounds' ratios.", ""]
    for t in sorted({k[1] for k in peaks}):
        fma = peaks.get(("fma_peak", t), {}).get("gflops")
        bw = peaks.get(("dram_read", t), {}).get("gbps")
        md.append(f"- measured peak at {t} thread(s): FMA {fma:.1f} GFLOPS, DRAM read {bw:.1f} GB/s")
    md += ["", "| case | M×N×K | threads | Tessera GFLOPS | % peak | OpenBLAS GFLOPS | ratio |", "|---|---|---|---|---|---|---|"]
    for r in ours:
        theirs = peer[r["threads"]][r["shape"]]
        flops = r["gflops"] * r["seconds"]
        md.append(f"| {r['name']} | {r['shape']} | {r['threads']} | {r['gflops']:.1f} | {100 * r['peak_fraction']:.1f}% | "
                  f"{flops / theirs:.1f} | **{ratio(r):.3f}** |")
    # Issue 3's target: every VGG-16 and ResNet-50 shape at least 1.05× OpenBLAS, at 1 and at 2 threads.
    cnn = sorted(((ratio(r), r["name"], r["threads"]) for r in ours if r["name"].split("/")[0] in ("vgg16", "resnet50")))
    if cnn:
        under = [f"{n} on {t} ({x:.3f})" for x, n, t in cnn if x < 1.05]
        md += ["", f"VGG-16 / ResNet-50 rows at 1.05 or more: {len(cnn) - len(under)} of {len(cnn)}; "
               + (f"under: {', '.join(under)}." if under else f"lowest: {cnn[0][1]} on {cnn[0][2]} ({cnn[0][0]:.3f}).")]
    text = "\n".join(md) + "\n"
    with open(os.path.join(ROOT, "perf", "gemm-vs-openblas.md"), "w") as f:
        f.write(text)
    print(text)

if __name__ == "__main__":
    main()
