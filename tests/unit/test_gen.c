/* Unit tests for the traffic generator (determinism, truth totals against a
 * re-parse of the pcap, checksums, bounded memory, outcome coverage, strict
 * options) and for the streaming JSON writer it uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/bv.h"
#include "../../common/jsonw.h"
#include "../../gen/gen.h"

/* ---- helpers ---- */

struct blob {
    uint8_t *p;
    size_t len;
};

static struct blob slurp(FILE *f)
{
    struct blob b = { NULL, 0 };
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    b.p = malloc((size_t)n + 1);
    assert_non_null(b.p);
    b.len = fread(b.p, 1, (size_t)n, f);
    assert_int_equal(b.len, (size_t)n);
    b.p[b.len] = 0;
    return b;
}

static uint64_t fnv(const struct blob *b)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < b->len; i++)
        h = (h ^ b->p[i]) * 1099511628211ull;
    return h;
}

static void small_opts(struct gen_opts *o, uint64_t seed)
{
    gen_opts_default(o);
    o->out_path = "unused.pcap";
    o->seed = seed;
    o->calls = 40;
    o->cps = 2;
    o->duration_mean = 4;
    o->transport = GEN_TP_MIX;
    o->branch = o->gateway = true;
    o->impair = 0.8;
    o->retrans = 0.2;
}

static enum gen_err run(const struct gen_opts *o, struct blob *pcap, struct blob *truth,
                        struct gen_result *r)
{
    FILE *pf = tmpfile(), *tf = tmpfile();
    assert_non_null(pf);
    assert_non_null(tf);
    enum gen_err e = gen_run(o, pf, tf, r);
    fflush(pf);
    fflush(tf);
    *pcap = slurp(pf);
    *truth = slurp(tf);
    fclose(pf);
    fclose(tf);
    return e;
}

static uint64_t truth_total(const struct blob *t, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr((const char *)t->p, "\"totals\":");
    assert_non_null(p);
    p = strstr(p, pat);
    assert_non_null(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* ---- pcap re-parse through the byte view ---- */

struct counts {
    uint64_t frames, sip_udp, tcp_data, tcp_ctrl, rtp, rtcp, bad_csum;
    bool ts_monotonic;
};

static uint32_t csum_add(uint32_t acc, struct bv b)
{
    uint8_t hi, lo;
    while (bv_u8(&b, &hi)) {
        if (!bv_u8(&b, &lo))
            lo = 0;
        acc += (uint32_t)(hi << 8 | lo);
    }
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

static void count_frame(struct counts *c, struct bv f)
{
    uint16_t et = 0;
    struct bv ip;
    assert_true(bv_skip(&f, 12));
    assert_true(bv_be16(&f, &et));
    if (et == 0x8100) {
        assert_true(bv_skip(&f, 2));
        assert_true(bv_be16(&f, &et));
    }
    uint8_t proto = 0;
    struct bv l4, src, dst;
    if (et == 0x0800) {
        ip = f;
        struct bv hdr;
        assert_true(bv_take(&f, 20, &hdr));
        if (fold(csum_add(0, hdr)) != 0xffff)
            c->bad_csum++;
        assert_true(bv_peek_u8(ip, 9, &proto));
        src = bv_make(ip.p + 12, 4);
        dst = bv_make(ip.p + 16, 4);
    } else {
        assert_int_equal(et, 0x86dd);
        ip = f;
        assert_true(bv_peek_u8(ip, 6, &proto));
        assert_true(bv_skip(&f, 40));
        src = bv_make(ip.p + 8, 16);
        dst = bv_make(ip.p + 24, 16);
    }
    l4 = f;
    uint32_t ps = csum_add(csum_add(0, src), dst) + proto + (uint32_t)l4.len;
    if (fold(csum_add(ps, l4)) != 0xffff)
        c->bad_csum++;
    uint16_t sp = 0, dp = 0;
    assert_true(bv_be16(&f, &sp));
    assert_true(bv_be16(&f, &dp));
    if (proto == 17) {
        assert_true(bv_skip(&f, 4));
        uint8_t b0 = 0, b1 = 0;
        bv_peek_u8(f, 0, &b0);
        bv_peek_u8(f, 1, &b1);
        if (sp == 5060 || dp == 5060)
            c->sip_udp++;
        else if ((b0 & 0xc0) == 0x80 && (b1 == 200 || b1 == 201))
            c->rtcp++;
        else if ((b0 & 0xc0) == 0x80)
            c->rtp++;
        else
            fail_msg("unexpected UDP payload");
    } else {
        assert_int_equal(proto, 6);
        assert_true(l4.len >= 20);
        if (l4.len > 20)
            c->tcp_data++;
        else
            c->tcp_ctrl++;
    }
}

static struct counts parse_pcap(const struct blob *p)
{
    struct counts c = { .ts_monotonic = true };
    struct bv b = bv_make(p->p, p->len);
    uint32_t magic;
    assert_true(bv_le32(&b, &magic));
    assert_int_equal(magic, 0xa1b2c3d4u);
    assert_true(bv_skip(&b, 20));
    uint64_t last = 0;
    while (b.len) {
        uint32_t sec = 0, usec = 0, incl = 0, orig = 0;
        assert_true(bv_le32(&b, &sec) && bv_le32(&b, &usec) && bv_le32(&b, &incl) &&
                    bv_le32(&b, &orig));
        assert_int_equal(incl, orig);
        struct bv f = bv_make(NULL, 0);
        assert_true(bv_take(&b, incl, &f));
        uint64_t ts = (uint64_t)sec * 1000000u + usec;
        if (ts < last)
            c.ts_monotonic = false;
        last = ts;
        count_frame(&c, f);
        c.frames++;
    }
    return c;
}

/* ---- generator tests ---- */

static void test_determinism(void **state)
{
    (void)state;
    struct gen_opts o;
    struct gen_result r1, r2, r3;
    struct blob p1, t1, p2, t2, p3, t3;
    small_opts(&o, 11);
    assert_int_equal(run(&o, &p1, &t1, &r1), GEN_OK);
    assert_int_equal(run(&o, &p2, &t2, &r2), GEN_OK);
    assert_true(p1.len > 10000);
    assert_int_equal(p1.len, p2.len);
    assert_true(fnv(&p1) == fnv(&p2));
    assert_true(fnv(&t1) == fnv(&t2));
    o.seed = 12;
    assert_int_equal(run(&o, &p3, &t3, &r3), GEN_OK);
    assert_true(fnv(&p1) != fnv(&p3));
    assert_true(fnv(&t1) != fnv(&t3));
    free(p1.p), free(t1.p), free(p2.p), free(t2.p), free(p3.p), free(t3.p);
}

static void test_totals_match_capture(void **state)
{
    (void)state;
    struct gen_opts o;
    struct gen_result r;
    struct blob p, t;
    small_opts(&o, 5);
    o.ipv6 = true;
    o.vlan = 42;
    assert_int_equal(run(&o, &p, &t, &r), GEN_OK);
    struct counts c = parse_pcap(&p);
    assert_true(c.ts_monotonic);
    assert_int_equal(c.bad_csum, 0);
    assert_int_equal(c.frames, r.frames);
    assert_int_equal(c.frames, truth_total(&t, "frames"));
    assert_int_equal(r.packets, truth_total(&t, "total_packets"));
    assert_int_equal(c.sip_udp, truth_total(&t, "sip_udp_datagrams"));
    assert_int_equal(c.tcp_data, truth_total(&t, "tcp_data_segments"));
    assert_int_equal(c.tcp_ctrl, truth_total(&t, "tcp_control_segments"));
    assert_int_equal(c.rtp, truth_total(&t, "rtp_packets"));
    assert_int_equal(c.rtcp, truth_total(&t, "rtcp_packets"));
    assert_int_equal(r.rtp_packets, c.rtp);
    assert_true(c.tcp_data > 0 && c.rtp > 0 && c.rtcp > 0 && c.sip_udp > 0);
    /* SIP messages: UDP datagrams + TCP messages (some span two segments) */
    uint64_t sip = truth_total(&t, "sip_messages");
    assert_true(sip >= c.sip_udp && sip <= c.sip_udp + c.tcp_data);
    assert_int_equal(r.calls, truth_total(&t, "calls"));
    free(p.p), free(t.p);
}

static void test_span_duplicates(void **state)
{
    (void)state;
    struct gen_opts o;
    struct gen_result r;
    struct blob p, t;
    small_opts(&o, 8);
    o.calls = 10;
    o.dup_rate = 0.5;
    o.vlan = 7;
    assert_int_equal(run(&o, &p, &t, &r), GEN_OK);
    struct counts c = parse_pcap(&p);
    uint64_t dups = truth_total(&t, "span_duplicates");
    assert_true(dups > r.packets / 3);
    assert_int_equal(c.frames, r.packets + dups);
    assert_true(c.ts_monotonic);
    assert_int_equal(c.bad_csum, 0);
    free(p.p), free(t.p);
}

static void test_every_outcome(void **state)
{
    (void)state;
    struct gen_opts o;
    struct gen_result r;
    struct blob p, t;
    small_opts(&o, 21);
    o.calls = 90;
    o.cps = 5;
    o.duration_mean = 2;
    for (int m = 0; m < GEN_MIX_MAX; m++)
        o.mix[m] = 1;
    assert_int_equal(run(&o, &p, &t, &r), GEN_OK);
    for (int i = 0; i < 6; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"outcome\":\"%s\"", gen_outcome_name(i));
        assert_true(r.outcomes[i] > 0);
        assert_non_null(strstr((const char *)t.p, pat));
    }
    for (int m = 0; m < GEN_MIX_MAX; m++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"scenario\":\"%s\"", gen_mix_name(m));
        assert_non_null(strstr((const char *)t.p, pat));
    }
    /* every failure side and correlation evidence kind shows up somewhere */
    assert_non_null(strstr((const char *)t.p, "\"failure_side\":\"itsp\""));
    assert_non_null(strstr((const char *)t.p, "\"failure_side\":\"sbc\""));
    assert_non_null(strstr((const char *)t.p, "\"failure_side\":\"enterprise\""));
    assert_non_null(strstr((const char *)t.p, "\"timing_numbers\""));
    free(p.p), free(t.p);
}

/* Memory must depend on concurrency, not on how long the run is. */
static void test_constant_memory(void **state)
{
    (void)state;
    struct gen_opts o;
    struct gen_result a, b;
    struct blob p, t;
    small_opts(&o, 3);
    o.concurrency = 40;
    o.duration_mean = 3;
    o.twin_rate = 0;
    o.calls = 100;
    assert_int_equal(run(&o, &p, &t, &a), GEN_OK);
    free(p.p), free(t.p);
    o.calls = 1000;
    assert_int_equal(run(&o, &p, &t, &b), GEN_OK);
    free(p.p), free(t.p);
    assert_true(b.packets > 5 * a.packets);
    assert_true(a.peak_live_calls <= 40);
    assert_true(b.peak_live_calls <= 40);
    assert_true(b.peak_events < 2 * a.peak_events + 64);
}

static void test_max_packets(void **state)
{
    (void)state;
    struct gen_opts o;
    struct gen_result r;
    struct blob p, t;
    small_opts(&o, 4);
    o.calls = 0;
    o.max_packets = 20000;
    o.concurrency = 30;
    o.duration_mean = 30;
    assert_int_equal(run(&o, &p, &t, &r), GEN_OK);
    assert_true(r.packets >= 20000 && r.packets < 20010);
    assert_int_equal(parse_pcap(&p).frames, r.frames);
    assert_non_null(strstr((const char *)t.p, "\"truncated\":true"));
    assert_true(truth_total(&t, "calls_truncated") > 0);
    free(p.p), free(t.p);
}

static enum gen_err parse(const char *const *args, struct gen_opts *o, char *err)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"gen";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    gen_opts_default(o);
    return gen_parse_args(o, argc, argv, err, 256);
}

static void test_options(void **state)
{
    (void)state;
    struct gen_opts o;
    char err[256];
#define OK(...) do { const char *a[] = { __VA_ARGS__, NULL }; assert_int_equal(parse(a, &o, err), GEN_OK); } while (0)
#define BAD(...) do { const char *a[] = { __VA_ARGS__, NULL }; assert_int_equal(parse(a, &o, err), GEN_EUSAGE); assert_null(strchr(err, '\n')); } while (0)
    OK("-o", "x.pcap");
    assert_int_equal(o.calls, 30);
    OK("-o", "x.pcap", "--vlan", "4094", "--itsps=8", "--jitter-ms", "18", "--mix", "busy=1");
    assert_int_equal(o.vlan, 4094);
    assert_int_equal(o.itsps, 8);
    assert_int_equal(o.mix[GEN_MIX_BUSY], 1);
    assert_int_equal(o.mix[GEN_MIX_ANSWERED], 0);
    OK("-o", "x.pcap", "--vlan", "4093", "--itsps", "7", "--jitter-ms", "17");
    BAD("-o", "x.pcap", "--vlan", "4095");
    assert_string_equal(err, "gen: bad value '4095' for --vlan");
    BAD("-o", "x.pcap", "--vlan", "0");
    BAD("-o", "x.pcap", "--itsps", "9");
    BAD("-o", "x.pcap", "--jitter-ms", "19");
    BAD("--calls", "3");
    BAD("-o", "x.pcap", "--bogus");
    assert_non_null(strstr(err, "unknown option"));
    BAD("-o", "x.pcap", "--calls", "12x");
    BAD("-o", "x.pcap", "--calls", "-1");
    BAD("-o", "x.pcap", "--calls");
    assert_string_equal(err, "gen: --calls needs a value"); /* as every command (common/opts) */
    BAD("-o", "x.pcap", "--see", "3");
    assert_string_equal(err, "gen: unknown option '--see'"); /* no abbreviations */
    BAD("-o", "x.pcap", "--", "--calls", "3");
    assert_string_equal(err, "gen: unknown option '--'");
    BAD("-o", "x.pcap", "--dup-rate", "1.5");
    BAD("-o", "x.pcap", "--mix", "answered=1,nope=2");
    BAD("-o", "x.pcap", "--mix", "answered=0");
    BAD("-o", "x.pcap", "--mix", "answered=1,");
    BAD("-o", "x.pcap", "--cps", "2", "--concurrency", "5");
    BAD("-o", "x.pcap", "--calls", "0");
    BAD("-o", "x.pcap", "--corr", "sbc=magic");
    BAD("-o", "x.pcap", "--corr-header", "X CID");
    BAD("-o", "x.pcap", "--map-503", "501");
    BAD("-o", "x.pcap", "--ipv6=yes");
    assert_string_equal(err, "gen: unknown option '--ipv6=yes'");
    BAD("-o", "x.pcap", "stray");
    assert_string_equal(err, "gen: unexpected argument 'stray'");
    BAD("--out=", "--calls", "2");
    assert_string_equal(err, "gen: bad value '' for --out");
    OK("--out=y.pcap", "--seed=7", "--ipv6", "--pretty");
    assert_string_equal(o.out_path, "y.pcap");
    assert_int_equal(o.seed, 7);
    assert_true(o.ipv6 && o.pretty);
    OK("-o", "x.pcap", "--corr", "sbc=header,ms=none,branch-sbc=session-id", "--corr-header", "X-Orig-CID");
    assert_int_equal(o.corr[GEN_B2B_SBC], GEN_CORR_HEADER);
    assert_string_equal(o.xcid_name, "X-Orig-CID");
    OK("-o", "x.pcap", "--max-packets", "100");
    assert_int_equal(o.calls, 0);
#undef OK
#undef BAD
}

/* ---- jsonw ---- */

static char *jw_run(void (*fn)(struct jsonw *), enum jsonw_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct jsonw w;
    jsonw_init(&w, f, false);
    fn(&w);
    *err = jsonw_finish(&w);
    fclose(f);
    return buf;
}

static void jw_strings(struct jsonw *w)
{
    static const char s[] = "a\"b\\c\n\x01\xc3\xa9\xff\xe2\x80\xa8\xed\xa0\x80z";
    jsonw_obj_begin(w);
    jsonw_key(w, "k\"");
    jsonw_strn(w, s, sizeof s - 1);
    jsonw_kstr(w, "nul", NULL);
    jsonw_key(w, "emb");
    jsonw_strn(w, "x\0y", 3);
    jsonw_kdouble(w, "nan", 0.0 / 0.0, 2);
    jsonw_kdouble(w, "neg0", -0.0001, 2);
    jsonw_kint(w, "i", -5);
    jsonw_key(w, "a");
    jsonw_arr_begin(w);
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

static void test_jsonw_escaping(void **state)
{
    (void)state;
    enum jsonw_err e;
    char *out = jw_run(jw_strings, &e);
    assert_int_equal(e, JSONW_OK);
    assert_string_equal(out,
        "{\"k\\\"\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd\\u2028\\ufffd\\ufffd\\ufffdz\","
        "\"nul\":null,\"emb\":\"x\\u0000y\",\"nan\":null,\"neg0\":0.00,\"i\":-5,\"a\":[]}\n");
    free(out);
}

static int depth_n;
static void jw_depth(struct jsonw *w)
{
    for (int i = 0; i < depth_n; i++)
        jsonw_arr_begin(w);
    for (int i = 0; i < depth_n; i++)
        jsonw_arr_end(w);
}

static void jw_value_without_key(struct jsonw *w)
{
    jsonw_obj_begin(w);
    jsonw_int(w, 1);
    jsonw_obj_end(w);
}

static void jw_unclosed(struct jsonw *w) { jsonw_arr_begin(w); }
static void jw_two_docs(struct jsonw *w) { jsonw_int(w, 1); jsonw_int(w, 2); }

static void test_jsonw_structure(void **state)
{
    (void)state;
    enum jsonw_err e;
    int ns[] = { JSONW_MAX_DEPTH - 1, JSONW_MAX_DEPTH, JSONW_MAX_DEPTH + 1 };
    enum jsonw_err want[] = { JSONW_OK, JSONW_OK, JSONW_EDEPTH };
    for (int i = 0; i < 3; i++) {
        depth_n = ns[i];
        free(jw_run(jw_depth, &e));
        assert_int_equal(e, want[i]);
    }
    free(jw_run(jw_value_without_key, &e));
    assert_int_equal(e, JSONW_ESTATE);
    free(jw_run(jw_unclosed, &e));
    assert_int_equal(e, JSONW_ESTATE);
    free(jw_run(jw_two_docs, &e));
    assert_int_equal(e, JSONW_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonw_escaping),
        cmocka_unit_test(test_jsonw_structure),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_totals_match_capture),
        cmocka_unit_test(test_span_duplicates),
        cmocka_unit_test(test_every_outcome),
        cmocka_unit_test(test_constant_memory),
        cmocka_unit_test(test_max_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
