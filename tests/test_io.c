/* Files: the network format (rp_net_save / rp_net_load) and NumPy .npy.

   The oracle for both formats is an encoder written here, byte by byte, from
   the layout documented in rnnplast.h ("Files") and the NumPy format
   specification; it shares no code with src/io.c.  Every test works in its
   own directory made by mkdtemp under /tmp and removes it afterwards. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void write_bytes(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, malloc'ed; *n receives its length. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    ck_assert_ptr_nonnull(p);
    size_t r;
    while ((r = fread(p + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            cap *= 2;
            p = realloc(p, cap);
            ck_assert_ptr_nonnull(p);
        }
    }
    fclose(f);
    *n = len;
    return p;
}

/* ---- a small network ---------------------------------------------------- */

enum { NI = 2, NR = 3, NO = 2, NB = 2 };
#define N_THETA (NR * NR + NR * NI + NR + NO * NR + NO)

static rp_net *small_net(rp_form form, rp_activation act, uint64_t seed)
{
    rp_net_config c = rp_net_config_default();
    c.n_in = NI;
    c.n_rec = NR;
    c.n_out = NO;
    c.batch = NB;
    c.alpha = 0.7;
    c.form = form;
    c.act = act;
    c.noise_std = 0.05;
    c.seed = seed;
    rp_net *net = NULL;
    ck_assert_int_eq(rp_net_create(&net, &c), RP_OK);
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
    s.n_theta = c->n_rec * c->n_rec + c->n_rec * c->n_in + c->n_rec + c->n_out * c->n_rec + c->n_out;
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
    size_t off = 0;
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        size_t len;
        ck_assert_int_eq(rp_net_param_len(net, (rp_param)p, &len), RP_OK);
        ck_assert_int_eq(rp_net_get_param(net, (rp_param)p, body + off, len), RP_OK);
        off += len;
    }
    ck_assert_int_eq(rp_net_get_initial_state(net, body + off, NR), RP_OK);
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
    rp_net_get_config(a, &ca);
    double body[N_THETA + NR];
    net_body(a, body);
    spec s = spec_of(&ca);
    size_t n_want, n_got;
    unsigned char *want = encode(&s, body, N_THETA + NR, &n_want);
    unsigned char *got = read_bytes(path, &n_got);
    ck_assert_uint_eq(n_got, n_want);
    ck_assert_int_eq(memcmp(got, want, n_want), 0);
    free(want);
    free(got);

    rp_net *b = NULL;
    char msg[256] = "untouched";
    ck_assert_int_eq(rp_net_load_ex(&b, path, msg, sizeof msg), RP_OK);
    ck_assert_str_eq(msg, "");
    rp_net_config cb;
    rp_net_get_config(b, &cb);
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
    rp_net_get_state(a, sa, NB * NR);
    rp_net_get_state(b, sb, NB * NR);
    ck_assert_int_eq(memcmp(sa, sb, sizeof sa), 0);

    /* Plain rp_net_load as well. */
    rp_net *c = NULL;
    ck_assert_int_eq(rp_net_load(&c, path), RP_OK);
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
    rp_net_config c = rp_net_config_default();
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
    write_bytes(path, p, n);
    free(p);
    rp_net *net = NULL;
    char msg[256];
    ck_assert_int_eq(rp_net_load_ex(&net, path, msg, sizeof msg), RP_OK);
    rp_net_config g;
    rp_net_get_config(net, &g);
    ck_assert_uint_eq(g.n_in, 0);
    ck_assert_uint_eq(g.batch, 3);
    ck_assert_int_eq(g.form, RP_FORM_RATE);
    ck_assert_int_eq(g.act, RP_ACT_TANH);
    ck_assert(g.alpha == 0.25);
    ck_assert(g.seed == 0xfedcba9876543210ULL);
    double W[4], b[2], V[2], cc[1], h0[2], st[6];
    rp_net_get_param(net, RP_PARAM_W, W, 4);
    rp_net_get_param(net, RP_PARAM_B, b, 2);
    rp_net_get_param(net, RP_PARAM_V, V, 2);
    rp_net_get_param(net, RP_PARAM_C, cc, 1);
    rp_net_get_initial_state(net, h0, 2);
    rp_net_get_state(net, st, 6);
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
    unsigned char *p = read_bytes(path, &n);
    ck_assert_uint_eq(n, 88 + 8 * (N_THETA + NR) + 4);
    for (size_t k = 0; k < n; k++) {
        write_bytes(cut, p, k);
        rp_net *b = (rp_net *)&b; /* must be overwritten with NULL */
        char msg[256] = "";
        rp_status st = rp_net_load_ex(&b, cut, msg, sizeof msg);
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
    rp_net_config c = rp_net_config_default();
    c.n_in = 1;
    c.n_rec = 2;
    c.n_out = 1;
    rp_net *a = NULL;
    ck_assert_int_eq(rp_net_create(&a, &c), RP_OK);
    double W[4] = {0.5, -0.25, 1.5, 2};
    RP_CK(rp_net_set_param(a, RP_PARAM_W, W, 4), a, rp_net_last_error);
    RP_CK(rp_net_save(a, path), a, rp_net_last_error);
    size_t n;
    unsigned char *p = read_bytes(path, &n);
    int by_crc = 0, by_field = 0;
    for (size_t bit = 0; bit < 8 * n; bit++) {
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        write_bytes(bad, p, n);
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        rp_net *b = NULL;
        char msg[256] = "";
        rp_status st = rp_net_load_ex(&b, bad, msg, sizeof msg);
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
    write_bytes(path, p, n);
    free(p);
    rp_net *b = NULL;
    char msg[256] = "";
    rp_status st = rp_net_load_ex(&b, path, msg, sizeof msg);
    ck_assert_msg(st == RP_ERR_FORMAT, "%s: got %s (%s)", want, rp_status_string(st), msg);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(msg, want) != NULL, "expected '%s' in '%s'", want, msg);
}

START_TEST(net_crafted_headers_rejected)
{
    char dir[96];
    tmpdir_make(dir, sizeof dir);
    rp_net_config c = rp_net_config_default();
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
        write_bytes(path, p, n);
        free(p);
        rp_net *b = NULL;
        ck_assert_int_eq(rp_net_load(&b, path), RP_OK);
        rp_net_free(b);
    }
    s = good;
    memcpy(s.magic, "RNNPLAST", 8);
    expect_format(dir, &s, body, 13, 0, "bad magic");
    s = good;
    s.version = 2;
    expect_format(dir, &s, body, 13, 0, "unsupported format version 2");
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
    ck_assert_int_eq(rp_net_load_ex(&b, path, msg, sizeof msg), RP_ERR_IO);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(msg, strerror(ENOENT)) != NULL, "%s", msg);
    ck_assert_int_eq(rp_net_load_ex(&b, dir, msg, sizeof msg), RP_ERR_IO);
    ck_assert_msg(strstr(msg, "not a regular file") != NULL, "%s", msg);

    /* Arguments. */
    ck_assert_int_eq(rp_net_save(NULL, path), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_save(a, NULL), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_save(a, ""), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_load(NULL, path), RP_ERR_INVALID_ARG);
    ck_assert_int_eq(rp_net_load_ex(&b, NULL, msg, sizeof msg), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(msg, "path is NULL");
    ck_assert_int_eq(rp_net_load_ex(&b, NULL, NULL, 0), RP_ERR_INVALID_ARG);
    char tiny[4];
    ck_assert_int_eq(rp_net_load_ex(&b, NULL, tiny, sizeof tiny), RP_ERR_INVALID_ARG);
    ck_assert_str_eq(tiny, "pat"); /* truncated to the buffer, terminated */

    /* The target is a non-empty directory: rename fails, the temporary file goes. */
    snprintf(path, sizeof path, "%s/occupied", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    char inner[256];
    snprintf(inner, sizeof inner, "%s/x", path);
    write_bytes(inner, (const unsigned char *)"x", 1);
    ck_assert_int_eq(rp_net_save(a, path), RP_ERR_IO);
    ck_assert_msg(strstr(rp_net_last_error(a), "rename"), "%s", rp_net_last_error(a));
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
    unsigned char *now = read_bytes(path, &n);
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
    unsigned char *old = read_bytes(path, &n_a);

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
    ck_assert_int_eq(rp_net_load_ex(&c, path, msg, sizeof msg), RP_OK);
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
    suite_add_tcase(s, tc);
    return s;
}
