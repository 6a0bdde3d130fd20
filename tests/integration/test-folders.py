"""tests/integration/test-folders.py: special-use folders and folder names in
other scripts (issue 19), against a real Dovecot (tests/integration/harness.py).

Cases: a Gmail-like layout ("[Gmail]/Sent Mail" marked \\Sent, "Entwürfe"
marked \\Drafts, no folder called Sent) with sent_folder / drafts_folder
unset: keel finds both over LIST (decoding modified UTF-7) and stores the sent
message as outgoing; a watched folder "Клиенты" is polled (the name encoded
to modified UTF-7 on the wire, stored in UTF-8); a configured Sent folder
that does not exist fails only itself: INBOX is still stored and the warning
names that folder alone; a watched folder that does not exist is listed by
`keel status` (missing_folders) until it is created.

TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd and openssl."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = None

GMAIL_NAMESPACE = """namespace inbox {
  inbox = yes
  separator = /
  mailbox "[Gmail]/Sent Mail" {
    special_use = \\Sent
    auto = create
  }
  mailbox "Entwürfe" {
    special_use = \\Drafts
    auto = create
  }
}
"""


class GmailDovecot(harness.Dovecot):
    """harness.Dovecot with Gmail's Sent folder and a German Drafts folder."""

    def _write_conf(self):
        super()._write_conf()
        text = open(self.conf).read()
        start = text.index("namespace inbox {")
        end = text.index("service imap-login")
        with open(self.conf, "w") as f:
            f.write(text[:start] + GMAIL_NAMESPACE + text[end:])


def save(user, folder, raw):
    """doveadm save: the folder name in UTF-8, as Dovecot's tools take it."""
    subprocess.run(["doveadm", "-c", SERVER.conf, "save", "-u", user, "-m", folder],
                   input=raw, check=True, capture_output=True)


def make_run(user, **extra):
    run = harness.KeelRun()
    acc = {"name": "main", "imap": SERVER.url(), "user": user,
           "password": SERVER.users[user], "ca_file": SERVER.cert, "folders": ["INBOX"],
           "connect_timeout": 5, "read_timeout": 10}
    acc.update(extra)
    run.write_config([acc])
    return run


def stored(run):
    return harness.db_rows(run, "SELECT f.name, m.direction FROM messages m JOIN folders f"
                           " ON f.id = m.folder_id ORDER BY f.name")


def message(n, sender):
    return harness.make_message(n, subject="folders %d" % n, sender=sender)


def test_gmail_layout_found_without_config():
    save("alice", "[Gmail]/Sent Mail", message(1, "alice@va.example"))
    save("alice", "INBOX", message(2, "bob@acme.example"))
    run = make_run("alice")
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Sent folder is '[Gmail]/Sent Mail' (found on the server)" in proc.stderr, \
        proc.stderr[-3000:]
    assert "Drafts folder is 'Entwürfe' (found on the server)" in proc.stderr, proc.stderr[-3000:]
    rows = stored(run)
    assert ("[Gmail]/Sent Mail", "out") in rows, rows
    assert any(r[0] == "INBOX" for r in rows), rows


def test_utf7_folder_round_trip():
    name = "Клиенты"
    SERVER.doveadm("mailbox", "create", "-u", "bob", name)
    save("bob", name, message(3, "bob@acme.example"))
    listed = SERVER.doveadm("mailbox", "list", "-u", "bob")
    assert name in listed, listed
    wire = os.listdir(SERVER.maildir("bob"))
    assert ".&BBoEOwQ4BDUEPQRCBEs-" in wire, wire  # Dovecot keeps it in modified UTF-7
    run = make_run("bob", folders=["INBOX", name])
    proc = run.run("daemon", "--once")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r[0] for r in stored(run)] == [name], stored(run)


def test_missing_sent_fails_only_itself():
    save("bob", "INBOX", message(4, "bob@acme.example"))
    run = make_run("bob", sent_folder="Gesendet", drafts_folder="Drafts")
    start = time.monotonic()
    proc = run.run("daemon", "--once")
    rows = stored(run)
    print("# missing Sent: rc %d" % proc.returncode)
    assert any(r[0] == "INBOX" for r in rows), (rows, proc.stderr[-3000:])
    warnings = [l for l in proc.stderr.splitlines() if l.startswith(("<3>", "<4>"))]
    assert warnings and all("folder 'Gesendet'" in l for l in warnings), proc.stderr[-3000:]
    assert time.monotonic() - start < 30
    assert run.status()["accounts"][0]["missing_folders"] == ["Gesendet"], run.status()


def test_missing_folder_shown_by_status_until_created():
    """A watched folder the server does not have: the poll warns about it
    alone, `keel status` lists it on its account (JSON and text), and once
    the folder exists the next poll clears it."""
    save("carol", "INBOX", message(5, "bob@acme.example"))
    run = make_run("carol", folders=["INBOX", "Clients"])
    proc = run.run("daemon", "--once")
    warnings = [l for l in proc.stderr.splitlines() if l.startswith(("<3>", "<4>"))]
    assert warnings and all("folder 'Clients'" in l for l in warnings), proc.stderr[-3000:]
    status = run.status()
    acc = status["accounts"][0]
    assert acc["missing_folders"] == ["Clients"], acc
    assert harness.folder_state(status, "main", "INBOX")["messages"] == 1, status
    text = run.run("status").stdout
    assert "missing folder: Clients" in text, text
    SERVER.doveadm("mailbox", "create", "-u", "carol", "Clients")
    proc = run.run("daemon", "--once")
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = run.status()["accounts"][0]
    assert acc["missing_folders"] == [] and acc["last_error"] is None, acc
    assert "missing folder" not in run.run("status").stdout


if __name__ == "__main__":
    SERVER = GmailDovecot(users={"alice": "alicepw", "bob": "bobpw", "carol": "carolpw"}).start()
    try:
        rc = harness.Tap([test_gmail_layout_found_without_config, test_utf7_folder_round_trip,
                          test_missing_sent_fails_only_itself,
                          test_missing_folder_shown_by_status_until_created]).run(sys.argv[1:])
    finally:
        SERVER.close()
        harness.KeelRun.close_all()
    sys.exit(rc)
