/* The thin QR with a positive diagonal and the refill of collapsed tangent
   directions (MODEL.md §6), one source compiled twice (as net_kernels.h):
   qr.c includes it with RP_K_DOUBLE (R = double, dgeqrf/dorgqr/dtrcon, the
   names rp__qr_lwork, rp__qr_pos, rp__tangent_refill: the code of 1.1, bit
   for bit) and again with RP_K_SINGLE (R = float, sgeqrf/sorgqr/strcon, the
   names with an _f suffix, on rp__qr_f workspaces) for the Lyapunov
   estimator and flossing of RP_PRECISION_SINGLE nets.  Every constant is
   written (R)c, which in the double build is the literal it was.

   The includer defines exactly one of RP_K_DOUBLE / RP_K_SINGLE and has
   included qr.h, float.h and math.h. */
#if defined(RP_K_DOUBLE)
#define R double
#define RK(name) name
#define RQ rp__qr
#define RK_GEQRF LAPACKE_dgeqrf_work
#define RK_ORGQR LAPACKE_dorgqr_work
#define RK_TRCON LAPACKE_dtrcon_work
#define RK_EPS DBL_EPSILON
#define RK_SQRT sqrt
#define RK_LNAME "d"
#elif defined(RP_K_SINGLE)
#define R float
#define RK(name) name##_f
#define RQ rp__qr_f
#define RK_GEQRF LAPACKE_sgeqrf_work
#define RK_ORGQR LAPACKE_sorgqr_work
#define RK_TRCON LAPACKE_strcon_work
#define RK_EPS FLT_EPSILON
#define RK_SQRT sqrtf
#define RK_LNAME "s"
#else
#error "define RP_K_DOUBLE or RP_K_SINGLE before including qr_kernels.h"
#endif

lapack_int RK(rp__qr_lwork)(size_t n, size_t k)
{
    R q1 = (R)0, q2 = (R)0, dummy = (R)0;
    lapack_int i1 = RK_GEQRF(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, &dummy, (lapack_int)n,
                             &dummy, &q1, -1);
    lapack_int i2 = RK_ORGQR(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, (lapack_int)k, &dummy,
                             (lapack_int)n, &dummy, &q2, -1);
    if (i1 != 0 || i2 != 0)
        return 0;
    double q = q1 > q2 ? (double)q1 : (double)q2;
    return (lapack_int)(q > (double)k ? q : (double)k);
}

rp_status RK(rp__qr_pos)(const RQ *w, const R *Y, R *Q, R *Rm, int full, double *cond, char *err)
{
    const size_t N = w->n, k = w->k;
    R *A = w->a;
    /* Row-major in, column-major for LAPACKE (its row-major path would
       allocate a transposed copy). */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < k; j++)
            A[j * N + i] = Y[i * k + j];
    lapack_int info = RK_GEQRF(LAPACK_COL_MAJOR, (lapack_int)N, (lapack_int)k, A, (lapack_int)N,
                               w->tau, w->work, w->lwork);
    if (info != 0)
        return rp__fail(err, RP_ERR_LAPACK, RK_LNAME "geqrf returned info = %d", (int)info);
    if (full) {
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                Rm[i * k + j] = j >= i ? A[i + j * N] : (R)0;
    } else {
        for (size_t j = 0; j < k; j++)
            Rm[j] = A[j * N + j];
    }
    if (cond) {
        R rcond = (R)0;
        info = RK_TRCON(LAPACK_COL_MAJOR, '1', 'U', 'N', (lapack_int)k, A, (lapack_int)N, &rcond,
                        w->tcwork, w->tciwork);
        if (info != 0)
            return rp__fail(err, RP_ERR_LAPACK, RK_LNAME "trcon returned info = %d", (int)info);
        *cond = rcond > (R)0 ? 1.0 / (double)rcond : INFINITY;
    }
    info = RK_ORGQR(LAPACK_COL_MAJOR, (lapack_int)N, (lapack_int)k, (lapack_int)k, A, (lapack_int)N,
                    w->tau, w->work, w->lwork);
    if (info != 0)
        return rp__fail(err, RP_ERR_LAPACK, RK_LNAME "orgqr returned info = %d", (int)info);
    /* (Q S)(S R) with S = diag(sign R_jj) gives diag(R) >= 0; a zero pivot keeps sign +1. */
    for (size_t j = 0; j < k; j++) {
        R *rj = full ? Rm + j * k + j : Rm + j;
        if (*rj < (R)0) {
            for (size_t c = 0; c < (full ? k - j : 1); c++)
                rj[c] = -rj[c];
            for (size_t i = 0; i < N; i++)
                A[j * N + i] = -A[j * N + i];
        }
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < k; j++)
            Q[i * k + j] = A[j * N + i];
    return RP_OK;
}

size_t RK(rp__tangent_refill)(size_t n, size_t k, const R *Y, const R *rdiag, size_t rs,
                              rp_rng *rng, R *Y2, size_t *src)
{
    /* Householder QR is columnwise backward stable: R_jj carries an absolute
       error of order n eps |Y_j|, so an R_jj below RP__COLLAPSE_TOL n eps |Y_j|
       is rounding, not growth (the column lies in the span of the ones before
       it to working precision; eps of the working precision R).  Y2's first
       row doubles as the flag array. */
    size_t g = 0, c = 0;
    const R tol = (R)RP__COLLAPSE_TOL * (R)n * RK_EPS;
    for (size_t j = 0; j < k; j++) {
        R nn = (R)0;
        for (size_t i = 0; i < n; i++)
            nn += Y[i * k + j] * Y[i * k + j];
        Y2[j] = rdiag[j * rs] > tol * RK_SQRT(nn); /* 0 also for |Y_j| = 0 = R_jj */
        g += Y2[j] != (R)0;
    }
    if (g == k)
        return 0;
    for (size_t j = 0; j < k; j++)
        if (Y2[j] != (R)0)
            src[c++] = j;
    for (size_t j = 0; j < k; j++)
        if (Y2[j] == (R)0)
            src[c++] = j;
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < g; s++)
            Y2[i * k + s] = Y[i * k + src[s]];
    /* Column by column, so the draws do not depend on n's role in the loop. */
    for (size_t s = g; s < k; s++)
        for (size_t i = 0; i < n; i++)
            Y2[i * k + s] = (R)rp__rng_normal(rng);
    return k - g;
}

#undef R
#undef RK
#undef RQ
#undef RK_GEQRF
#undef RK_ORGQR
#undef RK_TRCON
#undef RK_EPS
#undef RK_SQRT
#undef RK_LNAME
