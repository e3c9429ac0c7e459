/* libFuzzer target: rp_net_load_alloc() (rp_net_load() with fz_alloc) on
   arbitrary bytes.

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

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("net");
    return 0;
}

static void check_file(const char *path, const uint8_t *data, size_t size)
{
    rp_net *net = (rp_net *)&net; /* any non-NULL value: a failure must clear it */
    char msg[256];
    rp_status st = rp_net_load_alloc(&net, path, &fz_alloc, msg, sizeof msg);
    if (st != RP_OK) {
        FZ_REQUIRE(net == NULL, "failed load (%s) left *out set", rp_status_string(st));
        FZ_REQUIRE(st == RP_ERR_FORMAT || st == RP_ERR_NOMEM, "status %s: %s", rp_status_string(st),
                   msg);
        FZ_REQUIRE(msg[0] != '\0', "failure without a message");
        return;
    }
    FZ_REQUIRE(net != NULL, "RP_OK without a network");

    st = rp_net_save(net, fz_out);
    FZ_REQUIRE(st == RP_OK, "save: %s", rp_net_last_error(net));
    size_t n = 0;
    uint8_t *back = fz_read(fz_out, &n);
    FZ_REQUIRE(n == size && memcmp(back, data, size) == 0,
               "saving the loaded network gives %zu bytes that differ from the %zu read", n, size);
    free(back);

    /* One step, bounded so that a large (legitimate) batch does not slow the
       fuzzer down. */
    rp_net_config cfg;
    FZ_REQUIRE(rp_net_get_config(net, &cfg, sizeof cfg) == RP_OK, "get_config");
    if (cfg.batch * (cfg.n_in + cfg.n_out) <= 4096 && cfg.batch * cfg.n_rec <= 4096)
        fz_step_zero_input(net, &cfg);
    rp_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Header (88 bytes) + CRC (4) is the shortest file with a checksum. */
    fz_check_with_fixed_crc(data, size, 92, check_file);
    return 0;
}
