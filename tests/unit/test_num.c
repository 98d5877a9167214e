/* The one number parser (common/num.c): whole strings, ranges at N-1, N,
 * N+1, and the forms strto* would take but users must not give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../common/num.h"

static void test_u64(void **st)
{
    (void)st;
    uint64_t v = 7;
    assert_true(num_u64("0", 0, 10, &v));
    assert_int_equal(v, 0);
    assert_true(num_u64("0010", 0, 10, &v));
    assert_int_equal(v, 10);
    assert_false(num_u64("11", 0, 10, &v));
    assert_int_equal(v, 10);
    assert_false(num_u64("4", 5, 10, &v));
    assert_true(num_u64("5", 5, 10, &v));
    assert_true(num_u64("18446744073709551615", 0, UINT64_MAX, &v));
    assert_true(v == UINT64_MAX);
    assert_false(num_u64("18446744073709551616", 0, UINT64_MAX, &v));
    static const char *const bad[] = { "", " 1", "1 ", "+1", "-1", "0x10", "1e3", "1.0", "1a", "--1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(num_u64(bad[i], 0, UINT64_MAX, &v));
    assert_false(num_u64(NULL, 0, 1, &v));
}

static void test_i64(void **st)
{
    (void)st;
    int64_t v = 0;
    assert_true(num_i64("-1", -1, 1, &v));
    assert_int_equal(v, -1);
    assert_false(num_i64("-2", -1, 1, &v));
    assert_false(num_i64("2", -1, 1, &v));
    assert_true(num_i64("9223372036854775807", 0, INT64_MAX, &v));
    assert_false(num_i64("9223372036854775808", 0, INT64_MAX, &v));
    assert_true(num_i64("-9223372036854775808", INT64_MIN, 0, &v));
    assert_true(v == INT64_MIN);
    static const char *const bad[] = { "", "-", "+1", " 1", "1 ", "--1", "-+1", "1.5", "0x1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(num_i64(bad[i], INT64_MIN, INT64_MAX, &v));
}

static void test_double(void **st)
{
    (void)st;
    double v = 0;
    assert_true(num_double("2.5", 0, 10, &v));
    assert_true(v == 2.5);
    assert_true(num_double("-0.5", -1, 0, &v));
    assert_true(num_double(".5", 0, 1, &v));
    assert_true(num_double("5.", 0, 10, &v));
    assert_true(num_double("1.0000000000000001e-05", 0, 1, &v));
    assert_true(num_double("1E+2", 0, 100, &v));
    assert_true(v == 100);
    assert_false(num_double("100.0001", 0, 100, &v));
    assert_false(num_double("1e999", -1e300, 1e300, &v)); /* overflow */
    static const char *const bad[] = { "", ".", "-", "e5", "1e", "1e+", "inf", "nan", "0x1p3",
                                       " 1", "1 ", "+1", "1..2", "1e5.0", "--1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(num_double(bad[i], -1e308, 1e308, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_i64),
        cmocka_unit_test(test_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
