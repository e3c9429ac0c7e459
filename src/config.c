/* Extensible configuration structs: the size rules of rnnplast.h's
   "Configuration structs", in one place for every reader, init and getter. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static size_t get_size(const void *cfg)
{
    size_t s;
    memcpy(&s, cfg, sizeof s); /* struct_size is the first member of every one */
    return s;
}

static void put_size(void *cfg, size_t s) { memcpy(cfg, &s, sizeof s); }

rp_status rp__cfg_size(const rp__cfg_type *ty, size_t size, const char *what, char *err)
{
    /* _Alignof(size_t), not the struct's: every version's size is a multiple
       of it, even one whose new field raises the struct's alignment. */
    if (size < ty->size_1_0 || size > RP__CONFIG_SIZE_MAX || size % _Alignof(size_t) != 0)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "%s is %zu, expected a multiple of %zu from %zu (the 1.0 size) to %d: "
                        "fill the struct with %s(&x, sizeof x)",
                        what, size, (size_t) _Alignof(size_t), ty->size_1_0, RP__CONFIG_SIZE_MAX,
                        ty->init);
    return RP_OK;
}

/* own (ty->size bytes) into the caller's size bytes, zeros after. */
static void write_out(const rp__cfg_type *ty, void *dst, size_t size, const void *own)
{
    size_t n = size < ty->size ? size : ty->size;
    memcpy(dst, own, n);
    memset((char *)dst + n, 0, size - n);
}

rp_status rp__cfg_init(const rp__cfg_type *ty, void *cfg, size_t size, const void *defaults,
                       char *err)
{
    if (!cfg)
        return rp__fail(err, RP_ERR_INVALID_ARG, "cfg is NULL");
    rp_status st = rp__cfg_size(ty, size, "size", err);
    if (st != RP_OK)
        return st;
    write_out(ty, cfg, size, defaults);
    put_size(cfg, size);
    return RP_OK;
}

rp_status rp__cfg_read(const rp__cfg_type *ty, void *dst, const void *src, const char *arg,
                       char *err)
{
    size_t size = get_size(src);
    char what[32];
    snprintf(what, sizeof what, "%s->struct_size", arg);
    rp_status st = rp__cfg_size(ty, size, what, err);
    if (st != RP_OK)
        return st;
    const unsigned char *p = src;
    for (size_t i = ty->size; i < size; i++)
        if (p[i])
            return rp__fail(err, RP_ERR_INVALID_ARG,
                            "%s is %zu and byte %zu is not zero, but this library (%s) knows "
                            "the first %zu bytes only: a field it does not have was set",
                            what, size, i, rp_version_string(), ty->size);
    memcpy(dst, src, size < ty->size ? size : ty->size);
    put_size(dst, ty->size);
    return RP_OK;
}

rp_status rp__cfg_get(const rp__cfg_type *ty, void *dst, size_t size, const void *own, char *err)
{
    rp_status st = rp__cfg_size(ty, size, "size", err);
    if (st != RP_OK)
        return st;
    write_out(ty, dst, size, own);
    put_size(dst, size < ty->size ? size : ty->size);
    return RP_OK;
}
