/* Zero-copy SIP message parser: RFC 3261 sections 7 (message format), 20
 * (header fields, compact forms), 25 (ABNF). Header values: sip_value.c. */
#include "sip_int.h"

#include <string.h>

_Static_assert(SIP_H_COUNT <= 64, "seen-mask in sip_parse is 64 bits");
_Static_assert(sizeof(size_t) >= 8, "sip_hdr_next packs index and offset in size_t");
_Static_assert(TS_SIP_MAX_HEADERS <= INT16_MAX, "first[] is int16_t");

/* ---- methods ---- */

static const char *const method_names[SIP_M_COUNT] = {
    [SIP_M_UNKNOWN] = "UNKNOWN", [SIP_M_INVITE] = "INVITE", [SIP_M_ACK] = "ACK",
    [SIP_M_BYE] = "BYE", [SIP_M_CANCEL] = "CANCEL", [SIP_M_REGISTER] = "REGISTER",
    [SIP_M_OPTIONS] = "OPTIONS", [SIP_M_PRACK] = "PRACK", [SIP_M_UPDATE] = "UPDATE",
    [SIP_M_INFO] = "INFO", [SIP_M_SUBSCRIBE] = "SUBSCRIBE", [SIP_M_NOTIFY] = "NOTIFY",
    [SIP_M_REFER] = "REFER", [SIP_M_MESSAGE] = "MESSAGE", [SIP_M_PUBLISH] = "PUBLISH",
};

enum sip_method sip_method_from(struct bv t)
{
#define M(lit, id) if (bv_eq(t, BV_LIT(lit))) return id
    switch (t.len) {
    case 3:
        M("ACK", SIP_M_ACK);
        M("BYE", SIP_M_BYE);
        break;
    case 4:
        M("INFO", SIP_M_INFO);
        break;
    case 5:
        M("PRACK", SIP_M_PRACK);
        M("REFER", SIP_M_REFER);
        break;
    case 6:
        switch (bv_at(t, 0)) {
        case 'I': M("INVITE", SIP_M_INVITE); break;
        case 'C': M("CANCEL", SIP_M_CANCEL); break;
        case 'U': M("UPDATE", SIP_M_UPDATE); break;
        case 'N': M("NOTIFY", SIP_M_NOTIFY); break;
        }
        break;
    case 7:
        switch (bv_at(t, 0)) {
        case 'O': M("OPTIONS", SIP_M_OPTIONS); break;
        case 'M': M("MESSAGE", SIP_M_MESSAGE); break;
        case 'P': M("PUBLISH", SIP_M_PUBLISH); break;
        }
        break;
    case 8:
        M("REGISTER", SIP_M_REGISTER);
        break;
    case 9:
        M("SUBSCRIBE", SIP_M_SUBSCRIBE);
        break;
    }
#undef M
    return SIP_M_UNKNOWN;
}

const char *sip_method_name(enum sip_method m)
{
    if ((unsigned)m >= SIP_M_COUNT)
        return "UNKNOWN";
    return method_names[m];
}

/* ---- header names: switch on length, then first letter ---- */

enum sip_hdr_id sip_hdr_lookup(struct bv n)
{
#define H(lit, id) if (EQ(n, lit)) return id
    int c = lc(bv_at(n, 0));
    switch (n.len) {
    case 1:
        switch (c) {
        case 'i': return SIP_H_CALL_ID;
        case 'm': return SIP_H_CONTACT;
        case 'e': return SIP_H_CONTENT_ENCODING;
        case 'l': return SIP_H_CONTENT_LENGTH;
        case 'c': return SIP_H_CONTENT_TYPE;
        case 'f': return SIP_H_FROM;
        case 's': return SIP_H_SUBJECT;
        case 'k': return SIP_H_SUPPORTED;
        case 't': return SIP_H_TO;
        case 'v': return SIP_H_VIA;
        case 'o': return SIP_H_EVENT;
        case 'r': return SIP_H_REFER_TO;
        case 'b': return SIP_H_REFERRED_BY;
        case 'x': return SIP_H_SESSION_EXPIRES;
        case 'u': return SIP_H_ALLOW_EVENTS;
        case 'a': return SIP_H_ACCEPT_CONTACT;
        case 'j': return SIP_H_REJECT_CONTACT;
        case 'd': return SIP_H_REQUEST_DISPOSITION;
        case 'y': return SIP_H_IDENTITY;
        case 'n': return SIP_H_IDENTITY_INFO;
        }
        break;
    case 2: H("to", SIP_H_TO); break;
    case 3: H("via", SIP_H_VIA); break;
    case 4:
        switch (c) {
        case 'f': H("from", SIP_H_FROM); break;
        case 'c': H("cseq", SIP_H_CSEQ); break;
        case 'd': H("date", SIP_H_DATE); break;
        case 'r': H("rack", SIP_H_RACK); H("rseq", SIP_H_RSEQ); break;
        case 'p': H("path", SIP_H_PATH); break;
        }
        break;
    case 5:
        switch (c) {
        case 'r': H("route", SIP_H_ROUTE); break;
        case 'a': H("allow", SIP_H_ALLOW); break;
        case 'e': H("event", SIP_H_EVENT); break;
        }
        break;
    case 6:
        switch (c) {
        case 'r': H("reason", SIP_H_REASON); break;
        case 's': H("server", SIP_H_SERVER); break;
        case 'a': H("accept", SIP_H_ACCEPT); break;
        case 'm': H("min-se", SIP_H_MIN_SE); break;
        }
        break;
    case 7:
        switch (c) {
        case 'c': H("call-id", SIP_H_CALL_ID); H("contact", SIP_H_CONTACT); break;
        case 'r': H("require", SIP_H_REQUIRE); break;
        case 'e': H("expires", SIP_H_EXPIRES); break;
        case 's': H("subject", SIP_H_SUBJECT); break;
        case 'p': H("privacy", SIP_H_PRIVACY); break;
        case 'w': H("warning", SIP_H_WARNING); break;
        }
        break;
    case 8:
        switch (c) {
        case 'r': H("refer-to", SIP_H_REFER_TO); H("replaces", SIP_H_REPLACES); break;
        case 'i': H("identity", SIP_H_IDENTITY); break;
        }
        break;
    case 9:
        switch (c) {
        case 'd': H("diversion", SIP_H_DIVERSION); break;
        case 's': H("supported", SIP_H_SUPPORTED); break;
        case 't': H("timestamp", SIP_H_TIMESTAMP); break;
        }
        break;
    case 10:
        switch (c) {
        case 's': H("session-id", SIP_H_SESSION_ID); break;
        case 'u': H("user-agent", SIP_H_USER_AGENT); break;
        }
        break;
    case 11:
        switch (c) {
        case 'r': H("referred-by", SIP_H_REFERRED_BY); H("retry-after", SIP_H_RETRY_AFTER); break;
        case 'u': H("unsupported", SIP_H_UNSUPPORTED); break;
        }
        break;
    case 12:
        switch (c) {
        case 'm': H("max-forwards", SIP_H_MAX_FORWARDS); break;
        case 'r': H("record-route", SIP_H_RECORD_ROUTE); break;
        case 'c': H("content-type", SIP_H_CONTENT_TYPE); break;
        case 'h': H("history-info", SIP_H_HISTORY_INFO); break;
        case 'a': H("allow-events", SIP_H_ALLOW_EVENTS); break;
        case 'o': H("organization", SIP_H_ORGANIZATION); break;
        }
        break;
    case 13:
        switch (c) {
        case 'a': H("authorization", SIP_H_AUTHORIZATION); break;
        case 'i': H("identity-info", SIP_H_IDENTITY_INFO); break;
        case 'p': H("proxy-require", SIP_H_PROXY_REQUIRE); break;
        }
        break;
    case 14:
        switch (c) {
        case 'c': H("content-length", SIP_H_CONTENT_LENGTH); break;
        case 'm': H("ms-diagnostics", SIP_H_MS_DIAGNOSTICS); break;
        case 'a': H("accept-contact", SIP_H_ACCEPT_CONTACT); break;
        case 'r': H("reject-contact", SIP_H_REJECT_CONTACT); break;
        }
        break;
    case 15:
        switch (c) {
        case 's': H("session-expires", SIP_H_SESSION_EXPIRES); break;
        case 'r': H("remote-party-id", SIP_H_REMOTE_PARTY_ID); break;
        }
        break;
    case 16:
        switch (c) {
        case 'w': H("www-authenticate", SIP_H_WWW_AUTHENTICATE); break;
        case 'c': H("content-encoding", SIP_H_CONTENT_ENCODING); break;
        }
        break;
    case 18: H("proxy-authenticate", SIP_H_PROXY_AUTHENTICATE); break;
    case 19:
        switch (c) {
        case 'p': H("p-asserted-identity", SIP_H_P_ASSERTED_IDENTITY);
                  H("proxy-authorization", SIP_H_PROXY_AUTHORIZATION); break;
        case 'r': H("request-disposition", SIP_H_REQUEST_DISPOSITION); break;
        case 'c': H("content-disposition", SIP_H_CONTENT_DISPOSITION); break;
        }
        break;
    case 20: H("p-preferred-identity", SIP_H_P_PREFERRED_IDENTITY); break;
    }
#undef H
    return SIP_H_OTHER;
}

bool sip_hdr_is_list(enum sip_hdr_id id)
{
    switch (id) {
    case SIP_H_VIA: case SIP_H_CONTACT: case SIP_H_RECORD_ROUTE: case SIP_H_ROUTE:
    case SIP_H_SUPPORTED: case SIP_H_REQUIRE: case SIP_H_PROXY_REQUIRE: case SIP_H_ALLOW:
    case SIP_H_ACCEPT: case SIP_H_ALLOW_EVENTS: case SIP_H_HISTORY_INFO: case SIP_H_DIVERSION:
    case SIP_H_P_ASSERTED_IDENTITY: case SIP_H_P_PREFERRED_IDENTITY: case SIP_H_REASON:
    case SIP_H_ACCEPT_CONTACT: case SIP_H_REJECT_CONTACT: case SIP_H_REQUEST_DISPOSITION:
    case SIP_H_CONTENT_ENCODING: case SIP_H_PATH: case SIP_H_UNSUPPORTED: case SIP_H_WARNING:
    case SIP_H_REMOTE_PARTY_ID:
        return true;
    default:
        return false;
    }
}

/* ---- start line plausibility ---- */

/* "SIP/" 1*3DIGIT "." 1*3DIGIT at i; returns the index after it, 0 on mismatch,
 * or SIZE_MAX when the view ends first (could still match). */
static size_t match_version(struct bv l, size_t i)
{
    static const char sip[] = "SIP/";
    for (size_t k = 0; k < 4; k++, i++) {
        int c = bv_at(l, i);
        if (c < 0)
            return SIZE_MAX;
        if (lc(c) != lc(sip[k]))
            return 0;
    }
    for (int part = 0; part < 2; part++) {
        size_t s = i;
        while (is_digit(bv_at(l, i)) && i - s < 3)
            i++;
        if (bv_at(l, i) < 0 && (part == 0 || i == s))
            return SIZE_MAX;
        if (i == s)
            return 0;
        if (part == 0) {
            if (bv_at(l, i) != '.')
                return 0;
            i++;
        }
    }
    return i;
}

enum sip_start sip_start_line(struct bv buf, bool eol_at_end)
{
    /* A start line begins with a token (a method, or SIP/): any other first
     * byte but a line end says no before the search for the line's end
     * (an RTP packet's payload, every one of which comes through here) */
    int c0 = bv_at(buf, 0);
    if (c0 >= 0 && c0 != '\r' && c0 != '\n' && !is_token(c0))
        return SIP_START_NO;
    long nl = bv_index(buf, '\n');
    bool complete = nl >= 0 || eol_at_end;
    struct bv l = nl >= 0 ? span(buf, 0, (size_t)nl) : buf;
    if (l.len && bv_at(l, l.len - 1) == '\r')
        l.len--; /* also when the LF has not arrived yet */
    if (!l.len)
        return complete ? SIP_START_NO : SIP_START_MAYBE;

    if (bv_prefix_ci(l, "SIP/") || (l.len < 4 && eq_ci(l, "SIP/", l.len))) {
        size_t i = match_version(l, 0);
        if (i == 0)
            return SIP_START_NO;
        if (i == SIZE_MAX)
            return complete ? SIP_START_NO : SIP_START_MAYBE;
        static const int pat[4] = { ' ', 'd', 'd', 'd' };
        for (int k = 0; k < 4; k++, i++) {
            int c = bv_at(l, i);
            if (c < 0)
                return complete ? SIP_START_NO : SIP_START_MAYBE;
            if (pat[k] == 'd' ? !is_digit(c) : c != ' ')
                return SIP_START_NO;
        }
        int c = bv_at(l, i);
        if (c >= 0 && c != ' ')
            return SIP_START_NO;
        if (c < 0 && !complete)
            return SIP_START_MAYBE;
        return SIP_START_YES;
    }

    size_t m = skip_token(l, 0);
    if (m == 0 || m > 64) /* RFC 4475 intmeth has a 43-octet method */
        return SIP_START_NO;
    if (m == l.len)
        return complete ? SIP_START_NO : SIP_START_MAYBE;
    if (bv_at(l, m) != ' ')
        return SIP_START_NO;
    /* the same verdict whether or not the line end has arrived: a stream
     * framer asks before and after it does */
    for (size_t i = m; i < l.len; i++) {
        int c = bv_at(l, i);
        if (c < 0x20 || c == 0x7f)
            return SIP_START_NO;
    }
    if (!complete)
        return SIP_START_MAYBE;
    /* the version is the last word; the Request-URI sits between */
    size_t sp = l.len;
    while (sp > m && bv_at(l, sp - 1) != ' ')
        sp--;
    if (sp <= m + 1)
        return SIP_START_NO;
    size_t e = match_version(l, sp);
    if (e == 0 || e == SIZE_MAX || e != l.len)
        return SIP_START_NO;
    return SIP_START_YES;
}

bool sip_looks_like(struct bv payload)
{
    return sip_start_line(payload, true) == SIP_START_YES;
}

struct bv sip_callid_peek(struct bv msg)
{
    struct bv line, name;
    if (!bv_line(&msg, &line)) /* the start line */
        return BV_NULL;
    while (bv_line(&msg, &line) && line.len) {
        int c0 = bv_at(line, 0) | 0x20; /* most lines are not it: one byte says so */
        if ((c0 != 'c' && c0 != 'i') || !bv_until(&line, ':', &name))
            continue;
        name = bv_trim(name);
        if (bv_eq_ci(name, "call-id") || bv_eq_ci(name, "i"))
            return bv_trim(line);
    }
    return BV_NULL;
}

/* ---- the message ---- */

/* SIP-Version at v: 1 = SIP/2.0, 0 = other well-formed version, -1 = malformed. */
static int version_check(struct bv v)
{
    size_t e = match_version(v, 0);
    if (e == 0 || e == SIZE_MAX || e != v.len)
        return -1;
    return EQ(v, "SIP/2.0") ? 1 : 0;
}

static enum sip_result parse_start(struct bv line, struct sip_msg *out)
{
    if (bv_prefix_ci(line, "SIP/")) {
        long sp = bv_index(line, ' ');
        if (sp < 0)
            return SIP_MALFORMED;
        out->version = span(line, 0, (size_t)sp);
        int vc = version_check(out->version);
        if (vc < 0)
            return SIP_MALFORMED;
        size_t i = (size_t)sp + 1, s = i;
        while (is_digit(bv_at(line, i)) && i - s < 4)
            i++;
        uint32_t code;
        if (i - s != 3 || !bv_u32dec(span(line, s, i), &code) || code < 100 || code > 699)
            return SIP_MALFORMED;
        int c = bv_at(line, i);
        if (c >= 0 && c != ' ')
            return SIP_MALFORMED;
        out->status = (uint16_t)code;
        out->reason_phrase = bv_from(line, i + 1);
        if (c < 0)
            out->reason_phrase = bv_make(line.p, 0);
        out->is_request = false;
        return vc ? SIP_OK : SIP_UNSUPPORTED;
    }
    long sp1 = bv_index(line, ' ');
    if (sp1 <= 0)
        return SIP_MALFORMED;
    out->method_str = span(line, 0, (size_t)sp1);
    if (!all_token(out->method_str))
        return SIP_MALFORMED;
    struct bv rest = bv_from(line, (size_t)sp1 + 1);
    long sp2 = bv_index(rest, ' ');
    if (sp2 <= 0)
        return SIP_MALFORMED;
    out->ruri = span(rest, 0, (size_t)sp2);
    for (size_t i = 0; i < out->ruri.len; i++) {
        int c = bv_at(out->ruri, i);
        if (c < 0x21 || c == 0x7f)
            return SIP_MALFORMED;
    }
    out->version = bv_from(rest, (size_t)sp2 + 1);
    int vc = version_check(out->version);
    if (vc < 0)
        return SIP_MALFORMED;
    out->is_request = true;
    out->method = sip_method_from(out->method_str);
    return vc ? SIP_OK : SIP_UNSUPPORTED;
}

struct pstate {
    uint64_t seen;
    bool cl_seen, cl_bad;
    uint64_t cl;
};

static bool date_valid(struct bv v)
{
    /* RFC 3261 20.17: rfc1123-date, always "GMT" */
    return v.len > 4 && EQ(span(v, v.len - 4, v.len), " GMT");
}

/* Pre-parse one complete header field: essentials, duplicates, validation. */
static enum sip_result header_done(struct sip_msg *out, struct pstate *ps, struct sip_hdr *h)
{
    uint64_t bit = 1ull << h->id;
    bool dup = h->id != SIP_H_OTHER && (ps->seen & bit);
    ps->seen |= bit;
    switch (h->id) {
    case SIP_H_CALL_ID:
        if (dup) {
            out->flags |= SIP_F_DUP_SINGLE;
        } else {
            out->call_id = h->value;
            if (!h->value.len)
                out->flags |= SIP_F_BAD_HEADER;
        }
        break;
    case SIP_H_CSEQ:
        if (dup) {
            out->flags |= SIP_F_DUP_SINGLE;
        } else {
            if (!sip_cseq_parse(h->value, &out->cseq, &out->cseq_method_str))
                return SIP_MALFORMED;
            out->cseq_method = sip_method_from(out->cseq_method_str);
        }
        break;
    case SIP_H_FROM:
    case SIP_H_TO: {
        /* kept for sip_msg_nameaddr(): callers read From/To of every message */
        bool from = h->id == SIP_H_FROM;
        struct sip_nameaddr *na = from ? &out->from : &out->to;
        if (dup) {
            out->flags |= SIP_F_DUP_SINGLE;
            break;
        }
        bool ok = sip_nameaddr_parse(h->value, na);
        if (!ok)
            out->flags |= SIP_F_BAD_HEADER;
        if (from)
            out->from_ok = ok;
        else
            out->to_ok = ok;
        out->have |= from ? SIP_HAVE_FROM : SIP_HAVE_TO;
        break;
    }
    case SIP_H_MAX_FORWARDS: {
        uint32_t mf;
        if (dup)
            out->flags |= SIP_F_DUP_SINGLE;
        else if (!bv_u32dec(h->value, &mf) || mf > 255)
            out->flags |= SIP_F_BAD_HEADER;
        break;
    }
    case SIP_H_CONTENT_TYPE:
        if (dup)
            out->flags |= SIP_F_DUP_SINGLE;
        break;
    case SIP_H_CONTENT_LENGTH: {
        uint64_t n;
        if (!bv_u64dec(h->value, &n) || n > UINT32_MAX)
            ps->cl_bad = true;
        else if (ps->cl_seen && n != ps->cl)
            ps->cl_bad = true;
        else if (ps->cl_seen)
            out->flags |= SIP_F_DUP_SINGLE;
        ps->cl_seen = true;
        ps->cl = n;
        break;
    }
    case SIP_H_VIA: {
        /* only the topmost Via: it is the one transactions match on, and
         * long proxy chains stay cheap */
        size_t off = 0;
        struct bv e;
        if (!dup && list_next(h->value, &off, &e)) {
            out->via_ok = sip_via_parse(e, &out->via);
            out->have |= SIP_HAVE_VIA;
            if (!out->via_ok)
                out->flags |= SIP_F_BAD_HEADER;
        }
        break;
    }
    case SIP_H_CONTACT: {
        size_t off = 0;
        struct bv e;
        struct sip_nameaddr na;
        while (list_next(h->value, &off, &e))
            if (!(e.len == 1 && bv_at(e, 0) == '*') && !sip_nameaddr_parse(e, &na)) {
                out->flags |= SIP_F_BAD_HEADER;
                break;
            }
        break;
    }
    case SIP_H_DATE:
        if (!date_valid(h->value))
            out->flags |= SIP_F_BAD_HEADER;
        break;
    default:
        break;
    }
    return SIP_OK;
}

static void msg_reset(struct sip_msg *out)
{
    out->is_request = false;
    out->method = SIP_M_UNKNOWN;
    out->method_str = out->ruri = out->reason_phrase = out->version = BV_NULL;
    out->status = 0;
    out->nhdrs = 0;
    memset(out->first, 0xff, sizeof out->first);   /* -1 each */
    out->call_id = out->cseq_method_str = out->body = BV_NULL;
    out->cseq = 0;
    out->cseq_method = SIP_M_UNKNOWN;
    out->content_length = -1;
    out->msg_len = 0;
    out->flags = 0;
    out->have = 0;
}

enum sip_result sip_parse(const uint8_t *buf, size_t len, bool stream, struct sip_msg *out)
{
    struct bv in = bv_make(buf, len);
    msg_reset(out);

    long nl = bv_index(in, '\n');
    if (nl < 0)
        return sip_start_line(in, false) == SIP_START_NO ? SIP_MALFORMED : SIP_TRUNCATED;
    bool lf_only = !(nl > 0 && bv_at(in, (size_t)nl - 1) == '\r');
    struct bv line = span(in, 0, lf_only ? (size_t)nl : (size_t)nl - 1);
    enum sip_result r = parse_start(line, out);
    if (r != SIP_OK)
        return r;

    /* One pass over the header block: a field is finished when the next line
     * does not start with SP/HTAB (folding, RFC 3261 7.3.1). */
    struct pstate ps = { 0, false, false, 0 };
    struct sip_hdr cur = { BV_NULL, BV_NULL, 0 };
    size_t val_off = 0, val_end = 0, pos = (size_t)nl + 1, hend;
    bool active = false;
    for (;;) {
        long k = bv_index(bv_from(in, pos), '\n');
        if (k < 0)
            return SIP_TRUNCATED;
        size_t lend = pos + (size_t)k, cend = lend;
        if (cend > pos && bv_at(in, cend - 1) == '\r')
            cend--;
        else
            lf_only = true;
        int c0 = bv_at(in, pos);
        bool blank = cend == pos;
        if (!blank && (c0 == ' ' || c0 == '\t')) {
            if (!active)
                return SIP_MALFORMED;
            val_end = cend;
            pos = lend + 1;
            continue;
        }
        if (active) {
            cur.value = bv_trim(span(in, val_off, val_end));
            if (header_done(out, &ps, &cur) != SIP_OK)
                return SIP_MALFORMED;
            if (out->nhdrs < TS_SIP_MAX_HEADERS) {
                if (out->first[cur.id] < 0)
                    out->first[cur.id] = (int16_t)out->nhdrs;
                out->hdrs[out->nhdrs++] = cur;
            } else {
                out->flags |= SIP_F_TOO_MANY_HDRS;
                /* not kept: the readers must not see what header_done took */
                if (out->first[cur.id] < 0)
                    out->have &= (uint8_t)~(cur.id == SIP_H_FROM  ? SIP_HAVE_FROM
                                            : cur.id == SIP_H_TO  ? SIP_HAVE_TO
                                            : cur.id == SIP_H_VIA ? SIP_HAVE_VIA
                                                                  : 0u);
            }
            active = false;
        }
        if (blank) {
            hend = lend + 1;
            break;
        }
        size_t i = skip_token(in, pos);
        if (i == pos)
            return SIP_MALFORMED;
        cur.name = span(in, pos, i);
        while (is_sp(bv_at(in, i)))
            i++;
        if (i >= cend || bv_at(in, i) != ':')
            return SIP_MALFORMED;
        cur.id = (uint8_t)sip_hdr_lookup(cur.name);
        val_off = i + 1;
        val_end = cend;
        active = true;
        pos = lend + 1;
    }

    const uint64_t need = (1ull << SIP_H_CALL_ID) | (1ull << SIP_H_FROM) | (1ull << SIP_H_TO) |
                          (1ull << SIP_H_CSEQ) | (1ull << SIP_H_VIA);
    if ((ps.seen & need) != need)
        out->flags |= SIP_F_MISSING_HDR;
    if (out->is_request) {
        if ((ps.seen & (1ull << SIP_H_CSEQ)) && !bv_eq(out->method_str, out->cseq_method_str))
            out->flags |= SIP_F_CSEQ_MISMATCH;
        /* RFC 3261 19.1.1: headers are not allowed in a Request-URI */
        out->ruri_ok = sip_uri_parse(out->ruri, &out->ruri_u);
        out->have |= SIP_HAVE_RURI;
        if (!out->ruri_ok || out->ruri_u.headers.len)
            out->flags |= SIP_F_BAD_URI;
    }
    if (lf_only)
        out->flags |= SIP_F_LF_ONLY;

    size_t avail = len - hend, blen;
    if (ps.cl_bad) {
        out->flags |= SIP_F_CL_INVALID;
        blen = stream ? 0 : avail;
    } else if (ps.cl_seen) {
        out->content_length = (int64_t)ps.cl;
        if (ps.cl > avail) {
            if (!stream)
                out->flags |= SIP_F_CL_MISMATCH;
            out->body = bv_from(in, hend);
            out->msg_len = len;
            return SIP_TRUNCATED;
        }
        blen = (size_t)ps.cl;
    } else {
        out->flags |= SIP_F_NO_CL;
        blen = stream ? 0 : avail;
    }
    out->body = span(in, hend, hend + blen);
    out->msg_len = hend + blen;
    return SIP_OK;
}

/* ---- readers over a parsed message ---- */

bool sip_hdr_next(const struct sip_msg *m, enum sip_hdr_id id, size_t *it, struct bv *value)
{
    if ((unsigned)id >= SIP_H_COUNT)
        return false;
    size_t h, off;
    if (*it == 0) {
        if (m->first[id] < 0)
            return false;
        h = (size_t)m->first[id];
        off = 0;
    } else {
        h = (*it >> 32) - 1;
        off = *it & 0xffffffffu;
    }
    bool list = sip_hdr_is_list(id);
    while (h < m->nhdrs) {
        const struct sip_hdr *hd = &m->hdrs[h];
        if (hd->id == id) {
            if (list) {
                if (list_next(hd->value, &off, value)) {
                    *it = ((h + 1) << 32) | (off & 0xffffffffu);
                    return true;
                }
            } else if (off == 0) {
                *value = hd->value;
                *it = ((h + 1) << 32) | 0xffffffffu;
                return true;
            }
        }
        h++;
        off = 0;
    }
    *it = ((m->nhdrs + (size_t)1) << 32) | 0xffffffffu;
    return false;
}

struct bv sip_hdr_get(const struct sip_msg *m, const char *name)
{
    struct bv n = bv_cstr(name), v;
    enum sip_hdr_id id = sip_hdr_lookup(n);
    if (id != SIP_H_OTHER) {
        size_t it = 0;
        if (sip_hdr_next(m, id, &it, &v))
            return v;
        return BV_NULL;
    }
    for (size_t i = 0; i < m->nhdrs; i++)
        if (m->hdrs[i].id == SIP_H_OTHER && eq_ci(m->hdrs[i].name, name, n.len))
            return m->hdrs[i].value;
    return BV_NULL;
}

const struct sip_nameaddr *sip_msg_nameaddr(const struct sip_msg *m, enum sip_hdr_id id,
                                            struct sip_nameaddr *tmp, bool *ok)
{
    if (id == SIP_H_FROM && (m->have & SIP_HAVE_FROM)) {
        *ok = m->from_ok;
        return &m->from;
    }
    if (id == SIP_H_TO && (m->have & SIP_HAVE_TO)) {
        *ok = m->to_ok;
        return &m->to;
    }
    size_t it = 0;
    struct bv v;
    memset(tmp, 0, sizeof *tmp);
    *ok = sip_hdr_next(m, id, &it, &v) && sip_nameaddr_parse(v, tmp);
    return tmp;
}

const struct sip_via *sip_msg_via(const struct sip_msg *m, struct sip_via *tmp, bool *ok)
{
    if (m->have & SIP_HAVE_VIA) {
        *ok = m->via_ok;
        return &m->via;
    }
    size_t it = 0;
    struct bv v;
    memset(tmp, 0, sizeof *tmp);
    *ok = sip_hdr_next(m, SIP_H_VIA, &it, &v) && sip_via_parse(v, tmp);
    return tmp;
}

bool sip_msg_ruri(const struct sip_msg *m, struct sip_uri *out)
{
    if (m->have & SIP_HAVE_RURI) {
        *out = m->ruri_u;
        return m->ruri_ok;
    }
    if (!m->is_request) {
        memset(out, 0, sizeof *out);
        return false;
    }
    return sip_uri_parse(m->ruri, out);
}
