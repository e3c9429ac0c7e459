/* bench_floss: one gradient-flossing iteration (rp_floss_trial, MODEL.md §7),
   exact and local, at N = 128 and 512, k = 1 and 16, T = 100, t_ons = 1,
   beside the machine's dgemm peak and the costs of its building blocks at
   the same sizes, measured in the same run: the N x N x k dgemm that applies
   one Jacobian and the dgeqrf + dorgqr of one N x k re-orthonormalization.
   "model" = T * (dgemm + QR), the forward pass's unavoidable work; the
   iteration's time is printed as a multiple of it.  Also prints the cosine
   between local and exact gradients on random 12-unit networks.
   Prints figures, asserts nothing.  Rows go to bench/results.csv (bu_csv). */
#include <lapacke.h>
#include <math.h>
#include <stdint.h>

#include "bench_util.h"
#include "rnnplast.h"

static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        u[i] = ((double)(*s >> 11) + 0.5) * 0x1.0p-53;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* A voltage network (activation act) at gain g with n_in inputs. */
static rp_net *make_net_act(int N, int n_in, double g, uint64_t seed, rp_activation act)
{
    rp_net_config cfg;
    rp_net_config_init(&cfg, sizeof cfg);
    cfg.n_rec = (size_t)N, cfg.n_in = (size_t)n_in, cfg.act = act;
    rp_net *net = NULL;
    if (rp_net_create(&net, &cfg, NULL, 0) != RP_OK)
        exit(1);
    double *W = malloc(sizeof(double) * N * N), *h0 = malloc(sizeof(double) * N);
    double *U = malloc(sizeof(double) * (N * n_in + 1));
    for (int i = 0; i < N * N; i++)
        W[i] = g * gauss(&seed) / sqrt((double)N);
    for (int i = 0; i < N; i++)
        h0[i] = gauss(&seed);
    for (int i = 0; i < N * n_in; i++)
        U[i] = gauss(&seed);
    BU_CK(rp_net_set_param(net, RP_PARAM_W, W, (size_t)N * N));
    if (n_in)
        BU_CK(rp_net_set_param(net, RP_PARAM_U, U, (size_t)N * n_in));
    BU_CK(rp_net_set_initial_state(net, h0, (size_t)N));
    free(W), free(h0), free(U);
    return net;
}

static rp_net *make_net(int N, int n_in, double g, uint64_t seed)
{
    return make_net_act(N, n_in, g, seed, RP_ACT_TANH);
}

typedef struct trial_arg {
    rp_floss *fl;
    rp_net *net;
    rp_grad *g;
    int T;
} trial_arg;

static void trial_fn(void *p)
{
    trial_arg *a = p;
    if (rp_floss_trial(a->fl, a->net, (size_t)a->T, NULL, a->g, NULL, NULL) != RP_OK) {
        fprintf(stderr, "rp_floss_trial: %s\n", rp_floss_last_error(a->fl));
        exit(1);
    }
}

typedef struct blk_arg {
    int N, k;
    double *W, *Q, *Y, *A, *tau, *work;
    lapack_int lwork;
} blk_arg;

static void gemm_fn(void *p)
{
    blk_arg *a = p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->N, a->k, a->N, 1.0, a->W, a->N, a->Q,
                a->k, 0.0, a->Y, a->k);
}

static void qr_fn(void *p)
{
    blk_arg *a = p;
    memcpy(a->A, a->Y, sizeof(double) * a->N * a->k);
    LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, a->N, a->k, a->A, a->N, a->tau, a->work, a->lwork);
    LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, a->N, a->k, a->k, a->A, a->N, a->tau, a->work, a->lwork);
}

static void cosines(const char *label, int T, int transient, int n_in, rp_activation act, double g)
{
    double cmin = 1, cmax = -1, sum = 0;
    const int nets = 10, N = 12;
    double *x = malloc(sizeof(double) * (T * n_in + 1));
    for (int r = 0; r < nets; r++) {
        uint64_t s = 1000 + 17 * (uint64_t)r;
        rp_net *net = make_net_act(N, n_in, g, s, act);
        for (int i = 0; i < T * n_in; i++)
            x[i] = gauss(&s);
        rp_grad *ge = NULL, *gl = NULL;
        if (rp_grad_create(&ge, net, NULL, 0) != RP_OK ||
            rp_grad_create(&gl, net, NULL, 0) != RP_OK)
            exit(1);
        for (int m = 0; m < 2; m++) {
            rp_floss_config c;
            rp_floss_config_init(&c, sizeof c);
            c.transient = (size_t)transient, c.mode = m ? RP_FLOSS_LOCAL : RP_FLOSS_EXACT;
            rp_floss *fl = NULL;
            if (rp_floss_create(&fl, net, &c, NULL, 0) != RP_OK ||
                rp_floss_trial(fl, net, (size_t)T, n_in ? x : NULL, m ? gl : ge, NULL, NULL) !=
                    RP_OK)
                exit(1);
            rp_floss_free(fl);
        }
        double a[144], b[144], ab = 0, aa = 0, bb = 0;
        BU_CK(rp_grad_get(ge, RP_PARAM_W, a, 144));
        BU_CK(rp_grad_get(gl, RP_PARAM_W, b, 144));
        for (int i = 0; i < 144; i++)
            ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
        double c = ab / sqrt(aa * bb);
        sum += c;
        cmin = c < cmin ? c : cmin;
        cmax = c > cmax ? c : cmax;
        rp_grad_free(ge), rp_grad_free(gl), rp_net_free(net);
    }
    free(x);
    printf("  %-44s mean %.3f  min %.3f  max %.3f\n", label, sum / nets, cmin, cmax);
}

int main(void)
{
    const int T = 100;
    double peak = bu_dgemm_peak();
    printf("bench_floss: one flossing iteration, tanh voltage, t_ons 1, T %d, threads %d\n", T,
           openblas_get_num_threads());
    printf("dgemm peak (n = 1024): %.2f GFLOP/s   (shared machine: figures are noisy)\n\n", peak);
    printf("%5s %3s %6s %11s %11s %11s %9s %9s %8s\n", "N", "k", "mode", "iteration", "dgemm NxNxk",
           "QR Nxk", "model", "x model", "%peak");
    const int Ns[2] = {128, 512}, ks[2] = {1, 16};
    for (int ni = 0; ni < 2; ni++)
        for (int ki = 0; ki < 2; ki++) {
            int N = Ns[ni], k = ks[ki];
            blk_arg b = {N,
                         k,
                         malloc(sizeof(double) * N * N),
                         malloc(sizeof(double) * N * k),
                         malloc(sizeof(double) * N * k),
                         malloc(sizeof(double) * N * k),
                         malloc(sizeof(double) * k),
                         NULL,
                         0};
            uint64_t s = 7;
            for (int i = 0; i < N * N; i++)
                b.W[i] = gauss(&s) / sqrt((double)N);
            for (int i = 0; i < N * k; i++)
                b.Q[i] = b.Y[i] = gauss(&s);
            double q1, q2;
            LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, N, k, b.A, N, b.tau, &q1, -1);
            LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, N, k, k, b.A, N, b.tau, &q2, -1);
            b.lwork = (lapack_int)(q1 > q2 ? q1 : q2);
            b.work = malloc(sizeof(double) * (size_t)b.lwork);
            int inner = N <= 128 ? 200 : 20;
            double t_gemm = bu_time(gemm_fn, &b, 7, inner);
            double t_qr = bu_time(qr_fn, &b, 7, inner);
            double model = T * (t_gemm + t_qr);
            for (int m = 0; m < 2; m++) {
                rp_net *net = make_net(N, 0, 1.5, 99);
                rp_floss_config c;
                rp_floss_config_init(&c, sizeof c);
                c.k = (size_t)k, c.mode = m ? RP_FLOSS_LOCAL : RP_FLOSS_EXACT;
                trial_arg a = {NULL, net, NULL, T};
                if (rp_floss_create(&a.fl, net, &c, NULL, 0) != RP_OK ||
                    rp_grad_create(&a.g, net, NULL, 0) != RP_OK)
                    return 1;
                double t = bu_time(trial_fn, &a, 5, 1);
                /* leading-order flops: forward T (2N^2 k + 2N^2); reverse: the
                   stacked gradient GEMM 2N^2 T k, plus (exact) T (2N^2 k + 2N^2)
                   for W^T Ybar and W^T h-bar and 2N^2 T for the state GEMM. */
                double NN = (double)N * N, fl = T * (2 * NN * k + 2 * NN) + 2 * NN * T * k;
                if (m == 0)
                    fl += T * (2 * NN * k + 2 * NN) + 2 * NN * T;
                double gf = fl / t * 1e-9;
                printf("%5d %3d %6s %9.3f ms %8.1f us %8.1f us %6.2f ms %9.2f %7.1f%%\n", N, k,
                       m ? "local" : "exact", 1e3 * t, 1e6 * t_gemm, 1e6 * t_qr, 1e3 * model,
                       t / model, 100 * gf / peak);
                bu_csv("bench_floss", m ? "local" : "exact", N, 1, T, k, t, gf, gf / peak,
                       bu_peak_mib());
                rp_grad_free(a.g), rp_floss_free(a.fl), rp_net_free(net);
            }
            bu_csv("bench_floss", "dgemm_NxNxk", N, 1, T, k, t_gemm,
                   2.0 * N * N * k / t_gemm * 1e-9, 2.0 * N * N * k / t_gemm * 1e-9 / peak,
                   bu_peak_mib());
            bu_csv("bench_floss", "geqrf_orgqr_Nxk", N, 1, T, k, t_qr, 0, 0, bu_peak_mib());
            free(b.W), free(b.Q), free(b.Y), free(b.A), free(b.tau), free(b.work);
        }
    printf("\ncosine(local, exact) of dF/dW, k 1, 10 random 12-unit voltage nets, alpha 0.9:\n");
    cosines("tanh g 1.5, T 20, driven (2 inputs)", 20, 0, 2, RP_ACT_TANH, 1.5);
    cosines("relu g 1.0, T 20, driven (2 inputs)", 20, 0, 2, RP_ACT_RELU, 1.0);
    cosines("tanh g 1.5, T 100, driven, transient 20", 100, 20, 2, RP_ACT_TANH, 1.5);
    cosines("tanh g 1.5, T 200, autonomous, transient 50", 200, 50, 0, RP_ACT_TANH, 1.5);
    printf("peak memory %.1f MiB\n", bu_peak_mib());
    return 0;
}
