/* The element-wise activation kernels (net.c, internal.h rp__relu): the
   branch-free relu and relu' loops, and the forward pass's fused relu loops,
   must give the bits of the defining expressions for every double — ±0, NaN
   (either sign, any payload), ±Inf, denormals, random bit patterns — at every
   length and alignment (the body of four and its remainder).  Oracle: the
   definition written with classification, not comparison: relu(v) = v when v
   is a positive number (not NaN, not ±0), else +0 (all bits clear);
   relu'(v) = 1 then, else +0. */
#include "internal.h" /* rp__act, rp__act_d1, rp__forward */
#include "testutil.h"

#include <float.h>
#include <math.h>

static uint64_t bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* positive: sign bit clear, not zero, not NaN (exponent all ones with a payload) */
static int positive(double v)
{
    uint64_t b = bits(v);
    int nan = (b & 0x7ff0000000000000u) == 0x7ff0000000000000u && (b & 0x000fffffffffffffu);
    return !(b >> 63) && (b << 1) != 0 && !nan;
}

static double ref_relu(double v) { return positive(v) ? v : from_bits(0); }
static double ref_relu_d1(double v) { return positive(v) ? 1.0 : from_bits(0); }

enum { NV = 1031 }; /* odd: the remainder loop runs at every offset */

/* The adversarial values first, then random bit patterns (every exponent,
   NaNs and denormals among them) and random numbers of either sign. */
static void adversarial(double *v, size_t n, uint64_t seed)
{
    const double special[] = {0.0,
                              -0.0,
                              NAN,
                              -NAN,
                              from_bits(0x7ff0000000000001u), /* signalling NaN */
                              from_bits(0xfff8000000000abcu), /* negative quiet NaN, payload */
                              INFINITY,
                              -INFINITY,
                              from_bits(1),                   /* smallest denormal */
                              -from_bits(1),                  /* its negative */
                              from_bits(0x000fffffffffffffu), /* largest denormal */
                              -from_bits(0x000fffffffffffffu),
                              DBL_MIN,
                              -DBL_MIN,
                              DBL_MAX,
                              -DBL_MAX,
                              1.0,
                              -1.0,
                              DBL_EPSILON,
                              -DBL_EPSILON};
    const size_t ns = sizeof special / sizeof special[0];
    rp_rng r;
    rp__rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        if (i < ns)
            v[i] = special[i];
        else if (i % 3 == 0)
            v[i] = from_bits(rp__rng_u64(&r));
        else if (i % 3 == 1)
            v[i] = special[rp__rng_u64(&r) % ns];
        else
            v[i] = 2.0 * rp__rng_uniform(&r) - 1.0;
    }
}

static void assert_bits(const double *got, const double *src, size_t n, double (*ref)(double),
                        const char *what, size_t off)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(bits(got[i]) == bits(ref(src[i])),
                      "%s (n %zu, offset %zu): element %zu, input %016llx: got %016llx, expected "
                      "%016llx",
                      what, n, off, i, (unsigned long long)bits(src[i]),
                      (unsigned long long)bits(got[i]), (unsigned long long)bits(ref(src[i])));
}

/* rp__act / rp__act_d1 (relu) at every length 0..40 and offsets 0..3 (the
   vector body's alignment), and once over all NV values. */
START_TEST(relu_kernels_bitwise)
{
    double src[NV + 4], dst[NV + 4];
    adversarial(src, NV + 4, 11);
    for (size_t off = 0; off < 4; off++) {
        for (size_t n = 0; n <= 40; n++) {
            for (size_t i = 0; i < NV + 4; i++)
                dst[i] = 123.0; /* elements past n stay as they are */
            rp__act(RP_ACT_RELU, src + off, dst + off, n);
            assert_bits(dst + off, src + off, n, ref_relu, "relu", off);
            ck_assert(dst[off + n] == 123.0);
            rp__act_d1(RP_ACT_RELU, src + off, dst + off, n);
            assert_bits(dst + off, src + off, n, ref_relu_d1, "relu'", off);
            ck_assert(dst[off + n] == 123.0);
        }
        rp__act(RP_ACT_RELU, src + off, dst + off, NV);
        assert_bits(dst + off, src + off, NV, ref_relu, "relu", off);
        rp__act_d1(RP_ACT_RELU, src + off, dst + off, NV);
        assert_bits(dst + off, src + off, NV, ref_relu_d1, "relu'", off);
    }
}
END_TEST

/* The forward pass's fused loops (bias + relu in the voltage form, relu +
   leak in the rate form) on a net whose products add exact zeros: W, U = 0,
   b = 0, so h = a h_prev + (1 - a) 0 + (1 - a) 0 keeps every special value's
   class.  Checked against the kernel's own outputs: f = relu(h) (voltage),
   f = relu(u) and r = a r_prev + (1 - a) f (rate), bit for bit. */
START_TEST(fused_forward_bitwise)
{
    const rp_form form = _i ? RP_FORM_RATE : RP_FORM_VOLTAGE;
    const size_t N = 37, B = 5; /* 37: a remainder of 1 per row; B*N = 185 */
    rp_net_config c = tu_net_config(0, N, 1, B, form, RP_ACT_RELU, 0.7);
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    memset(net->theta, 0, net->lay.total * sizeof(double));
    double *state = calloc(B * N, sizeof(double)), *fx = calloc(B * N, sizeof(double));
    double *u = calloc(B * N, sizeof(double)), *prev = calloc(B * N, sizeof(double));
    double *pad = calloc(rp__pad_len(0, N, 1) + 1, sizeof(double));
    ck_assert(state && fx && u && prev && pad);
    adversarial(state, B * N, 29 + (uint64_t)_i);
    memcpy(prev, state, B * N * sizeof(double));
    /* the rate form's product reads the previous rates: finite ones, so the
       zero weights give exact zeros (0 * Inf would be NaN in u) */
    if (form == RP_FORM_RATE)
        for (size_t i = 0; i < B * N; i++)
            state[i] = prev[i] = isfinite(prev[i]) ? prev[i] : 0.0;
    rp__forward(net, B, NULL, state, fx, u, pad);
    const double a = 0.7, g = 1.0 - a;
    for (size_t i = 0; i < B * N; i++) {
        if (form == RP_FORM_VOLTAGE) {
            ck_assert_msg(bits(fx[i]) == bits(ref_relu(state[i])),
                          "f(h) at %zu: %016llx for h %016llx", i, (unsigned long long)bits(fx[i]),
                          (unsigned long long)bits(state[i]));
        } else {
            ck_assert_msg(bits(fx[i]) == bits(ref_relu(u[i])), "f(u) at %zu", i);
            double r = a * prev[i] + g * ref_relu(u[i]);
            ck_assert_msg(bits(state[i]) == bits(r), "r at %zu", i);
        }
    }
    free(state), free(fx), free(u), free(prev), free(pad);
    rp_net_free(net);
}
END_TEST

Suite *suite_act(void)
{
    Suite *s = suite_create("act");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, relu_kernels_bitwise);
    tcase_add_loop_test(tc, fused_forward_bitwise, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
