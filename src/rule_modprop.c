/* ModProp (MODEL.md §4.7): e-prop plus the credit that crosses the recurrent
   weights through K cell-type modulators.  rule_eprop.c runs the e-prop part
   and calls in here; rule.c checks every argument.

   With M = mu W-bar and W-bar = Pi A Pi^T (Pi the n_rec x K membership, A the
   K x K block means), the non-local sensitivity N_t = Pi n_t needs only the
   per-type part n_t[a, p, q] (K per synapse):

     n_t[:, p, q] = F n_{t-1}[:, p, q] + g_{type(p)} eps_{pq,t-1},
     F = alpha I + (1-alpha) mu A C,  g_b = (1-alpha) mu A e_b,  C = Pi^T Pi,

   and its credit is sum_t Delta_t^T n_t[:, p, q], Delta_{a,t} = sum_{type(i)=a}
   delta_{i,t} (the modulator of type a).  Online this is the filter itself:
   O(K) per synapse and step; in the voltage form eps_{pq} does not depend on p,
   so n_t depends on p only through type(p) and the state is K x K per
   presynaptic index.  Per trial the sum is reordered into a backward filter of
   K-vectors, rho_s = Delta_{s+1} + F^T rho_{s+1} (rho_T = 0), so that

     G[p, q] = sum_s (delta_{p,s} + kappa_s[type(p)]) eps_{pq,s},  kappa_s = G^T rho_s:

   e-prop's own kernels with a modified learning signal, O(T B (N + K^2)) extra. */
#include "internal.h"

#include <cblas.h>
#include <string.h>

rp_status rp__modprop_create(rp_rule *rule)
{
    rp__modprop *m = rp__calloc(&rule->al, 1, sizeof *m);
    if (!m)
        return RP_ERR_NOMEM;
    rule->mp = m;
    m->mu = RP__MODPROP_MU;
    m->types = rp__calloc(&rule->al, rule->n_rec ? rule->n_rec : 1, sizeof(unsigned));
    if (!m->types)
        return RP_ERR_NOMEM;
    return rp__modprop_set_types(rule, m->types); /* one type */
}

static void free_k(const rp_allocator *al, rp__modprop *m)
{
    rp__free(al, m->count);
    rp__free(al, m->A);
    rp__free(al, m->F);
    rp__free(al, m->G);
    rp__free(al, m->colsum);
    rp__free(al, m->vec);
    rp__free(al, m->ew);
    rp__free(al, m->lp);
}

void rp__modprop_free(rp_rule *rule)
{
    rp__modprop *m = rule->mp;
    if (!m)
        return;
    free_k(&rule->al, m);
    rp__free(&rule->al, m->state);
    rp__free(&rule->al, m->types);
    rp__free(&rule->al, m);
    rule->mp = NULL;
}

rp_status rp__modprop_size(rp_rule *rule, size_t K)
{
    rp__modprop *m = rule->mp;
    const size_t N = rule->n_rec, Mq = N + rule->n_in + 1;
    const rp_allocator *al = &rule->al;
    rp__modprop n = {0};
    n.count = rp__calloc(al, K, sizeof(size_t));
    n.A = rp__calloc(al, K * K, sizeof(double));
    n.F = rp__calloc(al, K * K, sizeof(double));
    n.G = rp__calloc(al, K * K, sizeof(double));
    n.colsum = rp__calloc(al, K * (N ? N : 1), sizeof(double));
    n.vec = rp__calloc(al, (rule->batch + 3) * K, sizeof(double));
    const size_t BK = rule->batch + K;
    n.ew = rp__calloc(al, BK * Mq, sizeof(double));
    n.lp = rp__calloc(al, BK * (N ? N : 1), sizeof(double));
    if (!n.count || !n.A || !n.F || !n.G || !n.colsum || !n.vec || !n.ew || !n.lp) {
        free_k(al, &n);
        return RP_ERR_NOMEM;
    }
    free_k(al, m);
    m->count = n.count, m->A = n.A, m->F = n.F, m->G = n.G, m->colsum = n.colsum;
    m->vec = n.vec, m->ew = n.ew, m->lp = n.lp;
    m->wsum = n.ew + rule->batch * Mq;
    m->K = K;
    if (m->state_K != K) { /* a stream of another K: sized again at the next begin */
        rp__free(al, m->state);
        m->state = NULL;
        m->state_K = 0;
    }
    return RP_OK;
}

rp_status rp__modprop_set_types(rp_rule *rule, const unsigned *types)
{
    rp__modprop *m = rule->mp;
    const size_t N = rule->n_rec;
    size_t K = 1;
    for (size_t i = 0; i < N; i++)
        if ((size_t)types[i] + 1 > K)
            K = (size_t)types[i] + 1; /* types[i] < n_rec (rule.c): K <= n_rec */
    rp_status st = rp__modprop_size(rule, K);
    if (st != RP_OK)
        return st;
    if (types != m->types)
        memmove(m->types, types, N * sizeof(unsigned));
    for (size_t i = 0; i < N; i++)
        m->count[types[i]]++;
    return RP_OK;
}

/* A (block means of the current W), F and G (§4.7: W-bar from the current W). */
static void filter_of(rp__modprop *m, const rp_net *net, size_t N)
{
    const size_t K = m->K;
    const double a = net->cfg.alpha, g = (1.0 - a) * m->mu;
    /* Pi^T W, row by row (at N = 128 an AXPY a row takes 2.2 us, a K x N x N
       GEMM 12 us, K GEMVs 2.6 us: OpenBLAS 0.3, one thread) */
    memset(m->colsum, 0, K * N * sizeof(double));
    for (size_t k = 0; k < N; k++)
        cblas_daxpy((int)N, 1.0, net->W + k * N, 1, m->colsum + m->types[k] * N, 1);
    memset(m->A, 0, K * K * sizeof(double));
    for (size_t t = 0; t < K; t++)
        for (size_t j = 0; j < N; j++)
            m->A[t * K + m->types[j]] += m->colsum[t * N + j];
    for (size_t t = 0; t < K; t++)
        for (size_t u = 0; u < K; u++) {
            double nn = (double)m->count[t] * (double)m->count[u];
            m->A[t * K + u] = nn > 0.0 ? m->A[t * K + u] / nn : 0.0; /* empty types: no block */
            m->F[t * K + u] = (t == u ? a : 0.0) + g * m->A[t * K + u] * (double)m->count[u];
            m->G[u * K + t] = g * m->A[t * K + u]; /* row u: g_u, the input of type u */
        }
}

uint64_t rp__modprop_stream_len(rp_form form, uint64_t batch, uint64_t n_in, uint64_t n_rec,
                                uint64_t K, int *ok)
{
    /* voltage: B x K (type of p) x M x K; rate: B x n_rec x M x K, M = n_rec + n_in + 1 */
    uint64_t rows = form == RP_FORM_VOLTAGE ? K : n_rec;
    uint64_t Mq = n_rec + n_in + 1, v = batch;
    uint64_t f[3] = {rows, Mq, K};
    for (int i = 0; i < 3; i++) {
        if (f[i] != 0 && v > UINT64_MAX / f[i]) {
            *ok = 0;
            return 0;
        }
        v *= f[i];
    }
    return v;
}

rp_status rp__modprop_begin(rp_rule *rule)
{
    rp__modprop *m = rule->mp;
    int ok = 1;
    uint64_t len =
        rp__modprop_stream_len(rule->form, rule->batch, rule->n_in, rule->n_rec, m->K, &ok);
    if (!ok || len > SIZE_MAX / sizeof(double))
        return rp__fail(rule->err, RP_ERR_NOMEM, "the ModProp filter state does not fit in memory");
    double *s = m->state_K == m->K ? m->state
                                   : rp__calloc(&rule->al, len ? (size_t)len : 1, sizeof(double));
    if (!s)
        return rp__fail(rule->err, RP_ERR_NOMEM,
                        "no memory for the ModProp filter state (%llu doubles)",
                        (unsigned long long)len);
    if (s != m->state) {
        rp__free(&rule->al, m->state);
        m->state = s;
        m->state_K = m->K;
    }
    m->w_valid = 0;
    memset(m->state, 0, (size_t)len * sizeof(double));
    return RP_OK;
}

/* modulators, the per-trial credit, the online filter and the voltage
   form's gradient: double and float (modprop_kernels.h) */
#define MP_DOUBLE
#include "modprop_kernels.h"
#undef MP_DOUBLE
#define MP_SINGLE
#include "modprop_kernels.h"
#undef MP_SINGLE
