"""The ablation table (markdown) from ablation.sh's CSVs.

usage: /usr/bin/python3 summarize.py ablation.csv [tool_sweep.csv ...]

For each configuration: e-prop's accuracy at g 0.5 without and with flossing,
mean over seeds, the paired difference (with - without, same seed) with its
95 % t interval, the exact two-sided sign-flip p (all 2^n sign patterns) and
the per-seed differences.  Tool sweep CSVs: choice_acc, floss off vs local.
"""
import csv
import itertools
import math
import sys

# two-sided 97.5 % quantiles of Student's t, df 1..30
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def paired(d):
    n = len(d)
    m = sum(d) / n
    if n > 1:
        sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
        h = T975[min(n - 1, 30) - 1] * sd / math.sqrt(n)
    else:
        h = float("nan")
    # exact sign-flip test of the mean (n <= 20)
    a = abs(sum(d))
    hits = 0
    for signs in itertools.product((1, -1), repeat=n):
        if abs(sum(s * x for s, x in zip(signs, d))) >= a - 1e-12:
            hits += 1
    return m, m - h, m + h, hits / 2 ** n


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def effects(off, on):
    return {s: on[s] - off[s] for s in set(off) & set(on)}


def line(name, off, on, base=None):
    """base: the reference configuration's per-seed effects; the change of
    the effect against it, paired by seed, goes in the last column."""
    eff = effects(off, on)
    seeds = sorted(eff)
    d = [eff[s] for s in seeds]
    m, lo, hi, p = paired(d)
    mo = sum(off[s] for s in seeds) / len(seeds)
    mn = sum(on[s] for s in seeds) / len(seeds)
    verdict = "**helps**" if lo > 0 else ("**hurts**" if hi < 0 else "n.s.")
    per = " ".join("%+.2f" % x for x in d)
    ch = ""
    if base is not None:
        common = sorted(set(eff) & set(base))
        if len(common) > 1:
            cm, clo, chi, cp = paired([eff[s] - base[s] for s in common])
            ch = "%+.3f [%+.3f, %+.3f] p %.3g" % (cm, clo, chi, cp)
    return "| %s | %d | %.3f | %.3f | %+.3f [%+.3f, %+.3f] | %.3g | %s | %s | %s |" % (
        name, len(seeds), mo, mn, m, lo, hi, p, verdict, per, ch)


def main():
    out = []
    out.append("| configuration (one factor switched to the tool's value) | seeds | "
               "acc without | acc with flossing | with - without [95 % CI] | "
               "sign-flip p | | per-seed differences | change of the effect vs A00 (A) or "
               "B00 (B), same seeds [95 % CI] |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    r = rows(sys.argv[1])
    order = []
    for x in r:
        if x["config"] not in order:
            order.append(x["config"])
    bptt = {}
    base = {}
    for name in order:
        sel = [x for x in r if x["config"] == name]
        if sel[0]["rule"] == "bptt":
            for x in sel:
                bptt.setdefault(x["gain"], []).append(float(x["acc"]))
            continue
        off = {int(x["seed"]): float(x["acc"]) for x in sel if x["floss_iters"] == "0"}
        on = {int(x["seed"]): float(x["acc"]) for x in sel if x["floss_iters"] != "0"}
        ref = base.get(name[0])
        out.append(line("driver: " + name, off, on, None if name[1:3] == "00" else ref))
        if name[1:3] == "00":
            base[name[0]] = effects(off, on)
    for path in sys.argv[2:]:
        t = rows(path)
        off = {int(x["seed"]): float(x["choice_acc"]) for x in t
               if x["rule"] == "eprop" and x["floss"] == "off"}
        on = {int(x["seed"]): float(x["choice_acc"]) for x in t
              if x["rule"] == "eprop" and x["floss"] == "local"}
        name = path.rsplit("/", 1)[-1].replace(".csv", "")
        out.append(line("rnnplast sweep: " + name, off, on))
    out.append("")
    for g in sorted(bptt, key=float):
        v = bptt[g]
        out.append("driver recipe, BPTT g %s: mean %.3f over %d seeds (%s)" % (
            g, sum(v) / len(v), len(v), " ".join("%.2f" % a for a in v)))
    print("\n".join(out))


if __name__ == "__main__":
    main()
