/* Per-handle random numbers: xoshiro256** (Blackman & Vigna) seeded by
   splitmix64, so a 64-bit seed gives a full, well-mixed state.  No global state. */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rp__rng_seed(rp_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t rp__seed_mix(uint64_t seed, uint64_t tag)
{
    uint64_t x = seed ^ (tag * 0xd1b54a32d192ed03ULL);
    return splitmix64(&x);
}

uint64_t rp__rng_u64(rp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rp__rng_uniform(rp_rng *r) { return (double)(rp__rng_u64(r) >> 11) * 0x1.0p-53; }

double rp__rng_normal(rp_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller with u1 in (0, 1] so log never sees 0. */
    double u1 = 1.0 - rp__rng_uniform(r);
    double u2 = rp__rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925286766559 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}
