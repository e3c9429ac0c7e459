#!/usr/bin/env bash
# Build the RnnLearner / RnnClamp NEURON mechanisms against librnnplast.
#
#   contrib/neuron/build.sh [-o OUTDIR] [-r RNNPLAST]
#
#   -o OUTDIR    where to build (default $RNNPLAST_NRN_OUT, else
#                contrib/neuron/build, which .gitignore ignores); the
#                mechanism library is OUTDIR/x86_64/libnrnmech.so
#   -r RNNPLAST  use the librnnplast of a build or source tree instead of the
#                installed one (default $RNNPLAST_BUILD): a directory holding
#                librnnplast.so (itself, build/ or lib/) and rnnplast.h
#                (include/ in it or next to it).  Without it: pkg-config rnnplast.
#
# Prints the path of libnrnmech.so last; load it with
#   from neuron import h; h.nrn_load_dll(path)
#
# Debian's NEURON 8.2 packaging needs three workarounds, applied only when
# found to be needed:
#  1. nrnivmodl runs make -f $bindir/nrnmech_makefile, i.e. /usr/bin, but the
#     file is in /usr/lib/nrn: we point nrnivmodl (NRNHOME_EXEC) at a small
#     directory whose bin/nrnmech_makefile includes the real one;
#  2. that makefile links -L/usr/lib -lnrniv, but libnrniv.so is in
#     /usr/lib/nrn: the wrapper resets libdir (also the run path);
#  3. linking the `special` executable fails (nrnmain.cpp includes
#     ivstream.h, which no package ships): the wrapper makes `special` stop
#     after libnrnmech.so, which is all Python needs (h.nrn_load_dll).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${RNNPLAST_NRN_OUT:-$here/build}"
rp="${RNNPLAST_BUILD:-}"
while getopts "o:r:h" opt; do
    case "$opt" in
    o) out="$OPTARG" ;;
    r) rp="$OPTARG" ;;
    h) sed -n '2,16p' "$0"; exit 0 ;;
    *) exit 2 ;;
    esac
done
die() { echo "build.sh: $*" >&2; exit 1; }

command -v nrnivmodl >/dev/null || die "nrnivmodl not found (Debian: apt-get install neuron neuron-dev)"
CC="${CC:-cc}"

# --- librnnplast: compile and link flags --------------------------------
if [ -n "$rp" ]; then
    rp="$(cd "$rp" && pwd)" || die "no directory $rp"
    inc=""
    for d in "$rp/include" "$rp/../include"; do
        [ -f "$d/rnnplast.h" ] && { inc="$(cd "$d" && pwd)"; break; }
    done
    [ -n "$inc" ] || die "no rnnplast.h in $rp/include or $rp/../include"
    lib=""
    for d in "$rp" "$rp/build" "$rp/lib"; do
        [ -f "$d/librnnplast.so" ] && { lib="$(cd "$d" && pwd)"; break; }
    done
    [ -n "$lib" ] || die "no librnnplast.so in $rp, $rp/build or $rp/lib (run make lib)"
    rp_cflags="-I$inc"
    rp_libs="-L$lib -Wl,-rpath,$lib -lrnnplast"
else
    pkg-config --exists rnnplast 2>/dev/null ||
        die "librnnplast is not installed (pkg-config rnnplast); run make install, or pass -r BUILD_TREE"
    rp_cflags="$(pkg-config --cflags rnnplast)"
    rp_libs="$(pkg-config --libs rnnplast)"
fi

# --- sources into OUTDIR (nrnivmodl builds in the current directory) -----
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ "$out" != "$here" ] || die "OUTDIR must not be the source directory $here"
cp "$here/RnnLearner.mod" "$here/RnnClamp.mod" "$here/rnnplast_nrn.h" "$out/"
# the adapter is the only file that sees rnnplast.h; NMODL never does
# shellcheck disable=SC2086
"$CC" -std=c11 -O2 -g -fPIC -Wall -Wextra $rp_cflags -c "$here/rnnplast_nrn.c" -o "$out/rnnplast_nrn.o"

# --- nrnivmodl, with Debian's workarounds if this installation needs them --
nrnbin="$(dirname "$(command -v nrnivmodl)")"
env_fix=()
if [ ! -f "$nrnbin/nrnmech_makefile" ]; then
    mk=""
    for d in "$nrnbin/../lib/nrn" /usr/lib/nrn; do
        [ -f "$d/nrnmech_makefile" ] && { mk="$(cd "$d" && pwd)/nrnmech_makefile"; break; }
    done
    [ -n "$mk" ] || die "nrnmech_makefile is neither in $nrnbin nor in /usr/lib/nrn"
    nrnlib="$(dirname "$mk")"
    [ -f "$nrnlib/libnrniv.so" ] || die "no libnrniv.so next to $mk"
    fix="$out/.nrnfix"
    mkdir -p "$fix/bin"
    cat >"$fix/bin/nrnmech_makefile" <<MK
# written by contrib/neuron/build.sh: Debian's makefile, with libnrniv.so's
# real directory and without the special executable (ivstream.h is missing)
include $mk
libdir := $nrnlib
special: \$(mech_lib)
	@echo "build.sh: not linking special (Debian ships no ivstream.h); use h.nrn_load_dll"
MK
    # nrnivmodl takes bindir (where it looks for nrnmech_makefile) from
    # NRNHOME_EXEC; everything else comes from ROOT=/usr as before
    env_fix=(env "NRNHOME_EXEC=$fix")
fi

cd "$out"
"${env_fix[@]}" nrnivmodl -incflags "-I$out" -loadflags "$out/rnnplast_nrn.o $rp_libs" \
    RnnLearner.mod RnnClamp.mod >"$out/nrnivmodl.log" 2>&1 || {
    cat "$out/nrnivmodl.log" >&2
    die "nrnivmodl failed (log above, also in $out/nrnivmodl.log)"
}
so="$out/x86_64/libnrnmech.so"
[ -f "$so" ] || { cat "$out/nrnivmodl.log" >&2; die "nrnivmodl made no $so"; }
echo "$so"
