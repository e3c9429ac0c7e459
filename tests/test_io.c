/* Files: the network format (rp_net_save / rp_net_load) and NumPy .npy.

   The oracle for both formats is an encoder written here, byte by byte, from
   the layout documented in rnnplast.h ("Files") and the NumPy format
   specification; it shares no code with src/io.c, npy.c or file.c.  Every
   test works in its own directory made by mkdtemp under /tmp and removes it
   afterwards. */
#define _GNU_SOURCE   /* mknod, makedev, O_TMPFILE, linkat */
#include "internal.h" /* rp__net_save_fixed */
#include "internal.h" /* twice on purpose: every declaration sits inside the include guard */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- scratch directories ------------------------------------------------ */

/* One base directory per test case, made and removed by an unchecked fixture
   (it runs in the parent process, so a failing test leaves nothing behind);
   each test makes its own directory inside it. */
static char base_dir[64];

static void tmpdir_remove(const char *dir);

static void base_setup(void)
{
    snprintf(base_dir, sizeof base_dir, "/tmp/rp_test_io_XXXXXX");
    if (!mkdtemp(base_dir))
        base_dir[0] = '\0';
}

static void base_teardown(void)
{
    if (base_dir[0])
        tmpdir_remove(base_dir);
}

static void tmpdir_make(char *dir, size_t len)
{
    ck_assert_msg(base_dir[0] != '\0', "mkdtemp under /tmp failed");
    snprintf(dir, len, "%s/tXXXXXX", base_dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Remove dir and everything below it (the tests make at most two levels). */
static void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            chmod(p, 0700);
            tmpdir_remove(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in dir (without . and ..); names listed into `names`. */
static int dir_count(const char *dir, char *names, size_t len)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    if (names && len)
        names[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (names)
            snprintf(names + strlen(names), len - strlen(names), "%s ", e->d_name);
    }
    closedir(d);
    return n;
}

/* ---- a small network ---------------------------------------------------- */

enum { NI = 2, NR = 3, NO = 2, NB = 2 };
#define N_THETA (NR * NR + NR * NI + NR + NO * NR + NO)

static rp_net *small_net(rp_form form, rp_activation act, uint64_t seed)
{
    rp_net_config c = tu_net_config(NI, NR, NO, NB, form, act, 0.7);
    c.noise_std = 0.05;
    c.seed = seed;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    static const size_t len[RP_PARAM_COUNT] = {NR * NR, NR * NI, NR, NO * NR, NO};
    double buf[NR * NR];
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        tu_fill(buf, len[p], -0.9, 0.9, seed * 10 + (uint64_t)p);
        RP_CK(rp_net_set_param(net, (rp_param)p, buf, len[p]), net, rp_net_last_error);
    }
    double h0[NR];
    tu_fill(h0, NR, -0.5, 0.5, seed * 10 + 7);
    RP_CK(rp_net_set_initial_state(net, h0, NR), net, rp_net_last_error);
    RP_CK(rp_net_reset(net), net, rp_net_last_error);
    return net;
}

/* ---- the test's own encoder of the network format ------------------------ */

static void le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    le(p, v, 8);
}

/* Header fields of a hand-built file; theta/h0 may be any values. */
typedef struct spec {
    char magic[8];
    uint32_t version, bom, form, act;
    uint64_t n_in, n_rec, n_out, batch, seed, n_theta;
    double alpha, noise;
} spec;

static spec spec_of(const rp_net_config *c)
{
    spec s;
    memcpy(s.magic, "\x89RPNET\r\n", 8);
    s.version = 1;
    s.bom = 0x01020304u;
    s.form = (uint32_t)c->form;
    s.act = (uint32_t)c->act;
    s.n_in = c->n_in;
    s.n_rec = c->n_rec;
    s.n_out = c->n_out;
    s.batch = c->batch;
    s.seed = c->seed;
    s.n_theta =
        c->n_rec * c->n_rec + c->n_rec * c->n_in + c->n_rec + c->n_out * c->n_rec + c->n_out;
    s.alpha = c->alpha;
    s.noise = c->noise_std;
    return s;
}

/* Encode: header, n_body doubles, CRC-32 of all before it.  *n gets the length. */
static unsigned char *encode(const spec *s, const double *body, size_t n_body, size_t *n)
{
    size_t len = 88 + 8 * n_body + 4;
    unsigned char *p = calloc(len, 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s->magic, 8);
    le(p + 8, s->version, 4);
    le(p + 12, s->bom, 4);
    le(p + 16, s->n_in, 8);
    le(p + 24, s->n_rec, 8);
    le(p + 32, s->n_out, 8);
    le(p + 40, s->batch, 8);
    le(p + 48, s->form, 4);
    le(p + 52, s->act, 4);
    le_f64(p + 56, s->alpha);
    le_f64(p + 64, s->noise);
    le(p + 72, s->seed, 8);
    le(p + 80, s->n_theta, 8);
    for (size_t i = 0; i < n_body; i++)
        le_f64(p + 88 + 8 * i, body[i]);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), p, (uInt)(len - 4));
    le(p + len - 4, crc, 4);
    *n = len;
    return p;
}

/* W, U, b, V, c then h0 of net, read back through the public API. */
static void net_body(const rp_net *net, double *body)
{
    tu_params_flat(net, body);
    ck_assert_int_eq(rp_net_get_initial_state(net, body + N_THETA, NR), RP_OK);
}

/* ---- round trips ---------------------------------------------------------- */

/* loop index i: form = i / 3, activation = i % 3 */
START_TEST(net_roundtrip_bit_identical)
{
    rp_form form = (rp_form)(_i / 3);
    rp_activation act = (rp_activation)(_i % 3);
    char dir[96], path[192];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.rpn", dir);
    rp_net *a = small_net(form, act, 3 + (uint64_t)_i);
    /* Move a's live state away from h0: the file holds h0, not the live state. */
    double x[5 * NB * NI], ya[5 * NB * NO], yb[5 * NB * NO];
    tu_fill(x, 5 * NB * NI, -1, 1, 99);
    RP_CK(rp_net_run(a, 5, x, NULL), a, rp_net_last_error);
    RP_CK(rp_net_save(a, path), a, rp_net_last_error);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);

    /* The bytes are exactly what the documented layout says. */
    rp_net_config ca;
    ck_assert_int_eq(rp_net_get_config(a, &ca, sizeof ca), RP_OK);
    double body[N_THETA + NR];
    net_body(a, body);
    spec s = spec_of(&ca);
    size_t n_want, n_got;
    unsigned char *want = encode(&s, body, N_THETA + NR, &n_want);
    unsigned char *got = tu_read_file(path, &n_got);
    ck_assert_uint_eq(n_got, n_want);
    ck_assert_int_eq(memcmp(got, want, n_want), 0);
    free(want);
    free(got);

    rp_net *b = NULL;
    char msg[256] = "untouched";
    ck_assert_int_eq(rp_net_load(&b, path, msg, sizeof msg), RP_OK);
    ck_assert_str_eq(msg, "");
    rp_net_config cb;
    ck_assert_int_eq(rp_net_get_config(b, &cb, sizeof cb), RP_OK);
    ck_assert_uint_eq(cb.n_in, NI);
    ck_assert_uint_eq(cb.n_rec, NR);
    ck_assert_uint_eq(cb.n_out, NO);
    ck_assert_uint_eq(cb.batch, NB);
    ck_assert_int_eq(cb.form, form);
    ck_assert_int_eq(cb.act, act);
    ck_assert_uint_eq(cb.seed, ca.seed);
    ck_assert_int_eq(memcmp(&cb.alpha, &ca.alpha, sizeof(double)), 0);
    ck_assert_int_eq(memcmp(&cb.noise_std, &ca.noise_std, sizeof(double)), 0);
    double bodyb[N_THETA + NR];
    net_body(b, bodyb);
    ck_assert_int_eq(memcmp(body, bodyb, sizeof body), 0);

    /* Trajectory with noise: a restarted from h0 with its generator reseeded
       is what a freshly loaded net is. */
    RP_CK(rp_net_set_noise(a, ca.noise_std, ca.seed), a, rp_net_last_error);
    RP_CK(rp_net_reset(a), a, rp_net_last_error);
    RP_CK(rp_net_run(a, 5, x, ya), a, rp_net_last_error);
    RP_CK(rp_net_run(b, 5, x, yb), b, rp_net_last_error);
    ck_assert_int_eq(memcmp(ya, yb, sizeof ya), 0);
    double sa[NB * NR], sb[NB * NR];
    ck_assert_int_eq(rp_net_get_state(a, sa, NB * NR), RP_OK);
    ck_assert_int_eq(rp_net_get_state(b, sb, NB * NR), RP_OK);
    ck_assert_int_eq(memcmp(sa, sb, sizeof sa), 0);

    /* Plain rp_net_load as well. */
    rp_net *c = NULL;
    ck_assert_int_eq(rp_net_load(&c, path, NULL, 0), RP_OK);
    ck_assert_ptr_nonnull(c);
    rp_net_free(c);
    rp_net_free(a);
    rp_net_free(b);
    tmpdir_remove(dir);
}
END_TEST

/* A file built here (not by rp_net_save) loads with exactly its values. */
START_TEST(net_load_hand_built)
{
    char dir[96], path[192];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/hand.rpn", dir);
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 0; /* autonomous: U is empty */
    c.n_rec = 2;
    c.n_out = 1;
    c.batch = 3;
    c.alpha = 0.25;
    c.form = RP_FORM_RATE;
    c.act = RP_ACT_TANH;
    c.noise_std = 0;
    c.seed = 0xfedcba9876543210ULL;
    spec s = spec_of(&c);
    ck_assert_uint_eq(s.n_theta, 4 + 0 + 2 + 2 + 1);
    /* W = [[1,2],[3,4]], b = [5,6], V = [7,8], c = [9], h0 = [-1, 0.5] */
    double body[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 0.5};
    size_t n;
    unsigned char *p = encode(&s, body, 11, &n);
    tu_write_file(path, p, n);
    free(p);
    rp_net *net = NULL;
    char msg[256];
    ck_assert_int_eq(rp_net_load(&net, path, msg, sizeof msg), RP_OK);
    rp_net_config g;
    ck_assert_int_eq(rp_net_get_config(net, &g, sizeof g), RP_OK);
    ck_assert_uint_eq(g.n_in, 0);
    ck_assert_uint_eq(g.batch, 3);
    ck_assert_int_eq(g.form, RP_FORM_RATE);
    ck_assert_int_eq(g.act, RP_ACT_TANH);
    ck_assert(g.alpha == 0.25);
    ck_assert(g.seed == 0xfedcba9876543210ULL);
    double W[4], b[2], V[2], cc[1], h0[2], st[6];
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_W, W, 4), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_B, b, 2), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_V, V, 2), RP_OK);
    ck_assert_int_eq(rp_net_get_param(net, RP_PARAM_C, cc, 1), RP_OK);
    ck_assert_int_eq(rp_net_get_initial_state(net, h0, 2), RP_OK);
    ck_assert_int_eq(rp_net_get_state(net, st, 6), RP_OK);
    ck_assert(W[0] == 1 && W[1] == 2 && W[2] == 3 && W[3] == 4);
    ck_assert(b[0] == 5 && b[1] == 6 && V[0] == 7 && V[1] == 8 && cc[0] == 9);
    ck_assert(h0[0] == -1 && h0[1] == 0.5);
    /* The live state of every trial starts at h0. */
    for (int i = 0; i < 3; i++)
        ck_assert(st[2 * i] == -1 && st[2 * i + 1] == 0.5);
    rp_net_free(net);
    tmpdir_remove(dir);
}
END_TEST

/* ---- damaged files ---------------------------------------------------------- */

START_TEST(net_truncated_every_offset)
{
    char dir[96], path[192], cut[192];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.rpn", dir);
    snprintf(cut, sizeof cut, "%s/cut.rpn", dir);
    rp_net *a = small_net(RP_FORM_VOLTAGE, RP_ACT_TANH, 5);
    RP_CK(rp_net_save(a, path), a, rp_net_last_error);
    size_t n;
    unsigned char *p = tu_read_file(path, &n);
    ck_assert_uint_eq(n, 88 + 8 * (N_THETA + NR) + 4);
    for (size_t k = 0; k < n; k++) {
        tu_write_file(cut, p, k);
        rp_net *b = (rp_net *)&b; /* must be overwritten with NULL */
        char msg[256] = "";
        rp_status st = rp_net_load(&b, cut, msg, sizeof msg);
        ck_assert_msg(st == RP_ERR_FORMAT, "cut at %zu: %s (%s)", k, rp_status_string(st), msg);
        ck_assert_ptr_null(b);
        char want[64];
        snprintf(want, sizeof want, "truncated at byte %zu", k);
        ck_assert_msg(strstr(msg, want) != NULL, "cut at %zu: message '%s'", k, msg);
    }
    free(p);
    rp_net_free(a);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(net_every_bit_flip_rejected)
{
    char dir[96], path[192], bad[192];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.rpn", dir);
    snprintf(bad, sizeof bad, "%s/bad.rpn", dir);
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    rp_net *a = NULL;
    ck_assert_int_eq(rp_net_create(&a, &c, NULL, 0), RP_OK);
    double W[4] = {0.5, -0.25, 1.5, 2};
    RP_CK(rp_net_set_param(a, RP_PARAM_W, W, 4), a, rp_net_last_error);
    RP_CK(rp_net_save(a, path), a, rp_net_last_error);
    size_t n;
    unsigned char *p = tu_read_file(path, &n);
    int by_crc = 0, by_field = 0;
    for (size_t bit = 0; bit < 8 * n; bit++) {
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        tu_write_file(bad, p, n);
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        rp_net *b = NULL;
        char msg[256] = "";
        rp_status st = rp_net_load(&b, bad, msg, sizeof msg);
        ck_assert_msg(st == RP_ERR_FORMAT, "bit %zu accepted: %s", bit, rp_status_string(st));
        ck_assert_ptr_null(b);
        ck_assert_msg(strlen(msg) > 0, "bit %zu: empty message", bit);
        if (strstr(msg, "checksum"))
            by_crc++;
        else
            by_field++;
    }
    /* Bits past the header are caught only by the checksum (except the
       exponent bits making a double Inf/NaN, which the CRC catches first). */
    ck_assert_int_ge(by_crc, (int)(8 * (n - 88)));
    ck_assert_int_gt(by_field, 0);
    free(p);
    rp_net_free(a);
    tmpdir_remove(dir);
}
END_TEST

/* Craft a file from spec s with a correct CRC and expect RP_ERR_FORMAT with `want` in the message. */
static void expect_format(const char *dir, const spec *s, const double *body, size_t n_body,
                          size_t extra, const char *want)
{
    char path[192];
    snprintf(path, sizeof path, "%s/crafted.rpn", dir);
    size_t n;
    unsigned char *p = encode(s, body, n_body, &n);
    if (extra) { /* trailing bytes after a valid CRC */
        p = realloc(p, n + extra);
        memset(p + n, 0, extra);
        n += extra;
    }
    tu_write_file(path, p, n);
    free(p);
    rp_net *b = NULL;
    char msg[256] = "";
    rp_status st = rp_net_load(&b, path, msg, sizeof msg);
    ck_assert_msg(st == RP_ERR_FORMAT, "%s: got %s (%s)", want, rp_status_string(st), msg);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(msg, want) != NULL, "expected '%s' in '%s'", want, msg);
}

START_TEST(net_crafted_headers_rejected)
{
    char dir[96];
    tmpdir_make(dir, sizeof dir);
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    const spec good = spec_of(&c);
    double body[11 + 2];
    tu_fill(body, 13, -1, 1, 1);
    spec s;

    s = good; /* sanity: the unmodified spec loads */
    {
        char path[192];
        snprintf(path, sizeof path, "%s/ok.rpn", dir);
        size_t n;
        unsigned char *p = encode(&s, body, 13, &n);
        tu_write_file(path, p, n);
        free(p);
        rp_net *b = NULL;
        ck_assert_int_eq(rp_net_load(&b, path, NULL, 0), RP_OK);
        rp_net_free(b);
    }
    s = good;
    memcpy(s.magic, "RNNPLAST", 8);
    expect_format(dir, &s, body, 13, 0, "bad magic");
    s = good;
    s.version = 2; /* a single net's version: its precision field (the body's first bytes here) */
    expect_format(dir, &s, body, 13, 0, "expected 1 (RP_PRECISION_SINGLE) in a version 2 file");
    s = good;
    s.version = 3;
    expect_format(dir, &s, body, 13, 0, "unsupported format version 3");
    s = good;
    s.version = 0;
    expect_format(dir, &s, body, 13, 0, "unsupported format version 0");
    s = good;
    s.bom = 0x04030201u; /* what a big-endian native writer would produce */
    expect_format(dir, &s, body, 13, 0, "byte-order");
    s = good;
    s.n_rec = (uint64_t)1 << 40;
    expect_format(dir, &s, body, 13, 0, "absurd dimension n_rec");
    s = good;
    s.n_in = UINT64_MAX;
    expect_format(dir, &s, body, 13, 0, "absurd dimension n_in");
    s = good;
    s.n_out = 0;
    expect_format(dir, &s, body, 13, 0, "absurd dimension n_out");
    s = good;
    s.batch = (uint64_t)1 << 33;
    expect_format(dir, &s, body, 13, 0, "absurd dimension batch");
    /* Regression (found by fuzz/fuzz_net_load.c): the batch sizes the state
       without being backed by the file's bytes; a 276-byte file with batch
       4128770 made the loader allocate 500 MB.  batch*n_rec is capped at
       2^22: here 2 * (2^21 + 1) = 2^22 + 2. */
    s = good;
    s.batch = ((uint64_t)1 << 21) + 1;
    expect_format(dir, &s, body, 13, 0, "absurd state size batch*n_rec");
    s = good;
    s.batch = (uint64_t)1 << 24; /* the largest batch the dimension cap allows */
    expect_format(dir, &s, body, 13, 0, "absurd state size batch*n_rec");
    s = good; /* large but allowed dimensions claiming far more bytes than present */
    s.n_rec = 1 << 20;
    s.n_theta = s.n_rec * s.n_rec + 3 * s.n_rec + 1;
    expect_format(dir, &s, body, 13, 0, "truncated");
    s = good;
    s.n_theta = 12;
    expect_format(dir, &s, body, 13, 0, "parameter count is 12");
    s = good;
    s.form = 7;
    expect_format(dir, &s, body, 13, 0, "form is 7");
    s = good;
    s.act = 3;
    expect_format(dir, &s, body, 13, 0, "activation is 3");
    s = good;
    s.alpha = 1.5;
    expect_format(dir, &s, body, 13, 0, "alpha");
    s = good;
    s.noise = -1;
    expect_format(dir, &s, body, 13, 0, "noise_std");
    s = good;
    expect_format(dir, &s, body, 13, 3, "trailing");
    s = good;
    body[6] = NAN; /* W has 4 entries, U 2: index 6 is b[0] */
    expect_format(dir, &s, body, 13, 0, "parameter b[0]");
    body[6] = 0;
    body[12] = INFINITY;
    expect_format(dir, &s, body, 13, 0, "initial state h0[1]");
    tmpdir_remove(dir);
}
END_TEST

/* rp_net_save refuses what rp_net_load would refuse (batch*n_rec above 2^22),
   and leaves no file behind.  The network's state alone is 5 * 2^22 doubles
   (168 MB, mostly untouched pages): the smallest network above the cap. */
START_TEST(net_save_refuses_huge_state)
{
    char dir[96];
    tmpdir_make(dir, sizeof dir);
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = 0;
    c.n_rec = 1;
    c.batch = ((size_t)1 << 22) + 1;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    char path[192];
    snprintf(path, sizeof path, "%s/huge.rpn", dir);
    ck_assert_int_eq(rp_net_save(net, path), RP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(rp_net_last_error(net), "batch*n_rec") != NULL, "%s",
                  rp_net_last_error(net));
    ck_assert_int_eq(dir_count(dir, NULL, 0), 0);
    /* At the cap the file is written and reads back. */
    RP_CK(rp_net_set_batch(net, (size_t)1 << 22), net, rp_net_last_error);
    RP_CK(rp_net_save(net, path), net, rp_net_last_error);
    rp_net_free(net);
    net = NULL;
    ck_assert_int_eq(rp_net_load(&net, path, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_net_get_config(net, &c, sizeof c), RP_OK);
    ck_assert_uint_eq(c.batch, (size_t)1 << 22);
    rp_net_free(net);
    tmpdir_remove(dir);
}
END_TEST

/* ---- the file system ---------------------------------------------------------- */

START_TEST(net_io_errors)
{
    char dir[96], path[192], msg[256];
    tmpdir_make(dir, sizeof dir);
    rp_net *a = small_net(RP_FORM_RATE, RP_ACT_RELU, 8);
    rp_net *b = NULL;

    /* A missing directory: RP_ERR_IO with the system's reason, nothing left behind. */
    snprintf(path, sizeof path, "%s/missing/net.rpn", dir);
    ck_assert_int_eq(rp_net_save(a, path), RP_ERR_IO);
    ck_assert_msg(strstr(rp_net_last_error(a), strerror(ENOENT)), "%s", rp_net_last_error(a));
    ck_assert_int_eq(dir_count(dir, NULL, 0), 0);

    /* Loading a missing file, a directory: RP_ERR_IO. */
    ck_assert_int_eq(rp_net_load(&b, path, msg, sizeof msg), RP_ERR_IO);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(msg, strerror(ENOENT)) != NULL, "%s", msg);
    ck_assert_int_eq(rp_net_load(&b, dir, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, "not a regular file") != NULL, "%s", msg);
    char fifo[192]; /* must be refused, not block waiting for a writer */
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(rp_net_load(&b, fifo, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, "not a regular file") != NULL, "%s", msg);
    ck_assert_int_eq(rp_npy_load(fifo, NULL, 1, (size_t[]){0}, msg, sizeof msg), RP_ERR_IO);
    unlink(fifo);

    /* Arguments. */
    ck_assert_int_eq(rp_net_save(NULL, path), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_save(a, NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_save(a, ""), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_load(NULL, path, NULL, 0), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_load(&b, NULL, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(msg, "path is NULL");
    ck_assert_int_eq(rp_net_load(&b, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    char tiny[4];
    ck_assert_int_eq(rp_net_load(&b, NULL, tiny, sizeof tiny), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(tiny, "pat"); /* truncated to the buffer, terminated */

    /* The target is a non-empty directory: rename fails, the temporary file goes. */
    snprintf(path, sizeof path, "%s/occupied", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    char inner[256];
    snprintf(inner, sizeof inner, "%s/x", path);
    tu_write_file(inner, (const unsigned char *)"x", 1);
    ck_assert_int_eq(rp_net_save(a, path), RP_ERR_IO);
    ck_assert_msg(strstr(rp_net_last_error(a), "is a directory"), "%s", rp_net_last_error(a));
    char names[512];
    ck_assert_msg(dir_count(dir, names, sizeof names) == 1, "left behind: %s", names);
    rp_net_free(a);
    tmpdir_remove(dir);
}
END_TEST

/* After a failed save over path: the old bytes are intact, nothing else is in dir. */
static void expect_old_survives(const char *dir, const char *path, const unsigned char *old,
                                size_t n_old)
{
    size_t n;
    unsigned char *now = tu_read_file(path, &n);
    ck_assert_uint_eq(n, n_old);
    ck_assert_int_eq(memcmp(now, old, n), 0);
    free(now);
    char names[512];
    ck_assert_msg(dir_count(dir, names, sizeof names) == 1, "left behind: %s", names);
}

START_TEST(net_save_replaces_atomically)
{
    char dir[96], path[192];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.rpn", dir);
    rp_net *a = small_net(RP_FORM_VOLTAGE, RP_ACT_RELU, 11);
    rp_net *b = small_net(RP_FORM_VOLTAGE, RP_ACT_RELU, 12);
    RP_CK(rp_net_save(a, path), a, rp_net_last_error);
    size_t n_a;
    unsigned char *old = tu_read_file(path, &n_a);

    /* A write that fails part-way (file size limit, works as root too):
       EFBIG from the write, the old file stays, no temporary is left. */
    struct rlimit saved;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = saved;
    lim.rlim_cur = 100; /* the file needs 88 + 8*(29 + 3) + 4 = 348 bytes */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rp_status st = rp_net_save(b, path);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    ck_assert_int_eq(st, RP_ERR_IO);
    ck_assert_msg(strstr(rp_net_last_error(b), strerror(EFBIG)), "%s", rp_net_last_error(b));
    expect_old_survives(dir, path, old, n_a);

    /* A read-only directory: only meaningful when not root (root writes anyway). */
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(dir, 0500), 0);
        ck_assert_int_eq(rp_net_save(b, path), RP_ERR_IO);
        ck_assert_msg(strstr(rp_net_last_error(b), strerror(EACCES)), "%s", rp_net_last_error(b));
        expect_old_survives(dir, path, old, n_a);
        ck_assert_int_eq(chmod(dir, 0700), 0);
    }

    /* A save that succeeds replaces the content whole. */
    RP_CK(rp_net_save(b, path), b, rp_net_last_error);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);
    rp_net *c = NULL;
    char msg[256];
    ck_assert_int_eq(rp_net_load(&c, path, msg, sizeof msg), RP_OK);
    double bb[N_THETA + NR], bc[N_THETA + NR];
    net_body(b, bb);
    net_body(c, bc);
    ck_assert_int_eq(memcmp(bb, bc, sizeof bb), 0);
    free(old);
    rp_net_free(a);
    rp_net_free(b);
    rp_net_free(c);
    tmpdir_remove(dir);
}
END_TEST

/* ---- what a save may replace, and what a killed save leaves ------------------- */

enum { W_NET, W_CKPT, W_NPY, W_PARAM, W_GRAD, W_FIXED, W_COUNT };
static const char *const writer_names[W_COUNT] = {
    "rp_net_save",           "rp_checkpoint_save",     "rp_npy_save",
    "rp_net_save_param_npy", "rp_grad_save_param_npy", "rp_net_save without O_TMPFILE"};

/* Save with writer w to path; msg receives its message. */
static rp_status save_with(int w, const rp_net *net, const rp_grad *g, const char *path, char *msg,
                           size_t len)
{
    rp_status st;
    msg[0] = '\0';
    switch (w) {
    case W_NET:
        st = rp_net_save(net, path);
        break;
    case W_CKPT:
        return rp_checkpoint_save(net, NULL, NULL, path, 7, "u", 1, msg, len);
    case W_NPY:
        return rp_npy_save(path, (const double[]){1, 2, 3}, 1, (const size_t[]){3}, msg, len);
    case W_PARAM:
        st = rp_net_save_param_npy(net, RP_PARAM_W, path);
        break;
    case W_GRAD:
        st = rp_grad_save_param_npy(g, RP_PARAM_U, path);
        snprintf(msg, len, "%s", rp_grad_last_error(g));
        return st;
    default:
        st = rp__net_save_fixed(net, path);
        break;
    }
    snprintf(msg, len, "%s", rp_net_last_error(net));
    return st;
}

static void path_of(char *buf, size_t len, const char *dir, const char *name)
{
    int r = snprintf(buf, len, "%s/%s", dir, name);
    ck_assert(r > 0 && (size_t)r < len);
}

/* A save over node must fail with RP_ERR_IO naming path and kind, leaving
   node as it was (same inode, same type). */
static void expect_not_replaced(int w, const rp_net *net, const rp_grad *g, const char *path,
                                const char *node, const char *kind)
{
    struct stat before, after;
    ck_assert_int_eq(lstat(node, &before), 0);
    char msg[512];
    ck_assert_int_eq(save_with(w, net, g, path, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, path) && strstr(msg, kind), "%s over %s: %s", writer_names[w], kind,
                  msg);
    ck_assert_int_eq(lstat(node, &after), 0);
    ck_assert_uint_eq(after.st_ino, before.st_ino);
    ck_assert_uint_eq(after.st_mode, before.st_mode);
    ck_assert_uint_eq(after.st_rdev, before.st_rdev);
}

/* Issue 11 #2: every writer refuses an existing path that is not a regular
   file (a device node made here with mknod when root, a FIFO, a socket, a
   directory, a link to a FIFO): RP_ERR_IO naming it, the node untouched and
   no temporary file left.  Loaders name the kind as well. */
START_TEST(save_refuses_special_files)
{
    int w = _i;
    char dir[96], fifo[192], sock[192], dev[192], sub[192], ln[192], msg[512];
    tmpdir_make(dir, sizeof dir);
    rp_net *net = small_net(RP_FORM_RATE, RP_ACT_TANH, 21);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    int made = 0;

    path_of(fifo, sizeof fifo, dir, "fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    made++;
    expect_not_replaced(w, net, g, fifo, fifo, "a FIFO");

    path_of(sock, sizeof sock, dir, "sock");
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(sfd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(sock), sizeof sa.sun_path);
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    ck_assert_int_eq(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
    made++;
    expect_not_replaced(w, net, g, sock, sock, "a socket");
    close(sfd);

    path_of(sub, sizeof sub, dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    made++;
    expect_not_replaced(w, net, g, sub, sub, "a directory");

    path_of(ln, sizeof ln, dir, "to_fifo");
    ck_assert_int_eq(symlink("fifo", ln), 0);
    made++;
    expect_not_replaced(w, net, g, ln, ln, "links to");
    expect_not_replaced(w, net, g, ln, fifo, "a FIFO");

    /* A private character device with /dev/null's numbers: only root may
       make one, and a container may forbid even that (then skipped, said). */
    path_of(dev, sizeof dev, dir, "null");
    if (mknod(dev, S_IFCHR | 0600, makedev(1, 3)) == 0) {
        made++;
        expect_not_replaced(w, net, g, dev, dev, "a character device");
        rp_net *back = NULL;
        ck_assert_int_eq(rp_net_load(&back, dev, msg, sizeof msg), RP_ERR_IO);
        ck_assert_msg(strstr(msg, "a character device") != NULL, "%s", msg);
    } else if (w == 0) {
        fprintf(stderr, "save_refuses_special_files: no device node test (mknod: %s; needs root)\n",
                strerror(errno));
    }

    /* Loaders say what the path is. */
    rp_net *back = NULL;
    ck_assert_int_eq(rp_net_load(&back, fifo, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, "a FIFO") != NULL, "%s", msg);
    ck_assert_int_eq(rp_npy_load(sock, NULL, 1, (size_t[]){0}, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, "a socket") != NULL, "%s", msg);

    char names[512];
    ck_assert_msg(dir_count(dir, names, sizeof names) == made, "left behind: %s", names);
    ck_assert_int_eq(dir_count(sub, NULL, 0), 0);
    rp_grad_free(g);
    rp_net_free(net);
    tmpdir_remove(dir);
}
END_TEST

/* Loaders refuse a path that is not a regular file without opening it (the
   open of a device node can itself act).  Observed with a FIFO: a writer
   blocked in open() until some reader opens it stays blocked through every
   loader's call. */
START_TEST(load_does_not_open_special_files)
{
    char dir[96], fifo[192], msg[512];
    tmpdir_make(dir, sizeof dir);
    path_of(fifo, sizeof fifo, dir, "fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(20);
        int fd = open(fifo, O_WRONLY); /* returns once a reader opens */
        _exit(fd >= 0 ? 0 : 1);
    }
    usleep(20000); /* let the child reach its open() */
    rp_net *net = NULL;
    size_t ndim, shape[RP_NPY_MAX_DIM];
    rp_status st[4];
    st[0] = rp_net_load(&net, fifo, msg, sizeof msg);
    st[1] = rp_npy_load(fifo, NULL, 1, (size_t[]){0}, msg, sizeof msg);
    st[2] = rp_npy_shape(fifo, &ndim, shape, msg, sizeof msg);
    st[3] = rp_checkpoint_load(&net, NULL, NULL, fifo, NULL, NULL, 0, NULL, msg, sizeof msg);
    usleep(100000);
    int status;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    ck_assert_msg(w == 0, "a loader opened the FIFO (the blocked writer went on)");
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(st[i], RP_ERR_IO);
    ck_assert_msg(strstr(msg, fifo) && strstr(msg, "a FIFO"), "%s", msg);
    ck_assert_ptr_null(net);
    tmpdir_remove(dir);
}
END_TEST

static int is_link_to(const char *path, const char *want)
{
    char buf[512];
    ssize_t k = readlink(path, buf, sizeof buf - 1);
    if (k < 0)
        return 0;
    buf[k] = '\0';
    return strcmp(buf, want) == 0;
}

/* path holds exactly the bytes of ref. */
static void expect_same_file(const char *path, const char *ref)
{
    size_t n, m;
    unsigned char *a = tu_read_file(path, &n), *b = tu_read_file(ref, &m);
    ck_assert_uint_eq(n, m);
    ck_assert_int_eq(memcmp(a, b, n), 0);
    free(a);
    free(b);
}

/* Issue 11 #2, the symbolic link choice (rnnplast.h "Files"): a save writes
   through the chain of links to its final target, in the target's directory;
   the links stay links.  A dangling link creates its target; a loop or a
   chain longer than 40 is refused naming the path. */
START_TEST(save_writes_through_symlinks)
{
    int w = _i;
    char dir[96], sub[192], ref[192], real[192], ln[192], p[192], q[192], msg[512];
    tmpdir_make(dir, sizeof dir);
    rp_net *net = small_net(RP_FORM_VOLTAGE, RP_ACT_TANH, 22);
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, net, NULL, 0), RP_OK);
    path_of(sub, sizeof sub, dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    /* The reference: the same save to a plain path. */
    path_of(ref, sizeof ref, dir, "ref");
    ck_assert_int_eq(save_with(w, net, g, ref, msg, sizeof msg), RP_OK);

    /* A relative link to an existing file in another directory. */
    path_of(real, sizeof real, sub, "real");
    tu_write_file(real, (const unsigned char *)"old", 3);
    path_of(ln, sizeof ln, dir, "ln");
    ck_assert_int_eq(symlink("sub/real", ln), 0);
    ck_assert_msg(save_with(w, net, g, ln, msg, sizeof msg) == RP_OK, "%s", msg);
    ck_assert(is_link_to(ln, "sub/real"));
    expect_same_file(real, ref);

    /* An absolute link to that link. */
    path_of(p, sizeof p, dir, "abs");
    ck_assert_int_eq(symlink(ln, p), 0);
    tu_write_file(real, (const unsigned char *)"old", 3);
    ck_assert_msg(save_with(w, net, g, p, msg, sizeof msg) == RP_OK, "%s", msg);
    ck_assert(is_link_to(p, ln) && is_link_to(ln, "sub/real"));
    expect_same_file(real, ref);

    /* A dangling link whose target's directory exists: the target is made, 0644. */
    path_of(p, sizeof p, dir, "dangling");
    ck_assert_int_eq(symlink("sub/new", p), 0);
    ck_assert_msg(save_with(w, net, g, p, msg, sizeof msg) == RP_OK, "%s", msg);
    ck_assert(is_link_to(p, "sub/new"));
    path_of(q, sizeof q, sub, "new");
    expect_same_file(q, ref);
    struct stat sb;
    ck_assert_int_eq(lstat(q, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0644);

    /* ... and one whose directory does not: ENOENT, nothing made. */
    path_of(p, sizeof p, dir, "nowhere");
    ck_assert_int_eq(symlink("missing/x", p), 0);
    ck_assert_int_eq(save_with(w, net, g, p, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, strerror(ENOENT)) != NULL, "%s", msg);

    /* A loop. */
    path_of(p, sizeof p, dir, "loop_a");
    path_of(q, sizeof q, dir, "loop_b");
    ck_assert_int_eq(symlink("loop_b", p), 0);
    ck_assert_int_eq(symlink("loop_a", q), 0);
    ck_assert_int_eq(save_with(w, net, g, p, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, p) && strstr(msg, "symbolic links"), "%s", msg);
    ck_assert(is_link_to(p, "loop_b") && is_link_to(q, "loop_a"));

    /* c0 -> c1 -> ... -> c40 -> sub/deep: 40 links from c1 are followed (the
       kernel's own limit), 41 from c0 are not. */
    for (int i = 0; i <= 40; i++) {
        char name[16], to[16];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(to, sizeof to, i < 40 ? "c%d" : "sub/deep", i + 1);
        path_of(p, sizeof p, dir, name);
        ck_assert_int_eq(symlink(to, p), 0);
    }
    path_of(p, sizeof p, dir, "c1");
    ck_assert_msg(save_with(w, net, g, p, msg, sizeof msg) == RP_OK, "%s", msg);
    path_of(q, sizeof q, sub, "deep");
    expect_same_file(q, ref);
    path_of(p, sizeof p, dir, "c0");
    ck_assert_int_eq(save_with(w, net, g, p, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, p) && strstr(msg, "symbolic links"), "%s", msg);

    /* No temporary file anywhere: dir holds sub, ref, ln, abs, dangling,
       nowhere, loop_a, loop_b and c0..c40; sub holds real, new, deep. */
    char names[1024];
    ck_assert_msg(dir_count(dir, names, sizeof names) == 8 + 41, "%s", names);
    ck_assert_msg(dir_count(sub, names, sizeof names) == 3, "%s", names);
    rp_grad_free(g);
    rp_net_free(net);
    tmpdir_remove(dir);
}
END_TEST

/* Whatever sits under the temporary name (a stale file, a symbolic link, a
   hard link to another file, a FIFO) is replaced, never written through: the
   file it leads to keeps its bytes.  Loop index: 0 rp_net_save, 1 without
   O_TMPFILE. */
START_TEST(temp_name_never_written_through)
{
    int w = _i ? W_FIXED : W_NET;
    char dir[96], path[192], tmp[192], other[192], ref[192], msg[512];
    tmpdir_make(dir, sizeof dir);
    rp_net *net = small_net(RP_FORM_RATE, RP_ACT_TANH, 23);
    path_of(path, sizeof path, dir, "net.rpn");
    path_of(tmp, sizeof tmp, dir, ".net.rpn.rp-tmp");
    path_of(other, sizeof other, dir, "other");
    path_of(ref, sizeof ref, dir, "ref");
    ck_assert_int_eq(save_with(w, net, NULL, ref, msg, sizeof msg), RP_OK);
    for (int k = 0; k < 4; k++) {
        tu_write_file(other, (const unsigned char *)"keep", 4);
        if (k == 0)
            tu_write_file(tmp, (const unsigned char *)"stale", 5);
        else if (k == 1)
            ck_assert_int_eq(symlink("other", tmp), 0);
        else if (k == 2)
            ck_assert_int_eq(link(other, tmp), 0);
        else
            ck_assert_int_eq(mkfifo(tmp, 0600), 0);
        ck_assert_msg(save_with(w, net, NULL, path, msg, sizeof msg) == RP_OK, "%s", msg);
        expect_same_file(path, ref);
        size_t n;
        unsigned char *b = tu_read_file(other, &n);
        ck_assert_msg(n == 4 && !memcmp(b, "keep", 4), "case %d wrote through", k);
        free(b);
        char names[512];
        ck_assert_msg(dir_count(dir, names, sizeof names) == 3, "case %d left: %s", k, names);
    }
    rp_net_free(net);
    tmpdir_remove(dir);
}
END_TEST

/* Whether this file system gives an O_TMPFILE file a name (as atomic_write does). */
static int tmpfile_works(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
    if (fd < 0)
        return 0;
    char proc[64], name[256];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    path_of(name, sizeof name, dir, "probe");
    int ok = linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0;
    if (ok)
        unlink(name);
    close(fd);
    return ok;
}

/* A network of about 0.5 MB, so that a save takes long enough to be killed
   at every stage of it. */
static rp_net *big_net(uint64_t seed)
{
    rp_net_config c = tu_net_config(4, 250, 4, 1, RP_FORM_RATE, RP_ACT_TANH, 0.5);
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c, NULL, 0), RP_OK);
    size_t n = 250 * 250;
    double *w = malloc(n * sizeof *w);
    tu_fill(w, n, -0.1, 0.1, seed);
    RP_CK(rp_net_set_param(net, RP_PARAM_W, w, n), net, rp_net_last_error);
    free(w);
    return net;
}

/* Save a (even k) or b (odd k) to path with writer mode (0: rp_net_save,
   1: without O_TMPFILE, 2: rp_checkpoint_save). */
static rp_status save_version(int mode, const rp_net *a, const rp_net *b, unsigned k,
                              const char *path)
{
    const rp_net *n = k % 2 ? b : a;
    if (mode == 2)
        return rp_checkpoint_save(n, NULL, NULL, path, k % 2, NULL, 0, NULL, 0);
    return mode ? rp__net_save_fixed(n, path) : rp_net_save(n, path);
}

/* path holds exactly ref[0] or ref[1] (bytes and lengths). */
static int is_one_of(const char *path, unsigned char *const ref[2], const size_t n[2])
{
    size_t m;
    unsigned char *p = tu_read_file(path, &m);
    int ok = (m == n[0] && !memcmp(p, ref[0], m)) || (m == n[1] && !memcmp(p, ref[1], m));
    free(p);
    return ok;
}

/* Issue 11 #3: a child saves two versions in turn and is killed with SIGKILL
   at moments spread over a save's length: 150 times in mode 0, 50 in the
   others (each kill waits for the fsync under way: about 40 ms).  After each kill the target is
   one of the two versions, whole, and at most one other name is in the
   directory: the documented temporary name.  Where O_TMPFILE works (and
   always in mode 0 on such a file system) that name, if present, is a whole
   version too: it only appears between link and rename. */
START_TEST(killed_saves_leave_one_temp)
{
    int mode = _i;
    char dir[96], refdir[96], path[192], tmp[192], r[2][192];
    tmpdir_make(dir, sizeof dir);
    tmpdir_make(refdir, sizeof refdir);
    path_of(path, sizeof path, dir, "net.rpn");
    path_of(tmp, sizeof tmp, dir, ".net.rpn.rp-tmp");
    rp_net *a = big_net(1), *b = big_net(2);
    unsigned char *ref[2];
    size_t n[2];
    for (unsigned k = 0; k < 2; k++) {
        path_of(r[k], sizeof r[k], refdir, k ? "b" : "a");
        ck_assert_int_eq(save_version(mode, a, b, k, r[k]), RP_OK);
        ref[k] = tu_read_file(r[k], &n[k]);
    }
    ck_assert_int_eq(save_version(mode, a, b, 0, path), RP_OK);
    int anon = mode != 1 && tmpfile_works(dir);
    /* Time one save to spread the kills over 0 .. 1.5 saves. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(save_version(mode, a, b, 1, path), RP_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double save_us =
        (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    uint64_t s = 42;
    int kills = mode == 0 ? 150 : 50;
    for (int kill_no = 0; kill_no < kills; kill_no++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            alarm(20); /* never outlive a failed test */
            for (unsigned k = (unsigned)kill_no;; k++)
                if (save_version(mode, a, b, k, path) != RP_OK)
                    _exit(1);
        }
        usleep((useconds_t)(50 + 1.5 * save_us * tu_uniform(&s)));
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "the saving child failed (exit %d) at kill %d",
                      WEXITSTATUS(status), kill_no);
        char names[512];
        int count = dir_count(dir, names, sizeof names);
        ck_assert_msg(is_one_of(path, ref, n), "kill %d: the target is not a whole version",
                      kill_no);
        struct stat sb;
        int has_tmp = lstat(tmp, &sb) == 0;
        ck_assert_msg(count == 1 + has_tmp, "kill %d left: %s", kill_no, names);
        if (has_tmp && anon)
            ck_assert_msg(is_one_of(tmp, ref, n), "kill %d: a partial temporary file", kill_no);
    }
    /* The next save takes over whatever was left. */
    ck_assert_int_eq(save_version(mode, a, b, 1, path), RP_OK);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);
    expect_same_file(path, r[1]);
    free(ref[0]);
    free(ref[1]);
    rp_net_free(a);
    rp_net_free(b);
    tmpdir_remove(dir);
    tmpdir_remove(refdir);
}
END_TEST

/* Two processes saving different versions to one path at once (mode 0:
   rp_net_save, 1: without O_TMPFILE): every save succeeds, a reader never
   sees anything but a whole version, and no temporary name remains. */
START_TEST(concurrent_saves_stay_whole)
{
    int mode = _i;
    char dir[96], path[192], r[2][192];
    tmpdir_make(dir, sizeof dir);
    rp_net *a = big_net(3), *b = big_net(4);
    unsigned char *ref[2];
    size_t n[2];
    for (unsigned k = 0; k < 2; k++) {
        path_of(r[k], sizeof r[k], dir, k ? "b" : "a");
        ck_assert_int_eq(save_version(mode, a, b, k, r[k]), RP_OK);
        ref[k] = tu_read_file(r[k], &n[k]);
    }
    path_of(path, sizeof path, dir, "net.rpn");
    ck_assert_int_eq(save_version(mode, a, b, 0, path), RP_OK);
    pid_t pid[2];
    for (unsigned k = 0; k < 2; k++) {
        pid[k] = fork();
        ck_assert_int_ge(pid[k], 0);
        if (pid[k] == 0) {
            alarm(20);
            for (int i = 0; i < 20; i++)
                if (save_version(mode, a, b, k, path) != RP_OK)
                    _exit(1);
            _exit(0);
        }
    }
    int reads = 0, torn = 0, done = 0, ok = 1;
    while (done < 2) {
        torn += !is_one_of(path, ref, n);
        reads++;
        int status;
        for (unsigned k = 0; k < 2; k++)
            if (pid[k] > 0 && waitpid(pid[k], &status, WNOHANG) == pid[k]) {
                ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
                pid[k] = 0;
                done++;
            }
    }
    ck_assert_msg(ok, "a concurrent save failed");
    ck_assert_msg(torn == 0, "%d of %d reads saw a torn file", torn, reads);
    char names[512];
    ck_assert_msg(dir_count(dir, names, sizeof names) == 3, "left: %s", names);
    ck_assert(is_one_of(path, ref, n));
    free(ref[0]);
    free(ref[1]);
    rp_net_free(a);
    rp_net_free(b);
    tmpdir_remove(dir);
}
END_TEST

/* ---- NumPy .npy ---------------------------------------------------------------- */

/* A .npy file built here from the NumPy format specification: magic, version,
   header length (2 bytes for 1.x, 4 otherwise), the header text as given
   (padded with spaces and '\n' to a multiple of 64 when pad is set), data. */
static unsigned char *npy_bytes(int major, const char *dict, int pad, const double *a, size_t n,
                                size_t *len)
{
    size_t lenb = major == 1 ? 2 : 4, pre = 8 + lenb, dl = strlen(dict);
    size_t hl = dl;
    if (pad)
        hl = (pre + dl + 1 + 63) / 64 * 64 - pre;
    *len = pre + hl + 8 * n;
    unsigned char *p = malloc(*len);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "\x93NUMPY", 6);
    p[6] = (unsigned char)major;
    p[7] = 0;
    le(p + 8, hl, (int)lenb);
    memcpy(p + pre, dict, dl);
    if (pad) {
        memset(p + pre + dl, ' ', hl - dl);
        p[pre + hl - 1] = '\n';
    }
    for (size_t i = 0; i < n; i++)
        le_f64(p + pre + hl + 8 * i, a[i]);
    return p;
}

START_TEST(npy_save_matches_spec)
{
    char dir[96], path[192];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.npy", dir);
    double a[6] = {1.5, -2, 0, 1e-300, 3.25, -0.0};
    size_t sh2[2] = {2, 3}, sh1[1] = {6}, sh0[2] = {4, 0};
    struct {
        size_t ndim;
        const size_t *shape;
        size_t n;
        const char *dict;
    } cases[3] = {
        {2, sh2, 6, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"},
        {1, sh1, 6, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }"},
        {2, sh0, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 0), }"},
    };
    for (int k = 0; k < 3; k++) {
        char msg[256] = "x";
        ck_assert_int_eq(rp_npy_save(path, a, cases[k].ndim, cases[k].shape, msg, sizeof msg),
                         RP_OK);
        ck_assert_str_eq(msg, "");
        size_t nw, ng;
        unsigned char *want = npy_bytes(1, cases[k].dict, 1, a, cases[k].n, &nw);
        unsigned char *got = tu_read_file(path, &ng);
        ck_assert_uint_eq(ng, nw);
        ck_assert_msg(memcmp(got, want, nw) == 0, "case %d differs", k);
        ck_assert_uint_eq((nw - 8 * cases[k].n) % 64, 0); /* data 64-byte aligned */
        free(want);
        free(got);
        size_t nd, shape[RP_NPY_MAX_DIM];
        ck_assert_int_eq(rp_npy_shape(path, &nd, shape, msg, sizeof msg), RP_OK);
        ck_assert_uint_eq(nd, cases[k].ndim);
        for (size_t i = 0; i < nd; i++)
            ck_assert_uint_eq(shape[i], cases[k].shape[i]);
        double back[6] = {9, 9, 9, 9, 9, 9};
        ck_assert_int_eq(rp_npy_load(path, back, cases[k].ndim, cases[k].shape, msg, sizeof msg),
                         RP_OK);
        ck_assert_int_eq(memcmp(back, a, 8 * cases[k].n), 0);
    }
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);
    /* Arguments. */
    char msg[256];
    ck_assert_int_eq(rp_npy_save(path, a, 0, sh2, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_npy_save(path, a, RP_NPY_MAX_DIM + 1, sh2, msg, sizeof msg),
                     RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_npy_save(path, NULL, 2, sh2, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_npy_save(NULL, a, 2, sh2, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_npy_save(path, a, 2, NULL, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_npy_load(path, NULL, 2, sh0, msg, sizeof msg), RP_OK); /* 0 elements */
    snprintf(path, sizeof path, "%s/missing/a.npy", dir);
    ck_assert_int_eq(rp_npy_save(path, a, 2, sh2, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, strerror(ENOENT)) != NULL, "%s", msg);
    ck_assert_int_eq(rp_npy_load(path, a, 2, sh2, msg, sizeof msg), RP_ERR_IO);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);
    tmpdir_remove(dir);
}
END_TEST

/* Headers as other writers may produce them: version 2.0 and 3.0, double
   quotes, another key order, no trailing comma, no padding. */
START_TEST(npy_load_variants)
{
    char dir[96], path[192], msg[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v.npy", dir);
    double a[4] = {0.1, 0.2, -0.3, 4e10};
    size_t sh[2] = {2, 2}, sh1[1] = {4};
    struct {
        int major, pad, ndim;
        const char *dict;
    } v[] = {
        {2, 1, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"},
        {3, 1, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"},
        {1, 0, 2, "{\"shape\":(2,2),\"fortran_order\":False,\"descr\":\"<f8\"}"},
        {1, 1, 1, "{ 'fortran_order' : False , 'shape' : ( 4 , ) , 'descr' : '<f8' }"},
        {1, 1, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)}"},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        size_t n;
        unsigned char *p = npy_bytes(v[k].major, v[k].dict, v[k].pad, a, 4, &n);
        tu_write_file(path, p, n);
        free(p);
        double back[4] = {0};
        rp_status st =
            rp_npy_load(path, back, (size_t)v[k].ndim, v[k].ndim == 2 ? sh : sh1, msg, sizeof msg);
        ck_assert_msg(st == RP_OK, "variant %zu: %s", k, msg);
        ck_assert_int_eq(memcmp(back, a, sizeof a), 0);
    }
    tmpdir_remove(dir);
}
END_TEST

/* A malformed file must give RP_ERR_FORMAT naming the problem and leave dst alone. */
static void npy_expect_format(const char *dir, const unsigned char *p, size_t n, size_t ndim,
                              const size_t *shape, const char *want)
{
    char path[192], msg[256] = "";
    snprintf(path, sizeof path, "%s/bad.npy", dir);
    tu_write_file(path, p, n);
    double dst[8];
    for (int i = 0; i < 8; i++)
        dst[i] = 12345;
    rp_status st = rp_npy_load(path, dst, ndim, shape, msg, sizeof msg);
    ck_assert_msg(st == RP_ERR_FORMAT, "%s: got %s (%s)", want, rp_status_string(st), msg);
    ck_assert_msg(strstr(msg, want) != NULL, "expected '%s' in '%s'", want, msg);
    for (int i = 0; i < 8; i++)
        ck_assert(dst[i] == 12345);
}

START_TEST(npy_malformed_rejected)
{
    char dir[96];
    tmpdir_make(dir, sizeof dir);
    double a[4] = {1, 2, 3, 4};
    size_t sh[2] = {2, 2};
    size_t n;
    unsigned char *p;
#define BAD(major, dict, want)                     \
    do {                                           \
        p = npy_bytes(major, dict, 1, a, 4, &n);   \
        npy_expect_format(dir, p, n, 2, sh, want); \
        free(p);                                   \
    } while (0)
    BAD(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", "dtype is '<f4'");
    BAD(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", "dtype is '>f8'");
    BAD(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", "dtype is '<i8'");
    BAD(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", "Fortran order");
    BAD(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 2), }", "fortran_order");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
        "shape is (4,), expected (2, 2)");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4), }",
        "shape is (1, 4), expected (2, 2)");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", "integers");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2 }", "not closed");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 2], }", "not a tuple");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, }", "lacks 'shape'");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 1}",
        "unexpected or repeated key 'x'");
    BAD(1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
        "repeated key 'descr'");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), } junk",
        "text after the dict");
    BAD(1, "['descr', '<f8']", "not a dict");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }",
        "absurd dimension");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
        "absurd");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }", "truncated");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", "trailing");
    BAD(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }",
        "more than 8 dimensions");
#undef BAD
    /* Preamble damage. */
    p = npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 1, a, 4, &n);
    p[1] = 'n';
    npy_expect_format(dir, p, n, 2, sh, "bad magic");
    p[1] = 'N';
    p[6] = 4;
    npy_expect_format(dir, p, n, 2, sh, "unsupported npy format version 4.0");
    p[6] = 1;
    p[7] = 1;
    npy_expect_format(dir, p, n, 2, sh, "unsupported npy format version 1.1");
    p[7] = 0;
    p[8] = 0xff; /* header length beyond the file */
    p[9] = 0xff;
    npy_expect_format(dir, p, n, 2, sh, "truncated");
    p[8] = (unsigned char)(n - 10 - 16); /* header length reaching into the data */
    p[9] = 0;
    npy_expect_format(dir, p, n, 2, sh, "npy header");
    /* Truncated at every byte. */
    size_t ng;
    unsigned char *good =
        npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 1, a, 4, &ng);
    for (size_t k = 0; k < ng; k++)
        npy_expect_format(dir, good, k, 2, sh, "truncated");
    free(good);
    free(p);
    /* Version 2 with a header length of 2^31: refused before any allocation. */
    unsigned char v2[16] = {0x93, 'N', 'U', 'M',  'P', 'Y', 2,   0,
                            0,    0,   0,   0x80, '{', '}', ' ', '\n'};
    npy_expect_format(dir, v2, sizeof v2, 2, sh, "absurd");
    tmpdir_remove(dir);
}
END_TEST

START_TEST(npy_params_and_grads)
{
    char dir[96], path[192];
    tmpdir_make(dir, sizeof dir);
    rp_net *a = small_net(RP_FORM_VOLTAGE, RP_ACT_TANH, 21);
    rp_net *b = small_net(RP_FORM_VOLTAGE, RP_ACT_TANH, 22);
    static const size_t want_nd[RP_PARAM_COUNT] = {2, 2, 1, 2, 1};
    static const size_t want_sh[RP_PARAM_COUNT][2] = {
        {NR, NR}, {NR, NI}, {NR, 0}, {NO, NR}, {NO, 0}};
    static const char *const name[RP_PARAM_COUNT] = {"W", "U", "b", "V", "c"};
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        snprintf(path, sizeof path, "%s/%s.npy", dir, name[p]);
        RP_CK(rp_net_save_param_npy(a, (rp_param)p, path), a, rp_net_last_error);
        size_t nd, sh[RP_NPY_MAX_DIM];
        char msg[256];
        ck_assert_int_eq(rp_npy_shape(path, &nd, sh, msg, sizeof msg), RP_OK);
        ck_assert_uint_eq(nd, want_nd[p]);
        for (size_t i = 0; i < nd; i++)
            ck_assert_uint_eq(sh[i], want_sh[p][i]);
        size_t len;
        ck_assert_int_eq(rp_net_get_param_len(a, (rp_param)p, &len), RP_OK);
        double va[NR * NR], vf[NR * NR], vb[NR * NR];
        ck_assert_int_eq(rp_net_get_param(a, (rp_param)p, va, len), RP_OK);
        ck_assert_int_eq(rp_npy_load(path, vf, nd, sh, msg, sizeof msg), RP_OK);
        ck_assert_int_eq(memcmp(va, vf, len * sizeof(double)), 0);
        RP_CK(rp_net_load_param_npy(b, (rp_param)p, path), b, rp_net_last_error);
        ck_assert_int_eq(rp_net_get_param(b, (rp_param)p, vb, len), RP_OK);
        ck_assert_int_eq(memcmp(va, vb, len * sizeof(double)), 0);
    }
    /* Wrong shape, wrong dtype, NaN, missing file: b unchanged. */
    double before[N_THETA + NR], after[N_THETA + NR];
    net_body(b, before);
    snprintf(path, sizeof path, "%s/W.npy", dir);
    ck_assert_int_eq(rp_net_load_param_npy(b, RP_PARAM_U, path), RP_ERR_FORMAT);
    ck_assert_msg(strstr(rp_net_last_error(b), "parameter U") &&
                      strstr(rp_net_last_error(b), "shape is (3, 3), expected (3, 2)"),
                  "%s", rp_net_last_error(b));
    snprintf(path, sizeof path, "%s/f4.npy", dir);
    {
        size_t n;
        unsigned char *p = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                     1, NULL, 0, &n);
        unsigned char *q = calloc(n + 12, 1);
        memcpy(q, p, n);
        tu_write_file(path, q, n + 12);
        free(p);
        free(q);
    }
    ck_assert_int_eq(rp_net_load_param_npy(b, RP_PARAM_B, path), RP_ERR_FORMAT);
    ck_assert_msg(strstr(rp_net_last_error(b), "dtype is '<f4'"), "%s", rp_net_last_error(b));
    snprintf(path, sizeof path, "%s/nan.npy", dir);
    double nanb[NR] = {0, NAN, 0};
    size_t shb[1] = {NR};
    ck_assert_int_eq(rp_npy_save(path, nanb, 1, shb, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_net_load_param_npy(b, RP_PARAM_B, path), RP_ERR_NONFINITE);
    snprintf(path, sizeof path, "%s/none.npy", dir);
    ck_assert_int_eq(rp_net_load_param_npy(b, RP_PARAM_B, path), RP_ERR_IO);
    ck_assert_int_eq(rp_net_load_param_npy(b, (rp_param)9, path), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_save_param_npy(b, (rp_param)-1, path), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_load_param_npy(NULL, RP_PARAM_B, path), RP_ERR_INVALID_ARG);
    net_body(b, after);
    ck_assert_int_eq(memcmp(before, after, sizeof before), 0);

    /* A gradient block, shaped like its parameter. */
    rp_grad *g = NULL;
    ck_assert_int_eq(rp_grad_create(&g, a, NULL, 0), RP_OK);
    double gv[NO * NR], gb[NO * NR];
    tu_fill(gv, NO * NR, -3, 3, 5);
    RP_CK(rp_grad_set(g, RP_PARAM_V, gv, NO * NR), g, rp_grad_last_error);
    snprintf(path, sizeof path, "%s/gV.npy", dir);
    RP_CK(rp_grad_save_param_npy(g, RP_PARAM_V, path), g, rp_grad_last_error);
    size_t shv[2] = {NO, NR};
    ck_assert_int_eq(rp_npy_load(path, gb, 2, shv, NULL, 0), RP_OK);
    ck_assert_int_eq(memcmp(gv, gb, sizeof gv), 0);
    ck_assert_int_eq(rp_grad_save_param_npy(g, (rp_param)5, path), RP_ERR_INVALID_ARG);
    snprintf(path, sizeof path, "%s/missing/gV.npy", dir);
    ck_assert_int_eq(rp_grad_save_param_npy(g, RP_PARAM_V, path), RP_ERR_IO);
    ck_assert_msg(strstr(rp_grad_last_error(g), strerror(ENOENT)), "%s", rp_grad_last_error(g));
    rp_grad_free(g);
    rp_net_free(a);
    rp_net_free(b);
    tmpdir_remove(dir);
}
END_TEST

/* The first Python with numpy among the usual names, or NULL. */
static const char *find_numpy_python(void)
{
    static const char *const cand[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cand[i]);
        int rc = system(cmd);
        if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
            return cand[i];
    }
    return NULL;
}

/* numpy.load reads our files and numpy.save's files read back: the format's
   true oracle.  Skipped (with a note) when no Python has numpy. */
START_TEST(npy_numpy_round_trip)
{
    const char *py = find_numpy_python();
    if (!py) {
        fprintf(stderr, "io: no python3 with numpy; numpy round trip skipped\n");
        return;
    }
    char dir[96], in2[192], in1[192], script[192], cmd[512], msg[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(in2, sizeof in2, "%s/in2.npy", dir);
    snprintf(in1, sizeof in1, "%s/in1.npy", dir);
    snprintf(script, sizeof script, "%s/check.py", dir);
    double a[12];
    tu_fill(a, 12, -5, 5, 77);
    a[3] = -0.0;
    a[7] = 1e-310; /* subnormal */
    size_t sh2[2] = {3, 4}, sh1[1] = {5};
    ck_assert_int_eq(rp_npy_save(in2, a, 2, sh2, msg, sizeof msg), RP_OK);
    ck_assert_int_eq(rp_npy_save(in1, a, 1, sh1, msg, sizeof msg), RP_OK);
    /* Python checks shape, dtype and each value's bits (hex) against ours,
       then writes arrays for us to read. */
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(
        f,
        "import numpy as np, sys\nd = sys.argv[1]\nbits = sys.argv[2].split(',')\n"
        "a = np.load(d + '/in2.npy')\n"
        "assert a.dtype == np.dtype('<f8') and a.shape == (3, 4), (a.dtype, a.shape)\n"
        "assert [format(v, '016x') for v in a.ravel().view('<u8')] == bits\n"
        "b = np.load(d + '/in1.npy')\n"
        "assert b.shape == (5,) and list(b.ravel().view('<u8')) == list(a.ravel().view('<u8')[:5])\n"
        "np.save(d + '/back.npy', a)\n"
        "np.save(d + '/sev.npy', np.arange(6, dtype='<f8').reshape(2, 3) / 7)\n"
        "np.save(d + '/vec.npy', np.arange(4, dtype='<f8') - 1.5)\n"
        "np.save(d + '/fort.npy', np.asfortranarray(np.ones((2, 3))))\n"
        "np.save(d + '/f4.npy', np.ones((2, 3), dtype='<f4'))\n"
        "np.save(d + '/be.npy', np.ones((2, 3), dtype='>f8'))\n");
    fclose(f);
    size_t o = (size_t)snprintf(cmd, sizeof cmd, "%s %s %s ", py, script, dir);
    char bits[12 * 17 + 1] = "";
    for (int i = 0; i < 12; i++) {
        uint64_t u;
        memcpy(&u, &a[i], 8);
        snprintf(bits + strlen(bits), sizeof bits - strlen(bits), "%s%016llx", i ? "," : "",
                 (unsigned long long)u);
    }
    snprintf(cmd + o, sizeof cmd - o, "%s", bits);
    int rc = system(cmd);
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "numpy check failed: %s", cmd);

    char path[192];
    double back[12], sev[6], vec[4];
    snprintf(path, sizeof path, "%s/back.npy", dir);
    ck_assert_int_eq(rp_npy_load(path, back, 2, sh2, msg, sizeof msg), RP_OK);
    ck_assert_int_eq(memcmp(back, a, sizeof a), 0);
    size_t sh23[2] = {2, 3}, sh4[1] = {4};
    snprintf(path, sizeof path, "%s/sev.npy", dir);
    ck_assert_msg(rp_npy_load(path, sev, 2, sh23, msg, sizeof msg) == RP_OK, "%s", msg);
    for (int i = 0; i < 6; i++) /* IEEE division is correctly rounded in both */
        ck_assert(sev[i] == (double)i / 7);
    snprintf(path, sizeof path, "%s/vec.npy", dir);
    ck_assert_msg(rp_npy_load(path, vec, 1, sh4, msg, sizeof msg) == RP_OK, "%s", msg);
    for (int i = 0; i < 4; i++)
        ck_assert(vec[i] == i - 1.5);
    snprintf(path, sizeof path, "%s/fort.npy", dir);
    ck_assert_int_eq(rp_npy_load(path, sev, 2, sh23, msg, sizeof msg), RP_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "Fortran"), "%s", msg);
    snprintf(path, sizeof path, "%s/f4.npy", dir);
    ck_assert_int_eq(rp_npy_load(path, sev, 2, sh23, msg, sizeof msg), RP_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "'<f4'"), "%s", msg);
    snprintf(path, sizeof path, "%s/be.npy", dir);
    ck_assert_int_eq(rp_npy_load(path, sev, 2, sh23, msg, sizeof msg), RP_ERR_FORMAT);
    ck_assert_msg(strstr(msg, "'>f8'"), "%s", msg);
    tmpdir_remove(dir);
}
END_TEST

Suite *suite_io(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_loop_test(tc, net_roundtrip_bit_identical, 0, 6);
    tcase_add_test(tc, net_load_hand_built);
    tcase_add_test(tc, net_truncated_every_offset);
    tcase_add_test(tc, net_every_bit_flip_rejected);
    tcase_add_test(tc, net_crafted_headers_rejected);
    tcase_add_test(tc, net_io_errors);
    tcase_add_test(tc, net_save_replaces_atomically);
    tcase_add_test(tc, net_save_refuses_huge_state);
    tcase_add_loop_test(tc, save_refuses_special_files, 0, W_COUNT);
    tcase_add_test(tc, load_does_not_open_special_files);
    tcase_add_loop_test(tc, save_writes_through_symlinks, 0, W_COUNT);
    tcase_add_loop_test(tc, temp_name_never_written_through, 0, 2);
    tcase_add_loop_test(tc, killed_saves_leave_one_temp, 0, 3);
    tcase_add_loop_test(tc, concurrent_saves_stay_whole, 0, 2);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("npy");
    tcase_set_timeout(tn, 60);
    tcase_add_unchecked_fixture(tn, base_setup, base_teardown);
    tcase_add_test(tn, npy_save_matches_spec);
    tcase_add_test(tn, npy_load_variants);
    tcase_add_test(tn, npy_malformed_rejected);
    tcase_add_test(tn, npy_params_and_grads);
    tcase_add_test(tn, npy_numpy_round_trip);
    suite_add_tcase(s, tn);
    return s;
}
