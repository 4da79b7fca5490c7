#!/usr/bin/env python3
"""Convolution and pooling: Tessera vs ONNX Runtime (and PyTorch if installed), same machine, same run.

Runs `Bench --json --filter conv/`, `--filter pool/` and `--filter network/`, then times every layer it reported through
ONNX Runtime (one single-node ONNX model per layer, all graph optimizations on, intra-op threads
= the Bench's thread count) and, if importable, PyTorch. Writes perf/conv-vs-peers.md,
perf/pool-vs-peers.md and perf/network-vs-peers.md. onnxruntime, onnx and torch are optional tools: the package never needs them.

Both sides run in alternating rounds (Bench, the peers, Bench, ...; 3 by default, --rounds N), and
each side's time per case is the median over the rounds: on a shared machine a slow minute then
hits both.

usage: pip install onnxruntime onnx [torch]; python3 perf/peers_ort.py [--quick] [--only conv|pool|network] [--rounds N]
"""
import datetime, json, os, re, statistics, subprocess, sys, time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(filter_, quick):
    cmd = [os.path.join(ROOT, ".build/release/Bench"), "--json", "--filter", filter_] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def median_time(fn, budget=0.4):
    # The rule Bench's Measure.median uses: warm up for 50 ms, then up to 1000 repeats in the budget.
    warm = time.perf_counter()
    fn()
    while time.perf_counter() - warm < 0.05:
        fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < budget and len(times) < 1000):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ort_session(node, inputs, initializers, threads):
    import onnx, onnxruntime as ort
    from onnx import helper, TensorProto
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def conv_peer(shape, threads):
    # "64x224x224->64k3s1p1"
    m = re.match(r"(\d+)x(\d+)x(\d+)->(\d+)k(\d+)s(\d+)p(\d+)", shape)
    c, h, w, o, k, s, p = map(int, m.groups())
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1, c, h, w)).astype(np.float32)
    wt = numpy_helper.from_array(rng.uniform(-0.1, 0.1, (o, c, k, k)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.uniform(-1, 1, (o,)).astype(np.float32), "b")
    import onnx
    conv = helper.make_node("Conv", ["x", "w", "b"], ["t"], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
    relu = helper.make_node("Relu", ["t"], ["y"])
    graph = helper.make_graph([conv, relu], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], [wt, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    result = {"onnxruntime": median_time(lambda: sess.run(None, {"x": x}))}
    try:
        import torch
        torch.set_num_threads(threads)
        conv_t = torch.nn.Conv2d(c, o, k, s, p)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            result["pytorch"] = median_time(lambda: torch.relu(conv_t(xt)))
    except ImportError:
        pass
    return result


def pool_peer(shape, threads):
    # "1x64x224x224:max:k2s2p0"
    dims, kind, win = shape.split(":")
    n, c, h, w = map(int, dims.split("x"))
    k, s, p = map(int, re.match(r"k(\d+)s(\d+)p(\d+)", win).groups())
    from onnx import helper
    x = np.random.default_rng(2).uniform(-1, 1, (n, c, h, w)).astype(np.float32)
    if kind == "global":
        node = helper.make_node("GlobalAveragePool", ["x"], ["y"])
    elif kind.startswith("max"):
        node = helper.make_node("MaxPool", ["x"], ["y"] + (["i"] if kind == "max+indices" else []),
                                kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
    else:
        node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p],
                                count_include_pad=0)
    sess = ort_session(node, [("x", x.shape)], [], threads)
    result = {"onnxruntime": median_time(lambda: sess.run(None, {"x": x}))}
    try:
        import torch
        torch.set_num_threads(threads)
        xt = torch.from_numpy(x)
        f = {"max": lambda: torch.nn.functional.max_pool2d(xt, k, s, p),
             "max+indices": lambda: torch.nn.functional.max_pool2d(xt, k, s, p, return_indices=True),
             "avg": lambda: torch.nn.functional.avg_pool2d(xt, k, s, p, count_include_pad=False),
             "global": lambda: torch.nn.functional.adaptive_avg_pool2d(xt, 1)}[kind]
        with torch.no_grad():
            result["pytorch"] = median_time(f)
    except ImportError:
        pass
    return result


def network_peer(shape, threads, name):
    """VGG-16's feature stack (13 Conv+ReLU, 5 MaxPool) or the whole forward (+ FC6-8, softmax), batch 1."""
    import onnx, onnxruntime as ort
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(3)
    nodes, inits, c, h = [], [], 3, "x"
    cfg = [64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1]
    for i, v in enumerate(cfg):
        if v < 0:
            nodes.append(helper.make_node("MaxPool", [h], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2])); h = f"p{i}"
            continue
        inits += [numpy_helper.from_array(rng.uniform(-0.05, 0.05, (v, c, 3, 3)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(np.full(v, 0.01, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [h, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        h, c = f"r{i}", v
    if name.endswith("forward_batch1"):
        nodes.append(helper.make_node("Flatten", [h], ["flat"])); h = "flat"
        for j, (i_, o_) in enumerate([(25088, 4096), (4096, 4096), (4096, 1000)]):
            inits += [numpy_helper.from_array(rng.uniform(-0.01, 0.01, (o_, i_)).astype(np.float32), f"fw{j}"),
                      numpy_helper.from_array(np.full(o_, 0.01, np.float32), f"fb{j}")]
            nodes.append(helper.make_node("Gemm", [h, f"fw{j}", f"fb{j}"], [f"f{j}"], transB=1)); h = f"f{j}"
            if j < 2:
                nodes.append(helper.make_node("Relu", [h], [f"fr{j}"])); h = f"fr{j}"
        nodes.append(helper.make_node("Softmax", [h], ["sm"], axis=1)); h = "sm"
    nodes.append(helper.make_node("Identity", [h], ["y"]))
    graph = helper.make_graph(nodes, "vgg16", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = rng.uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    return {"onnxruntime": median_time(lambda: sess.run(None, {"x": x}), budget=2.0)}


def record_peers(entries):
    """Merges {"suite/name@threads": {peer: seconds}} into perf/peers.json, which Bench's report reads."""
    path = os.path.join(ROOT, "perf", "peers.json")
    data = json.load(open(path)) if os.path.exists(path) else {}
    stamp = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    for key, peers in entries.items():
        data[key] = dict(peers, taken=stamp)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)


def measure(filter_, suite, quick, rounds, peer_fn):
    """Alternating rounds of Bench and the peers (`peer_fn(row)`); rows and peer times are the medians over the rounds."""
    runs, peer_runs = [], []
    for _ in range(rounds):
        rows = [r for r in bench(filter_, quick) if r["suite"] == suite]
        runs.append(rows)
        # One peer timing per layer shape and thread count a round: the per-algorithm rows of a layer
        # (conv/<layer>/<algorithm>) are compared with the same peer figure as its automatic row.
        cache = {}
        def peer_of(r):
            key = (json.dumps(r.get("shape")), r["threads"], r["name"] if suite == "network" else "")
            if key not in cache:
                cache[key] = peer_fn(r)
            return cache[key]
        peer_runs.append({(r["name"], r["threads"]): peer_of(r) for r in rows})
    merged = []
    for r in runs[0]:
        key = (r["name"], r["threads"])
        same = [x for run in runs for x in run if (x["name"], x["threads"]) == key]
        row = dict(r)
        for field in ("seconds", "gflops", "gbps"):
            if r.get(field) is not None:
                row[field] = statistics.median([x[field] for x in same])
        merged.append(row)
    peers = {key: {n: statistics.median([pr[key][n] for pr in peer_runs]) for n in peer_runs[0][key]} for key in peer_runs[0]}
    return merged, peers


def table(rows, peers, rounds, title, unit, path):
    import onnxruntime
    names = sorted({k for v in peers.values() for k in v})
    md = [f"# {title}", "",
          f"Taken {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `python3 perf/peers_ort.py`, "
          f"onnxruntime {onnxruntime.__version__}, batch 1, medians over {rounds} alternating rounds of each side. Ratio = fastest peer's time ÷ Tessera's time (> 1: we are faster).", "",
          "| case | threads | Tessera ms | " + " | ".join(f"{n} ms" for n in names) + f" | Tessera {unit} | ratio |",
          "|---|---|---|" + "---|" * len(names) + "---|---|"]
    for r in rows:
        p = peers[(r["name"], r["threads"])]
        best = min(p.values())
        rate = r["gflops"] if unit == "GFLOPS" else r["gbps"]
        md.append(f"| {r['name']} | {r['threads']} | {r['seconds'] * 1e3:.3f} | "
                  + " | ".join(f"{p[n] * 1e3:.3f}" if n in p else "" for n in names)
                  + f" | {rate:.1f} | **{best / r['seconds']:.2f}** |")
    record_peers({f"{r['suite']}/{r['name']}@{r['threads']}": peers[(r["name"], r["threads"])] for r in rows})
    text = "\n".join(md) + "\n"
    with open(os.path.join(ROOT, "perf", path), "w") as f:
        f.write(text)
    print(text)


def main():
    # usage: python3 perf/peers_ort.py [--quick] [--only conv|pool|network]
    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    subprocess.run(["swift", "build", "-c", "release", "--product", "Bench"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    if only in (None, "conv"):
        rows, peers = measure("conv/", "conv", quick, rounds, lambda r: conv_peer(r["shape"], r["threads"]))
        table(rows, peers, rounds, "Convolution forward (+bias, ReLU): Tessera vs peers, same run", "GFLOPS", "conv-vs-peers.md")
    if only in (None, "pool"):
        rows, peers = measure("pool/", "pool", quick, rounds, lambda r: pool_peer(r["shape"], r["threads"]))
        table(rows, peers, rounds, "Pooling forward: Tessera vs peers, same run", "GB/s", "pool-vs-peers.md")
    if only in (None, "network"):
        rows, peers = measure("network/", "network", quick, rounds, lambda r: network_peer(r["shape"], r["threads"], r["name"]))
        table(rows, peers, rounds, "VGG-16 at batch 1: Tessera vs peers, same run", "GFLOPS", "network-vs-peers.md")

if __name__ == "__main__":
    main()
