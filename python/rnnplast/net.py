"""Net: the recurrent network (rp_net_*)."""

import numpy as np

from . import _enums
from ._errors import closed, error
from ._lib import ffi, lib
from ._util import (DOUBLES, MSGLEN, NULL, Handle, allocator_ptr, check, config,
                    config_dict, from_buffer, in_ptr, make_msg, out_ptr,
                    param_value, path_bytes, step_ptr, to_f64)

_step = lib.rp_net_step
_run = lib.rp_net_run
_last_error = lib.rp_net_last_error
_empty = np.empty


def _net_config(kwargs):
    return config("rp_net_config", lib.rp_net_config_init, kwargs, skip=("allocator",))


class Net(Handle):
    """A leaky rate RNN (rp_net_create).  Keywords are the fields of
    rp_net_config: n_in, n_rec, n_out, batch, alpha, form ("voltage",
    "rate"), act ("relu", "tanh", "linear"), noise_std, seed,
    batch_invariant, precision ("double", "single": float storage and
    arithmetic, arrays still float64; rnnplast.h, rp_precision);
    ``allocator`` an rnnplast.Allocator.  Parameters start
    at zero: draw them with Init.apply() or set them (net.W = ...)."""

    def __init__(self, *, allocator=None, **kwargs):
        c = _net_config(kwargs)
        c.allocator = allocator_ptr(allocator)
        out = ffi.new("rp_net **")
        msg = make_msg()
        st = lib.rp_net_create(out, c, msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._adopt(out[0], allocator)

    @classmethod
    def _wrap(cls, ptr, allocator=None):
        self = cls.__new__(cls)
        self._adopt(ptr, allocator)
        return self

    def _adopt(self, ptr, allocator):
        self._own(ptr, lib.rp_net_free)
        self._allocator = allocator  # the callbacks must outlive the handle
        self._dims()

    def _dims(self):
        c = ffi.new("rp_net_config *")
        check(lib.rp_net_get_config(self._h, c, ffi.sizeof("rp_net_config")), self._h, _last_error)
        self._n_in, self._n_rec, self._n_out, self._B = c.n_in, c.n_rec, c.n_out, c.batch
        n_in, n_rec, n_out, B = self._n_in, self._n_rec, self._n_out, self._B
        self._xshape = (B, n_in)
        self._yshape = (B, n_out)
        self._sshape = (B, n_rec)
        self._pshape = {"W": (n_rec, n_rec), "U": (n_rec, n_in), "b": (n_rec,),
                        "V": (n_out, n_rec), "c": (n_out,)}

    @staticmethod
    def check_config(**kwargs):
        """rp_net_config_check: raise InvalidArgumentError with the library's
        message if Net(**kwargs) would refuse the configuration."""
        c = _net_config(kwargs)
        msg = make_msg()
        st = lib.rp_net_config_check(c, msg, MSGLEN)
        if st:
            raise error(st, msg)

    # ---- dimensions and configuration ----

    @property
    def config(self):
        """The configuration as a dict (rp_net_get_config); the current batch."""
        h = self._handle()
        c = ffi.new("rp_net_config *")
        check(lib.rp_net_get_config(h, c, ffi.sizeof("rp_net_config")), h, _last_error)
        return config_dict(c)

    n_in = property(lambda self: self._n_in, doc="Inputs per step.")
    n_rec = property(lambda self: self._n_rec, doc="Recurrent units.")
    n_out = property(lambda self: self._n_out, doc="Outputs per step.")

    @property
    def batch(self):
        """Trials B run together; setting it (rp_net_set_batch) resets every
        trial to the initial state."""
        return self._B

    @batch.setter
    def batch(self, B):
        h = self._handle()
        check(lib.rp_net_set_batch(h, B), h, _last_error)
        self._dims()

    form = property(lambda self: self.config["form"], doc="\"voltage\" or \"rate\".")
    act = property(lambda self: self.config["act"], doc="The activation function's name.")

    @property
    def alpha(self):
        """The leak alpha = 1 - dt/tau (set: rp_net_set_alpha)."""
        return self.config["alpha"]

    @alpha.setter
    def alpha(self, alpha):
        h = self._handle()
        check(lib.rp_net_set_alpha(h, alpha), h, _last_error)

    @property
    def noise_std(self):
        """The state noise's standard deviation (set with set_noise)."""
        return self.config["noise_std"]

    def set_noise(self, noise_std, seed):
        """rp_net_set_noise: the noise's standard deviation, and reseed."""
        h = self._handle()
        check(lib.rp_net_set_noise(h, noise_std, seed), h, _last_error)

    def set_state_bound(self, bound):
        """rp_net_set_state_bound: the divergence guard (0 = off)."""
        h = self._handle()
        check(lib.rp_net_set_state_bound(h, bound), h, _last_error)

    @property
    def last_error(self):
        """rp_net_last_error: the detail of the last failure ("" if none)."""
        return ffi.string(_last_error(self._handle())).decode()

    # ---- parameters ----

    def param_len(self, which):
        """rp_net_get_param_len: number of doubles in parameter ``which``."""
        h = self._handle()
        n = ffi.new("size_t *")
        check(lib.rp_net_get_param_len(h, param_value(which), n), h, _last_error)
        return n[0]

    def get_param(self, which, out=None):
        """rp_net_get_param: a copy of parameter ``which`` in its shape."""
        h = self._handle()
        shape = self._pshape[_enums.param.to_name[param_value(which)]]
        out, p = out_ptr(out, shape)
        check(lib.rp_net_get_param(h, param_value(which), p, out.size), h, _last_error)
        return out

    def set_param(self, which, value):
        """rp_net_set_param: set parameter ``which`` from an array of its shape."""
        h = self._handle()
        name = _enums.param.to_name[param_value(which)]
        a, p = in_ptr(value, self._pshape[name], name)
        check(lib.rp_net_set_param(h, param_value(which), p, a.size), h, _last_error)

    W = property(lambda self: self.get_param("W"), lambda self, v: self.set_param("W", v),
                 doc="Recurrent weights (n_rec, n_rec); get returns a copy.")
    U = property(lambda self: self.get_param("U"), lambda self, v: self.set_param("U", v),
                 doc="Input weights (n_rec, n_in); get returns a copy.")
    b = property(lambda self: self.get_param("b"), lambda self, v: self.set_param("b", v),
                 doc="Recurrent bias (n_rec,); get returns a copy.")
    V = property(lambda self: self.get_param("V"), lambda self, v: self.set_param("V", v),
                 doc="Readout weights (n_out, n_rec); get returns a copy.")
    c = property(lambda self: self.get_param("c"), lambda self, v: self.set_param("c", v),
                 doc="Readout bias (n_out,); get returns a copy.")

    def save_param_npy(self, which, path):
        """rp_net_save_param_npy: write parameter ``which`` as .npy."""
        h = self._handle()
        check(lib.rp_net_save_param_npy(h, param_value(which), path_bytes(path)), h, _last_error)

    def load_param_npy(self, which, path):
        """rp_net_load_param_npy: set parameter ``which`` from a .npy file."""
        h = self._handle()
        check(lib.rp_net_load_param_npy(h, param_value(which), path_bytes(path)), h, _last_error)

    # ---- state ----

    def get_state(self, out=None):
        """rp_net_get_state: the current state (batch, n_rec)."""
        h = self._handle()
        out, p = out_ptr(out, self._sshape)
        check(lib.rp_net_get_state(h, p, out.size), h, _last_error)
        return out

    def set_state(self, value):
        """rp_net_set_state: the state of every trial, (batch, n_rec)."""
        h = self._handle()
        a, p = in_ptr(value, self._sshape, "state")
        check(lib.rp_net_set_state(h, p, a.size), h, _last_error)

    state = property(get_state, set_state, doc="The current state (batch, n_rec): a copy; settable.")

    def get_rates(self, out=None):
        """rp_net_get_rates: f(h) (voltage) or r (rate), (batch, n_rec)."""
        h = self._handle()
        out, p = out_ptr(out, self._sshape)
        check(lib.rp_net_get_rates(h, p, out.size), h, _last_error)
        return out

    rates = property(get_rates, doc="The rates of the current state (batch, n_rec).")

    @property
    def initial_state(self):
        """The initial state (n_rec,) that reset() restores
        (rp_net_get_initial_state / rp_net_set_initial_state)."""
        h = self._handle()
        out, p = out_ptr(None, (self._n_rec,))
        check(lib.rp_net_get_initial_state(h, p, out.size), h, _last_error)
        return out

    @initial_state.setter
    def initial_state(self, value):
        h = self._handle()
        a, p = in_ptr(value, (self._n_rec,), "initial_state")
        check(lib.rp_net_set_initial_state(h, p, a.size), h, _last_error)

    def reset(self):
        """rp_net_reset: every trial's state := the initial state."""
        h = self._handle()
        check(lib.rp_net_reset(h), h, _last_error)

    # ---- dynamics ----

    def step(self, x=None, out=None):
        """rp_net_step: one step; x (batch, n_in) -> y (batch, n_out)
        (a new array, or ``out``).  x may be None when n_in = 0."""
        h = self._h
        if h is None:
            raise closed(self)
        if x is None and self._n_in == 0:
            px = NULL
        else:
            px = step_ptr(x, self._xshape)[1]
        if out is None:
            out = _empty(self._yshape)
            py = from_buffer(DOUBLES, out)
        else:
            out, py = out_ptr(out, self._yshape)
        st = _step(h, px, py)
        if st:
            raise error(st, _last_error(h))
        return out

    def run(self, X=None, T=None, out=None):
        """rp_net_run: T steps; X (T, batch, n_in) -> Y (T, batch, n_out).
        X may be None when n_in = 0 (then give T)."""
        h = self._handle()
        if X is None:
            if self._n_in != 0 or T is None:
                raise ValueError("X is required (n_in = %d)" % self._n_in)
            px = NULL
        else:
            X = to_f64(X, "X")
            if X.ndim != 3 or X.shape[1:] != self._xshape:
                raise ValueError("X has shape %s, expected (T,) + %s" % (X.shape, self._xshape))
            if T is not None and T != X.shape[0]:
                raise ValueError("T = %d but X has %d steps" % (T, X.shape[0]))
            T = X.shape[0]
            px = from_buffer(DOUBLES, X)
        out, py = out_ptr(out, (T,) + self._yshape)
        check(_run(h, T, px, py), h, _last_error)
        return out

    # ---- copies and files ----

    def clone(self):
        """rp_net_clone: an independent copy (parameters, state, generator)."""
        h = self._handle()
        out = ffi.new("rp_net **")
        msg = make_msg()
        st = lib.rp_net_clone(out, h, msg, MSGLEN)
        if st:
            raise error(st, msg)
        return Net._wrap(out[0], self._allocator)

    def save(self, path):
        """rp_net_save: configuration, parameters, initial state, atomically."""
        h = self._handle()
        check(lib.rp_net_save(h, path_bytes(path)), h, _last_error)

    @classmethod
    def load(cls, path, allocator=None):
        """rp_net_load (rp_net_load_alloc with ``allocator``): a saved net."""
        out = ffi.new("rp_net **")
        msg = make_msg()
        if allocator is None:
            st = lib.rp_net_load(out, path_bytes(path), msg, MSGLEN)
        else:
            st = lib.rp_net_load_alloc(out, path_bytes(path), allocator_ptr(allocator), msg, MSGLEN)
        if st:
            raise error(st, msg)
        return cls._wrap(out[0], allocator)

    def __repr__(self):
        if self._h is None:
            return "<rnnplast.Net closed>"
        return "<rnnplast.Net n_in=%d n_rec=%d n_out=%d batch=%d>" % (
            self._n_in, self._n_rec, self._n_out, self._B)
