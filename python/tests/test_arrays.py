"""Arrays as PYTHON.md rule 3 says: shaped float64; another dtype or layout
is converted and gives the float64 C-contiguous call's numbers bit for bit;
a wrong shape is refused with ValueError (and changes nothing); ``out=`` is
honoured; outputs are new arrays; getters return copies."""

import numpy as np
import pytest

import rnnplast as rp
from conftest import PARAMS, assert_bits, net_a, snapshot, task_a

RNG = np.random.default_rng(2024)


def _x(net, T=None):
    """Inputs exactly representable in float32 (so float32 and float64
    versions of them are the same numbers)."""
    shape = (net.batch, net.n_in) if T is None else (T, net.batch, net.n_in)
    return RNG.standard_normal(shape).astype(np.float32).astype(np.float64)


def _variants(a):
    """The same values as other dtypes and layouts (and their names)."""
    yield "float32", a.astype(np.float32)
    yield "fortran", np.asfortranarray(a)
    strided = np.empty(a.shape[:-1] + (2 * a.shape[-1],))
    strided[..., ::2] = a
    yield "strided", strided[..., ::2]
    yield "list", a.tolist()
    yield "big-endian", a.astype(">f8")
    if a.ndim >= 2:
        yield "reversed-view", a[::-1].copy()[::-1]


def _ints(shape):
    return RNG.integers(-2, 3, size=shape)


# ---------------------------------------------------------------- conversion


def test_step_converts_dtypes_and_layouts():
    net = net_a()
    x = _x(net)
    expect = net.clone().step(x)
    for name, v in _variants(x):
        assert_bits(net.clone().step(v), expect, "step(%s)" % name)
    xi = _ints((net.batch, net.n_in))
    assert_bits(net.clone().step(xi), net.clone().step(xi.astype(np.float64)), "step(int)")


def test_run_converts_dtypes_and_layouts():
    net = net_a()
    X = _x(net, T=6)
    expect = net.clone().run(X)
    for name, v in _variants(X):
        assert_bits(net.clone().run(v), expect, "run(%s)" % name)
    Xi = _ints((6, net.batch, net.n_in))
    assert_bits(net.clone().run(Xi), net.clone().run(Xi.astype(np.float64)), "run(int)")


@pytest.mark.parametrize("which", PARAMS)
def test_param_setter_converts(which):
    net = net_a()
    shape = getattr(net, which).shape
    a = RNG.standard_normal(shape).astype(np.float32).astype(np.float64)
    for name, v in _variants(a) if a.ndim else []:
        net.set_param(which, np.zeros(shape))
        setattr(net, which, v)
        assert_bits(getattr(net, which), a, "%s = %s" % (which, name))
    ai = _ints(shape)
    setattr(net, which, ai)
    assert_bits(getattr(net, which), ai.astype(np.float64), "%s = int" % which)


def test_state_setter_converts():
    net = net_a()
    s = RNG.standard_normal((net.batch, net.n_rec))
    for name, v in _variants(s):
        net.reset()
        net.state = v
        assert_bits(net.state, s.astype(np.float32).astype(np.float64)
                    if name == "float32" else s, "state = %s" % name)


def test_trial_converts_dtypes_and_layouts():
    """rule.trial with float32 / Fortran / strided inputs, targets and
    masks gives the float64 call's loss and gradient."""
    net = net_a()
    X, target, mask = task_a()
    X = X.astype(np.float32).astype(np.float64)
    rule = rp.Rule(net, "eprop", loss="ce")

    def run(X, target, mask):
        g = rp.Grad(net)
        loss = rule.trial(X, target, mask=mask, grad=g)
        return np.float64(loss), [g[p] for p in PARAMS]

    l0, g0 = run(X, target, mask)
    for (name, Xv), (_, tv), (_, mv) in zip(_variants(X), _variants(target), _variants(mask)):
        l1, g1 = run(Xv, tv, mv)
        assert_bits(l1, l0, "loss with %s arrays" % name)
        for p, a, b in zip(PARAMS, g1, g0):
            assert_bits(a, b, "grad %s with %s arrays" % (p, name))


def test_stream_step_converts():
    net = net_a()
    X, target, mask = task_a()
    X = X.astype(np.float32).astype(np.float64)

    def stream(conv):
        n = net.clone()
        n.reset()
        g = rp.Grad(n)
        rule = rp.Rule(n, "eprop", loss="ce")
        with rule.stream() as s:
            for t in range(X.shape[0]):
                n.step(conv(X[t]))
                s.step(conv(X[t]), conv(target[t]), mask=conv(mask[t]), grad=g)
        return np.float64(s.loss), [g[p] for p in PARAMS]

    l0, g0 = stream(lambda a: a)
    for conv, name in [(lambda a: a.astype(np.float32), "float32"),
                       (np.asfortranarray, "fortran"), (lambda a: a.tolist(), "list")]:
        l1, g1 = stream(conv)
        assert_bits(l1, l0, "stream loss, %s" % name)
        for p, a, b in zip(PARAMS, g1, g0):
            assert_bits(a, b, "stream grad %s, %s" % (p, name))


# ---------------------------------------------------------------- wrong shapes


def _refused(net, fn):
    before = snapshot(net)
    with pytest.raises(ValueError):
        fn()
    assert snapshot(net) == before, "a refused call changed the net"


def test_wrong_shapes_are_refused():
    net = net_a()  # n_in 3, n_rec 12, n_out 3, batch 4
    net.step(_x(net))
    B, I, N, O = net.batch, net.n_in, net.n_rec, net.n_out
    bad_steps = [np.zeros((B, I + 1)), np.zeros((B + 1, I)), np.zeros(B * I),
                 np.zeros((I, B)), np.zeros((1, B, I)), np.zeros(())]
    for x in bad_steps:
        _refused(net, lambda: net.step(x))
    for X in [np.zeros((5, B, I + 1)), np.zeros((5, B * I)), np.zeros((5 * B * I,)),
              np.zeros((5, I, B))]:
        _refused(net, lambda: net.run(X))
    shapes = {"W": (N, N), "U": (N, I), "b": (N,), "V": (O, N), "c": (O,)}
    for p, shp in shapes.items():
        size = int(np.prod(shp))
        wrong = [np.zeros(size + 1), np.zeros((size,)) if len(shp) == 2 else np.zeros((size, 1)),
                 np.zeros(shp[::-1] + (1,))]
        if len(shp) == 2 and shp[0] != shp[1]:
            wrong.append(np.zeros(shp[::-1]))
        for w in wrong:
            _refused(net, lambda: setattr(net, p, w))
    for s in [np.zeros(B * N), np.zeros((N, B)), np.zeros((B, N + 1))]:
        _refused(net, lambda: setattr(net, "state", s))
    _refused(net, lambda: setattr(net, "initial_state", np.zeros((1, N))))


def test_wrong_shapes_refused_by_rules_and_grads():
    net = net_a()
    X, target, mask = task_a()  # CE: target (T, B)
    T, B, I = X.shape
    g = rp.Grad(net)
    rule = rp.Rule(net, "bptt", loss="ce")
    rule.trial(X, target, mask=mask, grad=g)
    ref = [g[p] for p in PARAMS]
    for args in [(X[:, :2], target, mask), (X, target[:-1], mask), (X, target, mask[:, :2]),
                 (X.reshape(T, -1), target, mask), (X, target[..., None], mask),
                 (X, target, mask.T)]:
        with pytest.raises(ValueError):
            rule.trial(args[0], args[1], mask=args[2], grad=g)
    for p, r in zip(PARAMS, ref):
        assert_bits(g[p], r, "grad after refused trials")
    with pytest.raises(ValueError):
        g["W"] = np.zeros(net.n_rec * net.n_rec)
    with pytest.raises(ValueError):
        g["V"] = np.zeros((net.n_rec, net.n_out))
    ep = rp.Rule(net, "eprop", loss="ce")
    net.reset()
    with ep.stream() as s:
        net.step(X[0])
        for bad in [(X[0][:, :2], target[0]), (X[0], target[0][:2]),
                    (X[0], target[0][:, None])]:
            with pytest.raises(ValueError):
                s.step(bad[0], bad[1], grad=g)
        s.step(X[0], target[0], grad=g)  # the stream still keeps step


def test_wrong_shapes_lyapunov_floss():
    net = net_a()
    ly = rp.Lyapunov(net, k=2)
    for x in [np.zeros((10, net.n_in + 1)), np.zeros((10, 1, net.n_in)), np.zeros(10 * net.n_in)]:
        with pytest.raises(ValueError):
            ly.run(x)
    fl = rp.Floss(net, k=2)
    g = rp.Grad(net)
    for x in [np.zeros((10, net.n_in + 1)), np.zeros(10 * net.n_in)]:
        with pytest.raises(ValueError):
            fl.trial(x, grad=g)


# ---------------------------------------------------------------- out=, copies


def test_out_is_honoured():
    net = net_a()
    x = _x(net)
    expect = net.clone().step(x)
    buf = np.full((net.batch, net.n_out), 7.0)
    y = net.clone().step(x, out=buf)
    assert y is buf
    assert_bits(buf, expect, "step(out=)")
    X = _x(net, T=5)
    expect = net.clone().run(X)
    buf = np.full((5, net.batch, net.n_out), 7.0)
    assert net.clone().run(X, out=buf) is buf
    assert_bits(buf, expect, "run(out=)")
    for bad in [np.zeros((net.batch, net.n_out), dtype=np.float32),
                np.zeros((net.batch, net.n_out + 1)),
                np.zeros((net.n_out, net.batch)).T]:  # F-ordered: not writable in place
        with pytest.raises(ValueError):
            net.step(x, out=bad)


def test_outputs_are_new_arrays():
    net = net_a()
    x = _x(net)
    x0 = x.copy()
    y1 = net.step(x)
    y2 = net.step(x)
    assert_bits(x, x0, "input unchanged by step")
    assert not np.shares_memory(y1, y2)
    s0 = net.state
    y1[:] = 1e9
    assert_bits(net.state, s0, "state after mutating an output")
    Y = net.run(np.stack([x, x]))
    s1 = net.state
    Y[:] = np.nan
    assert_bits(net.state, s1, "state after mutating run's output")


def test_getters_return_copies():
    net = net_a()
    for p in PARAMS:
        a = getattr(net, p)
        keep = a.copy()
        a[...] = 123.0
        assert_bits(getattr(net, p), keep, "net.%s after mutating its getter's result" % p)
        assert not np.shares_memory(getattr(net, p), getattr(net, p))
    for name in ("state", "initial_state", "rates"):
        a = getattr(net, name)
        keep = a.copy()
        a[...] = 5.0
        assert_bits(getattr(net, name), keep, name)
    g = rp.Grad(net)
    a = g["W"]
    a[...] = 1.0
    assert not g["W"].any()
    rule = rp.Rule(net, "rflo")
    B = rule.feedback_matrix
    keep = B.copy()
    B[...] = 0.0
    assert_bits(rule.feedback_matrix, keep, "feedback_matrix")


def test_setters_copy_their_input():
    net = net_a()
    W = RNG.standard_normal((net.n_rec, net.n_rec))
    net.W = W
    keep = W.copy()
    W[...] = 0.0
    assert_bits(net.W, keep, "net.W after mutating the array it was set from")


def test_lossy_complex_input_is_refused():
    net = net_a()
    x = np.ones((net.batch, net.n_in)) + 1j
    before = snapshot(net)
    with pytest.raises((ValueError, TypeError)):
        net.step(x)
    assert snapshot(net) == before
