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
# Each is run RUNS times (default 3); the best wall time and the least CPU time
# (user + system) count. Prints messages/second and the ratios of both; installs spamassassin with apt-get if missing.
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
find -L "$corpus" -name '*.eml' | sort > "$work/files"
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

best() { # "WALL CPU": the best wall seconds and the least CPU seconds (user +
  # system, /usr/bin/time) of $runs runs of "$@"; CPU time is steadier than
  # wall time on a shared machine
  local best_time= best_cpu=
  for _ in $(seq "$runs"); do
    local start end cpu
    start=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/cpu" "$@" > /dev/null 2>&1 || true
    end=$(date +%s.%N)
    cpu=$(awk '{ print $1 + $2 }' "$work/cpu")
    best_time=$(python3 -c "a='$best_time'; t=$end-$start; print(min(t, float(a)) if a else t)")
    best_cpu=$(python3 -c "a='$best_cpu'; t=$cpu; print(min(t, float(a)) if a else t)")
  done
  echo "$best_time $best_cpu"
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
export -f parse_only score_all sa_all
export keel maxargs work
t_parse=$(best bash -c parse_only)
t_score=$(best bash -c score_all)
t_sa=$(runs=1 best bash -c sa_all)
python3 - "$count" $t_parse $t_score $t_sa "$(grep -c '^body\|^header' "$work/sa-config/keel.cf")" <<'PY'
import sys
n = int(sys.argv[1])
parse, parse_cpu, score, score_cpu, sa, sa_cpu = map(float, sys.argv[2:8])
regexes = sys.argv[8]
print("messages: %d (whole SpamAssassin corpus); SpamAssassin rules: %s regexes" % (n, regexes))
print("  %-16s %8s %9s  %8s" % ("", "wall s", "msg/s", "CPU s"))
for name, t, cpu in (("keel parse-only", parse, parse_cpu), ("keel score", score, score_cpu),
                     ("spamassassin -L", sa, sa_cpu)):
    print("  %-16s %8.2f %9.1f  %8.2f" % (name, t, n / t, cpu))
print("keel score / parse-only: wall %.2fx, CPU %.2fx (target <= 2x)"
      % (score / parse, score_cpu / parse_cpu))
print("keel score speed / SpamAssassin speed: wall %.1fx, CPU %.1fx (target >= 30x)"
      % (sa / score, sa_cpu / score_cpu))
PY
