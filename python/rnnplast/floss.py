"""Floss: gradient flossing (rp_floss_*) and its training schedule."""

from . import _enums
from ._errors import error
from ._lib import ffi, lib
from ._util import MSGLEN, Handle, check, config, config_dict, in_ptr, make_msg, out_ptr
from .lyap import _trajectory

_last_error = lib.rp_floss_last_error


def _floss_config(kwargs):
    return config("rp_floss_config", lib.rp_floss_config_init, kwargs)


class Floss(Handle):
    """A flossing regularizer for ``net`` (rp_floss_create); keywords are
    the fields of rp_floss_config: k, target, t_ons, transient, mode
    ("exact", "local"), seed.  Keeps ``net`` alive."""

    def __init__(self, net, **kwargs):
        c = _floss_config(kwargs)
        out = ffi.new("rp_floss **")
        msg = make_msg()
        st = lib.rp_floss_create(out, net._handle(), c, msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._own(out[0], lib.rp_floss_free)
        self._net = net
        self.config = config_dict(c)
        self.k = c.k
        self.lambdas = None

    @staticmethod
    def check_config(net, **kwargs):
        """rp_floss_config_check: raise InvalidArgumentError with the
        library's message if Floss(net, **kwargs) would refuse it."""
        c = _floss_config(kwargs)
        msg = make_msg()
        st = lib.rp_floss_config_check(net._handle(), c, msg, MSGLEN)
        if st:
            raise error(st, msg)

    @property
    def net(self):
        """The Net regularized."""
        return self._net

    def set_basis(self, Q0):
        """rp_floss_set_basis: the initial basis Q0 (n_rec, k)."""
        h = self._handle()
        a, p = in_ptr(Q0, (self._net._n_rec, self.k), "Q0")
        check(lib.rp_floss_set_basis(h, p, a.size), h, _last_error)

    def trial(self, X=None, grad=None, T=None):
        """rp_floss_trial: one trajectory (X (T, n_in), or None with T);
        adds dF/dtheta into ``grad`` (a Grad; None: a scratch one) and
        returns F.  The exponents (k,) are kept in ``lambdas`` (also when a
        direction collapsed: then F is +inf and NonFiniteError is raised).
        The GIL is released during the call."""
        h = self._handle()
        net = self._net
        T, px = _trajectory(net, X, T)
        if grad is None:
            from .grad import Grad
            grad = Grad(net)
        F = ffi.new("double *")
        lam, pl = out_ptr(None, (self.k,))
        st = lib.rp_floss_trial(h, net._handle(), T, px, grad._handle(), F, pl)
        if st == lib.RP_OK or st == lib.RP_ERR_NONFINITE:
            self.lambdas = lam
            self.F = F[0]
        if st:
            raise error(st, _last_error(h))
        return F[0]

    @property
    def last_error(self):
        """rp_floss_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()


def _schedule(kwargs):
    return config("rp_floss_schedule", lib.rp_floss_schedule_init, kwargs)


class FlossSchedule:
    """When flossing runs during training (rp_floss_schedule_init and
    rp_floss_schedule_check): ``kind`` "none", "pre", "inter" or "during";
    keywords pre, period, floss_iters, beta."""

    def __init__(self, kind="none", **kwargs):
        kwargs["kind"] = kind
        self._s = _schedule(kwargs)
        msg = make_msg()
        st = lib.rp_floss_schedule_check(self._s, msg, MSGLEN)
        if st:
            raise error(st, msg)

    def at(self, iteration):
        """rp_floss_schedule_at: (task_step, floss_weight) of iteration
        ``iteration`` (from 0): use the task gradient if task_step, add
        floss_weight times the flossing gradient."""
        ts, w = ffi.new("int *"), ffi.new("double *")
        st = lib.rp_floss_schedule_at(self._s, iteration, ts, w)
        if st:
            raise error(st, "")
        return bool(ts[0]), w[0]

    @property
    def config(self):
        """The schedule as a dict."""
        return config_dict(self._s)

    def __repr__(self):
        return "<rnnplast.FlossSchedule %s>" % self.config


floss_schedule_kinds = _enums.floss_schedule_kind.names
