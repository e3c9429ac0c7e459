/* 03_lyapunov: the largest Lyapunov exponent of a random network against its
   gain g, and gradient flossing (MODEL.md §6-7) moving it toward 0.

   A network with W ~ N(0, g^2/N) is ordered (lambda_max < 0: perturbations
   die out) at small g and chaotic (lambda_max > 0) at large g; the sign change
   marks the edge of chaos, where information propagates best.  Flossing
   pushes lambda_max toward a target (here 0) by gradient descent on
   F = (lambda_max - 0)^2.

   The table measures lambda_max with rp_lyap on a long trajectory; flossing
   reads it from rp_floss_trial (the exponent of the trajectory the gradient
   uses) and steps with rp_optim.  Units: per step; divide by dt/tau =
   1 - alpha for per-tau values.
   Build: cc 03_lyapunov.c $(pkg-config --cflags --libs rnnplast) */
#include "common.h"

enum { N = 100, T = 300, TRANSIENT = 100, ITERS = 100, T_LYAP = 3000, TRANSIENT_LYAP = 500 };

/* An autonomous tanh network (alpha 0.5: a short memory, so chaos shows at moderate N) with W ~ N(0, g^2/N): the same seed
   for every g, so the table shows one matrix scaled; a random initial state. */
static rp_net *make_net(double g)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = 0, cfg.n_rec = N, cfg.act = RP_ACT_TANH, cfg.alpha = 0.5;
    rp_net *net = NULL;
    rp_init *init = NULL;
    RP_CHECK(rp_net_create(&net, &cfg, NULL, 0), "");
    RP_CHECK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), "");
    RP_CHECK(rp_init_set_gain(init, g), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_W, 12345), rp_init_last_error(init));
    RP_CHECK(rp_init_set_gain(init, 1.0), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_B, 7), rp_init_last_error(init)); /* h0 below */
    double h0[N];
    RP_CHECK(rp_net_get_param(net, RP_PARAM_B, h0, N), "");
    RP_CHECK(rp_net_set_initial_state(net, h0, N), rp_net_last_error(net));
    for (int i = 0; i < N; i++)
        h0[i] = 0.0;
    RP_CHECK(rp_net_set_param(net, RP_PARAM_B, h0, N), "");
    rp_init_free(init);
    return net;
}

/* lambda_max by QR re-orthonormalization (MODEL.md §6). */
static double lambda_max(const rp_net *net)
{
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.transient = TRANSIENT_LYAP;
    rp_lyap *ly = NULL;
    double lam;
    RP_CHECK(rp_lyap_create(&ly, net, 1, &lc, NULL, 0), "see rp_lyap_config_check()");
    RP_CHECK(rp_lyap_run(ly, net, T_LYAP, NULL), rp_lyap_last_error(ly));
    RP_CHECK(rp_lyap_get_spectrum(ly, &lam, 1), rp_lyap_last_error(ly));
    rp_lyap_free(ly);
    return lam;
}

int main(void)
{
    printf("lambda_max (per step) of a %d-unit tanh network, alpha 0.5, autonomous,\n"
           "by QR over %d steps after %d transient\n",
           N, T_LYAP, TRANSIENT_LYAP);
    printf("   g    lambda_max\n");
    const double gains[] = {0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0};
    for (size_t i = 0; i < sizeof gains / sizeof gains[0]; i++) {
        rp_net *net = make_net(gains[i]);
        double lam = lambda_max(net);
        printf("%5.2f  %+.4f  %s\n", gains[i], lam, lam > 0 ? "chaotic" : "ordered");
        rp_net_free(net);
    }

    /* Local flossing (§7.2): F = (lambda_max - 0)^2 on trajectories of T
       steps, plain SGD on W only, from an ordered and a chaotic gain. */
    rp_floss_config fc;
    rp_floss_config_init(&fc, sizeof fc); /* k = 1, target 0, local */
    fc.transient = TRANSIENT;
    const double lr = 20.0;
    printf("\n%d local-flossing SGD iterations (learning rate %g) toward lambda* = 0\n", ITERS, lr);
    printf("   g    before     after   (rp_floss_trial, T %d)   after (rp_lyap)\n", T);
    const double fgains[] = {0.5, 2.0};
    for (int gi = 0; gi < 2; gi++) {
        rp_net *net = make_net(fgains[gi]);
        rp_floss *fl = NULL;
        rp_grad *g = NULL;
        rp_optim *opt = NULL;
        RP_CHECK(rp_floss_create(&fl, net, &fc, NULL, 0), "see rp_floss_config_check()");
        RP_CHECK(rp_grad_create(&g, net, NULL, 0), "");
        RP_CHECK(rp_optim_create(&opt, net, RP_OPTIM_SGD, NULL, 0), "");
        RP_CHECK(rp_optim_set_lr(opt, lr), rp_optim_last_error(opt));
        for (int p = RP_PARAM_U; p <= RP_PARAM_C; p++)
            RP_CHECK(rp_optim_set_trainable(opt, (rp_param)p, 0), rp_optim_last_error(opt));
        double before = 0, lam = 0;
        for (int it = 0; it <= ITERS; it++) {
            RP_CHECK(rp_grad_zero(g), "");
            RP_CHECK(rp_floss_trial(fl, net, T, NULL, g, NULL, &lam), rp_floss_last_error(fl));
            if (it == 0)
                before = lam;
            if (it < ITERS)
                RP_CHECK(rp_optim_step(opt, net, g), rp_optim_last_error(opt));
        }
        printf("%5.2f  %+.4f  %+.4f                         %+.4f\n", fgains[gi], before, lam,
               lambda_max(net));
        rp_optim_free(opt);
        rp_grad_free(g);
        rp_floss_free(fl);
        rp_net_free(net);
    }
    return 0;
}
