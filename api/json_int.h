/* Private to api/: builders of jansson values for the report and the HTTP
 * API. jansson.h is included only inside api/. */
#ifndef TS_API_JSON_INT_H
#define TS_API_JSON_INT_H

#include <jansson.h>

struct calls;

/* "calls", "trunks" and "registrations" parts of the analyze report. Each
 * returns a new reference (json array), never NULL. */
json_t *calls_json_calls(const struct calls *c);
json_t *calls_json_trunks(const struct calls *c);
json_t *calls_json_registrations(const struct calls *c);
/* "streams": finished RTP streams of the media analysis (media may be NULL). */
struct media;
json_t *media_json_streams(const struct media *m);

#endif
