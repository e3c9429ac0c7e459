/* The conventions of rnnplast.h's opening comment, checked across every
   handle kind: where a call's message goes, that a success clears it, the
   kind names, and that an online stream keeps step with its net. */
#include "testutil.h"

/* A small net with parameters, for every handle built on it. */
static rp_net *api_net(size_t batch)
{
    rp_net_config c = tu_net_config(2, 4, 2, batch, RP_FORM_VOLTAGE, RP_ACT_TANH, 0.5);
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    tu_set_random_params(net, 0.9, 0.3, 7);
    return net;
}

/* After a failing call the handle's message is not empty; after the next
   successful call on it, it is "" (the header said "" if none, but kept
   the old text). */
#define FAIL_THEN_OK(h, errfn, bad, good)                                           \
    do {                                                                            \
        ck_assert_int_ne((bad), RP_OK);                                             \
        ck_assert_msg(errfn(h)[0] != '\0', "%s: no message after a failure", #bad); \
        ck_assert_int_eq((good), RP_OK);                                            \
        ck_assert_msg(errfn(h)[0] == '\0', "%s left \"%s\"", #good, errfn(h));      \
    } while (0)

START_TEST(success_clears_last_error)
{
    rp_net *net = api_net(1);
    double x[2] = {0.1, -0.2}, y[2], s[4];
    FAIL_THEN_OK(net, rp_net_last_error, rp_net_set_alpha(net, 2.0), rp_net_set_alpha(net, 0.5));
    /* a const call clears it too */
    FAIL_THEN_OK(net, rp_net_last_error, rp_net_get_state(net, s, 3), rp_net_get_state(net, s, 4));
    FAIL_THEN_OK(net, rp_net_last_error, rp_net_step(net, NULL, y), rp_net_step(net, x, y));

    rp_init *in = NULL;
    ck_assert_int_eq(rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0), RP_OK);
    FAIL_THEN_OK(in, rp_init_last_error, rp_init_set_gain(in, -1.0), rp_init_set_gain(in, 1.0));
    FAIL_THEN_OK(in, rp_init_last_error, rp_init_apply(in, net, (rp_param)9, 1),
                 rp_init_apply(in, net, RP_PARAM_W, 1));

    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    FAIL_THEN_OK(g, rp_grad_last_error, rp_grad_scale(g, NAN), rp_grad_scale(g, 2.0));

    rp_rule *r = NULL;
    ck_assert_int_eq(rp_rule_create(&r, net, RP_RULE_EPROP, NULL, 0), RP_OK);
    FAIL_THEN_OK(r, rp_rule_last_error, rp_rule_set_loss(r, (rp_loss)7),
                 rp_rule_set_loss(r, RP_LOSS_MSE));

    rp_optim *o = NULL;
    ck_assert_int_eq(rp_optim_create(&o, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    FAIL_THEN_OK(o, rp_optim_last_error, rp_optim_set_lr(o, 0.0), rp_optim_set_lr(o, 0.01));

    rp_lyap *ly = NULL;
    ck_assert_int_eq(rp_lyap_create(&ly, net, 2, NULL, NULL, 0), RP_OK);
    double sp[2];
    FAIL_THEN_OK(ly, rp_lyap_last_error, rp_lyap_get_spectrum(ly, sp, 2),
                 rp_lyap_run(ly, net, 3, NULL));

    rp_floss_config fc;
    rp_floss_config_init(&fc, sizeof fc);
    rp_floss *fl = NULL;
    ck_assert_int_eq(rp_floss_create(&fl, net, &fc, NULL, 0), RP_OK);
    double q[4] = {1, 0, 0, 0};
    FAIL_THEN_OK(fl, rp_floss_last_error, rp_floss_set_basis(fl, q, 3),
                 rp_floss_set_basis(fl, q, 4));

    rp_task *t = NULL;
    ck_assert_int_eq(rp_task_create(&t, RP_TASK_COPY, NULL, NULL, 0), RP_OK);
    size_t n_in;
    FAIL_THEN_OK(t, rp_task_last_error, rp_task_score(t, 0, y, y, NULL, NULL, NULL),
                 rp_task_get_dims(t, &n_in, NULL, NULL, NULL));

    rp_task_free(t);
    rp_floss_free(fl);
    rp_lyap_free(ly);
    rp_optim_free(o);
    rp_rule_free(r);
    rp_grad_free(g);
    rp_init_free(in);
    rp_net_free(net);
}
END_TEST

/* Every constructor reports into msg: "" on success (whatever the buffer
   held), a message naming the argument on failure, and *out = NULL. */
START_TEST(constructors_report_into_msg)
{
    rp_net *net = api_net(1);
    char m[160];
#define CTOR_OK(call)                    \
    do {                                 \
        strcpy(m, "stale");              \
        ck_assert_int_eq((call), RP_OK); \
        ck_assert_str_eq(m, "");         \
    } while (0)
#define CTOR_BAD(call, st, text)                                                               \
    do {                                                                                       \
        ck_assert_int_eq((call), (st));                                                        \
        ck_assert_msg(strstr(m, (text)) != NULL, "%s: \"%s\" lacks \"%s\"", #call, m, (text)); \
    } while (0)
    rp_net *n2 = net;
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_rec = 0;
    CTOR_BAD(rp_net_create(&n2, &c, m, sizeof m), RP_ERR_INVALID_ARG, "n_rec");
    ck_assert_ptr_null(n2);
    c.n_rec = 3;
    CTOR_OK(rp_net_create(&n2, &c, m, sizeof m));
    rp_net_free(n2);
    CTOR_BAD(rp_net_clone(&n2, NULL, m, sizeof m), RP_ERR_INVALID_ARG, "net is NULL");
    CTOR_OK(rp_net_clone(&n2, net, m, sizeof m));
    rp_net_free(n2);
    CTOR_BAD(rp_net_load(&n2, "/nonexistent/x.rpn", m, sizeof m), RP_ERR_IO, "/nonexistent/x.rpn");

    rp_init *in = NULL;
    CTOR_BAD(rp_init_create(&in, (rp_init_kind)77, m, sizeof m), RP_ERR_INVALID_ARG, "kind 77");
    CTOR_OK(rp_init_create_alloc(&in, RP_INIT_DALE, NULL, m, sizeof m));
    rp_init_free(in);

    rp_grad *g = NULL;
    CTOR_BAD(rp_grad_create(&g, NULL, m, sizeof m), RP_ERR_INVALID_ARG, "net is NULL");
    CTOR_OK(rp_grad_create(&g, net, m, sizeof m));
    rp_grad_free(g);

    rp_rule *r = NULL;
    CTOR_BAD(rp_rule_create(&r, net, (rp_rule_kind)42, m, sizeof m), RP_ERR_INVALID_ARG, "kind 42");
    CTOR_OK(rp_rule_create(&r, net, RP_RULE_RTRL, m, sizeof m));
    rp_rule_free(r);

    rp_optim *o = NULL;
    CTOR_BAD(rp_optim_create(&o, net, (rp_optim_kind)5, m, sizeof m), RP_ERR_INVALID_ARG, "kind 5");
    CTOR_OK(rp_optim_create(&o, net, RP_OPTIM_SGD, m, sizeof m));
    rp_optim_free(o);

    rp_lyap *ly = NULL;
    CTOR_BAD(rp_lyap_create(&ly, net, 9, NULL, m, sizeof m), RP_ERR_INVALID_ARG, "k is 9");
    CTOR_OK(rp_lyap_create(&ly, net, 2, NULL, m, sizeof m));
    rp_lyap_free(ly);

    rp_floss *fl = NULL;
    rp_floss_config fc;
    rp_floss_config_init(&fc, sizeof fc);
    fc.t_ons = 0;
    CTOR_BAD(rp_floss_create(&fl, net, &fc, m, sizeof m), RP_ERR_INVALID_ARG, "t_ons");
    fc.t_ons = 1;
    CTOR_OK(rp_floss_create(&fl, net, &fc, m, sizeof m));
    rp_floss_free(fl);

    rp_task *t = NULL;
    rp_task_config tc;
    rp_task_config_init(&tc, sizeof tc, RP_TASK_COPY);
    tc.T = 0;
    CTOR_BAD(rp_task_create(&t, RP_TASK_COPY, &tc, m, sizeof m), RP_ERR_INVALID_ARG, "T");
    CTOR_OK(rp_task_create_alloc(&t, RP_TASK_COPY, NULL, NULL, m, sizeof m));
    rp_task_free(t);

    double lmax = 0.0;
    CTOR_BAD(rp_lyap_max_direct(net, 5, NULL, 5, 1e-7, 1, &lmax, m, sizeof m), RP_ERR_STATE,
             "transient");
    CTOR_OK(rp_lyap_max_direct(net, 6, NULL, 2, 1e-7, 1, &lmax, m, sizeof m));
    /* msg may be NULL */
    ck_assert_int_eq(rp_grad_create(&g, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(rp_net_last_error(net), ""); /* none of this wrote to the net */
    rp_net_free(net);
#undef CTOR_OK
#undef CTOR_BAD
}
END_TEST

/* The names are the enum constants' own, lower case: checked against the
   constants' spelling, written out here independently. */
START_TEST(kind_names)
{
    static const struct {
        rp_rule_kind k;
        const char *constant;
    } rules[] = {{RP_RULE_BPTT, "RP_RULE_BPTT"}, {RP_RULE_TBPTT, "RP_RULE_TBPTT"},
                 {RP_RULE_RTRL, "RP_RULE_RTRL"}, {RP_RULE_EPROP, "RP_RULE_EPROP"},
                 {RP_RULE_RFLO, "RP_RULE_RFLO"}, {RP_RULE_MODPROP, "RP_RULE_MODPROP"}};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *n = rp_rule_kind_name(rules[i].k);
        ck_assert_ptr_nonnull(n);
        char up[32];
        size_t j = 0;
        for (; n[j] && j + 1 < sizeof up; j++)
            up[j] = (char)(n[j] >= 'a' && n[j] <= 'z' ? n[j] - 'a' + 'A' : n[j]);
        up[j] = '\0';
        ck_assert_str_eq(up, rules[i].constant + strlen("RP_RULE_"));
    }
    ck_assert_ptr_null(rp_rule_kind_name((rp_rule_kind)6));
    ck_assert_ptr_null(rp_rule_kind_name((rp_rule_kind)-1));
}
END_TEST

/* rp_rule_step refuses a stream that lost step with its net: no step since
   its last one, two steps, a reset, or an input other than the step's; the
   gradient and the stream are left as they were, and the stream goes on
   with the right call.  _i: e-prop, RFLO, RTRL. */
START_TEST(stream_keeps_step_with_net)
{
    static const rp_rule_kind kinds[] = {RP_RULE_EPROP, RP_RULE_RFLO, RP_RULE_RTRL};
    rp_net *net = api_net(2);
    rp_rule *r = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_rule_create(&r, net, kinds[_i], NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double x[5][4], tgt[4] = {0.5, -0.5, 0.25, 0.0}, y[4], g0[64], g1[64];
    tu_fill(&x[0][0], 20, -1.0, 1.0, 3);
    size_t P = 0, n;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)w, &n), RP_OK);
        P += n;
    }
    ck_assert_uint_le(P, 64);
#define REFUSED(call, text)                                                                        \
    do {                                                                                           \
        tu_grad_flat(net, g, g0);                                                                  \
        ck_assert_int_eq((call), RP_ERR_STATE);                                                    \
        ck_assert_msg(strstr(rp_rule_last_error(r), (text)) != NULL, "%s", rp_rule_last_error(r)); \
        tu_grad_flat(net, g, g1);                                                                  \
        ck_assert(memcmp(g0, g1, P * sizeof(double)) == 0);                                        \
    } while (0)
    ck_assert_int_eq(rp_rule_begin(r, net), RP_OK);
    /* before any net step */
    REFUSED(rp_rule_step(r, net, x[0], tgt, NULL, g), "stream step 0: the net has not stepped");
    ck_assert_int_eq(rp_net_step(net, x[0], y), RP_OK);
    ck_assert_int_eq(rp_rule_step(r, net, x[0], tgt, NULL, g), RP_OK);
    /* twice without a net step */
    REFUSED(rp_rule_step(r, net, x[0], tgt, NULL, g), "stream step 1: the net has not stepped");
    /* another input than the step's (a copy with equal values is fine) */
    ck_assert_int_eq(rp_net_step(net, x[1], y), RP_OK);
    REFUSED(rp_rule_step(r, net, x[2], tgt, NULL, g), "x_t[0] (trial 0, input 0)");
    double xc[4];
    memcpy(xc, x[1], sizeof xc);
    ck_assert_int_eq(rp_rule_step(r, net, xc, tgt, NULL, g), RP_OK);
    /* two net steps, then one rule step */
    ck_assert_int_eq(rp_net_step(net, x[2], y), RP_OK);
    ck_assert_int_eq(rp_net_step(net, x[3], y), RP_OK);
    REFUSED(rp_rule_step(r, net, x[3], tgt, NULL, g), "stepped more than once");
    /* a reset after the step */
    ck_assert_int_eq(rp_rule_begin(r, net), RP_OK);
    ck_assert_int_eq(rp_net_step(net, x[4], y), RP_OK);
    ck_assert_int_eq(rp_net_reset(net), RP_OK);
    REFUSED(rp_rule_step(r, net, x[4], tgt, NULL, g), "set or reset");
    /* rp_net_run of one step is a step */
    ck_assert_int_eq(rp_rule_begin(r, net), RP_OK);
    ck_assert_int_eq(rp_net_run(net, 1, x[4], y), RP_OK);
    ck_assert_int_eq(rp_rule_step(r, net, x[4], tgt, NULL, g), RP_OK);
    double loss = -1.0;
    ck_assert_int_eq(rp_rule_end(r, &loss), RP_OK);
    ck_assert(loss >= 0.0);
#undef REFUSED
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
}
END_TEST

/* An initializer's settings carry over from one apply to the next (the
   header says so): drawing U after W with gain 2 equals a fresh initializer
   set to gain 2, and differs from gain 1. */
START_TEST(init_settings_persist)
{
    rp_net *net = api_net(1);
    rp_init *a = NULL, *b = NULL, *one = NULL;
    ck_assert_int_eq(rp_init_create(&a, RP_INIT_GAUSSIAN, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_init_create(&b, RP_INIT_GAUSSIAN, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_init_create(&one, RP_INIT_GAUSSIAN, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_init_set_gain(a, 2.0), RP_OK);
    ck_assert_int_eq(rp_init_apply(a, net, RP_PARAM_W, 5), RP_OK);
    double u_a[8], u_b[8], u_1[8];
    ck_assert_int_eq(rp_init_apply(a, net, RP_PARAM_U, 6), RP_OK); /* gain not set again */
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_U, u_a, 8), RP_OK);
    ck_assert_int_eq(rp_init_set_gain(b, 2.0), RP_OK);
    ck_assert_int_eq(rp_init_apply(b, net, RP_PARAM_U, 6), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_U, u_b, 8), RP_OK);
    ck_assert_int_eq(rp_init_apply(one, net, RP_PARAM_U, 6), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_U, u_1, 8), RP_OK);
    ck_assert(memcmp(u_a, u_b, sizeof u_a) == 0);
    /* gain 2 vs 1 from the same stream: exactly twice the values (not all zero) */
    int nonzero = 0;
    for (int i = 0; i < 8; i++)
        nonzero |= u_1[i] != 0.0;
    ck_assert(nonzero);
    for (int i = 0; i < 8; i++)
        ck_assert_double_eq_tol(u_a[i], 2.0 * u_1[i], 1e-15);
    rp_init_free(one);
    rp_init_free(b);
    rp_init_free(a);
    rp_net_free(net);
}
END_TEST

Suite *suite_api(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("conventions");
    tcase_add_test(tc, success_clears_last_error);
    tcase_add_test(tc, constructors_report_into_msg);
    tcase_add_test(tc, kind_names);
    tcase_add_test(tc, init_settings_persist);
    tcase_add_loop_test(tc, stream_keeps_step_with_net, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
