#!/usr/bin/env bash
# The live sensor's zero-drop rate: `trunkscope capture` on one end of a
# veth pair in a network namespace, a sender that can outrun it on the
# other, its rate ramped (a binary search) until the sensor's own drop
# counters (pcap_stats: kernel; its queue) or the veth's rx_dropped move.
# The sender is trafgen (Debian's netsniff-ng: a TX_RING, no pcap pacing)
# replaying the first LIVE_DISTINCT frames of the capture, converted once
# to a trafgen configuration by netsniff-ng, LIVE_PACKETS frames per trial
# (the same frames again and again: more than the sensor's 64 MB ring holds,
# so a trial measures the sustained rate, not the buffer); without trafgen,
# tcpreplay --preload-pcap on the first LIVE_PACKETS frames. Beside it, the
# offline rate of `analyze` on a file of exactly the frames sent.
# Prints one line (bench/run.sh appends it to its report). Root needed;
# exits 77 without it or without a sender.
# usage: bench/live_rate.sh TRUNKSCOPE CAPTURE DATA_DIR
# env:   LIVE_PACKETS=1000000, LIVE_DISTINCT=20000, LIVE_STEPS=6, LIVE_CPUS=2
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,16p' "$0"; exit 2; }
ts=$1 src=$2 data=$3
lpk=${LIVE_PACKETS:-1000000}
ldist=${LIVE_DISTINCT:-20000}
[ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 || { echo "live_rate: needs root" >&2; exit 77; }
sender=tcpreplay
command -v trafgen >/dev/null && command -v netsniff-ng >/dev/null && sender=trafgen
[ $sender = trafgen ] || command -v tcpreplay >/dev/null || { echo "live_rate: no sender" >&2; exit 77; }
mkdir -p "$data"

# the first N frames of a pcap, or the first D repeated until N (24-byte header, records)
cut_pcap() { # SRC DST N [D]
    python3 - "$@" <<'EOF'
import struct, sys
src, dst, n = open(sys.argv[1], "rb"), open(sys.argv[2], "wb"), int(sys.argv[3])
d = int(sys.argv[4]) if len(sys.argv) > 4 else n
dst.write(src.read(24))
recs = []
for _ in range(d):
    h = src.read(16)
    if len(h) < 16:
        break
    recs.append(h + src.read(struct.unpack("<IIII", h)[2]))
for i in range(n):
    dst.write(recs[i % len(recs)])
EOF
}
sent_file=$data/live-sent.pcap
if [ $sender = trafgen ]; then
    cfg=$data/live-$ldist.cfg
    if [ ! -s "$cfg" ] || [ "$(cat "$cfg.params" 2>/dev/null)" != "$src $ldist" ]; then
        cut_pcap "$src" "$data/live-part.pcap" "$ldist"
        netsniff-ng --in "$data/live-part.pcap" --out "$cfg" --silent >/dev/null 2>&1
        echo "$src $ldist" >"$cfg.params"
        rm -f "$data/live-part.pcap"
    fi
    cut_pcap "$src" "$sent_file" "$lpk" "$ldist"
else
    cut_pcap "$src" "$sent_file" "$lpk"
fi

ns_a=tsla$$ ns_b=tslb$$ va=tlva$$ vb=tlvb$$
cleanup() {
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -f "$sent_file"
}
trap cleanup EXIT
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$va" type veth peer name "$vb"
ip link set "$va" netns "$ns_a"
ip link set "$vb" netns "$ns_b"
for p in "$ns_a:$va" "$ns_b:$vb"; do
    ip netns exec "${p%%:*}" sysctl -qw "net.ipv6.conf.${p#*:}.disable_ipv6=1" || true
    ip -n "${p%%:*}" link set "${p#*:}" up
done

# trial PPS (0: as fast as the sender goes): prints "sent_pps received drops"
# (drops: the sensor's kernel + queue + interface drops, and the veth's)
trial() {
    local pps=$1 cpus=${2:-1} st=$data/live.stats out rx0 rx1 sent
    rm -f "$st"
    rx0=$(ip netns exec "$ns_b" cat "/sys/class/net/$vb/statistics/rx_dropped")
    ip netns exec "$ns_b" "$ts" capture -i "$vb" --stats-file "$st" --duration 900 \
        >/dev/null 2>"$data/live.err" &
    local pid=$! k
    for ((k = 0; k < 200; k++)); do [ -s "$st" ] && break; sleep 0.1; done
    if [ $sender = trafgen ]; then
        local rate=()
        [ "$pps" -gt 0 ] && rate=(--rate "${pps}pps")
        out=$(ip netns exec "$ns_a" trafgen -o "$va" -c "$cfg" -n "$lpk" -P "$cpus" \
            "${rate[@]}" 2>&1) || true
        # "1 sec, 307003 usec on CPU0 (400000 packets)": the slowest CPU's time
        sent=$(echo "$out" | tr -d '\r' | awk '/usec on CPU/ { t = $1 + $3 / 1e6; if (t > m) m = t }
            /packets outgoing/ { n = $1 } END { if (m > 0) printf "%.0f", n / m; else print 0 }')
    else
        local rate=(--topspeed)
        [ "$pps" -gt 0 ] && rate=(--pps="$pps")
        out=$(ip netns exec "$ns_a" tcpreplay --preload-pcap "${rate[@]}" -i "$va" "$sent_file" 2>&1) || true
        sent=$(echo "$out" | sed -n 's/.*Rated: .*, \([0-9.]*\) pps.*/\1/p' | head -1)
    fi
    sleep 3 # the sensor drains its ring
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rx1=$(ip netns exec "$ns_b" cat "/sys/class/net/$vb/statistics/rx_dropped")
    python3 - "$st" "${sent:-0}" "$((rx1 - rx0))" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("%.0f %d %d" % (float(sys.argv[2]), s.get("received", 0),
                      s.get("kernel_drops", 0) + s.get("queue_drops", 0) + s.get("if_drops", 0)
                      + int(sys.argv[3])))
EOF
}

# top speed on LIVE_CPUS sender CPUs (2: both of this machine's, so the
# sender also takes the sensor's CPU); then paced trials on one CPU, whose
# rate trafgen keeps: the figure is the highest rate sent with no drop
read -r top got drops <<<"$(trial 0 "${LIVE_CPUS:-2}")"
top_drops=$drops top_got=$got
cat "$sent_file" >/dev/null
/usr/bin/time -f "%e %U %S" -o "$data/live.time" "$ts" analyze "$sent_file" >/dev/null 2>&1
read -r wall us ss <"$data/live.time"
offpps=$(awk -v pk="$lpk" -v w="$wall" 'BEGIN { printf "%.0f", pk / w }')
offcpu=$(awk -v pk="$lpk" -v u="$us" -v s="$ss" 'BEGIN { printf "%.0f", pk / (u + s) }')
what="$sender"
[ $sender = trafgen ] && what="trafgen (TX_RING; the first $ldist frames of the capture, repeated)"
if [ "$drops" = 0 ] && [ "$got" -ge "$lpk" ]; then
    echo "sender $what: no drop at its top speed on ${LIVE_CPUS:-2} CPUs, $top packets/s sent (the sender is the limit); offline on the same $lpk packets: $offpps packets/s by wall, $offcpu per CPU second"
    exit 0
fi
lo=0 hi=${top%.*} best=0 worst=0 tried=""
for ((k = 0; k < ${LIVE_STEPS:-6}; k++)); do
    mid=$(((lo + hi) / 2))
    read -r sent got drops <<<"$(trial "$mid" 1)"
    sent=${sent%.*}
    tried+=" ${mid}:${sent}/${drops}"
    if [ "$drops" = 0 ] && [ "$got" -ge "$lpk" ]; then
        lo=$mid
        [ "$sent" -gt "$best" ] && best=$sent
    else
        hi=$mid
        { [ "$worst" = 0 ] || [ "$sent" -lt "$worst" ]; } && worst=$sent
    fi
done
echo "sender $what: top speed on ${LIVE_CPUS:-2} CPUs $top packets/s, $top_drops of $lpk dropped; paced on one CPU (asked:sent/dropped$tried): no drop up to $best packets/s sent${worst:+, drops from $worst}; offline on the same $lpk packets: $offpps packets/s by wall, $offcpu per CPU second"
