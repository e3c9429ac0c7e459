/* Lyapunov spectra and gradient flossing on single-precision nets
   (rp_net_config.precision = RP_PRECISION_SINGLE; MODEL.md §6, §7).

   Oracles: the double estimator on a double net holding the same (float)
   parameters, initial state and inputs, within a first-order bound on the
   float rounding derived below; the analytic cases of test_lyap.c (a linear
   net's constant Jacobian: lambda_i = log|mu_i|; W = 0: lambda_i = log
   alpha) computed in the test with LAPACK in double; the flossing gradient
   against the double one and against central differences of the double F.

   Each numerical test fails when the float path is sabotaged once (tried
   when they were written): the float Jacobian's leak a multiplied by 1.01
   in rp__jacobian_apply_f fails spectrum_vs_double (|d| ~9e-3 against tol
   <= 5e-4), linear_eigenvalues_single, zero_w_single, floss_local_vs_double
   (its exponents) and floss_exact_vs_fd; the float reverse pass's rbar
   (dF/dR_ii) multiplied by 1.01, which leaves the exponents alone, fails
   floss_local_vs_double (entries ~1e-4 off against tol 8e-5) and
   floss_exact_vs_fd (~1e-4 against 2e-5). */
#include "testutil.h"

#include <float.h>
#include <lapacke.h>

#define U_F ((double)FLT_EPSILON / 2) /* unit roundoff of float, 2^-24 */
#define U_D ((double)DBL_EPSILON / 2)

static double gam(double n) { return n * (U_F + U_D) / (1.0 - n * (U_F + U_D)); }

static rp_net *mk(size_t n_in, size_t N, rp_form form, rp_activation act, double alpha,
                  rp_precision prec)
{
    rp_net_config c = tu_net_config(n_in, N, 1, 1, form, act, alpha);
    c.precision = prec;
    rp_net *net = NULL;
    char msg[256];
    ck_assert_msg(rp_net_create(&net, &c, msg, sizeof msg) == RP_OK, "%s", msg);
    return net;
}

static rp_lyap *mk_lyap(const rp_net *net, size_t k, size_t t_ons, size_t transient)
{
    rp_lyap_config c;
    ck_assert_int_eq(rp_lyap_config_init(&c, sizeof c), RP_OK);
    c.t_ons = t_ons;
    c.transient = transient;
    c.seed = 7;
    rp_lyap *ly = NULL;
    char msg[256];
    ck_assert_msg(rp_lyap_create(&ly, net, k, &c, msg, sizeof msg) == RP_OK, "%s", msg);
    return ly;
}

/* Both nets get the same float-valued parameters: W scaled so that every
   row's absolute sum is wsum (with alpha 0.8 and wsum 0.9 the step is a
   contraction in the max norm, as in test_precision.c, so the float and
   double trajectories stay within a bounded distance), the rest uniform. */
static void same_params(rp_net *sn, rp_net *dn, size_t n_in, size_t N, double wsum, uint64_t seed)
{
    const size_t len[RP_PARAM_COUNT] = {N * N, N * n_in, N, N, 1};
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        double *a = malloc((len[p] + 1) * sizeof *a);
        tu_fill(a, len[p], -1.0, 1.0, seed * 10 + (uint64_t)p);
        if (p == RP_PARAM_W && wsum > 0.0)
            for (size_t i = 0; i < N; i++) {
                double s = 0.0;
                for (size_t j = 0; j < N; j++)
                    s += fabs(a[i * N + j]);
                for (size_t j = 0; j < N; j++)
                    a[i * N + j] *= wsum / s;
            }
        if (p == RP_PARAM_W && wsum == 0.0)
            memset(a, 0, len[p] * sizeof *a);
        for (size_t i = 0; i < len[p]; i++)
            a[i] = (double)(float)a[i];
        RP_CK(rp_net_set_param(sn, (rp_param)p, a, len[p]), sn, rp_net_last_error);
        RP_CK(rp_net_set_param(dn, (rp_param)p, a, len[p]), dn, rp_net_last_error);
        free(a);
    }
    double *h0 = malloc(N * sizeof *h0);
    tu_fill(h0, N, -0.5, 0.5, seed + 99);
    for (size_t i = 0; i < N; i++)
        h0[i] = (double)(float)h0[i];
    RP_CK(rp_net_set_initial_state(sn, h0, N), sn, rp_net_last_error);
    RP_CK(rp_net_set_initial_state(dn, h0, N), dn, rp_net_last_error);
    free(h0);
}

/* ||W||_1 ||W||_inf >= ||W||_2^2 (and the same for |W|): the bound on the
   spectral norm used below. */
static double norm2_bound(const double *W, size_t N)
{
    double n1 = 0.0, ni = 0.0;
    for (size_t i = 0; i < N; i++) {
        double r = 0.0, c = 0.0;
        for (size_t j = 0; j < N; j++) {
            r += fabs(W[i * N + j]);
            c += fabs(W[j * N + i]);
        }
        ni = fmax(ni, r);
        n1 = fmax(n1, c);
    }
    return sqrt(n1 * ni);
}

/* The tolerance, derived (first order in u = u_f + u_d: the double
   estimator's own rounding is added in).

   Step: the float Jacobian product Y = a Q + g W (diag(f') Q) (voltage; the
   rate form's a Q + g diag(f') (W Q) alike) of a unit column q differs from
   the exact one by at most gamma_{N+2} (a + g |||W|||_2) (Higham §3.5: a
   dot product of length N, the scaling by f' and the axpy), while
   |Y q| >= sigma_min(D) >= a - g w2, w2 >= ||W||_2 (norm2_bound, f' <= 1):
     eps_prod = gamma_{N+2} (a + g w2) / sigma_min.
   The float trajectory is not the double one: the Jacobian is evaluated at
   states E apart (E measured in the max norm along the trial by running the
   two nets), which moves f' by at most L E (L = max|f''|: 4/(3 sqrt 3) for
   tanh, 0 for linear) and D by g w2 L E:
     eps_jac = g w2 L E / sigma_min.
   Re-orthonormalization: Householder QR's R is the exact R of Y + dY,
   |dY_j| <= gamma_{2Nk} |Y_j| (Higham Thm 19.4, c = 2), eps_qr.
   A relative column perturbation eps of a block of condition number kappa
   moves R by at most kappa eps ||R|| (QR perturbation theory, first order),
   so log R_jj by kappa^2 eps, kappa <= (sigma_max/sigma_min)^{t_ons} for the
   product of t_ons steps with an orthonormal basis; each window therefore
   differs by kappa^2 (t_ons (eps_prod + eps_jac) + eps_qr).  The same
   perturbation also moves the basis handed to the next window; to first
   order its effect on the later sums is at most that again (the basis
   enters the next R only through the same kappa^2 eps), a factor 2.  The
   exponents are means over windows of t_ons steps:
     |lambda_s - lambda_d| <= 2 kappa^2 (t_ons (eps_prod + eps_jac) + eps_qr) / t_ons. */
static double lyap_tol(size_t N, size_t k, size_t t_ons, double a, double w2, double L, double E)
{
    const double g = 1.0 - a, smin = a - g * w2, smax = a + g * w2;
    ck_assert_msg(smin > 0.0, "the bound needs a - g w2 > 0 (got %g)", smin);
    const double kappa = pow(smax / smin, (double)t_ons);
    const double e_prod = gam((double)N + 2.0) * smax / smin;
    const double e_jac = g * w2 * L * E / smin;
    const double e_qr = gam(2.0 * (double)N * (double)k);
    return 2.0 * kappa * kappa * ((double)t_ons * (e_prod + e_jac) + e_qr) / (double)t_ons;
}

/* ---- 1. the single spectrum against the double one --------------------- */

static const struct {
    rp_form form;
    rp_activation act;
    size_t k, t_ons;
} ccases[] = {
    {RP_FORM_VOLTAGE, RP_ACT_TANH, 16, 1},   {RP_FORM_VOLTAGE, RP_ACT_TANH, 4, 4},
    {RP_FORM_RATE, RP_ACT_LINEAR, 16, 1},    {RP_FORM_RATE, RP_ACT_LINEAR, 5, 3},
    {RP_FORM_VOLTAGE, RP_ACT_LINEAR, 16, 2},
};

START_TEST(spectrum_vs_double)
{
    const size_t N = 16, n_in = 2, T = 600, transient = 60, k = ccases[_i].k;
    const size_t t_ons = ccases[_i].t_ons;
    const double a = 0.8;
    rp_net *sn = mk(n_in, N, ccases[_i].form, ccases[_i].act, a, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, ccases[_i].form, ccases[_i].act, a, RP_PRECISION_DOUBLE);
    same_params(sn, dn, n_in, N, 0.9, 3 + (uint64_t)_i);
    double *x = malloc(T * n_in * sizeof *x);
    tu_fill(x, T * n_in, -1.0, 1.0, 41);
    for (size_t i = 0; i < T * n_in; i++)
        x[i] = (double)(float)x[i];
    /* E: the two trajectories' distance, max over steps and units */
    double E = 0.0, hs[16], hd[16];
    RP_CK(rp_net_reset(sn), sn, rp_net_last_error);
    RP_CK(rp_net_reset(dn), dn, rp_net_last_error);
    for (size_t t = 0; t < T; t++) {
        RP_CK(rp_net_step(sn, x + t * n_in, NULL), sn, rp_net_last_error);
        RP_CK(rp_net_step(dn, x + t * n_in, NULL), dn, rp_net_last_error);
        RP_CK(rp_net_get_state(sn, hs, N), sn, rp_net_last_error);
        RP_CK(rp_net_get_state(dn, hd, N), dn, rp_net_last_error);
        for (size_t i = 0; i < N; i++)
            E = fmax(E, fabs(hs[i] - hd[i]));
    }
    rp_lyap *ls = mk_lyap(sn, k, t_ons, transient), *ld = mk_lyap(dn, k, t_ons, transient);
    /* two runs: the continuation is part of the contract */
    RP_CK(rp_lyap_run(ls, sn, T / 2, x), ls, rp_lyap_last_error);
    RP_CK(rp_lyap_run(ls, sn, T - T / 2, x + (T / 2) * n_in), ls, rp_lyap_last_error);
    RP_CK(rp_lyap_run(ld, dn, T, x), ld, rp_lyap_last_error);
    double W[256], lam_s[16], lam_d[16];
    RP_CK(rp_net_get_param(dn, RP_PARAM_W, W, N * N), dn, rp_net_last_error);
    RP_CK(rp_lyap_get_spectrum(ls, lam_s, k), ls, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ld, lam_d, k), ld, rp_lyap_last_error);
    const double L = ccases[_i].act == RP_ACT_TANH ? 4.0 / (3.0 * sqrt(3.0)) : 0.0;
    const double tol = lyap_tol(N, k, t_ons, a, norm2_bound(W, N), L, E);
    double worst = 0.0;
    for (size_t i = 0; i < k; i++) {
        const double d = fabs(lam_s[i] - lam_d[i]);
        worst = fmax(worst, d);
        ck_assert_msg(d <= tol,
                      "case %d: lambda_%zu single %.9f double %.9f (|d| %.2e > tol %.2e, E %.2e)",
                      _i, i, lam_s[i], lam_d[i], d, tol, E);
    }
    /* the exponents are not the same bits: the float path ran */
    ck_assert_msg(worst > 0.0, "case %d: single and double spectra are identical", _i);
    size_t cs, ts, cd, td;
    RP_CK(rp_lyap_get_steps(ls, &cs, &ts), ls, rp_lyap_last_error);
    RP_CK(rp_lyap_get_steps(ld, &cd, &td), ld, rp_lyap_last_error);
    ck_assert_uint_eq(cs, cd);
    ck_assert_uint_eq(ts, td);
    double cl, cm;
    RP_CK(rp_lyap_get_cond(ls, &cl, &cm), ls, rp_lyap_last_error);
    ck_assert(cl >= 1.0 && cm >= cl);
    if (getenv("RP_TEST_VERBOSE"))
        fprintf(stderr, "spectrum_vs_double %d: worst %.3e tol %.3e E %.3e\n", _i, worst, tol, E);
    rp_lyap_free(ls);
    rp_lyap_free(ld);
    rp_net_free(sn);
    rp_net_free(dn);
    free(x);
}
END_TEST

/* ---- 2. analytic: linear net, constant D = a I + g W ----------------------- */

static int cmp_desc(const void *p, const void *q)
{
    double x = *(const double *)p, y = *(const double *)q;
    return (x < y) - (x > y);
}

/* log|mu_i| of the n x n D, descending, and D's singular values' extremes. */
static void eig_svd(const double *D, size_t n, double *logmu, double *smax, double *smin)
{
    double *A = malloc(n * n * sizeof *A), *wr = malloc(n * sizeof *wr),
           *wi = malloc(n * sizeof *wi);
    memcpy(A, D, n * n * sizeof *A);
    ck_assert_int_eq(LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)n, A, (lapack_int)n, wr,
                                   wi, NULL, 1, NULL, 1),
                     0);
    for (size_t i = 0; i < n; i++)
        logmu[i] = 0.5 * log(wr[i] * wr[i] + wi[i] * wi[i]);
    qsort(logmu, n, sizeof *logmu, cmp_desc);
    memcpy(A, D, n * n * sizeof *A);
    double *sup = malloc(n * sizeof *sup);
    ck_assert_int_eq(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)n, (lapack_int)n, A,
                                    (lapack_int)n, wr, NULL, 1, NULL, 1, sup),
                     0);
    *smax = wr[0];
    *smin = wr[n - 1];
    free(A);
    free(wr);
    free(wi);
    free(sup);
}

/* test_lyap.c's linear_eigenvalues in float: h0 = 0, b = 0 and no input keep
   the state at 0 (a float net of gain 1.3 would overflow otherwise), the
   Jacobian is constant.  The QR estimate converges as LIN_C / T (test_lyap.c:
   C = 5 for 6-unit nets); the float rounding adds the bound of lyap_tol with
   kappa = sigma_max(D)/sigma_min(D), eps_prod = gamma_{N+2} (a + g |||W|||) /
   sigma_min (here w2 = norm2_bound) and no trajectory term (E = 0). */
#define LIN_C 5.0

START_TEST(linear_eigenvalues_single)
{
    const rp_form form = (rp_form)(_i % 2);
    const size_t N = 6, T = 4000;
    const double a = 0.5, g = 0.5;
    rp_net *net = mk(1, N, form, RP_ACT_LINEAR, a, RP_PRECISION_SINGLE);
    double W[36], D[36], ref[6], lam[6], smax, smin;
    const double s = 1.3 * sqrt(3.0 / (double)N);
    tu_fill(W, N * N, -s, s, 11 + (uint64_t)_i);
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error); /* as floats */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            D[i * N + j] = (i == j ? a : 0.0) + g * W[i * N + j];
    eig_svd(D, N, ref, &smax, &smin);
    rp_lyap *ly = mk_lyap(net, N, 1, 0);
    RP_CK(rp_lyap_run(ly, net, T, NULL), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, lam, N), ly, rp_lyap_last_error);
    const double kappa = smax / smin, w2 = norm2_bound(W, N);
    const double e = gam((double)N + 2.0) * (a + g * w2) / smin + gam(2.0 * (double)N * N);
    const double tol = LIN_C / (double)T + 2.0 * kappa * kappa * e;
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(fabs(lam[i] - ref[i]) <= tol,
                      "form %d: lambda_%zu = %.8f, log|mu| = %.8f (|d| %.2e > tol %.2e)", (int)form,
                      i, lam[i], ref[i], fabs(lam[i] - ref[i]), tol);
    rp_lyap_free(ly);
    rp_net_free(net);
}
END_TEST

/* ---- 3. analytic: W = 0, D_t = a I --------------------------------------- */

/* Every exponent is log a_f, a_f = (float)alpha the float net's leak: D Q =
   a_f Q rounds once (eps_prod = u_f; 0 for a = 0.5), the QR of a_f times an
   orthonormal basis has R_jj = a_f (1 + O(gamma_{2Nk})) (kappa = 1), so with
   lyap_tol's reasoning |lambda_j - log a_f| <= 2 (u_f + gamma_{2Nk}) per
   window.  tanh and relu, both forms, inputs on: f' does not enter. */
START_TEST(zero_w_single)
{
    const rp_form form = (rp_form)(_i % 2);
    const rp_activation act = _i / 2 ? RP_ACT_RELU : RP_ACT_TANH;
    const size_t N = 12, n_in = 3, T = 300;
    const double alpha = _i / 2 ? 0.5 : 0.8;
    rp_net *sn = mk(n_in, N, form, act, alpha, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, form, act, alpha, RP_PRECISION_DOUBLE);
    same_params(sn, dn, n_in, N, 0.0, 5);
    double *x = malloc(T * n_in * sizeof *x);
    tu_fill(x, T * n_in, -1.0, 1.0, 9);
    rp_lyap *ly = mk_lyap(sn, N, 1, 10);
    RP_CK(rp_lyap_run(ly, sn, T, x), ly, rp_lyap_last_error);
    double lam[12], loc[12];
    RP_CK(rp_lyap_get_spectrum(ly, lam, N), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_local(ly, loc, N), ly, rp_lyap_last_error);
    const double ref = log((double)(float)alpha);
    const double tol = 2.0 * (U_F + gam(2.0 * (double)N * (double)N));
    for (size_t i = 0; i < N; i++) {
        ck_assert_msg(fabs(lam[i] - ref) <= tol,
                      "case %d: lambda_%zu = %.10f, log a_f = %.10f (tol %.2e)", _i, i, lam[i], ref,
                      tol);
        ck_assert_msg(fabs(loc[i] - ref) <= tol, "case %d: local_%zu = %.10f (tol %.2e)", _i, i,
                      loc[i], tol);
    }
    rp_lyap_free(ly);
    rp_net_free(sn);
    rp_net_free(dn);
    free(x);
}
END_TEST

/* ---- 4. contracts: precision mismatch, failure restores ------------------ */

START_TEST(lyap_contracts_single)
{
    rp_net *sn = mk(1, 6, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.8, RP_PRECISION_SINGLE);
    rp_net *dn = mk(1, 6, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.8, RP_PRECISION_DOUBLE);
    char msg[256];
    ck_assert_int_eq(rp_lyap_config_check(sn, 3, NULL, msg, sizeof msg), RP_OK);
    rp_lyap *ls = mk_lyap(sn, 3, 1, 0), *ld = mk_lyap(dn, 3, 1, 0);
    ck_assert_int_eq(rp_lyap_run(ls, dn, 5, NULL), RP_ERR_DIM_MISMATCH);
    ck_assert_ptr_nonnull(strstr(rp_lyap_last_error(ls), "precision"));
    ck_assert_int_eq(rp_lyap_run(ld, sn, 5, NULL), RP_ERR_DIM_MISMATCH);
    /* a step that overflows the float state restores the estimator */
    RP_CK(rp_lyap_run(ls, sn, 3, NULL), ls, rp_lyap_last_error);
    double before[3], after[3];
    RP_CK(rp_lyap_get_spectrum(ls, before, 3), ls, rp_lyap_last_error);
    double xbig = 1e30; /* a float, but U x g overflows float */
    double U[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
    RP_CK(rp_net_set_param(sn, RP_PARAM_U, U, 6), sn, rp_net_last_error);
    ck_assert_int_eq(rp_lyap_run(ls, sn, 2, &(double[2]){xbig, xbig}[0]), RP_ERR_NONFINITE);
    RP_CK(rp_lyap_get_spectrum(ls, after, 3), ls, rp_lyap_last_error);
    ck_assert_mem_eq(before, after, sizeof before);
    size_t tot = 0;
    RP_CK(rp_lyap_get_steps(ls, NULL, &tot), ls, rp_lyap_last_error);
    ck_assert_uint_eq(tot, 3);
    /* set_basis on a single estimator */
    double Q0[18];
    tu_fill(Q0, 18, -1.0, 1.0, 4);
    RP_CK(rp_lyap_set_basis(ls, Q0, 18), ls, rp_lyap_last_error);
    rp_lyap_free(ls);
    rp_lyap_free(ld);
    rp_net_free(sn);
    rp_net_free(dn);
}
END_TEST

/* ---- 5. flossing gradients ------------------------------------------------ */

static rp_floss *mk_floss(const rp_net *net, size_t k, size_t t_ons, size_t transient,
                          rp_floss_mode mode, double target)
{
    rp_floss_config c;
    ck_assert_int_eq(rp_floss_config_init(&c, sizeof c), RP_OK);
    c.k = k;
    c.t_ons = t_ons;
    c.transient = transient;
    c.mode = mode;
    c.target = target;
    c.seed = 3;
    rp_floss *fl = NULL;
    char msg[256];
    ck_assert_msg(rp_floss_create(&fl, net, &c, msg, sizeof msg) == RP_OK, "%s", msg);
    return fl;
}

/* F, the exponents and the W, U, b gradient of one trial into g (N*N + N*n_in + N). */
static void floss_eval(rp_floss *fl, rp_net *net, size_t T, const double *x, size_t N, size_t n_in,
                       double *F, double *lam, double *g)
{
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, net, NULL, 0), RP_OK);
    RP_CK(rp_floss_trial(fl, net, T, x, gr, F, lam), fl, rp_floss_last_error);
    if (g) {
        RP_CK(rp_grad_get(gr, RP_PARAM_W, g, N * N), gr, rp_grad_last_error);
        RP_CK(rp_grad_get(gr, RP_PARAM_U, g + N * N, N * n_in), gr, rp_grad_last_error);
        RP_CK(rp_grad_get(gr, RP_PARAM_B, g + N * N + N * n_in, N), gr, rp_grad_last_error);
    }
    rp_grad_free(gr);
}

/* Linear nets, the local rule: the single gradient against the double one.
   The bound, derived (first order, the notation of lyap_tol).  With f' = 1
   the trajectory does not enter D, and the local rule's dF/dW is a sum over
   the counted steps of g Ybar_t Z_t^T, Ybar_t = (D^T)^m Q_j diag(c) R_j^{-T}
   (m < t_ons steps back from the window's end), Z_t = P_t (voltage:
   diag(f') P_t): |Ybar_t| <= sqrt(k) max|c| kappa_w / sigma_min^{t_ons}
   (||R^{-1}|| <= 1/sigma_min(D)^{t_ons}, ||D^T|| <= sigma_max), |Z_t| <=
   sqrt(k) kappa_w, c_i = 2 (lambda_i - target)/(k S) over S counted steps.
   The sum of the terms' magnitudes is therefore at most
     A = 2 g max|lambda_i - target| kappa_w^2 / sigma_min^{t_ons}
   (S and k cancel).  Each term carries the window's relative error
   e_w = t_ons lyap_tol / 2 ... (lyap_tol's per-window bound), and c itself
   moves by the exponents' difference lyap_tol: the entries of the two
   gradients differ by at most
     A (e_w + lyap_tol / max|lambda_i - target|). */
static const struct {
    rp_form form;
    size_t k, t_ons;
} fcases[] = {
    {RP_FORM_VOLTAGE, 4, 1}, {RP_FORM_RATE, 4, 1}, {RP_FORM_VOLTAGE, 3, 3}, {RP_FORM_RATE, 6, 2}};

START_TEST(floss_local_vs_double)
{
    const size_t N = 12, n_in = 2, T = 240, transient = 24, k = fcases[_i].k;
    const size_t t_ons = fcases[_i].t_ons, P = N * N + N * n_in + N;
    const double a = 0.8, g = 0.2, target = 0.1;
    rp_net *sn = mk(n_in, N, fcases[_i].form, RP_ACT_LINEAR, a, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, fcases[_i].form, RP_ACT_LINEAR, a, RP_PRECISION_DOUBLE);
    same_params(sn, dn, n_in, N, 0.9, 20 + (uint64_t)_i);
    double *x = malloc(T * n_in * sizeof *x), *gs = malloc(P * sizeof *gs);
    double *gd = malloc(P * sizeof *gd), W[144], ls[12], ld[12], Fs, Fd;
    tu_fill(x, T * n_in, -1.0, 1.0, 8);
    rp_floss *fs = mk_floss(sn, k, t_ons, transient, RP_FLOSS_LOCAL, target);
    rp_floss *fd = mk_floss(dn, k, t_ons, transient, RP_FLOSS_LOCAL, target);
    floss_eval(fs, sn, T, x, N, n_in, &Fs, ls, gs);
    floss_eval(fd, dn, T, x, N, n_in, &Fd, ld, gd);
    RP_CK(rp_net_get_param(dn, RP_PARAM_W, W, N * N), dn, rp_net_last_error);
    const double w2 = norm2_bound(W, N), smin = a - g * w2, smax = a + g * w2;
    const double kw = pow(smax / smin, (double)t_ons);
    const double ltol = lyap_tol(N, k, t_ons, a, w2, 0.0, 0.0);
    double dl = 0.0;
    for (size_t i = 0; i < k; i++) {
        ck_assert_msg(fabs(ls[i] - ld[i]) <= ltol, "case %d: lambda_%zu %.9f vs %.9f (tol %.2e)",
                      _i, i, ls[i], ld[i], ltol);
        dl = fmax(dl, fabs(ld[i] - target));
    }
    const double A = 2.0 * g * dl * kw * kw / pow(smin, (double)t_ons);
    const double tol = A * ((double)t_ons * ltol / 2.0 + ltol / dl);
    const double Ftol = 2.0 * dl * ltol + ltol * ltol;
    ck_assert_msg(fabs(Fs - Fd) <= Ftol, "case %d: F %.9g vs %.9g (tol %.2e)", _i, Fs, Fd, Ftol);
    double worst = 0.0, gmax = 0.0;
    for (size_t i = 0; i < P; i++) {
        worst = fmax(worst, fabs(gs[i] - gd[i]));
        gmax = fmax(gmax, fabs(gd[i]));
        ck_assert_msg(fabs(gs[i] - gd[i]) <= tol,
                      "case %d: entry %zu single %.9g double %.9g (tol %.2e)", _i, i, gs[i], gd[i],
                      tol);
    }
    ck_assert_msg(worst > 0.0 && gmax > 0.0, "case %d: worst %g, |g| %g", _i, worst, gmax);
    if (getenv("RP_TEST_VERBOSE"))
        fprintf(stderr, "floss_local_vs_double %d: worst %.3e tol %.3e |g| %.3e\n", _i, worst, tol,
                gmax);
    rp_floss_free(fs);
    rp_floss_free(fd);
    rp_net_free(sn);
    rp_net_free(dn);
    free(x);
    free(gs);
    free(gd);
}
END_TEST

/* tanh nets, the exact rule (the one that is the gradient of F): the single
   gradient against central differences of the double F, entry by entry
   on a sample.  The difference's error: the central difference's
   truncation, estimated by Richardson (|D(h) - D(2h)| is 3/4 of D(2h)'s
   h^2 term, so D(h)'s is |D(h) - D(2h)| / 3; counted twice), its rounding
   2 u_d |F| / h; and the float gradient's own error.  The latter, first
   order: the float reverse pass is the exact reverse pass of a forward pass
   whose T steps each carry the relative error e of lyap_tol's window bound
   (products, trajectory, QR; t_ons = 1), and of the exponents' difference
   lyap_tol in c; every entry of dF/dtheta is a sum of at most T chains
   through those steps, so it moves by at most (T e + lyap_tol / max|lambda -
   target|) times the largest entry of the gradient (the cancellation
   inside the sum is not bounded here; the double gradient's largest entry
   stands for the terms' scale, first order). */
START_TEST(floss_exact_vs_fd)
{
    const rp_form form = (rp_form)(_i % 2);
    const size_t N = 8, n_in = 2, T = 60, transient = 6, k = 3, P = N * N + N * n_in + N;
    const double a = 0.8, target = 0.0;
    rp_net *sn = mk(n_in, N, form, RP_ACT_TANH, a, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, form, RP_ACT_TANH, a, RP_PRECISION_DOUBLE);
    same_params(sn, dn, n_in, N, 0.9, 30 + (uint64_t)_i);
    double *x = malloc(T * n_in * sizeof *x), *gs = malloc(P * sizeof *gs);
    double *gd = malloc(P * sizeof *gd), th[64 + 16 + 8], lam[8], Fs, F0;
    tu_fill(x, T * n_in, -1.0, 1.0, 18);
    for (size_t i = 0; i < T * n_in; i++)
        x[i] = (double)(float)x[i];
    rp_floss *fs = mk_floss(sn, k, 1, transient, RP_FLOSS_EXACT, target);
    rp_floss *fd = mk_floss(dn, k, 1, transient, RP_FLOSS_EXACT, target);
    floss_eval(fs, sn, T, x, N, n_in, &Fs, lam, gs);
    floss_eval(fd, dn, T, x, N, n_in, &F0, lam, gd);
    RP_CK(rp_net_get_param(dn, RP_PARAM_W, th, N * N), dn, rp_net_last_error);
    RP_CK(rp_net_get_param(dn, RP_PARAM_U, th + N * N, N * n_in), dn, rp_net_last_error);
    RP_CK(rp_net_get_param(dn, RP_PARAM_B, th + N * N + N * n_in, N), dn, rp_net_last_error);
    const double w2 = norm2_bound(th, N), L = 4.0 / (3.0 * sqrt(3.0));
    double dl = 0.0, gmax = 0.0;
    for (size_t i = 0; i < k; i++)
        dl = fmax(dl, fabs(lam[i] - target));
    for (size_t i = 0; i < P; i++)
        gmax = fmax(gmax, fabs(gd[i]));
    /* E: the trajectories' distance (as spectrum_vs_double) */
    double E = 0.0, hs[8], hd[8];
    RP_CK(rp_net_reset(sn), sn, rp_net_last_error);
    RP_CK(rp_net_reset(dn), dn, rp_net_last_error);
    for (size_t t = 0; t < T; t++) {
        RP_CK(rp_net_step(sn, x + t * n_in, NULL), sn, rp_net_last_error);
        RP_CK(rp_net_step(dn, x + t * n_in, NULL), dn, rp_net_last_error);
        RP_CK(rp_net_get_state(sn, hs, N), sn, rp_net_last_error);
        RP_CK(rp_net_get_state(dn, hd, N), dn, rp_net_last_error);
        for (size_t i = 0; i < N; i++)
            E = fmax(E, fabs(hs[i] - hd[i]));
    }
    /* rate form: u = W r + U x + b moves by |W|_inf E (plus its rounding) */
    const double ltol = lyap_tol(N, k, 1, a, w2, L, form == RP_FORM_RATE ? 0.9 * E + 1e-6 : E);
    const double e = ltol / 2.0; /* the per-window (= per-step) term of lyap_tol */
    const double gtol = ((double)T * e + ltol / dl) * gmax;
    const double hstep = 1e-4;
    int checked = 0;
    for (size_t i = 0; i < P; i += 7) {
        rp_param p = i < N * N ? RP_PARAM_W : i < N * N + N * n_in ? RP_PARAM_U : RP_PARAM_B;
        size_t off = p == RP_PARAM_W ? 0 : p == RP_PARAM_U ? N * N : N * N + N * n_in;
        size_t len = p == RP_PARAM_W ? N * N : p == RP_PARAM_U ? N * n_in : N;
        double Fv[4];
        const double hs4[4] = {hstep, -hstep, 2 * hstep, -2 * hstep};
        for (int r = 0; r < 4; r++) {
            double save = th[i];
            th[i] = save + hs4[r];
            RP_CK(rp_net_set_param(dn, p, th + off, len), dn, rp_net_last_error);
            floss_eval(fd, dn, T, x, N, n_in, &Fv[r], lam, NULL);
            th[i] = save;
            RP_CK(rp_net_set_param(dn, p, th + off, len), dn, rp_net_last_error);
        }
        const double d1 = (Fv[0] - Fv[1]) / (2 * hstep), d2 = (Fv[2] - Fv[3]) / (4 * hstep);
        const double fd_err = 2.0 * fabs(d1 - d2) / 3.0 + 2.0 * U_D * fabs(F0) / hstep;
        const double tol = fd_err + gtol;
        ck_assert_msg(fabs(gs[i] - d1) <= tol,
                      "form %d entry %zu: single %.9g, central difference %.9g (tol %.2e: fd %.2e, "
                      "float %.2e)",
                      (int)form, i, gs[i], d1, tol, fd_err, gtol);
        checked++;
    }
    ck_assert_int_gt(checked, 10);
    ck_assert_msg(fabs(Fs - F0) <= 2.0 * dl * ltol + ltol * ltol, "F %.9g vs %.9g", Fs, F0);
    if (getenv("RP_TEST_VERBOSE"))
        fprintf(stderr, "floss_exact_vs_fd %d: gtol %.3e |g| %.3e\n", _i, gtol, gmax);
    rp_floss_free(fs);
    rp_floss_free(fd);
    rp_net_free(sn);
    rp_net_free(dn);
    free(x);
    free(gs);
    free(gd);
}
END_TEST

START_TEST(floss_contracts_single)
{
    rp_net *sn = mk(1, 6, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.8, RP_PRECISION_SINGLE);
    rp_floss_config c;
    ck_assert_int_eq(rp_floss_config_init(&c, sizeof c), RP_OK);
    c.k = 2;
    char msg[256];
    ck_assert_int_eq(rp_floss_config_check(sn, &c, msg, sizeof msg), RP_OK);
    rp_floss *fl = mk_floss(sn, 2, 1, 0, RP_FLOSS_EXACT, 0.0);
    double Q0[12];
    tu_fill(Q0, 12, -1.0, 1.0, 4);
    RP_CK(rp_floss_set_basis(fl, Q0, 12), fl, rp_floss_last_error);
    double x[20] = {0}, F = 0.0, lam[2];
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, sn, NULL, 0), RP_OK);
    RP_CK(rp_floss_trial(fl, sn, 20, x, g, &F, lam), fl, rp_floss_last_error);
    ck_assert(isfinite(F) && lam[0] >= lam[1]);
    /* the same trial twice: the same bits (nothing carried between trials) */
    double F2 = 0.0, lam2[2];
    RP_CK(rp_floss_trial(fl, sn, 20, x, g, &F2, lam2), fl, rp_floss_last_error);
    ck_assert(F2 == F && lam2[0] == lam[0] && lam2[1] == lam[1]);
    rp_grad_free(g);
    rp_floss_free(fl);
    rp_net_free(sn);
}
END_TEST

/* ---- 6. allocation failures -------------------------------------------- */

/* An allocator that fails its n-th call (0: never) and counts live blocks. */
typedef struct fail_al {
    long calls, fail_at, live;
} fail_al;

static void *fa_alloc(void *o, size_t n)
{
    fail_al *f = o;
    if (++f->calls == f->fail_at)
        return NULL;
    void *p = malloc(n);
    f->live += p != NULL;
    return p;
}

static void fa_free(void *o, void *p)
{
    ((fail_al *)o)->live--;
    free(p);
}

/* rp_lyap_create and rp_floss_create (and a trial's growth of the store) on
   a single net: each allocation failing in turn gives RP_ERR_NOMEM, no
   handle, and no block left behind. */
START_TEST(alloc_failures_single)
{
    fail_al f = {0, 0, 0};
    rp_allocator al = {fa_alloc, fa_free, &f};
    rp_net_config c = tu_net_config(2, 8, 1, 1, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.8);
    c.precision = RP_PRECISION_SINGLE;
    c.allocator = &al;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    const long base = f.live;
    double x[2 * 20] = {0};
    for (int which = 0; which < 2; which++) {
        int done = 0;
        for (long n = 1; n < 100 && !done; n++) {
            f.calls = 0;
            f.fail_at = n;
            rp_status st;
            if (which == 0) {
                rp_lyap *ly = (rp_lyap *)1;
                st = rp_lyap_create(&ly, net, 3, NULL, NULL, 0);
                if (st == RP_OK) {
                    st = rp_lyap_run(ly, net, 20, x); /* allocates nothing */
                    ck_assert_int_eq(st, RP_OK);
                    rp_lyap_free(ly);
                    done = 1;
                } else {
                    ck_assert_ptr_null(ly);
                }
            } else {
                rp_floss_config fc;
                ck_assert_int_eq(rp_floss_config_init(&fc, sizeof fc), RP_OK);
                fc.k = 2;
                rp_floss *fl = (rp_floss *)1;
                rp_grad *g = NULL;
                st = rp_floss_create(&fl, net, &fc, NULL, 0);
                if (st == RP_OK) {
                    st = rp_grad_create(&g, net, NULL, 0);
                    if (st == RP_OK)
                        st = rp_floss_trial(fl, net, 20, x, g, NULL, NULL); /* grows its store */
                    if (st == RP_OK)
                        done = 1;
                    rp_grad_free(g);
                    rp_floss_free(fl);
                } else {
                    ck_assert_ptr_null(fl);
                }
            }
            ck_assert_msg(st == RP_OK || st == RP_ERR_NOMEM, "which %d, failing call %ld: %s",
                          which, n, rp_status_string(st));
            ck_assert_msg(f.live == base, "which %d, failing call %ld: %ld blocks left", which, n,
                          f.live - base);
        }
        ck_assert_msg(done, "which %d never succeeded", which);
    }
    f.fail_at = 0;
    rp_net_free(net);
    ck_assert_int_eq(f.live, 0);
}
END_TEST

Suite *suite_precision_lyap(void)
{
    Suite *s = suite_create("precision_lyap");
    TCase *tc = tcase_create("lyap");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, spectrum_vs_double, 0, (int)(sizeof ccases / sizeof ccases[0]));
    tcase_add_loop_test(tc, linear_eigenvalues_single, 0, 2);
    tcase_add_loop_test(tc, zero_w_single, 0, 4);
    tcase_add_test(tc, lyap_contracts_single);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("floss");
    tcase_set_timeout(tf, 60);
    tcase_add_loop_test(tf, floss_local_vs_double, 0, (int)(sizeof fcases / sizeof fcases[0]));
    tcase_add_loop_test(tf, floss_exact_vs_fd, 0, 2);
    tcase_add_test(tf, floss_contracts_single);
    tcase_add_test(tf, alloc_failures_single);
    suite_add_tcase(s, tf);
    return s;
}
