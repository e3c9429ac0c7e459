"""rnnplast: Python bindings of librnnplast (recurrent networks trained by
biologically plausible, local learning rules).

A thin layer over the C library through cffi (ABI mode, over the
declarations generated from rnnplast.h at build time): one class per
handle, enums as strings, float64 arrays with shapes, exceptions carrying
the status and the library's message.  Every C call releases the GIL (cffi
does so around each foreign call), so long runs and trials let other Python
threads run.  See PYTHON.md and rnnplast.h for the contract.
"""

from . import _enums
from ._errors import (ClosedError, DimensionError, DivergedError, Error, FileError, FormatError,
                      InvalidArgumentError, LapackError, NoMemoryError, NonFiniteError,
                      StateError, UnsupportedError, status_string)
from ._lib import ffi, lib, library_path
from .grad import Grad
from .init import Init
from .net import Net
from .optim import Optim
from .rule import Rule, Stream
from .task import Task

__version__ = ffi.string(lib.rp_version_string()).decode()


def version_number():
    """rp_version_number: MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    return lib.rp_version_number()


enum_names = _enums.names

__all__ = [
    "Net", "Init", "Grad", "Rule", "Stream", "Optim", "Task",
    "Error", "ClosedError", "NoMemoryError", "InvalidArgumentError", "DimensionError",
    "NonFiniteError", "LapackError", "FileError", "FormatError", "UnsupportedError",
    "StateError", "DivergedError", "status_string", "version_number", "enum_names",
    "ffi", "lib", "library_path", "__version__",
]
