"""Init: weight initializers (rp_init_*)."""

from . import _enums
from ._errors import error
from ._lib import ffi, lib
from ._util import MSGLEN, Handle, allocator_ptr, check, make_msg, param_value

_last_error = lib.rp_init_last_error


class Init(Handle):
    """An initializer of ``kind`` ("gaussian", "uniform", "orthogonal",
    "sparse", "dale", "low_rank", "zeros"; rp_init_create, or
    rp_init_create_alloc with ``allocator``).  Keywords call the setters:
    gain, sparsity, dale_fraction, rank (with strength), spectral_radius,
    zero_diagonal.  Settings persist across apply() calls, as in C."""

    def __init__(self, kind="gaussian", gain=None, sparsity=None, dale_fraction=None, rank=None,
                 strength=1.0, spectral_radius=None, zero_diagonal=None, allocator=None):
        out = ffi.new("rp_init **")
        msg = make_msg()
        k = _enums.init_kind.value(kind, "kind")
        if allocator is None:
            st = lib.rp_init_create(out, k, msg, MSGLEN)
        else:
            st = lib.rp_init_create_alloc(out, k, allocator_ptr(allocator), msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._own(out[0], lib.rp_init_free)
        self._allocator = allocator
        self.kind = kind
        if gain is not None:
            self.set_gain(gain)
        if sparsity is not None:
            self.set_sparsity(sparsity)
        if dale_fraction is not None:
            self.set_dale_fraction(dale_fraction)
        if rank is not None:
            self.set_rank(rank, strength)
        if spectral_radius is not None:
            self.set_spectral_radius(spectral_radius)
        if zero_diagonal is not None:
            self.set_zero_diagonal(zero_diagonal)

    def _call(self, fn, *args):
        h = self._handle()
        check(fn(h, *args), h, _last_error)
        return self

    def set_gain(self, g):
        """rp_init_set_gain: the gain g (default 1)."""
        return self._call(lib.rp_init_set_gain, g)

    def set_sparsity(self, p):
        """rp_init_set_sparsity: connection probability of "sparse"."""
        return self._call(lib.rp_init_set_sparsity, p)

    def set_dale_fraction(self, frac_e):
        """rp_init_set_dale_fraction: excitatory fraction of "dale"."""
        return self._call(lib.rp_init_set_dale_fraction, frac_e)

    def set_rank(self, rank, strength=1.0):
        """rp_init_set_rank: rank R and strength m of "low_rank"."""
        return self._call(lib.rp_init_set_rank, rank, strength)

    def set_spectral_radius(self, rho):
        """rp_init_set_spectral_radius: rescale to max|eig| = rho (0 = off)."""
        return self._call(lib.rp_init_set_spectral_radius, rho)

    def set_zero_diagonal(self, on=True):
        """rp_init_set_zero_diagonal: no self-connections."""
        return self._call(lib.rp_init_set_zero_diagonal, 1 if on else 0)

    def apply(self, net, which, seed):
        """rp_init_apply: draw parameter ``which`` ("W", "U", "b", "V", "c")
        of ``net`` from ``seed``."""
        return self._call(lib.rp_init_apply, net._handle(), param_value(which), seed)

    @property
    def last_error(self):
        """rp_init_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()
