#!/usr/bin/env bash
# tests/bench/imap-sync.sh [SIZE...]: keel's IMAP benchmark (not run by the
# test suite). Initial sync of a 1,000- and a 10,000-message folder (the
# SpamAssassin corpus, repeated with new Message-IDs) from a private Dovecot:
# keel daemon --once against mbsync (isync) to a Maildir, wall time and peak
# RSS of each; then one poll of the unchanged folder (time, IMAP commands).
# Installs isync and fetches the corpus when missing; builds an optimised
# keel in build-bench (or $KEEL_BUILD_DIR). Needs root. Leaves nothing running.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "imap-sync: run as root (Dovecot serves the Maildir as user 'nobody')" >&2
  exit 77
fi
tests/install-deps.sh
if ! command -v mbsync >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends isync >/dev/null
fi
tests/fetch-spamassassin.sh
build="${KEEL_BUILD_DIR:-build-bench}"
[ -f "$build/build.ninja" ] || meson setup "$build" -Dbuildtype=release >/dev/null
ninja -C "$build" >/dev/null
exec /usr/bin/python3 tests/bench/imap-sync.py "$build/daemon/keel" "$@"
