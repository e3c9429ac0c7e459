"""Loading: the cffi declarations (``_cdef.h``) and the shared library.

ABI mode: ``_cdef.h`` is build/rnnplast_cdef.h, generated from rnnplast.h by
``make lib`` (``cc -E -P -DRP_CDEF``), so it cannot drift from the library;
nothing is compiled at install or import time.  The library is the one named
by the environment variable ``RNNPLAST_LIBRARY`` if set, else the path that
``make python`` / ``make install`` wrote into ``_paths.py``.
"""

import os
import re

import cffi

_here = os.path.dirname(os.path.abspath(__file__))

ffi = cffi.FFI()
with open(os.path.join(_here, "_cdef.h")) as _f:
    _cdef = _f.read()
ffi.cdef(_cdef)
_major = re.search(r"^#define RP_VERSION_MAJOR (\d+)", _cdef, re.M).group(1)


def _library_path():
    env = os.environ.get("RNNPLAST_LIBRARY")
    if env:
        return env
    try:
        from ._paths import LIBRARY
    except ImportError:  # a source tree without `make python`
        return "librnnplast.so." + _major  # the system's loader path
    return LIBRARY


library_path = _library_path()
lib = ffi.dlopen(library_path)

NULL = ffi.NULL
