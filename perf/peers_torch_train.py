#!/usr/bin/env python3
"""Training: Tessera vs PyTorch, same machine, same run.

Runs `Bench --json --filter train/`, then times the same cases with PyTorch at the same thread
counts, in NCHW and in channels-last (the faster of the two is the peer figure):
  - convolution backward (dX + dW + db, from a retained graph: no forward in the timing),
  - one SGD step (forward, cross-entropy, backward, momentum update) of VGG-16 at batch 1 and of a
    ResNet-style block (2 × conv 3×3 64→64 + ReLU on 56×56, global pool, FC 64→10) at batch 8.
Writes perf/train-vs-pytorch.md. torch is an optional tool: the package never needs it.

usage: pip install torch numpy; python3 perf/peers_torch_train.py [--quick]
"""
import datetime, json, os, statistics, subprocess, sys, time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(quick):
    cmd = [os.path.join(ROOT, ".build/release/Bench"), "--json", "--filter", "train/"] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def median_time(fn, budget):
    warm = time.perf_counter()   # Bench's rule: 50 ms of warm-up, then up to 1000 repeats
    fn()
    while time.perf_counter() - warm < 0.05:
        fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 1000):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_backward(shape, fmt, budget):
    n, c, h, w = shape
    torch.manual_seed(1)
    conv = nn.Conv2d(c, c if c >= 64 else 64, 3, 1, 1)
    x = torch.rand(n, c, h, w) * 2 - 1
    if fmt == "channels_last":
        conv = conv.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    y = conv(x)
    dy = torch.rand_like(y)
    params = [x, conv.weight, conv.bias]
    return median_time(lambda: torch.autograd.grad(y, params, grad_outputs=dy, retain_graph=True), budget)


def vgg16():
    layers, c = [], 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]; c = v
    layers += [nn.Flatten(), nn.Linear(25088, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
               nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, 1000)]
    return nn.Sequential(*layers)


def resnet_block():
    return nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(64, 64, 3, padding=1),
                         nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def sgd_step(build, shape, fmt, budget):
    torch.manual_seed(1)
    model = build()
    x = torch.rand(*shape)
    if fmt == "channels_last":
        model = model.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
    labels = torch.arange(shape[0]) % 10
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=False)
        loss_fn(model(x), labels).backward()
        opt.step()
    return median_time(step, budget)


def main():
    quick = "--quick" in sys.argv
    budget = 0.5 if quick else 2.0
    ours = bench(quick)
    rows = []
    for r in (r for r in ours if r["suite"] == "train"):
        shape = [int(v) for v in r["shape"].split("x")]
        torch.set_num_threads(r["threads"])
        peers = {}
        for fmt in ["nchw", "channels_last"]:
            if r["name"].endswith("_backward"):
                peers[fmt] = conv_backward(shape, fmt, budget)
            elif r["name"].startswith("vgg16/sgd_step"):
                peers[fmt] = sgd_step(vgg16, shape, fmt, budget)
            elif r["name"].startswith("resnet_block"):
                peers[fmt] = sgd_step(resnet_block, shape, fmt, budget)
        best = min(peers.values())
        rows.append((r["name"], r["threads"], r["seconds"], peers["nchw"], peers["channels_last"], best))
        print(f'{r["name"]:32s} t={r["threads"]} ours {r["seconds"]*1e3:8.1f} ms  pytorch nchw {peers["nchw"]*1e3:8.1f} ms'
              f'  channels-last {peers["channels_last"]*1e3:8.1f} ms  ours/best {r["seconds"]/best:5.2f}', file=sys.stderr)
    path = os.path.join(ROOT, "perf", "peers.json")
    data = json.load(open(path)) if os.path.exists(path) else {}
    stamp = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    for name, t, o, a, b, best in rows:
        data[f"train/{name}@{t}"] = {"pytorch": best, "pytorch_nchw": a, "pytorch_channels_last": b, "taken": stamp}
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    with open(os.path.join(ROOT, "perf/train-vs-pytorch.md"), "w") as f:
        f.write(f"# Training vs PyTorch {torch.__version__} (same run, {datetime.date.today()})\n\n")
        f.write("`python3 perf/peers_torch_train.py`: Bench suite `train` and the same cases in PyTorch, medians, "
                "at the same thread counts. Convolution backward is dX + dW + db; an SGD step is forward, "
                "cross-entropy, backward and a momentum update. The issue's target is ours ≤ 0.8 × PyTorch's best.\n\n")
        f.write("| case | threads | Tessera | PyTorch NCHW | PyTorch channels-last | Tessera ÷ best PyTorch |\n|---|---|---|---|---|---|\n")
        for name, t, o, a, b, best in rows:
            f.write(f"| {name} | {t} | {o*1e3:.1f} ms | {a*1e3:.1f} ms | {b*1e3:.1f} ms | {o/best:.2f} |\n")


main()
