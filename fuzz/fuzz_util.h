/* Shared by the libFuzzer targets: a per-process scratch directory (on
   /dev/shm when it is writable, so each input costs no disk I/O) and whole-file
   helpers.  The library reads only paths, so the input bytes go to a file
   there; nothing is added to the public API for fuzzing. */
#ifndef RP_FUZZ_UTIL_H
#define RP_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "rnnplast.h"

/* The loaders' allocator: malloc/free, refusing a block above 4 MiB.  A
   valid header may describe a network of up to 2^22 doubles a buffer, and
   zeroing such blocks on every input cost the fuzzers most of their time
   (~1,000 inputs/s); above the cap the load fails with #RP_ERR_NOMEM, a path
   the targets accept and so exercise too. */
#define FZ_ALLOC_CAP ((size_t)4 << 20)

static inline void *fz_alloc_fn(void *opaque, size_t size)
{
    (void)opaque;
    return size <= FZ_ALLOC_CAP ? malloc(size) : NULL;
}

static inline void fz_free_fn(void *opaque, void *ptr)
{
    (void)opaque;
    free(ptr);
}

static const rp_allocator fz_alloc = {fz_alloc_fn, fz_free_fn, NULL};

static char fz_dir[256];
/* The scratch files every target may use, set by fz_init(): the input as
   given, the input with its CRC-32 tail fixed, and what the target saves. */
static char fz_in[320], fz_fixed[320], fz_out[320];

/* fz_dir/name into buf. */
static inline void fz_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", fz_dir, name);
}

static const char *const fz_names[] = {"in", "fixed", "out"};

static inline void fz_cleanup(void)
{
    char p[320];
    for (size_t i = 0; i < sizeof fz_names / sizeof fz_names[0]; i++) {
        fz_path(p, sizeof p, fz_names[i]);
        unlink(p);
    }
    rmdir(fz_dir);
}

/* Make the scratch directory once per process; abort if impossible (the
   fuzzer cannot do anything useful without it). */
static inline void fz_init(const char *tag)
{
    const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < 3; i++) {
        if (!bases[i] || access(bases[i], W_OK) != 0)
            continue;
        snprintf(fz_dir, sizeof fz_dir, "%s/rp_fuzz_%s_XXXXXX", bases[i], tag);
        if (mkdtemp(fz_dir)) {
            atexit(fz_cleanup);
            fz_path(fz_in, sizeof fz_in, "in");
            fz_path(fz_fixed, sizeof fz_fixed, "fixed");
            fz_path(fz_out, sizeof fz_out, "out");
            return;
        }
    }
    fprintf(stderr, "fuzz: cannot make a scratch directory\n");
    abort();
}

static inline void fz_write(const char *path, const uint8_t *d, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    while (n > 0) {
        ssize_t w = write(fd, d, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror(path);
            abort();
        }
        d += w;
        n -= (size_t)w;
    }
    close(fd);
}

/* The whole file at path (malloc'ed, at least 1 byte); *n receives its length. */
static inline uint8_t *fz_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    size_t cap = 4096, len = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b)
            abort();
        len += fread(b + len, 1, cap - len, f);
        if (len < cap)
            break;
        cap *= 2;
        b = realloc(b, cap);
    }
    fclose(f);
    *n = len;
    return b;
}

/* A property the library promises was broken: report it as a crash. */
#define FZ_REQUIRE(cond, ...)                                                \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Run check(path, bytes, size) on data as given (written to fz_in) and, when
   it is at least min_size bytes long (a header plus the 4-byte CRC-32 tail) and
   its little-endian CRC-32 tail does not match, once more on a copy with the
   tail recomputed (written to fz_fixed), so that mutations reach the field
   checks behind the checksum instead of dying on it. */
static inline void fz_check_with_fixed_crc(const uint8_t *data, size_t size, size_t min_size,
                                           void (*check)(const char *, const uint8_t *, size_t))
{
    fz_write(fz_in, data, size);
    check(fz_in, data, size);
    if (size < min_size)
        return;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)(size - 4));
    const uint8_t *t = data + size - 4;
    uint32_t stored =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (stored == crc)
        return;
    uint8_t *fixed = malloc(size);
    FZ_REQUIRE(fixed != NULL, "malloc");
    memcpy(fixed, data, size - 4);
    for (int i = 0; i < 4; i++)
        fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    fz_write(fz_fixed, fixed, size);
    check(fz_fixed, fixed, size);
    free(fixed);
}

/* One step of net on zero input (cfg is its configuration): the loaded sizes
   and buffers must agree.  Finite parameters can still overflow to Inf in one
   step (huge weights); that is reported, not a defect. */
static inline void fz_step_zero_input(rp_net *net, const rp_net_config *cfg)
{
    double *x = calloc(cfg->batch * cfg->n_in + 1, sizeof(double));
    double *y = calloc(cfg->batch * cfg->n_out, sizeof(double));
    FZ_REQUIRE(x && y, "calloc");
    rp_status st = rp_net_step(net, x, y);
    FZ_REQUIRE(st == RP_OK || st == RP_ERR_NONFINITE, "step: %s: %s", rp_status_string(st),
               rp_net_last_error(net));
    free(x);
    free(y);
}

#endif
