#!/usr/bin/python3
"""Tables of docs/RESULTS.md from the CSVs of scripts/study.sh (issue 14).

    /usr/bin/python3 scripts/study_report.py BIN OUTDIR [--update docs/RESULTS.md]

Without --update the tables go to standard output.  With it, every block
between "<!-- study:NAME -->" and "<!-- /study:NAME -->" in the file is
replaced by the table NAME computed now; text outside the blocks is kept, so
the prose is written once and every number in a block is regenerated.  The
comparisons (paired by seed, percentile bootstrap, exact sign-flip test, Holm)
come from `BIN claims`, the tool's own statistics, so the report and the tool
cannot disagree.  Standard library only.
"""
import csv
import math
import os
import random
import re
import subprocess
import sys

CRITERION = 0.8  # choice accuracy that counts as "learned" (chance is 0.5)
BOOT = 10000


def read_sweep(path):
    """(rows, provenance): rows as dicts, provenance the '# built:' and '# command:' lines."""
    prov = {}
    lines = []
    with open(path, newline="") as f:
        for line in f:
            if line.startswith("# built:"):
                prov.setdefault("built", []).append(line[len("# built:"):].strip())
            elif line.startswith("# command:"):
                prov.setdefault("command", line[len("# command:"):].strip())
            elif line.startswith("# rnnplast sweep:"):
                prov["config"] = line[len("# rnnplast sweep:"):].strip()
            elif not line.startswith("#"):
                lines.append(line)
    rows = list(csv.DictReader(lines))
    return rows, prov


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


def config_value(prov, key):
    m = re.search(r"(?:^| )%s=(\S+)" % re.escape(key), prov.get("config", ""))
    return m.group(1) if m else None


def mean(xs):
    xs = [x for x in xs if math.isfinite(x)]
    return sum(xs) / len(xs) if xs else math.nan


def boot_ci(xs, seed=1):
    """95 % percentile bootstrap interval of the mean (fixed seed: reproducible)."""
    xs = [x for x in xs if math.isfinite(x)]
    if len(xs) < 2:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    n = len(xs)
    means = sorted(sum(rng.choice(xs) for _ in range(n)) / n for _ in range(BOOT))
    return (means[int(0.025 * BOOT) - 1], means[int(0.975 * BOOT) - 1])


def fmt(x, nd=3):
    return "–" if not math.isfinite(x) else f"{x:.{nd}f}"


def fmt_ci(xs):
    lo, hi = boot_ci(xs)
    return f"{fmt(mean(xs))} [{fmt(lo)}, {fmt(hi)}]"


def gains_of(rows):
    return sorted({float(r["gain"]) for r in rows})


def gstr(g):
    return f"{g:g}"


def cell(rows, rule, gain, floss):
    return [r for r in rows if r["rule"] == rule and float(r["gain"]) == gain and r["floss"] == floss]


def criterion_iters(outdir, name, rows):
    """{(rule, gain, floss, seed): first evaluated iteration whose choice accuracy reaches
    CRITERION (inf: never)}.  Read off the learning curves when OUTDIR has them, and kept
    in OUTDIR/criterion/NAME.csv, which is read when the curves are absent (the curves
    are not published: about 1.5 kB a run)."""
    keep = os.path.join(outdir, "criterion", name + ".csv")
    curves = os.path.join(outdir, f"curves_{name}")
    res = {}
    if os.path.isdir(curves):
        for r in rows:
            key = (r["rule"], float(r["gain"]), r["floss"], r["seed"])
            axes = f"_{r['feedback']}_lr{gstr(float(r['lr']))}" if "lr" in r else ""  # sweep --feedbacks/--lrs
            path = os.path.join(curves, f"{r['rule']}_g{gstr(key[1])}_{r['floss']}_s{r['seed']}{axes}.csv")
            it = math.nan
            if os.path.exists(path):
                it = math.inf
                with open(path, newline="") as f:
                    for row in csv.DictReader(l for l in f if not l.startswith("#")):
                        if num(row.get("choice_acc")) >= CRITERION:
                            it = float(row["iter"])
                            break
            res[key] = it
        os.makedirs(os.path.dirname(keep), exist_ok=True)
        with open(keep + ".tmp", "w", newline="") as f:
            f.write(f"# iterations to choice accuracy {CRITERION} from {curves} (scripts/study_report.py)\n")
            w = csv.writer(f)
            w.writerow(["rule", "gain", "floss", "seed", "iters"])
            for (rule, g, fl, seed), it in res.items():
                w.writerow([rule, gstr(g), fl, seed, it])
        os.replace(keep + ".tmp", keep)
    elif os.path.exists(keep):
        with open(keep, newline="") as f:
            for row in csv.DictReader(l for l in f if not l.startswith("#")):
                res[(row["rule"], float(row["gain"]), row["floss"], row["seed"])] = num(row["iters"])
    return res


def blew_up(r):
    """A run whose activity overflowed: failed, or a non-finite or huge test loss."""
    tl = num(r["test_loss"])
    return r["ok"] != "1" or not math.isfinite(tl) or tl > 1e3


def median(xs):
    xs = sorted(x for x in xs if not math.isnan(x))
    if not xs:
        return math.nan
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def table_learning(outdir, name, rows, flosses):
    """Per rule and gain: choice accuracy, response rate, success rate, iterations to criterion."""
    crit = criterion_iters(outdir, name, rows)
    out = ["| rule | g | flossing | n | choice accuracy [95 % CI] | response rate | final ≥ 0.8 | median first iteration ≥ 0.8 | blew up |",
           "|---|--:|---|--:|---|--:|--:|--:|--:|"]
    for rule in ("bptt", "eprop", "rflo", "modprop"):
        for g in gains_of(rows):
            for fl in flosses:
                c = cell(rows, rule, g, fl)
                if not c:
                    continue
                acc = [num(r["choice_acc"]) for r in c]
                rr = [num(r["response_rate"]) for r in c]
                its = [crit.get((rule, g, fl, r["seed"]), math.nan) for r in c]
                reached = sum(1 for x in acc if x >= CRITERION)
                med = median(its)
                meds = "never" if med == math.inf else ("–" if math.isnan(med) else f"{med:.0f}")
                out.append(f"| {rule} | {gstr(g)} | {fl} | {len(c)} | {fmt_ci(acc)} | {fmt(mean(rr))} | "
                           f"{reached}/{len(c)} | {meds} | {sum(blew_up(r) for r in c)} |")
    return "\n".join(out)


def table_lambda(rows, dt_tau, delay):
    """λ_max before and after training (floss off), per step and per τ, and the trial-based exponents."""
    out = ["| rule | g | λ_max before (per step) | after | after, per τ | FTLE after (per step) | delay-period λ after | × delay | ‖ΔW‖/‖W0‖ |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for rule in ("bptt", "eprop", "rflo"):
        for g in gains_of(rows):
            c = [r for r in cell(rows, rule, g, "off") if not blew_up(r)]
            if not c:
                continue
            lb = mean([num(r["lambda_before"]) for r in c])
            la = mean([num(r["lambda_after"]) for r in c])
            out.append(f"| {rule} | {gstr(g)} | {fmt(lb)} | {fmt(la)} | {fmt(la / dt_tau)} | "
                       f"{fmt(mean([num(r['ftle_after']) for r in c]))} | "
                       f"{fmt(mean([num(r['delay_lambda_after']) for r in c]))} | "
                       f"{fmt(mean([num(r['delay_lambda_after']) for r in c]) * delay, 2)} | "
                       f"{fmt(mean([num(r['dw_rel']) for r in c]), 2)} |")
    return "\n".join(out)


def claims(binpath, csvs, args):
    """Lines of `BIN claims args csvs`, the tool's exit status checked."""
    p = subprocess.run([binpath, "claims"] + args + csvs, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"study_report: {binpath} claims {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout.rstrip("\n")


CLAIM = re.compile(r"^claim \S+: (?:\S+ )?(\S+) vs (\S+) effect (\S+) \[lo (\S+), hi (\S+)\] (holds|does not hold)$")
DETAIL = re.compile(r"n (\d+) seeds.*; p ([0-9.e+-]+) .*; Holm p ([0-9.e+-]+) of (\d+)")


def compare_table(binpath, paths, pairs):
    """`BIN claims --compare` over the (A, B) group pairs, one Holm family, as a table."""
    if not pairs:
        return "(no pairs)"
    args = []
    for a, b in pairs:
        args += ["--compare", a, b]
    lines = claims(binpath, paths, args).splitlines()
    head = lines[0].lstrip("# ")
    out = ["| A | B | n | effect A − B [95 % CI] | p | Holm p | verdict |", "|---|---|--:|---|--:|--:|---|"]
    for i, line in enumerate(lines):
        m = CLAIM.match(line)
        if not m:
            continue
        d = DETAIL.search(lines[i + 1])
        a, b, eff, lo, hi, verdict = m.groups()
        out.append(f"| {label(a)} | {label(b)} | {d.group(1)} | {eff} [{lo}, {hi}] | {float(d.group(2)):.3g} | "
                   f"{float(d.group(3)):.3g} | {'**holds**' if verdict == 'holds' else verdict} |")
    return "\n".join(out) + f"\n\n({head}.)"


def label(grp):
    """'rule=eprop,gain=0.5,floss=off' as 'eprop g 0.5 off'."""
    kv = dict(x.split("=", 1) for x in grp.split(","))
    rest = [f"{k} {v}" for k, v in kv.items() if k not in ("rule", "gain", "floss")]
    return " ".join([kv.get("rule", ""), "g", kv.get("gain", ""), kv.get("floss", "")] + rest)


def group(rule, g, floss):
    return f"rule={rule},gain={gstr(g)},floss={floss}"


def floss_pairs(rows, pairs):
    """(A, B) groups for each (mode A, mode B) pair, per rule and gain where both exist."""
    out = []
    for rule in ("bptt", "eprop", "rflo"):
        for g in gains_of(rows):
            for a, b in pairs:
                if cell(rows, rule, g, a) and cell(rows, rule, g, b):
                    out.append((group(rule, g, a), group(rule, g, b)))
    return out


def gain_pairs(rows, ref=1.0):
    """Each gain against the reference gain, per rule, without flossing."""
    out = []
    for rule in ("bptt", "eprop", "rflo"):
        if not cell(rows, rule, ref, "off"):
            continue
        for g in gains_of(rows):
            if g != ref and cell(rows, rule, g, "off"):
                out.append((group(rule, ref, "off"), group(rule, g, "off")))
    return out


def provenance(outdir, names):
    out = ["| sweep | runs | built | command |", "|---|--:|---|---|"]
    for name in names:
        rows, prov = read_sweep(os.path.join(outdir, name + ".csv"))
        cmd = prov.get("command", "?").replace("|", "\\|")
        out.append(f"| {name} | {len(rows)} | {'; '.join(prov.get('built', ['?']))} | `{cmd}` |")
    return "\n".join(out)


def code(text):
    return "```\n" + text + "\n```"


def blocks(binpath, outdir):
    names = [n for n in ("main", "tanh", "controls", "tanh-controls", "lowcoh", "dms", "cxt", "n64", "n128", "long",
                         "single")
             if os.path.exists(os.path.join(outdir, n + ".csv"))]
    every = names + [n for n in ("lr", "fb-eprop", "fb-rflo") if os.path.exists(os.path.join(outdir, n + ".csv"))]
    b = {"provenance": provenance(outdir, every)}
    for name in names:
        path = os.path.join(outdir, name + ".csv")
        rows, prov = read_sweep(path)
        alpha = float(config_value(prov, "alpha") or "nan")
        flosses = [f for f in ("off", "local", "exact", "rescale", "extra") if any(r["floss"] == f for r in rows)]
        b[f"{name}-learning"] = table_learning(outdir, name, rows, ["off"] if "off" in flosses else flosses)
        if len(flosses) > 1:
            b[f"{name}-learning-all"] = table_learning(outdir, name, rows, flosses)
        if "off" in flosses:
            b[f"{name}-lambda"] = table_lambda(rows, 1.0 - alpha, float(config_value(prov, "delay") or "nan"))
            if "local" in flosses:  # claim 3 needs local flossing rows
                b[f"{name}-claims"] = code(claims(binpath, [path], ["--study", "--select-seeds"]))
            b[f"{name}-gain"] = compare_table(binpath, [path], gain_pairs(rows))
        modes = [f for f in flosses if f != "off"]
        if modes and "off" in flosses:
            b[f"{name}-floss"] = compare_table(binpath, [path], floss_pairs(rows, [(m, "off") for m in modes]))
        if name in ("main", "tanh", "long"):
            b[f"{name}-speed"] = table_speed(outdir, name, rows)
        base = {"controls": "main", "tanh-controls": "tanh"}.get(name)
        if base in names:
            # the controls against no flossing and against local flossing, same seeds
            bpath = os.path.join(outdir, base + ".csv")
            both = rows + read_sweep(bpath)[0]
            pairs = [(m, "off") for m in modes] + [("local", m) for m in modes]
            b[f"{name}-floss"] = compare_table(binpath, [bpath, path], floss_pairs(both, pairs))
    if "main" in names and "single" in names:
        b["single-vs-double"] = precision_table(binpath, outdir)
    extra_blocks(binpath, outdir, names, b)
    return b


def precision_table(binpath, outdir):
    """The single-precision sweep against main (the same runs in double), paired by
    seed: per rule and flossing mode, each seed's difference averaged over the gains."""
    paths = [os.path.join(outdir, n + ".csv") for n in ("main", "single")]
    rows = read_sweep(paths[1])[0]
    pairs = []
    for rule in ("bptt", "eprop", "rflo"):
        for f in ("off", "local", "exact"):
            if any(r["rule"] == rule and r["floss"] == f for r in rows):
                grp = f"rule={rule},gain=all,floss={f},precision="
                pairs.append((grp + "single", grp + "double"))
    return compare_table(binpath, paths, pairs) + "\n\n" + claim2_same_pairs(paths)


def claim2_same_pairs(paths):
    """Claim 2's effect (mean over seeds of each seed's mean over gains of
    |lambda_after| eprop - bptt, floss off) in double and in single on the
    (gain, seed) pairs where the single runs have both values: the control of
    what the pairs single-precision overflow drops do to the effect."""
    lam = []
    for p in paths:
        rows = read_sweep(p)[0]
        lam.append({(r["rule"], float(r["gain"]), r["seed"]): num(r["lambda_after"])
                    for r in rows if r["floss"] == "off" and r["rule"] in ("eprop", "bptt")})
    dbl, sgl = lam
    keys = [(g, s) for (rule, g, s) in sgl if rule == "eprop" and ("bptt", g, s) in sgl]

    def effect(l, keep):
        per = {}
        for g, s in keys:
            if keep(g, s) and all(math.isfinite(l.get((r, g, s), math.nan)) for r in ("eprop", "bptt")):
                per.setdefault(s, []).append(abs(l[("eprop", g, s)]) - abs(l[("bptt", g, s)]))
        return mean([mean(v) for v in per.values()])

    both = [k for k in keys if all(math.isfinite(sgl[(r,) + k]) for r in ("eprop", "bptt"))]
    kept = set(both)

    def inside(g, s):
        return (g, s) in kept

    return (f"Claim 2 (|λ_after| e-prop − BPTT, no flossing) on the {len(both)} of {len(keys)} (gain, seed) "
            f"pairs where the single-precision runs have both λ_after: single {fmt_signed(effect(sgl, inside))}, "
            f"double {fmt_signed(effect(dbl, inside))}; double on all pairs {fmt_signed(effect(dbl, lambda g, s: True))}.")


def fmt_signed(x):
    return f"{x:+.3f}"


def table_psychometric(path):
    """Mean choice accuracy over seeds per rule, gain and coherence, and P(choose 2) at 0."""
    rows = read_sweep(path)[0]
    cohs = sorted({float(r["coherence"]) for r in rows})
    out = ["| rule | g | " + " | ".join(f"c {c:g}" for c in cohs) + " | P(choose 2) at c 0 |",
           "|---|--:|" + "--:|" * (len(cohs) + 1)]
    for rule in ("bptt", "eprop", "rflo"):
        for g in sorted({float(r["gain"]) for r in rows if r["rule"] == rule}):
            c = [r for r in rows if r["rule"] == rule and float(r["gain"]) == g]
            accs = [fmt(mean([num(r["choice_acc"]) for r in c if float(r["coherence"]) == k])) for k in cohs]
            z = [r for r in c if float(r["coherence"]) == 0.0]
            p2 = mean([(num(r["p_choose2_answer1"]) * num(r["n_answer1"]) + num(r["p_choose2_answer2"]) * num(r["n_answer2"]))
                       / (num(r["n_answer1"]) + num(r["n_answer2"])) for r in z])
            out.append(f"| {rule} | {gstr(g)} | " + " | ".join(accs) + f" | {fmt(p2)} |")
    return "\n".join(out)


def table_cosine(path):
    """cosine(local, exact) per gain (rows) and flossing window/transient (columns):
    mean [min, max] over seeds; the training's window (one trial, transient T/4) first."""
    rows = read_sweep(path)[0]
    cols = []
    for r in rows:
        wt = (int(r["window"]), int(r["transient"]))
        if wt not in cols and (wt[1] == 0 or wt[1] == wt[0] // 4):  # the rest is in the CSV
            cols.append(wt)
    out = ["| g | " + " | ".join(f"window {w}, transient {t}" for w, t in cols) + " |",
           "|--:|" + "---|" * len(cols)]
    for g in sorted({float(r["gain"]) for r in rows}):
        cells = []
        for w, t in cols:
            xs = [num(r["cos_w"]) for r in rows
                  if float(r["gain"]) == g and int(r["window"]) == w and int(r["transient"]) == t]
            fin = [x for x in xs if math.isfinite(x)]
            cells.append(f"{fmt(mean(xs), 2)} [{fmt(min(fin), 2)}, {fmt(max(fin), 2)}]" if fin else "–")
        out.append(f"| {gstr(g)} | " + " | ".join(cells) + " |")
    allc = {(int(r["window"]), int(r["transient"])) for r in rows}
    best = max(sorted(allc), key=lambda wt: mean([num(r["cos_w"]) for r in rows
                                                  if (int(r["window"]), int(r["transient"])) == wt]))
    out.append("")
    out.append(f"Transients T/4 and 0 shown; of all {len(allc)} (window, transient) pairs run, the largest "
               f"mean over gains and seeds is window {best[0]}, transient {best[1]}.  "
               + " ".join(f"`{l.lstrip('# ')}`" for l in first_lines(path)))
    return "\n".join(out)


def signflip_p(d, draws=100000, seed=1):
    """Two-sided sign-flip p of the mean of d: exact for n <= 16, else Monte Carlo (seeded)."""
    n = len(d)
    obs = abs(sum(d))
    if n <= 16:
        hits = sum(1 for m in range(1 << n)
                   if abs(sum(x if m >> i & 1 else -x for i, x in enumerate(d))) >= obs - 1e-12)
        return hits / (1 << n)
    rng = random.Random(seed)
    hits = sum(1 for _ in range(draws) if abs(sum(x if rng.random() < 0.5 else -x for x in d)) >= obs - 1e-12)
    return (1 + hits) / (1 + draws)


def table_speed(outdir, name, rows):
    """Iterations to choice accuracy 0.8, each flossing mode against none, paired by seed over the
    seeds where both runs reached it (the others counted), Holm over the table."""
    crit = criterion_iters(outdir, name, rows)
    tests = []
    for rule in ("bptt", "eprop", "rflo"):
        for g in gains_of(rows):
            for m in ("local", "exact", "rescale", "extra"):
                a, b = cell(rows, rule, g, m), cell(rows, rule, g, "off")
                if not a or not b:
                    continue
                ia = {r["seed"]: crit.get((rule, g, m, r["seed"]), math.nan) for r in a}
                ib = {r["seed"]: crit.get((rule, g, "off", r["seed"]), math.nan) for r in b}
                both = [k for k in ia if k in ib and math.isfinite(ia[k]) and math.isfinite(ib[k])]
                d = [ia[k] - ib[k] for k in both]
                tests.append((rule, g, m, len(ia), len(both), d, signflip_p(d) if d else math.nan))
    ps = sorted((t[6], i) for i, t in enumerate(tests) if math.isfinite(t[6]))
    holm, run = {}, 0.0
    for rank, (p, i) in enumerate(ps):
        run = max(run, min(1.0, p * (len(ps) - rank)))
        holm[i] = run
    out = ["| rule | g | flossing vs none | seeds reaching 0.8 in both / all | iterations saved (none − flossing) [95 % CI] | p | Holm p |",
           "|---|--:|---|--:|---|--:|--:|"]
    for i, (rule, g, m, n, nb, d, p) in enumerate(tests):
        neg = [-x for x in d]
        lo, hi = boot_ci(neg)
        out.append(f"| {rule} | {gstr(g)} | {m} | {nb}/{n} | {fmt(mean(neg), 0)} [{fmt(lo, 0)}, {fmt(hi, 0)}] | "
                   f"{p:.3g} | {holm.get(i, math.nan):.3g} |")
    return "\n".join(out) + ("\n\n(first evaluation, every 10 iterations, at which the test choice accuracy "
                              "reached 0.8; sign-flip p exact up to 16 pairs, else 10⁵ seeded random patterns)")


def first_lines(path, prefixes=("# built:", "# command:")):
    with open(path) as f:
        return [l.rstrip("\n") for l in f if l.startswith(prefixes)]


def extra_blocks(binpath, outdir, names, b):
    psy = os.path.join(outdir, "psychometric", "lowcoh.csv")
    if os.path.exists(psy):
        b["lowcoh-psychometric"] = table_psychometric(psy)
    lr = os.path.join(outdir, "lr.csv")
    if os.path.exists(lr):
        b["lr-select"] = code(claims_like(binpath, "select", ["--val-seeds", "1-10", lr]))
    for act in ("relu", "tanh"):
        path = os.path.join(outdir, "cosine", act + ".csv")
        if os.path.exists(path):
            b[f"cosine-{act}"] = table_cosine(path)
    for name in ("fb-eprop", "fb-rflo"):
        path = os.path.join(outdir, name + ".csv")
        if os.path.exists(path):
            b[f"{name}-learning"] = table_learning(outdir, name, read_sweep(path)[0], ["off"])
    # the ablation of issue 14 item 6 (sh scripts/ablation/ablation.sh writes it)
    abl = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ablation", "results")
    if os.path.exists(os.path.join(abl, "ablation.md")):
        with open(os.path.join(abl, "ablation.md")) as f:
            table = f.read().rstrip("\n")
        prov = first_lines(os.path.join(abl, "ablation.csv"))
        b["ablation"] = table + "\n\n" + "\n".join(f"`{l.lstrip('# ')}`  " for l in prov)


def claims_like(binpath, cmd, args):
    p = subprocess.run([binpath, cmd] + args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"study_report: {binpath} {cmd} failed: {p.stderr.strip()}")
    return p.stdout.rstrip("\n")


def update(path, b):
    with open(path) as f:
        text = f.read()
    missing = []

    def repl(m):
        name = m.group(1)
        if name not in b:
            missing.append(name)
            return m.group(0)
        return f"<!-- study:{name} -->\n{b[name]}\n<!-- /study:{name} -->"

    new = re.sub(r"<!-- study:([\w-]+) -->.*?<!-- /study:\1 -->", repl, text, flags=re.S)
    if missing:
        sys.exit(f"study_report: no data for block(s) {', '.join(missing)} in {path}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--update"):
        sys.exit(__doc__)
    b = blocks(argv[1], argv[2])
    if len(argv) == 5:
        update(argv[4], b)
    else:
        for k, v in b.items():
            print(f"## {k}\n\n{v}\n")


if __name__ == "__main__":
    main(sys.argv)
