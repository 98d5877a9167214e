/* Unit tests for the E-model (ITU-T G.107) and the G.113 codec table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../media/emodel.h"

static void test_defaults(void **state)
{
    (void)state;
    struct emodel_params p;
    emodel_defaults(&p);
    double r = emodel_r(&p);
    assert_true(r > 93.15 && r < 93.25);          /* G.107: 93.2 */
    double mos = emodel_mos(r);
    assert_true(mos > 4.405 && mos < 4.415);      /* 4.41 */
    /* Convenience form with the default (zero) delay agrees. */
    assert_true(emodel_r_for(EMODEL_G711, 0, 0, 1) > 93.15);
    assert_true(emodel_r_for(EMODEL_G711, 0, 0, 1) < 93.25);
}

static void test_mos_mapping(void **state)
{
    (void)state;
    assert_true(emodel_mos(-5) == 1.0);
    assert_true(emodel_mos(0) == 1.0);
    assert_true(emodel_mos(100) == 4.5);
    assert_true(emodel_mos(150) == 4.5);
    /* Annex B at R = 50: 1 + 1.75 + 50*(-10)*50*7e-6 = 2.575 */
    double m = emodel_mos(50);
    assert_true(m > 2.5749 && m < 2.5751);
    /* The Annex B cubic dips below 1 near R = 5: clamped, then rising. */
    for (int r = 1; r < 100; r++) {
        assert_true(emodel_mos(r) >= 1.0);
        assert_true(emodel_mos(r) >= emodel_mos(r - 1));
        if (r > 7)
            assert_true(emodel_mos(r) > emodel_mos(r - 1));
    }
}

static void test_loss_monotonic(void **state)
{
    (void)state;
    const double ppl[] = { 0, 0.5, 1, 2, 5, 10, 20 };
    double prev = 1000;
    for (size_t i = 0; i < sizeof ppl / sizeof ppl[0]; i++) {
        double r = emodel_r_for(EMODEL_G711, 0, ppl[i], 1);
        assert_true(r < prev);
        prev = r;
    }
    /* G.711 with PLC, 1 % random loss: Ie,eff = 95 * 1 / (1 + 25.1) = 3.64 */
    double r = emodel_r_for(EMODEL_G711, 0, 1, 1);
    assert_true(r > 89.5 && r < 89.62);
    /* Without PLC the same loss costs more. */
    assert_true(emodel_r_for(EMODEL_G711_NOPLC, 0, 1, 1) < r - 10);
}

static void test_delay_monotonic(void **state)
{
    (void)state;
    const double t[] = { 0, 50, 100, 150, 200, 300, 400, 600 };
    double prev = 1000;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        double r = emodel_r_for(EMODEL_G711, t[i], 0, 1);
        assert_true(r < prev);
        prev = r;
    }
    /* Past the 100 ms knee of Idd, delay hurts markedly. */
    assert_true(emodel_r_for(EMODEL_G711, 400, 0, 1) < 80);
}

static void test_g729(void **state)
{
    (void)state;
    const struct emodel_codec_info *c = emodel_codec(EMODEL_G729A);
    assert_true(c->ie == 11 && c->bpl == 19.0);
    /* No loss, no delay: 93.2 - 11 = 82.2, MOS 4.10 */
    double r = emodel_r_for(EMODEL_G729A, 0, 0, 1);
    assert_true(r > 82.15 && r < 82.25);
    double mos = emodel_mos(r);
    assert_true(mos > 4.095 && mos < 4.115);
    /* 1 % random loss: Ie,eff = 11 + 84 * 1 / (1 + 19) = 15.2 -> R 78.0 */
    r = emodel_r_for(EMODEL_G729A, 0, 1, 1);
    assert_true(r > 77.95 && r < 78.05);
    assert_int_equal(emodel_codec_by_name("G729"), EMODEL_G729A);
    assert_int_equal(emodel_codec_by_name("pcma"), EMODEL_G711);
    assert_int_equal(emodel_codec_by_name("H264"), EMODEL_UNKNOWN);
    assert_int_equal(emodel_codec_by_name(NULL), EMODEL_UNKNOWN);
    assert_true(emodel_codec(EMODEL_UNKNOWN)->ie < 0);
    assert_true(emodel_codec((enum emodel_codec)99)->ie < 0);
}

static void test_burst(void **state)
{
    (void)state;
    /* Same Ppl, bursty loss rates worse than random loss. */
    double random = emodel_r_for(EMODEL_G711, 0, 5, 1);
    double bursty = emodel_r_for(EMODEL_G711, 0, 5, 3);
    assert_true(bursty < random - 1.5);
    assert_true(emodel_r_for(EMODEL_G711, 0, 5, 2) < random);
    assert_true(emodel_r_for(EMODEL_G711, 0, 5, 2) > bursty);
    assert_true(emodel_ie_eff(0, 25.1, 0, 2) == 0);
    /* BurstR from a pattern: 10 of 100 lost in one run -> 10 * 0.9 = 9;
     * 10 isolated losses -> 1 * 0.9 = 0.9 (more regular than random). */
    double b1 = emodel_burst_r(10, 1, 100);
    assert_true(b1 > 8.99 && b1 < 9.01);
    double b2 = emodel_burst_r(10, 10, 100);
    assert_true(b2 > 0.899 && b2 < 0.901);
    assert_true(emodel_burst_r(0, 0, 100) == 1.0);
    assert_true(emodel_burst_r(100, 1, 100) == 1.0);
    assert_true(emodel_burst_r(5, 0, 0) == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_mos_mapping),
        cmocka_unit_test(test_loss_monotonic), cmocka_unit_test(test_delay_monotonic),
        cmocka_unit_test(test_g729),        cmocka_unit_test(test_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
