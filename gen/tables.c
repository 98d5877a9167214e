/* Tables the generator's parts share: scenario mix, impairment and outcome
 * names (options and truth file), and codecs with their RTP payload type
 * (RFC 3551 s6) and bytes per 20 ms packet. */
#include "genint.h"

const char *const gen_mix_names[GEN_MIX_MAX] = {
    "answered", "hold", "early", "refer", "busy",
    "rejected", "cancelled", "failed", "timeout",
};
const char *const gen_imp_names[GEN_IMP_MAX] = {
    "none", "loss", "burst", "jitter", "reorder", "dup", "ssrc_change", "one_way",
};
static const char *const out_names[OUT_MAX] = {
    "answered", "busy", "rejected", "cancelled", "failed", "timeout", "in_progress", "pending",
};

const char *gen_mix_name(int m) { return m >= 0 && m < GEN_MIX_MAX ? gen_mix_names[m] : "?"; }
const char *gen_imp_name(int i) { return i >= 0 && i < GEN_IMP_MAX ? gen_imp_names[i] : "?"; }
const char *gen_outcome_name(int o) { return o >= 0 && o < OUT_MAX ? out_names[o] : "?"; }

static const struct {
    const char *name;
    int pt, bytes;
} codecs[CODEC_MAX] = {
    { "PCMA", 8, 160 }, { "PCMU", 0, 160 }, { "G722", 9, 160 }, { "G729", 18, 20 },
};

const char *gen_codec_name(int c) { return codecs[c].name; }
int gen_codec_pt(int c) { return codecs[c].pt; }
int gen_codec_bytes(int c) { return codecs[c].bytes; }
