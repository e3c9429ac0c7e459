/* rp_rule: argument checking, feedback, and dispatch to the kinds in
   rule_bptt.c, rule_rtrl.c, rule_eprop.c and rule_modprop.c. */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void draw_random_feedback(rp_rule *rule, uint64_t seed)
{
    /* B_fb ~ N(0, 1/n_out) (MODEL.md §4.5) */
    rp_rng rng;
    rp__rng_seed(&rng, seed);
    double sd = 1.0 / sqrt((double)rule->n_out);
    for (size_t i = 0; i < rule->n_rec * rule->n_out; i++)
        rule->fb[i] = sd * rp__rng_normal(&rng);
}

int rp__single_rule(rp_rule_kind kind)
{
    /* rule_bptt.c, rule_eprop.c and rule_modprop.c have float kernels (per
       trial and online); RTRL is double only (rp_rule_create says why) */
    return kind != RP_RULE_RTRL;
}

rp_status rp_rule_create(rp_rule **out, const rp_net *net, rp_rule_kind kind, char *msg,
                         size_t msglen)
{
    rp__copy_msg(msg, msglen, "");
    if (out)
        *out = NULL;
    if (!out || !net)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "%s is NULL", out ? "net" : "out");
    if ((unsigned)kind > RP_RULE_MODPROP)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "kind %d is not an rp_rule_kind",
                            (int)kind);
    if (net->cfg.precision == RP_PRECISION_SINGLE && !rp__single_rule(kind))
        return rp__fail_msg(
            msg, msglen, RP_ERR_UNSUPPORTED,
            "single precision: RTRL is the exact O(n_rec^4)-per-step reference, kept in double "
            "only (float would round the gradient it is the reference for); use a double net, "
            "or e-prop/RFLO/ModProp online, or BPTT/TBPTT, on a single net");
    rp_rule *r = rp__calloc(&net->al, 1, sizeof *r);
    if (!r)
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM, "out of memory for the rule");
    r->al = net->al;
    r->kind = kind;
    r->n_in = net->cfg.n_in;
    r->n_rec = net->cfg.n_rec;
    r->n_out = net->cfg.n_out;
    r->batch = net->cfg.batch;
    r->form = net->cfg.form;
    r->act = net->cfg.act;
    r->precision = net->cfg.precision;
    r->lay = net->lay;
    r->loss = RP_LOSS_MSE;
    r->K = 10;
    r->o_block = 1;
    r->fb_kind = kind == RP_RULE_RFLO ? RP_FEEDBACK_RANDOM : RP_FEEDBACK_SYMMETRIC;
    r->scratch = rp__calloc(&r->al, r->lay.total, sizeof(double));
    r->fb = rp__calloc(&r->al, r->n_rec * r->n_out, sizeof(double));
    r->pad = rp__calloc(&r->al, rp__pad_len(r->n_in, r->n_rec, r->n_out), sizeof(double));
    rp_status st = RP_ERR_NOMEM;
    if (r->scratch && r->fb && r->pad) {
        if (r->fb_kind == RP_FEEDBACK_RANDOM)
            draw_random_feedback(r, 1);
        switch (kind) {
        case RP_RULE_BPTT:
        case RP_RULE_TBPTT:
            st = rp__bptt_init(r, net);
            break;
        case RP_RULE_RTRL:
            st = rp__rtrl_init(r, net);
            break;
        case RP_RULE_MODPROP:
            st = rp__eprop_init(r, net);
            if (st == RP_OK)
                st = rp__modprop_create(r);
            break;
        default:
            st = rp__eprop_init(r, net);
            break;
        }
    }
    if (st != RP_OK) {
        if (r->err[0])
            rp__copy_msg(msg, msglen, r->err);
        else
            rp__fail_msg(msg, msglen, st, "out of memory for the %s rule's workspaces",
                         rp__rule_kind_name(kind));
        rp_rule_free(r);
        return st;
    }
    *out = r;
    return RP_OK;
}

void rp_rule_free(rp_rule *rule)
{
    if (!rule)
        return;
    if (rule->ops && rule->ops->destroy)
        rule->ops->destroy(rule);
    rp__modprop_free(rule);
    rp__free(&rule->al, rule->scratch);
    rp__free(&rule->al, rule->fb);
    rp__free(&rule->al, rule->pad);
    rp__free(&rule->al, rule);
}

const char *rp_rule_last_error(const rp_rule *rule) { return rule ? rule->err : "rule is NULL"; }

rp_status rp_rule_set_loss(rp_rule *rule, rp_loss loss)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (loss != RP_LOSS_MSE && loss != RP_LOSS_CE)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG,
                        "loss is %d, expected RP_LOSS_MSE or RP_LOSS_CE", (int)loss);
    if (loss == RP_LOSS_CE && rule->n_out < 2)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG,
                        "cross-entropy needs n_out >= 2, the net has %zu", rule->n_out);
    /* as for the feedback: a stream's steps (and the mean loss rp_rule_end
       reports) are of one loss */
    if (rule->streaming && loss != rule->loss)
        return rp__fail(rule->err, RP_ERR_STATE, "the loss cannot change inside an online stream");
    rule->loss = loss;
    return RP_OK;
}

static rp_status check_bio(rp_rule *rule)
{
    if (rule->kind != RP_RULE_EPROP && rule->kind != RP_RULE_RFLO && rule->kind != RP_RULE_MODPROP)
        return rp__fail(rule->err, RP_ERR_UNSUPPORTED,
                        "feedback is for e-prop, RFLO and ModProp, this rule is %s",
                        rp__rule_kind_name(rule->kind));
    if (rule->streaming)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "the feedback cannot change inside an online stream");
    return RP_OK;
}

rp_status rp_rule_set_feedback(rp_rule *rule, rp_feedback kind, uint64_t seed)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_bio(rule);
    if (st != RP_OK)
        return st;
    if (kind != RP_FEEDBACK_SYMMETRIC && kind != RP_FEEDBACK_RANDOM)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG,
                        "kind is %d, expected RP_FEEDBACK_SYMMETRIC or RP_FEEDBACK_RANDOM",
                        (int)kind);
    rule->fb_kind = kind;
    rule->fb_custom = 0;
    if (kind == RP_FEEDBACK_RANDOM)
        draw_random_feedback(rule, seed);
    return RP_OK;
}

rp_status rp_rule_set_feedback_matrix(rp_rule *rule, const double *B, size_t len)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_bio(rule);
    if (st != RP_OK)
        return st;
    size_t want = rule->n_rec * rule->n_out;
    if (!B)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "B is NULL");
    if (len != want)
        return rp__fail(rule->err, RP_ERR_DIM_MISMATCH,
                        "B has %zu doubles, expected n_rec*n_out = %zu", len, want);
    size_t bad = rp__find_nonfinite(B, len);
    if (bad < len)
        return rp__fail(rule->err, RP_ERR_NONFINITE, "B[%zu] is %g", bad, B[bad]);
    memcpy(rule->fb, B, len * sizeof(double));
    rule->fb_custom = 1;
    return RP_OK;
}

/* 1 if net has the dimensions, form, activation and batch the rule was built for. */
static rp_status check_net(rp_rule *rule, const rp_net *net)
{
    if (!net)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "net is NULL");
    const rp_net_config *c = &net->cfg;
    if (c->n_in != rule->n_in || c->n_rec != rule->n_rec || c->n_out != rule->n_out ||
        c->batch != rule->batch)
        return rp__fail(
            rule->err, RP_ERR_DIM_MISMATCH,
            "net has (n_in %zu, n_rec %zu, n_out %zu, batch %zu), the rule was built for "
            "(%zu, %zu, %zu, %zu)",
            c->n_in, c->n_rec, c->n_out, c->batch, rule->n_in, rule->n_rec, rule->n_out,
            rule->batch);
    if (c->form != rule->form || c->act != rule->act)
        return rp__fail(rule->err, RP_ERR_DIM_MISMATCH,
                        "net has form %d and activation %d, the rule was built for %d and %d",
                        (int)c->form, (int)c->act, (int)rule->form, (int)rule->act);
    if (c->precision != rule->precision)
        return rp__fail(rule->err, RP_ERR_DIM_MISMATCH,
                        "net has precision %d, the rule was built for precision %d "
                        "(RP_PRECISION_DOUBLE 0, RP_PRECISION_SINGLE 1)",
                        (int)c->precision, (int)rule->precision);
    return RP_OK;
}

rp_status rp_rule_get_feedback_matrix(const rp_rule *rule, const rp_net *net, double *B, size_t len)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_rule *r = (rp_rule *)rule; /* only the message buffer is written */
    rp_status st = check_net(r, net);
    if (st != RP_OK)
        return st;
    size_t want = rule->n_rec * rule->n_out;
    if (!B)
        return rp__fail(r->err, RP_ERR_INVALID_ARG, "B is NULL");
    if (len != want)
        return rp__fail(r->err, RP_ERR_DIM_MISMATCH,
                        "B has %zu doubles, expected n_rec*n_out = %zu", len, want);
    const double *fb = rp__feedback(rule, net, B);
    if (fb != B)
        memcpy(B, fb, want * sizeof(double));
    return RP_OK;
}

rp_status rp_rule_set_truncation(rp_rule *rule, size_t K)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (rule->kind != RP_RULE_TBPTT)
        return rp__fail(rule->err, RP_ERR_UNSUPPORTED, "truncation is for TBPTT, this rule is %s",
                        rp__rule_kind_name(rule->kind));
    if (K == 0)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "K is 0, expected K >= 1");
    rule->K = K;
    return RP_OK;
}

/* ModProp's setters (§4.7): refused on other kinds, as the feedback's and
   the truncation's are, and inside a stream (its filter state is of one K
   and one mu). */
static rp_status check_modprop(rp_rule *rule, const char *what)
{
    if (rule->kind != RP_RULE_MODPROP)
        return rp__fail(rule->err, RP_ERR_UNSUPPORTED, "%s is for ModProp, this rule is %s", what,
                        rp__rule_kind_name(rule->kind));
    if (rule->streaming)
        return rp__fail(rule->err, RP_ERR_STATE, "%s cannot change inside an online stream", what);
    return RP_OK;
}

rp_status rp_rule_set_cell_types(rp_rule *rule, const unsigned *types, size_t n_rec)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_modprop(rule, "the cell types");
    if (st != RP_OK)
        return st;
    if (!types)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "types is NULL");
    if (n_rec != rule->n_rec)
        return rp__fail(rule->err, RP_ERR_DIM_MISMATCH, "n_rec is %zu, the rule's net has %zu",
                        n_rec, rule->n_rec);
    for (size_t i = 0; i < n_rec; i++)
        if (types[i] >= n_rec)
            return rp__fail(rule->err, RP_ERR_INVALID_ARG,
                            "types[%zu] is %u, expected a type in [0, n_rec = %zu)", i, types[i],
                            n_rec);
    st = rp__modprop_set_types(rule, types);
    if (st != RP_OK)
        return rp__fail(rule->err, st, "no memory for the ModProp workspaces of these types");
    return RP_OK;
}

rp_status rp_rule_set_modprop_mu(rp_rule *rule, double mu)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_modprop(rule, "mu");
    if (st != RP_OK)
        return st;
    if (!isfinite(mu))
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "mu is %g, expected a finite value", mu);
    rule->mp->mu = mu;
    return RP_OK;
}

/* Targets, masks and inputs of `steps` steps of B trials. */
static rp_status check_data(rp_rule *rule, size_t steps, const double *x, const double *target,
                            const double *mask)
{
    const size_t B = rule->batch, nx = steps * B * rule->n_in;
    if (rule->n_in > 0) {
        if (!x)
            return rp__fail(rule->err, RP_ERR_INVALID_ARG, "x is NULL but n_in = %zu", rule->n_in);
        size_t bad = rp__find_nonfinite(x, nx);
        if (bad < nx)
            return rp__fail(rule->err, RP_ERR_NONFINITE,
                            "x at step %zu, trial %zu, input %zu is %g", bad / (B * rule->n_in),
                            bad / rule->n_in % B, bad % rule->n_in, x[bad]);
    }
    if (!target)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "target is NULL");
    if (rule->loss == RP_LOSS_MSE) {
        size_t nt = steps * B * rule->n_out, bad = rp__find_nonfinite(target, nt);
        if (bad < nt)
            return rp__fail(
                rule->err, RP_ERR_NONFINITE, "target at step %zu, trial %zu, output %zu is %g",
                bad / (B * rule->n_out), bad / rule->n_out % B, bad % rule->n_out, target[bad]);
    } else {
        for (size_t i = 0; i < steps * B; i++) {
            double k = target[i];
            if (!(k >= 0.0 && k < (double)rule->n_out && k == floor(k)))
                return rp__fail(
                    rule->err, RP_ERR_INVALID_ARG,
                    "target at step %zu, trial %zu is %g, expected a class index in [0, %zu)",
                    i / B, i % B, k, rule->n_out);
        }
    }
    if (mask)
        for (size_t i = 0; i < steps * B; i++)
            if (!(mask[i] >= 0.0 && mask[i] <= 1.0))
                return rp__fail(rule->err, RP_ERR_INVALID_ARG,
                                "mask at step %zu, trial %zu is %g, expected a value in [0, 1]",
                                i / B, i % B, mask[i]);
    return RP_OK;
}

static rp_status check_grad(rp_rule *rule, const rp_grad *grad)
{
    if (!grad)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "grad is NULL");
    if (grad->n_in != rule->n_in || grad->n_rec != rule->n_rec || grad->n_out != rule->n_out)
        return rp__fail(rule->err, RP_ERR_DIM_MISMATCH,
                        "grad has (n_in %zu, n_rec %zu, n_out %zu), the rule (%zu, %zu, %zu)",
                        grad->n_in, grad->n_rec, grad->n_out, rule->n_in, rule->n_rec, rule->n_out);
    return RP_OK;
}

rp_status rp_rule_trial(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                        const double *target, const double *mask, rp_grad *grad, double *loss)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_net(rule, net);
    if (st == RP_OK)
        st = check_grad(rule, grad);
    if (st != RP_OK)
        return st;
    if (T == 0)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "T is 0, expected T >= 1");
    if (rule->streaming)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "an online stream is open: call rp_rule_end first");
    st = check_data(rule, T, x, target, mask);
    if (st != RP_OK)
        return st;
    if (T > rule->T_cap) {
        st = rule->ops->reserve(rule, T);
        if (st != RP_OK)
            return rp__fail(rule->err, st, "no memory for workspaces of T = %zu steps", T);
        rule->T_cap = T;
    }
    memset(rule->scratch, 0, rule->lay.total * sizeof(double));
    double E = 0.0;
    st = rule->ops->trial(rule, net, T, x, target, mask, &E);
    if (st != RP_OK)
        return st;
    size_t bad = rp__find_nonfinite(rule->scratch, rule->lay.total);
    if (bad < rule->lay.total || !isfinite(E))
        return rp__fail(rule->err, RP_ERR_NONFINITE,
                        "the gradient estimate is not finite (loss %g)", E);
    cblas_daxpy((int)rule->lay.total, 1.0, rule->scratch, 1, grad->v, 1);
    if (loss)
        *loss = E;
    return RP_OK;
}

rp_status rp_rule_begin(rp_rule *rule, const rp_net *net)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_net(rule, net);
    if (st != RP_OK)
        return st;
    if (!rule->ops->begin)
        return rp__fail(rule->err, RP_ERR_UNSUPPORTED,
                        "%s has no online mode: it needs the whole trial (use rp_rule_trial)",
                        rp__rule_kind_name(rule->kind));
    if (rule->o_pending)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "%zu ticks of the online block are pending: rp_rule_flush them into a "
                        "grad before the stream restarts",
                        rule->o_pending);
    st = rule->ops->begin(rule, net);
    if (st != RP_OK)
        return st;
    rule->streaming = 1;
    rule->stream_loss = 0.0;
    rule->stream_steps = 0;
    rule->net_serial = net->serial;
    rule->serial_known = 1;
    return RP_OK;
}

/* A stream follows its net step by step: exactly one rp_net_step (and no
   state set or reset) since the stream's last step or begin, with the input
   x_t of that step. */
static rp_status check_in_step(rp_rule *rule, const rp_net *net, const double *x_t)
{
    const size_t step = rule->stream_steps;
    const uint64_t d = net->serial - rule->net_serial;
    if (d == 0)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "stream step %zu: the net has not stepped since the %s: call "
                        "rp_net_step once before each rp_rule_step",
                        step, step ? "stream's last step" : "rp_rule_begin");
    if (d != 1)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "stream step %zu: the net stepped more than once, or its state was "
                        "set or reset, since the %s: the stream lost step with its net",
                        step, step ? "stream's last step" : "rp_rule_begin");
    const size_t n = rule->batch * rule->n_in;
    for (size_t i = 0; i < n; i++)
        if (x_t[i] != net->last_x[i])
            return rp__fail(rule->err, RP_ERR_STATE,
                            "stream step %zu: x_t[%zu] (trial %zu, input %zu) is %g, but the "
                            "net's step had %g: pass the input of that rp_net_step",
                            step, i, i / rule->n_in, i % rule->n_in, x_t[i], net->last_x[i]);
    return RP_OK;
}

rp_status rp_rule_step(rp_rule *rule, const rp_net *net, const double *x_t, const double *target_t,
                       const double *mask_t, rp_grad *grad)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (!rule->streaming)
        return rp__fail(rule->err, RP_ERR_STATE, "no online stream: call rp_rule_begin first");
    rp_status st = check_net(rule, net);
    if (st == RP_OK)
        st = check_grad(rule, grad);
    if (st == RP_OK)
        st = check_data(rule, 1, x_t, target_t, mask_t);
    if (st == RP_OK && rule->serial_known)
        st = check_in_step(rule, net, x_t);
    if (st != RP_OK)
        return st;
    if (rule->o_pending && grad != rule->o_grad)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "%zu ticks of the online block are pending for another grad: "
                        "rp_rule_flush them into that grad first",
                        rule->o_pending);
    double E = 0.0;
    st = rule->ops->step(rule, net, x_t, target_t, mask_t, grad, &E);
    if (st != RP_OK)
        return st;
    if (rule->o_block > 1) { /* the step stored its tick in slot o_pending */
        rule->o_grad = grad;
        if (++rule->o_pending == rule->o_block) {
            rule->ops->flush(rule, grad);
            rule->o_pending = 0;
        }
    }
    rule->stream_loss += E;
    rule->stream_steps++;
    rule->net_serial = net->serial;
    rule->serial_known = 1;
    return RP_OK;
}

rp_status rp_rule_end(rp_rule *rule, double *loss)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (!rule->streaming)
        return rp__fail(rule->err, RP_ERR_STATE, "no online stream: call rp_rule_begin first");
    if (rule->o_pending)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "%zu ticks of the online block are pending: rp_rule_flush them into a "
                        "grad before the stream ends",
                        rule->o_pending);
    rule->streaming = 0;
    if (loss)
        *loss = rule->stream_steps ? rule->stream_loss / (double)rule->stream_steps : 0.0;
    return RP_OK;
}

/* ---- the online block (1.2) ------------------------------------------- */

rp_status rp_rule_set_online_block(rp_rule *rule, size_t K)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (K == 0)
        return rp__fail(rule->err, RP_ERR_INVALID_ARG, "K is 0, expected K >= 1");
    if (rule->o_pending)
        return rp__fail(rule->err, RP_ERR_STATE,
                        "%zu ticks of the online block are pending: rp_rule_flush them first",
                        rule->o_pending);
    if (K > 1) {
        /* A rank-B outer product per tick exists only in the voltage form of
           e-prop and RFLO: the rate form's tick is diag(L_t) P_t with a full
           trace P_t per row, RTRL's a product with its sensitivities, and
           ModProp adds a rank-K_types credit through its own filter. */
        const char *why = NULL;
        if (rule->kind != RP_RULE_EPROP && rule->kind != RP_RULE_RFLO)
            why = rule->kind == RP_RULE_BPTT || rule->kind == RP_RULE_TBPTT ? "has no online mode"
                  : rule->kind == RP_RULE_RTRL
                      ? "updates through its sensitivities, not an outer product per tick"
                      : "adds its modulators' credit through their filter every tick";
        else if (rule->form != RP_FORM_VOLTAGE)
            why = "in the rate form updates diag(L_t) P_t with a full trace per row, not an "
                  "outer product";
        else if (rule->precision != RP_PRECISION_DOUBLE || !rule->ops->block)
            why = "on a single-precision net has no online block";
        if (why)
            return rp__fail(rule->err, RP_ERR_UNSUPPORTED, "an online block K = %zu: %s %s", K,
                            rp__rule_kind_name(rule->kind), why);
        if (K > (size_t)INT_MAX / rule->batch)
            return rp__fail(rule->err, RP_ERR_INVALID_ARG,
                            "K*batch = %zu*%zu exceeds the BLAS's %d rows", K, rule->batch,
                            INT_MAX);
    }
    if (rule->ops->block) {
        rp_status st = rule->ops->block(rule, K);
        if (st != RP_OK)
            return st;
    }
    rule->o_block = K;
    return RP_OK;
}

rp_status rp_rule_get_online_block(const rp_rule *rule, size_t *K, size_t *pending)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (K)
        *K = rule->o_block;
    if (pending)
        *pending = rule->o_pending;
    return RP_OK;
}

rp_status rp_rule_flush(rp_rule *rule, rp_grad *grad)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (!rule->streaming)
        return rp__fail(rule->err, RP_ERR_STATE, "no online stream: call rp_rule_begin first");
    rp_status st = check_grad(rule, grad);
    if (st != RP_OK)
        return st;
    if (rule->o_pending) {
        rule->ops->flush(rule, grad);
        rule->o_pending = 0;
    }
    return RP_OK;
}

/* ---- state, for checkpoints (checkpoint.c) ----------------------------- */

rp_status rp_rule_get_kind(const rp_rule *rule, rp_rule_kind *kind, rp_loss *loss)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (kind)
        *kind = rule->kind;
    if (loss)
        *loss = rule->loss;
    return RP_OK;
}

rp_status rp_rule_get_streaming(const rp_rule *rule, int *streaming)
{
    RP__CLEAR_ERR(rule);
    if (!rule)
        return RP_ERR_INVALID_ARG;
    if (!streaming)
        return rp__fail(((rp_rule *)rule)->err, RP_ERR_INVALID_ARG, "streaming is NULL");
    *streaming = rule->streaming != 0;
    return RP_OK;
}

const char *rp__rule_kind_name(rp_rule_kind kind)
{
    const char *n = rp_rule_kind_name(kind);
    return n ? n : "unknown";
}

const char *rp_rule_kind_name(rp_rule_kind kind)
{
    /* The enum's own names, lower case (as rp_task_kind_name's): what the
       tool's --rule accepts. */
    static const char *const ids[] = {"bptt", "tbptt", "rtrl", "eprop", "rflo", "modprop"};
    return (unsigned)kind <= RP_RULE_MODPROP ? ids[kind] : NULL;
}

/* a * b in 64 bits; *ok = 0 on overflow. */
static uint64_t mul64(uint64_t a, uint64_t b, int *ok)
{
    if (a != 0 && b > UINT64_MAX / a) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

size_t rp__rule_stream_layout(rp_rule_kind kind, rp_form form, uint64_t batch, uint64_t n_in,
                              uint64_t n_rec, uint64_t n_types, uint64_t len[RP__RULE_STREAM_MAX],
                              const char *name[RP__RULE_STREAM_MAX], int *ok)
{
    const uint64_t BN = mul64(batch, n_rec, ok);
    const int bio = kind == RP_RULE_EPROP || kind == RP_RULE_RFLO || kind == RP_RULE_MODPROP;
    size_t k = 0;
#define RP__ARR(nm, n) (name[k] = (nm), len[k++] = (n))
    if (kind == RP_RULE_RTRL) {
        /* rule_rtrl.c: state_{t-1}, f(h_{t-1}) or f(u_{t-1}), and the
           sensitivities, n_rec x n_rec(n_rec + n_in + 1) per row */
        uint64_t M = mul64(n_rec, n_rec + n_in + 1, ok);
        RP__ARR("prev", BN);
        RP__ARR("prev_fx", BN);
        RP__ARR("P", mul64(BN, M, ok));
    } else if (bio && form == RP_FORM_VOLTAGE) {
        /* rule_eprop.c, MODEL.md §4.4: f(h_{t-1}) and the traces eps, eps^x, eps^b */
        RP__ARR("prev", BN);
        RP__ARR("eps", BN);
        RP__ARR("eps_x", mul64(batch, n_in, ok));
        RP__ARR("eps_b", 1);
    } else if (bio) {
        /* r_{t-1} and the traces P, P^U, P^b of every row */
        RP__ARR("prev", BN);
        RP__ARR("P", mul64(BN, n_rec, ok));
        RP__ARR("P_U", mul64(BN, n_in, ok));
        RP__ARR("P_b", BN);
    }
    if (kind == RP_RULE_MODPROP) /* rule_modprop.c: the K-type filter state, last */
        RP__ARR("modprop", rp__modprop_stream_len(form, batch, n_in, n_rec, n_types, ok));
#undef RP__ARR
    return k;
}

void rp__rule_get_state(const rp_rule *rule, rp__rule_state *s)
{
    memset(s, 0, sizeof *s);
    s->kind = rule->kind;
    s->n_in = rule->n_in;
    s->n_rec = rule->n_rec;
    s->n_out = rule->n_out;
    s->batch = rule->batch;
    s->form = rule->form;
    s->act = rule->act;
    s->loss = rule->loss;
    s->fb_kind = rule->fb_kind;
    s->fb_custom = rule->fb_custom;
    s->K = rule->K;
    s->fb = rule->fb;
    if (rule->mp) {
        s->mu = rule->mp->mu;
        s->types = rule->mp->types;
        s->n_types = rule->mp->K;
    }
    s->streaming = rule->streaming;
    s->pending = rule->o_pending;
    if (!rule->streaming)
        return;
    s->steps = rule->stream_steps;
    s->stream_loss = rule->stream_loss;
    const char *name[RP__RULE_STREAM_MAX];
    int ok = 1; /* the rule's arrays exist: their lengths fit */
    s->n_arrays = rp__rule_stream_layout(rule->kind, rule->form, rule->batch, rule->n_in,
                                         rule->n_rec, s->n_types, s->len, name, &ok);
    rule->ops->stream((rp_rule *)rule, s->arr); /* pointers only; nothing is written */
    if (rule->ops->stream_f)
        rule->ops->stream_f((rp_rule *)rule, s->arr_f);
}

rp_status rp__rule_check_scalars(const rp__rule_state *s, size_t n_out, char *err)
{
    if ((unsigned)s->kind > RP_RULE_MODPROP)
        return rp__fail(err, RP_ERR_FORMAT, "kind is %u, expected 0..5", (unsigned)s->kind);
    int bio = s->kind == RP_RULE_EPROP || s->kind == RP_RULE_RFLO || s->kind == RP_RULE_MODPROP;
    if (s->kind == RP_RULE_MODPROP && !isfinite(s->mu))
        return rp__fail(err, RP_ERR_FORMAT, "ModProp's mu is not finite");
    if ((unsigned)s->loss > RP_LOSS_CE || (s->loss == RP_LOSS_CE && n_out < 2))
        return rp__fail(err, RP_ERR_FORMAT, "loss is %u, expected 0 (MSE) or 1 (CE, n_out >= 2)",
                        (unsigned)s->loss);
    if ((unsigned)s->fb_kind > RP_FEEDBACK_RANDOM || (unsigned)s->fb_custom > 1)
        return rp__fail(err, RP_ERR_FORMAT, "feedback kind %u, custom %u: expected 0 or 1",
                        (unsigned)s->fb_kind, (unsigned)s->fb_custom);
    /* What rp_rule_create and the setters can produce. */
    if (!bio && (s->fb_custom || s->fb_kind != RP_FEEDBACK_SYMMETRIC))
        return rp__fail(err, RP_ERR_FORMAT, "%s has no feedback matrix, but the file sets one",
                        rp__rule_kind_name(s->kind));
    if (s->K < 1 || s->K > SIZE_MAX)
        return rp__fail(err, RP_ERR_FORMAT, "truncation K is %llu, expected >= 1",
                        (unsigned long long)s->K);
    if (!s->streaming)
        return RP_OK;
    if (s->steps > SIZE_MAX)
        return rp__fail(err, RP_ERR_FORMAT, "stream position %llu exceeds this machine's size_t",
                        (unsigned long long)s->steps);
    if (!bio && s->kind != RP_RULE_RTRL)
        return rp__fail(err, RP_ERR_FORMAT, "%s has no online mode, but the file holds a stream",
                        rp__rule_kind_name(s->kind));
    /* A sum of per-step losses, each >= 0 (MODEL.md §3: masks in [0, 1]). */
    if (!(isfinite(s->stream_loss) && s->stream_loss >= 0.0) ||
        (s->steps == 0 && s->stream_loss != 0.0))
        return rp__fail(err, RP_ERR_FORMAT,
                        "stream loss %g after %llu steps, expected a finite "
                        "sum >= 0 (0 after no step)",
                        s->stream_loss, (unsigned long long)s->steps);
    return RP_OK;
}

rp_status rp__rule_open_stream(rp_rule *rule, const rp_net *net)
{
    return rp_rule_begin(rule, net);
}

void rp__rule_set_scalars(rp_rule *rule, const rp__rule_state *s)
{
    rule->loss = s->loss;
    rule->fb_kind = s->fb_kind;
    rule->fb_custom = s->fb_custom;
    rule->K = (size_t)s->K;
    if (rule->mp)
        rule->mp->mu = s->mu;
    if (rule->streaming) {
        rule->stream_steps = (size_t)s->steps;
        rule->stream_loss = s->stream_loss;
    }
    /* A checkpoint does not hold whether the net stepped after the stream's
       last step (a save may fall between rp_net_step and rp_rule_step): the
       first step after a load is not checked against the net. */
    rule->serial_known = 0;
}
