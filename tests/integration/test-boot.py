#!/usr/bin/python3
"""tests/integration/test-boot.py BUILD_DIR: keel under a real systemd as PID 1.

The machine's own root is overlaid (overlayfs, upper layer in a temp dir) and
booted with systemd-nspawn (Debian's systemd-container); `meson install
--destdir` puts keel in the overlay, so the host is never written to. The
container shares the host's network, so keel polls the test Dovecot started
here on 127.0.0.1 (harness.py). The password comes as a credential
(LoadCredential= in a drop-in). Inside, through nsenter: `systemctl enable
--now keel` (returns after READY=1), a poll (STATUS= counts the messages, the
database holds them, 0600), `systemctl reload keel` (config read again,
READY=1), new mail polled after the reload, `systemctl stop keel` (exit 0).

BUILD_DIR must be configured the way Debian builds (--prefix=/usr
--sysconfdir=/etc): systemd reads sysusers.d and tmpfiles.d only there.
Skips (TAP 1..0 # SKIP) without root, systemd-nspawn, overlayfs, or such a build.
TAP output. Usage: /usr/bin/python3 test-boot.py BUILD_DIR"""

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Dovecot, make_message  # noqa: E402

MASK = ["dovecot.service", "postgresql.service", "postgresql@15-main.service",
        "spamd.service", "console-getty.service", "apt-daily.timer",
        "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer"]
CONFIG = """[keel]
timezone = Europe/London

[account main]
imap = {imap}
user = alice@va.example
password_file = imap-password
ca_file = /etc/keel/test-ca.pem
folders = INBOX
connect_timeout = 5
read_timeout = 10

[client acme]
addresses = @acme.example
"""
DROPIN = """[Service]
LoadCredential=imap-password:/etc/keel/imap-password
WatchdogSec=20
"""


def skip(reason):
    print("1..0 # SKIP " + reason)  # TAP's skip (meson: SKIP); exit 0
    sys.exit(0)


def build_options(build):
    out = subprocess.run(["meson", "introspect", "--buildoptions", build], check=True,
                         capture_output=True, text=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


class Machine:
    """The overlay root, the booted container and commands run inside it."""

    def __init__(self, base):
        self.base = base
        self.root = os.path.join(base, "root")
        for sub in ("upper", "work", "root"):
            os.makedirs(os.path.join(base, sub))
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (base, base),
                        self.root], check=True, capture_output=True)
        self.proc = None
        self.leader = None

    def boot(self):
        self.log = open(os.path.join(self.base, "boot.log"), "w")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-D", self.root, "-b", "--register=no", "--link-journal=no",
             "--keep-unit", "--console=passive", "--machine=keelboot%d" % os.getpid()],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.leader is None:
            assert self.proc.poll() is None, "nspawn exited: " + self.boot_log()
            self.leader = self._find_init()
            time.sleep(0.2)
        assert self.leader, "no container leader"
        while time.monotonic() < deadline + 60:  # until systemd listens on its socket
            r = self.run("systemctl", "is-system-running", "--wait", timeout=120)
            if "Failed to connect" not in r.stderr:
                return r.stdout.strip()
            time.sleep(0.5)
        return "unreachable: " + r.stderr.strip()

    def _find_init(self):
        """The container's PID 1 (NSpid ends in 1): a child of nspawn whose
        command is systemd (nspawn's intermediate child exits first)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout.split()
        for pid in out:
            try:
                with open("/proc/%s/status" % pid) as f:
                    status = f.read()
                with open("/proc/%s/comm" % pid) as f:
                    comm = f.read().strip()
            except OSError:
                continue
            nspid = [l for l in status.splitlines() if l.startswith("NSpid:")]
            if nspid and nspid[0].split()[-1] == "1" and comm == "systemd":
                return int(pid)
        return None

    def boot_log(self):
        with open(os.path.join(self.base, "boot.log"), errors="replace") as f:
            return f.read()[-3000:]

    def run(self, *cmd, timeout=60):
        return subprocess.run(["nsenter", "-t", str(self.leader), "-a", "--"] + list(cmd),
                              capture_output=True, text=True, timeout=timeout)

    def show(self, unit, *props):
        out = self.run("systemctl", "show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit):
        return self.run("journalctl", "-u", unit, "--no-pager", "-o", "cat").stdout

    def close(self):
        if self.proc and self.proc.poll() is None:
            if self.leader:
                self.run("systemctl", "poweroff", timeout=30)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(["umount", self.root], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


class Cases:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, what), flush=True)
        if not ok:
            self.failed += 1
            for line in str(detail).splitlines()[-30:]:
                print("# " + line, flush=True)
        return ok


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return predicate()


def stored(root):
    try:
        db = sqlite3.connect("file:%s/var/lib/keel/keel.db?mode=ro" % root, uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def install(build, machine, dovecot):
    subprocess.run(["meson", "install", "-C", build, "--destdir", machine.root, "--no-rebuild",
                    "--quiet"], check=True, capture_output=True)
    etc = os.path.join(machine.root, "etc")
    for unit in MASK:
        path = os.path.join(etc, "systemd/system", unit)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink("/dev/null", path)
    os.makedirs(os.path.join(etc, "keel"), exist_ok=True)
    with open(os.path.join(etc, "keel/keel.conf"), "w") as f:
        f.write(CONFIG.format(imap=dovecot.url("imaps")))
    shutil.copy(dovecot.cert, os.path.join(etc, "keel/test-ca.pem"))
    secret = os.path.join(etc, "keel/imap-password")
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(dovecot.users["alice"] + "\n")
    dropin = os.path.join(etc, "systemd/system/keel.service.d")
    os.makedirs(dropin, exist_ok=True)
    with open(os.path.join(dropin, "test.conf"), "w") as f:
        f.write(DROPIN)


def scenario(t, machine, dovecot):
    state = machine.boot()
    t.check("systemd boots as PID 1 in the container (%s)" % state,
            state in ("running", "degraded"), machine.boot_log())
    start = time.monotonic()
    r = machine.run("systemctl", "enable", "--now", "keel", timeout=120)
    took = time.monotonic() - start
    props = machine.show("keel", "ActiveState", "SubState", "StatusText", "Type")
    if not t.check("systemctl enable --now keel (%.1f s, Type=%s): active" % (took, props.get("Type")),
                   r.returncode == 0 and props.get("ActiveState") == "active",
                   r.stderr + json.dumps(props) + machine.journal("keel")):
        return
    text = wait_for(lambda: "2 messages today" in machine.show("keel", "StatusText")
                    ["StatusText"] and machine.show("keel", "StatusText")["StatusText"], 60)
    t.check("STATUS after the first poll: %r" % text, bool(text), machine.journal("keel"))
    t.check("both messages stored", stored(machine.root) == 2, machine.journal("keel"))
    mode = stat.S_IMODE(os.stat(os.path.join(machine.root, "var/lib/keel/keel.db")).st_mode)
    t.check("database is 0%o (0600 wanted)" % mode, mode == 0o600)
    r = machine.run("systemctl", "reload", "keel")
    reloaded = wait_for(lambda: "config reloaded from" in machine.journal("keel"), 30)
    t.check("systemctl reload keel: config read again", r.returncode == 0 and reloaded,
            r.stderr + machine.journal("keel"))
    dovecot.append("alice", "INBOX", make_message(3))
    t.check("new mail polled after the reload (IDLE)",
            wait_for(lambda: stored(machine.root) == 3, 60), machine.journal("keel"))
    time.sleep(25)  # WatchdogSec=20: a keel that stopped pinging would be restarted
    props = machine.show("keel", "NRestarts", "ActiveState", "WatchdogTimestamp")
    t.check("no watchdog restart in 25 s with WatchdogSec=20 (NRestarts=%s)"
            % props.get("NRestarts"), props.get("NRestarts") == "0"
            and props.get("ActiveState") == "active", json.dumps(props))
    start = time.monotonic()
    r = machine.run("systemctl", "stop", "keel")
    took = time.monotonic() - start
    props = machine.show("keel", "ActiveState", "Result", "ExecMainStatus")
    t.check("systemctl stop keel (%.1f s): exit 0" % took, r.returncode == 0
            and props.get("Result") == "success" and props.get("ExecMainStatus") == "0",
            json.dumps(props) + machine.journal("keel"))
    print("# journal of keel.service:", flush=True)
    for line in machine.journal("keel").splitlines()[-25:]:
        print("#   " + line, flush=True)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    build = sys.argv[1]
    if os.geteuid() != 0:
        skip("needs root")
    if not shutil.which("systemd-nspawn") or not shutil.which("nsenter"):
        skip("no systemd-nspawn (apt-get install systemd-container)")
    options = build_options(build)
    if options.get("prefix") != "/usr" or options.get("sysconfdir") not in ("/etc", "etc"):
        skip("%s is not configured with --prefix=/usr --sysconfdir=/etc" % build)
    base = tempfile.mkdtemp(prefix="keel-boot-")
    try:
        machine = Machine(base)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(base, ignore_errors=True)
        skip("cannot overlay / : %s" % e.stderr.decode().strip())
    t = Cases()
    dovecot = Dovecot({"alice": "alicepw"})
    try:
        dovecot.start()
        dovecot.seed("alice", "INBOX", [make_message(1), make_message(2)])
        install(build, machine, dovecot)
        scenario(t, machine, dovecot)
    finally:
        machine.close()
        dovecot.close()
    print("1..%d" % t.n)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
