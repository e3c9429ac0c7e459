/* The per-trial e-prop / RFLO kernels (MODEL.md §4.4-4.6, rule_eprop.c's
   comment), one source compiled twice by rule_eprop.c: with RE_DOUBLE
   (R = double, the names of 1.1 without a suffix: the code of 1.1 bit for
   bit; the online stream of rule_eprop.c uses these helpers too) and with
   RE_SINGLE (R = float, an _f suffix: float trajectory, traces, learning
   signals and products on a single-precision net's theta_f).  In single
   precision the inputs are rounded to float once a trial, the outputs are
   widened to double for the loss and the errors e_t (the loss is a sum of
   T B n_out terms returned to the caller; double costs O(B n_out) a step),
   the parameter sums over the T B stacked rows run in float inside
   sgemm/sgemv into a float block, and that block is widened into the
   double rp_grad, where trials and batches are summed (rule.c).

   The includer has included internal.h, cblas.h, math.h, string.h, defined
   eprop_ws (the double workspace: the fields used here) and alloc2s. */
#if defined(RE_DOUBLE)
#define R double
#define RE(name) name
#define RE_K(name) name
#define RE_WS eprop_ws
#define RE_GEMM cblas_dgemm
#define RE_GEMV cblas_dgemv
#define RE_TANH rp__tanh
#define RE_RELU_D1 rp__relu_d1
#define RE_PAD(rule, w) ((rule)->pad)
#define RE_FROM_D(dst, src, n) memcpy((dst), (src), (n) * sizeof(double))
#elif defined(RE_SINGLE)
#define R float
#define RE(name) name##_f
#define RE_K(name) name##_f
#define RE_WS eprop_ws_f
#define RE_GEMM cblas_sgemm
#define RE_GEMV cblas_sgemv
#define RE_TANH rp__tanhf
#define RE_RELU_D1 rp__relu_d1f
#define RE_PAD(rule, w) ((w)->pad)
#define RE_FROM_D(dst, src, n) rp__to_f((src), (dst), (n))

/* The workspace of a single-precision net's rule: per trial only (no
   online mode in single precision yet). */
typedef struct eprop_ws_f {
    size_t T_cap;
    float *S, *F, *epsx, *epsb, *ones, *E, *L; /* as eprop_ws */
    float *X;                                  /* T*B*n_in: the inputs in float */
    float *fx, *y, *fb;                        /* B*n_rec, B*n_out, n_rec*n_out */
    double *Yd, *Ed;                           /* B*n_out: a step's outputs and errors in double */
    float *G;                                  /* lay.total: the trial's gradient in float */
    float *pad;                                /* rp__pad_len floats */
} eprop_ws_f;
#else
#error "define RE_DOUBLE or RE_SINGLE before including eprop_kernels.h"
#endif

/* The arrays that grow with T. */
static void RE(free_trial)(const rp_allocator *al, RE_WS *w)
{
    rp__free(al, w->S);
    rp__free(al, w->F);
    rp__free(al, w->epsx);
    rp__free(al, w->epsb);
    rp__free(al, w->ones);
    rp__free(al, w->E);
    rp__free(al, w->L);
    w->S = w->F = w->epsx = w->epsb = w->ones = w->E = w->L = NULL;
#ifdef RE_SINGLE
    rp__free(al, w->X);
    w->X = NULL;
#endif
}

static rp_status RE(eprop_reserve)(rp_rule *rule, size_t T)
{
    RE_WS *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch;
    int ok = 1;
    size_t TB = rp__mul(T, B, &ok);
    /* BLAS takes int dimensions: the stacked row count must fit */
    if (!ok || TB > (size_t)INT_MAX)
        return RP_ERR_NOMEM;
    RE_WS n;
    memset(&n, 0, sizeof n);
    n.S = alloc2s(&rule->al, TB, N, sizeof(R), &ok);
    n.F = alloc2s(&rule->al, TB + B, N, sizeof(R), &ok);
    n.E = alloc2s(&rule->al, TB, rule->n_out, sizeof(R), &ok);
    n.L = alloc2s(&rule->al, TB, N, sizeof(R), &ok);
    n.ones = alloc2s(&rule->al, TB, 1, sizeof(R), &ok);
    if (rule->form == RP_FORM_VOLTAGE) {
        n.epsx = alloc2s(&rule->al, TB, rule->n_in, sizeof(R), &ok);
        n.epsb = alloc2s(&rule->al, TB, 1, sizeof(R), &ok);
    }
#ifdef RE_SINGLE
    n.X = alloc2s(&rule->al, TB, rule->n_in, sizeof(R), &ok);
#endif
    if (!ok) {
        RE(free_trial)(&rule->al, &n);
        return RP_ERR_NOMEM;
    }
    RE(free_trial)(&rule->al, w);
    w->S = n.S;
    w->F = n.F;
    w->E = n.E;
    w->L = n.L;
    w->epsx = n.epsx;
    w->epsb = n.epsb;
    w->ones = n.ones;
#ifdef RE_SINGLE
    w->X = n.X;
#endif
    for (size_t i = 0; i < TB; i++)
        w->ones[i] = (R)1;
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
static void RE(times_deriv)(rp_activation act, const R *restrict pre, const R *restrict fpre,
                            R *restrict L, R g, int scaled, size_t n)
{
#define TIMES(i, D)         \
    do {                    \
        const R d_ = (D);   \
        if (scaled)         \
            L[i] *= g * d_; \
        else                \
            L[i] *= d_;     \
    } while (0)
    switch (act) {
    case RP_ACT_RELU:
        /* scaled is loop-invariant: two loops so that each body vectorizes */
        if (scaled) {
#define RELU_G(i) L[i] *= g * RE_RELU_D1(pre[i])
            RP__EACH4(n, RELU_G);
#undef RELU_G
        } else {
#define RELU_1(i) L[i] *= RE_RELU_D1(pre[i])
            RP__EACH4(n, RELU_1);
#undef RELU_1
        }
        break;
    case RP_ACT_TANH:
        if (fpre) {
            for (size_t i = 0; i < n; i++)
                TIMES(i, (R)1 - fpre[i] * fpre[i]);
            break;
        }
        for (size_t i0 = 0; i0 < n; i0 += 64) { /* tanh(pre) a block at a time */
            R t[64];
            const size_t m = n - i0 < 64 ? n - i0 : 64;
            RE_TANH(pre + i0, t, m);
            for (size_t i = i0; i < i0 + m; i++)
                TIMES(i, (R)1 - t[i - i0] * t[i - i0]);
        }
        break;
    case RP_ACT_LINEAR:
        for (size_t i = 0; i < n; i++)
            TIMES(i, (R)1);
        break;
    }
#undef TIMES
}

/* C (M x K) += A^T Bm over `rows` stacked rows: A rows x M, Bm rows x K. */
static void RE(gemm_tn)(size_t M, size_t K, size_t rows, const R *A, const R *Bm, R *C)
{
    if (M == 0 || K == 0 || rows == 0)
        return;
    RE_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)K, (int)rows, (R)1, A, (int)M, Bm,
            (int)K, (R)1, C, (int)K);
}

/* c (M) += A^T 1 for the T*B stacked rows of a trial: one GEMV (§4.6). */
static void RE(colsum_stacked)(size_t M, size_t rows, const R *A, const R *ones, R *c)
{
    if (M == 0 || rows == 0)
        return;
    RE_GEMV(CblasRowMajor, CblasTrans, (int)rows, (int)M, (R)1, A, (int)M, ones, 1, (R)1, c, 1);
}

/* L (rows x n_rec) = E fb^T: the learning signal L_t = B_fb e_t of §4.4 for every row. */
static void RE(learning_signal)(size_t N, size_t O, size_t rows, const R *E, const R *fb, R *L)
{
    if (O == 0) {
        memset(L, 0, rows * N * sizeof(R));
        return;
    }
    if (rows == 1)
        RE_GEMV(CblasRowMajor, CblasNoTrans, (int)N, (int)O, (R)1, fb, (int)O, E, 1, (R)0, L, 1);
    else
        RE_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)N, (int)O, (R)1, E, (int)O,
                fb, (int)O, (R)0, L, (int)N);
}

#ifdef RE_SINGLE
/* The feedback in float, n_rec x n_out: the rule's fixed matrix rounded
   (random or custom), or V^T of the net's float parameters (rp__feedback's
   choice). */
static const float *eprop_feedback_f(const rp_rule *rule, const rp_net *net, float *buf)
{
    const size_t N = rule->n_rec, O = rule->n_out;
    if (rule->fb_custom || rule->fb_kind == RP_FEEDBACK_RANDOM) {
        rp__to_f(rule->fb, buf, N * O);
    } else {
        const float *V = rp__param_f(net, RP_PARAM_V);
        for (size_t i = 0; i < N; i++)
            for (size_t o = 0; o < O; o++)
                buf[i * O + o] = V[o * N + i];
    }
    return buf;
}
#endif

/* Per trial (§4.6).  Every row of the batch starts from net->h0. */
static rp_status RE(eprop_trial)(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                                 const double *target, const double *mask, double *loss)
{
    RE_WS *w = rule->impl;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
    const size_t BN = B * N, TB = T * B;
    const R a = (R)net->cfg.alpha, g = (R)1 - a;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    const double scale = 1.0 / (double)TB;
    const size_t tstride = rule->loss == RP_LOSS_MSE ? B * O : B;
#ifdef RE_SINGLE
    R *G = w->G;
    memset(G, 0, rule->lay.total * sizeof(R));
    if (n_in)
        rp__to_f(x, w->X, TB * n_in); /* the public inputs, rounded once */
    const R *X = w->X;
#else
    R *G = rule->scratch; /* zeroed by rule.c */
    const R *X = x;
#endif
    R *GW = G + rule->lay.off[RP_PARAM_W], *GU = G + rule->lay.off[RP_PARAM_U];
    R *Gb = G + rule->lay.off[RP_PARAM_B], *GV = G + rule->lay.off[RP_PARAM_V];
    R *Gc = G + rule->lay.off[RP_PARAM_C];

    /* forward pass, F row block t holds f(h_t) (voltage) or r_t (rate), t = 0..T */
    for (size_t r = 0; r < B; r++)
        RE_FROM_D(w->F + r * N, net->h0, N);
    if (voltage) {
        for (size_t r = 0; r < B; r++)
            RE_FROM_D(w->S + r * N, net->h0, N);
        RE_K(rp__act)(rule->act, w->S, w->F, BN); /* f(h_0) */
    }
    double E = 0.0;
    for (size_t t = 0; t < T; t++) {
        R *St = w->S + t * BN, *Fprev = w->F + t * BN, *Ft = Fprev + BN;
        const R *xt = n_in ? X + t * B * n_in : NULL;
        if (voltage) {
            if (t > 0)
                memcpy(St, St - BN, BN * sizeof(R));
            memcpy(Ft, Fprev, BN * sizeof(R));
            RE_K(rp__forward)
            (net, B, xt, St, Ft, NULL, RE_PAD(rule, w)); /* St = h_t, Ft = f(h_t) */
        } else {
            memcpy(Ft, Fprev, BN * sizeof(R));
            RE_K(rp__forward)(net, B, xt, Ft, w->fx, St, RE_PAD(rule, w)); /* Ft = r_t, St = u_t */
        }
        rp_status st = RE_K(rp__check_bound)(net, voltage ? St : Ft, B, t, rule->err);
        if (st != RP_OK)
            return st;
        RE_K(rp__readout)(net, B, Ft, w->y, RE_PAD(rule, w));
#ifdef RE_SINGLE
        rp__from_f(w->y, w->Yd, B * O);
        E += rp__loss_error(rule->loss, B, O, w->Yd, target + t * tstride,
                            mask ? mask + t * B : NULL, scale, w->Ed);
        rp__to_f(w->Ed, w->E + t * B * O, B * O);
#else
        E += rp__loss_error(rule->loss, B, O, w->y, target + t * tstride,
                            mask ? mask + t * B : NULL, scale, w->E + t * B * O);
#endif
    }

    /* readout: exact, G_V = sum_t e_t f(h_t)^T (or r_t), G_c = sum_t e_t */
    RE(gemm_tn)(O, N, TB, w->E, w->F + BN, GV);
    RE(colsum_stacked)(O, TB, w->E, w->ones, Gc);

    /* learning signals of every step and row, one GEMM */
#ifdef RE_SINGLE
    const float *fb = eprop_feedback_f(rule, net, w->fb);
#else
    const double *fb = rp__feedback(rule, net, w->fb);
#endif
    RE(learning_signal)(N, O, TB, w->E, fb, w->L);

    if (voltage) {
        /* a_t = f'(h_t) (.) L_t */
        RE(times_deriv)(rule->act, w->S, w->F + BN, w->L, g, 0, TB * N);
#ifdef RE_DOUBLE
        if (rule->mp) /* ModProp: double nets only (rule.c) */
            rp__modprop_trial(rule, net, T, w->L);
#endif
        /* traces eps_t = a eps_{t-1} + (1-a) f(h_{t-1}), eps_0 = 0 (h_0 is fixed),
           written in place over F (row block t-1 becomes eps_t: f(h_{t-1}) is
           last read here, G_V and f' above were taken first), so the trial
           keeps three T*B*n_rec blocks, as BPTT does */
        R eb = (R)0;
        for (size_t t = 0; t < T; t++) {
            R *et = w->F + t * BN;
            if (t == 0) {
                for (size_t i = 0; i < BN; i++)
                    et[i] = g * et[i];
            } else {
                const R *ep = et - BN;
                for (size_t i = 0; i < BN; i++)
                    et[i] = a * ep[i] + g * et[i];
            }
            if (n_in) {
                const size_t Bn = B * n_in;
                R *xe = w->epsx + t * Bn;
                const R *xt = X + t * Bn;
                if (t == 0) {
                    for (size_t i = 0; i < Bn; i++)
                        xe[i] = g * xt[i];
                } else {
                    const R *xp = xe - Bn;
                    for (size_t i = 0; i < Bn; i++)
                        xe[i] = a * xp[i] + g * xt[i];
                }
            }
            eb = a * eb + g;
            for (size_t r = 0; r < B; r++)
                w->epsb[t * B + r] = eb;
        }
        /* G_W = sum_{t,b} a_t eps_t^T, G_U likewise: one GEMM each over T*B rows */
        RE(gemm_tn)(N, N, TB, w->L, w->F, GW);
        RE(gemm_tn)(N, n_in, TB, w->L, w->epsx, GU);
        /* G_b = sum_{t,b} eps^b_t a_{t,b}: one GEMV over the T*B rows */
        RE_GEMV(CblasRowMajor, CblasTrans, (int)TB, (int)N, (R)1, w->L, (int)N, w->epsb, 1, (R)1,
                Gb, 1);
    } else {
#ifdef RE_DOUBLE
        if (rule->mp) /* delta_t = L_t in the rate form (§4.7) */
            rp__modprop_trial(rule, net, T, w->L);
#endif
        /* backward filter (§4.6): L~_s = L_s + a L~_{s+1}; then
           a_s = (1-a) f'(u_s) (.) L~_s and G_W = sum_s a_s r_{s-1}^T */
        for (size_t t = T - 1; t-- > 0;) {
            R *Lt = w->L + t * BN;
            const R *Ln = Lt + BN;
            for (size_t i = 0; i < BN; i++)
                Lt[i] += a * Ln[i];
        }
        RE(times_deriv)(rule->act, w->S, NULL, w->L, g, 1, TB * N);
        RE(gemm_tn)(N, N, TB, w->L, w->F, GW);
        if (n_in)
            RE(gemm_tn)(N, n_in, TB, w->L, X, GU);
        RE(colsum_stacked)(N, TB, w->L, w->ones, Gb);
    }
#ifdef RE_SINGLE
    rp__from_f(G, rule->scratch, rule->lay.total); /* rule.c zeroed it: the trial's estimate */
#endif
    *loss = E;
    return RP_OK;
}

#undef R
#undef RE
#undef RE_K
#undef RE_WS
#undef RE_GEMM
#undef RE_GEMV
#undef RE_TANH
#undef RE_RELU_D1
#undef RE_PAD
#undef RE_FROM_D
