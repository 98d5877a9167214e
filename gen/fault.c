/* --fault-itsp: one carrier fails for a stretch of the capture (every
 * outbound call to it answered 503, its OPTIONS keep-alives unanswered),
 * for tests of health and alerting. Below gen.c and scenario.c, which both ask. */
#include "genint.h"

bool gen_fault_at(const struct gen *g, int node, uint64_t t_us)
{
    const struct gen_opts *o = g->o;
    if (!o->fault_itsp || node != g->n_itsp0 + (int)o->fault_itsp - 1)
        return false;
    uint64_t from = o->start_us + (uint64_t)o->fault_from_s * 1000000ull;
    uint64_t to = o->fault_to_s ? o->start_us + (uint64_t)o->fault_to_s * 1000000ull : UINT64_MAX;
    return t_us >= from && t_us < to;
}
