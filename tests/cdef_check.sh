#!/bin/sh
# The declaration file for foreign-function tools (rnnplast.h, RP_CDEF):
# Python's cffi parses it (cdef), every function it declares resolves in the
# shared library, every rp_ symbol the library exports is declared, and a
# few calls work through it.  Runs with Debian's /usr/bin/python3 and its
# cffi (python3-cffi); without them it says it skipped.
# Usage: tests/cdef_check.sh build/rnnplast_cdef.h build/librnnplast.so.X.Y.Z
set -eu
cdef=$1
lib=$2
if ! /usr/bin/python3 -c 'import cffi' 2> /dev/null; then
    echo "cdef: skipped (no /usr/bin/python3 with cffi: apt-get install python3-cffi)"
    exit 0
fi
syms=$(nm -D --defined-only "$lib" | awk '$3 ~ /^rp_/ {print $3}' | sed 's/@.*//' | sort -u)
# A sanitized build (make check-asan) needs its runtime loaded first, which
# Python's is not: then the file is parsed and compared with the exports
# only, without loading the library.
sanitized=0
nm -D --undefined-only "$lib" | grep -q '__[at]san_\|__ubsan_' && sanitized=1
/usr/bin/python3 - "$cdef" "$lib" "$sanitized" $syms << 'PY'
import sys, cffi
cdef_path, lib_path, sanitized, exported = sys.argv[1], sys.argv[2], sys.argv[3] == "1", set(sys.argv[4:])
ffi = cffi.FFI()
ffi.cdef(open(cdef_path).read())
declared = {k.split(' ', 1)[1] for k in ffi._parser._declarations if k.startswith('function ')}
missing = sorted(exported - declared)
assert not missing, "exported but not declared: %s" % missing
if sanitized:
    absent = sorted(declared - exported)
    assert not absent, "declared but not exported: %s" % absent
    print("cdef: %d functions declared, %d exported (sanitized library: not loaded)" % (len(declared), len(exported)))
    sys.exit(0)
lib = ffi.dlopen(lib_path)
for name in sorted(declared):
    getattr(lib, name)  # raises if the symbol is missing
assert lib.rp_version_number() == lib.RP_VERSION_MAJOR * 10000 + lib.RP_VERSION_MINOR * 100 + lib.RP_VERSION_PATCH
assert ffi.string(lib.rp_status_string(lib.RP_ERR_STATE)) == b"call out of sequence"
task = ffi.new("rp_task **")
msg = ffi.new("char[128]")
assert lib.rp_task_create(task, lib.RP_TASK_COPY, ffi.NULL, msg, 128) == lib.RP_OK
n_in, n_out, T = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
assert lib.rp_task_get_dims(task[0], n_in, n_out, T, ffi.NULL) == lib.RP_OK
assert (n_in[0], n_out[0]) == (1, 1) and T[0] > 0
assert lib.rp_task_create(task + 0, 99, ffi.NULL, msg, 128) == lib.RP_ERR_INVALID_ARG
assert b"99" in ffi.string(msg), ffi.string(msg)
print("cdef: %d functions declared and resolved, %d exported" % (len(declared), len(exported)))
PY
