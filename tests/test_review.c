/* Regression tests for the defects found by the code review (one test per
   fix; each names the contract it checks). */
#include "testutil.h"

#include <unistd.h>

/* Read a whole (small) file; *len receives its size. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A failed rp_net_step changes nothing: in the rate form the pre-activation
   u_t is part of the live state (a checkpoint stores it, the online rules read
   f'(u_t)), and a diverging step used to leave the failed step's u behind.
   The oracle is a clone that never took the failing step: the two
   checkpoints must be byte-identical. */
START_TEST(failed_step_keeps_u)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    c.form = RP_FORM_RATE;
    c.act = RP_ACT_RELU;
    c.alpha = 0.5;
    rp_net *a = NULL, *b = NULL;
    ck_assert_int_eq(rp_net_create(&a, &c), RP_OK);
    const double U[2] = {10.0, -10.0}, bias[2] = {1.0, 1.0}, V[2] = {1.0, 1.0};
    RP_CK(rp_net_set_param(a, RP_PARAM_U, U, 2), a, rp_net_last_error);
    RP_CK(rp_net_set_param(a, RP_PARAM_B, bias, 2), a, rp_net_last_error);
    RP_CK(rp_net_set_param(a, RP_PARAM_V, V, 2), a, rp_net_last_error);
    double x = 0.0, y = 0.0;
    RP_CK(rp_net_step(a, &x, &y), a, rp_net_last_error); /* u = (1, 1) */
    ck_assert_int_eq(rp_net_clone(&b, a), RP_OK);
    /* u_0 = +inf makes r_0 infinite: the step must fail and undo itself */
    x = 1e308;
    ck_assert_int_eq(rp_net_step(a, &x, &y), RP_ERR_NONFINITE);

    char dir[] = "/tmp/rp_review_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s/a.ck", dir);
    snprintf(pb, sizeof pb, "%s/b.ck", dir);
    RP_CK(rp_checkpoint_save(pa, a, NULL, NULL, 0, NULL, 0, NULL, 0), a, rp_net_last_error);
    RP_CK(rp_checkpoint_save(pb, b, NULL, NULL, 0, NULL, 0, NULL, 0), b, rp_net_last_error);
    size_t la = 0, lb = 0;
    unsigned char *fa = slurp(pa, &la), *fb = slurp(pb, &lb);
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

Suite *suite_review(void)
{
    Suite *s = suite_create("review");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, failed_step_keeps_u);
    suite_add_tcase(s, tc);
    return s;
}
