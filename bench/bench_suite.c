/* bench_suite — the one benchmark of librnnplast (`make bench`).

   For each size (N, B, T) of the issue — (64,1,300) (128,1,100) (128,32,100)
   (512,64,100) (1024,1,100) — it times
     forward    rp_net_run of T steps (relu and tanh), per step
     train      one rp_rule_trial of every rule (BPTT, TBPTT(K = 10), RTRL at
                N <= 64, e-prop, RFLO, ModProp with K = 2 cell types (the first 80 %
                type 0) and the default mu; voltage form unless the name says rate)
     online     one online tick of e-prop, RFLO and ModProp (K = 2) (rp_rule_step after rp_net_step,
                B = the size's B): the rule's step alone and net step + rule step;
                e-prop also with the online block of 16 ticks (eprop_step_k16:
                rp_rule_set_online_block, the block's GEMM amortised over its
                ticks), and, after the sizes, K = 1 and 16 at (128, 1) and (512, 1)
     lyap       the Lyapunov spectrum, k = 1, 16, N, t_ons = 1, per step, beside one
                N x N x k dgemm + one dgeqrf+dorgqr of N x k timed in the same process
     floss      one flossing iteration (rp_floss_trial), local and exact, k = 1, 16
     precision  forward (relu), BPTT, e-prop and RFLO (relu) per trial at
                (512, 64, 100), (256, 32, 100), (128, 1, 100), forward tanh
                against relu at (128, 32, 100) and (512, 64, 100), and the Lyapunov
                step (k 16 and k N, t_ons 1) and one flossing iteration (local
                and exact, k 16) at N 512, 256, 128 (T 100), on a net of
                RP_PRECISION_SINGLE and of RP_PRECISION_DOUBLE, each against its
                own limit: the sgemm peak (best of 10 square n = 1024 sgemms,
                measured in the same run) or the dgemm peak
   (lyap and floss use one trajectory: B plays no part, so they run once per (N, T)),
   then a scaling section: the same kernels at three values of N, B, T and k.

   Every figure is the median of several repetitions (>= 5, more for short
   kernels, each repetition long enough to time) after one warm-up call.  The
   limits are measured in the same process with the same OpenBLAS thread count:
   the dgemm peak (best of 10 square n = 1024 dgemms, bench_util.h) and, for
   work that is matrix-vector (B = 1 forward and online steps), the dgemv rate
   at the same N (best of 3 medians).  "frac" = achieved GFLOP/s / limit.
   Every kernel runs in its own forked process so that the peak resident memory
   (getrusage ru_maxrss) is that configuration's; "dMiB" is the growth over the
   process's resident size when the child starts (the parent keeps nothing big).

   Operation counts (multiply-add = 2 flops; element-wise work not counted;
   n_in = 4 inputs, n_out = 2 outputs; S = B*T stacked rows):
     forward step      2 B N (N + n_in + n_out)
     BPTT trial        forward T steps + 2 S N n_out (e V) + 2 S N^2 (adjoint
                       recurrence) + 2 S N (N + n_in) (G_W, G_U) + 2 S N n_out (G_V)
                       ~ 6 S N^2
     TBPTT(K) trial    as BPTT with the recurrence 2 S N^2 min(K, T) ~ (4 + 2K) S N^2
     RTRL trial        per step and trial 2 N^2 M (D P) + 2 N M (c^T P),
                       M = N^2 + N n_in + N;  ~ 2 S N^4
     e-prop/RFLO trial forward + 2 S N n_out (learning signal) + 2 S N (N + n_in)
                       (G_W, G_U) + 2 S N n_out (G_V)  ~ 4 S N^2
     ModProp trial     as e-prop (the modulators' filter, O(S (N + K^2)), not counted)
     online tick       readout 2 B N n_out + learning signal 2 B N n_out + G_W,
                       G_U rank-B updates 2 B N (N + n_in) (+ G_V 2 B N n_out);
                       ModProp counted as e-prop (its filter and W's block means extra);
                       rate-form RFLO adds the trace update and G_W += diag(L) P,
                       4 B N (N + n_in)
     lyap step         2 N^2 k (D Q) + 4 k^2 (N - k/3) (dgeqrf + dorgqr)
     floss iteration   local: T (2 N^2 k + 4 k^2 (N - k/3)) forward + 2 T N^2 k (the
                       stacked gradient GEMM); exact adds T (2 N^2 k + 2 N^2)
                       (W^T Ybar, W^T hbar) + 2 T N^2 (the state gradient GEMM)

   Output: a table on stdout and CSV rows in bench/results.csv (RP_BENCH_CSV
   overrides; the file is rewritten unless --append).  Options:
     --append          append to the CSV instead of rewriting it
     --quick           fewer repetitions (a smoke run)
     --only NAME       run only sections whose name starts with NAME
     --size I          run only the I-th size (0..4) and no scaling
   OPENBLAS_NUM_THREADS decides the thread count (printed, and in every row). */
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "rnnplast.h"

enum { N_IN = 4, N_OUT = 2, TBPTT_K = 10 };

static int g_quick = 0;
static double g_peak = 0.0;  /* dgemm peak, GFLOP/s */
static double g_speak = 0.0; /* sgemm peak, GFLOP/s (the precision section) */
static FILE *g_csv = NULL;
static const char *g_only = NULL;
static int g_size = -1; /* --size i: only the i-th size, no scaling section */

/* ---- timing ------------------------------------------------------------ */

/* Median seconds per call of fn(arg): one warm-up call (workspaces grow
   there), then enough repetitions of enough calls to time, within a budget. */
static double time_median(void (*fn)(void *), void *arg, double budget)
{
    double t0 = bu_now();
    fn(arg);
    double one = bu_now() - t0;
    if (one <= 0)
        one = 1e-7;
    int inner = one < 2e-3 ? (int)(2e-3 / one) + 1 : 1;
    int reps = (int)(budget / (one * inner));
    if (g_quick)
        reps /= 4;
    reps = reps < 5 ? 5 : reps > 41 ? 41 : reps;
    if (g_quick && one > 0.5)
        reps = 3;
    return bu_time(fn, arg, reps, inner);
}

/* ---- one result row ---------------------------------------------------- */

typedef struct row {
    char section[16], what[40], limit[8];
    int N, B, T, k;
    double sec;    /* per call */
    double per;    /* per step (sec / steps) */
    double gflops; /* by the documented count */
    double frac;   /* of the limit */
    double ratio;  /* lyap: step / (dgemm + QR); online: total tick; else 0 */
    double local;  /* the limit measured next to this kernel, as a median (GFLOP/s) */
    double frac_local;
    double peak_mib, delta_mib;
    int ok;
} row;

static void print_header(void)
{
    printf("%-8s %-22s %5s %3s %4s %4s %11s %11s %8s %6s %6s %6s %8s %7s %7s\n", "section", "what",
           "N", "B", "T", "k", "per call", "per step", "GFLOP/s", "limit", "frac", "fracL", "extra",
           "MiB", "dMiB");
}

static void fmt_time(char *buf, double s)
{
    if (s >= 1.0)
        sprintf(buf, "%8.3f s ", s);
    else if (s >= 1e-3)
        sprintf(buf, "%8.3f ms", s * 1e3);
    else
        sprintf(buf, "%8.2f us", s * 1e6);
}

static void print_row(const row *r)
{
    char a[32], b[32];
    fmt_time(a, r->sec);
    fmt_time(b, r->per);
    if (!r->ok) {
        printf("%-8s %-22s %5d %3d %4d %4d   FAILED\n", r->section, r->what, r->N, r->B, r->T,
               r->k);
        return;
    }
    char extra[16] = "";
    if (r->ratio > 0)
        sprintf(extra, "%8.2f", r->ratio);
    printf("%-8s %-22s %5d %3d %4d %4d %11s %11s %8.2f %6s %5.1f%% %5.1f%% %8s %7.1f %7.1f\n",
           r->section, r->what, r->N, r->B, r->T, r->k, a, b, r->gflops, r->limit, 100 * r->frac,
           100 * r->frac_local, extra, r->peak_mib, r->delta_mib);
    fflush(stdout);
    if (g_csv) {
        fprintf(g_csv, "%s,%s,%d,%d,%d,%d,%.6e,%.6e,%.4f,%s,%.4f,%.4f,%.4f,%.4f,%.1f,%.1f,%d\n",
                r->section, r->what, r->N, r->B, r->T, r->k, r->sec, r->per, r->gflops, r->limit,
                r->frac, r->local, r->frac_local, r->ratio, r->peak_mib, r->delta_mib,
                openblas_get_num_threads());
        fflush(g_csv);
    }
}

/* Rows are kept and printed at the end: the dgemm peak is re-measured after
   every size block and the best figure of the whole run is the limit (on a
   shared machine any single measurement of it can read low). */
static row g_rows[512];
static int g_nrows = 0;
static double g_gemv_of[2048]; /* best dgemv rate at N, GFLOP/s */

static void emit(const row *r)
{
    if (g_nrows < (int)(sizeof g_rows / sizeof g_rows[0]))
        g_rows[g_nrows++] = *r;
    fprintf(stderr, "  %-8s %-22s N %d B %d T %d k %d: %.3e s\n", r->section, r->what, r->N, r->B,
            r->T, r->k, r->sec);
}

static void remeasure_peak(void)
{
    double p = bu_dgemm_peak();
    g_peak = p > g_peak ? p : g_peak;
}

static void finish(void)
{
    print_header();
    for (int i = 0; i < g_nrows; i++) {
        row *r = &g_rows[i];
        if (!strcmp(r->what, "dgemm_peak")) {
            r->gflops = r->local = g_peak;
            r->sec = r->per = 2.0 * 1024 * 1024 * 1024 / g_peak * 1e-9;
        } else if (!strcmp(r->limit, "dgemm")) {
            r->frac = r->gflops / g_peak;
        } else if (!strcmp(r->limit, "sgemm") && g_speak > 0) {
            r->frac = r->gflops / g_speak;
        } else if (!strcmp(r->limit, "dgemv") && r->N < 2048 && g_gemv_of[r->N] > 0) {
            r->frac = r->gflops / g_gemv_of[r->N];
        }
        print_row(r);
    }
}

/* ---- networks and data ------------------------------------------------- */

static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        u[i] = ((double)(*s >> 11) + 0.5) * 0x1.0p-53;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* A net of N units, gaussian W of gain g (0.5: stable, so long runs stay finite). */
static rp_net *make_net_p(int N, int B, rp_activation act, rp_form form, double g,
                          rp_precision prec)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.precision = prec;
    c.n_in = N_IN;
    c.n_rec = (size_t)N;
    c.n_out = N_OUT;
    c.batch = (size_t)B;
    c.act = act;
    c.form = form;
    rp_net *net = NULL;
    if (rp_net_create(&net, &c, NULL, 0) != RP_OK)
        return NULL;
    rp_init *in = NULL;
    if (rp_init_create(&in, RP_INIT_GAUSSIAN, NULL, 0) != RP_OK)
        return net;
    BU_CK(rp_init_set_gain(in, g));
    BU_CK(rp_init_apply(in, net, RP_PARAM_W, 1));
    BU_CK(rp_init_set_gain(in, 1.0));
    BU_CK(rp_init_apply(in, net, RP_PARAM_U, 2));
    BU_CK(rp_init_apply(in, net, RP_PARAM_V, 3));
    rp_init_free(in);
    double *h0 = malloc(sizeof(double) * (size_t)N);
    uint64_t s = 5;
    for (int i = 0; i < N; i++)
        h0[i] = 0.5 * gauss(&s);
    BU_CK(rp_net_set_initial_state(net, h0, (size_t)N));
    free(h0);
    return net;
}

static rp_net *make_net(int N, int B, rp_activation act, rp_form form, double g)
{
    return make_net_p(N, B, act, form, g, RP_PRECISION_DOUBLE);
}

static double *make_data(size_t n, uint64_t seed, double amp)
{
    double *x = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        x[i] = amp * gauss(&seed);
    return x;
}

/* ---- kernels ----------------------------------------------------------- */

typedef struct ctx {
    rp_net *net;
    rp_rule *rule;
    rp_grad *grad;
    rp_lyap *ly;
    rp_floss *fl;
    size_t T;
    double *x, *y, *target;
    size_t t;      /* online: position in x/target, wraps at T */
    size_t oblock; /* online: the rule's online block K (> 1: flush before a restart) */
    int B, failed;
    /* kernels of the lyap model */
    int N, k;
    double *W, *Q, *out, *A, *tau, *work;
    lapack_int lwork;
} ctx;

static void k_forward(void *p)
{
    ctx *c = p;
    if (rp_net_run(c->net, c->T, c->x, c->y) != RP_OK)
        c->failed = 1;
    BU_CK(rp_net_reset(c->net));
}

static void k_trial(void *p)
{
    ctx *c = p;
    double loss;
    if (rp_rule_trial(c->rule, c->net, c->T, c->x, c->target, NULL, c->grad, &loss) != RP_OK)
        c->failed = 1;
}

/* one online tick: the net steps, then the rule */
static void k_tick(void *p)
{
    ctx *c = p;
    const double *x = c->x + c->t * (size_t)c->B * N_IN;
    if (rp_net_step(c->net, x, NULL) != RP_OK ||
        rp_rule_step(c->rule, c->net, x, c->target + c->t * (size_t)c->B * N_OUT, NULL, c->grad) !=
            RP_OK)
        c->failed = 1;
    if (++c->t == c->T) {
        c->t = 0;
        if (c->oblock > 1) /* the block's pending ticks, before the restart */
            BU_CK(rp_rule_flush(c->rule, c->grad));
        BU_CK(rp_net_reset(c->net));
        BU_CK(rp_rule_begin(c->rule, c->net)); /* a reset ends the stream's step */
    }
}

/* the online block's K ticks in one call, so that every timed repetition
   holds whole blocks (a median over single ticks would miss the flush that
   every K-th tick does) */
static void k_tick_block(void *p)
{
    ctx *c = p;
    for (size_t i = 0; i < c->oblock; i++)
        k_tick(p);
}

/* the net's step alone, as k_tick takes it: the rule's step is the tick's
   time minus this (rp_rule_step refuses a net that did not step) */
static void k_net_step(void *p)
{
    ctx *c = p;
    if (rp_net_step(c->net, c->x + c->t * (size_t)c->B * N_IN, NULL) != RP_OK)
        c->failed = 1;
    if (++c->t == c->T) {
        c->t = 0;
        BU_CK(rp_net_reset(c->net));
    }
}

static void k_lyap(void *p)
{
    ctx *c = p;
    if (rp_lyap_run(c->ly, c->net, c->T, NULL) != RP_OK)
        c->failed = 1;
}

static void k_floss(void *p)
{
    ctx *c = p;
    if (rp_floss_trial(c->fl, c->net, c->T, NULL, c->grad, NULL, NULL) != RP_OK)
        c->failed = 1;
}

static void k_gemm(void *p)
{
    ctx *c = p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->N, c->k, c->N, 1.0, c->W, c->N, c->Q,
                c->k, 0.0, c->out, c->k);
}

static void k_qr(void *p)
{
    ctx *c = p;
    memcpy(c->A, c->Q, sizeof(double) * (size_t)c->N * (size_t)c->k);
    LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, c->N, c->k, c->A, c->N, c->tau, c->work, c->lwork);
    LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, c->N, c->k, c->k, c->A, c->N, c->tau, c->work, c->lwork);
}

static void k_copy(void *p)
{
    ctx *c = p;
    memcpy(c->A, c->Q, sizeof(double) * (size_t)c->N * (size_t)c->k);
}

/* seconds of one N x N x k dgemm and of one dgeqrf+dorgqr of N x k */
static void model_times(int N, int k, double *t_gemm, double *t_qr)
{
    ctx c;
    memset(&c, 0, sizeof c);
    c.N = N, c.k = k;
    size_t Nk = (size_t)N * (size_t)k;
    c.W = make_data((size_t)N * (size_t)N, 4, 1.0 / sqrt((double)N));
    c.Q = make_data(Nk, 5, 1.0);
    c.out = malloc(sizeof(double) * Nk);
    c.A = malloc(sizeof(double) * Nk);
    c.tau = malloc(sizeof(double) * (size_t)k);
    double q1 = 0, q2 = 0;
    LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, N, k, c.A, N, c.tau, &q1, -1);
    LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, N, k, k, c.A, N, c.tau, &q2, -1);
    c.lwork = (lapack_int)(q1 > q2 ? q1 : q2);
    c.work = malloc(sizeof(double) * (size_t)c.lwork);
    *t_gemm = time_median(k_gemm, &c, 0.2);
    *t_qr = time_median(k_qr, &c, 0.2) - time_median(k_copy, &c, 0.05);
    if (*t_qr < 0)
        *t_qr = 0;
    free(c.W), free(c.Q), free(c.out), free(c.A), free(c.tau), free(c.work);
}

/* ---- one measurement, in a child process ------------------------------- */

typedef enum kind { K_FORWARD, K_TRAIN, K_ONLINE, K_LYAP, K_FLOSS } kind;

typedef struct job {
    kind kind;
    const char *what;
    int N, B, T, k;
    rp_activation act;
    rp_form form;
    rp_rule_kind rule;
    rp_floss_mode mode;
    double gemv;            /* dgemv rate at N, GFLOP/s (0: not measured) */
    double local_before;    /* the limit's median just before the fork (run fills it) */
    rp_precision precision; /* forward and train: the net's */
    size_t oblock;          /* online: rp_rule_set_online_block K (0: left at 1) */
} job;

/* matrix-vector work: B = 1 forward steps and online ticks */
static int is_vec(const job *j)
{
    return (j->kind == K_FORWARD || j->kind == K_ONLINE) && j->B == 1 && j->gemv > 0;
}

/* ModProp's cell types in the bench: K = 2, the first 80 % type 0 (an E/I
   split); other rules are left as created. */
static void bench_rule_setup(rp_rule *rule, rp_rule_kind kind, int N)
{
    if (kind != RP_RULE_MODPROP)
        return;
    unsigned *types = calloc((size_t)N, sizeof *types);
    if (!types)
        return;
    for (int i = (int)(0.8 * N); i < N; i++)
        types[i] = 1;
    BU_CK(rp_rule_set_cell_types(rule, types, (size_t)N));
    free(types);
}

/* The limit measured as a median right before and right after the kernel,
   in the same process: under the same load as the kernel's own median (the
   run's best peak is what the machine can do when nothing else runs). */
static double local_limit(int vec, int N);

static void sgemm_fn(void *p)
{
    const bu_gemm *g = p; /* its double buffers hold n*n floats with room to spare */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f,
                (const float *)g->a, g->n, (const float *)g->b, g->n, 0.0f, (float *)g->c, g->n);
}

/* sgemm GFLOP/s at n = 1024: the best of reps (best = 1) or their median */
static double sgemm_rate(int reps, int best)
{
    bu_gemm g = bu_gemm_alloc(1024);
    float *a = (float *)g.a, *b = (float *)g.b;
    for (int i = 0; i < 1024 * 1024; i++) {
        a[i] = 1.0f / (float)(1 + i % 7);
        b[i] = 1.0f / (float)(1 + i % 5);
    }
    double s = best ? bu_time_min(sgemm_fn, &g, reps) : bu_time(sgemm_fn, &g, reps, 1);
    bu_gemm_free(&g);
    return 2.0 * 1024.0 * 1024.0 * 1024.0 / s * 1e-9;
}

static double local_limit_p(int vec, int N, rp_precision prec)
{
    if (prec == RP_PRECISION_SINGLE)
        return sgemm_rate(g_quick ? 2 : 4, 0);
    return local_limit(vec, N);
}

static double local_limit(int vec, int N)
{
    if (vec)
        return bu_dgemv_rate(N);
    bu_gemm g = bu_gemm_alloc(1024);
    double s = bu_time(bu_gemm_fn, &g, g_quick ? 2 : 4, 1);
    bu_gemm_free(&g);
    return 2.0 * 1024.0 * 1024.0 * 1024.0 / s * 1e-9;
}

static double qr_flops(double N, double k) { return 4.0 * k * k * (N - k / 3.0); }

static void measure(const job *j, row *r)
{
    const double N = j->N, B = j->B, T = j->T, k = j->k, S = B * T;
    const double io = N * (N_IN + N_OUT);
    ctx c;
    memset(&c, 0, sizeof c);
    c.T = (size_t)j->T;
    c.B = j->B;
    double base = bu_peak_mib();
    r->ok = 0;
    const int vec = is_vec(j);
    switch (j->kind) {
    case K_FORWARD: {
        c.net = make_net_p(j->N, j->B, j->act, RP_FORM_VOLTAGE, 0.5, j->precision);
        c.x = make_data(c.T * (size_t)j->B * N_IN, 7, 1.0);
        c.y = malloc(sizeof(double) * c.T * (size_t)j->B * N_OUT);
        if (!c.net)
            return;
        r->sec = time_median(k_forward, &c, 0.5);
        r->per = r->sec / T;
        r->gflops = 2.0 * B * (N * N + io) / r->per * 1e-9;
        break;
    }
    case K_TRAIN: {
        c.net = make_net_p(j->N, j->B, j->act, j->form, 0.5, j->precision);
        c.x = make_data(c.T * (size_t)j->B * N_IN, 7, 1.0);
        c.target = make_data(c.T * (size_t)j->B * N_OUT, 8, 0.5);
        if (!c.net || rp_rule_create(&c.rule, c.net, j->rule, NULL, 0) != RP_OK ||
            rp_grad_create(&c.grad, c.net, NULL, 0) != RP_OK)
            return;
        if (j->rule == RP_RULE_TBPTT)
            BU_CK(rp_rule_set_truncation(c.rule, TBPTT_K));
        bench_rule_setup(c.rule, j->rule, j->N);
        r->sec = time_median(k_trial, &c, 1.0);
        r->per = r->sec / T;
        double fwd = 2.0 * S * (N * N + io), f;
        switch (j->rule) {
        case RP_RULE_BPTT:
            f = fwd + 2 * S * N * N_OUT + 2 * S * N * N + 2 * S * N * (N + N_IN) +
                2 * S * N * N_OUT;
            break;
        case RP_RULE_TBPTT:
            f = fwd + 2 * S * N * N_OUT + 2 * S * N * N * (TBPTT_K < T ? TBPTT_K : T) +
                2 * S * N * (N + N_IN) + 2 * S * N * N_OUT;
            break;
        case RP_RULE_RTRL: {
            double M = N * N + N * N_IN + N;
            f = fwd + S * (2 * N * N * M + 2 * N * M);
            break;
        }
        default:
            f = fwd + 2 * S * N * N_OUT + 2 * S * N * (N + N_IN) + 2 * S * N * N_OUT;
        }
        r->gflops = f / r->sec * 1e-9;
        break;
    }
    case K_ONLINE: {
        c.net = make_net(j->N, j->B, j->act, j->form, 0.5);
        c.x = make_data(c.T * (size_t)j->B * N_IN, 7, 1.0);
        c.target = make_data(c.T * (size_t)j->B * N_OUT, 8, 0.5);
        if (!c.net || rp_rule_create(&c.rule, c.net, j->rule, NULL, 0) != RP_OK ||
            rp_grad_create(&c.grad, c.net, NULL, 0) != RP_OK)
            return;
        bench_rule_setup(c.rule, j->rule, j->N);
        if (j->oblock > 1) {
            BU_CK(rp_rule_set_online_block(c.rule, j->oblock));
            c.oblock = j->oblock;
        }
        if (rp_rule_begin(c.rule, c.net) != RP_OK)
            return;
        double t_net = time_median(k_net_step, &c, 0.3);
        BU_CK(rp_net_reset(c.net));
        BU_CK(rp_rule_begin(c.rule, c.net));
        c.t = 0;
        double t_tick = c.oblock > 1 ? time_median(k_tick_block, &c, 0.3) / (double)c.oblock
                                     : time_median(k_tick, &c, 0.3);
        /* the difference of two medians; kept positive against timing noise */
        double t_rule = t_tick - t_net > 0.05 * t_tick ? t_tick - t_net : 0.05 * t_tick;
        r->sec = r->per = t_rule;
        r->ratio = t_tick * 1e6; /* the whole tick, us */
        double f = 2 * B * N * N_OUT * 3 + 2 * B * N * (N + N_IN);
        if (j->form == RP_FORM_RATE) /* trace update and diag(L) P */
            f += 4 * B * N * (N + N_IN);
        r->gflops = f / t_rule * 1e-9;
        break;
    }
    case K_LYAP: {
        c.net = make_net_p(j->N, 1, RP_ACT_TANH, RP_FORM_VOLTAGE, 1.5, j->precision);
        rp_lyap_config lc;
        rp_lyap_config_init(&lc, sizeof lc);
        if (!c.net || rp_lyap_create(&c.ly, c.net, (size_t)j->k, &lc, NULL, 0) != RP_OK)
            return;
        /* steps per timed call: the trajectory continues from call to call */
        double per_step_flops = 2 * N * N * k + qr_flops(N, k);
        c.T = (size_t)(2e7 / per_step_flops) + 1;
        if (c.T > (size_t)j->T)
            c.T = (size_t)j->T;
        r->sec = time_median(k_lyap, &c, 0.6);
        r->per = r->sec / (double)c.T;
        r->gflops = per_step_flops / r->per * 1e-9;
        double tg, tq;
        model_times(j->N, j->k, &tg, &tq);
        r->ratio = r->per / (tg + tq);
        break;
    }
    case K_FLOSS: {
        c.net = make_net_p(j->N, 1, RP_ACT_TANH, RP_FORM_VOLTAGE, 1.5, j->precision);
        rp_floss_config fc;
        rp_floss_config_init(&fc, sizeof fc);
        fc.k = (size_t)j->k;
        fc.mode = j->mode;
        if (!c.net || rp_floss_create(&c.fl, c.net, &fc, NULL, 0) != RP_OK ||
            rp_grad_create(&c.grad, c.net, NULL, 0) != RP_OK)
            return;
        r->sec = time_median(k_floss, &c, 1.0);
        r->per = r->sec / T;
        double f = T * (2 * N * N * k + 2 * N * N + qr_flops(N, k)) + 2 * T * N * N * k;
        if (j->mode == RP_FLOSS_EXACT)
            f += T * (2 * N * N * k + 2 * N * N) + 2 * T * N * N;
        r->gflops = f / r->sec * 1e-9;
        double tg, tq;
        model_times(j->N, j->k, &tg, &tq);
        r->ratio = r->per / (tg + tq);
        break;
    }
    }
    r->ok = !c.failed;
    const int single = j->precision == RP_PRECISION_SINGLE;
    strcpy(r->limit, single ? "sgemm" : vec ? "dgemv" : "dgemm");
    r->frac = r->gflops / (single ? g_speak : vec ? j->gemv : g_peak);
    r->peak_mib = bu_peak_mib(); /* before the 1024^2 buffers of the limit */
    r->local = 0.5 * (j->local_before + local_limit_p(vec, j->N, j->precision));
    r->frac_local = r->gflops / r->local;
    r->delta_mib = r->peak_mib - base;
    rp_floss_free(c.fl);
    rp_lyap_free(c.ly);
    rp_rule_free(c.rule);
    rp_grad_free(c.grad);
    rp_net_free(c.net);
    free(c.x), free(c.y), free(c.target);
}

/* Fork, measure in the child, read the row back through a pipe. */
static void run(const char *section, const job *j)
{
    if (g_only && strncmp(section, g_only, strlen(g_only)) != 0)
        return;
    row r;
    memset(&r, 0, sizeof r);
    snprintf(r.section, sizeof r.section, "%s", section);
    snprintf(r.what, sizeof r.what, "%s", j->what);
    r.N = j->N, r.B = j->B, r.T = j->T, r.k = j->k;
    /* measured in the parent, whose big buffers are freed before the fork,
       so that the child's peak memory is the configuration's own */
    job jl = *j;
    jl.local_before = local_limit_p(is_vec(j), j->N, j->precision);
    j = &jl;
    int fd[2];
    fflush(stdout);
    if (g_csv)
        fflush(g_csv);
    if (pipe(fd) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        measure(j, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    row got;
    ssize_t n = read(fd[0], &got, sizeof got);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n == (ssize_t)sizeof got)
        r = got;
    else
        r.ok = 0;
    emit(&r);
}

/* ---- sections ----------------------------------------------------------- */

static double gemv_rate(int N)
{
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        double g = bu_dgemv_rate(N);
        best = g > best ? g : best;
    }
    return best;
}

static void size_block(int N, int B, int T, int first_NT)
{
    double gemv = B == 1 ? gemv_rate(N) : 0.0;
    if (B == 1 && N < 2048) {
        g_gemv_of[N] = gemv > g_gemv_of[N] ? gemv : g_gemv_of[N];
        gemv = g_gemv_of[N];
        fprintf(stderr, "-- dgemv rate at N = %d: %.2f GFLOP/s (%.2f us per N x N dgemv)\n", N,
                gemv, 2.0 * N * N / gemv * 1e-3);
        row r;
        memset(&r, 0, sizeof r);
        strcpy(r.section, "limit");
        strcpy(r.what, "dgemv_rate");
        strcpy(r.limit, "dgemv");
        r.N = N, r.B = 1, r.T = 1, r.ok = 1;
        r.sec = r.per = 2.0 * N * N / gemv * 1e-9;
        r.gflops = r.local = gemv, r.frac = r.frac_local = 1.0, r.peak_mib = bu_peak_mib();
        if (!g_only || strncmp("limit", g_only, strlen(g_only)) == 0)
            emit(&r);
    }
    job j;
    memset(&j, 0, sizeof j);
    j.N = N, j.B = B, j.T = T, j.gemv = gemv, j.form = RP_FORM_VOLTAGE;

    j.kind = K_FORWARD;
    j.what = "run_relu", j.act = RP_ACT_RELU;
    run("forward", &j);
    j.what = "run_tanh", j.act = RP_ACT_TANH;
    run("forward", &j);

    j.kind = K_TRAIN;
    static const struct {
        const char *what;
        rp_rule_kind rule;
        rp_activation act;
        rp_form form;
    } rules[] = {
        {"bptt_relu", RP_RULE_BPTT, RP_ACT_RELU, RP_FORM_VOLTAGE},
        {"bptt_tanh", RP_RULE_BPTT, RP_ACT_TANH, RP_FORM_VOLTAGE},
        {"tbptt10_relu", RP_RULE_TBPTT, RP_ACT_RELU, RP_FORM_VOLTAGE},
        {"rtrl_relu", RP_RULE_RTRL, RP_ACT_RELU, RP_FORM_VOLTAGE},
        {"eprop_relu", RP_RULE_EPROP, RP_ACT_RELU, RP_FORM_VOLTAGE},
        {"eprop_tanh", RP_RULE_EPROP, RP_ACT_TANH, RP_FORM_VOLTAGE},
        {"rflo_relu", RP_RULE_RFLO, RP_ACT_RELU, RP_FORM_VOLTAGE},
        {"rflo_rate_relu", RP_RULE_RFLO, RP_ACT_RELU, RP_FORM_RATE},
        {"modprop_relu", RP_RULE_MODPROP, RP_ACT_RELU, RP_FORM_VOLTAGE},
        {"modprop_rate_relu", RP_RULE_MODPROP, RP_ACT_RELU, RP_FORM_RATE},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        /* RTRL is O(N^4) a step and B N (N^2 + ...) doubles: small nets only */
        if (rules[i].rule == RP_RULE_RTRL && (N > 64 || B > 1))
            continue;
        j.what = rules[i].what, j.rule = rules[i].rule, j.act = rules[i].act,
        j.form = rules[i].form;
        run("train", &j);
    }

    j.kind = K_ONLINE;
    j.act = RP_ACT_RELU;
    j.what = "eprop_step", j.rule = RP_RULE_EPROP, j.form = RP_FORM_VOLTAGE;
    run("online", &j);
    j.what = "eprop_step_k16", j.oblock = 16; /* rank-16B update every 16 ticks */
    run("online", &j);
    j.oblock = 0;
    j.what = "rflo_step", j.rule = RP_RULE_RFLO;
    run("online", &j);
    j.what = "modprop_step", j.rule = RP_RULE_MODPROP;
    run("online", &j);
    if ((double)B * N * N <= 4.2e6) { /* the rate form keeps B N^2 traces (ModProp 3 B N^2) */
        j.what = "rflo_rate_step", j.rule = RP_RULE_RFLO, j.form = RP_FORM_RATE;
        run("online", &j);
        j.what = "modprop_rate_step", j.rule = RP_RULE_MODPROP;
        run("online", &j);
    }
    j.form = RP_FORM_VOLTAGE;

    if (!first_NT)
        return;
    j.B = 1;
    j.kind = K_LYAP;
    const int ks[3] = {1, 16, N};
    for (int i = 0; i < 3; i++) {
        j.k = ks[i], j.what = "spectrum_step";
        run("lyap", &j);
    }
    j.kind = K_FLOSS;
    for (int i = 0; i < 2; i++) {
        j.k = ks[i];
        j.what = "local", j.mode = RP_FLOSS_LOCAL;
        run("floss", &j);
        j.what = "exact", j.mode = RP_FLOSS_EXACT;
        run("floss", &j);
    }
}

/* Single vs double precision at the sizes: forward, BPTT, e-prop
   and RFLO, relu, voltage form; forward tanh against relu in both; then the Lyapunov step and a flossing
   iteration (tanh, gain 1.5, one trajectory: once per N); each row's frac is
   against its own precision's peak. */
static void precision_section(void)
{
    if (g_only && strncmp("precision", g_only, strlen(g_only)) != 0)
        return;
    double s = sgemm_rate(10, 1);
    g_speak = s > g_speak ? s : g_speak;
    double la = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &la) != 1)
            la = -1;
        fclose(f);
    }
    fprintf(stderr, "-- precision: sgemm peak %.2f GFLOP/s, dgemm peak %.2f, load average %.2f\n",
            g_speak, g_peak, la);
    /* the sizes: PyTorch float32's (bench/torch_ref.py --dtype float32) */
    static const size_t sz[][3] = {{512, 64, 100}, {256, 32, 100}, {128, 1, 100}};
    static const struct {
        kind kind;
        rp_rule_kind rule;
        const char *what[2];
    } ks[] = {{K_FORWARD, RP_RULE_BPTT, {"run_relu_double", "run_relu_single"}},
              {K_TRAIN, RP_RULE_BPTT, {"bptt_relu_double", "bptt_relu_single"}},
              {K_TRAIN, RP_RULE_EPROP, {"eprop_relu_double", "eprop_relu_single"}},
              {K_TRAIN, RP_RULE_RFLO, {"rflo_relu_double", "rflo_relu_single"}}};
    for (size_t z = 0; z < sizeof sz / sizeof sz[0]; z++) {
        double sec[4][2] = {{0}};
        for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++)
            for (int p = 0; p < 2; p++) {
                job j;
                memset(&j, 0, sizeof j);
                j.N = sz[z][0], j.B = sz[z][1], j.T = sz[z][2];
                j.form = RP_FORM_VOLTAGE, j.act = RP_ACT_RELU;
                j.precision = p ? RP_PRECISION_SINGLE : RP_PRECISION_DOUBLE;
                j.kind = ks[q].kind, j.rule = ks[q].rule, j.what = ks[q].what[p];
                run("precision", &j);
                sec[q][p] = g_rows[g_nrows - 1].sec;
            }
        printf("precision (%zu, %zu, %zu), load average %.2f: single is %.2fx double (forward), "
               "%.2fx (BPTT), %.2fx (e-prop), %.2fx (RFLO); sgemm peak %.2f GFLOP/s, dgemm %.2f\n",
               sz[z][0], sz[z][1], sz[z][2], la, sec[0][0] / sec[0][1], sec[1][0] / sec[1][1],
               sec[2][0] / sec[2][1], sec[3][0] / sec[3][1], g_speak, g_peak);
    }
    /* tanh against relu, forward, both precisions (issue 15's goal: tanh within
       1.2x relu at (128, 32, 100)); tanh is src/tanh.c's (SLEEF u10) */
    static const size_t tz[][3] = {{128, 32, 100}, {512, 64, 100}};
    static const char *const tw[2][2] = {{"run_relu_double", "run_tanh_double"},
                                         {"run_relu_single", "run_tanh_single"}};
    for (size_t z = 0; z < sizeof tz / sizeof tz[0]; z++) {
        double sec[2][2] = {{0}}; /* [precision][relu, tanh] */
        for (int p = 0; p < 2; p++)
            for (int a = 0; a < 2; a++) {
                job j;
                memset(&j, 0, sizeof j);
                j.N = tz[z][0], j.B = tz[z][1], j.T = tz[z][2];
                j.form = RP_FORM_VOLTAGE, j.act = a ? RP_ACT_TANH : RP_ACT_RELU;
                j.precision = p ? RP_PRECISION_SINGLE : RP_PRECISION_DOUBLE;
                j.kind = K_FORWARD, j.rule = RP_RULE_BPTT, j.what = tw[p][a];
                run("precision", &j);
                sec[p][a] = g_rows[g_nrows - 1].sec;
            }
        printf("precision (%zu, %zu, %zu), load average %.2f: forward tanh is %.2fx relu (double), "
               "%.2fx (single)\n",
               tz[z][0], tz[z][1], tz[z][2], la, sec[0][1] / sec[0][0], sec[1][1] / sec[1][0]);
    }
    /* the Lyapunov step and one flossing iteration: one trajectory, B plays no part */
    static const struct {
        kind kind;
        int k; /* 0: k = N */
        rp_floss_mode mode;
        const char *what[2];
    } ls[] = {{K_LYAP, 16, RP_FLOSS_LOCAL, {"lyap_k16_double", "lyap_k16_single"}},
              {K_LYAP, 0, RP_FLOSS_LOCAL, {"lyap_kN_double", "lyap_kN_single"}},
              {K_FLOSS, 16, RP_FLOSS_LOCAL, {"floss_local_k16_double", "floss_local_k16_single"}},
              {K_FLOSS, 16, RP_FLOSS_EXACT, {"floss_exact_k16_double", "floss_exact_k16_single"}}};
    for (size_t z = 0; z < sizeof sz / sizeof sz[0]; z++) {
        double sec[4][2] = {{0}};
        for (size_t q = 0; q < sizeof ls / sizeof ls[0]; q++)
            for (int p = 0; p < 2; p++) {
                job j;
                memset(&j, 0, sizeof j);
                j.N = (int)sz[z][0], j.B = 1, j.T = (int)sz[z][2];
                j.k = ls[q].k ? ls[q].k : j.N;
                j.form = RP_FORM_VOLTAGE, j.act = RP_ACT_TANH;
                j.precision = p ? RP_PRECISION_SINGLE : RP_PRECISION_DOUBLE;
                j.kind = ls[q].kind, j.mode = ls[q].mode, j.what = ls[q].what[p];
                run("precision", &j);
                sec[q][p] = g_rows[g_nrows - 1].per;
            }
        printf("precision N %zu, load average %.2f: single is %.2fx double (Lyapunov step k 16), "
               "%.2fx (k N), %.2fx (flossing local k 16), %.2fx (exact k 16)\n",
               sz[z][0], la, sec[0][0] / sec[0][1], sec[1][0] / sec[1][1], sec[2][0] / sec[2][1],
               sec[3][0] / sec[3][1]);
    }
}

/* The online block at B = 1 (rp_rule_set_online_block): e-prop's tick with
   K = 1 and K = 16 at N = 128 and 512, against the dgemv rate at N (N = 128
   repeats the size block's rows beside these; (512, 1) is no size of its
   own). */
static void online_block_section(void)
{
    if (g_only && strncmp("online", g_only, strlen(g_only)) != 0)
        return;
    static const int Ns[2] = {128, 512};
    for (int a = 0; a < 2; a++) {
        const int N = Ns[a];
        double gemv = gemv_rate(N);
        g_gemv_of[N] = gemv > g_gemv_of[N] ? gemv : g_gemv_of[N];
        job j;
        memset(&j, 0, sizeof j);
        j.N = N, j.B = 1, j.T = 100, j.gemv = g_gemv_of[N];
        j.kind = K_ONLINE, j.act = RP_ACT_RELU, j.form = RP_FORM_VOLTAGE, j.rule = RP_RULE_EPROP;
        j.what = "eprop_step_k1";
        run("online", &j);
        j.what = "eprop_step_k16", j.oblock = 16;
        run("online", &j);
    }
}

/* Three values of each of N, B, T (and k for the spectrum) with the others fixed. */
static void scaling(void)
{
    job j;
    memset(&j, 0, sizeof j);
    j.form = RP_FORM_VOLTAGE, j.act = RP_ACT_RELU;
    static const struct {
        const char *what;
        kind kind;
        rp_rule_kind rule;
    } ks[] = {{"forward", K_FORWARD, RP_RULE_BPTT},
              {"bptt", K_TRAIN, RP_RULE_BPTT},
              {"eprop", K_TRAIN, RP_RULE_EPROP}};
    static const int Ns[3] = {128, 256, 512}, Bs[3] = {1, 16, 64}, Ts[3] = {50, 100, 200};
    for (size_t i = 0; i < 3; i++) {
        j.kind = ks[i].kind, j.rule = ks[i].rule, j.what = ks[i].what;
        for (int a = 0; a < 3; a++) {
            j.N = Ns[a], j.B = 32, j.T = 100;
            run("scale_N", &j);
        }
        for (int a = 0; a < 3; a++) {
            j.N = 256, j.B = Bs[a], j.T = 100;
            j.gemv = 0; /* compare against the dgemm peak throughout */
            run("scale_B", &j);
        }
        for (int a = 0; a < 3; a++) {
            j.N = 256, j.B = 32, j.T = Ts[a];
            run("scale_T", &j);
        }
    }
    j.kind = K_LYAP, j.what = "spectrum_step", j.B = 1, j.T = 100;
    static const int kk[3] = {8, 32, 128};
    for (int a = 0; a < 3; a++) {
        j.N = 256, j.k = kk[a];
        run("scale_k", &j);
    }
    for (int a = 0; a < 3; a++) {
        j.N = Ns[a], j.k = 16;
        run("scale_Nk", &j);
    }
}

int main(int argc, char **argv)
{
    int append = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--append"))
            append = 1;
        else if (!strcmp(argv[i], "--quick"))
            g_quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            g_only = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            g_size = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--append] [--quick] [--only SECTION] [--size 0..4]\n",
                    argv[0]);
            return 2;
        }
    }
    const char *path = getenv("RP_BENCH_CSV") ? getenv("RP_BENCH_CSV") : "bench/results.csv";
    g_csv = fopen(path, append ? "a" : "w");
    if (g_csv && ftell(g_csv) == 0)
        fprintf(g_csv, "section,what,N,B,T,k,seconds,seconds_per_step,gflops,limit,fraction,"
                       "local_limit_gflops,fraction_local,extra,peak_mib,delta_mib,threads\n");
    g_peak = bu_dgemm_peak();
    double la[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = -1;
        fclose(f);
    }
    printf(
        "bench_suite: OpenBLAS threads %d, dgemm peak at start %.2f GFLOP/s (best of 10, n = 1024), "
        "load average %.2f %.2f %.2f\n",
        openblas_get_num_threads(), g_peak, la[0], la[1], la[2]);
    printf("medians of >= 5 repetitions; frac = GFLOP/s / limit (the run's best dgemm peak, or the "
           "dgemv rate at N); fracL = GFLOP/s / the same limit measured as a median next to the "
           "kernel; extra = lyap/floss: time per step "
           "/ (dgemm N x N x k + QR N x k); online: whole tick (net step + rule step), us\n");
    {
        row r;
        memset(&r, 0, sizeof r);
        strcpy(r.section, "limit");
        strcpy(r.what, "dgemm_peak");
        strcpy(r.limit, "dgemm");
        r.N = 1024, r.B = 1024, r.T = 1, r.ok = 1;
        r.sec = r.per = 2.0 * 1024 * 1024 * 1024 / g_peak * 1e-9;
        r.gflops = r.local = g_peak, r.frac = r.frac_local = 1.0, r.peak_mib = bu_peak_mib();
        emit(&r);
    }
    static const int sizes[5][3] = {
        {64, 1, 300}, {128, 1, 100}, {128, 32, 100}, {512, 64, 100}, {1024, 1, 100}};
    for (int i = 0; i < 5; i++) {
        int first = 1;
        for (int p = 0; p < i; p++)
            if (sizes[p][0] == sizes[i][0] && sizes[p][2] == sizes[i][2])
                first = 0;
        if (g_size >= 0 && g_size != i)
            continue;
        size_block(sizes[i][0], sizes[i][1], sizes[i][2], first);
        remeasure_peak();
    }
    if (g_size < 0 || g_size == 3)
        precision_section();
    if (g_size < 0)
        online_block_section();
    if (g_size < 0)
        scaling();
    remeasure_peak();
    printf("dgemm peak, best over the run: %.2f GFLOP/s\n", g_peak);
    finish();
    if (g_csv)
        fclose(g_csv);
    return 0;
}
