#!/usr/bin/env bash
# Fuzz each libFuzzer target for N seconds (default 30) from the seeds: the
# SIP parser and the packet path for N, the thirteen others for N/2 (30:
# about 4.3 minutes in all).
# usage: tests/fuzz/smoke.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$1; secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../../shared"
# undefined behaviour is a finding, as in the test build (-fno-sanitize-recover)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for t in sip packet sipframe sdp pcap media hep query vq tlsdec spool tls audio pcapng srtp; do
    # the SIP parser and the whole packet path get the full time, the others half
    case $t in sip|packet) tsecs=$secs ;; *) tsecs=$(( (secs + 1) / 2 )) ;; esac
    seeds="$build/fuzz-seeds"
    python3 "$here/seeds.py" --shared "$shared" --out "$seeds" --target "$t" >/dev/null
    corpus="$build/fuzz-corpus/$t"
    mkdir -p "$corpus" "$build/fuzz-crashes"
    dirs=("$corpus" "$seeds/$t")
    [ -d "$here/regress/$t" ] && dirs+=("$here/regress/$t")
    echo "fuzz: $t for ${tsecs}s"
    # a fixed seed keeps CI's run repeatable; long runs pass FUZZ_SEED=0 (random)
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$tsecs" -print_final_stats=1 \
        -seed="${FUZZ_SEED:-1}" \
        -artifact_prefix="$build/fuzz-crashes/$t-" "${dirs[@]}" \
        2>"$build/fuzz-$t.log" || { tail -40 "$build/fuzz-$t.log"; echo "fuzz: $t FOUND A CRASH"; exit 1; }
    grep -E "stat::number_of_executed_runs|cov:" "$build/fuzz-$t.log" | tail -2
done
echo "fuzz smoke: no findings"
