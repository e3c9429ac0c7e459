/* One training run: task -> net -> rule (+ flossing) -> optimizer, with a
   learning curve, lambda_max before and after, and the saved model. */
#include "csv.h"
#include "tool.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Seeds of the streams a run uses: SEED_U ... SEED_FLOSS in tool.h. */
#define SEED_TEST 987654321ULL
#define SEED_LYAP 555000ULL

void run_cfg_default(run_cfg *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->task = RP_TASK_2AF;
    rp_task_config_init(&rc->tcfg, sizeof rc->tcfg, RP_TASK_2AF);
    rc->rule = RP_RULE_EPROP;
    rc->tbptt_k = 10;
    rc->gain = 1.0;
    rc->alpha = 0.9;
    rc->N = 32;
    rc->form = RP_FORM_VOLTAGE;
    rc->act = RP_ACT_RELU;
    rc->optim = RP_OPTIM_ADAM;
    rc->lr = 0.0;
    rc->clip = 1.0;
    rc->iters = 300;
    rc->batch = 16;
    rc->eval_every = 10;
    rc->test_batch = 128;
    rc->lyap_trials = 10;
    rc->lyap_k = 1;
    rc->ftle_trials = 16;
    rc->ftle_k = 4;
    rc->seed = 1;
    rc->floss = FL_OFF;
    rc->phase = FP_PRE;
    rc->floss_k = 1;
    rc->floss_iters = 50;
    rc->floss_every = 10;
    rc->floss_target = 0.0;
    rc->floss_beta = 1.0;
    rc->floss_optim = FOPT_SHARED;
    rc->floss_lr = NAN;
    rc->floss_clip = NAN;
    rc->floss_w_only = 0;
    rc->modprop_mu = NAN;
    rc->precision = RP_PRECISION_DOUBLE;
}

/* Adam step sizes that train each rule in a few hundred iterations; RFLO's
   random-feedback estimate is noisier and is given a smaller one. */
double default_lr(rp_rule_kind r) { return r == RP_RULE_RFLO ? 1e-3 : 3e-3; }

static int measure_lmax_on(rp_net *net, rp_task *task, size_t trials, uint64_t seed, size_t k,
                           double *out, char *msg, size_t msglen);

int measure_lmax(rp_net *net, rp_task *task, size_t trials, uint64_t seed, size_t k, double *out,
                 char *msg, size_t msglen)
{
    /* a single-precision net is measured in float (rp_lyap runs on it) */
    return measure_lmax_on(net, task, trials, seed, k, out, msg, msglen);
}

static int measure_lmax_on(rp_net *net, rp_task *task, size_t trials, uint64_t seed, size_t k,
                           double *out, char *msg, size_t msglen)
{
    trial_io io;
    if (trial_io_alloc(task, &io, msg, msglen))
        return 1;
    const size_t n_in = io.n_in, T = io.T;
    double *x = io.x, *tg = io.tg, *m = io.m;
    double *spec = calloc(k, sizeof(double));
    rp_lyap *ly = NULL;
    int rc = 1;
    if (!spec) {
        snprintf(msg, msglen, "out of memory");
        goto done;
    }
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.transient = T; /* the first trial only brings the trajectory onto the attractor */
    lc.seed = seed;
    rp_status st = rp_lyap_create(&ly, net, k, &lc, NULL, 0);
    if (st != RP_OK) {
        snprintf(msg, msglen, "rp_lyap_create: %s", rp_status_string(st));
        goto done;
    }
    for (size_t i = 0; i <= trials; i++) {
        st = rp_task_sample(task, 1, seed + i, x, tg, m);
        if (st == RP_OK)
            st = rp_lyap_run(ly, net, T, n_in ? x : NULL);
        if (st != RP_OK) {
            snprintf(msg, msglen, "rp_lyap_run: %s: %s", rp_status_string(st),
                     rp_lyap_last_error(ly));
            goto done;
        }
    }
    st = rp_lyap_get_spectrum(ly, spec, k);
    if (st != RP_OK) {
        snprintf(msg, msglen, "rp_lyap_get_spectrum: %s: %s", rp_status_string(st),
                 rp_lyap_last_error(ly));
        goto done;
    }
    memcpy(out, spec, k * sizeof(double));
    rc = 0;
done:
    rp_lyap_free(ly);
    trial_io_free(&io);
    free(spec);
    return rc;
}

/* A growing piece of text (the learning curve kept for checkpoints). */
typedef struct text {
    char *p;
    size_t len, cap;
    int oom;
} text;

static void text_vadd(text *t, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || t->oom)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)n + 1) + 256;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->oom = 1;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    t->len += (size_t)n;
}

static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_vadd(t, fmt, ap);
    va_end(ap);
}

typedef struct ctx {
    rp_task *task;
    rp_net *net, *eval;
    rp_rule *rule;
    rp_optim *opt;
    rp_optim *fopt; /* the flossing steps' own optimizer (NULL: they use opt) */
    int fswap;      /* opt takes the flossing settings for a flossing step */
    rp_floss *fl;
    rp_grad *g, *gf;
    size_t n_in, n_out, T, ny, n_rec;
    rp_loss loss;
    double *x, *tg, *m, *x1;
    double *xt, *tt, *mt, *yt; /* test set */
    double *pbuf;
    double *zero;        /* zeros for the U and b blocks of a W-only flossing gradient */
    double *wres0;       /* --floss rescale: W before rescaling */
    double *w0, *wprev;  /* W as initialized and after the last change (N*N) */
    double w0norm, path; /* |W_init|_F; sum of |dW|_F over the changes of W */
    text curve;          /* the learning curve so far, kept when checkpointing */
    int keep_curve;
} ctx;

/* One learning-curve row: to the file, and kept for checkpoints. */
static void curve_row(ctx *c, FILE *curve, const char *fmt, ...)
{
    va_list ap;
    if (curve) {
        va_start(ap, fmt);
        vfprintf(curve, fmt, ap);
        va_end(ap);
    }
    if (c->keep_curve) {
        va_start(ap, fmt);
        text_vadd(&c->curve, fmt, ap);
        va_end(ap);
    }
}

static void ctx_free(ctx *c)
{
    rp_task_free(c->task);
    rp_net_free(c->net);
    rp_net_free(c->eval);
    rp_rule_free(c->rule);
    rp_optim_free(c->opt);
    rp_optim_free(c->fopt);
    rp_floss_free(c->fl);
    rp_grad_free(c->g);
    rp_grad_free(c->gf);
    free(c->x);
    free(c->tg);
    free(c->m);
    free(c->x1);
    free(c->xt);
    free(c->tt);
    free(c->mt);
    free(c->yt);
    free(c->pbuf);
    free(c->zero);
    free(c->wres0);
    free(c->w0);
    free(c->wprev);
    free(c->curve.p);
}

/* Test loss, accuracy, response rate and choice accuracy
   (rp_task_score_choices; NaN for a task without classes) of the current
   parameters on the fixed test set. */
static rp_status evaluate(ctx *c, size_t test_batch, double *loss, double *acc, double *resp,
                          double *cacc)
{
    *resp = *cacc = NAN;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t len;
        rp_status st = rp_net_get_param_len(c->net, (rp_param)p, &len);
        if (st == RP_OK && len) {
            st = rp_net_get_param(c->net, (rp_param)p, c->pbuf, len);
            if (st == RP_OK)
                st = rp_net_set_param(c->eval, (rp_param)p, c->pbuf, len);
        }
        if (st != RP_OK)
            return st;
    }
    rp_status st = rp_net_reset(c->eval);
    if (st == RP_OK)
        st = rp_net_run(c->eval, c->T, c->n_in ? c->xt : NULL, c->yt);
    if (st == RP_OK)
        st = rp_task_score(c->task, test_batch, c->yt, c->tt, c->mt, loss, acc);
    if (st == RP_OK && c->loss == RP_LOSS_CE)
        st = rp_task_score_choices(c->task, test_batch, c->yt, c->tt, c->mt, resp, cacc);
    if (st != RP_OK) {
        *loss = NAN;
        *acc = NAN;
    }
    return st;
}

/* |a - b|_F of two n-vectors. */
static double dist_f(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

/* W changed (an optimizer step, or --floss rescale): the distance it moved
   is added to the path length (csv.h). */
static void note_w_change(ctx *c)
{
    const size_t nw = c->n_rec * c->n_rec;
    if (rp_net_get_param(c->net, RP_PARAM_W, c->pbuf, nw) == RP_OK) {
        c->path += dist_f(c->pbuf, c->wprev, nw);
        memcpy(c->wprev, c->pbuf, nw * sizeof(double));
    }
}

/* A step of optimizer o (the task's, or flossing's own) on c->g. */
static rp_status optim_step(ctx *c, rp_optim *o)
{
    rp_status st = rp_optim_step(o, c->net, c->g);
    if (st == RP_OK)
        note_w_change(c);
    return st;
}

/* The trial-based exponents (measure_ftle) of the net now: NAN on failure,
   which leaves the run and its other columns as they are. */
static void ftle_now(const ctx *c, const run_cfg *rc, double *mean, double *sd, double *delay)
{
    size_t d0, d1;
    ftle_stats fs;
    char m[256];
    task_delay_window(rc->task, &rc->tcfg, &d0, &d1);
    (void)measure_ftle(c->net, c->task, rc->ftle_trials, SEED_FTLE,
                       rc->ftle_k < c->n_rec ? rc->ftle_k : c->n_rec, d0, d1, &fs, NULL, m,
                       sizeof m);
    *mean = fs.mean;
    *sd = fs.sd;
    *delay = fs.delay;
}

/* Trial 0 of the batch in x (T*B*n_in) as one trajectory (T*n_in). */
static void first_trial(const ctx *c, size_t B)
{
    for (size_t t = 0; t < c->T; t++)
        memcpy(c->x1 + t * c->n_in, c->x + t * B * c->n_in, c->n_in * sizeof(double));
}

static double task_lr(const run_cfg *rc) { return rc->lr > 0.0 ? rc->lr : default_lr(rc->rule); }

/* The settings of an optimizer that takes flossing-only steps (on = 1) or
   task steps (on = 0): learning rate, clip and, with --floss-params W, every
   parameter but W frozen (moments kept: rp_optim_set_trainable), so that
   not even the task optimizer's momentum moves U, b, V or c in a flossing
   step of phase inter. */
static rp_status floss_settings(rp_optim *o, const run_cfg *rc, int on)
{
    double lr = on && !isnan(rc->floss_lr) ? rc->floss_lr : task_lr(rc);
    double clip = on && !isnan(rc->floss_clip) ? rc->floss_clip : rc->clip;
    rp_status st = rp_optim_set_lr(o, lr);
    if (st == RP_OK)
        st = rp_optim_set_clip(o, clip > 0.0 ? clip : 0.0);
    for (int p = 0; p < RP_PARAM_COUNT && st == RP_OK && rc->floss_w_only; p++)
        if (p != RP_PARAM_W)
            st = rp_optim_set_trainable(o, (rp_param)p, !on);
    return st;
}

/* Add beta * dF/dθ on one trial into c->g; F returned. */
static rp_status floss_grad(ctx *c, const run_cfg *rc, double *F, char *msg, size_t msglen)
{
    rp_status st = rp_grad_zero(c->gf);
    if (st == RP_OK)
        st = rp_floss_trial(c->fl, c->net, c->T, c->n_in ? c->x1 : NULL, c->gf, F, NULL);
    /* --floss-params W: the gradient's U and b blocks dropped (a flossing-only
       step also freezes them in its optimizer: see floss_step) */
    if (st == RP_OK && rc->floss_w_only && c->n_in)
        st = rp_grad_set(c->gf, RP_PARAM_U, c->zero, rc->N * c->n_in);
    if (st == RP_OK && rc->floss_w_only)
        st = rp_grad_set(c->gf, RP_PARAM_B, c->zero, rc->N);
    if (st == RP_OK)
        st = rp_grad_axpy(c->g, rc->floss_beta, c->gf);
    if (st != RP_OK)
        snprintf(msg, msglen, "rp_floss_trial: %s: %s", rp_status_string(st),
                 rp_floss_last_error(c->fl));
    return st;
}

/* One flossing-only optimizer step on a fresh trial (phases pre and inter). */
static rp_status floss_step(ctx *c, const run_cfg *rc, uint64_t seed, double *F, char *msg,
                            size_t msglen)
{
    rp_status st = rp_task_sample(c->task, rc->batch, seed, c->x, c->tg, c->m);
    if (st != RP_OK)
        return st;
    first_trial(c, rc->batch);
    st = rp_grad_zero(c->g);
    if (st == RP_OK)
        st = floss_grad(c, rc, F, msg, msglen);
    rp_optim *o = c->fopt ? c->fopt : c->opt;
    if (st == RP_OK && c->fswap && floss_settings(c->opt, rc, 1) != RP_OK) {
        snprintf(msg, msglen, "flossing optimizer settings: %s", rp_optim_last_error(c->opt));
        return RP_ERR_INVALID_ARG;
    }
    if (st == RP_OK) {
        st = optim_step(c, o);
        if (st != RP_OK)
            snprintf(msg, msglen, "rp_optim_step (flossing): %s: %s", rp_status_string(st),
                     rp_optim_last_error(o));
    }
    if (c->fswap && floss_settings(c->opt, rc, 0) != RP_OK && st == RP_OK) {
        snprintf(msg, msglen, "task optimizer settings: %s", rp_optim_last_error(c->opt));
        st = RP_ERR_INVALID_ARG;
    }
    return st;
}

/* ---- the controls of pre-flossing (--floss rescale, --floss extra) ------- */

/* --floss rescale: W <- s W with s found by bisection on log s so that the
   tool's lambda_max measurement (measure_lmax, as lambda_before) is within
   RESCALE_TOL of the flossing target.  s = 1 first; then s doubles (or
   halves) until lambda_max crosses the target (s in [2^-RESCALE_OCTAVES,
   2^RESCALE_OCTAVES]); then the bracket is bisected at its geometric mean.
   At most RESCALE_MAX_MEAS measurements in all.  A measurement that fails
   (the state diverges: activity blowing up) counts as above the target. */
#define RESCALE_TOL 1e-3
#define RESCALE_OCTAVES 10
#define RESCALE_MAX_MEAS 60

static int lmax_scaled(ctx *c, const run_cfg *rc, double s, double *lam, size_t *nmeas)
{
    const size_t nW = rc->N * rc->N;
    for (size_t i = 0; i < nW; i++)
        c->pbuf[i] = s * c->wres0[i];
    if (rp_net_set_param(c->net, RP_PARAM_W, c->pbuf, nW) != RP_OK)
        return 1;
    char m[160];
    (*nmeas)++;
    if (measure_lmax(c->net, c->task, rc->lyap_trials, SEED_LYAP, 1, lam, m, sizeof m))
        *lam = INFINITY;
    return 0;
}

static int rescale_w(ctx *c, const run_cfg *rc, run_result *res)
{
    const size_t nW = rc->N * rc->N;
    const double tgt = rc->floss_target;
    size_t n = 0;
    double lam, s = 1.0, lo = NAN, hi = NAN;
    c->wres0 = malloc(nW * sizeof(double));
    if (!c->wres0 || rp_net_get_param(c->net, RP_PARAM_W, c->wres0, nW) != RP_OK) {
        snprintf(res->msg, sizeof res->msg, "rescale: out of memory");
        return 1;
    }
    if (lmax_scaled(c, rc, s, &lam, &n))
        goto err;
    /* bracket: lo has lambda < target, hi has lambda > target */
    const int up = lam < tgt;
    for (int o = 0; fabs(lam - tgt) > RESCALE_TOL && o < RESCALE_OCTAVES; o++) {
        if ((lam < tgt) != up)
            break;
        if (up)
            lo = s, s *= 2.0;
        else
            hi = s, s *= 0.5;
        if (lmax_scaled(c, rc, s, &lam, &n))
            goto err;
    }
    if (fabs(lam - tgt) > RESCALE_TOL) {
        if ((lam < tgt) == up) {
            snprintf(res->msg, sizeof res->msg,
                     "rescale: lambda_max does not reach the target %g for W scaled by %g..%g "
                     "(last %g)",
                     tgt, up ? 1.0 : s, up ? s : 1.0, lam);
            return 1;
        }
        if (up)
            hi = s;
        else
            lo = s;
        while (fabs(lam - tgt) > RESCALE_TOL && n < RESCALE_MAX_MEAS) {
            s = sqrt(lo * hi);
            if (lmax_scaled(c, rc, s, &lam, &n))
                goto err;
            if (lam < tgt)
                lo = s;
            else
                hi = s;
        }
    }
    res->floss_scale = s;
    res->rescale_meas = n;
    if (fabs(lam - tgt) > RESCALE_TOL) {
        snprintf(res->msg, sizeof res->msg,
                 "rescale: lambda_max %g not within %g of the target %g after %zu measurements "
                 "(W scaled by %.17g; it jumps across the target between %.17g and %.17g)",
                 lam, RESCALE_TOL, tgt, n, s, lo, hi);
        return 1;
    }
    return 0;
err:
    snprintf(res->msg, sizeof res->msg, "rescale: rp_net_set_param: %s", rp_net_last_error(c->net));
    return 1;
}

/* The task gradient of one training batch into c->g (zeroed first). */
static rp_status task_grad(ctx *c, const run_cfg *rc, uint64_t seed, size_t it, double *loss,
                           char *msg, size_t msglen)
{
    rp_status st = rp_task_sample(c->task, rc->batch, seed, c->x, c->tg, c->m);
    if (st == RP_OK)
        st = rp_grad_zero(c->g);
    if (st == RP_OK) {
        st = rp_rule_trial(c->rule, c->net, c->T, c->n_in ? c->x : NULL, c->tg, c->m, c->g, loss);
        if (st != RP_OK)
            snprintf(msg, msglen, "iteration %zu: rp_rule_trial: %s: %s", it, rp_status_string(st),
                     rp_rule_last_error(c->rule));
    }
    return st;
}

/* ---- checkpoints -------------------------------------------------------- */

#define CK_MAGIC "rnnplast-train-checkpoint 1\n"

/* Every setting that decides a run's numbers, except --iters, as one line
   (doubles in %a: exact). */
static void cfg_line(const run_cfg *rc, text *t)
{
    const rp_task_config *k = &rc->tcfg;
    text_add(t,
             "task=%d T=%zu delay=%zu t1=%zu t2=%zu fixation=%zu stimulus=%zu test=%zu "
             "decision=%zu sigma=%a fix_weight=%a n_sines=%zu pattern_seed=%llu coherences=",
             (int)rc->task, k->T, k->delay, k->t1, k->t2, k->fixation, k->stimulus, k->test,
             k->decision, k->sigma, k->fix_weight, k->n_sines, (unsigned long long)k->pattern_seed);
    for (size_t i = 0; i < k->n_coherences && i < RP_TASK_MAX_COH; i++)
        text_add(t, i ? ",%a" : "%a", k->coherences[i]);
    text_add(t,
             " rule=%s tbptt_k=%zu gain=%a alpha=%a noise=%a N=%zu form=%d act=%d optim=%d "
             "lr=%a clip=%a batch=%zu eval_every=%zu test_batch=%zu lyap_trials=%zu seed=%llu "
             "floss=%s phase=%s floss_k=%zu floss_iters=%zu floss_every=%zu floss_target=%a "
             "floss_beta=%a",
             rule_name(rc->rule), rc->tbptt_k, rc->gain, rc->alpha, rc->noise, rc->N, (int)rc->form,
             (int)rc->act, (int)rc->optim, rc->lr, rc->clip, rc->batch, rc->eval_every,
             rc->test_batch, rc->lyap_trials, (unsigned long long)rc->seed, floss_name(rc->floss),
             phase_name(rc->phase), rc->floss_k, rc->floss_iters, rc->floss_every, rc->floss_target,
             rc->floss_beta);
    /* Settings added later, written only when they are not the old
       behaviour (the lines of older checkpoints stay valid): the flossing
       optimizer; and phase inter's schedule, which changed from one step
       per --floss-every to MODEL.md's E_i steps (an older inter checkpoint
       is refused, not continued under the new schedule). */
    if (rc->floss_optim != FOPT_SHARED || !isnan(rc->floss_lr) || !isnan(rc->floss_clip) ||
        rc->floss_w_only)
        text_add(t, " floss_optim=%d floss_lr=%a floss_clip=%a floss_params=%s", rc->floss_optim,
                 rc->floss_lr, rc->floss_clip, rc->floss_w_only ? "W" : "all");
    if (rc->phase == FP_INTER)
        text_add(t, " inter=cycles");
    /* lambda_max's k (checkpoints hold lambda before): only when not 1, so
       the lines of older checkpoints are this one's */
    if (rc->lyap_k != 1)
        text_add(t, " lyap_k=%zu", rc->lyap_k);
    /* --feedback other than the rule's own (older checkpoints: the rule's) */
    if (rc->feedback != FB_DEFAULT && rule_has_feedback(rc->rule) &&
        rc->feedback != rule_default_feedback(rc->rule))
        text_add(t, " feedback=%s", feedback_name(rc->feedback));
    /* single precision (since 1.2; a double run's line as before): a
       checkpoint resumes only in the precision it was written in */
    if (rc->precision == RP_PRECISION_SINGLE)
        text_add(t, " precision=single");
    /* ModProp's settings (absent for the other rules: their lines as before) */
    if (rc->rule == RP_RULE_MODPROP) {
        text_add(t, " modprop_mu=%a cell_types=", rc->modprop_mu);
        for (size_t i = 0; rc->has_types && i < rc->N; i++)
            text_add(t, i ? ",%u" : "%u", rc->cell_types[i]);
    }
}

/* The checkpoint after `it` iterations: handles, then as user data the magic
   line, the settings, lambda_max before, F and the last training loss, and
   the learning curve so far. */
static int save_ckpt(ctx *c, const run_cfg *rc, const char *path, size_t it, double lam, double F,
                     double tl, char *msg, size_t msglen)
{
    text t = {0};
    text_add(&t, CK_MAGIC);
    cfg_line(rc, &t);
    text_add(&t, "\n%a %a %a %a\n", lam, F, tl, c->path); /* path: absent before issue 14 */
    if (c->curve.len)
        text_add(&t, "%s", c->curve.p);
    if (t.oom || c->curve.oom) {
        free(t.p);
        snprintf(msg, msglen, "checkpoint at iteration %zu: out of memory", it);
        return 1;
    }
    char m[256];
    rp_status st = rp_checkpoint_save(c->net, c->opt, c->rule, path, it, t.p, t.len, m, sizeof m);
    free(t.p);
    if (st != RP_OK) {
        snprintf(msg, msglen, "checkpoint at iteration %zu not written: %s: %.150s", it,
                 rp_status_string(st), m);
        return 1;
    }
    return 0;
}

/* Continue from a checkpoint: its handles replace c's, the curve so far goes
   to `curve` (and is kept), and the scalars come back.  The settings must be
   this run's (all but --iters). */
static int resume_ckpt(ctx *c, const run_cfg *rc, const char *path, FILE *curve, size_t *start,
                       double *lam, double *F, double *tl, char *msg, size_t msglen)
{
    char *user = malloc(RP_CHECKPOINT_MAX_USER + 1);
    if (!user) {
        snprintf(msg, msglen, "out of memory");
        return 1;
    }
    rp_net *net = NULL;
    rp_optim *opt = NULL;
    rp_rule *rule = NULL;
    uint64_t it = 0;
    size_t ulen = 0;
    char m[256];
    text want = {0};
    int ret = 1;
    rp_status st = rp_checkpoint_load(&net, &opt, &rule, path, &it, user, RP_CHECKPOINT_MAX_USER,
                                      &ulen, m, sizeof m);
    if (st != RP_OK) {
        snprintf(msg, msglen, "cannot resume from %s: %s: %.150s", path, rp_status_string(st), m);
        goto out;
    }
    user[ulen] = '\0';
    const size_t ml = strlen(CK_MAGIC);
    if (ulen < ml || memcmp(user, CK_MAGIC, ml) != 0) {
        snprintf(msg, msglen, "cannot resume from %s: not written by rnnplast train", path);
        goto out;
    }
    cfg_line(rc, &want);
    if (want.oom) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    const char *have = user + ml, *nl = strchr(have, '\n');
    if (!nl || (size_t)(nl - have) != want.len || memcmp(have, want.p, want.len) != 0) {
        /* Name the first setting that differs. */
        const char *a = have, *b = want.p;
        while (*a && *b && *a == *b && *a != '\n') {
            a++;
            b++;
        }
        if (*a == ' ' && !*b) /* the file's line has a setting more at its end */
            a++;
        else if ((*a == '\n' || !*a) && *b == ' ') /* this run's has one more */
            b++;
        else
            while (a > have && a[-1] != ' ')
                a--, b--;
        int la = (int)strcspn(a, " \n"), lb = (int)strcspn(b, " ");
        snprintf(msg, msglen,
                 "cannot resume from %s: it was written with other settings (only --iters may "
                 "change): it has '%.*s', this run '%.*s'",
                 path, la, a, lb, b);
        goto out;
    }
    const char *rest = nl + 1, *nl2 = strchr(rest, '\n');
    char *end = NULL;
    double v[4] = {NAN, NAN, NAN, NAN}; /* the path length: NAN from an older checkpoint */
    int nv = 0;
    while (nl2 && rest < nl2 && nv < 4) {
        v[nv] = strtod(rest, &end);
        if (end == rest)
            nl2 = NULL;
        rest = end;
        nv++;
    }
    if (!nl2 || rest != nl2 || nv < 3) {
        snprintf(msg, msglen, "cannot resume from %s: malformed run data", path);
        goto out;
    }
    if (it > rc->iters) {
        snprintf(msg, msglen, "cannot resume from %s: it is at iteration %llu, beyond --iters %zu",
                 path, (unsigned long long)it, rc->iters);
        goto out;
    }
    const char *rows = nl2 + 1;
    text up = {0};
    const size_t hl = strlen(CURVE_COLUMNS_V1);
    if (strncmp(rows, CURVE_COLUMNS_V1 "\n", hl + 1) == 0) {
        /* a checkpoint of an older rnnplast: its curve rows lack
           response_rate and choice_acc (csv.h), nan there */
        text_add(&up, CURVE_COLUMNS "\n");
        for (const char *p = rows + hl + 1, *e; *p; p = e + 1) {
            e = strchr(p, '\n');
            if (!e)
                break;
            text_add(&up, "%.*s,nan,nan\n", (int)(e - p), p);
        }
        if (up.oom) {
            free(up.p);
            snprintf(msg, msglen, "out of memory");
            goto out;
        }
        rows = up.p;
    }
    if (curve)
        fputs(rows, curve);
    text_add(&c->curve, "%s", rows);
    free(up.p);
    rp_net_free(c->net);
    rp_optim_free(c->opt);
    rp_rule_free(c->rule);
    c->net = net;
    c->opt = opt;
    c->rule = rule;
    net = NULL;
    opt = NULL;
    rule = NULL;
    *start = (size_t)it;
    *lam = v[0];
    *F = v[1];
    *tl = v[2];
    c->path = v[3];
    ret = 0;
out:
    rp_net_free(net);
    rp_optim_free(opt);
    rp_rule_free(rule);
    free(want.p);
    free(user);
    return ret;
}

#define FAIL(...)                                         \
    do {                                                  \
        snprintf(res->msg, sizeof res->msg, __VA_ARGS__); \
        goto fail;                                        \
    } while (0)
#define CALL(call, errfn, h)                                                       \
    do {                                                                           \
        rp_status st_ = (call);                                                    \
        if (st_ != RP_OK)                                                          \
            FAIL("%s: %s: %s", #call, rp_status_string(st_), (h) ? errfn(h) : ""); \
    } while (0)

int run_one(const run_cfg *rc, run_result *res, FILE *curve, const char *model_out, int *saved,
            progress_fn prog, void *prog_ctx)
{
    return run_one_ck(rc, NULL, res, curve, model_out, saved, prog, prog_ctx);
}

int run_one_ck(const run_cfg *rc, const run_ckpt *ck, run_result *res, FILE *curve,
               const char *model_out, int *saved, progress_fn prog, void *prog_ctx)
{
    ctx c;
    memset(&c, 0, sizeof c);
    memset(res, 0, sizeof *res);
    res->test_loss = res->test_acc = res->lam_before = res->lam_after = res->train_loss = NAN;
    res->response_rate = res->choice_acc = NAN;
    res->floss_scale = NAN;
    res->ftle_before = res->ftle_after = res->ftle_sd_before = res->ftle_sd_after = NAN;
    res->delay_before = res->delay_after = res->dw_rel = res->path_rel = NAN;
    if (saved)
        *saved = 0;
    rp_init *init = NULL;
    const size_t B = rc->batch, TB = rc->test_batch;

    char tmsg[128];
    rp_status st0 = rp_task_create(&c.task, rc->task, &rc->tcfg, tmsg, sizeof tmsg);
    if (st0 != RP_OK)
        FAIL("rp_task_create: %s: %s", rp_status_string(st0), tmsg);
    if ((st0 = rp_task_get_dims(c.task, &c.n_in, &c.n_out, &c.T, &c.loss)) != RP_OK)
        FAIL("rp_task_get_dims: %s", rp_task_last_error(c.task));
    c.ny = c.loss == RP_LOSS_CE ? 1 : c.n_out;
    c.n_rec = rc->N;

    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = c.n_in;
    nc.n_rec = rc->N;
    nc.n_out = c.n_out;
    nc.batch = B;
    nc.alpha = rc->alpha;
    nc.form = rc->form;
    nc.act = rc->act;
    nc.noise_std = rc->noise;
    nc.seed = rc->seed;
    nc.precision = rc->precision;
    char cmsg[160];
    if (rp_net_config_check(&nc, cmsg, sizeof cmsg) != RP_OK)
        FAIL("network: %s", cmsg);
    CALL(rp_net_create(&c.net, &nc, NULL, 0), rp_net_last_error, c.net);
    nc.batch = TB;
    nc.noise_std = 0.0;
    if (rp_net_config_check(&nc, cmsg, sizeof cmsg) != RP_OK)
        FAIL("test network (--test-batch %zu): %s", TB, cmsg);
    CALL(rp_net_create(&c.eval, &nc, NULL, 0), rp_net_last_error, c.eval);

    /* MODEL.md §2: W ~ N(0, g^2/N) (the study's gain); U ~ N(0, 1/N_in);
       V ~ N(0, 1/N); biases zero. */
    CALL(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), rp_init_last_error, init);
    CALL(rp_init_set_gain(init, rc->gain), rp_init_last_error, init);
    CALL(rp_init_apply(init, c.net, RP_PARAM_W, rc->seed), rp_init_last_error, init);
    CALL(rp_init_set_gain(init, 1.0), rp_init_last_error, init);
    if (c.n_in)
        CALL(rp_init_apply(init, c.net, RP_PARAM_U, SEED_U(rc->seed)), rp_init_last_error, init);
    CALL(rp_init_apply(init, c.net, RP_PARAM_V, SEED_V(rc->seed)), rp_init_last_error, init);

    /* W as initialized, for |dW| and the path length (csv.h dw_rel,
       path_rel), and the trial-based exponents before training: both of
       the fresh net, so a resumed run gets them as the uninterrupted one. */
    c.w0 = calloc(rc->N * rc->N, sizeof(double));
    c.wprev = calloc(rc->N * rc->N, sizeof(double));
    if (!c.w0 || !c.wprev)
        FAIL("out of memory (W of N = %zu units)", rc->N);
    CALL(rp_net_get_param(c.net, RP_PARAM_W, c.w0, rc->N * rc->N), rp_net_last_error, c.net);
    memcpy(c.wprev, c.w0, rc->N * rc->N * sizeof(double));
    c.w0norm = 0.0;
    for (size_t i = 0; i < rc->N * rc->N; i++)
        c.w0norm += c.w0[i] * c.w0[i];
    c.w0norm = sqrt(c.w0norm);
    ftle_now(&c, rc, &res->ftle_before, &res->ftle_sd_before, &res->delay_before);

    CALL(rp_rule_create(&c.rule, c.net, rc->rule, NULL, 0), rp_rule_last_error, c.rule);
    CALL(rp_rule_set_loss(c.rule, c.loss), rp_rule_last_error, c.rule);
    if (rc->rule == RP_RULE_TBPTT)
        CALL(rp_rule_set_truncation(c.rule, rc->tbptt_k), rp_rule_last_error, c.rule);
    /* The feedback (MODEL.md §4.4): RFLO's random one drawn from the run's
       seed, as before --feedback; a chosen one (issue 14's crossed
       controls) set only when the rule has feedback; random drawn the same
       way for every rule. */
    const int fb = rc->feedback != FB_DEFAULT && rule_has_feedback(rc->rule)
                       ? rc->feedback
                       : rule_default_feedback(rc->rule);
    if (fb == FB_RANDOM)
        CALL(rp_rule_set_feedback(c.rule, RP_FEEDBACK_RANDOM, SEED_FB(rc->seed)),
             rp_rule_last_error, c.rule);
    else if (fb == FB_SYMMETRIC && rc->rule == RP_RULE_RFLO)
        CALL(rp_rule_set_feedback(c.rule, RP_FEEDBACK_SYMMETRIC, 0), rp_rule_last_error, c.rule);
    if (rc->rule == RP_RULE_MODPROP && rc->has_types)
        CALL(rp_rule_set_cell_types(c.rule, rc->cell_types, rc->N), rp_rule_last_error, c.rule);
    if (rc->rule == RP_RULE_MODPROP && !isnan(rc->modprop_mu))
        CALL(rp_rule_set_modprop_mu(c.rule, rc->modprop_mu), rp_rule_last_error, c.rule);

    CALL(rp_optim_create(&c.opt, c.net, rc->optim, NULL, 0), rp_optim_last_error, c.opt);
    CALL(rp_optim_set_lr(c.opt, rc->lr > 0.0 ? rc->lr : default_lr(rc->rule)), rp_optim_last_error,
         c.opt);
    if (rc->clip > 0.0)
        CALL(rp_optim_set_clip(c.opt, rc->clip), rp_optim_last_error, c.opt);

    floss_kind fk = rc->floss;
    if (fk == FL_ON)
        fk = (rc->rule == RP_RULE_EPROP || rc->rule == RP_RULE_RFLO || rc->rule == RP_RULE_MODPROP)
                 ? FL_LOCAL
                 : FL_EXACT;
    if (fk != FL_OFF) {
        rp_floss_config fc;
        rp_floss_config_init(&fc, sizeof fc);
        fc.k = rc->floss_k;
        fc.target = rc->floss_target;
        fc.transient = c.T / 4;
        fc.mode = fk == FL_LOCAL ? RP_FLOSS_LOCAL : RP_FLOSS_EXACT;
        fc.seed = rc->seed;
        CALL(rp_floss_create(&c.fl, c.net, &fc, NULL, 0), rp_floss_last_error, c.fl);
    }
    /* The optimizer of the flossing-only steps (MODEL.md §7.3: flossing may
       have its own): one of its own, or the task's, which then takes the
       flossing settings (--floss-lr, --floss-clip, --floss-params) for each
       flossing step and its own back after it. */
    const int floss_only_steps = (fk == FL_LOCAL || fk == FL_EXACT) && rc->phase != FP_DURING;
    if (floss_only_steps && rc->floss_optim != FOPT_SHARED) {
        CALL(rp_optim_create(&c.fopt, c.net, (rp_optim_kind)rc->floss_optim, NULL, 0),
             rp_optim_last_error, c.fopt);
        CALL(floss_settings(c.fopt, rc, 1), rp_optim_last_error, c.fopt);
    }
    c.fswap = floss_only_steps && !c.fopt &&
              (!isnan(rc->floss_lr) || !isnan(rc->floss_clip) || rc->floss_w_only);
    /* MODEL.md §7.3 inter-flossing, by the library's schedule: cycles of E_f
       = --floss-every task iterations, each followed by E_i = --floss-iters
       flossing-only iterations (no pre-flossing in phase inter). */
    rp_floss_schedule sch;
    rp_floss_schedule_init(&sch, sizeof sch);
    if (fk != FL_OFF && rc->phase == FP_INTER) {
        sch.kind = RP_FLOSS_SCHED_INTER;
        sch.pre = 0;
        sch.period = rc->floss_every;
        sch.floss_iters = rc->floss_iters;
        sch.beta = rc->floss_beta;
        if (rp_floss_schedule_check(&sch, cmsg, sizeof cmsg) != RP_OK)
            FAIL("inter-flossing schedule: %s", cmsg);
    }
    CALL(rp_grad_create(&c.g, c.net, NULL, 0), rp_grad_last_error, c.g);
    CALL(rp_grad_create(&c.gf, c.net, NULL, 0), rp_grad_last_error, c.gf);

    /* Buffer lengths in doubles (+1: a zero-input task still gets a buffer);
       a product that overflows size_t is refused, not wrapped. */
    size_t maxp = rc->N > c.n_in ? rc->N : c.n_in, tb, ttb;
    size_t len[9];
    if (mul_size(maxp, rc->N, &maxp) || mul_size(c.T, B, &tb) || mul_size(c.T, TB, &ttb) ||
        mul_size(tb, c.n_in, &len[1]) || mul_size(c.T, c.n_in, &len[2]) ||
        mul_size(tb, c.ny, &len[3]) || mul_size(ttb, c.n_in, &len[5]) ||
        mul_size(ttb, c.ny, &len[6]) || mul_size(ttb, c.n_out, &len[8]) ||
        add_size(maxp, 1, &len[0]) || add_size(len[1], 1, &len[1]) ||
        add_size(len[2], 1, &len[2]) || add_size(len[5], 1, &len[5]))
        FAIL("trial buffers of T = %zu steps x batch %zu / test batch %zu overflow size_t", c.T, B,
             TB);
    len[4] = tb;
    len[7] = ttb;
    c.pbuf = calloc(len[0], sizeof(double));
    c.x = calloc(len[1], sizeof(double));
    c.x1 = calloc(len[2], sizeof(double));
    c.tg = calloc(len[3], sizeof(double));
    c.m = calloc(len[4], sizeof(double));
    c.xt = calloc(len[5], sizeof(double));
    c.tt = calloc(len[6], sizeof(double));
    c.mt = calloc(len[7], sizeof(double));
    c.yt = calloc(len[8], sizeof(double));
    c.zero = calloc(len[0], sizeof(double)); /* >= N * max(N, n_in) >= the U and b blocks */
    if (!c.pbuf || !c.x || !c.x1 || !c.tg || !c.m || !c.xt || !c.tt || !c.mt || !c.yt || !c.zero)
        FAIL("out of memory (trial buffers of T = %zu steps x batch %zu, test batch %zu)", c.T, B,
             TB);
    CALL(rp_task_sample(c.task, TB, SEED_TEST, c.xt, c.tt, c.mt), rp_task_last_error, c.task);

    double F = NAN, tl, ta, tr, tc;
    size_t start = 0;
    const char *ck_path = ck ? ck->path : NULL;
    c.keep_curve = ck_path != NULL;
    const int resumed = ck && ck->resume;
    if (resumed) {
        if (resume_ckpt(&c, rc, ck->resume, curve, &start, &res->lam_before, &F, &res->train_loss,
                        res->msg, sizeof res->msg))
            goto fail;
        CALL(rp_net_get_param(c.net, RP_PARAM_W, c.wprev, rc->N * rc->N), rp_net_last_error, c.net);
        res->iters_done = start;
    } else {
        /* No value (nan) when the measurement fails, and the run trains: an
           untrained chaotic relu net can overflow over the lyap_trials
           concatenated trials (float's range in a single-precision net, at
           g >= 1.5 in the study), while training's trials restart from h0. */
        if (measure_lmax(c.net, c.task, rc->lyap_trials, SEED_LYAP, rc->lyap_k, &res->lam_before,
                         cmsg, sizeof cmsg))
            res->lam_before = NAN;
        curve_row(&c, curve, CURVE_COLUMNS "\n");
    }
    res->ok = 1;
    /* --floss extra: the first floss_iters iterations of a run of iters +
       floss_iters task iterations (same data, same optimizer), so that it
       ends exactly where `--iters iters+floss_iters` does. */
    const size_t data_off = fk == FL_EXTRA ? rc->floss_iters : 0;
    if (!resumed && fk == FL_EXTRA) {
        for (size_t i = 0; i < data_off && res->ok; i++) {
            double loss;
            rp_status st =
                task_grad(&c, rc, SEED_TRAIN(rc->seed, i), i, &loss, res->msg, sizeof res->msg);
            if (st == RP_OK && (st = rp_optim_step(c.opt, c.net, c.g)) != RP_OK)
                snprintf(res->msg, sizeof res->msg, "extra iteration %zu: rp_optim_step: %s: %s", i,
                         rp_status_string(st), rp_optim_last_error(c.opt));
            if (st != RP_OK)
                res->ok = 0;
        }
    }
    if (!resumed && fk == FL_RESCALE) {
        if (rescale_w(&c, rc, res))
            res->ok = 0;
        note_w_change(&c); /* the rescaling is part of the path */
    }
    if (!resumed && floss_only_steps && rc->phase == FP_PRE) {
        for (size_t i = 0; i < rc->floss_iters; i++) {
            if (floss_step(&c, rc, SEED_FLOSS(rc->seed, i), &F, res->msg, sizeof res->msg) !=
                RP_OK) {
                res->ok = 0;
                break;
            }
            res->floss_steps++;
        }
        if (res->ok && rp_optim_reset(c.opt) != RP_OK) { /* training starts with fresh moments */
            snprintf(res->msg, sizeof res->msg, "rp_optim_reset: %s", rp_optim_last_error(c.opt));
            res->ok = 0;
        }
    }
    if (res->ok && !resumed) {
        (void)evaluate(&c, TB, &tl, &ta, &tr, &tc);
        curve_row(&c, curve, "0,,%.8g,%.8g,%.8g,%.8g,%.8g\n", tl, ta, F, tr, tc);
    }
    for (size_t it = start; res->ok && it < rc->iters; it++) {
        double loss;
        rp_status st = task_grad(&c, rc, SEED_TRAIN(rc->seed, data_off + it), it, &loss, res->msg,
                                 sizeof res->msg);
        if (st == RP_OK && (fk == FL_LOCAL || fk == FL_EXACT) && rc->phase == FP_DURING) {
            first_trial(&c, B);
            st = floss_grad(&c, rc, &F, res->msg, sizeof res->msg);
        }
        if (st == RP_OK) {
            st = optim_step(&c, c.opt);
            if (st != RP_OK)
                snprintf(res->msg, sizeof res->msg, "iteration %zu: rp_optim_step: %s: %s", it,
                         rp_status_string(st), rp_optim_last_error(c.opt));
        }
        if (st == RP_OK && floss_only_steps && rc->phase == FP_INTER) {
            /* task iteration `it` is iteration it + (it / E_f) E_i of the
               schedule; the flossing-only iterations that follow it */
            size_t j = it + (it / rc->floss_every) * rc->floss_iters + 1;
            int task_step = 1;
            while (st == RP_OK && (st = rp_floss_schedule_at(&sch, j, &task_step, NULL)) == RP_OK &&
                   !task_step) {
                st = floss_step(&c, rc, SEED_FLOSS(rc->seed, j), &F, res->msg, sizeof res->msg);
                if (st == RP_OK)
                    res->floss_steps++;
                j++;
            }
        }
        if (st != RP_OK) {
            res->ok = 0;
            break;
        }
        res->train_loss = loss;
        res->iters_done = it + 1;
        if ((it + 1) % rc->eval_every == 0 || it + 1 == rc->iters) {
            (void)evaluate(&c, TB, &tl, &ta, &tr, &tc);
            curve_row(&c, curve, "%zu,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g\n", it + 1, loss, tl, ta, F, tr,
                      tc);
        }
        if (prog)
            prog(prog_ctx, it + 1, rc->iters);
        if (ck && it + 1 < rc->iters &&
            ((ck->stop_after && it + 1 - start >= ck->stop_after) || (ck->stop && *ck->stop)))
            res->stopped = 1;
        if (ck_path && it + 1 < rc->iters &&
            (res->stopped || (ck->every && (it + 1) % ck->every == 0)) &&
            save_ckpt(&c, rc, ck_path, it + 1, res->lam_before, F, loss, res->msg,
                      sizeof res->msg)) {
            res->ok = 0;
            break;
        }
        if (res->stopped)
            break;
    }
    if (res->stopped && res->ok) {
        rp_init_free(init);
        ctx_free(&c);
        return 0;
    }
    if (ck_path && res->ok && res->iters_done == rc->iters &&
        save_ckpt(&c, rc, ck_path, rc->iters, res->lam_before, F, res->train_loss, res->msg,
                  sizeof res->msg))
        res->ok = 0;
    (void)evaluate(&c, TB, &res->test_loss, &res->test_acc, &res->response_rate, &res->choice_acc);
    /* nan when the measurement fails (as before training): the run did its
       iterations, ok says only that */
    if (measure_lmax(c.net, c.task, rc->lyap_trials, SEED_LYAP, rc->lyap_k, &res->lam_after, cmsg,
                     sizeof cmsg))
        res->lam_after = NAN;
    ftle_now(&c, rc, &res->ftle_after, &res->ftle_sd_after, &res->delay_after);
    if (c.w0norm > 0.0 && rp_net_get_param(c.net, RP_PARAM_W, c.pbuf, rc->N * rc->N) == RP_OK) {
        res->dw_rel = dist_f(c.pbuf, c.w0, rc->N * rc->N) / c.w0norm;
        res->path_rel = c.path / c.w0norm;
    }
    if (rc->psy.n && res->ok) /* --psychometric (psycho.c) */
        psy_run(c.net, rc, res);
    if (model_out) {
        rp_status st = rp_net_save(c.net, model_out);
        if (st == RP_OK) {
            if (saved)
                *saved = 1;
        } else if (res->ok) {
            snprintf(res->msg, sizeof res->msg, "model not saved to %s: %s: %s", model_out,
                     rp_status_string(st), rp_net_last_error(c.net));
        }
    }
    rp_init_free(init);
    ctx_free(&c);
    return 0;
fail:
    rp_init_free(init);
    ctx_free(&c);
    res->ok = 0;
    return 1;
}
