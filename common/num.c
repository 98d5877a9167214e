/* Whole-string decimal numbers with ranges (num.h): the only file that calls
 * the C library's strto* functions, after checking the grammar itself, so
 * leading spaces, signs and radix prefixes never slip through. */
#include "num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

bool num_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !all_digits(s))
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return false;
    *out = (uint64_t)v;
    return true;
}

bool num_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !all_digits(s + (*s == '-')))
        return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return false;
    *out = (int64_t)v;
    return true;
}

/* [-]D[.D][(e|E)[+-]D] with at least one digit before the exponent. */
static bool decimal(const char *s)
{
    if (*s == '-')
        s++;
    size_t digits = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

bool num_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !decimal(s))
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || !end || *end || !isfinite(v) || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}
