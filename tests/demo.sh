#!/usr/bin/env bash
# tests/demo.sh: keel's quick-start demo, as root on Debian 12. Installs what
# is missing, builds keel in ./build, then:
#  1. starts a private Dovecot on 127.0.0.1 (temp dir, generated certificate)
#     serving the bundled demo mailbox (tests/data/demo/Maildir: Sam, a VA,
#     and four clients), runs `keel daemon --once` against it (every message
#     fetched without marking it read, parsed, scored and threaded), prints
#     `keel status` and `keel threads`, stops Dovecot;
#  2. prints the digest keel would email Sam on the morning after the demo's
#     week, and writes it to ./digest-sample/ (text, HTML, .eml, and a PNG of
#     the HTML when Chromium is installed).
# Leaves nothing running and removes its temporary folders.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it installs packages and runs Dovecot as user 'nobody')" >&2
  exit 77
fi
tests/install-deps.sh
build="${KEEL_BUILD_DIR:-build}"
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
echo "### 1. keel polls the demo mailbox over IMAP"
KEEL_BUILD_DIR="$build" bash tests/integration/demo-imap.sh
echo
echo "### 2. the digest Sam would get on Friday 13 March 2026, 08:00"
KEEL_BUILD_DIR="$build" bash tests/integration/demo-digest.sh digest-sample
