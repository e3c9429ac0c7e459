#!/bin/sh
# Configuration structs across versions (rnnplast.h, "Configuration structs
# grow"): builds a "later" library whose five configuration structs end with
# one more field (-DRP_TEST_GROWN) and runs tests/config_abi.c, built against
# the header of the tree, three ways:
#   an old caller (plain header) with the later library,
#   a new caller (grown header) with the plain library (given as $1),
#   a new caller with the later library.
# CC, CFLAGS, LDFLAGS, DEP_CFLAGS and DEP_LIBS come from make (so that
# check-asan runs this under the sanitizers too); -O0 keeps the extra build short.
set -eu
lib=$1
cc=${CC:-cc}
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror ${CFLAGS:-} -O0 -Iinclude ${DEP_CFLAGS:-}"
libs="${LDFLAGS:-} ${DEP_LIBS:--lopenblas -llapacke -lsleef -lz -lm}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in src/*.c; do
    $cc $flags -DRP_TEST_GROWN -fvisibility=hidden -c "$f" -o "$tmp/$(basename "$f" .c).o"
done
ar rcs "$tmp/libgrown.a" "$tmp"/*.o
# shellcheck disable=SC2086
$cc $flags -DLIB_GROWN=1 tests/config_abi.c -o "$tmp/old_caller" "$tmp/libgrown.a" $libs
$cc $flags -DLIB_GROWN=0 -DRP_TEST_GROWN tests/config_abi.c -o "$tmp/new_caller" "$lib" $libs
$cc $flags -DLIB_GROWN=1 -DRP_TEST_GROWN tests/config_abi.c -o "$tmp/new_both" "$tmp/libgrown.a" $libs
fail=0
for p in old_caller new_caller new_both; do
    OPENBLAS_NUM_THREADS=1 "$tmp/$p" || fail=1
done
exit $fail
