#!/usr/bin/env python3
"""The VGG-16 / ResNet-50 rows of several GEMM peer tables at once (issue 3's 1.05× target).

One table of `gemm_vs_openblas.py` is one run on a shared machine, where a single row moves by
±3–10 % from table to table while its code does not. This reads every committed version of
perf/gemm-vs-openblas.md from `--since` on (git history), plus any `--file`, and prints per row:
the ratios table by table, their minimum and median, and in how many tables the row was under 1.05;
then per table, its rows under 1.05. Nothing is measured here: it only reads recorded tables.

usage: python3 perf/gemm_history.py [--since COMMIT] [--file TABLE.md ...]
       (--since: the oldest commit whose table counts, e.g. the last one that changed GEMM code)
"""
import os, re, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = "perf/gemm-vs-openblas.md"
ROW = re.compile(r"^\| ((?:vgg16|resnet50)/\S+) \| \S+ \| (\d+) \| [\d.]+ \| [\d.]+% \| [\d.]+ \| \*\*([\d.]+)\*\* \|")
TAKEN = re.compile(r"Taken (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def parse(text):
    taken = TAKEN.search(text)
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            rows[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return (taken.group(1) if taken else "?"), rows


def main():
    args = sys.argv[1:]
    since = args[args.index("--since") + 1] if "--since" in args else None
    files = [args[i + 1] for i, a in enumerate(args) if a == "--file"]
    span = f"{since}^..HEAD" if since else "HEAD"
    tables = []
    for commit in reversed(git("log", "--format=%h", span, "--", TABLE).split()):
        taken, rows = parse(git("show", f"{commit}:{TABLE}"))
        tables.append((taken, commit, rows))
    for path in files:
        with open(path) as f:
            taken, rows = parse(f.read())
        tables.append((taken, os.path.basename(path), rows))
    tables = [t for t in tables if t[2]]
    tables.sort(key=lambda t: t[0])
    if not tables:
        sys.exit("no tables with VGG-16 / ResNet-50 rows")
    keys = sorted({k for t in tables for k in t[2]}, key=lambda k: min(t[2].get(k, 9) for t in tables))
    print(f"{len(tables)} tables: " + ", ".join(f"{taken} ({src})" for taken, src, _ in tables))
    print()
    print("| row | threads | " + " | ".join(t[0][11:] for t in tables) + " | min | median | tables under 1.05 |")
    print("|---|---|" + "---|" * (len(tables) + 3))
    for name, threads in keys:
        xs = [t[2][(name, threads)] for t in tables if (name, threads) in t[2]]
        cells = [f"{t[2][(name, threads)]:.3f}" if (name, threads) in t[2] else "—" for t in tables]
        under = sum(x < 1.05 for x in xs)
        print(f"| {name} | {threads} | " + " | ".join(cells)
              + f" | {min(xs):.3f} | {statistics.median(xs):.3f} | {under} of {len(xs)} |")
    print()
    for taken, src, rows in tables:
        under = sorted((x, n, t) for (n, t), x in rows.items() if x < 1.05)
        print(f"- {taken} ({src}): {len(rows) - len(under)} of {len(rows)} at 1.05 or more"
              + (": under " + ", ".join(f"{n} on {t} ({x:.3f})" for x, n, t in under) if under else ""))
    medians = [statistics.median([t[2][k] for t in tables if k in t[2]]) for k in keys]
    print(f"- median over the tables: {sum(x >= 1.05 for x in medians)} of {len(keys)} rows at 1.05 or more "
          f"(lowest {min(medians):.3f})")


if __name__ == "__main__":
    main()
