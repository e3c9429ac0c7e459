/* The network of MODEL.md §1.  Oracle for the dynamics: a 3-unit network
   stepped by hand here, with plain loops that share nothing with net.c. */
#include "internal.h" /* rp__tanh */
#include "testutil.h"

#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static rp_net *mknet(size_t n_in, size_t n_rec, size_t n_out, size_t batch, rp_form form,
                     rp_activation act)
{
    rp_net_config c = tu_net_config(n_in, n_rec, n_out, batch, form, act, 0.7);
    rp_net *net = NULL;
    rp_status st = rp_net_create(&net, &c, NULL, 0);
    ck_assert_msg(st == RP_OK, "rp_net_create: %s", rp_status_string(st));
    return net;
}

/* Fill every parameter with uniform values in [-s, s) (seeded). */
static void fill_params(rp_net *net, double s, uint64_t seed)
{
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(net, p, &len), RP_OK);
        double *v = malloc(len * sizeof *v + 1);
        tu_fill(v, len, -s, s, seed * 7 + (uint64_t)p);
        RP_CK(rp_net_set_param(net, p, v, len), net, rp_net_last_error);
        free(v);
    }
}

/* Everything observable: parameters, state, rates, initial state, config. */
typedef struct snap {
    double v[4096];
    size_t n;
    rp_net_config cfg;
} snap;

static void take(const rp_net *net, snap *s)
{
    s->n = 0;
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(net, &c, sizeof c), RP_OK);
    s->cfg = c;
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(net, p, &len), RP_OK);
        ck_assert(s->n + len <= 4096);
        ck_assert_int_eq(rp_net_get_param(net, p, s->v + s->n, len), RP_OK);
        s->n += len;
    }
    size_t BN = c.batch * c.n_rec;
    ck_assert(s->n + 2 * BN + c.n_rec <= 4096);
    ck_assert_int_eq(rp_net_get_state(net, s->v + s->n, BN), RP_OK);
    s->n += BN;
    ck_assert_int_eq(rp_net_get_rates(net, s->v + s->n, BN), RP_OK);
    s->n += BN;
    ck_assert_int_eq(rp_net_get_initial_state(net, s->v + s->n, c.n_rec), RP_OK);
    s->n += c.n_rec;
}

static void same(const rp_net *net, const snap *s0, const char *what)
{
    snap s1;
    take(net, &s1);
    ck_assert_msg(s1.n == s0->n && memcmp(s1.v, s0->v, s0->n * sizeof(double)) == 0,
                  "%s: the net changed", what);
    ck_assert_msg(memcmp(&s1.cfg, &s0->cfg, sizeof s1.cfg) == 0, "%s: the config changed", what);
}

/* ---- the hand-stepped oracle -------------------------------------------- */

static double act(rp_activation a, double v)
{
    switch (a) {
    case RP_ACT_RELU:
        return v > 0 ? v : 0;
    case RP_ACT_TANH:
        return tanh(v);
    default:
        return v;
    }
}

enum { HN = 3, HI = 2, HO = 2, HT = 6 };

/* One step of MODEL.md §1 for one trial, written out term by term. */
static void hand_step(rp_form form, rp_activation a, double alpha, const double W[HN][HN],
                      const double U[HN][HI], const double b[HN], const double V[HO][HN],
                      const double c[HO], const double x[HI], double s[HN], double y[HO])
{
    double ns[HN], rate[HN];
    if (form == RP_FORM_VOLTAGE) {
        double fh[HN];
        for (int i = 0; i < HN; i++)
            fh[i] = act(a, s[i]);
        for (int i = 0; i < HN; i++) {
            double in = b[i];
            for (int j = 0; j < HN; j++)
                in += W[i][j] * fh[j];
            for (int j = 0; j < HI; j++)
                in += U[i][j] * x[j];
            ns[i] = alpha * s[i] + (1 - alpha) * in;
        }
        for (int i = 0; i < HN; i++)
            rate[i] = act(a, ns[i]);
    } else {
        for (int i = 0; i < HN; i++) {
            double u = b[i];
            for (int j = 0; j < HN; j++)
                u += W[i][j] * s[j];
            for (int j = 0; j < HI; j++)
                u += U[i][j] * x[j];
            ns[i] = alpha * s[i] + (1 - alpha) * act(a, u);
        }
        for (int i = 0; i < HN; i++)
            rate[i] = ns[i];
    }
    for (int k = 0; k < HO; k++) {
        y[k] = c[k];
        for (int i = 0; i < HN; i++)
            y[k] += V[k][i] * rate[i];
    }
    memcpy(s, ns, sizeof ns);
}

/* _i = 2 * activation + form */
START_TEST(hand_stepped)
{
    rp_form form = (rp_form)(_i % 2);
    rp_activation a = (rp_activation)(_i / 2);
    rp_net *net = mknet(HI, HN, HO, 1, form, a);
    const double alpha = 0.7;
    double W[HN][HN] = {{0.5, -1.2, 0.3}, {0.9, 0.1, -0.7}, {-0.4, 0.8, 0.6}};
    double U[HN][HI] = {{1.0, -0.5}, {0.3, 0.7}, {-0.8, 0.2}};
    double b[HN] = {0.1, -0.2, 0.05};
    double V[HO][HN] = {{0.6, -0.3, 1.1}, {-0.9, 0.4, 0.2}};
    double c[HO] = {0.25, -0.15};
    double s[HN] = {0.3, -0.6, 0.2};
    RP_CK(rp_net_set_param(net, RP_PARAM_W, &W[0][0], HN * HN), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_U, &U[0][0], HN * HI), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_B, b, HN), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_V, &V[0][0], HO * HN), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_C, c, HO), net, rp_net_last_error);
    RP_CK(rp_net_set_state(net, s, HN), net, rp_net_last_error);
    for (int t = 0; t < HT; t++) {
        double x[HI] = {sin(0.7 * t), cos(1.3 * t) - 0.2}, y[HO], yl[HO], sl[HN];
        hand_step(form, a, alpha, W, U, b, V, c, x, s, y);
        RP_CK(rp_net_step(net, x, yl), net, rp_net_last_error);
        RP_CK(rp_net_get_state(net, sl, HN), net, rp_net_last_error);
        /* Each entry is a sum of <= 6 products of O(1) values: BLAS may order
           (and fuse) the sum differently, a few ulps; 1e-14 ~ 45 eps leaves
           room for that and for the growth over 6 steps, but no real error. */
        double es = tu_rel_err(sl, s, HN, 1e-3), ey = tu_rel_err(yl, y, HO, 1e-3);
        ck_assert_msg(es < 1e-14 && ey < 1e-14, "form %d act %d step %d: state err %g, y err %g",
                      (int)form, (int)a, t, es, ey);
        if (form == RP_FORM_VOLTAGE && a == RP_ACT_RELU && t == 0) {
            /* relu really clips something here, so the test covers it */
            int neg = 0;
            for (int i = 0; i < HN; i++)
                neg += s[i] < 0;
            ck_assert(neg > 0);
        }
    }
    rp_net_free(net);
}
END_TEST

/* ---- batch equals separate runs, bit for bit ---------------------------- */

/* _i: sizes (N, B) and form/activation. */
START_TEST(batch_equals_separate)
{
    static const size_t Ns[] = {3, 37, 64, 130};
    static const size_t Bs[] = {2, 9, 17, 12};
    size_t N = Ns[_i % 4], B = Bs[_i % 4], n_in = 3, n_out = 2, T = 7;
    rp_form form = (rp_form)((_i / 4) % 2);
    rp_activation a = (rp_activation)(_i % 3);
    rp_net_config c = tu_net_config(n_in, N, n_out, B, form, a, 0.7);
    c.batch_invariant = 1; /* the clones below inherit it */
    rp_net *big = NULL;
    ck_assert_int_eq(rp_net_create(&big, &c, NULL, 0), RP_OK);
    fill_params(big, 1.5 / sqrt((double)N), 3 + (uint64_t)_i);
    double *h0 = malloc(N * sizeof *h0);
    tu_fill(h0, N, -0.5, 0.5, 99);
    RP_CK(rp_net_set_initial_state(big, h0, N), big, rp_net_last_error);
    RP_CK(rp_net_reset(big), big, rp_net_last_error);
    double *x = malloc(T * B * n_in * sizeof *x), *y = malloc(T * B * n_out * sizeof *y);
    tu_fill(x, T * B * n_in, -1, 1, 7);
    RP_CK(rp_net_run(big, T, x, y), big, rp_net_last_error);
    double *st = malloc(B * N * sizeof *st);
    RP_CK(rp_net_get_state(big, st, B * N), big, rp_net_last_error);

    double *xb = malloc(T * n_in * sizeof *xb), *yb = malloc(T * n_out * sizeof *yb),
           *sb = malloc(N * sizeof *sb);
    for (size_t b = 0; b < B; b++) {
        rp_net *one = NULL;
        RP_CK(rp_net_clone(&one, big, NULL, 0), big, rp_net_last_error);
        RP_CK(rp_net_set_batch(one, 1), one, rp_net_last_error); /* state := h0 */
        for (size_t t = 0; t < T; t++)
            memcpy(xb + t * n_in, x + (t * B + b) * n_in, n_in * sizeof *xb);
        RP_CK(rp_net_run(one, T, xb, yb), one, rp_net_last_error);
        RP_CK(rp_net_get_state(one, sb, N), one, rp_net_last_error);
        ck_assert_msg(
            memcmp(sb, st + b * N, N * sizeof *sb) == 0,
            "N %zu B %zu form %d act %d: trial %zu state differs from a batch-1 run (rel %g)", N, B,
            (int)form, (int)a, b, tu_rel_err(sb, st + b * N, N, 1e-300));
        for (size_t t = 0; t < T; t++)
            ck_assert_msg(memcmp(yb + t * n_out, y + (t * B + b) * n_out, n_out * sizeof *yb) == 0,
                          "trial %zu step %zu: y differs from a batch-1 run", b, t);
        rp_net_free(one);
    }
    free(xb);
    free(yb);
    free(sb);
    free(st);
    free(x);
    free(y);
    free(h0);
    rp_net_free(big);
}
END_TEST

/* Default mode (dgemv for one trial, dgemm for a batch): trials agree with
   batch-1 runs to rounding.  7 steps of sums over <= 130 terms of O(1)
   values: 1e-12 relative leaves room for ~100 ulps of reordering per step. */
START_TEST(batch_close_to_separate_default)
{
    const size_t N = 37, B = 9, n_in = 3, n_out = 2, T = 7;
    rp_net *big = mknet(n_in, N, n_out, B, RP_FORM_VOLTAGE, RP_ACT_TANH);
    fill_params(big, 1.5 / sqrt((double)N), 5);
    double x[7 * 9 * 3], y[7 * 9 * 2], st[9 * 37], xb[7 * 3], yb[7 * 2], sb[37];
    tu_fill(x, T * B * n_in, -1, 1, 8);
    RP_CK(rp_net_run(big, T, x, y), big, rp_net_last_error);
    RP_CK(rp_net_get_state(big, st, B * N), big, rp_net_last_error);
    for (size_t b = 0; b < B; b++) {
        rp_net *one = NULL;
        RP_CK(rp_net_clone(&one, big, NULL, 0), big, rp_net_last_error);
        RP_CK(rp_net_set_batch(one, 1), one, rp_net_last_error);
        for (size_t t = 0; t < T; t++)
            memcpy(xb + t * n_in, x + (t * B + b) * n_in, n_in * sizeof *xb);
        RP_CK(rp_net_run(one, T, xb, yb), one, rp_net_last_error);
        RP_CK(rp_net_get_state(one, sb, N), one, rp_net_last_error);
        ck_assert_double_le(tu_rel_err(sb, st + b * N, N, 1e-300), 1e-12);
        rp_net_free(one);
    }
    rp_net_free(big);
}
END_TEST

/* ---- determinism -------------------------------------------------------- */

START_TEST(noise_deterministic)
{
    const size_t N = 20, B = 3, T = 15;
    double x[15 * 3], y1[15 * 3 * 2], y2[15 * 3 * 2], y3[15 * 3 * 2], s1[60], s2[60];
    tu_fill(x, T * B, -1, 1, 4);
    rp_net *n1 = mknet(1, N, 2, B, RP_FORM_VOLTAGE, RP_ACT_TANH);
    fill_params(n1, 0.3, 1);
    RP_CK(rp_net_set_noise(n1, 0.1, 77), n1, rp_net_last_error);
    rp_net *n2 = NULL;
    RP_CK(rp_net_clone(&n2, n1, NULL, 0), n1, rp_net_last_error);
    RP_CK(rp_net_run(n1, T, x, y1), n1, rp_net_last_error);
    RP_CK(rp_net_run(n2, T, x, y2), n2, rp_net_last_error);
    ck_assert(memcmp(y1, y2, sizeof y1) == 0);
    RP_CK(rp_net_get_state(n1, s1, N * B), n1, rp_net_last_error);
    RP_CK(rp_net_get_state(n2, s2, N * B), n2, rp_net_last_error);
    ck_assert(memcmp(s1, s2, sizeof s1) == 0);
    /* reseeding reproduces the trajectory; another seed changes it */
    RP_CK(rp_net_reset(n1), n1, rp_net_last_error);
    RP_CK(rp_net_set_noise(n1, 0.1, 77), n1, rp_net_last_error);
    RP_CK(rp_net_run(n1, T, x, y3), n1, rp_net_last_error);
    ck_assert(memcmp(y1, y3, sizeof y1) == 0);
    RP_CK(rp_net_reset(n1), n1, rp_net_last_error);
    RP_CK(rp_net_set_noise(n1, 0.1, 78), n1, rp_net_last_error);
    RP_CK(rp_net_run(n1, T, x, y3), n1, rp_net_last_error);
    ck_assert(memcmp(y1, y3, sizeof y1) != 0);
    /* and the noise is really there: sigma = 0 gives another trajectory */
    RP_CK(rp_net_reset(n1), n1, rp_net_last_error);
    RP_CK(rp_net_set_noise(n1, 0.0, 77), n1, rp_net_last_error);
    RP_CK(rp_net_run(n1, T, x, y3), n1, rp_net_last_error);
    ck_assert(memcmp(y1, y3, sizeof y1) != 0);
    rp_net_free(n1);
    rp_net_free(n2);
}
END_TEST

START_TEST(run_equals_steps)
{
    rp_form form = (rp_form)(_i % 2);
    const size_t N = 25, B = _i < 2 ? 1 : 4, T = 12, n_in = 2, n_out = 3;
    rp_net *n1 = mknet(n_in, N, n_out, B, form, RP_ACT_RELU);
    fill_params(n1, 0.4, 2);
    RP_CK(rp_net_set_noise(n1, 0.05, 5), n1, rp_net_last_error);
    rp_net *n2 = NULL;
    RP_CK(rp_net_clone(&n2, n1, NULL, 0), n1, rp_net_last_error);
    double x[12 * 4 * 2], y1[12 * 4 * 3], y2[12 * 4 * 3], s1[100], s2[100];
    tu_fill(x, T * B * n_in, -1, 1, 8);
    RP_CK(rp_net_run(n1, T, x, y1), n1, rp_net_last_error);
    for (size_t t = 0; t < T; t++)
        RP_CK(rp_net_step(n2, x + t * B * n_in, y2 + t * B * n_out), n2, rp_net_last_error);
    ck_assert(memcmp(y1, y2, T * B * n_out * sizeof(double)) == 0);
    RP_CK(rp_net_get_state(n1, s1, N * B), n1, rp_net_last_error);
    RP_CK(rp_net_get_state(n2, s2, N * B), n2, rp_net_last_error);
    ck_assert(memcmp(s1, s2, N * B * sizeof(double)) == 0);
    /* y = NULL runs the same dynamics */
    RP_CK(rp_net_run(n1, T, x, NULL), n1, rp_net_last_error);
    RP_CK(rp_net_run(n2, T, x, y2), n2, rp_net_last_error);
    RP_CK(rp_net_get_state(n1, s1, N * B), n1, rp_net_last_error);
    RP_CK(rp_net_get_state(n2, s2, N * B), n2, rp_net_last_error);
    ck_assert(memcmp(s1, s2, N * B * sizeof(double)) == 0);
    rp_net_free(n1);
    rp_net_free(n2);
}
END_TEST

/* ---- accessors ---------------------------------------------------------- */

START_TEST(round_trips)
{
    const size_t N = 6, B = 2;
    rp_net *net = mknet(2, N, 3, B, RP_FORM_VOLTAGE, RP_ACT_TANH);
    size_t want[RP_PARAM_COUNT] = {N * N, N * 2, N, 3 * N, 3};
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        RP_CK(rp_net_get_param_len(net, p, &len), net, rp_net_last_error);
        ck_assert_uint_eq(len, want[p]);
        double in[36], out[36];
        tu_fill(in, len, -2, 2, 10 + (uint64_t)p);
        RP_CK(rp_net_set_param(net, p, in, len), net, rp_net_last_error);
        RP_CK(rp_net_get_param(net, p, out, len), net, rp_net_last_error);
        ck_assert(memcmp(in, out, len * sizeof *in) == 0);
    }
    double s[12], o[12], r[12], h0[6], h0o[6];
    tu_fill(s, N * B, -2, 2, 20);
    RP_CK(rp_net_set_state(net, s, N * B), net, rp_net_last_error);
    RP_CK(rp_net_get_state(net, o, N * B), net, rp_net_last_error);
    ck_assert(memcmp(s, o, sizeof s) == 0);
    RP_CK(rp_net_get_rates(net, r, N * B), net, rp_net_last_error);
    double t[12];
    rp__tanh(s, t, N * B); /* the library's tanh (tanh.c) on the same values */
    for (size_t i = 0; i < N * B; i++)
        ck_assert(r[i] == t[i]);
    tu_fill(h0, N, -1, 1, 21);
    RP_CK(rp_net_set_initial_state(net, h0, N), net, rp_net_last_error);
    RP_CK(rp_net_get_initial_state(net, h0o, N), net, rp_net_last_error);
    ck_assert(memcmp(h0, h0o, sizeof h0) == 0);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    RP_CK(rp_net_get_state(net, o, N * B), net, rp_net_last_error);
    for (size_t b = 0; b < B; b++)
        ck_assert(memcmp(o + b * N, h0, sizeof h0) == 0);
    rp_net_config c;
    RP_CK(rp_net_get_config(net, &c, sizeof c), net, rp_net_last_error);
    ck_assert_uint_eq(c.n_rec, N);
    ck_assert_uint_eq(c.batch, B);
    RP_CK(rp_net_set_alpha(net, 0.0), net, rp_net_last_error);
    RP_CK(rp_net_get_config(net, &c, sizeof c), net, rp_net_last_error);
    ck_assert(c.alpha == 0.0);
    /* the rate form's rates are its state */
    rp_net *rn = mknet(1, N, 1, 1, RP_FORM_RATE, RP_ACT_TANH);
    RP_CK(rp_net_set_state(rn, s, N), rn, rp_net_last_error);
    RP_CK(rp_net_get_rates(rn, r, N), rn, rp_net_last_error);
    ck_assert(memcmp(r, s, N * sizeof *r) == 0);
    rp_net_free(rn);
    rp_net_free(net);
}
END_TEST

START_TEST(set_batch)
{
    const size_t N = 5;
    rp_net *net = mknet(1, N, 1, 2, RP_FORM_RATE, RP_ACT_RELU);
    fill_params(net, 0.5, 3);
    double h0[5], s[20];
    tu_fill(h0, N, -1, 1, 30);
    RP_CK(rp_net_set_initial_state(net, h0, N), net, rp_net_last_error);
    double x[2] = {0.3, -0.4};
    RP_CK(rp_net_step(net, x, NULL), net, rp_net_last_error);
    RP_CK(rp_net_set_batch(net, 4), net, rp_net_last_error);
    rp_net_config c;
    RP_CK(rp_net_get_config(net, &c, sizeof c), net, rp_net_last_error);
    ck_assert_uint_eq(c.batch, 4);
    RP_CK(rp_net_get_state(net, s, 4 * N), net, rp_net_last_error);
    for (size_t b = 0; b < 4; b++)
        ck_assert(memcmp(s + b * N, h0, sizeof h0) == 0);
    ck_assert_int_eq(rp_net_get_state(net, s, 2 * N), RP_ERR_DIM_MISMATCH);
    double x4[4] = {1, 2, 3, 4}, y4[4];
    RP_CK(rp_net_step(net, x4, y4), net, rp_net_last_error);
    snap s0;
    take(net, &s0);
    ck_assert_int_eq(rp_net_set_batch(net, 0), RP_ERR_INVALID_ARG);
    ck_assert_str_ne(rp_net_last_error(net), "");
    same(net, &s0, "set_batch(0)");
    ck_assert_int_eq(rp_net_set_batch(NULL, 2), RP_ERR_INVALID_ARG);
    rp_net_free(net);
}
END_TEST

START_TEST(clone_independent)
{
    const size_t N = 8;
    rp_net *a = mknet(1, N, 2, 2, RP_FORM_VOLTAGE, RP_ACT_TANH);
    fill_params(a, 0.6, 4);
    RP_CK(rp_net_set_noise(a, 0.2, 9), a, rp_net_last_error);
    double x[2] = {0.5, -0.5};
    RP_CK(rp_net_step(a, x, NULL), a, rp_net_last_error);
    rp_net *b = NULL;
    RP_CK(rp_net_clone(&b, a, NULL, 0), a, rp_net_last_error);
    snap sa, sb;
    take(a, &sa);
    take(b, &sb);
    ck_assert(sa.n == sb.n && memcmp(sa.v, sb.v, sa.n * sizeof(double)) == 0);
    ck_assert(memcmp(&sa.cfg, &sb.cfg, sizeof sa.cfg) == 0);
    /* stepping the clone leaves the original alone */
    RP_CK(rp_net_step(b, x, NULL), b, rp_net_last_error);
    same(a, &sa, "stepping the clone");
    double p[64];
    tu_fill(p, N * N, -1, 1, 5);
    RP_CK(rp_net_set_param(b, RP_PARAM_W, p, N * N), b, rp_net_last_error);
    same(a, &sa, "setting the clone's W");
    /* the generator state was copied: the same next step, noise included */
    rp_net *c = NULL;
    RP_CK(rp_net_clone(&c, a, NULL, 0), a, rp_net_last_error);
    double ya[4], yc[4];
    RP_CK(rp_net_step(a, x, ya), a, rp_net_last_error);
    RP_CK(rp_net_step(c, x, yc), c, rp_net_last_error);
    ck_assert(memcmp(ya, yc, sizeof ya) == 0);
    rp_net *d = NULL;
    ck_assert_int_eq(rp_net_clone(NULL, a, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_clone(&d, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    rp_net_free(a);
    rp_net_free(b);
    rp_net_free(c);
}
END_TEST

/* ---- failures ------------------------------------------------------------ */

START_TEST(nonfinite_input)
{
    const size_t N = 4, B = 2, n_in = 3, T = 5;
    rp_net *net = mknet(n_in, N, 1, B, RP_FORM_VOLTAGE, RP_ACT_RELU);
    fill_params(net, 0.5, 6);
    double x[5 * 2 * 3], y[10];
    tu_fill(x, T * B * n_in, -1, 1, 9);
    tu_fill(y, 10, 7, 8, 1);
    RP_CK(rp_net_step(net, x, NULL), net, rp_net_last_error);
    snap s0;
    take(net, &s0);
    double y0[10];
    memcpy(y0, y, sizeof y);
    x[(3 * B + 1) * n_in + 2] = NAN; /* step 3, trial 1, input 2 */
    ck_assert_int_eq(rp_net_run(net, T, x, y), RP_ERR_NONFINITE);
    const char *m = rp_net_last_error(net);
    ck_assert_msg(strstr(m, "step 3") && strstr(m, "trial 1") && strstr(m, "input 2"),
                  "message: %s", m);
    same(net, &s0, "non-finite input to run");
    ck_assert(memcmp(y, y0, sizeof y) == 0); /* inputs are checked before anything runs */
    /* a single step: trial and input */
    double xs[6] = {0, 0, 0, 0, INFINITY, 0};
    ck_assert_int_eq(rp_net_step(net, xs, y), RP_ERR_NONFINITE);
    m = rp_net_last_error(net);
    ck_assert_msg(strstr(m, "trial 1") && strstr(m, "input 1"), "message: %s", m);
    same(net, &s0, "non-finite input to step");
    ck_assert(memcmp(y, y0, sizeof y) == 0);
    rp_net_free(net);
}
END_TEST

START_TEST(diverging_run)
{
    const size_t N = 4, B = 2, T = 2000;
    rp_net *net = mknet(1, N, 1, B, RP_FORM_VOLTAGE, RP_ACT_LINEAR);
    double W[16];
    for (size_t i = 0; i < 16; i++)
        W[i] = 1e3; /* eigenvalue 4e3: the state grows by ~400 a step, overflows in ~120 */
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, 16), net, rp_net_last_error);
    double s[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    RP_CK(rp_net_set_state(net, s, 8), net, rp_net_last_error);
    RP_CK(rp_net_set_noise(net, 0.01, 3), net, rp_net_last_error);
    snap s0;
    take(net, &s0);
    double *x = calloc(T * B, sizeof *x);
    ck_assert_int_eq(rp_net_run(net, T, x, NULL), RP_ERR_NONFINITE);
    const char *m = rp_net_last_error(net);
    ck_assert_msg(strstr(m, "step") && strstr(m, "trial") && strstr(m, "unit"), "message: %s", m);
    same(net, &s0, "diverging run");
    /* the generator was restored too: a finite run afterwards equals a clone's */
    rp_net *c = NULL;
    RP_CK(rp_net_clone(&c, net, NULL, 0), net, rp_net_last_error);
    double y1[2], y2[2];
    RP_CK(rp_net_step(net, x, y1), net, rp_net_last_error);
    RP_CK(rp_net_step(c, x, y2), c, rp_net_last_error);
    ck_assert(memcmp(y1, y2, sizeof y1) == 0);
    rp_net_free(c);
    /* a finite state whose output overflows: V = 1e308, |f(h)| >> 1 */
    double V[4] = {1e308, 1e308, 1e308, 1e308}, yy[4] = {0};
    RP_CK(rp_net_set_param(net, RP_PARAM_V, V, 4), net, rp_net_last_error);
    take(net, &s0);
    ck_assert_int_eq(rp_net_run(net, 2, x, yy), RP_ERR_NONFINITE);
    m = rp_net_last_error(net);
    ck_assert_msg(strstr(m, "output"), "message: %s", m);
    same(net, &s0, "overflowing output");
    free(x);
    rp_net_free(net);
}
END_TEST

START_TEST(bad_args)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    char msg[256];
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(NULL, &c, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_create(&net, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(net);
    /* zero dimensions, alpha outside [0, 1), bad enums, bad noise, bad struct_size */
    struct {
        size_t field;
        double val;
    } bad[] = {{0, 0},  {1, 0},   {2, 0}, {3, -0.1}, {3, 1.0}, {3, NAN},
               {4, -1}, {4, NAN}, {5, 7}, {6, 9},    {7, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_net_config d;
        rp_net_config_init(&d, sizeof d);
        switch (bad[i].field) {
        case 0:
            d.n_rec = 0;
            break;
        case 1:
            d.n_out = 0;
            break;
        case 2:
            d.batch = 0;
            break;
        case 3:
            d.alpha = bad[i].val;
            break;
        case 4:
            d.noise_std = bad[i].val;
            break;
        case 5:
            d.form = (rp_form)7;
            break;
        case 6:
            d.act = (rp_activation)9;
            break;
        default:
            d.struct_size = 3;
            break;
        }
        msg[0] = '\0';
        ck_assert_int_eq(rp_net_config_check(&d, msg, sizeof msg), RP_ERR_INVALID_ARG);
        ck_assert_msg(msg[0] != '\0', "case %zu: no message", i);
        ck_assert_int_eq(rp_net_create(&net, &d, NULL, 0), RP_ERR_INVALID_ARG);
        ck_assert_ptr_null(net);
    }

    const size_t N = 5, B = 2;
    net = mknet(2, N, 3, B, RP_FORM_VOLTAGE, RP_ACT_TANH);
    fill_params(net, 0.5, 11);
    double s[10];
    tu_fill(s, 10, -1, 1, 12);
    RP_CK(rp_net_set_state(net, s, 10), net, rp_net_last_error);
    snap s0;
    take(net, &s0);
    double buf[64] = {0};
#define EXPECT(call, st)                                                               \
    do {                                                                               \
        rp_status st_ = (call);                                                        \
        ck_assert_msg(st_ == (st), "%s returned %s", #call, rp_status_string(st_));    \
        ck_assert_msg(rp_net_last_error(net)[0] != '\0', "%s left no message", #call); \
        same(net, &s0, #call);                                                         \
    } while (0)
    EXPECT(rp_net_set_param(net, RP_PARAM_W, buf, N * N - 1), RP_ERR_DIM_MISMATCH);
    EXPECT(rp_net_set_param(net, RP_PARAM_W, NULL, N * N), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_param(net, (rp_param)9, buf, 1), RP_ERR_INVALID_ARG);
    buf[3] = NAN;
    EXPECT(rp_net_set_param(net, RP_PARAM_U, buf, N * 2), RP_ERR_NONFINITE);
    buf[3] = 0;
    EXPECT(rp_net_get_param(net, RP_PARAM_V, buf, 3 * N + 1), RP_ERR_DIM_MISMATCH);
    EXPECT(rp_net_get_param(net, RP_PARAM_V, NULL, 3 * N), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_state(net, buf, N), RP_ERR_DIM_MISMATCH);
    EXPECT(rp_net_set_state(net, NULL, N * B), RP_ERR_INVALID_ARG);
    buf[3] = INFINITY;
    EXPECT(rp_net_set_state(net, buf, N * B), RP_ERR_NONFINITE);
    EXPECT(rp_net_set_initial_state(net, buf, N), RP_ERR_NONFINITE);
    buf[3] = 0;
    EXPECT(rp_net_get_state(net, buf, N * B + 1), RP_ERR_DIM_MISMATCH);
    EXPECT(rp_net_get_rates(net, buf, N), RP_ERR_DIM_MISMATCH);
    EXPECT(rp_net_set_initial_state(net, buf, N + 1), RP_ERR_DIM_MISMATCH);
    EXPECT(rp_net_get_initial_state(net, NULL, N), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_alpha(net, 1.0), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_alpha(net, -0.01), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_alpha(net, NAN), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_noise(net, -1.0, 1), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_set_noise(net, INFINITY, 1), RP_ERR_INVALID_ARG);
    EXPECT(rp_net_step(net, NULL, buf), RP_ERR_INVALID_ARG); /* n_in = 2 */
    EXPECT(rp_net_run(net, 3, NULL, buf), RP_ERR_INVALID_ARG);
#undef EXPECT
    /* NULL handles */
    size_t len;
    rp_net_config cc;
    ck_assert_int_eq(rp_net_get_param_len(NULL, RP_PARAM_W, &len), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_get_param_len(net, RP_PARAM_W, NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_get_config(NULL, &cc, sizeof cc), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_set_param(NULL, RP_PARAM_W, buf, N * N), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_get_state(NULL, buf, N * B), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_step(NULL, buf, buf), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_run(NULL, 1, buf, buf), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_reset(NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_set_alpha(NULL, 0.5), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_set_noise(NULL, 0.5, 1), RP_ERR_INVALID_ARG);
    rp_net_free(NULL);
    same(net, &s0, "NULL-handle calls");
    /* T = 0 is a no-op */
    RP_CK(rp_net_run(net, 0, NULL, NULL), net, rp_net_last_error);
    same(net, &s0, "run of 0 steps");
    rp_net_free(net);
}
END_TEST

/* An autonomous network (n_in = 0) runs with x = NULL. */
START_TEST(autonomous)
{
    rp_net *net = mknet(0, 6, 1, 1, RP_FORM_RATE, RP_ACT_TANH);
    fill_params(net, 0.5, 13);
    double y[4];
    RP_CK(rp_net_run(net, 4, NULL, y), net, rp_net_last_error);
    ck_assert(isfinite(y[3]));
    rp_net_free(net);
}
END_TEST

/* A failed rp_net_step changes nothing: in the rate form the pre-activation
   u_t is part of the live state (a checkpoint stores it, the online rules read
   f'(u_t)), and a diverging step used to leave the failed step's u behind.
   The oracle is a clone that never took the failing step: the two
   checkpoints must be byte-identical. */
START_TEST(failed_step_keeps_u)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    c.form = RP_FORM_RATE;
    c.act = RP_ACT_RELU;
    c.alpha = 0.5;
    rp_net *a = NULL, *b = NULL;
    ck_assert_int_eq(rp_net_create(&a, &c, NULL, 0), RP_OK);
    const double U[2] = {10.0, -10.0}, bias[2] = {1.0, 1.0}, V[2] = {1.0, 1.0};
    RP_CK(rp_net_set_param(a, RP_PARAM_U, U, 2), a, rp_net_last_error);
    RP_CK(rp_net_set_param(a, RP_PARAM_B, bias, 2), a, rp_net_last_error);
    RP_CK(rp_net_set_param(a, RP_PARAM_V, V, 2), a, rp_net_last_error);
    double x = 0.0, y = 0.0;
    RP_CK(rp_net_step(a, &x, &y), a, rp_net_last_error); /* u = (1, 1) */
    ck_assert_int_eq(rp_net_clone(&b, a, NULL, 0), RP_OK);
    /* u_0 = +inf makes r_0 infinite: the step must fail and undo itself */
    x = 1e308;
    ck_assert_int_eq(rp_net_step(a, &x, &y), RP_ERR_NONFINITE);

    char dir[] = "/tmp/rp_review_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s/a.ck", dir);
    snprintf(pb, sizeof pb, "%s/b.ck", dir);
    RP_CK(rp_checkpoint_save(a, NULL, NULL, pa, 0, NULL, 0, NULL, 0), a, rp_net_last_error);
    RP_CK(rp_checkpoint_save(b, NULL, NULL, pb, 0, NULL, 0, NULL, 0), b, rp_net_last_error);
    size_t la = 0, lb = 0;
    unsigned char *fa = tu_read_file(pa, &la), *fb = tu_read_file(pb, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(fa, fb, la) == 0, "the failed step changed the net's live state");
    free(fa);
    free(fb);
    unlink(pa);
    unlink(pb);
    rmdir(dir);
    rp_net_free(a);
    rp_net_free(b);
}
END_TEST

/* Sizes handed to CBLAS are int: a configuration whose parameter vector or
   batch of states exceeds INT_MAX used to be accepted (only size_t overflow
   was checked), and the (int) casts of the grad, optimizer and step calls
   would then wrap.  Checked without allocating (rp_net_config_check only);
   the boundaries are computed here by hand. */
START_TEST(blas_int_limits)
{
    char msg[256];
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 0;
    c.n_out = 1;
    /* N = 46340: N^2 + 2N + 1 = 2147488281 > INT_MAX; N = 46000 fits */
    c.n_rec = 46340;
    ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "2147488281") && strstr(msg, "INT_MAX"), "message: %s", msg);
    c.n_rec = 46000;
    ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_OK);
    /* batch * n_rec: 2^24 * 1000 > INT_MAX; 2^21 * 1000 < INT_MAX */
    c.n_rec = 1000;
    c.batch = (size_t)1 << 24;
    ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "batch 16777216") != NULL, "message: %s", msg);
    c.batch = (size_t)1 << 21;
    ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_OK);
    /* the widest dimension may be n_in */
    c.n_rec = 1;
    c.n_in = 1u << 20;
    c.batch = 4096; /* 2^32 */
    ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_ERR_INVALID_ARG);
}
END_TEST

/* A failing call on a live net names the argument in the net's message;
   these returned RP_ERR_INVALID_ARG with the previous call's text (and
   rp_net_clone left *out as it was when net was NULL). */
START_TEST(messages_name_the_argument)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_rec = 3;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    size_t len = 0;
    ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)7, &len), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "which is 7") != NULL, "%s",
                  rp_net_last_error(net));
    ck_assert_int_eq(rp_net_get_param_len(net, RP_PARAM_W, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "len is NULL") != NULL, "%s",
                  rp_net_last_error(net));
    ck_assert_int_eq(rp_net_get_config(net, NULL, sizeof(rp_net_config)), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "cfg is NULL") != NULL, "%s",
                  rp_net_last_error(net));
    /* A constructor reports into its msg (rnnplast.h, "Errors"). */
    char msg[128];
    ck_assert_int_eq(rp_net_clone(NULL, net, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "out is NULL") != NULL, "%s", msg);
    rp_net *other = net; /* any non-NULL value */
    ck_assert_int_eq(rp_net_clone(&other, NULL, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "net is NULL") != NULL, "%s", msg);
    ck_assert_ptr_null(other);
    rp_net_free(net);
}
END_TEST

/* ---- the divergence guard (rp_net_set_state_bound) ---------------------- */

enum { GN = 8, GB = 2, GT = 200 };
#define G_BOUND 1e3

/* A relu net that blows up: W from rp_init at gain 3, alpha 0, a positive
   initial state and constant input 1 (rate or voltage form). */
static rp_net *blowup_net(rp_form form)
{
    rp_net *net = mknet(1, GN, 2, GB, form, RP_ACT_RELU);
    RP_CK(rp_net_set_alpha(net, 0.0), net, rp_net_last_error);
    rp_init *in = NULL;
    ck_assert_int_eq(rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0), RP_OK);
    RP_CK(rp_init_set_gain(in, 3.0), in, rp_init_last_error);
    RP_CK(rp_init_apply(in, net, RP_PARAM_W, 11), in, rp_init_last_error);
    RP_CK(rp_init_set_gain(in, 1.0), in, rp_init_last_error);
    RP_CK(rp_init_apply(in, net, RP_PARAM_U, 12), in, rp_init_last_error);
    RP_CK(rp_init_apply(in, net, RP_PARAM_V, 13), in, rp_init_last_error);
    rp_init_free(in);
    double h0[GN];
    for (size_t i = 0; i < GN; i++)
        h0[i] = 0.5 + 0.1 * (double)i;
    RP_CK(rp_net_set_initial_state(net, h0, GN), net, rp_net_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    return net;
}

/* The oracle: the unguarded trajectory, stepped one call at a time; returns
   the first step whose state has an entry beyond G_BOUND (states[t] is the
   state after step t). */
static size_t first_beyond(rp_net *net, const double *x, double states[][GB * GN])
{
    size_t first = GT;
    for (size_t t = 0; t < GT && first == GT; t++) {
        RP_CK(rp_net_step(net, x + t * GB, NULL), net, rp_net_last_error);
        RP_CK(rp_net_get_state(net, states[t], GB * GN), net, rp_net_last_error);
        for (size_t i = 0; i < GB * GN; i++)
            if (fabs(states[t][i]) > G_BOUND)
                first = t;
    }
    return first;
}

START_TEST(state_bound_stops_run)
{
    const rp_form form = _i ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    static double x[GT * GB], ref[GT][GB * GN];
    for (size_t i = 0; i < GT * GB; i++)
        x[i] = 1.0;
    rp_net *net = blowup_net(form), *free_net = NULL;
    RP_CK(rp_net_clone(&free_net, net, NULL, 0), net, rp_net_last_error);
    size_t tstar = first_beyond(free_net, x, ref);
    ck_assert_msg(tstar >= 2 && tstar < GT, "the test net must cross the bound late: %zu", tstar);

    /* rp_net_run: stops at tstar, names it, restores the state */
    RP_CK(rp_net_set_state_bound(net, G_BOUND), net, rp_net_last_error);
    snap s0;
    take(net, &s0);
    ck_assert_int_eq(rp_net_run(net, GT, x, NULL), RP_ERR_DIVERGED);
    char want[64];
    snprintf(want, sizeof want, "at step %zu,", tstar);
    ck_assert_msg(strstr(rp_net_last_error(net), want) && strstr(rp_net_last_error(net), "bound"),
                  "message: %s (want %s)", rp_net_last_error(net), want);
    same(net, &s0, "a guarded run");

    /* rp_net_step: bit-identical to the unguarded steps up to tstar - 1, then
       the status, and the state stays that of step tstar - 1 */
    rp_net *c = NULL;
    RP_CK(rp_net_clone(&c, net, NULL, 0), net, rp_net_last_error); /* the clone keeps the bound */
    double st[GB * GN];
    for (size_t t = 0; t < tstar; t++) {
        RP_CK(rp_net_step(c, x, NULL), c, rp_net_last_error);
        RP_CK(rp_net_get_state(c, st, GB * GN), c, rp_net_last_error);
        ck_assert(memcmp(st, ref[t], sizeof st) == 0);
    }
    ck_assert_int_eq(rp_net_step(c, x, NULL), RP_ERR_DIVERGED);
    RP_CK(rp_net_get_state(c, st, GB * GN), c, rp_net_last_error);
    ck_assert(memcmp(st, ref[tstar - 1], sizeof st) == 0);

    /* a bound at the largest entry reached lets exactly tstar steps through */
    double mx = 0.0;
    for (size_t i = 0; i < GB * GN; i++)
        mx = fmax(mx, fabs(ref[tstar][i]));
    RP_CK(rp_net_reset(c), c, rp_net_last_error);
    RP_CK(rp_net_set_state_bound(c, mx), c, rp_net_last_error);
    RP_CK(rp_net_run(c, tstar + 1, x, NULL), c, rp_net_last_error);
    rp_net_free(c);
    rp_net_free(free_net);
    rp_net_free(net);
}
END_TEST

START_TEST(state_bound_off_is_identical)
{
    static double x[GT * GB], y0[GT * GB * 2], y1[GT * GB * 2], y2[GT * GB * 2];
    for (size_t i = 0; i < GT * GB; i++)
        x[i] = 1.0;
    rp_net *a = blowup_net(RP_FORM_VOLTAGE), *b = NULL, *c = NULL;
    RP_CK(rp_net_clone(&b, a, NULL, 0), a, rp_net_last_error);
    RP_CK(rp_net_clone(&c, a, NULL, 0), a, rp_net_last_error);
    RP_CK(rp_net_set_state_bound(b, G_BOUND), b, rp_net_last_error);
    RP_CK(rp_net_set_state_bound(b, 0.0), b, rp_net_last_error);   /* off again */
    RP_CK(rp_net_set_state_bound(c, 1e300), c, rp_net_last_error); /* never reached */
    const size_t T = 20;                                           /* finite throughout */
    RP_CK(rp_net_run(a, T, x, y0), a, rp_net_last_error);
    RP_CK(rp_net_run(b, T, x, y1), b, rp_net_last_error);
    RP_CK(rp_net_run(c, T, x, y2), c, rp_net_last_error);
    ck_assert(memcmp(y0, y1, T * GB * 2 * sizeof(double)) == 0);
    ck_assert(memcmp(y0, y2, T * GB * 2 * sizeof(double)) == 0);
    /* and unguarded it runs past the bound, as before */
    ck_assert_int_eq(rp_net_run(a, GT - T, x + T * GB, NULL), RP_OK);

    /* bad bounds are refused, naming the argument, and change nothing */
    const double bad[3] = {-1.0, NAN, INFINITY};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(rp_net_set_state_bound(b, bad[k]), RP_ERR_INVALID_ARG);
        ck_assert_msg(strstr(rp_net_last_error(b), "bound"), "%s", rp_net_last_error(b));
    }
    ck_assert_int_eq(rp_net_set_state_bound(NULL, 1.0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_run(b, GT - T, x + T * GB, NULL), RP_OK); /* still off */
    rp_net_free(a);
    rp_net_free(b);
    rp_net_free(c);
}
END_TEST

/* Every rule's trial and rp_floss_trial run the forward pass from h0 under
   the same guard: each stops at the step the net's own run names, with the
   gradient unchanged.  _i: rule kind (5 = flossing) x form. */
START_TEST(state_bound_stops_trials)
{
    const rp_form form = _i % 2 ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const int which = _i / 2;
    static const rp_rule_kind kinds[5] = {RP_RULE_BPTT, RP_RULE_TBPTT, RP_RULE_RTRL, RP_RULE_EPROP,
                                          RP_RULE_RFLO};
    static double x[GT * GB], tg[GT * GB * 2], ref[GT][GB * GN];
    for (size_t i = 0; i < GT * GB; i++)
        x[i] = 1.0;
    rp_net *net = blowup_net(form), *free_net = NULL;
    RP_CK(rp_net_clone(&free_net, net, NULL, 0), net, rp_net_last_error);
    size_t tstar = first_beyond(free_net, x, ref);
    ck_assert(tstar >= 2 && tstar < GT);
    rp_net_free(free_net);
    RP_CK(rp_net_set_state_bound(net, G_BOUND), net, rp_net_last_error);
    rp_grad *g = NULL;
    RP_CK(rp_grad_create(&g, net, NULL, 0), net, rp_net_last_error);
    size_t len;
    RP_CK(rp_net_get_param_len(net, RP_PARAM_W, &len), net, rp_net_last_error);
    double gw[GN * GN], gw1[GN * GN];
    tu_fill(gw, len, -1, 1, 5);
    RP_CK(rp_grad_set(g, RP_PARAM_W, gw, len), g, rp_grad_last_error);
    char want[64];
    snprintf(want, sizeof want, "at step %zu,", tstar);
    const char *msg;
    rp_status st;
    rp_rule *r = NULL;
    rp_floss *fl = NULL;
    if (which < 5) {
        RP_CK(rp_rule_create(&r, net, kinds[which], NULL, 0), net, rp_net_last_error);
        st = rp_rule_trial(r, net, GT, x, tg, NULL, g, NULL);
        msg = rp_rule_last_error(r);
    } else {
        RP_CK(rp_net_set_batch(net, 1), net, rp_net_last_error);
        rp_floss_config fc;
        rp_floss_config_init(&fc, sizeof fc);
        ck_assert_int_eq(rp_floss_create(&fl, net, &fc, NULL, 0), RP_OK);
        rp_grad_free(g);
        RP_CK(rp_grad_create(&g, net, NULL, 0), net, rp_net_last_error);
        RP_CK(rp_grad_set(g, RP_PARAM_W, gw, len), g, rp_grad_last_error);
        /* the floss trajectory is trial 0's (batch rows are identical here) */
        st = rp_floss_trial(fl, net, GT, x, g, NULL, NULL);
        msg = rp_floss_last_error(fl);
    }
    ck_assert_msg(st == RP_ERR_DIVERGED, "status %s: %s", rp_status_string(st), msg);
    ck_assert_msg(strstr(msg, want), "message: %s (want %s)", msg, want);
    RP_CK(rp_grad_get(g, RP_PARAM_W, gw1, len), g, rp_grad_last_error);
    ck_assert(memcmp(gw, gw1, len * sizeof(double)) == 0);
    rp_rule_free(r);
    rp_floss_free(fl);
    rp_grad_free(g);
    rp_net_free(net);
}
END_TEST

Suite *suite_net(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, hand_stepped, 0, 6);
    tcase_add_loop_test(tc, batch_equals_separate, 0, 8);
    tcase_add_test(tc, batch_close_to_separate_default);
    tcase_add_test(tc, noise_deterministic);
    tcase_add_loop_test(tc, run_equals_steps, 0, 4);
    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, set_batch);
    tcase_add_test(tc, clone_independent);
    tcase_add_test(tc, nonfinite_input);
    tcase_add_test(tc, diverging_run);
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, autonomous);
    tcase_add_test(tc, failed_step_keeps_u);
    tcase_add_test(tc, blas_int_limits);
    tcase_add_test(tc, messages_name_the_argument);
    tcase_add_loop_test(tc, state_bound_stops_run, 0, 2);
    tcase_add_test(tc, state_bound_off_is_identical);
    tcase_add_loop_test(tc, state_bound_stops_trials, 0, 12);
    suite_add_tcase(s, tc);
    return s;
}
