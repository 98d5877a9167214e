#!/bin/sh
# API load test (manual, not in ctest): a 1,000,000-call database (made by
# make_db.py, never committed), `trunkscope serve` on loopback with the rate
# limit off, wrk against the call list for a bounded time while writer.py
# ingests 500 calls/s into the same database.
# usage: tests/load/run.sh TRUNKSCOPE [WORKDIR] [CALLS]   (use a Release build)
set -eu
bin=$1
work=${2:-/tmp/ts-load}
calls=${3:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk missing (apt-get install wrk)"; exit 2; }
mkdir -p "$work"
db=$work/load.db
[ -f "$db" ] || python3 "$here/make_db.py" --bin "$bin" --out "$db" --calls "$calls"
"$bin" serve --db "$db" --http 127.0.0.1:0 --no-rate-limit --threads 4 > "$work/serve.out" 2>&1 &
srv=$!
trap 'kill -INT $srv 2>/dev/null; wait $srv 2>/dev/null || true' EXIT
sleep 1
port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/serve.out")
base=http://127.0.0.1:$port/api/v1
dur=${TS_LOAD_SECONDS:-20}
run() { # name path
    echo "== $1: $2"
    python3 "$here/writer.py" "$db" --rate 500 --seconds "$dur" > "$work/writer.out" 2>&1 &
    wr=$!
    wrk -t2 -c16 -d"${dur}s" --latency "$base$2" | grep -E "Requests/sec|Latency  |99%|50%|requests in|Non-2xx"
    wait $wr
    cat "$work/writer.out"
}
run "first page, newest first" "/calls?limit=100"
run "filtered (outcome=failed)" "/calls?outcome=failed&limit=100"
run "sorted by pdd" "/calls?sort=pdd&limit=100"
run "time range + min_pdd" "/calls?from=1700200000000&to=1700300000000&min_pdd=2000&limit=100"
run "number search (substring)" "/calls?callee=4912345&limit=50"
run "number search (last digits)" "/calls?callee=2345&match=suffix&limit=50"
