/* Output files the tool writes itself (the --curve CSV, sweep --out and its
   curves): checked before any work, written whole through a temporary and
   renamed into place, a symlink written through to its target (the choice
   of the library's writers), and the sweep CSV's lock. */
#define _DEFAULT_SOURCE /* flock */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

const char *out_kind_name(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "not a regular file";
}

static int copy(char *dst, size_t len, const char *src)
{
    if (strlen(src) >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

int out_resolve(const char *path, char *real, size_t len)
{
    char cur[PATH_MAX], link[PATH_MAX];
    if (!*path) {
        errno = ENOENT;
        return -1;
    }
    if (copy(cur, sizeof cur, path))
        return -1;
    /* Follow the chain of links by hand: realpath() fails on a dangling one,
       which is written through too (its target created). */
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno != ENOENT)
                return -1;
            break;
        }
        if (!S_ISLNK(st.st_mode))
            break;
        if (hops >= 40) {
            errno = ELOOP;
            return -1;
        }
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0)
            return -1;
        link[n] = 0;
        if (link[0] == '/') {
            if (copy(cur, sizeof cur, link))
                return -1;
        } else {
            char *slash = strrchr(cur, '/');
            size_t dl = slash ? (size_t)(slash - cur) + 1 : 0; /* keep "dir/" */
            if (dl + (size_t)n >= sizeof cur) {
                errno = ENAMETOOLONG;
                return -1;
            }
            memcpy(cur + dl, link, (size_t)n + 1);
        }
    }
    char dir[PATH_MAX], rdir[PATH_MAX];
    const char *base;
    char *slash = strrchr(cur, '/');
    if (!slash) {
        strcpy(dir, ".");
        base = cur;
    } else {
        size_t dl = slash == cur ? 1 : (size_t)(slash - cur);
        memcpy(dir, cur, dl);
        dir[dl] = 0;
        base = slash + 1;
    }
    if (!*base) { /* "dir/": names a directory, not a file */
        errno = EISDIR;
        return -1;
    }
    if (!realpath(dir, rdir))
        return -1;
    int n = snprintf(real, len, "%s/%s", strcmp(rdir, "/") ? rdir : "", base);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int out_check(const char *cmd, const char *flag, const char *path, char *real, size_t len)
{
    if (out_resolve(path, real, len) != 0)
        return usage_error(cmd, "%s: cannot write '%s': %s", flag, path, strerror(errno));
    struct stat st, lst;
    if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
            return usage_error(cmd, "%s: '%s' (-> %s) is %s, not a regular file", flag, path, real,
                               out_kind_name(st.st_mode));
        return usage_error(cmd, "%s: '%s' is %s, not a regular file", flag, path,
                           out_kind_name(st.st_mode));
    }
    return 0;
}

int out_same(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int out_open(outfile *o, const char *path)
{
    o->f = NULL;
    if (out_resolve(path, o->path, sizeof o->path) != 0)
        return -1;
    /* O_EXCL: a name nobody else uses, never followed through a link. */
    for (unsigned i = 0;; i++) {
        int n = snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld.%u", o->path, (long)getpid(), i);
        if (n < 0 || (size_t)n >= sizeof o->tmp) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            o->f = fdopen(fd, "w");
            if (!o->f) {
                int e = errno;
                close(fd);
                unlink(o->tmp);
                errno = e;
                return -1;
            }
            return 0;
        }
        if (errno != EEXIST || i >= 1000)
            return -1;
    }
}

int out_rename(outfile *o)
{
    int bad = fflush(o->f) != 0 || ferror(o->f);
    if (!bad && rename(o->tmp, o->path) != 0)
        bad = 1;
    if (bad) {
        int e = errno;
        unlink(o->tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int out_commit(outfile *o)
{
    int bad = out_rename(o) != 0;
    int e = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    errno = e;
    return bad ? -1 : 0;
}

void out_abort(outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    unlink(o->tmp);
}

int out_lock(const char *real, char *lockpath, size_t len, int *fd_out)
{
    int n = snprintf(lockpath, len, "%s.lock", real);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* The holder removes the file when done: a lock taken on a removed file
       is retried on the file now at that name. */
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0666);
        if (fd < 0)
            return -1;
        struct stat a, b;
        if (fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) {
            close(fd);
            errno = EEXIST;
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return 1;
            errno = e;
            return -1;
        }
        if (stat(lockpath, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fd_out = fd;
            return 0;
        }
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

void out_unlock(int fd, const char *lockpath)
{
    unlink(lockpath); /* while still holding it: see out_lock */
    close(fd);
}
