#!/bin/sh
# Hostile inputs to the rnnplast program (run by `make check`): CSVs and
# paths that try to make `plot` run commands (backquotes, system(), quotes,
# `;`), malformed fields (newlines, control bytes, NUL, very long lines,
# nan/inf/out-of-range numbers).  Nothing may be executed (no file PWNED*
# may appear), every bad CSV is refused with exit 2 naming its line and
# column, and a sweep resumed from a CSV with a tampered row reruns that run.
# Usage: sh tests/tool_hostile.sh build/rnnplast
set -u
BIN=${1:?usage: tool_hostile.sh path/to/rnnplast}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnplast_hostile.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "tool_hostile: FAIL: $*" >&2; fails=$((fails + 1)); }
have_gnuplot=0
command -v gnuplot > /dev/null 2>&1 && have_gnuplot=1
# Nothing was executed: no PWNED* anywhere under $TMP (the commands run in
# the current directory, $TMP/cwd, or in the output directory).
no_pwned() {
    if [ -n "$(find "$TMP" -name 'PWNED*' 2> /dev/null)" ]; then
        bad "$1: a command ran ($(find "$TMP" -name 'PWNED*' | head -3))"
        find "$TMP" -name 'PWNED*' -exec rm -f {} +
    else
        ok
    fi
}
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

HEAD='# rnnplast sweep: task=2af (hand-written)
rule,gain,floss,seed,ok,iters,train_loss,test_loss,test_acc,lambda_before,lambda_after'
GOOD='eprop,1,off,1,1,50,0.5,0.7,0.5,0.1,0.1
eprop,2,off,1,1,50,0.4,0.6,0.75,-inf,0.2
bptt,1,off,1,0,12,nan,nan,nan,nan,nan
bptt,2,off,1,1,50,0.3,0.5,1,0.05,-0.1'

# A valid CSV (with -inf, nan and a stopped run) plots.
printf '%s\n%s\n' "$HEAD" "$GOOD" > "$TMP/good.csv"
if [ $have_gnuplot -eq 1 ]; then
    "$BIN" plot --csv "$TMP/good.csv" --out "$TMP/figgood" > /dev/null 2> "$TMP/err" && ok \
        || bad "plot of a valid CSV: $(cat "$TMP/err")"
    [ -s "$TMP/figgood/accuracy_vs_gain.png" ] && ok || bad "plot of a valid CSV: no figure"
fi

# The controls' rows (floss rescale, extra) are valid rows: plotted.
printf '%s\n%s\n%s\n' "$HEAD" "$GOOD" 'eprop,1,rescale,1,1,50,0.5,0.7,0.5,0.1,0.1
eprop,1,extra,1,1,50,0.45,0.65,0.5,0.1,0.05' > "$TMP/controls.csv"
if [ $have_gnuplot -eq 1 ]; then
    "$BIN" plot --csv "$TMP/controls.csv" --out "$TMP/figctl" > /dev/null 2> "$TMP/err" \
        && grep -q 'eprop, floss rescale' "$TMP/figctl/plots.gp" && ok \
        || bad "plot of a CSV with the controls' rows: $(cat "$TMP/err")"
fi

# plot_bad NAME LINE COLUMN ROW: a CSV whose line LINE is the good header
# then ROW (printf format, so \001 etc. give raw bytes) must exit 2 with one
# line naming LINE and COLUMN, and run nothing.
plot_bad() {
    name=$1 line=$2 col=$3
    { printf '%s\n' "$HEAD"; printf "$4"; printf '\n'; printf '%s\n' "$GOOD"; } > "$TMP/$name.csv"
    "$BIN" plot --csv "$TMP/$name.csv" --out "$TMP/fig_$name" > /dev/null 2> "$TMP/err"
    st=$?
    if [ $st -ne 2 ]; then
        bad "plot $name: exited $st, expected 2 ($(head -c 300 "$TMP/err"))"
    elif [ "$(wc -l < "$TMP/err")" -ne 1 ] || ! grep -Eq "line $line: column $col[ :]" "$TMP/err"; then
        bad "plot $name: expected one line naming line $line, column $col; got: $(head -c 300 "$TMP/err")"
    else
        ok
    fi
    no_pwned "plot $name"
}
plot_bad backquote_rule 3 1 "'\`touch PWNED\`',1,off,1,1,50,0.5,0.7,0.5,0.1,0.1"
plot_bad backquote_rule_bare 3 1 '`touch PWNED`,1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad system_rule 3 1 'system("touch PWNED"),1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad backquote_floss 3 3 "eprop,1,'\`touch PWNED2\`',1,1,50,0.5,0.7,0.5,0.1,0.1"
plot_bad system_floss 3 3 "eprop,1,off' . system('touch PWNED3') . ',1,1,50,0.5,0.7,0.5,0.1,0.1"
# the floss field's values are exact names: the controls' too (issue 14)
plot_bad floss_rescale_case 3 3 'eprop,1,Rescale,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad floss_extra_suffix 3 3 'eprop,1,extra2,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad floss_extra_prefix 3 3 'eprop,1,xextra,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad floss_rescale_nul 3 3 'eprop,1,rescale\000,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad floss_rescale_space 3 3 'eprop,1,rescale ,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad backquote_value 3 8 "eprop,1,off,1,1,50,0.5,'\`touch PWNED4\`',0.5,0.1,0.1"
plot_bad macro_rule 3 1 'eprop@x,1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad dquote_rule 3 1 '"eprop",1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad squote_rule 3 1 "eprop',1,off,1,1,50,0.5,0.7,0.5,0.1,0.1"
plot_bad newline_in_field 3 1 '"ep\nrop",1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad newline_in_number 3 11 'eprop,1,off,1,1,50,0.5,0.7,0.5,0.1,\n`touch PWNED5`'
plot_bad control_rule 3 1 'eprop\001,1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad escape_gain 3 2 'eprop,1\033[31m,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad cr_end 3 11 'eprop,1,off,1,1,50,0.5,0.7,0.5,0.1,0.1\r'
plot_bad nul_seed 3 4 'eprop,1,off,1\000,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad tampered 3 8 'eprop,1,off,2,1,50,nan,inf,-5,xx,yy'
plot_bad acc_range 3 9 'eprop,1,off,2,1,50,0.5,0.7,-5,0.1,0.1'
plot_bad lambda_word 3 10 'eprop,1,off,2,1,50,0.5,0.7,0.5,xx,0.1'
plot_bad gain_inf 3 2 'eprop,1e999,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad gain_neg 3 2 'eprop,-1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad gain_hex 3 2 'eprop,0x10,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad gain_space 3 2 'eprop, 1,off,1,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad seed_zero 3 4 'eprop,1,off,0,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad seed_huge 3 4 'eprop,1,off,99999999999999999999999,1,50,0.5,0.7,0.5,0.1,0.1'
plot_bad ok_two 3 5 'eprop,1,off,1,2,50,0.5,0.7,0.5,0.1,0.1'
plot_bad loss_neg 3 7 'eprop,1,off,1,1,50,-0.5,0.7,0.5,0.1,0.1'
plot_bad lambda_pinf 3 11 'eprop,1,off,1,1,50,0.5,0.7,0.5,0.1,inf'
plot_bad ten_fields 3 11 'eprop,1,off,1,1,50,0.5,0.7,0.5,0.1'
plot_bad twelve_fields 3 12 'eprop,1,off,1,1,50,0.5,0.7,0.5,0.1,0.1,`touch PWNED6`'
plot_bad empty_line 3 1 ''
long=$(head -c 6000 /dev/zero | tr '\000' 'a')
plot_bad long_line 3 1 "eprop,1,off,1,1,50,0.5,0.7,0.5,0.1,$long"
# no header before the rows
printf '%s\n' "$GOOD" > "$TMP/nohead.csv"
"$BIN" plot --csv "$TMP/nohead.csv" --out "$TMP/fig_nohead" > /dev/null 2> "$TMP/err"
[ $? -eq 2 ] && grep -q 'line 1: column 1:' "$TMP/err" && ok || bad "plot without a header: $(cat "$TMP/err")"

# A hostile learning curve (plot --curves) is refused the same way.
mkdir -p "$TMP/curves"
printf 'iter,train_loss,test_loss,test_acc,floss_F\n0,,0.7,0.5,nan\n5,0.6,`touch PWNED7`,0.5,nan\n' \
    > "$TMP/curves/eprop_g1_off_s1.csv"
"$BIN" plot --csv "$TMP/good.csv" --curves "$TMP/curves" --out "$TMP/fig_curve" > /dev/null 2> "$TMP/err"
[ $? -eq 2 ] && grep -q 'eprop_g1_off_s1.csv: line 3: column 3 ' "$TMP/err" && ok \
    || bad "plot of a hostile curve: $(cat "$TMP/err")"
no_pwned "plot hostile curve"

# --out paths that break out of quotes (shell and gnuplot) create nothing
# but the directory, and the figures land inside it.
for d in "figs'; touch PWNED8; '" "figs\"; touch PWNED9; \"" "d\`touch PWNED10\`;x" "q'\`touch PWNED11\`'" \
    "e\$(touch PWNED12)"; do
    "$BIN" plot --csv "$TMP/good.csv" --out "$TMP/cwd/$d" > /dev/null 2> "$TMP/err"
    st=$?
    no_pwned "plot --out \"$d\""
    if [ $have_gnuplot -eq 1 ]; then
        [ $st -eq 0 ] && [ -s "$TMP/cwd/$d/loss_vs_gain.png" ] && ok \
            || bad "plot --out \"$d\": exit $st, $(cat "$TMP/err")"
    fi
done

# ---- plot never writes into a FIFO, device node or socket ------------------
# A special file under a name plot writes (a data file, the script, a figure
# gnuplot makes) is refused with exit 2 naming it and its kind, and stays.
# (Device nodes: made by mknod in $TMP when root, never under /dev.)
special_out() { # NAME KIND-TEXT MAKER...
    name=$1 kind=$2
    shift 2
    rm -rf "$TMP/sp" && mkdir "$TMP/sp" && "$@" "$TMP/sp/$name" || { bad "cannot make $name"; return; }
    before=$(stat -c '%F %i %t:%T' "$TMP/sp/$name")
    timeout 20 "$BIN" plot --csv "$TMP/good.csv" --out "$TMP/sp" > /dev/null 2> "$TMP/err"
    st=$?
    if [ $st -ne 2 ] || ! grep -q "sp/$name is $kind, not a regular file" "$TMP/err"; then
        bad "plot over $kind $name: exit $st: $(head -c 300 "$TMP/err")"
    elif [ "$(stat -c '%F %i %t:%T' "$TMP/sp/$name")" != "$before" ]; then
        bad "plot over $kind $name: it was replaced"
    else
        ok
    fi
}
for n in gain_eprop_off.dat plots.gp loss_vs_gain.png gnuplot.log; do
    special_out "$n" "a FIFO" mkfifo
done
if [ "$(id -u)" -eq 0 ]; then
    mkchr() { mknod -m 600 "$1" c 1 3; }
    special_out plots.gp "a character device" mkchr
else
    echo "tool_hostile: skipped the device-node case: mknod needs root"
fi
# ---- sweep resume: a tampered row is rerun, the user told ------------------
TINY="--task 2af --N 8 --iters 6 --batch 4 --test-batch 8 --eval-every 3 --lyap-trials 2 --stimulus 3 --decision 2 --fixation 1"
GRID="$TINY --gains 1,2 --rules eprop --seeds 2 --quiet --jobs 2"
"$BIN" sweep $GRID --out "$TMP/full.csv" > "$TMP/full.out" 2> "$TMP/err" || bad "sweep: $(cat "$TMP/err")"
# resume_bad NAME LINE COLUMN SED: line LINE of the finished CSV edited by
# SED; the resumed sweep must name LINE and COLUMN on stderr, rerun the run
# (exit 0) and end with the uninterrupted CSV.
# The CSVs' data without their provenance lines (built, command: the --out
# given differs), the configuration line kept.
same() {
    grep -v -e '^# built: ' -e '^# command' "$1" > "$1.nop"
    grep -v -e '^# built: ' -e '^# command' "$2" > "$2.nop"
    cmp -s "$1.nop" "$2.nop"
}
# Lines 2-3 of the CSV are its provenance (built, command), rows from line 5.
resume_bad() {
    sed "$4" "$TMP/full.csv" > "$TMP/r_$1.csv"
    cmp -s "$TMP/full.csv" "$TMP/r_$1.csv" && { bad "resume $1: the edit changed nothing"; return; }
    "$BIN" sweep $GRID --out "$TMP/r_$1.csv" > "$TMP/out" 2> "$TMP/err"
    st=$?
    if [ $st -ne 0 ]; then
        bad "resume $1: exited $st ($(cat "$TMP/err"))"
    elif ! grep -Eq "line $2: column $3[ :]" "$TMP/err"; then
        bad "resume $1: stderr does not name line $2, column $3: $(cat "$TMP/err")"
    elif ! same "$TMP/full.csv" "$TMP/r_$1.csv"; then
        bad "resume $1: the tampered row was kept (CSV differs from the uninterrupted one)"
    elif ! cmp -s "$TMP/full.out" "$TMP/out"; then
        bad "resume $1: the summary differs from the uninterrupted one: $(cat "$TMP/out")"
    else
        ok
    fi
}
resume_bad tampered 7 8 '7s/^eprop,2,off,1,.*/eprop,2,off,1,1,6,nan,inf,-5,xx,yy,0,0/'
resume_bad acc_neg 5 9 '5s/^\(eprop,1,off,1,1,6,[^,]*,[^,]*\),[^,]*,/\1,-5,/'
resume_bad lambda_text 7 10 '7s/^\(\([^,]*,\)\{9\}\)[^,]*,/\1xx,/'
resume_bad iters_short 5 6 '5s/^eprop,1,off,1,1,6,/eprop,1,off,1,1,5,/'
resume_bad control 8 2 '8s/^eprop,2,/eprop,2\x01,/'
resume_bad extra_field 5 22 '5s/$/,1/'
resume_bad choice_range 5 13 '5s/^\(\([^,]*,\)\{12\}\)[^,]*,/\11.5,/'
resume_bad sd_negative 5 16 '5s/^\(\([^,]*,\)\{15\}\)[^,]*,/\1-0.1,/'
resume_bad path_inf 5 21 '5s/,[^,]*$/,inf/'
resume_bad old_row_in_new_file 5 14 '5s/^\(\([^,]*,\)\{12\}[^,]*\),.*/\1/'

# Valid rows that are not runs of this grid, or repeat one, are dropped with
# a note naming them (the CSV ends as the uninterrupted one).
for what in dup grid; do
    cp "$TMP/full.csv" "$TMP/r_$what.csv"
    if [ $what = dup ]; then sed -n 5p "$TMP/full.csv"; else echo 'eprop,7,off,1,1,6,1,1,0.5,0.1,0.1,1,0.5,0.1,0.1,0,0,0.1,0.1,0.5,0.5'; fi \
        >> "$TMP/r_$what.csv"
    "$BIN" sweep $GRID --out "$TMP/r_$what.csv" > /dev/null 2> "$TMP/err"
    st=$?
    msg=$([ $what = dup ] && echo 'a second row' || echo 'not a run of this grid')
    [ $st -eq 0 ] && grep -q "line 9: $msg" "$TMP/err" && same "$TMP/full.csv" "$TMP/r_$what.csv" && ok \
        || bad "resume with a row $what: exit $st, $(cat "$TMP/err")"
done

# ---- hostile bytes in the command line: the provenance line stays one line
# of printable ASCII, and a shell reads it back as the same arguments --------
HG="$TINY --gains 1 --rules eprop --seeds 1 --quiet"
HOST=$(printf 'h\n`touch PWNED8`$(touch PWNED9)\047"\\\001\377 x.csv')
"$BIN" sweep $HG --out "$TMP/$HOST" > /dev/null 2> "$TMP/err" || bad "sweep --out hostile: $(cat "$TMP/err")"
no_pwned "hostile argv"
f="$TMP/$HOST"
[ "$(grep -c '^# ' "$f")" -eq 3 ] && [ "$(grep -vc '^# ' "$f")" -eq 2 ] && ok || bad "hostile argv broke the CSV: $(cat -v "$f")"
LC_ALL=C grep -q '[^ -~]' "$f" && bad "a byte outside printable ASCII reached the CSV: $(cat -v "$f")" || ok
cmdl=$(sed -n 's/^# command: //p' "$f")
# resumed: the same file, its rows kept
cp "$f" "$TMP/host_before"
"$BIN" sweep $HG --out "$TMP/$HOST" > /dev/null 2> "$TMP/err" && cmp -s "$f" "$TMP/host_before" && ok \
    || bad "resume of the hostile-argv CSV: $(cat "$TMP/err")"
if command -v bash > /dev/null 2>&1; then
    # a shell reads it back as the same arguments (after the program's path)
    bash -c 'eval "set -- $1"; shift; for a; do printf "%s\n" "$a"; done' x "$cmdl" > "$TMP/argv_back" 2> "$TMP/err"
    no_pwned "eval of the command line"
    { echo sweep; for a in $HG --out; do echo "$a"; done; printf '%s\n' "$TMP/$HOST"; } > "$TMP/argv_want"
    cmp -s "$TMP/argv_back" "$TMP/argv_want" && ok || bad "the command line does not read back: $cmdl"
fi

echo "tool_hostile: $pass passed, $fails failed"
[ $fails -eq 0 ]
