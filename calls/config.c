/* Call tracker configuration: defaults, the small "key = value" file,
 * internal-network test, enum names and time formatting. */
#include "calls_int.h"

#include "../common/num.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bounded copy of wire bytes; anything but printable ASCII becomes '?' so the
 * stored text is valid UTF-8 for JSON and harmless on a terminal. */
void calls_cp(char *dst, size_t cap, struct bv v)
{
    size_t n = 0;
    if (!cap)
        return;
    for (size_t i = 0; i < v.len && n + 1 < cap; i++) {
        int ch = bv_at(v, i);
        dst[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[n] = '\0';
}

static bool parse_cidr(const char *s, struct calls_net *out)
{
    char buf[64];
    size_t l = strlen(s);
    if (l == 0 || l >= sizeof buf)
        return false;
    memcpy(buf, s, l + 1);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        int64_t v;
        if (!num_i64(slash + 1, 0, 1000, &v))
            return false;
        plen = (long)v;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr.a) == 1) {
        out->addr.family = 4;
        if (plen < 0)
            plen = 32;
        if (plen > 32)
            return false;
    } else if (inet_pton(AF_INET6, buf, out->addr.a) == 1) {
        out->addr.family = 6;
        if (plen < 0)
            plen = 128;
        if (plen > 128)
            return false;
    } else {
        return false;
    }
    out->plen = (uint8_t)plen;
    return true;
}

static bool parse_addr(const char *s, struct ts_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->a) == 1) {
        a->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, a->a) == 1) {
        a->family = 6;
        return true;
    }
    return false;
}

static void add_net(struct calls_config *cfg, const char *s)
{
    if (cfg->nnets < TS_CALLS_MAX_NETS && parse_cidr(s, &cfg->nets[cfg->nnets]))
        cfg->nnets++;
}

static void set_str(char *dst, size_t cap, const char *s)
{
    calls_cp(dst, cap, bv_cstr(s));
}

void calls_config_default(struct calls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    add_net(cfg, "10.0.0.0/8");
    add_net(cfg, "172.16.0.0/12");
    add_net(cfg, "192.168.0.0/16");
    add_net(cfg, "fc00::/7");
    add_net(cfg, "127.0.0.0/8");   /* loopback is never a carrier */
    add_net(cfg, "::1/128");
    static const char *const hdrs[] = { "X-CID", "X-Call-ID", "X-Original-Call-ID",
                                        "X-Orig-Call-ID" };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++)
        set_str(cfg->corr_hdrs[cfg->ncorr_hdrs++], CALLS_USER_LEN, hdrs[i]);
    cfg->corr_window_ms = 2000;
    cfg->linger_ms = 4000;
    cfg->auth_linger_s = 90;
    set_str(cfg->national_prefix, sizeof cfg->national_prefix, "0");
    set_str(cfg->intl_prefix, sizeof cfg->intl_prefix, "00");
    cfg->no_final_timeout_s = 180;
    cfg->no_bye_timeout_s = 4 * 3600;
    cfg->bucket_s = 60;
    cfg->max_dialogs = TS_MAX_DIALOGS;
    cfg->learn_hold_legs = TS_TOPO_CONVERGE_LEGS;
    cfg->learn_hold_s = TS_TOPO_CONVERGE_S;
}

bool calls_config_internal(const struct calls_config *cfg, const struct ts_addr *a)
{
    for (size_t i = 0; i < cfg->nnets; i++) {
        const struct calls_net *n = &cfg->nets[i];
        if (n->addr.family != a->family)
            continue;
        unsigned full = n->plen / 8, rem = n->plen % 8;
        if (memcmp(n->addr.a, a->a, full) != 0)
            continue;
        if (rem) {
            uint8_t mask = (uint8_t)(0xffu << (8 - rem));
            if ((n->addr.a[full] & mask) != (a->a[full] & mask))
                continue;
        }
        return true;
    }
    return false;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
        s[--l] = '\0';
    return s;
}

static bool parse_u32(const char *v, uint32_t *out)
{
    uint64_t x;
    if (!num_u64(v, 0, UINT32_MAX, &x))
        return false;
    *out = (uint32_t)x;
    return true;
}

/* The settings whose value is a whole number. */
static bool num_key(const char *k)
{
    static const char *const K[] = { "corr_window_ms", "linger_ms", "auth_linger_s",
                                     "no_final_timeout_s", "no_bye_timeout_s", "bucket_s",
                                     "max_dialogs", "learn_hold_legs", "learn_hold_s" };
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++)
        if (!strcmp(k, K[i]))
            return true;
    return false;
}

/* File format, one setting per line, '#' comments:
 *   internal_net = 10.0.0.0/8        (repeatable; first use drops the defaults)
 *   corr_header = X-CID              (repeatable; first use drops the defaults)
 *   corr_window_ms = 2000
 *   linger_ms = 4000
 *   auth_linger_s = 90
 *   country_code = 49
 *   national_prefix = 0
 *   intl_prefix = 00
 *   no_final_timeout_s = 180
 *   no_bye_timeout_s = 14400
 *   bucket_s = 60
 *   max_dialogs = 65536
 *   trunk = 203.0.113.5 Carrier-A    (name of the peer at that address)
 *   sbc = 198.51.100.10              (an SBC address, repeatable; others are learned) */
int calls_config_load(struct calls_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CALLS_ERR_IO;
    }
    char line[512];
    unsigned lineno = 0;
    bool nets_set = false, hdrs_set = false;
    int rc = CALLS_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%u: expected key = value", path, lineno);
            rc = CALLS_ERR_SYNTAX;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        uint32_t u = 0;
        bool ok = true;
        const char *expect = NULL; /* what a good value looks like, for the error */
        if (!strcmp(k, "internal_net")) {
            if (!nets_set) {
                cfg->nnets = 0;
                nets_set = true;
            }
            if (!strcmp(v, "none")) {
                /* no address ranges at all: sides are only learned */
                cfg->nets_set = false;
            } else {
                expect = "an address range such as 10.20.0.0/16 or 2001:db8::/48, or none "
                         "(at most " TS_STR(TS_CALLS_MAX_NETS) " lines)";
                ok = cfg->nnets < TS_CALLS_MAX_NETS && parse_cidr(v, &cfg->nets[cfg->nnets]);
                if (ok) {
                    cfg->nnets++;
                    cfg->nets_set = true;
                }
            }
        } else if (!strcmp(k, "corr_header")) {
            if (!hdrs_set) {
                cfg->ncorr_hdrs = 0;
                hdrs_set = true;
            }
            expect = "a header name (at most " TS_STR(TS_CALLS_MAX_CORR_HDRS) " lines)";
            ok = cfg->ncorr_hdrs < TS_CALLS_MAX_CORR_HDRS && *v;
            if (ok)
                set_str(cfg->corr_hdrs[cfg->ncorr_hdrs++], CALLS_USER_LEN, v);
        } else if (!strcmp(k, "country_code")) {
            set_str(cfg->country_code, sizeof cfg->country_code, v);
        } else if (!strcmp(k, "national_prefix")) {
            set_str(cfg->national_prefix, sizeof cfg->national_prefix, v);
        } else if (!strcmp(k, "intl_prefix")) {
            set_str(cfg->intl_prefix, sizeof cfg->intl_prefix, v);
        } else if (!strcmp(k, "sbc")) {
            expect = "an IPv4 or IPv6 address (at most " TS_STR(TS_CALLS_MAX_SBC) " lines)";
            ok = cfg->nsbcs < TS_CALLS_MAX_SBC && parse_addr(v, &cfg->sbcs[cfg->nsbcs]);
            if (ok)
                cfg->nsbcs++;
        } else if (!strcmp(k, "trunk")) {
            char *sp = v;
            while (*sp && *sp != ' ' && *sp != '\t')
                sp++;
            char *name = *sp ? trim(sp + 1) : sp;
            *sp = '\0';
            struct calls_trunk_name *tn = &cfg->trunk_names[cfg->ntrunk_names];
            expect = "an address and a name, e.g. trunk = 203.0.113.5 Carrier-A (at most " TS_STR(
                TS_CALLS_MAX_TRUNK_NAMES) " lines)";
            ok = cfg->ntrunk_names < TS_CALLS_MAX_TRUNK_NAMES && *name &&
                 parse_addr(v, &tn->addr);
            if (ok) {
                set_str(tn->name, sizeof tn->name, name);
                cfg->ntrunk_names++;
            }
        } else if (!strcmp(k, "audio")) {
            /* recordings are personal data: only an explicit "on" plays them */
            expect = "on or off";
            ok = !strcmp(v, "on") || !strcmp(v, "off");
            cfg->audio = !strcmp(v, "on");
        } else if (num_key(k)) {
            expect = "a whole number from 0 to 4294967295";
            ok = parse_u32(v, &u);
            if (ok && !strcmp(k, "corr_window_ms"))
                cfg->corr_window_ms = u;
            else if (ok && !strcmp(k, "linger_ms"))
                cfg->linger_ms = u;
            else if (ok && !strcmp(k, "auth_linger_s"))
                cfg->auth_linger_s = u;
            else if (ok && !strcmp(k, "no_final_timeout_s"))
                cfg->no_final_timeout_s = u ? u : 1;
            else if (ok && !strcmp(k, "no_bye_timeout_s"))
                cfg->no_bye_timeout_s = u ? u : 1;
            else if (ok && !strcmp(k, "bucket_s"))
                cfg->bucket_s = u ? u : 1;
            else if (ok && !strcmp(k, "max_dialogs"))
                cfg->max_dialogs = (u && u <= TS_MAX_DIALOGS) ? u : TS_MAX_DIALOGS;
            else if (ok && !strcmp(k, "learn_hold_legs"))
                cfg->learn_hold_legs = u;
            else if (ok && !strcmp(k, "learn_hold_s"))
                cfg->learn_hold_s = u;
        } else if (!strncmp(k, "alert", 5) || !strncmp(k, "notify.", 7) ||
                   !strcmp(k, "capacity")) {
            /* alert rules and notifications: read by alert/rules.c */
        } else {
            snprintf(err, errlen, "%s:%u: unknown setting '%s' (the settings are listed in "
                     "contrib/trunkscope.conf.example)", path, lineno, k);
            rc = CALLS_ERR_SYNTAX;
            break;
        }
        if (!ok) {
            snprintf(err, errlen, "%s:%u: %s = '%s': expected %s", path, lineno, k, v,
                     expect ? expect : "a value");
            rc = CALLS_ERR_SYNTAX;
            break;
        }
    }
    fclose(f);
    return rc;
}

const char *calls_outcome_name(enum calls_outcome o)
{
    static const char *const n[] = { "answered", "busy",   "rejected",    "cancelled",
                                     "failed",   "timeout", "in_progress", "pending" };
    return (unsigned)o < CALLS_OUTCOME_N ? n[o] : "?";
}

const char *calls_party_name(enum calls_party p)
{
    static const char *const n[] = { "none", "caller", "callee", "timeout", "active" };
    return (unsigned)p <= CALLS_PARTY_ACTIVE ? n[p] : "?";
}

const char *calls_evidence_name(enum calls_evidence e)
{
    static const char *const n[] = { "none", "session_id", "header", "media", "timing" };
    return (unsigned)e <= CALLS_EV_TIMING ? n[e] : "?";
}

const char *calls_side_name(enum calls_side s)
{
    static const char *const n[] = { "none", "enterprise", "sbc", "itsp" };
    return (unsigned)s <= CALLS_SIDE_ITSP ? n[s] : "?";
}

const char *calls_dir_name(enum calls_dir d)
{
    static const char *const n[] = { "inbound", "outbound", "internal", "transit" };
    return (unsigned)d <= CALLS_DIR_TRANSIT ? n[d] : "?";
}

const char *calls_media_dir_name(enum calls_media_dir d)
{
    static const char *const n[] = { "none", "sendrecv", "sendonly", "recvonly", "inactive" };
    return (unsigned)d <= CALLS_MD_INACTIVE ? n[d] : "?";
}

const char *calls_codec_name(enum calls_codec k)
{
    static const char *const n[] = { "G711", "G729", "G722", "opus", "other" };
    return (unsigned)k < CALLS_CODEC_N ? n[k] : "?";
}

const char *calls_iso_time(uint64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / NS_PER_S);
    struct tm tm;
    if (!cap)
        return buf;
    if (!gmtime_r(&t, &tm)) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)((ns / NS_PER_MS) % 1000));
    return buf;
}
