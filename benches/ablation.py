#!/usr/bin/env python3
"""What each reverse-mode tape optimization is worth: runs the benchmark suite once with
every optimization on, then once per optimization switched off (RADX_DISABLE, read by
radx cc), and writes a table of gradient/primal ratios and heap peaks.

    python3 benches/ablation.py [--quick] [--only gmm,lstm,...]

Writes benches/results/ablation.md (and .json). Every run still checks every gradient:
an optimization switched off must change the cost, never the result.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPTIMIZATIONS = ["inline", "induction", "exit-value", "forward-stores", "joins", "hoist", "merge-caches", "flow", "recompute", "redundant", "stack-slots", "reserve", "tape-reuse", "alias-scopes", "min-cut", "dead-adjoints", "merge-shadows", "scalar-shifted-updates", "aligned-shifted-updates", "reassoc-sums", "cancel-factors", "vectorizer-marks"]


def run_suite(disabled, quick, only, out):
    env = dict(os.environ, RADX_DISABLE=disabled)
    cmd = [sys.executable, os.path.join(HERE, "run.py"), "--out", out] + (["--quick"] if quick else []) + (["--only", only] if only else [])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    path = os.path.join(out, "latest.json")
    if not os.path.exists(path):
        sys.exit(f"the suite did not run with RADX_DISABLE={disabled!r}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    with open(path) as f:
        data = json.load(f)
    if data["failed"]:
        sys.exit(f"a benchmark failed with RADX_DISABLE={disabled!r} (see {out}/latest.json)")
    return {(row["bench"], row["case"], row["derivative"]): row for row in data["rows"]}


def heap(row):
    b = row.get("grad_heap_peak", -1)
    if b is None or b < 0:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b} B"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--opts", default="", help="comma-separated subset of the optimizations (default: all)")
    a = ap.parse_args()
    global OPTIMIZATIONS
    if a.opts:
        OPTIMIZATIONS = [o for o in a.opts.split(",") if o]
    tmp = os.path.join(a.out, "ablation")
    results = {}
    for name in ["none"] + OPTIMIZATIONS:
        print(f"suite with {'everything on' if name == 'none' else name + ' off'} ...", flush=True)
        results[name] = run_suite("" if name == "none" else name, a.quick, a.only, os.path.join(tmp, name))
    keys = list(results["none"].keys())
    head = "| benchmark | case | derivative | all on | " + " | ".join(f"{o} off" for o in OPTIMIZATIONS) + " |"
    lines = [head, "|" + "---|" * (4 + len(OPTIMIZATIONS))]
    for k in keys:
        cells = []
        for name in ["none"] + OPTIMIZATIONS:
            row = results[name].get(k)
            cells.append("-" if row is None else f"{row['ratio']:.2f} ({heap(row)})")
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(cells) + " |")
    md = "\n".join(lines)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "ablation.md"), "w") as f:
        f.write("Gradient/primal ratio (heap peak of one derivative call) with each tape optimization switched off.\n\n" + md + "\n")
    with open(os.path.join(a.out, "ablation.json"), "w") as f:
        json.dump({n: {"|".join(k): v for k, v in r.items()} for n, r in results.items()}, f, indent=1)
    print(md)


if __name__ == "__main__":
    main()
