"""Errors (PYTHON.md rule 4) and enums (rule 2).

Each status the Python layer can provoke raises its subclass of
rnnplast.Error with ``status`` the C name and the message the C library
wrote (the handle's rp_X_last_error(), or the constructor's msg); a call
that raised changed nothing.  The status names and enum strings are checked
against include/rnnplast.h itself, parsed here (an oracle independent of
the package's cdef)."""

import os
import re

import numpy as np
import pytest

import rnnplast as rp
from conftest import INCLUDE, PARAMS, assert_bits, net_a, net_b, snapshot, task_a, task_b

HEADER = open(os.path.join(INCLUDE, "rnnplast.h")).read()

EXC = {
    "RP_ERR_NOMEM": "NoMemoryError",
    "RP_ERR_INVALID_ARG": "InvalidArgumentError",
    "RP_ERR_DIM_MISMATCH": "DimensionError",
    "RP_ERR_NONFINITE": "NonFiniteError",
    "RP_ERR_LAPACK": "LapackError",
    "RP_ERR_IO": "FileError",
    "RP_ERR_FORMAT": "FormatError",
    "RP_ERR_UNSUPPORTED": "UnsupportedError",
    "RP_ERR_STATE": "StateError",
    "RP_ERR_DIVERGED": "DivergedError",
}


def test_every_status_has_its_subclass():
    """The header's status table, parsed: every error code has the class of
    PYTHON.md (DIVERGED, not named there, gets DivergedError)."""
    table = re.findall(r"X\((RP_\w+), (\d+), \"", HEADER)
    assert [n for n, _ in table][:1] == ["RP_OK"] and len(table) == 11
    for name, _ in table[1:]:
        cls = getattr(rp, EXC[name])
        assert issubclass(cls, rp.Error) and cls is not rp.Error, name


def raises(cls, status, fn, message=None):
    """Run fn, expect rnnplast.<cls> with ``status``; return the exception.
    ``message``: the library's text the exception must carry (a callable is
    evaluated after the failure, e.g. the handle's last_error)."""
    with pytest.raises(getattr(rp, cls)) as info:
        fn()
    e = info.value
    assert isinstance(e, rp.Error)
    assert e.status == status, (e.status, str(e))
    assert str(e) and e.message == str(e)
    if callable(message):
        message = message()
    if message is not None:
        assert e.message == message
    return e


# ---------------------------------------------------------------- statuses


def test_invalid_argument_constructor_message():
    e = raises("InvalidArgumentError", "RP_ERR_INVALID_ARG",
               lambda: rp.Net(n_in=1, n_rec=0, n_out=1))
    assert "n_rec" in e.message
    e = raises("InvalidArgumentError", "RP_ERR_INVALID_ARG",
               lambda: rp.Net(n_in=1, n_rec=4, n_out=1, alpha=1.0))
    assert "alpha" in e.message


def test_invalid_argument_on_a_handle_changes_nothing():
    net = net_a()
    before, alpha = snapshot(net), net.alpha
    e = raises("InvalidArgumentError", "RP_ERR_INVALID_ARG",
               lambda: setattr(net, "alpha", 1.5), lambda: net.last_error)
    assert "alpha" in e.message
    assert net.alpha == alpha and snapshot(net) == before
    raises("InvalidArgumentError", "RP_ERR_INVALID_ARG", lambda: net.set_noise(-1.0, 3),
           lambda: net.last_error)
    assert snapshot(net) == before and net.noise_std == 0.0
    init = rp.Init("gaussian")
    raises("InvalidArgumentError", "RP_ERR_INVALID_ARG", lambda: init.set_gain(-1.0),
           lambda: init.last_error)
    # a bias drawn by an orthogonal initializer: refused by rp_init_apply
    orth = rp.Init("orthogonal")
    raises("InvalidArgumentError", "RP_ERR_INVALID_ARG", lambda: orth.apply(net, "b", seed=1),
           lambda: orth.last_error)
    assert snapshot(net) == before


def test_dimension_mismatch_from_foreign_handles():
    """Shapes of arrays are checked by Python (ValueError); handles of other
    dimensions reach C: a Grad of another net given to a rule, an optimizer,
    or added to a Grad."""
    a, b = net_a(), net_b()
    ga, gb = rp.Grad(a), rp.Grad(b)
    X, target, mask = task_a()
    rule = rp.Rule(a, "bptt", loss="ce")
    raises("DimensionError", "RP_ERR_DIM_MISMATCH",
           lambda: rule.trial(X, target, mask=mask, grad=gb), lambda: rule.last_error)
    assert not any(gb[p].any() for p in PARAMS)
    ga["W"] = np.ones((a.n_rec, a.n_rec))
    raises("DimensionError", "RP_ERR_DIM_MISMATCH", lambda: ga.axpy(1.0, gb),
           lambda: ga.last_error)
    assert_bits(ga["W"], np.ones((a.n_rec, a.n_rec)), "axpy refused")
    opt = rp.Optim(a, "sgd", lr=0.1)
    before = snapshot(a)
    raises("DimensionError", "RP_ERR_DIM_MISMATCH", lambda: opt.step(gb),
           lambda: opt.last_error)
    assert snapshot(a) == before


def test_nonfinite_input_step_changes_nothing():
    net = net_a()
    x = np.ones((net.batch, net.n_in))
    net.step(x)
    before = snapshot(net)
    bad = x.copy()
    bad[2, 1] = np.nan
    e = raises("NonFiniteError", "RP_ERR_NONFINITE", lambda: net.step(bad),
               lambda: net.last_error)
    assert snapshot(net) == before
    # the message names the trial and the unit (C's own text, asserted loosely)
    assert "2" in e.message and "1" in e.message
    X = np.ones((4, net.batch, net.n_in))
    X[3, 0, 0] = np.inf
    raises("NonFiniteError", "RP_ERR_NONFINITE", lambda: net.run(X), lambda: net.last_error)
    assert snapshot(net) == before
    for p in PARAMS:
        v = getattr(net, p)
        v.flat[0] = np.nan
        raises("NonFiniteError", "RP_ERR_NONFINITE", lambda: setattr(net, p, v),
               lambda: net.last_error)
    s = net.state
    s[0, 0] = np.inf
    raises("NonFiniteError", "RP_ERR_NONFINITE", lambda: setattr(net, "state", s),
           lambda: net.last_error)
    assert snapshot(net) == before


def test_nonfinite_trial_leaves_grad_unchanged():
    net = net_a()
    X, target, mask = task_a()
    g = rp.Grad(net)
    rule = rp.Rule(net, "eprop", loss="ce")
    rule.trial(X, target, mask=mask, grad=g)
    keep = [g[p] for p in PARAMS]
    X = X.copy()
    X[5, 1, 2] = np.nan
    raises("NonFiniteError", "RP_ERR_NONFINITE",
           lambda: rule.trial(X, target, mask=mask, grad=g), lambda: rule.last_error)
    for p, k in zip(PARAMS, keep):
        assert_bits(g[p], k, "grad after a refused trial")


def test_nonfinite_optimizer_step_changes_nothing():
    net = net_a()
    g = rp.Grad(net)
    g["W"] = np.full((net.n_rec, net.n_rec), 1e300)
    opt = rp.Optim(net, "sgd", lr=1e10)
    before = snapshot(net)
    raises("NonFiniteError", "RP_ERR_NONFINITE", lambda: opt.step(g), lambda: opt.last_error)
    assert snapshot(net) == before


def test_file_errors(tmp_path):
    missing = str(tmp_path / "no" / "such.rpnet")
    e = raises("FileError", "RP_ERR_IO", lambda: rp.Net.load(missing))
    assert "such.rpnet" in e.message
    net = net_a()
    raises("FileError", "RP_ERR_IO", lambda: net.save(missing), lambda: net.last_error)
    raises("FileError", "RP_ERR_IO", lambda: net.save(str(tmp_path)), lambda: net.last_error)
    before = snapshot(net)
    raises("FileError", "RP_ERR_IO", lambda: net.load_param_npy("W", missing),
           lambda: net.last_error)
    assert snapshot(net) == before


def test_format_errors(tmp_path):
    net = net_a()
    good = tmp_path / "good.rpnet"
    net.save(str(good))
    data = bytearray(good.read_bytes())
    flipped = tmp_path / "flipped.rpnet"
    data[100] ^= 0x01  # a parameter byte: the checksum catches it
    flipped.write_bytes(bytes(data))
    e = raises("FormatError", "RP_ERR_FORMAT", lambda: rp.Net.load(str(flipped)))
    assert e.message
    short = tmp_path / "short.rpnet"
    short.write_bytes(good.read_bytes()[:50])
    raises("FormatError", "RP_ERR_FORMAT", lambda: rp.Net.load(str(short)))
    # a .npy of the wrong shape for a parameter: net unchanged
    np.save(str(tmp_path / "w.npy"), np.zeros((3, 3)))
    before = snapshot(net)
    raises("FormatError", "RP_ERR_FORMAT",
           lambda: net.load_param_npy("W", str(tmp_path / "w.npy")), lambda: net.last_error)
    assert snapshot(net) == before


def test_state_errors():
    net = net_b()
    X, target, mask = task_b()
    rule = rp.Rule(net, "eprop", loss="mse")
    g = rp.Grad(net)
    # rp_rule_end without rp_rule_begin
    raises("StateError", "RP_ERR_STATE", lambda: rule.end(), lambda: rule.last_error)
    net.reset()
    s = rule.stream()
    # rp_rule_step without a net step since begin: the stream lost step
    raises("StateError", "RP_ERR_STATE",
           lambda: s.step(X[0], target[0], mask=mask[0], grad=g), lambda: rule.last_error)
    assert not any(g[p].any() for p in PARAMS)
    # a trial inside a stream
    raises("StateError", "RP_ERR_STATE", lambda: rule.trial(X, target, mask=mask, grad=g),
           lambda: rule.last_error)
    s.end()
    # after end, a step is out of sequence (no stream open)
    net.step(X[0])
    raises("StateError", "RP_ERR_STATE",
           lambda: s.step(X[0], target[0], mask=mask[0], grad=g), lambda: rule.last_error)
    # a Lyapunov spectrum before any counted step
    ly = rp.Lyapunov(net, k=2, transient=5)
    raises("StateError", "RP_ERR_STATE", lambda: ly.spectrum(), lambda: ly.last_error)


def test_unsupported():
    net = net_b()
    bptt = rp.Rule(net, "bptt")
    raises("UnsupportedError", "RP_ERR_UNSUPPORTED", lambda: bptt.stream(),
           lambda: bptt.last_error)
    raises("UnsupportedError", "RP_ERR_UNSUPPORTED", lambda: bptt.set_feedback("random", 3),
           lambda: bptt.last_error)
    raises("UnsupportedError", "RP_ERR_UNSUPPORTED", lambda: bptt.set_truncation(3),
           lambda: bptt.last_error)


def test_diverged_changes_nothing():
    net = net_b()
    net.set_noise(0.0, 1)
    net.set_state_bound(0.5)
    x = np.full((net.batch, net.n_in), 100.0)
    before = snapshot(net)
    e = raises("DivergedError", "RP_ERR_DIVERGED", lambda: net.step(x), lambda: net.last_error)
    assert "0.5" in e.message
    assert snapshot(net) == before


def test_no_memory_through_an_allocator():
    """RP_ERR_NOMEM: an allocator that refuses every block."""
    if not hasattr(rp, "Allocator"):
        pytest.skip("the package has no Allocator")
    try:
        alloc = rp.Allocator(lambda size: None, lambda ptr: None)
    except TypeError:
        pytest.skip("rnnplast.Allocator takes other arguments")
    raises("NoMemoryError", "RP_ERR_NOMEM",
           lambda: rp.Net(n_in=1, n_rec=4, n_out=1, allocator=alloc))


# ---------------------------------------------------------------- enums


def _header_enum(ctype):
    """Constant names of enum ``ctype`` in the header, in order."""
    m = re.search(r"typedef enum %s \{(.*?)\} %s;" % (ctype, ctype), HEADER, re.S)
    assert m, ctype
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    return re.findall(r"\b(RP_[A-Z0-9_]+)\s*=", body)


def _strings(ctype, prefix):
    tails = [c[len(prefix):] for c in _header_enum(ctype)]
    if ctype == "rp_param":
        return [t if t in "WUV" else t.lower() for t in tails]
    return [t.lower() for t in tails]


# PYTHON.md's examples, each of which must be among the strings
DOC_STRINGS = {"voltage", "rate", "relu", "tanh", "linear", "W", "U", "b", "V", "c", "bptt",
               "tbptt", "rtrl", "eprop", "rflo", "mse", "ce", "symmetric", "random", "sgd",
               "adam", "exact", "local", "gaussian", "orthogonal", "2af", "dms"}


def _uses():
    """(C enum, prefix, function taking one of its strings)."""
    net = net_a()
    X, target, mask = task_a()
    return [
        ("rp_form", "RP_FORM_", lambda s: rp.Net(n_in=1, n_rec=4, n_out=2, form=s)),
        ("rp_activation", "RP_ACT_", lambda s: rp.Net(n_in=1, n_rec=4, n_out=2, act=s)),
        ("rp_param", "RP_PARAM_", lambda s: rp.Init("gaussian").apply(net, s, seed=1)),
        ("rp_rule_kind", "RP_RULE_", lambda s: rp.Rule(net, s)),
        ("rp_loss", "RP_LOSS_", lambda s: rp.Rule(net, "bptt", loss=s)),
        ("rp_feedback", "RP_FEEDBACK_", lambda s: rp.Rule(net, "eprop", feedback=s)),
        ("rp_optim_kind", "RP_OPTIM_", lambda s: rp.Optim(net, s)),
        ("rp_floss_mode", "RP_FLOSS_", lambda s: rp.Floss(net, k=1, mode=s)),
        ("rp_init_kind", "RP_INIT_", lambda s: rp.Init(s)),
        ("rp_task_kind", "RP_TASK_", lambda s: rp.Task(s)),
        ("rp_floss_schedule_kind", "RP_FLOSS_SCHED_",
         lambda s: rp.FlossSchedule(s, period=5, floss_iters=2)),
    ]


def test_every_enum_string_is_accepted():
    seen = set()
    for ctype, prefix, use in _uses():
        names = _strings(ctype, prefix)
        assert names, ctype
        for s in names:
            use(s)  # raises on refusal
            seen.add(s)
    assert DOC_STRINGS <= seen, DOC_STRINGS - seen


def test_enum_names_match_the_c_library():
    """rp_rule_kind_name / rp_task_kind_name spell the same strings."""
    net = net_a()
    for s in _strings("rp_rule_kind", "RP_RULE_"):
        assert rp.Rule(net, s).kind == s
    for s in _strings("rp_task_kind", "RP_TASK_"):
        assert rp.Task(s).kind == s


@pytest.mark.parametrize("i", range(11))
def test_unknown_enum_string_lists_the_valid_ones(i):
    ctype, prefix, use = _uses()[i]
    names = _strings(ctype, prefix)
    for bad in ["nope", names[0].upper() if names[0].upper() != names[0] else names[0].lower(),
                " " + names[0]]:
        with pytest.raises(ValueError) as info:
            use(bad)
        text = str(info.value)
        for s in names:
            assert repr(s) in text or s in text, (ctype, s, text)
