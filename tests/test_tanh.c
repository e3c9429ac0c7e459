/* The element-wise tanh (tanh.c, rp__tanh / rp__tanhf: SLEEF u10) that every
   tanh of the library goes through.  Oracle: tanhl, the long-double tanh
   (64-bit significand on x86-64: its own error is ~2^-11 of a double's ulp),
   and the error is counted in ulps of the reference in the target precision
   (2^(e-53) for a reference in [2^(e-1), 2^e), at least 2^-1074; float
   2^(e-24), at least 2^-149).  The documented bound (rnnplast.h, RP_ACT_TANH)
   is 1.0 ulp; SLEEF documents u10 as within 1.0 ulp.

   Inputs: >= 1e6 a precision, spanning denormals, |x| < 1e-8, the
   cancellation region of |x| < 0.6 (where tanh = (e^2x - 1)/(e^2x + 1)
   cancels), the whole range log-uniformly, the saturation region (|x| near
   where tanh rounds to 1: 19.06 in double, 9.01 in float) and ±0, ±Inf,
   NaN.  Both x86-64 paths (AVX2+FMA and SSE2) are measured when the CPU has
   AVX2; every length 0..17 at unaligned starts checks the remainder's
   padded vector, in place and not; and the activations rp__act, rp__act_d1,
   rp__act_d2 (double and float) must be exactly these values (1 - t^2 and
   -2 t (1 - t^2) from them). */
#include "internal.h" /* rp__tanh, rp__tanhf, rp__act, ... */
#include "testutil.h"

#include <float.h>
#include <math.h>

/* The bound (rnnplast.h, RP_ACT_TANH): 1 ulp of the exact tanh.  Near
   |x| = 2^-53 (double) and 2^-24 (float) SLEEF returns x rounded one ulp
   away from zero, i.e. 1 ulp plus tanh's own x^3/3 from the exact value:
   1 + 2^-55 ulp in double and up to 1 + 2e-8 ulp in float.  The reference
   tanhl is itself within a few units of its 64-bit significand (2^-11 of a
   double's ulp each, 2^-40 of a float's): the measured error may exceed the
   bound by that much. */
#define TANH_ULP_BOUND 1.0
#define REF_ERR_D 0x1p-9 /* 4 units of the long-double reference */
#define REF_ERR_F 1e-7   /* SLEEF's 2e-8 excess near 2^-24, and the reference */

enum { NSET = 5, PER_SET = 240000 }; /* 1.2e6 inputs a precision */

/* Whether long double arithmetic here carries more than a double's 53 bits.
   Under valgrind it does not: valgrind runs x87 code in 64-bit double
   precision (its manual, "Limitations"), so tanhl is then only a double
   tanh, a few ulps off, and cannot referee a 1-ulp bound in double (it
   still can in float).  The double-precision ulp checks then check
   nothing and are skipped, saying so; the native and sanitizer runs of
   the suite make them. */
static int long_double_is_extended(void)
{
    volatile long double one = 1.0L, tiny = 0x1p-60L;
    return one + tiny != one;
}

static int bit_equal_d(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }
static int bit_equal_f(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* |y - r| in ulps of r in a format of `prec` significand bits whose least
   exponent of an ulp is `emin` (double 53, -1074; float 24, -149). */
static double ulps(long double y, long double r, int prec, int emin)
{
    int e;
    frexpl(fabsl(r), &e);
    int ue = e - prec < emin ? emin : e - prec;
    return (double)(fabsl(y - r) / ldexpl(1.0L, ue));
}

/* The input sets: in [lo, hi) uniformly, or log-uniformly in magnitude
   between 2^elo and 2^ehi with a random sign. */
static double draw(int set, uint64_t *s)
{
    double u = tu_uniform(s), sign = tu_uniform(s) < 0.5 ? -1.0 : 1.0;
    switch (set) {
    case 0: /* everything from the least denormal to 2^10, log-uniform */
        return sign * exp2(-1074.0 + u * 1084.0);
    case 1: /* the normal tiny region and |x| < 1e-8 */
        return sign * exp2(-1022.0 + u * (1022.0 - 26.6));
    case 2: /* the cancellation region */
        return -0.6 + 1.2 * u;
    case 3: /* the working range of a net's states */
        return -8.0 + 16.0 * u;
    default: /* the saturation region of both precisions */
        return sign * (7.0 + 15.0 * u);
    }
}

static const double specials[] = {0.0,
                                  -0.0,
                                  INFINITY,
                                  -INFINITY,
                                  NAN,
                                  -NAN,
                                  DBL_MIN,
                                  -DBL_MIN,
                                  DBL_MAX,
                                  -DBL_MAX,
                                  0x1p-1074,
                                  -0x1p-1074,
                                  1e-8,
                                  -1e-8,
                                  19.06154746,
                                  -19.06154746,
                                  9.010913,
                                  -9.010913,
                                  0x1p-1022 / 3,
                                  (double)FLT_MIN,
                                  -(double)FLT_MIN,
                                  0x1p-149,
                                  -0x1p-149,
                                  0.5493061443340549};

/* x is ±0, ±Inf or NaN: tanh(±0) = ±0 (the sign kept), tanh(±Inf) = ±1,
   tanh(NaN) is NaN.  (Check's ck_assert writes a record per call: the loops
   over 1e6 inputs count failures and assert once.) */
static int special_ok_d(double x, double y)
{
    if (isnan(x))
        return isnan(y);
    if (isinf(x))
        return y == copysign(1.0, x);
    return bit_equal_d(y, x);
}

static int special_ok_f(float x, float y)
{
    if (isnan(x))
        return isnan(y);
    if (isinf(x))
        return y == copysignf(1.0f, x);
    return bit_equal_f(y, x);
}

/* The bound on >= 1e6 inputs, through both paths (SSE2 and, if the CPU has
   it, AVX2; off x86-64 the scalar functions twice), one reference each. */
static void bound_double(void)
{
    const size_t ns = sizeof specials / sizeof specials[0], n = NSET * PER_SET + ns;
    double *x = malloc(n * sizeof *x),
           *y[2] = {malloc(n * sizeof(double)), malloc(n * sizeof(double))};
    ck_assert(x && y[0] && y[1]);
    uint64_t s = 12345;
    for (int set = 0; set < NSET; set++)
        for (size_t i = 0; i < PER_SET; i++)
            x[set * PER_SET + i] = draw(set, &s);
    memcpy(x + NSET * PER_SET, specials, sizeof specials);
    for (int p = 0; p < 2; p++)
        rp__tanh_path(p, x, y[p], n);
    double worst[2] = {0.0, 0.0}, at[2] = {0.0, 0.0}, bad_x = 0.0, bad_y = 0.0;
    size_t bad = 0; /* wrong signs and special values */
    for (size_t i = 0; i < n; i++) {
        long double r = (!isfinite(x[i]) || x[i] == 0.0) ? 0.0L : tanhl(x[i]);
        for (int p = 0; p < 2; p++) {
            if (!isfinite(x[i]) || x[i] == 0.0) {
                if (!special_ok_d(x[i], y[p][i]) && !bad++)
                    bad_x = x[i], bad_y = y[p][i];
                continue;
            }
            if (signbit(y[p][i]) != signbit(x[i]) && !bad++)
                bad_x = x[i], bad_y = y[p][i];
            double e = ulps(y[p][i], r, 53, -1074);
            if (e > worst[p])
                worst[p] = e, at[p] = x[i];
        }
    }
    ck_assert_msg(bad == 0, "%zu wrong signs or special values, the first tanh(%a) = %a", bad,
                  bad_x, bad_y);
    free(x);
    free(y[0]);
    free(y[1]);
    if (!long_double_is_extended()) {
        printf("tanh: long double has no extended precision here (valgrind?): the double "
               "1-ulp checks against tanhl are skipped\n");
        return;
    }
    for (int p = 0; p < 2; p++)
        ck_assert_msg(worst[p] <= TANH_ULP_BOUND + REF_ERR_D, "tanh (path %d): %.6f ulp at %a", p,
                      worst[p], at[p]);
}

static void bound_float(void)
{
    const size_t ns = sizeof specials / sizeof specials[0], n = NSET * PER_SET + ns;
    float *x = malloc(n * sizeof *x),
          *y[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    ck_assert(x && y[0] && y[1]);
    uint64_t s = 54321;
    for (int set = 0; set < NSET; set++)
        for (size_t i = 0; i < PER_SET; i++) {
            double v = draw(set, &s);
            if (set == 0) /* float's range: the least denormal 2^-149 to 2^10 */
                v = copysign(exp2(-149.0 + (log2(fabs(v)) + 1074.0) / 1084.0 * 159.0), v);
            else if (set == 1) /* float's tiny normals up to 1e-8 */
                v = copysign(exp2(-126.0 + (log2(fabs(v)) + 1022.0) / (1022.0 - 26.6) * 99.4), v);
            x[set * PER_SET + i] = (float)v;
        }
    for (size_t i = 0; i < ns; i++)
        x[NSET * PER_SET + i] = (float)specials[i];
    for (int p = 0; p < 2; p++)
        rp__tanhf_path(p, x, y[p], n);
    double worst[2] = {0.0, 0.0}, at[2] = {0.0, 0.0}, bad_x = 0.0, bad_y = 0.0;
    size_t bad = 0; /* wrong signs and special values */
    for (size_t i = 0; i < n; i++) {
        long double r = (!isfinite(x[i]) || x[i] == 0.0f) ? 0.0L : tanhl(x[i]);
        for (int p = 0; p < 2; p++) {
            if (!isfinite(x[i]) || x[i] == 0.0f) {
                if (!special_ok_f(x[i], y[p][i]) && !bad++)
                    bad_x = x[i], bad_y = y[p][i];
                continue;
            }
            if (signbit(y[p][i]) != signbit(x[i]) && !bad++)
                bad_x = x[i], bad_y = y[p][i];
            double e = ulps(y[p][i], r, 24, -149);
            if (e > worst[p])
                worst[p] = e, at[p] = x[i];
        }
    }
    ck_assert_msg(bad == 0, "%zu wrong signs or special values, the first tanhf(%a) = %a", bad,
                  bad_x, bad_y);
    for (int p = 0; p < 2; p++)
        ck_assert_msg(worst[p] <= TANH_ULP_BOUND + REF_ERR_F, "tanhf (path %d): %.9f ulp at %a", p,
                      worst[p], at[p]);
    free(x);
    free(y[0]);
    free(y[1]);
}

START_TEST(test_tanh_bound_double) { bound_double(); }
END_TEST

START_TEST(test_tanh_bound_float) { bound_float(); }
END_TEST

/* Lengths 0..17 at starts 0..7 elements past an aligned address (the
   vector body and the padded remainder at every position), out of place and
   in place: each element is the value a call on it alone gives, and nothing
   outside [0, n) is written. */
START_TEST(test_tanh_lengths)
{
    enum { CAP = 32 };
    const double guard = 12345.0;
    const int ref = long_double_is_extended(); /* tanhl can referee double's ulp */
    for (int avx2 = 0; avx2 <= 1; avx2++)
        for (size_t n = 0; n <= 17; n++)
            for (size_t off = 0; off < 8; off++) {
                _Alignas(32) double src[CAP], dst[CAP];
                _Alignas(32) float srcf[CAP], dstf[CAP];
                tu_fill(src, CAP, -3.0, 3.0, 100 * n + off + 1);
                for (size_t i = 0; i < CAP; i++) {
                    dst[i] = guard;
                    srcf[i] = (float)src[i];
                    dstf[i] = (float)guard;
                }
                rp__tanh_path(avx2, src + off, dst + off, n);
                rp__tanhf_path(avx2, srcf + off, dstf + off, n);
                for (size_t i = 0; i < CAP; i++) {
                    if (i < off || i >= off + n) {
                        ck_assert(dst[i] == guard && dstf[i] == (float)guard);
                        continue;
                    }
                    double one;
                    float onef;
                    rp__tanh_path(avx2, src + i, &one, 1);
                    rp__tanhf_path(avx2, srcf + i, &onef, 1);
                    ck_assert_msg(bit_equal_d(dst[i], one) && bit_equal_f(dstf[i], onef),
                                  "n %zu, offset %zu, element %zu", n, off, i);
                    ck_assert(!ref || ulps(one, tanhl(src[i]), 53, -1074) <= TANH_ULP_BOUND);
                }
                /* in place */
                rp__tanh_path(avx2, src + off, src + off, n);
                rp__tanhf_path(avx2, srcf + off, srcf + off, n);
                for (size_t i = off; i < off + n; i++)
                    ck_assert(bit_equal_d(src[i], dst[i]) && bit_equal_f(srcf[i], dstf[i]));
            }
}
END_TEST

/* The activations are the kernel's values: f = t, f' = 1 - t^2,
   f'' = -2 t (1 - t^2) with t = rp__tanh(v), in both precisions, and the
   default entry points rp__tanh / rp__tanhf are path 1. */
START_TEST(test_tanh_activations)
{
    enum { N = 1031 };
    double v[N], t[N], t1[N], f[N], d1[N], d2[N];
    float vf[N], tf[N], ff[N], d1f[N];
    tu_fill(v, N, -6.0, 6.0, 7);
    v[0] = 0.0, v[1] = -0.0, v[2] = INFINITY, v[3] = -INFINITY, v[4] = 1e-300;
    for (size_t i = 0; i < N; i++)
        vf[i] = (float)v[i];
    rp__tanh_path(1, v, t, N);
    rp__tanh(v, t1, N);
    rp__tanhf_path(1, vf, tf, N);
    rp__act(RP_ACT_TANH, v, f, N);
    rp__act_d1(RP_ACT_TANH, v, d1, N);
    rp__act_d2(RP_ACT_TANH, v, d2, N);
    rp__act_f(RP_ACT_TANH, vf, ff, N);
    rp__act_d1_f(RP_ACT_TANH, vf, d1f, N);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++)
        bad += !bit_equal_d(t1[i], t[i]) || !bit_equal_d(f[i], t[i]) ||
               !bit_equal_d(d1[i], 1.0 - t[i] * t[i]) ||
               !bit_equal_d(d2[i], -2.0 * t[i] * (1.0 - t[i] * t[i])) ||
               !bit_equal_f(ff[i], tf[i]) || !bit_equal_f(d1f[i], 1.0f - tf[i] * tf[i]);
    ck_assert_msg(bad == 0, "%zu of %d elements differ from the kernel's", bad, (int)N);
}
END_TEST

Suite *suite_tanh(void)
{
    Suite *s = suite_create("tanh");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_tanh_bound_double);
    tcase_add_test(tc, test_tanh_bound_float);
    tcase_add_test(tc, test_tanh_lengths);
    tcase_add_test(tc, test_tanh_activations);
    suite_add_tcase(s, tc);
    return s;
}
