/* Every hard limit of trunkscope in one place, each with its reason.
 * Tables driven by traffic are bounded by these; tests probe N-1, N, N+1. */
#ifndef TS_LIMITS_H
#define TS_LIMITS_H

/* A limit spelt as text, for the SQL and the messages that quote it. */
#define TS_STR2(x) #x
#define TS_STR(x) TS_STR2(x)

/* ---- capture ---- */
/* Snap length for live capture: jumbo frames carry whole SIP messages. */
#define TS_SNAPLEN 65535
/* Live capture: interfaces per sensor (one capture thread and queue each). */
#define TS_LIVE_MAX_IFACES 16
/* Live capture: kernel ring per interface, default and cap (MiB). */
#define TS_LIVE_BUFFER_MB_DEFAULT 64
#define TS_LIVE_BUFFER_MB_MAX 4096
/* Live capture: bytes of the capture -> analysis queue per interface (touched
 * up front); with the kernel ring ~1 s of a saturated gigabit port absorbs
 * analysis hiccups, beyond it we drop and count. */
#define TS_LIVE_QUEUE_BYTES (64u * 1024 * 1024)
/* Input files in one analyze run: merge heap is tiny, a shell glob is not. */
#define TS_MAX_INPUT_FILES 1024
/* Read buffer per input file, for the first few files of a run (a glob of
 * 1,024 files keeps stdio's default instead of 256 MB of buffers). */
#define TS_PCAP_READ_BUF (64u * 1024)
#define TS_PCAP_BUFFERED_FILES 16
/* Read errors kept for the report (the rest are counted). */
#define TS_READ_ERRORS_KEPT 64
/* analyze's reader thread: batches in flight, frames and frame bytes per
 * batch (4 MB in all; a single larger frame grows its batch, within
 * libpcap's snaplen). Batches of 256 make the hand-over cost nothing per
 * packet; 8 of them let the reader run ahead through a slow stretch. */
#define TS_READAHEAD_SLOTS 8
#define TS_READAHEAD_FRAMES 256
#define TS_READAHEAD_BYTES (512u * 1024)
/* Spare buffers per batch for what the reader parses ahead (SIP messages:
 * ~4 % of the frames at 2,500 call attempts a second, ~10 per batch, but a
 * burst of set-ups is all SIP: the batch ends when they are taken). 32 x
 * 11 KB per batch. */
#define TS_READAHEAD_SPARES 32
/* Nested encapsulations (VLAN, tunnels) before we stop peeling: a loop guard. */
#define TS_MAX_ENCAP_DEPTH 8
/* IPv6 extension headers walked per packet: RFC 8200 allows few in practice. */
#define TS_MAX_IPV6_EXT_HDRS 8
/* Counters one frame's decode raises before its unit (struct ts_pkt): at
 * most 3 per nesting level (tunnel, ERSPAN, inner IP) and 4 besides
 * (decode.c asserts the sum). */
#define TS_PKT_MAX_COUNTS 32

/* ---- IP fragment reassembly ---- */
/* Fragments per datagram: a 64 KiB datagram in 8-byte pieces would be 8192;
 * real traffic uses < 50, attackers use more. */
#define TS_FRAG_MAX_PER_DGRAM 64
/* Datagrams being reassembled at once (LRU eviction beyond). */
#define TS_FRAG_MAX_DGRAMS 4096
/* Bytes held by all pending fragments together. */
#define TS_FRAG_MAX_BYTES (16u * 1024 * 1024)
/* A datagram incomplete this long is dropped (RFC 791 suggests 15 s; Linux 30 s). */
#define TS_FRAG_TIMEOUT_NS (30ull * 1000000000ull)
/* Largest reassembled IP datagram (IPv4 total length limit). */
#define TS_FRAG_MAX_DGRAM_SIZE 65535

/* ---- SPAN duplicate detection ---- */
/* Mirror copies (ingress+egress) arrive within microseconds; genuine network
 * retransmissions are hundreds of ms apart (SIP T1 = 500 ms). */
#define TS_DEDUP_WINDOW_NS (2ull * 1000000ull)
/* Recent packet fingerprints remembered (ring). */
#define TS_DEDUP_RING 4096

/* ---- TCP reassembly ---- */
/* Connections tracked at once (LRU eviction beyond). */
#define TS_TCP_MAX_CONNS 65536
/* Out-of-order bytes buffered per direction before we declare a gap. */
#define TS_TCP_MAX_OOO_BYTES (256u * 1024)
/* Out-of-order segments buffered per direction. */
#define TS_TCP_MAX_OOO_SEGS 256
/* Bytes buffered by all connections together. */
#define TS_TCP_MAX_TOTAL_BYTES (64u * 1024 * 1024)
/* Idle connection lifetime. */
#define TS_TCP_IDLE_NS (300ull * 1000000000ull)
/* An ACK further ahead of the data seen than the largest window (RFC 7323:
 * 2^30) is bogus, not evidence of missing data. */
#define TS_TCP_MAX_WINDOW (1u << 30)

/* ---- SIP ---- */
/* Largest SIP message we frame over TCP (body included). suricata-verify's
 * sip-body-large is 65793 bytes; allow headroom. */
#define TS_SIP_MAX_MSG (128u * 1024)
/* Header fields per message: zeek's long-path sample has ~150 Via lines. */
#define TS_SIP_MAX_HEADERS 256
/* Bytes of garbage the TCP framer skips before it gives up on a stream. */
#define TS_SIP_MAX_RESYNC (64u * 1024)
/* Distinct Call-IDs remembered for the distinct count (analyze). */
#define TS_MAX_CALLID_SET (4u * 1024 * 1024)

/* Largest WebSocket message (SIP over WebSocket, RFC 7118) we reassemble. */
#define TS_WS_MAX_MSG TS_SIP_MAX_MSG

/* ---- SDP ---- */
/* m= sections per SDP body. */
#define TS_SDP_MAX_MEDIA 16
/* rtpmap/fmtp entries per m= section. */
#define TS_SDP_MAX_FORMATS 32
/* a=crypto values kept per m= section: an offer lists a few suites
 * (RFC 4568 section 5.1); further lines are ignored */
#define TS_SDP_MAX_CRYPTO 4

/* ---- RTP / RTCP ---- */
/* RTCP packets kept per compound datagram (RFC 3550 6.1: SR/RR, SDES, BYE,
 * XR, FB...; real compounds carry 2-4). Further ones are walked, not stored. */
#define TS_RTCP_MAX_PACKETS 16

/* ---- media analysis (RTP streams, SDP endpoints, RTCP sources) ---- */
/* Live RTP streams (5-tuple + SSRC), ~1 KiB each: a call with two legs has
 * four, so 128 Ki is ~32 k calls (the design point is 10,000). */
#define TS_MEDIA_MAX_STREAMS 131072
/* Finished stream records kept for the report; later ones reach the sink only. */
#define TS_MEDIA_MAX_REPORT_STREAMS 100000
/* SDP-announced endpoints (RTP and RTCP), 2-4 per leg of TS_MAX_DIALOGS. */
#define TS_MEDIA_MAX_EXPECT 262144
/* Generation counters of SDP endpoints, by hash slot (4 bytes each, a power
 * of two): a stream skips the expectation lookups while both of its
 * endpoints' slots are unchanged. Collisions only cost a lookup. */
#define TS_MEDIA_EGEN_SLOTS 65536
/* RTCP sources (SSRCs) with SR/RR/SDES state. */
#define TS_MEDIA_MAX_SOURCES 65536
/* Unsignalled RTP candidates: the first RTP-looking datagram of a 5-tuple +
 * SSRC held until a second continues it (~260 bytes each, LRU; they live
 * a few seconds). */
#define TS_MEDIA_MAX_CANDIDATES 16384
/* Per-leg and per-call quality aggregates (two per leg). */
#define TS_MEDIA_MAX_AGG 131072
/* Formats remembered per SDP endpoint (m= lines list 3-10 in practice). */
#define TS_MEDIA_SDP_CODECS 16
/* 5-second series points per stream: one hour, ~8.6 KiB. */
#define TS_MEDIA_MAX_SERIES 720
/* Other legs one stream is counted on when media bypasses B2BUAs in a row. */
#define TS_MEDIA_ALSO_LEGS 3
/* Live streams of a leg summed when a stream ends (one-way check): a leg
 * has 2-4; strangers can open more SSRCs, so the walk stops here. */
#define TS_MEDIA_LEG_WALK 32

/* ---- audio decode (media/audio.c: one call's streams to PCM on demand) ---- */
/* Payload bytes held per decoded stream: 64 MiB is 2.3 hours of G.711
 * (the no_bye_timeout default is 4 h); later packets are counted, not kept. */
#define TS_AUDIO_MAX_BYTES (64u << 20)
/* Packets held per decoded stream: 50/s for 5.5 hours (~40 bytes each). */
#define TS_AUDIO_MAX_PKTS 1000000u
/* Streams mixed into one export (a leg has 2-4; SSRC changes add some). */
#define TS_AUDIO_MAX_TRACKS 16
/* Decoded samples of one packet at 48 kHz: 2 s (an MTU of G.729 at 8 kHz
 * upsampled is 1.8 s; Opus' longest frame is 120 ms). Longer is cut. */
#define TS_AUDIO_MAX_PKT_SAMPLES 96000u
/* Length of one export: WAV's 32-bit sizes hold 6 h of 48 kHz stereo;
 * 4 h is the no_bye_timeout default. Later audio is cut and counted. */
#define TS_AUDIO_MAX_SECONDS (4u * 3600u)
/* De-jitter buffer depth (ms): a packet later than its place on the RTP
 * timeline by more than this is dropped, as a phone would. */
#define TS_AUDIO_JB_MS 120u
/* A packet off its place by more than this (ms) restarts the timeline
 * there (timestamp reset, SSRC change, clock drift). */
#define TS_AUDIO_RESYNC_MS 1000u
/* ... and so does being off by more than TS_AUDIO_JB_MS this many packets
 * in a row (100 ms of 20 ms packets): sender and capture clocks drift apart
 * (100 ppm is 120 ms in 20 minutes), which must not silence the rest. */
#define TS_AUDIO_RESYNC_RUN 5u
/* Comfort noise (RFC 3389) fills at most this long after a SID packet. */
#define TS_AUDIO_CN_MAX_MS 10000u
/* SDES keys tried per party of an exported leg: an offer lists a few
 * suites (RFC 4568 5.1), a re-INVITE may rekey. */
#define TS_AUDIO_SDES_KEYS 4
/* SIP messages of a leg read for SDP (keys, telephone-event type) by an
 * audio export, newest first: the offer, answer and a few re-INVITEs. */
#define TS_AUDIO_SDP_MSGS 64
/* Longest DTMF tone rendered (ms): RFC 4733 2.5.1.5 lets an event's
 * duration grow without end; a phone stops playing long before. */
#define TS_AUDIO_TONE_MAX_MS 10000u

/* ---- calls (dialogs, legs, correlation, trunks) ---- */
/* INVITE dialogs (legs) held at once, open or waiting to be emitted; LRU
 * eviction beyond emits the oldest leg's call early (each is ~1.4 KiB with
 * its strings and fingerprints: 64 Ki dialogs cap the table near 90 MiB). */
#define TS_MAX_DIALOGS 65536
/* Finished calls kept for the report (packed, ~0.4 KiB per leg); later ones
 * only reach the sink and the aggregates, and are counted as calls.report_dropped. */
#define TS_MAX_REPORT_CALLS 50000
/* Legs in one correlated call: A->SBC->PBX->ITSP chains with a few forks. */
#define TS_CALLS_MAX_LEGS 16
/* Steps to find an idle leg's place in a sorted list of parked legs: they
 * arrive nearly in order, and hostile timestamps must not make it slow. */
#define TS_CALLS_PARK_SCAN 64
/* Transactions remembered per dialog for retransmission detection (ring). */
#define TS_CALLS_MAX_TXN 8
/* Message fingerprints per transaction (hop copies, forks, retransmissions);
 * 56-bit hashes in a pool per dialog, the first 16 inside it. */
#define TS_CALLS_MAX_FP 12
/* Early dialogs (To-tags) tracked per leg when an INVITE forks: Lync's
 * MaxEarlyDialogs is 20, one more shows that a leg exceeded it. */
#define TS_CALLS_MAX_FORKS 21
/* Hops (src,dst pairs) one Call-ID is seen on when a proxy relays it unchanged. */
#define TS_CALLS_MAX_HOPS 4
/* Endpoint quality reports kept per leg (vq-rtcpxr PUBLISH, X-RTP-Stat /
 * P-RTP-Stat of BYE and its 2xx): one per reporter and kind in practice;
 * a later report of the same reporter and kind replaces the earlier one. */
#define TS_CALLS_MAX_EPQ 4
/* SDP media endpoints per leg indexed for shared-media correlation. */
#define TS_CALLS_MAX_MEDIA 4
/* Trunks (peer pairs): a site has tens; spoofed sources must not grow it. */
#define TS_CALLS_MAX_TRUNKS 1024
/* Time buckets per trunk (24 h at the default 60 s); oldest dropped beyond. */
#define TS_CALLS_MAX_BUCKETS 1440
/* Erlang B search stops here: 100,000 channels carry ~99,800 E at 1 %,
 * beyond any trunk; bounds the loop for absurd inputs. */
#define TS_CAPACITY_MAX_CHANNELS 100000u

/* ---- alerts ---- */
/* Call ids kept per kind of evidence of an alert: enough to open a few. */
#define TS_ALERT_EVIDENCE_CALLS 5
/* Alerts pending or firing at once (rules x trunks and peers); the
 * evaluator skips new ones beyond and counts them. */
#define TS_ALERT_MAX_ACTIVE 1024
/* Directed (source, destination) pairs the trunk checklist accumulates
 * (a trunk is two; hops of a relayed leg add more); legs on pairs beyond
 * are counted as unchecked. */
#define TS_CHECKLIST_MAX_PAIRS 4096
/* Legs the trunk checklist holds until their RTP streams are in (a ring:
 * the oldest is judged with the streams it has when a new one needs room). */
#define TS_CHECKLIST_MAX_LEGS 65536
/* Call ids kept per checklist item as the calls that break it. */
#define TS_CHECKLIST_CALLS 8
/* Rules in the configuration (the shipped defaults are 16). */
#define TS_ALERT_MAX_RULES 64
/* Certificates (TLS peer rows) the evaluator reads per window, the soonest
 * to expire first. */
#define TS_ALERT_MAX_CERTS 1024
/* Keep-alive peers the evaluator reads (the tracker keeps at most
 * TS_CALLS_MAX_PEERS registrations and keep-alives together). */
#define TS_ALERT_MAX_PEERS 4096
/* Destinations counted per trunk and window for the fraud burst rule;
 * beyond, new numbers are not counted (the busiest come early in a burst). */
#define TS_ALERT_MAX_DESTS 4096
/* Notifications waiting for delivery; the oldest is dropped (and counted)
 * when a receiver is down for long, so memory stays bounded. */
#define TS_NOTIFY_MAX_QUEUE 256
/* Tries per notification and the first back-off (doubling). */
#define TS_NOTIFY_MAX_TRIES 4
#define TS_NOTIFY_BACKOFF_MS 500
/* Evaluations of `analyze --db` over the stored capture time: 8 hours at
 * the 10-s period; longer captures are evaluated at longer steps. */
#define TS_ALERT_MAX_REPLAY_STEPS 2880
/* Legs that replay keeps in memory for its trunk windows (about 150 bytes
 * each: a 600-s window at 200 legs/s); a trunk with more has its windows
 * queried from the database at each step instead. */
#define TS_ALERT_REPLAY_LEGS 250000
/* REGISTER/OPTIONS peers (client, server, method) tracked. */
#define TS_CALLS_MAX_PEERS 4096
/* REGISTER/OPTIONS transactions awaiting a final response (LRU eviction). */
#define TS_CALLS_MAX_PENDING 16384
/* Config file entries: internal networks, correlation headers, trunk names. */
#define TS_CALLS_MAX_NETS 64
#define TS_CALLS_MAX_CORR_HDRS 8
#define TS_CALLS_MAX_TRUNK_NAMES 256
/* SBC addresses, configured or learned from B2BUA legs crossing the edge:
 * a site has a few; learning stops at the cap (calls.sbc_full). */
#define TS_CALLS_MAX_SBC 64
/* Topology learning: addresses that sent or received an INVITE (a site has
 * tens; beyond, new ones are not learned and calls.topo_full counts), B2BUA
 * evidence pairs (the weakest unlearned one is replaced when full) and
 * nodes reported. */
#define TS_TOPO_MAX_ADDRS 1024
#define TS_TOPO_MAX_PAIRS 256
#define TS_TOPO_MAX_NODES 64
/* Legs seen before learning is taken as converged (calls are held until
 * then, so the first ones are linked with the topology known), or seconds
 * after the first INVITE, whichever comes first (learn_hold_legs,
 * learn_hold_s): a sensor emits calls within 30 s; offline analysis of a
 * file defers more. */
#define TS_TOPO_CONVERGE_LEGS 48
#define TS_TOPO_CONVERGE_S 30
#define TS_TOPO_CONVERGE_LEGS_OFFLINE 1024
/* Calls already emitted that a relay learned later may still join into
 * one (their legs finished while it was unknown; the store's rows are
 * merged): the last this many, for this long after they were emitted.
 * A relay is learned within a few dozen calls or seconds of its first. */
#define TS_TOPO_RELINK_CALLS 512
#define TS_TOPO_RELINK_S 120
#define TS_TOPO_CONVERGE_S_OFFLINE 600

/* ---- TLS seen from outside (dissect/tls.c) ---- */
/* Largest TLS record: 2^14 bytes of plaintext plus 2048 of expansion
 * (RFC 5246 section 6.2.3; TLS 1.3 allows less) and the 5-byte header.
 * Longer is not TLS: the direction's framing is abandoned. */
#define TS_TLS_MAX_RECORD (16384u + 2048u + 5u)
/* Largest handshake message reassembled across records: certificate chains
 * of real trunks are 3-12 KB; longer messages are counted and skipped. */
#define TS_TLS_MAX_HS_MSG (64u * 1024)
/* Cipher suites kept per ClientHello (browsers offer ~20, OpenSSL 3 ~30);
 * the rest are counted, not kept. */
#define TS_TLS_MAX_SUITES 64
/* supported_versions entries kept (a client offers 2-4, GREASE included). */
#define TS_TLS_MAX_VERSIONS 8
/* ALPN protocol names kept per hello (h2, http/1.1, sip...). */
#define TS_TLS_MAX_ALPN 8
/* SNI kept per connection: a DNS name is at most 253 characters (RFC 1035). */
#define TS_TLS_SNI_MAX 255
/* ALPN names kept as one comma-separated text per connection. */
#define TS_TLS_ALPN_TEXT_MAX 96

/* TLS peer pairs (client, server:port) with a status (calls/tlspeers.c):
 * as many as trunks; spoofed handshakes must not grow it (least recently
 * seen replaced). */
#define TS_TLS_MAX_PEERS 1024
/* Connections whose decryption ended that analyze lists with their verdict
 * (tls_connections[], calls/tlspeers.c; the newest kept, about 100 bytes
 * each): a trunk holds a few connections, a capture of many phones more. */
#define TS_TLS_CONN_LIST_MAX 100000
/* A certificate expiring within this many days warns its trunk (what
 * Teams Direct Routing's health dashboard warns at). */
#define TS_TLS_EXPIRY_WARN_DAYS 30
/* Other flows (engine/oflows.c, nDPI): flows being classified at once
 * (nDPI's state is ~0.7 KiB each; the least recently seen is classified
 * early and forgotten beyond), inventory entries (address pair, port,
 * protocol; a trunk link carries a few kinds; the least recently seen is
 * replaced), packets nDPI sees per flow before it must decide (its own
 * dissectors decide within 1-10), payload bytes copied per packet, and
 * idle time after which a flow is classified and forgotten. */
#define TS_OFLOW_MAX_FLOWS 4096
#define TS_OFLOW_MAX_ENTRIES 1024
#define TS_OFLOW_MAX_PACKETS 32
#define TS_OFLOW_SNAP 2048
#define TS_OFLOW_IDLE_NS (120ull * 1000000000ull)
/* Certificate text kept per certificate (crypto/x509.c): subject and
 * issuer names (real ones are under 200 characters), the subject
 * alternative names joined (an SBC lists a few), the serial in hex (RFC
 * 5280 4.1.2.2: at most 20 octets). Longer text is cut. */
#define TS_X509_NAME_MAX 255
#define TS_X509_SANS_MAX 511
#define TS_X509_SERIAL_MAX 48

/* ---- store ---- */
/* Records waiting for the SQLite writer: ~1 s of a busy trunk; beyond this
 * the record is dropped and counted so analysis never waits on disk. */
#define TS_STORE_QUEUE_MAX 65536
/* Bytes held by queued records (raw SIP text dominates). */
#define TS_STORE_QUEUE_BYTES (128u * 1024 * 1024)
/* INVITE dialogs whose stored messages wait for their leg (the writer links
 * them from memory, ~300 bytes each): dialogs plus lingering ones; LRU. */
#define TS_STORE_LINK_DIALOGS (2u * TS_MAX_DIALOGS)
/* Legs in progress a live snapshot stores for the dashboard (the table is
 * rewritten every few seconds): a screenful for people, not a census. The
 * counts in live_state cover every leg. */
#define TS_STORE_LIVE_LEGS 2000
/* Distinct User-Agent / Server strings the leg_agents directory keeps
 * (schema v23; strangers choose them): a deployment has tens to hundreds;
 * past this the strings seen longest ago go and the call list's
 * user_agent filter reads legs again for the leg ids they covered. */
#define TS_STORE_AGENTS_MAX 10000
/* Rows of leg_ports (schema v25): one per port a stored leg used as its
 * SIP source or destination, so the port space itself bounds it and
 * nothing is evicted; TS_STORE_PORTS_TOP is the highest port kept. */
#define TS_STORE_PORTS_MAX 65536
#define TS_STORE_PORTS_TOP (TS_STORE_PORTS_MAX - 1)
/* Records held back at the end of an analysis (st_writer_hold) so that
 * the calls up when the input ends and their streams, which end after them,
 * share one transaction and the legs take their MOS at insert instead of by
 * an UPDATE each: i10000's 10,000 calls and 20,000 streams take 35 MB. Past
 * either bound what is held goes to the queue and holding starts over. */
#define TS_STORE_HELD_RECORDS TS_STORE_QUEUE_MAX
#define TS_STORE_HELD_BYTES (64u * 1024 * 1024)

/* ---- capture spool (store/spool.c) ---- */
/* Raw pcap bytes per spool block, one zstd frame each: a block is the unit
 * that is written, indexed and read back, so a call's export decompresses
 * at most this much per second of its traffic that it does not need. */
#define TS_SPOOL_BLOCK_BYTES (1u * 1024 * 1024)
/* A block spans at most this much capture time (the index finds a call's
 * blocks by time; an export reads this much before the call at most). */
#define TS_SPOOL_BLOCK_SPAN_NS 1000000000ull
/* Blocks waiting for the spool thread (compression and disk): 64 MiB, over
 * a second of a saturated gigabit link; beyond, blocks are dropped and
 * counted so that analysis never waits on the disk. */
#define TS_SPOOL_QUEUE_BLOCKS 64
/* RTP flows whose first packet time is remembered for the "first N
 * seconds" policy (24 bytes each; a power of two; a colliding flow takes
 * the slot and the older one starts its N seconds again, counted). */
#define TS_SPOOL_FLOWS 65536
/* Bytes kept of one frame in the spool: the largest snap length a capture
 * takes (--snaplen), so that nothing captured is cut. */
#define TS_SPOOL_SNAP_MAX 262144u
/* The largest compressed block a reader accepts from the index: a block's
 * zstd bound with room to spare (anything larger is not one of ours). */
#define TS_SPOOL_BLOCK_LEN_MAX (2u * TS_SPOOL_BLOCK_BYTES + 65536u)
/* The default free-space floor is a tenth of the file system, at most this. */
#define TS_SPOOL_FLOOR_MAX_BYTES (1024ull * 1024 * 1024)
/* Spool blocks a single export reads at most (a day of a call's traffic at
 * one block a second); a longer call is exported up to here. */
#define TS_SPOOL_EXPORT_BLOCKS 86400

/* Latest capture time accepted (ns since 1970): the store and the JSON keep
 * times as signed 64-bit nanoseconds (year 2262); later frames are counted
 * as bad_timestamp and left out. */
#define TS_MAX_TIME_NS 9223372036854775807ull

/* Records the store could not write are logged at most once per this many
 * seconds (a full disk fails every batch). */
#define TS_STORE_LOG_PERIOD_S 60

/* ---- HEP sender and collector (net/) ---- */
/* Encoded HEP packets queued for the sender thread: seconds of a busy trunk
 * while the collector is unreachable; beyond it messages are dropped, counted. */
#define TS_HEP_SEND_QUEUE_BYTES (16u * 1024 * 1024)
/* TCP sender reconnect backoff, doubling from min to max (ms). */
#define TS_HEP_BACKOFF_MIN_MS 100
#define TS_HEP_BACKOFF_MAX_MS 5000
/* At exit the sender tries this long to flush its queue (ms), then counts the rest. */
#define TS_HEP_FLUSH_MS 3000
/* Senders (source addresses) the collector keeps counters for; LRU beyond. */
#define TS_HEP_MAX_SENDERS 1024
/* HEP/TCP connections open at once (64 KiB of framing buffer each). */
#define TS_HEP_MAX_CONNS 256
/* HEP/TCP connections from one source address; one more evicts that
 * address's longest idle connection (a sensor needs one or two). */
#define TS_HEP_MAX_CONNS_PER_ADDR 16
/* A HEP/TCP connection that has delivered no accepted packet is closed after
 * this long (ms): a sensor sends its first message at once. */
#define TS_HEP_TCP_HELLO_MS 10000
/* A connection that has delivered packets is closed after this long without
 * a byte (ms); a quiet site's sender reconnects when it has news. */
#define TS_HEP_TCP_IDLE_MS 600000
/* Packets/s (and burst) the collector parses from addresses that have not
 * yet sent an authenticated packet, all such addresses together, when an auth
 * key is set: a spoofed flood spends this budget, not a sensor's own. */
#define TS_HEP_UNAUTH_RATE 2000
#define TS_HEP_UNAUTH_BURST 4000
/* HEP capture times further ahead of the collector's clock than this (ms) are
 * not trusted (a spoofed or misconfigured sender would age every call): the
 * receive time is used instead, counted per sender. */
#define TS_HEP_CLOCK_AHEAD_MS 2000
/* --hep-listen sockets of one collector. */
#define TS_HEP_MAX_LISTEN 8
/* Per-sender token bucket: messages/s and burst, so one sender cannot starve
 * the others; a busy SBC sends a few thousand SIP messages/s. */
#define TS_HEP_RATE_DEFAULT 50000
#define TS_HEP_BURST_DEFAULT 100000
/* Auth key length (the HEP chunk; file content trimmed). */
#define TS_HEP_AUTH_KEY_MAX 128
/* Site (node name) kept per leg, call and trunk: a short label. */
#define TS_SITE_LEN 32
/* Sensor clocks differ: timing correlation of legs seen by different sites
 * widens its window by this much (NTP-synced hosts are within tens of ms;
 * SPAN/HEP capture paths add queueing of a few hundred). */
#define TS_SITE_SKEW_MS 500

/* ---- HTTP API ---- */
/* Request target (path + query) length; longer gets 414. Our URLs are < 300. */
#define TS_API_MAX_URL 2048
/* Query parameters per request; more gets 400 (the calls list uses ~15). */
#define TS_API_MAX_PARAMS 24
/* Request body bytes: the API is read-only, a GET carries none; more gets 413. */
#define TS_API_MAX_BODY 1024
/* Bytes MHD may use per connection for headers and buffers (bigger -> 431). */
#define TS_API_CONN_MEMORY (64u * 1024)
/* Rows per page of the calls list (limit=), and the default page. */
#define TS_API_PAGE_MAX 500
#define TS_API_PAGE_DEFAULT 100
/* Values of one list filter (outcome=busy,failed,...): every outcome and more. */
#define TS_API_LIST_MAX 8
/* SIP messages in one call's timeline: a long call with session timers has
 * hundreds; the rest is cut (messages_truncated). */
#define TS_API_MAX_CALL_MESSAGES 5000
/* Points of one KPI time series ((to - from) / bucket). */
#define TS_API_MAX_KPI_POINTS 10080
/* Calls swept for the all-trunks series (two times each, 16 B): a wider
 * range must be narrowed by the client. */
#define TS_API_MAX_SERIES_CALLS 2000000
/* RTP streams (and 5-s points each) returned with one call. */
#define TS_API_MAX_CALL_STREAMS 64
/* Legs (the newest) a call-list filter on a leg column without an index
 * (a port alone, a User-Agent or Server word) reads when few recent legs
 * match: one scan of every leg took 1.9 s on 1 M calls; 100,000 cost
 * 36-60 ms of CPU on the loaded machine, so half that (a writer's 26
 * minutes at 16 calls/s). A page short of matches then says which legs
 * were not searched (partial, searched_from_ms). */
#define TS_API_LEG_SCAN_MAX 50000
/* Answered legs whose streams give a trunk's measured Layer-2 rate per
 * codec: the latest 1,000 (2,000 streams) say it as well as all; 5,000
 * were a quarter of a trunk page's CPU (11 ms of 40). */
#define TS_API_MAX_RATE_LEGS 1000
/* Worker threads (each with its own read-only SQLite connection). */
#define TS_API_THREADS 4
/* Page cache of each read-only connection (KiB; SQLite's default is 2,000):
 * a trunk's page reads about 10 MB of pages (its minutes, its newest legs'
 * streams) and took 13.6 ms of CPU with this against 15.8 with the
 * default on 10 M calls. One per API worker thread (TS_API_THREADS by
 * default). */
#define TS_API_DB_CACHE_KIB 16384
/* Open connections in total (beyond it, unfinished ones are evicted). */
#define TS_API_MAX_CONNS 256
/* Connections of one client (IPv4 address or IPv6 /64); one more evicts the
 * client's oldest one still sending its headers (a browser opens six). */
#define TS_API_MAX_CONNS_PER_CLIENT 32
/* Connection table: the server accepts up to this many so that it can evict
 * unfinished ones to stay within TS_API_MAX_CONNS. */
#define TS_API_CONN_SLOTS (2 * TS_API_MAX_CONNS)
/* A request's headers must be complete this long after they began (ms),
 * however slowly they trickle in (slowloris); ours fit one packet. */
#define TS_API_HEADER_DEADLINE_MS 5000
/* Requests of one client answered at once: each holds a database connection. */
#define TS_API_INFLIGHT_PER_CLIENT 2
/* A query running longer than this (ms) is interrupted: 503. */
#define TS_API_QUERY_BUDGET_MS 2000
/* Digits a substring (match=contains) number search needs at least. */
#define TS_API_MIN_CONTAINS 3
/* Host names allowed besides the bound address, and their length. */
#define TS_API_MAX_HOSTS 8
#define TS_API_HOST_LEN 128
/* GnuTLS priorities of --tls-cert: TLS 1.2+, ECDHE/DHE only, AEAD only. */
#define TS_API_TLS_PRIORITIES                                                              \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-CIPHER-ALL:+AES-256-GCM:"          \
    "+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"
/* Idle connection timeout (slowloris). */
#define TS_API_CONN_TIMEOUT_S 15
/* Per-client token bucket: sustained requests/s and burst (429 beyond). */
#define TS_API_RATE_PER_S 50
#define TS_API_RATE_BURST 200
/* Client addresses tracked by the rate limiter (hashed slots; collisions share). */
#define TS_API_RATE_SLOTS 1024
/* TLS peer pairs and other flows in one answer (a sensor keeps at most
 * TS_TLS_MAX_PEERS and TS_OFLOW_MAX_ENTRIES; a database of many runs more). */
#define TS_API_TLS_ROWS_MAX 4096
/* TLS connections the store keeps (tls_conns), the newest: a trunk makes a
 * handful a day; a scan of handshakes must not fill the disk. */
#define TS_STORE_TLS_CONNS_MAX 100000
/* pcap exports running at once: each re-reads capture files. */
#define TS_API_MAX_EXPORTS 2
/* Static file size (the dashboard's files are tens of KiB). */
#define TS_API_MAX_STATIC_BYTES (4u * 1024 * 1024)
/* Bearer token length bounds (token file content, whitespace trimmed). */
#define TS_API_TOKEN_MIN 16
#define TS_API_TOKEN_MAX 256

/* ---- the streamed analyze report (cli/report.c) ---- */
/* Finished calls and streams waiting to be written (a call for its legs'
 * streams to end, a stream for its call): seconds of traffic at 10,000
 * calls up; beyond, the oldest is written with what is known then and
 * counted as report.early. ~2.6 KiB per two-leg call, ~1 KiB per stream. */
#define TS_REPORT_MAX_PENDING_CALLS 32768
#define TS_REPORT_MAX_PENDING_STREAMS 65536
/* Legs of emitted calls remembered to give a late stream its call id
 * (24 bytes each; the oldest is forgotten first). A power of two. */
#define TS_REPORT_LEG_MAP 262144

/* ---- TLS decryption (crypto/) ---- */
/* ClientHello randoms whose secrets a key log holds (~400 bytes each): a
 * day of a busy trunk's reconnections; the oldest is forgotten first. */
#define TS_TLS_KEYLOG_MAX 65536
/* A key log line: the longest label, 64 hex digits and 128 of a secret fit. */
#define TS_TLS_KEYLOG_LINE_MAX 512
/* Key log bytes taken from the Decryption Secrets Blocks of one pcapng file:
 * TS_TLS_KEYLOG_MAX TLS 1.3 clients (four ~200-byte lines each) fit; the
 * file is mapped, not copied, so this bounds the parsing time; more is
 * skipped and counted (pcapng.secrets_too_large). */
#define TS_PCAPNG_SECRETS_BYTES_MAX (64u * 1024 * 1024)
/* --tls-key options (each a server address and port). */
#define TS_TLS_RSA_KEYS_MAX 64
/* Sessions (ID or ticket -> master secret) kept for resumption within one
 * capture (~100 bytes each), least recently used forgotten first. */
#define TS_TLS_SESSIONS_MAX 16384
/* Protected records of one direction held while its keys are not in the
 * key log yet (a live sensor reads the file as it grows), and for how
 * long; then the direction is given up (tls.decrypt.no_key). */
#define TS_TLS_HOLD_BYTES (64u * 1024)
#define TS_TLS_HOLD_NS (10ull * 1000000000ull)

/* ---- SRTP decryption (crypto/srtpdec.c) ---- */
/* An SRTP packet opened: an RTP packet of a jumbo frame and its tag. */
#define TS_SRTP_MAX_PACKET 9216
/* Rollover counters tried for a stream that began before the capture: 16
 * cover 16 x 65536 packets, six hours of 20 ms audio. */
#define TS_SRTP_ROC_GUESS 16
/* Packet indexes below the highest one opened that the replay check keeps
 * (RFC 3711 3.3.2; 64 at least): 1,024 (20 s of 20 ms audio) also take
 * the reordering of captures merged from several taps. Bits, per stream
 * and key, for SRTP and for SRTCP. */
#define TS_SRTP_REPLAY_WINDOW 1024u
/* First packets of a stream that get the guesses (each an HMAC): the first
 * intact packet decides, a second covers a damaged one; after these only
 * the stream's retries once it gave up (TS_SRTP_RETRY_EVERY) get them. */
#define TS_SRTP_ROC_FIRST_PACKETS 2
/* Packets of a stream that fail with every SDES key, in a row, before the
 * stream stops trying them (rtp.srtp_not_tried): a right key opens the
 * first packet it meets, and damaged packets seldom reach a capture (UDP
 * checksums), so 32 in a row (0.64 s of 20 ms audio, four times the ROC
 * guesses' window) means keys that do not match (a missed rekey, keys an
 * SBC rewrote, a forked offer); each try costs an HMAC per key and
 * rollover guess (crypto/srtpauth.c). */
#define TS_SRTP_GIVE_UP 32u
/* A stream that gave up tries one packet in this many (5 s of 20 ms
 * audio), so keys that start to match later (a late sender switch to an
 * announced key) are found again; a new a=crypto resets the stream at once.
 * A count of packets, not time: the cost stays this fraction of them. */
#define TS_SRTP_RETRY_EVERY 256u
/* SDES keys kept per SDP media endpoint: an offer may list alternatives,
 * an answer names one; two cover an offer's usual AES_CM_128 _80 and _32. */
#define TS_MEDIA_SDES_KEYS 2
/* Streams holding SRTP decryption state at once (cipher contexts and
 * replay windows, ~2 KB once a key authenticated): SRTP on every stream of a full stream table
 * would cost 100+ MB; the stream that got its state first loses it first
 * (rtp.srtp_state_evicted) and keeps its header statistics only. */
#define TS_MEDIA_SRTP_STREAMS_MAX 32768

#endif
