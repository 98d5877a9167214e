/* `trunkscope export --db FILE --call ID -o OUT.pcap`: one call's SIP
 * messages (all legs) and RTP/RTCP, re-read from the analysed captures;
 * with --audio its decoded audio as a stereo WAV (when the configuration
 * allows it: recordings are personal data). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../calls/calls.h"
#include "../common/limits.h"
#include "../common/num.h"
#include "../common/opts.h"
#include "../media/audio.h"
#include "../store/store.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: trunkscope export --db FILE --call ID -o OUT.pcap ('-' = standard output)\n"
               "       trunkscope export --db FILE --call ID --audio [--leg N] --config FILE"
               " -o OUT.wav\n"
               "  writes every SIP message of every leg of call ID and its RTP/RTCP,\n"
               "  in time order, read again from the capture files that were analysed or,\n"
               "  for a call of a live sensor, from its spool (capture/collect --spool);\n"
               "  --audio writes the call's audio instead: 16-bit stereo WAV, the caller\n"
               "  left, the callee right, from the first INVITE to the end of the call,\n"
               "  of leg N (default: the first leg with RTP). Needs audio = on in the\n"
               "  --config file: recordings are personal data.\n");
}

static int export_audio(const char *db, int64_t id, const char *leg_s, const char *config,
                        const char *out, bool audio)
{
    char err[512];
    int64_t leg = -1;
    if (!audio) {
        fprintf(stderr, "trunkscope export: --leg goes with --audio\n");
        return 2;
    }
    if (leg_s && !num_i64(leg_s, 0, 1000, &leg)) {
        fprintf(stderr, "trunkscope export: --leg needs a leg number (0, 1, ...), not '%s'\n",
                leg_s);
        return 2;
    }
    struct calls_config cfg;
    calls_config_default(&cfg);
    if (config && calls_config_load(&cfg, config, err, sizeof err) != CALLS_OK) {
        fprintf(stderr, "trunkscope export: %s\n", err);
        return 2;
    }
    if (!cfg.audio) {
        fprintf(stderr, "trunkscope export: audio is off: recordings are personal data; set "
                        "'audio = on' in the file given with --config\n");
        return 2;
    }
    /* written to a temporary name first: a failed export leaves no file;
     * -o - writes to standard output and the summary to stderr */
    bool to_stdout = strcmp(out, "-") == 0;
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.part", out) >= sizeof tmp) {
        fprintf(stderr, "trunkscope export: %s: name too long\n", out);
        return 2;
    }
    FILE *f = to_stdout ? stdout : fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "trunkscope export: %s: cannot create\n", tmp);
        return 2;
    }
    struct st_audio_result r;
    int rc = st_export_audio(db, id, (int)leg, f, NULL, &r, err, sizeof err);
    if ((to_stdout ? fflush(f) : fclose(f)) != 0 && rc == ST_OK) {
        snprintf(err, sizeof err, "%s: write error", out);
        rc = ST_ERR_IO;
    }
    if (rc == ST_OK && !to_stdout && rename(tmp, out) != 0) {
        snprintf(err, sizeof err, "%s: cannot rename into place", out);
        rc = ST_ERR_IO;
    }
    if (rc != ST_OK) {
        if (!to_stdout)
            remove(tmp);
        fprintf(stderr, "trunkscope export: %s\n", err);
        return 2;
    }
    FILE *sum = to_stdout ? stderr : stdout;
    fprintf(sum, "call %lld leg %d: %u streams (%u decoded: caller %s, callee %s), %llu packets, "
            "%llu decoded, %llu lost, %llu late, %.3f s at %u Hz -> %s\n",
           (long long)id, r.leg, r.streams, r.tracks, audio_codec_name((enum audio_codec)r.codec[0]),
           audio_codec_name((enum audio_codec)r.codec[1]), (unsigned long long)r.packets,
           (unsigned long long)r.decoded, (unsigned long long)r.lost, (unsigned long long)r.late,
           r.rate ? (double)r.frames / r.rate : 0.0, r.rate, to_stdout ? "standard output" : out);
    if (r.srtp_skipped)
        fprintf(sum, "  %llu SRTP packets left out: no keys\n", (unsigned long long)r.srtp_skipped);
    if (r.srtp_opened || r.srtp_failed)
        fprintf(sum, "  SRTP: %llu packets decrypted with the SDP's keys, %llu failed to "
                     "authenticate (wrong key or tampered: left out as silence)\n",
                (unsigned long long)r.srtp_opened, (unsigned long long)r.srtp_failed);
    if (r.tones)
        fprintf(sum, "  %llu DTMF events rendered as tones\n", (unsigned long long)r.tones);
    if (r.cut)
        fprintf(sum, "  cut at %u s\n", TS_AUDIO_MAX_SECONDS);
    return 0;
}

int cmd_export(int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *call = NULL, *leg_s = NULL, *config = NULL;
    bool audio = false;
    static const struct option table[] = {
        { "db", required_argument, NULL, 'd' },
        { "call", required_argument, NULL, 'c' },
        { "output", required_argument, NULL, 'o' },
        { "audio", no_argument, NULL, 'a' },
        { "leg", required_argument, NULL, 'l' },
        { "config", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = "trunkscope export", .table = table, .shorts = "ho:" };
    const char *v;
    for (int c; (c = opts_next(&op, argc, argv, &v)) != OPTS_END;) {
        switch (c) {
        case 'd':
            db = v;
            break;
        case 'c':
            call = v;
            break;
        case 'o':
            out = v;
            break;
        case 'a':
            audio = true;
            break;
        case 'l':
            leg_s = v;
            break;
        case 'f':
            config = v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPTS_OPERAND:
            fprintf(stderr, "trunkscope export: unknown option '%s'\n", v);
            return 2;
        default:
            return 2;
        }
    }
    if (!db || !out || !call) {
        usage(stderr);
        return 2;
    }
    int64_t id;
    if (!num_i64(call, 1, INT64_MAX, &id)) {
        fprintf(stderr, "trunkscope export: --call needs a positive call id, not '%s'\n", call);
        return 2;
    }
    /* a read-only command: a mistyped path must not leave an empty database */
    struct stat sb;
    if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "trunkscope export: %s: no such database (expected the file given to "
                        "analyze, capture or collect as --db)\n", db);
        return 2;
    }
    char err[512];
    if (audio || leg_s)
        return export_audio(db, id, leg_s, config, out, audio);
    struct st_export_stats st;
    if (st_export_call(db, (int64_t)id, out, &st, err, sizeof err) != ST_OK) {
        fprintf(stderr, "trunkscope export: %s\n", err);
        return 2;
    }
    /* with -o - the pcap is on stdout: the summary goes to stderr */
    FILE *sum = strcmp(out, "-") == 0 ? stderr : stdout;
    fprintf(sum, "call %lld: %u legs, %llu SIP frames, %llu RTP/RTCP frames -> %s\n", (long long)id,
            st.legs, (unsigned long long)st.sip_frames, (unsigned long long)st.media_frames,
            strcmp(out, "-") == 0 ? "standard output" : out);
    if (st.spool)
        fprintf(sum, "  from the spool: %llu blocks read, %llu torn or unreadable skipped\n",
                (unsigned long long)st.spool_blocks, (unsigned long long)st.spool_torn);
    if (st.skipped_linktype)
        fprintf(sum, "  %llu frames of another link type left out\n",
               (unsigned long long)st.skipped_linktype);
    return 0;
}
