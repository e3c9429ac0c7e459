#!/usr/bin/python3
"""Python overhead per step: net.step and an e-prop stream step through the
rnnplast package, against the same calls from C (bench/py_overhead.c, run
here as a subprocess with the same set-up and the same medians).

    make python build/bench/py_overhead
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=build/python /usr/bin/python3 bench/py_overhead.py \
        [--c build/bench/py_overhead] [--rounds 3] [--profile] [N ...]

Set-up (as in py_overhead.c): voltage form, relu, alpha 0.9, n_in 4, n_out 2,
B 1, W gaussian gain 0.9 seed 1, U and V gain 1 seeds 2 and 3, e-prop with
symmetric feedback and MSE, fixed x and target.  Each figure is the median
over 21 repetitions of 2000 calls after one warm-up repetition.  Timed
forms: ``net.step(x)`` (a new output array each call), ``net.step(x,
out=y)`` (the caller's array), and a stream step ``net.step(x, out=y);
s.step(x, target, grad=g)``.  Prints figures and the difference to C in
microseconds; asserts nothing.  --profile adds a cProfile of the Python
side of the stream step at N = 64.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import rnnplast as rp

REPS, INNER = 21, 2000
HERE = os.path.dirname(os.path.abspath(__file__))


def setup(N):
    net = rp.Net(n_in=4, n_rec=N, n_out=2, batch=1, alpha=0.9, form="voltage", act="relu")
    rp.Init("gaussian", gain=0.9).apply(net, "W", seed=1)
    rp.Init("gaussian", gain=1.0).apply(net, "U", seed=2)
    rp.Init("gaussian", gain=1.0).apply(net, "V", seed=3)
    x = (0.1 * np.arange(1, 5))[None, :]
    tgt = np.array([[0.5, 0.25]])
    return net, x, tgt


def timed(fn):
    """Median seconds per call of fn() (which makes INNER calls)."""
    fn()
    t = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) / INNER)
    return statistics.median(t)


def python_figures(N):
    net, x, tgt = setup(N)
    y = np.empty((1, 2))
    step = net.step
    r = range(INNER)

    def new_out():
        for _ in r:
            step(x)

    def given_out():
        for _ in r:
            step(x, out=y)

    lib, ffi = rp.lib, rp.ffi
    h, px, py = net._h, ffi.from_buffer("double[]", x), ffi.from_buffer("double[]", y)
    raw_step = lib.rp_net_step

    def raw():  # the cffi call alone, pointers made once: the floor of any binding
        for _ in r:
            raw_step(h, px, py)

    out = {"net_step": timed(new_out), "net_step_out": timed(given_out), "raw": timed(raw)}
    net.reset()
    rule = rp.Rule(net, "eprop", loss="mse")
    g = rp.Grad(net)
    s = rule.stream(g)
    sstep = s.step

    def stream():
        for _ in r:
            step(x, out=y)
            sstep(x, tgt, grad=g)

    out["stream_step"] = timed(stream)
    tick = s.tick

    def fused():  # the same two C calls from one Python call
        for _ in r:
            tick(x, tgt, grad=g, out=y)

    out["stream_tick"] = timed(fused)
    s.x[...] = x
    s.target[...] = tgt
    s.grad = g
    adv = s.advance

    def own_arrays():  # the stream's own arrays: no conversion at all
        for _ in r:
            adv()

    out["stream_advance"] = timed(own_arrays)
    s.end()
    return out


def c_figures(exe, sizes):
    env = dict(os.environ)
    env.pop("RP_BENCH_CSV", None)
    res = subprocess.run([exe] + [str(n) for n in sizes], check=True, capture_output=True,
                         text=True, env=env)
    out = {}
    for line in res.stdout.splitlines():
        what, n, _, us = line.split()
        out[(what, int(n.split("=")[1]))] = float(us.split("=")[1]) * 1e-6
    return out


def profile(N=64):
    import cProfile
    import pstats
    net, x, tgt = setup(N)
    y = np.empty((1, 2))
    rule = rp.Rule(net, "eprop")
    g = rp.Grad(net)
    s = rule.stream(g)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(20000):
        net.step(x, out=y)
        s.step(x, tgt, grad=g)
    pr.disable()
    s.end()
    pstats.Stats(pr).sort_stats("tottime").print_stats(12)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--c", default=os.path.join(HERE, "..", "build", "bench", "py_overhead"),
                    help="the C counterpart (built by make from bench/py_overhead.c)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("sizes", nargs="*", type=int, default=[64, 128])
    a = ap.parse_args()
    # C and Python alternate for `rounds` rounds; each figure is the smallest of
    # its rounds' medians (on a shared machine, load only ever adds time)
    c, p = {}, {N: {} for N in a.sizes}
    for _ in range(a.rounds):
        for k, v in c_figures(a.c, a.sizes).items():
            c[k] = min(v, c.get(k, v))
        for N in a.sizes:
            for k, v in python_figures(N).items():
                p[N][k] = min(v, p[N].get(k, v))
    print("py_overhead: rnnplast %s, OPENBLAS_NUM_THREADS=%s, B = 1, n_in 4, n_out 2; "
          "best of %d rounds of the median of %d x %d calls"
          % (rp.__version__, os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"), a.rounds, REPS,
             INNER))
    print("%-30s %5s %10s %10s %10s" % ("call", "N", "C us", "Python us", "diff us"))
    rows = (("net.step(x)", "net_step", "net_step"),
            ("net.step(x, out=y)", "net_step", "net_step_out"),
            ("lib.rp_net_step (raw cffi)", "net_step", "raw"),
            ("stream step (out=y)", "stream_step", "stream_step"),
            ("s.tick(x, target, out=y)", "stream_step", "stream_tick"),
            ("s.advance() (s.x, s.target)", "stream_step", "stream_advance"))
    for N in a.sizes:
        for name, cname, key in rows:
            tc, tp = c[(cname, N)], p[N][key]
            print("%-30s %5d %10.3f %10.3f %10.3f" % (name, N, tc * 1e6, tp * 1e6,
                                                       (tp - tc) * 1e6))
    if a.profile:
        profile()


if __name__ == "__main__":
    sys.exit(main())
