#!/usr/bin/env bash
# Fuzz each libFuzzer target for N seconds (default 30) from the seeds: the
# SIP parser and the packet path for N, the thirteen others for N/2. A
# target runs on one core, so FUZZ_JOBS targets (default: the cores) run at
# once, each with the same time: about 4.3 minutes of fuzzing for 30, in
# 2.8 on two cores with the seeds' extraction.
# usage: tests/fuzz/smoke.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$1; secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../../shared"
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
# undefined behaviour is a finding, as in the test build (-fno-sanitize-recover)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
targets=(sip packet sipframe sdp pcap media hep query vq tlsdec spool tls audio pcapng srtp)
seeds="$build/fuzz-seeds"
mkdir -p "$build/fuzz-crashes"
fuzz() { # TARGET: its run, its log in BUILD/fuzz-TARGET.log
    local t=$1 tsecs
    # the SIP parser and the whole packet path get the full time, the others half
    case $t in sip|packet) tsecs=$secs ;; *) tsecs=$(( (secs + 1) / 2 )) ;; esac
    local corpus="$build/fuzz-corpus/$t"
    mkdir -p "$corpus"
    local dirs=("$corpus" "$seeds/$t")
    [ -d "$here/regress/$t" ] && dirs+=("$here/regress/$t")
    echo "fuzz: $t for ${tsecs}s"
    # a fixed seed keeps CI's run repeatable; long runs pass FUZZ_SEED=0 (random)
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$tsecs" -print_final_stats=1 \
        -seed="${FUZZ_SEED:-1}" \
        -artifact_prefix="$build/fuzz-crashes/$t-" "${dirs[@]}" \
        2>"$build/fuzz-$t.log"
}
for t in "${targets[@]}"; do
    python3 "$here/seeds.py" --shared "$shared" --out "$seeds" --target "$t" >/dev/null
done
declare -A pid_of
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true # each status is read by its pid below
    done
    fuzz "$t" &
    pid_of[$t]=$!
done
found=0
for t in "${targets[@]}"; do
    if wait "${pid_of[$t]}"; then
        grep -E "stat::number_of_executed_runs|cov:" "$build/fuzz-$t.log" | tail -2
    else
        tail -40 "$build/fuzz-$t.log"
        echo "fuzz: $t FOUND A CRASH"
        found=1
    fi
done
[ "$found" -eq 0 ] || exit 1
echo "fuzz smoke: no findings"
