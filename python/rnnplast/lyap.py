"""Lyapunov: the Lyapunov spectrum estimator (rp_lyap_*)."""

from ._errors import error
from ._lib import ffi, lib
from ._util import MSGLEN, NULL, Handle, check, config, in_ptr, make_msg, out_ptr, to_f64

_last_error = lib.rp_lyap_last_error


def _lyap_config(kwargs):
    return config("rp_lyap_config", lib.rp_lyap_config_init, kwargs)


def _trajectory(net, X, T):
    """(T, double *) for one trajectory's inputs X (T, n_in), or None with T
    (autonomous, x = 0)."""
    if X is None:
        if T is None:
            raise ValueError("give X (T, n_in) or T for an autonomous run")
        return T, NULL
    X = to_f64(X, "X")
    if X.ndim != 2 or X.shape[1] != net._n_in:
        raise ValueError("X has shape %s, expected (T, %d)" % (X.shape, net._n_in))
    if T is not None and T != X.shape[0]:
        raise ValueError("T = %d but X has %d steps" % (T, X.shape[0]))
    if net._n_in == 0:
        return X.shape[0], NULL
    return X.shape[0], ffi.from_buffer("double[]", X)


class Lyapunov(Handle):
    """An estimator of the first ``k`` Lyapunov exponents of ``net``'s
    dynamics (rp_lyap_create); keywords are the fields of rp_lyap_config:
    t_ons, transient, seed.  Keeps ``net`` alive and reads it at each run."""

    def __init__(self, net, k=1, **kwargs):
        c = _lyap_config(kwargs)
        out = ffi.new("rp_lyap **")
        msg = make_msg()
        st = lib.rp_lyap_create(out, net._handle(), k, c, msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._own(out[0], lib.rp_lyap_free)
        self._net = net
        self.k = k

    @staticmethod
    def check_config(net, k=1, **kwargs):
        """rp_lyap_config_check: raise InvalidArgumentError with the
        library's message if Lyapunov(net, k, **kwargs) would refuse it."""
        c = _lyap_config(kwargs)
        msg = make_msg()
        st = lib.rp_lyap_config_check(net._handle(), k, c, msg, MSGLEN)
        if st:
            raise error(st, msg)

    @property
    def net(self):
        """The Net analysed."""
        return self._net

    def run(self, X=None, T=None):
        """rp_lyap_run: advance the trajectory by T steps with inputs X (T,
        n_in), or autonomously (X None, give T).  Returns the spectrum (k,)
        per step (descending), or None while no step is counted yet (still
        in the transient).  The GIL is released during the call."""
        h = self._handle()
        T, px = _trajectory(self._net, X, T)
        check(lib.rp_lyap_run(h, self._net._handle(), T, px), h, _last_error)
        if self.steps[0] == 0:
            return None
        return self.spectrum()

    def spectrum(self, k=None):
        """rp_lyap_get_spectrum: the first ``k`` exponents per step."""
        h = self._handle()
        k = self.k if k is None else k
        out, p = out_ptr(None, (k,))
        check(lib.rp_lyap_get_spectrum(h, p, k), h, _last_error)
        return out

    def local(self, k=None):
        """rp_lyap_get_local: the exponents of the last window, in direction order."""
        h = self._handle()
        k = self.k if k is None else k
        out, p = out_ptr(None, (k,))
        check(lib.rp_lyap_get_local(h, p, k), h, _last_error)
        return out

    @property
    def steps(self):
        """rp_lyap_get_steps: (steps counted, steps run)."""
        h = self._handle()
        counted, total = ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.rp_lyap_get_steps(h, counted, total), h, _last_error)
        return counted[0], total[0]

    @property
    def cond(self):
        """rp_lyap_get_cond: (condition at the last re-orthonormalization,
        the largest since the start)."""
        h = self._handle()
        last, mx = ffi.new("double *"), ffi.new("double *")
        check(lib.rp_lyap_get_cond(h, last, mx), h, _last_error)
        return last[0], mx[0]

    def set_basis(self, Q0):
        """rp_lyap_set_basis: the initial basis Q0 (n_rec, k); restarts."""
        h = self._handle()
        a, p = in_ptr(Q0, (self._net._n_rec, self.k), "Q0")
        check(lib.rp_lyap_set_basis(h, p, a.size), h, _last_error)

    def reset(self):
        """rp_lyap_reset: restart the trajectory and the sums."""
        h = self._handle()
        check(lib.rp_lyap_reset(h), h, _last_error)

    @staticmethod
    def max_direct(net, X=None, T=None, transient=0, eps=1e-7, seed=1):
        """rp_lyap_max_direct: lambda_max by direct simulation of a
        perturbed twin trajectory (X (T, n_in) or None with T)."""
        T, px = _trajectory(net, X, T)
        lam = ffi.new("double *")
        msg = make_msg()
        st = lib.rp_lyap_max_direct(net._handle(), T, px, transient, eps, seed, lam, msg, MSGLEN)
        if st:
            raise error(st, msg)
        return lam[0]

    @property
    def last_error(self):
        """rp_lyap_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()
