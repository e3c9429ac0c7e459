"""Grad: a gradient with one block per parameter (rp_grad_*)."""

from . import _enums
from ._errors import error
from ._lib import ffi, lib
from ._util import MSGLEN, Handle, check, in_ptr, make_msg, out_ptr, param_value, path_bytes

_last_error = lib.rp_grad_last_error


class Grad(Handle):
    """A zero gradient shaped like ``net``'s parameters (rp_grad_create).
    ``g["W"]`` is a copy of a block (rp_grad_get); ``g["W"] = a`` sets it
    (rp_grad_set)."""

    def __init__(self, net):
        out = ffi.new("rp_grad **")
        msg = make_msg()
        st = lib.rp_grad_create(out, net._handle(), msg, MSGLEN)
        if st:
            raise error(st, msg)
        self._own(out[0], lib.rp_grad_free)
        self._net = net  # keeps the net alive while the gradient lives
        self._pshape = dict(net._pshape)

    def zero(self):
        """rp_grad_zero: every entry := 0."""
        h = self._handle()
        check(lib.rp_grad_zero(h), h, _last_error)
        return self

    def get(self, which, out=None):
        """rp_grad_get: a copy of block ``which`` in the parameter's shape."""
        h = self._handle()
        w = param_value(which)
        out, p = out_ptr(out, self._pshape[_enums.param.to_name[w]])
        check(lib.rp_grad_get(h, w, p, out.size), h, _last_error)
        return out

    def set(self, which, value):
        """rp_grad_set: set block ``which`` from an array of its shape."""
        h = self._handle()
        w = param_value(which)
        name = _enums.param.to_name[w]
        a, p = in_ptr(value, self._pshape[name], name)
        check(lib.rp_grad_set(h, w, p, a.size), h, _last_error)

    __getitem__ = get
    __setitem__ = set

    def keys(self):
        """The block names, "W", "U", "b", "V", "c"."""
        return list(_enums.param.names)

    @property
    def norm(self):
        """rp_grad_get_norm: the Euclidean norm over all blocks."""
        h = self._handle()
        n = ffi.new("double *")
        check(lib.rp_grad_get_norm(h, n), h, _last_error)
        return n[0]

    def axpy(self, a, src):
        """rp_grad_axpy: self += a * src."""
        h = self._handle()
        check(lib.rp_grad_axpy(h, a, src._handle()), h, _last_error)
        return self

    def scale(self, a):
        """rp_grad_scale: self *= a."""
        h = self._handle()
        check(lib.rp_grad_scale(h, a), h, _last_error)
        return self

    def save_param_npy(self, which, path):
        """rp_grad_save_param_npy: write block ``which`` as .npy."""
        h = self._handle()
        check(lib.rp_grad_save_param_npy(h, param_value(which), path_bytes(path)), h, _last_error)

    @property
    def last_error(self):
        """rp_grad_last_error: the detail of the last failure."""
        return ffi.string(_last_error(self._handle())).decode()
