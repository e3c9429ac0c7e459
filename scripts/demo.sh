#!/bin/sh
# `make demo`: the study's claims (MODEL.md §9) in a regime where they hold,
# computed from the demo's own runs; about 2 minutes on 2 free cores after the
# build.  Usage: sh scripts/demo.sh build/rnnplast [outdir]
#
# The regime (issue 14, item 9; chosen on seeds 1-10 among 3 configurations,
# confirmed on the new seeds 11-20: scripts/ablation/README.md):
#   2af with a 20-step delay at leak alpha = 0.5 (the decision must be carried
#   across 10 tau by the recurrent weights), evidence sigma = 1 per step
#   around one constant offset (coherence 0.5: channel means 0.75 / 0.25),
#   every step in the loss (fix-weight 1); tanh units, N = 64; 600 Adam
#   iterations of 32 trials at 3e-3, no clipping; gains 0.1 (sub-critical),
#   1, 2; BPTT and e-prop without flossing; e-prop at g 0.1 also after 100
#   local flossing steps (k 8 exponents, target 0, on single task trials)
#   taken by an Adam of its own (3e-3, no clipping) on W alone; 20 seeds.
# With relu units (the study's default) claims 1 and 3 do not hold in this
# regime (scripts/ablation/README.md): the activation is part of the regime.
# Last, the claims table (`rnnplast claims --study --select-seeds`: claims 1,
# 1b, 2, 3, seed-paired, 95 % bootstrap intervals, exact sign-flip tests,
# Holm), after a line stating the regime.  Claims 1 and 1b choose each rule's
# best gain on seeds 1-10 and test it on seeds 11-20: choosing it on the seeds
# that test it would inflate the effect.  An interrupted demo resumes where it stopped.
set -eu
BIN=${1:?usage: demo.sh path/to/rnnplast [outdir]}
OUT=${2:-results}
mkdir -p "$OUT"

TASK="--task 2af --delay 20 --sigma 1 --coherences 0.5 --fix-weight 1 --alpha 0.5 --act tanh --N 64 --iters 600 --batch 32 --clip 0 --eval-every 50"
FLOSS="--floss-k 8 --floss-iters 100 --floss-optim adam --floss-lr 3e-3 --floss-clip 0 --floss-params W"
SEEDS=20
JOBS=${JOBS:-2}

sweep() { # csv curves args...
    csv=$1
    curves=$2
    shift 2
    st=0
    "$BIN" sweep --out "$csv" --curves "$curves" --jobs "$JOBS" "$@" || st=$?
    if [ $st -eq 2 ] && [ -f "$csv" ]; then
        # written by another configuration (an older demo): start over
        rm -rf "$csv" "$curves"
        st=0
        "$BIN" sweep --out "$csv" --curves "$curves" --jobs "$JOBS" "$@" || st=$?
    fi
    return $st
}

start=$(date +%s)
echo "== 2af, tanh, alpha = 0.5, 20-step delay, sigma 1: BPTT and e-prop at g 0.1, 1, 2, no flossing ($SEEDS seeds)"
sweep "$OUT/demo_claims.csv" "$OUT/curves_claims" $TASK $FLOSS --gains 0.1,1,2 --rules bptt,eprop --floss off --seeds $SEEDS
echo
echo "== the same, e-prop at g 0.1 after 100 local flossing steps ($SEEDS seeds)"
sweep "$OUT/demo_claims_floss.csv" "$OUT/curves_claims_floss" $TASK $FLOSS --gains 0.1 --rules eprop --floss local --seeds $SEEDS

echo
"$BIN" plot --csv "$OUT/demo_claims.csv" --curves "$OUT/curves_claims" --out "$OUT/figures_claims"
echo "demo finished in $(( $(date +%s) - start )) s; CSVs and figures in $OUT/"

echo
echo "== claims ($OUT/demo_claims.csv, $OUT/demo_claims_floss.csv)"
echo "regime: tanh, voltage form, Adam; $TASK; $FLOSS; gains 0.1,1,2 (sub-critical 0.1); $SEEDS seeds (claims 1, 1b: best gain chosen on seeds 1-10, tested on 11-20); flossing: local, e-prop at g 0.1, 100 steps before training"
"$BIN" claims --study --select-seeds --subcritical 0.1 "$OUT/demo_claims.csv" "$OUT/demo_claims_floss.csv"
