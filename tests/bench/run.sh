#!/usr/bin/env bash
# tests/bench/run.sh [BUILD_DIR]: keel's speed against SpamAssassin on the same
# messages and the same regexes, in one run. Not part of the default test path.
#
#   1. keel parse-only   `keel score --parse-only` over every .eml (the floor)
#   2. keel score        `keel score --json` with the default rules (output dropped)
#   3. SpamAssassin      `spamassassin -L --mbox` (local tests only, no network,
#                        no site config, no Bayes/AWL) with a config holding only
#                        keel's regexes converted by rules2sa.py, over an mbox of
#                        the same messages
# Each is run RUNS times (default 3); the best wall time counts. Prints
# messages/second and the ratios; installs spamassassin with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
runs=${RUNS:-3}
keel="$build/daemon/keel"
corpus=tests/data/spamassassin
[ -x "$keel" ] || { echo "bench: build keel first (ninja -C $build)" >&2; exit 1; }
[ -d "$corpus" ] || tests/fetch-spamassassin.sh
if ! command -v spamassassin >/dev/null; then
  apt-get install -y -q spamassassin >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find "$corpus" -name '*.eml' | sort > "$work/files"
count=$(wc -l < "$work/files")

# SpamAssassin's inputs: the same regexes, the same messages as one mbox.
mkdir -p "$work/sa-config" "$work/sa-site"
"$keel" rules check rules --patterns | tests/bench/rules2sa.py > "$work/sa-config/keel.cf"
# Only the rule engine itself (the Check plugin) is loaded: no DNS, Bayes, AWL, URIBL...
echo "loadplugin Mail::SpamAssassin::Plugin::Check" > "$work/sa-site/init.pre"
printf 'util_rb_tld com uk org net\nadd_header all Status _YESNO_, score=_SCORE_ tests=_TESTS_\n' \
  > "$work/sa-config/settings.cf" # the header shows which of keel's regexes hit
python3 - "$work/files" "$work/all.mbox" <<'PY'
import sys
with open(sys.argv[2], "wb") as out:
    for path in open(sys.argv[1]).read().split():
        data = open(path, "rb").read().replace(b"\r\n", b"\n")
        out.write(b"From bench@localhost Thu Jan  1 00:00:00 2026\n")
        for line in data.split(b"\n"):
            out.write((b">" + line if line.startswith(b"From ") else line) + b"\n")
        out.write(b"\n")
PY
spamassassin -L --configpath="$work/sa-config" --siteconfigpath="$work/sa-site" \
  --prefspath=/dev/null --lint 2>&1 | head -5 || true

best() { # best wall seconds of $runs runs of "$@"
  local best_time=
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1 || true
    end=$(date +%s.%N)
    best_time=$(python3 -c "a='$best_time'; t=$end-$start; print(min(t, float(a)) if a else t)")
  done
  echo "$best_time"
}
# One keel process for the whole corpus, as SpamAssassin gets one: the rules
# are compiled once, as in the daemon.
maxargs=$(( $(getconf ARG_MAX) - 262144 ))
parse_only() { xargs -s "$maxargs" "$keel" score --parse-only < "$work/files"; }
score_all() { xargs -s "$maxargs" "$keel" score --json --rules rules < "$work/files"; }
sa_all() {
  spamassassin -L --mbox --configpath="$work/sa-config" --siteconfigpath="$work/sa-site" \
    --prefspath=/dev/null -x < "$work/all.mbox"
}
t_parse=$(best parse_only)
t_score=$(best score_all)
runs=1 t_sa=$(best sa_all)
python3 - "$count" "$t_parse" "$t_score" "$t_sa" "$(grep -c '^body\|^header' "$work/sa-config/keel.cf")" <<'PY'
import sys
n, parse, score, sa, regexes = int(sys.argv[1]), *map(float, sys.argv[2:5]), sys.argv[5]
print("messages: %d (whole SpamAssassin corpus); SpamAssassin rules: %s regexes" % (n, regexes))
for name, t in (("keel parse-only", parse), ("keel score", score), ("spamassassin -L", sa)):
    print("  %-16s %8.2f s  %9.1f messages/s" % (name, t, n / t))
print("keel score / parse-only time: %.2fx (target <= 2x)" % (score / parse))
print("keel score speed / SpamAssassin speed: %.1fx (target >= 20x)" % (sa / score))
PY
