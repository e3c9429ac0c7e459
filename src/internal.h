/* Private declarations shared by the files of src/.  Nothing here is exported. */
#ifndef RP_INTERNAL_H
#define RP_INTERNAL_H

#include "rnnplast.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define RP_ERRLEN 256

/* ---- errors (status.c) ------------------------------------------------- */

/* Format a message into a handle's buffer and return st: `return rp__fail(net->err, ...)`. */
rp_status rp__fail(char *buf, rp_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Copy a handle's message to a caller's buffer (msg may be NULL). */
void rp__copy_msg(char *msg, size_t msglen, const char *src);
/* A call without a handle (constructors): format into the caller's msg
   (may be NULL) and return st. */
rp_status rp__fail_msg(char *msg, size_t msglen, rp_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* A successful call on a handle clears its message (rnnplast.h, "Errors"):
   the buffer is not part of the handle's value, so const calls clear it too;
   it is written only when it holds a message. */
#define RP__CLEAR_ERR(h)                  \
    do {                                  \
        if ((h) && (h)->err[0])           \
            ((char *)(h)->err)[0] = '\0'; \
    } while (0)

/* ---- extensible configuration structs (config.c) ---------------------- */

/* The rule of rnnplast.h's "Configuration structs" (openat2/clone3/sched_attr
   style): the caller's struct is cfg->struct_size bytes, ours sizeof(T).
   The 1.0 size of a struct is the end of its last 1.0 field; it never moves,
   so a later field (appended after it, never into trailing padding, with 0
   meaning "as before") cannot turn an old caller away. */
#define RP__END_OF(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define RP__NET_CONFIG_SIZE_1_0 RP__END_OF(rp_net_config, allocator)
#define RP__LYAP_CONFIG_SIZE_1_0 RP__END_OF(rp_lyap_config, seed)
#define RP__FLOSS_CONFIG_SIZE_1_0 RP__END_OF(rp_floss_config, seed)
#define RP__FLOSS_SCHEDULE_SIZE_1_0 RP__END_OF(rp_floss_schedule, beta)
#define RP__TASK_CONFIG_SIZE_1_0 RP__END_OF(rp_task_config, pattern_seed)
/* Larger sizes are refused: a garbage struct_size must not send the
   tail check through memory the caller does not own (the kernel's E2BIG). */
#define RP__CONFIG_SIZE_MAX 4096

/* What the helpers need to know of one struct type. */
typedef struct rp__cfg_type {
    size_t size;      /* sizeof(T) in this build */
    size_t size_1_0;  /* RP__X_SIZE_1_0 */
    const char *init; /* its init call, for messages */
} rp__cfg_type;
#define RP__CFG_TYPE(T, size_1_0, init) \
    {                                   \
        sizeof(T), (size_1_0), (init)   \
    }

/* RP_OK if size is one a caller's struct may have: a multiple of
   _Alignof(size_t) in [size_1_0, RP__CONFIG_SIZE_MAX]; else
   RP_ERR_INVALID_ARG naming `what` (e.g. "cfg->struct_size"). */
rp_status rp__cfg_size(const rp__cfg_type *ty, size_t size, const char *what, char *err);
/* rp_X_config_init: the defaults (ty->size bytes) into the common part of
   the caller's size bytes, zeros after, struct_size = size. */
rp_status rp__cfg_init(const rp__cfg_type *ty, void *cfg, size_t size, const void *defaults,
                       char *err);
/* Read a caller's struct into dst, which holds the defaults: the common part
   is copied, the rest keeps the defaults, and a non-zero byte past ty->size
   is refused.  dst->struct_size = ty->size.  dst is unchanged on failure. */
rp_status rp__cfg_read(const rp__cfg_type *ty, void *dst, const void *src, const char *arg,
                       char *err);
/* A getter: own (ty->size bytes) into the caller's size bytes, zeros past
   ty->size, struct_size = min(size, ty->size).  Nothing written on failure. */
rp_status rp__cfg_get(const rp__cfg_type *ty, void *dst, size_t size, const void *own, char *err);

/* ---- memory ------------------------------------------------------------ */

/* n*size zeroed bytes from the handle's allocator a (NULL, or NULL functions:
   calloc), with an overflow check on n*size; NULL on failure.  n*size == 0
   gives a 1-byte block. */
void *rp__calloc(const rp_allocator *a, size_t n, size_t size);
/* Return p (NULL is a no-op) to the allocator it came from. */
void rp__free(const rp_allocator *a, void *p);
/* A handle's copy of a caller's allocator (NULL: the C library's, all zero);
   RP_ERR_INVALID_ARG (message into err, may be NULL) when exactly one
   function is NULL. */
rp_status rp__allocator_copy(rp_allocator *dst, const rp_allocator *src, char *err);
/* n*m without overflow; 0 and *ok = 0 on overflow. */
size_t rp__mul(size_t n, size_t m, int *ok);

/* ---- random numbers (rng.c): xoshiro256**, seeded by splitmix64 -------- */

typedef struct rp_rng {
    uint64_t s[4];
    int has_spare; /* Box-Muller produces pairs */
    double spare;
} rp_rng;

void rp__rng_seed(rp_rng *r, uint64_t seed);
uint64_t rp__rng_u64(rp_rng *r);
double rp__rng_uniform(rp_rng *r); /* in [0, 1) with 53 random bits */
double rp__rng_normal(rp_rng *r);  /* N(0, 1) */
/* A second, independent stream from one seed and a tag (e.g. per parameter). */
uint64_t rp__seed_mix(uint64_t seed, uint64_t tag);

/* ---- activations (net.c) ----------------------------------------------- */

/* dst[i] = f(src[i]); f'(src[i]); f''(src[i]).  relu'(0) = 0.  src and dst
   are distinct arrays (every element-wise kernel reads one and writes another). */
void rp__act(rp_activation a, const double *src, double *dst, size_t n);
void rp__act_d1(rp_activation a, const double *src, double *dst, size_t n);
void rp__act_d2(rp_activation a, const double *src, double *dst, size_t n);

/* dst[i] = tanh(src[i]), i < n (tanh.c): SLEEF's u10 functions, within
   1.0 ulp of the exact result; src == dst is allowed (no other overlap).
   Every tanh of the library goes through these.  On x86-64 they use AVX2+FMA
   when the CPU has both, else SSE2 (the last bits may differ between the
   two); rp__tanh_path(0, ...) forces SSE2 and rp__tanh_has_avx2 tells
   whether path 1 is AVX2 (tests; always 0 off x86-64). */
void rp__tanh(const double *src, double *dst, size_t n);
void rp__tanhf(const float *src, float *dst, size_t n);
int rp__tanh_has_avx2(void);
void rp__tanh_path(int avx2, const double *src, double *dst, size_t n);
void rp__tanhf_path(int avx2, const float *src, float *dst, size_t n);

/* relu(v) = v > 0 ? v : +0 and relu'(v) = [v > 0], the defining expressions:
   NaN and -0 give +0.  Loops over them go through RP__EACH4, whose body of
   four independent elements gcc -O2 turns into compare-and-mask vector code
   (cmpltpd/andpd; clang: maxpd, whose operand order gives the same bits) and
   not a compare and jump per element, which mispredicts on the random signs of
   a network's units (issue 15: 40 % of a relu forward).  gcc -O2's loop
   vectorizer refuses loops of unknown length, hence the explicit body of four;
   the same expressions in the same order, so every value keeps its bits
   (tests/test_net.c "activation kernels" checks them against the expressions). */
static inline double rp__relu(double v) { return v > 0.0 ? v : 0.0; }
static inline double rp__relu_d1(double v) { return v > 0.0 ? 1.0 : 0.0; }
/* The same expressions in float, for the nets of RP_PRECISION_SINGLE. */
static inline float rp__reluf(float v) { return v > 0.0f ? v : 0.0f; }
static inline float rp__relu_d1f(float v) { return v > 0.0f ? 1.0f : 0.0f; }

/* BODY(i) for i = 0 .. n-1, four at a time, then the remainder.  BODY is a
   function-like macro of the index; the elements must be independent. */
#define RP__EACH4(n, BODY)                       \
    do {                                         \
        const size_t rp_n_ = (n);                \
        size_t rp_i_ = 0;                        \
        for (; rp_i_ + 4 <= rp_n_; rp_i_ += 4) { \
            BODY(rp_i_);                         \
            BODY(rp_i_ + 1);                     \
            BODY(rp_i_ + 2);                     \
            BODY(rp_i_ + 3);                     \
        }                                        \
        for (; rp_i_ < rp_n_; rp_i_++)           \
            BODY(rp_i_);                         \
    } while (0)

/* ---- the network ------------------------------------------------------- */

/* Offsets of each parameter in one flat vector: W, U, b, V, c (the same layout
   in rp_net.theta and rp_grad.v, so optimizers and norms work on one array). */
typedef struct rp_layout {
    size_t off[RP_PARAM_COUNT];
    size_t len[RP_PARAM_COUNT];
    size_t total;
} rp_layout;

void rp__layout(rp_layout *lay, size_t n_in, size_t n_rec, size_t n_out);
/* "W", "U", "b", "V", "c" (net.c; p must be valid). */
const char *rp__param_name(rp_param p);

struct rp_net {
    rp_net_config cfg; /* cfg.batch is the current batch */
    rp_layout lay;
    double *theta;             /* all parameters, lay.total doubles */
    double *W, *U, *b, *V, *c; /* views into theta */
    double *h0;                /* initial state, n_rec */
    double *state;             /* B*n_rec: h (voltage) or r (rate) */
    double *fx;                /* B*n_rec: f(h) of the current state (voltage); f(u_t) (rate) */
    double *u;                 /* B*n_rec: u_t of the last step (rate form) */
    double *save;              /* B*n_rec: the state before a step, to undo a non-finite one */
    double *save_fx;           /* B*n_rec */
    double *save_u;            /* B*n_rec */
    double *pad;               /* rp__pad_len: the padding scratch of rp_net_step/run's own
                           products (other handles own theirs) */
    double *last_x;            /* B*n_in: the input of the last step (rp_rule_step checks it) */
    /* Counts changes of the live state: +1 a step, +RP__SERIAL_SET a state
       set or reset, so an online rule sees whether exactly one step ran
       since its last one (rp_rule_step, RP_ERR_STATE otherwise). */
    uint64_t serial;
    /* Counts changes of the parameters: +1 for every call that writes theta
       (rp__param_changed), so that a rule caching something derived from
       them (ModProp's W-bar) tells in O(1) whether they moved.  Keyed with
       the handle: a new or cloned net is another handle. */
    uint64_t param_serial;
    rp_rng rng;
    double state_bound; /* rp_net_set_state_bound; 0 = off */
    char err[RP_ERRLEN];
    rp_allocator al; /* cfg.allocator points here (or is NULL: all zero) */
    /* RP_PRECISION_SINGLE only (NULL otherwise).  theta, h0, state, fx and
       u stay the public double view, and hold float values only (every
       write rounds: rp__param_changed, set_state, set_initial_state, and a
       run converts its float results back), so the initializers, the
       optimizer, the gradients and the getters work on them unchanged; the
       kernels of net_single.c read and write the float arrays below. */
    float *theta_f;           /* lay.total: theta in float (rp__param_f) */
    float *st_f, *fx_f, *u_f; /* B*n_rec each: a run's live state */
    float *x_f, *y_f;         /* B*n_in, B*n_out: a step's input and output */
    float *pad_f;             /* rp__pad_len floats: the padding of the float products */
};

#define RP__SERIAL_SET 2 /* rp_net.serial: any change of the state but a step */

/* With cfg.batch_invariant, every matrix product over trials runs on blocks of
   this many rows (padded), so that a trial's result does not depend on the
   batch size (net.c gemm_nt). */
#define RP_ROW_BLOCK 8

/* Doubles of padding scratch that rp__forward and rp__readout need for nets
   of these dimensions: the rows of a product that do not fill a block of
   RP_ROW_BLOCK (net.c gemm_nt).  Every handle that runs a const net owns one,
   sized at create, so that reading a net never writes to it and any number
   of handles can share it across threads. */
static inline size_t rp__pad_len(size_t n_in, size_t n_rec, size_t n_out)
{
    size_t w = n_rec > n_in ? n_rec : n_in;
    return 2 * RP_ROW_BLOCK * (w > n_out ? w : n_out);
}

/* Parameter by index, const and not. */
static inline double *rp__param(rp_net *net, rp_param p) { return net->theta + net->lay.off[p]; }
/* Every write to a net's parameters (theta) after its creation calls this:
   rp_net_set_param, rp_init_apply, rp_optim_step. */
void rp__param_sync_single(rp_net *net); /* net.c: theta rounded to float, into theta_f */
static inline void rp__param_changed(rp_net *net)
{
    net->param_serial++;
    if (net->theta_f)
        rp__param_sync_single(net);
}
static inline const float *rp__param_f(const rp_net *net, rp_param p)
{
    return net->theta_f + net->lay.off[p];
}
static inline const double *rp__cparam(const rp_net *net, rp_param p)
{
    return net->theta + net->lay.off[p];
}

/* One step of the dynamics (MODEL.md §1) for `rows` trials, on caller buffers,
   without noise and without checks; the shared kernel of rp_net_step and of
   every rule's and estimator's forward pass.
     voltage: in: state (h_{t-1}), fx = f(h_{t-1}); out: state = h_t, fx = f(h_t).
     rate:    in: state (r_{t-1}); out: u = u_t (pre-activation), fx = f(u_t), state = r_t.
   x is rows*n_in (NULL = zero input); u is unused by the voltage form.
   pad: the caller's rp__pad_len(n_in, n_rec, 0) doubles (the net is only read). */
void rp__forward(const rp_net *net, size_t rows, const double *x, double *state, double *fx,
                 double *u, double *pad);

/* The divergence guard of rp_net_set_state_bound on a rows x n_rec state s
   just computed at step t (SIZE_MAX: a single step, not named): RP_OK, or RP_ERR_DIVERGED naming the first entry
   beyond the bound (in err).  Bound 0 reads nothing, so a net without a
   bound runs bit-identically.  NaN is left to the callers' non-finite checks. */
rp_status rp__check_bound(const rp_net *net, const double *s, size_t rows, size_t t, char *err);

/* Outputs y = V a + c for rows trials, a = f(h) (voltage) or r (rate);
   pad: rp__pad_len(0, n_rec, n_out) doubles of the caller's. */
void rp__readout(const rp_net *net, size_t rows, const double *a, double *y, double *pad);

/* Q_out = D_t Q (MODEL.md §1), Q and Q_out n_rec x k row-major, without forming D_t.
   dprime: f'(h_{t-1}) (voltage) or f'(u_t) (rate), n_rec entries.
   work: n_rec*k doubles (used by the voltage form).  Q_out must not alias Q.
   lyap_kernels.h (lyap.c) holds it and its float instance _f (on theta_f). */
void rp__jacobian_apply(const rp_net *net, const double *dprime, const double *Q, size_t k,
                        double *Q_out, double *work);
void rp__jacobian_apply_f(const rp_net *net, const float *dprime, const float *Q, size_t k,
                          float *Q_out, float *work);

/* Collapse of a tangent direction in a thin QR (qr.c; MODEL.md §6 and the
   header's rp_lyap "Collapse").  rdiag[j * rs] is R_jj >= 0 of the QR of the
   n x k row-major block Y.  A column collapsed when R_jj <= RP__COLLAPSE_TOL
   n eps |Y_j| (zero to working precision).  If none did, returns 0 and writes
   only Y2[0..k).  Otherwise: src (k entries) receives the order of the
   columns, the kept ones first, then the collapsed ones, each group in its own
   order; Y2 (n x k row-major, not aliasing Y) receives the kept columns of Y
   in that order followed by N(0,1) columns drawn from rng; the return value
   is the number of collapsed columns.  The QR of Y2 measures each kept
   direction against the kept ones before it only, and refills the collapsed
   ones with random directions orthogonal to the kept ones. */
#define RP__REFILL_TAG 0x726566696c6cULL /* "refill": rp__seed_mix tag of the refill stream */
#define RP__COLLAPSE_TOL 8.0 /* collapse: R_jj <= 8 n eps |Y_j| (qr.c, rp__tangent_refill) */
size_t rp__tangent_refill(size_t n, size_t k, const double *Y, const double *rdiag, size_t rs,
                          rp_rng *rng, double *Y2, size_t *src);

/* First non-finite entry of a[0..n), or n if all are finite. */
size_t rp__find_nonfinite(const double *a, size_t n);

/* The float instances of the kernels above (net_kernels.h compiled by
   net_single.c): the same contracts, on a single-precision net's theta_f
   and float buffers. */
void rp__act_f(rp_activation a, const float *src, float *dst, size_t n);
void rp__act_d1_f(rp_activation a, const float *src, float *dst, size_t n);
size_t rp__find_nonfinite_f(const float *a, size_t n);
void rp__forward_f(const rp_net *net, size_t rows, const float *x, float *state, float *fx,
                   float *u, float *pad);
rp_status rp__check_bound_f(const rp_net *net, const float *s, size_t rows, size_t t, char *err);
void rp__readout_f(const rp_net *net, size_t rows, const float *a, float *y, float *pad);
/* dst[i] = (float)src[i], and back (exact). */
void rp__to_f(const double *src, float *dst, size_t n);
void rp__from_f(const float *src, double *dst, size_t n);

/* rp_net_save() as if the file system had no O_TMPFILE (io.c), so that the
   tests reach the fallback of rp__atomic_write on any file system. */
rp_status rp__net_save_fixed(const rp_net *net, const char *path);

/* ---- gradients --------------------------------------------------------- */

struct rp_grad {
    size_t n_in, n_rec, n_out;
    rp_layout lay;
    double *v; /* lay.total doubles */
    char err[RP_ERRLEN];
    rp_allocator al; /* the net's */
};

static inline double *rp__gblock(rp_grad *g, rp_param p) { return g->v + g->lay.off[p]; }

/* 1 if g has net's parameter dimensions. */
int rp__grad_matches(const rp_grad *g, const rp_net *net);

/* ---- learning rules (rule.c dispatches; rule_*.c implement) ------------ */

/* What a rule kind implements.  rule.c checks every argument first, so these
   trust their inputs; `trial` writes its estimate into rule->scratch (zeroed
   by rule.c) and rule.c adds it into the caller's grad only on success. */
typedef struct rp_rule_ops {
    /* Make workspaces fit T steps (called with the largest T seen so far). */
    rp_status (*reserve)(rp_rule *rule, size_t T);
    rp_status (*trial)(rp_rule *rule, const rp_net *net, size_t T, const double *x,
                       const double *target, const double *mask, double *loss);
    /* Online mode (NULL: RP_ERR_UNSUPPORTED).  step adds into grad->v directly
       and returns the step's loss through *loss. */
    rp_status (*begin)(rp_rule *rule, const rp_net *net);
    rp_status (*step)(rp_rule *rule, const rp_net *net, const double *x_t, const double *target_t,
                      const double *mask_t, rp_grad *grad, double *loss);
    /* Inside a stream: pointers to the arrays that carry it from one step to
       the next, in the order and of the lengths rp__rule_stream_layout gives
       (NULL: no online mode). */
    void (*stream)(rp_rule *rule, double **arr);
    /* Single-precision rules: the arrays of the layout held in float (the
       others, NULL here, come from stream).  NULL: every array is double. */
    void (*stream_f)(rp_rule *rule, float **arr);
    /* The online block (rp_rule_set_online_block; NULL: K = 1 only).  block
       sizes the buffers for K ticks (K = 1 frees them; on failure nothing
       changes); flush adds the rule->o_pending stored ticks into grad->v. */
    rp_status (*block)(rp_rule *rule, size_t K);
    void (*flush)(rp_rule *rule, rp_grad *grad);
    void (*destroy)(rp_rule *rule); /* frees rule->impl */
} rp_rule_ops;

struct rp_rule {
    rp_rule_kind kind;
    size_t n_in, n_rec, n_out, batch;
    rp_form form;
    rp_activation act;
    rp_precision precision; /* the net's: a rule runs on nets of its own precision only */
    rp_layout lay;
    rp_loss loss;
    rp_feedback fb_kind; /* e-prop / RFLO */
    int fb_custom;       /* fb holds a caller-supplied matrix */
    double *fb;          /* n_rec x n_out: the fixed feedback (random or custom) */
    size_t K;            /* TBPTT window */
    size_t T_cap;        /* workspaces fit this many steps */
    double *scratch;     /* lay.total: a trial's estimate before it is added */
    double *pad;         /* rp__pad_len: the rule's own padding of the net's products */
    int streaming;       /* between rp_rule_begin and rp_rule_end */
    double stream_loss;
    size_t stream_steps;
    uint64_t net_serial;   /* the net's serial at the stream's last step or begin */
    int serial_known;      /* 0 after a checkpoint load: the next step is not checked */
    size_t o_block;        /* online block K (rp_rule_set_online_block): 1 adds every tick */
    size_t o_pending;      /* ticks stored in the block, not yet added into a grad */
    const rp_grad *o_grad; /* the grad the pending ticks' rp_rule_step named (compared only) */
    const rp_rule_ops *ops;
    void *impl;             /* the kind's own workspaces */
    struct rp__modprop *mp; /* ModProp's cell types, mu and filter (rule_modprop.c) */
    char err[RP_ERRLEN];
    rp_allocator al; /* the net's: rule, impl and every workspace */
};

/* Each kind's constructor sets rule->ops and rule->impl (workspaces for T = 0
   steps; reserve grows them).  rule_bptt.c: BPTT and TBPTT; rule_rtrl.c;
   rule_eprop.c: e-prop and RFLO. */
rp_status rp__bptt_init(rp_rule *rule, const rp_net *net);
/* 1 if rules of this kind run on a net of RP_PRECISION_SINGLE (rule.c). */
int rp__single_rule(rp_rule_kind kind);
rp_status rp__rtrl_init(rp_rule *rule, const rp_net *net);
rp_status rp__eprop_init(rp_rule *rule, const rp_net *net);

/* rule_modprop.c: ModProp (MODEL.md §4.7) is e-prop (rule_eprop.c runs it)
   plus the non-local part, carried by K cell-type modulators.  These trust
   their arguments (rule.c checks them) and change nothing on failure. */
typedef struct rp__modprop {
    double mu;       /* the constant replacing f' before W (rp_rule_set_modprop_mu) */
    size_t K;        /* number of types: max type + 1 */
    unsigned *types; /* n_rec: type of each unit, 0..K-1 */
    size_t *count;   /* K: units of each type (the diagonal of Pi^T Pi) */
    double *A;       /* K x K: the block means of W (W-bar = Pi A Pi^T) */
    double *F;       /* K x K: the modulator filter, alpha I + (1-alpha) mu A diag(count) */
    double *G;       /* K x K: its input, (1-alpha) mu A */
    double *colsum;  /* K x n_rec: Pi^T W, scratch of the block means */
    double *vec;     /* B*(3K): Delta, rho and a new filter state, per batch row */
    double *ew;      /* (B + K) x (n_rec + n_in + 1), voltage online: the traces eps_t of
                        each row, then the credit of each type (wsum) */
    double *wsum;    /* = ew + B (n_rec + n_in + 1) */
    double *lp;      /* n_rec x (B + K), voltage online: [delta_1 .. delta_B | Pi] */
    double *state;   /* the online filter state (rp__modprop_stream_len doubles), at begin */
    size_t state_K;  /* K that state is sized for (0: none) */
    /* online: the net, its parameter version (rp_net.param_serial) and alpha
       that A, F, G were taken from */
    const rp_net *w_net;
    uint64_t w_serial;
    double w_alpha;
    int w_valid; /* w_net, w_serial, w_alpha hold them (0 at begin) */
} rp__modprop;

/* Default mu (rnnplast.h, rp_rule_set_modprop_mu). */
#define RP__MODPROP_MU 0.5
rp_status rp__modprop_create(rp_rule *rule);
void rp__modprop_free(rp_rule *rule);
/* Replace the cell types (checked: each < n_rec); K = max + 1. */
rp_status rp__modprop_set_types(rp_rule *rule, const unsigned *types);
/* Size the workspaces for K types, the types themselves left as they are
   (a checkpoint's load fills them after the stream is opened, then calls
   rp__modprop_set_types on them). */
rp_status rp__modprop_size(rp_rule *rule, size_t K);
/* Per trial: the learning signals delta_t (T*B rows of n_rec, §4.7's delta:
   f'(h_t) (.) L_t or L_t) become delta_t + Pi kappa_t, the credit of the
   non-local part (a backward filter of the K modulators over the trial). */
void rp__modprop_trial(rp_rule *rule, const rp_net *net, size_t T, double *delta);
/* Online: zero (and at the first stream, allocate) the filter state. */
rp_status rp__modprop_begin(rp_rule *rule);
/* Online, one step: advance the filter with the traces of the step before
   (eps, eps_x, eps_b of each row, the voltage form; P, P_U, P_b the rate
   form's).  The rate form adds the non-local credit of delta (B x n_rec)
   into the grad's W, U, b blocks here; the voltage form keeps it for
   rp__modprop_voltage_grad.  Call before the traces advance. */
void rp__modprop_step(rp_rule *rule, const rp_net *net, const double *delta, const double *eps,
                      const double *eps_x, const double *eps_b, double *GW, double *GU, double *Gb);
/* Voltage form, after the traces advanced to eps_t: the whole step's W, U,
   b gradient, e-prop's delta eps_t^T and the credit Pi wsum, as one GEMM of
   inner size B + K (the credit costs no pass of its own over G).  Returns 0
   (nothing done: mu = 0, e-prop's own products apply) or 1. */
int rp__modprop_voltage_grad(rp_rule *rule, const double *delta, const double *eps,
                             const double *eps_x, double eps_b, double *GW, double *GU, double *Gb);
/* The same three on a single-precision net's float signals and traces
   (modprop_kernels.h: the filter, its state and the credit stay double). */
void rp__modprop_trial_f(rp_rule *rule, const rp_net *net, size_t T, float *delta);
void rp__modprop_step_f(rp_rule *rule, const rp_net *net, const float *delta, const float *eps,
                        const float *eps_x, const float *eps_b, double *GW, double *GU, double *Gb);
int rp__modprop_voltage_grad_f(rp_rule *rule, const float *delta, const float *eps,
                               const float *eps_x, float eps_b, double *GW, double *GU, double *Gb);
/* Length in doubles of the online filter state (*ok = 0 on overflow). */
uint64_t rp__modprop_stream_len(rp_form form, uint64_t batch, uint64_t n_in, uint64_t n_rec,
                                uint64_t K, int *ok);

/* loss.c: MODEL.md §3 for `rows` trials at one step: writes e = scale * m * dloss/dy
   (rows x n_out) and returns scale * sum_b m_b loss_b.  target: rows x n_out
   (MSE) or rows class indices (CE); mask NULL means ones.  For the per-trial
   loss scale = 1/(B T); online, 1/B. */
double rp__loss_error(rp_loss loss, size_t rows, size_t n_out, const double *y,
                      const double *target, const double *mask, double scale, double *e);

/* rule_eprop.c: the feedback matrix in use, n_rec x n_out: rule->fb, or V^T written into buf. */
const double *rp__feedback(const rp_rule *rule, const rp_net *net, double *buf);

/* ---- checkpoints (checkpoint.c reads and writes optim.c's private state) */

/* An optimizer's complete state.  From rp__optim_get_state the arrays point
   into the optimizer (lay.total entries each; con holds the codes below). */
typedef struct rp__optim_state {
    rp_optim_kind kind;
    size_t n_in, n_rec, n_out;
    double lr, momentum, beta1, beta2, eps, clip, decay;
    int trainable[RP_PARAM_COUNT], has_structure[RP_PARAM_COUNT];
    uint64_t t;
    unsigned char *con;
    double *m, *v;
} rp__optim_state;

/* Largest structural constraint code (0 free, 1 zero, 2 >= 0, 3 <= 0). */
#define RP__OPTIM_CON_MAX 3

void rp__optim_get_state(const rp_optim *opt, rp__optim_state *s);
/* RP_ERR_FORMAT with a message unless kind, hyper-parameters and flags are
   values the public setters accept. */
rp_status rp__optim_check_scalars(const rp__optim_state *s, char *err);
/* Set everything but kind, dimensions and arrays (after the check above). */
void rp__optim_set_scalars(rp_optim *opt, const rp__optim_state *s);

/* ---- rule state (rule.c; checkpoint.c saves and restores it) ---------- */

/* Most arrays an online stream carries (rp__rule_stream_layout). */
#define RP__RULE_STREAM_MAX 5

/* The arrays an online stream of `kind` carries between steps, in checkpoint
   order: their count (0: no online mode), lengths in doubles and names.  The
   one description of that layout: the writer, the loader (from a file's
   dimensions, before a rule exists) and the kinds' ops->stream follow it.
   n_types is ModProp's K (ignored by the other kinds).  The dimensions may
   come from a hostile file: *ok = 0 when a length overflows 64 bits. */
size_t rp__rule_stream_layout(rp_rule_kind kind, rp_form form, uint64_t batch, uint64_t n_in,
                              uint64_t n_rec, uint64_t n_types, uint64_t len[RP__RULE_STREAM_MAX],
                              const char *name[RP__RULE_STREAM_MAX], int *ok);

/* A rule's complete state: configuration, and the online stream when one
   is open.  From rp__rule_get_state the arrays point into the rule. */
typedef struct rp__rule_state {
    rp_rule_kind kind;
    size_t n_in, n_rec, n_out, batch;
    rp_form form;
    rp_activation act;
    rp_loss loss;
    rp_feedback fb_kind;
    int fb_custom;
    uint64_t K;
    double *fb; /* n_rec x n_out */
    double mu;  /* ModProp: mu, and the cell types (n_rec of them) and K */
    unsigned *types;
    uint64_t n_types;
    int streaming;      /* between rp_rule_begin and rp_rule_end */
    uint64_t steps;     /* the stream's position: rp_rule_step calls so far */
    double stream_loss; /* the sum of their losses (rp_rule_end's mean) */
    size_t pending;     /* ticks of the online block not yet in a grad (never saved) */
    size_t n_arrays;
    uint64_t len[RP__RULE_STREAM_MAX];
    double *arr[RP__RULE_STREAM_MAX];
    /* non-NULL: array i is held in float here (arr[i] NULL); a checkpoint
       stores it widened to double, exactly, and rounds it back on load */
    float *arr_f[RP__RULE_STREAM_MAX];
} rp__rule_state;

void rp__rule_get_state(const rp_rule *rule, rp__rule_state *s);
/* rp_rule_kind_name(), "unknown" out of range (for messages). */
const char *rp__rule_kind_name(rp_rule_kind kind);
/* RP_ERR_FORMAT with a message unless kind, loss, feedback, K and the
   stream's scalars are values the public calls can produce for a net with
   n_out outputs. */
rp_status rp__rule_check_scalars(const rp__rule_state *s, size_t n_out, char *err);
/* Open a stream on net (rp_rule_begin), so that every array of it exists
   to be filled; the scalars follow with rp__rule_set_scalars. */
rp_status rp__rule_open_stream(rp_rule *rule, const rp_net *net);
/* Set loss, feedback kind and flag, K, and the open stream's position and
   loss (after the check above; the arrays are filled through get_state). */
void rp__rule_set_scalars(rp_rule *rule, const rp__rule_state *s);

#endif /* RP_INTERNAL_H */
