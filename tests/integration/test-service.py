#!/usr/bin/python3
"""tests/integration/test-service.py: `keel daemon` as systemd sees it, against
a real Dovecot (harness.py) and, for replies, the SMTP sink (smtp_sink.py,
through test-smtp.py's Setup).

Every case reads the sd_notify datagrams keel sends to a unix datagram socket
of its own, set as NOTIFY_SOCKET (with WATCHDOG_USEC, so keel pings):
- notify order: READY, STATUS, WATCHDOG, RELOADING, READY again, STOPPING;
  the STATUS line counts accounts and today's messages and names a failing
  account ("account work: login failed, retry in N s");
- SIGHUP with a broken rule file keeps the old rules (a new message is still
  scored by a rule only the old set has); SIGHUP with a broken config (a
  duplicate key) keeps the old config; a good change (a new watched folder)
  is taken; the rules loading beside the first sync (issue 19) still score
  every message, and a broken rule file at start is still reported;
- SIGTERM in the middle of a first cycle of a few hundred messages (auto
  mode, replies going out): after a restart every message is stored exactly
  once and no reply reached the sink twice;
- a stuck poll (a server that accepts and never answers, with a short stall
  bound: KEEL_TEST_STALL_SECONDS) withholds WATCHDOG=1; a daemon polling a
  healthy server with the same bound keeps pinging.
Needs root, dovecot-imapd, python3-aiosmtpd, openssl; KEEL_BIN names keel.

Usage: /usr/bin/python3 test-service.py [NAME-FRAGMENT...]"""

import importlib.util
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import account as base_account, db_rows, dovecot_main, Dovecot, KeelRun, StallServer, Tap, ThrottleProxy, make_message  # noqa: E402

USERS = {"u%d" % i: "pw-u%d" % i for i in range(1, 11)}
SERVER = None
_next_user = [0]
TIMINGS = []  # lines for the report, printed as TAP comments at the end
# Waits are multiplied by this (an ASan+UBSan build loads the rules ~30x slower).
SLOW = float(os.environ.get("KEEL_TEST_TIMEOUT_FACTOR", "1"))


def account(server, user, name="work", **extra):
    """harness.account() with IDLE off unless a case turns it on."""
    return base_account(server, user, name, **{"idle": False, **extra})


def new_user():
    _next_user[0] += 1
    return "u%d" % _next_user[0]


class Notify:
    """A unix datagram socket for NOTIFY_SOCKET; a thread keeps every datagram
    as (monotonic time, [lines])."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="keel-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.got = []
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.got.append((time.monotonic(), data.decode().strip().split("\n")))

    def keys(self, since=0.0):
        """The first key of each datagram received after `since`."""
        return [lines[0].split("=", 1)[0] for at, lines in list(self.got) if at >= since]

    def values(self, key, since=0.0):
        return [lines[0].split("=", 1)[1] for at, lines in list(self.got)
                if at >= since and lines[0].startswith(key + "=")]

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; got %s" % (what, self.keys()))

    def close(self):
        self.closed = True
        self.thread.join()
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """`keel daemon` with NOTIFY_SOCKET and WATCHDOG_USEC, its log in a file
    (a pipe could fill up and block keel)."""

    def __init__(self, run, watchdog_usec=400000, env=None):
        self.run = run
        self.notify = Notify()
        self.log_path = os.path.join(run.dir, "daemon-%d.log" % time.monotonic_ns())
        self.log_file = open(self.log_path, "w")
        full_env = dict(os.environ, NOTIFY_SOCKET=self.notify.path,
                        WATCHDOG_USEC=str(watchdog_usec), **(env or {}))
        full_env.pop("WATCHDOG_PID", None)
        self.proc = subprocess.Popen([run.bin, "daemon", "--config", run.config], env=full_env,
                                     stdout=subprocess.DEVNULL, stderr=self.log_file)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM; returns (rc, seconds it took)."""
        timeout *= SLOW
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        return rc, time.monotonic() - start

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        self.notify.close()


def wait_rows(run, sql, expect, timeout, what):
    deadline = time.monotonic() + timeout
    rows = None
    while time.monotonic() < deadline:
        try:
            rows = db_rows(run, sql)
            if rows == expect:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    raise AssertionError("%s: %r, expected %r" % (what, rows, expect))


def first_index(keys, key, after=-1):
    for i in range(after + 1, len(keys)):
        if keys[i] == key:
            return i
    raise AssertionError("no %s after position %d in %s" % (key, after, keys))


def test_notify_order_ready_status_watchdog_reloading_stopping():
    user = new_user()
    SERVER.seed(user, "INBOX", [make_message(i) for i in range(1, 4)])
    run = KeelRun()
    run.write_config([account(SERVER, user, poll_interval=10)])
    run.status()
    d = Daemon(run)
    try:
        d.notify.wait(lambda: any("3 messages today" in v for v in d.notify.values("STATUS")),
                      30, "STATUS with 3 messages today")
        d.notify.wait(lambda: d.notify.keys().count("WATCHDOG") >= 2, 10, "two WATCHDOG=1")
        d.signal(signal.SIGHUP)
        d.notify.wait(lambda: "RELOADING" in d.notify.keys()
                      and d.notify.keys()[first_index(d.notify.keys(), "RELOADING"):].count(
                          "READY") >= 1, 30, "READY=1 after RELOADING=1")
        rc, took = d.stop()
        assert rc == 0, (rc, d.log()[-2000:])
        d.notify.wait(lambda: "STOPPING" in d.notify.keys(), 5, "STOPPING=1")
        time.sleep(0.3)
        keys = d.notify.keys()
        ready = first_index(keys, "READY")
        status = first_index(keys, "STATUS", ready)
        ping = first_index(keys, "WATCHDOG", status)
        reloading = first_index(keys, "RELOADING", ping)
        ready_again = first_index(keys, "READY", reloading)
        stopping = first_index(keys, "STOPPING", ready_again)
        assert keys[0] == "READY", keys
        assert keys.count("STOPPING") == 1, keys
        assert all(k == "WATCHDOG" for k in keys[stopping + 1:]), keys  # nothing but pings after
        reload_lines = [lines for _, lines in d.notify.got if lines[0] == "RELOADING=1"][0]
        assert reload_lines[1].startswith("MONOTONIC_USEC="), reload_lines
        statuses = d.notify.values("STATUS")
        assert all("polling 1 account" in s for s in statuses), statuses
        order = [keys[i] for i in (ready, status, ping, reloading, ready_again, stopping)]
        TIMINGS.append("notify order seen: %s (first positions %s of %d datagrams)"
                       % (", ".join(order), [ready, status, ping, reloading, ready_again,
                                             stopping], len(keys)))
        TIMINGS.append("STATUS lines: %s" % " | ".join(dict.fromkeys(statuses)))
    finally:
        d.close()


def test_status_names_a_failing_account():
    user = new_user()
    run = KeelRun()
    acc = account(SERVER, user)
    acc["password"] = "wrong"
    run.write_config([acc])
    run.status()
    d = Daemon(run)
    try:
        d.notify.wait(lambda: any("login failed, retry in" in v
                                  for v in d.notify.values("STATUS")), 30, "a login failure")
        text = [v for v in d.notify.values("STATUS") if "login failed" in v][0]
        assert re.search(r"; account work: login failed, retry in \d+ s$", text), text
        assert "wrong" not in text, text
        assert d.stop()[0] == 0
    finally:
        d.close()


MARKER_RULE = """# service-test.rules: a rule only this test uses
rule service_marker
  look   text /\\bzebracorn\\b/i
  adds   tone +1
  why    The test's marker word
"""
BROKEN_RULE = """# service-test.rules: the marker rule gone, and a broken line
rule service_other
  look   text /\\bunicornzebra\\b/i
  adds   tone +1
  why    Another word
rule broken
  look   text /(unclosed/
  adds   nosuchdimension +
"""


def marker_mail(n, folder_note=""):
    return make_message(9000 + n, subject="Zebracorn %d%s" % (n, folder_note),
                        msgid="marker-%d@acme.example" % n, body_lines=1).replace(
        b"Line 0 of message", b"The zebracorn is back. Line 0 of message")


def hits(run, msgid):
    return [r[0] for r in db_rows(run, "SELECT h.rule FROM rule_hits h JOIN messages m ON"
                                  " m.id = h.message_id WHERE m.message_id = ?", msgid)]


def stored_ids(run):
    return {r[0] for r in db_rows(run, "SELECT message_id FROM messages")}


def wait_stored(run, msgid, timeout=30):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if msgid in stored_ids(run):
            return
        time.sleep(0.2)
    raise AssertionError("%s never stored" % msgid)


def reload_and_wait(d, timeout=30):
    since = time.monotonic()
    d.signal(signal.SIGHUP)
    d.notify.wait(lambda: "READY" in d.notify.keys(since)[
        d.notify.keys(since).index("RELOADING") if "RELOADING" in d.notify.keys(since) else 0:]
        and "RELOADING" in d.notify.keys(since), timeout, "READY=1 after the reload")


def test_sighup_bad_rules_or_bad_config_keep_the_old_good_config_is_taken():
    user = new_user()
    run = KeelRun()
    rules = os.path.join(run.dir, "rules")
    shutil.copytree(os.path.join(run.source_root, "rules"), rules)
    with open(os.path.join(rules, "service-test.rules"), "w") as f:
        f.write(MARKER_RULE)
    SERVER.seed(user, "Other", [make_message(500, msgid="other-0@acme.example")])
    good = account(SERVER, user, poll_interval=10, idle=True)  # IDLE: new mail at once
    run.write_config([good])
    with open(run.config) as f:
        text = f.read().replace("rules = " + os.path.join(run.source_root, "rules"),
                                "rules = " + rules)
    with open(run.config, "w") as f:
        f.write(text)
    run.status()
    d = Daemon(run)
    try:
        SERVER.append(user, "INBOX", marker_mail(1))
        wait_stored(run, "marker-1@acme.example")
        assert "service_marker" in hits(run, "marker-1@acme.example"), "the marker rule is off"
        # (1) a broken rule file: refused whole, the old set stays
        with open(os.path.join(rules, "service-test.rules"), "w") as f:
            f.write(BROKEN_RULE)
        reload_and_wait(d)
        SERVER.append(user, "INBOX", marker_mail(2))
        wait_stored(run, "marker-2@acme.example")
        assert "service_marker" in hits(run, "marker-2@acme.example"), \
            "scored without the old rules: %s" % hits(run, "marker-2@acme.example")
        assert "rules in %s refused" % rules in d.log(), d.log()[-2000:]
        # (2) a config with a duplicate key and a new folder: refused, INBOX only
        with open(run.config) as f:
            old_text = f.read()
        broken = old_text.replace("folders = INBOX", "folders = INBOX;Other\npoll_interval = 10")
        with open(run.config, "w") as f:
            f.write(broken)
        reload_and_wait(d)
        assert "config refused, the config in force stays" in d.log(), d.log()[-2000:]
        SERVER.append(user, "INBOX", marker_mail(3))
        wait_stored(run, "marker-3@acme.example")  # a cycle after the refused config
        assert "other-0@acme.example" not in stored_ids(run), "the refused config was taken"
        # (3) a good config: the new folder is polled
        with open(run.config, "w") as f:
            f.write(old_text.replace("folders = INBOX", "folders = INBOX;Other"))
        reload_and_wait(d)
        wait_stored(run, "other-0@acme.example")
        assert "config reloaded from" in d.log(), d.log()[-2000:]
        SERVER.append(user, "INBOX", marker_mail(4))
        wait_stored(run, "marker-4@acme.example")
        assert "service_marker" in hits(run, "marker-4@acme.example"), "rules lost on reload"
        assert d.stop()[0] == 0
    finally:
        d.close()


def test_rules_at_start_load_beside_the_first_sync_a_broken_one_is_still_refused():
    """The rules load on a thread of their own while the store opens and the
    first cycle logs in and fetches (issue 19); the cycle waits for them
    before its first verdict. 30 new messages (fetched in ranges, the
    overlapped path): with good rules every one is scored, the marker rule
    hit; with a broken rule file at start keel still says which file and
    line and that no rules are in force, and stores the mail unscored."""
    for broken in (False, True):
        user = new_user()
        run = KeelRun()
        rules = os.path.join(run.dir, "rules")
        shutil.copytree(os.path.join(run.source_root, "rules"), rules)
        with open(os.path.join(rules, "service-test.rules"), "w") as f:
            f.write(BROKEN_RULE if broken else MARKER_RULE)
        SERVER.seed(user, "INBOX", [marker_mail(100 + i) for i in range(30)])
        run.write_config([account(SERVER, user)])
        with open(run.config) as f:
            text = f.read().replace("rules = " + os.path.join(run.source_root, "rules"),
                                    "rules = " + rules)
        with open(run.config, "w") as f:
            f.write(text)
        proc = run.run("daemon", "--once", timeout=120 * SLOW)
        assert proc.returncode == 0, proc.stderr[-2000:]
        rows = db_rows(run, "SELECT count(*), sum(scored) FROM messages")
        assert rows[0][0] == 30, rows
        if broken:
            assert "rules in %s refused" % rules in proc.stderr, proc.stderr[-2000:]
            assert "service-test.rules:" in proc.stderr, proc.stderr[-2000:]
            assert "no rules in force" in proc.stderr, proc.stderr[-2000:]
            assert rows[0][1] == 0, "scored without rules: %r" % rows
        else:
            assert "rules loaded from %s" % rules in proc.stderr, proc.stderr[-2000:]
            assert rows[0][1] == 30, "not every message scored: %r" % rows
            assert "service_marker" in hits(run, "marker-100@acme.example")
        run.close()


def _load_test_smtp():
    spec = importlib.util.spec_from_file_location("test_smtp", os.path.join(HERE, "test-smtp.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sigterm_mid_cycle_loses_nothing_and_sends_nothing_twice():
    smtp = _load_test_smtp()
    total = 300
    s = smtp.Setup("auto", extra="[replies]\nper_client_per_day = 50\n")
    proxy = None
    try:
        s.keel_ok("daemon", "--once")  # first sync of the empty INBOX: later mail is answered
        mails = []
        for i in range(total):
            body = ("Hi Bob,\r\n\r\nCould you book the meeting room %d for Monday at 10am, "
                    "please?\r\n" % i) + "Some detail about the booking.\r\n" * 40 + "\r\nSam"
            mails.append(smtp.client_mail("bulk-%d@acme.example" % i, "Room booking %d" % i,
                                          body))
        s.dovecot.seed("bob", "INBOX", mails)
        proxy = ThrottleProxy(s.dovecot.imaps_port, delay=0.002)
        with open(s.keel.config) as f:
            direct = f.read()
        with open(s.keel.config, "w") as f:
            f.write(direct.replace(s.dovecot.url("imaps"), "imaps://127.0.0.1:%d" % proxy.port))
        d = Daemon(s.keel)
        count = "SELECT COUNT(*) FROM messages WHERE message_id LIKE 'bulk-%'"
        try:
            start = time.monotonic()
            deadline = start + 120
            stored = 0
            while time.monotonic() < deadline and stored < 40:
                try:
                    stored = db_rows(s.keel, count)[0][0]
                except sqlite3.Error:
                    pass
                time.sleep(0.05)
            killed_at = time.monotonic() - start
            rc, took = d.stop()
            assert rc == 0, (rc, d.log()[-2000:])
            at_stop = db_rows(s.keel, count)[0][0]
            assert at_stop < total, "the cycle ended before SIGTERM: the test proves nothing"
            assert took < 10, "stopping took %.1f s" % took
        finally:
            d.close()
        sent_before = len(s.sink.delivered())
        with open(s.keel.config, "w") as f:
            f.write(direct)
        s.keel_ok("daemon", "--once")
        s.keel_ok("daemon", "--once")  # the outbox's retries, if any were due
        rows = db_rows(s.keel, "SELECT COUNT(*), COUNT(DISTINCT message_id) FROM messages"
                       " WHERE message_id LIKE 'bulk-%'")
        assert rows == [(total, total)], rows
        delivered = s.sink.delivered()
        replies = [m["In-Reply-To"] for m, _, _ in delivered if m["In-Reply-To"]]
        ids = [m["Message-ID"] for m, _, _ in delivered]
        assert len(replies) == len(set(replies)), "a reply went out twice: %s" % replies
        assert len(ids) == len(set(ids)), ids
        assert replies, "no reply at all: the test checks nothing about replies"
        uncertain = db_rows(s.keel, "SELECT COUNT(*) FROM outbox WHERE state = 'uncertain'")
        TIMINGS.append("SIGTERM test: %d messages seeded, SIGTERM %.1f s after start with %d "
                       "stored (%d at exit, keel exited in %.2f s, %d replies delivered by "
                       "then); after restart %d stored, %d distinct; %d replies delivered, "
                       "%d distinct In-Reply-To; uncertain rows %d"
                       % (total, killed_at, stored, at_stop, took, sent_before, rows[0][0],
                          rows[0][1], len(replies), len(set(replies)), uncertain[0][0]))
    finally:
        if proxy:
            proxy.close()
        s.close()


def test_watchdog_withheld_while_a_poll_is_stuck():
    stall_env = {"KEEL_TEST_STALL_SECONDS": "2"}
    with StallServer() as stall:
        run = KeelRun()
        run.write_config([{"name": "stuck", "imap": "imap://127.0.0.1:%d" % stall.port,
                           "user": "x", "password": "y", "allow_plaintext": True,
                           "connect_timeout": 60, "read_timeout": 60, "idle": False}])
        run.status()
        d = Daemon(run, watchdog_usec=500000, env=stall_env)
        try:
            d.notify.wait(lambda: any("poll stuck" in v for v in d.notify.values("STATUS")),
                          15, "STATUS saying the poll is stuck")
            since = time.monotonic()
            time.sleep(4)
            pings = d.notify.keys(since).count("WATCHDOG")
            assert pings == 0, "%d pings while the poll was stuck" % pings
            assert "watchdog ping withheld" in d.log(), d.log()[-2000:]
            text = [v for v in d.notify.values("STATUS") if "poll stuck" in v][0]
            assert "account stuck: poll stuck, no progress for" in text, text
            rc, took = d.stop()
            assert rc == 0 and took < 10, (rc, took)
            TIMINGS.append("stuck poll: STATUS %r; 0 pings in 4 s; SIGTERM took %.2f s"
                           % (text, took))
        finally:
            d.close()
    # the same bound with a healthy server: pings go on
    user = new_user()
    SERVER.seed(user, "INBOX", [make_message(1)])
    run = KeelRun()
    run.write_config([account(SERVER, user, poll_interval=10)])
    run.status()
    d = Daemon(run, watchdog_usec=500000, env=stall_env)
    try:
        d.notify.wait(lambda: "WATCHDOG" in d.notify.keys(), 15, "a first ping")
        since = time.monotonic()
        time.sleep(4)
        pings = d.notify.keys(since).count("WATCHDOG")
        assert pings >= 6, "only %d pings in 4 s from a healthy keel" % pings
        assert not any("stuck" in v for v in d.notify.values("STATUS")), \
            d.notify.values("STATUS")
        assert d.stop()[0] == 0
        TIMINGS.append("healthy keel, same 2 s bound: %d pings in 4 s" % pings)
    finally:
        d.close()


CASES = [
    test_notify_order_ready_status_watchdog_reloading_stopping,
    test_status_names_a_failing_account,
    test_sighup_bad_rules_or_bad_config_keep_the_old_good_config_is_taken,
    test_rules_at_start_load_beside_the_first_sync_a_broken_one_is_still_refused,
    test_sigterm_mid_cycle_loses_nothing_and_sends_nothing_twice,
    test_watchdog_withheld_while_a_poll_is_stuck,
]


def print_timings():
    for line in TIMINGS:
        print("# " + line, flush=True)


def main():
    return dovecot_main(sys.modules[__name__], USERS, CASES, after=print_timings)


if __name__ == "__main__":
    sys.exit(main())
