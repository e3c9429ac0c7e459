"""precision="single" (rp_net_config.precision): the keyword reaches the
library, parameters are rounded to float, and a run agrees with the double
net holding the same (float) parameters to float rounding; the C suite
tests/test_precision.c derives the bound, this checks the binding only."""

import numpy as np
import pytest

import rnnplast as rp


def test_single_precision_net():
    s = rp.Net(n_in=2, n_rec=24, n_out=1, precision="single")
    d = rp.Net(n_in=2, n_rec=24, n_out=1)
    assert s.config["precision"] == "single" and d.config["precision"] == "double"
    rng = np.random.default_rng(3)
    W = rng.uniform(-1, 1, (24, 24)) * 0.9 / 24 + 1e-12
    s.W = W
    assert np.array_equal(s.W, W.astype(np.float32).astype(np.float64))
    d.W = s.W
    for name in ("U", "V"):
        a = rng.uniform(-1, 1, getattr(d, name).shape).astype(np.float32).astype(np.float64)
        setattr(s, name, a)
        setattr(d, name, a)
    X = rng.uniform(-1, 1, (40, 1, 2)).astype(np.float32).astype(np.float64)
    ys, yd = s.run(X), d.run(X)
    assert not np.array_equal(ys, yd)  # float arithmetic
    # a sanity bound only (tests/test_precision.c derives the real one):
    # (N + n_in + 4) u per step, carried along a trajectory that contracts
    # by rho = alpha + (1 - alpha) max_i sum_j |W_ij| < 1, through |V|
    alpha = 0.9
    rho = alpha + (1 - alpha) * np.max(np.sum(np.abs(d.W), axis=1))
    scale = (1 + np.max(np.abs(yd))) * (1 + np.sum(np.abs(d.V)))
    assert np.max(np.abs(ys - yd)) <= 30 * 2.0**-24 / (1 - rho) * scale
    with pytest.raises(rp.UnsupportedError) as e:
        rp.Rule(s, "rtrl")
    assert "single precision" in str(e.value)


def test_single_precision_lyapunov_and_flossing():
    """Lyapunov and Floss run on a single net (float kernels): the spectrum
    and the flossing gradient agree with the double net holding the same
    (float) parameters to float rounding (tests/test_precision_lyap.c derives
    the bounds; measured <= 1e-7 there; a sanity bound here)."""
    rng = np.random.default_rng(5)
    s = rp.Net(n_in=2, n_rec=16, n_out=1, precision="single", act="tanh", alpha=0.8)
    d = rp.Net(n_in=2, n_rec=16, n_out=1, act="tanh", alpha=0.8)
    W = rng.uniform(-1, 1, (16, 16))
    W *= 0.9 / np.sum(np.abs(W), axis=1, keepdims=True)  # contracting, as in the C tests
    s.W = W
    d.W = s.W
    U = rng.uniform(-1, 1, (16, 2)).astype(np.float32).astype(np.float64)
    s.U = U
    d.U = U
    X = rng.uniform(-1, 1, (200, 2)).astype(np.float32).astype(np.float64)
    ls = rp.Lyapunov(s, k=4, transient=20).run(X)
    ld = rp.Lyapunov(d, k=4, transient=20).run(X)
    assert not np.array_equal(ls, ld)  # float arithmetic
    assert np.max(np.abs(ls - ld)) <= 1e-5
    gs, gd = rp.Grad(s), rp.Grad(d)
    Fs = rp.Floss(s, k=2, mode="exact", transient=10).trial(X, gs)
    Fd = rp.Floss(d, k=2, mode="exact", transient=10).trial(X, gd)
    assert abs(Fs - Fd) <= 1e-5 * abs(Fd) + 1e-9
    assert not np.array_equal(gs.get("W"), gd.get("W"))
    assert np.max(np.abs(gs.get("W") - gd.get("W"))) <= 1e-4 * np.max(np.abs(gd.get("W")))


def test_single_precision_save_load(tmp_path):
    s = rp.Net(n_in=2, n_rec=8, n_out=1, precision="single")
    rng = np.random.default_rng(5)
    s.W = rng.uniform(-1, 1, (8, 8)) * 0.1
    s.U = rng.uniform(-1, 1, (8, 2))
    p = str(tmp_path / "s.rpn")
    s.save(p)
    t = rp.Net.load(p)
    assert t.config["precision"] == "single"
    X = rng.uniform(-1, 1, (20, 1, 2))
    assert np.array_equal(s.run(X), t.run(X))  # the same float net, bit for bit
