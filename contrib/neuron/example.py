"""A learning RNN inside a NEURON model (contrib/neuron/README.md).

Four Hodgkin-Huxley somata, each driven by a sinusoidally modulated current
(IClamp, one phase each), spike; NetCons carry their spikes to the input
channels of an RnnLearner, which learns online with e-prop to produce a
target signal (Vector.play into its target[0]).  Its output drives a fifth HH
soma through an RnnClamp.  A second RnnLearner with the same seed, learning
off, receives the same spikes: the untrained control.  After training, both
run on with learning off and their test losses are compared.

    /usr/bin/python3 contrib/neuron/example.py [--lib .../libnrnmech.so]
        [--train MS] [--test MS] [--nthread N]
"""
import argparse
import math
import os
import sys

import numpy as np
from neuron import h

PERIOD = 100.0  # ms, of the inputs' modulation and of the target
DT_R = 1.0      # ms, the network's tick


def target_fn(t):
    ph = 2 * math.pi * t / PERIOD
    return 0.8 * math.sin(ph - 1.0) + 0.3 * math.sin(2 * ph)


def load_mechanisms(lib):
    if hasattr(h, "RnnLearner"):  # already loaded (e.g. run from the build dir)
        return
    if lib is None:
        here = os.path.dirname(os.path.abspath(__file__))
        lib = os.path.join(here, "build", "x86_64", "libnrnmech.so")
    if not os.path.exists(lib):
        sys.exit(f"{lib} not found: run contrib/neuron/build.sh first (or pass --lib)")
    h.nrn_load_dll(lib)


def hh_soma(name):
    s = h.Section(name=name)
    s.L = s.diam = 20.0
    s.insert("hh")
    return s


def build(args):
    """The model; returns what the run needs to keep alive and to read."""
    m = {}
    m["cells"] = cells = [hh_soma(f"in{i}") for i in range(4)]
    tt = np.arange(0.0, args.train + args.test + 2 * DT_R, DT_R)
    m["tvec"] = tvec = h.Vector(tt)
    m["drive"] = []
    for i, c in enumerate(cells):
        ic = h.IClamp(c(0.5))
        ic.delay, ic.dur = 0.0, 1e9
        # 0.2 nA above rest on the rising half; silent below the threshold
        amp = h.Vector(0.05 + 0.2 * np.maximum(0.0, np.sin(2 * np.pi * tt / PERIOD + i * np.pi / 2)))
        amp.play(ic._ref_amp, tvec, True)
        m["drive"] += [ic, amp]
    m["out"] = out = hh_soma("out")
    learners = []
    for learning in (1, 0):
        L = h.RnnLearner(out(0.5))  # in the driven cell: one thread with its RnnClamp
        L.n_in, L.n_rec, L.n_out = 4, args.n_rec, 1
        L.tau, L.dt_r, L.tau_in = 10.0, DT_R, 10.0
        L.seed, L.lr, L.every = 7, args.lr, 10
        L.learning = learning
        learners.append(L)
    m["learner"], m["control"] = learners
    m["netcons"] = []
    for i, c in enumerate(cells):
        for L in learners:
            nc = h.NetCon(c(0.5)._ref_v, L, sec=c)
            nc.threshold, nc.delay = 0.0, 1.0
            nc.weight[0], nc.weight[1] = 0.5, i  # weight[1]: the input channel
            m["netcons"].append(nc)
    tgt = h.Vector([target_fn(t) for t in tt])
    for L in learners:
        tgt.play(L._ref_target[0], tvec, True)
    m["tgt"] = tgt
    m["clamp"] = clamp = h.RnnClamp(out(0.5))
    clamp.amp, clamp.offset = 0.3, 0.1
    h.setpointer(m["learner"]._ref_y[0], "src", clamp)
    m["rec"] = {
        # every dt: NEURON 8.2's Dt and time-vector forms of record sample
        # a point process's variable racily under threads (seen here)
        "y": h.Vector().record(m["learner"]._ref_y[0]),
        "y0": h.Vector().record(m["control"]._ref_y[0]),
    }
    m["spikes"] = h.Vector()
    m["out_nc"] = h.NetCon(out(0.5)._ref_v, None, sec=out)
    m["out_nc"].threshold = 0.0
    m["out_nc"].record(m["spikes"])
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="libnrnmech.so built by build.sh")
    ap.add_argument("--train", type=float, default=20000.0, help="ms of online learning")
    ap.add_argument("--test", type=float, default=2000.0, help="ms of testing, learning off")
    ap.add_argument("--n-rec", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--nthread", type=int, default=1)
    args = ap.parse_args(argv)
    load_mechanisms(args.lib)
    h.load_file("stdrun.hoc")
    m = build(args)
    if args.nthread > 1:
        h.ParallelContext().nthread(args.nthread)
    h.dt = 0.025
    h.finitialize(-65.0)
    h.continuerun(args.train)
    m["learner"].learning = 0
    h.continuerun(args.train + args.test)

    # sample j is taken at t = j * dt; the output of the tick at t = k * DT_R
    # first shows at j = k * stride + 1 (recording h._ref_t itself is refused
    # under threads: "unable to associate a PlayRecord item with a thread")
    stride = int(round(DT_R / h.dt))
    r = {k: np.array(v)[1::stride] for k, v in m["rec"].items()}
    r["t"] = np.arange(len(r["y"])) * DT_R
    r["tgt"] = np.array([target_fn(t) for t in r["t"]])  # the oracle, not the played copy
    test = r["t"] > args.train  # ticks made with learning off
    err = r["y"][test] - r["tgt"][test]
    loss = float(np.mean(0.5 * err**2))
    loss0 = float(np.mean(0.5 * (r["y0"][test] - r["tgt"][test]) ** 2))
    corr = float(np.corrcoef(r["y"][test], r["tgt"][test])[0, 1])
    spikes = np.array(m["spikes"])
    print(f"learned test loss  {loss:.6f}")
    print(f"control test loss  {loss0:.6f}   (same net and seed, learning off)")
    print(f"ratio control/learned {loss0 / loss:.1f}")
    print(f"correlation with the target {corr:.4f}")
    print(f"driven cell spikes in the test window: {int(np.sum(spikes > args.train))}")
    return loss, loss0, corr


if __name__ == "__main__":
    main()
