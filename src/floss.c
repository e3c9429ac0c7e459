/* Gradient flossing (MODEL.md §7): F = (1/k) sum_i (lambda_i - lambda*)^2 over
   the first k Lyapunov exponents of one trajectory (§6), and dF/dθ either
   exact (§7.1, a reverse pass through the QR chain and the states) or local
   (§7.2, states and the basis at each window's start frozen).

   The trajectory is run here on the handle's own buffers with rp__forward
   and rp__jacobian_apply; nothing is shared with rp_lyap.

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

struct rp_floss {
    size_t n_in, n_rec, n_out, k;
    rp_floss_config cfg;
    rp_layout lay;
    double *Q0;      /* N x k, row-major, orthonormal */
    double *scratch; /* lay.total: the gradient before it is added */
    /* fixed-size work (N x k unless stated) */
    double *qr_a;  /* N x k column-major, LAPACK's in/out */
    double *tau;   /* k */
    double *lwork; /* LAPACK workspace, n_lwork doubles */
    lapack_int n_lwork;
    double *Y, *Ybar, *Pbar, *G, *work; /* N x k each */
    double *Mk;                         /* k x k */
    double *lsum;                       /* k: sum of log R_ii over counted windows */
    double *cvec;                       /* k: dF/dlog R_ii of a counted window */
    double *vN1, *vN2, *vN3;            /* N */
    double *pad; /* rp__pad_len(n_in, N, 0): the padding of the net's products */
    size_t *src; /* k: column order after a collapse (rp__tangent_refill) */
    /* T-sized store, grown by reserve() */
    size_t T_cap;
    double *S;    /* (T+1) x N: states s_0..s_T (h or r) */
    double *FX;   /* (T+1) x N: f(h_t) (voltage) */
    double *UP;   /* T x N: u_t (rate), row t-1 */
    double *D1;   /* T x N: f'(h_{t-1}) (voltage) or f'(u_t) (rate), row t-1 */
    double *P;    /* T x N x k: P_t, block t-1 */
    double *Qs;   /* J x N x k */
    double *Rs;   /* J x k x k, row-major upper triangular */
    double *Ybig; /* N x (T k): column block t-1 holds the step's Ybar (or diag(f') Ybar) */
    double *Zbig; /* N x (T k): the matching presynaptic factor */
    double *Hbar; /* T x N: the state (voltage) or u (rate) adjoints, row t-1 */
    double *ones; /* T */
    double *Src;  /* J x k: window j's column order after a collapse (exact small
                     integers): c for a kept column c, -(c+1) for a collapsed one;
                     Src[(j-1) k] = k if nothing collapsed */
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

/* ---- QR with diag(R) >= 0 ------------------------------------------------ */

/* Y (N x k row-major) = Q R (rp__qr_pos): Q (N x k row-major) and R (k x k
   row-major, upper) written to Q, R. */
static rp_status qr_pos(rp_floss *fl, const double *Y, double *Q, double *R)
{
    const rp__qr w = {fl->n_rec, fl->k, fl->qr_a, fl->tau, fl->lwork, fl->n_lwork, NULL, NULL};
    return rp__qr_pos(&w, Y, Q, R, 1, NULL, fl->err);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void free_T(rp_floss *fl)
{
    rp__free(&fl->al, fl->S);
    fl->S = fl->FX = fl->UP = fl->D1 = fl->P = fl->Qs = fl->Rs = NULL;
    fl->Ybig = fl->Zbig = fl->Hbar = fl->ones = fl->Src = NULL;
    fl->T_cap = 0;
}

void rp_floss_free(rp_floss *fl)
{
    if (!fl)
        return;
    free_T(fl);
    rp__free(&fl->al, fl->Q0);
    rp__free(&fl->al, fl->scratch);
    rp__free(&fl->al, fl->qr_a);
    rp__free(&fl->al, fl->lwork);
    rp__free(&fl->al, fl->src);
    rp__free(&fl->al, fl);
}

const char *rp_floss_last_error(const rp_floss *fl) { return fl ? fl->err : "fl is NULL"; }

/* Grow the trajectory store to T steps: one block, so a failure leaves the
   old store in place. */
static rp_status reserve(rp_floss *fl, size_t T)
{
    if (T <= fl->T_cap)
        return RP_OK;
    const size_t N = fl->n_rec, k = fl->k, J = T / fl->cfg.t_ons;
    int ok = 1;
    size_t Nk = rp__mul(N, k, &ok);
    size_t TNk = rp__mul(T, Nk, &ok);
    size_t TN = rp__mul(T, N, &ok);
    /* Ybig/Zbig are N x (T k) with leading dimension T k, an int for BLAS */
    if (rp__mul(T, k, &ok) > (size_t)INT_MAX)
        ok = 0;
    size_t parts[12] = {TN + N,
                        TN + N,
                        TN,
                        TN,
                        TNk,
                        rp__mul(J, Nk, &ok),
                        rp__mul(J, rp__mul(k, k, &ok), &ok),
                        TNk,
                        TNk,
                        TN,
                        T,
                        rp__mul(J, k, &ok)};
    size_t total = 0;
    for (int i = 0; i < 12; i++) {
        if (parts[i] > SIZE_MAX - total)
            ok = 0;
        total += parts[i];
    }
    double *m = ok ? rp__calloc(&fl->al, total, sizeof(double)) : NULL;
    if (!m)
        return rp__fail(fl->err, RP_ERR_NOMEM,
                        "no memory for a trajectory of T = %zu steps "
                        "(n_rec %zu, k %zu)",
                        T, N, k);
    free_T(fl);
    double **dst[12] = {&fl->S,  &fl->FX,   &fl->UP,   &fl->D1,   &fl->P,    &fl->Qs,
                        &fl->Rs, &fl->Ybig, &fl->Zbig, &fl->Hbar, &fl->ones, &fl->Src};
    for (int i = 0; i < 12; i++) {
        *dst[i] = m;
        m += parts[i];
    }
    for (size_t t = 0; t < T; t++)
        fl->ones[t] = 1.0;
    fl->T_cap = T;
    return RP_OK;
}

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
    rp_status st = rp__single_refuse(net, "rp_floss_config_check", err);
    if (st == RP_OK)
        st = check_config(net, cfg, &c, err);
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
    rp_status cst = rp__single_refuse(net, "rp_floss_create", err);
    if (cst == RP_OK)
        cst = check_config(net, ucfg, &c, err);
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
    const size_t k = cfg->k, Nk = N * k;
    fl->Q0 = rp__calloc(&fl->al, Nk, sizeof(double));
    fl->scratch = rp__calloc(&fl->al, fl->lay.total, sizeof(double));
    /* qr_a, tau, Y, Ybar, Pbar, G, work, Mk, lsum, cvec, vN1..3, pad in one block */
    fl->qr_a = rp__calloc(&fl->al, 6 * Nk + k * k + 3 * k + 3 * N + rp__pad_len(fl->n_in, N, 0),
                          sizeof(double));
    fl->src = rp__calloc(&fl->al, k, sizeof(size_t));
    if (!fl->Q0 || !fl->scratch || !fl->qr_a || !fl->src) {
        rp_floss_free(fl);
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the regularizer's workspaces");
    }
    double *m = fl->qr_a + Nk;
    fl->Y = m, m += Nk;
    fl->Ybar = m, m += Nk;
    fl->Pbar = m, m += Nk;
    fl->G = m, m += Nk;
    fl->work = m, m += Nk;
    fl->Mk = m, m += k * k;
    fl->tau = m, m += k;
    fl->lsum = m, m += k;
    fl->cvec = m, m += k;
    fl->vN1 = m, m += N;
    fl->vN2 = m, m += N;
    fl->vN3 = m, m += N;
    fl->pad = m;
    /* LAPACK workspace: one query each for dgeqrf and dorgqr (lwork = -1). */
    fl->n_lwork = rp__qr_lwork(N, k);
    if (fl->n_lwork == 0) {
        rp_floss_free(fl);
        return rp__fail(err, RP_ERR_LAPACK, "LAPACK workspace query failed");
    }
    fl->lwork = rp__calloc(&fl->al, (size_t)fl->n_lwork, sizeof(double));
    if (!fl->lwork) {
        rp_floss_free(fl);
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the regularizer's workspaces");
    }
    const rp__qr w = {N, k, fl->qr_a, fl->tau, fl->lwork, fl->n_lwork, NULL, NULL};
    rp_status st = rp__qr_seeded(&w, cfg->seed, fl->Y, fl->Q0, fl->Mk, fl->err);
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
    const rp__qr w = {N, k, fl->qr_a, fl->tau, fl->lwork, fl->n_lwork, NULL, NULL};
    rp_status st = rp__qr_basis(&w, Q0, len, fl->Y, fl->Mk, fl->err);
    if (st != RP_OK)
        return st;
    memcpy(fl->Q0, fl->Y, N * k * sizeof(double));
    return RP_OK;
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

/* Forward pass: states, Jacobian factors, the bases P_t and every Q_j, R_j;
   lsum gets the counted logs.  *collapse_t / *collapse_i: the first step and
   direction with R_ii = 0 (collapse_t = 0 if none). */
static rp_status forward(rp_floss *fl, const rp_net *net, const windows *w, const double *x,
                         size_t *collapse_t, size_t *collapse_i, int *collapse_counted)
{
    const size_t N = fl->n_rec, k = fl->k, Nk = N * k, n_in = fl->n_in, to = fl->cfg.t_ons;
    const int voltage = net->cfg.form == RP_FORM_VOLTAGE;
    const rp_activation act = net->cfg.act;
    *collapse_t = 0;
    *collapse_i = 0;
    *collapse_counted = 0;
    memset(fl->lsum, 0, k * sizeof(double));
    memcpy(fl->S, net->h0, N * sizeof(double));
    if (voltage)
        rp__act(act, fl->S, fl->FX, N);
    memcpy(fl->P, fl->Q0, Nk * sizeof(double));
    rp_rng rng; /* refill directions: the same for every trial */
    rp__rng_seed(&rng, rp__seed_mix(fl->cfg.seed, RP__REFILL_TAG));
    for (size_t t = 1; t <= w->T_eff; t++) {
        double *s = fl->S + t * N, *d1 = fl->D1 + (t - 1) * N;
        const double *xt = x && n_in ? x + (t - 1) * n_in : NULL;
        memcpy(s, s - N, N * sizeof(double));
        if (voltage) {
            /* D_t uses f'(h_{t-1}); for tanh from f(h_{t-1}) at hand (the
               bits of rp__act_d1 without a second tanh) */
            if (act == RP_ACT_TANH) {
                const double *fp = fl->FX + (t - 1) * N;
                for (size_t i = 0; i < N; i++)
                    d1[i] = 1.0 - fp[i] * fp[i];
            } else {
                rp__act_d1(act, s - N, d1, N);
            }
            memcpy(fl->FX + t * N, fl->FX + (t - 1) * N, N * sizeof(double));
            rp__forward(net, 1, xt, s, fl->FX + t * N, NULL, fl->pad);
        } else {
            double *u = fl->UP + (t - 1) * N;
            rp__forward(net, 1, xt, s, fl->vN1, u, fl->pad);
            rp__act_d1(act, u, d1, N); /* D_t uses f'(u_t) */
        }
        size_t bad = rp__find_nonfinite(s, N);
        if (bad < N)
            return rp__fail(fl->err, RP_ERR_NONFINITE, "state diverged at step %zu, unit %zu",
                            t - 1, bad);
        rp_status bst = rp__check_bound(net, s, 1, t - 1, fl->err);
        if (bst != RP_OK)
            return bst;
        const double *Pin = fl->P + (t - 1) * Nk;
        if (t % to != 0) {
            rp__jacobian_apply(net, d1, Pin, k, fl->P + t * Nk, fl->work);
            continue;
        }
        size_t j = t / to; /* 1-based window */
        double *Q = fl->Qs + (j - 1) * Nk, *R = fl->Rs + (j - 1) * k * k;
        rp__jacobian_apply(net, d1, Pin, k, fl->Y, fl->work);
        bad = rp__find_nonfinite(fl->Y, Nk);
        if (bad < Nk)
            return rp__fail(fl->err, RP_ERR_NONFINITE,
                            "tangent basis overflowed at step %zu (unit %zu, direction %zu)", t - 1,
                            bad / k, bad % k);
        rp_status st = qr_pos(fl, fl->Y, Q, R);
        if (st != RP_OK)
            return st;
        int counted = j > w->n_skip;
        /* Collapse: as rp_lyap (see the header), kept directions first and
           refilled ones last; lsum moves with its direction. */
        double *src = fl->Src + (j - 1) * k;
        size_t nc = rp__tangent_refill(N, k, fl->Y, R, k + 1, &rng, fl->Ybar, fl->src);
        src[0] = (double)k;
        if (nc) {
            st = qr_pos(fl, fl->Ybar, Q, R);
            if (st != RP_OK)
                return st;
            for (size_t i = 0; i < k; i++) {
                src[i] = i < k - nc ? (double)fl->src[i] : -(double)fl->src[i] - 1.0;
                fl->cvec[i] = fl->lsum[fl->src[i]];
            }
            memcpy(fl->lsum, fl->cvec, k * sizeof(double));
        }
        for (size_t i = 0; i < k; i++) {
            double r = i < k - nc ? R[i * k + i] : 0.0;
            if (r == 0.0 && *collapse_t == 0) {
                *collapse_t = t;
                *collapse_i = i;
                *collapse_counted = counted;
            } else if (r == 0.0 && counted && !*collapse_counted) {
                *collapse_t = t;
                *collapse_i = i;
                *collapse_counted = 1;
            }
            if (counted)
                fl->lsum[i] += log(r); /* log 0 = -inf: the collapsed direction */
        }
        if (t < w->T_eff)
            memcpy(fl->P + t * Nk, Q, Nk * sizeof(double));
    }
    return RP_OK;
}

/* ---- the reverse pass (MODEL.md §7.1, §7.2) -------------------------------- */

/* Ybar = (Qbar + Q copyltu(M)) R^{-T}, M = R Rbar^T - Qbar^T Q, the adjoint of
   A = Q R (thin, N >= k) for Rbar = diag(rbar) (only the logs of diag(R)
   enter F).  Qbar NULL means Qbar = 0 (the local rule: Q frozen downstream),
   which leaves Q diag(R_ii rbar_i) R^{-T} = Q diag(c) R^{-T} (§7.2's M_t). */
static void qr_backward(rp_floss *fl, const double *Q, const double *R, const double *rbar,
                        const double *Qbar, double *Ybar)
{
    const size_t N = fl->n_rec, k = fl->k;
    double *M = fl->Mk;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            M[i * k + j] = R[i * k + j] * rbar[j];
    if (Qbar) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)k, (int)N, -1.0, Qbar,
                    (int)k, Q, (int)k, 1.0, M, (int)k);
        memcpy(Ybar, Qbar, N * k * sizeof(double));
    }
    for (size_t i = 0; i < k; i++) /* copyltu: the lower triangle mirrored */
        for (size_t j = i + 1; j < k; j++)
            M[i * k + j] = M[j * k + i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)k, 1.0, Q, (int)k,
                M, (int)k, Qbar ? 1.0 : 0.0, Ybar, (int)k);
    /* Ybar R^T = X  =>  Ybar = X R^{-T} */
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, (int)N, (int)k,
                1.0, R, (int)k, Ybar, (int)k);
}

static rp_status reverse(rp_floss *fl, const rp_net *net, const windows *w, const double *x)
{
    const size_t N = fl->n_rec, k = fl->k, Nk = N * k, n_in = fl->n_in, to = fl->cfg.t_ons;
    const size_t T = w->T_eff, ldb = T * k;
    const int voltage = net->cfg.form == RP_FORM_VOLTAGE, exact = fl->cfg.mode == RP_FLOSS_EXACT;
    const rp_activation act = net->cfg.act;
    const double a = net->cfg.alpha, g = 1.0 - a;
    const double *W = net->W;
    double *Ybar = fl->Ybar, *Pbar = fl->Pbar, *G = fl->G;
    double *sbar = fl->vN1, *d2 = fl->vN2, *tmp = fl->vN3;
    double *rbar = fl->tau; /* k doubles; LAPACK is done with tau by now */
    /* The local rule never looks at uncounted windows: their steps carry no
       adjoint.  The exact rule runs through them (Q_j feeds later windows). */
    const size_t t_lo = exact ? 1 : w->n_skip * to + 1;
    memset(sbar, 0, N * sizeof(double));
    memset(Pbar, 0, Nk * sizeof(double)); /* adjoint of P_{T+1}: nothing reads it */
    for (size_t t = T; t >= t_lo; t--) {
        const double *Pin = fl->P + (t - 1) * Nk, *d1 = fl->D1 + (t - 1) * N;
        double *yb = fl->Ybig + (t - 1) * k, *zb = fl->Zbig + (t - 1) * k;
        if (t % to == 0) {
            size_t j = t / to;
            const double *Q = fl->Qs + (j - 1) * Nk, *R = fl->Rs + (j - 1) * k * k;
            int counted = j > w->n_skip;
            for (size_t i = 0; i < k; i++)
                rbar[i] = counted ? fl->cvec[i] / R[i * k + i] : 0.0;
            const double *src = fl->Src + (j - 1) * k;
            if (src[0] == (double)k) {
                qr_backward(fl, Q, R, rbar, exact && t < T ? Pbar : NULL, Ybar);
            } else {
                /* A refill (forward): Q R = qr(Y2), Y2 = the kept columns of Y
                   reordered, then constants; only transient windows get here
                   (a counted collapse is refused). */
                qr_backward(fl, Q, R, rbar, exact && t < T ? Pbar : NULL, fl->work);
                for (size_t s = 0; s < k; s++) {
                    const int kept = src[s] >= 0.0;
                    const size_t c = kept ? (size_t)src[s] : (size_t)(-src[s]) - 1;
                    for (size_t i = 0; i < N; i++)
                        Ybar[i * k + c] = kept ? fl->work[i * k + s] : 0.0;
                }
            }
        } else {
            memcpy(Ybar, Pbar, Nk * sizeof(double));
        }
        /* P_t's adjoint is needed unless P_t is frozen: Q0 (t = 1), or, for
           the local rule, the basis at a window's start. */
        const int need_pbar = exact ? t > 1 : (t - 1) % to != 0;
        if (voltage) {
            /* Y_t = a P + (1-a) W diag(f'(h_{t-1})) P */
            for (size_t i = 0; i < N; i++)
                for (size_t l = 0; l < k; l++) {
                    yb[i * ldb + l] = Ybar[i * k + l];
                    zb[i * ldb + l] = d1[i] * Pin[i * k + l];
                }
            if (need_pbar || (exact && t > 1))
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, W,
                            (int)N, Ybar, (int)k, 0.0, G, (int)k); /* G = W^T Ybar */
            if (need_pbar)
                for (size_t i = 0; i < N; i++)
                    for (size_t l = 0; l < k; l++)
                        Pbar[i * k + l] = a * Ybar[i * k + l] + g * d1[i] * G[i * k + l];
            if (exact) {
                /* h_t's adjoint is complete: keep it for the stacked GEMMs. */
                memcpy(fl->Hbar + (t - 1) * N, sbar, N * sizeof(double));
                if (t > 1) {
                    /* h_{t-1} <- a h_t-bar + (1-a) f'(h_{t-1}) (W^T h_t-bar)
                                  + (1-a) f''(h_{t-1}) rowsum(G .* P_t)   (D_t depends on h_{t-1}) */
                    cblas_dgemv(CblasRowMajor, CblasTrans, (int)N, (int)N, 1.0, W, (int)N, sbar, 1,
                                0.0, tmp, 1);
                    rp__act_d2(act, fl->S + (t - 1) * N, d2, N);
                    for (size_t i = 0; i < N; i++) {
                        double r = 0.0;
                        for (size_t l = 0; l < k; l++)
                            r += G[i * k + l] * Pin[i * k + l];
                        sbar[i] = a * sbar[i] + g * d1[i] * tmp[i] + g * d2[i] * r;
                    }
                }
            }
        } else {
            /* Y_t = a P + (1-a) diag(f'(u_t)) W P,  u_t = W r_{t-1} + U x_t + b */
            const double *u = fl->UP + (t - 1) * N;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, W,
                        (int)N, Pin, (int)k, 0.0, G, (int)k); /* G = W P */
            rp__act_d2(act, u, d2, N);
            double *ub = fl->Hbar + (t - 1) * N;
            for (size_t i = 0; i < N; i++) {
                double r = 0.0;
                for (size_t l = 0; l < k; l++) {
                    r += Ybar[i * k + l] * G[i * k + l];
                    yb[i * ldb + l] = d1[i] * Ybar[i * k + l];
                    zb[i * ldb + l] = Pin[i * k + l];
                }
                /* u_t-bar: through D_t (f'') and, exact only, through r_t */
                ub[i] = g * d2[i] * r + (exact ? g * d1[i] * sbar[i] : 0.0);
            }
            if (need_pbar) {
                /* Pbar = a Ybar + (1-a) W^T diag(f') Ybar; diag(f') Ybar is the
                   block just written to Ybig (leading dimension T k). */
                for (size_t i = 0; i < Nk; i++)
                    Pbar[i] = a * Ybar[i];
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, g, W,
                            (int)N, yb, (int)ldb, 1.0, Pbar, (int)k);
            }
            if (exact && t > 1) {
                /* r_{t-1}-bar = a r_t-bar + W^T u_t-bar */
                cblas_dgemv(CblasRowMajor, CblasTrans, (int)N, (int)N, 1.0, W, (int)N, ub, 1, a,
                            sbar, 1);
            }
        }
        if (t == 1)
            break;
    }
    /* Accumulate over the stacked steps t_lo..T with one GEMM each. */
    const size_t nt = T - t_lo + 1, c0 = t_lo - 1;
    double *gW = fl->scratch + fl->lay.off[RP_PARAM_W];
    double *gU = fl->scratch + fl->lay.off[RP_PARAM_U];
    double *gb = fl->scratch + fl->lay.off[RP_PARAM_B];
    /* Jacobian path: sum_t (1-a) [Ybar_t or diag(f') Ybar_t] [diag(f') P_t or P_t]^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)(nt * k), g,
                fl->Ybig + c0 * k, (int)ldb, fl->Zbig + c0 * k, (int)ldb, 1.0, gW, (int)N);
    if (voltage && !exact)
        return RP_OK; /* §7.2 voltage: the states are frozen, only W moves D_t */
    /* State path: voltage: (1-a) sum_t h_t-bar f(h_{t-1})^T, U: x_t, b: 1;
       rate: sum_t u_t-bar r_{t-1}^T, x_t, 1. */
    const double sc = voltage ? g : 1.0;
    const double *pre = voltage ? fl->FX : fl->S; /* row t-1: f(h_{t-1}) or r_{t-1} */
    const double *hb = fl->Hbar + c0 * N;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)N, (int)nt, sc, hb, (int)N,
                pre + c0 * N, (int)N, 1.0, gW, (int)N);
    if (x && n_in)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)n_in, (int)nt, sc, hb,
                    (int)N, x + c0 * n_in, (int)n_in, 1.0, gU, (int)n_in);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)nt, (int)N, sc, hb, (int)N, fl->ones, 1, 1.0, gb,
                1);
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
    if (rp__single_refuse(net, "rp_floss_trial", fl->err) != RP_OK)
        return RP_ERR_UNSUPPORTED;
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
    rp_status st = reserve(fl, w.T_eff);
    if (st != RP_OK)
        return st;
    size_t ct, ci;
    int cc;
    st = forward(fl, net, &w, x, &ct, &ci, &cc);
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
    st = reverse(fl, net, &w, x);
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
