/* Files: atomic writes and bounded reads, shared by the formats (io.c: the
   network file, npy.c, checkpoint.c).

   Every writer goes through rp__atomic_write(): a temporary file in the target's
   own directory (so rename() never crosses a file system) is written,
   fsync'ed and renamed over the target, then the directory is fsync'ed so
   the rename itself is durable.  A reader therefore sees either the old file
   or the complete new one, never a prefix.  The target is the end of the
   path's symbolic links, and only a regular file is ever replaced.

   Every multi-byte field is little-endian on disk whatever the host, written
   and read byte by byte (mem.h), so files move between machines. */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH, flock (rp__atomic_write); see rp__sys_reason */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The system's reason for errno e, thread-safe (POSIX strerror_r). */
const char *rp__sys_reason(int e, char *buf, size_t len)
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

void rp__w_bytes(writer *w, const void *p, size_t n)
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
void rp__w_f64s(writer *w, const double *a, size_t n)
{
    unsigned char buf[4096];
    while (n > 0 && !w->err) {
        size_t k = n < sizeof buf / 8 ? n : sizeof buf / 8;
        for (size_t i = 0; i < k; i++)
            put_f64(buf + 8 * i, a[i]);
        rp__w_bytes(w, buf, 8 * k);
        a += k;
        n -= k;
    }
}

/* n floats widened (exactly) to little-endian binary64: a single-precision
   net's arrays in the double layout of the files. */
void rp__w_f32s(writer *w, const float *a, size_t n)
{
    unsigned char buf[4096];
    while (n > 0 && !w->err) {
        size_t k = n < sizeof buf / 8 ? n : sizeof buf / 8;
        for (size_t i = 0; i < k; i++)
            put_f64(buf + 8 * i, (double)a[i]);
        rp__w_bytes(w, buf, 8 * k);
        a += k;
        n -= k;
    }
}

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
                          rp__sys_reason(errno, why, sizeof why));
            break;
        }
        if (S_ISREG(sb.st_mode))
            break;
        if (!S_ISLNK(sb.st_mode)) {
            if (hops == 0)
                st = rp__fail(err, RP_ERR_IO, "'%s' is %s, not a regular file: not replaced", path,
                              file_kind(sb.st_mode));
            else
                st = rp__fail(err, RP_ERR_IO,
                              "'%s' links to '%s', %s, not a regular file: "
                              "not replaced",
                              path, cur, file_kind(sb.st_mode));
            break;
        }
        if (hops == RP_IO_MAX_LINKS) {
            st = rp__fail(err, RP_ERR_IO,
                          "cannot save to '%s': more than %d symbolic links "
                          "(a loop?)",
                          path, RP_IO_MAX_LINKS);
            break;
        }
        ssize_t k = readlink(cur, link, sizeof link);
        if (k < 0 || (size_t)k == sizeof link) {
            st = rp__fail(err, RP_ERR_IO, "cannot read the symbolic link '%s': %s", cur,
                          rp__sys_reason(k < 0 ? errno : ENAMETOOLONG, why, sizeof why));
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
                    done = fstat(fd, &a) == 0 && stat(target, &b) == 0 && a.st_dev == b.st_dev &&
                                   a.st_ino == b.st_ino
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
rp_status rp__atomic_write_ex(const rp_allocator *al, const char *path, write_fn body,
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
                      rp__sys_reason(e, why, sizeof why));
    } else {
        /* Make the rename durable.  File systems that cannot sync a directory
           (EINVAL, ENOTSUP) are not an error: the file is already in place. */
        int dfd = open(dname, O_RDONLY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP)
                st = rp__fail(err, RP_ERR_IO,
                              "'%s' was written, but syncing its directory failed: %s", target,
                              rp__sys_reason(errno, why, sizeof why));
            close(dfd);
        }
    }
    rp__free(al, tmp);
    rp__free(al, target);
    return st;
}

rp_status rp__atomic_write(const rp_allocator *al, const char *path, write_fn body, const void *ctx,
                           char *err)
{
    return rp__atomic_write_ex(al, path, body, ctx, 0, err);
}

/* read() until n bytes or end of file; returns bytes read, -1 with errno. */
ssize_t rp__read_full(int fd, void *buf, size_t n)
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
rp_status rp__open_regular(const char *path, int *fd_out, uint64_t *size, char *err)
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
                        rp__sys_reason(errno, why, sizeof why));
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rp__fail(err, RP_ERR_IO, "cannot stat '%s': %s", path,
                        rp__sys_reason(e, why, sizeof why));
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
/* Read n doubles at the current offset into dst (or only checksum them when
   dst is NULL), updating crc (unless NULL).  Fixed buffer; returns 0 or errno (EIO for a
   short read: the file shrank after fstat). */
int rp__read_f64s(int fd, double *dst, uint64_t n, uLong *crc)
{
    unsigned char buf[4096];
    while (n > 0) {
        size_t k = n < sizeof buf / 8 ? (size_t)n : sizeof buf / 8;
        ssize_t r = rp__read_full(fd, buf, 8 * k);
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
