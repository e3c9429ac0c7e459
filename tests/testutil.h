/* Helpers shared by the test suites. */
#ifndef RP_TESTUTIL_H
#define RP_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnplast.h"

/* Fail the test with the call's status and the handle's message. */
#define RP_CK(call, h, errfn)                                                                \
    do {                                                                                     \
        rp_status st_ = (call);                                                              \
        ck_assert_msg(st_ == RP_OK, "%s -> %s: %s", #call, rp_status_string(st_), errfn(h)); \
    } while (0)

/* A deterministic test generator, independent of the library's own. */
static inline double tu_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* Fill a with uniform values in [lo, hi). */
static inline void tu_fill(double *a, size_t n, double lo, double hi, uint64_t seed)
{
    uint64_t s = seed * 2654435761ULL + 1;
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * tu_uniform(&s);
}

/* max_i |a_i - b_i| / max(max_i |b_i|, floor) */
static inline double tu_rel_err(const double *a, const double *b, size_t n, double floor_)
{
    double d = 0.0, m = floor_;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        d = e > d ? e : d;
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
    }
    return d / m;
}

/* The whole file at path, malloc'ed; *n receives its length. */
static inline unsigned char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    ck_assert_ptr_nonnull(p);
    size_t r;
    while ((r = fread(p + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            cap *= 2;
            p = realloc(p, cap);
            ck_assert_ptr_nonnull(p);
        }
    }
    fclose(f);
    *n = len;
    return p;
}

/* Write the n bytes at p to path (created or truncated). */
static inline void tu_write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- fixtures built through the public API (no oracle here) ------------ */

/* rp_net_config_init() with the sizes, form, activation and leak given. */
static inline rp_net_config tu_net_config(size_t n_in, size_t n_rec, size_t n_out, size_t batch,
                                          rp_form form, rp_activation act, double alpha)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = n_in;
    c.n_rec = n_rec;
    c.n_out = n_out;
    c.batch = batch;
    c.alpha = alpha;
    c.form = form;
    c.act = act;
    return c;
}

/* Set every parameter block w of net (W, U, b, V, c) to uniform values of
   standard deviation s, s = w_gain / sqrt(n_rec) for W and other_std for the
   rest, block w seeded seed + w.  Returns the total parameter count. */
static inline size_t tu_set_random_params(rp_net *net, double w_gain, double other_std,
                                          uint64_t seed)
{
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(net, &c, sizeof c), RP_OK);
    size_t total = 0;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        size_t n = 0;
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)w, &n), RP_OK);
        double *buf = malloc((n ? n : 1) * sizeof *buf);
        ck_assert_ptr_nonnull(buf);
        double s = w == RP_PARAM_W ? w_gain / sqrt((double)c.n_rec) : other_std;
        tu_fill(buf, n, -s * sqrt(3.0), s * sqrt(3.0), seed + (uint64_t)w);
        ck_assert_int_eq(rp_net_set_param(net, (rp_param)w, buf, n), RP_OK);
        free(buf);
        total += n;
    }
    return total;
}

/* Set net's initial state to uniform values in [-half, half) and reset to it. */
static inline void tu_set_random_initial_state(rp_net *net, double half, uint64_t seed)
{
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(net, &c, sizeof c), RP_OK);
    double *h0 = malloc(c.n_rec * sizeof *h0);
    ck_assert_ptr_nonnull(h0);
    tu_fill(h0, c.n_rec, -half, half, seed);
    ck_assert_int_eq(rp_net_set_initial_state(net, h0, c.n_rec), RP_OK);
    ck_assert_int_eq(rp_net_reset(net), RP_OK);
    free(h0);
}

/* Targets for tb = T*B (step, trial) pairs: for MSE tb*n_out values in
   [-1, 1), for CE tb class indices in 0..n_out-1. */
static inline void tu_fill_targets(double *target, size_t tb, size_t n_out, rp_loss loss,
                                   uint64_t seed)
{
    if (loss == RP_LOSS_MSE) {
        tu_fill(target, tb * n_out, -1.0, 1.0, seed);
    } else {
        tu_fill(target, tb, 0.0, (double)n_out, seed);
        for (size_t i = 0; i < tb; i++)
            target[i] = floor(target[i]);
    }
}

/* One trial's data for tb = T*B (step, trial) pairs: inputs in [-1, 1)
   (seed), targets by tu_fill_targets (seed + 1), and a mask of zeros, ones
   and fractions (seed + 2), so that masking is exercised. */
static inline void tu_fill_trial_data(double *x, size_t n_in, double *target, size_t n_out,
                                      rp_loss loss, double *mask, size_t tb, uint64_t seed)
{
    tu_fill(x, tb * n_in, -1.0, 1.0, seed);
    tu_fill_targets(target, tb, n_out, loss, seed + 1);
    tu_fill(mask, tb, -0.5, 1.5, seed + 2);
    for (size_t i = 0; i < tb; i++)
        mask[i] = mask[i] < 0.0 ? 0.0 : mask[i] > 1.0 ? 1.0 : mask[i];
}

/* A gradient as one flat vector in the layout order (W, U, b, V, c). */
static inline void tu_grad_flat(const rp_net *net, const rp_grad *gr, double *g)
{
    size_t k = 0;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        size_t n = 0;
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)w, &n), RP_OK);
        ck_assert_int_eq(rp_grad_get(gr, (rp_param)w, g + k, n), RP_OK);
        k += n;
    }
}

/* rp_rule_trial() into a fresh gradient: g receives it flat (layout order),
   *E the trial loss. */
static inline void tu_trial_grad(rp_rule *r, const rp_net *net, size_t T, const double *x,
                                 const double *target, const double *mask, double *g, double *E)
{
    rp_grad *gr = NULL;
    ck_assert_int_eq(rp_grad_create(&gr, net, NULL, 0), RP_OK);
    rp_status st = rp_rule_trial(r, net, T, x, target, mask, gr, E);
    ck_assert_msg(st == RP_OK, "trial: %s", rp_rule_last_error(r));
    tu_grad_flat(net, gr, g);
    rp_grad_free(gr);
}

/* The parameters as one flat vector in the layout order (W, U, b, V, c). */
static inline void tu_params_flat(const rp_net *net, double *theta)
{
    size_t k = 0;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        size_t n = 0;
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)w, &n), RP_OK);
        ck_assert_int_eq(rp_net_get_param(net, (rp_param)w, theta + k, n), RP_OK);
        k += n;
    }
}

/* Assert tu_rel_err(got + off[k], want + off[k], len[k], floor_) < tol on
   every non-empty block k of the five parameters W U b V c (want the
   reference). */
static inline void tu_assert_blocks_close_at(const size_t off[5], const size_t len[5],
                                             const double *got, const double *want, double tol,
                                             double floor_, const char *what)
{
    static const char *names[] = {"W", "U", "b", "V", "c"};
    for (int k = 0; k < 5; k++) {
        if (len[k] == 0)
            continue;
        double err = tu_rel_err(got + off[k], want + off[k], len[k], floor_);
        ck_assert_msg(err < tol, "%s: %s relative error %.3g >= %.3g", what, names[k], err, tol);
    }
}

/* The same for flat layout-order vectors a and b of net's parameters (b the
   reference), with floor 1e-12. */
static inline void tu_assert_blocks_close(const rp_net *net, const double *a, const double *b,
                                          double tol, const char *what)
{
    size_t off[5], len[5], k = 0;
    for (int w = 0; w < RP_PARAM_COUNT; w++) {
        ck_assert_int_eq(rp_net_get_param_len(net, (rp_param)w, &len[w]), RP_OK);
        off[w] = k;
        k += len[w];
    }
    tu_assert_blocks_close_at(off, len, a, b, tol, 1e-12, what);
}

#endif
