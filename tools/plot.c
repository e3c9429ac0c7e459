/* rnnplast plot: PNG figures from a sweep CSV through gnuplot.

   Plotting a CSV someone sent must never run anything, so nothing read from
   a file reaches gnuplot as code, and no shell is involved: every field is
   validated against the schema (csv.h) before use; the values go to data
   files; the script names only fixed files of the output directory (gnuplot
   is started there by fork/exec, so no path appears in it) and every string
   in it is single-quoted by gp_str (gnuplot expands backquotes and macros in
   double quotes only; '' is the one escape inside single quotes). */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* One (rule, floss, gain) group: mean and s.e.m. of test loss, test
   accuracy, lambda_max before and after. */
typedef struct group {
    rp_rule_kind rule;
    floss_kind floss;
    double gain;
    double s[4], ss[4];
    size_t n[4], runs;
    int fb; /* sweep --feedbacks/--lrs (csv.h); 0, 0 in other CSVs */
    double lr;
} group;

/* A line of the figures: a rule, or with --feedbacks/--lrs a rule at one
   feedback and learning rate (its name rule-feedback-lrLR: only the
   characters of rule and feedback names and of %g, safe in file names). */
typedef struct series {
    rp_rule_kind rule;
    int fb;
    double lr;
} series;
#define MAX_SERIES 256

static const char *series_name(const series *r, char *buf, size_t len)
{
    if (!r->fb)
        return rule_name(r->rule);
    snprintf(buf, len, "%s-%s-lr%g", rule_name(r->rule), feedback_name(r->fb), r->lr);
    return buf;
}

static int in_series(const group *g, const series *r)
{
    return g->rule == r->rule && g->fb == r->fb && g->lr == r->lr;
}

static int cmp_group(const void *a, const void *b)
{
    const group *x = a, *y = b;
    int c = strcmp(rule_name(x->rule), rule_name(y->rule));
    if (c)
        return c;
    if (x->fb != y->fb)
        return (x->fb > y->fb) - (x->fb < y->fb);
    if (x->lr != y->lr)
        return (x->lr > y->lr) - (x->lr < y->lr);
    c = strcmp(floss_name(x->floss), floss_name(y->floss));
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

/* s as a gnuplot single-quoted string: ' doubled, control bytes (a newline
   would end the command) replaced by '?'. */
static void gp_str(FILE *gp, const char *s)
{
    fputc('\'', gp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'')
            fputs("''", gp);
        else
            fputc(c < 0x20 || c == 0x7f ? '?' : c, gp);
    }
    fputc('\'', gp);
}

/* gp_str of a printf-formatted string. */
static void gp_strf(FILE *gp, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void gp_strf(FILE *gp, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gp_str(gp, buf);
}

/* 0 if out/name (in dirfd) is absent or a regular file, a symlink followed
   as gnuplot would; else says what is there and returns 2: plot never
   writes into a FIFO, device or socket. */
static int not_regular(int dirfd, const char *out, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, 0) != 0 || S_ISREG(st.st_mode))
        return 0;
    fprintf(stderr, "rnnplast plot: %s/%s is %s, not a regular file: not replaced\n", out, name,
            out_kind_name(st.st_mode));
    return 2;
}

/* A new file out/name in the directory dirfd, for writing; NULL with the
   message printed and *st set (2: not a regular file, 1: another failure). */
static FILE *out_file(int dirfd, const char *out, const char *name, int *st)
{
    if ((*st = not_regular(dirfd, out, name)) != 0)
        return NULL;
    /* O_NONBLOCK: a FIFO put there since the check fails instead of blocking. */
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                    0666);
    struct stat fs;
    if (fd >= 0 && (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode))) {
        close(fd);
        fprintf(stderr, "rnnplast plot: %s/%s is not a regular file: not replaced\n", out, name);
        *st = 2;
        return NULL;
    }
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "rnnplast plot: cannot write %s/%s: %s\n", out, name, strerror(errno));
        if (fd >= 0)
            close(fd);
        *st = 1;
    }
    return f;
}

/* gnuplot plots.gp run inside dirfd (fork/exec, no shell), stdin from
   /dev/null, stderr to gnuplot.log there.  Returns its exit status, or 127
   if it could not be started. */
static int run_gnuplot(int dirfd)
{
    /* As out_file: a FIFO put there since the check fails instead of blocking. */
    int log = openat(dirfd, "gnuplot.log",
                     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    struct stat ls;
    if (log >= 0 && (fstat(log, &ls) != 0 || !S_ISREG(ls.st_mode))) {
        close(log);
        log = -1;
    }
    if (log < 0)
        return 127;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || fchdir(dirfd) != 0 || dup2(nul, STDIN_FILENO) < 0 ||
            dup2(log, STDERR_FILENO) < 0)
            _exit(127);
        char *argv[] = {"gnuplot", "plots.gp", NULL};
        execvp(argv[0], argv);
        _exit(127);
    }
    close(log);
    if (pid < 0)
        return 127;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The mean learning curve (test loss) of group g over its seeds, read from
   the sweep's --curves directory, into out/curve_RULE_gG.dat.  Returns 0
   (written, or no curve file found: *wrote says), or the exit status with
   the message printed. */
static int mean_curve(const char *curves, const group *g, const csv_row *rows, size_t nr, int dirfd,
                      const char *out, int *wrote)
{
    enum { MAXL = 4096 };
    static double it[MAXL], sum[MAXL];
    static size_t cnt[MAXL];
    size_t len = 0;
    memset(cnt, 0, sizeof cnt);
    memset(sum, 0, sizeof sum);
    *wrote = 0;
    for (size_t k = 0; k < nr; k++) {
        const csv_row *w = &rows[k];
        if (w->rule != g->rule || w->floss != g->floss || w->gain != g->gain || w->fb != g->fb ||
            w->lr != g->lr)
            continue;
        char cp[4200];
        int n = csv_curve_path_axes(cp, sizeof cp, curves, w->rule, w->gain, w->floss, w->seed,
                                    w->fb, w->lr);
        if (n < 0 || (size_t)n >= sizeof cp)
            return usage_error("plot", "--curves: path too long");
        FILE *c = fopen(cp, "r");
        if (!c)
            continue;
        csv_reader rd = {.f = c};
        size_t ll, li = 0;
        int complete, r, ncols = 0; /* 0: before the header */
        while ((r = csv_next_line(&rd, &ll, &complete)) != CSV_EOF) {
            char err[400];
            uint64_t iter;
            double tl;
            if (r == CSV_LONG)
                snprintf(err, sizeof err, "column 1: longer than %d bytes", CSV_MAX_LINE);
            else if (!ncols && rd.buf[0] == '#')
                err[0] = 0; /* provenance before the header */
            else if (!ncols)
                snprintf(err, sizeof err, "%s",
                         (ncols = csv_curve_header_cols(rd.buf, ll)) != 0
                             ? ""
                             : "column 1: expected the header " CURVE_COLUMNS
                               " (or, in an older curve, " CURVE_COLUMNS_V1 ")");
            else if (csv_parse_curve(rd.buf, ll, ncols, &iter, &tl, err, sizeof err) == 0) {
                err[0] = 0;
                if (li < MAXL) {
                    it[li] = (double)iter;
                    if (isfinite(tl)) {
                        sum[li] += tl;
                        cnt[li]++;
                    }
                    li++;
                }
            }
            if (err[0]) {
                fprintf(stderr, "rnnplast plot: %s: line %zu: %s\n", cp, rd.lineno, err);
                fclose(c);
                return EXIT_USAGE;
            }
        }
        fclose(c);
        if (li > len)
            len = li;
    }
    if (!len)
        return 0;
    char name[160], sn[96];
    series se = {g->rule, g->fb, g->lr};
    snprintf(name, sizeof name, "curve_%s_g%g.dat", series_name(&se, sn, sizeof sn), g->gain);
    int st;
    FILE *d = out_file(dirfd, out, name, &st);
    if (!d)
        return st;
    for (size_t li = 0; li < len; li++)
        if (cnt[li])
            fprintf(d, "%g %.8g\n", it[li], sum[li] / (double)cnt[li]);
    if ((ferror(d) | fclose(d)) != 0) {
        fprintf(stderr, "rnnplast plot: cannot write %s/%s\n", out, name);
        return 1;
    }
    *wrote = 1;
    return 0;
}

/* The figures' footer: the commit of this plot and the commits the CSV's
   "# built:" lines name (only well-formed ones: prov_line_commit), or
   "unknown" for a CSV without them (an older one). */
static void data_commits(const char *csv, char *out, size_t len)
{
    char list[256] = "";
    size_t nl = 0, more = 0;
    FILE *f = fopen(csv, "r");
    if (f) {
        csv_reader rd = {.f = f};
        size_t ll;
        int complete, k;
        while ((k = csv_next_line(&rd, &ll, &complete)) != CSV_EOF) {
            char c[64];
            if (k == CSV_LINE && rd.buf[0] != '#')
                break; /* the header: provenance comes before it */
            if (k != CSV_LINE || strlen(rd.buf) != ll || prov_line_commit(rd.buf, c, sizeof c))
                continue;
            if (strstr(list, c) &&
                (strstr(list, c)[strlen(c)] == 0 || strstr(list, c)[strlen(c)] == ','))
                continue;
            if (strlen(list) + strlen(c) + 3 < sizeof list)
                nl += (size_t)snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                                       nl ? ", " : "", c) > 0;
            else
                more++;
        }
        fclose(f);
    }
    char extra[32] = "";
    if (more)
        snprintf(extra, sizeof extra, " and %zu more", more);
    snprintf(out, len, "rnnplast %s, commit %s; data: %s %s%s", rp_version_string(), prov_commit(),
             nl > 1 ? "commits" : "commit", nl ? list : "unknown", extra);
}

/* The gnuplot script (every name in it fixed or from the validated rule and
   floss names, every string through gp_str). */
static void write_script(FILE *gp, const group *gs, size_t ng, const series *rules, size_t nru,
                         const floss_kind *flosses, size_t nfl, floss_kind base, int has_acc,
                         int curves, const char *footer)
{
    const char *bn = floss_name(base);
    char sn[96];
    fprintf(gp, "set terminal pngcairo size 900,600 enhanced font 'sans,11'\n"
                "set datafile missing 'nan'\nset key outside right\nset grid\n"
                "set xlabel 'initial gain g'\n");
    /* the provenance footer, on every figure (a label stays set) */
    fprintf(gp, "set label 99 ");
    gp_str(gp, footer);
    fprintf(gp, " at screen 0.01,0.015 noenhanced font ',8'\n");
    /* Gains usually span decades (0.1 ... 3): a log axis ticked at the gains run. */
    int pos = 1;
    for (size_t i = 0; i < ng; i++)
        pos &= gs[i].gain > 0.0;
    if (pos) {
        fprintf(gp, "set logscale x\nset xtics (");
        int first = 1;
        for (size_t i = 0; i < ng; i++)
            if (gs[i].rule == gs[0].rule && gs[i].fb == gs[0].fb && gs[i].lr == gs[0].lr &&
                gs[i].floss == gs[0].floss) {
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
        {"accuracy_vs_gain.png", "final test (choice) accuracy",
         "Accuracy vs initial gain (flossing %s)", 4},
        {"loss_vs_gain.png", "final test loss", "Test loss vs initial gain (flossing %s)", 2},
    };
    for (int fi = 0; fi < 2; fi++) {
        if (figs[fi].col == 4 && !has_acc)
            continue;
        fprintf(gp, "set output ");
        gp_str(gp, figs[fi].file);
        fprintf(gp, "\nset ylabel ");
        gp_str(gp, figs[fi].ylabel);
        fprintf(gp, "\nset title ");
        gp_strf(gp, figs[fi].title, bn);
        fprintf(gp, "\nplot ");
        for (size_t a = 0; a < nru; a++) {
            fprintf(gp, "%s", a ? ", " : "");
            gp_strf(gp, "gain_%s_%s.dat", series_name(&rules[a], sn, sizeof sn), bn);
            fprintf(gp, " using 1:%d:%d with yerrorlines lw 2 title ", figs[fi].col,
                    figs[fi].col + 1);
            gp_str(gp, series_name(&rules[a], sn, sizeof sn));
        }
        fprintf(gp, "\n");
    }
    fprintf(gp,
            "set output 'lambda_vs_gain.png'\nset ylabel 'lambda_{max} (per step)'\nset title ");
    gp_strf(gp, "lambda_{max} before and after training (flossing %s)", bn);
    fprintf(gp, "\nplot 0 with lines lc 'gray' notitle, ");
    gp_strf(gp, "gain_%s_%s.dat", series_name(&rules[0], sn, sizeof sn), bn);
    fprintf(gp, " using 1:6:7 with yerrorlines lw 2 dt 2 lc 'black' title 'before (init)'");
    for (size_t a = 0; a < nru; a++) {
        fprintf(gp, ", ");
        gp_strf(gp, "gain_%s_%s.dat", series_name(&rules[a], sn, sizeof sn), bn);
        fprintf(gp, " using 1:8:9 with yerrorlines lw 2 title ");
        gp_strf(gp, "after, %s", series_name(&rules[a], sn, sizeof sn));
    }
    fprintf(gp, "\n");
    if (nfl > 1) {
        for (int fig = 0; fig < 2; fig++) {
            int col = fig ? 8 : has_acc ? 4 : 2;
            if (fig)
                fprintf(
                    gp,
                    "set output 'flossing_lambda.png'\nset ylabel 'lambda_{max} after training'\n"
                    "set title 'lambda_{max} after training, with vs without flossing'\n"
                    "plot 0 with lines lc 'gray' notitle, ");
            else
                fprintf(gp,
                        "set output 'flossing.png'\nset ylabel '%s'\n"
                        "set title 'With vs without flossing'\nplot ",
                        has_acc ? "final test (choice) accuracy" : "final test loss");
            int first = 1;
            for (size_t a = 0; a < nru; a++)
                for (size_t b = 0; b < nfl; b++) {
                    fprintf(gp, "%s", first ? "" : ", ");
                    gp_strf(gp, "gain_%s_%s.dat", series_name(&rules[a], sn, sizeof sn),
                            floss_name(flosses[b]));
                    fprintf(gp, " using 1:%d:%d with yerrorlines lw 2 lc %zu dt %d title ", col,
                            col + 1, a + 1, flosses[b] != FL_OFF ? 1 : 2);
                    gp_strf(gp, "%s, floss %s", series_name(&rules[a], sn, sizeof sn),
                            floss_name(flosses[b]));
                    first = 0;
                }
            fprintf(gp, "\n");
        }
    }
    if (curves) {
        fprintf(gp,
                "set terminal pngcairo size %zu,450 enhanced font 'sans,10'\n"
                "set output 'learning_curves.png'\nset multiplot layout 1,%zu\n"
                "unset logscale x\nset xtics autofreq\nset logscale y\n"
                "set xlabel 'iteration'\nset ylabel 'test loss'\nset key inside top right\n",
                (size_t)420 * nru, nru);
        for (size_t a = 0; a < nru; a++) {
            fprintf(gp, "set title ");
            gp_str(gp, series_name(&rules[a], sn, sizeof sn));
            fprintf(gp, "\nplot ");
            int first = 1;
            for (size_t i = 0; i < ng; i++) {
                if (!in_series(&gs[i], &rules[a]) || gs[i].floss != base)
                    continue;
                fprintf(gp, "%s", first ? "" : ", ");
                gp_strf(gp, "curve_%s_g%g.dat", series_name(&rules[a], sn, sizeof sn), gs[i].gain);
                fprintf(gp, " using 1:2 with lines lw 2 title ");
                gp_strf(gp, "g = %g", gs[i].gain);
                first = 0;
            }
            if (first)
                fprintf(gp, "0 notitle");
            fprintf(gp, "\n");
        }
        fprintf(gp, "unset multiplot\n");
    }
}

static const char plot_usage[] =
    "usage: rnnplast plot --csv SWEEP.csv --out DIR [--curves DIR]\n"
    "Figures (PNG, gnuplot): accuracy (one choice per trial, choice_acc, where the CSV has\n"
    "it; else test_acc) and loss vs g per rule, lambda_max before/after vs g,\n"
    "with vs without flossing, and (with --curves, the sweep's curve directory) the mean\n"
    "learning curves per rule and gain.  Every field of the CSVs read is checked against\n"
    "the sweep schema (names from their fixed sets, numbers finite and in range): a bad\n"
    "field exits 2 naming its line and column.  Nothing read is ever run: gnuplot\n"
    "is started without a shell and its script holds only quoted fixed names.";

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
    csv_row *rows;
    size_t nr;
    char err[512];
    r = csv_read_sweep(f, &rows, &nr, err, sizeof err);
    fclose(f);
    if (r) {
        fprintf(stderr, "rnnplast plot: %s: %s\n", csv, err);
        return r;
    }
    group *gs = calloc(nr, sizeof *gs);
    if (!gs) {
        free(rows);
        return 1;
    }
    size_t ng = 0;
    for (size_t i = 0; i < nr; i++) {
        size_t j = 0;
        while (j < ng &&
               !(gs[j].rule == rows[i].rule && gs[j].floss == rows[i].floss &&
                 gs[j].gain == rows[i].gain && gs[j].fb == rows[i].fb && gs[j].lr == rows[i].lr))
            j++;
        if (j == ng) {
            gs[ng].fb = rows[i].fb;
            gs[ng].lr = rows[i].lr;
            gs[ng].rule = rows[i].rule;
            gs[ng].floss = rows[i].floss;
            gs[ng].gain = rows[i].gain;
            ng++;
        }
        gs[j].runs++;
        for (int q = 0; q < 4; q++) {
            double v = rows[i].val[CSV_TEST_LOSS + q];
            /* accuracy is one choice per trial where the sweep scored it
               (the per-step argmax, test_acc, counts fixate and misleads) */
            if (q == 1 && isfinite(rows[i].val[CSV_CHOICE]))
                v = rows[i].val[CSV_CHOICE];
            if (isfinite(v)) {
                gs[j].s[q] += v;
                gs[j].ss[q] += v * v;
                gs[j].n[q]++;
            }
        }
    }
    qsort(gs, ng, sizeof *gs, cmp_group);
    /* The series and flossing modes present, in the groups' order. */
    static series rules[MAX_SERIES];
    char sn[96];
    floss_kind flosses[8] = {FL_OFF}; /* nr >= 1: at least one group */
    size_t nru = 0, nfl = 0;
    for (size_t i = 0; i < ng; i++) {
        size_t a = 0, b = 0;
        while (a < nru && !in_series(&gs[i], &rules[a]))
            a++;
        if (a == nru && nru < MAX_SERIES)
            rules[nru++] = (series){gs[i].rule, gs[i].fb, gs[i].lr};
        while (b < nfl && flosses[b] != gs[i].floss)
            b++;
        if (b == nfl && nfl < 8)
            flosses[nfl++] = gs[i].floss;
    }
    /* The baseline of the per-gain figures: runs without flossing if the
       sweep has them, else its first flossing mode. */
    floss_kind base = flosses[0];
    for (size_t b = 0; b < nfl; b++)
        if (flosses[b] == FL_OFF)
            base = FL_OFF;
    int has_acc = 0;
    for (size_t i = 0; i < ng; i++)
        has_acc |= gs[i].n[1] > 0;

    int st = 1, fst, dirfd = -1;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "rnnplast plot: cannot create %s: %s\n", out, strerror(errno));
        goto done;
    }
    dirfd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fprintf(stderr, "rnnplast plot: cannot open %s: %s\n", out, strerror(errno));
        goto done;
    }
    /* One data file per (rule, floss): gain, then mean and s.e.m. of each value. */
    for (size_t a = 0; a < nru; a++)
        for (size_t b = 0; b < nfl; b++) {
            char name[160];
            snprintf(name, sizeof name, "gain_%s_%s.dat", series_name(&rules[a], sn, sizeof sn),
                     floss_name(flosses[b]));
            FILE *d = out_file(dirfd, out, name, &fst);
            if (!d) {
                st = fst;
                goto done;
            }
            for (size_t i = 0; i < ng; i++) {
                if (!in_series(&gs[i], &rules[a]) || gs[i].floss != flosses[b])
                    continue;
                fprintf(d, "%g", gs[i].gain);
                for (int q = 0; q < 4; q++)
                    fprintf(d, " %.8g %.8g", mean(&gs[i], q), sem(&gs[i], q));
                fprintf(d, "\n");
            }
            if ((ferror(d) | fclose(d)) != 0) {
                fprintf(stderr, "rnnplast plot: cannot write %s/%s\n", out, name);
                goto done;
            }
        }
    /* Mean learning curves per (rule, gain) at the baseline, over seeds. */
    size_t ncurve_files = 0;
    if (curves)
        for (size_t i = 0; i < ng; i++) {
            int wrote;
            if (gs[i].floss != base)
                continue;
            if ((r = mean_curve(curves, &gs[i], rows, nr, dirfd, out, &wrote)) != 0) {
                st = r;
                goto done;
            }
            ncurve_files += (size_t)wrote;
        }
    /* What gnuplot writes: plots.gp's outputs and its log. */
    static const char *const made[] = {
        "gnuplot.log",         "accuracy_vs_gain.png", "loss_vs_gain.png",   "lambda_vs_gain.png",
        "flossing_lambda.png", "flossing.png",         "learning_curves.png"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        if ((fst = not_regular(dirfd, out, made[i])) != 0) {
            st = fst;
            goto done;
        }
    FILE *gp = out_file(dirfd, out, "plots.gp", &fst);
    if (!gp) {
        st = fst;
        goto done;
    }
    char footer[512];
    data_commits(csv, footer, sizeof footer);
    write_script(gp, gs, ng, rules, nru, flosses, nfl, base, has_acc, ncurve_files > 0, footer);
    if ((ferror(gp) | fclose(gp)) != 0) {
        fprintf(stderr, "rnnplast plot: cannot write %s/plots.gp\n", out);
        goto done;
    }
    r = run_gnuplot(dirfd);
    if (r == 127)
        fprintf(stderr, "rnnplast plot: cannot run gnuplot (is it installed?)\n");
    else if (r != 0)
        fprintf(stderr, "rnnplast plot: gnuplot failed (see %s/gnuplot.log)\n", out);
    else {
        printf("figures written to %s/\n", out);
        st = 0;
    }
done:
    if (dirfd >= 0)
        close(dirfd);
    free(rows);
    free(gs);
    return st;
}
