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
    /* online block of K ticks (voltage e-prop/RFLO, rp_rule_set_online_block
       K > 1), K*B rows each, tick k at rows k*B..k*B+B-1: the factors of every
       outer product the tick would add, kept until one GEMM per parameter
       adds them all (flush) */
    size_t bK;  /* ticks the buffers hold (0: none) */
    double *bl; /* K*B*n_rec: a_t = f'(h_t) (.) L_t */
    double *be; /* K*B*n_rec: eps_t */
    double *bx; /* K*B*n_in: eps^x_t */
    double *bb; /* K*B: eps^b_t, repeated per row */
    double *bo; /* K*B*n_out: e_t */
    double *ba; /* K*B*n_rec: f(h_t) */
} eprop_ws;

/* calloc of n*m elements of sz bytes (at least one, so that 0-sized blocks
   are valid pointers). */
static void *alloc2s(const rp_allocator *al, size_t n, size_t m, size_t sz, int *ok)
{
    size_t k = rp__mul(n, m, ok);
    void *p = rp__calloc(al, k ? k : 1, sz);
    if (!p)
        *ok = 0;
    return p;
}

static double *alloc2(const rp_allocator *al, size_t n, size_t m, int *ok)
{
    return alloc2s(al, n, m, sizeof(double), ok);
}

/* The per-trial kernels, double (the names without suffix, which the online
   stream below uses too) and float (eprop_kernels.h). */
#define RE_DOUBLE
#include "eprop_kernels.h"
#undef RE_DOUBLE
#define RE_SINGLE
#include "eprop_kernels.h"
#undef RE_SINGLE

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
    rp__free(&rule->al, w->bl);
    rp__free(&rule->al, w->be);
    rp__free(&rule->al, w->bx);
    rp__free(&rule->al, w->bb);
    rp__free(&rule->al, w->bo);
    rp__free(&rule->al, w->ba);
    rp__free(&rule->al, w);
    rule->impl = NULL;
}

static void eprop_destroy_f(rp_rule *rule)
{
    eprop_ws_f *w = rule->impl;
    if (!w)
        return;
    free_trial_f(&rule->al, w);
    rp__free(&rule->al, w->fx);
    rp__free(&rule->al, w->y);
    rp__free(&rule->al, w->fb);
    rp__free(&rule->al, w->Yd);
    rp__free(&rule->al, w->Ed);
    rp__free(&rule->al, w->G);
    rp__free(&rule->al, w->pad);
    rp__free(&rule->al, w);
    rule->impl = NULL;
}

/* c (M) += column sums of A (rows x M). */
static void colsum(size_t M, size_t rows, const double *A, double *c)
{
    if (M == 0)
        return;
    for (size_t r = 0; r < rows; r++)
        cblas_daxpy((int)M, 1.0, A + r * M, 1, c, 1);
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
    const int blk = rule->o_block > 1; /* voltage, no ModProp (rule.c) */
    if (!blk) {
        outer_add(O, N, B, w->oe, act, GV);
        colsum(O, B, w->oe, Gc);
    }

    if (voltage) {
        times_deriv(rule->act, net->state, net->fx, w->l, g, 0, BN); /* l_t *= f'(h_t) */
        if (rule->mp) /* with the traces of step t-1 (§4.7) */
            rp__modprop_step(rule, net, w->l, w->o_eps, w->o_epsx, &w->o_epsb, GW, GU, Gb);
        for (size_t i = 0; i < BN; i++)
            w->o_eps[i] = a * w->o_eps[i] + g * w->prev[i];
        for (size_t i = 0; i < B * n_in; i++)
            w->o_epsx[i] = a * w->o_epsx[i] + g * x_t[i];
        w->o_epsb = a * w->o_epsb + g;
        if (blk) { /* store the tick's factors in slot o_pending; rule.c counts it */
            const size_t k = rule->o_pending;
            memcpy(w->bl + k * BN, w->l, BN * sizeof(double));
            memcpy(w->be + k * BN, w->o_eps, BN * sizeof(double));
            memcpy(w->ba + k * BN, act, BN * sizeof(double));
            memcpy(w->bo + k * B * O, w->oe, B * O * sizeof(double));
            if (n_in)
                memcpy(w->bx + k * B * n_in, w->o_epsx, B * n_in * sizeof(double));
            for (size_t r = 0; r < B; r++)
                w->bb[k * B + r] = w->o_epsb;
        } else if (!rule->mp || !rp__modprop_voltage_grad(rule, w->l, w->o_eps, w->o_epsx,
                                                          w->o_epsb, GW, GU, Gb)) {
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

/* Size the online block for K ticks (K = 1: free it).  On failure nothing
   changes. */
static rp_status eprop_block(rp_rule *rule, size_t K)
{
    eprop_ws *w = rule->impl;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
    double *nb[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    if (K > 1) {
        int ok = 1;
        const size_t rows = rp__mul(K, B, &ok);
        nb[0] = alloc2(&rule->al, rows, N, &ok);
        if (ok)
            nb[1] = alloc2(&rule->al, rows, N, &ok);
        if (ok)
            nb[2] = alloc2(&rule->al, rows, n_in, &ok);
        if (ok)
            nb[3] = alloc2(&rule->al, rows, 1, &ok);
        if (ok)
            nb[4] = alloc2(&rule->al, rows, O, &ok);
        if (ok)
            nb[5] = alloc2(&rule->al, rows, N, &ok);
        if (!ok) {
            for (int i = 0; i < 6; i++)
                rp__free(&rule->al, nb[i]);
            return rp__fail(rule->err, RP_ERR_NOMEM,
                            "no memory for an online block of K = %zu ticks (K*batch*(3 n_rec + "
                            "n_in + n_out + 1) = %zu*%zu*%zu doubles)",
                            K, K, B, 3 * N + n_in + O + 1);
        }
    }
    double **old[6] = {&w->bl, &w->be, &w->bx, &w->bb, &w->bo, &w->ba};
    for (int i = 0; i < 6; i++) {
        rp__free(&rule->al, *old[i]);
        *old[i] = nb[i];
    }
    w->bK = K > 1 ? K : 0;
    return RP_OK;
}

/* Add the o_pending stored ticks into grad: one GEMM (or GEMV) per parameter
   over their rows, the sums of the outer products each tick would have added. */
static void eprop_flush(rp_rule *rule, rp_grad *grad)
{
    eprop_ws *w = rule->impl;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out;
    const size_t rows = rule->o_pending * rule->batch;
    if (rows == 0)
        return;
    double *GW = rp__gblock(grad, RP_PARAM_W), *GU = rp__gblock(grad, RP_PARAM_U);
    double *Gb = rp__gblock(grad, RP_PARAM_B), *GV = rp__gblock(grad, RP_PARAM_V);
    double *Gc = rp__gblock(grad, RP_PARAM_C);
    gemm_tn(O, N, rows, w->bo, w->ba, GV);
    colsum(O, rows, w->bo, Gc);
    gemm_tn(N, N, rows, w->bl, w->be, GW);
    gemm_tn(N, n_in, rows, w->bl, w->bx, GU);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)rows, (int)N, 1.0, w->bl, (int)N, w->bb, 1, 1.0, Gb,
                1);
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
    .block = eprop_block,
    .flush = eprop_flush,
    .destroy = eprop_destroy,
};

/* Single-precision nets: per trial only (rp_rule_begin refuses: no .begin). */
static const rp_rule_ops eprop_ops_f = {
    .reserve = eprop_reserve_f,
    .trial = eprop_trial_f,
    .begin = NULL,
    .step = NULL,
    .stream = NULL,
    .destroy = eprop_destroy_f,
};

static rp_status eprop_init_f(rp_rule *rule)
{
    const size_t N = rule->n_rec, O = rule->n_out, B = rule->batch;
    eprop_ws_f *w = rp__calloc(&rule->al, 1, sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    rule->impl = w;
    rule->ops = &eprop_ops_f;
    int ok = 1;
    w->fx = alloc2s(&rule->al, B, N, sizeof(float), &ok);
    w->y = alloc2s(&rule->al, B, O, sizeof(float), &ok);
    w->fb = alloc2s(&rule->al, N, O, sizeof(float), &ok);
    w->Yd = alloc2s(&rule->al, B, O, sizeof(double), &ok);
    w->Ed = alloc2s(&rule->al, B, O, sizeof(double), &ok);
    w->G = alloc2s(&rule->al, rule->lay.total, 1, sizeof(float), &ok);
    w->pad = alloc2s(&rule->al, rp__pad_len(rule->n_in, N, O), 1, sizeof(float), &ok);
    if (!ok)
        return rp__fail(rule->err, RP_ERR_NOMEM, "no memory for the e-prop/RFLO workspaces");
    return RP_OK;
}

rp_status rp__eprop_init(rp_rule *rule, const rp_net *net)
{
    if (net->cfg.precision == RP_PRECISION_SINGLE)
        return eprop_init_f(rule);
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
