#!/bin/sh
# `rnnplast claims` (run by `make check`) against hand-made sweep CSVs with
# known differences, every number checked against an independent oracle
# written here in awk: the effect (mean of the seed-paired differences), the
# exact sign-flip p (all 2^n patterns enumerated by awk), Holm's adjustment of
# three p-values, claim 2's mean over matched gains, claim 1's best gain; the
# bootstrap interval on cases whose percentiles are known exactly (n = 2:
# [min, max]; differences 0, 0, 1: [0, 1]) and deterministic across runs;
# unpaired seeds dropped and counted; missing rows, duplicate runs and
# hostile CSV rows refused with exit 2 and one line naming the problem.
# Usage: sh tests/tool_claims.sh build/rnnplast
set -u
BIN=${1:?usage: tool_claims.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_claims.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_claims: FAIL: $*" >&2; fails=$((fails + 1)); }

HEAD='# rnnplast sweep: task=2af (hand-written)
rule,gain,floss,seed,ok,iters,train_loss,test_loss,test_acc,lambda_before,lambda_after,response_rate,choice_acc'
# row RULE GAIN FLOSS SEED CHOICE_ACC [LAMBDA_AFTER]
row() { printf '%s,%s,%s,%s,1,10,0.5,0.5,0.5,-0.3,%s,1,%s\n' "$1" "$2" "$3" "$4" "${6:-0.1}" "$5"; }
# rows RULE GAIN FLOSS FIRST_SEED ACC...: one row per value, seeds from FIRST_SEED on
rows() {
    r=$1 g=$2 f=$3 s=$4
    shift 4
    for v in "$@"; do row "$r" "$g" "$f" "$s" "$v"; s=$((s + 1)); done
}

# ---- the data of the generic comparisons ----------------------------------
{
    printf '%s\n' "$HEAD"
    # eprop: 6 seeds, every difference positive (exact p 2/64)
    rows eprop 1 off 1 0.9 0.8 0.85 0.7 0.95 0.6
    rows eprop 0.1 off 1 0.5 0.55 0.4 0.65 0.5 0.45
    # rflo: 5 seeds, every difference positive (exact p 2/32)
    rows rflo 1 off 1 0.7 0.6 0.75 0.8 0.9
    rows rflo 0.1 off 1 0.5 0.5 0.5 0.5 0.5
    # bptt: 5 seeds, mixed signs (p from the awk enumeration)
    rows bptt 1 off 1 0.8 0.4 0.7 0.55 0.35
    rows bptt 0.1 off 1 0.5 0.5 0.5 0.5 0.5
    # rtrl: seed 1 only at g 1, seed 6 only at g 0.1, seed 4 nan at g 1
    rows rtrl 1 off 1 0.6 0.7 0.8 nan 0.9
    rows rtrl 0.1 off 2 0.5 0.5 0.5 0.5 0.5
    # tbptt: n = 2, differences 0.1 and 0.3 (bootstrap interval [min, max])
    rows tbptt 1 off 1 0.6 0.8
    rows tbptt 0.1 off 1 0.5 0.5
    # tbptt, floss exact: differences 0, 0, 1 (bootstrap interval [0, 1])
    rows tbptt 1 exact 1 0.5 0.5 1
    rows tbptt 0.1 exact 1 0.5 0.5 0
} > "$TMP/a.csv"

C='--compare'
EP1='rule=eprop,gain=1,floss=off'
EP0='rule=eprop,gain=0.1,floss=off'

# run OUT ARGS...: rnnplast claims ARGS > OUT, expecting exit 0
run() {
    out=$1
    shift
    "$BIN" claims "$@" > "$out" 2> "$TMP/err" || bad "claims $*: exited $? ($(cat "$TMP/err"))"
}
# oracle RULE GAIN_A FLOSS_A GAIN_B FLOSS_B [FILE]: "effect p" of the seed-paired
# choice_acc differences, from the CSV itself: the mean, and the two-sided
# sign-flip p over all 2^n patterns
oracle() {
    awk -F, -v r="$1" -v ga="$2" -v fa="$3" -v gb="$4" -v fb="$5" '
        $1 == r && $2 == ga && $3 == fa { a[$4] = $13 }
        $1 == r && $2 == gb && $3 == fb { b[$4] = $13 }
        END {
            n = 0; s = 0; sa = 0
            for (k in a) if ((k in b) && a[k] != "nan" && b[k] != "nan") { d[++n] = a[k] - b[k]; s += d[n]; sa += (d[n] < 0 ? -d[n] : d[n]) }
            obs = s < 0 ? -s : s; hits = 0
            for (p = 0; p < 2 ^ n; p++) {
                t = 0; q = p
                for (i = 1; i <= n; i++) { t += (q % 2 ? -d[i] : d[i]); q = int(q / 2) }
                if ((t < 0 ? -t : t) >= obs - 1e-9 * sa) hits++
            }
            printf "%+.3f %.4g\n", s / n, hits / 2 ^ n
        }' "${6:-$TMP/a.csv}"
}
# field OUT CLAIM WHAT: effect|lo|hi|p|holm|verdict|n of "claim CLAIM" in OUT
field() {
    awk -v c="claim $2:" -v w="$3" '
        index($0, c) == 1 { on = 1
            if (w == "effect") { sub(/.* effect /, ""); sub(/ .*/, ""); print }
            if (w == "lo") { sub(/.*\[lo /, ""); sub(/,.*/, ""); print }
            if (w == "hi") { sub(/.*, hi /, ""); sub(/\].*/, ""); print }
            if (w == "verdict") { sub(/.*\] /, ""); print }
            next }
        on { on = 0
            if (w == "p") { sub(/.*; p /, ""); sub(/ .*/, ""); print }
            if (w == "holm") { sub(/.*; Holm p /, ""); sub(/ .*/, ""); print }
            if (w == "n") { sub(/^ *n /, ""); sub(/ .*/, ""); print }
            if (w == "detail") print }' "$1"
}
# check WHAT GOT WANT
check() { [ "$2" = "$3" ] && ok || bad "$1: got '$2', expected '$3'"; }

# ---- effect and exact p against the awk oracle ------------------------------
for spec in "eprop 1 off 0.1 off" "rflo 1 off 0.1 off" "bptt 1 off 0.1 off" "rtrl 1 off 0.1 off"; do
    set -- $spec
    run "$TMP/o" $C "rule=$1,gain=$2,floss=$3" "rule=$1,gain=$4,floss=$5" "$TMP/a.csv"
    want=$(oracle "$@")
    check "$1 effect" "$(field "$TMP/o" 1 effect)" "${want% *}"
    check "$1 exact p" "$(field "$TMP/o" 1 p)" "${want#* }"
done
# the hand counts: 6 and 5 positive differences give 2/64 and 2/32
check "eprop oracle p" "$(oracle eprop 1 off 0.1 off)" "+0.292 0.03125"
check "rflo oracle p" "$(oracle rflo 1 off 0.1 off)" "+0.250 0.0625"

# every claim line has the issue's form
run "$TMP/o" $C "$EP1" "$EP0" $C 'rule=tbptt,gain=1,floss=exact' 'rule=tbptt,gain=0.1,floss=exact' "$TMP/a.csv"
bad_lines=$(grep '^claim ' "$TMP/o" | grep -cvE \
    '^claim [0-9a-z]+: .+ effect [+-][0-9]\.[0-9]{3} \[lo [+-][0-9]\.[0-9]{3}, hi [+-][0-9]\.[0-9]{3}\] (holds|does not hold)$')
[ "$(grep -c '^claim ' "$TMP/o")" -eq 2 ] && [ "$bad_lines" -eq 0 ] && ok \
    || bad "claim lines not in the issue's form: $(cat "$TMP/o")"

# ---- unpaired seeds dropped and counted; nan counted ---------------------------
run "$TMP/o" $C 'rule=rtrl,gain=1,floss=off' 'rule=rtrl,gain=0.1,floss=off' "$TMP/a.csv"
check "rtrl n" "$(field "$TMP/o" 1 n)" 3
field "$TMP/o" 1 detail | grep -q 'dropped 2 unpaired seeds, 1 without a finite value' && ok \
    || bad "rtrl: unpaired/nan counts: $(field "$TMP/o" 1 detail)"

# ---- bootstrap: exact percentiles, containment, determinism ---------------------
run "$TMP/o" $C 'rule=tbptt,gain=1,floss=off' 'rule=tbptt,gain=0.1,floss=off' "$TMP/a.csv"
check "n=2 interval" "$(field "$TMP/o" 1 lo) $(field "$TMP/o" 1 hi)" "+0.100 +0.300"
run "$TMP/o" $C 'rule=tbptt,gain=1,floss=exact' 'rule=tbptt,gain=0.1,floss=exact' "$TMP/a.csv"
check "0,0,1 interval" "$(field "$TMP/o" 1 lo) $(field "$TMP/o" 1 hi)" "+0.000 +1.000"
for s in 1 7 123456789; do
    run "$TMP/b1" $C "$EP1" "$EP0" --seed $s "$TMP/a.csv"
    run "$TMP/b2" $C "$EP1" "$EP0" --seed $s "$TMP/a.csv"
    cmp -s "$TMP/b1" "$TMP/b2" && ok || bad "--seed $s: two runs differ"
    e=$(field "$TMP/b1" 1 effect) lo=$(field "$TMP/b1" 1 lo) hi=$(field "$TMP/b1" 1 hi)
    awk -v e="$e" -v l="$lo" -v h="$hi" 'BEGIN { exit !(l + 0 <= e + 0 && e + 0 <= h + 0 && l < h) }' && ok \
        || bad "--seed $s: interval [$lo, $hi] does not contain the effect $e"
done

# ---- Holm over three comparisons, by hand ------------------------------------------
run "$TMP/o" $C "$EP1" "$EP0" $C 'rule=rflo,gain=1,floss=off' 'rule=rflo,gain=0.1,floss=off' \
    $C 'rule=bptt,gain=1,floss=off' 'rule=bptt,gain=0.1,floss=off' "$TMP/a.csv"
p1=$(oracle eprop 1 off 0.1 off) p2=$(oracle rflo 1 off 0.1 off) p3=$(oracle bptt 1 off 0.1 off)
want=$(echo "${p1#* } ${p2#* } ${p3#* }" | awk '{
    m = 3; for (i = 1; i <= m; i++) { p[i] = $i; o[i] = i }
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (p[o[j]] < p[o[i]]) { t = o[i]; o[i] = o[j]; o[j] = t }
    run = 0
    for (k = 1; k <= m; k++) { a = (m - k + 1) * p[o[k]]; if (a > 1) a = 1; if (a > run) run = a; adj[o[k]] = run }
    printf "%.4g %.4g %.4g\n", adj[1], adj[2], adj[3] }')
check "Holm" "$(field "$TMP/o" 1 holm) $(field "$TMP/o" 2 holm) $(field "$TMP/o" 3 holm)" "$want"
# (and the hand computation of these three: p 1/32, 1/16 and the bptt p)
case $want in "0.09375 0.125 "*) ok ;; *) bad "Holm hand values: $want" ;; esac

# ---- verdicts --------------------------------------------------------------------
# eprop: lo > 0 and exact p 1/32 < 0.05; rflo: lo > 0 but p 1/16
run "$TMP/o" $C "$EP1" "$EP0" "$TMP/a.csv"
check "verdict n=6" "$(field "$TMP/o" 1 verdict)" "holds"
run "$TMP/o" $C 'rule=rflo,gain=1,floss=off' 'rule=rflo,gain=0.1,floss=off' "$TMP/a.csv"
check "verdict p 1/16" "$(field "$TMP/o" 1 verdict)" "does not hold"
run "$TMP/o" $C 'rule=rflo,gain=1,floss=off' 'rule=rflo,gain=0.1,floss=off' --verdict ci "$TMP/a.csv"
check "verdict --verdict ci" "$(field "$TMP/o" 1 verdict)" "holds"
# the other direction: the effect is negative, nothing holds
run "$TMP/o" $C "$EP0" "$EP1" --verdict ci "$TMP/a.csv"
check "reversed effect" "$(field "$TMP/o" 1 effect) $(field "$TMP/o" 1 verdict)" "-0.292 does not hold"

# ---- Monte Carlo for n > 20: 25 positive differences ---------------------------------
{
    printf '%s\n' "$HEAD"
    for s in $(seq 1 25); do row eprop 1 off $s 0.9; row eprop 0.1 off $s 0.$((s % 9 + 1)); done
} > "$TMP/mc.csv"
run "$TMP/o" $C "$EP1" "$EP0" "$TMP/mc.csv"
field "$TMP/o" 1 detail | grep -q 'Monte Carlo sign-flip, 100000 draws' && ok || bad "n 25: not Monte Carlo"
# every draw of 25 signs matching the observed sum has probability 2/2^25: hits
# ~ 0.006, so p = (1 + hits) / 100001 is 1/100001 (printed 1e-05)
check "n 25 p" "$(field "$TMP/o" 1 p)" "1e-05"

# ---- --study: best gain, matched-gain mean of |lambda_after|, local flossing ------------
{
    printf '%s\n' "$HEAD"
    # seed gain acc_eprop lam_eprop acc_bptt lam_bptt
    while read -r s g ae le ab lb; do
        row eprop "$g" off "$s" "$ae" "$le"
        row bptt "$g" off "$s" "$ab" "$lb"
    done << 'EOF'
1 0.5 0.5 -0.30 0.7 -0.05
2 0.5 0.6 -0.20 0.8 0.02
3 0.5 0.4 -0.25 0.6 -0.01
4 0.5 0.5 -0.35 0.7 0.03
1 1 0.8 0.05 0.9 0.01
2 1 0.7 -0.02 0.95 0.00
3 1 0.9 0.10 0.85 -0.02
4 1 0.75 0.04 0.9 0.01
1 2 0.6 0.40 0.97 0.08
2 2 0.65 0.30 0.99 0.05
3 2 0.55 0.45 0.96 0.09
4 2 0.7 0.35 0.98 0.06
EOF
    rows eprop 0.5 local 1 0.7 0.8 0.6 0.75
    rows eprop 1 local 1 0.7 0.8 0.6 0.75
} > "$TMP/study.csv"
run "$TMP/o" --study "$TMP/study.csv"
[ "$(grep -c '^claim ' "$TMP/o")" -eq 4 ] && ok || bad "--study: expected 4 claims: $(cat "$TMP/o")"
best=$(awk -F, '$1 == "eprop" && $3 == "off" { s[$2] += $13; n[$2]++ }
    END { for (g in s) if (!f || s[g] / n[g] > b) { b = s[g] / n[g]; bg = g; f = 1 }; print bg }' "$TMP/study.csv")
grep -q "^claim 1: eprop choice_acc at its best gain g $best vs sub-critical g 0.5 " "$TMP/o" && ok \
    || bad "--study claim 1: best gain $best, sub-critical 0.5 expected: $(grep '^claim 1:' "$TMP/o")"
check "--study claim 1 effect" "$(field "$TMP/o" 1 effect)" "$(oracle eprop "$best" off 0.5 off "$TMP/study.csv" | cut -d' ' -f1)"
want=$(awk -F, 'function abs(x) { return x < 0 ? -x : x }
    $3 == "off" && $1 == "eprop" { e[$4 "," $2] = abs($11) }
    $3 == "off" && $1 == "bptt" { b[$4 "," $2] = abs($11) }
    END { for (k in e) { split(k, q, ","); s[q[1]] += e[k] - b[k]; n[q[1]]++ }
          for (sd in s) { t += s[sd] / n[sd]; m++ }; printf "%+.3f\n", t / m }' "$TMP/study.csv")
check "--study claim 2 (mean over matched gains)" "$(field "$TMP/o" 2 effect)" "$want"
grep -q '^claim 2: |lambda_after| eprop minus bptt, floss off, mean over 3 matched gains ' "$TMP/o" && ok \
    || bad "--study claim 2 text: $(grep '^claim 2:' "$TMP/o")"
check "--study claim 3 effect" "$(field "$TMP/o" 3 effect)" "$(oracle eprop 0.5 local 0.5 off "$TMP/study.csv" | cut -d' ' -f1)"
# --subcritical names the gain
run "$TMP/o" --study --subcritical 1 "$TMP/study.csv"
grep -q 'vs sub-critical g 1 ' "$TMP/o" && ok || bad "--subcritical 1 not used: $(cat "$TMP/o")"
# --select-seeds: seeds 1, 2 choose, 3, 4 test
run "$TMP/o" --study --select-seeds "$TMP/study.csv"
check "--select-seeds n" "$(field "$TMP/o" 1 n)" 2
field "$TMP/o" 1 detail | grep -q 'chosen on the 2 lowest seeds, tested on the others' && ok \
    || bad "--select-seeds detail: $(field "$TMP/o" 1 detail)"

# ---- refusals: exit 2, one line ------------------------------------------------------
# want2 WHAT NEEDLE ARGS...
want2() {
    what=$1 needle=$2
    shift 2
    "$BIN" claims "$@" > /dev/null 2> "$TMP/e"
    st=$?
    if [ $st -ne 2 ]; then bad "$what: exited $st, expected 2 ($(head -c 300 "$TMP/e"))"
    elif [ "$(wc -l < "$TMP/e")" -ne 1 ] || ! grep -qF -- "$needle" "$TMP/e"; then
        bad "$what: expected one line with '$needle', got: $(cat "$TMP/e")"
    else ok; fi
}
want2 "missing gain" "no rows rule=eprop,gain=0.7,floss=off" $C 'rule=eprop,gain=0.7,floss=off' "$EP0" "$TMP/a.csv"
want2 "study without flossing rows" "claim 3: no rows rule=eprop,gain=0.1,floss=on" --study "$TMP/a.csv"
want2 "duplicate run" "floss=off,seed=1 appears twice" $C "$EP1" "$EP0" "$TMP/a.csv" "$TMP/a.csv"
want2 "no CSV" "no sweep CSV" $C "$EP1" "$EP0"
want2 "group without floss" "lacks floss=" $C 'rule=eprop,gain=1' "$EP0" "$TMP/a.csv"
want2 "gain=all on one side" "gain=all must be given to both" $C 'rule=eprop,gain=all,floss=off' "$EP0" "$TMP/a.csv"
want2 "bad metric" "--metric" $C "$EP1" "$EP0" --metric 'lambda' "$TMP/a.csv"
want2 "best on signed lambda" "gain=best needs" $C 'rule=eprop,gain=best,floss=off' "$EP0" --metric lambda_after "$TMP/a.csv"
want2 "study and compare" "one of them" --study $C "$EP1" "$EP0" "$TMP/a.csv"
want2 "--boot 99" "--boot: expected an integer in 100..10000000, got '99'" $C "$EP1" "$EP0" --boot 99 "$TMP/a.csv"
want2 "--verdict x" "--verdict: expected ci+holm or ci" $C "$EP1" "$EP0" --verdict x "$TMP/a.csv"
want2 "--compare=" "--compare takes two arguments" --compare="$EP1" "$EP0" "$TMP/a.csv"
# hostile rows: refused as csv.c does, naming the file, line and column; nothing runs
# bad_row NAME LINE COLUMN ROW(printf format)
bad_row() {
    { printf '%s\n' "$HEAD"; printf "$4"; printf '\n'; rows eprop 1 off 1 0.9; rows eprop 0.1 off 1 0.5; } > "$TMP/$1.csv"
    want2 "hostile $1" "$TMP/$1.csv: line $2: column $3" $C "$EP1" "$EP0" "$TMP/$1.csv"
}
bad_row acc_range 3 13 'eprop,1,off,2,1,10,0.5,0.5,0.5,-0.3,0.1,1,1.5'
bad_row command 3 1 '`touch PWNED`,1,off,2,1,10,0.5,0.5,0.5,-0.3,0.1,1,0.5'
bad_row subst 3 3 'eprop,1,$(touch PWNED),2,1,10,0.5,0.5,0.5,-0.3,0.1,1,0.5'
bad_row control 3 13 'eprop,1,off,2,1,10,0.5,0.5,0.5,-0.3,0.1,1,0.5\001'
bad_row extra_field 3 14 'eprop,1,off,2,1,10,0.5,0.5,0.5,-0.3,0.1,1,0.5,7'
bad_row inf 3 8 'eprop,1,off,2,1,10,0.5,inf,0.5,-0.3,0.1,1,0.5'
bad_row seed0 3 4 'eprop,1,off,0,1,10,0.5,0.5,0.5,-0.3,0.1,1,0.5'
[ -z "$(find "$TMP" -name 'PWNED*')" ] && ok || bad "a command in a CSV ran"

# ---- precision=: a --precision single sweep paired with a double one -----------
# The same runs in two files, one whose first line says precision=single: the
# pair is not a duplicate, a group takes its file's precision, and the effect
# single - double is the awk oracle's over the two files' rows.
{
    printf '# rnnplast sweep: task=2af (hand-written) precision=single\n%s\n' "${HEAD#*
}"
    rows eprop 1 off 1 0.7 0.9 0.8 0.6
    rows eprop 0.1 off 1 0.5 0.5 0.6 0.5
} > "$TMP/single.csv"
{
    printf '%s\n' "$HEAD"
    rows eprop 1 off 1 0.6 0.8 0.8 0.4
} > "$TMP/double.csv"
run "$TMP/o" $C "$EP1,precision=single" "$EP1,precision=double" "$TMP/single.csv" "$TMP/double.csv"
check "single - double effect" "$(field "$TMP/o" 1 effect)" "+0.100"
check "single - double n" "$(field "$TMP/o" 1 n)" 4
grep -q "^claim 1: choice_acc $EP1,precision=single vs $EP1 effect" "$TMP/o" && ok \
    || bad "precision=single not in the claim line: $(cat "$TMP/o")"
# without precision=, a group takes its CSVs' one precision; with both, refused
run "$TMP/o" $C "$EP1" "$EP0" "$TMP/single.csv"
check "single-only group effect" "$(field "$TMP/o" 1 effect)" "+0.225"
want2 "two precisions" "several precisions in the CSVs: give precision=" \
    $C "$EP1" "$EP1,precision=single" "$TMP/single.csv" "$TMP/double.csv"
want2 "bad precision" "precision: expected single or double, got 'half'" \
    $C "$EP1,precision=half" "$EP0" "$TMP/single.csv"
want2 "no double rows" "no rows rule=eprop,gain=0.1,floss=off" \
    $C "$EP1,precision=double" "$EP0,precision=double" "$TMP/single.csv" "$TMP/double.csv"
want2 "single duplicate" "floss=off,precision=single,seed=1 appears twice" \
    $C "$EP1" "$EP0" "$TMP/single.csv" "$TMP/single.csv"
# the token counts only on the first line, as a whole word
{
    printf '%s\n# precision=single\n' "$HEAD" | sed '1s/$/ precision=singles/'
    rows eprop 1 off 1 0.6 0.8 0.8 0.4
} > "$TMP/notsingle.csv"
want2 "token only on line 1" "several precisions" $C "$EP1" "$EP0" "$TMP/single.csv" "$TMP/notsingle.csv"

# ---- speed: the demo's table must take well under 2 s -----------------------------
{
    printf '%s\n' "$HEAD"
    for r in bptt eprop; do for g in 0.1 0.3 0.5 1 1.5 2 3; do for f in off on; do for s in $(seq 1 20); do
        row $r $g $f $s 0.$((s % 9 + 1)) 0.0$((s % 7))
    done; done; done; done
} > "$TMP/big.csv"
t0=$(date +%s%N)
run "$TMP/o" --study "$TMP/big.csv"
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -lt 2000 ] && ok || bad "--study on 20 seeds took $ms ms (limit 2000)"

echo "tool_claims: $pass passed, $fails failed"
[ $fails -eq 0 ]
