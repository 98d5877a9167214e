#!/usr/bin/env bash
# Benchmark: trunkscope against the floor (libpcap read + touch every byte),
# tshark and sngrep, on generated captures at 100 and 10,000 concurrent calls.
# usage: bench/run.sh [BUILD_DIR]       (default: build-bench beside this file)
# env:   RUNS=3 (best of), SNGREP_RUNS=1, PACKETS_100=2000000,
#        PACKETS_10K=4000000, OUT=BUILD_DIR/bench-results.md, SKIP="sngrep tshark store"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build-bench}
runs=${RUNS:-3}
sng_runs=${SNGREP_RUNS:-1}
out=${OUT:-$build/bench-results.md}
skip=" ${SKIP:-} "

die() { echo "bench: $*" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || die "/usr/bin/time missing (apt-get install time)"

# A Release build of trunkscope and the floor program.
if [ ! -x "$build/trunkscope" ] || [ ! -x "$build/bench/ts_floor" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF >/dev/null
    cmake --build "$build" -j2 --target trunkscope ts_floor >/dev/null
fi
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" ||
    echo "bench: warning: $build is not a Release build" >&2
ts=$build/trunkscope
floor=$build/bench/ts_floor
data=$build/bench-data
mkdir -p "$data"

# Captures: G.711 both ways on two legs per call, default scenario mix, 10 %
# of streams impaired. At 10,000 calls the mean call is 4 s so that the ramp
# (one mean duration long) reaches full concurrency within the packet budget;
# c100s has the same 4-s calls at 100 concurrent calls, so that the two
# differ in concurrency only (c100 has the default 20-s calls).
gen() { # NAME CONCURRENCY PACKETS EXTRA...
    local name=$1 conc=$2 pk=$3; shift 3
    local stamp="$conc $pk $*"
    if [ ! -s "$data/$name.pcap" ] || [ "$(cat "$data/$name.params" 2>/dev/null)" != "$stamp" ]; then
        echo "bench: generating $name ($conc concurrent calls, $pk packets)" >&2
        "$ts" gen -o "$data/$name.pcap" --concurrency "$conc" --max-packets "$pk" \
            --impair 0.1 --seed 1 "$@" >/dev/null 2>&1
        echo "$stamp" >"$data/$name.params"
    fi
}
gen c100 100 "${PACKETS_100:-2000000}"
gen c100s 100 "${PACKETS_100:-2000000}" --duration-mean 4
gen c10000 10000 "${PACKETS_10K:-4000000}" --duration-mean 4

# Peak number of calls up at once, from the generator's truth file.
peak_calls() {
    python3 - "$1" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
ev = []
for c in t["calls"]:
    if c.get("setup_time") is None:
        continue  # cut off by --max-packets before its first INVITE
    ev.append((c["setup_time"], 1))
    if c.get("end_time") is not None:
        ev.append((c["end_time"], -1))
up = peak = 0
for _, d in sorted(ev):
    up += d
    peak = max(peak, up)
print(peak)
EOF
}

# measure N CMD...: best wall time of N runs, the largest peak RSS and the
# least CPU time (user + system, all threads). Prints "seconds rss_kb cpu_s";
# a failed command prints "- - -".
measure() {
    local n=$1 best="" rss=0 cpu=""; shift
    for ((i = 0; i < n; i++)); do
        rm -f "$data/bench.db"
        if ! /usr/bin/time -f "%e %M %U %S" -o "$data/time.txt" "$@" >/dev/null 2>"$data/err.txt" </dev/null; then
            echo "bench: failed: $* ($(tail -1 "$data/err.txt"))" >&2
            echo "- - -"
            return
        fi
        read -r s kb us ss <"$data/time.txt"
        c=$(awk -v u="$us" -v s="$ss" 'BEGIN { printf "%.2f", u + s }')
        if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
        if [ -z "$cpu" ] || awk -v a="$c" -v b="$cpu" 'BEGIN { exit !(a < b) }'; then cpu=$c; fi
        [ "$kb" -gt "$rss" ] && rss=$kb
    done
    echo "$best $rss $cpu"
}

has_db=no
"$ts" analyze --help 2>&1 | grep -q -- '--db' && has_db=yes

{
    echo "| capture | calls up (peak) | tool | wall s (best of N) | CPU s | packets/s | peak RSS MB | RSS per call KB | x floor time | tshark time / this |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$out.tmp"
declare -A pps
declare -A rss_of calls_of
for name in c100 c100s c10000; do
    f=$data/$name.pcap
    cat "$f" >/dev/null # warm the page cache: every tool reads from memory
    pk=$(grep -o '"total_packets": *[0-9]*' "$data/$name.truth.json" | grep -o '[0-9]*$')
    calls=$(peak_calls "$data/$name.truth.json") || calls=0
    declare -A wall=() mem=() cpu=()
    tools="floor trunkscope"
    [ $has_db = yes ] && tools="$tools trunkscope-db"
    [[ $skip == *" tshark "* ]] || tools="$tools tshark"
    [[ $skip == *" sngrep "* ]] || { command -v sngrep >/dev/null && tools="$tools sngrep"; }
    for t in $tools; do
        echo "bench: $name: $t" >&2
        case $t in
        floor) r=$(measure "$runs" "$floor" "$f") ;;
        trunkscope) r=$(measure "$runs" "$ts" analyze "$f") ;;
        trunkscope-db) r=$(measure "$runs" "$ts" analyze --db "$data/bench.db" "$f") ;;
        tshark) r=$(measure "$runs" tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams -z sip,stat -r "$f") ;;
        # sngrep without its curses interface (-N), quiet, every packet written
        # to /dev/null: it still parses SIP, builds dialogs and follows RTP.
        sngrep) r=$(measure "$sng_runs" sngrep -N -q -I "$f" -O /dev/null) ;;
        esac
        read -r wall[$t] mem[$t] cpu[$t] <<<"$r"
    done
    for t in $tools; do
        w=${wall[$t]}
        [ "$w" = "-" ] && { echo "| $name | $calls | $t | failed | | | | | | |" >>"$out.tmp"; continue; }
        awk -v n="$name" -v c="$calls" -v t="$t" -v w="$w" -v m="${mem[$t]}" -v pk="$pk" -v cs="${cpu[$t]}" \
            -v fl="${wall[floor]}" -v tsh="${wall[tshark]:--}" 'BEGIN {
            p = pk / w
            x = (t == "floor") ? "1.0" : sprintf("%.1f", w / fl)
            r = (tsh == "-") ? "" : sprintf("%.1f", tsh / w)
            printf "| %s | %d | %s | %.2f | %.2f | %.0f | %.0f | %.1f | %s | %s |\n",
                   n, c, t, w, cs, p, m / 1024, m / c, x, r
        }' >>"$out.tmp"
        pps[$name.$t]=$(awk -v pk="$pk" -v w="$w" 'BEGIN { printf "%.0f", pk / w }')
    done
    rss_of[$name]=${mem[trunkscope]}
    calls_of[$name]=$calls
done
{
    echo
    for t in trunkscope tshark sngrep; do
        for base in c100s c100; do
            a=${pps[$base.$t]:-}; b=${pps[c10000.$t]:-}
            [ -n "$a" ] && [ -n "$b" ] &&
                awk -v t="$t" -v a="$a" -v b="$b" -v base="$base" 'BEGIN { printf "%s: throughput at 10,000 calls = %.2f x %s\n\n", t, b / a, base }'
        done
    done
    a=${rss_of[c100s]:-}; b=${rss_of[c10000]:-}
    if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "-" ] && [ "$b" != "-" ]; then
        awk -v a="$a" -v b="$b" -v ca="${calls_of[c100s]}" -v cb="${calls_of[c10000]}" 'BEGIN {
            printf "trunkscope memory per added concurrent call (c100s -> c10000): %.1f KB\n\n", (b - a) / (cb - ca) }'
    fi
    echo "trunkscope --db: $has_db; runs: best of $runs (sngrep: $sng_runs); $(nproc) cores; $(uname -r)"
    echo
    echo "trunkscope reads the file on a second thread (reading and hashing overlap the"
    echo "analysis): wall time is what the ratios use; CPU s is both threads together."
} >>"$out.tmp"
# Store: SIP messages per second written to SQLite with their raw text, by the
# store's own benchmark mode (the Release test_store binary).
if [[ "$skip" != *" store "* ]]; then
    echo "bench: store" >&2
    cmake -S "$src" -B "$build" -DTS_TESTS=ON >/dev/null
    cmake --build "$build" -j2 --target test_store >/dev/null
    rm -f "$data/store-bench.db" "$data/store-bench.db-wal" "$data/store-bench.db-shm"
    line=$("$build/tests/test_store" --bench-sip "$data/store-bench.db" 500000 | tail -1)
    { echo; echo "Store (SQLite, ~600-byte SIP messages with raw text, WAL): $line"; } >>"$out.tmp"
    rm -f "$data/store-bench.db" "$data/store-bench.db-wal" "$data/store-bench.db-shm"
fi
mv "$out.tmp" "$out"
cat "$out"
