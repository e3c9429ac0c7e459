/* 04_online_embed: a network embedded in a host simulation, learning online.

   The host advances one tick at a time.  Each tick it feeds the network an
   input, steps it (rp_net_step), and hands the rule the same input and the
   tick's target (rp_rule_step), which updates its eligibility traces and adds
   this tick's gradient estimate into g.  Every K ticks the host applies the
   accumulated gradient (plain SGD here, through the public parameter calls)
   and clears g; the traces run on across updates (Murray's online mode,
   MODEL.md §4.6).  Nothing is stored over time: memory is O(N^2) for the
   weights, O(N) for the voltage-form traces.

   The task: from the input sin(2 pi t / P), produce a phase-shifted, scaled
   copy 0.8 sin(2 pi t / P - 1) — the network must hold a memory of the
   recent input.  The running loss printed every few thousand ticks falls. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { N = 64, N_IN = 1, N_OUT = 1, K = 10, TICKS = 12000, REPORT = 1000 };

/* A small Gaussian generator for the initial weights (the library's
   initializers, rp_init, do the same with more options). */
static double gauss(uint64_t *s)
{
    double u1, u2;
    do {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        u1 = (double)(*s >> 11) * 0x1.0p-53;
    } while (u1 <= 0.0);
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    u2 = (double)(*s >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* theta -= lr * g for one parameter, through the public calls. */
static void sgd(rp_net *net, const rp_grad *g, rp_param p, size_t len, double lr, double *th,
                double *gr)
{
    RP_CHECK(rp_net_get_param(net, p, th, len), "");
    RP_CHECK(rp_grad_get(g, p, gr, len), "");
    for (size_t i = 0; i < len; i++)
        th[i] -= lr * gr[i];
    RP_CHECK(rp_net_set_param(net, p, th, len), "");
}

int main(void)
{
    rp_net_config cfg = rp_net_config_default();
    cfg.n_in = N_IN;
    cfg.n_rec = N;
    cfg.n_out = N_OUT;
    cfg.batch = 1;
    cfg.act = RP_ACT_TANH;
    rp_net *net = NULL;
    RP_CHECK(rp_net_create(&net, &cfg, NULL, 0), "");

    /* W ~ N(0, g^2/N) with g = 1.2, U ~ N(0, 1), V = 0 */
    static double W[N * N], U[N * N_IN], th[N * N], gr[N * N];
    uint64_t s = 42;
    for (size_t i = 0; i < N * N; i++)
        W[i] = 1.2 / sqrt((double)N) * gauss(&s);
    for (size_t i = 0; i < N * N_IN; i++)
        U[i] = gauss(&s);
    RP_CHECK(rp_net_set_param(net, RP_PARAM_W, W, N * N), "");
    RP_CHECK(rp_net_set_param(net, RP_PARAM_U, U, N * N_IN), "");

    rp_rule *rule = NULL;
    RP_CHECK(rp_rule_create(&rule, net, RP_RULE_EPROP, NULL, 0), "");
    rp_grad *g = NULL;
    RP_CHECK(rp_grad_create(&g, net, NULL, 0), "");

    const size_t len[5] = {N * N, N * N_IN, N, N_OUT * N, N_OUT};
    const double lr[5] = {0.002, 0.002, 0.002, 0.005, 0.005}; /* per tick of gradient */
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
            for (int p = 0; p < 5; p++)
                sgd(net, g, (rp_param)p, len[p], lr[p], th, gr);
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

    rp_grad_free(g);
    rp_rule_free(rule);
    rp_net_free(net);
    return EXIT_SUCCESS;
}
