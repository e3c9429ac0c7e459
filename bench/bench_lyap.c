/* Per-step cost of the Lyapunov spectrum (MODEL.md §6) with re-orthonormalization
   every step (t_ons = 1), for k = 1, 16, N at N = 128 and 512, beside the two
   kernels it cannot avoid, measured in the same run: one dgemm (N x N times
   N x k: the Jacobian applied to the tangent block) and one dgeqrf + dorgqr
   on N x k (the thin QR).  Target: at k = N = 128 the step costs at most
   1.5x (dgemm + QR).  Prints figures and appends CSV rows; never fails. */
#include "bench_util.h"

#include <lapacke.h>
#include <math.h>

#include "rnnplast.h"

typedef struct lyap_arg {
    rp_lyap *ly;
    rp_net *net;
    size_t steps;
} lyap_arg;

static void lyap_fn(void *p)
{
    lyap_arg *a = p;
    if (rp_lyap_run(a->ly, a->net, a->steps, NULL) != RP_OK)
        fprintf(stderr, "rp_lyap_run: %s\n", rp_lyap_last_error(a->ly));
}

typedef struct kern_arg {
    int N, k;
    double *W, *Q, *out, *A, *tau, *work;
    lapack_int lwork;
} kern_arg;

static void gemm_fn(void *p)
{
    kern_arg *a = p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->N, a->k, a->N, 1.0, a->W, a->N, a->Q,
                a->k, 0.0, a->out, a->k);
}

static void qr_fn(void *p)
{
    kern_arg *a = p;
    /* Refill from the same block each time so every call factors the same matrix. */
    memcpy(a->A, a->Q, sizeof(double) * (size_t)a->N * (size_t)a->k);
    LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, a->N, a->k, a->A, a->N, a->tau, a->work, a->lwork);
    LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, a->N, a->k, a->k, a->A, a->N, a->tau, a->work, a->lwork);
}

static void copy_fn(void *p)
{
    kern_arg *a = p;
    memcpy(a->A, a->Q, sizeof(double) * (size_t)a->N * (size_t)a->k);
}

static void run_case(int N, int k)
{
    rp_net_config c = rp_net_config_default();
    c.n_rec = (size_t)N;
    c.n_in = 0;
    c.act = RP_ACT_TANH;
    rp_net *net = NULL;
    if (rp_net_create(&net, &c) != RP_OK)
        return;
    double *W = malloc(sizeof(double) * (size_t)N * (size_t)N);
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)N * (size_t)N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        W[i] = ((double)(s >> 11) * 0x1.0p-53 - 0.5) * 2.0 * 1.5 * sqrt(3.0 / N);
    }
    (void)rp_net_set_param(net, RP_PARAM_W, W, (size_t)N * (size_t)N);
    double h0v = 0.3;
    double *h0 = malloc(sizeof(double) * (size_t)N);
    for (int i = 0; i < N; i++)
        h0[i] = h0v * ((i % 7) - 3);
    (void)rp_net_set_initial_state(net, h0, (size_t)N);

    rp_lyap_config lc = rp_lyap_config_default();
    rp_lyap *ly = NULL;
    if (rp_lyap_create(&ly, net, (size_t)k, &lc) != RP_OK) {
        fprintf(stderr, "create: %s\n", rp_net_last_error(net));
        return;
    }
    size_t steps = N <= 128 ? 50 : (k >= 256 ? 4 : 20);
    lyap_arg la = {ly, net, steps};
    double t_step = bu_time(lyap_fn, &la, 7, 1) / (double)steps;

    kern_arg ka = {N, k, W, NULL, NULL, NULL, NULL, NULL, 0};
    size_t Nk = (size_t)N * (size_t)k;
    ka.Q = malloc(sizeof(double) * Nk);
    ka.out = malloc(sizeof(double) * Nk);
    ka.A = malloc(sizeof(double) * Nk);
    ka.tau = malloc(sizeof(double) * (size_t)k);
    for (size_t i = 0; i < Nk; i++)
        ka.Q[i] = sin(0.37 * (double)i) + ((i % (size_t)(k + 1)) == 0 ? 2.0 : 0.0);
    double q1 = 0, q2 = 0;
    LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, N, k, ka.A, N, ka.tau, &q1, -1);
    LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, N, k, k, ka.A, N, ka.tau, &q2, -1);
    ka.lwork = (lapack_int)(q1 > q2 ? q1 : q2);
    ka.work = malloc(sizeof(double) * (size_t)ka.lwork);
    int inner = N <= 128 ? (k <= 16 ? 200 : 20) : (k <= 16 ? 50 : 3);
    double t_gemm = bu_time(gemm_fn, &ka, 7, inner);
    double t_qr = bu_time(qr_fn, &ka, 7, inner) - bu_time(copy_fn, &ka, 7, inner);
    if (t_qr < 0)
        t_qr = 0;

    double ratio = t_step / (t_gemm + t_qr);
    double flops = 2.0 * N * N * (double)k;
    printf("N %4d k %4d  step %10.3e s   dgemm %10.3e s   qr %10.3e s   step/(dgemm+qr) %.2f%s\n", N,
           k, t_step, t_gemm, t_qr, ratio,
           (N == 128 && k == 128) ? (ratio <= 1.5 ? "   (target <= 1.5: met)" : "   (target <= 1.5: MISSED)")
                                  : "");
    bu_csv("bench_lyap", "spectrum_step", N, 1, (int)steps, k, t_step, flops / t_step * 1e-9, ratio,
           bu_peak_mib());
    bu_csv("bench_lyap", "dgemm_NxN_Nxk", N, 1, 1, k, t_gemm, flops / t_gemm * 1e-9, 1.0, bu_peak_mib());
    bu_csv("bench_lyap", "geqrf_orgqr_Nxk", N, 1, 1, k, t_qr, 0.0, 1.0, bu_peak_mib());

    free(ka.Q);
    free(ka.out);
    free(ka.A);
    free(ka.tau);
    free(ka.work);
    free(W);
    free(h0);
    rp_lyap_free(ly);
    rp_net_free(net);
}

int main(void)
{
    printf("bench_lyap: per-step cost of the Lyapunov spectrum, t_ons = 1 (OpenBLAS threads: %d)\n",
           openblas_get_num_threads());
    printf("(shared machine: figures are noisy; medians of 7 repetitions)\n");
    const int Ns[2] = {128, 512};
    for (int n = 0; n < 2; n++) {
        const int ks[3] = {1, 16, Ns[n]};
        for (int j = 0; j < 3; j++)
            run_case(Ns[n], ks[j]);
    }
    return 0;
}
