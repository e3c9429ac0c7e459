"""Shared fixtures of the rnnplast Python tests.

The oracle of the bit-for-bit tests is python/tests/ref/ref.c, a C program
on the public API, built here (session fixture ``ref``) against the very
library file the package loaded (rnnplast._lib.library_path) and the source
tree's header.  Its scenarios are mirrored below (net_a, net_b, task_a,
task_b, ramp): change both together.

Run:  make python && PYTHONPATH=build/python /usr/bin/python3 -m pytest python/tests
"""

import os
import shutil
import subprocess

import numpy as np
import pytest

import rnnplast as rp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INCLUDE = os.path.join(ROOT, "include")


# ---------------------------------------------------------------- oracle


def _library_file():
    from rnnplast import _lib

    return os.path.realpath(_lib.library_path)


@pytest.fixture(scope="session")
def ref_exe(tmp_path_factory):
    """Path of the built ref program (skips when no C compiler exists)."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc or not shutil.which(cc):
        pytest.skip("no C compiler (cc) on PATH: the bit-for-bit tests build "
                    "python/tests/ref/ref.c against the library")
    libfile = _library_file()
    if not os.path.isfile(libfile):
        pytest.skip("the package's library %s is not a file" % libfile)
    if not os.path.isfile(os.path.join(INCLUDE, "rnnplast.h")):
        pytest.skip("no rnnplast.h in %s (not run from a source tree)" % INCLUDE)
    out = str(tmp_path_factory.mktemp("ref") / "ref")
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", INCLUDE,
           os.path.join(HERE, "ref", "ref.c"), "-o", out, libfile,
           "-Wl,-rpath," + os.path.dirname(libfile)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, "building ref.c failed:\n%s\n%s" % (" ".join(cmd), r.stderr)
    return out


def parse_ref(text):
    """ref's lines ``name ndim d0 .. : hex ..`` -> {name: float64 array}."""
    out = {}
    for line in text.splitlines():
        head, _, vals = line.partition(" :")
        parts = head.split()
        name, ndim = parts[0], int(parts[1])
        shape = tuple(int(d) for d in parts[2:2 + ndim])
        a = np.array([float.fromhex(v) for v in vals.split()], dtype=np.float64)
        out[name] = a.reshape(shape)
    return out


class Ref:
    """Runs the ref program; commands without a path are cached."""

    def __init__(self, exe):
        self.exe = exe
        self.cache = {}

    def run(self, *args):
        args = [str(a) for a in args]
        r = subprocess.run([self.exe] + args, capture_output=True, text=True)
        assert r.returncode == 0, "ref %s failed: %s" % (" ".join(args), r.stderr)
        return parse_ref(r.stdout)

    def __call__(self, cmd):
        if cmd not in self.cache:
            self.cache[cmd] = self.run(cmd)
        return self.cache[cmd]


@pytest.fixture(scope="session")
def ref(ref_exe):
    return Ref(ref_exe)


def assert_bits(actual, expected, what=""):
    """Equal to the last bit: float64, same shape, same 64-bit patterns
    (stricter than np.array_equal: tells -0.0 from 0.0 and matches NaNs)."""
    a = np.asarray(actual)
    e = np.asarray(expected, dtype=np.float64)
    assert a.dtype == np.float64, "%s: dtype %s, expected float64" % (what, a.dtype)
    assert a.shape == e.shape, "%s: shape %s, expected %s" % (what, a.shape, e.shape)
    ab = np.array(a, dtype=np.float64, order="C").reshape(-1).view(np.uint64)
    eb = np.array(e, dtype=np.float64, order="C").reshape(-1).view(np.uint64)
    if not np.array_equal(ab, eb):
        bad = np.flatnonzero(ab != eb)
        i = np.unravel_index(bad[0], a.shape) if a.ndim else ()
        raise AssertionError("%s: %d of %d values differ; first at %s: %r != %r (C)"
                             % (what, len(bad), a.size, i, a[i], e[i]))


# ---------------------------------------------------------------- scenarios
# Mirrors of ref.c's net_a, net_b, task_a, task_b and ramp.

PARAMS = ("W", "U", "b", "V", "c")
RULES = ("bptt", "tbptt", "rtrl", "eprop", "rflo", "modprop")


def _init(net, gain, which, seed):
    rp.Init("gaussian", gain=gain).apply(net, which, seed=seed)


def net_a():
    """Voltage form, tanh, 3 -> 12 -> 3, batch 4, alpha 0.8, no noise."""
    net = rp.Net(n_in=3, n_rec=12, n_out=3, batch=4, alpha=0.8, form="voltage",
                 act="tanh", noise_std=0.0, seed=1)
    _init(net, 1.3, "W", 11)
    _init(net, 1.0, "U", 12)
    _init(net, 1.0, "V", 13)
    _init(net, 0.1, "b", 14)
    _init(net, 0.1, "c", 15)
    return net


def net_b():
    """Rate form, relu, 1 -> 10 -> 1, batch 3, alpha 0.7, noise 0.05 (seed 2)."""
    net = rp.Net(n_in=1, n_rec=10, n_out=1, batch=3, alpha=0.7, form="rate",
                 act="relu", noise_std=0.05, seed=2)
    _init(net, 1.1, "W", 21)
    _init(net, 1.0, "U", 22)
    _init(net, 1.0, "V", 23)
    _init(net, 0.1, "b", 24)
    return net


def task_a():
    """2af with delay 2 (T = 18), 4 trials from seed 7: (X, target, mask)."""
    return rp.Task("2af", delay=2).sample(batch=4, seed=7)


def task_b():
    """copy with delay 3 and T = 20, 3 trials from seed 8."""
    return rp.Task("copy", delay=3, T=20).sample(batch=3, seed=8)


def ramp(T, n_in):
    """x[t, i] = ((7 t + 3 i) mod 11) / 10 - 0.5: one rounding, as in C."""
    t = np.arange(T)[:, None]
    i = np.arange(n_in)[None, :]
    return ((7 * t + 3 * i) % 11).astype(np.float64) / 10.0 - 0.5


@pytest.fixture
def A():
    return net_a()


@pytest.fixture
def B():
    return net_b()


def params_of(net):
    return {p: getattr(net, p) for p in PARAMS}


def snapshot(net):
    """Every observable value of a net, as bytes (for "a call that raised
    changed nothing")."""
    d = {p: getattr(net, p).tobytes() for p in PARAMS}
    d["state"] = net.state.tobytes()
    return d
