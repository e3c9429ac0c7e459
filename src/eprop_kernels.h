/* The per-trial e-prop / RFLO kernels (MODEL.md §4.4-4.6, rule_eprop.c's
   comment), one source compiled twice by rule_eprop.c: with RE_DOUBLE
   (R = double, the names of 1.1 without a suffix: the code of 1.1 bit for
   bit but for tanh, now src/tanh.c's; the online stream of rule_eprop.c
   uses these helpers too) and with
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
#define RE_SCAL cblas_dscal
#define RE_GER cblas_dger
#define RE_TNAME "doubles"
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
#define RE_SCAL cblas_sscal
#define RE_GER cblas_sger
#define RE_TNAME "floats"

/* The workspace of a single-precision net's rule. */
typedef struct eprop_ws_f {
    size_t T_cap;
    float *S, *F, *epsx, *epsb, *ones, *E, *L; /* as eprop_ws */
    float *X;                                  /* T*B*n_in: the inputs in float */
    float *fx, *y, *fb;                        /* B*n_rec, B*n_out, n_rec*n_out */
    double *Yd, *Ed;                           /* B*n_out: a step's outputs and errors in double */
    float *G;                                  /* lay.total: the trial's gradient in float */
    float *pad;                                /* rp__pad_len floats */
    /* online: as eprop_ws, in float */
    float *prev, *o_eps, *o_epsx, o_epsb, *P, *PU, *Pb, *d, *l, *oy, *oe;
    float *cur, *pre, *xo; /* B*n_rec, B*n_rec, B*n_in: the net's step in float */
    double *wa, *wb;       /* B*max(n_rec, n_out), B*max(n_rec, n_in): factors widened */
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
        if (rule->mp) /* ModProp (§4.7): the learning signals gain the non-local credit */
            RE_K(rp__modprop_trial)(rule, net, T, w->L);
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
        if (rule->mp) /* delta_t = L_t in the rate form (§4.7) */
            RE_K(rp__modprop_trial)(rule, net, T, w->L);
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

/* ---- online (§4.6): one tick a step ------------------------------------

   In single precision the traces (eps, eps^x, eps^b; the rate form's P,
   P^U, P^b), the learning signal and f' are float, computed with the same
   operations as in double (sscal/sger for the rate form's traces); the
   outputs, errors and loss are double as per trial; and each tick's rank-B
   update is added into the double rp_grad: its factors are widened (exact)
   and multiplied in double (the product of two floats is exact in double),
   so a stream of T ticks accumulates in double, as the per-trial kernels
   sum trials and batches in double. */

/* The stream's own arrays (the previous activity and the traces), in the
   order of rp__rule_stream_layout (rule.c); ModProp's filter state, double in
   both precisions, is added by rule_eprop.c. */
static void RE(stream_arrays)(rp_rule *rule, R **arr)
{
    RE_WS *w = rule->impl;
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
}

/* Online: record the live state, clear the traces. */
static rp_status RE(eprop_begin)(rp_rule *rule, const rp_net *net)
{
    RE_WS *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch, n_in = rule->n_in;
    const int fresh = !w->P; /* the rate form's traces are allocated by this call */
    RE_FROM_D(w->prev, rule->form == RP_FORM_VOLTAGE ? net->fx : net->state, B * N);
    if (rule->form == RP_FORM_VOLTAGE) {
        memset(w->o_eps, 0, B * N * sizeof(R));
        memset(w->o_epsx, 0, B * n_in * sizeof(R));
        w->o_epsb = (R)0;
    } else {
        if (!w->P) { /* the rate form's online traces, first stream only */
            int ok = 1;
            w->P = alloc2s(&rule->al, rp__mul(B, N, &ok), N, sizeof(R), &ok);
            w->PU = alloc2s(&rule->al, rp__mul(B, N, &ok), n_in, sizeof(R), &ok);
            w->Pb = alloc2s(&rule->al, B, N, sizeof(R), &ok);
            if (!ok) {
                rp__free(&rule->al, w->P);
                rp__free(&rule->al, w->PU);
                rp__free(&rule->al, w->Pb);
                w->P = w->PU = w->Pb = NULL;
                return rp__fail(rule->err, RP_ERR_NOMEM,
                                "no memory for the online rate-form traces "
                                "(B*n_rec*(n_rec+n_in+1) " RE_TNAME ")");
            }
        }
        memset(w->P, 0, B * N * N * sizeof(R));
        memset(w->PU, 0, B * N * n_in * sizeof(R));
        memset(w->Pb, 0, B * N * sizeof(R));
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

/* C (M x K, the double rp_grad) += A^T Bm for `rows` rows: dger for one
   row, else a small GEMM; float factors are widened into wa, wb first. */
static void RE(outer_add)(size_t M, size_t K, size_t rows, const R *A, const R *Bm, double *C,
                          double *wa, double *wb)
{
    if (M == 0 || K == 0)
        return;
#ifdef RE_SINGLE
    rp__from_f(A, wa, rows * M);
    rp__from_f(Bm, wb, rows * K);
    const double *Ad = wa, *Bd = wb;
#else
    (void)wa, (void)wb;
    const double *Ad = A, *Bd = Bm;
#endif
    if (rows == 1)
        cblas_dger(CblasRowMajor, (int)M, (int)K, 1.0, Ad, 1, Bd, 1, C, (int)K);
    else
        gemm_tn(M, K, rows, Ad, Bd, C);
}

/* y (n, double) += alpha x. */
static void RE(axpy_g)(size_t n, double alpha, const R *x, double *y)
{
#ifdef RE_SINGLE
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * (double)x[i];
#else
    cblas_daxpy((int)n, alpha, x, 1, y, 1);
#endif
}

/* c (M, double) += column sums of A (rows x M). */
static void RE(colsum)(size_t M, size_t rows, const R *A, double *c)
{
    if (M == 0)
        return;
    for (size_t r = 0; r < rows; r++)
        RE(axpy_g)(M, 1.0, A + r * M, c);
}

#ifdef RE_SINGLE
/* P (n) = a P + gd y, in float (restrict and four at a time: gcc -O2
   vectorizes both loops). */
static void trace_row_f(size_t n, float *restrict P, const float *restrict y, float a, float gd)
{
#define TRACE(j) P[j] = a * P[j] + gd * y[j]
    RP__EACH4(n, TRACE);
#undef TRACE
}

/* G (n, double) += ld P, P widened. */
static void widen_add_f(size_t n, double *restrict G, const float *restrict P, double ld)
{
#define WIDEN(j) G[j] += ld * (double)P[j]
    RP__EACH4(n, WIDEN);
#undef WIDEN
}
#endif

/* One online tick after rp_net_step(net, x_t): the net holds h_t (or u_t, r_t),
   w->prev holds f(h_{t-1}) (or r_{t-1}). */
static rp_status RE(eprop_step)(rp_rule *rule, const rp_net *net, const double *x_t,
                                const double *target_t, const double *mask_t, rp_grad *grad,
                                double *loss)
{
    RE_WS *w = rule->impl;
    const size_t N = rule->n_rec, n_in = rule->n_in, O = rule->n_out, B = rule->batch;
    const size_t BN = B * N;
    const R a = (R)net->cfg.alpha, g = (R)1 - a;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
#ifdef RE_SINGLE
    /* the step in float: the net's double view holds its float values, so
       these conversions are exact */
    rp__to_f(voltage ? net->fx : net->state, w->cur, BN);
    rp__to_f(voltage ? net->state : net->u, w->pre, BN);
    if (n_in)
        rp__to_f(x_t, w->xo, B * n_in);
    const R *act = w->cur, *pre = w->pre, *xt = w->xo;
    double *wa = w->wa, *wb = w->wb;
#else
    const double *act = voltage ? net->fx : net->state; /* f(h_t) or r_t */
    const double *pre = voltage ? net->state : net->u;  /* h_t or u_t */
    const double *xt = x_t;
    double *wa = NULL, *wb = NULL;
#endif

    RE_K(rp__readout)(net, B, act, w->oy, RE_PAD(rule, w));
#ifdef RE_SINGLE
    double *oy = w->Yd, *oe = w->Ed; /* the loss in double, as per trial */
    rp__from_f(w->oy, oy, B * O);
#else
    double *oy = w->oy, *oe = w->oe;
#endif
    size_t bad = rp__find_nonfinite(oy, B * O);
    if (bad < B * O)
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "output %zu of trial %zu is %g: the net diverged", bad % O, bad / O,
                        oy[bad]);
    double E = rp__loss_error(rule->loss, B, O, oy, target_t, mask_t, 1.0 / (double)B, oe);
#ifdef RE_SINGLE
    rp__to_f(oe, w->oe, B * O);
    const float *fb = eprop_feedback_f(rule, net, w->fb);
#else
    const double *fb = rp__feedback(rule, net, w->fb);
#endif
    RE(learning_signal)(N, O, B, w->oe, fb, w->l);
    /* Refuse before anything changes (grad, traces, prev), as rp_rule_trial
       and RTRL refuse a non-finite loss: finite outputs can still overflow
       the squared error or the learning signal.  (Products of finite signals
       and traces are not re-checked: that would need the step's gradient in
       scratch, an extra pass over N^2 entries per step.) */
    if (!isfinite(E) || RE_K(rp__find_nonfinite)(w->oe, B * O) < B * O ||
        RE_K(rp__find_nonfinite)(w->l, BN) < BN)
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "the step's loss or learning signal is not finite (loss %g): the outputs "
                        "are too large",
                        E);

    double *GW = rp__gblock(grad, RP_PARAM_W), *GU = rp__gblock(grad, RP_PARAM_U);
    double *Gb = rp__gblock(grad, RP_PARAM_B), *GV = rp__gblock(grad, RP_PARAM_V);
    double *Gc = rp__gblock(grad, RP_PARAM_C);
#ifdef RE_SINGLE
    const int blk = 0; /* the online block is double only (rule.c) */
#else
    const int blk = rule->o_block > 1; /* voltage, no ModProp (rule.c) */
#endif
    if (!blk) {
        RE(outer_add)(O, N, B, w->oe, act, GV, wa, wb);
        RE(colsum)(O, B, w->oe, Gc);
    }

    if (voltage) {
        RE(times_deriv)(rule->act, pre, act, w->l, g, 0, BN); /* l_t *= f'(h_t) */
        if (rule->mp) /* with the traces of step t-1 (§4.7) */
            RE_K(rp__modprop_step)(rule, net, w->l, w->o_eps, w->o_epsx, &w->o_epsb, GW, GU, Gb);
        for (size_t i = 0; i < BN; i++)
            w->o_eps[i] = a * w->o_eps[i] + g * w->prev[i];
        for (size_t i = 0; i < B * n_in; i++)
            w->o_epsx[i] = a * w->o_epsx[i] + g * xt[i];
        w->o_epsb = a * w->o_epsb + g;
        if (blk) { /* store the tick's factors in slot o_pending; rule.c counts it */
#ifndef RE_SINGLE
            const size_t k = rule->o_pending;
            memcpy(w->bl + k * BN, w->l, BN * sizeof(double));
            memcpy(w->be + k * BN, w->o_eps, BN * sizeof(double));
            memcpy(w->ba + k * BN, act, BN * sizeof(double));
            memcpy(w->bo + k * B * O, w->oe, B * O * sizeof(double));
            if (n_in)
                memcpy(w->bx + k * B * n_in, w->o_epsx, B * n_in * sizeof(double));
            for (size_t r = 0; r < B; r++)
                w->bb[k * B + r] = w->o_epsb;
#endif
        } else if (!rule->mp || !RE_K(rp__modprop_voltage_grad)(rule, w->l, w->o_eps, w->o_epsx,
                                                                w->o_epsb, GW, GU, Gb)) {
            RE(outer_add)(N, N, B, w->l, w->o_eps, GW, wa, wb);
            RE(outer_add)(N, n_in, B, w->l, w->o_epsx, GU, wa, wb);
            for (size_t r = 0; r < B; r++)
                RE(axpy_g)(N, w->o_epsb, w->l + r * N, Gb);
        }
    } else {
        RE_K(rp__act_d1)(rule->act, pre, w->d, BN);
        if (rule->mp) /* with the traces of step t-1 (§4.7) */
            RE_K(rp__modprop_step)(rule, net, w->l, w->P, w->PU, w->Pb, GW, GU, Gb);
        for (size_t r = 0; r < B; r++) {
            R *P = w->P + r * N * N, *PU = w->PU + r * N * n_in, *Pb = w->Pb + r * N;
            const R *d = w->d + r * N, *l = w->l + r * N;
#ifdef RE_SINGLE
            /* The same update row by row of P (and P^U): the row is updated
               in float and added, widened, into the double gradient row
               while it is in cache, where sscal, sger and a widening AXPY
               would take three passes over P (the double instance keeps its
               BLAS calls, bit for bit). */
            const float *pr = w->prev + r * N, *xr = xt + r * n_in;
            for (size_t i = 0; i < N; i++) {
                const float gd = g * d[i], li = l[i];
                float *Pi = P + i * N, *PUi = PU + i * n_in;
                double *GWi = GW + i * N, *GUi = GU + i * n_in;
                const double ld = (double)li;
                trace_row_f(N, Pi, pr, a, gd);
                widen_add_f(N, GWi, Pi, ld);
                trace_row_f(n_in, PUi, xr, a, gd);
                widen_add_f(n_in, GUi, PUi, ld);
                Pb[i] = a * Pb[i] + g * d[i];
                Gb[i] += ld * Pb[i];
            }
#else
            /* P_t = a P_{t-1} + (1-a) f'(u_t) r_{t-1}^T, then G_W += diag(L_t) P_t */
            RE_SCAL((int)(N * N), a, P, 1);
            RE_GER(CblasRowMajor, (int)N, (int)N, g, d, 1, w->prev + r * N, 1, P, (int)N);
            if (n_in) {
                RE_SCAL((int)(N * n_in), a, PU, 1);
                RE_GER(CblasRowMajor, (int)N, (int)n_in, g, d, 1, xt + r * n_in, 1, PU, (int)n_in);
            }
            for (size_t i = 0; i < N; i++) {
                Pb[i] = a * Pb[i] + g * d[i];
                Gb[i] += (double)l[i] * Pb[i];
                if (l[i] == (R)0)
                    continue;
                RE(axpy_g)(N, l[i], P + i * N, GW + i * N);
                if (n_in)
                    RE(axpy_g)(n_in, l[i], PU + i * n_in, GU + i * n_in);
            }
#endif
        }
    }
    memcpy(w->prev, act, BN * sizeof(R));
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
#undef RE_SCAL
#undef RE_GER
#undef RE_TNAME
