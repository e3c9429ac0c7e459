#!/bin/sh
# Install the Debian packages one job needs, if any is missing.
#   sh scripts/install-deps.sh [PROFILE...]      (default: demo)
# Each Makefile target asks for its own profile, so `make demo` on a fresh
# machine installs the compiler, OpenBLAS, LAPACKE, SLEEF, zlib and gnuplot and
# nothing else.  `sh scripts/install-deps.sh --list` shows every profile.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -eu

BUILD="gcc make pkg-config libopenblas-dev liblapacke-dev libsleef-dev zlib1g-dev"
CLANG="clang libclang-rt-14-dev"
PY="python3-numpy python3-cffi python3-pytest"   # Debian's /usr/bin/python3 and its packages

pkgs_of() {
    case "$1" in
    build)    echo "$BUILD" ;;                                   # make, make install, examples, tool
    demo)     echo "$BUILD gnuplot-nox" ;;                       # make demo: a sweep and its figures
    check)    echo "$BUILD check $PY gnuplot-nox cmake groff-base" ;; # make check: suites, tool tests, install smoke (pkg-config, CMake, Python), man page, cffi cdef, the Python package's tests
    lint)     echo "$BUILD clang-format python3-pyflakes" ;;     # make lint: format, no malloc in src/, no mutual file dependencies, pyflakes
    install)  echo "$BUILD cmake groff-base" ;;                  # make check-install: programs built against the installed library
    python)   echo "$BUILD $PY" ;;                               # make python: the Python package (cffi, numpy; pytest for its tests)
    embed)    echo "$BUILD $PY python3-brian neuron neuron-dev python3-neuron" ;; # make check-embed: the Python package, NEURON and Brian2
    asan|tsan) echo "$(pkgs_of check) $CLANG" ;;                 # make check-asan, make check-tsan
    valgrind) echo "$(pkgs_of check) valgrind" ;;                # make check-valgrind
    fuzz)     echo "$BUILD $CLANG" ;;                            # make fuzz
    coverage) echo "$(pkgs_of check) lcov" ;;                    # make coverage
    mpi)      echo "$BUILD openmpi-bin libopenmpi-dev" ;;         # make mpi, make check-mpi
    abi)      echo "$BUILD abigail-tools" ;;                     # make abi-check, make abi-baseline
    docs)     echo "doxygen" ;;                                  # make docs
    bench)    echo "$BUILD" ;;                                   # make bench
    all)      for p in $PROFILES; do pkgs_of "$p"; done ;;      # every job (make deps)
    *)        return 1 ;;
    esac
}
PROFILES="build demo check lint install python embed asan tsan valgrind fuzz coverage mpi abi docs bench"

if [ "${1:-}" = "--list" ]; then
    for p in $PROFILES; do printf '%-9s %s\n' "$p" "$(pkgs_of "$p" | tr ' ' '\n' | sort -u | tr '\n' ' ')"; done
    exit 0
fi

want=""
for prof in "${@:-demo}"; do
    list=$(pkgs_of "$prof") || { echo "install-deps: unknown profile '$prof' (profiles: $PROFILES all)" >&2; exit 2; }
    want="$want $list"
done
missing=""
for p in $(echo "$want" | tr ' ' '\n' | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps ($*): installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
        echo "install-deps: apt-get failed" >&2; exit 1; }
else
    echo "install-deps: missing packages:$missing" >&2
    echo "run as root:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
