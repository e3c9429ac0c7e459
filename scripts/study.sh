#!/bin/sh
# The study behind docs/RESULTS.md (MODEL.md §9; issue 14): every sweep, one
# CSV per sweep, each starting with the commit and the exact command.
#
#   sh scripts/study.sh build/rnnplast OUTDIR [WAVE ...]
#
# WAVE is any of: main tanh controls tanh-controls lowcoh dms cxt size long lr
# feedback single cosine figures
# (default: all, in that order).  A wave that was interrupted resumes where it
# stopped when run again (rnnplast sweep resumes its CSV).  Wall time on the
# 2-core development machine: docs/RESULTS.md.  JOBS (default 2) sets the
# parallel runs; on a cluster, MPI_LAUNCH="mpirun -np 64" with BIN
# build/rnnplast-mpi (`make mpi`) runs every sweep over MPI ranks instead
# (the same rows: docs/SCALING.md).
set -eu
BIN=${1:?usage: study.sh path/to/rnnplast OUTDIR [WAVE ...]}
OUT=${2:?usage: study.sh path/to/rnnplast OUTDIR [WAVE ...]}
shift 2
WAVES=${*:-main tanh controls tanh-controls lowcoh dms cxt size long lr feedback single cosine figures}
JOBS=${JOBS:-2}
mkdir -p "$OUT" "$OUT/psychometric"

# The headline regime: 2af with a 20-step delay at alpha 0.5 (dt/tau = 0.5, so
# the delay is 10 tau), N 32, 500 Adam iterations of 16 trials, 256 test trials.
TASK="--task 2af --delay 20 --fix-weight 0.1 --coherences 0.128,0.256,0.512"
NET="--N 32 --alpha 0.5"
TRAIN="--iters 500 --batch 16 --test-batch 256"
GAINS="--gains 0.1,0.3,0.5,1,1.5,2,3"
RULES="--rules bptt,eprop,rflo"

sweep() { # name args...
    name=$1
    shift
    echo "== $name: $*"
    if [ -n "${MPI_LAUNCH:-}" ]; then # the same rows over MPI ranks (docs/SCALING.md)
        # shellcheck disable=SC2086  # MPI_LAUNCH is a command line, e.g. "mpirun -np 8"
        $MPI_LAUNCH "$BIN" sweep --mpi --out "$OUT/$name.csv" --curves "$OUT/curves_$name" --quiet "$@"
    else
        "$BIN" sweep --out "$OUT/$name.csv" --curves "$OUT/curves_$name" --jobs "$JOBS" --quiet "$@"
    fi
}

for w in $WAVES; do
    case $w in
    main) # claims 1-3, relu: every rule crossed with no, local and exact flossing
        sweep main $TASK $NET $TRAIN $GAINS $RULES --floss off,local,exact --seeds 20 ;;
    tanh) # the activation as a factor
        sweep tanh $TASK $NET $TRAIN $GAINS $RULES --act tanh --floss off,local,exact --seeds 20 ;;
    controls) # is flossing more than re-initializing W, or more training?
        sweep controls $TASK $NET $TRAIN --gains 0.1,0.3,0.5 $RULES --floss rescale,extra --seeds 20 ;;
    tanh-controls)
        sweep tanh-controls $TASK $NET $TRAIN --gains 0.1,0.3,0.5 $RULES --act tanh --floss rescale,extra --seeds 20 ;;
    lowcoh) # the task with its low coherences: no longer a one-bit memory task;
        # psychometric curves of every trained net (200 trials per coherence)
        sweep lowcoh --task 2af --delay 20 --fix-weight 0.1 --coherences 0,0.032,0.064,0.128,0.256,0.512 \
            $NET $TRAIN $GAINS $RULES --floss off --seeds 20 --psychometric "$OUT/psychometric/lowcoh.csv" ;;
    dms) # claim 1 on a second task
        sweep dms --task dms --fix-weight 0.1 $NET $TRAIN $GAINS $RULES --floss off --seeds 20 ;;
    cxt) # and a third
        sweep cxt --task cxt --delay 20 --fix-weight 0.1 $NET $TRAIN $GAINS $RULES --floss off --seeds 20 ;;
    size) # N 64 and 128: does the gain effect survive a larger network?
        sweep n64 $TASK --N 64 --alpha 0.5 $TRAIN --gains 0.1,0.5,1,1.5,2,3 $RULES --floss off,local --seeds 10
        sweep n128 $TASK --N 128 --alpha 0.5 $TRAIN --gains 0.1,0.5,1,2 $RULES --floss off,local --seeds 6 ;;
    long) # does flossing only speed learning up?  2000 iterations
        sweep long $TASK $NET --iters 2000 --batch 16 --test-batch 256 --gains 0.1,0.5 --rules bptt,eprop \
            --floss off,local,exact --seeds 20 ;;
    lr) # a learning-rate grid per rule and gain: is a gain effect only a badly set rate?
        # (`rnnplast select` picks the rate on seeds 1-10 and reports seeds 11-20)
        sweep lr $TASK $NET $TRAIN $GAINS $RULES --lrs 0.0003,0.001,0.003,0.01 --floss off --seeds 20 ;;
    feedback) # crossed feedback: e-prop with RFLO's random feedback, RFLO with e-prop's symmetric
        sweep fb-eprop $TASK $NET $TRAIN $GAINS --rules eprop --feedbacks random --floss off --seeds 20
        sweep fb-rflo $TASK $NET $TRAIN $GAINS --rules rflo --feedbacks symmetric --floss off --seeds 20 ;;
    single) # main in single-precision nets: do the conclusions survive float arithmetic?
        sweep single $TASK $NET $TRAIN $GAINS $RULES --floss off,local,exact --seeds 20 --precision single ;;
    cosine) # cosine(local, exact flossing gradient) on the initial nets, per window
        mkdir -p "$OUT/cosine"
        for act in relu tanh; do
            echo "== cosine $act"
            "$BIN" floss-cosine $TASK $NET --act $act $GAINS --seeds 10 --windows 36,72,144 \
                --transients auto,0,9,18 --out "$OUT/cosine/$act.csv" > "$OUT/cosine/$act.txt"
        done ;;
    figures) # PNGs of the sweeps with learning curves (rnnplast plot: choice accuracy, lambda, curves)
        for name in main tanh dms cxt lowcoh; do
            [ -f "$OUT/$name.csv" ] && [ -d "$OUT/curves_$name" ] || continue
            "$BIN" plot --csv "$OUT/$name.csv" --curves "$OUT/curves_$name" --out "$OUT/fig_$name" > /dev/null
            rm -f "$OUT/fig_$name"/*.dat "$OUT/fig_$name/plots.gp" "$OUT/fig_$name/gnuplot.log"
        done ;;
    *)
        echo "study.sh: unknown wave '$w'" >&2
        exit 2 ;;
    esac
done
