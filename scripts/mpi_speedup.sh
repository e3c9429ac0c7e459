#!/bin/sh
# Speed-up of the MPI sweep (docs/SCALING.md): one grid of 24 runs, swept by
# the serial tool with one worker and by rnnplast-mpi on 1, 2 and 4 ranks
# (1 BLAS thread each), wall-clock seconds and speed-up over 1 rank; every CSV
# is checked equal to the serial one.  Ranks beyond the cores are started
# oversubscribed, and the table says so.
# Usage: sh scripts/mpi_speedup.sh [build]   (after `make tool mpi`)
set -u
B=${1:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_speedup.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
GRID=${GRID:-"--task 2af --N 64 --iters 2000 --batch 8 --test-batch 32 --lyap-trials 4 --gains 0.5,1,1.5,2 --rules bptt,eprop,rflo --seeds 2 --quiet"}
cores=$(nproc)
secs() { date +%s.%N; }
t0=$(secs); "$B/rnnplast" sweep $GRID --jobs 1 --out "$TMP/serial.csv" > /dev/null || exit 1; t1=$(secs)
ts=$(awk "BEGIN { print $t1 - $t0 }")
printf 'cores %s, load before: %s\n' "$cores" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %8.2f s\n' "serial (--jobs 1)" "$ts"
base=""
for np in 1 2 4; do
    over=""
    [ $np -gt "$cores" ] && over=" (oversubscribed: $np ranks on $cores cores)"
    t0=$(secs)
    $MPIRUN -np $np "$B/rnnplast-mpi" sweep $GRID --oversubscribe --out "$TMP/np$np.csv" > /dev/null 2>&1 || exit 1
    t1=$(secs)
    t=$(awk "BEGIN { print $t1 - $t0 }")
    [ -z "$base" ] && base=$t
    same=$(cmp -s "$TMP/serial.csv" "$TMP/np$np.csv" && echo "rows = serial" || echo "ROWS DIFFER")
    printf '%-22s %8.2f s  speed-up %.2f  %s%s\n' "mpirun -np $np" "$t" "$(awk "BEGIN { print $base / $t }")" "$same" "$over"
done
printf 'load after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
