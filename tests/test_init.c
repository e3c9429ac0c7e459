/* Initializers (MODEL.md §2).  Oracles: sample statistics against the
   distribution's moments (within 4 standard errors: a false failure has
   probability ~6e-5 per check, and the seeds are fixed, so a pass is
   reproducible), Q^T Q by plain loops, eigenvalues recomputed here with
   LAPACKE_dgeev, singular values with LAPACKE_dgesvd. */
#include "testutil.h"

#include <float.h>
#include <lapacke.h>

#define NBIG 500 /* the statistics' size: 250000 entries of W */

static rp_net *mknet(size_t n_in, size_t n_rec, size_t n_out)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = n_in;
    c.n_rec = n_rec;
    c.n_out = n_out;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    return net;
}

static rp_init *mkinit(rp_init_kind k, double g)
{
    rp_init *in = NULL;
    ck_assert_int_eq(rp_init_create(&in, k, NULL, 0), RP_OK);
    RP_CK(rp_init_set_gain(in, g), in, rp_init_last_error);
    return in;
}

/* Apply and copy the parameter out (caller frees). */
static double *draw(rp_init *in, rp_net *net, rp_param p, uint64_t seed, size_t *len)
{
    RP_CK(rp_init_apply(in, net, p, seed), in, rp_init_last_error);
    ck_assert_int_eq(rp_net_get_param_len(net, p, len), RP_OK);
    double *a = malloc(*len * sizeof *a + 1);
    RP_CK(rp_net_get_param(net, p, a, *len), net, rp_net_last_error);
    return a;
}

static void moments(const double *a, size_t n, double *mean, double *var)
{
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; i++)
        m += a[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += (a[i] - m) * (a[i] - m);
    *mean = m;
    *var = v / (double)(n - 1);
}

/* mean within 4 s.e. of 0 and variance within 4 s.e. of var0, where the
   variance's s.e. is sqrt((mu4 - var0^2)/n) with mu4 = kurt * var0^2. */
static void check_moments(const double *a, size_t n, double var0, double kurt, const char *what)
{
    double m, v;
    moments(a, n, &m, &v);
    double se_m = sqrt(var0 / (double)n), se_v = var0 * sqrt((kurt - 1.0) / (double)n);
    ck_assert_msg(fabs(m) < 4.0 * se_m, "%s: mean %g, s.e. %g", what, m, se_m);
    ck_assert_msg(fabs(v - var0) < 4.0 * se_v, "%s: variance %g, expected %g, s.e. %g", what, v,
                  var0, se_v);
}

START_TEST(gaussian_stats)
{
    rp_net *net = mknet(3, NBIG, 2);
    rp_init *in = mkinit(RP_INIT_GAUSSIAN, 1.5);
    size_t n;
    double *w = draw(in, net, RP_PARAM_W, 11, &n);
    check_moments(w, n, 1.5 * 1.5 / NBIG, 3.0, "gaussian W");
    free(w);
    /* the bias: cols = 1, so N(0, g^2) */
    double *b = draw(in, net, RP_PARAM_B, 12, &n);
    ck_assert_uint_eq(n, NBIG);
    check_moments(b, n, 1.5 * 1.5, 3.0, "gaussian b");
    free(b);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

START_TEST(uniform_stats)
{
    rp_net *net = mknet(1, NBIG, 1);
    rp_init *in = mkinit(RP_INIT_UNIFORM, 0.7);
    size_t n;
    double *w = draw(in, net, RP_PARAM_W, 5, &n);
    double var0 = 0.7 * 0.7 / NBIG, lim = 0.7 * sqrt(3.0 / NBIG);
    check_moments(w, n, var0, 9.0 / 5.0, "uniform W"); /* uniform: mu4 = 9/5 var^2 */
    for (size_t i = 0; i < n; i++)
        ck_assert(fabs(w[i]) <= lim);
    free(w);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

START_TEST(sparse_stats)
{
    rp_net *net = mknet(1, NBIG, 1);
    rp_init *in = mkinit(RP_INIT_SPARSE, 1.2);
    const double p = 0.2;
    RP_CK(rp_init_set_sparsity(in, p), in, rp_init_last_error);
    size_t n;
    double *w = draw(in, net, RP_PARAM_W, 9, &n);
    size_t nz = 0;
    for (size_t i = 0; i < n; i++)
        nz += w[i] != 0.0;
    double frac = (double)nz / (double)n, se = sqrt(p * (1 - p) / (double)n);
    ck_assert_msg(fabs(frac - p) < 4.0 * se, "kept fraction %g, expected %g (s.e. %g)", frac, p,
                  se);
    /* mixture: p N(0, s^2/p) + (1-p) 0 has variance s^2 and mu4 = 3 s^4 / p */
    check_moments(w, n, 1.2 * 1.2 / NBIG, 3.0 / p, "sparse W");
    free(w);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

static void check_dale(const double *w, size_t rows, size_t cols, size_t nE, double g, int zdiag)
{
    for (size_t j = 0; j < cols; j++) {
        size_t pos = 0, neg = 0;
        for (size_t i = 0; i < rows; i++) {
            pos += w[i * cols + j] > 0.0;
            neg += w[i * cols + j] < 0.0;
        }
        if (j < nE)
            ck_assert_msg(neg == 0 && pos > 0, "column %zu should be excitatory: %zu +, %zu -", j,
                          pos, neg);
        else
            ck_assert_msg(pos == 0 && neg > 0, "column %zu should be inhibitory: %zu +, %zu -", j,
                          pos, neg);
    }
    double ss = 0.0;
    for (size_t i = 0; i < rows; i++) {
        double s = 0.0, sa = 0.0;
        for (size_t j = 0; j < cols; j++) {
            s += w[i * cols + j];
            sa += fabs(w[i * cols + j]);
            ss += w[i * cols + j] * w[i * cols + j];
        }
        /* zero by construction; the sum of cols terms rounds to ~cols eps sum|w| */
        ck_assert_msg(fabs(s) <= 1e-13 * sa, "row %zu sums to %g (sum |w| = %g)", i, s, sa);
        if (zdiag)
            ck_assert(w[i * cols + i] == 0.0);
    }
    /* the row means are zero, so the mean square is the variance g^2/cols
       (exact by the construction, up to rounding of the sums) */
    double var = ss / (double)(rows * cols);
    ck_assert_msg(fabs(var - g * g / (double)cols) < 1e-12 * g * g / (double)cols,
                  "variance %g, expected %g", var, g * g / (double)cols);
}

START_TEST(dale_signs_and_rows)
{
    rp_net *net = mknet(1, NBIG, 1);
    rp_init *in = mkinit(RP_INIT_DALE, 1.3);
    size_t n;
    double *w = draw(in, net, RP_PARAM_W, 21, &n);
    check_dale(w, NBIG, NBIG, 400, 1.3, 0); /* default 80 % excitatory */
    free(w);
    RP_CK(rp_init_set_dale_fraction(in, 0.5), in, rp_init_last_error);
    RP_CK(rp_init_set_zero_diagonal(in, 1), in, rp_init_last_error);
    w = draw(in, net, RP_PARAM_W, 22, &n);
    check_dale(w, NBIG, NBIG, 250, 1.3, 1);
    free(w);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

/* ||G - I||_F for the Gram matrix G of k vectors of length m, each divided
   by g, by plain loops: entry i of vector p is a[i * si + p * sp]. */
static double ortho_err(const double *a, size_t m, size_t k, size_t si, size_t sp, double g)
{
    double fro = 0.0;
    for (size_t p = 0; p < k; p++)
        for (size_t q = 0; q < k; q++) {
            double s = 0.0;
            for (size_t i = 0; i < m; i++)
                s += (a[i * si + p * sp] / g) * (a[i * si + q * sp] / g);
            double e = s - (p == q);
            fro += e * e;
        }
    return sqrt(fro);
}

START_TEST(orthogonal)
{
    const size_t N = 120, nin = 40, nout = 30;
    const double g = 1.3;
    rp_net *net = mknet(nin, N, nout);
    rp_init *in = mkinit(RP_INIT_ORTHOGONAL, g);
    size_t n;
    /* rounding of a Householder QR: ~ N eps per entry, far below 1e-12 */
    double *w = draw(in, net, RP_PARAM_W, 3, &n);
    double e = ortho_err(w, N, N, N, 1, g); /* columns */
    ck_assert_msg(e < 1e-12, "W: |Q^T Q - I| = %g", e);
    free(w);
    double *u = draw(in, net, RP_PARAM_U, 3, &n); /* 120 x 40: orthonormal columns */
    e = ortho_err(u, N, nin, nin, 1, g);          /* columns */
    ck_assert_msg(e < 1e-12, "U: |Q^T Q - I| = %g", e);
    free(u);
    double *v = draw(in, net, RP_PARAM_V, 3, &n); /* 30 x 120: orthonormal rows */
    e = ortho_err(v, N, nout, 1, N, g);           /* rows */
    ck_assert_msg(e < 1e-12, "V: |Q Q^T - I| = %g", e);
    free(v);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

static double spectral_radius(const double *a, size_t n)
{
    double *c = malloc(n * n * sizeof *c), *wr = malloc(n * sizeof *wr),
           *wi = malloc(n * sizeof *wi);
    memcpy(c, a, n * n * sizeof *c);
    lapack_int info = LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)n, c, (lapack_int)n, wr,
                                    wi, NULL, 1, NULL, 1);
    ck_assert_int_eq(info, 0);
    double r = 0.0;
    for (size_t i = 0; i < n; i++)
        r = fmax(r, hypot(wr[i], wi[i]));
    free(c);
    free(wr);
    free(wi);
    return r;
}

/* Spectral radius with each kind that makes sense for W (and zero diagonal). */
START_TEST(spectral_radius_hit)
{
    const size_t N = 80;
    static const rp_init_kind kinds[] = {RP_INIT_GAUSSIAN, RP_INIT_UNIFORM,  RP_INIT_SPARSE,
                                         RP_INIT_DALE,     RP_INIT_LOW_RANK, RP_INIT_ORTHOGONAL};
    rp_init_kind k = kinds[_i];
    rp_net *net = mknet(1, N, 1);
    rp_init *in = mkinit(k, 1.7);
    RP_CK(rp_init_set_spectral_radius(in, 0.9), in, rp_init_last_error);
    RP_CK(rp_init_set_zero_diagonal(in, _i % 2), in, rp_init_last_error);
    size_t n;
    double *w = draw(in, net, RP_PARAM_W, 100 + (uint64_t)_i, &n);
    /* two dgeev runs on the same matrix agree to ~N eps; 1e-10 is generous */
    double r = spectral_radius(w, N);
    ck_assert_msg(fabs(r - 0.9) < 1e-10, "kind %d: spectral radius %.17g", (int)k, r);
    if (_i % 2)
        for (size_t i = 0; i < N; i++)
            ck_assert(w[i * N + i] == 0.0);
    free(w);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

START_TEST(zero_diagonal)
{
    const size_t N = 60;
    rp_init_kind k = (rp_init_kind)_i; /* every kind */
    rp_net *net = mknet(N, N, 1);
    rp_init *in = mkinit(k, 1.0);
    RP_CK(rp_init_set_zero_diagonal(in, 1), in, rp_init_last_error);
    RP_CK(rp_init_set_sparsity(in, 0.9), in, rp_init_last_error);
    size_t n, offzero = 0;
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_U; p++) { /* U is square here too */
        double *w = draw(in, net, p, 7, &n);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) {
                if (i == j)
                    ck_assert_msg(w[i * N + j] == 0.0, "kind %d: diagonal %zu is %g", (int)k, i,
                                  w[i * N + i]);
                else
                    offzero += w[i * N + j] == 0.0;
            }
        free(w);
    }
    if (k != RP_INIT_ZEROS && k != RP_INIT_SPARSE)
        ck_assert_uint_eq(offzero, 0);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

/* low_rank(g, R, m) - gaussian(g) from the same seed is (m/N) sum u v^T: rank
   R, which the test sees in the singular values (LAPACKE_dgesvd).  The
   subtraction leaves rounding ~eps |W| ~ 1e-17, so s_{R+1}/s_1 < 1e-10. */
START_TEST(low_rank_structure)
{
    const size_t N = 50, R = 3;
    rp_net *net = mknet(1, N, 1);
    rp_init *lr = mkinit(RP_INIT_LOW_RANK, 0.8), *ga = mkinit(RP_INIT_GAUSSIAN, 0.8);
    RP_CK(rp_init_set_rank(lr, R, 2.5), lr, rp_init_last_error);
    size_t n;
    double *a = draw(lr, net, RP_PARAM_W, 31, &n), *b = draw(ga, net, RP_PARAM_W, 31, &n);
    for (size_t i = 0; i < n; i++)
        a[i] -= b[i];
    double s[50], superb[49];
    ck_assert_int_eq(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)N, (lapack_int)N, a,
                                    (lapack_int)N, s, NULL, 1, NULL, 1, superb),
                     0);
    ck_assert_msg(s[R - 1] > 0.1, "s_R = %g", s[R - 1]);
    ck_assert_msg(s[R] < 1e-10 * s[0], "s_{R+1} = %g, s_1 = %g", s[R], s[0]);
    free(a);
    free(b);
    rp_init_free(lr);
    rp_init_free(ga);
    rp_net_free(net);
}
END_TEST

START_TEST(deterministic)
{
    rp_init_kind k = (rp_init_kind)_i;
    rp_net *net = mknet(4, 40, 3);
    rp_init *in = mkinit(k, 1.1);
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_V; p++) {
        if ((p == RP_PARAM_B) || (k == RP_INIT_DALE && p != RP_PARAM_W))
            continue;
        size_t n;
        double *a = draw(in, net, p, 42, &n), *b = draw(in, net, p, 42, &n),
               *c = draw(in, net, p, 43, &n);
        ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "kind %d param %d: same seed differs",
                      (int)k, (int)p);
        if (k != RP_INIT_ZEROS)
            ck_assert_msg(memcmp(a, c, n * sizeof *a) != 0, "kind %d param %d: seeds 42, 43 agree",
                          (int)k, (int)p);
        free(a);
        free(b);
        free(c);
    }
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

/* ---- bad arguments: status, message, and nothing changed ---------------- */

typedef struct snap {
    double v[2048];
    size_t n;
} snap;

static void take(const rp_net *net, snap *s)
{
    s->n = 0;
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(net, p, &len), RP_OK);
        ck_assert(s->n + len <= 2048);
        ck_assert_int_eq(rp_net_get_param(net, p, s->v + s->n, len), RP_OK);
        s->n += len;
    }
}

static void same(const rp_net *net, const snap *s0)
{
    snap s1;
    take(net, &s1);
    ck_assert_uint_eq(s1.n, s0->n);
    ck_assert_msg(memcmp(s1.v, s0->v, s0->n * sizeof(double)) == 0, "the net changed");
}

#define EXPECT(call, st, in)                                                           \
    do {                                                                               \
        rp_status st_ = (call);                                                        \
        ck_assert_msg(st_ == (st), "%s returned %s", #call, rp_status_string(st_));    \
        ck_assert_msg(rp_init_last_error(in)[0] != '\0', "%s left no message", #call); \
    } while (0)

START_TEST(bad_args)
{
    rp_net *net = mknet(1, 20, 2);
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(net, p, &len), RP_OK);
        double buf[400];
        tu_fill(buf, len, -1, 1, 5 + (uint64_t)p);
        ck_assert_int_eq(rp_net_set_param(net, p, buf, len), RP_OK);
    }
    snap s0;
    take(net, &s0);

    rp_init *in = NULL;
    ck_assert_int_eq(rp_init_create(NULL, RP_INIT_GAUSSIAN, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_create(&in, (rp_init_kind)99, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(in);
    ck_assert_int_eq(rp_init_apply(NULL, net, RP_PARAM_W, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_set_gain(NULL, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_set_sparsity(NULL, 0.5), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_set_dale_fraction(NULL, 0.5), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_set_rank(NULL, 1, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_set_spectral_radius(NULL, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_init_set_zero_diagonal(NULL, 1), RP_ERR_INVALID_ARG);
    rp_init_free(NULL);

    in = mkinit(RP_INIT_GAUSSIAN, 1.0);
    EXPECT(rp_init_set_gain(in, -1.0), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_gain(in, NAN), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_gain(in, INFINITY), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_sparsity(in, 0.0), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_sparsity(in, 1.5), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_sparsity(in, NAN), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_dale_fraction(in, 0.0), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_dale_fraction(in, 1.0), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_rank(in, 0, 1.0), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_rank(in, 1, NAN), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_spectral_radius(in, -0.5), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_set_spectral_radius(in, INFINITY), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_apply(in, NULL, RP_PARAM_W, 1), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_apply(in, net, (rp_param)7, 1), RP_ERR_INVALID_ARG, in);
    same(net, &s0);

    /* a gain so large that N(0, g^2) overflows for the bias (cols = 1) */
    RP_CK(rp_init_set_gain(in, DBL_MAX), in, rp_init_last_error);
    EXPECT(rp_init_apply(in, net, RP_PARAM_B, 1), RP_ERR_NONFINITE, in);
    same(net, &s0);
    RP_CK(rp_init_set_gain(in, 1.0), in, rp_init_last_error);

    /* spectral radius and zero diagonal need a square matrix */
    RP_CK(rp_init_set_spectral_radius(in, 1.0), in, rp_init_last_error);
    EXPECT(rp_init_apply(in, net, RP_PARAM_U, 1), RP_ERR_INVALID_ARG, in);
    EXPECT(rp_init_apply(in, net, RP_PARAM_B, 1), RP_ERR_INVALID_ARG, in);
    RP_CK(rp_init_set_spectral_radius(in, 0.0), in, rp_init_last_error);
    RP_CK(rp_init_set_zero_diagonal(in, 1), in, rp_init_last_error);
    EXPECT(rp_init_apply(in, net, RP_PARAM_V, 1), RP_ERR_INVALID_ARG, in);
    same(net, &s0);
    rp_init_free(in);

    /* a bias only takes gaussian or zeros */
    for (int k = RP_INIT_UNIFORM; k <= RP_INIT_LOW_RANK; k++) {
        in = mkinit((rp_init_kind)k, 1.0);
        EXPECT(rp_init_apply(in, net, RP_PARAM_B, 1), RP_ERR_INVALID_ARG, in);
        EXPECT(rp_init_apply(in, net, RP_PARAM_C, 1), RP_ERR_INVALID_ARG, in);
        rp_init_free(in);
    }
    same(net, &s0);

    /* Dale on U (one column): no room for both types */
    in = mkinit(RP_INIT_DALE, 1.0);
    EXPECT(rp_init_apply(in, net, RP_PARAM_U, 1), RP_ERR_INVALID_ARG, in);
    rp_init_free(in);
    /* rank above min(rows, cols) */
    in = mkinit(RP_INIT_LOW_RANK, 1.0);
    RP_CK(rp_init_set_rank(in, 3, 1.0), in, rp_init_last_error);
    EXPECT(rp_init_apply(in, net, RP_PARAM_V, 1), RP_ERR_INVALID_ARG, in); /* V is 2 x 20 */
    rp_init_free(in);
    /* a zero matrix has no spectral radius to rescale */
    in = mkinit(RP_INIT_ZEROS, 1.0);
    RP_CK(rp_init_set_spectral_radius(in, 1.0), in, rp_init_last_error);
    EXPECT(rp_init_apply(in, net, RP_PARAM_W, 1), RP_ERR_INVALID_ARG, in);
    rp_init_free(in);
    same(net, &s0);
    rp_net_free(net);
}
END_TEST

/* An empty parameter (U of an autonomous network) is a no-op, not an error. */
START_TEST(empty_param)
{
    rp_net *net = mknet(0, 10, 1);
    rp_init *in = mkinit(RP_INIT_ORTHOGONAL, 1.0);
    RP_CK(rp_init_apply(in, net, RP_PARAM_U, 1), in, rp_init_last_error);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

Suite *suite_init(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gaussian_stats);
    tcase_add_test(tc, uniform_stats);
    tcase_add_test(tc, sparse_stats);
    tcase_add_test(tc, dale_signs_and_rows);
    tcase_add_test(tc, orthogonal);
    tcase_add_loop_test(tc, spectral_radius_hit, 0, 6);
    tcase_add_loop_test(tc, zero_diagonal, 0, RP_INIT_ZEROS + 1);
    tcase_add_test(tc, low_rank_structure);
    tcase_add_loop_test(tc, deterministic, 0, RP_INIT_ZEROS + 1);
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, empty_param);
    suite_add_tcase(s, tc);
    return s;
}
