#!/bin/sh
# rnnplast train/sweep --precision single|double (issue 15 item 5).
# Usage: sh tests/tool_precision.sh build/rnnplast (the shared library next
# to it: `make lib`).  About 10 s on one core.
#   - the default is double: a sweep without the flag is the sweep with
#     --precision double, byte for byte (provenance lines aside);
#   - a single-precision run is a different arithmetic (the iteration-0 test
#     loss of its curve differs from double's in the 8 printed digits) within
#     the forward bound: relative difference <= 1e-4 (tests/test_precision.c:
#     the float rounding of each step's products, ~(N + n_in) u / (1 - rho)
#     relative along a trajectory whose lambda_max < 0; u = 6e-8, N = 16);
#   - lambda_max before training of a single run is measured in float on the
#     net itself (rp_lyap's float kernels), whose parameters are the double
#     run's rounded to float (relative 6e-8): |lambda_single - lambda_double|
#     <= 1e-5 (the rounding of the parameters and of every product and QR,
#     relative u each, moves the per-window log growth by O(N u) = 1e-6, the
#     first-order term of tests/test_precision_lyap.c's bound, whose measured
#     differences are <= 6e-8; the CSV prints 6 significant digits);
#   - every --floss runs in single precision (rp_floss's float kernels): ok,
#     and the trained loss within 1e-3 relative and lambda_max after
#     training within 1e-4 of double's (a regression check: the flossing
#     gradients agree to ~1e-7 relative in tests/test_precision_lyap.c);
#   - the trained losses of single and double agree within 1e-3 relative
#     (a regression check: per-trial gradients agree to ~5e-5 relative);
#   - the combinations without float kernels exit 2 naming the option:
#     rtrl;
#   - single: every --floss and modprop run, --model writes, --checkpoint/--resume
#     continues the curve of the uninterrupted run, and a double run does not
#     resume a single checkpoint.
set -u
export OPENBLAS_NUM_THREADS=1
BIN=${1:?usage: tool_precision.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_precision.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_precision: FAIL: $*" >&2; fails=$((fails + 1)); }
TINY="--task 2af --N 16 --iters 30 --batch 4 --test-batch 32 --eval-every 10 --lyap-trials 3 --quiet"

# want2 WHAT NEEDLE ARGS...: exits 2 with NEEDLE in its message
want2() {
    what=$1 needle=$2
    shift 2
    timeout 60 "$BIN" "$@" > o 2> e < /dev/null
    st=$?
    if [ $st -ne 2 ]; then bad "$what: exited $st, expected 2 ($(head -c 300 e))"; return; fi
    grep -qF -- "$needle" e && ok || bad "$what: message lacks '$needle': $(cat e)"
}
body() { grep -v '^#' "$1"; }
# col FILE RULE NAME: the column NAME of RULE's row of a sweep CSV
col() {
    body "$1" | awk -F, -v r="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
        $1 == r { print $k[c] }'
}
# close A B TOL: |A - B| <= TOL * max(|B|, floor) (floor 1 for TOL of an absolute check: use rel=0)
close() {
    awk -v a="$1" -v b="$2" -v t="$3" -v rel="$4" 'BEGIN {
        d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; if (!rel) s = 1;
        exit !(a != "" && b != "" && d <= t * s) }'
}

# the default is double, byte for byte
"$BIN" sweep $TINY --rules bptt,eprop --gains 1 --seeds 2 --out def.csv > /dev/null 2>&1 || bad "default sweep failed"
"$BIN" sweep $TINY --rules bptt,eprop --gains 1 --seeds 2 --precision double --out dbl.csv > /dev/null 2>&1 || bad "double sweep failed"
body def.csv > def.body
body dbl.csv > dbl.body
cmp -s def.body dbl.body && ok || bad "--precision double differs from the default"
[ "$(wc -l < def.body)" -eq 5 ] && ok || bad "default sweep: expected 4 rows"

# single: runs, every row ok, close to double
"$BIN" sweep $TINY --rules bptt,tbptt,eprop,rflo --gains 1 --seeds 1 --precision single --out sgl.csv > /dev/null 2> e || bad "single sweep failed: $(cat e)"
"$BIN" sweep $TINY --rules bptt,tbptt,eprop,rflo --gains 1 --seeds 1 --out d4.csv > /dev/null 2> e || bad "double sweep failed: $(cat e)"
for r in bptt tbptt eprop rflo; do
    [ "$(col sgl.csv $r ok)" = 1 ] && ok || bad "single $r: ok is not 1"
    ls=$(col sgl.csv $r lambda_before) ld=$(col d4.csv $r lambda_before)
    close "$ls" "$ld" 1e-5 0 && ok || bad "single $r: lambda_before $ls vs double $ld (tolerance 1e-5)"
    ts=$(col sgl.csv $r train_loss) td=$(col d4.csv $r train_loss)
    close "$ts" "$td" 1e-3 1 && ok || bad "single $r: train_loss $ts vs double $td (relative 1e-3)"
done
# the first line names a single sweep's precision (a double one's is as before),
# and a CSV is resumed only at its own precision
head -1 sgl.csv | grep -q ' precision=single$' && ok || bad "single sweep: first line lacks precision=single"
head -1 d4.csv | grep -q 'precision' && bad "double sweep: first line names a precision" || ok
if "$BIN" sweep $TINY --rules bptt,tbptt,eprop,rflo --gains 1 --seeds 1 --out sgl.csv > /dev/null 2> e; then
    bad "a single CSV resumed as double"
elif grep -q 'written by another configuration' e; then ok
else bad "resuming a single CSV as double: $(cat e)"; fi
# flossing in single precision: every mode runs, close to double
"$BIN" sweep $TINY --rules bptt,eprop --gains 1 --seeds 1 --floss local,exact,on,rescale,extra --precision single --out fs.csv > /dev/null 2> e || bad "single floss sweep failed: $(cat e)"
"$BIN" sweep $TINY --rules bptt,eprop --gains 1 --seeds 1 --floss local,exact,on,rescale,extra --out fd.csv > /dev/null 2> e || bad "double floss sweep failed: $(cat e)"
body fs.csv | awk -F, 'NR > 1 { print $1 "," $3 }' > keys
[ "$(wc -l < keys)" -eq 10 ] && ok || bad "single floss sweep: expected 10 rows, got $(wc -l < keys)"
while IFS=, read -r r f; do
    # rcol FILE: the row (rule r, floss f) as "ok,train_loss,lambda_after"
    rs=$(body fs.csv | awk -F, -v r="$r" -v f="$f" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
        $1 == r && $3 == f { print $k["ok"] "," $k["train_loss"] "," $k["lambda_after"] }')
    rd=$(body fd.csv | awk -F, -v r="$r" -v f="$f" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
        $1 == r && $3 == f { print $k["ok"] "," $k["train_loss"] "," $k["lambda_after"] }')
    [ "${rs%%,*}" = 1 ] && ok || bad "single $r floss $f: ok is not 1 ($rs)"
    ts=$(echo "$rs" | cut -d, -f2) td=$(echo "$rd" | cut -d, -f2)
    close "$ts" "$td" 1e-3 1 && ok || bad "single $r floss $f: train_loss $ts vs double $td (relative 1e-3)"
    las=$(echo "$rs" | cut -d, -f3) lad=$(echo "$rd" | cut -d, -f3)
    close "$las" "$lad" 1e-4 0 && ok || bad "single $r floss $f: lambda_after $las vs double $lad (1e-4)"
done < keys

# an untrained chaotic relu net (lambda 0.26 a step) overflows float's range
# over the 10 concatenated trials of the lambda_max measurement (e^(0.26*360)
# > 3.4e38) but not double's: the single run records lambda_before nan and
# trains; the double run measures it
CHAOS="--task 2af --delay 20 --N 32 --alpha 0.5 --gain 1.5 --seed 9 --rule bptt --iters 3 --batch 4 --test-batch 16"
for p in single double; do
    "$BIN" train $CHAOS --precision $p > o_$p 2> e || bad "chaotic $p run failed: $(cat e)"
done
grep -q '^lambda_max       before nan  after [0-9]' o_single && ok || bad "single: lambda_before not nan: $(grep lambda_max o_single)"
grep -q '^lambda_max       before 0\.2[0-9]*  after [0-9]' o_double && ok || bad "double: lambda_before not measured: $(grep lambda_max o_double)"
# a different arithmetic: the curves (8 digits) differ; iteration 0 within the bound
for p in single double; do
    "$BIN" train $TINY --rule eprop --precision $p --curve c_$p.csv > /dev/null 2> e || bad "train $p failed: $(cat e)"
done
l0s=$(body c_single.csv | awk -F, '$1 == 0 { print $3 }')
l0d=$(body c_double.csv | awk -F, '$1 == 0 { print $3 }')
body c_single.csv > cs.body
body c_double.csv > cd.body
[ -n "$l0s" ] && ! cmp -s cs.body cd.body && ok || bad "single and double curves are the same: single precision not in effect?"
close "$l0s" "$l0d" 1e-4 1 && ok || bad "iteration-0 test loss single $l0s vs double $l0d (relative 1e-4)"

# refusals
want2 "train rtrl" "rule rtrl has no single-precision kernel" train $TINY --precision single --rule rtrl
want2 "sweep rtrl" "rule rtrl has no single-precision kernel" sweep $TINY --precision single --rules eprop,rtrl --gains 1 --seeds 1 --out x.csv
want2 "bad value" "--precision: expected single or double, got 'half'" train $TINY --precision half
[ ! -e x.csv ] && ok || bad "a refused command wrote a file"

# single: modprop runs; --model writes a file; a run stopped by
# --stop-after and resumed with --resume ends as the uninterrupted run
"$BIN" train $TINY --precision single --rule modprop --model m.rpn > /dev/null 2> e && [ -s m.rpn ] && ok || bad "single modprop --model failed: $(cat e)"
"$BIN" train $TINY --precision single --rule eprop --curve full.csv > /dev/null 2> e || bad "single train failed: $(cat e)"
"$BIN" train $TINY --precision single --rule eprop --checkpoint c.ck --checkpoint-every 10 --stop-after 10 --curve part.csv > /dev/null 2> e
[ -s c.ck ] && ok || bad "single --checkpoint --stop-after wrote no checkpoint: $(cat e)"
"$BIN" train $TINY --precision single --rule eprop --checkpoint c.ck --resume c.ck --curve part.csv > /dev/null 2> e || bad "single --resume failed: $(cat e)"
body full.csv > f.body
body part.csv > p.body
cmp -s f.body p.body && ok || bad "single: the resumed curve differs from the uninterrupted one"
"$BIN" train $TINY --rule eprop --checkpoint c.ck --resume c.ck > /dev/null 2> e
[ $? -ne 0 ] && grep -qF "it has 'precision=single', this run ''" e && ok || bad "a double run resumed a single checkpoint: $(cat e)"

echo "tool_precision: $pass passed, $fails failed"
[ $fails -eq 0 ]
