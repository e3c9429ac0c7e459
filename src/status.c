/* Status codes, version, error messages and checked allocation. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RP_STR_(x) #x
#define RP_XSTR_(x) RP_STR_(x)

unsigned rp_version_number(void) { return RP_VERSION_NUMBER; }

const char *rp_version_string(void)
{
    return RP_XSTR_(RP_VERSION_MAJOR) "." RP_XSTR_(RP_VERSION_MINOR) "." RP_XSTR_(RP_VERSION_PATCH);
}

const char *rp_status_string(rp_status s)
{
    switch (s) {
#define RP_STATUS_CASE_(name, value, text) \
    case name:                             \
        return text;
        RP_STATUS_TABLE(RP_STATUS_CASE_)
#undef RP_STATUS_CASE_
    default:
        return "unknown status";
    }
}

rp_status rp__fail(char *buf, rp_status st, const char *fmt, ...)
{
    if (buf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, RP_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return st;
}

rp_status rp__fail_msg(char *msg, size_t msglen, rp_status st, const char *fmt, ...)
{
    if (msg && msglen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return st;
}

void rp__copy_msg(char *msg, size_t msglen, const char *src)
{
    if (msg && msglen > 0)
        snprintf(msg, msglen, "%s", src ? src : "");
}

size_t rp__mul(size_t n, size_t m, int *ok)
{
    if (m != 0 && n > SIZE_MAX / m) {
        *ok = 0;
        return 0;
    }
    return n * m;
}

void *rp__calloc(const rp_allocator *a, size_t n, size_t size)
{
    int ok = 1;
    size_t bytes = rp__mul(n, size, &ok);
    if (!ok)
        return NULL;
    /* calloc(0) may return NULL; one byte keeps "NULL means failure" true. */
    if (!a || !a->alloc)
        return calloc(bytes ? n : 1, bytes ? size : 1);
    if (bytes == 0)
        bytes = 1;
    void *p = a->alloc(a->opaque, bytes);
    if (p)
        memset(p, 0, bytes); /* rnnplast.h: a caller's allocator need not zero */
    return p;
}

void rp__free(const rp_allocator *a, void *p)
{
    if (!p)
        return;
    if (!a || !a->free)
        free(p);
    else {
        /* a may live inside p (a handle freeing itself): read it first. */
        rp_allocator c = *a;
        c.free(c.opaque, p);
    }
}

rp_status rp__allocator_copy(rp_allocator *dst, const rp_allocator *src, char *err)
{
    rp_allocator none = {NULL, NULL, NULL};
    if (src && !src->alloc != !src->free)
        return rp__fail(err, RP_ERR_INVALID_ARG,
                        "allocator->%s is NULL but allocator->%s is not: "
                        "give both functions, or neither for malloc/free",
                        src->alloc ? "free" : "alloc", src->alloc ? "alloc" : "free");
    *dst = src && src->alloc ? *src : none;
    return RP_OK;
}
