/* The element-wise tanh of every tanh in the library (rp__act, rp__act_d1,
   rp__act_d2, the forward kernels, BPTT, e-prop, RTRL, ModProp, the
   Lyapunov spectrum, flossing), in both precisions: SLEEF 3.5's u10
   functions, whose documented bound is 1.0 ulp from the exact result.

   On x86-64 the vector width is chosen at every call with
   __builtin_cpu_supports (a flag the compiler's runtime sets once at load;
   no state of ours): AVX2+FMA (4 doubles / 8 floats a vector,
   Sleef_tanhd4_u10avx2 / Sleef_tanhf8_u10avx2, the functions compiled for
   that target only), else the x86-64 baseline SSE2 (2 doubles / 4 floats,
   Sleef_tanhd2_u10sse2 / Sleef_tanhf4_u10sse2).  The last n mod width
   elements go through one zero-padded vector, so every element, whatever
   its position, gets the bits of that path's vector function.  Other
   architectures call the scalar Sleef_tanh_u10 / Sleef_tanhf_u10.

   The AVX2 and SSE2 functions are different code (the AVX2 one fuses
   multiply-adds), so their results may differ in the last bit;
   tests/test_tanh.c measures both against a long-double reference and
   records whether they agree on this machine. */
#include "internal.h"

#include <string.h>

#include <sleef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RP_TANH_X86 1
#include <immintrin.h>
#define RP_AVX2 __attribute__((target("avx2,fma")))
/* sleef.h declares its AVX2 functions only where __AVX__ is defined (this
   file is compiled for baseline x86-64): the two used here, as it would. */
#if !defined(__AVX__)
RP_AVX2 __m256d Sleef_tanhd4_u10avx2(__m256d);
RP_AVX2 __m256 Sleef_tanhf8_u10avx2(__m256);
#endif
#endif

#if defined(RP_TANH_X86)

static RP_AVX2 void tanh_avx2(const double *src, double *dst, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(dst + i, Sleef_tanhd4_u10avx2(_mm256_loadu_pd(src + i)));
    if (i < n) {
        double pad[4] = {0};
        memcpy(pad, src + i, (n - i) * sizeof *pad);
        _mm256_storeu_pd(pad, Sleef_tanhd4_u10avx2(_mm256_loadu_pd(pad)));
        memcpy(dst + i, pad, (n - i) * sizeof *pad);
    }
}

static RP_AVX2 void tanhf_avx2(const float *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, Sleef_tanhf8_u10avx2(_mm256_loadu_ps(src + i)));
    if (i < n) {
        float pad[8] = {0};
        memcpy(pad, src + i, (n - i) * sizeof *pad);
        _mm256_storeu_ps(pad, Sleef_tanhf8_u10avx2(_mm256_loadu_ps(pad)));
        memcpy(dst + i, pad, (n - i) * sizeof *pad);
    }
}

static void tanh_sse2(const double *src, double *dst, size_t n)
{
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        _mm_storeu_pd(dst + i, Sleef_tanhd2_u10sse2(_mm_loadu_pd(src + i)));
    if (i < n) {
        double pad[2] = {src[i], 0.0};
        _mm_storeu_pd(pad, Sleef_tanhd2_u10sse2(_mm_loadu_pd(pad)));
        dst[i] = pad[0];
    }
}

static void tanhf_sse2(const float *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(dst + i, Sleef_tanhf4_u10sse2(_mm_loadu_ps(src + i)));
    if (i < n) {
        float pad[4] = {0};
        memcpy(pad, src + i, (n - i) * sizeof *pad);
        _mm_storeu_ps(pad, Sleef_tanhf4_u10sse2(_mm_loadu_ps(pad)));
        memcpy(dst + i, pad, (n - i) * sizeof *pad);
    }
}

int rp__tanh_has_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

void rp__tanh_path(int avx2, const double *src, double *dst, size_t n)
{
    if (avx2 && rp__tanh_has_avx2())
        tanh_avx2(src, dst, n);
    else
        tanh_sse2(src, dst, n);
}

void rp__tanhf_path(int avx2, const float *src, float *dst, size_t n)
{
    if (avx2 && rp__tanh_has_avx2())
        tanhf_avx2(src, dst, n);
    else
        tanhf_sse2(src, dst, n);
}

#else /* not x86-64: the scalar functions */

int rp__tanh_has_avx2(void) { return 0; }

void rp__tanh_path(int avx2, const double *src, double *dst, size_t n)
{
    (void)avx2;
    for (size_t i = 0; i < n; i++)
        dst[i] = Sleef_tanh_u10(src[i]);
}

void rp__tanhf_path(int avx2, const float *src, float *dst, size_t n)
{
    (void)avx2;
    for (size_t i = 0; i < n; i++)
        dst[i] = Sleef_tanhf_u10(src[i]);
}

#endif

void rp__tanh(const double *src, double *dst, size_t n) { rp__tanh_path(1, src, dst, n); }

void rp__tanhf(const float *src, float *dst, size_t n) { rp__tanhf_path(1, src, dst, n); }
