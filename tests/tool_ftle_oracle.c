/* Independent oracles for the trial-based Lyapunov measurement and the
   weight change of `rnnplast` (tests/tool_cli.sh), through the public API.

   tool_ftle_oracle model OUT N ALPHA C [orth]
       writes a linear voltage-form network for dms (3 inputs, 3 outputs) with
       N units, leak ALPHA, U = 0, b = 0 and W = C I (or, with "orth",
       W = C P, P the cyclic shift with one sign flipped: orthogonal).  Its
       Jacobian is the constant D = ALPHA I + (1 - ALPHA) W (MODEL.md §1): for
       W = C I every exponent, finite-time and local, is log|ALPHA + (1-ALPHA) C|
       per step exactly; for W = C P and ALPHA = 0, D = C P has every singular
       value |C|, so every exponent is log|C| (MODEL.md §6 oracles).
   tool_ftle_oracle dw A B
       prints |W_B - W_A|_F / |W_A|_F of two saved networks (%.17g).
   tool_ftle_oracle path A0 A1 ... An
       prints sum_i |W_Ai - W_Ai-1|_F / |W_A0|_F (%.17g). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnplast.h"

static double *load_w(const char *path, size_t *n)
{
    rp_net *net = NULL;
    char msg[256];
    size_t len = 0;
    if (rp_net_load(&net, path, msg, sizeof msg) != RP_OK ||
        rp_net_get_param_len(net, RP_PARAM_W, &len) != RP_OK) {
        fprintf(stderr, "oracle: cannot load %s: %s\n", path, msg);
        exit(1);
    }
    double *w = malloc(len * sizeof *w);
    if (!w || rp_net_get_param(net, RP_PARAM_W, w, len) != RP_OK)
        exit(1);
    rp_net_free(net);
    *n = len;
    return w;
}

static double dist(const double *a, const double *b, size_t n)
{
    long double s = 0; /* another summation than the tool's */
    for (size_t i = n; i-- > 0;)
        s += ((long double)a[i] - b[i]) * ((long double)a[i] - b[i]);
    return (double)sqrtl(s);
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "model") == 0) {
        size_t N = strtoul(argv[3], NULL, 10);
        double alpha = strtod(argv[4], NULL), c = strtod(argv[5], NULL);
        int orth = argc > 6 && strcmp(argv[6], "orth") == 0;
        rp_net_config nc;
        rp_net *net = NULL;
        if (rp_net_config_init(&nc, sizeof nc) != RP_OK)
            return 1;
        nc.n_in = 3;
        nc.n_out = 3;
        nc.n_rec = N;
        nc.alpha = alpha;
        nc.act = RP_ACT_LINEAR;
        nc.form = RP_FORM_VOLTAGE;
        double *w = calloc(N * N, sizeof *w), *u = calloc(N * 3, sizeof *u);
        if (!w || !u || rp_net_create(&net, &nc, NULL, 0) != RP_OK)
            return 1;
        for (size_t i = 0; i < N; i++) {
            if (orth) /* W_{i, i+1 mod N} = c, the first row negated */
                w[i * N + (i + 1) % N] = i == 0 ? -c : c;
            else
                w[i * N + i] = c;
        }
        if (rp_net_set_param(net, RP_PARAM_W, w, N * N) != RP_OK ||
            rp_net_set_param(net, RP_PARAM_U, u, N * 3) != RP_OK ||
            rp_net_save(net, argv[2]) != RP_OK) {
            fprintf(stderr, "oracle: %s\n", rp_net_last_error(net));
            return 1;
        }
        rp_net_free(net);
        free(w);
        free(u);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "dw") == 0) {
        size_t n, m;
        double *a = load_w(argv[2], &n), *b = load_w(argv[3], &m);
        double z = 0.0;
        if (n != m)
            return 1;
        for (size_t i = 0; i < n; i++)
            z += a[i] * a[i];
        printf("%.17g\n", dist(b, a, n) / sqrt(z));
        free(a);
        free(b);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "path") == 0) {
        size_t n, m;
        double *a0 = load_w(argv[2], &n), *prev = a0, z = 0.0, p = 0.0;
        for (size_t i = 0; i < n; i++)
            z += a0[i] * a0[i];
        for (int k = 3; k < argc; k++) {
            double *a = load_w(argv[k], &m);
            if (m != n)
                return 1;
            p += dist(a, prev, n);
            if (prev != a0)
                free(prev);
            prev = a;
        }
        printf("%.17g\n", p / sqrt(z));
        if (prev != a0)
            free(prev);
        free(a0);
        return 0;
    }
    fprintf(stderr, "usage: tool_ftle_oracle model OUT N ALPHA C [orth] | dw A B | path A0 ...\n");
    return 2;
}
