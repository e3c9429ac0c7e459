/* Shared by the benchmarks: wall-clock timing, medians, the machine's own
   dgemm/dgemv peak measured in the same run, peak memory, and the CSV line.
   Benchmarks print figures; they never pass or fail. */
#ifndef RP_BENCH_UTIL_H
#define RP_BENCH_UTIL_H

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* A set-up call that fails would time something else: stop with its status
   (every library call returning rp_status is RP_NODISCARD). */
#define BU_CK(call)                                                                               \
    do {                                                                                          \
        int st_ = (int)(call);                                                                    \
        if (st_ != 0) {                                                                           \
            fprintf(stderr, "%s:%d: %s failed with status %d\n", __FILE__, __LINE__, #call, st_); \
            exit(EXIT_FAILURE);                                                                   \
        }                                                                                         \
    } while (0)

static inline double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bu_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bu_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bu_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median seconds per call of fn(arg) over `reps` repetitions of `inner` calls
   each, after one warm-up repetition. */
static inline double bu_time(void (*fn)(void *), void *arg, int reps, int inner)
{
    double t[64];
    if (reps > 64)
        reps = 64;
    for (int i = 0; i < inner; i++)
        fn(arg);
    for (int r = 0; r < reps; r++) {
        double t0 = bu_now();
        for (int i = 0; i < inner; i++)
            fn(arg);
        t[r] = (bu_now() - t0) / inner;
    }
    return bu_median(t, reps);
}

/* Fastest of `reps` calls, after one warm-up: a limit is what the machine can
   do at its best, so the peak is measured by the minimum, not the median. */
static inline double bu_time_min(void (*fn)(void *), void *arg, int reps)
{
    fn(arg);
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = bu_now();
        fn(arg);
        double t = bu_now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

typedef struct bu_gemm {
    int n;
    double *a, *b, *c;
} bu_gemm;

static void bu_gemm_fn(void *p)
{
    bu_gemm *g = p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0, g->a, g->n, g->b,
                g->n, 0.0, g->c, g->n);
}

static void bu_gemv_fn(void *p)
{
    bu_gemm *g = p;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, g->n, g->n, 1.0, g->a, g->n, g->b, 1, 0.0, g->c, 1);
}

static inline bu_gemm bu_gemm_alloc(int n)
{
    bu_gemm g = {n, malloc(sizeof(double) * n * n), malloc(sizeof(double) * n * n),
                 malloc(sizeof(double) * n * n)};
    for (int i = 0; i < n * n; i++) {
        g.a[i] = 1.0 / (1 + i % 7);
        g.b[i] = 1.0 / (1 + i % 5);
    }
    return g;
}

static inline void bu_gemm_free(bu_gemm *g)
{
    free(g->a);
    free(g->b);
    free(g->c);
}

/* The machine's dgemm peak in GFLOP/s: the best of 10 square dgemms at n = 1024 (large enough
   for the kernel's best rate, small enough to take well under a second). */
static inline double bu_dgemm_peak(void)
{
    bu_gemm g = bu_gemm_alloc(1024);
    double s = bu_time_min(bu_gemm_fn, &g, 10);
    bu_gemm_free(&g);
    return 2.0 * 1024.0 * 1024.0 * 1024.0 / s * 1e-9;
}

/* dgemv rate in GFLOP/s at size n (memory-bound: 2 n^2 flops reading 8 n^2 bytes). */
static inline double bu_dgemv_rate(int n)
{
    bu_gemm g = bu_gemm_alloc(n);
    int inner = n <= 256 ? 2000 : 200;
    double s = bu_time(bu_gemv_fn, &g, 9, inner);
    bu_gemm_free(&g);
    return 2.0 * n * n / s * 1e-9;
}

/* Peak resident memory of this process so far, in MiB. */
static inline double bu_peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* Threads OpenBLAS uses (set with OPENBLAS_NUM_THREADS). */
int openblas_get_num_threads(void);

/* Append one row to bench/results.csv (header written if the file is new). */
static inline void bu_csv(const char *bench, const char *what, int N, int B, int T, int k,
                          double seconds, double gflops, double frac, double peak_mib)
{
    const char *path = getenv("RP_BENCH_CSV") ? getenv("RP_BENCH_CSV") : "bench/results.csv";
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    if (ftell(f) == 0)
        fprintf(f, "bench,what,N,B,T,k,seconds,gflops,fraction_of_limit,peak_mib,threads\n");
    fprintf(f, "%s,%s,%d,%d,%d,%d,%.6e,%.4f,%.4f,%.1f,%d\n", bench, what, N, B, T, k, seconds,
            gflops, frac, peak_mib, openblas_get_num_threads());
    fclose(f);
}

#endif
