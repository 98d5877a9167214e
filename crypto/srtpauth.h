/* SRTP and SRTCP authentication tags checked before libsrtp2 is asked to
 * open a packet (RFC 3711 sections 4.2 and 4.3, RFC 6188): the session
 * authentication keys are derived from the SDES master key and salt with
 * the AES-CM PRF (key derivation rate 0, the only one sdes.h accepts) and
 * the tag is HMAC-SHA1 over the packet and its rollover counter. A key that
 * does not match costs one HMAC per guess here and no libsrtp2 session,
 * whose NSS cipher contexts cost far more. HMAC-SHA1 suites only. */
#ifndef TS_CRYPTO_SRTPAUTH_H
#define TS_CRYPTO_SRTPAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdes.h"

struct srtpauth;

/* NULL for the AEAD suites (their tag is the cipher's) or when libcrypto
 * refuses the key. */
struct srtpauth *srtpauth_new(const struct sdes_key *key);
void srtpauth_free(struct srtpauth *a); /* wipes the keys; NULL is fine */

/* The rollover counter among 0..guesses-1 under which the SRTP packet of
 * len bytes (MKI removed, tag last) authenticates; -1 when none does. */
int srtpauth_rtp(struct srtpauth *a, const uint8_t *pkt, size_t len, uint32_t guesses);
/* Whether the SRTCP packet of len bytes (MKI removed, 80-bit tag last)
 * authenticates. */
bool srtpauth_rtcp(struct srtpauth *a, const uint8_t *pkt, size_t len);

/* HMACs computed by the calling thread so far (one per guess): what a
 * wrong key costs, for tests of the callers. */
uint64_t srtpauth_checks(void);

#endif
