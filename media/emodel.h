/* E-model (ITU-T G.107 06/2015) transmission rating R and its MOS (Annex B),
 * with equipment impairment Ie and packet-loss robustness Bpl per codec from
 * ITU-T G.113 Appendix I. Pure: no globals, I/O or allocation. */
#ifndef TS_EMODEL_H
#define TS_EMODEL_H

#include <stdbool.h>

/* G.107 input parameters; emodel_defaults() gives the Table 2 defaults. */
struct emodel_params {
    double slr, rlr, stmr, lstr;    /* send/receive loudness, sidetone (dB) */
    double ds, dr;                  /* D-factors of the handsets */
    double telr, wepl;              /* talker echo loudness, weighted echo path loss (dB) */
    double t, tr, ta;               /* mean one-way, round-trip (listener echo), absolute delay (ms) */
    double qdu;                     /* quantizing distortion units */
    double ie, bpl;                 /* equipment impairment, packet-loss robustness */
    double ppl;                     /* random packet-loss probability (%) */
    double burst_r;                 /* burst ratio (1 = random loss) */
    double nc, nfor, ps, pr;        /* circuit noise, noise floor, room noise (dBm0p, dB(A)) */
    double a;                       /* advantage factor */
};

enum emodel_codec {
    EMODEL_G711 = 0, EMODEL_G711_NOPLC, EMODEL_G729, EMODEL_G729A, EMODEL_G723,
    EMODEL_G722, EMODEL_OPUS, EMODEL_GSM_EFR, EMODEL_GSM_FR, EMODEL_ILBC,
    EMODEL_UNKNOWN,
};

struct emodel_codec_info {
    const char *name;
    double ie, bpl;     /* G.113 Appendix I (or a documented assumption) */
    double delay_ms;    /* algorithmic delay: frame + look-ahead */
};

/* Table 2 defaults: R = 93.2 with these. */
void emodel_defaults(struct emodel_params *p);
/* Rating factor R (may be below 0 or above 100 for extreme inputs). */
double emodel_r(const struct emodel_params *p);
/* MOS-CQE from R (G.107 Annex B): 1 below 0, 4.5 above 100. */
double emodel_mos(double r);
/* Effective equipment impairment Ie,eff = Ie + (95-Ie) Ppl/(Ppl/BurstR + Bpl). */
double emodel_ie_eff(double ie, double bpl, double ppl, double burst_r);
/* Codec table entry; EMODEL_UNKNOWN has ie < 0. */
const struct emodel_codec_info *emodel_codec(enum emodel_codec c);
/* Map an encoding name ("PCMU", "G729", "opus"...) to the table; annexb
 * (G.729 Annex B / VAD) does not change the values. */
enum emodel_codec emodel_codec_by_name(const char *name);
/* G.107 burst ratio from a loss pattern: observed mean run length of losses
 * divided by the 1/(1-P) a random process with the same loss rate gives.
 * 1 when nothing or everything was lost. */
double emodel_burst_r(double lost, double runs, double total);
/* Convenience: R for a codec with defaults, one-way delay t_ms (Ta = T,
 * Tr = 2T), loss ppl (%) and burst ratio. */
double emodel_r_for(enum emodel_codec c, double t_ms, double ppl, double burst_r);

#endif
