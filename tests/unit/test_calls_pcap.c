/* The call tracker on the real captures: per file, legs with an INVITE and
 * answered legs equal MANIFEST.md's "VoIP calls (answered)" column (one
 * leg per Call-ID with an INVITE), and the Asterisk B2BUA capture is one
 * call of two legs. Runs capture + engine + calls like `analyze`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../calls/calls.h"
#include "../../capture/pcapin.h"
#include "../../capture/readahead.h"
#include "../../common/hash.h"
#include "../../engine/engine.h"

#define PCAPS TS_SHARED_DIR "/pcaps/"

struct run {
    struct engine *e;
    size_t legs, answered, calls;
};

static int run_file(const char *name, struct run *r)
{
    char path[512], err[512];
    snprintf(path, sizeof path, PCAPS "%s", name);
    struct engine_config cfg = { .dedup = true, .track_calls = true };
    memset(r, 0, sizeof *r);
    r->e = engine_new(&cfg);
    assert_non_null(r->e);
    struct pcapin *in = pcapin_new();
    assert_non_null(in);
    if (pcapin_add(in, path, err, sizeof err) != 0) {
        pcapin_free(in);
        engine_free(r->e);
        r->e = NULL;
        return -1;
    }
    struct ts_frame f;
    int rc;
    while ((rc = pcapin_next(in, &f, err, sizeof err)) != 0)
        if (rc > 0)
            engine_frame(r->e, &f);
    engine_finish(r->e);
    pcapin_free(in);
    const struct calls *c = engine_calls(r->e);
    assert_non_null(c);
    r->calls = calls_count(c);
    for (size_t i = 0; i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        for (unsigned j = 0; j < k->nlegs; j++) {
            r->legs++;
            if (k->legs[j].final_status >= 200 && k->legs[j].final_status < 300)
                r->answered++;
        }
    }
    assert_int_equal(calls_dialogs_held(c), 0);
    return 0;
}

static void test_manifest_counts(void **state)
{
    (void)state;
    FILE *f = fopen(PCAPS "MANIFEST.md", "r");
    assert_non_null(f);
    char line[8192];
    unsigned checked = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        /* fields: | file | source | licence | format | packets | SIP | Call-IDs | RTP | VoIP calls (answered) | */
        char *fields[12] = { 0 };
        unsigned nf = 0;
        for (char *p = line; *p && nf < 12; p++)
            if (*p == '|')
                fields[nf++] = p + 1;
        if (nf < 10)
            continue;
        char name[256];
        const char *s = fields[0] + 2;
        size_t l = (size_t)(strchr(s, '`') - s);
        if (l >= sizeof name)
            continue;
        memcpy(name, s, l);
        name[l] = '\0';
        const char *voip = fields[8];
        if (strchr(voip, '[') && strchr(voip, '[') < fields[9])
            continue;   /* HEP: tshark's numbers do not apply */
        char *end;
        unsigned long want = strtoul(voip, &end, 10);
        const char *lp = strchr(end, '(');
        if (!lp)
            continue;
        unsigned long want_ans = strtoul(lp + 1, NULL, 10);
        /* The INVITE of this file spans two SCTP DATA fragments (B/E bits):
         * until capture/ reassembles SCTP user messages it never reaches calls/. */
        if (!strcmp(name, "heplify_sip_sctp.pcap"))
            continue;
        struct run r;
        if (run_file(name, &r) != 0)
            continue;   /* not pcap (NetMon) */
        checked++;
        if (r.legs != want || r.answered != want_ans) {
            bad++;
            print_error("%s: %zu legs (%zu answered), manifest %lu (%lu)\n", name, r.legs,
                        r.answered, want, want_ans);
        }
        engine_free(r.e);
    }
    fclose(f);
    assert_true(checked > 40);
    assert_int_equal(bad, 0);
}

static void test_b2bua_asterisk(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_file("sipnab_b2bua-asterisk.pcapng", &r), 0);
    const struct calls *c = engine_calls(r.e);
    assert_int_equal(r.legs, 2);
    assert_int_equal(calls_count(c), 1);
    const struct calls_call *k = calls_get(c, 0);
    assert_int_equal(k->nlegs, 2);
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_string_equal(k->legs[0].to, "2302");
    assert_string_equal(k->legs[1].to, "telephone2");
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_MEDIA);
    engine_free(r.e);
}

static void test_proxy_same_callid(void **state)
{
    (void)state;
    struct run r;
    assert_int_equal(run_file("sngrep_ipv6frag.pcap", &r), 0);
    const struct calls *c = engine_calls(r.e);
    assert_int_equal(calls_count(c), 1);
    const struct calls_call *k = calls_get(c, 0);
    assert_int_equal(k->nlegs, 1);
    assert_int_equal(k->legs[0].nhops, 2);
    assert_int_equal(k->legs[0].forks, 2);
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_int_equal(k->legs[0].hangup_by, CALLS_PARTY_CALLER);
    engine_free(r.e);
}

/* The same file through the reader thread with hints (as `analyze` reads
 * it: SIP datagrams parsed there, prefetches) gives the same counters and
 * calls as frame by frame; and the hints did parse SIP messages. */
static void test_read_ahead_same_results(void **state)
{
    (void)state;
    static const char *const files[] = {
        "sipnab_b2bua-asterisk.pcapng", "sipnab_sipp-branch-scenario.pcapng",
        "suricata-verify_public-cloudshark-sip-s0.pcap", "sngrep_aaa.pcap",
        "zeek_sip-junk-before-request.pcap",
    };
    size_t parsed = 0, files_run = 0;
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        struct run plain;
        if (run_file(files[k], &plain) != 0)
            continue;
        char path[512], err[512];
        snprintf(path, sizeof path, PCAPS "%s", files[k]);
        struct engine_config cfg = { .dedup = true, .track_calls = true };
        struct engine *e = engine_new(&cfg);
        struct pcapin *in = pcapin_new();
        assert_non_null(e);
        assert_non_null(in);
        assert_int_equal(pcapin_add(in, path, err, sizeof err), 0);
        struct readahead *ra = readahead_start(in, engine_decode, engine_decode_spare_size(), true);
        assert_non_null(ra);
        const struct ra_batch *b;
        while ((b = readahead_next(ra))) {
            for (size_t i = 0; i < b->n; i++) {
                if (i + 2 < b->n) {
                    engine_prefetch(e, &b->f[i + 2], &b->pkt[i + 2]);
                    engine_prefetch_more(e, &b->pkt[i + 2]);
                }
                if (b->pkt[i].sip) { /* its dialog hash is its Call-ID's */
                    const struct sip_msg *m = b->pkt[i].sip;
                    parsed++;
                    assert_int_equal(b->pkt[i].dialog_hash, calls_callid_hash(m->call_id));
                }
                engine_packet(e, &b->f[i], &b->pkt[i]);
            }
        }
        readahead_free(ra);
        pcapin_free(in);
        engine_finish(e);
        assert_memory_equal(engine_stats(e), engine_stats(plain.e), sizeof(struct ts_stats));
        assert_int_equal(calls_count(engine_calls(e)), plain.calls);
        for (size_t i = 0; i < plain.calls; i++) {
            const struct calls_call *x = calls_get(engine_calls(e), i);
            const struct calls_call *y = calls_get(engine_calls(plain.e), i);
            assert_int_equal(x->nlegs, y->nlegs);
            assert_string_equal(x->legs[0].call_id, y->legs[0].call_id);
            assert_int_equal(x->legs[0].final_status, y->legs[0].final_status);
        }
        engine_free(e);
        engine_free(plain.e);
        files_run++;
    }
    assert_int_equal(files_run, sizeof files / sizeof files[0]);
    assert_true(parsed > 20);
}

int main(void)
{
    ts_hash_seed_fixed(3, 4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b2bua_asterisk),
        cmocka_unit_test(test_proxy_same_callid),
        cmocka_unit_test(test_manifest_counts),
        cmocka_unit_test(test_read_ahead_same_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
