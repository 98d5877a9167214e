/* SRTP and SRTCP through libcrypto (RFC 3711 sections 3.3, 3.4, 4.1.1,
 * 4.2 and 4.3, RFC 6188, RFC 7714): the session keys are derived from the
 * SDES master key and salt with the AES-CM PRF (key derivation rate 0, the
 * only one sdes.h accepts). AES-CM suites: the tag is HMAC-SHA1 over the
 * packet and its rollover counter, the payload AES in counter mode; a key
 * that does not match costs one HMAC per guess and no cipher (the cipher
 * keys are made when a first packet authenticates). AEAD suites: AES-GCM
 * with the header as additional data, the tag the cipher's. */
#ifndef TS_CRYPTO_SRTPAUTH_H
#define TS_CRYPTO_SRTPAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdes.h"

/* Bytes of the AEAD suites' authentication tag (RFC 7714 6, 8). */
enum { SRTPAUTH_GCM_TAG = 16 };

struct srtpauth;

/* NULL when the suite is not one of the six or libcrypto refuses the key. */
struct srtpauth *srtpauth_new(const struct sdes_key *key);
void srtpauth_free(struct srtpauth *a); /* wipes the keys; NULL is fine */

/* Whether the SRTP packet of len bytes (MKI removed, tag last)
 * authenticates under one of the rollover counters first..first+guesses-1
 * (the one found in *roc). */
bool srtpauth_rtp(struct srtpauth *a, const uint8_t *pkt, size_t len, uint32_t first,
                  uint32_t guesses, uint32_t *roc);
/* Whether the SRTCP packet of len bytes (MKI removed, 80-bit tag last)
 * authenticates. */
bool srtpauth_rtcp(struct srtpauth *a, const uint8_t *pkt, size_t len);

/* Makes the cipher keys of key (the one a was made from): once, when a
 * first packet authenticated; false when libcrypto refuses. */
bool srtpauth_cipher(struct srtpauth *a, const struct sdes_key *key);

/* Decrypts in place the SRTP packet of len bytes (header and payload,
 * tag and MKI removed) under rollover counter roc; false when its header
 * does not fit in len or the cipher is not made. */
bool srtpauth_decrypt_rtp(struct srtpauth *a, uint8_t *pkt, size_t len, uint32_t roc);
/* Decrypts in place the SRTCP packet of len bytes (tag and MKI removed,
 * E flag and SRTCP index last) when its E flag says it is encrypted; false
 * when it is too short or the cipher is not made. */
bool srtpauth_decrypt_rtcp(struct srtpauth *a, uint8_t *pkt, size_t len);

/* AEAD suites (srtpauth_open_aead_*), else AES-CM (the functions above). */
bool srtpauth_aead(const struct srtpauth *a);
/* Opens in place the SRTP packet of len bytes (MKI removed, tag last) under
 * one of the rollover counters first..first+guesses-1 (the one found in
 * *roc); the plain packet is len - 16 bytes. False (pkt untouched) when
 * none authenticates. */
bool srtpauth_open_aead_rtp(struct srtpauth *a, uint8_t *pkt, size_t len, uint32_t first,
                            uint32_t guesses, uint32_t *roc);
/* Opens in place the SRTCP packet of len bytes (MKI removed; header,
 * payload, tag, E flag and SRTCP index); the plain packet is len - 20
 * bytes. False (pkt untouched) when it does not authenticate. */
bool srtpauth_open_aead_rtcp(struct srtpauth *a, uint8_t *pkt, size_t len);

/* HMACs (AEAD: GCM opens) computed by the calling thread so far (one per guess): what a
 * wrong key costs, for tests of the callers. */
uint64_t srtpauth_checks(void);

#endif
