/* Paired-comparison statistics (stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

uint64_t stats_next(stats_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t stats_index(stats_rng *r, size_t n)
{
    return (size_t)(((stats_next(r) >> 32) * (uint64_t)n) >> 32);
}

double stats_mean(const double *d, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += d[i];
    return n ? s / (double)n : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int stats_boot_ci(const double *d, size_t n, size_t B, double level, uint64_t seed, double *lo,
                  double *hi)
{
    double *m = malloc((B ? B : 1) * sizeof *m);
    if (!m)
        return -1;
    stats_rng r = {seed};
    for (size_t b = 0; b < B; b++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += d[stats_index(&r, n)];
        m[b] = s / (double)n;
    }
    qsort(m, B, sizeof *m, cmp_double);
    /* 1-based ranks ceil(B (1 -+ level) / 2), kept within 1..B */
    size_t klo = (size_t)ceil((double)B * (1.0 - level) / 2.0 - 1e-9);
    size_t khi = (size_t)ceil((double)B * (1.0 + level) / 2.0 - 1e-9);
    klo = klo < 1 ? 1 : klo > B ? B : klo;
    khi = khi < 1 ? 1 : khi > B ? B : khi;
    *lo = m[klo - 1];
    *hi = m[khi - 1];
    free(m);
    return 0;
}

double stats_signflip_p(const double *d, size_t n, size_t draws, uint64_t seed, int *exact,
                        uint64_t *npat)
{
    double sabs = 0.0, obs = 0.0;
    for (size_t i = 0; i < n; i++) {
        sabs += fabs(d[i]);
        obs += d[i];
    }
    double thr = fabs(obs) - 1e-10 * sabs;
    uint64_t hits = 0;
    if (n <= STATS_EXACT_MAX) {
        /* bit i of s set: d_i's sign flipped */
        uint64_t total = (uint64_t)1 << n;
        for (uint64_t s = 0; s < total; s++) {
            double t = 0.0;
            for (size_t i = 0; i < n; i++)
                t += (s >> i & 1) ? -d[i] : d[i];
            hits += fabs(t) >= thr;
        }
        *exact = 1;
        *npat = total;
        return (double)hits / (double)total;
    }
    stats_rng r = {seed};
    for (size_t k = 0; k < draws; k++) {
        double t = 0.0;
        uint64_t bits = 0;
        for (size_t i = 0; i < n; i++) {
            if (i % 64 == 0)
                bits = stats_next(&r);
            t += (bits >> (i % 64) & 1) ? -d[i] : d[i];
        }
        hits += fabs(t) >= thr;
    }
    *exact = 0;
    *npat = draws;
    return (1.0 + (double)hits) / (1.0 + (double)draws);
}

typedef struct {
    double p;
    size_t i;
} pidx;

static int cmp_pidx(const void *a, const void *b)
{
    const pidx *x = a, *y = b;
    if (x->p != y->p)
        return (x->p > y->p) - (x->p < y->p);
    return (x->i > y->i) - (x->i < y->i);
}

int stats_holm(const double *p, size_t m, double *adj)
{
    pidx *v = malloc((m ? m : 1) * sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < m; i++)
        v[i] = (pidx){p[i], i};
    qsort(v, m, sizeof *v, cmp_pidx);
    double run = 0.0;
    for (size_t j = 0; j < m; j++) {
        double a = (double)(m - j) * v[j].p;
        a = a > 1.0 ? 1.0 : a;
        run = a > run ? a : run;
        adj[v[j].i] = run;
    }
    free(v);
    return 0;
}
