"""No handle leaks: objects dropped free their C handles (RSS flat over 10^4
nets with their Grads, Rules and Optims); close() and ``with`` free at once;
a closed object raises rnnplast.Error (ClosedError), never crashes."""

import gc
import os
import weakref

import numpy as np
import pytest

import rnnplast as rp
from conftest import net_a, task_a

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    """Resident set size in bytes (/proc/self/statm, second field)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


N_REC = 32
# What one iteration allocates in C, at least: the net's W (8 KiB), the
# gradient's W block (8 KiB), the optimizer's two moments (2 x 8.6 KiB); so a
# leak of the handles would grow RSS by well over 10^4 x 30 KiB = 300 MB.
BOUND = 8 << 20  # allowed growth after the warm-up: 8 MiB


def _cycle(X, target):
    net = rp.Net(n_in=2, n_rec=N_REC, n_out=1, batch=1, seed=3)
    rp.Init("gaussian", gain=0.9).apply(net, "W", seed=1)
    g = rp.Grad(net)
    rule = rp.Rule(net, "eprop")
    opt = rp.Optim(net, "adam", lr=1e-3)
    rule.trial(X, target, grad=g)
    opt.step(g)


def test_rss_flat_over_ten_thousand_nets():
    X = np.ones((3, 1, 2))
    target = np.zeros((3, 1, 1))
    for _ in range(1000):  # warm-up: pools, caches, cffi's type cache
        _cycle(X, target)
    gc.collect()
    r0 = rss()
    for _ in range(10000):
        _cycle(X, target)
    gc.collect()
    grown = rss() - r0
    assert grown < BOUND, "RSS grew by %.1f MiB over 10^4 nets" % (grown / 2**20)


def test_dropped_objects_are_freed_at_once():
    """No reference cycles keep a handle alive until the cyclic GC runs."""
    gc.disable()
    try:
        net = rp.Net(n_in=1, n_rec=4, n_out=1)
        objs = [net, rp.Grad(net), rp.Rule(net, "eprop"), rp.Optim(net, "sgd"),
                rp.Lyapunov(net, k=2), rp.Floss(net, k=1), rp.Init("gaussian"), rp.Task("copy")]
        refs = [weakref.ref(o) for o in objs]
        del objs, net
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()


def test_close_releases_memory_now():
    """A net of 2000 units holds 32 MB of W; close() gives it back at once
    (glibc returns blocks this large to the system on free)."""
    r0 = rss()
    net = rp.Net(n_in=1, n_rec=2000, n_out=1)
    rp.Init("gaussian").apply(net, "W", seed=1)
    r1 = rss()
    assert r1 - r0 > 30e6
    keep = net  # still referenced: only close() can free it
    net.close()
    assert keep.closed
    assert rss() - r0 < 10e6
    with rp.Net(n_in=1, n_rec=2000, n_out=1) as n2:
        rp.Init("gaussian").apply(n2, "W", seed=1)
        assert rss() - r0 > 30e6
    assert n2.closed
    assert rss() - r0 < 10e6


def _closed_calls():
    """Every class, closed, and calls on it."""
    X, target, mask = task_a()
    x = X[0]
    yield "Net", lambda n, o: [lambda: o.step(x), lambda: o.run(X), lambda: o.W,
                               lambda: setattr(o, "W", n.W), lambda: o.state, lambda: o.reset(),
                               lambda: o.save("/tmp/never"), lambda: o.clone()]
    yield "Grad", lambda n, o: [lambda: o["W"], lambda: o.zero(), lambda: o.norm]
    yield "Rule", lambda n, o: [lambda: o.trial(X, target, mask=mask), lambda: o.stream()]
    yield "Optim", lambda n, o: [lambda: o.step(rp.Grad(n))]
    yield "Lyapunov", lambda n, o: [lambda: o.run(np.zeros((4, n.n_in)))]
    yield "Floss", lambda n, o: [lambda: o.trial(np.zeros((8, n.n_in)), grad=rp.Grad(n))]
    yield "Init", lambda n, o: [lambda: o.apply(n, "W", seed=1)]
    yield "Task", lambda n, o: [lambda: o.sample(batch=2, seed=1)]


def _make(cls, net):
    return {"Net": lambda: net_a(), "Grad": lambda: rp.Grad(net),
            "Rule": lambda: rp.Rule(net, "eprop", loss="ce"), "Optim": lambda: rp.Optim(net, "sgd"),
            "Lyapunov": lambda: rp.Lyapunov(net, k=2), "Floss": lambda: rp.Floss(net, k=1),
            "Init": lambda: rp.Init("gaussian"), "Task": lambda: rp.Task("2af")}[cls]()


@pytest.mark.parametrize("cls,calls", list(_closed_calls()), ids=[c for c, _ in _closed_calls()])
def test_closed_objects_raise(cls, calls):
    net = net_a()
    obj = _make(cls, net)
    obj.close()
    obj.close()  # a second close is a no-op
    assert obj.closed
    for call in calls(net, obj):
        with pytest.raises(rp.Error):
            call()


def test_with_closes_and_a_closed_net_stops_its_users():
    """``with`` closes; a rule whose net was closed raises, not crashes."""
    X, target, mask = task_a()
    with net_a() as net:
        rule = rp.Rule(net, "bptt", loss="ce")
        g = rp.Grad(net)
        rule.trial(X, target, mask=mask, grad=g)
    assert net.closed
    with pytest.raises(rp.Error):
        rule.trial(X, target, mask=mask, grad=g)
    with pytest.raises(rp.Error):
        rp.Grad(net)
    net2 = net_a()
    opt = rp.Optim(net2, "sgd")
    g2 = rp.Grad(net2)
    g2.close()
    with pytest.raises(rp.Error):
        opt.step(g2)


def _all_handles(alloc, tmp_path):
    """One of every handle kind allocating through ``alloc``, used once."""
    X, target, mask = rp.Task("2af", delay=2, allocator=alloc).sample(batch=2, seed=1)
    net = rp.Net(n_in=3, n_rec=6, n_out=3, batch=2, allocator=alloc)
    rp.Init("gaussian", allocator=alloc).apply(net, "W", seed=1)
    g = rp.Grad(net)
    rule = rp.Rule(net, "eprop", loss="ce")
    rule.trial(X, target, mask=mask, grad=g)
    opt = rp.Optim(net, "adam")
    opt.step(g)
    rp.Lyapunov(net, k=2).run(X[:, 0])
    rp.Floss(net, k=1).trial(X[:, 0], grad=g)
    net.clone().step(X[0])
    path = str(tmp_path / "n.rpnet")
    net.save(path)
    rp.Net.load(path, allocator=alloc).step(X[0])
    ck = str(tmp_path / "c.rpck")
    with rule.stream() as s:
        net.step(X[0])
        s.step(X[0], target[0], grad=g)
        rp.checkpoint_save(ck, net, optim=opt, rule=rule)
    c = rp.checkpoint_load(ck, allocator=alloc)
    c.stream.end()


def test_every_handle_frees_every_block(tmp_path):
    """An exact oracle: a counting allocator sees every block the library
    allocated freed once the Python objects are dropped."""
    alloc = rp.CountingAllocator()
    _all_handles(alloc, tmp_path)
    gc.collect()
    assert alloc.allocs > 20
    assert alloc.live == 0, "%d blocks of %d never freed" % (alloc.live, alloc.allocs)


def test_no_memory_at_every_allocation(tmp_path):
    """Every allocation of a net, its handles and a checkpoint load failing
    in turn: NoMemoryError each time, and nothing leaks."""
    total = rp.CountingAllocator()
    _all_handles(total, tmp_path)
    failures = 0
    for k in range(total.allocs):
        alloc = rp.CountingAllocator(fail_after=k)
        try:
            _all_handles(alloc, tmp_path)
        except rp.NoMemoryError as e:
            assert e.status == "RP_ERR_NOMEM" and e.message
            failures += 1
        gc.collect()
        assert alloc.live == 0, "fail_after=%d: %d blocks leaked" % (k, alloc.live)
    assert failures == total.allocs
