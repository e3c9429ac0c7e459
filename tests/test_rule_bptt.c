/* BPTT and TBPTT(K) (MODEL.md §4.1–4.2) against independent oracles: central
   finite differences of the loss, and a naive per-loss-term back-propagation
   written here with plain loops (no BLAS, no library code but the forward
   parameters). */
#include "fd.h"
#include "testutil.h"

#define NREC 5
#define NIN 2
#define NOUT 3
#define BATCH 3
#define TSTEPS 6
#define ALPHA 0.8

/* One problem: a net with random parameters and initial state, and data. */
typedef struct prob {
    rp_net *net;
    rp_form form;
    rp_activation act;
    rp_loss loss;
    size_t N, n_in, O, B, T, P; /* P: total parameter count */
    double x[TSTEPS * BATCH * NIN];
    double target[TSTEPS * BATCH * NOUT];
    double mask[TSTEPS * BATCH];
} prob;

static void prob_init(prob *p, rp_form form, rp_activation act, rp_loss loss, size_t n_in,
                      uint64_t seed, double gain)
{
    memset(p, 0, sizeof *p);
    p->form = form;
    p->act = act;
    p->loss = loss;
    p->N = NREC;
    p->n_in = n_in;
    p->O = NOUT;
    p->B = BATCH;
    p->T = TSTEPS;
    rp_net_config c = tu_net_config(n_in, NREC, NOUT, BATCH, form, act, ALPHA);
    ck_assert_int_eq(rp_net_create(&p->net, &c, NULL, 0), RP_OK);
    p->P = tu_set_random_params(p->net, gain, 0.8, seed * 31);
    tu_set_random_initial_state(p->net, 0.5, seed * 31 + 7);
    tu_fill_trial_data(p->x, n_in, p->target, NOUT, loss, p->mask, p->T * p->B, seed * 31 + 8);
}

static void prob_free(prob *p) { rp_net_free(p->net); }

static rp_rule *make_rule(const prob *p, rp_rule_kind kind, size_t K)
{
    rp_rule *r = NULL;
    ck_assert_int_eq(rp_rule_create(&r, p->net, kind, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_rule_set_loss(r, p->loss), RP_OK);
    if (kind == RP_RULE_TBPTT)
        ck_assert_int_eq(rp_rule_set_truncation(r, K), RP_OK);
    return r;
}

/* The rule's gradient as one flat vector (layout order) and its loss. */
static void rule_grad(rp_rule *r, const prob *p, double *g, double *E)
{
    tu_trial_grad(r, p->net, p->T, p->n_in ? p->x : NULL, p->target, p->mask, g, E);
}

/* ---- the reference model: plain loops, per trial, per loss term -------- */

static double ref_f(rp_activation a, double v)
{
    return a == RP_ACT_RELU ? (v > 0.0 ? v : 0.0) : a == RP_ACT_TANH ? tanh(v) : v;
}

static double ref_df(rp_activation a, double v)
{
    if (a == RP_ACT_RELU)
        return v > 0.0 ? 1.0 : 0.0;
    if (a == RP_ACT_TANH) {
        double t = tanh(v);
        return 1.0 - t * t;
    }
    return 1.0;
}

typedef struct ref {
    double W[NREC * NREC], U[NREC * NIN], b[NREC], V[NOUT * NREC], c[NOUT];
    /* per trial b and step t = 0..T: the state, the pre-activation (h or u), the activity z */
    double s[BATCH][TSTEPS + 1][NREC], pre[BATCH][TSTEPS + 1][NREC], z[BATCH][TSTEPS + 1][NREC];
    double e[BATCH][TSTEPS + 1][NOUT]; /* dE/dy_t */
    double E;
} ref;

static void ref_forward(ref *R, const prob *p)
{
    const size_t N = p->N, I = p->n_in, O = p->O, B = p->B, T = p->T;
    ck_assert_int_eq(rp_net_get_param(p->net, RP_PARAM_W, R->W, N * N), RP_OK);
    ck_assert_int_eq(rp_net_get_param(p->net, RP_PARAM_U, R->U, N * I), RP_OK);
    ck_assert_int_eq(rp_net_get_param(p->net, RP_PARAM_B, R->b, N), RP_OK);
    ck_assert_int_eq(rp_net_get_param(p->net, RP_PARAM_V, R->V, O * N), RP_OK);
    ck_assert_int_eq(rp_net_get_param(p->net, RP_PARAM_C, R->c, O), RP_OK);
    double h0[NREC];
    ck_assert_int_eq(rp_net_get_initial_state(p->net, h0, N), RP_OK);
    const double a = ALPHA;
    R->E = 0.0;
    for (size_t bb = 0; bb < B; bb++) {
        for (size_t i = 0; i < N; i++) {
            R->s[bb][0][i] = h0[i];
            R->pre[bb][0][i] = h0[i];
            R->z[bb][0][i] = p->form == RP_FORM_VOLTAGE ? ref_f(p->act, h0[i]) : h0[i];
        }
        for (size_t t = 1; t <= T; t++) {
            const double *x = p->x + ((t - 1) * B + bb) * I;
            for (size_t i = 0; i < N; i++) {
                double d = R->b[i];
                for (size_t j = 0; j < N; j++)
                    d += R->W[i * N + j] * R->z[bb][t - 1][j];
                for (size_t j = 0; j < I; j++)
                    d += R->U[i * I + j] * x[j];
                if (p->form == RP_FORM_VOLTAGE) {
                    R->s[bb][t][i] = a * R->s[bb][t - 1][i] + (1 - a) * d;
                    R->pre[bb][t][i] = R->s[bb][t][i];
                } else {
                    R->pre[bb][t][i] = d;
                    R->s[bb][t][i] = a * R->s[bb][t - 1][i] + (1 - a) * ref_f(p->act, d);
                }
            }
            for (size_t i = 0; i < N; i++)
                R->z[bb][t][i] =
                    p->form == RP_FORM_VOLTAGE ? ref_f(p->act, R->s[bb][t][i]) : R->s[bb][t][i];
            /* output, loss and its error (MODEL.md §3) */
            double y[NOUT];
            for (size_t o = 0; o < O; o++) {
                y[o] = R->c[o];
                for (size_t j = 0; j < N; j++)
                    y[o] += R->V[o * N + j] * R->z[bb][t][j];
            }
            double m = p->mask[(t - 1) * B + bb] / (double)(B * T);
            if (p->loss == RP_LOSS_MSE) {
                const double *ys = p->target + ((t - 1) * B + bb) * O;
                for (size_t o = 0; o < O; o++) {
                    R->E += m * 0.5 * (y[o] - ys[o]) * (y[o] - ys[o]);
                    R->e[bb][t][o] = m * (y[o] - ys[o]);
                }
            } else {
                size_t k = (size_t)p->target[(t - 1) * B + bb];
                double zs = 0.0;
                for (size_t o = 0; o < O; o++)
                    zs += exp(y[o]);
                R->E += m * (log(zs) - y[k]);
                for (size_t o = 0; o < O; o++)
                    R->e[bb][t][o] = m * (exp(y[o]) / zs - (o == k));
            }
        }
    }
}

/* Smallest |pre-activation| at which f' is evaluated on parameter paths. */
static double ref_margin(const ref *R, const prob *p)
{
    double m = INFINITY;
    for (size_t bb = 0; bb < p->B; bb++)
        for (size_t t = 1; t <= p->T; t++)
            for (size_t i = 0; i < p->N; i++)
                m = fmin(m, fabs(R->pre[bb][t][i]));
    return m;
}

/* The gradient with each loss term E_s back-propagated through the states
   s, s-1, ..., s-K+1 only (MODEL.md §4.2; K >= T is the full gradient),
   one term at a time.  g in layout order. */
static void ref_grad(const ref *R, const prob *p, size_t K, double *g)
{
    const size_t N = p->N, I = p->n_in, O = p->O, B = p->B, T = p->T;
    double *gW = g, *gU = gW + N * N, *gb = gU + N * I, *gV = gb + N, *gc = gV + O * N;
    const double a = ALPHA;
    memset(g, 0, p->P * sizeof(double));
    for (size_t bb = 0; bb < B; bb++) {
        for (size_t s = 1; s <= T; s++) {
            const double *e = R->e[bb][s];
            for (size_t o = 0; o < O; o++) {
                gc[o] += e[o];
                for (size_t j = 0; j < N; j++)
                    gV[o * N + j] += e[o] * R->z[bb][s][j];
            }
            double adj[NREC], nxt[NREC]; /* dE_s/dstate_t */
            for (size_t i = 0; i < N; i++) {
                double v = 0.0;
                for (size_t o = 0; o < O; o++)
                    v += R->V[o * N + i] * e[o];
                adj[i] = p->form == RP_FORM_VOLTAGE ? ref_df(p->act, R->s[bb][s][i]) * v : v;
            }
            size_t lo = s >= K ? s - K + 1 : 1;
            for (size_t t = s; t >= lo; t--) {
                const double *x = p->x + ((t - 1) * B + bb) * I;
                for (size_t i = 0; i < N; i++) {
                    /* immediate dependence of state_t on the row-i parameters */
                    double d =
                        (1 - a) * adj[i] *
                        (p->form == RP_FORM_VOLTAGE ? 1.0 : ref_df(p->act, R->pre[bb][t][i]));
                    gb[i] += d;
                    for (size_t j = 0; j < N; j++)
                        gW[i * N + j] += d * R->z[bb][t - 1][j];
                    for (size_t j = 0; j < I; j++)
                        gU[i * I + j] += d * x[j];
                }
                if (t == lo)
                    break;
                /* adj <- D_t^T adj (MODEL.md §1) */
                for (size_t j = 0; j < N; j++) {
                    double v = 0.0;
                    for (size_t i = 0; i < N; i++)
                        v += R->W[i * N + j] * adj[i] *
                             (p->form == RP_FORM_RATE ? ref_df(p->act, R->pre[bb][t][i]) : 1.0);
                    if (p->form == RP_FORM_VOLTAGE)
                        v *= ref_df(p->act, R->s[bb][t - 1][j]);
                    nxt[j] = a * adj[j] + (1 - a) * v;
                }
                memcpy(adj, nxt, sizeof adj);
            }
        }
    }
}

/* tu_assert_blocks_close, naming the case in the message */
static void assert_blocks_close(const prob *p, const double *a, const double *b, double tol,
                                const char *what)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s (form %d, act %d, loss %d)", what, (int)p->form, (int)p->act,
             (int)p->loss);
    tu_assert_blocks_close(p->net, a, b, tol, msg);
}

/* ---- tests ------------------------------------------------------------- */

#define NP (NREC * NREC + NREC * NIN + NREC + NOUT * NREC + NOUT)

/* 12 cases: form x activation x loss.  ReLU networks are drawn until every
   pre-activation along the trajectory is at least 1e-2 from the kink, far
   beyond how far an FD step of 1e-5 moves a state (< 1e-4 here), so the loss
   is smooth on the whole FD stencil. */
START_TEST(bptt_matches_finite_differences)
{
    rp_form form = (rp_form)(_i / 6);
    rp_activation act = (rp_activation)(_i / 2 % 3);
    rp_loss loss = (rp_loss)(_i % 2);
    prob p;
    static ref R;
    uint64_t seed = 1 + (uint64_t)_i;
    for (int tries = 0;; tries++) {
        prob_init(&p, form, act, loss, NIN, seed, 1.5);
        ref_forward(&R, &p);
        if (act != RP_ACT_RELU || ref_margin(&R, &p) > 1e-2)
            break;
        prob_free(&p);
        seed += 1000;
        ck_assert_msg(tries < 200, "no ReLU network with a margin");
    }
    rp_rule *r = make_rule(&p, RP_RULE_BPTT, 0);
    double g[NP], fd[NP], E = 0.0;
    ck_assert_uint_eq(p.P, NP);
    rule_grad(r, &p, g, &E);
    /* the loss itself against the plain-loop model (rounding only) */
    ck_assert_double_eq_tol(E, R.E, 1e-13 * fmax(1.0, fabs(R.E)));
    /* h = 1e-5: truncation h^2 |E'''| ~ 1e-10 and rounding eps|E|/h ~ 1e-11,
       both far below the 1e-6 asked of the exact gradient */
    ck_assert_int_eq(fd_grad(r, p.net, p.T, p.x, p.target, p.mask, 1e-5, fd, NP), RP_OK);
    assert_blocks_close(&p, g, fd, 1e-6, "BPTT vs FD");
    rp_rule_free(r);
    prob_free(&p);
}
END_TEST

/* Autonomous network (n_in = 0, x = NULL), as in the sines task. */
START_TEST(bptt_no_input_matches_finite_differences)
{
    prob p;
    prob_init(&p, _i ? RP_FORM_RATE : RP_FORM_VOLTAGE, RP_ACT_TANH, RP_LOSS_MSE, 0, 77, 1.2);
    rp_rule *r = make_rule(&p, RP_RULE_BPTT, 0);
    size_t P = p.P;
    double g[NP], fd[NP], E;
    rule_grad(r, &p, g, &E);
    ck_assert_int_eq(fd_grad(r, p.net, p.T, NULL, p.target, p.mask, 1e-5, fd, P), RP_OK);
    assert_blocks_close(&p, g, fd, 1e-6, "BPTT (no input) vs FD");
    rp_rule_free(r);
    prob_free(&p);
}
END_TEST

/* The full-window naive oracle (K = T) equals BPTT to rounding: a second,
   loop-based check of every block, at 1e-12 (different summation order only). */
START_TEST(bptt_matches_naive_backprop)
{
    rp_form form = (rp_form)(_i / 6);
    rp_activation act = (rp_activation)(_i / 2 % 3);
    rp_loss loss = (rp_loss)(_i % 2);
    prob p;
    static ref R;
    prob_init(&p, form, act, loss, NIN, 500 + (uint64_t)_i, 1.5);
    ref_forward(&R, &p);
    rp_rule *r = make_rule(&p, RP_RULE_BPTT, 0);
    double g[NP], want[NP], E;
    rule_grad(r, &p, g, &E);
    ref_grad(&R, &p, p.T, want);
    assert_blocks_close(&p, g, want, 1e-12, "BPTT vs naive");
    rp_rule_free(r);
    prob_free(&p);
}
END_TEST

/* K >= T is BPTT: the same code path, so bit-identical. */
START_TEST(tbptt_full_window_is_bptt)
{
    prob p;
    prob_init(&p, _i ? RP_FORM_RATE : RP_FORM_VOLTAGE, RP_ACT_TANH, RP_LOSS_CE, NIN, 9, 1.5);
    rp_rule *b = make_rule(&p, RP_RULE_BPTT, 0);
    double gb[NP], gt[NP], Eb, Et;
    rule_grad(b, &p, gb, &Eb);
    size_t Ks[] = {TSTEPS, TSTEPS + 5};
    for (int k = 0; k < 2; k++) {
        rp_rule *t = make_rule(&p, RP_RULE_TBPTT, Ks[k]);
        rule_grad(t, &p, gt, &Et);
        ck_assert(memcmp(gb, gt, sizeof gb) == 0);
        ck_assert(Eb == Et);
        rp_rule_free(t);
    }
    rp_rule_free(b);
    prob_free(&p);
}
END_TEST

/* K < T against the per-term naive oracle: forms x activations x K in
   {1, 2, 3, T-1}.  Tolerance 1e-12: the two differ in summation order only. */
START_TEST(tbptt_matches_naive_truncation)
{
    static const size_t Ks[] = {1, 2, 3, TSTEPS - 1};
    rp_form form = (rp_form)(_i / 12);
    rp_activation act = (rp_activation)(_i / 4 % 3);
    size_t K = Ks[_i % 4];
    prob p;
    static ref R;
    prob_init(&p, form, act, (rp_loss)(_i % 2), NIN, 900 + (uint64_t)_i, 1.5);
    ref_forward(&R, &p);
    rp_rule *r = make_rule(&p, RP_RULE_TBPTT, K);
    double g[NP], want[NP], full[NP], E;
    rule_grad(r, &p, g, &E);
    ck_assert_double_eq_tol(E, R.E, 1e-13 * fmax(1.0, fabs(R.E)));
    ref_grad(&R, &p, K, want);
    assert_blocks_close(&p, g, want, 1e-12, "TBPTT vs naive");
    /* and truncation does change W's gradient (the oracle is not trivially BPTT's) */
    ref_grad(&R, &p, p.T, full);
    ck_assert(tu_rel_err(want, full, NREC * NREC, 1e-12) > 1e-6);
    rp_rule_free(r);
    prob_free(&p);
}
END_TEST

/* Trials start from h0 and leave the net as it was; results repeat exactly,
   also after the workspaces grew for a longer T. */
START_TEST(trial_uses_h0_and_leaves_net_unchanged)
{
    prob p;
    prob_init(&p, RP_FORM_VOLTAGE, RP_ACT_TANH, RP_LOSS_MSE, NIN, 3, 1.5);
    rp_rule *r = make_rule(&p, RP_RULE_TBPTT, 2);
    double g1[NP], g2[NP], E1, E2;
    rule_grad(r, &p, g1, &E1);
    /* move the live state away from h0 */
    ck_assert_int_eq(rp_net_run(p.net, 2, p.x, NULL), RP_OK);
    double theta[NP], s0[BATCH * NREC], theta2[NP], s1[BATCH * NREC];
    tu_params_flat(p.net, theta);
    ck_assert_int_eq(rp_net_get_state(p.net, s0, BATCH * NREC), RP_OK);
    /* a longer trial grows the workspaces; then the first again */
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, p.net, NULL, 0), RP_OK);
    double xl[3 * TSTEPS * BATCH * NIN], tl[3 * TSTEPS * BATCH * NOUT];
    tu_fill(xl, sizeof xl / sizeof *xl, -1, 1, 5);
    tu_fill(tl, sizeof tl / sizeof *tl, -1, 1, 6);
    ck_assert_int_eq(rp_rule_trial(r, p.net, 3 * TSTEPS, xl, tl, NULL, gr, NULL), RP_OK);
    rule_grad(r, &p, g2, &E2);
    ck_assert(memcmp(g1, g2, sizeof g1) == 0);
    ck_assert(E1 == E2);
    tu_params_flat(p.net, theta2);
    ck_assert_int_eq(rp_net_get_state(p.net, s1, BATCH * NREC), RP_OK);
    ck_assert(memcmp(theta, theta2, sizeof theta) == 0);
    ck_assert(memcmp(s0, s1, sizeof s0) == 0);
    rp_grad_free(gr);
    rp_rule_free(r);
    prob_free(&p);
}
END_TEST

/* The grad after a failed call equals the one before (a fixed pattern). */
static void expect_fail(rp_rule *r, rp_status got, rp_status want, rp_grad *gr, const char *needle)
{
    ck_assert_msg(got == want, "status %s, expected %s (%s)", rp_status_string(got),
                  rp_status_string(want), rp_rule_last_error(r));
    ck_assert_msg(strstr(rp_rule_last_error(r), needle) != NULL, "message '%s' lacks '%s'",
                  rp_rule_last_error(r), needle);
    double n = -1.0;
    ck_assert_int_eq(rp_grad_get_norm(gr, &n), RP_OK);
    ck_assert_double_eq(n, 2.0); /* the pattern set below: 4 entries of 1 */
}

START_TEST(bad_input_is_refused)
{
    prob p;
    prob_init(&p, RP_FORM_VOLTAGE, RP_ACT_LINEAR, RP_LOSS_CE, NIN, 4, 1.0);
    rp_rule_kind kind = _i ? RP_RULE_TBPTT : RP_RULE_BPTT;
    rp_rule *r = make_rule(&p, kind, 2);
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, p.net, NULL, 0), RP_OK);
    double ones[NREC] = {1, 1, 1, 1, 0};
    ck_assert_int_eq(rp_grad_set(gr, RP_PARAM_B, ones, NREC), RP_OK);
    const size_t T = p.T;
    double tgt[TSTEPS * BATCH], msk[TSTEPS * BATCH];

    memcpy(tgt, p.target, sizeof tgt);
    tgt[7] = NOUT; /* class index out of [0, n_out) */
    expect_fail(r, rp_rule_trial(r, p.net, T, p.x, tgt, p.mask, gr, NULL), RP_ERR_INVALID_ARG, gr,
                "target at step 2, trial 1");
    tgt[7] = -1;
    expect_fail(r, rp_rule_trial(r, p.net, T, p.x, tgt, p.mask, gr, NULL), RP_ERR_INVALID_ARG, gr,
                "class index");
    tgt[7] = 0.5;
    expect_fail(r, rp_rule_trial(r, p.net, T, p.x, tgt, p.mask, gr, NULL), RP_ERR_INVALID_ARG, gr,
                "class index");
    memcpy(msk, p.mask, sizeof msk);
    msk[4] = 1.5;
    expect_fail(r, rp_rule_trial(r, p.net, T, p.x, p.target, msk, gr, NULL), RP_ERR_INVALID_ARG, gr,
                "mask at step 1, trial 1");
    msk[4] = -0.25;
    expect_fail(r, rp_rule_trial(r, p.net, T, p.x, p.target, msk, gr, NULL), RP_ERR_INVALID_ARG, gr,
                "mask");
    expect_fail(r, rp_rule_trial(r, p.net, 0, p.x, p.target, NULL, gr, NULL), RP_ERR_INVALID_ARG,
                gr, "T is 0");
    expect_fail(r, rp_rule_trial(r, p.net, T, NULL, p.target, NULL, gr, NULL), RP_ERR_INVALID_ARG,
                gr, "x is NULL");
    double xbad[TSTEPS * BATCH * NIN];
    memcpy(xbad, p.x, sizeof xbad);
    xbad[5] = NAN;
    expect_fail(r, rp_rule_trial(r, p.net, T, xbad, p.target, NULL, gr, NULL), RP_ERR_NONFINITE, gr,
                "x at step 0, trial 2");

    /* a grad and a net of other dimensions, and a rule built for another net */
    prob q;
    prob_init(&q, RP_FORM_RATE, RP_ACT_LINEAR, RP_LOSS_CE, 1, 4, 1.0);
    rp_grad *gq = NULL;
    ck_assert_int_eq(rp_grad_create(&gq, q.net, NULL, 0), RP_OK);
    rp_status st = rp_rule_trial(r, p.net, T, p.x, p.target, NULL, gq, NULL);
    ck_assert_int_eq(st, RP_ERR_DIM_MISMATCH);
    ck_assert_ptr_nonnull(strstr(rp_rule_last_error(r), "grad has"));
    expect_fail(r, rp_rule_trial(r, q.net, T, q.x, q.target, NULL, gr, NULL), RP_ERR_DIM_MISMATCH,
                gr, "the rule was built for");
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(p.net, &c, sizeof c), RP_OK);
    c.form = RP_FORM_RATE;
    rp_net *other = NULL;
    ck_assert_int_eq(rp_net_create(&other, &c, NULL, 0), RP_OK);
    expect_fail(r, rp_rule_trial(r, other, T, p.x, p.target, NULL, gr, NULL), RP_ERR_DIM_MISMATCH,
                gr, "form");
    rp_net_free(other);

    /* a diverging trajectory: linear units, W = 1e200 I */
    double Wbig[NREC * NREC] = {0};
    for (int i = 0; i < NREC; i++)
        Wbig[i * NREC + i] = 1e200;
    rp_net *wild = NULL;
    ck_assert_int_eq(rp_net_clone(&wild, p.net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_net_set_param(wild, RP_PARAM_W, Wbig, NREC * NREC), RP_OK);
    expect_fail(r, rp_rule_trial(r, wild, T, p.x, p.target, NULL, gr, NULL), RP_ERR_NONFINITE, gr,
                "diverged at step");
    rp_net_free(wild);

    /* no online mode */
    expect_fail(r, rp_rule_begin(r, p.net), RP_ERR_UNSUPPORTED, gr, "no online mode");
    expect_fail(r, rp_rule_step(r, p.net, p.x, p.target, NULL, gr), RP_ERR_STATE, gr,
                "no online stream");
    if (kind == RP_RULE_TBPTT)
        expect_fail(r, rp_rule_set_truncation(r, 0), RP_ERR_INVALID_ARG, gr, "K is 0");

    /* and a good call still works afterwards */
    ck_assert_int_eq(rp_rule_trial(r, p.net, T, p.x, p.target, p.mask, gr, NULL), RP_OK);
    rp_grad_free(gq);
    prob_free(&q);
    rp_grad_free(gr);
    rp_rule_free(r);
    prob_free(&p);
}
END_TEST

Suite *suite_rule_bptt(void)
{
    Suite *s = suite_create("rule_bptt");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, bptt_matches_finite_differences, 0, 12);
    tcase_add_loop_test(tc, bptt_no_input_matches_finite_differences, 0, 2);
    tcase_add_loop_test(tc, bptt_matches_naive_backprop, 0, 12);
    tcase_add_loop_test(tc, tbptt_full_window_is_bptt, 0, 2);
    tcase_add_loop_test(tc, tbptt_matches_naive_truncation, 0, 24);
    tcase_add_test(tc, trial_uses_h0_and_leaves_net_unchanged);
    tcase_add_loop_test(tc, bad_input_is_refused, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
