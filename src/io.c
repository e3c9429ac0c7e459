/* The network's versioned binary format: rp_net_save and rp_net_load
   (io.h has the constants; rnnplast.h, "Files", the byte layout).

   The reader validates before it trusts: the header is read into a fixed
   buffer, every field is checked against caps and against the file's actual
   length, and the CRC-32 is verified in a streaming pass with a fixed
   buffer, all before anything is allocated from sizes found in the file. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- rp_net_save --------------------------------------------------------- */

/* The header of a network file (also the network section of a checkpoint). */
void rp__net_header(unsigned char *h, const rp_net *net)
{
    const rp_net_config *c = &net->cfg;
    memcpy(h, RP_IO_MAGIC, RP_IO_MAGIC_LEN);
    put_u32(h + 8, RP_IO_VERSION);
    put_u32(h + 12, RP_IO_BOM);
    put_u64(h + 16, c->n_in);
    put_u64(h + 24, c->n_rec);
    put_u64(h + 32, c->n_out);
    put_u64(h + 40, c->batch);
    put_u32(h + 48, (uint32_t)c->form);
    put_u32(h + 52, (uint32_t)c->act);
    put_f64(h + 56, c->alpha);
    put_f64(h + 64, c->noise_std);
    put_u64(h + 72, c->seed);
    put_u64(h + 80, net->lay.total);
}

static void write_net(writer *w, const void *ctx)
{
    const rp_net *net = ctx;
    const rp_net_config *c = &net->cfg;
    unsigned char h[RP_IO_HEADER_SINGLE] = {0};
    rp__net_header(h, net);
    size_t hlen = RP_IO_HEADER;
    if (c->precision == RP_PRECISION_SINGLE) { /* version 2: the precision after the header */
        put_u32(h + 8, RP_IO_VERSION_SINGLE);
        put_u32(h + RP_IO_HEADER, (uint32_t)RP_PRECISION_SINGLE);
        hlen = RP_IO_HEADER_SINGLE;
    }
    rp__w_bytes(w, h, hlen);
    rp__w_f64s(w, net->theta, net->lay.total);
    rp__w_f64s(w, net->h0, c->n_rec);
    unsigned char tail[4];
    put_u32(tail, (uint32_t)w->crc);
    rp__w_bytes(w, tail, sizeof tail);
}

static rp_status net_save(const rp_net *net, const char *path, int no_tmpfile)
{
    if (!net)
        return RP_ERR_INVALID_ARG;
    /* The message buffer is not part of the network's value. */
    char *err = (char *)net->err;
    if (!path || !*path)
        return rp__fail(err, RP_ERR_INVALID_ARG, "path is %s", path ? "empty" : "NULL");
    if ((uint64_t)net->cfg.batch * net->cfg.n_rec > RP_IO_MAX_STATE)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "batch*n_rec = %zu*%zu exceeds the file format's %llu; save a clone "
                        "after rp_net_set_batch() to a smaller batch",
                        net->cfg.batch, net->cfg.n_rec, (unsigned long long)RP_IO_MAX_STATE);
    return rp__atomic_write_ex(&net->al, path, write_net, net, no_tmpfile, err);
}

rp_status rp_net_save(const rp_net *net, const char *path)
{
    RP__CLEAR_ERR(net);
    return net_save(net, path, 0);
}

rp_status rp__net_save_fixed(const rp_net *net, const char *path) { return net_save(net, path, 1); }
/* ---- rp_net_load --------------------------------------------------------- */

/* Check the fields of a complete network header h (magic, version, byte
   order, dimensions, parameter count; not the configuration, which
   rp__net_header_config checks) and fill n_theta. */
rp_status rp__net_header_dims(const unsigned char *h, uint64_t *n_theta, char *err)
{
    if (memcmp(h, RP_IO_MAGIC, RP_IO_MAGIC_LEN) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a librnnplast network file");
    uint32_t version = get_u32(h + 8);
    if (version != RP_IO_VERSION)
        return rp__fail(err, RP_ERR_FORMAT,
                        "unsupported format version %u (this library reads version %u)",
                        (unsigned)version, RP_IO_VERSION);
    uint32_t bom = get_u32(h + 12);
    if (bom != RP_IO_BOM)
        return rp__fail(err, RP_ERR_FORMAT, "bad byte-order mark 0x%08x, expected 0x%08x",
                        (unsigned)bom, RP_IO_BOM);
    static const char *const dim_names[4] = {"n_in", "n_rec", "n_out", "batch"};
    uint64_t d[4];
    for (int i = 0; i < 4; i++) {
        d[i] = get_u64(h + 16 + 8 * i);
        uint64_t lo = i == 0 ? 0 : 1;
        if (d[i] < lo || d[i] > RP_IO_MAX_DIM)
            return rp__fail(err, RP_ERR_FORMAT, "absurd dimension %s = %llu, expected %llu..%llu",
                            dim_names[i], (unsigned long long)d[i], (unsigned long long)lo,
                            (unsigned long long)RP_IO_MAX_DIM);
    }
    /* Every dimension is at most 2^24, so these products fit in 64 bits. */
    uint64_t n_in = d[0], n_rec = d[1], n_out = d[2];
    if (d[3] * n_rec > RP_IO_MAX_STATE)
        return rp__fail(err, RP_ERR_FORMAT,
                        "absurd state size batch*n_rec = %llu*%llu, expected at most %llu",
                        (unsigned long long)d[3], (unsigned long long)n_rec,
                        (unsigned long long)RP_IO_MAX_STATE);
    uint64_t total = n_rec * n_rec + n_rec * n_in + n_rec + n_out * n_rec + n_out;
    uint64_t stored = get_u64(h + 80);
    if (stored != total)
        return rp__fail(err, RP_ERR_FORMAT, "parameter count is %llu, but the dimensions give %llu",
                        (unsigned long long)stored, (unsigned long long)total);
    *n_theta = total;
    return RP_OK;
}

/* The configuration in a header that passed rp__net_header_dims. */
rp_status rp__net_header_config(const unsigned char *h, rp_net_config *cfg, char *err)
{
    rp_net_config c;
    rp_net_config_init(&c, sizeof c);
    c.n_in = (size_t)get_u64(h + 16);
    c.n_rec = (size_t)get_u64(h + 24);
    c.n_out = (size_t)get_u64(h + 32);
    c.batch = (size_t)get_u64(h + 40);
    uint32_t form = get_u32(h + 48), act = get_u32(h + 52);
    /* Range-check the raw values before they become enums. */
    if (form > (uint32_t)RP_FORM_RATE)
        return rp__fail(err, RP_ERR_FORMAT, "form is %u, expected 0 (voltage) or 1 (rate)",
                        (unsigned)form);
    if (act > (uint32_t)RP_ACT_LINEAR)
        return rp__fail(err, RP_ERR_FORMAT, "activation is %u, expected 0..2", (unsigned)act);
    c.form = (rp_form)form;
    c.act = (rp_activation)act;
    c.alpha = get_f64(h + 56);
    c.noise_std = get_f64(h + 64);
    c.seed = get_u64(h + 72);
    char why[RP_ERRLEN];
    if (rp_net_config_check(&c, why, sizeof why) != RP_OK)
        return rp__fail(err, RP_ERR_FORMAT, "invalid configuration in file: %s", why);
    *cfg = c;
    return RP_OK;
}

/* Check the header h (the first `have` bytes of a file of `size` bytes) and
   fill cfg and n_theta.  Reads no further bytes. */
static rp_status check_net_header(const unsigned char *h, size_t have, uint64_t size,
                                  rp_net_config *cfg, uint64_t *n_theta, size_t *hlen, char *err)
{
    size_t m = have < RP_IO_MAGIC_LEN ? have : RP_IO_MAGIC_LEN;
    if (memcmp(h, RP_IO_MAGIC, m) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a librnnplast network file");
    if (have < RP_IO_HEADER)
        return rp__fail(err, RP_ERR_FORMAT, "file truncated at byte %zu: the header needs %u bytes",
                        have, RP_IO_HEADER);
    /* Version 2 (a single-precision net): the version 1 header, then the
       precision and 4 zero bytes.  h1 is the version 1 header the shared
       checks read. */
    unsigned char h1[RP_IO_HEADER];
    memcpy(h1, h, RP_IO_HEADER);
    uint32_t version = get_u32(h + 8);
    rp_precision prec = RP_PRECISION_DOUBLE;
    size_t H = RP_IO_HEADER;
    if (version == RP_IO_VERSION_SINGLE) {
        if (have < RP_IO_HEADER_SINGLE)
            return rp__fail(err, RP_ERR_FORMAT,
                            "file truncated at byte %zu: a version 2 header needs %u bytes", have,
                            RP_IO_HEADER_SINGLE);
        uint32_t p = get_u32(h + RP_IO_HEADER), z = get_u32(h + RP_IO_HEADER + 4);
        if (p != (uint32_t)RP_PRECISION_SINGLE)
            return rp__fail(err, RP_ERR_FORMAT,
                            "precision is %u, expected 1 (RP_PRECISION_SINGLE) in a version 2 "
                            "file",
                            (unsigned)p);
        if (z != 0)
            return rp__fail(err, RP_ERR_FORMAT,
                            "reserved bytes after the precision are 0x%08x, expected 0",
                            (unsigned)z);
        put_u32(h1 + 8, RP_IO_VERSION);
        prec = RP_PRECISION_SINGLE;
        H = RP_IO_HEADER_SINGLE;
    } else if (version != RP_IO_VERSION) {
        return rp__fail(err, RP_ERR_FORMAT,
                        "unsupported format version %u (this library reads versions %u and %u)",
                        (unsigned)version, RP_IO_VERSION, RP_IO_VERSION_SINGLE);
    }
    h = h1;
    uint64_t total = 0;
    rp_status st = rp__net_header_dims(h, &total, err);
    if (st != RP_OK)
        return st;
    uint64_t n_rec = get_u64(h + 24);
    uint64_t len = H + 8 * (total + n_rec) + 4;
    if (size < len)
        return rp__fail(err, RP_ERR_FORMAT,
                        "file truncated at byte %llu: its dimensions need %llu bytes",
                        (unsigned long long)size, (unsigned long long)len);
    if (size > len)
        return rp__fail(err, RP_ERR_FORMAT,
                        "file has %llu bytes, but its dimensions need %llu (trailing data)",
                        (unsigned long long)size, (unsigned long long)len);
    if ((uint64_t)SIZE_MAX < len)
        return rp__fail(err, RP_ERR_FORMAT, "file of %llu bytes is too large for this machine",
                        (unsigned long long)len);
    st = rp__net_header_config(h, cfg, err);
    if (st == RP_OK) {
        cfg->precision = prec;
        *n_theta = total;
        *hlen = H;
    }
    return st;
}
/* From the header on: the parameters and h0 into theta/h0 (or nowhere), then
   compare the CRC with the stored one. */
static rp_status read_body(int fd, const unsigned char *h, size_t hlen, uint64_t n_theta,
                           uint64_t n_rec, double *theta, double *h0, char *err)
{
    char why[128];
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, h, (uInt)hlen);
    if (lseek(fd, (off_t)hlen, SEEK_SET) < 0)
        return rp__fail(err, RP_ERR_IO, "cannot seek: %s", rp__sys_reason(errno, why, sizeof why));
    int e = rp__read_f64s(fd, theta, n_theta, &crc);
    if (e == 0)
        e = rp__read_f64s(fd, h0, n_rec, &crc);
    unsigned char tail[4];
    if (e == 0) {
        ssize_t r = rp__read_full(fd, tail, 4);
        e = r < 0 ? errno : r != 4 ? EIO : 0;
    }
    if (e != 0)
        return rp__fail(err, RP_ERR_IO, "cannot read the file body: %s",
                        rp__sys_reason(e, why, sizeof why));
    uint32_t stored = get_u32(tail);
    if (stored != (uint32_t)crc)
        return rp__fail(err, RP_ERR_FORMAT,
                        "checksum mismatch: file says 0x%08x, contents give 0x%08x",
                        (unsigned)stored, (unsigned)(uint32_t)crc);
    return RP_OK;
}

rp_status rp__f32_values(const double *a, size_t n, const char *what, char *err)
{
    for (size_t i = 0; i < n; i++)
        if ((double)(float)a[i] != a[i])
            return rp__fail(err, RP_ERR_FORMAT,
                            "%s[%zu] is %.17g, not a float value: a single-precision file holds "
                            "float values only",
                            what, i, a[i]);
    return RP_OK;
}

rp_status rp__single_load(rp_net *net, char *err)
{
    for (int p = 0; p < RP_PARAM_COUNT; p++) {
        rp_status st =
            rp__f32_values(net->theta + net->lay.off[p], net->lay.len[p], rp__param_name(p), err);
        if (st != RP_OK)
            return st;
    }
    rp_status st = rp__f32_values(net->h0, net->cfg.n_rec, "initial state h0", err);
    if (st == RP_OK)
        rp__param_sync_single(net); /* theta_f from theta (exact: all floats) */
    return st;
}

static rp_status load_net(rp_net **out, const char *path, const rp_allocator *al, char *err)
{
    int fd = -1;
    uint64_t size = 0;
    rp_status st = rp__open_regular(path, &fd, &size, err);
    if (st != RP_OK)
        return st;
    unsigned char h[RP_IO_HEADER_SINGLE];
    ssize_t have = rp__read_full(fd, h, sizeof h);
    if (have < 0) {
        char why[128];
        st = rp__fail(err, RP_ERR_IO, "cannot read '%s': %s", path,
                      rp__sys_reason(errno, why, sizeof why));
        close(fd);
        return st;
    }
    rp_net_config cfg;
    uint64_t n_theta = 0;
    size_t hlen = RP_IO_HEADER;
    st = check_net_header(h, (size_t)have, size, &cfg, &n_theta, &hlen, err);
    cfg.allocator = al;
    /* The checksum is verified before any allocation sized by the file ... */
    if (st == RP_OK)
        st = read_body(fd, h, hlen, n_theta, cfg.n_rec, NULL, NULL, err);
    rp_net *net = NULL;
    if (st == RP_OK) {
        st = rp_net_create(&net, &cfg, NULL, 0);
        if (st != RP_OK)
            st = rp__fail(err, st, "cannot create a network of n_rec = %zu: %s", cfg.n_rec,
                          rp_status_string(st));
    }
    /* ... and again on the bytes actually kept, in case the file changed
       between the two passes. */
    if (st == RP_OK)
        st = read_body(fd, h, hlen, n_theta, cfg.n_rec, net->theta, net->h0, err);
    close(fd);
    if (st == RP_OK) {
        size_t n = (size_t)n_theta;
        size_t bad = rp__find_nonfinite(net->theta, n);
        if (bad < n) {
            int p = RP_PARAM_COUNT - 1;
            while (net->lay.off[p] > bad)
                p--;
            st = rp__fail(err, RP_ERR_FORMAT, "parameter %s[%zu] is %g", rp__param_name(p),
                          bad - net->lay.off[p], net->theta[bad]);
        } else if ((bad = rp__find_nonfinite(net->h0, cfg.n_rec)) < cfg.n_rec) {
            st = rp__fail(err, RP_ERR_FORMAT, "initial state h0[%zu] is %g", bad, net->h0[bad]);
        }
    }
    if (st == RP_OK && net->theta_f)
        st = rp__single_load(net, err);
    if (st == RP_OK)
        st = rp_net_reset(net); /* the state from h0 (it cannot fail here) */
    if (st != RP_OK) {
        rp_net_free(net);
        return st;
    }
    *out = net;
    return RP_OK;
}

rp_status rp_net_load_alloc(rp_net **out, const char *path, const rp_allocator *allocator,
                            char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_allocator al;
    rp_status st;
    if (!out)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "out is NULL");
    else {
        *out = NULL;
        if (!path)
            st = rp__fail(err, RP_ERR_INVALID_ARG, "path is NULL");
        else if ((st = rp__allocator_copy(&al, allocator, err)) == RP_OK)
            st = load_net(out, path, allocator, err);
    }
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_net_load(rp_net **out, const char *path, char *msg, size_t msglen)
{
    return rp_net_load_alloc(out, path, NULL, msg, msglen);
}
