/* Task generators (MODEL.md §8): inputs, targets and masks from a seed.
   Every trial b of a batch draws from its own stream rp__seed_mix(seed, b), so
   a trial does not depend on the batch size it was drawn in. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586476925286766559
#define MAX_SINES 8

struct rp_task {
    rp_task_kind kind;
    rp_task_config cfg;
    size_t n_in, n_out, T;
    rp_loss loss;
    double amp[MAX_SINES], period[MAX_SINES], phase[MAX_SINES]; /* sines */
    char err[RP_ERRLEN];
    rp_allocator al;
};

static const char *const kind_names[] = {"sines", "copy", "delayed_xor", "add",
                                         "2af",   "dms",  "cxt"};

const char *rp_task_kind_name(rp_task_kind kind)
{
    if ((unsigned)kind > RP_TASK_CXT)
        return NULL;
    return kind_names[kind];
}

static const rp__cfg_type task_cfg_type =
    RP__CFG_TYPE(rp_task_config, RP__TASK_CONFIG_SIZE_1_0, "rp_task_config_init");

/* The defaults of kind (a valid kind) into *out. */
static void task_defaults(rp_task_kind kind, rp_task_config *out)
{
    rp_task_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.fix_weight = 1.0;
    c.n_sines = 3;
    c.pattern_seed = 1;
    c.sigma = 0.1;
#ifdef RP_TEST_GROWN
    c.rp_test_future = RP_TEST_GROWN_DEFAULT;
#endif
    static const double coh2af[] = {0.0, 0.064, 0.128, 0.256, 0.512};
    switch (kind) {
    case RP_TASK_SINES:
        c.T = 60;
        break;
    case RP_TASK_COPY:
        c.T = 50;
        c.delay = 5;
        break;
    case RP_TASK_DELAYED_XOR:
        c.T = 50;
        c.delay = 3;
        break;
    case RP_TASK_ADD:
        c.T = 50;
        c.t1 = 4;
        c.t2 = 6;
        break;
    case RP_TASK_2AF:
    case RP_TASK_CXT:
        c.fixation = 3;
        c.stimulus = 10;
        c.delay = 0;
        c.decision = 3;
        if (kind == RP_TASK_2AF) {
            memcpy(c.coherences, coh2af, sizeof coh2af);
            c.n_coherences = 5;
        } else {
            memcpy(c.coherences, coh2af + 1, 4 * sizeof(double));
            c.n_coherences = 4;
        }
        break;
    case RP_TASK_DMS:
        c.fixation = 2;
        c.stimulus = 5;
        c.delay = 10;
        c.test = 5;
        c.decision = 3;
        break;
    default:
        break;
    }
    *out = c;
}

static rp_status check_kind(rp_task_kind kind, char *err)
{
    if ((unsigned)kind > RP_TASK_CXT)
        return rp__fail(err, RP_ERR_INVALID_ARG, "kind is %d, expected RP_TASK_SINES..RP_TASK_CXT",
                        (int)kind);
    return RP_OK;
}

rp_status rp_task_config_init(rp_task_config *cfg, size_t size, rp_task_kind kind)
{
    rp_status st = check_kind(kind, NULL);
    if (st != RP_OK)
        return st;
    rp_task_config d;
    task_defaults(kind, &d);
    return rp__cfg_init(&task_cfg_type, cfg, size, &d, NULL);
}

static int is_ce(rp_task_kind k)
{
    return k == RP_TASK_2AF || k == RP_TASK_DMS || k == RP_TASK_CXT;
}

/* Sum of the periods of a classification task; 0 on overflow. */
static size_t periods_sum(rp_task_kind kind, const rp_task_config *c)
{
    size_t p[5] = {c->fixation, c->stimulus, c->delay, c->decision,
                   kind == RP_TASK_DMS ? c->test : 0};
    size_t s = 0;
    for (int i = 0; i < 5; i++) {
        if (p[i] > SIZE_MAX / 8 - s)
            return 0;
        s += p[i];
    }
    return s;
}

/* The caller's cfg (NULL: the defaults of kind) read into *c (config.c) and
   checked. */
static rp_status check_cfg(rp_task_kind kind, const rp_task_config *ucfg, rp_task_config *c,
                           char *err)
{
    rp_status st = check_kind(kind, err);
    if (st != RP_OK)
        return st;
    task_defaults(kind, c);
    if (ucfg && (st = rp__cfg_read(&task_cfg_type, c, ucfg, "cfg", err)) != RP_OK)
        return st;
    if (!is_ce(kind)) {
        if (c->T < 1 || c->T > (size_t)1 << 30)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->T is %zu, expected 1..2^30", c->T);
    }
    switch (kind) {
    case RP_TASK_SINES:
        if (c->n_sines < 1 || c->n_sines > MAX_SINES)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->n_sines is %zu, expected 1..%d",
                            c->n_sines, MAX_SINES);
        break;
    case RP_TASK_COPY:
        if (c->delay < 1 || c->delay >= c->T)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->delay is %zu, expected 1..T-1 = %zu",
                            c->delay, c->T - 1);
        break;
    case RP_TASK_DELAYED_XOR:
        if (c->delay < 1 || c->delay > (c->T - 1) / 2)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->delay is %zu, expected 1..(T-1)/2 = %zu",
                            c->delay, (c->T - 1) / 2);
        break;
    case RP_TASK_ADD:
        if (c->t1 >= c->T || c->t2 >= c->T)
            return rp__fail(err, RP_ERR_INVALID_ARG,
                            "cfg->t1 = %zu, t2 = %zu, expected each < T = %zu", c->t1, c->t2, c->T);
        break;
    default: { /* classification tasks */
        if (c->stimulus < 1)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->stimulus is 0, expected >= 1");
        if (c->decision < 1)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->decision is 0, expected >= 1");
        if (kind == RP_TASK_DMS && c->test < 1)
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->test is 0, expected >= 1");
        size_t s = periods_sum(kind, c);
        if (s == 0 || s > (size_t)1 << 30)
            return rp__fail(err, RP_ERR_INVALID_ARG, "the periods sum to more than 2^30 steps");
        if (c->T != 0 && c->T != s)
            return rp__fail(err, RP_ERR_INVALID_ARG,
                            "cfg->T is %zu, expected 0 or the sum of the periods = %zu", c->T, s);
        if (kind != RP_TASK_DMS) {
            if (c->n_coherences < 1 || c->n_coherences > RP_TASK_MAX_COH)
                return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->n_coherences is %zu, expected 1..%d",
                                c->n_coherences, RP_TASK_MAX_COH);
            for (size_t i = 0; i < c->n_coherences; i++)
                if (!(c->coherences[i] >= 0.0 && c->coherences[i] <= 1.0))
                    return rp__fail(err, RP_ERR_INVALID_ARG,
                                    "cfg->coherences[%zu] is %g, expected in [0, 1]", i,
                                    c->coherences[i]);
        }
        if (!(c->fix_weight >= 0.0 && c->fix_weight <= 1.0))
            return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->fix_weight is %g, expected in [0, 1]",
                            c->fix_weight);
        break;
    }
    }
    if (!(c->sigma >= 0.0 && isfinite(c->sigma)))
        return rp__fail(err, RP_ERR_INVALID_ARG, "cfg->sigma is %g, expected finite and >= 0",
                        c->sigma);
    return RP_OK;
}

rp_status rp_task_config_check(rp_task_kind kind, const rp_task_config *cfg, char *msg,
                               size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st;
    rp_task_config c;
    if (!cfg)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "cfg is NULL");
    else
        st = check_cfg(kind, cfg, &c, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_task_create(rp_task **out, rp_task_kind kind, const rp_task_config *cfg, char *msg,
                         size_t msglen)
{
    return rp_task_create_alloc(out, kind, cfg, NULL, msg, msglen);
}

rp_status rp_task_create_alloc(rp_task **out, rp_task_kind kind, const rp_task_config *cfg,
                               const rp_allocator *allocator, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp__copy_msg(msg, msglen, "");
    if (!out)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    rp_task_config c;
    rp_status st = check_cfg(kind, cfg, &c, err);
    rp_allocator al;
    if (st == RP_OK)
        st = rp__allocator_copy(&al, allocator, err);
    if (st != RP_OK) {
        rp__copy_msg(msg, msglen, err);
        return st;
    }
    rp_task *t = rp__calloc(&al, 1, sizeof *t);
    if (!t)
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM, "out of memory for the task");
    t->al = al;
    t->kind = kind;
    t->cfg = c;
    t->cfg.struct_size = sizeof c;
    t->loss = is_ce(kind) ? RP_LOSS_CE : RP_LOSS_MSE;
    switch (kind) {
    case RP_TASK_2AF:
    case RP_TASK_DMS:
        t->n_in = 3;
        t->n_out = 3;
        break;
    case RP_TASK_CXT:
        t->n_in = 7;
        t->n_out = 3;
        break;
    default:
        t->n_in = 1;
        t->n_out = 1;
        break;
    }
    t->T = is_ce(kind) ? periods_sum(kind, &c) : c.T;
    t->cfg.T = t->T;
    if (kind == RP_TASK_SINES) {
        rp_rng r;
        rp__rng_seed(&r, c.pattern_seed);
        for (size_t m = 0; m < c.n_sines; m++) {
            t->amp[m] = (0.5 + 0.5 * rp__rng_uniform(&r)) / (double)c.n_sines;
            t->period[m] = (double)c.T / (double)(m + 1);
            t->phase[m] = TWO_PI * rp__rng_uniform(&r);
        }
    }
    *out = t;
    return RP_OK;
}

void rp_task_free(rp_task *task)
{
    if (task)
        rp__free(&task->al, task);
}

const char *rp_task_last_error(const rp_task *task) { return task ? task->err : "task is NULL"; }

rp_status rp_task_get_dims(const rp_task *task, size_t *n_in, size_t *n_out, size_t *T,
                           rp_loss *loss)
{
    RP__CLEAR_ERR(task);
    if (!task)
        return RP_ERR_INVALID_ARG;
    if (n_in)
        *n_in = task->n_in;
    if (n_out)
        *n_out = task->n_out;
    if (T)
        *T = task->T;
    if (loss)
        *loss = task->loss;
    return RP_OK;
}

rp_status rp_task_get_config(const rp_task *task, rp_task_config *cfg, size_t size)
{
    RP__CLEAR_ERR(task);
    if (!task)
        return RP_ERR_INVALID_ARG;
    if (!cfg)
        return rp__fail((char *)task->err, RP_ERR_INVALID_ARG, "cfg is NULL");
    return rp__cfg_get(&task_cfg_type, cfg, size, &task->cfg, (char *)task->err);
}

/* ---- one trial --------------------------------------------------------- */

/* Element (t, b, i) of a T*B*n array. */
#define AT(a, t, b, i, B, n) ((a)[((t) * (B) + (b)) * (n) + (i)])

static double bit(rp_rng *r) { return (rp__rng_u64(r) >> 63) ? 1.0 : 0.0; }

/* copy, delayed_xor, add: the stream s_t is the input. */
static void trial_stream(const rp_task *tk, rp_rng *r, size_t b, size_t B, double *x, double *tg,
                         double *m)
{
    const rp_task_config *c = &tk->cfg;
    size_t T = tk->T;
    for (size_t t = 0; t < T; t++)
        AT(x, t, b, 0, B, 1) = bit(r);
    for (size_t t = 0; t < T; t++) {
        double y = 0.0, w = 1.0;
        switch (tk->kind) {
        case RP_TASK_COPY:
            if (t < c->delay)
                w = 0.0;
            else
                y = AT(x, t - c->delay, b, 0, B, 1);
            break;
        case RP_TASK_DELAYED_XOR:
            if (t < 2 * c->delay)
                w = 0.0;
            else
                y = (AT(x, t - c->delay, b, 0, B, 1) != AT(x, t - 2 * c->delay, b, 0, B, 1)) ? 1.0
                                                                                             : 0.0;
            break;
        default: { /* add */
            size_t lag = c->t1 > c->t2 ? c->t1 : c->t2;
            if (t < lag)
                w = 0.0;
            else
                y = 0.5 + 0.5 * AT(x, t - c->t1, b, 0, B, 1) - 0.25 * AT(x, t - c->t2, b, 0, B, 1);
            break;
        }
        }
        AT(tg, t, b, 0, B, 1) = y;
        m[t * B + b] = w;
    }
}

static void trial_sines(const rp_task *tk, size_t b, size_t B, double *x, double *tg, double *m)
{
    for (size_t t = 0; t < tk->T; t++) {
        AT(x, t, b, 0, B, 1) = t == 0 ? 1.0 : 0.0;
        double y = 0.0;
        for (size_t k = 0; k < tk->cfg.n_sines; k++)
            y += tk->amp[k] * sin(TWO_PI * (double)t / tk->period[k] + tk->phase[k]);
        AT(tg, t, b, 0, B, 1) = y;
        m[t * B + b] = 1.0;
    }
}

/* Evidence for choice k in {1, 2} with coherence coh on inputs i0, i0+1 at step t. */
static void evidence(double *x, size_t t, size_t b, size_t B, size_t n_in, size_t i0, int k,
                     double coh, double sigma, rp_rng *r)
{
    double hi = 0.5 * (1.0 + coh), lo = 0.5 * (1.0 - coh);
    AT(x, t, b, i0, B, n_in) = (k == 1 ? hi : lo) + sigma * rp__rng_normal(r);
    AT(x, t, b, i0 + 1, B, n_in) = (k == 1 ? lo : hi) + sigma * rp__rng_normal(r);
}

static size_t draw_index(rp_rng *r, size_t n) { return (size_t)(rp__rng_uniform(r) * (double)n); }

/* 2af, dms, cxt.  x is zeroed by the caller. */
static void trial_decision(const rp_task *tk, rp_rng *r, size_t b, size_t B, double *x, double *tg,
                           double *m)
{
    const rp_task_config *c = &tk->cfg;
    size_t n = tk->n_in, T = tk->T;
    size_t t_dec = T - c->decision; /* the decision period is last */
    int answer;
    if (tk->kind == RP_TASK_2AF) {
        int k = bit(r) ? 2 : 1;
        double coh = c->coherences[draw_index(r, c->n_coherences)];
        for (size_t t = c->fixation; t < c->fixation + c->stimulus; t++)
            evidence(x, t, b, B, n, 1, k, coh, c->sigma, r);
        answer = k;
    } else if (tk->kind == RP_TASK_CXT) {
        int k1 = bit(r) ? 2 : 1, k2 = bit(r) ? 2 : 1;
        double c1 = c->coherences[draw_index(r, c->n_coherences)];
        double c2 = c->coherences[draw_index(r, c->n_coherences)];
        int ctx = bit(r) ? 1 : 0; /* 0: attend modality 1, 1: modality 2 */
        for (size_t t = c->fixation; t < c->fixation + c->stimulus; t++) {
            evidence(x, t, b, B, n, 1, k1, c1, c->sigma, r);
            evidence(x, t, b, B, n, 3, k2, c2, c->sigma, r);
        }
        for (size_t t = 0; t < t_dec; t++)
            AT(x, t, b, 5 + (size_t)ctx, B, n) = 1.0;
        answer = ctx ? k2 : k1;
    } else { /* dms */
        int sample = bit(r) ? 1 : 0;
        int match = bit(r) ? 1 : 0;
        int test = match ? sample : 1 - sample;
        size_t t0 = c->fixation, t1 = t0 + c->stimulus + c->delay;
        for (size_t t = t0; t < t0 + c->stimulus; t++)
            for (size_t i = 0; i < 2; i++)
                AT(x, t, b, 1 + i, B, n) =
                    ((int)i == sample ? 1.0 : 0.0) + c->sigma * rp__rng_normal(r);
        for (size_t t = t1; t < t1 + c->test; t++)
            for (size_t i = 0; i < 2; i++)
                AT(x, t, b, 1 + i, B, n) =
                    ((int)i == test ? 1.0 : 0.0) + c->sigma * rp__rng_normal(r);
        answer = match ? 1 : 2;
    }
    for (size_t t = 0; t < T; t++) {
        int dec = t >= t_dec;
        AT(x, t, b, 0, B, n) = dec ? 0.0 : 1.0;
        tg[t * B + b] = dec ? (double)answer : 0.0;
        m[t * B + b] = dec ? 1.0 : c->fix_weight;
    }
}

rp_status rp_task_sample(const rp_task *task, size_t B, uint64_t seed, double *x, double *target,
                         double *mask)
{
    RP__CLEAR_ERR(task);
    if (!task)
        return RP_ERR_INVALID_ARG;
    char *err = (char *)task->err; /* the message is not part of its value */
    if (B == 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "B is 0, expected >= 1");
    if (!x && task->n_in)
        return rp__fail(err, RP_ERR_INVALID_ARG, "x is NULL");
    if (!target)
        return rp__fail(err, RP_ERR_INVALID_ARG, "target is NULL");
    if (!mask)
        return rp__fail(err, RP_ERR_INVALID_ARG, "mask is NULL");
    int ok = 1;
    size_t nx = rp__mul(rp__mul(task->T, B, &ok), task->n_in, &ok);
    if (!ok)
        return rp__fail(err, RP_ERR_INVALID_ARG, "B is %zu: T*B*n_in overflows", B);
    if (nx)
        memset(x, 0, nx * sizeof(double));
    for (size_t b = 0; b < B; b++) {
        rp_rng r;
        rp__rng_seed(&r, rp__seed_mix(seed, b));
        switch (task->kind) {
        case RP_TASK_SINES:
            trial_sines(task, b, B, x, target, mask);
            break;
        case RP_TASK_COPY:
        case RP_TASK_DELAYED_XOR:
        case RP_TASK_ADD:
            trial_stream(task, &r, b, B, x, target, mask);
            break;
        default:
            trial_decision(task, &r, b, B, x, target, mask);
            break;
        }
    }
    return RP_OK;
}

/* The checks rp_task_score and rp_task_score_choices share: B, the arrays,
   T*B*n_out without overflow, finite outputs, valid targets and mask. */
static rp_status score_args(const rp_task *task, size_t B, const double *y, const double *target,
                            const double *mask)
{
    char *err = (char *)task->err; /* the message is not part of its value */
    if (B == 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "B is 0, expected >= 1");
    if (!y)
        return rp__fail(err, RP_ERR_INVALID_ARG, "y is NULL");
    if (!target)
        return rp__fail(err, RP_ERR_INVALID_ARG, "target is NULL");
    size_t T = task->T, no = task->n_out;
    int ok = 1;
    size_t rows = rp__mul(T, B, &ok);
    if (!ok || !rp__mul(rows, no, &ok) || !ok)
        return rp__fail(err, RP_ERR_INVALID_ARG, "B is %zu: T*B*n_out overflows", B);
    size_t bad = rp__find_nonfinite(y, rows * no);
    if (bad < rows * no)
        return rp__fail(err, RP_ERR_NONFINITE, "y[%zu] (step %zu, trial %zu) is not finite", bad,
                        bad / no / B, bad / no % B);
    if (task->loss == RP_LOSS_CE) {
        for (size_t i = 0; i < rows; i++)
            if (!(target[i] >= 0.0 && target[i] < (double)no && target[i] == floor(target[i])))
                return rp__fail(err, RP_ERR_INVALID_ARG,
                                "target[%zu] is %g, expected a class index in 0..%zu", i, target[i],
                                no - 1);
    } else {
        /* as rp_rule_trial checks them: a NaN target or mask would make the
           loss NaN with RP_OK */
        bad = rp__find_nonfinite(target, rows * no);
        if (bad < rows * no)
            return rp__fail(err, RP_ERR_NONFINITE,
                            "target[%zu] (step %zu, trial %zu) is %g, expected a finite value", bad,
                            bad / no / B, bad / no % B, target[bad]);
    }
    if (mask)
        for (size_t i = 0; i < rows; i++)
            if (!(mask[i] >= 0.0 && mask[i] <= 1.0))
                return rp__fail(err, RP_ERR_INVALID_ARG,
                                "mask[%zu] (step %zu, trial %zu) is %g, expected a value in [0, 1]",
                                i, i / B, i % B, mask[i]);
    return RP_OK;
}

rp_status rp_task_score(const rp_task *task, size_t B, const double *y, const double *target,
                        const double *mask, double *loss, double *accuracy)
{
    RP__CLEAR_ERR(task);
    if (!task)
        return RP_ERR_INVALID_ARG;
    rp_status st = score_args(task, B, y, target, mask);
    if (st != RP_OK)
        return st;
    size_t T = task->T, no = task->n_out, rows = T * B;
    double total = 0.0, hits = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < rows; i++) {
        double w = mask ? mask[i] : 1.0;
        if (w == 0.0)
            continue; /* no loss and no accuracy; 0 * Inf would be NaN */
        const double *yi = y + i * no;
        if (task->loss == RP_LOSS_CE) {
            size_t k = (size_t)target[i];
            /* -log softmax(y)[k], stably (MODEL.md §3) */
            size_t am = 0;
            for (size_t o = 1; o < no; o++)
                if (yi[o] > yi[am])
                    am = o;
            double z = 0.0;
            for (size_t o = 0; o < no; o++)
                z += exp(yi[o] - yi[am]);
            total += w * (log(z) + yi[am] - yi[k]);
            if (w > 0.0 && k != 0) {
                count++;
                hits += am == k;
            }
        } else {
            const double *ti = target + i * no;
            double s = 0.0;
            int right = 1;
            for (size_t o = 0; o < no; o++) {
                double d = yi[o] - ti[o];
                s += d * d;
                right &= fabs(d) < 0.5;
            }
            total += w * 0.5 * s;
            if (w > 0.0) {
                count++;
                hits += right;
            }
        }
    }
    int has_acc =
        task->loss == RP_LOSS_CE || task->kind == RP_TASK_COPY || task->kind == RP_TASK_DELAYED_XOR;
    if (loss)
        *loss = total / (double)rows;
    if (accuracy)
        *accuracy = (has_acc && count) ? hits / (double)count : NAN;
    return RP_OK;
}

rp_status rp_task_score_choices(const rp_task *task, size_t B, const double *y,
                                const double *target, const double *mask, double *response_rate,
                                double *choice_acc)
{
    RP__CLEAR_ERR(task);
    if (!task)
        return RP_ERR_INVALID_ARG;
    if (task->loss != RP_LOSS_CE)
        return rp__fail((char *)task->err, RP_ERR_UNSUPPORTED,
                        "task %s has no classes to choose (its loss is MSE)",
                        rp_task_kind_name(task->kind));
    rp_status st = score_args(task, B, y, target, mask);
    if (st != RP_OK)
        return st;
    size_t T = task->T, no = task->n_out, trials = 0, responded = 0, correct = 0;
    for (size_t b = 0; b < B; b++) {
        /* the decision steps are the ones rp_task_score's accuracy counts;
           the answer is the target class of the first one */
        size_t answer = 0, steps = 0, choice = 0;
        double best = 0.0;
        for (size_t o = 0; o < no; o++) { /* class by class: allocates nothing */
            double sum = 0.0;
            steps = 0;
            for (size_t t = 0; t < T; t++) {
                size_t i = t * B + b;
                if ((mask && !(mask[i] > 0.0)) || target[i] == 0.0)
                    continue;
                if (!steps++)
                    answer = (size_t)target[i];
                sum += y[i * no + o];
            }
            if (o == 0 || sum > best) { /* ties go to the lower class */
                best = sum;
                choice = o;
            }
        }
        if (!steps)
            continue; /* a trial without a decision */
        trials++;
        responded += choice != 0;
        correct += choice == answer;
    }
    if (response_rate)
        *response_rate = trials ? (double)responded / (double)trials : NAN;
    if (choice_acc)
        *choice_acc = trials ? (double)correct / (double)trials : NAN;
    return RP_OK;
}
