/* rnnplast_nrn.c: a learner (network + online rule + optimizer + gradient)
   for NEURON's MOD files, behind the name-safe interface of rnnplast_nrn.h.
   Compiled by build.sh outside NMODL, so rnnplast.h never meets NMODL's
   #defines.  One learner belongs to one mechanism instance and is only
   touched from that instance's thread; the adapter has no global state. */
#include "rnnplast_nrn.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rnnplast.h>

/* The settings, by name; index = position.  The structural ones (the net's
   shape and everything drawn from a seed) force a rebuild at rpn_init(). */
enum {
    S_N_IN,
    S_N_REC,
    S_N_OUT,
    S_TAU,
    S_DT_R,
    S_TAU_IN,
    S_GAIN,
    S_SEED,
    S_RULE,
    S_OPTIM,
    S_LR,
    S_EVERY,
    S_ACT,
    S_LEARNING,
    S_COUNT
};
static const struct {
    const char *name;
    double dflt;
    int integral;   /* a non-negative integer */
    int structural; /* a change rebuilds the handles (new random weights) */
} SETTINGS[S_COUNT] = {
    [S_N_IN] = {"n_in", 1, 1, 1},
    [S_N_REC] = {"n_rec", 64, 1, 1},
    [S_N_OUT] = {"n_out", 1, 1, 1},
    [S_TAU] = {"tau", 10.0, 0, 0},
    [S_DT_R] = {"dt_r", 1.0, 0, 0},
    [S_TAU_IN] = {"tau_in", 10.0, 0, 0},
    [S_GAIN] = {"gain", 1.2, 0, 1},
    [S_SEED] = {"seed", 1, 1, 1},
    [S_RULE] = {"rule", RP_RULE_EPROP, 1, 1},
    [S_OPTIM] = {"optim", RP_OPTIM_ADAM, 1, 1},
    [S_LR] = {"lr", 1e-3, 0, 0},
    [S_EVERY] = {"every", 10, 1, 0},
    [S_ACT] = {"act", RP_ACT_TANH, 1, 1},
    [S_LEARNING] = {"learning", 1, 1, 0},
};

struct rpn_learner {
    double set[S_COUNT];   /* as the MOD file set them */
    double built[S_COUNT]; /* the settings the handles were built with */
    rp_net *net;
    rp_rule *rule;
    rp_optim *opt;
    rp_grad *g;
    size_t n_in, n_out;
    double *trace; /* n_in input traces */
    double *xin;   /* n_in: this tick's input */
    double *y;     /* n_out: the last tick's output */
    double decay;  /* exp(-dt_r/tau_in) */
    double ticks, since_update, loss_sum;
    int streaming; /* between rp_rule_begin and rp_rule_end */
    char msg[512];
};

/* The user bytes of a checkpoint: this many doubles, then the traces, the
   outputs and the accumulated gradient (W, U, b, V, c). */
enum { U_MAGIC, U_TICKS, U_SINCE, U_LOSS, U_STREAMING, U_SET, U_HEAD = U_SET + S_COUNT };
#define RPN_MAGIC 20261129.0 /* identifies the adapter's layout, version 1 */

static int fail(rpn_learner *h, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
    return status;
}

/* A library failure: what the adapter was doing, then the library's own message. */
static int lib_fail(rpn_learner *h, rp_status st, const char *doing, const char *libmsg)
{
    return fail(h, (int)st, "%s: %s (%s)", doing, libmsg && *libmsg ? libmsg : "",
                rp_status_string(st));
}

rpn_learner *rpn_new(void)
{
    rpn_learner *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    for (int i = 0; i < S_COUNT; i++)
        h->set[i] = SETTINGS[i].dflt;
    return h;
}

static void drop_handles(rpn_learner *h)
{
    rp_grad_free(h->g);
    rp_optim_free(h->opt);
    rp_rule_free(h->rule);
    rp_net_free(h->net);
    free(h->trace);
    free(h->xin);
    free(h->y);
    h->g = NULL, h->opt = NULL, h->rule = NULL, h->net = NULL;
    h->trace = h->xin = h->y = NULL;
    h->streaming = 0;
}

void rpn_free(rpn_learner *h)
{
    if (!h)
        return;
    drop_handles(h);
    free(h);
}

const char *rpn_error(const rpn_learner *h) { return h ? h->msg : "no learner"; }

int rpn_set(rpn_learner *h, const char *name, double value)
{
    for (int i = 0; i < S_COUNT; i++) {
        if (strcmp(name, SETTINGS[i].name) != 0)
            continue;
        if (!isfinite(value))
            return fail(h, RP_ERR_NONFINITE, "setting %s is %g, expected a finite number", name,
                        value);
        if (SETTINGS[i].integral && (value < 0 || value != floor(value) || value > 1e15))
            return fail(h, RP_ERR_INVALID_ARG, "setting %s is %g, expected an integer >= 0", name,
                        value);
        h->set[i] = value;
        return 0;
    }
    return fail(h, RP_ERR_INVALID_ARG, "no setting named '%s'", name);
}

/* Allocate the handles and arrays of the settings h->set into the fresh
   (zeroed) fields of *n; the library checks every value and names it. */
static int build(rpn_learner *h, rpn_learner *n)
{
    char m[256] = "";
    rp_status st;
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = (size_t)h->set[S_N_IN];
    cfg.n_rec = (size_t)h->set[S_N_REC];
    cfg.n_out = (size_t)h->set[S_N_OUT];
    cfg.batch = 1;
    cfg.act = (rp_activation)h->set[S_ACT];
    if (cfg.n_in > RPN_MAX_IO || cfg.n_out > RPN_MAX_IO)
        return fail(h, RP_ERR_INVALID_ARG, "n_in is %zu and n_out %zu, expected at most %d each",
                    cfg.n_in, cfg.n_out, RPN_MAX_IO);
    if ((st = rp_net_create(&n->net, &cfg, m, sizeof m)) != RP_OK)
        return lib_fail(h, st, "creating the network", m);
    rp_init *init = NULL;
    if ((st = rp_init_create(&init, RP_INIT_GAUSSIAN, m, sizeof m)) != RP_OK)
        return lib_fail(h, st, "creating the initializer", m);
    /* W ~ N(0, gain^2/N), U ~ N(0, 1/n_in), V = 0, as examples/04_online_embed.c */
    uint64_t seed = (uint64_t)h->set[S_SEED];
    if ((st = rp_init_set_gain(init, h->set[S_GAIN])) != RP_OK ||
        (st = rp_init_apply(init, n->net, RP_PARAM_W, seed)) != RP_OK ||
        (st = rp_init_set_gain(init, 1.0)) != RP_OK ||
        (st = rp_init_apply(init, n->net, RP_PARAM_U, seed + 1)) != RP_OK) {
        int rc = lib_fail(h, st, "drawing the weights", rp_init_last_error(init));
        rp_init_free(init);
        return rc;
    }
    rp_init_free(init);
    if ((st = rp_rule_create(&n->rule, n->net, (rp_rule_kind)h->set[S_RULE], m, sizeof m)) != RP_OK)
        return lib_fail(h, st, "creating the rule", m);
    if ((st = rp_optim_create(&n->opt, n->net, (rp_optim_kind)h->set[S_OPTIM], m, sizeof m)) !=
        RP_OK)
        return lib_fail(h, st, "creating the optimizer", m);
    if ((st = rp_grad_create(&n->g, n->net, m, sizeof m)) != RP_OK)
        return lib_fail(h, st, "creating the gradient", m);
    n->n_in = cfg.n_in;
    n->n_out = cfg.n_out;
    n->trace = calloc(cfg.n_in + 1, sizeof(double));
    n->xin = calloc(cfg.n_in + 1, sizeof(double));
    n->y = calloc(cfg.n_out, sizeof(double));
    if (!n->trace || !n->xin || !n->y)
        return fail(h, RP_ERR_NOMEM, "out of memory for %zu inputs", cfg.n_in);
    return 0;
}

/* Move the handles of n into h (freeing h's). */
static void adopt(rpn_learner *h, rpn_learner *n)
{
    drop_handles(h);
    h->net = n->net, h->rule = n->rule, h->opt = n->opt, h->g = n->g;
    h->trace = n->trace, h->xin = n->xin, h->y = n->y;
    h->n_in = n->n_in, h->n_out = n->n_out;
}

/* The per-run settings: alpha, lr, traces' decay. */
static int apply_run_settings(rpn_learner *h)
{
    double dt_r = h->set[S_DT_R], tau = h->set[S_TAU], tau_in = h->set[S_TAU_IN];
    if (!(dt_r > 0))
        return fail(h, RP_ERR_INVALID_ARG, "dt_r is %g ms, expected > 0", dt_r);
    if (!(tau_in >= 0))
        return fail(h, RP_ERR_INVALID_ARG, "tau_in is %g ms, expected >= 0 (0: no memory)", tau_in);
    if (h->set[S_EVERY] < 1)
        return fail(h, RP_ERR_INVALID_ARG, "every is %g, expected >= 1 tick", h->set[S_EVERY]);
    rp_status st;
    /* The library has no time: its leak is alpha = 1 - dt/tau (MODEL.md §1). */
    double alpha = 1.0 - dt_r / tau;
    if ((st = rp_net_set_alpha(h->net, alpha)) != RP_OK) {
        char doing[128];
        snprintf(doing, sizeof doing, "alpha = 1 - dt_r/tau with dt_r = %g ms, tau = %g ms", dt_r,
                 tau);
        return lib_fail(h, st, doing, rp_net_last_error(h->net));
    }
    if ((st = rp_optim_set_lr(h->opt, h->set[S_LR])) != RP_OK)
        return lib_fail(h, st, "setting lr", rp_optim_last_error(h->opt));
    h->decay = tau_in > 0 ? exp(-dt_r / tau_in) : 0.0;
    return 0;
}

int rpn_init(rpn_learner *h)
{
    int rebuild = !h->net;
    for (int i = 0; i < S_COUNT; i++)
        rebuild |= SETTINGS[i].structural && h->set[i] != h->built[i];
    if (rebuild) {
        rpn_learner n = {0};
        int rc = build(h, &n);
        if (rc) {
            drop_handles(&n);
            return rc;
        }
        adopt(h, &n);
        memcpy(h->built, h->set, sizeof h->built);
    }
    int rc = apply_run_settings(h);
    if (rc)
        return rc;
    for (int i = 0; i < S_COUNT; i++)
        if (!SETTINGS[i].structural)
            h->built[i] = h->set[i];
    rp_status st;
    if (h->streaming) {
        if ((st = rp_rule_end(h->rule, NULL)) != RP_OK)
            return lib_fail(h, st, "ending the stream", rp_rule_last_error(h->rule));
        h->streaming = 0;
    }
    if ((st = rp_net_reset(h->net)) != RP_OK)
        return lib_fail(h, st, "resetting the state", rp_net_last_error(h->net));
    if ((st = rp_grad_zero(h->g)) != RP_OK)
        return lib_fail(h, st, "clearing the gradient", rp_grad_last_error(h->g));
    memset(h->trace, 0, h->n_in * sizeof(double));
    memset(h->y, 0, h->n_out * sizeof(double));
    h->ticks = h->since_update = h->loss_sum = 0;
    h->msg[0] = '\0';
    return 0;
}

static int need_net(rpn_learner *h, const char *doing)
{
    if (h->net)
        return 0;
    return fail(h, RP_ERR_STATE, "%s: no network yet (run finitialize first)", doing);
}

int rpn_input(rpn_learner *h, double channel, double weight)
{
    int rc = need_net(h, "input event");
    if (rc)
        return rc;
    if (!(channel >= 0 && channel < (double)h->n_in && channel == floor(channel)))
        return fail(h, RP_ERR_INVALID_ARG,
                    "input event on channel %g (the NetCon's weight[1]), expected 0..%zu", channel,
                    h->n_in - 1);
    if (!isfinite(weight))
        return fail(h, RP_ERR_NONFINITE, "input event on channel %g with weight %g", channel,
                    weight);
    h->trace[(size_t)channel] += weight;
    return 0;
}

int rpn_tick(rpn_learner *h, const double *cont, const double *tgt)
{
    int rc = need_net(h, "tick");
    if (rc)
        return rc;
    rp_status st;
    int learning = h->set[S_LEARNING] != 0;
    if (learning != h->streaming) {
        /* learning switched: a stream starts on the current state, before
           the step it follows (rp_rule_begin), or ends and drops the
           gradient accumulated since the last optimizer step */
        if (learning && (st = rp_rule_begin(h->rule, h->net)) != RP_OK)
            return lib_fail(h, st, "starting the online stream", rp_rule_last_error(h->rule));
        if (!learning &&
            ((st = rp_rule_end(h->rule, NULL)) != RP_OK || (st = rp_grad_zero(h->g)) != RP_OK))
            return lib_fail(h, st, "ending the online stream", rp_rule_last_error(h->rule));
        h->streaming = learning;
        h->since_update = 0;
    }
    for (size_t i = 0; i < h->n_in; i++)
        h->xin[i] = h->trace[i] + cont[i];
    if ((st = rp_net_step(h->net, h->xin, h->y)) != RP_OK)
        return lib_fail(h, st, "stepping the network", rp_net_last_error(h->net));
    double loss = 0.0;
    for (size_t k = 0; k < h->n_out; k++)
        loss += 0.5 * (h->y[k] - tgt[k]) * (h->y[k] - tgt[k]);
    if (h->streaming) {
        if ((st = rp_rule_step(h->rule, h->net, h->xin, tgt, NULL, h->g)) != RP_OK)
            return lib_fail(h, st, "the learning rule's step", rp_rule_last_error(h->rule));
        if (++h->since_update >= h->set[S_EVERY]) {
            if ((st = rp_optim_step(h->opt, h->net, h->g)) != RP_OK)
                return lib_fail(h, st, "the optimizer's step", rp_optim_last_error(h->opt));
            if ((st = rp_grad_zero(h->g)) != RP_OK)
                return lib_fail(h, st, "clearing the gradient", rp_grad_last_error(h->g));
            h->since_update = 0;
        }
    }
    h->loss_sum += loss;
    h->ticks += 1;
    for (size_t i = 0; i < h->n_in; i++)
        h->trace[i] *= h->decay;
    return 0;
}

double rpn_output(const rpn_learner *h, double k)
{
    if (!h || !h->y || !(k >= 0 && k < (double)h->n_out))
        return 0.0;
    return h->y[(size_t)k];
}

double rpn_mean_loss(const rpn_learner *h)
{
    return h && h->ticks > 0 ? h->loss_sum / h->ticks : 0;
}

double rpn_ticks(const rpn_learner *h) { return h ? h->ticks : 0; }

static size_t param_count(const rp_net *net)
{
    size_t total = 0, len;
    for (int p = 0; p < RP_PARAM_COUNT; p++)
        if (rp_net_get_param_len(net, (rp_param)p, &len) == RP_OK)
            total += len;
    return total;
}

/* Copy the gradient into (dir > 0) or out of (dir < 0) buf. */
static rp_status grad_io(rp_grad *g, const rp_net *net, double *buf, int dir)
{
    size_t off = 0, len;
    rp_status st = RP_OK;
    for (int p = 0; p < RP_PARAM_COUNT && st == RP_OK; p++) {
        if ((st = rp_net_get_param_len(net, (rp_param)p, &len)) != RP_OK)
            break;
        st = dir > 0 ? rp_grad_get(g, (rp_param)p, buf + off, len)
                     : rp_grad_set(g, (rp_param)p, buf + off, len);
        off += len;
    }
    return st;
}

int rpn_save(rpn_learner *h, const char *path)
{
    int rc = need_net(h, "save");
    if (rc)
        return rc;
    size_t n = U_HEAD + h->n_in + h->n_out + param_count(h->net);
    double *u = calloc(n, sizeof(double));
    if (!u)
        return fail(h, RP_ERR_NOMEM, "save: out of memory for %zu doubles", n);
    u[U_MAGIC] = RPN_MAGIC;
    u[U_TICKS] = h->ticks;
    u[U_SINCE] = h->since_update;
    u[U_LOSS] = h->loss_sum;
    u[U_STREAMING] = h->streaming;
    memcpy(u + U_SET, h->built, sizeof h->built);
    memcpy(u + U_HEAD, h->trace, h->n_in * sizeof(double));
    memcpy(u + U_HEAD + h->n_in, h->y, h->n_out * sizeof(double));
    rp_status st = grad_io(h->g, h->net, u + U_HEAD + h->n_in + h->n_out, 1);
    char m[256] = "";
    if (st == RP_OK)
        st = rp_checkpoint_save(h->net, h->opt, h->rule, path, (uint64_t)h->ticks, u,
                                n * sizeof(double), m, sizeof m);
    else
        snprintf(m, sizeof m, "%s", rp_grad_last_error(h->g));
    free(u);
    if (st != RP_OK) {
        char doing[300];
        snprintf(doing, sizeof doing, "saving to '%s'", path);
        return lib_fail(h, st, doing, m);
    }
    return 0;
}

int rpn_restore(rpn_learner *h, const char *path)
{
    char doing[300], m[256] = "";
    snprintf(doing, sizeof doing, "restoring from '%s'", path);
    rpn_learner n = {0};
    double *u = NULL;
    size_t len = 0;
    rp_status st =
        rp_checkpoint_load(&n.net, &n.opt, &n.rule, path, NULL, NULL, 0, &len, m, sizeof m);
    if (st != RP_OK)
        return lib_fail(h, st, doing, m);
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    int rc = 0;
    if ((st = rp_net_get_config(n.net, &cfg, sizeof cfg)) != RP_OK) {
        rc = lib_fail(h, st, doing, rp_net_last_error(n.net));
        goto out;
    }
    if (cfg.n_in > RPN_MAX_IO || cfg.n_out > RPN_MAX_IO) {
        rc = fail(h, RP_ERR_FORMAT, "%s: n_in %zu, n_out %zu, expected at most %d each", doing,
                  cfg.n_in, cfg.n_out, RPN_MAX_IO);
        goto out;
    }
    size_t want = (U_HEAD + cfg.n_in + cfg.n_out + param_count(n.net)) * sizeof(double);
    if (len != want) {
        rc = fail(h, RP_ERR_FORMAT,
                  "%s: %zu bytes of adapter data, expected %zu (not a file "
                  "of RnnLearner.save?)",
                  doing, len, want);
        goto out;
    }
    /* the user bytes, read again now that their size is known */
    u = malloc(len);
    rp_net_free(n.net), rp_optim_free(n.opt), rp_rule_free(n.rule);
    n.net = NULL, n.opt = NULL, n.rule = NULL;
    if (!u) {
        rc = fail(h, RP_ERR_NOMEM, "%s: out of memory", doing);
        goto out;
    }
    if ((st = rp_checkpoint_load(&n.net, &n.opt, &n.rule, path, NULL, u, len, NULL, m, sizeof m)) !=
        RP_OK) {
        rc = lib_fail(h, st, doing, m);
        goto out;
    }
    if (u[U_MAGIC] != RPN_MAGIC) {
        rc = fail(h, RP_ERR_FORMAT, "%s: not a file of RnnLearner.save", doing);
        goto out;
    }
    if ((st = rp_grad_create(&n.g, n.net, m, sizeof m)) != RP_OK) {
        rc = lib_fail(h, st, doing, m);
        goto out;
    }
    if ((st = grad_io(n.g, n.net, u + U_HEAD + cfg.n_in + cfg.n_out, -1)) != RP_OK) {
        rc = lib_fail(h, st, doing, rp_grad_last_error(n.g));
        goto out;
    }
    n.n_in = cfg.n_in, n.n_out = cfg.n_out;
    n.trace = calloc(cfg.n_in + 1, sizeof(double));
    n.xin = calloc(cfg.n_in + 1, sizeof(double));
    n.y = calloc(cfg.n_out, sizeof(double));
    if (!n.trace || !n.xin || !n.y) {
        rc = fail(h, RP_ERR_NOMEM, "%s: out of memory", doing);
        goto out;
    }
    memcpy(n.trace, u + U_HEAD, cfg.n_in * sizeof(double));
    memcpy(n.y, u + U_HEAD + cfg.n_in, cfg.n_out * sizeof(double));
    adopt(h, &n);
    memset(&n, 0, sizeof n);
    /* The file's settings are the ones the handles were built with; the
       mechanism's current ones (h->set) stay as the user set them, and a
       later finitialize rebuilds if they differ structurally. */
    memcpy(h->built, u + U_SET, sizeof h->built);
    h->ticks = u[U_TICKS];
    h->since_update = u[U_SINCE];
    h->loss_sum = u[U_LOSS];
    h->streaming = u[U_STREAMING] != 0;
    double tau_in = h->built[S_TAU_IN];
    h->decay = tau_in > 0 ? exp(-h->built[S_DT_R] / tau_in) : 0.0;
    h->msg[0] = '\0';
out:
    drop_handles(&n);
    free(u);
    return rc;
}
