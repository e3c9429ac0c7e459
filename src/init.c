/* Initializers of MODEL.md §2: a weight matrix drawn from a seed.  Every draw
   is computed into scratch and copied into the net only when it succeeded, so
   a failure leaves the net untouched. */
#include "qr.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rp_init {
    rp_init_kind kind;
    double gain;
    double p;        /* sparse: connection probability */
    double frac_e;   /* Dale: excitatory fraction of the columns */
    size_t rank;     /* low rank: R */
    double strength; /* low rank: m */
    double rho;      /* target spectral radius, 0 = off */
    int zero_diag;
    char err[RP_ERRLEN];
    rp_allocator al;
};

/* Independent streams per parameter and purpose: the same seed applied to W
   and to V gives unrelated matrices, and the low-rank factors do not shift
   the Gaussian part's draws. */
enum { STREAM_MAIN = 1, STREAM_FACTORS = 2 };

static void stream(rp_rng *r, uint64_t seed, rp_param which, int purpose)
{
    rp__rng_seed(r, rp__seed_mix(seed, (uint64_t)which * 16u + (uint64_t)purpose));
}

rp_status rp_init_create(rp_init **out, rp_init_kind kind, char *msg, size_t msglen)
{
    return rp_init_create_alloc(out, kind, NULL, msg, msglen);
}

rp_status rp_init_create_alloc(rp_init **out, rp_init_kind kind, const rp_allocator *allocator,
                               char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp__copy_msg(msg, msglen, "");
    if (!out)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    rp_allocator al;
    if ((unsigned)kind > (unsigned)RP_INIT_ZEROS)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "kind %d is not an rp_init_kind",
                            (int)kind);
    if (rp__allocator_copy(&al, allocator, err) != RP_OK) {
        rp__copy_msg(msg, msglen, err);
        return RP_ERR_INVALID_ARG;
    }
    rp_init *in = rp__calloc(&al, 1, sizeof *in);
    if (!in)
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM, "out of memory for the initializer");
    in->al = al;
    in->kind = kind;
    in->gain = 1.0;
    in->p = 0.1;
    in->frac_e = 0.8;
    in->rank = 1;
    in->strength = 1.0;
    in->rho = 0.0;
    in->zero_diag = 0;
    *out = in;
    return RP_OK;
}

void rp_init_free(rp_init *init)
{
    if (init)
        rp__free(&init->al, init);
}

const char *rp_init_last_error(const rp_init *init) { return init ? init->err : "init is NULL"; }

rp_status rp_init_set_gain(rp_init *init, double g)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    if (!(isfinite(g) && g >= 0.0))
        return rp__fail(init->err, RP_ERR_INVALID_ARG, "gain is %g, expected a finite value >= 0",
                        g);
    init->gain = g;
    return RP_OK;
}

rp_status rp_init_set_sparsity(rp_init *init, double p)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    if (!(p > 0.0 && p <= 1.0))
        return rp__fail(init->err, RP_ERR_INVALID_ARG, "p is %g, expected 0 < p <= 1", p);
    init->p = p;
    return RP_OK;
}

rp_status rp_init_set_dale_fraction(rp_init *init, double frac_e)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    if (!(frac_e > 0.0 && frac_e < 1.0))
        return rp__fail(init->err, RP_ERR_INVALID_ARG, "frac_e is %g, expected 0 < frac_e < 1",
                        frac_e);
    init->frac_e = frac_e;
    return RP_OK;
}

rp_status rp_init_set_rank(rp_init *init, size_t rank, double strength)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    if (rank == 0)
        return rp__fail(init->err, RP_ERR_INVALID_ARG, "rank is 0, expected >= 1");
    if (!isfinite(strength))
        return rp__fail(init->err, RP_ERR_INVALID_ARG, "strength is %g, expected a finite value",
                        strength);
    init->rank = rank;
    init->strength = strength;
    return RP_OK;
}

rp_status rp_init_set_spectral_radius(rp_init *init, double rho)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    if (!(isfinite(rho) && rho >= 0.0))
        return rp__fail(init->err, RP_ERR_INVALID_ARG,
                        "rho is %g, expected a finite value > 0 (or 0 to turn it off)", rho);
    init->rho = rho;
    return RP_OK;
}

rp_status rp_init_set_zero_diagonal(rp_init *init, int on)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    init->zero_diag = on != 0;
    return RP_OK;
}

/* ---- the draws (into a, rows x cols, row-major) ------------------------- */

static void draw_gaussian(double *a, size_t n, double sd, rp_rng *r)
{
    for (size_t i = 0; i < n; i++)
        a[i] = sd * rp__rng_normal(r);
}

/* LAPACK's optimal workspaces (lwork = -1 queries), as LAPACKE's allocating
   wrappers size them, so that the _work calls below take their memory from
   the initializer's allocator and give the wrappers' results bit for bit:
   dgeev (no vectors) of n x n here, the QR's in rp__qr_lwork. */
static rp_status lwork_ev(const rp_init *in, size_t n, lapack_int *lw)
{
    double q = 0.0, dummy = 0.0;
    lapack_int info =
        LAPACKE_dgeev_work(LAPACK_COL_MAJOR, 'N', 'N', (lapack_int)n, &dummy, (lapack_int)n, &dummy,
                           &dummy, &dummy, 1, &dummy, 1, &q, -1);
    if (info != 0)
        return rp__fail((char *)in->err, RP_ERR_LAPACK, "dgeev workspace query returned %d",
                        (int)info);
    *lw = (lapack_int)q > 1 ? (lapack_int)q : 1;
    return RP_OK;
}

/* Row-major m x n src into column-major dst (what LAPACKE's row-major path does). */
static void to_col_major(const double *src, size_t m, size_t n, double *dst)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            dst[j * m + i] = src[i * n + j];
}

/* g Q with Q semi-orthogonal: orthonormal columns when rows >= cols, else
   orthonormal rows.  QR of a Gaussian m x k matrix (m >= k) gives Q (m x k);
   multiplying column j by sign(R_jj) makes Q Haar-distributed (Mezzadri 2007).
   work: 2*m*k + k + lw doubles. */
static rp_status draw_orthogonal(const rp_init *in, double *a, size_t rows, size_t cols, rp_rng *r,
                                 double *work, lapack_int lw)
{
    size_t m = rows >= cols ? rows : cols, k = rows >= cols ? cols : rows;
    double *q = work, *qc = q + m * k, *tau = qc + m * k, *lwork = tau + k;
    draw_gaussian(q, m * k, 1.0, r);
    const rp__qr w = {m, k, qc, tau, lwork, lw, NULL, NULL};
    /* a is free until the end: hold diag R there */
    rp_status st = rp__qr_pos(&w, q, q, a, 0, NULL, (char *)in->err);
    if (st != RP_OK)
        return st;
    if (rows >= cols) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < k; j++)
                a[i * cols + j] = in->gain * q[i * k + j];
    } else { /* a = g (Q S)^T */
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < m; j++)
                a[i * cols + j] = in->gain * q[j * k + i];
    }
    return RP_OK;
}

/* Dale's law (MODEL.md §2).  Columns 0..nE-1 are excitatory, the rest
   inhibitory.  Each entry's magnitude is half-normal |z|; row i's inhibitory
   magnitudes are multiplied by S_E(i)/S_I(i) (the sums of the row's E and I
   magnitudes), so every row sums to zero exactly (up to rounding) and, the
   factor being positive, no sign changes.  Then one positive factor for the
   whole matrix makes the mean square — the variance, the row means being
   zero — exactly g^2/cols.  With the zero diagonal the diagonal is left out
   of the draw and of the balance, so rows stay zero-sum. */
static void draw_dale(const rp_init *in, double *a, size_t rows, size_t cols, size_t nE, rp_rng *r)
{
    double ss = 0.0;
    for (size_t i = 0; i < rows; i++) {
        double *row = a + i * cols, se = 0.0, si = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double v = fabs(rp__rng_normal(r));
            if (in->zero_diag && i == j)
                v = 0.0;
            row[j] = v;
            if (j < nE)
                se += v;
            else
                si += v;
        }
        double f = si > 0.0 ? se / si : 0.0;
        for (size_t j = nE; j < cols; j++)
            row[j] *= -f;
        for (size_t j = 0; j < cols; j++)
            ss += row[j] * row[j];
    }
    double target = in->gain * in->gain / (double)cols * (double)(rows * cols);
    double s = ss > 0.0 ? sqrt(target / ss) : 0.0;
    for (size_t i = 0; i < rows * cols; i++)
        a[i] *= s;
}

/* Rescale a square n x n matrix so that max |eig| = rho.  work: n*n + 2n + lw. */
static rp_status rescale_radius(const rp_init *in, double *a, size_t n, double *work, lapack_int lw)
{
    double *c = work, *wr = work + n * n, *wi = wr + n, *lwork = wi + n;
    to_col_major(a, n, n, c);
    double none = 0.0; /* no eigenvectors: LAPACK does not touch vl, vr */
    lapack_int info = LAPACKE_dgeev_work(LAPACK_COL_MAJOR, 'N', 'N', (lapack_int)n, c,
                                         (lapack_int)n, wr, wi, &none, 1, &none, 1, lwork, lw);
    if (info != 0)
        return rp__fail((char *)in->err, RP_ERR_LAPACK, "LAPACKE_dgeev returned %d", (int)info);
    double rad = 0.0;
    for (size_t i = 0; i < n; i++) {
        double m = hypot(wr[i], wi[i]);
        rad = m > rad ? m : rad;
    }
    if (!(rad > DBL_MIN && isfinite(rad)))
        return rp__fail((char *)in->err, RP_ERR_INVALID_ARG,
                        "the drawn matrix has spectral radius %g: it cannot be rescaled to %g", rad,
                        in->rho);
    cblas_dscal((int)(n * n), in->rho / rad, a, 1);
    return RP_OK;
}

static const char *kind_name(rp_init_kind k)
{
    static const char *const names[] = {"gaussian", "uniform",  "orthogonal", "sparse",
                                        "dale",     "low_rank", "zeros"};
    return names[k];
}

rp_status rp_init_apply(const rp_init *init, rp_net *net, rp_param which, uint64_t seed)
{
    RP__CLEAR_ERR(init);
    if (!init)
        return RP_ERR_INVALID_ARG;
    char *err = (char *)init->err; /* the message is not part of its value */
    if (!net)
        return rp__fail(err, RP_ERR_INVALID_ARG, "net is NULL");
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(err, RP_ERR_INVALID_ARG, "which is %d, expected RP_PARAM_W..RP_PARAM_C",
                        (int)which);
    const size_t N = net->cfg.n_rec;
    size_t rows, cols;
    switch (which) {
    case RP_PARAM_W:
        rows = N, cols = N;
        break;
    case RP_PARAM_U:
        rows = N, cols = net->cfg.n_in;
        break;
    case RP_PARAM_V:
        rows = net->cfg.n_out, cols = N;
        break;
    case RP_PARAM_B:
        rows = N, cols = 1;
        break;
    default:
        rows = net->cfg.n_out, cols = 1;
        break;
    }
    const int bias = which == RP_PARAM_B || which == RP_PARAM_C;
    const rp_init_kind kind = init->kind;
    if (bias && kind != RP_INIT_GAUSSIAN && kind != RP_INIT_ZEROS)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "a %s initializer cannot draw the bias %s: use gaussian or zeros",
                        kind_name(kind), rp__param_name(which));
    const int square = !bias && rows == cols;
    if (init->rho > 0.0 && !square)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "a spectral radius needs a square matrix; %s is %zu x %zu",
                        rp__param_name(which), rows, cols);
    if (init->zero_diag && !square)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "a zero diagonal needs a square matrix; %s is %zu x %zu",
                        rp__param_name(which), rows, cols);
    const size_t n = rows * cols;
    if (n == 0)
        return RP_OK; /* e.g. U of an autonomous network: nothing to draw */
    size_t nE = 0;
    if (kind == RP_INIT_DALE) {
        /* At least one column of each type, else no row can have zero mean;
           with a zero diagonal, two of each, so no row loses its only one. */
        size_t need = init->zero_diag ? 2 : 1;
        double e = floor(init->frac_e * (double)cols + 0.5);
        nE = (size_t)e;
        if (nE < need)
            nE = need;
        if (cols < 2 * need || nE > cols - need)
            return rp__fail(err, RP_ERR_INVALID_ARG,
                            "Dale's law needs at least %zu excitatory and %zu inhibitory columns; "
                            "%s has %zu columns with frac_e = %g",
                            need, need, rp__param_name(which), cols, init->frac_e);
    }

    if (kind == RP_INIT_LOW_RANK && (init->rank > rows || init->rank > cols))
        return rp__fail(err, RP_ERR_INVALID_ARG, "rank is %zu, expected <= min(%zu, %zu) for %s",
                        init->rank, rows, cols, rp__param_name(which));

    /* Scratch: the matrix, then the largest work area of any step. */
    size_t work = 0;
    lapack_int lw_qr = 0, lw_ev = 0;
    if (kind == RP_INIT_ORTHOGONAL) {
        size_t m = rows >= cols ? rows : cols, k = rows >= cols ? cols : rows;
        lw_qr = rp__qr_lwork(m, k);
        if (lw_qr == 0)
            return rp__fail(err, RP_ERR_LAPACK, "QR workspace query failed");
        work = 2 * n + k + (size_t)lw_qr;
    }
    if (kind == RP_INIT_LOW_RANK)
        work = (rows + cols) * init->rank;
    if (init->rho > 0.0) {
        rp_status es = lwork_ev(init, rows, &lw_ev);
        if (es != RP_OK)
            return es;
        if (work < n + 2 * rows + (size_t)lw_ev)
            work = n + 2 * rows + (size_t)lw_ev;
    }
    double *a = rp__calloc(&init->al, n + work, sizeof(double));
    if (!a)
        return rp__fail(err, RP_ERR_NOMEM, "no memory for %zu doubles of scratch", n + work);
    double *w = a + n;

    rp_status st = RP_OK;
    rp_rng r;
    stream(&r, seed, which, STREAM_MAIN);
    const double g = init->gain, fan = (double)cols;
    switch (kind) {
    case RP_INIT_GAUSSIAN:
        draw_gaussian(a, n, g / sqrt(fan), &r);
        break;
    case RP_INIT_UNIFORM: {
        double lim = g * sqrt(3.0 / fan); /* variance lim^2/3 = g^2/cols */
        for (size_t i = 0; i < n; i++)
            a[i] = lim * (2.0 * rp__rng_uniform(&r) - 1.0);
        break;
    }
    case RP_INIT_ORTHOGONAL:
        st = draw_orthogonal(init, a, rows, cols, &r, w, lw_qr);
        break;
    case RP_INIT_SPARSE: {
        double sd = g / sqrt(init->p * fan);
        for (size_t i = 0; i < n; i++)
            a[i] = rp__rng_uniform(&r) < init->p ? sd * rp__rng_normal(&r) : 0.0;
        break;
    }
    case RP_INIT_DALE:
        draw_dale(init, a, rows, cols, nE, &r);
        break;
    case RP_INIT_LOW_RANK: {
        /* gaussian(g) + (m/cols) sum_r u_r v_r^T = a + (m/cols) Uf Vf^T */
        draw_gaussian(a, n, g / sqrt(fan), &r);
        size_t R = init->rank;
        double *uf = w, *vf = w + rows * R;
        rp_rng rf;
        stream(&rf, seed, which, STREAM_FACTORS);
        draw_gaussian(uf, rows * R, 1.0, &rf);
        draw_gaussian(vf, cols * R, 1.0, &rf);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)R,
                    init->strength / fan, uf, (int)R, vf, (int)R, 1.0, a, (int)cols);
        break;
    }
    case RP_INIT_ZEROS:
        break;
    }
    if (st == RP_OK && init->zero_diag)
        for (size_t i = 0; i < rows; i++)
            a[i * cols + i] = 0.0;
    if (st == RP_OK && init->rho > 0.0)
        st = rescale_radius(init, a, rows, w, lw_ev);
    if (st == RP_OK) {
        size_t bad = rp__find_nonfinite(a, n);
        if (bad < n)
            st = rp__fail(err, RP_ERR_NONFINITE, "%s[%zu] drawn as %g: gain %g is too large",
                          rp__param_name(which), bad, a[bad], g);
    }
    if (st == RP_OK) {
        memcpy(rp__param(net, which), a, n * sizeof(double));
        rp__param_changed(net);
    }
    rp__free(&init->al, a);
    return st;
}
