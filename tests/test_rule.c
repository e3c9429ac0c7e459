/* Rule dispatch and losses (src/rule.c, MODEL.md §3): the loss of an
   online stream, masking of overflowing rows, CE with extreme logits (each
   against hand-computed values), and the rules compared with each other where
   all are exact (T = 1). */
#include "testutil.h"

/* The loss cannot change inside an online stream (as the feedback cannot):
   the stream's steps and the mean loss of rp_rule_end are of one loss.  It
   used to switch silently.  Setting the same loss again is harmless. */
START_TEST(loss_fixed_inside_stream)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 3;
    c.n_out = 2;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    rp_rule *rule = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_RTRL, NULL, 0), RP_OK);
    RP_CK(rp_rule_begin(rule, net), rule, rp_rule_last_error);
    ck_assert_int_eq(rp_rule_set_loss(rule, RP_LOSS_CE), RP_ERR_STATE);
    ck_assert_msg(strstr(rp_rule_last_error(rule), "stream") != NULL, "%s",
                  rp_rule_last_error(rule));
    ck_assert_int_eq(rp_rule_set_loss(rule, RP_LOSS_MSE), RP_OK);
    /* still MSE: a 2-output target row is accepted, not read as class indices */
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double x = 0.5, y[2], target[2] = {0.25, -0.5};
    RP_CK(rp_net_step(net, &x, y), net, rp_net_last_error);
    RP_CK(rp_rule_step(rule, net, &x, target, NULL, g), rule, rp_rule_last_error);
    RP_CK(rp_rule_end(rule, NULL), rule, rp_rule_last_error);
    ck_assert_int_eq(rp_rule_set_loss(rule, RP_LOSS_CE), RP_OK);
    rp_grad_free(g);
    rp_rule_free(rule);
    rp_net_free(net);
}
END_TEST

/* A masked-out row (mask 0) contributes nothing to the loss and errors even
   when its own loss overflows: with outputs c = (1e308, -1e308) (V = 0, so
   y = c exactly) the loss of class 1 is 2e308 = Inf, and 0 * Inf made the
   whole trial NaN (RP_ERR_NONFINITE).  Trial 1 (mask 1, class 0) has loss
   log(1 + exp(-Inf)) = 0 and error softmax - onehot = 0 exactly, so the
   expected loss and gradient are exactly zero (hand-computed).  Same for MSE
   with target -1e308 on the masked row, and for rp_task_score. */
START_TEST(masked_rows_with_overflowing_loss)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 3;
    c.n_out = 2;
    c.batch = 2;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    const double cc[2] = {1e308, -1e308};
    RP_CK(rp_net_set_param(net, RP_PARAM_C, cc, 2), net, rp_net_last_error);
    const double x[2] = {0.5, -0.5}, mask[2] = {0.0, 1.0};
    for (int kind = 0; kind < 2; kind++) {
        rp_rule *rule = NULL;
        rp_grad *g = NULL;
        ck_assert_int_eq(rp_rule_create(&rule, net, kind ? RP_RULE_EPROP : RP_RULE_BPTT, NULL, 0),
                         RP_OK);
        ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
        /* CE: trial 0 (masked) class 1, trial 1 class 0 */
        RP_CK(rp_rule_set_loss(rule, RP_LOSS_CE), rule, rp_rule_last_error);
        const double cls[2] = {1.0, 0.0};
        double loss = -1.0, norm = -1.0;
        RP_CK(rp_rule_trial(rule, net, 1, x, cls, mask, g, &loss), rule, rp_rule_last_error);
        ck_assert_msg(loss == 0.0, "CE loss %g, expected 0", loss);
        RP_CK(rp_grad_get_norm(g, &norm), g, rp_grad_last_error);
        ck_assert_msg(norm == 0.0, "CE gradient norm %g, expected 0", norm);
        /* MSE: the masked trial's error 2e308 overflows; trial 1 matches exactly */
        RP_CK(rp_rule_set_loss(rule, RP_LOSS_MSE), rule, rp_rule_last_error);
        const double tg[4] = {-1e308, 1e308, 1e308, -1e308};
        RP_CK(rp_rule_trial(rule, net, 1, x, tg, mask, g, &loss), rule, rp_rule_last_error);
        ck_assert_msg(loss == 0.0, "MSE loss %g, expected 0", loss);
        RP_CK(rp_grad_get_norm(g, &norm), g, rp_grad_last_error);
        ck_assert_msg(norm == 0.0, "MSE gradient norm %g, expected 0", norm);
        rp_grad_free(g);
        rp_rule_free(rule);
    }
    rp_net_free(net);

    /* rp_task_score: 2af (CE, 3 outputs), only step 0 of trial 0 unmasked */
    rp_task *task = NULL;
    ck_assert_int_eq(rp_task_create(&task, RP_TASK_2AF, NULL, NULL, 0), RP_OK);
    size_t n_in, n_out, T;
    RP_CK(rp_task_get_dims(task, &n_in, &n_out, &T, NULL), task, rp_task_last_error);
    double *y = calloc(T * n_out, sizeof *y), *tgt = calloc(T, sizeof *tgt);
    double *m = calloc(T, sizeof *m);
    ck_assert(y && tgt && m);
    for (size_t t = 0; t < T; t++) {
        y[t * n_out] = 1e308;
        y[t * n_out + 1] = -1e308;
        tgt[t] = 1.0; /* loss 2e308 = Inf where it counts */
    }
    tgt[0] = 0.0; /* step 0: class 0, loss 0 */
    m[0] = 1.0;
    double loss = -1.0, acc = -1.0;
    RP_CK(rp_task_score(task, 1, y, tgt, m, &loss, &acc), task, rp_task_last_error);
    ck_assert_msg(loss == 0.0, "task loss %g, expected 0", loss);
    free(y);
    free(tgt);
    free(m);
    rp_task_free(task);
}
END_TEST

/* CE with extreme logits (MODEL.md §3, computed stably): y = c = (1000,
   -1000) with V = 0.  A naive softmax overflows (exp(1000) = Inf).  By hand:
   log-sum-exp = 1000 + log(1 + e^-2000) = 1000 exactly in double, so class 1
   costs 2000 and its error is softmax - onehot = (1, -1) exactly (B = T = 1,
   scale 1), which is G_c.  Class 0 costs 0 with error (0, 0). */
START_TEST(ce_extreme_logits)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 2;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    const double cc[2] = {1000.0, -1000.0};
    RP_CK(rp_net_set_param(net, RP_PARAM_C, cc, 2), net, rp_net_last_error);
    rp_rule *rule = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_BPTT, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_rule_set_loss(rule, RP_LOSS_CE), rule, rp_rule_last_error);
    double x = 0.3, cls = 1.0, loss = 0.0, gc[2];
    RP_CK(rp_rule_trial(rule, net, 1, &x, &cls, NULL, g, &loss), rule, rp_rule_last_error);
    ck_assert_double_eq(loss, 2000.0);
    RP_CK(rp_grad_get(g, RP_PARAM_C, gc, 2), g, rp_grad_last_error);
    ck_assert_double_eq(gc[0], 1.0);
    ck_assert_double_eq(gc[1], -1.0);
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    cls = 0.0;
    RP_CK(rp_rule_trial(rule, net, 1, &x, &cls, NULL, g, &loss), rule, rp_rule_last_error);
    ck_assert_double_eq(loss, 0.0);
    RP_CK(rp_grad_get(g, RP_PARAM_C, gc, 2), g, rp_grad_last_error);
    ck_assert_double_eq(gc[0], 0.0);
    ck_assert_double_eq(gc[1], 0.0);
    rp_grad_free(g);
    rp_rule_free(rule);
    rp_net_free(net);
}
END_TEST

/* Edge dimensions: T = 1, n_in = 0 (x NULL), n_out = 1, B = 2, both forms.
   For one step every rule is exact (e-prop's trace eps_1 = (1-a) f(h_0) is
   dh_1/dW itself, and with symmetric feedback its learning signal is the
   true one), so BPTT, RTRL and e-prop must agree; they sum in different
   orders, hence the 1e-12 relative tolerance (rounding only). */
START_TEST(edge_dims_t1_autonomous)
{
    for (int form = 0; form < 2; form++) {
        rp_net_config c;
        rp_net_config_init(&c, sizeof c);
        c.n_in = 0;
        c.n_rec = 3;
        c.n_out = 1;
        c.batch = 2;
        c.act = RP_ACT_TANH;
        c.alpha = 0.3;
        c.form = form ? RP_FORM_RATE : RP_FORM_VOLTAGE;
        rp_net *net = NULL;
        ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
        double W[9], b[3], V[3], cc[1] = {0.1}, h0[3];
        tu_fill(W, 9, -0.8, 0.8, 11);
        tu_fill(b, 3, -0.5, 0.5, 12);
        tu_fill(V, 3, -1.0, 1.0, 13);
        tu_fill(h0, 3, -1.0, 1.0, 14);
        RP_CK(rp_net_set_param(net, RP_PARAM_W, W, 9), net, rp_net_last_error);
        RP_CK(rp_net_set_param(net, RP_PARAM_B, b, 3), net, rp_net_last_error);
        RP_CK(rp_net_set_param(net, RP_PARAM_V, V, 3), net, rp_net_last_error);
        RP_CK(rp_net_set_param(net, RP_PARAM_C, cc, 1), net, rp_net_last_error);
        RP_CK(rp_net_set_initial_state(net, h0, 3), net, rp_net_last_error);
        RP_CK(rp_net_reset(net), net, rp_net_last_error);
        const double target[2] = {0.5, -0.25};
        const rp_rule_kind kinds[3] = {RP_RULE_BPTT, RP_RULE_RTRL, RP_RULE_EPROP};
        double gw[3][9], gv[3][3], gb[3][3], loss[3];
        for (int k = 0; k < 3; k++) {
            rp_rule *rule = NULL;
            rp_grad *g = NULL;
            ck_assert_int_eq(rp_rule_create(&rule, net, kinds[k], NULL, 0), RP_OK);
            ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
            RP_CK(rp_rule_trial(rule, net, 1, NULL, target, NULL, g, &loss[k]), rule,
                  rp_rule_last_error);
            RP_CK(rp_grad_get(g, RP_PARAM_W, gw[k], 9), g, rp_grad_last_error);
            RP_CK(rp_grad_get(g, RP_PARAM_B, gb[k], 3), g, rp_grad_last_error);
            RP_CK(rp_grad_get(g, RP_PARAM_V, gv[k], 3), g, rp_grad_last_error);
            if (kinds[k] != RP_RULE_BPTT) {
                /* online: one step from h0 gives the same (T = 1) */
                rp_grad *go = NULL;
                double gow[9], lo = 0.0;
                ck_assert_int_eq(rp_grad_create(&go, net, NULL, 0), RP_OK);
                RP_CK(rp_net_reset(net), net, rp_net_last_error);
                RP_CK(rp_rule_begin(rule, net), rule, rp_rule_last_error);
                RP_CK(rp_net_step(net, NULL, NULL), net, rp_net_last_error);
                RP_CK(rp_rule_step(rule, net, NULL, target, NULL, go), rule, rp_rule_last_error);
                RP_CK(rp_rule_end(rule, &lo), rule, rp_rule_last_error);
                RP_CK(rp_grad_get(go, RP_PARAM_W, gow, 9), go, rp_grad_last_error);
                ck_assert_msg(tu_rel_err(gow, gw[k], 9, 1e-300) < 1e-12, "form %d kind %d online W",
                              form, k);
                ck_assert_msg(fabs(lo - loss[k]) <= 1e-12 * fabs(loss[k]), "online loss");
                rp_grad_free(go);
            }
            rp_grad_free(g);
            rp_rule_free(rule);
        }
        double nw = 0.0;
        for (int i = 0; i < 9; i++)
            nw += fabs(gw[0][i]);
        ck_assert_msg(nw > 1e-3, "the W gradient should not vanish here");
        for (int k = 1; k < 3; k++) {
            ck_assert_msg(tu_rel_err(gw[k], gw[0], 9, 1e-300) < 1e-12, "form %d kind %d W", form,
                          k);
            ck_assert_msg(tu_rel_err(gb[k], gb[0], 3, 1e-300) < 1e-12, "form %d kind %d b", form,
                          k);
            ck_assert_msg(tu_rel_err(gv[k], gv[0], 3, 1e-300) < 1e-12, "form %d kind %d V", form,
                          k);
            ck_assert_msg(fabs(loss[k] - loss[0]) <= 1e-12 * fabs(loss[0]), "loss");
        }
        rp_net_free(net);
    }
}
END_TEST

Suite *suite_rule(void)
{
    Suite *s = suite_create("rule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, loss_fixed_inside_stream);
    tcase_add_test(tc, masked_rows_with_overflowing_loss);
    tcase_add_test(tc, ce_extreme_logits);
    tcase_add_test(tc, edge_dims_t1_autonomous);
    suite_add_tcase(s, tc);
    return s;
}
