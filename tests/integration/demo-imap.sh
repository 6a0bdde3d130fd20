#!/usr/bin/env bash
# tests/integration/demo-imap.sh: keel's IMAP demo. Installs what is missing
# (Debian 12, as root), builds keel in ./build, starts a private Dovecot on
# 127.0.0.1 from a temp dir with the demo mailbox (tests/data/demo/Maildir),
# runs `keel daemon --once` against it, prints `keel status` and
# `keel threads`, stops Dovecot and removes its temp dir. Leaves nothing
# running. Needs root (Dovecot's mail uid owns the Maildir).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "demo-imap: run as root (Dovecot serves the demo Maildir as user 'nobody')" >&2
  exit 77
fi
tests/install-deps.sh
build="${KEEL_BUILD_DIR:-build}"
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
if ! out="$(ninja -C "$build" 2>&1)"; then
  printf '%s\n' "$out" | tail -30 >&2
  echo "demo-imap: the build failed" >&2
  exit 1
fi
exec /usr/bin/python3 tests/integration/demo.py "$build/daemon/keel"
