/* bench_train — time per training iteration (rp_rule_trial + rp_optim_step,
   Adam) and GFLOP/s for every learning rule, and per online tick for e-prop,
   RFLO and the forward step, beside the dgemm peak (and the dgemv rate for
   the one-trial online case) measured in the same run.  Prints figures and
   appends rows to the CSV; never asserts.  A rule this build does not provide
   prints "unsupported".

   Flop counts (voltage form, relu; I = n_in, O = n_out; per trial and step,
   multiply by B T for an iteration).  Only the matrix products are counted:
   element-wise work (leak, activation, traces, Adam's ~15 flops per parameter
   and step) is left out, so the figures are a lower bound on the work done.
     forward          2N^2 + 2NI + 2NO          W f(h), U x, V f(h)
     BPTT             forward + 2NO + 2N^2      e V, the adjoint recurrence
                      + 2N^2 + 2NI + 2NO        G_W = D^T Z, G_U, G_V (stacked GEMMs)
                      = 6N^2 + 4NI + 6NO
     TBPTT(K)         BPTT with the recurrence K times: (4 + 2K) N^2 + 4NI + 6NO
                      (K = 10, the default; the window's adjoints are carried as
                      one K B x N block, MODEL.md §4.2)
     e-prop, RFLO     forward + 2NO (L = B_fb e) + 2N^2 + 2NI + 2NO (G = sum a eps^T)
                      = 4N^2 + 4NI + 6NO
     RTRL             forward + 2N^4 (P_t = D_t P_{t-1}, N x N^2 sensitivities)
                      + 2N^3 (the learning signal contracted with P) + BPTT's
                      readout terms: 2N^4 + 2N^3 + 2N^2 + 2NI + 6NO (leading
                      terms only; U and b sensitivities, N^2 I and N^2, ignored)
     online tick      rp_net_step + rp_rule_step: e-prop's per-step count;
                      forward alone: the forward count.
   Sizes (N, B, T): (64, 1, 300), (128, 1, 100), (128, 32, 100), (512, 64, 100);
   RTRL only at N <= 64.  Online ticks at (N, B) = (128, 1).
   The machine is shared (2 cores, several users): figures are noisy.
   OPENBLAS_NUM_THREADS decides the threads (printed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "rnnplast.h"

enum { N_IN = 4, N_OUT = 2, TBPTT_K = 10 };

static const struct {
    rp_rule_kind kind;
    const char *name;
} rules[] = {
    {RP_RULE_BPTT, "bptt"},   {RP_RULE_TBPTT, "tbptt"}, {RP_RULE_RTRL, "rtrl"},
    {RP_RULE_EPROP, "eprop"}, {RP_RULE_RFLO, "rflo"},
};

static double flops_per_step(rp_rule_kind kind, double N)
{
    const double io = 4 * N * N_IN + 6 * N * N_OUT;
    switch (kind) {
    case RP_RULE_BPTT:
        return 6 * N * N + io;
    case RP_RULE_TBPTT:
        return (4 + 2 * TBPTT_K) * N * N + io;
    case RP_RULE_RTRL:
        return 2 * N * N * N * N + 2 * N * N * N + 2 * N * N + 2 * N * N_IN + 6 * N * N_OUT;
    default:
        return 4 * N * N + io;
    }
}

/* A relu network at gain 0.5 (stable: long online runs stay finite). */
static rp_net *make_net(int N, int B)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = N_IN;
    c.n_rec = (size_t)N;
    c.n_out = N_OUT;
    c.batch = (size_t)B;
    rp_net *net = NULL;
    if (rp_net_create(&net, &c, NULL, 0) != RP_OK)
        return NULL;
    rp_init *in = NULL;
    if (rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0) != RP_OK) {
        rp_net_free(net);
        return NULL;
    }
    BU_CK(rp_init_set_gain(in, 0.5));
    rp_status st = rp_init_apply(in, net, RP_PARAM_W, 1);
    if (st == RP_OK)
        st = rp_init_apply(in, net, RP_PARAM_U, 2);
    if (st == RP_OK)
        st = rp_init_apply(in, net, RP_PARAM_V, 3);
    rp_init_free(in);
    if (st != RP_OK) {
        rp_net_free(net);
        return NULL;
    }
    return net;
}

typedef struct job {
    rp_net *net;
    rp_rule *rule;
    rp_optim *opt;
    rp_grad *g;
    size_t T;
    double *x, *y;
    rp_status st;
} job;

static void iter_fn(void *p)
{
    job *j = p;
    if (j->st != RP_OK)
        return;
    double loss;
    j->st = rp_grad_zero(j->g);
    if (j->st == RP_OK)
        j->st = rp_rule_trial(j->rule, j->net, j->T, j->x, j->y, NULL, j->g, &loss);
    if (j->st == RP_OK)
        j->st = rp_optim_step(j->opt, j->net, j->g);
}

static void tick_fn(void *p)
{
    job *j = p;
    if (j->st != RP_OK)
        return;
    j->st = rp_net_step(j->net, j->x, NULL);
    if (j->st == RP_OK && j->rule)
        j->st = rp_rule_step(j->rule, j->net, j->x, j->y, NULL, j->g);
}

/* Repetitions for about `budget` seconds, from one timed call. */
static int reps_for(void (*fn)(void *), void *arg, int inner, double budget)
{
    double t0 = bu_now();
    for (int i = 0; i < inner; i++)
        fn(arg);
    double t = bu_now() - t0;
    int r = t > 0 ? (int)(budget / t) : 7;
    return r < 2 ? 2 : (r > 7 ? 7 : r);
}

static void fill_data(double *x, size_t nx, double *y, size_t ny)
{
    for (size_t i = 0; i < nx; i++)
        x[i] = 0.5 * sin(0.01 * (double)i);
    for (size_t i = 0; i < ny; i++)
        y[i] = 0.5 * cos(0.02 * (double)i);
}

static void bench_iter(int r, int N, int B, int T, double peak)
{
    const char *name = rules[r].name;
    printf("%-6s %5d %4d %5d  ", name, N, B, T);
    fflush(stdout);
    job j = {0};
    j.net = make_net(N, B);
    if (!j.net) {
        printf("net not created\n");
        return;
    }
    j.T = (size_t)T;
    rp_status st = rp_rule_create(&j.rule, j.net, rules[r].kind, NULL, 0);
    if (st != RP_OK) {
        printf("%s\n", st == RP_ERR_UNSUPPORTED ? "unsupported" : rp_status_string(st));
        rp_net_free(j.net);
        return;
    }
    if (rules[r].kind == RP_RULE_TBPTT)
        st = rp_rule_set_truncation(j.rule, TBPTT_K);
    if (st == RP_OK)
        st = rp_optim_create(&j.opt, j.net, RP_OPTIM_ADAM, NULL, 0);
    if (st == RP_OK)
        st = rp_grad_create(&j.g, j.net, NULL, 0);
    size_t nx = (size_t)T * B * N_IN, ny = (size_t)T * B * N_OUT;
    j.x = malloc(nx * sizeof *j.x);
    j.y = malloc(ny * sizeof *j.y);
    if (st != RP_OK || !j.x || !j.y) {
        printf("setup failed: %s\n", rp_status_string(st != RP_OK ? st : RP_ERR_NOMEM));
    } else {
        fill_data(j.x, nx, j.y, ny);
        j.st = RP_OK;
        int reps = reps_for(iter_fn, &j, 1, 2.0);
        double s = bu_time(iter_fn, &j, reps, 1);
        if (j.st != RP_OK) {
            printf("%s: %s\n", j.st == RP_ERR_UNSUPPORTED ? "unsupported" : rp_status_string(j.st),
                   rp_rule_last_error(j.rule));
        } else {
            double fl = flops_per_step(rules[r].kind, N) * B * T;
            double gf = fl / s * 1e-9;
            printf("%12.3f  %8.2f  %7.1f %%  %6.1f MiB\n", s * 1e3, gf, 100 * gf / peak,
                   bu_peak_mib());
            char what[32];
            snprintf(what, sizeof what, "%s_iter", name);
            bu_csv("train", what, N, B, T, rules[r].kind == RP_RULE_TBPTT ? TBPTT_K : 0, s, gf,
                   gf / peak, bu_peak_mib());
        }
    }
    free(j.x);
    free(j.y);
    rp_grad_free(j.g);
    rp_optim_free(j.opt);
    rp_rule_free(j.rule);
    rp_net_free(j.net);
}

/* One online tick at B = 1: rp_net_step, then rp_rule_step (rule >= 0) or nothing (forward). */
static void bench_tick(int r, int N, double gemv)
{
    const char *name = r >= 0 ? rules[r].name : "forward";
    printf("%-8s %5d     1  ", name, N);
    job j = {0};
    j.net = make_net(N, 1);
    double x[N_IN], y[N_OUT];
    fill_data(x, N_IN, y, N_OUT);
    j.x = x;
    j.y = y;
    if (!j.net) {
        printf("net not created\n");
        return;
    }
    rp_status st = RP_OK;
    if (r >= 0) {
        st = rp_rule_create(&j.rule, j.net, rules[r].kind, NULL, 0);
        if (st == RP_OK)
            st = rp_grad_create(&j.g, j.net, NULL, 0);
        if (st == RP_OK)
            st = rp_rule_begin(j.rule, j.net);
    }
    if (st != RP_OK) {
        printf("%s\n", st == RP_ERR_UNSUPPORTED ? "unsupported" : rp_status_string(st));
    } else {
        j.st = RP_OK;
        double s = bu_time(tick_fn, &j, 7, 2000);
        if (j.st != RP_OK) {
            printf("%s\n", j.st == RP_ERR_UNSUPPORTED ? "unsupported" : rp_status_string(j.st));
        } else {
            double fl = r >= 0 ? flops_per_step(rules[r].kind, N)
                               : 2.0 * N * N + 2.0 * N * N_IN + 2.0 * N * N_OUT;
            double gf = fl / s * 1e-9;
            printf("%12.3f  %8.2f  %7.1f %% of dgemv rate\n", s * 1e6, gf, 100 * gf / gemv);
            char what[32];
            snprintf(what, sizeof what, "%s_tick", name);
            bu_csv("train", what, N, 1, 1, 0, s, gf, gf / gemv, bu_peak_mib());
        }
        if (j.rule)
            BU_CK(rp_rule_end(j.rule, NULL));
    }
    rp_grad_free(j.g);
    rp_rule_free(j.rule);
    rp_net_free(j.net);
}

int main(void)
{
    /* the peak is already the best of 10 runs; the dgemv rate the best of three
       medians (on a shared machine a single median reads low) */
    double peak = bu_dgemm_peak(), gemv = 0.0;
    for (int r = 0; r < 3; r++) {
        double g = bu_dgemv_rate(128);
        gemv = g > gemv ? g : gemv;
    }
    printf("bench_train: OpenBLAS threads %d, dgemm peak %.2f GFLOP/s (n = 1024), "
           "dgemv rate %.2f GFLOP/s (n = 128)\n",
           openblas_get_num_threads(), peak, gemv);
    bu_csv("train", "dgemm_peak", 1024, 0, 0, 0, 0.0, peak, 1.0, bu_peak_mib());
    bu_csv("train", "dgemv_rate", 128, 1, 0, 0, 0.0, gemv, 1.0, bu_peak_mib());

    printf("\nper training iteration (rp_rule_trial + Adam rp_optim_step)\n");
    printf("%-6s %5s %4s %5s  %12s  %8s  %9s  %10s\n", "rule", "N", "B", "T", "ms/iter", "GFLOP/s",
           "of peak", "peak mem");
    static const int sizes[][3] = {{64, 1, 300}, {128, 1, 100}, {128, 32, 100}, {512, 64, 100}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int r = 0; r < (int)(sizeof rules / sizeof rules[0]); r++) {
            if (rules[r].kind == RP_RULE_RTRL && sizes[i][0] > 64)
                continue; /* O(N^4) a step */
            bench_iter(r, sizes[i][0], sizes[i][1], sizes[i][2], peak);
        }

    printf("\nper online tick (rp_net_step, then rp_rule_step)\n");
    printf("%-8s %5s %5s  %12s  %8s\n", "rule", "N", "B", "us/tick", "GFLOP/s");
    bench_tick(-1, 128, gemv);
    for (int r = 0; r < (int)(sizeof rules / sizeof rules[0]); r++)
        if (rules[r].kind == RP_RULE_EPROP || rules[r].kind == RP_RULE_RFLO)
            bench_tick(r, 128, gemv);
    return 0;
}
