/* Writes the seed corpus of the fuzz targets: valid files of a few sizes,
   saved by the library itself (rp_net_save, rp_npy_save), so that the fuzzer
   starts from inputs that pass every check.
   Usage: gen_corpus DIR   (writes DIR/net_load/, DIR/npy_load/ and the
   mid-stream checkpoints DIR/ckpt_load/stream*.rpc; the other ckpt_load
   seeds, seed*.rpc, are format version 1 files kept as they were written) */
#include "rnnplast.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define CHECK(call)                                                                \
    do {                                                                           \
        rp_status st_ = (call);                                                    \
        if (st_ != RP_OK) {                                                        \
            fprintf(stderr, "gen_corpus: %s: %s\n", #call, rp_status_string(st_)); \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* Deterministic values in [-1, 1) (an LCG; the values only need to vary). */
static double next(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1.0p-52 - 1.0;
}

/* The precision of the nets written (single: network format version 2,
   checkpoint version 4). */
static rp_precision g_prec = RP_PRECISION_DOUBLE;

static void write_net(const char *dir, int k, size_t n_in, size_t n_rec, size_t n_out, size_t batch,
                      rp_form form, rp_activation act)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = n_in;
    cfg.n_rec = n_rec;
    cfg.n_out = n_out;
    cfg.batch = batch;
    cfg.form = form;
    cfg.precision = g_prec;
    cfg.act = act;
    cfg.alpha = 0.8;
    cfg.noise_std = k % 2 ? 0.1 : 0.0;
    cfg.seed = 1000u + (unsigned)k;
    rp_net *net = NULL;
    CHECK(rp_net_create(&net, &cfg, NULL, 0));
    unsigned long long s = 7u + (unsigned)k;
    double buf[256];
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t len = 0;
        CHECK(rp_net_get_param_len(net, (rp_param)p, &len));
        for (size_t i = 0; i < len; i++)
            buf[i] = next(&s);
        CHECK(rp_net_set_param(net, (rp_param)p, buf, len));
    }
    for (size_t i = 0; i < n_rec; i++)
        buf[i] = 0.1 * next(&s);
    CHECK(rp_net_set_initial_state(net, buf, n_rec));
    char path[512];
    snprintf(path, sizeof path, "%s/net_load/seed%d.rpnet", dir, k);
    CHECK(rp_net_save(net, path));
    rp_net_free(net);
}

static void write_npy(const char *dir, int k, size_t ndim, const size_t *shape)
{
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++)
        n *= shape[i];
    double a[64];
    unsigned long long s = 99u + (unsigned)k;
    for (size_t i = 0; i < n; i++)
        a[i] = next(&s);
    char path[512], msg[256];
    snprintf(path, sizeof path, "%s/npy_load/seed%d.npy", dir, k);
    rp_status st = rp_npy_save(path, a, ndim, shape, msg, sizeof msg);
    if (st != RP_OK) {
        fprintf(stderr, "gen_corpus: %s: %s\n", path, msg);
        exit(1);
    }
}

/* A checkpoint saved inside an online stream of `kind` after `steps` steps
   (format version 2, contents bit 2; version 3 for ModProp), with an
   optimizer when opt. */
static void write_stream_ckpt(const char *dir, int k, rp_rule_kind kind, rp_form form, size_t n_in,
                              size_t n_rec, size_t n_out, size_t batch, size_t steps, int opt)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = n_in;
    cfg.n_rec = n_rec;
    cfg.n_out = n_out;
    cfg.batch = batch;
    cfg.form = form;
    cfg.precision = g_prec;
    cfg.act = RP_ACT_TANH;
    cfg.noise_std = k % 2 ? 0.1 : 0.0;
    cfg.seed = 2000u + (unsigned)k;
    rp_net *net = NULL;
    rp_rule *rule = NULL;
    rp_optim *o = NULL;
    rp_grad *g = NULL;
    CHECK(rp_net_create(&net, &cfg, NULL, 0));
    unsigned long long s = 17u + (unsigned)k;
    double buf[256], tg[64];
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t len = 0;
        CHECK(rp_net_get_param_len(net, (rp_param)p, &len));
        for (size_t i = 0; i < len; i++)
            buf[i] = 0.5 * next(&s);
        CHECK(rp_net_set_param(net, (rp_param)p, buf, len));
    }
    CHECK(rp_rule_create(&rule, net, kind, NULL, 0));
    if (kind == RP_RULE_MODPROP) { /* format version 3: mu, the types, the filter state */
        unsigned types[64];
        for (size_t i = 0; i < n_rec; i++)
            types[i] = (unsigned)(i % 2);
        CHECK(rp_rule_set_cell_types(rule, types, n_rec));
        CHECK(rp_rule_set_modprop_mu(rule, 0.6));
    }
    if (n_out >= 2 && k % 2)
        CHECK(rp_rule_set_loss(rule, RP_LOSS_CE));
    if (opt)
        CHECK(rp_optim_create(&o, net, RP_OPTIM_ADAM, NULL, 0));
    CHECK(rp_grad_create(&g, net, NULL, 0));
    CHECK(rp_rule_begin(rule, net));
    for (size_t t = 0; t < steps; t++) {
        for (size_t i = 0; i < batch * n_in; i++)
            buf[i] = next(&s);
        for (size_t i = 0; i < batch * n_out; i++)
            tg[i] = n_out >= 2 && k % 2 ? (double)(i % n_out) : next(&s);
        CHECK(rp_net_step(net, buf, NULL));
        CHECK(rp_rule_step(rule, net, buf, tg, NULL, g));
    }
    char path[512], msg[256];
    snprintf(path, sizeof path, "%s/ckpt_load/stream%d.rpc", dir, k);
    CHECK(rp_checkpoint_save(net, o, rule, path, (uint64_t)k, "seed", 4, msg, sizeof msg));
    rp_grad_free(g);
    rp_optim_free(o);
    rp_rule_free(rule);
    rp_net_free(net);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char sub[512];
    snprintf(sub, sizeof sub, "%s/net_load", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/npy_load", argv[1]);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/ckpt_load", argv[1]);
    mkdir(sub, 0755);

    /* Networks of 92 + 8*(P + n_rec) bytes: about 0.1 to 0.6 KB each. */
    write_net(argv[1], 0, 1, 1, 1, 1, RP_FORM_VOLTAGE, RP_ACT_RELU);
    write_net(argv[1], 1, 0, 3, 2, 2, RP_FORM_RATE, RP_ACT_TANH);
    write_net(argv[1], 2, 2, 4, 1, 3, RP_FORM_VOLTAGE, RP_ACT_LINEAR);
    write_net(argv[1], 3, 3, 5, 2, 1, RP_FORM_RATE, RP_ACT_RELU);

    static const size_t s0[] = {0}, s1[] = {3}, s2[] = {2, 3}, s3[] = {1, 2, 2},
                        s4[] = {2, 1, 2, 2}, s5[] = {3, 0};
    write_npy(argv[1], 0, 1, s0);
    write_npy(argv[1], 1, 1, s1);
    write_npy(argv[1], 2, 2, s2);
    write_npy(argv[1], 3, 3, s3);
    write_npy(argv[1], 4, 4, s4);
    write_npy(argv[1], 5, 2, s5);

    /* Checkpoints of 0.4 to 1.5 KB inside a stream: e-prop voltage, RFLO
       rate (N x N traces), RTRL (sensitivities), ModProp in both forms (its
       filter state), at steps 0 and later. */
    write_stream_ckpt(argv[1], 0, RP_RULE_EPROP, RP_FORM_VOLTAGE, 2, 3, 1, 2, 2, 0);
    write_stream_ckpt(argv[1], 1, RP_RULE_RFLO, RP_FORM_RATE, 1, 3, 2, 1, 3, 1);
    write_stream_ckpt(argv[1], 2, RP_RULE_RTRL, RP_FORM_VOLTAGE, 1, 2, 1, 1, 0, 0);
    write_stream_ckpt(argv[1], 3, RP_RULE_RTRL, RP_FORM_RATE, 0, 2, 2, 1, 2, 0);
    write_stream_ckpt(argv[1], 4, RP_RULE_MODPROP, RP_FORM_VOLTAGE, 2, 4, 1, 2, 3, 1);
    write_stream_ckpt(argv[1], 5, RP_RULE_MODPROP, RP_FORM_RATE, 1, 3, 2, 1, 2, 0);

    /* Single-precision nets: network version 2, checkpoint version 4 (float
       stream arrays), e-prop voltage and ModProp rate. */
    g_prec = RP_PRECISION_SINGLE;
    write_net(argv[1], 4, 2, 3, 1, 2, RP_FORM_VOLTAGE, RP_ACT_TANH);
    write_stream_ckpt(argv[1], 6, RP_RULE_EPROP, RP_FORM_VOLTAGE, 2, 3, 1, 2, 2, 1);
    write_stream_ckpt(argv[1], 7, RP_RULE_MODPROP, RP_FORM_RATE, 1, 3, 2, 1, 2, 0);
    return 0;
}
