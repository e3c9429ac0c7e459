/* Version and status strings. */
#include "testutil.h"

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(rp_version_number(), RP_VERSION_NUMBER);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", RP_VERSION_MAJOR, RP_VERSION_MINOR, RP_VERSION_PATCH);
    ck_assert_str_eq(rp_version_string(), buf);
}
END_TEST

START_TEST(status_strings_distinct)
{
    ck_assert_int_eq(RP_OK, 0);
    ck_assert_int_eq(RP_ERR_STATE, 9);
    for (int i = 0; i < RP_STATUS_COUNT_; i++)
        for (int j = i + 1; j < RP_STATUS_COUNT_; j++)
            ck_assert_str_ne(rp_status_string((rp_status)i), rp_status_string((rp_status)j));
    ck_assert_str_eq(rp_status_string((rp_status)1000), "unknown status");
}
END_TEST

Suite *suite_status(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings_distinct);
    suite_add_tcase(s, tc);
    return s;
}
