#!/usr/bin/env python3
"""report.py -- Markdown tables from bench/results.csv (written by bench_suite),
for docs/PERFORMANCE.md:  python3 bench/report.py [bench/results.csv]

One table per thread count with the main sizes, then the scaling rows with
the exponent fitted between the smallest and largest value of each variable
(time ~ x^p), then peak memory."""
import csv
import math
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "bench/results.csv"
rows = list(csv.DictReader(open(path)))


def t(s):
    s = float(s)
    if s >= 1:
        return "%.3f s" % s
    if s >= 1e-3:
        return "%.3f ms" % (s * 1e3)
    return "%.2f µs" % (s * 1e6)


threads = sorted({r["threads"] for r in rows})
for th in threads:
    rs = [r for r in rows if r["threads"] == th]
    peak = [r for r in rs if r["what"] == "dgemm_peak"]
    print("\n### %s thread%s (dgemm peak %.1f GFLOP/s)\n" % (th, "" if th == "1" else "s",
                                                             float(peak[0]["gflops"]) if peak else 0))
    print("| section | what | N | B | T | k | per call | per step | GFLOP/s | limit | frac | fracL | extra | peak MiB | Δ MiB |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|")
    for r in rs:
        if r["section"].startswith("scale"):
            continue
        extra = float(r["extra"])
        ex = "" if extra == 0 else ("%.1f µs" % extra if r["section"] == "online" else "%.2f" % extra)
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %.0f %% | %.0f %% | %s | %s | %s |" % (
            r["section"], r["what"], r["N"], r["B"], r["T"], r["k"], t(r["seconds"]),
            t(r["seconds_per_step"]), float(r["gflops"]), r["limit"], 100 * float(r["fraction"]),
            100 * float(r["fraction_local"]), ex, r["peak_mib"], r["delta_mib"]))
    sc = [r for r in rs if r["section"].startswith("scale")]
    if not sc:
        continue
    print("\nScaling (%s thread%s): time per call, and p in time ~ x^p between the ends\n" %
          (th, "" if th == "1" else "s"))
    print("| vary | what | values | times | p | peak MiB |")
    print("|---|---|---|---|--:|---|")
    groups = {}
    for r in sc:
        groups.setdefault((r["section"], r["what"]), []).append(r)
    for (sec, what), g in groups.items():
        var = {"scale_N": "N", "scale_B": "B", "scale_T": "T", "scale_k": "k", "scale_Nk": "N"}[sec]
        xs = [float(r[var]) for r in g]
        # the spectrum times a variable number of steps per call: compare per step
        key = "seconds_per_step" if what == "spectrum_step" else "seconds"
        ts = [float(r[key]) for r in g]
        p = math.log(ts[-1] / ts[0]) / math.log(xs[-1] / xs[0])
        fixed = ", ".join("%s=%s" % (v, g[0][v]) for v in ("N", "B", "T", "k") if v != var and g[0][v] != "0")
        print("| %s (%s) | %s | %s | %s | %.2f | %s |" % (
            var, fixed, what, " / ".join(r[var] for r in g), " / ".join(t(s) for s in ts), p,
            " / ".join(r["peak_mib"] for r in g)))

# PyTorch comparison: bench/torch_results.csv (bench/torch_ref.py --csv), same thread counts
import os

tpath = os.path.join(os.path.dirname(path), "torch_results.csv")
if os.path.exists(tpath):
    trs = list(csv.DictReader(open(tpath)))
    mine = {"forward": "run_relu", "bptt": "bptt_relu", "eprop": "eprop_relu"}
    sec = {"forward": "forward", "bptt": "train", "eprop": "train"}
    print("\nPyTorch (bench/torch_ref.py, float64, same network) vs librnnplast, time per call "
          "(forward: T steps)\n")
    print("| threads | kernel | N | B | T | PyTorch | librnnplast | speed-up |")
    print("|--:|---|--:|--:|--:|--:|--:|--:|")
    for tr in trs:
        m = [r for r in rows if r["threads"] == tr["threads"] and r["section"] == sec[tr["kernel"]]
             and r["what"] == mine[tr["kernel"]] and r["N"] == tr["N"] and r["B"] == tr["B"]
             and r["T"] == tr["T"]]
        if not m:
            continue
        a, b = float(tr["seconds"]), float(m[0]["seconds"])
        print("| %s | %s | %s | %s | %s | %s | %s | %.1f× |" % (tr["threads"], tr["kernel"], tr["N"],
              tr["B"], tr["T"], t(a), t(b), a / b))

# The targets, per thread count
print("\nTargets\n")
print("| threads | target | measured | met |")
print("|--:|---|---|---|")


def find(th, sec, what, N, B, k=None):
    for r in rows:
        if (r["threads"] == th and r["section"] == sec and r["what"] == what and r["N"] == str(N)
                and r["B"] == str(B) and (k is None or r["k"] == str(k))):
            return r
    return None


for th in threads:
    for sec, what, name in (("forward", "run_relu", "forward"), ("train", "bptt_relu", "BPTT"),
                            ("train", "eprop_relu", "e-prop"), ("train", "rflo_relu", "RFLO")):
        r = find(th, sec, what, 512, 64)
        if r:
            f, fl = float(r["fraction"]), float(r["fraction_local"])
            print("| %s | (512, 64, 100) %s ≥ 60 %% of dgemm peak | %.0f %% of the run's best peak; "
                  "%.0f %% of the peak measured next to it | %s |" % (
                      th, name, 100 * f, 100 * fl,
                      "yes" if f >= 0.6 else ("load-matched only" if fl >= 0.6 else "**no**")))
    r = find(th, "forward", "run_relu", 128, 1)
    if r:
        f, fl = float(r["fraction"]), float(r["fraction_local"])
        print("| %s | (128, 1) forward step ≤ 2× dgemv bound | %s a step = %.2f× the bound "
              "(%.2f× the bound measured next to it) | %s |" % (
                  th, t(r["seconds_per_step"]), 1 / f, 1 / fl,
                  "yes" if f >= 0.5 else ("load-matched only" if fl >= 0.5 else "**no**")))
    r = find(th, "online", "eprop_step", 128, 1)
    if r:
        s = float(r["seconds"])
        print("| %s | (128, 1) e-prop online step ≤ 10 µs | rule step %s; with the net step %.2f µs | %s |" % (
            th, t(s), float(r["extra"]), "yes" if s <= 10e-6 else "**no**"))
    r = find(th, "lyap", "spectrum_step", 128, 1, 128)
    if r:
        x = float(r["extra"])
        print("| %s | Lyapunov k = N = 128 ≤ 1.5× (dgemm + dgeqrf/dorgqr) a step | %s a step = %.2f× | %s |" % (
            th, t(r["seconds_per_step"]), x, "yes" if x <= 1.5 else "**no**"))
    if os.path.exists(tpath):
        for tr in trs:
            if tr["threads"] != th or tr["kernel"] == "forward":
                continue
            key = (tr["N"], tr["B"], tr["T"])
            if key not in (("128", "1", "100"), ("512", "64", "100")):
                continue
            m = find(th, "train", mine[tr["kernel"]], tr["N"], tr["B"])
            if not m:
                continue
            sp = float(tr["seconds"]) / float(m["seconds"])
            need = 10.0 if key[0] == "128" else 1.0
            print("| %s | (%s, %s, %s) %s vs PyTorch ≥ %g× | %.1f× | %s |" % (
                th, *key, tr["kernel"], need, sp, "yes" if sp >= need else "**no**"))
