#!/usr/bin/python3
"""An RNN learns a target signal online with e-prop inside a Brian2 run.

40 Poisson cells fire at rates 100 +- 80 Hz oscillating at 1, 2 or 3 Hz
(each cell its own frequency and phase); each cell's spikes feed an
exponential trace (tau 50 ms).  Every dt_r = 1 ms a rnnplast.brian2.Bridge
reads the 40 traces (times 0.2) into an RNN (64 units, alpha = 1 - dt_r/tau with tau = 10 ms), steps it, and
writes its output as the input current of a leaky integrate-and-fire cell.
During training the bridge also runs e-prop (symmetric feedback, MSE) against
the target y*(t) = 0.6 sin(2 pi 1 Hz t + 0.3) + 0.4 sin(2 pi 3 Hz t), with an
Adam step every 100 ticks on the gradient summed over them.  (Adam scales
every update to about lr whatever the gradient's size, so an Adam step per
tick lets the output chase the target — low training loss, no learning;
summing 100 ms of e-prop gradient first averages over the target's phase.)  A control bridge steps a copy of the untrained net on
the very same traces with learning off.  After training, learning stops and
both are tested on the next `test` seconds.

Prints the learned net's test loss (mean squared error over the test ticks),
the control's, their ratio, the correlation of the learned output with the
target, and the LIF cell's spike count.

    PYTHONPATH=build/python /usr/bin/python3 examples/brian2_learn.py [train_s [test_s]]

Brian2's code generation target is numpy: no compiler at run time, and on a
small network like this one it costs about as much as cython without cython's
first-run compilation (about 20 s here).
"""
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)  # numpy 1.24 vs Debian's pythran
import brian2 as b2  # noqa: E402

import rnnplast as rp  # noqa: E402
from rnnplast.brian2 import Bridge  # noqa: E402

N_IN, N_REC = 40, 64


def target(t):
    """The signal to learn, t in seconds."""
    return 0.6 * np.sin(2 * np.pi * 1.0 * t + 0.3) + 0.4 * np.sin(2 * np.pi * 3.0 * t)


def make_net():
    net = rp.Net(n_in=N_IN, n_rec=N_REC, n_out=1, batch=1, form="voltage", act="tanh", seed=1)
    rp.Init("gaussian", gain=0.8).apply(net, "W", seed=1)
    rp.Init("gaussian", gain=1.0).apply(net, "U", seed=2)
    rp.Init("gaussian", gain=1.0).apply(net, "V", seed=3)
    return net


def build(seed=1, lr=1e-3, update_every=100):
    """The Brian2 network, the learning bridge and the control bridge."""
    b2.prefs.codegen.target = "numpy"
    b2.seed(seed)
    b2.defaultclock.dt = 1 * b2.ms
    freq = np.array([1.0, 2.0, 3.0])[np.arange(N_IN) % 3]
    phase = np.linspace(0, 2 * np.pi, N_IN, endpoint=False)
    # Poisson cells with per-cell rate parameters (a PoissonGroup's rate
    # expression cannot index a per-cell array)
    cells = b2.NeuronGroup(N_IN, """rate = (100 + 80*sin(2*pi*freq*t + phase))*Hz : Hz
                                    freq : Hz (constant)
                                    phase : 1 (constant)""",
                           threshold="rand() < rate*dt")
    cells.freq = freq * b2.Hz
    cells.phase = phase
    traces = b2.NeuronGroup(N_IN, "dtr/dt = -tr/(50*ms) : 1", method="exact")
    syn = b2.Synapses(cells, traces, on_pre="tr += 1")
    syn.connect(j="i")
    lif = b2.NeuronGroup(1, "dv/dt = (I_rnn - v)/(10*ms) : 1\nI_rnn : 1",
                         threshold="v > 0.5", reset="v = 0", method="exact")
    spikes = b2.SpikeMonitor(lif)

    net = make_net()
    control = net.clone()  # the same untrained net, learning off
    rule = rp.Rule(net, "eprop", loss="mse")
    bridge = Bridge(net, inputs=(traces, "tr"), output=(lif, "I_rnn"), dt=1 * b2.ms,
                    tau=10 * b2.ms, input_scale=0.2, target=target, rule=rule,
                    optim=rp.Optim(net, "adam", lr=lr, clip=1.0), update_every=update_every)
    ctrl = Bridge(control, inputs=(traces, "tr"), dt=1 * b2.ms, tau=10 * b2.ms,
                  input_scale=0.2, name="control*")
    network = b2.Network(cells, traces, syn, lif, spikes, bridge, ctrl)
    return network, bridge, ctrl, spikes


def test_loss(bridge):
    """Mean squared error of the recorded outputs against the target."""
    return float(np.mean((bridge.y[:, 0] - target(bridge.t)) ** 2))


def main(train_s=60.0, test_s=5.0, **kw):
    t0 = time.time()
    network, bridge, ctrl, spikes = build(**kw)
    network.run(train_s * b2.second)
    bridge.learning = False  # ends the e-prop stream
    bridge.clear_record()
    ctrl.clear_record()
    n0 = spikes.num_spikes
    network.run(test_s * b2.second)
    learned, control = test_loss(bridge), test_loss(ctrl)
    corr = float(np.corrcoef(bridge.y[:, 0], target(bridge.t))[0, 1])
    print("train %.0f s, test %.0f s of simulated time (dt_r = 1 ms, %d ticks), %.1f s wall"
          % (train_s, test_s, len(bridge.t), time.time() - t0))
    print("training stream mean loss  %.5f" % bridge.losses[-1])
    print("test loss, learned         %.5f" % learned)
    print("test loss, control         %.5f" % control)
    print("control / learned          %.1f" % (control / learned))
    print("correlation with target    %.4f" % corr)
    print("LIF spikes during the test %d" % (spikes.num_spikes - n0))
    return learned, control, corr


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:3]]
    main(*args)
