/* e-prop (MODEL.md §4.4) and RFLO (§4.5): one estimator, two default feedbacks;
   ModProp (§4.7) is this estimator plus the non-local credit of
   rule_modprop.c (rule->mp set), added to the learning signal per trial and
   to the gradient online.
   rule.c has checked every argument and chosen the feedback kind; here are the
   per-trial kernels (§4.6: one GEMM per parameter over the stacked T*B rows)
   and the online stream (a rank-B update per step), each in double and in
   float (eprop_kernels.h, compiled twice; a single-precision net's rule
   keeps its traces in float, half the memory below).

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
    float *f[] = {w->prev, w->o_eps, w->o_epsx, w->P,   w->PU,  w->Pb, w->d,
                  w->l,    w->oy,    w->oe,     w->cur, w->pre, w->xo};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        rp__free(&rule->al, f[i]);
    rp__free(&rule->al, w->wa);
    rp__free(&rule->al, w->wb);
    rp__free(&rule->al, w);
    rule->impl = NULL;
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
    stream_arrays(rule, arr);
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

/* Single precision: the float arrays of the stream come from
   stream_arrays_f; ModProp's filter state (the last array) stays double. */
static void eprop_stream_mp_f(rp_rule *rule, double **arr)
{
    if (rule->mp)
        arr[4] = rule->mp->state;
}

static const rp_rule_ops eprop_ops_f = {
    .reserve = eprop_reserve_f,
    .trial = eprop_trial_f,
    .begin = eprop_begin_f,
    .step = eprop_step_f,
    .stream = eprop_stream_mp_f,
    .stream_f = stream_arrays_f,
    .destroy = eprop_destroy_f,
};

static rp_status eprop_init_f(rp_rule *rule)
{
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
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
    w->prev = alloc2s(&rule->al, B, N, sizeof(float), &ok);
    w->d = alloc2s(&rule->al, B, N, sizeof(float), &ok);
    w->l = alloc2s(&rule->al, B, N, sizeof(float), &ok);
    w->oy = alloc2s(&rule->al, B, O, sizeof(float), &ok);
    w->oe = alloc2s(&rule->al, B, O, sizeof(float), &ok);
    w->cur = alloc2s(&rule->al, B, N, sizeof(float), &ok);
    w->pre = alloc2s(&rule->al, B, N, sizeof(float), &ok);
    w->xo = alloc2s(&rule->al, B, n_in, sizeof(float), &ok);
    w->wa = alloc2s(&rule->al, B, N > O ? N : O, sizeof(double), &ok);
    w->wb = alloc2s(&rule->al, B, N > n_in ? N : n_in, sizeof(double), &ok);
    if (rule->form == RP_FORM_VOLTAGE) {
        w->o_eps = alloc2s(&rule->al, B, N, sizeof(float), &ok);
        w->o_epsx = alloc2s(&rule->al, B, n_in, sizeof(float), &ok);
    }
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
