#!/usr/bin/env bash
# SIP over TLS decrypted: SIP messages per second of `analyze` with keys on
# captures of real TLS (bench/tls_capture.py: Python's ssl, i.e. OpenSSL,
# 8 connections of 500 calls, 28,000 SIP messages), beside the same SIP in
# plaintext TCP and tshark decrypting the same capture with the same keys.
# Both tools must decrypt every message for their time to be shown.
# Prints a Markdown table (bench/run.sh appends it to its report).
# usage: bench/tls_bench.sh TRUNKSCOPE DATA_DIR [RUNS]
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,8p' "$0"; exit 2; }
ts=$1 data=$2/tls runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
conns=8 calls=500
mkdir -p "$data"

# name -> tls_capture.py options; the key: a key log, or the server's RSA key
# (RSA key exchange)
declare -A opts=([ecdhe_aes128gcm]="--tls12 ECDHE-RSA-AES128-GCM-SHA256"
                 [tls13_aes256gcm]="--tls13"
                 [ecdhe_aes256cbc_sha384]="--tls12 ECDHE-RSA-AES256-SHA384"
                 [rsa_aes128cbc_sha]="--tls12 AES128-SHA")
names="ecdhe_aes128gcm tls13_aes256gcm ecdhe_aes256cbc_sha384 rsa_aes128cbc_sha"
for n in $names; do
    stamp="$conns $calls ${opts[$n]}"
    [ -s "$data/$n-tls.pcap" ] && [ "$(cat "$data/$n.params" 2>/dev/null)" = "$stamp" ] && continue
    echo "tls_bench: writing $n" >&2
    # shellcheck disable=SC2086
    python3 "$here/tls_capture.py" "$data/$n" --conns $conns --calls $calls ${opts[$n]} \
        >"$data/$n.msgs"
    echo "$stamp" >"$data/$n.params"
done

# time N CMD...: "best-wall-s least-cpu-s" over N runs (user + system); the
# last run's output stays in $data/out.txt
best() {
    local n=$1 w="" c=""; shift
    for ((i = 0; i < n; i++)); do
        /usr/bin/time -f "%e %U %S" -o "$data/time.txt" "$@" >"$data/out.txt" 2>/dev/null </dev/null ||
            { echo "- -"; return; }
        read -r s us ss <"$data/time.txt"
        cs=$(awk -v u="$us" -v s="$ss" 'BEGIN { printf "%.2f", u + s }')
        [ -z "$w" ] || awk -v a="$s" -v b="$w" 'BEGIN { exit !(a < b) }' && w=$s
        [ -z "$c" ] || awk -v a="$cs" -v b="$c" 'BEGIN { exit !(a < b) }' && c=$cs
    done
    echo "$w $c"
}
# decrypted SIP messages of analyze --json (sip.messages)
decrypted() {
    "$ts" analyze --json "$@" | python3 -c 'import json, sys; print(json.load(sys.stdin)["sip"]["messages"])'
}
row() { # CAPTURE TOOL MSGS "WALL CPU"
    read -r w c <<<"$4"
    [ "$w" = "-" ] && { echo "| $1 | $2 | failed | | | |"; return; }
    awk -v cap="$1" -v t="$2" -v m="$3" -v w="$w" -v c="$c" 'BEGIN {
        printf "| %s | %s | %.2f | %.2f | %.0f | %.0f |\n", cap, t, w, c, m / w, (c > 0 ? m / c : 0) }'
}

echo "SIP over TLS decrypted ($conns connections x $calls calls, bench/tls_capture.py; best of $runs):"
echo
echo "| capture | tool | wall s | CPU s | SIP messages/s (wall) | per CPU s |"
echo "|---|---|---:|---:|---:|---:|"
first=${names%% *}
m=$(cat "$data/$first.msgs")
row "plaintext TCP" "trunkscope" "$m" "$(best "$runs" "$ts" analyze "$data/$first-tcp.pcap")"
for n in $names; do
    f=$data/$n-tls.pcap m=$(cat "$data/$n.msgs")
    if [[ $n == rsa_* ]]; then
        key=(--tls-key "10.0.0.2:5061=$data/$n-server.pem")
        tkey=(-o "uat:rsa_keys:\"$data/$n-server.pem\",\"\"")
    else
        key=(--tls-keylog "$data/$n-tls.keys")
        tkey=(-o "tls.keylog_file:$data/$n-tls.keys")
    fi
    got=$(decrypted "${key[@]}" "$f")
    [ "$got" = "$m" ] || { echo "| $n | trunkscope decrypted $got of $m messages | | | | |"; continue; }
    row "$n" "trunkscope" "$m" "$(best "$runs" "$ts" analyze "${key[@]}" "$f")"
    r=$(best "$runs" tshark -n -q -r "$f" "${tkey[@]}" -z sip,stat)
    tm=$(sed -n 's/^Number of SIP messages: *//p' "$data/out.txt")
    if [ "$tm" = "$m" ]; then row "$n" "tshark -z sip,stat" "$m" "$r"
    else echo "| $n | tshark decrypted ${tm:-no} messages of $m | | | | |"; fi
done
echo
echo "load average (1, 5, 15 min) after: $(cut -d' ' -f1-3 /proc/loadavg)"
