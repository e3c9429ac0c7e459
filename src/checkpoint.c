/* Checkpoints: rp_checkpoint_save and rp_checkpoint_load.  The optimizer's
   and the rule's state come through their get-state/set-state calls
   (internal.h), never their structs. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* ---- checkpoints ----------------------------------------------------------

   A training run's complete state, so that a run stopped after iteration i
   and resumed from its checkpoint continues bit for bit (rnnplast.h, Files,
   "Checkpoints", has the table).  The network section is the network file's
   header and body followed by the live state and the noise generator; then
   the optimizer, the rule and the caller's bytes, each present or not, and
   the CRC-32 of everything before it.  The lengths of every section follow
   from the fixed header, so the file's exact length is checked first; a
   first pass then validates every field and the checksum with fixed
   buffers, and only then are the handles created and filled by a second
   pass over the same bytes (which checks the checksum again).

   Version 2 adds the online stream (contents bit 2, after the rule section):
   its position, loss sum and the arrays rp__rule_stream_layout lists.  Their
   lengths depend on the rule's kind, read in the rule section, so for such a
   file the exact length is checked there, before the arrays are read.
   Version 1 files (no stream bit) are read as before.

   Version 3 adds ModProp (contents bit 3, which needs the rule bit and a
   ModProp rule): after the rule's feedback, mu (f64) and the n_rec cell
   types (u32 each, below n_rec), so its length follows from the header; its
   stream's last array (the modulator filter) has a length set by K, the
   largest type + 1.  A file is written as the oldest version that holds it
   (3 only with a ModProp rule), so that 1.0 still reads every other file.

   Version 4 (1.2) is a single-precision net's checkpoint (contents bit 4,
   only in version 4, which needs it): the layout of version 3 unchanged,
   every array double (the float values widened, exactly: theta, h0, the
   live state, and the rule's float stream arrays), and the embedded
   network header of version 1.  A reader requires the values it rounds
   back to be floats.  Double nets' checkpoints stay versions 2 and 3, byte
   for byte; 1.0 and 1.1 refuse a version 4 file by its version. */

#define RP_CK_MAGIC "\x89RPCK\r\n\x1a"
#define RP_CK_VERSION 4u
#define RP_CK_VERSION_OLDEST 1u
#define RP_CK_HEAD 40u /* before the embedded network header */
#define RP_CK_HAS_OPTIM 1u
#define RP_CK_HAS_RULE 2u
#define RP_CK_HAS_STREAM 4u    /* version 2; needs RP_CK_HAS_RULE */
#define RP_CK_HAS_MODPROP 8u   /* version 3; needs RP_CK_HAS_RULE */
#define RP_CK_SINGLE 16u       /* version 4, which needs it: RP_PRECISION_SINGLE */
#define RP_CK_MODPROP_FIXED 8u /* mu; then n_rec u32 types */
#define RP_CK_RNG 48u          /* s[4], has_spare, 4 zero bytes, spare */
#define RP_CK_OPTIM_FIXED 88u  /* kind, 4 zero, 7 doubles, 5+5 flags, 6 zero, t */
#define RP_CK_RULE_FIXED 24u   /* kind, loss, feedback kind, custom, K */
#define RP_CK_STREAM_FIXED 16u /* steps, loss sum; then the arrays */

typedef struct ck_save_ctx {
    const rp_net *net;
    const rp_optim *opt;
    const rp_rule *rule;
    uint64_t iteration;
    const unsigned char *user;
    size_t user_len;
} ck_save_ctx;

static void w_u8s(writer *w, const unsigned char *a, size_t n)
{
    while (n > 0 && !w->err) {
        size_t k = n < 65536 ? n : 65536;
        rp__w_bytes(w, a, k);
        a += k;
        n -= k;
    }
}

static void write_ckpt(writer *w, const void *ctxp)
{
    const ck_save_ctx *c = ctxp;
    const rp_net *net = c->net;
    const size_t N = net->cfg.n_rec, BN = net->cfg.batch * N, P = net->lay.total;
    unsigned char h[RP_CK_HEAD + RP_IO_HEADER];
    memcpy(h, RP_CK_MAGIC, RP_IO_MAGIC_LEN);
    rp__rule_state rs;
    if (c->rule)
        rp__rule_get_state(c->rule, &rs);
    const int modprop = c->rule && rs.kind == RP_RULE_MODPROP;
    const int single = net->cfg.precision == RP_PRECISION_SINGLE;
    put_u32(h + 8, single ? 4u : modprop ? 3u : 2u);
    put_u32(h + 12, RP_IO_BOM);
    put_u64(h + 16, c->iteration);
    put_u32(h + 24, (c->opt ? RP_CK_HAS_OPTIM : 0u) | (c->rule ? RP_CK_HAS_RULE : 0u) |
                        (c->rule && rs.streaming ? RP_CK_HAS_STREAM : 0u) |
                        (modprop ? RP_CK_HAS_MODPROP : 0u) | (single ? RP_CK_SINGLE : 0u));
    put_u32(h + 28, net->cfg.batch_invariant ? 1u : 0u);
    put_u64(h + 32, c->user_len);
    rp__net_header(h + RP_CK_HEAD, net);
    rp__w_bytes(w, h, sizeof h);
    rp__w_f64s(w, net->theta, P);
    rp__w_f64s(w, net->h0, N);
    rp__w_f64s(w, net->state, BN);
    rp__w_f64s(w, net->fx, BN);
    rp__w_f64s(w, net->u, BN);
    unsigned char r[RP_CK_RNG] = {0};
    for (int i = 0; i < 4; i++)
        put_u64(r + 8 * i, net->rng.s[i]);
    put_u32(r + 32, net->rng.has_spare ? 1u : 0u);
    put_f64(r + 40, net->rng.spare);
    rp__w_bytes(w, r, sizeof r);
    if (c->opt) {
        rp__optim_state s;
        rp__optim_get_state(c->opt, &s);
        unsigned char o[RP_CK_OPTIM_FIXED] = {0};
        put_u32(o, (uint32_t)s.kind);
        const double hp[7] = {s.lr, s.momentum, s.beta1, s.beta2, s.eps, s.clip, s.decay};
        for (int i = 0; i < 7; i++)
            put_f64(o + 8 + 8 * i, hp[i]);
        for (int p = 0; p < RP_PARAM_COUNT; p++) {
            o[64 + p] = (unsigned char)s.trainable[p];
            o[69 + p] = (unsigned char)s.has_structure[p];
        }
        put_u64(o + 80, s.t);
        rp__w_bytes(w, o, sizeof o);
        w_u8s(w, s.con, P);
        rp__w_f64s(w, s.m, P);
        rp__w_f64s(w, s.v, P);
    }
    if (c->rule) {
        unsigned char q[RP_CK_RULE_FIXED];
        put_u32(q, (uint32_t)rs.kind);
        put_u32(q + 4, (uint32_t)rs.loss);
        put_u32(q + 8, (uint32_t)rs.fb_kind);
        put_u32(q + 12, rs.fb_custom ? 1u : 0u);
        put_u64(q + 16, rs.K);
        rp__w_bytes(w, q, sizeof q);
        rp__w_f64s(w, rs.fb, rs.n_rec * rs.n_out);
    }
    if (modprop) {
        unsigned char q[4096];
        put_f64(q, rs.mu);
        rp__w_bytes(w, q, RP_CK_MODPROP_FIXED);
        for (size_t i = 0; i < rs.n_rec && !w->err;) {
            size_t k = rs.n_rec - i < sizeof q / 4 ? rs.n_rec - i : sizeof q / 4;
            for (size_t j = 0; j < k; j++)
                put_u32(q + 4 * j, rs.types[i + j]);
            rp__w_bytes(w, q, 4 * k);
            i += k;
        }
    }
    if (c->rule && rs.streaming) {
        unsigned char q[RP_CK_STREAM_FIXED];
        put_u64(q, rs.steps);
        put_f64(q + 8, rs.stream_loss);
        rp__w_bytes(w, q, sizeof q);
        for (size_t i = 0; i < rs.n_arrays; i++) {
            if (rs.arr_f[i])
                rp__w_f32s(w, rs.arr_f[i], (size_t)rs.len[i]);
            else
                rp__w_f64s(w, rs.arr[i], (size_t)rs.len[i]);
        }
    }
    w_u8s(w, c->user, c->user_len);
    unsigned char tail[4];
    put_u32(tail, (uint32_t)w->crc);
    rp__w_bytes(w, tail, sizeof tail);
}

static rp_status ckpt_save(const char *path, const rp_net *net, const rp_optim *opt,
                           const rp_rule *rule, uint64_t iteration, const void *user,
                           size_t user_len, char *err)
{
    if (!path || !*path)
        return rp__fail(err, RP_ERR_INVALID_ARG, "path is %s", path ? "empty" : "NULL");
    if (!net)
        return rp__fail(err, RP_ERR_INVALID_ARG, "net is NULL");
    if (user_len > RP_CHECKPOINT_MAX_USER)
        return rp__fail(err, RP_ERR_INVALID_ARG, "user_len is %zu, expected at most %zu", user_len,
                        (size_t)RP_CHECKPOINT_MAX_USER);
    if (!user && user_len > 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "user is NULL but user_len is %zu", user_len);
    const rp_net_config *c = &net->cfg;
    if ((uint64_t)c->batch * c->n_rec > RP_IO_MAX_STATE)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "batch*n_rec = %zu*%zu exceeds the file format's %llu", c->batch, c->n_rec,
                        (unsigned long long)RP_IO_MAX_STATE);
    if (opt) {
        rp__optim_state s;
        rp__optim_get_state(opt, &s);
        if (s.n_in != c->n_in || s.n_rec != c->n_rec || s.n_out != c->n_out)
            return rp__fail(
                err, RP_ERR_DIM_MISMATCH,
                "opt was built for (n_in %zu, n_rec %zu, n_out %zu), net has (%zu, %zu, %zu)",
                s.n_in, s.n_rec, s.n_out, c->n_in, c->n_rec, c->n_out);
    }
    if (rule) {
        rp__rule_state s;
        rp__rule_get_state(rule, &s);
        if (s.n_in != c->n_in || s.n_rec != c->n_rec || s.n_out != c->n_out ||
            s.batch != c->batch || s.form != c->form || s.act != c->act)
            return rp__fail(
                err, RP_ERR_DIM_MISMATCH,
                "rule was built for (n_in %zu, n_rec %zu, n_out %zu, batch %zu, form %d, "
                "act %d), net has (%zu, %zu, %zu, %zu, %d, %d)",
                s.n_in, s.n_rec, s.n_out, s.batch, (int)s.form, (int)s.act, c->n_in, c->n_rec,
                c->n_out, c->batch, (int)c->form, (int)c->act);
        /* An open online stream is saved with the rule (its traces and
           position), so that it resumes where it stopped.  Ticks pending in
           an online block (rp_rule_set_online_block) are gradient the file
           could not give back (the grad is not held): refused. */
        if (s.pending)
            return rp__fail(err, RP_ERR_STATE,
                            "%zu ticks of the rule's online block are pending: rp_rule_flush "
                            "them into the grad before saving",
                            s.pending);
    }
    ck_save_ctx ctx = {net, opt, rule, iteration, user, user_len};
    return rp__atomic_write(&net->al, path, write_ckpt, &ctx, err);
}

rp_status rp_checkpoint_save(const rp_net *net, const rp_optim *opt, const rp_rule *rule,
                             const char *path, uint64_t iteration, const void *user,
                             size_t user_len, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = ckpt_save(path, net, opt, rule, iteration, user, user_len, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

/* ---- checkpoint reading ---- */

/* A source that checksums what it reads and remembers the first failure. */
typedef struct ck_reader {
    int fd;
    int e; /* errno of the first failure (EIO: the file ended early) */
    uLong crc;
    int single;    /* a single-precision net's file: the arrays read hold floats */
    int not_float; /* r_f64s's bad index is a value that is not a float */
} ck_reader;

static void r_bytes(ck_reader *r, void *dst, size_t n)
{
    if (r->e)
        return;
    ssize_t got = rp__read_full(r->fd, dst, n);
    if (got < 0)
        r->e = errno ? errno : EIO;
    else if ((size_t)got != n)
        r->e = EIO;
    else
        r->crc = crc32(r->crc, dst, (uInt)n); /* callers pass at most 4 KiB */
}

/* n doubles into dst (NULL: checked and checksummed only); returns the index
   of the first non-finite one, or n. */
static uint64_t r_f64s_to(ck_reader *r, double *dst, float *dstf, uint64_t n);
static uint64_t r_f64s(ck_reader *r, double *dst, uint64_t n) { return r_f64s_to(r, dst, NULL, n); }

/* The same into a float array (dstf): a single-precision rule's stream, the
   values rounded back (ck_pass refuses values that are not floats first). */
static uint64_t r_f64s_to(ck_reader *r, double *dst, float *dstf, uint64_t n)
{
    unsigned char buf[4096];
    uint64_t bad = n;
    for (uint64_t i = 0; i < n && !r->e;) {
        size_t k = n - i < sizeof buf / 8 ? (size_t)(n - i) : sizeof buf / 8;
        r_bytes(r, buf, 8 * k);
        for (size_t j = 0; j < k && !r->e; j++) {
            double d = get_f64(buf + 8 * j);
            if (bad == n && !isfinite(d))
                bad = i + j;
            if (dst)
                dst[i + j] = d;
            if (dstf)
                dstf[i + j] = (float)d;
            if (r->single && bad == n && (double)(float)d != d)
                bad = i + j, r->not_float = 1;
        }
        i += k;
    }
    return bad;
}

/* n bytes into dst (NULL: checksummed only); returns the index of the first
   one above max, or n. */
static uint64_t r_u8s(ck_reader *r, unsigned char *dst, uint64_t n, unsigned max)
{
    unsigned char buf[4096];
    uint64_t bad = n;
    for (uint64_t i = 0; i < n && !r->e;) {
        size_t k = n - i < sizeof buf ? (size_t)(n - i) : sizeof buf;
        r_bytes(r, buf, k);
        for (size_t j = 0; j < k && !r->e && bad == n; j++)
            if (buf[j] > max)
                bad = i + j;
        if (dst && !r->e)
            memcpy(dst + i, buf, k);
        i += k;
    }
    return bad;
}

/* n u32s into dst (NULL: checked and checksummed only); returns the index
   of the first one at or above lim, or n; *max receives the largest. */
static uint64_t r_u32s(ck_reader *r, unsigned *dst, uint64_t n, uint64_t lim, uint64_t *max)
{
    unsigned char buf[4096];
    uint64_t bad = n;
    *max = 0;
    for (uint64_t i = 0; i < n && !r->e;) {
        size_t k = n - i < sizeof buf / 4 ? (size_t)(n - i) : sizeof buf / 4;
        r_bytes(r, buf, 4 * k);
        for (size_t j = 0; j < k && !r->e; j++) {
            uint32_t v = get_u32(buf + 4 * j);
            if (bad == n && v >= lim)
                bad = i + j;
            if (v > *max)
                *max = v;
            if (dst)
                dst[i + j] = v;
        }
        i += k;
    }
    return bad;
}

/* What the sections hold besides their arrays. */
typedef struct ck_meta {
    rp_rng rng;
    rp__optim_state os;
    rp__rule_state rs;
} ck_meta;

/* Where the arrays go (NULL: nowhere; the first pass). */
typedef struct ck_dest {
    double *theta, *h0, *state, *fx, *u;
    unsigned char *con;
    double *m, *v, *fb;
    unsigned *types;
    double *stream[RP__RULE_STREAM_MAX];
    float *stream_f[RP__RULE_STREAM_MAX]; /* a single-precision rule's float arrays */
    unsigned char *user;
} ck_dest;

/* What the fixed header says. */
typedef struct ck_head {
    uint64_t iteration, user_len, n_theta;
    uint64_t size, len; /* the file's length; what the header alone implies (all but a stream) */
    uint32_t contents;
    rp_net_config cfg;
} ck_head;

static rp_status ck_nonfinite(char *err, const char *what, uint64_t i)
{
    return rp__fail(err, RP_ERR_FORMAT, "%s[%llu] is not finite", what, (unsigned long long)i);
}

/* ck_nonfinite, or (r_f64s of a float array) a value that is not a float. */
static rp_status ck_bad(const ck_reader *r, char *err, const char *what, uint64_t i)
{
    if (r->not_float)
        return rp__fail(err, RP_ERR_FORMAT,
                        "%s[%llu] is not a float value: a single-precision checkpoint holds "
                        "float values only",
                        what, (unsigned long long)i);
    return ck_nonfinite(err, what, i);
}

/* One pass over everything after the fixed header: fill meta (and d's
   arrays), validate every field, and compare the checksum. */
static rp_status ck_sections(ck_reader *r, const ck_head *hd, ck_meta *mt, const ck_dest *d,
                             char *err)
{
    const rp_net_config *c = &hd->cfg;
    const uint64_t P = hd->n_theta, N = c->n_rec, BN = (uint64_t)c->batch * N;
    const int single = c->precision == RP_PRECISION_SINGLE;
    r->single = single; /* theta, h0 and the live state hold floats */
    uint64_t bad = r_f64s(r, d->theta, P);
    if (!r->e && bad < P) {
        rp_layout lay;
        rp__layout(&lay, c->n_in, c->n_rec, c->n_out);
        int p = RP_PARAM_COUNT - 1;
        while (lay.off[p] > bad)
            p--;
        char what[8];
        snprintf(what, sizeof what, "%s", rp__param_name(p));
        return ck_bad(r, err, what, bad - lay.off[p]);
    }
    static const char *const live[4] = {"h0", "state", "fx", "u"};
    double *dl[4] = {d->h0, d->state, d->fx, d->u};
    for (int i = 0; i < 4 && !r->e; i++) {
        bad = r_f64s(r, dl[i], i == 0 ? N : BN);
        if (!r->e && bad < (i == 0 ? N : BN))
            return ck_bad(r, err, live[i], bad);
    }
    r->single = 0;
    unsigned char b[RP_CK_OPTIM_FIXED];
    r_bytes(r, b, RP_CK_RNG);
    if (!r->e) {
        uint64_t any = 0;
        for (int i = 0; i < 4; i++)
            any |= mt->rng.s[i] = get_u64(b + 8 * i);
        uint32_t spare = get_u32(b + 32);
        mt->rng.has_spare = (int)spare;
        mt->rng.spare = get_f64(b + 40);
        if (!any)
            return rp__fail(err, RP_ERR_FORMAT,
                            "noise generator state is all zero (xoshiro's fixed point)");
        if (spare > 1 || get_u32(b + 36) != 0 || !isfinite(mt->rng.spare))
            return rp__fail(err, RP_ERR_FORMAT, "noise generator's spare normal is malformed");
    }
    if ((hd->contents & RP_CK_HAS_OPTIM) && !r->e) {
        rp__optim_state *s = &mt->os;
        r_bytes(r, b, RP_CK_OPTIM_FIXED);
        if (!r->e) {
            s->kind = (rp_optim_kind)get_u32(b);
            s->lr = get_f64(b + 8);
            s->momentum = get_f64(b + 16);
            s->beta1 = get_f64(b + 24);
            s->beta2 = get_f64(b + 32);
            s->eps = get_f64(b + 40);
            s->clip = get_f64(b + 48);
            s->decay = get_f64(b + 56);
            for (int p = 0; p < RP_PARAM_COUNT; p++) {
                s->trainable[p] = b[64 + p];
                s->has_structure[p] = b[69 + p];
            }
            s->t = get_u64(b + 80);
            int zeros = get_u32(b + 4) == 0;
            for (int i = 74; i < 80; i++)
                zeros = zeros && b[i] == 0;
            if (get_u32(b) > 1)
                return rp__fail(err, RP_ERR_FORMAT,
                                "optimizer: kind is %u, expected 0 (SGD) or 1 (Adam)",
                                (unsigned)get_u32(b));
            char why[RP_ERRLEN];
            if (rp__optim_check_scalars(s, why) != RP_OK)
                return rp__fail(err, RP_ERR_FORMAT, "optimizer: %s", why);
            if (!zeros)
                return rp__fail(err, RP_ERR_FORMAT, "optimizer: reserved bytes are not zero");
        }
        bad = r_u8s(r, d->con, P, RP__OPTIM_CON_MAX);
        if (!r->e && bad < P)
            return rp__fail(err, RP_ERR_FORMAT, "optimizer: constraint code %llu is not 0..%d",
                            (unsigned long long)bad, RP__OPTIM_CON_MAX);
        bad = r_f64s(r, d->m, P);
        if (!r->e && bad < P)
            return ck_nonfinite(err, "optimizer: m", bad);
        bad = r_f64s(r, d->v, P);
        if (!r->e && bad < P)
            return ck_nonfinite(err, "optimizer: v", bad);
    }
    if ((hd->contents & RP_CK_HAS_RULE) && !r->e) {
        rp__rule_state *s = &mt->rs;
        r_bytes(r, b, RP_CK_RULE_FIXED);
        if (!r->e) {
            uint32_t kind = get_u32(b), loss = get_u32(b + 4), fbk = get_u32(b + 8),
                     custom = get_u32(b + 12);
            /* out-of-range codes are kept out of range for the check */
            s->kind =
                kind > RP_RULE_MODPROP ? (rp_rule_kind)(RP_RULE_MODPROP + 1) : (rp_rule_kind)kind;
            s->loss = loss > RP_LOSS_CE ? (rp_loss)(RP_LOSS_CE + 1) : (rp_loss)loss;
            s->fb_kind =
                fbk > RP_FEEDBACK_RANDOM ? (rp_feedback)(RP_FEEDBACK_RANDOM + 1) : (rp_feedback)fbk;
            s->fb_custom = custom > 1 ? 2 : (int)custom;
            s->K = get_u64(b + 16);
        }
        bad = r_f64s(r, d->fb, N * c->n_out);
        if (!r->e && bad < N * c->n_out)
            return ck_nonfinite(err, "rule: feedback", bad);
        const int has_mp = (hd->contents & RP_CK_HAS_MODPROP) != 0;
        if (!r->e && has_mp != (s->kind == RP_RULE_MODPROP))
            return rp__fail(err, RP_ERR_FORMAT, "the rule is %s, but the file %s a ModProp section",
                            rp__rule_kind_name(s->kind), has_mp ? "has" : "lacks");
        if (has_mp && !r->e) {
            r_bytes(r, b, RP_CK_MODPROP_FIXED);
            s->mu = get_f64(b);
            uint64_t max = 0;
            bad = r_u32s(r, d->types, N, N, &max);
            if (!r->e && bad < N)
                return rp__fail(err, RP_ERR_FORMAT,
                                "rule: cell type %llu is not below n_rec = %llu",
                                (unsigned long long)bad, (unsigned long long)N);
            s->n_types = max + 1;
        }
        s->streaming = (hd->contents & RP_CK_HAS_STREAM) != 0;
        if (s->streaming) {
            /* ck_check_head has made sure these 16 bytes are there */
            r_bytes(r, b, RP_CK_STREAM_FIXED);
            s->steps = get_u64(b);
            s->stream_loss = get_f64(b + 8);
        }
        char why[RP_ERRLEN];
        if (!r->e && rp__rule_check_scalars(s, c->n_out, why) != RP_OK)
            return rp__fail(err, RP_ERR_FORMAT, "rule: %s", why);
        if (!r->e && single && !rp__single_rule(s->kind)) /* what the writer cannot make */
            return rp__fail(err, RP_ERR_FORMAT,
                            "rule: %s on a single-precision net, which has no such rule",
                            rp__rule_kind_name(s->kind));
        if (s->streaming && !r->e) {
            /* The arrays' lengths follow from the kind just read: the file's
               exact length is checked before any of them is read. */
            const char *name[RP__RULE_STREAM_MAX];
            int ok = 1;
            s->n_arrays = rp__rule_stream_layout(s->kind, c->form, c->batch, c->n_in, N, s->n_types,
                                                 s->len, name, &ok);
            uint64_t want = hd->len + RP_CK_STREAM_FIXED;
            for (size_t i = 0; i < s->n_arrays && ok; i++) {
                ok = s->len[i] <= (UINT64_MAX - want) / 8;
                want += ok ? 8 * s->len[i] : 0;
            }
            if (!ok || hd->size != want)
                return rp__fail(err, RP_ERR_FORMAT,
                                "file has %llu bytes, but its header and the %s stream need %s%llu",
                                (unsigned long long)hd->size, rp__rule_kind_name(s->kind),
                                ok ? "" : "more than ", (unsigned long long)want);
            for (size_t i = 0; i < s->n_arrays && !r->e; i++) {
                /* a single rule's arrays are float but ModProp's filter state */
                r->single = single && strcmp(name[i], "modprop") != 0;
                bad = r_f64s_to(r, d->stream[i], d->stream_f[i], s->len[i]);
                if (!r->e && bad < s->len[i]) {
                    char what[32];
                    snprintf(what, sizeof what, "rule stream: %s", name[i]);
                    return ck_bad(r, err, what, bad);
                }
            }
            r->single = 0;
        }
    }
    for (uint64_t i = 0; i < hd->user_len && !r->e;) {
        unsigned char buf[4096];
        size_t k = hd->user_len - i < sizeof buf ? (size_t)(hd->user_len - i) : sizeof buf;
        r_bytes(r, buf, k);
        if (d->user && !r->e)
            memcpy(d->user + i, buf, k);
        i += k;
    }
    uLong crc = r->crc;
    unsigned char tail[4];
    r_bytes(r, tail, 4);
    if (r->e) {
        char why[128];
        return rp__fail(err, RP_ERR_IO, "cannot read the checkpoint: %s",
                        rp__sys_reason(r->e, why, sizeof why));
    }
    if (get_u32(tail) != (uint32_t)crc)
        return rp__fail(err, RP_ERR_FORMAT,
                        "checksum mismatch: file says 0x%08x, contents give 0x%08x",
                        (unsigned)get_u32(tail), (unsigned)(uint32_t)crc);
    return RP_OK;
}

/* Check the fixed header h (the first `have` bytes of a file of `size`). */
static rp_status ck_check_head(const unsigned char *h, size_t have, uint64_t size, ck_head *hd,
                               char *err)
{
    const size_t H = RP_CK_HEAD + RP_IO_HEADER;
    size_t m = have < RP_IO_MAGIC_LEN ? have : RP_IO_MAGIC_LEN;
    if (memcmp(h, RP_CK_MAGIC, m) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a librnnplast checkpoint");
    if (have < H)
        return rp__fail(err, RP_ERR_FORMAT,
                        "file truncated at byte %zu: the header needs %zu bytes", have, H);
    uint32_t version = get_u32(h + 8);
    if (version < RP_CK_VERSION_OLDEST || version > RP_CK_VERSION)
        return rp__fail(err, RP_ERR_FORMAT,
                        "unsupported checkpoint version %u (this library reads versions %u to %u)",
                        (unsigned)version, RP_CK_VERSION_OLDEST, RP_CK_VERSION);
    if (get_u32(h + 12) != RP_IO_BOM)
        return rp__fail(err, RP_ERR_FORMAT, "bad byte-order mark 0x%08x, expected 0x%08x",
                        (unsigned)get_u32(h + 12), RP_IO_BOM);
    hd->iteration = get_u64(h + 16);
    hd->contents = get_u32(h + 24);
    const uint32_t known =
        RP_CK_HAS_OPTIM | RP_CK_HAS_RULE | (version >= 2 ? RP_CK_HAS_STREAM : 0u) |
        (version >= 3 ? RP_CK_HAS_MODPROP : 0u) | (version >= 4 ? RP_CK_SINGLE : 0u);
    if (hd->contents & ~known)
        return rp__fail(err, RP_ERR_FORMAT, "contents flags are 0x%x, expected bits 0x%x only",
                        (unsigned)hd->contents, (unsigned)known);
    if (version == 3 && !(hd->contents & RP_CK_HAS_MODPROP)) /* what the writer makes */
        return rp__fail(err, RP_ERR_FORMAT, "version 3 file without a ModProp section");
    if (version == 4 && !(hd->contents & RP_CK_SINGLE))
        return rp__fail(err, RP_ERR_FORMAT,
                        "version 4 file without the single-precision flag (contents 0x%x): "
                        "the precision is not RP_PRECISION_SINGLE",
                        (unsigned)hd->contents);
    if ((hd->contents & (RP_CK_HAS_STREAM | RP_CK_HAS_MODPROP)) && !(hd->contents & RP_CK_HAS_RULE))
        return rp__fail(err, RP_ERR_FORMAT,
                        "contents flags are 0x%x: a stream or ModProp section without its rule",
                        (unsigned)hd->contents);
    uint32_t binv = get_u32(h + 28);
    if (binv > 1)
        return rp__fail(err, RP_ERR_FORMAT, "batch_invariant is %u, expected 0 or 1",
                        (unsigned)binv);
    hd->user_len = get_u64(h + 32);
    if (hd->user_len > RP_CHECKPOINT_MAX_USER)
        return rp__fail(err, RP_ERR_FORMAT, "user data of %llu bytes, expected at most %llu",
                        (unsigned long long)hd->user_len,
                        (unsigned long long)RP_CHECKPOINT_MAX_USER);
    char why[RP_ERRLEN];
    if (rp__net_header_dims(h + RP_CK_HEAD, &hd->n_theta, why) != RP_OK)
        return rp__fail(err, RP_ERR_FORMAT, "network section: %s", why);
    /* Every dimension is at most 2^24 and batch*n_rec at most 2^22 (checked
       above), so these sums fit in 64 bits. */
    const uint64_t P = hd->n_theta, N = get_u64(h + RP_CK_HEAD + 24),
                   O = get_u64(h + RP_CK_HEAD + 32), BN = N * get_u64(h + RP_CK_HEAD + 40);
    uint64_t len = H + 8 * (P + N + 3 * BN) + RP_CK_RNG;
    if (hd->contents & RP_CK_HAS_OPTIM)
        len += RP_CK_OPTIM_FIXED + 17 * P;
    if (hd->contents & RP_CK_HAS_RULE)
        len += RP_CK_RULE_FIXED + 8 * N * O;
    if (hd->contents & RP_CK_HAS_MODPROP)
        len += RP_CK_MODPROP_FIXED + 4 * N;
    len += hd->user_len + 4;
    hd->size = size;
    hd->len = len;
    /* A stream's length is checked once its rule's kind is read (ck_sections). */
    uint64_t least = len + ((hd->contents & RP_CK_HAS_STREAM) ? RP_CK_STREAM_FIXED : 0u);
    if (size < least)
        return rp__fail(err, RP_ERR_FORMAT,
                        "file truncated at byte %llu: its header needs %llu bytes",
                        (unsigned long long)size, (unsigned long long)least);
    if (size > len && !(hd->contents & RP_CK_HAS_STREAM))
        return rp__fail(err, RP_ERR_FORMAT,
                        "file has %llu bytes, but its header needs %llu (trailing data)",
                        (unsigned long long)size, (unsigned long long)len);
    if ((uint64_t)SIZE_MAX < size)
        return rp__fail(err, RP_ERR_FORMAT, "file of %llu bytes is too large for this machine",
                        (unsigned long long)len);
    if (rp__net_header_config(h + RP_CK_HEAD, &hd->cfg, why) != RP_OK)
        return rp__fail(err, RP_ERR_FORMAT, "network section: %s", why);
    hd->cfg.batch_invariant = (int)binv;
    if (hd->contents & RP_CK_SINGLE)
        hd->cfg.precision = RP_PRECISION_SINGLE;
    return RP_OK;
}

/* A pass over the sections from just after the fixed header. */
static rp_status ck_pass(int fd, const unsigned char *h, const ck_head *hd, ck_meta *mt,
                         const ck_dest *d, char *err)
{
    const size_t H = RP_CK_HEAD + RP_IO_HEADER;
    char why[128];
    if (lseek(fd, (off_t)H, SEEK_SET) < 0)
        return rp__fail(err, RP_ERR_IO, "cannot seek: %s", rp__sys_reason(errno, why, sizeof why));
    ck_reader r = {fd, 0, crc32(0L, Z_NULL, 0), 0, 0};
    r.crc = crc32(r.crc, h, (uInt)H);
    return ck_sections(&r, hd, mt, d, err);
}

static rp_status ckpt_load(const char *path, rp_net **net_out, rp_optim **opt_out,
                           rp_rule **rule_out, uint64_t *iteration, void *user, size_t user_cap,
                           size_t *user_len, const rp_allocator *al, char *err)
{
    int fd = -1;
    uint64_t size = 0;
    rp_status st = rp__open_regular(path, &fd, &size, err);
    if (st != RP_OK)
        return st;
    unsigned char h[RP_CK_HEAD + RP_IO_HEADER];
    ssize_t have = rp__read_full(fd, h, sizeof h);
    ck_head hd;
    if (have < 0) {
        char why[128];
        st = rp__fail(err, RP_ERR_IO, "cannot read '%s': %s", path,
                      rp__sys_reason(errno, why, sizeof why));
    } else {
        st = ck_check_head(h, (size_t)have, size, &hd, err);
    }
    /* What the caller asks for must be there. */
    if (st == RP_OK && opt_out && !(hd.contents & RP_CK_HAS_OPTIM))
        st = rp__fail(err, RP_ERR_INVALID_ARG, "opt_out is given, but '%s' holds no optimizer",
                      path);
    else if (st == RP_OK && rule_out && !(hd.contents & RP_CK_HAS_RULE))
        st = rp__fail(err, RP_ERR_INVALID_ARG, "rule_out is given, but '%s' holds no rule", path);
    else if (st == RP_OK && user && hd.user_len > user_cap)
        st = rp__fail(err, RP_ERR_DIM_MISMATCH,
                      "'%s' holds %llu bytes of user data, user_cap is %zu", path,
                      (unsigned long long)hd.user_len, user_cap);
    /* Pass 1: every field and the checksum, before anything is allocated. */
    ck_meta m1, m2;
    memset(&m1, 0, sizeof m1);
    memset(&m2, 0, sizeof m2);
    ck_dest d;
    memset(&d, 0, sizeof d);
    if (st == RP_OK)
        st = ck_pass(fd, h, &hd, &m1, &d, err);
    rp_net *net = NULL;
    rp_optim *opt = NULL;
    rp_rule *rule = NULL;
    hd.cfg.allocator = al; /* the optimizer and the rule inherit it */
    if (st == RP_OK && (st = rp_net_create(&net, &hd.cfg, NULL, 0)) != RP_OK)
        st = rp__fail(err, st, "cannot create the network (n_rec = %zu): %s", hd.cfg.n_rec,
                      rp_status_string(st));
    if (st == RP_OK && opt_out && (st = rp_optim_create(&opt, net, m1.os.kind, NULL, 0)) != RP_OK)
        st = rp__fail(err, st, "cannot create the optimizer: %s", rp_status_string(st));
    if (st == RP_OK && rule_out && (st = rp_rule_create(&rule, net, m1.rs.kind, NULL, 0)) != RP_OK)
        st = rp__fail(err, st, "cannot create the rule: %s", rp_status_string(st));
    /* ModProp's stream is sized by K (pass 1); pass 2 fills the types. */
    if (st == RP_OK && rule && rule->mp && (st = rp__modprop_size(rule, m1.rs.n_types)) != RP_OK)
        st = rp__fail(err, st, "no memory for ModProp's %llu cell types",
                      (unsigned long long)m1.rs.n_types);
    /* The stream's arrays exist once it is open (the rate form's on the first
       rp_rule_begin); pass 2 fills them. */
    if (st == RP_OK && rule && m1.rs.streaming && (st = rp__rule_open_stream(rule, net)) != RP_OK)
        st = rp__fail(err, st, "cannot open the rule's stream: %s", rp_rule_last_error(rule));
    /* Pass 2: the same bytes into the new handles. */
    if (st == RP_OK) {
        d.theta = net->theta;
        d.h0 = net->h0;
        d.state = net->state;
        d.fx = net->fx;
        d.u = net->u;
        if (opt) {
            rp__optim_state s;
            rp__optim_get_state(opt, &s);
            d.con = s.con;
            d.m = s.m;
            d.v = s.v;
        }
        if (rule) {
            rp__rule_state s;
            rp__rule_get_state(rule, &s);
            d.fb = s.fb;
            d.types = s.types;
            for (size_t i = 0; i < s.n_arrays; i++)
                d.stream[i] = s.arr[i], d.stream_f[i] = s.arr_f[i];
        }
        d.user = user;
        st = ck_pass(fd, h, &hd, &m2, &d, err);
    }
    close(fd);
    if (st == RP_OK &&
        (m2.os.kind != m1.os.kind || m2.rs.kind != m1.rs.kind || m2.rs.n_types != m1.rs.n_types))
        st = rp__fail(err, RP_ERR_FORMAT, "'%s' changed while it was read", path);
    if (st != RP_OK) {
        rp_net_free(net);
        rp_optim_free(opt);
        rp_rule_free(rule);
        return st;
    }
    net->rng = m2.rng;
    if (net->theta_f) /* the values were checked to be floats in pass 1 */
        rp__param_sync_single(net);
    if (opt)
        rp__optim_set_scalars(opt, &m2.os);
    if (rule && rule->mp) /* the counts of the types just read (K as sized) */
        st = rp__modprop_set_types(rule, rule->mp->types);
    if (st != RP_OK) {
        rp_net_free(net);
        rp_optim_free(opt);
        rp_rule_free(rule);
        return rp__fail(err, st, "no memory for ModProp's workspaces");
    }
    if (rule)
        rp__rule_set_scalars(rule, &m2.rs);
    *net_out = net;
    if (opt_out)
        *opt_out = opt;
    if (rule_out)
        *rule_out = rule;
    if (iteration)
        *iteration = hd.iteration;
    if (user_len)
        *user_len = (size_t)hd.user_len;
    return RP_OK;
}

rp_status rp_checkpoint_load(rp_net **net_out, rp_optim **opt_out, rp_rule **rule_out,
                             const char *path, uint64_t *iteration, void *user, size_t user_cap,
                             size_t *user_len, char *msg, size_t msglen)
{
    return rp_checkpoint_load_alloc(net_out, opt_out, rule_out, path, iteration, user, user_cap,
                                    user_len, NULL, msg, msglen);
}

rp_status rp_checkpoint_load_alloc(rp_net **net_out, rp_optim **opt_out, rp_rule **rule_out,
                                   const char *path, uint64_t *iteration, void *user,
                                   size_t user_cap, size_t *user_len, const rp_allocator *allocator,
                                   char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_allocator al;
    rp_status st;
    if (net_out)
        *net_out = NULL;
    if (opt_out)
        *opt_out = NULL;
    if (rule_out)
        *rule_out = NULL;
    if (!net_out)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "net_out is NULL");
    else if (!path)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "path is NULL");
    else if ((st = rp__allocator_copy(&al, allocator, err)) == RP_OK)
        st = ckpt_load(path, net_out, opt_out, rule_out, iteration, user, user_cap, user_len,
                       allocator, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}
