/* The network of MODEL.md §1: configuration, parameters, state and the
   forward dynamics, batched through BLAS. */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const param_names[RP_PARAM_COUNT] = {"W", "U", "b", "V", "c"};

const char *rp__param_name(rp_param p) { return param_names[p]; }

/* const handles still record why a call failed: the message buffer is not
   part of the network's observable value. */
#define NET_ERR(net) ((char *)(net)->err)

/* ---- activations ------------------------------------------------------- */

/* The relu loops (internal.h, rp__relu): restrict parameters, so that gcc
   may pack the four independent elements of RP__EACH4 into vector code
   (a restrict local pointer inside a switch did not suffice for gcc 12). */
static void relu(const double *restrict s, double *restrict d, size_t n)
{
#define RELU(i) d[i] = rp__relu(s[i])
    RP__EACH4(n, RELU);
#undef RELU
}

static void relu_d1(const double *restrict s, double *restrict d, size_t n)
{
#define RELU_D1(i) d[i] = rp__relu_d1(s[i])
    RP__EACH4(n, RELU_D1);
#undef RELU_D1
}

/* h += g b, f = relu(h) in one pass over a row (the same operations, in the
   same order, as a bias loop then rp__act). */
static void bias_relu(double *restrict h, double *restrict f, const double *restrict bias, double g,
                      size_t n)
{
#define BIAS_RELU(i)                                                                               \
    do {                                                                                           \
        double v = h[i] + g * bias[i];                                                             \
        h[i] = v;                                                                                  \
        f[i] = rp__relu(v);                                                                        \
    } while (0)
    RP__EACH4(n, BIAS_RELU);
#undef BIAS_RELU
}

/* f = relu(u), r = a r + g f in one pass (the same operations, in the same
   order, as rp__act then the leak loop: the rate form's step). */
static void relu_leak(const double *restrict u, double *restrict f, double *restrict r, double a,
                      double g, size_t n)
{
#define RELU_LEAK(i)                                                                               \
    do {                                                                                           \
        double fv = rp__relu(u[i]);                                                                \
        f[i] = fv;                                                                                 \
        r[i] = a * r[i] + g * fv;                                                                  \
    } while (0)
    RP__EACH4(n, RELU_LEAK);
#undef RELU_LEAK
}

void rp__act(rp_activation a, const double *src, double *dst, size_t n)
{
    switch (a) {
    case RP_ACT_RELU:
        relu(src, dst, n);
        break;
    case RP_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dst[i] = tanh(src[i]);
        break;
    case RP_ACT_LINEAR:
        if (dst != src)
            memcpy(dst, src, n * sizeof *dst);
        break;
    }
}

void rp__act_d1(rp_activation a, const double *src, double *dst, size_t n)
{
    switch (a) {
    case RP_ACT_RELU:
        relu_d1(src, dst, n);
        break;
    case RP_ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            double t = tanh(src[i]);
            dst[i] = 1.0 - t * t;
        }
        break;
    case RP_ACT_LINEAR:
        for (size_t i = 0; i < n; i++)
            dst[i] = 1.0;
        break;
    }
}

void rp__act_d2(rp_activation a, const double *src, double *dst, size_t n)
{
    if (a == RP_ACT_TANH) {
        for (size_t i = 0; i < n; i++) {
            double t = tanh(src[i]);
            dst[i] = -2.0 * t * (1.0 - t * t);
        }
    } else {
        memset(dst, 0, n * sizeof *dst);
    }
}

size_t rp__find_nonfinite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return i;
    return n;
}

/* ---- layout and configuration ------------------------------------------ */

void rp__layout(rp_layout *lay, size_t n_in, size_t n_rec, size_t n_out)
{
    lay->len[RP_PARAM_W] = n_rec * n_rec;
    lay->len[RP_PARAM_U] = n_rec * n_in;
    lay->len[RP_PARAM_B] = n_rec;
    lay->len[RP_PARAM_V] = n_out * n_rec;
    lay->len[RP_PARAM_C] = n_out;
    size_t off = 0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        lay->off[p] = off;
        off += lay->len[p];
    }
    lay->total = off;
}

static const rp__cfg_type net_cfg_type =
    RP__CFG_TYPE(rp_net_config, RP__NET_CONFIG_SIZE_1_0, "rp_net_config_init");

static void net_defaults(rp_net_config *c)
{
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->n_in = 1;
    c->n_rec = 64;
    c->n_out = 1;
    c->batch = 1;
    c->alpha = 0.9;
    c->form = RP_FORM_VOLTAGE;
    c->act = RP_ACT_RELU;
    c->noise_std = 0.0;
    c->seed = 1;
    c->batch_invariant = 0;
#ifdef RP_TEST_GROWN
    c->rp_test_future = RP_TEST_GROWN_DEFAULT;
#endif
}

rp_status rp_net_config_init(rp_net_config *cfg, size_t size)
{
    rp_net_config d;
    net_defaults(&d);
    return rp__cfg_init(&net_cfg_type, cfg, size, &d, NULL);
}

/* Dimensions above this are refused: the largest product stays far from
   overflow, and no real network comes close. */
#define RP_MAX_DIM ((size_t)1 << 24)

/* The caller's cfg read into *c (its size rules: config.c) and checked. */
static rp_status check_config(const rp_net_config *ucfg, rp_net_config *c, char *err)
{
    if (!ucfg)
        return rp__fail(err, RP_ERR_INVALID_ARG, "cfg is NULL");
    net_defaults(c);
    rp_status st = rp__cfg_read(&net_cfg_type, c, ucfg, "cfg", err);
    if (st != RP_OK)
        return st;
    const rp_net_config *cfg = c;
    if (cfg->n_rec == 0 || cfg->n_rec > RP_MAX_DIM)
        return rp__fail(err, RP_ERR_INVALID_ARG, "n_rec is %zu, expected 1..%zu", cfg->n_rec,
                        RP_MAX_DIM);
    if (cfg->n_out == 0 || cfg->n_out > RP_MAX_DIM)
        return rp__fail(err, RP_ERR_INVALID_ARG, "n_out is %zu, expected 1..%zu", cfg->n_out,
                        RP_MAX_DIM);
    if (cfg->n_in > RP_MAX_DIM)
        return rp__fail(err, RP_ERR_INVALID_ARG, "n_in is %zu, expected 0..%zu", cfg->n_in,
                        RP_MAX_DIM);
    if (cfg->batch == 0 || cfg->batch > RP_MAX_DIM)
        return rp__fail(err, RP_ERR_INVALID_ARG, "batch is %zu, expected 1..%zu", cfg->batch,
                        RP_MAX_DIM);
    if (!(cfg->alpha >= 0.0 && cfg->alpha < 1.0))
        return rp__fail(err, RP_ERR_INVALID_ARG, "alpha is %g, expected 0 <= alpha < 1",
                        cfg->alpha);
    if (cfg->form != RP_FORM_VOLTAGE && cfg->form != RP_FORM_RATE)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "form is %d, expected RP_FORM_VOLTAGE or RP_FORM_RATE", (int)cfg->form);
    if (cfg->act != RP_ACT_RELU && cfg->act != RP_ACT_TANH && cfg->act != RP_ACT_LINEAR)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "act is %d, expected RP_ACT_RELU, RP_ACT_TANH or RP_ACT_LINEAR",
                        (int)cfg->act);
    if (!(cfg->noise_std >= 0.0 && isfinite(cfg->noise_std)))
        return rp__fail(err, RP_ERR_INVALID_ARG, "noise_std is %g, expected a finite value >= 0",
                        cfg->noise_std);
    /* CBLAS takes int lengths: the parameter vector (whose length the grad
       and optimizer calls hand to daxpy/dnrm2/dscal, and which bounds every
       n_rec x k block) and a batch of any row width must fit in an int, or
       the (int) casts would wrap.  Every dimension is <= 2^24 here, so these
       products cannot overflow 64 bits. */
    const uint64_t N = cfg->n_rec, ni = cfg->n_in, no = cfg->n_out, B = cfg->batch;
    const uint64_t total = N * N + N * ni + N + no * N + no;
    if (total > (uint64_t)INT_MAX)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "n_rec %zu, n_in %zu, n_out %zu give %llu parameters, expected at most "
                        "INT_MAX = %d (BLAS lengths are int)",
                        cfg->n_rec, cfg->n_in, cfg->n_out, (unsigned long long)total, INT_MAX);
    uint64_t wide = N > ni ? N : ni;
    wide = no > wide ? no : wide;
    if (B * wide > (uint64_t)INT_MAX)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "batch %zu times the widest dimension %llu is %llu, expected at most "
                        "INT_MAX = %d (BLAS lengths are int)",
                        cfg->batch, (unsigned long long)wide, (unsigned long long)(B * wide),
                        INT_MAX);
    rp_allocator al;
    return rp__allocator_copy(&al, cfg->allocator, err);
}

rp_status rp_net_config_check(const rp_net_config *cfg, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_net_config c;
    rp_status st = check_config(cfg, &c, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

/* ---- lifecycle --------------------------------------------------------- */

static void set_views(rp_net *net)
{
    net->W = net->theta + net->lay.off[RP_PARAM_W];
    net->U = net->theta + net->lay.off[RP_PARAM_U];
    net->b = net->theta + net->lay.off[RP_PARAM_B];
    net->V = net->theta + net->lay.off[RP_PARAM_V];
    net->c = net->theta + net->lay.off[RP_PARAM_C];
}

/* The six B*n_rec state buffers and the last step's B*n_in input, allocated
   together so that set_batch can swap them in one piece. */
typedef struct state_bufs {
    double *state, *fx, *u, *save, *save_fx, *save_u, *last_x;
} state_bufs;

static int alloc_state(rp_net *net, state_bufs *s, size_t batch, size_t n_rec)
{
    size_t n = batch * n_rec;
    s->state = rp__calloc(&net->al, 6 * n + batch * net->cfg.n_in, sizeof(double));
    if (!s->state)
        return 0;
    s->fx = s->state + n;
    s->u = s->fx + n;
    s->save = s->u + n;
    s->save_fx = s->save + n;
    s->save_u = s->save_fx + n;
    s->last_x = s->save_u + n;
    return 1;
}

static void install_state(rp_net *net, const state_bufs *s)
{
    rp__free(&net->al, net->state);
    net->state = s->state;
    net->fx = s->fx;
    net->u = s->u;
    net->save = s->save;
    net->save_fx = s->save_fx;
    net->save_u = s->save_u;
    net->last_x = s->last_x;
}

/* state := h0 for every trial, and fx := f(state) (voltage form). */
static void load_initial(rp_net *net)
{
    size_t N = net->cfg.n_rec, B = net->cfg.batch;
    for (size_t b = 0; b < B; b++)
        memcpy(net->state + b * N, net->h0, N * sizeof(double));
    rp__act(net->cfg.act, net->state, net->fx, B * N);
    net->serial += RP__SERIAL_SET;
}

/* rp_net_create and rp_net_clone: the message into err (RP_ERRLEN bytes). */
static rp_status net_create(rp_net **out, const rp_net_config *ucfg, char *err)
{
    *out = NULL;
    rp_net_config c;
    rp_status st = check_config(ucfg, &c, err);
    if (st != RP_OK)
        return st;
    const rp_net_config *cfg = &c;
    rp_allocator al;
    (void)rp__allocator_copy(&al, cfg->allocator, NULL); /* checked by check_config */
    rp_net *net = rp__calloc(&al, 1, sizeof *net);
    if (!net)
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the network");
    net->cfg = *cfg;
    net->al = al;
    net->cfg.allocator = al.alloc ? &net->al : NULL;
    rp__layout(&net->lay, cfg->n_in, cfg->n_rec, cfg->n_out);
    net->theta = rp__calloc(&net->al, net->lay.total, sizeof(double));
    net->h0 = rp__calloc(&net->al, cfg->n_rec, sizeof(double));
    net->pad = rp__calloc(&net->al, rp__pad_len(cfg->n_in, cfg->n_rec, cfg->n_out), sizeof(double));
    state_bufs s;
    if (!net->theta || !net->h0 || !net->pad || !alloc_state(net, &s, cfg->batch, cfg->n_rec)) {
        const size_t P = net->lay.total;
        rp_net_free(net);
        return rp__fail(err, RP_ERR_NOMEM,
                        "out of memory for the network's %zu parameters "
                        "and %zu x %zu states",
                        P, cfg->batch, cfg->n_rec);
    }
    install_state(net, &s);
    set_views(net);
    rp__rng_seed(&net->rng, cfg->seed);
    load_initial(net);
    *out = net;
    return RP_OK;
}

rp_status rp_net_create(rp_net **out, const rp_net_config *cfg, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st =
        out ? net_create(out, cfg, err) : rp__fail(err, RP_ERR_INVALID_ARG, "out is NULL");
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_net_clone(rp_net **out, const rp_net *net, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = RP_ERR_INVALID_ARG;
    if (out)
        *out = NULL;
    if (!out || !net)
        rp__fail(err, st, "%s is NULL", out ? "net" : "out");
    else if ((st = net_create(out, &net->cfg, err)) == RP_OK) {
        rp_net *c = *out;
        size_t BN = net->cfg.batch * net->cfg.n_rec;
        memcpy(c->theta, net->theta, net->lay.total * sizeof(double));
        memcpy(c->h0, net->h0, net->cfg.n_rec * sizeof(double));
        memcpy(c->state, net->state, 5 * BN * sizeof(double));
        memcpy(c->last_x, net->last_x, net->cfg.batch * net->cfg.n_in * sizeof(double));
        c->serial = net->serial;
        c->rng = net->rng;
        c->state_bound = net->state_bound;
    }
    rp__copy_msg(msg, msglen, err);
    return st;
}

void rp_net_free(rp_net *net)
{
    if (!net)
        return;
    rp__free(&net->al, net->theta);
    rp__free(&net->al, net->h0);
    rp__free(&net->al, net->state);
    rp__free(&net->al, net->pad);
    rp__free(&net->al, net);
}

const char *rp_net_last_error(const rp_net *net) { return net ? net->err : "net is NULL"; }

rp_status rp_net_get_config(const rp_net *net, rp_net_config *cfg, size_t size)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    if (!cfg)
        return rp__fail(NET_ERR(net), RP_ERR_INVALID_ARG, "cfg is NULL");
    return rp__cfg_get(&net_cfg_type, cfg, size, &net->cfg, NET_ERR(net));
}

/* ---- parameters and state ---------------------------------------------- */

static rp_status check_param(const rp_net *net, rp_param which, const void *buf, size_t len,
                             const char *bufname, char *err)
{
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(err, RP_ERR_INVALID_ARG, "which is %d, expected RP_PARAM_W..RP_PARAM_C",
                        (int)which);
    if (len != net->lay.len[which])
        return rp__fail(err, RP_ERR_DIM_MISMATCH,
                        "%s has %zu doubles, expected %zu for parameter %s", bufname, len,
                        net->lay.len[which], param_names[which]);
    if (!buf && len > 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "%s is NULL", bufname);
    return RP_OK;
}

rp_status rp_net_get_param_len(const rp_net *net, rp_param which, size_t *len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    if (!len)
        return rp__fail(NET_ERR(net), RP_ERR_INVALID_ARG, "len is NULL");
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(NET_ERR(net), RP_ERR_INVALID_ARG,
                        "which is %d, expected RP_PARAM_W..RP_PARAM_C", (int)which);
    *len = net->lay.len[which];
    return RP_OK;
}

rp_status rp_net_set_param(rp_net *net, rp_param which, const double *src, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_param(net, which, src, len, "src", net->err);
    if (st != RP_OK)
        return st;
    size_t bad = rp__find_nonfinite(src, len);
    if (bad < len)
        return rp__fail(net->err, RP_ERR_NONFINITE, "src[%zu] of parameter %s is %g", bad,
                        param_names[which], src[bad]);
    memcpy(rp__param(net, which), src, len * sizeof(double));
    rp__param_changed(net);
    return RP_OK;
}

rp_status rp_net_get_param(const rp_net *net, rp_param which, double *dst, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_param(net, which, dst, len, "dst", (char *)net->err);
    if (st != RP_OK)
        return st;
    memcpy(dst, rp__cparam(net, which), len * sizeof(double));
    return RP_OK;
}

static rp_status check_len(const rp_net *net, const void *buf, size_t len, size_t want,
                           const char *what)
{
    if (!buf)
        return rp__fail(NET_ERR(net), RP_ERR_INVALID_ARG, "%s is NULL", what);
    if (len != want)
        return rp__fail(NET_ERR(net), RP_ERR_DIM_MISMATCH, "%s has %zu doubles, expected %zu", what,
                        len, want);
    return RP_OK;
}

rp_status rp_net_get_state(const rp_net *net, double *dst, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    size_t n = net->cfg.batch * net->cfg.n_rec;
    rp_status st = check_len(net, dst, len, n, "dst (B*n_rec)");
    if (st == RP_OK)
        memcpy(dst, net->state, n * sizeof(double));
    return st;
}

rp_status rp_net_get_rates(const rp_net *net, double *dst, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    size_t n = net->cfg.batch * net->cfg.n_rec;
    rp_status st = check_len(net, dst, len, n, "dst (B*n_rec)");
    if (st == RP_OK)
        memcpy(dst, net->cfg.form == RP_FORM_VOLTAGE ? net->fx : net->state, n * sizeof(double));
    return st;
}

rp_status rp_net_set_state(rp_net *net, const double *src, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    size_t n = net->cfg.batch * net->cfg.n_rec;
    rp_status st = check_len(net, src, len, n, "src (B*n_rec)");
    if (st != RP_OK)
        return st;
    size_t bad = rp__find_nonfinite(src, n);
    if (bad < n)
        return rp__fail(net->err, RP_ERR_NONFINITE, "src[%zu] (trial %zu, unit %zu) is %g", bad,
                        bad / net->cfg.n_rec, bad % net->cfg.n_rec, src[bad]);
    memcpy(net->state, src, n * sizeof(double));
    rp__act(net->cfg.act, net->state, net->fx, n);
    net->serial += RP__SERIAL_SET;
    return RP_OK;
}

rp_status rp_net_set_initial_state(rp_net *net, const double *src, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    size_t n = net->cfg.n_rec;
    rp_status st = check_len(net, src, len, n, "src (n_rec)");
    if (st != RP_OK)
        return st;
    size_t bad = rp__find_nonfinite(src, n);
    if (bad < n)
        return rp__fail(net->err, RP_ERR_NONFINITE, "src[%zu] is %g", bad, src[bad]);
    memcpy(net->h0, src, n * sizeof(double));
    return RP_OK;
}

rp_status rp_net_get_initial_state(const rp_net *net, double *dst, size_t len)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_len(net, dst, len, net->cfg.n_rec, "dst (n_rec)");
    if (st == RP_OK)
        memcpy(dst, net->h0, net->cfg.n_rec * sizeof(double));
    return st;
}

rp_status rp_net_reset(rp_net *net)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    load_initial(net);
    return RP_OK;
}

rp_status rp_net_set_batch(rp_net *net, size_t batch)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    rp_net_config c = net->cfg, checked;
    c.batch = batch;
    rp_status st = check_config(&c, &checked, net->err);
    if (st != RP_OK)
        return st;
    state_bufs s;
    if (!alloc_state(net, &s, batch, net->cfg.n_rec))
        return rp__fail(net->err, RP_ERR_NOMEM, "no memory for a batch of %zu", batch);
    install_state(net, &s);
    net->cfg.batch = batch;
    load_initial(net);
    return RP_OK;
}

rp_status rp_net_set_alpha(rp_net *net, double alpha)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    if (!(alpha >= 0.0 && alpha < 1.0))
        return rp__fail(net->err, RP_ERR_INVALID_ARG, "alpha is %g, expected 0 <= alpha < 1",
                        alpha);
    net->cfg.alpha = alpha;
    return RP_OK;
}

rp_status rp_net_set_noise(rp_net *net, double noise_std, uint64_t seed)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    if (!(noise_std >= 0.0 && isfinite(noise_std)))
        return rp__fail(net->err, RP_ERR_INVALID_ARG,
                        "noise_std is %g, expected a finite value >= 0", noise_std);
    net->cfg.noise_std = noise_std;
    net->cfg.seed = seed;
    rp__rng_seed(&net->rng, seed);
    return RP_OK;
}

/* ---- dynamics ---------------------------------------------------------- */

/* C (rows x n) = alpha * A (rows x m) * Bm^T (Bm n x m) + beta * C.

   Bit-identical trials: a batch of B trials must give each trial exactly the
   bits of a batch-1 run.  OpenBLAS does not: dgemv (B = 1) and dgemm sum in
   different orders, and dgemm's own edge kernels (a batch that is not a
   multiple of its register block, e.g. 1, 5, 9 rows, or a thread's share of
   one) round differently from its full blocks — measured on OpenBLAS 0.3.21
   (Zen kernels, 1 and 2 threads): ~35 % of the trials of B = 2..100 differed
   from batch-1 runs in the last bits.  Every product therefore runs on whole
   blocks of RP_ROW_BLOCK rows when cfg.batch_invariant is set: the leading multiple of RP_ROW_BLOCK in place,
   the remaining rows copied into a scratch pad and padded with zeros.  With
   blocks of 8 no trial differed (N = 3..1024, B = 1..100, 1 and 2 threads).
   The cost is the padding's flops: B = 1 costs a dgemm of 8 rows instead of
   one dgemv, 4-10x slower at N = 64..1024 (measured), which is why it is an
   option and the default is dgemv for one trial, dgemm otherwise.
   The padding goes to the caller's scratch pad (2*RP_ROW_BLOCK*max(n, m)
   doubles), never to the net: a const net is only read. */
static void gemm_nt(const rp_net *net, size_t rows, size_t n, size_t m, double alpha,
                    const double *A, const double *Bm, double beta, double *C, double *pad)
{
    if (n == 0 || rows == 0)
        return;
    if (m == 0) {
        cblas_dscal((int)(rows * n), beta, C, 1);
        return;
    }
    if (!net->cfg.batch_invariant) {
        if (rows == 1)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)m, alpha, Bm, (int)m, A, 1, beta,
                        C, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)m, alpha,
                        A, (int)m, Bm, (int)m, beta, C, (int)n);
        return;
    }
    const size_t full = rows - rows % RP_ROW_BLOCK, rest = rows - full;
    if (full)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)full, (int)n, (int)m, alpha, A,
                    (int)m, Bm, (int)m, beta, C, (int)n);
    if (rest) {
        double *pa = pad, *pc = pad + RP_ROW_BLOCK * (n > m ? n : m);
        memcpy(pa, A + full * m, rest * m * sizeof(double));
        memset(pa + rest * m, 0, (RP_ROW_BLOCK - rest) * m * sizeof(double));
        memcpy(pc, C + full * n, rest * n * sizeof(double));
        memset(pc + rest * n, 0, (RP_ROW_BLOCK - rest) * n * sizeof(double));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, RP_ROW_BLOCK, (int)n, (int)m, alpha,
                    pa, (int)m, Bm, (int)m, beta, pc, (int)n);
        memcpy(C + full * n, pc, rest * n * sizeof(double));
    }
}

void rp__forward(const rp_net *net, size_t rows, const double *x, double *state, double *fx,
                 double *u, double *pad)
{
    const size_t N = net->cfg.n_rec, n_in = net->cfg.n_in;
    const double a = net->cfg.alpha, g = 1.0 - a;
    if (net->cfg.form == RP_FORM_VOLTAGE) {
        /* h_t = a h_{t-1} + (1-a)(W f(h_{t-1}) + U x_t + b) */
        gemm_nt(net, rows, N, N, g, fx, net->W, a, state, pad);
        if (x && n_in)
            gemm_nt(net, rows, N, n_in, g, x, net->U, 1.0, state, pad);
        /* bias and activation in one pass over the state (the same
           operations, in the same order, as a bias loop then rp__act) */
        const double *restrict bias = net->b;
        for (size_t r = 0; r < rows; r++) {
            double *restrict h = state + r * N, *restrict f = fx + r * N;
            switch (net->cfg.act) {
            case RP_ACT_RELU:
                bias_relu(h, f, bias, g, N);
                break;
            case RP_ACT_TANH:
                for (size_t i = 0; i < N; i++) {
                    double v = h[i] + g * bias[i];
                    h[i] = v;
                    f[i] = tanh(v);
                }
                break;
            default:
                for (size_t i = 0; i < N; i++)
                    h[i] += g * bias[i];
                rp__act(net->cfg.act, h, f, N);
                break;
            }
        }
    } else {
        /* u_t = W r_{t-1} + U x_t + b;  r_t = a r_{t-1} + (1-a) f(u_t) */
        for (size_t r = 0; r < rows; r++)
            memcpy(u + r * N, net->b, N * sizeof(double));
        gemm_nt(net, rows, N, N, 1.0, state, net->W, 1.0, u, pad);
        if (x && n_in)
            gemm_nt(net, rows, N, n_in, 1.0, x, net->U, 1.0, u, pad);
        if (net->cfg.act == RP_ACT_RELU) {
            relu_leak(u, fx, state, a, g, rows * N);
        } else {
            rp__act(net->cfg.act, u, fx, rows * N);
            for (size_t i = 0; i < rows * N; i++)
                state[i] = a * state[i] + g * fx[i];
        }
    }
}

rp_status rp__check_bound(const rp_net *net, const double *s, size_t rows, size_t t, char *err)
{
    const double bound = net->state_bound;
    if (bound == 0.0)
        return RP_OK;
    const size_t N = net->cfg.n_rec, n = rows * N;
    for (size_t i = 0; i < n; i++) {
        if (!(fabs(s[i]) > bound))
            continue;
        if (t == SIZE_MAX)
            return rp__fail(err, RP_ERR_DIVERGED,
                            "state %g at trial %zu, unit %zu is beyond the bound %g "
                            "(rp_net_set_state_bound)",
                            s[i], i / N, i % N, bound);
        return rp__fail(err, RP_ERR_DIVERGED,
                        "state %g at step %zu, trial %zu, unit %zu is beyond the bound %g "
                        "(rp_net_set_state_bound)",
                        s[i], t, i / N, i % N, bound);
    }
    return RP_OK;
}

rp_status rp_net_set_state_bound(rp_net *net, double bound)
{
    if (!net)
        return RP_ERR_INVALID_ARG;
    if (!(bound >= 0.0) || !isfinite(bound))
        return rp__fail(net->err, RP_ERR_INVALID_ARG,
                        "bound is %g, expected finite and >= 0 (0 = off)", bound);
    net->state_bound = bound;
    return RP_OK;
}

void rp__readout(const rp_net *net, size_t rows, const double *a, double *y, double *pad)
{
    const size_t N = net->cfg.n_rec, n_out = net->cfg.n_out;
    for (size_t r = 0; r < rows; r++)
        memcpy(y + r * n_out, net->c, n_out * sizeof(double));
    gemm_nt(net, rows, n_out, N, 1.0, a, net->V, 1.0, y, pad);
}

void rp__jacobian_apply(const rp_net *net, const double *dprime, const double *Q, size_t k,
                        double *Q_out, double *work)
{
    const int N = (int)net->cfg.n_rec, K = (int)k;
    const double a = net->cfg.alpha, g = 1.0 - a;
    if (net->cfg.form == RP_FORM_VOLTAGE) {
        /* D Q = a Q + (1-a) W (diag(f'(h_{t-1})) Q) */
        for (int i = 0; i < N; i++)
            for (int j = 0; j < K; j++)
                work[(size_t)i * k + j] = dprime[i] * Q[(size_t)i * k + j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, N, g, net->W, N, work, K, 0.0,
                    Q_out, K);
        cblas_daxpy(N * K, a, Q, 1, Q_out, 1);
    } else {
        /* D Q = a Q + (1-a) diag(f'(u_t)) (W Q) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, N, 1.0, net->W, N, Q, K, 0.0,
                    Q_out, K);
        for (int i = 0; i < N; i++) {
            double s = g * dprime[i];
            for (int j = 0; j < K; j++)
                Q_out[(size_t)i * k + j] = a * Q[(size_t)i * k + j] + s * Q_out[(size_t)i * k + j];
        }
    }
}

/* Validate x (B*n_in) for step t of a call; message names step, trial and unit. */
static rp_status check_input(rp_net *net, const double *x, size_t t, size_t T)
{
    size_t n = net->cfg.batch * net->cfg.n_in;
    if (n == 0)
        return RP_OK;
    if (!x)
        return rp__fail(net->err, RP_ERR_INVALID_ARG, "x is NULL but n_in = %zu", net->cfg.n_in);
    size_t bad = rp__find_nonfinite(x, n);
    if (bad == n)
        return RP_OK;
    if (T > 1)
        return rp__fail(net->err, RP_ERR_NONFINITE, "x at step %zu, trial %zu, input %zu is %g", t,
                        bad / net->cfg.n_in, bad % net->cfg.n_in, x[bad]);
    return rp__fail(net->err, RP_ERR_NONFINITE, "x at trial %zu, input %zu is %g",
                    bad / net->cfg.n_in, bad % net->cfg.n_in, x[bad]);
}

/* One step on the live state; the caller has validated x.  Returns
   RP_ERR_NONFINITE (state not restored) if the new state is not finite. */
static rp_status step_unchecked(rp_net *net, const double *x, double *y, size_t t, size_t T)
{
    const size_t N = net->cfg.n_rec, B = net->cfg.batch, BN = B * N;
    rp__forward(net, B, x, net->state, net->fx, net->u, net->pad);
    if (net->cfg.noise_std > 0.0) {
        for (size_t i = 0; i < BN; i++)
            net->state[i] += net->cfg.noise_std * rp__rng_normal(&net->rng);
        if (net->cfg.form == RP_FORM_VOLTAGE)
            rp__act(net->cfg.act, net->state, net->fx, BN);
    }
    size_t bad = rp__find_nonfinite(net->state, BN);
    if (bad < BN) {
        if (T > 1)
            return rp__fail(net->err, RP_ERR_NONFINITE,
                            "state diverged at step %zu, trial %zu, unit %zu", t, bad / N, bad % N);
        return rp__fail(net->err, RP_ERR_NONFINITE, "state diverged at trial %zu, unit %zu",
                        bad / N, bad % N);
    }
    rp_status st = rp__check_bound(net, net->state, B, T > 1 ? t : SIZE_MAX, net->err);
    if (st != RP_OK)
        return st;
    if (y) {
        const size_t n_out = net->cfg.n_out, BO = B * n_out;
        rp__readout(net, B, net->cfg.form == RP_FORM_VOLTAGE ? net->fx : net->state, y, net->pad);
        /* a finite state can still overflow V a + c */
        bad = rp__find_nonfinite(y, BO);
        if (bad < BO)
            return rp__fail(net->err, RP_ERR_NONFINITE,
                            "output diverged at step %zu, trial %zu, output %zu", t, bad / n_out,
                            bad % n_out);
    }
    return RP_OK;
}

static void save_state(rp_net *net, rp_rng *rng_saved)
{
    size_t BN = net->cfg.batch * net->cfg.n_rec;
    memcpy(net->save, net->state, BN * sizeof(double));
    memcpy(net->save_fx, net->fx, BN * sizeof(double));
    /* u is part of the live state (the rate form's online rules read f'(u_t),
       checkpoints store it), so a failed run restores it too */
    memcpy(net->save_u, net->u, BN * sizeof(double));
    *rng_saved = net->rng;
}

static void restore_state(rp_net *net, const rp_rng *rng_saved)
{
    size_t BN = net->cfg.batch * net->cfg.n_rec;
    memcpy(net->state, net->save, BN * sizeof(double));
    memcpy(net->fx, net->save_fx, BN * sizeof(double));
    memcpy(net->u, net->save_u, BN * sizeof(double));
    net->rng = *rng_saved;
}

rp_status rp_net_step(rp_net *net, const double *x, double *y)
{
    RP__CLEAR_ERR(net);
    return rp_net_run(net, 1, x, y);
}

rp_status rp_net_run(rp_net *net, size_t T, const double *x, double *y)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    const size_t bx = net->cfg.batch * net->cfg.n_in, by = net->cfg.batch * net->cfg.n_out;
    for (size_t t = 0; t < T; t++) {
        rp_status st = check_input(net, x ? x + t * bx : NULL, t, T);
        if (st != RP_OK)
            return st;
    }
    rp_rng saved;
    save_state(net, &saved);
    for (size_t t = 0; t < T; t++) {
        rp_status st = step_unchecked(net, x ? x + t * bx : NULL, y ? y + t * by : NULL, t, T);
        if (st != RP_OK) {
            restore_state(net, &saved);
            return st;
        }
    }
    net->serial += T;
    if (T > 0 && bx > 0)
        memcpy(net->last_x, x + (T - 1) * bx, bx * sizeof(double));
    return RP_OK;
}
