#!/bin/sh
# `make demo`: a small version of the study (MODEL.md §9) that finishes in a
# few minutes on 2 cores.  Usage: sh scripts/demo.sh build/rnnplast [outdir]
#
# The configuration keeps the question alive.  With alpha = 0.9 a delayed
# decision is learned from every gain and the effect of the initial gain
# disappears; with alpha = 0.5 (dt/tau = 0.5) and a 20-step delay between the
# evidence and the decision, the network must carry the evidence across the
# delay through its recurrent weights, and how well it learns depends on g.
#
# Main sweep: 2af, alpha 0.5, delay 20; gains 0.1 ... 3; BPTT, e-prop, RFLO;
# without and with flossing ("on": exact for BPTT, local for e-prop/RFLO,
# 50 flossing steps before training); 4 seeds; 300 Adam iterations of 16 trials.
# Contrast sweep: the same at alpha 0.9, without flossing, 2 seeds.
# Last, the claims table of the main sweep (`rnnplast claims --study`: claims
# 1, 1b, 2, 3 of MODEL.md §9, seed-paired, 95 % bootstrap intervals, exact
# sign-flip tests, Holm), after a line stating the regime it was computed in.
# An interrupted demo resumes where it stopped when run again.
set -eu
BIN=${1:?usage: demo.sh path/to/rnnplast [outdir]}
OUT=${2:-results}
mkdir -p "$OUT"

TASK="--task 2af --delay 20 --fix-weight 0.1 --coherences 0.128,0.256,0.512 --N 32 --iters 300 --batch 16"
GRID="--gains 0.1,0.3,0.5,1,1.5,2,3 --rules bptt,eprop,rflo"
MAIN="--alpha 0.5 --floss off,on --seeds 4"
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
echo "== main sweep: 2af, alpha = 0.5, 20-step delay (7 gains x 3 rules x flossing off/on x 4 seeds)"
sweep "$OUT/demo_alpha0.5.csv" "$OUT/curves_alpha0.5" $TASK $GRID $MAIN
echo
echo "== contrast: the same task at alpha = 0.9, no flossing (2 seeds)"
sweep "$OUT/demo_alpha0.9.csv" "$OUT/curves_alpha0.9" $TASK $GRID --alpha 0.9 --floss off --seeds 2

echo
"$BIN" plot --csv "$OUT/demo_alpha0.5.csv" --curves "$OUT/curves_alpha0.5" --out "$OUT/figures_alpha0.5"
"$BIN" plot --csv "$OUT/demo_alpha0.9.csv" --curves "$OUT/curves_alpha0.9" --out "$OUT/figures_alpha0.9"
echo "demo finished in $(( $(date +%s) - start )) s; CSVs and figures in $OUT/"

echo
echo "== claims of the main sweep ($OUT/demo_alpha0.5.csv)"
echo "regime: relu, voltage form, Adam; $TASK $GRID $MAIN; floss on = local for e-prop/RFLO, exact for BPTT (50 steps before training)"
"$BIN" claims --study "$OUT/demo_alpha0.5.csv"
