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

/* ---- activations and forward kernels ------------------------------------ */

/* rp__act, rp__act_d1, rp__find_nonfinite, rp__forward, rp__check_bound,
   rp__readout: the double instance of net_kernels.h (net_single.c holds the
   float one). */
#define RP_K_DOUBLE
#include "net_kernels.h"
#undef RP_K_DOUBLE

void rp__act_d2(rp_activation a, const double *src, double *dst, size_t n)
{
    if (a == RP_ACT_TANH) {
        rp__tanh(src, dst, n);
        for (size_t i = 0; i < n; i++) {
            double t = dst[i];
            dst[i] = -2.0 * t * (1.0 - t * t);
        }
    } else {
        memset(dst, 0, n * sizeof *dst);
    }
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
    c->precision = RP_PRECISION_DOUBLE;
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
    if (cfg->precision != RP_PRECISION_DOUBLE && cfg->precision != RP_PRECISION_SINGLE)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "precision is %d, expected RP_PRECISION_DOUBLE or RP_PRECISION_SINGLE",
                        (int)cfg->precision);
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
    float *st_f, *fx_f, *u_f, *x_f, *y_f; /* single precision only: one block at st_f */
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
    s->st_f = s->fx_f = s->u_f = s->x_f = s->y_f = NULL;
    if (net->cfg.precision == RP_PRECISION_SINGLE) {
        s->st_f =
            rp__calloc(&net->al, 3 * n + batch * (net->cfg.n_in + net->cfg.n_out), sizeof(float));
        if (!s->st_f) {
            rp__free(&net->al, s->state);
            return 0;
        }
        s->fx_f = s->st_f + n;
        s->u_f = s->fx_f + n;
        s->x_f = s->u_f + n;
        s->y_f = s->x_f + batch * net->cfg.n_in;
    }
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
    rp__free(&net->al, net->st_f);
    net->st_f = s->st_f;
    net->fx_f = s->fx_f;
    net->u_f = s->u_f;
    net->x_f = s->x_f;
    net->y_f = s->y_f;
}

/* Single precision: fx := f(state) computed in float, as a float net's
   kernels would (state holds float values). */
static void single_fx(rp_net *net, size_t n)
{
    rp__to_f(net->state, net->st_f, n);
    rp__act_f(net->cfg.act, net->st_f, net->fx_f, n);
    rp__from_f(net->fx_f, net->fx, n);
}

/* Round a[0..n) to the nearest floats, in place. */
static void round_f(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (double)(float)a[i];
}

void rp__param_sync_single(rp_net *net)
{
    round_f(net->theta, net->lay.total);
    rp__to_f(net->theta, net->theta_f, net->lay.total);
}

/* state := h0 for every trial, and fx := f(state) (voltage form). */
static void load_initial(rp_net *net)
{
    size_t N = net->cfg.n_rec, B = net->cfg.batch;
    for (size_t b = 0; b < B; b++)
        memcpy(net->state + b * N, net->h0, N * sizeof(double));
    if (net->st_f)
        single_fx(net, B * N); /* h0 holds floats (rp_net_set_initial_state) */
    else
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
    int single_ok = 1;
    if (cfg->precision == RP_PRECISION_SINGLE) {
        net->theta_f = rp__calloc(&net->al, net->lay.total, sizeof(float));
        net->pad_f =
            rp__calloc(&net->al, rp__pad_len(cfg->n_in, cfg->n_rec, cfg->n_out), sizeof(float));
        single_ok = net->theta_f && net->pad_f;
    }
    state_bufs s;
    if (!net->theta || !net->h0 || !net->pad || !single_ok ||
        !alloc_state(net, &s, cfg->batch, cfg->n_rec)) {
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
        if (c->theta_f)
            rp__param_sync_single(c);
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
    rp__free(&net->al, net->theta_f);
    rp__free(&net->al, net->pad_f);
    rp__free(&net->al, net->st_f);
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
    if (net->st_f) {
        round_f(net->state, n);
        single_fx(net, n);
    } else {
        rp__act(net->cfg.act, net->state, net->fx, n);
    }
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
    if (net->st_f)
        round_f(net->h0, n);
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

/* The messages of a non-finite state (entry bad of B*n_rec) or output
   (entry bad of B*n_out) at step t of T. */
static rp_status fail_state(rp_net *net, size_t bad, size_t t, size_t T)
{
    const size_t N = net->cfg.n_rec;
    if (T > 1)
        return rp__fail(net->err, RP_ERR_NONFINITE,
                        "state diverged at step %zu, trial %zu, unit %zu", t, bad / N, bad % N);
    return rp__fail(net->err, RP_ERR_NONFINITE, "state diverged at trial %zu, unit %zu", bad / N,
                    bad % N);
}

static rp_status fail_output(rp_net *net, size_t bad, size_t t)
{
    const size_t n_out = net->cfg.n_out;
    return rp__fail(net->err, RP_ERR_NONFINITE,
                    "output diverged at step %zu, trial %zu, output %zu", t, bad / n_out,
                    bad % n_out);
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
    if (bad < BN)
        return fail_state(net, bad, t, T);
    rp_status st = rp__check_bound(net, net->state, B, T > 1 ? t : SIZE_MAX, net->err);
    if (st != RP_OK)
        return st;
    if (y) {
        const size_t n_out = net->cfg.n_out, BO = B * n_out;
        rp__readout(net, B, net->cfg.form == RP_FORM_VOLTAGE ? net->fx : net->state, y, net->pad);
        /* a finite state can still overflow V a + c */
        bad = rp__find_nonfinite(y, BO);
        if (bad < BO)
            return fail_output(net, bad, t);
    }
    return RP_OK;
}

/* rp_net_run of a single-precision net (inputs checked): the live state
   goes to float once, T steps run on the float kernels (the same steps as
   step_unchecked), and the result comes back once.  The double state is
   written only on success, so a failure restores the generator alone. */
static rp_status run_single(rp_net *net, size_t T, const double *x, double *y)
{
    const size_t N = net->cfg.n_rec, B = net->cfg.batch, BN = B * N;
    const size_t bx = B * net->cfg.n_in, by = B * net->cfg.n_out;
    const int voltage = net->cfg.form == RP_FORM_VOLTAGE;
    const rp_rng saved = net->rng;
    rp__to_f(net->state, net->st_f, BN);
    rp__to_f(net->fx, net->fx_f, BN);
    rp__to_f(net->u, net->u_f, BN);
    rp_status st = RP_OK;
    for (size_t t = 0; t < T && st == RP_OK; t++) {
        const float *xf = NULL;
        if (x && bx) {
            rp__to_f(x + t * bx, net->x_f, bx);
            xf = net->x_f;
        }
        rp__forward_f(net, B, xf, net->st_f, net->fx_f, net->u_f, net->pad_f);
        if (net->cfg.noise_std > 0.0) {
            for (size_t i = 0; i < BN; i++)
                net->st_f[i] += (float)(net->cfg.noise_std * rp__rng_normal(&net->rng));
            if (voltage)
                rp__act_f(net->cfg.act, net->st_f, net->fx_f, BN);
        }
        size_t bad = rp__find_nonfinite_f(net->st_f, BN);
        if (bad < BN) {
            st = fail_state(net, bad, t, T);
            break;
        }
        st = rp__check_bound_f(net, net->st_f, B, T > 1 ? t : SIZE_MAX, net->err);
        if (st == RP_OK && y) {
            rp__readout_f(net, B, voltage ? net->fx_f : net->st_f, net->y_f, net->pad_f);
            rp__from_f(net->y_f, y + t * by, by);
            bad = rp__find_nonfinite(y + t * by, by);
            if (bad < by)
                st = fail_output(net, bad, t);
        }
    }
    if (st != RP_OK) {
        net->rng = saved;
        return st;
    }
    rp__from_f(net->st_f, net->state, BN);
    rp__from_f(net->fx_f, net->fx, BN);
    rp__from_f(net->u_f, net->u, BN);
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
    if (net->st_f) {
        rp_status st = run_single(net, T, x, y);
        if (st != RP_OK)
            return st;
    } else {
        rp_rng saved;
        save_state(net, &saved);
        for (size_t t = 0; t < T; t++) {
            rp_status st = step_unchecked(net, x ? x + t * bx : NULL, y ? y + t * by : NULL, t, T);
            if (st != RP_OK) {
                restore_state(net, &saved);
                return st;
            }
        }
    }
    net->serial += T;
    if (T > 0 && bx > 0)
        memcpy(net->last_x, x + (T - 1) * bx, bx * sizeof(double));
    return RP_OK;
}
