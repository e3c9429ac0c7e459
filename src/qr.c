/* Thin QR with a positive diagonal (MODEL.md §6) and the refill of collapsed
   tangent directions: shared by init.c (orthogonal draws), lyap.c and floss.c. */
#include "qr.h"

#include <float.h>
#include <math.h>

lapack_int rp__qr_lwork(size_t n, size_t k)
{
    double q1 = 0.0, q2 = 0.0, dummy = 0.0;
    lapack_int i1 = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, &dummy,
                                        (lapack_int)n, &dummy, &q1, -1);
    lapack_int i2 = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k,
                                        (lapack_int)k, &dummy, (lapack_int)n, &dummy, &q2, -1);
    if (i1 != 0 || i2 != 0)
        return 0;
    double q = q1 > q2 ? q1 : q2;
    return (lapack_int)(q > (double)k ? q : (double)k);
}

rp_status rp__qr_pos(const rp__qr *w, const double *Y, double *Q, double *R, int full, double *cond,
                     char *err)
{
    const size_t N = w->n, k = w->k;
    double *A = w->a;
    /* Row-major in, column-major for LAPACKE (its row-major path would
       allocate a transposed copy). */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < k; j++)
            A[j * N + i] = Y[i * k + j];
    lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)N, (lapack_int)k, A,
                                          (lapack_int)N, w->tau, w->work, w->lwork);
    if (info != 0)
        return rp__fail(err, RP_ERR_LAPACK, "dgeqrf returned info = %d", (int)info);
    if (full) {
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                R[i * k + j] = j >= i ? A[i + j * N] : 0.0;
    } else {
        for (size_t j = 0; j < k; j++)
            R[j] = A[j * N + j];
    }
    if (cond) {
        double rcond = 0.0;
        info = LAPACKE_dtrcon_work(LAPACK_COL_MAJOR, '1', 'U', 'N', (lapack_int)k, A, (lapack_int)N,
                                   &rcond, w->tcwork, w->tciwork);
        if (info != 0)
            return rp__fail(err, RP_ERR_LAPACK, "dtrcon returned info = %d", (int)info);
        *cond = rcond > 0.0 ? 1.0 / rcond : INFINITY;
    }
    info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, (lapack_int)N, (lapack_int)k, (lapack_int)k, A,
                               (lapack_int)N, w->tau, w->work, w->lwork);
    if (info != 0)
        return rp__fail(err, RP_ERR_LAPACK, "dorgqr returned info = %d", (int)info);
    /* (Q S)(S R) with S = diag(sign R_jj) gives diag(R) >= 0; a zero pivot keeps sign +1. */
    for (size_t j = 0; j < k; j++) {
        double *rj = full ? R + j * k + j : R + j;
        if (*rj < 0.0) {
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

rp_status rp__qr_seeded(const rp__qr *w, uint64_t seed, double *Y, double *Q, double *R, char *err)
{
    rp_rng rng;
    rp__rng_seed(&rng, seed);
    for (size_t i = 0; i < w->n * w->k; i++)
        Y[i] = rp__rng_normal(&rng);
    return rp__qr_pos(w, Y, Q, R, 0, NULL, err);
}

rp_status rp__qr_basis(const rp__qr *w, const double *Q0, size_t len, double *Q, double *R,
                       char *err)
{
    const size_t N = w->n, k = w->k;
    if (!Q0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "Q0 is NULL");
    if (len != N * k)
        return rp__fail(err, RP_ERR_DIM_MISMATCH, "Q0 has %zu doubles, expected n_rec*k = %zu", len,
                        N * k);
    size_t bad = rp__find_nonfinite(Q0, len);
    if (bad < len)
        return rp__fail(err, RP_ERR_NONFINITE, "Q0[%zu] is %g", bad, Q0[bad]);
    rp_status st = rp__qr_pos(w, Q0, Q, R, 0, NULL, err);
    if (st != RP_OK)
        return st;
    double rmax = 0.0;
    for (size_t j = 0; j < k; j++)
        rmax = R[j] > rmax ? R[j] : rmax;
    for (size_t j = 0; j < k; j++)
        if (!(R[j] > 1e-12 * rmax))
            return rp__fail(
                err, RP_ERR_INVALID_ARG,
                "Q0 has rank < k = %zu: column %zu is (numerically) a combination of the "
                "columns before it",
                k, j);
    return RP_OK;
}

size_t rp__tangent_refill(size_t n, size_t k, const double *Y, const double *rdiag, size_t rs,
                          rp_rng *rng, double *Y2, size_t *src)
{
    /* Householder QR is columnwise backward stable: R_jj carries an absolute
       error of order n eps |Y_j|, so an R_jj below RP__COLLAPSE_TOL n eps |Y_j|
       is rounding, not growth (the column lies in the span of the ones before
       it to working precision).  Y2's first row doubles as the flag array. */
    size_t g = 0, c = 0;
    const double tol = RP__COLLAPSE_TOL * (double)n * DBL_EPSILON;
    for (size_t j = 0; j < k; j++) {
        double nn = 0.0;
        for (size_t i = 0; i < n; i++)
            nn += Y[i * k + j] * Y[i * k + j];
        Y2[j] = rdiag[j * rs] > tol * sqrt(nn); /* 0 also for |Y_j| = 0 = R_jj */
        g += Y2[j] != 0.0;
    }
    if (g == k)
        return 0;
    for (size_t j = 0; j < k; j++)
        if (Y2[j] != 0.0)
            src[c++] = j;
    for (size_t j = 0; j < k; j++)
        if (Y2[j] == 0.0)
            src[c++] = j;
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < g; s++)
            Y2[i * k + s] = Y[i * k + src[s]];
    /* Column by column, so the draws do not depend on n's role in the loop. */
    for (size_t s = g; s < k; s++)
        for (size_t i = 0; i < n; i++)
            Y2[i * k + s] = rp__rng_normal(rng);
    return k - g;
}
