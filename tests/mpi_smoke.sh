#!/bin/sh
# MPI sweep tests (run by `make check-mpi`): `mpirun -np 2` and `-np 3` sweeps
# write exactly the CSV of the serial sweep; the thread budget is enforced; a
# rank killed mid-sweep loses only rows that a resumed sweep (MPI or serial)
# then adds, with no duplicate and no missing row; with mpirun told not to
# abort, the others finish the sweep; ranks wrongly presumed dead change nothing.
# Usage: sh tests/mpi_smoke.sh build/rnnplast build/rnnplast-mpi
set -u
BIN=${1:?usage: mpi_smoke.sh path/to/rnnplast path/to/rnnplast-mpi}
MBIN=${2:?usage: mpi_smoke.sh path/to/rnnplast path/to/rnnplast-mpi}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
case $MBIN in /*) ;; *) MBIN=$(pwd)/$MBIN ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_mpi.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "mpi_smoke: FAIL: $*" >&2; fails=$((fails + 1)); }
# The CSVs' data without their provenance lines (built, command): the
# command lines of the runs compared differ (--out, --resume, mpirun).
same() {
    grep -v -e '^# built: ' -e '^# command' "$1" > "$1.nop"
    grep -v -e '^# built: ' -e '^# command' "$2" > "$2.nop"
    cmp -s "$1.nop" "$2.nop"
}
# Root needs --allow-run-as-root; --oversubscribe lets 3 ranks start on 2 cores.
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
rows() { grep -c '^[a-z]*,[0-9.]*,' "$1" 2> /dev/null; }

# ---- the rows of the serial sweep, whatever the number of ranks -------------
# 16 runs of a few ms each, flossing included (runs of unequal length).
GRID="--task 2af --N 8 --iters 6 --batch 4 --test-batch 8 --eval-every 3 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --gains 0.5,1.5 --rules bptt,eprop --floss off,on --seeds 2 --floss-iters 2"
"$BIN" sweep $GRID --quiet --jobs 2 --out "$TMP/serial.csv" > /dev/null 2> "$TMP/err" \
    && ok || bad "serial sweep: $(cat "$TMP/err")"
[ "$(rows "$TMP/serial.csv")" -eq 16 ] && ok || bad "serial sweep: expected 16 rows"
for np in 2 3; do
    # --oversubscribe (the tool's): 3 ranks x 1 thread on 2 cores is asked for here
    $MPIRUN -np $np "$MBIN" sweep $GRID --oversubscribe --out "$TMP/np$np.csv" \
        > "$TMP/np$np.out" 2> "$TMP/np$np.err" && ok || bad "mpirun -np $np sweep: $(cat "$TMP/np$np.err")"
    same "$TMP/serial.csv" "$TMP/np$np.csv" && ok || bad "mpirun -np $np: CSV differs from the serial sweep"
    grep -q 'lambda_max after' "$TMP/np$np.out" && ok || bad "mpirun -np $np: no summary table"
    # every rank trained (each is handed a run at the start) and the counts add up
    per=$(sed -n 's/.*runs per rank: *//p' "$TMP/np$np.err")
    set -- $per
    [ $# -eq $np ] && ok || bad "mpirun -np $np: runs per rank '$per'"
    sum=0
    for c in $per; do
        [ "$c" -ge 1 ] || bad "mpirun -np $np: a rank ran nothing ($per)"
        sum=$((sum + c))
    done
    [ $sum -eq 16 ] && ok || bad "mpirun -np $np: $sum runs done, expected 16 ($per)"
done
# a finished sweep reruns nothing
$MPIRUN -np 2 "$MBIN" sweep $GRID --quiet --out "$TMP/np2.csv" > /dev/null 2>&1 \
    && same "$TMP/serial.csv" "$TMP/np2.csv" && ok || bad "MPI rerun of a finished sweep changed it"

# ---- thread budget and usage ------------------------------------------------
$MPIRUN -np 2 "$MBIN" sweep $GRID --quiet --threads 200 --out "$TMP/over.csv" > /dev/null 2> "$TMP/err"
[ $? -ne 0 ] && grep -q 'oversubscribe' "$TMP/err" && ok \
    || bad "2 ranks x 200 threads: expected a refusal naming --oversubscribe"
[ ! -s "$TMP/over.csv" ] && ok || bad "a refused sweep wrote its CSV"
"$BIN" sweep $GRID --mpi --out "$TMP/plain.csv" > /dev/null 2> "$TMP/err"
[ $? -eq 2 ] && grep -q 'make mpi' "$TMP/err" && ok || bad "plain rnnplast sweep --mpi: expected exit 2 naming make mpi"

# ---- a rank killed mid-sweep, then resumed ----------------------------------
# 24 runs of ~50 ms (the ranks start together, after MPI_Init); rank 1 dies (SIGKILL) when handed its second run.  Open
# MPI then aborts the job: the rows already received are in the CSV, the runs
# in flight are lost; resuming reruns exactly the missing ones.
KGRID="--task 2af --N 16 --iters 2000 --batch 4 --test-batch 8 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --gains 0.5,1,1.5 --rules bptt,eprop --seeds 4 --quiet"
"$BIN" sweep $KGRID --jobs 2 --out "$TMP/kserial.csv" > /dev/null 2> "$TMP/err" && ok || bad "serial kill grid: $(cat "$TMP/err")"
RNNPLAST_MPI_TEST_KILL=1:1 $MPIRUN -np 3 "$MBIN" sweep $KGRID --oversubscribe --out "$TMP/kill.csv" \
    > /dev/null 2> "$TMP/kerr"
kst=$?
[ $kst -ne 0 ] && ok || bad "killed rank: mpirun exited 0 (the kill did not happen?)"
n=$(rows "$TMP/kill.csv")
[ "$n" -ge 1 ] && [ "$n" -lt 24 ] && ok || bad "killed sweep kept $n of 24 rows"
# no duplicate run, and every kept row is the serial sweep's row
[ -z "$(grep '^[a-z]*,[0-9.]*,' "$TMP/kill.csv" | cut -d, -f1-4 | sort | uniq -d)" ] && ok \
    || bad "killed sweep: duplicate rows"
grep '^[a-z]*,[0-9.]*,' "$TMP/kill.csv" | while IFS= read -r line; do
    grep -qxF "$line" "$TMP/kserial.csv" || echo "$line"
done > "$TMP/foreign"
[ ! -s "$TMP/foreign" ] && ok || bad "killed sweep: rows not in the serial CSV: $(head -2 "$TMP/foreign")"
cp "$TMP/kill.csv" "$TMP/kill2.csv"
# resume under MPI ...
$MPIRUN -np 2 "$MBIN" sweep $KGRID --out "$TMP/kill.csv" > /dev/null 2> "$TMP/err" \
    && ok || bad "MPI resume: $(cat "$TMP/err")"
same "$TMP/kserial.csv" "$TMP/kill.csv" && ok || bad "MPI-resumed CSV differs from the serial sweep"
# ... and with the plain tool
"$BIN" sweep $KGRID --jobs 2 --out "$TMP/kill2.csv" > /dev/null 2> "$TMP/err" \
    && ok || bad "serial resume: $(cat "$TMP/err")"
same "$TMP/kserial.csv" "$TMP/kill2.csv" && ok || bad "serially resumed CSV differs from the serial sweep"
echo "mpi_smoke: killed rank: mpirun exited $kst, $n of 24 rows kept, resumed to 24"

# ---- a rank killed, the others finish ---------------------------------------
# Told not to abort on a dead rank (Open MPI 4's orte_abort_on_non_zero_status),
# mpirun lets the others run on; rank 0 presumes rank 1 dead after 2 s without
# its heartbeat, hands its run to another rank, completes the CSV, then ends the
# job (MPI_Finalize would wait for the dead rank).  `timeout` guards a hang.
RNNPLAST_MPI_TEST_KILL=1:1 timeout 120 $MPIRUN --mca orte_abort_on_non_zero_status 0 -np 3 "$MBIN" sweep \
    $KGRID --oversubscribe --mpi-timeout 2 --out "$TMP/surv.csv" > /dev/null 2> "$TMP/serr"
sst=$?
[ $sst -ne 124 ] && ok || bad "surviving ranks: the sweep hung (killed by timeout)"
grep -q 'rank 1 silent .*presumed dead' "$TMP/serr" && ok || bad "surviving ranks: rank 1's death not reported"
same "$TMP/kserial.csv" "$TMP/surv.csv" && ok \
    || bad "surviving ranks: CSV differs from the serial sweep ($(rows "$TMP/surv.csv") rows)"
echo "mpi_smoke: killed rank, others on: mpirun exited $sst, CSV complete"

# ---- ranks wrongly presumed dead ------------------------------------------------
# A 1 ms timeout presumes live ranks dead mid-run: their runs are handed out
# again, the ranks are taken back when they speak, a run done twice gives one
# row, and the sweep ends normally with the serial CSV.
timeout 120 $MPIRUN -np 3 "$MBIN" sweep $KGRID --oversubscribe --mpi-timeout 0.001 --out "$TMP/fp.csv" \
    > /dev/null 2> "$TMP/fperr"
fst=$?
[ $fst -eq 0 ] && ok || bad "1 ms timeout: exit $fst ($(tail -2 "$TMP/fperr"))"
same "$TMP/kserial.csv" "$TMP/fp.csv" && ok || bad "1 ms timeout: CSV differs from the serial sweep"
echo "mpi_smoke: 1 ms timeout: $(grep -c 'presumed dead' "$TMP/fperr") ranks presumed dead and taken back, CSV = serial"

echo "mpi_smoke: $pass passed, $fails failed"
[ $fails -eq 0 ]
