/* rnnplast plot: PNG figures from a sweep CSV through gnuplot. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct row {
    char rule[16], floss[16];
    double gain;
    unsigned long long seed;
    double v[4]; /* test_loss, test_acc, lambda_before, lambda_after */
} row;

/* One (rule, floss, gain) group: mean and s.e.m. of each value. */
typedef struct group {
    char rule[16], floss[16];
    double gain;
    double s[4], ss[4];
    size_t n[4], runs;
} group;

static int cmp_group(const void *a, const void *b)
{
    const group *x = a, *y = b;
    int c = strcmp(x->rule, y->rule);
    if (c)
        return c;
    c = strcmp(x->floss, y->floss);
    if (c)
        return c;
    return (x->gain > y->gain) - (x->gain < y->gain);
}

static double mean(const group *g, int q) { return g->n[q] ? g->s[q] / (double)g->n[q] : NAN; }

static double sem(const group *g, int q)
{
    if (g->n[q] < 2)
        return 0.0;
    double m = mean(g, q), v = (g->ss[q] - (double)g->n[q] * m * m) / (double)(g->n[q] - 1);
    return sqrt(v > 0 ? v : 0) / sqrt((double)g->n[q]);
}

/* Distinct strings of field `off` (rule or floss) in groups, in order. */
static size_t distinct(const group *gs, size_t ng, size_t off, char names[][16], size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        const char *s = (const char *)&gs[i] + off;
        size_t j = 0;
        while (j < k && strcmp(names[j], s) != 0)
            j++;
        if (j == k && k < max)
            snprintf(names[k++], 16, "%s", s);
    }
    return k;
}

static const char plot_usage[] =
    "usage: rnnplast plot --csv SWEEP.csv --out DIR [--curves DIR]\n"
    "Figures (PNG, gnuplot): accuracy and loss vs g per rule, lambda_max before/after vs g,\n"
    "with vs without flossing, and (with --curves, the sweep's curve directory) the mean\n"
    "learning curves per rule and gain.";

int cmd_plot(int argc, char **argv)
{
    const char *csv = NULL, *out = NULL, *curves = NULL;
    opt opts[] = {
        O_STR("csv", &csv, "sweep CSV (required)"),
        O_STR("out", &out, "output directory (required; created)"),
        O_STR("curves", &curves, "the sweep's --curves directory (learning curves)"),
        O_END,
    };
    int r = opt_parse("plot", plot_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    if (!csv || !out)
        return usage_error("plot", "--csv and --out are required");
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, "rnnplast plot: cannot read %s: %s\n", csv, strerror(errno));
        return 1;
    }
    size_t cap = 64, nr = 0;
    row *rows = malloc(cap * sizeof *rows);
    char line[4096];
    int header_ok = 0;
    while (rows && fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (strncmp(line, "rule,gain,floss,seed,", 21) == 0) {
            header_ok = 1;
            continue;
        }
        row w;
        int ok;
        size_t iters;
        double tr;
        char *tok[16], *p = line;
        size_t k = 0;
        while (p && k < 16) {
            tok[k++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = 0;
        }
        if (k != 11)
            continue;
        snprintf(w.rule, sizeof w.rule, "%s", tok[0]);
        w.gain = strtod(tok[1], NULL);
        snprintf(w.floss, sizeof w.floss, "%s", tok[2]);
        w.seed = strtoull(tok[3], NULL, 10);
        ok = atoi(tok[4]);
        iters = (size_t)strtoull(tok[5], NULL, 10);
        tr = strtod(tok[6], NULL);
        (void)ok;
        (void)iters;
        (void)tr;
        for (int q = 0; q < 4; q++)
            w.v[q] = strtod(tok[7 + q], NULL);
        if (nr == cap) {
            row *nrw = realloc(rows, 2 * cap * sizeof *rows);
            if (!nrw)
                break;
            rows = nrw;
            cap *= 2;
        }
        rows[nr++] = w;
    }
    fclose(f);
    if (!rows || !header_ok || nr == 0) {
        fprintf(stderr, "rnnplast plot: %s is not a sweep CSV with rows\n", csv);
        free(rows);
        return 1;
    }
    group *gs = calloc(nr, sizeof *gs);
    size_t ng = 0;
    for (size_t i = 0; i < nr; i++) {
        size_t j = 0;
        while (j < ng && !(strcmp(gs[j].rule, rows[i].rule) == 0 &&
                           strcmp(gs[j].floss, rows[i].floss) == 0 && gs[j].gain == rows[i].gain))
            j++;
        if (j == ng) {
            memset(&gs[ng], 0, sizeof gs[ng]);
            snprintf(gs[ng].rule, 16, "%s", rows[i].rule);
            snprintf(gs[ng].floss, 16, "%s", rows[i].floss);
            gs[ng].gain = rows[i].gain;
            ng++;
        }
        gs[j].runs++;
        for (int q = 0; q < 4; q++)
            if (isfinite(rows[i].v[q])) {
                gs[j].s[q] += rows[i].v[q];
                gs[j].ss[q] += rows[i].v[q] * rows[i].v[q];
                gs[j].n[q]++;
            }
    }
    qsort(gs, ng, sizeof *gs, cmp_group);
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "rnnplast plot: cannot create %s: %s\n", out, strerror(errno));
        free(rows);
        free(gs);
        return 1;
    }
    char rules[8][16], flosses[8][16], path[4200];
    size_t nru = distinct(gs, ng, offsetof(group, rule), rules, 8);
    size_t nfl = distinct(gs, ng, offsetof(group, floss), flosses, 8);
    /* The baseline of the per-gain figures: runs without flossing if the
       sweep has them, else its first flossing mode. */
    const char *base = flosses[0];
    for (size_t b = 0; b < nfl; b++)
        if (strcmp(flosses[b], "off") == 0)
            base = "off";
    int has_acc = 0;
    for (size_t i = 0; i < ng; i++)
        has_acc |= gs[i].n[1] > 0;

    /* One data file per (rule, floss): gain, then mean and s.e.m. of each value. */
    for (size_t a = 0; a < nru; a++)
        for (size_t b = 0; b < nfl; b++) {
            snprintf(path, sizeof path, "%s/gain_%s_%s.dat", out, rules[a], flosses[b]);
            FILE *d = NULL;
            for (size_t i = 0; i < ng; i++) {
                if (strcmp(gs[i].rule, rules[a]) || strcmp(gs[i].floss, flosses[b]))
                    continue;
                if (!d && !(d = fopen(path, "w")))
                    break;
                fprintf(d, "%g", gs[i].gain);
                for (int q = 0; q < 4; q++)
                    fprintf(d, " %.8g %.8g", mean(&gs[i], q), sem(&gs[i], q));
                fprintf(d, "\n");
            }
            if (d)
                fclose(d);
        }

    /* Mean learning curves per (rule, gain) without flossing, over seeds. */
    size_t ncurve_files = 0;
    if (curves) {
        for (size_t i = 0; i < ng; i++) {
            if (strcmp(gs[i].floss, base) != 0)
                continue;
            double it[4096], sum[4096];
            size_t cnt[4096], len = 0;
            memset(cnt, 0, sizeof cnt);
            memset(sum, 0, sizeof sum);
            for (size_t k = 0; k < nr; k++) {
                if (strcmp(rows[k].rule, gs[i].rule) || strcmp(rows[k].floss, base) ||
                    rows[k].gain != gs[i].gain)
                    continue;
                char cp[4200];
                snprintf(cp, sizeof cp, "%s/%s_g%g_%s_s%llu.csv", curves, rows[k].rule,
                         rows[k].gain, base, rows[k].seed);
                FILE *c = fopen(cp, "r");
                if (!c)
                    continue;
                size_t li = 0;
                while (fgets(line, sizeof line, c) && li < 4096) {
                    double a1, a2;
                    char *s2 = strchr(line, ',');
                    if (!s2 || line[0] == 'i')
                        continue;
                    a1 = strtod(line, NULL);
                    s2 = strchr(s2 + 1, ','); /* skip train_loss */
                    if (!s2)
                        continue;
                    a2 = strtod(s2 + 1, NULL);
                    it[li] = a1;
                    if (isfinite(a2)) {
                        sum[li] += a2;
                        cnt[li]++;
                    }
                    li++;
                }
                fclose(c);
                if (li > len)
                    len = li;
            }
            if (!len)
                continue;
            snprintf(path, sizeof path, "%s/curve_%s_g%g.dat", out, gs[i].rule, gs[i].gain);
            FILE *d = fopen(path, "w");
            if (!d)
                continue;
            for (size_t li = 0; li < len; li++)
                if (cnt[li])
                    fprintf(d, "%g %.8g\n", it[li], sum[li] / (double)cnt[li]);
            fclose(d);
            ncurve_files++;
        }
    }

    /* The gnuplot script. */
    snprintf(path, sizeof path, "%s/plots.gp", out);
    FILE *gp = fopen(path, "w");
    if (!gp) {
        fprintf(stderr, "rnnplast plot: cannot write %s\n", path);
        free(rows);
        free(gs);
        return 1;
    }
    fprintf(gp, "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
                "set datafile missing 'nan'\nset key outside right\nset grid\n"
                "set xlabel 'initial gain g'\ncd '%s'\n",
            out);
    /* Gains usually span decades (0.1 ... 3): a log axis ticked at the gains run. */
    int pos = 1;
    for (size_t i = 0; i < ng; i++)
        pos &= gs[i].gain > 0.0;
    if (pos) {
        fprintf(gp, "set logscale x\nset xtics (");
        int first = 1;
        for (size_t i = 0; i < ng; i++)
            if (strcmp(gs[i].rule, gs[0].rule) == 0 && strcmp(gs[i].floss, gs[0].floss) == 0) {
                fprintf(gp, "%s%g", first ? "" : ", ", gs[i].gain);
                first = 0;
            }
        fprintf(gp, ")\n");
    }
    /* columns: 1 gain, 2/3 loss, 4/5 acc, 6/7 lambda_before, 8/9 lambda_after */
    struct {
        const char *file, *ylabel, *title;
        int col;
    } figs[] = {
        {"accuracy_vs_gain.png", "final test accuracy", "Accuracy vs initial gain (flossing %s)", 4},
        {"loss_vs_gain.png", "final test loss", "Test loss vs initial gain (flossing %s)", 2},
    };
    for (int fi = 0; fi < 2; fi++) {
        if (figs[fi].col == 4 && !has_acc)
            continue;
        fprintf(gp, "set output '%s'\nset ylabel '%s'\nset title '", figs[fi].file, figs[fi].ylabel);
        fprintf(gp, figs[fi].title, base);
        fprintf(gp, "'\nplot ");
        for (size_t a = 0; a < nru; a++)
            fprintf(gp, "%s'gain_%s_%s.dat' using 1:%d:%d with yerrorlines lw 2 title '%s'",
                    a ? ", " : "", rules[a], base, figs[fi].col, figs[fi].col + 1, rules[a]);
        fprintf(gp, "\n");
    }
    fprintf(gp, "set output 'lambda_vs_gain.png'\nset ylabel 'lambda_{max} (per step)'\n"
                "set title 'lambda_{max} before and after training (flossing %s)'\n"
                "plot 0 with lines lc 'gray' notitle, 'gain_%s_%s.dat' using 1:6:7 with yerrorlines lw 2 dt 2 lc 'black' title 'before (init)'",
            base, rules[0], base);
    for (size_t a = 0; a < nru; a++)
        fprintf(gp, ", 'gain_%s_%s.dat' using 1:8:9 with yerrorlines lw 2 title 'after, %s'", rules[a],
                base, rules[a]);
    fprintf(gp, "\n");
    if (nfl > 1) {
        int col = has_acc ? 4 : 2;
        fprintf(gp, "set output 'flossing.png'\nset ylabel '%s'\n"
                    "set title 'With vs without flossing'\nplot ",
                has_acc ? "final test accuracy" : "final test loss");
        int first = 1;
        for (size_t a = 0; a < nru; a++)
            for (size_t b = 0; b < nfl; b++) {
                fprintf(gp, "%s'gain_%s_%s.dat' using 1:%d:%d with yerrorlines lw 2 lc %zu dt %d title '%s, floss %s'",
                        first ? "" : ", ", rules[a], flosses[b], col, col + 1, a + 1,
                        strcmp(flosses[b], "off") ? 1 : 2, rules[a], flosses[b]);
                first = 0;
            }
        fprintf(gp, "\n");
        fprintf(gp, "set output 'flossing_lambda.png'\nset ylabel 'lambda_{max} after training'\n"
                    "set title 'lambda_{max} after training, with vs without flossing'\nplot 0 with lines lc 'gray' notitle");
        for (size_t a = 0; a < nru; a++)
            for (size_t b = 0; b < nfl; b++)
                fprintf(gp, ", 'gain_%s_%s.dat' using 1:8:9 with yerrorlines lw 2 lc %zu dt %d title '%s, floss %s'",
                        rules[a], flosses[b], a + 1, strcmp(flosses[b], "off") ? 1 : 2, rules[a],
                        flosses[b]);
        fprintf(gp, "\n");
    }
    if (ncurve_files) {
        fprintf(gp, "set output 'learning_curves.png'\nset terminal pngcairo size %zu,450 enhanced font 'sans,10'\n"
                    "set output 'learning_curves.png'\nset multiplot layout 1,%zu\n"
                    "unset logscale x\nset xtics autofreq\nset logscale y\n"
                    "set xlabel 'iteration'\nset ylabel 'test loss'\nset key inside top right\n",
                (size_t)420 * nru, nru);
        for (size_t a = 0; a < nru; a++) {
            fprintf(gp, "set title '%s'\nplot ", rules[a]);
            int first = 1;
            for (size_t i = 0; i < ng; i++) {
                if (strcmp(gs[i].rule, rules[a]) || strcmp(gs[i].floss, base))
                    continue;
                fprintf(gp, "%s'curve_%s_g%g.dat' using 1:2 with lines lw 2 title 'g = %g'",
                        first ? "" : ", ", rules[a], gs[i].gain, gs[i].gain);
                first = 0;
            }
            if (first)
                fprintf(gp, "0 notitle");
            fprintf(gp, "\n");
        }
        fprintf(gp, "unset multiplot\n");
    }
    fclose(gp);
    free(rows);
    free(gs);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "gnuplot '%s/plots.gp' 2>'%s/gnuplot.log'", out, out);
    int st = system(cmd);
    if (st != 0) {
        fprintf(stderr, "rnnplast plot: gnuplot failed (see %s/gnuplot.log)\n", out);
        return 1;
    }
    printf("figures written to %s/\n", out);
    return 0;
}
