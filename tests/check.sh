#!/usr/bin/env bash
# tests/check.sh: the README's test command. Installs what is missing, builds
# keel in ./build and runs the whole test suite (unit + integration).
# Usage: bash tests/check.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash tests/install-deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" -Dwerror=true >/dev/null
ninja -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
