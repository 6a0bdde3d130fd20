#!/usr/bin/python3
"""tests/integration/test-imap.py: `keel daemon` and `keel status` against a
real Dovecot (started here, from a temp dir, on 127.0.0.1) and against fake
servers that stall, lack STARTTLS or die mid-fetch. Prints TAP, one line per
case. Needs root (Maildirs are chowned to the mail uid), dovecot-imapd and
openssl; KEEL_BIN names the keel binary.

Usage: /usr/bin/python3 test-imap.py [NAME-FRAGMENT...]"""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (account, db_rows, dovecot_main, CutAfterExamineProxy, Dovecot, KeelRun, NoTlsServer,  # noqa: E402
                     StallServer, Tap, ThrottleProxy, folder_state, make_message)

USERS = {"u%d" % i: "pw-u%d" % i for i in range(1, 41)}
SERVER = None  # one Dovecot shared by the cases that do not restart it
_next_user = [0]


def new_user():
    _next_user[0] += 1
    return "u%d" % _next_user[0]


def once(run, expect=0):
    proc = run.run("daemon", "--once")
    assert proc.returncode == expect, "keel daemon --once: rc %d, expected %d\n%s" % (
        proc.returncode, expect, proc.stderr[-3000:])
    return proc


def stored(run, folder):
    """(uid, first_sync, direction) of every message stored from `folder`."""
    return db_rows(run, "SELECT m.uid, m.first_sync, m.direction FROM messages m JOIN folders f"
                   " ON f.id = m.folder_id WHERE f.name = ? ORDER BY m.uid", folder)


def messages(n, first=1, **kw):
    return [make_message(i, **kw) for i in range(first, first + n)]


def test_first_sync_of_a_seeded_folder():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(5))
    SERVER.seed(user, "Sent", messages(2, first=100, sender="%s@va.example" % user))
    SERVER.seed(user, "Client Work", messages(1, first=200))   # a name that needs quoting
    run = KeelRun()
    run.write_config([account(SERVER, user, folders=["INBOX", "Client Work"])])
    once(run)
    status = run.status()
    assert folder_state(status, "work", "Client Work")["messages"] == 1, status
    inbox, sent = folder_state(status, "work", "INBOX"), folder_state(status, "work", "Sent")
    assert inbox and inbox["messages"] == 5 and inbox["last_uid"] == 5, inbox
    assert sent and sent["messages"] == 2 and sent["last_uid"] == 2, sent
    assert inbox["uidvalidity"] > 0, inbox
    acc = status["accounts"][0]
    assert acc["last_poll"] and acc["last_error"] is None, acc
    assert stored(run, "INBOX") == [(i, 1, "in") for i in range(1, 6)], stored(run, "INBOX")
    assert stored(run, "Sent") == [(1, 1, "out"), (2, 1, "out")], stored(run, "Sent")


def test_incremental_sync_after_append():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(3))
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    once(run)
    SERVER.append(user, "INBOX", make_message(4))
    SERVER.append(user, "INBOX", make_message(5), flags="(\\Seen)")
    proc = once(run)
    assert "2 new" in proc.stderr, proc.stderr
    inbox = folder_state(run.status(), "work", "INBOX")
    assert inbox["messages"] == 5 and inbox["last_uid"] == 5, inbox
    # mail that was there before keel first looked is never answered; new mail may be
    assert [r[1] for r in stored(run, "INBOX")] == [1, 1, 1, 0, 0], stored(run, "INBOX")


def test_unchanged_mailbox_costs_one_status_per_folder():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(3))
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    once(run)
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr
    sent = re.findall(r"> \S+ (\S+)", proc.stderr)
    # INBOX, Sent and the two correction folders (keel/Risky, keel/Fine)
    assert [c for c in sent if c == "STATUS"] == ["STATUS"] * 4, sent
    assert not [c for c in sent if c in ("UID", "EXAMINE", "SELECT", "NOOP")], sent
    assert "0 new" in proc.stderr, proc.stderr


def test_fetched_messages_keep_their_flags():
    user = new_user()
    seeded = [make_message(1), (make_message(2), ""), (make_message(3), "S"),
              (make_message(4), "F"), (make_message(5), "RS"), make_message(6)]
    SERVER.seed(user, "INBOX", seeded)
    before = SERVER.flags(user)
    assert "\\Seen" not in before[1] and "\\Seen" in before[3], before
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    once(run)
    assert folder_state(run.status(), "work", "INBOX")["messages"] == 6
    after = SERVER.flags(user)
    assert after == before, "flags changed: %r -> %r" % (before, after)


def test_reconnect_after_examine_never_fetches_read_write():
    """libcurl reconnects on its own and SELECTs read-write; keel's guard must
    refuse that fetch, so nothing is marked \\Seen."""
    user = new_user()
    SERVER.seed(user, "INBOX", messages(3))
    before = SERVER.flags(user)
    with CutAfterExamineProxy(SERVER.imap_port) as proxy:
        run = KeelRun()
        run.write_config([account(SERVER, user, imap="imap://127.0.0.1:%d" % proxy.port,
                                  allow_plaintext=True)])
        proc = once(run, expect=75)
        assert "re-opened read-write" in proc.stderr, proc.stderr
        assert proxy.connections == 2, proxy.connections
        assert SERVER.flags(user) == before, "a message was marked read"
        once(run)
    assert folder_state(run.status(), "work", "INBOX")["messages"] == 3
    assert SERVER.flags(user) == before


def test_uidvalidity_change_stores_only_the_new_message():
    user = new_user()
    SERVER.seed(user, "Clients", messages(4))
    run = KeelRun()
    run.write_config([account(SERVER, user, folders=["INBOX", "Clients"])])
    once(run)
    old = folder_state(run.status(), "work", "Clients")
    assert old["messages"] == 4, old
    conn = SERVER.client(user)
    try:
        assert conn.delete("Clients")[0] == "OK"
        assert conn.create("Clients")[0] == "OK"
    finally:
        conn.logout()
    for raw in messages(4) + [make_message(99)]:
        SERVER.append(user, "Clients", raw)
    proc = once(run)
    new = folder_state(run.status(), "work", "Clients")
    assert new["uidvalidity"] != old["uidvalidity"] and new["uidvalidity"] > 0, (old, new)
    assert new["messages"] == 5 and new["last_uid"] == 5, new
    assert "1 new, 4 already stored" in proc.stderr, proc.stderr
    new = db_rows(run, "SELECT uid, first_sync FROM messages WHERE message_id = ?",
                  "keel-test-99@acme.example")
    assert new == [(5, 1)], new   # found by a re-scan: stored, never answered


def test_server_killed_mid_fetch_then_next_cycle_completes():
    total = 300
    with Dovecot(USERS) as server:
        server.start()
        server.seed("u1", "INBOX", messages(total, body_lines=100))
        with ThrottleProxy(server.imaps_port, delay=0.004) as proxy:
            run = KeelRun()
            acc = account(server, "u1", read_timeout=5)
            acc["imap"] = "imaps://127.0.0.1:%d" % proxy.port
            run.write_config([acc])
            run.status()  # creates the database before two processes open it
            keel = run.spawn("daemon", "--once")
            deadline = time.monotonic() + 60
            last = 0
            while time.monotonic() < deadline and keel.poll() is None:
                state = folder_state(run.status(), "work", "INBOX")
                last = state["last_uid"] if state else 0
                if last >= 20:
                    break
                time.sleep(0.1)
            assert 20 <= last < total, "could not catch keel mid-fetch (last UID %d)" % last
            server.kill()
            t0 = time.monotonic()
            _, err = keel.communicate(timeout=30)
            print("# keel exited %.1f s after the kill" % (time.monotonic() - t0))
            assert keel.returncode == 75, "rc %d after the kill\n%s" % (keel.returncode, err[-2000:])
            server.start()
            run.write_config([account(server, "u1", read_timeout=5)])
            once(run)
        status = run.status()
        inbox = folder_state(status, "work", "INBOX")
        assert inbox["messages"] == total and inbox["last_uid"] == total, inbox
        assert status["accounts"][0]["last_error"] is None, status
        rows = stored(run, "INBOX")
        assert [r[0] for r in rows] == list(range(1, total + 1)), "a UID missing or stored twice"
        assert all(r[1] == 1 for r in rows), "an interrupted first sync must stay a first sync"
        assert db_rows(run, "SELECT COUNT(DISTINCT message_id), COUNT(*) FROM messages") == \
            [(total, total)]


def test_silent_server_fails_within_the_timeout():
    with StallServer() as stall:
        run = KeelRun()
        run.write_config([{"name": "stuck", "imap": "imaps://127.0.0.1:%d" % stall.port,
                           "user": "x", "password": "y", "connect_timeout": 2,
                           "read_timeout": 2}])
        proc = once(run, expect=75)
        assert proc.elapsed < 10, "took %.1f s" % proc.elapsed
        assert "stuck" in proc.stderr, proc.stderr
        acc = run.status()["accounts"][0]
        assert acc["last_error"] and acc["last_poll"] is None, acc


def test_server_stalling_mid_fetch_fails_within_the_read_timeout():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(200, body_lines=100))
    # slow enough that the network, not storing, is what keel waits for: a
    # range fetch (issue 19) reads 200 messages faster than keel stores them
    with ThrottleProxy(SERVER.imaps_port, delay=0.03) as proxy:
        run = KeelRun()
        run.write_config([account(SERVER, user, imap="imaps://127.0.0.1:%d" % proxy.port,
                                  read_timeout=3)])
        run.status()
        keel = run.spawn("daemon", "--once")
        deadline = time.monotonic() + 60
        last = 0
        while time.monotonic() < deadline and last < 10 and keel.poll() is None:
            state = folder_state(run.status(), "work", "INBOX")
            last = state["last_uid"] if state else 0
            time.sleep(0.1)
        proxy.paused = True
        start = time.monotonic()
        _, err = keel.communicate(timeout=30)
        waited = time.monotonic() - start
        proxy.paused = False
    assert keel.returncode == 75, "rc %d\n%s" % (keel.returncode, err[-2000:])
    assert waited < 12, "keel hung %.1f s on a stalled server (read_timeout 3)" % waited
    assert re.search(r"account 'work' folder 'INBOX'.*(in time|Operation too slow)", err), err[-2000:]
    state = folder_state(run.status(), "work", "INBOX")
    assert 10 <= state["last_uid"] < 200, state


def test_wrong_password_is_a_clear_error():
    user = new_user()
    run = KeelRun()
    acc = account(SERVER, user, name="typo")
    acc["password"] = "not-the-password"
    run.write_config([acc])
    proc = once(run, expect=75)
    assert re.search(r"account 'typo'.*login denied", proc.stderr), proc.stderr
    assert "not-the-password" not in proc.stderr
    acc = run.status()["accounts"][0]
    assert "login denied" in acc["last_error"], acc


def test_wrong_password_not_hammered_by_the_daemon():
    user = new_user()
    run = KeelRun()
    acc = account(SERVER, user, name="typo", poll_interval=10)
    acc["password"] = "not-the-password"
    run.write_config([acc])
    run.status()
    keel = run.spawn("daemon")
    try:
        time.sleep(12)  # longer than poll_interval: a naive loop would have retried
        assert keel.poll() is None, "daemon exited"
    finally:
        keel.send_signal(signal.SIGTERM)
        _, err = keel.communicate(timeout=15)
    failures = [l for l in SERVER.log().splitlines()
                if "user=<%s>" % user in l and "auth failed" in l]
    assert len(failures) == 1, failures
    match = re.search(r"account 'typo'.*login denied.*next attempt in (\d+) s", err)
    assert match and 1620 <= int(match.group(1)) <= 1980, err   # the 30 min cap, +-10 %


def test_untrusted_certificate_refused_unless_ca_file():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(1))
    run = KeelRun()
    acc = account(SERVER, user)
    del acc["ca_file"]
    run.write_config([acc])
    proc = once(run, expect=75)
    assert "certificate does not verify" in proc.stderr, proc.stderr
    assert folder_state(run.status(), "work", "INBOX") is None or \
        folder_state(run.status(), "work", "INBOX")["messages"] == 0
    run.write_config([account(SERVER, user)])
    once(run)
    assert folder_state(run.status(), "work", "INBOX")["messages"] == 1


def test_plaintext_refused_by_default_starttls_used():
    with NoTlsServer() as fake:
        run = KeelRun()
        run.write_config([{"name": "plain", "imap": "imap://127.0.0.1:%d" % fake.port,
                           "user": "x", "password": "secret", "connect_timeout": 3,
                           "read_timeout": 3}])
        proc = once(run, expect=75)
        assert "STARTTLS" in proc.stderr, proc.stderr
        assert not fake.secrets_seen, "keel sent credentials over a plaintext connection"
    user = new_user()
    SERVER.seed(user, "INBOX", messages(2))
    run = KeelRun()
    run.write_config([account(SERVER, user, imap=SERVER.url("imap"))])   # imap:// + STARTTLS
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert "STARTTLS" in proc.stderr, proc.stderr
    assert folder_state(run.status(), "work", "INBOX")["messages"] == 2


def test_two_accounts_one_broken_the_other_polled():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(2))
    with StallServer() as stall:
        run = KeelRun()
        broken = {"name": "broken", "imap": "imaps://127.0.0.1:%d" % stall.port, "user": "x",
                  "password": "y", "connect_timeout": 8, "read_timeout": 8}
        run.write_config([broken, account(SERVER, user, name="good", poll_interval=10)])
        run.status()  # creates the database before two processes open it
        keel = run.spawn("daemon")
        start = time.monotonic()
        try:
            good = None
            while time.monotonic() - start < 6 and not good:
                acc = [a for a in run.status()["accounts"] if a["name"] == "good"][0]
                good = acc["last_poll"]
                time.sleep(0.2)
            waited = time.monotonic() - start
            assert good, "the good account was not polled while the other one hung"
            assert waited < 6, "good account polled only after %.1f s" % waited
            assert keel.poll() is None, "daemon exited: %s" % keel.stderr.read()
        finally:
            keel.send_signal(signal.SIGTERM)
            _, err = keel.communicate(timeout=15)
        assert time.monotonic() - start < 12, "SIGTERM took too long"
        assert keel.returncode == 0, "rc %d after SIGTERM\n%s" % (keel.returncode, err[-2000:])
        inbox = folder_state(run.status(), "good", "INBOX")
        assert inbox["messages"] == 2, inbox


def test_two_accounts_synced_at_once_share_the_store():
    users = [new_user(), new_user()]
    for k, user in enumerate(users):
        SERVER.seed(user, "INBOX", messages(150, first=1000 * (k + 1)))
    run = KeelRun()
    run.write_config([account(SERVER, users[0], name="one"), account(SERVER, users[1], name="two")])
    once(run)
    status = run.status()
    for name in ("one", "two"):
        state = folder_state(status, name, "INBOX")
        assert state["messages"] == 150 and state["last_uid"] == 150, (name, state)
    assert db_rows(run, "SELECT COUNT(*) FROM messages") == [(300,)]


def test_sigterm_mid_fetch_exits_0_and_loses_nothing():
    user = new_user()
    total = 200
    SERVER.seed(user, "INBOX", messages(total, body_lines=100))
    # slow enough that the fetch is still running when the first batch is
    # committed and the SIGTERM comes (keel fetches and stores on two threads)
    with ThrottleProxy(SERVER.imaps_port, delay=0.012) as proxy:
        run = KeelRun()
        acc = account(SERVER, user)
        acc["imap"] = "imaps://127.0.0.1:%d" % proxy.port
        run.write_config([acc])
        run.status()  # creates the database before two processes open it
        keel = run.spawn("daemon")
        deadline = time.monotonic() + 60
        last = 0
        while time.monotonic() < deadline and last < 10:
            state = folder_state(run.status(), "work", "INBOX")
            last = state["last_uid"] if state else 0
            time.sleep(0.1)
        keel.send_signal(signal.SIGTERM)
        start = time.monotonic()
        _, err = keel.communicate(timeout=20)
        assert keel.returncode == 0, "rc %d\n%s" % (keel.returncode, err[-2000:])
        assert time.monotonic() - start < 5, "stopping took %.1f s" % (time.monotonic() - start)
    state = folder_state(run.status(), "work", "INBOX")
    assert state["last_uid"] < total, "keel finished before the signal: test proves nothing"
    run.write_config([account(SERVER, user)])
    once(run)
    state = folder_state(run.status(), "work", "INBOX")
    assert state["messages"] == total and state["last_uid"] == total, state


def test_systemd_notify_ready_watchdog_stopping():
    import socket
    import tempfile
    user = new_user()
    SERVER.seed(user, "INBOX", messages(1))
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    run.status()
    path = os.path.join(tempfile.mkdtemp(prefix="keel-notify-"), "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    keel = subprocess.Popen([run.bin, "daemon", "--config", run.config], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    got = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and got.count("WATCHDOG=1") < 2:
            got.append(sock.recv(4096).decode().strip())
        assert got and got[0] == "READY=1", got
        assert got.count("WATCHDOG=1") >= 2, got
    finally:
        keel.send_signal(signal.SIGTERM)
        keel.communicate(timeout=15)
    while "STOPPING=1" not in got:
        got.append(sock.recv(4096).decode().strip())
    sock.close()
    os.unlink(path)
    os.rmdir(os.path.dirname(path))
    assert keel.returncode == 0, keel.returncode


def test_message_over_size_limit_recorded_not_downloaded():
    user = new_user()
    big = make_message(2, body_lines=400)  # about 25 KB
    SERVER.seed(user, "INBOX", [make_message(1), big, make_message(3)])
    run = KeelRun()
    run.write_config([account(SERVER, user)], extra="max_message_size = 16K")
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"UID 2: \d+ bytes, over max_message_size", proc.stderr), proc.stderr
    fetched = re.findall(r"> \S+ UID FETCH (\d+) BODY", proc.stderr)
    assert fetched == ["1", "3"], fetched
    inbox = folder_state(run.status(), "work", "INBOX")
    assert inbox["last_uid"] == 3 and inbox["messages"] == 2, inbox


def test_missing_folder_does_not_block_the_others():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(2))
    run = KeelRun()
    run.write_config([account(SERVER, user, folders=["NoSuchFolder", "INBOX"])])
    proc = once(run, expect=75)
    assert re.search(r"folder 'NoSuchFolder'.*NO/BAD", proc.stderr), proc.stderr
    status = run.status()
    assert folder_state(status, "work", "INBOX")["messages"] == 2, status
    assert "NoSuchFolder" in status["accounts"][0]["last_error"], status
    assert status["accounts"][0]["missing_folders"] == ["NoSuchFolder"], status


def test_verbose_masks_the_password():
    user = new_user()
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"> \S+ (AUTHENTICATE|LOGIN) \S+ \[masked\]|\[masked\]", proc.stderr), proc.stderr
    import base64
    secret = USERS[user]
    plain = base64.b64encode(("\0%s\0%s" % (user, secret)).encode()).decode()
    assert secret not in proc.stderr and plain not in proc.stderr, "password in the log"


def test_status_json_has_the_documented_shape():
    user = new_user()
    SERVER.seed(user, "INBOX", messages(1))
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    once(run)
    status = run.status()
    assert list(status.keys()) == ["accounts", "outbox", "digest", "rules"], status
    acc = status["accounts"][0]
    assert sorted(acc.keys()) == ["folders", "last_error", "last_poll", "missing_folders",
                                  "name"], acc
    assert acc["missing_folders"] == [], acc
    for folder in acc["folders"]:
        assert sorted(folder.keys()) == ["last_uid", "messages", "name", "uidvalidity"], folder
    text = run.run("status")
    assert text.returncode == 0 and "work" in text.stdout and "INBOX" in text.stdout, text.stdout
    json.dumps(status)


CASES = [
    test_first_sync_of_a_seeded_folder,
    test_incremental_sync_after_append,
    test_unchanged_mailbox_costs_one_status_per_folder,
    test_fetched_messages_keep_their_flags,
    test_reconnect_after_examine_never_fetches_read_write,
    test_uidvalidity_change_stores_only_the_new_message,
    test_server_killed_mid_fetch_then_next_cycle_completes,
    test_silent_server_fails_within_the_timeout,
    test_server_stalling_mid_fetch_fails_within_the_read_timeout,
    test_wrong_password_is_a_clear_error,
    test_wrong_password_not_hammered_by_the_daemon,
    test_untrusted_certificate_refused_unless_ca_file,
    test_plaintext_refused_by_default_starttls_used,
    test_two_accounts_one_broken_the_other_polled,
    test_two_accounts_synced_at_once_share_the_store,
    test_sigterm_mid_fetch_exits_0_and_loses_nothing,
    test_systemd_notify_ready_watchdog_stopping,
    test_message_over_size_limit_recorded_not_downloaded,
    test_missing_folder_does_not_block_the_others,
    test_verbose_masks_the_password,
    test_status_json_has_the_documented_shape,
]


def main():
    return dovecot_main(sys.modules[__name__], USERS, CASES)


if __name__ == "__main__":
    sys.exit(main())
