/* The message-link map of the store writer: messages of a dialog an
 * INVITE started are remembered by Call-ID (row ids and times, bounded by
 * TS_STORE_LINK_DIALOGS, oldest evicted) until the call's legs are written,
 * then linked to their leg in sip_links (no Call-ID index to update per
 * message, no message row to rewrite). Writer thread only. */
#include "writer_int.h"

#include <stdlib.h>

#include "../common/hash.h"

/* A leg's messages are linked to it within this margin of its times. */
#define LINK_MARGIN_NS (64ull * NS_PER_S)

struct link_key {
    const char *p;
    size_t len;
};

static bool link_eq(const struct ht_node *n, const void *key)
{
    const struct link_ent *e = ts_container_of(n, struct link_ent, node);
    const struct link_key *k = key;
    return e->call_id_len == k->len && memcmp(e->call_id, k->p, k->len) == 0;
}

static struct link_ent *link_find(struct st_writer *w, const char *p, size_t len, uint64_t *h)
{
    struct link_key k = { p, len };
    *h = ts_hash(p, len);
    struct ht_node *n = htab_find(&w->links, *h, link_eq, &k);
    return n ? ts_container_of(n, struct link_ent, node) : NULL;
}

static void link_drop(struct st_writer *w, struct link_ent *e)
{
    htab_remove(&w->links, &e->node);
    free(e);
}

/* Remember a stored message of a dialog for its leg. */
void st_link_note(struct st_writer *w, const struct rec *r, int64_t rowid)
{
    size_t len = r->u.sip.call_id_len;
    if (!len)
        return;
    uint64_t h;
    struct link_ent *e = link_find(w, r->u.sip.call_id, len, &h);
    if (!e) {
        if (r->u.sip.cseq_method_len != 6 || memcmp(r->u.sip.cseq_method, "INVITE", 6) != 0)
            return;
        if (htab_full(&w->links)) {
            link_drop(w, ts_container_of(htab_oldest(&w->links), struct link_ent, node));
            w->link_evicted++;
        }
        e = malloc(sizeof *e + len);
        if (!e)
            return;
        memset(e, 0, sizeof *e);
        memcpy(e->call_id, r->u.sip.call_id, len);
        e->call_id_len = (uint32_t)len;
        htab_insert(&w->links, &e->node, h);
    } else {
        htab_touch(&w->links, &e->node);
    }
    if (e->nids < LINK_IDS) {
        e->ts[e->nids] = r->u.sip.ts;
        e->ids[e->nids++] = rowid;
    } else {
        if (!e->overflow)
            e->over_lo = rowid;
        e->overflow = true;
        e->over_hi = rowid;
    }
}

static void link_drop_all(struct st_writer *w)
{
    struct ht_node *n;
    while ((n = htab_oldest(&w->links)))
        link_drop(w, ts_container_of(n, struct link_ent, node));
}

void st_link_free_all(struct st_writer *w)
{
    if (!w->links.buckets)
        return;
    link_drop_all(w);
    htab_cleanup(&w->links);
}


/* SQLite hands out max(rowid) + 1: once the newest message row is gone (a
 * rolled-back batch, a capture analysed again, retention of everything),
 * new messages may get the ids the map holds. Forget them then; those
 * dialogs stay unlinked, counted as evicted. */
void st_link_check_ids(struct st_writer *w)
{
    if (!w->last_msg_id)
        return;
    int64_t top = q_i64(w, "SELECT max(id) FROM sip_messages WHERE ?1=?1", 0, 0);
    if (top >= w->last_msg_id)
        return;
    w->link_evicted += w->links.count;
    link_drop_all(w);
    w->last_msg_id = top;
}


/* Link the messages already stored (they precede the call in the queue):
 * the ones the map holds for its Call-ID within the leg's time range. */
bool st_link_messages(struct st_writer *w, int64_t leg_id, const struct calls_leg *l)
{
    uint64_t h;
    struct link_ent *e = link_find(w, l->call_id, strlen(l->call_id), &h);
    if (!e)
        return true;
    uint64_t lo = l->invite_ns > LINK_MARGIN_NS ? l->invite_ns - LINK_MARGIN_NS : 0;
    uint64_t hi = leg_last_ns(l) + LINK_MARGIN_NS;
    bool ok = true;
    uint32_t keep = 0, n = 0;
    int64_t ids[LINK_IDS];
    for (uint32_t k = 0; k < e->nids; k++) {
        if (e->ts[k] < lo || e->ts[k] > hi) { /* another call reusing the Call-ID */
            e->ts[keep] = e->ts[k];
            e->ids[keep++] = e->ids[k];
            continue;
        }
        ids[n++] = e->ids[k];
    }
    e->nids = keep;
    /* in order, by the largest statement that fits what is left */
    for (uint32_t k = 0, m; k < n; k += m) {
        m = LINK_STMT_IDS;
        while (m > n - k)
            m /= 2;
        sqlite3_stmt *s = w->s[m == 8 ? S_LINK_IDS8 : m == 4 ? S_LINK_IDS4 : m == 2 ? S_LINK_IDS2
                                                                              : S_LINK_ID];
        b_i64(s, 1, leg_id);
        for (uint32_t j = 0; j < m; j++)
            b_i64(s, 2 + (int)j, ids[k + j]);
        ok &= run(w, s);
    }
    if (e->overflow) {
        sqlite3_stmt *s = w->s[S_LINK_RANGE];
        b_i64(s, 1, leg_id);
        sqlite3_bind_text(s, 2, e->call_id, (int)e->call_id_len, SQLITE_STATIC);
        b_i64(s, 3, (int64_t)lo);
        b_i64(s, 4, (int64_t)hi);
        b_i64(s, 5, e->over_lo);
        b_i64(s, 6, e->over_hi);
        ok &= run(w, s);
        e->overflow = false;
    }
    if (!e->nids)
        link_drop(w, e);
    return ok;
}

