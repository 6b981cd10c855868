#!/usr/bin/env python3
"""Benchmark suite runner: builds every benchmark with `radx cc -O2`, runs it, and reports
primal time, derivative time and their ratio (medians, measured in one process), the AD
transform time of the module (`radx opt` on its -O2 bitcode) and its tape figures
(`radx opt --stats-json`, and the heap peak measured during one derivative call).

    python3 benches/run.py            # full sizes (several minutes)
    python3 benches/run.py --quick    # small sizes, few repetitions (CI smoke test, < 1 min)

Writes benches/results/latest.json, latest.md (the table) and ratios.png. Exits 1, with a
FAILED banner, when a build fails, a benchmark crashes, or any derivative check fails.
See benches/README.md.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from chart import ratio_chart  # noqa: E402

CFLAGS = ["-O2", "-fno-math-errno", "-I", os.path.join(HERE, "common")]
WRAP = ["-DBENCH_COUNT_ALLOC", "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free"]

# Enzyme's figures from the issue, by (bench, derivative prefix): (reference, target)
REFERENCE = {
    ("gmm", "gradient"): ("2.04 / 2.09 / 2.28", 2.0),
    ("ba", "sparse"): ("9.7", 9.0),
    ("lstm", "gradient"): ("3.3 - 3.45", 3.0),
    ("hand", "one reverse"): ("simple 12.4-13.8, complicated 9.6-10.4", 10.0),
    ("taylor", "forward"): ("0.99", 1.0),
    ("taylor", "reverse"): ("0.99", 1.0),
}
# a single number per case for the chart's reference tick
REF_TICK = {
    ("gmm", "d2_K5"): 2.04, ("gmm", "d10_K25"): 2.09, ("gmm", "d20_K50"): 2.28,
    ("ba", ""): 9.7, ("lstm", ""): 3.38, ("taylor", ""): 0.99,
    ("hand", "simple"): 13.1, ("hand", "complicated"): 10.0,
}
# benchmarks built from another's source with extra flags: (source benchmark, flags). They
# are references, not AD: no transform time, no tape.
VARIANTS = {"gmm_manual": ("gmm", ["-DGMM_MANUAL"])}
# the functions whose reverse-mode tape a row uses (from --stats-json)
TAPE_SOURCES = {
    "gmm": ["gmm_objective"], "ba": ["reproj_error", "weight_error"], "lstm": ["lstm_objective"],
    "hand": ["hand_simple", "hand_complicated", "hand_vertices", "matmul4"],
    "taylor": ["taylor"], "normalize": ["normalize", "mag"], "fem": ["fem_energy"],
}


def data_path(*parts):
    base = os.environ.get("ADBENCH_DATA", os.path.join(ROOT, "..", "shared", "data", "adbench"))
    return os.path.normpath(os.path.join(base, *parts))


def cases(quick):
    """(bench, args) per run; data files that are missing become seeded inputs of the same size."""
    out = []
    gmm = ["gmm_d2_K5", "gmm_d10_K25"] if quick else ["gmm_d2_K5", "gmm_d10_K25", "gmm_d20_K50"]
    gmm_args = []
    for g in gmm:
        p = data_path("gmm", g + ".txt")
        if os.path.exists(p):
            gmm_args.append([p])
        else:
            d, k = g.split("_")[1][1:], g.split("_")[2][1:]
            gmm_args.append(["gen", d, k, "1000", "1"])
    out += [("gmm", a) for a in gmm_args]
    # the hand-written gradient on the same data: what a derivative can cost here
    out += [("gmm_manual", a) for a in gmm_args]
    out.append(("gmm", ["gen", "16", "20", "200", "7"] if quick else ["gen", "64", "100", "1000", "7"]))
    for b in (["ba1_n49_m7776_p31843"] if quick else ["ba1_n49_m7776_p31843", "ba10_n1197_m126327_p563734"]):
        out.append(("ba", [ba_file(b)]))
    lstm = ["lstm_l2_c1024"] if quick else ["lstm_l2_c1024", "lstm_l4_c1024", "lstm_l2_c4096", "lstm_l4_c4096"]
    for l in lstm:
        p = data_path("lstm", l + ".txt")
        if os.path.exists(p):
            out.append(("lstm", [p]))
        else:
            lay, ch = l.split("_")[1][1:], l.split("_")[2][1:]
            out.append(("lstm", ["gen", lay, ch, "14", "1"]))
    hand = ["simple_small/hand1_t26_c100", "complicated_small/hand1_t26_c100"]
    if not quick:
        hand += ["simple_big/hand1_t26_c100", "complicated_big/hand1_t26_c100", "simple_small/hand7_t26_c3200"]
    for h in hand:
        p = data_path("hand", h + ".txt")
        if os.path.exists(p):
            out.append(("hand", [p]))
        else:
            print(f"note: {p} is missing; the hand benchmark needs ADBench's model files, skipped")
    out.append(("taylor", ["100000"] if quick else ["1000000"]))
    out.append(("normalize", ["2000"] if quick else ["10000"]))
    out.append(("fem", ["60"] if quick else ["300"]))
    return out


def ba_file(name):
    p = data_path("ba", name + ".txt")
    if os.path.exists(p):
        return p
    # ADBench's format: n m p, then one camera, point, weight and feature (replicated)
    n, m, pp = (int(t[1:]) for t in name.split("_")[1:])
    g = os.path.join(HERE, "results", "tmp", name + ".gen.txt")
    with open(g, "w") as f:
        f.write(f"{n} {m} {pp}\n-0.75 -1.1 -0.85 34.5 39.7 53.9 419.2 5.86 -8.52 0.0878 0.0027\n"
                "7.2 0.0011 3.02\n0.417\n271.8 834.2\n")
    return g


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def build(radx, bench, tmp, log):
    source, flags = VARIANTS.get(bench, (bench, []))
    src = os.path.join(HERE, source, source + ".c")
    exe = os.path.join(tmp, bench)
    r = run([radx, "cc"] + CFLAGS + flags + WRAP + [src, "-lm", "-o", exe])
    if r.returncode != 0:
        log.append(f"BUILD FAILED {bench}: radx cc exited {r.returncode}\n{r.stderr.strip()}")
        return None
    return exe


def transform(radx, clang, bench, tmp, reps, baseline_ms):
    """wall time of `radx opt` on the benchmark's -O2 bitcode (the fastest of `reps` runs: the
    work is deterministic, so the minimum is the run least disturbed by other load), minus the
    start-up time, the stats, and the phases: AD, preparation, verification and cleanup (from
    the fastest run's own timings) and the same run answered from a warm derivative cache"""
    if bench in VARIANTS:
        return None, None, None, None
    src = os.path.join(HERE, bench, bench + ".c")
    bc = os.path.join(tmp, bench + ".bc")
    r = run([clang] + CFLAGS + ["-c", "-emit-llvm", src, "-o", bc])
    if r.returncode != 0:
        return None, None, r.stderr, None
    stats = os.path.join(tmp, bench + ".stats.json")
    best, st = None, None
    for _ in range(reps):
        t0 = time.perf_counter()
        r = run([radx, "opt", bc, "-o", os.path.join(tmp, bench + ".radx.bc"), "--stats-json", stats])
        ms = 1e3 * (time.perf_counter() - t0)
        if r.returncode != 0:
            return None, None, r.stderr, None
        if best is None or ms < best:
            best = ms
            with open(stats) as f:
                st = json.load(f)
    cache = os.path.join(tmp, "cache-" + bench)
    shutil.rmtree(cache, ignore_errors=True)
    warm, lookup = [], None
    for i in range(reps + 1):
        t0 = time.perf_counter()
        r = run([radx, "opt", bc, "-o", os.path.join(tmp, bench + ".cached.bc"), "--cache-dir", cache, "--stats-json", stats + ".c"])
        ms = 1e3 * (time.perf_counter() - t0)
        if r.returncode != 0:
            return None, None, r.stderr, None
        if i > 0:  # the first run fills the cache
            warm.append(ms)
            with open(stats + ".c") as f:
                lookup = json.load(f).get("cache", {}).get("lookup_ms", lookup)
    phases = dict(st.get("timings", {}))
    phases["warm_ms"] = max(0.0, min(warm) - baseline_ms)
    phases["lookup_ms"] = lookup
    return max(0.0, best - baseline_ms), st, None, phases


def startup_ms(radx, tmp, reps):
    """`radx opt` on an empty module: process start, LLVM set-up, reading and writing"""
    ll = os.path.join(tmp, "empty.ll")
    with open(ll, "w") as f:
        f.write("; empty\n")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run([radx, "opt", ll, "-o", os.path.join(tmp, "empty.radx.bc")])
        times.append(1e3 * (time.perf_counter() - t0))
    return min(times)


def tape_of(stats, bench, derivative):
    """static tape figures of the reverse-mode functions a row uses: bytes per call, bytes per
    loop iteration (summed over loops); None for forward-only rows"""
    if stats is None or derivative.startswith("forward") or derivative.startswith("full Jacobian"):
        return None
    per_call = per_iter = 0
    found = False
    for g in stats.get("generated", []):
        if g.get("mode") not in ("reverse", "augmented") or "tape" not in g:
            continue
        if g.get("source") not in TAPE_SOURCES.get(bench, []):
            continue
        found = True
        per_call += g["tape"].get("bytes_per_call", 0)
        per_iter += sum(b for _, b in g["tape"].get("bytes_per_iteration", []))
    return {"bytes_per_call": per_call, "bytes_per_iteration": per_iter} if found else None


def ref_tick(bench, case):
    for (b, key), v in REF_TICK.items():
        if b == bench and key in case:
            return v
    return None


def draw_chart(rows, path):
    ratio_chart([{"label": f"{r['bench']} {r['case']} {r['derivative'].split(' (')[0]}",
                  "ratio": r["ratio"], "failed": r["failed"] > 0,
                  "reference": ref_tick(r["bench"], r["case"]) if not r["derivative"].startswith("full") else None}
                 for r in rows], path)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt_time(s):
    if s is None:
        return "-"
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.3f} s"


def table(rows):
    lines = ["| benchmark | case | derivative | primal | derivative | ratio | transform | tape (static) | heap peak | checks |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tape = r.get("tape")
        tape_s = f"{tape['bytes_per_call']} B + {tape['bytes_per_iteration']} B/iter" if tape else "-"
        peak = r.get("grad_heap_peak")
        peak_s = "-" if peak is None or peak < 0 else f"{peak / 1024:.1f} KiB" if peak < 1 << 20 else f"{peak / (1 << 20):.1f} MiB"
        chk = "FAILED" if r.get("failed") else f"ok ({r.get('checks', 0)}: {r.get('check_kinds', '')})"
        tr = r.get("transform_ms")
        lines.append(f"| {r['bench']} | {r['case']} | {r['derivative']} | {fmt_time(r.get('primal_s'))} | "
                     f"{fmt_time(r.get('grad_s'))} | {r['ratio']:.2f} | "
                     f"{'-' if tr is None else f'{tr:.1f} ms'} | {tape_s} | {peak_s} | {chk} |")
    return "\n".join(lines)


def phase_table(phases):
    """where `radx opt`'s time goes, per benchmark module; `rest` is reading, checking and
    writing the module; `warm` is the same run answered from the derivative cache"""
    lines = ["| module | transform | AD | preparation | verification | cleanup | rest | warm (cache) | cache lookup |",
             "|---|---|---|---|---|---|---|---|---|"]
    f = lambda v: "-" if v is None else f"{v:.1f} ms"
    for bench, p in phases.items():
        named = sum(p.get(k) or 0 for k in ("differentiate_ms", "prepare_ms", "verify_ms", "cleanup_ms"))
        rest = None if p.get("total_ms") is None else max(0.0, p["total_ms"] - named)
        lk = p.get("lookup_ms")
        lines.append(f"| {bench} | {f(p.get('total_ms'))} | {f(p.get('differentiate_ms'))} | {f(p.get('prepare_ms'))} | "
                     f"{f(p.get('verify_ms'))} | {f(p.get('cleanup_ms'))} | {f(rest)} | {f(p.get('warm_ms'))} | "
                     f"{'-' if lk is None else f'{lk:.2f} ms'} |")
    return "\n".join(lines)


def clang_of(radx):
    """The clang of the LLVM radx is built on (`radx --version` names it): its bitcode is what
    that radx reads."""
    text = subprocess.run([radx, "--version"], capture_output=True, text=True).stdout
    major = text.split("(LLVM ")[1].split(".")[0] if "(LLVM " in text else "16"
    return shutil.which(f"clang-{major}") or f"/usr/lib/llvm-{major}/bin/clang"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few repetitions (CI smoke test)")
    ap.add_argument("--only", default="", help="comma-separated benchmarks (gmm,gmm_manual,ba,lstm,hand,taylor,normalize,fem)")
    ap.add_argument("--reps", type=int, default=0, help="samples per timing (default 3 quick, 9 full)")
    ap.add_argument("--radx", default=os.environ.get("RADX", os.path.join(ROOT, "target", "release", "radx")))
    ap.add_argument("--clang", default=os.environ.get("RADX_CLANG", ""), help="the clang of radx's LLVM (default: from `radx --version`)")
    ap.add_argument("--cargo", action="store_true", help="run `cargo build --release` first")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results folder")
    ap.add_argument("--chart-only", action="store_true", help="redraw ratios.png and latest.md from latest.json")
    a = ap.parse_args()

    if a.chart_only:
        with open(os.path.join(a.out, "latest.json")) as f:
            rows = json.load(f)["rows"]
        draw_chart(rows, os.path.join(a.out, "ratios.png"))
        with open(os.path.join(a.out, "latest.md"), "w") as f:
            f.write(table(rows) + "\n")
        return

    if a.cargo:
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    if not os.path.exists(a.radx):
        sys.exit(f"radx not found at {a.radx}: run `cargo build --release` (or pass --cargo / --radx)")
    if not a.clang:
        a.clang = clang_of(a.radx)
    tmp = os.path.join(a.out, "tmp")
    os.makedirs(tmp, exist_ok=True)
    radx_path = os.path.abspath(a.radx)
    # one binary for the whole run, even if target/release/radx is rebuilt meanwhile
    snap = os.path.join(tmp, "radx")
    shutil.copy2(a.radx, snap)
    a.radx = snap
    only = set(filter(None, a.only.split(",")))
    todo = [(b, args) for b, args in cases(a.quick) if not only or b in only]
    log, rows, failed = [], [], False
    t_start = time.perf_counter()

    treps = 3 if a.quick else 7
    base = startup_ms(a.radx, tmp, treps)
    exes, tstats, tphases = {}, {}, {}
    for bench in dict.fromkeys(b for b, _ in todo):
        exes[bench] = build(a.radx, bench, tmp, log)
        ms, st, err, phases = transform(a.radx, a.clang, bench, tmp, treps, base)
        if err:
            log.append(f"TRANSFORM FAILED {bench}:\n{err.strip()}")
        tstats[bench] = (ms, st)
        if phases is not None:
            tphases[bench] = dict(phases, total_ms=ms)
        print(f"built {bench:10s} transform {'-' if ms is None else f'{ms:.1f} ms'}", flush=True)

    for bench, args in todo:
        exe = exes.get(bench)
        if not exe:
            failed = True
            continue
        cmd = [exe] + (["--quick"] if a.quick else []) + (["--reps", str(a.reps)] if a.reps else []) + args
        r = run(cmd, timeout=1800)
        got = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        if r.returncode != 0 or not got:
            failed = True
            log.append(f"RUN FAILED {' '.join(cmd)} (exit {r.returncode})\n{r.stderr.strip()[-3000:]}")
        elif r.stderr.strip():
            log.append(f"{bench} {' '.join(args)}:\n{r.stderr.strip()[-3000:]}")
        for row in got:
            ms, st = tstats.get(bench, (None, None))
            row["transform_ms"] = ms
            row["tape"] = tape_of(st, bench, row["derivative"])
            row["args"] = args
            failed |= row["failed"] > 0
            rows.append(row)
            print(f"{row['bench']:9s} {row['case']:24s} {row['derivative'][:34]:34s} primal {fmt_time(row['primal_s']):>11s} "
                  f"deriv {fmt_time(row['grad_s']):>11s} ratio {row['ratio']:8.2f}"
                  f"{'  CHECK FAILED' if row['failed'] else ''}", flush=True)

    version = run([a.radx, "--version"]).stdout.strip()
    result = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": a.quick,
        "radx": version,
        "radx_path": radx_path,
        "machine": {"system": platform.platform(), "cpu": cpu_model(),
                    "cores": os.cpu_count(), "load_avg": os.getloadavg()},
        "radx_opt_startup_ms": base,
        "seconds": time.perf_counter() - t_start,
        "failed": failed,
        "rows": rows,
        "transform_phases": tphases,
        "log": log,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(result, f, indent=1)
    md = table(rows) + "\n\n" + phase_table(tphases)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(md + "\n")
    draw_chart(rows, os.path.join(a.out, "ratios.png"))
    print()
    print(md)
    print(f"\nradx opt start-up (subtracted from the transform times): {base:.1f} ms; "
          f"total {result['seconds']:.0f} s; results in {os.path.relpath(a.out, os.getcwd())}/")
    for entry in log:
        print("\n" + entry)
    if failed:
        print("\n" + "=" * 70 + "\nFAILED: a benchmark did not build or run, or a derivative check failed (see above)\n" + "=" * 70)
        sys.exit(1)


if __name__ == "__main__":
    main()
