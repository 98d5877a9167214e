#!/usr/bin/env bash
# Benchmark: trunkscope against the floor (libpcap read + touch every byte),
# tshark and sngrep, on generated captures at 100 and 10,000 concurrent calls.
# usage: bench/run.sh [BUILD_DIR]       (default: build-bench beside this file)
# env:   RUNS=3 (best of), SNGREP_RUNS=1, TSHARK_RUNS=RUNS, DB_RUNS=RUNS,
#        PACKETS_100=2000000,
#        PACKETS_10K=4000000, PACKETS_INDEP=3000000 (i10000, bench/indep_pcap.py),
#        PACKETS_SRTP=1000000 (i1000s: the same with SRTP, libsrtp2 the sender),
#        PAIRS=5 (floor/text/--json/--db back-to-back runs on i10000, c10000,
#        c100r and c100),
#        OUT=BUILD_DIR/bench-results.md, SKIP="sngrep tshark store",
#        FLAT_PAIRS=9 (back-to-back c100r/c10000 pairs; 0: none),
#        BUDGET=0 (seconds; when set, the flatness pairs and PAIRS stop early
#        rather than run past it, and the summary says how many ran);
#        SKIP may also name "work" (the cachegrind count of instructions) and
#        "json" (analyze --json and --json-lines beside the text run),
#        "soak" (the hour-long soak: SOAK_MIN=60, SOAK_PPS=2000; root, tcpreplay),
#        "live" (the live sensor's zero-drop rate, bench/live_rate.sh; root)
#        and "tls" (SIP over TLS decrypted, bench/tls_bench.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build-bench}
runs=${RUNS:-3}
sng_runs=${SNGREP_RUNS:-1}
tsh_runs=${TSHARK_RUNS:-$runs}
db_runs=${DB_RUNS:-$runs}
budget=${BUDGET:-0}
t_start=$(date +%s)
# within_budget SECONDS_NEXT: true when the next step (about SECONDS_NEXT
# long, as the last one took) still ends within BUDGET.
within_budget() {
    [ "$budget" -gt 0 ] || return 0
    [ $(($(date +%s) - t_start + $1)) -le "$budget" ]
}
out=${OUT:-$build/bench-results.md}
skip=" ${SKIP:-} "

die() { echo "bench: $*" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || die "/usr/bin/time missing (apt-get install time)"

# A Release build of trunkscope and the floor program.
if [ ! -x "$build/trunkscope" ] || [ ! -x "$build/bench/ts_floor" ] ||
    [ ! -x "$build/bench/ts_srtp_protect" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF >/dev/null
    cmake --build "$build" -j2 --target trunkscope ts_floor ts_srtp_protect >/dev/null
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
# calls still ring 1.5-12 s before they answer, so 4,000,000 packets are
# mostly that ramp: call setup, with 4 % SIP. c100r is the same traffic at
# 100 calls: 100 captures generated exactly like c10000 with a hundredth of
# its calls and packets (seeds 1-100, 20 s apart) one after the other, so the
# two differ in the number of calls up at once only (same packets, SIP share
# and calls). c100 is a steady 100-call trunk with the default 20-s calls.
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
gen_repeated() { # NAME CONCURRENCY PACKETS_EACH COUNT EXTRA...
    local name=$1 conc=$2 pk=$3 count=$4; shift 4
    local stamp="$conc $pk x$count $*" dir=$data/$name.parts
    [ -s "$data/$name.pcap" ] && [ "$(cat "$data/$name.params" 2>/dev/null)" = "$stamp" ] && return
    echo "bench: generating $name ($count x $conc concurrent calls, $pk packets each)" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    for ((i = 0; i < count; i++)); do
        "$ts" gen -o "$dir/$i.pcap" --concurrency "$conc" --max-packets "$pk" --impair 0.1 \
            --seed $((i + 1)) --start $((1700000000 + 20 * i)) "$@" >/dev/null 2>&1
    done
    # one file: the first header, then every part's records (same link type)
    { cat "$dir/0.pcap"; for ((i = 1; i < count; i++)); do tail -c +25 "$dir/$i.pcap"; done; } \
        >"$data/$name.pcap"
    local peak=0 p
    for ((i = 0; i < count; i++)); do # the parts do not overlap in time
        p=$(peak_calls "$dir/$i.truth.json")
        [ "$p" -gt "$peak" ] && peak=$p
    done
    python3 -c 'import json, sys
n = sum(json.load(open(f))["totals"]["total_packets"] for f in sys.argv[3:])
json.dump({"totals": {"total_packets": n}, "parts": len(sys.argv) - 3, "peak": int(sys.argv[2])},
          open(sys.argv[1], "w"))' "$data/$name.truth.json" "$peak" "$dir"/*.truth.json
    rm -rf "$dir"
    echo "$stamp" >"$data/$name.params"
}

# Peak number of calls up at once, from the generator's truth file.
peak_calls() {
    python3 - "$1" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
if "peak" in t:  # a capture made of parts (gen_repeated)
    print(t["peak"])
    sys.exit(0)
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
gen c100 100 "${PACKETS_100:-2000000}"
gen_repeated c100r 100 $((${PACKETS_10K:-4000000} / 100)) 100 --duration-mean 4
gen c10000 10000 "${PACKETS_10K:-4000000}" --duration-mean 4
# i10000: a capture our generator did not write (bench/indep_pcap.py, no code
# shared with gen/): 10,000 calls from four PBXs to one carrier, all up at
# once after a 2-s ramp, G.711 both ways, 3,000,000 packets.
pk_i=${PACKETS_INDEP:-3000000}
if [ ! -s "$data/i10000.pcap" ] || [ "$(cat "$data/i10000.params" 2>/dev/null)" != "indep $pk_i" ]; then
    echo "bench: writing i10000 (bench/indep_pcap.py)" >&2
    python3 "$here/indep_pcap.py" "$data/i10000.pcap" --calls 10000 --packets "$pk_i" >/dev/null
    echo "indep $pk_i" >"$data/i10000.params"
fi
# i1000s: the same script's calls with SDES-SRTP both ways (RFC 4568,
# AES_CM_128_HMAC_SHA1_80), every RTP packet protected by libsrtp2: what
# opening SRTP costs. 1,000 calls up, 1,000,000 packets.
pk_s=${PACKETS_SRTP:-1000000}
if [ ! -s "$data/i1000s.pcap" ] || [ "$(cat "$data/i1000s.params" 2>/dev/null)" != "indep-srtp $pk_s" ]; then
    echo "bench: writing i1000s (bench/indep_pcap.py --srtp)" >&2
    python3 "$here/indep_pcap.py" "$data/i1000s.pcap" --calls 1000 --packets "$pk_s" \
        --srtp "$build/bench/ts_srtp_protect" >/dev/null
    echo "indep-srtp $pk_s" >"$data/i1000s.params"
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

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
json_ratio=""
for name in c100 c100r c10000 i10000 i1000s; do
    f=$data/$name.pcap
    cat "$f" >/dev/null # warm the page cache: every tool reads from memory
    pk=$(grep -o '"total_packets": *[0-9]*' "$data/$name.truth.json" | grep -o '[0-9]*$')
    calls=$(peak_calls "$data/$name.truth.json") || calls=0
    declare -A wall=() mem=() cpu=()
    tools="floor trunkscope"
    [[ $skip == *" json "* ]] || tools="$tools trunkscope-json trunkscope-jsonl"
    [ $has_db = yes ] && tools="$tools trunkscope-db"
    [[ $skip == *" tshark "* ]] || tools="$tools tshark"
    [[ $skip == *" sngrep "* ]] || { command -v sngrep >/dev/null && tools="$tools sngrep"; }
    for t in $tools; do
        echo "bench: $name: $t" >&2
        case $t in
        floor) r=$(measure "$runs" "$floor" "$f") ;;
        trunkscope) r=$(measure "$runs" "$ts" analyze "$f") ;;
        trunkscope-db) r=$(measure "$db_runs" "$ts" analyze --db "$data/bench.db" "$f") ;;
        # the report to /dev/null: what writing it costs us, not the disk
        trunkscope-json) r=$(measure "$runs" "$ts" analyze --json "$f") ;;
        trunkscope-jsonl) r=$(measure "$runs" "$ts" analyze --json-lines "$f") ;;
        tshark) r=$(measure "$tsh_runs" tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams -z sip,stat -r "$f") ;;
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
            pc = (n == "c100r" || t == "floor") ? "-" : sprintf("%.1f", m / c)
            printf "| %s | %d | %s | %.2f | %.2f | %.0f | %.0f | %s | %s | %s |\n",
                   n, c, t, w, cs, p, m / 1024, pc, x, r
        }' >>"$out.tmp"
        pps[$name.$t]=$(awk -v pk="$pk" -v w="$w" 'BEGIN { printf "%.0f", pk / w }')
    done
    rss_of[$name]=${mem[trunkscope]}
    calls_of[$name]=$calls
    for t in trunkscope-json trunkscope-jsonl; do
        [ -n "${wall[$t]:-}" ] && [ "${wall[$t]}" != "-" ] || continue
        json_ratio+="$name $t / text: time x$(awk -v a="${wall[$t]}" -v b="${wall[trunkscope]}" 'BEGIN { printf "%.2f", a / b }'), peak RSS x$(awk -v a="${mem[$t]}" -v b="${mem[trunkscope]}" 'BEGIN { printf "%.2f", a / b }') (target 1.3); "
    done
done
# Flatness in pairs: c100r and c10000 back to back, FLAT_PAIRS times, so
# that the host's load (other guests) falls on both of a pair alike; the
# median of the pairs' ratios is the figure, the range shows the noise.
flat_pairs=${FLAT_PAIRS:-9}
flat=""
if [ "$flat_pairs" -gt 0 ]; then
    echo "bench: flatness pairs ($flat_pairs)" >&2
    pk_r=$(grep -o '"total_packets": *[0-9]*' "$data/c100r.truth.json" | grep -o '[0-9]*$')
    pk_k=$(grep -o '"total_packets": *[0-9]*' "$data/c10000.truth.json" | grep -o '[0-9]*$')
    ratios="" step=0 flat_note=""
    for ((k = 0; k < flat_pairs; k++)); do
        within_budget "$step" || { flat_note=" (BUDGET: stopped after $k of $flat_pairs)"; break; }
        t0=$(date +%s)
        read -r wr _ _ <<<"$(measure 1 "$ts" analyze "$data/c100r.pcap")"
        read -r wk _ _ <<<"$(measure 1 "$ts" analyze "$data/c10000.pcap")"
        step=$(($(date +%s) - t0))
        [ "$wr" = "-" ] || [ "$wk" = "-" ] && continue
        ratios="$ratios $(awk -v a="$pk_r" -v ta="$wr" -v b="$pk_k" -v tb="$wk" 'BEGIN { printf "%.3f", (b / tb) / (a / ta) }')"
    done
    flat=$(echo "$ratios" | tr ' ' '\n' | { grep . || true; } | sort -n | awk '{ v[NR] = $1 } END {
        if (NR) printf "%.2f (median of %d back-to-back pairs; range %.2f-%.2f)", v[int((NR + 1) / 2)], NR, v[1], v[NR] }')
    [ -n "$flat" ] && flat+=$flat_note
fi
# Ratios in back-to-back runs (PAIRS, default 5), CPU time (user + system,
# both threads) and wall: text run / floor (target 3), --json / text run
# (target 1.3) and --db / text run (throughput ratio, target 0.6) on c10000
# and i10000, and on c100r and c100 (the --json target holds at 100 calls up
# too, where a best of 3 swung from 1.15 to 1.35 between windows). A shared
# host's load falls on the runs of a round alike; the median of the rounds
# is the figure.
pairs_out=""
pair_runs=${PAIRS:-5}
median() { tr ' ' '\n' | { grep . || true; } | sort -n | awk '{ v[NR] = $1 } END {
    if (NR) printf "%.2f (range %.2f-%.2f, %d rounds)", v[int((NR + 1) / 2)], v[1], v[NR], NR }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# --db's phases (analyze --timing), the median of the rounds for each
phases() { awk '{ sub(/^timing: /, ""); n = split($0, p, ", ")
        for (i = 1; i <= n; i++) { k = split(p[i], w, " "); name = w[1]
            for (j = 2; j < k - 1; j++) name = name " " w[j]
            if (!(name in seen)) { seen[name] = 1; order[++m] = name }
            v[name, ++c[name]] = w[k - 1] } }
    END { for (o = 1; o <= m; o++) { name = order[o]; nn = c[name]
            for (i = 1; i <= nn; i++) x[i] = v[name, i]
            for (i = 2; i <= nn; i++) for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
            printf "%s%s %.2f", (o > 1 ? ", " : ""), name, x[int((nn + 1) / 2)] } }' "$1"; }
timing=""
"$ts" analyze --help 2>&1 | grep -q -- '--timing' && timing=--timing
if [ "$pair_runs" -gt 0 ]; then
    for name in i10000 c10000 c100r c100; do
        f=$data/$name.pcap
        rm -f "$data/phases.$name"
        echo "bench: pairs on $name ($pair_runs)" >&2
        fl_cpu="" fl_wall="" db_cpu="" db_wall="" js_cpu="" js_wall="" step=0 note=""
        for ((k = 0; k < pair_runs; k++)); do
            within_budget "$step" || { note="(BUDGET: stopped after $k of $pair_runs rounds) "; break; }
            t0=$(date +%s)
            read -r w0 _ c0 <<<"$(measure 1 "$floor" "$f")"
            read -r w1 _ c1 <<<"$(measure 1 "$ts" analyze "$f")"
            [ "$w0" = "-" ] || [ "$w1" = "-" ] && continue
            fl_cpu="$fl_cpu $(ratio "$c1" "$c0")"
            fl_wall="$fl_wall $(ratio "$w1" "$w0")"
            if [[ $skip != *" json "* ]]; then
                read -r w3 _ c3 <<<"$(measure 1 "$ts" analyze --json "$f")"
                if [ "$w3" != "-" ]; then
                    js_cpu="$js_cpu $(ratio "$c3" "$c1")"
                    js_wall="$js_wall $(ratio "$w3" "$w1")"
                fi
            fi
            if [ $has_db = yes ]; then
                read -r w2 _ c2 <<<"$(measure 1 "$ts" analyze $timing --db "$data/bench.db" "$f")"
                [ "$w2" = "-" ] && continue
                grep -o 'timing: .*' "$data/err.txt" >>"$data/phases.$name" || true
                db_cpu="$db_cpu $(ratio "$c1" "$c2")"
                db_wall="$db_wall $(ratio "$w1" "$w2")"
            fi
            step=$(($(date +%s) - t0))
        done
        if [ -z "$fl_cpu" ]; then
            pairs_out+="$name: ${note:-no round ran}; "
            continue
        fi
        pairs_out+="$name: ${note}text run / floor: CPU time x$(echo "$fl_cpu" | median), wall x$(echo "$fl_wall" | median); "
        [ -n "$js_cpu" ] && pairs_out+="--json / text run: CPU time x$(echo "$js_cpu" | median), wall x$(echo "$js_wall" | median); "
        [ -n "$db_cpu" ] && pairs_out+="--db throughput / text run's: by CPU time $(echo "$db_cpu" | median), by wall $(echo "$db_wall" | median); "
        [ -s "$data/phases.$name" ] && pairs_out+="--db's phases, median s: $(phases "$data/phases.$name"); "
        rm -f "$data/phases.$name"
    done
fi
# Work per packet, free of the host's noise: instructions and simulated
# last-level cache misses (cachegrind, both captures side by side). The
# caches are given as this host's (32 KB L1, 32 MB 16-way L3, private here
# where the real L3 is shared with other guests): valgrind misreads this
# VM's L3 as 320 MB direct-mapped.
work=""
if [[ $skip != *" work "* ]] && command -v valgrind >/dev/null; then
    echo "bench: work per packet (cachegrind, about 90 s)" >&2
    for name in c100r c10000; do
        valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 \
            --LL=33554432,16,64 --cachegrind-out-file="$data/cg.$name" \
            "$ts" analyze "$data/$name.pcap" >/dev/null 2>"$data/cg.$name.err" &
    done
    wait
    # "events:" names the columns of "summary:"
    cg_per_packet() { # NAME -> "instructions LL-misses" per packet
        local pk
        pk=$(grep -o '"total_packets": *[0-9]*' "$data/$1.truth.json" | grep -o '[0-9]*$')
        awk -v pk="$pk" '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
            /^summary:/ { printf "%.0f %.2f", $col["Ir"] / pk, ($col["DLmr"] + $col["DLmw"]) / pk }' "$data/cg.$1"
    }
    if [ -s "$data/cg.c100r" ] && [ -s "$data/cg.c10000" ]; then
        read -r ir_r ll_r <<<"$(cg_per_packet c100r)"
        read -r ir_k ll_k <<<"$(cg_per_packet c10000)"
        work=$(awk -v a="$ir_r" -v b="$ir_k" -v la="$ll_r" -v lb="$ll_k" 'BEGIN {
            printf "instructions per packet %d at c100r, %d at c10000 (x%.3f); simulated L3 misses per packet %.2f and %.2f", a, b, b / a, la, lb }')
    else
        echo "bench: cachegrind failed: $(tail -1 "$data/cg.c10000.err")" >&2
    fi
    rm -f "$data"/cg.*
fi
{
    echo
    [ -n "$pairs_out" ] && { echo "back-to-back rounds (median of up to $pair_runs): $pairs_out"; echo; }
    [ -n "$flat" ] && { echo "trunkscope flatness, throughput at 10,000 calls against c100r in pairs: $flat"; echo; }
    [ -n "$work" ] && { echo "trunkscope work (cachegrind, both threads): $work"; echo; }
    [ -n "$json_ratio" ] && { echo "streamed report against the text run: $json_ratio"; echo; }
    for t in trunkscope tshark sngrep; do
        for base in c100r c100; do
            a=${pps[$base.$t]:-}; b=${pps[c10000.$t]:-}
            [ -n "$a" ] && [ -n "$b" ] &&
                awk -v t="$t" -v a="$a" -v b="$b" -v base="$base" 'BEGIN { printf "%s: throughput at 10,000 calls = %.2f x %s\n\n", t, b / a, base }'
        done
    done
    a=${rss_of[c100]:-}; b=${rss_of[c10000]:-}
    if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "-" ] && [ "$b" != "-" ]; then
        awk -v a="$a" -v b="$b" -v ca="${calls_of[c100]}" -v cb="${calls_of[c10000]}" 'BEGIN {
            printf "trunkscope memory per added concurrent call (c100 -> c10000): %.1f KB\n\n", (b - a) / (cb - ca) }'
    fi
    echo "c100r is c10000's traffic at 100 calls up at once (100 parts one after the"
    echo "other): the pair that measures flatness. Its parts end with their calls cut"
    echo "off, which trunkscope keeps until the no-BYE timeout (4 h), so its memory is"
    echo "not per call up at once (RSS per call: -)."
    echo
    echo "trunkscope --db: $has_db; runs: best of $runs (--db: $db_runs, tshark: $tsh_runs, sngrep: $sng_runs); $(nproc) cores; $(uname -r);"
    echo "the run took $(($(date +%s) - t_start)) s up to here$([ "$budget" -gt 0 ] && echo " (BUDGET $budget s)")"
    echo "load average (1, 5, 15 min) at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "i10000 was written by bench/indep_pcap.py, which shares no code with our generator;"
    echo "i1000s by the same script with SDES-SRTP, each RTP packet protected by libsrtp2"
    echo "(the reference implementation), so trunkscope opens real SRTP there."
    echo
    echo "trunkscope reads the file on a second thread (reading and hashing overlap the"
    echo "analysis): wall time is what the ratios use; CPU s is both threads together."
} >>"$out.tmp"
# The live rate: `capture` on one end of a veth pair in a network namespace,
# trafgen (or tcpreplay) on the other, the rate ramped until the sensor
# drops; beside it the offline rate of the same frames (bench/live_rate.sh;
# root; 77 = skipped). SKIP=live leaves it out.
if [[ $skip != *" live "* ]]; then
    echo "bench: live rate (bench/live_rate.sh)" >&2
    set +e
    live=$("$here/live_rate.sh" "$ts" "$data/c100.pcap" "$data" 2>"$data/live.log")
    rc=$?
    set -e
    case $rc in
    0) { echo; echo "Live rate (capture on a veth pair): $live"; } >>"$out.tmp" ;;
    77) echo "bench: live rate skipped ($(tail -1 "$data/live.log"))" >&2 ;;
    *) echo "bench: live rate failed: $(tail -1 "$data/live.log")" >&2 ;;
    esac
fi
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
# Soak: sensor -> HEP -> collector for SOAK_MIN minutes; the RSS of both
# processes must plateau after the warm-up (tests/soak/soak.sh hep).
if [[ "$skip" != *" soak "* ]]; then
    echo "bench: soak (${SOAK_MIN:-60} minutes)" >&2
    set +e
    soak=$("$src/tests/soak/soak.sh" hep "$ts" "${SOAK_MIN:-60}" "${SOAK_PPS:-2000}" 2>&1)
    rc=$?
    set -e
    { echo; echo "Soak (${SOAK_MIN:-60} min at ${SOAK_PPS:-2000} packets/s, sensor -> HEP ->"
      echo "collector, exit $rc; 77: skipped):"; echo '```'
      echo "$soak" | grep -v '^t='; echo '```'; } >>"$out.tmp"
fi
# SIP over TLS: decrypted SIP messages per second against plaintext TCP and
# tshark decrypting the same captures (bench/tls_bench.sh).
if [[ "$skip" != *" tls "* ]]; then
    echo "bench: tls" >&2
    { echo; "$here/tls_bench.sh" "$ts" "$data" "$runs"; } >>"$out.tmp"
fi
mv "$out.tmp" "$out"
cat "$out"
