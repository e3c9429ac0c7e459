/* Optimizers (MODEL.md §5): every step is compared with the update written
   out by hand here, entry by entry, from the textbook formulas (SGD with
   momentum as in PyTorch, Adam with bias correction, AdamW's decoupled decay). */
#include "testutil.h"

#define NP 5
static const rp_param params[NP] = {RP_PARAM_W, RP_PARAM_U, RP_PARAM_B, RP_PARAM_V, RP_PARAM_C};

/* A tiny net: n_in 1, n_rec 2, n_out 1 — W 4, U 2, b 2, V 2, c 1: 11 parameters. */
#define TOTAL 11
static const size_t blk_len[NP] = {4, 2, 2, 2, 1};

static rp_net *tiny_net(size_t n_in, size_t n_rec, size_t n_out, uint64_t seed)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = n_in;
    cfg.n_rec = n_rec;
    cfg.n_out = n_out;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
    for (int p = 0; p < NP; p++) {
        size_t len = 0;
        RP_CK(rp_net_get_param_len(net, params[p], &len), net, rp_net_last_error);
        double *v = malloc((len ? len : 1) * sizeof *v);
        tu_fill(v, len, -1.0, 1.0, seed + (uint64_t)p);
        RP_CK(rp_net_set_param(net, params[p], v, len), net, rp_net_last_error);
        free(v);
    }
    return net;
}

/* The tiny net (seeded), an optimizer of the given kind with learning rate
   lr in *opt, and a zero gradient in *g. */
static rp_net *tiny_rig(uint64_t seed, rp_optim_kind kind, double lr, rp_optim **opt, rp_grad **g)
{
    rp_net *net = tiny_net(1, 2, 1, seed);
    *opt = NULL;
    *g = NULL;
    ck_assert_int_eq(rp_optim_create(opt, net, kind, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(g, net, NULL, 0), RP_OK);
    RP_CK(rp_optim_set_lr(*opt, lr), *opt, rp_optim_last_error);
    return net;
}

static void rig_free(rp_net *net, rp_optim *opt, rp_grad *g)
{
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_net_free(net);
}

/* All parameters of the tiny net, in the order W, U, b, V, c. */
static void get_all(const rp_net *net, double *th)
{
    size_t off = 0;
    for (int p = 0; p < NP; p++) {
        RP_CK(rp_net_get_param(net, params[p], th + off, blk_len[p]), net, rp_net_last_error);
        off += blk_len[p];
    }
}

static void set_grad(rp_grad *g, const double *v)
{
    size_t off = 0;
    for (int p = 0; p < NP; p++) {
        RP_CK(rp_grad_set(g, params[p], v + off, blk_len[p]), g, rp_grad_last_error);
        off += blk_len[p];
    }
}

/* Three different gradients, one per step. */
static void grads3(double g[3][TOTAL])
{
    for (int k = 0; k < 3; k++)
        tu_fill(g[k], TOTAL, -2.0, 2.0, 100 + (uint64_t)k);
}

/* The arithmetic is the same as the reference's, in a different order at
   most, so the agreement is to a few ulps of the O(1) parameters. */
#define TOL 1e-14

START_TEST(sgd_literal_three_steps)
{
    /* One entry written out with numbers: theta0 = c (set to 1), g = 1, 2, -1,
       lr = 0.1: plain SGD gives 0.9, 0.7, 0.8; momentum 0.9 gives
       buf 1, 2.9, 1.61 and theta 0.9, 0.61, 0.449. */
    const double want_plain[3] = {0.9, 0.7, 0.8}, want_mom[3] = {0.9, 0.61, 0.449};
    const double gs[3] = {1.0, 2.0, -1.0};
    for (int mom = 0; mom < 2; mom++) {
        rp_net *net = tiny_net(1, 2, 1, 1);
        double one = 1.0;
        RP_CK(rp_net_set_param(net, RP_PARAM_C, &one, 1), net, rp_net_last_error);
        rp_optim *opt = NULL;
        ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_SGD, NULL, 0), RP_OK);
        RP_CK(rp_optim_set_lr(opt, 0.1), opt, rp_optim_last_error);
        if (mom)
            RP_CK(rp_optim_set_momentum(opt, 0.9), opt, rp_optim_last_error);
        rp_grad *g = NULL;
        ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
        for (int k = 0; k < 3; k++) {
            RP_CK(rp_grad_set(g, RP_PARAM_C, &gs[k], 1), g, rp_grad_last_error);
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
            double c;
            RP_CK(rp_net_get_param(net, RP_PARAM_C, &c, 1), net, rp_net_last_error);
            ck_assert_double_eq_tol(c, mom ? want_mom[k] : want_plain[k], TOL);
        }
        rig_free(net, opt, g);
    }
}
END_TEST

START_TEST(sgd_momentum_matches_hand_steps)
{
    const double lr = 0.05, mu = 0.8;
    rp_optim *opt;
    rp_grad *g;
    rp_net *net = tiny_rig(7, RP_OPTIM_SGD, lr, &opt, &g);
    RP_CK(rp_optim_set_momentum(opt, mu), opt, rp_optim_last_error);
    double gk[3][TOTAL], th[TOTAL], buf[TOTAL] = {0}, got[TOTAL];
    grads3(gk);
    get_all(net, th);
    for (int k = 0; k < 3; k++) {
        set_grad(g, gk[k]);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        for (int i = 0; i < TOTAL; i++) {
            buf[i] = mu * buf[i] + gk[k][i]; /* PyTorch: buf_1 = g_1 */
            th[i] -= lr * buf[i];
        }
        get_all(net, got);
        ck_assert_double_le(tu_rel_err(got, th, TOTAL, 1.0), TOL);
    }
    rig_free(net, opt, g);
}
END_TEST

/* Adam by hand: m, v, bias corrections with b^t as a running product. */
static void adam_ref(double *th, double *m, double *v, const double *g, int t, double lr, double b1,
                     double b2, double eps, double wd_w, int n)
{
    double p1 = 1.0, p2 = 1.0;
    for (int k = 0; k < t; k++) {
        p1 *= b1;
        p2 *= b2;
    }
    for (int i = 0; i < n; i++) {
        /* entries 0..3 W, 4..5 U, 6..7 b, 8..9 V, 10 c: decay on W, U, V only */
        double wd = (i < 6 || (i >= 8 && i < 10)) ? wd_w : 0.0;
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        double mh = m[i] / (1 - p1), vh = v[i] / (1 - p2);
        th[i] = th[i] - lr * wd * th[i] - lr * mh / (sqrt(vh) + eps);
    }
}

START_TEST(adam_matches_hand_steps)
{
    const double lr = 0.01;
    for (int variant = 0; variant < 2; variant++) {
        /* variant 0: the defaults (0.9, 0.999, 1e-8); 1: other constants and decay */
        double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.0;
        rp_optim *opt;
        rp_grad *g;
        rp_net *net = tiny_rig(3, RP_OPTIM_ADAM, lr, &opt, &g);
        if (variant) {
            b1 = 0.5;
            b2 = 0.9;
            eps = 0.1;
            wd = 0.3;
            RP_CK(rp_optim_set_betas(opt, b1, b2, eps), opt, rp_optim_last_error);
            RP_CK(rp_optim_set_weight_decay(opt, wd), opt, rp_optim_last_error);
        }
        double gk[3][TOTAL], th[TOTAL], m[TOTAL] = {0}, v[TOTAL] = {0}, got[TOTAL], th0[TOTAL];
        grads3(gk);
        get_all(net, th);
        memcpy(th0, th, sizeof th);
        for (int k = 0; k < 3; k++) {
            set_grad(g, gk[k]);
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
            adam_ref(th, m, v, gk[k], k + 1, lr, b1, b2, eps, wd, TOTAL);
            get_all(net, got);
            ck_assert_double_le(tu_rel_err(got, th, TOTAL, 1.0), TOL);
            if (k == 0 && variant == 0)
                /* Adam's first step is lr * sign(g) up to eps/|g| (|g| >= 1e-3 here, so
                   the deviation is below lr * 1e-5). */
                for (int i = 0; i < TOTAL; i++)
                    ck_assert_double_eq_tol(th0[i] - got[i], lr * (gk[0][i] > 0 ? 1 : -1),
                                            lr * 1e-5);
        }
        /* reset: the next step is a first step again */
        RP_CK(rp_optim_reset(opt), opt, rp_optim_last_error);
        memset(m, 0, sizeof m);
        memset(v, 0, sizeof v);
        set_grad(g, gk[0]);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        adam_ref(th, m, v, gk[0], 1, lr, b1, b2, eps, wd, TOTAL);
        get_all(net, got);
        ck_assert_double_le(tu_rel_err(got, th, TOTAL, 1.0), TOL);
        rig_free(net, opt, g);
    }
}
END_TEST

START_TEST(clipping_scales_to_norm)
{
    /* gradient (3, 4) in c and b[0]... placed so its norm is 5; clip 1 with
       SGD lr 1 moves theta by g/5 exactly; clip 10 leaves g as it is. */
    for (int c = 0; c < 2; c++) {
        rp_optim *opt;
        rp_grad *g;
        rp_net *net = tiny_rig(5, RP_OPTIM_SGD, 1.0, &opt, &g);
        RP_CK(rp_optim_set_clip(opt, c ? 10.0 : 1.0), opt, rp_optim_last_error);
        double gv[TOTAL] = {0}, th0[TOTAL], th1[TOTAL];
        gv[1] = 3.0;  /* W[0][1] */
        gv[10] = 4.0; /* c */
        set_grad(g, gv);
        get_all(net, th0);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        get_all(net, th1);
        double s = c ? 1.0 : 0.2, n2 = 0.0;
        for (int i = 0; i < TOTAL; i++) {
            ck_assert_double_eq_tol(th0[i] - th1[i], s * gv[i], TOL);
            n2 += (th0[i] - th1[i]) * (th0[i] - th1[i]);
        }
        ck_assert_double_eq_tol(sqrt(n2), c ? 5.0 : 1.0, TOL);

        /* The norm is over the trainable parameters: with c frozen it is 3,
           so clip 1 scales W's gradient by 1/3. */
        if (!c) {
            RP_CK(rp_optim_set_trainable(opt, RP_PARAM_C, 0), opt, rp_optim_last_error);
            get_all(net, th0);
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
            get_all(net, th1);
            ck_assert_double_eq_tol(th0[1] - th1[1], 1.0, TOL);
            ck_assert(th0[10] == th1[10]);
        }
        rig_free(net, opt, g);
    }
}
END_TEST

START_TEST(clipping_large_gradients_no_overflow)
{
    /* |g| = 1e200 in two entries: the naive sum of squares overflows; the
       clipped step must still be g/|g| * clip. */
    rp_optim *opt;
    rp_grad *g;
    rp_net *net = tiny_rig(6, RP_OPTIM_SGD, 1.0, &opt, &g);
    RP_CK(rp_optim_set_clip(opt, 2.0), opt, rp_optim_last_error);
    double gv[TOTAL] = {0}, th0[TOTAL], th1[TOTAL];
    gv[0] = 3e200;
    gv[5] = -4e200;
    set_grad(g, gv);
    get_all(net, th0);
    RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    get_all(net, th1);
    ck_assert_double_eq_tol(th0[0] - th1[0], 2.0 * 0.6, TOL);
    ck_assert_double_eq_tol(th0[5] - th1[5], -2.0 * 0.8, TOL);
    rig_free(net, opt, g);
}
END_TEST

START_TEST(weight_decay_decoupled)
{
    /* Zero gradient: SGD and Adam both shrink W, U, V by (1 - lr*wd) and leave
       b, c alone.  (Adam with L2 decay folded into the gradient would instead
       move each weight by ~lr against its sign: decoupling is visible.) */
    const double lr = 0.1, wd = 0.5;
    for (int kind = 0; kind < 2; kind++) {
        rp_optim *opt;
        rp_grad *g;
        rp_net *net = tiny_rig(9, kind ? RP_OPTIM_ADAM : RP_OPTIM_SGD, lr, &opt, &g);
        RP_CK(rp_optim_set_weight_decay(opt, wd), opt, rp_optim_last_error);
        double th0[TOTAL], th[TOTAL];
        get_all(net, th0);
        for (int k = 0; k < 2; k++)
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        get_all(net, th);
        for (int i = 0; i < TOTAL; i++) {
            int decays = i < 6 || (i >= 8 && i < 10);
            double want = decays ? th0[i] * (1 - lr * wd) * (1 - lr * wd) : th0[i];
            ck_assert_double_eq_tol(th[i], want, TOL);
        }
        rig_free(net, opt, g);
    }
}
END_TEST

START_TEST(trainable_flags_freeze_exactly)
{
    for (int kind = 0; kind < 2; kind++) {
        rp_optim *opt;
        rp_grad *g;
        rp_net *net = tiny_rig(11, kind ? RP_OPTIM_ADAM : RP_OPTIM_SGD, 0.1, &opt, &g);
        RP_CK(rp_optim_set_weight_decay(opt, 0.2), opt, rp_optim_last_error);
        RP_CK(rp_optim_set_trainable(opt, RP_PARAM_U, 0), opt, rp_optim_last_error);
        RP_CK(rp_optim_set_trainable(opt, RP_PARAM_C, 0), opt, rp_optim_last_error);
        double gv[TOTAL], th0[TOTAL], th[TOTAL];
        tu_fill(gv, TOTAL, 0.5, 1.5, 12);
        set_grad(g, gv);
        /* An Inf in the frozen block U is not read (rp_grad_set refuses
           non-finite values, so it is made by scaling a huge entry). */
        rp_grad *inf = NULL;
        ck_assert_int_eq(rp_grad_create(&inf, net, NULL, 0), RP_OK);
        double hu[2] = {1e200, 0.0};
        RP_CK(rp_grad_set(inf, RP_PARAM_U, hu, 2), inf, rp_grad_last_error);
        RP_CK(rp_grad_scale(inf, 1e200), inf, rp_grad_last_error);
        RP_CK(rp_grad_axpy(g, 1.0, inf), g, rp_grad_last_error);
        rp_grad_free(inf);
        get_all(net, th0);
        for (int k = 0; k < 3; k++)
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        get_all(net, th);
        for (int i = 0; i < TOTAL; i++) {
            int frozen = (i == 4 || i == 5 || i == 10);
            if (frozen)
                ck_assert_msg(th[i] == th0[i], "frozen entry %d moved: %g -> %g", i, th0[i], th[i]);
            else
                ck_assert_msg(th[i] < th0[i], "trainable entry %d did not move down", i);
        }
        /* unfreezing U makes its Inf count: refused; a finite U trains */
        RP_CK(rp_optim_set_trainable(opt, RP_PARAM_U, 1), opt, rp_optim_last_error);
        ck_assert_int_eq(rp_optim_step(opt, net, g), RP_ERR_NONFINITE);
        ck_assert_ptr_nonnull(strstr(rp_optim_last_error(opt), "U[0]"));
        set_grad(g, gv);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        get_all(net, th);
        ck_assert(th[4] != th0[4] && th[5] != th0[5]);
        rig_free(net, opt, g);
    }
}
END_TEST

START_TEST(structure_keeps_zeros_and_signs)
{
    /* A Dale-like 6x6 W made here: columns 0..3 excitatory (>= 0), 4..5
       inhibitory (<= 0), every third entry zero (sparse).  Random gradients
       with large steps try to flip signs and fill zeros; after every step
       the zeros are exactly zero and no entry has changed sign. */
    enum { N = 6 };
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = 1;
    cfg.n_rec = N;
    cfg.n_out = 1;
    for (int kind = 0; kind < 2; kind++) {
        rp_net *net = NULL;
        ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
        double W[N * N], W0[N * N], mag[N * N];
        tu_fill(mag, N * N, 0.1, 1.0, 21);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                int k = i * N + j;
                W[k] = (k % 3 == 0) ? 0.0 : (j < 4 ? mag[k] : -mag[k]);
            }
        memcpy(W0, W, sizeof W);
        RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
        rp_optim *opt = NULL;
        rp_grad *g = NULL;
        ck_assert_int_eq(rp_optim_create(&opt, net, kind ? RP_OPTIM_ADAM : RP_OPTIM_SGD, NULL, 0),
                         RP_OK);
        ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
        RP_CK(rp_optim_set_lr(opt, kind ? 0.3 : 0.5), opt, rp_optim_last_error);
        RP_CK(rp_optim_set_structure(opt, net, RP_PARAM_W, 1, 1), opt, rp_optim_last_error);
        int flipped = 0; /* entries the unconstrained step would have flipped */
        for (int step = 0; step < 8; step++) {
            double gw[N * N], before[N * N];
            tu_fill(gw, N * N, -2.0, 2.0, 30 + (uint64_t)step);
            RP_CK(rp_grad_set(g, RP_PARAM_W, gw, N * N), g, rp_grad_last_error);
            RP_CK(rp_net_get_param(net, RP_PARAM_W, before, N * N), net, rp_net_last_error);
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
            RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
            for (int k = 0; k < N * N; k++) {
                if (W0[k] == 0.0)
                    ck_assert_msg(W[k] == 0.0, "zero W[%d] became %g", k, W[k]);
                else if (W0[k] > 0.0)
                    ck_assert_msg(W[k] >= 0.0, "excitatory W[%d] became %g", k, W[k]);
                else
                    ck_assert_msg(W[k] <= 0.0, "inhibitory W[%d] became %g", k, W[k]);
                if (!kind && W0[k] != 0.0) {
                    /* SGD: the constrained step is the plain step clipped at 0 */
                    double plain = before[k] - 0.5 * gw[k];
                    double want =
                        (W0[k] > 0) ? (plain > 0 ? plain : 0.0) : (plain < 0 ? plain : 0.0);
                    ck_assert_double_eq_tol(W[k], want, TOL);
                    flipped += (plain > 0) != (W0[k] > 0);
                }
            }
        }
        if (!kind)
            ck_assert_int_gt(flipped, 5); /* the test did push across zero */

        /* Pinned zeros take no gradient: with clip 1 and a huge gradient only
           on a pinned entry plus 1.0 on one free entry, the free entry moves
           by exactly lr * 1 (SGD). */
        if (!kind) {
            double gw[N * N] = {0};
            gw[0] = 1e6; /* W0[0] == 0: pinned */
            gw[1] = 1.0;
            RP_CK(rp_optim_set_clip(opt, 1.0), opt, rp_optim_last_error);
            RP_CK(rp_optim_set_momentum(opt, 0.0), opt, rp_optim_last_error);
            RP_CK(rp_grad_set(g, RP_PARAM_W, gw, N * N), g, rp_grad_last_error);
            /* start W[1] far from zero so the sign clip is not involved */
            double big[N * N];
            memcpy(big, W0, sizeof big);
            big[1] = 5.0;
            RP_CK(rp_net_set_param(net, RP_PARAM_W, big, N * N), net, rp_net_last_error);
            RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
            RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
            ck_assert_double_eq_tol(W[1], 5.0 - 0.5, TOL);
            ck_assert(W[0] == 0.0);
        }

        /* keep_zeros only: signs may change, zeros stay */
        RP_CK(rp_net_set_param(net, RP_PARAM_W, W0, N * N), net, rp_net_last_error);
        RP_CK(rp_optim_set_structure(opt, net, RP_PARAM_W, 1, 0), opt, rp_optim_last_error);
        RP_CK(rp_optim_set_clip(opt, 0.0), opt, rp_optim_last_error);
        double gw[N * N];
        for (int k = 0; k < N * N; k++)
            gw[k] = 100.0 * W0[k] + 1.0; /* pushes every non-zero entry across zero */
        RP_CK(rp_grad_set(g, RP_PARAM_W, gw, N * N), g, rp_grad_last_error);
        RP_CK(rp_optim_reset(opt), opt, rp_optim_last_error);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
        int changed_sign = 0;
        for (int k = 0; k < N * N; k++) {
            if (W0[k] == 0.0)
                ck_assert(W[k] == 0.0);
            else
                changed_sign += (W[k] > 0) != (W0[k] > 0);
        }
        ck_assert_int_gt(changed_sign, 0);

        /* both off: free again, the zeros fill in */
        RP_CK(rp_optim_set_structure(opt, net, RP_PARAM_W, 0, 0), opt, rp_optim_last_error);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        RP_CK(rp_net_get_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
        ck_assert(W[0] != 0.0);
        rig_free(net, opt, g);
    }
}
END_TEST

START_TEST(nonfinite_refused_nothing_changed)
{
    /* Adam (state matters).  Three ways to fail: a NaN gradient, an Inf
       gradient, a step whose moments overflow (g = 1e200: g^2 = Inf).  After
       each refusal the net is bit-identical, and a following valid step equals
       the step of a twin optimizer that never saw the bad gradients. */
    rp_net *net = tiny_net(1, 2, 1, 13), *twin = tiny_net(1, 2, 1, 13);
    rp_optim *opt = NULL, *opt2 = NULL;
    rp_grad *g = NULL, *bad = NULL;
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_optim_create(&opt2, twin, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&bad, net, NULL, 0), RP_OK);
    double gk[3][TOTAL];
    grads3(gk);
    set_grad(g, gk[0]);
    RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    RP_CK(rp_optim_step(opt2, twin, g), opt2, rp_optim_last_error);

    /* rp_grad_set refuses NaN, so the bad values are written through the
       public scale and axpy calls. */
    double huge[TOTAL];
    for (int i = 0; i < TOTAL; i++)
        huge[i] = 1e200;
    for (int mode = 0; mode < 3; mode++) {
        set_grad(bad, huge);
        if (mode == 0)
            RP_CK(rp_grad_scale(bad, 1e200), bad, rp_grad_last_error); /* Inf */
        if (mode == 1) { /* Inf - Inf = NaN (dscal by 0 would give zeros, not NaN) */
            RP_CK(rp_grad_scale(bad, 1e200), bad, rp_grad_last_error);
            rp_grad *tmp = NULL;
            ck_assert_int_eq(rp_grad_create(&tmp, net, NULL, 0), RP_OK);
            set_grad(tmp, huge);
            RP_CK(rp_grad_scale(tmp, 1e200), tmp, rp_grad_last_error);
            RP_CK(rp_grad_axpy(bad, -1.0, tmp), bad, rp_grad_last_error);
            rp_grad_free(tmp);
            double c;
            RP_CK(rp_grad_get(bad, RP_PARAM_C, &c, 1), bad, rp_grad_last_error);
            ck_assert(isnan(c));
        }
        double b0[TOTAL], b1[TOTAL];
        get_all(net, b0);
        ck_assert_int_eq(rp_optim_step(opt, net, bad), RP_ERR_NONFINITE);
        ck_assert_str_ne(rp_optim_last_error(opt), "");
        get_all(net, b1);
        ck_assert(memcmp(b0, b1, sizeof b0) == 0);
    }
    /* SGD: a finite gradient whose step overflows the parameters */
    {
        rp_optim *s = NULL;
        ck_assert_int_eq(rp_optim_create(&s, net, RP_OPTIM_SGD, NULL, 0), RP_OK);
        RP_CK(rp_optim_set_lr(s, 1e300), s, rp_optim_last_error);
        set_grad(bad, huge);
        double b0[TOTAL], b1[TOTAL];
        get_all(net, b0);
        ck_assert_int_eq(rp_optim_step(s, net, bad), RP_ERR_NONFINITE);
        get_all(net, b1);
        ck_assert(memcmp(b0, b1, sizeof b0) == 0);
        rp_optim_free(s);
    }
    for (int k = 1; k < 3; k++) {
        set_grad(g, gk[k]);
        RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
        RP_CK(rp_optim_step(opt2, twin, g), opt2, rp_optim_last_error);
    }
    double a[TOTAL], b[TOTAL];
    get_all(net, a);
    get_all(twin, b);
    ck_assert(memcmp(a, b, sizeof a) == 0); /* same arithmetic: bit-identical */
    rp_grad_free(g);
    rp_grad_free(bad);
    rp_optim_free(opt);
    rp_optim_free(opt2);
    rp_net_free(net);
    rp_net_free(twin);
}
END_TEST

START_TEST(bad_args)
{
    rp_net *net = tiny_net(1, 2, 1, 17), *other = tiny_net(1, 3, 1, 18);
    rp_optim *opt = NULL;
    rp_grad *g = NULL, *g3 = NULL;
    ck_assert_int_eq(rp_optim_create(NULL, net, RP_OPTIM_SGD, NULL, 0), RP_ERR_INVALID_ARG);
    opt = (rp_optim *)1;
    ck_assert_int_eq(rp_optim_create(&opt, NULL, RP_OPTIM_SGD, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(opt);
    ck_assert_int_eq(rp_optim_create(&opt, net, (rp_optim_kind)7, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(opt);
    rp_optim_free(NULL);
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g3, other, NULL, 0), RP_OK);

    ck_assert_int_eq(rp_optim_set_lr(NULL, 0.1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_lr(opt, 0.0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_optim_last_error(opt), "lr"));
    ck_assert_int_eq(rp_optim_set_lr(opt, -1.0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_lr(opt, NAN), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_lr(opt, INFINITY), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_momentum(opt, 1.0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_momentum(opt, -0.1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_betas(opt, 1.0, 0.9, 1e-8), RP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_optim_last_error(opt), "beta1"));
    ck_assert_int_eq(rp_optim_set_betas(opt, 0.9, 1.0, 1e-8), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_betas(opt, 0.9, 0.99, 0.0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_clip(opt, -1.0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_clip(opt, NAN), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_weight_decay(opt, -1.0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_trainable(opt, (rp_param)5, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_structure(opt, net, (rp_param)9, 1, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_structure(opt, NULL, RP_PARAM_W, 1, 1), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_set_structure(opt, other, RP_PARAM_W, 1, 1), RP_ERR_DIM_MISMATCH);
    ck_assert_int_eq(rp_optim_reset(NULL), RP_ERR_INVALID_ARG);

    /* a failed setter changed nothing: one SGD-like check through Adam's first
       step (lr * sign(g) with the default lr 1e-3 and eps 1e-8) */
    double gv[TOTAL], th0[TOTAL], th[TOTAL];
    tu_fill(gv, TOTAL, 0.5, 1.0, 19);
    set_grad(g, gv);

    ck_assert_int_eq(rp_optim_step(NULL, net, g), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_step(opt, NULL, g), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_optim_step(opt, net, NULL), RP_ERR_INVALID_ARG);
    get_all(net, th0);
    ck_assert_int_eq(rp_optim_step(opt, other, g), RP_ERR_DIM_MISMATCH);
    ck_assert_ptr_nonnull(strstr(rp_optim_last_error(opt), "net has"));
    ck_assert_int_eq(rp_optim_step(opt, net, g3), RP_ERR_DIM_MISMATCH);
    ck_assert_ptr_nonnull(strstr(rp_optim_last_error(opt), "grad has"));
    get_all(net, th);
    ck_assert(memcmp(th0, th, sizeof th) == 0);

    RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    get_all(net, th);
    for (int i = 0; i < TOTAL; i++)
        ck_assert_double_eq_tol(th0[i] - th[i], 1e-3, 1e-3 * 1e-7); /* eps/|g| <= 2e-8 */

    rp_grad_free(g);
    rp_grad_free(g3);
    rp_optim_free(opt);
    rp_net_free(net);
    rp_net_free(other);
}
END_TEST

START_TEST(autonomous_net_empty_block)
{
    /* n_in = 0: U is an empty block; a step still updates the rest, by hand:
       SGD lr 0.5 with g = 1 everywhere moves every entry by -0.5. */
    rp_net *net = tiny_net(0, 2, 1, 23);
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_SGD, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_optim_set_lr(opt, 0.5), opt, rp_optim_last_error);
    double ones[4] = {1, 1, 1, 1}, w0[4], w1[4];
    RP_CK(rp_grad_set(g, RP_PARAM_W, ones, 4), g, rp_grad_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, w0, 4), net, rp_net_last_error);
    RP_CK(rp_optim_step(opt, net, g), opt, rp_optim_last_error);
    RP_CK(rp_net_get_param(net, RP_PARAM_W, w1, 4), net, rp_net_last_error);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(w1[i], w0[i] - 0.5, TOL);
    rig_free(net, opt, g);
}
END_TEST

/* Adam with a zero gradient moves nothing (update 0 / (0 + eps) = 0) and a
   following first real step is the bias-corrected lr * g / (|g| + eps)
   (MODEL.md §5), written out here by hand: m^ = g, v^ = g^2 after the
   corrections 1 - beta^t with t = 2 and zero moments from step 1. */
START_TEST(adam_zero_gradient)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    const double W[4] = {0.5, -0.25, 1.0, 2.0};
    RP_CK(rp_net_set_param(net, RP_PARAM_W, W, 4), net, rp_net_last_error);
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
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

Suite *suite_optim(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sgd_literal_three_steps);
    tcase_add_test(tc, sgd_momentum_matches_hand_steps);
    tcase_add_test(tc, adam_matches_hand_steps);
    tcase_add_test(tc, clipping_scales_to_norm);
    tcase_add_test(tc, clipping_large_gradients_no_overflow);
    tcase_add_test(tc, weight_decay_decoupled);
    tcase_add_test(tc, trainable_flags_freeze_exactly);
    tcase_add_test(tc, structure_keeps_zeros_and_signs);
    tcase_add_test(tc, nonfinite_refused_nothing_changed);
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, autonomous_net_empty_block);
    tcase_add_test(tc, adam_zero_gradient);
    suite_add_tcase(s, tc);
    return s;
}
