/* Test helper: protects RTP packets as an SRTP sender would, with libsrtp2
 * itself (RFC 3711, suite AES_CM_128_HMAC_SHA1_80 or _32 of RFC 4568), so
 * that a test capture carries real SRTP for the audio export to open.
 * Usage: srtp_protect KEYHEX [32] < in > out, KEYHEX the 30-byte master key
 * and salt in hex; in and out are records of a 2-byte big-endian length
 * and a packet. Exits 1 on a bad argument or a refused packet. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <srtp2/srtp.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv)
{
    uint8_t key[30];
    if (argc < 2 || strlen(argv[1]) != 60) {
        fprintf(stderr, "usage: srtp_protect KEYHEX(60) [32] < in > out\n");
        return 1;
    }
    for (size_t i = 0; i < 30; i++) {
        int h = hexval(argv[1][2 * i]), l = hexval(argv[1][2 * i + 1]);
        if (h < 0 || l < 0) {
            fprintf(stderr, "srtp_protect: bad key\n");
            return 1;
        }
        key[i] = (uint8_t)(h << 4 | l);
    }
    if (srtp_init() != srtp_err_status_ok)
        return 1;
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (argc > 2 && strcmp(argv[2], "32") == 0)
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
    else
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = 1024;
    srtp_t s;
    if (srtp_create(&s, &p) != srtp_err_status_ok)
        return 1;
    uint8_t hdr[2], pkt[2048];
    while (fread(hdr, 1, 2, stdin) == 2) {
        int len = hdr[0] << 8 | hdr[1];
        if (len > 2048 - SRTP_MAX_TRAILER_LEN || fread(pkt, 1, (size_t)len, stdin) != (size_t)len)
            return 1;
        if (srtp_protect(s, pkt, &len) != srtp_err_status_ok)
            return 1;
        hdr[0] = (uint8_t)(len >> 8);
        hdr[1] = (uint8_t)len;
        if (fwrite(hdr, 1, 2, stdout) != 2 || fwrite(pkt, 1, (size_t)len, stdout) != (size_t)len)
            return 1;
    }
    srtp_dealloc(s);
    srtp_shutdown();
    return 0;
}
