/* NSS key log file: parser and bounded table of TLS secrets (see keylog.h).
 * Format: https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/
 * and draft-ietf-tls-keylogfile; labels of RFC 8446 section 7.1. */
#include "keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"

struct kl_entry {
    struct ht_node node;
    uint8_t random[KEYLOG_RANDOM_LEN];
    uint8_t have;                          /* bit per label */
    uint8_t len[KEYLOG_NLABELS];
    uint8_t secret[KEYLOG_NLABELS][KEYLOG_SECRET_LEN];
};

struct keylog {
    struct htab tab;
    struct keylog_counts n;
    char *path;
    off_t off;                            /* bytes of the file consumed */
    dev_t dev;
    ino_t ino;
    char part[TS_TLS_KEYLOG_LINE_MAX];    /* a line waiting for its end */
    size_t part_len;
    bool part_long;                       /* the waiting line is too long: drop it */
};

static const struct {
    const char *name;
    int label; /* -1: known, not used */
} labels[] = {
    { "CLIENT_RANDOM", KEYLOG_CLIENT_RANDOM },
    { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", KEYLOG_CLIENT_HS },
    { "SERVER_HANDSHAKE_TRAFFIC_SECRET", KEYLOG_SERVER_HS },
    { "CLIENT_TRAFFIC_SECRET_0", KEYLOG_CLIENT_AP },
    { "SERVER_TRAFFIC_SECRET_0", KEYLOG_SERVER_AP },
    { "CLIENT_EARLY_TRAFFIC_SECRET", -1 },
    { "EARLY_EXPORTER_SECRET", -1 },
    { "EXPORTER_SECRET", -1 },
    { "RSA", -1 }, /* "RSA <encrypted premaster prefix> <premaster>": not used */
};

static bool hex_field(struct bv f, uint8_t *out, size_t min, size_t max, size_t *n)
{
    if (f.len % 2 || f.len / 2 < min || f.len / 2 > max)
        return false;
    for (size_t i = 0; i < f.len / 2; i++) {
        int hi = bv_hexval(bv_at(f, 2 * i)), lo = bv_hexval(bv_at(f, 2 * i + 1));
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = f.len / 2;
    return true;
}

enum keylog_result keylog_parse_line(struct bv line, struct keylog_line *out)
{
    line = bv_trim(line);
    if (!line.len || bv_at(line, 0) == '#')
        return KEYLOG_SKIP;
    struct bv name, rnd, sec, extra;
    if (!bv_word(&line, &name))
        return KEYLOG_SKIP;
    int label = -2;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (bv_eq_cstr(name, labels[i].name))
            label = labels[i].label;
    if (label == -2 || !bv_word(&line, &rnd) || !bv_word(&line, &sec) || bv_word(&line, &extra))
        return KEYLOG_BAD;
    if (label == -1)
        return KEYLOG_SKIP;
    size_t n;
    memset(out, 0, sizeof *out);
    out->label = (enum keylog_label)label;
    if (!hex_field(rnd, out->random, KEYLOG_RANDOM_LEN, KEYLOG_RANDOM_LEN, &n))
        return KEYLOG_BAD;
    /* a master secret is 48 bytes; a TLS 1.3 secret is the hash's length */
    size_t min = label == KEYLOG_CLIENT_RANDOM ? 48 : 32;
    size_t max = label == KEYLOG_CLIENT_RANDOM ? 48 : KEYLOG_SECRET_LEN;
    if (!hex_field(sec, out->secret, min, max, &n))
        return KEYLOG_BAD;
    out->secret_len = (uint8_t)n;
    return KEYLOG_OK;
}

struct keylog *keylog_new(void)
{
    struct keylog *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    if (htab_init(&k->tab, TS_TLS_KEYLOG_MAX) != 0) {
        free(k);
        return NULL;
    }
    return k;
}

static void entry_free(struct kl_entry *en)
{
    OPENSSL_cleanse(en, sizeof *en);
    free(en);
}

void keylog_free(struct keylog *k)
{
    if (!k)
        return;
    while (k->tab.count) {
        struct kl_entry *en = ts_container_of(k->tab.lru.lnext, struct kl_entry, node);
        htab_remove(&k->tab, &en->node);
        entry_free(en);
    }
    htab_cleanup(&k->tab);
    OPENSSL_cleanse(k->part, sizeof k->part);
    free(k->path);
    free(k);
}

static bool eq_random(const struct ht_node *n, const void *key)
{
    return memcmp(ts_container_of(n, struct kl_entry, node)->random, key, KEYLOG_RANDOM_LEN) == 0;
}

static struct kl_entry *lookup(const struct keylog *k, const uint8_t *random)
{
    struct ht_node *n = htab_find(&k->tab, ts_hash(random, KEYLOG_RANDOM_LEN), eq_random, random);
    return n ? ts_container_of(n, struct kl_entry, node) : NULL;
}

void keylog_add(struct keylog *k, const struct keylog_line *l)
{
    struct kl_entry *en = lookup(k, l->random);
    if (!en) {
        if (htab_full(&k->tab)) {
            struct kl_entry *old = ts_container_of(k->tab.lru.lnext, struct kl_entry, node);
            htab_remove(&k->tab, &old->node);
            entry_free(old);
            k->n.evicted++;
        }
        en = calloc(1, sizeof *en);
        if (!en)
            return;
        memcpy(en->random, l->random, KEYLOG_RANDOM_LEN);
        htab_insert(&k->tab, &en->node, ts_hash(l->random, KEYLOG_RANDOM_LEN));
    }
    memcpy(en->secret[l->label], l->secret, l->secret_len);
    en->len[l->label] = l->secret_len;
    en->have = (uint8_t)(en->have | 1u << l->label);
    k->n.lines++;
}

static void one_line(struct keylog *k, struct bv line)
{
    struct keylog_line l;
    switch (keylog_parse_line(line, &l)) {
    case KEYLOG_OK:
        keylog_add(k, &l);
        break;
    case KEYLOG_BAD:
        k->n.bad++;
        break;
    default:
        break;
    }
    OPENSSL_cleanse(&l, sizeof l);
}

void keylog_feed(struct keylog *k, struct bv b)
{
    while (b.len) {
        long eol = bv_index(b, '\n');
        struct bv chunk = eol >= 0 ? bv_head(b, (size_t)eol) : b;
        bv_skip(&b, eol >= 0 ? (size_t)eol + 1 : b.len);
        if (!k->part_long && k->part_len + chunk.len <= sizeof k->part) {
            memcpy(k->part + k->part_len, chunk.p, chunk.len);
            k->part_len += chunk.len;
        } else {
            k->part_long = true;
        }
        if (eol < 0)
            break;
        if (k->part_long)
            k->n.bad++;
        else
            one_line(k, bv_make(k->part, k->part_len));
        OPENSSL_cleanse(k->part, k->part_len);
        k->part_len = 0;
        k->part_long = false;
    }
}

int keylog_open(struct keylog *k, const char *path)
{
    free(k->path);
    k->path = strdup(path);
    if (!k->path)
        return -1;
    k->off = 0;
    k->part_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    char probe;
    /* a directory opens but does not read */
    if (fstat(fd, &sb) != 0 || read(fd, &probe, 0) < 0 || S_ISDIR(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode))
            errno = EISDIR;
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    close(fd);
    keylog_refresh(k);
    return 0;
}

size_t keylog_refresh(struct keylog *k)
{
    if (!k->path)
        return 0;
    int fd = open(k->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t before = k->n.lines;
    struct stat sb;
    if (fstat(fd, &sb) == 0) {
        if (sb.st_dev != k->dev || sb.st_ino != k->ino || sb.st_size < k->off) {
            k->off = 0; /* a new file (rotated) or truncated */
            k->part_len = 0;
            k->part_long = false;
            k->dev = sb.st_dev;
            k->ino = sb.st_ino;
        }
        if (sb.st_size > k->off && lseek(fd, k->off, SEEK_SET) == k->off) {
            uint8_t buf[4096];
            ssize_t r;
            while ((r = read(fd, buf, sizeof buf)) > 0) {
                keylog_feed(k, bv_make(buf, (size_t)r));
                k->off += r;
            }
            OPENSSL_cleanse(buf, sizeof buf);
        }
    }
    close(fd);
    return (size_t)(k->n.lines - before);
}

bool keylog_find(const struct keylog *k, const uint8_t random[KEYLOG_RANDOM_LEN],
                 enum keylog_label label, uint8_t *secret, size_t *len)
{
    const struct kl_entry *en = k ? lookup(k, random) : NULL;
    if (!en || !(en->have & 1u << label))
        return false;
    memcpy(secret, en->secret[label], en->len[label]);
    *len = en->len[label];
    return true;
}

void keylog_counts(const struct keylog *k, struct keylog_counts *out)
{
    *out = k->n;
    out->clients = k->tab.count;
}
