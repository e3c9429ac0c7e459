"""Files: .npy arrays (rp_npy_*) and training checkpoints (rp_checkpoint_*)."""

import os
import struct

import numpy as np

from ._errors import error
from ._lib import ffi, lib
from ._util import MSGLEN, NULL, allocator_ptr, make_msg, path_bytes, to_f64

# RP_CHECKPOINT_MAX_USER of rnnplast.h (a size_t expression, so not in the cdef)
_MAX_USER = 1 << 24


def npy_save(path, a):
    """rp_npy_save: write array ``a`` (float64, 1 to 8 dimensions) as .npy."""
    a = to_f64(a, "a")
    if a.ndim == 0:
        a = a.reshape(1)
    shape = ffi.new("size_t[]", list(a.shape))
    msg = make_msg()
    p = ffi.from_buffer("double[]", a) if a.size else NULL
    st = lib.rp_npy_save(path_bytes(path), p, a.ndim, shape, msg, MSGLEN)
    if st:
        raise error(st, msg)


def npy_shape(path):
    """rp_npy_shape: the shape of a .npy file, as a tuple."""
    nd = ffi.new("size_t *")
    shape = ffi.new("size_t[]", lib.RP_NPY_MAX_DIM)
    msg = make_msg()
    st = lib.rp_npy_shape(path_bytes(path), nd, shape, msg, MSGLEN)
    if st:
        raise error(st, msg)
    return tuple(shape[i] for i in range(nd[0]))


def npy_load(path, shape=None):
    """rp_npy_load: a .npy file ('<f8', C order) as an array; ``shape``
    (default: the file's, from npy_shape) must match the file's."""
    if shape is None:
        shape = npy_shape(path)
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:  # a scalar: the C calls take 1..8 dimensions
        raise ValueError("%s holds a 0-dimensional array, which rp_npy_load does not read" % path)
    out = np.empty(shape)
    cshape = ffi.new("size_t[]", list(shape))
    msg = make_msg()
    p = ffi.from_buffer("double[]", out, require_writable=True) if out.size else NULL
    st = lib.rp_npy_load(path_bytes(path), p, len(shape), cshape, msg, MSGLEN)
    if st:
        raise error(st, msg)
    return out


def checkpoint_save(path, net, optim=None, rule=None, iteration=0, user=b""):
    """rp_checkpoint_save: ``net`` with (optionally) ``optim`` and ``rule``
    (inside an online stream or not), the caller's ``iteration`` and
    ``user`` bytes, atomically.  Changes none of the handles."""
    user = bytes(user)
    msg = make_msg()
    st = lib.rp_checkpoint_save(net._handle(), NULL if optim is None else optim._handle(),
                                NULL if rule is None else rule._handle(), path_bytes(path),
                                iteration, user if user else NULL, len(user), msg, MSGLEN)
    if st:
        raise error(st, msg)


class Checkpoint:
    """What checkpoint_load() returns: ``net``, ``optim`` and ``rule`` (None
    when not loaded), ``stream`` (the rule's open Stream when the file was
    saved inside one, else None), ``iteration`` and ``user`` (bytes)."""

    def __init__(self, net, optim, rule, stream, iteration, user):
        self.net, self.optim, self.rule, self.stream = net, optim, rule, stream
        self.iteration, self.user = iteration, user

    def __iter__(self):
        return iter((self.net, self.optim, self.rule, self.iteration, self.user))


def _sections(path):
    """The contents bits of a checkpoint file (the format at
    rp_checkpoint_save in rnnplast.h: a 4-byte field at offset 24)."""
    with open(path, "rb") as f:
        head = f.read(28)
    if len(head) < 28:
        return 0
    return struct.unpack_from("<I", head, 24)[0]


def checkpoint_load(path, optim=None, rule=None, allocator=None):
    """rp_checkpoint_load (rp_checkpoint_load_alloc with ``allocator``): a
    Checkpoint.  ``optim`` / ``rule``: True to require that section, False
    to skip it, None (default) to load it when the file holds one.  A rule
    saved inside an online stream comes back with it open (``stream``)."""
    from .net import Net
    from .optim import Optim
    from .rule import Rule, Stream

    contents = _sections(path)
    want_opt = bool(contents & 1) if optim is None else bool(optim)
    want_rule = bool(contents & 2) if rule is None else bool(rule)
    net_out = ffi.new("rp_net **")
    opt_out = ffi.new("rp_optim **") if want_opt else NULL
    rule_out = ffi.new("rp_rule **") if want_rule else NULL
    iteration = ffi.new("uint64_t *")
    cap = min(max(os.path.getsize(path), 0), _MAX_USER) if os.path.isfile(path) else 0
    user = ffi.new("char[]", max(cap, 1))
    user_len = ffi.new("size_t *")
    msg = make_msg()
    if allocator is None:
        st = lib.rp_checkpoint_load(net_out, opt_out, rule_out, path_bytes(path), iteration, user,
                                    cap, user_len, msg, MSGLEN)
    else:
        st = lib.rp_checkpoint_load_alloc(net_out, opt_out, rule_out, path_bytes(path), iteration,
                                          user, cap, user_len, allocator_ptr(allocator), msg,
                                          MSGLEN)
    if st:
        raise error(st, msg)
    net = Net._wrap(net_out[0], allocator)
    o = r = s = None
    if want_opt:
        o = Optim._wrap(opt_out[0], net)
    if want_rule:
        r = Rule._wrap(rule_out[0], net)
        if r.streaming:
            s = Stream(r)
            s._resume()
    return Checkpoint(net, o, r, s, iteration[0], ffi.buffer(user, user_len[0])[:])
