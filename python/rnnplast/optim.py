"""Optim: SGD and Adam (rp_optim_*)."""

from . import _enums
from ._errors import error
from ._lib import ffi, lib
from ._util import MSGLEN, Handle, check, make_msg, param_value, since

_last_error = lib.rp_optim_last_error
_optim_step = lib.rp_optim_step


class Optim(Handle):
    """An optimizer for ``net`` (rp_optim_create): ``kind`` "sgd" or "adam".
    Keywords call the setters: lr, momentum, betas=(beta1, beta2, eps),
    clip, weight_decay.  The C library has setters only (no getters), so
    these are methods, not properties.  Keeps ``net`` alive; step() updates
    it."""

    def __init__(self, net, kind="adam", lr=None, momentum=None, betas=None, clip=None,
                 weight_decay=None):
        out = ffi.new("rp_optim **")
        msg = make_msg()
        st = lib.rp_optim_create(out, net._handle(), _enums.optim_kind.value(kind, "kind"), msg,
                                 MSGLEN)
        if st:
            raise error(st, msg)
        self._adopt(out[0], net, kind)
        if lr is not None:
            self.set_lr(lr)
        if momentum is not None:
            self.set_momentum(momentum)
        if betas is not None:
            self.set_betas(*betas)
        if clip is not None:
            self.set_clip(clip)
        if weight_decay is not None:
            self.set_weight_decay(weight_decay)

    @classmethod
    def _wrap(cls, ptr, net):
        # an optimizer the library made (rp_checkpoint_load): its kind, from C
        self = cls.__new__(cls)
        self._adopt(ptr, net, None)
        h = self._h
        kind = ffi.new("rp_optim_kind *")
        check(since(lambda: lib.rp_optim_get_kind, "1.1")(h, kind), h, _last_error)
        self.kind = _enums.optim_kind.name(kind[0])
        return self

    def _adopt(self, ptr, net, kind):
        self._own(ptr, lib.rp_optim_free)
        self._net = net
        self.kind = kind

    @property
    def net(self):
        """The Net this optimizer updates."""
        return self._net

    def _call(self, fn, *args):
        h = self._handle()
        check(fn(h, *args), h, _last_error)
        return self

    def set_lr(self, lr):
        """rp_optim_set_lr: the learning rate."""
        return self._call(lib.rp_optim_set_lr, lr)

    def set_momentum(self, momentum):
        """rp_optim_set_momentum: SGD's momentum."""
        return self._call(lib.rp_optim_set_momentum, momentum)

    def set_betas(self, beta1=0.9, beta2=0.999, eps=1e-8):
        """rp_optim_set_betas: Adam's constants."""
        return self._call(lib.rp_optim_set_betas, beta1, beta2, eps)

    def set_clip(self, max_norm):
        """rp_optim_set_clip: global gradient-norm clipping (0 = off)."""
        return self._call(lib.rp_optim_set_clip, max_norm)

    def set_weight_decay(self, decay):
        """rp_optim_set_weight_decay: decoupled decay of W, U, V."""
        return self._call(lib.rp_optim_set_weight_decay, decay)

    def set_trainable(self, which, on=True):
        """rp_optim_set_trainable: train parameter ``which`` or freeze it."""
        return self._call(lib.rp_optim_set_trainable, param_value(which), 1 if on else 0)

    def set_structure(self, which, keep_zeros=False, keep_signs=False):
        """rp_optim_set_structure: keep the net's current zeros and/or signs
        of parameter ``which`` through every step."""
        return self._call(lib.rp_optim_set_structure, self._net._handle(), param_value(which),
                          1 if keep_zeros else 0, 1 if keep_signs else 0)

    def reset(self):
        """rp_optim_reset: forget the moments and the step count."""
        return self._call(lib.rp_optim_reset)

    def step(self, grad):
        """rp_optim_step: one update of the net's parameters with ``grad``."""
        h = self._handle()
        st = _optim_step(h, self._net._handle(), grad._handle())
        if st:
            raise error(st, _last_error(h))

    @property
    def last_error(self):
        """rp_optim_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()
