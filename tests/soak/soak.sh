#!/usr/bin/env bash
# Live sensor soak and rate tests in two private network namespaces joined by
# a veth pair (root, iproute2, tcpreplay). No traffic leaves the namespaces.
#   soak.sh soak BIN [MINUTES] [PPS]  replay generated traffic in a loop for
#        MINUTES (default 3) at PPS (default 2000); sample the sensor's RSS
#        every 10 s; say whether it is flat after the warm-up (first third)
#   soak.sh rate BIN [PACKETS]        highest tcpreplay --pps with zero kernel
#        and queue drops (PACKETS per step, default 300000), then --topspeed
#   soak.sh hep BIN [MINUTES] [PPS]   the whole chain for MINUTES (default 60):
#        a sensor (capture --db --hep) forwards to a collector (collect --db
#        --http) while tcpreplay loops and the collector's API is read every
#        10 s; RSS of both processes every 10 s, and what SQLite holds of it
#        (its page caches grow with the database up to their limits: the
#        writer's 64 MiB, 2 MB per reader); the heap less SQLite's share must
#        plateau after the warm-up (first third). bench/run.sh runs it
#        (SOAK_MIN, as root). Columns of the kept rss.txt (copied to
#        SOAK_OUT if set): t, then heap, rss, sqlite kB of sensor, collector.
# BIN is a Release build of trunkscope (sanitizers inflate memory and CPU).
set -euo pipefail

MODE=${1:-}
BIN=${2:-}
if [ -z "$MODE" ] || [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    sed -n '2,10p' "$0" >&2
    exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
command -v tcpreplay >/dev/null || { echo "skipped: tcpreplay missing"; exit 77; }
ip netns list >/dev/null 2>&1 || { echo "skipped: ip netns unavailable"; exit 77; }

TAG=$$
NA=tssa$TAG NB=tssb$TAG VA=tsva$TAG VB=tsvb$TAG
WORK=$(mktemp -d /tmp/trunkscope-soak.XXXXXX)
SENSOR="" COLLECTOR=""
cleanup() {
    [ -n "$SENSOR" ] && kill -TERM "$SENSOR" 2>/dev/null && wait "$SENSOR" 2>/dev/null || true
    [ -n "$COLLECTOR" ] && kill -TERM "$COLLECTOR" 2>/dev/null && wait "$COLLECTOR" 2>/dev/null || true
    ip netns del "$NA" 2>/dev/null || true
    ip netns del "$NB" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NA"
ip netns add "$NB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NA"
ip link set "$VB" netns "$NB"
for p in "$NA:$VA" "$NB:$VB"; do
    ns=${p%%:*} dev=${p#*:}
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" || true
    ip -n "$ns" link set "$dev" up
done

# the generator's realistic mix: calls, REGISTER/OPTIONS, RTP/RTCP, impairments
"$BIN" gen -o "$WORK/g.pcap" --calls 200 --cps 5 --seed 11 >/dev/null

start_sensor() { # start_sensor NAME [args...]
    local name=$1; shift
    ip netns exec "$NB" "$BIN" capture -i "$VB" --stats-file "$WORK/$name.json" "$@" \
        2>"$WORK/$name.log" &
    SENSOR=$!
    for _ in $(seq 50); do [ -f "$WORK/$name.json" ] && return 0; sleep 0.1; done
    echo "sensor did not start:"; cat "$WORK/$name.log"; exit 1
}

stop_sensor() {
    kill -TERM "$SENSOR"; wait "$SENSOR" || true; SENSOR=""
}

jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

sqlite_kb() { # SQLite's memory from a stats file (0 before the first write)
    python3 -c "import json,sys
try: print(json.load(open(sys.argv[1]))['store']['sqlite_kb'])
except Exception: print(0)" "$1"
}

rss_kb() { # RssAnon of the sensor (heap); the packet ring counts as RssFile
    # (ip netns exec execs the sensor: $SENSOR is its pid); $1: another pid
    awk '/^RssAnon:/ {print $2}' "/proc/${1:-$SENSOR}/status"
}

rss_total_kb() { # VmRSS: heap, the SQLite page cache, mapped files
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

case "$MODE" in
soak)
    MIN=${3:-3} PPS=${4:-2000}
    start_sensor soak --db "$WORK/soak.db"
    ip netns exec "$NA" tcpreplay -q -i "$VA" --pps="$PPS" --loop=0 "$WORK/g.pcap" \
        >/dev/null 2>&1 &
    REPLAY=$!
    END=$(( $(date +%s) + MIN * 60 ))
    samples=()
    while [ "$(date +%s)" -lt "$END" ]; do
        sleep 10
        kb=$(rss_kb)
        samples+=("$kb")
        echo "t=$(( ${#samples[@]} * 10 ))s rss_anon=${kb} kB"
    done
    kill "$REPLAY" 2>/dev/null || true
    wait "$REPLAY" 2>/dev/null || true
    sleep 1
    stop_sensor
    python3 - "$WORK/soak.json" "${samples[@]}" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
s = [int(x) for x in sys.argv[2:]]
warm = s[len(s) // 3:]
grow = max(warm) - min(warm)
flat = grow <= max(2048, min(warm) // 20)  # within 2 MiB or 5 %
print(f"received {st['received']} analysed {st['analysed']} kernel_drops {st['kernel_drops']} "
      f"queue_drops {st['queue_drops']} calls {st.get('calls')}")
print(f"rss_anon after warm-up: min {min(warm)} kB max {max(warm)} kB "
      f"(growth {grow} kB): {'FLAT' if flat else 'GROWING'}")
sys.exit(0 if flat else 1)
EOF
    ;;
hep)
    MIN=${3:-60} PPS=${4:-2000}
    ip netns exec "$NB" ip link set lo up
    ip netns exec "$NB" "$BIN" collect --hep-listen 127.0.0.1:9060/udp --db "$WORK/col.db" \
        --http 127.0.0.1:8090 --stats-file "$WORK/col.json" 2>"$WORK/col.log" &
    COLLECTOR=$!
    for _ in $(seq 50); do [ -f "$WORK/col.json" ] && break; sleep 0.1; done
    start_sensor hep --db "$WORK/sensor.db" --hep 127.0.0.1:9060 --hep-node-name soak
    ip netns exec "$NA" tcpreplay -q -i "$VA" --pps="$PPS" --loop=0 "$WORK/g.pcap" \
        >/dev/null 2>&1 &
    REPLAY=$!
    START=$(date +%s)
    END=$(( START + MIN * 60 ))
    : >"$WORK/rss.txt"
    while [ "$(date +%s)" -lt "$END" ]; do
        sleep 10
        t=$(( $(date +%s) - START )) # seconds since the replay began (a loaded host stretches the loop)
        # the API as an operator's dashboard reads it
        ip netns exec "$NB" python3 -c '
import urllib.request
for p in ("/api/v1/stats", "/api/v1/calls?limit=100", "/api/v1/trunks", "/metrics"):
    urllib.request.urlopen("http://127.0.0.1:8090" + p, timeout=5).read()' 2>/dev/null || true
        row="$(rss_kb "$SENSOR") $(rss_total_kb "$SENSOR") $(sqlite_kb "$WORK/hep.json")"
        row="$row $(rss_kb "$COLLECTOR") $(rss_total_kb "$COLLECTOR") $(sqlite_kb "$WORK/col.json")"
        echo "$t $row" >>"$WORK/rss.txt"
        echo "t=${t}s kB: sensor heap/rss/sqlite, collector heap/rss/sqlite: $row"
    done
    [ -n "${SOAK_OUT:-}" ] && cp "$WORK/rss.txt" "$SOAK_OUT"
    kill "$REPLAY" 2>/dev/null || true
    wait "$REPLAY" 2>/dev/null || true
    sleep 2
    stop_sensor
    kill -TERM "$COLLECTOR"; wait "$COLLECTOR" || true; COLLECTOR=""
    tail -1 "$WORK/col.log"
    python3 - "$WORK/rss.txt" "$WORK/hep.json" "$WORK/col.json" <<'EOF'
import json, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
sensor, col = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"sensor: received {sensor['received']} kernel_drops {sensor['kernel_drops']} "
      f"queue_drops {sensor['queue_drops']} store {sensor.get('store')}")
print(f"collector: packets {col['packets']} accepted {col['accepted']} kernel_drops "
      f"{col.get('kernel_drops')} store {col.get('store')}")
warm = rows[len(rows) // 3:]
if len(warm) < 4:
    print("too short to judge a plateau (run at least 2 minutes)")
    sys.exit(0)
ok = True
for who, o in (("sensor", 1), ("collector", 4)):
    heap, rss, sq = ([r[o + k] for r in warm] for k in range(3))
    rest = [h - q for h, q in zip(heap, sq)]
    for name, v, judged in (("heap", heap, False), ("rss", rss, False),
                            ("sqlite", sq, False), ("heap less sqlite", rest, True)):
        # a plateau: the last third of the run climbs no higher than the middle one
        mid, last = v[:len(v) // 2], v[len(v) // 2:]
        grow = max(last) - max(mid)
        flat = grow <= max(2048, max(mid) // 50)  # within 2 MiB or 2 %
        if judged:
            ok = ok and flat
        print(f"{who} {name}: after warm-up min {min(v)} kB max {max(v)} kB; last third "
              f"over the middle {grow:+d} kB: {'FLAT' if flat else 'GROWING'}"
              + ("" if judged else " (not judged)"))
    # SQLite's caches are bounded: the writer's 64 MiB and a 2 MB default per reader
    if max(sq) > 64 * 1024 + 32 * 2048:
        ok = False
        print(f"{who}: SQLite holds {max(sq)} kB, over its caches' limits")
sys.exit(0 if ok else 1)
EOF
    ;;
rate)
    N=${3:-300000}
    best=0
    for pps in 50000 100000 150000 200000 250000 300000 400000; do
        start_sensor "r$pps" --buffer-mb 64
        ip netns exec "$NA" tcpreplay -q -i "$VA" --pps="$pps" --limit="$N" --loop=0 \
            "$WORK/g.pcap" >"$WORK/r$pps.replay" 2>&1 || true
        sleep 1
        stop_sensor
        f="$WORK/r$pps.json"
        rx=$(jget "$f" received) kd=$(jget "$f" kernel_drops) qd=$(jget "$f" queue_drops)
        actual=$(grep -o '[0-9.]* pps' "$WORK/r$pps.replay" | head -1)
        echo "pps=$pps (tcpreplay achieved ${actual:-?}) received=$rx kernel_drops=$kd queue_drops=$qd"
        if [ "$kd" -eq 0 ] && [ "$qd" -eq 0 ] && [ "$rx" -ge "$N" ]; then best=$pps; else break; fi
    done
    start_sensor top --buffer-mb 64
    ip netns exec "$NA" tcpreplay -q -i "$VA" --topspeed --limit="$N" --loop=0 \
        "$WORK/g.pcap" >"$WORK/top.replay" 2>&1 || true
    sleep 1
    stop_sensor
    echo "topspeed: $(grep -o 'Rated: .*' "$WORK/top.replay" | head -1); received=$(jget \
        "$WORK/top.json" received) kernel_drops=$(jget "$WORK/top.json" kernel_drops) \
queue_drops=$(jget "$WORK/top.json" queue_drops)"
    echo "highest zero-drop rate: $best pps"
    ;;
*)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
