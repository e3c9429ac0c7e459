/* Single-precision nets (rp_net_config.precision = RP_PRECISION_SINGLE).

   Oracle: a double net with the same parameters, initial state and inputs
   (all float values, so that the two differ only in their arithmetic), and
   a running first-order bound on the float rounding derived below; plus
   the contracts of the boundary (rounding on write, exact on read), the
   struct_size rule, and the refusals of every call that has no float
   kernel yet.  Online rules, ModProp and files: test_precision_online.c. */
#include "internal.h" /* rp__tanhf */
#include "testutil.h"

#include <float.h>

#define U_F ((double)FLT_EPSILON / 2) /* unit roundoff of float, 2^-24 */
#define U_D ((double)DBL_EPSILON / 2)

static rp_net *mk(size_t n_in, size_t N, size_t n_out, size_t B, rp_form form, rp_activation act,
                  rp_precision prec)
{
    rp_net_config c;
    ck_assert_int_eq(rp_net_config_init(&c, sizeof c), RP_OK);
    c.n_in = n_in;
    c.n_rec = N;
    c.n_out = n_out;
    c.batch = B;
    c.alpha = 0.8;
    c.form = form;
    c.act = act;
    c.precision = prec;
    rp_net *net = NULL;
    char msg[256];
    ck_assert_msg(rp_net_create(&net, &c, msg, sizeof msg) == RP_OK, "%s", msg);
    return net;
}

/* Random parameters, W with every row's absolute sum 0.9: with alpha 0.8
   the step is a contraction in the max norm (rho = alpha + (1-alpha) 0.9
   = 0.98 for relu, tanh and linear, all 1-Lipschitz), so the largest
   Lyapunov exponent is <= log rho < 0 and rounding errors do not grow
   without bound over the trial.  The values are rounded to float so that
   the double net holds exactly the single net's parameters. */
static void random_params(rp_net *sn, rp_net *dn, size_t n_in, size_t N, size_t n_out,
                          uint64_t seed)
{
    const size_t len[RP_PARAM_COUNT] = {N * N, N * n_in, N, n_out * N, n_out};
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        double *a = malloc((len[p] + 1) * sizeof *a);
        tu_fill(a, len[p], -1.0, 1.0, seed * 10 + (uint64_t)p);
        if (p == RP_PARAM_W) {
            for (size_t i = 0; i < N; i++) {
                double s = 0.0;
                for (size_t j = 0; j < N; j++)
                    s += fabs(a[i * N + j]);
                for (size_t j = 0; j < N; j++)
                    a[i * N + j] *= 0.9 / s;
            }
        }
        for (size_t i = 0; i < len[p]; i++)
            a[i] = (double)(float)a[i];
        RP_CK(rp_net_set_param(sn, (rp_param)p, a, len[p]), sn, rp_net_last_error);
        RP_CK(rp_net_set_param(dn, (rp_param)p, a, len[p]), dn, rp_net_last_error);
        free(a);
    }
}

/* The tolerance, derived.  A float dot product of length n (any summation
   order, as sgemm/sgemv may use) differs from the exact one by at most
   gamma_n sum |w_i z_i|, gamma_n ~ n u (u = 2^-24; Higham, Accuracy and
   Stability, §3.1).  One step of the voltage form computes
   h = a h + g (W f + U x) + g b through two products and one addition, so
   its local error is at most (N + n_in + 4) u (a|h| + g(|W||f| + |U||x| +
   |b|)) per unit; relu is exact and 1-Lipschitz, tanh (tanh.c) adds at
   most 1 ulp (<= 2 u |f|; 4 u |f| is kept, the bound of libm's 2 ulp).  An error E in h propagates as a E + g |W| E_f, so the
   bound is carried along the trajectory elementwise:
     E_t = a E_{t-1} + g |W| Ef_{t-1} + local_t,   Ef_t = E_t + [tanh] 4 u |f_t|.
   The rate form likewise: Eu_t = |W| Er_{t-1} + (N + n_in + 2) u (|W||r| +
   |U||x| + |b|), Ef = Eu + [tanh] 4u|f|, Er_t = a Er_{t-1} + g Ef_t +
   3 u (a|r| + g|f|).  The readout y = V z + c adds |V| Ez + (N + 2) u
   (|V||z| + |c|).  The double net's own rounding is the same with 2^-53
   and is added in.  With the contraction above E stays of the order of
   n u max|drive|/(1 - rho), ~1e-4 relative here; the bound is first order
   (u^2 terms dropped) and computed with the double trajectory's values. */
typedef struct bound_ws {
    double *E, *Ef, *tmp;
} bound_ws;

static void run_compare(size_t n_in, size_t N, size_t n_out, size_t B, rp_form form,
                        rp_activation act, size_t T, uint64_t seed)
{
    rp_net *sn = mk(n_in, N, n_out, B, form, act, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, n_out, B, form, act, RP_PRECISION_DOUBLE);
    random_params(sn, dn, n_in, N, n_out, seed);
    double *h0 = malloc(N * sizeof *h0);
    tu_fill(h0, N, -0.5, 0.5, seed + 99);
    for (size_t i = 0; i < N; i++)
        h0[i] = (double)(float)h0[i];
    RP_CK(rp_net_set_initial_state(sn, h0, N), sn, rp_net_last_error);
    RP_CK(rp_net_set_initial_state(dn, h0, N), dn, rp_net_last_error);
    RP_CK(rp_net_reset(sn), sn, rp_net_last_error);
    RP_CK(rp_net_reset(dn), dn, rp_net_last_error);

    double *W = malloc(N * N * sizeof *W), *Um = malloc((N * n_in + 1) * sizeof *Um);
    double *b = malloc(N * sizeof *b), *V = malloc(n_out * N * sizeof *V);
    double *c = malloc(n_out * sizeof *c);
    RP_CK(rp_net_get_param(dn, RP_PARAM_W, W, N * N), dn, rp_net_last_error);
    RP_CK(rp_net_get_param(dn, RP_PARAM_U, Um, N * n_in), dn, rp_net_last_error);
    RP_CK(rp_net_get_param(dn, RP_PARAM_B, b, N), dn, rp_net_last_error);
    RP_CK(rp_net_get_param(dn, RP_PARAM_V, V, n_out * N), dn, rp_net_last_error);
    RP_CK(rp_net_get_param(dn, RP_PARAM_C, c, n_out), dn, rp_net_last_error);

    const size_t BN = B * N;
    double *x = malloc((B * n_in + 1) * sizeof *x), *ys = malloc(B * n_out * sizeof *ys);
    double *yd = malloc(B * n_out * sizeof *yd);
    double *h = malloc(BN * sizeof *h), *z = malloc(BN * sizeof *z), *zp = malloc(BN * sizeof *zp);
    double *hp = malloc(BN * sizeof *hp);
    bound_ws w = {calloc(BN, sizeof(double)), calloc(BN, sizeof(double)),
                  calloc(BN, sizeof(double))};
    const double a = 0.8, g = 1.0 - a, uu = U_F + U_D;
    const int voltage = form == RP_FORM_VOLTAGE, th = act == RP_ACT_TANH;
    RP_CK(rp_net_get_state(dn, hp, BN), dn, rp_net_last_error);
    RP_CK(rp_net_get_rates(dn, zp, BN), dn, rp_net_last_error);
    double worst_bound_rel = 0.0, max_err = 0.0;
    for (size_t t = 0; t < T; t++) {
        tu_fill(x, B * n_in, -1.0, 1.0, seed * 1000 + t);
        for (size_t i = 0; i < B * n_in; i++)
            x[i] = (double)(float)x[i];
        RP_CK(rp_net_step(sn, x, ys), sn, rp_net_last_error);
        RP_CK(rp_net_step(dn, x, yd), dn, rp_net_last_error);
        RP_CK(rp_net_get_state(dn, h, BN), dn, rp_net_last_error);
        RP_CK(rp_net_get_rates(dn, z, BN), dn, rp_net_last_error);
        /* advance the bound with the previous step's values (hp, zp) */
        for (size_t r = 0; r < B; r++) {
            for (size_t i = 0; i < N; i++) {
                const size_t k = r * N + i;
                double wz = 0.0, wE = 0.0, ux = 0.0;
                for (size_t j = 0; j < N; j++) {
                    wz += fabs(W[i * N + j]) * fabs(zp[r * N + j]);
                    wE += fabs(W[i * N + j]) * w.Ef[r * N + j];
                }
                for (size_t j = 0; j < n_in; j++)
                    ux += fabs(Um[i * n_in + j]) * fabs(x[r * n_in + j]);
                if (voltage) {
                    double loc = (double)(N + n_in + 4) * uu *
                                 (a * fabs(hp[k]) + g * (wz + ux + fabs(b[i])));
                    w.tmp[k] = a * w.E[k] + g * wE + loc;
                } else {
                    /* Ef holds Er here: z is r in the rate form */
                    double eu = wE + (double)(N + n_in + 2) * uu * (wz + ux + fabs(b[i]));
                    double f = (h[k] - a * hp[k]) / g; /* f(u_t) from r_t = a r + g f */
                    double ef = eu + (th ? 4.0 * uu * fabs(f) : 0.0);
                    w.tmp[k] = a * w.E[k] + g * ef + 3.0 * uu * (a * fabs(hp[k]) + g * fabs(f));
                }
            }
        }
        for (size_t k = 0; k < BN; k++) {
            w.E[k] = w.tmp[k];
            w.Ef[k] = voltage ? w.E[k] + (th ? 4.0 * uu * fabs(z[k]) : 0.0) : w.E[k];
        }
        /* the outputs against the bound */
        for (size_t r = 0; r < B; r++) {
            for (size_t o = 0; o < n_out; o++) {
                double vz = 0.0, vE = 0.0;
                for (size_t j = 0; j < N; j++) {
                    vz += fabs(V[o * N + j]) * fabs(z[r * N + j]);
                    vE += fabs(V[o * N + j]) * w.Ef[r * N + j];
                }
                double bound = vE + (double)(N + 2) * uu * (vz + fabs(c[o]));
                double err = fabs(ys[r * n_out + o] - yd[r * n_out + o]);
                ck_assert_msg(err <= bound,
                              "step %zu trial %zu output %zu: |y_single - y_double| = %g > the "
                              "derived bound %g",
                              t, r, o, err, bound);
                max_err = err > max_err ? err : max_err;
                double rel = bound / (vz + fabs(c[o]) + 1e-300);
                worst_bound_rel = rel > worst_bound_rel ? rel : worst_bound_rel;
            }
        }
        memcpy(hp, h, BN * sizeof *h);
        memcpy(zp, z, BN * sizeof *z);
    }
    /* the bound is not vacuous (well below 1 relative), and the single net
       does compute in float (it differs from the double one) */
    ck_assert_msg(worst_bound_rel < 1e-3, "bound %g relative is vacuous", worst_bound_rel);
    ck_assert_msg(max_err > 0.0, "single and double nets agree bit for bit: not float arithmetic");
    free(w.E);
    free(w.Ef);
    free(w.tmp);
    free(x);
    free(ys);
    free(yd);
    free(h);
    free(z);
    free(zp);
    free(hp);
    free(W);
    free(Um);
    free(b);
    free(V);
    free(c);
    free(h0);
    rp_net_free(sn);
    rp_net_free(dn);
}

/* forward: 2 forms x 3 activations x batch 1 (sgemv) and 6 (sgemm) */
START_TEST(forward_within_bound)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_activation act = (rp_activation)((_i >> 1) % 3);
    const size_t B = _i >= 6 ? 6 : 1;
    run_compare(3, 48, 2, B, form, act, 60, 17 + (uint64_t)_i);
}
END_TEST

/* run(T) is T steps, bit for bit; a clone runs identically. */
START_TEST(run_equals_steps_and_clone)
{
    const size_t N = 32, n_in = 2, n_out = 3, B = 4, T = 20;
    rp_net *a = mk(n_in, N, n_out, B, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_PRECISION_SINGLE);
    rp_net *d = mk(n_in, N, n_out, B, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_PRECISION_DOUBLE);
    random_params(a, d, n_in, N, n_out, 5);
    rp_net *b = NULL;
    ck_assert_int_eq(rp_net_clone(&b, a, NULL, 0), RP_OK);
    double *x = malloc(T * B * n_in * sizeof *x), *y1 = malloc(T * B * n_out * sizeof *y1);
    double *y2 = malloc(T * B * n_out * sizeof *y2);
    tu_fill(x, T * B * n_in, -1, 1, 3);
    RP_CK(rp_net_run(a, T, x, y1), a, rp_net_last_error);
    for (size_t t = 0; t < T; t++)
        RP_CK(rp_net_step(b, x + t * B * n_in, y2 + t * B * n_out), b, rp_net_last_error);
    ck_assert_int_eq(memcmp(y1, y2, T * B * n_out * sizeof *y1), 0);
    double s1[4 * 32], s2[4 * 32];
    RP_CK(rp_net_get_state(a, s1, B * N), a, rp_net_last_error);
    RP_CK(rp_net_get_state(b, s2, B * N), b, rp_net_last_error);
    ck_assert_int_eq(memcmp(s1, s2, sizeof s1), 0);
    for (size_t i = 0; i < B * N; i++)
        ck_assert(s1[i] == (double)(float)s1[i]); /* the state is float */
    free(x);
    free(y1);
    free(y2);
    rp_net_free(a);
    rp_net_free(b);
    rp_net_free(d);
}
END_TEST

/* The boundary: a write rounds to float, a read is exact. */
START_TEST(boundary_rounds)
{
    rp_net *n = mk(1, 5, 1, 2, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_PRECISION_SINGLE);
    double w[25], r[25];
    for (int i = 0; i < 25; i++)
        w[i] = 0.1 * (i - 12) + 1e-12;
    RP_CK(rp_net_set_param(n, RP_PARAM_W, w, 25), n, rp_net_last_error);
    RP_CK(rp_net_get_param(n, RP_PARAM_W, r, 25), n, rp_net_last_error);
    for (int i = 0; i < 25; i++)
        ck_assert(r[i] == (double)(float)w[i]);
    double s[10], f[10], back[10];
    for (int i = 0; i < 10; i++)
        s[i] = 0.3 * (i - 5) + 1e-12;
    RP_CK(rp_net_set_state(n, s, 10), n, rp_net_last_error);
    RP_CK(rp_net_get_state(n, back, 10), n, rp_net_last_error);
    RP_CK(rp_net_get_rates(n, f, 10), n, rp_net_last_error);
    for (int i = 0; i < 10; i++) {
        ck_assert(back[i] == (double)(float)s[i]);
        float sf = (float)s[i], tf;
        rp__tanhf(&sf, &tf, 1); /* f computed in float, by the library's float tanh */
        ck_assert(f[i] == (double)tf);
    }
    RP_CK(rp_net_set_initial_state(n, s, 5), n, rp_net_last_error);
    RP_CK(rp_net_get_initial_state(n, back, 5), n, rp_net_last_error);
    for (int i = 0; i < 5; i++)
        ck_assert(back[i] == (double)(float)s[i]);
    /* an optimizer step lands on floats */
    rp_optim *o = NULL;
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_optim_create(&o, n, RP_OPTIM_SGD, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gr, n, NULL, 0), RP_OK);
    double gw[25];
    for (int i = 0; i < 25; i++)
        gw[i] = 1e-3 * (i + 1);
    RP_CK(rp_grad_set(gr, RP_PARAM_W, gw, 25), gr, rp_grad_last_error);
    RP_CK(rp_optim_step(o, n, gr), o, rp_optim_last_error);
    RP_CK(rp_net_get_param(n, RP_PARAM_W, w, 25), n, rp_net_last_error);
    int moved = 0;
    for (int i = 0; i < 25; i++) {
        ck_assert(w[i] == (double)(float)w[i]);
        moved += w[i] != r[i];
    }
    ck_assert_int_gt(moved, 0);
    /* set_batch keeps a working single net */
    RP_CK(rp_net_set_batch(n, 3), n, rp_net_last_error);
    double x[3] = {0.5, -0.5, 1.0}, y[3];
    RP_CK(rp_net_step(n, x, y), n, rp_net_last_error);
    ck_assert(y[0] == y[0]);
    rp_optim_free(o);
    rp_grad_free(gr);
    rp_net_free(n);
}
END_TEST

/* struct_size: a caller built against 1.0/1.1 (the struct ends at
   allocator) gets a double net even if bytes after its struct say
   otherwise; the field is read back; a bad value is refused by name. */
START_TEST(struct_size_rule)
{
    rp_net_config c;
    ck_assert_int_eq(rp_net_config_init(&c, sizeof c), RP_OK);
    ck_assert_int_eq(c.precision, RP_PRECISION_DOUBLE);
    c.precision = RP_PRECISION_SINGLE;
    const size_t old = offsetof(rp_net_config, allocator) + sizeof c.allocator;
    ck_assert_uint_lt(old, sizeof c);
    c.struct_size = old;
    rp_net *n = NULL;
    ck_assert_int_eq(rp_net_create(&n, &c, NULL, 0), RP_OK);
    rp_net_config r;
    RP_CK(rp_net_get_config(n, &r, sizeof r), n, rp_net_last_error);
    ck_assert_int_eq(r.precision, RP_PRECISION_DOUBLE);
    rp_net_free(n);
    c.struct_size = sizeof c;
    ck_assert_int_eq(rp_net_create(&n, &c, NULL, 0), RP_OK);
    RP_CK(rp_net_get_config(n, &r, sizeof r), n, rp_net_last_error);
    ck_assert_int_eq(r.precision, RP_PRECISION_SINGLE);
    /* an old caller's getter sees only its part */
    memset(&r, 0xff, sizeof r);
    RP_CK(rp_net_get_config(n, &r, old), n, rp_net_last_error);
    ck_assert_uint_eq(r.struct_size, old);
    ck_assert_int_eq((int)r.precision, -1); /* untouched past the old size */
    rp_net_free(n);
    char msg[256];
    c.precision = (rp_precision)7;
    ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "precision is 7") != NULL, "%s", msg);
}
END_TEST

static void expect_refusal(rp_status st, const char *msg, const char *call)
{
    char want[128];
    snprintf(want, sizeof want, "single precision: %s is not supported yet", call);
    ck_assert_msg(st == RP_ERR_UNSUPPORTED, "%s -> %s (%s)", call, rp_status_string(st), msg);
    ck_assert_msg(strstr(msg, want) != NULL, "%s: message \"%s\"", call, msg);
}

/* Every call without a float kernel refuses, naming itself. */
START_TEST(refusals)
{
    rp_net *n = mk(2, 8, 2, 1, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_PRECISION_SINGLE);
    rp_net *d = mk(2, 8, 2, 1, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_PRECISION_DOUBLE);
    char msg[256];
    { /* RTRL, the exact reference, is double only and says why */
        rp_rule *r = (rp_rule *)1;
        ck_assert_int_eq(rp_rule_create(&r, n, RP_RULE_RTRL, msg, sizeof msg), RP_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(msg, "single precision: RTRL is the exact") != NULL &&
                          strstr(msg, "use a double net") != NULL,
                      "%s", msg);
        ck_assert_ptr_null(r);
    }
    /* rp_lyap and rp_floss run on single nets (tests/test_precision_lyap.c);
       the twin-trajectory estimate has no float path */
    double lam = 0.0, x[2 * 30] = {0};
    expect_refusal(rp_lyap_max_direct(n, 30, x, 5, 1e-6, 1, &lam, msg, sizeof msg), msg,
                   "rp_lyap_max_direct");
    /* handles built on a double net refuse a single one, naming the precision */
    rp_lyap *l = NULL;
    ck_assert_int_eq(rp_lyap_create(&l, d, 2, NULL, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_lyap_run(l, n, 30, x), RP_ERR_DIM_MISMATCH);
    ck_assert_msg(strstr(rp_lyap_last_error(l), "precision") != NULL, "%s", rp_lyap_last_error(l));
    rp_floss_config fc;
    ck_assert_int_eq(rp_floss_config_init(&fc, sizeof fc), RP_OK);
    rp_floss *f = NULL;
    ck_assert_int_eq(rp_floss_create(&f, d, &fc, NULL, 0), RP_OK);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, d, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_floss_trial(f, n, 30, x, g, NULL, NULL), RP_ERR_DIM_MISMATCH);
    ck_assert_msg(strstr(rp_floss_last_error(f), "precision") != NULL, "%s",
                  rp_floss_last_error(f));
    rp_rule *r = NULL;
    ck_assert_int_eq(rp_rule_create(&r, d, RP_RULE_EPROP, NULL, 0), RP_OK);
    double tg[2 * 30] = {0}, loss;
    ck_assert_int_eq(rp_rule_trial(r, n, 30, x, tg, NULL, g, &loss), RP_ERR_DIM_MISMATCH);
    ck_assert_msg(strstr(rp_rule_last_error(r), "precision") != NULL, "%s", rp_rule_last_error(r));
    rp_rule_free(r);
    rp_grad_free(g);
    rp_floss_free(f);
    rp_lyap_free(l);
    rp_net_free(n);
    rp_net_free(d);
}
END_TEST

/* BPTT and TBPTT in single precision against double BPTT on the same
   (float) parameters and inputs, and against central finite differences
   of the double net's loss.

   The tolerance, a first-order estimate.  W is scaled so that both its
   row and its column absolute sums are 0.5: with alpha 0.8 the forward
   step (max norm) and the adjoint step (its transpose, 1-norm) contract
   by rho = 0.8 + 0.2 * 0.5 = 0.9.  Then, relative to the magnitudes of the
   terms (u = 2^-24):
     trajectory z_t:  (N + n_in + 8) u / (1 - rho)   (the forward bound of
                      forward_within_bound, plus tanhf's 4 u)
     adjoint delta_t: (N + 6) u / (1 - rho) on top of the trajectory's
                      (one N-long product, the f' factor and two additions
                      a step; f' of tanh is 1 - f^2, within 2 |f| of z's error)
     the gradient sums over the T B stacked rows: (T B + 2) u.
   So |G_single - G_double| <= tau * S with tau = u [(2N + n_in + 14)/(1 -
   rho) + T B + 2] and S the sum of the magnitudes of the terms of each
   entry; the test takes S = the block's largest |G_double| entry, which
   assumes the terms of the largest entry do not cancel much (random nets;
   measured error/bound ratios are printed by a failure).  relu's
   derivative is exact except within the forward error of its kink, which
   the random trajectories here do not reach. */
/* W of both nets scaled (and rounded to float) so that its row and column
   absolute sums are <= s (Sinkhorn-free: scale by the larger); s = 0 sets
   W = 0. */
static void scale_w(rp_net *sn, rp_net *dn, size_t N, double s)
{
    double *W = malloc(N * N * sizeof *W);
    RP_CK(rp_net_get_param(dn, RP_PARAM_W, W, N * N), dn, rp_net_last_error);
    double mr = 0.0, mc = 0.0;
    for (size_t i = 0; i < N; i++) {
        double r = 0.0, c = 0.0;
        for (size_t j = 0; j < N; j++) {
            r += fabs(W[i * N + j]);
            c += fabs(W[j * N + i]);
        }
        mr = r > mr ? r : mr;
        mc = c > mc ? c : mc;
    }
    for (size_t i = 0; i < N * N; i++)
        W[i] = (double)(float)(W[i] * s / (mr > mc ? mr : mc));
    RP_CK(rp_net_set_param(sn, RP_PARAM_W, W, N * N), sn, rp_net_last_error);
    RP_CK(rp_net_set_param(dn, RP_PARAM_W, W, N * N), dn, rp_net_last_error);
    free(W);
}

/* Block p of both gradients into a and b (len entries); returns
   max |a - b| and puts max |b| (the double gradient's scale) into *S. */
static double block_err(const rp_grad *gs, const rp_grad *gd, int p, size_t len, double *a,
                        double *b, double *S)
{
    RP_CK(rp_grad_get(gs, (rp_param)p, a, len), gs, rp_grad_last_error);
    RP_CK(rp_grad_get(gd, (rp_param)p, b, len), gd, rp_grad_last_error);
    double e = 0.0;
    *S = 0.0;
    for (size_t i = 0; i < len; i++) {
        *S = fabs(b[i]) > *S ? fabs(b[i]) : *S;
        e = fabs(a[i] - b[i]) > e ? fabs(a[i] - b[i]) : e;
    }
    return e;
}

static void bptt_compare(rp_form form, rp_activation act, rp_rule_kind kind, uint64_t seed)
{
    const size_t N = 32, n_in = 3, n_out = 2, B = 2, T = 30;
    rp_net *sn = mk(n_in, N, n_out, B, form, act, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, n_out, B, form, act, RP_PRECISION_DOUBLE);
    random_params(sn, dn, n_in, N, n_out, seed);
    scale_w(sn, dn, N, 0.5);
    const double rho = 0.8 + 0.2 * 0.5;
    const double tau = U_F * ((double)(2 * N + n_in + 14) / (1.0 - rho) + (double)(T * B) + 2.0);

    double *x = malloc(T * B * n_in * sizeof *x), *tg = malloc(T * B * n_out * sizeof *tg);
    tu_fill(x, T * B * n_in, -1, 1, seed + 5);
    for (size_t i = 0; i < T * B * n_in; i++)
        x[i] = (double)(float)x[i];
    tu_fill(tg, T * B * n_out, -1, 1, seed + 6);
    rp_rule *rs = NULL, *rd = NULL;
    char msg[256];
    ck_assert_msg(rp_rule_create(&rs, sn, kind, msg, sizeof msg) == RP_OK, "%s", msg);
    ck_assert_int_eq(rp_rule_create(&rd, dn, kind, NULL, 0), RP_OK);
    if (kind == RP_RULE_TBPTT) {
        RP_CK(rp_rule_set_truncation(rs, 5), rs, rp_rule_last_error);
        RP_CK(rp_rule_set_truncation(rd, 5), rd, rp_rule_last_error);
    }
    rp_grad *gs = NULL, *gd = NULL;
    ck_assert_int_eq(rp_grad_create(&gs, sn, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gd, dn, NULL, 0), RP_OK);
    double ls, ld;
    RP_CK(rp_rule_trial(rs, sn, T, x, tg, NULL, gs, &ls), rs, rp_rule_last_error);
    RP_CK(rp_rule_trial(rd, dn, T, x, tg, NULL, gd, &ld), rd, rp_rule_last_error);
    ck_assert_msg(fabs(ls - ld) <= tau * fabs(ld), "loss %.10g vs %.10g", ls, ld);
    const size_t len[RP_PARAM_COUNT] = {N * N, N * n_in, N, n_out * N, n_out};
    int differ = 0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        double *a = malloc(len[p] * sizeof *a), *b = malloc(len[p] * sizeof *b), S;
        const double e = block_err(gs, gd, p, len[p], a, b, &S);
        differ += e > 0.0;
        ck_assert_msg(e <= tau * S, "block %d: max |G_single - G_double| = %g > tau S = %g * %g", p,
                      e, tau, S);
        /* finite differences of the double net's loss, on 4 entries per
           block: central, h = 1e-5 (truncation ~h^2, roundoff ~1e-16/h:
           both far below tau S) */
        for (int q = 0; q < 4 && q < (int)len[p]; q++) {
            size_t i = (size_t)q * (len[p] / 4);
            double *th = malloc(len[p] * sizeof *th), Lp, Lm;
            RP_CK(rp_net_get_param(dn, (rp_param)p, th, len[p]), dn, rp_net_last_error);
            const double v = th[i], h = 1e-5;
            rp_grad *tmp = NULL;
            ck_assert_int_eq(rp_grad_create(&tmp, dn, NULL, 0), RP_OK);
            th[i] = v + h;
            RP_CK(rp_net_set_param(dn, (rp_param)p, th, len[p]), dn, rp_net_last_error);
            RP_CK(rp_rule_trial(rd, dn, T, x, tg, NULL, tmp, &Lp), rd, rp_rule_last_error);
            th[i] = v - h;
            RP_CK(rp_net_set_param(dn, (rp_param)p, th, len[p]), dn, rp_net_last_error);
            RP_CK(rp_rule_trial(rd, dn, T, x, tg, NULL, tmp, &Lm), rd, rp_rule_last_error);
            th[i] = v;
            RP_CK(rp_net_set_param(dn, (rp_param)p, th, len[p]), dn, rp_net_last_error);
            const double fd = (Lp - Lm) / (2 * h);
            if (kind == RP_RULE_BPTT) /* TBPTT is not the loss's gradient */
                ck_assert_msg(fabs(a[i] - fd) <= tau * S + 1e-8,
                              "block %d entry %zu: single %.10g vs finite difference %.10g", p, i,
                              a[i], fd);
            rp_grad_free(tmp);
            free(th);
        }
        free(a);
        free(b);
    }
    ck_assert_msg(differ > 0, "single and double gradients agree bit for bit");
    rp_grad_free(gs);
    rp_grad_free(gd);
    rp_rule_free(rs);
    rp_rule_free(rd);
    free(x);
    free(tg);
    rp_net_free(sn);
    rp_net_free(dn);
}

START_TEST(bptt_within_bound)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_activation act = (rp_activation)((_i >> 1) % 3);
    const rp_rule_kind kind = _i >= 6 ? RP_RULE_TBPTT : RP_RULE_BPTT;
    bptt_compare(form, act, kind, 31 + (uint64_t)_i);
}
END_TEST

/* e-prop and RFLO per trial in single precision against the same rule in
   double on the same (float) parameters, inputs and feedback; and e-prop
   at W = 0, where it is the exact gradient (tests/test_rule_eprop.c
   eprop_exact_when_w_zero), against double BPTT, an independent exact
   algorithm.

   The tolerance, first order, relative to the magnitudes (u = 2^-24), W's
   absolute row and column sums <= 0.5 as above (rho = 0.9; W = 0:
   rho = alpha = 0.8).  e-prop has no adjoint recurrence; its errors are
     trajectory z_t, f'(h_t):  (N + n_in + 8) u / (1 - rho)  (as for BPTT)
     output, e_t, learning signal L_t = B e_t and the f' factor: (N + n_out
                      + 8) u (the readout's N-long product, the loss in
                      double, e_t rounded to float, the n_out-long product
                      and B rounded to float, one multiply)
     traces eps_t (and the rate form's backward filter of L), filters
                      with factor alpha: 3 u / (1 - alpha)
     the sums over the T B stacked rows: (T B + 2) u.
   tau = u [(N + n_in + 8)/(1 - rho) + N + n_out + 8 + 3/(1 - alpha) + T B + 2],
   times S = the block's largest |G_double| (the same assumption as BPTT's
   bound).  Against BPTT at W = 0 the double estimates agree to ~1e-15, so
   the same tau holds. */
static void eprop_compare(rp_form form, rp_activation act, int mode, uint64_t seed)
{
    const size_t N = 32, n_in = 3, n_out = 2, B = 2, T = 30;
    const rp_rule_kind kind = mode == 1 ? RP_RULE_RFLO : RP_RULE_EPROP;
    const rp_rule_kind dkind = mode == 2 ? RP_RULE_BPTT : kind;
    rp_net *sn = mk(n_in, N, n_out, B, form, act, RP_PRECISION_SINGLE);
    rp_net *dn = mk(n_in, N, n_out, B, form, act, RP_PRECISION_DOUBLE);
    random_params(sn, dn, n_in, N, n_out, seed);
    scale_w(sn, dn, N, mode == 2 ? 0.0 : 0.5);
    const double rho = mode == 2 ? 0.8 : 0.8 + 0.2 * 0.5, alpha = 0.8;
    const double tau = U_F * ((double)(N + n_in + 8) / (1.0 - rho) + (double)(N + n_out + 8) +
                              3.0 / (1.0 - alpha) + (double)(T * B) + 2.0);
    double *x = malloc(T * B * n_in * sizeof *x), *tg = malloc(T * B * n_out * sizeof *tg);
    tu_fill(x, T * B * n_in, -1, 1, seed + 5);
    for (size_t i = 0; i < T * B * n_in; i++)
        x[i] = (double)(float)x[i];
    tu_fill(tg, T * B * n_out, -1, 1, seed + 6);
    rp_rule *rs = NULL, *rd = NULL;
    char msg[256];
    ck_assert_msg(rp_rule_create(&rs, sn, kind, msg, sizeof msg) == RP_OK, "%s", msg);
    ck_assert_int_eq(rp_rule_create(&rd, dn, dkind, NULL, 0), RP_OK);
    if (kind == RP_RULE_RFLO) { /* the same float feedback in both */
        double fb[N * 2];
        tu_fill(fb, N * n_out, -1, 1, seed + 7);
        for (size_t i = 0; i < N * n_out; i++)
            fb[i] = (double)(float)fb[i];
        RP_CK(rp_rule_set_feedback_matrix(rs, fb, N * n_out), rs, rp_rule_last_error);
        RP_CK(rp_rule_set_feedback_matrix(rd, fb, N * n_out), rd, rp_rule_last_error);
    }
    rp_grad *gs = NULL, *gd = NULL;
    ck_assert_int_eq(rp_grad_create(&gs, sn, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gd, dn, NULL, 0), RP_OK);
    double ls, ld;
    RP_CK(rp_rule_trial(rs, sn, T, x, tg, NULL, gs, &ls), rs, rp_rule_last_error);
    RP_CK(rp_rule_trial(rd, dn, T, x, tg, NULL, gd, &ld), rd, rp_rule_last_error);
    ck_assert_msg(fabs(ls - ld) <= tau * fabs(ld), "loss %.10g vs %.10g", ls, ld);
    const size_t len[RP_PARAM_COUNT] = {N * N, N * n_in, N, n_out * N, n_out};
    int differ = 0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        double *a = malloc(len[p] * sizeof *a), *b = malloc(len[p] * sizeof *b), S;
        const double e = block_err(gs, gd, p, len[p], a, b, &S);
        differ += e > 0.0;
        ck_assert_msg(S > 0.0, "block %d of the double gradient is zero", p);
        ck_assert_msg(
            e <= tau * S,
            "mode %d block %d: max |G_single - G_double| = %g > tau S = %g * %g (ratio %.3g)", mode,
            p, e, tau, S, e / (tau * S));
        free(a);
        free(b);
    }
    ck_assert_msg(differ > 0, "single and double gradients agree bit for bit");
    rp_grad_free(gs);
    rp_grad_free(gd);
    rp_rule_free(rs);
    rp_rule_free(rd);
    free(x);
    free(tg);
    rp_net_free(sn);
    rp_net_free(dn);
}

/* 2 forms x 3 activations x {e-prop vs e-prop, RFLO vs RFLO, e-prop at W = 0 vs BPTT} */
START_TEST(eprop_within_bound)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_activation act = (rp_activation)((_i >> 1) % 3);
    eprop_compare(form, act, _i / 6, 61 + (uint64_t)_i);
}
END_TEST

Suite *suite_precision(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("single");
    tcase_add_loop_test(tc, forward_within_bound, 0, 12);
    tcase_add_test(tc, run_equals_steps_and_clone);
    tcase_add_test(tc, boundary_rounds);
    tcase_add_test(tc, struct_size_rule);
    tcase_add_test(tc, refusals);
    tcase_add_loop_test(tc, bptt_within_bound, 0, 12);
    tcase_add_loop_test(tc, eprop_within_bound, 0, 18);
    suite_add_tcase(s, tc);
    return s;
}
