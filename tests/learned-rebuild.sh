#!/bin/sh
# tests/learned-rebuild.sh: rebuilds the shipped learned models
# (rules/learned/NAME.model) from the labelled worlds and the background
# mail, and fails when the result differs from what is committed: training
# is deterministic, so a difference means the code, the corpus or the files
# changed without the models being rebuilt.
#   tests/learned-rebuild.sh [KEEL] [--write]   (--write: update rules/learned)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
keel=${1:-${KEEL_BIN:-$root/build/daemon/keel}}
shared=${KEEL_SHARED:-$root/../shared}
background=$root/tests/data/spamassassin/hard-ham-1
[ -d "$background" ] || "$root/tests/fetch-spamassassin.sh" "$root/tests/data/spamassassin" >/dev/null 2>&1 || true
for need in "$shared/corpus/dev" "$background"; do
  [ -d "$need" ] || { echo "skip: $need is missing"; exit 77; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$keel" learn train \
  --corpus "$shared/corpus/dev" --corpus "$shared/corpus/us" \
  --corpus "$shared/corpus/au" --corpus "$shared/corpus/ph" \
  --background "$background" \
  --out "$out" >/dev/null
if [ "${2:-}" = "--write" ]; then
  cp "$out"/*.model "$root/rules/learned/"
  echo "rules/learned rebuilt"
  exit 0
fi
if diff -r "$out" "$root/rules/learned" >/dev/null; then
  echo "ok: rebuilding rules/learned gives the same files"
else
  diff -r "$out" "$root/rules/learned" | head -20
  echo "FAIL: rules/learned differs from a rebuild (run tests/learned-rebuild.sh '' --write)"
  exit 1
fi
