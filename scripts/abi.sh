#!/bin/sh
# The ABI guard of librnnplast (abigail-tools).
#   abi.sh dump  LIB OUT        write LIB's ABI (public header types only) to OUT
#   abi.sh check LIB BASELINE   compare LIB with BASELINE; exit 0 when every
#                               difference is an addition, 1 otherwise
# Policy (docs/CHANGES.md): within one major version calls, enumerators and
# config-struct tails may be added; nothing may be removed or changed.
# abidiff sets bit 8 of its status only for removed symbols; bit 4 means "a
# human must review" (a changed parameter type sets only bit 4).  This script is
# that reviewer: any removed or changed function or variable fails, as does an
# added symbol that carries the baseline's version node instead of a new one.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
headers="$top/include"
supp="$top/abi/suppressions.abignore"
node=RNNPLAST_1.0 # the version node of the baseline (librnnplast.map)

dump() {
    abidw --headers-dir "$headers" --drop-private-types --exported-interfaces-only \
        --no-corpus-path --no-comp-dir-path --no-show-locs --type-id-style hash \
        --out-file "$2" "$1"
}

case "${1:-}" in
dump)
    [ $# -eq 3 ] || { echo "usage: abi.sh dump LIB OUT" >&2; exit 2; }
    dump "$2" "$3" || { echo "abi: abidw failed on $2" >&2; exit 1; }
    ;;
check)
    [ $# -eq 3 ] || { echo "usage: abi.sh check LIB BASELINE" >&2; exit 2; }
    lib=$2 base=$3
    [ -f "$base" ] || { echo "abi: no baseline $base (make abi-baseline writes it)" >&2; exit 1; }
    # Both sides are dumps made the same way: abidiff between the baseline XML
    # and the ELF file itself (--headers-dir2) missed a config struct that grew.
    dir=$(dirname "$lib")/abi
    mkdir -p "$dir"
    cur=$dir/current.abi report=$dir/abidiff.txt
    dump "$lib" "$cur" || { echo "abi: abidw failed on $lib" >&2; exit 1; }
    abidiff --suppressions "$supp" "$base" "$cur" > "$report" 2>&1
    rc=$?
    # The summary lines: "Functions changes summary: R Removed, C Changed
    # (F filtered out), A Added functions", the same for variables, and
    # "... symbols changes summary: R Removed, A Added ... symbols not referenced by debug info".
    bad=$(sed -n -e 's/.*changes summary: \([0-9]*\) Removed.*, \([0-9]*\) Changed.*/\1 \2/p' \
                 -e 's/.*symbols changes summary: \([0-9]*\) Removed.*/\1 0/p' "$report" |
          awk '{ n += $1 + $2 } END { print n + 0 }')
    # Added symbols must carry a newer node than the baseline's.
    old_node=$(grep -E "^ *\[A\] .*@@?$node\b" "$report" || true)
    verdict=
    if [ $((rc & 3)) -ne 0 ]; then
        verdict="abidiff failed (status $rc)"
    elif [ $((rc & 8)) -ne 0 ]; then
        verdict="INCOMPATIBLE: a symbol of the baseline was removed (abidiff status $rc)"
    elif [ "$bad" -ne 0 ]; then
        verdict="INCOMPATIBLE: $bad function(s)/variable(s) removed or changed (abidiff status $rc)"
    elif [ -n "$old_node" ]; then
        verdict="symbols added under $node: give them a new version node in librnnplast.map"
    fi
    if [ -n "$verdict" ]; then
        cat "$report"
        echo "abi-check: $verdict; report: $report" >&2
        echo "abi-check: see docs/CHANGES.md (ABI policy); a deliberate change to the baseline is 'make abi-baseline'" >&2
        exit 1
    fi
    if [ $((rc & 4)) -ne 0 ]; then
        grep -E 'changes summary' "$report" | sed 's/^ */abi-check: /'
        echo "abi-check: ok, additions only against $(basename "$base")"
    else
        echo "abi-check: ok, ABI identical to $(basename "$base")"
    fi
    ;;
*)
    echo "usage: abi.sh dump LIB OUT | abi.sh check LIB BASELINE" >&2
    exit 2
    ;;
esac
