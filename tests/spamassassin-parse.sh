#!/usr/bin/env bash
# tests/spamassassin-parse.sh: every message of the SpamAssassin public corpus
# through `$KEEL_BIN parse --json`, in batches. Fails when a batch crashes
# (any exit status but 0 and EX_DATAERR (65): a signal, an ASan/UBSan abort,
# LeakSanitizer's 23) or when a file is missing from the output.
# Prints how many messages parsed, had no text part, no usable Date
# (date_fallback) and no Message-ID (derived). Fetches the corpus first
# (tests/fetch-spamassassin.sh); without network it skips (exit 77).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${KEEL_BIN:?KEEL_BIN must name the keel binary}"
corpus=tests/data/spamassassin
if ! bash tests/fetch-spamassassin.sh "$corpus"; then
  echo "spamassassin-parse: cannot fetch the corpus; skipped" >&2
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find -L "$corpus" -name '*.eml' -print0 | sort -z > "$work/list"
start=$(date +%s.%N)
# Each batch records its exit status; xargs itself never stops early.
xargs -0 -n 250 sh -c '"$KEEL_BIN" parse --json "$@" >> "$0/out" 2>> "$0/err"; echo "$? $1" >> "$0/status"' \
  "$work" < "$work/list"
end=$(date +%s.%N)
python3 - "$work" "$start" "$end" <<'PY'
import json, os, sys
work, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
expected = [p for p in open(os.path.join(work, 'list'), 'rb').read().decode().split('\0') if p]
crashes = []
for line in open(os.path.join(work, 'status')):
    code, first = line.rstrip('\n').split(' ', 1)
    if int(code) not in (0, 65):
        crashes.append(f'batch from {first}: exit status {code}')
seen, no_text, no_date, no_id, too_large, bad_json = set(), 0, 0, 0, 0, 0
for line in open(os.path.join(work, 'out'), encoding='utf-8', errors='strict'):
    try:
        record = json.loads(line)
    except ValueError:
        bad_json += 1
        continue
    seen.add(record['file'])
    no_text += not record['has_text']
    no_date += record['date_fallback']
    no_id += record['message_id_derived']
    too_large += record['too_large']
missing = [p for p in expected if p not in seen]
errors = open(os.path.join(work, 'err'), encoding='utf-8', errors='replace').read().splitlines()
print(f'spamassassin-parse: {len(expected)} messages, {len(seen)} parsed, '
      f'{len(errors)} refused as not a message, {no_text} with no text part, '
      f'{no_date} with no usable Date, {no_id} with no Message-ID, {too_large} too large, '
      f'{end - start:.1f} s')
for line in errors[:10]:
    print('  refused:', line)
for crash in crashes:
    print('  CRASH', crash)
for path in missing[:20]:
    print('  MISSING', path)
if bad_json:
    print(f'  {bad_json} output lines are not JSON')
sys.exit(1 if crashes or missing or bad_json else 0)
PY
