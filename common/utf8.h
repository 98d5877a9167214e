/* UTF-8 checks (RFC 3629) and the program's one policy for text that is not
 * valid UTF-8: valid sequences are kept, each invalid byte becomes U+FFFD.
 * The JSON writer (jsonw) and the API's text values both use it. */
#ifndef TS_UTF8_H
#define TS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s[0..n), 0 when invalid
 * (overlong forms, surrogates, code points above U+10FFFF, truncation). n > 0. */
size_t utf8_seq_len(const unsigned char *s, size_t n);
bool utf8_valid(const char *s, size_t n);
/* Copy s[0..n) to out with every invalid byte replaced by U+FFFD (EF BF BD);
 * out holds at least 3 * n bytes. Returns the bytes written (no NUL added). */
size_t utf8_fix(const char *s, size_t n, char *out);

#endif
