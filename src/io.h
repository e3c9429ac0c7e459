/* Private declarations of the file formats: file.c's atomic writes and
   bounded reads, and the network file's header (io.c), which a checkpoint
   (checkpoint.c) embeds.  mem.h has the little-endian encoding. */
#ifndef RP_IO_H
#define RP_IO_H

#include "internal.h"
#include "mem.h"

#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

/* ---- atomic writes and bounded reads (file.c) --------------------------- */

/* A sink that remembers the first failure and keeps a running CRC.  It
   writes the descriptor directly: callers already hand it blocks of up to
   4 KiB, and stdio's FILE and buffer would be allocations outside the
   handle's allocator (rnnplast.h "Memory"). */
typedef struct writer {
    int fd;
    int err; /* errno of the first failure, 0 while all is well */
    uLong crc;
} writer;

typedef void (*write_fn)(writer *w, const void *ctx);

void rp__w_bytes(writer *w, const void *p, size_t n);
/* n doubles as little-endian binary64, through a fixed buffer. */
void rp__w_f64s(writer *w, const double *a, size_t n);
void rp__w_f32s(writer *w, const float *a, size_t n);
/* Write path atomically with body(w, ctx) (file.c has the steps); on failure
   path is untouched and err names the step.  no_tmpfile: as if the file
   system had no O_TMPFILE (tests). */
rp_status rp__atomic_write_ex(const rp_allocator *al, const char *path, write_fn body,
                              const void *ctx, int no_tmpfile, char *err);
rp_status rp__atomic_write(const rp_allocator *al, const char *path, write_fn body, const void *ctx,
                           char *err);
/* The system's reason for errno e, thread-safe. */
const char *rp__sys_reason(int e, char *buf, size_t len);
/* read() until n bytes or end of file; returns bytes read, -1 with errno. */
ssize_t rp__read_full(int fd, void *buf, size_t n);
/* Open path for reading; size receives its length.  Only regular files. */
rp_status rp__open_regular(const char *path, int *fd_out, uint64_t *size, char *err);
/* Read n doubles into dst (NULL: only checksum them), updating crc (unless
   NULL); 0 or errno (EIO for a short read). */
int rp__read_f64s(int fd, double *dst, uint64_t n, uLong *crc);

/* ---- the network format (io.c) -------------------------------------------

   The byte layout is specified once, in rnnplast.h ("Files": the network
   file's table); rp__net_header writes it and rp__net_header_dims and
   rp__net_header_config read it.  The magic starts with 0x89 (the PNG
   trick: a text-mode transfer or a 7-bit channel breaks it visibly). */

#define RP_IO_MAGIC "\x89RPNET\r\n"
#define RP_IO_MAGIC_LEN 8
#define RP_IO_VERSION 1u
#define RP_IO_BOM 0x01020304u
#define RP_IO_HEADER 88u
/* A single-precision net's file (1.2): version 2, and the header gains the
   precision (u32, 1 = RP_PRECISION_SINGLE) and 4 zero bytes; the body is
   that of version 1 (its float values widened to double, exactly).  A
   double net is still written as version 1, byte for byte, so that 1.0 and
   1.1 read it; they refuse a version 2 file by its version. */
#define RP_IO_VERSION_SINGLE 2u
#define RP_IO_HEADER_SINGLE 96u
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

/* The header of a network file (also the network section of a checkpoint). */
void rp__net_header(unsigned char *h, const rp_net *net);
/* Check a complete header's magic, version, byte order, dimensions and
   parameter count, and fill n_theta. */
rp_status rp__net_header_dims(const unsigned char *h, uint64_t *n_theta, char *err);
/* The configuration in a header that passed rp__net_header_dims. */
rp_status rp__net_header_config(const unsigned char *h, rp_net_config *cfg, char *err);

/* RP_ERR_FORMAT naming what[i] unless every a[i] is a float value. */
rp_status rp__f32_values(const double *a, size_t n, const char *what, char *err);
/* A single-precision net whose theta and h0 were just read from a file:
   refuse values that are not floats, then fill theta_f. */
rp_status rp__single_load(rp_net *net, char *err);

#endif /* RP_IO_H */
