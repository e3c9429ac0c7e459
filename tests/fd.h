/* Central finite differences of a rule's trial loss, the oracle for exact
   gradients (MODEL.md §4.1).  Header-only, for any suite:

     fd_grad(rule, net, T, x, target, mask, h, out, len)

   writes out[i] = (E(θ + h e_i) − E(θ − h e_i)) / (2h) for every parameter
   entry i in the rp_layout order (W, U, b, V, c: the order of rp_grad), where
   E is the loss rp_rule_trial() reports for the network with that parameter
   set by rp_net_set_param() on a clone; @p net is not changed.  The rule's
   own gradient is discarded (it goes into a scratch rp_grad), so any rule
   kind gives the same E.  Error: O(h²) truncation plus O(ε|E|/h) rounding;
   h ≈ 1e-5 balances them for E = O(1) (both ~1e-10). */
#ifndef RP_TESTS_FD_H
#define RP_TESTS_FD_H

#include <stdlib.h>

#include "rnnplast.h"

static inline rp_status fd_loss(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                                const double *target, const double *mask, rp_grad *scratch,
                                double *E)
{
    return rp_rule_trial(rule, net, T, x, target, mask, scratch, E);
}

/* len must be the total parameter count (sum of rp_net_get_param_len()). */
static inline rp_status fd_grad(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                                const double *target, const double *mask, double h, double *out,
                                size_t len)
{
    rp_net *c = NULL;
    rp_grad *scratch = NULL;
    double *p = NULL;
    rp_status st = rp_net_clone(&c, net, NULL, 0);
    if (st == RP_OK)
        st = rp_grad_create(&scratch, c, NULL, 0);
    size_t total = 0, maxlen = 0;
    for (int w = 0; w < RP_PARAM_COUNT && st == RP_OK; w++) {
        size_t n = 0;
        st = rp_net_get_param_len(c, (rp_param)w, &n);
        total += n;
        maxlen = n > maxlen ? n : maxlen;
    }
    if (st == RP_OK && total != len)
        st = RP_ERR_DIM_MISMATCH;
    if (st == RP_OK && !(p = malloc((maxlen ? maxlen : 1) * sizeof(double))))
        st = RP_ERR_NOMEM;
    size_t k = 0;
    for (int w = 0; w < RP_PARAM_COUNT && st == RP_OK; w++) {
        size_t n = 0;
        st = rp_net_get_param_len(c, (rp_param)w, &n);
        if (st == RP_OK)
            st = rp_net_get_param(c, (rp_param)w, p, n);
        for (size_t i = 0; i < n && st == RP_OK; i++, k++) {
            double v = p[i], ep = 0.0, em = 0.0;
            p[i] = v + h;
            st = rp_net_set_param(c, (rp_param)w, p, n);
            if (st == RP_OK)
                st = fd_loss(rule, c, T, x, target, mask, scratch, &ep);
            p[i] = v - h;
            if (st == RP_OK)
                st = rp_net_set_param(c, (rp_param)w, p, n);
            if (st == RP_OK)
                st = fd_loss(rule, c, T, x, target, mask, scratch, &em);
            p[i] = v;
            if (st == RP_OK)
                st = rp_net_set_param(c, (rp_param)w, p, n);
            out[k] = (ep - em) / (2.0 * h);
        }
    }
    free(p);
    rp_grad_free(scratch);
    rp_net_free(c);
    return st;
}

#endif
