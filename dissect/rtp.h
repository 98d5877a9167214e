/* Pure RTP and RTCP parsers: RTP fixed header (RFC 3550 5.1, 5.3.1), the
 * RFC 3551 static payload types, RFC 4733 telephone-event payloads, compound
 * RTCP (RFC 3550 6.4-6.7, A.2) with XR VoIP metrics (RFC 3611 4.7) and the
 * SRTCP trailer (RFC 3711 3.4). No globals, I/O or allocation. */
#ifndef TS_RTP_H
#define TS_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/limits.h"

enum rtp_result {
    RTP_OK = 0,
    RTP_TRUNCATED,   /* the datagram ends inside a header or a declared length */
    RTP_MALFORMED,   /* lengths, padding or fields are inconsistent */
    RTP_UNSUPPORTED, /* not version 2 */
};

/* ---- RTP ---- */

#define RTP_MAX_CSRC 15 /* 4-bit CC field */

struct rtp_hdr {
    uint8_t version;
    bool padding, extension, marker;
    uint8_t cc;             /* CSRC count */
    uint8_t pt;             /* payload type, 0..127 */
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint32_t csrc[RTP_MAX_CSRC];
    uint16_t ext_profile;   /* "defined by profile" (0xBEDE: RFC 8285 one-byte) */
    uint16_t ext_words;     /* extension length in 32-bit words */
    struct bv ext;          /* extension data (ext_words * 4 bytes) */
    uint8_t pad_len;        /* padding bytes at the end, count byte included */
    size_t hdr_len;         /* bytes before the payload */
    struct bv payload;      /* between header and padding */
    size_t cut;             /* payload bytes missing after payload (header-only
                             * capture); 0: whole */
};

/* Parse one RTP packet (a whole UDP payload). On RTP_OK every field is set;
 * views point into pkt. Does not demultiplex RTCP (RFC 5761): callers check
 * rtcp_looks_like() first on a muxed port. */
enum rtp_result rtp_parse(struct bv pkt, struct rtp_hdr *out);

/* rtp_parse() of a datagram whose last cut bytes the capture did not keep
 * (snap length): the header must be whole; the padding count, in the last
 * byte, is unknown, so payload is what was kept (pad_len 0, out->cut set).
 * cut 0 is rtp_parse(). */
enum rtp_result rtp_parse_cut(struct bv pkt, size_t cut, struct rtp_hdr *out);

/* The payload type tests of rtp_looks_like() on a parsed header. */
bool rtp_hdr_plausible(const struct rtp_hdr *h);

/* The test tshark's heuristic RTP dissector applies (rtp.heuristic_rtp,
 * Wireshark 4.0 dissect_rtp_heur + dissect_rtp): version 2, PT not 72-76,
 * not marker+PT 64-95 (handed to RTCP), header with CSRCs and extension
 * fits, padding count non-zero and within the packet. Weak on its own:
 * pair it with SDP-announced ports when you can. */
bool rtp_looks_like(struct bv pkt);

/* RFC 3551 static payload types (0-34). */
struct rtp_static_pt {
    const char *name;   /* encoding name as in an rtpmap, NULL when unassigned */
    uint32_t clock;     /* RTP clock rate (G722 is 8000 by RFC 3551 4.5.2) */
    uint8_t channels;   /* audio channels, 0 for video */
    bool video;
};

/* Entry for a static PT, or NULL when pt is unassigned or dynamic. */
const struct rtp_static_pt *rtp_static_pt(uint8_t pt);
/* RTP clock rate of a static PT, 0 when unknown. */
uint32_t rtp_static_clock(uint8_t pt);
/* Encoding name of a static PT ("PCMU"), NULL when unknown. */
const char *rtp_static_name(uint8_t pt);

/* RFC 4733 2.3 named event (first event block of the payload). */
struct rtp_event {
    uint8_t event;      /* 0-9 digits, 10 '*', 11 '#', 12-15 A-D, 16 flash */
    bool end;           /* E bit */
    uint8_t volume;     /* 0..63, -dBm0 */
    uint16_t duration;  /* in RTP timestamp units */
};

/* Parse a telephone-event payload (4 bytes or more). */
enum rtp_result rtp_event_parse(struct bv payload, struct rtp_event *out);

/* ---- RTCP ---- */

enum {
    RTCP_SR = 200, RTCP_RR = 201, RTCP_SDES = 202, RTCP_BYE = 203,
    RTCP_APP = 204, RTCP_RTPFB = 205, RTCP_PSFB = 206, RTCP_XR = 207,
};

#define RTCP_MAX_RC 31 /* 5-bit count field: report blocks, chunks, SSRCs */

struct rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;  /* fixed point /256 */
    int32_t cum_lost;       /* signed 24-bit, sign-extended */
    uint32_t ext_high_seq;
    uint32_t jitter;        /* timestamp units */
    uint32_t lsr;           /* middle 32 bits of the NTP timestamp */
    uint32_t dlsr;          /* 1/65536 s */
};

struct rtcp_sender_info {
    uint64_t ntp;           /* 32.32 fixed point */
    uint32_t rtp_ts;
    uint32_t pkt_count;
    uint32_t octet_count;
};

struct rtcp_sdes_chunk {
    uint32_t ssrc;
    struct bv cname;        /* empty when the chunk has no CNAME item */
};

/* RFC 3611 4.7 VoIP Metrics Report Block (BT=7); 127 / 0 mean "unavailable"
 * as the RFC defines per field. */
struct rtcp_xr_voip {
    uint32_t ssrc;
    uint8_t loss_rate, discard_rate;        /* fixed point /256 */
    uint8_t burst_density, gap_density;     /* fixed point /256 */
    uint16_t burst_duration, gap_duration;  /* ms */
    uint16_t round_trip_delay;              /* ms */
    uint16_t end_system_delay;              /* ms */
    int8_t signal_level, noise_level;       /* dBm, 127 = unavailable */
    uint8_t rerl;                           /* dB, 127 = unavailable */
    uint8_t gmin;
    uint8_t r_factor, ext_r_factor;         /* 127 = unavailable */
    uint8_t mos_lq, mos_cq;                 /* MOS x10, 127 = unavailable */
    uint8_t rx_config;
    uint16_t jb_nominal, jb_max, jb_abs_max; /* ms */
};

struct rtcp_pkt {
    uint8_t pt;
    uint8_t count;          /* RC / SC / subtype field */
    bool padding;
    uint16_t len;           /* bytes, header included */
    uint32_t ssrc;          /* sender SSRC; first chunk / SSRC for SDES, BYE */
    struct bv body;         /* after the 4-byte header, padding removed */
    union {
        struct {            /* SR and RR */
            struct rtcp_sender_info si; /* SR only */
            uint8_t nrb;
            struct rtcp_report_block rb[RTCP_MAX_RC];
        } report;
        struct {
            uint8_t nchunks;
            struct rtcp_sdes_chunk chunk[RTCP_MAX_RC];
        } sdes;
        struct {
            uint8_t nssrc;
            uint32_t ssrc[RTCP_MAX_RC];
            struct bv reason;
        } bye;
        struct {
            struct bv name;  /* 4 ASCII bytes */
            struct bv data;
        } app;
        struct {
            uint32_t media_ssrc;
        } fb;               /* RTPFB, PSFB (RFC 4585 6.1) */
        struct {
            uint16_t nblocks;
            bool has_voip;  /* first VoIP Metrics block kept */
            struct rtcp_xr_voip voip;
        } xr;
    } u;
};

struct rtcp_compound {
    uint8_t npkts;              /* stored packets */
    uint16_t total_pkts;        /* packets walked, stored or not */
    bool too_many;              /* more than TS_RTCP_MAX_PACKETS */
    bool srtcp;                 /* an SRTCP trailer was found */
    bool encrypted;             /* SRTCP E flag: only pkts[0] header is clear */
    uint32_t srtcp_index;       /* 31-bit SRTCP index */
    struct bv auth_tag;
    uint8_t trailing;           /* 1-3 stray bytes after the last packet, ignored */
    struct rtcp_pkt pkts[TS_RTCP_MAX_PACKETS];
};

/* Parse a compound RTCP datagram. The packets must add up exactly to the
 * datagram, or to the datagram minus an SRTCP trailer (index word with the
 * E flag + a 10- or 4-byte tag), or minus 1-3 stray bytes; with E set only
 * the clear first header and SSRC are reported. On failure, pkts[0..npkts) hold what parsed. */
enum rtp_result rtcp_parse(struct bv pkt, struct rtcp_compound *out);

/* Cheap RTCP test (no output): version 2, first packet type 200-207 and the
 * lengths add up as rtcp_parse requires (SRTCP trailer allowed). */
bool rtcp_looks_like(struct bv pkt);

#endif
