/* Unit tests of telephone number normalisation and matching (calls/number.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../calls/calls.h"

static const char *norm(const struct calls_config *cfg, const char *raw)
{
    static char out[CALLS_DIGITS_LEN];
    calls_number_norm(cfg, raw, out, sizeof out);
    return out;
}

static void test_norm_default(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    assert_string_equal(norm(&cfg, "+4930123456"), "4930123456");
    assert_string_equal(norm(&cfg, "004930123456"), "4930123456");
    assert_string_equal(norm(&cfg, "030123456"), "30123456");
    assert_string_equal(norm(&cfg, "tel:+49-30-123456;phone-context=x"), "4930123456");
    assert_string_equal(norm(&cfg, "(030) 123.456"), "30123456");
    assert_string_equal(norm(&cfg, "alice"), "");
    assert_string_equal(norm(&cfg, "*21#"), "");
    assert_string_equal(norm(&cfg, ""), "");
    assert_string_equal(norm(&cfg, "+"), "");
    assert_string_equal(norm(&cfg, "1++2"), "");
    assert_string_equal(norm(NULL, "0301"), "0301");
}

static void test_norm_country(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    strcpy(cfg.country_code, "49");
    assert_string_equal(norm(&cfg, "+4930123456"), "30123456");
    assert_string_equal(norm(&cfg, "004930123456"), "30123456");
    assert_string_equal(norm(&cfg, "030123456"), "30123456");
    assert_string_equal(norm(&cfg, "+3312345678"), "3312345678");   /* foreign stays intl */
    strcpy(cfg.country_code, "1");
    strcpy(cfg.national_prefix, "1");
    assert_string_equal(norm(&cfg, "01144207946000"), "44207946000");
    assert_string_equal(norm(&cfg, "+12125550100"), "2125550100");
    assert_string_equal(norm(&cfg, "12125550100"), "2125550100");
    /* a long input is cut, never overflows */
    char big[200];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(strlen(norm(&cfg, big)), CALLS_DIGITS_LEN - 1);
}

static void test_match(void **state)
{
    (void)state;
    assert_int_equal(calls_number_match("a", "30123456", "b", "30123456"), 2);
    assert_int_equal(calls_number_match("a", "4930123456", "b", "30123456"), 1);
    assert_int_equal(calls_number_match("a", "4930123456", "b", "123456"), 0);   /* 6 < 7 */
    assert_int_equal(calls_number_match("a", "491234567", "b", "1234567"), 1);   /* 7 */
    assert_int_equal(calls_number_match("a", "30123456", "b", "30123457"), 0);
    assert_int_equal(calls_number_match("Alice", "", "alice", ""), 2);
    assert_int_equal(calls_number_match("alice", "", "bob", ""), 0);
    assert_int_equal(calls_number_match("alice", "", "100", "100"), 0);
    assert_int_equal(calls_number_match("", "", "", ""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_default),
        cmocka_unit_test(test_norm_country),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
