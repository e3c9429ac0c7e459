/* An outside program for tests/config_abi.sh: the rules of "Configuration
   structs grow" (rnnplast.h) checked across versions.  It is built against
   the installed-style header (-Iinclude) and linked against a library whose
   configuration structs may be longer or shorter than its own:

     caller plain, LIB_GROWN=1: an old caller (1.0 header) with a newer library
     caller -DRP_TEST_GROWN, LIB_GROWN=0: a new caller with the 1.0 library
     caller -DRP_TEST_GROWN, LIB_GROWN=1: a new caller with its own version

   -DRP_TEST_GROWN appends `double rp_test_future` to every configuration
   struct (the library's default for it: RP_TEST_GROWN_DEFAULT = 0.25).  The
   oracles are the header's documented defaults and byte counts taken from
   this program's own sizeof, never the library's code. */
#include <rnnplast.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifndef LIB_GROWN
#error "LIB_GROWN (0 or 1) says which library this program is linked with"
#endif
#ifdef RP_TEST_GROWN
#define CALLER_GROWN 1
#else
#define CALLER_GROWN 0
#endif
#define FUTURE ((size_t)sizeof(double)) /* bytes the grown structs add */
#define GROWN_DEFAULT 0.25              /* RP_TEST_GROWN_DEFAULT; checked below */

static int checks, fails;
#define CHECK(cond, ...)                                          \
    do {                                                          \
        checks++;                                                 \
        if (!(cond)) {                                            \
            fails++;                                              \
            printf("FAIL %s:%d (%s): ", __FILE__, __LINE__, cur); \
            printf(__VA_ARGS__);                                  \
            printf("\n");                                         \
        }                                                         \
    } while (0)

static const char *cur = "";
static char msg[512];

/* The caller's memory: a struct of up to 4 KiB, then a canary. */
enum { ARENA = 8192, CANARY = 64, GARBAGE = 0xEE, BIRD = 0xA5 };
static union {
    max_align_t align;
    unsigned char b[ARENA];
} m;

static void *arena(size_t size)
{
    memset(m.b, GARBAGE, size);
    memset(m.b + size, BIRD, CANARY);
    return m.b;
}
static int canary_ok(size_t size)
{
    for (size_t i = size; i < size + CANARY; i++)
        if (m.b[i] != BIRD)
            return 0;
    return 1;
}
static int all_garbage(size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m.b[i] != GARBAGE)
            return 0;
    return 1;
}
static int zeros(size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (m.b[i])
            return 0;
    return 1;
}
static size_t get_struct_size(void)
{
    size_t s;
    memcpy(&s, m.b, sizeof s);
    return s;
}
static void set_struct_size(size_t s) { memcpy(m.b, &s, sizeof s); }
static double get_double(size_t off)
{
    double d;
    memcpy(&d, m.b + off, sizeof d);
    return d;
}
#ifdef RP_TEST_GROWN
static void set_double(size_t off, double d) { memcpy(m.b + off, &d, sizeof d); }
#endif

/* One struct type as this caller and the linked library see it. */
typedef struct kind {
    const char *name;
    size_t S;     /* the caller's sizeof */
    size_t plain; /* the size in this test's plain header */
    size_t first; /* the 1.0 size, the smallest accepted (rp_net_config grew in 1.2) */
    size_t L;     /* the library's sizeof */
    rp_status (*init)(void *cfg, size_t size);
    /* readers: a check that writes msg, and a create (or other reader) */
    rp_status (*check)(const void *cfg);
    rp_status (*create)(const void *cfg);
} kind;

static kind mk(const char *name, size_t S, rp_status (*init)(void *, size_t),
               rp_status (*check)(const void *), rp_status (*create)(const void *))
{
    kind k = {name, S, S - CALLER_GROWN * FUTURE, 0, 0, init, check, create};
    k.first = k.plain;
    k.L = k.plain + LIB_GROWN * FUTURE;
    return k;
}

/* ---- the wrappers ----------------------------------------------------- */

static rp_net *net; /* n_rec 8, for the lyap and floss readers */

static rp_status net_init(void *c, size_t s) { return rp_net_config_init(c, s); }
static rp_status net_check(const void *c) { return rp_net_config_check(c, msg, sizeof msg); }
static rp_status net_create(const void *c)
{
    rp_net *n = (rp_net *)1;
    rp_status st = rp_net_create(&n, c, NULL, 0);
    CHECK(st == RP_OK ? n != NULL : n == NULL, "out on status %d", st);
    rp_net_free(n);
    return st;
}
static rp_status lyap_init(void *c, size_t s) { return rp_lyap_config_init(c, s); }
static rp_status lyap_check(const void *c)
{
    return rp_lyap_config_check(net, 2, c, msg, sizeof msg);
}
static rp_status lyap_create(const void *c)
{
    rp_lyap *l = (rp_lyap *)1;
    rp_status st = rp_lyap_create(&l, net, 2, c, NULL, 0);
    CHECK(st == RP_OK ? l != NULL : l == NULL, "out on status %d", st);
    rp_lyap_free(l);
    return st;
}
static rp_status floss_init(void *c, size_t s) { return rp_floss_config_init(c, s); }
static rp_status floss_check(const void *c)
{
    return rp_floss_config_check(net, c, msg, sizeof msg);
}
static rp_status floss_create(const void *c)
{
    rp_floss *f = (rp_floss *)1;
    rp_status st = rp_floss_create(&f, net, c, NULL, 0);
    CHECK(st == RP_OK ? f != NULL : f == NULL, "out on status %d", st);
    rp_floss_free(f);
    return st;
}
static rp_status sched_init(void *c, size_t s) { return rp_floss_schedule_init(c, s); }
static rp_status sched_check(const void *c) { return rp_floss_schedule_check(c, msg, sizeof msg); }
static rp_status sched_at(const void *c)
{
    int task = -1;
    double w = -1.0;
    rp_status st = rp_floss_schedule_at(c, 0, &task, &w);
    CHECK(st == RP_OK ? (task == 1 && w == 0.0) : (task == -1 && w == -1.0),
          "schedule_at wrote %d %g on status %d", task, w, st);
    return st;
}
static rp_status task_init(void *c, size_t s) { return rp_task_config_init(c, s, RP_TASK_2AF); }
static rp_status task_check(const void *c)
{
    return rp_task_config_check(RP_TASK_2AF, c, msg, sizeof msg);
}
static rp_status task_create(const void *c)
{
    rp_task *t = (rp_task *)1;
    rp_status st = rp_task_create(&t, RP_TASK_2AF, c, NULL, 0);
    CHECK(st == RP_OK ? t != NULL : t == NULL, "out on status %d", st);
    rp_task_free(t);
    return st;
}

/* ---- the cases -------------------------------------------------------- */

/* init: writes the caller's S bytes only, struct_size = S, the part beyond
   the library's struct zero; refuses bad sizes writing nothing. */
static void init_cases(const kind *k)
{
    void *c = arena(k->S);
    CHECK(k->init(c, k->S) == RP_OK, "init with sizeof");
    CHECK(get_struct_size() == k->S, "struct_size %zu, expected %zu", get_struct_size(), k->S);
    CHECK(canary_ok(k->S), "init wrote past the caller's %zu bytes", k->S);
    if (k->S > k->L)
        CHECK(zeros(k->L, k->S), "the tail the library does not know is not zeroed");
#ifdef RP_TEST_GROWN
    CHECK(get_double(k->plain) == (LIB_GROWN ? GROWN_DEFAULT : 0.0),
          "rp_test_future after init is %g", get_double(k->plain));
#endif
    const size_t bad[] = {k->first - sizeof(size_t), k->S + 4, 4096 + sizeof(size_t), 0};
    for (int i = 0; i < 4; i++) {
        c = arena(k->S + 8);
        CHECK(k->init(c, bad[i]) == RP_ERR_INVALID_ARG, "init accepted size %zu", bad[i]);
        CHECK(all_garbage(k->S + 8) && canary_ok(k->S + 8), "a refused init wrote");
    }
    CHECK(k->init(NULL, k->S) == RP_ERR_INVALID_ARG, "init accepted NULL");
}

/* Every reader: the caller's own struct; a field the library lacks, set and
   unset; a larger struct with a zero and a non-zero tail; bad sizes. */
static void reader_cases(const kind *k, rp_status (*read)(const void *), int has_msg)
{
    void *c = arena(k->S);
    (void)k->init(c, k->S);
    CHECK(read(c) == RP_OK, "the caller's own struct refused: %s", msg);
#ifdef RP_TEST_GROWN
    set_double(k->plain, 1.0);
    msg[0] = 0;
    rp_status st = read(c);
    CHECK(st == (LIB_GROWN ? RP_OK : RP_ERR_INVALID_ARG), "a set unknown field gave %d", st);
    if (!LIB_GROWN && has_msg)
        CHECK(strstr(msg, "struct_size") && strstr(msg, "byte"), "message: %s", msg);
    set_double(k->plain, 0.0);
    CHECK(read(c) == RP_OK, "zero in the field the library lacks refused: %s", msg);
#endif
    /* An even newer caller: 64 more bytes. */
    memset(m.b + k->S, 0, 64);
    set_struct_size(k->S + 64);
    CHECK(read(c) == RP_OK, "struct_size S+64 with a zero tail refused: %s", msg);
    m.b[k->S + 63] = 1;
    msg[0] = 0;
    CHECK(read(c) == RP_ERR_INVALID_ARG, "a non-zero byte past the library's struct accepted");
    if (has_msg)
        CHECK(strstr(msg, "byte"), "message: %s", msg);
    m.b[k->S + 63] = 0;
    const size_t bad[] = {k->first - sizeof(size_t), k->S + 4, 4096 + sizeof(size_t), 0};
    for (int i = 0; i < 4; i++) {
        set_struct_size(bad[i]);
        msg[0] = 0;
        CHECK(read(c) == RP_ERR_INVALID_ARG, "struct_size %zu accepted", bad[i]);
        if (has_msg)
            CHECK(strstr(msg, "struct_size"), "message: %s", msg);
    }
}

/* A getter: exactly the caller's bytes, struct_size = min(size, L), zeros
   past L; a probe of L bytes from an old caller sees the defaulted field. */
static void getter_cases(const kind *k, rp_status (*get)(void *, size_t), size_t check_off,
                         size_t expect)
{
    void *c = arena(k->S);
    CHECK(get(c, k->S) == RP_OK, "get with sizeof");
    size_t n = k->S < k->L ? k->S : k->L;
    CHECK(get_struct_size() == n, "struct_size %zu, expected %zu", get_struct_size(), n);
    CHECK(canary_ok(k->S), "get wrote past the caller's %zu bytes", k->S);
    CHECK(zeros(n, k->S), "get left the part the library does not know unzeroed");
    size_t v;
    memcpy(&v, m.b + check_off, sizeof v);
    CHECK(v == expect, "a field read back as %zu, expected %zu", v, expect);
    /* 16 bytes beyond the library's struct: zeros, struct_size = L. */
    c = arena(k->L + 16);
    CHECK(get(c, k->L + 16) == RP_OK && get_struct_size() == k->L && zeros(k->L, k->L + 16) &&
              canary_ok(k->L + 16),
          "get with L + 16 bytes");
    if (LIB_GROWN)
        CHECK(get_double(k->plain) == (CALLER_GROWN ? 7.0 : GROWN_DEFAULT),
              "the library's own field read back as %g", get_double(k->plain));
    const size_t bad[] = {k->first - sizeof(size_t), k->S + 4, 4096 + sizeof(size_t), 0};
    for (int i = 0; i < 4; i++) {
        c = arena(k->S + 8);
        CHECK(get(c, bad[i]) == RP_ERR_INVALID_ARG, "get accepted size %zu", bad[i]);
        CHECK(all_garbage(k->S + 8) && canary_ok(k->S + 8), "a refused get wrote");
    }
}

static rp_net *gnet;
static rp_task *gtask;
static rp_status net_get(void *c, size_t s) { return rp_net_get_config(gnet, c, s); }
static rp_status task_get(void *c, size_t s) { return rp_task_get_config(gtask, c, s); }

int main(void)
{
#ifdef RP_TEST_GROWN
    CHECK(RP_TEST_GROWN_DEFAULT == GROWN_DEFAULT, "RP_TEST_GROWN_DEFAULT moved");
#endif
    rp_net_config nc;
    if (rp_net_config_init(&nc, sizeof nc) != RP_OK ||
        (nc.n_rec = 8, rp_net_create(&net, &nc, NULL, 0)) != RP_OK) {
        printf("FAIL: this caller's own rp_net_config is refused\n");
        return 1;
    }

    kind K[5] = {
        mk("rp_net_config", sizeof(rp_net_config), net_init, net_check, net_create),
        mk("rp_lyap_config", sizeof(rp_lyap_config), lyap_init, lyap_check, lyap_create),
        mk("rp_floss_config", sizeof(rp_floss_config), floss_init, floss_check, floss_create),
        mk("rp_floss_schedule", sizeof(rp_floss_schedule), sched_init, sched_check, sched_at),
        mk("rp_task_config", sizeof(rp_task_config), task_init, task_check, task_create)};
    /* rp_net_config grew in 1.2 (precision): its 1.0 size ends at allocator */
    K[0].first = offsetof(rp_net_config, allocator) + sizeof(const rp_allocator *);
    for (int i = 0; i < 5; i++) {
        cur = K[i].name;
        init_cases(&K[i]);
        reader_cases(&K[i], K[i].check, 1);
        reader_cases(&K[i], K[i].create, 0);
    }

    /* The documented defaults arrive in the caller's part. */
    cur = "defaults";
    rp_net_config a;
    rp_lyap_config b;
    rp_floss_config f;
    rp_floss_schedule s;
    rp_task_config t;
    CHECK(rp_net_config_init(&a, sizeof a) == RP_OK && a.n_in == 1 && a.n_rec == 64 &&
              a.n_out == 1 && a.batch == 1 && a.alpha == 0.9 && a.form == RP_FORM_VOLTAGE &&
              a.act == RP_ACT_RELU && a.seed == 1 && !a.allocator &&
              a.precision == RP_PRECISION_DOUBLE,
          "net defaults");
    /* 1.2's field: a caller whose struct ends at allocator (built against
       1.0 or 1.1) gets a double net whatever lies past its struct_size. */
    {
        rp_net_config o;
        rp_net *on = NULL, *sn = NULL;
        rp_net_config back;
        (void)rp_net_config_init(&o, sizeof o);
        o.n_rec = 4;
        o.precision = RP_PRECISION_SINGLE;
        o.struct_size = offsetof(rp_net_config, allocator) + sizeof o.allocator;
        CHECK(rp_net_create(&on, &o, msg, sizeof msg) == RP_OK &&
                  rp_net_get_config(on, &back, sizeof back) == RP_OK &&
                  back.precision == RP_PRECISION_DOUBLE,
              "precision past an old struct_size is not read");
        o.struct_size = sizeof o;
        CHECK(rp_net_create(&sn, &o, msg, sizeof msg) == RP_OK &&
                  rp_net_get_config(sn, &back, sizeof back) == RP_OK &&
                  back.precision == RP_PRECISION_SINGLE,
              "precision in a new caller's struct is read");
        rp_net_free(on);
        rp_net_free(sn);
    }
    CHECK(rp_lyap_config_init(&b, sizeof b) == RP_OK && b.t_ons == 1 && b.transient == 0 &&
              b.seed == 1,
          "lyap defaults");
    CHECK(rp_floss_config_init(&f, sizeof f) == RP_OK && f.k == 1 && f.target == 0.0 &&
              f.t_ons == 1 && f.mode == RP_FLOSS_LOCAL && f.seed == 1,
          "floss defaults");
    CHECK(rp_floss_schedule_init(&s, sizeof s) == RP_OK && s.kind == RP_FLOSS_SCHED_NONE &&
              s.period == 100 && s.floss_iters == 10 && s.beta == 1.0,
          "schedule defaults");
    CHECK(rp_task_config_init(&t, sizeof t, RP_TASK_2AF) == RP_OK && t.fixation == 3 &&
              t.stimulus == 10 && t.decision == 3 && t.n_coherences == 5 && t.sigma == 0.1 &&
              t.coherences[4] == 0.512,
          "task defaults");
    CHECK(rp_task_config_init(&t, sizeof t, (rp_task_kind)99) == RP_ERR_INVALID_ARG,
          "task init with an unknown kind");

    /* Getters, from handles created by this caller's struct. */
    nc.n_rec = 12;
#ifdef RP_TEST_GROWN
    nc.rp_test_future = LIB_GROWN ? 7.0 : 0.0;
#endif
    rp_task_config tc;
    (void)rp_task_config_init(&tc, sizeof tc, RP_TASK_2AF);
    tc.stimulus = 11;
#ifdef RP_TEST_GROWN
    tc.rp_test_future = LIB_GROWN ? 7.0 : 0.0;
#endif
    if (rp_net_create(&gnet, &nc, NULL, 0) != RP_OK ||
        rp_task_create(&gtask, RP_TASK_2AF, &tc, NULL, 0) != RP_OK) {
        printf("FAIL: this caller's own rp_net_config or rp_task_config is refused\n");
        return 1;
    }
    cur = "rp_net_get_config";
    getter_cases(&K[0], net_get, offsetof(rp_net_config, n_rec), 12);
    cur = "rp_task_get_config";
    getter_cases(&K[4], task_get, offsetof(rp_task_config, stimulus), 11);
    CHECK(rp_net_get_config(gnet, NULL, sizeof nc) == RP_ERR_INVALID_ARG, "NULL");

    rp_net_free(gnet);
    rp_task_free(gtask);
    rp_net_free(net);
    printf("config_abi (caller %s, library %s): %d checks, %d failed\n",
           CALLER_GROWN ? "grown" : "plain", LIB_GROWN ? "grown" : "plain", checks, fails);
    return fails != 0;
}
