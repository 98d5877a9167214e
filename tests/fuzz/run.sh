#!/usr/bin/env bash
# Fuzz one libFuzzer target for a chosen time, from the seeds extracted from
# ../shared, the kept regression inputs and its own growing corpus.
# usage: tests/fuzz/run.sh TARGET SECONDS [BUILD_DIR]
#   TARGET: sip packet sipframe sdp pcap media hep query vq tlsdec spool tls audio pcapng; BUILD_DIR: a
#   -DTS_FUZZ=ON clang build
#   (default build-fuzz beside the sources). A crash is written to
#   BUILD_DIR/fuzz-crashes/TARGET-*; minimise it with
#   fuzz_TARGET -minimize_crash=1 -max_total_time=60 FILE and keep the result in
#   tests/fuzz/regress/TARGET/crash-NAME (replayed by ctest: fuzz.replay_TARGET).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0"; exit 2; }
# undefined behaviour is a finding, as in the test build (-fno-sanitize-recover)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
t=$1; secs=$2
here=$(cd "$(dirname "$0")" && pwd)
build=${3:-$here/../../build-fuzz}
bin=$build/tests/fuzz/fuzz_$t
[ -x "$bin" ] || { echo "fuzz: $bin not built (cmake -DTS_FUZZ=ON, CC=clang)" >&2; exit 2; }
# Inputs beyond these sizes only slow the target down: a pcap or frame record
# sequence of 16 KB holds dozens of frames, a SIP stream of 4 KB several messages,
# a media sequence of 8 KB dozens of packets; API requests are short.
case $t in
packet|pcap) max_len=16384 ;;
media) max_len=8192 ;;
sipframe|sdp|vq) max_len=4096 ;;
query) max_len=1024 ;;
*) max_len=0 ;;
esac
seeds=$build/fuzz-seeds
python3 "$here/seeds.py" --shared "$here/../../../shared" --out "$seeds" --target "$t" >/dev/null
corpus=$build/fuzz-corpus/$t
mkdir -p "$corpus" "$build/fuzz-crashes"
dirs=("$corpus" "$seeds/$t")
[ -d "$here/regress/$t" ] && dirs+=("$here/regress/$t")
args=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$build/fuzz-crashes/$t-")
[ "$max_len" -gt 0 ] && args+=(-max_len="$max_len")
echo "fuzz: $t for ${secs}s (log: $build/fuzz-$t.log)"
if ! "$bin" "${args[@]}" "${dirs[@]}" 2>"$build/fuzz-$t.log"; then
    grep -E -A25 "ERROR|abort|SUMMARY" "$build/fuzz-$t.log" | head -60
    echo "fuzz: $t FOUND A CRASH: $(ls -t "$build/fuzz-crashes/$t-"* 2>/dev/null | head -1)"
    exit 1
fi
grep -E "^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec" "$build/fuzz-$t.log" | tail -3
