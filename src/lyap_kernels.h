/* The Lyapunov estimator's trajectory, Jacobian products and QR (MODEL.md
   §6), one source compiled twice (as net_kernels.h): lyap.c includes it with
   RP_K_DOUBLE (R = double: the code of 1.1, bit for bit) and RP_K_SINGLE
   (R = float, the _f names, on a single-precision net's theta_f).  What
   stays double in both, and why, is in lyap.c (the log sums).

   Included in two parts: with RP_LYAP_TYPES for the workspace type, then
   (after struct rp_lyap is complete) with RP_LYAP_CODE for the functions.
   The includer defines exactly one of RP_K_DOUBLE / RP_K_SINGLE and has
   included qr.h, cblas.h, math.h and string.h. */
#if defined(RP_K_DOUBLE)
#define R double
#define RK(name) name
#define RQ rp__qr
#define RK_GEMM cblas_dgemm
#define RK_AXPY cblas_daxpy
#define RK_W(net) ((net)->W)
#elif defined(RP_K_SINGLE)
#define R float
#define RK(name) name##_f
#define RQ rp__qr_f
#define RK_GEMM cblas_sgemm
#define RK_AXPY cblas_saxpy
#define RK_W(net) ((net)->theta_f + (net)->lay.off[RP_PARAM_W])
#else
#error "define RP_K_DOUBLE or RP_K_SINGLE before including lyap_kernels.h"
#endif

#if defined(RP_LYAP_TYPES)

/* The estimator's working-precision arrays (one block at h; lwork and
   tciwork apart).  The exponents' sums S and loc live in rp_lyap, double. */
typedef struct RK(lyap_ws) {
    R *h, *fx, *u, *dp;  /* N each: state, f(h) (voltage) / f(u) (rate), u_t, f' */
    R *Q, *Qn, *work;    /* N x k row-major: basis, D Q, scratch of jacobian_apply */
    R *rdiag;            /* k: R_jj of the last QR */
    R *xf;               /* n_in: the step's input in R (float only) */
    R *pad;              /* rp__pad_len(n_in, N, 0): the padding of the net's products */
    R *h_s, *fx_s, *Q_s; /* the snapshot of a run */
    RQ qr;               /* A (N x k column-major), tau, lwork, tcwork (3k), tciwork */
} RK(lyap_ws);

#elif defined(RP_LYAP_CODE)

/* Q_out = D_t Q (internal.h, rp__jacobian_apply): the one source of both
   precisions (rule_rtrl.c and floss.c call it too). */
void RK(rp__jacobian_apply)(const rp_net *net, const R *dprime, const R *Q, size_t k, R *Q_out,
                            R *work)
{
    const int N = (int)net->cfg.n_rec, K = (int)k;
    const R a = (R)net->cfg.alpha, g = (R)1 - a;
    const R *W = RK_W(net);
    if (net->cfg.form == RP_FORM_VOLTAGE) {
        /* D Q = a Q + (1-a) W (diag(f'(h_{t-1})) Q) */
        for (int i = 0; i < N; i++)
            for (int j = 0; j < K; j++)
                work[(size_t)i * k + j] = dprime[i] * Q[(size_t)i * k + j];
        RK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, N, g, W, N, work, K, (R)0, Q_out,
                K);
        RK_AXPY(N * K, a, Q, 1, Q_out, 1);
    } else {
        /* D Q = a Q + (1-a) diag(f'(u_t)) (W Q) */
        RK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, N, (R)1, W, N, Q, K, (R)0, Q_out,
                K);
        for (int i = 0; i < N; i++) {
            R s = g * dprime[i];
            for (int j = 0; j < K; j++)
                Q_out[(size_t)i * k + j] = a * Q[(size_t)i * k + j] + s * Q_out[(size_t)i * k + j];
        }
    }
}

/* Elements of R of the block at ws->h. */
static size_t RK(ws_len)(size_t N, size_t k, size_t n_in)
{
    const size_t Nk = N * k;
    return 4 * N + 3 * Nk + k + n_in + rp__pad_len(n_in, N, 0) + 2 * N + Nk + Nk + k + 3 * k;
}

/* Allocate ws for N x k (zeroed); 0 on failure (ws_free frees what is there). */
static int RK(ws_alloc)(RK(lyap_ws) * ws, const rp_allocator *al, size_t N, size_t k, size_t n_in)
{
    const size_t Nk = N * k;
    R *p = rp__calloc(al, RK(ws_len)(N, k, n_in), sizeof(R));
    if (!p)
        return 0;
    ws->h = p, p += N;
    ws->fx = p, p += N;
    ws->u = p, p += N;
    ws->dp = p, p += N;
    ws->Q = p, p += Nk;
    ws->Qn = p, p += Nk;
    ws->work = p, p += Nk;
    ws->rdiag = p, p += k;
    ws->xf = p, p += n_in;
    ws->pad = p, p += rp__pad_len(n_in, N, 0);
    ws->h_s = p, p += N;
    ws->fx_s = p, p += N;
    ws->Q_s = p, p += Nk;
    ws->qr.n = N;
    ws->qr.k = k;
    ws->qr.a = p, p += Nk;
    ws->qr.tau = p, p += k;
    ws->qr.tcwork = p;
    ws->qr.tciwork = rp__calloc(al, k, sizeof(lapack_int));
    if (!ws->qr.tciwork)
        return 0;
    /* LAPACK workspace size, queried once (lwork = -1). */
    ws->qr.lwork = RK(rp__qr_lwork)(N, k);
    if (ws->qr.lwork == 0)
        return -1;
    ws->qr.work = rp__calloc(al, (size_t)ws->qr.lwork, sizeof(R));
    return ws->qr.work != NULL;
}

static void RK(ws_free)(RK(lyap_ws) * ws, const rp_allocator *al)
{
    rp__free(al, ws->h);
    rp__free(al, ws->qr.tciwork);
    rp__free(al, ws->qr.work);
}

static void RK(ws_snapshot)(RK(lyap_ws) * ws, size_t N, size_t k)
{
    memcpy(ws->h_s, ws->h, N * sizeof(R));
    memcpy(ws->fx_s, ws->fx, N * sizeof(R));
    memcpy(ws->Q_s, ws->Q, N * k * sizeof(R));
}

static void RK(ws_restore)(RK(lyap_ws) * ws, size_t N, size_t k)
{
    memcpy(ws->h, ws->h_s, N * sizeof(R));
    memcpy(ws->fx, ws->fx_s, N * sizeof(R));
    memcpy(ws->Q, ws->Q_s, N * k * sizeof(R));
}

/* The trajectory's start: h = h0 (floats already on a single net), f(h),
   and the basis Q0 (double, rounded to R). */
static void RK(ws_start)(RK(lyap_ws) * ws, const rp_net *net, const double *Q0, size_t k)
{
    const size_t N = net->cfg.n_rec;
    for (size_t i = 0; i < N; i++)
        ws->h[i] = (R)net->h0[i];
    RK(rp__act)(net->cfg.act, ws->h, ws->fx, N);
    for (size_t i = 0; i < N * k; i++)
        ws->Q[i] = (R)Q0[i];
}

/* One step t = ly->t + 1 of MODEL.md §6 in R; the logs of R_jj go to the
   double sums ly->S and ly->loc. */
static rp_status RK(lyap_step)(rp_lyap *ly, RK(lyap_ws) * ws, const rp_net *net, const double *x)
{
    const size_t N = ly->N, k = ly->k;
    /* D_t needs f'(h_{t-1}) (voltage: before the state moves) or f'(u_t)
       (rate: after the forward pass has produced u_t). */
    if (ly->form == RP_FORM_VOLTAGE) {
        if (ly->act == RP_ACT_TANH) {
            /* tanh' = 1 - f^2 from f(h_{t-1}) at hand: the bits of
               rp__act_d1 without a second tanh per unit and step */
            for (size_t i = 0; i < N; i++)
                ws->dp[i] = (R)1 - ws->fx[i] * ws->fx[i];
        } else {
            RK(rp__act_d1)(ly->act, ws->h, ws->dp, N);
        }
    }
#if defined(RP_K_SINGLE)
    const float *xr = NULL;
    if (x) {
        rp__to_f(x, ws->xf, ly->n_in);
        xr = ws->xf;
    }
#else
    const double *xr = x;
#endif
    RK(rp__forward)(net, 1, xr, ws->h, ws->fx, ws->u, ws->pad);
    if (ly->form == RP_FORM_RATE)
        RK(rp__act_d1)(ly->act, ws->u, ws->dp, N);
    size_t t = ++ly->t;
    size_t bad = RK(rp__find_nonfinite)(ws->h, N);
    if (bad < N)
        return rp__fail(ly->err, RP_ERR_NONFINITE, "state diverged at step %zu, unit %zu", t, bad);
    RK(rp__jacobian_apply)(net, ws->dp, ws->Q, k, ws->Qn, ws->work);
    bad = RK(rp__find_nonfinite)(ws->Qn, N * k);
    if (bad < N * k)
        return rp__fail(ly->err, RP_ERR_NONFINITE,
                        "tangent block overflowed at step %zu (unit %zu, direction %zu): use a "
                        "smaller t_ons",
                        t, bad / k, bad % k);
    if (t % ly->t_ons != 0) {
        R *tmp = ws->Q;
        ws->Q = ws->Qn;
        ws->Qn = tmp;
        return RP_OK;
    }
    double cond = 0.0;
    /* R's diagonal goes to rdiag; Q <- Q factor of D_t Q. */
    rp_status st = RK(rp__qr_pos)(&ws->qr, ws->Qn, ws->Q, ws->rdiag, 0, &cond, ly->err);
    if (st != RP_OK)
        return st;
    ly->n_qr++;
    ly->cond_last = cond;
    if (!(cond <= ly->cond_max))
        ly->cond_max = cond;
    const int count = t - ly->t_ons >= ly->transient;
    /* Collapse (header, rp_lyap): kept directions first, refilled ones last,
       their sums S moved with them. */
    size_t nc = RK(rp__tangent_refill)(N, k, ws->Qn, ws->rdiag, 1, &ly->rng, ws->work, ly->src);
    if (nc) {
        st = RK(rp__qr_pos)(&ws->qr, ws->work, ws->Q, ws->rdiag, 0, NULL, ly->err);
        if (st != RP_OK)
            return st;
        for (size_t j = 0; j < k; j++)
            ly->Stmp[j] = ly->S[ly->src[j]];
        memcpy(ly->S, ly->Stmp, k * sizeof(double));
        for (size_t j = k - nc; j < k; j++)
            ws->rdiag[j] = (R)0; /* R_jj = 0: the refilled column's own R_jj is not a growth */
    }
    const double inv = 1.0 / (double)ly->t_ons;
    for (size_t j = 0; j < k; j++) {
        const double r = (double)ws->rdiag[j];
        double lr = r > 0.0 ? log(r) : -INFINITY; /* R_jj = 0: collapse */
        if (count)
            ly->S[j] += lr;
        ly->loc[j] = lr * inv;
    }
    if (count)
        ly->counted += ly->t_ons;
    return RP_OK;
}

#else
#error "define RP_LYAP_TYPES or RP_LYAP_CODE before including lyap_kernels.h"
#endif

#undef R
#undef RK
#undef RQ
#undef RK_GEMM
#undef RK_AXPY
#undef RK_W
