/* Alert rules (alert/rules.c): the compiled-in defaults parse into the 16
 * shipped rules, a configuration overrides single keys, turns rules off,
 * adds rules, and bad values are refused with a reason naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../alert/rules.h"

static const struct alert_rule *rule(const struct alert_config *c, const char *name)
{
    for (size_t i = 0; i < c->nrules; i++)
        if (!strcmp(c->rules[i].name, name))
            return &c->rules[i];
    return NULL;
}

static void test_defaults(void **st)
{
    (void)st;
    struct alert_config c;
    assert_int_equal(alert_config_default(&c), 0);
    const struct alert_rule *r0;
    assert_int_equal(c.nrules, 16);
    r0 = rule(&c, "cert_expiring");
    assert_non_null(r0);
    assert_int_equal(r0->metric, AM_CERT_DAYS);
    assert_true(alert_rule_below(r0) && r0->threshold == 30 && r0->clear == 31);
    const struct alert_rule *r = rule(&c, "sip_5xx");
    assert_non_null(r);
    assert_int_equal(r->metric, AM_5XX_SHARE);
    assert_true(r->threshold == 0.20 && r->clear == 0.10);
    assert_true(r->for_ns == 60ll * 1000000000ll && r->window_ns == 300ll * 1000000000ll);
    assert_string_equal(r->severity, "critical");
    assert_false(alert_rule_below(r));
    r = rule(&c, "mos_low");
    assert_true(alert_rule_below(r)); /* fires on low MOS: clear above threshold */
    r = rule(&c, "options_down");
    assert_int_equal(r->metric, AM_OPTIONS_MISSES);
    assert_true(r->threshold == 5 && r->for_ns == 0);
    for (unsigned m = 0; m < AM_N; m++) {
        bool used = false;
        for (size_t i = 0; i < c.nrules; i++)
            used |= c.rules[i].metric == (enum alert_metric)m;
        assert_true(used); /* every metric has a shipped rule */
    }
    assert_false(c.syslog);
    assert_string_equal(c.webhook, "");
}

static void test_overrides(void **st)
{
    (void)st;
    struct alert_config c;
    char err[200] = "";
    assert_int_equal(alert_config_default(&c), 0);
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "for 300 threshold 0.5", err, sizeof err), 0);
    const struct alert_rule *r = rule(&c, "sip_5xx");
    assert_true(r->for_ns == 300ll * 1000000000ll && r->threshold == 0.5 && r->clear == 0.10);
    assert_int_equal(alert_config_set(&c, "alert.mos_low", "off", err, sizeof err), 0);
    assert_false(rule(&c, "mos_low")->enabled);
    assert_int_equal(alert_config_set(&c, "alert.my_pdd", "metric pdd_p95_ms threshold 3000 clear 2000",
                                      err, sizeof err), 0);
    assert_int_equal(c.nrules, 17);
    assert_int_equal(rule(&c, "my_pdd")->metric, AM_PDD_P95);
    /* not ours */
    assert_int_equal(alert_config_set(&c, "internal_net", "10.0.0.0/8", err, sizeof err), 1);
    /* the calls configuration's: read here too, left to it */
    assert_int_equal(alert_config_set(&c, "country_code", "49", err, sizeof err), 1);
    assert_string_equal(c.country_code, "49");
    assert_string_equal(c.intl_prefix, "00");
    /* unusual hours for fraud_quiet_hours */
    assert_true(c.quiet_from_h == -1 && c.quiet_to_h == -1);
    assert_int_equal(alert_config_set(&c, "alert_quiet_hours", "22-6", err, sizeof err), 0);
    assert_true(c.quiet_from_h == 22 && c.quiet_to_h == 6);
    assert_int_equal(alert_config_set(&c, "alert_quiet_hours", "6-6", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "alert_quiet_hours", "22-24", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "alert_quiet_hours", "-6", err, sizeof err), -1);
    assert_non_null(strstr(err, "FROM-TO hours"));
    assert_int_equal(alert_config_set(&c, "alert_quiet_hours", "off", err, sizeof err), 0);
    assert_true(c.quiet_from_h == -1);
    assert_int_equal(alert_config_set(&c, "alert_utc_offset_min", "-300", err, sizeof err), 0);
    assert_int_equal(c.utc_offset_min, -300);
    assert_int_equal(alert_config_set(&c, "alert_utc_offset_min", "900", err, sizeof err), -1);
    /* bad values, one reason each */
    assert_int_equal(alert_config_set(&c, "alert.new", "threshold 1", err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a metric"));
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "metric nonsense", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown metric"));
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "for", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "for -1", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "for 604801", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "for 604800", err, sizeof err), 0);
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "severity loud", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "alert.sip_5xx", "colour red", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "notify.webhook", "ftp://x", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "notify.webhook", "http://127.0.0.1:9/h", err, sizeof err), 0);
    assert_string_equal(c.webhook, "http://127.0.0.1:9/h");
    assert_int_equal(alert_config_set(&c, "notify.syslog", "yes", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "capacity", "203.0.113.5 30", err, sizeof err), 0);
    assert_int_equal(c.ncaps, 1);
    assert_int_equal(c.caps[0].channels, 30);
    assert_int_equal(alert_config_set(&c, "capacity", "203.0.113.5", err, sizeof err), -1);
    assert_int_equal(alert_config_set(&c, "capacity", "203.0.113.5 0", err, sizeof err), -1);
    /* the rule table is bounded: TS_ALERT_MAX_RULES - 1, N, N + 1 */
    char name[40];
    while (c.nrules < TS_ALERT_MAX_RULES - 1) {
        snprintf(name, sizeof name, "alert.r%zu", c.nrules);
        assert_int_equal(alert_config_set(&c, name, "metric mos", err, sizeof err), 0);
    }
    assert_int_equal(alert_config_set(&c, "alert.last", "metric mos", err, sizeof err), 0);
    assert_int_equal(c.nrules, TS_ALERT_MAX_RULES);
    assert_int_equal(alert_config_set(&c, "alert.one_more", "metric mos", err, sizeof err), -1);
}

static void test_file(void **st)
{
    (void)st;
    char path[] = "/tmp/ts_alert_rulesXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# a trunkscope configuration with other keys too\n"
          "internal_net = 10.0.0.0/8\n"
          "alert.asr_drop = for 30   # shorter\n"
          "notify.syslog = on\n"
          "alert.pdd_p95 = window 0x10\n", f);
    fclose(f);
    struct alert_config c;
    char err[300] = "";
    assert_int_equal(alert_config_default(&c), 0);
    assert_int_equal(alert_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":5: "));
    assert_true(rule(&c, "asr_drop")->for_ns == 30ll * 1000000000ll);
    assert_true(c.syslog);
    unlink(path);
    assert_int_equal(alert_config_load(&c, "/nonexistent/x.conf", err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
