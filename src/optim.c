/* rp_optim: SGD with momentum and Adam over the flat parameter vector
   net->theta (MODEL.md §5), with global gradient-norm clipping, decoupled
   weight decay, trainable flags and structural constraints.

   Parameters and gradients share one layout (rp_layout), so a step is a few
   element-wise passes over each trainable block.  A step is computed into
   workspaces (new moments, new parameters) and committed only when every new
   value is finite: a refused step changes neither the net nor the optimizer. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-entry structural constraint (rp_optim_set_structure). */
enum { CON_FREE = 0, CON_ZERO = 1, CON_NONNEG = 2, CON_NONPOS = 3 };

struct rp_optim {
    rp_optim_kind kind;
    size_t n_in, n_rec, n_out;
    rp_layout lay;
    double lr, momentum, beta1, beta2, eps, clip, decay;
    int trainable[RP_PARAM_COUNT];
    int has_structure[RP_PARAM_COUNT];
    unsigned long long t; /* steps committed (Adam's bias correction) */
    unsigned char *con;   /* lay.total constraint codes */
    double *m, *v;        /* momentum buffer (SGD) / first moment (Adam); second moment (Adam) */
    double *m_new, *v_new, *theta_new; /* a step's results before they are committed */
    char err[RP_ERRLEN];
    rp_allocator al; /* the net's */
};

rp_status rp_optim_create(rp_optim **out, const rp_net *net, rp_optim_kind kind, char *msg,
                          size_t msglen)
{
    rp__copy_msg(msg, msglen, "");
    if (out)
        *out = NULL;
    if (!out || !net)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "%s is NULL", out ? "net" : "out");
    if (kind != RP_OPTIM_SGD && kind != RP_OPTIM_ADAM)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "kind %d is not an rp_optim_kind",
                            (int)kind);
    rp_optim *o = rp__calloc(&net->al, 1, sizeof *o);
    if (!o)
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM, "out of memory for the optimizer");
    o->al = net->al;
    o->kind = kind;
    o->n_in = net->cfg.n_in;
    o->n_rec = net->cfg.n_rec;
    o->n_out = net->cfg.n_out;
    o->lay = net->lay;
    o->lr = 1e-3;
    o->momentum = 0.0;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    for (int p = 0; p < RP_PARAM_COUNT; p++)
        o->trainable[p] = 1;
    const size_t n = o->lay.total;
    o->con = rp__calloc(&o->al, n, 1);
    o->m = rp__calloc(&o->al, n, sizeof(double));
    o->v = rp__calloc(&o->al, n, sizeof(double));
    o->m_new = rp__calloc(&o->al, n, sizeof(double));
    o->v_new = rp__calloc(&o->al, n, sizeof(double));
    o->theta_new = rp__calloc(&o->al, n, sizeof(double));
    if (!o->con || !o->m || !o->v || !o->m_new || !o->v_new || !o->theta_new) {
        rp_optim_free(o);
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM,
                            "out of memory for the optimizer's "
                            "moments (%zu parameters)",
                            n);
    }
    *out = o;
    return RP_OK;
}

void rp_optim_free(rp_optim *opt)
{
    if (!opt)
        return;
    rp__free(&opt->al, opt->con);
    rp__free(&opt->al, opt->m);
    rp__free(&opt->al, opt->v);
    rp__free(&opt->al, opt->m_new);
    rp__free(&opt->al, opt->v_new);
    rp__free(&opt->al, opt->theta_new);
    rp__free(&opt->al, opt);
}

const char *rp_optim_last_error(const rp_optim *opt) { return opt ? opt->err : "opt is NULL"; }

rp_status rp_optim_set_lr(rp_optim *opt, double lr)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    if (!(isfinite(lr) && lr > 0.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "lr is %g, expected a finite value > 0", lr);
    opt->lr = lr;
    return RP_OK;
}

rp_status rp_optim_set_momentum(rp_optim *opt, double momentum)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    if (!(momentum >= 0.0 && momentum < 1.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "momentum is %g, expected a value in [0, 1)",
                        momentum);
    opt->momentum = momentum;
    return RP_OK;
}

rp_status rp_optim_set_betas(rp_optim *opt, double beta1, double beta2, double eps)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    if (!(beta1 >= 0.0 && beta1 < 1.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "beta1 is %g, expected a value in [0, 1)",
                        beta1);
    if (!(beta2 >= 0.0 && beta2 < 1.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "beta2 is %g, expected a value in [0, 1)",
                        beta2);
    if (!(isfinite(eps) && eps > 0.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "eps is %g, expected a finite value > 0",
                        eps);
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    return RP_OK;
}

rp_status rp_optim_set_clip(rp_optim *opt, double max_norm)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    if (!(isfinite(max_norm) && max_norm >= 0.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG,
                        "max_norm is %g, expected a finite value > 0 (or 0: no clipping)",
                        max_norm);
    opt->clip = max_norm;
    return RP_OK;
}

rp_status rp_optim_set_weight_decay(rp_optim *opt, double decay)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    if (!(isfinite(decay) && decay >= 0.0))
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "decay is %g, expected a finite value >= 0",
                        decay);
    opt->decay = decay;
    return RP_OK;
}

static rp_status check_which(rp_optim *opt, rp_param which)
{
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(opt->err, RP_ERR_INVALID_ARG,
                        "which is %d, expected RP_PARAM_W..RP_PARAM_C", (int)which);
    return RP_OK;
}

rp_status rp_optim_set_trainable(rp_optim *opt, rp_param which, int on)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_which(opt, which);
    if (st != RP_OK)
        return st;
    opt->trainable[which] = on != 0;
    return RP_OK;
}

static rp_status check_net(rp_optim *opt, const rp_net *net)
{
    if (!net)
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "net is NULL");
    const rp_net_config *c = &net->cfg;
    if (c->n_in != opt->n_in || c->n_rec != opt->n_rec || c->n_out != opt->n_out)
        return rp__fail(opt->err, RP_ERR_DIM_MISMATCH,
                        "net has (n_in %zu, n_rec %zu, n_out %zu), the optimizer was built for "
                        "(%zu, %zu, %zu)",
                        c->n_in, c->n_rec, c->n_out, opt->n_in, opt->n_rec, opt->n_out);
    return RP_OK;
}

rp_status rp_optim_set_structure(rp_optim *opt, const rp_net *net, rp_param which, int keep_zeros,
                                 int keep_signs)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_which(opt, which);
    if (st == RP_OK)
        st = check_net(opt, net);
    if (st != RP_OK)
        return st;
    const size_t off = opt->lay.off[which], len = opt->lay.len[which];
    const double *th = net->theta + off;
    unsigned char *con = opt->con + off;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = CON_FREE;
        if (th[i] == 0.0)
            c = keep_zeros ? CON_ZERO : CON_FREE; /* a zero has no sign to keep */
        else if (keep_signs)
            c = th[i] > 0.0 ? CON_NONNEG : CON_NONPOS;
        con[i] = c;
    }
    opt->has_structure[which] = keep_zeros || keep_signs;
    return RP_OK;
}

rp_status rp_optim_get_kind(const rp_optim *opt, rp_optim_kind *kind)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    if (!kind)
        return rp__fail(((rp_optim *)opt)->err, RP_ERR_INVALID_ARG, "kind is NULL");
    *kind = opt->kind;
    return RP_OK;
}

rp_status rp_optim_reset(rp_optim *opt)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    memset(opt->m, 0, opt->lay.total * sizeof(double));
    memset(opt->v, 0, opt->lay.total * sizeof(double));
    opt->t = 0;
    return RP_OK;
}

/* Weight decay acts on the weight matrices only, never on the biases. */
static int decays(rp_param p) { return p == RP_PARAM_W || p == RP_PARAM_U || p == RP_PARAM_V; }

/* The gradient entry the step uses: entries pinned at zero take no gradient,
   so they neither count in the clipping norm nor build up moments. */
static inline double eff_grad(const unsigned char *con, const double *g, size_t i)
{
    return con[i] == CON_ZERO ? 0.0 : g[i];
}

static inline double project(unsigned char c, double x)
{
    switch (c) {
    case CON_ZERO:
        return 0.0;
    case CON_NONNEG:
        return x > 0.0 ? x : 0.0;
    case CON_NONPOS:
        return x < 0.0 ? x : 0.0;
    default:
        return x;
    }
}

rp_status rp_optim_step(rp_optim *opt, rp_net *net, const rp_grad *grad)
{
    RP__CLEAR_ERR(opt);
    if (!opt)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_net(opt, net);
    if (st != RP_OK)
        return st;
    if (!grad)
        return rp__fail(opt->err, RP_ERR_INVALID_ARG, "grad is NULL");
    if (grad->n_in != opt->n_in || grad->n_rec != opt->n_rec || grad->n_out != opt->n_out)
        return rp__fail(opt->err, RP_ERR_DIM_MISMATCH,
                        "grad has (n_in %zu, n_rec %zu, n_out %zu), the optimizer was built for "
                        "(%zu, %zu, %zu)",
                        grad->n_in, grad->n_rec, grad->n_out, opt->n_in, opt->n_rec, opt->n_out);

    /* Pass 1: finiteness of the gradient that is used, and its global norm
       over the trainable entries (scaled sum of squares, as dnrm2 does, so
       large gradients do not overflow). */
    double scale = 0.0, ssq = 1.0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        if (!opt->trainable[p])
            continue;
        const size_t off = opt->lay.off[p], len = opt->lay.len[p];
        const double *g = grad->v + off;
        const unsigned char *con = opt->con + off;
        for (size_t i = 0; i < len; i++) {
            if (!isfinite(g[i]))
                return rp__fail(opt->err, RP_ERR_NONFINITE,
                                "grad of %s[%zu] is %g; nothing was changed", rp__param_name(p), i,
                                g[i]);
            double a = fabs(eff_grad(con, g, i));
            if (a == 0.0)
                continue;
            if (scale < a) {
                ssq = 1.0 + ssq * (scale / a) * (scale / a);
                scale = a;
            } else {
                ssq += (a / scale) * (a / scale);
            }
        }
    }
    const double norm = scale * sqrt(ssq);
    const double gs = (opt->clip > 0.0 && norm > opt->clip) ? opt->clip / norm : 1.0;

    /* Pass 2: new moments and parameters into the workspaces (MODEL.md §5).
       Decoupled decay (AdamW): theta -= lr * (decay * theta + update). */
    const double lr = opt->lr, mu = opt->momentum, b1 = opt->beta1, b2 = opt->beta2;
    const double tn = (double)(opt->t + 1);
    const double c1 = 1.0 - pow(b1, tn), c2 = 1.0 - pow(b2, tn); /* bias corrections */
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        if (!opt->trainable[p])
            continue;
        const size_t off = opt->lay.off[p], len = opt->lay.len[p];
        const double *g = grad->v + off, *th = net->theta + off, *m = opt->m + off,
                     *v = opt->v + off;
        const unsigned char *con = opt->con + off;
        double *mn = opt->m_new + off, *vn = opt->v_new + off, *tw = opt->theta_new + off;
        const double wd = decays((rp_param)p) ? opt->decay : 0.0;
        if (opt->kind == RP_OPTIM_SGD) {
            for (size_t i = 0; i < len; i++) {
                double gi = gs * eff_grad(con, g, i);
                double buf = mu * m[i] + gi;
                mn[i] = buf;
                tw[i] = th[i] - lr * (wd * th[i] + buf);
            }
        } else {
            for (size_t i = 0; i < len; i++) {
                double gi = gs * eff_grad(con, g, i);
                double m1 = b1 * m[i] + (1.0 - b1) * gi;
                double v1 = b2 * v[i] + (1.0 - b2) * gi * gi;
                mn[i] = m1;
                vn[i] = v1;
                tw[i] = th[i] - lr * (wd * th[i] + (m1 / c1) / (sqrt(v1 / c2) + opt->eps));
            }
        }
        if (opt->has_structure[p])
            for (size_t i = 0; i < len; i++)
                tw[i] = project(con[i], tw[i]);
    }

    /* Pass 3: refuse a step with any non-finite result before touching anything. */
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        if (!opt->trainable[p])
            continue;
        const size_t off = opt->lay.off[p], len = opt->lay.len[p];
        size_t bad = rp__find_nonfinite(opt->theta_new + off, len);
        if (bad < len)
            return rp__fail(opt->err, RP_ERR_NONFINITE,
                            "the step would make %s[%zu] %g; nothing was changed",
                            rp__param_name(p), bad, opt->theta_new[off + bad]);
        bad = rp__find_nonfinite(opt->m_new + off, len);
        if (bad == len && opt->kind == RP_OPTIM_ADAM)
            bad = rp__find_nonfinite(opt->v_new + off, len);
        if (bad < len)
            return rp__fail(opt->err, RP_ERR_NONFINITE,
                            "the optimizer state of %s[%zu] would overflow; nothing was changed",
                            rp__param_name(p), bad);
    }

    /* Commit. */
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        if (!opt->trainable[p])
            continue;
        const size_t off = opt->lay.off[p], len = opt->lay.len[p];
        if (!len)
            continue;
        memcpy(net->theta + off, opt->theta_new + off, len * sizeof(double));
        memcpy(opt->m + off, opt->m_new + off, len * sizeof(double));
        if (opt->kind == RP_OPTIM_ADAM)
            memcpy(opt->v + off, opt->v_new + off, len * sizeof(double));
    }
    rp__param_changed(net);
    opt->t++;
    return RP_OK;
}

/* ---- checkpoints (checkpoint.c) --------------------------------------- */

void rp__optim_get_state(const rp_optim *opt, rp__optim_state *s)
{
    s->kind = opt->kind;
    s->n_in = opt->n_in;
    s->n_rec = opt->n_rec;
    s->n_out = opt->n_out;
    s->lr = opt->lr;
    s->momentum = opt->momentum;
    s->beta1 = opt->beta1;
    s->beta2 = opt->beta2;
    s->eps = opt->eps;
    s->clip = opt->clip;
    s->decay = opt->decay;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        s->trainable[p] = opt->trainable[p];
        s->has_structure[p] = opt->has_structure[p];
    }
    s->t = (uint64_t)opt->t;
    s->con = opt->con;
    s->m = opt->m;
    s->v = opt->v;
}

/* The ranges are the setters' own, checked by running them on a scratch
   optimizer, so a checkpoint accepts exactly what the public calls accept. */
rp_status rp__optim_check_scalars(const rp__optim_state *s, char *err)
{
    if (s->kind != RP_OPTIM_SGD && s->kind != RP_OPTIM_ADAM)
        return rp__fail(err, RP_ERR_FORMAT, "kind is %d, expected 0 (SGD) or 1 (Adam)",
                        (int)s->kind);
    rp_optim d;
    memset(&d, 0, sizeof d);
    rp_status st = rp_optim_set_lr(&d, s->lr);
    if (st == RP_OK)
        st = rp_optim_set_momentum(&d, s->momentum);
    if (st == RP_OK)
        st = rp_optim_set_betas(&d, s->beta1, s->beta2, s->eps);
    if (st == RP_OK)
        st = rp_optim_set_clip(&d, s->clip);
    if (st == RP_OK)
        st = rp_optim_set_weight_decay(&d, s->decay);
    if (st != RP_OK)
        return rp__fail(err, RP_ERR_FORMAT, "%s", d.err);
    for (int p = 0; p < RP_PARAM_COUNT; p++)
        if ((s->trainable[p] != 0 && s->trainable[p] != 1) ||
            (s->has_structure[p] != 0 && s->has_structure[p] != 1))
            return rp__fail(err, RP_ERR_FORMAT, "flags of %s are (%d, %d), expected 0 or 1",
                            rp__param_name(p), s->trainable[p], s->has_structure[p]);
    return RP_OK;
}

void rp__optim_set_scalars(rp_optim *opt, const rp__optim_state *s)
{
    opt->lr = s->lr;
    opt->momentum = s->momentum;
    opt->beta1 = s->beta1;
    opt->beta2 = s->beta2;
    opt->eps = s->eps;
    opt->clip = s->clip;
    opt->decay = s->decay;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        opt->trainable[p] = s->trainable[p];
        opt->has_structure[p] = s->has_structure[p];
    }
    opt->t = (unsigned long long)s->t;
}
