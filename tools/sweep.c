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

#define MAX_GAINS 64

static void gain_str(double g, char *buf, size_t len) { snprintf(buf, len, "%g", g); }

static void job_key(const job *j, char *buf, size_t len)
{
    char gs[32];
    gain_str(j->gain, gs, sizeof gs);
    int o = snprintf(buf, len, "%s,%s,%s,%llu,", rule_name(j->rule), gs, floss_name(j->floss),
                     (unsigned long long)j->seed);
    if (j->fb && o >= 0 && (size_t)o < len) /* --feedbacks/--lrs: as the CSV writes them */
        snprintf(buf + o, len - (size_t)o, "%s,%g,", feedback_name(j->fb), j->lr);
}

/* The name of job j's group in the tables: its rule, and with
   --feedbacks/--lrs its feedback and learning rate (rule/feedback/lrLR). */
static const char *series_name(const job *j, char *buf, size_t len)
{
    if (!j->fb)
        return rule_name(j->rule);
    snprintf(buf, len, "%s/%s/lr%g", rule_name(j->rule), feedback_name(j->fb), j->lr);
    return buf;
}

/* Row of job j parsed (its columns: 23 with --feedbacks/--lrs, else 21). */
static int job_parse(const job *j, csv_row *w)
{
    char err[256];
    return !j->row || csv_parse_row_n(j->row, strlen(j->row), j->fb ? CSV_NCOLS_AXES : CSV_NCOLS, w,
                                      err, sizeof err);
}

static char *format_row(const job *j, const run_result *r)
{
    csv_row w = {j->rule,
                 j->gain,
                 j->floss,
                 j->seed,
                 r->ok > 0,
                 r->iters_done,
                 {r->train_loss, r->test_loss, r->test_acc, r->lam_before, r->lam_after,
                  r->response_rate, r->choice_acc, r->ftle_before, r->ftle_after, r->ftle_sd_before,
                  r->ftle_sd_after, r->delay_before, r->delay_after, r->dw_rel, r->path_rel},
                 j->fb,
                 j->lr,
                 0}; /* single: a row does not say it, its file's first line does */
    char buf[CSV_MAX_LINE + 1];
    return csv_format_row(&w, buf, sizeof buf) < 0 ? NULL : strdup(buf);
}

/* Everything but the grid: a resumed sweep must have been run with the same.
   Doubles in their shortest exact form (fmt_num): two settings that differ
   never give the same line (%g would write 0.1 and 0.10000001 alike). */
static void config_line(const run_cfg *rc, char *buf, size_t len)
{
    const rp_task_config *t = &rc->tcfg;
    char coh[8 * 32] = "", d[9][32];
    size_t o = 0;
    for (size_t i = 0; i < t->n_coherences && i < RP_TASK_MAX_COH; i++) {
        fmt_num(t->coherences[i], d[0], sizeof d[0]);
        o += (size_t)snprintf(coh + o, sizeof coh - o, "%s%s", i ? ";" : "", d[0]);
    }
    const double v[9] = {t->sigma, t->fix_weight,    rc->alpha,      rc->noise, rc->lr,
                         rc->clip, rc->floss_target, rc->floss_beta, 0};
    for (int i = 0; i < 8; i++)
        fmt_num(v[i], d[i], sizeof d[i]);
    snprintf(
        buf, len,
        "# rnnplast sweep: task=%s T=%zu delay=%zu t1=%zu t2=%zu periods=%zu/%zu/%zu/%zu "
        "sigma=%s fix_weight=%s coherences=%s alpha=%s N=%zu form=%d act=%d noise=%s optim=%d lr=%s clip=%s "
        "iters=%zu batch=%zu test_batch=%zu lyap_trials=%zu tbptt_k=%zu floss_phase=%s "
        "floss_k=%zu floss_target=%s floss_beta=%s floss_iters=%zu floss_every=%zu",
        rp_task_kind_name(rc->task), t->T, t->delay, t->t1, t->t2, t->fixation, t->stimulus,
        t->test, t->decision, d[0], d[1], coh, d[2], rc->N, (int)rc->form, (int)rc->act, d[3],
        (int)rc->optim, d[4], d[5], rc->iters, rc->batch, rc->test_batch, rc->lyap_trials,
        rc->tbptt_k, phase_name(rc->phase), rc->floss_k, d[6], d[7], rc->floss_iters,
        rc->floss_every);
    /* ModProp's settings, only when given (the lines of other sweeps as
       before): mu, and the types by their FNV-1a hash (N of them would not
       fit the line) */
    size_t at = strlen(buf);
    /* The flossing optimizer, only when not the old behaviour; phase
       inter's schedule changed (MODEL.md §7.3's E_i steps a cycle): an
       older inter sweep is not resumed under it. */
    if ((rc->floss_optim != FOPT_SHARED || !isnan(rc->floss_lr) || !isnan(rc->floss_clip) ||
         rc->floss_w_only) &&
        at < len) {
        char lr[32] = "task", cl[32] = "task";
        if (!isnan(rc->floss_lr))
            fmt_num(rc->floss_lr, lr, sizeof lr);
        if (!isnan(rc->floss_clip))
            fmt_num(rc->floss_clip, cl, sizeof cl);
        at += (size_t)snprintf(buf + at, len - at,
                               " floss_optim=%s floss_lr=%s floss_clip=%s floss_params=%s",
                               rc->floss_optim == FOPT_SHARED    ? "shared"
                               : rc->floss_optim == RP_OPTIM_SGD ? "sgd"
                                                                 : "adam",
                               lr, cl, rc->floss_w_only ? "W" : "all");
    }
    if (rc->phase == FP_INTER && at < len)
        at += (size_t)snprintf(buf + at, len - at, " inter=cycles");
    if (!isnan(rc->modprop_mu) && at < len) {
        fmt_num(rc->modprop_mu, d[8], sizeof d[8]);
        at += (size_t)snprintf(buf + at, len - at, " modprop_mu=%s", d[8]);
    }
    /* the Lyapunov measurements' settings, only when not the defaults (the
       lines of older sweeps as before) */
    if (rc->lyap_k != 1 && at < len)
        at += (size_t)snprintf(buf + at, len - at, " lyap_k=%zu", rc->lyap_k);
    if ((rc->ftle_trials != 16 || rc->ftle_k != 4) && at < len)
        at += (size_t)snprintf(buf + at, len - at, " ftle_trials=%zu ftle_k=%zu", rc->ftle_trials,
                               rc->ftle_k);
    /* single-precision nets (the lines of double sweeps as before): a double
       sweep is not resumed as a single one, and claims groups rows by it */
    if (rc->precision == RP_PRECISION_SINGLE && at < len)
        at += (size_t)snprintf(buf + at, len - at, " precision=single");
    if (rc->has_types && at < len) {
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < rc->N; i++) {
            h = (h ^ rc->cell_types[i]) * 1099511628211ULL;
        }
        snprintf(buf + at, len - at, " cell_types=%016llx", (unsigned long long)h);
    }
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

/* The rows of the group of nseeds jobs from jobs[i]: accumulates values
   val[q0 .. q0+nq) of each row into a[0 .. nq); *have rows parsed, *failed
   of them stopped early (every row held was written or validated by csv.c:
   it parses). */
static void group_stats(const job *jobs, size_t i, size_t nseeds, int q0, int nq, stat_acc *a,
                        size_t *have, size_t *failed)
{
    memset(a, 0, (size_t)nq * sizeof *a);
    *have = *failed = 0;
    for (size_t s = 0; s < nseeds; s++) {
        csv_row w;
        if (job_parse(&jobs[i + s], &w))
            continue;
        ++*have;
        *failed += !w.ok;
        for (int q = 0; q < nq; q++)
            acc_add(&a[q], w.val[q0 + q]);
    }
}

/* The rule column as wide as its longest name (6 unless modprop is there). */
static int rule_width(const job *jobs, size_t nj)
{
    int rw = 6;
    char b[96];
    for (size_t i = 0; i < nj; i++)
        if ((int)strlen(series_name(&jobs[i], b, sizeof b)) > rw)
            rw = (int)strlen(series_name(&jobs[i], b, sizeof b));
    return rw;
}

/* Whether some row holds a value (not NaN) in column q. */
static int any_value(const job *jobs, size_t nj, int q)
{
    for (size_t i = 0; i < nj; i++) {
        csv_row w;
        if (!job_parse(&jobs[i], &w) && !isnan(w.val[q]))
            return 1;
    }
    return 0;
}

/* A table row (no newline): the group's rule, gain, floss, n, then the nf
   values formatted "mean ± s.e.m.", 20 wide, the last unpadded. */
static void print_row(FILE *out, int rw, const job *j, size_t n, const stat_acc *v, int nf)
{
    char gs[32], f[48], sn[96];
    gain_str(j->gain, gs, sizeof gs);
    fprintf(out, "%-*s %6s %-6s %3zu ", rw, series_name(j, sn, sizeof sn), gs, floss_name(j->floss),
            n);
    for (int q = 0; q < nf; q++) {
        acc_fmt(&v[q], f, sizeof f);
        fprintf(out, q + 1 < nf ? " %-20s" : " %s", f);
    }
}

/* The second table: one choice per trial (rp_task_score_choices), for tasks with a
   decision period; nothing for a sweep whose rows have none (regression
   tasks, or only rows of an older CSV).  n counts the rows with a value. */
static void print_choices(job *jobs, size_t nj, size_t nseeds, int rw, FILE *out)
{
    if (!any_value(jobs, nj, CSV_CHOICE))
        return;
    fprintf(out,
            "\nOne choice per trial (argmax of the readout summed over the decision steps); "
            "choice accuracy over ALL trials,\nchance 0.5 (always fixating: 0; always the same "
            "side: about 0.5)\n");
    fprintf(out, "%-*s %6s %-6s %3s  %-19s %s\n", rw, "rule", "g", "floss", "n", "response rate",
            "choice accuracy");
    for (size_t i = 0; i + nseeds <= nj; i += nseeds) {
        stat_acc a[2];
        size_t have, failed;
        group_stats(jobs, i, nseeds, CSV_RESPONSE, 2, a, &have, &failed);
        print_row(out, rw, &jobs[i], a[1].n, a, 2);
        fprintf(out, "\n");
    }
    fprintf(out, "(mean ± s.e.m. over seeds)\n");
}

/* a scaled by c: the mean and s.e.m. of c v (units: per step -> per tau) */
static stat_acc acc_scaled(stat_acc a, double c)
{
    a.s *= c;
    a.ss *= c * c;
    return a;
}

/* The third table: the trial-based exponents (measure_ftle) in units that
   compare across alpha and delays, and how far W moved (csv.h); nothing for
   a sweep whose rows have none (only rows of an older CSV). */
static void print_ftle(job *jobs, size_t nj, size_t nseeds, const run_cfg *rc, FILE *out)
{
    if (!any_value(jobs, nj, CSV_FTLE_AFTER) && !any_value(jobs, nj, CSV_DW))
        return;
    const int rw = rule_width(jobs, nj);
    size_t d0, d1;
    task_delay_window(rc->task, &rc->tcfg, &d0, &d1);
    const double dtau = 1.0 - rc->alpha; /* dt/tau, MODEL.md §1 */
    char dh[32];
    snprintf(dh, sizeof dh, "delay x %zu after", d1 - d0);
    fprintf(
        out,
        "\nTrial-based Lyapunov exponents (lambda_1 of each of %zu task trials from its initial "
        "state, k %zu, averaged over trials)\nper tau = per step / (1 - alpha) = per step / "
        "%g; and how far W moved\n",
        rc->ftle_trials, rc->ftle_k < rc->N ? rc->ftle_k : rc->N, dtau);
    fprintf(out, "%-*s %6s %-6s %3s  %-19s %-19s %-19s %-19s %-19s %s\n", rw, "rule", "g", "floss",
            "n", "ftle/tau before", "ftle/step after", "ftle/tau after", dh, "|dW|/|W0|",
            "path/|W0|");
    for (size_t i = 0; i + nseeds <= nj; i += nseeds) {
        stat_acc a[8], v[6];
        size_t have, failed;
        group_stats(jobs, i, nseeds, CSV_FTLE_BEFORE, 8, a, &have, &failed);
        v[0] = acc_scaled(a[0], 1.0 / dtau);
        v[1] = a[1];
        v[2] = acc_scaled(a[1], 1.0 / dtau);
        v[3] = acc_scaled(a[CSV_DELAY_AFTER - CSV_FTLE_BEFORE], (double)(d1 - d0));
        v[4] = a[CSV_DW - CSV_FTLE_BEFORE];
        v[5] = a[CSV_PATH - CSV_FTLE_BEFORE];
        print_row(out, rw, &jobs[i], a[1].n, v, 6);
        fprintf(out, "\n");
    }
    fprintf(out,
            "(mean ± s.e.m. over seeds; delay x %zu: the local exponent over the delay period "
            "times its %zu steps,\nthe log growth of a perturbation across the delay; path: the "
            "sum of |dW|_F over every optimizer step)\n",
            d1 - d0, d1 - d0);
}

static void print_summary(job *jobs, size_t nj, size_t nseeds, FILE *out)
{
    const int rw = rule_width(jobs, nj);
    fprintf(out, "\n%-*s %6s %-6s %3s  %-19s %-19s %-19s %s\n", rw, "rule", "g", "floss", "n",
            "test loss", "test accuracy", "lambda_max before", "lambda_max after");
    /* Jobs are ordered rule, gain, floss, seed: a group is nseeds consecutive jobs. */
    for (size_t i = 0; i + nseeds <= nj; i += nseeds) {
        stat_acc a[4];
        size_t have, failed;
        group_stats(jobs, i, nseeds, CSV_TEST_LOSS, 4, a, &have, &failed);
        print_row(out, rw, &jobs[i], have, a, 4);
        if (failed)
            fprintf(out, "  (%zu stopped early)", failed);
        fprintf(out, "\n");
    }
    fprintf(out, "(mean ± s.e.m. over seeds; lambda_max per step, driven by the task's inputs)\n");
    print_choices(jobs, nj, nseeds, rw, out);
}

/* ---- one run, one row (both drivers) ----------------------------------- */

static void curve_path(const char *dir, const job *j, char *buf, size_t len)
{
    (void)csv_curve_path_axes(buf, len, dir, j->rule, j->gain, j->floss, j->seed, j->fb, j->lr);
}

void sweep_run(const sweep *s, const job *j, run_result *res)
{
    run_cfg rc = s->rc;
    rc.rule = j->rule;
    rc.gain = j->gain;
    rc.floss = j->floss;
    rc.seed = j->seed;
    if (j->fb) { /* --feedbacks / --lrs: the job's (its rule's own when not given) */
        rc.lr = j->lr;
        rc.feedback = j->fb == FB_NONE ? FB_DEFAULT : j->fb;
    }
    outfile cf;
    char path[4096];
    if (s->curves) {
        curve_path(s->curves, j, path, sizeof path);
        if (out_open(&cf, path) != 0) {
            memset(res, 0, sizeof *res);
            res->ok = -1;
            snprintf(res->msg, sizeof res->msg, "cannot write %.200s: %s", path, strerror(errno));
            return;
        }
        char *pv = prov_lines();
        if (!pv) {
            out_abort(&cf);
            memset(res, 0, sizeof *res);
            res->ok = -1;
            snprintf(res->msg, sizeof res->msg, "out of memory");
            return;
        }
        fputs(pv, cf.f);
        free(pv);
    }
    int fail = run_one(&rc, res, s->curves ? cf.f : NULL, NULL, NULL, NULL, NULL);
    if (s->curves) {
        if (fail) {
            out_abort(&cf);
        } else if (out_commit(&cf) != 0) {
            /* no row: the run is redone on resume, curve and all */
            snprintf(res->msg, sizeof res->msg, "cannot write %.200s: %s", path, strerror(errno));
            fail = 1;
        }
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
        psy_sweep_record(s, j, res);
        j->row = format_row(j, res);
        /* On disk as it arrives: a crash keeps the finished runs. */
        if (j->row && (fprintf(s->out, "%s\n", j->row) < 0 || fflush(s->out) != 0)) {
            fprintf(stderr, "%srnnplast sweep: cannot write run %s to the CSV: %s\n", nl, key,
                    strerror(errno));
            s->errors++;
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
                if (s->lock_fd >= 0)
                    close(s->lock_fd); /* the parent keeps the lock */
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
            fprintf(stderr, "%srnnplast sweep: run %s worker died (status %d)\n",
                    s->prog.tty ? "\n" : "", key, status);
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

/* Provenance text of the CSV (lines ending in '\n'). */
typedef struct text_buf {
    char *p;
    size_t len;
    int oom;
} text_buf;

static void tb_add_text(text_buf *t, const char *s)
{
    size_t n = strlen(s);
    char *q = t->oom ? NULL : realloc(t->p, t->len + n + 1);
    if (!q) {
        t->oom = 1;
        return;
    }
    memcpy(q + t->len, s, n + 1);
    t->p = q;
    t->len += n;
}

static void tb_add_line(text_buf *t, const char *line)
{
    tb_add_text(t, line);
    tb_add_text(t, "\n");
}

/* The distinct valid "# built:" lines of the provenance text. */
static size_t count_builds(const char *pv)
{
    size_t n = 0;
    for (const char *p = pv; p && *p; p = strchr(p, '\n') + 1) {
        char c[64], line[PROV_MAX_LINE + 1];
        size_t l = strcspn(p, "\n");
        if (l > PROV_MAX_LINE)
            continue;
        memcpy(line, p, l);
        line[l] = 0;
        if (prov_line_commit(line, c, sizeof c))
            continue;
        int seen = 0;
        for (const char *q = pv; q < p && !seen; q = strchr(q, '\n') + 1)
            seen = strncmp(q, line, l) == 0 && q[l] == '\n';
        n += !seen;
    }
    return n;
}

/* The note under the summary of a sweep resumed across builds. */
static void print_builds(const char *pv, FILE *out)
{
    fprintf(out, "note: the rows of this CSV were computed by %zu builds (its '# built:' lines):",
            count_builds(pv));
    for (const char *p = pv; p && *p; p = strchr(p, '\n') + 1) {
        char c[64], line[PROV_MAX_LINE + 1];
        size_t l = strcspn(p, "\n");
        if (l > PROV_MAX_LINE)
            continue;
        memcpy(line, p, l);
        line[l] = 0;
        if (!prov_line_commit(line, c, sizeof c))
            fprintf(out, " %s", c);
    }
    fprintf(out, "\n");
}

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
    free(s->prov);
    s->prov = NULL;
    psy_sweep_free(s);
    if (s->lock_fd >= 0)
        out_unlock(s->lock_fd, s->lock_path);
    s->lock_fd = -1;
}

int sweep_open(sweep *s)
{
    job *jobs = s->jobs;
    size_t nj = s->nj;
    const char *out_path = s->out_path;
    int r = out_check("sweep", "--out", out_path, s->out_real, sizeof s->out_real);
    if (r)
        return r;
    char cdir[4096];
    struct stat st;
    if (s->curves) {
        if (out_resolve(s->curves, cdir, sizeof cdir) != 0)
            return usage_error("sweep", "--curves: cannot create '%s': %s", s->curves,
                               strerror(errno));
        if (stat(cdir, &st) == 0 && !S_ISDIR(st.st_mode))
            return usage_error("sweep", "--curves: '%s' exists and is not a directory", s->curves);
        if (out_same(cdir, s->out_real))
            return usage_error("sweep", "--out '%s' and --curves '%s' name the same file", out_path,
                               s->curves);
    }
    /* One sweep at a time per CSV: a second would redo every run. */
    r = out_lock(s->out_real, s->lock_path, sizeof s->lock_path, &s->lock_fd);
    if (r > 0) {
        fprintf(stderr,
                "rnnplast sweep: another rnnplast sweep is writing %s (it holds the lock %s); "
                "wait for it to end, or choose another --out\n",
                out_path, s->lock_path);
        return 1;
    }
    if (r < 0) {
        fprintf(stderr, "rnnplast sweep: cannot lock %s: %s\n", s->lock_path, strerror(errno));
        return 1;
    }
    if (s->curves) {
        if (mkdir(cdir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "rnnplast sweep: cannot create %s: %s\n", s->curves, strerror(errno));
            return 1;
        }
        /* Every run's curve file: nothing there but a regular file (or a
           link to one, written through), and none of them the CSV or its lock. */
        for (size_t i = 0; i < nj; i++) {
            char path[4096];
            curve_path(cdir, &jobs[i], path, sizeof path);
            if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
                return usage_error("sweep", "--curves: '%s' is not a regular file", path);
            if (strcmp(path, s->lock_path) == 0 || out_same(path, s->out_real))
                return usage_error("sweep", "--out '%s' is the learning curve %s", out_path, path);
        }
    }

    /* Resume: keep the rows of finished runs.  A row is kept only if every
       field is valid (csv.h) and it is a finished run of this sweep's grid;
       any other line is dropped with a note naming it, and its run redone. */
    s->kept = 0;
    text_buf oldprov = {0};
    FILE *f = fopen(out_path, "r");
    if (f) {
        csv_reader rd = {.f = f};
        size_t len;
        int complete, k, ncols = CSV_NCOLS;
        while ((k = csv_next_line(&rd, &len, &complete)) != CSV_EOF) {
            const char *line = rd.buf;
            if (rd.lineno == 1) {
                if (k != CSV_LINE || strlen(line) != len || strcmp(line, s->cfgline) != 0) {
                    fclose(f);
                    return usage_error("sweep",
                                       "%s exists and was written by another configuration "
                                       "(remove it or choose another --out)",
                                       out_path);
                }
                continue;
            }
            if (k == CSV_LINE && !complete)
                continue; /* a line cut by an interruption is dropped */
            if (k == CSV_LINE && line[0] == '#') {
                /* the provenance of the rows kept: printable ASCII only (ours always is) */
                int clean = strlen(line) == len && prov_is_line(line);
                for (size_t b = 0; clean && b < len; b++)
                    clean = line[b] >= 0x20 && line[b] < 0x7f;
                if (clean)
                    tb_add_line(&oldprov, line);
                continue;
            }
            if (k == CSV_LINE && csv_header_cols(line, len)) {
                ncols = csv_header_cols(line, len); /* an older CSV: 11 columns, nan after */
                continue;
            }
            csv_row w;
            char err[400];
            err[0] = 0;
            if (k == CSV_LONG)
                snprintf(err, sizeof err, "column 1: longer than %d bytes", CSV_MAX_LINE);
            else if (!csv_parse_row_n(line, len, ncols, &w, err, sizeof err) &&
                     (w.iters > s->rc.iters || (w.ok && w.iters != s->rc.iters)))
                snprintf(err, sizeof err, "column 6 (iters): expected %s%zu, got %llu",
                         w.ok ? "" : "at most ", s->rc.iters, (unsigned long long)w.iters);
            if (err[0]) {
                fprintf(stderr,
                        "rnnplast sweep: %s: line %zu: %s; line dropped, its run is redone\n",
                        out_path, rd.lineno, err);
                continue;
            }
            char key[128], wkey[128];
            job wj = {w.rule, w.gain, w.floss, w.seed, NULL, 0, -1, w.fb, w.lr};
            job_key(&wj, wkey, sizeof wkey);
            size_t i = 0;
            while (i < nj && (job_key(&jobs[i], key, sizeof key), strcmp(wkey, key) != 0))
                i++;
            if (i == nj || jobs[i].row) {
                fprintf(stderr, "rnnplast sweep: %s: line %zu: %s; line dropped\n", out_path,
                        rd.lineno,
                        i == nj ? "not a run of this grid (--gains, --rules, --floss, --seeds, "
                                  "--feedbacks, --lrs)"
                                : "a second row for the same run");
                continue;
            }
            /* rewritten from the values read: the CSV stays canonical */
            run_result res = {.test_loss = w.val[CSV_TEST_LOSS],
                              .test_acc = w.val[CSV_TEST_ACC],
                              .lam_before = w.val[CSV_LAM_BEFORE],
                              .lam_after = w.val[CSV_LAM_AFTER],
                              .train_loss = w.val[CSV_TRAIN_LOSS],
                              .response_rate = w.val[CSV_RESPONSE],
                              .choice_acc = w.val[CSV_CHOICE],
                              .ftle_before = w.val[CSV_FTLE_BEFORE],
                              .ftle_after = w.val[CSV_FTLE_AFTER],
                              .ftle_sd_before = w.val[CSV_FTLE_SD_BEFORE],
                              .ftle_sd_after = w.val[CSV_FTLE_SD_AFTER],
                              .delay_before = w.val[CSV_DELAY_BEFORE],
                              .delay_after = w.val[CSV_DELAY_AFTER],
                              .dw_rel = w.val[CSV_DW],
                              .path_rel = w.val[CSV_PATH],
                              .iters_done = (size_t)w.iters,
                              .ok = w.ok};
            jobs[i].row = format_row(&jobs[i], &res);
            s->kept += jobs[i].row != NULL;
        }
        fclose(f);
    }
    if ((r = psy_sweep_open(s))) {
        free(oldprov.p);
        return r;
    }
    /* The provenance: that of the file resumed, when any of its rows is
       kept, then this run's own lines unless they are there already. */
    char *mine = prov_lines();
    text_buf pv = {0};
    if (s->kept && oldprov.p)
        tb_add_text(&pv, oldprov.p);
    free(oldprov.p);
    if (mine) {
        /* this build and command as one block: added unless the file has it */
        if (!pv.p || !strstr(pv.p, mine))
            tb_add_text(&pv, mine);
        free(mine);
    }
    if (!mine || pv.oom) {
        free(pv.p);
        fprintf(stderr, "rnnplast sweep: out of memory\n");
        return 1;
    }
    free(s->prov);
    s->prov = pv.p;
    s->nbuilds = count_builds(s->prov);
    /* Start the file afresh with the kept rows; new rows are appended as they
       finish, to the same open file once it is in place. */
    outfile o;
    if (out_open(&o, s->out_real) != 0) {
        fprintf(stderr, "rnnplast sweep: cannot write %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    fprintf(o.f, "%s\n%s%s\n", s->cfgline, s->prov, s->axes ? CSV_COLUMNS_AXES : CSV_COLUMNS);
    for (size_t i = 0; i < nj; i++)
        if (jobs[i].row)
            fprintf(o.f, "%s\n", jobs[i].row);
    if (out_rename(&o) != 0) {
        fprintf(stderr, "rnnplast sweep: cannot write %s: %s\n", out_path, strerror(errno));
        fclose(o.f);
        return 1;
    }
    s->out = o.f;
    if (psy_sweep_start(s))
        return 1;
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
        outfile o;
        int bad = out_open(&o, s->out_real) != 0;
        if (!bad) {
            fprintf(o.f, "%s\n%s%s\n", s->cfgline, s->prov,
                    s->axes ? CSV_COLUMNS_AXES : CSV_COLUMNS);
            for (size_t i = 0; i < nj; i++)
                fprintf(o.f, "%s\n", jobs[i].row);
            bad = out_commit(&o) != 0;
        }
        if (bad) {
            fprintf(stderr, "rnnplast sweep: cannot write %s in canonical order: %s\n", s->out_path,
                    strerror(errno));
            s->errors++;
        }
    }
    psy_sweep_close(s, complete);
    print_summary(jobs, nj, s->nseeds, stdout);
    print_ftle(jobs, nj, s->nseeds, &s->rc, stdout);
    print_periods_tau(stdout, &s->rc);
    if (s->nbuilds > 1)
        print_builds(s->prov, stdout);
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
    "Output files (--out, the learning curves) are written through a temporary renamed\n"
    "into place; a symlink is written through to its target; a path that is a\n"
    "directory, FIFO, socket or device is refused (exit 2), as are two outputs naming\n"
    "one file.  While a sweep writes --out it holds FILE.lock: a second sweep on the\n"
    "same --out exits 1 at once.\n"
    "--psychometric FILE: after each run, its psychometric rows (rnnplast psycho --help)\n"
    "into FILE, resumed with the CSV (a kept run without its rows is run again).\n"
    "Periods in tau (--delay-tau ...) and noise as continuous-time intensities\n"
    "(--sigma-ct, --noise-ct) are converted with dt/tau = 1 - alpha (MODEL.md section 8); the\n"
    "CSV holds the steps and per-step values, the summary the periods in both.\n"
    "Exit status: 0 all runs done, 1 a run failed, the sweep is incomplete or another\n"
    "sweep holds --out, 2 bad usage.";

int cmd_sweep(int argc, char **argv)
{
    sweep sw;
    memset(&sw, 0, sizeof sw);
    sweep *s = &sw;
    s->lock_fd = -1;
    run_cfg_default(&s->rc);
    run_opts ro;
    memset(&ro, 0, sizeof ro);
    char *gains_s = "0.5,1,1.5,2", *rules_s = "bptt,eprop,rflo", *floss_s = "off";
    char *fbs_s = NULL, *lrs_s = NULL;
    s->nseeds = 3;
    s->threads = 1;
    s->mpi_timeout = 60.0;
    int use_mpi = 0;
#ifdef RNNPLAST_MPI
    use_mpi = 1; /* rnnplast-mpi: sweep always runs on the MPI ranks */
#endif
    opt opts[128];
    psy_opts po;
    memset(&po, 0, sizeof po);
    size_t n = 0;
    opts[n++] = O_STR("out", &s->out_path,
                      "CSV to write (required; resumed if it exists; locked while written)");
    opts[n++] = O_STR("curves", &s->curves, "directory for the learning curve of every run");
    opts[n++] = O_STR("gains", &gains_s,
                      "comma-separated distinct gains >= 0, at most 64 (default 0.5,1,1.5,2)");
    opts[n++] =
        O_STR("rules", &rules_s, "comma-separated distinct rules (default bptt,eprop,rflo)");
    opts[n++] = O_STR("floss", &floss_s,
                      "comma-separated distinct flossing modes: off,on,local,exact and the "
                      "controls rescale,extra (see train --help) (default off)");
    opts[n++] = O_STR("feedbacks", &fbs_s,
                      "comma-separated feedbacks of eprop/rflo/modprop runs: symmetric,random "
                      "(crossed controls; other rules run once, feedback none); adds the CSV "
                      "columns feedback and lr (default: each rule's own, no new columns)");
    opts[n++] = O_STR("lrs", &lrs_s,
                      "comma-separated distinct learning rates > 0, at most 16, every rule "
                      "run at each; adds the CSV columns feedback and lr (default: --lr, or "
                      "each rule's default, no new columns)");
    opts[n++] =
        O_SIZE("seeds", &s->nseeds, 1, 10000, "seeds per configuration: 1..seeds (default 3)");
    opts[n++] =
        O_SIZE("jobs", &s->jobs_n, 1, 256, "parallel workers (default: online cores / --threads)");
    opts[n++] =
        O_SIZE("threads", &s->threads, 1, 256, "BLAS threads per worker or MPI rank (default 1)");
    opts[n++] = O_FLAG("mpi", &use_mpi, "run on MPI ranks (rnnplast-mpi under mpirun)");
    opts[n++] = O_FLAG("oversubscribe", &s->oversubscribe,
                       "MPI: allow ranks x threads above the cores of a node");
    opts[n++] = O_NUM(
        "mpi-timeout", &s->mpi_timeout, 0, 0, 1e9, 0,
        "MPI: seconds a rank holding a run may stay silent before its run goes to another (default 60, 0: never)");
    opts[n++] = O_SIZE("stop-after", &s->stop_after, 1, MAX_COUNT,
                       "stop after this many runs finish (tests resuming)");
    opts[n++] = O_FLAG("quiet", &s->quiet, "no progress output");
    n = add_psy_opts(opts, n, &po, 1);
    n = add_run_opts(opts, n, &s->rc, &ro, 1);
    add_units_opts(opts, n, &ro.units);
    int r = opt_parse("sweep", sweep_usage, opts, argc, argv, 2);
    if (r)
        return r < 0 ? 0 : r;
    r = apply_units_opts("sweep", opts, &s->rc, &ro);
    if (!r)
        r = apply_run_opts("sweep", opts, &s->rc, &ro, 1);
    if (!r)
        r = apply_psy_opts("sweep", opts, &po, &s->rc);
    if (r)
        return r;
    if (!s->out_path)
        return usage_error("sweep", "--out is required");
    if (!s->jobs_n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        s->jobs_n = c > (long)s->threads ? (size_t)c / s->threads : 1;
    }

    /* The grid: lists of distinct values (a value twice would give two rows
       with one key and share one curve file). */
    char gbuf[2048], rbuf[256], fbuf[256], *gt[MAX_GAINS + 1], *rt[7], *ft[FL_COUNT + 1];
    size_t ng = split_list(gains_s, gbuf, sizeof gbuf, gt, MAX_GAINS);
    size_t nr = split_list(rules_s, rbuf, sizeof rbuf, rt, 6);
    size_t nf = split_list(floss_s, fbuf, sizeof fbuf, ft, FL_COUNT);
    if (ng > MAX_GAINS)
        return usage_error("sweep", "--gains: expected 1..%d comma-separated gains, got '%.60s%s'",
                           MAX_GAINS, gains_s, strlen(gains_s) > 60 ? "..." : "");
    double gains[MAX_GAINS];
    rp_rule_kind rules[6];
    floss_kind fl[FL_COUNT];
    for (size_t i = 0; i < ng; i++) {
        if (parse_num(gt[i], &gains[i]) || !(gains[i] >= 0.0))
            return usage_error("sweep", "--gains: expected comma-separated numbers >= 0, got '%s'",
                               gt[i]);
        char a[32], b[32];
        gain_str(gains[i], b, sizeof b);
        for (size_t k = 0; k < i; k++) {
            gain_str(gains[k], a, sizeof a);
            if (strcmp(a, b) == 0) /* the CSV key and curve file name write the gain with %g */
                return usage_error("sweep", "--gains: %s and %s are the same gain in the CSV (%s)",
                                   gt[k], gt[i], a);
        }
    }
    for (size_t i = 0; i < nr && nr <= 6; i++) {
        if (parse_rule(rt[i], &rules[i]))
            return usage_error("sweep", "--rules: unknown rule '%s'", rt[i]);
        for (size_t k = 0; k < i; k++)
            if (rules[k] == rules[i])
                return usage_error("sweep", "--rules: %s given twice", rt[i]);
    }
    if (nr > 6)
        return usage_error("sweep", "--rules: expected up to 6 distinct rules, got '%.60s'",
                           rules_s);
    for (size_t i = 0; i < nf && nf <= FL_COUNT; i++) {
        if (parse_floss(ft[i], &fl[i]))
            return usage_error(
                "sweep", "--floss: expected off, on, local, exact, rescale or extra, got '%s'",
                ft[i]);
        for (size_t k = 0; k < i; k++)
            if (fl[k] == fl[i])
                return usage_error("sweep", "--floss: %s given twice", ft[i]);
        if ((fl[i] == FL_RESCALE || fl[i] == FL_EXTRA) && s->rc.phase != FP_PRE)
            return usage_error("sweep",
                               "--floss %s is a control for pre-flossing: it needs "
                               "--floss-phase pre, got %s",
                               ft[i], phase_name(s->rc.phase));
    }
    if (nf > FL_COUNT)
        return usage_error("sweep", "--floss: expected up to %d distinct modes, got '%.60s'",
                           FL_COUNT, floss_s);
    int has_modprop = 0;
    for (size_t i = 0; i < nr; i++)
        has_modprop |= rules[i] == RP_RULE_MODPROP;
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nf; j++)
            if (precision_refuses("sweep", s->rc.precision, rules[i], fl[j]))
                return EXIT_USAGE;
    if (!has_modprop && (ro.cell_types || opt_find(opts, "modprop-mu")->set))
        return usage_error("sweep", "--%s is for the modprop runs, --rules has none",
                           ro.cell_types ? "cell-types" : "modprop-mu");
    /* --feedbacks, --lrs (sweep_axes.c): the jobs get their own columns */
    axes_list ax;
    r = sweep_axes_parse(fbs_s, lrs_s, opt_find(opts, "lr")->set, &ax);
    if (r)
        return r;
    s->axes = ax.on;
    size_t nj = 0;
    for (size_t a = 0; a < nr; a++)
        nj += ng * nf * s->nseeds * sweep_axes_count(&ax, rules[a]);
    s->jobs = calloc(nj, sizeof *s->jobs);
    if (!s->jobs)
        return 1;
    s->nj = nj;
    size_t q = 0;
    for (size_t a = 0; a < nr; a++)
        for (size_t b = 0; b < ng; b++)
            for (size_t c = 0; c < nf; c++)
                for (size_t v = 0; v < sweep_axes_count(&ax, rules[a]); v++)
                    for (size_t k = 0; k < s->nseeds; k++) {
                        s->jobs[q] = (job){rules[a], gains[b], fl[c], k + 1, NULL, 0, -1, 0, 0};
                        sweep_axes_job(&ax, &s->rc, v, &s->jobs[q++]);
                    }
    config_line(&s->rc, s->cfgline, sizeof s->cfgline);
    if (s->axes) /* a sweep with these columns resumes only one with them */
        snprintf(s->cfgline + strlen(s->cfgline), sizeof s->cfgline - strlen(s->cfgline),
                 " axes=feedback,lr");
    if ((r = psy_sweep_init(s, &po))) {
        sweep_free(s);
        return r;
    }

    if (use_mpi)
        return sweep_mpi(s);

    r = sweep_open(s);
    if (r) {
        sweep_free(s);
        return r;
    }
    if (!s->quiet)
        fprintf(stderr, "sweep: %zu runs (%zu already done), %zu workers\n", nj, s->kept,
                s->jobs_n);
    openblas_set_num_threads(1);
    int sig = run_forked(s);
    if (sig) {
        if (!s->quiet)
            progress_done(&s->prog);
        fprintf(stderr,
                "rnnplast sweep: interrupted; %s keeps the finished runs, run the same "
                "command again to resume\n",
                s->out_path);
        sweep_free(s);
        return sig;
    }
    return sweep_close(s);
}
