"""Exceptions: one class per rp_status (rnnplast.h's status table)."""

from ._lib import ffi, lib


class Error(Exception):
    """A non-OK rp_status.  ``status`` is the C constant's name (e.g.
    ``"RP_ERR_NONFINITE"``), ``code`` its value, ``message`` the library's
    detail (the handle's rp_X_last_error() or the constructor's msg)."""

    def __init__(self, message, status="RP_ERR_UNKNOWN", code=-1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class ClosedError(Error, ValueError):
    """A method was called on an object after close()."""


class NoMemoryError(Error):
    """RP_ERR_NOMEM: an allocation failed."""


class InvalidArgumentError(Error):
    """RP_ERR_INVALID_ARG: a value out of range."""


class DimensionError(Error):
    """RP_ERR_DIM_MISMATCH: an array or handle of other dimensions."""


class NonFiniteError(Error):
    """RP_ERR_NONFINITE: NaN or Inf in an input, a state or a result."""


class LapackError(Error):
    """RP_ERR_LAPACK: a LAPACK routine failed."""


class FileError(Error):
    """RP_ERR_IO: a file could not be read or written."""


class FormatError(Error):
    """RP_ERR_FORMAT: a file is malformed or unsupported."""


class UnsupportedError(Error):
    """RP_ERR_UNSUPPORTED: valid, but not available for this configuration."""


class StateError(Error):
    """RP_ERR_STATE: call out of sequence."""


class DivergedError(Error):
    """RP_ERR_DIVERGED: a state beyond Net.set_state_bound()."""


_BY_NAME = {
    "RP_ERR_NOMEM": NoMemoryError,
    "RP_ERR_INVALID_ARG": InvalidArgumentError,
    "RP_ERR_DIM_MISMATCH": DimensionError,
    "RP_ERR_NONFINITE": NonFiniteError,
    "RP_ERR_LAPACK": LapackError,
    "RP_ERR_IO": FileError,
    "RP_ERR_FORMAT": FormatError,
    "RP_ERR_UNSUPPORTED": UnsupportedError,
    "RP_ERR_STATE": StateError,
    "RP_ERR_DIVERGED": DivergedError,
}

# The status names come from the cdef's enum, so a status added to the C
# table is named here without a change (it raises the base class Error).
_STATUS_NAMES = dict(ffi.typeof("rp_status").elements)


def status_string(code):
    """rp_status_string(): the C library's text for a status code."""
    return ffi.string(lib.rp_status_string(code)).decode()


def error(code, message):
    """The exception for status ``code`` with ``message`` (bytes, str or a
    ``char *`` cdata); an empty message falls back to rp_status_string()."""
    if isinstance(message, ffi.CData):
        message = ffi.string(message) if message != ffi.NULL else b""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    if not message:
        message = status_string(code)
    name = _STATUS_NAMES.get(code, "RP_STATUS_%d" % code)
    return _BY_NAME.get(name, Error)(message, name, code)


def closed(obj):
    """The exception raised when ``obj`` is used after close()."""
    return ClosedError("this %s was closed" % type(obj).__name__, "RP_CLOSED", -1)
