/* Thin QR with a positive diagonal (qr.c): the one implementation behind
   rp_init's orthogonal draw, the Lyapunov estimator's re-orthonormalization
   and flossing's (MODEL.md §6), and the set_basis check they share.  Private;
   separate from internal.h because it needs LAPACKE's integer type. */
#ifndef RP_QR_H
#define RP_QR_H

#include "internal.h"

#include <lapacke.h>

/* The caller's workspaces for QRs of n x k blocks (n >= k), sized at create. */
typedef struct rp__qr {
    size_t n, k;
    double *a;           /* n*k: the column-major copy LAPACK factors in place */
    double *tau;         /* k */
    double *work;        /* lwork doubles */
    lapack_int lwork;    /* from rp__qr_lwork */
    double *tcwork;      /* 3k doubles for dtrcon (only when a condition number is asked for) */
    lapack_int *tciwork; /* k, likewise */
} rp__qr;

/* The same in float, for the _f instances below (single-precision nets):
   lwork floats, tcwork 3k floats. */
typedef struct rp__qr_f {
    size_t n, k;
    float *a, *tau, *work;
    lapack_int lwork;
    float *tcwork;
    lapack_int *tciwork;
} rp__qr_f;

/* Doubles of LAPACK workspace that dgeqrf and dorgqr of an n x k block need
   (one query each, lwork = -1), at least k; 0 if a query fails. */
lapack_int rp__qr_lwork(size_t n, size_t k);

/* Y = Q R with diag(R) >= 0 for the n x k row-major block Y: Q (n x k
   row-major, may alias Y), the signs of R's diagonal moved into Q's columns
   (Q S, S R with S = diag(sign R_jj); a zero pivot keeps sign +1, and its
   column of Q is the unit vector Householder completes Q with, so Q is always
   orthonormal).  full: R is k x k row-major, upper, zeros below; otherwise R
   receives the k diagonal entries R_jj only.  If cond is not NULL it receives
   kappa_1(R) (dtrcon; +inf when R is singular).  Allocates nothing;
   RP_ERR_LAPACK with a message in err if LAPACK fails. */
rp_status rp__qr_pos(const rp__qr *w, const double *Y, double *Q, double *R, int full, double *cond,
                     char *err);

/* The seeded initial basis of rp_lyap and rp_floss: into Q, the Q factor
   of an n x k matrix of N(0,1) draws from seed (full rank with probability
   1), written to Y (n*k scratch); R: k doubles of scratch. */
rp_status rp__qr_seeded(const rp__qr *w, uint64_t seed, double *Y, double *Q, double *R, char *err);

/* The check of rp_lyap_set_basis and rp_floss_set_basis: Q0 (len doubles,
   n x k row-major) NULL (RP_ERR_INVALID_ARG), of the wrong length
   (RP_ERR_DIM_MISMATCH), non-finite (RP_ERR_NONFINITE), or of numerical rank
   < k, some R_jj <= 1e-12 max_i R_ii (RP_ERR_INVALID_ARG), each with a
   message in err.  On RP_OK, Q (n x k) holds Q0 orthonormalized by
   rp__qr_pos; R: k doubles of scratch. */
rp_status rp__qr_basis(const rp__qr *w, const double *Q0, size_t len, double *Q, double *R,
                       char *err);

/* The float instances (qr_kernels.h compiled twice by qr.c): the same
   contracts in float on rp__qr_f workspaces (sgeqrf, sorgqr, strcon; the
   refill's collapse test with FLT_EPSILON).  The condition number is
   returned in double. */
lapack_int rp__qr_lwork_f(size_t n, size_t k);
rp_status rp__qr_pos_f(const rp__qr_f *w, const float *Y, float *Q, float *R, int full,
                       double *cond, char *err);
size_t rp__tangent_refill_f(size_t n, size_t k, const float *Y, const float *rdiag, size_t rs,
                            rp_rng *rng, float *Y2, size_t *src);

#endif /* RP_QR_H */
