#!/bin/sh
# Install into a temporary prefix, build a program outside the tree with
# pkg-config (shared and --static) and a CMake project with find_package
# (tests/cmake: shared and static targets), run them, check the exported
# symbols and their version node, the soname, the man page against the
# installed tool's --help, and that uninstall removes every file.
set -eu
# A plain build: not the sanitizer flags of a calling make (check-asan).
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS LDFLAGS CC B
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s -C "$top" install PREFIX="$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cat > "$tmp/prog.c" <<'C'
#include <rnnplast.h>
#include <stdio.h>
int main(void)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    rp_net *net = NULL;
    rp_status st = rp_net_create(&net, &cfg, NULL, 0);
    if (st == RP_OK)
        st = rp_net_step(net, (double[]){0.5}, NULL);
    printf("librnnplast %s: %s\n", rp_version_string(), rp_status_string(st));
    rp_net_free(net);
    return st == RP_OK && rp_version_number() == RP_VERSION_NUMBER ? 0 : 1;
}
C
cc "$tmp/prog.c" $(pkg-config --cflags --libs rnnplast) -o "$tmp/prog_shared"
cc "$tmp/prog.c" $(pkg-config --static --cflags --libs rnnplast) -o "$tmp/prog_static"
"$tmp/prog_shared" >/dev/null
"$tmp/prog_static" >/dev/null
bad=$(nm -D --defined-only "$tmp/prefix/lib/librnnplast.so" | awk '$2 != "A" {print $3}' | grep -v '^rp_' || true)
[ -z "$bad" ] || { echo "install_smoke: non-rp_ exported symbols: $bad" >&2; exit 1; }
fail() { echo "install_smoke: $*" >&2; exit 1; }
major=$(sed -n 's/^#define RP_VERSION_MAJOR \([0-9]*\).*/\1/p' "$top/include/rnnplast.h")
objdump -p "$tmp/prefix/lib/librnnplast.so" | grep -q "SONAME *librnnplast\.so\.$major\$" ||
    fail "soname is not librnnplast.so.$major"
# Every exported symbol carries a version node of this major (librnnplast.map).
nodes=$(objdump -T "$tmp/prefix/lib/librnnplast.so" | awk '$NF ~ /^rp_/ {print $(NF-1)}' | sort -u)
[ -n "$nodes" ] && ! printf '%s\n' "$nodes" | grep -qv "^RNNPLAST_$major\." ||
    fail "exported symbols outside the RNNPLAST_$major.x nodes: $nodes"

# CMake: find_package(rnnplast 1.0 REQUIRED) and rnnplast::rnnplast(_static).
if command -v cmake > /dev/null 2>&1; then
    cm() { # build-dir, extra cmake args
        d=$1
        shift
        cmake -S "$top/tests/cmake" -B "$tmp/$d" -DCMAKE_PREFIX_PATH="$tmp/prefix" "$@" > "$tmp/$d.log" 2>&1
    }
    cm cmake || { cat "$tmp/cmake.log"; fail "cmake could not configure tests/cmake"; }
    cmake --build "$tmp/cmake" > "$tmp/cmake-build.log" 2>&1 || { cat "$tmp/cmake-build.log"; fail "cmake build failed"; }
    "$tmp/cmake/app_shared" > /dev/null || fail "CMake-built app_shared failed"
    "$tmp/cmake/app_static" > /dev/null || fail "CMake-built app_static failed"
    ldd "$tmp/cmake/app_shared" | grep -q "librnnplast\.so\.$major => $tmp/prefix/lib/" ||
        fail "app_shared does not load the installed librnnplast.so.$major"
    ! ldd "$tmp/cmake/app_static" | grep -q librnnplast || fail "app_static loads librnnplast.so"
    # Another major is refused (same major = compatible; nothing else).
    ! cm cmake2 -DRP_FIND_VERSION=$((major + 1)).0 || fail "find_package($((major + 1)).0) accepted $major.x"
    cmake_note="CMake find_package (shared and static)"
else
    echo "install_smoke: cmake not found (make deps-check installs it); CMake package not tested" >&2
    cmake_note="no cmake"
fi

# The man page lists every subcommand and flag of the installed tool.
page="$tmp/prefix/share/man/man1/rnnplast.1"
[ -f "$page" ] || fail "rnnplast.1 not installed"
if command -v groff > /dev/null 2>&1; then
    groff -man -Tascii -ww -P-cbou "$page" > "$tmp/man.txt" 2> "$tmp/man.warn" || fail "groff failed on rnnplast.1"
    [ ! -s "$tmp/man.warn" ] || { cat "$tmp/man.warn"; fail "groff warns about rnnplast.1"; }
    tool="$tmp/prefix/bin/rnnplast"
    nflags=0
    for c in $("$tool" --help | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p'); do
        grep -q "^RNNPLAST $(printf '%s' "$c" | tr a-z A-Z)\$" "$tmp/man.txt" || fail "rnnplast.1 lacks the subcommand $c"
        # the flags of this subcommand's section, in order, equal its --help
        sed -n "/^RNNPLAST $(printf '%s' "$c" | tr a-z A-Z)\$/,/^[A-Z]/p" "$tmp/man.txt" |
            sed -n 's/^  *\(--[a-zA-Z0-9-]*\).*/\1/p' | awk 'length($0) > 2 && !seen[$0]++' > "$tmp/man.flags"
        "$tool" "$c" --help | sed -n 's/^  \(--[a-zA-Z0-9-]*\) .*/\1/p' > "$tmp/help.flags"
        # man.flags may hold flags quoted in the text: every --help flag must appear as an entry
        while read -r f; do
            grep -qx -- "$f" "$tmp/man.flags" || fail "rnnplast.1 lacks $c $f"
            nflags=$((nflags + 1))
        done < "$tmp/help.flags"
    done
    man_note="man page: $nflags flags"
else
    man_note="man page installed (no groff to check it)"
fi
# The Python package: Debian's /usr/bin/python3 imports it from the installed
# tree, and it loads the installed library (the path make install wrote, with
# no DESTDIR in it); importing writes __pycache__, which uninstall removes.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import cffi, numpy' 2> /dev/null; then
    pyver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    pydir="$tmp/prefix/lib/python$pyver/dist-packages"
    [ -f "$pydir/rnnplast/__init__.py" ] || fail "the Python package is not in $pydir"
    env -u RNNPLAST_LIBRARY PYTHONPATH="$pydir" /usr/bin/python3 - "$pydir" "$tmp/prefix/lib/librnnplast.so.$major" << 'PY' ||
import os, sys
import numpy as np
import rnnplast as rp
pydir, libpath = sys.argv[1], sys.argv[2]
assert os.path.dirname(os.path.dirname(os.path.abspath(rp.__file__))) == os.path.abspath(pydir), rp.__file__
assert rp.library_path == libpath, rp.library_path
assert rp.version_number() == rp.lib.RP_VERSION_MAJOR * 10000 + rp.lib.RP_VERSION_MINOR * 100 + rp.lib.RP_VERSION_PATCH
net = rp.Net(n_in=1, n_rec=4, n_out=1)
assert net.step(np.ones((1, 1))).shape == (1, 1)
PY
        fail "the installed Python package does not import or run under /usr/bin/python3"
    # DESTDIR stages the files; the package still names the final library path.
    make -s -C "$top" install PREFIX=/usr DESTDIR="$tmp/dest" > /dev/null
    grep -qx "LIBRARY = \"/usr/lib/librnnplast.so.$major\"" "$tmp/dest/usr/lib/python3/dist-packages/rnnplast/_paths.py" ||
        fail "with PREFIX=/usr DESTDIR=..., _paths.py does not name /usr/lib/librnnplast.so.$major"
    make -s -C "$top" uninstall PREFIX=/usr DESTDIR="$tmp/dest" > /dev/null
    left=$(find "$tmp/dest" -type f | wc -l)
    [ "$left" -eq 0 ] || fail "uninstall with DESTDIR left $left files"
    py_note="Python package imported by /usr/bin/python3"
else
    echo "install_smoke: /usr/bin/python3 with cffi and numpy not found (apt-get install python3-cffi python3-numpy); Python package not tested" >&2
    py_note="no Python"
fi
make -s -C "$top" uninstall PREFIX="$tmp/prefix" >/dev/null
left=$(find "$tmp/prefix" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "install_smoke: uninstall left $left files" >&2; exit 1; }
echo "install: ok (pkg-config shared and static, $cmake_note, soname librnnplast.so.$major, only rp_ symbols exported, $man_note, $py_note)"
