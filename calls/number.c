/* Telephone number normalisation for cross-leg matching (E.164 national
 * significant numbers; RFC 3966 visual separators; tel: and sip: users). */
#include "calls_int.h"

#include <string.h>
#include <strings.h>

static bool is_visual(char ch)
{
    return ch == '-' || ch == '.' || ch == ' ' || ch == '(' || ch == ')';
}

static bool starts(const char *s, const char *p)
{
    size_t n = strlen(p);
    return n && strncmp(s, p, n) == 0;
}

size_t calls_number_norm(const struct calls_config *cfg, const char *raw, char *out, size_t cap)
{
    char d[CALLS_USER_LEN];
    size_t n = 0;
    bool intl = false;
    if (!cap)
        return 0;
    out[0] = '\0';
    if (!raw)
        return 0;
    if (strncasecmp(raw, "tel:", 4) == 0)
        raw += 4;
    for (const char *p = raw; *p && *p != ';' && *p != '@'; p++) {
        if (is_visual(*p))
            continue;
        if (*p == '+' && n == 0 && !intl) {
            intl = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return 0;   /* "alice", "*21#": not a number */
        if (n + 1 >= sizeof d)
            break;
        d[n++] = *p;
    }
    d[n] = '\0';
    if (n == 0)
        return 0;
    const char *s = d;
    if (!intl && cfg) {
        if (starts(s, cfg->intl_prefix)) {
            intl = true;
            s += strlen(cfg->intl_prefix);
        } else if (!strcmp(cfg->country_code, "1") && starts(s, "011")) {
            intl = true;
            s += 3;
        } else if (starts(s, cfg->national_prefix)) {
            s += strlen(cfg->national_prefix);
        }
    }
    if (intl && cfg && starts(s, cfg->country_code))
        s += strlen(cfg->country_code);
    size_t l = strlen(s);
    if (l >= cap)
        l = cap - 1;
    memcpy(out, s, l);
    out[l] = '\0';
    return l;
}

int calls_number_match(const char *raw_a, const char *dig_a, const char *raw_b, const char *dig_b)
{
    if (dig_a && dig_b && dig_a[0] && dig_b[0]) {
        size_t la = strlen(dig_a), lb = strlen(dig_b);
        if (la == lb)
            return strcmp(dig_a, dig_b) == 0 ? 2 : 0;
        const char *lng = la > lb ? dig_a : dig_b, *sht = la > lb ? dig_b : dig_a;
        size_t ls = la > lb ? lb : la, ll = la > lb ? la : lb;
        return (ls >= 7 && strcmp(lng + (ll - ls), sht) == 0) ? 1 : 0;
    }
    if ((dig_a && dig_a[0]) || (dig_b && dig_b[0]))
        return 0;
    if (raw_a && raw_b && raw_a[0] && strcasecmp(raw_a, raw_b) == 0)
        return 2;
    return 0;
}
