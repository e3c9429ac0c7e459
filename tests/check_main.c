/* The one Check runner: every suite listed in the generated suites.h
   (one per tests/test_X.c).  CK_RUN_SUITE / CK_RUN_CASE select a part. */
#include <check.h>
#include <stdlib.h>

#define RP_SUITE(fn) Suite *fn(void);
#include "suites.h"
#undef RP_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define RP_SUITE(fn) srunner_add_suite(sr, fn());
#include "suites.h"
#undef RP_SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
