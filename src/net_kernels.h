/* The forward kernels of MODEL.md §1, one source compiled twice (FFTW's
   way): net.c includes it with RP_K_DOUBLE (R = double, dgemm/dgemv, the
   names rp__forward, rp__readout, ...: the code of 1.1, bit for bit, but
   for tanh, now tanh.c's rp__tanh) and net_single.c with RP_K_SINGLE
   (R = float, sgemm/sgemv, rp__tanhf, the names with an _f suffix) for the
   nets of RP_PRECISION_SINGLE.  Every constant
   is written (R)c, which in the double build is the literal it was.

   The includer defines exactly one of RP_K_DOUBLE / RP_K_SINGLE and has
   included internal.h, cblas.h, math.h and string.h. */
#if defined(RP_K_DOUBLE)
#define R double
#define RK(name) name
#define RK_GEMM cblas_dgemm
#define RK_GEMV cblas_dgemv
#define RK_SCAL cblas_dscal
#define RK_TANH rp__tanh
#define RK_RELU rp__relu
#define RK_RELU_D1 rp__relu_d1
#define RK_THETA(net) ((net)->theta)
#elif defined(RP_K_SINGLE)
#define R float
#define RK(name) name##_f
#define RK_GEMM cblas_sgemm
#define RK_GEMV cblas_sgemv
#define RK_SCAL cblas_sscal
#define RK_TANH rp__tanhf
#define RK_RELU rp__reluf
#define RK_RELU_D1 rp__relu_d1f
#define RK_THETA(net) ((net)->theta_f)
#else
#error "define RP_K_DOUBLE or RP_K_SINGLE before including net_kernels.h"
#endif

#define RK_PARAM(net, p) (RK_THETA(net) + (net)->lay.off[p])

/* ---- activations ------------------------------------------------------- */

/* The relu loops (internal.h, rp__relu): restrict parameters, so that gcc
   may pack the four independent elements of RP__EACH4 into vector code
   (a restrict local pointer inside a switch did not suffice for gcc 12). */
static void RK(relu)(const R *restrict s, R *restrict d, size_t n)
{
#define RELU(i) d[i] = RK_RELU(s[i])
    RP__EACH4(n, RELU);
#undef RELU
}

static void RK(relu_d1)(const R *restrict s, R *restrict d, size_t n)
{
#define RELU_D1(i) d[i] = RK_RELU_D1(s[i])
    RP__EACH4(n, RELU_D1);
#undef RELU_D1
}

/* h += g b, f = relu(h) in one pass over a row (the same operations, in the
   same order, as a bias loop then rp__act). */
static void RK(bias_relu)(R *restrict h, R *restrict f, const R *restrict bias, R g, size_t n)
{
#define BIAS_RELU(i)              \
    do {                          \
        R v = h[i] + g * bias[i]; \
        h[i] = v;                 \
        f[i] = RK_RELU(v);        \
    } while (0)
    RP__EACH4(n, BIAS_RELU);
#undef BIAS_RELU
}

/* f = relu(u), r = a r + g f in one pass (the same operations, in the same
   order, as rp__act then the leak loop: the rate form's step). */
static void RK(relu_leak)(const R *restrict u, R *restrict f, R *restrict r, R a, R g, size_t n)
{
#define RELU_LEAK(i)              \
    do {                          \
        R fv = RK_RELU(u[i]);     \
        f[i] = fv;                \
        r[i] = a * r[i] + g * fv; \
    } while (0)
    RP__EACH4(n, RELU_LEAK);
#undef RELU_LEAK
}

void RK(rp__act)(rp_activation a, const R *src, R *dst, size_t n)
{
    switch (a) {
    case RP_ACT_RELU:
        RK(relu)(src, dst, n);
        break;
    case RP_ACT_TANH:
        RK_TANH(src, dst, n);
        break;
    case RP_ACT_LINEAR:
        if (dst != src)
            memcpy(dst, src, n * sizeof *dst);
        break;
    }
}

void RK(rp__act_d1)(rp_activation a, const R *src, R *dst, size_t n)
{
    switch (a) {
    case RP_ACT_RELU:
        RK(relu_d1)(src, dst, n);
        break;
    case RP_ACT_TANH:
        RK_TANH(src, dst, n);
        for (size_t i = 0; i < n; i++)
            dst[i] = (R)1 - dst[i] * dst[i];
        break;
    case RP_ACT_LINEAR:
        for (size_t i = 0; i < n; i++)
            dst[i] = (R)1;
        break;
    }
}

size_t RK(rp__find_nonfinite)(const R *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return i;
    return n;
}

/* ---- dynamics ---------------------------------------------------------- */

/* C (rows x n) = alpha * A (rows x m) * Bm^T (Bm n x m) + beta * C.

   Bit-identical trials: a batch of B trials must give each trial exactly the
   bits of a batch-1 run.  OpenBLAS does not: dgemv (B = 1) and dgemm sum in
   different orders, and dgemm's own edge kernels (a batch that is not a
   multiple of its register block, e.g. 1, 5, 9 rows, or a thread's share of
   one) round differently from its full blocks — measured on OpenBLAS 0.3.21
   (Zen kernels, 1 and 2 threads): ~35 % of the trials of B = 2..100 differed
   from batch-1 runs in the last bits.  Every product therefore runs on whole
   blocks of RP_ROW_BLOCK rows when cfg.batch_invariant is set: the leading multiple of RP_ROW_BLOCK in place,
   the remaining rows copied into a scratch pad and padded with zeros.  With
   blocks of 8 no trial differed (N = 3..1024, B = 1..100, 1 and 2 threads).
   The cost is the padding's flops: B = 1 costs a dgemm of 8 rows instead of
   one dgemv, 4-10x slower at N = 64..1024 (measured), which is why it is an
   option and the default is dgemv for one trial, dgemm otherwise.
   The padding goes to the caller's scratch pad (2*RP_ROW_BLOCK*max(n, m)
   elements), never to the net: a const net is only read. */
static void RK(gemm_nt)(const rp_net *net, size_t rows, size_t n, size_t m, R alpha, const R *A,
                        const R *Bm, R beta, R *C, R *pad)
{
    if (n == 0 || rows == 0)
        return;
    if (m == 0) {
        RK_SCAL((int)(rows * n), beta, C, 1);
        return;
    }
    if (!net->cfg.batch_invariant) {
        if (rows == 1)
            RK_GEMV(CblasRowMajor, CblasNoTrans, (int)n, (int)m, alpha, Bm, (int)m, A, 1, beta, C,
                    1);
        else
            RK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)m, alpha, A,
                    (int)m, Bm, (int)m, beta, C, (int)n);
        return;
    }
    const size_t full = rows - rows % RP_ROW_BLOCK, rest = rows - full;
    if (full)
        RK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)full, (int)n, (int)m, alpha, A,
                (int)m, Bm, (int)m, beta, C, (int)n);
    if (rest) {
        R *pa = pad, *pc = pad + RP_ROW_BLOCK * (n > m ? n : m);
        memcpy(pa, A + full * m, rest * m * sizeof(R));
        memset(pa + rest * m, 0, (RP_ROW_BLOCK - rest) * m * sizeof(R));
        memcpy(pc, C + full * n, rest * n * sizeof(R));
        memset(pc + rest * n, 0, (RP_ROW_BLOCK - rest) * n * sizeof(R));
        RK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, RP_ROW_BLOCK, (int)n, (int)m, alpha, pa,
                (int)m, Bm, (int)m, beta, pc, (int)n);
        memcpy(C + full * n, pc, rest * n * sizeof(R));
    }
}

void RK(rp__forward)(const rp_net *net, size_t rows, const R *x, R *state, R *fx, R *u, R *pad)
{
    const size_t N = net->cfg.n_rec, n_in = net->cfg.n_in;
    const R a = (R)net->cfg.alpha, g = (R)1 - a;
    const R *W = RK_PARAM(net, RP_PARAM_W), *U = RK_PARAM(net, RP_PARAM_U);
    if (net->cfg.form == RP_FORM_VOLTAGE) {
        /* h_t = a h_{t-1} + (1-a)(W f(h_{t-1}) + U x_t + b) */
        RK(gemm_nt)(net, rows, N, N, g, fx, W, a, state, pad);
        if (x && n_in)
            RK(gemm_nt)(net, rows, N, n_in, g, x, U, (R)1, state, pad);
        /* bias and activation in one pass over the state (the same
           operations, in the same order, as a bias loop then rp__act) */
        const R *restrict bias = RK_PARAM(net, RP_PARAM_B);
        for (size_t r = 0; r < rows; r++) {
            R *restrict h = state + r * N, *restrict f = fx + r * N;
            switch (net->cfg.act) {
            case RP_ACT_RELU:
                RK(bias_relu)(h, f, bias, g, N);
                break;
            case RP_ACT_TANH:
                for (size_t i = 0; i < N; i++)
                    h[i] += g * bias[i];
                RK_TANH(h, f, N);
                break;
            default:
                for (size_t i = 0; i < N; i++)
                    h[i] += g * bias[i];
                RK(rp__act)(net->cfg.act, h, f, N);
                break;
            }
        }
    } else {
        /* u_t = W r_{t-1} + U x_t + b;  r_t = a r_{t-1} + (1-a) f(u_t) */
        const R *bias = RK_PARAM(net, RP_PARAM_B);
        for (size_t r = 0; r < rows; r++)
            memcpy(u + r * N, bias, N * sizeof(R));
        RK(gemm_nt)(net, rows, N, N, (R)1, state, W, (R)1, u, pad);
        if (x && n_in)
            RK(gemm_nt)(net, rows, N, n_in, (R)1, x, U, (R)1, u, pad);
        if (net->cfg.act == RP_ACT_RELU) {
            RK(relu_leak)(u, fx, state, a, g, rows * N);
        } else {
            RK(rp__act)(net->cfg.act, u, fx, rows * N);
            for (size_t i = 0; i < rows * N; i++)
                state[i] = a * state[i] + g * fx[i];
        }
    }
}

rp_status RK(rp__check_bound)(const rp_net *net, const R *s, size_t rows, size_t t, char *err)
{
    const double bound = net->state_bound;
    if (bound == 0.0)
        return RP_OK;
    const size_t N = net->cfg.n_rec, n = rows * N;
    for (size_t i = 0; i < n; i++) {
        if (!(fabs((double)s[i]) > bound))
            continue;
        if (t == SIZE_MAX)
            return rp__fail(err, RP_ERR_DIVERGED,
                            "state %g at trial %zu, unit %zu is beyond the bound %g "
                            "(rp_net_set_state_bound)",
                            (double)s[i], i / N, i % N, bound);
        return rp__fail(err, RP_ERR_DIVERGED,
                        "state %g at step %zu, trial %zu, unit %zu is beyond the bound %g "
                        "(rp_net_set_state_bound)",
                        (double)s[i], t, i / N, i % N, bound);
    }
    return RP_OK;
}

void RK(rp__readout)(const rp_net *net, size_t rows, const R *a, R *y, R *pad)
{
    const size_t N = net->cfg.n_rec, n_out = net->cfg.n_out;
    const R *c = RK_PARAM(net, RP_PARAM_C);
    for (size_t r = 0; r < rows; r++)
        memcpy(y + r * n_out, c, n_out * sizeof(R));
    RK(gemm_nt)(net, rows, n_out, N, (R)1, a, RK_PARAM(net, RP_PARAM_V), (R)1, y, pad);
}

#undef R
#undef RK
#undef RK_GEMM
#undef RK_GEMV
#undef RK_SCAL
#undef RK_TANH
#undef RK_RELU
#undef RK_RELU_D1
#undef RK_THETA
#undef RK_PARAM
