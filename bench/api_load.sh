#!/usr/bin/env bash
# API load test at carrier scale: every endpoint the dashboard calls, each
# hit by wrk for a bounded time against `trunkscope serve` on a database of
# CALLS calls (10,000,000 by default, filled by bench/api_fill.py through
# trunkscope's own schema), while a real writer ingests: `trunkscope analyze
# --db` on the same database, fed a generated capture at its capture rate
# (bench/pace.py), so that calls are written as they end, in the writer's
# batches, all along the test. Prints p50 and p99 latency per endpoint.
# usage: bench/api_load.sh [BUILD_DIR]        (default: build-bench)
# env:   CALLS=10000000 DAYS=7 DETAIL=200000 (calls with messages and streams),
#        DATA=BUILD_DIR/bench-data (the databases and the writer's capture),
#        DB=DATA/api-CALLS.db (kept and reused; delete it to fill again), SECONDS_PER=10 (wrk per endpoint), CONNS=4, THREADS=1,
#        SERVE_THREADS=4, WRITER_CPS=16 (the fill's average call rate: 10 M
#        calls in a week), ONLY=REGEX (endpoint names to run), OUT=FILE (the
#        table, also printed), MODE=cpu: no writer and no wrk, but the
#        server's CPU time per request (its threads' run time from
#        /proc/PID/task/*/schedstat over REQS=3 sequential requests after one
#        untimed; independent of the machine's load) and the wall time
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build-bench}
calls=${CALLS:-10000000}
days=${DAYS:-7}
detail=${DETAIL:-200000}
dur=${SECONDS_PER:-10} # not SECONDS: bash sets that to its own running time
conns=${CONNS:-4}
threads=${THREADS:-1}
cps=${WRITER_CPS:-16}
die() { echo "api_load: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk missing (scripts/setup.sh deps installs it)"
if [ ! -x "$build/trunkscope" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF >/dev/null
    cmake --build "$build" -j2 --target trunkscope >/dev/null
fi
ts=$build/trunkscope
data=${DATA:-$build/bench-data}
mkdir -p "$data"
db=${DB:-$data/api-$calls.db}
# a newer schema does not fill again: serve and analyze upgrade the database
stamp="$calls $days $detail $(git -C "$src" log -1 --format=%h -- bench/api_fill.py 2>/dev/null)"
if [ ! -s "$db" ] || [ "$(cat "$db.params" 2>/dev/null)" != "$stamp" ]; then
    echo "api_load: filling $db ($calls calls: about 2 CPU minutes per million)" >&2
    nice python3 "$here/api_fill.py" --bin "$ts" --out "$db" --calls "$calls" --days "$days" --detail "$detail"
    echo "$stamp" >"$db.params"
fi
"$ts" analyze --quiet --db "$db" --no-alerts /dev/null >/dev/null 2>&1 || true # upgrade the schema

# The writer's capture: calls at the fill's rate, 3-s calls (fewer RTP
# packets per call to pace), starting where the fill ends.
wcap=$data/api-writer.pcap
wcalls=$((cps * (dur * 40 + 120)))
if [ ! -s "$wcap" ] || [ "$(cat "$wcap.params" 2>/dev/null)" != "$cps $wcalls" ]; then
    "$ts" gen -o "$wcap" --cps "$cps" --calls "$wcalls" --duration-mean 3 --impair 0.1 --seed 9 \
        --itsps 4 --branch --start 1700000000 >/dev/null 2>&1
    echo "$cps $wcalls" >"$wcap.params"
fi

work=$(mktemp -d)
srv="" wr=""
cleanup() {
    [ -n "$wr" ] && kill "$wr" 2>/dev/null
    [ -n "$srv" ] && kill -INT "$srv" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
"$ts" serve --db "$db" --http 127.0.0.1:0 --no-rate-limit --threads "${SERVE_THREADS:-4}" \
    >"$work/serve.out" 2>&1 &
srv=$!
for _ in $(seq 50); do
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/serve.out" | head -1)
    [ -n "$port" ] && break
    sleep 0.2
done
[ -n "${port:-}" ] || die "serve did not start: $(cat "$work/serve.out")"
base=http://127.0.0.1:$port/api/v1

# ids and times the requests use: a trunk with many legs, calls that have
# their messages (the newest DETAIL), the last day of the fill
q() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$db" "$1"; }
trunk=$(q "SELECT t.id FROM trunks t ORDER BY (SELECT count(*) FROM kpi_minute k WHERE k.trunk_id=t.id) DESC, t.id LIMIT 1")
last_id=$(q "SELECT max(id) FROM calls")
last_ms=$(q "SELECT max(start)/1000000 FROM calls")
day_from=$((last_ms - 86400000))
# the dashboard's ranges end with the newest call's minute, a week with its
# hour (web-static/app.js)
kto=$(((last_ms / 60000 + 1) * 60000))
hto=$(((last_ms / 3600000 + 1) * 3600000))
cat >"$work/detail.lua" <<EOF
math.randomseed(7)
request = function()
  return wrk.format(nil, "/api/v1/calls/" .. math.random($((last_id - detail / 2)), $((last_id - 1000))))
end
EOF
cat >"$work/message.lua" <<EOF
math.randomseed(8)
request = function()
  return wrk.format(nil, "/api/v1/calls/" .. math.random($((last_id - detail / 2)), $((last_id - 1000))) .. "/messages/1")
end
EOF

mode=${MODE:-load}
out=${OUT:-$work/table.md}
if [ "$mode" = cpu ]; then
    {
        echo "| endpoint | request | CPU ms | wall ms | status |"
        echo "|---|---|---:|---:|---:|"
    } >"$out"
else
    # The writer: the capture paced at its own rate into analyze --db.
    python3 "$here/pace.py" "$wcap" | "$ts" analyze --quiet --no-alerts --db "$db" - >/dev/null 2>"$work/writer.err" &
    wr=$!
    n0=$(q "SELECT count(*) FROM calls WHERE id > $last_id")
    sleep 5
    {
        echo "| endpoint | request | req/s | p50 ms | p99 ms | non-2xx |"
        echo "|---|---|---:|---:|---:|---:|"
    } >"$out"
fi
srv_cpu_ns() { # the server's threads' CPU time so far
    cat /proc/"$srv"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
cpu_run() { # NAME PATH [LUA SHOWN]: CPU and wall ms per request, sequential
    local path=$2 reqs=${REQS:-3}
    if [ -n "${3:-}" ]; then # a random-id endpoint: one fixed id of the same range
        path=${2/\/calls\/1/\/calls\/$((last_id - detail / 4))}
    fi
    local st t0 t1 c0 c1
    st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$base$path" || true)
    c0=$(srv_cpu_ns)
    t0=$(date +%s%N)
    for _ in $(seq "$reqs"); do
        curl -s -o /dev/null --max-time 30 "$base$path" || true
    done
    t1=$(date +%s%N)
    c1=$(srv_cpu_ns)
    echo "| $1 | \`${4:-$2}\` | $(awk -v c=$((c1 - c0)) -v n="$reqs" 'BEGIN { printf "%.1f", c / n / 1e6 }') |" \
        "$(awk -v c=$((t1 - t0)) -v n="$reqs" 'BEGIN { printf "%.1f", c / n / 1e6 }') | $st |" >>"$out"
}
ms() { # wrk's latency (850.00us, 1.20ms, 2.03s) in ms
    awk -v v="$1" 'BEGIN { u = v; sub(/[0-9.]+/, "", u); n = v + 0;
        printf "%.1f", u == "us" ? n / 1000 : u == "s" ? n * 1000 : u == "m" ? n * 60000 : n }'
}
run() { # NAME PATH [LUA SHOWN]: with a script, SHOWN is what the table says
    [ -n "${ONLY:-}" ] && ! [[ $1 =~ $ONLY ]] && return
    [ "$mode" = cpu ] && { cpu_run "$@"; return; }
    local extra=()
    [ -n "${3:-}" ] && extra=(-s "$3")
    echo "api_load: $1" >&2
    wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout 10s --latency "${extra[@]}" "$base$2" >"$work/wrk.txt" 2>&1 || true
    local p50 p99 rps non2xx
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")
    rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk.txt")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.txt")
    local shown=${4:-$2}
    [ -z "$p50" ] && { echo "| $1 | \`$shown\` | failed | | | |" >>"$out"; return; }
    echo "| $1 | \`$shown\` | $rps | $(ms "$p50") | $(ms "$p99") | ${non2xx:-0} |" >>"$out"
}
# Overview
run health "/health"
run stats "/stats"
run trunks "/trunks"
run active "/active?limit=1"
run alerts-open "/alerts?state=firing,pending&limit=5"
run kpis-all "/kpis"
run kpis-24h "/kpis?from=$((kto - 86400000))&to=$kto"
run kpis-7d "/kpis?from=$((hto - 7 * 86400000))&to=$hto"
# Calls list and its filters
run calls "/calls?limit=50"
run calls-outcome "/calls?outcome=failed&limit=50"
run calls-failure-side "/calls?failure_side=itsp&limit=50"
run calls-direction "/calls?direction=inbound&limit=50"
run calls-trunk "/calls?trunk=$trunk&limit=50"
run calls-time "/calls?from=$day_from&to=$((day_from + 3600000))&limit=50"
run calls-min-pdd "/calls?min_pdd=2500&limit=50"
run calls-mos "/calls?max_mos=3.5&limit=50"
run calls-number "/calls?number=4930101&limit=50"
run calls-callee-suffix "/calls?callee=5346753&match=suffix&limit=50"
run calls-final-status "/calls?final_status=503&limit=50"
run calls-call-id "/calls?call_id=58df77487f1980f9-1@10.2.0.10-9999999&limit=50"
run calls-addr "/calls?addr=203.0.113.1&limit=50"
run calls-user-agent "/calls?user_agent=EdgeSBC&limit=50"
run calls-user-agent-none "/calls?user_agent=NoSuchAgent&limit=50"
run calls-port "/calls?port=5999&limit=50"
run calls-sort-pdd "/calls?sort=pdd&limit=50"
run calls-sort-mos "/calls?sort=mos&order=asc&limit=50"
# Call detail
run call "/calls/1" "$work/detail.lua" "/calls/ID (random, of the newest $detail)"
run call-message "/calls/1/messages/1" "$work/message.lua" "/calls/ID/messages/1"
# Trunk page
run trunk "/trunks/$trunk"
run trunk-kpis-all "/trunks/$trunk/kpis"
run trunk-kpis-24h "/trunks/$trunk/kpis?from=$((kto - 86400000))&to=$kto"
run trunk-kpis-7d "/trunks/$trunk/kpis?from=$((hto - 7 * 86400000))&to=$hto"
run checklist "/trunks/$trunk/checklist"
run registrations "/registrations"
# Alerts page, sites, topology
run alerts "/alerts?state=firing,pending,resolved&limit=500"
run sites "/sites"
run topology "/topology"

if [ -n "$wr" ]; then
    kill "$wr" 2>/dev/null || true
    wait "$wr" 2>/dev/null || true
    wr=""
    n1=$(q "SELECT count(*) FROM calls WHERE id > $last_id")
    echo "api_load: $(q "SELECT count(*) FROM calls") calls; the writer stored $((n1 - n0)) calls during the test" \
        "(load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
fi
cat "$out"
