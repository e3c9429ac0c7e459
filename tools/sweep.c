/* rnnplast sweep: the grid gains x rules x flossing x seeds, run by forked
   workers (one OpenBLAS thread each) or by MPI ranks (tools/mpi/sweep_mpi.c,
   `make mpi`), one CSV row per run, resumable, and the summary table of
   MODEL.md §9. */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted = 0;
static void on_signal(int sig) { interrupted = sig; }

/* OpenBLAS's own call (declared here: the tool includes only rnnplast.h). */
extern void openblas_set_num_threads(int num_threads);

typedef sweep_job job;

/* Split a comma list into tokens (in place). */
static size_t split(char *s, char **tok, size_t max)
{
    size_t n = 0;
    for (char *p = s; p && n < max;) {
        tok[n++] = p;
        char *c = strchr(p, ',');
        if (c)
            *c++ = 0;
        p = c;
    }
    return n;
}

static void gain_str(double g, char *buf, size_t len) { snprintf(buf, len, "%g", g); }

static void job_key(const job *j, char *buf, size_t len)
{
    char gs[32];
    gain_str(j->gain, gs, sizeof gs);
    snprintf(buf, len, "%s,%s,%s,%llu,", rule_name(j->rule), gs, floss_name(j->floss),
             (unsigned long long)j->seed);
}

static char *format_row(const job *j, const run_result *r)
{
    csv_row w = {j->rule, j->gain, j->floss, j->seed, r->ok > 0, r->iters_done,
                 {r->train_loss, r->test_loss, r->test_acc, r->lam_before, r->lam_after}};
    char buf[CSV_MAX_LINE + 1];
    return csv_format_row(&w, buf, sizeof buf) < 0 ? NULL : strdup(buf);
}

/* Everything but the grid: a resumed sweep must have been run with the same. */
static void config_line(const run_cfg *rc, char *buf, size_t len)
{
    const rp_task_config *t = &rc->tcfg;
    char coh[128] = "";
    size_t o = 0;
    for (size_t i = 0; i < t->n_coherences && o < sizeof coh - 16; i++)
        o += (size_t)snprintf(coh + o, sizeof coh - o, "%s%g", i ? ";" : "", t->coherences[i]);
    snprintf(buf, len,
             "# rnnplast sweep: task=%s T=%zu delay=%zu t1=%zu t2=%zu periods=%zu/%zu/%zu/%zu "
             "sigma=%g fix_weight=%g coherences=%s alpha=%g N=%zu form=%d act=%d noise=%g optim=%d lr=%g clip=%g "
             "iters=%zu batch=%zu test_batch=%zu lyap_trials=%zu tbptt_k=%zu floss_phase=%s "
             "floss_k=%zu floss_target=%g floss_beta=%g floss_iters=%zu floss_every=%zu",
             rp_task_kind_name(rc->task), t->T, t->delay, t->t1, t->t2, t->fixation, t->stimulus,
             t->test, t->decision, t->sigma, t->fix_weight, coh, rc->alpha, rc->N, (int)rc->form, (int)rc->act,
             rc->noise, (int)rc->optim, rc->lr, rc->clip, rc->iters, rc->batch, rc->test_batch,
             rc->lyap_trials, rc->tbptt_k, phase_name(rc->phase), rc->floss_k, rc->floss_target,
             rc->floss_beta, rc->floss_iters, rc->floss_every);
}

/* ---- summary ----------------------------------------------------------- */

typedef struct stat_acc {
    double s, ss;
    size_t n;
} stat_acc;

static void acc_add(stat_acc *a, double v)
{
    if (isfinite(v)) {
        a->s += v;
        a->ss += v * v;
        a->n++;
    }
}

/* "mean ± s.e.m." (s.e.m. = sample s.d. / sqrt(n)); "-" with no finite value. */
static void acc_fmt(const stat_acc *a, char *buf, size_t len)
{
    if (a->n == 0) {
        snprintf(buf, len, "-");
        return;
    }
    double m = a->s / (double)a->n;
    double var = a->n > 1 ? (a->ss - (double)a->n * m * m) / (double)(a->n - 1) : 0.0;
    double sem = sqrt(var > 0 ? var : 0) / sqrt((double)a->n);
    if (fabs(m) < 100.0)
        snprintf(buf, len, "%.3f ± %.3f", m, sem);
    else /* a diverged run's loss: magnitude only */
        snprintf(buf, len, "%.3g ± %.2g", m, sem);
}

static void print_summary(job *jobs, size_t nj, size_t nseeds, FILE *out)
{
    fprintf(out, "\n%-6s %6s %-6s %3s  %-19s %-19s %-19s %-19s\n", "rule", "g", "floss", "n",
            "test loss", "test accuracy", "lambda_max before", "lambda_max after");
    /* Jobs are ordered rule, gain, floss, seed: a group is nseeds consecutive jobs. */
    for (size_t i = 0; i + nseeds <= nj; i += nseeds) {
        stat_acc a[4];
        memset(a, 0, sizeof a);
        size_t have = 0, failed = 0;
        for (size_t s = 0; s < nseeds; s++) {
            csv_row w;
            char err[256];
            /* every row held was written or validated by csv.c: it parses */
            if (!jobs[i + s].row || csv_parse_row(jobs[i + s].row, strlen(jobs[i + s].row), &w,
                                                  err, sizeof err))
                continue;
            have++;
            failed += !w.ok;
            for (int q = 0; q < 4; q++)
                acc_add(&a[q], w.val[CSV_TEST_LOSS + q]);
        }
        char f[4][48], gs[32];
        for (int q = 0; q < 4; q++)
            acc_fmt(&a[q], f[q], sizeof f[q]);
        gain_str(jobs[i].gain, gs, sizeof gs);
        fprintf(out, "%-6s %6s %-6s %3zu  %-20s %-20s %-20s %-20s", rule_name(jobs[i].rule), gs,
                floss_name(jobs[i].floss), have, f[0], f[1], f[2], f[3]);
        if (failed)
            fprintf(out, "  (%zu stopped early)", failed);
        fprintf(out, "\n");
    }
    fprintf(out, "(mean ± s.e.m. over seeds; lambda_max per step, driven by the task's inputs)\n");
}

/* ---- one run, one row (both drivers) ----------------------------------- */

static void curve_path(const char *dir, const job *j, char *buf, size_t len)
{
    char gs[32];
    gain_str(j->gain, gs, sizeof gs);
    snprintf(buf, len, "%s/%s_g%s_%s_s%llu.csv", dir, rule_name(j->rule), gs, floss_name(j->floss),
             (unsigned long long)j->seed);
}

void sweep_run(const sweep *s, const job *j, run_result *res)
{
    run_cfg rc = s->rc;
    rc.rule = j->rule;
    rc.gain = j->gain;
    rc.floss = j->floss;
    rc.seed = j->seed;
    FILE *cf = NULL;
    char path[4096], tmp[4200];
    if (s->curves) {
        curve_path(s->curves, j, path, sizeof path);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        cf = fopen(tmp, "w");
    }
    int fail = run_one(&rc, res, cf, NULL, NULL, NULL, NULL);
    if (cf) {
        if (fclose(cf) == 0 && !fail)
            rename(tmp, path);
        else
            unlink(tmp);
    }
    if (fail)
        res->ok = -1;
}

void sweep_record(sweep *s, job *j, const run_result *res)
{
    char key[128];
    job_key(j, key, sizeof key);
    const char *nl = s->prog.tty ? "\n" : "";
    if (res->ok < 0) {
        fprintf(stderr, "%srnnplast sweep: run %s failed: %s\n", nl, key, res->msg);
        s->errors++;
    } else {
        if (!res->ok && !s->quiet)
            fprintf(stderr, "%srnnplast sweep: run %s stopped early: %s\n", nl, key, res->msg);
        j->row = format_row(j, res);
        if (j->row) {
            fprintf(s->out, "%s\n", j->row);
            fflush(s->out); /* on disk as it arrives: a crash keeps the finished runs */
        }
    }
    s->finished++;
    if (!s->quiet)
        progress_update(&s->prog, s->finished, s->nj - s->kept);
}

/* ---- forked workers (the serial driver) -------------------------------- */

/* In the child: run the job, write its result into fd, exit. */
static void worker(const sweep *s, const job *j, int fd)
{
    openblas_set_num_threads((int)s->threads);
    run_result res;
    sweep_run(s, j, &res);
    const char *p = (const char *)&res;
    size_t left = sizeof res;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        p += w;
        left -= (size_t)w;
    }
    _exit(0);
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Runs every job without a row on s->jobs_n forked workers.  Returns 0, or
   128 + the signal when SIGINT/SIGTERM stopped it. */
static int run_forked(sweep *s)
{
    job *jobs = s->jobs;
    size_t nj = s->nj, running = 0, next = 0;
    int stopped = 0;
    /* SIGINT / SIGTERM: stop the workers, keep the finished rows, exit. */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    while (1) {
        if (interrupted && !stopped) {
            stopped = 1;
            for (size_t i = 0; i < nj; i++)
                if (jobs[i].pid > 0)
                    kill(jobs[i].pid, SIGTERM);
        }
        while (!stopped && running < s->jobs_n && next < nj) {
            job *j = &jobs[next++];
            if (j->row)
                continue;
            int pfd[2];
            if (pipe(pfd) != 0) {
                fprintf(stderr, "rnnplast sweep: pipe: %s\n", strerror(errno));
                stopped = 1;
                s->errors++;
                break;
            }
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                sigaction(SIGINT, &old_int, NULL);
                sigaction(SIGTERM, &old_term, NULL);
                close(pfd[0]);
                fclose(s->out);
                worker(s, j, pfd[1]);
            }
            close(pfd[1]);
            if (pid < 0) {
                close(pfd[0]);
                fprintf(stderr, "rnnplast sweep: fork: %s\n", strerror(errno));
                stopped = 1;
                s->errors++;
                break;
            }
            j->pid = pid;
            j->fd = pfd[0];
            running++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        job *j = NULL;
        for (size_t i = 0; i < nj && !j; i++)
            if (jobs[i].pid == pid)
                j = &jobs[i];
        if (!j)
            continue;
        running--;
        run_result res;
        int got = read_all(j->fd, &res, sizeof res) == 0;
        close(j->fd);
        j->pid = 0;
        if (interrupted && !got) {
            /* a worker stopped by the interruption: its run is redone on resume */
            s->finished++;
        } else if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char key[128];
            job_key(j, key, sizeof key);
            fprintf(stderr, "%srnnplast sweep: run %s worker died (status %d)\n", s->prog.tty ? "\n" : "",
                    key, status);
            s->errors++;
            s->finished++;
        } else {
            sweep_record(s, j, &res);
        }
        if (s->stop_after && s->finished >= s->stop_after)
            stopped = 1;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return interrupted ? 128 + (int)interrupted : 0;
}

/* ---- resume, canonical CSV, summary ------------------------------------ */

void sweep_free(sweep *s)
{
    if (s->out)
        fclose(s->out);
    s->out = NULL;
    if (s->jobs)
        for (size_t i = 0; i < s->nj; i++)
            free(s->jobs[i].row);
    free(s->jobs);
    s->jobs = NULL;
}

int sweep_open(sweep *s)
{
    job *jobs = s->jobs;
    size_t nj = s->nj;
    const char *out_path = s->out_path;
    if (s->curves && mkdir(s->curves, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "rnnplast sweep: cannot create %s: %s\n", s->curves, strerror(errno));
        return 1;
    }

    /* Resume: keep the rows of finished runs.  A row is kept only if every
       field is valid (csv.h) and it is a finished run of this sweep's grid;
       any other line is dropped with a note naming it, and its run redone. */
    s->kept = 0;
    FILE *f = fopen(out_path, "r");
    if (f) {
        csv_reader rd = {.f = f};
        size_t len;
        int complete, k;
        while ((k = csv_next_line(&rd, &len, &complete)) != CSV_EOF) {
            const char *line = rd.buf;
            if (rd.lineno == 1) {
                if (k != CSV_LINE || strlen(line) != len || strcmp(line, s->cfgline) != 0) {
                    fclose(f);
                    return usage_error("sweep", "%s exists and was written by another configuration "
                                       "(remove it or choose another --out)", out_path);
                }
                continue;
            }
            if (k == CSV_LINE && !complete)
                continue; /* a line cut by an interruption is dropped */
            if (k == CSV_LINE && (line[0] == '#' || strcmp(line, CSV_COLUMNS) == 0))
                continue;
            csv_row w;
            char err[400];
            err[0] = 0;
            if (k == CSV_LONG)
                snprintf(err, sizeof err, "column 1: longer than %d bytes", CSV_MAX_LINE);
            else if (!csv_parse_row(line, len, &w, err, sizeof err) &&
                     (w.iters > s->rc.iters || (w.ok && w.iters != s->rc.iters)))
                snprintf(err, sizeof err, "column 6 (iters): expected %s%zu, got %llu",
                         w.ok ? "" : "at most ", s->rc.iters, (unsigned long long)w.iters);
            if (err[0]) {
                fprintf(stderr, "rnnplast sweep: %s: line %zu: %s; line dropped, its run is redone\n",
                        out_path, rd.lineno, err);
                continue;
            }
            char key[128], wkey[128];
            job wj = {w.rule, w.gain, w.floss, w.seed, NULL, 0, -1};
            job_key(&wj, wkey, sizeof wkey);
            size_t i = 0;
            while (i < nj && (job_key(&jobs[i], key, sizeof key), strcmp(wkey, key) != 0))
                i++;
            if (i == nj || jobs[i].row) {
                fprintf(stderr, "rnnplast sweep: %s: line %zu: %s; line dropped\n", out_path, rd.lineno,
                        i == nj ? "not a run of this grid (--gains, --rules, --floss, --seeds)"
                                : "a second row for the same run");
                continue;
            }
            /* rewritten from the values read: the CSV stays canonical */
            run_result res = {.test_loss = w.val[CSV_TEST_LOSS], .test_acc = w.val[CSV_TEST_ACC],
                              .lam_before = w.val[CSV_LAM_BEFORE], .lam_after = w.val[CSV_LAM_AFTER],
                              .train_loss = w.val[CSV_TRAIN_LOSS], .iters_done = (size_t)w.iters,
                              .ok = w.ok};
            jobs[i].row = format_row(&jobs[i], &res);
            s->kept += jobs[i].row != NULL;
        }
        fclose(f);
    }
    /* Start the file afresh with the kept rows; new rows are appended as they finish. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "rnnplast sweep: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    fprintf(out, "%s\n%s\n", s->cfgline, CSV_COLUMNS);
    for (size_t i = 0; i < nj; i++)
        if (jobs[i].row)
            fprintf(out, "%s\n", jobs[i].row);
    if (fclose(out) != 0 || rename(tmp, out_path) != 0) {
        fprintf(stderr, "rnnplast sweep: cannot write %s\n", out_path);
        return 1;
    }
    s->out = fopen(out_path, "a");
    if (!s->out) {
        fprintf(stderr, "rnnplast sweep: cannot write %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    progress_init(&s->prog, "sweep");
    s->finished = 0;
    return 0;
}

int sweep_close(sweep *s)
{
    job *jobs = s->jobs;
    size_t nj = s->nj;
    if (!s->quiet)
        progress_done(&s->prog);
    fclose(s->out);
    s->out = NULL;
    int complete = 1;
    for (size_t i = 0; i < nj; i++)
        complete &= jobs[i].row != NULL;
    if (complete) {
        /* Canonical order (rule, gain, floss, seed): identical to an uninterrupted sweep. */
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", s->out_path);
        FILE *out = fopen(tmp, "w");
        if (out) {
            fprintf(out, "%s\n%s\n", s->cfgline, CSV_COLUMNS);
            for (size_t i = 0; i < nj; i++)
                fprintf(out, "%s\n", jobs[i].row);
            if (fclose(out) != 0 || rename(tmp, s->out_path) != 0)
                s->errors++;
        }
    }
    print_summary(jobs, nj, s->nseeds, stdout);
    if (!complete)
        fprintf(stderr, "rnnplast sweep: %s incomplete; run the same command again to resume\n",
                s->out_path);
    int errors = s->errors != 0;
    sweep_free(s);
    return errors || !complete ? 1 : 0;
}

#ifndef RNNPLAST_MPI
/* The plain build has no MPI: `make mpi` builds build/rnnplast-mpi. */
int sweep_mpi(sweep *s)
{
    sweep_free(s);
    return usage_error("sweep", "--mpi: this rnnplast was built without MPI; `make mpi` builds "
                                "build/rnnplast-mpi (run it under mpirun)");
}
#endif

/* ---- the command ------------------------------------------------------- */

static const char sweep_usage[] =
    "usage: rnnplast sweep --out FILE.csv [options]\n"
    "Train every combination of --gains x --rules x --floss x seeds 1..--seeds in\n"
    "parallel (--jobs workers, --threads BLAS threads each), one CSV row per run, then\n"
    "print the summary table.  Running the same command again resumes an interrupted\n"
    "sweep: finished rows are kept and not rerun; the final CSV equals an uninterrupted one.\n"
    "Under MPI (rnnplast-mpi from `make mpi`, run by mpirun) rank 0 hands the runs out\n"
    "to every rank; the rows are the same (docs/SCALING.md).\n"
    "Exit status: 0 all runs done, 1 a run failed or the sweep is incomplete, 2 bad usage.";

int cmd_sweep(int argc, char **argv)
{
    sweep sw;
    memset(&sw, 0, sizeof sw);
    sweep *s = &sw;
    run_cfg_default(&s->rc);
    run_opts ro;
    memset(&ro, 0, sizeof ro);
    char *gains_s = "0.5,1,1.5,2", *rules_s = "bptt,eprop,rflo", *floss_s = "off";
    s->nseeds = 3;
    s->threads = 1;
    s->mpi_timeout = 60.0;
    int use_mpi = 0;
#ifdef RNNPLAST_MPI
    use_mpi = 1; /* rnnplast-mpi: sweep always runs on the MPI ranks */
#endif
    opt opts[80];
    size_t n = 0;
    opts[n++] = (opt){"out", OPT_STRING, &s->out_path, "CSV to write (required; resumed if it exists)", 0};
    opts[n++] = (opt){"curves", OPT_STRING, &s->curves, "directory for the learning curve of every run", 0};
    opts[n++] = (opt){"gains", OPT_STRING, &gains_s, "comma-separated gains (default 0.5,1,1.5,2)", 0};
    opts[n++] = (opt){"rules", OPT_STRING, &rules_s, "comma-separated rules (default bptt,eprop,rflo)", 0};
    opts[n++] = (opt){"floss", OPT_STRING, &floss_s, "comma-separated flossing modes: off,on,local,exact (default off)", 0};
    opts[n++] = (opt){"seeds", OPT_SIZE, &s->nseeds, "seeds per configuration, 1..N (default 3)", 0};
    opts[n++] = (opt){"jobs", OPT_SIZE, &s->jobs_n, "parallel workers (default: online cores / --threads)", 0};
    opts[n++] = (opt){"threads", OPT_SIZE, &s->threads, "BLAS threads per worker or MPI rank (default 1)", 0};
    opts[n++] = (opt){"mpi", OPT_FLAG, &use_mpi, "run on MPI ranks (rnnplast-mpi under mpirun)", 0};
    opts[n++] = (opt){"oversubscribe", OPT_FLAG, &s->oversubscribe,
                      "MPI: allow ranks x threads above the cores of a node", 0};
    opts[n++] = (opt){"mpi-timeout", OPT_DOUBLE, &s->mpi_timeout,
                      "MPI: seconds a rank holding a run may stay silent before its run goes to another (default 60, 0: never)", 0};
    opts[n++] = (opt){"stop-after", OPT_SIZE, &s->stop_after, "stop after this many runs finish (tests resuming)", 0};
    opts[n++] = (opt){"quiet", OPT_FLAG, &s->quiet, "no progress output", 0};
    add_run_opts(opts, n, &s->rc, &ro, 1);
    int r = opt_parse("sweep", sweep_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    r = apply_run_opts("sweep", opts, &s->rc, &ro, 1);
    if (r)
        return r;
    if (!s->out_path)
        return usage_error("sweep", "--out is required");
    if (s->nseeds < 1 || s->nseeds > 10000)
        return usage_error("sweep", "--seeds: expected 1..10000, got %zu", s->nseeds);
    if (opt_find(opts, "jobs")->set && (s->jobs_n < 1 || s->jobs_n > 256))
        return usage_error("sweep", "--jobs: expected 1..256, got %zu", s->jobs_n);
    if (s->threads < 1 || s->threads > 256)
        return usage_error("sweep", "--threads: expected 1..256, got %zu", s->threads);
    if (!(s->mpi_timeout >= 0.0))
        return usage_error("sweep", "--mpi-timeout: expected seconds >= 0, got %g", s->mpi_timeout);
    if (!s->jobs_n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        s->jobs_n = c > (long)s->threads ? (size_t)c / s->threads : 1;
    }

    /* The grid. */
    char gbuf[1024], rbuf[256], fbuf[128], *gt[64], *rt[8], *ft[8];
    snprintf(gbuf, sizeof gbuf, "%s", gains_s);
    snprintf(rbuf, sizeof rbuf, "%s", rules_s);
    snprintf(fbuf, sizeof fbuf, "%s", floss_s);
    size_t ng = split(gbuf, gt, 64), nr = split(rbuf, rt, 8), nf = split(fbuf, ft, 8);
    double gains[64];
    rp_rule_kind rules[8];
    floss_kind fl[8];
    for (size_t i = 0; i < ng; i++) {
        char *end;
        gains[i] = strtod(gt[i], &end);
        if (end == gt[i] || *end || !(gains[i] >= 0.0) || !isfinite(gains[i]))
            return usage_error("sweep", "--gains: expected comma-separated numbers >= 0, got '%s'", gains_s);
    }
    for (size_t i = 0; i < nr; i++)
        if (parse_rule(rt[i], &rules[i]))
            return usage_error("sweep", "--rules: unknown rule '%s'", rt[i]);
    for (size_t i = 0; i < nf; i++)
        if (parse_floss(ft[i], &fl[i]))
            return usage_error("sweep", "--floss: expected off, on, local or exact, got '%s'", ft[i]);
    size_t nj = nr * ng * nf * s->nseeds;
    s->jobs = calloc(nj, sizeof *s->jobs);
    if (!s->jobs)
        return 1;
    s->nj = nj;
    size_t q = 0;
    for (size_t a = 0; a < nr; a++)
        for (size_t b = 0; b < ng; b++)
            for (size_t c = 0; c < nf; c++)
                for (size_t k = 0; k < s->nseeds; k++)
                    s->jobs[q++] = (job){rules[a], gains[b], fl[c], k + 1, NULL, 0, -1};
    config_line(&s->rc, s->cfgline, sizeof s->cfgline);

    if (use_mpi)
        return sweep_mpi(s);

    r = sweep_open(s);
    if (r) {
        sweep_free(s);
        return r;
    }
    if (!s->quiet)
        fprintf(stderr, "sweep: %zu runs (%zu already done), %zu workers\n", nj, s->kept, s->jobs_n);
    openblas_set_num_threads(1);
    int sig = run_forked(s);
    if (sig) {
        if (!s->quiet)
            progress_done(&s->prog);
        fprintf(stderr, "rnnplast sweep: interrupted; %s keeps the finished runs, run the same "
                        "command again to resume\n", s->out_path);
        sweep_free(s);
        return sig;
    }
    return sweep_close(s);
}
