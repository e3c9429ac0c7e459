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

/* Delta (K) of one row of learning signals. */
static void modulators(const rp__modprop *m, size_t N, const double *delta, double *D)
{
    if (m->K == 2) { /* two running sums, no store-to-load chain through D */
        double s0 = 0.0, s1 = 0.0;
        for (size_t i = 0; i < N; i++) {
            s0 += m->types[i] ? 0.0 : delta[i];
            s1 += m->types[i] ? delta[i] : 0.0;
        }
        D[0] = s0, D[1] = s1;
        return;
    }
    memset(D, 0, m->K * sizeof(double));
    for (size_t i = 0; i < N; i++)
        D[m->types[i]] += delta[i];
}

void rp__modprop_trial(rp_rule *rule, const rp_net *net, size_t T, double *delta)
{
    rp__modprop *m = rule->mp;
    if (m->mu == 0.0) /* M = 0: e-prop, bit for bit */
        return;
    const size_t N = rule->n_rec, B = rule->batch, K = m->K;
    filter_of(m, net, N);
    double *D = m->vec, *kap = D + K, *tmp = kap + K, *rhos = tmp + K;
    memset(rhos, 0, B * K * sizeof(double)); /* rho_{T-1} = 0: no credit after the trial */
    for (size_t t = T; t-- > 0;) {           /* backward over the stacked rows, in memory order */
        for (size_t r = 0; r < B; r++) {
            double *d = delta + (t * B + r) * N, *rho = rhos + r * K;
            modulators(m, N, d, D); /* of the e-prop signal delta_t itself */
            for (size_t b = 0; b < K; b++) {
                double s = 0.0;
                for (size_t c = 0; c < K; c++)
                    s += m->G[b * K + c] * rho[c];
                kap[b] = s;
            }
            for (size_t i = 0; i < N; i++)
                d[i] += kap[m->types[i]];
            for (size_t c = 0; c < K; c++) { /* rho_{t-1} = Delta_t + F^T rho_t */
                double s = D[c];
                for (size_t u = 0; u < K; u++)
                    s += m->F[u * K + c] * rho[u];
                tmp[c] = s;
            }
            memcpy(rho, tmp, K * sizeof(double));
        }
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

/* One synapse row of the filter: st (len x K) <- F st + g eps, and
   out[q] += Delta . st[q] (the credit of step t, §4.7). */
static void filt(size_t K, const double *F, const double *g, size_t len, const double *eps,
                 double *st, const double *D, double *out, double *tmp)
{
    if (K == 1) {
        const double f = F[0], g0 = g[0], d = D[0];
        for (size_t q = 0; q < len; q++) {
            double v = f * st[q] + g0 * eps[q];
            st[q] = v;
            out[q] += d * v;
        }
    } else if (K == 2) {
        const double f00 = F[0], f01 = F[1], f10 = F[2], f11 = F[3], g0 = g[0], g1 = g[1];
        const double d0 = D[0], d1 = D[1];
        for (size_t q = 0; q < len; q++) {
            double s0 = st[2 * q], s1 = st[2 * q + 1], e = eps[q];
            double v0 = f00 * s0 + f01 * s1 + g0 * e, v1 = f10 * s0 + f11 * s1 + g1 * e;
            st[2 * q] = v0;
            st[2 * q + 1] = v1;
            out[q] += d0 * v0 + d1 * v1;
        }
    } else {
        for (size_t q = 0; q < len; q++) {
            double *s = st + q * K, acc = 0.0;
            for (size_t a = 0; a < K; a++) {
                double v = g[a] * eps[q];
                for (size_t c = 0; c < K; c++)
                    v += F[a * K + c] * s[c];
                tmp[a] = v;
                acc += D[a] * v;
            }
            memcpy(s, tmp, K * sizeof(double));
            out[q] += acc;
        }
    }
}

void rp__modprop_step(rp_rule *rule, const rp_net *net, const double *delta, const double *eps,
                      const double *eps_x, const double *eps_b, double *GW, double *GU, double *Gb)
{
    rp__modprop *m = rule->mp;
    if (m->mu == 0.0) /* M = 0: e-prop, bit for bit (the state stays 0) */
        return;
    const size_t N = rule->n_rec, n_in = rule->n_in, B = rule->batch, K = m->K;
    const size_t Mq = N + n_in + 1;
    /* W-bar of the current W (§4.7), taken again only when the net's
       parameters (or alpha, or the net) changed since the step before: the
       same W gives the same block means, and a stream whose W is updated
       every K steps (or not at all) saves the pass over W that summing it
       costs.  The parameter version (rp_net.param_serial) tells in O(1); a
       comparison of W with a copy cost a pass over N^2 doubles a tick. */
    if (!m->w_valid || m->w_net != net || m->w_serial != net->param_serial ||
        m->w_alpha != net->cfg.alpha) {
        filter_of(m, net, N);
        m->w_net = net;
        m->w_serial = net->param_serial;
        m->w_alpha = net->cfg.alpha;
        m->w_valid = 1;
    }
    double *D = m->vec, *tmp = D + K;
    if (rule->form == RP_FORM_VOLTAGE) {
        /* the state is K (type of p) x M x K per row; the credit of type b,
           summed over the rows, goes to every unit of type b */
        memset(m->wsum, 0, K * Mq * sizeof(double));
        for (size_t r = 0; r < B; r++) {
            modulators(m, N, delta + r * N, D);
            for (size_t b = 0; b < K; b++) {
                double *st = m->state + (r * K + b) * Mq * K, *w = m->wsum + b * Mq;
                const double *g = m->G + b * K;
                filt(K, m->F, g, N, eps + r * N, st, D, w, tmp);
                filt(K, m->F, g, n_in, eps_x + r * n_in, st + N * K, D, w + N, tmp);
                filt(K, m->F, g, 1, eps_b, st + (N + n_in) * K, D, w + N + n_in, tmp);
            }
        }
        /* G += Pi wsum, row by row (an AXPY a row: 1.9 us at N = 128, a
           rank-K GEMM 3.0 us) */
        (void)GW, (void)GU, (void)Gb; /* rp__modprop_voltage_grad adds Pi wsum */
    } else {
        /* the state is n_rec x M x K per row; eps are the traces P, P^U, P^b */
        for (size_t r = 0; r < B; r++) {
            modulators(m, N, delta + r * N, D);
            for (size_t p = 0; p < N; p++) {
                double *st = m->state + (r * N + p) * Mq * K;
                const double *g = m->G + m->types[p] * K;
                const size_t rp = r * N + p;
                filt(K, m->F, g, N, eps + rp * N, st, D, GW + p * N, tmp);
                filt(K, m->F, g, n_in, eps_x + rp * n_in, st + N * K, D, GU + p * n_in, tmp);
                filt(K, m->F, g, 1, eps_b + rp, st + (N + n_in) * K, D, Gb + p, tmp);
            }
        }
    }
}

int rp__modprop_voltage_grad(rp_rule *rule, const double *delta, const double *eps,
                             const double *eps_x, double eps_b, double *GW, double *GU, double *Gb)
{
    rp__modprop *m = rule->mp;
    if (m->mu == 0.0)
        return 0;
    const size_t N = rule->n_rec, n_in = rule->n_in, B = rule->batch, K = m->K;
    const size_t Mq = N + n_in + 1, BK = B + K;
    /* lp = [delta_1 .. delta_B | Pi] (n_rec x (B + K)); ew's first B rows
       [eps_t, eps^x_t, eps^b_t] (wsum, its last K rows, is in place) */
    for (size_t p = 0; p < N; p++) {
        double *row = m->lp + p * BK;
        for (size_t r = 0; r < B; r++)
            row[r] = delta[r * N + p];
        for (size_t b = 0; b < K; b++)
            row[B + b] = m->types[p] == b ? 1.0 : 0.0;
    }
    for (size_t r = 0; r < B; r++) {
        double *row = m->ew + r * Mq;
        memcpy(row, eps + r * N, N * sizeof(double));
        if (n_in)
            memcpy(row + N, eps_x + r * n_in, n_in * sizeof(double));
        row[N + n_in] = eps_b;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)N, (int)BK, 1.0, m->lp,
                (int)BK, m->ew, (int)Mq, 1.0, GW, (int)N);
    if (n_in)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)n_in, (int)BK, 1.0,
                    m->lp, (int)BK, m->ew + N, (int)Mq, 1.0, GU, (int)n_in);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)BK, 1.0, m->lp, (int)BK, m->ew + N + n_in,
                (int)Mq, 1.0, Gb, 1);
    return 1;
}
