/* SRTP and SRTCP of one stream (one SSRC) opened with SDES keys (sdes.h)
 * (RFC 3711, RFC 6188, RFC 7714) through libcrypto (srtpauth.h). The rollover
 * counter of a stream that started before the capture is estimated: until
 * a first packet authenticates, the next rollover counters are tried (up
 * to TS_SRTP_ROC_GUESS). A packet that fails to authenticate, or whose
 * index was opened before (a replay), is counted and never returned: a
 * wrong key yields no audio, not noise. */
#ifndef TS_CRYPTO_SRTPDEC_H
#define TS_CRYPTO_SRTPDEC_H

#include <stddef.h>
#include <stdint.h>

#include "sdes.h"

struct srtpdec;

/* One stream's packets protected with key (each packet's own SSRC goes into
 * its IV); NULL when the key is refused. */
struct srtpdec *srtpdec_new(const struct sdes_key *key);
void srtpdec_free(struct srtpdec *d); /* wipes the keys; NULL is fine */

enum srtpdec_result { SRTPDEC_OK = 0, SRTPDEC_AUTH, SRTPDEC_REPLAY, SRTPDEC_MALFORMED };

/* Opens an SRTP (srtpdec_rtp) or SRTCP (srtpdec_rtcp) packet of len bytes
 * in place; on SRTPDEC_OK *out_len is the plain RTP/RTCP packet's length. */
enum srtpdec_result srtpdec_rtp(struct srtpdec *d, uint8_t *pkt, size_t len, size_t *out_len);
enum srtpdec_result srtpdec_rtcp(struct srtpdec *d, uint8_t *pkt, size_t len, size_t *out_len);

struct srtpdec_counts {
    uint64_t rtp_ok, rtcp_ok;
    uint64_t auth_failed;   /* wrong key, or tampering */
    uint64_t replayed;      /* a packet seen before (SPAN copies removed earlier) */
    uint64_t malformed;
    uint32_t roc;           /* rollover counter in use */
};
void srtpdec_counts(const struct srtpdec *d, struct srtpdec_counts *out);

#endif
