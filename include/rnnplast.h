/**
 * @file rnnplast.h
 * @brief librnnplast — recurrent networks trained by biologically plausible,
 *        local learning rules.
 *
 * This header is the whole public interface and its specification.  The
 * mathematics it implements is fixed in MODEL.md (the section cited by each
 * call); the conventions below hold for every call.
 *
 * - Every fallible call returns ::rp_status (#RP_OK == 0), is marked
 *   `RP_NODISCARD` (the compiler warns when a status is ignored), and
 *   delivers results through out-parameters.  On failure nothing the caller
 *   owns is written and the handle is left exactly as it was (but for its
 *   message).
 * - Errors: every call reports its detail in exactly one place.
 *   - A call on a handle (its first parameter: the `rp_net_*` calls on an ::rp_net, and so on) writes
 *     the handle's message, read with `rp_X_last_error()`: on failure it names
 *     the offending argument and the value that was expected; a successful
 *     call on the handle clears it to "".  The message is not part of the
 *     handle's value: a call that only reads a handle takes it `const` and
 *     still records its failure there.
 *   - A call without a handle of its own — every constructor (`create`,
 *     `clone`, `load`), the configuration checks, rp_lyap_max_direct(), the
 *     `.npy` and checkpoint calls — takes `char *msg, size_t msglen` as its
 *     last two parameters: the message on failure, "" on success (@p msg
 *     may be NULL).  A handle passed to such a call, or any `const` handle
 *     passed to another handle's call, is only read: its message is untouched.
 * - Names: `rp_X_create` builds a handle, `rp_X_free` frees it; a suffix
 *   `_alloc` means "allocating through a caller's ::rp_allocator", given as
 *   the parameter just before `msg` (rp_net_load_alloc(),
 *   rp_init_create_alloc(), rp_task_create_alloc(),
 *   rp_checkpoint_load_alloc()); there is no other suffix.  A call that copies
 *   values out of a handle without changing it is `rp_X_get_Y` (and its
 *   setter `rp_X_set_Y`); `rp_X_kind_name` names an enum value.
 * - Parameter order: the handle first (for a constructor, the `out` pointer
 *   that receives it); then the inputs, then further outputs; `msg, msglen`
 *   last.  A file call names what it writes or reads before the path:
 *   rp_net_save(net, path), rp_checkpoint_save(net, opt, rule, path, ...),
 *   rp_net_load(out, path, ...), rp_checkpoint_load(net_out, opt_out,
 *   rule_out, path, ...); the `.npy` calls with no handle take the path first.
 * - Foreign-function tools: compiled with `-DRP_CDEF` and preprocessed
 *   (`cc -E -P -DRP_CDEF rnnplast.h`), the header has no system includes and
 *   no attributes: Python's `cffi.FFI().cdef()` parses it.  `make` writes and
 *   `make install` installs that file as `rnnplast_cdef.h`, with the integer
 *   constants (`#define RP_PARAM_COUNT 5`, ...) appended.
 * - Handles are opaque; `rp_X_free(NULL)` is a no-op.
 * - Arrays are row-major `double`.  A batch of B rows of length n is `B*n`
 *   doubles; a sequence is `T*B*n` doubles with time outermost.
 * - The library never aborts, never prints and keeps no global mutable state.
 *   A handle is used by one thread at a time; different handles may be used
 *   from different threads concurrently.  A `const rp_net *` passed to
 *   another handle's call (rules, Lyapunov, flossing, gradients, the
 *   optimizer's create and set_structure) is only read, never written — each handle owns
 *   its scratch (the padding of rp_net_config.batch_invariant products
 *   included) and its message, and a call without a handle
 *   (rp_lyap_create(), rp_lyap_max_direct()) reports into its @p msg —
 *   so any number of threads may share one net through such calls, with
 *   results bit-identical to a serial run, as long as no thread changes
 *   the net meanwhile.  (The net's own rp_net_* calls use it as their
 *   handle: a failing one writes its message.)  All randomness comes from seeds the
 *   caller gives, so the same seeds (and BLAS thread count) reproduce results
 *   bit for bit.
 * - Threads: the library starts none of its own; all parallelism is
 *   OpenBLAS's, and the caller sets it: `OPENBLAS_NUM_THREADS=n` in the
 *   environment, or `openblas_set_num_threads(n)` before the first call.  The
 *   library never changes it.  Never oversubscribe: (threads of your own that
 *   call the library at once) x (OpenBLAS threads) <= cores; with one handle
 *   per thread of your own, set OpenBLAS to 1 thread.  Small nets, small
 *   batches and online steps (n_rec <= ~256, batch <= ~32) run fastest with
 *   1 thread (OpenBLAS splits even a 128 x 128 dgemv over its threads, which
 *   costs more than it gains); large batched trials (n_rec >= 512,
 *   batch >= 64) gain from all cores on an otherwise idle machine.  Results
 *   are reproducible for a fixed thread count.  docs/PERFORMANCE.md has the
 *   measured figures for 1 and 2 threads.
 * - Calls documented as "allocates nothing" (the step, run and trial calls)
 *   are the hot paths: every buffer they need is sized by the constructor.
 * - Configuration structs grow (the convention of the kernel's openat2,
 *   clone3 and sched_attr): ::rp_net_config, ::rp_lyap_config,
 *   ::rp_floss_config, ::rp_floss_schedule and ::rp_task_config begin with
 *   `size_t struct_size`, and a later version only appends fields, whose
 *   value 0 keeps the earlier behaviour.  Fill one with its init call,
 *   e.g. `rp_net_config_init(&cfg, sizeof cfg)`, then edit it: the call
 *   writes the defaults into the part both the caller and the library know,
 *   zeroes the rest of the caller's `sizeof cfg` bytes and sets
 *   `struct_size = sizeof cfg`.  (No call returns a struct by value: a
 *   grown struct would overflow an older caller's.)  Every call that reads
 *   a configuration accepts any struct_size that is a multiple of
 *   `_Alignof(size_t)`, at least the struct's size in 1.0 and at most 4096;
 *   it reads only the caller's part and gives the fields beyond it their
 *   defaults, and refuses (#RP_ERR_INVALID_ARG, naming the first non-zero
 *   byte) a struct larger than the library's own whose unknown tail is not
 *   all zero.  A getter (rp_net_get_config(), rp_task_get_config()) takes the
 *   caller's size and writes exactly that many bytes: the common part, zeros
 *   past the library's own struct, and struct_size = the smaller of the two
 *   sizes, which tells the caller how much was filled.  So a program built
 *   against 1.0 runs unchanged with a later library, and a program built
 *   against a later header runs with 1.0 as long as it leaves the fields 1.0
 *   does not have at zero (which 1.0's init call does).  The init and getter
 *   calls return #RP_ERR_INVALID_ARG for a NULL struct or a size outside
 *   these rules, writing nothing.
 */
#ifndef RNNPLAST_H
#define RNNPLAST_H

/* RP_CDEF: the declarations alone, for foreign-function tools (Python's
   cffi cdef): no system headers (they know size_t and uint64_t) and no
   attributes.  `make` writes build/rnnplast_cdef.h from it and installs it. */
#ifndef RP_CDEF
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
/* tests/config_abi.sh builds the library or a caller with -DRP_TEST_GROWN:
   each configuration struct then ends with one more field, as a later
   version's would, whose default is RP_TEST_GROWN_DEFAULT. */
#ifdef RP_TEST_GROWN
#define RP_TEST_GROWN_DEFAULT 0.25
#endif
#if defined(RP_CDEF)
#define RP_API
#define RP_NODISCARD
#elif defined(__GNUC__) || defined(__clang__)
#define RP_API __attribute__((visibility("default")))
#define RP_NODISCARD __attribute__((warn_unused_result))
#else
#define RP_API
#define RP_NODISCARD
#endif
/** @endcond */

/* ======================================================================== */
/** @defgroup grp_version Version
 *  The Makefile reads these three numbers: they are the one source of truth
 *  (the soname is librnnplast.so.MAJOR).  Within one MAJOR the ABI only grows:
 *  a program built against 1.x runs with every later 1.y; `make abi-check`
 *  enforces it against the committed 1.0 baseline (policy: docs/CHANGES.md).
 *  @{ */
/* ======================================================================== */

#define RP_VERSION_MAJOR 1 /**< Bumped on an ABI break. */
#define RP_VERSION_MINOR 2 /**< Bumped when calls are added. */
#define RP_VERSION_PATCH 0 /**< Bumped on fixes. */
/** The version as one number: MAJOR*10000 + MINOR*100 + PATCH. */
#define RP_VERSION_NUMBER (RP_VERSION_MAJOR * 10000 + RP_VERSION_MINOR * 100 + RP_VERSION_PATCH)

/** @return #RP_VERSION_NUMBER of the library actually linked. */
RP_API unsigned rp_version_number(void);
/** @return the linked library's version as static text, e.g. "1.0.0". */
RP_API const char *rp_version_string(void);
/** @} */

/* ======================================================================== */
/** @defgroup grp_status Status codes
 *  @{ */
/* ======================================================================== */

/**
 * The status table: one line per code, (name, value, text).  The enum and
 * rp_status_string() are both generated from it, so they cannot drift apart.
 * Codes are never renumbered; new ones are appended.
 */
#define RP_STATUS_TABLE(X)                                                     \
    X(RP_OK, 0, "success")                                                     \
    X(RP_ERR_NOMEM, 1, "out of memory")                                        \
    X(RP_ERR_INVALID_ARG, 2, "invalid argument")                               \
    X(RP_ERR_DIM_MISMATCH, 3, "array length does not match the dimensions")    \
    X(RP_ERR_NONFINITE, 4, "non-finite value (NaN or Inf)")                    \
    X(RP_ERR_LAPACK, 5, "LAPACK routine failed")                               \
    X(RP_ERR_IO, 6, "input/output error")                                      \
    X(RP_ERR_FORMAT, 7, "malformed or unsupported file")                       \
    X(RP_ERR_UNSUPPORTED, 8, "operation not supported for this configuration") \
    X(RP_ERR_STATE, 9, "call out of sequence")                                 \
    X(RP_ERR_DIVERGED, 10, "state beyond the bound of rp_net_set_state_bound")

/** @cond INTERNAL */
#define RP_STATUS_ENUM_(name, value, text) name = value,
/** @endcond */

/**
 * Result of every fallible call.  #RP_OK is 0; see #RP_STATUS_TABLE for the
 * codes: RP_ERR_NOMEM (allocation failed), RP_ERR_INVALID_ARG (NULL pointer or
 * value out of range), RP_ERR_DIM_MISMATCH (an array's length does not match
 * the handle's dimensions), RP_ERR_NONFINITE (NaN or Inf in an input, a state
 * or a result), RP_ERR_LAPACK (a LAPACK routine reported failure), RP_ERR_IO
 * and RP_ERR_FORMAT (files), RP_ERR_UNSUPPORTED (valid but not available for
 * this configuration), RP_ERR_STATE (call out of sequence), RP_ERR_DIVERGED
 * (a state beyond the bound of rp_net_set_state_bound()).
 */
typedef enum rp_status { RP_STATUS_TABLE(RP_STATUS_ENUM_) RP_STATUS_COUNT_ } rp_status;

/* The codes, for Doxygen (the enum itself is generated from the table). */
/** @var RP_OK
 *  success (0) */
/** @var RP_ERR_NOMEM
 *  an allocation failed */
/** @var RP_ERR_INVALID_ARG
 *  a NULL pointer or a value out of range */
/** @var RP_ERR_DIM_MISMATCH
 *  an array's length does not match the handle's dimensions */
/** @var RP_ERR_NONFINITE
 *  NaN or Inf in an input, a state or a result */
/** @var RP_ERR_LAPACK
 *  a LAPACK routine reported failure */
/** @var RP_ERR_IO
 *  a file could not be read or written */
/** @var RP_ERR_FORMAT
 *  a file is malformed or unsupported */
/** @var RP_ERR_UNSUPPORTED
 *  valid, but not available for this configuration */
/** @var RP_ERR_STATE
 *  call out of sequence */
/** @var RP_ERR_DIVERGED
 *  a state left the bound set by rp_net_set_state_bound() (the divergence guard) */

/** @param s a status
 *  @return static text describing @p s ("unknown status" for other values). */
RP_API const char *rp_status_string(rp_status s);
/** @} */

/* ======================================================================== */
/** @defgroup grp_enums Common enumerations
 *  @{ */
/* ======================================================================== */

/** Network form (MODEL.md §1). */
typedef enum rp_form {
    RP_FORM_VOLTAGE = 0, /**< state h is the pre-activation; y = V f(h) + c */
    RP_FORM_RATE = 1     /**< state r is the rate; y = V r + c (Murray 2019) */
} rp_form;

/**
 * Activation function f.
 *
 * tanh is SLEEF's vectorized tanh (u10, since 1.2), in both precisions and
 * everywhere the library evaluates it (forward, f' = 1 - tanh^2, f'', the
 * rules, the Lyapunov spectrum, flossing): within 1 ulp of the exact tanh
 * (measured: at most 1 + 2e-8 ulp, where SLEEF returns x one ulp away from
 * zero for |x| near 2^-53 in double, 2^-24 in float), tanh(±0) = ±0,
 * tanh(±Inf) = ±1, NaN gives NaN.  (glibc's tanh, used up to 1.1, is up to
 * 2.2 ulp off: tanh nets' results differ from 1.1's in the last bits, which
 * long training or chaotic dynamics amplify as they do any rounding.)  On x86-64 the AVX2+FMA code runs where the CPU has both, else
 * SSE2: the two differ in the last bit on a few inputs in a million
 * (measured on 2e7 random inputs a precision: 56 doubles and 63 floats, all
 * with |x| < 8, most with |x| < 0.6), so tanh results may differ between CPUs
 * with and without AVX2; on one machine they are reproducible.
 */
typedef enum rp_activation {
    RP_ACT_RELU = 0,  /**< max(0, v); f'(0) is taken as 0 */
    RP_ACT_TANH = 1,  /**< tanh(v), within 1 ulp (above) */
    RP_ACT_LINEAR = 2 /**< v */
} rp_activation;

/** A parameter of the network. */
typedef enum rp_param {
    RP_PARAM_W = 0, /**< recurrent weights, n_rec x n_rec */
    RP_PARAM_U = 1, /**< input weights, n_rec x n_in */
    RP_PARAM_B = 2, /**< recurrent bias, n_rec */
    RP_PARAM_V = 3, /**< readout weights, n_out x n_rec */
    RP_PARAM_C = 4  /**< readout bias, n_out */
} rp_param;

/** Number of ::rp_param values. */
#define RP_PARAM_COUNT 5

/** Loss (MODEL.md §3). */
typedef enum rp_loss {
    RP_LOSS_MSE = 0, /**< (1/(B T)) sum m * 0.5 |y - y*|^2 */
    RP_LOSS_CE = 1   /**< (1/(B T)) sum m * -log softmax(y)[k*] */
} rp_loss;

/** Feedback matrix of e-prop and RFLO (MODEL.md §4.4). */
typedef enum rp_feedback {
    RP_FEEDBACK_SYMMETRIC = 0, /**< B_fb = V^T, the current readout */
    RP_FEEDBACK_RANDOM = 1     /**< fixed B_fb ~ N(0, 1/n_out) from a seed */
} rp_feedback;
/** @} */

/* ======================================================================== */
/** @defgroup grp_memory Memory
 *  Every allocation the library makes goes through the allocator of the
 *  handle whose call it is (zstd's customMem idea).  A network takes its
 *  allocator from rp_net_config::allocator; every handle created from a
 *  network (::rp_grad, ::rp_rule, ::rp_optim, ::rp_lyap, ::rp_floss) uses
 *  that network's; an initializer and a task take theirs at creation
 *  (rp_init_create_alloc(), rp_task_create_alloc()); a loaded network takes its
 *  own from rp_net_load_alloc() (and a checkpoint's handles from
 *  rp_checkpoint_load_alloc()).  The free-standing .npy calls
 *  (rp_npy_save(), rp_npy_load(), rp_npy_shape()) have no handle and use the
 *  C library.  A constructor or a call that fails for want of memory returns
 *  #RP_ERR_NOMEM, frees whatever it had allocated, sets its `*out` to NULL
 *  and leaves its inputs as they were.
 *  @{ */
/* ======================================================================== */

/**
 * A caller-supplied allocator.  The library copies the struct when a handle
 * is created, so the caller's copy need not outlive that call; @p opaque and
 * the functions must stay valid until the last handle using them is freed.
 * Both functions NULL means the C library's malloc/free; exactly one NULL is
 * refused (#RP_ERR_INVALID_ARG).  A handle never calls them from more than
 * one thread at a time, but different handles sharing one allocator may call
 * it concurrently.  Unlike the configuration structs this one is frozen: it
 * has no struct_size and never grows (the library copies sizeof of it from
 * the caller); a later version that needs more adds a struct of its own.
 */
typedef struct rp_allocator {
    /** Return @p size bytes (never 0) aligned for any object, as malloc does,
     *  or NULL on failure.  The memory need not be zeroed: the library zeroes
     *  it. */
    void *(*alloc)(void *opaque, size_t size);
    /** Release a block returned by @p alloc; never called with NULL. */
    void (*free)(void *opaque, void *ptr);
    /** Passed unchanged to both functions. */
    void *opaque;
} rp_allocator;
/** @} */

/* ======================================================================== */
/** @defgroup grp_net Network (MODEL.md §1)
 *  @{ */
/* ======================================================================== */

/** A leaky rate RNN: dimensions, form, activation, leak, noise, parameters and state. */
typedef struct rp_net rp_net;

/**
 * Arithmetic of a network (rp_net_config.precision, since 1.2).  The public
 * arrays are `double` whatever the precision: inputs, targets, outputs,
 * parameters, states and gradients are converted at the boundary.
 */
typedef enum rp_precision {
    /** Storage and arithmetic in double (dgemm/dgemv): every result as in 1.1,
     *  except tanh's last bits (::rp_activation). */
    RP_PRECISION_DOUBLE = 0,
    /** Parameters, states and workspaces stored in float and the products run
     *  in float (sgemm/sgemv, SLEEF's float tanh), about twice as fast at large sizes.
     *  Values read back are the float values converted exactly to double; a
     *  parameter or state written is rounded to the nearest float (so
     *  rp_net_get_param() after rp_net_set_param() returns the rounded
     *  values, and an optimizer step lands on floats); inputs are rounded to
     *  float as they enter.  Supported: the net's own calls (create, clone,
     *  config, parameters, state, initial state, reset, batch, alpha, noise,
     *  bound, run, step), rp_init_apply(), rp_grad_*, rp_optim_* (the
     *  optimizer's state stays double), the `.npy` parameter calls, and the
     *  rules #RP_RULE_BPTT and #RP_RULE_TBPTT, whose trajectory, adjoints and
     *  gradient products are float (half the memory of a double trial), and
     *  #RP_RULE_EPROP, #RP_RULE_RFLO and #RP_RULE_MODPROP per trial and
     *  online (float trajectory, traces — the rate form's online P, P^U,
     *  P^b too, half their memory —, learning signals and products; the
     *  feedback matrix rounded to float; ModProp's modulator sums, K x K
     *  filter, filter state and credit stay double), rp_net_save() and
     *  rp_checkpoint_save() (a single net's files are format versions 2 and
     *  4: see Files; load restores a single net that continues bit for bit).
     *  Sums in double there: the loss and the errors e_t (computed from the
     *  float outputs; the loss is returned to the caller), the sum of a
     *  trial's gradient into the rp_grad (over trials and batches), and an
     *  online tick's rank-B update (its float factors widened, the products
     *  and the sum over ticks in double); the sums inside a trial over its
     *  T*B stacked rows run in float in sgemm/sgemv (that is where the flops
     *  are).  ::rp_lyap (rp_lyap_run()) and ::rp_floss (rp_floss_trial(),
     *  local and exact) run on such a net in float too: trajectory, Jacobian
     *  products, QR (sgeqrf/sorgqr) and the reverse pass; in double: the
     *  initial basis (drawn and orthonormalized as for a double net, then
     *  rounded), the sums of log R_ii (a float sum over many windows would
     *  lose the exponents' digits), and flossing's gradient sums over steps
     *  (float GEMMs of 32 steps each, added in double).  An estimator or
     *  flossing handle takes the precision of the net it was created on.
     *  #RP_RULE_RTRL is refused by rp_rule_create() with
     *  #RP_ERR_UNSUPPORTED and the reason: it is the exact O(n_rec^4)-a-step
     *  reference the other rules are checked against, kept in double only
     *  (use a double net, or e-prop/RFLO/ModProp online on a single one);
     *  so is rp_lyap_max_direct() (its twin trajectory's separation would be
     *  a few float ulps of the state: use rp_lyap).  A rule handle built on
     *  a double net refuses a single one (RP_ERR_DIM_MISMATCH naming the
     *  precision, as do estimator and flossing handles of the other
     *  precision).  Accuracy: tests/test_precision.c and
     *  tests/test_precision_online.c derive and check the bounds (forward:
     *  the float rounding of each step's products, carried along a
     *  contracting trajectory; BPTT: ~5e-5 relative at N = 32, T B = 60;
     *  e-prop and RFLO: ~3e-5, their traces filtered with factor alpha, no
     *  adjoint; online and ModProp likewise); tests/test_precision_lyap.c
     *  those of the exponents (the float rounding of each window's products
     *  and QR, times cond(D)^2 per window: measured <= 6e-8 absolute at
     *  N = 16) and of the flossing gradient (vs double and vs central
     *  differences of the double F). */
    RP_PRECISION_SINGLE = 1
} rp_precision;

/** Configuration of a network; fill it with rp_net_config_init(), then edit
 *  it.  It can grow: see "Configuration structs grow" at the top. */
typedef struct rp_net_config {
    size_t struct_size; /**< the caller's sizeof, set by rp_net_config_init() */
    size_t n_in;        /**< inputs N_in (0 allowed: autonomous network); default 1 */
    size_t n_rec;       /**< recurrent units N (>= 1); default 64 */
    size_t n_out;       /**< outputs N_out (>= 1); default 1 */
    size_t batch;       /**< trials B processed together (>= 1); default 1 */
    double alpha;       /**< leak alpha = 1 - dt/tau in [0, 1); default 0.9 */
    rp_form form;       /**< default #RP_FORM_VOLTAGE */
    rp_activation act;  /**< default #RP_ACT_RELU */
    double noise_std;   /**< sigma of the state noise (>= 0); default 0 */
    uint64_t seed;      /**< seed of the handle's noise generator; default 1 */
    /** Non-zero: each trial's result is bit-identical whatever batch it runs
     *  in (every product runs on zero-padded blocks of 8 trials, since BLAS
     *  rounds dgemv and dgemm's edge blocks differently).  Costs up to 8x the
     *  flops when B is not a multiple of 8 (4-10x slower at B = 1).  Default 0:
     *  dgemv for B = 1, dgemm otherwise; trials then agree to rounding. */
    int batch_invariant;
    /** Allocator of the network and of every handle created from it; NULL
     *  (the default) = malloc/free.  Copied at creation: the pointed-to struct
     *  need not outlive rp_net_create().  rp_net_get_config() returns NULL or
     *  a pointer to the net's own copy (valid while the net lives), so a
     *  configuration read back creates a net with the same allocator. */
    const rp_allocator *allocator;
    /** Since 1.2: ::rp_precision of storage and arithmetic; default
     *  #RP_PRECISION_DOUBLE (0), which a caller built against 1.0 or 1.1
     *  (a smaller struct_size) always gets. */
    rp_precision precision;
#ifdef RP_TEST_GROWN
    double rp_test_future; /* tests/config_abi.sh: a later version's field */
#endif
} rp_net_config;

/**
 * Fill @p cfg with the default configuration (values as documented on each
 * field), as described in "Configuration structs grow" at the top.
 * @param cfg  the caller's struct
 * @param size its size: `sizeof *cfg`
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p cfg, or @p size not a
 *         multiple of _Alignof(size_t) from the 1.0 size to 4096; nothing written)
 */
RP_API rp_status rp_net_config_init(rp_net_config *cfg, size_t size);

/**
 * Check a configuration without creating anything.  Besides each field's
 * range: every dimension is at most 2^24, and the parameter count
 * (N^2 + N N_in + N + N_out N + N_out) and batch times the widest of
 * n_in, n_rec, n_out are at most INT_MAX (CBLAS lengths are int).
 * @param cfg    the configuration
 * @param msg    buffer for a message naming the first bad field (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, or #RP_ERR_INVALID_ARG with the message.  rp_net_create()
 *         fails exactly when this does (or on #RP_ERR_NOMEM).
 */
RP_API RP_NODISCARD rp_status rp_net_config_check(const rp_net_config *cfg, char *msg,
                                                  size_t msglen);

/**
 * Create a network.  All parameters are zero and the state and the initial
 * state are zero; apply an initializer (rp_init_apply()) or rp_net_set_param().
 * @param out    receives the handle (NULL on failure)
 * @param cfg    configuration from rp_net_config_init(), then edited
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (see rp_net_config_check()), #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_net_create(rp_net **out, const rp_net_config *cfg, char *msg,
                                            size_t msglen);

/** Create an independent copy of @p net (parameters, state, generator state),
 *  allocating through the same allocator.  @p net is only read.
 *  @param out    receives the copy (NULL on failure)
 *  @param net    the network to copy
 *  @param msg    receives the failure's message, "" on success (may be NULL)
 *  @param msglen size of @p msg
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p out or @p net), #RP_ERR_NOMEM */
RP_API RP_NODISCARD rp_status rp_net_clone(rp_net **out, const rp_net *net, char *msg,
                                           size_t msglen);

/** Free a network; NULL is a no-op. */
RP_API void rp_net_free(rp_net *net);

/** @return the detail of the last failure on @p net ("" if none). */
RP_API const char *rp_net_last_error(const rp_net *net);

/** Copy the network's configuration (with its current batch) into @p cfg:
 *  exactly @p size bytes, struct_size = min(@p size, the library's
 *  sizeof), zeros past the library's struct ("Configuration structs grow"
 *  at the top).  The result is accepted by rp_net_create().
 *  @param net  the network
 *  @param cfg  receives the configuration
 *  @param size the caller's `sizeof *cfg`
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, or @p size outside the rules;
 *          nothing written) */
RP_API RP_NODISCARD rp_status rp_net_get_config(const rp_net *net, rp_net_config *cfg, size_t size);

/**
 * Number of doubles in parameter @p which: n_rec*n_rec (W), n_rec*n_in (U),
 * n_rec (b), n_out*n_rec (V), n_out (c).
 * @param net   the network
 * @param which the parameter
 * @param len   receives the count
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, unknown @p which)
 */
RP_API RP_NODISCARD rp_status rp_net_get_param_len(const rp_net *net, rp_param which, size_t *len);

/**
 * Set a parameter from @p src (row-major, @p len doubles).
 * @param net   the network
 * @param which the parameter
 * @param src   the values
 * @param len   number of doubles in @p src, rp_net_get_param_len()
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_DIM_MISMATCH (wrong @p len),
 *         #RP_ERR_NONFINITE (a NaN/Inf entry; nothing is changed)
 */
RP_API RP_NODISCARD rp_status rp_net_set_param(rp_net *net, rp_param which, const double *src,
                                               size_t len);

/** Copy a parameter into @p dst.
 *  @param net   the network
 *  @param which the parameter
 *  @param dst   receives @p len doubles
 *  @param len   must equal rp_net_get_param_len()
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, unknown @p which),
 *          #RP_ERR_DIM_MISMATCH (wrong @p len) */
RP_API RP_NODISCARD rp_status rp_net_get_param(const rp_net *net, rp_param which, double *dst,
                                               size_t len);

/** Copy the current state (h or r), B*n_rec doubles, into @p dst.
 *  @param net the network
 *  @param dst receives the state
 *  @param len number of doubles in @p dst, B*n_rec
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH */
RP_API RP_NODISCARD rp_status rp_net_get_state(const rp_net *net, double *dst, size_t len);

/** Set the current state of all B trials from @p src (B*n_rec doubles).
 *  @param net the network
 *  @param src the state
 *  @param len number of doubles in @p src, B*n_rec
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH,
 *          #RP_ERR_NONFINITE (nothing is changed) */
RP_API RP_NODISCARD rp_status rp_net_set_state(rp_net *net, const double *src, size_t len);

/**
 * Copy the rates f(h) (voltage form) or r (rate form) of the current state,
 * B*n_rec doubles, into @p dst.
 * @param net the network
 * @param dst receives the rates
 * @param len number of doubles in @p dst, B*n_rec
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH
 */
RP_API RP_NODISCARD rp_status rp_net_get_rates(const rp_net *net, double *dst, size_t len);

/**
 * Set the initial state (n_rec doubles, shared by every trial), the state
 * that rp_net_reset() restores and that every trial of a rule, a Lyapunov run
 * and a flossing trial starts from.  Default: zeros.
 * @param net the network
 * @param src n_rec doubles
 * @param len number of doubles in @p src
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH,
 *         #RP_ERR_NONFINITE (nothing is changed)
 */
RP_API RP_NODISCARD rp_status rp_net_set_initial_state(rp_net *net, const double *src, size_t len);

/** Copy the initial state (n_rec doubles) into @p dst.
 *  @param net the network
 *  @param dst receives the initial state
 *  @param len number of doubles in @p dst, n_rec
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH */
RP_API RP_NODISCARD rp_status rp_net_get_initial_state(const rp_net *net, double *dst, size_t len);

/** Set the state of every trial to the initial state.
 *  @param net the network
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL) */
RP_API RP_NODISCARD rp_status rp_net_reset(rp_net *net);

/**
 * Change the batch size B.  The state of every trial becomes the initial
 * state.
 * @param net   the network
 * @param batch the new B (limits as in rp_net_config_check())
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, 0 or a batch above the limits),
 *         #RP_ERR_NOMEM; on failure nothing changes
 */
RP_API RP_NODISCARD rp_status rp_net_set_batch(rp_net *net, size_t batch);

/** Set the leak alpha.
 *  @param net   the network
 *  @param alpha in [0, 1)
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, alpha out of range) */
RP_API RP_NODISCARD rp_status rp_net_set_alpha(rp_net *net, double alpha);

/** Set the noise standard deviation and reseed the noise generator.
 *  @param net       the network
 *  @param noise_std finite and >= 0
 *  @param seed      the generator's new seed
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, noise_std out of range) */
RP_API RP_NODISCARD rp_status rp_net_set_noise(rp_net *net, double noise_std, uint64_t seed);

/**
 * Divergence guard: stop any run of @p net's dynamics whose state leaves
 * [-bound, bound].  After every step, each entry of the state (h in the
 * voltage form, r in the rate form: what rp_net_get_state() returns) must
 * satisfy |s| <= @p bound; the first one that does not stops the call with
 * #RP_ERR_DIVERGED, a message naming the step, trial, unit, value and bound,
 * and the same undo as a non-finite state (#RP_ERR_NONFINITE is still
 * reported for a NaN or Inf).  Guarded calls: rp_net_step(), rp_net_run()
 * (state and noise generator restored), rp_rule_trial() of every rule and
 * rp_floss_trial() (their forward pass from h0; @p grad unchanged), and so
 * every online rule stream, whose steps are rp_net_step().  Not guarded:
 * rp_lyap_run() and rp_lyap_max_direct(), which measure the dynamics
 * whatever they do.  A relu network with a gain above ~1.4, or one an
 * unstable learning rate pushes there, grows without limit while every call
 * returns #RP_OK until it overflows; the bound turns that into a status
 * within a step (docs/RECIPES.md).  Bound 0 (the default) turns the guard off:
 * results are then bit-identical to a net that never had one.  The bound is a
 * run-time option of this handle: rp_net_clone() copies it; rp_net_save()
 * and rp_checkpoint_save() do not store it (a loaded net starts with 0).
 * @param net   the network
 * @param bound finite and >= 0; 0 = off
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p net, @p bound negative or not
 *         finite; the bound is then unchanged)
 */
RP_API RP_NODISCARD rp_status rp_net_set_state_bound(rp_net *net, double bound);

/**
 * Advance every trial by one step (MODEL.md §1) and compute the outputs.
 * Runs through BLAS (dgemv for B = 1, dgemm otherwise; padded blocks of 8
 * with rp_net_config.batch_invariant); allocates nothing.
 * @param net the network
 * @param x B*n_in inputs (may be NULL when n_in = 0)
 * @param y B*n_out outputs, or NULL
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NONFINITE (a non-finite input,
 *         reported with its trial and unit, or a state that became non-finite;
 *         the state is then left as it was before the call), #RP_ERR_DIVERGED
 *         (a state beyond rp_net_set_state_bound(); state likewise kept)
 */
RP_API RP_NODISCARD rp_status rp_net_step(rp_net *net, const double *x, double *y);

/**
 * Run T steps: x is T*B*n_in, y (or NULL) T*B*n_out.  Allocates nothing.
 * On #RP_ERR_NONFINITE the message names the step, trial and unit, and the
 * state and the noise generator are restored to those before the call (the
 * rows of @p y of the steps before the failing one have been written).
 * @param net the network
 * @param T   steps (0: nothing happens)
 * @param x   T*B*n_in inputs (may be NULL when n_in = 0)
 * @param y   T*B*n_out outputs, or NULL
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p net, NULL @p x with n_in > 0),
 *         #RP_ERR_NONFINITE (inputs are all checked before the first step),
 *         #RP_ERR_DIVERGED (rp_net_set_state_bound(); restored the same way)
 */
RP_API RP_NODISCARD rp_status rp_net_run(rp_net *net, size_t T, const double *x, double *y);

/**
 * Save the network (configuration, parameters, initial state) to @p path in
 * the versioned binary format, atomically: a temporary file is written,
 * flushed and renamed into place, so a crash never leaves a half-written file
 * (a symbolic link is written through; anything but a regular file is
 * refused: see the Files section).
 * The live state, the noise generator's position and the compute option
 * rp_net_config.batch_invariant are not part of a model (a loaded net starts
 * at its initial state with batch_invariant = 0); rp_checkpoint_save() keeps
 * them all.
 * @param net  the network
 * @param path file to write
 * @return #RP_OK, #RP_ERR_INVALID_ARG (also for batch·n_rec above 2^22, which
 *         the format refuses: a file's few bytes must not size a huge state),
 *         #RP_ERR_IO (with the system's reason; also a @p path that is not a
 *         regular file, a missing name or a link to one of those)
 */
RP_API RP_NODISCARD rp_status rp_net_save(const rp_net *net, const char *path);

/**
 * Load a network saved by rp_net_save().  Every field and the checksum are
 * checked before anything is allocated from the file's sizes.  A version 2
 * file gives a net of #RP_PRECISION_SINGLE (since 1.2; see Files).
 * @param out    receives the network (NULL on failure)
 * @param path   file to read
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_IO, #RP_ERR_FORMAT (truncated,
 *         bad magic, unsupported version, checksum mismatch, absurd dimension,
 *         a precision field other than 1 in a version 2 file, a value that is
 *         not a float in one), #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_net_load(rp_net **out, const char *path, char *msg, size_t msglen);

/**
 * rp_net_load() whose network (and every handle later created from it)
 * allocates through @p allocator.
 * @param out       receives the handle (NULL on failure)
 * @param path      the file written by rp_net_save()
 * @param allocator the allocator (copied), or NULL for malloc/free
 * @param msg       buffer for the failure's message (may be NULL)
 * @param msglen    size of @p msg
 * @return as rp_net_load(); #RP_ERR_INVALID_ARG also for an allocator with
 *         exactly one function NULL
 */
RP_API RP_NODISCARD rp_status rp_net_load_alloc(rp_net **out, const char *path,
                                                const rp_allocator *allocator, char *msg,
                                                size_t msglen);
/** @} */

/* ======================================================================== */
/** @defgroup grp_init Initializers (MODEL.md §2)
 *  @{ */
/* ======================================================================== */

/**
 * An initializer: a rule that draws a weight matrix from a seed.
 *
 * A matrix of `rows x cols` has fan-in `cols`: W is n_rec x n_rec, U is
 * n_rec x n_in, V is n_out x n_rec.  The order of the steps is: draw, zero the
 * diagonal (if set), rescale to the spectral radius (if set).  Failures of the
 * setters and of rp_init_apply() leave their message on the initializer
 * (rp_init_last_error()).
 *
 * Settings persist: an initializer is a recipe, and every setting (gain,
 * sparsity, Dale fraction, rank, spectral radius, zero diagonal) applies to
 * every later rp_init_apply() until it is set again; rp_init_apply() never
 * changes it (it takes the initializer `const`).  So after
 * rp_init_set_gain(init, 1.5) and drawing W, drawing V with the same
 * initializer uses g = 1.5 too: set the gain again (rp_init_set_gain(init, 1))
 * or use a second initializer for parameters drawn with other settings.
 */
typedef struct rp_init rp_init;

/** Kind of initializer.  For a matrix with `cols` columns (its fan-in), the scale is g^2/cols. */
typedef enum rp_init_kind {
    RP_INIT_GAUSSIAN = 0,   /**< N(0, g^2/cols) — the study's scheme */
    RP_INIT_UNIFORM = 1,    /**< U(-g sqrt(3/cols), g sqrt(3/cols)): the variance of gaussian */
    RP_INIT_ORTHOGONAL = 2, /**< g Q, Q from QR of a Gaussian matrix with sign(diag R) fixed
                                 (Haar-distributed); non-square: orthonormal columns when
                                 rows > cols, orthonormal rows when rows < cols */
    RP_INIT_SPARSE = 3,     /**< each entry kept with probability p, value N(0, g^2/(p cols)) */
    RP_INIT_DALE = 4,       /**< Dale's law: the first round(f_E cols) columns (presynaptic
                                 units) excitatory (>= 0), the rest inhibitory (<= 0);
                                 half-normal magnitudes; each row's inhibitory entries scaled
                                 by a positive factor so the row sums to zero; then one
                                 positive factor so the mean square (the variance) is
                                 exactly g^2/cols.  Signs are never changed. */
    RP_INIT_LOW_RANK = 5,   /**< gaussian(g) + (m/cols) sum_{r<R} u_r v_r^T, u_r, v_r ~ N(0, I) */
    RP_INIT_ZEROS = 6       /**< all zeros (e.g. a zero readout) */
} rp_init_kind;

/**
 * Create an initializer of @p kind with gain 1 and the documented defaults
 * (p = 0.1, f_E = 0.8, R = 1, m = 1, no spectral radius, diagonal kept).
 * @param out    receives the handle (NULL on failure)
 * @param kind   one of ::rp_init_kind
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p out or unknown @p kind),
 *         #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_init_create(rp_init **out, rp_init_kind kind, char *msg,
                                             size_t msglen);
/**
 * rp_init_create() whose initializer allocates (the handle, and the scratch
 * of rp_init_apply()) through @p allocator.
 * @param out       receives the handle (NULL on failure)
 * @param kind      one of ::rp_init_kind
 * @param allocator the allocator (copied), or NULL for malloc/free
 * @param msg       receives the failure's message, "" on success (may be NULL)
 * @param msglen    size of @p msg
 * @return as rp_init_create(); #RP_ERR_INVALID_ARG also for an allocator with
 *         exactly one function NULL
 */
RP_API RP_NODISCARD rp_status rp_init_create_alloc(rp_init **out, rp_init_kind kind,
                                                   const rp_allocator *allocator, char *msg,
                                                   size_t msglen);
/** Free an initializer; NULL is a no-op. */
RP_API void rp_init_free(rp_init *init);
/** @return the detail of the last failure on @p init ("" if none). */
RP_API const char *rp_init_last_error(const rp_init *init);
/**
 * Set the gain g.  Default 1.
 * @param init the initializer
 * @param g    finite, >= 0
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_init_set_gain(rp_init *init, double g);
/**
 * Set the connection probability of #RP_INIT_SPARSE (ignored by the other kinds).  Default 0.1.
 * @param init the initializer
 * @param p    in (0, 1]
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_init_set_sparsity(rp_init *init, double p);
/**
 * Set the excitatory fraction of #RP_INIT_DALE (ignored by the other kinds).  Default 0.8.
 * @param init   the initializer
 * @param frac_e in (0, 1); the number of excitatory columns is round(frac_e cols),
 *               kept between 1 and cols - 1 (2 and cols - 2 with a zero diagonal)
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_init_set_dale_fraction(rp_init *init, double frac_e);
/**
 * Set the rank and strength of the structured part of #RP_INIT_LOW_RANK
 * (ignored by the other kinds).  Default R = 1, m = 1.
 * @param init     the initializer
 * @param rank     R >= 1 (rp_init_apply() also needs R <= min(rows, cols))
 * @param strength m, finite
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_init_set_rank(rp_init *init, size_t rank, double strength);
/**
 * Rescale the drawn square matrix so that max|eig| = @p rho (eigenvalues by
 * LAPACKE_dgeev).  Default 0 (off).
 * @param init the initializer
 * @param rho  finite, > 0, or 0 to turn the rescaling off
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_init_set_spectral_radius(rp_init *init, double rho);
/**
 * Zero the diagonal of a square matrix (no self-connections).  Default off.
 * @param init the initializer
 * @param on   non-zero to zero the diagonal
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p init)
 */
RP_API RP_NODISCARD rp_status rp_init_set_zero_diagonal(rp_init *init, int on);

/**
 * Draw parameter @p which of @p net from @p seed.  Deterministic: the same
 * initializer settings, parameter and seed give bit-identical weights; each
 * parameter draws from its own stream, so one seed may serve W, U and V.
 * Applies to W, U and V (and, for #RP_INIT_ZEROS and #RP_INIT_GAUSSIAN, to the
 * biases b and c with cols = 1: N(0, g^2)).  A parameter with no entries
 * (U when n_in = 0) is left as it is and #RP_OK returned.  Uses the
 * initializer's current settings, which it leaves as they are (they carry
 * over to the next apply: see ::rp_init).  Allocates scratch.
 * @param init the initializer
 * @param net  the network whose parameter is overwritten
 * @param which the parameter
 * @param seed  the seed
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL @p init or @p net, unknown
 *         @p which, a bias with a kind other than gaussian or zeros, a spectral
 *         radius or zero diagonal on a non-square matrix, Dale's law with too
 *         few columns of a type, a rank above min(rows, cols), a spectral
 *         rescaling of a matrix whose spectral radius is 0); #RP_ERR_LAPACK;
 *         #RP_ERR_NONFINITE (a gain so large the weights overflow);
 *         #RP_ERR_NOMEM.  On failure @p net is unchanged.
 */
RP_API RP_NODISCARD rp_status rp_init_apply(const rp_init *init, rp_net *net, rp_param which,
                                            uint64_t seed);
/** @} */

/* ======================================================================== */
/** @defgroup grp_grad Gradients
 *  @{ */
/* ======================================================================== */

/** A gradient (or any vector) with one block per parameter of one network's dimensions. */
typedef struct rp_grad rp_grad;

/** Create a zero gradient shaped like @p net's parameters.
 *  @param out    receives the gradient (NULL on failure)
 *  @param net    the network whose dimensions it takes
 *  @param msg    receives the failure's message, "" on success (may be NULL)
 *  @param msglen size of @p msg
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_NOMEM */
RP_API RP_NODISCARD rp_status rp_grad_create(rp_grad **out, const rp_net *net, char *msg,
                                             size_t msglen);
/** Free a gradient; NULL is a no-op. */
RP_API void rp_grad_free(rp_grad *g);
/** @return the detail of the last failure on @p g. */
RP_API const char *rp_grad_last_error(const rp_grad *g);
/** Set every entry to zero.
 *  @param g the gradient
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL) */
RP_API RP_NODISCARD rp_status rp_grad_zero(rp_grad *g);
/** Copy block @p which into @p dst.
 *  @param g     the gradient
 *  @param which the block
 *  @param dst   receives @p len doubles
 *  @param len   rp_net_get_param_len() of the block
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, unknown @p which), #RP_ERR_DIM_MISMATCH */
RP_API RP_NODISCARD rp_status rp_grad_get(const rp_grad *g, rp_param which, double *dst,
                                          size_t len);
/** Set block @p which from @p src.
 *  @param g     the gradient
 *  @param which the block
 *  @param src   @p len doubles
 *  @param len   rp_net_get_param_len() of the block
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, unknown @p which), #RP_ERR_DIM_MISMATCH,
 *          #RP_ERR_NONFINITE (nothing is changed) */
RP_API RP_NODISCARD rp_status rp_grad_set(rp_grad *g, rp_param which, const double *src,
                                          size_t len);
/** Euclidean norm over all blocks.
 *  @param g    the gradient
 *  @param norm receives the norm
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL) */
RP_API RP_NODISCARD rp_status rp_grad_get_norm(const rp_grad *g, double *norm);
/** dst += a * src.
 *  @param dst the gradient added into
 *  @param a   finite factor
 *  @param src a gradient of the same dimensions (may be @p dst)
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, non-finite @p a), #RP_ERR_DIM_MISMATCH */
RP_API RP_NODISCARD rp_status rp_grad_axpy(rp_grad *dst, double a, const rp_grad *src);
/** g *= a.
 *  @param g the gradient
 *  @param a finite factor
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, non-finite @p a) */
RP_API RP_NODISCARD rp_status rp_grad_scale(rp_grad *g, double a);
/** @} */

/* ======================================================================== */
/** @defgroup grp_files Files
 *  The network file of rp_net_save(), NumPy `.npy` arrays, and training
 *  checkpoints (contents and format at rp_checkpoint_save()).
 *
 *  Every writer here (rp_net_save(), rp_checkpoint_save(), rp_npy_save(),
 *  rp_net_save_param_npy(), rp_grad_save_param_npy()) is atomic: it writes a
 *  temporary file in the target's directory, fsyncs it, renames it over the
 *  target and fsyncs the directory.  A reader sees the old file or the whole
 *  new one; on failure the temporary file is removed and the target is
 *  untouched.  The new file has mode 0644 whatever the umask.
 *
 *  What is replaced:
 *  - a regular file, or a missing name (created; its directory must exist);
 *  - a symbolic link is written *through*: its chain of links is followed to
 *    the final target, which is replaced as above (the temporary file is made
 *    in the target's directory); the links stay as they were.  A dangling
 *    link creates its target when the target's directory exists.
 *  - anything else is refused with #RP_ERR_IO and a message naming the path
 *    and what it is ("is a FIFO, not a regular file"): a directory, device
 *    node, FIFO or socket, a link leading to one of those, and a chain of
 *    more than 40 links (a loop).  The check is made when the save begins.
 *
 *  The temporary file: where the file system supports `O_TMPFILE` (Linux
 *  ext4, xfs, btrfs, tmpfs, ...) it has no name while it is written; the
 *  complete file is then linked to `<dir>/.<name>.rp-tmp` and at once
 *  renamed over the target.  Elsewhere that fixed name is written directly.
 *  Either way a process killed during a save (SIGKILL, a crash, power loss)
 *  leaves at most that one file beside the target, never more however often
 *  it happens (with `O_TMPFILE`, only when killed between link and rename,
 *  and then it holds a complete file), and the next save of the same path
 *  replaces it.  The name is reserved: do not keep files of your own under it.
 *
 *  Concurrent saves of one path (threads or processes) each leave the target
 *  whole, holding one of the versions saved; with `O_TMPFILE` they run in
 *  parallel, without it they wait for one another (an `flock()` on the
 *  temporary file).  Which version remains is unspecified.
 *
 *  Readers take regular files only (a symbolic link to one is fine): any
 *  other path is refused with #RP_ERR_IO naming what it is, without opening
 *  a device node, and a FIFO never blocks the call.  Readers check every
 *  header field against the file's actual length (and the network file's
 *  checksum) before anything is allocated from it.
 *
 *  The network file (format version 1), all integers little-endian:
 *  | offset | bytes | field |
 *  |-------:|------:|-------|
 *  | 0  | 8 | magic `\x89RPNET\r\n` |
 *  | 8  | 4 | format version (1) |
 *  | 12 | 4 | byte-order mark 0x01020304 |
 *  | 16 | 8 × 4 | n_in, n_rec, n_out, batch (each at most 2^24; n_rec, n_out, batch >= 1; batch·n_rec at most 2^22) |
 *  | 48 | 4 × 2 | form, activation (the enum values) |
 *  | 56 | 8 × 2 | alpha, noise_std (IEEE-754 binary64) |
 *  | 72 | 8 | noise seed |
 *  | 80 | 8 | P = number of parameter doubles (n_rec² + n_rec·n_in + n_rec + n_out·n_rec + n_out) |
 *  | 88 | 8·P | W, U, b, V, c, each row-major, binary64 |
 *  | 88 + 8P | 8·n_rec | initial state h0 |
 *  | end − 4 | 4 | CRC-32 (zlib's crc32()) of every byte before it |
 *
 *  A net of #RP_PRECISION_SINGLE (since 1.2) is written as format version
 *  2: the same table with version 2 at offset 8, and 8 bytes inserted at
 *  offset 88 — the precision (4 bytes, 1 = #RP_PRECISION_SINGLE; any other
 *  value is #RP_ERR_FORMAT naming it) and 4 zero bytes — so everything after
 *  moves by 8.  Its values are floats, stored widened to binary64 (exact);
 *  a reader refuses a value that is not a float.  A double net is still
 *  written as version 1, byte for byte as by 1.0 and 1.1, and those
 *  releases refuse a version 2 file by its version.
 *
 *  Saved: configuration, parameters and initial state.  Not saved: the live
 *  state of the batch and the noise generator's position; a loaded network
 *  starts at h0 with its generator freshly seeded, exactly like the saved
 *  network after rp_net_set_noise(net, noise_std, seed) and rp_net_reset().
 *
 *  `.npy` files are written as format 1.0, dtype `'<f8'`, C order; read are
 *  formats 1.0, 2.0 and 3.0 with dtype `'<f8'` and `fortran_order: False` only.
 *  Parameters are shaped as in ::rp_param: W (n_rec, n_rec), U (n_rec, n_in),
 *  b (n_rec,), V (n_out, n_rec), c (n_out,).
 *  @{ */
/* ======================================================================== */

/** Most dimensions an `.npy` array may have here. */
#define RP_NPY_MAX_DIM 8

/**
 * Write @p a, an array of shape @p shape (C order), to @p path as `.npy`
 * (version 1.0, `'<f8'`), atomically (see the Files section).  Allocates only
 * the temporary and target file names.
 * @param path   file to create or replace
 * @param a      prod(shape) doubles (may be NULL when that is 0)
 * @param ndim   number of dimensions, 1..#RP_NPY_MAX_DIM (1 gives shape (n,))
 * @param shape  @p ndim sizes (0 allowed)
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NOMEM, #RP_ERR_IO (with the system's reason)
 */
RP_API RP_NODISCARD rp_status rp_npy_save(const char *path, const double *a, size_t ndim,
                                          const size_t *shape, char *msg, size_t msglen);

/**
 * Read a `.npy` file whose shape must equal @p shape exactly.  The data go
 * through a temporary buffer, so @p dst is written only on success.
 * @param path   file to read
 * @param dst    receives prod(shape) doubles
 * @param ndim   expected number of dimensions, 1..#RP_NPY_MAX_DIM
 * @param shape  expected sizes
 * @param msg    receives the failure's message (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NOMEM, #RP_ERR_IO,
 *         #RP_ERR_FORMAT (bad magic, unsupported version, dtype other than
 *         `'<f8'`, Fortran order, malformed header, shape other than
 *         expected, truncated or trailing data)
 */
RP_API RP_NODISCARD rp_status rp_npy_load(const char *path, double *dst, size_t ndim,
                                          const size_t *shape, char *msg, size_t msglen);

/**
 * Read only the shape of a `.npy` file (after the same checks as rp_npy_load(),
 * including the file's length), to size a buffer for rp_npy_load().
 * @param path   file to read
 * @param ndim   receives the number of dimensions (0 for a scalar)
 * @param shape  receives the sizes; #RP_NPY_MAX_DIM entries, unused ones set to 0
 * @param msg    receives the failure's message (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NOMEM, #RP_ERR_IO, #RP_ERR_FORMAT
 */
RP_API RP_NODISCARD rp_status rp_npy_shape(const char *path, size_t *ndim, size_t *shape, char *msg,
                                           size_t msglen);

/**
 * Write parameter @p which of @p net to @p path as `.npy` in its shape (see
 * above), atomically.  The message goes to rp_net_last_error().
 * @param net   the network (only its message buffer is written)
 * @param which the parameter
 * @param path  file to create or replace
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NOMEM, #RP_ERR_IO
 */
RP_API RP_NODISCARD rp_status rp_net_save_param_npy(const rp_net *net, rp_param which,
                                                    const char *path);

/**
 * Write block @p which of gradient @p g to @p path as `.npy`, shaped like the
 * parameter, atomically.  The message goes to rp_grad_last_error().
 * @param g     the gradient (only its message buffer is written)
 * @param which the block
 * @param path  file to create or replace
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NOMEM, #RP_ERR_IO
 */
RP_API RP_NODISCARD rp_status rp_grad_save_param_npy(const rp_grad *g, rp_param which,
                                                     const char *path);

/**
 * Set parameter @p which of @p net from a `.npy` file, which must have the
 * parameter's shape and dtype `'<f8'`.  On any failure @p net is unchanged
 * and rp_net_last_error() names the parameter, the file and the problem.
 * Allocates one buffer of the parameter's size.
 * @param net   the network to change
 * @param which the parameter
 * @param path  file to read
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_NOMEM, #RP_ERR_IO,
 *         #RP_ERR_FORMAT (see rp_npy_load()), #RP_ERR_NONFINITE (a NaN or Inf entry)
 */
RP_API RP_NODISCARD rp_status rp_net_load_param_npy(rp_net *net, rp_param which, const char *path);

/* ---- Checkpoints ---- */

/* The optimizer and rule handles, declared in their own sections below. */
struct rp_optim;
struct rp_rule;

/** Most bytes of user data a checkpoint holds (16 MiB). */
#define RP_CHECKPOINT_MAX_USER ((size_t)1 << 24)

/**
 * Write a checkpoint of @p net, @p opt and @p rule to @p path, atomically
 * (see the Files section).  (The optimizer and rule types are ::rp_optim and
 * ::rp_rule, declared further down.)  Allocates only the temporary and target file names; changes
 * none of the handles (not even their messages).
 *
 * A checkpoint holds everything a training loop needs to
 * continue bit for bit: a run stopped after iteration i and resumed from its
 * checkpoint ends with the same parameters, moments and losses (compared with
 * memcmp) as a run that never stopped, given the same inputs after i.  It
 * holds the network (what the network file holds, plus
 * rp_net_config::batch_invariant, the live state of the batch and the noise
 * generator's position), optionally the optimizer (kind, every
 * hyper-parameter, trainable flags, structural constraint codes, moments and
 * step count) and the rule (kind, loss, feedback kind and matrix — the drawn
 * random matrix itself, not its seed — and K), the caller's iteration counter
 * and up to #RP_CHECKPOINT_MAX_USER bytes of the caller's own (e.g. its
 * configuration, to refuse a resume with other settings, or the learning
 * curve so far).
 *
 * A rule inside an online stream (between rp_rule_begin() and
 * rp_rule_end(): e-prop, RFLO, RTRL) is saved with the stream: its position
 * (steps so far), the sum of their losses and every array rp_rule_step()
 * carries to the next step (the table below), so that a simulator can save
 * in the middle of a trial, even between rp_net_step() and rp_rule_step(),
 * and rp_checkpoint_load() returns the rule with the stream open: the next
 * call is rp_rule_step() or rp_rule_end(), and the stream ends bit for bit
 * as one never interrupted.  The gradient a stream accumulates lives in the
 * caller's ::rp_grad, which is not held: keep it in the user bytes
 * (rp_grad_get() / rp_grad_set()) if it spans the save.
 *
 * Not held: a rule's workspaces, anything of rp_task, rp_lyap, rp_floss or
 * rp_grad (the first is stateless given its seeds; rebuild the others).  The
 * calls are atomic and validated like the network file.
 *
 * Format version 2, or 3 when the rule is #RP_RULE_MODPROP (since 1.1; a
 * file is written as the oldest version that holds it, so 1.0 reads every
 * file without a ModProp rule), rp_checkpoint_load() also reads version 1,
 * written by earlier releases: the same layout without the stream section and
 * contents bit 2; a net of #RP_PRECISION_SINGLE is written as version 4
 * (since 1.2): the same layout with contents bit 4 set, its float values —
 * parameters, h0, the live state, the rule's stream arrays but ModProp's
 * filter state — widened to binary64 exactly and refused on load if they are
 * not floats; 1.0 and 1.1 refuse it by its version), all integers little-endian, binary64 for
 * doubles (P, N, O, B, I: parameter count, n_rec, n_out, batch, n_in):
 * | bytes | field |
 * |------:|-------|
 * | 8 | magic `\x89RPCK\r\n\x1a` |
 * | 4 | checkpoint format version (2; 3 with a ModProp rule; 4 for a single-precision net) |
 * | 4 | byte-order mark 0x01020304 |
 * | 8 | the caller's iteration counter |
 * | 4 | contents: bit 0 optimizer, bit 1 rule, bit 2 online stream (needs bit 1), bit 3 ModProp section (version 3 or 4, set exactly when the rule is ModProp), bit 4 single precision (version 4, which needs it), other bits 0 |
 * | 4 | batch_invariant (0 or 1) |
 * | 8 | U = bytes of user data (at most #RP_CHECKPOINT_MAX_USER) |
 * | 88 | the network file's header (its own magic, version 1, dimensions, configuration, P) |
 * | 8·P + 8·N | parameters W, U, b, V, c and h0, as in the network file |
 * | 3 × 8·B·N | live state, f of it (voltage) or f(u_t) (rate), and u_t |
 * | 48 | noise generator: xoshiro256** state (4 × 8), has-spare flag (4), 4 zero bytes, spare normal (8) |
 * | 88 + 17·P | optimizer, if bit 0: kind (4), 4 zero bytes, lr, momentum, beta1, beta2, eps, clip, decay (7 × 8), trainable flags W U b V c (5 × 1), structure flags (5 × 1), 6 zero bytes, step count t (8), constraint codes (P × 1: 0 free, 1 pinned at 0, 2 kept >= 0, 3 kept <= 0), m (8·P), v (8·P) |
 * | 24 + 8·N·O | rule, if bit 1: kind, loss, feedback kind, custom-matrix flag (4 × 4), K (8), feedback matrix (n_rec x n_out, row-major) |
 * | 8 + 4·N | ModProp, if bit 3: mu (8), the cell type of each unit (N × 4, each below N; K = the largest + 1) |
 * | 16 + 8·S | stream, if bit 2: steps so far (8), sum of their losses (8), then S doubles: e-prop/RFLO voltage form f(h_{t-1}) (B·N), traces eps (B·N), eps^x (B·I), eps^b (1); rate form r_{t-1} (B·N), traces P (B·N·N), P^U (B·N·I), P^b (B·N); RTRL state_{t-1} (B·N), f of it (voltage) or f(u_{t-1}) (rate) (B·N), sensitivities (B·N·N(N+I+1)); ModProp those of e-prop then its modulator filter state, voltage form B·K·(N+I+1)·K, rate form B·N·(N+I+1)·K; each row-major by batch row |
 * | U | user data |
 * | 4 | CRC-32 (zlib's crc32()) of every byte before it |
 *
 * @param net       the network (required)
 * @param opt       the optimizer, built for @p net's dimensions; NULL: none saved
 * @param rule      the rule, built for @p net's dimensions, batch, form and
 *                  activation, inside an online stream or not; NULL: none saved
 * @param path      file to create or replace
 * @param iteration the caller's counter, returned as is by rp_checkpoint_load()
 * @param user      @p user_len bytes stored as is (may be NULL when @p user_len is 0)
 * @param user_len  at most #RP_CHECKPOINT_MAX_USER
 * @param msg       receives the failure's message, "" on success (may be NULL)
 * @param msglen    size of @p msg
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL path or net, user_len too large,
 *         batch*n_rec above 2^22 as for rp_net_save()); #RP_ERR_DIM_MISMATCH
 *         (@p opt or @p rule built for another network); #RP_ERR_NOMEM;
 *         #RP_ERR_STATE (ticks of the rule's online block pending:
 *         rp_rule_flush() them first; the block size itself is not saved);
 *         #RP_ERR_IO (with the system's reason; @p path is then untouched)
 */
RP_API RP_NODISCARD rp_status rp_checkpoint_save(const rp_net *net, const struct rp_optim *opt,
                                                 const struct rp_rule *rule, const char *path,
                                                 uint64_t iteration, const void *user,
                                                 size_t user_len, char *msg, size_t msglen);

/**
 * Read a checkpoint into new handles: the network exactly as saved (live
 * state and noise generator included), and, when asked for, the optimizer
 * and the rule, built for that network (with its online stream open when one
 * was saved: continue with rp_rule_step(), or close it with rp_rule_end()).
 * Reads format versions 1 and 2.  Every field is validated and the
 * checksum verified before anything is allocated; on any failure nothing is
 * returned (every handle output is NULL, @p iteration, @p user and
 * @p user_len are untouched).  Free the handles with rp_net_free(),
 * rp_optim_free(), rp_rule_free().
 * @param net_out   receives the network (required)
 * @param opt_out   receives the optimizer (NULL: the file's optimizer, if any,
 *                  is validated but not loaded); the file must hold one
 * @param rule_out  receives the rule (NULL: likewise skipped); the file must hold one
 * @param path      file to read
 * @param iteration receives the saved counter (may be NULL)
 * @param user      receives the user data (NULL: skipped)
 * @param user_cap  size of @p user
 * @param user_len  receives the number of user bytes in the file (may be NULL)
 * @param msg       receives the failure's message, "" on success (may be NULL)
 * @param msglen    size of @p msg
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL @p path or @p net_out; @p opt_out
 *         or @p rule_out given for a file without that section);
 *         #RP_ERR_DIM_MISMATCH (more user data than @p user_cap); #RP_ERR_NOMEM;
 *         #RP_ERR_IO (cannot open or read; not a regular file);
 *         #RP_ERR_FORMAT (bad magic, unsupported version, any field out of
 *         range — every value must be one the public calls could have set,
 *         e.g. a stream only for a rule with an online mode, its arrays of the
 *         lengths its kind and the net's dimensions give, a finite loss
 *         sum >= 0 and 0 after no step —,
 *         a non-finite number, truncated or trailing data, checksum mismatch)
 */
RP_API RP_NODISCARD rp_status rp_checkpoint_load(rp_net **net_out, struct rp_optim **opt_out,
                                                 struct rp_rule **rule_out, const char *path,
                                                 uint64_t *iteration, void *user, size_t user_cap,
                                                 size_t *user_len, char *msg, size_t msglen);

/**
 * rp_checkpoint_load() whose network, optimizer and rule (and every handle
 * later created from the network) allocate through @p allocator.
 * @param net_out   as rp_checkpoint_load()
 * @param opt_out   as rp_checkpoint_load()
 * @param rule_out  as rp_checkpoint_load()
 * @param path      as rp_checkpoint_load()
 * @param iteration as rp_checkpoint_load()
 * @param user      as rp_checkpoint_load()
 * @param user_cap  as rp_checkpoint_load()
 * @param user_len  as rp_checkpoint_load()
 * @param allocator the allocator (copied), or NULL for malloc/free
 * @param msg       as rp_checkpoint_load()
 * @param msglen    as rp_checkpoint_load()
 * @return as rp_checkpoint_load(); #RP_ERR_INVALID_ARG also for an allocator
 *         with exactly one function NULL
 */
RP_API RP_NODISCARD rp_status rp_checkpoint_load_alloc(rp_net **net_out, struct rp_optim **opt_out,
                                                       struct rp_rule **rule_out, const char *path,
                                                       uint64_t *iteration, void *user,
                                                       size_t user_cap, size_t *user_len,
                                                       const rp_allocator *allocator, char *msg,
                                                       size_t msglen);
/** @} */

/* ======================================================================== */
/** @defgroup grp_rule Learning rules (MODEL.md §3–4)
 *  @{ */
/* ======================================================================== */

/** A learning rule bound to one network's dimensions, with its workspaces. */
typedef struct rp_rule rp_rule;

/** Kind of learning rule. */
typedef enum rp_rule_kind {
    RP_RULE_BPTT = 0,  /**< exact gradient, reverse pass (§4.1) */
    RP_RULE_TBPTT = 1, /**< truncated BPTT with window K (§4.2) */
    RP_RULE_RTRL =
        2, /**< exact, forward sensitivities, O(N^4) a step, 2 B N^2 (N + N_in + 1) doubles (§4.3) */
    RP_RULE_EPROP = 3,  /**< e-prop, symmetric feedback by default (§4.4) */
    RP_RULE_RFLO = 4,   /**< RFLO, random feedback by default (§4.5) */
    RP_RULE_MODPROP = 5 /**< ModProp: e-prop plus credit through the recurrent weights by
                             cell-type modulators, symmetric feedback by default (§4.7; since
                             1.1: rp_rule_set_cell_types(), rp_rule_set_modprop_mu()) */
} rp_rule_kind;

/**
 * Create a rule for networks of @p net's dimensions, form, activation and
 * batch size; every workspace of rp_rule_step() is allocated here or by
 * rp_rule_begin(), and rp_rule_trial()'s grow only with T.  Defaults: MSE loss; e-prop symmetric feedback; RFLO random
 * feedback with seed 1; TBPTT window K = 10.
 * @param out    receives the rule (NULL on failure)
 * @param net    the network whose dimensions, form, activation and batch it takes
 * @param kind   the learning rule
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, unknown @p kind), #RP_ERR_NOMEM,
 *         #RP_ERR_UNSUPPORTED (#RP_RULE_RTRL on a net of #RP_PRECISION_SINGLE:
 *         the exact reference is double only; the message says what to use)
 */
RP_API RP_NODISCARD rp_status rp_rule_create(rp_rule **out, const rp_net *net, rp_rule_kind kind,
                                             char *msg, size_t msglen);
/** Free a rule; NULL is a no-op. */
RP_API void rp_rule_free(rp_rule *rule);
/** @return the detail of the last failure on @p rule. */
RP_API const char *rp_rule_last_error(const rp_rule *rule);
/**
 * Choose the loss (default #RP_LOSS_MSE).
 * @param rule the rule
 * @param loss #RP_LOSS_MSE, or #RP_LOSS_CE (needs n_out >= 2)
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL rule, unknown loss, CE with
 *         n_out = 1); #RP_ERR_STATE (a different loss between rp_rule_begin()
 *         and rp_rule_end())
 */
RP_API RP_NODISCARD rp_status rp_rule_set_loss(rp_rule *rule, rp_loss loss);
/** Feedback of e-prop / RFLO / ModProp: symmetric (V^T) or random N(0, 1/n_out) from @p seed.
 *  @param rule an e-prop, RFLO or ModProp rule
 *  @param kind #RP_FEEDBACK_SYMMETRIC or #RP_FEEDBACK_RANDOM
 *  @param seed seed of the random matrix (ignored for symmetric)
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, unknown @p kind),
 *          #RP_ERR_UNSUPPORTED (another rule), #RP_ERR_STATE (inside a stream) */
RP_API RP_NODISCARD rp_status rp_rule_set_feedback(rp_rule *rule, rp_feedback kind, uint64_t seed);
/** A caller-supplied fixed feedback matrix B_fb (row-major n_rec x n_out).
 *  @param rule an e-prop, RFLO or ModProp rule
 *  @param B    n_rec*n_out doubles
 *  @param len  number of doubles in @p B
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH,
 *          #RP_ERR_NONFINITE, #RP_ERR_UNSUPPORTED (another rule),
 *          #RP_ERR_STATE (inside a stream); on failure nothing changes */
RP_API RP_NODISCARD rp_status rp_rule_set_feedback_matrix(rp_rule *rule, const double *B,
                                                          size_t len);
/** Copy the feedback matrix in use (for symmetric feedback, V^T of @p net).
 *  @param rule the rule
 *  @param net  a network the rule serves (its V for symmetric feedback)
 *  @param B    receives n_rec*n_out doubles, row-major n_rec x n_out
 *  @param len  number of doubles in @p B
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH (@p len,
 *          or @p net not of the rule's dimensions, batch, form, activation) */
RP_API RP_NODISCARD rp_status rp_rule_get_feedback_matrix(const rp_rule *rule, const rp_net *net,
                                                          double *B, size_t len);
/** Truncation window K >= 1 of #RP_RULE_TBPTT: each loss term back-propagates
 *  through its own step and the K-1 before it (K >= T equals BPTT bit for
 *  bit); the reverse pass costs O(T K B N^2) for K < T.
 *  @param rule a TBPTT rule
 *  @param K    window, >= 1
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, K = 0), #RP_ERR_UNSUPPORTED (another rule) */
RP_API RP_NODISCARD rp_status rp_rule_set_truncation(rp_rule *rule, size_t K);

/** Cell types of #RP_RULE_MODPROP (MODEL.md §4.7): the type of each
 *  recurrent unit.  The number of types K is the largest type + 1; a type
 *  below it that no unit has is an empty block and carries no credit.
 *  ModProp replaces the operator that carries credit across the recurrent
 *  weights, W diag(f') (voltage) or diag(f') W (rate), by mu W-bar, with
 *  W-bar the means of W over the K x K blocks of types (taken from the
 *  current W at every rp_rule_trial() and every rp_rule_step()).  Default:
 *  every unit of type 0 (K = 1).  The natural choice after rp_init_dale() is
 *  its E/I split (the first round(f_E n_rec) units type 0).  The online
 *  filter state is B K^2 (n_rec + n_in + 1) doubles (voltage form) or
 *  B n_rec K (n_rec + n_in + 1) (rate form), plus a copy of W (n_rec^2: W-bar
 *  is summed again only in a step whose W differs), allocated by rp_rule_begin();
 *  per trial the extra work is O(T B (n_rec + K^2)).  The types are copied;
 *  the call allocates O(K (K + n_rec + n_in)) doubles.
 *  @param rule  a ModProp rule
 *  @param types n_rec types, each in [0, n_rec)
 *  @param n_rec number of entries of @p types: the net's n_rec
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, a type >= n_rec),
 *          #RP_ERR_DIM_MISMATCH (@p n_rec), #RP_ERR_UNSUPPORTED (another rule:
 *          the types of a non-ModProp rule would be ignored, so they are
 *          refused), #RP_ERR_STATE (inside a stream), #RP_ERR_NOMEM; on failure
 *          nothing changes
 *  @since 1.1 */
RP_API RP_NODISCARD rp_status rp_rule_set_cell_types(rp_rule *rule, const unsigned *types,
                                                     size_t n_rec);
/** The constant mu of #RP_RULE_MODPROP that replaces the activation derivative
 *  in the credit crossing the recurrent weights (MODEL.md §4.7); the local
 *  eligibility keeps the true f'.  Default 0.5: the mean derivative of the
 *  default activation, relu, at a pre-activation symmetric about 0 (half the
 *  units active), i.e. f' replaced by its expectation; for tanh and linear
 *  nets near 0, 1 is that expectation.  mu = 0 is e-prop bit for bit, and
 *  with linear f, mu = 1 and a W that is already constant on the type blocks
 *  ModProp is the exact gradient.  mu must be tuned: the authors report
 *  instability when it is too large (the modulator filter alpha I +
 *  (1-alpha) mu A diag(count) must be stable).
 *  @param rule a ModProp rule
 *  @param mu   any finite value
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, @p mu not finite),
 *          #RP_ERR_UNSUPPORTED (another rule), #RP_ERR_STATE (inside a
 *          stream); on failure nothing changes
 *  @since 1.1 */
RP_API RP_NODISCARD rp_status rp_rule_set_modprop_mu(rp_rule *rule, double mu);

/** What a rule is — e.g. one that rp_checkpoint_load() returned: its kind
 *  and its loss (rp_rule_set_loss()); whether a stream is open:
 *  rp_rule_get_streaming().  Either output may be NULL.
 *  @param rule the rule
 *  @param kind receives the kind
 *  @param loss receives the loss
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p rule)
 *  @since 1.1 */
RP_API RP_NODISCARD rp_status rp_rule_get_kind(const rp_rule *rule, rp_rule_kind *kind,
                                               rp_loss *loss);
/** Whether the rule's online stream is open (1: between rp_rule_begin() and
 *  rp_rule_end(), also for a rule rp_checkpoint_load() returned from a file
 *  saved inside a stream; 0 otherwise).
 *  @param rule      the rule
 *  @param streaming receives 1 or 0
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p rule or @p streaming)
 *  @since 1.1 */
RP_API RP_NODISCARD rp_status rp_rule_get_streaming(const rp_rule *rule, int *streaming);

/**
 * A batch of B trials of T steps from the initial state; the net is not
 * changed.  Trials use the deterministic dynamics (noise_std is ignored);
 * the online rp_rule_step() follows the net's own, possibly noisy, trajectory.  Adds dE/dθ (the rule's estimate; exact for V, c) into @p grad.
 * @param rule   the rule, created for @p net's dimensions
 * @param net    the network (read only)
 * @param T      steps (>= 1); workspaces grow on the first call with a larger
 *               T (the only allocation; a fixed T allocates nothing after it)
 * @param x      T*B*n_in inputs (NULL allowed when n_in = 0)
 * @param target T*B*n_out targets (MSE) or T*B class indices stored as
 *               doubles in [0, n_out) (CE)
 * @param mask   T*B weights in [0, 1], or NULL for all ones
 * @param grad   gradient of @p net's dimensions; the estimate is added into it
 * @param loss   receives E (may be NULL)
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_DIM_MISMATCH (rule or grad
 *         built for other dimensions, or a net of another ::rp_precision), #RP_ERR_NONFINITE (input or diverging
 *         trajectory; @p grad is then unchanged), #RP_ERR_DIVERGED (a state
 *         beyond @p net's rp_net_set_state_bound(); @p grad unchanged), #RP_ERR_STATE (between
 *         rp_rule_begin() and rp_rule_end()), #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_rule_trial(rp_rule *rule, const rp_net *net, size_t T,
                                            const double *x, const double *target,
                                            const double *mask, rp_grad *grad, double *loss);

/**
 * Start an online stream on @p net's live state: eligibility traces (or
 * sensitivities) are cleared and the current state is recorded.  Online mode
 * exists for #RP_RULE_EPROP, #RP_RULE_RFLO, #RP_RULE_MODPROP and #RP_RULE_RTRL;
 * BPTT and TBPTT return #RP_ERR_UNSUPPORTED.  Memory: voltage-form e-prop/RFLO keep
 * B*(n_rec + n_in) trace doubles (allocated at create); the rate form keeps an
 * n_rec x (n_rec + n_in + 1) trace per batch row, allocated by the first
 * rp_rule_begin() (#RP_ERR_NOMEM if that fails); on a net of
 * #RP_PRECISION_SINGLE these traces are floats; ModProp adds its filter
 * state (rp_rule_set_cell_types()), allocated by the first rp_rule_begin()
 * after the types are set.  Calling it inside a stream
 * restarts the stream.
 * @param rule the rule
 * @param net  the network whose live state the stream follows
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH (@p net
 *         not of the rule's dimensions, batch, form, activation),
 *         #RP_ERR_UNSUPPORTED (BPTT, TBPTT), #RP_ERR_STATE (a restart with
 *         ticks of an online block pending: rp_rule_flush() them first),
 *         #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_rule_begin(rp_rule *rule, const rp_net *net);

/**
 * One online tick.  Call it right after rp_net_step(net, x_t, ...) with the
 * same @p x_t: the rule reads the new state, updates its running traces and
 * adds this step's gradient contribution — that of the per-step loss
 * E_t = (1/B) sum_b m_b loss(y_t, y*_t) — into @p grad.  Allocates nothing.
 * Summed over a trial of T steps, the contributions equal T times the
 * rp_rule_trial() gradient of the same trial.
 *
 * The stream keeps step with its net: each rp_rule_step() needs exactly one
 * step of @p net (rp_net_step(), or rp_net_run() with T = 1) since the
 * stream's last step or rp_rule_begin(), no rp_net_reset(),
 * rp_net_set_state() or rp_net_set_batch() in between, and @p x_t equal
 * (by value) to that step's input; otherwise it returns #RP_ERR_STATE with a
 * message naming the stream's step.  Changing parameters (an optimizer
 * step) between the calls is allowed.  The first step after
 * rp_checkpoint_load() is not checked (a checkpoint does not hold whether
 * the net stepped after the saved stream's last step).
 * @param rule     the rule, between rp_rule_begin() and rp_rule_end()
 * @param net      the network just stepped (read only)
 * @param x_t      the step's B*n_in inputs (NULL allowed when n_in = 0)
 * @param target_t the step's B*n_out targets (MSE) or B class indices (CE)
 * @param grad     this step's contribution is added into it
 * @param mask_t B weights in [0, 1], or NULL for all ones
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL rule, net, grad or target, NULL
 *         @p x_t with n_in > 0, a class index or mask value out of range);
 *         #RP_ERR_DIM_MISMATCH (net or grad of other dimensions, batch, form
 *         or activation); #RP_ERR_STATE (no stream open, or the stream lost
 *         step with @p net: see above; ticks of an online block pending
 *         for another grad: rp_rule_set_online_block()); #RP_ERR_NONFINITE
 *         (a non-finite input or target, a diverged state, or a step loss that
 *         overflows).  On failure @p grad and the stream are unchanged.
 */
RP_API RP_NODISCARD rp_status rp_rule_step(rp_rule *rule, const rp_net *net, const double *x_t,
                                           const double *target_t, const double *mask_t,
                                           rp_grad *grad);

/**
 * @param kind the rule
 * @return the rule's name ("bptt", "tbptt", "rtrl", "eprop", "rflo",
 *         "modprop"), or NULL for an unknown kind.
 */
RP_API const char *rp_rule_kind_name(rp_rule_kind kind);

/** End the online stream.
 *  @param rule the rule
 *  @param loss receives the mean per-step loss since rp_rule_begin() (0 if no
 *              step; may be NULL)
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_STATE (no stream;
 *          ticks of an online block pending: rp_rule_flush() them first,
 *          the stream stays open) */
RP_API RP_NODISCARD rp_status rp_rule_end(rp_rule *rule, double *loss);

/**
 * The online block: add the online gradient every @p K ticks instead of
 * every tick (opt-in; default K = 1, every tick, bit for bit as before 1.2).
 *
 * A voltage-form e-prop or RFLO tick adds rank-B outer products
 * (a_t eps_t^T into G_W, a_t eps^x_t^T into G_U, e_t f(h_t)^T into G_V,
 * and e_t, eps^b_t a_t into G_c, G_b): at B = 1 a dger, which runs at the
 * speed of memory, not of the arithmetic.  With K > 1, rp_rule_step()
 * still updates the traces and the loss at every tick, but stores the
 * tick's factors (a_t, eps_t, eps^x_t, eps^b_t, e_t, f(h_t)) and adds
 * nothing to the grad; when K ticks are stored it adds all of them with one
 * GEMM per parameter over their K·B rows (the same sum), into the grad of
 * that step.  rp_rule_flush() adds the ticks stored so far at any time.
 *
 * "Complete": after the K-th stored tick, or after rp_rule_flush(), the
 * grad holds every tick so far, as with K = 1; in between it lacks the
 * pending ticks (rp_rule_get_online_block() counts them).  An optimizer
 * step between ticks sees only the ticks added so far: flush before it to
 * apply everything (the usual simulator loop: K steps, then the optimizer,
 * which rp_rule_step()'s own flush at the K-th tick already gives).
 * Parameters may change between ticks (as with K = 1): each tick's factors
 * are those of the parameters of its own step, so the block adds exactly the
 * K = 1 stream's terms — only the time at which they reach the grad
 * changes.  The sum is taken in another order (GEMM over the ticks instead
 * of one running addition per tick), so the result differs from K = 1 in
 * the last bits: each entry within 2 gamma_{T B + 2} sum |p| of it, the
 * sum over the T·B products p (one per tick and batch row) that form the
 * entry, gamma_n = n u/(1 - n u), u = 2^-53 (tests/test_online_block.c,
 * at B = 1).
 *
 * Cost: the rank-B updates of K ticks become one product of K·B rows, plus
 * a copy of the factors per tick; the stored factors are
 * K·B·(3 n_rec + n_in + n_out + 1) doubles, allocated by this call (the
 * ticks allocate nothing).  It pays at B = 1: measured with K = 16 (one
 * thread), the rule's share of a tick 2-2.8x faster and the whole tick
 * (net step + rule step) 1.4-1.6x at n_rec 128 and 512.  At a batch it does
 * not: the per-tick product is already a GEMM of inner dimension B, and the
 * stored rows leave the cache (0.85x at n_rec 128, B 32; 0.94-1.0x at
 * n_rec 512, B 64).
 *
 * The pending ticks are never dropped silently: while any are pending,
 * rp_rule_step() with another grad, rp_rule_end(), rp_rule_begin() (a
 * restart), this call and rp_checkpoint_save() with the rule return
 * #RP_ERR_STATE (flush first).  The block size is a setting of the rule,
 * kept across streams; a checkpoint does not hold it (a rule
 * rp_checkpoint_load() returns has K = 1: set it again).
 *
 * Only the voltage form of #RP_RULE_EPROP and #RP_RULE_RFLO on a double
 * net has the block: the rate form's tick is diag(L_t) P_t with a full
 * trace P_t per row, RTRL's a product with its sensitivities, and ModProp
 * adds its modulators' credit through their filter at every tick — no outer
 * product to defer.  For them, and for BPTT and TBPTT, only K = 1 is
 * accepted.
 * @param rule the rule
 * @param K    ticks per block, >= 1 (1: add every tick)
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL, K = 0, K·batch above INT_MAX);
 *         #RP_ERR_UNSUPPORTED (K > 1 for a rule without the block, with the
 *         reason); #RP_ERR_STATE (ticks pending); #RP_ERR_NOMEM (the block's
 *         buffers); on failure nothing changes
 * @since 1.2 */
RP_API RP_NODISCARD rp_status rp_rule_set_online_block(rp_rule *rule, size_t K);
/** The online block size (rp_rule_set_online_block()) and the ticks stored
 *  in it, not yet added into a grad.  Either output may be NULL.
 *  @param rule    the rule
 *  @param K       receives the block size (1: every tick)
 *  @param pending receives the pending ticks (0 ... K-1)
 *  @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p rule)
 *  @since 1.2 */
RP_API RP_NODISCARD rp_status rp_rule_get_online_block(const rp_rule *rule, size_t *K,
                                                       size_t *pending);
/** Add the ticks pending in the online block into @p grad now (one GEMM per
 *  parameter), after which the grad is complete (rp_rule_set_online_block()).
 *  No pending tick (K = 1, or right after a full block): @p grad is
 *  unchanged.  @p grad is normally the grad the ticks' rp_rule_step() named;
 *  any grad of the rule's dimensions is accepted.  Allocates nothing.
 *  @param rule the rule, between rp_rule_begin() and rp_rule_end()
 *  @param grad receives the pending ticks' contributions
 *  @return #RP_OK; #RP_ERR_INVALID_ARG (NULL); #RP_ERR_DIM_MISMATCH (@p grad
 *          of other dimensions); #RP_ERR_STATE (no stream open)
 *  @since 1.2 */
RP_API RP_NODISCARD rp_status rp_rule_flush(rp_rule *rule, rp_grad *grad);
/** @} */

/* ======================================================================== */
/** @defgroup grp_optim Optimizers (MODEL.md §5)
 *  @{ */
/* ======================================================================== */

/**
 * An optimizer with its state (moments, step count) for one network's
 * dimensions.  One step, for every trainable parameter block, with g the
 * gradient after clipping (entries pinned at zero by rp_optim_set_structure()
 * take g = 0) and wd the weight decay (W, U, V only; 0 for b, c):
 *
 *     SGD:  m <- mu m + g;                            theta <- theta - lr (wd theta + m)
 *     Adam: m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; t <- t + 1;
 *           theta <- theta - lr (wd theta + (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps))
 *
 * then the structural constraint is applied (pinned entries set to 0, signs
 * clipped at 0).  Weight decay is decoupled (AdamW: it does not pass through
 * the moments).  Clipping: if max_norm > 0 and the Euclidean norm of the
 * gradient over the trainable entries exceeds it, g is scaled to that norm.
 */
typedef struct rp_optim rp_optim;

/** Kind of optimizer. */
typedef enum rp_optim_kind {
    RP_OPTIM_SGD = 0, /**< SGD with optional momentum */
    RP_OPTIM_ADAM = 1 /**< Adam (beta1 0.9, beta2 0.999, eps 1e-8 by default) */
} rp_optim_kind;

/**
 * Create an optimizer for @p net's dimensions (n_in, n_rec, n_out); every
 * workspace is allocated here.  Defaults: learning rate 1e-3, momentum 0,
 * Adam betas (0.9, 0.999) and eps 1e-8, no clipping, no decay, every
 * parameter trainable, no structural constraint.
 * @param out    receives the handle (NULL on failure)
 * @param net    the network whose dimensions the optimizer takes
 * @param kind   #RP_OPTIM_SGD or #RP_OPTIM_ADAM
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL pointer, unknown kind), #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_optim_create(rp_optim **out, const rp_net *net, rp_optim_kind kind,
                                              char *msg, size_t msglen);
/** Free an optimizer; NULL is a no-op. */
RP_API void rp_optim_free(rp_optim *opt);
/** @return the detail of the last failure on @p opt. */
RP_API const char *rp_optim_last_error(const rp_optim *opt);
/**
 * Set the learning rate.
 * @param opt the optimizer
 * @param lr  finite, > 0
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_optim_set_lr(rp_optim *opt, double lr);
/**
 * Set the SGD momentum mu (ignored by Adam).
 * @param opt      the optimizer
 * @param momentum in [0, 1); 0 is plain SGD
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_optim_set_momentum(rp_optim *opt, double momentum);
/**
 * Set Adam's constants (ignored by SGD).
 * @param opt   the optimizer
 * @param beta1 in [0, 1)
 * @param beta2 in [0, 1)
 * @param eps   finite, > 0
 * @return #RP_OK, #RP_ERR_INVALID_ARG (nothing changed)
 */
RP_API RP_NODISCARD rp_status rp_optim_set_betas(rp_optim *opt, double beta1, double beta2,
                                                 double eps);
/**
 * Set the global gradient-norm clipping threshold.
 * @param opt      the optimizer
 * @param max_norm finite, > 0; or 0 to turn clipping off (the default)
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_optim_set_clip(rp_optim *opt, double max_norm);
/**
 * Set the decoupled weight decay applied to W, U and V (not to the biases).
 * @param opt   the optimizer
 * @param decay finite, >= 0 (0 by default)
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_optim_set_weight_decay(rp_optim *opt, double decay);
/**
 * Train parameter @p which or freeze it.  A frozen parameter is not changed
 * by a step, its gradient is not read (nor counted in the clipping norm) and
 * its moments are kept.
 * @param opt   the optimizer
 * @param which the parameter
 * @param on    non-zero: trainable (the default); 0: frozen
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_optim_set_trainable(rp_optim *opt, rp_param which, int on);
/**
 * Structural constraint of parameter @p which taken from @p net's current
 * values: with @p keep_zeros, entries that are zero now stay zero (and take
 * no gradient); with @p keep_signs, non-zero entries keep their current sign
 * (clipped to 0 otherwise; a zero entry has no sign and is free unless
 * @p keep_zeros) — a sparse or Dale matrix stays sparse or Dale after every
 * step.  Both 0 removes the constraint of @p which.  Calling it again replaces
 * the constraint.
 * @param opt        the optimizer
 * @param net        a network of the optimizer's dimensions
 * @param which      the parameter
 * @param keep_zeros non-zero: pin the current zeros
 * @param keep_signs non-zero: keep the current signs
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_DIM_MISMATCH
 */
RP_API RP_NODISCARD rp_status rp_optim_set_structure(rp_optim *opt, const rp_net *net,
                                                     rp_param which, int keep_zeros,
                                                     int keep_signs);
/**
 * Forget the moments and the step count (the settings stay).
 * @param opt the optimizer
 * @return #RP_OK, #RP_ERR_INVALID_ARG
 */
RP_API RP_NODISCARD rp_status rp_optim_reset(rp_optim *opt);
/**
 * The optimizer's kind (e.g. of one rp_checkpoint_load() returned).
 * @param opt  the optimizer
 * @param kind receives the kind
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p opt or @p kind)
 * @since 1.1
 */
RP_API RP_NODISCARD rp_status rp_optim_get_kind(const rp_optim *opt, rp_optim_kind *kind);
/**
 * Apply one step to @p net with gradient @p grad (see ::rp_optim for the
 * update).  Allocates nothing.
 * @param opt  the optimizer
 * @param net  a network of the optimizer's dimensions; its parameters are updated
 * @param grad a gradient of the optimizer's dimensions (read only)
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL), #RP_ERR_DIM_MISMATCH (@p net or
 *         @p grad of other dimensions), #RP_ERR_NONFINITE (a non-finite
 *         trainable gradient entry, or a step whose new parameters or moments
 *         would not be finite; neither the net nor the optimizer state changes)
 */
RP_API RP_NODISCARD rp_status rp_optim_step(rp_optim *opt, rp_net *net, const rp_grad *grad);
/** @} */

/* ======================================================================== */
/** @defgroup grp_lyap Lyapunov spectrum (MODEL.md §6)
 *  @{ */
/* ======================================================================== */

/**
 * A Lyapunov spectrum estimator (MODEL.md §6): one trajectory of its own, an
 * orthonormal tangent basis Q (n_rec x k) and the accumulated logs of diag(R).
 *
 * Algorithm.  Step t (counted from 1 since the start of the trajectory)
 * advances the state without noise and maps Q <- D_t Q, with D_t applied to
 * the block as a GEMM and never formed (voltage: D_t needs f'(h_{t-1});
 * rate: f'(u_t)).  When t is a multiple of t_ons the block is factored
 * Q R = qr(Q) (Householder, dgeqrf + dorgqr) with the signs fixed so that
 * diag(R) >= 0.  A window (t - t_ons, t] is counted when t - t_ons >=
 * transient: S_i += log R_ii and the step count grows by t_ons.  So the
 * transient is in effect rounded up to a multiple of t_ons, and the steps
 * after the last re-orthonormalization are pending (not yet counted).
 * lambda_i = S_i / (steps counted), per step (multiply by 1/dt for per-tau).
 *
 * Collapse (MODEL.md §6).  Column j of the block collapses when
 * R_jj <= 8 n_rec eps_mach |column j| — it lies in the span of the columns
 * before it to working precision, i.e. D_t has rank < k on the basis (relu
 * with alpha = 0 and silent units, where f' = 0; saturated tanh).  The QR is
 * then redone on the kept columns in their order followed by random columns:
 * each kept direction is measured against the kept ones only, the collapsed
 * directions move last (with their sums S_i and local exponents) and are
 * refilled with random directions orthogonal to the kept ones, drawn from a
 * stream derived from cfg->seed (restarted with the trajectory, so runs
 * replay bit for bit).  A collapse in an uncounted window (the transient)
 * therefore leaves no trace.  In a counted window it adds log 0 to the
 * collapsed direction: its exponent is −INFINITY (never NaN), the true value
 * for that window, whose product of Jacobians has rank < k.  After a
 * collapse rp_lyap_get_cond() reports +INFINITY for that window.
 */
typedef struct rp_lyap rp_lyap;

/** Configuration of rp_lyap_create(); fill it with rp_lyap_config_init(),
 *  then edit it.  It can grow: see "Configuration structs grow" at the top. */
typedef struct rp_lyap_config {
    size_t struct_size; /**< the caller's sizeof, set by rp_lyap_config_init() */
    size_t t_ons;       /**< steps between re-orthonormalizations (>= 1); default 1 */
    size_t transient;   /**< steps before logs are accumulated; default 0 */
    uint64_t seed;      /**< seed of the random orthonormal Q0; default 1 */
#ifdef RP_TEST_GROWN
    double rp_test_future; /* tests/config_abi.sh: a later version's field */
#endif
} rp_lyap_config;

/**
 * Fill @p cfg with the default configuration, as rp_net_config_init() does.
 * @param cfg  the caller's struct
 * @param size its size: `sizeof *cfg`
 * @return #RP_OK, #RP_ERR_INVALID_ARG (as rp_net_config_init())
 */
RP_API rp_status rp_lyap_config_init(rp_lyap_config *cfg, size_t size);

/**
 * Check what rp_lyap_create() would check of its arguments, with a message.
 * @param net    the network
 * @param k      number of exponents
 * @param cfg    configuration, or NULL for the defaults
 * @param msg    buffer for a message naming the first bad argument (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, or #RP_ERR_INVALID_ARG with the message.  rp_lyap_create()
 *         fails with #RP_ERR_INVALID_ARG exactly when this does (given a
 *         non-NULL @p out).
 */
RP_API RP_NODISCARD rp_status rp_lyap_config_check(const rp_net *net, size_t k,
                                                   const rp_lyap_config *cfg, char *msg,
                                                   size_t msglen);

/**
 * Create an estimator of the first @p k (1 <= k <= n_rec) exponents for @p net's
 * dimensions, form and activation.  Every workspace of rp_lyap_run(), the
 * LAPACK ones included (queried with lwork = -1), is allocated here.  Q0 is
 * the Q factor (diag(R) > 0) of an n_rec x k matrix of N(0,1) entries drawn
 * from cfg->seed.
 * @param out    receives the handle (NULL on failure)
 * @param net    the network whose dynamics will be analysed (only read)
 * @param k      number of exponents
 * @param cfg    configuration, or NULL for the defaults of rp_lyap_config_init()
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p out or @p net, k = 0 or
 *         k > n_rec, t_ons = 0, struct_size), #RP_ERR_NOMEM,
 *         #RP_ERR_LAPACK.  On a net of #RP_PRECISION_SINGLE the estimator is
 *         a float one (::rp_precision: trajectory, products and QR in float,
 *         the log sums and Q0 in double) and runs on single nets only.
 */
RP_API RP_NODISCARD rp_status rp_lyap_create(rp_lyap **out, const rp_net *net, size_t k,
                                             const rp_lyap_config *cfg, char *msg, size_t msglen);
/** Free an estimator; NULL is a no-op. */
RP_API void rp_lyap_free(rp_lyap *ly);
/** @return the detail of the last failure on @p ly ("" if none). */
RP_API const char *rp_lyap_last_error(const rp_lyap *ly);

/**
 * Advance the estimator's trajectory by T steps.  The first call (after
 * create, reset or set_basis) starts from the net's initial state
 * (rp_net_set_initial_state(); the batch and the net's live state are not
 * used: one trajectory) and the basis Q0; later calls continue it, so T split
 * into pieces gives bit-identical results to one call.  Uses the net's
 * current parameters and alpha; never adds noise.  The net is not changed.
 * Allocates nothing.
 * @param ly  the estimator
 * @param net a network of the dimensions, form and activation @p ly was created for
 * @param T   steps (0 is a no-op)
 * @param x   T*n_in inputs, one trajectory, time outermost; or NULL for an
 *            autonomous run (x = 0), allowed for any n_in
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p ly or @p net),
 *         #RP_ERR_DIM_MISMATCH (@p net has other n_rec, n_in, form,
 *         activation or precision), #RP_ERR_NONFINITE (a non-finite input, named by step
 *         and input, checked before anything runs; or a state or tangent
 *         block that overflowed — then @p ly is left as it was before the call),
 *         #RP_ERR_LAPACK (a QR failed; @p ly is likewise left as it was).
 */
RP_API RP_NODISCARD rp_status rp_lyap_run(rp_lyap *ly, const rp_net *net, size_t T,
                                          const double *x);

/**
 * The first @p k exponents per step, descending (−INFINITY for a direction
 * that collapsed exactly, e.g. dead relu units with alpha = 0).
 * @param ly  the estimator
 * @param out receives @p k doubles
 * @param k   1 <= k <= the k of rp_lyap_create() (the largest @p k are returned)
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, k = 0), #RP_ERR_DIM_MISMATCH
 *         (k too large), #RP_ERR_STATE before any step past the transient was
 *         counted (e.g. T <= transient so far).
 */
RP_API RP_NODISCARD rp_status rp_lyap_get_spectrum(const rp_lyap *ly, double *out, size_t k);

/**
 * Use @p Q0 (n_rec*k, row-major n_rec x k, orthonormalized here by QR with
 * diag(R) > 0) as the initial basis.  Also restarts the estimator as
 * rp_lyap_reset() does; later resets keep this basis.
 * @param ly  the estimator
 * @param Q0  n_rec*k doubles
 * @param len number of doubles in @p Q0
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, or @p Q0 numerically of rank
 *         < k: some R_ii <= 1e-12 max_j R_jj; the same check and status as
 *         rp_floss_set_basis()), #RP_ERR_DIM_MISMATCH (@p len != n_rec*k),
 *         #RP_ERR_NONFINITE, #RP_ERR_LAPACK.  On failure nothing changes.
 */
RP_API RP_NODISCARD rp_status rp_lyap_set_basis(rp_lyap *ly, const double *Q0, size_t len);

/**
 * Restart: the next rp_lyap_run() starts a new trajectory from the net's
 * initial state and the initial basis; logs, counts, local exponents and
 * condition numbers are cleared.
 * @param ly the estimator
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL)
 */
RP_API RP_NODISCARD rp_status rp_lyap_reset(rp_lyap *ly);

/**
 * Steps counted so far (a multiple of t_ons) and steps run since the start
 * of the trajectory.  Either pointer may be NULL.
 * @param ly      the estimator
 * @param counted receives the counted steps
 * @param total   receives the steps run
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p ly)
 */
RP_API RP_NODISCARD rp_status rp_lyap_get_steps(const rp_lyap *ly, size_t *counted, size_t *total);

/**
 * Local exponents of the last re-orthonormalization window: out[i] =
 * log R_ii / t_ons, the per-step log growth of the i-th Gram–Schmidt
 * direction over the last t_ons steps (−INFINITY on collapse).  Given in
 * direction order, NOT sorted, so that their average over the counted
 * windows is the i-th exponent.  Available during the transient too.  For
 * a series of windows, call rp_lyap_run() with T = t_ons (or any multiple
 * of it) repeatedly: chunked runs are bit-identical to one run.
 * @param ly  the estimator
 * @param out receives @p k doubles
 * @param k   1 <= k <= the k of rp_lyap_create()
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_DIM_MISMATCH,
 *         #RP_ERR_STATE before the first re-orthonormalization.
 */
RP_API RP_NODISCARD rp_status rp_lyap_get_local(const rp_lyap *ly, double *out, size_t k);

/**
 * Condition of the tangent block just before re-orthonormalization:
 * kappa_1(R) = |R|_1 |R^-1|_1 of its R factor, estimated by LAPACK dtrcon
 * (exact for diagonal R; in general within a small factor, and
 * kappa_2(block) <= k kappa_1(R)).  Large values (say > 1e8) mean t_ons is
 * too long: the small exponents lose accuracy.  +INFINITY after a collapse.
 * @param ly   the estimator
 * @param last receives the value at the last re-orthonormalization (may be NULL)
 * @param max  receives the largest value since the trajectory started,
 *             transient included (may be NULL)
 * @return #RP_OK, #RP_ERR_INVALID_ARG, #RP_ERR_STATE before the first
 *         re-orthonormalization.
 */
RP_API RP_NODISCARD rp_status rp_lyap_get_cond(const rp_lyap *ly, double *last, double *max);

/**
 * lambda_max by direct simulation (MODEL.md §6): the trajectory of
 * rp_lyap_run() (from the net's initial state, no noise) and a twin started
 * at state + eps v (v a unit vector drawn from @p seed), both advanced by
 * the nonlinear dynamics; after step t the separation d is measured, the
 * twin is reset to state + e_t d/|d| with e_t = eps max(1, max_i |h_i|)
 * (relative to the state's scale, so that a growing trajectory — relu with
 * alpha = 0 above the critical gain — keeps the twin far above the state's
 * rounding), and after the transient log(|d|/e_{t-1}) is accumulated
 * (e_{-1} from the initial state).  lambda_max = mean over the
 * T - transient counted steps (per step).  An estimate independent of the
 * Jacobian and of QR, with a bias of order eps (nonlinearity) and
 * eps_mach/eps (rounding): eps = 1e-7 is a good choice.
 * If the twin merges exactly (|d| = 0: relu with alpha = 0 and the
 * perturbation on silent units only) during the transient, it is re-perturbed
 * by a new unit vector from the same @p seed stream, as rp_lyap refills a
 * collapsed direction; in a counted step the result is −INFINITY (log 0,
 * the collapse rule of rp_lyap).  Allocates 5 n_rec + 16 max(n_rec, n_in)
 * doubles (not a hot path) through the net's allocator.  There is no handle
 * of its own: the message goes to @p msg, and @p net is only read (threads
 * may share it).
 * @param net        the network (only read)
 * @param T          steps, > @p transient
 * @param x          T*n_in inputs, or NULL (autonomous)
 * @param transient  steps not counted
 * @param eps        size of the perturbation, finite and > 0
 * @param seed       seed of the direction v
 * @param lambda_max receives the estimate
 * @param msg        receives the failure's message, "" on success (may be NULL)
 * @param msglen     size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL @p net or @p lambda_max, @p eps
 *         not finite and > 0, T*n_in overflows), #RP_ERR_STATE
 *         (T <= transient), #RP_ERR_NONFINITE (a non-finite input, or a
 *         diverging trajectory), #RP_ERR_NOMEM, #RP_ERR_UNSUPPORTED (a net of
 *         #RP_PRECISION_SINGLE: a separation of eps = 1e-6 relative to the
 *         state is ~16 float ulps of it, so its growth would measure rounding;
 *         ::rp_lyap runs on such a net)
 */
RP_API RP_NODISCARD rp_status rp_lyap_max_direct(const rp_net *net, size_t T, const double *x,
                                                 size_t transient, double eps, uint64_t seed,
                                                 double *lambda_max, char *msg, size_t msglen);
/** @} */

/* ======================================================================== */
/** @defgroup grp_floss Gradient flossing (MODEL.md §7)
 *  @{ */
/* ======================================================================== */

/**
 * Kind of flossing gradient.
 *
 * Both modes use one trajectory s_0 = initial state, s_t = step(s_{t-1}, x_t)
 * (no noise) and the tangent recursion Y_t = D_t Y_{t-1}, Y_0 = Q0 (n_rec x k).
 * Every t_ons steps (t = t_ons, 2 t_ons, ...) Y = Q R (thin QR, diag(R) >= 0)
 * and Y continues from Q.  A re-orthonormalization window (t - t_ons, t] is
 * counted when it lies wholly after the transient (t - t_ons >= transient);
 * lambda_i = (sum over counted windows of log R_ii) / (t_ons * counted
 * windows), per step.  Steps after the last full window do not contribute.
 */
typedef enum rp_floss_mode {
    /** The true dF/dθ through the QR chain and the state trajectory (§7.1),
        by a reverse pass over the stored trajectory; reaches W, U and b. */
    RP_FLOSS_EXACT = 0,
    /** States and the basis at each window's start held fixed (§7.2): with
        t_ons = 1 exactly the formulas of §7.2; with t_ons > 1 the gradient is
        back-propagated through the Jacobians inside each window only.  In the
        voltage form only W receives a gradient; in the rate form the f''
        term (through u_t = W r_{t-1} + U x_t + b with r_{t-1} fixed) also
        reaches U and b. */
    RP_FLOSS_LOCAL = 1
} rp_floss_mode;

/** A flossing regularizer with its workspaces. */
typedef struct rp_floss rp_floss;

/** Configuration of rp_floss_create(); fill it with rp_floss_config_init(),
 *  then edit it.  It can grow: see "Configuration structs grow" at the top. */
typedef struct rp_floss_config {
    size_t struct_size; /**< the caller's sizeof, set by rp_floss_config_init() */
    size_t k;           /**< exponents regularized (1 <= k <= n_rec); default 1 */
    double target;      /**< lambda* (finite), per step; default 0 */
    size_t t_ons;       /**< steps between re-orthonormalizations (>= 1); default 1 */
    size_t transient;   /**< steps not counted; default 0 */
    rp_floss_mode mode; /**< default #RP_FLOSS_LOCAL */
    uint64_t seed;      /**< seed of the random orthonormal Q0; default 1 */
#ifdef RP_TEST_GROWN
    double rp_test_future; /* tests/config_abi.sh: a later version's field */
#endif
} rp_floss_config;

/**
 * Fill @p cfg with the default configuration (values as documented on each
 * field), as rp_net_config_init() does.
 * @param cfg  the caller's struct
 * @param size its size: `sizeof *cfg`
 * @return #RP_OK, #RP_ERR_INVALID_ARG (as rp_net_config_init())
 */
RP_API rp_status rp_floss_config_init(rp_floss_config *cfg, size_t size);

/**
 * Check a configuration for @p net without creating anything.
 * @param net    the network the regularizer would serve
 * @param cfg    the configuration
 * @param msg    buffer for a message naming the first bad field (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, or #RP_ERR_INVALID_ARG with the message.  rp_floss_create()
 *         fails with #RP_ERR_INVALID_ARG exactly when this does.
 */
RP_API RP_NODISCARD rp_status rp_floss_config_check(const rp_net *net, const rp_floss_config *cfg,
                                                    char *msg, size_t msglen);

/**
 * Create a flossing regularizer for @p net's dimensions (n_in, n_rec,
 * n_out; form and activation are read from the net at each trial).  Sizes
 * every workspace that does not depend on T, including the LAPACK
 * workspaces of dgeqrf/dorgqr (queried once), and draws Q0 from cfg->seed.
 * @param out    receives the handle (NULL on failure)
 * @param net    the network whose dimensions the handle serves (only read)
 * @param cfg    configuration from rp_floss_config_init(), then edited
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, struct_size, k = 0 or k > n_rec,
 *         t_ons = 0, non-finite target, unknown mode), #RP_ERR_NOMEM,
 *         #RP_ERR_LAPACK.  On a net of #RP_PRECISION_SINGLE the handle is a
 *         float one (::rp_precision: trajectory, QR chain and reverse pass in
 *         float; log sums, Q0 and the gradient's sums over steps in double)
 *         and serves single nets only.
 */
RP_API RP_NODISCARD rp_status rp_floss_create(rp_floss **out, const rp_net *net,
                                              const rp_floss_config *cfg, char *msg, size_t msglen);
/** Free; NULL is a no-op. */
RP_API void rp_floss_free(rp_floss *fl);
/** @return the detail of the last failure on @p fl. */
RP_API const char *rp_floss_last_error(const rp_floss *fl);

/**
 * Use @p Q0 (n_rec*k doubles, row-major n_rec x k) as the initial basis
 * instead of the seeded one.  Q0 is orthonormalized here (QR, diag(R) > 0),
 * so an orthonormal Q0 is kept as it is up to rounding.
 * @param fl  the regularizer
 * @param Q0  n_rec*k doubles
 * @param len number of doubles in @p Q0
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL, or @p Q0 numerically of rank
 *         < k: some R_ii <= 1e-12 max_j R_jj; the same check and status as
 *         rp_lyap_set_basis()), #RP_ERR_DIM_MISMATCH (@p len != n_rec*k),
 *         #RP_ERR_NONFINITE, #RP_ERR_LAPACK; on failure the basis is unchanged.
 */
RP_API RP_NODISCARD rp_status rp_floss_set_basis(rp_floss *fl, const double *Q0, size_t len);

/**
 * One trajectory of T steps from the net's initial state; computes
 * F = (1/k) sum_i (lambda_i - lambda*)^2 (MODEL.md §7) from the exponents of
 * that same trajectory and adds dF/dθ (the handle's mode) into @p grad.  The
 * trajectory has no noise and does not use the net's batch or live state; the
 * net is not changed.  Allocates only on the first call with a larger T than
 * before (the T-sized trajectory store); otherwise nothing.
 * @param fl      the regularizer
 * @param net     a network of the dimensions @p fl was created for
 * @param T       steps; T > transient and at least one counted window:
 *                floor(T / t_ons) * t_ons >= (ceil(transient / t_ons) + 1) * t_ons
 * @param x       T*n_in inputs (one trajectory; row t is x_{t+1}) or NULL
 *                (autonomous, x = 0)
 * @param grad    gradient of @p net's dimensions; dF/dθ is added to its W,
 *                U and b blocks (V and c are untouched: F does not depend on them)
 * @param F       receives F (may be NULL)
 * @param lambdas receives the k exponents per step, in the order of the
 *                basis columns (descending up to the convergence of the
 *                basis); may be NULL
 * @return #RP_OK; #RP_ERR_INVALID_ARG (NULL fl, net or grad, T too short);
 *         #RP_ERR_DIM_MISMATCH (net or grad of other dimensions, or a net of
 *         the other precision);
 *         #RP_ERR_NONFINITE (non-finite input or diverging state, naming the
 *         step and unit; or a tangent direction that collapsed in a counted
 *         window — R_ii = 0 to working precision, as defined for ::rp_lyap;
 *         relu with alpha = 0 and silent units — naming the step and the
 *         direction); #RP_ERR_DIVERGED (a state beyond @p net's
 *         rp_net_set_state_bound()); #RP_ERR_LAPACK; #RP_ERR_NOMEM.  On any failure
 *         @p grad is unchanged.  The one exception to "nothing written on
 *         failure": when a direction collapsed in a counted window the
 *         exponents are still meaningful, so @p lambdas receives them with
 *         -INFINITY for the collapsed directions and @p F receives +INFINITY;
 *         the gradient is undefined there and is refused.  A collapse in an
 *         uncounted (transient) window is refilled as in ::rp_lyap (random
 *         directions from a stream derived from cfg->seed, the same in every
 *         trial) and refused by neither mode: #RP_FLOSS_EXACT differentiates
 *         through the re-done QR with the refill columns as constants and the
 *         collapsed columns contributing nothing.
 */
RP_API RP_NODISCARD rp_status rp_floss_trial(rp_floss *fl, const rp_net *net, size_t T,
                                             const double *x, rp_grad *grad, double *F,
                                             double *lambdas);

/**
 * When flossing runs during training (MODEL.md §7.3); usable with any
 * learning rule.  Every kind except #RP_FLOSS_SCHED_NONE starts with
 * @c pre flossing-only iterations.
 */
typedef enum rp_floss_schedule_kind {
    RP_FLOSS_SCHED_NONE = 0, /**< never floss: every iteration is a task step */
    RP_FLOSS_SCHED_PRE =
        1, /**< pre-flossing: @c pre flossing-only iterations, then task steps only */
    RP_FLOSS_SCHED_INTER = 2, /**< inter-flossing: after the @c pre ones, cycles of
                                    @c period task iterations followed by @c floss_iters
                                    flossing-only iterations */
    RP_FLOSS_SCHED_DURING = 3 /**< after the @c pre ones, every iteration is a task step
                                    plus the flossing gradient weighted by @c beta */
} rp_floss_schedule_kind;

/** A flossing schedule; fill it with rp_floss_schedule_init(), then edit it.
 *  It can grow: see "Configuration structs grow" at the top. */
typedef struct rp_floss_schedule {
    size_t struct_size;          /**< the caller's sizeof, set by rp_floss_schedule_init() */
    rp_floss_schedule_kind kind; /**< default #RP_FLOSS_SCHED_NONE */
    size_t pre;                  /**< P, flossing-only iterations at the start; default 0 */
    size_t
        period; /**< E_f, task iterations per inter-flossing cycle (>= 1 for INTER); default 100 */
    size_t floss_iters; /**< E_i, flossing-only iterations per cycle (>= 1 for INTER); default 10 */
    double
        beta; /**< weight of the flossing gradient whenever it is used (finite, >= 0); default 1 */
#ifdef RP_TEST_GROWN
    double rp_test_future; /* tests/config_abi.sh: a later version's field */
#endif
} rp_floss_schedule;

/**
 * Fill @p s with the default schedule (values as documented on each field),
 * as rp_net_config_init() does.
 * @param s    the caller's struct
 * @param size its size: `sizeof *s`
 * @return #RP_OK, #RP_ERR_INVALID_ARG (as rp_net_config_init())
 */
RP_API rp_status rp_floss_schedule_init(rp_floss_schedule *s, size_t size);

/**
 * Check a schedule.
 * @param s      the schedule
 * @param msg    buffer for a message naming the first bad field (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK or #RP_ERR_INVALID_ARG (NULL, struct_size, unknown kind,
 *         INTER with period or floss_iters 0, beta negative or non-finite)
 */
RP_API RP_NODISCARD rp_status rp_floss_schedule_check(const rp_floss_schedule *s, char *msg,
                                                      size_t msglen);

/**
 * What iteration @p iter (0-based) of a training loop does under @p s; a pure
 * function.  The loop then forms: grad = (task_step ? task gradient : 0) +
 * floss_weight * flossing gradient (skip rp_floss_trial() when floss_weight
 * is 0).  Flossing-only iterations have task_step = 0 and floss_weight =
 * beta; DURING iterations after the pre-flossing have task_step = 1 and
 * floss_weight = beta; everything else has task_step = 1, floss_weight = 0.
 * @param s            a schedule (see rp_floss_schedule_check())
 * @param iter         the iteration, counted from 0
 * @param task_step    receives 1 if the task gradient is used, else 0 (may be NULL)
 * @param floss_weight receives the flossing weight (may be NULL)
 * @return #RP_OK or #RP_ERR_INVALID_ARG (as rp_floss_schedule_check();
 *         nothing written)
 */
RP_API RP_NODISCARD rp_status rp_floss_schedule_at(const rp_floss_schedule *s, size_t iter,
                                                   int *task_step, double *floss_weight);
/** @} */

/* ======================================================================== */
/** @defgroup grp_task Tasks (MODEL.md §8)
 *  @{ */
/* ======================================================================== */

/** A task generator: inputs, targets and masks, deterministic from a seed. */
typedef struct rp_task rp_task;

/** Kind of task. */
typedef enum rp_task_kind {
    RP_TASK_SINES = 0,       /**< pattern generation: sum of sines, no input */
    RP_TASK_COPY = 1,        /**< y*_t = s_{t-d} */
    RP_TASK_DELAYED_XOR = 2, /**< y*_t = XOR(s_{t-d}, s_{t-2d}) */
    RP_TASK_ADD = 3,         /**< y*_t = 0.5 + 0.5 s_{t-t1} - 0.25 s_{t-t2} */
    RP_TASK_2AF = 4,         /**< perceptual decision, two alternatives, CE */
    RP_TASK_DMS = 5,         /**< delayed match-to-sample, CE */
    RP_TASK_CXT = 6          /**< context-dependent decision, CE */
} rp_task_kind;

/** Capacity of rp_task_config::coherences. */
#define RP_TASK_MAX_COH 8

/**
 * Configuration of a task; fill it with rp_task_config_init(&cfg, sizeof cfg,
 * kind), which writes the documented defaults of that kind, then edit it.  It
 * can grow: see "Configuration structs grow" at the top.  All durations are
 * in steps.
 *
 * Layout of the classification tasks (2af, dms, cxt; loss CE, n_out = 3):
 * output class 0 is "fixate", classes 1 and 2 the two choices.  Input 0 is the
 * fixation cue, 1 until the decision period and 0 during it.  The target is
 * class 0 before the decision period and the correct choice during it; the
 * mask is 1 on decision steps and rp_task_config::fix_weight on the others.
 *
 * - sines (MSE, n_in = 1, n_out = 1): input 1 at step 0 and 0 after (a cue:
 *   a relu network at rest with no input would stay at rest);
 *   y*_t = sum_{m<n_sines} A_m sin(2 pi t / P_m + phi_m) with P_m = T/(m+1),
 *   A_m ~ U(0.5, 1)/n_sines, phi_m ~ U(0, 2 pi) drawn from rp_task_config::pattern_seed: the
 *   same pattern in every trial.  Defaults T = 60, n_sines = 3.
 * - copy(d) (MSE, 1 in, 1 out): s_t ~ Bernoulli(1/2) i.i.d. is the input;
 *   y*_t = s_{t-d}, mask 0 for t < d.  Defaults d = rp_task_config::delay = 5, T = 50.
 * - delayed_xor(d): the same stream; y*_t = XOR(s_{t-d}, s_{t-2d}), mask 0 for
 *   t < 2d.  Defaults d = 3, T = 50.
 * - add(t1, t2): the same stream; y*_t = 0.5 + 0.5 s_{t-t1} - 0.25 s_{t-t2},
 *   mask 0 for t < max(t1, t2).  Defaults t1 = 4, t2 = 6, T = 50.
 * - 2af (n_in = 3): fixation, stimulus, delay, decision periods (defaults 3,
 *   10, 0, 3).  Choice k in {1, 2} with probability 1/2, coherence c drawn
 *   uniformly from rp_task_config::coherences (default {0, 0.064, 0.128, 0.256, 0.512});
 *   during the stimulus input 1 is (1 + c)/2 + sigma xi and input 2 is
 *   (1 - c)/2 + sigma xi for k = 1 (swapped for k = 2), xi ~ N(0, 1) i.i.d.,
 *   sigma = rp_task_config::sigma (default 0.1).  With c = 0 the choice is a coin flip.
 * - dms (n_in = 3): fixation, sample, delay, test, decision (defaults 2, 5,
 *   10, 5, 3; the sample uses rp_task_config::stimulus, the test rp_task_config::test).  Sample and test are
 *   one of two stimuli, one-hot on inputs 1-2 plus sigma xi noise (default
 *   sigma 0.1); match with probability 1/2; class 1 = match, 2 = non-match.
 * - cxt (n_in = 7, Mante et al. 2013): fixation, stimulus, delay, decision
 *   (defaults 3, 10, 0, 3).  Two modalities, each with its own choice and
 *   coherence (inputs 1-2 and 3-4, coded as in 2af); a context cue one-hot
 *   on inputs 5-6 from the start until the decision; the target is the choice
 *   of the cued modality.  Default coherences {0.064, 0.128, 0.256, 0.512}
 *   (no zero coherence: the cued answer is then always defined by evidence).
 */
typedef struct rp_task_config {
    size_t struct_size; /**< the caller's sizeof, set by rp_task_config_init() */
    size_t
        T; /**< steps: sines/copy/xor/add (>= 1); for 2af, dms, cxt 0 or the sum of the periods */
    size_t delay;    /**< d of copy and delayed_xor; the delay period of 2af, dms, cxt */
    size_t t1;       /**< first lag of add (< T) */
    size_t t2;       /**< second lag of add (< T) */
    size_t fixation; /**< fixation period (2af, dms, cxt) */
    size_t stimulus; /**< stimulus period (2af, cxt); sample period (dms); >= 1 */
    size_t test;     /**< test period (dms) >= 1 */
    size_t decision; /**< decision period (2af, dms, cxt) >= 1 */
    double coherences[RP_TASK_MAX_COH]; /**< coherence set in [0, 1] (2af, cxt) */
    size_t n_coherences;                /**< entries used in #coherences (1..RP_TASK_MAX_COH) */
    double sigma;                       /**< standard deviation of the stimulus noise (>= 0) */
    double fix_weight;     /**< mask on non-decision steps of 2af, dms, cxt in [0, 1]; default 1 */
    size_t n_sines;        /**< components of sines (1..8); default 3 */
    uint64_t pattern_seed; /**< seed of the sines pattern; default 1 */
#ifdef RP_TEST_GROWN
    double rp_test_future; /* tests/config_abi.sh: a later version's field */
#endif
} rp_task_config;

/**
 * Fill @p cfg with the default configuration of @p kind, as
 * rp_net_config_init() does.  A reader of a task configuration gives the
 * fields beyond the caller's struct_size the defaults of the kind it is
 * called with.
 * @param cfg  the caller's struct
 * @param size its size: `sizeof *cfg`
 * @param kind the task
 * @return #RP_OK, #RP_ERR_INVALID_ARG (as rp_net_config_init(), or an
 *         unknown @p kind; nothing written)
 */
RP_API rp_status rp_task_config_init(rp_task_config *cfg, size_t size, rp_task_kind kind);

/**
 * Create a task generator.
 * @param out    receives the handle (NULL on failure)
 * @param kind   the task
 * @param cfg    from rp_task_config_init() with @p kind, then edited; NULL = the defaults
 * @param msg    receives the failure's message, "" on success (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK, #RP_ERR_INVALID_ARG (unknown kind or a bad field),
 *         #RP_ERR_NOMEM
 */
RP_API RP_NODISCARD rp_status rp_task_create(rp_task **out, rp_task_kind kind,
                                             const rp_task_config *cfg, char *msg, size_t msglen);

/**
 * rp_task_create() whose handle is allocated through @p allocator.
 * @param out       receives the handle (NULL on failure)
 * @param kind      the task
 * @param cfg       as for rp_task_create(); NULL = the defaults
 * @param allocator the allocator (copied), or NULL for malloc/free
 * @param msg       receives the failure's message, "" on success (may be NULL)
 * @param msglen    size of @p msg
 * @return as rp_task_create(); #RP_ERR_INVALID_ARG also for an allocator with
 *         exactly one function NULL
 */
RP_API RP_NODISCARD rp_status rp_task_create_alloc(rp_task **out, rp_task_kind kind,
                                                   const rp_task_config *cfg,
                                                   const rp_allocator *allocator, char *msg,
                                                   size_t msglen);

/**
 * Check a configuration of @p kind without creating anything.
 * @param kind   the task
 * @param cfg    the configuration
 * @param msg    buffer for a message naming the first bad field (may be NULL)
 * @param msglen size of @p msg
 * @return #RP_OK or #RP_ERR_INVALID_ARG; rp_task_create() fails exactly when this does.
 */
RP_API RP_NODISCARD rp_status rp_task_config_check(rp_task_kind kind, const rp_task_config *cfg,
                                                   char *msg, size_t msglen);

/** Free a task; NULL is a no-op.  @param task the task */
RP_API void rp_task_free(rp_task *task);

/**
 * @param task the task
 * @return the detail of the last failure on @p task ("" if none).
 */
RP_API const char *rp_task_last_error(const rp_task *task);

/**
 * Dimensions of the task's trials.  Each out-pointer may be NULL.
 * @param task  the task
 * @param n_in  inputs per step
 * @param n_out outputs per step (for CE: the number of classes)
 * @param T     steps per trial
 * @param loss  #RP_LOSS_MSE (sines, copy, delayed_xor, add) or #RP_LOSS_CE (2af, dms, cxt)
 * @return #RP_OK or #RP_ERR_INVALID_ARG (@p task NULL)
 */
RP_API RP_NODISCARD rp_status rp_task_get_dims(const rp_task *task, size_t *n_in, size_t *n_out,
                                               size_t *T, rp_loss *loss);

/**
 * Copy the task's configuration (with T filled in) into @p cfg, writing
 * exactly @p size bytes as rp_net_get_config() does.
 * @param task the task
 * @param cfg  receives the configuration
 * @param size the caller's `sizeof *cfg`
 * @return #RP_OK or #RP_ERR_INVALID_ARG (a NULL argument, or @p size outside
 *         the rules; nothing written)
 */
RP_API RP_NODISCARD rp_status rp_task_get_config(const rp_task *task, rp_task_config *cfg,
                                                 size_t size);

/**
 * Draw B trials from @p seed.  Trial b depends only on (@p seed, b), so the
 * first trials of a larger batch equal a smaller batch from the same seed.
 * Allocates nothing.
 * @param task   the task
 * @param B      trials (>= 1)
 * @param seed   the seed; the same seed gives bit-identical trials
 * @param x      T*B*n_in inputs (time outermost); may be NULL when n_in = 0
 * @param target T*B*n_out targets (MSE) or T*B class indices stored as doubles (CE)
 * @param mask   T*B weights in [0, 1]
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL array or B = 0; nothing written)
 */
RP_API RP_NODISCARD rp_status rp_task_sample(const rp_task *task, size_t B, uint64_t seed,
                                             double *x, double *target, double *mask);

/**
 * Score outputs against targets: the loss of MODEL.md §3 (the task's loss
 * kind, scale 1/(B T)) and the accuracy.  Accuracy: for CE tasks, the fraction
 * of decision steps (mask > 0 and target class != 0) where argmax y equals the
 * target; for copy and delayed_xor, the fraction of steps with mask > 0 where
 * |y - y*| < 0.5 (the rounded output is right); for sines and add, NaN (no
 * notion of a correct answer).  NaN as well when no step qualifies.
 * Allocates nothing.
 * @param task     the task
 * @param B        trials (>= 1)
 * @param y        T*B*n_out outputs
 * @param target   as from rp_task_sample()
 * @param mask     T*B weights in [0, 1], or NULL for all ones
 * @param loss     receives the loss (may be NULL)
 * @param accuracy receives the accuracy (may be NULL)
 * @return #RP_OK, #RP_ERR_INVALID_ARG (NULL array, B = 0, class index out of
 *         range, a mask value outside [0, 1]), #RP_ERR_NONFINITE (a non-finite
 *         output or MSE target; the message names the step); on failure
 *         nothing is written
 */
RP_API RP_NODISCARD rp_status rp_task_score(const rp_task *task, size_t B, const double *y,
                                            const double *target, const double *mask, double *loss,
                                            double *accuracy);

/**
 * One choice per trial, as a referee scores a decision task: a trial's
 * choice is the class whose output, summed over the trial's decision steps
 * (the steps rp_task_score() counts for accuracy: mask > 0 and target class
 * != 0, fixate), is largest; ties go to the lower class, so a tie with
 * fixate is no response.  Over the trials that have decision steps:
 * @p response_rate is the fraction whose choice is not class 0, and
 * @p choice_acc the fraction whose choice is the target class of their first
 * decision step — over ALL those trials, so a network that keeps fixating
 * scores 0, one that always picks the same side of a two-sided task about
 * 0.5, and a random responder 0.5 on 2af (1/2 of the non-fixate classes in
 * general).  NaN when no trial has a decision step.  For CE (classification)
 * tasks; allocates nothing.
 * @param task          the task
 * @param B             trials (>= 1)
 * @param y             T*B*n_out outputs
 * @param target        as from rp_task_sample()
 * @param mask          T*B weights in [0, 1], or NULL for all ones
 * @param response_rate receives the response rate (may be NULL)
 * @param choice_acc    receives the choice accuracy (may be NULL)
 * @return #RP_OK, #RP_ERR_UNSUPPORTED (an MSE task), and the errors of
 *         rp_task_score() for the same arguments; on failure nothing is
 *         written
 * @since 1.1
 */
RP_API RP_NODISCARD rp_status rp_task_score_choices(const rp_task *task, size_t B, const double *y,
                                                    const double *target, const double *mask,
                                                    double *response_rate, double *choice_acc);

/**
 * @param kind the task
 * @return the task's name ("sines", "copy", "delayed_xor", "add", "2af", "dms", "cxt"), or NULL for an unknown kind.
 */
RP_API const char *rp_task_kind_name(rp_task_kind kind);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* RNNPLAST_H */
