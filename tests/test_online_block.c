/* The online block (rp_rule_set_online_block, rp_rule_flush; since 1.2).

   Oracle: the K = 1 stream of the same rule, net, state and data.  K = 1 is
   today's code path, so it must give the bits of a rule that never heard of
   the block.  For K > 1 the block adds the same terms c_t (tick t's
   contribution to an entry: a product of two factors, or one factor for
   G_c), computed from the same traces, in another order: the K = 1 stream
   adds them one tick at a time (g += c_t, T roundings of a running sum),
   the block sums up to K of them in a GEMM and adds that sum.  Both are
   recursive sums of the T rounded products in some order, so each is
   within gamma_{T+1} sum_t |c_t| of the exact sum (Higham, Accuracy and
   Stability, (3.5) with the product's rounding folded in; an FMA only
   removes roundings), and they are within 2 gamma_{T+1} sum_t |c_t| of
   each other.  The test measures sum_t |c_t| from a K = 1 stream whose
   every tick goes into a fresh zeroed grad (c_t as rounded once: one more
   factor (1 + u), hence gamma_{T+2}), B = 1 so that a tick's contribution
   is one product, not a sum of B that could cancel.

   Every test was seen to fail once with the block path sabotaged (the
   flush dropping the last pending tick; the K-th tick not flushing; the
   refusals with pending ticks removed; K = 0 accepted). */
#include "testutil.h"

#include <float.h>
#include <limits.h>
#include <unistd.h>

#define U_D ((double)DBL_EPSILON / 2)

typedef struct fix {
    size_t n_in, N, O, B, T, total;
    rp_loss loss;
    double *x, *tgt, *mask;
} fix;

/* Set the parameters (or a gradient) from one flat vector in the layout
   order (W, U, b, V, c); 0 on success. */
static int tu_set_params_flat(rp_net *net, const double *theta)
{
    size_t k = 0;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        size_t n = 0;
        if (rp_net_get_param_len(net, (rp_param)w, &n) != RP_OK ||
            rp_net_set_param(net, (rp_param)w, theta + k, n) != RP_OK)
            return 1;
        k += n;
    }
    return 0;
}

static int tu_set_grad_flat(const rp_net *net, rp_grad *g, const double *v)
{
    size_t k = 0;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        size_t n = 0;
        if (rp_net_get_param_len(net, (rp_param)w, &n) != RP_OK ||
            rp_grad_set(g, (rp_param)w, v + k, n) != RP_OK)
            return 1;
        k += n;
    }
    return 0;
}

static rp_net *mk_net(const fix *f, rp_form form, rp_precision prec, const rp_allocator *al)
{
    rp_net_config c = tu_net_config(f->n_in, f->N, f->O, f->B, form, RP_ACT_TANH, 0.8);
    c.precision = prec;
    c.allocator = al;
    rp_net *net = NULL;
    char msg[256];
    ck_assert_msg(rp_net_create(&net, &c, msg, sizeof msg) == RP_OK, "%s", msg);
    tu_set_random_params(net, 1.2, 0.4, 7);
    tu_set_random_initial_state(net, 0.5, 9);
    return net;
}

static void fix_init(fix *f, size_t B, size_t T, rp_loss loss)
{
    f->n_in = 3;
    f->N = 12;
    f->O = 2;
    f->B = B;
    f->T = T;
    f->loss = loss;
    f->total = f->N * f->N + f->N * f->n_in + f->N + f->O * f->N + f->O;
    f->x = malloc(T * B * f->n_in * sizeof(double));
    f->tgt = malloc(T * B * f->O * sizeof(double));
    f->mask = malloc(T * B * sizeof(double));
    tu_fill_trial_data(f->x, f->n_in, f->tgt, f->O, loss, f->mask, T * B, 21);
}

static void fix_free(fix *f)
{
    free(f->x);
    free(f->tgt);
    free(f->mask);
}

static rp_rule *mk_rule(rp_net *net, rp_rule_kind kind, rp_loss loss)
{
    rp_rule *r = NULL;
    char msg[256];
    ck_assert_msg(rp_rule_create(&r, net, kind, msg, sizeof msg) == RP_OK, "%s", msg);
    RP_CK(rp_rule_set_loss(r, loss), r, rp_rule_last_error);
    return r;
}

static void tick(const fix *f, rp_net *net, rp_rule *r, size_t t, rp_grad *g)
{
    const size_t tstride = f->loss == RP_LOSS_MSE ? f->B * f->O : f->B;
    const double *xt = f->x + t * f->B * f->n_in;
    RP_CK(rp_net_step(net, xt, NULL), net, rp_net_last_error);
    RP_CK(rp_rule_step(r, net, xt, f->tgt + t * tstride, f->mask + t * f->B, g), r,
          rp_rule_last_error);
}

/* Parameter changes between ticks, the same in every run: an SGD step with
   a fixed gradient (not the stream's) after the ticks in `at`. */
typedef struct perturb {
    rp_optim *opt;
    rp_grad *gfix;
    const size_t *at;
    size_t n_at;
} perturb;

static void maybe_perturb(const perturb *p, rp_net *net, size_t t)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_at; i++)
        if (p->at[i] == t)
            RP_CK(rp_optim_step(p->opt, net, p->gfix), p->opt, rp_optim_last_error);
}

/* One stream of T ticks from the net's initial state and parameters theta.
   K = 0: leave the block setting alone (a rule that never heard of it).
   abs_sum non-NULL: K = 1 with every tick into a fresh grad, accumulating
   |c_t| there.  g receives the flat gradient after the flush, *E the loss. */
static void stream(const fix *f, rp_net *net, rp_rule *r, const double *theta, size_t K,
                   const perturb *p, double *g, double *abs_sum, double *E)
{
    ck_assert_int_eq(tu_set_params_flat(net, theta), 0);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    if (K)
        RP_CK(rp_rule_set_online_block(r, K), r, rp_rule_last_error);
    rp_grad *gr = NULL, *gt = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gt, net, NULL, 0), RP_OK);
    double *ct = malloc(f->total * sizeof(double));
    if (abs_sum)
        memset(abs_sum, 0, f->total * sizeof(double));
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    for (size_t t = 0; t < f->T; t++) {
        if (abs_sum) {
            RP_CK(rp_grad_zero(gt), gt, rp_grad_last_error);
            tick(f, net, r, t, gt);
            tu_grad_flat(net, gt, ct);
            for (size_t k = 0; k < f->total; k++)
                abs_sum[k] += fabs(ct[k]);
        } else {
            tick(f, net, r, t, gr);
        }
        size_t bk = 0, pend = 99;
        RP_CK(rp_rule_get_online_block(r, &bk, &pend), r, rp_rule_last_error);
        ck_assert_uint_eq(bk, K ? K : 1);
        ck_assert_uint_eq(pend, (t + 1) % bk); /* complete after every K-th tick */
        maybe_perturb(p, net, t);
    }
    RP_CK(rp_rule_flush(r, gr), r, rp_rule_last_error);
    RP_CK(rp_rule_end(r, E), r, rp_rule_last_error);
    tu_grad_flat(net, gr, g); /* zero in the abs_sum run */
    free(ct);
    rp_grad_free(gr);
    rp_grad_free(gt);
}

/* |got - want| <= 2 gamma_{T+2} abs_sum, entry by entry (see the top). */
static void within_bound(const fix *f, const double *got, const double *want, const double *abs_sum,
                         const char *what)
{
    const double n = (double)(f->T + 2), gam = n * U_D / (1.0 - n * U_D);
    size_t differ = 0;
    for (size_t k = 0; k < f->total; k++) {
        const double d = fabs(got[k] - want[k]), lim = 2.0 * gam * abs_sum[k];
        ck_assert_msg(d <= lim, "%s: entry %zu differs by %g, bound %g (got %.17g, K=1 %.17g)",
                      what, k, d, lim, got[k], want[k]);
        differ += d != 0.0;
    }
    (void)differ;
}

static double *params_of(const fix *f, const rp_net *net)
{
    double *th = malloc(f->total * sizeof(double));
    tu_params_flat(net, th);
    return th;
}

static const size_t T_BLK = 23;

/* K in {1, 2, 5, 16, T, T+3}: the gradient after the flush equals the K = 1
   stream within the bound, the loss bit for bit, and K = 1 set explicitly
   equals a rule without the call bit for bit. */
START_TEST(block_equals_per_tick)
{
    const size_t Ks[6] = {1, 2, 5, 16, T_BLK, T_BLK + 3};
    const size_t K = Ks[_i % 6];
    const rp_rule_kind kind = _i < 6 ? RP_RULE_EPROP : RP_RULE_RFLO;
    const rp_loss loss = _i < 6 ? RP_LOSS_MSE : RP_LOSS_CE;
    fix f;
    fix_init(&f, 1, T_BLK, loss);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    double *th = params_of(&f, net);
    double *g1 = malloc(f.total * sizeof(double)), *gk = malloc(f.total * sizeof(double));
    double *A = malloc(f.total * sizeof(double)), *gz = malloc(f.total * sizeof(double));
    double E1 = NAN, Ek = NAN, Ea = NAN;
    rp_rule *r0 = mk_rule(net, kind, loss), *rk = mk_rule(net, kind, loss);
    stream(&f, net, r0, th, 0, NULL, g1, NULL, &E1);
    stream(&f, net, r0, th, 1, NULL, gz, A, &Ea);
    stream(&f, net, rk, th, K, NULL, gk, NULL, &Ek);
    ck_assert_msg(E1 == Ek && E1 == Ea, "loss %.17g (K = %zu) vs %.17g", Ek, K, E1);
    if (K == 1)
        ck_assert_msg(memcmp(g1, gk, f.total * sizeof(double)) == 0,
                      "K = 1 is not bit-identical to a rule without the block");
    else
        within_bound(&f, gk, g1, A, "block vs per tick");
    free(th);
    free(g1);
    free(gk);
    free(A);
    free(gz);
    rp_rule_free(r0);
    rp_rule_free(rk);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* B = 3: the block's rows are K*B; K = 1 stays bit-identical and the block
   agrees with K = 1 to rounding (relative 1e-13: the per-entry bound above
   needs B = 1). */
START_TEST(block_batch)
{
    fix f;
    fix_init(&f, 3, T_BLK, RP_LOSS_MSE);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    double *th = params_of(&f, net);
    double *g1 = malloc(f.total * sizeof(double)), *gk = malloc(f.total * sizeof(double));
    double E1 = NAN, Ek = NAN;
    rp_rule *r0 = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    rp_rule *rk = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    stream(&f, net, r0, th, 0, NULL, g1, NULL, &E1);
    stream(&f, net, rk, th, 1, NULL, gk, NULL, &Ek);
    ck_assert_int_eq(memcmp(g1, gk, f.total * sizeof(double)), 0);
    stream(&f, net, rk, th, 5, NULL, gk, NULL, &Ek);
    ck_assert(E1 == Ek);
    ck_assert_double_le(tu_rel_err(gk, g1, f.total, 1e-300), 1e-13);
    free(th);
    free(g1);
    free(gk);
    rp_rule_free(r0);
    rp_rule_free(rk);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* Parameters changed between ticks (an optimizer step with a fixed
   gradient, mid-block): each tick's factors are those of its own step's
   parameters, so the block gives the K = 1 stream's gradient within the
   same bound; the grad the optimizer could have read mid-block lacks the
   pending ticks (checked: it is not yet the K = 1 value). */
START_TEST(params_change_between_ticks)
{
    fix f;
    fix_init(&f, 1, T_BLK, RP_LOSS_MSE);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    double *th = params_of(&f, net);
    rp_optim *opt = NULL;
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_SGD, NULL, 0), RP_OK);
    rp_grad *gfix = NULL;
    ck_assert_int_eq(rp_grad_create(&gfix, net, NULL, 0), RP_OK);
    double *v = malloc(f.total * sizeof(double));
    tu_fill(v, f.total, -0.5, 0.5, 77);
    ck_assert_int_eq(tu_set_grad_flat(net, gfix, v), 0);
    const size_t at[3] = {3, 8, 14}; /* inside blocks of K = 5 */
    perturb p = {opt, gfix, at, 3};
    double *g1 = malloc(f.total * sizeof(double)), *gk = malloc(f.total * sizeof(double));
    double *A = malloc(f.total * sizeof(double)), *gz = malloc(f.total * sizeof(double));
    double E1 = NAN, Ek = NAN, Ea = NAN;
    rp_rule *r0 = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    stream(&f, net, r0, th, 0, &p, g1, NULL, &E1);
    stream(&f, net, r0, th, 1, &p, gz, A, &Ea);
    stream(&f, net, r0, th, 5, &p, gk, NULL, &Ek);
    ck_assert(E1 == Ek && E1 == Ea);
    within_bound(&f, gk, g1, A, "block with parameter changes");
    /* without the changes the gradient differs: the changes mattered */
    double Eq = NAN;
    stream(&f, net, r0, th, 5, NULL, gz, NULL, &Eq);
    ck_assert(tu_rel_err(gz, g1, f.total, 1e-300) > 1e-6);
    free(v);
    free(th);
    free(g1);
    free(gk);
    free(A);
    free(gz);
    rp_grad_free(gfix);
    rp_optim_free(opt);
    rp_rule_free(r0);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* rp_rule_end with ticks pending: refused, the stream stays open; after the
   flush it ends with the K = 1 loss; a flush after the end is refused. */
START_TEST(end_needs_flush)
{
    fix f;
    fix_init(&f, 1, 7, RP_LOSS_MSE);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    double *th = params_of(&f, net);
    double *g1 = malloc(f.total * sizeof(double)), *gk = malloc(f.total * sizeof(double));
    double *A = malloc(f.total * sizeof(double)), *gz = malloc(f.total * sizeof(double));
    double E1 = NAN, Ea = NAN;
    rp_rule *r = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    stream(&f, net, r, th, 1, NULL, g1, NULL, &E1);
    stream(&f, net, r, th, 1, NULL, gz, A, &Ea);

    RP_CK(rp_rule_set_online_block(r, 5), r, rp_rule_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    for (size_t t = 0; t < f.T; t++)
        tick(&f, net, r, t, g);
    size_t pend = 0;
    RP_CK(rp_rule_get_online_block(r, NULL, &pend), r, rp_rule_last_error);
    ck_assert_uint_eq(pend, 2);
    double E = -1.0;
    ck_assert_int_eq(rp_rule_end(r, &E), RP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "2 ticks"));
    ck_assert(E == -1.0);
    int on = 0;
    RP_CK(rp_rule_get_streaming(r, &on), r, rp_rule_last_error);
    ck_assert_int_eq(on, 1);
    /* before the flush the grad lacks ticks 5 and 6 */
    tu_grad_flat(net, g, gk);
    ck_assert(tu_rel_err(gk, g1, f.total, 1e-300) > 1e-6);
    RP_CK(rp_rule_flush(r, g), r, rp_rule_last_error);
    RP_CK(rp_rule_flush(r, g), r, rp_rule_last_error); /* nothing pending: a no-op */
    RP_CK(rp_rule_end(r, &E), r, rp_rule_last_error);
    ck_assert(E == E1);
    tu_grad_flat(net, g, gk);
    within_bound(&f, gk, g1, A, "flushed before the end");
    ck_assert_int_eq(rp_rule_flush(r, g), RP_ERR_STATE);
    rp_grad_free(g);
    free(th);
    free(g1);
    free(gk);
    free(A);
    free(gz);
    rp_rule_free(r);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* A restart (rp_rule_begin inside a stream) with ticks pending is refused
   and changes nothing; after a flush it restarts, and the new stream equals
   the K = 1 stream. */
START_TEST(restart)
{
    fix f;
    fix_init(&f, 1, T_BLK, RP_LOSS_MSE);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    double *th = params_of(&f, net);
    double *g1 = malloc(f.total * sizeof(double)), *gk = malloc(f.total * sizeof(double));
    double *A = malloc(f.total * sizeof(double)), *gz = malloc(f.total * sizeof(double));
    double E1 = NAN, Ea = NAN;
    rp_rule *r = mk_rule(net, RP_RULE_RFLO, RP_LOSS_MSE);
    stream(&f, net, r, th, 1, NULL, g1, NULL, &E1);
    stream(&f, net, r, th, 1, NULL, gz, A, &Ea);

    RP_CK(rp_rule_set_online_block(r, 5), r, rp_rule_last_error);
    rp_grad *g = NULL, *gs = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gs, net, NULL, 0), RP_OK);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    for (size_t t = 0; t < 3; t++)
        tick(&f, net, r, t, gs);
    ck_assert_int_eq(rp_rule_begin(r, net), RP_ERR_STATE);
    size_t pend = 0;
    RP_CK(rp_rule_get_online_block(r, NULL, &pend), r, rp_rule_last_error);
    ck_assert_uint_eq(pend, 3);
    RP_CK(rp_rule_flush(r, gs), r, rp_rule_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error); /* the restart */
    for (size_t t = 0; t < f.T; t++)
        tick(&f, net, r, t, g);
    RP_CK(rp_rule_flush(r, g), r, rp_rule_last_error);
    double E = NAN;
    RP_CK(rp_rule_end(r, &E), r, rp_rule_last_error);
    ck_assert(E == E1);
    tu_grad_flat(net, g, gk);
    within_bound(&f, gk, g1, A, "restarted stream");
    rp_grad_free(g);
    rp_grad_free(gs);
    free(th);
    free(g1);
    free(gk);
    free(A);
    free(gz);
    rp_rule_free(r);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* rp_rule_step with another grad while ticks are pending: refused, nothing
   changes (the same step with the right grad then succeeds). */
START_TEST(step_with_another_grad)
{
    fix f;
    fix_init(&f, 1, 6, RP_LOSS_MSE);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    rp_rule *r = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    RP_CK(rp_rule_set_online_block(r, 4), r, rp_rule_last_error);
    rp_grad *g = NULL, *h = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&h, net, NULL, 0), RP_OK);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    tick(&f, net, r, 0, g);
    const double *xt = f.x + f.n_in;
    RP_CK(rp_net_step(net, xt, NULL), net, rp_net_last_error);
    ck_assert_int_eq(rp_rule_step(r, net, xt, f.tgt + f.O, NULL, h), RP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "another grad"));
    size_t pend = 0;
    RP_CK(rp_rule_get_online_block(r, NULL, &pend), r, rp_rule_last_error);
    ck_assert_uint_eq(pend, 1);
    /* changing K with ticks pending is refused too */
    ck_assert_int_eq(rp_rule_set_online_block(r, 2), RP_ERR_STATE);
    RP_CK(rp_rule_step(r, net, xt, f.tgt + f.O, NULL, g), r, rp_rule_last_error);
    RP_CK(rp_rule_flush(r, h), r, rp_rule_last_error); /* any grad of the dimensions */
    double *v = malloc(f.total * sizeof(double));
    tu_grad_flat(net, g, v);
    for (size_t k = 0; k < f.total; k++)
        ck_assert(v[k] == 0.0); /* both ticks went into h */
    RP_CK(rp_rule_set_online_block(r, 2), r, rp_rule_last_error);
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);
    free(v);
    rp_grad_free(g);
    rp_grad_free(h);
    rp_rule_free(r);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* A checkpoint with ticks pending is refused (the file would lose them);
   after the flush it is saved, and the rule loaded has K = 1. */
START_TEST(checkpoint_pending)
{
    fix f;
    fix_init(&f, 1, 6, RP_LOSS_MSE);
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    rp_rule *r = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    RP_CK(rp_rule_set_online_block(r, 4), r, rp_rule_last_error);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    for (size_t t = 0; t < 2; t++)
        tick(&f, net, r, t, g);
    char path[] = "/tmp/rp_oblockXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(path);
    char msg[256];
    ck_assert_int_eq(rp_checkpoint_save(net, NULL, r, path, 0, NULL, 0, msg, sizeof msg),
                     RP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(msg, "pending"));
    ck_assert_int_eq(access(path, F_OK), -1);
    RP_CK(rp_rule_flush(r, g), r, rp_rule_last_error);
    ck_assert_msg(rp_checkpoint_save(net, NULL, r, path, 0, NULL, 0, msg, sizeof msg) == RP_OK,
                  "%s", msg);
    rp_net *n2 = NULL;
    rp_rule *r2 = NULL;
    ck_assert_msg(rp_checkpoint_load(&n2, NULL, &r2, path, NULL, NULL, 0, NULL, msg, sizeof msg) ==
                      RP_OK,
                  "%s", msg);
    size_t K = 0, pend = 9;
    RP_CK(rp_rule_get_online_block(r2, &K, &pend), r2, rp_rule_last_error);
    ck_assert_uint_eq(K, 1);
    ck_assert_uint_eq(pend, 0);
    int on = 0;
    RP_CK(rp_rule_get_streaming(r2, &on), r2, rp_rule_last_error);
    ck_assert_int_eq(on, 1);
    unlink(path);
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);
    rp_rule_free(r2);
    rp_net_free(n2);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

/* An allocator that refuses any block above 1 MiB: a large K fails
   deterministically (and under sanitizers) with RP_ERR_NOMEM. */
static void *small_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return size > (1u << 20) ? NULL : malloc(size);
}
static void small_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

START_TEST(bad_arguments)
{
    fix f;
    fix_init(&f, 1, 4, RP_LOSS_MSE);
    rp_allocator al = {small_alloc, small_free, NULL};
    rp_net *net = mk_net(&f, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, &al);
    rp_rule *r = mk_rule(net, RP_RULE_EPROP, RP_LOSS_MSE);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    size_t K = 0, pend = 9;

    ck_assert_int_eq(rp_rule_set_online_block(NULL, 2), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_get_online_block(NULL, &K, &pend), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_flush(NULL, g), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_set_online_block(r, 0), RP_ERR_INVALID_ARG);
    RP_CK(rp_rule_set_online_block(r, 3), r, rp_rule_last_error);
    /* 1 MiB / (8 * 12) rows fit; 20000 ticks of (3*12 + 3 + 2 + 1) doubles do not */
    ck_assert_int_eq(rp_rule_set_online_block(r, 20000), RP_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "K = 20000"));
    ck_assert_int_eq(rp_rule_set_online_block(r, SIZE_MAX), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_set_online_block(r, (size_t)INT_MAX + 1), RP_ERR_INVALID_ARG);
    RP_CK(rp_rule_get_online_block(r, &K, &pend), r, rp_rule_last_error);
    ck_assert_uint_eq(K, 3); /* unchanged by the failures */
    ck_assert_uint_eq(pend, 0);
    RP_CK(rp_rule_get_online_block(r, NULL, NULL), r, rp_rule_last_error);
    /* flush without a stream */
    ck_assert_int_eq(rp_rule_flush(r, g), RP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "no online stream"));
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    ck_assert_int_eq(rp_rule_flush(r, NULL), RP_ERR_INVALID_ARG);
    fix f2;
    fix_init(&f2, 1, 1, RP_LOSS_MSE);
    f2.N = 5;
    rp_net *other = mk_net(&f2, RP_FORM_VOLTAGE, RP_PRECISION_DOUBLE, NULL);
    rp_grad *go = NULL;
    ck_assert_int_eq(rp_grad_create(&go, other, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_rule_flush(r, go), RP_ERR_DIM_MISMATCH);
    RP_CK(rp_rule_flush(r, g), r, rp_rule_last_error);
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);
    RP_CK(rp_rule_set_online_block(r, 1), r, rp_rule_last_error); /* frees the block */

    /* the rules without the block: K = 1 only */
    const rp_rule_kind kinds[4] = {RP_RULE_BPTT, RP_RULE_TBPTT, RP_RULE_RTRL, RP_RULE_MODPROP};
    for (int i = 0; i < 4; i++) {
        rp_rule *q = mk_rule(other, kinds[i], RP_LOSS_MSE);
        ck_assert_int_eq(rp_rule_set_online_block(q, 2), RP_ERR_UNSUPPORTED);
        RP_CK(rp_rule_set_online_block(q, 1), q, rp_rule_last_error);
        rp_rule_free(q);
    }
    rp_net *rate = mk_net(&f2, RP_FORM_RATE, RP_PRECISION_DOUBLE, NULL);
    rp_rule *q = mk_rule(rate, RP_RULE_RFLO, RP_LOSS_MSE);
    ck_assert_int_eq(rp_rule_set_online_block(q, 2), RP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(q), "rate form"));
    rp_rule_free(q);
    rp_net *single = mk_net(&f2, RP_FORM_VOLTAGE, RP_PRECISION_SINGLE, NULL);
    q = mk_rule(single, RP_RULE_EPROP, RP_LOSS_MSE);
    ck_assert_int_eq(rp_rule_set_online_block(q, 2), RP_ERR_UNSUPPORTED);
    RP_CK(rp_rule_set_online_block(q, 1), q, rp_rule_last_error);
    rp_rule_free(q);

    rp_net_free(single);
    rp_net_free(rate);
    rp_grad_free(go);
    rp_net_free(other);
    fix_free(&f2);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
    fix_free(&f);
}
END_TEST

Suite *suite_online_block(void)
{
    Suite *s = suite_create("online_block");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, block_equals_per_tick, 0, 12);
    tcase_add_test(tc, block_batch);
    tcase_add_test(tc, params_change_between_ticks);
    tcase_add_test(tc, end_needs_flush);
    tcase_add_test(tc, restart);
    tcase_add_test(tc, step_with_another_grad);
    tcase_add_test(tc, checkpoint_pending);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
