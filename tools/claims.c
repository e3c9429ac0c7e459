/* rnnplast claims: paired comparisons of sweep CSV rows, printed as the
   study's claims table (issue 14, deliverables 7 and 9).  A comparison is a
   metric and two groups of rows, each chosen by rule, gain and flossing; the
   rows are paired by seed, and the effect is the mean over seeds of the
   paired difference A - B, with a percentile bootstrap interval, a two-sided
   sign-flip test and Holm's correction across the call (stats.h). */
#include "csv.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MC_DRAWS 100000 /* sign-flip patterns drawn when n > STATS_EXACT_MAX */
#define MAX_CMP 64      /* comparisons in one call */

/* ---- metrics -------------------------------------------------------------- */

typedef struct metric {
    int col;    /* CSV_TRAIN_LOSS ... */
    int absval; /* |value| */
    int better; /* +1: larger is better, -1: smaller, 0: neither (signed lambda_max) */
    char name[32];
} metric;

static const struct {
    const char *name;
    int col, better;
} metric_names[] = {
    {"choice_acc", CSV_CHOICE, 1},      {"response_rate", CSV_RESPONSE, 1},
    {"test_acc", CSV_TEST_ACC, 1},      {"test_loss", CSV_TEST_LOSS, -1},
    {"train_loss", CSV_TRAIN_LOSS, -1}, {"lambda_before", CSV_LAM_BEFORE, 0},
    {"lambda_after", CSV_LAM_AFTER, 0},
};

static int parse_metric(const char *s, metric *m)
{
    size_t n = strlen(s);
    int absval = n > 2 && s[0] == '|' && s[n - 1] == '|';
    const char *b = absval ? s + 1 : s;
    size_t len = absval ? n - 2 : n;
    for (size_t i = 0; i < sizeof metric_names / sizeof metric_names[0]; i++)
        if (strlen(metric_names[i].name) == len && memcmp(metric_names[i].name, b, len) == 0) {
            m->col = metric_names[i].col;
            m->absval = absval;
            /* |lambda_max|: the distance to the edge of chaos, smaller is better */
            m->better = absval && metric_names[i].better == 0 ? -1 : metric_names[i].better;
            snprintf(m->name, sizeof m->name, "%s%s%s", absval ? "|" : "", metric_names[i].name,
                     absval ? "|" : "");
            return 0;
        }
    return -1;
}

static double metric_value(const metric *m, const csv_row *r)
{
    double v = r->val[m->col];
    return m->absval ? fabs(v) : v;
}

/* ---- groups ---------------------------------------------------------------- */

enum { G_NUM, G_BEST, G_MIN, G_ALL };

typedef struct group {
    rp_rule_kind rule;
    floss_kind floss;
    int fb;      /* feedback= (FB_*; 0: not given, resolved by resolve_axes) */
    double lr;   /* lr= (0: not given, resolved by resolve_axes) */
    int prec;    /* precision= (0: not given, resolved by resolve_axes; 1 double, 2 single) */
    int gmode;   /* G_NUM: gain; G_BEST, G_MIN: resolved into gain; G_ALL: every gain */
    double gain; /* the gain used (after resolution) */
} group;

static const char group_syntax[] =
    "'rule=R,gain=G,floss=F[,feedback=FB][,lr=LR][,precision=P]' (G a number, best, min or "
    "all; P single or double)";

/* "rule=eprop,gain=1,floss=off": every key once, the first three given;
   feedback= and lr= for the rows of a sweep with --feedbacks/--lrs,
   precision= to tell the rows of a --precision single sweep from a double
   one's. */
static int parse_group(const char *s, group *g, char *err, size_t errlen)
{
    char buf[256], *tok[7];
    size_t k = split_list(s, buf, sizeof buf, tok, 6);
    int have[6] = {0, 0, 0, 0, 0, 0};
    if (k == (size_t)-1 || k > 6) {
        snprintf(err, errlen, "expected %s, got '%.80s'", group_syntax, s);
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) {
            snprintf(err, errlen, "'%.40s' is not key=value; expected %s", tok[i], group_syntax);
            return -1;
        }
        *eq = 0;
        const char *v = eq + 1;
        int key = strcmp(tok[i], "rule") == 0        ? 0
                  : strcmp(tok[i], "gain") == 0      ? 1
                  : strcmp(tok[i], "floss") == 0     ? 2
                  : strcmp(tok[i], "feedback") == 0  ? 3
                  : strcmp(tok[i], "lr") == 0        ? 4
                  : strcmp(tok[i], "precision") == 0 ? 5
                                                     : -1;
        if (key < 0 || have[key]) {
            snprintf(err, errlen, "%s key '%.40s'; expected %s", key < 0 ? "unknown" : "repeated",
                     tok[i], group_syntax);
            return -1;
        }
        have[key] = 1;
        if (key == 0 && parse_rule(v, &g->rule)) {
            snprintf(err, errlen, "rule: unknown rule '%.40s'", v);
            return -1;
        }
        if (key == 2 && parse_floss(v, &g->floss)) {
            snprintf(err, errlen, "floss: unknown flossing mode '%.40s'", v);
            return -1;
        }
        if (key == 3 && parse_feedback(v, &g->fb)) {
            snprintf(err, errlen, "feedback: expected symmetric, random or none, got '%.40s'", v);
            return -1;
        }
        if (key == 4 && (parse_num(v, &g->lr) || !(g->lr > 0.0))) {
            snprintf(err, errlen, "lr: expected a number > 0, got '%.40s'", v);
            return -1;
        }
        if (key == 5) {
            g->prec = strcmp(v, "double") == 0 ? 1 : strcmp(v, "single") == 0 ? 2 : 0;
            if (!g->prec) {
                snprintf(err, errlen, "precision: expected single or double, got '%.40s'", v);
                return -1;
            }
        }
        if (key == 1) {
            g->gmode = strcmp(v, "best") == 0  ? G_BEST
                       : strcmp(v, "min") == 0 ? G_MIN
                       : strcmp(v, "all") == 0 ? G_ALL
                                               : G_NUM;
            if (g->gmode == G_NUM && (parse_num(v, &g->gain) || !(g->gain >= 0.0))) {
                snprintf(err, errlen, "gain: expected a number >= 0, best, min or all, got '%.40s'",
                         v);
                return -1;
            }
        }
    }
    for (int i = 0; i < 3; i++)
        if (!have[i]) {
            snprintf(err, errlen, "'%.80s' lacks %s=; expected %s", s,
                     i == 0   ? "rule"
                     : i == 1 ? "gain"
                              : "floss",
                     group_syntax);
            return -1;
        }
    return 0;
}

/* ---- the rows of every CSV -------------------------------------------------- */

typedef struct table {
    csv_row *rows;
    size_t n;
    uint64_t *seeds; /* the distinct seeds, ascending */
    size_t nseeds;
    double min_gain;
} table;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_key(const void *a, const void *b)
{
    const csv_row *x = a, *y = b;
    if (x->rule != y->rule)
        return (x->rule > y->rule) - (x->rule < y->rule);
    if (x->floss != y->floss)
        return (x->floss > y->floss) - (x->floss < y->floss);
    if (x->fb != y->fb) /* 0 and 0 in rows without the columns: as before */
        return (x->fb > y->fb) - (x->fb < y->fb);
    if (x->lr != y->lr)
        return (x->lr > y->lr) - (x->lr < y->lr);
    if (x->single != y->single)
        return x->single - y->single;
    if (x->gain != y->gain)
        return (x->gain > y->gain) - (x->gain < y->gain);
    return (x->seed > y->seed) - (x->seed < y->seed);
}

/* Reads every CSV (csv_read_sweep: a bad field exits 2 naming file, line and
   column); a run (rule, gain, floss, seed) found twice is refused. */
static int read_tables(char **paths, size_t np, table *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < np; i++) {
        FILE *f = fopen(paths[i], "r");
        if (!f) {
            fprintf(stderr, "rnnplast claims: cannot read %s: %s\n", paths[i], strerror(errno));
            return 1;
        }
        csv_row *rows;
        size_t nr;
        char err[512];
        int r = csv_read_sweep(f, &rows, &nr, err, sizeof err);
        fclose(f);
        if (r) {
            fprintf(stderr, "rnnplast claims: %s: %s\n", paths[i], err);
            return r;
        }
        csv_row *w = realloc(t->rows, (t->n + nr) * sizeof *w);
        if (!w) {
            free(rows);
            fprintf(stderr, "rnnplast claims: out of memory\n");
            return 1;
        }
        memcpy(w + t->n, rows, nr * sizeof *w);
        free(rows);
        t->rows = w;
        t->n += nr;
    }
    qsort(t->rows, t->n, sizeof *t->rows, cmp_key);
    t->seeds = malloc(t->n * sizeof *t->seeds);
    if (!t->seeds) {
        fprintf(stderr, "rnnplast claims: out of memory\n");
        return 1;
    }
    t->min_gain = INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        const csv_row *r = &t->rows[i];
        if (i > 0 && cmp_key(r, r - 1) == 0) {
            char g[32];
            fmt_num(r->gain, g, sizeof g);
            char ax[96] = "";
            if (r->fb)
                snprintf(ax, sizeof ax, ",feedback=%s,lr=%g", feedback_name(r->fb), r->lr);
            if (r->single)
                snprintf(ax + strlen(ax), sizeof ax - strlen(ax), ",precision=single");
            fprintf(stderr,
                    "rnnplast claims: the run rule=%s,gain=%s,floss=%s%s,seed=%llu appears twice "
                    "in the CSVs (give the CSVs of one study, each run once)\n",
                    rule_name(r->rule), g, floss_name(r->floss), ax, (unsigned long long)r->seed);
            return EXIT_USAGE;
        }
        t->seeds[i] = r->seed;
        if (r->gain < t->min_gain)
            t->min_gain = r->gain;
    }
    qsort(t->seeds, t->n, sizeof *t->seeds, cmp_u64);
    for (size_t i = 0; i < t->n; i++)
        if (t->nseeds == 0 || t->seeds[t->nseeds - 1] != t->seeds[i])
            t->seeds[t->nseeds++] = t->seeds[i];
    return 0;
}

/* Whether row r is of g's rule, flossing, feedback, lr and precision (any gain). */
static int in_group(const group *g, const csv_row *r)
{
    return r->rule == g->rule && r->floss == g->floss && r->fb == g->fb && r->lr == g->lr &&
           r->single == g->prec - 1;
}

/* The row of g's rule, flossing, feedback, lr and precision at (gain, seed), or NULL. */
static const csv_row *find_row(const table *t, const group *g, double gain, uint64_t seed)
{
    csv_row key = {.rule = g->rule,
                   .floss = g->floss,
                   .gain = gain,
                   .seed = seed,
                   .fb = g->fb,
                   .lr = g->lr,
                   .single = g->prec - 1};
    return bsearch(&key, t->rows, t->n, sizeof key, cmp_key);
}

static size_t count_rows(const table *t, const group *g)
{
    size_t c = 0;
    for (size_t i = 0; i < t->n; i++)
        c += in_group(g, &t->rows[i]) && (g->gmode == G_ALL || t->rows[i].gain == g->gain);
    return c;
}

/* A group without feedback= (lr=, precision=) takes the one feedback (lr,
   precision) its rule and flossing have in the CSVs, among the rows of the
   axes given or resolved before it: 0 for rows of a sweep without
   --feedbacks and --lrs, double for rows of a double sweep, so such CSVs
   are grouped as before.  Several: refused. */
static int resolve_axes(const table *t, group *g, char *err, size_t errlen)
{
    static const char *const plural[3] = {"feedbacks", "lrs", "precisions"};
    static const char *const key[3] = {"feedback", "lr", "precision"};
    for (int ax = 0; ax < 3; ax++) {
        if (ax == 0 ? g->fb != 0 : ax == 1 ? g->lr != 0.0 : g->prec != 0)
            continue;
        int seen = 0;
        csv_row v = {0};
        for (size_t i = 0; i < t->n; i++) {
            const csv_row *r = &t->rows[i];
            if (r->rule != g->rule || r->floss != g->floss || (g->fb && r->fb != g->fb) ||
                (g->lr != 0.0 && r->lr != g->lr) || (g->prec && r->single != g->prec - 1))
                continue;
            if (seen && (ax == 0   ? r->fb != v.fb
                         : ax == 1 ? r->lr != v.lr
                                   : r->single != v.single)) {
                snprintf(err, errlen,
                         "the rows rule=%s,floss=%s have several %s in the CSVs: give %s= in the "
                         "group%s",
                         rule_name(g->rule), floss_name(g->floss), plural[ax], key[ax],
                         ax == 1 ? " (or use rnnplast select for the best lr)" : "");
                return -1;
            }
            seen = 1;
            v = *r;
        }
        if (seen && ax == 0)
            g->fb = v.fb;
        else if (seen && ax == 1)
            g->lr = v.lr;
        else if (seen)
            g->prec = v.single + 1;
    }
    return 0;
}

/* ---- one comparison ---------------------------------------------------------- */

typedef struct comparison {
    char label[8]; /* "1", "1b", ... */
    char what[256];
    metric m;
    group a, b;
    /* results */
    size_t n, unpaired, novalue, ngains;
    int selected;   /* a gain was chosen as best: 1 on the same seeds, 2 on held-out seeds */
    size_t nselect; /* seeds that chose it (selected == 2) */
    double effect, lo, hi, p, padj;
    int exact;
    uint64_t npat;
} comparison;

typedef struct settings {
    size_t boot;
    uint64_t seed;
    int select_seeds, strict;
} settings;

static int in_set(const uint64_t *s, size_t n, uint64_t x)
{
    return bsearch(&x, s, n, sizeof x, cmp_u64) != NULL;
}

/* The gain of g's rule and flossing whose mean metric over the seeds sel[]
   is best (ties: the smaller gain); G_MIN: the smallest gain of those rows
   (of g's feedback, lr and precision too). */
static int resolve_gain(const table *t, group *g, const metric *m, const uint64_t *sel, size_t ns,
                        char *err, size_t errlen)
{
    if (g->gmode != G_BEST && g->gmode != G_MIN)
        return 0;
    double best = NAN, bestv = NAN;
    for (size_t i = 0; i < t->n;) {
        const csv_row *r = &t->rows[i];
        size_t j = i;
        double s = 0.0;
        size_t c = 0;
        /* rows are sorted by rule, floss, feedback, lr, precision, gain, seed: one
           gain's rows are adjacent */
        while (j < t->n && t->rows[j].rule == r->rule && t->rows[j].floss == r->floss &&
               t->rows[j].fb == r->fb && t->rows[j].lr == r->lr && t->rows[j].single == r->single &&
               t->rows[j].gain == r->gain) {
            double v = metric_value(m, &t->rows[j]);
            if (isfinite(v) && in_set(sel, ns, t->rows[j].seed))
                s += v, c++;
            j++;
        }
        if (in_group(g, r)) {
            if (g->gmode == G_MIN) {
                if (isnan(best))
                    best = r->gain;
            } else if (c > 0) {
                double mean = s / (double)c;
                if (isnan(best) || (m->better > 0 ? mean > bestv : mean < bestv))
                    best = r->gain, bestv = mean;
            }
        }
        i = j;
    }
    if (isnan(best)) {
        snprintf(err, errlen, "no rows rule=%s,floss=%s%s in the CSVs", rule_name(g->rule),
                 floss_name(g->floss),
                 g->gmode == G_BEST ? " with a finite value on the selection seeds" : "");
        return -1;
    }
    g->gain = best;
    return 0;
}

static const char *group_str(const group *g, char *buf, size_t len)
{
    char gs[32], ax[80] = "";
    fmt_num(g->gain, gs, sizeof gs);
    if (g->fb) /* the rows of a sweep with --feedbacks/--lrs */
        snprintf(ax, sizeof ax, ",feedback=%s,lr=%g", feedback_name(g->fb), g->lr);
    if (g->prec == 2) /* the rows of a --precision single sweep */
        snprintf(ax + strlen(ax), sizeof ax - strlen(ax), ",precision=single");
    snprintf(buf, len, "rule=%s,gain=%s,floss=%s%s", rule_name(g->rule),
             g->gmode == G_ALL ? "all" : gs, floss_name(g->floss), ax);
    return buf;
}

/* Pairs the rows of c->a and c->b by seed and computes the statistics. */
static int compare(const table *t, const settings *st, comparison *c, char *err, size_t errlen)
{
    const uint64_t *test = t->seeds, *sel = t->seeds;
    size_t ntest = t->nseeds, nsel = t->nseeds;
    int best = c->a.gmode == G_BEST || c->b.gmode == G_BEST;
    if ((c->a.gmode == G_ALL) != (c->b.gmode == G_ALL)) {
        snprintf(err, errlen, "gain=all must be given to both groups (gains matched)");
        return -1;
    }
    if (best && c->m.better == 0) {
        snprintf(err, errlen, "gain=best needs a metric with a better direction, not %s",
                 c->m.name);
        return -1;
    }
    if (best && st->select_seeds) {
        /* the lower half of the seeds chooses the gain, the upper half tests */
        nsel = t->nseeds / 2;
        test = t->seeds + nsel;
        ntest = t->nseeds - nsel;
        if (nsel == 0) {
            snprintf(err, errlen, "--select-seeds needs at least 2 seeds, the CSVs hold %zu",
                     t->nseeds);
            return -1;
        }
        c->selected = 2;
        c->nselect = nsel;
    } else if (best) {
        c->selected = 1;
    }
    if (resolve_axes(t, &c->a, err, errlen) || resolve_axes(t, &c->b, err, errlen) ||
        resolve_gain(t, &c->a, &c->m, sel, nsel, err, errlen) ||
        resolve_gain(t, &c->b, &c->m, sel, nsel, err, errlen))
        return -1;
    char ga[96], gb[96];
    for (int s = 0; s < 2; s++) {
        const group *g = s ? &c->b : &c->a;
        if (count_rows(t, g) == 0) {
            snprintf(err, errlen, "no rows %s in the CSVs", group_str(g, s ? gb : ga, 96));
            return -1;
        }
    }
    double *d = calloc(ntest ? ntest : 1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    /* the gains: one, or (gain=all) every gain both groups have */
    double gains[256];
    size_t ng = 0;
    if (c->a.gmode == G_ALL) {
        for (size_t i = 0; i < t->n; i++) {
            const csv_row *r = &t->rows[i];
            if (!in_group(&c->a, r) || (ng > 0 && gains[ng - 1] == r->gain))
                continue;
            int other = 0;
            for (size_t j = 0; j < t->n && !other; j++)
                other = in_group(&c->b, &t->rows[j]) && t->rows[j].gain == r->gain;
            if (other && ng < sizeof gains / sizeof gains[0])
                gains[ng++] = r->gain;
        }
        if (ng == 0) {
            free(d);
            snprintf(err, errlen, "no gain has rows of both %s and %s",
                     group_str(&c->a, ga, sizeof ga), group_str(&c->b, gb, sizeof gb));
            return -1;
        }
    }
    c->ngains = ng;
    c->n = c->unpaired = c->novalue = 0;
    for (size_t k = 0; k < ntest; k++) {
        double s = 0.0;
        size_t cnt = 0;
        for (size_t q = 0; q < (ng ? ng : 1); q++) {
            double ga_ = ng ? gains[q] : c->a.gain, gb_ = ng ? gains[q] : c->b.gain;
            const csv_row *ra = find_row(t, &c->a, ga_, test[k]);
            const csv_row *rb = find_row(t, &c->b, gb_, test[k]);
            if (!ra && !rb)
                continue;
            if (!ra || !rb) {
                c->unpaired++;
                continue;
            }
            double va = metric_value(&c->m, ra), vb = metric_value(&c->m, rb);
            if (!isfinite(va) || !isfinite(vb)) {
                c->novalue++;
                continue;
            }
            s += va - vb;
            cnt++;
        }
        if (cnt)
            d[c->n++] = s / (double)cnt; /* gain=all: the seed's mean over its gains */
    }
    if (c->n == 0) {
        free(d);
        snprintf(err, errlen,
                 "no seed has a finite %s in both %s and %s (%zu unpaired, %zu without a value)",
                 c->m.name, group_str(&c->a, ga, sizeof ga), group_str(&c->b, gb, sizeof gb),
                 c->unpaired, c->novalue);
        return -1;
    }
    c->effect = stats_mean(d, c->n);
    int r = stats_boot_ci(d, c->n, st->boot, 0.95, st->seed, &c->lo, &c->hi);
    if (r == 0)
        c->p = stats_signflip_p(d, c->n, MC_DRAWS, st->seed, &c->exact, &c->npat);
    free(d);
    if (r) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    return 0;
}

/* ---- output --------------------------------------------------------------------- */

/* %+.3f, with a value that rounds to zero printed +0.000 (never -0.000). */
static void fmt3(double x, char *buf, size_t len)
{
    snprintf(buf, len, "%+.3f", fabs(x) < 0.0005 ? 0.0 : x);
}

static void print_comparison(const comparison *c, size_t m, int strict)
{
    char e[32], lo[32], hi[32], g[32];
    fmt3(c->effect, e, sizeof e);
    fmt3(c->lo, lo, sizeof lo);
    fmt3(c->hi, hi, sizeof hi);
    int ci = c->lo > 0.0, holds = ci && (!strict || c->padj < 0.05);
    printf("claim %s: %s effect %s [lo %s, hi %s] %s\n", c->label, c->what, e, lo, hi,
           holds ? "holds" : "does not hold");
    const char *unit = c->ngains ? "(gain, seed) pairs" : "seeds";
    printf("    n %zu seeds", c->n);
    if (c->ngains)
        printf(" (each the mean over its gains of %zu matched)", c->ngains);
    printf("; dropped %zu unpaired %s, %zu without a finite value", c->unpaired, unit, c->novalue);
    printf("; p %.4g (%s sign-flip, %llu %s); Holm p %.4g of %zu", c->p,
           c->exact ? "exact" : "Monte Carlo", (unsigned long long)c->npat,
           c->exact ? "patterns" : "draws", c->padj, m);
    if (c->selected) {
        const group *b = c->a.gmode == G_BEST ? &c->a : &c->b;
        fmt_num(b->gain, g, sizeof g);
        if (c->selected == 1)
            printf("; best gain %s chosen on the same seeds (effect biased upward)", g);
        else
            printf("; best gain %s chosen on the %zu lowest seeds, tested on the others", g,
                   c->nselect);
    }
    if (ci && !holds)
        printf("; interval excludes 0 but Holm p >= 0.05: not called");
    printf("\n");
}

/* ---- the command ------------------------------------------------------------------ */

static const char claims_usage[] =
    "usage: rnnplast claims (--study | --compare A B [--compare A B ...]) [options] SWEEP.csv "
    "[SWEEP.csv ...]\n"
    "Paired comparisons of sweep CSV rows, printed as a claims table, one line per claim:\n"
    "  claim K: <what is compared> effect +0.NNN [lo +0.NNN, hi +0.NNN] holds|does not hold\n"
    "and a detail line (n seeds, p, Holm-adjusted p).  A group is 'rule=R,gain=G,floss=F'\n"
    "(plus ',feedback=FB,lr=LR' for rows of a sweep run with --feedbacks/--lrs, and\n"
    "',precision=single|double' to pair the rows of a --precision single sweep with a\n"
    "double one's: a group without them takes the one feedback / lr / precision its rule\n"
    "and flossing have, several refused)\n"
    "(G a number; best: the gain whose mean metric over the seeds is best, larger for\n"
    "accuracies and response rate, smaller for losses and |lambda|, ties to the smaller\n"
    "gain; min: the group's smallest gain; all: every gain both groups have, given to both).\n"
    "Rows are paired by seed (seeds in one group only, and pairs without a finite value,\n"
    "are dropped and counted; a row counts whatever its ok field says); with gain=all a\n"
    "seed's difference is its mean over the matched gains.  The effect is the mean over\n"
    "seeds of metric(A) - metric(B): put the group the claim says is larger first.\n"
    "Its 95 % interval is a percentile bootstrap over seeds (--boot resamples, the\n"
    "250th and 9,750th of 10,000 sorted means, drawn from splitmix64 seeded with --seed:\n"
    "the same input gives the same output).  p is a two-sided sign-flip test of the mean\n"
    "difference: exact over all 2^n sign patterns for n <= 20 seeds, else 100,000 random\n"
    "patterns (p = (1 + hits) / 100,001).  Holm's correction runs over the comparisons of\n"
    "the call.  Verdict: 'holds' if the interval's lo > 0 and the Holm-adjusted p < 0.05\n"
    "(--verdict ci: lo > 0 alone; with few seeds the percentile interval is too narrow,\n"
    "e.g. 4 positive differences always exclude 0, while the exact p is at least 0.125).\n"
    "--study: the study's claims (MODEL.md section 9) from CSVs of one configuration, all\n"
    "on the metric (choice_acc unless --metric) but claim 2:\n"
    "  1   eprop at its best gain vs the sub-critical gain, floss off\n"
    "  1b  bptt at its best gain vs the sub-critical gain, floss off\n"
    "  2   |lambda_after|, eprop minus bptt, floss off, at every gain both have (matched\n"
    "      gains, same seeds; each seed's difference averaged over the gains)\n"
    "  3   eprop with local flossing vs without, at the sub-critical gain (rows floss=local,\n"
    "      or floss=on when there are none: on is local flossing for eprop)\n"
    "The sub-critical gain is --subcritical, default the smallest gain in the CSVs.  Choosing\n"
    "the best gain on the seeds that then test it biases claim 1 upward; --select-seeds\n"
    "chooses it on the lower half of the seeds (by seed number) and pairs only the rest.\n"
    "Exit 2: a bad CSV field (naming file, line and column), a run found twice, or no rows\n"
    "for a group.";

int cmd_claims(int argc, char **argv)
{
    int study = 0, select_seeds = 0;
    const char *metric_s = "choice_acc", *verdict = "ci+holm";
    double subcrit = 0.0;
    size_t boot = 10000;
    uint64_t seed = 1;
    opt opts[] = {
        O_FLAG("study", &study, "the study's claims 1, 1b, 2 and 3 (see above)"),
        O_STR("metric", &metric_s,
              "choice_acc, response_rate, test_acc, test_loss, train_loss, lambda_before or "
              "lambda_after; |NAME| for its absolute value (default choice_acc)"),
        O_NUM("subcritical", &subcrit, 0, 0, INFINITY, 0,
              "--study: the sub-critical gain of claims 1 and 3 (default: the smallest gain)"),
        O_FLAG("select-seeds", &select_seeds,
               "choose a best gain on the lower half of the seeds, test on the other half"),
        O_SIZE("boot", &boot, 100, 10000000, "bootstrap resamples (default 10000)"),
        O_U64("seed", &seed, 0, UINT64_MAX,
              "seed of the bootstrap and Monte Carlo draws (default 1)"),
        O_STR("verdict", &verdict, "ci+holm (default) or ci: what 'holds' requires (see above)"),
        O_STR("compare", NULL, "A B: two groups (two arguments; repeatable)"),
        O_END,
    };
    /* --compare takes two arguments and the CSVs are positional: both are
       taken out before opt_parse sees the rest. */
    char **av = calloc((size_t)argc + 1, sizeof *av),
         **csvs = calloc((size_t)argc + 1, sizeof *csvs);
    const char *pairs[2 * MAX_CMP];
    size_t nav = 0, ncsv = 0, npairs = 0;
    comparison *cs = calloc(MAX_CMP, sizeof *cs);
    table t = {0};
    int st = 0;
    if (!av || !csvs || !cs) {
        fprintf(stderr, "rnnplast claims: out of memory\n");
        st = 1;
        goto done;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--compare") == 0) {
            if (i + 2 >= argc) {
                st = usage_error("claims", "--compare needs two groups, %s", group_syntax);
                goto done;
            }
            if (npairs == MAX_CMP) {
                st = usage_error("claims", "--compare: at most %d comparisons", MAX_CMP);
                goto done;
            }
            pairs[2 * npairs] = argv[i + 1];
            pairs[2 * npairs + 1] = argv[i + 2];
            npairs++;
            i += 2;
        } else if (strncmp(a, "--compare=", 10) == 0) {
            st = usage_error("claims", "--compare takes two arguments: --compare A B");
            goto done;
        } else if (strncmp(a, "--", 2) == 0 || strcmp(a, "-h") == 0) {
            av[nav++] = argv[i];
            opt *o = opt_find(opts, a + 2);
            if (o && o->type != OPT_FLAG && i + 1 < argc)
                av[nav++] = argv[++i]; /* its value, whatever it looks like */
        } else {
            csvs[ncsv++] = argv[i];
        }
    }
    int r = opt_parse("claims", claims_usage, opts, (int)nav, av, 0);
    if (r) {
        st = r < 0 ? 0 : r;
        goto done;
    }
    settings set = {.boot = boot, .seed = seed, .select_seeds = select_seeds};
    if (strcmp(verdict, "ci+holm") == 0)
        set.strict = 1;
    else if (strcmp(verdict, "ci") != 0) {
        st = usage_error("claims", "--verdict: expected ci+holm or ci, got '%.40s'", verdict);
        goto done;
    }
    metric m;
    if (parse_metric(metric_s, &m)) {
        st = usage_error("claims", "--metric: unknown metric '%.40s'", metric_s);
        goto done;
    }
    if (study == (npairs > 0)) {
        st = usage_error("claims", "give --study or --compare A B (one of them)");
        goto done;
    }
    if (opt_find(opts, "subcritical")->set && !study) {
        st = usage_error("claims", "--subcritical is for --study");
        goto done;
    }
    if (ncsv == 0) {
        st = usage_error("claims", "no sweep CSV given");
        goto done;
    }
    size_t nc = 0;
    char err[512];
    for (size_t i = 0; i < npairs; i++) {
        comparison *c = &cs[nc++];
        c->m = m;
        snprintf(c->label, sizeof c->label, "%zu", i + 1);
        for (int s = 0; s < 2; s++)
            if (parse_group(pairs[2 * i + s], s ? &c->b : &c->a, err, sizeof err)) {
                st = usage_error("claims", "--compare %s: %s", s ? "B" : "A", err);
                goto done;
            }
    }
    st = read_tables(csvs, ncsv, &t);
    if (st)
        goto done;
    if (study) {
        double g = opt_find(opts, "subcritical")->set ? subcrit : t.min_gain;
        group off = {.floss = FL_OFF, .gmode = G_NUM, .gain = g};
        comparison *c = cs;
        /* 1, 1b: a rule at its best gain vs the sub-critical gain */
        for (int k = 0; k < 2; k++, c++) {
            c->m = m;
            snprintf(c->label, sizeof c->label, k ? "1b" : "1");
            c->a = off;
            c->a.rule = k ? RP_RULE_BPTT : RP_RULE_EPROP;
            c->a.gmode = G_BEST;
            c->b = off;
            c->b.rule = c->a.rule;
        }
        /* 2: |lambda_max| after training, eprop minus bptt, matched gains */
        parse_metric("|lambda_after|", &c->m);
        snprintf(c->label, sizeof c->label, "2");
        c->a = (group){.rule = RP_RULE_EPROP, .floss = FL_OFF, .gmode = G_ALL};
        c->b = (group){.rule = RP_RULE_BPTT, .floss = FL_OFF, .gmode = G_ALL};
        c++;
        /* 3: local flossing vs none at the sub-critical gain */
        c->m = m;
        snprintf(c->label, sizeof c->label, "3");
        c->a = off;
        c->a.rule = RP_RULE_EPROP;
        c->a.floss = FL_LOCAL;
        c->b = c->a;
        c->b.floss = FL_OFF;
        group la = c->a; /* its feedback and lr as compare() resolves them */
        if (resolve_axes(&t, &la, err, sizeof err) || count_rows(&t, &la) == 0)
            c->a.floss = FL_ON;
        nc = 4;
    }
    for (size_t i = 0; i < nc; i++) {
        r = compare(&t, &set, &cs[i], err, sizeof err);
        if (r) {
            fprintf(stderr, "rnnplast claims: claim %s: %s\n", cs[i].label, err);
            st = r == -2 ? 1 : EXIT_USAGE;
            goto done;
        }
    }
    /* the descriptions, once the gains are known */
    for (size_t i = 0; i < nc; i++) {
        comparison *c = &cs[i];
        char ga[32], gb[32], a[96], b[96];
        fmt_num(c->a.gain, ga, sizeof ga);
        fmt_num(c->b.gain, gb, sizeof gb);
        if (!study)
            snprintf(c->what, sizeof c->what, "%s %s vs %s", c->m.name,
                     group_str(&c->a, a, sizeof a), group_str(&c->b, b, sizeof b));
        else if (strcmp(c->label, "2") == 0)
            snprintf(c->what, sizeof c->what,
                     "%s eprop minus bptt, floss off, mean over %zu matched gains", c->m.name,
                     c->ngains);
        else if (strcmp(c->label, "3") == 0)
            snprintf(c->what, sizeof c->what, "eprop %s with vs without local flossing%s at g %s",
                     c->m.name, c->a.floss == FL_ON ? " (floss on)" : "", ga);
        else
            snprintf(c->what, sizeof c->what, "%s %s at its best gain g %s vs sub-critical g %s",
                     rule_name(c->a.rule), c->m.name, ga, gb);
    }
    double p[MAX_CMP], adj[MAX_CMP];
    for (size_t i = 0; i < nc; i++)
        p[i] = cs[i].p;
    if (stats_holm(p, nc, adj)) {
        fprintf(stderr, "rnnplast claims: out of memory\n");
        st = 1;
        goto done;
    }
    for (size_t i = 0; i < nc; i++)
        cs[i].padj = adj[i];
    printf("# effect = mean over seeds of A - B; 95 %% percentile bootstrap (%zu resamples, seed "
           "%llu); two-sided sign-flip p; Holm over %zu; holds: lo > 0%s\n",
           set.boot, (unsigned long long)set.seed, nc, set.strict ? " and Holm p < 0.05" : "");
    for (size_t i = 0; i < nc; i++)
        print_comparison(&cs[i], nc, set.strict);
done:
    free(av);
    free(csvs);
    free(cs);
    free(t.rows);
    free(t.seeds);
    return st;
}
