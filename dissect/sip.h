/* Zero-copy SIP message parser (RFC 3261 sections 7, 20 and 25): start line,
 * header fields with compact forms, folding and multiple values, body by
 * Content-Length; structured readers for the headers trunk analysis needs.
 * Pure: no globals, clock, I/O or logging. All views point into the input. */
#ifndef TS_SIP_H
#define TS_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/limits.h"

enum sip_result {
    SIP_OK = 0,
    SIP_TRUNCATED,   /* ends before the header block / body is complete */
    SIP_MALFORMED,   /* not a valid SIP message */
    SIP_UNSUPPORTED, /* well-formed but not SIP/2.0 (e.g. SIP/7.0) */
};

enum sip_method {
    SIP_M_UNKNOWN = 0,
    SIP_M_INVITE, SIP_M_ACK, SIP_M_BYE, SIP_M_CANCEL, SIP_M_REGISTER,
    SIP_M_OPTIONS, SIP_M_PRACK, SIP_M_UPDATE, SIP_M_INFO, SIP_M_SUBSCRIBE,
    SIP_M_NOTIFY, SIP_M_REFER, SIP_M_MESSAGE, SIP_M_PUBLISH,
    SIP_M_COUNT
};

/* Known header fields (compact forms map to the same id). */
enum sip_hdr_id {
    SIP_H_OTHER = 0,
    SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ, SIP_H_CONTACT,
    SIP_H_MAX_FORWARDS, SIP_H_RECORD_ROUTE, SIP_H_ROUTE, SIP_H_CONTENT_TYPE,
    SIP_H_CONTENT_LENGTH, SIP_H_REASON, SIP_H_SESSION_ID,
    SIP_H_P_ASSERTED_IDENTITY, SIP_H_HISTORY_INFO, SIP_H_DIVERSION,
    SIP_H_USER_AGENT, SIP_H_SERVER, SIP_H_SUPPORTED, SIP_H_REQUIRE,
    SIP_H_MS_DIAGNOSTICS, SIP_H_RSEQ, SIP_H_RACK, SIP_H_EVENT,
    SIP_H_REFER_TO, SIP_H_REFERRED_BY, SIP_H_REPLACES, SIP_H_SESSION_EXPIRES,
    SIP_H_EXPIRES, SIP_H_AUTHORIZATION, SIP_H_WWW_AUTHENTICATE,
    SIP_H_PROXY_AUTHORIZATION, SIP_H_PROXY_AUTHENTICATE,
    /* added: every compact form has an id, plus common trunk headers */
    SIP_H_DATE, SIP_H_CONTENT_ENCODING, SIP_H_SUBJECT, SIP_H_ALLOW_EVENTS,
    SIP_H_ACCEPT_CONTACT, SIP_H_REJECT_CONTACT, SIP_H_REQUEST_DISPOSITION,
    SIP_H_IDENTITY, SIP_H_IDENTITY_INFO, SIP_H_PROXY_REQUIRE, SIP_H_ALLOW,
    SIP_H_ACCEPT, SIP_H_UNSUPPORTED, SIP_H_PRIVACY, SIP_H_P_PREFERRED_IDENTITY,
    SIP_H_MIN_SE, SIP_H_CONTENT_DISPOSITION, SIP_H_WARNING, SIP_H_RETRY_AFTER,
    SIP_H_PATH, SIP_H_REMOTE_PARTY_ID, SIP_H_TIMESTAMP, SIP_H_ORGANIZATION,
    SIP_H_COUNT
};

/* Anomalies found in a message that still parsed (bit flags). */
enum {
    SIP_F_DUP_SINGLE = 1u << 0,    /* a single-value header appears twice (To, From, Call-ID, CSeq...) */
    SIP_F_CL_MISMATCH = 1u << 1,   /* Content-Length disagrees with the bytes present */
    SIP_F_CL_INVALID = 1u << 2,    /* Content-Length not a number, negative or repeated with other values */
    SIP_F_NO_CL = 1u << 3,         /* no Content-Length (allowed over UDP) */
    SIP_F_MISSING_HDR = 1u << 4,   /* Call-ID, From, To, CSeq or Via missing */
    SIP_F_CSEQ_MISMATCH = 1u << 5, /* request method differs from CSeq method */
    SIP_F_BAD_URI = 1u << 6,       /* Request-URI not parseable */
    SIP_F_BAD_HEADER = 1u << 7,    /* a header value is syntactically bad */
    SIP_F_LF_ONLY = 1u << 8,       /* bare LF line endings */
    SIP_F_TOO_MANY_HDRS = 1u << 9, /* more than TS_SIP_MAX_HEADERS; the rest ignored */
};
/* Flags that say the message is not valid SIP (the others are informational). */
#define SIP_F_INVALID_MASK (SIP_F_DUP_SINGLE | SIP_F_CL_MISMATCH | SIP_F_CL_INVALID | \
                            SIP_F_MISSING_HDR | SIP_F_CSEQ_MISMATCH | SIP_F_BAD_URI |  \
                            SIP_F_BAD_HEADER)

/* sip:/sips: user:password@host:port;params?headers (host without [] for
 * IPv6). tel: the number is in user. Other schemes: only opaque is set
 * (plus host/port/user for "scheme://authority" forms). */
struct sip_uri {
    struct bv scheme, user, password, host, params, headers;
    uint16_t port;     /* 0 when absent */
    struct bv opaque;  /* everything after "scheme:" */
};

/* name-addr / addr-spec with parameters (From, To, Contact, PAI, Diversion, Refer-To). */
struct sip_nameaddr {
    struct bv display;   /* unquoted view (escapes kept) */
    struct bv uri;       /* inside <> or the bare addr-spec */
    struct bv params;    /* header parameters after the URI (";tag=..;...") */
    struct bv tag;       /* ;tag= value */
    struct sip_uri u;    /* parsed uri */
};

struct sip_via {
    struct bv transport;  /* "UDP", "TCP", "TLS", ... */
    struct bv host;
    uint16_t port;
    struct bv branch, received, rport; /* empty when absent */
    bool has_rport;
};

struct sip_hdr {
    struct bv name;   /* as written (may be compact) */
    struct bv value;  /* trimmed; folded lines stay inside the view */
    uint8_t id;       /* enum sip_hdr_id */
};

struct sip_msg {
    bool is_request;
    enum sip_method method;     /* request method (requests) */
    struct bv method_str;       /* request method token */
    struct bv ruri;             /* Request-URI */
    uint16_t status;            /* responses: 100..699 */
    struct bv reason_phrase;    /* responses */
    struct bv version;          /* "SIP/2.0" */

    uint16_t nhdrs;
    struct sip_hdr hdrs[TS_SIP_MAX_HEADERS];
    int16_t first[SIP_H_COUNT]; /* index of first header with that id, -1 */

    /* Essentials, pre-parsed: */
    struct bv call_id;          /* empty when missing */
    uint32_t cseq;
    enum sip_method cseq_method;
    struct bv cseq_method_str;
    int64_t content_length;     /* -1 when absent or invalid */

    struct bv body;             /* message body (Content-Length bytes, or the rest over UDP when absent) */
    size_t msg_len;             /* bytes of this message in the input (start line .. end of body) */
    uint32_t flags;             /* SIP_F_* */

    /* What the parser took apart while validating, kept for the readers
     * below (SIP_HAVE_* in have; *_ok: the parse succeeded). */
    uint8_t have;
    bool from_ok, to_ok, via_ok, ruri_ok;
    struct sip_nameaddr from, to; /* the first From / To field */
    struct sip_via via;           /* the first value of the first Via field */
    struct sip_uri ruri_u;        /* requests: the Request-URI */
};
enum { SIP_HAVE_FROM = 1u << 0, SIP_HAVE_TO = 1u << 1, SIP_HAVE_VIA = 1u << 2,
       SIP_HAVE_RURI = 1u << 3 };

/* Method token to enum (case-sensitive per RFC 3261 7.1); SIP_M_UNKNOWN otherwise. */
enum sip_method sip_method_from(struct bv tok);
const char *sip_method_name(enum sip_method m);

/* Parse one message at the start of buf. stream=true (TCP/SCTP framing):
 * the body must be complete per Content-Length, else SIP_TRUNCATED.
 * stream=false (one UDP datagram): a missing Content-Length means the body
 * runs to the end; a Content-Length beyond the datagram is SIP_TRUNCATED
 * with SIP_F_CL_MISMATCH. Bytes after msg_len are not part of the message. */
enum sip_result sip_parse(const uint8_t *buf, size_t len, bool stream, struct sip_msg *out);

/* Quick test of a start line: "METHOD SP uri SP SIP/x.y" or "SIP/x.y SP ddd".
 * Cheap enough to run on every UDP/TCP payload of a non-SIP port. */
bool sip_looks_like(struct bv payload);

/* The trimmed value of the first Call-ID (or compact i) header of a
 * message's header block, found without parsing the message; BV_NULL when
 * there is none. For read-ahead hints: an odd message may give a value
 * sip_parse() would not. */
struct bv sip_callid_peek(struct bv msg);

/* Start-line plausibility of a buffer prefix (shared with the framer):
 * YES when the first line is a start line, NO when it cannot be one, MAYBE
 * when the line is incomplete but consistent so far. eol_at_end: treat the
 * end of the buffer as the end of the line. */
enum sip_start { SIP_START_NO = 0, SIP_START_MAYBE, SIP_START_YES };
enum sip_start sip_start_line(struct bv buf, bool eol_at_end);

/* Iterate header values with one id, multi-value headers split on commas
 * (outside quotes and <>). *it starts at 0. Returns false when done.
 * Only list-valued headers (sip_hdr_is_list) are split; empty elements are skipped. */
bool sip_hdr_next(const struct sip_msg *m, enum sip_hdr_id id, size_t *it, struct bv *value);
/* First value of a header by name (case-insensitive; for unknown headers
 * such as X-CID). Returns an empty view when absent. */
struct bv sip_hdr_get(const struct sip_msg *m, const char *name);
/* Header name (full or compact, any case) to id; SIP_H_OTHER when unknown. */
enum sip_hdr_id sip_hdr_lookup(struct bv name);
/* True for headers whose value is a comma-separated list (Via, Contact, Route...). */
bool sip_hdr_is_list(enum sip_hdr_id id);

/* false on a missing/bad scheme, whitespace, an empty host (sip/sips) or a bad port. */
bool sip_uri_parse(struct bv s, struct sip_uri *out);
/* Value of a ;name=value parameter in a parameter list (";a=1;b"), case-insensitive name.
 * LWS around ';' and '=' is allowed; a quoted value comes back without its
 * quotes (escapes kept); a parameter without '=' gives an empty value. */
bool sip_param_get(struct bv params, const char *name, struct bv *value);

/* name-addr / addr-spec with parameters (struct sip_nameaddr above). */
bool sip_nameaddr_parse(struct bv v, struct sip_nameaddr *out);
/* Via value: sent-protocol, sent-by, branch/received/rport (struct sip_via above). */
bool sip_via_parse(struct bv v, struct sip_via *out);

/* Reason: SIP ;cause=200 ;text="..." or Q.850 ;cause=16 (RFC 3326). */
struct sip_reason {
    struct bv protocol;   /* "SIP" or "Q.850" */
    uint32_t cause;       /* 0 when absent */
    struct bv text;
};
bool sip_reason_parse(struct bv v, struct sip_reason *out);

/* Session-ID (RFC 7989): local uuid and ;remote= uuid (empty when absent). */
bool sip_session_id_parse(struct bv v, struct bv *local, struct bv *remote);

/* CSeq "123 INVITE". */
bool sip_cseq_parse(struct bv v, uint32_t *seq, struct bv *method);

/* The first From or To field as sip_nameaddr_parse reads it: sip_parse's
 * copy when it made one, else parsed now into *tmp. Never NULL; *ok is false
 * when the field is absent (all zero) or bad (as the parse left it). */
const struct sip_nameaddr *sip_msg_nameaddr(const struct sip_msg *m, enum sip_hdr_id id,
                                            struct sip_nameaddr *tmp, bool *ok);
/* The topmost Via value (sip_hdr_next's first) as sip_via_parse reads it,
 * the same way. */
const struct sip_via *sip_msg_via(const struct sip_msg *m, struct sip_via *tmp, bool *ok);
/* The Request-URI as sip_uri_parse reads it; false when bad or a response. */
bool sip_msg_ruri(const struct sip_msg *m, struct sip_uri *out);

#endif
