"""The package gives the C library's numbers to the last bit.

Oracle: python/tests/ref/ref.c, built and run by conftest's ``ref`` fixture,
which computes the same scenarios through the C API and prints every value
as a hex float.  Every comparison is of 64-bit patterns (assert_bits)."""


import numpy as np
import pytest

import rnnplast as rp
from conftest import (PARAMS, RULES, assert_bits, net_a, net_b, params_of, ramp,
                      task_a, task_b)


def _rule(net, kind, loss=None):
    # ref.c's rule_of: TBPTT K = 4; ModProp with types i mod 2 and mu = 0.7
    if kind == "modprop":
        return rp.Rule(net, kind, loss=loss, cell_types=np.arange(net.n_rec) % 2, mu=0.7)
    return rp.Rule(net, kind, loss=loss, truncation=4 if kind == "tbptt" else None)


@pytest.mark.parametrize("scenario", ["A", "B"])
def test_trials_of_every_rule(ref, scenario):
    """Task samples, net.run outputs, and each rule's trial loss and
    gradient blocks (bptt, tbptt K=4, rtrl, eprop, rflo, modprop) equal C's."""
    c = ref("trials")
    p = scenario + "_"
    net = net_a() if scenario == "A" else net_b()
    X, target, mask = task_a() if scenario == "A" else task_b()
    loss_kind = "ce" if scenario == "A" else "mse"
    for name, v in params_of(net).items():
        assert_bits(v, c[p + name], p + name)
    assert_bits(X, c[p + "X"], "task X")
    assert_bits(target, c[p + "target"], "task target")
    assert_bits(mask, c[p + "mask"], "task mask")
    net.reset()
    assert_bits(net.run(X), c[p + "Y"], "net.run")
    g = rp.Grad(net)
    for kind in RULES:
        g.zero()
        loss = _rule(net, kind, loss_kind).trial(X, target, mask=mask, grad=g)
        assert_bits(np.float64(loss), c[p + "loss_" + kind], kind + " loss")
        for blk in PARAMS:
            assert_bits(g[blk], c[p + "g_%s_%s" % (kind, blk)], "%s grad %s" % (kind, blk))


@pytest.mark.parametrize("how", ("step", "tick", "advance"))
def test_online_streams(ref, how):
    """eprop, rflo, rtrl, modprop streams (rate form, noisy net B): outputs of every
    net.step, the stream's mean loss, the gradient and the final state.  The
    streams run one after another on one net, as in ref.c: the noise
    generator carries on between them.  Stepped as net.step + s.step, as
    s.tick (both calls from one Python call), and as s.advance (on the
    stream's own arrays s.x, s.target)."""
    c = ref("stream")
    net = net_b()
    X, target, mask = task_b()
    T = X.shape[0]
    for kind in ("eprop", "rflo", "rtrl", "modprop"):
        rule = _rule(net, kind, "mse")
        g = rp.Grad(net)
        net.reset()
        Y = np.empty((T,) + (X.shape[1], 1))
        with rule.stream() as s:
            for t in range(T):
                if how == "tick":
                    Y[t] = s.tick(X[t], target[t], mask=mask[t], grad=g)
                elif how == "advance":
                    s.grad = g
                    s.x[...] = X[t]
                    s.target[...] = target[t]
                    Y[t] = s.advance(mask=mask[t])
                else:
                    Y[t] = net.step(X[t])
                    s.step(X[t], target[t], mask=mask[t], grad=g)
        pre = "S_%s_" % kind
        assert_bits(Y, c[pre + "Y"], kind + " outputs")
        assert_bits(np.float64(s.loss), c[pre + "loss"], kind + " stream loss")
        for blk in PARAMS:
            assert_bits(g[blk], c[pre + "g_" + blk], "%s grad %s" % (kind, blk))
        assert_bits(net.state, c[pre + "state"], kind + " final state")


def test_lyapunov(ref):
    """Spectrum (k=4, t_ons=2, transient=6, seed 5) of net A driven by the
    ramp, its last local exponents, and lambda_max by direct simulation."""
    c = ref("lyap")
    net = net_a()
    x = ramp(40, 3)
    ly = rp.Lyapunov(net, k=4, t_ons=2, transient=6, seed=5)
    lam = ly.run(x)
    assert_bits(lam, c["L_spectrum"], "spectrum")
    assert_bits(ly.spectrum(), c["L_spectrum"], "spectrum getter")
    assert_bits(ly.local(), c["L_local"], "local exponents")
    lmax = rp.Lyapunov.max_direct(net, x, transient=6, eps=1e-7, seed=5)
    assert_bits(np.float64(lmax), c["L_lmax"], "lambda_max direct")


@pytest.mark.parametrize("mode", ["exact", "local"])
def test_flossing(ref, mode):
    """F, the exponents and dF/dtheta of one flossing trial (k=3, target 0.1,
    t_ons=2, transient=4, seed 9) of net A on the ramp."""
    c = ref("floss")
    net = net_a()
    g = rp.Grad(net)
    fl = rp.Floss(net, k=3, target=0.1, mode=mode, t_ons=2, transient=4, seed=9)
    F = fl.trial(ramp(30, 3), grad=g)
    pre = "F_%s_" % mode
    assert_bits(np.float64(F), c[pre + "F"], "F")
    assert_bits(fl.lambdas, c[pre + "lambdas"], "exponents")
    for blk in PARAMS:
        assert_bits(g[blk], c[pre + "g_" + blk], "grad " + blk)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_optimizer_steps(ref, kind):
    """Two steps with scenario A's BPTT gradient: Adam (lr 3e-3, clip 1) and
    SGD (lr 0.05, momentum 0.9); the second step shows the moments."""
    c = ref("optim")
    net = net_a()
    X, target, mask = task_a()
    g = rp.Grad(net)
    rp.Rule(net, "bptt", loss="ce").trial(X, target, mask=mask, grad=g)
    if kind == "adam":
        opt = rp.Optim(net, "adam", lr=3e-3, clip=1.0)
    else:
        opt = rp.Optim(net, "sgd", lr=0.05, momentum=0.9)
    for i in (1, 2):
        opt.step(g)
        for blk in PARAMS:
            assert_bits(getattr(net, blk), c["O_%s%d_%s" % (kind, i, blk)],
                        "%s step %d %s" % (kind, i, blk))


# ---------------------------------------------------------------- files


def _check_net_dump(d, p, net):
    cfg = d[p + "config"]
    assert list(cfg[:4]) == [net.n_in, net.n_rec, net.n_out, net.batch]
    assert_bits(np.float64(net.alpha), cfg[4], "alpha")
    for blk in PARAMS:
        assert_bits(getattr(net, blk), d[p + blk], "param " + blk)


def test_python_saves_c_loads(ref, tmp_path):
    path = tmp_path / "a.rpnet"
    net = net_a()
    net.save(str(path))
    d = ref.run("loadnet", path)
    _check_net_dump(d, "N_", net)
    assert_bits(net.initial_state, d["N_h0"], "h0")


def test_c_saves_python_loads(ref, tmp_path):
    path = tmp_path / "c.rpnet"
    ref.run("savenet", path)
    net = rp.Net.load(str(path))
    expect = net_a()
    for blk in PARAMS:
        assert_bits(getattr(net, blk), getattr(expect, blk), "param " + blk)
    # and the loaded net computes what C's own load computes
    d = ref.run("loadnet", path)
    _check_net_dump(d, "N_", net)
    assert_bits(net.state, d["N_state"], "state")


def _ckpt_scenario():
    """cmd_saveckpt of ref.c in Python: net B, Adam (lr 1e-2) after one
    BPTT step, an e-prop stream of 5 steps left open."""
    net = net_b()
    X, target, mask = task_b()
    g = rp.Grad(net)
    rp.Rule(net, "bptt", loss="mse").trial(X, target, mask=mask, grad=g)
    opt = rp.Optim(net, "adam", lr=1e-2)
    opt.step(g)
    ep = rp.Rule(net, "eprop", loss="mse")
    g.zero()
    net.reset()
    s = ep.stream()
    for t in range(5):
        net.step(X[t])
        s.step(X[t], target[t], mask=mask[t], grad=g)
    return net, opt, ep, s, (X, target, mask)


def test_checkpoint_python_saves_c_loads(ref, tmp_path):
    """A mid-stream checkpoint written by Python: C loads it and finishes
    the stream; Python finishes its own — the same outputs, loss, gradient
    and optimizer step."""
    path = tmp_path / "py.rpck"
    net, opt, ep, s, (X, target, mask) = _ckpt_scenario()
    rp.checkpoint_save(str(path), net, optim=opt, rule=ep, iteration=17, user=b"hello")
    d = ref.run("loadckpt", path)
    _check_net_dump(d, "C_", net)
    assert_bits(net.state, d["C_state"], "live state")
    assert d["C_iteration"] == 17
    assert bytes(d["C_user"].astype(np.uint8)) == b"hello"
    _finish_like_c(d, net, opt, s, X, target, mask)


def _finish_like_c(d, net, opt, s, X, target, mask):
    # the stream's steps 5..T-1, its end and an optimizer step, against C's
    g = rp.Grad(net)
    Y = np.empty((X.shape[0] - 5, X.shape[1], 1))
    for t in range(5, X.shape[0]):
        Y[t - 5] = net.step(X[t])
        s.step(X[t], target[t], mask=mask[t], grad=g)
    loss = s.end()
    assert_bits(Y, d["C_Y"], "outputs after the split")
    assert_bits(np.float64(loss), d["C_loss"], "stream loss")
    for blk in PARAMS:
        assert_bits(g[blk], d["C_g_" + blk], "grad " + blk)
    opt.step(g)
    for blk in PARAMS:
        assert_bits(getattr(net, blk), d["C_after_" + blk], "after optim " + blk)


def test_checkpoint_c_saves_python_loads(ref, tmp_path):
    """The same checkpoint written by C and loaded by Python: Python's
    continuation equals C's continuation of its own file."""
    path = tmp_path / "c.rpck"
    ref.run("saveckpt", path)
    d = ref.run("loadckpt", path)
    ck = rp.checkpoint_load(str(path))
    net, opt, s = ck.net, ck.optim, ck.stream
    assert ck.iteration == 17
    assert ck.user == b"hello"
    assert ck.rule.kind == "eprop" and ck.rule.loss == "mse"
    assert ck.optim.kind == "adam" and s is not None
    _check_net_dump(d, "C_", net)
    assert_bits(net.state, d["C_state"], "live state")
    X, target, mask = task_b()
    _finish_like_c(d, net, opt, s, X, target, mask)


def test_npy_c_writes_numpy_reads(ref, tmp_path):
    path = tmp_path / "c.npy"
    ref.run("npysave", path)
    a = np.load(str(path))
    expect = ((np.arange(24) * 5 % 13) - 6).astype(np.float64) / 7.0
    assert_bits(a, expect.reshape(2, 3, 4), "rp_npy_save -> numpy.load")
    assert_bits(rp.npy_load(str(path)), a, "rnnplast.npy_load")


def test_npy_numpy_writes_c_reads(ref, tmp_path):
    path = tmp_path / "py.npy"
    a = np.random.default_rng(3).standard_normal((3, 5))
    np.save(str(path), a)
    assert_bits(ref.run("npyload", path, 3, 5)["npy"], a, "numpy.save -> rp_npy_load")
    p2 = tmp_path / "rp.npy"
    rp.npy_save(str(p2), a)
    assert_bits(np.load(str(p2)), a, "rnnplast.npy_save -> numpy.load")
    assert_bits(ref.run("npyload", p2, 3, 5)["npy"], a, "rnnplast.npy_save -> rp_npy_load")


def test_param_npy_round_trip(tmp_path):
    """Net.save_param_npy writes what numpy reads as the parameter, and
    Net.load_param_npy sets it from a file numpy wrote."""
    net = net_a()
    for blk in PARAMS:
        p = tmp_path / (blk + ".npy")
        net.save_param_npy(blk, str(p))
        assert_bits(np.load(str(p)), getattr(net, blk), "save_param_npy " + blk)
    other = net_b()
    W = np.random.default_rng(4).standard_normal((10, 10))
    np.save(str(tmp_path / "W2.npy"), W)
    other.load_param_npy("W", str(tmp_path / "W2.npy"))
    assert_bits(other.W, W, "load_param_npy")


def test_checkpoint_mid_stream_ce_resumes_bit_for_bit(tmp_path):
    """A CE rule saved inside a stream comes back with its kind and loss and
    the stream open; finishing it gives what the uninterrupted stream gives
    (the C library's promise, seen through Python)."""
    X, target, mask = task_a()
    T, split = X.shape[0], 7

    def start():
        net = net_a()
        rule = rp.Rule(net, "rflo", loss="ce", feedback="random", feedback_seed=3)
        g = rp.Grad(net)
        s = rule.stream()
        for t in range(split):
            net.step(X[t])
            s.step(X[t], target[t], mask=mask[t], grad=g)
        return net, rule, s

    net, rule, s = start()
    path = str(tmp_path / "ce.rpck")
    rp.checkpoint_save(path, net, rule=rule, iteration=3)
    ck = rp.checkpoint_load(path)
    assert ck.optim is None and ck.rule.kind == "rflo" and ck.rule.loss == "ce"
    assert_bits(ck.rule.feedback_matrix, rule.feedback_matrix, "feedback matrix")
    runs = []
    for n, st in ((net, s), (ck.net, ck.stream)):
        g = rp.Grad(n)
        Y = []
        for t in range(split, T):
            Y.append(n.step(X[t]))
            st.step(X[t], target[t], mask=mask[t], grad=g)
        runs.append((np.array(Y), st.end(), [g[p] for p in PARAMS], n.state))
    (Y0, l0, g0, s0), (Y1, l1, g1, s1) = runs
    assert_bits(Y1, Y0, "outputs")
    assert_bits(np.float64(l1), np.float64(l0), "stream loss")
    for p, a, b in zip(PARAMS, g1, g0):
        assert_bits(a, b, "grad " + p)
    assert_bits(s1, s0, "state")
