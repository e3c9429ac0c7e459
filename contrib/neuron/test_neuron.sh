#!/usr/bin/env bash
# Test of the NEURON mechanisms against a librnnplast build tree.
#
#   contrib/neuron/test_neuron.sh [RNNPLAST_TREE]     (default: this source tree,
#                                                      after make lib)
# Builds into a temporary directory (removed at the end), then, each in its
# own NEURON process:
#  1. learn: example.py (4 s of training, 1 s of test): learned test loss
#     <= control's / 10 (losses from recorded outputs against the target
#     function itself);
#  2. threads: the same with ParallelContext.nthread(2): runs, learns, and
#     agrees with one thread to 1e-6 (relative);
#  3. errors: a bad n_rec (rp_net_create), tau < dt_r (rp_net_set_alpha), a NaN
#     target during the run (rp_rule_step), an event on a channel the net has
#     not (the adapter), and the NaN in a worker thread (run stops, check()
#     raises): each raises in Python and its message reaches stderr through
#     hoc_execerror;
#  4. save/restore, with 1 and 2 threads: SaveState + RnnLearner.save, go on;
#     finitialize, SaveState.restore + RnnLearner.restore, go on: the
#     network's outputs and the driven cell's voltage are identical bit for bit
#     (and not without the learners' restore).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tree="${1:-${RNNPLAST_BUILD:-$here/../..}}"
PY=/usr/bin/python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

lib="$("$here/build.sh" -r "$tree" -o "$work/build" | tail -n 1)"
ok "build: $lib"
cd "$work" # keep NEURON from auto-loading another x86_64/ from the caller's directory

# 1, 2: learning, with one and two threads
for n in 1 2; do
    if "$PY" "$here/check_neuron.py" "$lib" learn "$n" >"$work/learn$n.log" 2>&1; then
        ok "learn, nthread $n: $(grep -E '^(ratio|correlation)' "$work/learn$n.log" | tr '\n' ' ')"
    else
        bad "learn, nthread $n:"; cat "$work/learn$n.log"
    fi
done
if "$PY" - "$work/learn1.log" "$work/learn2.log" <<'PYEOF'; then ok "threads: nthread 2 agrees with nthread 1"; else bad "threads: nthread 2 differs from nthread 1"; fi
import sys
a, b = ([float(x) for x in next(l for l in open(p) if l.startswith("EXACT")).split()[1:]]
        for p in sys.argv[1:3])
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-6 * abs(x), (a, b)
PYEOF

# 3: library errors reach hoc_execerror with the library's message
check_error() { # kind, expected text on stderr
    local log="$work/err_$1.log"
    if timeout 60 "$PY" "$here/check_neuron.py" "$lib" error "$1" >"$log" 2>&1 &&
        grep -q '^RAISED' "$log" && grep -qF -- "$2" "$log"; then
        ok "error $1: $(grep -F -- "$2" "$log" | head -n 1)"
    else
        bad "error $1 (expected: $2)"; cat "$log"
    fi
}
check_error n_rec "NEURON: RnnLearner: creating the network: n_rec is 0, expected 1.."
check_error alpha "alpha is -1, expected 0 <= alpha < 1 (invalid argument)"
check_error nan "RnnLearner: the learning rule's step: target at step"
check_error channel "input event on channel 9 (the NetCon's weight[1]), expected 0..3"
check_error nan_threads "(in worker thread 1: the run stops; the learner's check() raises this error)"
grep -q "RnnLearner\[0\].check()" "$work/err_nan_threads.log" &&
    grep -q "^NEURON: RnnLearner: the learning rule's step" "$work/err_nan_threads.log" &&
    ok "error nan_threads: check() raised it via hoc_execerror" ||
    bad "error nan_threads: check() did not raise the library's message"

# 4: mid-stream save/restore with SaveState
for n in 1 2; do
    if "$PY" "$here/check_neuron.py" "$lib" saverestore "$n" >"$work/sr$n.log" 2>&1 &&
        grep -q "SAVERESTORE OK" "$work/sr$n.log"; then
        ok "save/restore, nthread $n: $(grep '^max' "$work/sr$n.log")"
    else
        bad "save/restore, nthread $n"; cat "$work/sr$n.log"
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "test_neuron.sh: $fails check(s) failed"
    exit 1
fi
echo "test_neuron.sh: all checks passed"
