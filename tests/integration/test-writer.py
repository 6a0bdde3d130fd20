"""tests/integration/test-writer.py: the outbox's IMAP connection (issue 20).

One outbox pass opens one IMAP connection per account, and that one login
carries the Sent/Drafts discovery (LIST ... RETURN (SPECIAL-USE)), every
lookup and every APPEND of the pass (daemon/mail/imap-writer.c). Logins are
counted in Dovecot's own log ("Login: user=<...>" lines, one per
authenticated connection), not taken from keel's word; keel's --verbose
count ("N IMAP connection(s) in this pass") is checked against it.

Cases: five drafts in one pass (review mode, folders found by SPECIAL-USE):
one login; four replies sent, each with its copy APPENDed to Sent (auto
mode): one login; a server that drops the connection right after the first
APPEND: the connection is reopened once, every row is drafted in that same
pass, none twice; a denied login: tried once in the pass, not once per row,
and every row waits for the next pass (tempfail).

Uses test-smtp.py's Setup (a private Dovecot, the SMTP sink, a keel.conf).
TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd,
python3-aiosmtpd and openssl."""

import importlib.util
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

_spec = importlib.util.spec_from_file_location("smtp_cases", os.path.join(HERE, "test-smtp.py"))
smtp_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smtp_cases)


def settled_log(dovecot, needle):
    """How often `needle` is in Dovecot's log once the log stops growing."""
    count, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = dovecot.log().count(needle)
        if now != count:
            count, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 0.5:
            break
        time.sleep(0.1)
    return count


def logins(s):
    return settled_log(s.dovecot, "Login: user=<%s>" % smtp_cases.USER)


def queue(s, n):
    for i in range(n):
        s.confirm("--subject", "Call notes %d" % i)


def send_pass(s):
    """One `keel outbox send --verbose`: the logins it made, and its stderr."""
    before = logins(s)
    proc = s.keel_ok("outbox", "send", "--verbose")
    return logins(s) - before, proc.stderr


def states(s):
    return sorted(r["state"] for r in s.outbox())


@smtp_cases.with_setup("review")
def test_five_drafts_in_one_pass_use_one_login(s):
    queue(s, 5)
    made, stderr = send_pass(s)
    assert states(s) == ["drafted"] * 5, s.outbox()
    drafts = s.folder_messages("Drafts")
    assert len(drafts) == 5 and len({m for _, m in drafts}) == 5, drafts
    assert made == 1, "%d logins for one pass of five drafts" % made
    assert "1 IMAP connection in this pass" in stderr, stderr[-2000:]


@smtp_cases.with_setup("auto")
def test_four_sent_copies_in_one_pass_use_one_login(s):
    queue(s, 4)
    made, _ = send_pass(s)
    assert states(s) == ["sent"] * 4, s.outbox()
    assert len(s.sink.delivered()) == 4
    sent = s.folder_messages("Sent")
    assert len(sent) == 4 and all("\\Seen" in flags for flags, _ in sent), sent
    assert made == 1, "%d logins for one pass of four Sent copies" % made


class CutAfterAppendProxy(harness.CutAfterExamineProxy):
    """CutAfterExamineProxy, cutting after the first APPEND's OK instead of
    an EXAMINE's (plaintext, STARTTLS hidden; the first connection only)."""

    @staticmethod
    def _client_to_server(src, dst, state):
        try:
            for line in src.makefile("rb"):
                words = line.split()
                if len(words) > 1 and words[1].upper() == b"APPEND" and not state["tag"]:
                    state["tag"] = words[0]
                dst.sendall(line)
        except OSError:
            pass


@smtp_cases.with_setup("review")
def test_a_dropped_connection_is_reopened_once_and_nothing_waits(s):
    """The folders are named, so the first connection's first command is an
    APPEND and the cut falls between two rows."""
    queue(s, 3)
    with CutAfterAppendProxy(s.dovecot.imap_port) as proxy:
        with open(s.keel.config) as f:
            text = f.read()
        text = text.replace("imap = " + s.dovecot.url("imaps"),
                            "imap = imap://127.0.0.1:%d\nallow_plaintext = true\n"
                            "drafts_folder = Drafts\nsent_folder = Sent" % proxy.port)
        with open(s.keel.config, "w") as f:
            f.write(text)
        made, stderr = send_pass(s)
        assert proxy.connections == 2, proxy.connections
    assert states(s) == ["drafted"] * 3, s.outbox()
    drafts = s.folder_messages("Drafts")
    assert len(drafts) == 3 and len({m for _, m in drafts}) == 3, drafts
    assert made == 2, made
    assert "connection was lost" in stderr and "opening a new one" in stderr, stderr[-2000:]


@smtp_cases.with_setup("review")
def test_a_denied_login_is_tried_once_per_pass(s):
    queue(s, 3)
    with open(os.path.join(s.keel.dir, "pw"), "w") as f:
        f.write("not-the-password\n")
    before = settled_log(s.dovecot, "auth failed")
    proc = s.keel.run("outbox", "send")
    tries = settled_log(s.dovecot, "auth failed") - before
    assert states(s) == ["tempfail"] * 3, (s.outbox(), proc.stderr[-2000:])
    assert tries == 1, "%d login attempts in one pass\n%s" % (tries, s.dovecot.log()[-3000:])
    assert s.folder_messages("Drafts") == []


CASES = [
    test_five_drafts_in_one_pass_use_one_login,
    test_four_sent_copies_in_one_pass_use_one_login,
    test_a_dropped_connection_is_reopened_once_and_nothing_waits,
    test_a_denied_login_is_tried_once_per_pass,
]

if __name__ == "__main__":
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (Maildirs belong to the mail uid)")
        sys.exit(77)
    try:
        rc = harness.Tap(CASES).run(sys.argv[1:])
    finally:
        harness.KeelRun.close_all()
    sys.exit(rc)
