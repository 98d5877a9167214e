#!/usr/bin/env bash
# Fuzz each libFuzzer target for N seconds (default 30) from the seeds.
# usage: tests/fuzz/smoke.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$1; secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../../shared"
for t in sip packet sipframe sdp pcap media; do
    # the SIP parser and the whole packet path get the full time, the others half
    case $t in sip|packet) tsecs=$secs ;; *) tsecs=$(( (secs + 1) / 2 )) ;; esac
    seeds="$build/fuzz-seeds"
    python3 "$here/seeds.py" --shared "$shared" --out "$seeds" --target "$t" >/dev/null
    corpus="$build/fuzz-corpus/$t"
    mkdir -p "$corpus" "$build/fuzz-crashes"
    dirs=("$corpus" "$seeds/$t")
    [ -d "$here/regress/$t" ] && dirs+=("$here/regress/$t")
    echo "fuzz: $t for ${tsecs}s"
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$tsecs" -print_final_stats=1 \
        -artifact_prefix="$build/fuzz-crashes/$t-" "${dirs[@]}" \
        2>"$build/fuzz-$t.log" || { tail -40 "$build/fuzz-$t.log"; echo "fuzz: $t FOUND A CRASH"; exit 1; }
    grep -E "stat::number_of_executed_runs|cov:" "$build/fuzz-$t.log" | tail -2
done
echo "fuzz smoke: no findings"
