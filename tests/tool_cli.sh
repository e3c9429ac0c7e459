#!/bin/sh
# The rnnplast program's command line (run by `make check`): every numeric
# flag parsed strictly within the range its --help states, list flags without
# duplicates, and the tool's own output files (non-regular paths refused,
# symlinks written through, no two outputs naming one file, one sweep per
# --out).  Usage: sh tests/tool_cli.sh build/rnnplast
set -u
# one BLAS thread: hundreds of short runs, each would start a thread pool
export OPENBLAS_NUM_THREADS=1
BIN=${1:?usage: tool_cli.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$TMP" || exit 1
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_cli: FAIL: $*" >&2; fails=$((fails + 1)); }
TINY="--task 2af --N 8 --iters 6 --batch 4 --test-batch 8 --eval-every 3 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --quiet"
GRID="--gains 1 --rules bptt --seeds 1"

# want2 WHAT 'NEEDLE|NEEDLE...' ARGS...: rnnplast ARGS exits 2 (within 20 s:
# a wrapped count would run for ever) with one line on stderr containing
# every needle.
want2() {
    what=$1 needles=$2
    shift 2
    timeout 20 "$BIN" "$@" > "$TMP/o" 2> "$TMP/e" < /dev/null
    st=$?
    if [ $st -ne 2 ]; then bad "$what: exited $st, expected 2 ($(head -c 300 "$TMP/e"))"; return; fi
    if [ "$(wc -l < "$TMP/e")" -ne 1 ]; then bad "$what: expected one line, got: $(cat "$TMP/e")"; return; fi
    old_ifs=$IFS
    IFS='|'
    for nd in $needles; do
        if ! grep -qF -- "$nd" "$TMP/e"; then IFS=$old_ifs; bad "$what: message lacks '$nd': $(cat "$TMP/e")"; return; fi
    done
    IFS=$old_ifs
    ok
}

# ---- 5. numbers: the cases of the issue ---------------------------------
want2 "--iters ' -1'" "--iters|0..1000000000" train $TINY --iters " -1"
want2 "--N ' -1'" "--N|1..4096|' -1'" train --N " -1"
grep -q 18446744073709551615 "$TMP/e" && bad "--N ' -1' read as 2^64 - 1" || ok
want2 "lyap --steps 2^64-1" "--steps|1..1099511627776" lyap --steps 18446744073709551615 --transient 5
want2 "--test-batch 10^12" "--test-batch|1..65536" train $TINY --test-batch 1000000000000
want2 "--seed 2^64" "--seed|0..18446744073709551615" train --seed 18446744073709551616
want2 "--seeds +3" "--seeds|1..10000" sweep --out x.csv --seeds +3
want2 "--gain ' 1'" "--gain|>= 0" train --gain " 1"
want2 "--gain 0x10" "--gain" train --gain 0x10
want2 "--alpha 1e999" "--alpha|[0, 1)" train --alpha 1e999
want2 "--floss-target nan" "--floss-target|any finite number" train --floss-target nan
# the ends of a range are accepted: --seed 2^64 - 1 and --iters 0 train
"$BIN" train $TINY --seed 18446744073709551615 --iters 0 > /dev/null 2> "$TMP/e" && ok \
    || bad "train --seed 2^64-1 --iters 0: $(cat "$TMP/e")"

# ---- 5. every numeric flag of every subcommand, read from its --help ----
# A line "  --flag N|X  help; range R" per numeric flag; each gets values
# around and outside R and must exit 2 naming the flag and R.
for cmd in train lyap sweep; do
    "$BIN" $cmd --help > "$TMP/help.$cmd"
    grep -E '^  --[a-zA-Z0-9-]+ [NX] ' "$TMP/help.$cmd" > "$TMP/num.$cmd"
    nnum=$(wc -l < "$TMP/num.$cmd")
    nrange=$(grep -c '; range ' "$TMP/num.$cmd")
    [ "$nnum" -gt 0 ] && [ "$nnum" -eq "$nrange" ] && ok \
        || bad "$cmd --help: $nrange of $nnum numeric flags state a range"
    base=""
    if [ $cmd = sweep ]; then
        # the run flags sweep shares with train: the same line, tested once
        base="--out $TMP/never.csv"
        grep -vxF -f "$TMP/num.train" "$TMP/num.sweep" > "$TMP/num.own"
        [ "$(wc -l < "$TMP/num.own")" -lt "$nnum" ] && ok || bad "sweep --help: run flags differ from train's"
        mv "$TMP/num.own" "$TMP/num.sweep"
    fi
    while read -r flag kind rest; do
        case $rest in *"; range "*) ;; *) continue ;; esac # (counted above)
        range=${rest##*; range }
        for v in " 1" "1x" "" "1,2"; do
            want2 "$cmd $flag '$v'" "$flag|$range" $cmd $base "$flag" "$v"
        done
        if [ "$kind" = N ]; then
            lo=${range%%..*} hi=${range##*..}
            for v in " -1" +1 1.5 18446744073709551616; do
                want2 "$cmd $flag '$v'" "$flag|$range" $cmd $base "$flag" "$v"
            done
            [ "$lo" -gt 0 ] && want2 "$cmd $flag below" "$flag|$range" $cmd $base "$flag" $((lo - 1))
            [ "$hi" != 18446744073709551615 ] &&
                want2 "$cmd $flag above" "$flag|$range" $cmd $base "$flag" $((hi + 1))
        else
            for v in nan -inf 1e999 0x1p1; do
                want2 "$cmd $flag '$v'" "$flag" $cmd $base "$flag" "$v"
            done
        fi
    done < "$TMP/num.$cmd"
done
# the cross-flag and product checks
want2 "--floss-k above N" "--floss-k|N = 8" train --N 8 --floss-k 9
want2 "lyap --k above N" "--k|N = 4" lyap --N 4 --k 5

# ---- ModProp: --rule modprop, --cell-types (ei:F or a file), --modprop-mu ----
MP="train $TINY --rule modprop"
"$BIN" $MP --cell-types ei:0.75 --modprop-mu 0.3 > /dev/null 2> "$TMP/e" && ok \
    || bad "modprop with ei:0.75 and mu 0.3: $(cat "$TMP/e")"
printf '0 1 0 1\n\t2 0 1 0\n' > ct_ok.txt
"$BIN" $MP --cell-types ct_ok.txt > /dev/null 2> "$TMP/e" && ok || bad "modprop with a types file: $(cat "$TMP/e")"
# ei:1 and a file of all zeros are one type, the default: the same numbers
"$BIN" $MP --curve a.csv > /dev/null 2>&1 && "$BIN" $MP --cell-types ei:1 --curve b.csv > /dev/null 2>&1 \
    && [ "$(grep -v '^#' a.csv)" = "$(grep -v '^#' b.csv)" ] && ok || bad "modprop --cell-types ei:1 differs from the default"
# mu 0 is e-prop: the learning curves agree
"$BIN" train $TINY --rule eprop --curve e.csv > /dev/null 2>&1 \
    && "$BIN" $MP --modprop-mu 0 --curve m.csv > /dev/null 2>&1 \
    && [ "$(grep -v '^#' e.csv | cut -d, -f2-)" = "$(grep -v '^#' m.csv | cut -d, -f2-)" ] && ok || bad "modprop --modprop-mu 0 differs from eprop"
printf '0 1 0 1 0 1 0 8\n' > ct_big.txt
printf '0 1 0 1 0 1 0\n' > ct_short.txt
printf '0 1 0 1 0 1 0 1 1\n' > ct_long.txt
printf '0 1 0 1 0 -1 0 1\n' > ct_neg.txt
printf '0 1 0 1 0 1 0 0x1\n' > ct_hex.txt
printf '0 1 0 1 0 1 0 18446744073709551617\n' > ct_wrap.txt
printf '0,1,0,1,0,1,0,1\n' > ct_comma.txt
: > ct_empty.txt
mkfifo ct_fifo
want2 "--cell-types type = N" "--cell-types|entry 8|'8'|[0, N = 8)" $MP --cell-types ct_big.txt
want2 "--cell-types too few" "--cell-types|7 types|N = 8" $MP --cell-types ct_short.txt
want2 "--cell-types too many" "--cell-types|more than N = 8" $MP --cell-types ct_long.txt
want2 "--cell-types negative" "--cell-types|entry 6|'-1'" $MP --cell-types ct_neg.txt
want2 "--cell-types hex" "--cell-types|entry 8|'0x1'" $MP --cell-types ct_hex.txt
want2 "--cell-types 2^64+1" "--cell-types|entry 8" $MP --cell-types ct_wrap.txt
want2 "--cell-types commas" "--cell-types|entry 1" $MP --cell-types ct_comma.txt
want2 "--cell-types empty file" "--cell-types|0 types" $MP --cell-types ct_empty.txt
want2 "--cell-types a FIFO" "--cell-types|not a regular file" $MP --cell-types ct_fifo
want2 "--cell-types a directory" "--cell-types|a directory" $MP --cell-types .
want2 "--cell-types missing" "--cell-types|nofile" $MP --cell-types nofile
want2 "--cell-types ei:1.5" "--cell-types|[0, 1]|ei:1.5" $MP --cell-types ei:1.5
want2 "--cell-types ei:" "--cell-types|ei:F" $MP --cell-types ei:
want2 "--cell-types 'ei: 0.5'" "--cell-types|ei:F" $MP --cell-types "ei: 0.5"
want2 "--cell-types ei:nan" "--cell-types|ei:F" $MP --cell-types ei:nan
want2 "--cell-types with eprop" "--cell-types|--rule modprop|eprop" train $TINY --cell-types ei:0.8
want2 "--modprop-mu with bptt" "--modprop-mu|--rule modprop|bptt" train $TINY --rule bptt --modprop-mu 1
want2 "--modprop-mu nan" "--modprop-mu|any finite number" $MP --modprop-mu nan
want2 "sweep --modprop-mu without modprop" "--modprop-mu|--rules" sweep $TINY $GRID --out mp.csv --modprop-mu 1
"$BIN" sweep $TINY --gains 1 --rules eprop,modprop --seeds 1 --out mp.csv --cell-types ei:0.5 > /dev/null 2> "$TMP/e" \
    && grep -q '^modprop,1,off,1,1,' mp.csv && ok || bad "sweep with modprop: $(cat "$TMP/e")"

# ---- 6. list flags: distinct values -------------------------------------
want2 "--gains 1,1" "--gains|1 and 1" sweep --out x.csv --gains 1,1
want2 "--gains 0.1,0.10000001" "--gains|0.1 and 0.10000001" sweep --out x.csv --gains 0.1,0.10000001
want2 "--gains 2,2.0" "--gains|2 and 2.0" sweep --out x.csv --gains 2,2.0
want2 "--rules twice" "--rules|eprop" sweep --out x.csv --rules eprop,bptt,eprop
want2 "--floss twice" "--floss|on" sweep --out x.csv --floss on,off,on
want2 "--coherences twice" "--coherences|0.5 and 0.50" train --coherences 0.1,0.5,0.50
want2 "65 gains" "--gains|1..64" sweep --out x.csv --gains "$(seq -s, 1 65)"
want2 "--gains ' 1'" "--gains" sweep --out x.csv --gains " 1,2"
want2 "--coherences ' 0.1'" "--coherences" train --coherences " 0.1"
[ ! -e x.csv ] && ok || bad "a refused sweep wrote its --out"

# ---- 6. two outputs naming one file -----------------------------------------
mkdir -p sub
want2 "--checkpoint X --curve X" "--curve|--checkpoint|same file" train $TINY --checkpoint X --curve X
want2 "--curve a --model ./sub/../a" "--curve|--model" train $TINY --curve a --model ./sub/../a
ln -s sub/t.rpn lnk
want2 "--model via a symlink" "--curve|--model" train $TINY --curve sub/t.rpn --model lnk
echo x > h1 && ln h1 h2
want2 "--curve and --model hard links" "--curve|--model" train $TINY --curve h1 --model h2
want2 "--model = --resume" "--model|--resume" train $TINY --model r.rpc --resume r.rpc --checkpoint c.rpc
want2 "sweep --out = --curves" "--out|--curves" sweep $TINY $GRID --out cdir --curves cdir
want2 "sweep --out = a curve file" "--out|bptt_g1_off_s1.csv" sweep $TINY $GRID --out cd2/bptt_g1_off_s1.csv --curves cd2
[ ! -e X ] && [ ! -e a ] && ok || bad "a refused train wrote an output"

# ---- 2. non-regular output paths: refused before any work -------------------
mkfifo fifo
mkdir adir
ln -s fifo to_fifo
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' sock 2> /dev/null
dev=""
if [ "$(id -u)" -eq 0 ] && mknod cdev c 1 3 2> /dev/null; then dev=cdev; else
    echo "tool_cli: note: not root or mknod refused: device-node outputs not tested" >&2; fi
for p in fifo:FIFO adir:directory to_fifo:FIFO ${dev:+$dev:device} $( [ -S sock ] && echo sock:socket); do
    path=${p%%:*} kind=${p#*:}
    for f in --curve --model --checkpoint; do
        # a second output that must not be written
        w="--model m_$path.rpn"
        [ $f = --model ] && w="--curve m_$path.rpn"
        want2 "train $f $path" "$f|'$path'|$kind" train $TINY $f "$path" $w
    done
    want2 "sweep --out $path" "--out|'$path'|$kind" sweep $TINY $GRID --out "$path"
    [ $kind = directory ] ||
        want2 "sweep --curves on $path" "--curves|$path" sweep $TINY $GRID --out s_$path.csv --curves "$path"
done
[ -p fifo ] && [ -d adir ] && [ -L to_fifo ] && ok || bad "a refused output path was replaced"
ls m_*.rpn s_*.csv > /dev/null 2>&1 && bad "work was done before the path was refused" || ok
mkdir -p cur3/bptt_g1_off_s1.csv
want2 "sweep: a curve file is a directory" "--curves|bptt_g1_off_s1.csv|not a regular file" \
    sweep $TINY $GRID --out s3.csv --curves cur3
want2 "--curve in a missing directory" "--curve|nodir/c.csv" train $TINY --curve nodir/c.csv

# ---- 2. symlinks are written through, atomically, in the target's directory ---
mkdir -p tdir
ln -s tdir/curve.csv lc.csv       # dangling: its target is created
echo old > tdir/existing.csv
ln -s tdir/existing.csv le.csv
"$BIN" train $TINY --curve lc.csv > /dev/null 2> "$TMP/e" && ok || bad "train --curve through a dangling link: $(cat "$TMP/e")"
[ -L lc.csv ] && [ "$(grep -v '^#' tdir/curve.csv | head -1)" = "iter,train_loss,test_loss,test_acc,floss_F,response_rate,choice_acc" ] && ok \
    || bad "train --curve did not write through the dangling link"
"$BIN" train $TINY --curve le.csv > /dev/null 2> "$TMP/e" && [ -L le.csv ] && [ "$(head -1 tdir/existing.csv)" != old ] \
    && ok || bad "train --curve did not write through the link: $(cat "$TMP/e")"
ln -s tdir/sweep.csv ls.csv
"$BIN" sweep $TINY $GRID --out ls.csv --curves lcur > /dev/null 2> "$TMP/e" && ok || bad "sweep through a link: $(cat "$TMP/e")"
[ -L ls.csv ] && [ "$(grep -c '^bptt,1,off,1,' tdir/sweep.csv)" -eq 1 ] && ok || bad "sweep --out did not write through the link"
ls tdir lcur | grep -q -e '\.tmp' -e '\.lock' && bad "temporary or lock files left: $(ls tdir lcur)" || ok
# the curve of a run that is a link is written through too
mkdir -p lcur2 && ln -s ../tdir/c1.csv lcur2/bptt_g1_off_s1.csv
"$BIN" sweep $TINY $GRID --out s4.csv --curves lcur2 > /dev/null 2>&1 && [ -L lcur2/bptt_g1_off_s1.csv ] && [ -s tdir/c1.csv ] \
    && ok || bad "sweep did not write a run's curve through its link"

# ---- 6. one sweep per --out: a second exits 1 at once ------------------------
# (a) the lock held by another process (flock(1) on the lock file)
if command -v flock > /dev/null 2>&1; then
    cp tdir/sweep.csv held.csv
    flock held.csv.lock sh -c "\"$BIN\" sweep $TINY $GRID --gains 2 --out held.csv > /dev/null 2> \"$TMP/e\"; echo \$? > \"$TMP/st\""
    [ "$(cat "$TMP/st")" -eq 1 ] && grep -q 'another rnnplast sweep' "$TMP/e" && grep -q 'held.csv' "$TMP/e" && ok \
        || bad "sweep on a locked --out: exit $(cat "$TMP/st"): $(cat "$TMP/e")"
    cmp -s held.csv tdir/sweep.csv && ok || bad "a refused sweep changed the CSV"
else
    echo "tool_cli: note: no flock(1): held-lock case not tested" >&2
fi
# (b) two real sweeps: the second is refused while the first runs
LONG="--task 2af --N 16 --iters 3000 --batch 4 --test-batch 8 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --quiet --gains 1 --rules bptt --seeds 2 --jobs 1"
"$BIN" sweep $LONG --out two.csv > /dev/null 2> "$TMP/e1" &
apid=$!
i=0
while { [ ! -f two.csv ] || [ ! -f two.csv.lock ]; } && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
t0=$(date +%s)
"$BIN" sweep $LONG --out two.csv > /dev/null 2> "$TMP/e"
st=$?
t1=$(date +%s)
if kill -0 $apid 2> /dev/null; then
    [ $st -eq 1 ] && grep -q 'another rnnplast sweep' "$TMP/e" && [ $((t1 - t0)) -le 10 ] && ok \
        || bad "second sweep on one --out: exit $st after $((t1 - t0)) s: $(cat "$TMP/e")"
else
    echo "tool_cli: note: the first sweep ended before the second started; concurrent case not checked" >&2
fi
kill -INT $apid 2> /dev/null
wait $apid
# a lock file left behind by a killed sweep holds nothing
: > stale.csv.lock
"$BIN" sweep $TINY $GRID --out stale.csv > /dev/null 2> "$TMP/e" && ok || bad "a stale lock file blocked a sweep: $(cat "$TMP/e")"

# ---- issue 14: provenance lines and one choice per trial ----------------
HDR=rule,gain,floss,seed,ok,iters,train_loss,test_loss,test_acc,lambda_before,lambda_after
FTLE_HDR=ftle_before,ftle_after,ftle_sd_before,ftle_sd_after,delay_lambda_before,delay_lambda_after,dw_rel,path_rel
NAN8=nan,nan,nan,nan,nan,nan,nan,nan
# (a) the build's commit: what git says of the source tree (when it is one
# and the tool was built from it), else a 12-digit hash or unknown
VER=$("$BIN" --version | sed 's/^rnnplast //')
want_commit=
if top=$(git -C "$SRC" rev-parse --show-toplevel 2> /dev/null) && [ "$top" = "$(cd "$SRC" && pwd -P)" ]; then
    want_commit=$(git -C "$SRC" rev-parse --short=12 HEAD)
    git -C "$SRC" diff --quiet HEAD -- || want_commit=$want_commit-dirty
fi
"$BIN" sweep $TINY $GRID --rules bptt,eprop --out 'p v.csv' --curves pcur > /dev/null 2> "$TMP/e" || bad "provenance sweep: $(cat "$TMP/e")"
built=$(sed -n 2p 'p v.csv')
commit=${built##*, rnnplast commit }
case $built in "# built: librnnplast $VER, rnnplast commit "*) ok ;; *) bad "line 2 of the sweep CSV: '$built'" ;; esac
if [ -n "$want_commit" ]; then
    [ "$commit" = "$want_commit" ] && ok || bad "built commit '$commit', the source tree is at '$want_commit' (tool not rebuilt?)"
else
    echo "$commit" | grep -Eqx '[0-9a-f]{12}(-dirty)?|unknown' && ok || bad "built commit '$commit'"
fi
[ "$(sed -n 3p 'p v.csv')" = "# command: $BIN sweep $TINY $GRID --rules bptt,eprop --out 'p v.csv' --curves pcur" ] && ok \
    || bad "command line of the sweep CSV: $(sed -n 3p 'p v.csv')"
[ "$(sed -n 4p 'p v.csv')" = "$HDR,response_rate,choice_acc,$FTLE_HDR" ] && ok || bad "header: $(sed -n 4p 'p v.csv')"
for f in pcur/*.csv; do
    [ "$(sed -n 1p "$f")" = "$built" ] && [ "$(sed -n 2p "$f")" = "$(sed -n 3p 'p v.csv')" ] \
        && [ "$(sed -n 3p "$f")" = "iter,train_loss,test_loss,test_acc,floss_F,response_rate,choice_acc" ] \
        && ok || bad "provenance of the curve $f: $(head -3 "$f")"
done
"$BIN" train $TINY --curve tc.csv > /dev/null 2>&1 && [ "$(sed -n 1p tc.csv)" = "$built" ] \
    && [ "$(sed -n 2p tc.csv)" = "# command: $BIN train $TINY --curve tc.csv" ] && ok || bad "train --curve provenance: $(head -2 tc.csv)"
if command -v gnuplot > /dev/null 2>&1; then
    "$BIN" plot --csv 'p v.csv' --curves pcur --out pfig > /dev/null 2> "$TMP/e" \
        && grep -qF "set label 99 'rnnplast $VER, commit $commit; data: commit $commit'" pfig/plots.gp \
        && ok || bad "plot footer: $(grep 'label 99' pfig/plots.gp) $(cat "$TMP/e")"
    # the accuracy figure is the mean choice accuracy (one choice per trial), not test_acc:
    # a sweep whose two measures differ, the .dat column recomputed from the CSV in awk
    "$BIN" sweep --out pacc.csv --task 2af --gains 1 --rules bptt --seeds 2 --iters 60 --quiet > /dev/null 2>&1 \
        && "$BIN" plot --csv pacc.csv --out paccfig > /dev/null 2> "$TMP/e" \
        && want=$(grep -v '^#' pacc.csv | awk -F, 'NR > 1 { c += $13; t += $9; n++ } END { if (c != t) printf "%.6g", c / n }') \
        && [ -n "$want" ] && [ "$(awk '{ printf "%.6g", $4 }' paccfig/gain_bptt_off.dat)" = "$want" ] \
        && ok || bad "plot accuracy is not the mean choice_acc ($want): $(cat paccfig/gain_bptt_off.dat) $(cat "$TMP/e")"
fi
# (b) choice_acc and response_rate of a sweep row against an independent
# computation (tests/tool_choice_oracle.c, on the saved model of the same run)
# choice_check RULE TEST_BATCH FIXATION STIMULUS DELAY DECISION ARGS...: the
# sweep row's response_rate and choice_acc, and train's, equal the oracle's
choice_check() {
    rule=$1 tb=$2 per="$3 $4 $5 $6"
    shift 6
    rm -f ch.csv
    "$BIN" sweep "$@" --test-batch $tb --gains 1.5 --rules $rule --seeds 1 --out ch.csv > /dev/null 2> "$TMP/e" || bad "choice sweep: $(cat "$TMP/e")"
    "$BIN" train "$@" --test-batch $tb --gain 1.5 --rule $rule --seed 1 --model ch.rpn > train.out 2> "$TMP/e" || bad "choice train: $(cat "$TMP/e")"
    row=$(grep "^$rule,1.5,off,1," ch.csv)
    got=$(echo "$row" | awk -F, '{print $12, $13}')
    want=$(./oracle ch.rpn $tb $per)
    [ -n "$want" ] && [ "$got" = "$want" ] && ok || bad "$rule: sweep row gives response_rate, choice_acc '$got', the oracle '$want'"
    [ "$(awk '/^response rate/{r=$3} /^choice accuracy/{c=$3} END{print r, c}' train.out)" = "$want" ] && ok \
        || bad "$rule: train prints $(grep -e response -e choice train.out), the oracle '$want'"
    echo "$want" >> choices_seen
}
if ${CC:-cc} -std=c11 -I"$SRC/include" "$SRC/tests/tool_choice_oracle.c" -o oracle \
    "$(dirname "$BIN")/librnnplast.so.1" -Wl,-rpath,"$(dirname "$BIN")" -lm ${LDFLAGS:-} 2> "$TMP/e"; then
    : > choices_seen
    CH="--task 2af --N 12 --iters 40 --batch 8 --eval-every 20 --lyap-trials 2 --fixation 1 --stimulus 4 --delay 2 --decision 3 --fix-weight 0.1 --quiet"
    choice_check bptt 64 1 4 2 3 $CH   # responds on every trial, 0.66 correct
    choice_check eprop 64 1 4 2 3 $CH
    choice_check eprop 8 1 3 0 2 --task 2af --N 8 --iters 6 --batch 4 --eval-every 3 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --quiet
    # the cases are not degenerate: a response rate strictly inside (0, 1) and a
    # choice accuracy away from 0 and 1 occur (else the check proves little)
    awk '$1 > 0 && $1 < 1 {p = 1} $2 > 0.3 && $2 < 0.95 {q = 1} END {exit !(p && q)}' choices_seen && ok \
        || bad "the choice cases are degenerate: $(cat choices_seen)"
else
    bad "cannot build the choice oracle: $(cat "$TMP/e")"
fi
# a regression task has no choice: nan
"$BIN" sweep --task copy --N 8 --iters 4 --batch 4 --test-batch 8 --lyap-trials 2 --quiet $GRID --out reg.csv > reg.out 2>&1
[ "$(grep ^bptt,1,off,1,1,4, reg.csv | cut -d, -f12,13)" = "nan,nan" ] && ok || bad "regression row: $(grep ^bptt reg.csv)"
grep -q 'One choice per trial' reg.out && bad "a regression sweep printed the choice table" || ok
# (c) an old CSV (11 columns, no provenance) is resumed: its rows kept, nan in
# the new columns; plot reads it
{ sed -n 1p 'p v.csv'; echo "$HDR"; grep -e '^bptt' -e '^eprop' 'p v.csv' | cut -d, -f1-11 | grep -v ',2,'; } > old.csv
"$BIN" sweep $TINY $GRID --rules bptt,eprop --out old.csv > old.out 2> "$TMP/e" || bad "resume of an old CSV: $(cat "$TMP/e")"
for r in bptt eprop; do
    o=$(grep "^$r,1,off,1," 'p v.csv' | cut -d, -f1-11)
    grep -qx "$o,nan,nan,$NAN8" old.csv && ok || bad "old row of $r not kept with nan: $(grep "^$r" old.csv)"
done
[ "$(sed -n 2p old.csv)" = "$built" ] && [ "$(grep -c '^# built:' old.csv)" -eq 1 ] && ok || bad "resumed old CSV provenance: $(head -4 old.csv)"
grep -q 'One choice per trial' old.out && bad "the choice table printed for old rows without choices: $(tail -4 old.out)" || ok
grep -q 'Trial-based Lyapunov' old.out && bad "the FTLE table printed for old rows without FTLE: $(tail -4 old.out)" || ok
{ sed -n 1p 'p v.csv'; echo "$HDR"; grep '^bptt' 'p v.csv' | cut -d, -f1-11; } > old2.csv
if command -v gnuplot > /dev/null 2>&1; then
    "$BIN" plot --csv old2.csv --out ofig > /dev/null 2> "$TMP/e" && grep -q "data: commit unknown" ofig/plots.gp && ok \
        || bad "plot of an old CSV: $(cat "$TMP/e")"
fi
# old rows must have exactly 11 fields, new ones 13
{ sed -n 1p 'p v.csv'; echo "$HDR"; grep '^bptt' 'p v.csv'; } > mixed.csv
if command -v gnuplot > /dev/null 2>&1; then
    "$BIN" plot --csv mixed.csv --out mfig > /dev/null 2> "$TMP/e"; st=$?
    [ $st -eq 2 ] && grep -q 'line 3: column 12: unexpected field (expected 11)' "$TMP/e" && ok || bad "13 fields under an old header: exit $st: $(cat "$TMP/e")"
fi
# (d) a sweep resumed across builds keeps each build's lines and says so
grep -v '^eprop' 'p v.csv' | sed 's/rnnplast commit .*/rnnplast commit 0123456789ab/' > span.csv
"$BIN" sweep $TINY $GRID --rules bptt,eprop --out span.csv > span.out 2> "$TMP/e" || bad "resume across builds: $(cat "$TMP/e")"
[ "$(grep -c '^# built:' span.csv)" -eq 2 ] && grep -q 'rnnplast commit 0123456789ab$' span.csv && [ "$(grep -c '^# command:' span.csv)" -eq 2 ] \
    && ok || bad "provenance of a sweep resumed across builds: $(grep '^#' span.csv)"
grep -q "^note: the rows of this CSV were computed by 2 builds (its '# built:' lines): 0123456789ab $commit$" span.out && ok \
    || bad "summary of a sweep resumed across builds: $(tail -2 span.out)"
# resumed by the same build and command: nothing added
cp span.csv span0.csv
"$BIN" sweep $TINY $GRID --rules bptt,eprop --out span.csv > /dev/null 2>&1
cmp -s span.csv span0.csv && ok || bad "a finished sweep rerun changed its provenance: $(grep '^#' span.csv)"

# ---- flossing with controls (issue 14): the flossing optimizer, the
# controls rescale and extra, inter-flossing's schedule, rule x flossing
# gradient.  Each effect is checked on saved models through an independent
# reader (tests/tool_param_oracle.c: rp_net_load and rp_net_get_param only).
FT="--task 2af --N 16 --batch 4 --test-batch 8 --eval-every 5 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1 --quiet"
if ${CC:-cc} -std=c11 -I"$SRC/include" "$SRC/tests/tool_param_oracle.c" -o poracle \
    "$(dirname "$BIN")/librnnplast.so.1" -Wl,-rpath,"$(dirname "$BIN")" -lm ${LDFLAGS:-} 2> "$TMP/e"; then
    # fm NAME ARGS...: train with FT and ARGS, model NAME.rpn, output NAME.out
    fm() { n=$1; shift; "$BIN" train $FT "$@" --model "$n.rpn" > "$n.out" 2> "$TMP/e" || bad "train $*: $(cat "$TMP/e")"; }
    # pline A B PARAM: "MAXABS FRO" of B - A for PARAM
    pline() { ./poracle diff "$1.rpn" "$2.rpn" | awk -v p="$3" '$1 == p {print $2, $3}'; }
    fm f_off --iters 0
    # (1) Adam's first step moves the largest-gradient entry by the learning
    # rate (|m/sqrt(v)| = 1 up to eps): max |dW| = --floss-lr, by default the
    # task's (e-prop 3e-3, or --lr); local flossing (voltage) moves W only
    fm f_lr1 --iters 0 --floss local --floss-iters 1 --floss-lr 1e-4
    fm f_lr2 --iters 0 --floss local --floss-iters 1
    fm f_lr3 --iters 0 --floss local --floss-iters 1 --lr 1e-3
    for c in "f_lr1 1e-4" "f_lr2 3e-3" "f_lr3 1e-3"; do
        set -- $c
        pline f_off $1 W | awk -v lr=$2 '{d = $1 - lr; exit !($1 > 0 && d < 1e-4 * lr && -d < 1e-4 * lr)}' && ok \
            || bad "$1: max |dW| $(pline f_off $1 W), expected the learning rate $2"
        [ "$(./poracle diff f_off.rpn $1.rpn | awk '$1 != "W" && $2 != 0' | wc -l)" -eq 0 ] && ok \
            || bad "$1: local flossing moved more than W: $(./poracle diff f_off.rpn $1.rpn)"
    done
    # (2) SGD with clipping: ||dW|| = lr * clip exactly when the gradient is
    # longer than clip; without clipping, dW is linear in lr
    fm f_sg1 --iters 0 --floss local --floss-iters 1 --floss-optim sgd --floss-lr 0.01 --floss-clip 1e-3
    pline f_off f_sg1 W | awk '{d = $2 - 1e-5; exit !(d < 1e-12 && -d < 1e-12)}' && ok \
        || bad "sgd, clip 1e-3, lr 0.01: ||dW|| $(pline f_off f_sg1 W), expected 1e-5"
    fm f_sg2 --iters 0 --floss local --floss-iters 1 --floss-optim sgd --floss-lr 1e-3 --floss-clip 0
    fm f_sg3 --iters 0 --floss local --floss-iters 1 --floss-optim sgd --floss-lr 2e-3 --floss-clip 0
    a=$(pline f_off f_sg2 W | cut -d' ' -f2) b=$(pline f_off f_sg3 W | cut -d' ' -f2)
    awk -v a="$a" -v b="$b" 'BEGIN {r = b / a - 2; exit !(a > 1e-5 && r < 1e-9 && -r < 1e-9)}' && ok \
        || bad "sgd without clip: ||dW|| $a at lr 1e-3, $b at 2e-3 (expected twice)"
    # the clip is the flossing step's own: the same SGD step clipped at 1e9
    # (never reached) equals the unclipped one, bit for bit
    fm f_sg4 --iters 0 --floss local --floss-iters 1 --floss-optim sgd --floss-lr 1e-3 --floss-clip 1e9
    cmp -s f_sg2.rpn f_sg4.rpn && ok || bad "sgd step clipped at 1e9 differs from the unclipped one"
    # (3) shared vs an optimizer of its own: in phase pre the same (the shared
    # one is reset after pre-flossing), in phase inter not (its moments)
    fm f_p1 --iters 10 --floss local --floss-iters 3
    fm f_p2 --iters 10 --floss local --floss-iters 3 --floss-optim adam
    cmp -s f_p1.rpn f_p2.rpn && ok || bad "phase pre: --floss-optim adam differs from shared"
    fm f_i1 --iters 10 --floss local --floss-phase inter --floss-every 5 --floss-iters 2
    fm f_i2 --iters 10 --floss local --floss-phase inter --floss-every 5 --floss-iters 2 --floss-optim adam
    cmp -s f_i1.rpn f_i2.rpn && bad "phase inter: --floss-optim adam equals shared" || ok
    # an own optimizer with a negligible step leaves training as without flossing
    fm f_o10 --iters 10
    fm f_i3 --iters 10 --floss local --floss-phase inter --floss-every 5 --floss-iters 2 --floss-optim sgd --floss-lr 1e-300
    cmp -s f_o10.rpn f_i3.rpn && ok || bad "inter-flossing with an own SGD at lr 1e-300 changed the training"
    # (4) --floss-params: exact flossing of a tanh net reaches U and b; W keeps
    # them (and V, c) where they were
    fm f_t0 --iters 0 --act tanh
    fm f_ta --iters 0 --act tanh --floss exact --floss-iters 3
    fm f_tw --iters 0 --act tanh --floss exact --floss-iters 3 --floss-params W
    [ "$(pline f_t0 f_ta U | cut -d' ' -f1)" != 0 ] && [ "$(pline f_t0 f_ta b | cut -d' ' -f1)" != 0 ] && ok \
        || bad "exact flossing of tanh did not move U and b: $(./poracle diff f_t0.rpn f_ta.rpn)"
    [ "$(./poracle diff f_t0.rpn f_tw.rpn | awk '$1 != "W" && $2 != 0' | wc -l)" -eq 0 ] \
        && [ "$(pline f_t0 f_tw W | cut -d' ' -f1)" != 0 ] && ok \
        || bad "--floss-params W: $(./poracle diff f_t0.rpn f_tw.rpn)"
    # ... also against the task optimizer's momentum (phase inter, shared):
    # with the task steps at lr 1e-300 (moving nothing by more than 1e-290),
    # the flossing steps move U, b, V, c with all and leave them with W
    for pp in all W; do
        fm f_tm$pp --iters 6 --act tanh --lr 1e-300 --floss exact --floss-phase inter --floss-every 3 --floss-iters 2 --floss-lr 3e-3 --floss-params $pp
        ./poracle diff f_t0.rpn f_tm$pp.rpn | awk '$1 != "W" && $2 > 1e-290' | wc -l > nmoved
    done
    [ "$(cat nmoved)" -eq 0 ] && [ "$(./poracle diff f_t0.rpn f_tmall.rpn | awk '$1 != "W" && $2 > 1e-6' | wc -l)" -ge 2 ] && ok \
        || bad "--floss-params W, inter, shared: $(./poracle diff f_t0.rpn f_tmW.rpn) / all: $(./poracle diff f_t0.rpn f_tmall.rpn)"
    # ... and in phase during, where the flossing gradient joins the task
    # step: after one Adam step without clipping (each entry moves by
    # lr g/(|g| + eps), its own gradient alone), U and b are those of the run
    # without flossing with W, not with all
    fm f_d0 --iters 1 --act tanh --clip 0
    for pp in all W; do
        fm f_d$pp --iters 1 --act tanh --clip 0 --floss exact --floss-phase during --floss-params $pp
        ./poracle diff f_d0.rpn f_d$pp.rpn | awk '($1 == "U" || $1 == "b") && $2 != 0' | wc -l > nmoved$pp
    done
    [ "$(cat nmovedW)" -eq 0 ] && [ "$(cat nmovedall)" -eq 2 ] && ok \
        || bad "--floss-params W, during: $(./poracle diff f_d0.rpn f_dW.rpn) / all: $(./poracle diff f_d0.rpn f_dall.rpn)"
    # (5) rescale: W scaled by one factor (every other parameter untouched),
    # and lambda_max of the saved net (train's "after" at --iters 0: the
    # tool's own measurement, taken again) within the stated 1e-3 of the
    # target; train reports the factor the oracle finds
    for c in "0.3 0" "2 0" "1 -0.05"; do
        set -- $c
        fm f_r0 --iters 0 --gain $1
        fm f_rs --iters 0 --gain $1 --floss rescale --floss-target $2
        ./poracle ratio f_r0.rpn f_rs.rpn > ratio.txt
        s=$(awk '/^rescale/ {print $4}' f_rs.out)
        awk -v s="$s" '$1 == "W" {r = $3 / $2 - 1; q = $2 / s - 1; okw = r < 1e-12 && q < 1e-12 && -q < 1e-12 && s != 1}
                       $1 == "others" {oko = $2 == 0} END {exit !(okw && oko)}' ratio.txt && ok \
            || bad "rescale g $1: W not one multiple (train says x $s): $(cat ratio.txt)"
        awk -v t="$2" '/^lambda_max/ {d = $5 - t; exit !(d <= 1e-3 && -d <= 1e-3)}' f_rs.out && ok \
            || bad "rescale g $1 target $2: $(grep lambda f_rs.out)"
    done
    # a target the net cannot reach within W x 2^-10..2^10 is an honest failure
    "$BIN" train $FT --iters 0 --floss rescale --floss-target 5 > /dev/null 2> "$TMP/e"; st=$?
    [ $st -eq 1 ] && grep -q 'rescale: lambda_max does not reach the target 5' "$TMP/e" && ok \
        || bad "rescale to an unreachable target: exit $st: $(cat "$TMP/e")"
    # (6) extra: floss_iters more task iterations first = a longer run, to the bit
    fm f_ex --iters 10 --floss extra --floss-iters 5 --curve f_ex.csv
    fm f_15 --iters 15 --curve f_15.csv
    cmp -s f_ex.rpn f_15.rpn && ok || bad "--floss extra --floss-iters 5 --iters 10 differs from --iters 15"
    # its curve is the longer run's shifted by 5 (iteration 0 = after the extra ones)
    [ "$(grep -v '^#' f_ex.csv | sed 1d | cut -d, -f3-)" = "$(grep -v '^#' f_15.csv | sed 1,2d | cut -d, -f3-)" ] && ok \
        || bad "extra's curve is not the longer run's: $(cat f_ex.csv f_15.csv)"
    # (7) inter-flossing (MODEL.md §7.3): E_i = --floss-iters flossing steps
    # after every E_f = --floss-every task iterations; none before the first
    # cycle completes (the model is then the one trained without flossing)
    for c in "12 5 3 6" "10 5 3 6" "9 3 2 6" "4 5 3 0"; do
        set -- $c
        fm f_in --iters $1 --floss local --floss-phase inter --floss-every $2 --floss-iters $3
        [ "$(awk '/^flossing steps/ {print $3}' f_in.out)" = "$4" ] && ok \
            || bad "inter --iters $1 --floss-every $2 --floss-iters $3: $(grep flossing f_in.out), expected $4"
    done
    fm f_o4 --iters 4
    cmp -s f_in.rpn f_o4.rpn && ok || bad "inter-flossing before its first cycle changed the model"
    # (8) every rule with either flossing gradient: local and exact differ from
    # each other and from no flossing; "on" is local for the local rules and
    # exact for the BPTT family
    for r in bptt tbptt rtrl eprop rflo modprop; do
        for f in off local exact on; do
            fm f_$f --rule $r --iters 4 --floss $f --floss-iters 2 --floss-phase during
        done
        cmp -s f_local.rpn f_exact.rpn || cmp -s f_off.rpn f_local.rpn || cmp -s f_off.rpn f_exact.rpn \
            && bad "rule $r: local, exact and off flossing are not three different models" || ok
        case $r in eprop | rflo | modprop) want=local ;; *) want=exact ;; esac
        cmp -s f_on.rpn f_$want.rpn && ok || bad "rule $r: --floss on is not $want"
        fm f_pre --rule $r --iters 4 --floss exact --floss-iters 2
        fm f_int --rule $r --iters 4 --floss local --floss-phase inter --floss-every 2 --floss-iters 1
    done
    # (9) the sweep records what was done in its floss column, and a resumed
    # sweep keeps those rows
    "$BIN" sweep $FT --iters 4 --gains 1 --rules eprop --seeds 1 --floss off,local,rescale,extra --floss-iters 2 --out fc.csv > /dev/null 2> "$TMP/e" \
        || bad "sweep with the controls: $(cat "$TMP/e")"
    [ "$(grep -v '^#' fc.csv | sed 1d | cut -d, -f3 | tr '\n' ' ')" = "off local rescale extra " ] && ok \
        || bad "sweep floss column: $(cat fc.csv)"
    grep -v '^extra' fc.csv > fc2.csv
    "$BIN" sweep $FT --iters 4 --gains 1 --rules eprop --seeds 1 --floss off,local,rescale,extra --floss-iters 2 --out fc2.csv > /dev/null 2> "$TMP/e" \
        && [ "$(grep -v '^#' fc2.csv)" = "$(grep -v '^#' fc.csv)" ] && ok || bad "resumed sweep with the controls: $(cat "$TMP/e") $(cat fc2.csv)"
    # an extra run of the sweep is the train run's (same seed, same numbers)
    "$BIN" train $FT --iters 4 --rule eprop --floss extra --floss-iters 2 > tx.out 2> "$TMP/e"
    [ "$(awk '/^final test loss/ {print $4}' tx.out)" = "$(awk -F, '$3 == "extra" {print $8}' fc.csv)" ] && ok \
        || bad "sweep extra row vs train: $(grep 'test loss' tx.out) / $(grep ^eprop,1,extra fc.csv)"
else
    bad "cannot build the parameter oracle: $(cat "$TMP/e")"
fi
# bad values and combinations: exit 2, naming the flag
want2 "--floss-optim adamw" "--floss-optim|'adamw'" train --floss-optim adamw
want2 "--floss-params V" "--floss-params|'V'" train --floss-params V
want2 "--floss-params w" "--floss-params|'w'" train --floss-params w
want2 "--floss-lr 0" "--floss-lr|> 0" train --floss-lr 0
want2 "--floss-clip -1" "--floss-clip|>= 0" train --floss-clip -1
want2 "--floss-lr during" "--floss-lr|--floss-phase pre or inter" train --floss local --floss-phase during --floss-lr 1e-3
want2 "--floss-optim during" "--floss-optim|--floss-beta" train --floss local --floss-phase during --floss-optim sgd
want2 "--floss-clip during (sweep)" "--floss-clip" sweep --out x.csv --floss-phase during --floss-clip 1
want2 "--floss rescale inter" "--floss rescale|--floss-phase pre|inter" train --floss rescale --floss-phase inter
want2 "--floss extra during (sweep)" "--floss extra|--floss-phase pre|during" sweep --out x.csv --floss off,extra --floss-phase during
want2 "--floss-iters 0 inter" "--floss-iters|inter" train --floss local --floss-phase inter --floss-iters 0
want2 "--floss rescal" "--floss|rescal" train --floss rescal
want2 "sweep --floss seven modes" "--floss|up to 6" sweep --out x.csv --floss off,on,local,exact,rescale,extra,off
want2 "own inter optimizer and checkpoints" "--checkpoint|--floss-optim adam" train $TINY --floss local --floss-phase inter --floss-optim adam --checkpoint ck.rpc

# ---- issue 14: trial-based Lyapunov exponents and weight change -----------
# (a) a 13-column CSV (before the ftle columns) is resumed: rows kept, nan in
# the 8 new columns; plot reads it; a 13-column row under the new header and
# a 21-column row under the old one are refused
{ sed -n 1p 'p v.csv'; echo "$HDR,response_rate,choice_acc"; grep -e '^bptt' -e '^eprop' 'p v.csv' | cut -d, -f1-13 | grep -v ',2,'; } > v2.csv
"$BIN" sweep $TINY $GRID --rules bptt,eprop --out v2.csv > v2.out 2> "$TMP/e" || bad "resume of a 13-column CSV: $(cat "$TMP/e")"
for r in bptt eprop; do
    o=$(grep "^$r,1,off,1," 'p v.csv' | cut -d, -f1-13)
    grep -qx "$o,$NAN8" v2.csv && ok || bad "13-column row of $r not kept with nan: $(grep "^$r" v2.csv)"
done
[ "$(grep -c ^ v2.csv)" -eq "$(grep -c ^ 'p v.csv')" ] && [ "$(sed -n 4p v2.csv)" = "$HDR,response_rate,choice_acc,$FTLE_HDR" ] && ok || bad "resumed 13-column CSV: $(cat v2.csv)"
if command -v gnuplot > /dev/null 2>&1; then
    { sed -n 1p 'p v.csv'; echo "$HDR,response_rate,choice_acc"; grep '^bptt' 'p v.csv' | cut -d, -f1-13; } > v2b.csv
    "$BIN" plot --csv v2b.csv --out v2fig > /dev/null 2> "$TMP/e" && ok || bad "plot of a 13-column CSV: $(cat "$TMP/e")"
    { sed -n 1p 'p v.csv'; echo "$HDR,response_rate,choice_acc"; grep '^bptt' 'p v.csv'; } > v2c.csv
    "$BIN" plot --csv v2c.csv --out v2cfig > /dev/null 2> "$TMP/e"; st=$?
    [ $st -eq 2 ] && grep -q 'line 3: column 14: unexpected field (expected 13)' "$TMP/e" && ok || bad "21 fields under a 13-column header: exit $st: $(cat "$TMP/e")"
    { sed -n 1p 'p v.csv'; echo "$HDR,response_rate,choice_acc,$FTLE_HDR"; grep '^bptt' 'p v.csv' | cut -d, -f1-13; } > v2d.csv
    "$BIN" plot --csv v2d.csv --out v2dfig > /dev/null 2> "$TMP/e"; st=$?
    [ $st -eq 2 ] && grep -q 'line 3: column 14 (ftle_before): missing' "$TMP/e" && ok || bad "13 fields under the new header: exit $st: $(cat "$TMP/e")"
fi
grep -q 'Trial-based Lyapunov' v2.out && bad "the FTLE table printed for rows without FTLE: $(tail -4 v2.out)" || ok
# (b) the analytic oracle (MODEL.md §6): a linear net with a constant Jacobian
# D = alpha I + (1 - alpha) W built by tests/tool_ftle_oracle.c; every
# exponent of every trial, the mean, the delay period's local exponent and
# their per-tau values (per step / (1 - alpha)) and lambda x delay agree
# with log|alpha + (1 - alpha) c| (W = c I) or log|c| (W = c P, P
# orthogonal, alpha = 0), the s.d. over trials is 0.
# ftle_oracle N ALPHA C EXPECTED_PER_STEP [orth]
ftle_oracle() {
    ./ftle model lin.rpn $1 $2 $3 ${5:-} || { bad "cannot write the linear model $*"; return; }
    "$BIN" lyap --model lin.rpn --task dms --ftle-trials 3 --k $1 > lin.out 2> "$TMP/e" || { bad "lyap --ftle-trials: $(cat "$TMP/e")"; return; }
    awk -v e="$4" -v a="$2" -v N="$1" '
        function near(x, y,    dd) { dd = x - y; if (dd < 0) dd = -dd; return dd <= 1e-12 * (1 + (y < 0 ? -y : y)) }
        /^trial / { nt++; for (i = 3; i <= NF; i++) { nk++; if (!near($i, e)) bad = bad " trial " $2 ":" $i } }
        /^lambda_1 mean / { m = 1; if (!near($3, e) || $5 != 0 || !near($7, e / (1 - a)) || $9 != 0) bad = bad " mean line: " $0 }
        /^delay steps 7..16 / { d = 1; if (!near($5, e) || !near($7, e / (1 - a)) || !near($9, 10 * e)) bad = bad " delay line: " $0 }
        END { if (nt != 3 || nk != 3 * N || !m || !d) bad = bad " missing lines"; if (bad != "") { print bad; exit 1 } }' lin.out > "$TMP/e" \
        && ok || bad "FTLE oracle N $1 alpha $2 c $3 ${5:-} (expected $4 per step): $(cat "$TMP/e")"
}
# near A B: equal to the 6 digits printed
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(m > 0 && d <= 5e-6 * m) }'; }
if ${CC:-cc} -std=c11 -I"$SRC/include" "$SRC/tests/tool_ftle_oracle.c" -o ftle \
    "$(dirname "$BIN")/librnnplast.so.1" -Wl,-rpath,"$(dirname "$BIN")" -lm ${LDFLAGS:-} 2> "$TMP/e"; then
    ftle_oracle 6 0.5 1.4 "$(awk 'BEGIN { printf "%.17g", log(1.2) }')"
    ftle_oracle 5 0.5 -4 "$(awk 'BEGIN { printf "%.17g", log(1.5) }')"        # |alpha + (1-alpha) c| = 1.5
    ftle_oracle 4 0.9 0.5 "$(awk 'BEGIN { printf "%.17g", log(0.95) }')"
    ftle_oracle 5 0 0.8 "$(awk 'BEGIN { printf "%.17g", log(0.8) }')" orth
    ftle_oracle 7 0 -1.3 "$(awk 'BEGIN { printf "%.17g", log(1.3) }')" orth
    # (c) each trial from its own initial state: trial 2 of a run is the run
    # of that trial alone (seed 777001), on a nonlinear trained network
    FT="--task dms --N 12 --iters 20 --batch 8 --test-batch 16 --lyap-trials 2 --quiet --rule bptt --gain 1.5 --alpha 0.8"
    "$BIN" train $FT --model t.rpn > t.out 2> "$TMP/e" || bad "FTLE train: $(cat "$TMP/e")"
    "$BIN" lyap --model t.rpn --task dms --ftle-trials 3 --k 4 > t3.out 2> "$TMP/e" || bad "lyap t.rpn: $(cat "$TMP/e")"
    "$BIN" lyap --model t.rpn --task dms --ftle-trials 1 --k 4 --seed 777001 > t1.out 2> "$TMP/e" || bad "lyap t.rpn: $(cat "$TMP/e")"
    a=$(grep '^trial 2 ' t3.out | cut -d' ' -f3-) b=$(grep '^trial 1 ' t1.out | cut -d' ' -f3-)
    [ -n "$a" ] && [ "$a" = "$b" ] && [ "$(grep '^trial 1 ' t3.out | cut -d' ' -f3-)" != "$a" ] && ok || bad "trial 2 of 3 '$a', alone '$b'"
    # train's ftle_after is that measurement of the saved model (16 trials, k 4)
    "$BIN" lyap --model t.rpn --task dms --ftle-trials 16 --k 4 > t16.out 2> "$TMP/e" || bad "lyap t.rpn: $(cat "$TMP/e")"
    want=$(awk '/^lambda_1 mean/ { printf "%s %s", $3, $5 } /^delay steps/ { printf " %s", $5 }' t16.out)
    got=$(awk '/^ftle lambda_1/ { printf "%s %s", $8, $10 } /^delay lambda/ { printf " %s", $6 }' t.out)
    set -- $got $want
    [ $# -eq 6 ] && near "$1" "$4" && near "$2" "$5" && near "$3" "$6" && ok || bad "train's ftle after, s.d., delay '$got', lyap of its model '$want'"
    # per tau: per step / (1 - alpha) (alpha 0.8)
    awk '/^ftle lambda_1/ { b = $4; a = $8 } /^ftle per tau/ { pb = $5; pa = $7 }
         END { exit !(b != 0 && (pb - 5 * b) ^ 2 < 1e-10 * pb * pb && (pa - 5 * a) ^ 2 < 1e-10 * pa * pa) }' t.out && ok || bad "per tau: $(grep ftle t.out)"
    # (d) |dW|/|W0| and the path length against the saved models: --iters 0
    # saves W_init (the same seed: the same initialization)
    DWS="--task 2af --N 10 --batch 4 --test-batch 8 --lyap-trials 2 --fixation 1 --stimulus 3 --delay 4 --decision 2 --quiet --alpha 0.5 --ftle-trials 2"
    DW="$DWS --rule eprop --gain 0.8"
    for i in 0 1 2 3; do
        "$BIN" train $DW --iters $i --model w$i.rpn > w$i.out 2> "$TMP/e" || bad "train --iters $i: $(cat "$TMP/e")"
    done
    wc_() { awk '/^weight change/ { print $4, $6 }' "$1"; }
    [ "$(wc_ w0.out)" = "0 0" ] && ok || bad "--iters 0: weight change '$(wc_ w0.out)', expected 0 0"
    set -- $(wc_ w3.out)
    dw3=$1 path3=$2
    near "$dw3" "$(./ftle dw w0.rpn w3.rpn)" && ok || bad "dw_rel $dw3, from the models $(./ftle dw w0.rpn w3.rpn)"
    near "$path3" "$(./ftle path w0.rpn w1.rpn w2.rpn w3.rpn)" && ok || bad "path_rel $path3, from the models $(./ftle path w0.rpn w1.rpn w2.rpn w3.rpn)"
    awk -v d="$dw3" -v p="$path3" 'BEGIN { exit !(p >= d && p > 1.0001 * d) }' && ok || bad "path $path3 not above dw $dw3 (triangle inequality; 3 steps that turn)"
    set -- $(wc_ w1.out)
    [ "$1" = "$2" ] && near "$1" "$(./ftle dw w0.rpn w1.rpn)" && ok || bad "one iteration: dw $1 path $2, from the models $(./ftle dw w0.rpn w1.rpn)"
    # flossing's steps count (pre-flossing moves W from its initialization)
    for i in 1 2; do
        "$BIN" train $DW --iters 0 --floss exact --floss-iters $i --model wf$i.rpn > wf$i.out 2> "$TMP/e" || bad "train floss: $(cat "$TMP/e")"
    done
    set -- $(wc_ wf2.out)
    near "$1" "$(./ftle dw w0.rpn wf2.rpn)" && near "$2" "$(./ftle path w0.rpn wf1.rpn wf2.rpn)" && ! near "$2" "$1" && ok \
        || bad "2 flossing steps: dw $1 path $2, from the models $(./ftle dw w0.rpn wf2.rpn) $(./ftle path w0.rpn wf1.rpn wf2.rpn)"
    # a run paused and resumed from its checkpoint: the same exponents and
    # path (the path length is kept in the checkpoint)
    "$BIN" train $DW --iters 6 --floss on --floss-iters 2 > ck0.out 2> "$TMP/e" || bad "train: $(cat "$TMP/e")"
    "$BIN" train $DW --iters 6 --floss on --floss-iters 2 --checkpoint ck --stop-after 3 > /dev/null 2>&1
    "$BIN" train $DW --iters 6 --floss on --floss-iters 2 --checkpoint ck --resume ck > ck1.out 2> "$TMP/e" || bad "resume: $(cat "$TMP/e")"
    [ -n "$(grep '^weight change' ck1.out)" ] && [ "$(grep -e '^ftle' -e '^delay' -e '^weight' ck0.out)" = "$(grep -e '^ftle' -e '^delay' -e '^weight' ck1.out)" ] \
        && ok || bad "resumed run: $(cat ck1.out), uninterrupted: $(cat ck0.out)"
    # the sweep row holds train's numbers (same run), 21 fields
    "$BIN" sweep $DWS --iters 3 --gains 0.8 --rules eprop --seeds 1 --out dw.csv > dw.out 2> "$TMP/e" || bad "dw sweep: $(cat "$TMP/e")"
    row=$(grep '^eprop,0.8,off,1,' dw.csv)
    [ "$(echo "$row" | awk -F, '{ print NF }')" = 21 ] && near "$(echo "$row" | cut -d, -f20)" "$dw3" && near "$(echo "$row" | cut -d, -f21)" "$path3" \
        && ok || bad "sweep row '$row', train: dw $dw3 path $path3"
    grep -q '^Trial-based Lyapunov' dw.out && grep -q 'path/|W0|' dw.out && ok || bad "no FTLE table in the sweep summary: $(cat dw.out)"
else
    bad "cannot build the FTLE oracle: $(cat "$TMP/e")"
fi
# --floss rescale moves W before training: the path counts that jump, so the
# triangle inequality path >= |dW| holds (with --iters 0, path = |dW| > 0)
"$BIN" train $FT --gain 0.3 --floss rescale --iters 0 > "$TMP/rs" 2>&1 || bad "rescale, iters 0: $(cat "$TMP/rs")"
awk '/^weight change/ { d = $4; p = $6; exit !(d > 0 && p == d) }' "$TMP/rs" && ok ||
    bad "rescale with --iters 0: path must equal |dW| > 0: $(grep '^weight change' "$TMP/rs")"
"$BIN" train $FT --gain 0.3 --floss rescale --iters 3 > "$TMP/rs" 2>&1 || bad "rescale, iters 3: $(cat "$TMP/rs")"
awk '/^weight change/ { d = $4; p = $6; exit !(d > 0 && p >= d) }' "$TMP/rs" && ok ||
    bad "rescale with --iters 3: path < |dW|: $(grep '^weight change' "$TMP/rs")"
# --lyap-k and --ftle-k: at most N
want2 "lyap-k above N" '--lyap-k|expected 1..N = 8' train $TINY --lyap-k 9
want2 "ftle-k above N" '--ftle-k|expected 1..N = 8' train $TINY --ftle-k 9
"$BIN" train $TINY --N 2 > /dev/null 2> "$TMP/e" && ok || bad "N 2 with the default --ftle-k 4: $(cat "$TMP/e")"
want2 "ftle-trials without task" '--ftle-trials needs --task' lyap --ftle-trials 2

echo "tool_cli: $pass passed, $fails failed"
[ $fails -eq 0 ]
