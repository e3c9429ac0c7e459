/* The BPTT kernels (MODEL.md §4.1-4.2, rule_bptt.c's comment), one source
   compiled twice by rule_bptt.c: with RB_DOUBLE (R = double, the code of
   1.1 bit for bit but for tanh, now src/tanh.c's) and with RB_SINGLE (R = float: float trajectory,
   adjoints and products on a single-precision net's theta_f; the inputs
   rounded to float once a trial, the loss and the errors e_t computed in
   double, the gradient converted to double at the end of the trial). */
#if defined(RB_DOUBLE)
#define R double
#define RB(name) bptt_##name##_d
#define RB_K(name) name
#define RB_GEMM cblas_dgemm
#define RB_GEMV cblas_dgemv
#define RB_AXPY cblas_daxpy
#define RB_SCAL cblas_dscal
#define RB_W(net) ((net)->W)
#define RB_V(net) ((net)->V)
#define RB_PAD(rule, w) ((rule)->pad)
#define RB_FROM_D(dst, src, n) memcpy((dst), (src), (n) * sizeof(double))
#define RB_GRAD(rule, w) ((rule)->scratch) /* zeroed by rule.c */
#define RB_GBETA 1.0
#define RB_EXTRA_OK(n, ok) 1
#elif defined(RB_SINGLE)
#define R float
#define RB(name) bptt_##name##_f
#define RB_K(name) name##_f
#define RB_GEMM cblas_sgemm
#define RB_GEMV cblas_sgemv
#define RB_AXPY cblas_saxpy
#define RB_SCAL cblas_sscal
#define RB_W(net) rp__param_f((net), RP_PARAM_W)
#define RB_V(net) rp__param_f((net), RP_PARAM_V)
#define RB_PAD(rule, w) ((w)->pad)
#define RB_FROM_D(dst, src, n) rp__to_f((src), (dst), (n))
#define RB_GRAD(rule, w) ((w)->G)
#define RB_GBETA 0.0f /* G holds this trial only; rule.c adds it into the rp_grad */
#define RB_EXTRA_OK(n, ok) ((ok) && (n).X && (n).Yd && (n).Ed && (n).G && (n).pad)
#else
#error "define RB_DOUBLE or RB_SINGLE before including bptt_kernels.h"
#endif

typedef struct RB(ws) {
    size_t T_cap;
    R *Z, *Dp, *Dl; /* see above */
    R *Y, *E;       /* T·B·n_out outputs and errors e_t */
    R *ones;        /* T·B ones, for the bias sums */
    R *st;          /* B·N running state (voltage: h_t) */
    R *fx, *u;      /* B·N each (rate form: f(u_t), u_t of the step) */
    R *a;           /* B·N running adjoint a_t (rate form) */
    R *ring, *tmp;  /* TBPTT: T·B·N each */
#ifdef RB_SINGLE
    float *X;        /* T·B·n_in: the inputs in float */
    double *Yd, *Ed; /* T·B·n_out: outputs and errors in double, for the loss */
    float *G;        /* lay.total: the trial's gradient in float */
    float *pad;      /* rp__pad_len: the padding of the float products */
#endif
} RB(ws);

static void RB(free_ws)(const rp_allocator *al, RB(ws) * w)
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
#ifdef RB_SINGLE
    rp__free(al, w->X);
    rp__free(al, w->Yd);
    rp__free(al, w->Ed);
    rp__free(al, w->G);
    rp__free(al, w->pad);
#endif
    memset(w, 0, sizeof *w);
}

static void RB(destroy)(rp_rule *rule)
{
    RB(ws) *w = rule->impl;
    if (w)
        RB(free_ws)(&rule->al, w);
    rp__free(&rule->al, w);
    rule->impl = NULL;
}

static rp_status RB(reserve)(rp_rule *rule, size_t T)
{
    RB(ws) *w = rule->impl;
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
    RB(ws) n;
    memset(&n, 0, sizeof n);
    n.T_cap = T;
    n.Z = rp__calloc(&rule->al, T1BN, sizeof(R));
    n.Dp = rp__calloc(&rule->al, TBN, sizeof(R));
    n.Dl = rp__calloc(&rule->al, TBN, sizeof(R));
    n.Y = rp__calloc(&rule->al, TBO, sizeof(R));
    n.E = rp__calloc(&rule->al, TBO, sizeof(R));
    n.ones = rp__calloc(&rule->al, TB, sizeof(R));
    n.st = rp__calloc(&rule->al, B * N, sizeof(R));
    n.fx = rp__calloc(&rule->al, B * N, sizeof(R));
    n.u = rp__calloc(&rule->al, B * N, sizeof(R));
    n.a = rp__calloc(&rule->al, B * N, sizeof(R));
#ifdef RB_SINGLE
    n.X = rp__calloc(&rule->al, rp__mul(TB, rule->n_in, &ok), sizeof(float));
    n.Yd = rp__calloc(&rule->al, TBO, sizeof(double));
    n.Ed = rp__calloc(&rule->al, TBO, sizeof(double));
    n.G = rp__calloc(&rule->al, rule->lay.total, sizeof(float));
    n.pad = rp__calloc(&rule->al, rp__pad_len(rule->n_in, N, O), sizeof(float));
#endif
    int need_ring = rule->kind == RP_RULE_TBPTT;
    if (need_ring) {
        n.ring = rp__calloc(&rule->al, TBN, sizeof(R));
        n.tmp = rp__calloc(&rule->al, TBN, sizeof(R));
    }
    if (!n.Z || !n.Dp || !n.Dl || !n.Y || !n.E || !n.ones || !n.st || !n.fx || !n.u || !n.a ||
        (need_ring && (!n.ring || !n.tmp)) || !RB_EXTRA_OK(n, ok)) {
        RB(free_ws)(&rule->al, &n);
        return RP_ERR_NOMEM;
    }
    for (size_t i = 0; i < TB; i++)
        n.ones[i] = (R)1;
    RB(free_ws)(&rule->al, w);
    *w = n;
    return RP_OK;
}

/* out = f'(pre), from post = f(pre) where that is cheaper (the same values
   as rp__act_d1: tanh' = 1 − tanh², relu'(v) = [v > 0]). */
static void RB(deriv)(rp_activation act, const R *pre, const R *post, R *out, size_t n)
{
    if (act == RP_ACT_TANH) {
        for (size_t i = 0; i < n; i++)
            out[i] = (R)1 - post[i] * post[i];
    } else {
        RB_K(rp__act_d1)(act, pre, out, n);
    }
}

/* C (rows×N) = A (rows×N) · W (N×N) + beta·C: the adjoint's pull back
   through the recurrent weights (dgemv for one row). */
static void RB(times_W)(const R *W, size_t rows, size_t N, const R *A, R beta, R *C)
{
    if (rows == 1)
        RB_GEMV(CblasRowMajor, CblasTrans, (int)N, (int)N, (R)1, W, (int)N, A, 1, beta, C, 1);
    else
        RB_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)N, (R)1, A,
                (int)N, W, (int)N, beta, C, (int)N);
}

/* Forward pass from h0 (MODEL.md §1 without noise), filling Z and Dp. */
static rp_status RB(forward)(rp_rule *rule, RB(ws) * w, const rp_net *net, size_t T, const R *x)
{
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N, n_in = rule->n_in;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    for (size_t b = 0; b < B; b++)
        RB_FROM_D(w->st + b * N, net->h0, N);
    if (voltage)
        RB_K(rp__act)(rule->act, w->st, w->Z, BN);
    else
        memcpy(w->Z, w->st, BN * sizeof(R));
    for (size_t t = 0; t < T; t++) {
        const R *xt = n_in ? x + t * B * n_in : NULL;
        R *z = w->Z + (t + 1) * BN, *dp = w->Dp + t * BN;
        memcpy(z, z - BN, BN * sizeof(R));
        if (voltage) {
            RB_K(rp__forward)(net, B, xt, w->st, z, NULL, RB_PAD(rule, w));
            RB(deriv)(rule->act, w->st, z, dp, BN);
        } else {
            RB_K(rp__forward)(net, B, xt, z, w->fx, w->u, RB_PAD(rule, w));
            RB(deriv)(rule->act, w->u, w->fx, dp, BN);
        }
        size_t bad = RB_K(rp__find_nonfinite)(z, BN);
        if (bad < BN)
            return rp__fail(rule->err, RP_ERR_NONFINITE,
                            "the trajectory diverged at step %zu, trial %zu, unit %zu", t, bad / N,
                            bad % N);
        rp_status st = RB_K(rp__check_bound)(net, voltage ? w->st : z, B, t, rule->err);
        if (st != RP_OK)
            return st;
    }
    return RP_OK;
}

/* BPTT reverse recurrence: Dl holds g_t = e_t V on entry, δ_t on exit. */
static void RB(reverse_full)(rp_rule *rule, RB(ws) * w, const rp_net *net, size_t T)
{
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N;
    const R al = (R)net->cfg.alpha, ga = (R)1 - al;
    for (size_t t = T; t-- > 0;) {
        R *d = w->Dl + t * BN;
        const R *dp = w->Dp + t * BN, *dn = d + BN;
        const int last = t + 1 == T;
        if (rule->form == RP_FORM_VOLTAGE) {
            if (last) {
                for (size_t i = 0; i < BN; i++)
                    d[i] = ga * dp[i] * d[i];
            } else {
                RB(times_W)(RB_W(net), B, N, dn, (R)1, d);
                for (size_t i = 0; i < BN; i++)
                    d[i] = al * dn[i] + ga * dp[i] * d[i];
            }
        } else {
            if (!last) {
                RB(times_W)(RB_W(net), B, N, dn, (R)1, d);
                for (size_t i = 0; i < BN; i++)
                    d[i] += al * w->a[i];
            }
            memcpy(w->a, d, BN * sizeof(R));
            for (size_t i = 0; i < BN; i++)
                d[i] = ga * dp[i] * d[i];
        }
    }
}

/* TBPTT(K), K < T: ring slot s mod K holds the adjoint a^{(s)}_t of loss
   term s at the current step t, for the K terms s = t..t+K−1. */
static void RB(reverse_window)(rp_rule *rule, RB(ws) * w, const rp_net *net, size_t T, size_t K)
{
    const size_t N = rule->n_rec, B = rule->batch, BN = B * N, KB = K * B;
    const R al = (R)net->cfg.alpha, ga = (R)1 - al;
    const int voltage = rule->form == RP_FORM_VOLTAGE;
    R *Rg = w->ring, *tmp = w->tmp;
    memset(Rg, 0, KB * N * sizeof(R));
    for (size_t t = T; t-- > 0;) {
        R *d = w->Dl + t * BN;
        const R *dp = w->Dp + t * BN;
        if (t + 1 < T) {
            /* every live term one step back; the term s = t+K leaves (its slot is overwritten below) */
            if (voltage) {
                /* a_t = α a_{t+1} + (1−α) f'(h_t) ⊙ (a_{t+1} W) */
                RB(times_W)(RB_W(net), KB, N, Rg, (R)0, tmp);
                for (size_t k = 0; k < K; k++) {
                    R *r = Rg + k * BN, *q = tmp + k * BN;
                    for (size_t i = 0; i < BN; i++)
                        r[i] = al * r[i] + ga * dp[i] * q[i];
                }
            } else {
                /* a_t = α a_{t+1} + ((1−α) f'(u_{t+1}) ⊙ a_{t+1}) W */
                const R *dpn = dp + BN;
                for (size_t k = 0; k < K; k++) {
                    const R *r = Rg + k * BN;
                    R *q = tmp + k * BN;
                    for (size_t i = 0; i < BN; i++)
                        q[i] = ga * dpn[i] * r[i];
                }
                RB_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)KB, (int)N, (int)N, (R)1,
                        tmp, (int)N, RB_W(net), (int)N, al, Rg, (int)N);
            }
        }
        /* the term s = t enters: its own step's error */
        R *slot = Rg + (t % K) * BN;
        if (voltage)
            for (size_t i = 0; i < BN; i++)
                slot[i] = dp[i] * d[i];
        else
            memcpy(slot, d, BN * sizeof(R));
        /* δ_t from the sum of the live terms */
        memcpy(d, Rg, BN * sizeof(R));
        for (size_t k = 1; k < K; k++)
            RB_AXPY((int)BN, (R)1, Rg + k * BN, 1, d, 1);
        if (voltage)
            RB_SCAL((int)BN, ga, d, 1);
        else
            for (size_t i = 0; i < BN; i++)
                d[i] *= ga * dp[i];
    }
}

static rp_status RB(trial)(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                           const double *target, const double *mask, double *loss)
{
    RB(ws) *w = rule->impl;
    const size_t N = rule->n_rec, B = rule->batch, O = rule->n_out, n_in = rule->n_in;
    const size_t TB = T * B, BN = B * N;
    const int iN = (int)N, iTB = (int)TB, iO = (int)O;
#ifdef RB_SINGLE
    rp__to_f(x, w->X, TB * n_in); /* the public inputs, rounded once */
    const float *X = w->X;
#else
    const double *X = x;
#endif
    rp_status st = RB(forward)(rule, w, net, T, X);
    if (st != RP_OK)
        return st;
    /* outputs and errors of all steps at once (MODEL.md §3, scale 1/(B T)) */
    const R *Z1 = w->Z + BN;
    RB_K(rp__readout)(net, TB, Z1, w->Y, RB_PAD(rule, w));
#ifdef RB_SINGLE
    /* the loss and its errors e_t in double: the loss is a sum of T B n_out
       terms reported to the caller, and double costs O(T B n_out) here */
    rp__from_f(w->Y, w->Yd, TB * O);
    *loss = rp__loss_error(rule->loss, TB, O, w->Yd, target, mask, 1.0 / (double)TB, w->Ed);
    rp__to_f(w->Ed, w->E, TB * O);
#else
    *loss = rp__loss_error(rule->loss, TB, O, w->Y, target, mask, 1.0 / (double)TB, w->E);
#endif
    /* g_t = e_t V for every step, into Dl */
    RB_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, iTB, iN, iO, (R)1, w->E, iO, RB_V(net), iN,
            (R)0, w->Dl, iN);
    if (rule->kind == RP_RULE_TBPTT && rule->K < T)
        RB(reverse_window)(rule, w, net, T, rule->K);
    else
        RB(reverse_full)(rule, w, net, T);
    /* the parameter gradients: sums over the T B stacked rows, in R.  In
       single precision they accumulate in float inside sgemm/sgemv (the
       flops are here; error <= gamma_{T B} sum |delta z|) into a float
       block, converted to the double rp_grad at the boundary, where the
       sum over trials and batches runs in double (rule.c). */
    R *g = RB_GRAD(rule, w);
    R *GW = g + rule->lay.off[RP_PARAM_W], *GU = g + rule->lay.off[RP_PARAM_U];
    R *Gb = g + rule->lay.off[RP_PARAM_B], *GV = g + rule->lay.off[RP_PARAM_V];
    R *Gc = g + rule->lay.off[RP_PARAM_C];
    RB_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, iN, iN, iTB, (R)1, w->Dl, iN, w->Z, iN,
            RB_GBETA, GW, iN);
    if (n_in)
        RB_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, iN, (int)n_in, iTB, (R)1, w->Dl, iN, X,
                (int)n_in, RB_GBETA, GU, (int)n_in);
    RB_GEMV(CblasRowMajor, CblasTrans, iTB, iN, (R)1, w->Dl, iN, w->ones, 1, RB_GBETA, Gb, 1);
    /* readout gradients, exact in every rule (MODEL.md §4) */
    RB_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, iO, iN, iTB, (R)1, w->E, iO, Z1, iN, RB_GBETA,
            GV, iN);
    RB_GEMV(CblasRowMajor, CblasTrans, iTB, iO, (R)1, w->E, iO, w->ones, 1, RB_GBETA, Gc, 1);
#ifdef RB_SINGLE
    rp__from_f(g, rule->scratch, rule->lay.total); /* rule.c zeroed it: the trial's estimate */
#endif
    return RP_OK;
}

#undef R
#undef RB
#undef RB_K
#undef RB_GEMM
#undef RB_GEMV
#undef RB_AXPY
#undef RB_SCAL
#undef RB_W
#undef RB_V
#undef RB_PAD
#undef RB_FROM_D
#undef RB_GRAD
#undef RB_GBETA
#undef RB_EXTRA_OK
