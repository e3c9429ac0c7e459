/* Lyapunov spectra (MODEL.md §6).  Oracles, all independent of src/lyap.c:
   eigenvalues of a constant Jacobian (LAPACK dgeev in the test), log|det D_t|
   from Jacobians formed here with plain loops along a trajectory simulated
   here and factored by dgetrf, the twin-trajectory estimate (no Jacobian, no
   QR), exactness of the QR identities in t_ons, and analytic diagonal cases. */
#include "testutil.h"

#include <lapacke.h>

static rp_net *make_net(size_t N, size_t n_in, rp_form form, rp_activation act, double alpha,
                        double g, uint64_t seed)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_rec = N;
    c.n_in = n_in;
    c.form = form;
    c.act = act;
    c.alpha = alpha;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    /* W uniform with variance g^2/N (MODEL.md §2's uniform(g)). */
    double *W = malloc(N * N * sizeof *W);
    double a = g * sqrt(3.0 / (double)N);
    tu_fill(W, N * N, -a, a, seed);
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    free(W);
    if (n_in) {
        double *U = malloc(N * n_in * sizeof *U);
        tu_fill(U, N * n_in, -1.0, 1.0, seed + 1);
        RP_CK(rp_net_set_param(net, RP_PARAM_U, U, N * n_in), net, rp_net_last_error);
        free(U);
    }
    return net;
}

static void set_h0(rp_net *net, size_t N, double lo, double hi, uint64_t seed)
{
    double *h0 = malloc(N * sizeof *h0);
    tu_fill(h0, N, lo, hi, seed);
    RP_CK(rp_net_set_initial_state(net, h0, N), net, rp_net_last_error);
    free(h0);
}

static rp_lyap *make_lyap(const rp_net *net, size_t k, size_t t_ons, size_t transient,
                          uint64_t seed)
{
    rp_lyap_config c;
    rp_lyap_config_init(&c, sizeof c);
    c.t_ons = t_ons;
    c.transient = transient;
    c.seed = seed;
    rp_lyap *ly = NULL;
    rp_status st = rp_lyap_create(&ly, net, k, &c, NULL, 0);
    ck_assert_msg(st == RP_OK, "rp_lyap_create: %s", rp_net_last_error(net));
    return ly;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* log|mu_i| of the n x n row-major matrix D, descending (dgeev, test side). */
static void log_abs_eig(const double *D, size_t n, double *out)
{
    double *A = malloc(n * n * sizeof *A), *wr = malloc(n * sizeof *wr),
           *wi = malloc(n * sizeof *wi);
    memcpy(A, D, n * n * sizeof *A);
    lapack_int info = LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)n, A, (lapack_int)n, wr,
                                    wi, NULL, 1, NULL, 1);
    ck_assert_int_eq(info, 0);
    for (size_t i = 0; i < n; i++)
        out[i] = 0.5 * log(wr[i] * wr[i] + wi[i] * wi[i]);
    qsort(out, n, sizeof *out, cmp_desc);
    free(A);
    free(wr);
    free(wi);
}

/* ---- 1. linear f, constant D = alpha I + (1-alpha) W: lambda_i = log|mu_i| -- */

/* The QR estimate after T counted steps differs from log|mu_i| by at most
   C/T: the log-growth of D^T Q0's i-th Gram-Schmidt direction is
   T log|mu_i| + O(1), the O(1) made of log cond(eigenvectors of D), the log of
   Q0's projection on the dominant subspaces and, for a complex pair, the
   bounded oscillation inside the pair's 2-d plane.  For these 6-unit networks
   the worst measured error times T is 2.9 (a complex pair at T = 500); C = 5. */
#define LIN_C 5.0

START_TEST(linear_eigenvalues)
{
    const rp_form form = (rp_form)(_i % 2);
    const size_t N = 6;
    const double alpha = 0.5;
    rp_net *net = make_net(N, 1, form, RP_ACT_LINEAR, alpha, 1.3, 11 + (uint64_t)_i);
    set_h0(net, N, -1.0, 1.0, 5);
    double W[36], D[36], ref[6], lam[6];
    RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            D[i * N + j] = (i == j ? alpha : 0.0) + (1.0 - alpha) * W[i * N + j];
    log_abs_eig(D, N, ref);

    rp_lyap *ly = make_lyap(net, N, 1, 0, 3);
    const size_t Ts[2] = {500, 2000};
    size_t done = 0;
    for (int r = 0; r < 2; r++) {
        /* NULL x with n_in = 1: autonomous, as documented. */
        RP_CK(rp_lyap_run(ly, net, Ts[r] - done, NULL), ly, rp_lyap_last_error);
        done = Ts[r];
        RP_CK(rp_lyap_get_spectrum(ly, lam, N), ly, rp_lyap_last_error);
        for (size_t i = 0; i < N; i++)
            ck_assert_msg(fabs(lam[i] - ref[i]) <= LIN_C / (double)Ts[r],
                          "form %d T %zu: lambda_%zu = %.8f, log|mu| = %.8f (tol %.2e)", (int)form,
                          Ts[r], i, lam[i], ref[i], LIN_C / (double)Ts[r]);
    }
    /* Asking for fewer exponents gives the largest ones. */
    double top[3];
    RP_CK(rp_lyap_get_spectrum(ly, top, 3), ly, rp_lyap_last_error);
    ck_assert_mem_eq(top, lam, sizeof top);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 2. k = N: sum lambda_i = mean_t log|det D_t| -------------------------- */

/* Test-side trajectory and Jacobians: plain loops, no BLAS, no library code. */
static double act_f(rp_activation a, double v)
{
    return a == RP_ACT_TANH ? tanh(v) : a == RP_ACT_RELU ? (v > 0 ? v : 0) : v;
}
static double act_d(rp_activation a, double v)
{
    if (a == RP_ACT_TANH) {
        double t = tanh(v);
        return 1.0 - t * t;
    }
    return a == RP_ACT_RELU ? (v > 0 ? 1.0 : 0.0) : 1.0;
}

/* log|det D_t| for t = 1..T into ld[t-1]. */
static void logdet_series(rp_form form, rp_activation act, size_t N, size_t n_in, double alpha,
                          const double *W, const double *U, const double *b, const double *h0,
                          size_t T, const double *x, double *ld)
{
    double *s = malloc(N * sizeof *s), *sn = malloc(N * sizeof *sn), *dp = malloc(N * sizeof *dp);
    double *D = malloc(N * N * sizeof *D);
    lapack_int *ipiv = malloc(N * sizeof *ipiv);
    memcpy(s, h0, N * sizeof *s);
    const double g = 1.0 - alpha;
    for (size_t t = 0; t < T; t++) {
        for (size_t i = 0; i < N; i++) {
            double in = b[i];
            for (size_t j = 0; j < n_in; j++)
                in += U[i * n_in + j] * x[t * n_in + j];
            double rec = 0.0;
            for (size_t j = 0; j < N; j++)
                rec += W[i * N + j] * (form == RP_FORM_VOLTAGE ? act_f(act, s[j]) : s[j]);
            if (form == RP_FORM_VOLTAGE) {
                sn[i] = alpha * s[i] + g * (rec + in);
                dp[i] = act_d(act, s[i]); /* f'(h_{t-1}) */
            } else {
                double u = rec + in;
                sn[i] = alpha * s[i] + g * act_f(act, u);
                dp[i] = act_d(act, u); /* f'(u_t) */
            }
        }
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                D[i * N + j] = (i == j ? alpha : 0.0) +
                               g * W[i * N + j] * (form == RP_FORM_VOLTAGE ? dp[j] : dp[i]);
        lapack_int info =
            LAPACKE_dgetrf(LAPACK_ROW_MAJOR, (lapack_int)N, (lapack_int)N, D, (lapack_int)N, ipiv);
        ck_assert_int_ge(info, 0);
        double l = 0.0;
        for (size_t i = 0; i < N; i++)
            l += log(fabs(D[i * N + i]));
        ld[t] = l;
        memcpy(s, sn, N * sizeof *s);
    }
    free(s);
    free(sn);
    free(dp);
    free(D);
    free(ipiv);
}

START_TEST(sum_equals_logdet)
{
    /* _i: bit 0 form, bit 1 t_ons 1 or 3 */
    const rp_form form = (rp_form)(_i & 1);
    const size_t t_ons = (_i & 2) ? 3 : 1;
    const size_t N = 8, n_in = 2, T = 150, transient = 10;
    const double alpha = 0.8;
    rp_net *net = make_net(N, n_in, form, RP_ACT_TANH, alpha, 1.5, 21);
    double W[64], U[16], b[8], h0[8], x[300], lam[8];
    tu_fill(b, N, -0.2, 0.2, 7);
    RP_CK(rp_net_set_param(net, RP_PARAM_B, b, N), net, rp_net_last_error);
    set_h0(net, N, -1.0, 1.0, 8);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_U, U, N * n_in), net, rp_net_last_error);
    RP_CK(rp_net_get_initial_state(net, h0, N), net, rp_net_last_error);
    tu_fill(x, T * n_in, -1.0, 1.0, 9);

    rp_lyap *ly = make_lyap(net, N, t_ons, transient, 4);
    RP_CK(rp_lyap_run(ly, net, T, x), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, lam, N), ly, rp_lyap_last_error);
    size_t counted = 0, total = 0;
    RP_CK(rp_lyap_get_steps(ly, &counted, &total), ly, rp_lyap_last_error);
    ck_assert_uint_eq(total, T);
    /* Counted steps: the whole windows ending after the transient, up to the
       last re-orthonormalization (documented in the header). */
    size_t last = T - T % t_ons, first = transient + (t_ons - transient % t_ons) % t_ons;
    ck_assert_uint_eq(counted, last - first);

    double ld[150], mean = 0.0, sum = 0.0;
    logdet_series(form, RP_ACT_TANH, N, n_in, alpha, W, U, b, h0, T, x, ld);
    for (size_t t = first; t < last; t++)
        mean += ld[t];
    mean /= (double)counted;
    for (size_t i = 0; i < N; i++)
        sum += lam[i];
    /* Both sides are sums of ~150 logs of O(1) factors computed in different
       orders along trajectories that agree to rounding (the network is mildly
       chaotic at g = 1.5, alpha = 0.8): 1e-10 relative leaves ample room. */
    ck_assert_msg(fabs(sum - mean) <= 1e-10 * fabs(mean), "form %d t_ons %zu: sum %.15g mean %.15g",
                  (int)form, t_ons, sum, mean);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 3. lambda_max: QR against the twin trajectory ------------------------ */

START_TEST(qr_matches_twin)
{
    const rp_form form = (rp_form)(_i % 2);
    /* N = 100, alpha = 0.5, g = 3: chaotic in both forms (lambda_max ~ 0.08);
       smaller networks tend to end on limit cycles, where lambda_max = 0. */
    const size_t N = 100, T = 1500, transient = 300;
    rp_net *net = make_net(N, 0, form, RP_ACT_TANH, 0.5, 3.0, 42);
    set_h0(net, N, -1.0, 1.0, 12);
    rp_lyap *ly = make_lyap(net, 1, 1, transient, 5);
    double lq = 0.0, ld = 0.0;
    RP_CK(rp_lyap_run(ly, net, T, NULL), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, &lq, 1), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_max_direct(net, T, NULL, transient, 1e-7, 99, &ld, NULL, 0), net,
          rp_net_last_error);
    /* Same trajectory; after the transient both vectors lie along the first
       Lyapunov vector, so the estimates differ by (log of the two vectors'
       different alignment at the end of the transient)/(T - transient) plus
       the twin's O(eps) nonlinear bias.  With C = 3 (a few times the log of
       the initial misalignment in 100 dimensions) the tolerance is
       3/1200 = 2.5e-3, against lambda_max of about 0.08 (measured gaps
       are 6e-4 or less). */
    ck_assert_msg(lq > 0.01, "form %d: lambda_max %g, expected chaos at g = 3", (int)form, lq);
    ck_assert_msg(fabs(lq - ld) <= 3.0 / (double)(T - transient), "form %d: QR %.6f, twin %.6f",
                  (int)form, lq, ld);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 4. sign of lambda_max ------------------------------------------------ */

START_TEST(stable_and_chaotic)
{
    const rp_form form = (rp_form)(_i % 2);
    const size_t N = 48, T = 2000, transient = 500;
    const double alpha = 0.8;
    /* g = 0.5, no input, no bias: the trajectory falls into the fixed point 0
       where D = alpha I + (1-alpha) W, so lambda_max -> log max|mu(D)| < 0. */
    rp_net *net = make_net(N, 0, form, RP_ACT_TANH, alpha, 0.5, 41);
    set_h0(net, N, -1.0, 1.0, 13);
    rp_lyap *ly = make_lyap(net, 1, 1, transient, 6);
    double lam = 0.0, ref[48], W[48 * 48], D[48 * 48];
    RP_CK(rp_lyap_run(ly, net, T, NULL), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, &lam, 1), ly, rp_lyap_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            D[i * N + j] = (i == j ? alpha : 0.0) + (1.0 - alpha) * W[i * N + j];
    log_abs_eig(D, N, ref);
    ck_assert_msg(lam < 0.0, "form %d g 0.5: lambda_max %g", (int)form, lam);
    /* C/T as in the linear test (C = 8), T counted = 1500. */
    ck_assert_msg(fabs(lam - ref[0]) <= 8.0 / (double)(T - transient), "form %d: %g vs log|mu| %g",
                  (int)form, lam, ref[0]);
    rp_lyap_free(ly);
    rp_net_free(net);

    /* g = 3: chaotic (Sompolinsky et al. 1988).  Small discrete-time networks
       often settle on limit cycles instead (N = 48 at alpha = 0.8 does), so
       this case uses N = 100 and alpha = 0.5, where lambda_max is about 0.08
       per step in both forms. */
    net = make_net(100, 0, form, RP_ACT_TANH, 0.5, 3.0, 42);
    set_h0(net, 100, -1.0, 1.0, 14);
    ly = make_lyap(net, 1, 1, 200, 6);
    RP_CK(rp_lyap_run(ly, net, 1000, NULL), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, &lam, 1), ly, rp_lyap_last_error);
    ck_assert_msg(lam > 0.0, "form %d g 3: lambda_max %g", (int)form, lam);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 5. independence of t_ons --------------------------------------------- */

START_TEST(t_ons_independent)
{
    const rp_form form = (rp_form)(_i % 2);
    /* The chaotic network of qr_matches_twin (lambda_1 > 0), with an input. */
    const size_t N = 100, k = 8, T = 400, transient = 50;
    rp_net *net = make_net(N, 1, form, RP_ACT_TANH, 0.5, 3.0, 42);
    set_h0(net, N, -1.0, 1.0, 15);
    double x[400];
    tu_fill(x, T, -0.5, 0.5, 16);
    const size_t tons[3] = {1, 5, 10};
    double lam[3][8];
    for (int r = 0; r < 3; r++) {
        rp_lyap *ly = make_lyap(net, k, tons[r], transient, 7);
        RP_CK(rp_lyap_run(ly, net, T, x), ly, rp_lyap_last_error);
        RP_CK(rp_lyap_get_spectrum(ly, lam[r], k), ly, rp_lyap_last_error);
        double cmax = 0.0;
        RP_CK(rp_lyap_get_cond(ly, NULL, &cmax), ly, rp_lyap_last_error);
        ck_assert_msg(cmax < 1e3, "t_ons %zu: cond %g breaks the premise below", tons[r], cmax);
        rp_lyap_free(ly);
    }
    /* The Q factor of D_t...D_1 Q0 does not depend on when it is re-factored
       and diag(R) of the product is the product of the windows' diag(R): the
       same counted steps (transient and T are multiples of 10) give the same
       exponents in exact arithmetic.  What remains is rounding amplified by
       the block's condition within a window (kappa_1(R) < 1e3, checked):
       measured differences are below 2e-16; 1e-12 per step is far above
       eps_mach * 1e3 and far below any real dependence (O(1/T) = 2.5e-3). */
    for (int r = 1; r < 3; r++)
        for (size_t i = 0; i < k; i++)
            ck_assert_msg(fabs(lam[r][i] - lam[0][i]) <= 1e-12,
                          "t_ons %zu lambda_%zu %.17g vs %.17g (diff %.3g)", tons[r], i, lam[r][i],
                          lam[0][i], lam[r][i] - lam[0][i]);
    rp_net_free(net);
}
END_TEST

/* ---- 6. chunked runs are bit-identical; local exponents average to lambda -- */

START_TEST(chunked_bitwise)
{
    const rp_form form = (rp_form)(_i % 3 == 2 ? 1 : 0);
    const rp_activation act = (rp_activation)(_i % 3);
    const size_t N = 12, k = 5, t_ons = 5, T = 203, transient = 20;
    rp_net *net = make_net(N, 2, form, act, 0.7, 1.8, 61 + (uint64_t)_i);
    set_h0(net, N, 0.1, 1.0, 17);
    double x[406];
    tu_fill(x, T * 2, -1.0, 1.0, 18);
    rp_lyap *a = make_lyap(net, k, t_ons, transient, 8);
    rp_lyap *b = make_lyap(net, k, t_ons, transient, 8);
    RP_CK(rp_lyap_run(a, net, T, x), a, rp_lyap_last_error);
    const size_t pieces[4] = {1, 7, 50, 145};
    size_t off = 0;
    for (int p = 0; p < 4; p++) {
        RP_CK(rp_lyap_run(b, net, pieces[p], x + off * 2), b, rp_lyap_last_error);
        off += pieces[p];
    }
    ck_assert_uint_eq(off, T);
    double la[5], lb[5], ca[2], cb[2];
    RP_CK(rp_lyap_get_spectrum(a, la, k), a, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(b, lb, k), b, rp_lyap_last_error);
    ck_assert_mem_eq(la, lb, sizeof la);
    RP_CK(rp_lyap_get_local(a, la, k), a, rp_lyap_last_error);
    RP_CK(rp_lyap_get_local(b, lb, k), b, rp_lyap_last_error);
    ck_assert_mem_eq(la, lb, sizeof la);
    RP_CK(rp_lyap_get_cond(a, &ca[0], &ca[1]), a, rp_lyap_last_error);
    RP_CK(rp_lyap_get_cond(b, &cb[0], &cb[1]), b, rp_lyap_last_error);
    ck_assert_mem_eq(ca, cb, sizeof ca);
    for (size_t i = 0; i < k; i++)
        ck_assert(!isnan(la[i]));

    /* Reset replays the same trajectory; the window-by-window local exponents,
       averaged over the counted windows, give the spectrum. */
    RP_CK(rp_lyap_reset(b), b, rp_lyap_last_error);
    double acc[5] = {0}, loc[5], spec[5];
    size_t n_counted = 0;
    for (size_t t = 0; t + t_ons <= T; t += t_ons) {
        RP_CK(rp_lyap_run(b, net, t_ons, x + t * 2), b, rp_lyap_last_error);
        RP_CK(rp_lyap_get_local(b, loc, k), b, rp_lyap_last_error);
        if (t >= transient) {
            for (size_t i = 0; i < k; i++)
                acc[i] += loc[i];
            n_counted++;
        }
    }
    for (size_t i = 0; i < k; i++)
        acc[i] /= (double)n_counted;
    qsort(acc, k, sizeof *acc, cmp_desc);
    RP_CK(rp_lyap_get_spectrum(b, spec, k), b, rp_lyap_last_error);
    /* Two summation orders of the same ~37 logs. */
    for (size_t i = 0; i < k; i++)
        ck_assert_msg(fabs(acc[i] - spec[i]) <= 1e-12 * (1.0 + fabs(spec[i])),
                      "%zu: %.15g vs %.15g", i, acc[i], spec[i]);
    rp_lyap_free(a);
    rp_lyap_free(b);
    rp_net_free(net);
}
END_TEST

/* ---- 7. cond(R): analytic diagonal case ------------------------------------ */

START_TEST(cond_diagonal)
{
    /* Diagonal W, linear f, basis = the first 3 coordinate vectors: the block
       before each QR is diag(d_i^t_ons), d_i = alpha + (1-alpha) w_i, so
       kappa_1(R) = max_i |d_i|^4 / min_i |d_i|^4 over i < 3, and the exponents
       are log|d_i| exactly. */
    const size_t N = 5, k = 3, t_ons = 4;
    const double alpha = 0.5, w[5] = {1.6, -0.4, 0.9, 3.0, 0.1};
    rp_net *net = make_net(N, 0, RP_FORM_VOLTAGE, RP_ACT_LINEAR, alpha, 0.0, 1);
    double W[25] = {0}, Q0[15] = {0};
    for (size_t i = 0; i < N; i++)
        W[i * N + i] = w[i];
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    for (size_t j = 0; j < k; j++)
        Q0[j * k + j] = 1.0;
    rp_lyap *ly = make_lyap(net, k, t_ons, 0, 1);
    RP_CK(rp_lyap_set_basis(ly, Q0, N * k), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_run(ly, net, 12, NULL), ly, rp_lyap_last_error);
    double last = 0, mx = 0, lam[3], dmax = 0, dmin = INFINITY, ref[3];
    RP_CK(rp_lyap_get_cond(ly, &last, &mx), ly, rp_lyap_last_error);
    for (size_t i = 0; i < k; i++) {
        double d = fabs(alpha + (1 - alpha) * w[i]);
        dmax = d > dmax ? d : dmax;
        dmin = d < dmin ? d : dmin;
        ref[i] = log(d);
    }
    double want = pow(dmax / dmin, (double)t_ons);
    ck_assert_msg(fabs(last - want) <= 1e-12 * want, "cond %.15g, want %.15g", last, want);
    ck_assert_msg(fabs(mx - want) <= 1e-12 * want, "max cond %.15g, want %.15g", mx, want);
    RP_CK(rp_lyap_get_spectrum(ly, lam, k), ly, rp_lyap_last_error);
    qsort(ref, k, sizeof *ref, cmp_desc);
    for (size_t i = 0; i < k; i++)
        ck_assert_msg(fabs(lam[i] - ref[i]) <= 1e-14, "lambda_%zu %.17g vs %.17g", i, lam[i],
                      ref[i]);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 8. relu, alpha = 0, dead units: -inf, never NaN ---------------------- */

START_TEST(dead_units_minus_inf)
{
    const size_t N = 6, n_alive = 4, T = 400;
    rp_net *net = make_net(N, 0, RP_FORM_VOLTAGE, RP_ACT_RELU, 0.0, 0.0, 1);
    /* Units 0-3 alive: b = 5, small weights keep them positive forever, where
       relu is linear; units 4-5 dead: b = -100.  D_t = W diag(1,1,1,1,0,0). */
    double W[36], b[6] = {5, 5, 5, 5, -100, -100}, h0[6] = {1, 2, 1, 2, -1, -1};
    tu_fill(W, N * N, -0.3, 0.3, 71);
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_B, b, N), net, rp_net_last_error);
    RP_CK(rp_net_set_initial_state(net, h0, N), net, rp_net_last_error);
    /* Identity basis: the dead units' columns of D_t Q are exactly zero, so
       R_55 = R_66 = 0 exactly at the first QR. */
    double Q0[36] = {0}, lam[6], loc[6], Waa[16], ref[4];
    for (size_t i = 0; i < N; i++)
        Q0[i * N + i] = 1.0;
    rp_lyap *ly = make_lyap(net, N, 1, 0, 1);
    RP_CK(rp_lyap_set_basis(ly, Q0, N * N), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_run(ly, net, T, NULL), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, lam, N), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_local(ly, loc, N), ly, rp_lyap_last_error);
    for (size_t i = 0; i < N; i++) {
        ck_assert_msg(!isnan(lam[i]) && !isnan(loc[i]), "NaN at %zu", i);
        if (i < n_alive)
            ck_assert_msg(isfinite(lam[i]), "lambda_%zu = %g", i, lam[i]);
        else
            ck_assert_msg(isinf(lam[i]) && lam[i] < 0, "lambda_%zu = %g, expected -inf", i, lam[i]);
    }
    /* The alive block is linear with constant Jacobian W_aa: oracle as in 1. */
    for (size_t i = 0; i < n_alive; i++)
        for (size_t j = 0; j < n_alive; j++)
            Waa[i * n_alive + j] = W[i * N + j];
    log_abs_eig(Waa, n_alive, ref);
    for (size_t i = 0; i < n_alive; i++)
        ck_assert_msg(fabs(lam[i] - ref[i]) <= LIN_C / (double)T, "alive lambda_%zu %g vs %g", i,
                      lam[i], ref[i]);
    double c = 0;
    RP_CK(rp_lyap_get_cond(ly, NULL, &c), ly,
          rp_lyap_last_error); /* max: the first QR had R_55 = 0 */
    ck_assert(isinf(c) && c > 0);
    rp_lyap_free(ly);

    /* Every unit dead: D_t = 0 from step 2 on; the QR and the twin both say -inf. */
    double bd[6] = {-100, -100, -100, -100, -100, -100}, z[6] = {0}, lmax = 0;
    RP_CK(rp_net_set_param(net, RP_PARAM_B, bd, N), net, rp_net_last_error);
    RP_CK(rp_net_set_initial_state(net, z, N), net, rp_net_last_error);
    ly = make_lyap(net, 2, 1, 0, 3);
    RP_CK(rp_lyap_run(ly, net, 10, NULL), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, lam, 2), ly, rp_lyap_last_error);
    ck_assert(isinf(lam[0]) && lam[0] < 0 && isinf(lam[1]) && lam[1] < 0);
    RP_CK(rp_lyap_max_direct(net, 10, NULL, 0, 1e-7, 1, &lmax, NULL, 0), net, rp_net_last_error);
    ck_assert(isinf(lmax) && lmax < 0);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 8b. collapse refill (issue 11 #4): dead relu units, alpha = 0 -------- */

/* The oracle: the trajectory s_0..s_T from rp_net_step (the library's forward
   pass is not under test here), the Jacobians D_t of MODEL.md §1 formed from
   W (and U, b for the rate form's u_t) with plain loops, and a random k-frame
   (uniform entries: not axis-aligned) started at t0 and evolved by D_t with
   this file's own modified Gram-Schmidt, no refill.  Returns the per-step
   growth of each direction's log R_ii over steps t0+1..T into out (k values,
   in Gram-Schmidt order: out[0] is the power iteration's lambda_1; the sum
   of the first j is the log-volume growth of the first j columns).  A column
   whose residual after the projections is below 1e-12 of its norm is
   dependent on the ones before it (D_t of rank < k on that step): its
   volume and all later ones vanish, out[j..k) = -inf, and the frame goes on
   with the columns before it. */
static void frame_oracle(rp_net *net, rp_form form, double alpha, size_t N, size_t n_in,
                         const double *x, size_t T, size_t t0, size_t k, uint64_t seed, double *out)
{
    double *W = malloc(N * N * sizeof *W), *U = malloc((N * n_in + 1) * sizeof *U);
    double *b = malloc(N * sizeof *b), *S = malloc((T + 1) * N * sizeof *S);
    double *F = malloc(N * k * sizeof *F), *G = malloc(N * k * sizeof *G),
           *dp = malloc(N * sizeof *dp);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    if (n_in)
        RP_CK(rp_net_get_param(net, RP_PARAM_U, U, N * n_in), net, rp_net_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_B, b, N), net, rp_net_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    RP_CK(rp_net_get_state(net, S, N), net, rp_net_last_error);
    for (size_t t = 1; t <= T; t++) {
        RP_CK(rp_net_step(net, x ? x + (t - 1) * n_in : NULL, NULL), net, rp_net_last_error);
        RP_CK(rp_net_get_state(net, S + t * N, N), net, rp_net_last_error);
    }
    tu_fill(F, N * k, -1.0, 1.0, seed);
    for (size_t j = 0; j < k; j++)
        out[j] = 0.0;
    size_t kk = k;
    for (size_t t = t0 + 1; t <= T; t++) {
        const double *sp = S + (t - 1) * N;
        for (size_t i = 0; i < N; i++) {
            if (form == RP_FORM_VOLTAGE) {
                dp[i] = act_d(RP_ACT_RELU, sp[i]); /* f'(h_{t-1}) */
            } else {
                double u = b[i];
                for (size_t j = 0; j < N; j++)
                    u += W[i * N + j] * sp[j];
                for (size_t j = 0; x && j < n_in; j++)
                    u += U[i * n_in + j] * x[(t - 1) * n_in + j];
                dp[i] = act_d(RP_ACT_RELU, u); /* f'(u_t) */
            }
        }
        for (size_t i = 0; i < N; i++)
            for (size_t l = 0; l < k; l++) {
                double z = 0.0;
                for (size_t j = 0; j < N; j++)
                    z += W[i * N + j] * (form == RP_FORM_VOLTAGE ? dp[j] : dp[i]) * F[j * k + l];
                G[i * k + l] = alpha * F[i * k + l] + (1.0 - alpha) * z;
            }
        for (size_t l = 0; l < kk; l++) { /* MGS: G -> F */
            double n0 = 0.0;
            for (size_t i = 0; i < N; i++)
                n0 += G[i * k + l] * G[i * k + l];
            for (size_t p = 0; p < l; p++) {
                double d = 0.0;
                for (size_t i = 0; i < N; i++)
                    d += F[i * k + p] * G[i * k + l];
                for (size_t i = 0; i < N; i++)
                    G[i * k + l] -= d * F[i * k + p];
            }
            double nn = 0.0;
            for (size_t i = 0; i < N; i++)
                nn += G[i * k + l] * G[i * k + l];
            nn = sqrt(nn);
            if (!(nn > 1e-12 * sqrt(n0))) {
                for (size_t j = l; j < k; j++)
                    out[j] = -INFINITY;
                kk = l;
                break;
            }
            out[l] += log(nn);
            for (size_t i = 0; i < N; i++)
                F[i * k + l] = G[i * k + l] / nn;
        }
    }
    for (size_t j = 0; j < k; j++)
        out[j] /= (double)(T - t0);
    free(W), free(U), free(b), free(S), free(F), free(G), free(dp);
}

/* Voltage relu, alpha = 0, h0 = 0: f'(h0) = 0, so D_1 = 0 and every tangent
   direction collapses at the first step (in the transient).  Before the fix
   the refill was the axis vectors Householder completes a zero column with;
   where the matching unit stays silent that direction stayed collapsed for
   good (lambda_1 = -inf, or e.g. -14.9 for a true -0.04).  Cases: {g, seed, k}. */
typedef struct dcase {
    double g;
    uint64_t seed;
    size_t k;
} dcase;
static const dcase dcases[] = {{0.5, 2, 1}, {0.5, 3, 1}, {2.0, 7, 1}, {2.0, 7, 3},
                               {0.5, 3, 3}, {2.0, 3, 3}, {2.0, 8, 3}};

/* Tolerance of a k-frame estimate against another along the same trajectory
   over Tc counted steps: C/Tc, C bounding the log of the two frames'
   different projections on the dominant subspace at the start of the count
   (as LIN_C, C = 5; Tc = 995 gives 5e-3).  Measured gaps are below 1e-3. */
START_TEST(dead_units_refill_matches_power_iteration)
{
    const dcase *dc = &dcases[_i];
    const size_t N = 6, T = 1000, transient = 5, k = dc->k;
    rp_net *net = make_net(N, 1, RP_FORM_VOLTAGE, RP_ACT_RELU, 0.0, dc->g, dc->seed);
    double x[1000], lam[3], ref[3], tol = 5.0 / (double)(T - transient);
    tu_fill(x, T, 0.9, 1.1, dc->seed + 7);
    rp_lyap *ly = make_lyap(net, k, 1, transient, 1);
    RP_CK(rp_lyap_run(ly, net, T, x), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, lam, k), ly, rp_lyap_last_error);
    frame_oracle(net, RP_FORM_VOLTAGE, 0.0, N, 1, x, T, transient, k, 1000 + dc->seed, ref);
    ck_assert_msg(isfinite(ref[0]), "case %d: the oracle's lambda_1 is %g", _i, ref[0]);
    ck_assert_msg(fabs(lam[0] - ref[0]) <= tol,
                  "case %d (g %g, k %zu): lambda_1 %.6f, power iteration %.6f", _i, dc->g, k,
                  lam[0], ref[0]);
    /* Partial sums: the log-volume growth of the first j directions. */
    double sum = 0.0, rsum = 0.0;
    for (size_t j = 0; j < k; j++) {
        sum += lam[j], rsum += ref[j];
        if (isfinite(rsum))
            ck_assert_msg(fabs(sum - rsum) <= tol * (double)(j + 1),
                          "case %d: sum of %zu exponents %.6f, frame log-volume growth %.6f", _i,
                          j + 1, sum, rsum);
        else /* a counted D_t of rank <= j: the (j+1)-volume vanished */
            ck_assert_msg(isinf(lam[j]) && lam[j] < 0, "case %d: lambda_%zu %g, frame %g", _i,
                          j + 1, lam[j], rsum);
    }
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* The twin from a silent start: h0 = -1, so f(h0) = f(h0 + eps v) = 0 and
   the twin merges exactly at step 1, in the transient (before the fix: -inf).
   It is re-perturbed and must agree with the power iteration (tolerance as
   above; the twin's O(eps) nonlinear bias is far below it). */
START_TEST(twin_merge_in_transient)
{
    const dcase *dc = &dcases[_i];
    const size_t N = 6, T = 1000, transient = 5;
    rp_net *net = make_net(N, 1, RP_FORM_VOLTAGE, RP_ACT_RELU, 0.0, dc->g, dc->seed);
    double x[1000], ref[1], ld = 0.0, h0[6] = {-1, -1, -1, -1, -1, -1};
    tu_fill(x, T, 0.9, 1.1, dc->seed + 7);
    RP_CK(rp_net_set_initial_state(net, h0, N), net, rp_net_last_error);
    frame_oracle(net, RP_FORM_VOLTAGE, 0.0, N, 1, x, T, transient, 1, 2000 + dc->seed, ref);
    RP_CK(rp_lyap_max_direct(net, T, x, transient, 1e-7, 3, &ld, NULL, 0), net, rp_net_last_error);
    ck_assert_msg(fabs(ld - ref[0]) <= 5.0 / (double)(T - transient),
                  "case %d: twin %.6f, power iteration %.6f", _i, ld, ref[0]);
    /* The same merge in a counted step is a genuine log 0 (header). */
    RP_CK(rp_lyap_max_direct(net, T, x, 0, 1e-7, 3, &ld, NULL, 0), net, rp_net_last_error);
    ck_assert_msg(isinf(ld) && ld < 0, "case %d: twin with the merge counted %g", _i, ld);
    rp_net_free(net);
}
END_TEST

/* The twin on a growing trajectory: relu, alpha = 0, g = 5, N = 32, so the
   state grows by ~2x a step (to ~1e60 at T = 200).  An absolute separation
   of 1e-7 falls below the state's rounding within ~60 steps and the twin
   merged (-inf before the fix, for a true lambda_max of 1.2-1.4); the separation
   relative to the state's scale keeps it.  Oracle: the power iteration of
   the test's own Jacobians along the same trajectory; tolerance as above. */
START_TEST(twin_growing_trajectory)
{
    const size_t N = 32, T = 200, transient = 5;
    rp_net *net = make_net(N, 1, RP_FORM_VOLTAGE, RP_ACT_RELU, 0.0, 5.0, 11 + (uint64_t)_i);
    set_h0(net, N, -1.0, 1.0, 12 + (uint64_t)_i);
    double x[200], ref[1], ld = 0.0, hT[32];
    tu_fill(x, T, 0.9, 1.1, 13);
    frame_oracle(net, RP_FORM_VOLTAGE, 0.0, N, 1, x, T, transient, 1, 3000, ref);
    RP_CK(rp_net_get_state(net, hT, N), net, rp_net_last_error);
    double hmax = 0.0;
    for (size_t i = 0; i < N; i++)
        hmax = fmax(hmax, fabs(hT[i]));
    ck_assert_msg(hmax > 1e20, "the trajectory does not grow (max |h_T| %g)", hmax);
    ck_assert_msg(ref[0] > 0.3, "the oracle's lambda_max %g is not positive", ref[0]);
    RP_CK(rp_lyap_max_direct(net, T, x, transient, 1e-7, 3, &ld, NULL, 0), net, rp_net_last_error);
    ck_assert_msg(fabs(ld - ref[0]) <= 5.0 / (double)(T - transient),
                  "case %d: twin %.6f, power iteration %.6f", _i, ld, ref[0]);
    rp_net_free(net);
}
END_TEST

/* ---- 9. bad input: status, message, nothing changed ------------------------ */

START_TEST(bad_input)
{
    const size_t N = 4;
    rp_net *net = make_net(N, 1, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.5, 1.0, 81);
    rp_lyap *ly = NULL;
    rp_lyap_config c;
    rp_lyap_config_init(&c, sizeof c);
    /* Without a handle the status is all: the const net is never written,
       not even its message (rp_lyap_create, rp_lyap_max_direct). */
    char net_msg[256];
    snprintf(net_msg, sizeof net_msg, "%s", rp_net_last_error(net));
    ck_assert_int_eq(rp_lyap_create(NULL, net, 1, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_lyap_create(&ly, NULL, 1, &c, NULL, 0), RP_ERR_INVALID_ARG);
    char m[256];
    ck_assert_int_eq(rp_lyap_create(&ly, net, 0, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(ly);
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    ck_assert_int_eq(rp_lyap_config_check(net, 0, &c, m, sizeof m), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(m, "k is 0"));
    ck_assert_int_eq(rp_lyap_create(&ly, net, N + 1, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    ck_assert_int_eq(rp_lyap_config_check(net, N + 1, &c, m, sizeof m), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(m, "k is 5"));
    c.t_ons = 0;
    ck_assert_int_eq(rp_lyap_create(&ly, net, 1, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    ck_assert_int_eq(rp_lyap_config_check(net, 1, &c, m, sizeof m), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(m, "t_ons"));
    rp_lyap_config_init(&c, sizeof c);
    c.struct_size = 3;
    ck_assert_int_eq(rp_lyap_create(&ly, net, 1, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    ck_assert_int_eq(rp_lyap_config_check(net, 1, &c, m, sizeof m), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(m, "struct_size"));
    ck_assert_int_eq(rp_lyap_config_check(NULL, 1, NULL, m, sizeof m), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(m, "net is NULL"));
    ck_assert_int_eq(rp_lyap_config_check(net, 1, NULL, m, sizeof m), RP_OK);
    ck_assert_str_eq(m, "");
    ck_assert_ptr_null(ly);

    rp_lyap_config_init(&c, sizeof c);
    c.transient = 10;
    ck_assert_int_eq(rp_lyap_create(&ly, net, 2, &c, NULL, 0), RP_OK);
    double out[4];
    ck_assert_int_eq(rp_lyap_get_spectrum(ly, out, 2), RP_ERR_STATE);
    ck_assert_int_eq(rp_lyap_get_local(ly, out, 2), RP_ERR_STATE);
    ck_assert_int_eq(rp_lyap_get_cond(ly, out, NULL), RP_ERR_STATE);
    /* T <= transient: nothing counted yet. */
    ck_assert_int_eq(rp_lyap_run(ly, net, 10, NULL), RP_OK);
    ck_assert_int_eq(rp_lyap_get_spectrum(ly, out, 2), RP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(rp_lyap_last_error(ly), "transient 10"));
    ck_assert_int_eq(rp_lyap_run(ly, net, 5, NULL), RP_OK);
    RP_CK(rp_lyap_get_spectrum(ly, out, 2), ly, rp_lyap_last_error);
    ck_assert_int_eq(rp_lyap_get_spectrum(ly, out, 3), RP_ERR_DIM_MISMATCH);
    ck_assert_int_eq(rp_lyap_get_spectrum(ly, out, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_lyap_get_spectrum(ly, NULL, 2), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_lyap_run(NULL, net, 1, NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_lyap_run(ly, NULL, 1, NULL), RP_ERR_INVALID_ARG);

    /* A non-finite input is refused before anything runs. */
    double before[2], after[2], x[3] = {0.1, NAN, 0.2};
    RP_CK(rp_lyap_get_spectrum(ly, before, 2), ly, rp_lyap_last_error);
    ck_assert_int_eq(rp_lyap_run(ly, net, 3, x), RP_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(rp_lyap_last_error(ly), "step 1"));
    RP_CK(rp_lyap_get_spectrum(ly, after, 2), ly, rp_lyap_last_error);
    ck_assert_mem_eq(before, after, sizeof before);
    size_t tot = 0;
    RP_CK(rp_lyap_get_steps(ly, NULL, &tot), ly, rp_lyap_last_error);
    ck_assert_uint_eq(tot, 15);

    /* Another network's dimensions. */
    rp_net *other = make_net(N + 1, 1, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.5, 1.0, 82);
    ck_assert_int_eq(rp_lyap_run(ly, other, 1, NULL), RP_ERR_DIM_MISMATCH);
    rp_net_free(other);
    other = make_net(N, 1, RP_FORM_RATE, RP_ACT_TANH, 0.5, 1.0, 82);
    ck_assert_int_eq(rp_lyap_run(ly, other, 1, NULL), RP_ERR_DIM_MISMATCH);
    rp_net_free(other);

    /* set_basis: NULL, length, non-finite, rank-deficient; nothing changes. */
    double Q0[8] = {1, 2, 1, 2, 1, 2, 1, 2}; /* columns parallel */
    ck_assert_int_eq(rp_lyap_set_basis(ly, NULL, 8), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_lyap_set_basis(ly, Q0, 7), RP_ERR_DIM_MISMATCH);
    ck_assert_ptr_nonnull(strstr(rp_lyap_last_error(ly), "expected n_rec*k = 8"));
    ck_assert_int_eq(rp_lyap_set_basis(ly, Q0, 8), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_lyap_last_error(ly), "rank"));
    Q0[3] = INFINITY;
    ck_assert_int_eq(rp_lyap_set_basis(ly, Q0, 8), RP_ERR_NONFINITE);
    RP_CK(rp_lyap_get_spectrum(ly, after, 2), ly, rp_lyap_last_error);
    ck_assert_mem_eq(before, after, sizeof before);
    rp_lyap_free(ly);

    /* max_direct */
    double l = 0;
    ck_assert_int_eq(rp_lyap_max_direct(net, 10, NULL, 10, 1e-7, 1, &l, NULL, 0), RP_ERR_STATE);
    char dm[128];
    ck_assert_int_eq(rp_lyap_max_direct(net, 10, NULL, 0, 0.0, 1, &l, dm, sizeof dm),
                     RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(dm, "eps") != NULL, "%s", dm);
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    ck_assert_int_eq(rp_lyap_max_direct(net, 10, NULL, 0, 1e-7, 1, NULL, NULL, 0),
                     RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_lyap_max_direct(NULL, 10, NULL, 0, 1e-7, 1, &l, NULL, 0),
                     RP_ERR_INVALID_ARG);
    double xb[10] = {0};
    xb[4] = NAN;
    ck_assert_int_eq(rp_lyap_max_direct(net, 10, xb, 0, 1e-7, 1, &l, NULL, 0), RP_ERR_NONFINITE);
    ck_assert_str_eq(rp_net_last_error(net), net_msg);
    rp_lyap_free(NULL);
    rp_net_free(net);
}
END_TEST

START_TEST(overflow_restores)
{
    /* Linear, alpha = 0, W = 1e120 I: the state overflows at step 3; the
       failed run leaves the estimator as it was. */
    const size_t N = 3;
    rp_net *net = make_net(N, 0, RP_FORM_VOLTAGE, RP_ACT_LINEAR, 0.0, 0.0, 1);
    double W[9] = {1e120, 0, 0, 0, 1e120, 0, 0, 0, 1e120}, h0[3] = {1, 1, 1};
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, 9), net, rp_net_last_error);
    RP_CK(rp_net_set_initial_state(net, h0, 3), net, rp_net_last_error);
    rp_lyap *ly = make_lyap(net, 2, 1, 0, 1);
    RP_CK(rp_lyap_run(ly, net, 1, NULL), ly, rp_lyap_last_error);
    double before[2], after[2];
    RP_CK(rp_lyap_get_spectrum(ly, before, 2), ly, rp_lyap_last_error);
    ck_assert_int_eq(rp_lyap_run(ly, net, 5, NULL), RP_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(rp_lyap_last_error(ly), "diverged"));
    RP_CK(rp_lyap_get_spectrum(ly, after, 2), ly, rp_lyap_last_error);
    ck_assert_mem_eq(before, after, sizeof before);
    size_t tot = 0;
    RP_CK(rp_lyap_get_steps(ly, NULL, &tot), ly, rp_lyap_last_error);
    ck_assert_uint_eq(tot, 1);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

Suite *suite_lyap(void)
{
    Suite *s = suite_create("lyap");
    TCase *tc = tcase_create("oracles");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, linear_eigenvalues, 0, 2);
    tcase_add_loop_test(tc, sum_equals_logdet, 0, 4);
    tcase_add_loop_test(tc, qr_matches_twin, 0, 2);
    tcase_add_loop_test(tc, stable_and_chaotic, 0, 2);
    tcase_add_loop_test(tc, t_ons_independent, 0, 2);
    tcase_add_loop_test(tc, chunked_bitwise, 0, 3);
    tcase_add_test(tc, cond_diagonal);
    tcase_add_test(tc, dead_units_minus_inf);
    tcase_add_loop_test(tc, dead_units_refill_matches_power_iteration, 0,
                        (int)(sizeof dcases / sizeof dcases[0]));
    tcase_add_loop_test(tc, twin_merge_in_transient, 0, 3);
    tcase_add_loop_test(tc, twin_growing_trajectory, 0, 3);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, bad_input);
    tcase_add_test(te, overflow_restores);
    suite_add_tcase(s, te);
    return s;
}
