/* E-model (ITU-T G.107 06/2015 sections 3-7, Annex B) and the codec table of
 * ITU-T G.113 Appendix I used for Ie and Bpl. */
#include "emodel.h"

#include <math.h>
#include <stddef.h>
#include <strings.h>

/* Ie / Bpl per codec. Sources:
 *  G.711       Ie 0  (G.113 I.1);  Bpl 25.1 with PLC, 4.3 without (G.113 I.3)
 *  G.729       Ie 10 (G.113 I.1);  Bpl 19.0 (as G.729A, G.113 I.3)
 *  G.729A+VAD  Ie 11 (G.113 I.1);  Bpl 19.0 (G.113 I.3)
 *  G.723.1 6.3 Ie 15 (G.113 I.1);  Bpl 16.1 (G.113 I.3)
 *  GSM-EFR     Ie 5  (G.113 I.1);  Bpl 10.0 assumption (no I.3 entry)
 *  GSM-FR      Ie 20 (G.113 I.1);  Bpl 10.0 assumption
 *  G.722       wideband: G.113 gives only Ie,wb (G.107.1 scale). On the
 *              narrowband scale we assume Ie 0 and G.711's Bpl 25.1 (PLC).
 *  Opus        no ITU value: assumed Ie 0, Bpl 20.0 (built-in PLC).
 *  iLBC        no ITU value: assumed Ie 10, Bpl 30.0 (loss-robust design).
 * delay_ms is frame + look-ahead (G.114 Table 1 / codec specifications). */
static const struct emodel_codec_info codecs[] = {
    [EMODEL_G711] = { "G.711", 0, 25.1, 0.125 },
    [EMODEL_G711_NOPLC] = { "G.711 (no PLC)", 0, 4.3, 0.125 },
    [EMODEL_G729] = { "G.729", 10, 19.0, 15.0 },
    [EMODEL_G729A] = { "G.729A", 11, 19.0, 15.0 },
    [EMODEL_G723] = { "G.723.1", 15, 16.1, 37.5 },
    [EMODEL_G722] = { "G.722", 0, 25.1, 1.5 },
    [EMODEL_OPUS] = { "Opus", 0, 20.0, 26.5 },
    [EMODEL_GSM_EFR] = { "GSM-EFR", 5, 10.0, 20.0 },
    [EMODEL_GSM_FR] = { "GSM-FR", 20, 10.0, 20.0 },
    [EMODEL_ILBC] = { "iLBC", 10, 30.0, 25.0 },
    [EMODEL_UNKNOWN] = { "unknown", -1, 0, 0 },
};

void emodel_defaults(struct emodel_params *p)
{
    *p = (struct emodel_params){
        .slr = 8, .rlr = 2, .stmr = 15, .lstr = 18, .ds = 3, .dr = 3,
        .telr = 65, .wepl = 110, .t = 0, .tr = 0, .ta = 0, .qdu = 1,
        .ie = 0, .bpl = 25.1, .ppl = 0, .burst_r = 1,
        .nc = -70, .nfor = -64, .ps = 35, .pr = 35, .a = 0,
    };
}

static double p10(double x) { return pow(10.0, x / 10.0); }

double emodel_ie_eff(double ie, double bpl, double ppl, double burst_r)
{
    if (ppl <= 0)
        return ie;
    if (burst_r <= 0)
        burst_r = 1;
    return ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl);
}

double emodel_r(const struct emodel_params *p)
{
    /* 7.2 basic signal-to-noise ratio */
    double olr = p->slr + p->rlr;
    double nfo = p->nfor + p->rlr;
    double pre = p->pr + 10 * log10(1 + p10(10 - p->lstr));
    double nor = p->rlr - 121 + pre + 0.008 * (pre - 35) * (pre - 35);
    double nos = p->ps - p->slr - p->ds - 100 +
                 0.004 * (p->ps - olr - p->ds - 14) * (p->ps - olr - p->ds - 14);
    double no = 10 * log10(p10(p->nc) + p10(nos) + p10(nor) + p10(nfo));
    double ro = 15 - 1.5 * (p->slr + no);

    /* 7.3 simultaneous impairment */
    double xolr = olr + 0.2 * (64 + no - p->rlr);
    double iolr = 20 * (pow(1 + pow(xolr / 8, 8), 1.0 / 8) - xolr / 8);
    double stmro = -10 * log10(p10(-p->stmr) + exp(-p->t / 4) * p10(-p->telr));
    double ist = 12 * pow(1 + pow((stmro - 13) / 6, 8), 1.0 / 8) -
                 28 * pow(1 + pow((stmro + 1) / 19.4, 35), 1.0 / 35) -
                 13 * pow(1 + pow((stmro - 3) / 33, 13), 1.0 / 13) + 29;
    double q = 37 - 15 * log10(p->qdu > 0 ? p->qdu : 1);
    double g = 1.07 + 0.258 * q + 0.0602 * q * q;
    double y = (ro - 100) / 15 + 46 / 8.4 - g / 9;
    double z = 46 / 30.0 - g / 40;
    double iq = 15 * log10(1 + pow(10, y) + pow(10, z));
    double is = iolr + ist + iq;

    /* 7.4 delay impairment */
    double terv = p->telr - 40 * log10((1 + p->t / 10) / (1 + p->t / 150)) +
                  6 * exp(-0.3 * p->t * p->t);
    if (p->stmr < 9)
        terv += ist / 2;
    double re = 80 + 2.5 * (terv - 14);
    double roe = -1.5 * (no - p->rlr);
    double idte = ((roe - re) / 2 + sqrt((roe - re) * (roe - re) / 4 + 100) - 1) *
                  (1 - exp(-p->t));
    if (p->stmr > 20) { /* 7.4: Idte adjusted for very high sidetone */
        double idtes = sqrt(idte * idte + ist * ist);
        idte = idtes;
    }
    double rle = 10.5 * (p->wepl + 7) * pow(p->tr + 1, -0.25);
    double idle = (ro - rle) / 2 + sqrt((ro - rle) * (ro - rle) / 4 + 169);
    double idd = 0;
    if (p->ta > 100) { /* mT = 100 ms, sT = 1 */
        double x = log(p->ta / 100) / log(2);
        idd = 25 * (pow(1 + pow(x, 6), 1.0 / 6) - 3 * pow(1 + pow(x / 3, 6), 1.0 / 6) + 2);
    }
    double id = idte + idle + idd;

    /* 7.5 equipment impairment with packet loss */
    double ie_eff = emodel_ie_eff(p->ie, p->bpl, p->ppl, p->burst_r);
    return ro - is - id - ie_eff + p->a;
}

double emodel_mos(double r)
{
    if (r <= 0)
        return 1.0;
    if (r >= 100)
        return 4.5;
    double mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
    return mos < 1 ? 1 : mos; /* the cubic dips to 0.99 near R = 5 */
}

const struct emodel_codec_info *emodel_codec(enum emodel_codec c)
{
    if ((unsigned)c > EMODEL_UNKNOWN)
        c = EMODEL_UNKNOWN;
    return &codecs[c];
}

enum emodel_codec emodel_codec_by_name(const char *name)
{
    static const struct { const char *n; enum emodel_codec c; } map[] = {
        { "PCMU", EMODEL_G711 }, { "PCMA", EMODEL_G711 }, { "G711", EMODEL_G711 },
        { "G729", EMODEL_G729A }, { "G729A", EMODEL_G729A }, { "G729D", EMODEL_G729A },
        { "G729E", EMODEL_G729A }, { "G723", EMODEL_G723 }, { "G722", EMODEL_G722 },
        { "opus", EMODEL_OPUS }, { "GSM", EMODEL_GSM_FR }, { "GSM-EFR", EMODEL_GSM_EFR },
        { "iLBC", EMODEL_ILBC },
    };
    if (!name)
        return EMODEL_UNKNOWN;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(name, map[i].n) == 0)
            return map[i].c;
    return EMODEL_UNKNOWN;
}

double emodel_burst_r(double lost, double runs, double total)
{
    if (lost <= 0 || runs <= 0 || total <= 0 || lost >= total)
        return 1.0;
    double p = lost / total;
    double mean_run = lost / runs;
    return mean_run * (1 - p);
}

double emodel_r_for(enum emodel_codec c, double t_ms, double ppl, double burst_r)
{
    const struct emodel_codec_info *ci = emodel_codec(c);
    struct emodel_params p;
    emodel_defaults(&p);
    p.ie = ci->ie < 0 ? 0 : ci->ie;
    p.bpl = ci->bpl > 0 ? ci->bpl : 25.1;
    p.t = p.ta = t_ms;
    p.tr = 2 * t_ms;
    p.ppl = ppl;
    p.burst_r = burst_r;
    return emodel_r(&p);
}
