/* bench_forward — time per step and GFLOP/s of rp_net_run, beside the limits
   measured in the same run: the dgemm peak (the limit for B > 1, where a step
   is a matrix product) and the dgemv rate at the same N (the limit for B = 1,
   where a step is memory-bound).  Prints figures; never asserts.

   Flops per step (the voltage form; the rate form is the same count):
       2 B N^2        W f(h)            (B x N times N x N)
     + 2 B N n_in     U x
     + 2 B N n_out    V f(h)            (the readout, y requested)
   Element-wise work (leak, bias, activation) is not counted; libm's tanh
   (~50 ns a call here) costs about as much as the 2N flops of its row at
   N = 512, so tanh rows run well below relu rows.
   B = 1 runs one dgemv per product (the default; rp_net_config.batch_invariant
   would pad to 8-trial dgemm blocks instead, for bit-identical batches).
   OPENBLAS_NUM_THREADS decides the threads (printed). */
#include <math.h>
#include <stdio.h>

#include "bench_util.h"
#include "rnnplast.h"

enum { N_IN = 4, N_OUT = 2 };

typedef struct job {
    rp_net *net;
    size_t T;
    double *x, *y;
    int failed;
} job;

static void run_fn(void *p)
{
    job *j = p;
    if (rp_net_run(j->net, j->T, j->x, j->y) != RP_OK)
        j->failed = 1;
}

static void bench(int N, int B, rp_activation act, double peak, double gemv_rate)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = N_IN;
    c.n_rec = (size_t)N;
    c.n_out = N_OUT;
    c.batch = (size_t)B;
    c.act = act;
    rp_net *net = NULL;
    if (rp_net_create(&net, &c) != RP_OK) {
        printf("create failed for N %d B %d\n", N, B);
        return;
    }
    rp_init *in = NULL;
    if (rp_init_create(&in, RP_INIT_GAUSSIAN) != RP_OK)
        return;
    /* gain 0.5: a stable network, so long runs stay finite for relu */
    (void)rp_init_set_gain(in, 0.5);
    (void)rp_init_apply(in, net, RP_PARAM_W, 1);
    (void)rp_init_apply(in, net, RP_PARAM_U, 2);
    (void)rp_init_apply(in, net, RP_PARAM_V, 3);
    rp_init_free(in);

    double flops = 2.0 * B * N * ((double)N + N_IN + N_OUT);
    /* about 20 MFLOP per timed call: long enough to time, short on 2 shared cores */
    size_t T = (size_t)(2e7 / flops) + 1;
    job j = {net, T, malloc(sizeof(double) * T * B * N_IN), malloc(sizeof(double) * T * B * N_OUT), 0};
    for (size_t i = 0; i < T * B * N_IN; i++)
        j.x[i] = 0.1 * sin(0.01 * (double)i);
    double s = bu_time(run_fn, &j, 5, 1) / (double)T;
    double gf = flops / s * 1e-9, limit = B > 1 ? peak : gemv_rate;
    printf("%5d %4d  %-6s %6zu  %10.2f  %8.2f  %8.1f %%  of %s\n", N, B,
           act == RP_ACT_RELU ? "relu" : "tanh", T, s * 1e6, gf, 100.0 * gf / limit,
           B > 1 ? "dgemm peak" : "dgemv rate");
    if (j.failed)
        printf("      (a run failed: %s)\n", rp_net_last_error(net));
    bu_csv("forward", act == RP_ACT_RELU ? "run_relu" : "run_tanh", N, B, (int)T, 0, s, gf,
           gf / limit, bu_peak_mib());
    free(j.x);
    free(j.y);
    rp_net_free(net);
}

int main(void)
{
    static const int sizes[][2] = {{64, 1}, {128, 1}, {1024, 1}, {128, 32}, {512, 64}};
    /* the best of three: on a shared machine a single median reads low */
    double peak = 0.0;
    for (int r = 0; r < 3; r++) {
        double p = bu_dgemm_peak();
        peak = p > peak ? p : peak;
    }
    printf("bench_forward: OpenBLAS threads %d, dgemm peak %.2f GFLOP/s (n = 1024)\n",
           openblas_get_num_threads(), peak);
    bu_csv("forward", "dgemm_peak", 1024, 0, 0, 0, 0.0, peak, 1.0, bu_peak_mib());
    printf("%5s %4s  %-6s %6s  %10s  %8s  %10s\n", "N", "B", "act", "T", "us/step", "GFLOP/s",
           "of limit");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int N = sizes[i][0], B = sizes[i][1];
        double gemv = 0.0;
        if (B == 1) {
            for (int r = 0; r < 3; r++) { /* best of three, as the peak */
                double g = bu_dgemv_rate(N);
                gemv = g > gemv ? g : gemv;
            }
            printf("      dgemv rate at N = %d: %.2f GFLOP/s\n", N, gemv);
            bu_csv("forward", "dgemv_rate", N, 1, 0, 0, 0.0, gemv, 1.0, bu_peak_mib());
        }
        bench(N, B, RP_ACT_RELU, peak, gemv);
        bench(N, B, RP_ACT_TANH, peak, gemv);
    }
    return 0;
}
