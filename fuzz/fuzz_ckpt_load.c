/* libFuzzer target: rp_checkpoint_load_alloc() (with fz_alloc) on arbitrary bytes.

   As fuzz_net_load.c: each input is loaded as given and, when its CRC-32 tail
   does not match, once more with the tail recomputed, so that mutations reach
   the field checks behind the checksum.

   Properties checked beyond "no crash, no sanitizer report, no leak":
   - a failed load returns #RP_ERR_FORMAT or #RP_ERR_NOMEM with a message and
     leaves every handle output NULL;
   - the format is canonical: saving what was loaded (with the same user
     bytes) reproduces the input byte for byte (a version 1 input: but for
     the version field, now 2, and the CRC);
   - a loaded stream (contents bit 2) takes one rp_rule_step;
   - a loaded network runs one step, and a loaded optimizer takes one step
     with a zero gradient, without a failure other than a reported overflow. */
#include "fuzz_util.h"
#include "rnnplast.h"

static unsigned char user[1 << 16];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("ckpt");
    return 0;
}

static void check_file(const char *path, const uint8_t *data, size_t size)
{
    /* Any non-NULL values: a failure must clear them. */
    rp_net *net = (rp_net *)&net;
    rp_optim *opt = (rp_optim *)&opt;
    rp_rule *rule = (rp_rule *)&rule;
    uint64_t it = 0;
    size_t ulen = 0;
    char msg[256];
    /* First without optimizer and rule (accepted by any valid file), then
       with whichever the file holds. */
    rp_status st = rp_checkpoint_load_alloc(&net, NULL, NULL, path, &it, user, sizeof user, &ulen,
                                            &fz_alloc, msg, sizeof msg);
    if (st != RP_OK) {
        FZ_REQUIRE(net == NULL, "failed load (%s) left *net_out set", rp_status_string(st));
        FZ_REQUIRE(st == RP_ERR_FORMAT || st == RP_ERR_NOMEM || st == RP_ERR_DIM_MISMATCH,
                   "status %s: %s", rp_status_string(st), msg);
        FZ_REQUIRE(msg[0] != '\0', "failure without a message");
        return;
    }
    FZ_REQUIRE(net != NULL, "RP_OK without a network");
    rp_net_free(net);
    net = NULL;
    /* Bytes 24..27 say which sections the (valid) file holds. */
    int has_opt = data[24] & 1, has_rule = (data[24] >> 1) & 1;
    st = rp_checkpoint_load_alloc(&net, has_opt ? &opt : NULL, has_rule ? &rule : NULL, path, &it,
                                  user, sizeof user, &ulen, &fz_alloc, msg, sizeof msg);
    if (st == RP_ERR_NOMEM) { /* the optimizer or rule is above fz_alloc's cap */
        FZ_REQUIRE(net == NULL, "failed load left *net_out set");
        return;
    }
    FZ_REQUIRE(st == RP_OK, "second load: %s: %s", rp_status_string(st), msg);
    if (!has_opt)
        opt = NULL;
    if (!has_rule)
        rule = NULL;

    st = rp_checkpoint_save(net, opt, rule, fz_out, it, user, ulen, msg, sizeof msg);
    FZ_REQUIRE(st == RP_OK, "save: %s", msg);
    size_t n = 0;
    uint8_t *back = fz_read(fz_out, &n);
    uint8_t *want = malloc(size);
    FZ_REQUIRE(want != NULL, "malloc");
    memcpy(want, data, size);
    if (want[8] == 1) { /* written as version 2 */
        want[8] = 2;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), want, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            want[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    FZ_REQUIRE(n == size && memcmp(back, want, size) == 0,
               "saving the loaded checkpoint gives %zu bytes that differ from the %zu read", n,
               size);
    free(want);
    free(back);

    rp_net_config cfg;
    FZ_REQUIRE(rp_net_get_config(net, &cfg, sizeof cfg) == RP_OK, "get_config");
    if (cfg.batch * (cfg.n_in + cfg.n_out) <= 4096 && cfg.batch * cfg.n_rec <= 4096 &&
        cfg.n_rec * (cfg.n_rec + cfg.n_in + cfg.n_out) <= 65536) {
        fz_step_zero_input(net, &cfg);
        if (rule && (data[24] & 4)) {
            /* the stream is open: one step on zero inputs, class 0 / zero targets */
            rp_grad *g = NULL;
            double *z = calloc(cfg.batch * (cfg.n_in + cfg.n_out) + 1, sizeof(double));
            FZ_REQUIRE(z && rp_grad_create(&g, net, NULL, 0) == RP_OK, "grad_create");
            st = rp_rule_step(rule, net, z, z, NULL, g);
            FZ_REQUIRE(st == RP_OK || st == RP_ERR_NONFINITE, "rule step: %s: %s",
                       rp_status_string(st), rp_rule_last_error(rule));
            rp_grad_free(g);
            free(z);
        }
        if (opt) {
            rp_grad *g = NULL;
            FZ_REQUIRE(rp_grad_create(&g, net, NULL, 0) == RP_OK, "grad_create");
            st = rp_optim_step(opt, net, g);
            FZ_REQUIRE(st == RP_OK || st == RP_ERR_NONFINITE, "optim step: %s: %s",
                       rp_status_string(st), rp_optim_last_error(opt));
            rp_grad_free(g);
        }
    }
    rp_net_free(net);
    rp_optim_free(opt);
    rp_rule_free(rule);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The fixed header (40 + 88 bytes) + CRC (4): the shortest file with a checksum. */
    fz_check_with_fixed_crc(data, size, 132, check_file);
    return 0;
}
