#!/bin/sh
# Do the study's published rows come out of HEAD?  (issue 14: "a CI-sized
# check confirms a sample of rows")
#
#   sh tests/study_rows.sh build/rnnplast docs/figures/study [ROWS_PER_CSV]
#
# For every sweep CSV of scripts/study.sh in the folder, reruns ROWS_PER_CSV
# (default 3) of its seed-1 rows — the first, the last and the middle
# configuration in the file's order — with the command recorded in the CSV's
# `# command:` line, narrowed by --gains/--rules/--floss/--seeds 1 (a run's
# result depends only on its configuration and seed, not on the sweep around
# it), and requires the rerun row to equal the published one field for field.
# CSVs of more than 2 minutes a row (n128, long) are skipped, saying so.
set -eu
BIN=${1:?usage: study_rows.sh path/to/rnnplast DIR [ROWS_PER_CSV]}
DIR=${2:?usage: study_rows.sh path/to/rnnplast DIR [ROWS_PER_CSV]}
PER=${3:-3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
for csv in "$DIR"/*.csv; do
    name=$(basename "$csv" .csv)
    case $name in
    n128 | long)
        echo "skip $name (its rows take minutes each; scripts/study.sh reruns it)"
        continue ;;
    esac
    cmd=$(sed -n 's/^# command: //p' "$csv" | head -n 1)
    [ -n "$cmd" ] || { echo "FAIL $name: no '# command:' line"; fail=$((fail + 1)); continue; }
    # the data rows of seed 1, in file order; pick first, last and evenly between
    grep -v '^#' "$csv" | awk -F, 'NR > 1 && $4 == 1' > "$TMP/seed1"
    n=$(wc -l < "$TMP/seed1")
    [ "$n" -gt 0 ] || { echo "FAIL $name: no seed-1 rows"; fail=$((fail + 1)); continue; }
    awk -v n="$n" -v k="$PER" 'BEGIN { for (i = 0; i < k; i++) pick[(k > 1) ? 1 + int(i * (n - 1) / (k - 1)) : 1] = 1 }
                               pick[NR]' "$TMP/seed1" > "$TMP/pick"
    # a sweep with --lrs has an lr column (the last): narrow by it too
    axes=0
    grep -v '^#' "$csv" | head -n 1 | grep -q ',lr$' && axes=1
    while IFS=, read -r rule gain floss rest; do
        lr=
        [ $axes -eq 1 ] && lr="--lrs ${rest##*,}"
        # shellcheck disable=SC2086  # the recorded command is the study's own, shell-quoted by the tool
        eval "set -- $cmd"
        shift 2 # the binary and "sweep"
        rm -rf "$TMP/out.csv" "$TMP/curves"
        if ! "$BIN" sweep "$@" --out "$TMP/out.csv" --curves "$TMP/curves" --jobs 1 --quiet \
            --gains "$gain" --rules "$rule" --floss "$floss" --seeds 1 $lr > /dev/null 2> "$TMP/err"; then
            echo "FAIL $name $rule g=$gain floss=$floss: the rerun failed: $(cat "$TMP/err")"
            fail=$((fail + 1))
            continue
        fi
        want="$rule,$gain,$floss,$rest"
        got=$(grep -v '^#' "$TMP/out.csv" | sed -n 2p)
        if [ "$got" = "$want" ]; then
            pass=$((pass + 1))
        else
            printf 'FAIL %s %s g=%s floss=%s seed 1:\n  published %s\n  HEAD      %s\n' "$name" "$rule" "$gain" \
                "$floss" "$want" "$got"
            fail=$((fail + 1))
        fi
    done < "$TMP/pick"
done
echo "study_rows: $pass rows reproduced, $fail differ"
[ "$pass" -gt 0 ] && [ "$fail" -eq 0 ]
