#!/bin/sh
# The ModProp study of docs/RESULTS.md ("ModProp: does reaching further back
# change how much the initial connectivity matters?"), from scratch:
#
#     nice make -j2 all python && sh scripts/modprop_study.sh [outdir]
#
# (outdir, relative to the repository root, default build/modprop_study; about 17 minutes on the shared 2-core
# machine; JOBS=2 training processes).  It trains every network with
# `rnnplast train ... --model` (the tool's sweep does not save models), then
# scores the saved models in Python (scripts/modprop_study.py) with one
# choice per trial on fresh test trials, and measures gradient alignment with
# BPTT through the Python package.  Stages:
#
#   1. mu grid: ModProp at each gain with mu in $MUS, and e-prop (= mu 0) as
#      the reference, on the VALIDATION seeds 101..110 (never the test seeds);
#   2. choose mu per gain: the best mean choice accuracy on validation trials
#      (modprop_study.py choose -> outdir/ACT/mu.txt);
#   3. test runs on seeds 1..20: the initial networks (--iters 0), BPTT,
#      e-prop, ModProp (chosen mu) without flossing, e-prop and ModProp with
#      local flossing (--floss local: the tool's default 50 flossing steps
#      before training, at the task's learning rate; and 10 steps);
#   4. the report (Markdown on stdout and in outdir/ACT/report.md, per-run
#      rows in outdir/ACT/runs.csv, the summary in outdir/ACT/summary.csv).
#
# It runs twice: relu (the study's activation; with the flossing arms) into
# outdir/relu, then tanh (the activation control; no flossing) into
# outdir/tanh; each has its own mu grid.
#
# Regime: docs/RESULTS.md's (2af, alpha 0.5, delay 20, N 32, relu, voltage,
# fix-weight 0.1, coherences 0.128/0.256/0.512, Adam at the tool's default
# rate 3e-3, clip 1, 500 iterations x 16 trials).  ModProp's cell types are
# ei:0.8 (units 0..25 type 0, 26..31 type 1) on a Dale-free Gaussian W.
set -eu
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
BIN=${RNNPLAST:-build/rnnplast}
OUT=${1:-build/modprop_study}
JOBS=${JOBS:-2}
PY=/usr/bin/python3
export PYTHONPATH=build/python${PYTHONPATH:+:$PYTHONPATH}

GAINS=${GAINS:-"0.1 0.2 0.3 0.5 0.75 1 1.5 2 3"}
MUS=${MUS:-"0.25 0.5 1 2 4 8"}
VAL_SEEDS=${VAL_SEEDS:-"101 102 103 104 105 106 107 108 109 110"}
TEST_SEEDS=${TEST_SEEDS:-"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"}
ITERS=${ITERS:-500}
TASK="--task 2af --delay 20 --fix-weight 0.1 --coherences 0.128,0.256,0.512 --alpha 0.5 --N 32 --form voltage"
# the tool's own test and lambda_max are not used (Python scores the models): kept small
TRAIN="--batch 16 --test-batch 16 --eval-every 100000 --lyap-trials 1 --quiet"
TYPES="--cell-types ei:0.8"

[ -x "$BIN" ] || { echo "modprop_study: $BIN not built (nice make -j2 all python)" >&2; exit 2; }
[ -d build/python/rnnplast ] || { echo "modprop_study: build/python not built (make python)" >&2; exit 2; }

# One training run: a job line is "name args...", the model goes to
# $OUT/models/name.rpn, the tool's output and exit status to $OUT/logs/.
if [ "${1:-}" = "__job" ]; then
    OUT=$2
    name=$3
    shift 3
    st=0
    "$BIN" train $TASK $TRAIN "$@" --model "$OUT/models/$name.rpn" >"$OUT/logs/$name.txt" 2>&1 || st=$?
    echo "$st" >"$OUT/logs/$name.rc"
    exit 0
fi

run_jobs() { # jobfile
    xargs -P "$JOBS" -L 1 sh "$SELF" __job "$D" <"$1"
    n=$(wc -l <"$1")
    bad=$(cat "$D"/logs/*.rc | grep -cv '^0$' || true)
    echo "   $n runs done ($bad runs so far ended with a nonzero exit status; see $D/logs)"
}

# The whole study for one activation into $OUT/act: mu grid, choice of mu,
# test runs (BPTT; e-prop and ModProp for each flossing arm), report.
study() { # act "flossing arms"
    act=$1
    arms=$2
    D=$OUT/$act
    mkdir -p "$D/models" "$D/logs"
    t0=$(date +%s)
    {
        echo "commit $commit${dirty:+ (with uncommitted changes)}"
        echo "command: sh scripts/modprop_study.sh $OUT"
        echo "ACT=$act FLOSS_ARMS=$arms GAINS=$GAINS MUS=$MUS ITERS=$ITERS"
        echo "VAL_SEEDS=$VAL_SEEDS"
        echo "TEST_SEEDS=$TEST_SEEDS"
        echo "TASK=$TASK --act $act"
        echo "TRAIN=$TRAIN $TYPES"
    } >"$D/setup.txt"
    cat "$D/setup.txt"

    echo "== $act 1. mu grid on the validation seeds"
    : >"$D/jobs_grid.txt"
    for g in $GAINS; do
        for s in $VAL_SEEDS; do
            echo "val_eprop_off_g${g}_s$s --act $act --rule eprop --gain $g --seed $s --iters $ITERS" >>"$D/jobs_grid.txt"
            for mu in $MUS; do
                echo "val_modprop${mu}_off_g${g}_s$s --act $act --rule modprop $TYPES --modprop-mu $mu --gain $g --seed $s --iters $ITERS" >>"$D/jobs_grid.txt"
            done
        done
    done
    run_jobs "$D/jobs_grid.txt"

    echo "== $act 2. choose mu per gain (validation seeds, validation trials)"
    GAINS="$GAINS" MUS="$MUS" VAL_SEEDS="$VAL_SEEDS" $PY scripts/modprop_study.py choose "$D"
    cat "$D/mu.txt"

    echo "== $act 3. test runs on the test seeds"
    : >"$D/jobs_test.txt"
    while read -r g mu; do
        for s in $TEST_SEEDS; do
            {
                echo "init_g${g}_s$s --act $act --rule bptt --gain $g --seed $s --iters 0"
                echo "bptt_off_g${g}_s$s --act $act --rule bptt --gain $g --seed $s --iters $ITERS"
                for fl in $arms; do
                    case $fl in
                    local10) f="--floss local --floss-iters 10" ;;
                    *) f="--floss $fl" ;;
                    esac
                    echo "eprop_${fl}_g${g}_s$s --act $act --rule eprop $f --gain $g --seed $s --iters $ITERS"
                    echo "modprop_${fl}_g${g}_s$s --act $act --rule modprop $TYPES --modprop-mu $mu $f --gain $g --seed $s --iters $ITERS"
                done
            } >>"$D/jobs_test.txt"
        done
    done <"$D/mu.txt"
    run_jobs "$D/jobs_test.txt"

    echo "== $act 4. evaluation, alignment and report (training took $(($(date +%s) - t0)) s)"
    GAINS="$GAINS" MUS="$MUS" VAL_SEEDS="$VAL_SEEDS" TEST_SEEDS="$TEST_SEEDS" FLOSS_ARMS="$arms" \
        STUDY_START="$t0" $PY scripts/modprop_study.py report "$D" >"$D/report.md"
    cat "$D/report.md"
}

start=$(date +%s)
commit=$(git rev-parse --short=12 HEAD)
dirty=$(git status --porcelain --untracked-files=no | head -1)
if [ -e "$OUT" ] && [ ! -f "$OUT/modprop_study.txt" ]; then
    echo "modprop_study: $OUT exists and is not a study's output directory: choose another" >&2
    exit 2
fi
rm -rf "$OUT" # a fresh start: no model of an older commit is reused
mkdir -p "$OUT"
echo "commit $commit" >"$OUT/modprop_study.txt"

# relu (the study's activation) with flossing arms; tanh as the activation control, without
study relu "${RELU_ARMS:-off local local10}"
study tanh "${TANH_ARMS:-off}"
echo "modprop study finished in $(($(date +%s) - start)) s at commit $commit; outputs in $OUT/{relu,tanh}"
