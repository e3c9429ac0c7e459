#!/bin/sh
# End-to-end smoke test of the rnnplast program (run by `make check`):
# every subcommand on a tiny configuration, resume of an interrupted sweep
# against an uninterrupted one, and every bad flag or value exiting 2 with a
# one-line message.  Usage: sh tests/tool_smoke.sh build/rnnplast
set -u
BIN=${1:?usage: tool_smoke.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_smoke: FAIL: $*" >&2; fails=$((fails + 1)); }
# The CSVs' data without their provenance lines (built, command): the
# command lines of the runs compared differ (--out, --resume, mpirun).
same() {
    grep -v -e '^# built: ' -e '^# command' "$1" > "$1.nop"
    grep -v -e '^# built: ' -e '^# command' "$2" > "$2.nop"
    cmp -s "$1.nop" "$2.nop"
}
# Wait for the $2 (train or sweep) of pid $1, sent SIGINT with its stderr in
# $TMP/kerr: exit 130 with a message, or 0 if it finished before the signal.
expect_interrupted() {
    wait "$1"
    kst=$?
    if [ $kst -eq 130 ]; then
        grep -q 'interrupted' "$TMP/kerr" && ok || bad "interrupted $2: no message"
    elif [ $kst -ne 0 ]; then
        bad "interrupted $2 exited $kst: $(cat "$TMP/kerr")"
    fi
}

# A tiny task and network: a run takes milliseconds.
TINY="--task 2af --N 8 --iters 6 --batch 4 --test-batch 8 --eval-every 3 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1"

# ---- train ---------------------------------------------------------------
if "$BIN" train $TINY --rule bptt --gain 1.5 --curve "$TMP/curve.csv" --model "$TMP/m.rpn" --quiet \
    > "$TMP/train.out" 2> "$TMP/train.err"; then ok; else bad "train exited $? ($(cat "$TMP/train.err"))"; fi
grep -q '^lambda_max *before' "$TMP/train.out" && ok || bad "train: no lambda_max line"
grep -q '^final test loss' "$TMP/train.out" && ok || bad "train: no final test loss"
[ "$(grep -v "^#" "$TMP/curve.csv" 2>/dev/null | head -1)" = "iter,train_loss,test_loss,test_acc,floss_F,response_rate,choice_acc" ] && ok \
    || bad "train: learning curve header"
# evaluations at 0, 3, 6 -> 3 rows after the header
[ "$(grep -vc "^#" "$TMP/curve.csv" 2>/dev/null)" -eq 4 ] && [ "$(grep -c "^# " "$TMP/curve.csv")" -eq 2 ] && ok || bad "train: learning curve rows"
for r in tbptt rtrl eprop rflo; do
    "$BIN" train $TINY --rule $r --quiet > /dev/null 2> "$TMP/err" && ok || bad "train --rule $r: $(cat "$TMP/err")"
done
"$BIN" train $TINY --rule eprop --floss local --floss-phase during --floss-iters 2 --quiet > /dev/null 2> "$TMP/err" \
    && ok || bad "train with local flossing: $(cat "$TMP/err")"
"$BIN" train $TINY --rule bptt --floss exact --floss-phase inter --floss-every 2 --quiet > /dev/null 2> "$TMP/err" \
    && ok || bad "train with exact flossing: $(cat "$TMP/err")"
"$BIN" train --task copy --T 12 --delay 2 --N 8 --iters 4 --batch 2 --test-batch 4 --lyap-trials 1 --quiet \
    > /dev/null 2> "$TMP/err" && ok || bad "train on copy: $(cat "$TMP/err")"

# ---- train: checkpoint and resume equal an uninterrupted run -----------------
# (noise > 0 and RFLO's random feedback, so every part of the state counts)
CK="$TINY --noise 0.1 --quiet"
for r in rflo bptt; do
    "$BIN" train $CK --rule $r --curve "$TMP/ck_full.csv" --model "$TMP/ck_full.rpn" > /dev/null 2> "$TMP/err" \
        || bad "train --rule $r (reference): $(cat "$TMP/err")"
    rm -f "$TMP/ck.rpc" "$TMP/ck_part.rpn"
    "$BIN" train $CK --rule $r --curve "$TMP/ck_part.csv" --model "$TMP/ck_part.rpn" --checkpoint "$TMP/ck.rpc" \
        --checkpoint-every 2 --stop-after 4 > /dev/null 2> "$TMP/err"
    [ $? -eq 1 ] && grep -q 'paused after 4 of 6' "$TMP/err" && ok || bad "train --stop-after 4: $(cat "$TMP/err")"
    [ ! -f "$TMP/ck_part.rpn" ] && ok || bad "a paused run wrote its model"
    "$BIN" train $CK --rule $r --curve "$TMP/ck_part.csv" --model "$TMP/ck_part.rpn" --checkpoint "$TMP/ck.rpc" \
        --resume "$TMP/ck.rpc" > /dev/null 2> "$TMP/err" && ok || bad "train --resume ($r): $(cat "$TMP/err")"
    cmp -s "$TMP/ck_full.rpn" "$TMP/ck_part.rpn" && ok || bad "resumed $r model differs from the uninterrupted one"
    same "$TMP/ck_full.csv" "$TMP/ck_part.csv" && ok || bad "resumed $r learning curve differs"
done
# other settings are refused, naming the setting
"$BIN" train $CK --rule bptt --gain 2 --resume "$TMP/ck.rpc" > /dev/null 2> "$TMP/err"
[ $? -eq 1 ] && grep -q "gain=" "$TMP/err" && ok || bad "resume with another gain: $(cat "$TMP/err")"
# a damaged checkpoint is refused
head -c 100 "$TMP/ck.rpc" > "$TMP/ck_bad.rpc"
"$BIN" train $CK --rule bptt --resume "$TMP/ck_bad.rpc" > /dev/null 2> "$TMP/err"
[ $? -eq 1 ] && grep -q "truncated" "$TMP/err" && ok || bad "resume from a truncated checkpoint: $(cat "$TMP/err")"
# SIGINT pauses with the checkpoint written (exit 130); resuming ends as if never stopped
KT="--task 2af --N 16 --iters 3000 --batch 4 --test-batch 8 --eval-every 100 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --quiet --rule eprop"
"$BIN" train $KT --model "$TMP/kt_full.rpn" --curve "$TMP/kt_full.csv" > /dev/null 2>&1 || bad "train (signal reference)"
"$BIN" train $KT --model "$TMP/kt_part.rpn" --curve "$TMP/kt_part.csv" --checkpoint "$TMP/kt.rpc" \
    --checkpoint-every 500 > /dev/null 2> "$TMP/kerr" &
kpid=$!
# the first checkpoint proves the handler is installed (a signal before it would kill)
i=0
while [ ! -f "$TMP/kt.rpc" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $kpid 2> /dev/null
# (exit 0: it finished first; the resume below then starts from the final checkpoint)
expect_interrupted $kpid train
"$BIN" train $KT --model "$TMP/kt_part.rpn" --curve "$TMP/kt_part.csv" --checkpoint "$TMP/kt.rpc" \
    --resume "$TMP/kt.rpc" > /dev/null 2> "$TMP/err" && ok || bad "resume after SIGINT: $(cat "$TMP/err")"
cmp -s "$TMP/kt_full.rpn" "$TMP/kt_part.rpn" && same "$TMP/kt_full.csv" "$TMP/kt_part.csv" && ok \
    || bad "train resumed after SIGINT differs from the uninterrupted run"

# ---- lyap ----------------------------------------------------------------
"$BIN" lyap --N 10 --gain 0.5 --k 3 --steps 50 --transient 10 --act tanh --autonomous > "$TMP/lyap.out" 2>&1 \
    && ok || bad "lyap fresh: $(cat "$TMP/lyap.out")"
[ "$(grep -vc '^#' "$TMP/lyap.out")" -eq 3 ] && ok || bad "lyap: expected 3 exponents"
"$BIN" lyap --N 10 --gain 2 --task 2af --k 2 --steps 40 > /dev/null 2>&1 && ok || bad "lyap task-driven"
if [ -f "$TMP/m.rpn" ]; then
    "$BIN" lyap --model "$TMP/m.rpn" --task 2af --k 2 --steps 40 > /dev/null 2> "$TMP/err" \
        && ok || bad "lyap --model: $(cat "$TMP/err")"
else
    echo "tool_smoke: note: no model was saved (rp_net_save unavailable?); lyap --model skipped" >&2
fi

# ---- sweep: resume equals uninterrupted --------------------------------------
GRID="$TINY --gains 0.5,1.5 --rules bptt,eprop --floss off,on --seeds 2 --floss-iters 2 --quiet --jobs 2"
"$BIN" sweep $GRID --out "$TMP/full.csv" --curves "$TMP/curves" > "$TMP/sweep.out" 2> "$TMP/err" \
    && ok || bad "sweep: $(cat "$TMP/err")"
[ "$(grep -c '^[a-z]*,[0-9.]*,' "$TMP/full.csv")" -eq 16 ] && ok || bad "sweep: expected 16 rows"
grep -q 'lambda_max after' "$TMP/sweep.out" && ok || bad "sweep: no summary table"
"$BIN" sweep $GRID --out "$TMP/part.csv" --stop-after 5 > /dev/null 2>&1
[ $? -eq 1 ] && ok || bad "sweep --stop-after: expected exit 1 (incomplete)"
rows=$(grep -c '^[a-z]*,[0-9.]*,' "$TMP/part.csv")
[ "$rows" -ge 5 ] && [ "$rows" -lt 16 ] && ok || bad "interrupted sweep kept $rows rows"
# a line cut by a crash is dropped and its run redone
printf 'eprop,1.5,on,2,1,6,0.1' >> "$TMP/part.csv"
"$BIN" sweep $GRID --out "$TMP/part.csv" > /dev/null 2> "$TMP/err" && ok || bad "resumed sweep: $(cat "$TMP/err")"
same "$TMP/full.csv" "$TMP/part.csv" && ok || bad "resumed sweep CSV differs from the uninterrupted one"
# a finished sweep reruns nothing (same file, exits at once)
"$BIN" sweep $GRID --out "$TMP/part.csv" > /dev/null 2>&1 && same "$TMP/full.csv" "$TMP/part.csv" && ok \
    || bad "rerun of a finished sweep changed it"

# a real interruption (SIGINT mid-sweep), then resume: the same CSV again
KGRID="--task 2af --N 16 --iters 1000 --batch 4 --test-batch 8 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --gains 0.5,1.5 --rules bptt,eprop --seeds 4 --quiet --jobs 2"
"$BIN" sweep $KGRID --out "$TMP/kfull.csv" > /dev/null 2>&1 && ok || bad "sweep (kill grid)"
"$BIN" sweep $KGRID --out "$TMP/kpart.csv" > /dev/null 2> "$TMP/kerr" &
kpid=$!
sleep 0.4
kill -INT $kpid 2> /dev/null
# (exit 0: it finished before the signal; the resume below is then a no-op)
expect_interrupted $kpid sweep
"$BIN" sweep $KGRID --out "$TMP/kpart.csv" > /dev/null 2> "$TMP/err" && ok || bad "resume after SIGINT: $(cat "$TMP/err")"
same "$TMP/kfull.csv" "$TMP/kpart.csv" && ok || bad "resume after SIGINT: CSV differs from the uninterrupted one"

# ---- plot ------------------------------------------------------------------
if command -v gnuplot > /dev/null 2>&1; then
    "$BIN" plot --csv "$TMP/full.csv" --out "$TMP/fig" --curves "$TMP/curves" > /dev/null 2> "$TMP/err" \
        && ok || bad "plot: $(cat "$TMP/err")"
    for f in accuracy_vs_gain loss_vs_gain lambda_vs_gain flossing learning_curves; do
        [ -s "$TMP/fig/$f.png" ] && ok || bad "plot: no $f.png"
    done
else
    echo "tool_smoke: note: gnuplot not installed; plot skipped" >&2
fi

# ---- --help on every subcommand --------------------------------------------
for c in train lyap sweep plot; do
    "$BIN" $c --help > "$TMP/help" 2>&1 && grep -q "^usage: rnnplast $c" "$TMP/help" && ok || bad "$c --help"
done
"$BIN" --help > /dev/null && ok || bad "--help"

# ---- bad flags and values: exit 2, one line naming the problem -------------
expect2() {
    "$BIN" "$@" > "$TMP/o" 2> "$TMP/e"
    st=$?
    if [ $st -ne 2 ]; then bad "'$*' exited $st, expected 2"; return; fi
    if [ "$(wc -l < "$TMP/e")" -ne 1 ]; then bad "'$*': expected one line on stderr, got: $(cat "$TMP/e")"; return; fi
    ok
}
expect2
expect2 frobnicate
expect2 train --nope
expect2 train --gain
expect2 train --gain abc
expect2 train --gain -1
expect2 train --gain=nan
expect2 train --rule backprop
expect2 train --task nope
expect2 train --alpha 1
expect2 train --alpha 0.5 --dt-tau 0.5
expect2 train --dt-tau 0
expect2 train --N 0
expect2 train --N -3
expect2 train --batch 0
expect2 train --iters 1x
expect2 train --lr 0
expect2 train --clip -1
expect2 train --form diagonal
expect2 train --act sigmoid
expect2 train --optim rmsprop
expect2 train --floss maybe
expect2 train --floss-phase after
expect2 train --floss-k 0
expect2 train --floss-beta 0
expect2 train --task copy --delay 100
expect2 train --task 2af --decision 0
expect2 train --coherences 0.1,x
expect2 train --coherences 2
expect2 train --fix-weight 3
expect2 train --sigma -1
expect2 train --quiet=1
expect2 train stray
expect2 train --checkpoint-every 5
expect2 train --stop-after 2
expect2 train --checkpoint x.rpc --checkpoint-every 0
expect2 train --checkpoint x.rpc --stop-after 0
expect2 lyap --k 0
expect2 lyap --N 4 --k 5
expect2 lyap --task nope
expect2 lyap --model x --gain 2
expect2 lyap --alpha -0.1
expect2 sweep
expect2 sweep --out "$TMP/x.csv" --gains 1,a
expect2 sweep --out "$TMP/x.csv" --rules bptt,magic
expect2 sweep --out "$TMP/x.csv" --floss off,sometimes
expect2 sweep --out "$TMP/x.csv" --seeds 0
expect2 sweep --out "$TMP/x.csv" --jobs 0
expect2 sweep $GRID --out "$TMP/full.csv" --iters 7
expect2 plot
expect2 plot --csv a.csv
expect2 plot --csv a.csv --out d --bogus 1

echo "tool_smoke: $pass passed, $fails failed"
[ $fails -eq 0 ]
