/* alloc_check — counts the allocations the library makes in its hot paths
   (net run/step, every rule's trial and online stream, lyap run, floss trial;
   in double and, for what single-precision nets support, in single)
   after a warm-up call, by wrapping malloc/calloc/realloc at link time
   (-Wl,--wrap: only calls from librnnplast's own objects and this file are
   counted, not OpenBLAS's).  `make bench-alloc`; prints the counts, all 0
   expected.  Not part of bench-run (it needs the --wrap link flags). */
#include "rnnplast.h"
#include <stdio.h>
#include <stdlib.h>
static long n_alloc = 0;
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__wrap_malloc(size_t n)
{
    n_alloc++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
    n_alloc++;
    return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
    n_alloc++;
    return __real_realloc(p, n);
}
#define CK(x)                        \
    do {                             \
        if ((x) != RP_OK) {          \
            printf("fail %s\n", #x); \
            return 1;                \
        }                            \
    } while (0)
int main(void)
{
    const int N = 32, B = 4, T = 20;
    for (int pf = 0; pf < 4; pf++) {
        const int form = pf % 2, prec = pf / 2;
        rp_net_config c;
        rp_net_config_init(&c, sizeof c);
        c.n_in = 3;
        c.n_rec = N;
        c.n_out = 2;
        c.batch = B;
        c.act = RP_ACT_TANH;
        c.form = form ? RP_FORM_RATE : RP_FORM_VOLTAGE;
        c.precision = prec ? RP_PRECISION_SINGLE : RP_PRECISION_DOUBLE;
        rp_net *net;
        CK(rp_net_create(&net, &c, NULL, 0));
        rp_init *in;
        CK(rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0));
        rp_init_apply(in, net, RP_PARAM_W, 1);
        rp_init_apply(in, net, RP_PARAM_U, 2);
        rp_init_apply(in, net, RP_PARAM_V, 3);
        rp_init_free(in);
        double *x = calloc(T * B * 3, 8), *y = calloc(T * B * 2, 8), *tg = calloc(T * B * 2, 8);
        for (int i = 0; i < T * B * 3; i++)
            x[i] = 0.1 * (i % 5 - 2);
        rp_grad *g;
        CK(rp_grad_create(&g, net, NULL, 0));
        long before;
        CK(rp_net_run(net, T, x, y));
        before = n_alloc;
        CK(rp_net_run(net, T, x, y));
        CK(rp_net_step(net, x, y));
        printf("precision %d form %d net_run/step: %ld allocations\n", prec, form,
               n_alloc - before);
        rp_rule_kind kinds[6] = {RP_RULE_BPTT,  RP_RULE_TBPTT, RP_RULE_RTRL,
                                 RP_RULE_EPROP, RP_RULE_RFLO,  RP_RULE_MODPROP};
        for (int k = 0; k < 6; k++) {
            rp_rule *r;
            rp_status st = rp_rule_create(&r, net, kinds[k], NULL, 0);
            if (prec && st == RP_ERR_UNSUPPORTED)
                continue; /* RTRL is double only: refused, nothing to count */
            CK(st);
            if (kinds[k] == RP_RULE_TBPTT)
                rp_rule_set_truncation(r, 5);
            if (kinds[k] == RP_RULE_MODPROP) { /* two cell types */
                unsigned types[32];            /* N */
                for (int i = 0; i < N; i++)
                    types[i] = (unsigned)(i % 2);
                CK(rp_rule_set_cell_types(r, types, (size_t)N));
            }
            double loss;
            CK(rp_rule_trial(r, net, T, x, tg, NULL, g, &loss));
            before = n_alloc;
            CK(rp_rule_trial(r, net, T, x, tg, NULL, g, &loss));
            CK(rp_rule_trial(r, net, T / 2, x, tg, NULL, g, &loss));
            long trial = n_alloc - before;
            long online = -1;
            if (kinds[k] >= RP_RULE_RTRL) { /* the rules with an online mode */
                CK(rp_rule_begin(r, net));
                CK(rp_net_step(net, x, y));
                CK(rp_rule_step(r, net, x, tg, NULL, g));
                CK(rp_rule_end(r, NULL));
                before = n_alloc;
                CK(rp_rule_begin(r, net));
                for (int t = 0; t < 5; t++) {
                    CK(rp_net_step(net, x, y));
                    CK(rp_rule_step(r, net, x, tg, NULL, g));
                }
                CK(rp_rule_end(r, NULL));
                online = n_alloc - before;
            }
            printf(
                "precision %d form %d rule %d: trial %ld allocations, online (begin+5 steps+end) "
                "%ld\n",
                prec, form, k, trial, online);
            rp_rule_free(r);
        }
        if (!form) { /* both precisions: rp_lyap and rp_floss have float kernels */
            rp_lyap *ly;
            CK(rp_lyap_create(&ly, net, 4, NULL, NULL, 0));
            CK(rp_lyap_run(ly, net, 5, NULL));
            before = n_alloc;
            CK(rp_lyap_run(ly, net, 10, NULL));
            printf("precision %d lyap_run: %ld\n", prec, n_alloc - before);
            rp_lyap_free(ly);
            for (int m = 0; m < 2; m++) {
                rp_floss_config fc;
                rp_floss_config_init(&fc, sizeof fc);
                fc.k = 3;
                fc.mode = m ? RP_FLOSS_LOCAL : RP_FLOSS_EXACT;
                rp_floss *fl;
                CK(rp_floss_create(&fl, net, &fc, NULL, 0));
                CK(rp_floss_trial(fl, net, T, x, g, NULL, NULL));
                before = n_alloc;
                CK(rp_floss_trial(fl, net, T, x, g, NULL, NULL));
                CK(rp_floss_trial(fl, net, T / 2, x, g, NULL, NULL));
                printf("precision %d floss_trial mode %d: %ld\n", prec, m, n_alloc - before);
                rp_floss_free(fl);
            }
        }
        rp_grad_free(g);
        rp_net_free(net);
        free(x);
        free(y);
        free(tg);
    }
    return 0;
}
