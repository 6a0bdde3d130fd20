#!/usr/bin/python3
"""tests/integration/test-fetch.py: fetching in ranges (issue 19) against a
real Dovecot started here on 127.0.0.1. A folder with more than 20 new
messages is fetched with `UID FETCH a:b (UID BODY.PEEK[])` on keel's own
connection: every message must be stored byte-exact (sha256 of the stored
raw against the appended bytes), whatever its body looks like (lines that
read like IMAP answers, a literal-looking "{10}", 8-bit bytes, no body at
all), and stay unseen; a server that hangs up in the middle of a range loses
nothing (the rest come next cycle, nothing twice). Ranges are parsed on a
fetch thread while the sync's thread stores: the rows must be those of the
serial path (KEEL_SYNC_SERIAL=1: parsed where they are stored). Prints TAP.

Usage: /usr/bin/python3 test-fetch.py [NAME-FRAGMENT...]"""

import email.utils
import glob
import hashlib
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import account, db_rows, dovecot_main, Dovecot, KeelRun, Tap, _Listener, folder_state, make_message  # noqa: E402

USERS = {"f%d" % i: "pw-f%d" % i for i in range(1, 11)}
SERVER = None
_next_user = [0]


def new_user():
    _next_user[0] += 1
    return "f%d" % _next_user[0]


def tricky_messages():
    """Bodies a line reader would take for IMAP answers, 8-bit bytes, no body."""
    answers = (b"From: Bob Client <bob@acme.example>\r\nTo: alice@va.example\r\n"
               b"Subject: looks like IMAP\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
               b"Message-ID: <tricky-answers@acme.example>\r\n\r\n"
               b"A001 OK done\r\nF1 OK UID FETCH completed\r\n* 5 FETCH (UID 9 BODY[] {10}\r\n"
               b"0123456789)\r\n{10}\r\n* BYE going away\r\n)\r\nK7 NO nope\r\n+ go ahead\r\n")
    eight_bit = bytes(b for b in range(1, 256) if b not in (10, 13))
    binary = (b"From: =?iso-8859-1?q?J=FCrgen?= <j@acme.example>\r\nTo: alice@va.example\r\n"
              b"Subject: 8-bit\r\nDate: Mon, 02 Mar 2026 09:01:00 +0000\r\n"
              b"Message-ID: <tricky-8bit@acme.example>\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: text/plain; charset=iso-8859-1\r\n"
              b"Content-Transfer-Encoding: 8bit\r\n\r\n"
              b"Gr\xfc\xdfe aus M\xfcnchen\r\n" + eight_bit + b"\r\n\xff\xfe\x80\r\n")
    empty = (b"From: Bob Client <bob@acme.example>\r\nTo: alice@va.example\r\n"
             b"Subject: nothing to say\r\nDate: Mon, 02 Mar 2026 09:02:00 +0000\r\n"
             b"Message-ID: <tricky-empty@acme.example>\r\n\r\n")
    return [answers, binary, empty]


def append_all(user, raws):
    for raw in raws:
        SERVER.append(user, "INBOX", raw)


def stored_digests(run):
    """{uid: sha256 of the stored raw} of INBOX."""
    rows = db_rows(run, "SELECT m.uid, m.raw FROM messages m JOIN folders f ON f.id = m.folder_id"
                   " WHERE f.name = 'INBOX'")
    return {uid: hashlib.sha256(raw).hexdigest() for uid, raw in rows}


def test_range_fetch_stores_byte_exact_and_unseen():
    user = new_user()
    raws = [make_message(i) for i in range(1, 11)] + tricky_messages() + \
        [make_message(i) for i in range(11, 26)]
    append_all(user, raws)
    before = SERVER.flags(user)
    assert not any("\\Seen" in f for f in before.values()), before
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = re.findall(r"> (\S+ UID FETCH [^\n]*)", proc.stderr)
    assert any(re.search(r"UID FETCH 1:%d \(UID BODY\.PEEK\[\]\)" % len(raws), c) for c in sent), sent
    assert not [c for c in sent if re.search(r"UID FETCH \d+ BODY\[", c)], "one fetch per message"
    got = stored_digests(run)
    want = {uid: hashlib.sha256(raw).hexdigest() for uid, raw in enumerate(raws, 1)}
    assert got == want, "not byte-exact: UIDs %r" % sorted(u for u in want if got.get(u) != want[u])
    assert SERVER.flags(user) == before, "a flag changed (\\Seen set?)"
    # the sizes and one range: two UID FETCH for 28 messages (one per message before)
    assert len(sent) == 2 and "RFC822.SIZE" in sent[0], sent
    commands = int(re.search(r"(\d+) IMAP commands", proc.stderr).group(1))
    assert commands < len(raws), "%d IMAP commands for %d messages" % (commands, len(raws))


def test_message_over_the_limit_splits_the_range():
    user = new_user()
    raws = [make_message(i) for i in range(1, 31)]
    raws[14] = make_message(15, body_lines=400)  # about 25 KB, over the 16K limit
    append_all(user, raws)
    run = KeelRun()
    run.write_config([account(SERVER, user)], extra="max_message_size = 16K")
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"UID 15: \d+ bytes, over max_message_size", proc.stderr), proc.stderr[-3000:]
    ranges = re.findall(r"> \S+ UID FETCH (\d+:\d+) \(UID BODY", proc.stderr)
    assert ranges == ["1:14", "16:30"], ranges
    inbox = folder_state(run.status(), "work", "INBOX")
    assert inbox["last_uid"] == 30 and inbox["messages"] == 29, inbox
    assert 15 not in stored_digests(run)


class CutMidRangeProxy(_Listener):
    """A plaintext relay to 127.0.0.1:`target` that hides STARTTLS and, the
    first time a client sends `UID FETCH ... BODY.PEEK[]`, hangs up after
    relaying `cut` bytes of the answer. Later connections are relayed whole."""

    def __init__(self, target, cut):
        self.target, self.cut = target, cut
        self.done = False
        self.cuts = 0
        super().__init__()

    def serve(self, conn):
        upstream = self._upstream(conn, self.target)
        if upstream is None:
            return
        state = {"fetching": False}
        threading.Thread(target=self._client_to_server, args=(conn, upstream, state),
                         daemon=True).start()
        self._server_to_client(upstream, conn, state)

    def _client_to_server(self, src, dst, state):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if b"BODY.PEEK[]" in data and not self.done:
                    state["fetching"] = True
                dst.sendall(data)
        except OSError:
            pass

    def _server_to_client(self, src, dst, state):
        relayed = 0
        try:
            while True:
                data = src.recv(4096).replace(b" STARTTLS", b"")
                if not data:
                    break
                if state["fetching"] and not self.done:
                    if relayed + len(data) >= self.cut:
                        dst.sendall(data[:self.cut - relayed])
                        self.done = True
                        self.cuts += 1
                        break
                    relayed += len(data)
                dst.sendall(data)
        except OSError:
            pass
        self._hang_up(src, dst)


def test_hangup_mid_range_loses_nothing():
    user = new_user()
    total = 60
    raws = [make_message(i, body_lines=40) for i in range(1, total + 1)]
    append_all(user, raws)
    with CutMidRangeProxy(SERVER.imap_port, cut=len(b"".join(raws)) * 2 // 5 + 123) as proxy:
        run = KeelRun()
        run.write_config([account(SERVER, user, imap="imap://127.0.0.1:%d" % proxy.port,
                                  allow_plaintext=True)])
        proc = run.run("daemon", "--once")
        assert proc.returncode == 75, "rc %d\n%s" % (proc.returncode, proc.stderr[-3000:])
        assert proxy.cuts == 1, proxy.cuts
        first = sorted(stored_digests(run))
        assert 0 < len(first) < total, "cut caught %d of %d messages" % (len(first), total)
        assert first == list(range(1, len(first) + 1)), first
        last = folder_state(run.status(), "work", "INBOX")["last_uid"]
        assert last == len(first), (last, len(first))
        proc = run.run("daemon", "--once")
        assert proc.returncode == 0, proc.stderr[-3000:]
    got = stored_digests(run)
    want = {uid: hashlib.sha256(raw).hexdigest() for uid, raw in enumerate(raws, 1)}
    assert got == want, "a message missing, changed or stored twice"
    assert db_rows(run, "SELECT COUNT(DISTINCT message_id), COUNT(*) FROM messages") == \
        [(total, total)]
    assert "%d new" % (total - len(first)) in proc.stderr, proc.stderr[-2000:]


def test_few_new_messages_still_fetched_one_by_one():
    """20 or fewer new messages: no second connection for them."""
    user = new_user()
    append_all(user, [make_message(i) for i in range(1, 4)])
    run = KeelRun()
    run.write_config([account(SERVER, user)])
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not re.search(r"BODY\.PEEK", proc.stderr), "a range fetch for 3 messages"
    assert sorted(stored_digests(run)) == [1, 2, 3]


# Compared between the serial and the overlapped sync: every table a new
# message writes, without the columns that hold the time keel got it (or a
# time derived from it: a future-dated message's risk peak is its arrival).
COMPARED = ["messages", "scores", "rule_hits", "message_refs", "threads", "instructions",
            "trail_events", "promises", "invoices", "outbox", "message_search"]
ARRIVAL_COLUMNS = {"received", "at", "created", "updated", "hash", "prev_hash", "risk_peak_at",
                   "next_attempt", "raw"}


def table_rows(run, table):
    cols = [r[1] for r in db_rows(run, "PRAGMA table_info(%s)" % table)]
    if table == "message_search":
        cols = ["rowid", "subject", "new_text", "quoted_text"]
    keep = [c for c in cols if c not in ARRIVAL_COLUMNS]
    return db_rows(run, "SELECT %s FROM %s ORDER BY 1" % (", ".join(keep), table))


def has_past_date(raw):
    head = raw.split(b"\n\n", 1)[0].decode("latin-1")
    match = re.search(r"^Date:[ \t]*(.+)$", head, re.M | re.I)
    try:
        date = email.utils.parsedate_to_datetime(match.group(1).strip()) if match else None
    except (TypeError, ValueError, IndexError):
        return False
    return date is not None and 1990 <= date.year < 2026


def first_difference(serial, overlapped):
    """The first differing row pair, as the columns that differ (cut short)."""
    for a, b in zip(serial, overlapped):
        if a != b:
            return [(i, repr(x)[:80], repr(y)[:80]) for i, (x, y) in enumerate(zip(a, b))
                    if x != y]
    return "row counts"


def varied_messages():
    """Client mail that threads (replies), scores (anger, urgency), comes in
    different shapes (SpamAssassin's corpus when present) and is not mail."""
    raws = []
    for n in range(1, 31):
        reply = "In-Reply-To: <thread-%d@acme.example>\r\n" % (n - 1) if n % 3 else ""
        body = ("THIS IS UNACCEPTABLE. I need the receipts by 9am Monday or I will "
                "talk to my lawyer.\r\n" if n % 4 == 0 else "Thanks, all fine.\r\n")
        raws.append(("From: Bob Client <bob@acme.example>\r\nTo: alice@va.example\r\n"
                     "Subject: %sReceipts\r\nDate: Mon, 02 Mar 2026 %02d:00:00 +0000\r\n"
                     "Message-ID: <thread-%d@acme.example>\r\n%s\r\n%s"
                     % ("Re: " if reply else "", n % 24, n, reply, body)).encode())
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                          "spamassassin")
    for path in sorted(glob.glob(os.path.join(corpus, "*", "*.eml")))[::100]:
        with open(path, "rb") as f:
            raw = f.read()
        if has_past_date(raw):  # else its Date is the time keel got it: not comparable
            raws.append(raw)
    return raws + tricky_messages() + [b"\x00\x01 not mail at all"]


def test_overlapped_sync_stores_the_rows_of_a_serial_one():
    user = new_user()
    append_all(user, varied_messages())
    runs = []
    for serial in (True, False):
        run = KeelRun()
        run.write_config([account(SERVER, user)])
        proc = run.run("daemon", "--once", env={"KEEL_SYNC_SERIAL": "1"} if serial else None)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert re.search(r"polled .* (\d{2,}) new", proc.stderr), proc.stderr[-2000:]
        runs.append(run)
    stored = db_rows(runs[0], "SELECT COUNT(*) FROM messages")[0][0]
    assert stored > 30, "only %d messages stored" % stored
    assert db_rows(runs[0], "SELECT COUNT(*) FROM rule_hits")[0][0] > 0, "nothing scored"
    for table in COMPARED:
        serial, overlapped = table_rows(runs[0], table), table_rows(runs[1], table)
        assert serial == overlapped, "%s differs: %d rows serial, %d overlapped; first: %r" % (
            table, len(serial), len(overlapped), first_difference(serial, overlapped))


CASES = [test_range_fetch_stores_byte_exact_and_unseen,
         test_message_over_the_limit_splits_the_range,
         test_hangup_mid_range_loses_nothing,
         test_few_new_messages_still_fetched_one_by_one,
         test_overlapped_sync_stores_the_rows_of_a_serial_one]


def main():
    return dovecot_main(sys.modules[__name__], USERS, CASES)


if __name__ == "__main__":
    sys.exit(main())
