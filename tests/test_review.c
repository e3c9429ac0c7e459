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

/* Sizes handed to CBLAS are int: a configuration whose parameter vector or
   batch of states exceeds INT_MAX used to be accepted (only size_t overflow
   was checked), and the (int) casts of the grad, optimizer and step calls
   would then wrap.  Checked without allocating (rp_net_config_check only);
   the boundaries are computed here by hand. */
START_TEST(blas_int_limits)
{
    char msg[256];
    rp_net_config c = rp_net_config_default();
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

/* rp_task_score checks its inputs as rp_rule_trial does: an MSE target that
   is not finite, or a mask outside [0, 1] (NaN included), used to give a NaN
   loss with RP_OK.  Failing calls leave *loss and *accuracy as they were. */
START_TEST(task_score_checks_target_and_mask)
{
    rp_task *task = NULL;
    ck_assert_int_eq(rp_task_create(&task, RP_TASK_SINES, NULL), RP_OK);
    size_t n_in = 0, n_out = 0, T = 0;
    rp_loss kind;
    RP_CK(rp_task_dims(task, &n_in, &n_out, &T, &kind), task, rp_task_last_error);
    ck_assert_int_eq(kind, RP_LOSS_MSE);
    const size_t B = 2, ny = T * B * n_out;
    double *x = calloc(T * B * n_in, sizeof *x), *tg = calloc(ny, sizeof *tg);
    double *m = calloc(T * B, sizeof *m), *y = calloc(ny, sizeof *y);
    ck_assert(x && tg && m && y);
    RP_CK(rp_task_sample(task, B, 7, x, tg, m), task, rp_task_last_error);
    double loss = -1.0, acc = -1.0;
    RP_CK(rp_task_score(task, B, y, tg, m, &loss, &acc), task, rp_task_last_error);
    ck_assert(isfinite(loss));

    double keep = tg[5];
    tg[5] = NAN;
    loss = acc = -1.0;
    ck_assert_int_eq(rp_task_score(task, B, y, tg, m, &loss, &acc), RP_ERR_NONFINITE);
    ck_assert_msg(strstr(rp_task_last_error(task), "target[5]") != NULL, "%s",
                  rp_task_last_error(task));
    ck_assert(loss == -1.0 && acc == -1.0);
    tg[5] = keep;

    m[3] = NAN;
    ck_assert_int_eq(rp_task_score(task, B, y, tg, m, &loss, &acc), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_task_last_error(task), "mask[3]") != NULL, "%s",
                  rp_task_last_error(task));
    m[3] = -0.5;
    ck_assert_int_eq(rp_task_score(task, B, y, tg, m, &loss, &acc), RP_ERR_INVALID_ARG);
    ck_assert(loss == -1.0 && acc == -1.0);
    free(x);
    free(tg);
    free(m);
    free(y);
    rp_task_free(task);
}
END_TEST

/* The e-prop online step refuses a step whose loss is not finite, as
   rp_rule_trial and the RTRL step do.  Outputs of 1e160 are finite, but the
   squared error (1e320) and the symmetric learning signal V^T e overflow: the
   step used to return RP_OK with an infinite loss and Inf entries in grad.
   Now nothing changes: grad stays zero and the stream counts no step. */
START_TEST(eprop_step_refuses_nonfinite_loss)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    c.alpha = 0.5;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    const double bias[2] = {1.0, 1.0}, V[2] = {1e160, 1e160};
    RP_CK(rp_net_set_param(net, RP_PARAM_B, bias, 2), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_V, V, 2), net, rp_net_last_error);
    rp_rule *rule = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_EPROP), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
    RP_CK(rp_rule_begin(rule, net), rule, rp_rule_last_error);
    double x = 0.0, y = 0.0, target = 0.0;
    RP_CK(rp_net_step(net, &x, &y), net, rp_net_last_error);
    ck_assert(isfinite(y) && y > 1e159); /* h = (1-a) b = 0.5: y = 1e160 */
    ck_assert_int_eq(rp_rule_step(rule, net, &x, &target, NULL, g), RP_ERR_NONFINITE);
    double norm = -1.0;
    RP_CK(rp_grad_norm(g, &norm), g, rp_grad_last_error);
    ck_assert_msg(norm == 0.0, "grad changed by a refused step: norm %g", norm);
    double loss = -1.0;
    RP_CK(rp_rule_end(rule, &loss), rule, rp_rule_last_error);
    ck_assert_msg(loss == 0.0, "the refused step counted: mean loss %g", loss);
    rp_grad_free(g);
    rp_rule_free(rule);
    rp_net_free(net);
}
END_TEST

/* The loss cannot change inside an online stream (as the feedback cannot):
   the stream's steps and the mean loss of rp_rule_end are of one loss.  It
   used to switch silently.  Setting the same loss again is harmless. */
START_TEST(loss_fixed_inside_stream)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 3;
    c.n_out = 2;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    rp_rule *rule = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_RTRL), RP_OK);
    RP_CK(rp_rule_begin(rule, net), rule, rp_rule_last_error);
    ck_assert_int_eq(rp_rule_set_loss(rule, RP_LOSS_CE), RP_ERR_STATE);
    ck_assert_msg(strstr(rp_rule_last_error(rule), "stream") != NULL, "%s",
                  rp_rule_last_error(rule));
    ck_assert_int_eq(rp_rule_set_loss(rule, RP_LOSS_MSE), RP_OK);
    /* still MSE: a 2-output target row is accepted, not read as class indices */
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
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

/* A failing call on a live handle names the argument in the handle's
   message; these returned RP_ERR_INVALID_ARG with the previous call's text
   (and rp_net_clone left *out as it was when net was NULL). */
START_TEST(messages_name_the_argument)
{
    rp_net_config c = rp_net_config_default();
    c.n_rec = 3;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    size_t len = 0;
    ck_assert_int_eq(rp_net_param_len(net, (rp_param)7, &len), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "which is 7") != NULL, "%s", rp_net_last_error(net));
    ck_assert_int_eq(rp_net_param_len(net, RP_PARAM_W, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "len is NULL") != NULL, "%s", rp_net_last_error(net));
    ck_assert_int_eq(rp_net_get_config(net, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "cfg is NULL") != NULL, "%s", rp_net_last_error(net));
    ck_assert_int_eq(rp_net_clone(NULL, net), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "out is NULL") != NULL, "%s", rp_net_last_error(net));
    rp_net *other = net; /* any non-NULL value */
    ck_assert_int_eq(rp_net_clone(&other, NULL), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(other);

    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
    ck_assert_int_eq(rp_grad_norm(g, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_grad_last_error(g), "norm is NULL") != NULL, "%s", rp_grad_last_error(g));
    ck_assert_int_eq(rp_grad_axpy(g, 1.0, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_grad_last_error(g), "src is NULL") != NULL, "%s", rp_grad_last_error(g));

    rp_task *task = NULL;
    ck_assert_int_eq(rp_task_create(&task, RP_TASK_COPY, NULL), RP_OK);
    ck_assert_int_eq(rp_task_get_config(task, NULL), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_task_last_error(task), "cfg is NULL") != NULL, "%s",
                  rp_task_last_error(task));
    rp_task_free(task);
    rp_grad_free(g);
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
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 3;
    c.n_out = 2;
    c.batch = 2;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    const double cc[2] = {1e308, -1e308};
    RP_CK(rp_net_set_param(net, RP_PARAM_C, cc, 2), net, rp_net_last_error);
    const double x[2] = {0.5, -0.5}, mask[2] = {0.0, 1.0};
    for (int kind = 0; kind < 2; kind++) {
        rp_rule *rule = NULL;
        rp_grad *g = NULL;
        ck_assert_int_eq(rp_rule_create(&rule, net, kind ? RP_RULE_EPROP : RP_RULE_BPTT), RP_OK);
        ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
        /* CE: trial 0 (masked) class 1, trial 1 class 0 */
        RP_CK(rp_rule_set_loss(rule, RP_LOSS_CE), rule, rp_rule_last_error);
        const double cls[2] = {1.0, 0.0};
        double loss = -1.0, norm = -1.0;
        RP_CK(rp_rule_trial(rule, net, 1, x, cls, mask, g, &loss), rule, rp_rule_last_error);
        ck_assert_msg(loss == 0.0, "CE loss %g, expected 0", loss);
        RP_CK(rp_grad_norm(g, &norm), g, rp_grad_last_error);
        ck_assert_msg(norm == 0.0, "CE gradient norm %g, expected 0", norm);
        /* MSE: the masked trial's error 2e308 overflows; trial 1 matches exactly */
        RP_CK(rp_rule_set_loss(rule, RP_LOSS_MSE), rule, rp_rule_last_error);
        const double tg[4] = {-1e308, 1e308, 1e308, -1e308};
        RP_CK(rp_rule_trial(rule, net, 1, x, tg, mask, g, &loss), rule, rp_rule_last_error);
        ck_assert_msg(loss == 0.0, "MSE loss %g, expected 0", loss);
        RP_CK(rp_grad_norm(g, &norm), g, rp_grad_last_error);
        ck_assert_msg(norm == 0.0, "MSE gradient norm %g, expected 0", norm);
        rp_grad_free(g);
        rp_rule_free(rule);
    }
    rp_net_free(net);

    /* rp_task_score: 2af (CE, 3 outputs), only step 0 of trial 0 unmasked */
    rp_task *task = NULL;
    ck_assert_int_eq(rp_task_create(&task, RP_TASK_2AF, NULL), RP_OK);
    size_t n_in, n_out, T;
    RP_CK(rp_task_dims(task, &n_in, &n_out, &T, NULL), task, rp_task_last_error);
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

/* RTRL's per-trial sensitivity block N x M (M = N (N + n_in + 1)) goes to
   BLAS with int lengths (rp__jacobian_apply's daxpy of N*M): N = 1300 gives
   1300 * 1300 * 1301 = 2198770000 > INT_MAX, which used to be accepted (the
   size_t product does not overflow; calloc of 3 x 17 GB may even succeed
   lazily) and would wrap.  Now refused at create, before any large
   allocation.  (The net itself, 1300^2 doubles of W, is 13.5 MB.) */
START_TEST(rtrl_refuses_int_overflow)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 0;
    c.n_rec = 1300;
    c.n_out = 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    rp_rule *rule = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_RTRL), RP_ERR_NOMEM);
    ck_assert_ptr_null(rule);
    rp_net_free(net);
}
END_TEST

/* rp_grad_axpy(g, a, g) is documented as allowed; BLAS forbids aliased
   arguments, so it is done as a scaling.  Values chosen so 1.5 x is exact. */
START_TEST(grad_axpy_self)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
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

/* Edge dimensions: T = 1, n_in = 0 (x NULL), n_out = 1, B = 2, both forms.
   For one step every rule is exact (e-prop's trace eps_1 = (1-a) f(h_0) is
   dh_1/dW itself, and with symmetric feedback its learning signal is the
   true one), so BPTT, RTRL and e-prop must agree; they sum in different
   orders, hence the 1e-12 relative tolerance (rounding only). */
START_TEST(edge_dims_t1_autonomous)
{
    for (int form = 0; form < 2; form++) {
        rp_net_config c = rp_net_config_default();
        c.n_in = 0;
        c.n_rec = 3;
        c.n_out = 1;
        c.batch = 2;
        c.act = RP_ACT_TANH;
        c.alpha = 0.3;
        c.form = form ? RP_FORM_RATE : RP_FORM_VOLTAGE;
        rp_net *net = NULL;
        ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
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
            ck_assert_int_eq(rp_rule_create(&rule, net, kinds[k]), RP_OK);
            ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
            RP_CK(rp_rule_trial(rule, net, 1, NULL, target, NULL, g, &loss[k]), rule,
                  rp_rule_last_error);
            RP_CK(rp_grad_get(g, RP_PARAM_W, gw[k], 9), g, rp_grad_last_error);
            RP_CK(rp_grad_get(g, RP_PARAM_B, gb[k], 3), g, rp_grad_last_error);
            RP_CK(rp_grad_get(g, RP_PARAM_V, gv[k], 3), g, rp_grad_last_error);
            if (kinds[k] != RP_RULE_BPTT) {
                /* online: one step from h0 gives the same (T = 1) */
                rp_grad *go = NULL;
                double gow[9], lo = 0.0;
                ck_assert_int_eq(rp_grad_create(&go, net), RP_OK);
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
            ck_assert_msg(tu_rel_err(gw[k], gw[0], 9, 1e-300) < 1e-12, "form %d kind %d W", form, k);
            ck_assert_msg(tu_rel_err(gb[k], gb[0], 3, 1e-300) < 1e-12, "form %d kind %d b", form, k);
            ck_assert_msg(tu_rel_err(gv[k], gv[0], 3, 1e-300) < 1e-12, "form %d kind %d V", form, k);
            ck_assert_msg(fabs(loss[k] - loss[0]) <= 1e-12 * fabs(loss[0]), "loss");
        }
        rp_net_free(net);
    }
}
END_TEST

/* CE with extreme logits (MODEL.md §3, computed stably): y = c = (1000,
   -1000) with V = 0.  A naive softmax overflows (exp(1000) = Inf).  By hand:
   log-sum-exp = 1000 + log(1 + e^-2000) = 1000 exactly in double, so class 1
   costs 2000 and its error is softmax - onehot = (1, -1) exactly (B = T = 1,
   scale 1), which is G_c.  Class 0 costs 0 with error (0, 0). */
START_TEST(ce_extreme_logits)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 2;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    const double cc[2] = {1000.0, -1000.0};
    RP_CK(rp_net_set_param(net, RP_PARAM_C, cc, 2), net, rp_net_last_error);
    rp_rule *rule = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_BPTT), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
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

/* Adam with a zero gradient moves nothing (update 0 / (0 + eps) = 0) and a
   following first real step is the bias-corrected lr * g / (|g| + eps)
   (MODEL.md §5), written out here by hand: m^ = g, v^ = g^2 after the
   corrections 1 - beta^t with t = 2 and zero moments from step 1. */
START_TEST(adam_zero_gradient)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
    const double W[4] = {0.5, -0.25, 1.0, 2.0};
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, 4), net, rp_net_last_error);
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_ADAM), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net), RP_OK);
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    RP_CK(rp_optim_set_lr(opt, lr), opt, rp_optim_last_error);
    RP_CK(rp_optim_set_betas(opt, b1, b2, eps), opt, rp_optim_last_error);
    RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    double w[4];
    RP_CK(rp_net_get_param(net, RP_PARAM_W, w, 4), net, rp_net_last_error);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(w[i], W[i]);
    const double gw[4] = {1e-3, -2.0, 0.0, 5e4};
    RP_CK(rp_grad_set(g, RP_PARAM_W, gw, 4), g, rp_grad_last_error);
    RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, w, 4), net, rp_net_last_error);
    const double c1 = 1.0 - b1 * b1, c2 = 1.0 - b2 * b2;
    for (int i = 0; i < 4; i++) {
        double m = (1.0 - b1) * gw[i], v = (1.0 - b2) * gw[i] * gw[i];
        double want = W[i] - lr * (m / c1) / (sqrt(v / c2) + eps);
        /* the same operations as MODEL.md §5; pow(b, 2) vs b*b may differ by
           an ulp in the corrections, hence 1e-14 relative */
        ck_assert_msg(fabs(w[i] - want) <= 1e-14 * fabs(want) + 1e-300, "W[%d] %a vs %a", i, w[i],
                      want);
    }
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_net_free(net);
}
END_TEST

Suite *suite_review(void)
{
    Suite *s = suite_create("review");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, failed_step_keeps_u);
    tcase_add_test(tc, blas_int_limits);
    tcase_add_test(tc, task_score_checks_target_and_mask);
    tcase_add_test(tc, eprop_step_refuses_nonfinite_loss);
    tcase_add_test(tc, loss_fixed_inside_stream);
    tcase_add_test(tc, messages_name_the_argument);
    tcase_add_test(tc, masked_rows_with_overflowing_loss);
    tcase_add_test(tc, rtrl_refuses_int_overflow);
    tcase_add_test(tc, grad_axpy_self);
    tcase_add_test(tc, edge_dims_t1_autonomous);
    tcase_add_test(tc, ce_extreme_logits);
    tcase_add_test(tc, adam_zero_gradient);
    suite_add_tcase(s, tc);
    return s;
}
