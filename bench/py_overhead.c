/* py_overhead — the C side of bench/py_overhead.py: per-call time of the two
   calls an embedding makes every tick, measured from C so the Python script
   can subtract it from the same calls made through the `rnnplast` package.

     net_step     rp_net_step(net, x, y)
     stream_step  rp_net_step(net, x, y) + rp_rule_step(eprop, net, x, y*, NULL, g)

   Set-up (identical in py_overhead.py): voltage form, relu, alpha 0.9,
   n_in = 4, n_out = 2, B = 1, W gaussian gain 0.9 seed 1, U and V gaussian
   gain 1 seeds 2 and 3, e-prop with symmetric feedback and MSE loss, one
   fixed input x_i = 0.1 (i + 1) and target y*_k = 0.5 - 0.25 k.
   Each figure is the median of `reps` repetitions of `inner` calls after one
   warm-up repetition (bench_util.h).  Prints figures, asserts nothing.

   Usage: py_overhead [N ...]   (default 64 128).  Each line of output is
     <what> N=<N> B=1 us=<microseconds per call>
   With RP_BENCH_CSV set (make bench-extra) it also appends CSV rows there. */
#include <stdint.h>

#include "bench_util.h"
#include "rnnplast.h"

#define PO_NIN 4
#define PO_NOUT 2

typedef struct po_ctx {
    rp_net *net;
    rp_rule *rule;
    rp_grad *grad;
    double x[PO_NIN], y[PO_NOUT], tgt[PO_NOUT];
} po_ctx;

static void po_net_step(void *p)
{
    po_ctx *c = p;
    BU_CK(rp_net_step(c->net, c->x, c->y));
}

static void po_stream_step(void *p)
{
    po_ctx *c = p;
    BU_CK(rp_net_step(c->net, c->x, c->y));
    BU_CK(rp_rule_step(c->rule, c->net, c->x, c->tgt, NULL, c->grad));
}

static void po_setup(po_ctx *c, size_t N)
{
    rp_net_config cfg;
    BU_CK(rp_net_config_init(&cfg, sizeof cfg));
    cfg.n_in = PO_NIN;
    cfg.n_rec = N;
    cfg.n_out = PO_NOUT;
    cfg.batch = 1;
    cfg.alpha = 0.9;
    cfg.form = RP_FORM_VOLTAGE;
    cfg.act = RP_ACT_RELU;
    BU_CK(rp_net_create(&c->net, &cfg, NULL, 0));
    rp_init *init;
    BU_CK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0));
    BU_CK(rp_init_set_gain(init, 0.9));
    BU_CK(rp_init_apply(init, c->net, RP_PARAM_W, 1));
    BU_CK(rp_init_set_gain(init, 1.0));
    BU_CK(rp_init_apply(init, c->net, RP_PARAM_U, 2));
    BU_CK(rp_init_apply(init, c->net, RP_PARAM_V, 3));
    rp_init_free(init);
    BU_CK(rp_rule_create(&c->rule, c->net, RP_RULE_EPROP, NULL, 0));
    BU_CK(rp_grad_create(&c->grad, c->net, NULL, 0));
    for (int i = 0; i < PO_NIN; i++)
        c->x[i] = 0.1 * (i + 1);
    for (int k = 0; k < PO_NOUT; k++)
        c->tgt[k] = 0.5 - 0.25 * k;
}

static void po_free(po_ctx *c)
{
    rp_grad_free(c->grad);
    rp_rule_free(c->rule);
    rp_net_free(c->net);
}

static void po_report(const char *what, size_t N, double s)
{
    printf("%s N=%zu B=1 us=%.4f\n", what, N, s * 1e6);
    if (getenv("RP_BENCH_CSV"))
        bu_csv("py_overhead_c", what, (int)N, 1, 1, 0, s, 0.0, 0.0, bu_peak_mib());
}

int main(int argc, char **argv)
{
    size_t sizes[16] = {64, 128};
    int nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int a = 1; a < argc && nsizes < 16; a++)
            sizes[nsizes++] = (size_t)strtoul(argv[a], NULL, 10);
    }
    const int reps = 21, inner = 2000;
    for (int i = 0; i < nsizes; i++) {
        po_ctx c;
        po_setup(&c, sizes[i]);
        po_report("net_step", sizes[i], bu_time(po_net_step, &c, reps, inner));
        BU_CK(rp_net_reset(c.net));
        BU_CK(rp_rule_begin(c.rule, c.net));
        po_report("stream_step", sizes[i], bu_time(po_stream_step, &c, reps, inner));
        BU_CK(rp_rule_end(c.rule, NULL));
        po_free(&c);
    }
    return 0;
}
