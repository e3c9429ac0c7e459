/* Lyapunov spectra (MODEL.md §6): QR (Benettin / Shimada–Nagashima) method
   on one trajectory, with the Jacobian applied to the N x k tangent block as a
   GEMM (rp__jacobian_apply), plus lambda_max by a perturbed twin trajectory.
   The step (and rp__jacobian_apply itself) is lyap_kernels.h, one source
   compiled twice here: double, and float for single-precision nets (the twin
   trajectory of rp_lyap_max_direct has no float path). */
#include "qr.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RP_LYAP_TYPES
#define RP_K_DOUBLE
#include "lyap_kernels.h"
#undef RP_K_DOUBLE
#define RP_K_SINGLE
#include "lyap_kernels.h"
#undef RP_K_SINGLE
#undef RP_LYAP_TYPES

/* A net of RP_PRECISION_SINGLE runs the trajectory, the Jacobian products and
   the QRs in float (lyap_kernels.h's float instance on wf), a double net in
   double (wd); only one of wd, wf is allocated.  Double in both:

   - the sums of log R_jj (S, loc): a float sum of T/t_ons logs would add a
     rounding of ~eps_f |S| per window, a relative error in lambda growing
     like (T/t_ons) eps_f (1e-3 at 10^4 windows) that the per-window rounding
     of the products (each R_jj carries ~N eps_f relative, which is mean-zero
     from one window to the next) does not have; k logs a window cost nothing;
   - the initial basis Q0: drawn and orthonormalized in double exactly as for
     a double net (so the two precisions start from the same basis, rounded
     to float once at the trajectory's start); the double QR workspace of
     that (q0w, q0y) is the estimator's own on a single net, wd's otherwise. */
struct rp_lyap {
    size_t N, n_in, k, t_ons, transient;
    rp_form form;
    rp_activation act;
    rp_precision precision;
    int started;    /* the trajectory has been loaded from net->h0 */
    size_t t;       /* steps run since the start */
    size_t counted; /* steps in counted windows */
    size_t n_qr;    /* re-orthonormalizations since the start */
    double cond_last, cond_max;
    lyap_ws wd;          /* double nets */
    lyap_ws_f wf;        /* single nets */
    rp__qr q0w;          /* double QR of Q0 (wd.qr, or own on a single net) */
    double *q0y;         /* N x k double scratch of that QR */
    double *q0own;       /* single nets: the block holding q0w's arrays and q0y */
    double *S, *loc;     /* k: accumulated log R_ii; last window's log R_ii / t_ons */
    double *Q0;          /* N x k: the initial basis */
    double *Stmp;        /* k: S reordered after a collapse */
    double *S_s, *loc_s; /* k: snapshot */
    size_t *src;         /* k: column order after a collapse (rp__tangent_refill) */
    uint64_t seed;       /* cfg->seed */
    rp_rng rng, rng_s;   /* refill directions (restarted with the trajectory); snapshot */
    char err[RP_ERRLEN];
    rp_allocator al; /* the net's */
};

#define RP_LYAP_CODE
#define RP_K_DOUBLE
#include "lyap_kernels.h"
#undef RP_K_DOUBLE
#define RP_K_SINGLE
#include "lyap_kernels.h"
#undef RP_K_SINGLE
#undef RP_LYAP_CODE

/* const handles still record why a call failed.  The net is never written:
   without a handle (rp_lyap_create, rp_lyap_max_direct) the status is all. */
#define LY_ERR(ly) ((char *)(ly)->err)

static const rp__cfg_type lyap_cfg_type =
    RP__CFG_TYPE(rp_lyap_config, RP__LYAP_CONFIG_SIZE_1_0, "rp_lyap_config_init");

static void lyap_defaults(rp_lyap_config *c)
{
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->t_ons = 1;
    c->transient = 0;
    c->seed = 1;
#ifdef RP_TEST_GROWN
    c->rp_test_future = RP_TEST_GROWN_DEFAULT;
#endif
}

rp_status rp_lyap_config_init(rp_lyap_config *cfg, size_t size)
{
    rp_lyap_config d;
    lyap_defaults(&d);
    return rp__cfg_init(&lyap_cfg_type, cfg, size, &d, NULL);
}

void rp_lyap_free(rp_lyap *ly)
{
    if (!ly)
        return;
    ws_free(&ly->wd, &ly->al);
    ws_free_f(&ly->wf, &ly->al);
    rp__free(&ly->al, ly->q0own);
    rp__free(&ly->al, ly->Q0); /* one block: see alloc_all */
    rp__free(&ly->al, ly->src);
    rp__free(&ly->al, ly);
}

const char *rp_lyap_last_error(const rp_lyap *ly) { return ly ? ly->err : "ly is NULL"; }

/* The double arrays in one block, and the working-precision workspace.
   1 on success, 0 out of memory, -1 if LAPACK's workspace query failed. */
static int alloc_all(rp_lyap *ly)
{
    const size_t N = ly->N, k = ly->k, Nk = N * k;
    double *p = rp__calloc(&ly->al, Nk + 6 * k, sizeof(double));
    ly->src = rp__calloc(&ly->al, k, sizeof(size_t));
    if (!p || !ly->src) {
        rp__free(&ly->al, p);
        return 0;
    }
    ly->Q0 = p, p += Nk;
    ly->S = p, p += k;
    ly->loc = p, p += k;
    ly->Stmp = p, p += k;
    ly->S_s = p, p += k;
    ly->loc_s = p, p += k;
    if (ly->precision == RP_PRECISION_SINGLE) {
        int r = ws_alloc_f(&ly->wf, &ly->al, N, k, ly->n_in);
        if (r != 1)
            return r;
        const lapack_int lw = rp__qr_lwork(N, k);
        if (lw == 0)
            return -1;
        double *q = rp__calloc(&ly->al, 2 * Nk + k + (size_t)lw, sizeof(double));
        if (!q)
            return 0;
        ly->q0own = q;
        ly->q0y = q, q += Nk;
        ly->q0w = (rp__qr){N, k, q, q + Nk, q + Nk + k, lw, NULL, NULL};
        return 1;
    }
    int r = ws_alloc(&ly->wd, &ly->al, N, k, ly->n_in);
    if (r != 1)
        return r;
    ly->q0w = ly->wd.qr;
    ly->q0w.tcwork = NULL;
    ly->q0w.tciwork = NULL;
    ly->q0y = ly->wd.work;
    return 1;
}

static void clear_run(rp_lyap *ly)
{
    ly->started = 0;
    ly->t = ly->counted = ly->n_qr = 0;
    ly->cond_last = ly->cond_max = 0.0;
    memset(ly->S, 0, ly->k * sizeof(double));
    memset(ly->loc, 0, ly->k * sizeof(double));
    /* A stream of its own, so the refills do not depend on how Q0 was drawn. */
    rp__rng_seed(&ly->rng, rp__seed_mix(ly->seed, RP__REFILL_TAG));
}

/* The caller's cfg (NULL: the defaults) read into *c (config.c) and checked. */
static rp_status check_config(const rp_net *net, size_t k, const rp_lyap_config *ucfg,
                              rp_lyap_config *c, char *err)
{
    if (!net)
        return rp__fail(err, RP_ERR_INVALID_ARG, "net is NULL");
    lyap_defaults(c);
    if (ucfg) {
        rp_status st = rp__cfg_read(&lyap_cfg_type, c, ucfg, "cfg", err);
        if (st != RP_OK)
            return st;
    }
    const size_t N = net->cfg.n_rec;
    if (k == 0 || k > N)
        return rp__fail(err, RP_ERR_INVALID_ARG, "k is %zu, expected 1..n_rec = %zu", k, N);
    if (c->t_ons == 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "t_ons is 0, expected >= 1");
    int ok = 1;
    (void)rp__mul(N, k, &ok);
    if (!ok || N * k > (size_t)INT32_MAX)
        return rp__fail(err, RP_ERR_INVALID_ARG, "n_rec*k = %zu*%zu exceeds LAPACK's integers", N,
                        k);
    return RP_OK;
}

rp_status rp_lyap_config_check(const rp_net *net, size_t k, const rp_lyap_config *cfg, char *msg,
                               size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_lyap_config c;
    rp_status st = check_config(net, k, cfg, &c, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

static rp_status lyap_create(rp_lyap **out, const rp_net *net, size_t k, const rp_lyap_config *cfg,
                             char *err)
{
    if (!out)
        return rp__fail(err, RP_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    rp_lyap_config c;
    rp_status cst = check_config(net, k, cfg, &c, err);
    if (cst != RP_OK)
        return cst;
    const size_t N = net->cfg.n_rec;

    rp_lyap *ly = rp__calloc(&net->al, 1, sizeof *ly);
    if (!ly)
        return rp__fail(err, RP_ERR_NOMEM, "out of memory for the estimator");
    ly->al = net->al;
    ly->N = N;
    ly->n_in = net->cfg.n_in;
    ly->k = k;
    ly->t_ons = c.t_ons;
    ly->transient = c.transient;
    ly->form = net->cfg.form;
    ly->act = net->cfg.act;
    ly->seed = c.seed;
    ly->precision = net->cfg.precision;
    const int r = alloc_all(ly);
    if (r != 1) {
        rp_lyap_free(ly);
        if (r < 0)
            return rp__fail(err, RP_ERR_LAPACK, "LAPACK workspace query failed");
        return rp__fail(err, RP_ERR_NOMEM,
                        "out of memory for the estimator's n_rec x k = "
                        "%zu x %zu workspaces",
                        N, k);
    }
    rp_status st = rp__qr_seeded(&ly->q0w, c.seed, ly->q0y, ly->Q0, ly->S, ly->err);
    if (st != RP_OK) {
        rp__copy_msg(err, RP_ERRLEN, ly->err);
        rp_lyap_free(ly);
        return st;
    }
    clear_run(ly);
    *out = ly;
    return RP_OK;
}

rp_status rp_lyap_create(rp_lyap **out, const rp_net *net, size_t k, const rp_lyap_config *cfg,
                         char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = lyap_create(out, net, k, cfg, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_lyap_reset(rp_lyap *ly)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    clear_run(ly);
    return RP_OK;
}

rp_status rp_lyap_set_basis(rp_lyap *ly, const double *Q0, size_t len)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    const size_t N = ly->N, k = ly->k;
    /* Factor into scratch first, so a rank-deficient Q0 changes nothing. */
    rp_status st = rp__qr_basis(&ly->q0w, Q0, len, ly->q0y, ly->loc_s, ly->err);
    if (st != RP_OK)
        return st;
    memcpy(ly->Q0, ly->q0y, N * k * sizeof(double));
    clear_run(ly);
    return RP_OK;
}

static rp_status check_net(rp_lyap *ly, const rp_net *net)
{
    if (net->cfg.n_rec != ly->N || net->cfg.n_in != ly->n_in)
        return rp__fail(ly->err, RP_ERR_DIM_MISMATCH,
                        "net has n_rec = %zu, n_in = %zu; the estimator was created for %zu, %zu",
                        net->cfg.n_rec, net->cfg.n_in, ly->N, ly->n_in);
    if (net->cfg.precision != ly->precision)
        return rp__fail(ly->err, RP_ERR_DIM_MISMATCH,
                        "net has precision %d; the estimator was created for precision %d "
                        "(RP_PRECISION_DOUBLE 0, RP_PRECISION_SINGLE 1)",
                        (int)net->cfg.precision, (int)ly->precision);
    if (net->cfg.form != ly->form || net->cfg.act != ly->act)
        return rp__fail(ly->err, RP_ERR_DIM_MISMATCH,
                        "net has form %d, activation %d; the estimator was created for %d, %d",
                        (int)net->cfg.form, (int)net->cfg.act, (int)ly->form, (int)ly->act);
    return RP_OK;
}

typedef struct snap_scalars {
    int started;
    size_t t, counted, n_qr;
    double cond_last, cond_max;
} snap_scalars;

static void snapshot(rp_lyap *ly, snap_scalars *s)
{
    const size_t N = ly->N, k = ly->k;
    *s = (snap_scalars){ly->started, ly->t, ly->counted, ly->n_qr, ly->cond_last, ly->cond_max};
    if (ly->precision == RP_PRECISION_SINGLE)
        ws_snapshot_f(&ly->wf, N, k);
    else
        ws_snapshot(&ly->wd, N, k);
    memcpy(ly->S_s, ly->S, k * sizeof(double));
    memcpy(ly->loc_s, ly->loc, k * sizeof(double));
    ly->rng_s = ly->rng;
}

static void restore(rp_lyap *ly, const snap_scalars *s)
{
    const size_t N = ly->N, k = ly->k;
    ly->started = s->started;
    ly->t = s->t;
    ly->counted = s->counted;
    ly->n_qr = s->n_qr;
    ly->cond_last = s->cond_last;
    ly->cond_max = s->cond_max;
    if (ly->precision == RP_PRECISION_SINGLE)
        ws_restore_f(&ly->wf, N, k);
    else
        ws_restore(&ly->wd, N, k);
    memcpy(ly->S, ly->S_s, k * sizeof(double));
    memcpy(ly->loc, ly->loc_s, k * sizeof(double));
    ly->rng = ly->rng_s;
}

rp_status rp_lyap_run(rp_lyap *ly, const rp_net *net, size_t T, const double *x)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    if (!net)
        return rp__fail(ly->err, RP_ERR_INVALID_ARG, "net is NULL");
    rp_status st = check_net(ly, net);
    if (st != RP_OK)
        return st;
    const size_t n_in = ly->n_in;
    if (x && n_in) {
        int ok = 1;
        size_t n = rp__mul(T, n_in, &ok);
        if (!ok)
            return rp__fail(ly->err, RP_ERR_INVALID_ARG, "T*n_in overflows (T = %zu)", T);
        size_t bad = rp__find_nonfinite(x, n);
        if (bad < n)
            return rp__fail(ly->err, RP_ERR_NONFINITE, "x at step %zu, input %zu is %g", bad / n_in,
                            bad % n_in, x[bad]);
    }
    if (T == 0)
        return RP_OK;
    snap_scalars s;
    snapshot(ly, &s);
    if (!ly->started) {
        if (ly->precision == RP_PRECISION_SINGLE)
            ws_start_f(&ly->wf, net, ly->Q0, ly->k);
        else
            ws_start(&ly->wd, net, ly->Q0, ly->k);
        ly->started = 1;
    }
    for (size_t t = 0; t < T; t++) {
        const double *xt = x && n_in ? x + t * n_in : NULL;
        st = ly->precision == RP_PRECISION_SINGLE ? lyap_step_f(ly, &ly->wf, net, xt)
                                                  : lyap_step(ly, &ly->wd, net, xt);
        if (st != RP_OK) {
            char msg[RP_ERRLEN];
            memcpy(msg, ly->err, RP_ERRLEN);
            restore(ly, &s);
            memcpy(ly->err, msg, RP_ERRLEN);
            return st;
        }
    }
    return RP_OK;
}

static rp_status check_out(const rp_lyap *ly, const double *out, size_t k)
{
    if (!out)
        return rp__fail(LY_ERR(ly), RP_ERR_INVALID_ARG, "out is NULL");
    if (k == 0)
        return rp__fail(LY_ERR(ly), RP_ERR_INVALID_ARG, "k is 0, expected 1..%zu", ly->k);
    if (k > ly->k)
        return rp__fail(LY_ERR(ly), RP_ERR_DIM_MISMATCH,
                        "k is %zu, expected at most the %zu exponents the estimator tracks", k,
                        ly->k);
    return RP_OK;
}

rp_status rp_lyap_get_spectrum(const rp_lyap *ly, double *out, size_t k)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_out(ly, out, k);
    if (st != RP_OK)
        return st;
    if (ly->counted == 0)
        return rp__fail(LY_ERR(ly), RP_ERR_STATE,
                        "no step counted yet: %zu steps run, transient %zu, t_ons %zu (a window "
                        "counts when it ends after the transient)",
                        ly->t, ly->transient, ly->t_ons);
    /* The k largest of the ly->k exponents, descending: a partial insertion
       sort (not a hot path).  -inf compares normally; NaN cannot occur. */
    const double inv = 1.0 / (double)ly->counted;
    size_t n = 0;
    for (size_t j = 0; j < ly->k; j++) {
        double v = ly->S[j] * inv;
        if (n == k && !(v > out[k - 1]))
            continue;
        size_t i = n < k ? n++ : k - 1;
        while (i > 0 && out[i - 1] < v) {
            out[i] = out[i - 1];
            i--;
        }
        out[i] = v;
    }
    return RP_OK;
}

rp_status rp_lyap_get_steps(const rp_lyap *ly, size_t *counted, size_t *total)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    if (counted)
        *counted = ly->counted;
    if (total)
        *total = ly->t;
    return RP_OK;
}

rp_status rp_lyap_get_local(const rp_lyap *ly, double *out, size_t k)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    rp_status st = check_out(ly, out, k);
    if (st != RP_OK)
        return st;
    if (ly->n_qr == 0)
        return rp__fail(LY_ERR(ly), RP_ERR_STATE,
                        "no re-orthonormalization yet: %zu steps run, t_ons %zu", ly->t, ly->t_ons);
    memcpy(out, ly->loc, k * sizeof(double));
    return RP_OK;
}

rp_status rp_lyap_get_cond(const rp_lyap *ly, double *last, double *max)
{
    RP__CLEAR_ERR(ly);
    if (!ly)
        return RP_ERR_INVALID_ARG;
    if (ly->n_qr == 0)
        return rp__fail(LY_ERR(ly), RP_ERR_STATE,
                        "no re-orthonormalization yet: %zu steps run, t_ons %zu", ly->t, ly->t_ons);
    if (last)
        *last = ly->cond_last;
    if (max)
        *max = ly->cond_max;
    return RP_OK;
}

/* ---- lambda_max by a twin trajectory ----------------------------------- */

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* z = h + eps v, v a unit vector of N(0,1) draws from rng. */
static void twin_perturb(const double *h, double *z, size_t N, double eps, rp_rng *rng)
{
    double nv = 0.0;
    for (size_t i = 0; i < N; i++) {
        z[i] = rp__rng_normal(rng);
        nv += z[i] * z[i];
    }
    nv = sqrt(nv);
    for (size_t i = 0; i < N; i++)
        z[i] = h[i] + eps * z[i] / nv;
}

rp_status rp_lyap_max_direct(const rp_net *net, size_t T, const double *x, size_t transient,
                             double eps, uint64_t seed, double *lambda_max, char *msg,
                             size_t msglen)
{
    rp__copy_msg(msg, msglen, "");
    if (!net || !lambda_max)
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "%s is NULL",
                            net ? "lambda_max" : "net");
    if (net->cfg.precision == RP_PRECISION_SINGLE)
        return rp__fail_msg(msg, msglen, RP_ERR_UNSUPPORTED,
                            "single precision: rp_lyap_max_direct is not supported yet (the "
                            "twin's separation, eps relative to the state, would be a few "
                            "float ulps of it: use rp_lyap on the net, or a double copy)");
    if (!(eps > 0.0 && isfinite(eps)))
        return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "eps is %g, expected finite and > 0",
                            eps);
    if (T <= transient)
        return rp__fail_msg(msg, msglen, RP_ERR_STATE, "T = %zu steps, expected > transient = %zu",
                            T, transient);
    const size_t N = net->cfg.n_rec, n_in = net->cfg.n_in;
    const rp_activation act = net->cfg.act;
    if (x && n_in) {
        int ok = 1;
        size_t n = rp__mul(T, n_in, &ok);
        if (!ok)
            return rp__fail_msg(msg, msglen, RP_ERR_INVALID_ARG, "T*n_in = %zu*%zu overflows", T,
                                n_in);
        size_t bad = rp__find_nonfinite(x, n);
        if (bad < n)
            return rp__fail_msg(msg, msglen, RP_ERR_NONFINITE, "x[%zu] (step %zu, input %zu) is %g",
                                bad, bad / n_in, bad % n_in, x[bad]);
    }
    double *buf = rp__calloc(&net->al, 5 * N + rp__pad_len(n_in, N, 0), sizeof(double));
    if (!buf)
        return rp__fail_msg(msg, msglen, RP_ERR_NOMEM, "out of memory for the twin trajectories");
    double *h = buf, *fh = h + N, *z = fh + N, *fz = z + N, *u = fz + N, *pad = u + N;

    memcpy(h, net->h0, N * sizeof(double));
    rp_rng rng;
    rp__rng_seed(&rng, seed);
    double eps_t = eps * fmax(1.0, max_abs(h, N)); /* the separation set before step t */
    twin_perturb(h, z, N, eps_t, &rng);
    rp__act(act, h, fh, N);
    rp__act(act, z, fz, N);

    rp_status st = RP_OK;
    double sum = 0.0;
    for (size_t t = 0; t < T; t++) {
        const double *xt = x && n_in ? x + t * n_in : NULL;
        rp__forward(net, 1, xt, h, fh, u, pad);
        rp__forward(net, 1, xt, z, fz, u, pad);
        double d2 = 0.0;
        for (size_t i = 0; i < N; i++) {
            double d = z[i] - h[i];
            d2 += d * d;
        }
        double d = sqrt(d2);
        if (!isfinite(d) || rp__find_nonfinite(h, N) < N) {
            st = rp__fail_msg(msg, msglen, RP_ERR_NONFINITE, "the trajectory diverged at step %zu",
                              t);
            break;
        }
        if (d == 0.0 && t >= transient) {
            /* Merged exactly in a counted step: log 0 (the header's collapse rule). */
            sum = -INFINITY;
            break;
        }
        /* The next separation is relative to the state's scale, so that a
           growing (relu, alpha = 0) trajectory does not round the twin away:
           at |h| ~ 1e12 an absolute 1e-7 is below the state's ulp. */
        const double eps_next = eps * fmax(1.0, max_abs(h, N));
        if (d == 0.0) {
            /* Merged in the transient: a new random perturbation, as the QR
               estimator refills a collapsed direction. */
            twin_perturb(h, z, N, eps_next, &rng);
        } else {
            if (t >= transient)
                sum += log(d / eps_t);
            const double s = eps_next / d;
            for (size_t i = 0; i < N; i++)
                z[i] = h[i] + s * (z[i] - h[i]);
        }
        eps_t = eps_next;
        if (net->cfg.form == RP_FORM_VOLTAGE)
            rp__act(act, z, fz, N);
    }
    rp__free(&net->al, buf);
    if (st == RP_OK)
        *lambda_max = sum / (double)(T - transient);
    return st;
}
