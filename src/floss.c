/* Gradient flossing (MODEL.md §7): F = (1/k) sum_i (lambda_i - lambda*)^2 over
   the first k Lyapunov exponents of one trajectory (§6), and dF/dθ either
   exact (§7.1, a reverse pass through the QR chain and the states) or local
   (§7.2, states and the basis at each window's start frozen).

   The trajectory is run on the handle's own buffers with rp__forward and
   rp__jacobian_apply (or their float instances on a single-precision net):
   floss_kernels.h holds the forward and reverse passes, one source compiled
   twice here; nothing is shared with rp_lyap.

   Notation of the reverse pass: step t (1-based) applies the Jacobian D_t to
   P_t (the basis entering step t, P_1 = Q0) giving Y_t = D_t P_t; at a
   re-orthonormalization step Y_t = Q_j R_j and P_{t+1} = Q_j, else
   P_{t+1} = Y_t.  Bars are adjoints dF/d(.). */
#include "qr.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RP_FLOSS_TYPES
#define RP_K_DOUBLE
#include "floss_kernels.h"
#undef RP_K_DOUBLE
#define RP_K_SINGLE
#include "floss_kernels.h"
#undef RP_K_SINGLE
#undef RP_FLOSS_TYPES

/* Steps per float GEMM of the gradient's sums (floss_kernels.h). */
#define RP__FLOSS_CHUNK 32

/* A net of RP_PRECISION_SINGLE runs the trajectory, the QR chain and the
   reverse pass in float (floss_kernels.h's float instance on wf), a double
   net in double (wd); only one of wd, wf is allocated.  Double in both:

   - the sums of log R_ii (lsum) and their derivatives (cvec): as rp_lyap's
     (lyap.c), a float sum over the windows would add a relative error
     growing with their number;
   - the gradient's sums over steps (scratch): the stacked GEMMs sum T k
     products per entry of dF/dW, T per entry of U and b; a float sum of
     that length carries gamma_{Tk} ~ T k 6e-8 relative (1e-3 at T = 1000,
     k = 16), more than the reverse pass's own float rounding, so the float
     instance sums RP__FLOSS_CHUNK steps per sgemm and adds each chunk's
     result into the double gradient (one N x N addition per 32 steps);
   - the initial basis Q0: drawn and orthonormalized in double exactly as
     for a double net, rounded to float once a trial (q0w, q0y: that QR's
     double workspace, the handle's own on a single net, wd's otherwise). */
struct rp_floss {
    size_t n_in, n_rec, n_out, k;
    rp_floss_config cfg;
    rp_layout lay;
    rp_precision precision;
    double *Q0;      /* N x k, row-major, orthonormal */
    double *scratch; /* lay.total: the gradient before it is added */
    double *lsum;    /* k: sum of log R_ii over counted windows */
    double *cvec;    /* k: dF/dlog R_ii of a counted window */
    size_t *src;     /* k: column order after a collapse (rp__tangent_refill) */
    floss_ws wd;     /* double nets */
    floss_ws_f wf;   /* single nets */
    rp__qr q0w;      /* double QR of Q0 (wd.qr, or own on a single net) */
    double *q0y;     /* N x k double scratch of that QR; q0w's k x k R scratch is q0r */
    double *q0r;
    double *q0own; /* single nets: the block holding q0w's arrays, q0y and q0r */
    char err[RP_ERRLEN];
    rp_allocator al; /* the net's */
};

static const rp__cfg_type floss_cfg_type =
    RP__CFG_TYPE(rp_floss_config, RP__FLOSS_CONFIG_SIZE_1_0, "rp_floss_config_init");
static const rp__cfg_type sched_type =
    RP__CFG_TYPE(rp_floss_schedule, RP__FLOSS_SCHEDULE_SIZE_1_0, "rp_floss_schedule_init");

static void floss_defaults(rp_floss_config *c)
{
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->k = 1;
    c->target = 0.0;
    c->t_ons = 1;
    c->transient = 0;
    c->mode = RP_FLOSS_LOCAL;
    c->seed = 1;
#ifdef RP_TEST_GROWN
    c->rp_test_future = RP_TEST_GROWN_DEFAULT;
#endif
}

rp_status rp_floss_config_init(rp_floss_config *cfg, size_t size)
{
    rp_floss_config d;
    floss_defaults(&d);
    return rp__cfg_init(&floss_cfg_type, cfg, size, &d, NULL);
}

/* ---- the trajectory and the exponents (MODEL.md §6) ----------------------- */

/* Windows: j = 1..J end at t = j t_ons; the first n_skip are not counted. */
typedef struct windows {
    size_t J, n_skip, T_eff, counted_steps;
} windows;

static windows plan(const rp_floss *fl, size_t T)
{
    windows w;
    size_t to = fl->cfg.t_ons;
    w.J = T / to;
    w.T_eff = w.J * to;
    w.n_skip = (fl->cfg.transient + to - 1) / to;
    w.counted_steps = w.J > w.n_skip ? (w.J - w.n_skip) * to : 0;
    return w;
}

#define RP_FLOSS_CODE
#include <limits.h>
#define RP_K_DOUBLE
#include "floss_kernels.h"
#undef RP_K_DOUBLE
#define RP_K_SINGLE
#include "floss_kernels.h"
#undef RP_K_SINGLE
#undef RP_FLOSS_CODE

/* ---- lifecycle ----------------------------------------------------------- */

void rp_floss_free(rp_floss *fl)
{
    if (!fl)
        return;
    ws_free(&fl->wd, &fl->al);
    ws_free_f(&fl->wf, &fl->al);
    rp__free(&fl->al, fl->q0own);
    rp__free(&fl->al, fl->Q0);
    rp__free(&fl->al, fl->scratch);
    rp__free(&fl->al, fl->src);
    rp__free(&fl->al, fl);
}

const char *rp_floss_last_error(const rp_floss *fl) { return fl ? fl->err : "fl is NULL"; }

/* The caller's cfg read into *c (config.c) and checked. */
static rp_status check_config(const rp_net *net, const rp_floss_config *ucfg, rp_floss_config *c,
                              char *err)
{
    if (!net)
        return rp__fail(err, RP_ERR_INVALID_ARG, "net is NULL");
    if (!ucfg)
        return rp__fail(err, RP_ERR_INVALID_ARG, "cfg is NULL");
    floss_defaults(c);
    rp_status st = rp__cfg_read(&floss_cfg_type, c, ucfg, "cfg", err);
    if (st != RP_OK)
        return st;
    const rp_floss_config *cfg = c;
    const size_t N = net->cfg.n_rec;
    if (cfg->k == 0 || cfg->k > N)
        return rp__fail(err, RP_ERR_INVALID_ARG, "k is %zu, expected 1..n_rec = %zu", cfg->k, N);
    if (cfg->t_ons == 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "t_ons is 0, expected >= 1");
    if (!isfinite(cfg->target))
        return rp__fail(err, RP_ERR_INVALID_ARG, "target is %g, expected a finite value",
                        cfg->target);
    if (cfg->mode != RP_FLOSS_EXACT && cfg->mode != RP_FLOSS_LOCAL)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "mode is %d, expected RP_FLOSS_EXACT or RP_FLOSS_LOCAL", (int)cfg->mode);
    if ((lapack_int)N < 0 || (size_t)(lapack_int)N != N)
        return rp__fail(err, RP_ERR_INVALID_ARG, "n_rec %zu is too large for LAPACK's integers", N);
    return RP_OK;
}

rp_status rp_floss_config_check(const rp_net *net, const rp_floss_config *cfg, char *msg,
                                size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_floss_config c;
    rp_status st = check_config(net, cfg, &c, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

static rp_status floss_create(rp_floss **out, const rp_net *net, const rp_floss_config *ucfg,
                              char *err)
{
    if (!out)
        return rp__fail(err, RP_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    rp_floss_config c;
    rp_status cst = check_config(net, ucfg, &c, err);
    if (cst != RP_OK)
        return cst;
    const rp_floss_config *cfg = &c;
    const size_t N = net->cfg.n_rec;
    rp_floss *fl = rp__calloc(&net->al, 1, sizeof *fl);
    if (!fl)
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the regularizer");
    fl->al = net->al;
    fl->n_in = net->cfg.n_in;
    fl->n_rec = N;
    fl->n_out = net->cfg.n_out;
    fl->k = cfg->k;
    fl->cfg = *cfg;
    fl->lay = net->lay;
    fl->precision = net->cfg.precision;
    const size_t k = cfg->k, Nk = N * k;
    fl->Q0 = rp__calloc(&fl->al, Nk + 2 * k, sizeof(double));
    fl->scratch = rp__calloc(&fl->al, fl->lay.total, sizeof(double));
    fl->src = rp__calloc(&fl->al, k, sizeof(size_t));
    if (!fl->Q0 || !fl->scratch || !fl->src) {
        rp_floss_free(fl);
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the regularizer's workspaces");
    }
    fl->lsum = fl->Q0 + Nk;
    fl->cvec = fl->lsum + k;
    int r;
    if (fl->precision == RP_PRECISION_SINGLE) {
        r = ws_alloc_f(&fl->wf, &fl->al, N, k, fl->n_in);
        const lapack_int lw = r == 1 ? rp__qr_lwork(N, k) : 1;
        if (lw == 0)
            r = -1;
        double *q =
            r == 1 ? rp__calloc(&fl->al, 2 * Nk + k + k * k + (size_t)lw, sizeof(double)) : NULL;
        if (r == 1 && !q)
            r = 0;
        if (q) {
            fl->q0own = q;
            fl->q0y = q, q += Nk;
            fl->q0r = q, q += k * k;
            fl->q0w = (rp__qr){N, k, q, q + Nk, q + Nk + k, lw, NULL, NULL};
        }
    } else {
        r = ws_alloc(&fl->wd, &fl->al, N, k, fl->n_in);
        fl->q0w = fl->wd.qr;
        fl->q0y = fl->wd.Y;
        fl->q0r = fl->wd.Mk;
    }
    if (r != 1) {
        rp_floss_free(fl);
        if (r < 0)
            return rp__fail(err, RP_ERR_LAPACK, "LAPACK workspace query failed");
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the regularizer's workspaces");
    }
    rp_status st = rp__qr_seeded(&fl->q0w, cfg->seed, fl->q0y, fl->Q0, fl->q0r, fl->err);
    if (st != RP_OK) {
        rp__copy_msg(err, RP_ERRLEN, fl->err);
        rp_floss_free(fl);
        return st;
    }
    *out = fl;
    return RP_OK;
}

rp_status rp_floss_create(rp_floss **out, const rp_net *net, const rp_floss_config *cfg, char *msg,
                          size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = floss_create(out, net, cfg, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_floss_set_basis(rp_floss *fl, const double *Q0, size_t len)
{
    RP__CLEAR_ERR(fl);
    if (!fl)
        return RP_ERR_INVALID_ARG;
    const size_t N = fl->n_rec, k = fl->k;
    /* Orthonormalize into Y, then check R's diagonal before committing. */
    rp_status st = rp__qr_basis(&fl->q0w, Q0, len, fl->q0y, fl->q0r, fl->err);
    if (st != RP_OK)
        return st;
    memcpy(fl->Q0, fl->q0y, N * k * sizeof(double));
    return RP_OK;
}

/* ---- the public trial ----------------------------------------------------- */

rp_status rp_floss_trial(rp_floss *fl, const rp_net *net, size_t T, const double *x, rp_grad *grad,
                         double *F, double *lambdas)
{
    RP__CLEAR_ERR(fl);
    if (!fl)
        return RP_ERR_INVALID_ARG;
    if (!net)
        return rp__fail(fl->err, RP_ERR_INVALID_ARG, "net is NULL");
    if (!grad)
        return rp__fail(fl->err, RP_ERR_INVALID_ARG, "grad is NULL");
    if (net->cfg.precision != fl->precision)
        return rp__fail(fl->err, RP_ERR_DIM_MISMATCH,
                        "net has precision %d; the handle was created for precision %d "
                        "(RP_PRECISION_DOUBLE 0, RP_PRECISION_SINGLE 1)",
                        (int)net->cfg.precision, (int)fl->precision);
    if (net->cfg.n_in != fl->n_in || net->cfg.n_rec != fl->n_rec || net->cfg.n_out != fl->n_out)
        return rp__fail(fl->err, RP_ERR_DIM_MISMATCH,
                        "net has (n_in %zu, n_rec %zu, n_out %zu), the handle was created for "
                        "(%zu, %zu, %zu)",
                        net->cfg.n_in, net->cfg.n_rec, net->cfg.n_out, fl->n_in, fl->n_rec,
                        fl->n_out);
    if (!rp__grad_matches(grad, net))
        return rp__fail(
            fl->err, RP_ERR_DIM_MISMATCH,
            "grad has (n_in %zu, n_rec %zu, n_out %zu), expected the net's (%zu, %zu, %zu)",
            grad->n_in, grad->n_rec, grad->n_out, fl->n_in, fl->n_rec, fl->n_out);
    const size_t to = fl->cfg.t_ons, tr = fl->cfg.transient;
    if (T <= tr)
        return rp__fail(fl->err, RP_ERR_INVALID_ARG, "T is %zu, expected T > transient = %zu", T,
                        tr);
    windows w = plan(fl, T);
    if (w.counted_steps == 0)
        return rp__fail(
            fl->err, RP_ERR_INVALID_ARG,
            "T is %zu: no complete window of t_ons = %zu steps after the transient %zu; "
            "expected T >= %zu",
            T, to, tr, (w.n_skip + 1) * to);
    if (x && fl->n_in) {
        size_t n = T * fl->n_in, bad = rp__find_nonfinite(x, n);
        if (bad < n)
            return rp__fail(fl->err, RP_ERR_NONFINITE, "x at step %zu, input %zu is %g",
                            bad / fl->n_in, bad % fl->n_in, x[bad]);
    }
    const int single = fl->precision == RP_PRECISION_SINGLE;
    rp_status st = single ? ws_reserve_f(fl, &fl->wf, w.T_eff) : ws_reserve(fl, &fl->wd, w.T_eff);
    if (st != RP_OK)
        return st;
    const float *xf = NULL;
    if (single && x && fl->n_in) {
        rp__to_f(x, fl->wf.X, w.T_eff * fl->n_in);
        xf = fl->wf.X;
    }
    size_t ct, ci;
    int cc;
    st = single ? fl_forward_f(fl, &fl->wf, net, &w, xf, &ct, &ci, &cc)
                : fl_forward(fl, &fl->wd, net, &w, x, &ct, &ci, &cc);
    if (st != RP_OK)
        return st;
    const size_t k = fl->k;
    const double tgt = fl->cfg.target, S = (double)w.counted_steps;
    double Fv = 0.0;
    for (size_t i = 0; i < k; i++) {
        double lam = fl->lsum[i] / S, d = lam - tgt;
        Fv += d * d / (double)k;
        fl->cvec[i] = 2.0 * d / ((double)k * S); /* dF/dlog R_ii, §7.2's c_i */
    }
    if (ct && cc) {
        /* A collapsed direction: the exponents are still meaningful, the
           gradient is not (see the header). */
        if (lambdas)
            for (size_t i = 0; i < k; i++)
                lambdas[i] = fl->lsum[i] / S;
        if (F)
            *F = INFINITY;
        return rp__fail(
            fl->err, RP_ERR_NONFINITE,
            "direction %zu collapsed (R_ii = 0, lambda = -inf) at step %zu; the flossing "
            "gradient is undefined",
            ci, ct - 1);
    }
    memset(fl->scratch, 0, fl->lay.total * sizeof(double));
    st = single ? fl_reverse_f(fl, &fl->wf, net, &w, xf) : fl_reverse(fl, &fl->wd, net, &w, x);
    if (st != RP_OK)
        return st;
    size_t bad = rp__find_nonfinite(fl->scratch, fl->lay.total);
    if (bad < fl->lay.total)
        return rp__fail(fl->err, RP_ERR_NONFINITE,
                        "the flossing gradient is not finite (entry %zu of the parameter vector): "
                        "a nearly collapsed direction (R_ii ~ 0)?",
                        bad);
    cblas_daxpy((int)fl->lay.total, 1.0, fl->scratch, 1, grad->v, 1);
    if (lambdas)
        for (size_t i = 0; i < k; i++)
            lambdas[i] = fl->lsum[i] / S;
    if (F)
        *F = Fv;
    return RP_OK;
}

/* ---- schedules (MODEL.md §7.3) --------------------------------------------- */

static void sched_defaults(rp_floss_schedule *s)
{
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    s->kind = RP_FLOSS_SCHED_NONE;
    s->pre = 0;
    s->period = 100;
    s->floss_iters = 10;
    s->beta = 1.0;
#ifdef RP_TEST_GROWN
    s->rp_test_future = RP_TEST_GROWN_DEFAULT;
#endif
}

rp_status rp_floss_schedule_init(rp_floss_schedule *s, size_t size)
{
    rp_floss_schedule d;
    sched_defaults(&d);
    return rp__cfg_init(&sched_type, s, size, &d, NULL);
}

/* The caller's schedule read into *s (config.c) and checked. */
static rp_status sched_check(const rp_floss_schedule *us, rp_floss_schedule *s, char *err)
{
    if (!us)
        return rp__fail(err, RP_ERR_INVALID_ARG, "s is NULL");
    sched_defaults(s);
    rp_status st = rp__cfg_read(&sched_type, s, us, "s", err);
    if (st != RP_OK)
        return st;
    if ((unsigned)s->kind > RP_FLOSS_SCHED_DURING)
        return rp__fail(err, RP_ERR_INVALID_ARG, "kind is %d, expected RP_FLOSS_SCHED_NONE..DURING",
                        (int)s->kind);
    if (s->kind == RP_FLOSS_SCHED_INTER && (s->period == 0 || s->floss_iters == 0))
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "inter-flossing needs period >= 1 and floss_iters >= 1, got %zu and %zu",
                        s->period, s->floss_iters);
    if (!(s->beta >= 0.0 && isfinite(s->beta)))
        return rp__fail(err, RP_ERR_INVALID_ARG, "beta is %g, expected a finite value >= 0",
                        s->beta);
    return RP_OK;
}

rp_status rp_floss_schedule_check(const rp_floss_schedule *s, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_floss_schedule c;
    rp_status st = sched_check(s, &c, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_floss_schedule_at(const rp_floss_schedule *us, size_t iter, int *task_step,
                               double *floss_weight)
{
    rp_floss_schedule c;
    rp_status st = sched_check(us, &c, NULL);
    if (st != RP_OK)
        return st;
    const rp_floss_schedule *s = &c;
    int task = 1;
    double wgt = 0.0;
    if (s->kind != RP_FLOSS_SCHED_NONE && iter < s->pre) {
        task = 0;
        wgt = s->beta;
    } else if (s->kind == RP_FLOSS_SCHED_INTER) {
        size_t pos = (iter - s->pre) % (s->period + s->floss_iters);
        if (pos >= s->period) {
            task = 0;
            wgt = s->beta;
        }
    } else if (s->kind == RP_FLOSS_SCHED_DURING) {
        wgt = s->beta;
    }
    if (task_step)
        *task_step = task;
    if (floss_weight)
        *floss_weight = wgt;
    return RP_OK;
}
