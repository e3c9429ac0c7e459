/* RTRL (MODEL.md §4.3): the exact gradient carried forward in time, per
   trial and online.

   For each trial b the sensitivity P = ∂state_t/∂(W, U, b) is an N × M
   matrix, M = N² + N·N_in + N, its columns in the rp_layout order of the
   first three blocks (W, U, b are contiguous at offset 0), so that a step's
   gradient is one product with it.  With s_t = 1 (voltage) or f'(u_t)
   (rate), and p_{t-1} = f(h_{t-1}) (voltage) or r_{t-1} (rate):

     P_t = D_t P_{t-1} + (1−α) diag(s_t) [ e_i ⊗ p_{t-1} | e_i ⊗ x_t | e_i ]
     dE_t/dθ_rec = c_tᵀ P_t,  c_t = ∂E_t/∂state_t = f'(h_t) ⊙ Vᵀe_t (voltage), Vᵀe_t (rate)

   D_t P_{t-1} goes through rp__jacobian_apply with k = M columns: an N×N by
   N×M GEMM, O(N⁴) a step and B·N·M doubles of memory — for small N only
   (the oracle for the online rules).  Readout gradients are exact and
   immediate: G_V += e_tᵀ z_t, G_c += e_t.

   Per trial: from net->h0 with the deterministic dynamics (no noise, like
   every rule), on the rule's own buffers.  Online: the net's own trajectory
   (whatever noise it had), read after each rp_net_step; the loss of a step
   is E_t = (1/B) Σ_b m_b loss_b, so a trial's online contributions sum to T
   times its per-trial gradient (scale 1/(B T)). */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rtrl_ws {
    size_t M;                     /* sensitivity columns per unit */
    double *P, *Pn;               /* B·N·M each: the sensitivities of step t−1, and of step t
                        while it is computed (swapped on success, so a failed
                        online step leaves the stream as it was) */
    double *work;                 /* N × M, for rp__jacobian_apply */
    double *prev, *prev_fx;       /* B·N: state_{t-1} and f(h_{t-1}) (voltage) */
    double *cur, *cur_fx, *cur_u; /* B·N: the per-trial running state */
    double *dp, *cvec;            /* N each */
    double *y, *e;                /* B·n_out */
} rtrl_ws;

static void rtrl_destroy(rp_rule *rule)
{
    rtrl_ws *w = rule->impl;
    if (w) {
        rp__free(&rule->al, w->P);
        rp__free(&rule->al, w->Pn);
        rp__free(&rule->al, w->work);
        rp__free(&rule->al, w->prev);
        rp__free(&rule->al, w->dp);
        rp__free(&rule->al, w->y);
    }
    rp__free(&rule->al, w);
    rule->impl = NULL;
}

/* Workspaces do not depend on T. */
static rp_status rtrl_reserve(rp_rule *rule, size_t T)
{
    (void)rule;
    (void)T;
    return RP_OK;
}

static void clear_sensitivities(rp_rule *rule, rtrl_ws *w)
{
    memset(w->P, 0, rule->batch * rule->n_rec * w->M * sizeof(double));
}

/* One step for all B trials: prev/prev_fx hold step t−1, (state, fx, u) step
   t as rp__forward leaves them, x the step's input.  Writes Pn, adds the
   step's gradient (scale as given) into g (layout order) and returns its loss. */
static double advance(rp_rule *rule, rtrl_ws *w, const rp_net *net, const double *x,
                      const double *state, const double *fx, const double *u, const double *target,
                      const double *mask, double scale, double *g)
{
    const size_t N = rule->n_rec, B = rule->batch, O = rule->n_out, NI = rule->n_in, M = w->M;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    const double ga = 1.0 - net->cfg.alpha;
    const size_t offU = N * N, offb = offU + N * NI;
    /* outputs, loss and errors of the step (MODEL.md §3) */
    const double *z = voltage ? fx : state;
    rp__readout(net, B, z, w->y, rule->pad);
    double E = rp__loss_error(rule->loss, B, O, w->y, target, mask, scale, w->e);
    for (size_t b = 0; b < B; b++) {
        const double *pre = voltage ? w->prev_fx + b * N : w->prev + b * N;
        const double *xb = NI ? x + b * NI : NULL;
        /* D_t uses f'(h_{t-1}) (voltage) or f'(u_t) (rate), MODEL.md §1 */
        rp__act_d1(rule->act, voltage ? w->prev + b * N : u + b * N, w->dp, N);
        double *P = w->Pn + b * N * M;
        rp__jacobian_apply(net, w->dp, w->P + b * N * M, M, P, w->work);
        /* the immediate term: row i gains (1−α) s_i at its own parameters */
        for (size_t i = 0; i < N; i++) {
            double s = voltage ? ga : ga * w->dp[i];
            double *row = P + i * M;
            cblas_daxpy((int)N, s, pre, 1, row + i * N, 1);
            if (NI)
                cblas_daxpy((int)NI, s, xb, 1, row + offU + i * NI, 1);
            row[offb + i] += s;
        }
        /* c_t = ∂E_t/∂state_t, then g[0..M) += c_tᵀ P_t */
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)O, (int)N, 1.0, net->V, (int)N, w->e + b * O, 1,
                    0.0, w->cvec, 1);
        if (voltage) {
            rp__act_d1(rule->act, state + b * N, w->dp, N);
            for (size_t i = 0; i < N; i++)
                w->cvec[i] *= w->dp[i];
        }
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)N, (int)M, 1.0, P, (int)M, w->cvec, 1, 1.0, g,
                    1);
    }
    /* readout gradients, exact (MODEL.md §4) */
    double *GV = g + rule->lay.off[RP_PARAM_V], *Gc = g + rule->lay.off[RP_PARAM_C];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)N, (int)B, 1.0, w->e, (int)O,
                z, (int)N, 1.0, GV, (int)N);
    for (size_t b = 0; b < B; b++)
        cblas_daxpy((int)O, 1.0, w->e + b * O, 1, Gc, 1);
    return E;
}

static void swap_sensitivities(rtrl_ws *w)
{
    double *t = w->P;
    w->P = w->Pn;
    w->Pn = t;
}

static rp_status rtrl_trial(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                            const double *target, const double *mask, double *loss)
{
    rtrl_ws *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N, NI = rule->n_in, O = rule->n_out;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    const double scale = 1.0 / ((double)B * (double)T);
    clear_sensitivities(rule, w);
    for (size_t b = 0; b < B; b++)
        memcpy(w->cur + b * N, net->h0, N * sizeof(double));
    rp__act(rule->act, w->cur, w->cur_fx, BN);
    double E = 0.0;
    for (size_t t = 0; t < T; t++) {
        memcpy(w->prev, w->cur, BN * sizeof(double));
        memcpy(w->prev_fx, w->cur_fx, BN * sizeof(double));
        const double *xt = NI ? x + t * B * NI : NULL;
        rp__forward(net, B, xt, w->cur, w->cur_fx, w->cur_u, rule->pad);
        size_t bad = rp__find_nonfinite(w->cur, BN);
        if (bad < BN)
            return rp__fail(rule->err, RP_ERR_NONFINITE,
                            "the trajectory diverged at step %zu, trial %zu, unit %zu", t, bad / N,
                            bad % N);
        rp_status st = rp__check_bound(net, w->cur, B, t, rule->err);
        if (st != RP_OK)
            return st;
        E += advance(rule, w, net, xt, w->cur, w->cur_fx, voltage ? NULL : w->cur_u,
                     target + t * B * (rule->loss == RP_LOSS_MSE ? O : 1),
                     mask ? mask + t * B : NULL, scale, rule->scratch);
        swap_sensitivities(w);
    }
    *loss = E;
    return RP_OK;
}

/* Record the net's live state as step t−1 of the stream. */
static void record(rp_rule *rule, rtrl_ws *w, const rp_net *net)
{
    const size_t BN = rule->batch * rule->n_rec;
    memcpy(w->prev, net->state, BN * sizeof(double));
    memcpy(w->prev_fx, net->fx, BN * sizeof(double));
}

static rp_status rtrl_begin(rp_rule *rule, const rp_net *net)
{
    rtrl_ws *w = rule->impl;
    clear_sensitivities(rule, w);
    record(rule, w, net);
    return RP_OK;
}

static rp_status rtrl_step(rp_rule *rule, const rp_net *net, const double *x_t,
                           const double *target_t, const double *mask_t, rp_grad *grad,
                           double *loss)
{
    rtrl_ws *w = rule->impl;
    const size_t BN = rule->batch * rule->n_rec;
    size_t bad = rp__find_nonfinite(net->state, BN);
    if (bad < BN)
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "the net's state is not finite at trial %zu, unit %zu", bad / rule->n_rec,
                        bad % rule->n_rec);
    /* the step's contribution goes to scratch first: grad changes only on success */
    memset(rule->scratch, 0, rule->lay.total * sizeof(double));
    double E = advance(rule, w, net, rule->n_in ? x_t : NULL, net->state, net->fx, net->u, target_t,
                       mask_t, 1.0 / (double)rule->batch, rule->scratch);
    if (rp__find_nonfinite(rule->scratch, rule->lay.total) < rule->lay.total || !isfinite(E))
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "the gradient estimate is not finite (loss %g)", E);
    cblas_daxpy((int)rule->lay.total, 1.0, rule->scratch, 1, grad->v, 1);
    swap_sensitivities(w);
    record(rule, w, net);
    *loss = E;
    return RP_OK;
}

/* The stream's arrays, in the order of rp__rule_stream_layout (rule.c). */
static void rtrl_stream(rp_rule *rule, double **arr)
{
    rtrl_ws *w = rule->impl;
    arr[0] = w->prev;
    arr[1] = w->prev_fx;
    arr[2] = w->P;
}

static const rp_rule_ops rtrl_ops = {
    .reserve = rtrl_reserve,
    .trial = rtrl_trial,
    .begin = rtrl_begin,
    .step = rtrl_step,
    .stream = rtrl_stream,
    .destroy = rtrl_destroy,
};

rp_status rp__rtrl_init(rp_rule *rule, const rp_net *net)
{
    (void)net;
    const size_t N = rule->n_rec, B = rule->batch, NI = rule->n_in, O = rule->n_out;
    int ok = 1;
    size_t M = rp__mul(N, N + NI + 1, &ok);
    size_t NM = rp__mul(N, M, &ok);
    size_t all = rp__mul(B, NM, &ok);
    if (!ok)
        return rp__fail(rule->err, RP_ERR_NOMEM,
                        "RTRL sensitivities of n_rec %zu, batch %zu overflow", N, B);
    /* rp__jacobian_apply and the gradient's dgemv take one trial's N x M
       block with int lengths (N*M in its daxpy) */
    if (NM > (size_t)INT_MAX)
        return rp__fail(rule->err, RP_ERR_NOMEM,
                        "RTRL sensitivities of n_rec %zu, n_in %zu are %zu doubles per trial, "
                        "expected at most INT_MAX = %d (BLAS lengths are int)",
                        N, NI, NM, INT_MAX);
    rtrl_ws *w = rp__calloc(&rule->al, 1, sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    rule->impl = w;
    rule->ops = &rtrl_ops;
    w->M = M;
    w->P = rp__calloc(&rule->al, all, sizeof(double));
    w->Pn = rp__calloc(&rule->al, all, sizeof(double));
    w->work = rp__calloc(&rule->al, NM, sizeof(double));
    w->prev = rp__calloc(&rule->al, 5 * B * N, sizeof(double));
    w->dp = rp__calloc(&rule->al, 2 * N, sizeof(double));
    w->y = rp__calloc(&rule->al, 2 * B * O, sizeof(double));
    if (!w->P || !w->Pn || !w->work || !w->prev || !w->dp || !w->y)
        return RP_ERR_NOMEM; /* rp_rule_free runs destroy */
    w->prev_fx = w->prev + B * N;
    w->cur = w->prev_fx + B * N;
    w->cur_fx = w->cur + B * N;
    w->cur_u = w->cur_fx + B * N;
    w->cvec = w->dp + N;
    w->e = w->y + B * O;
    return RP_OK;
}
