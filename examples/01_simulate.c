/* 01_simulate — the first thing to read: build a random recurrent network,
   drive it with a weak sine wave and look at its activity.

   The recurrent weights are W_ij ~ N(0, g^2/N) (MODEL.md §2).  The gain g
   decides the regime: for g < 1 activity decays to what the input drives;
   above 1 a tanh network generates its own (chaotic) activity.  (The relu
   default is unbounded: above g ~ 1.4 its activity grows without limit.)

   Usage: 01_simulate [g]     (no argument: a few gains, 0.5 ... 3) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { N = 200, T = 500, TRANSIENT = 200 };

static void simulate(double g)
{
    /* 1. A network: 1 input, N tanh units in the voltage form, 1 output. */
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = 1;
    cfg.n_rec = N;
    cfg.n_out = 1;
    cfg.act = RP_ACT_TANH;
    rp_net *net = NULL;
    RP_CHECK(rp_net_create(&net, &cfg, NULL, 0), "see rp_net_config_check()");

    /* 2. Weights: W at gain g; input and readout weights at gain 1. */
    rp_init *init = NULL;
    RP_CHECK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), "");
    RP_CHECK(rp_init_set_gain(init, g), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_W, 1), rp_init_last_error(init));
    RP_CHECK(rp_init_set_gain(init, 1.0), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_U, 2), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_V, 3), rp_init_last_error(init));
    rp_init_free(init);

    /* 3. Run step by step with x_t = 0.1 sin(2 pi t / 50), and collect the
          statistics of the rates f(h) after a transient. */
    double rates[N], sum = 0, sum2 = 0, active = 0, abs_y = 0;
    size_t count = 0;
    for (int t = 0; t < T; t++) {
        double x = 0.1 * sin(2.0 * 3.14159265358979 * t / 50.0), y;
        RP_CHECK(rp_net_step(net, &x, &y), rp_net_last_error(net));
        if (t < TRANSIENT)
            continue;
        RP_CHECK(rp_net_get_rates(net, rates, N), rp_net_last_error(net));
        for (int i = 0; i < N; i++) {
            sum += rates[i];
            sum2 += rates[i] * rates[i];
            active += fabs(rates[i]) > 0.1; /* counted active: |rate| above 0.1 */
        }
        abs_y += fabs(y);
        count++;
    }
    double n = (double)count * N, mean = sum / n;
    printf("%6.2f  %10.4f  %10.4f  %10.3f  %10.4f\n", g, mean, sqrt(sum2 / n - mean * mean),
           active / n, abs_y / (double)count);
    rp_net_free(net);
}

int main(int argc, char **argv)
{
    printf("librnnplast %s: N = %d tanh units, %d steps, statistics over the last %d\n",
           rp_version_string(), N, T, T - TRANSIENT);
    printf("%6s  %10s  %10s  %10s  %10s\n", "gain", "mean rate", "std", "|r|>0.1", "mean |y|");
    if (argc > 1) {
        simulate(atof(argv[1]));
    } else {
        const double gains[] = {0.5, 1.0, 1.5, 2.0, 3.0};
        for (size_t i = 0; i < sizeof gains / sizeof gains[0]; i++)
            simulate(gains[i]);
    }
    return EXIT_SUCCESS;
}
