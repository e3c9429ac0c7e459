/* Single-precision nets: online e-prop / RFLO / ModProp, ModProp per trial,
   and model files and checkpoints of single nets (test_precision.c has the
   forward, BPTT and per-trial e-prop oracles and derives the bounds these
   build on).

   Oracles: (1) the same rule on a double net with the same float
   parameters, inputs and feedback, within a derived first-order bound;
   (2) the identity of rp_rule_step's documentation, sum of T online ticks
   = T x the rp_rule_trial gradient, within the rounding of the two
   algorithms (both single); (3) files: save -> load -> continue equals
   continuing the original, bit for bit.

   The tolerances (u = 2^-24, rho = alpha + (1 - alpha) 0.5 = 0.9 the
   contraction of the trajectory with W's absolute row and column sums
   scaled to 0.5, alpha = 0.8), relative to S = the block's largest
   |G_double| entry, as in test_precision.c's eprop_within_bound:
     trajectory z_t and f'(h_t):       (N + n_in + 8) u / (1 - rho)
     output, e_t (loss in double, e_t rounded to float), L_t = B e_t and
       the f' factor:                  (N + n_out + 8) u
     traces eps_t, or the rate form's P_t (a filter of factor alpha, one
       rounding of a P + g d r^T per entry and step): 3 u / (1 - alpha)
     the sum over the T ticks:         2 u (each tick's product of two
       floats is exact in double and the T B terms are summed in double:
       T B 2^-53, below u for T B < 2^29; 2 u covers the widening)
   so online single vs online double: tau_on = u [(N + n_in + 8)/(1 - rho)
   + N + n_out + 8 + 3/(1 - alpha) + 2].  ModProp adds its non-local
   credit: the modulators (sums of N signals), the K x K filter and the
   credit are double, linear in the signals and traces above, so the same
   relative bound holds (the filter F = alpha I + (1 - alpha) mu A C has
   norm <= alpha + (1 - alpha) mu 0.5 < 1 here and does not amplify).
   Per trial (ModProp single vs double): the sums over the T B stacked rows
   run in float inside sgemm, (T B + 2) u more: tau_tr = tau_on + T B u.
   Ticks vs trial (both single): the two runs round differently everywhere
   above (the trial's own forward pass, e_t scaled by 1/(T B) instead of
   1/B, the rate form's backward filter instead of the forward traces P,
   float sums over T B rows instead of double), so the sum of the two
   bounds: tau_T = tau_on + tau_tr. */
#include "testutil.h"

#include <float.h>
#include <unistd.h>
#include <zlib.h>

#define U_F ((double)FLT_EPSILON / 2)

enum { NI = 3, NR = 32, NO = 2, BB = 2, TT = 30 };

static rp_net *mk(rp_form form, rp_activation act, rp_precision prec)
{
    rp_net_config c;
    ck_assert_int_eq(rp_net_config_init(&c, sizeof c), RP_OK);
    c.n_in = NI;
    c.n_rec = NR;
    c.n_out = NO;
    c.batch = BB;
    c.alpha = 0.8;
    c.form = form;
    c.act = act;
    c.precision = prec;
    c.seed = 11;
    rp_net *net = NULL;
    char msg[256];
    ck_assert_msg(rp_net_create(&net, &c, msg, sizeof msg) == RP_OK, "%s", msg);
    return net;
}

/* Random float parameters into every net of nets[0..n), W scaled so that
   its absolute row and column sums are <= 0.5; h0 random floats. */
static void same_params(rp_net **nets, int n, uint64_t seed)
{
    const size_t len[RP_PARAM_COUNT] = {NR * NR, NR * NI, NR, NO * NR, NO};
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        double *a = malloc(len[p] * sizeof *a);
        tu_fill(a, len[p], -1.0, 1.0, seed * 10 + (uint64_t)p);
        if (p == RP_PARAM_W) {
            double m = 0.0;
            for (size_t i = 0; i < NR; i++) {
                double r = 0.0, c = 0.0;
                for (size_t j = 0; j < NR; j++) {
                    r += fabs(a[i * NR + j]);
                    c += fabs(a[j * NR + i]);
                }
                m = r > m ? r : m;
                m = c > m ? c : m;
            }
            for (size_t i = 0; i < len[p]; i++)
                a[i] *= 0.5 / m;
        }
        for (size_t i = 0; i < len[p]; i++)
            a[i] = (double)(float)a[i];
        for (int k = 0; k < n; k++)
            RP_CK(rp_net_set_param(nets[k], (rp_param)p, a, len[p]), nets[k], rp_net_last_error);
        free(a);
    }
    double h0[NR];
    tu_fill(h0, NR, -0.5, 0.5, seed + 99);
    for (size_t i = 0; i < NR; i++)
        h0[i] = (double)(float)h0[i];
    for (int k = 0; k < n; k++) {
        RP_CK(rp_net_set_initial_state(nets[k], h0, NR), nets[k], rp_net_last_error);
        RP_CK(rp_net_reset(nets[k]), nets[k], rp_net_last_error);
    }
}

/* A rule of kind on net, with the float feedback (RFLO) and the cell types
   (ModProp) every test uses. */
static rp_rule *mk_rule(rp_net *net, rp_rule_kind kind, uint64_t seed)
{
    rp_rule *r = NULL;
    char msg[256];
    ck_assert_msg(rp_rule_create(&r, net, kind, msg, sizeof msg) == RP_OK, "%s", msg);
    if (kind == RP_RULE_RFLO) {
        double fb[NR * NO];
        tu_fill(fb, NR * NO, -1, 1, seed + 7);
        for (size_t i = 0; i < NR * NO; i++)
            fb[i] = (double)(float)fb[i];
        RP_CK(rp_rule_set_feedback_matrix(r, fb, NR * NO), r, rp_rule_last_error);
    }
    if (kind == RP_RULE_MODPROP) {
        unsigned types[NR];
        for (size_t i = 0; i < NR; i++)
            types[i] = (unsigned)(i % 3 == 0);
        RP_CK(rp_rule_set_cell_types(r, types, NR), r, rp_rule_last_error);
    }
    return r;
}

static void trial_data(double *x, double *tg, uint64_t seed)
{
    tu_fill(x, TT * BB * NI, -1, 1, seed + 5);
    for (size_t i = 0; i < TT * BB * NI; i++)
        x[i] = (double)(float)x[i];
    tu_fill(tg, TT * BB * NO, -1, 1, seed + 6);
}

/* An online stream of TT ticks on net (reset first) into g; the mean loss. */
static double stream(rp_rule *r, rp_net *net, const double *x, const double *tg, rp_grad *g)
{
    double y[BB * NO], loss = -1.0;
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    for (size_t t = 0; t < TT; t++) {
        RP_CK(rp_net_step(net, x + t * BB * NI, y), net, rp_net_last_error);
        RP_CK(rp_rule_step(r, net, x + t * BB * NI, tg + t * BB * NO, NULL, g), r,
              rp_rule_last_error);
    }
    RP_CK(rp_rule_end(r, &loss), r, rp_rule_last_error);
    return loss;
}

/* max over the blocks of |G_a - scale G_b| / (tau S), S = max |scale G_b| of
   the block; fails naming the block when > 1.  Returns the number of
   entries that differ (the comparison is not vacuous). */
static int compare(const rp_grad *ga, const rp_grad *gb, double scale, double tau, const char *what)
{
    const size_t len[RP_PARAM_COUNT] = {NR * NR, NR * NI, NR, NO * NR, NO};
    int differ = 0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        double *a = malloc(len[p] * sizeof *a), *b = malloc(len[p] * sizeof *b);
        RP_CK(rp_grad_get(ga, (rp_param)p, a, len[p]), ga, rp_grad_last_error);
        RP_CK(rp_grad_get(gb, (rp_param)p, b, len[p]), gb, rp_grad_last_error);
        double e = 0.0, S = 0.0;
        for (size_t i = 0; i < len[p]; i++) {
            b[i] *= scale;
            S = fabs(b[i]) > S ? fabs(b[i]) : S;
            e = fabs(a[i] - b[i]) > e ? fabs(a[i] - b[i]) : e;
            differ += a[i] != b[i];
        }
        ck_assert_msg(S > 0.0, "%s: block %d of the reference gradient is zero", what, p);
        ck_assert_msg(e <= tau * S, "%s: block %d: max error %g > tau S = %g * %g (ratio %.3g)",
                      what, p, e, tau, S, e / (tau * S));
        free(a);
        free(b);
    }
    return differ;
}

static const double RHO = 0.9, ALPHA = 0.8;
static double tau_on(void)
{
    return U_F * ((double)(NR + NI + 8) / (1.0 - RHO) + (double)(NR + NO + 8) +
                  3.0 / (1.0 - ALPHA) + 2.0);
}
static double tau_tr(void) { return tau_on() + U_F * (double)(TT * BB); }

static const rp_rule_kind KINDS[3] = {RP_RULE_EPROP, RP_RULE_RFLO, RP_RULE_MODPROP};

/* Online single vs online double: 2 forms x 3 activations x {e-prop, RFLO,
   ModProp}. */
START_TEST(online_within_bound)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_activation act = (rp_activation)((_i >> 1) % 3);
    const rp_rule_kind kind = KINDS[_i / 6];
    const uint64_t seed = 200 + (uint64_t)_i;
    rp_net *sn = mk(form, act, RP_PRECISION_SINGLE), *dn = mk(form, act, RP_PRECISION_DOUBLE);
    rp_net *both[2] = {sn, dn};
    same_params(both, 2, seed);
    rp_rule *rs = mk_rule(sn, kind, seed), *rd = mk_rule(dn, kind, seed);
    rp_grad *gs = NULL, *gd = NULL;
    ck_assert_int_eq(rp_grad_create(&gs, sn, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gd, dn, NULL, 0), RP_OK);
    double *x = malloc(TT * BB * NI * sizeof *x), *tg = malloc(TT * BB * NO * sizeof *tg);
    trial_data(x, tg, seed);
    const double ls = stream(rs, sn, x, tg, gs), ld = stream(rd, dn, x, tg, gd);
    const double tau = tau_on();
    ck_assert_msg(fabs(ls - ld) <= tau * ld, "loss %.10g vs %.10g", ls, ld);
    char what[64];
    snprintf(what, sizeof what, "%s form %d act %d online", rp_rule_kind_name(kind), (int)form,
             (int)act);
    ck_assert_msg(compare(gs, gd, 1.0, tau, what) > 0,
                  "%s: single and double agree bit for bit: not float", what);
    rp_grad_free(gs);
    rp_grad_free(gd);
    rp_rule_free(rs);
    rp_rule_free(rd);
    rp_net_free(sn);
    rp_net_free(dn);
    free(x);
    free(tg);
}
END_TEST

/* rp_rule_step's identity on a single net: the TT ticks sum to TT times the
   rp_rule_trial gradient (2 forms x {e-prop, RFLO, ModProp}, tanh). */
START_TEST(ticks_sum_to_trial)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_rule_kind kind = KINDS[_i / 2];
    const uint64_t seed = 300 + (uint64_t)_i;
    rp_net *sn = mk(form, RP_ACT_TANH, RP_PRECISION_SINGLE);
    same_params(&sn, 1, seed);
    rp_rule *r = mk_rule(sn, kind, seed);
    rp_grad *go = NULL, *gt = NULL;
    ck_assert_int_eq(rp_grad_create(&go, sn, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gt, sn, NULL, 0), RP_OK);
    double *x = malloc(TT * BB * NI * sizeof *x), *tg = malloc(TT * BB * NO * sizeof *tg);
    trial_data(x, tg, seed);
    const double lo = stream(r, sn, x, tg, go);
    double lt = -1.0;
    RP_CK(rp_rule_trial(r, sn, TT, x, tg, NULL, gt, &lt), r, rp_rule_last_error);
    const double tau = tau_on() + tau_tr();
    ck_assert_msg(fabs(lo - lt) <= tau * lt, "loss %.10g (ticks) vs %.10g (trial)", lo, lt);
    char what[64];
    snprintf(what, sizeof what, "%s form %d ticks vs trial", rp_rule_kind_name(kind), (int)form);
    compare(go, gt, (double)TT, tau, what);
    rp_grad_free(go);
    rp_grad_free(gt);
    rp_rule_free(r);
    rp_net_free(sn);
    free(x);
    free(tg);
}
END_TEST

/* ModProp per trial, single vs double (2 forms x 3 activations). */
START_TEST(modprop_trial_within_bound)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_activation act = (rp_activation)((_i >> 1) % 3);
    const uint64_t seed = 400 + (uint64_t)_i;
    rp_net *sn = mk(form, act, RP_PRECISION_SINGLE), *dn = mk(form, act, RP_PRECISION_DOUBLE);
    rp_net *both[2] = {sn, dn};
    same_params(both, 2, seed);
    rp_rule *rs = mk_rule(sn, RP_RULE_MODPROP, seed), *rd = mk_rule(dn, RP_RULE_MODPROP, seed);
    rp_grad *gs = NULL, *gd = NULL, *ge = NULL;
    ck_assert_int_eq(rp_grad_create(&gs, sn, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&gd, dn, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&ge, dn, NULL, 0), RP_OK);
    double *x = malloc(TT * BB * NI * sizeof *x), *tg = malloc(TT * BB * NO * sizeof *tg);
    trial_data(x, tg, seed);
    double ls, ld;
    RP_CK(rp_rule_trial(rs, sn, TT, x, tg, NULL, gs, &ls), rs, rp_rule_last_error);
    RP_CK(rp_rule_trial(rd, dn, TT, x, tg, NULL, gd, &ld), rd, rp_rule_last_error);
    ck_assert_msg(fabs(ls - ld) <= tau_tr() * ld, "loss %.10g vs %.10g", ls, ld);
    char what[64];
    snprintf(what, sizeof what, "modprop form %d act %d trial", (int)form, (int)act);
    ck_assert_int_gt(compare(gs, gd, 1.0, tau_tr(), what), 0);
    /* the credit is there: double ModProp differs from double e-prop by far
       more than the bound (else this test could not see a float path that
       drops it) */
    rp_rule *re = mk_rule(dn, RP_RULE_EPROP, seed);
    RP_CK(rp_rule_trial(re, dn, TT, x, tg, NULL, ge, &ld), re, rp_rule_last_error);
    double a[NR * NR], b[NR * NR], e = 0.0, S = 0.0;
    RP_CK(rp_grad_get(gd, RP_PARAM_W, a, NR * NR), gd, rp_grad_last_error);
    RP_CK(rp_grad_get(ge, RP_PARAM_W, b, NR * NR), ge, rp_grad_last_error);
    for (size_t i = 0; i < NR * NR; i++) {
        e = fabs(a[i] - b[i]) > e ? fabs(a[i] - b[i]) : e;
        S = fabs(a[i]) > S ? fabs(a[i]) : S;
    }
    ck_assert_msg(e > 10.0 * tau_tr() * S,
                  "ModProp's credit %g is below 10 times the bound (ratio %.3g)", e,
                  e / (tau_tr() * S));
    rp_rule_free(re);
    rp_grad_free(gs);
    rp_grad_free(gd);
    rp_grad_free(ge);
    rp_rule_free(rs);
    rp_rule_free(rd);
    rp_net_free(sn);
    rp_net_free(dn);
    free(x);
    free(tg);
}
END_TEST

static void tmp_path(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/rp_precision_online_%ld_%s", (long)getpid(), tag);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* b[0..n-4)'s CRC-32 into its last 4 bytes (little-endian). */
static void fix_crc(unsigned char *b, size_t n)
{
    uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        b[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

static void expect_format(rp_status st, const char *msg, const char *want)
{
    ck_assert_msg(st == RP_ERR_FORMAT, "%s -> %s", msg, rp_status_string(st));
    ck_assert_msg(strstr(msg, want) != NULL, "message \"%s\" lacks \"%s\"", msg, want);
}

/* A single net's model file: version 2 with the precision; load gives a
   single net that runs bit for bit as the original; hostile bytes are
   refused by name.  (A double net's file stays version 1.) */
START_TEST(net_file_single)
{
    const rp_form form = _i ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    rp_net *sn = mk(form, RP_ACT_TANH, RP_PRECISION_SINGLE);
    same_params(&sn, 1, 500 + (uint64_t)_i);
    char path[256], bad[256];
    tmp_path(path, sizeof path, "net.rpn");
    tmp_path(bad, sizeof bad, "bad.rpn");
    RP_CK(rp_net_save(sn, path), sn, rp_net_last_error);
    rp_net *ln = NULL;
    char msg[256];
    ck_assert_msg(rp_net_load(&ln, path, msg, sizeof msg) == RP_OK, "%s", msg);
    rp_net_config c;
    RP_CK(rp_net_get_config(ln, &c, sizeof c), ln, rp_net_last_error);
    ck_assert_int_eq(c.precision, RP_PRECISION_SINGLE);
    double *x = malloc(TT * BB * NI * sizeof *x), *tg = malloc(TT * BB * NO * sizeof *tg);
    double *y1 = malloc(TT * BB * NO * sizeof *y1), *y2 = malloc(TT * BB * NO * sizeof *y2);
    trial_data(x, tg, 7);
    RP_CK(rp_net_run(sn, TT, x, y1), sn, rp_net_last_error);
    RP_CK(rp_net_run(ln, TT, x, y2), ln, rp_net_last_error);
    ck_assert_int_eq(memcmp(y1, y2, TT * BB * NO * sizeof *y1), 0);

    size_t n;
    unsigned char *b = slurp(path, &n);
    ck_assert_uint_eq(b[8], 2);  /* version 2 */
    ck_assert_uint_eq(b[88], 1); /* RP_PRECISION_SINGLE */
    ck_assert_uint_eq(n, 96 + 8 * ((size_t)NR * NR + NR * NI + NR + NO * NR + NO + NR) + 4);
    b[88] = 2; /* a bad precision byte */
    spit(bad, b, n);
    expect_format(rp_net_load(&(rp_net *){NULL}, bad, msg, sizeof msg), msg, "precision is 2");
    b[88] = 1;
    b[93] = 1; /* reserved */
    spit(bad, b, n);
    expect_format(rp_net_load(&(rp_net *){NULL}, bad, msg, sizeof msg), msg, "reserved");
    b[93] = 0;
    b[8] = 3; /* a later version */
    spit(bad, b, n);
    expect_format(rp_net_load(&(rp_net *){NULL}, bad, msg, sizeof msg), msg, "version 3");
    b[8] = 2;
    const double v = 0.1;  /* not a float: W[0] (offset 96), checksum fixed */
    memcpy(b + 96, &v, 8); /* little-endian hosts (the files' order) */
    fix_crc(b, n);
    spit(bad, b, n);
    expect_format(rp_net_load(&(rp_net *){NULL}, bad, msg, sizeof msg), msg, "not a float value");
    free(b);

    /* a double net: version 1, 88-byte header */
    rp_net *dn = mk(form, RP_ACT_TANH, RP_PRECISION_DOUBLE);
    RP_CK(rp_net_save(dn, path), dn, rp_net_last_error);
    b = slurp(path, &n);
    ck_assert_uint_eq(b[8], 1);
    ck_assert_uint_eq(n, 88 + 8 * ((size_t)NR * NR + NR * NI + NR + NO * NR + NO + NR) + 4);
    free(b);
    remove(path);
    remove(bad);
    rp_net_free(dn);
    rp_net_free(ln);
    rp_net_free(sn);
    free(x);
    free(tg);
    free(y1);
    free(y2);
}
END_TEST

/* Every parameter block of net (or of g) into a, in rp_param order. */
static void all_blocks(const rp_net *net, const rp_grad *g, double *a)
{
    const size_t len[RP_PARAM_COUNT] = {NR * NR, NR * NI, NR, NO * NR, NO};
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        if (net)
            RP_CK(rp_net_get_param(net, (rp_param)p, a, len[p]), net, rp_net_last_error);
        else
            RP_CK(rp_grad_get(g, (rp_param)p, a, len[p]), g, rp_grad_last_error);
        a += len[p];
    }
}

/* Run K ticks of a stream (already open) from step t0 and one optimizer
   step; grad is zeroed first. */
static void train_ticks(rp_net *net, rp_rule *r, rp_optim *o, rp_grad *g, const double *x,
                        const double *tg, size_t t0, size_t K, double *y)
{
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    for (size_t t = t0; t < t0 + K; t++) {
        RP_CK(rp_net_step(net, x + t * BB * NI, y + t * BB * NO), net, rp_net_last_error);
        RP_CK(rp_rule_step(r, net, x + t * BB * NI, tg + t * BB * NO, NULL, g), r,
              rp_rule_last_error);
    }
    RP_CK(rp_optim_step(o, net, g), o, rp_optim_last_error);
}

/* A single net's checkpoint inside an online stream (Adam, noise on):
   load, continue, and every output, gradient, parameter and the stream's
   loss equal the original's continuation, bit for bit (2 forms x {e-prop,
   ModProp}).  The version is 4; a version 4 file without the single flag
   is refused. */
START_TEST(checkpoint_single_continues)
{
    const rp_form form = (_i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const rp_rule_kind kind = _i >= 2 ? RP_RULE_MODPROP : RP_RULE_EPROP;
    rp_net_config c;
    ck_assert_int_eq(rp_net_config_init(&c, sizeof c), RP_OK);
    c.n_in = NI, c.n_rec = NR, c.n_out = NO, c.batch = BB, c.form = form, c.seed = 3;
    c.noise_std = 0.05;
    c.precision = RP_PRECISION_SINGLE;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    same_params(&net, 1, 600 + (uint64_t)_i);
    rp_rule *r = mk_rule(net, kind, 600);
    rp_optim *o = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_optim_create(&o, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *x = malloc(TT * BB * NI * sizeof *x), *tg = malloc(TT * BB * NO * sizeof *tg);
    double *y1 = calloc(TT * BB * NO, sizeof *y1), *y2 = calloc(TT * BB * NO, sizeof *y2);
    trial_data(x, tg, 9);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    train_ticks(net, r, o, g, x, tg, 0, 10, y1);
    char path[256], msg[256];
    tmp_path(path, sizeof path, "ck.rpck");
    ck_assert_msg(rp_checkpoint_save(net, o, r, path, 10, NULL, 0, msg, sizeof msg) == RP_OK, "%s",
                  msg);
    rp_net *ln = NULL;
    rp_optim *lo = NULL;
    rp_rule *lr = NULL;
    ck_assert_msg(rp_checkpoint_load(&ln, &lo, &lr, path, NULL, NULL, 0, NULL, msg, sizeof msg) ==
                      RP_OK,
                  "%s", msg);
    rp_grad *lg = NULL;
    ck_assert_int_eq(rp_grad_create(&lg, ln, NULL, 0), RP_OK);
    memcpy(y2, y1, 10 * BB * NO * sizeof *y2);
    train_ticks(net, r, o, g, x, tg, 10, 20, y1);
    train_ticks(ln, lr, lo, lg, x, tg, 10, 20, y2);
    ck_assert_int_eq(memcmp(y1, y2, TT * BB * NO * sizeof *y1), 0);
    const size_t P = (size_t)NR * NR + NR * NI + NR + NO * NR + NO;
    double *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b);
    all_blocks(net, NULL, a);
    all_blocks(ln, NULL, b);
    ck_assert_int_eq(memcmp(a, b, P * sizeof *a), 0);
    all_blocks(NULL, g, a);
    all_blocks(NULL, lg, b);
    ck_assert_int_eq(memcmp(a, b, P * sizeof *a), 0);
    double l1, l2;
    RP_CK(rp_rule_end(r, &l1), r, rp_rule_last_error);
    RP_CK(rp_rule_end(lr, &l2), lr, rp_rule_last_error);
    ck_assert(l1 == l2);

    size_t n;
    unsigned char *f = slurp(path, &n);
    if (kind == RP_RULE_EPROP) { /* the rule's kind made RTRL, checksum fixed: a format error */
        const size_t at = 128 + 8 * (P + NR + 3 * BB * NR) + 48 + 88 + 17 * P;
        ck_assert_uint_eq(f[at], (unsigned)RP_RULE_EPROP);
        f[at] = (unsigned char)RP_RULE_RTRL;
        fix_crc(f, n);
        spit(path, f, n);
        expect_format(rp_checkpoint_load(&(rp_net *){NULL}, NULL, NULL, path, NULL, NULL, 0, NULL,
                                         msg, sizeof msg),
                      msg, "rtrl on a single-precision net");
        f[at] = (unsigned char)RP_RULE_EPROP;
        fix_crc(f, n);
    }
    ck_assert_uint_eq(f[8], 4);
    ck_assert_uint_eq(f[24] & 16u, 16u);
    f[24] &= (unsigned char)~16u; /* drop the single flag (checked before the CRC) */
    spit(path, f, n);
    rp_net *nn = NULL;
    expect_format(rp_checkpoint_load(&nn, NULL, NULL, path, NULL, NULL, 0, NULL, msg, sizeof msg),
                  msg, "without the single-precision flag");
    free(f);
    remove(path);
    free(a);
    free(b);
    free(x);
    free(tg);
    free(y1);
    free(y2);
    rp_grad_free(g);
    rp_grad_free(lg);
    rp_optim_free(o);
    rp_optim_free(lo);
    rp_rule_free(r);
    rp_rule_free(lr);
    rp_net_free(net);
    rp_net_free(ln);
}
END_TEST

Suite *suite_precision_online(void)
{
    Suite *s = suite_create("precision_online");
    TCase *tc = tcase_create("single");
    tcase_add_loop_test(tc, online_within_bound, 0, 18);
    tcase_add_loop_test(tc, ticks_sum_to_trial, 0, 6);
    tcase_add_loop_test(tc, modprop_trial_within_bound, 0, 6);
    tcase_add_loop_test(tc, net_file_single, 0, 2);
    tcase_add_loop_test(tc, checkpoint_single_continues, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
