/* 02_train — train a network to generate a target trajectory with each
   learning rule, and print the loss curves.

   The network (MODEL.md §1): 64 tanh units, voltage form, alpha = 0.9, one
   constant input, one output, 100 steps from rest.  The target is a sum of
   three sines.  Each rule estimates the gradient of the MSE over one trial
   (rp_rule_trial) and Adam applies it (rp_optim_step):

       rp_grad_zero(g);
       rp_rule_trial(rule, net, T, x, target, NULL, g, &loss);
       rp_optim_step(opt, net, g);

   BPTT is the exact gradient; TBPTT(K) cuts it after K steps; e-prop keeps
   only each unit's own leak (symmetric feedback V^T); RFLO is e-prop with a
   fixed random feedback matrix.  RTRL is exact like BPTT but costs O(N^4) a
   step, so it runs on a 16-unit copy of the task next to BPTT: the two loss
   curves agree to rounding.  A rule that this build does not provide is
   reported and skipped.  Runs in about a second. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rnnplast.h"

#define T 100
#define ITERS 500

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* A net of n units: W ~ N(0, 0.8^2/n) (a stable regime), U ~ N(0, 1), V = 0, biases 0. */
static rp_status make_net(rp_net **out, size_t n)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = 1;
    cfg.n_rec = n;
    cfg.n_out = 1;
    cfg.act = RP_ACT_TANH;
    rp_status st = rp_net_create(out, &cfg, NULL, 0);
    if (st != RP_OK)
        return st;
    rp_init *init = NULL;
    st = rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0);
    if (st == RP_OK)
        st = rp_init_set_gain(init, 0.8);
    if (st == RP_OK)
        st = rp_init_apply(init, *out, RP_PARAM_W, 1);
    if (st == RP_OK)
        st = rp_init_set_gain(init, 1.0);
    if (st == RP_OK)
        st = rp_init_apply(init, *out, RP_PARAM_U, 2);
    rp_init_free(init);
    return st;
}

/* Train one rule; print the loss every iters/8 iterations.  Returns RP_OK, or
   RP_ERR_UNSUPPORTED if the rule is not built (reported), or the error. */
static rp_status run(const char *name, rp_rule_kind kind, size_t n, int iters, double lr,
                     const double *x, const double *y, double *curve)
{
    rp_net *net = NULL;
    rp_rule *rule = NULL;
    rp_optim *opt = NULL;
    rp_grad *g = NULL;
    rp_status st = make_net(&net, n);
    if (st == RP_OK)
        st = rp_rule_create(&rule, net, kind, NULL, 0);
    if (st == RP_ERR_UNSUPPORTED) {
        printf("%-10s not available in this build\n", name);
        rp_net_free(net);
        return st;
    }
    if (st == RP_OK && kind == RP_RULE_TBPTT)
        st = rp_rule_set_truncation(rule, 20);
    if (st == RP_OK)
        st = rp_optim_create(&opt, net, RP_OPTIM_ADAM, NULL, 0);
    if (st == RP_OK)
        st = rp_optim_set_lr(opt, lr);
    if (st == RP_OK)
        st = rp_grad_create(&g, net, NULL, 0);
    double l0 = 0.0, best = INFINITY;
    printf("%-10s (N = %zu, Adam lr %g)  loss:", name, n, lr);
    for (int it = 0; it <= iters && st == RP_OK; it++) {
        double loss = 0.0;
        st = rp_grad_zero(g);
        if (st == RP_OK)
            st = rp_rule_trial(rule, net, T, x, y, NULL, g, &loss);
        if (st != RP_OK) {
            fprintf(stderr, "\n%s: %s: %s\n", name, rp_status_string(st), rp_rule_last_error(rule));
            break;
        }
        if (it == 0)
            l0 = loss;
        best = loss < best ? loss : best;
        if (curve)
            curve[it] = loss;
        if (it % (iters / 8) == 0)
            printf(" %.2e", loss);
        if (it < iters && (st = rp_optim_step(opt, net, g)) != RP_OK)
            fprintf(stderr, "\n%s: %s: %s\n", name, rp_status_string(st), rp_optim_last_error(opt));
    }
    if (st == RP_OK)
        printf("\n%-10s lowest loss %.2e = %.1f %% of the initial\n", "", best, 100.0 * best / l0);
    rp_grad_free(g);
    rp_optim_free(opt);
    rp_rule_free(rule);
    rp_net_free(net);
    return st;
}

int main(void)
{
    double x[T], y[T];
    for (int t = 0; t < T; t++) {
        double tt = t + 1;
        x[t] = 1.0;
        y[t] = 0.5 * sin(2 * M_PI * tt / 100) + 0.3 * sin(2 * M_PI * tt / 50 + 1.0) +
               0.2 * sin(2 * M_PI * tt / 33 + 2.0);
    }
    printf("target: 0.5 sin(2 pi t/100) + 0.3 sin(2 pi t/50 + 1) + 0.2 sin(2 pi t/33 + 2), "
           "T = %d\n\n",
           T);

    static const struct {
        const char *name;
        rp_rule_kind kind;
        double lr;
    } rules[] = {
        {"BPTT", RP_RULE_BPTT, 5e-3},
        {"TBPTT(20)", RP_RULE_TBPTT, 5e-3},
        {"e-prop", RP_RULE_EPROP, 5e-3},
        {"RFLO", RP_RULE_RFLO, 1e-3}, /* random feedback: a lower rate keeps it steady */
    };
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        rp_status st = run(rules[r].name, rules[r].kind, 64, ITERS, rules[r].lr, x, y, NULL);
        if (st != RP_OK && st != RP_ERR_UNSUPPORTED)
            return EXIT_FAILURE;
    }

    /* RTRL next to BPTT on 16 units: the same exact gradient, so the same curve. */
    enum { SMALL_ITERS = 40 };
    double cb[SMALL_ITERS + 1], cr[SMALL_ITERS + 1];
    printf("\n");
    rp_status sb = run("BPTT", RP_RULE_BPTT, 16, SMALL_ITERS, 5e-3, x, y, cb);
    rp_status sr = run("RTRL", RP_RULE_RTRL, 16, SMALL_ITERS, 5e-3, x, y, cr);
    if ((sb != RP_OK && sb != RP_ERR_UNSUPPORTED) || (sr != RP_OK && sr != RP_ERR_UNSUPPORTED))
        return EXIT_FAILURE;
    if (sb == RP_OK && sr == RP_OK) {
        double d = 0.0;
        for (int i = 0; i <= SMALL_ITERS; i++)
            d = fmax(d, fabs(cr[i] - cb[i]) / cb[i]);
        printf("%-10s largest relative difference of the two curves: %.1e\n", "", d);
    }
    return EXIT_SUCCESS;
}
