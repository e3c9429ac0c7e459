/* RTRL (MODEL.md §4.3): per trial against BPTT (a second, reverse-mode
   algorithm, itself checked against finite differences in test_rule_bptt.c),
   and the online stream against the per-trial gradient. */
#include "testutil.h"

#define NREC 4
#define NIN 2
#define NOUT 3
#define TSTEPS 7
#define MAXB 2
#define NP (NREC * NREC + NREC * NIN + NREC + NOUT * NREC + NOUT)

typedef struct prob {
    rp_net *net;
    rp_loss loss;
    size_t n_in, B, T, P;
    double x[TSTEPS * MAXB * NIN];
    double target[TSTEPS * MAXB * NOUT];
    double mask[TSTEPS * MAXB];
} prob;

static void prob_init(prob *p, rp_form form, rp_activation act, rp_loss loss, size_t n_in, size_t B,
                      uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->loss = loss;
    p->n_in = n_in;
    p->B = B;
    p->T = TSTEPS;
    rp_net_config c = tu_net_config(n_in, NREC, NOUT, B, form, act, 0.7);
    ck_assert_int_eq(rp_net_create(&p->net, &c, NULL, 0), RP_OK);
    p->P = tu_set_random_params(p->net, 1.6, 0.8, seed * 17);
    tu_set_random_initial_state(p->net, 0.5, seed * 17 + 7);
    tu_fill_trial_data(p->x, n_in, p->target, NOUT, loss, p->mask, p->T * B, seed * 17 + 8);
}

static rp_rule *make_rule(const prob *p, rp_rule_kind kind)
{
    rp_rule *r = NULL;
    ck_assert_int_eq(rp_rule_create(&r, p->net, kind, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_rule_set_loss(r, p->loss), RP_OK);
    return r;
}

static void trial_grad(rp_rule *r, const prob *p, double *g, double *E)
{
    tu_trial_grad(r, p->net, p->T, p->n_in ? p->x : NULL, p->target, p->mask, g, E);
}

/* 12 cases: form x activation x loss, B = 2, masks.  1e-10: RTRL and BPTT
   sum the same terms in a different order over T = 7 steps (rounding ~1e-15
   a term); nothing else separates them. */
START_TEST(rtrl_equals_bptt)
{
    prob p;
    prob_init(&p, (rp_form)(_i / 6), (rp_activation)(_i / 2 % 3), (rp_loss)(_i % 2), NIN, 2,
              11 + (uint64_t)_i);
    rp_rule *rt = make_rule(&p, RP_RULE_RTRL), *bp = make_rule(&p, RP_RULE_BPTT);
    double g1[NP], g2[NP], E1, E2;
    trial_grad(rt, &p, g1, &E1);
    trial_grad(bp, &p, g2, &E2);
    ck_assert_double_eq_tol(E1, E2, 1e-14 * fmax(1.0, fabs(E2)));
    tu_assert_blocks_close(p.net, g1, g2, 1e-10, "RTRL vs BPTT");
    rp_rule_free(rt);
    rp_rule_free(bp);
    rp_net_free(p.net);
}
END_TEST

START_TEST(rtrl_no_input_equals_bptt)
{
    prob p;
    prob_init(&p, (rp_form)_i, RP_ACT_TANH, RP_LOSS_MSE, 0, 1, 5);
    rp_rule *rt = make_rule(&p, RP_RULE_RTRL), *bp = make_rule(&p, RP_RULE_BPTT);
    double g1[NP], g2[NP], E1, E2;
    trial_grad(rt, &p, g1, &E1);
    trial_grad(bp, &p, g2, &E2);
    tu_assert_blocks_close(p.net, g1, g2, 1e-10, "RTRL vs BPTT (no input)");
    rp_rule_free(rt);
    rp_rule_free(bp);
    rp_net_free(p.net);
}
END_TEST

/* Stream the trial through rp_net_step + rp_rule_step into g; E = mean step loss. */
static void stream(rp_rule *r, const prob *p, rp_grad *gr, double *E)
{
    const size_t B = p->B, I = p->n_in, O = p->loss == RP_LOSS_MSE ? NOUT : 1;
    ck_assert_int_eq(rp_rule_begin(r, p->net), RP_OK);
    for (size_t t = 0; t < p->T; t++) {
        const double *x = I ? p->x + t * B * I : NULL;
        ck_assert_int_eq(rp_net_step(p->net, x, NULL), RP_OK);
        rp_status st = rp_rule_step(r, p->net, x, p->target + t * B * O, p->mask + t * B, gr);
        ck_assert_msg(st == RP_OK, "step %zu: %s", t, rp_rule_last_error(r));
    }
    ck_assert_int_eq(rp_rule_end(r, E), RP_OK);
}

/* Online contributions over a trial = T x the per-trial gradient.  1e-12:
   the same arithmetic, the per-trial one scaled by 1/(BT) and the online one
   by 1/B, so only the rounding of the scalings differs. */
START_TEST(online_sum_is_T_times_trial)
{
    prob p;
    prob_init(&p, (rp_form)(_i / 6), (rp_activation)(_i / 2 % 3), (rp_loss)(_i % 2), NIN, 2,
              40 + (uint64_t)_i);
    rp_rule *r = make_rule(&p, RP_RULE_RTRL);
    double gt[NP], go[NP], Et, Eo;
    trial_grad(r, &p, gt, &Et);
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, p.net, NULL, 0), RP_OK);
    stream(r, &p, gr, &Eo);
    tu_grad_flat(p.net, gr, go);
    for (size_t i = 0; i < NP; i++)
        gt[i] *= (double)p.T;
    tu_assert_blocks_close(p.net, go, gt, 1e-12, "online sum vs T x trial");
    ck_assert_double_eq_tol(Eo, Et, 1e-14 * fmax(1.0, fabs(Et)));
    rp_grad_free(gr);
    rp_rule_free(r);
    rp_net_free(p.net);
}
END_TEST

/* begin records the live state, whatever it is: a stream started after 3
   steps equals a trial from that state as h0 (B = 1, so h0 can hold it). */
START_TEST(online_starts_from_live_state)
{
    prob p;
    prob_init(&p, (rp_form)_i, RP_ACT_TANH, RP_LOSS_MSE, NIN, 1, 3);
    rp_rule *r = make_rule(&p, RP_RULE_RTRL);
    ck_assert_int_eq(rp_net_run(p.net, 3, p.x + 2 * NIN, NULL), RP_OK);
    double s[NREC];
    ck_assert_int_eq(rp_net_get_state(p.net, s, NREC), RP_OK);
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, p.net, NULL, 0), RP_OK);
    double go[NP], gt[NP], E;
    stream(r, &p, gr, &E);
    tu_grad_flat(p.net, gr, go);
    ck_assert_int_eq(rp_net_set_initial_state(p.net, s, NREC), RP_OK);
    trial_grad(r, &p, gt, &E);
    for (size_t i = 0; i < NP; i++)
        gt[i] *= (double)p.T;
    tu_assert_blocks_close(p.net, go, gt, 1e-12, "stream from a live state");
    rp_grad_free(gr);
    rp_rule_free(r);
    rp_net_free(p.net);
}
END_TEST

/* Failed calls return their status and message and change nothing: not the
   grad, and not the stream (a refused step is as if never made). */
START_TEST(bad_input_is_refused)
{
    prob p;
    prob_init(&p, RP_FORM_RATE, RP_ACT_TANH, RP_LOSS_CE, NIN, 2, 8);
    rp_rule *r = make_rule(&p, RP_RULE_RTRL);
    double gt[NP], go[NP], Et, Eo;
    trial_grad(r, &p, gt, &Et);
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, p.net, NULL, 0), RP_OK);
    double before[NP], after[NP];

    ck_assert_int_eq(rp_rule_step(r, p.net, p.x, p.target, NULL, gr), RP_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "rp_rule_begin"));

    const size_t B = p.B;
    ck_assert_int_eq(rp_rule_begin(r, p.net), RP_OK);
    for (size_t t = 0; t < p.T; t++) {
        const double *x = p.x + t * B * NIN;
        ck_assert_int_eq(rp_net_step(p.net, x, NULL), RP_OK);
        if (t == 3) {
            tu_grad_flat(p.net, gr, before);
            double tg[MAXB] = {0, (double)NOUT}, mk[MAXB] = {1, 2};
            ck_assert_int_eq(rp_rule_step(r, p.net, x, tg, p.mask + t * B, gr), RP_ERR_INVALID_ARG);
            ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "target at step 0, trial 1"));
            ck_assert_int_eq(rp_rule_step(r, p.net, x, p.target + t * B, mk, gr),
                             RP_ERR_INVALID_ARG);
            ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "mask at step 0, trial 1"));
            ck_assert_int_eq(rp_rule_trial(r, p.net, p.T, p.x, p.target, NULL, gr, NULL),
                             RP_ERR_STATE);
            ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "rp_rule_end"));
            prob q;
            prob_init(&q, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_LOSS_CE, NIN, 2, 8);
            ck_assert_int_eq(rp_rule_step(r, q.net, x, p.target + t * B, NULL, gr),
                             RP_ERR_DIM_MISMATCH);
            ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "the rule was built for"));
            rp_net_free(q.net);
            tu_grad_flat(p.net, gr, after);
            ck_assert(memcmp(before, after, sizeof before) == 0);
        }
        ck_assert_int_eq(rp_rule_step(r, p.net, x, p.target + t * B, p.mask + t * B, gr), RP_OK);
    }
    ck_assert_int_eq(rp_rule_end(r, &Eo), RP_OK);
    tu_grad_flat(p.net, gr, go);
    for (size_t i = 0; i < NP; i++)
        gt[i] *= (double)p.T;
    tu_assert_blocks_close(p.net, go, gt, 1e-12, "stream with refused steps");
    ck_assert_double_eq_tol(Eo, Et, 1e-14);
    rp_grad_free(gr);
    rp_rule_free(r);
    rp_net_free(p.net);
}
END_TEST

/* RTRL's per-trial sensitivity block N x M (M = N (N + n_in + 1)) goes to
   BLAS with int lengths (rp__jacobian_apply's daxpy of N*M): N = 1300 gives
   1300 * 1300 * 1301 = 2198770000 > INT_MAX, which used to be accepted (the
   size_t product does not overflow; calloc of 3 x 17 GB may even succeed
   lazily) and would wrap.  Now refused at create, before any large
   allocation.  (The net itself, 1300^2 doubles of W, is 13.5 MB.) */
START_TEST(rtrl_refuses_int_overflow)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 0;
    c.n_rec = 1300;
    c.n_out = 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    rp_rule *rule = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_RTRL, NULL, 0), RP_ERR_NOMEM);
    ck_assert_ptr_null(rule);
    rp_net_free(net);
}
END_TEST

Suite *suite_rule_rtrl(void)
{
    Suite *s = suite_create("rule_rtrl");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, rtrl_equals_bptt, 0, 12);
    tcase_add_loop_test(tc, rtrl_no_input_equals_bptt, 0, 2);
    tcase_add_loop_test(tc, online_sum_is_T_times_trial, 0, 12);
    tcase_add_loop_test(tc, online_starts_from_live_state, 0, 2);
    tcase_add_test(tc, bad_input_is_refused);
    tcase_add_test(tc, rtrl_refuses_int_overflow);
    suite_add_tcase(s, tc);
    return s;
}
