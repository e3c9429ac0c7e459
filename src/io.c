/* Files: the network's versioned binary format and NumPy .npy arrays.

   Every writer goes through atomic_write(): a temporary file in the target's
   own directory (so rename() never crosses a file system) is written,
   fsync'ed and renamed over the target, then the directory is fsync'ed so
   the rename itself is durable.  A reader therefore sees either the old file
   or the complete new one, never a prefix.  The target is the end of the
   path's symbolic links, and only a regular file is ever replaced.

   Both readers validate before they trust: the header is read into a fixed
   buffer, every field is checked against caps and against the file's actual
   length, and (for networks) the CRC-32 is verified in a streaming pass with a
   fixed buffer, all before anything is allocated from sizes found in the file.

   Every multi-byte field is little-endian on disk whatever the host, written
   and read byte by byte, so files move between machines. */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH, flock (atomic_write); see sys_reason */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
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
/* The batch is the one field that sizes an allocation (the 6 * batch * n_rec
   state buffers of rp_net_create) without being backed by bytes of the file,
   so the dimension cap alone let a file of 276 bytes allocate 500 MB (found
   by fuzz/fuzz_net_load.c).  batch * n_rec is capped here, at 2^22 (160 MB of
   state at most), and rp_net_save refuses a network above it, so that every
   file written can be read back. */
#define RP_IO_MAX_STATE ((uint64_t)1 << 22)

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
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, buf, len); /* glibc's GNU variant: returns the text */
#else
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
#endif
}

/* ---- atomic writes -------------------------------------------------------- */

/* A sink that remembers the first failure and keeps a running CRC.  It
   writes the descriptor directly: callers already hand it blocks of up to
   4 KiB, and stdio's FILE and buffer would be allocations outside the
   handle's allocator (rnnplast.h "Memory"). */
typedef struct writer {
    int fd;
    int err; /* errno of the first failure, 0 while all is well */
    uLong crc;
} writer;

static void w_bytes(writer *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    w->crc = crc32(w->crc, p, (uInt)n); /* callers pass at most 64 KiB */
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t r = write(w->fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            w->err = r < 0 ? errno : EIO;
            return;
        }
        b += r;
        n -= (size_t)r;
    }
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

/* What a file that is not regular is, for messages. */
static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISLNK(m)  ? "a symbolic link"
                         : "a special file";
}

/* Linux's MAXSYMLINKS: the chain a save follows before calling it a loop. */
#define RP_IO_MAX_LINKS 40

/* The file a save of path replaces (*out, allocated): path itself, or the end
   of its chain of symbolic links, resolved here because rename() would
   replace the link itself (rnnplast.h "Files").  Refuses a path that is, or
   leads to, anything but a regular file or a missing name: rename() would
   otherwise put a regular file in place of a device node, FIFO or socket. */
static rp_status save_target(const rp_allocator *al, const char *path, char **out, char *err)
{
    char why[128], link[PATH_MAX];
    size_t n = strlen(path);
    char *cur = rp__calloc(al, n + 1, 1);
    if (!cur)
        return rp__fail(err, RP_ERR_NOMEM, "no memory for the name of '%s'", path);
    memcpy(cur, path, n + 1);
    rp_status st = RP_OK;
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0) {
            if (errno == ENOENT)
                break; /* created (a missing directory is reported when it is) */
            st = rp__fail(err, RP_ERR_IO, "cannot save to '%s': %s", path,
                          sys_reason(errno, why, sizeof why));
            break;
        }
        if (S_ISREG(sb.st_mode))
            break;
        if (!S_ISLNK(sb.st_mode)) {
            if (hops == 0)
                st = rp__fail(err, RP_ERR_IO, "'%s' is %s, not a regular file: not replaced",
                              path, file_kind(sb.st_mode));
            else
                st = rp__fail(err, RP_ERR_IO, "'%s' links to '%s', %s, not a regular file: "
                              "not replaced", path, cur, file_kind(sb.st_mode));
            break;
        }
        if (hops == RP_IO_MAX_LINKS) {
            st = rp__fail(err, RP_ERR_IO, "cannot save to '%s': more than %d symbolic links "
                          "(a loop?)", path, RP_IO_MAX_LINKS);
            break;
        }
        ssize_t k = readlink(cur, link, sizeof link);
        if (k < 0 || (size_t)k == sizeof link) {
            st = rp__fail(err, RP_ERR_IO, "cannot read the symbolic link '%s': %s", cur,
                          sys_reason(k < 0 ? errno : ENAMETOOLONG, why, sizeof why));
            break;
        }
        /* A relative link is relative to the directory holding it. */
        const char *slash = strrchr(cur, '/');
        size_t dl = link[0] != '/' && slash ? (size_t)(slash - cur) + 1 : 0;
        char *next = rp__calloc(al, dl + (size_t)k + 1, 1);
        if (!next) {
            st = rp__fail(err, RP_ERR_NOMEM, "no memory for the name of '%s'", path);
            break;
        }
        memcpy(next, cur, dl);
        memcpy(next + dl, link, (size_t)k);
        rp__free(al, cur);
        cur = next;
    }
    if (st != RP_OK) {
        rp__free(al, cur);
        return st;
    }
    *out = cur;
    return RP_OK;
}

/* Write body() into fd, mode 0644 whatever the umask (a saved model is an
   ordinary readable file), and fsync it.  Returns 0 or an errno; *step names
   the failed step. */
static int write_synced(int fd, write_fn body, const void *ctx, const char **step)
{
    (void)fchmod(fd, 0644);
    writer w = {fd, 0, crc32(0L, Z_NULL, 0)};
    body(&w, ctx);
    *step = "write";
    if (w.err)
        return w.err;
    *step = "sync";
    return fsync(fd) != 0 ? errno : 0;
}

/* Give the anonymous O_TMPFILE file fd the name tmp.  /proc/self/fd works
   unprivileged; AT_EMPTY_PATH is the way without /proc (it needs
   CAP_DAC_READ_SEARCH before Linux 6.10).  0, or -1 with errno. */
static int link_anonymous(int fd, const char *tmp)
{
#ifdef AT_EMPTY_PATH
    char proc[40];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    return linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH);
#else
    (void)fd;
    (void)tmp;
    errno = ENOTSUP;
    return -1;
#endif
}

/* Without O_TMPFILE: open the fixed temporary name tmp, holding an exclusive
   flock() on it that a concurrent saver of the same path waits for; a stale
   file from a crashed save is reused (its lock died with its process).  The
   name is checked to still be the locked file after the lock is taken: the
   previous holder renamed it over the target meanwhile.  fd, or -1 with errno. */
static int open_fixed(const char *tmp)
{
    for (int tries = 0; tries < 100; tries++) {
        /* Nothing but a regular file of ours is ever opened under this name:
           not a device node (its open can act), FIFO or symbolic link. */
        struct stat a, b;
        if (lstat(tmp, &b) == 0 && !S_ISREG(b.st_mode) && !S_ISDIR(b.st_mode) && unlink(tmp) != 0)
            return -1;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        if (fd < 0) {
            if (errno == ELOOP || errno == ENXIO)
                continue; /* a link or FIFO put there since: removed above */
            return -1;
        }
        int r;
        while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
            ;
        if (r == 0 && (r = fstat(fd, &a)) == 0) {
            if (lstat(tmp, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                /* Only a regular file of ours is truncated: not a FIFO, nor a
                   hard link to some other file planted under our name. */
                if (S_ISREG(a.st_mode) && a.st_nlink == 1) {
                    if (ftruncate(fd, 0) == 0)
                        return fd;
                    r = -1;
                } else if (unlink(tmp) != 0) {
                    r = -1;
                }
            }
        }
        int e = errno;
        close(fd);
        if (r != 0) {
            errno = e;
            return -1;
        }
    }
    errno = EBUSY;
    return -1;
}

/* The O_TMPFILE way: write an anonymous file in dname, and only once it is
   complete and fsync'ed link it to the fixed name tmp and rename that over
   target; so tmp only ever holds a complete file, whoever put it there.
   A name tmp found taken (stale, or another saver's between its link and
   rename) is removed and ours linked.  A rename that finds our name gone
   (another saver removed it, or renamed it over target itself) succeeded if
   target is now our file, and is otherwise done again from the start: a
   file that was linked once cannot be linked again.  Returns 0, an errno
   (*step names the step), or -1: no O_TMPFILE here, use the fixed name. */
static int save_anonymous(const char *dname, const char *tmp, const char *target, write_fn body,
                          const void *ctx, const char **step)
{
#ifdef O_TMPFILE
    for (int attempt = 0; attempt < 16; attempt++) {
        *step = "create a temporary file for";
        int fd = open(dname, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? -1 : errno;
        int e = write_synced(fd, body, ctx, step), done = 0;
        for (int tries = 0; e == 0 && !done; tries++) {
            *step = "name the temporary file for";
            if (tries == 100) {
                e = EBUSY;
            } else if (link_anonymous(fd, tmp) != 0) {
                e = errno;
                if (e == EEXIST && (unlink(tmp) == 0 || errno == ENOENT))
                    e = 0; /* and link again */
                else if (e == ENOENT || e == EPERM)
                    e = -1; /* cannot be linked without /proc: the fixed name */
            } else {
                *step = "rename the temporary file onto";
                struct stat a, b;
                if (rename(tmp, target) == 0)
                    done = 1;
                else if ((e = errno) == ENOENT)
                    done = fstat(fd, &a) == 0 && stat(target, &b) == 0 &&
                                   a.st_dev == b.st_dev && a.st_ino == b.st_ino
                               ? 1
                               : 2;
                else
                    unlink(tmp);
                if (done)
                    e = 0;
            }
        }
        if (close(fd) != 0 && e == 0) {
            e = errno;
            *step = "close";
        }
        if (e != 0 || done == 1)
            return e;
    }
    *step = "rename the temporary file onto";
    return EBUSY; /* other saves of the same path kept taking the name */
#else
    (void)dname, (void)tmp, (void)target, (void)body, (void)ctx, (void)step;
    return -1;
#endif
}

/* Write path atomically with body() (rnnplast.h "Files"): the bytes go to a
   file in the target's directory (rename() never crosses a file system),
   which is fsync'ed and only then renamed over the target, and the directory
   is fsync'ed.  The temporary file is save_anonymous()'s; without O_TMPFILE
   it is the fixed name "<dir>/.<base>.rp-tmp", written under open_fixed()'s
   lock.  Either way a killed save leaves at most that one name.  no_tmpfile
   forces the fixed name (tests).  On failure path is untouched and err names
   the step. */
static rp_status atomic_write_ex(const rp_allocator *al, const char *path, write_fn body,
                                 const void *ctx, int no_tmpfile, char *err)
{
    char why[128];
    char *target = NULL;
    rp_status st = save_target(al, path, &target, err);
    if (st != RP_OK)
        return st;
    size_t tl = strlen(target);
    const char *slash = strrchr(target, '/');
    size_t dl = slash ? (size_t)(slash - target) + 1 : 0, bl = tl - dl;
    static const char sfx[] = ".rp-tmp";
    /* "<dir>/.<base>.rp-tmp", then the directory's name ("." without one). */
    char *tmp = bl ? rp__calloc(al, tl + sizeof sfx + 1 + dl + 2, 1) : NULL;
    if (!tmp) {
        st = bl ? rp__fail(err, RP_ERR_NOMEM, "no memory for the temporary file name")
                : rp__fail(err, RP_ERR_IO, "'%s' names a directory, not a file", path);
        rp__free(al, target);
        return st;
    }
    memcpy(tmp, target, dl);
    tmp[dl] = '.';
    memcpy(tmp + dl + 1, target + dl, bl);
    memcpy(tmp + dl + 1 + bl, sfx, sizeof sfx);
    char *dname = tmp + tl + sizeof sfx + 1;
    memcpy(dname, dl ? target : ".", dl > 1 ? dl - 1 : 1);

    const char *step = "create a temporary file for";
    int e = no_tmpfile ? -1 : save_anonymous(dname, tmp, target, body, ctx, &step);
    if (e < 0) {
        step = "create a temporary file for";
        int fd = open_fixed(tmp);
        e = fd < 0 ? errno : write_synced(fd, body, ctx, &step);
        if (fd >= 0) {
            if (e == 0) {
                step = "rename the temporary file onto";
                e = rename(tmp, target) == 0 ? 0 : errno;
            }
            if (e != 0)
                unlink(tmp); /* before close: the lock still keeps the name ours */
            if (close(fd) != 0 && e == 0) {
                e = errno;
                step = "close";
            }
        }
    }
    if (e != 0) {
        st = rp__fail(err, RP_ERR_IO, "cannot %s '%s': %s", step, target,
                      sys_reason(e, why, sizeof why));
    } else {
        /* Make the rename durable.  File systems that cannot sync a directory
           (EINVAL, ENOTSUP) are not an error: the file is already in place. */
        int dfd = open(dname, O_RDONLY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP)
                st = rp__fail(err, RP_ERR_IO,
                              "'%s' was written, but syncing its directory failed: %s", target,
                              sys_reason(errno, why, sizeof why));
            close(dfd);
        }
    }
    rp__free(al, tmp);
    rp__free(al, target);
    return st;
}

static rp_status atomic_write(const rp_allocator *al, const char *path, write_fn body,
                              const void *ctx, char *err)
{
    return atomic_write_ex(al, path, body, ctx, 0, err);
}

/* ---- rp_net_save --------------------------------------------------------- */

/* The header of a network file (also the network section of a checkpoint). */
static void net_header(unsigned char *h, const rp_net *net)
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
    unsigned char h[RP_IO_HEADER];
    net_header(h, net);
    w_bytes(w, h, sizeof h);
    w_f64s(w, net->theta, net->lay.total);
    w_f64s(w, net->h0, c->n_rec);
    unsigned char tail[4];
    put_u32(tail, (uint32_t)w->crc);
    w_bytes(w, tail, sizeof tail);
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
    return atomic_write_ex(&net->al, path, write_net, net, no_tmpfile, err);
}

rp_status rp_net_save(const rp_net *net, const char *path)
{
    RP__CLEAR_ERR(net);
    return net_save(net, path, 0);
}

rp_status rp__net_save_fixed(const rp_net *net, const char *path)
{
    return net_save(net, path, 1);
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
    struct stat sb;
    /* Checked before the open as well as after: opening a device node can
       itself act (a tape rewinds, a terminal becomes the controlling one). */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return rp__fail(err, RP_ERR_IO, "'%s' is %s, not a regular file", path,
                        file_kind(sb.st_mode));
    /* O_NONBLOCK: a FIFO swapped in meanwhile must not wait for a writer (it
       is then refused below); reads of a regular file ignore the flag. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return rp__fail(err, RP_ERR_IO, "cannot open '%s': %s", path,
                        sys_reason(errno, why, sizeof why));
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rp__fail(err, RP_ERR_IO, "cannot stat '%s': %s", path, sys_reason(e, why, sizeof why));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rp__fail(err, RP_ERR_IO, "'%s' is %s, not a regular file", path,
                        file_kind(sb.st_mode));
    }
    *fd_out = fd;
    *size = (uint64_t)sb.st_size;
    return RP_OK;
}

/* Check the fields of a complete network header h (magic, version, byte
   order, dimensions, parameter count; not the configuration, which
   net_header_config checks) and fill n_theta. */
static rp_status net_header_dims(const unsigned char *h, uint64_t *n_theta, char *err)
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
        return rp__fail(err, RP_ERR_FORMAT,
                        "parameter count is %llu, but the dimensions give %llu",
                        (unsigned long long)stored, (unsigned long long)total);
    *n_theta = total;
    return RP_OK;
}

/* The configuration in a header that passed net_header_dims. */
static rp_status net_header_config(const unsigned char *h, rp_net_config *cfg, char *err)
{
    rp_net_config c = rp_net_config_default();
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
                                  rp_net_config *cfg, uint64_t *n_theta, char *err)
{
    size_t m = have < RP_IO_MAGIC_LEN ? have : RP_IO_MAGIC_LEN;
    if (memcmp(h, RP_IO_MAGIC, m) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a librnnplast network file");
    if (have < RP_IO_HEADER)
        return rp__fail(err, RP_ERR_FORMAT, "file truncated at byte %zu: the header needs %u bytes",
                        have, RP_IO_HEADER);
    uint64_t total = 0;
    rp_status st = net_header_dims(h, &total, err);
    if (st != RP_OK)
        return st;
    uint64_t n_rec = get_u64(h + 24);
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
    st = net_header_config(h, cfg, err);
    if (st == RP_OK)
        *n_theta = total;
    return st;
}

/* Read n doubles at the current offset into dst (or only checksum them when
   dst is NULL), updating crc (unless NULL).  Fixed buffer; returns 0 or errno (EIO for a
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
        if (crc)
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

static rp_status load_net(rp_net **out, const char *path, const rp_allocator *al, char *err)
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
    uint64_t n_theta = 0;
    st = check_net_header(h, (size_t)have, size, &cfg, &n_theta, err);
    cfg.allocator = al;
    /* The checksum is verified before any allocation sized by the file ... */
    if (st == RP_OK)
        st = read_body(fd, h, n_theta, cfg.n_rec, NULL, NULL, err);
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
        o += (size_t)snprintf(buf + o, len - o, i ? ", %llu" : "%llu", (unsigned long long)shape[i]);
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
    w_bytes(w, c->header, c->header_len);
    w_f64s(w, c->a, (size_t)c->count);
}

/* Check ndim/shape given by a caller; count receives the product. */
static rp_status check_shape_arg(size_t ndim, const size_t *shape, uint64_t *count, char *err)
{
    if (ndim < 1 || ndim > RP_NPY_MAX_DIM)
        return rp__fail(err, RP_ERR_INVALID_ARG, "ndim is %zu, expected 1..%d", ndim, RP_NPY_MAX_DIM);
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
    return atomic_write(al, path, write_npy, &c, err);
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
            return rp__fail(err, RP_ERR_FORMAT, "npy header: 'shape' holds something other than integers");
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
    ssize_t have = read_full(fd, pre, sizeof pre);
    if (have < 0)
        return rp__fail(err, RP_ERR_IO, "cannot read: %s", sys_reason(errno, why, sizeof why));
    size_t m = (size_t)have < NPY_MAGIC_LEN ? (size_t)have : NPY_MAGIC_LEN;
    if (memcmp(pre, NPY_MAGIC, m) != 0)
        return rp__fail(err, RP_ERR_FORMAT, "bad magic: not a NumPy .npy file");
    if (have < 8)
        return rp__fail(err, RP_ERR_FORMAT, "npy file truncated at byte %zu (in the preamble)",
                        (size_t)have);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return rp__fail(err, RP_ERR_FORMAT, "unsupported npy format version %u.%u (read: 1.0, 2.0, 3.0)",
                        major, minor);
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
        return rp__fail(err, RP_ERR_FORMAT, "npy file truncated at byte %llu: the header needs %llu bytes",
                        (unsigned long long)size, (unsigned long long)off);
    char *text = rp__calloc(al, (size_t)hlen + 1, 1);
    if (!text)
        return rp__fail(err, RP_ERR_NOMEM, "no memory for the npy header");
    rp_status st = RP_OK;
    if (lseek(fd, (off_t)(8 + lenbytes), SEEK_SET) < 0 || read_full(fd, text, (size_t)hlen) != (ssize_t)hlen) {
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
                st = rp__fail(err, RP_ERR_FORMAT, "npy dtype is '%s', expected '<f8' (little-endian float64)",
                              val);
                goto out;
            }
        } else if (!strcmp(key, "fortran_order") && !seen_fortran) {
            seen_fortran = 1;
            if (ps_word(&ps, "True")) {
                st = rp__fail(err, RP_ERR_FORMAT, "npy array is in Fortran order, expected C order");
                goto out;
            }
            if (!ps_word(&ps, "False")) {
                st = rp__fail(err, RP_ERR_FORMAT, "npy header: 'fortran_order' is not True or False");
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
                      !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
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
        st = rp__fail(err, RP_ERR_FORMAT, "npy file has %llu bytes, but its shape needs %llu (trailing data)",
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
    if ((st = open_regular(path, &fd, &size, err)) != RP_OK)
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
        int e = lseek(fd, (off_t)h.data_off, SEEK_SET) < 0 ? errno : read_f64s(fd, tmp, count, NULL);
        char why[128];
        if (e != 0)
            st = rp__fail(err, RP_ERR_IO, "cannot read the npy data: %s", sys_reason(e, why, sizeof why));
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
        st = rp__fail(err, RP_ERR_INVALID_ARG, "%s is NULL", !path ? "path" : !ndim ? "ndim" : "shape");
    else if ((st = open_regular(path, &fd, &size, err)) == RP_OK) {
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
        return rp__fail(net->err, RP_ERR_INVALID_ARG, "which is %d, expected RP_PARAM_W..RP_PARAM_C",
                        (int)which);
    size_t shape[RP_NPY_MAX_DIM];
    size_t nd = param_shape(which, net->cfg.n_in, net->cfg.n_rec, net->cfg.n_out, shape);
    size_t len = net->lay.len[which];
    double *buf = rp__calloc(&net->al, len, sizeof(double));
    if (!buf)
        return rp__fail(net->err, RP_ERR_NOMEM, "no memory for %zu doubles", len);
    char err[RP_ERRLEN] = "";
    rp_status st = npy_load(&net->al, path, buf, nd, shape, err);
    if (st != RP_OK)
        rp__fail(net->err, st, "parameter %s from '%s': %s", io_param_names[which],
                 path ? path : "(null)", err);
    else
        st = rp_net_set_param(net, which, buf, len); /* refuses NaN/Inf, net unchanged */
    rp__free(&net->al, buf);
    return st;
}

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
   Version 1 files (no stream bit) are read as before; files are always
   written as version 2. */

#define RP_CK_MAGIC "\x89RPCK\r\n\x1a"
#define RP_CK_VERSION 2u
#define RP_CK_VERSION_OLDEST 1u
#define RP_CK_HEAD 40u /* before the embedded network header */
#define RP_CK_HAS_OPTIM 1u
#define RP_CK_HAS_RULE 2u
#define RP_CK_HAS_STREAM 4u /* version 2; needs RP_CK_HAS_RULE */
#define RP_CK_RNG 48u         /* s[4], has_spare, 4 zero bytes, spare */
#define RP_CK_OPTIM_FIXED 88u /* kind, 4 zero, 7 doubles, 5+5 flags, 6 zero, t */
#define RP_CK_RULE_FIXED 24u  /* kind, loss, feedback kind, custom, K */
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
        w_bytes(w, a, k);
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
    put_u32(h + 8, RP_CK_VERSION);
    put_u32(h + 12, RP_IO_BOM);
    put_u64(h + 16, c->iteration);
    rp__rule_state rs;
    if (c->rule)
        rp__rule_get_state(c->rule, &rs);
    put_u32(h + 24, (c->opt ? RP_CK_HAS_OPTIM : 0u) | (c->rule ? RP_CK_HAS_RULE : 0u) |
                        (c->rule && rs.streaming ? RP_CK_HAS_STREAM : 0u));
    put_u32(h + 28, net->cfg.batch_invariant ? 1u : 0u);
    put_u64(h + 32, c->user_len);
    net_header(h + RP_CK_HEAD, net);
    w_bytes(w, h, sizeof h);
    w_f64s(w, net->theta, P);
    w_f64s(w, net->h0, N);
    w_f64s(w, net->state, BN);
    w_f64s(w, net->fx, BN);
    w_f64s(w, net->u, BN);
    unsigned char r[RP_CK_RNG] = {0};
    for (int i = 0; i < 4; i++)
        put_u64(r + 8 * i, net->rng.s[i]);
    put_u32(r + 32, net->rng.has_spare ? 1u : 0u);
    put_f64(r + 40, net->rng.spare);
    w_bytes(w, r, sizeof r);
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
        w_bytes(w, o, sizeof o);
        w_u8s(w, s.con, P);
        w_f64s(w, s.m, P);
        w_f64s(w, s.v, P);
    }
    if (c->rule) {
        unsigned char q[RP_CK_RULE_FIXED];
        put_u32(q, (uint32_t)rs.kind);
        put_u32(q + 4, (uint32_t)rs.loss);
        put_u32(q + 8, (uint32_t)rs.fb_kind);
        put_u32(q + 12, rs.fb_custom ? 1u : 0u);
        put_u64(q + 16, rs.K);
        w_bytes(w, q, sizeof q);
        w_f64s(w, rs.fb, rs.n_rec * rs.n_out);
    }
    if (c->rule && rs.streaming) {
        unsigned char q[RP_CK_STREAM_FIXED];
        put_u64(q, rs.steps);
        put_f64(q + 8, rs.stream_loss);
        w_bytes(w, q, sizeof q);
        for (size_t i = 0; i < rs.n_arrays; i++)
            w_f64s(w, rs.arr[i], (size_t)rs.len[i]);
    }
    w_u8s(w, c->user, c->user_len);
    unsigned char tail[4];
    put_u32(tail, (uint32_t)w->crc);
    w_bytes(w, tail, sizeof tail);
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
            return rp__fail(err, RP_ERR_DIM_MISMATCH,
                            "opt was built for (n_in %zu, n_rec %zu, n_out %zu), net has (%zu, %zu, %zu)",
                            s.n_in, s.n_rec, s.n_out, c->n_in, c->n_rec, c->n_out);
    }
    if (rule) {
        rp__rule_state s;
        rp__rule_get_state(rule, &s);
        if (s.n_in != c->n_in || s.n_rec != c->n_rec || s.n_out != c->n_out ||
            s.batch != c->batch || s.form != c->form || s.act != c->act)
            return rp__fail(err, RP_ERR_DIM_MISMATCH,
                            "rule was built for (n_in %zu, n_rec %zu, n_out %zu, batch %zu, form %d, "
                            "act %d), net has (%zu, %zu, %zu, %zu, %d, %d)",
                            s.n_in, s.n_rec, s.n_out, s.batch, (int)s.form, (int)s.act, c->n_in,
                            c->n_rec, c->n_out, c->batch, (int)c->form, (int)c->act);
        /* An open online stream is saved with the rule (its traces and
           position), so that it resumes where it stopped. */
    }
    ck_save_ctx ctx = {net, opt, rule, iteration, user, user_len};
    return atomic_write(&net->al, path, write_ckpt, &ctx, err);
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
} ck_reader;

static void r_bytes(ck_reader *r, void *dst, size_t n)
{
    if (r->e)
        return;
    ssize_t got = read_full(r->fd, dst, n);
    if (got < 0)
        r->e = errno ? errno : EIO;
    else if ((size_t)got != n)
        r->e = EIO;
    else
        r->crc = crc32(r->crc, dst, (uInt)n); /* callers pass at most 4 KiB */
}

/* n doubles into dst (NULL: checked and checksummed only); returns the index
   of the first non-finite one, or n. */
static uint64_t r_f64s(ck_reader *r, double *dst, uint64_t n)
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
    double *stream[RP__RULE_STREAM_MAX];
    unsigned char *user;
} ck_dest;

/* What the fixed header says. */
typedef struct ck_head {
    uint64_t iteration, user_len, n_theta;
    uint64_t size, len; /* the file's length; what the header alone implies (all but a stream) */
    uint32_t contents;
    rp_net_config cfg;
} ck_head;

static const char *const ck_param_names[RP_PARAM_COUNT] = {"W", "U", "b", "V", "c"};

static rp_status ck_nonfinite(char *err, const char *what, uint64_t i)
{
    return rp__fail(err, RP_ERR_FORMAT, "%s[%llu] is not finite", what, (unsigned long long)i);
}

/* One pass over everything after the fixed header: fill meta (and d's
   arrays), validate every field, and compare the checksum. */
static rp_status ck_sections(ck_reader *r, const ck_head *hd, ck_meta *mt, const ck_dest *d,
                             char *err)
{
    const rp_net_config *c = &hd->cfg;
    const uint64_t P = hd->n_theta, N = c->n_rec, BN = (uint64_t)c->batch * N;
    uint64_t bad = r_f64s(r, d->theta, P);
    if (!r->e && bad < P) {
        rp_layout lay;
        rp__layout(&lay, c->n_in, c->n_rec, c->n_out);
        int p = RP_PARAM_COUNT - 1;
        while (lay.off[p] > bad)
            p--;
        char what[8];
        snprintf(what, sizeof what, "%s", ck_param_names[p]);
        return ck_nonfinite(err, what, bad - lay.off[p]);
    }
    static const char *const live[4] = {"h0", "state", "fx", "u"};
    double *dl[4] = {d->h0, d->state, d->fx, d->u};
    for (int i = 0; i < 4 && !r->e; i++) {
        bad = r_f64s(r, dl[i], i == 0 ? N : BN);
        if (!r->e && bad < (i == 0 ? N : BN))
            return ck_nonfinite(err, live[i], bad);
    }
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
            return rp__fail(err, RP_ERR_FORMAT, "noise generator state is all zero (xoshiro's fixed point)");
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
                return rp__fail(err, RP_ERR_FORMAT, "optimizer: kind is %u, expected 0 (SGD) or 1 (Adam)",
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
            s->kind = kind > RP_RULE_RFLO ? (rp_rule_kind)(RP_RULE_RFLO + 1) : (rp_rule_kind)kind;
            s->loss = loss > RP_LOSS_CE ? (rp_loss)(RP_LOSS_CE + 1) : (rp_loss)loss;
            s->fb_kind = fbk > RP_FEEDBACK_RANDOM ? (rp_feedback)(RP_FEEDBACK_RANDOM + 1)
                                                 : (rp_feedback)fbk;
            s->fb_custom = custom > 1 ? 2 : (int)custom;
            s->K = get_u64(b + 16);
        }
        bad = r_f64s(r, d->fb, N * c->n_out);
        if (!r->e && bad < N * c->n_out)
            return ck_nonfinite(err, "rule: feedback", bad);
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
        if (s->streaming && !r->e) {
            /* The arrays' lengths follow from the kind just read: the file's
               exact length is checked before any of them is read. */
            const char *name[RP__RULE_STREAM_MAX];
            int ok = 1;
            s->n_arrays = rp__rule_stream_layout(s->kind, c->form, c->batch, c->n_in, N, s->len,
                                                 name, &ok);
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
                bad = r_f64s(r, d->stream[i], s->len[i]);
                if (!r->e && bad < s->len[i]) {
                    char what[32];
                    snprintf(what, sizeof what, "rule stream: %s", name[i]);
                    return ck_nonfinite(err, what, bad);
                }
            }
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
        return rp__fail(err, RP_ERR_IO, "cannot read the checkpoint: %s", sys_reason(r->e, why, sizeof why));
    }
    if (get_u32(tail) != (uint32_t)crc)
        return rp__fail(err, RP_ERR_FORMAT, "checksum mismatch: file says 0x%08x, contents give 0x%08x",
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
        return rp__fail(err, RP_ERR_FORMAT, "file truncated at byte %zu: the header needs %zu bytes",
                        have, H);
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
    const uint32_t known = RP_CK_HAS_OPTIM | RP_CK_HAS_RULE | (version >= 2 ? RP_CK_HAS_STREAM : 0u);
    if (hd->contents & ~known)
        return rp__fail(err, RP_ERR_FORMAT, "contents flags are 0x%x, expected bits 0x%x only",
                        (unsigned)hd->contents, (unsigned)known);
    if ((hd->contents & RP_CK_HAS_STREAM) && !(hd->contents & RP_CK_HAS_RULE))
        return rp__fail(err, RP_ERR_FORMAT, "contents flags are 0x%x: a stream without its rule",
                        (unsigned)hd->contents);
    uint32_t binv = get_u32(h + 28);
    if (binv > 1)
        return rp__fail(err, RP_ERR_FORMAT, "batch_invariant is %u, expected 0 or 1", (unsigned)binv);
    hd->user_len = get_u64(h + 32);
    if (hd->user_len > RP_CHECKPOINT_MAX_USER)
        return rp__fail(err, RP_ERR_FORMAT, "user data of %llu bytes, expected at most %llu",
                        (unsigned long long)hd->user_len, (unsigned long long)RP_CHECKPOINT_MAX_USER);
    char why[RP_ERRLEN];
    if (net_header_dims(h + RP_CK_HEAD, &hd->n_theta, why) != RP_OK)
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
    len += hd->user_len + 4;
    hd->size = size;
    hd->len = len;
    /* A stream's length is checked once its rule's kind is read (ck_sections). */
    uint64_t least = len + ((hd->contents & RP_CK_HAS_STREAM) ? RP_CK_STREAM_FIXED : 0u);
    if (size < least)
        return rp__fail(err, RP_ERR_FORMAT, "file truncated at byte %llu: its header needs %llu bytes",
                        (unsigned long long)size, (unsigned long long)least);
    if (size > len && !(hd->contents & RP_CK_HAS_STREAM))
        return rp__fail(err, RP_ERR_FORMAT, "file has %llu bytes, but its header needs %llu (trailing data)",
                        (unsigned long long)size, (unsigned long long)len);
    if ((uint64_t)SIZE_MAX < size)
        return rp__fail(err, RP_ERR_FORMAT, "file of %llu bytes is too large for this machine",
                        (unsigned long long)len);
    if (net_header_config(h + RP_CK_HEAD, &hd->cfg, why) != RP_OK)
        return rp__fail(err, RP_ERR_FORMAT, "network section: %s", why);
    hd->cfg.batch_invariant = (int)binv;
    return RP_OK;
}

/* A pass over the sections from just after the fixed header. */
static rp_status ck_pass(int fd, const unsigned char *h, const ck_head *hd, ck_meta *mt,
                         const ck_dest *d, char *err)
{
    const size_t H = RP_CK_HEAD + RP_IO_HEADER;
    char why[128];
    if (lseek(fd, (off_t)H, SEEK_SET) < 0)
        return rp__fail(err, RP_ERR_IO, "cannot seek: %s", sys_reason(errno, why, sizeof why));
    ck_reader r = {fd, 0, crc32(0L, Z_NULL, 0)};
    r.crc = crc32(r.crc, h, (uInt)H);
    return ck_sections(&r, hd, mt, d, err);
}

static rp_status ckpt_load(const char *path, rp_net **net_out, rp_optim **opt_out,
                           rp_rule **rule_out, uint64_t *iteration, void *user, size_t user_cap,
                           size_t *user_len, const rp_allocator *al, char *err)
{
    int fd = -1;
    uint64_t size = 0;
    rp_status st = open_regular(path, &fd, &size, err);
    if (st != RP_OK)
        return st;
    unsigned char h[RP_CK_HEAD + RP_IO_HEADER];
    ssize_t have = read_full(fd, h, sizeof h);
    ck_head hd;
    if (have < 0) {
        char why[128];
        st = rp__fail(err, RP_ERR_IO, "cannot read '%s': %s", path, sys_reason(errno, why, sizeof why));
    } else {
        st = ck_check_head(h, (size_t)have, size, &hd, err);
    }
    /* What the caller asks for must be there. */
    if (st == RP_OK && opt_out && !(hd.contents & RP_CK_HAS_OPTIM))
        st = rp__fail(err, RP_ERR_INVALID_ARG, "opt_out is given, but '%s' holds no optimizer", path);
    else if (st == RP_OK && rule_out && !(hd.contents & RP_CK_HAS_RULE))
        st = rp__fail(err, RP_ERR_INVALID_ARG, "rule_out is given, but '%s' holds no rule", path);
    else if (st == RP_OK && user && hd.user_len > user_cap)
        st = rp__fail(err, RP_ERR_DIM_MISMATCH, "'%s' holds %llu bytes of user data, user_cap is %zu",
                      path, (unsigned long long)hd.user_len, user_cap);
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
            for (size_t i = 0; i < s.n_arrays; i++)
                d.stream[i] = s.arr[i];
        }
        d.user = user;
        st = ck_pass(fd, h, &hd, &m2, &d, err);
    }
    close(fd);
    if (st == RP_OK && (m2.os.kind != m1.os.kind || m2.rs.kind != m1.rs.kind))
        st = rp__fail(err, RP_ERR_FORMAT, "'%s' changed while it was read", path);
    if (st != RP_OK) {
        rp_net_free(net);
        rp_optim_free(opt);
        rp_rule_free(rule);
        return st;
    }
    net->rng = m2.rng;
    if (opt)
        rp__optim_set_scalars(opt, &m2.os);
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
