/* The one error check the example programs share (zstd's CHECK_ZSTD): every
   library call returns an rp_status; on failure print where, the call, the
   status and the handle's message (evaluated only then), and stop. */
#ifndef RP_EXAMPLES_COMMON_H
#define RP_EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "rnnplast.h"

#define RP_CHECK(call, msg)                                                    \
    do {                                                                       \
        rp_status st_ = (call);                                                \
        if (st_ != RP_OK) {                                                    \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call, \
                    rp_status_string(st_), (msg));                             \
            exit(EXIT_FAILURE);                                                \
        }                                                                      \
    } while (0)

#endif
