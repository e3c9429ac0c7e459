/* BPTT (MODEL.md §4.1) and truncated BPTT(K) (§4.2): the exact gradient of
   the loss of §3 by a reverse pass over a stored trajectory.

   Rules use the deterministic dynamics of §1: a trial runs from the initial
   state net->h0 in every batch row without the noise term σξ_t (the gradient
   of a noisy trajectory would depend on one draw of the noise), on the rule's
   own workspaces; the net is not changed.

   Layout of the stored trajectory, every block stacked over time as T·B rows
   of N (row t·B + b is step t+1 of trial b):
     Z   (T+1)·B·N  z_0..z_T, the presynaptic / readout activity: f(h_t)
                    (voltage form) or r_t (rate form); z_0 comes from h0
     Dp  T·B·N      f'(h_t) (voltage) or f'(u_t) (rate), t = 1..T
     Dl  T·B·N      first e_t V, then in place the adjoint terms δ_t = ∂E/∂(drive
                    of step t), so that every parameter gradient is one GEMM
                    over the T·B stacked rows:
                      G_W = Δᵀ Z_{0..T-1},  G_U = Δᵀ X,  G_b = Δᵀ 1,
                      G_V = Eᵀ Z_{1..T},    G_c = Eᵀ 1.
   With a_t = ∂E/∂state_t (through all later steps) and g_t = e_t V:
     voltage: a_t = α a_{t+1} + f'(h_t) ⊙ (g_t + (1−α) a_{t+1} W),  δ_t = (1−α) a_t
              (in δ: δ_t = α δ_{t+1} + (1−α) f'(h_t) ⊙ (g_t + δ_{t+1} W))
     rate:    a_t = g_t + α a_{t+1} + δ_{t+1} W,  δ_t = (1−α) f'(u_t) ⊙ a_t
   Only this recurrence is sequential (one B×N by N×N product a step).
   Memory O(T·B·N); nothing of size T·N².

   TBPTT(K): the gradient of each loss term E_s flows back through the
   states s, s−1, ..., s−K+1 only (K states, K−1 Jacobians): the parameters'
   immediate effect on those K states counts, older paths are cut.  K ≥ T is
   BPTT (the same code path, bit for bit).  For K < T the adjoints of the up
   to K loss terms whose windows contain step t cannot be merged (a term must
   leave the sum after K steps, and the Jacobian products do not invert), so
   the reverse pass carries them as one (K·B)×N block in a ring indexed by
   s mod K: the recurrence costs O(T·K·B·N²) flops (K times BPTT's, done as
   K·B-row GEMMs), the parameter GEMMs are those of BPTT, and the extra
   memory is 2·K·B·N (allocated as 2·T·B·N so that a later change of K
   needs no allocation in a trial). */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct bptt_ws {
    size_t T_cap;
    double *Z, *Dp, *Dl; /* see above */
    double *Y, *E;       /* T·B·n_out outputs and errors e_t */
    double *ones;        /* T·B ones, for the bias sums */
    double *st;          /* B·N running state (voltage: h_t) */
    double *fx, *u;      /* B·N each (rate form: f(u_t), u_t of the step) */
    double *a;           /* B·N running adjoint a_t (rate form) */
    double *ring, *tmp;  /* TBPTT: T·B·N each */
} bptt_ws;

static void free_ws(const rp_allocator *al, bptt_ws *w)
{
    rp__free(al, w->Z);
    rp__free(al, w->Dp);
    rp__free(al, w->Dl);
    rp__free(al, w->Y);
    rp__free(al, w->E);
    rp__free(al, w->ones);
    rp__free(al, w->st);
    rp__free(al, w->fx);
    rp__free(al, w->u);
    rp__free(al, w->a);
    rp__free(al, w->ring);
    rp__free(al, w->tmp);
    memset(w, 0, sizeof *w);
}

static void bptt_destroy(rp_rule *rule)
{
    bptt_ws *w = rule->impl;
    if (w)
        free_ws(&rule->al, w);
    rp__free(&rule->al, w);
    rule->impl = NULL;
}

static rp_status bptt_reserve(rp_rule *rule, size_t T)
{
    bptt_ws *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch, O = rule->n_out;
    int ok = 1;
    size_t TB = rp__mul(T, B, &ok);
    size_t TBN = rp__mul(TB, N, &ok);
    size_t T1BN = rp__mul(TB + B, N, &ok);
    size_t TBO = rp__mul(TB, O, &ok);
    /* BLAS takes int dimensions: the stacked row count must fit (as e-prop's
       reserve checks) */
    if (!ok || TB > (size_t)INT_MAX)
        return RP_ERR_NOMEM;
    bptt_ws n;
    memset(&n, 0, sizeof n);
    n.T_cap = T;
    n.Z = rp__calloc(&rule->al, T1BN, sizeof(double));
    n.Dp = rp__calloc(&rule->al, TBN, sizeof(double));
    n.Dl = rp__calloc(&rule->al, TBN, sizeof(double));
    n.Y = rp__calloc(&rule->al, TBO, sizeof(double));
    n.E = rp__calloc(&rule->al, TBO, sizeof(double));
    n.ones = rp__calloc(&rule->al, TB, sizeof(double));
    n.st = rp__calloc(&rule->al, B * N, sizeof(double));
    n.fx = rp__calloc(&rule->al, B * N, sizeof(double));
    n.u = rp__calloc(&rule->al, B * N, sizeof(double));
    n.a = rp__calloc(&rule->al, B * N, sizeof(double));
    int need_ring = rule->kind == RP_RULE_TBPTT;
    if (need_ring) {
        n.ring = rp__calloc(&rule->al, TBN, sizeof(double));
        n.tmp = rp__calloc(&rule->al, TBN, sizeof(double));
    }
    if (!n.Z || !n.Dp || !n.Dl || !n.Y || !n.E || !n.ones || !n.st || !n.fx || !n.u || !n.a ||
        (need_ring && (!n.ring || !n.tmp))) {
        free_ws(&rule->al, &n);
        return RP_ERR_NOMEM;
    }
    for (size_t i = 0; i < TB; i++)
        n.ones[i] = 1.0;
    free_ws(&rule->al, w);
    *w = n;
    return RP_OK;
}

/* out = f'(pre), from post = f(pre) where that is cheaper (the same values
   as rp__act_d1: tanh' = 1 − tanh², relu'(v) = [v > 0]). */
static void deriv(rp_activation act, const double *pre, const double *post, double *out, size_t n)
{
    if (act == RP_ACT_TANH) {
        for (size_t i = 0; i < n; i++)
            out[i] = 1.0 - post[i] * post[i];
    } else {
        rp__act_d1(act, pre, out, n);
    }
}

/* C (rows×N) = A (rows×N) · W (N×N) + beta·C: the adjoint's pull back
   through the recurrent weights (dgemv for one row). */
static void times_W(const double *W, size_t rows, size_t N, const double *A, double beta, double *C)
{
    if (rows == 1)
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)N, (int)N, 1.0, W, (int)N, A, 1, beta, C, 1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)N, 1.0, A,
                    (int)N, W, (int)N, beta, C, (int)N);
}

/* Forward pass from h0 (MODEL.md §1 without noise), filling Z and Dp. */
static rp_status forward(rp_rule *rule, bptt_ws *w, const rp_net *net, size_t T, const double *x)
{
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N, n_in = rule->n_in;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    for (size_t b = 0; b < B; b++)
        memcpy(w->st + b * N, net->h0, N * sizeof(double));
    if (voltage)
        rp__act(rule->act, w->st, w->Z, BN);
    else
        memcpy(w->Z, w->st, BN * sizeof(double));
    for (size_t t = 0; t < T; t++) {
        const double *xt = n_in ? x + t * B * n_in : NULL;
        double *z = w->Z + (t + 1) * BN, *dp = w->Dp + t * BN;
        memcpy(z, z - BN, BN * sizeof(double));
        if (voltage) {
            rp__forward(net, B, xt, w->st, z, NULL, rule->pad);
            deriv(rule->act, w->st, z, dp, BN);
        } else {
            rp__forward(net, B, xt, z, w->fx, w->u, rule->pad);
            deriv(rule->act, w->u, w->fx, dp, BN);
        }
        size_t bad = rp__find_nonfinite(z, BN);
        if (bad < BN)
            return rp__fail(rule->err, RP_ERR_NONFINITE,
                            "the trajectory diverged at step %zu, trial %zu, unit %zu", t, bad / N,
                            bad % N);
        rp_status st = rp__check_bound(net, voltage ? w->st : z, B, t, rule->err);
        if (st != RP_OK)
            return st;
    }
    return RP_OK;
}

/* BPTT reverse recurrence: Dl holds g_t = e_t V on entry, δ_t on exit. */
static void reverse_full(rp_rule *rule, bptt_ws *w, const rp_net *net, size_t T)
{
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N;
    const double al = net->cfg.alpha, ga = 1.0 - al;
    for (size_t t = T; t-- > 0;) {
        double *d = w->Dl + t * BN;
        const double *dp = w->Dp + t * BN, *dn = d + BN;
        const int last = t + 1 == T;
        if (rule->form == RP_FORM_VOLTAGE) {
            if (last) {
                for (size_t i = 0; i < BN; i++)
                    d[i] = ga * dp[i] * d[i];
            } else {
                times_W(net->W, B, N, dn, 1.0, d);
                for (size_t i = 0; i < BN; i++)
                    d[i] = al * dn[i] + ga * dp[i] * d[i];
            }
        } else {
            if (!last) {
                times_W(net->W, B, N, dn, 1.0, d);
                for (size_t i = 0; i < BN; i++)
                    d[i] += al * w->a[i];
            }
            memcpy(w->a, d, BN * sizeof(double));
            for (size_t i = 0; i < BN; i++)
                d[i] = ga * dp[i] * d[i];
        }
    }
}

/* TBPTT(K), K < T: ring slot s mod K holds the adjoint a^{(s)}_t of loss
   term s at the current step t, for the K terms s = t..t+K−1. */
static void reverse_window(rp_rule *rule, bptt_ws *w, const rp_net *net, size_t T, size_t K)
{
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N, KB = K * B;
    const double al = net->cfg.alpha, ga = 1.0 - al;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    double *R = w->ring, *tmp = w->tmp;
    memset(R, 0, KB * N * sizeof(double));
    for (size_t t = T; t-- > 0;) {
        double *d = w->Dl + t * BN;
        const double *dp = w->Dp + t * BN;
        if (t + 1 < T) {
            /* every live term one step back; the term s = t+K leaves (its slot is overwritten below) */
            if (voltage) {
                /* a_t = α a_{t+1} + (1−α) f'(h_t) ⊙ (a_{t+1} W) */
                times_W(net->W, KB, N, R, 0.0, tmp);
                for (size_t k = 0; k < K; k++) {
                    double *r = R + k * BN, *q = tmp + k * BN;
                    for (size_t i = 0; i < BN; i++)
                        r[i] = al * r[i] + ga * dp[i] * q[i];
                }
            } else {
                /* a_t = α a_{t+1} + ((1−α) f'(u_{t+1}) ⊙ a_{t+1}) W */
                const double *dpn = dp + BN;
                for (size_t k = 0; k < K; k++) {
                    const double *r = R + k * BN;
                    double *q = tmp + k * BN;
                    for (size_t i = 0; i < BN; i++)
                        q[i] = ga * dpn[i] * r[i];
                }
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)KB, (int)N, (int)N, 1.0,
                            tmp, (int)N, net->W, (int)N, al, R, (int)N);
            }
        }
        /* the term s = t enters: its own step's error */
        double *slot = R + (t % K) * BN;
        if (voltage)
            for (size_t i = 0; i < BN; i++)
                slot[i] = dp[i] * d[i];
        else
            memcpy(slot, d, BN * sizeof(double));
        /* δ_t from the sum of the live terms */
        memcpy(d, R, BN * sizeof(double));
        for (size_t k = 1; k < K; k++)
            cblas_daxpy((int)BN, 1.0, R + k * BN, 1, d, 1);
        if (voltage)
            cblas_dscal((int)BN, ga, d, 1);
        else
            for (size_t i = 0; i < BN; i++)
                d[i] *= ga * dp[i];
    }
}

static rp_status bptt_trial(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                            const double *target, const double *mask, double *loss)
{
    bptt_ws *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch, O = rule->n_out, n_in = rule->n_in;
    const size_t TB = T * B, BN = B * N;
    const int iN = (int)N, iTB = (int)TB, iO = (int)O;
    rp_status st = forward(rule, w, net, T, x);
    if (st != RP_OK)
        return st;
    /* outputs and errors of all steps at once (MODEL.md §3, scale 1/(B T)) */
    const double *Z1 = w->Z + BN;
    rp__readout(net, TB, Z1, w->Y, rule->pad);
    *loss = rp__loss_error(rule->loss, TB, O, w->Y, target, mask, 1.0 / (double)TB, w->E);
    /* g_t = e_t V for every step, into Dl */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, iTB, iN, iO, 1.0, w->E, iO, net->V, iN,
                0.0, w->Dl, iN);
    if (rule->kind == RP_RULE_TBPTT && rule->K < T)
        reverse_window(rule, w, net, T, rule->K);
    else
        reverse_full(rule, w, net, T);
    double *g = rule->scratch;
    double *GW = g + rule->lay.off[RP_PARAM_W], *GU = g + rule->lay.off[RP_PARAM_U];
    double *Gb = g + rule->lay.off[RP_PARAM_B], *GV = g + rule->lay.off[RP_PARAM_V];
    double *Gc = g + rule->lay.off[RP_PARAM_C];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iN, iN, iTB, 1.0, w->Dl, iN, w->Z, iN, 1.0,
                GW, iN);
    if (n_in)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iN, (int)n_in, iTB, 1.0, w->Dl, iN, x,
                    (int)n_in, 1.0, GU, (int)n_in);
    cblas_dgemv(CblasRowMajor, CblasTrans, iTB, iN, 1.0, w->Dl, iN, w->ones, 1, 1.0, Gb, 1);
    /* readout gradients, exact in every rule (MODEL.md §4) */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iO, iN, iTB, 1.0, w->E, iO, Z1, iN, 1.0,
                GV, iN);
    cblas_dgemv(CblasRowMajor, CblasTrans, iTB, iO, 1.0, w->E, iO, w->ones, 1, 1.0, Gc, 1);
    return RP_OK;
}

static const rp_rule_ops bptt_ops = {
    .reserve = bptt_reserve,
    .trial = bptt_trial,
    .begin = NULL, /* BPTT needs the whole trial: no online mode */
    .step = NULL,
    .destroy = bptt_destroy,
};

rp_status rp__bptt_init(rp_rule *rule, const rp_net *net)
{
    (void)net;
    bptt_ws *w = rp__calloc(&rule->al, 1, sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    rule->impl = w;
    rule->ops = &bptt_ops;
    return RP_OK;
}
