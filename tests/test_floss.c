/* Gradient flossing (MODEL.md §7).  Oracles independent of src/floss.c:
   a reference trajectory written here with plain loops (own activations, own
   Jacobian products, modified Gram-Schmidt QR), differentiated by central
   finite differences — of the full F for the exact gradient, and of F with
   the recorded states and window-start bases held fixed for the local one. */
#include "testutil.h"

/* ---- a reference network, all by hand ------------------------------------ */

typedef struct tnet {
    size_t N, n_in;
    int rate; /* 0 voltage, 1 rate */
    rp_activation act;
    double alpha;
    double *W, *U, *b, *h0; /* N*N, N*n_in, N, N */
} tnet;

typedef struct tfl {
    size_t k, t_ons, transient;
    double target;
} tfl;

static double t_f(rp_activation a, double v)
{
    return a == RP_ACT_TANH ? tanh(v) : a == RP_ACT_RELU ? (v > 0 ? v : 0) : v;
}

static double t_df(rp_activation a, double v)
{
    if (a == RP_ACT_TANH) {
        double c = cosh(v);
        return 1.0 / (c * c);
    }
    return a == RP_ACT_RELU ? (v > 0 ? 1.0 : 0.0) : 1.0;
}

/* Modified Gram-Schmidt on the columns of Y (N x k row-major), in place into
   Q; writes diag(R) into rd (positive by construction). */
static void t_mgs(size_t N, size_t k, const double *Y, double *Q, double *rd)
{
    memcpy(Q, Y, N * k * sizeof(double));
    for (size_t j = 0; j < k; j++) {
        for (size_t p = 0; p < j; p++) {
            double d = 0;
            for (size_t i = 0; i < N; i++)
                d += Q[i * k + p] * Q[i * k + j];
            for (size_t i = 0; i < N; i++)
                Q[i * k + j] -= d * Q[i * k + p];
        }
        double nn = 0;
        for (size_t i = 0; i < N; i++)
            nn += Q[i * k + j] * Q[i * k + j];
        nn = sqrt(nn);
        rd[j] = nn;
        for (size_t i = 0; i < N; i++)
            Q[i * k + j] /= nn;
    }
}

/* One step of the state: s (N) -> s_next; u (N, rate) receives u_t. */
static void t_step(const tnet *n, const double *x, const double *s, double *sn, double *u)
{
    const size_t N = n->N;
    for (size_t i = 0; i < N; i++) {
        double z = n->b[i];
        for (size_t j = 0; j < N; j++)
            z += n->W[i * N + j] * (n->rate ? s[j] : t_f(n->act, s[j]));
        for (size_t j = 0; x && j < n->n_in; j++)
            z += n->U[i * n->n_in + j] * x[j];
        if (n->rate) {
            u[i] = z;
            sn[i] = n->alpha * s[i] + (1 - n->alpha) * t_f(n->act, z);
        } else {
            sn[i] = n->alpha * s[i] + (1 - n->alpha) * z;
        }
    }
}

/* Yout = D_t Y (N x k) by the definition of MODEL.md §1: prev = h_{t-1}
   (voltage) or u = u_t (rate). */
static void t_jac(const tnet *n, const double *prev, const double *u, size_t k, const double *Y,
                  double *Yo)
{
    const size_t N = n->N;
    for (size_t i = 0; i < N; i++)
        for (size_t l = 0; l < k; l++) {
            double z = 0;
            for (size_t j = 0; j < N; j++)
                z += n->W[i * N + j] * (n->rate ? 1.0 : t_df(n->act, prev[j])) * Y[j * k + l];
            if (n->rate)
                z *= t_df(n->act, u[i]);
            Yo[i * k + l] = n->alpha * Y[i * k + l] + (1 - n->alpha) * z;
        }
}

/* The record of a reference run: states s_0..s_T and the basis entering each step. */
typedef struct trec {
    double *S; /* (T+1) N */
    double *P; /* T N k: basis entering step t (block t-1) */
} trec;

/* F of MODEL.md §7 along the reference trajectory.  frozen == NULL: the full
   computation, recording into rec (if not NULL).  frozen != NULL: states and
   the basis at each window's start taken from the record, only D_t(θ) (and,
   rate form, u_t(θ) from the recorded r_{t-1}) recomputed: the defining
   computation of the local rule. */
static double ref_F(const tnet *n, const tfl *c, size_t T, const double *x, const double *Q0,
                    const trec *frozen, trec *rec, double *lam)
{
    const size_t N = n->N, k = c->k, to = c->t_ons;
    double *s = calloc((T + 1) * N, sizeof(double)), *u = calloc(N, sizeof(double));
    double *Y = calloc(N * k, sizeof(double)), *Y2 = calloc(N * k, sizeof(double));
    double *rd = calloc(k, sizeof(double)), *ls = calloc(k, sizeof(double));
    memcpy(s, n->h0, N * sizeof(double));
    memcpy(Y, Q0, N * k * sizeof(double));
    size_t J = T / to, skip = (c->transient + to - 1) / to;
    for (size_t t = 1; t <= J * to; t++) {
        const double *xt = x ? x + (t - 1) * n->n_in : NULL;
        const double *sp = frozen ? frozen->S + (t - 1) * N : s + (t - 1) * N;
        t_step(n, xt, sp, s + t * N, u);
        if (frozen && (t - 1) % to == 0)
            memcpy(Y, frozen->P + (t - 1) * N * k, N * k * sizeof(double));
        if (rec)
            memcpy(rec->P + (t - 1) * N * k, Y, N * k * sizeof(double));
        t_jac(n, sp, u, k, Y, Y2);
        if (t % to == 0) {
            t_mgs(N, k, Y2, Y, rd);
            if (t / to > skip)
                for (size_t i = 0; i < k; i++)
                    ls[i] += log(rd[i]);
        } else {
            memcpy(Y, Y2, N * k * sizeof(double));
        }
    }
    if (rec)
        memcpy(rec->S, s, (T + 1) * N * sizeof(double));
    double F = 0, cnt = (double)((J - skip) * to);
    for (size_t i = 0; i < k; i++) {
        double l = ls[i] / cnt;
        if (lam)
            lam[i] = l;
        F += (l - c->target) * (l - c->target) / (double)k;
    }
    free(s), free(u), free(Y), free(Y2), free(rd), free(ls);
    return F;
}

/* dF/dθ over W, U, b by the 4-point central difference
   (8(F(+h) - F(-h)) - (F(+2h) - F(-2h))) / 12h, truncation O(h^4). */
static void fd_grad(tnet *n, const tfl *c, size_t T, const double *x, const double *Q0,
                    const trec *frozen, double h, double *g)
{
    double *blocks[3] = {n->W, n->U, n->b};
    size_t lens[3] = {n->N * n->N, n->N * n->n_in, n->N}, o = 0;
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < lens[p]; i++, o++) {
            double v = blocks[p][i], f[4], st[4] = {h, -h, 2 * h, -2 * h};
            for (int q = 0; q < 4; q++) {
                blocks[p][i] = v + st[q];
                f[q] = ref_F(n, c, T, x, Q0, frozen, NULL, NULL);
            }
            blocks[p][i] = v;
            g[o] = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h);
        }
}

/* Gaussian-ish weights from the test generator: sum of 3 uniforms, scaled. */
static void t_gauss(double *a, size_t n, double sd, uint64_t seed)
{
    double *u = malloc(3 * n * sizeof(double));
    tu_fill(u, 3 * n, -1.0, 1.0, seed);
    for (size_t i = 0; i < n; i++)
        a[i] = sd * (u[3 * i] + u[3 * i + 1] + u[3 * i + 2]); /* var 3 * 1/3 = 1 */
    free(u);
}

static void tnet_init(tnet *n, size_t N, size_t n_in, int rate, rp_activation act, double g,
                      uint64_t seed)
{
    n->N = N, n->n_in = n_in, n->rate = rate, n->act = act, n->alpha = 0.8;
    n->W = malloc(N * N * sizeof(double));
    n->U = malloc((N * n_in + 1) * sizeof(double));
    n->b = malloc(N * sizeof(double));
    n->h0 = malloc(N * sizeof(double));
    t_gauss(n->W, N * N, g / sqrt((double)N), seed);
    t_gauss(n->U, N * n_in, 1.0, seed + 1);
    t_gauss(n->b, N, 0.3, seed + 2);
    t_gauss(n->h0, N, 0.8, seed + 3);
    if (rate) /* rates of relu are >= 0; start from a valid rate state */
        for (size_t i = 0; i < N; i++)
            n->h0[i] = act == RP_ACT_RELU ? fabs(n->h0[i]) : tanh(n->h0[i]);
}

static void tnet_free(tnet *n) { free(n->W), free(n->U), free(n->b), free(n->h0); }

static rp_net *make_net(const tnet *n)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_in = n->n_in, cfg.n_rec = n->N, cfg.n_out = 2;
    cfg.form = n->rate ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    cfg.act = n->act, cfg.alpha = n->alpha;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &cfg, NULL, 0), RP_OK);
    RP_CK(rp_net_set_param(net, RP_PARAM_W, n->W, n->N * n->N), net, rp_net_last_error);
    if (n->n_in)
        RP_CK(rp_net_set_param(net, RP_PARAM_U, n->U, n->N * n->n_in), net, rp_net_last_error);
    RP_CK(rp_net_set_param(net, RP_PARAM_B, n->b, n->N), net, rp_net_last_error);
    RP_CK(rp_net_set_initial_state(net, n->h0, n->N), net, rp_net_last_error);
    return net;
}

/* An orthonormal N x k basis from the test's own generator. */
static void t_basis(size_t N, size_t k, uint64_t seed, double *Q)
{
    double *A = malloc(N * k * sizeof(double)), rd[64];
    tu_fill(A, N * k, -1.0, 1.0, seed);
    t_mgs(N, k, A, Q, rd);
    free(A);
}

/* Smallest |pre-activation| along the reference trajectory (t >= 1): h_t
   (voltage) or u_t (rate), the arguments of f' whose kinks FD must not cross. */
static double kink_margin(const tnet *n, size_t T, const double *x)
{
    const size_t N = n->N;
    double *s = malloc(N * sizeof(double)), *sn = malloc(N * sizeof(double)),
           *u = malloc(N * sizeof(double)), m = INFINITY;
    memcpy(s, n->h0, N * sizeof(double));
    for (size_t t = 1; t <= T; t++) {
        t_step(n, x ? x + (t - 1) * n->n_in : NULL, s, sn, u);
        for (size_t i = 0; i < N; i++) {
            double v = fabs(n->rate ? u[i] : sn[i]);
            m = v < m ? v : m;
        }
        memcpy(s, sn, N * sizeof(double));
    }
    free(s), free(sn), free(u);
    return m;
}

/* ---- the gradient tests ---------------------------------------------------- */

typedef struct gcase {
    int rate;
    rp_activation act;
    size_t k, t_ons, transient;
    int input;
} gcase;

static const gcase gcases[] = {
    {0, RP_ACT_TANH, 1, 1, 0, 1}, {0, RP_ACT_TANH, 3, 3, 4, 1}, {0, RP_ACT_RELU, 2, 1, 2, 1},
    {0, RP_ACT_RELU, 1, 2, 0, 0}, {1, RP_ACT_TANH, 1, 1, 0, 1}, {1, RP_ACT_TANH, 3, 2, 3, 1},
    {1, RP_ACT_RELU, 2, 1, 0, 1}, {1, RP_ACT_RELU, 3, 3, 3, 0},
};
#define N_GCASES (sizeof gcases / sizeof gcases[0])

enum { GN = 6, GIN = 2, GT = 25 }; /* 25: with t_ons 2, 3 the last step lies past the last window */

/* Set up case gc: a net whose relu trajectory keeps away from kinks, its
   input x, a random initial basis Q0 (GN x k); returns the flossing settings. */
static tfl setup_case(const gcase *gc, tnet *n, double *x, double *Q0)
{
    /* The FD steps (2h = 2e-4 on one weight) move pre-activations by far less
       than 1e-3; search a few seeds for a trajectory with that margin. */
    for (uint64_t seed = 11; seed < 200; seed += 7) {
        tnet_init(n, GN, GIN, gc->rate, gc->act, 1.5, seed);
        tu_fill(x, GT * GIN, -1.0, 1.0, seed + 5);
        if (gc->act != RP_ACT_RELU || kink_margin(n, GT, gc->input ? x : NULL) > 1e-3) {
            t_basis(GN, gc->k, seed + 9, Q0);
            return (tfl){gc->k, gc->t_ons, gc->transient, -0.02};
        }
        tnet_free(n);
    }
    ck_abort_msg("no relu trajectory with kink margin 1e-3 found");
    return (tfl){0};
}

static void lib_grad(const tnet *n, const gcase *gc, rp_floss_mode mode, const double *x,
                     const double *Q0, double *g, double *lam, double *F)
{
    rp_net *net = make_net(n);
    rp_floss_config cfg;
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.k = gc->k, cfg.t_ons = gc->t_ons, cfg.transient = gc->transient, cfg.mode = mode;
    cfg.target = -0.02;
    rp_floss *fl = NULL;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
    RP_CK(rp_floss_set_basis(fl, Q0, GN * gc->k), fl, rp_floss_last_error);
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, net, NULL, 0), RP_OK);
    RP_CK(rp_floss_trial(fl, net, GT, gc->input ? x : NULL, gr, F, lam), fl, rp_floss_last_error);
    RP_CK(rp_grad_get(gr, RP_PARAM_W, g, GN * GN), gr, rp_grad_last_error);
    RP_CK(rp_grad_get(gr, RP_PARAM_U, g + GN * GN, GN * GIN), gr, rp_grad_last_error);
    RP_CK(rp_grad_get(gr, RP_PARAM_B, g + GN * GN + GN * GIN, GN), gr, rp_grad_last_error);
    double vc[2 * GN + 2];
    RP_CK(rp_grad_get(gr, RP_PARAM_V, vc, 2 * GN), gr, rp_grad_last_error);
    RP_CK(rp_grad_get(gr, RP_PARAM_C, vc + 2 * GN, 2), gr, rp_grad_last_error);
    for (size_t i = 0; i < 2 * GN + 2; i++)
        ck_assert_msg(vc[i] == 0.0, "F does not depend on V, c: entry %zu is %g", i, vc[i]);
    rp_grad_free(gr);
    rp_floss_free(fl);
    rp_net_free(net);
}

/* Exact mode (§7.1) == central FD of the reference F, for both forms, relu
   and tanh, k = 1 and > 1, t_ons = 1 and > 1, with and without input.
   Tolerance 1e-5 relative (max-norm): the 4-point FD with h = 1e-4 has
   truncation ~h^4 and rounding ~1e-16 F / h, both far below it. */
START_TEST(exact_matches_fd)
{
    const gcase *gc = &gcases[_i];
    tnet n;
    double x[GT * GIN], Q0[GN * 3];
    tfl c = setup_case(gc, &n, x, Q0);
    enum { NP = GN * GN + GN * GIN + GN };
    double g[NP], fd[NP], lam[3], lref[3], F, Fref;
    lib_grad(&n, gc, RP_FLOSS_EXACT, x, Q0, g, lam, &F);
    Fref = ref_F(&n, &c, GT, gc->input ? x : NULL, Q0, NULL, NULL, lref);
    /* Same trajectory, two QR algorithms: agreement to rounding. */
    ck_assert_double_eq_tol(F, Fref, 1e-12 * (1 + fabs(Fref)));
    for (size_t i = 0; i < gc->k; i++)
        ck_assert_double_eq_tol(lam[i], lref[i], 1e-12);
    fd_grad(&n, &c, GT, gc->input ? x : NULL, Q0, NULL, 1e-4, fd);
    if (!gc->input) /* x = 0: U gets nothing */
        for (size_t i = 0; i < GN * GIN; i++)
            ck_assert_double_eq(g[GN * GN + i], 0.0);
    double e = tu_rel_err(g, fd, NP, 1e-300);
    ck_assert_msg(e < 1e-5, "case %d: exact vs FD relative error %.3e (F = %g)", _i, e, F);
    tnet_free(&n);
}
END_TEST

/* Local mode (§7.2) == central FD of F with the recorded states and window-
   start bases held fixed (the defining identity).  Tolerance 1e-7 relative:
   the frozen F is smooth in θ with O(1) derivatives, so the 4-point FD with
   h = 1e-3 errs by ~1e-12 (truncation) + ~1e-13 (rounding). */
START_TEST(local_matches_frozen_fd)
{
    const gcase *gc = &gcases[_i];
    tnet n;
    double x[GT * GIN], Q0[GN * 3];
    tfl c = setup_case(gc, &n, x, Q0);
    enum { NP = GN * GN + GN * GIN + GN };
    double g[NP], fd[NP], lam[3], F;
    lib_grad(&n, gc, RP_FLOSS_LOCAL, x, Q0, g, lam, &F);
    trec rec = {malloc((GT + 1) * GN * sizeof(double)), malloc(GT * GN * 3 * sizeof(double))};
    double Fref = ref_F(&n, &c, GT, gc->input ? x : NULL, Q0, NULL, &rec, NULL);
    ck_assert_double_eq_tol(F, Fref, 1e-12 * (1 + fabs(Fref)));
    /* At θ itself the frozen computation reproduces F. */
    ck_assert_double_eq_tol(ref_F(&n, &c, GT, gc->input ? x : NULL, Q0, &rec, NULL, NULL), Fref,
                            1e-13);
    /* The relu margins also cover u_t(θ ± 2h) in the frozen rate form. */
    fd_grad(&n, &c, GT, gc->input ? x : NULL, Q0, &rec, gc->act == RP_ACT_RELU ? 1e-5 : 1e-3, fd);
    double e = tu_rel_err(g, fd, NP, 1e-300);
    ck_assert_msg(e < 1e-7, "case %d: local vs frozen FD relative error %.3e", _i, e);
    if (!gc->rate) /* voltage: states frozen, so only W moves D_t */
        for (size_t i = GN * GN; i < NP; i++)
            ck_assert_double_eq(g[i], 0.0);
    free(rec.S), free(rec.P);
    tnet_free(&n);
}
END_TEST

/* Where the local rule drops nothing it must equal the exact one: linear f
   makes D_t = alpha I + (1-alpha) W independent of the states, and a single
   re-orthonormalization window (t_ons = T, no transient) leaves no Q chain
   between windows.  Two different reverse passes, one answer, both forms,
   k = 1 and 3.  (The cosine between the two on nonlinear nets is measured by
   bench/bench_floss.c.)  Tolerance 1e-12: rounding only. */
START_TEST(local_equals_exact_when_nothing_is_dropped)
{
    enum { N = 7, T = 15, NI = 2 };
    double x[T * NI];
    tu_fill(x, T * NI, -1.0, 1.0, 77);
    for (int form = 0; form < 2; form++)
        for (size_t k = 1; k <= 3; k += 2) {
            tnet n;
            tnet_init(&n, N, NI, form, RP_ACT_LINEAR, 1.3, 40 + (uint64_t)(form + k));
            rp_net *net = make_net(&n);
            double g[2][N * N + N * NI + N], F[2];
            for (int m = 0; m < 2; m++) {
                rp_floss_config cfg;
                rp_floss_config_init(&cfg, sizeof cfg);
                cfg.k = k, cfg.t_ons = T, cfg.mode = m ? RP_FLOSS_LOCAL : RP_FLOSS_EXACT;
                rp_floss *fl = NULL;
                rp_grad *gr = NULL;
                ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
                ck_assert_int_eq(rp_grad_create(&gr, net, NULL, 0), RP_OK);
                RP_CK(rp_floss_trial(fl, net, T, x, gr, &F[m], NULL), fl, rp_floss_last_error);
                ck_assert_int_eq(rp_grad_get(gr, RP_PARAM_W, g[m], N * N), RP_OK);
                ck_assert_int_eq(rp_grad_get(gr, RP_PARAM_U, g[m] + N * N, N * NI), RP_OK);
                ck_assert_int_eq(rp_grad_get(gr, RP_PARAM_B, g[m] + N * N + N * NI, N), RP_OK);
                rp_grad_free(gr), rp_floss_free(fl);
            }
            ck_assert(F[0] == F[1]);
            double e = tu_rel_err(g[1], g[0], N * N + N * NI + N, 1e-300);
            ck_assert_msg(e < 1e-12, "form %d k %zu: local vs exact %.3e", form, k, e);
            rp_net_free(net), tnet_free(&n);
        }
}
END_TEST

/* ---- flossing does what it is for ------------------------------------------- */

/* 100 local-flossing SGD steps, written here with rp_grad_get/rp_net_set_param,
   from g = 0.5 (lambda_max < 0): lambda_max moves at least halfway to 0.
   N = 16, tanh voltage, autonomous from a random h0, T = 200, transient 50,
   k = 1, learning rate 20 (the flossing gradient is O(lambda (1-alpha)/N)). */
START_TEST(flossing_moves_lambda_toward_zero)
{
    enum { N = 16, T = 200, IT = 100 };
    const double lr = 20;
    tnet n;
    tnet_init(&n, N, 0, 0, RP_ACT_TANH, 0.5, 7);
    rp_net *net = make_net(&n);
    rp_floss_config cfg;
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.transient = 50;
    rp_floss *fl = NULL;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double W[N * N], gW[N * N], lam0 = 0, lam = 0;
    for (int it = 0; it <= IT; it++) {
        ck_assert_int_eq(rp_grad_zero(g), RP_OK);
        RP_CK(rp_floss_trial(fl, net, T, NULL, g, NULL, &lam), fl, rp_floss_last_error);
        if (it == 0)
            lam0 = lam;
        if (it == IT)
            break;
        ck_assert_int_eq(rp_grad_get(g, RP_PARAM_W, gW, N * N), RP_OK);
        ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_W, W, N * N), RP_OK);
        for (int i = 0; i < N * N; i++)
            W[i] -= lr * gW[i];
        RP_CK(rp_net_set_param(net, RP_PARAM_W, W, N * N), net, rp_net_last_error);
    }
    ck_assert_msg(lam0 < -0.01, "g = 0.5 should start ordered: lambda_max = %g", lam0);
    ck_assert_msg(fabs(lam) <= 0.5 * fabs(lam0), "lambda_max %g -> %g: not halfway to 0", lam0,
                  lam);
    fprintf(stderr,
            "floss: 100 local-flossing SGD steps (lr %g, N %d, T %d): lambda_max %.4f -> %.4f\n",
            lr, N, T, lam0, lam);
    rp_grad_free(g), rp_floss_free(fl), rp_net_free(net), tnet_free(&n);
}
END_TEST

/* ---- degenerate dynamics, bad input, bookkeeping --------------------------- */

/* relu, alpha = 0, every unit dead: D_t = 0, R_ii = 0, lambda = -inf.  The
   call refuses with RP_ERR_NONFINITE naming the step, reports -inf, leaves
   grad alone. */
START_TEST(collapse_reports_minus_inf)
{
    enum { N = 5 };
    tnet n;
    tnet_init(&n, N, 0, 0, RP_ACT_RELU, 1.0, 3);
    n.alpha = 0.0;
    for (int i = 0; i < N; i++)
        n.b[i] = -1.0, n.h0[i] = -0.5; /* h stays negative: f' = 0 everywhere */
    rp_net *net = make_net(&n);
    ck_assert_int_eq(rp_net_set_alpha(net, 0.0), RP_OK);
    rp_floss_config cfg;
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.k = 2;
    for (int m = 0; m < 2; m++) {
        cfg.mode = m ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
        rp_floss *fl = NULL;
        ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
        rp_grad *g = NULL;
        ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
        double ones[N * N], got[N * N], lam[2] = {0, 0}, F = 0;
        for (int i = 0; i < N * N; i++)
            ones[i] = 1.0;
        ck_assert_int_eq(rp_grad_set(g, RP_PARAM_W, ones, N * N), RP_OK);
        rp_status st = rp_floss_trial(fl, net, 10, NULL, g, &F, lam);
        ck_assert_int_eq(st, RP_ERR_NONFINITE);
        ck_assert_msg(strstr(rp_floss_last_error(fl), "collapsed") &&
                          strstr(rp_floss_last_error(fl), "step 0"),
                      "message: %s", rp_floss_last_error(fl));
        ck_assert(isinf(lam[0]) && lam[0] < 0 && isinf(lam[1]) && lam[1] < 0);
        ck_assert(isinf(F) && F > 0);
        ck_assert_int_eq(rp_grad_get(g, RP_PARAM_W, got, N * N), RP_OK);
        for (int i = 0; i < N * N; i++)
            ck_assert_double_eq(got[i], 1.0);
        rp_grad_free(g), rp_floss_free(fl);
    }
    rp_net_free(net), tnet_free(&n);
}
END_TEST

/* F of the library's own trial at the net's current parameters (exact mode,
   the settings of cfg): the function the exact gradient differentiates. */
static double lib_F(rp_net *net, const rp_floss_config *cfg, size_t T, const double *x)
{
    rp_floss *fl = NULL;
    rp_grad *g = NULL;
    double F = 0;
    ck_assert_int_eq(rp_floss_create(&fl, net, cfg, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    RP_CK(rp_floss_trial(fl, net, T, x, g, &F, NULL), fl, rp_floss_last_error);
    rp_grad_free(g), rp_floss_free(fl);
    return F;
}

/* A collapse inside the transient only (relu, alpha = 0: every unit dead at
   step 0, alive from step 1 on): D_1 = 0, every direction is refilled at
   step 1 (header, rp_lyap "Collapse") and nothing collapses afterwards.
   Neither mode refuses (before the fix the exact one did).  The refill is a
   constant of θ (seeded, and D_1 = 0 for every θ near this one since f'(h_0)
   = 0), so the exact gradient is the derivative of the trial's own F:
   checked against its 4-point central difference over W and b, h = 1e-4
   (kink margin > 0.1 keeps the relu pattern fixed; truncation ~h^4),
   tolerance 1e-6 relative. */
START_TEST(collapse_in_transient)
{
    enum { N = 5, T = 12 };
    tnet n;
    tnet_init(&n, N, 0, 0, RP_ACT_RELU, 0.5, 9);
    n.alpha = 0.0;
    for (int i = 0; i < N; i++)
        n.b[i] = 2.0, n.h0[i] = -1.0; /* h_1 = W f(h_0) + b = b > 0, then stays positive */
    ck_assert(kink_margin(&n, T, NULL) > 0.1);
    rp_net *net = make_net(&n);
    ck_assert_int_eq(rp_net_set_alpha(net, 0.0), RP_OK);
    rp_floss_config cfg;
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.k = 2, cfg.transient = 1;
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    for (int m = 0; m < 2; m++) {
        cfg.mode = m ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
        rp_floss *fl = NULL;
        ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
        double lam[2] = {7, 7}, F = 7, gn = 0;
        ck_assert_int_eq(rp_grad_zero(g), RP_OK);
        rp_status st = rp_floss_trial(fl, net, T, NULL, g, &F, lam);
        ck_assert_int_eq(rp_grad_get_norm(g, &gn), RP_OK);
        ck_assert_msg(st == RP_OK, "mode %d: %s", m, rp_floss_last_error(fl));
        ck_assert(isfinite(lam[0]) && isfinite(lam[1]) && isfinite(F) && gn > 0);
        rp_floss_free(fl);
    }
    /* exact (the last mode run) against the central difference of F */
    enum { NP = N * N + N };
    double gl[NP], fd[NP], th[NP];
    ck_assert_int_eq(rp_grad_get(g, RP_PARAM_W, gl, N * N), RP_OK);
    ck_assert_int_eq(rp_grad_get(g, RP_PARAM_B, gl + N * N, N), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_W, th, N * N), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_B, th + N * N, N), RP_OK);
    const double h = 1e-4, st4[4] = {h, -h, 2 * h, -2 * h};
    for (size_t p = 0; p < NP; p++) {
        double f[4], v = th[p];
        for (int q = 0; q < 4; q++) {
            th[p] = v + st4[q];
            ck_assert_int_eq(rp_net_set_param(net, RP_PARAM_W, th, N * N), RP_OK);
            ck_assert_int_eq(rp_net_set_param(net, RP_PARAM_B, th + N * N, N), RP_OK);
            f[q] = lib_F(net, &cfg, T, NULL);
        }
        th[p] = v;
        fd[p] = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h);
    }
    ck_assert_int_eq(rp_net_set_param(net, RP_PARAM_W, th, N * N), RP_OK);
    ck_assert_int_eq(rp_net_set_param(net, RP_PARAM_B, th + N * N, N), RP_OK);
    double e = tu_rel_err(gl, fd, NP, 1e-300);
    ck_assert_msg(e < 1e-6, "exact vs FD of F through the refill: relative error %.3e", e);
    rp_grad_free(g), rp_net_free(net), tnet_free(&n);
}
END_TEST

/* Issue 11 #4: voltage relu, alpha = 0, h0 = 0, input about 1, transient 5:
   D_1 = 0 collapses the basis at step 1; before the fix the axis-aligned
   refill left direction 0 collapsed for good and both modes refused with
   "direction 0 collapsed ... at step 5".  Now both succeed, and lambda_1
   agrees with rp_lyap's estimate on the same trajectory (itself checked
   against a power iteration in test_lyap.c) to 5/T counted: the two start
   from different refilled bases (test_lyap.c's tolerance argument). */
START_TEST(dead_units_transient_collapse_not_refused)
{
    enum { N = 6, T = 400, TR = 5 };
    tnet n;
    tnet_init(&n, N, 1, 0, RP_ACT_RELU, 0.5, 2);
    n.alpha = 0.0;
    double a = 0.5 * sqrt(3.0 / N), x[T];
    tu_fill(n.W, N * N, -a, a, 2);
    tu_fill(n.U, N, -1.0, 1.0, 3);
    for (int i = 0; i < N; i++)
        n.b[i] = 0.0, n.h0[i] = 0.0;
    tu_fill(x, T, 0.9, 1.1, 9);
    rp_net *net = make_net(&n);
    rp_lyap_config lc;
    rp_lyap_config_init(&lc, sizeof lc);
    lc.transient = TR;
    rp_lyap *ly = NULL;
    ck_assert_int_eq(rp_lyap_create(&ly, net, 1, &lc, NULL, 0), RP_OK);
    double lref = 0;
    RP_CK(rp_lyap_run(ly, net, T, x), ly, rp_lyap_last_error);
    RP_CK(rp_lyap_get_spectrum(ly, &lref, 1), ly, rp_lyap_last_error);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    for (int m = 0; m < 2; m++) {
        rp_floss_config cfg;
        rp_floss_config_init(&cfg, sizeof cfg);
        cfg.transient = TR, cfg.mode = m ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
        rp_floss *fl = NULL;
        ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
        double lam = 0, F = 0, gn = 0;
        ck_assert_int_eq(rp_grad_zero(g), RP_OK);
        rp_status st = rp_floss_trial(fl, net, T, x, g, &F, &lam);
        ck_assert_msg(st == RP_OK, "mode %d: %s", m, rp_floss_last_error(fl));
        ck_assert_int_eq(rp_grad_get_norm(g, &gn), RP_OK);
        ck_assert(isfinite(F) && isfinite(gn) && gn > 0);
        ck_assert_msg(fabs(lam - lref) <= 5.0 / (T - TR), "mode %d: lambda %.6f, rp_lyap %.6f", m,
                      lam, lref);
        rp_floss_free(fl);
    }
    rp_grad_free(g), rp_lyap_free(ly), rp_net_free(net), tnet_free(&n);
}
END_TEST

START_TEST(bad_arguments)
{
    enum { N = 4 };
    tnet n;
    tnet_init(&n, N, 1, 0, RP_ACT_TANH, 1.0, 5);
    rp_net *net = make_net(&n);
    rp_floss *fl = NULL;
    rp_floss_config cfg;
    rp_floss_config_init(&cfg, sizeof cfg);
    ck_assert_int_eq(rp_floss_create(NULL, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_create(&fl, NULL, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_create(&fl, net, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    cfg.k = 0;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    cfg.k = N + 1;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    char msg[256];
    ck_assert_int_eq(rp_floss_config_check(net, &cfg, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "k is 5, expected 1..n_rec = 4"), "%s", msg);
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.t_ons = 0;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_config_check(net, &cfg, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "t_ons"), "%s", msg);
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.struct_size = 3;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_config_check(net, &cfg, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "struct_size"), "%s", msg);
    rp_floss_config_init(&cfg, sizeof cfg);
    ck_assert_int_eq(rp_floss_config_check(net, &cfg, msg, sizeof msg), RP_OK);
    cfg.mode = (rp_floss_mode)5;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.target = NAN;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_ptr_null(fl);

    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.k = 2, cfg.t_ons = 3, cfg.transient = 5;
    ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    double x[20], lam[2] = {7, 7}, F = 7, before[N * N + N + N], after[N * N + N + N];
    tu_fill(x, 20, -1, 1, 3);
    tu_fill(before, N * N, -1, 1, 4);
    ck_assert_int_eq(rp_grad_set(g, RP_PARAM_W, before, N * N), RP_OK);
    /* T <= transient */
    ck_assert_int_eq(rp_floss_trial(fl, net, 5, x, g, &F, lam), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_floss_last_error(fl), "transient"), "%s", rp_floss_last_error(fl));
    /* windows end at 3, 6, 9: the first wholly after step 5 ends at 9 */
    ck_assert_int_eq(rp_floss_trial(fl, net, 8, x, g, &F, lam), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_floss_last_error(fl), "expected T >= 9"), "%s",
                  rp_floss_last_error(fl));
    ck_assert_int_eq(rp_floss_trial(fl, NULL, 9, x, g, &F, lam), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_trial(fl, net, 9, x, NULL, &F, lam), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_trial(NULL, net, 9, x, g, &F, lam), RP_ERR_INVALID_ARG);
    x[4] = NAN;
    ck_assert_int_eq(rp_floss_trial(fl, net, 9, x, g, &F, lam), RP_ERR_NONFINITE);
    ck_assert_msg(strstr(rp_floss_last_error(fl), "step 4"), "%s", rp_floss_last_error(fl));
    x[4] = 0.1;
    /* a grad or net of other dimensions */
    tnet n2;
    tnet_init(&n2, N + 1, 1, 0, RP_ACT_TANH, 1.0, 5);
    rp_net *net2 = make_net(&n2);
    rp_grad *g2 = NULL;
    ck_assert_int_eq(rp_grad_create(&g2, net2, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_floss_trial(fl, net, 9, x, g2, &F, lam), RP_ERR_DIM_MISMATCH);
    ck_assert_int_eq(rp_floss_trial(fl, net2, 9, x, g2, &F, lam), RP_ERR_DIM_MISMATCH);
    /* basis of the wrong size, non-finite, rank-deficient */
    double Q[N * 2] = {0};
    ck_assert_int_eq(rp_floss_set_basis(fl, Q, N), RP_ERR_DIM_MISMATCH);
    ck_assert_int_eq(rp_floss_set_basis(fl, NULL, 2 * N), RP_ERR_INVALID_ARG);
    Q[0] = 1, Q[2] = 1; /* two equal columns e_0 */
    Q[1] = 1, Q[3] = 1;
    ck_assert_int_eq(rp_floss_set_basis(fl, Q, 2 * N), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_floss_last_error(fl), "rank"), "%s", rp_floss_last_error(fl));
    Q[5] = INFINITY;
    ck_assert_int_eq(rp_floss_set_basis(fl, Q, 2 * N), RP_ERR_NONFINITE);
    /* nothing was written by any failure */
    ck_assert(lam[0] == 7 && lam[1] == 7 && F == 7);
    ck_assert_int_eq(rp_grad_get(g, RP_PARAM_W, after, N * N), RP_OK);
    for (int i = 0; i < N * N; i++)
        ck_assert_double_eq(after[i], before[i]);
    rp_grad_free(g2), rp_net_free(net2), tnet_free(&n2);
    rp_grad_free(g), rp_floss_free(fl), rp_net_free(net), tnet_free(&n);
}
END_TEST

/* The gradient is added (twice = 2x once), results are deterministic, the
   trajectory store grows with T and a later shorter T still works, and the
   net is left unchanged. */
START_TEST(adds_and_repeats)
{
    enum { N = 8 };
    tnet n;
    tnet_init(&n, N, 1, 1, RP_ACT_TANH, 1.3, 21);
    rp_net *net = make_net(&n);
    double x[60];
    tu_fill(x, 60, -1, 1, 8);
    for (int m = 0; m < 2; m++) {
        rp_floss_config cfg;
        rp_floss_config_init(&cfg, sizeof cfg);
        cfg.k = 3, cfg.mode = m ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
        rp_floss *fl = NULL;
        ck_assert_int_eq(rp_floss_create(&fl, net, &cfg, NULL, 0), RP_OK);
        rp_grad *g1 = NULL, *g2 = NULL;
        ck_assert_int_eq(rp_grad_create(&g1, net, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_grad_create(&g2, net, NULL, 0), RP_OK);
        double F1, F2, a[N * N], b[N * N];
        RP_CK(rp_floss_trial(fl, net, 20, x, g1, &F1, NULL), fl, rp_floss_last_error);
        RP_CK(rp_floss_trial(fl, net, 60, x, g2, NULL, NULL), fl, rp_floss_last_error);
        ck_assert_int_eq(rp_grad_zero(g2), RP_OK);
        RP_CK(rp_floss_trial(fl, net, 20, x, g2, &F2, NULL), fl, rp_floss_last_error);
        RP_CK(rp_floss_trial(fl, net, 20, x, g2, &F2, NULL), fl, rp_floss_last_error);
        ck_assert(F1 == F2);
        ck_assert_int_eq(rp_grad_get(g1, RP_PARAM_W, a, N * N), RP_OK);
        ck_assert_int_eq(rp_grad_get(g2, RP_PARAM_W, b, N * N), RP_OK);
        for (int i = 0; i < N * N; i++)
            ck_assert(b[i] == 2 * a[i]);
        rp_grad_free(g1), rp_grad_free(g2), rp_floss_free(fl);
    }
    double s[N];
    ck_assert_int_eq(rp_net_get_state(net, s, N), RP_OK);
    for (int i = 0; i < N; i++)
        ck_assert_double_eq(s[i], 0.0); /* the live state (0 at create) was never touched */
    rp_net_free(net), tnet_free(&n);
}
END_TEST

/* ---- schedules (MODEL.md §7.3) ------------------------------------------------ */

START_TEST(schedule_sequences)
{
    rp_floss_schedule s;
    rp_floss_schedule_init(&s, sizeof s);
    int task;
    double w;
    /* NONE: task every iteration, never floss (pre is ignored) */
    s.pre = 3;
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(rp_floss_schedule_at(&s, i, &task, &w), RP_OK);
        ck_assert(task == 1 && w == 0.0);
    }
    /* PRE, P = 3, beta 0.5: F F F T T ... */
    s.kind = RP_FLOSS_SCHED_PRE, s.beta = 0.5;
    const char *pre = "FFFTTTTT";
    for (size_t i = 0; i < 8; i++) {
        ck_assert_int_eq(rp_floss_schedule_at(&s, i, &task, &w), RP_OK);
        ck_assert_int_eq(task, pre[i] == 'T');
        ck_assert(w == (pre[i] == 'F' ? 0.5 : 0.0));
    }
    /* INTER, P = 1, E_f = 3, E_i = 2: F | T T T F F | T T T F F | T */
    s.kind = RP_FLOSS_SCHED_INTER, s.pre = 1, s.period = 3, s.floss_iters = 2, s.beta = 2.0;
    const char *inter = "FTTTFFTTTFFT";
    for (size_t i = 0; i < 12; i++) {
        ck_assert_int_eq(rp_floss_schedule_at(&s, i, &task, &w), RP_OK);
        ck_assert_msg(task == (inter[i] == 'T') && w == (inter[i] == 'F' ? 2.0 : 0.0), "iter %zu",
                      i);
    }
    /* DURING, P = 2: F F then task + beta every iteration */
    s.kind = RP_FLOSS_SCHED_DURING, s.pre = 2, s.beta = 0.1;
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(rp_floss_schedule_at(&s, i, &task, &w), RP_OK);
        ck_assert_int_eq(task, i >= 2);
        ck_assert(w == 0.1);
    }
    /* bad schedules: nothing written */
    char msg[128];
    task = 9, w = 9;
    s.kind = RP_FLOSS_SCHED_INTER, s.period = 0;
    ck_assert_int_eq(rp_floss_schedule_check(&s, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(msg, "period"), "%s", msg);
    ck_assert_int_eq(rp_floss_schedule_at(&s, 0, &task, &w), RP_ERR_INVALID_ARG);
    ck_assert(task == 9 && w == 9);
    rp_floss_schedule_init(&s, sizeof s);
    s.beta = -1;
    ck_assert_int_eq(rp_floss_schedule_check(&s, msg, sizeof msg), RP_ERR_INVALID_ARG);
    rp_floss_schedule_init(&s, sizeof s);
    s.struct_size = 1;
    ck_assert_int_eq(rp_floss_schedule_check(&s, msg, sizeof msg), RP_ERR_INVALID_ARG);
    rp_floss_schedule_init(&s, sizeof s);
    s.kind = (rp_floss_schedule_kind)7;
    ck_assert_int_eq(rp_floss_schedule_check(&s, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_floss_schedule_check(NULL, msg, sizeof msg), RP_ERR_INVALID_ARG);
}
END_TEST

/* A Q0 of numerical rank < k (a column 3 times another: R_11 is rounding)
   is refused with RP_ERR_INVALID_ARG, as rp_lyap_set_basis refuses it, and
   the basis stays the seeded one: a trial afterwards gives the exponents and
   gradient of a fresh regularizer, bit for bit. */
START_TEST(rank_deficient_basis_refused)
{
    enum { N = 6, T = 30 };
    tnet n;
    tnet_init(&n, N, 1, 0, RP_ACT_TANH, 1.2, 9);
    rp_net *net = make_net(&n);
    rp_floss_config cfg;
    rp_floss_config_init(&cfg, sizeof cfg);
    cfg.k = 2;
    rp_floss *fa = NULL, *fb = NULL;
    ck_assert_int_eq(rp_floss_create(&fa, net, &cfg, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_floss_create(&fb, net, &cfg, NULL, 0), RP_OK);
    double Q[N * 2], x[T], la[2], lb[2], Fa, Fb, ga[N * N], gb[N * N];
    tu_fill(Q, N * 2, -1, 1, 11);
    for (int i = 0; i < N; i++)
        Q[2 * i + 1] = 3.0 * Q[2 * i];
    ck_assert_int_eq(rp_floss_set_basis(fb, Q, 2 * N), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_floss_last_error(fb), "rank"), "%s", rp_floss_last_error(fb));
    tu_fill(x, T, -1, 1, 12);
    rp_grad *gra = NULL, *grb = NULL;
    ck_assert_int_eq(rp_grad_create(&gra, net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&grb, net, NULL, 0), RP_OK);
    RP_CK(rp_floss_trial(fa, net, T, x, gra, &Fa, la), fa, rp_floss_last_error);
    RP_CK(rp_floss_trial(fb, net, T, x, grb, &Fb, lb), fb, rp_floss_last_error);
    ck_assert_mem_eq(la, lb, sizeof la);
    ck_assert_mem_eq(&Fa, &Fb, sizeof Fa);
    ck_assert_int_eq(rp_grad_get(gra, RP_PARAM_W, ga, N * N), RP_OK);
    ck_assert_int_eq(rp_grad_get(grb, RP_PARAM_W, gb, N * N), RP_OK);
    ck_assert_mem_eq(ga, gb, sizeof ga);
    rp_grad_free(gra), rp_grad_free(grb), rp_floss_free(fa), rp_floss_free(fb);
    rp_net_free(net), tnet_free(&n);
}
END_TEST

Suite *suite_floss(void)
{
    Suite *s = suite_create("floss");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, exact_matches_fd, 0, (int)N_GCASES);
    tcase_add_loop_test(tc, local_matches_frozen_fd, 0, (int)N_GCASES);
    tcase_add_test(tc, local_equals_exact_when_nothing_is_dropped);
    tcase_add_test(tc, flossing_moves_lambda_toward_zero);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("contract");
    tcase_add_test(tb, collapse_reports_minus_inf);
    tcase_add_test(tb, collapse_in_transient);
    tcase_add_test(tb, dead_units_transient_collapse_not_refused);
    tcase_add_test(tb, bad_arguments);
    tcase_add_test(tb, rank_deficient_basis_refused);
    tcase_add_test(tb, adds_and_repeats);
    tcase_add_test(tb, schedule_sequences);
    suite_add_tcase(s, tb);
    return s;
}
