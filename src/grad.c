/* rp_grad: one vector with a block per parameter, in the layout of rp_net.theta. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

rp_status rp_grad_create(rp_grad **out, const rp_net *net, char *msg, size_t msglen)
{
    rp__copy_msg(msg, msglen, "");
    if (out)
        *out = NULL;
    if (!out || !net)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "%s is NULL", out ? "net" : "out");
    rp_grad *g = rp__calloc(&net->al, 1, sizeof *g);
    if (!g)
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM, "out of memory for the gradient");
    g->al = net->al;
    g->n_in = net->cfg.n_in;
    g->n_rec = net->cfg.n_rec;
    g->n_out = net->cfg.n_out;
    g->lay = net->lay;
    g->v = rp__calloc(&g->al, g->lay.total, sizeof(double));
    if (!g->v) {
        rp__free(&g->al, g);
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM,
                            "out of memory for the gradient's %zu doubles", net->lay.total);
    }
    *out = g;
    return RP_OK;
}

void rp_grad_free(rp_grad *g)
{
    if (!g)
        return;
    rp__free(&g->al, g->v);
    rp__free(&g->al, g);
}

const char *rp_grad_last_error(const rp_grad *g) { return g ? g->err : "g is NULL"; }

int rp__grad_matches(const rp_grad *g, const rp_net *net)
{
    return g->n_in == net->cfg.n_in && g->n_rec == net->cfg.n_rec && g->n_out == net->cfg.n_out;
}

rp_status rp_grad_zero(rp_grad *g)
{
    RP__CLEAR_ERR(g);
    if (!g)
        return RP_ERR_INVALID_ARG;
    memset(g->v, 0, g->lay.total * sizeof(double));
    return RP_OK;
}

static rp_status check_block(const rp_grad *g, rp_param which, const void *buf, size_t len,
                             const char *name)
{
    char *err = (char *)g->err; /* the message is not part of the gradient's value */
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(err, RP_ERR_INVALID_ARG, "which is %d, expected RP_PARAM_W..RP_PARAM_C",
                        (int)which);
    if (!buf && len)
        return rp__fail(err, RP_ERR_INVALID_ARG, "%s is NULL", name);
    if (len != g->lay.len[which])
        return rp__fail(err, RP_ERR_DIM_MISMATCH, "%s has %zu doubles, expected %zu", name, len,
                        g->lay.len[which]);
    return RP_OK;
}

rp_status rp_grad_get(const rp_grad *g, rp_param which, double *dst, size_t len)
{
    RP__CLEAR_ERR(g);
    if (!g)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_block(g, which, dst, len, "dst");
    if (st == RP_OK && len)
        memcpy(dst, g->v + g->lay.off[which], len * sizeof(double));
    return st;
}

rp_status rp_grad_set(rp_grad *g, rp_param which, const double *src, size_t len)
{
    RP__CLEAR_ERR(g);
    if (!g)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_block(g, which, src, len, "src");
    if (st != RP_OK)
        return st;
    size_t bad = rp__find_nonfinite(src, len);
    if (bad < len)
        return rp__fail(g->err, RP_ERR_NONFINITE, "src[%zu] is %g", bad, src[bad]);
    if (len)
        memcpy(rp__gblock(g, which), src, len * sizeof(double));
    return RP_OK;
}

rp_status rp_grad_get_norm(const rp_grad *g, double *norm)
{
    RP__CLEAR_ERR(g);
    if (!g)
        return RP_ERR_INVALID_ARG;
    if (!norm)
        return rp__fail((char *)g->err, RP_ERR_INVALID_ARG, "norm is NULL");
    *norm = cblas_dnrm2((int)g->lay.total, g->v, 1);
    return RP_OK;
}

rp_status rp_grad_axpy(rp_grad *dst, double a, const rp_grad *src)
{
    RP__CLEAR_ERR(dst);
    if (!dst)
        return RP_ERR_INVALID_ARG;
    if (!src)
        return rp__fail(dst->err, RP_ERR_INVALID_ARG, "src is NULL");
    if (dst->n_in != src->n_in || dst->n_rec != src->n_rec || dst->n_out != src->n_out)
        return rp__fail(dst->err, RP_ERR_DIM_MISMATCH,
                        "src has dimensions (n_in %zu, n_rec %zu, n_out %zu), dst (%zu, %zu, %zu)",
                        src->n_in, src->n_rec, src->n_out, dst->n_in, dst->n_rec, dst->n_out);
    if (!isfinite(a))
        return rp__fail(dst->err, RP_ERR_INVALID_ARG, "a is %g, expected a finite value", a);
    if (src == dst) /* BLAS arguments must not alias: dst += a dst is a scaling */
        cblas_dscal((int)dst->lay.total, 1.0 + a, dst->v, 1);
    else
        cblas_daxpy((int)dst->lay.total, a, src->v, 1, dst->v, 1);
    return RP_OK;
}

rp_status rp_grad_scale(rp_grad *g, double a)
{
    RP__CLEAR_ERR(g);
    if (!g)
        return RP_ERR_INVALID_ARG;
    if (!isfinite(a))
        return rp__fail(g->err, RP_ERR_INVALID_ARG, "a is %g, expected a finite value", a);
    cblas_dscal((int)g->lay.total, a, g->v, 1);
    return RP_OK;
}
