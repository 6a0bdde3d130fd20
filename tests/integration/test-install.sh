#!/usr/bin/env bash
# tests/integration/test-install.sh BUILD_DIR: `meson install --destdir` lays
# out what a Debian daemon needs (binary, unit, sysusers.d, tmpfiles.d, default
# rules and templates under datadir, the example config, the man pages), the
# unit passes `systemd-analyze verify` and its security exposure is at most 2.0.
# TAP output. Needs systemd-analyze (Debian's systemd package).
set -uo pipefail
build=${1:?usage: test-install.sh BUILD_DIR}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
n=0; failed=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
one()  { find "$dest" -path "$1" | head -1; }

if ! meson install -C "$build" --destdir "$dest" --no-rebuild >"$dest.log" 2>&1; then
  cat "$dest.log"; echo "1..1"; echo "not ok 1 - meson install"; rm -f "$dest.log"; exit 1
fi
rm -f "$dest.log"
bin=$(one '*/bin/keel'); unit=$(one '*/systemd/system/keel.service')
sysusers=$(one '*/sysusers.d/keel.conf'); tmpfiles=$(one '*/tmpfiles.d/keel.conf')
rules=$(one '*/share/keel/rules')
check "binary installed" test -x "$bin"
check "unit installed in systemd's unit directory" test -f "$unit"
check "sysusers.d creates the system user keel" grep -q '^u keel ' "$sysusers"
check "tmpfiles.d makes /var/lib/keel 0750" grep -q '^d /var/lib/keel 0750 keel keel' "$tmpfiles"
check "tmpfiles.d copies the default rules, never over the VA's" grep -q '^C .*/keel/rules .*/share/keel/rules$' "$tmpfiles"
check "default rules under datadir" test -f "$rules/tone.rules"
check "reply templates under datadir" test -f "$rules/templates/confirm.txt"
check "keel.conf.example installed" test -n "$(one '*/doc/keel/keel.conf.example')"
for page in man1/keel.1 man5/keel.conf.5 man5/keel.rules.5; do
  check "man page $page" test -n "$(one "*/man/$page")"
done
check "unit runs the installed binary" grep -q "^ExecStart=${bin#"$dest"} daemon" "$unit"
check "unit does not retry a broken config (78)" grep -q '^RestartPreventExitStatus=78' "$unit"
check "unit sets UMask=0077" grep -q '^UMask=0077' "$unit"

# verify the unit as installed, but with ExecStart pointing into the destdir
# (the binary is not in / while testing); man pages are checked above.
mkdir -p "$dest/verify"
sed "s|^ExecStart=${bin#"$dest"}|ExecStart=$bin|" "$unit" >"$dest/verify/keel.service"
verify=$(systemd-analyze verify --man=no "$dest/verify/keel.service" 2>&1)
check "systemd-analyze verify is clean" test -z "$verify"
[ -z "$verify" ] || echo "# $verify"
exposure=$(systemd-analyze security --offline=true "$unit" 2>&1 | sed -n 's/.*Overall exposure level for keel.service: \([0-9.]*\).*/\1/p')
echo "# security exposure: ${exposure:-unknown} (Debian's dovecot 8.7, postfix 9.6)"
exposure_ok() { systemd-analyze security --offline=true --threshold=20 "$unit" >/dev/null 2>&1; }
check "security exposure <= 2.0 (systemd-analyze --threshold=20)" exposure_ok
echo "1..$n"
[ "$failed" -eq 0 ]
