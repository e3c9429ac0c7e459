/* The training run behind the version-1 checkpoint fixture
   (tests/ckpt_v1_fixture.h): written with the code of commit fd683ac by
   tests/data/gen_ckpt_v1.c, and resumed by tests/test_ckpt.c with today's.
   Public API only (that of fd683ac), so both compile it; no Check here.

   RFLO, rate form, noisy, online: each iteration one stream of V1_T steps
   (the net's own trajectory, never reset) and an SGD-momentum step. */
#ifndef RP_CKPT_V1_RUN_H
#define RP_CKPT_V1_RUN_H

#include <stdint.h>

#include "rnnplast.h"

enum { V1_T = 4, V1_B = 2, V1_N = 4, V1_IN = 2, V1_OUT = 2, V1_STOP = 3, V1_ITERS = 6 };

/* A fresh run at iteration 0. */
static inline rp_status v1_init(rp_net **net, rp_rule **rule, rp_optim **opt)
{
    rp_net_config nc;
    rp_net_config_init(&nc, sizeof nc);
    nc.n_in = V1_IN;
    nc.n_rec = V1_N;
    nc.n_out = V1_OUT;
    nc.batch = V1_B;
    nc.form = RP_FORM_RATE;
    nc.act = RP_ACT_TANH;
    nc.alpha = 0.75;
    nc.noise_std = 0.1;
    nc.seed = 9;
    rp_status st = rp_net_create(net, &nc, NULL, 0);
    rp_init *init = NULL;
    if (st == RP_OK)
        st = rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0);
    for (int p = RP_PARAM_W; p <= RP_PARAM_V && st == RP_OK; p++)
        st = rp_init_apply(init, *net, (rp_param)p, 40 + (uint64_t)p);
    rp_init_free(init);
    if (st == RP_OK)
        st = rp_rule_create(rule, *net, RP_RULE_RFLO, NULL, 0);
    if (st == RP_OK)
        st = rp_rule_set_loss(*rule, RP_LOSS_CE);
    if (st == RP_OK)
        st = rp_rule_set_feedback(*rule, RP_FEEDBACK_RANDOM, 77);
    if (st == RP_OK)
        st = rp_optim_create(opt, *net, RP_OPTIM_SGD, NULL, 0);
    if (st == RP_OK)
        st = rp_optim_set_lr(*opt, 0.05);
    if (st == RP_OK)
        st = rp_optim_set_momentum(*opt, 0.9);
    return st;
}

/* Iterations [from, to); *loss: the last one's mean loss. */
static inline rp_status v1_train(rp_net *net, rp_rule *rule, rp_optim *opt, size_t from, size_t to,
                                 double *loss)
{
    rp_grad *g = NULL;
    rp_status st = rp_grad_create(&g, net, NULL, 0);
    for (size_t it = from; it < to && st == RP_OK; it++) {
        st = rp_grad_zero(g);
        if (st == RP_OK)
            st = rp_rule_begin(rule, net);
        for (size_t t = 0; t < V1_T && st == RP_OK; t++) {
            double x[V1_B * V1_IN], k[V1_B];
            for (size_t i = 0; i < V1_B * V1_IN; i++)
                x[i] = (double)((it * 31 + t * 7 + i * 3) % 11) / 5.0 - 1.0;
            for (size_t b = 0; b < V1_B; b++)
                k[b] = (double)((it + t + b) % V1_OUT);
            st = rp_net_step(net, x, NULL);
            if (st == RP_OK)
                st = rp_rule_step(rule, net, x, k, NULL, g);
        }
        if (st == RP_OK)
            st = rp_rule_end(rule, loss);
        if (st == RP_OK)
            st = rp_optim_step(opt, net, g);
    }
    rp_grad_free(g);
    return st;
}

#endif
