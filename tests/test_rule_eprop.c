/* e-prop and RFLO (src/rule_eprop.c, MODEL.md §4.4–4.6).

   Oracles, all independent of the code under test:
   - the §4.4 identity: e-prop with symmetric feedback is the exact gradient of
     the loss in which the recurrent input W f(h_{t-1}) (voltage) or W r_{t-1}
     (rate) is computed from the recorded base trajectory.  That modified
     forward pass is written here with plain loops and differentiated by
     central finite differences;
   - W = 0: the truncation drops nothing, so e-prop is the true gradient
     (central differences of the true loss, plain loops again);
   - RFLO == e-prop given the same feedback matrix (§4.5);
   - per trial == sum of online contributions / T (two different algorithms:
     stacked GEMMs / backward filter vs running traces).  */
#include "testutil.h"

#include <float.h>

typedef struct {
    rp_form form;
    rp_activation act;
    rp_loss loss;
    size_t n_in, N, O, B, T;
} tcfg;

/* A problem: parameters (flat W, U, b, V, c), initial state and data. */
typedef struct {
    tcfg c;
    size_t off[5], len[5], total;
    double *th, *h0, *x, *tgt, *mask;
} prob;

static double act_f(rp_activation a, double v)
{
    return a == RP_ACT_TANH ? tanh(v) : a == RP_ACT_RELU ? (v > 0.0 ? v : 0.0) : v;
}

static const double ALPHA = 0.8;

static void prob_init(prob *p, const tcfg *c, uint64_t seed, double wscale)
{
    p->c = *c;
    size_t N = c->N;
    size_t lens[5] = {N * N, N * c->n_in, N, c->O * N, c->O};
    p->total = 0;
    for (int k = 0; k < 5; k++) {
        p->off[k] = p->total;
        p->len[k] = lens[k];
        p->total += lens[k];
    }
    p->th = calloc(p->total, sizeof(double));
    p->h0 = calloc(N, sizeof(double));
    p->x = calloc(c->T * c->B * c->n_in + 1, sizeof(double));
    p->tgt = calloc(c->T * c->B * c->O, sizeof(double));
    p->mask = calloc(c->T * c->B, sizeof(double));
    double sw = wscale * 1.5 / sqrt((double)N);
    tu_fill(p->th + p->off[0], lens[0], -sw, sw, seed + 1);
    tu_fill(p->th + p->off[1], lens[1], -1.0, 1.0, seed + 2);
    tu_fill(p->th + p->off[2], lens[2], -0.5, 0.5, seed + 3);
    tu_fill(p->th + p->off[3], lens[3], -1.0, 1.0, seed + 4);
    tu_fill(p->th + p->off[4], lens[4], -0.3, 0.3, seed + 5);
    tu_fill(p->h0, N, -0.6, 0.6, seed + 6);
    tu_fill(p->x, c->T * c->B * c->n_in, -1.0, 1.0, seed + 7);
    tu_fill_targets(p->tgt, c->T * c->B, c->O, c->loss, seed + 8);
    /* masks in [0, 1] with some steps switched off */
    tu_fill(p->mask, c->T * c->B, -0.3, 1.0, seed + 9);
    for (size_t i = 0; i < c->T * c->B; i++)
        p->mask[i] = p->mask[i] < 0.0 ? 0.0 : p->mask[i];
}

static void prob_free(prob *p)
{
    free(p->th);
    free(p->h0);
    free(p->x);
    free(p->tgt);
    free(p->mask);
}

/* The loss with plain loops.  frozen == NULL: the true loss (MODEL.md §1, §3).
   Else frozen[(t*B + b)*N + j] replaces the presynaptic vector f(h_{t-1}) or
   r_{t-1} in the recurrent input (the §4.4 identity).  record (if not NULL)
   receives those presynaptic vectors; *minpre the smallest |h_t| (voltage) or
   |u_t| (rate), to keep ReLU away from its kink. */
static double ref_loss(const prob *p, const double *th, const double *frozen, double *record,
                       double *minpre)
{
    const tcfg *c = &p->c;
    const size_t N = c->N, I = c->n_in, O = c->O, B = c->B, T = c->T;
    const double *W = th + p->off[0], *U = th + p->off[1], *bb = th + p->off[2];
    const double *V = th + p->off[3], *cc = th + p->off[4];
    double *s = calloc(N, sizeof(double)), *pre = calloc(N, sizeof(double));
    double *q = calloc(N, sizeof(double)), *y = calloc(O, sizeof(double));
    double E = 0.0, mn = INFINITY;
    for (size_t b = 0; b < B; b++) {
        for (size_t i = 0; i < N; i++) {
            s[i] = p->h0[i];
            pre[i] = c->form == RP_FORM_VOLTAGE ? act_f(c->act, s[i]) : s[i];
        }
        for (size_t t = 0; t < T; t++) {
            const double *z = frozen ? frozen + (t * B + b) * N : pre;
            if (record)
                memcpy(record + (t * B + b) * N, z, N * sizeof(double));
            const double *xt = p->x + (t * B + b) * I;
            for (size_t i = 0; i < N; i++) {
                double v = bb[i];
                for (size_t j = 0; j < N; j++)
                    v += W[i * N + j] * z[j];
                for (size_t k = 0; k < I; k++)
                    v += U[i * I + k] * xt[k];
                q[i] = v;
            }
            for (size_t i = 0; i < N; i++) {
                if (c->form == RP_FORM_VOLTAGE) {
                    s[i] = ALPHA * s[i] + (1.0 - ALPHA) * q[i];
                    pre[i] = act_f(c->act, s[i]);
                    mn = fmin(mn, fabs(s[i]));
                } else {
                    s[i] = ALPHA * s[i] + (1.0 - ALPHA) * act_f(c->act, q[i]);
                    pre[i] = s[i];
                    mn = fmin(mn, fabs(q[i]));
                }
            }
            for (size_t o = 0; o < O; o++) {
                y[o] = cc[o];
                for (size_t i = 0; i < N; i++)
                    y[o] += V[o * N + i] * pre[i];
            }
            double m = p->mask[t * B + b], l = 0.0;
            if (c->loss == RP_LOSS_MSE) {
                for (size_t o = 0; o < O; o++) {
                    double d = y[o] - p->tgt[(t * B + b) * O + o];
                    l += 0.5 * d * d;
                }
            } else {
                double z2 = 0.0;
                for (size_t o = 0; o < O; o++)
                    z2 += exp(y[o]);
                l = log(z2) - y[(size_t)p->tgt[t * B + b]];
            }
            E += m * l;
        }
    }
    free(s);
    free(pre);
    free(q);
    free(y);
    if (minpre)
        *minpre = mn;
    return E / (double)(B * T);
}

/* Central differences of ref_loss for every parameter. */
static void fd_grad(const prob *p, const double *frozen, double h, double *g)
{
    double *th = malloc(p->total * sizeof(double));
    memcpy(th, p->th, p->total * sizeof(double));
    for (size_t k = 0; k < p->total; k++) {
        double v = th[k];
        th[k] = v + h;
        double ep = ref_loss(p, th, frozen, NULL, NULL);
        th[k] = v - h;
        double em = ref_loss(p, th, frozen, NULL, NULL);
        th[k] = v;
        g[k] = (ep - em) / (2.0 * h);
    }
    free(th);
}

static rp_net *make_net(const prob *p)
{
    const tcfg *c = &p->c;
    rp_net_config cfg = tu_net_config(c->n_in, c->N, c->O, c->B, c->form, c->act, ALPHA);
    rp_net *net = NULL;
    rp_status st = rp_net_create(&net, &cfg, NULL, 0);
    ck_assert_int_eq(st, RP_OK);
    for (int k = 0; k < 5; k++)
        RP_CK(rp_net_set_param(net, (rp_param)k, p->th + p->off[k], p->len[k]), net,
              rp_net_last_error);
    RP_CK(rp_net_set_initial_state(net, p->h0, p->c.N), net, rp_net_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    return net;
}

static rp_rule *make_rule(const rp_net *net, rp_rule_kind kind, rp_loss loss)
{
    rp_rule *r = NULL;
    rp_status st = rp_rule_create(&r, net, kind, NULL, 0);
    ck_assert_msg(st == RP_OK, "rp_rule_create: %s", rp_status_string(st));
    RP_CK(rp_rule_set_loss(r, loss), r, rp_rule_last_error);
    return r;
}

/* The whole gradient as one flat vector in the W, U, b, V, c order. */
static void grad_flat(const prob *p, const rp_grad *g, double *out)
{
    for (int k = 0; k < 5; k++) {
        rp_status st = rp_grad_get(g, (rp_param)k, out + p->off[k], p->len[k]);
        ck_assert_int_eq(st, RP_OK);
    }
}

/* One rp_rule_trial into a zeroed gradient; returns the loss. */
static double run_trial(rp_rule *r, rp_net *net, const prob *p, rp_grad *g, double *flat)
{
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    double E = NAN;
    RP_CK(rp_rule_trial(r, net, p->c.T, p->c.n_in ? p->x : NULL, p->tgt, p->mask, g, &E), r,
          rp_rule_last_error);
    grad_flat(p, g, flat);
    return E;
}

/* Per-parameter relative error against the oracle (floor 1e-300), each below tol. */
static void expect_close(const prob *p, const double *got, const double *want, double tol,
                         const char *what)
{
    tu_assert_blocks_close_at(p->off, p->len, got, want, tol, 1e-300, what);
}

/* The sweep: both forms x {tanh, linear, relu} x {MSE, CE}; B = 3 with masks. */
static tcfg sweep_cfg(int i)
{
    static const rp_activation acts[3] = {RP_ACT_TANH, RP_ACT_LINEAR, RP_ACT_RELU};
    tcfg c;
    c.form = (i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    c.act = acts[(i >> 1) % 3];
    c.loss = (i / 6) ? RP_LOSS_CE : RP_LOSS_MSE;
    c.n_in = 2;
    c.N = 6;
    c.O = 3;
    c.B = 3;
    c.T = 7;
    return c;
}
#define N_SWEEP 12

/* A problem whose base trajectory keeps ReLU at least 1e-3 from its kink
   (finite differences of step 1e-6 then never cross it); for the smooth
   activations the first seed. */
static void prob_pick(prob *p, const tcfg *c, uint64_t seed, double wscale)
{
    for (int tries = 0; tries < 200; tries++) {
        prob_init(p, c, seed + 1000u * (uint64_t)tries, wscale);
        double mn;
        ref_loss(p, p->th, NULL, NULL, &mn);
        if (c->act != RP_ACT_RELU || mn > 1e-3)
            return;
        prob_free(p);
    }
    ck_abort_msg("no ReLU problem away from the kink in 200 seeds");
}

/* The library side of an e-prop check against finite differences: p's
   network, a symmetric e-prop rule, a gradient and flat got/want vectors. */
typedef struct {
    rp_net *net;
    rp_rule *r;
    rp_grad *g;
    double *got, *want;
} fdcase;

static void fdcase_open(fdcase *f, const prob *p, rp_loss loss)
{
    f->net = make_net(p);
    f->r = make_rule(f->net, RP_RULE_EPROP, loss);
    f->g = NULL;
    ck_assert_int_eq(rp_grad_create(&f->g, f->net, NULL, 0), RP_OK);
    f->got = malloc(p->total * sizeof(double));
    f->want = malloc(p->total * sizeof(double));
}

static void fdcase_close(fdcase *f)
{
    free(f->got);
    free(f->want);
    rp_grad_free(f->g);
    rp_rule_free(f->r);
    rp_net_free(f->net);
}

/* §4.4 identity: symmetric e-prop == central differences of the loss with
   the recurrent input frozen on the base trajectory. */
START_TEST(eprop_equals_frozen_recurrence_fd)
{
    tcfg c = sweep_cfg(_i);
    prob p;
    prob_pick(&p, &c, 11 + (uint64_t)_i, 1.0);
    fdcase f;
    fdcase_open(&f, &p, c.loss);
    double *frozen = malloc(c.T * c.B * c.N * sizeof(double));
    double E = run_trial(f.r, f.net, &p, f.g, f.got);
    double E_ref = ref_loss(&p, p.th, NULL, frozen, NULL);
    /* the same loss, summed in a different order */
    ck_assert_double_eq_tol(E, E_ref, 1e-13 * fabs(E_ref));
    /* step 1e-6: truncation O(h^2) ~ 1e-12 relative, rounding ~ 1e-16/h ~ 1e-10
       relative; 1e-6 leaves a wide margin that a wrong term cannot hide in */
    fd_grad(&p, frozen, 1e-6, f.want);
    expect_close(&p, f.got, f.want, 1e-6, "e-prop vs frozen-recurrence FD");
    free(frozen);
    fdcase_close(&f);
    prob_free(&p);
}
END_TEST

/* W = 0: nothing is truncated, e-prop is the true gradient of every parameter
   (W included: the dropped paths all pass through W). */
START_TEST(eprop_exact_when_w_zero)
{
    tcfg c = sweep_cfg(_i);
    prob p;
    prob_pick(&p, &c, 77 + (uint64_t)_i, 0.0);
    fdcase f;
    fdcase_open(&f, &p, c.loss);
    run_trial(f.r, f.net, &p, f.g, f.got);
    fd_grad(&p, NULL, 1e-6, f.want); /* the true loss; tolerance as above */
    expect_close(&p, f.got, f.want, 1e-6, "e-prop (W = 0) vs true-loss FD");
    fdcase_close(&f);
    prob_free(&p);
}
END_TEST

/* No input (n_in = 0, x = NULL) and B = 1: the identity still holds. */
START_TEST(eprop_no_input_single_trial)
{
    tcfg c = sweep_cfg(_i);
    c.n_in = 0;
    c.B = 1;
    c.T = 9;
    prob p;
    prob_pick(&p, &c, 5 + (uint64_t)_i, 1.0);
    fdcase f;
    fdcase_open(&f, &p, c.loss);
    double *frozen = malloc(c.T * c.B * c.N * sizeof(double));
    run_trial(f.r, f.net, &p, f.g, f.got);
    ref_loss(&p, p.th, NULL, frozen, NULL);
    fd_grad(&p, frozen, 1e-6, f.want);
    expect_close(&p, f.got, f.want, 1e-6, "e-prop (n_in = 0, B = 1) vs frozen FD");
    free(frozen);
    fdcase_close(&f);
    prob_free(&p);
}
END_TEST

/* §4.5: RFLO == e-prop given the same feedback matrix.  Both run the same
   kernels on the same numbers, so they should agree bit for bit; we allow
   4 ulps of the largest entry in case a BLAS picks a different code path for
   differently aligned buffers. */
START_TEST(rflo_equals_eprop_same_feedback)
{
    tcfg c = sweep_cfg(_i);
    prob p;
    prob_init(&p, &c, 21 + (uint64_t)_i, 1.0);
    rp_net *net = make_net(&p);
    rp_rule *re = make_rule(net, RP_RULE_EPROP, c.loss);
    rp_rule *rr = make_rule(net, RP_RULE_RFLO, c.loss);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *ge = malloc(p.total * sizeof(double)), *gr = malloc(p.total * sizeof(double));
    double *M = malloc(c.N * c.O * sizeof(double));
    const double tol = 4.0 * DBL_EPSILON;

    /* a random matrix given to both */
    tu_fill(M, c.N * c.O, -1.0, 1.0, 99);
    RP_CK(rp_rule_set_feedback_matrix(re, M, c.N * c.O), re, rp_rule_last_error);
    RP_CK(rp_rule_set_feedback_matrix(rr, M, c.N * c.O), rr, rp_rule_last_error);
    run_trial(re, net, &p, g, ge);
    run_trial(rr, net, &p, g, gr);
    expect_close(&p, gr, ge, tol, "RFLO(M) vs e-prop(M)");

    /* RFLO given V^T == symmetric e-prop (the FD-checked one) */
    rp_rule *rs = make_rule(net, RP_RULE_EPROP, c.loss);
    const double *V = p.th + p.off[3];
    for (size_t i = 0; i < c.N; i++)
        for (size_t o = 0; o < c.O; o++)
            M[i * c.O + o] = V[o * c.N + i];
    RP_CK(rp_rule_set_feedback_matrix(rr, M, c.N * c.O), rr, rp_rule_last_error);
    run_trial(rs, net, &p, g, ge);
    run_trial(rr, net, &p, g, gr);
    expect_close(&p, gr, ge, tol, "RFLO(V^T) vs symmetric e-prop");

    /* the default RFLO feedback is random: W's estimate differs from e-prop's,
       the readout (exact in every rule) does not */
    rp_rule *rd = make_rule(net, RP_RULE_RFLO, c.loss);
    run_trial(rd, net, &p, g, gr);
    ck_assert(tu_rel_err(gr + p.off[0], ge + p.off[0], p.len[0], 1e-300) > 1e-3);
    for (size_t k = p.off[3]; k < p.total; k++)
        ck_assert(gr[k] == ge[k]);

    free(ge);
    free(gr);
    free(M);
    rp_grad_free(g);
    rp_rule_free(re);
    rp_rule_free(rr);
    rp_rule_free(rs);
    rp_rule_free(rd);
    rp_net_free(net);
    prob_free(&p);
}
END_TEST

/* Per trial == (sum of the online contributions) / T, and the mean online
   loss == the trial loss.  Different summation orders (and, in the rate form,
   backward filtering vs N x N traces) bound the agreement at rounding: 1e-12
   relative. */
START_TEST(trial_equals_online_sum)
{
    tcfg c = sweep_cfg(_i);
    for (int fb = 0; fb < 2; fb++) {
        prob p;
        prob_init(&p, &c, 31 + (uint64_t)_i, 1.0);
        rp_net *net = make_net(&p);
        rp_rule *r = make_rule(net, fb ? RP_RULE_RFLO : RP_RULE_EPROP, c.loss);
        rp_grad *g = NULL, *go = NULL;
        ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_grad_create(&go, net, NULL, 0), RP_OK);
        double *gt = malloc(p.total * sizeof(double)), *gs = malloc(p.total * sizeof(double));
        double E = run_trial(r, net, &p, g, gt);

        RP_CK(rp_grad_zero(go), go, rp_grad_last_error);
        RP_CK(rp_net_reset(net), net, rp_net_last_error);
        RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
        const size_t tstride = c.loss == RP_LOSS_MSE ? c.B * c.O : c.B;
        for (size_t t = 0; t < c.T; t++) {
            const double *xt = p.x + t * c.B * c.n_in;
            RP_CK(rp_net_step(net, xt, NULL), net, rp_net_last_error);
            RP_CK(rp_rule_step(r, net, xt, p.tgt + t * tstride, p.mask + t * c.B, go), r,
                  rp_rule_last_error);
        }
        double Es = NAN;
        RP_CK(rp_rule_end(r, &Es), r, rp_rule_last_error);
        grad_flat(&p, go, gs);
        for (size_t k = 0; k < p.total; k++)
            gs[k] /= (double)c.T;
        expect_close(&p, gs, gt, 1e-12, fb ? "RFLO online/T vs trial" : "e-prop online/T vs trial");
        ck_assert_double_eq_tol(Es, E, 1e-13 * fabs(E));
        free(gt);
        free(gs);
        rp_grad_free(g);
        rp_grad_free(go);
        rp_rule_free(r);
        rp_net_free(net);
        prob_free(&p);
    }
}
END_TEST

/* rp_rule_begin records the live state, wherever the net is: a stream begun
   after some ticks equals a trial whose initial state is that live state
   (B = 1, so one initial state serves; tolerance as above). */
START_TEST(online_begins_from_live_state)
{
    tcfg c = sweep_cfg(_i);
    c.B = 1;
    prob p;
    prob_init(&p, &c, 71 + (uint64_t)_i, 1.0);
    rp_net *net = make_net(&p);
    rp_rule *r = make_rule(net, RP_RULE_EPROP, c.loss);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *gt = malloc(p.total * sizeof(double)), *gs = malloc(p.total * sizeof(double));
    double live[64], x0[2] = {0.7, -0.4};
    for (int k = 0; k < 3; k++)
        RP_CK(rp_net_step(net, x0, NULL), net, rp_net_last_error);
    RP_CK(rp_net_get_state(net, live, c.N), net, rp_net_last_error);

    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    const size_t tstride = c.loss == RP_LOSS_MSE ? c.O : 1;
    for (size_t t = 0; t < c.T; t++) {
        RP_CK(rp_net_step(net, p.x + t * c.n_in, NULL), net, rp_net_last_error);
        RP_CK(rp_rule_step(r, net, p.x + t * c.n_in, p.tgt + t * tstride, p.mask + t, g), r,
              rp_rule_last_error);
    }
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);
    grad_flat(&p, g, gs);
    for (size_t k = 0; k < p.total; k++)
        gs[k] /= (double)c.T;

    RP_CK(rp_net_set_initial_state(net, live, c.N), net, rp_net_last_error);
    run_trial(r, net, &p, g, gt);
    expect_close(&p, gs, gt, 1e-12, "online from a live state vs trial from it");
    free(gt);
    free(gs);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
    prob_free(&p);
}
END_TEST

/* Workspaces grow with T and shrinking T reuses them: a rule that saw a long
   trial gives bit-identical results to a fresh one; the net is not touched. */
START_TEST(trial_reuse_and_net_untouched)
{
    tcfg c = sweep_cfg(_i);
    prob p;
    prob_init(&p, &c, 41 + (uint64_t)_i, 1.0);
    rp_net *net = make_net(&p);
    /* move the live state away from h0: trials must still start from h0 */
    RP_CK(rp_net_step(net, p.x, NULL), net, rp_net_last_error);
    double *st0 = malloc(c.B * c.N * sizeof(double)), *st1 = malloc(c.B * c.N * sizeof(double));
    RP_CK(rp_net_get_state(net, st0, c.B * c.N), net, rp_net_last_error);
    rp_rule *r1 = make_rule(net, RP_RULE_EPROP, c.loss),
            *r2 = make_rule(net, RP_RULE_EPROP, c.loss);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *a = malloc(p.total * sizeof(double)), *b = malloc(p.total * sizeof(double));
    run_trial(r1, net, &p, g, a); /* T = 7 */
    prob q = p;
    q.c.T = 3;
    double E1 = run_trial(r1, net, &q, g, a); /* shrinks: reuses */
    double E2 = run_trial(r2, net, &q, g, b); /* fresh */
    ck_assert(E1 == E2);
    for (size_t k = 0; k < p.total; k++)
        ck_assert(a[k] == b[k]);
    RP_CK(rp_net_get_state(net, st1, c.B * c.N), net, rp_net_last_error);
    for (size_t i = 0; i < c.B * c.N; i++)
        ck_assert(st0[i] == st1[i]);
    free(a);
    free(b);
    free(st0);
    free(st1);
    rp_grad_free(g);
    rp_rule_free(r1);
    rp_rule_free(r2);
    rp_net_free(net);
    prob_free(&p);
}
END_TEST

/* Random feedback is a function of its seed alone. */
START_TEST(random_feedback_deterministic)
{
    tcfg c = sweep_cfg(0);
    prob p;
    prob_init(&p, &c, 51, 1.0);
    rp_net *net = make_net(&p);
    size_t n = c.N * c.O;
    double *B1 = malloc(n * sizeof(double)), *B2 = malloc(n * sizeof(double));
    rp_rule *ra = make_rule(net, RP_RULE_RFLO, c.loss), *rb = make_rule(net, RP_RULE_RFLO, c.loss);
    rp_rule *re = make_rule(net, RP_RULE_EPROP, c.loss);
    /* RFLO's default (seed 1) == e-prop switched to random with seed 1 */
    RP_CK(rp_rule_set_feedback(re, RP_FEEDBACK_RANDOM, 1), re, rp_rule_last_error);
    RP_CK(rp_rule_get_feedback_matrix(ra, net, B1, n), ra, rp_rule_last_error);
    RP_CK(rp_rule_get_feedback_matrix(re, net, B2, n), re, rp_rule_last_error);
    ck_assert(memcmp(B1, B2, n * sizeof(double)) == 0);
    /* the same seed twice, after another seed in between */
    RP_CK(rp_rule_set_feedback(ra, RP_FEEDBACK_RANDOM, 12345), ra, rp_rule_last_error);
    RP_CK(rp_rule_set_feedback(rb, RP_FEEDBACK_RANDOM, 7), rb, rp_rule_last_error);
    RP_CK(rp_rule_set_feedback(rb, RP_FEEDBACK_RANDOM, 12345), rb, rp_rule_last_error);
    RP_CK(rp_rule_get_feedback_matrix(ra, net, B1, n), ra, rp_rule_last_error);
    RP_CK(rp_rule_get_feedback_matrix(rb, net, B2, n), rb, rp_rule_last_error);
    ck_assert(memcmp(B1, B2, n * sizeof(double)) == 0);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *ga = malloc(p.total * sizeof(double)), *gb = malloc(p.total * sizeof(double));
    run_trial(ra, net, &p, g, ga);
    run_trial(rb, net, &p, g, gb);
    ck_assert(memcmp(ga, gb, p.total * sizeof(double)) == 0);
    /* another seed, another matrix */
    RP_CK(rp_rule_set_feedback(rb, RP_FEEDBACK_RANDOM, 12346), rb, rp_rule_last_error);
    RP_CK(rp_rule_get_feedback_matrix(rb, net, B2, n), rb, rp_rule_last_error);
    ck_assert(memcmp(B1, B2, n * sizeof(double)) != 0);
    /* symmetric again: the feedback is V^T of the net */
    RP_CK(rp_rule_set_feedback(rb, RP_FEEDBACK_SYMMETRIC, 0), rb, rp_rule_last_error);
    RP_CK(rp_rule_get_feedback_matrix(rb, net, B2, n), rb, rp_rule_last_error);
    for (size_t i = 0; i < c.N; i++)
        for (size_t o = 0; o < c.O; o++)
            ck_assert(B2[i * c.O + o] == p.th[p.off[3] + o * c.N + i]);
    free(B1);
    free(B2);
    free(ga);
    free(gb);
    rp_grad_free(g);
    rp_rule_free(ra);
    rp_rule_free(rb);
    rp_rule_free(re);
    rp_net_free(net);
    prob_free(&p);
}
END_TEST

/* Bad input: a status, a message, and the caller's gradient unchanged. */
static void expect_fail(rp_status got, rp_status want, const rp_rule *r, const rp_grad *g,
                        const double *snap, const prob *p, const char *what)
{
    ck_assert_msg(got == want, "%s: got %s, expected %s", what, rp_status_string(got),
                  rp_status_string(want));
    ck_assert_msg(strlen(rp_rule_last_error(r)) > 0, "%s: no message", what);
    double *now = malloc(p->total * sizeof(double));
    grad_flat(p, g, now);
    ck_assert_msg(memcmp(now, snap, p->total * sizeof(double)) == 0, "%s: grad changed", what);
    free(now);
}

START_TEST(bad_input)
{
    tcfg c = sweep_cfg(7 * _i); /* voltage/tanh/MSE and rate/tanh/CE */
    prob p;
    prob_init(&p, &c, 61, 1.0);
    rp_net *net = make_net(&p);
    rp_rule *r = make_rule(net, RP_RULE_EPROP, c.loss);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *snap = malloc(p.total * sizeof(double));
    run_trial(r, net, &p, g, snap); /* a non-zero gradient to protect */
    const size_t T = c.T, nx = T * c.B * c.n_in;
    double E = 0.0;

    expect_fail(rp_rule_trial(r, net, T, p.x, NULL, p.mask, g, &E), RP_ERR_INVALID_ARG, r, g, snap,
                &p, "target NULL");
    expect_fail(rp_rule_trial(r, net, 0, p.x, p.tgt, p.mask, g, &E), RP_ERR_INVALID_ARG, r, g, snap,
                &p, "T = 0");
    expect_fail(rp_rule_trial(r, net, T, NULL, p.tgt, p.mask, g, &E), RP_ERR_INVALID_ARG, r, g,
                snap, &p, "x NULL");
    double keep = p.x[nx - 1];
    p.x[nx - 1] = NAN;
    expect_fail(rp_rule_trial(r, net, T, p.x, p.tgt, p.mask, g, &E), RP_ERR_NONFINITE, r, g, snap,
                &p, "x NaN");
    p.x[nx - 1] = keep;
    keep = p.mask[3];
    p.mask[3] = 1.5;
    expect_fail(rp_rule_trial(r, net, T, p.x, p.tgt, p.mask, g, &E), RP_ERR_INVALID_ARG, r, g, snap,
                &p, "mask 1.5");
    p.mask[3] = keep;
    keep = p.tgt[2];
    p.tgt[2] = c.loss == RP_LOSS_CE ? (double)c.O : INFINITY;
    expect_fail(rp_rule_trial(r, net, T, p.x, p.tgt, p.mask, g, &E),
                c.loss == RP_LOSS_CE ? RP_ERR_INVALID_ARG : RP_ERR_NONFINITE, r, g, snap, &p,
                "bad target");
    p.tgt[2] = keep;

    /* a gradient and a net of other dimensions */
    tcfg c2 = c;
    c2.N = c.N + 1;
    prob p2;
    prob_init(&p2, &c2, 62, 1.0);
    rp_net *net2 = make_net(&p2);
    rp_grad *g2 = NULL;
    ck_assert_int_eq(rp_grad_create(&g2, net2, NULL, 0), RP_OK);
    expect_fail(rp_rule_trial(r, net, T, p.x, p.tgt, p.mask, g2, &E), RP_ERR_DIM_MISMATCH, r, g,
                snap, &p, "grad of another net");
    expect_fail(rp_rule_trial(r, net2, T, p.x, p.tgt, p.mask, g, &E), RP_ERR_DIM_MISMATCH, r, g,
                snap, &p, "net of other dimensions");

    /* a diverging trajectory: the estimate is not finite, grad untouched */
    tcfg c3 = c;
    c3.act = RP_ACT_LINEAR;
    c3.T = 400;
    prob p3;
    prob_init(&p3, &c3, 63, 1.0);
    for (size_t k = 0; k < c3.N * c3.N; k++)
        p3.th[k] = 50.0;
    rp_net *net3 = make_net(&p3);
    rp_rule *r3 = make_rule(net3, RP_RULE_EPROP, c3.loss);
    expect_fail(rp_rule_trial(r3, net3, c3.T, p3.x, p3.tgt, NULL, g, &E), RP_ERR_NONFINITE, r3, g,
                snap, &p, "diverging net");

    /* online out of sequence, and bad online input */
    expect_fail(rp_rule_step(r, net, p.x, p.tgt, NULL, g), RP_ERR_STATE, r, g, snap, &p,
                "step without begin");
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    expect_fail(rp_rule_trial(r, net, T, p.x, p.tgt, p.mask, g, &E), RP_ERR_STATE, r, g, snap, &p,
                "trial inside a stream");
    p.x[0] = NAN;
    expect_fail(rp_rule_step(r, net, p.x, p.tgt, NULL, g), RP_ERR_NONFINITE, r, g, snap, &p,
                "online x NaN");
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);

    free(snap);
    rp_grad_free(g);
    rp_grad_free(g2);
    rp_rule_free(r);
    rp_rule_free(r3);
    rp_net_free(net);
    rp_net_free(net2);
    rp_net_free(net3);
    prob_free(&p);
    prob_free(&p2);
    prob_free(&p3);
}
END_TEST

/* The e-prop online step refuses a step whose loss is not finite, as
   rp_rule_trial and the RTRL step do.  Outputs of 1e160 are finite, but the
   squared error (1e320) and the symmetric learning signal V^T e overflow: the
   step used to return RP_OK with an infinite loss and Inf entries in grad.
   Now nothing changes: grad stays zero and the stream counts no step. */
START_TEST(eprop_step_refuses_nonfinite_loss)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    c.alpha = 0.5;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    const double bias[2] = {1.0, 1.0}, V[2] = {1e160, 1e160};
    RP_CK(rp_net_set_param(net, RP_PARAM_B, bias, 2), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_V, V, 2), net, rp_net_last_error);
    rp_rule *rule = NULL;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_rule_create(&rule, net, RP_RULE_EPROP, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_rule_begin(rule, net), rule, rp_rule_last_error);
    double x = 0.0, y = 0.0, target = 0.0;
    RP_CK(rp_net_step(net, &x, &y), net, rp_net_last_error);
    ck_assert(isfinite(y) && y > 1e159); /* h = (1-a) b = 0.5: y = 1e160 */
    ck_assert_int_eq(rp_rule_step(rule, net, &x, &target, NULL, g), RP_ERR_NONFINITE);
    double norm = -1.0;
    RP_CK(rp_grad_get_norm(g, &norm), g, rp_grad_last_error);
    ck_assert_msg(norm == 0.0, "grad changed by a refused step: norm %g", norm);
    double loss = -1.0;
    RP_CK(rp_rule_end(rule, &loss), rule, rp_rule_last_error);
    ck_assert_msg(loss == 0.0, "the refused step counted: mean loss %g", loss);
    rp_grad_free(g);
    rp_rule_free(rule);
    rp_net_free(net);
}
END_TEST

Suite *suite_rule_eprop(void)
{
    Suite *s = suite_create("rule_eprop");
    TCase *tc = tcase_create("identities");
    tcase_add_loop_test(tc, eprop_equals_frozen_recurrence_fd, 0, N_SWEEP);
    tcase_add_loop_test(tc, eprop_exact_when_w_zero, 0, N_SWEEP);
    tcase_add_loop_test(tc, eprop_no_input_single_trial, 0, 4);
    tcase_add_loop_test(tc, rflo_equals_eprop_same_feedback, 0, N_SWEEP);
    tcase_add_loop_test(tc, trial_equals_online_sum, 0, N_SWEEP);
    suite_add_tcase(s, tc);
    TCase *tu = tcase_create("usage");
    tcase_add_loop_test(tu, online_begins_from_live_state, 0, 6);
    tcase_add_loop_test(tu, trial_reuse_and_net_untouched, 0, 2);
    tcase_add_test(tu, random_feedback_deterministic);
    tcase_add_loop_test(tu, bad_input, 0, 2);
    tcase_add_test(tu, eprop_step_refuses_nonfinite_loss);
    suite_add_tcase(s, tu);
    return s;
}
