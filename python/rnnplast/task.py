"""Task: trial generators (rp_task_*)."""

from . import _enums
from ._errors import error
from ._lib import ffi, lib
from ._util import (MSGLEN, NULL, Handle, allocator_ptr, check, config, config_dict, in_ptr,
                    make_msg, out_ptr, since, to_f64)

_last_error = lib.rp_task_last_error


def kind_name(kind):
    """rp_task_kind_name: the C library's name of task value ``kind``."""
    p = lib.rp_task_kind_name(kind)
    return None if p == NULL else ffi.string(p).decode()


def _task_config(k, kwargs):
    return config("rp_task_config", lib.rp_task_config_init, kwargs, extra_init_args=(k,))


class Task(Handle):
    """A task generator (rp_task_create; rp_task_create_alloc with
    ``allocator``): ``kind`` "sines", "copy", "delayed_xor", "add", "2af",
    "dms", "cxt"; keywords are the fields of rp_task_config (T, delay, t1,
    t2, fixation, stimulus, test, decision, coherences (a list), sigma,
    fix_weight, n_sines, pattern_seed), starting from the kind's defaults."""

    def __init__(self, kind, *, allocator=None, **kwargs):
        k = _enums.task_kind.value(kind, "kind")
        c = _task_config(k, kwargs)
        out = ffi.new("rp_task **")
        msg = make_msg()
        if allocator is None:
            st = lib.rp_task_create(out, k, c, msg, MSGLEN)
        else:
            st = lib.rp_task_create_alloc(out, k, c, allocator_ptr(allocator), msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._own(out[0], lib.rp_task_free)
        self._allocator = allocator
        self._kind = k
        h = self._h
        n_in, n_out, T = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
        loss = ffi.new("rp_loss *")
        check(lib.rp_task_get_dims(h, n_in, n_out, T, loss), h, _last_error)
        self.n_in, self.n_out, self.T = n_in[0], n_out[0], T[0]
        self.loss = _enums.loss.name(loss[0])

    @staticmethod
    def check_config(kind, **kwargs):
        """rp_task_config_check: raise InvalidArgumentError with the
        library's message if Task(kind, **kwargs) would refuse it."""
        k = _enums.task_kind.value(kind, "kind")
        c = _task_config(k, kwargs)
        msg = make_msg()
        st = lib.rp_task_config_check(k, c, msg, MSGLEN)
        if st:
            raise error(st, msg)

    @property
    def kind(self):
        """The task's name (rp_task_kind_name)."""
        return kind_name(self._kind)

    @property
    def config(self):
        """The configuration with T filled in, as a dict (rp_task_get_config)."""
        h = self._handle()
        c = ffi.new("rp_task_config *")
        check(lib.rp_task_get_config(h, c, ffi.sizeof("rp_task_config")), h, _last_error)
        return config_dict(c)

    def _target_shape(self, B):
        return (self.T, B) if self.loss == "ce" else (self.T, B, self.n_out)

    def sample(self, batch=1, seed=1):
        """rp_task_sample: X (T, batch, n_in), target (T, batch, n_out) for
        MSE tasks or (T, batch) class indices for CE, mask (T, batch)."""
        h = self._handle()
        X, px = out_ptr(None, (self.T, batch, self.n_in))
        tg, pt = out_ptr(None, self._target_shape(batch))
        mask, pm = out_ptr(None, (self.T, batch))
        check(lib.rp_task_sample(h, batch, seed, px, pt, pm), h, _last_error)
        return X, tg, mask

    def score(self, Y, target, mask=None):
        """rp_task_score: (loss, accuracy) of outputs Y (T, batch, n_out)."""
        h = self._handle()
        B, py, pt, pm = self._score_args(Y, target, mask)
        loss, acc = ffi.new("double *"), ffi.new("double *")
        check(lib.rp_task_score(h, B, py, pt, pm, loss, acc), h, _last_error)
        return loss[0], acc[0]

    def score_choices(self, Y, target, mask=None):
        """rp_task_score_choices: (response rate, choice accuracy) with one
        choice per trial, the class of the largest readout summed over the
        trial's decision steps (librnnplast >= 1.1; CE tasks)."""
        fn = since(lambda: lib.rp_task_score_choices, "1.1")
        h = self._handle()
        B, py, pt, pm = self._score_args(Y, target, mask)
        resp, acc = ffi.new("double *"), ffi.new("double *")
        check(fn(h, B, py, pt, pm, resp, acc), h, _last_error)
        return resp[0], acc[0]

    def _score_args(self, Y, target, mask):
        # (B, y, target, mask pointers) of score and score_choices
        Y = to_f64(Y, "Y")
        if Y.ndim != 3:
            raise ValueError("Y has shape %s, expected (T, batch, n_out)" % (Y.shape,))
        B = Y.shape[1]
        _, py = in_ptr(Y, (self.T, B, self.n_out), "Y")
        _, pt = in_ptr(target, self._target_shape(B), "target")
        pm = NULL if mask is None else in_ptr(mask, (self.T, B), "mask")[1]
        return B, py, pt, pm

    @property
    def last_error(self):
        """rp_task_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()

    def __repr__(self):
        return "<rnnplast.Task %s n_in=%d n_out=%d T=%d loss=%s>" % (
            self.kind, self.n_in, self.n_out, self.T, self.loss)
