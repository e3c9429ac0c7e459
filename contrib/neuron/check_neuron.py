"""Checks of the NEURON mechanisms, run by test_neuron.sh (one check per process).

    /usr/bin/python3 check_neuron.py LIB learn NTHREAD   # prints the example's figures
    /usr/bin/python3 check_neuron.py LIB error KIND      # expects a hoc error
    /usr/bin/python3 check_neuron.py LIB saverestore NTHREAD
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import example  # noqa: E402
from neuron import h  # noqa: E402


def small_model(lib, train, test):
    example.load_mechanisms(lib)
    h.load_file("stdrun.hoc")
    args = argparse.Namespace(train=train, test=test, n_rec=32, lr=2e-3, nthread=1)
    return example.build(args)


def check_learn(lib, nthread):
    loss, loss0, corr = example.main(
        ["--lib", lib, "--train", "4000", "--test", "1000", "--nthread", nthread])
    print("EXACT", repr(loss), repr(loss0), repr(corr))
    assert loss <= loss0 / 10, f"learned loss {loss} is not 10x below the control's {loss0}"


def check_error(lib, kind):
    """Each kind must raise; test_neuron.sh checks the message on stderr."""
    m = small_model(lib, 50.0, 0.0)
    L = m["learner"]
    if kind == "n_rec":      # refused by rp_net_create
        L.n_rec = 0
    elif kind == "alpha":    # tau < dt_r: alpha = 1 - dt_r/tau < 0, refused by rp_net_set_alpha
        L.tau = 0.5
    elif kind == "nan":      # refused by rp_rule_step during the run
        m["tgt"].x[20] = float("nan")
    elif kind == "channel":  # an event on an input channel the net has not
        m["netcons"][-1].weight[1] = 9
    elif kind == "n_rec_threads":
        L.n_rec = 0
        h.ParallelContext().nthread(2)
    elif kind == "nan_threads":  # the same, raised in a worker thread
        m["tgt"].x[20] = float("nan")
        h.ParallelContext().nthread(2)
    else:
        sys.exit(f"unknown kind {kind}")
    try:
        h.finitialize(-65.0)
        h.continuerun(50.0)
        print("stopped at t =", h.t)
        L.check()  # in a worker thread the run stops and check() raises
    except RuntimeError as e:
        print("RAISED", e)
        return
    raise AssertionError(f"{kind}: no error raised")


def check_saverestore(lib, nthread):
    """Run, save (SaveState + every learner's save), continue: outputs A.
    Reinitialize, restore both, continue: outputs B.  A == B bit for bit,
    and differ from a run that restores SaveState without the learners."""
    m = small_model(lib, 400.0, 0.0)
    learners = [m["learner"], m["control"]]
    if int(nthread) > 1:
        h.ParallelContext().nthread(int(nthread))
    rec = h.Vector().record(m["learner"]._ref_y[0])
    vrec = h.Vector().record(m["out"](0.5)._ref_v)
    t1, t2 = 200.0, 400.0
    tmp = tempfile.mkdtemp()
    paths = [os.path.join(tmp, f"learner{i}.rpck") for i in range(len(learners))]

    h.dt = 0.025
    h.finitialize(-65.0)
    h.continuerun(t1)
    ss = h.SaveState()
    ss.save()
    for L, p in zip(learners, paths):
        L.save(p)
    ticks_at_save = m["learner"].ticks
    h.continuerun(t2)
    n = int(round((t2 - t1) / h.dt))
    a, va = np.array(rec)[-n:], np.array(vrec)[-n:]
    loss_a = m["learner"].loss

    def resume(with_learners):
        h.finitialize(-65.0)
        ss.restore()
        if with_learners:
            for L, p in zip(learners, paths):
                L.restore(p)
        assert m["learner"].ticks == ticks_at_save
        h.continuerun(t2)
        return np.array(rec)[-n:], np.array(vrec)[-n:], m["learner"].loss

    b, vb, loss_b = resume(True)
    print("max |yA - yB|", float(np.abs(a - b).max()), "ticks", m["learner"].ticks)
    assert np.array_equal(a, b), "the outputs after restore differ from the uninterrupted run"
    assert np.array_equal(va, vb), "the driven cell's voltage after restore differs"
    assert loss_a == loss_b, (loss_a, loss_b)
    # without the learners' restore the outputs must differ (the check can fail)
    c, _, _ = resume(False)
    assert not np.array_equal(a, c), "restoring SaveState alone reproduced the outputs"
    print("SAVERESTORE OK")


if __name__ == "__main__":
    lib, what, arg = sys.argv[1:4]
    {"learn": check_learn, "error": check_error, "saverestore": check_saverestore}[what](lib, arg)
