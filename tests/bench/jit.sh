#!/usr/bin/env bash
# tests/bench/jit.sh [BUILD_DIR]: keel's scoring speed with PCRE2's JIT and
# without it, the way the service runs under systemd's
# MemoryDenyWriteExecute=yes (issue 14). Not part of the default test path.
#
# The "no JIT" run is real, not a flag: tests/bench/mdwe.py sets
# prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux >= 6.3, inherited by
# xargs and every keel it starts), under which pcre2_jit_compile() fails with
# -48 and pcre2_match() falls back to the interpreter, as under systemd.
#
# Both runs score the whole SpamAssassin corpus with `keel score --json` and
# the default rules, one keel process per xargs batch (near ARG_MAX: one
# process for the corpus, as in run.sh); each runs RUNS times (default 3) and
# the best wall and the best CPU time (user + system of xargs and keel; the
# steadier figure on a shared machine) count. The two JSON outputs must be byte-identical
# (same scores, hits and errors: no rule hits a limit only without JIT).
# Prints both times, messages per CPU second and the ratios. Exit 77 when the kernel
# refuses the prctl.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
runs=${RUNS:-3}
keel="$build/daemon/keel"
corpus=tests/data/spamassassin
now=2026-03-13T08:00:00Z # a fixed --now, so the two outputs can be compared
[ -x "$keel" ] || { echo "jit: build keel first (ninja -C $build)" >&2; exit 1; }
[ -d "$corpus" ] || tests/fetch-spamassassin.sh
rc=0
python3 tests/bench/mdwe.py --check || rc=$?
[ "$rc" = 77 ] && { echo "jit: the kernel refuses PR_SET_MDWE: cannot measure" >&2; exit 77; }
[ "$rc" = 0 ] || { echo "jit: PCRE2's JIT still compiles under MDWE: nothing to measure" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find -L "$corpus" -name '*.eml' | sort > "$work/files"
count=$(wc -l < "$work/files")
maxargs=$(( $(getconf ARG_MAX) - 262144 ))

score_all() { # score_all OUT [WRAPPER...]: the corpus through keel score --json
  local out=$1
  shift
  "$@" xargs -s "$maxargs" "$keel" score --json --now "$now" --rules rules \
    < "$work/files" > "$out"
}
best() { # best OUT [WRAPPER...]: "wall cpu", the best of $runs runs each
  local best_wall= best_cpu= line
  for _ in $(seq "$runs"); do
    line=$( { TIMEFORMAT='%R %U %S'; time score_all "$@"; } 2>&1 )
    read -r best_wall best_cpu < <(python3 -c "
w, u, s = map(float, '$line'.split()); bw, bc = '$best_wall', '$best_cpu'
print(min(w, float(bw)) if bw else w, min(u + s, float(bc)) if bc else u + s)")
  done
  echo "$best_wall $best_cpu"
}
read -r w_jit c_jit < <(best "$work/jit.json")
read -r w_interp c_interp < <(best "$work/interp.json" python3 tests/bench/mdwe.py)
if ! cmp -s "$work/jit.json" "$work/interp.json"; then
  echo "jit: the outputs differ with and without JIT:" >&2
  diff <(tr ',' '\n' < "$work/jit.json") <(tr ',' '\n' < "$work/interp.json") | head -20 >&2
  exit 1
fi
errors=$(grep -c '"errors":\[[^]]' "$work/jit.json" || true)
python3 - "$count" "$w_jit" "$c_jit" "$w_interp" "$c_interp" "$errors" \
  "$(wc -c < "$work/jit.json")" <<'PY'
import sys
n = int(sys.argv[1])
w_jit, c_jit, w_int, c_int = map(float, sys.argv[2:6])
errors, size = int(sys.argv[6]), int(sys.argv[7])
print("messages: %d (whole SpamAssassin corpus), keel score --json, default rules" % n)
print("  %-27s %8s %9s %14s" % ("", "wall", "CPU", "messages/CPU s"))
print("  %-27s %7.2fs %8.2fs %14.1f" % ("PCRE2 JIT", w_jit, c_jit, n / c_jit))
print("  %-27s %7.2fs %8.2fs %14.1f" % ("interpreter (MDWE, no JIT)", w_int, c_int, n / c_int))
print("interpreter / JIT: %.2fx wall, %.2fx CPU (user + system)" % (w_int / w_jit, c_int / c_jit))
print("outputs identical (%d bytes of JSON); messages with a rule error: %d" % (size, errors))
PY
