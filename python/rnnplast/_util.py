"""Shared helpers: arrays in and out, configuration structs, handles."""

import numpy as np

from . import _enums
from ._errors import UnsupportedError, closed, error
from ._lib import ffi, lib

F64 = np.dtype(np.float64)
ndarray = np.ndarray
from_buffer = ffi.from_buffer
DOUBLES = ffi.typeof("double[]")  # a ctype, not a string: from_buffer skips parsing it
NULL = ffi.NULL


def to_f64(a, name):
    """``a`` as a C-contiguous float64 array (one copy if its dtype or
    layout differ).  A dtype that converts only with loss of meaning
    (complex, strings, objects) raises TypeError naming ``name``."""
    a = np.asarray(a)
    if a.dtype is not F64 and not np.can_cast(a.dtype, F64, "same_kind"):
        raise TypeError("%s has dtype %s, which does not convert to float64 without loss"
                        % (name, a.dtype))
    return np.ascontiguousarray(a, dtype=F64)


def as_input(a, shape, name):
    """``a`` as a C-contiguous float64 array of ``shape`` (to_f64);
    ValueError naming ``name`` for another shape."""
    a = to_f64(a, name)
    if a.shape != shape:
        raise ValueError("%s has shape %s, expected %s" % (name, a.shape, shape))
    return a


def in_ptr(a, shape, name):
    """(array, double * into it) for an input array of ``shape``."""
    if a.__class__ is not ndarray or a.dtype is not F64 or a.shape != shape \
            or not a.flags.c_contiguous:
        a = as_input(a, shape, name)
    return a, from_buffer(DOUBLES, a)


def step_ptr(x, shape, name="x"):
    """in_ptr for the per-step hot path: (x, double *) for an input of
    ``shape``, converted only when it must be (the contiguity check is left
    to from_buffer, which is cheaper than asking the flags)."""
    if x.__class__ is not ndarray or x.dtype is not F64 or x.shape != shape:
        x = as_input(x, shape, name)
    try:
        return x, from_buffer(DOUBLES, x)
    except (ValueError, BufferError):  # not C-contiguous
        x = as_input(x, shape, name)
        return x, from_buffer(DOUBLES, x)


def out_ptr(out, shape, name="out"):
    """(array, double *) for an output: a new array, or ``out`` checked."""
    if out is None:
        out = np.empty(shape)
    elif out.__class__ is not ndarray or out.dtype is not F64 or out.shape != shape \
            or not out.flags.c_contiguous:
        raise ValueError("%s must be a C-contiguous float64 array of shape %s" % (name, shape))
    return out, from_buffer(DOUBLES, out, require_writable=True)


def check(st, h, last_error):
    """Raise the exception of status ``st`` with ``last_error(h)``."""
    if st:
        raise error(st, last_error(h))


def make_msg():
    """A message buffer for calls without a handle."""
    return ffi.new("char[512]")


MSGLEN = 512


def path_bytes(path):
    """A file path as bytes for the C calls."""
    import os
    return os.fsencode(path)


# ---- configuration structs ----

def config(ctype, init, kwargs, skip=(), extra_init_args=()):
    """A new ``ctype`` struct filled by ``init(&c, sizeof c, ...)`` then set
    from ``kwargs`` (field name -> value; enum fields take their strings).
    An unknown keyword raises TypeError naming it."""
    c = ffi.new(ctype + " *")
    st = init(c, ffi.sizeof(ctype), *extra_init_args)
    if st:
        raise error(st, "")
    fields = dict(ffi.typeof(ctype).fields)
    for key, value in kwargs.items():
        f = fields.get(key)
        if f is None or key == "struct_size" or key in skip or f.type.kind == "pointer":
            valid = [n for n, f in fields.items()
                     if n != "struct_size" and n not in skip and f.type.kind != "pointer"]
            raise TypeError("unexpected keyword argument %r (valid: %s)" % (key, ", ".join(valid)))
        set_field(c, key, f.type, value)
    return c


def set_field(c, key, ctype, value):
    """Set field ``key`` of struct ``c`` (enum strings, arrays, numbers)."""
    if ctype.kind == "enum":
        value = _enums.ENUMS[ctype.cname].value(value, key)
    elif ctype.kind == "array":
        value = list(value)
        if len(value) > ctype.length:
            raise ValueError("%s takes at most %d values, got %d" % (key, ctype.length, len(value)))
        count = "n_" + key
        arr = getattr(c, key)
        for i in range(ctype.length):
            arr[i] = value[i] if i < len(value) else 0.0
        if count in dict(ffi.typeof(c[0]).fields):
            setattr(c, count, len(value))
        return
    elif ctype.kind == "primitive" and ctype.cname in ("size_t", "uint64_t", "int", "unsigned int"):
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (int, np.integer)):
            raise TypeError("%s must be an integer, not %r" % (key, value))
        if value < 0:
            raise ValueError("%s must be >= 0, got %r" % (key, value))
        value = int(value)
    elif ctype.kind == "primitive":
        value = float(value)
    try:
        setattr(c, key, value)
    except OverflowError:
        raise ValueError("%s is out of range: %r" % (key, value)) from None


def config_dict(c):
    """A struct as a dict: enums as strings, arrays as lists (trimmed to
    their ``n_`` count), pointers left out."""
    out = {}
    fields = dict(ffi.typeof(c[0]).fields)
    for key, f in fields.items():
        if key == "struct_size" or f.type.kind == "pointer":
            continue
        v = getattr(c, key)
        if f.type.kind == "enum":
            v = _enums.ENUMS[f.type.cname].name(v)
        elif f.type.kind == "array":
            n = getattr(c, "n_" + key) if ("n_" + key) in fields else f.type.length
            v = [v[i] for i in range(min(n, f.type.length))]
        out[key] = v
    return out


class Handle:
    """Base of every class owning a C handle: freed on collection (ffi.gc),
    by close() and at the end of a ``with`` block."""

    _h = None

    def _own(self, ptr, free):
        self._h = ffi.gc(ptr, free)

    def close(self):
        """Free the C handle now (the object can no longer be used)."""
        h = self._h
        if h is not None:
            self._h = None
            ffi.release(h)

    @property
    def closed(self):
        """True after close()."""
        return self._h is None

    def _handle(self):
        h = self._h
        if h is None:
            raise closed(self)
        return h

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def allocator_ptr(allocator):
    """An ``rp_allocator *`` for the ``_alloc`` calls: None (malloc/free),
    an Allocator, or a cdata ``rp_allocator *``."""
    if allocator is None:
        return NULL
    ptr = getattr(allocator, "_ptr", allocator)
    if not isinstance(ptr, ffi.CData) or ffi.typeof(ptr) is not ffi.typeof("rp_allocator *"):
        raise TypeError("allocator must be an rnnplast.Allocator or an rp_allocator * cdata")
    return ptr


def param_value(which):
    """The rp_param value of "W", "U", "b", "V" or "c"."""
    return _enums.param.value(which, "parameter")




def since(get, version):
    """The C function ``get()`` returns (``lambda: lib.rp_...``), or
    UnsupportedError when the declarations or the loaded library predate
    librnnplast ``version`` (the package may run against an older 1.x)."""
    try:
        return get()
    except AttributeError as e:
        raise UnsupportedError("%s: needs librnnplast >= %s (loaded: %s)"
                               % (e, version, ffi.string(lib.rp_version_string()).decode()),
                               "RP_ERR_UNSUPPORTED", -1) from None
