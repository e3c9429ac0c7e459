/* Helpers shared by the test suites. */
#ifndef RP_TESTUTIL_H
#define RP_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnplast.h"

/* Fail the test with the call's status and the handle's message. */
#define RP_CK(call, h, errfn)                                                                \
    do {                                                                                      \
        rp_status st_ = (call);                                                               \
        ck_assert_msg(st_ == RP_OK, "%s -> %s: %s", #call, rp_status_string(st_), errfn(h)); \
    } while (0)

/* A deterministic test generator, independent of the library's own. */
static inline double tu_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* Fill a with uniform values in [lo, hi). */
static inline void tu_fill(double *a, size_t n, double lo, double hi, uint64_t seed)
{
    uint64_t s = seed * 2654435761ULL + 1;
    for (size_t i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * tu_uniform(&s);
}

/* max_i |a_i - b_i| / max(max_i |b_i|, floor) */
static inline double tu_rel_err(const double *a, const double *b, size_t n, double floor_)
{
    double d = 0.0, m = floor_;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        d = e > d ? e : d;
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
    }
    return d / m;
}

#endif
