#!/bin/sh
# Which files of src/ and of tools/ call functions (or use data) defined in
# which other files of the same directory, from the symbols of each file's
# object: a file depends on another when one of its undefined symbols is
# defined there.  Prints "a.c -> b.c" lines, then every mutual pair and any
# longer cycle; then checks that every header of src/ and tools/ compiles
# alone and included twice.  Exits 1 on any failure.  Usage: scripts/filedeps.sh
set -eu
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(pkg-config --cflags openblas lapacke 2>/dev/null || true)"
status=0
for dir in src tools; do
    mkdir -p "$T/$dir"
    for f in $dir/*.c; do
        ${CC:-cc} $CFLAGS -c "$f" -o "$T/$dir/$(basename "$f" .c).o"
    done
    # symbol -> defining file
    for o in "$T/$dir"/*.o; do
        nm --defined-only "$o" | awk -v f="$(basename "$o" .o).c" '$2 ~ /^[TDBR]$/ {print $3, f}'
    done | sort >"$T/$dir.def"
    for o in "$T/$dir"/*.o; do
        me=$(basename "$o" .o).c
        nm --undefined-only "$o" | awk '{print $2}' | sort -u |
            join - "$T/$dir.def" | awk -v me="$me" '$2 != me {print me " -> " $2}'
    done | sort -u >"$T/$dir.edges"
    echo "== $dir/"
    cat "$T/$dir.edges"
    # any longer cycle too (tsort reports a loop)
    if ! awk '{print $1, $3}' "$T/$dir.edges" | tsort >/dev/null 2>"$T/tsort"; then
        echo "CYCLE in $dir/:"; cat "$T/tsort"; status=1
    fi
    awk '{e[$1 " " $3] = 1} END {for (k in e) {split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2]) {print "MUTUAL: " p[1] " <-> " p[2]; bad = 1}} exit bad}' "$T/$dir.edges" || status=1
done
# Every private header stands alone and can be included twice (its include
# guard covers all of it) -- except the kernel templates (src/*_kernels.h):
# one source included once per precision by the file that compiles it
# (FFTW-style), with that file's includes and type macros; they refuse to be
# included without them (#error).
for h in src/*.h tools/*.h; do
    case $h in src/*_kernels.h) continue ;; esac
    printf '#include "%s"\n#include "%s"\n' "$(basename "$h")" "$(basename "$h")" >"$T/h.c"
    if ! ${CC:-cc} $CFLAGS -I"$(dirname "$h")" -Wall -Werror -fsyntax-only "$T/h.c" 2>"$T/h.err"; then
        echo "HEADER $h: not self-contained or not guarded:"; head -3 "$T/h.err"; status=1
    fi
done
exit $status
