/* e-prop (MODEL.md §4.4) and RFLO (§4.5): one estimator, two default feedbacks;
   ModProp (§4.7) is this estimator plus the non-local credit of
   rule_modprop.c (rule->mp set), added to the learning signal per trial and
   to the gradient online.
   rule.c has checked every argument and chosen the feedback kind; here are the
   per-trial kernels (§4.6: one GEMM per parameter over the stacked T*B rows)
   and the online stream (a rank-B update per step).

   Memory.  Per trial, for T steps of B trials (grown by reserve):
     voltage: h_t, f(h_t) (t = 0..T), the learning signals, and the presynaptic
              traces eps_t (n_rec, written over f(h_t) once it is used) and
              eps^x_t (n_in) per row: O(N) trace memory per row and step,
              3 T*B*n_rec doubles in all (as BPTT); nothing of size N^2;
     rate:    r_t (t = 0..T) and u_t; the N x N traces are never formed, the
              learning signal is filtered backward in time instead (§4.6).
   Online:
     voltage: the traces eps, eps^x of the current step, B*(n_rec + n_in), at create;
     rate:    at the first rp_rule_begin (so per-trial users never pay for them), the full traces P (n_rec x n_rec), P^U (n_rec x n_in) and P^b per
              batch row, B*n_rec*(n_rec + n_in + 1) doubles — the price of an
              online rate-form rule (e.g. 8 MiB at n_rec = 1000, B = 1). */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const double *rp__feedback(const rp_rule *rule, const rp_net *net, double *buf)
{
    if (rule->fb_custom || rule->fb_kind == RP_FEEDBACK_RANDOM)
        return rule->fb;
    const size_t N = rule->n_rec, O = rule->n_out;
    for (size_t i = 0; i < N; i++)
        for (size_t o = 0; o < O; o++)
            buf[i * O + o] = net->V[o * N + i];
    return buf;
}

typedef struct eprop_ws {
    /* per trial, T_cap steps */
    size_t T_cap;
    double *S;    /* T*B*n_rec: voltage h_t, then f'(h_t); rate u_t, then f'(u_t) */
    double *F;    /* (T+1)*B*n_rec: voltage f(h_t), rate r_t, for t = 0..T */
    double *eps;  /* unused: the voltage eps_t for W overwrite F (eprop_trial) */
    double *epsx; /* T*B*n_in: voltage eps^x_t for U */
    double *epsb; /* T*B: eps^b_t for b (the same for every unit and row) */
    double *ones; /* T*B ones: column sums over the stacked rows as one GEMV */
    double *E;    /* T*B*n_out: errors e_t */
    double *L;    /* T*B*n_rec: learning signals, then a_t (the postsynaptic factor) */
    double *fx;   /* B*n_rec: f(u_t), the rate form's forward scratch */
    double *y;    /* B*n_out */
    double *fb;   /* n_rec*n_out: V^T for symmetric feedback */
    /* online, sized at create */
    double *prev;   /* B*n_rec: f(h_{t-1}) (voltage) or r_{t-1} (rate) */
    double *o_eps;  /* B*n_rec (voltage) */
    double *o_epsx; /* B*n_in (voltage) */
    double o_epsb;
    double *P;       /* B*n_rec*n_rec (rate) */
    double *PU;      /* B*n_rec*n_in (rate) */
    double *Pb;      /* B*n_rec (rate) */
    double *d;       /* B*n_rec: f'(state) */
    double *l;       /* B*n_rec: learning signal */
    double *oy, *oe; /* B*n_out */
} eprop_ws;

static void free_trial(const rp_allocator *al, eprop_ws *w)
{
    rp__free(al, w->S);
    rp__free(al, w->F);
    rp__free(al, w->eps);
    rp__free(al, w->epsx);
    rp__free(al, w->epsb);
    rp__free(al, w->ones);
    rp__free(al, w->E);
    rp__free(al, w->L);
    w->S = w->F = w->eps = w->epsx = w->epsb = w->ones = w->E = w->L = NULL;
}

static void eprop_destroy(rp_rule *rule)
{
    eprop_ws *w = rule->impl;
    if (!w)
        return;
    free_trial(&rule->al, w);
    rp__free(&rule->al, w->fx);
    rp__free(&rule->al, w->y);
    rp__free(&rule->al, w->fb);
    rp__free(&rule->al, w->prev);
    rp__free(&rule->al, w->o_eps);
    rp__free(&rule->al, w->o_epsx);
    rp__free(&rule->al, w->P);
    rp__free(&rule->al, w->PU);
    rp__free(&rule->al, w->Pb);
    rp__free(&rule->al, w->d);
    rp__free(&rule->al, w->l);
    rp__free(&rule->al, w->oy);
    rp__free(&rule->al, w->oe);
    rp__free(&rule->al, w);
    rule->impl = NULL;
}

/* calloc of n*m doubles (at least one, so that 0-sized blocks are valid pointers). */
static double *alloc2(const rp_allocator *al, size_t n, size_t m, int *ok)
{
    size_t k = rp__mul(n, m, ok);
    double *p = rp__calloc(al, k ? k : 1, sizeof(double));
    if (!p)
        *ok = 0;
    return p;
}

static rp_status eprop_reserve(rp_rule *rule, size_t T)
{
    eprop_ws *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch;
    int ok = 1;
    size_t TB = rp__mul(T, B, &ok);
    /* BLAS takes int dimensions: the stacked row count must fit */
    if (!ok || TB > (size_t)INT_MAX)
        return RP_ERR_NOMEM;
    eprop_ws n = {0};
    n.S = alloc2(&rule->al, TB, N, &ok);
    n.F = alloc2(&rule->al, TB + B, N, &ok);
    n.E = alloc2(&rule->al, TB, rule->n_out, &ok);
    n.L = alloc2(&rule->al, TB, N, &ok);
    n.ones = alloc2(&rule->al, TB, 1, &ok);
    if (rule->form == RP_FORM_VOLTAGE) {
        n.epsx = alloc2(&rule->al, TB, rule->n_in, &ok);
        n.epsb = alloc2(&rule->al, TB, 1, &ok);
    }
    if (!ok) {
        free_trial(&rule->al, &n);
        return RP_ERR_NOMEM;
    }
    free_trial(&rule->al, w);
    w->S = n.S;
    w->F = n.F;
    w->E = n.E;
    w->L = n.L;
    w->eps = n.eps;
    w->epsx = n.epsx;
    w->epsb = n.epsb;
    w->ones = n.ones;
    for (size_t i = 0; i < TB; i++)
        w->ones[i] = 1.0;
    w->T_cap = T;
    return RP_OK;
}

/* L *= f'(h) (voltage, scaled = 0) or L *= g f'(u) (rate, scaled = 1) over
   n units (a trial's T*B*n_rec, or a tick's B*n_rec), pre the
   pre-activations and fpre = f(pre) or NULL (tanh' = 1 - f^2 from it, else
   from tanh(pre): the values rp__act_d1 gives).  One pass doing what f'
   into a buffer and a multiply loop did, with the same operations in the
   same order (f'(pre) itself is not kept: nothing reads it after the
   product). */
static void times_deriv(rp_activation act, const double *restrict pre, const double *restrict fpre,
                        double *restrict L, double g, int scaled, size_t n)
{
#define TIMES(i, D)            \
    do {                       \
        const double d_ = (D); \
        if (scaled)            \
            L[i] *= g * d_;    \
        else                   \
            L[i] *= d_;        \
    } while (0)
    switch (act) {
    case RP_ACT_RELU:
        /* scaled is loop-invariant: two loops so that each body vectorizes */
        if (scaled) {
#define RELU_G(i) L[i] *= g * rp__relu_d1(pre[i])
            RP__EACH4(n, RELU_G);
#undef RELU_G
        } else {
#define RELU_1(i) L[i] *= rp__relu_d1(pre[i])
            RP__EACH4(n, RELU_1);
#undef RELU_1
        }
        break;
    case RP_ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            double t = fpre ? fpre[i] : tanh(pre[i]);
            TIMES(i, 1.0 - t * t);
        }
        break;
    case RP_ACT_LINEAR:
        for (size_t i = 0; i < n; i++)
            TIMES(i, 1.0);
        break;
    }
#undef TIMES
}

/* C (M x K) += A^T Bm over `rows` stacked rows: A rows x M, Bm rows x K. */
static void gemm_tn(size_t M, size_t K, size_t rows, const double *A, const double *Bm, double *C)
{
    if (M == 0 || K == 0 || rows == 0)
        return;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)K, (int)rows, 1.0, A, (int)M,
                Bm, (int)K, 1.0, C, (int)K);
}

/* c (M) += column sums of A (rows x M). */
static void colsum(size_t M, size_t rows, const double *A, double *c)
{
    if (M == 0)
        return;
    for (size_t r = 0; r < rows; r++)
        cblas_daxpy((int)M, 1.0, A + r * M, 1, c, 1);
}

/* c (M) += A^T 1 for the T*B stacked rows of a trial: one GEMV (§4.6). */
static void colsum_stacked(size_t M, size_t rows, const double *A, const double *ones, double *c)
{
    if (M == 0 || rows == 0)
        return;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)rows, (int)M, 1.0, A, (int)M, ones, 1, 1.0, c, 1);
}

/* L (rows x n_rec) = E fb^T: the learning signal L_t = B_fb e_t of §4.4 for every row. */
static void learning_signal(size_t N, size_t O, size_t rows, const double *E, const double *fb,
                            double *L)
{
    if (O == 0) {
        memset(L, 0, rows * N * sizeof(double));
        return;
    }
    if (rows == 1)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)O, 1.0, fb, (int)O, E, 1, 0.0, L, 1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)N, (int)O, 1.0, E,
                    (int)O, fb, (int)O, 0.0, L, (int)N);
}

/* Per trial (§4.6).  Every row of the batch starts from net->h0. */
static rp_status eprop_trial(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                             const double *target, const double *mask, double *loss)
{
    eprop_ws *w = rule->impl;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
    const size_t BN = B * N, TB = T * B;
    const double a = net->cfg.alpha, g = 1.0 - a;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    const double scale = 1.0 / (double)TB;
    const size_t tstride = rule->loss == RP_LOSS_MSE ? B * O : B;
    double *G = rule->scratch;
    double *GW = G + rule->lay.off[RP_PARAM_W], *GU = G + rule->lay.off[RP_PARAM_U];
    double *Gb = G + rule->lay.off[RP_PARAM_B], *GV = G + rule->lay.off[RP_PARAM_V];
    double *Gc = G + rule->lay.off[RP_PARAM_C];

    /* forward pass, F row block t holds f(h_t) (voltage) or r_t (rate), t = 0..T */
    for (size_t r = 0; r < B; r++)
        memcpy(w->F + r * N, net->h0, N * sizeof(double));
    if (voltage) {
        for (size_t r = 0; r < B; r++)
            memcpy(w->S + r * N, net->h0, N * sizeof(double));
        rp__act(rule->act, w->S, w->F, BN); /* f(h_0) */
    }
    double E = 0.0;
    for (size_t t = 0; t < T; t++) {
        double *St = w->S + t * BN, *Fprev = w->F + t * BN, *Ft = Fprev + BN;
        const double *xt = n_in ? x + t * B * n_in : NULL;
        if (voltage) {
            if (t > 0)
                memcpy(St, St - BN, BN * sizeof(double));
            memcpy(Ft, Fprev, BN * sizeof(double));
            rp__forward(net, B, xt, St, Ft, NULL, rule->pad); /* St = h_t, Ft = f(h_t) */
        } else {
            memcpy(Ft, Fprev, BN * sizeof(double));
            rp__forward(net, B, xt, Ft, w->fx, St, rule->pad); /* Ft = r_t, St = u_t */
        }
        rp_status st = rp__check_bound(net, voltage ? St : Ft, B, t, rule->err);
        if (st != RP_OK)
            return st;
        rp__readout(net, B, Ft, w->y, rule->pad);
        E += rp__loss_error(rule->loss, B, O, w->y, target + t * tstride,
                            mask ? mask + t * B : NULL, scale, w->E + t * B * O);
    }

    /* readout: exact, G_V = sum_t e_t f(h_t)^T (or r_t), G_c = sum_t e_t */
    gemm_tn(O, N, TB, w->E, w->F + BN, GV);
    colsum_stacked(O, TB, w->E, w->ones, Gc);

    /* learning signals of every step and row, one GEMM */
    const double *fb = rp__feedback(rule, net, w->fb);
    learning_signal(N, O, TB, w->E, fb, w->L);

    if (voltage) {
        /* a_t = f'(h_t) (.) L_t */
        times_deriv(rule->act, w->S, w->F + BN, w->L, g, 0, TB * N);
        if (rule->mp)
            rp__modprop_trial(rule, net, T, w->L);
        /* traces eps_t = a eps_{t-1} + (1-a) f(h_{t-1}), eps_0 = 0 (h_0 is fixed),
           written in place over F (row block t-1 becomes eps_t: f(h_{t-1}) is
           last read here, G_V and f' above were taken first), so the trial
           keeps three T*B*n_rec blocks, as BPTT does */
        double eb = 0.0;
        for (size_t t = 0; t < T; t++) {
            double *et = w->F + t * BN;
            if (t == 0) {
                for (size_t i = 0; i < BN; i++)
                    et[i] = g * et[i];
            } else {
                const double *ep = et - BN;
                for (size_t i = 0; i < BN; i++)
                    et[i] = a * ep[i] + g * et[i];
            }
            if (n_in) {
                const size_t Bn = B * n_in;
                double *xe = w->epsx + t * Bn;
                const double *xt = x + t * Bn;
                if (t == 0) {
                    for (size_t i = 0; i < Bn; i++)
                        xe[i] = g * xt[i];
                } else {
                    const double *xp = xe - Bn;
                    for (size_t i = 0; i < Bn; i++)
                        xe[i] = a * xp[i] + g * xt[i];
                }
            }
            eb = a * eb + g;
            for (size_t r = 0; r < B; r++)
                w->epsb[t * B + r] = eb;
        }
        /* G_W = sum_{t,b} a_t eps_t^T, G_U likewise: one GEMM each over T*B rows */
        gemm_tn(N, N, TB, w->L, w->F, GW);
        gemm_tn(N, n_in, TB, w->L, w->epsx, GU);
        /* G_b = sum_{t,b} eps^b_t a_{t,b}: one GEMV over the T*B rows */
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)TB, (int)N, 1.0, w->L, (int)N, w->epsb, 1, 1.0,
                    Gb, 1);
    } else {
        if (rule->mp) /* delta_t = L_t in the rate form (§4.7) */
            rp__modprop_trial(rule, net, T, w->L);
        /* backward filter (§4.6): L~_s = L_s + a L~_{s+1}; then
           a_s = (1-a) f'(u_s) (.) L~_s and G_W = sum_s a_s r_{s-1}^T */
        for (size_t t = T - 1; t-- > 0;) {
            double *Lt = w->L + t * BN;
            const double *Ln = Lt + BN;
            for (size_t i = 0; i < BN; i++)
                Lt[i] += a * Ln[i];
        }
        times_deriv(rule->act, w->S, NULL, w->L, g, 1, TB * N);
        gemm_tn(N, N, TB, w->L, w->F, GW);
        if (n_in)
            gemm_tn(N, n_in, TB, w->L, x, GU);
        colsum_stacked(N, TB, w->L, w->ones, Gb);
    }
    *loss = E;
    return RP_OK;
}

/* Online (§4.6): record the live state, clear the traces. */
static rp_status eprop_begin(rp_rule *rule, const rp_net *net)
{
    eprop_ws *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch, n_in = rule->n_in;
    const int fresh = !w->P; /* the rate form's traces are allocated by this call */
    memcpy(w->prev, rule->form == RP_FORM_VOLTAGE ? net->fx : net->state, B * N * sizeof(double));
    if (rule->form == RP_FORM_VOLTAGE) {
        memset(w->o_eps, 0, B * N * sizeof(double));
        memset(w->o_epsx, 0, B * n_in * sizeof(double));
        w->o_epsb = 0.0;
    } else {
        if (!w->P) { /* the rate form's online traces, first stream only */
            int ok = 1;
            w->P = alloc2(&rule->al, rp__mul(B, N, &ok), N, &ok);
            w->PU = alloc2(&rule->al, rp__mul(B, N, &ok), n_in, &ok);
            w->Pb = alloc2(&rule->al, B, N, &ok);
            if (!ok) {
                rp__free(&rule->al, w->P);
                rp__free(&rule->al, w->PU);
                rp__free(&rule->al, w->Pb);
                w->P = w->PU = w->Pb = NULL;
                return rp__fail(
                    rule->err, RP_ERR_NOMEM,
                    "no memory for the online rate-form traces (B*n_rec*(n_rec+n_in+1) doubles)");
            }
        }
        memset(w->P, 0, B * N * N * sizeof(double));
        memset(w->PU, 0, B * N * n_in * sizeof(double));
        memset(w->Pb, 0, B * N * sizeof(double));
    }
    rp_status st = rule->mp ? rp__modprop_begin(rule) : RP_OK;
    if (st != RP_OK && fresh && rule->form == RP_FORM_RATE) { /* a failed call allocates nothing */
        rp__free(&rule->al, w->P);
        rp__free(&rule->al, w->PU);
        rp__free(&rule->al, w->Pb);
        w->P = w->PU = w->Pb = NULL;
    }
    return st;
}

/* C (M x K) += A^T Bm for `rows` rows: dger for one row, else a small GEMM. */
static void outer_add(size_t M, size_t K, size_t rows, const double *A, const double *Bm, double *C)
{
    if (M == 0 || K == 0)
        return;
    if (rows == 1)
        cblas_dger(CblasRowMajor, (int)M, (int)K, 1.0, A, 1, Bm, 1, C, (int)K);
    else
        gemm_tn(M, K, rows, A, Bm, C);
}

/* One online tick after rp_net_step(net, x_t): the net holds h_t (or u_t, r_t),
   w->prev holds f(h_{t-1}) (or r_{t-1}). */
static rp_status eprop_step(rp_rule *rule, const rp_net *net, const double *x_t,
                            const double *target_t, const double *mask_t, rp_grad *grad,
                            double *loss)
{
    eprop_ws *w = rule->impl;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
    const size_t BN = B * N;
    const double a = net->cfg.alpha, g = 1.0 - a;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    const double *act = voltage ? net->fx : net->state; /* f(h_t) or r_t */

    rp__readout(net, B, act, w->oy, rule->pad);
    size_t bad = rp__find_nonfinite(w->oy, B * O);
    if (bad < B * O)
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "output %zu of trial %zu is %g: the net diverged", bad % O, bad / O,
                        w->oy[bad]);
    double E = rp__loss_error(rule->loss, B, O, w->oy, target_t, mask_t, 1.0 / (double)B, w->oe);
    learning_signal(N, O, B, w->oe, rp__feedback(rule, net, w->fb), w->l);
    /* Refuse before anything changes (grad, traces, prev), as rp_rule_trial
       and RTRL refuse a non-finite loss: finite outputs can still overflow
       the squared error or the learning signal.  (Products of finite signals
       and traces are not re-checked: that would need the step's gradient in
       scratch, an extra pass over N^2 entries per step.) */
    if (!isfinite(E) || rp__find_nonfinite(w->oe, B * O) < B * O ||
        rp__find_nonfinite(w->l, BN) < BN)
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "the step's loss or learning signal is not finite (loss %g): the outputs "
                        "are too large",
                        E);

    double *GW = rp__gblock(grad, RP_PARAM_W), *GU = rp__gblock(grad, RP_PARAM_U);
    double *Gb = rp__gblock(grad, RP_PARAM_B), *GV = rp__gblock(grad, RP_PARAM_V);
    double *Gc = rp__gblock(grad, RP_PARAM_C);
    outer_add(O, N, B, w->oe, act, GV);
    colsum(O, B, w->oe, Gc);

    if (voltage) {
        times_deriv(rule->act, net->state, net->fx, w->l, g, 0, BN); /* l_t *= f'(h_t) */
        if (rule->mp) /* with the traces of step t-1 (§4.7) */
            rp__modprop_step(rule, net, w->l, w->o_eps, w->o_epsx, &w->o_epsb, GW, GU, Gb);
        for (size_t i = 0; i < BN; i++)
            w->o_eps[i] = a * w->o_eps[i] + g * w->prev[i];
        for (size_t i = 0; i < B * n_in; i++)
            w->o_epsx[i] = a * w->o_epsx[i] + g * x_t[i];
        w->o_epsb = a * w->o_epsb + g;
        if (!rule->mp ||
            !rp__modprop_voltage_grad(rule, w->l, w->o_eps, w->o_epsx, w->o_epsb, GW, GU, Gb)) {
            outer_add(N, N, B, w->l, w->o_eps, GW);
            outer_add(N, n_in, B, w->l, w->o_epsx, GU);
            for (size_t r = 0; r < B; r++)
                cblas_daxpy((int)N, w->o_epsb, w->l + r * N, 1, Gb, 1);
        }
    } else {
        rp__act_d1(rule->act, net->u, w->d, BN);
        if (rule->mp) /* with the traces of step t-1 (§4.7) */
            rp__modprop_step(rule, net, w->l, w->P, w->PU, w->Pb, GW, GU, Gb);
        for (size_t r = 0; r < B; r++) {
            double *P = w->P + r * N * N, *PU = w->PU + r * N * n_in, *Pb = w->Pb + r * N;
            const double *d = w->d + r * N, *l = w->l + r * N;
            /* P_t = a P_{t-1} + (1-a) f'(u_t) r_{t-1}^T, then G_W += diag(L_t) P_t */
            cblas_dscal((int)(N * N), a, P, 1);
            cblas_dger(CblasRowMajor, (int)N, (int)N, g, d, 1, w->prev + r * N, 1, P, (int)N);
            if (n_in) {
                cblas_dscal((int)(N * n_in), a, PU, 1);
                cblas_dger(CblasRowMajor, (int)N, (int)n_in, g, d, 1, x_t + r * n_in, 1, PU,
                           (int)n_in);
            }
            for (size_t i = 0; i < N; i++) {
                Pb[i] = a * Pb[i] + g * d[i];
                Gb[i] += l[i] * Pb[i];
                if (l[i] == 0.0)
                    continue;
                cblas_daxpy((int)N, l[i], P + i * N, 1, GW + i * N, 1);
                if (n_in)
                    cblas_daxpy((int)n_in, l[i], PU + i * n_in, 1, GU + i * n_in, 1);
            }
        }
    }
    memcpy(w->prev, act, BN * sizeof(double));
    *loss = E;
    return RP_OK;
}

/* The stream's arrays, in the order of rp__rule_stream_layout (rule.c). */
static void eprop_stream(rp_rule *rule, double **arr)
{
    eprop_ws *w = rule->impl;
    arr[0] = w->prev;
    if (rule->form == RP_FORM_VOLTAGE) {
        arr[1] = w->o_eps;
        arr[2] = w->o_epsx;
        arr[3] = &w->o_epsb;
    } else {
        arr[1] = w->P;
        arr[2] = w->PU;
        arr[3] = w->Pb;
    }
    if (rule->mp)
        arr[4] = rule->mp->state;
}

static const rp_rule_ops eprop_ops = {
    .reserve = eprop_reserve,
    .trial = eprop_trial,
    .begin = eprop_begin,
    .step = eprop_step,
    .stream = eprop_stream,
    .destroy = eprop_destroy,
};

rp_status rp__eprop_init(rp_rule *rule, const rp_net *net)
{
    (void)net;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
    eprop_ws *w = rp__calloc(&rule->al, 1, sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    rule->impl = w;
    rule->ops = &eprop_ops;
    int ok = 1;
    w->fx = alloc2(&rule->al, B, N, &ok);
    w->y = alloc2(&rule->al, B, O, &ok);
    w->fb = alloc2(&rule->al, N, O, &ok);
    w->prev = alloc2(&rule->al, B, N, &ok);
    w->d = alloc2(&rule->al, B, N, &ok);
    w->l = alloc2(&rule->al, B, N, &ok);
    w->oy = alloc2(&rule->al, B, O, &ok);
    w->oe = alloc2(&rule->al, B, O, &ok);
    if (rule->form == RP_FORM_VOLTAGE) {
        w->o_eps = alloc2(&rule->al, B, N, &ok);
        w->o_epsx = alloc2(&rule->al, B, n_in, &ok);
    }
    if (!ok)
        return rp__fail(rule->err, RP_ERR_NOMEM, "no memory for the e-prop/RFLO workspaces");
    return RP_OK;
}
