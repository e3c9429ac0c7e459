/* Files: the network's versioned binary format and NumPy .npy arrays.

   Both writers go through atomic_write(): a temporary file in the target's own
   directory (so rename() never crosses a file system) is written, flushed,
   fsync'ed, closed and renamed over the target, then the directory is
   fsync'ed so the rename itself is durable.  A reader therefore sees either
   the old file or the complete new one, never a prefix.

   Both readers validate before they trust: the header is read into a fixed
   buffer, every field is checked against caps and against the file's actual
   length, and (for networks) the CRC-32 is verified in a streaming pass with a
   fixed buffer, all before anything is allocated from sizes found in the file.

   Every multi-byte field is little-endian on disk whatever the host, written
   and read byte by byte, so files move between machines. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the network format -------------------------------------------------

   offset size  field
        0    8  magic "\x89RPNET\r\n" (the PNG trick: a text-mode transfer or a
                7-bit channel breaks it visibly)
        8    4  format version (RP_IO_VERSION)
       12    4  byte-order mark 0x01020304, written little-endian
       16    8  n_in            24  8  n_rec       32  8  n_out     40  8  batch
       48    4  form            52  4  activation
       56    8  alpha (IEEE-754 binary64 bits)
       64    8  noise_std       72  8  noise seed
       80    8  number of parameter doubles (W, U, b, V, c: a check on the dims)
       88  8*P  parameters, in the order W, U, b, V, c, each row-major
          8*N   initial state h0
     end-4   4  CRC-32 (zlib) of every byte before it                      */

#define RP_IO_MAGIC "\x89RPNET\r\n"
#define RP_IO_MAGIC_LEN 8
#define RP_IO_VERSION 1u
#define RP_IO_BOM 0x01020304u
#define RP_IO_HEADER 88u
/* Each dimension is capped on load; a larger value cannot come from
   rp_net_create() (net.c refuses above 2^24) and would only be a corrupt or
   hostile file.  The file-length check then bounds every allocation by the
   bytes actually present. */
#define RP_IO_MAX_DIM ((uint64_t)1 << 24)

static const char *const io_param_names[RP_PARAM_COUNT] = {"W", "U", "b", "V", "c"};

/* ---- little-endian encoding --------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(p, v);
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static double get_f64(const unsigned char *p)
{
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* The system's reason for errno e, thread-safe (POSIX strerror_r). */
static const char *sys_reason(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
}

/* ---- atomic writes -------------------------------------------------------- */

/* A sink that remembers the first failure and keeps a running CRC. */
typedef struct writer {
    FILE *f;
    int err; /* errno of the first failure, 0 while all is well */
    uLong crc;
} writer;

static void w_bytes(writer *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    w->crc = crc32(w->crc, p, (uInt)n); /* callers pass at most 64 KiB */
    errno = 0;
    if (fwrite(p, 1, n, w->f) != n)
        w->err = errno ? errno : EIO;
}

/* n doubles as little-endian binary64, through a fixed buffer. */
static void w_f64s(writer *w, const double *a, size_t n)
{
    unsigned char buf[4096];
    while (n > 0 && !w->err) {
        size_t k = n < sizeof buf / 8 ? n : sizeof buf / 8;
        for (size_t i = 0; i < k; i++)
            put_f64(buf + 8 * i, a[i]);
        w_bytes(w, buf, 8 * k);
        a += k;
        n -= k;
    }
}

typedef void (*write_fn)(writer *w, const void *ctx);

/* Write path atomically with body(); on failure the temporary file is removed,
   path is untouched, and err names the step and the system's reason. */
static rp_status atomic_write(const char *path, write_fn body, const void *ctx, char *err)
{
    char why[128];
    size_t plen = strlen(path);
    static const char suffix[] = ".tmp-XXXXXX";
    char *tmp = malloc(plen + sizeof suffix);
    if (!tmp)
        return rp__fail(err, RP_ERR_NOMEM, "no memory for the temporary file name");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);

    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        rp_status st = rp__fail(err, RP_ERR_IO, "cannot create a temporary file beside '%s': %s",
                                path, sys_reason(e, why, sizeof why));
        free(tmp);
        return st;
    }
    /* mkstemp creates 0600; a saved model is an ordinary readable file. */
    (void)fchmod(fd, 0644);
    const char *step = "write";
    int e = 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        e = errno;
        close(fd);
        step = "open";
        goto fail;
    }
    writer w = {f, 0, crc32(0L, Z_NULL, 0)};
    body(&w, ctx);
    if (w.err) {
        e = w.err;
    } else if (fflush(f) != 0) {
        e = errno;
        step = "flush";
    } else if (fsync(fileno(f)) != 0) {
        e = errno;
        step = "sync";
    }
    if (fclose(f) != 0 && e == 0) {
        e = errno;
        step = "close";
    }
    if (e != 0)
        goto fail;
    if (rename(tmp, path) != 0) {
        e = errno;
        step = "rename the temporary file onto";
        goto fail;
    }
    free(tmp);

    /* Make the rename durable.  File systems that cannot sync a directory
       (EINVAL, ENOTSUP) are not an error: the file is already in place. */
    char *dir = strdup(path);
    if (!dir)
        return RP_OK;
    char *slash = strrchr(dir, '/');
    const char *dname = ".";
    if (slash) {
        slash[slash == dir ? 1 : 0] = '\0';
        dname = dir;
    }
    int dfd = open(dname, O_RDONLY);
    rp_status st = RP_OK;
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP)
            st = rp__fail(err, RP_ERR_IO, "'%s' was written, but syncing its directory failed: %s",
                          path, sys_reason(errno, why, sizeof why));
        close(dfd);
    }
    free(dir);
    return st;

fail:
    unlink(tmp);
    free(tmp);
    return rp__fail(err, RP_ERR_IO, "cannot %s '%s': %s", step, path, sys_reason(e, why, sizeof why));
}

/* ---- rp_net_save --------------------------------------------------------- */

static void write_net(writer *w, const void *ctx)
{
    const rp_net *net = ctx;
    const rp_net_config *c = &net->cfg;
    unsigned char h[RP_IO_HEADER];
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
    w_bytes(w, h, sizeof h);
    w_f64s(w, net->theta, net->lay.total);
    w_f64s(w, net->h0, c->n_rec);
    unsigned char tail[4];
    put_u32(tail, (uint32_t)w->crc);
    w_bytes(w, tail, sizeof tail);
}

rp_status rp_net_save(const rp_net *net, const char *path)
{
    if (!net)
        return RP_ERR_INVALID_ARG;
    /* The message buffer is not part of the network's value. */
    char *err = (char *)net->err;
    if (!path || !*path)
        return rp__fail(err, RP_ERR_INVALID_ARG, "path is %s", path ? "empty" : "NULL");
    return atomic_write(path, write_net, net, err);
}

/* ---- rp_net_load --------------------------------------------------------- */

/* read() until n bytes or end of file; returns bytes read, -1 with errno. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Open path for reading; size receives its length.  Only regular files. */
static rp_status open_regular(const char *path, int *fd_out, uint64_t *size, char *err)
{
    char why[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return rp__fail(err, RP_ERR_IO, "cannot open '%s': %s", path,
                        sys_reason(errno, why, sizeof why));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rp__fail(err, RP_ERR_IO, "cannot stat '%s': %s", path, sys_reason(e, why, sizeof why));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rp__fail(err, RP_ERR_IO, "'%s' is not a regular file", path);
    }
    *fd_out = fd;
    *size = (uint64_t)sb.st_size;
    return RP_OK;
}

/* Check the header h (the first `have` bytes of a file of `size` bytes) and
   fill cfg, n_theta and the expected file length.  Reads no further bytes. */
static rp_status check_net_header(const unsigned char *h, size_t have, uint64_t size,
                                  rp_net_config *cfg, uint64_t *n_theta, uint64_t *expect,
                                  char *err)
{
    size_t m = have < RP_IO_MAGIC_LEN ? have : RP_IO_MAGIC_LEN;
    if (memcmp(h, RP_IO_MAGIC, m) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a librnnplast network file");
    if (have < RP_IO_HEADER)
        return rp__fail(err, RP_ERR_FORMAT, "file truncated at byte %zu: the header needs %u bytes",
                        have, RP_IO_HEADER);
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
    uint64_t total = n_rec * n_rec + n_rec * n_in + n_rec + n_out * n_rec + n_out;
    uint64_t stored = get_u64(h + 80);
    if (stored != total)
        return rp__fail(err, RP_ERR_FORMAT,
                        "parameter count is %llu, but the dimensions give %llu",
                        (unsigned long long)stored, (unsigned long long)total);
    uint64_t len = RP_IO_HEADER + 8 * (total + n_rec) + 4;
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

    rp_net_config c = rp_net_config_default();
    c.n_in = (size_t)n_in;
    c.n_rec = (size_t)n_rec;
    c.n_out = (size_t)n_out;
    c.batch = (size_t)d[3];
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
    *n_theta = total;
    *expect = len;
    return RP_OK;
}

/* Read n doubles at the current offset into dst (or only checksum them when
   dst is NULL), updating crc.  Fixed buffer; returns 0 or errno (EIO for a
   short read: the file shrank after fstat). */
static int read_f64s(int fd, double *dst, uint64_t n, uLong *crc)
{
    unsigned char buf[4096];
    while (n > 0) {
        size_t k = n < sizeof buf / 8 ? (size_t)n : sizeof buf / 8;
        ssize_t r = read_full(fd, buf, 8 * k);
        if (r < 0)
            return errno;
        if ((size_t)r != 8 * k)
            return EIO;
        *crc = crc32(*crc, buf, (uInt)(8 * k));
        if (dst) {
            for (size_t i = 0; i < k; i++)
                dst[i] = get_f64(buf + 8 * i);
            dst += k;
        }
        n -= k;
    }
    return 0;
}

/* From the header on: the parameters and h0 into theta/h0 (or nowhere), then
   compare the CRC with the stored one. */
static rp_status read_body(int fd, const unsigned char *h, uint64_t n_theta, uint64_t n_rec,
                           double *theta, double *h0, char *err)
{
    char why[128];
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, h, RP_IO_HEADER);
    if (lseek(fd, RP_IO_HEADER, SEEK_SET) < 0)
        return rp__fail(err, RP_ERR_IO, "cannot seek: %s", sys_reason(errno, why, sizeof why));
    int e = read_f64s(fd, theta, n_theta, &crc);
    if (e == 0)
        e = read_f64s(fd, h0, n_rec, &crc);
    unsigned char tail[4];
    if (e == 0) {
        ssize_t r = read_full(fd, tail, 4);
        e = r < 0 ? errno : r != 4 ? EIO : 0;
    }
    if (e != 0)
        return rp__fail(err, RP_ERR_IO, "cannot read the file body: %s",
                        sys_reason(e, why, sizeof why));
    uint32_t stored = get_u32(tail);
    if (stored != (uint32_t)crc)
        return rp__fail(err, RP_ERR_FORMAT, "checksum mismatch: file says 0x%08x, contents give 0x%08x",
                        (unsigned)stored, (unsigned)(uint32_t)crc);
    return RP_OK;
}

static rp_status load_net(rp_net **out, const char *path, char *err)
{
    int fd = -1;
    uint64_t size = 0;
    rp_status st = open_regular(path, &fd, &size, err);
    if (st != RP_OK)
        return st;
    unsigned char h[RP_IO_HEADER];
    ssize_t have = read_full(fd, h, sizeof h);
    if (have < 0) {
        char why[128];
        st = rp__fail(err, RP_ERR_IO, "cannot read '%s': %s", path, sys_reason(errno, why, sizeof why));
        close(fd);
        return st;
    }
    rp_net_config cfg;
    uint64_t n_theta = 0, expect = 0;
    st = check_net_header(h, (size_t)have, size, &cfg, &n_theta, &expect, err);
    /* The checksum is verified before any allocation sized by the file ... */
    if (st == RP_OK)
        st = read_body(fd, h, n_theta, cfg.n_rec, NULL, NULL, err);
    rp_net *net = NULL;
    if (st == RP_OK) {
        st = rp_net_create(&net, &cfg);
        if (st != RP_OK)
            st = rp__fail(err, st, "cannot create a network of n_rec = %zu: %s", cfg.n_rec,
                          rp_status_string(st));
    }
    /* ... and again on the bytes actually kept, in case the file changed
       between the two passes. */
    if (st == RP_OK)
        st = read_body(fd, h, n_theta, cfg.n_rec, net->theta, net->h0, err);
    close(fd);
    if (st == RP_OK) {
        size_t n = (size_t)n_theta;
        size_t bad = rp__find_nonfinite(net->theta, n);
        if (bad < n) {
            int p = RP_PARAM_COUNT - 1;
            while (net->lay.off[p] > bad)
                p--;
            st = rp__fail(err, RP_ERR_FORMAT, "parameter %s[%zu] is %g", io_param_names[p],
                          bad - net->lay.off[p], net->theta[bad]);
        } else if ((bad = rp__find_nonfinite(net->h0, cfg.n_rec)) < cfg.n_rec) {
            st = rp__fail(err, RP_ERR_FORMAT, "initial state h0[%zu] is %g", bad, net->h0[bad]);
        }
    }
    if (st != RP_OK) {
        rp_net_free(net);
        return st;
    }
    rp_net_reset(net);
    *out = net;
    return RP_OK;
}

rp_status rp_net_load_ex(rp_net **out, const char *path, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st;
    if (!out)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "out is NULL");
    else if (!path)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "path is NULL");
    else {
        *out = NULL;
        st = load_net(out, path, err);
    }
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_net_load(rp_net **out, const char *path) { return rp_net_load_ex(out, path, NULL, 0); }
