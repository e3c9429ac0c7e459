/* Allocation fault injection (rp_allocator, rnnplast.h "Memory").

   A counting allocator fails the k-th allocation of one call, for k = 1, 2,
   ... until the call succeeds.  Every failure must return RP_ERR_NOMEM, give
   back every block it took (the live count returns to its value before the
   call), set *out to NULL and leave its inputs as they were: the network's
   parameters, state, initial state, rates and configuration are compared
   bitwise with a snapshot, a gradient with its value before, sentinels in
   the scalar outputs must survive, and a rule whose workspace growth failed
   must still give the gradient it gave before.

   The allocator fills every block with 0xA5 bytes, so a call that relied on
   zeroed memory would differ from the oracle: the same call on a twin
   network (the same values, malloc/free) must give bitwise the same result.
   Each block carries a header, so a pointer freed through the allocator that
   it did not hand out is counted (bad_free) instead of corrupting the heap.

   RP_ALLOC_REPORT=1 in the environment prints the number of allocation
   sites injected for each call. */
#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the counting allocator ---------------------------------------------- */

typedef struct counter {
    long calls;    /* allocations attempted since the last reset */
    long fail_at;  /* fail the fail_at-th attempt (1-based); 0 = never */
    long failed;   /* attempts refused */
    long live;     /* blocks handed out and not yet freed */
    long bad_free; /* frees of pointers this allocator did not hand out */
} counter;

#define HDR 16 /* keeps malloc's 16-byte alignment */
static const uint64_t MAGIC = 0x52505f414c4c4f43ULL;

static void *c_alloc(void *opaque, size_t size)
{
    counter *c = opaque;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at) {
        c->failed++;
        return NULL;
    }
    if (size == 0)
        c->bad_free += 1000; /* the header promises size > 0 */
    unsigned char *p = malloc(size + HDR);
    if (!p)
        return NULL;
    memcpy(p, &MAGIC, sizeof MAGIC);
    memset(p + HDR, 0xA5, size); /* not zero: the library must zero */
    c->live++;
    return p + HDR;
}

static void c_free(void *opaque, void *ptr)
{
    counter *c = opaque;
    if (!ptr) { /* the header promises never NULL */
        c->bad_free++;
        return;
    }
    unsigned char *p = (unsigned char *)ptr - HDR;
    uint64_t m;
    memcpy(&m, p, sizeof m);
    if (m != MAGIC) {
        c->bad_free++;
        return;
    }
    memset(p, 0, sizeof m);
    c->live--;
    free(p);
}

static counter C;
static const rp_allocator AL = {c_alloc, c_free, &C};

/* ---- the fixture: a net on the counting allocator and its malloc twin ---- */

enum { NI = 2, NR = 5, NO = 2, NB = 2, T1 = 4, T2 = 9, KL = 3 };
#define SNAP_MAX 256

typedef struct snap {
    double v[SNAP_MAX];
    size_t n;
    rp_net_config cfg;
} snap;

static void take(const rp_net *net, snap *s)
{
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(rp_net_get_config(net, &s->cfg, sizeof s->cfg), RP_OK);
    size_t BN = s->cfg.batch * s->cfg.n_rec;
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(net, p, &len), RP_OK);
        ck_assert(s->n + len <= SNAP_MAX);
        ck_assert_int_eq(rp_net_get_param(net, p, s->v + s->n, len), RP_OK);
        s->n += len;
    }
    ck_assert(s->n + 2 * BN + s->cfg.n_rec <= SNAP_MAX);
    ck_assert_int_eq(rp_net_get_state(net, s->v + s->n, BN), RP_OK);
    s->n += BN;
    ck_assert_int_eq(rp_net_get_rates(net, s->v + s->n, BN), RP_OK);
    s->n += BN;
    ck_assert_int_eq(rp_net_get_initial_state(net, s->v + s->n, s->cfg.n_rec), RP_OK);
    s->n += s->cfg.n_rec;
}

static int cfg_eq(const rp_net_config *a, const rp_net_config *b)
{
    return a->struct_size == b->struct_size && a->n_in == b->n_in && a->n_rec == b->n_rec &&
           a->n_out == b->n_out && a->batch == b->batch && a->alpha == b->alpha &&
           a->form == b->form && a->act == b->act && a->noise_std == b->noise_std &&
           a->seed == b->seed && a->batch_invariant == b->batch_invariant &&
           a->allocator == b->allocator;
}

static int snap_eq(const snap *a, const snap *b)
{
    return a->n == b->n && memcmp(a->v, b->v, a->n * sizeof(double)) == 0 &&
           cfg_eq(&a->cfg, &b->cfg);
}

/* Parameters and state equal, whatever the allocators. */
static int same_values(const rp_net *a, const rp_net *b)
{
    snap sa, sb;
    take(a, &sa);
    take(b, &sb);
    return sa.n == sb.n && memcmp(sa.v, sb.v, sa.n * sizeof(double)) == 0;
}

typedef struct fx {
    rp_net *net; /* on the counting allocator */
    rp_net *ref; /* malloc/free, the same values: the oracle's twin */
    snap before; /* net before the call under test */
    double x[T2 * NB * NI], tgt[T2 * NB * NO];
    char dir[64];
} fx;

static fx F;

static void fx_make(rp_form form, rp_activation act)
{
    memset(&C, 0, sizeof C);
    memset(&F, 0, sizeof F);
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = NI, c.n_rec = NR, c.n_out = NO, c.batch = NB;
    c.form = form, c.act = act, c.alpha = 0.7;
    c.allocator = &AL;
    ck_assert_int_eq(rp_net_create(&F.net, &c, NULL, 0), RP_OK);
    c.allocator = NULL;
    ck_assert_int_eq(rp_net_create(&F.ref, &c, NULL, 0), RP_OK);
    double buf[NR * NR];
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(F.net, p, &len), RP_OK);
        /* |W| < 0.6 over 5 units: a contracting, finite trajectory */
        tu_fill(buf, len, -0.6, 0.6, 10 + (uint64_t)p);
        ck_assert_int_eq(rp_net_set_param(F.net, p, buf, len), RP_OK);
        ck_assert_int_eq(rp_net_set_param(F.ref, p, buf, len), RP_OK);
    }
    tu_fill(buf, NR, -0.5, 0.5, 20);
    ck_assert_int_eq(rp_net_set_initial_state(F.net, buf, NR), RP_OK);
    ck_assert_int_eq(rp_net_set_initial_state(F.ref, buf, NR), RP_OK);
    ck_assert_int_eq(rp_net_reset(F.net), RP_OK);
    ck_assert_int_eq(rp_net_reset(F.ref), RP_OK);
    tu_fill(F.x, sizeof F.x / sizeof F.x[0], -1.0, 1.0, 30);
    tu_fill(F.tgt, sizeof F.tgt / sizeof F.tgt[0], -1.0, 1.0, 31);
}

static void fx_free(void)
{
    rp_net_free(F.net);
    rp_net_free(F.ref);
    F.net = F.ref = NULL;
    ck_assert_int_eq(C.bad_free, 0);
    ck_assert_msg(C.live == 0, "%ld blocks of the counting allocator were never freed", C.live);
}

/* ---- the injection loop -------------------------------------------------- */

/* One call under test, with its own state; `call` runs it, `failed` checks
   that a refused call left everything as it was, `succeeded` checks the
   result against the oracle and releases it. */
typedef struct job {
    char name[96];
    rp_status (*call)(struct job *j);
    void (*failed)(struct job *j);
    void (*succeeded)(struct job *j);
    int kind, variant;
    void *out;     /* the handle a constructor writes */
    void *h1, *h2; /* handles the call works on (on the counting allocator) */
    void *r1, *r2; /* their malloc twins */
    double s1, lam[KL];
    double g0[256]; /* a gradient's value before the call */
    size_t glen;
} job;

static int report(void)
{
    const char *e = getenv("RP_ALLOC_REPORT");
    return e && *e && strcmp(e, "0") != 0;
}

static char SENTINEL_HANDLE;
#define SENT ((void *)&SENTINEL_HANDLE)

/* Fail allocation k = 1, 2, ... of j->call until it runs with none failed;
   returns the number of allocations it makes (the sites injected). */
static long inject(job *j, long min_sites)
{
    for (long k = 1;; k++) {
        take(F.net, &F.before);
        long live0 = C.live;
        j->out = SENT;
        C.calls = 0, C.failed = 0, C.fail_at = k;
        rp_status st = j->call(j);
        C.fail_at = 0;
        if (C.failed == 0) { /* fewer than k allocations: nothing was refused */
            ck_assert_msg(st == RP_OK, "%s with no allocation refused: %s", j->name,
                          rp_status_string(st));
            ck_assert_msg(C.calls == k - 1, "%s made %ld allocations", j->name, C.calls);
            if (j->succeeded)
                j->succeeded(j);
            ck_assert_msg(k - 1 >= min_sites,
                          "%s: %ld allocations through the allocator, expected >= %ld", j->name,
                          k - 1, min_sites);
            if (report())
                fprintf(stderr, "alloc: %-36s %3ld sites injected, all survived\n", j->name, k - 1);
            return k - 1;
        }
        ck_assert_msg(st == RP_ERR_NOMEM, "%s, allocation %ld refused: %s, expected RP_ERR_NOMEM",
                      j->name, k, rp_status_string(st));
        ck_assert_msg(C.live == live0, "%s, allocation %ld refused: %ld blocks leaked", j->name, k,
                      C.live - live0);
        ck_assert_int_eq(C.bad_free, 0);
        snap now;
        take(F.net, &now);
        ck_assert_msg(snap_eq(&now, &F.before), "%s, allocation %ld refused: the net changed",
                      j->name, k);
        if (j->failed)
            j->failed(j);
    }
}

static void out_is_null(job *j)
{
    ck_assert_msg(j->out == NULL, "%s: *out is not NULL after a failure", j->name);
}

/* ---- gradients ------------------------------------------------------------ */

static size_t grad_read(const rp_grad *g, double *v)
{
    size_t n = 0;
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(F.net, p, &len), RP_OK);
        ck_assert(n + len <= 256);
        ck_assert_int_eq(rp_grad_get(g, p, v + n, len), RP_OK);
        n += len;
    }
    return n;
}

static void grad_fill(rp_grad *g, uint64_t seed)
{
    double v[NR * NR];
    for (rp_param p = RP_PARAM_W; p <= RP_PARAM_C; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(F.net, p, &len), RP_OK);
        tu_fill(v, len, -1.0, 1.0, seed + (uint64_t)p);
        ck_assert_int_eq(rp_grad_set(g, p, v, len), RP_OK);
    }
}

static void grad_unchanged(const job *j, const rp_grad *g)
{
    double v[256];
    size_t n = grad_read(g, v);
    ck_assert_msg(n == j->glen && memcmp(v, j->g0, n * sizeof(double)) == 0,
                  "%s: the gradient changed on a failure", j->name);
}

/* g must hold g0 + ref exactly: rp_*_trial adds its estimate with daxpy(1.0),
   one rounding per entry, the same as the test's addition. */
static void grad_is_sum(const job *j, const rp_grad *g, const rp_grad *ref)
{
    double v[256], r[256];
    size_t n = grad_read(g, v);
    grad_read(ref, r);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(v[i] == j->g0[i] + r[i], "%s: gradient entry %zu is %.17g, the oracle %.17g",
                      j->name, i, v[i], j->g0[i] + r[i]);
}

/* ---- constructors of net-based handles ------------------------------------ */

static rp_status call_net_create(job *j)
{
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(F.ref, &c, sizeof c), RP_OK);
    c.allocator = &AL;
    return rp_net_create((rp_net **)&j->out, &c, NULL, 0);
}

static void ok_net_create(job *j)
{
    /* Zeroed despite the allocator's 0xA5 fill: all parameters and state 0. */
    snap s;
    take(j->out, &s);
    for (size_t i = 0; i < s.n; i++)
        ck_assert_msg(s.v[i] == 0.0, "a new net's value %zu is %g, expected 0", i, s.v[i]);
    rp_net_free(j->out);
}

static rp_status call_net_clone(job *j) { return rp_net_clone((rp_net **)&j->out, F.net, NULL, 0); }

static void ok_net_clone(job *j)
{
    snap a, b;
    take(F.net, &a);
    take(j->out, &b);
    ck_assert(a.n == b.n && memcmp(a.v, b.v, a.n * sizeof(double)) == 0);
    ck_assert(b.cfg.allocator != NULL && b.cfg.allocator->alloc == c_alloc);
    rp_net_free(j->out);
}

static rp_status call_set_batch(job *j)
{
    (void)j;
    return rp_net_set_batch(F.net, 2 * NB + 1);
}

static void ok_set_batch(job *j)
{
    (void)j;
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(F.net, &c, sizeof c), RP_OK);
    ck_assert_uint_eq(c.batch, 2 * NB + 1);
    ck_assert_int_eq(rp_net_set_batch(F.net, NB), RP_OK);
    ck_assert(same_values(F.net, F.ref));
}

static rp_status call_grad_create(job *j)
{
    return rp_grad_create((rp_grad **)&j->out, F.net, NULL, 0);
}

static void ok_grad_create(job *j)
{
    double v[256];
    size_t n = grad_read(j->out, v);
    for (size_t i = 0; i < n; i++)
        ck_assert(v[i] == 0.0);
    rp_grad_free(j->out);
}

static rp_status call_rule_create(job *j)
{
    return rp_rule_create((rp_rule **)&j->out, F.net, (rp_rule_kind)j->kind, NULL, 0);
}

static void ok_rule_create(job *j) { rp_rule_free(j->out); }

static rp_status call_optim_create(job *j)
{
    return rp_optim_create((rp_optim **)&j->out, F.net, (rp_optim_kind)j->kind, NULL, 0);
}

static void ok_optim_create(job *j) { rp_optim_free(j->out); }

static rp_status call_lyap_create(job *j)
{
    rp_lyap_config c;
    rp_lyap_config_init(&c, sizeof c);
    c.t_ons = 2;
    return rp_lyap_create((rp_lyap **)&j->out, F.net, KL, &c, NULL, 0);
}

static void ok_lyap_create(job *j)
{
    /* The same spectrum as the malloc twin's estimator, bit for bit. */
    rp_lyap *r = NULL;
    rp_lyap_config c;
    rp_lyap_config_init(&c, sizeof c);
    c.t_ons = 2;
    RP_CK(rp_lyap_create(&r, F.ref, KL, &c, NULL, 0), F.ref, rp_net_last_error);
    RP_CK(rp_lyap_run(j->out, F.net, T2, NULL), (rp_lyap *)j->out, rp_lyap_last_error);
    RP_CK(rp_lyap_run(r, F.ref, T2, NULL), r, rp_lyap_last_error);
    double a[KL], b[KL];
    ck_assert_int_eq(rp_lyap_get_spectrum(j->out, a, KL), RP_OK);
    ck_assert_int_eq(rp_lyap_get_spectrum(r, b, KL), RP_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    rp_lyap_free(r);
    rp_lyap_free(j->out);
}

static rp_status call_lyap_max(job *j)
{
    return rp_lyap_max_direct(F.net, T2, NULL, 1, 1e-6, 5, &j->s1, NULL, 0);
}

static void failed_sentinel(job *j)
{
    ck_assert_msg(j->s1 == 12345.0, "%s wrote its output", j->name);
}

static void ok_lyap_max(job *j)
{
    double r = 0.0;
    RP_CK(rp_lyap_max_direct(F.ref, T2, NULL, 1, 1e-6, 5, &r, NULL, 0), F.ref, rp_net_last_error);
    ck_assert(j->s1 == r);
}

static rp_floss_config floss_cfg(int mode)
{
    rp_floss_config c;
    rp_floss_config_init(&c, sizeof c);
    c.k = KL;
    c.t_ons = 2;
    c.mode = (rp_floss_mode)mode;
    return c;
}

static rp_status call_floss_create(job *j)
{
    rp_floss_config c = floss_cfg(j->kind);
    return rp_floss_create((rp_floss **)&j->out, F.net, &c, NULL, 0);
}

static void ok_floss_create(job *j) { rp_floss_free(j->out); }

/* A fresh job; its name (for messages) is printf(fmt, ...). */
static void new_job(job *j, rp_status (*call)(job *), void (*failed)(job *),
                    void (*succeeded)(job *), const char *fmt, ...)
{
    memset(j, 0, sizeof *j);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->name, sizeof j->name, fmt, ap);
    va_end(ap);
    j->call = call;
    j->failed = failed;
    j->succeeded = succeeded;
}

static const rp_form FORMS[2] = {RP_FORM_VOLTAGE, RP_FORM_RATE};
static const char *const FORM_NAMES[2] = {"voltage", "rate"};
static const char *const RULE_NAMES[6] = {"bptt", "tbptt", "rtrl", "eprop", "rflo", "modprop"};

START_TEST(net_constructors)
{
    fx_make(FORMS[_i], RP_ACT_TANH);
    job j;
    new_job(&j, call_net_create, out_is_null, ok_net_create, "rp_net_create (%s, NULL, 0)",
            FORM_NAMES[_i]);
    inject(&j, 5);
    new_job(&j, call_net_clone, out_is_null, ok_net_clone, "rp_net_clone (%s, NULL, 0)",
            FORM_NAMES[_i]);
    inject(&j, 5);
    new_job(&j, call_set_batch, NULL, ok_set_batch, "rp_net_set_batch (%s)", FORM_NAMES[_i]);
    inject(&j, 1);
    new_job(&j, call_grad_create, out_is_null, ok_grad_create, "rp_grad_create (%s, NULL, 0)",
            FORM_NAMES[_i]);
    inject(&j, 2);
    for (int k = 0; k < 2; k++) {
        new_job(&j, call_optim_create, out_is_null, ok_optim_create,
                "rp_optim_create (%s, %s, NULL, 0)", k ? "adam" : "sgd", FORM_NAMES[_i]);
        j.kind = k;
        inject(&j, 2);
    }
    new_job(&j, call_lyap_create, out_is_null, ok_lyap_create, "rp_lyap_create (%s, NULL, 0)",
            FORM_NAMES[_i]);
    inject(&j, 2);
    new_job(&j, call_lyap_max, failed_sentinel, ok_lyap_max, "rp_lyap_max_direct (%s, NULL, 0)",
            FORM_NAMES[_i]);
    j.s1 = 12345.0;
    inject(&j, 1);
    for (int m = 0; m < 2; m++) {
        new_job(&j, call_floss_create, out_is_null, ok_floss_create,
                "rp_floss_create (%s, %s, NULL, 0)", m ? "local" : "exact", FORM_NAMES[_i]);
        j.kind = m;
        inject(&j, 2);
    }
    fx_free();
}
END_TEST

/* ---- rules: create, first trial, growth, online begin --------------------- */

static rp_status call_trial(job *j)
{
    return rp_rule_trial(j->h1, F.net, (size_t)j->variant, F.x, F.tgt, NULL, j->h2, &j->s1);
}

/* A refused trial: gradient and loss untouched, and the rule still gives,
   at the steps it could already hold, the gradient its twin gives. */
static void failed_trial(job *j)
{
    failed_sentinel(j);
    grad_unchanged(j, j->h2);
    if (j->variant == T1)
        return; /* a trial here would make the workspaces the next k must refuse */
    rp_grad *a = NULL, *b = NULL;
    ck_assert_int_eq(rp_grad_create(&a, F.net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&b, F.ref, NULL, 0), RP_OK);
    double la = 0.0, lb = 0.0;
    RP_CK(rp_rule_trial(j->h1, F.net, T1, F.x, F.tgt, NULL, a, &la), (rp_rule *)j->h1,
          rp_rule_last_error);
    RP_CK(rp_rule_trial(j->r1, F.ref, T1, F.x, F.tgt, NULL, b, &lb), (rp_rule *)j->r1,
          rp_rule_last_error);
    double va[256], vb[256];
    size_t n = grad_read(a, va);
    grad_read(b, vb);
    ck_assert_msg(la == lb && memcmp(va, vb, n * sizeof(double)) == 0,
                  "%s: after a refused growth the rule no longer matches its twin", j->name);
    rp_grad_free(a);
    rp_grad_free(b);
}

static void ok_trial(job *j)
{
    rp_grad *r = NULL;
    ck_assert_int_eq(rp_grad_create(&r, F.ref, NULL, 0), RP_OK);
    double l = 0.0;
    RP_CK(rp_rule_trial(j->r1, F.ref, (size_t)j->variant, F.x, F.tgt, NULL, r, &l),
          (rp_rule *)j->r1, rp_rule_last_error);
    ck_assert(j->s1 == l);
    grad_is_sum(j, j->h2, r);
    rp_grad_free(r);
}

static rp_status call_begin(job *j) { return rp_rule_begin(j->h1, F.net); }

/* ModProp's two cell types (units 1 and 3 of type 1). */
static const unsigned TYPES2[NR] = {0, 1, 0, 1, 0};
static rp_status call_set_types(job *j) { return rp_rule_set_cell_types(j->h1, TYPES2, NR); }

/* A refused rp_rule_set_cell_types keeps the rule as it was: its trial
   equals that of a twin with the default (one) type. */
static void failed_set_types(job *j)
{
    rp_grad *a = NULL, *b = NULL;
    ck_assert_int_eq(rp_grad_create(&a, F.net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&b, F.ref, NULL, 0), RP_OK);
    double la = 0.0, lb = 0.0, ga[256], gb[256];
    RP_CK(rp_rule_trial(j->h1, F.net, T1, F.x, F.tgt, NULL, a, &la), (rp_rule *)j->h1,
          rp_rule_last_error);
    RP_CK(rp_rule_trial(j->r1, F.ref, T1, F.x, F.tgt, NULL, b, &lb), (rp_rule *)j->r1,
          rp_rule_last_error);
    size_t n = grad_read(a, ga);
    ck_assert_uint_eq(grad_read(b, gb), n);
    ck_assert_msg(memcmp(ga, gb, n * sizeof(double)) == 0 && la == lb,
                  "%s: a refused call changed the rule", j->name);
    rp_grad_free(a);
    rp_grad_free(b);
}

static void failed_begin(job *j)
{
    /* No stream was opened. */
    ck_assert_int_eq(rp_rule_end(j->h1, NULL), RP_ERR_STATE);
}

/* The stream works and matches the twin's, step by step. */
static void ok_begin(job *j)
{
    RP_CK(rp_rule_begin(j->r1, F.ref), (rp_rule *)j->r1, rp_rule_last_error);
    rp_grad *a = NULL, *b = NULL;
    ck_assert_int_eq(rp_grad_create(&a, F.net, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_grad_create(&b, F.ref, NULL, 0), RP_OK);
    for (size_t t = 0; t < T1; t++) {
        const double *xt = F.x + t * NB * NI, *yt = F.tgt + t * NB * NO;
        RP_CK(rp_net_step(F.net, xt, NULL), F.net, rp_net_last_error);
        RP_CK(rp_net_step(F.ref, xt, NULL), F.ref, rp_net_last_error);
        RP_CK(rp_rule_step(j->h1, F.net, xt, yt, NULL, a), (rp_rule *)j->h1, rp_rule_last_error);
        RP_CK(rp_rule_step(j->r1, F.ref, xt, yt, NULL, b), (rp_rule *)j->r1, rp_rule_last_error);
    }
    double la = 0.0, lb = 0.0, va[256], vb[256];
    ck_assert_int_eq(rp_rule_end(j->h1, &la), RP_OK);
    ck_assert_int_eq(rp_rule_end(j->r1, &lb), RP_OK);
    size_t n = grad_read(a, va);
    grad_read(b, vb);
    ck_assert(la == lb && memcmp(va, vb, n * sizeof(double)) == 0);
    rp_grad_free(a);
    rp_grad_free(b);
    ck_assert_int_eq(rp_net_reset(F.net), RP_OK);
    ck_assert_int_eq(rp_net_reset(F.ref), RP_OK);
}

/* rp_rule_set_online_block (1.2): a refused call keeps K = 1 and no block. */
static rp_status call_set_block(job *j) { return rp_rule_set_online_block(j->h1, 3); }

static void failed_set_block(job *j)
{
    size_t K = 0, pending = 9;
    RP_CK(rp_rule_get_online_block(j->h1, &K, &pending), (rp_rule *)j->h1, rp_rule_last_error);
    ck_assert_msg(K == 1 && pending == 0, "%s: a refused call changed the block (K %zu)", j->name,
                  K);
}

static void ok_set_block(job *j)
{
    size_t K = 0;
    RP_CK(rp_rule_get_online_block(j->h1, &K, NULL), (rp_rule *)j->h1, rp_rule_last_error);
    ck_assert_uint_eq(K, 3);
}

START_TEST(rules)
{
    const int kind = _i / 2, fi = _i % 2;
    fx_make(FORMS[fi], RP_ACT_TANH);
    job j;
    new_job(&j, call_rule_create, out_is_null, ok_rule_create, "rp_rule_create (%s, %s, NULL, 0)",
            RULE_NAMES[kind], FORM_NAMES[fi]);
    j.kind = kind;
    inject(&j, 3);

    rp_rule *rule = NULL, *twin = NULL;
    RP_CK(rp_rule_create(&rule, F.net, (rp_rule_kind)kind, NULL, 0), F.net, rp_net_last_error);
    RP_CK(rp_rule_create(&twin, F.ref, (rp_rule_kind)kind, NULL, 0), F.ref, rp_net_last_error);
    if (kind == RP_RULE_TBPTT) {
        ck_assert_int_eq(rp_rule_set_truncation(rule, 3), RP_OK);
        ck_assert_int_eq(rp_rule_set_truncation(twin, 3), RP_OK);
    }
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, F.net, NULL, 0), RP_OK);
    /* First trial (workspaces for T1 steps), then growth to T2. */
    for (int step = 0; step < 2; step++) {
        new_job(&j, call_trial, failed_trial, ok_trial, "rp_rule_trial %s (%s, %s)",
                step ? "growth" : "first", RULE_NAMES[kind], FORM_NAMES[fi]);
        j.h1 = rule, j.h2 = g, j.r1 = twin;
        j.variant = step ? T2 : T1;
        j.s1 = 12345.0;
        grad_fill(g, 40 + (uint64_t)step);
        j.glen = grad_read(g, j.g0);
        /* RTRL's workspaces do not depend on T: no allocation to refuse. */
        inject(&j, kind == RP_RULE_RTRL ? 0 : 1);
    }
    if (kind == RP_RULE_MODPROP) { /* after the trials: a refusal's check runs one
                                   */
        new_job(&j, call_set_types, failed_set_types, NULL, "rp_rule_set_cell_types (%s)",
                FORM_NAMES[fi]);
        j.h1 = rule, j.r1 = twin;
        inject(&j, 1);
        ck_assert_int_eq(rp_rule_set_cell_types(twin, TYPES2, NR), RP_OK);
    }
    if ((kind == RP_RULE_EPROP || kind == RP_RULE_RFLO) && FORMS[fi] == RP_FORM_VOLTAGE) {
        new_job(&j, call_set_block, failed_set_block, ok_set_block, "rp_rule_set_online_block (%s)",
                RULE_NAMES[kind]);
        j.h1 = rule;
        inject(&j, 6); /* the six arrays of the block */
        ck_assert_int_eq(rp_rule_set_online_block(rule, 1), RP_OK); /* frees them */
    }
    if (kind != RP_RULE_BPTT && kind != RP_RULE_TBPTT) {
        new_job(&j, call_begin, failed_begin, ok_begin, "rp_rule_begin (%s, %s)", RULE_NAMES[kind],
                FORM_NAMES[fi]);
        j.h1 = rule, j.r1 = twin;
        /* The rate form's e-prop/RFLO traces are allocated by the first
           begin, and ModProp's filter state in either form. */
        int traces = kind >= RP_RULE_EPROP && FORMS[fi] == RP_FORM_RATE;
        inject(&j, (traces ? 1 : 0) + (kind == RP_RULE_MODPROP ? 1 : 0));
    }
    rp_grad_free(g);
    rp_rule_free(rule);
    rp_rule_free(twin);
    fx_free();
}
END_TEST

/* ---- flossing's first trial ----------------------------------------------- */

static rp_status call_floss_trial(job *j)
{
    return rp_floss_trial(j->h1, F.net, T2, F.x, j->h2, &j->s1, j->lam);
}

static void failed_floss_trial(job *j)
{
    failed_sentinel(j);
    for (int i = 0; i < KL; i++)
        ck_assert(j->lam[i] == 777.0);
    grad_unchanged(j, j->h2);
}

static void ok_floss_trial(job *j)
{
    rp_grad *r = NULL;
    ck_assert_int_eq(rp_grad_create(&r, F.ref, NULL, 0), RP_OK);
    double Fr = 0.0, lr[KL];
    RP_CK(rp_floss_trial(j->r1, F.ref, T2, F.x, r, &Fr, lr), (rp_floss *)j->r1,
          rp_floss_last_error);
    ck_assert(j->s1 == Fr && memcmp(j->lam, lr, sizeof lr) == 0);
    grad_is_sum(j, j->h2, r);
    rp_grad_free(r);
}

START_TEST(floss_trial)
{
    const int mode = _i / 2, fi = _i % 2;
    fx_make(FORMS[fi], RP_ACT_TANH);
    /* x as one trajectory: T2 * NI doubles (the first rows of F.x). */
    rp_floss_config c = floss_cfg(mode);
    rp_floss *fl = NULL, *twin = NULL;
    RP_CK(rp_floss_create(&fl, F.net, &c, NULL, 0), F.net, rp_net_last_error);
    RP_CK(rp_floss_create(&twin, F.ref, &c, NULL, 0), F.ref, rp_net_last_error);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, F.net, NULL, 0), RP_OK);
    grad_fill(g, 50);
    job j;
    new_job(&j, call_floss_trial, failed_floss_trial, ok_floss_trial,
            "rp_floss_trial first (%s, %s)", mode ? "local" : "exact", FORM_NAMES[fi]);
    j.h1 = fl, j.h2 = g, j.r1 = twin;
    j.s1 = 12345.0;
    for (int i = 0; i < KL; i++)
        j.lam[i] = 777.0;
    j.glen = grad_read(g, j.g0);
    inject(&j, 1);
    rp_grad_free(g);
    rp_floss_free(fl);
    rp_floss_free(twin);
    fx_free();
}
END_TEST

/* ---- initializers and tasks (their own allocator) ------------------------ */

static rp_status call_init_create(job *j)
{
    return rp_init_create_alloc((rp_init **)&j->out, (rp_init_kind)j->kind, &AL, NULL, 0);
}

static void ok_init_create(job *j) { rp_init_free(j->out); }

static void init_setup(rp_init *in, int variant)
{
    /* Denser than the default p = 0.1, so that a 5 x 5 sparse draw is not
       nilpotent (radius 0 cannot be rescaled); 3 of 5 columns excitatory
       leave Dale's law two of each type with the zero diagonal. */
    ck_assert_int_eq(rp_init_set_sparsity(in, 0.6), RP_OK);
    ck_assert_int_eq(rp_init_set_dale_fraction(in, 0.6), RP_OK);
    if (variant == 1)
        ck_assert_int_eq(rp_init_set_spectral_radius(in, 0.9), RP_OK);
    if (variant == 2)
        ck_assert_int_eq(rp_init_set_zero_diagonal(in, 1), RP_OK);
}

static rp_status call_init_apply(job *j) { return rp_init_apply(j->h1, F.net, RP_PARAM_W, 99); }

static void ok_init_apply(job *j)
{
    ck_assert_int_eq(rp_init_apply(j->r1, F.ref, RP_PARAM_W, 99), RP_OK);
    ck_assert(same_values(F.net, F.ref));
}

static const char *const INIT_NAMES[7] = {"gaussian", "uniform",  "orthogonal", "sparse",
                                          "dale",     "low_rank", "zeros"};

START_TEST(inits)
{
    fx_make(RP_FORM_VOLTAGE, RP_ACT_TANH);
    const int kind = _i;
    job j;
    new_job(&j, call_init_create, out_is_null, ok_init_create, "rp_init_create_alloc (%s, NULL, 0)",
            INIT_NAMES[kind]);
    j.kind = kind;
    inject(&j, 1);
    /* Plain, then with a spectral radius (a second LAPACK path), then a zero diagonal. */
    for (int v = 0; v < 3; v++) {
        if (kind == RP_INIT_ZEROS && v == 1)
            continue; /* the zero matrix has no spectral radius to rescale */
        rp_init *in = NULL, *twin = NULL;
        ck_assert_int_eq(rp_init_create_alloc(&in, (rp_init_kind)kind, &AL, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_init_create(&twin, (rp_init_kind)kind, NULL, 0), RP_OK);
        init_setup(in, v);
        init_setup(twin, v);
        new_job(&j, call_init_apply, NULL, ok_init_apply, "rp_init_apply (%s%s)", INIT_NAMES[kind],
                v == 1   ? ", radius"
                : v == 2 ? ", zero diagonal"
                         : "");
        j.h1 = in, j.r1 = twin;
        inject(&j, 1);
        rp_init_free(in);
        rp_init_free(twin);
    }
    fx_free();
}
END_TEST

static rp_status call_task_create(job *j)
{
    return rp_task_create_alloc((rp_task **)&j->out, (rp_task_kind)j->kind, NULL, &AL, NULL, 0);
}

static void ok_task_create(job *j)
{
    /* The same samples as a task on malloc. */
    rp_task *r = NULL;
    ck_assert_int_eq(rp_task_create(&r, (rp_task_kind)j->kind, NULL, NULL, 0), RP_OK);
    size_t ni, no, T;
    rp_loss loss;
    ck_assert_int_eq(rp_task_get_dims(r, &ni, &no, &T, &loss), RP_OK);
    size_t nx = T * 2 * ni, ny = T * 2 * (loss == RP_LOSS_CE ? 1 : no);
    double *a = calloc(2 * (nx + ny + T * 2), sizeof(double));
    double *b = a + nx + ny + T * 2;
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(rp_task_sample(j->out, 2, 7, a, a + nx, a + nx + ny), RP_OK);
    ck_assert_int_eq(rp_task_sample(r, 2, 7, b, b + nx, b + nx + ny), RP_OK);
    ck_assert_int_eq(memcmp(a, b, (nx + ny + T * 2) * sizeof(double)), 0);
    free(a);
    rp_task_free(r);
    rp_task_free(j->out);
}

START_TEST(tasks)
{
    /* A task needs no net, but inject() snapshots F.net: make one. */
    fx_make(RP_FORM_VOLTAGE, RP_ACT_TANH);
    job j;
    new_job(&j, call_task_create, out_is_null, ok_task_create, "rp_task_create_alloc (%s, NULL, 0)",
            rp_task_kind_name((rp_task_kind)_i));
    j.kind = _i;
    inject(&j, 1);
    fx_free();
}
END_TEST

/* ---- files ----------------------------------------------------------------- */

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void path_in(char *buf, size_t len, const char *file)
{
    snprintf(buf, len, "%s/%s", F.dir, file);
}

static rp_status call_load(job *j)
{
    char p[128];
    path_in(p, sizeof p, "net.rpn");
    char msg[256];
    return rp_net_load_alloc((rp_net **)&j->out, p, &AL, msg, sizeof msg);
}

static void ok_load(job *j)
{
    ck_assert(same_values(j->out, F.ref));
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(j->out, &c, sizeof c), RP_OK);
    ck_assert(c.allocator != NULL && c.allocator->alloc == c_alloc);
    rp_net_free(j->out);
}

static rp_status call_save(job *j)
{
    (void)j;
    char p[128];
    path_in(p, sizeof p, "saved.rpn");
    return rp_net_save(F.net, p);
}

/* A refused save leaves nothing: no file, no temporary. */
static void failed_save(job *j)
{
    ck_assert_msg(dir_entries(F.dir) == j->kind, "%s left a file behind", j->name);
}

static void ok_save(job *j)
{
    char p[128];
    path_in(p, sizeof p, "saved.rpn");
    rp_net *n = NULL;
    ck_assert_int_eq(rp_net_load(&n, p, NULL, 0), RP_OK);
    ck_assert(same_values(n, F.ref));
    rp_net_free(n);
    ck_assert_int_eq(unlink(p), 0);
    (void)j;
}

static rp_status call_save_npy(job *j)
{
    char p[128];
    path_in(p, sizeof p, "x.npy");
    if (j->variant == 0)
        return rp_net_save_param_npy(F.net, RP_PARAM_W, p);
    return rp_grad_save_param_npy(j->h1, RP_PARAM_W, p);
}

static void ok_save_npy(job *j)
{
    char p[128];
    path_in(p, sizeof p, "x.npy");
    ck_assert_int_eq(unlink(p), 0);
    (void)j;
}

static rp_status call_load_npy(job *j)
{
    (void)j;
    char p[128];
    path_in(p, sizeof p, "w.npy");
    return rp_net_load_param_npy(F.net, RP_PARAM_W, p);
}

static void ok_load_npy(job *j)
{
    (void)j;
    double w[NR * NR], v[NR * NR];
    ck_assert_int_eq(rp_net_get_param(F.net, RP_PARAM_W, w, NR * NR), RP_OK);
    tu_fill(v, NR * NR, -2.0, 2.0, 60);
    ck_assert_int_eq(memcmp(w, v, sizeof w), 0);
}

START_TEST(files)
{
    fx_make(FORMS[_i], RP_ACT_RELU);
    snprintf(F.dir, sizeof F.dir, "/tmp/rp_test_alloc_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(F.dir));
    char p[128];
    path_in(p, sizeof p, "net.rpn");
    RP_CK(rp_net_save(F.ref, p), F.ref, rp_net_last_error);
    job j;
    new_job(&j, call_load, out_is_null, ok_load, "rp_net_load_alloc (%s)", FORM_NAMES[_i]);
    inject(&j, 5);

    new_job(&j, call_save, failed_save, ok_save, "rp_net_save (%s)", FORM_NAMES[_i]);
    j.kind = dir_entries(F.dir);
    inject(&j, 1);

    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, F.net, NULL, 0), RP_OK);
    for (int v = 0; v < 2; v++) {
        new_job(&j, call_save_npy, failed_save, ok_save_npy, "%s (%s)",
                v ? "rp_grad_save_param_npy" : "rp_net_save_param_npy", FORM_NAMES[_i]);
        j.kind = dir_entries(F.dir);
        j.variant = v;
        j.h1 = g;
        inject(&j, 1);
    }
    rp_grad_free(g);

    /* Loading W from an .npy file: header text, the read buffer, the copy. */
    double w[NR * NR];
    tu_fill(w, NR * NR, -2.0, 2.0, 60);
    size_t shape[2] = {NR, NR};
    path_in(p, sizeof p, "w.npy");
    ck_assert_int_eq(rp_npy_save(p, w, 2, shape, NULL, 0), RP_OK);
    new_job(&j, call_load_npy, NULL, ok_load_npy, "rp_net_load_param_npy (%s)", FORM_NAMES[_i]);
    inject(&j, 2);

    unlink(p);
    path_in(p, sizeof p, "net.rpn");
    unlink(p);
    ck_assert_int_eq(rmdir(F.dir), 0);
    fx_free();
}
END_TEST

/* ---- the allocator's contract ---------------------------------------------- */

static rp_net *net_with_scoped_allocator(void)
{
    /* The struct lives on this frame only: the net must keep its own copy. */
    rp_allocator scoped = {c_alloc, c_free, &C};
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_rec = 4;
    c.allocator = &scoped;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    return net;
}

START_TEST(contract)
{
    memset(&C, 0, sizeof C);
    rp_net *net = net_with_scoped_allocator();
    long live = C.live;
    ck_assert_int_gt(live, 0);
    /* A handle from the net allocates through the net's copy. */
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    ck_assert_int_gt(C.live, live);
    rp_grad_free(g);
    ck_assert_int_eq(C.live, live);
    /* get_config points at the net's copy, so a clone shares the allocator. */
    rp_net_config c;
    ck_assert_int_eq(rp_net_get_config(net, &c, sizeof c), RP_OK);
    ck_assert_ptr_nonnull(c.allocator);
    ck_assert(c.allocator->alloc == c_alloc && c.allocator->free == c_free &&
              c.allocator->opaque == &C);
    rp_net *cl = NULL;
    ck_assert_int_eq(rp_net_clone(&cl, net, NULL, 0), RP_OK);
    ck_assert_int_eq(C.live, 2 * live);
    rp_net_free(cl);
    rp_net_free(net);
    ck_assert_int_eq(C.live, 0);

    /* Both functions NULL: the C library's (nothing counted); one NULL: refused. */
    rp_allocator none = {NULL, NULL, &C}, half = {c_alloc, NULL, &C}, half2 = {NULL, c_free, &C};
    rp_net_config_init(&c, sizeof c);
    c.allocator = &none;
    long calls = C.calls;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    ck_assert_int_eq(C.calls, calls);
    ck_assert_int_eq(rp_net_get_config(net, &c, sizeof c), RP_OK);
    ck_assert_ptr_null(c.allocator);
    rp_net_free(net);
    const rp_allocator *bad[2] = {&half, &half2};
    for (int i = 0; i < 2; i++) {
        rp_net_config_init(&c, sizeof c);
        c.allocator = bad[i];
        net = SENT;
        ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_ERR_INVALID_ARG);
        ck_assert_ptr_null(net);
        char msg[256] = "";
        ck_assert_int_eq(rp_net_config_check(&c, msg, sizeof msg), RP_ERR_INVALID_ARG);
        ck_assert_msg(strstr(msg, "allocator") != NULL, "message: %s", msg);
        rp_init *in = SENT;
        ck_assert_int_eq(rp_init_create_alloc(&in, RP_INIT_GAUSSIAN, bad[i], NULL, 0),
                         RP_ERR_INVALID_ARG);
        ck_assert_ptr_null(in);
        rp_task *t = SENT;
        ck_assert_int_eq(rp_task_create_alloc(&t, RP_TASK_SINES, NULL, bad[i], NULL, 0),
                         RP_ERR_INVALID_ARG);
        ck_assert_ptr_null(t);
        net = SENT;
        ck_assert_int_eq(rp_net_load_alloc(&net, "/nonexistent", bad[i], msg, sizeof msg),
                         RP_ERR_INVALID_ARG);
        ck_assert_ptr_null(net);
        ck_assert_msg(strstr(msg, "allocator") != NULL, "message: %s", msg);
    }
    ck_assert_int_eq(C.live, 0);
    ck_assert_int_eq(C.bad_free, 0);
}
END_TEST

Suite *suite_alloc(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("inject");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, net_constructors, 0, 2);
    tcase_add_loop_test(tc, rules, 0, 12);      /* 6 kinds x 2 forms */
    tcase_add_loop_test(tc, floss_trial, 0, 4); /* 2 modes x 2 forms */
    tcase_add_loop_test(tc, inits, 0, 7);
    tcase_add_loop_test(tc, tasks, 0, 7);
    tcase_add_loop_test(tc, files, 0, 2);
    tcase_add_test(tc, contract);
    suite_add_tcase(s, tc);
    return s;
}
