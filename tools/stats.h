/* Paired-comparison statistics for `rnnplast claims` (claims.c): the mean
   of paired differences, its percentile bootstrap interval, the sign-flip
   permutation test and Holm's correction.  Deterministic: every random draw
   comes from a splitmix64 stream seeded by the caller. */
#ifndef RNNPLAST_STATS_H
#define RNNPLAST_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Largest n whose sign-flip test enumerates all 2^n patterns. */
#define STATS_EXACT_MAX 20

/* splitmix64 (Steele, Lea & Flood 2014): one 64-bit state, full period. */
typedef struct stats_rng {
    uint64_t s;
} stats_rng;
uint64_t stats_next(stats_rng *r);
/* A uniform index in [0, n), n < 2^32 (Lemire's multiply-shift on the top
   32 bits: bias below n / 2^32). */
size_t stats_index(stats_rng *r, size_t n);

double stats_mean(const double *d, size_t n);

/* Percentile bootstrap of the mean of d[0..n): B resamples of n values drawn
   with replacement (the stream seeded with `seed`), their means sorted;
   lo = the ceil(B (1 - level) / 2)-th smallest, hi = the
   ceil(B (1 + level) / 2)-th smallest (1-based; B 10,000 and level 0.95:
   the 250th and the 9,750th).  0, or -1 when out of memory. */
int stats_boot_ci(const double *d, size_t n, size_t B, double level, uint64_t seed, double *lo,
                  double *hi);

/* Two-sided sign-flip permutation test of "the d[i] are symmetric about 0"
   with the statistic |sum s_i |d_i||: the fraction of sign patterns s whose
   statistic is at least the observed |sum d_i| (less 1e-10 sum |d_i|, so
   that patterns tying with it in exact arithmetic count despite rounding).
   n <= STATS_EXACT_MAX: all 2^n patterns (the observed one included), exact;
   *npat = 2^n.  Larger n: `draws` random patterns (stream seeded with
   `seed`), p = (1 + hits) / (1 + draws), never 0; *npat = draws. */
double stats_signflip_p(const double *d, size_t n, size_t draws, uint64_t seed, int *exact,
                        uint64_t *npat);

/* Holm's step-down adjustment of the m p-values p[]: with p sorted
   ascending, adj_(i) = max over j <= i of min(1, (m - j + 1) p_(j)) (1-based),
   written back in the original order.  0, or -1 when out of memory. */
int stats_holm(const double *p, size_t m, double *adj);

#endif
