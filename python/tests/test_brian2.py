"""rnnplast.brian2: the Bridge's wiring, its learning, and errors surfacing.

Oracles: a copy of the net stepped by hand on the inputs the Brian2 groups
must deliver (known variable values, spike counts from a
SpikeGeneratorGroup's known times) — the bridge's outputs must equal it bit
for bit; the same hand loop with the rule stream and optimizer for learning;
for the example, the untrained copy on the same spikes (loss ratio >= 10).
Needs Brian2 (Debian python3-brian); skipped with the reason otherwise.
Runs with Brian2's numpy target (no compiler at run time), about 15 s.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import rnnplast as rp

try:
    warnings.filterwarnings("ignore", category=FutureWarning)  # Debian's pythran vs numpy 1.24
    import brian2 as b2
except ImportError as e:  # pragma: no cover - depends on the machine
    b2 = None
    _why = "brian2 is not installed (Debian: apt-get install python3-brian): %s" % e

needs_brian2 = pytest.mark.skipif(b2 is None, reason=_why if b2 is None else "")

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


def test_import_rnnplast_does_not_import_brian2():
    code = "import sys, rnnplast; assert 'brian2' not in sys.modules, 'brian2 imported'"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())


@pytest.fixture
def scope():
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    b2.seed(3)
    yield


def _net(n_in, n_out, seed=1):
    net = rp.Net(n_in=n_in, n_rec=16, n_out=n_out, batch=1, act="tanh", seed=1)
    rp.Init("gaussian", gain=0.9).apply(net, "W", seed=seed)
    rp.Init("gaussian", gain=1.0).apply(net, "U", seed=seed + 1)
    rp.Init("gaussian", gain=1.0).apply(net, "V", seed=seed + 2)
    return net


@needs_brian2
def test_wiring_inputs_outputs_and_alpha(scope):
    from rnnplast.brian2 import Bridge
    # three variable values (one of them changing at 2 ms) and two spike trains
    G = b2.NeuronGroup(3, "r : 1")
    G.r = [0.5, -1.0, 2.0]
    S = b2.SpikeGeneratorGroup(2, [0, 0, 1, 1, 1], [0.2, 0.5, 1.3, 2.1, 2.4] * b2.ms)
    mon = b2.SpikeMonitor(S, record=False)
    out = b2.NeuronGroup(2, "I : amp")

    @b2.network_operation(dt=2 * b2.ms, when="end")
    def change(t):
        G.r[1] = 3.0

    net = _net(5, 2)
    bridge = Bridge(net, inputs=[(G, "r"), mon], output=(out, "I"), dt=1 * b2.ms,
                    tau=10 * b2.ms, input_scale=[1, 1, 1, 0.5, 0.5],
                    output_scale=2 * b2.nA)
    ref = net.clone()  # with the alpha the bridge set
    assert net.alpha == 1 - 0.001 / 0.01
    b2.Network(G, S, mon, out, change, bridge).run(4 * b2.ms)

    # the bridge runs at 'start' of 0, 1, 2, 3 ms: it sees the spikes before its
    # tick and, from 1 ms on, the change made at the end of the 0 ms step
    counts = np.array([[0, 0], [2, 0], [0, 1], [0, 2]])
    r1 = np.array([-1.0, 3.0, 3.0, 3.0])
    X = np.column_stack([np.full(4, 0.5), r1, np.full(4, 2.0), 0.5 * counts])
    Y = np.array([ref.step(X[k][None, :])[0] for k in range(4)])
    np.testing.assert_array_equal(bridge.t, [0.0, 0.001, 0.002, 0.003])
    np.testing.assert_array_equal(bridge.y, Y)
    np.testing.assert_array_equal(np.asarray(out.I_), Y[-1] * 2e-9)  # reached the group


@needs_brian2
def test_wiring_refuses_wrong_shapes(scope):
    from rnnplast.brian2 import Bridge
    G = b2.NeuronGroup(3, "r : 1")
    out = b2.NeuronGroup(2, "I : 1")
    with pytest.raises(ValueError, match="n_in is 4"):
        Bridge(_net(4, 2), inputs=(G, "r"))
    with pytest.raises(ValueError, match="n_out is 3"):
        Bridge(_net(3, 3), inputs=(G, "r"), output=(out, "I"))
    with pytest.raises(ValueError, match="no variable 'x'"):
        Bridge(_net(3, 2), inputs=(G, "x"))
    with pytest.raises(ValueError, match="read-only"):
        Bridge(_net(3, 1), inputs=(G, "r"), output=(out, "N"))
    with pytest.raises(ValueError, match="batch"):
        Bridge(rp.Net(n_in=3, n_rec=4, n_out=2, batch=2), inputs=(G, "r"))
    with pytest.raises(ValueError, match="below tau"):
        Bridge(_net(3, 2), inputs=(G, "r"), dt=1 * b2.ms, tau=1 * b2.ms)
    with pytest.raises(ValueError, match="expected"):
        Bridge(_net(3, 2), inputs=(G, "r"), target=np.zeros((5, 3)), rule=None)


@needs_brian2
def test_n_out_one_broadcasts(scope):
    from rnnplast.brian2 import Bridge
    G = b2.NeuronGroup(3, "r : 1")
    G.r = [0.1, 0.2, 0.3]
    out = b2.NeuronGroup(4, "I : 1")
    net = _net(3, 1)
    bridge = Bridge(net, inputs=(G, "r"), output=(out, "I"), dt=1 * b2.ms, output_scale=-3.0)
    b2.Network(G, out, bridge).run(2 * b2.ms)
    np.testing.assert_array_equal(np.asarray(out.I), np.full(4, -3.0 * bridge.y[-1, 0]))


@needs_brian2
def test_learning_is_the_rule_stream_and_optimizer(scope):
    from rnnplast.brian2 import Bridge
    G = b2.NeuronGroup(3, "r = sin(2*pi*(5*Hz*t + i/3.0)) : 1")
    net = _net(3, 1)
    ref = net.clone()
    K, every = 23, 5
    tgt = np.cos(np.arange(K) * 0.3)
    bridge = Bridge(net, inputs=(G, "r"), dt=1 * b2.ms, target=tgt,
                    rule=rp.Rule(net, "eprop"), optim=rp.Optim(net, "sgd", lr=0.05),
                    update_every=every)
    network = b2.Network(G, bridge)
    network.run(K * b2.ms)
    bridge.learning = False  # ends the stream, applies the last partial window

    # by hand: the same calls on the copy, inputs from the same formula
    rule, opt, g = rp.Rule(ref, "eprop"), rp.Optim(ref, "sgd", lr=0.05), rp.Grad(ref)
    s = rule.stream(g)
    for k in range(K):
        x = np.sin(2 * np.pi * (5 * k * 1e-3 + np.arange(3) / 3.0))[None, :]
        ref.step(x)
        s.step(x, np.array([[tgt[k]]]), grad=g)
        if (k + 1) % every == 0 or k == K - 1:
            opt.step(g)
            g.zero()
    loss = s.end()
    # Brian2's t (k dt) and the hand loop's k * 1e-3 may differ in the last bit
    assert bridge.losses == [pytest.approx(loss, rel=1e-12)]
    for p in "WUbVc":
        np.testing.assert_allclose(getattr(net, p), getattr(ref, p), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="has 23 rows"):
        bridge.learning = True
        network.run(1 * b2.ms)  # the target array has run out


@needs_brian2
def test_library_errors_surface_as_rnnplast_error(scope):
    from rnnplast.brian2 import Bridge
    G = b2.NeuronGroup(2, "r : 1")
    G.r = [0.0, np.nan]
    net = _net(2, 1)
    bridge = Bridge(net, inputs=(G, "r"), dt=1 * b2.ms)
    with pytest.raises(rp.Error) as e:
        b2.Network(G, bridge).run(2 * b2.ms)
    assert isinstance(e.value, rp.NonFiniteError)
    assert e.value.status == "RP_ERR_NONFINITE"
    assert "x" in str(e.value)  # the library's message names the input


@needs_brian2
def test_example_learns_10x_below_control():
    sys.path.insert(0, EXAMPLES)
    try:
        import brian2_learn as ex
    finally:
        sys.path.remove(EXAMPLES)
    learned, control, corr = ex.main(train_s=20.0, test_s=5.0, lr=3e-3)
    assert learned <= control / 10, (learned, control)
    assert corr > 0.9
