#!/bin/sh
# probe NAME "task flags" "floss flags" gains subgain
# the demo-search probes (scripts/ablation/README.md): run from an output directory with BIN set
B=${BIN:?set BIN to build/rnnplast}
N=$1; T="$2 --eval-every 50 --quiet --jobs 2"; FL="$3"; G=$4; S=$5; SEEDS=${SEEDS:-10}
start=$(date +%s)
nice -n 10 $B sweep --out ${N}_off.csv $T $FL --rules bptt,eprop --gains $G --floss off --seeds $SEEDS > /dev/null &&
nice -n 10 $B sweep --out ${N}_fl.csv $T $FL --rules eprop --gains $S --floss local --seeds $SEEDS > /dev/null
echo "$N: $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
$B claims --study --subcritical $S ${N}_off.csv ${N}_fl.csv | grep '^claim'
for f in ${N}_off.csv ${N}_fl.csv; do grep -v '^#' $f | awk -F, 'NR>1{print $1,$2,$3,$4,$13}' ; done | sort -k1,1 -k2,2n -k3,3 -k4,4n | awk '{k=$1" "$2" "$3; a[k]=a[k]" "substr($5,1,4); s[k]+=$5; n[k]++} END{for(k in a) printf "%s: mean %.3f:%s\n", k, s[k]/n[k], a[k]}' | sort
