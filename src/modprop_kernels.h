/* ModProp's kernels (MODEL.md §4.7, rule_modprop.c's comment), one source
   compiled twice by rule_modprop.c over the type MP_E of the e-prop signals
   and traces they read: double (MP_DOUBLE, the names without a suffix: the
   code of 1.1 bit for bit) and float (MP_SINGLE, an _f suffix: the learning
   signals and traces of a single-precision net's e-prop kernels).  In both
   the modulator sums (N terms), the K x K filter, its state (the stream's
   array "modprop", the same layout in both precisions) and the credit are
   double: the filter is O(K) per synapse, so double costs little, and the
   credit is added into the double rp_grad (online) or rounded once into the
   float learning signal (per trial).  W-bar is taken from the net's double
   view of its parameters, which holds the float values exactly. */
#if defined(MP_DOUBLE)
#define MP_E double
#define MP(name) name
#define MP_COPY(dst, src, n) memcpy((dst), (src), (n) * sizeof(double))
#elif defined(MP_SINGLE)
#define MP_E float
#define MP(name) name##_f
#define MP_COPY(dst, src, n) rp__from_f((src), (dst), (n))
#else
#error "define MP_DOUBLE or MP_SINGLE before including modprop_kernels.h"
#endif

/* Delta (K) of one row of learning signals. */
static void MP(modulators)(const rp__modprop *m, size_t N, const MP_E *delta, double *D)
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

void MP(rp__modprop_trial)(rp_rule *rule, const rp_net *net, size_t T, MP_E *delta)
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
            MP_E *d = delta + (t * B + r) * N;
            double *rho = rhos + r * K;
            MP(modulators)(m, N, d, D); /* of the e-prop signal delta_t itself */
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

/* One synapse row of the filter: st (len x K) <- F st + g eps, and
   out[q] += Delta . st[q] (the credit of step t, §4.7). */
static void MP(filt)(size_t K, const double *F, const double *g, size_t len, const MP_E *eps,
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

void MP(rp__modprop_step)(rp_rule *rule, const rp_net *net, const MP_E *delta, const MP_E *eps,
                          const MP_E *eps_x, const MP_E *eps_b, double *GW, double *GU, double *Gb)
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
            MP(modulators)(m, N, delta + r * N, D);
            for (size_t b = 0; b < K; b++) {
                double *st = m->state + (r * K + b) * Mq * K, *w = m->wsum + b * Mq;
                const double *g = m->G + b * K;
                MP(filt)(K, m->F, g, N, eps + r * N, st, D, w, tmp);
                MP(filt)(K, m->F, g, n_in, eps_x + r * n_in, st + N * K, D, w + N, tmp);
                MP(filt)(K, m->F, g, 1, eps_b, st + (N + n_in) * K, D, w + N + n_in, tmp);
            }
        }
        /* G += Pi wsum, row by row (an AXPY a row: 1.9 us at N = 128, a
           rank-K GEMM 3.0 us) */
        (void)GW, (void)GU, (void)Gb; /* rp__modprop_voltage_grad adds Pi wsum */
    } else {
        /* the state is n_rec x M x K per row; eps are the traces P, P^U, P^b */
        for (size_t r = 0; r < B; r++) {
            MP(modulators)(m, N, delta + r * N, D);
            for (size_t p = 0; p < N; p++) {
                double *st = m->state + (r * N + p) * Mq * K;
                const double *g = m->G + m->types[p] * K;
                const size_t rp = r * N + p;
                MP(filt)(K, m->F, g, N, eps + rp * N, st, D, GW + p * N, tmp);
                MP(filt)(K, m->F, g, n_in, eps_x + rp * n_in, st + N * K, D, GU + p * n_in, tmp);
                MP(filt)(K, m->F, g, 1, eps_b + rp, st + (N + n_in) * K, D, Gb + p, tmp);
            }
        }
    }
}

int MP(rp__modprop_voltage_grad)(rp_rule *rule, const MP_E *delta, const MP_E *eps,
                                 const MP_E *eps_x, MP_E eps_b, double *GW, double *GU, double *Gb)
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
        MP_COPY(row, eps + r * N, N);
        if (n_in)
            MP_COPY(row + N, eps_x + r * n_in, n_in);
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

#undef MP_E
#undef MP
#undef MP_COPY
