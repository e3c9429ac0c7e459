/* Training works: each learning rule, with the Adam optimizer, fits a target
   trajectory (MODEL.md §4, §5, §8 "sines").

   Setup (fixed seed, chosen so the run is quick everywhere, also under valgrind):
     N = 64 units, voltage form, tanh, alpha = 0.9; one constant input x_t = 1;
     one output; T = 100 steps from h_0 = 0.
     W ~ N(0, 0.8^2/N) (a stable, non-chaotic regime: training outcomes then do
     not hinge on rounding), U ~ N(0, 1), V = 0, b = c = 0 — drawn here by the
     test's own generator, independent of the library's initializers.
     Target y*_t = 0.5 sin(2 pi t/100) + 0.3 sin(2 pi t/50 + 1)
                   + 0.2 sin(2 pi t/33 + 2),  t = 1..T  (zero mean: with V = 0 the
     initial MSE is the target's power, and the cut is what the net learned).
   Claims, MSE of rp_rule_trial (the loss of MODEL.md §3), lowest value within
   ITERS = 800 Adam steps, against the initial MSE (measured: seed 1 of the
   test, then the range over seeds 1..8 of the same setup):
     BPTT   lr 5e-3 :  <= 10 %   (0.08 %;  0.03-0.14 %)
     e-prop lr 5e-3 :  <= 10 %   (3.0 %;   0.14-3.5 %)
     RFLO   lr 1e-3 :  <= 50 %   (4.4 %;   1.2-4.4 %)
   RFLO takes a lower rate: with random feedback the estimate is not a descent
   direction near the optimum and at 5e-3 its loss jumps about (lowest 1.2-38 %
   over seeds 1..4), where BPTT and e-prop at 5e-3 are steady.  The lowest
   loss, not the last, is the claim because the bio rules' loss is not
   monotone (a step along an approximate gradient can go uphill).
   Control: training only the readout (V, c; exact in every rule) reaches
   45-53 % — e-prop's cut below 10 % comes from learning W, U, b.
   The figures are from this machine; the thresholds are the task's. */
#include "testutil.h"

enum { N = 64, T = 100, ITERS = 800, ITERS_QUICK = 20 };

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Normal deviates from the test's own generator (Box-Muller). */
static double tu_normal(uint64_t *s)
{
    double u1 = tu_uniform(s), u2 = tu_uniform(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static rp_net *make_net(uint64_t seed)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = 1;
    cfg.n_rec = N;
    cfg.n_out = 1;
    cfg.act = RP_ACT_TANH;
    cfg.form = RP_FORM_VOLTAGE;
    cfg.alpha = 0.9;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
    static double W[N * N];
    double U[N];
    uint64_t s = seed;
    for (int i = 0; i < N * N; i++)
        W[i] = 0.8 / sqrt((double)N) * tu_normal(&s);
    for (int i = 0; i < N; i++)
        U[i] = tu_normal(&s);
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_U, U, N), net, rp_net_last_error);
    return net; /* V, b, c stay 0 */
}

static void make_data(double *x, double *y)
{
    for (int t = 0; t < T; t++) {
        double tt = t + 1;
        x[t] = 1.0;
        y[t] = 0.5 * sin(2 * M_PI * tt / 100) + 0.3 * sin(2 * M_PI * tt / 50 + 1.0) +
               0.2 * sin(2 * M_PI * tt / 33 + 2.0);
    }
}

/* RP_SLOW_TESTS=0 (set by `make check-valgrind`): the full runs take minutes
   under valgrind, so there each rule trains for ITERS_QUICK steps only and the
   claim is the weaker "the loss went down" — the training loop is still
   checked for memory errors. */
static int quick(void)
{
    const char *s = getenv("RP_SLOW_TESTS");
    return s && strcmp(s, "0") == 0;
}

/* Train and return the lowest loss within `iters` steps; *loss0 receives the
   initial loss. */
static double train(rp_rule_kind kind, double lr, int readout_only, int iters, double *loss0)
{
    rp_net *net = make_net(1);
    rp_rule *rule = NULL;
    rp_status st = rp_rule_create(&rule, net, kind, NULL, 0);
    ck_assert_msg(st == RP_OK, "rp_rule_create(%d, NULL, 0, NULL, 0): %s", (int)kind,
                  rp_status_string(st));
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_optim_set_lr(opt, lr), opt, rp_optim_last_error);
    if (readout_only) {
        RP_CK(rp_optim_set_trainable(opt, RP_PARAM_W, 0), opt, rp_optim_last_error);
        RP_CK(rp_optim_set_trainable(opt, RP_PARAM_U, 0), opt, rp_optim_last_error);
        RP_CK(rp_optim_set_trainable(opt, RP_PARAM_B, 0), opt, rp_optim_last_error);
    }
    static double x[T], y[T];
    make_data(x, y);
    double best = INFINITY;
    for (int it = 0; it <= iters; it++) {
        double loss = NAN;
        RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
        RP_CK(rp_rule_trial(rule, net, T, x, y, NULL, g, &loss), rule, rp_rule_last_error);
        if (it == 0)
            *loss0 = loss;
        best = loss < best ? loss : best;
        if (it < iters)
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    }
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_net_free(net);
    return best;
}

static const struct {
    rp_rule_kind kind;
    const char *name;
    double lr, max_ratio, quick_ratio;
} cases[] = {
    /* quick_ratio: within ITERS_QUICK steps, measured on seeds 1..8 of this
       setup 0.47-0.51 (BPTT), 0.47-0.58 (e-prop), 0.83-0.88 (RFLO) */
    {RP_RULE_BPTT, "BPTT", 5e-3, 0.10, 0.70},
    {RP_RULE_EPROP, "e-prop", 5e-3, 0.10, 0.70},
    {RP_RULE_RFLO, "RFLO", 1e-3, 0.50, 0.95},
};

START_TEST(rule_cuts_loss)
{
    double l0 = 0.0;
    const int iters = quick() ? ITERS_QUICK : ITERS;
    double best = train(cases[_i].kind, cases[_i].lr, 0, iters, &l0);
    /* the initial loss is the target's power (V = 0): 0.5 * mean(y*^2) */
    static double x[T], y[T];
    make_data(x, y);
    double p = 0.0;
    for (int t = 0; t < T; t++)
        p += 0.5 * y[t] * y[t] / T;
    ck_assert_double_eq_tol(l0, p, 1e-12 * p);
    const double max_ratio = quick() ? cases[_i].quick_ratio : cases[_i].max_ratio;
    ck_assert_msg(
        best <= max_ratio * l0,
        "%s: lowest MSE %.4g within %d iterations is %.1f %% of the initial %.4g, expected <= %.0f %%",
        cases[_i].name, best, iters, 100 * best / l0, l0, 100 * max_ratio);
}
END_TEST

START_TEST(readout_alone_is_not_enough)
{
    /* The control of the e-prop claim: the same run with only V and c trained. */
    double l0 = 0.0;
    if (quick())
        return; /* nothing to compare with in the quick mode */
    double best = train(RP_RULE_EPROP, 5e-3, 1, ITERS, &l0);
    ck_assert_msg(best > 0.25 * l0, "readout-only training reached %.1f %% of the initial loss",
                  100 * best / l0);
}
END_TEST

Suite *suite_train(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120); /* a few seconds natively; valgrind is ~50x slower */
    tcase_add_loop_test(tc, rule_cuts_loss, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, readout_alone_is_not_enough);
    suite_add_tcase(s, tc);
    return s;
}
