#!/bin/sh
# Issue 14, item 6: why the issue's driver shows claim 3 (local flossing helps
# e-prop at a sub-critical gain) and `make demo` the reverse — by ablation, one
# factor at a time.
#
#   sh scripts/ablation/ablation.sh [OUTDIR] [SEEDS]      (defaults results/ablation, 10)
#
# from the top of a built tree (`make all`: build/librnnplast.a, build/rnnplast).
# Builds scripts/ablation/driver.c (the driver reconstructed from the issue's
# recipe, public API only), then for every configuration below trains e-prop at
# g 0.5 without and with 100 pre-flossing steps on seeds 1..SEEDS (paired: the
# same seed draws the same weights and training trials with and without), plus
# the driver's BPTT at g 0.5 and 1, and the tool itself with the driver's values.
# Writes OUTDIR/ablation.csv (with `# built:` and `# command:` lines) and
# OUTDIR/ablation.md (the table: mean choice accuracy without / with flossing,
# the paired difference with its 95 % t interval and exact sign-flip p).
# 362 runs, about 7 CPU-minutes at 10 seeds (about 4 minutes on 2 idle cores;
# 19 minutes at load average 10); JOBS (default 2) runs at a time; an
# interrupted run resumes.  Results and discussion: scripts/ablation/README.md.
set -eu
OUT=${1:-results/ablation}
SEEDS=${2:-10}
SEEDS_B=${SEEDS_B:-5}     # seeds of the B configurations
SEEDS_ID=${SEEDS_ID:-3}   # seeds of the two configurations identical by construction
JOBS=${JOBS:-2}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
DRV=$TOP/build/ablation_driver
BIN=$TOP/build/rnnplast
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

DEPLIBS=$(pkg-config --libs openblas lapacke sleef 2>/dev/null || echo -lopenblas -llapacke -lsleef)
DEPCFLAGS=$(pkg-config --cflags openblas lapacke sleef 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -I"$TOP/include" $DEPCFLAGS \
    "$HERE/driver.c" -o "$DRV" "$TOP/build/librnnplast.a" $DEPLIBS -lz -lm

COMMIT=$(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$TOP" status --porcelain -- scripts/ablation src include 2>/dev/null | head -1)
CSV=$OUT/ablation.csv
JOBLIST=$OUT/jobs.txt
: > "$JOBLIST"

TOOL="--readout ce --fix-weight 0.1 --sigma 0.1 --coherences 0.128,0.256,0.512 --clip 1 --floss-k 1 --floss-steps 50 --floss-clip 1 --floss-transient 9 --floss-optim shared --floss-params all"
# name|seeds|driver flags (added to the recipe's defaults; a later flag
# overrides an earlier one).  A: the recipe, then each factor switched alone
# to the tool's value (`rnnplast sweep` as `make demo` runs it: 3-class CE,
# fix-weight 0.1, sigma 0.1, coherences 0.128-0.512, clip 1, flossing k 1 for
# 50 steps through the task's Adam with clip 1, transient T/4 = 9, all
# parameters).  The flossing learning rate is no factor: the tool's default
# is the task's, 3e-3, the recipe's value.  A10 and A11 are identical to A00
# by construction (a fresh Adam and the task's Adam reset after pre-flossing
# take the same steps; local flossing in the voltage form reaches only W), so
# a few seeds confirm it.  B: from all the tool's values, each factor switched
# alone back to the recipe's.
CONFIGS="A00 recipe|$SEEDS|
A01 readout=ce (3-class CE, per-trial choice)|$SEEDS|--readout ce
A02 fix-weight=0.1|$SEEDS|--fix-weight 0.1
A03 sigma=0.1|$SEEDS|--sigma 0.1
A04 coherences=0.128;0.256;0.512|$SEEDS|--coherences 0.128,0.256,0.512
A05 task clip=1|$SEEDS|--clip 1
A06 floss k=1|$SEEDS|--floss-k 1
A07 floss steps=50|$SEEDS|--floss-steps 50
A08 floss clip=1|$SEEDS|--floss-clip 1
A09 floss transient=9 (T/4)|$SEEDS|--floss-transient 9
A10 floss optim=shared (reset)|$SEEDS_ID|--floss-optim shared
A11 floss params=all|$SEEDS_ID|--floss-params all
B00 all tool values|$SEEDS_B|$TOOL
B01 tool but readout=mse (+-1, sign of sum)|$SEEDS_B|$TOOL --readout mse
B02 tool but fix-weight=1|$SEEDS_B|$TOOL --fix-weight 1
B03 tool but sigma=1|$SEEDS_B|$TOOL --sigma 1
B04 tool but coherence=0.5|$SEEDS_B|$TOOL --coherences 0.5
B05 tool but task clip=0|$SEEDS_B|$TOOL --clip 0
B06 tool but floss k=8|$SEEDS_B|$TOOL --floss-k 8
B07 tool but floss steps=100|$SEEDS_B|$TOOL --floss-steps 100
B08 tool but floss clip=0|$SEEDS_B|$TOOL --floss-clip 0
B09 tool but floss transient=5|$SEEDS_B|$TOOL --floss-transient 5"

echo "$CONFIGS" | while IFS='|' read -r name ns flags; do
    fs=100
    # the last --floss-steps given is the number of flossing steps of the "with" run
    case "$flags" in *--floss-steps*) fs=$(echo "$flags" | sed 's/.*--floss-steps \([0-9]*\).*/\1/') ;; esac
    flags=$(echo "$flags" | sed 's/--floss-steps [0-9]*//g')
    s=1
    tag=$(echo "$name" | cut -c1-3)
    while [ $s -le "$ns" ]; do
        echo "${tag}_eprop_0.5_${s}_0|$name|--rule eprop --gain 0.5 --seed $s --floss-iters 0 $flags" >> "$JOBLIST"
        echo "${tag}_eprop_0.5_${s}_$fs|$name|--rule eprop --gain 0.5 --seed $s --floss-iters $fs $flags" >> "$JOBLIST"
        s=$((s + 1))
    done
done
s=1
while [ $s -le "$SEEDS" ]; do
    echo "C00_bptt_0.5_${s}_0|C00 recipe bptt|--rule bptt --gain 0.5 --seed $s" >> "$JOBLIST"
    echo "C00_bptt_1_${s}_0|C00 recipe bptt|--rule bptt --gain 1 --seed $s" >> "$JOBLIST"
    s=$((s + 1))
done

start=$(date +%s)
# one job per line "key|name|flags"; each writes "name,<driver line>" to
# OUT/rows/key (an interrupted run resumes: finished keys are not rerun);
# xargs runs JOBS at a time
mkdir -p "$OUT/rows"
tr '\n' '\0' < "$JOBLIST" | xargs -0 -P "$JOBS" -n 1 sh -c '
    out=$1; key=${2%%|*}; rest=${2#*|}; name=${rest%%|*}; flags=${rest#*|}
    [ -s "$out/rows/$key" ] && exit 0
    line=$("$0" $flags) || { echo "driver failed: $flags" >&2; exit 1; }
    echo "\"$name\",$line" > "$out/rows/$key.tmp" && mv "$out/rows/$key.tmp" "$out/rows/$key"' "$DRV" "$OUT"
cat "$OUT"/rows/* > "$OUT/rows.tmp"

{
    echo "# ablation of the issue-14 driver (scripts/ablation/driver.c): e-prop g 0.5, flossing 0 vs 100 (or as named) steps"
    echo "# built: librnnplast at commit $COMMIT${DIRTY:+ (modified)}, driver scripts/ablation/driver.c"
    echo "# command: sh scripts/ablation/ablation.sh $* (SEEDS=$SEEDS SEEDS_B=$SEEDS_B SEEDS_ID=$SEEDS_ID JOBS=$JOBS)"
    echo "config,rule,gain,seed,floss_iters,acc,resp,lambda_before,lambda_after,F_first,F_last,train_loss"
    sort -t, -k1,1 -s "$OUT/rows.tmp"
} > "$CSV"
rm -f "$OUT/rows.tmp"

# The tool with the driver's values (where it has the flag): CE readout and
# transient T/4 are then the remaining differences.
TOOLTASK="--task 2af --delay 20 --alpha 0.5 --N 64 --batch 32 --iters 600 --test-batch 512 --quiet"
DRVVALS="--sigma 1 --coherences 0.5 --fix-weight 1 --clip 0 --floss-k 8 --floss-optim adam --floss-lr 3e-3 --floss-clip 0 --floss-params W --floss-iters 100"
"$BIN" sweep --out "$OUT/tool_driver_values.csv" $TOOLTASK $DRVVALS --rules eprop --gains 0.5 \
    --floss off,local --seeds "$SEEDS" --jobs "$JOBS"
"$BIN" sweep --out "$OUT/tool_demo_values.csv" $TOOLTASK --sigma 0.1 --fix-weight 0.1 \
    --coherences 0.128,0.256,0.512 --rules eprop --gains 0.5 --floss off,local --seeds "$SEEDS_B" --jobs "$JOBS"
echo "ablation runs took $(( $(date +%s) - start )) s"

"$PY" "$HERE/summarize.py" "$CSV" "$OUT/tool_driver_values.csv" "$OUT/tool_demo_values.csv" > "$OUT/ablation.md"
cat "$OUT/ablation.md"
