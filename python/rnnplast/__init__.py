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
from .alloc import Allocator, CountingAllocator
from .files import Checkpoint, checkpoint_load, checkpoint_save, npy_load, npy_save, npy_shape
from .floss import Floss, FlossSchedule
from .grad import Grad
from .init import Init
from .lyap import Lyapunov
from .net import Net
from .optim import Optim
from .rule import Rule, Stream
from .rule import kind_name as rule_kind_name
from .task import Task
from .task import kind_name as task_kind_name

__version__ = ffi.string(lib.rp_version_string()).decode()


def version_number():
    """rp_version_number: MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    return lib.rp_version_number()


enum_names = _enums.names

__all__ = [
    "Net", "Init", "Grad", "Rule", "Stream", "Optim", "Task", "Lyapunov", "Floss",
    "FlossSchedule", "Checkpoint", "checkpoint_save", "checkpoint_load", "npy_save", "npy_load",
    "npy_shape", "Allocator", "CountingAllocator", "rule_kind_name", "task_kind_name",
    "Error", "ClosedError", "NoMemoryError", "InvalidArgumentError", "DimensionError",
    "NonFiniteError", "LapackError", "FileError", "FormatError", "UnsupportedError",
    "StateError", "DivergedError", "status_string", "version_number", "enum_names",
    "ffi", "lib", "library_path", "__version__",
]
