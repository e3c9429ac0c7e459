/* Independent oracle for `rnnplast floss-cosine` (tests/tool_controls.sh),
   through the public API.

   tool_flosscos_oracle N ALPHA ACT GAIN SEED WINDOW TRANSIENT K DELAY
       builds the network `rnnplast train` starts from for SEED (the seeds of
       tools/tool.h: W ~ N(0, GAIN^2/N) from SEED, U from SEED_U, V from
       SEED_V), a 2af task with delay DELAY, and the input of WINDOW steps:
       the trials SEED_FLOSS(SEED, i), one after another.  The exact
       flossing gradient of W is computed here by central finite differences
       of F (rp_floss_trial's F, h = 1e-6 on each W entry) — MODEL.md §7.1's
       oracle — and the local one (MODEL.md §7.2) by the library.  Prints
         cos_local_fd cos_exact_fd
       the cosine of the library's local W gradient with the finite-difference
       one, and of the library's exact W gradient with it (%.8f). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/tool.h"

#define CK(x)                                                                                  \
    do {                                                                                       \
        rp_status s_ = (x);                                                                    \
        if (s_ != RP_OK) {                                                                     \
            fprintf(stderr, "oracle: %s: %s (line %d)\n", #x, rp_status_string(s_), __LINE__); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static double cosine(const double *a, const double *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

/* F of the net as it is now (mode does not change F). */
static double floss_F(rp_floss *fl, rp_net *net, rp_grad *g, size_t T, const double *x)
{
    double F;
    CK(rp_grad_zero(g));
    CK(rp_floss_trial(fl, net, T, x, g, &F, NULL));
    return F;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr,
                "usage: tool_flosscos_oracle N ALPHA ACT GAIN SEED WINDOW TRANSIENT K DELAY\n");
        return 2;
    }
    size_t N = strtoul(argv[1], NULL, 10), W = strtoul(argv[6], NULL, 10),
           tr = strtoul(argv[7], NULL, 10), k = strtoul(argv[8], NULL, 10);
    double alpha = atof(argv[2]), gain = atof(argv[4]);
    uint64_t seed = strtoull(argv[5], NULL, 10);
    rp_activation act = strcmp(argv[3], "tanh") == 0   ? RP_ACT_TANH
                        : strcmp(argv[3], "relu") == 0 ? RP_ACT_RELU
                                                       : RP_ACT_LINEAR;
    rp_task_config tc;
    CK(rp_task_config_init(&tc, sizeof tc, RP_TASK_2AF));
    tc.delay = strtoul(argv[9], NULL, 10);
    tc.T = 0; /* the periods' sum */
    rp_task *task;
    CK(rp_task_create(&task, RP_TASK_2AF, &tc, NULL, 0));
    size_t n_in, n_out, T;
    rp_loss loss;
    CK(rp_task_get_dims(task, &n_in, &n_out, &T, &loss));
    size_t ntr = (W + T - 1) / T;
    double *x = calloc(ntr * T * n_in, sizeof *x), *tg = calloc(T * n_out, sizeof *tg),
           *m = calloc(T, sizeof *m);
    for (size_t i = 0; i < ntr; i++)
        CK(rp_task_sample(task, 1, SEED_FLOSS(seed, i), x + i * T * n_in, tg, m));

    rp_net_config nc;
    CK(rp_net_config_init(&nc, sizeof nc));
    nc.n_in = n_in;
    nc.n_rec = N;
    nc.n_out = n_out;
    nc.alpha = alpha;
    nc.act = act;
    nc.seed = seed;
    rp_net *net;
    CK(rp_net_create(&net, &nc, NULL, 0));
    rp_init *init;
    CK(rp_init_create(&init, RP_INIT_GAUSSIAN, NULL, 0));
    CK(rp_init_set_gain(init, gain));
    CK(rp_init_apply(init, net, RP_PARAM_W, seed));
    CK(rp_init_set_gain(init, 1.0));
    CK(rp_init_apply(init, net, RP_PARAM_U, SEED_U(seed)));
    CK(rp_init_apply(init, net, RP_PARAM_V, SEED_V(seed)));
    rp_init_free(init);

    rp_floss *fl[2];
    rp_grad *g[2];
    for (int q = 0; q < 2; q++) {
        rp_floss_config fc;
        CK(rp_floss_config_init(&fc, sizeof fc));
        fc.k = k;
        fc.transient = tr;
        fc.mode = q ? RP_FLOSS_EXACT : RP_FLOSS_LOCAL;
        fc.seed = seed;
        CK(rp_floss_create(&fl[q], net, &fc, NULL, 0));
        CK(rp_grad_create(&g[q], net, NULL, 0));
    }
    double *lw = calloc(N * N, sizeof *lw), *ew = calloc(N * N, sizeof *ew),
           *fd = calloc(N * N, sizeof *fd), *w = calloc(N * N, sizeof *w);
    (void)floss_F(fl[0], net, g[0], W, x);
    CK(rp_grad_get(g[0], RP_PARAM_W, lw, N * N));
    (void)floss_F(fl[1], net, g[1], W, x);
    CK(rp_grad_get(g[1], RP_PARAM_W, ew, N * N));
    CK(rp_net_get_param(net, RP_PARAM_W, w, N * N));
    const double h = 1e-6;
    for (size_t i = 0; i < N * N; i++) {
        double w0 = w[i];
        w[i] = w0 + h;
        CK(rp_net_set_param(net, RP_PARAM_W, w, N * N));
        double fp = floss_F(fl[1], net, g[1], W, x);
        w[i] = w0 - h;
        CK(rp_net_set_param(net, RP_PARAM_W, w, N * N));
        double fm = floss_F(fl[1], net, g[1], W, x);
        w[i] = w0;
        fd[i] = (fp - fm) / (2 * h);
    }
    printf("%.8f %.8f\n", cosine(lw, fd, N * N), cosine(ew, fd, N * N));
    for (int q = 0; q < 2; q++) {
        rp_floss_free(fl[q]);
        rp_grad_free(g[q]);
    }
    rp_net_free(net);
    rp_task_free(task);
    free(lw);
    free(ew);
    free(fd);
    free(w);
    free(x);
    free(tg);
    free(m);
    return 0;
}
