#!/usr/bin/env python3
"""GEMM: Tessera vs OpenBLAS (numpy) on the same machine, in the same run.

Runs `Bench --json --filter gemm`, then times every shape it reported through numpy's
OpenBLAS at the same thread counts (one subprocess per thread count, OPENBLAS_NUM_THREADS
set before numpy loads), and writes perf/gemm-vs-openblas.md with ours ÷ OpenBLAS.
numpy is optional: the package and its tests never need it.

Both sides run in alternating rounds (Bench, OpenBLAS, Bench, ...; 3 by default), and each side's
time per case is the median over the rounds: on a shared machine a slow minute then hits both.

usage: python3 perf/gemm_vs_openblas.py [--quick] [--filter SUBSTRING] [--rounds N]
"""
import json, os, subprocess, sys, statistics, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PEER = r'''
import json, sys, time, statistics
import numpy as np
shapes = json.loads(sys.argv[1])
rng = np.random.default_rng(7)
out = {}
for key in shapes:
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
    out[key] = statistics.median(times)
try:
    import threadpoolctl
    out["__kernel__"] = [i.get("architecture") for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"]
except ImportError:
    out["__kernel__"] = ["unknown (pip install threadpoolctl)"]
print(json.dumps(out))
'''

def main():
    args = sys.argv[1:]
    flt = "gemm/"
    if "--filter" in args:
        flt = args[args.index("--filter") + 1]
    bench = [os.path.join(ROOT, ".build/release/Bench"), "--json", "--filter", flt]
    if "--quick" in args:
        bench.append("--quick")
    subprocess.run(["swift", "build", "-c", "release", "--product", "Bench"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    runs, peer_runs = [], []
    for _ in range(rounds):
        lines = subprocess.run(bench, cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()
        runs.append([json.loads(l) for l in lines if l.startswith("{")])
        shapes = sorted({r["shape"] for r in runs[-1] if r["suite"] == "gemm"})
        peer_round = {}
        for threads in sorted({r["threads"] for r in runs[-1] if r["suite"] == "gemm"}):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
            # Some machines here set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) to pin an older kernel;
            # the peer runs with the kernel OpenBLAS picks for this CPU (printed in the table header).
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
            res = subprocess.run([sys.executable, "-c", PEER, json.dumps(shapes)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            peer_round[threads] = json.loads(res)
        peer_runs.append(peer_round)
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
    import numpy
    md = ["# GEMM: Tessera vs OpenBLAS, same machine, same run", "",
          f"Taken {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `python3 perf/gemm_vs_openblas.py`; "
          f"numpy {numpy.__version__} with its bundled OpenBLAS (kernel: {', '.join(peer[min(peer)]['__kernel__'])}; "
          f"OPENBLAS_CORETYPE unset). Medians over {rounds} alternating rounds of each side. Ratio = OpenBLAS time ÷ Tessera time (> 1: we are faster).", ""]
    for t in sorted({k[1] for k in peaks}):
        fma = peaks.get(("fma_peak", t), {}).get("gflops")
        bw = peaks.get(("dram_read", t), {}).get("gbps")
        md.append(f"- measured peak at {t} thread(s): FMA {fma:.1f} GFLOPS, DRAM read {bw:.1f} GB/s")
    md += ["", "| case | M×N×K | threads | Tessera GFLOPS | % peak | OpenBLAS GFLOPS | ratio |", "|---|---|---|---|---|---|---|"]
    for r in ours:
        theirs = peer[r["threads"]][r["shape"]]
        flops = r["gflops"] * r["seconds"]
        md.append(f"| {r['name']} | {r['shape']} | {r['threads']} | {r['gflops']:.1f} | {100 * r['peak_fraction']:.0f}% | "
                  f"{flops / theirs:.1f} | **{theirs / r['seconds']:.2f}** |")
    text = "\n".join(md) + "\n"
    with open(os.path.join(ROOT, "perf", "gemm-vs-openblas.md"), "w") as f:
        f.write(text)
    print(text)

if __name__ == "__main__":
    main()
