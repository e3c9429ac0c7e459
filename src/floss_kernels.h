/* Gradient flossing's trajectory, QR chain and reverse pass (MODEL.md §6,
   §7), one source compiled twice (as net_kernels.h): floss.c includes it
   with RP_K_DOUBLE (R = double: the code of 1.1, bit for bit) and
   RP_K_SINGLE (R = float, the _f names, on a single-precision net's
   theta_f).  What stays double in both, and why, is in floss.c.

   Included in two parts: with RP_FLOSS_TYPES for the workspace type, then
   (after struct rp_floss is complete) with RP_FLOSS_CODE for the functions.
   The includer defines exactly one of RP_K_DOUBLE / RP_K_SINGLE and has
   included qr.h, cblas.h, math.h and string.h. */
#if defined(RP_K_DOUBLE)
#define R double
#define RK(name) name
#define RQ rp__qr
#define RK_GEMM cblas_dgemm
#define RK_GEMV cblas_dgemv
#define RK_TRSM cblas_dtrsm
#define RK_ACT_D2 rp__act_d2
#define RK_W(net) ((net)->W)
#elif defined(RP_K_SINGLE)
#define R float
#define RK(name) name##_f
#define RQ rp__qr_f
#define RK_GEMM cblas_sgemm
#define RK_GEMV cblas_sgemv
#define RK_TRSM cblas_strsm
#define RK_ACT_D2 act_d2_f
#define RK_W(net) ((net)->theta_f + (net)->lay.off[RP_PARAM_W])
#else
#error "define RP_K_DOUBLE or RP_K_SINGLE before including floss_kernels.h"
#endif

#if defined(RP_FLOSS_TYPES)

/* The working-precision arrays of a handle (fixed: one block at qr.a; the
   T-sized store: one block at S, grown by reserve). */
typedef struct RK(floss_ws) {
    RQ qr;                         /* a: N x k column-major, LAPACK's in/out; tau: k; work */
    R *Y, *Ybar, *Pbar, *G, *work; /* N x k each */
    R *Mk;                         /* k x k */
    R *vN1, *vN2, *vN3;            /* N */
    R *pad;                        /* rp__pad_len(n_in, N, 0): the padding of the net's products */
    R *acc;                        /* float only: N x max(N, n_in), a chunk's gradient sum */
    size_t T_cap;
    R *S;    /* (T+1) x N: states s_0..s_T (h or r) */
    R *FX;   /* (T+1) x N: f(h_t) (voltage) */
    R *UP;   /* T x N: u_t (rate), row t-1 */
    R *D1;   /* T x N: f'(h_{t-1}) (voltage) or f'(u_t) (rate), row t-1 */
    R *P;    /* T x N x k: P_t, block t-1 */
    R *Qs;   /* J x N x k */
    R *Rs;   /* J x k x k, row-major upper triangular */
    R *Ybig; /* N x (T k): column block t-1 holds the step's Ybar (or diag(f') Ybar) */
    R *Zbig; /* N x (T k): the matching presynaptic factor */
    R *Hbar; /* T x N: the state (voltage) or u (rate) adjoints, row t-1 */
    R *ones; /* T */
    R *Src;  /* J x k: window j's column order after a collapse (exact small
                integers): c for a kept column c, -(c+1) for a collapsed one;
                Src[(j-1) k] = k if nothing collapsed */
    R *X;    /* float only: T x n_in, the trial's input in float */
} RK(floss_ws);

#elif defined(RP_FLOSS_CODE)

#if defined(RP_K_SINGLE)
/* f'' in float (rp__act_d2's contract). */
static void act_d2_f(rp_activation a, const float *src, float *dst, size_t n)
{
    if (a == RP_ACT_TANH) {
        for (size_t i = 0; i < n; i++) {
            float t = tanhf(src[i]);
            dst[i] = -2.0f * t * (1.0f - t * t);
        }
    } else {
        memset(dst, 0, n * sizeof *dst);
    }
}

/* dst += src: a float chunk's sum into the double gradient. */
static void acc_f(double *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += (double)src[i];
}
#endif

static void RK(ws_free)(RK(floss_ws) * ws, const rp_allocator *al)
{
    rp__free(al, ws->S);
    rp__free(al, ws->qr.a);
    rp__free(al, ws->qr.work);
}

/* The fixed workspaces.  1 on success, 0 out of memory, -1 if LAPACK's
   workspace query failed. */
static int RK(ws_alloc)(RK(floss_ws) * ws, const rp_allocator *al, size_t N, size_t k, size_t n_in)
{
    const size_t Nk = N * k;
#if defined(RP_K_SINGLE)
    const size_t n_acc = N * (N > n_in ? N : n_in);
#else
    const size_t n_acc = 0;
#endif
    R *m = rp__calloc(al, 6 * Nk + k * k + k + 3 * N + rp__pad_len(n_in, N, 0) + n_acc, sizeof(R));
    if (!m)
        return 0;
    ws->qr.n = N;
    ws->qr.k = k;
    ws->qr.a = m, m += Nk;
    ws->Y = m, m += Nk;
    ws->Ybar = m, m += Nk;
    ws->Pbar = m, m += Nk;
    ws->G = m, m += Nk;
    ws->work = m, m += Nk;
    ws->Mk = m, m += k * k;
    ws->qr.tau = m, m += k;
    ws->vN1 = m, m += N;
    ws->vN2 = m, m += N;
    ws->vN3 = m, m += N;
    ws->pad = m, m += rp__pad_len(n_in, N, 0);
    ws->acc = n_acc ? m : NULL;
    /* LAPACK workspace: one query each for geqrf and orgqr (lwork = -1). */
    ws->qr.lwork = RK(rp__qr_lwork)(N, k);
    if (ws->qr.lwork == 0)
        return -1;
    ws->qr.work = rp__calloc(al, (size_t)ws->qr.lwork, sizeof(R));
    return ws->qr.work != NULL;
}

/* Grow the trajectory store to T steps: one block, so a failure leaves the
   old store in place. */
static rp_status RK(ws_reserve)(rp_floss *fl, RK(floss_ws) * ws, size_t T)
{
    if (T <= ws->T_cap)
        return RP_OK;
    const size_t N = fl->n_rec, k = fl->k, J = T / fl->cfg.t_ons;
    int ok = 1;
    size_t Nk = rp__mul(N, k, &ok);
    size_t TNk = rp__mul(T, Nk, &ok);
    size_t TN = rp__mul(T, N, &ok);
    /* Ybig/Zbig are N x (T k) with leading dimension T k, an int for BLAS */
    if (rp__mul(T, k, &ok) > (size_t)INT_MAX)
        ok = 0;
#if defined(RP_K_SINGLE)
    const size_t TX = rp__mul(T, fl->n_in, &ok);
#else
    const size_t TX = 0;
#endif
    size_t parts[13] = {TN + N,
                        TN + N,
                        TN,
                        TN,
                        TNk,
                        rp__mul(J, Nk, &ok),
                        rp__mul(J, rp__mul(k, k, &ok), &ok),
                        TNk,
                        TNk,
                        TN,
                        T,
                        rp__mul(J, k, &ok),
                        TX};
    size_t total = 0;
    for (int i = 0; i < 13; i++) {
        if (parts[i] > SIZE_MAX - total)
            ok = 0;
        total += parts[i];
    }
    R *m = ok ? rp__calloc(&fl->al, total, sizeof(R)) : NULL;
    if (!m)
        return rp__fail(fl->err, RP_ERR_NOMEM,
                        "no memory for a trajectory of T = %zu steps "
                        "(n_rec %zu, k %zu)",
                        T, N, k);
    rp__free(&fl->al, ws->S);
    R **dst[13] = {&ws->S,    &ws->FX,   &ws->UP,   &ws->D1,   &ws->P,   &ws->Qs, &ws->Rs,
                   &ws->Ybig, &ws->Zbig, &ws->Hbar, &ws->ones, &ws->Src, &ws->X};
    for (int i = 0; i < 13; i++) {
        *dst[i] = m;
        m += parts[i];
    }
    for (size_t t = 0; t < T; t++)
        ws->ones[t] = (R)1;
    ws->T_cap = T;
    return RP_OK;
}

/* Y (N x k row-major) = Q R (rp__qr_pos): Q (N x k row-major) and R (k x k
   row-major, upper) written to Q, Rm. */
static rp_status RK(fl_qr_pos)(rp_floss *fl, RK(floss_ws) * ws, const R *Y, R *Q, R *Rm)
{
    return RK(rp__qr_pos)(&ws->qr, Y, Q, Rm, 1, NULL, fl->err);
}

/* Forward pass: states, Jacobian factors, the bases P_t and every Q_j, R_j;
   lsum gets the counted logs.  *collapse_t / *collapse_i: the first step and
   direction with R_ii = 0 (collapse_t = 0 if none). */
static rp_status RK(fl_forward)(rp_floss *fl, RK(floss_ws) * ws, const rp_net *net,
                                const windows *w, const R *x, size_t *collapse_t,
                                size_t *collapse_i, int *collapse_counted)
{
    const size_t N = fl->n_rec, k = fl->k, Nk = N * k, n_in = fl->n_in, to = fl->cfg.t_ons;
    const int voltage = net->cfg.form == RP_FORM_VOLTAGE;
    const rp_activation act = net->cfg.act;
    *collapse_t = 0;
    *collapse_i = 0;
    *collapse_counted = 0;
    memset(fl->lsum, 0, k * sizeof(double));
    for (size_t i = 0; i < N; i++) /* h0 holds floats on a single net */
        ws->S[i] = (R)net->h0[i];
    if (voltage)
        RK(rp__act)(act, ws->S, ws->FX, N);
    for (size_t i = 0; i < Nk; i++) /* Q0: orthonormal in double, rounded once */
        ws->P[i] = (R)fl->Q0[i];
    rp_rng rng; /* refill directions: the same for every trial */
    rp__rng_seed(&rng, rp__seed_mix(fl->cfg.seed, RP__REFILL_TAG));
    for (size_t t = 1; t <= w->T_eff; t++) {
        R *s = ws->S + t * N, *d1 = ws->D1 + (t - 1) * N;
        const R *xt = x && n_in ? x + (t - 1) * n_in : NULL;
        memcpy(s, s - N, N * sizeof(R));
        if (voltage) {
            /* D_t uses f'(h_{t-1}); for tanh from f(h_{t-1}) at hand (the
               bits of RK(rp__act_d1) without a second tanh) */
            if (act == RP_ACT_TANH) {
                const R *fp = ws->FX + (t - 1) * N;
                for (size_t i = 0; i < N; i++)
                    d1[i] = (R)1 - fp[i] * fp[i];
            } else {
                RK(rp__act_d1)(act, s - N, d1, N);
            }
            memcpy(ws->FX + t * N, ws->FX + (t - 1) * N, N * sizeof(R));
            RK(rp__forward)(net, 1, xt, s, ws->FX + t * N, NULL, ws->pad);
        } else {
            R *u = ws->UP + (t - 1) * N;
            RK(rp__forward)(net, 1, xt, s, ws->vN1, u, ws->pad);
            RK(rp__act_d1)(act, u, d1, N); /* D_t uses f'(u_t) */
        }
        size_t bad = RK(rp__find_nonfinite)(s, N);
        if (bad < N)
            return rp__fail(fl->err, RP_ERR_NONFINITE, "state diverged at step %zu, unit %zu",
                            t - 1, bad);
        rp_status bst = RK(rp__check_bound)(net, s, 1, t - 1, fl->err);
        if (bst != RP_OK)
            return bst;
        const R *Pin = ws->P + (t - 1) * Nk;
        if (t % to != 0) {
            RK(rp__jacobian_apply)(net, d1, Pin, k, ws->P + t * Nk, ws->work);
            continue;
        }
        size_t j = t / to; /* 1-based window */
        R *Q = ws->Qs + (j - 1) * Nk, *Rm = ws->Rs + (j - 1) * k * k;
        RK(rp__jacobian_apply)(net, d1, Pin, k, ws->Y, ws->work);
        bad = RK(rp__find_nonfinite)(ws->Y, Nk);
        if (bad < Nk)
            return rp__fail(fl->err, RP_ERR_NONFINITE,
                            "tangent basis overflowed at step %zu (unit %zu, direction %zu)", t - 1,
                            bad / k, bad % k);
        rp_status st = RK(fl_qr_pos)(fl, ws, ws->Y, Q, Rm);
        if (st != RP_OK)
            return st;
        int counted = j > w->n_skip;
        /* Collapse: as rp_lyap (see the header), kept directions first and
           refilled ones last; lsum moves with its direction. */
        R *src = ws->Src + (j - 1) * k;
        size_t nc = RK(rp__tangent_refill)(N, k, ws->Y, Rm, k + 1, &rng, ws->Ybar, fl->src);
        src[0] = (R)k;
        if (nc) {
            st = RK(fl_qr_pos)(fl, ws, ws->Ybar, Q, Rm);
            if (st != RP_OK)
                return st;
            for (size_t i = 0; i < k; i++) {
                src[i] = i < k - nc ? (R)fl->src[i] : -(R)fl->src[i] - (R)1;
                fl->cvec[i] = fl->lsum[fl->src[i]];
            }
            memcpy(fl->lsum, fl->cvec, k * sizeof(double));
        }
        for (size_t i = 0; i < k; i++) {
            double r = i < k - nc ? (double)Rm[i * k + i] : 0.0;
            if (r == 0.0 && *collapse_t == 0) {
                *collapse_t = t;
                *collapse_i = i;
                *collapse_counted = counted;
            } else if (r == 0.0 && counted && !*collapse_counted) {
                *collapse_t = t;
                *collapse_i = i;
                *collapse_counted = 1;
            }
            if (counted)
                fl->lsum[i] +=
                    log(r); /* log 0 = -inf: the collapsed direction; in double (floss.c) */
        }
        if (t < w->T_eff)
            memcpy(ws->P + t * Nk, Q, Nk * sizeof(R));
    }
    return RP_OK;
}

/* ---- the reverse pass (MODEL.md §7.1, §7.2) -------------------------------- */

/* Ybar = (Qbar + Q copyltu(M)) R^{-T}, M = R Rbar^T - Qbar^T Q, the adjoint of
   A = Q R (thin, N >= k) for Rbar = diag(rbar) (only the logs of diag(R)
   enter F).  Qbar NULL means Qbar = 0 (the local rule: Q frozen downstream),
   which leaves Q diag(R_ii rbar_i) R^{-T} = Q diag(c) R^{-T} (§7.2's M_t). */
static void RK(qr_backward)(rp_floss *fl, RK(floss_ws) * ws, const R *Q, const R *Rm, const R *rbar,
                            const R *Qbar, R *Ybar)
{
    const size_t N = fl->n_rec, k = fl->k;
    R *M = ws->Mk;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            M[i * k + j] = Rm[i * k + j] * rbar[j];
    if (Qbar) {
        RK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)k, (int)N, (R)-1, Qbar,
                (int)k, Q, (int)k, (R)1, M, (int)k);
        memcpy(Ybar, Qbar, N * k * sizeof(R));
    }
    for (size_t i = 0; i < k; i++) /* copyltu: the lower triangle mirrored */
        for (size_t j = i + 1; j < k; j++)
            M[i * k + j] = M[j * k + i];
    RK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)k, (R)1, Q, (int)k, M,
            (int)k, Qbar ? (R)1 : (R)0, Ybar, (int)k);
    /* Ybar R^T = X  =>  Ybar = X R^{-T} */
    RK_TRSM(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, (int)N, (int)k, (R)1,
            Rm, (int)k, Ybar, (int)k);
}

static rp_status RK(fl_reverse)(rp_floss *fl, RK(floss_ws) * ws, const rp_net *net,
                                const windows *w, const R *x)
{
    const size_t N = fl->n_rec, k = fl->k, Nk = N * k, n_in = fl->n_in, to = fl->cfg.t_ons;
    const size_t T = w->T_eff, ldb = T * k;
    const int voltage = net->cfg.form == RP_FORM_VOLTAGE, exact = fl->cfg.mode == RP_FLOSS_EXACT;
    const rp_activation act = net->cfg.act;
    const R a = (R)net->cfg.alpha, g = (R)1 - a;
    const R *W = RK_W(net);
    R *Ybar = ws->Ybar, *Pbar = ws->Pbar, *G = ws->G;
    R *sbar = ws->vN1, *d2 = ws->vN2, *tmp = ws->vN3;
    R *rbar = ws->qr.tau; /* k; LAPACK is done with tau by now */
    /* The local rule never looks at uncounted windows: their steps carry no
       adjoint.  The exact rule runs through them (Q_j feeds later windows). */
    const size_t t_lo = exact ? 1 : w->n_skip * to + 1;
    memset(sbar, 0, N * sizeof(R));
    memset(Pbar, 0, Nk * sizeof(R)); /* adjoint of P_{T+1}: nothing reads it */
    for (size_t t = T; t >= t_lo; t--) {
        const R *Pin = ws->P + (t - 1) * Nk, *d1 = ws->D1 + (t - 1) * N;
        R *yb = ws->Ybig + (t - 1) * k, *zb = ws->Zbig + (t - 1) * k;
        if (t % to == 0) {
            size_t j = t / to;
            const R *Q = ws->Qs + (j - 1) * Nk, *Rm = ws->Rs + (j - 1) * k * k;
            int counted = j > w->n_skip;
            for (size_t i = 0; i < k; i++)
                rbar[i] = counted ? (R)(fl->cvec[i] / (double)Rm[i * k + i]) : (R)0;
            const R *src = ws->Src + (j - 1) * k;
            if (src[0] == (R)k) {
                RK(qr_backward)(fl, ws, Q, Rm, rbar, exact && t < T ? Pbar : NULL, Ybar);
            } else {
                /* A refill (forward): Q R = qr(Y2), Y2 = the kept columns of Y
                   reordered, then constants; only transient windows get here
                   (a counted collapse is refused). */
                RK(qr_backward)(fl, ws, Q, Rm, rbar, exact && t < T ? Pbar : NULL, ws->work);
                for (size_t s = 0; s < k; s++) {
                    const int kept = src[s] >= (R)0;
                    const size_t c = kept ? (size_t)src[s] : (size_t)(-src[s]) - 1;
                    for (size_t i = 0; i < N; i++)
                        Ybar[i * k + c] = kept ? ws->work[i * k + s] : (R)0;
                }
            }
        } else {
            memcpy(Ybar, Pbar, Nk * sizeof(R));
        }
        /* P_t's adjoint is needed unless P_t is frozen: Q0 (t = 1), or, for
           the local rule, the basis at a window's start. */
        const int need_pbar = exact ? t > 1 : (t - 1) % to != 0;
        if (voltage) {
            /* Y_t = a P + (1-a) W diag(f'(h_{t-1})) P */
            for (size_t i = 0; i < N; i++)
                for (size_t l = 0; l < k; l++) {
                    yb[i * ldb + l] = Ybar[i * k + l];
                    zb[i * ldb + l] = d1[i] * Pin[i * k + l];
                }
            if (need_pbar || (exact && t > 1))
                RK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, (R)1, W,
                        (int)N, Ybar, (int)k, (R)0, G, (int)k); /* G = W^T Ybar */
            if (need_pbar)
                for (size_t i = 0; i < N; i++)
                    for (size_t l = 0; l < k; l++)
                        Pbar[i * k + l] = a * Ybar[i * k + l] + g * d1[i] * G[i * k + l];
            if (exact) {
                /* h_t's adjoint is complete: keep it for the stacked GEMMs. */
                memcpy(ws->Hbar + (t - 1) * N, sbar, N * sizeof(R));
                if (t > 1) {
                    /* h_{t-1} <- a h_t-bar + (1-a) f'(h_{t-1}) (W^T h_t-bar)
                                  + (1-a) f''(h_{t-1}) rowsum(G .* P_t)   (D_t depends on h_{t-1}) */
                    RK_GEMV(CblasRowMajor, CblasTrans, (int)N, (int)N, (R)1, W, (int)N, sbar, 1,
                            (R)0, tmp, 1);
                    RK_ACT_D2(act, ws->S + (t - 1) * N, d2, N);
                    for (size_t i = 0; i < N; i++) {
                        R r = (R)0;
                        for (size_t l = 0; l < k; l++)
                            r += G[i * k + l] * Pin[i * k + l];
                        sbar[i] = a * sbar[i] + g * d1[i] * tmp[i] + g * d2[i] * r;
                    }
                }
            }
        } else {
            /* Y_t = a P + (1-a) diag(f'(u_t)) W P,  u_t = W r_{t-1} + U x_t + b */
            const R *u = ws->UP + (t - 1) * N;
            RK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, (R)1, W,
                    (int)N, Pin, (int)k, (R)0, G, (int)k); /* G = W P */
            RK_ACT_D2(act, u, d2, N);
            R *ub = ws->Hbar + (t - 1) * N;
            for (size_t i = 0; i < N; i++) {
                R r = (R)0;
                for (size_t l = 0; l < k; l++) {
                    r += Ybar[i * k + l] * G[i * k + l];
                    yb[i * ldb + l] = d1[i] * Ybar[i * k + l];
                    zb[i * ldb + l] = Pin[i * k + l];
                }
                /* u_t-bar: through D_t (f'') and, exact only, through r_t */
                ub[i] = g * d2[i] * r + (exact ? g * d1[i] * sbar[i] : (R)0);
            }
            if (need_pbar) {
                /* Pbar = a Ybar + (1-a) W^T diag(f') Ybar; diag(f') Ybar is the
                   block just written to Ybig (leading dimension T k). */
                for (size_t i = 0; i < Nk; i++)
                    Pbar[i] = a * Ybar[i];
                RK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, g, W,
                        (int)N, yb, (int)ldb, (R)1, Pbar, (int)k);
            }
            if (exact && t > 1) {
                /* r_{t-1}-bar = a r_t-bar + W^T u_t-bar */
                RK_GEMV(CblasRowMajor, CblasTrans, (int)N, (int)N, (R)1, W, (int)N, ub, 1, a, sbar,
                        1);
            }
        }
        if (t == 1)
            break;
    }
    /* Accumulate over the stacked steps t_lo..T: one GEMM each in double;
       in float one GEMM per chunk of RP__FLOSS_CHUNK steps, each chunk's
       float sum added into the double gradient (floss.c says why). */
    const size_t nt = T - t_lo + 1, c0 = t_lo - 1;
    double *gW = fl->scratch + fl->lay.off[RP_PARAM_W];
    double *gU = fl->scratch + fl->lay.off[RP_PARAM_U];
    double *gb = fl->scratch + fl->lay.off[RP_PARAM_B];
    const R sc = voltage ? g : (R)1;
    const R *pre = voltage ? ws->FX : ws->S;     /* row t-1: f(h_{t-1}) or r_{t-1} */
    const int state_path = !(voltage && !exact); /* §7.2 voltage: states frozen, only W moves D_t */
#if defined(RP_K_SINGLE)
    float *acc = ws->acc;
    for (size_t c = 0; c < nt; c += RP__FLOSS_CHUNK) {
        const size_t m = nt - c < RP__FLOSS_CHUNK ? nt - c : RP__FLOSS_CHUNK, t0 = c0 + c;
        /* Jacobian path: sum_t (1-a) [Ybar_t or diag(f') Ybar_t] [diag(f') P_t or P_t]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)(m * k), g,
                    ws->Ybig + t0 * k, (int)ldb, ws->Zbig + t0 * k, (int)ldb, 0.0f, acc, (int)N);
        if (state_path)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)N, (int)m, sc,
                        ws->Hbar + t0 * N, (int)N, pre + t0 * N, (int)N, 1.0f, acc, (int)N);
        acc_f(gW, acc, N * N);
        if (!state_path)
            continue;
        if (x && n_in) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)n_in, (int)m, sc,
                        ws->Hbar + t0 * N, (int)N, x + t0 * n_in, (int)n_in, 0.0f, acc, (int)n_in);
            acc_f(gU, acc, N * n_in);
        }
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)m, (int)N, sc, ws->Hbar + t0 * N, (int)N,
                    ws->ones, 1, 0.0f, acc, 1);
        acc_f(gb, acc, N);
    }
#else
    /* Jacobian path: sum_t (1-a) [Ybar_t or diag(f') Ybar_t] [diag(f') P_t or P_t]^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)(nt * k), g,
                ws->Ybig + c0 * k, (int)ldb, ws->Zbig + c0 * k, (int)ldb, 1.0, gW, (int)N);
    if (!state_path)
        return RP_OK;
    /* State path: voltage: (1-a) sum_t h_t-bar f(h_{t-1})^T, U: x_t, b: 1;
       rate: sum_t u_t-bar r_{t-1}^T, x_t, 1. */
    const double *hb = ws->Hbar + c0 * N;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)N, (int)nt, sc, hb, (int)N,
                pre + c0 * N, (int)N, 1.0, gW, (int)N);
    if (x && n_in)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)n_in, (int)nt, sc, hb,
                    (int)N, x + c0 * n_in, (int)n_in, 1.0, gU, (int)n_in);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)nt, (int)N, sc, hb, (int)N, ws->ones, 1, 1.0, gb,
                1);
#endif
    return RP_OK;
}

#else
#error "define RP_FLOSS_TYPES or RP_FLOSS_CODE before including floss_kernels.h"
#endif

#undef R
#undef RK
#undef RQ
#undef RK_GEMM
#undef RK_GEMV
#undef RK_TRSM
#undef RK_ACT_D2
#undef RK_W
