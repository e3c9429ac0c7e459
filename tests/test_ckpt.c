/* Checkpoints (rp_checkpoint_save / rp_checkpoint_load, rnnplast.h Files).

   The claim: a training run stopped after iteration I, saved, freed and
   resumed from the file ends bit-identical (memcmp) to a run that never
   stopped.  The oracle is that uninterrupted run, computed in the same
   process from the same seeds.  Four configurations cover the state that
   must survive: BPTT (per trial) and TBPTT with Adam and SGD-momentum;
   e-prop and RFLO online (rp_net_step + rp_rule_step on the net's own noisy,
   never reset trajectory, so the noise generator's position, its Box-Muller
   spare and the live state all enter the gradient); random feedback for
   RFLO; weight decay, clipping, a frozen block and sign constraints for the
   SGD run.  Controls show the comparison can fail: the same resume with the
   noise generator reseeded, or with the optimizer's moments cleared, ends
   elsewhere.  Then: truncated, bit-flipped and crafted files (each with a
   valid CRC, so the field checks themselves are exercised) are refused with
   RP_ERR_FORMAT and a message and return no handle; mismatched handles and
   arguments are refused. */
#include "testutil.h"

#include "ckpt_v1_fixture.h"
#include "ckpt_v1_run.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

enum { ITERS = 6, STOP = 3 };

typedef struct cfg {
    const char *name;
    rp_task_kind task;
    rp_rule_kind rule;
    rp_optim_kind optim;
    rp_form form;
    rp_activation act;
    int online;
} cfg;

static const cfg cfgs[] = {
    {"bptt-adam", RP_TASK_2AF, RP_RULE_BPTT, RP_OPTIM_ADAM, RP_FORM_VOLTAGE, RP_ACT_TANH, 0},
    {"tbptt-sgd", RP_TASK_SINES, RP_RULE_TBPTT, RP_OPTIM_SGD, RP_FORM_RATE, RP_ACT_TANH, 0},
    {"eprop-sgd-online", RP_TASK_2AF, RP_RULE_EPROP, RP_OPTIM_SGD, RP_FORM_VOLTAGE, RP_ACT_RELU, 1},
    {"rflo-adam-online", RP_TASK_SINES, RP_RULE_RFLO, RP_OPTIM_ADAM, RP_FORM_RATE, RP_ACT_TANH, 1},
};

/* One training run's handles and data. */
typedef struct run {
    const cfg *c;
    rp_task *task;
    rp_net *net;
    rp_rule *rule;
    rp_optim *opt;
    rp_grad *g;
    size_t n_in, n_out, T, ny, B;
    double *x, *tg, *m, *y;
    double loss; /* the last iteration's: training loss plus the noisy run's output sum */
} run;

static char dir[64];

static void path_in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/rp_test_ckpt_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    const char *names[] = {"a.ck", "b.ck", "c.ck", "bad.ck", "full.ck", "res.ck"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        path_in_dir(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void task_open(run *r, const cfg *c)
{
    r->c = c;
    rp_task_config tc;
    rp_task_config_init(&tc, sizeof tc, c->task);
    if (c->task == RP_TASK_2AF) {
        tc.fixation = 1;
        tc.stimulus = 3;
        tc.delay = 1;
        tc.decision = 2;
        tc.T = 0;
    } else {
        tc.T = 8;
    }
    RP_CK(rp_task_create(&r->task, c->task, &tc, NULL, 0), r->task, rp_task_last_error);
    rp_loss loss;
    RP_CK(rp_task_get_dims(r->task, &r->n_in, &r->n_out, &r->T, &loss), r->task,
          rp_task_last_error);
    r->ny = loss == RP_LOSS_CE ? 1 : r->n_out;
    r->B = 3;
    r->x = calloc(r->T * r->B * r->n_in + 1, sizeof(double));
    r->tg = calloc(r->T * r->B * r->ny, sizeof(double));
    r->m = calloc(r->T * r->B, sizeof(double));
    r->y = calloc(r->T * r->B * r->n_out, sizeof(double));
    ck_assert(r->x && r->tg && r->m && r->y);
}

/* A fresh network, rule and optimizer for c (the state at iteration 0). */
static void run_init(run *r, const cfg *c)
{
    memset(r, 0, sizeof *r);
    task_open(r, c);
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = r->n_in;
    nc.n_rec = 5; /* B*N = 15 normals a step: a Box-Muller spare is often pending */
    nc.n_out = r->n_out;
    nc.batch = r->B;
    nc.form = c->form;
    nc.act = c->act;
    nc.alpha = 0.8;
    nc.noise_std = 0.05;
    nc.seed = 42;
    RP_CK(rp_net_create(&r->net, &nc, NULL, 0), r->net, rp_net_last_error);
    rp_init *init = NULL;
    RP_CK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), init, rp_init_last_error);
    RP_CK(rp_init_set_gain(init, 0.9), init, rp_init_last_error);
    for (int p = RP_PARAM_W; p <= RP_PARAM_V; p++)
        if (p != RP_PARAM_B)
            RP_CK(rp_init_apply(init, r->net, (rp_param)p, 7 + (uint64_t)p), init,
                  rp_init_last_error);
    rp_init_free(init);
    size_t d1, d2, d3;
    rp_loss loss;
    RP_CK(rp_task_get_dims(r->task, &d1, &d2, &d3, &loss), r->task, rp_task_last_error);
    RP_CK(rp_rule_create(&r->rule, r->net, c->rule, NULL, 0), r->rule, rp_rule_last_error);
    RP_CK(rp_rule_set_loss(r->rule, loss), r->rule, rp_rule_last_error);
    if (c->rule == RP_RULE_TBPTT)
        RP_CK(rp_rule_set_truncation(r->rule, 3), r->rule, rp_rule_last_error);
    if (c->rule == RP_RULE_RFLO)
        RP_CK(rp_rule_set_feedback(r->rule, RP_FEEDBACK_RANDOM, 99), r->rule, rp_rule_last_error);
    RP_CK(rp_optim_create(&r->opt, r->net, c->optim, NULL, 0), r->opt, rp_optim_last_error);
    RP_CK(rp_optim_set_lr(r->opt, 0.02), r->opt, rp_optim_last_error);
    if (c->optim == RP_OPTIM_SGD) {
        RP_CK(rp_optim_set_momentum(r->opt, 0.9), r->opt, rp_optim_last_error);
        RP_CK(rp_optim_set_weight_decay(r->opt, 0.01), r->opt, rp_optim_last_error);
        RP_CK(rp_optim_set_clip(r->opt, 0.5), r->opt, rp_optim_last_error);
        RP_CK(rp_optim_set_trainable(r->opt, RP_PARAM_C, 0), r->opt, rp_optim_last_error);
        RP_CK(rp_optim_set_structure(r->opt, r->net, RP_PARAM_W, 1, 1), r->opt,
              rp_optim_last_error);
    } else {
        RP_CK(rp_optim_set_betas(r->opt, 0.8, 0.99, 1e-7), r->opt, rp_optim_last_error);
    }
    RP_CK(rp_grad_create(&r->g, r->net, NULL, 0), r->g, rp_grad_last_error);
}

static void run_free(run *r)
{
    rp_task_free(r->task);
    rp_net_free(r->net);
    rp_rule_free(r->rule);
    rp_optim_free(r->opt);
    rp_grad_free(r->g);
    free(r->x);
    free(r->tg);
    free(r->m);
    free(r->y);
    memset(r, 0, sizeof *r);
}

/* Iterations [from, to): the batch of iteration it comes from seed 1000 + it. */
static void train(run *r, size_t from, size_t to)
{
    const size_t B = r->B;
    for (size_t it = from; it < to; it++) {
        RP_CK(rp_task_sample(r->task, B, 1000 + it, r->x, r->tg, r->m), r->task,
              rp_task_last_error);
        RP_CK(rp_grad_zero(r->g), r->g, rp_grad_last_error);
        double loss = 0.0;
        if (r->c->online) {
            /* The net's own noisy trajectory, continued across iterations. */
            RP_CK(rp_rule_begin(r->rule, r->net), r->rule, rp_rule_last_error);
            for (size_t t = 0; t < r->T; t++) {
                const double *xt = r->n_in ? r->x + t * B * r->n_in : NULL;
                RP_CK(rp_net_step(r->net, xt, NULL), r->net, rp_net_last_error);
                RP_CK(rp_rule_step(r->rule, r->net, xt, r->tg + t * B * r->ny, r->m + t * B, r->g),
                      r->rule, rp_rule_last_error);
            }
            RP_CK(rp_rule_end(r->rule, &loss), r->rule, rp_rule_last_error);
        } else {
            RP_CK(rp_rule_trial(r->rule, r->net, r->T, r->x, r->tg, r->m, r->g, &loss), r->rule,
                  rp_rule_last_error);
            /* Trials ignore the noise; a noisy run on the live state (not
               reset) makes the generator and the state part of the result. */
            RP_CK(rp_net_run(r->net, r->T, r->x, r->y), r->net, rp_net_last_error);
            for (size_t i = 0; i < r->T * B * r->n_out; i++)
                loss += r->y[i];
        }
        RP_CK(rp_optim_step(r->opt, r->net, r->g), r->opt, rp_optim_last_error);
        r->loss = loss;
    }
}

static void save(const run *r, const char *path, uint64_t it)
{
    char msg[256];
    rp_status st = rp_checkpoint_save(r->net, r->opt, r->rule, path, it, "cfg", 3, msg, sizeof msg);
    ck_assert_msg(st == RP_OK, "rp_checkpoint_save: %s: %s", rp_status_string(st), msg);
    ck_assert_str_eq(msg, "");
}

/* Replace r's net, rule and optimizer by the checkpoint's. */
static void load(run *r, const char *path, uint64_t *it)
{
    rp_net_free(r->net);
    rp_rule_free(r->rule);
    rp_optim_free(r->opt);
    rp_grad_free(r->g);
    r->net = NULL;
    r->rule = NULL;
    r->opt = NULL;
    char msg[256], user[8] = "";
    size_t ulen = 0;
    rp_status st = rp_checkpoint_load(&r->net, &r->opt, &r->rule, path, it, user, sizeof user,
                                      &ulen, msg, sizeof msg);
    ck_assert_msg(st == RP_OK, "rp_checkpoint_load: %s: %s", rp_status_string(st), msg);
    ck_assert(r->net && r->opt && r->rule);
    ck_assert_uint_eq(ulen, 3);
    ck_assert(memcmp(user, "cfg", 3) == 0);
    RP_CK(rp_grad_create(&r->g, r->net, NULL, 0), r->g, rp_grad_last_error);
}

/* Every parameter of a and b, compared bit for bit; returns 1 if equal. */
static int same_params(const rp_net *a, const rp_net *b)
{
    int eq = 1;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t len = 0;
        ck_assert_int_eq(rp_net_get_param_len(a, (rp_param)p, &len), RP_OK);
        double *pa = calloc(len + 1, sizeof(double)), *pb = calloc(len + 1, sizeof(double));
        ck_assert(pa && pb);
        ck_assert_int_eq(rp_net_get_param(a, (rp_param)p, pa, len), RP_OK);
        ck_assert_int_eq(rp_net_get_param(b, (rp_param)p, pb, len), RP_OK);
        eq = eq && memcmp(pa, pb, len * sizeof(double)) == 0;
        free(pa);
        free(pb);
    }
    return eq;
}

/* ---- resume == uninterrupted ------------------------------------------- */

START_TEST(resume_is_bit_identical)
{
    const cfg *c = &cfgs[_i];
    char pa[128], pb[128], pfull[128], pres[128];
    path_in_dir(pa, sizeof pa, "a.ck");
    path_in_dir(pb, sizeof pb, "b.ck");
    path_in_dir(pfull, sizeof pfull, "full.ck");
    path_in_dir(pres, sizeof pres, "res.ck");

    run full;
    run_init(&full, c);
    train(&full, 0, ITERS);
    save(&full, pfull, ITERS);

    run part;
    run_init(&part, c);
    train(&part, 0, STOP);
    save(&part, pa, STOP);
    run_free(&part);
    run_init(&part, c); /* fresh handles, then replaced: nothing survives but the file */
    uint64_t it = 0;
    load(&part, pa, &it);
    ck_assert_uint_eq(it, STOP);
    /* The loaded state saves to the same bytes. */
    save(&part, pb, it);
    size_t la, lb;
    unsigned char *ba = tu_read_file(pa, &la), *bb = tu_read_file(pb, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(ba, bb, la) == 0, "%s: a loaded checkpoint saves differently", c->name);
    free(ba);
    free(bb);

    train(&part, (size_t)it, ITERS);
    ck_assert_msg(same_params(full.net, part.net), "%s: parameters differ after resume", c->name);
    ck_assert_msg(memcmp(&full.loss, &part.loss, sizeof(double)) == 0,
                  "%s: final loss %.17g, uninterrupted %.17g", c->name, part.loss, full.loss);
    /* Moments, step count, live state, generator and feedback: the final
       checkpoints hold them all and must match byte for byte. */
    save(&part, pres, ITERS);
    ba = tu_read_file(pfull, &la);
    bb = tu_read_file(pres, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(ba, bb, la) == 0, "%s: final state differs after resume", c->name);
    free(ba);
    free(bb);

    /* Controls: the comparison detects a lost generator position or lost
       moments (so the identity above is not vacuous). */
    run ctl;
    run_init(&ctl, c);
    load(&ctl, pa, &it);
    rp_net_config nc;
    ck_assert_int_eq(rp_net_get_config(ctl.net, &nc, sizeof nc), RP_OK);
    RP_CK(rp_net_set_noise(ctl.net, nc.noise_std, nc.seed), ctl.net, rp_net_last_error);
    train(&ctl, (size_t)it, ITERS);
    ck_assert_msg(!same_params(full.net, ctl.net) || memcmp(&full.loss, &ctl.loss, sizeof(double)),
                  "%s: reseeding the noise changed nothing: the test cannot see the generator",
                  c->name);
    run_free(&ctl);
    run_init(&ctl, c);
    load(&ctl, pa, &it);
    RP_CK(rp_optim_reset(ctl.opt), ctl.opt, rp_optim_last_error);
    train(&ctl, (size_t)it, ITERS);
    ck_assert_msg(!same_params(full.net, ctl.net), "%s: clearing the moments changed nothing",
                  c->name);
    run_free(&ctl);

    run_free(&full);
    run_free(&part);
}
END_TEST

/* ---- an online stream saved mid-trial ---------------------------------

   The simulator's case (rnnplast.h, rp_checkpoint_save): a stream of SEQ
   steps saved after any step k (and between rp_net_step and rp_rule_step of
   step k), then loaded — freed and reloaded in this process, and in a forked
   child that only has the file — and finished, ends bit for bit as the
   stream that never stopped: the gradient accumulated over the stream (the
   caller's, carried in the user bytes), the live state, rp_rule_end's mean
   loss, and a checkpoint taken before rp_rule_end (it holds the traces, the
   position, the loss sum, the generator) compared byte for byte.  Cases:
   e-prop (symmetric feedback), RFLO (random) and RTRL, voltage and rate
   forms, with and without noise, MSE and CE. */

enum { SEQ = 5, SB = 2, SN = 4, SIN = 2, SOUT = 3 };

typedef struct scase {
    rp_rule_kind kind;
    rp_form form;
    double noise;
    rp_loss loss;
} scase;

static scase scase_of(int i)
{
    static const rp_rule_kind kinds[3] = {RP_RULE_EPROP, RP_RULE_RFLO, RP_RULE_RTRL};
    scase c = {kinds[i % 3], (i / 3) % 2 ? RP_FORM_RATE : RP_FORM_VOLTAGE, (i / 6) % 2 ? 0.1 : 0.0,
               (i / 12) % 2 ? RP_LOSS_CE : RP_LOSS_MSE};
    return c;
}

/* The stream's data: inputs, targets (MSE values or CE classes), masks. */
typedef struct sdata {
    double x[SEQ * SB * SIN], tg[SEQ * SB * SOUT], m[SEQ * SB];
} sdata;

static void sdata_fill(sdata *d, const scase *c)
{
    tu_fill(d->x, sizeof d->x / sizeof *d->x, -1.0, 1.0, 11);
    tu_fill(d->tg, sizeof d->tg / sizeof *d->tg, -1.0, 1.0, 12);
    if (c->loss == RP_LOSS_CE)
        for (size_t i = 0; i < SEQ * SB; i++)
            d->tg[i] = (double)(i * 7 % SOUT);
    tu_fill(d->m, sizeof d->m / sizeof *d->m, 0.2, 1.0, 13);
}

static const double *tg_at(const sdata *d, const scase *c, size_t t)
{
    return d->tg + t * SB * (c->loss == RP_LOSS_CE ? 1 : SOUT);
}

/* What a finished stream leaves. */
typedef struct sresult {
    double grad[SN * SN + SN * SIN + SN + SOUT * SN + SOUT];
    double state[SB * SN];
    double loss;
} sresult;

typedef struct srun {
    rp_net *net;
    rp_rule *rule;
    rp_grad *g;
} srun;

static void srun_free(srun *r)
{
    rp_net_free(r->net);
    rp_rule_free(r->rule);
    rp_grad_free(r->g);
    memset(r, 0, sizeof *r);
}

/* Handles at the stream's start: a net stepped twice (a live, noisy state),
   then rp_rule_begin. */
static rp_status srun_init(srun *r, const scase *c, const sdata *d)
{
    memset(r, 0, sizeof *r);
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = SIN;
    nc.n_rec = SN;
    nc.n_out = SOUT;
    nc.batch = SB;
    nc.form = c->form;
    nc.act = RP_ACT_TANH;
    nc.alpha = 0.7;
    nc.noise_std = c->noise;
    nc.seed = 5;
    rp_status st = rp_net_create(&r->net, &nc, NULL, 0);
    rp_init *init = NULL;
    if (st == RP_OK)
        st = rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0);
    for (int p = RP_PARAM_W; p <= RP_PARAM_V && st == RP_OK; p++)
        st = rp_init_apply(init, r->net, (rp_param)p, 20 + (uint64_t)p);
    rp_init_free(init);
    if (st == RP_OK)
        st = rp_rule_create(&r->rule, r->net, c->kind, NULL, 0);
    if (st == RP_OK)
        st = rp_rule_set_loss(r->rule, c->loss);
    if (st == RP_OK && c->kind == RP_RULE_RFLO)
        st = rp_rule_set_feedback(r->rule, RP_FEEDBACK_RANDOM, 31);
    if (st == RP_OK)
        st = rp_grad_create(&r->g, r->net, NULL, 0);
    for (int t = 0; t < 2 && st == RP_OK; t++)
        st = rp_net_step(r->net, d->x + t * SB * SIN, NULL);
    if (st == RP_OK)
        st = rp_rule_begin(r->rule, r->net);
    return st;
}

/* Steps [from, to); with half, step `from`'s rp_net_step is already done. */
static rp_status srun_steps(srun *r, const scase *c, const sdata *d, size_t from, size_t to,
                            int half)
{
    rp_status st = RP_OK;
    for (size_t t = from; t < to && st == RP_OK; t++) {
        const double *xt = d->x + t * SB * SIN;
        if (!(half && t == from))
            st = rp_net_step(r->net, xt, NULL);
        if (st == RP_OK)
            st = rp_rule_step(r->rule, r->net, xt, tg_at(d, c, t), d->m + t * SB, r->g);
    }
    return st;
}

/* The gradient, parameter by parameter, into g (sizeof sresult.grad). */
static rp_status grad_out(const rp_grad *g, double *out)
{
    size_t lens[RP_PARAM_COUNT] = {SN * SN, SN * SIN, SN, SOUT * SN, SOUT}, off = 0;
    rp_status st = RP_OK;
    for (int p = 0; p < RP_PARAM_COUNT && st == RP_OK; p++) {
        st = rp_grad_get(g, (rp_param)p, out + off, lens[p]);
        off += lens[p];
    }
    return st;
}

static rp_status grad_in(rp_grad *g, const double *in)
{
    size_t lens[RP_PARAM_COUNT] = {SN * SN, SN * SIN, SN, SOUT * SN, SOUT}, off = 0;
    rp_status st = RP_OK;
    for (int p = 0; p < RP_PARAM_COUNT && st == RP_OK; p++) {
        st = rp_grad_set(g, (rp_param)p, in + off, lens[p]);
        off += lens[p];
    }
    return st;
}

/* Save r with its gradient as the user bytes. */
static rp_status srun_save(const srun *r, const char *path)
{
    double g[sizeof((sresult *)0)->grad / sizeof(double)];
    rp_status st = grad_out(r->g, g);
    char msg[256];
    return st == RP_OK
               ? rp_checkpoint_save(r->net, NULL, r->rule, path, 0, g, sizeof g, msg, sizeof msg)
               : st;
}

static rp_status srun_load(srun *r, const char *path)
{
    memset(r, 0, sizeof *r);
    double g[sizeof((sresult *)0)->grad / sizeof(double)];
    size_t ulen = 0;
    char msg[256];
    rp_status st = rp_checkpoint_load(&r->net, NULL, &r->rule, path, NULL, g, sizeof g, &ulen, msg,
                                      sizeof msg);
    if (st == RP_OK && ulen != sizeof g)
        st = RP_ERR_FORMAT;
    if (st == RP_OK)
        st = rp_grad_create(&r->g, r->net, NULL, 0);
    if (st == RP_OK)
        st = grad_in(r->g, g);
    return st;
}

/* Finish r from step `from` (half as srun_steps): checkpoint to `last`
   before rp_rule_end, then the results. */
static rp_status srun_finish(srun *r, const scase *c, const sdata *d, size_t from, int half,
                             const char *last, sresult *out)
{
    memset(out, 0, sizeof *out);
    rp_status st = srun_steps(r, c, d, from, SEQ, half);
    if (st == RP_OK)
        st = srun_save(r, last);
    if (st == RP_OK)
        st = rp_rule_end(r->rule, &out->loss);
    if (st == RP_OK)
        st = grad_out(r->g, out->grad);
    if (st == RP_OK)
        st = rp_net_get_state(r->net, out->state, SB * SN);
    return st;
}

/* Load `ck` and finish the stream (the part a resumed process runs). */
static rp_status resume(const char *ck, const scase *c, const sdata *d, size_t k, int half,
                        const char *last, sresult *out)
{
    srun r;
    rp_status st = srun_load(&r, ck);
    if (st == RP_OK)
        st = srun_finish(&r, c, d, k, half, last, out);
    srun_free(&r);
    return st;
}

static void same_files(const char *a, const char *b, const char *what)
{
    size_t la, lb;
    unsigned char *ba = tu_read_file(a, &la), *bb = tu_read_file(b, &lb);
    ck_assert_msg(la == lb && memcmp(ba, bb, la) == 0,
                  "%s: the checkpoints before rp_rule_end differ", what);
    free(ba);
    free(bb);
}

static void same_result(const sresult *a, const sresult *b, const char *what)
{
    ck_assert_msg(memcmp(a->grad, b->grad, sizeof a->grad) == 0, "%s: gradient differs", what);
    ck_assert_msg(memcmp(a->state, b->state, sizeof a->state) == 0, "%s: state differs", what);
    ck_assert_msg(memcmp(&a->loss, &b->loss, sizeof a->loss) == 0, "%s: loss %.17g, expected %.17g",
                  what, a->loss, b->loss);
}

START_TEST(stream_resume_is_bit_identical)
{
    const scase c = scase_of(_i);
    sdata d;
    sdata_fill(&d, &c);
    char pk[128], pfull[128], pres[128], pres_out[128];
    path_in_dir(pk, sizeof pk, "a.ck");
    path_in_dir(pfull, sizeof pfull, "full.ck");
    path_in_dir(pres, sizeof pres, "res.ck");
    path_in_dir(pres_out, sizeof pres_out, "b.ck");

    /* the oracle: the stream never stopped */
    srun full;
    ck_assert_int_eq(srun_init(&full, &c, &d), RP_OK);
    sresult want;
    rp_status st = srun_finish(&full, &c, &d, 0, 0, pfull, &want);
    ck_assert_msg(st == RP_OK, "uninterrupted: %s", rp_status_string(st));
    srun_free(&full);
    ck_assert(want.loss > 0.0);

    for (size_t k = 0; k <= SEQ; k++) {
        for (int half = 0; half < 2 && !(half && k == SEQ); half++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s noise %g %s, saved after step %zu%s",
                     c.kind == RP_RULE_RTRL   ? "RTRL"
                     : c.kind == RP_RULE_RFLO ? "RFLO"
                                              : "e-prop",
                     c.form == RP_FORM_RATE ? "rate" : "voltage", c.noise,
                     c.loss == RP_LOSS_CE ? "CE" : "MSE", k, half ? " and a net step" : "");
            srun r;
            ck_assert_int_eq(srun_init(&r, &c, &d), RP_OK);
            st = srun_steps(&r, &c, &d, 0, k, 0);
            if (st == RP_OK && half)
                st = rp_net_step(r.net, d.x + k * SB * SIN, NULL);
            if (st == RP_OK)
                st = srun_save(&r, pk);
            ck_assert_msg(st == RP_OK, "%s: %s: %s", what, rp_status_string(st),
                          rp_rule_last_error(r.rule));
            srun_free(&r);
            /* in this process, from the file alone */
            sresult got;
            st = resume(pk, &c, &d, k, half, pres, &got);
            ck_assert_msg(st == RP_OK, "%s: resume: %s", what, rp_status_string(st));
            same_result(&got, &want, what);
            same_files(pres, pfull, what);
            /* in a fresh process: a child with only the file */
            if (k == 0 || k == 1 || k == SEQ - 1 || half) {
                fflush(NULL);
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                    sresult cr;
                    int bad = resume(pk, &c, &d, k, half, pres_out, &cr) != RP_OK;
                    FILE *f = bad ? NULL : fopen(pres, "wb");
                    bad = bad || !f || fwrite(&cr, sizeof cr, 1, f) != 1;
                    bad = (f && fclose(f) != 0) || bad;
                    _exit(bad ? 3 : 0);
                }
                int ws = 0;
                ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
                ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: the child failed (%d)",
                              what, ws);
                size_t n;
                unsigned char *b = tu_read_file(pres, &n);
                ck_assert_uint_eq(n, sizeof got);
                memcpy(&got, b, sizeof got);
                free(b);
                same_result(&got, &want, what);
                same_files(pres_out, pfull, what);
            }
            /* control: the traces matter (restarting the stream at the
               load point ends elsewhere), so the identity is not vacuous */
            if (k == SEQ - 1 && !half) {
                ck_assert_int_eq(srun_load(&r, pk), RP_OK);
                ck_assert_int_eq(rp_rule_begin(r.rule, r.net), RP_OK);
                st = srun_finish(&r, &c, &d, k, 0, pres, &got);
                ck_assert_int_eq(st, RP_OK);
                ck_assert_msg(memcmp(got.grad, want.grad, sizeof got.grad) != 0,
                              "%s: restarting the stream changed no gradient", what);
                srun_free(&r);
            }
        }
    }
}
END_TEST

/* ---- a reference file and its layout ----------------------------------- */

/* The file of cfgs[k] after STOP iterations, and the offsets of its sections
   computed here from the documented layout. */
typedef struct layout {
    size_t P, N, BN, O;
    size_t net, rng, optim, rule, user, crc;
} layout;

static unsigned char *reference(int k, const char *path, size_t *len, layout *L)
{
    run r;
    run_init(&r, &cfgs[k]);
    train(&r, 0, STOP);
    save(&r, path, STOP);
    rp_net_config nc;
    ck_assert_int_eq(rp_net_get_config(r.net, &nc, sizeof nc), RP_OK);
    L->N = nc.n_rec;
    L->O = nc.n_out;
    L->BN = nc.batch * nc.n_rec;
    L->P = nc.n_rec * nc.n_rec + nc.n_rec * nc.n_in + nc.n_rec + nc.n_out * nc.n_rec + nc.n_out;
    run_free(&r);
    L->net = 40;
    L->rng = 40 + 88 + 8 * (L->P + L->N + 3 * L->BN);
    L->optim = L->rng + 48;
    L->rule = L->optim + 88 + 17 * L->P;
    L->user = L->rule + 24 + 8 * L->N * L->O;
    L->crc = L->user + 3;
    unsigned char *b = tu_read_file(path, len);
    ck_assert_uint_eq(*len, L->crc + 4);
    return b;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void putd(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put64(p, v);
}

/* Load path (asking for an optimizer when with_opt) expecting failure
   `want`: a message, and every output NULL. */
static void expect_refused_as(const char *path, int with_opt, rp_status want, const char *what)
{
    rp_net *net = (rp_net *)&net;
    rp_optim *opt = (rp_optim *)&opt;
    rp_rule *rule = (rp_rule *)&rule;
    uint64_t it = 12345;
    char msg[256] = "";
    rp_status st = rp_checkpoint_load(&net, with_opt ? &opt : NULL, &rule, path, &it, NULL, 0, NULL,
                                      msg, sizeof msg);
    if (!with_opt)
        opt = NULL;
    ck_assert_msg(st == want, "%s: got %s (%s), expected %s", what, rp_status_string(st), msg,
                  rp_status_string(want));
    ck_assert_msg(msg[0] != '\0', "%s: no message", what);
    ck_assert_msg(!net && !opt && !rule, "%s: a handle was returned on failure", what);
    ck_assert_uint_eq(it, 12345);
}

static void expect_refused(const char *path, rp_status want, const char *what)
{
    expect_refused_as(path, 1, want, what);
}

START_TEST(truncated_files_refused)
{
    char p[128], bad[128];
    path_in_dir(p, sizeof p, "a.ck");
    path_in_dir(bad, sizeof bad, "bad.ck");
    size_t len;
    layout L;
    unsigned char *b = reference(2, p, &len, &L);
    /* Every prefix length (the file is about 3 KB), then one byte too many. */
    for (size_t n = 0; n < len; n++) {
        tu_write_file(bad, b, n);
        char what[64];
        snprintf(what, sizeof what, "prefix of %zu bytes", n);
        expect_refused(bad, RP_ERR_FORMAT, what);
    }
    unsigned char *longer = calloc(len + 1, 1);
    memcpy(longer, b, len);
    tu_write_file(bad, longer, len + 1);
    expect_refused(bad, RP_ERR_FORMAT, "a trailing byte");
    free(longer);
    free(b);
}
END_TEST

START_TEST(bit_flips_refused)
{
    char p[128], bad[128];
    path_in_dir(p, sizeof p, "a.ck");
    path_in_dir(bad, sizeof bad, "bad.ck");
    size_t len;
    layout L;
    unsigned char *b = reference(3, p, &len, &L);
    /* One bit of every byte (a different bit each time): CRC-32 detects every
       single-bit error, and header fields may be refused earlier. */
    for (size_t i = 0; i < len; i++) {
        b[i] ^= (unsigned char)(1u << (i % 8));
        tu_write_file(bad, b, len);
        char what[64];
        snprintf(what, sizeof what, "bit %zu of byte %zu flipped", i % 8, i);
        expect_refused(bad, RP_ERR_FORMAT, what);
        b[i] ^= (unsigned char)(1u << (i % 8));
    }
    free(b);
}
END_TEST

/* Crafted files: one field changed and the CRC recomputed, so only the
   field check can refuse them. */
typedef struct craft {
    const char *what;
    int section; /* 0 header, 1 rng, 2 optim, 3 rule, 4 net arrays */
    size_t off;
    int width; /* 1, 4, 8 (integer) or -8 (double) */
    double value;
} craft;

static const craft crafts[] = {
    {"version 3 without ModProp", 0, 8, 4, 3},
    {"version 4", 0, 8, 4, 4},
    {"version 0", 0, 8, 4, 0},
    {"contents bit 3", 0, 24, 4, 11},
    {"a stream without its rule", 0, 24, 4, 5},
    {"batch_invariant 2", 0, 28, 4, 2},
    {"user length 2^40", 0, 32, 8, 1099511627776.0},
    {"user length one more", 0, 32, 8, 4},
    {"embedded network magic", 0, 40, 1, 0},
    {"n_rec 0", 0, 40 + 24, 8, 0},
    {"form 5", 0, 40 + 48, 4, 5},
    {"alpha 1.5", 0, 40 + 56, -8, 1.5},
    {"W[0] NaN", 4, 0, -8, NAN},
    {"state[0] Inf", 4, 1, -8, INFINITY},
    {"generator state all zero", 1, 0, 0, 0},
    {"has_spare 2", 1, 32, 4, 2},
    {"optimizer kind 7", 2, 0, 4, 7},
    {"lr -1", 2, 8, -8, -1.0},
    {"beta2 1", 2, 32, -8, 1.0},
    {"eps NaN", 2, 40, -8, NAN},
    {"trainable flag 2", 2, 64, 1, 2},
    {"reserved byte", 2, 77, 1, 1},
    {"constraint code 9", 2, 88, 1, 9},
    {"m[0] NaN", 2, 89, -8, NAN},
    {"rule kind 9", 3, 0, 4, 9},
    {"loss 2", 3, 4, 4, 2},
    {"feedback kind 3", 3, 8, 4, 3},
    {"K 0", 3, 16, 8, 0},
    {"feedback NaN", 3, 24, -8, NAN},
};

START_TEST(crafted_files_refused)
{
    const craft *cr = &crafts[_i];
    char p[128], bad[128];
    path_in_dir(p, sizeof p, "a.ck");
    path_in_dir(bad, sizeof bad, "bad.ck");
    size_t len;
    layout L;
    unsigned char *b = reference(1, p, &len, &L); /* TBPTT, SGD: has constraint codes */
    size_t base = cr->section == 0   ? 0
                  : cr->section == 1 ? L.rng
                  : cr->section == 2 ? L.optim
                  : cr->section == 3 ? L.rule
                                     : 40 + 88;
    size_t off = base + cr->off;
    if (cr->section == 2 && cr->off == 89) /* m[0]: after the P constraint codes */
        off = L.optim + 88 + L.P;
    if (cr->section == 4 && cr->off == 1) /* state[0]: after theta and h0 */
        off = 40 + 88 + 8 * (L.P + L.N);
    if (cr->section == 1 && cr->width == 0)
        memset(b + off, 0, 32);
    else if (cr->width == 1)
        b[off] = (unsigned char)cr->value;
    else if (cr->width == 4)
        put32(b + off, (uint32_t)cr->value);
    else if (cr->width == 8)
        put64(b + off, (uint64_t)cr->value);
    else
        putd(b + off, cr->value);
    put32(b + len - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4)));
    tu_write_file(bad, b, len);
    expect_refused(bad, RP_ERR_FORMAT, cr->what);
    free(b);
}
END_TEST

/* A file holding a stream (RFLO, rate form: four arrays), saved after two
   steps: every prefix, a trailing byte, every single-bit flip, and each
   stream field crafted (CRC recomputed) are refused; the file itself loads. */
START_TEST(stream_files_refused)
{
    char p[128], bad[128];
    path_in_dir(p, sizeof p, "a.ck");
    path_in_dir(bad, sizeof bad, "bad.ck");
    const scase c = scase_of(4);
    ck_assert(c.kind == RP_RULE_RFLO && c.form == RP_FORM_RATE);
    sdata d;
    sdata_fill(&d, &c);
    srun r;
    ck_assert_int_eq(srun_init(&r, &c, &d), RP_OK);
    ck_assert_int_eq(srun_steps(&r, &c, &d, 0, 2, 0), RP_OK);
    ck_assert_int_eq(srun_save(&r, p), RP_OK);
    srun_free(&r);
    ck_assert_int_eq(srun_load(&r, p), RP_OK); /* the unedited file loads */
    srun_free(&r);
    size_t len;
    unsigned char *b = tu_read_file(p, &len);
    /* the documented layout (rnnplast.h, rp_checkpoint_save) */
    const size_t P = SN * SN + SN * SIN + SN + SOUT * SN + SOUT, BN = SB * SN;
    const size_t rule = 40 + 88 + 8 * (P + SN + 3 * BN) + 48, stream = rule + 24 + 8 * SN * SOUT;
    const size_t arr[4] = {stream + 16, stream + 16 + 8 * BN, stream + 16 + 8 * (BN + BN * SN),
                           stream + 16 + 8 * (BN + BN * SN + BN * SIN)};
    const size_t user = arr[3] + 8 * BN;
    ck_assert_uint_eq(len, user + 8 * P + 4);
    ck_assert_uint_eq(b[8], 2);      /* version 2 */
    ck_assert_uint_eq(b[24], 2 | 4); /* rule and stream */

    for (size_t n = 0; n < len; n += (n < user ? 1 : 37)) {
        tu_write_file(bad, b, n);
        char what[64];
        snprintf(what, sizeof what, "stream file: prefix of %zu bytes", n);
        expect_refused_as(bad, 0, RP_ERR_FORMAT, what);
    }
    unsigned char *e = calloc(len + 1, 1);
    memcpy(e, b, len);
    tu_write_file(bad, e, len + 1);
    expect_refused_as(bad, 0, RP_ERR_FORMAT, "stream file: a trailing byte");
    for (size_t i = 0; i < len; i++) {
        e[i] ^= (unsigned char)(1u << (i % 8));
        tu_write_file(bad, e, len);
        char what[64];
        snprintf(what, sizeof what, "stream file: bit %zu of byte %zu flipped", i % 8, i);
        expect_refused_as(bad, 0, RP_ERR_FORMAT, what);
        e[i] ^= (unsigned char)(1u << (i % 8));
    }
    static const struct {
        const char *what;
        int field; /* 0 version, 1 rule kind, 2 steps, 3 loss, 4.. array k-4's first entry */
        double value;
    } cr[] = {
        {"a stream in a version 1 file", 0, 1},
        {"rule kind RTRL: other lengths", 1, 2},
        {"rule kind BPTT: no online mode", 1, 0},
        {"rule kind 9", 1, 9},
        {"no step but a loss sum", 2, 0},
        {"loss sum NaN", 3, NAN},
        {"loss sum -1", 3, -1.0},
        {"loss sum Inf", 3, INFINITY},
        {"prev[0] NaN", 4, NAN},
        {"P[0] Inf", 5, INFINITY},
        {"P_U[0] NaN", 6, NAN},
        {"P_b[0] -Inf", 7, -INFINITY},
    };
    for (size_t k = 0; k < sizeof cr / sizeof *cr; k++) {
        memcpy(e, b, len);
        if (cr[k].field == 0)
            put32(e + 8, (uint32_t)cr[k].value);
        else if (cr[k].field == 1)
            put32(e + rule, (uint32_t)cr[k].value);
        else if (cr[k].field == 2)
            put64(e + stream, (uint64_t)cr[k].value);
        else if (cr[k].field == 3)
            putd(e + stream + 8, cr[k].value);
        else
            putd(e + arr[cr[k].field - 4], cr[k].value);
        put32(e + len - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), e, (uInt)(len - 4)));
        tu_write_file(bad, e, len);
        expect_refused_as(bad, 0, RP_ERR_FORMAT, cr[k].what);
    }
    free(e);
    free(b);
}
END_TEST

/* A checkpoint written by the code of commit fd683ac (format version 1, no
   stream section) still loads: it saves again to the same bytes but for the
   version field and the CRC, and the run resumed from it ends as that run
   did when it never stopped — computed here with today's code, bit for bit,
   and as the old code computed it (tests/ckpt_v1_fixture.h; to 1e-12, since
   it may come from another machine's BLAS kernels). */
static void v1_load(const char *path, rp_net **net, rp_rule **rule, rp_optim **opt, uint64_t *it,
                    double *loss)
{
    size_t ulen = 0;
    char msg[256];
    rp_status st =
        rp_checkpoint_load(net, opt, rule, path, it, loss, sizeof *loss, &ulen, msg, sizeof msg);
    ck_assert_msg(st == RP_OK, "version 1 file: %s: %s", rp_status_string(st), msg);
    ck_assert_uint_eq(ulen, sizeof *loss);
}

START_TEST(old_version_loads)
{
    char p[128], q[128];
    path_in_dir(p, sizeof p, "a.ck");
    path_in_dir(q, sizeof q, "b.ck");
    tu_write_file(p, ckpt_v1_stop, ckpt_v1_stop_len);
    ck_assert_uint_eq(ckpt_v1_stop[8], 1);
    ck_assert_uint_eq(ckpt_v1_full[8], 1); /* both written by the version-1 code */
    rp_net *net = NULL;
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    uint64_t it = 0;
    double loss = 0.0;
    v1_load(p, &net, &rule, &opt, &it, &loss);
    ck_assert_uint_eq(it, V1_STOP);
    char msg[256];
    ck_assert_int_eq(rp_checkpoint_save(net, opt, rule, q, it, &loss, sizeof loss, msg, sizeof msg),
                     RP_OK);
    size_t n;
    unsigned char *b = tu_read_file(q, &n), *want = malloc(ckpt_v1_stop_len);
    ck_assert_ptr_nonnull(want);
    memcpy(want, ckpt_v1_stop, ckpt_v1_stop_len);
    put32(want + 8, 2);
    put32(want + ckpt_v1_stop_len - 4,
          (uint32_t)crc32(crc32(0L, Z_NULL, 0), want, (uInt)(ckpt_v1_stop_len - 4)));
    ck_assert_uint_eq(n, ckpt_v1_stop_len);
    ck_assert_msg(memcmp(b, want, n) == 0, "a version 1 file saves to other contents");
    free(b);
    free(want);

    /* resumed from the old file, with today's code */
    double rloss = 0.0;
    ck_assert_int_eq(v1_train(net, rule, opt, V1_STOP, V1_ITERS, &rloss), RP_OK);
    /* resumed from its version-2 copy: the same bits */
    rp_net *qnet = NULL;
    rp_rule *qrule = NULL;
    rp_optim *qopt = NULL;
    double qloss = 0.0;
    v1_load(q, &qnet, &qrule, &qopt, &it, &qloss);
    ck_assert_int_eq(v1_train(qnet, qrule, qopt, V1_STOP, V1_ITERS, &qloss), RP_OK);
    ck_assert_msg(same_params(net, qnet), "version 1 and its version 2 copy resume differently");
    ck_assert(memcmp(&rloss, &qloss, sizeof rloss) == 0);
    /* uninterrupted, today's code: the file's first V1_STOP iterations ran on
       the old code's tanh (libm's), today's on tanh.c's (SLEEF; they differ in
       the last bits): equal to 1e-12, as the old code's own run below */
    rp_net *unet = NULL;
    rp_rule *urule = NULL;
    rp_optim *uopt = NULL;
    double uloss = 0.0;
    ck_assert_int_eq(v1_init(&unet, &urule, &uopt), RP_OK);
    ck_assert_int_eq(v1_train(unet, urule, uopt, 0, V1_ITERS, &uloss), RP_OK);
    for (int k = 0; k < RP_PARAM_COUNT; k++) {
        size_t len = 0;
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)k, &len), RP_OK);
        double *a = calloc(len + 1, sizeof(double)), *u = calloc(len + 1, sizeof(double));
        ck_assert(a && u);
        ck_assert_int_eq(rp_net_get_param(net, (rp_param)k, a, len), RP_OK);
        ck_assert_int_eq(rp_net_get_param(unet, (rp_param)k, u, len), RP_OK);
        ck_assert_msg(tu_rel_err(a, u, len, 1e-300) <= 1e-12,
                      "parameter %d: %g from the uninterrupted run", k,
                      tu_rel_err(a, u, len, 1e-300));
        free(a);
        free(u);
    }
    ck_assert_double_eq_tol(rloss, uloss, 1e-12 * fabs(uloss));
    /* uninterrupted, the old code */
    tu_write_file(p, ckpt_v1_full, ckpt_v1_full_len);
    rp_net *onet = NULL;
    rp_rule *orule = NULL;
    rp_optim *oopt = NULL;
    double oloss = 0.0;
    v1_load(p, &onet, &orule, &oopt, &it, &oloss);
    ck_assert_uint_eq(it, V1_ITERS);
    for (int k = 0; k < RP_PARAM_COUNT; k++) {
        size_t len = 0;
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)k, &len), RP_OK);
        double *a = calloc(len + 1, sizeof(double)), *o = calloc(len + 1, sizeof(double));
        ck_assert(a && o);
        ck_assert_int_eq(rp_net_get_param(net, (rp_param)k, a, len), RP_OK);
        ck_assert_int_eq(rp_net_get_param(onet, (rp_param)k, o, len), RP_OK);
        ck_assert_msg(tu_rel_err(a, o, len, 1e-300) <= 1e-12, "parameter %d: %g from the old run",
                      k, tu_rel_err(a, o, len, 1e-300));
        free(a);
        free(o);
    }
    ck_assert_double_eq_tol(rloss, oloss, 1e-12 * fabs(oloss));
    rp_net_free(net);
    rp_rule_free(rule);
    rp_optim_free(opt);
    rp_net_free(qnet);
    rp_rule_free(qrule);
    rp_optim_free(qopt);
    rp_net_free(unet);
    rp_rule_free(urule);
    rp_optim_free(uopt);
    rp_net_free(onet);
    rp_rule_free(orule);
    rp_optim_free(oopt);
}
END_TEST

/* The reference file itself loads (so the refusals above are the edits'). */
START_TEST(reference_loads)
{
    char p[128];
    path_in_dir(p, sizeof p, "a.ck");
    size_t len;
    layout L;
    unsigned char *b = reference(1, p, &len, &L);
    free(b);
    rp_net *net = NULL;
    rp_optim *opt = NULL;
    rp_rule *rule = NULL;
    char msg[256];
    rp_status st = rp_checkpoint_load(&net, &opt, &rule, p, NULL, NULL, 0, NULL, msg, sizeof msg);
    ck_assert_msg(st == RP_OK, "%s", msg);
    /* Parts may be left out; the file is still checked whole. */
    rp_net *n2 = NULL;
    st = rp_checkpoint_load(&n2, NULL, NULL, p, NULL, NULL, 0, NULL, msg, sizeof msg);
    ck_assert_msg(st == RP_OK, "%s", msg);
    ck_assert(same_params(net, n2));
    rp_net_free(n2);
    rp_net_free(net);
    rp_optim_free(opt);
    rp_rule_free(rule);
}
END_TEST

/* A network alone: its configuration (batch_invariant too, which the
   network file does not keep) and its live state come back as they were,
   and the next noisy steps continue the same trajectory. */
START_TEST(net_only_round_trip)
{
    char p[128];
    path_in_dir(p, sizeof p, "c.ck");
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = 2;
    nc.n_rec = 5;
    nc.n_out = 3;
    nc.batch = 1;
    nc.form = RP_FORM_RATE;
    nc.act = RP_ACT_TANH;
    nc.alpha = 0.7;
    nc.noise_std = 0.3;
    nc.seed = 77;
    nc.batch_invariant = 1;
    rp_net *a = NULL, *b = NULL;
    ck_assert_int_eq(rp_net_create(&a, &nc, NULL, 0), RP_OK);
    rp_init *init = NULL;
    ck_assert_int_eq(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_init_apply(init, a, RP_PARAM_W, 3), RP_OK);
    ck_assert_int_eq(rp_init_apply(init, a, RP_PARAM_U, 4), RP_OK);
    ck_assert_int_eq(rp_init_apply(init, a, RP_PARAM_V, 5), RP_OK);
    rp_init_free(init);
    double x[2] = {0.5, -1.0}, ya[3], yb[3], sa[5], sb[5];
    /* B*N = 5 normals a step, 3 steps: the generator holds a Box-Muller
       spare at the save, which the next step must use. */
    for (int t = 0; t < 3; t++)
        ck_assert_int_eq(rp_net_step(a, x, NULL), RP_OK);
    char msg[256];
    ck_assert_int_eq(rp_checkpoint_save(a, NULL, NULL, p, 0, NULL, 0, msg, sizeof msg), RP_OK);
    ck_assert_int_eq(rp_checkpoint_load(&b, NULL, NULL, p, NULL, NULL, 0, NULL, msg, sizeof msg),
                     RP_OK);
    rp_net_config ca, cb;
    ck_assert_int_eq(rp_net_get_config(a, &ca, sizeof ca), RP_OK);
    ck_assert_int_eq(rp_net_get_config(b, &cb, sizeof cb), RP_OK);
    ck_assert_uint_eq(cb.n_in, nc.n_in);
    ck_assert_uint_eq(cb.n_rec, nc.n_rec);
    ck_assert_uint_eq(cb.n_out, nc.n_out);
    ck_assert_uint_eq(cb.batch, nc.batch);
    ck_assert_int_eq(cb.form, nc.form);
    ck_assert_int_eq(cb.act, nc.act);
    ck_assert(cb.alpha == nc.alpha && cb.noise_std == nc.noise_std && cb.seed == nc.seed);
    ck_assert_int_eq(cb.batch_invariant, 1);
    ck_assert(same_params(a, b));
    ck_assert_int_eq(rp_net_get_state(a, sa, 5), RP_OK);
    ck_assert_int_eq(rp_net_get_state(b, sb, 5), RP_OK);
    ck_assert(memcmp(sa, sb, sizeof sa) == 0);
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(rp_net_step(a, x, ya), RP_OK);
        ck_assert_int_eq(rp_net_step(b, x, yb), RP_OK);
        ck_assert_int_eq(rp_net_get_state(a, sa, 5), RP_OK);
        ck_assert_int_eq(rp_net_get_state(b, sb, 5), RP_OK);
        ck_assert_msg(memcmp(ya, yb, sizeof ya) == 0 && memcmp(sa, sb, sizeof sa) == 0,
                      "noisy step %d differs after the load", t);
    }
    rp_net_free(a);
    rp_net_free(b);
}
END_TEST

/* ---- mismatched handles and arguments ---------------------------------- */

START_TEST(mismatches_refused)
{
    char p[128], q[128];
    path_in_dir(p, sizeof p, "a.ck");
    path_in_dir(q, sizeof q, "c.ck");
    run r;
    run_init(&r, &cfgs[2]); /* e-prop: has an online mode */
    char msg[256];
    rp_net_config nc;
    ck_assert_int_eq(rp_net_get_config(r.net, &nc, sizeof nc), RP_OK);

    /* An optimizer or rule built for another network. */
    rp_net_config oc = nc;
    oc.n_rec = nc.n_rec + 1;
    rp_net *other = NULL;
    ck_assert_int_eq(rp_net_create(&other, &oc, NULL, 0), RP_OK);
    rp_optim *oopt = NULL;
    ck_assert_int_eq(rp_optim_create(&oopt, other, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_checkpoint_save(r.net, oopt, NULL, p, 0, NULL, 0, msg, sizeof msg),
                     RP_ERR_DIM_MISMATCH);
    ck_assert(strstr(msg, "opt") != NULL);
    rp_net_free(other);
    oc = nc;
    oc.batch = nc.batch + 1;
    ck_assert_int_eq(rp_net_create(&other, &oc, NULL, 0), RP_OK);
    rp_rule *orule = NULL;
    ck_assert_int_eq(rp_rule_create(&orule, other, RP_RULE_EPROP, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_checkpoint_save(r.net, NULL, orule, p, 0, NULL, 0, msg, sizeof msg),
                     RP_ERR_DIM_MISMATCH);
    ck_assert(strstr(msg, "rule") != NULL);
    rp_rule_free(orule);
    rp_optim_free(oopt);
    rp_net_free(other);
    ck_assert_int_eq(access(p, F_OK), -1); /* nothing was written */

    /* A rule inside an online stream is saved with it, and comes back with
       the stream open: rp_rule_trial is refused until rp_rule_end. */
    RP_CK(rp_rule_begin(r.rule, r.net), r.rule, rp_rule_last_error);
    ck_assert_int_eq(rp_checkpoint_save(r.net, r.opt, r.rule, p, 0, NULL, 0, msg, sizeof msg),
                     RP_OK);
    RP_CK(rp_rule_end(r.rule, NULL), r.rule, rp_rule_last_error);
    {
        rp_net *ln = NULL;
        rp_rule *lr = NULL;
        rp_grad *lg = NULL;
        ck_assert_int_eq(
            rp_checkpoint_load(&ln, NULL, &lr, p, NULL, NULL, 0, NULL, msg, sizeof msg), RP_OK);
        ck_assert_int_eq(rp_grad_create(&lg, ln, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_rule_trial(lr, ln, r.T, r.x, r.tg, r.m, lg, NULL), RP_ERR_STATE);
        double mean = -1.0;
        ck_assert_int_eq(rp_rule_end(lr, &mean), RP_OK);
        ck_assert(mean == 0.0); /* saved right after rp_rule_begin: no step */
        ck_assert_int_eq(rp_rule_end(lr, NULL), RP_ERR_STATE);
        rp_grad_free(lg);
        rp_rule_free(lr);
        rp_net_free(ln);
        unlink(p);
    }

    /* Arguments. */
    ck_assert_int_eq(rp_checkpoint_save(r.net, NULL, NULL, NULL, 0, NULL, 0, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_checkpoint_save(NULL, NULL, NULL, p, 0, NULL, 0, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_checkpoint_save(r.net, NULL, NULL, p, 0, NULL, 5, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_checkpoint_save(r.net, NULL, NULL, p, 0, "x", RP_CHECKPOINT_MAX_USER + 1,
                                        msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert_int_eq(
        rp_checkpoint_save(r.net, NULL, NULL, "/nonexistent-dir/x.ck", 0, NULL, 0, msg, sizeof msg),
        RP_ERR_IO);
    ck_assert(strstr(msg, "nonexistent-dir") != NULL);

    /* A network-only file: asking for an optimizer or a rule is refused. */
    ck_assert_int_eq(rp_checkpoint_save(r.net, NULL, NULL, q, 9, "hello", 5, msg, sizeof msg),
                     RP_OK);
    rp_net *net = NULL;
    rp_optim *opt = NULL;
    rp_rule *rule = NULL;
    ck_assert_int_eq(rp_checkpoint_load(&net, &opt, NULL, q, NULL, NULL, 0, NULL, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert(!net && !opt && strstr(msg, "optimizer") != NULL);
    ck_assert_int_eq(rp_checkpoint_load(&net, NULL, &rule, q, NULL, NULL, 0, NULL, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert(!net && !rule && strstr(msg, "rule") != NULL);
    /* User data larger than the buffer; then a fitting buffer. */
    char user[8] = "";
    size_t ulen = 0;
    uint64_t it = 0;
    ck_assert_int_eq(rp_checkpoint_load(&net, NULL, NULL, q, &it, user, 4, &ulen, msg, sizeof msg),
                     RP_ERR_DIM_MISMATCH);
    ck_assert(!net && ulen == 0 && it == 0);
    ck_assert_int_eq(
        rp_checkpoint_load(&net, NULL, NULL, q, &it, user, sizeof user, &ulen, msg, sizeof msg),
        RP_OK);
    ck_assert(net && ulen == 5 && it == 9 && memcmp(user, "hello", 5) == 0);
    rp_net_free(net);
    net = NULL;
    ck_assert_int_eq(
        rp_checkpoint_load(&net, NULL, NULL, NULL, NULL, NULL, 0, NULL, msg, sizeof msg),
        RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_checkpoint_load(NULL, NULL, NULL, q, NULL, NULL, 0, NULL, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    /* Not a checkpoint: a network file, a directory, a missing file. */
    ck_assert_int_eq(rp_net_save(r.net, p), RP_OK);
    expect_refused(p, RP_ERR_FORMAT, "a network file");
    expect_refused(dir, RP_ERR_IO, "a directory");
    expect_refused("/nonexistent-dir/x.ck", RP_ERR_IO, "a missing file");
    run_free(&r);
}
END_TEST

/* ---- allocator ------------------------------------------------------------ */

/* Counts live blocks; fails the fail_at-th allocation (0: never). */
typedef struct counter {
    long live, calls, fail_at;
} counter;

static void *c_alloc(void *opaque, size_t size)
{
    counter *c = opaque;
    if (++c->calls == c->fail_at)
        return NULL;
    void *p = malloc(size);
    if (p)
        c->live++;
    return p;
}

static void c_free(void *opaque, void *p)
{
    counter *c = opaque;
    c->live--;
    free(p);
}

START_TEST(load_through_allocator)
{
    char p[128];
    path_in_dir(p, sizeof p, "a.ck");
    size_t len;
    layout L;
    free(reference(3, p, &len, &L));
    counter C = {0, 0, 0};
    const rp_allocator al = {c_alloc, c_free, &C};
    char msg[256];
    /* Every allocation of the call fails in turn: RP_ERR_NOMEM, no handle,
       every block returned.  Then the call succeeds. */
    for (long k = 1;; k++) {
        C = (counter){0, 0, k};
        rp_net *net = (rp_net *)&net;
        rp_optim *opt = (rp_optim *)&opt;
        rp_rule *rule = (rp_rule *)&rule;
        rp_status st = rp_checkpoint_load_alloc(&net, &opt, &rule, p, NULL, NULL, 0, NULL, &al, msg,
                                                sizeof msg);
        if (st == RP_OK) {
            ck_assert_msg(k > 3, "only %ld allocations", k - 1);
            ck_assert(C.live > 0); /* the handles live on the caller's allocator */
            C.fail_at = 0;
            /* ... and so do handles created later from the net */
            long before = C.live;
            rp_grad *g = NULL;
            ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
            ck_assert(C.live > before);
            rp_grad_free(g);
            rp_net_free(net);
            rp_optim_free(opt);
            rp_rule_free(rule);
            ck_assert_int_eq(C.live, 0);
            break;
        }
        ck_assert_msg(st == RP_ERR_NOMEM, "allocation %ld failing: %s (%s)", k,
                      rp_status_string(st), msg);
        ck_assert(!net && !opt && !rule);
        ck_assert_msg(C.live == 0, "allocation %ld failing: %ld blocks leaked", k, C.live);
        ck_assert(k < 1000);
    }
    /* A half-given allocator is refused. */
    const rp_allocator half = {c_alloc, NULL, &C};
    rp_net *net = NULL;
    ck_assert_int_eq(
        rp_checkpoint_load_alloc(&net, NULL, NULL, p, NULL, NULL, 0, NULL, &half, msg, sizeof msg),
        RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(net);
}
END_TEST

/* ---- what loaded handles are (rp_rule_get_kind, rp_rule_get_streaming,
   rp_optim_get_kind): the values the saved handles had, for each kind,
   loss and optimizer, inside a stream and not ----------------------------- */

START_TEST(loaded_handles_say_what_they_are)
{
    static const rp_rule_kind kinds[] = {RP_RULE_BPTT,  RP_RULE_TBPTT, RP_RULE_RTRL,
                                         RP_RULE_EPROP, RP_RULE_RFLO,  RP_RULE_MODPROP};
    char path[128];
    path_in_dir(path, sizeof path, "kind.ck");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const rp_loss loss = i % 2 ? RP_LOSS_CE : RP_LOSS_MSE;
        const rp_optim_kind okind = i % 2 ? RP_OPTIM_SGD : RP_OPTIM_ADAM;
        /* online rules are saved inside a stream, the others not */
        const int online = kinds[i] != RP_RULE_BPTT && kinds[i] != RP_RULE_TBPTT;
        rp_net_config cfg;
        rp_net_config_init(&cfg, sizeof cfg);
        cfg.n_in = 1;
        cfg.n_rec = 3;
        cfg.n_out = 2;
        rp_net *net = NULL;
        rp_rule *rule = NULL;
        rp_optim *opt = NULL;
        rp_grad *g = NULL;
        ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_rule_create(&rule, net, kinds[i], NULL, 0), RP_OK);
        ck_assert_int_eq(rp_rule_set_loss(rule, loss), RP_OK);
        ck_assert_int_eq(rp_optim_create(&opt, net, okind, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
        int streaming = -1;
        ck_assert_int_eq(rp_rule_get_streaming(rule, &streaming), RP_OK);
        ck_assert_int_eq(streaming, 0);
        if (online) {
            const double x = 0.5, target[2] = {1.0, 0.0};
            ck_assert_int_eq(rp_rule_begin(rule, net), RP_OK);
            ck_assert_int_eq(rp_net_step(net, &x, NULL), RP_OK);
            ck_assert_int_eq(rp_rule_step(rule, net, &x, target, NULL, g), RP_OK);
            ck_assert_int_eq(rp_rule_get_streaming(rule, &streaming), RP_OK);
            ck_assert_int_eq(streaming, 1);
        }
        ck_assert_int_eq(rp_checkpoint_save(net, opt, rule, path, 0, NULL, 0, NULL, 0), RP_OK);
        rp_net *net2 = NULL;
        rp_rule *rule2 = NULL;
        rp_optim *opt2 = NULL;
        ck_assert_int_eq(
            rp_checkpoint_load(&net2, &opt2, &rule2, path, NULL, NULL, 0, NULL, NULL, 0), RP_OK);
        rp_rule_kind k = (rp_rule_kind)-1;
        rp_loss l = (rp_loss)-1;
        rp_optim_kind o = (rp_optim_kind)-1;
        ck_assert_int_eq(rp_rule_get_kind(rule2, &k, &l), RP_OK);
        ck_assert_int_eq(k, kinds[i]);
        ck_assert_int_eq(l, loss);
        ck_assert_int_eq(rp_rule_get_streaming(rule2, &streaming), RP_OK);
        ck_assert_int_eq(streaming, online);
        ck_assert_int_eq(rp_optim_get_kind(opt2, &o), RP_OK);
        ck_assert_int_eq(o, okind);
        if (online) { /* ending the loaded stream closes it */
            double mean = -1.0;
            ck_assert_int_eq(rp_rule_end(rule2, &mean), RP_OK);
            ck_assert_int_eq(rp_rule_get_streaming(rule2, &streaming), RP_OK);
            ck_assert_int_eq(streaming, 0);
        }
        k = (rp_rule_kind)-1;
        ck_assert_int_eq(rp_rule_get_kind(rule2, &k, NULL), RP_OK); /* one output */
        ck_assert_int_eq(k, kinds[i]);
        rp_optim_free(opt2);
        rp_rule_free(rule2);
        rp_net_free(net2);
        rp_grad_free(g);
        rp_optim_free(opt);
        rp_rule_free(rule);
        rp_net_free(net);
    }
    /* NULL handles and outputs */
    rp_rule_kind k;
    rp_optim_kind o;
    int streaming;
    ck_assert_int_eq(rp_rule_get_kind(NULL, &k, NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_get_streaming(NULL, &streaming), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_get_kind(NULL, &o), RP_ERR_INVALID_ARG);
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    rp_net *net = NULL;
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_EPROP, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_rule_get_streaming(rule, NULL), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(rp_rule_last_error(rule), "streaming is NULL");
    ck_assert_int_eq(rp_optim_get_kind(opt, NULL), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(rp_optim_last_error(opt), "kind is NULL");
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_net_free(net);
}
END_TEST

Suite *suite_ckpt(void)
{
    Suite *s = suite_create("ckpt");
    TCase *tc = tcase_create("resume");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, resume_is_bit_identical, 0, (int)(sizeof cfgs / sizeof *cfgs));
    tcase_add_loop_test(tc, stream_resume_is_bit_identical, 0, 24);
    suite_add_tcase(s, tc);
    tc = tcase_create("robustness");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reference_loads);
    tcase_add_test(tc, stream_files_refused);
    tcase_add_test(tc, old_version_loads);
    tcase_add_test(tc, truncated_files_refused);
    tcase_add_test(tc, bit_flips_refused);
    tcase_add_loop_test(tc, crafted_files_refused, 0, (int)(sizeof crafts / sizeof *crafts));
    tcase_add_test(tc, mismatches_refused);
    tcase_add_test(tc, load_through_allocator);
    tcase_add_test(tc, net_only_round_trip);
    tcase_add_test(tc, loaded_handles_say_what_they_are);
    suite_add_tcase(s, tc);
    return s;
}
