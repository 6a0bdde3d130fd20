#!/usr/bin/env bash
# tests/demo.sh: keel's quick-start demo. Installs what is missing (Debian 12),
# builds keel in ./build, stores the bundled demo mailbox (a Maildir with a
# VA's client mail: tests/data/demo/Maildir) in a temporary database, then
# lists the threads keel made of it. Starts no server, leaves nothing running
# and removes its temporary folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ "$(id -u)" -eq 0 ]; then
  tests/install-deps.sh
else
  echo "demo: not root, so not installing packages (run as root on a fresh machine)" >&2
fi

build="${KEEL_BUILD_DIR:-build}"   # another build folder, e.g. for a sanitizer build
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" -j"$(nproc)" >/dev/null

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

keel="$build/daemon/keel"
conf=tests/data/demo/keel.conf
echo "== keel config check"
"$keel" config check --config "$conf"
echo
echo "== keel import tests/data/demo/Maildir"
"$keel" import --config "$conf" --database "$work/keel.db" tests/data/demo/Maildir
echo
echo "== keel threads"
"$keel" threads --config "$conf" --database "$work/keel.db"
