/* libFuzzer target: rp_net_load_ex() on arbitrary bytes.

   Each input is loaded as given and, when it is long enough to carry a
   checksum that does not match, once more with the CRC-32 tail recomputed, so
   that mutations reach the checks behind the checksum instead of dying on it.

   Properties checked beyond "no crash, no sanitizer report, no leak":
   - a failed load leaves *out NULL and returns #RP_ERR_FORMAT (the input is a
     regular file, so #RP_ERR_IO has no cause) or #RP_ERR_NOMEM;
   - the format is canonical: saving a loaded network reproduces the input
     byte for byte;
   - a loaded network runs one step on zero input without error. */
#include "fuzz_util.h"
#include "rnnplast.h"

#include <zlib.h>

static char in_path[320], fix_path[320], out_path[320];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("net");
    fz_path(in_path, sizeof in_path, "in");
    fz_path(fix_path, sizeof fix_path, "fixed");
    fz_path(out_path, sizeof out_path, "out");
    return 0;
}

static void check_file(const char *path, const uint8_t *data, size_t size)
{
    rp_net *net = (rp_net *)&net; /* any non-NULL value: a failure must clear it */
    char msg[256];
    rp_status st = rp_net_load_ex(&net, path, msg, sizeof msg);
    if (st != RP_OK) {
        FZ_REQUIRE(net == NULL, "failed load (%s) left *out set", rp_status_string(st));
        FZ_REQUIRE(st == RP_ERR_FORMAT || st == RP_ERR_NOMEM, "status %s: %s",
                   rp_status_string(st), msg);
        FZ_REQUIRE(msg[0] != '\0', "failure without a message");
        return;
    }
    FZ_REQUIRE(net != NULL, "RP_OK without a network");

    st = rp_net_save(net, out_path);
    FZ_REQUIRE(st == RP_OK, "save: %s", rp_net_last_error(net));
    size_t n = 0;
    uint8_t *back = fz_read(out_path, &n);
    FZ_REQUIRE(n == size && memcmp(back, data, size) == 0,
               "saving the loaded network gives %zu bytes that differ from the %zu read", n, size);
    free(back);

    /* One step: the loaded sizes and buffers must agree.  Bounded so that a
       large (legitimate) batch does not slow the fuzzer down. */
    rp_net_config cfg;
    FZ_REQUIRE(rp_net_get_config(net, &cfg) == RP_OK, "get_config");
    if (cfg.batch * (cfg.n_in + cfg.n_out) <= 4096 && cfg.batch * cfg.n_rec <= 4096) {
        double *x = calloc(cfg.batch * cfg.n_in + 1, sizeof(double));
        double *y = calloc(cfg.batch * cfg.n_out, sizeof(double));
        FZ_REQUIRE(x && y, "calloc");
        st = rp_net_step(net, x, y);
        /* Finite parameters can still overflow to Inf in one step (huge
           weights); that is reported, not a defect. */
        FZ_REQUIRE(st == RP_OK || st == RP_ERR_NONFINITE, "step: %s: %s", rp_status_string(st),
                   rp_net_last_error(net));
        free(x);
        free(y);
    }
    rp_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(in_path, data, size);
    check_file(in_path, data, size);

    /* Header (88 bytes) + CRC (4) is the shortest file with a checksum. */
    if (size >= 92) {
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)(size - 4));
        const uint8_t *t = data + size - 4;
        uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                          (uint32_t)t[3] << 24;
        if (stored != crc) {
            uint8_t *fixed = malloc(size);
            FZ_REQUIRE(fixed != NULL, "malloc");
            memcpy(fixed, data, size - 4);
            for (int i = 0; i < 4; i++)
                fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
            fz_write(fix_path, fixed, size);
            check_file(fix_path, fixed, size);
            free(fixed);
        }
    }
    return 0;
}
