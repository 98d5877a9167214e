/* A call's own fields from its legs: outcome, parties, PDD, duration,
 * then direction and failure side (which side's node failed it), which
 * depend on the sides learned so far (trunk.c, topo.c). Used when a call
 * is emitted (correlate.c), joined later (relink.c) or classified again
 * at the end of the input (kept calls). */
#include "calls_int.h"

#include <stdio.h>
#include <string.h>

/* An SBC address (configured or learned), else the side learned, else
 * by network. */
static uint8_t node_side(const struct calls *c, const struct ts_addr *a)
{
    return trunk_side(c, a);
}

static const char *side_label(uint8_t s)
{
    return s == CALLS_SIDE_SBC ? "SBC" : s == CALLS_SIDE_ITSP ? "ITSP" : "enterprise";
}

/* Failure side: the node that never answered an INVITE (timeout), else
 * the earliest final error response of the call and the node that sent it;
 * the detail also says what the caller finally got. */
static void attribute(const struct calls *c, struct calls_call *call)
{
    const struct calls_leg *legs = call->legs;
    unsigned n = call->nlegs;
    int f = -1;
    char a[64], b[64];
    if (call->outcome == CALLS_TIMEOUT) {
        for (unsigned i = n; i-- > 0 && f < 0;)
            if (!legs[i].final_status && !legs[i].cancelled)
                f = (int)i;
        if (f >= 0) {
            call->failure_side = node_side(c, &legs[f].dst);
            snprintf(call->failure_detail, sizeof call->failure_detail,
                     "%s %s sent no final response", side_label(call->failure_side),
                     ts_addr_str(&legs[f].dst, a, sizeof a));
            return;
        }
    }
    for (unsigned i = 0; i < n; i++)
        if ((legs[i].err_status || legs[i].unreach) && (f < 0 || legs[i].err_ns < legs[f].err_ns))
            f = (int)i;
    struct ts_addr node;
    unsigned status;
    const char *reason;
    if (f >= 0 && legs[f].unreach && !legs[f].err_status) {
        call->failure_side = node_side(c, &legs[f].dst);
        snprintf(call->failure_detail, sizeof call->failure_detail, "%s %s unreachable (%s)",
                 side_label(call->failure_side), ts_addr_str(&legs[f].dst, a, sizeof a),
                 legs[f].reason);
        return;
    }
    if (f >= 0) {
        node = legs[f].err_src;
        status = legs[f].err_status;
        reason = legs[f].err_status == legs[f].final_status ? legs[f].reason : "";
    } else if (legs[0].final_status >= 300) {
        f = 0;
        node = legs[0].dst;
        status = legs[0].final_status;
        reason = legs[0].reason;
    } else {
        return;
    }
    uint8_t side = node_side(c, &node);
    call->failure_side = side;
    int len = snprintf(call->failure_detail, sizeof call->failure_detail,
                       "%s %s answered %u%s%s", side_label(side), ts_addr_str(&node, a, sizeof a),
                       status, reason[0] ? " " : "", reason);
    const struct calls_leg *l0 = &legs[0];
    if (len > 0 && (size_t)len < sizeof call->failure_detail && l0->final_status >= 300 &&
        (f != 0 || !addr_eq(&node, &l0->dst))) {
        uint8_t s0 = node_side(c, &l0->dst), s1 = node_side(c, &l0->src);
        snprintf(call->failure_detail + len, sizeof call->failure_detail - (size_t)len,
                 "; %s %s sent %u%s%s to the %s", side_label(s0),
                 ts_addr_str(&l0->dst, b, sizeof b), l0->final_status, l0->reason[0] ? " " : "",
                 l0->reason, side_label(s1));
    }
}

/* Direction and failure side: both depend on which addresses are SBCs,
 * which is learned as calls go by. */
static void classify(const struct calls *c, struct calls_call *call)
{
    const struct calls_leg *legs = call->legs;
    unsigned n = call->nlegs;
    /* SBC addresses count as ours: a call that reaches the edge from
     * inside is outbound even when the trunk leg is not visible (TLS) */
    bool any_ext = false, all_ext = true;
    for (unsigned i = 0; i < n; i++) {
        bool si = trunk_ours(c, &legs[i].src), di = trunk_ours(c, &legs[i].dst);
        any_ext |= !si || !di || trunk_is_sbc(c, &legs[i].dst);
        all_ext &= !si && !di;
    }
    if (trunk_ours(c, &legs[0].src))
        call->direction = any_ext ? CALLS_DIR_OUTBOUND : CALLS_DIR_INTERNAL;
    else
        call->direction = all_ext ? CALLS_DIR_TRANSIT : CALLS_DIR_INBOUND;
    call->failure_side = CALLS_SIDE_NONE;
    call->failure_detail[0] = '\0';
    if (call->outcome != CALLS_ANSWERED && call->outcome != CALLS_CANCELLED &&
        !calls_outcome_open(call->outcome))
        attribute(c, call);
}

void summary_reclassify(struct calls *c)
{
    kept_update(c, classify);
}

void calls_classify(const struct calls *c, struct calls_call *call)
{
    classify(c, call);
}

/* The call's own fields from its legs (ordered by INVITE time, each with
 * its outcome): start, parties, outcome, PDD, duration, then direction and
 * failure side. */
void summary_call(const struct calls *c, struct calls_call *call)
{
    const struct calls_leg *legs = call->legs;
    unsigned n = call->nlegs;
    bool answered = false;
    call->no_ack = false;
    for (unsigned i = 0; i < n; i++) {
        answered |= legs[i].answer_ns != 0;
        call->no_ack |= legs[i].no_ack;
    }
    const struct calls_leg *l0 = &legs[0];
    call->start_ns = l0->invite_ns;
    memcpy(call->site, l0->site, sizeof call->site);
    calls_cp(call->caller, sizeof call->caller, bv_cstr(l0->pai[0] ? l0->pai : l0->from));
    calls_cp(call->callee, sizeof call->callee, bv_cstr(l0->ruri[0] ? l0->ruri : l0->to));
    /* answered and still up: no answered leg was hung up before the end */
    bool up = false, hung = false;
    for (unsigned i = 0; i < n; i++) {
        bool cut = legs[i].outcome == CALLS_IN_PROGRESS;
        up |= legs[i].answer_ns && cut;
        hung |= legs[i].answer_ns && !cut;
    }
    call->outcome = answered ? (up && !hung ? CALLS_IN_PROGRESS : CALLS_ANSWERED) : l0->outcome;
    call->pdd_ms = (l0->ring_ns && l0->ring_ns >= l0->attempt_ns)
                       ? (int64_t)((l0->ring_ns - l0->attempt_ns) / NS_PER_MS)
                       : -1;
    /* duration: the first answered leg's 2xx (the caller's, when seen) to
     * the first hang-up on any answered leg (the BYE nearest the hanging-up
     * party is the moment the call ended; the others are relays of it) */
    uint64_t ans = 0, end = UINT64_MAX;
    for (unsigned i = 0; i < n; i++) {
        if (!legs[i].answer_ns)
            continue;
        if (!ans)
            ans = legs[i].answer_ns;
        if (legs[i].end_ns >= ans && legs[i].end_ns < end)
            end = legs[i].end_ns;
    }
    call->duration_s = ans && end != UINT64_MAX ? (double)(end - ans) / 1e9 : 0;
    classify(c, call);
}
