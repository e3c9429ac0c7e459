/* NumPy .npy arrays: rp_npy_save, rp_npy_load, rp_npy_shape, and a
   network's parameters and a gradient's blocks as .npy files.  Written
   through rp__atomic_write; read header-first with fixed buffers, every field
   checked against the file's length before anything is allocated. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* ---- NumPy .npy ------------------------------------------------------------

   Format (numpy.lib.format): "\x93NUMPY", major, minor, header length (u16 LE
   in version 1.0, u32 LE in 2.0 and 3.0), then a Python dict literal
   {'descr': '<f8', 'fortran_order': False, 'shape': (r, c), } padded with
   spaces and a final '\n' so that the data starts on a 64-byte boundary, then
   the data in C order.  We write 1.0 and read 1.0, 2.0 and 3.0. */

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy itself refuses headers above 10000 bytes by default; a header this
   library would accept is far shorter.  The cap bounds the one allocation. */
#define NPY_MAX_HEADER 65535u

typedef struct npy_hdr {
    size_t ndim;
    uint64_t shape[RP_NPY_MAX_DIM];
    uint64_t count;    /* product of the shape */
    uint64_t data_off; /* bytes before the data */
} npy_hdr;

/* "(3, 4)" or "(5,)" into buf. */
static void shape_text(char *buf, size_t len, size_t ndim, const uint64_t *shape)
{
    size_t o = (size_t)snprintf(buf, len, "(");
    for (size_t i = 0; i < ndim && o < len; i++)
        o +=
            (size_t)snprintf(buf + o, len - o, i ? ", %llu" : "%llu", (unsigned long long)shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, ndim == 1 ? ",)" : ")");
}

typedef struct npy_save_ctx {
    const double *a;
    uint64_t count;
    const char *header; /* the full preamble: magic .. '\n' */
    size_t header_len;
} npy_save_ctx;

static void write_npy(writer *w, const void *ctx)
{
    const npy_save_ctx *c = ctx;
    rp__w_bytes(w, c->header, c->header_len);
    rp__w_f64s(w, c->a, (size_t)c->count);
}

/* Check ndim/shape given by a caller; count receives the product. */
static rp_status check_shape_arg(size_t ndim, const size_t *shape, uint64_t *count, char *err)
{
    if (ndim < 1 || ndim > RP_NPY_MAX_DIM)
        return rp__fail(err, RP_ERR_INVALID_ARG, "ndim is %zu, expected 1..%d", ndim,
                        RP_NPY_MAX_DIM);
    if (!shape)
        return rp__fail(err, RP_ERR_INVALID_ARG, "shape is NULL");
    int ok = 1;
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++)
        n = rp__mul(n, shape[i], &ok);
    (void)rp__mul(n, sizeof(double), &ok);
    if (!ok)
        return rp__fail(err, RP_ERR_INVALID_ARG, "shape has more elements than memory can hold");
    *count = n;
    return RP_OK;
}

static rp_status npy_save(const rp_allocator *al, const char *path, const double *a, size_t ndim,
                          const size_t *shape, char *err)
{
    if (!path || !*path)
        return rp__fail(err, RP_ERR_INVALID_ARG, "path is %s", path ? "empty" : "NULL");
    uint64_t count;
    rp_status st = check_shape_arg(ndim, shape, &count, err);
    if (st != RP_OK)
        return st;
    if (!a && count > 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "a is NULL");
    uint64_t sh[RP_NPY_MAX_DIM];
    for (size_t i = 0; i < ndim; i++)
        sh[i] = shape[i];
    char stext[RP_NPY_MAX_DIM * 24 + 8];
    shape_text(stext, sizeof stext, ndim, sh);
    /* 10 bytes of preamble + dict + padding + '\n', a multiple of 64. */
    char hdr[512];
    int n = snprintf(hdr + 10, sizeof hdr - 10,
                     "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", stext);
    size_t used = 10 + (size_t)n + 1;
    size_t total = (used + 63) / 64 * 64;
    memset(hdr + 10 + n, ' ', total - used);
    hdr[total - 1] = '\n';
    memcpy(hdr, NPY_MAGIC, NPY_MAGIC_LEN);
    hdr[6] = 1;
    hdr[7] = 0;
    hdr[8] = (char)((total - 10) & 0xff);
    hdr[9] = (char)((total - 10) >> 8);
    npy_save_ctx c = {a, count, hdr, total};
    return rp__atomic_write(al, path, write_npy, &c, err);
}

rp_status rp_npy_save(const char *path, const double *a, size_t ndim, const size_t *shape,
                      char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = npy_save(NULL, path, a, ndim, shape, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

/* A tiny parser for the header dict: exactly the keys descr, fortran_order
   and shape, in any order, string values in '' or "", True/False, and a
   tuple of non-negative integers. */
typedef struct npy_parse {
    const char *p, *end;
} npy_parse;

static void ps_ws(npy_parse *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int ps_char(npy_parse *ps, char c)
{
    ps_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* A quoted string into buf (truncated to len-1); 0 if malformed. */
static int ps_string(npy_parse *ps, char *buf, size_t len)
{
    ps_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return 0;
    char q = *ps->p++;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (n + 1 < len)
            buf[n++] = *ps->p;
        ps->p++;
    }
    buf[n] = '\0';
    if (ps->p >= ps->end)
        return 0;
    ps->p++;
    return 1;
}

static int ps_word(npy_parse *ps, const char *w)
{
    ps_ws(ps);
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static rp_status ps_shape(npy_parse *ps, npy_hdr *h, char *err)
{
    if (!ps_char(ps, '('))
        return rp__fail(err, RP_ERR_FORMAT, "npy header: 'shape' is not a tuple");
    h->ndim = 0;
    for (;;) {
        if (ps_char(ps, ')'))
            return RP_OK;
        ps_ws(ps);
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return rp__fail(err, RP_ERR_FORMAT,
                            "npy header: 'shape' holds something other than integers");
        uint64_t v = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return rp__fail(err, RP_ERR_FORMAT, "npy header: absurd dimension in 'shape'");
            v = v * 10 + (uint64_t)(*ps->p++ - '0');
        }
        if (h->ndim == RP_NPY_MAX_DIM)
            return rp__fail(err, RP_ERR_FORMAT, "npy header: more than %d dimensions",
                            RP_NPY_MAX_DIM);
        h->shape[h->ndim++] = v;
        if (ps_char(ps, ','))
            continue;
        if (!ps_char(ps, ')'))
            return rp__fail(err, RP_ERR_FORMAT, "npy header: 'shape' tuple is not closed");
        return RP_OK;
    }
}

/* Parse and check the header of an open .npy file of `size` bytes. */
static rp_status npy_read_header(const rp_allocator *al, int fd, uint64_t size, npy_hdr *h,
                                 char *err)
{
    char why[128];
    unsigned char pre[12];
    ssize_t have = rp__read_full(fd, pre, sizeof pre);
    if (have < 0)
        return rp__fail(err, RP_ERR_IO, "cannot read: %s", rp__sys_reason(errno, why, sizeof why));
    size_t m = (size_t)have < NPY_MAGIC_LEN ? (size_t)have : NPY_MAGIC_LEN;
    if (memcmp(pre, NPY_MAGIC, m) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a NumPy .npy file");
    if (have < 8)
        return rp__fail(err, RP_ERR_FORMAT, "npy file truncated at byte %zu (in the preamble)",
                        (size_t)have);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return rp__fail(err, RP_ERR_FORMAT,
                        "unsupported npy format version %u.%u (read: 1.0, 2.0, 3.0)", major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if ((size_t)have < 8 + lenbytes)
        return rp__fail(err, RP_ERR_FORMAT, "npy file truncated at byte %zu (in the preamble)",
                        (size_t)have);
    uint64_t hlen = major == 1 ? (uint64_t)(pre[8] | pre[9] << 8) : get_u32(pre + 8);
    if (hlen > NPY_MAX_HEADER)
        return rp__fail(err, RP_ERR_FORMAT, "npy header of %llu bytes is absurd (limit %u)",
                        (unsigned long long)hlen, NPY_MAX_HEADER);
    uint64_t off = 8 + lenbytes + hlen;
    if (size < off)
        return rp__fail(err, RP_ERR_FORMAT,
                        "npy file truncated at byte %llu: the header needs %llu bytes",
                        (unsigned long long)size, (unsigned long long)off);
    char *text = rp__calloc(al, (size_t)hlen + 1, 1);
    if (!text)
        return rp__fail(err, RP_ERR_NOMEM, "no memory for the npy header");
    rp_status st = RP_OK;
    if (lseek(fd, (off_t)(8 + lenbytes), SEEK_SET) < 0 ||
        rp__read_full(fd, text, (size_t)hlen) != (ssize_t)hlen) {
        rp__free(al, text);
        return rp__fail(err, RP_ERR_IO, "cannot read the npy header");
    }
    npy_parse ps = {text, text + hlen};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (!ps_char(&ps, '{')) {
        st = rp__fail(err, RP_ERR_FORMAT, "npy header is not a dict");
        goto out;
    }
    while (!ps_char(&ps, '}')) {
        char key[32], val[32];
        if (!ps_string(&ps, key, sizeof key) || !ps_char(&ps, ':')) {
            st = rp__fail(err, RP_ERR_FORMAT, "npy header: malformed dict");
            goto out;
        }
        if (!strcmp(key, "descr") && !seen_descr) {
            seen_descr = 1;
            if (!ps_string(&ps, val, sizeof val)) {
                st = rp__fail(err, RP_ERR_FORMAT, "npy header: 'descr' is not a string");
                goto out;
            }
            if (strcmp(val, "<f8") != 0) {
                st = rp__fail(err, RP_ERR_FORMAT,
                              "npy dtype is '%s', expected '<f8' (little-endian float64)", val);
                goto out;
            }
        } else if (!strcmp(key, "fortran_order") && !seen_fortran) {
            seen_fortran = 1;
            if (ps_word(&ps, "True")) {
                st =
                    rp__fail(err, RP_ERR_FORMAT, "npy array is in Fortran order, expected C order");
                goto out;
            }
            if (!ps_word(&ps, "False")) {
                st = rp__fail(err, RP_ERR_FORMAT,
                              "npy header: 'fortran_order' is not True or False");
                goto out;
            }
        } else if (!strcmp(key, "shape") && !seen_shape) {
            seen_shape = 1;
            if ((st = ps_shape(&ps, h, err)) != RP_OK)
                goto out;
        } else {
            st = rp__fail(err, RP_ERR_FORMAT, "npy header: unexpected or repeated key '%s'", key);
            goto out;
        }
        if (!ps_char(&ps, ',')) {
            if (!ps_char(&ps, '}')) {
                st = rp__fail(err, RP_ERR_FORMAT, "npy header: malformed dict");
                goto out;
            }
            break;
        }
    }
    ps_ws(&ps);
    if (ps.p != ps.end) {
        st = rp__fail(err, RP_ERR_FORMAT, "npy header: text after the dict");
        goto out;
    }
    if (!seen_descr || !seen_fortran || !seen_shape) {
        st = rp__fail(err, RP_ERR_FORMAT, "npy header lacks '%s'",
                      !seen_descr     ? "descr"
                      : !seen_fortran ? "fortran_order"
                                      : "shape");
        goto out;
    }
    uint64_t count = 1;
    for (size_t i = 0; i < h->ndim; i++) {
        if (h->shape[i] != 0 && count > (UINT64_MAX / 8) / h->shape[i]) {
            st = rp__fail(err, RP_ERR_FORMAT, "npy shape is absurd (more than 2^61 elements)");
            goto out;
        }
        count *= h->shape[i];
    }
    uint64_t need = off + 8 * count; /* count <= 2^61 and off < 2^17: no overflow */
    if (size < need)
        st = rp__fail(err, RP_ERR_FORMAT, "npy file truncated at byte %llu: shape needs %llu bytes",
                      (unsigned long long)size, (unsigned long long)need);
    else if (size > need)
        st = rp__fail(err, RP_ERR_FORMAT,
                      "npy file has %llu bytes, but its shape needs %llu (trailing data)",
                      (unsigned long long)size, (unsigned long long)need);
    h->count = count;
    h->data_off = off;
out:
    rp__free(al, text);
    return st;
}

/* Load path into dst, which holds the product of the expected shape. */
static rp_status npy_load(const rp_allocator *al, const char *path, double *dst, size_t ndim,
                          const size_t *shape, char *err)
{
    if (!path)
        return rp__fail(err, RP_ERR_INVALID_ARG, "path is NULL");
    uint64_t count;
    rp_status st = check_shape_arg(ndim, shape, &count, err);
    if (st != RP_OK)
        return st;
    if (!dst && count > 0)
        return rp__fail(err, RP_ERR_INVALID_ARG, "dst is NULL");
    int fd = -1;
    uint64_t size = 0;
    if ((st = rp__open_regular(path, &fd, &size, err)) != RP_OK)
        return st;
    npy_hdr h;
    memset(&h, 0, sizeof h);
    st = npy_read_header(al, fd, size, &h, err);
    int same = st == RP_OK && h.ndim == ndim;
    for (size_t i = 0; same && i < ndim; i++)
        same = h.shape[i] == shape[i];
    if (st == RP_OK && !same) {
        uint64_t want[RP_NPY_MAX_DIM];
        for (size_t i = 0; i < ndim; i++)
            want[i] = shape[i];
        char a[RP_NPY_MAX_DIM * 24 + 8], b[RP_NPY_MAX_DIM * 24 + 8];
        shape_text(a, sizeof a, h.ndim, h.shape);
        shape_text(b, sizeof b, ndim, want);
        st = rp__fail(err, RP_ERR_FORMAT, "npy shape is %s, expected %s", a, b);
    }
    /* The caller's memory is written only once the whole read succeeded. */
    double *tmp = NULL;
    if (st == RP_OK && !(tmp = rp__calloc(al, (size_t)count, sizeof(double))))
        st = rp__fail(err, RP_ERR_NOMEM, "no memory for %llu doubles", (unsigned long long)count);
    if (st == RP_OK) {
        int e = lseek(fd, (off_t)h.data_off, SEEK_SET) < 0 ? errno
                                                           : rp__read_f64s(fd, tmp, count, NULL);
        char why[128];
        if (e != 0)
            st = rp__fail(err, RP_ERR_IO, "cannot read the npy data: %s",
                          rp__sys_reason(e, why, sizeof why));
    }
    close(fd);
    if (st == RP_OK && count > 0)
        memcpy(dst, tmp, (size_t)count * sizeof(double));
    rp__free(al, tmp);
    return st;
}

rp_status rp_npy_load(const char *path, double *dst, size_t ndim, const size_t *shape, char *msg,
                      size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = npy_load(NULL, path, dst, ndim, shape, err);
    rp__copy_msg(msg, msglen, err);
    return st;
}

rp_status rp_npy_shape(const char *path, size_t *ndim, size_t *shape, char *msg, size_t msglen)
{
    char err[RP_ERRLEN] = "";
    rp_status st = RP_OK;
    int fd = -1;
    uint64_t size = 0;
    npy_hdr h;
    memset(&h, 0, sizeof h);
    if (!path || !ndim || !shape)
        st = rp__fail(err, RP_ERR_INVALID_ARG, "%s is NULL",
                      !path   ? "path"
                      : !ndim ? "ndim"
                              : "shape");
    else if ((st = rp__open_regular(path, &fd, &size, err)) == RP_OK) {
        st = npy_read_header(NULL, fd, size, &h, err);
        close(fd);
        for (size_t i = 0; st == RP_OK && i < h.ndim; i++)
            if (h.shape[i] > SIZE_MAX)
                st = rp__fail(err, RP_ERR_FORMAT, "npy dimension %llu does not fit in size_t",
                              (unsigned long long)h.shape[i]);
    }
    if (st == RP_OK) {
        *ndim = h.ndim;
        for (size_t i = 0; i < RP_NPY_MAX_DIM; i++)
            shape[i] = i < h.ndim ? (size_t)h.shape[i] : 0;
    }
    rp__copy_msg(msg, msglen, err);
    return st;
}

/* ---- parameters as .npy --------------------------------------------------- */

/* Shape of parameter p for dimensions (n_in, n_rec, n_out): matrices 2-D,
   biases 1-D, as in rnnplast.h's rp_param. */
static size_t param_shape(rp_param p, size_t n_in, size_t n_rec, size_t n_out, size_t *shape)
{
    switch (p) {
    case RP_PARAM_W:
        shape[0] = n_rec, shape[1] = n_rec;
        return 2;
    case RP_PARAM_U:
        shape[0] = n_rec, shape[1] = n_in;
        return 2;
    case RP_PARAM_B:
        shape[0] = n_rec;
        return 1;
    case RP_PARAM_V:
        shape[0] = n_out, shape[1] = n_rec;
        return 2;
    default:
        shape[0] = n_out;
        return 1;
    }
}

rp_status rp_net_save_param_npy(const rp_net *net, rp_param which, const char *path)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    char *err = (char *)net->err; /* the message is not part of the network's value */
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(err, RP_ERR_INVALID_ARG, "which is %d, expected RP_PARAM_W..RP_PARAM_C",
                        (int)which);
    size_t shape[RP_NPY_MAX_DIM];
    size_t nd = param_shape(which, net->cfg.n_in, net->cfg.n_rec, net->cfg.n_out, shape);
    return npy_save(&net->al, path, rp__cparam(net, which), nd, shape, err);
}

rp_status rp_grad_save_param_npy(const rp_grad *g, rp_param which, const char *path)
{
    RP__CLEAR_ERR(g);
    if (!g)
        return RP_ERR_INVALID_ARG;
    char *err = (char *)g->err; /* the message is not part of the gradient's value */
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(err, RP_ERR_INVALID_ARG, "which is %d, expected RP_PARAM_W..RP_PARAM_C",
                        (int)which);
    size_t shape[RP_NPY_MAX_DIM];
    size_t nd = param_shape(which, g->n_in, g->n_rec, g->n_out, shape);
    return npy_save(&g->al, path, g->v + g->lay.off[which], nd, shape, err);
}

rp_status rp_net_load_param_npy(rp_net *net, rp_param which, const char *path)
{
    RP__CLEAR_ERR(net);
    if (!net)
        return RP_ERR_INVALID_ARG;
    if ((unsigned)which >= RP_PARAM_COUNT)
        return rp__fail(net->err, RP_ERR_INVALID_ARG,
                        "which is %d, expected RP_PARAM_W..RP_PARAM_C", (int)which);
    size_t shape[RP_NPY_MAX_DIM];
    size_t nd = param_shape(which, net->cfg.n_in, net->cfg.n_rec, net->cfg.n_out, shape);
    size_t len = net->lay.len[which];
    double *buf = rp__calloc(&net->al, len, sizeof(double));
    if (!buf)
        return rp__fail(net->err, RP_ERR_NOMEM, "no memory for %zu doubles", len);
    char err[RP_ERRLEN] = "";
    rp_status st = npy_load(&net->al, path, buf, nd, shape, err);
    if (st != RP_OK)
        rp__fail(net->err, st, "parameter %s from '%s': %s", rp__param_name(which),
                 path ? path : "(null)", err);
    else
        st = rp_net_set_param(net, which, buf, len); /* refuses NaN/Inf, net unchanged */
    rp__free(&net->al, buf);
    return st;
}
