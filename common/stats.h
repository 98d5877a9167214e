/* Counters of the packet path. Each layer has three verdicts (truncated,
 * malformed, unsupported) plus its own events; the CLI and the API print every
 * non-zero one by its dotted name ("ipv4.truncated" -> {"ipv4":{"truncated"}}).
 * Add a counter by adding one X() line in its module's section. */
#ifndef TS_STATS_H
#define TS_STATS_H

#include <stdint.h>

#define TS_STATS(X)                                                          \
    /* input */                                                              \
    X(PACKETS, "packets")                                                    \
    X(BYTES, "bytes")                                                        \
    X(FILES, "files")                                                        \
    X(FILE_ERRORS, "file_errors")                                            \
    X(BAD_TIME, "bad_timestamp")                                             \
    X(DECODED, "decoded")                                                    \
    /* link layer */                                                         \
    X(LINK_TRUNCATED, "link.truncated")                                      \
    X(LINK_MALFORMED, "link.malformed")                                      \
    X(LINK_UNSUPPORTED, "link.unsupported")                                  \
    X(LINK_NON_IP, "link.non_ip")                                            \
    X(VLAN_TAGGED, "vlan.tagged")                                            \
    X(VLAN_QINQ, "vlan.qinq")                                                \
    /* tunnels */                                                            \
    X(TUN_GRE, "tunnel.gre")                                                 \
    X(TUN_ERSPAN2, "tunnel.erspan2")                                         \
    X(TUN_ERSPAN3, "tunnel.erspan3")                                         \
    X(TUN_IPIP, "tunnel.ipip")                                               \
    X(TUN_IP6IN4, "tunnel.ip6in4")                                           \
    X(TUN_VXLAN, "tunnel.vxlan")                                             \
    X(TUN_GTPU, "tunnel.gtpu")                                               \
    X(TUN_PPPOE, "tunnel.pppoe")                                             \
    X(TUN_TRUNCATED, "tunnel.truncated")                                     \
    X(TUN_MALFORMED, "tunnel.malformed")                                     \
    X(TUN_UNSUPPORTED, "tunnel.unsupported")                                 \
    X(TUN_TOO_DEEP, "tunnel.too_deep")                                       \
    /* IP */                                                                 \
    X(IPV4, "ipv4.packets")                                                  \
    X(IPV4_TRUNCATED, "ipv4.truncated")                                      \
    X(IPV4_MALFORMED, "ipv4.malformed")                                      \
    X(IPV4_UNSUPPORTED, "ipv4.unsupported")                                  \
    X(IPV6, "ipv6.packets")                                                  \
    X(IPV6_TRUNCATED, "ipv6.truncated")                                      \
    X(IPV6_MALFORMED, "ipv6.malformed")                                      \
    X(IPV6_UNSUPPORTED, "ipv6.unsupported")                                  \
    X(IP_OTHER_PROTO, "ip.other_protocol")                                   \
    X(ICMP_UNREACH, "icmp.unreachable")                                      \
    X(ICMP_UNREACH_OTHER, "icmp.unreachable_not_udp")                        \
    X(ICMP_MALFORMED, "icmp.malformed")                                      \
    /* fragments */                                                          \
    X(FRAG_FRAGMENTS, "frag.fragments")                                      \
    X(FRAG_REASSEMBLED, "frag.reassembled")                                  \
    X(FRAG_DUPLICATE, "frag.duplicate")                                      \
    X(FRAG_OVERLAP, "frag.overlap")                                          \
    X(FRAG_TIMEOUT, "frag.timeout")                                          \
    X(FRAG_EVICTED, "frag.evicted")                                          \
    X(FRAG_TOO_MANY, "frag.too_many")                                        \
    X(FRAG_TOO_BIG, "frag.too_big")                                          \
    X(FRAG_MALFORMED, "frag.malformed")                                      \
    /* SPAN duplicates */                                                    \
    X(DUPLICATES, "duplicates")                                              \
    /* UDP */                                                                \
    X(UDP, "udp.packets")                                                    \
    X(UDP_TRUNCATED, "udp.truncated")                                        \
    X(UDP_MALFORMED, "udp.malformed")                                        \
    X(UDP_SNAPPED, "udp.header_only")                                        \
    /* SCTP */                                                               \
    X(SCTP, "sctp.packets")                                                  \
    X(SCTP_TRUNCATED, "sctp.truncated")                                      \
    X(SCTP_MALFORMED, "sctp.malformed")                                      \
    /* TCP */                                                                \
    X(TCP, "tcp.segments")                                                   \
    X(TCP_TRUNCATED, "tcp.truncated")                                        \
    X(TCP_MALFORMED, "tcp.malformed")                                        \
    X(TCP_STREAMS, "tcp.streams")                                            \
    X(TCP_MIDSTREAM, "tcp.midstream")                                        \
    X(TCP_OUT_OF_ORDER, "tcp.out_of_order")                                  \
    X(TCP_RETRANS, "tcp.retransmissions")                                    \
    X(TCP_OVERLAP, "tcp.overlaps")                                           \
    X(TCP_GAPS, "tcp.gaps")                                                  \
    X(TCP_GAP_BYTES, "tcp.gap_bytes")                                        \
    X(TCP_OOO_DROPPED, "tcp.ooo_dropped")                                    \
    X(TCP_EVICTED, "tcp.evicted")                                            \
    X(TCP_CLOSED, "tcp.closed")                                              \
    X(TCP_IDLE, "tcp.idle_closed")                                           \
    X(TCP_REUSED, "tcp.reused")                                              \
    X(TCP_OOO_FULL, "tcp.ooo_full")                                          \
    /* SIP */                                                                \
    X(SIP_MESSAGES, "sip.messages")                                          \
    X(SIP_REQUESTS, "sip.requests")                                          \
    X(SIP_RESPONSES, "sip.responses")                                        \
    X(SIP_CALL_IDS, "sip.call_ids")                                          \
    X(SIP_TRUNCATED, "sip.truncated")                                        \
    X(SIP_MALFORMED, "sip.malformed")                                        \
    X(SIP_UNSUPPORTED, "sip.unsupported")                                    \
    X(SIP_FLAGGED, "sip.flagged")                                            \
    X(SIP_TCP_RESYNC, "sip.tcp_resync_bytes")                                \
    X(SIP_TCP_OVERSIZE, "sip.tcp_oversize")                                  \
    X(SIP_KEEPALIVES, "sip.keepalives")                                      \
    X(SIP_JUNK, "sip.junk_on_sip_port")                                      \
    X(SIP_TLS_FLOWS, "sip.tls_flows")                                        \
    X(SIP_HTTP_FLOWS, "sip.http_flows")                                      \
    X(SIP_TLS_RECORDS, "sip.tls_records")                                    \
    X(SIP_WEBSOCKET, "sip.websocket_frames")                                 \
    /* TLS seen from outside (dissect/tls.c) */                              \
    X(TLS_CONNS, "tls.connections")                                          \
    X(TLS_HANDSHAKES, "tls.handshakes")                                      \
    X(TLS_ESTABLISHED, "tls.established")                                    \
    X(TLS_FAILED, "tls.failed")                                              \
    X(TLS_RESUMED, "tls.resumed")                                            \
    X(TLS_ALERTS, "tls.alerts")                                              \
    X(TLS_CERTS, "tls.certificates")                                         \
    X(TLS_CERT_BAD, "tls.certificates_unparsed")                             \
    X(TLS_MIDSTREAM, "tls.midstream")                                        \
    X(TLS_TRUNCATED, "tls.truncated")                                        \
    X(TLS_MALFORMED, "tls.malformed")                                        \
    X(TLS_UNSUPPORTED, "tls.unsupported")                                    \
    X(TLS_HS_OVERSIZE, "tls.handshake_oversize")                             \
    X(TLS_LOST, "tls.framing_lost")                                          \
    /* TLS decrypted (crypto/tlsdec.c) */                                    \
    X(TLS_DEC_CONNS, "tls.decrypt.connections")                              \
    X(TLS_DEC_RECORDS, "tls.decrypt.records")                                \
    X(TLS_DEC_BYTES, "tls.decrypt.bytes")                                    \
    X(TLS_DEC_RESUMED, "tls.decrypt.resumed")                                \
    X(TLS_DEC_INCOMPLETE, "tls.decrypt.incomplete")                          \
    X(TLS_DEC_NO_HANDSHAKE, "tls.decrypt.no_handshake")                      \
    X(TLS_DEC_NO_KEY, "tls.decrypt.no_key")                                  \
    X(TLS_DEC_FORWARD_SECRET, "tls.decrypt.forward_secret")                  \
    X(TLS_DEC_RSA_MISMATCH, "tls.decrypt.rsa_key_mismatch")                  \
    X(TLS_DEC_UNSUPPORTED, "tls.decrypt.unsupported")                        \
    X(TLS_DEC_AUTH_FAILED_CONNS, "tls.decrypt.auth_failed_connections")      \
    X(TLS_DEC_AUTH_FAILED, "tls.decrypt.auth_failed_records")                \
    X(TLS_DEC_LOST, "tls.decrypt.lost")                                      \
    X(TLS_DEC_GAP, "tls.decrypt.gap")                                        \
    X(TLS_DEC_MALFORMED, "tls.decrypt.malformed")                            \
    X(TLS_DEC_UNLISTED, "tls.decrypt.unlisted")                              \
    X(TLS_KEYLOG_LINES, "tls.keylog.lines")                                  \
    X(TLS_KEYLOG_BAD, "tls.keylog.bad_lines")                                \
    /* pcapng Decryption Secrets Blocks (capture/pcapng_secrets.c) */         \
    X(PCAPNG_SECRETS, "pcapng.secrets_blocks")                                \
    X(PCAPNG_TRUNCATED, "pcapng.blocks_truncated")                            \
    X(PCAPNG_MALFORMED, "pcapng.blocks_malformed")                            \
    X(PCAPNG_SECRETS_UNSUPPORTED, "pcapng.secrets_unsupported")               \
    X(PCAPNG_SECRETS_OVER_LIMIT, "pcapng.secrets_too_large")                 \
    /* other flows of the trunk links (engine/oflows.c, nDPI) */              \
    X(OFLOW_FLOWS, "other.flows")                                            \
    X(OFLOW_GUESSED, "other.guessed")                                        \
    X(OFLOW_OURS, "other.sip_rtp_late")                                      \
    X(OFLOW_EVICTED, "other.flows_evicted")                                  \
    X(OFLOW_ENTRIES_EVICTED, "other.entries_evicted")                        \
    X(SIP_CALLID_SET_FULL, "sip.call_id_set_full")                           \
    X(HEP_PACKETS, "hep.packets")                                            \
    X(HEP_TRUNCATED, "hep.truncated")                                        \
    X(HEP_MALFORMED, "hep.malformed")                                        \
    X(HEP_UNSUPPORTED, "hep.unsupported")                                    \
    X(HEP_OTHER, "hep.non_sip")                                              \
    X(SDP_BODIES, "sdp.bodies")                                              \
    X(SDP_MALFORMED, "sdp.malformed")                                        \
    /* RTP / RTCP (media) */                                                 \
    X(RTP_PACKETS, "rtp.packets")                                            \
    X(RTP_SIGNALLED, "rtp.signalled_packets")                                \
    X(RTP_HEURISTIC, "rtp.heuristic_packets")                                \
    X(RTP_TRUNCATED, "rtp.truncated")                                        \
    X(RTP_MALFORMED, "rtp.malformed")                                        \
    X(RTP_UNSUPPORTED, "rtp.unsupported")                                    \
    X(RTP_NON_RTP, "rtp.non_rtp_on_media_port")                              \
    X(RTP_CANDIDATES, "rtp.heuristic_candidates")                            \
    X(RTP_CANDIDATES_REFUSED, "rtp.heuristic_refused")                       \
    X(RTP_STREAMS, "rtp.streams")                                            \
    X(RTP_EVICTED, "rtp.streams_evicted")                                    \
    X(RTP_IDLE, "rtp.streams_idle")                                          \
    X(RTP_ENDED_WITH_LEG, "rtp.streams_ended_with_leg")                      \
    X(RTP_REPORT_DROPPED, "rtp.report_dropped")                              \
    X(RTP_SERIES_FULL, "rtp.series_full")                                    \
    X(RTP_EXPECT, "rtp.sdp_endpoints")                                       \
    X(RTP_EXPECT_EVICTED, "rtp.sdp_endpoints_evicted")                       \
    X(RTP_AGG_EVICTED, "rtp.aggregates_evicted")                             \
    X(RTP_CAPTURE_GAPS, "rtp.capture_gaps")                                  \
    X(RTP_DTMF_EVENTS, "rtp.dtmf_events")                                    \
    X(RTP_SRTP_DECRYPTED, "rtp.srtp_decrypted")                              \
    X(RTP_SRTP_AUTH_FAILED, "rtp.srtp_auth_failed")                          \
    X(RTP_SRTP_NOT_TRIED, "rtp.srtp_not_tried")                              \
    X(RTP_SRTP_REPLAYED, "rtp.srtp_replayed")                                \
    X(RTP_SRTP_EVICTED, "rtp.srtp_state_evicted")                            \
    X(RTCP_PACKETS, "rtcp.packets")                                          \
    X(RTCP_TRUNCATED, "rtcp.truncated")                                      \
    X(RTCP_MALFORMED, "rtcp.malformed")                                      \
    X(RTCP_UNSUPPORTED, "rtcp.unsupported")                                  \
    X(RTCP_SR, "rtcp.sr")                                                    \
    X(RTCP_RR, "rtcp.rr")                                                    \
    X(RTCP_SDES, "rtcp.sdes")                                                \
    X(RTCP_BYE, "rtcp.bye")                                                  \
    X(RTCP_XR, "rtcp.xr")                                                    \
    X(RTCP_SRTCP, "rtcp.srtcp")                                              \
    X(RTCP_SRTCP_DECRYPTED, "rtcp.srtcp_decrypted")                          \
    X(RTCP_SRTCP_AUTH_FAILED, "rtcp.srtcp_auth_failed")                      \
    X(RTCP_SOURCES_EVICTED, "rtcp.sources_evicted")                          \
    /* endpoint quality reports (vq-rtcpxr, X-RTP-Stat) */                   \
    X(VQ_REPORTS, "vq.reports")                                              \
    X(VQ_MALFORMED, "vq.malformed")                                          \
    X(VQ_UNMATCHED, "vq.unmatched")                                          \
    /* calls */                                                              \
    X(CALLS_LEGS, "calls.legs")                                              \
    X(CALLS_CALLS, "calls.calls")                                            \
    X(CALLS_LINKS, "calls.links")                                            \
    X(CALLS_AMBIGUOUS, "calls.ambiguous")                                    \
    X(CALLS_LINK_REFUSED, "calls.link_refused")                              \
    X(CALLS_RETRANS, "calls.retransmissions")                                \
    X(CALLS_HOP_COPIES, "calls.hop_copies")                                  \
    X(CALLS_ORPHANS, "calls.orphan_messages")                                \
    X(CALLS_TIMEOUTS, "calls.timeouts")                                      \
    X(CALLS_EVICTED, "calls.evicted")                                        \
    X(CALLS_REPORT_DROPPED, "calls.report_dropped")                          \
    X(CALLS_TRUNKS_FULL, "calls.trunks_full")                                \
    X(CALLS_BUCKETS_DROPPED, "calls.buckets_dropped")                        \
    X(CALLS_REG_TXN, "calls.reg_transactions")                               \
    X(CALLS_REG_EVICTED, "calls.reg_evicted")                                \
    X(CALLS_PEERS_FULL, "calls.peers_full")                                  \
    X(CALLS_SBC_LEARNED, "calls.sbc_learned")                                \
    X(CALLS_SBC_FULL, "calls.sbc_full")                                      \
    X(CALLS_TOPO_FULL, "calls.topo_full")                                    \
    X(CALLS_FAILOVERS, "calls.failovers")                                    \
    X(CALLS_RELINKED, "calls.relinked")                                      \
    X(CALLS_TOPO_MIRRORED, "calls.topo_mirrored")                            \
    X(CALLS_UNREACH, "calls.icmp_unreachable")                               \
    X(CALLS_UNREACH_UNMATCHED, "calls.icmp_unreachable_unmatched")

enum ts_stat {
#define TS_STAT_ENUM(id, name) TS_##id,
    TS_STATS(TS_STAT_ENUM)
#undef TS_STAT_ENUM
    TS_STAT_MAX
};

struct ts_stats {
    uint64_t v[TS_STAT_MAX];
};

#define TS_INC(st, id) ((st)->v[TS_##id]++)
#define TS_ADD(st, id, n) ((st)->v[TS_##id] += (uint64_t)(n))

/* Dotted name of a counter ("ipv4.truncated"). */
const char *ts_stat_name(enum ts_stat s);

#endif
