/* Psychometric curves: a trained network scored on fresh test trials at
   each coherence of a list (2af, cxt), one choice per trial by the
   library's rp_task_score_choices, written as rows of their own CSV
   (train --psychometric, sweep --psychometric, and `rnnplast psycho` for a
   saved model).  Public API only.

   The file: comment lines (the first "# rnnplast psychometric: ..." with
   the settings, for a sweep followed by its configuration; then the
   provenance lines), the header PSY_COLUMNS, then one row per run and
   coherence, in the order of the coherence list:
     task, rule, gain, floss, seed   the run, as the sweep CSV names it
     coherence      the coherence of every trial of the row
     n              trials scored (those with decision steps)
     response_rate, choice_acc   rp_task_score_choices over the n trials
     n_answer1, p_choose2_answer1   trials whose answer is side 1 (class
                    1) and the fraction of them whose choice is side 2
     n_answer2, p_choose2_answer2   the same for answer side 2
   A conventional psychometric curve P(choose 2) against the signed
   coherence is (-c, p_choose2_answer1) and (+c, p_choose2_answer2); at
   c = 0 the "answer" is the task's coin flip, so choice_acc's chance is
   0.5 and both p_choose2 estimate the same bias.  nan: not measured (the
   run stopped early, or the net's output was not finite). */
#include "csv.h"
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PSY_COLUMNS                                                             \
    "task,rule,gain,floss,seed,coherence,n,response_rate,choice_acc,n_answer1," \
    "p_choose2_answer1,n_answer2,p_choose2_answer2"
#define PSY_DEFAULT_COH "0,0.032,0.064,0.128,0.256,0.512"

/* ---- options ------------------------------------------------------------ */

size_t add_psy_opts(opt *opts, size_t n, psy_opts *po, int with_path)
{
    if (with_path)
        opts[n++] = O_STR("psychometric", &po->path,
                          "after training, write the psychometric rows (per coherence: response "
                          "rate, choice accuracy, P(choose side 2) by answer) to this CSV "
                          "(2af, cxt; rnnplast psycho --help)");
    opts[n++] = O_STR("psy-coherences", &po->coh,
                      "comma-separated distinct coherences in [0, 1] of the psychometric curve, "
                      "at most 32 (default " PSY_DEFAULT_COH ")");
    opts[n++] = O_SIZE("psy-trials", &po->trials, 1, MAX_BATCH,
                       "test trials per coherence of the psychometric curve (default 200)");
    opts[n] = O_END;
    return n;
}

int apply_psy_opts(const char *cmd, opt *opts, psy_opts *po, run_cfg *rc)
{
    const int with_path = opt_find(opts, "psychometric") != NULL;
    if (with_path && !po->path) {
        if (po->coh || opt_find(opts, "psy-trials")->set)
            return usage_error(cmd, "--psy-coherences and --psy-trials need --psychometric");
        return 0;
    }
    if (rc->task != RP_TASK_2AF && rc->task != RP_TASK_CXT)
        return usage_error(cmd, "psychometric curves are for --task 2af or cxt, the task is %s",
                           rp_task_kind_name(rc->task));
    psy_cfg *pc = &rc->psy;
    pc->trials = opt_find(opts, "psy-trials")->set ? po->trials : PSY_DEFAULT_TRIALS;
    const char *list = po->coh ? po->coh : PSY_DEFAULT_COH;
    char buf[1024], *tok[PSY_MAX + 1];
    size_t k = split_list(list, buf, sizeof buf, tok, PSY_MAX);
    if (k == 0 || k > PSY_MAX)
        return usage_error(cmd,
                           "--psy-coherences: expected 1..%d comma-separated numbers in [0, 1], "
                           "got '%.60s%s'",
                           PSY_MAX, list, strlen(list) > 60 ? "..." : "");
    for (size_t i = 0; i < k; i++) {
        double c;
        if (parse_num(tok[i], &c) || !(c >= 0.0 && c <= 1.0))
            return usage_error(cmd, "--psy-coherences: expected numbers in [0, 1], got '%.60s'",
                               tok[i]);
        for (size_t j = 0; j < i; j++)
            if (pc->coh[j] == c)
                return usage_error(cmd, "--psy-coherences: %s and %s are the same coherence",
                                   tok[j], tok[i]);
        pc->coh[i] = c;
    }
    pc->n = k;
    if (with_path)
        return out_check(cmd, "--psychometric", po->path, po->real, sizeof po->real);
    return 0;
}

/* ---- the measurement ------------------------------------------------------ */

static void stat_nan(psy_stat *s, double coh)
{
    s->coh = coh;
    s->resp = s->acc = s->p2_a1 = s->p2_a2 = NAN;
    s->n = s->n1 = s->n2 = 0;
}

/* One coherence: the batch (x, y, tg, m of B trials) scored as a whole by
   rp_task_score_choices and trial by trial (B = 1 slices of the same
   arrays) for the choice of each: no response, the answer, or the other
   side (two choice classes: 2af, cxt). */
static rp_status score(const rp_task *task, size_t T, size_t B, size_t no, const double *y,
                       const double *tg, const double *m, double *y1, double *tg1, double *m1,
                       psy_stat *s)
{
    rp_status st = rp_task_score_choices(task, B, y, tg, m, &s->resp, &s->acc);
    if (st != RP_OK)
        return st;
    size_t c2[3] = {0, 0, 0}, na[3] = {0, 0, 0};
    for (size_t b = 0; b < B; b++) {
        size_t answer = 0;
        for (size_t t = 0; t < T; t++) {
            memcpy(y1 + t * no, y + (t * B + b) * no, no * sizeof(double));
            tg1[t] = tg[t * B + b];
            m1[t] = m[t * B + b];
            if (!answer && m1[t] > 0.0 && tg1[t] != 0.0)
                answer = (size_t)tg1[t];
        }
        double r, a;
        if ((st = rp_task_score_choices(task, 1, y1, tg1, m1, &r, &a)) != RP_OK)
            return st;
        if (isnan(r) || answer < 1 || answer > 2)
            continue; /* no decision step: not a trial of the batch's rates either */
        size_t choice = r == 0.0 ? 0 : a == 1.0 ? answer : 3 - answer;
        na[answer]++;
        c2[answer] += choice == 2;
    }
    s->n = na[1] + na[2];
    s->n1 = na[1];
    s->n2 = na[2];
    s->p2_a1 = na[1] ? (double)c2[1] / (double)na[1] : NAN;
    s->p2_a2 = na[2] ? (double)c2[2] / (double)na[2] : NAN;
    return RP_OK;
}

int psy_eval(const rp_net *src, rp_task_kind kind, const rp_task_config *tcfg, const psy_cfg *pc,
             psy_stat *out, char *msg, size_t msglen)
{
    for (size_t i = 0; i < pc->n; i++)
        stat_nan(&out[i], pc->coh[i]);
    const size_t B = pc->trials;
    rp_net_config nc;
    rp_net *net = NULL;
    rp_task *task = NULL;
    double *x = NULL, *y = NULL, *tg = NULL, *m = NULL, *y1 = NULL, *tg1 = NULL, *m1 = NULL,
           *p = NULL;
    int rc = 1;
    rp_net_config_init(&nc, sizeof nc);
    if (rp_net_get_config(src, &nc, sizeof nc) != RP_OK) {
        snprintf(msg, msglen, "rp_net_get_config: %s", rp_net_last_error(src));
        return 1;
    }
    nc.batch = B;
    nc.noise_std = 0.0; /* as the test set's network (run.c evaluate) */
    char cm[256];
    if (rp_net_config_check(&nc, cm, sizeof cm) != RP_OK) {
        snprintf(msg, msglen, "network of %zu psychometric trials: %.200s", B, cm);
        return 1;
    }
    if (rp_net_create(&net, &nc, cm, sizeof cm) != RP_OK) {
        snprintf(msg, msglen, "rp_net_create: %.200s", cm);
        return 1;
    }
    size_t maxlen = 0, len;
    for (int q = 0; q < RP_PARAM_COUNT; q++)
        if (rp_net_get_param_len(src, (rp_param)q, &len) == RP_OK && len > maxlen)
            maxlen = len;
    p = malloc((maxlen + 1) * sizeof *p);
    for (int q = 0; p && q < RP_PARAM_COUNT; q++)
        if (rp_net_get_param_len(src, (rp_param)q, &len) != RP_OK ||
            (len && (rp_net_get_param(src, (rp_param)q, p, len) != RP_OK ||
                     rp_net_set_param(net, (rp_param)q, p, len) != RP_OK))) {
            snprintf(msg, msglen, "copying the parameters: %s", rp_net_last_error(net));
            goto done;
        }
    if (!p) {
        snprintf(msg, msglen, "out of memory");
        goto done;
    }
    rp_task_config tc = *tcfg;
    tc.n_coherences = 1;
    for (size_t i = 0; i < pc->n; i++) {
        tc.coherences[0] = pc->coh[i];
        rp_task_free(task);
        task = NULL;
        size_t n_in, n_out, T, tb;
        rp_loss loss;
        if (rp_task_create(&task, kind, &tc, cm, sizeof cm) != RP_OK) {
            snprintf(msg, msglen, "task at coherence %g: %.200s", pc->coh[i], cm);
            goto done;
        }
        if (rp_task_get_dims(task, &n_in, &n_out, &T, &loss) != RP_OK || n_in != nc.n_in ||
            n_out != nc.n_out || loss != RP_LOSS_CE || n_out != 3) {
            snprintf(msg, msglen,
                     "the network has %zu inputs and %zu outputs, task %s %zu inputs and %zu "
                     "classes",
                     nc.n_in, nc.n_out, rp_task_kind_name(kind), n_in, n_out);
            goto done;
        }
        if (!x) {
            if (mul_size(T, B, &tb) || mul_size(tb, n_in, &len) || mul_size(tb, n_out, &len)) {
                snprintf(msg, msglen, "%zu trials of %zu steps overflow size_t", B, T);
                goto done;
            }
            x = calloc(tb * n_in + 1, sizeof *x);
            y = calloc(tb * n_out, sizeof *y);
            tg = calloc(tb, sizeof *tg);
            m = calloc(tb, sizeof *m);
            y1 = calloc(T * n_out, sizeof *y1);
            tg1 = calloc(T, sizeof *tg1);
            m1 = calloc(T, sizeof *m1);
            if (!x || !y || !tg || !m || !y1 || !tg1 || !m1) {
                snprintf(msg, msglen, "out of memory (%zu trials of %zu steps)", B, T);
                goto done;
            }
        }
        if (rp_task_sample(task, B, SEED_PSY, x, tg, m) != RP_OK || rp_net_reset(net) != RP_OK ||
            rp_net_run(net, T, x, y) != RP_OK ||
            score(task, T, B, n_out, y, tg, m, y1, tg1, m1, &out[i]) != RP_OK)
            stat_nan(&out[i], pc->coh[i]); /* e.g. an output that is not finite */
    }
    rc = 0;
done:
    rp_task_free(task);
    rp_net_free(net);
    free(p);
    free(x);
    free(y);
    free(tg);
    free(m);
    free(y1);
    free(tg1);
    free(m1);
    return rc;
}

void psy_run(const rp_net *net, const run_cfg *rc, run_result *res)
{
    char m[256];
    res->psy_n = rc->psy.n;
    (void)psy_eval(net, rc->task, &rc->tcfg, &rc->psy, res->psy, m, sizeof m);
}

/* ---- the rows ------------------------------------------------------------- */

static void num(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "nan");
    else
        fmt_num(v, buf, len);
}

/* The run's key: task,rule,gain,floss,seed (the gain as the sweep CSV's %g). */
static void psy_key(char *buf, size_t len, rp_task_kind task, rp_rule_kind rule, double gain,
                    floss_kind floss, uint64_t seed)
{
    snprintf(buf, len, "%s,%s,%g,%s,%llu", rp_task_kind_name(task), rule_name(rule), gain,
             floss_name(floss), (unsigned long long)seed);
}

/* The rows of one run (key) into f: res's stats, or nan rows when the run
   measured none. */
static void put_rows(FILE *f, const char *key, const psy_cfg *pc, const run_result *res)
{
    for (size_t i = 0; i < pc->n; i++) {
        psy_stat s;
        if (res && res->psy_n == pc->n)
            s = res->psy[i];
        else
            stat_nan(&s, pc->coh[i]);
        char c[32], r[32], a[32], p1[32], p2[32];
        num(c, sizeof c, pc->coh[i]);
        num(r, sizeof r, s.resp);
        num(a, sizeof a, s.acc);
        num(p1, sizeof p1, s.p2_a1);
        num(p2, sizeof p2, s.p2_a2);
        fprintf(f, "%s,%s,%zu,%s,%s,%zu,%s,%zu,%s\n", key, c, s.n, r, a, s.n1, p1, s.n2, p2);
    }
}

/* The first line's settings (no newline). */
static void psy_settings(char *buf, size_t len, const psy_cfg *pc)
{
    size_t at = (size_t)snprintf(buf, len,
                                 "# rnnplast psychometric: psy_trials=%zu psy_seed=%llu "
                                 "state_noise=0 psy_coherences=",
                                 pc->trials, (unsigned long long)SEED_PSY);
    for (size_t i = 0; i < pc->n && at < len; i++) {
        char c[32];
        fmt_num(pc->coh[i], c, sizeof c);
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ";" : "", c);
    }
}

/* A whole file: the settings line (+ extra), provenance, header, rows. */
static int write_file(const char *cmd, const char *path, const char *first, const char *extra,
                      const char *prov, const char *rows)
{
    outfile o;
    char *pv = prov ? NULL : prov_lines();
    if (!prov && !pv) {
        fprintf(stderr, "rnnplast %s: out of memory\n", cmd);
        return 1;
    }
    if (out_open(&o, path) != 0) {
        fprintf(stderr, "rnnplast %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        free(pv);
        return 1;
    }
    fprintf(o.f, "%s%s\n%s%s\n%s", first, extra ? extra : "", prov ? prov : pv, PSY_COLUMNS, rows);
    free(pv);
    if (out_commit(&o) != 0) {
        fprintf(stderr, "rnnplast %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    return 0;
}

/* The rows of one run as text (malloc'ed; NULL: out of memory). */
static char *rows_text(const char *key, const psy_cfg *pc, const run_result *res)
{
    char *t = NULL;
    size_t tl = 0;
    FILE *f = open_memstream(&t, &tl);
    if (!f)
        return NULL;
    put_rows(f, key, pc, res);
    if (fclose(f) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

int psy_write_run(const char *cmd, const psy_opts *po, const run_cfg *rc, const run_result *res)
{
    char key[160], first[1024];
    psy_key(key, sizeof key, rc->task, rc->rule, rc->gain, rc->floss, rc->seed);
    psy_settings(first, sizeof first, &rc->psy);
    char *rows = rows_text(key, &rc->psy, res);
    if (!rows) {
        fprintf(stderr, "rnnplast %s: out of memory\n", cmd);
        return 1;
    }
    int r = write_file(cmd, po->real, first, NULL, NULL, rows);
    free(rows);
    return r;
}

void psy_print_table(FILE *out, const psy_cfg *pc, const psy_stat *s)
{
    fprintf(out, "%-10s %5s  %-13s %-15s %-17s %s\n", "coherence", "n", "response rate",
            "choice accuracy", "P(2 | answer 1)", "P(2 | answer 2)");
    for (size_t i = 0; i < pc->n; i++)
        fprintf(out, "%-10g %5zu  %-13.4f %-15.4f %-17.4f %.4f\n", pc->coh[i], s[i].n, s[i].resp,
                s[i].acc, s[i].p2_a1, s[i].p2_a2);
}

/* ---- the sweep's psychometric file ----------------------------------------- */

typedef struct psy_sweep {
    char real[4096];
    const char *path;
    char first[CSV_MAX_LINE];
    FILE *out;
    char **rows; /* per job: its rows (text), NULL until measured */
} psy_sweep;

int psy_sweep_init(sweep *s, const psy_opts *po)
{
    if (!po->path)
        return 0;
    /* its rows name a run by task, rule, gain, floss and seed only */
    if (s->axes)
        return usage_error("sweep", "--psychometric does not combine with --feedbacks or --lrs "
                                    "(run them as separate sweeps)");
    psy_sweep *p = calloc(1, sizeof *p);
    if (!p || !(p->rows = calloc(s->nj ? s->nj : 1, sizeof *p->rows))) {
        free(p);
        fprintf(stderr, "rnnplast sweep: out of memory\n");
        return 1;
    }
    memcpy(p->real, po->real, sizeof p->real);
    p->path = po->path;
    char set[1024];
    psy_settings(set, sizeof set, &s->rc.psy);
    /* the sweep's configuration after it: a resume checks both */
    snprintf(p->first, sizeof p->first, "%s of %s", set, s->cfgline + 2);
    s->psy = p;
    char oreal[4096];
    if (out_resolve(s->out_path, oreal, sizeof oreal) == 0 && out_same(p->real, oreal))
        return usage_error("sweep", "--out '%s' and --psychometric '%s' name the same file",
                           s->out_path, p->path);
    return 0;
}

static void job_psy_key(const sweep *s, const sweep_job *j, char *buf, size_t len)
{
    psy_key(buf, len, s->rc.task, j->rule, j->gain, j->floss, j->seed);
}

/* Whether the text a..a+len is one of our rows for key with coherence c:
   key, then 8 fields: c, n, rate, rate, n, rate, n, rate (a rate a number
   in [0, 1] or nan). */
static int valid_row(const char *a, size_t len, const char *key, double c)
{
    size_t kl = strlen(key);
    if (len <= kl || strncmp(a, key, kl) != 0 || a[kl] != ',')
        return 0;
    const char *p = a + kl + 1, *end = a + len;
    for (int f = 0; f < 8; f++) {
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        if ((q == end) != (f == 7))
            return 0;
        size_t n = (size_t)(q - p);
        double v;
        uint64_t u;
        if (f == 0) {
            if (parse_num_n(p, n, &v) || v != c)
                return 0;
        } else if (f == 1 || f == 4 || f == 6) {
            if (parse_u64_n(p, n, &u))
                return 0;
        } else if (!(n == 3 && strncmp(p, "nan", 3) == 0) &&
                   (parse_num_n(p, n, &v) || !(v >= 0.0 && v <= 1.0))) {
            return 0;
        }
        p = q + 1;
    }
    return 1;
}

int psy_sweep_open(sweep *s)
{
    psy_sweep *p = s->psy;
    if (!p)
        return 0;
    const psy_cfg *pc = &s->rc.psy;
    size_t *have = calloc(s->nj ? s->nj : 1, sizeof *have);
    if (!have)
        return 1;
    struct stat st;
    FILE *f = stat(p->real, &st) == 0 && S_ISREG(st.st_mode) ? fopen(p->real, "r") : NULL;
    if (f) {
        csv_reader rd = {.f = f};
        size_t len, hint = 0;
        int complete, k;
        while ((k = csv_next_line(&rd, &len, &complete)) != CSV_EOF) {
            const char *line = rd.buf;
            if (rd.lineno == 1) {
                if (k != CSV_LINE || strlen(line) != len || strcmp(line, p->first) != 0) {
                    fclose(f);
                    free(have);
                    return usage_error("sweep",
                                       "--psychometric: %s exists and was written by another "
                                       "configuration (remove it or choose another file)",
                                       p->path);
                }
                continue;
            }
            if (k != CSV_LINE || !complete || line[0] == '#' || strlen(line) != len)
                continue;
            /* the job whose key starts the line (rows come in job order) */
            for (size_t t = 0; t < s->nj; t++) {
                size_t i = (hint + t) % s->nj;
                char key[160];
                job_psy_key(s, &s->jobs[i], key, sizeof key);
                size_t kl = strlen(key);
                if (len > kl && strncmp(line, key, kl) == 0 && line[kl] == ',') {
                    hint = i;
                    if (have[i] < pc->n && valid_row(line, len, key, pc->coh[have[i]])) {
                        size_t ol = p->rows[i] ? strlen(p->rows[i]) : 0;
                        char *q = realloc(p->rows[i], ol + len + 2);
                        if (q) {
                            memcpy(q + ol, line, len);
                            q[ol + len] = '\n';
                            q[ol + len + 1] = 0;
                            p->rows[i] = q;
                            have[i]++;
                        }
                    }
                    break;
                }
            }
        }
        fclose(f);
    }
    /* A kept run needs all its rows; one without them is run again (the
       run is deterministic: its sweep row comes out the same). */
    size_t rerun = 0;
    for (size_t i = 0; i < s->nj; i++) {
        if (s->jobs[i].row && have[i] == pc->n)
            continue;
        free(p->rows[i]);
        p->rows[i] = NULL;
        if (s->jobs[i].row) {
            free(s->jobs[i].row);
            s->jobs[i].row = NULL;
            s->kept--;
            rerun++;
        }
    }
    free(have);
    if (rerun)
        fprintf(stderr,
                "rnnplast sweep: %zu finished run(s) have no psychometric rows in %s: run "
                "again\n",
                rerun, p->path);
    return 0;
}

/* The file afresh (kept rows in job order), left open for appending. */
static int psy_rewrite(sweep *s, int keep_open)
{
    psy_sweep *p = s->psy;
    outfile o;
    if (out_open(&o, p->real) != 0) {
        fprintf(stderr, "rnnplast sweep: cannot write %s: %s\n", p->path, strerror(errno));
        return 1;
    }
    fprintf(o.f, "%s\n%s%s\n", p->first, s->prov ? s->prov : "", PSY_COLUMNS);
    for (size_t i = 0; i < s->nj; i++)
        if (p->rows[i])
            fputs(p->rows[i], o.f);
    if (keep_open ? out_rename(&o) != 0 : out_commit(&o) != 0) {
        fprintf(stderr, "rnnplast sweep: cannot write %s: %s\n", p->path, strerror(errno));
        if (keep_open)
            fclose(o.f);
        return 1;
    }
    if (keep_open)
        p->out = o.f;
    return 0;
}

int psy_sweep_start(sweep *s) { return s->psy ? psy_rewrite(s, 1) : 0; }

void psy_sweep_record(sweep *s, const sweep_job *j, const run_result *res)
{
    psy_sweep *p = s->psy;
    if (!p)
        return;
    size_t i = (size_t)(j - s->jobs);
    char key[160];
    job_psy_key(s, j, key, sizeof key);
    free(p->rows[i]);
    p->rows[i] = rows_text(key, &s->rc.psy, res);
    if (p->rows[i] && p->out && (fputs(p->rows[i], p->out) < 0 || fflush(p->out) != 0)) {
        fprintf(stderr, "rnnplast sweep: cannot write to %s: %s\n", p->path, strerror(errno));
        s->errors++;
    }
}

void psy_sweep_close(sweep *s, int complete)
{
    psy_sweep *p = s->psy;
    if (!p)
        return;
    if (p->out)
        fclose(p->out);
    p->out = NULL;
    if (complete && psy_rewrite(s, 0))
        s->errors++;
}

void psy_sweep_free(sweep *s)
{
    psy_sweep *p = s->psy;
    if (!p)
        return;
    if (p->out)
        fclose(p->out);
    for (size_t i = 0; i < s->nj; i++)
        free(p->rows[i]);
    free(p->rows);
    free(p);
    s->psy = NULL;
}
