/* ModProp (src/rule_modprop.c on src/rule_eprop.c, MODEL.md §4.7).

   The oracle is written here: §4.7's definition with the full sensitivities
   J_t = E_t + N_t (N x N x (N + n_in + 1) per trial, plain loops), and an
   operator argument: exact (RTRL), zero (e-prop) or mu W-bar (ModProp).
   - the identities on the oracle: exact operator == the library's BPTT and
     zero operator == the library's e-prop (two other algorithms) to 1e-12;
   - the rule == the oracle's ModProp operator, every form x activation x
     feedback x loss, B = 2, masks, K = 2 and K = 3 (with an empty type);
   - mu = 0 == e-prop bit for bit; block-constant W, linear f, mu = 1 == BPTT;
   - online sum / T == trial (the e-prop suite's convention), B trials in a
     batch == the mean of B single trials, a checkpoint mid-stream resumes bit
     for bit, and every argument error leaves the rule unchanged. */
#include "testutil.h"

#include <unistd.h>
#include <zlib.h>

static const double ALPHA = 0.8;

typedef struct {
    rp_form form;
    rp_activation act;
    rp_loss loss;
    int random_fb;
    size_t n_in, N, O, B, T;
} mcfg;

typedef struct {
    mcfg c;
    size_t off[5], len[5], total;
    double *th, *h0, *x, *tgt, *mask;
    unsigned types[8];
    double mu;
} mprob;

enum { OP_ZERO, OP_EXACT, OP_MODPROP };

static double f_act(rp_activation a, double v)
{
    return a == RP_ACT_TANH ? tanh(v) : a == RP_ACT_RELU ? (v > 0.0 ? v : 0.0) : v;
}

static double df_act(rp_activation a, double v)
{
    if (a == RP_ACT_TANH) {
        double t = tanh(v);
        return 1.0 - t * t;
    }
    return a == RP_ACT_RELU ? (v > 0.0 ? 1.0 : 0.0) : 1.0;
}

static void mprob_init(mprob *p, const mcfg *c, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->c = *c;
    const size_t N = c->N;
    size_t lens[5] = {N * N, N * c->n_in, N, c->O * N, c->O};
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
    double sw = 1.5 / sqrt((double)N);
    tu_fill(p->th, lens[0], -sw, sw, seed + 1);
    /* a visible block structure, so that the block means are not ~0 */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            p->th[i * N + j] += (j < N / 2 ? 0.4 : -0.3) / sqrt((double)N);
    tu_fill(p->th + p->off[1], lens[1], -1.0, 1.0, seed + 2);
    tu_fill(p->th + p->off[2], lens[2], -0.5, 0.5, seed + 3);
    tu_fill(p->th + p->off[3], lens[3], -1.0, 1.0, seed + 4);
    tu_fill(p->th + p->off[4], lens[4], -0.3, 0.3, seed + 5);
    tu_fill(p->h0, N, -0.6, 0.6, seed + 6);
    tu_fill(p->x, c->T * c->B * c->n_in, -1.0, 1.0, seed + 7);
    tu_fill_targets(p->tgt, c->T * c->B, c->O, c->loss, seed + 8);
    tu_fill(p->mask, c->T * c->B, -0.3, 1.0, seed + 9);
    for (size_t i = 0; i < c->T * c->B; i++)
        p->mask[i] = p->mask[i] < 0.0 ? 0.0 : p->mask[i];
    for (size_t i = 0; i < N; i++) /* two types, interleaved (not sorted) */
        p->types[i] = (unsigned)(i % 3 == 1);
    p->mu = 0.7;
}

static void mprob_free(mprob *p)
{
    free(p->th);
    free(p->h0);
    free(p->x);
    free(p->tgt);
    free(p->mask);
}

/* The oracle: §4.7 with full sensitivities.  fb: n_rec x n_out feedback. */
static void oracle(const mprob *p, const double *fb, int op, double *G)
{
    const mcfg *c = &p->c;
    const size_t N = c->N, I = c->n_in, O = c->O, B = c->B, T = c->T, M = N + I + 1;
    const int volt = c->form == RP_FORM_VOLTAGE;
    const double *W = p->th + p->off[0], *U = p->th + p->off[1], *bb = p->th + p->off[2];
    const double *V = p->th + p->off[3], *cc = p->th + p->off[4];
    double *Jn = calloc(N * N * M, sizeof(double)), *Jx = calloc(N * N * M, sizeof(double));
    double *eps = calloc(N * M, sizeof(double)), *Op = calloc(N * N, sizeof(double));
    double *Wbar = calloc(N * N, sizeof(double));
    double s[8], pre[8], q[8], z[8 + 8 + 1], y[8], e[8], dl[8], dprev[8], dcur[8];
    memset(G, 0, p->total * sizeof(double));
    /* W-bar: block means by the definition */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double sum = 0.0;
            size_t n = 0;
            for (size_t k = 0; k < N; k++)
                for (size_t l = 0; l < N; l++)
                    if (p->types[k] == p->types[i] && p->types[l] == p->types[j]) {
                        sum += W[k * N + l];
                        n++;
                    }
            Wbar[i * N + j] = sum / (double)n;
        }
    for (size_t b = 0; b < B; b++) {
        memset(Jn, 0, N * N * M * sizeof(double));
        memset(eps, 0, N * M * sizeof(double));
        for (size_t i = 0; i < N; i++) {
            s[i] = p->h0[i];
            pre[i] = volt ? f_act(c->act, s[i]) : s[i];
            dprev[i] = df_act(c->act, s[i]); /* f'(h_0), voltage */
        }
        for (size_t t = 0; t < T; t++) {
            const double *xt = p->x + (t * B + b) * I;
            for (size_t j = 0; j < N; j++)
                z[j] = pre[j];
            for (size_t k = 0; k < I; k++)
                z[N + k] = xt[k];
            z[N + I] = 1.0;
            for (size_t i = 0; i < N; i++) {
                double v = bb[i];
                for (size_t j = 0; j < N; j++)
                    v += W[i * N + j] * pre[j];
                for (size_t k = 0; k < I; k++)
                    v += U[i * I + k] * xt[k];
                q[i] = v;
            }
            for (size_t i = 0; i < N; i++) {
                if (volt) {
                    s[i] = ALPHA * s[i] + (1.0 - ALPHA) * q[i];
                    pre[i] = f_act(c->act, s[i]);
                    dcur[i] = df_act(c->act, s[i]);
                } else {
                    s[i] = ALPHA * s[i] + (1.0 - ALPHA) * f_act(c->act, q[i]);
                    pre[i] = s[i];
                    dcur[i] = df_act(c->act, q[i]); /* f'(u_t) */
                }
            }
            /* the operator M_t */
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < N; j++)
                    Op[i * N + j] = op == OP_ZERO    ? 0.0
                                    : op == OP_EXACT ? W[i * N + j] * (volt ? dprev[j] : dcur[i])
                                                     : p->mu * Wbar[i * N + j];
            /* N_t = a N_{t-1} + (1-a) M_t (E_{t-1} + N_{t-1}); E_{t-1}[i,p,q] = [i=p] eps */
            for (size_t i = 0; i < N; i++)
                for (size_t pp = 0; pp < N; pp++)
                    for (size_t qq = 0; qq < M; qq++) {
                        double v = 0.0;
                        for (size_t k = 0; k < N; k++)
                            v += Op[i * N + k] *
                                 (Jn[(k * N + pp) * M + qq] + (k == pp ? eps[pp * M + qq] : 0.0));
                        Jx[(i * N + pp) * M + qq] =
                            ALPHA * Jn[(i * N + pp) * M + qq] + (1.0 - ALPHA) * v;
                    }
            memcpy(Jn, Jx, N * N * M * sizeof(double));
            for (size_t pp = 0; pp < N; pp++) /* eps_t */
                for (size_t qq = 0; qq < M; qq++)
                    eps[pp * M + qq] =
                        ALPHA * eps[pp * M + qq] + (1.0 - ALPHA) * (volt ? 1.0 : dcur[pp]) * z[qq];
            /* output, error (MODEL.md §3, scaled 1/(B T)) */
            double mk = p->mask[t * B + b] / (double)(B * T);
            for (size_t o = 0; o < O; o++) {
                y[o] = cc[o];
                for (size_t i = 0; i < N; i++)
                    y[o] += V[o * N + i] * pre[i];
            }
            if (c->loss == RP_LOSS_MSE) {
                for (size_t o = 0; o < O; o++)
                    e[o] = mk * (y[o] - p->tgt[(t * B + b) * O + o]);
            } else {
                double mx = y[0], zs = 0.0;
                for (size_t o = 1; o < O; o++)
                    mx = y[o] > mx ? y[o] : mx;
                for (size_t o = 0; o < O; o++)
                    zs += exp(y[o] - mx);
                for (size_t o = 0; o < O; o++)
                    e[o] = mk * (exp(y[o] - mx) / zs - (o == (size_t)p->tgt[t * B + b]));
            }
            for (size_t o = 0; o < O; o++) {
                G[p->off[4] + o] += e[o];
                for (size_t i = 0; i < N; i++)
                    G[p->off[3] + o * N + i] += e[o] * pre[i];
            }
            for (size_t i = 0; i < N; i++) {
                double L = 0.0;
                for (size_t o = 0; o < O; o++)
                    L += fb[i * O + o] * e[o];
                dl[i] = volt ? dcur[i] * L : L;
            }
            /* G[p,q] += sum_i delta_i (E_t + N_t)[i,p,q] */
            for (size_t pp = 0; pp < N; pp++)
                for (size_t qq = 0; qq < M; qq++) {
                    double v = dl[pp] * eps[pp * M + qq];
                    for (size_t i = 0; i < N; i++)
                        v += dl[i] * Jn[(i * N + pp) * M + qq];
                    size_t at = qq < N       ? p->off[0] + pp * N + qq
                                : qq < N + I ? p->off[1] + pp * I + (qq - N)
                                             : p->off[2] + pp;
                    G[at] += v;
                }
            memcpy(dprev, dcur, N * sizeof(double));
        }
    }
    free(Jn);
    free(Jx);
    free(eps);
    free(Op);
    free(Wbar);
}

static rp_net *mnet(const mprob *p)
{
    const mcfg *c = &p->c;
    rp_net_config cfg = tu_net_config(c->n_in, c->N, c->O, c->B, c->form, c->act, ALPHA);
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
    for (int k = 0; k < 5; k++)
        RP_CK(rp_net_set_param(net, (rp_param)k, p->th + p->off[k], p->len[k]), net,
              rp_net_last_error);
    RP_CK(rp_net_set_initial_state(net, p->h0, c->N), net, rp_net_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    return net;
}

/* A rule of kind on net with p's loss, feedback (random seed 5), types, mu. */
static rp_rule *mrule(const rp_net *net, const mprob *p, rp_rule_kind kind)
{
    rp_rule *r = NULL;
    ck_assert_int_eq(rp_rule_create(&r, net, kind, NULL, 0), RP_OK);
    RP_CK(rp_rule_set_loss(r, p->c.loss), r, rp_rule_last_error);
    if (kind == RP_RULE_EPROP || kind == RP_RULE_MODPROP)
        RP_CK(
            rp_rule_set_feedback(r, p->c.random_fb ? RP_FEEDBACK_RANDOM : RP_FEEDBACK_SYMMETRIC, 5),
            r, rp_rule_last_error);
    if (kind == RP_RULE_MODPROP) {
        RP_CK(rp_rule_set_cell_types(r, p->types, p->c.N), r, rp_rule_last_error);
        RP_CK(rp_rule_set_modprop_mu(r, p->mu), r, rp_rule_last_error);
    }
    return r;
}

static void flat(const mprob *p, const rp_grad *g, double *out)
{
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(rp_grad_get(g, (rp_param)k, out + p->off[k], p->len[k]), RP_OK);
}

/* rp_rule_trial of rule kind into out (flat); returns the loss. */
static double mtrial(const mprob *p, rp_rule_kind kind, double *out, double *fb)
{
    rp_net *net = mnet(p);
    rp_rule *r = mrule(net, p, kind);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double E = NAN;
    RP_CK(rp_rule_trial(r, net, p->c.T, p->c.n_in ? p->x : NULL, p->tgt, p->mask, g, &E), r,
          rp_rule_last_error);
    flat(p, g, out);
    if (fb)
        RP_CK(rp_rule_get_feedback_matrix(r, net, fb, p->c.N * p->c.O), r, rp_rule_last_error);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
    return E;
}

/* Per-parameter relative error against the oracle (floor 1e-300), each below tol. */
static void close_to(const mprob *p, const double *got, const double *want, double tol,
                     const char *what)
{
    tu_assert_blocks_close_at(p->off, p->len, got, want, tol, 1e-300, what);
}

/* Both forms x {tanh, linear, relu} x {symmetric, random} x {MSE, CE}. */
static mcfg sweep(int i)
{
    static const rp_activation acts[3] = {RP_ACT_TANH, RP_ACT_LINEAR, RP_ACT_RELU};
    mcfg c;
    c.form = (i & 1) ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    c.act = acts[(i >> 1) % 3];
    c.random_fb = (i / 6) & 1;
    c.loss = (i / 12) ? RP_LOSS_CE : RP_LOSS_MSE;
    c.n_in = 2;
    c.N = 6;
    c.O = 3;
    c.B = 2;
    c.T = 6;
    return c;
}
#define N_SWEEP 24

/* The oracle's own identities: exact operator == BPTT, zero == e-prop. */
START_TEST(oracle_identities)
{
    mcfg c = sweep(_i);
    c.random_fb = 0; /* BPTT's feedback is V^T */
    mprob p;
    mprob_init(&p, &c, 100 + (uint64_t)_i);
    double *fb = malloc(c.N * c.O * sizeof(double)), *want = malloc(p.total * sizeof(double));
    double *got = malloc(p.total * sizeof(double));
    mtrial(&p, RP_RULE_BPTT, want, NULL);
    mtrial(&p, RP_RULE_EPROP, got, fb); /* fb = V^T */
    double *ora = malloc(p.total * sizeof(double));
    oracle(&p, fb, OP_EXACT, ora);
    close_to(&p, ora, want, 1e-12, "oracle(exact) vs BPTT");
    oracle(&p, fb, OP_ZERO, ora);
    close_to(&p, ora, got, 1e-12, "oracle(zero) vs e-prop");
    free(fb);
    free(want);
    free(got);
    free(ora);
    mprob_free(&p);
}
END_TEST

/* The rule == the oracle's ModProp operator; K = 2, and K = 3 with type 1
   empty (types 0 and 2 only). */
START_TEST(rule_equals_oracle)
{
    mcfg c = sweep(_i);
    for (int k3 = 0; k3 < 2; k3++) {
        mprob p;
        mprob_init(&p, &c, 200 + (uint64_t)_i);
        if (k3)
            for (size_t i = 0; i < c.N; i++)
                p.types[i] *= 2;
        double *fb = malloc(c.N * c.O * sizeof(double)), *got = malloc(p.total * sizeof(double));
        double *ora = malloc(p.total * sizeof(double)), *ep = malloc(p.total * sizeof(double));
        mtrial(&p, RP_RULE_MODPROP, got, fb);
        oracle(&p, fb, OP_MODPROP, ora);
        close_to(&p, got, ora, 1e-12, k3 ? "ModProp (K = 3) vs oracle" : "ModProp vs oracle");
        /* and the non-local part is there: W's estimate is not e-prop's */
        oracle(&p, fb, OP_ZERO, ep);
        ck_assert(tu_rel_err(got, ep, p.len[0], 1e-300) > 1e-3);
        free(fb);
        free(got);
        free(ora);
        free(ep);
        mprob_free(&p);
    }
}
END_TEST

/* No input (n_in = 0, x NULL) and B = 1: the rule == the oracle, per trial
   and online. */
START_TEST(no_input_single_trial)
{
    mcfg c = sweep(_i * 3);
    c.n_in = 0;
    c.B = 1;
    mprob p;
    mprob_init(&p, &c, 900 + (uint64_t)_i);
    double *fb = malloc(c.N * c.O * sizeof(double)), *got = malloc(p.total * sizeof(double));
    double *ora = malloc(p.total * sizeof(double)), *on = malloc(p.total * sizeof(double));
    mtrial(&p, RP_RULE_MODPROP, got, fb);
    oracle(&p, fb, OP_MODPROP, ora);
    close_to(&p, got, ora, 1e-12, "ModProp (n_in = 0, B = 1) vs oracle");
    rp_net *net = mnet(&p);
    rp_rule *r = mrule(net, &p, RP_RULE_MODPROP);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    const size_t ts = c.loss == RP_LOSS_MSE ? c.O : 1;
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    for (size_t t = 0; t < c.T; t++) {
        RP_CK(rp_net_step(net, NULL, NULL), net, rp_net_last_error);
        RP_CK(rp_rule_step(r, net, NULL, p.tgt + t * ts, p.mask + t, g), r, rp_rule_last_error);
    }
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);
    flat(&p, g, on);
    for (size_t k = 0; k < p.total; k++)
        on[k] /= (double)c.T;
    close_to(&p, on, ora, 1e-12, "ModProp online (n_in = 0, B = 1)/T vs oracle");
    free(fb);
    free(got);
    free(ora);
    free(on);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
    mprob_free(&p);
}
END_TEST

/* mu = 0 is e-prop bit for bit (with the feedback either way). */
START_TEST(mu_zero_is_eprop)
{
    mcfg c = sweep(_i);
    mprob p;
    mprob_init(&p, &c, 300 + (uint64_t)_i);
    p.mu = 0.0;
    double *a = malloc(p.total * sizeof(double)), *b = malloc(p.total * sizeof(double));
    double Ea = mtrial(&p, RP_RULE_MODPROP, a, NULL), Eb = mtrial(&p, RP_RULE_EPROP, b, NULL);
    ck_assert(Ea == Eb);
    ck_assert(memcmp(a, b, p.total * sizeof(double)) == 0);
    free(a);
    free(b);
    mprob_free(&p);
}
END_TEST

/* W constant on the type blocks, linear f, mu = 1: M = W-bar = W = the exact
   operator, so ModProp is BPTT (both forms, both losses). */
START_TEST(block_constant_linear_is_bptt)
{
    mcfg c = sweep(2 + (_i & 1) + 12 * (_i >> 1)); /* linear, symmetric */
    mprob p;
    mprob_init(&p, &c, 400 + (uint64_t)_i);
    const double blk[2][2] = {{0.5, -0.35}, {0.3, -0.45}};
    for (size_t i = 0; i < c.N; i++)
        for (size_t j = 0; j < c.N; j++)
            p.th[i * c.N + j] = blk[p.types[i]][p.types[j]] / sqrt((double)c.N);
    p.mu = 1.0;
    double *a = malloc(p.total * sizeof(double)), *b = malloc(p.total * sizeof(double));
    mtrial(&p, RP_RULE_MODPROP, a, NULL);
    mtrial(&p, RP_RULE_BPTT, b, NULL);
    close_to(&p, a, b, 1e-12, "ModProp (block-constant, linear, mu = 1) vs BPTT");
    free(a);
    free(b);
    mprob_free(&p);
}
END_TEST

/* Run T online steps of r on net from its initial state into g (zeroed first). */
static double mstream(const mprob *p, rp_net *net, rp_rule *r, rp_grad *g, size_t t0, size_t t1,
                      int begin)
{
    const mcfg *c = &p->c;
    const size_t ts = c->loss == RP_LOSS_MSE ? c->B * c->O : c->B;
    if (begin) {
        RP_CK(rp_net_reset(net), net, rp_net_last_error);
        RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    }
    for (size_t t = t0; t < t1; t++) {
        const double *xt = p->x + t * c->B * c->n_in;
        RP_CK(rp_net_step(net, xt, NULL), net, rp_net_last_error);
        RP_CK(rp_rule_step(r, net, xt, p->tgt + t * ts, p->mask + t * c->B, g), r,
              rp_rule_last_error);
    }
    return 0.0;
}

/* Online sum / T == per trial, and the mean online loss == the trial loss;
   K = 2, then K = 1 and K = 3 with an empty type (the filter's three code
   paths) on every fourth configuration. */
START_TEST(online_sum_equals_trial)
{
    mcfg c = sweep(_i % N_SWEEP);
    mprob p;
    mprob_init(&p, &c, 500 + (uint64_t)_i);
    for (size_t i = 0; i < c.N; i++)
        p.types[i] = _i < N_SWEEP ? p.types[i] : _i % 2 ? 0u : 2u * p.types[i];
    double *gt = malloc(p.total * sizeof(double)), *gs = malloc(p.total * sizeof(double));
    double E = mtrial(&p, RP_RULE_MODPROP, gt, NULL);
    rp_net *net = mnet(&p);
    rp_rule *r = mrule(net, &p, RP_RULE_MODPROP);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    mstream(&p, net, r, g, 0, c.T, 1);
    double Es = NAN;
    RP_CK(rp_rule_end(r, &Es), r, rp_rule_last_error);
    flat(&p, g, gs);
    for (size_t k = 0; k < p.total; k++)
        gs[k] /= (double)c.T;
    close_to(&p, gs, gt, 1e-12, "ModProp online/T vs trial");
    ck_assert_double_eq_tol(Es, E, 1e-13 * fabs(E));
    free(gt);
    free(gs);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_net_free(net);
    mprob_free(&p);
}
END_TEST

/* A batch of B trials == the mean of the B trials run alone (B = 3). */
START_TEST(batch_is_mean_of_trials)
{
    mcfg c = sweep(_i);
    c.B = 3;
    mprob p;
    mprob_init(&p, &c, 600 + (uint64_t)_i);
    double *gb = malloc(p.total * sizeof(double)), *g1 = malloc(p.total * sizeof(double));
    double *mean = calloc(p.total, sizeof(double));
    mtrial(&p, RP_RULE_MODPROP, gb, NULL);
    mcfg c1 = c;
    c1.B = 1;
    const size_t ts = c.loss == RP_LOSS_MSE ? c.O : 1;
    for (size_t b = 0; b < c.B; b++) {
        mprob q;
        mprob_init(&q, &c1, 600 + (uint64_t)_i); /* parameters as p's */
        for (size_t t = 0; t < c.T; t++) {
            memcpy(q.x + t * c.n_in, p.x + (t * c.B + b) * c.n_in, c.n_in * sizeof(double));
            memcpy(q.tgt + t * ts, p.tgt + (t * c.B + b) * ts, ts * sizeof(double));
            q.mask[t] = p.mask[t * c.B + b];
        }
        mtrial(&q, RP_RULE_MODPROP, g1, NULL);
        for (size_t k = 0; k < p.total; k++)
            mean[k] += g1[k] / (double)c.B;
        mprob_free(&q);
    }
    close_to(&p, gb, mean, 1e-12, "batch of 3 vs mean of 3 trials");
    free(gb);
    free(g1);
    free(mean);
    mprob_free(&p);
}
END_TEST

/* A checkpoint after 3 of T steps resumes bit for bit: the gradient of the
   remaining steps and the mean loss equal those of the uninterrupted stream. */
START_TEST(checkpoint_resumes_stream)
{
    mcfg c = sweep(_i);
    c.T = 8;
    mprob p;
    mprob_init(&p, &c, 700 + (uint64_t)_i);
    char path[] = "/tmp/rp_test_modprop_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    double *a = malloc(p.total * sizeof(double)), *b = malloc(p.total * sizeof(double));
    rp_net *net = mnet(&p);
    rp_rule *r = mrule(net, &p, RP_RULE_MODPROP);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    mstream(&p, net, r, g, 0, 3, 1);
    char msg[256];
    ck_assert_msg(rp_checkpoint_save(net, NULL, r, path, 3, NULL, 0, msg, sizeof msg) == RP_OK,
                  "%s", msg);
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    mstream(&p, net, r, g, 3, c.T, 0);
    double Ea = NAN, Eb = NAN;
    RP_CK(rp_rule_end(r, &Ea), r, rp_rule_last_error);
    flat(&p, g, a);

    rp_net *net2 = NULL;
    rp_rule *r2 = NULL;
    ck_assert_msg(
        rp_checkpoint_load(&net2, NULL, &r2, path, NULL, NULL, 0, NULL, msg, sizeof msg) == RP_OK,
        "%s", msg);
    rp_grad *g2 = NULL;
    ck_assert_int_eq(rp_grad_create(&g2, net2, NULL, 0), RP_OK);
    mstream(&p, net2, r2, g2, 3, c.T, 0);
    RP_CK(rp_rule_end(r2, &Eb), r2, rp_rule_last_error);
    flat(&p, g2, b);
    ck_assert(Ea == Eb);
    ck_assert(memcmp(a, b, p.total * sizeof(double)) == 0);
    /* the loaded rule keeps mu and the types: its trial equals the original's */
    double *ta = malloc(p.total * sizeof(double)), *tb = malloc(p.total * sizeof(double));
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    RP_CK(rp_grad_zero(g2), g2, rp_grad_last_error);
    RP_CK(rp_rule_trial(r, net, c.T, p.x, p.tgt, p.mask, g, NULL), r, rp_rule_last_error);
    RP_CK(rp_rule_trial(r2, net2, c.T, p.x, p.tgt, p.mask, g2, NULL), r2, rp_rule_last_error);
    flat(&p, g, ta);
    flat(&p, g2, tb);
    ck_assert(memcmp(ta, tb, p.total * sizeof(double)) == 0);
    unlink(path);
    free(a);
    free(b);
    free(ta);
    free(tb);
    rp_grad_free(g);
    rp_grad_free(g2);
    rp_rule_free(r);
    rp_rule_free(r2);
    rp_net_free(net);
    rp_net_free(net2);
    mprob_free(&p);
}
END_TEST

/* W-bar follows the parameters inside a stream: after W changes mid-stream
   through each call that writes parameters (rp_net_set_param,
   rp_optim_step, rp_init_apply) or alpha changes (rp_net_set_alpha), the
   stream continues exactly as a stream loaded from a checkpoint taken right
   after the change (a new rule, whose W-bar is taken afresh from the loaded
   net).  With a stale W-bar the gradients differ (checked: the test fails
   when the version is not bumped). */
START_TEST(stream_follows_param_changes)
{
    const int how = _i % 4;
    mcfg c = sweep(_i / 4 * 5); /* voltage and rate, several activations */
    c.T = 8;
    mprob p;
    mprob_init(&p, &c, 900 + (uint64_t)_i);
    char path[] = "/tmp/rp_test_modprop_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    double *a = malloc(p.total * sizeof(double)), *b = malloc(p.total * sizeof(double));
    rp_net *net = mnet(&p);
    rp_rule *r = mrule(net, &p, RP_RULE_MODPROP);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    mstream(&p, net, r, g, 0, 3, 1);
    if (how == 0) {
        double *W = malloc(c.N * c.N * sizeof(double));
        tu_fill(W, c.N * c.N, -1.0, 1.0, 77);
        RP_CK(rp_net_set_param(net, RP_PARAM_W, W, c.N * c.N), net, rp_net_last_error);
        free(W);
    } else if (how == 1) {
        rp_optim *o = NULL;
        ck_assert_int_eq(rp_optim_create(&o, net, RP_OPTIM_SGD, NULL, 0), RP_OK);
        RP_CK(rp_optim_set_lr(o, 0.5), o, rp_optim_last_error);
        RP_CK(rp_optim_step(o, net, g), o, rp_optim_last_error); /* the stream's gradient so far */
        rp_optim_free(o);
    } else if (how == 2) {
        rp_init *in = NULL;
        ck_assert_int_eq(rp_init_create(&in, RP_INIT_UNIFORM, NULL, 0), RP_OK);
        RP_CK(rp_init_apply(in, net, RP_PARAM_W, 31), net, rp_net_last_error);
        rp_init_free(in);
    } else {
        RP_CK(rp_net_set_alpha(net, 0.6), net, rp_net_last_error);
    }
    char msg[256];
    ck_assert_msg(rp_checkpoint_save(net, NULL, r, path, 3, NULL, 0, msg, sizeof msg) == RP_OK,
                  "%s", msg);
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    mstream(&p, net, r, g, 3, c.T, 0);
    flat(&p, g, a);

    rp_net *net2 = NULL;
    rp_rule *r2 = NULL;
    ck_assert_msg(
        rp_checkpoint_load(&net2, NULL, &r2, path, NULL, NULL, 0, NULL, msg, sizeof msg) == RP_OK,
        "%s", msg);
    rp_grad *g2 = NULL;
    ck_assert_int_eq(rp_grad_create(&g2, net2, NULL, 0), RP_OK);
    mstream(&p, net2, r2, g2, 3, c.T, 0);
    flat(&p, g2, b);
    ck_assert_msg(memcmp(a, b, p.total * sizeof(double)) == 0,
                  "change %d: the stream kept a stale W-bar", how);
    unlink(path);
    free(a);
    free(b);
    rp_grad_free(g);
    rp_grad_free(g2);
    rp_rule_free(r);
    rp_rule_free(r2);
    rp_net_free(net);
    rp_net_free(net2);
    mprob_free(&p);
}
END_TEST

/* The ModProp section of a checkpoint is checked: a cell type >= n_rec and
   a non-finite mu are refused (the CRC recomputed, so only the field check
   can refuse them).  The section is found by mu's bytes, the types follow. */
START_TEST(checkpoint_section_checked)
{
    mcfg c = sweep(_i);
    mprob p;
    mprob_init(&p, &c, 750);
    p.mu = 0.123456789;
    char path[] = "/tmp/rp_test_modprop_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    rp_net *net = mnet(&p);
    rp_rule *r = mrule(net, &p, RP_RULE_MODPROP);
    char msg[256];
    ck_assert_msg(rp_checkpoint_save(net, NULL, r, path, 0, NULL, 0, msg, sizeof msg) == RP_OK,
                  "%s", msg);
    size_t len = 0;
    unsigned char *b = tu_read_file(path, &len);
    ck_assert_uint_eq(b[8], 3); /* version 3: a ModProp rule */
    size_t at = 0;
    for (size_t i = 0; i + 8 <= len && !at; i++)
        if (memcmp(b + i, &p.mu, 8) == 0)
            at = i;
    ck_assert(at > 0);
    for (int k = 0; k < 3; k++) {
        unsigned char *e = malloc(len);
        memcpy(e, b, len);
        if (k == 0) { /* type of unit 0 = n_rec */
            uint32_t v = (uint32_t)c.N;
            for (int j = 0; j < 4; j++)
                e[at + 8 + j] = (unsigned char)(v >> (8 * j));
        } else if (k == 1) { /* mu NaN */
            double nan_ = NAN;
            memcpy(e + at, &nan_, 8);
        } else { /* the ModProp bit cleared: the section's bytes are then trailing */
            e[24] &= (unsigned char)~8u;
        }
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), e, (uInt)(len - 4));
        for (int j = 0; j < 4; j++)
            e[len - 4 + j] = (unsigned char)(crc >> (8 * j));
        tu_write_file(path, e, len);
        rp_net *n2 = NULL;
        rp_rule *r2 = NULL;
        rp_status st =
            rp_checkpoint_load(&n2, NULL, &r2, path, NULL, NULL, 0, NULL, msg, sizeof msg);
        ck_assert_msg(st == RP_ERR_FORMAT, "case %d: %s (%s)", k, rp_status_string(st), msg);
        ck_assert(!n2 && !r2);
        free(e);
    }
    unlink(path);
    free(b);
    rp_rule_free(r);
    rp_net_free(net);
    mprob_free(&p);
}
END_TEST

/* A failed setter changes nothing: the trial after it equals the one before. */
START_TEST(bad_arguments)
{
    mcfg c = sweep(0);
    mprob p;
    mprob_init(&p, &c, 800);
    rp_net *net = mnet(&p);
    rp_rule *r = mrule(net, &p, RP_RULE_MODPROP), *re = mrule(net, &p, RP_RULE_EPROP);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double *before = malloc(p.total * sizeof(double)), *after = malloc(p.total * sizeof(double));
    RP_CK(rp_rule_trial(r, net, c.T, p.x, p.tgt, p.mask, g, NULL), r, rp_rule_last_error);
    flat(&p, g, before);
    unsigned bad[8];
    memcpy(bad, p.types, sizeof bad);
    bad[4] = (unsigned)c.N;
    ck_assert_int_eq(rp_rule_set_cell_types(r, bad, c.N), RP_ERR_INVALID_ARG);
    ck_assert(strstr(rp_rule_last_error(r), "types[4]") != NULL);
    ck_assert_int_eq(rp_rule_set_cell_types(r, NULL, c.N), RP_ERR_INVALID_ARG);
    ck_assert(strstr(rp_rule_last_error(r), "types") != NULL);
    ck_assert_int_eq(rp_rule_set_cell_types(r, p.types, c.N - 1), RP_ERR_DIM_MISMATCH);
    ck_assert(strstr(rp_rule_last_error(r), "n_rec") != NULL);
    ck_assert_int_eq(rp_rule_set_modprop_mu(r, NAN), RP_ERR_INVALID_ARG);
    ck_assert(strstr(rp_rule_last_error(r), "mu") != NULL);
    ck_assert_int_eq(rp_rule_set_modprop_mu(r, INFINITY), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_set_cell_types(re, p.types, c.N), RP_ERR_UNSUPPORTED);
    ck_assert_int_eq(rp_rule_set_modprop_mu(re, 0.5), RP_ERR_UNSUPPORTED);
    ck_assert_int_eq(rp_rule_set_cell_types(NULL, p.types, c.N), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_rule_set_modprop_mu(NULL, 0.5), RP_ERR_INVALID_ARG);
    RP_CK(rp_rule_begin(r, net), r, rp_rule_last_error);
    ck_assert_int_eq(rp_rule_set_cell_types(r, p.types, c.N), RP_ERR_STATE);
    ck_assert_int_eq(rp_rule_set_modprop_mu(r, 0.1), RP_ERR_STATE);
    RP_CK(rp_rule_end(r, NULL), r, rp_rule_last_error);
    RP_CK(rp_grad_zero(g), g, rp_grad_last_error);
    RP_CK(rp_rule_trial(r, net, c.T, p.x, p.tgt, p.mask, g, NULL), r, rp_rule_last_error);
    flat(&p, g, after);
    ck_assert(memcmp(before, after, p.total * sizeof(double)) == 0);
    ck_assert_str_eq(rp_rule_kind_name(RP_RULE_MODPROP), "modprop");
    ck_assert_ptr_null(rp_rule_kind_name((rp_rule_kind)(RP_RULE_MODPROP + 1)));
    rp_rule *rx = NULL;
    ck_assert_int_eq(rp_rule_create(&rx, net, (rp_rule_kind)(RP_RULE_MODPROP + 1), NULL, 0),
                     RP_ERR_INVALID_ARG);
    free(before);
    free(after);
    rp_grad_free(g);
    rp_rule_free(r);
    rp_rule_free(re);
    rp_net_free(net);
    mprob_free(&p);
}
END_TEST

Suite *suite_modprop(void)
{
    Suite *s = suite_create("modprop");
    TCase *tc = tcase_create("oracle");
    tcase_add_loop_test(tc, oracle_identities, 0, N_SWEEP);
    tcase_add_loop_test(tc, rule_equals_oracle, 0, N_SWEEP);
    tcase_add_loop_test(tc, mu_zero_is_eprop, 0, N_SWEEP);
    tcase_add_loop_test(tc, block_constant_linear_is_bptt, 0, 4);
    suite_add_tcase(s, tc);
    TCase *tu = tcase_create("usage");
    tcase_add_loop_test(tu, online_sum_equals_trial, 0, 2 * N_SWEEP);
    tcase_add_loop_test(tu, no_input_single_trial, 0, 8);
    tcase_add_loop_test(tu, batch_is_mean_of_trials, 0, N_SWEEP);
    tcase_add_loop_test(tu, checkpoint_resumes_stream, 0, N_SWEEP);
    tcase_add_test(tu, bad_arguments);
    tcase_add_loop_test(tu, stream_follows_param_changes, 0, 16);
    tcase_add_loop_test(tu, checkpoint_section_checked, 0, 2);
    suite_add_tcase(s, tu);
    return s;
}
