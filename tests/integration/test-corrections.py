#!/usr/bin/python3
"""tests/integration/test-corrections.py: the VA's correction folders against a
real Dovecot (started here, from a temp dir, on 127.0.0.1): `keel daemon
--once` creates keel/Risky and keel/Fine, learns from a message the VA copied
into keel/Risky (a correction row, a trail event, the model of her mailbox
moved), never moves or flags anything, and does not learn the same message
twice. Prints TAP. Needs root and dovecot-imapd; KEEL_BIN names keel.

Usage: /usr/bin/python3 test-corrections.py"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import db_rows, dovecot_main, Dovecot, KeelRun, Tap, make_message  # noqa: E402

USERS = {"u1": "pw-u1", "u2": "pw-u2"}
SERVER = None


def daemon_once(user, **extra):
    run = KeelRun()
    acc = {"name": "work", "imap": SERVER.url(), "user": user, "password": SERVER.users[user],
           "ca_file": SERVER.cert, "folders": ["INBOX"], "connect_timeout": 5, "read_timeout": 10}
    acc.update(extra)
    run.write_config([acc])
    return run


def once(run):
    proc = run.run("daemon", "--once")
    assert proc.returncode == 0, "keel daemon --once: rc %d\n%s" % (proc.returncode,
                                                                   proc.stderr[-3000:])
    return proc


def folders(user):
    conn = SERVER.client(user)
    try:
        typ, data = conn.list()
        assert typ == "OK", data
        return {line.decode().rsplit(' "/" ', 1)[-1].strip('"') for line in data}
    finally:
        conn.logout()


def test_folder_correction_learned_once():
    raw = make_message(1, subject="Spring newsletter", msgid="poison-1@acme.example")
    SERVER.seed("u1", "INBOX", [raw])
    run = daemon_once("u1")
    once(run)
    names = folders("u1")
    assert "keel/Risky" in names and "keel/Fine" in names, names
    assert db_rows(run, "SELECT COUNT(*) FROM learned_corrections") == [(0,)]
    SERVER.append("u1", "keel/Risky", raw)
    before = SERVER.flags("u1", "keel/Risky")
    once(run)
    got = db_rows(run, "SELECT message_id, dimension, label, source, message_row IS NOT NULL"
                    " FROM learned_corrections")
    assert got == [("poison-1@acme.example", "risky", 1, "folder keel/Risky", 1)], got
    events = db_rows(run, "SELECT kind, message_id FROM trail_events WHERE kind = 'correction'")
    assert events == [("correction", "poison-1@acme.example")], events
    changed = db_rows(run, "SELECT COUNT(*) FROM learned_weights WHERE dimension = 'risky'")
    assert changed[0][0] > 0, changed
    assert SERVER.flags("u1", "keel/Risky") == before, "keel changed the folder"
    assert len(SERVER.flags("u1", "INBOX")) == 1
    once(run)
    assert db_rows(run, "SELECT COUNT(*) FROM learned_corrections") == [(1,)]
    assert db_rows(run, "SELECT COUNT(*) FROM trail_events WHERE kind = 'correction'") == [(1,)]
    status = run.run("learn", "status")
    assert status.returncode == 0 and "1 corrections (1 risky, 0 fine)" in status.stdout, \
        status.stdout + status.stderr


def test_fine_folder_named_in_config():
    raw = make_message(2, subject="Rota for April", msgid="fine-2@acme.example")
    SERVER.seed("u2", "INBOX", [raw])
    run = daemon_once("u2", fine_folder="Corrections/NotRisky", risky_folder="Corrections/Risky")
    once(run)
    names = folders("u2")
    assert "Corrections/NotRisky" in names and "keel/Risky" not in names, names
    assert "Corrections/Risky" in names, names
    SERVER.append("u2", "Corrections/NotRisky", raw)
    once(run)
    got = db_rows(run, "SELECT message_id, label, source FROM learned_corrections")
    assert got == [("fine-2@acme.example", 0, "folder Corrections/NotRisky")], got


CASES = [test_folder_correction_learned_once, test_fine_folder_named_in_config]


def main():
    return dovecot_main(sys.modules[__name__], USERS, CASES)


if __name__ == "__main__":
    sys.exit(main())
