/* Decryption Secrets Blocks of pcapng files (see pcapng_secrets.h):
 * draft-ietf-opsawg-pcapng section 3.1 (block layout), 4.1 (Section Header
 * Block, its byte-order magic) and 4.7 (Decryption Secrets Block). */
#include "pcapng_secrets.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/limits.h"

enum {
    BT_SHB = 0x0A0D0D0A,
    BT_DSB = 0x0000000A,
    BOM = 0x1A2B3C4D,
    SECRETS_TLS = 0x544c534b, /* "TLSK" */
};

static bool rd32(struct bv *b, bool be, uint32_t *v)
{
    return be ? bv_be32(b, v) : bv_le32(b, v);
}

void pcapng_secrets_scan(struct bv file, pcapng_secrets_fn fn, void *ctx,
                         struct pcapng_secrets_counts *c)
{
    struct bv rest = file;
    bool be = false;
    uint64_t used = 0; /* key log bytes handed over from this file */
    uint32_t type;
    if (!bv_peek_be32(rest, 0, &type) || type != BT_SHB)
        return; /* not pcapng */
    while (rest.len) {
        struct bv hdr = rest, block, body;
        uint32_t raw, len, bom, trail;
        if (!bv_peek_be32(rest, 0, &raw)) {
            c->truncated++;
            return;
        }
        if (raw == BT_SHB) { /* reads the same in both orders; its magic follows the length */
            if (!bv_peek_be32(rest, 8, &bom)) {
                c->truncated++;
                return;
            }
            if (bom == BOM)
                be = true;
            else if (bom == 0x4D3C2B1Au)
                be = false;
            else {
                c->malformed++;
                return;
            }
        }
        (void)rd32(&hdr, be, &type);
        if (!rd32(&hdr, be, &len)) {
            c->truncated++;
            return;
        }
        if (len < 12 || len % 4) {
            c->malformed++;
            return;
        }
        if (!bv_take(&rest, len, &block)) {
            c->truncated++;
            return;
        }
        struct bv tail = bv_from(block, len - 4);
        if (!rd32(&tail, be, &trail) || trail != len) {
            c->malformed++;
            return;
        }
        if (type != BT_DSB)
            continue;
        (void)bv_sub(block, 8, len - 12, &body); /* len >= 12 */
        uint32_t stype, slen;
        struct bv secrets;
        if (!rd32(&body, be, &stype) || !rd32(&body, be, &slen) ||
            !bv_take(&body, slen, &secrets)) {
            c->malformed++;
            continue;
        }
        if (stype != SECRETS_TLS) {
            c->unsupported++;
            continue;
        }
        if (slen > TS_PCAPNG_SECRETS_BYTES_MAX - used) {
            c->over_limit++;
            continue;
        }
        used += slen;
        c->blocks++;
        fn(ctx, secrets);
    }
}

int pcapng_secrets_file(const char *path, pcapng_secrets_fn fn, void *ctx,
                        struct pcapng_secrets_counts *c)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    (void)madvise(m, size, MADV_SEQUENTIAL);
    pcapng_secrets_scan(bv_make(m, size), fn, ctx, c);
    munmap(m, size);
    return 0;
}
