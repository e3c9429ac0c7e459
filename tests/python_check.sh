#!/bin/sh
# The Python package's tests (python/tests, pytest) against a build tree.
#   sh tests/python_check.sh BUILD_DIR [pytest args...]
# `make check` runs them without the simulator tests; `make check-embed` runs
# them all.  Debian's /usr/bin/python3 with numpy, cffi and pytest is needed:
# without it, or for a sanitized library (make check-asan: its runtime would
# have to be loaded before Python's), it says what it skipped and succeeds.
set -eu
b=$1
shift
if ! /usr/bin/python3 -c 'import numpy, cffi, pytest' 2> /dev/null; then
    echo "python: skipped (no /usr/bin/python3 with numpy, cffi and pytest: apt-get install python3-numpy python3-cffi python3-pytest)"
    exit 0
fi
if nm -D --undefined-only "$b"/librnnplast.so 2> /dev/null | grep -q '__[at]san_\|__ubsan_'; then
    echo "python: skipped (sanitized library: Python cannot load it)"
    exit 0
fi
# No byte code or pytest cache is written into the source tree.
PYTHONPATH="$b/python" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests "$@"
