/* The gradient handle (src/grad.c): aliased axpy against values scaled by
   hand, and argument messages. */
#include "testutil.h"

/* rp_grad_axpy(g, a, g) is documented as allowed; BLAS forbids aliased
   arguments, so it is done as a scaling.  Values chosen so 1.5 x is exact. */
START_TEST(grad_axpy_self)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    const double w[4] = {1.0, 2.0, -4.0, 0.25};
    RP_CK(rp_grad_set(g, RP_PARAM_W, w, 4), g, rp_grad_last_error);
    RP_CK(rp_grad_axpy(g, 0.5, g), g, rp_grad_last_error);
    double out[4];
    RP_CK(rp_grad_get(g, RP_PARAM_W, out, 4), g, rp_grad_last_error);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(out[i], 1.5 * w[i]);
    rp_grad_free(g);
    rp_net_free(net);
}
END_TEST

/* A failing call on a live gradient names the argument in the handle's
   message; these returned RP_ERR_INVALID_ARG with the previous call's text. */
START_TEST(messages_name_the_argument)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_rec = 3;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_get_norm(g, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_grad_last_error(g), "norm is NULL") != NULL, "%s",
                  rp_grad_last_error(g));
    ck_assert_int_eq(rp_grad_axpy(g, 1.0, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_grad_last_error(g), "src is NULL") != NULL, "%s",
                  rp_grad_last_error(g));
    rp_grad_free(g);
    rp_net_free(net);
}
END_TEST

Suite *suite_grad(void)
{
    Suite *s = suite_create("grad");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, grad_axpy_self);
    tcase_add_test(tc, messages_name_the_argument);
    suite_add_tcase(s, tc);
    return s;
}
