#!/usr/bin/env bash
# tests/integration/demo-digest.sh [OUTDIR]: keel's digest demo. Builds keel
# in ./build (KEEL_BUILD_DIR to use another), imports and scores the demo
# mailbox (tests/data/demo/Maildir) into a temporary database, prints the
# digest as of Friday 13 March 2026 08:00 (the morning after the demo's
# week), and writes OUTDIR (default ./digest-sample): digest.txt, digest.html,
# digest.eml (the whole MIME message) and digest.png (the HTML part as
# headless Chromium renders it, 600 px wide). Starts no server, sends
# nothing, leaves nothing running.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="$(realpath -m "${1:-digest-sample}")"
build="${KEEL_BUILD_DIR:-build}"
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
if ! log="$(ninja -C "$build" 2>&1)"; then
  printf '%s\n' "$log" | tail -30 >&2
  echo "demo-digest: the build failed" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
keel="$build/daemon/keel"
conf=tests/data/demo/keel.conf
now=2026-03-13T08:00:00Z
"$keel" import --config "$conf" --database "$work/keel.db" tests/data/demo/Maildir >/dev/null
"$keel" rescore --config "$conf" --database "$work/keel.db" --now "$now" >/dev/null
mkdir -p "$out"
for part in text html; do
  ext=$([ "$part" = text ] && echo txt || echo html)
  "$keel" digest --config "$conf" --database "$work/keel.db" --now "$now" "--$part" \
    >"$out/digest.$ext"
done
"$keel" digest --config "$conf" --database "$work/keel.db" --now "$now" >"$out/digest.eml"
cat "$out/digest.txt"
if command -v chromium >/dev/null 2>&1; then
  chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --window-size=600,1200 \
    --screenshot="$out/digest.png" "file://$out/digest.html" >/dev/null 2>&1
  echo "demo-digest: wrote $out/digest.{txt,html,eml,png}"
else
  echo "demo-digest: chromium is not installed (tests/install-deps.sh): no digest.png" >&2
  echo "demo-digest: wrote $out/digest.{txt,html,eml}"
fi
