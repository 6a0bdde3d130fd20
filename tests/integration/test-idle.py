"""tests/integration/test-idle.py: IMAP IDLE (issue 19) against a real Dovecot.

`keel daemon` runs with poll_interval = 600, so only IDLE can explain a
message stored soon after it arrives. Cases: a message APPENDed while keel
idles is stored within 2 s (20 appends: the median and the worst are printed);
with idle = false the same APPEND is not stored within 3 s (polling only);
a server that does not offer IDLE: keel says so and polls only;
after Dovecot is restarted under keel (the IDLE connection dropped), keel
reconnects (first retry after 30 s) and a new APPEND is stored within 2 s.

TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd and openssl."""

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = None
COUNTER = [1000]


def count(run):
    try:
        return harness.db_rows(run, "SELECT count(*) FROM messages")[0][0]
    except sqlite3.OperationalError:
        return 0


def wait_for(run, want, timeout):
    """Seconds until `want` messages are stored, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if count(run) >= want:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def start_keel(user, idle=True):
    run = harness.KeelRun()
    run.write_config([{"name": "main", "imap": SERVER.url(), "user": user,
                       "password": SERVER.users[user], "ca_file": SERVER.cert,
                       "folders": ["INBOX"], "sent_folder": "Sent", "drafts_folder": "Drafts",
                       "poll_interval": 600, "connect_timeout": 5, "read_timeout": 10,
                       "idle": idle}])
    # stderr to a file: a pipe nobody reads fills up and blocks keel
    run.err_path = os.path.join(run.dir, "keel.err")
    proc = subprocess.Popen([run.bin, "daemon", "--verbose", "--config", run.config],
                            stdout=subprocess.DEVNULL, stderr=open(run.err_path, "w"))
    proc.err_path = run.err_path
    assert wait_for(run, 0, 1) is not None
    # the first poll, and with IDLE the IDLE login, are over before a case
    # appends (a fixed sleep lost that race on a loaded machine)
    wait_log(run.err_path, ["IDLE on 'INBOX'", "does not offer IDLE"] if idle else ["polled"])
    time.sleep(0.3)  # from EXAMINE (logged) to IDLE sent
    return run, proc


def wait_log(path, needles, timeout=60):
    """Waits until keel's log holds one of `needles` (a case whose log never
    does fails on its own assertions)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = open(path, errors="replace").read()
        if any(needle in text for needle in needles):
            return
        time.sleep(0.1)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    err = open(proc.err_path, errors="replace").read()
    if os.environ.get("KEEL_KEEP_STDERR"):
        with open(os.environ["KEEL_KEEP_STDERR"], "a") as f:
            f.write(err)
    return err


def append(user):
    COUNTER[0] += 1
    SERVER.append(user, "INBOX", harness.make_message(COUNTER[0], subject="idle %d" % COUNTER[0]))


def test_append_stored_within_2_s():
    run, proc = start_keel("alice")
    latencies = []
    try:
        for i in range(20):
            start = time.monotonic()
            append("alice")
            got = wait_for(run, i + 1, 5)
            if got is None:
                raise AssertionError("message %d not stored within 5 s\n%s"
                                     % (i + 1, stop(proc)[-4000:]))  # noqa
            latencies.append(time.monotonic() - start)
            time.sleep(0.2)
    finally:
        err = stop(proc)
    print("# IDLE: APPEND to stored, 20 messages: median %.3f s, max %.3f s"
          % (statistics.median(latencies), max(latencies)))
    assert max(latencies) < 2.0, (latencies, err[-2000:])
    assert "IDLE on 'INBOX'" in err, err[-2000:]


def test_idle_false_polls_only():
    run, proc = start_keel("bob", idle=False)
    try:
        append("bob")
        assert wait_for(run, 1, 3) is None, "stored without IDLE and before the poll"
    finally:
        err = stop(proc)
    assert "IDLE on" not in err


class NoIdleDovecot(harness.Dovecot):
    """A Dovecot that does not list IDLE after login."""

    def _write_conf(self):
        super()._write_conf()
        with open(self.conf, "a") as f:
            f.write("imap_capability = IMAP4rev1 LITERAL+ SASL-IR UIDPLUS\n")


def test_server_without_idle_falls_back_to_polling():
    global SERVER
    main_server, SERVER = SERVER, NoIdleDovecot().start()
    try:
        run, proc = start_keel("bob")
        try:
            append("bob")
            assert wait_for(run, 1, 3) is None, "stored without IDLE and before the poll"
        finally:
            err = stop(proc)
        assert "the server does not offer IDLE; polling every 600 s" in err, err[-2000:]
        assert "IDLE on" not in err
    finally:
        SERVER.close()
        SERVER = main_server


def test_reconnects_after_server_restart():
    run, proc = start_keel("alice")
    try:
        base = count(run)
        SERVER.stop()
        SERVER.start()
        deadline = time.monotonic() + 60  # the first retry comes 30 s after the drop
        while time.monotonic() < deadline:
            if open(proc.err_path, errors="replace").read().count("IDLE on 'INBOX'") >= 2:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("IDLE not re-established within 60 s")
        start = time.monotonic()
        append("alice")
        got = wait_for(run, base + 1, 5)
        assert got is not None and time.monotonic() - start < 2.0, \
            "not stored within 2 s after the reconnect"
    finally:
        err = stop(proc)
    assert "the IDLE connection failed; polling meanwhile" in err, err[-2000:]


if __name__ == "__main__":
    SERVER = harness.Dovecot().start()
    try:
        rc = harness.Tap([test_append_stored_within_2_s, test_idle_false_polls_only,
                          test_server_without_idle_falls_back_to_polling,
                          test_reconnects_after_server_restart]).run(sys.argv[1:])
    finally:
        if os.environ.get("KEEL_KEEP_LOG"):
            with open(os.environ["KEEL_KEEP_LOG"], "w") as f:
                f.write(SERVER.log())
        SERVER.close()
        harness.KeelRun.close_all()
    sys.exit(rc)
