/* Zero-copy SDP parser (RFC 8866, ex 4566) for offer/answer (RFC 3264):
 * origin, connection, media sections and the attributes that media analysis
 * needs (rtpmap, fmtp, ptime, direction, RFC 3605 rtcp, RFC 5761 rtcp-mux,
 * RFC 4568 crypto, RFC 8122 fingerprint, RFC 4574 label, RFC 4733 events).
 * Pure: no globals, I/O or allocation. All views point into the body. */
#ifndef TS_SDP_H
#define TS_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/limits.h"

enum sdp_result {
    SDP_OK = 0,
    SDP_MALFORMED,   /* no v=, or a bad o=/c=/m= line; the rest still parsed */
    SDP_UNSUPPORTED, /* v= other than 0 */
};

/* Anomalies in a body that still parsed (bit flags in sdp.flags). */
enum {
    SDP_F_TOO_MANY_MEDIA = 1u << 0,   /* m= beyond TS_SDP_MAX_MEDIA ignored */
    SDP_F_TOO_MANY_FORMATS = 1u << 1, /* formats/rtpmaps/fmtps beyond TS_SDP_MAX_FORMATS */
    SDP_F_BAD_LINE = 1u << 2,         /* a line not of the form "x=..." skipped */
    SDP_F_BAD_ATTR = 1u << 3,         /* a known a= attribute with a bad value skipped */
    SDP_F_BAD_MEDIA = 1u << 4,        /* an m= line could not be parsed */
    SDP_F_BAD_CONN = 1u << 5,         /* a c= line could not be parsed */
    SDP_F_BAD_ORIGIN = 1u << 6,       /* o= line could not be parsed */
    SDP_F_NO_VERSION = 1u << 7,       /* no v= line */
    SDP_F_LF_ONLY = 1u << 8,          /* bare LF line endings */
};

enum sdp_dir {
    SDP_DIR_NONE = 0,   /* no direction attribute */
    SDP_DIR_SENDRECV,
    SDP_DIR_SENDONLY,
    SDP_DIR_RECVONLY,
    SDP_DIR_INACTIVE,
};

enum sdp_media_type {
    SDP_MEDIA_OTHER = 0, SDP_MEDIA_AUDIO, SDP_MEDIA_VIDEO, SDP_MEDIA_IMAGE,
    SDP_MEDIA_APPLICATION, SDP_MEDIA_TEXT, SDP_MEDIA_MESSAGE,
};

enum sdp_proto {
    SDP_PROTO_OTHER = 0,
    SDP_PROTO_RTP_AVP,          /* RTP/AVP */
    SDP_PROTO_RTP_AVPF,         /* RTP/AVPF */
    SDP_PROTO_RTP_SAVP,         /* RTP/SAVP */
    SDP_PROTO_RTP_SAVPF,        /* RTP/SAVPF */
    SDP_PROTO_UDP_TLS_RTP_SAVP, /* UDP/TLS/RTP/SAVP */
    SDP_PROTO_UDP_TLS_RTP_SAVPF,/* UDP/TLS/RTP/SAVPF */
    SDP_PROTO_UDPTL,            /* udptl (T.38) */
    SDP_PROTO_TCP,              /* TCP, TCP/MSRP, TCP/TLS... */
};

/* A c= line (or the address of a=rtcp). */
struct sdp_conn {
    bool present;
    struct bv addrtype;     /* "IP4" / "IP6" as written */
    struct bv addr_str;     /* address as written, /ttl and /count removed */
    uint8_t family;         /* 4 or 6 when addr_str is an IP literal, else 0 (FQDN) */
    uint8_t addr[16];       /* network order; IPv4 in the first 4 bytes */
    bool hold;              /* 0.0.0.0: RFC 2543 style hold (RFC 3264 8.4) */
};

struct sdp_origin {
    bool present;
    struct bv username, sess_id, sess_version, nettype, addrtype, addr;
    uint64_t sess_version_num; /* 0 when not a number */
};

struct sdp_rtpmap {
    uint8_t pt;
    struct bv name;         /* encoding name ("PCMU", "telephone-event") */
    uint32_t clock;
    uint8_t channels;       /* 1 when absent */
};

struct sdp_fmtp {
    uint8_t pt;
    struct bv params;
};

struct sdp_media {
    enum sdp_media_type type;
    struct bv type_str;
    uint16_t port;
    uint16_t nports;        /* "port/number" (1 when absent) */
    enum sdp_proto proto;
    struct bv proto_str;
    struct bv fmt_str;      /* the whole format list as written */
    uint8_t nfmt;           /* numeric payload types in fmt[] */
    uint8_t fmt[TS_SDP_MAX_FORMATS];
    uint8_t nrtpmap;
    struct sdp_rtpmap rtpmap[TS_SDP_MAX_FORMATS];
    uint8_t nfmtp;
    struct sdp_fmtp fmtp[TS_SDP_MAX_FORMATS];
    struct sdp_conn conn;   /* media-level c= (present when given) */
    uint32_t ptime, maxptime;   /* ms, 0 when absent */
    enum sdp_dir dir_attr;  /* direction written in this section */
    enum sdp_dir dir;       /* effective: media, else session, else sendrecv */
    uint16_t rtcp_port;     /* a=rtcp (RFC 3605), 0 when absent */
    struct sdp_conn rtcp_conn; /* a=rtcp address, when given */
    bool rtcp_mux;
    bool crypto;            /* a=crypto (SDES-SRTP, RFC 4568) */
    uint8_t ncrypto;        /* a=crypto values kept (the first TS_SDP_MAX_CRYPTO) */
    struct bv crypto_val[TS_SDP_MAX_CRYPTO]; /* "1 AES_CM_128_HMAC_SHA1_80 inline:..." */
    bool fingerprint;       /* a=fingerprint here or at session level (DTLS-SRTP) */
    struct bv label;        /* a=label (RFC 4574) */
    int16_t te_pt;          /* telephone-event payload type, -1 when none */
    uint32_t te_clock;
};

struct sdp {
    uint32_t version;
    bool has_version;
    struct sdp_origin origin;
    struct bv session_name;
    struct sdp_conn conn;       /* session-level c= */
    enum sdp_dir dir;           /* session-level direction attribute */
    bool fingerprint;           /* session-level a=fingerprint */
    uint32_t flags;             /* SDP_F_* */
    uint8_t nmedia;
    uint16_t media_seen;        /* m= lines in the body, kept or not */
    struct sdp_media media[TS_SDP_MAX_MEDIA];
};

/* Parse an SDP body (CRLF or LF lines, any order, unknown lines skipped).
 * *out is always filled with what could be parsed; on SDP_MALFORMED it is
 * still usable where lines were good. Views point into body. */
enum sdp_result sdp_parse(struct bv body, struct sdp *out);

/* First audio section with a non-zero port, else the first audio one, else
 * NULL. */
const struct sdp_media *sdp_first_audio(const struct sdp *s);

/* The connection that applies to m: media-level c=, else session-level c=
 * (a view that is not present when neither was given). */
const struct sdp_conn *sdp_media_conn(const struct sdp *s, const struct sdp_media *m);

/* Codec of pt in m: its rtpmap, else the RFC 3551 static table. *name is a
 * view into the body or a static string; *clock 0 when unknown. */
bool sdp_codec_for_pt(const struct sdp_media *m, uint8_t pt, struct bv *name,
                      uint32_t *clock);

/* True for RTP-based transports (RTP/AVP, SAVP(F), UDP/TLS/RTP/...). */
bool sdp_proto_is_rtp(enum sdp_proto p);

#endif
