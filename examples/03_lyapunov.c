/* 03_lyapunov: the largest Lyapunov exponent of a random network against its
   gain g, and gradient flossing (MODEL.md §6-7) moving it toward 0.

   A network with W ~ N(0, g^2/N) is ordered (lambda_max < 0: perturbations
   die out) at small g and chaotic (lambda_max > 0) at large g; the sign change
   marks the edge of chaos, where information propagates best.  Flossing
   pushes lambda_max toward a target (here 0) by gradient descent on
   F = (lambda_max - 0)^2.

   lambda_max is read from rp_floss_trial's lambdas output with k = 1 (the
   exponent of the same trajectory the flossing gradient uses).  Units: per
   step; divide by dt/tau = 1 - alpha for per-tau values.
   Build: cc 03_lyapunov.c $(pkg-config --cflags --libs rnnplast) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { N = 64, T = 300, TRANSIENT = 100, ITERS = 100 };

/* A small Gaussian generator so the example needs nothing else. */
static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        u[i] = ((double)(*s >> 11) + 0.5) * 0x1.0p-53;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* A tanh network, W ~ N(0, g^2/N) from the same base draw for every g (so
   the table shows one matrix scaled), and a random initial state. */
static rp_net *make_net(double g, const double *W0, const double *h0)
{
    rp_net_config cfg = rp_net_config_default();
    cfg.n_in = 0, cfg.n_rec = N, cfg.act = RP_ACT_TANH; /* alpha 0.9 */
    rp_net *net = NULL;
    RP_CHECK(rp_net_create(&net, &cfg), "");
    double *W = malloc(sizeof(double) * N * N);
    for (int i = 0; i < N * N; i++)
        W[i] = g * W0[i] / sqrt((double)N);
    RP_CHECK(rp_net_set_param(net, RP_PARAM_W, W, N * N), "");
    RP_CHECK(rp_net_set_initial_state(net, h0, N), "");
    free(W);
    return net;
}

int main(void)
{
    uint64_t s = 12345;
    double *W0 = malloc(sizeof(double) * N * N), h0[N];
    for (int i = 0; i < N * N; i++)
        W0[i] = gauss(&s);
    for (int i = 0; i < N; i++)
        h0[i] = gauss(&s);

    rp_floss_config fc = rp_floss_config_default(); /* k = 1, target 0, local */
    fc.transient = TRANSIENT;

    printf("lambda_max (per step) of a %d-unit tanh network, alpha 0.9, autonomous, T %d\n", N, T);
    printf("   g    lambda_max\n");
    const double gains[] = {0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0};
    for (size_t i = 0; i < sizeof gains / sizeof gains[0]; i++) {
        rp_net *net = make_net(gains[i], W0, h0);
        rp_floss *fl = NULL;
        rp_grad *g = NULL;
        RP_CHECK(rp_floss_create(&fl, net, &fc), "");
        RP_CHECK(rp_grad_create(&g, net), "");
        double lam;
        RP_CHECK(rp_floss_trial(fl, net, T, NULL, g, NULL, &lam), "");
        printf("%5.2f  %+.4f  %s\n", gains[i], lam, lam > 0 ? "chaotic" : "ordered");
        rp_grad_free(g);
        rp_floss_free(fl);
        rp_net_free(net);
    }

    /* Local flossing (§7.2) by plain SGD on W, from an ordered and a chaotic gain. */
    const double lr = 20.0;
    printf("\n%d local-flossing SGD iterations (learning rate %g) toward lambda* = 0\n", ITERS, lr);
    printf("   g    before     after\n");
    const double fgains[] = {0.5, 2.0};
    for (int gi = 0; gi < 2; gi++) {
        rp_net *net = make_net(fgains[gi], W0, h0);
        rp_floss *fl = NULL;
        rp_grad *g = NULL;
        RP_CHECK(rp_floss_create(&fl, net, &fc), "");
        RP_CHECK(rp_grad_create(&g, net), "");
        double *W = malloc(sizeof(double) * N * N), *gW = malloc(sizeof(double) * N * N);
        double before = 0, lam = 0;
        for (int it = 0; it <= ITERS; it++) {
            RP_CHECK(rp_grad_zero(g), "");
            RP_CHECK(rp_floss_trial(fl, net, T, NULL, g, NULL, &lam), "");
            if (it == 0)
                before = lam;
            if (it == ITERS)
                break;
            RP_CHECK(rp_grad_get(g, RP_PARAM_W, gW, N * N), "");
            RP_CHECK(rp_net_get_param(net, RP_PARAM_W, W, N * N), "");
            for (int i = 0; i < N * N; i++)
                W[i] -= lr * gW[i];
            RP_CHECK(rp_net_set_param(net, RP_PARAM_W, W, N * N), "");
        }
        printf("%5.2f  %+.4f  %+.4f\n", fgains[gi], before, lam);
        free(W);
        free(gW);
        rp_grad_free(g);
        rp_floss_free(fl);
        rp_net_free(net);
    }
    free(W0);
    return 0;
}
