/* libFuzzer target: rp_npy_shape() and rp_npy_load() on arbitrary bytes.

   Properties checked beyond "no crash, no sanitizer report, no leak":
   - rp_npy_shape() and rp_npy_load() agree: when the shape is refused, a load
     is refused too (and writes nothing); when it is accepted (ndim >= 1),
     loading with that shape succeeds;
   - the loaded values are the file's last 8*count bytes, little-endian
     binary64 (read here directly, independent of the library's decoder);
   - a load with another shape of the same size fails with #RP_ERR_FORMAT and leaves the
     destination untouched;
   - rp_npy_save() of the loaded array reads back bit for bit. */
#include "fuzz_util.h"
#include "rnnplast.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("npy");
    return 0;
}

#define SENTINEL 0x5a

static int all_sentinel(const double *a, size_t n)
{
    const unsigned char *p = (const unsigned char *)a;
    for (size_t i = 0; i < n * sizeof(double); i++)
        if (p[i] != SENTINEL)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(fz_in, data, size);
    size_t ndim = 99, shape[RP_NPY_MAX_DIM];
    char msg[256];
    rp_status st = rp_npy_shape(fz_in, &ndim, shape, msg, sizeof msg);
    if (st != RP_OK) {
        FZ_REQUIRE(st == RP_ERR_FORMAT, "shape: %s: %s", rp_status_string(st), msg);
        FZ_REQUIRE(ndim == 99, "failed rp_npy_shape wrote ndim");
        /* A load must refuse the file too, whatever shape it expects. */
        double probe[4];
        memset(probe, SENTINEL, sizeof probe);
        size_t want[1] = {4};
        st = rp_npy_load(fz_in, probe, 1, want, msg, sizeof msg);
        FZ_REQUIRE(st == RP_ERR_FORMAT, "load of a refused file: %s", rp_status_string(st));
        FZ_REQUIRE(all_sentinel(probe, 4), "failed load wrote dst");
        return 0;
    }
    FZ_REQUIRE(ndim <= RP_NPY_MAX_DIM, "ndim %zu", ndim);
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++)
        count *= shape[i]; /* no overflow: the file holds 8*count bytes */
    for (size_t i = ndim; i < RP_NPY_MAX_DIM; i++)
        FZ_REQUIRE(shape[i] == 0, "unused shape[%zu] = %zu", i, shape[i]);
    FZ_REQUIRE(8 * count <= size, "count %zu in a file of %zu bytes", count, size);
    if (ndim == 0)
        return 0; /* a scalar: rp_npy_load() takes ndim >= 1 (documented) */

    double *a = malloc(count * sizeof(double) + 8);
    FZ_REQUIRE(a != NULL, "malloc");
    st = rp_npy_load(fz_in, a, ndim, shape, msg, sizeof msg);
    FZ_REQUIRE(st == RP_OK, "load with the shape rp_npy_shape gave: %s: %s", rp_status_string(st),
               msg);
    /* Oracle: the data are the file's tail, little-endian (x86-64 host). */
    FZ_REQUIRE(memcmp(a, data + size - 8 * count, 8 * count) == 0,
               "loaded values differ from the file");

    /* Wrong shape with the same element count (so no buffer is sized by a
       shape the file does not back): a trailing dimension of 1 added, or, at
       the maximum rank, the last two merged. */
    size_t wrong[RP_NPY_MAX_DIM], wdim = ndim;
    memcpy(wrong, shape, sizeof wrong);
    if (ndim < RP_NPY_MAX_DIM) {
        wrong[wdim++] = 1;
    } else {
        wrong[ndim - 2] *= wrong[ndim - 1]; /* the product, hence count, is unchanged */
        wdim--;
    }
    double *b = malloc(count * sizeof(double) + 8);
    FZ_REQUIRE(b != NULL, "malloc");
    memset(b, SENTINEL, count * sizeof(double));
    st = rp_npy_load(fz_in, b, wdim, wrong, msg, sizeof msg);
    FZ_REQUIRE(st == RP_ERR_FORMAT, "load with a wrong shape: %s", rp_status_string(st));
    FZ_REQUIRE(all_sentinel(b, count), "failed load wrote dst");

    /* Round trip through the writer. */
    st = rp_npy_save(fz_out, a, ndim, shape, msg, sizeof msg);
    FZ_REQUIRE(st == RP_OK, "save: %s", msg);
    memset(b, SENTINEL, count * sizeof(double));
    st = rp_npy_load(fz_out, b, ndim, shape, msg, sizeof msg);
    FZ_REQUIRE(st == RP_OK, "reload: %s", msg);
    FZ_REQUIRE(memcmp(a, b, count * sizeof(double)) == 0, "round trip changed the values");
    free(a);
    free(b);
    return 0;
}
