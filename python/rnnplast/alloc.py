"""Allocator: a caller-supplied rp_allocator for the ``_alloc`` calls."""

import cffi

from ._lib import ffi

_libc_ffi = cffi.FFI()
_libc_ffi.cdef("void *malloc(size_t size); void free(void *ptr);")
_libc = _libc_ffi.dlopen(None)


class Allocator:
    """An rp_allocator whose functions are Python callables: ``alloc(size)``
    returns an address (int, 0 on failure) of ``size`` bytes aligned as
    malloc's; ``free(address)`` releases it.  Pass it as ``allocator=`` to
    Net, Net.load, Init, Task, checkpoint_load; every handle made from such
    a net allocates through it.  The handles keep it alive.  Called with the
    GIL held (cffi callbacks), so it slows the calls that allocate."""

    def __init__(self, alloc, free):
        self._alloc_fn, self._free_fn = alloc, free

        @ffi.callback("void *(*)(void *, size_t)")
        def _alloc(opaque, size):
            return ffi.cast("void *", self._alloc_fn(size) or 0)

        @ffi.callback("void (*)(void *, void *)")
        def _free(opaque, ptr):
            self._free_fn(int(ffi.cast("uintptr_t", ptr)))

        self._cb = (_alloc, _free)
        self._ptr = ffi.new("rp_allocator *")
        self._ptr.alloc = _alloc
        self._ptr.free = _free
        self._ptr.opaque = ffi.NULL


class CountingAllocator(Allocator):
    """The C library's malloc/free, counting: ``live`` blocks not yet freed,
    ``allocs`` and ``frees`` so far, ``fail_after`` (if set) makes every
    allocation after that many fail (to test RP_ERR_NOMEM)."""

    def __init__(self, fail_after=None):
        self.live = self.allocs = self.frees = 0
        self.fail_after = fail_after
        super().__init__(self._malloc, self._release)

    def _malloc(self, size):
        if self.fail_after is not None and self.allocs >= self.fail_after:
            return 0
        p = _libc.malloc(size)
        if p == _libc_ffi.NULL:
            return 0
        self.allocs += 1
        self.live += 1
        return int(_libc_ffi.cast("uintptr_t", p))

    def _release(self, address):
        self.frees += 1
        self.live -= 1
        _libc.free(_libc_ffi.cast("void *", address))
