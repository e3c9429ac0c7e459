"""Smoke tests of the package's own behaviour (shapes, conversions,
exceptions, lifetimes, the GIL); the numbers against the C library are
tested elsewhere in python/tests.
Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest python/tests/test_smoke.py"""

import gc
import threading
import time

import numpy as np
import pytest

import rnnplast as rp


def make_net(**kw):
    args = dict(n_in=2, n_rec=16, n_out=1, batch=1, alpha=0.5, seed=1)
    args.update(kw)
    net = rp.Net(**args)
    for which, seed in (("W", 1), ("U", 2), ("V", 3)):
        rp.Init("gaussian").apply(net, which, seed)
    return net


def test_version_is_the_libraries():
    n = rp.version_number()
    assert rp.__version__ == "%d.%d.%d" % (n // 10000, n // 100 % 100, n % 100)


def test_contract_core_runs():
    # PYTHON.md's core, by name, with the shapes it gives
    net = rp.Net(n_in=2, n_rec=64, n_out=1, batch=1, alpha=0.5, form="voltage", act="relu",
                 noise_std=0.0, seed=1)
    rp.Init("gaussian", gain=0.5).apply(net, "W", seed=1)
    assert net.W.shape == (64, 64) and net.U.shape == (64, 2) and net.b.shape == (64,)
    assert net.V.shape == (1, 64) and net.c.shape == (1,)
    assert net.state.shape == (1, 64)
    assert net.step(np.zeros((1, 2))).shape == (1, 1)
    assert net.run(np.zeros((5, 1, 2))).shape == (5, 1, 1)
    g = rp.Grad(net)
    assert g["W"].shape == (64, 64)
    rule = rp.Rule(net, "eprop", loss="mse")
    assert rule.trial(np.zeros((5, 1, 2)), np.zeros((5, 1, 1)), grad=g) >= 0
    task = rp.Task("2af", delay=20, sigma=1.0)
    X, target, mask = task.sample(batch=32, seed=7)
    assert X.shape == (task.T, 32, 3) and target.shape == (task.T, 32) and mask.shape == (task.T, 32)


def test_get_returns_a_copy_and_set_round_trips():
    net = make_net()
    W = net.W
    W[0, 0] = 123.0
    assert net.W[0, 0] != 123.0
    net.W = W
    assert net.W[0, 0] == 123.0


def test_wrong_shape_is_refused_other_dtype_converted():
    net = make_net()
    with pytest.raises(ValueError, match="shape"):
        net.step(np.zeros(2))  # (n_in,) is not (batch, n_in)
    with pytest.raises(ValueError, match="shape"):
        net.W = np.zeros((16, 15))
    x = np.array([[0.25, -0.5]])
    y64 = net.step(x)
    for other in (x.astype(np.float32), np.asfortranarray(np.array([[0.25, -0.5], [0, 0]]))[:1],
                  [[0.25, -0.5]], x.astype(">f8")):
        net.reset()
        assert np.array_equal(make_net().step(other), y64)
    with pytest.raises(ValueError):
        net.step(x, out=np.empty((1, 2)))
    before = net.state
    with pytest.raises(TypeError, match="complex"):  # the imaginary part would be lost
        net.step(x + 1j)
    assert np.array_equal(net.state, before)


def test_out_is_filled_and_returned():
    net = make_net()
    out = np.full((1, 1), np.nan)
    y = net.step(np.ones((1, 2)), out=out)
    assert y is out and np.isfinite(out).all()


def test_unknown_strings_and_keywords():
    with pytest.raises(ValueError, match="'eprop'"):  # lists the valid names
        rp.Rule(make_net(), "eprob")
    with pytest.raises(ValueError, match="'voltage'"):
        rp.Net(form="volt")
    with pytest.raises(TypeError, match="n_recc"):
        rp.Net(n_recc=3)


def test_exceptions_carry_status_and_message():
    with pytest.raises(rp.InvalidArgumentError) as e:
        rp.Net(n_rec=0)
    assert e.value.status == "RP_ERR_INVALID_ARG" and "n_rec" in str(e.value)
    net = make_net()
    with pytest.raises(rp.InvalidArgumentError, match="alpha") as e:
        net.alpha = 1.5
    assert e.value.message == net.last_error
    rule = rp.Rule(net, "eprop")
    with pytest.raises(rp.StateError) as e:
        rule.end()
    assert e.value.status == "RP_ERR_STATE" and e.value.message == rule.last_error != ""
    with pytest.raises(rp.UnsupportedError):
        rp.Rule(net, "bptt").stream()
    with pytest.raises(rp.FileError):
        rp.Net.load("/nonexistent/dir/net.rpn")


def test_a_call_that_raised_changed_nothing():
    net = make_net()
    net.step(np.ones((1, 2)))
    before = net.state
    with pytest.raises(rp.NonFiniteError):
        net.step(np.array([[np.nan, 0.0]]))
    assert np.array_equal(net.state, before)


def test_closed_objects_raise():
    net = make_net()
    with net:
        net.step(np.zeros((1, 2)))
    assert net.closed
    with pytest.raises(rp.ClosedError):
        net.step(np.zeros((1, 2)))
    with pytest.raises(rp.ClosedError):
        net.W
    with pytest.raises(rp.ClosedError):
        rp.Grad(net)
    net.close()  # twice is fine


def test_handles_keep_their_net_alive():
    rule = rp.Rule(make_net(), "eprop")
    g = rp.Grad(rule.net)
    gc.collect()
    assert rule.trial(np.ones((3, 1, 2)), np.zeros((3, 1, 1)), grad=g) >= 0


def test_handles_are_freed():
    a = rp.CountingAllocator()
    for _ in range(50):
        net = rp.Net(n_rec=8, allocator=a)
        rp.Rule(net, "eprop").stream()
        rp.Optim(net, "adam")
        del net
    gc.collect()
    assert a.allocs > 50 and a.live == 0


def test_stream_context_ends_it():
    net = make_net()
    rule = rp.Rule(net, "eprop")
    with rule.stream() as s:
        for _ in range(3):
            x = np.ones((1, 2))
            net.step(x)
            s.step(x, np.zeros((1, 1)))
    assert s.loss > 0 and not s.open
    with pytest.raises(rp.StateError):  # the stream is closed
        s.step(np.ones((1, 2)), np.zeros((1, 1)))


def test_long_calls_release_the_gil():
    # rp_net_run of a large net in a thread while this thread keeps ticking:
    # with the GIL held by the call, no tick could happen during it
    net = make_net(n_rec=400, n_in=1)
    X = np.zeros((400, 1, 1))
    t0 = time.perf_counter()
    net.run(X)
    once = time.perf_counter() - t0
    reps = max(1, int(0.3 / max(once, 1e-4)))
    ticks = []

    def work():
        for _ in range(reps):
            net.run(X)

    th = threading.Thread(target=work)
    start = time.perf_counter()
    th.start()
    while th.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    total = time.perf_counter() - start
    th.join()
    assert total > 0.1
    gaps = np.diff([start] + ticks)
    assert len(ticks) > 20 and gaps.max() < total / 3, (len(ticks), gaps.max(), total)


def test_checkpoint_brings_back_kinds_and_an_open_stream(tmp_path):
    net = make_net(n_out=3)
    rule = rp.Rule(net, "rflo", loss="ce")
    opt = rp.Optim(net, "sgd", lr=0.1)
    s = rule.stream()
    x = np.ones((1, 2))
    net.step(x)
    s.step(x, np.array([2.0]))
    path = str(tmp_path / "ck")
    rp.checkpoint_save(path, net, opt, rule, iteration=42, user=b"abc")
    ck = rp.checkpoint_load(path)
    assert (ck.iteration, ck.user) == (42, b"abc")
    assert ck.optim.kind == "sgd" and ck.rule.kind == "rflo" and ck.rule.loss == "ce"
    assert ck.stream is not None and ck.stream.open
    assert np.array_equal(ck.net.state, net.state)
    bare = rp.checkpoint_load(path, optim=False, rule=False)
    assert bare.optim is None and bare.rule is None and bare.stream is None
    rp.checkpoint_save(path, net)
    with pytest.raises(rp.InvalidArgumentError):  # no optimizer in the file
        rp.checkpoint_load(path, optim=True)


def test_npy_files_are_numpys(tmp_path):
    # numpy's own reader and writer are the oracle
    a = np.arange(24.0).reshape(2, 3, 4) / 7
    p = str(tmp_path / "a.npy")
    rp.npy_save(p, a)
    assert np.array_equal(np.load(p), a)
    np.save(p, a.T.copy())
    assert rp.npy_shape(p) == (4, 3, 2)
    assert np.array_equal(rp.npy_load(p), a.T)
    with pytest.raises(rp.FormatError):
        rp.npy_load(p, shape=(4, 3, 3))


def test_a_failing_allocator_gives_nomemory():
    with pytest.raises(rp.NoMemoryError) as e:
        rp.Net(n_rec=8, allocator=rp.CountingAllocator(fail_after=0))
    assert e.value.status == "RP_ERR_NOMEM"


def test_streaming_and_loaded_kinds(tmp_path):
    """Rule.streaming follows begin/end; a loaded rule and optimizer say what
    they were (rp_rule_get_kind, rp_rule_get_streaming, rp_optim_get_kind),
    for a file saved inside a stream and one saved outside."""
    net = rp.Net(n_in=1, n_rec=4, n_out=2)
    rule = rp.Rule(net, "rflo", loss="ce")
    opt = rp.Optim(net, "sgd", lr=0.1)
    assert not rule.streaming
    s = rule.stream().begin()
    assert rule.streaming
    s.tick(np.ones((1, 1)), np.zeros(1))
    for inside in (True, False):
        path = str(tmp_path / ("in.ck" if inside else "out.ck"))
        rp.checkpoint_save(path, net, optim=opt, rule=rule)
        ck = rp.checkpoint_load(path)
        assert (ck.rule.kind, ck.rule.loss, ck.optim.kind) == ("rflo", "ce", "sgd")
        assert ck.rule.streaming is inside and (ck.stream is not None) is inside
        if inside:
            s.end()
            assert not rule.streaming


def test_score_choices_against_numpy():
    """Task.score_choices (rp_task_score_choices) equals the definition
    computed with numpy: per trial, the argmax (ties to the lower class) of
    the readout summed over the decision steps (mask > 0, target != 0)."""
    rng = np.random.default_rng(3)
    for kind in ("2af", "dms", "cxt"):
        task = rp.Task(kind)
        X, target, mask = task.sample(batch=9, seed=4)
        Y = rng.standard_normal((task.T, 9, task.n_out))
        dec = (mask > 0) & (target != 0)                       # (T, B)
        sums = (Y * dec[:, :, None]).sum(axis=0)               # (B, n_out)
        choice = sums.argmax(axis=1)                           # first maximum: the lower class
        has = dec.any(axis=0)
        answer = target[dec.argmax(axis=0), np.arange(9)]      # the first decision step's class
        want = ((choice[has] != 0).mean(), (choice[has] == answer[has]).mean())
        assert task.score_choices(Y, target, mask) == want
    with pytest.raises(rp.UnsupportedError):
        t = rp.Task("copy")
        X, target, mask = t.sample(batch=1)
        t.score_choices(np.zeros((t.T, 1, t.n_out)), target, mask)


def test_tick_and_advance_check_before_the_net_steps():
    """tick and advance refuse a closed stream, a wrong target shape or a
    closed grad before stepping the net (the state is unchanged); advance
    is tick on the stream's own arrays, bit for bit."""
    def make():
        net = rp.Net(n_in=2, n_rec=8, n_out=1, seed=3)
        rp.Init("gaussian", gain=1.2).apply(net, "W", seed=4)
        rp.Init("gaussian", gain=1.0).apply(net, "U", seed=5)  # a step moves the state
        return net, rp.Rule(net, "eprop")
    net, rule = make()
    s = rule.stream()                                # begun
    s.end()
    before = net.state
    with pytest.raises(rp.StateError):
        s.advance()                                  # ended
    with pytest.raises(rp.StateError):
        s.tick(np.ones((1, 2)), np.ones((1, 1)))
    s.begin()
    with pytest.raises(ValueError):
        s.tick(np.ones((1, 2)), np.ones((1, 2)))     # target of the wrong shape
    g = rp.Grad(net)
    g.close()
    with pytest.raises(rp.Error):
        s.tick(np.ones((1, 2)), np.ones((1, 1)), grad=g)
    assert np.array_equal(net.state, before)
    rng = np.random.default_rng(1)
    X, Tg = rng.standard_normal((20, 1, 2)), rng.standard_normal((20, 1, 1))
    Y1 = np.array([s.tick(X[t], Tg[t]) for t in range(20)])
    l1, g1 = s.end(), s.grad["W"]
    net2, rule2 = make()
    s2 = rule2.stream()
    Y2 = []
    for t in range(20):
        s2.x[...] = X[t]
        s2.target[...] = Tg[t]
        Y2.append(s2.advance().copy())
    assert np.array_equal(Y1, np.array(Y2)) and s2.end() == l1
    assert np.array_equal(s2.grad["W"], g1)
    with pytest.raises(rp.StateError):
        s2.advance()                                 # ended
