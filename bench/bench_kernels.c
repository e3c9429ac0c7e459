/* bench_kernels — one kernel at a time, for instruction and branch counts
   (docs/PERFORMANCE.md, "Branch-free activations and the O(1) W check"):

     bench_kernels KERNEL CALLS   run KERNEL CALLS times after one set-up, print nothing
     bench_kernels                every kernel, CALLS = 20 (ticks: 20000), wall time per call

   KERNEL: fwd_relu fwd_tanh (rp_net_run of T steps after rp_net_reset),
   eprop_relu bptt_relu (rp_rule_trial) at (N, B, T) = (128, 32, 100), n_in 4,
   n_out 2, Gaussian init; tick_eprop tick_modprop (rp_net_step + rp_rule_step,
   N 128, B 1; ModProp K = 2, the first 80 % of the units type 0).  The
   per-call count of a kernel is the difference of two runs divided by the
   difference of their CALLS, e.g. with callgrind:

     valgrind --tool=callgrind --branch-sim=yes build/bench/bench_kernels fwd_relu 1
     valgrind --tool=callgrind --branch-sim=yes build/bench/bench_kernels fwd_relu 3

   Wall times on a shared machine move with its load: print `uptime` beside them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "rnnplast.h"

enum { N_IN = 4, N_OUT = 2 };

typedef struct {
    rp_net *net;
    rp_rule *rule;
    rp_grad *grad;
    double *x, *y, *tg;
    size_t T;
    int tick;
} kern;

_Noreturn static void die(const char *what)
{
    fprintf(stderr, "bench_kernels: %s failed\n", what);
    exit(1);
}

static void setup(kern *k, const char *name)
{
    memset(k, 0, sizeof *k);
    k->tick = !strncmp(name, "tick_", 5);
    const size_t N = 128, B = k->tick ? 1 : 32;
    k->T = k->tick ? 1 : 100;
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = N_IN, c.n_rec = N, c.n_out = N_OUT, c.batch = B, c.alpha = 0.9;
    c.act = strstr(name, "tanh") ? RP_ACT_TANH : RP_ACT_RELU;
    if (rp_net_create(&k->net, &c, NULL, 0) != RP_OK)
        die("rp_net_create");
    rp_init *in = NULL;
    if (rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0) != RP_OK)
        die("rp_init_create");
    for (int p = RP_PARAM_W; p <= RP_PARAM_V; p++)
        if (rp_init_apply(in, k->net, (rp_param)p, 7 + (uint64_t)p) != RP_OK)
            die("rp_init_apply");
    rp_init_free(in);
    const size_t TB = k->T * B;
    k->x = malloc(TB * N_IN * sizeof(double));
    k->y = malloc(TB * N_OUT * sizeof(double));
    k->tg = malloc(TB * N_OUT * sizeof(double));
    if (!k->x || !k->y || !k->tg)
        die("malloc");
    for (size_t i = 0; i < TB * N_IN; i++)
        k->x[i] = 0.3 * (double)((i * 7) % 11) - 1.5;
    for (size_t i = 0; i < TB * N_OUT; i++)
        k->tg[i] = 0.1 * (double)((i * 5) % 9) - 0.4;
    rp_rule_kind kind;
    if (!strcmp(name, "eprop_relu") || !strcmp(name, "tick_eprop"))
        kind = RP_RULE_EPROP;
    else if (!strcmp(name, "bptt_relu"))
        kind = RP_RULE_BPTT;
    else if (!strcmp(name, "tick_modprop"))
        kind = RP_RULE_MODPROP;
    else if (!strcmp(name, "fwd_relu") || !strcmp(name, "fwd_tanh"))
        return;
    else
        die("the kernel's name");
    if (rp_rule_create(&k->rule, k->net, kind, NULL, 0) != RP_OK ||
        rp_grad_create(&k->grad, k->net, NULL, 0) != RP_OK)
        die("rp_rule_create");
    if (kind == RP_RULE_MODPROP) {
        unsigned types[128];
        for (size_t i = 0; i < N; i++)
            types[i] = i >= N * 8 / 10;
        if (rp_rule_set_cell_types(k->rule, types, N) != RP_OK)
            die("rp_rule_set_cell_types");
    }
    if (k->tick && rp_rule_begin(k->rule, k->net) != RP_OK)
        die("rp_rule_begin");
}

static void call(kern *k)
{
    if (k->tick) {
        if (rp_net_step(k->net, k->x, NULL) != RP_OK ||
            rp_rule_step(k->rule, k->net, k->x, k->tg, NULL, k->grad) != RP_OK)
            die("the tick");
    } else if (k->rule) {
        if (rp_rule_trial(k->rule, k->net, k->T, k->x, k->tg, NULL, k->grad, NULL) != RP_OK)
            die("rp_rule_trial");
    } else if (rp_net_reset(k->net) != RP_OK || rp_net_run(k->net, k->T, k->x, k->y) != RP_OK) {
        die("rp_net_run");
    }
}

static void teardown(kern *k)
{
    rp_grad_free(k->grad);
    rp_rule_free(k->rule);
    rp_net_free(k->net);
    free(k->x);
    free(k->y);
    free(k->tg);
}

int main(int argc, char **argv)
{
    if (argc == 3) {
        kern k;
        setup(&k, argv[1]);
        for (long i = atol(argv[2]); i > 0; i--)
            call(&k);
        teardown(&k);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [KERNEL CALLS]\n", argv[0]);
        return 2;
    }
    static const char *const names[] = {"fwd_relu",  "fwd_tanh",   "eprop_relu",
                                        "bptt_relu", "tick_eprop", "tick_modprop"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        kern k;
        setup(&k, names[n]);
        const long calls = k.tick ? 20000 : 20;
        call(&k); /* warm-up */
        double t0 = bu_now();
        for (long i = 0; i < calls; i++)
            call(&k);
        double per = (bu_now() - t0) / (double)calls;
        printf("%-13s %10.3f us per call (%ld calls)\n", names[n], per * 1e6, calls);
        teardown(&k);
    }
    return 0;
}
