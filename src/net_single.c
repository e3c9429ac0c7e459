/* The float instance of the forward kernels (net_kernels.h) for the nets of
   RP_PRECISION_SINGLE, and the conversions at the double boundary. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define RP_K_SINGLE
#include "net_kernels.h"
#undef RP_K_SINGLE

void rp__to_f(const double *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)src[i];
}

void rp__from_f(const float *src, double *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (double)src[i];
}
