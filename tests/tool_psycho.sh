#!/bin/sh
# Psychometric curves and units of tau (tools/psycho.c, tools/units.c):
# the psychometric rows against an independent oracle (tests/
# tool_psycho_oracle.c: the saved model, its own trials and naive scoring),
# the same rows from train, psycho and sweep, the sweep's psychometric file
# resumable and in canonical order; periods in tau and noise as
# continuous-time intensities give exactly the CSV of the step / per-step
# values they stand for; invalid values exit 2 with nothing written.
# Usage: sh tests/tool_psycho.sh build/rnnplast   (CC, LDFLAGS as for tool_cli.sh)
set -u
export OPENBLAS_NUM_THREADS=1
BIN=${1:?usage: tool_psycho.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_psy.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_psycho: FAIL: $*" >&2; fails=$((fails + 1)); }
rows() { grep -v '^#' "$1" | tail -n +2; } # data rows: no comments, no header
same_rows() { [ -f "$1" ] && [ -f "$2" ] && [ "$(rows "$1")" = "$(rows "$2")" ] && [ -n "$(rows "$1")" ]; }
# the CSV without its provenance (built, command) lines
noprov() { grep -v -e '^# built:' -e '^# command' "$1"; }

# want2 WHAT NEEDLE ARGS...: exit 2, one stderr line containing NEEDLE, and
# no file p.csv / o.csv written
want2() {
    what=$1 needle=$2
    shift 2
    rm -f p.csv o.csv
    timeout 60 "$BIN" "$@" > /dev/null 2> e.txt < /dev/null
    st=$?
    if [ $st -ne 2 ] || [ "$(wc -l < e.txt)" -ne 1 ] || ! grep -qF -- "$needle" e.txt; then
        bad "$what: exit $st, stderr: $(cat e.txt)"
    elif [ -e p.csv ] || [ -e o.csv ]; then
        bad "$what: a file was written"
    else
        ok
    fi
}

PER="--fixation 2 --stimulus 8 --delay 3 --decision 3"
TASK="--task 2af $PER --sigma 0.5 --coherences 0.128,0.256,0.512 --alpha 0.5 --N 16 --batch 16 --quiet"
COH="0,0.032,0.128,0.512"

# ---- 1. the rows against the oracle ---------------------------------------
"$BIN" train $TASK --iters 150 --seed 3 --model m.rpn --psychometric p1.csv \
    --psy-coherences $COH --psy-trials 120 > /dev/null 2> e.txt || bad "train --psychometric: $(cat e.txt)"
if ${CC:-cc} -std=c11 -I"$SRC/include" "$SRC/tests/tool_psycho_oracle.c" -o oracle \
    "$(dirname "$BIN")/librnnplast.so.1" -Wl,-rpath,"$(dirname "$BIN")" -lm ${LDFLAGS:-} 2> e.txt; then
    ./oracle m.rpn 120 2 8 3 3 0.5 $(echo $COH | tr , ' ') > want.txt || bad "the oracle failed"
    # the tool's columns 6.. (coherence n resp acc n1 p1 n2 p2) against the oracle's, to 1e-12
    rows p1.csv | cut -d, -f6- | tr , ' ' > got.txt
    if [ "$(wc -l < want.txt)" -eq 4 ] && [ "$(wc -l < got.txt)" -eq 4 ] &&
        paste -d' ' got.txt want.txt | awk '{ for (i = 1; i <= 8; i++) {
            a = $i; b = $(i + 8); if (a == "nan" || b == "nan") { if (a != b) exit 1 }
            else if ((a - b) ^ 2 > 1e-24) exit 1 } } END { exit NR != 4 }'; then ok
    else
        bad "psychometric rows differ from the oracle: tool $(cat got.txt) / oracle $(cat want.txt)"
    fi
    # the curve is not degenerate: the choices differ between coherences
    [ "$(cut -d' ' -f4 want.txt | sort -u | wc -l)" -ge 2 ] && ok || bad "a flat curve: $(cat want.txt)"
    # coherence 0: about half of the answers on either side (chance 0.5)
    awk 'NR == 1 && $1 == 0 && $5 > 30 && $7 > 30 { f = 1 } END { exit !f }' want.txt && ok \
        || bad "coherence 0 answers: $(head -1 want.txt)"
else
    bad "cannot build the psychometric oracle: $(cat e.txt)"
fi
# the run identity and the header
grep -q '^task,rule,gain,floss,seed,coherence,n,response_rate,choice_acc,n_answer1,p_choose2_answer1,n_answer2,p_choose2_answer2$' p1.csv \
    && [ "$(rows p1.csv | cut -d, -f1-5 | sort -u)" = "2af,eprop,1,off,3" ] && ok || bad "header or identity: $(cat p1.csv)"
head -1 p1.csv | grep -q '^# rnnplast psychometric: psy_trials=120 ' && grep -q '^# built: ' p1.csv \
    && grep -q '^# command: ' p1.csv && ok || bad "first line or provenance: $(head -3 p1.csv)"

# ---- 2. psycho on the saved model: the same rows ----------------------------
"$BIN" psycho --model m.rpn --out p2.csv $TASK --seed 3 --iters 150 --psy-coherences $COH --psy-trials 120 > psy.out 2> e.txt \
    || bad "psycho: $(cat e.txt)"
same_rows p1.csv p2.csv && ok || bad "psycho's rows differ from train's: $(rows p2.csv)"
"$BIN" psycho --model m.rpn --out p3.csv --task 2af $PER --alpha 0.5 > psy.out 2> e.txt; grep -q 'P(2 | answer 2)' psy.out && ok || bad "psycho prints no table: $(cat psy.out)"

# ---- 3. sweep: the same rows, resumable, the sweep CSV unchanged -----------
SW0="$TASK --iters 150 --gains 1 --rules eprop,bptt --seeds 3 --jobs 2"
SW="$SW0 --psy-coherences $COH --psy-trials 120"
"$BIN" sweep --out s1.csv --psychometric s1p.csv $SW > /dev/null 2> e.txt || bad "sweep --psychometric: $(cat e.txt)"
[ "$(rows s1p.csv | grep '^2af,eprop,1,off,3,')" = "$(rows p1.csv)" ] && ok \
    || bad "the sweep's rows of eprop seed 3 differ from train's: $(rows s1p.csv | grep ',eprop,1,off,3,')"
[ "$(rows s1p.csv | wc -l)" -eq 24 ] && ok || bad "expected 6 runs x 4 coherences: $(rows s1p.csv | wc -l)"
"$BIN" sweep --out s0.csv $SW0 > /dev/null 2> e.txt || bad "sweep: $(cat e.txt)"
same_rows s0.csv s1.csv && ok || bad "--psychometric changed the sweep CSV"
"$BIN" sweep --out s2.csv --psychometric s2p.csv $SW --stop-after 2 > /dev/null 2>&1
"$BIN" sweep --out s2.csv --psychometric s2p.csv $SW > /dev/null 2> e.txt || bad "resumed sweep: $(cat e.txt)"
same_rows s1p.csv s2p.csv && same_rows s1.csv s2.csv && ok || bad "an interrupted sweep's psychometric file differs"
# a finished sweep without psychometric rows: its runs are run again
cp s0.csv s3.csv
"$BIN" sweep --out s3.csv --psychometric s3p.csv $SW > /dev/null 2> e.txt
grep -q 'have no psychometric rows' e.txt && same_rows s1p.csv s3p.csv && same_rows s1.csv s3.csv && ok \
    || bad "adding --psychometric to a finished sweep: $(cat e.txt)"
# other psychometric settings on the same file: refused
want2 "other psy settings" 'written by another configuration' sweep --out s1.csv --psychometric s1p.csv $SW --psy-trials 60

# ---- 4. periods in tau ----------------------------------------------------
U="--task 2af --N 8 --iters 20 --batch 8 --test-batch 16 --gains 1 --rules eprop --seeds 2 --quiet --jobs 2 --lyap-trials 2 --ftle-trials 2"
"$BIN" sweep --out t0.csv $U --delay 20 --alpha 0.5 > /dev/null 2>&1
"$BIN" sweep --out t1.csv $U --delay-tau 10 --dt-tau 0.5 > t1.out 2> e.txt
[ "$(noprov t0.csv)" = "$(noprov t1.csv)" ] && grep -q 'delay=20 ' t1.csv && ok \
    || bad "--delay-tau 10 at dt/tau 0.5 is not --delay 20: $(head -1 t1.csv)"
grep -q 'delay 10 tau = 20 steps' e.txt && ok || bad "the steps used are not printed: $(cat e.txt)"
grep -q '^periods (dt/tau = 1 - alpha = 0.5):.* delay 20 steps = 10 tau' t1.out && ok \
    || bad "the summary does not give the periods in tau: $(tail -2 t1.out)"
# alpha 0.9: dt/tau = 1 - 0.9 is inexact; 2 tau is still 20 steps, all periods
"$BIN" sweep --out t2.csv $U --delay 20 --fixation 5 --stimulus 10 --decision 5 --alpha 0.9 > /dev/null 2>&1
"$BIN" sweep --out t3.csv $U --delay-tau 2 --fixation-tau 0.5 --stimulus-tau 1 --decision-tau 0.5 --alpha 0.9 > /dev/null 2>&1
[ "$(noprov t2.csv)" = "$(noprov t3.csv)" ] && ok || bad "tau periods at alpha 0.9: $(head -1 t3.csv)"

# ---- 5. noise as a continuous-time intensity ------------------------------
# sigma per step = sqrt(2/(dt/tau)) X; state noise sqrt(2 dt/tau) X: at
# dt/tau 0.5 the factors are 2 and 1, at 0.125 4 and 0.5 (all exact)
"$BIN" sweep --out n0.csv $U --sigma 0.2 --noise 0.05 --alpha 0.5 > /dev/null 2>&1
"$BIN" sweep --out n1.csv $U --sigma-ct 0.1 --noise-ct 0.05 --dt-tau 0.5 > /dev/null 2> e.txt
[ "$(noprov n0.csv)" = "$(noprov n1.csv)" ] && ok || bad "ct noise at dt/tau 0.5: $(head -1 n1.csv)"
grep -q 'sigma-ct 0.1 = sigma 0.2 per step' e.txt && ok || bad "the sigma used is not printed: $(cat e.txt)"
"$BIN" sweep --out n2.csv $U --sigma 0.2 --noise 0.05 --alpha 0.875 > /dev/null 2>&1
"$BIN" sweep --out n3.csv $U --sigma-ct 0.05 --noise-ct 0.1 --dt-tau 0.125 > /dev/null 2>&1
[ "$(noprov n2.csv)" = "$(noprov n3.csv)" ] && ok || bad "ct noise at dt/tau 0.125: $(head -1 n3.csv)"

# ---- 6. invalid values: exit 2, nothing written ----------------------------
T1="train --task 2af --N 8 --iters 2 --batch 4 --quiet --curve o.csv"
want2 "not a whole number of steps" 'not a whole number' $T1 --delay-tau 0.33 --dt-tau 0.1
want2 "rounds to 0" 'rounds to 0 steps' $T1 --delay-tau 1e-12
want2 "decision 0 tau" 'expected 1..' $T1 --decision-tau 0
want2 "too many steps" 'expected 0..' $T1 --delay-tau 1e9 --dt-tau 0.5
want2 "both delay flags" 'not both' $T1 --delay 3 --delay-tau 1
want2 "both sigma flags" 'not both' $T1 --sigma 1 --sigma-ct 1
want2 "both noise flags" 'not both' $T1 --noise 1 --noise-ct 1
want2 "tau nan" 'expected a number' $T1 --delay-tau nan
want2 "tau negative" 'expected a number' $T1 --stimulus-tau -1
want2 "sigma-ct inf" 'expected a number' $T1 --sigma-ct inf
want2 "psy on dms" 'for --task 2af or cxt' $T1 --task dms --psychometric p.csv
want2 "psy coherence 1.5" 'in [0, 1]' $T1 --psychometric p.csv --psy-coherences 0,1.5
want2 "psy coherence twice" 'the same coherence' $T1 --psychometric p.csv --psy-coherences 0.1,0.10
want2 "psy empty coherence" 'in [0, 1]' $T1 --psychometric p.csv --psy-coherences 0,,1
want2 "psy 33 coherences" 'expected 1..32' $T1 --psychometric p.csv \
    --psy-coherences $(seq -s, 0 0.01 0.32)
want2 "psy-trials 0" 'expected an integer' $T1 --psychometric p.csv --psy-trials 0
want2 "psy options alone" 'need --psychometric' $T1 --psy-trials 10
mkdir -p dir.csv
want2 "psy a directory" 'a directory' $T1 --psychometric dir.csv
want2 "psy = curve" 'name the same file' $T1 --psychometric o.csv
want2 "sweep psy = out" 'name the same file' sweep --out o.csv --psychometric o.csv --task 2af --gains 1 --rules eprop --seeds 1 --quiet
want2 "sweep psy with --lrs" 'does not combine' sweep --out o.csv --psychometric p.csv --lrs 0.001 --task 2af --gains 1 --rules eprop --seeds 1 --quiet
want2 "sweep psy with --feedbacks" 'does not combine' sweep --out o.csv --psychometric p.csv --feedbacks random --task 2af --gains 1 --rules eprop --seeds 1 --quiet
want2 "psycho without model" 'required' psycho --out p.csv
want2 "psycho alpha" "the model's alpha is 0.5" psycho --model m.rpn --out p.csv --alpha 0.9
rm -f p.csv
"$BIN" psycho --model missing.rpn --out p.csv > /dev/null 2> e.txt
st=$?
[ $st -eq 1 ] && [ ! -e p.csv ] && ok || bad "psycho of a missing model: exit $st, $(cat e.txt)"
"$BIN" psycho --model m.rpn --out p.csv --task 2af --N 8 > /dev/null 2> e.txt
[ $? -eq 0 ] && ok || bad "psycho with another --N (ignored): $(cat e.txt)"
"$BIN" psycho --model m.rpn --out p.csv --task cxt > /dev/null 2> e.txt
st=$?
[ $st -eq 1 ] && grep -q 'inputs' e.txt && ok || bad "psycho of a 2af model on cxt: exit $st, $(cat e.txt)"

echo "tool_psycho: $pass passed, $fails failed"
[ $fails -eq 0 ]
