/* rnnplast select: the best learning rate per rule and gain without
   selection bias (issue 14, item 8).  From the rows of a sweep run with
   --lrs, each cell (rule, feedback, flossing, gain) chooses the lr whose
   mean metric over the VALIDATION seeds is best; the chosen lr is then
   reported on the other (TEST) seeds only, beside the fixed-rate rows (the
   rule's default lr) on the same test seeds and the paired difference.
   The intervals are the percentile bootstrap of stats.h. */
#include "csv.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEED_SPEC 100000 /* largest seed number a --val-seeds range may name */

/* The metrics a learning rate is chosen by: larger better, or (loss) smaller. */
static const struct {
    const char *name;
    int col, better;
} sel_metrics[] = {{"choice_acc", CSV_CHOICE, 1},
                   {"response_rate", CSV_RESPONSE, 1},
                   {"test_acc", CSV_TEST_ACC, 1},
                   {"test_loss", CSV_TEST_LOSS, -1}};

/* "1-10", "1,3,5-7": the seeds into a bitmap of MAX_SEED_SPEC + 1 bytes. */
static int parse_seeds(const char *s, unsigned char *set, size_t *count)
{
    char buf[1024], *tok[257];
    size_t n = split_list(s, buf, sizeof buf, tok, 256);
    if (n == 0 || n > 256)
        return -1;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        char *dash = strchr(tok[i], '-');
        unsigned long long a, b;
        if (dash)
            *dash = 0;
        if (parse_ull(tok[i], &a) || (dash ? parse_ull(dash + 1, &b) : (b = a, 0)) || a < 1 ||
            b < a || b > MAX_SEED_SPEC)
            return -1;
        for (unsigned long long k = a; k <= b; k++) {
            *count += !set[k];
            set[k] = 1;
        }
    }
    return 0;
}

static int cmp_cell(const void *pa, const void *pb)
{
    const csv_row *x = pa, *y = pb;
    if (x->rule != y->rule)
        return (x->rule > y->rule) - (x->rule < y->rule);
    if (x->fb != y->fb)
        return (x->fb > y->fb) - (x->fb < y->fb);
    if (x->floss != y->floss)
        return (x->floss > y->floss) - (x->floss < y->floss);
    if (x->gain != y->gain)
        return (x->gain > y->gain) - (x->gain < y->gain);
    if (x->lr != y->lr)
        return (x->lr > y->lr) - (x->lr < y->lr);
    return (x->seed > y->seed) - (x->seed < y->seed);
}

static int same_cell(const csv_row *x, const csv_row *y)
{
    return x->rule == y->rule && x->fb == y->fb && x->floss == y->floss && x->gain == y->gain;
}

static int is_val(const unsigned char *val, uint64_t seed)
{
    return seed <= MAX_SEED_SPEC && val[seed];
}

/* The row of cell rows[c0..c1) at learning rate lr and seed, or NULL. */
static const csv_row *cell_row(const csv_row *rows, size_t c0, size_t c1, double lr, uint64_t seed)
{
    for (size_t i = c0; i < c1; i++)
        if (rows[i].lr == lr && rows[i].seed == seed)
            return &rows[i];
    return NULL;
}

/* "mean [lo, hi]" of d[0..n) (percentile bootstrap; signed: with + on
   positive values, for a difference), or "-" for n = 0. */
static int fmt_ci(const double *d, size_t n, size_t boot, uint64_t seed, int sgn, char *buf,
                  size_t len)
{
    double lo, hi;
    if (n == 0) {
        snprintf(buf, len, "-");
        return 0;
    }
    if (stats_boot_ci(d, n, boot, 0.95, seed, &lo, &hi))
        return -1;
    snprintf(buf, len, sgn ? "%+.3f [%+.3f, %+.3f]" : "%.3f [%.3f, %.3f]", stats_mean(d, n), lo,
             hi);
    return 0;
}

static const char select_usage[] =
    "usage: rnnplast select --val-seeds LIST [options] SWEEP.csv [SWEEP.csv ...]\n"
    "The best learning rate per cell without selection bias, from the rows of sweeps\n"
    "run with --lrs (the CSV's lr column).  A cell is a rule, feedback, flossing mode\n"
    "and gain.  Its lr is chosen on the VALIDATION seeds (--val-seeds, e.g. 1-10 or\n"
    "1,3,5-7): the lr whose mean metric over them is best (larger for accuracies and\n"
    "the response rate, smaller for the loss; ties to the smaller lr; non-finite values\n"
    "left out).  Every number printed beside it is from the TEST seeds, every seed of the\n"
    "cell not in --val-seeds: the chosen lr's mean metric with its 95 % percentile\n"
    "bootstrap interval (--boot resamples of the test seeds, seeded with --seed), the\n"
    "same for the fixed rate (--fixed-lr, default the rule's default lr: 3e-3, rflo 1e-3;\n"
    "'-' when the sweep did not run it), and the paired difference chosen - fixed over\n"
    "the test seeds both have.  With --out the table is also written as CSV.\n"
    "Exit 2: a bad CSV field, a row without the lr column, a run found twice, or no\n"
    "test seeds.";

int cmd_select(int argc, char **argv)
{
    const char *val_s = NULL, *metric_s = "choice_acc", *out_path = NULL;
    size_t boot = 10000;
    uint64_t bseed = 1;
    double fixed_lr = 0.0;
    opt opts[] = {
        O_STR("val-seeds", &val_s, "the validation seeds that choose the lr, e.g. 1-10 (required)"),
        O_STR("metric", &metric_s,
              "choice_acc, response_rate, test_acc or test_loss "
              "(default choice_acc)"),
        O_NUM("fixed-lr", &fixed_lr, 0, 1, INFINITY, 0,
              "the fixed rate reported beside (default: the rule's default lr)"),
        O_SIZE("boot", &boot, 100, 10000000, "bootstrap resamples (default 10000)"),
        O_U64("seed", &bseed, 0, UINT64_MAX, "seed of the bootstrap draws (default 1)"),
        O_STR("out", &out_path, "also write the table as CSV here"),
        O_END,
    };
    /* the CSVs are positional: taken out before opt_parse sees the rest */
    char **av = calloc((size_t)argc + 1, sizeof *av),
         **csvs = calloc((size_t)argc + 1, sizeof *csvs);
    unsigned char *val = calloc(MAX_SEED_SPEC + 1, 1);
    csv_row *rows = NULL;
    double *da = NULL, *db = NULL, *dd = NULL;
    size_t nav = 0, ncsv = 0, nr = 0;
    int st = 0;
    outfile of;
    int of_open = 0;
    if (!av || !csvs || !val) {
        fprintf(stderr, "rnnplast select: out of memory\n");
        st = 1;
        goto done;
    }
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 || strcmp(argv[i], "-h") == 0) {
            av[nav++] = argv[i];
            opt *o = opt_find(opts, argv[i] + 2);
            if (o && o->type != OPT_FLAG && i + 1 < argc)
                av[nav++] = argv[++i];
        } else {
            csvs[ncsv++] = argv[i];
        }
    }
    int r = opt_parse("select", select_usage, opts, (int)nav, av, 0);
    if (r) {
        st = r < 0 ? 0 : r;
        goto done;
    }
    int mcol = -1, better = 1;
    for (size_t i = 0; i < sizeof sel_metrics / sizeof sel_metrics[0]; i++)
        if (strcmp(metric_s, sel_metrics[i].name) == 0)
            mcol = sel_metrics[i].col, better = sel_metrics[i].better;
    if (mcol < 0) {
        st = usage_error("select",
                         "--metric: expected choice_acc, response_rate, test_acc or test_loss, "
                         "got '%.40s'",
                         metric_s);
        goto done;
    }
    size_t nval = 0;
    if (!val_s) {
        st = usage_error("select", "--val-seeds is required (e.g. --val-seeds 1-10)");
        goto done;
    }
    if (parse_seeds(val_s, val, &nval)) {
        st = usage_error("select",
                         "--val-seeds: expected seeds or ranges A-B (1 <= A <= B <= %d), "
                         "comma-separated, got '%.60s'",
                         MAX_SEED_SPEC, val_s);
        goto done;
    }
    if (ncsv == 0) {
        st = usage_error("select", "no sweep CSV given");
        goto done;
    }
    char real[4096];
    if (out_path && (st = out_check("select", "--out", out_path, real, sizeof real)) != 0)
        goto done;
    for (size_t i = 0; i < ncsv; i++) {
        FILE *f = fopen(csvs[i], "r");
        if (!f) {
            fprintf(stderr, "rnnplast select: cannot read %s: %s\n", csvs[i], strerror(errno));
            st = 1;
            goto done;
        }
        csv_row *w;
        size_t n;
        char err[512];
        r = csv_read_sweep(f, &w, &n, err, sizeof err);
        fclose(f);
        if (r) {
            fprintf(stderr, "rnnplast select: %s: %s\n", csvs[i], err);
            st = r;
            goto done;
        }
        if (w[0].lr <= 0.0) {
            free(w);
            st = usage_error("select", "%s has no lr column: select reads sweeps run with --lrs",
                             csvs[i]);
            goto done;
        }
        csv_row *v = realloc(rows, (nr + n) * sizeof *v);
        if (!v) {
            free(w);
            fprintf(stderr, "rnnplast select: out of memory\n");
            st = 1;
            goto done;
        }
        memcpy(v + nr, w, n * sizeof *v);
        free(w);
        rows = v;
        nr += n;
    }
    qsort(rows, nr, sizeof *rows, cmp_cell);
    for (size_t i = 1; i < nr; i++)
        if (cmp_cell(&rows[i], &rows[i - 1]) == 0) {
            char g[32];
            fmt_num(rows[i].gain, g, sizeof g);
            st = usage_error("select",
                             "the run rule=%s,gain=%s,floss=%s,feedback=%s,lr=%g,seed=%llu "
                             "appears twice in the CSVs",
                             rule_name(rows[i].rule), g, floss_name(rows[i].floss),
                             feedback_name(rows[i].fb), rows[i].lr,
                             (unsigned long long)rows[i].seed);
            goto done;
        }
    da = calloc(nr, sizeof *da);
    db = calloc(nr, sizeof *db);
    dd = calloc(nr, sizeof *dd);
    if (!da || !db || !dd) {
        fprintf(stderr, "rnnplast select: out of memory\n");
        st = 1;
        goto done;
    }
    if (out_path) {
        if (out_open(&of, real) != 0) {
            fprintf(stderr, "rnnplast select: cannot write %s: %s\n", out_path, strerror(errno));
            st = 1;
            goto done;
        }
        of_open = 1;
        char *pv = prov_lines();
        fputs(pv ? pv : "", of.f);
        free(pv);
        fprintf(of.f, "rule,feedback,floss,gain,lr_chosen,val_n,val_mean,test_n,test_mean,test_lo,"
                      "test_hi,lr_fixed,fixed_n,fixed_mean,fixed_lo,fixed_hi,diff_n,diff_mean,"
                      "diff_lo,diff_hi\n");
    }
    printf("# lr chosen per cell on %zu validation seeds (%s), metric %s (%s better, ties to the "
           "smaller lr);\n# every other column on the test seeds (the cell's other seeds): mean "
           "[95 %% percentile bootstrap, %zu resamples, seed %llu]\n",
           nval, val_s, metric_s, better > 0 ? "larger" : "smaller", boot,
           (unsigned long long)bseed);
    printf("%-6s %-9s %-7s %6s %9s %6s  %-26s %9s  %-26s %s\n", "rule", "feedback", "floss", "g",
           "lr chosen", "n test", "chosen lr on test seeds", "lr fixed", "fixed lr on test seeds",
           "chosen - fixed (paired)");
    for (size_t c0 = 0; c0 < nr;) {
        size_t c1 = c0;
        while (c1 < nr && same_cell(&rows[c0], &rows[c1]))
            c1++;
        const csv_row *h = &rows[c0];
        /* the lr with the best validation mean (rows sorted by lr: ties keep the smaller) */
        double best_lr = NAN, best = NAN;
        size_t best_n = 0;
        for (size_t i = c0; i < c1;) {
            size_t j = i, n = 0;
            double s = 0.0;
            while (j < c1 && rows[j].lr == rows[i].lr) {
                double v = rows[j].val[mcol];
                if (is_val(val, rows[j].seed) && isfinite(v))
                    s += v, n++;
                j++;
            }
            double m = n ? s / (double)n : NAN;
            if (n && (isnan(best) || (better > 0 ? m > best : m < best)))
                best = m, best_lr = rows[i].lr, best_n = n;
            i = j;
        }
        const double flr = fixed_lr > 0.0 ? fixed_lr : default_lr(h->rule);
        int has_fixed = 0;
        for (size_t i = c0; i < c1; i++)
            has_fixed |= rows[i].lr == flr;
        /* the test seeds: those of the cell's rows outside --val-seeds */
        size_t na = 0, nb = 0, nd = 0, ntest = 0;
        for (size_t i = c0; i < c1; i++) {
            uint64_t sd = rows[i].seed;
            if (is_val(val, sd))
                continue;
            int first = 1; /* each seed once, whatever lrs it has */
            for (size_t k = c0; k < i && first; k++)
                first = rows[k].seed != sd;
            if (!first)
                continue;
            ntest++;
            const csv_row *ra = isnan(best_lr) ? NULL : cell_row(rows, c0, c1, best_lr, sd);
            const csv_row *rb = has_fixed ? cell_row(rows, c0, c1, flr, sd) : NULL;
            double va = ra ? ra->val[mcol] : NAN, vb = rb ? rb->val[mcol] : NAN;
            if (isfinite(va))
                da[na++] = va;
            if (isfinite(vb))
                db[nb++] = vb;
            if (isfinite(va) && isfinite(vb))
                dd[nd++] = va - vb;
        }
        char g[32], lrc[32] = "-", lrf[32] = "-", a[64], b[64], d[64];
        fmt_num(h->gain, g, sizeof g);
        if (!isnan(best_lr))
            snprintf(lrc, sizeof lrc, "%g", best_lr);
        if (has_fixed)
            snprintf(lrf, sizeof lrf, "%g", flr);
        if (fmt_ci(da, na, boot, bseed, 0, a, sizeof a) ||
            fmt_ci(db, nb, boot, bseed, 0, b, sizeof b) ||
            fmt_ci(dd, nd, boot, bseed, 1, d, sizeof d)) {
            fprintf(stderr, "rnnplast select: out of memory\n");
            st = 1;
            goto done;
        }
        printf("%-6s %-9s %-7s %6s %9s %6zu  %-26s %9s  %-26s %s\n", rule_name(h->rule),
               feedback_name(h->fb), floss_name(h->floss), g, lrc, ntest, a, lrf, b, d);
        if (of_open) {
            double lo[3] = {NAN, NAN, NAN}, hi[3] = {NAN, NAN, NAN};
            const double *arr[3] = {da, db, dd};
            const size_t cnt[3] = {na, nb, nd};
            for (int q = 0; q < 3; q++)
                if (cnt[q] && stats_boot_ci(arr[q], cnt[q], boot, 0.95, bseed, &lo[q], &hi[q]))
                    lo[q] = hi[q] = NAN;
            fprintf(of.f, "%s,%s,%s,%s,%s,%zu,%.9g", rule_name(h->rule), feedback_name(h->fb),
                    floss_name(h->floss), g, isnan(best_lr) ? "nan" : lrc, best_n, best);
            fprintf(of.f, ",%zu,%.9g,%.9g,%.9g,%s", na, na ? stats_mean(da, na) : NAN, lo[0], hi[0],
                    has_fixed ? lrf : "nan");
            fprintf(of.f, ",%zu,%.9g,%.9g,%.9g,%zu,%.9g,%.9g,%.9g\n", nb,
                    nb ? stats_mean(db, nb) : NAN, lo[1], hi[1], nd, nd ? stats_mean(dd, nd) : NAN,
                    lo[2], hi[2]);
        }
        if (ntest == 0) {
            st = usage_error("select",
                             "rule=%s,feedback=%s,floss=%s,gain=%s has no test seeds (every seed "
                             "is in --val-seeds)",
                             rule_name(h->rule), feedback_name(h->fb), floss_name(h->floss), g);
            goto done;
        }
        c0 = c1;
    }
    if (of_open) {
        of_open = 0;
        if (out_commit(&of) != 0) {
            fprintf(stderr, "rnnplast select: cannot write %s: %s\n", out_path, strerror(errno));
            st = 1;
        }
    }
done:
    if (of_open)
        out_abort(&of);
    free(av);
    free(csvs);
    free(val);
    free(rows);
    free(da);
    free(db);
    free(dd);
    return st;
}
