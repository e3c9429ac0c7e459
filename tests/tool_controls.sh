#!/bin/sh
# The controls of issue 14 (items 4 and 8) in the rnnplast tool: sweep
# --feedbacks/--lrs and train --feedback, rnnplast select, rnnplast
# floss-cosine; older CSVs still read.  Usage: sh tests/tool_controls.sh build/rnnplast
# (the shared library next to it: `make lib`).
set -u
export OPENBLAS_NUM_THREADS=1
BIN=${1:?usage: tool_controls.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_controls.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_controls: FAIL: $*" >&2; fails=$((fails + 1)); }
TINY="--task 2af --N 8 --iters 12 --batch 4 --test-batch 16 --eval-every 6 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --quiet"
COLS21="rule,gain,floss,seed,ok,iters,train_loss,test_loss,test_acc,lambda_before,lambda_after,response_rate,choice_acc,ftle_before,ftle_after,ftle_sd_before,ftle_sd_after,delay_lambda_before,delay_lambda_after,dw_rel,path_rel"

# want2 WHAT NEEDLE ARGS...: exits 2 with NEEDLE in its one-line message
want2() {
    what=$1 needle=$2
    shift 2
    timeout 60 "$BIN" "$@" > o 2> e < /dev/null
    st=$?
    if [ $st -ne 2 ]; then bad "$what: exited $st, expected 2 ($(head -c 300 e))"; return; fi
    grep -qF -- "$needle" e && ok || bad "$what: message lacks '$needle': $(cat e)"
}
rows() { grep -v '^#' "$1" | tail -n +2; }

# ---- 1. without the new flags: the 21 columns, the rows those of the axes' defaults ----
"$BIN" sweep --out plain.csv --gains 1 --rules eprop,rflo --seeds 2 --jobs 1 $TINY > /dev/null 2>&1 \
    || bad "plain sweep failed"
[ "$(grep -v '^#' plain.csv | head -1)" = "$COLS21" ] && ok || bad "plain sweep header: $(grep -v '^#' plain.csv | head -1)"
"$BIN" sweep --out ax.csv --gains 1 --rules bptt,eprop,rflo --feedbacks symmetric,random \
    --lrs 0.003,0.001 --seeds 2 --jobs 1 $TINY > ax.out 2>&1 || bad "axes sweep failed: $(tail -3 ax.out)"
[ "$(grep -v '^#' ax.csv | head -1)" = "$COLS21,feedback,lr" ] && ok || bad "axes header: $(grep -v '^#' ax.csv | head -1)"
grep -q "axes=feedback,lr" ax.csv && ok || bad "axes sweep: configuration line lacks axes=feedback,lr"
# bptt once per lr (no feedback), eprop and rflo twice: (2 + 4 + 4) x 2 seeds
[ "$(rows ax.csv | wc -l)" -eq 20 ] && ok || bad "axes sweep: $(rows ax.csv | wc -l) rows, expected 20"
[ "$(rows ax.csv | awk -F, '$1 == "bptt" && $22 != "none"' | wc -l)" -eq 0 ] && ok || bad "bptt rows with a feedback"
# the rows at each rule's own feedback and default lr (eprop symmetric 3e-3,
# rflo random 1e-3) are the plain sweep's, value for value
for r in "eprop symmetric 0.003" "rflo random 0.001"; do
    set -- $r
    a=$(rows plain.csv | awk -F, -v r=$1 '$1 == r' | sort)
    b=$(rows ax.csv | awk -F, -v r=$1 -v f=$2 -v l=$3 'BEGIN {OFS = ","} $1 == r && $22 == f && $23 == l {NF = 21; print}' | sort)
    [ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "$1 at its own feedback and lr: axes rows differ from the plain sweep's"
done

# ---- 2. the feedback axis reaches the rule ----
# e-prop and RFLO are one estimator with different default feedbacks (MODEL.md
# 4.4-4.5): at the same feedback and lr their rows agree in every value, and
# the two feedbacks of one rule differ
# (the value columns 2-21 alone: not the rule or feedback names)
val() { rows ax.csv | awk -F, -v r=$1 -v f=$2 -v l=$3 'BEGIN {OFS = ","} $1 == r && $22 == f && $23 == l {$1 = ""; NF = 21; print}' | sort; }
for f in symmetric random; do
    for l in 0.003 0.001; do
        [ -n "$(val eprop $f $l)" ] && [ "$(val eprop $f $l)" = "$(val rflo $f $l)" ] && ok \
            || bad "eprop and rflo with $f feedback, lr $l differ"
    done
done
[ "$(val eprop symmetric 0.001)" != "$(val eprop random 0.001)" ] && ok || bad "eprop: the feedback axis changed nothing"
[ "$(val rflo symmetric 0.001)" != "$(val rflo random 0.001)" ] && ok || bad "rflo: the feedback axis changed nothing"

# ---- 3. each axis row equals a single train run with --feedback and --lr ----
for r in "eprop random 0.001 2" "rflo symmetric 0.003 1" "bptt none 0.001 2" "eprop symmetric 0.001 1"; do
    set -- $r
    fb=""
    [ "$2" != none ] && fb="--feedback $2"
    "$BIN" train --rule $1 $fb --lr $3 --seed $4 $TINY > t.out 2>&1 || bad "train $r failed: $(tail -2 t.out)"
    got=$(awk '/^final test loss/ {a = $4} /^choice accuracy/ {b = $3} END {print a, b}' t.out)
    want=$(rows ax.csv | awk -F, -v r=$1 -v f=$2 -v l=$3 -v s=$4 '$1 == r && $22 == f && $23 == l && $4 == s {print $8, $13}')
    [ -n "$want" ] && [ "$got" = "$want" ] && ok || bad "train $r: '$got', the sweep row '$want'"
done

# ---- 4. resume: the axes CSV resumes, a plain command does not take it, old CSVs still read ----
"$BIN" sweep --out part.csv --gains 1 --rules eprop --feedbacks symmetric,random --lrs 0.003,0.001 \
    --seeds 2 --jobs 1 --stop-after 3 $TINY > /dev/null 2>&1
"$BIN" sweep --out part.csv --gains 1 --rules eprop --feedbacks symmetric,random --lrs 0.003,0.001 \
    --seeds 2 --jobs 1 $TINY > /dev/null 2>&1 || bad "axes resume failed"
[ "$(rows part.csv)" = "$(rows ax.csv | awk -F, '$1 == "eprop"')" ] && ok || bad "resumed axes CSV differs from the uninterrupted one"
want2 "plain command on an axes CSV" "written by another configuration" sweep --out part.csv --gains 1 --rules eprop --seeds 2 $TINY
want2 "axes command on a 21-column CSV" "written by another configuration" sweep --out plain.csv --gains 1 --rules eprop,rflo --lrs 0.003 --seeds 2 $TINY
# a 21-column CSV resumes as before (cut to its first two rows) and is
# rewritten in 21 columns
head -n $(( $(grep -c '^#' plain.csv) + 3 )) plain.csv > cut.csv
"$BIN" sweep --out cut.csv --gains 1 --rules eprop,rflo --seeds 2 --jobs 1 $TINY > /dev/null 2>&1 || bad "21-column resume failed"
[ "$(rows cut.csv)" = "$(rows plain.csv)" ] && [ "$(grep -v '^#' cut.csv | head -1)" = "$COLS21" ] && ok \
    || bad "21-column CSV resumed differs"
# claims on a 21-column CSV: as before; on the axes CSV with feedback= and lr=
"$BIN" claims --compare rule=eprop,gain=1,floss=off rule=rflo,gain=1,floss=off plain.csv > c1 2> e \
    && grep -q "^claim 1: choice_acc rule=eprop,gain=1,floss=off vs rule=rflo,gain=1,floss=off" c1 && ok \
    || bad "claims on a 21-column CSV: $(cat e c1)"
"$BIN" claims --compare rule=eprop,gain=1,floss=off,feedback=random,lr=0.001 \
    rule=eprop,gain=1,floss=off,feedback=symmetric,lr=0.001 ax.csv > c2 2> e \
    && grep -q "feedback=random,lr=0.001 vs" c2 && ok || bad "claims with feedback= lr=: $(cat e c2)"
# the paired effect: recomputed here from the rows (mean over seeds of A - B)
eff=$(rows ax.csv | awk -F, '$1 == "eprop" && $23 == 0.001 {v[$22 "," $4] = $13} END {printf "%+.3f", ((v["random,1"] - v["symmetric,1"]) + (v["random,2"] - v["symmetric,2"])) / 2}')
[ "$eff" = "-0.000" ] && eff=+0.000
grep -q "effect $eff " c2 && ok || bad "claims effect: expected $eff, got $(head -2 c2 | tail -1)"
want2 "claims without feedback= on two feedbacks" "several feedbacks" claims --compare rule=eprop,gain=1,floss=off rule=rflo,gain=1,floss=off ax.csv
want2 "claims feedback=bad" "feedback: expected symmetric, random or none" claims --compare rule=eprop,gain=1,floss=off,feedback=bad rule=rflo,gain=1,floss=off ax.csv
# plot: one series per (rule, feedback, lr); the 21-column CSV as before
if command -v gnuplot > /dev/null 2>&1; then
    "$BIN" plot --csv ax.csv --out pa > /dev/null 2>&1 && [ -f pa/gain_eprop-random-lr0.001_off.dat ] \
        && [ -f pa/gain_rflo-symmetric-lr0.003_off.dat ] && [ "$(ls pa/gain_*.dat | wc -l)" -eq 10 ] && ok \
        || bad "plot of the axes CSV: $(ls pa 2>&1)"
    "$BIN" plot --csv plain.csv --out pp > /dev/null 2>&1 && [ -f pp/gain_eprop_off.dat ] && ok \
        || bad "plot of a 21-column CSV: $(ls pp 2>&1)"
fi

# ---- 5. select: the lr chosen on validation seeds, reported on test seeds ----
"$BIN" sweep --out lr.csv --gains 0.5,1,2 --rules eprop --lrs 0.001,0.003,0.03 --seeds 6 --jobs 1 $TINY \
    --iters 40 --test-batch 64 > /dev/null 2>&1 || bad "lr sweep failed"
"$BIN" select --val-seeds 1-3 --out sel.csv lr.csv > sel.out 2> e || bad "select failed: $(cat e)"
# the oracle: per gain, the lr of the largest mean choice_acc over seeds 1-3
# (ties to the smaller), then its mean over seeds 4-6, and the default lr's
rows lr.csv | awk -F, '
    {k = $2 "," $23; if ($4 <= 3) {vs[k] += $13; vn[k]++} else {ts[k] += $13; tn[k]++}; g[$2] = 1; l[$23] = 1}
    END {
        n = 0; for (x in l) lr[++n] = x + 0
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (lr[j] < lr[i]) {t = lr[i]; lr[i] = lr[j]; lr[j] = t}
        for (gg in g) {
            best = ""; for (i = 1; i <= n; i++) {k = gg "," lr[i]; m = vs[k] / vn[k]; if (best == "" || m > bm) {best = lr[i]; bm = m}}
            kb = gg "," best; kf = gg "," 0.003
            printf "%s %s %.7f %.7f\n", gg, best, ts[kb] / tn[kb], ts[kf] / tn[kf]
        }
    }' | sort > sel.want
grep -v '^#' sel.csv | tail -n +2 | awk -F, '{printf "%s %s %.7f %.7f\n", $4, $5, $9, $14}' | sort > sel.got
[ -s sel.want ] && [ "$(cat sel.got)" = "$(cat sel.want)" ] && ok || bad "select: got $(cat sel.got), the oracle $(cat sel.want)"
# not degenerate: some gain chooses an lr other than the default, and the
# chosen and fixed test means differ somewhere
awk '$2 != 0.003 {a = 1} $3 != $4 {b = 1} END {exit !(a && b)}' sel.want && ok \
    || bad "select case degenerate: $(cat sel.want)"
want2 "select on a 21-column CSV" "no lr column" select --val-seeds 1 plain.csv
want2 "select without --val-seeds" "--val-seeds is required" select lr.csv
want2 "select --val-seeds bad" "--val-seeds: expected" select --val-seeds 3-1 lr.csv
want2 "select, every seed validation" "no test seeds" select --val-seeds 1-6 lr.csv

# ---- 6. invalid axis values ----
want2 "--feedbacks bad" "--feedbacks: expected symmetric or random, got 'sym'" sweep --out x.csv --feedbacks sym $TINY
want2 "--feedbacks twice" "--feedbacks: random given twice" sweep --out x.csv --feedbacks random,random $TINY
want2 "--lrs 0" "--lrs: expected numbers > 0, got '0'" sweep --out x.csv --lrs 0.001,0 $TINY
want2 "--lrs same" "are the same rate" sweep --out x.csv --lrs 0.001,1e-3 $TINY
want2 "--lrs with --lr" "give --lr or --lrs, not both" sweep --out x.csv --lrs 0.001 --lr 0.01 $TINY
want2 "train --feedback bptt" "--feedback is for eprop, rflo and modprop" train --rule bptt --feedback random $TINY
want2 "train --feedback none" "--feedback: expected symmetric or random" train --rule eprop --feedback none $TINY
want2 "floss-cosine --transients" "--transients: expected" floss-cosine --transients 1,x
want2 "floss-cosine window too short" "counts no re-orthonormalization window" floss-cosine --windows 4 --transients 4

# ---- 7. floss-cosine against a finite-difference oracle ----
LIB=$(dirname "$BIN")
if ${CC:-cc} -std=c11 -I"$SRC/include" "$SRC/tests/tool_flosscos_oracle.c" -o fcor \
    "$LIB/librnnplast.so.1" -Wl,-rpath,"$LIB" -lm ${LDFLAGS:-} 2> e; then
    # tanh (smooth: finite differences hold), one trial (T 16) and a window of
    # two and a half trials (concatenated inputs), explicit and auto transients
    "$BIN" floss-cosine --N 6 --alpha 0.9 --act tanh --gains 1.5 --seeds 2 --delay 0 \
        --windows 16,40 --transients auto,7 --out fc.csv > fc.out 2> e || bad "floss-cosine failed: $(cat e)"
    for w in 16 40; do
        for tr in $((w / 4)) 7; do
            for s in 1 2; do
                got=$(awk -F, -v w=$w -v t=$tr -v s=$s '$2 == w && $3 == t && $4 == s {print $5}' fc.csv)
                set -- $(./fcor 6 0.9 tanh 1.5 $s $w $tr 1 0)
                awk -v a="$got" -v b="$1" -v e="$2" 'BEGIN {exit !(a != "" && (a - b) ^ 2 < 1e-10 && e > 0.99999)}' && ok \
                    || bad "floss-cosine w $w tr $tr seed $s: tool $got, oracle cos(local, fd) $1 (cos(exact, fd) $2)"
            done
        done
    done
    # the summary: mean, min, max of the rows, and the best window printed
    awk -F, '$2 == 40 && $3 == 10 {s += $5; n++} END {printf "%.3f\n", s / n}' fc.csv > m.want
    awk '$1 == 1.5 && $2 == 40 && $3 == 10 {print $5}' fc.out > m.got
    [ "$(cat m.got)" = "$(cat m.want)" ] && ok || bad "floss-cosine mean: $(cat m.got), the rows' $(cat m.want)"
    grep -q "^largest mean cosine over gains and seeds: window" fc.out && ok || bad "no best window line"
else
    bad "cannot build the floss-cosine oracle: $(cat e)"
fi

echo "tool_controls: $pass passed, $fails failed"
[ $fails -eq 0 ]
