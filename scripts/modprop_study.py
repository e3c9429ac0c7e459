"""Analysis of the ModProp study (scripts/modprop_study.sh drives it).

    /usr/bin/python3 scripts/modprop_study.py choose OUTDIR   # mu per gain -> OUTDIR/mu.txt
    /usr/bin/python3 scripts/modprop_study.py report OUTDIR   # Markdown on stdout

Reads the models the tool saved in OUTDIR/models and uses only numpy and the
rnnplast package (PYTHONPATH=build/python).  The settings (gains, mu grid,
seeds) come from the environment variables the driver exports.

Scoring: ONE CHOICE PER TRIAL.  The readout (3 logits: fixate, left, right)
summed over the decision period; its argmax is the trial's choice.  Response
rate = fraction of trials whose choice is left or right; choice accuracy =
correct choices among all trials (a trial answered "fixate", or whose readout
is not finite, counts as wrong) and among responded trials.  A random
left/right chooser that always responds scores 0.5.

Statistics over seeds (the unit of replication): mean with a 95 % percentile
bootstrap interval (10,000 resamples of seeds); success = choice accuracy >=
0.9 (Wilson 95 % interval); paired comparisons on the same seeds (same initial
W, U, V and the same training batches): mean difference, paired bootstrap
interval, exact two-sided sign-flip p (all 2^n sign patterns), Holm-corrected
within each family.  An effect is called only where the interval excludes 0
and the Holm-adjusted p < 0.05.
"""

import math
import os
import sys
import time

import numpy as np

import rnnplast as rp

TASK_KW = dict(delay=20, fix_weight=0.1, coherences=[0.128, 0.256, 0.512])
N_TRIALS = 512  # test and validation trials per model
TEST_TRIAL_SEED = 20261129001  # fresh: not the tool's test seed, nor a training batch's
VAL_TRIAL_SEED = 20261129002
ALIGN_BATCH = 16
CELL_TYPES = [0] * 26 + [1] * 6  # the tool's ei:0.8 at N = 32: the first round(0.8 N) = 26 units type 0
BOOT = 10000
CRIT = 0.9
U64 = 2**64


def env_list(name, conv=str):
    return [conv(v) for v in os.environ[name].split()]


def gkey(g):
    """A gain as the driver writes it in file names (the shell's spelling)."""
    return g


def seed_train(s, it):  # tools/run.c SEED_TRAIN
    return (s * 1000003 + 1000 + it) % U64


def seed_fb(s):  # tools/run.c SEED_FB
    return (s * 0x9E3779B97F4A7C15 + 13) % U64


# ---- scoring -----------------------------------------------------------------


class Trials:
    def __init__(self, task, seed):
        X, tg, m = task.sample(N_TRIALS, seed=seed)
        dec = task.config["decision"]
        self.X = X
        self.label = tg[-1].astype(int)  # 1 left, 2 right
        self.dec = slice(task.T - dec, task.T)
        assert np.all(m[self.dec] == 1.0) and np.all(tg[self.dec] == tg[-1])


def readout_sums(net, tr):
    """Decision-period sums of the readout, (trials, 3); rows of NaN for
    trials whose state overflows (rp_net_run refuses a non-finite state: then
    the trials are run one by one)."""
    B = tr.X.shape[1]
    try:
        net.batch = B
        net.reset()
        return net.run(tr.X)[tr.dec].sum(axis=0)
    except rp.Error:
        pass
    S = np.full((B, 3), np.nan)
    net.batch = 1
    for b in range(B):
        try:
            net.reset()
            S[b] = net.run(tr.X[:, b:b + 1])[tr.dec, 0].sum(axis=0)
        except rp.Error:
            pass
    return S


def score(path, tr):
    """(response rate, choice accuracy, accuracy among responded) of a saved model."""
    if not os.path.exists(path):
        return (0.0, 0.0, math.nan)
    net = rp.Net.load(path)
    S = readout_sums(net, tr)
    ok = np.all(np.isfinite(S), axis=1)
    c = np.where(ok, np.argmax(np.where(ok[:, None], S, 0.0), axis=1), 0)
    resp = c != 0
    correct = c == tr.label
    r = resp.mean()
    return (r, correct.mean(), correct[resp].mean() if resp.any() else math.nan)


def block_means(W, types):
    """W-bar of MODEL.md §4.7: every entry replaced by its cell-type block's mean."""
    t = np.asarray(types)
    Wb = np.empty_like(W)
    for a in np.unique(t):
        for b in np.unique(t):
            blk = np.ix_(t == a, t == b)
            Wb[blk] = W[blk].mean()
    return Wb


def wbar_ratio(path):
    """||W-bar||_2 / ||W||_2 of a saved net (cell types ei:0.8)."""
    W = rp.Net.load(path).W
    return np.linalg.norm(block_means(W, CELL_TYPES), 2) / np.linalg.norm(W, 2)


def activity(path, tr):
    """Largest |h| over the test trials' steps (inf if the state overflows)."""
    net = rp.Net.load(path)
    net.batch = tr.X.shape[1]
    net.reset()
    top = 0.0
    try:
        for t in range(tr.X.shape[0]):
            net.step(tr.X[t])
            top = max(top, float(np.abs(net.get_state()).max()))
    except rp.Error:
        return math.inf
    return top


# ---- statistics ----------------------------------------------------------------

RNG = np.random.default_rng(20261129)


def boot_idx(n):
    return np.random.default_rng(20261129 + n).integers(0, n, size=(BOOT, n))


def mean_ci(x):
    x = np.asarray(x, float)
    m = x[boot_idx(len(x))].mean(axis=1)
    return x.mean(), np.percentile(m, 2.5), np.percentile(m, 97.5)


def signflip_p(d):
    """Exact two-sided sign-flip p of the mean of d (all 2^n patterns)."""
    d = np.asarray(d, float)
    n = len(d)
    obs = abs(d.sum()) - 1e-12
    bits = np.arange(n)
    hits = 0
    step = 1 << 15
    for start in range(0, 1 << n, step):
        idx = np.arange(start, min(start + step, 1 << n))[:, None]
        signs = 1 - 2 * ((idx >> bits) & 1)
        hits += int(np.count_nonzero(np.abs(signs @ d) >= obs))
    return hits / float(1 << n)


def holm(ps):
    ps = np.asarray(ps, float)
    order = np.argsort(ps)
    adj = np.empty_like(ps)
    run = 0.0
    for k, i in enumerate(order):
        run = max(run, min(1.0, (len(ps) - k) * ps[i]))
        adj[i] = run
    return adj


def wilson(k, n):
    z = 1.959963984540054
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, c - h), min(1.0, c + h)


def fmt_ci(m, lo, hi, signed=False):
    f = "%+.3f" if signed else "%.3f"
    return (f + " [" + f + ", " + f + "]") % (m, lo, hi)


# ---- stage 2: choose mu --------------------------------------------------------


def choose(out):
    gains, mus, seeds = env_list("GAINS"), env_list("MUS"), env_list("VAL_SEEDS", int)
    task = rp.Task("2af", **TASK_KW)
    tr = Trials(task, VAL_TRIAL_SEED)
    rows = []
    lines = []
    for g in gains:
        acc = {}
        for mu in ["eprop"] + mus:
            name = "val_eprop_off" if mu == "eprop" else "val_modprop%s_off" % mu
            acc[mu] = [score("%s/models/%s_g%s_s%d.rpn" % (out, name, g, s), tr)[1] for s in seeds]
            rows.append("%s,%s,%.6f,%d" % (g, mu, np.mean(acc[mu]),
                                           sum(a >= CRIT for a in acc[mu])))
        best = max(mus, key=lambda mu: (np.mean(acc[mu]), -float(mu)))  # ties: the smaller mu
        lines.append("%s %s\n" % (g, best))
    with open(os.path.join(out, "grid.csv"), "w") as f:
        f.write("gain,mu,val_choice_acc,val_successes\n" + "\n".join(rows) + "\n")
    with open(os.path.join(out, "mu.txt"), "w") as f:
        f.writelines(lines)


# ---- stage 4: report -----------------------------------------------------------

LABEL = {("bptt", "off"): "BPTT", ("eprop", "off"): "e-prop", ("modprop", "off"): "ModProp",
         ("eprop", "local"): "e-prop + floss 50", ("modprop", "local"): "ModProp + floss 50",
         ("eprop", "local10"): "e-prop + floss 10", ("modprop", "local10"): "ModProp + floss 10"}

# The cells of a run (FLOSS_ARMS: off, local = 50 flossing steps, local10 = 10)
# and the paired comparisons among them, set by report().
CELLS, PAIRS_RULE, PAIRS_FLOSS = [], [], []


def set_cells(arms):
    CELLS[:] = [("bptt", "off")] + [(r, fl) for fl in arms for r in ("eprop", "modprop")]
    PAIRS_RULE[:] = [(("modprop", fl), ("eprop", fl)) for fl in arms]
    PAIRS_FLOSS[:] = [((r, fl), (r, "off")) for r in ("eprop", "modprop") for fl in arms
                      if fl != "off"]


def cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if not (np.isfinite(na) and np.isfinite(nb)) or na == 0 or nb == 0:
        return math.nan
    return float(np.dot(a.ravel(), b.ravel()) / (na * nb))


def grads_W(path, task, s, rules):
    """W gradient of each rule (name -> kwargs) on the batch of the run's first
    training iteration, from the saved net's initial state."""
    net = rp.Net.load(path)
    net.batch = ALIGN_BATCH
    X, tg, m = task.sample(ALIGN_BATCH, seed=seed_train(s, 0))
    out = {}
    for name, (kind, kw) in rules.items():
        rule = rp.Rule(net, kind, loss="ce", **kw)
        g = rp.Grad(net)
        try:
            rule.trial(X, tg, m, g)
            out[name] = g.get("W")
        except rp.Error:
            out[name] = np.full((net.config["n_rec"],) * 2, np.nan)
    return out


def report(out):
    t0 = time.time()
    gains, mus = env_list("GAINS"), env_list("MUS")
    seeds = env_list("TEST_SEEDS", int)
    set_cells(env_list("FLOSS_ARMS"))
    n = len(seeds)
    mu_of = dict(line.split() for line in open(os.path.join(out, "mu.txt")))
    task = rp.Task("2af", **TASK_KW)
    tr = Trials(task, TEST_TRIAL_SEED)
    P = print
    with open(os.path.join(out, "setup.txt")) as f:
        setup = f.read()
    rc_bad = []
    for fn in sorted(os.listdir(os.path.join(out, "logs"))):
        if fn.endswith(".rc") and open(os.path.join(out, "logs", fn)).read().strip() != "0":
            rc_bad.append(fn[:-3])

    # per-run scores
    R = {}  # (rule, floss, g) -> array (n, 3): resp, acc, acc_resp
    csv = ["rule,floss,gain,mu,seed,response_rate,choice_acc,choice_acc_responded"]
    for (rule, fl) in CELLS:
        for g in gains:
            rows = []
            for s in seeds:
                v = score("%s/models/%s_%s_g%s_s%d.rpn" % (out, rule, fl, g, s), tr)
                rows.append(v)
                csv.append("%s,%s,%s,%s,%d,%.6f,%.6f,%.6f" % (
                    rule, fl, g, mu_of[g] if rule == "modprop" else "", s, v[0], v[1], v[2]))
            R[rule, fl, g] = np.array(rows)
    with open(os.path.join(out, "runs.csv"), "w") as f:
        f.write("# " + setup.replace("\n", "\n# ").rstrip("# ") + "\n".join(csv) + "\n")

    P("<!-- generated by scripts/modprop_study.py; %s; %s -->" % (
        setup.splitlines()[0], setup.splitlines()[2].split()[0]))
    P()
    P("Runs that ended with a nonzero exit status: %d%s" % (
        len(rc_bad), (" (" + ", ".join(rc_bad[:12]) + (" ..." if len(rc_bad) > 12 else "") + ")")
        if rc_bad else ""))
    P()

    # mu grid
    P("**mu grid** (validation seeds %s, %d validation trials; mean choice accuracy, "
      "successes in brackets; e-prop = mu 0):" % (os.environ["VAL_SEEDS"].replace(" ", ","),
                                                 N_TRIALS))
    P()
    grid = {}
    for line in open(os.path.join(out, "grid.csv")).read().splitlines()[1:]:
        g, mu, a, k = line.split(",")
        grid[g, mu] = (float(a), int(k))
    P("| g | e-prop | " + " | ".join("mu %s" % mu for mu in mus) + " | chosen mu |")
    P("|---" * (len(mus) + 3) + "|")
    for g in gains:
        cells = []
        for mu in ["eprop"] + mus:
            a, k = grid[g, mu]
            c = "%.3f (%d)" % (a, k)
            cells.append("**%s**" % c if mu == mu_of[g] else c)
        P("| %s | %s | %s |" % (g, " | ".join(cells), mu_of[g]))
    P()

    # headline tables
    def table(title, col, fmt):
        P(title)
        P()
        P("| g | " + " | ".join(LABEL[c] for c in CELLS) + " |")
        P("|---" * (len(CELLS) + 1) + "|")
        for g in gains:
            P("| %s | %s |" % (g, " | ".join(fmt(R[c + (g,)], col) for c in CELLS)))
        P()

    def ci_cell(a, col):
        x = a[:, col]
        if np.isnan(x).any():
            x = x[~np.isnan(x)]
            if len(x) == 0:
                return "–"
            return fmt_ci(*mean_ci(x)) + " (n %d)" % len(x)
        return fmt_ci(*mean_ci(x))

    def succ_cell(a, col):
        k = int(np.sum(a[:, 1] >= CRIT))
        lo, hi = wilson(k, len(a))
        return "%d/%d [%.2f, %.2f]" % (k, len(a), lo, hi)

    table("**Choice accuracy** (all %d test trials; mean over %d seeds [95 %% bootstrap "
          "interval]; chance 0.5):" % (N_TRIALS, n), 1, ci_cell)
    table("**Success rate** (seeds with choice accuracy >= %.1f [Wilson 95 %% interval]):" % CRIT,
          1, succ_cell)
    table("**Response rate** (trials answered left or right):", 0,
          lambda a, c: "%.3f" % a[:, c].mean())
    table("**Choice accuracy among responded trials** (mean over the seeds that responded at "
          "all; n when fewer than all):", 2, ci_cell)

    # paired comparisons
    def family(title, pairs):
        P(title)
        P()
        P("| comparison | g | difference [95 % interval] | sign-flip p | Holm p | effect |")
        P("|---|---|---|---|---|---|")
        res = []
        for (a, b) in pairs:
            for g in gains:
                d = R[a + (g,)][:, 1] - R[b + (g,)][:, 1]
                m, lo, hi = mean_ci(d)
                res.append(("%s − %s" % (LABEL[a], LABEL[b]), g, m, lo, hi, signflip_p(d)))
        adj = holm([r[5] for r in res])
        for r, pa in zip(res, adj):
            eff = "yes" if (pa < 0.05 and (r[3] > 0 or r[4] < 0)) else "no"
            P("| %s | %s | %s | %.4f | %.4f | %s |" % (r[0], r[1], fmt_ci(r[2], r[3], r[4], True),
                                                     r[5], pa, eff))
        P()

    family("**ModProp vs e-prop** (paired on seeds; choice accuracy; one Holm family):",
           PAIRS_RULE)
    if PAIRS_FLOSS:
        family("**Local flossing on vs off** (paired on seeds; one Holm family):", PAIRS_FLOSS)

    # gain sensitivity
    P("**How much the initial gain matters** (choice accuracy; range = best minus worst "
      "gain mean; gaps paired on seeds, g 1 minus the smallest and the largest gain; "
      "differences ModProp − e-prop paired on seeds):")
    P()
    idx = boot_idx(n)
    gi = {g: i for i, g in enumerate(gains)}

    def acc_mat(c):
        return np.stack([R[c + (g,)][:, 1] for g in gains], axis=1)  # (n, gains)

    def rng_stat(M):
        mm = M.mean(axis=0)
        return mm.max() - mm.min()

    def rng_ci(M):
        bs = np.array([rng_stat(M[i]) for i in idx])
        return rng_stat(M), np.percentile(bs, 2.5), np.percentile(bs, 97.5)

    lo_g, hi_g = gains[0], gains[-1]
    ref = "1" if "1" in gains else gains[len(gains) // 2]
    P("| rule | range over gains | g %s − g %s | g %s − g %s |" % (ref, lo_g, ref, hi_g))
    P("|---|---|---|---|")
    mats = {c: acc_mat(c) for c in CELLS}
    for c in CELLS:
        M = mats[c]
        lo_gap = M[:, gi[ref]] - M[:, gi[lo_g]]
        hi_gap = M[:, gi[ref]] - M[:, gi[hi_g]]
        P("| %s | %s | %s | %s |" % (LABEL[c], fmt_ci(*rng_ci(M)), fmt_ci(*mean_ci(lo_gap), True),
                                     fmt_ci(*mean_ci(hi_gap), True)))
    for (a, b) in PAIRS_RULE:
        A, B = mats[a], mats[b]
        bs = np.array([rng_stat(A[i]) - rng_stat(B[i]) for i in idx])
        rr = rng_stat(A) - rng_stat(B)
        d1 = (A[:, gi[ref]] - A[:, gi[lo_g]]) - (B[:, gi[ref]] - B[:, gi[lo_g]])
        d3 = (A[:, gi[ref]] - A[:, gi[hi_g]]) - (B[:, gi[ref]] - B[:, gi[hi_g]])
        P("| %s − %s | %s | %s (p %.3f) | %s (p %.3f) |" % (
            LABEL[a], LABEL[b], fmt_ci(rr, np.percentile(bs, 2.5), np.percentile(bs, 97.5), True),
            fmt_ci(*mean_ci(d1), True), signflip_p(d1), fmt_ci(*mean_ci(d3), True),
            signflip_p(d3)))
    P()

    # activity at initialization
    P("**Activity of the initial networks** on the test trials (largest |h| over steps and "
      "trials; median over seeds, and seeds whose state overflows to Inf), and the size of "
      "ModProp's operator, the cell-type block means W̄ (ei:0.8), against W's (mean over "
      "seeds):")
    P()
    P("| g | " + " | ".join(gains) + " |")
    P("|---" * (len(gains) + 1) + "|")
    acts = {g: [activity("%s/models/init_g%s_s%d.rpn" % (out, g, s), tr) for s in seeds]
            for g in gains}
    P("| median max abs h | " + " | ".join("%.3g" % np.median(acts[g]) for g in gains) + " |")
    P("| overflow | " + " | ".join("%d/%d" % (sum(not math.isfinite(a) for a in acts[g]), n)
                                   for g in gains) + " |")
    for prefix, what in [("init", "initial"), ("bptt_off", "after BPTT"),
                         ("modprop_off", "after ModProp")]:
        P("| ‖W̄‖₂ / ‖W‖₂, %s | " % what + " | ".join(
            "%.3f" % np.mean([wbar_ratio("%s/models/%s_g%s_s%d.rpn" % (out, prefix, g, s))
                              for s in seeds]) for g in gains) + " |")
    P()

    # gradient alignment
    def align(prefix, rules_of):
        C = {}
        for g in gains:
            for s in seeds:
                G = grads_W("%s/models/%s_g%s_s%d.rpn" % (out, prefix, g, s), task, s, rules_of(g, s))
                for k in G:
                    if k != "bptt":
                        C.setdefault((k, g), []).append(cosine(G[k], G["bptt"]))
                if "modprop" in G:  # how far ModProp's gradient is from e-prop's
                    C.setdefault(("dmp", g), []).append(
                        np.linalg.norm(G["modprop"] - G["eprop"]) / np.linalg.norm(G["eprop"]))
        return C

    def rules_main(g, s):
        return {"bptt": ("bptt", {}), "eprop": ("eprop", {}),
                "rflo": ("rflo", dict(feedback="random", feedback_seed=seed_fb(s))),
                "modprop": ("modprop", dict(cell_types=CELL_TYPES, mu=float(mu_of[g])))}

    def rules_grid(g, s):
        r = {"bptt": ("bptt", {})}
        for mu in mus:
            r["mu " + mu] = ("modprop", dict(cell_types=CELL_TYPES, mu=float(mu)))
        return r

    def cos_cell(v):
        v = np.asarray(v)
        ok = v[np.isfinite(v)]
        if len(ok) == 0:
            return "–"
        s = fmt_ci(*mean_ci(ok))
        return s + (" (n %d)" % len(ok) if len(ok) < len(v) else "")

    cols = ["eprop", "rflo", "modprop"]
    for prefix, title in [("init", "the initial networks"),
                          ("bptt_off", "the networks BPTT trained (the same networks for every rule)")]:
        C = align(prefix, rules_main)
        P("**Gradient alignment on %s**: cosine of each rule's W gradient with BPTT's, on the "
          "batch of the run's first training iteration (%d trials); mean over seeds [95 %% "
          "interval]; ModProp at the chosen mu, cell types ei:0.8; last column: the relative "
          "size of ModProp's non-local part, median over seeds:" % (title, ALIGN_BATCH))
        P()
        P("| g | e-prop | RFLO (random feedback) | ModProp | ‖G_ModProp − G_e-prop‖ / ‖G_e-prop‖ |")
        P("|---|---|---|---|---|")
        for g in gains:
            P("| %s | %s | %s |" % (g, " | ".join(cos_cell(C[k, g]) for k in cols),
                                    "%.3f" % np.nanmedian(C["dmp", g])))
        P()
    C = align("init", rules_grid)
    P("**ModProp's alignment against mu** (initial networks; mean cosine over seeds):")
    P()
    P("| g | " + " | ".join("mu %s" % mu for mu in mus) + " |")
    P("|---" * (len(mus) + 1) + "|")
    for g in gains:
        P("| %s | %s |" % (g, " | ".join("%.3f" % np.nanmean(C["mu " + mu, g]) for mu in mus)))
    P()

    # summary CSV (one row per cell)
    summ = ["rule,floss,gain,mu,n_seeds,choice_acc_mean,choice_acc_lo,choice_acc_hi,"
            "response_rate_mean,successes"]
    for c in CELLS:
        for g in gains:
            a = R[c + (g,)]
            m, lo, hi = mean_ci(a[:, 1])
            summ.append("%s,%s,%s,%s,%d,%.4f,%.4f,%.4f,%.4f,%d" % (
                c[0], c[1], g, mu_of[g] if c[0] == "modprop" else "", n, m, lo, hi,
                a[:, 0].mean(), int(np.sum(a[:, 1] >= CRIT))))
    with open(os.path.join(out, "summary.csv"), "w") as f:
        f.write("# " + setup.replace("\n", "\n# ").rstrip("# ") + "\n".join(summ) + "\n")
    total = time.time() - float(os.environ.get("STUDY_START", t0))
    P("Evaluation took %.0f s; the whole study %.0f s (%.1f min)." % (
        time.time() - t0, total, total / 60))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("choose", "report"):
        sys.exit("usage: modprop_study.py choose|report OUTDIR")
    (choose if sys.argv[1] == "choose" else report)(sys.argv[2])
