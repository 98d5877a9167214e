#!/usr/bin/env bash
# trunkscope set-up: installs what is missing (Debian 12, as root,
# non-interactive; safe to run twice), builds, and runs one job:
#   scripts/setup.sh demo   build release, generate the demo capture, analyse it
#   scripts/setup.sh test   build the sanitizer flavour and run every test
#   scripts/setup.sh deps   only install packages
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

PKGS=(build-essential cmake pkg-config git
      libpcap-dev libndpi-dev libsqlite3-dev libmicrohttpd-dev libjansson-dev
      libcmocka-dev zlib1g-dev libzstd-dev zstd python3 clang libclang-rt-14-dev tshark
      tcpreplay netsniff-ng wrk iproute2 chromium kamailio kamailio-tls-modules sip-tester sngrep
      rtpengine-daemon wireshark-common nginx-light openssl libssl-dev
      libspandsp-dev libbcg729-dev libopus-dev espeak-ng sox ffmpeg
      libsrtp2-dev libcurl4-openssl-dev prometheus prometheus-alertmanager)
install_deps() {
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # node and npm may come from another source whose nodejs bundles npm
    # (Debian's npm package would conflict with it): only add what is absent
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections || true
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

build() { # build DIR TARGET [cmake args...]
    local dir=$1 target=$2; shift 2
    cmake -S "$ROOT" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS" --target "$target"
}

case "${1:-}" in
deps)
    install_deps
    ;;
demo)
    install_deps
    build build all -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF
    mkdir -p demo
    ./build/trunkscope gen -o demo/demo.pcap --calls 30 --seed 1 --branch --gateway
    rm -f demo/demo.db demo/demo.db-wal demo/demo.db-shm
    # analyse into SQLite, print the tables, then serve the dashboard
    ./build/trunkscope analyze --db demo/demo.db --serve 127.0.0.1:8080 demo/demo.pcap
    ;;
test)
    install_deps
    # playwright-core for the dashboard test (Debian's chromium is the browser)
    if command -v npm >/dev/null; then
        npm ci --prefix tests/web --no-audit --no-fund --silent >/dev/null 2>&1 ||
            echo "setup: npm ci failed; the browser test will report itself skipped"
    fi
    # the release flavour too: -O2 enables warnings (format-truncation...)
    # that the debug build does not see, and the demo command uses it
    build build all -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF
    build build-test all -DCMAKE_BUILD_TYPE=Debug -DTS_SANITIZE=ON
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    (cd build-test && ctest -j "$JOBS" --output-on-failure)
    if [ -f tests/fuzz/CMakeLists.txt ]; then
        CC=clang build build-fuzz fuzz_all -DCMAKE_BUILD_TYPE=Debug -DTS_FUZZ=ON -DTS_TESTS=OFF
        tests/fuzz/smoke.sh build-fuzz 30
    fi
    ;;
*)
    echo "usage: scripts/setup.sh demo|test|deps" >&2
    exit 2
    ;;
esac
