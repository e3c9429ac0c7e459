/* Thin QR with a positive diagonal (MODEL.md §6) and the refill of collapsed
   tangent directions: shared by init.c (orthogonal draws), lyap.c and floss.c.
   qr_kernels.h holds the QR and the refill, compiled here twice: double (the
   names of qr.h) and float (the _f names, single-precision nets). */
#include "qr.h"

#include <float.h>
#include <math.h>

#define RP_K_DOUBLE
#include "qr_kernels.h"
#undef RP_K_DOUBLE
#define RP_K_SINGLE
#include "qr_kernels.h"
#undef RP_K_SINGLE

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
