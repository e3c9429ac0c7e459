#!/bin/sh
# Install the Debian packages librnnplast needs, if any is missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
PKGS="gcc make pkg-config libopenblas-dev liblapacke-dev check zlib1g-dev doxygen gnuplot-nox valgrind clang python3-numpy libclang-rt-14-dev lcov openmpi-bin libopenmpi-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
        echo "install-deps: apt-get failed" >&2; exit 1; }
else
    echo "install-deps: missing packages:$missing" >&2
    echo "run as root:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
