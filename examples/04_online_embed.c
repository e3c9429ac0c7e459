/* 04_online_embed: a network embedded in a host simulation, learning online.

   The host advances one tick at a time.  Each tick it feeds the network an
   input, steps it (rp_net_step), and hands the rule the same input and the
   tick's target (rp_rule_step), which updates its eligibility traces and adds
   this tick's gradient estimate into g.  Every K ticks the host applies the
   accumulated gradient with an optimizer (rp_optim_step: plain SGD here)
   and clears g; the traces run on across updates (Murray's online mode,
   MODEL.md §4.6).  The weights are drawn by an initializer (rp_init:
   W ~ N(0, g^2/N) with g = 1.2, U ~ N(0, 1/n_in), V = 0).  Nothing is
   stored over time: memory is O(N^2) for the weights, O(N) for the
   voltage-form traces.

   The task: from the input sin(2 pi t / P), produce a phase-shifted, scaled
   copy 0.8 sin(2 pi t / P - 1) — the network must hold a memory of the
   recent input.  The running loss printed every thousand ticks falls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { N = 64, N_IN = 1, N_OUT = 1, K = 10, TICKS = 12000, REPORT = 1000 };
#define LR 0.003 /* per tick of gradient; docs/RECIPES.md has the ranges */

int main(void)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = N_IN;
    cfg.n_rec = N;
    cfg.n_out = N_OUT;
    cfg.batch = 1;
    cfg.act = RP_ACT_TANH;
    rp_net *net = NULL;
    RP_CHECK(rp_net_create(&net, &cfg, NULL, 0), "");

    rp_init *init = NULL;
    RP_CHECK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0), "");
    RP_CHECK(rp_init_set_gain(init, 1.2), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_W, 42), rp_init_last_error(init));
    RP_CHECK(rp_init_set_gain(init, 1.0), rp_init_last_error(init));
    RP_CHECK(rp_init_apply(init, net, RP_PARAM_U, 43), rp_init_last_error(init));
    rp_init_free(init); /* V and the biases stay 0, as rp_net_create leaves them */

    rp_rule *rule = NULL;
    RP_CHECK(rp_rule_create(&rule, net, RP_RULE_EPROP, NULL, 0), "");
    rp_grad *g = NULL;
    RP_CHECK(rp_grad_create(&g, net, NULL, 0), "");
    rp_optim *opt = NULL; /* theta -= lr * g, g summed over the last K ticks */
    RP_CHECK(rp_optim_create(&opt, net, RP_OPTIM_SGD, NULL, 0), "");
    RP_CHECK(rp_optim_set_lr(opt, LR), rp_optim_last_error(opt));
    const double P = 50.0;
    double y[N_OUT], first = -1.0, window = 0.0;

    RP_CHECK(rp_rule_begin(rule, net), "");
    for (size_t t = 0; t < TICKS; t++) {
        /* the host's world at tick t */
        double ph = 6.283185307179586 * (double)t / P;
        double x[N_IN] = {sin(ph)};
        double target[N_OUT] = {0.8 * sin(ph - 1.0)};

        RP_CHECK(rp_net_step(net, x, y), "");
        RP_CHECK(rp_rule_step(rule, net, x, target, NULL, g), "");
        window += 0.5 * (y[0] - target[0]) * (y[0] - target[0]);

        if ((t + 1) % K == 0) { /* apply the last K ticks' gradient */
            RP_CHECK(rp_optim_step(opt, net, g), rp_optim_last_error(opt));
            RP_CHECK(rp_grad_zero(g), "");
        }
        if ((t + 1) % REPORT == 0) {
            window /= REPORT;
            printf("tick %6zu   running loss %.5f\n", t + 1, window);
            if (first < 0.0)
                first = window;
            if (t + 1 == TICKS && !(window < 0.25 * first)) {
                fprintf(stderr, "the loss did not fall: %.5f -> %.5f\n", first, window);
                return EXIT_FAILURE;
            }
            window = 0.0;
        }
    }
    double mean = 0.0;
    RP_CHECK(rp_rule_end(rule, &mean), "");
    printf("mean loss over the stream %.5f\n", mean);

    rp_optim_free(opt);
    rp_grad_free(g);
    rp_rule_free(rule);
    rp_net_free(net);
    return EXIT_SUCCESS;
}
