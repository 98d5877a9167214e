#!/bin/sh
# ctest entry of the browser test: run.sh TRUNKSCOPE WORKDIR
# Skips (exit 77, ctest's skip code) when node, chromium or playwright-core is missing.
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then echo "skipped: node is not installed"; exit 77; fi
if [ ! -x /usr/bin/chromium ]; then echo "skipped: /usr/bin/chromium is not installed"; exit 77; fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
    echo "skipped: playwright-core missing (npm ci --prefix tests/web)"; exit 77
fi
exec node "$here/dashboard.test.mjs" --bin "$1" --work "$2"
