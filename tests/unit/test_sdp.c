/* Unit tests for the SDP parser: real offers and answers, IPv6, hold, RTCP
 * attributes, SRTP keying, T.38, malformed bodies, prefixes and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/rtp.h"
#include "../../dissect/sdp.h"

static struct sdp sdp; /* large: keep it off the stack */

static enum sdp_result parse(const char *s)
{
    return sdp_parse(bv_cstr(s), &sdp);
}

/* The INVITE offer and its 200 OK answer in sipnab_codec-negotiation.pcap
 * (frames 1 and 4), CRLF as on the wire. */
static const char cn_offer[] =
    "v=0\r\n"
    "o=alice 1 1 IN IP4 127.0.0.1\r\n"
    "s=call\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 5084 RTP/AVP 0 8 9\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=sendrecv\r\n";

static const char cn_answer[] =
    "v=0\r\n"
    "o=bob 2 1 IN IP4 127.0.0.1\r\n"
    "s=call\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 5094 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=sendrecv\r\n";

static void test_sdp_real_offer_answer(void **state)
{
    (void)state;
    assert_int_equal(sizeof cn_offer - 1, 176); /* Content-Length in the capture */
    assert_int_equal(parse(cn_offer), SDP_OK);
    assert_int_equal(sdp.flags, 0);
    assert_true(sdp.origin.present);
    assert_true(bv_eq_cstr(sdp.origin.username, "alice"));
    assert_true(bv_eq_cstr(sdp.origin.sess_id, "1"));
    assert_int_equal(sdp.origin.sess_version_num, 1);
    assert_true(bv_eq_cstr(sdp.origin.addr, "127.0.0.1"));
    assert_true(bv_eq_cstr(sdp.session_name, "call"));
    assert_true(sdp.conn.present);
    assert_int_equal(sdp.conn.family, 4);
    assert_memory_equal(sdp.conn.addr, "\x7f\x00\x00\x01", 4);
    assert_false(sdp.conn.hold);
    assert_int_equal(sdp.nmedia, 1);
    const struct sdp_media *m = sdp_first_audio(&sdp);
    assert_ptr_equal(m, &sdp.media[0]);
    assert_int_equal(m->type, SDP_MEDIA_AUDIO);
    assert_int_equal(m->port, 5084);
    assert_int_equal(m->nports, 1);
    assert_int_equal(m->proto, SDP_PROTO_RTP_AVP);
    assert_int_equal(m->nfmt, 3);
    assert_int_equal(m->fmt[0], 0);
    assert_int_equal(m->fmt[1], 8);
    assert_int_equal(m->fmt[2], 9);
    assert_int_equal(m->nrtpmap, 3);
    assert_int_equal(m->dir, SDP_DIR_SENDRECV);
    assert_int_equal(m->te_pt, -1);
    assert_false(m->conn.present);
    assert_ptr_equal(sdp_media_conn(&sdp, m), &sdp.conn);
    struct bv name;
    uint32_t clock;
    assert_true(sdp_codec_for_pt(m, 9, &name, &clock));
    assert_true(bv_eq_cstr(name, "G722"));
    assert_int_equal(clock, 8000);

    assert_int_equal(parse(cn_answer), SDP_OK);
    assert_true(bv_eq_cstr(sdp.origin.username, "bob"));
    m = sdp_first_audio(&sdp);
    assert_non_null(m);
    assert_int_equal(m->port, 5094);
    assert_int_equal(m->nfmt, 1);
    assert_int_equal(m->fmt[0], 0);
}

static void test_sdp_offer_telephone_event(void **state)
{
    (void)state;
    const char *s =
        "v=0\r\n"
        "o=- 3871234567 3871234568 IN IP4 192.0.2.10\r\n"
        "s=Asterisk\r\n"
        "c=IN IP4 192.0.2.10\r\n"
        "t=0 0\r\n"
        "m=audio 10000 RTP/AVP 8 0 101\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=maxptime:150\r\n"
        "a=sendrecv\r\n";
    assert_int_equal(parse(s), SDP_OK);
    assert_int_equal(sdp.origin.sess_version_num, 3871234568ull);
    const struct sdp_media *m = &sdp.media[0];
    assert_int_equal(m->te_pt, 101);
    assert_int_equal(m->te_clock, 8000);
    assert_int_equal(m->nfmtp, 1);
    assert_int_equal(m->fmtp[0].pt, 101);
    assert_true(bv_eq_cstr(m->fmtp[0].params, "0-16"));
    assert_int_equal(m->ptime, 20);
    assert_int_equal(m->maxptime, 150);
    assert_int_equal(m->rtpmap[2].channels, 1);
    struct bv name;
    uint32_t clock;
    assert_true(sdp_codec_for_pt(m, 101, &name, &clock));
    assert_true(bv_eq_cstr(name, "telephone-event"));
    /* static fall-backs when no rtpmap is given */
    assert_true(sdp_codec_for_pt(m, 18, &name, &clock));
    assert_true(bv_eq_cstr(name, "G729"));
    assert_int_equal(clock, 8000);
    assert_true(sdp_codec_for_pt(m, 34, &name, &clock));
    assert_true(bv_eq_cstr(name, "H263"));
    assert_int_equal(clock, 90000);
    assert_false(sdp_codec_for_pt(m, 96, &name, &clock));
    assert_false(sdp_codec_for_pt(m, 2, &name, &clock));
}

static void test_sdp_ipv6(void **state)
{
    (void)state;
    const char *s =
        "v=0\n"
        "o=- 1 1 IN IP6 2001:db8::10\n"
        "s=-\n"
        "c=IN IP6 2001:db8::1\n"
        "t=0 0\n"
        "m=audio 49170 RTP/AVP 0\n";
    assert_int_equal(parse(s), SDP_OK);
    assert_true(sdp.flags & SDP_F_LF_ONLY);
    assert_int_equal(sdp.conn.family, 6);
    assert_true(bv_eq_cstr(sdp.conn.addrtype, "IP6"));
    assert_true(bv_eq_cstr(sdp.conn.addr_str, "2001:db8::1"));
    const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0, 1 };
    assert_memory_equal(sdp.conn.addr, want, 16);
    assert_true(bv_eq_cstr(sdp.origin.addrtype, "IP6"));
}

static void test_sdp_hold(void **state)
{
    (void)state;
    /* RFC 3264 8.4: sendonly */
    const char *a =
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
    assert_int_equal(parse(a), SDP_OK);
    assert_int_equal(sdp.media[0].dir, SDP_DIR_SENDONLY);
    assert_int_equal(sdp.media[0].dir_attr, SDP_DIR_SENDONLY);
    assert_false(sdp.conn.hold);
    /* RFC 2543 style: c=0.0.0.0 */
    const char *b =
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\n";
    assert_int_equal(parse(b), SDP_OK);
    assert_true(sdp.conn.hold);
    assert_int_equal(sdp.conn.family, 4);
    assert_int_equal(sdp.media[0].dir, SDP_DIR_SENDRECV);
    /* session-level inactive applies to media without its own attribute;
     * a media-level one wins */
    const char *c =
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "a=inactive\r\n"
        "m=audio 4000 RTP/AVP 0\r\n"
        "m=video 4002 RTP/AVP 34\r\na=recvonly\r\n";
    assert_int_equal(parse(c), SDP_OK);
    assert_int_equal(sdp.dir, SDP_DIR_INACTIVE);
    assert_int_equal(sdp.media[0].dir, SDP_DIR_INACTIVE);
    assert_int_equal(sdp.media[0].dir_attr, SDP_DIR_NONE);
    assert_int_equal(sdp.media[1].dir, SDP_DIR_RECVONLY);
    /* media-level c=0.0.0.0 overrides a real session address */
    const char *d =
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n";
    assert_int_equal(parse(d), SDP_OK);
    assert_false(sdp.conn.hold);
    assert_true(sdp_media_conn(&sdp, &sdp.media[0])->hold);
}

static void test_sdp_rtcp_attrs(void **state)
{
    (void)state;
    const char *s =
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 49170 RTP/AVP 0\r\n"
        "a=rtcp:53020\r\n"
        "m=audio 49180 RTP/AVP 0\r\n"
        "a=rtcp:53021 IN IP4 126.16.64.4\r\n"
        "m=audio 49190 RTP/AVP 0\r\n"
        "a=rtcp-mux\r\n"
        "a=rtcp:49190\r\n"
        "m=audio 49200 RTP/AVP 0\r\n"
        "a=rtcp:0\r\n";
    assert_int_equal(parse(s), SDP_OK);
    assert_int_equal(sdp.nmedia, 4);
    assert_int_equal(sdp.media[0].rtcp_port, 53020);
    assert_false(sdp.media[0].rtcp_conn.present);
    assert_false(sdp.media[0].rtcp_mux);
    assert_int_equal(sdp.media[1].rtcp_port, 53021);
    assert_true(sdp.media[1].rtcp_conn.present);
    assert_int_equal(sdp.media[1].rtcp_conn.family, 4);
    assert_memory_equal(sdp.media[1].rtcp_conn.addr, "\x7e\x10\x40\x04", 4);
    assert_true(sdp.media[2].rtcp_mux);
    assert_int_equal(sdp.media[2].rtcp_port, 49190);
    assert_int_equal(sdp.media[3].rtcp_port, 0);
    assert_true(sdp.flags & SDP_F_BAD_ATTR);
}

static void test_sdp_srtp(void **state)
{
    (void)state;
    const char *s =
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n"
        "m=audio 5000 RTP/SAVP 0\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
        "m=audio 5002 UDP/TLS/RTP/SAVP 0\r\n"
        "m=video 5004 UDP/TLS/RTP/SAVPF 96\r\n"
        "m=audio 5006 RTP/SAVPF 0\r\n";
    assert_int_equal(parse(s), SDP_OK);
    assert_true(sdp.fingerprint);
    assert_int_equal(sdp.media[0].proto, SDP_PROTO_RTP_SAVP);
    assert_true(sdp.media[0].crypto);
    assert_int_equal(sdp.media[1].proto, SDP_PROTO_UDP_TLS_RTP_SAVP);
    assert_false(sdp.media[1].crypto);
    assert_true(sdp.media[1].fingerprint); /* inherited from session level */
    assert_int_equal(sdp.media[2].proto, SDP_PROTO_UDP_TLS_RTP_SAVPF);
    assert_int_equal(sdp.media[3].proto, SDP_PROTO_RTP_SAVPF);
    for (int i = 0; i < 4; i++)
        assert_true(sdp_proto_is_rtp(sdp.media[i].proto));
    assert_false(sdp_proto_is_rtp(SDP_PROTO_UDPTL));
}

static void test_sdp_multi_media(void **state)
{
    (void)state;
    const char *s =
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 31\r\n"
        "m=audio 0 RTP/AVP 0\r\n"
        "m=audio 6000/2 RTP/AVP 96 97\r\n"
        "c=IN IP4 224.2.1.1/127/3\r\n"
        "a=rtpmap:96 opus/48000/2\r\n"
        "a=rtpmap:97 L16/16000\r\n"
        "a=label:main\r\n"
        "m=video 6002 RTP/AVP 34\r\n"
        "c=IN IP4 media.example.com\r\n";
    assert_int_equal(parse(s), SDP_OK);
    assert_false(sdp.conn.present);
    assert_int_equal(sdp.nmedia, 4);
    /* the first audio with a port wins over a rejected one */
    const struct sdp_media *a = sdp_first_audio(&sdp);
    assert_ptr_equal(a, &sdp.media[2]);
    assert_int_equal(a->nports, 2);
    assert_true(bv_eq_cstr(a->conn.addr_str, "224.2.1.1"));
    assert_int_equal(a->conn.family, 4);
    assert_true(bv_eq_cstr(a->label, "main"));
    assert_int_equal(a->rtpmap[0].clock, 48000);
    assert_int_equal(a->rtpmap[0].channels, 2);
    struct bv name;
    uint32_t clock;
    assert_true(sdp_codec_for_pt(a, 97, &name, &clock));
    assert_true(bv_eq_cstr(name, "L16"));
    assert_int_equal(clock, 16000);
    const struct sdp_media *v = &sdp.media[3];
    assert_int_equal(v->type, SDP_MEDIA_VIDEO);
    assert_true(v->conn.present);
    assert_int_equal(v->conn.family, 0); /* FQDN: view kept, no binary */
    assert_true(bv_eq_cstr(v->conn.addr_str, "media.example.com"));
    assert_int_equal(sdp.media[0].type, SDP_MEDIA_VIDEO);
    assert_int_equal(sdp.media[0].port, 0);
    /* only rejected audio: the first one is returned */
    assert_int_equal(parse("v=0\r\nm=video 5 RTP/AVP 31\r\nm=audio 0 RTP/AVP 0\r\n"), SDP_OK);
    assert_ptr_equal(sdp_first_audio(&sdp), &sdp.media[1]);
    assert_int_equal(parse("v=0\r\nm=video 5 RTP/AVP 31\r\n"), SDP_OK);
    assert_null(sdp_first_audio(&sdp));
}

static void test_sdp_t38(void **state)
{
    (void)state;
    const char *s =
        "v=0\r\n"
        "o=- 1 2 IN IP4 198.51.100.5\r\n"
        "s=-\r\n"
        "c=IN IP4 198.51.100.5\r\n"
        "t=0 0\r\n"
        "m=image 4000 udptl t38\r\n"
        "a=T38FaxVersion:0\r\n"
        "a=T38MaxBitRate:14400\r\n"
        "a=T38FaxRateManagement:transferredTCF\r\n"
        "a=T38FaxMaxDatagram:400\r\n"
        "a=T38FaxUdpEC:t38UDPRedundancy\r\n";
    assert_int_equal(parse(s), SDP_OK);
    assert_int_equal(sdp.nmedia, 1);
    const struct sdp_media *m = &sdp.media[0];
    assert_int_equal(m->type, SDP_MEDIA_IMAGE);
    assert_int_equal(m->proto, SDP_PROTO_UDPTL);
    assert_int_equal(m->port, 4000);
    assert_int_equal(m->nfmt, 0);
    assert_true(bv_eq_cstr(m->fmt_str, "t38"));
    assert_null(sdp_first_audio(&sdp));
}

static void test_sdp_out_of_order_and_unknown(void **state)
{
    (void)state;
    /* s= before v=, garbage lines, blank lines, no final CRLF, spaces */
    const char *s =
        "s=x\r\n"
        "v=0\r\n"
        "\r\n"
        "this is not sdp\r\n"
        "x=unknown letter\r\n"
        "b=AS:64\r\n"
        "m=audio  7000  RTP/AVP  0   8\r\n"
        "a=X-nonsense\r\n"
        "c=IN IP4 10.1.2.3\r\n"
        "a=rtpmap:8 PCMA/8000";
    assert_int_equal(parse(s), SDP_OK);
    assert_true(sdp.flags & SDP_F_BAD_LINE);
    assert_int_equal(sdp.media[0].port, 7000);
    assert_int_equal(sdp.media[0].nfmt, 2);
    assert_true(sdp.media[0].conn.present);
    assert_int_equal(sdp.media[0].nrtpmap, 1);
    assert_true(bv_eq_cstr(sdp.media[0].rtpmap[0].name, "PCMA"));
}

static void test_sdp_malformed(void **state)
{
    (void)state;
    assert_int_equal(sdp_parse(BV_NULL, &sdp), SDP_MALFORMED);
    assert_true(sdp.flags & SDP_F_NO_VERSION);
    assert_int_equal(parse("\r\n\r\n"), SDP_MALFORMED);
    /* no v= but the rest still parsed */
    assert_int_equal(parse("o=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n"),
                     SDP_MALFORMED);
    assert_int_equal(sdp.nmedia, 1);
    assert_int_equal(sdp.media[0].port, 4000);
    /* bad m= lines are dropped with their attributes, later ones kept */
    const char *bad_m =
        "v=0\r\nc=IN IP4 1.2.3.4\r\n"
        "m=audio 4000 RTP/AVP 0\r\n"
        "m=audio 70000 RTP/AVP 0\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=sendonly\r\n"
        "m=audio\r\n"
        "m=audio x RTP/AVP 0\r\n"
        "m=audio 5000/0 RTP/AVP 0\r\n"
        "m=audio 6000 RTP/AVP 0\r\n";
    assert_int_equal(parse(bad_m), SDP_MALFORMED);
    assert_true(sdp.flags & SDP_F_BAD_MEDIA);
    assert_int_equal(sdp.nmedia, 2);
    assert_int_equal(sdp.media_seen, 6);
    assert_int_equal(sdp.media[0].port, 4000);
    assert_int_equal(sdp.media[0].nrtpmap, 0);
    assert_int_equal(sdp.media[0].dir, SDP_DIR_SENDRECV);
    assert_int_equal(sdp.media[1].port, 6000);
    assert_int_equal(sdp.dir, SDP_DIR_NONE);
    /* bad c= and o= */
    assert_int_equal(parse("v=0\r\nc=IN IP4\r\nm=audio 1 RTP/AVP 0\r\n"), SDP_MALFORMED);
    assert_true(sdp.flags & SDP_F_BAD_CONN);
    assert_false(sdp.conn.present);
    assert_int_equal(sdp.nmedia, 1);
    assert_int_equal(parse("v=0\r\no=alice 1\r\n"), SDP_MALFORMED);
    assert_true(sdp.flags & SDP_F_BAD_ORIGIN);
    assert_int_equal(parse("v=zero\r\n"), SDP_MALFORMED);
    /* version other than 0 */
    assert_int_equal(parse("v=1\r\nm=audio 1 RTP/AVP 0\r\n"), SDP_UNSUPPORTED);
    assert_int_equal(sdp.nmedia, 1);
    /* bad attribute values: skipped, flagged, not fatal */
    const char *bad_a =
        "v=0\r\nm=audio 1 RTP/AVP 0\r\n"
        "a=rtpmap:200 X/8000\r\n"
        "a=rtpmap:96\r\n"
        "a=rtpmap:96 /8000\r\n"
        "a=rtpmap:96 X/\r\n"
        "a=rtpmap:96 X/8000/0\r\n"
        "a=fmtp:abc x\r\n"
        "a=ptime:x\r\n"
        "a=rtcp:99999\r\n"
        "a=rtcp:5000 IN\r\n";
    assert_int_equal(parse(bad_a), SDP_OK);
    assert_true(sdp.flags & SDP_F_BAD_ATTR);
    assert_int_equal(sdp.media[0].nrtpmap, 0);
    assert_int_equal(sdp.media[0].nfmtp, 0);
    assert_int_equal(sdp.media[0].ptime, 0);
    assert_int_equal(sdp.media[0].rtcp_port, 5000);
    assert_false(sdp.media[0].rtcp_conn.present);
    /* payload types above 127 are not RTP PTs; a mislabelled IPv6 literal
     * is still read */
    assert_int_equal(parse("v=0\r\nm=audio 1 RTP/AVP 0 128 127 x\r\nc=IN IP4 ::1\r\n"), SDP_OK);
    assert_int_equal(sdp.media[0].nfmt, 2);
    assert_int_equal(sdp.media[0].fmt[1], 127);
    assert_int_equal(sdp.media[0].conn.family, 6);
    assert_false(sdp.media[0].conn.hold);
    /* binary junk and NULs */
    const uint8_t junk[] = { 'v', '=', '0', '\n', 0, '=', 0xff, '\n', 'm', '=', 0, '\n' };
    assert_int_equal(sdp_parse(bv_make(junk, sizeof junk), &sdp), SDP_MALFORMED);
}

static void test_sdp_every_prefix(void **state)
{
    (void)state;
    const char *full =
        "v=0\r\n"
        "o=- 3871234567 3871234568 IN IP6 2001:db8::10\r\n"
        "s=-\r\n"
        "c=IN IP6 2001:db8::1\r\n"
        "t=0 0\r\n"
        "a=sendrecv\r\n"
        "m=audio 10000/2 RTP/SAVP 8 0 101\r\n"
        "c=IN IP4 224.2.1.1/127/3\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=rtcp:10001 IN IP4 192.0.2.1\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"
        "a=ptime:20.0\r\n"
        "m=image 4000 udptl t38\r\n";
    size_t n = strlen(full);
    for (size_t k = 0; k <= n; k++) {
        char *q = malloc(k ? k : 1);
        assert_non_null(q);
        memcpy(q, full, k);
        enum sdp_result r = sdp_parse(bv_make(q, k), &sdp);
        assert_true(r == SDP_OK || r == SDP_MALFORMED);
        assert_true(sdp.nmedia <= 2);
        free(q);
    }
    assert_int_equal(sdp_parse(bv_make(full, n), &sdp), SDP_OK);
    assert_int_equal(sdp.media[0].ptime, 20);
    assert_int_equal(sdp.media[0].rtcp_port, 10001);
    assert_true(sdp.media[0].crypto);
    assert_int_equal(sdp.media[1].type, SDP_MEDIA_IMAGE);
}

/* Body with k audio sections, each with a distinct port and ptime. */
static size_t many_media(char *buf, size_t cap, size_t k)
{
    size_t n = (size_t)snprintf(buf, cap, "v=0\r\nc=IN IP4 10.0.0.1\r\n");
    for (size_t i = 0; i < k; i++)
        n += (size_t)snprintf(buf + n, cap - n, "m=audio %zu RTP/AVP 0\r\na=ptime:%zu\r\n",
                              2000 + 2 * i, 10 + i);
    assert_true(n < cap);
    return n;
}

static void test_sdp_max_media(void **state)
{
    (void)state;
    static char buf[8192];
    for (size_t k = TS_SDP_MAX_MEDIA - 1; k <= TS_SDP_MAX_MEDIA + 1; k++) {
        size_t n = many_media(buf, sizeof buf, k);
        assert_int_equal(sdp_parse(bv_make(buf, n), &sdp), SDP_OK);
        size_t want = k < TS_SDP_MAX_MEDIA ? k : TS_SDP_MAX_MEDIA;
        assert_int_equal(sdp.nmedia, want);
        assert_int_equal(sdp.media_seen, k);
        assert_int_equal((sdp.flags & SDP_F_TOO_MANY_MEDIA) != 0, k > TS_SDP_MAX_MEDIA);
        /* the last kept section keeps its own attributes, not the dropped one's */
        assert_int_equal(sdp.media[want - 1].port, 2000 + 2 * (want - 1));
        assert_int_equal(sdp.media[want - 1].ptime, 10 + (want - 1));
    }
}

static void test_sdp_max_formats(void **state)
{
    (void)state;
    static char buf[4096];
    for (size_t k = TS_SDP_MAX_FORMATS - 1; k <= TS_SDP_MAX_FORMATS + 1; k++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "v=0\r\nm=audio 1000 RTP/AVP");
        for (size_t i = 0; i < k; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, " %zu", 80 + i);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
        for (size_t i = 0; i < k; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                                  "a=rtpmap:%zu X%zu/8000\r\na=fmtp:%zu p\r\n",
                                  80 + i, i, 80 + i);
        assert_true(n < sizeof buf);
        assert_int_equal(sdp_parse(bv_make(buf, n), &sdp), SDP_OK);
        size_t want = k < TS_SDP_MAX_FORMATS ? k : TS_SDP_MAX_FORMATS;
        const struct sdp_media *m = &sdp.media[0];
        assert_int_equal(m->nfmt, want);
        assert_int_equal(m->nrtpmap, want);
        assert_int_equal(m->nfmtp, want);
        assert_int_equal(m->fmt[want - 1], 80 + want - 1);
        assert_int_equal((sdp.flags & SDP_F_TOO_MANY_FORMATS) != 0, k > TS_SDP_MAX_FORMATS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdp_real_offer_answer),
        cmocka_unit_test(test_sdp_offer_telephone_event),
        cmocka_unit_test(test_sdp_ipv6),
        cmocka_unit_test(test_sdp_hold),
        cmocka_unit_test(test_sdp_rtcp_attrs),
        cmocka_unit_test(test_sdp_srtp),
        cmocka_unit_test(test_sdp_multi_media),
        cmocka_unit_test(test_sdp_t38),
        cmocka_unit_test(test_sdp_out_of_order_and_unknown),
        cmocka_unit_test(test_sdp_malformed),
        cmocka_unit_test(test_sdp_every_prefix),
        cmocka_unit_test(test_sdp_max_media),
        cmocka_unit_test(test_sdp_max_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
