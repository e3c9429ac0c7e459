"""The online block (Rule.online_block, Rule.flush, Stream.flush; C:
rp_rule_set_online_block, rp_rule_get_online_block, rp_rule_flush)."""

import numpy as np
import pytest

import rnnplast as rp


def _stream(K, T=11, end_flush=True):
    net = rp.Net(n_in=2, n_rec=8, n_out=1, batch=1, alpha=0.8, form="voltage", act="tanh")
    rp.Init("gaussian", gain=1.0).apply(net, "W", seed=1)
    rp.Init("gaussian", gain=1.0).apply(net, "U", seed=2)
    rp.Init("gaussian", gain=1.0).apply(net, "V", seed=3)
    rule = rp.Rule(net, "eprop", online_block=K)
    g = rp.Grad(net)
    rng = np.random.default_rng(5)
    X, Y = rng.uniform(-1, 1, (T, 1, 2)), rng.uniform(-1, 1, (T, 1, 1))
    s = rule.stream(grad=g)
    for t in range(T):
        s.tick(X[t], Y[t])
    assert rule.pending_ticks == T % K
    if not end_flush:
        return rule, s, g
    s.end()  # flushes into the stream's grad first
    return s.loss, g["W"], g["V"]


def test_block_equals_per_tick():
    E1, W1, V1 = _stream(1)
    for K in (2, 4, 16):
        EK, WK, VK = _stream(K)
        assert EK == E1
        np.testing.assert_allclose(WK, W1, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(VK, V1, rtol=1e-13, atol=1e-15)


def test_flush_and_errors():
    rule, s, g = _stream(4, T=6, end_flush=False)
    assert rule.online_block == 4 and rule.pending_ticks == 2
    with pytest.raises(rp.StateError):
        rule.end()  # ticks pending
    s.flush()
    assert rule.pending_ticks == 0
    s.end()
    with pytest.raises(rp.StateError):
        rule.flush(g)  # no stream
    with pytest.raises(rp.InvalidArgumentError):
        rule.online_block = 0
    with pytest.raises(rp.UnsupportedError):
        rp.Rule(rule.net, "bptt", online_block=2)
