"""tests/integration/test-smtp.py: keel's outbox against real servers: a
private Dovecot (tests/integration/harness.py) for Drafts and Sent, and the
aiosmtpd sink (smtp_sink.py) that keeps every accepted message as a file, so
"delivered" is counted, not assumed.

Cases: review mode drafts (\\Draft, nothing sent); 451 then 250 (exactly one
delivered, after the backoff); 550 (failed, never retried); SIGKILL between
SMTP's 250 and the mark (KEEL_TEST_CRASH_AFTER_SEND=1), then a restart that
finds the message in Sent by Message-ID (exactly one delivered); the same
kill in the default setup (keel files the Sent copy): the row becomes
uncertain, is never re-sent on a guess, the digest tells the VA, and
`keel outbox retry` sends it again; a kill after the Sent APPEND (unfiled,
found on restart, one copy) and a Sent folder that is missing (filed by a
later pass); the housekeeping timer: with Dovecot stopped, `keel daemon
--once` still sends the digest and a due retry (their Sent copies wait for
IMAP); a daemon whose SMTP server stalls in DATA still stores new mail, and
SIGTERM aborts the stalled send at once; a CR/LF
subject over smtps:// (no injected header in the delivered .eml); a server
that stalls after DATA (a timeout: temporary, retried later); a server
without STARTTLS (nothing sent, allow_plaintext is off); client mail
APPENDed to Dovecot, then `keel daemon --once`: one confirmation delivered
with Re:, In-Reply-To, References and Auto-Submitted (history from the first
sync never answered); angry, out-of-office and bulk mail: no reply to the
client (the angry one alerts the VA); `keel
trail verify` after a row was edited with sqlite3 (the event is named).

TAP output; run with /usr/bin/python3 (Debian's aiosmtpd). Needs root,
dovecot-imapd, python3-aiosmtpd and openssl."""

import datetime
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "bob@va.example"
PASSWORD = "bobpw"
NOTE_TOKEN = "q8w3e5r7t2y9u4i6o1p3"  # a note in INBOX needs it (issue 12)
NOTE = ("Please send the signed contract to Sam by Friday 5pm. "
        "Could you also book the meeting room for Monday at 10am?")


class Setup:
    """Dovecot + sink + a keel config; closes all three."""

    def __init__(self, mode, smtp="starttls", file_sent=False, read_timeout=10, extra=""):
        starttls = smtp != "plain-server"
        self.dovecot = harness.Dovecot(users={"bob": PASSWORD}).start()
        sent_dir = None
        if file_sent:  # the Maildir must exist and belong to the mail user first
            self.dovecot.seed("bob", "Sent", [])
            sent_dir = self.dovecot.maildir("bob", "Sent")
        self.sink = harness.Sink(self.dovecot, USER, PASSWORD, file_to=sent_dir, starttls=starttls)
        self.keel = harness.KeelRun()
        url = ("smtps://127.0.0.1:%d" % self.sink.tls_port if smtp == "smtps"
               else "smtp://127.0.0.1:%d" % self.sink.port)
        pwfile = os.path.join(self.keel.dir, "pw")
        with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORD + "\n")
        with open(self.keel.config, "w") as f:
            f.write("\n".join([
                "[keel]", "database = " + self.keel.database,
                "rules = " + os.path.join(self.keel.source_root, "rules"),
                "timezone = Europe/London", "mode = " + mode, "",
                "[account main]", "imap = " + self.dovecot.url("imaps"), "smtp = " + url,
                "user = " + USER, "password_file = " + pwfile, "ca_file = " + self.dovecot.cert,
                "connect_timeout = 5", "read_timeout = %d" % read_timeout, "poll_interval = 10",
                "note_address = bob+keel-%s@va.example" % NOTE_TOKEN, "",
                "[client acme]", "name = Sam Client", "addresses = sam@acme.example;@acme.example",
                "timezone = Europe/London", "", extra]))

    def keel_ok(self, *args, env=None):
        proc = self.keel.run(*args, env=env)
        if proc.returncode != 0:
            raise AssertionError("keel %s: rc %d\n%s%s" % (" ".join(args), proc.returncode,
                                                          proc.stdout, proc.stderr))
        return proc

    def confirm(self, *extra):
        return self.keel_ok("confirm", "--client", "acme", "--note", NOTE, *extra)

    def outbox(self):
        return json.loads(self.keel_ok("outbox", "--json").stdout)

    def folder_messages(self, folder):
        """(flags, Message-ID) of every message in a folder, over IMAP."""
        conn = self.dovecot.client("bob")
        try:
            typ, _ = conn.select('"%s"' % folder, readonly=True)
            assert typ == "OK"
            typ, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            result = []
            for item in data:
                if isinstance(item, tuple):
                    head = item[0].decode()
                    flags = head.split("FLAGS (")[1].split(")")[0].split()
                    msgid = item[1].decode().split(":", 1)[1].strip()
                    result.append((frozenset(f for f in flags if f != "\\Recent"), msgid))
            return result
        finally:
            conn.logout()

    def close(self):
        self.sink.close()
        self.dovecot.close()
        self.keel.close()


def later(minutes):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def with_setup(*args, **kwargs):
    def wrap(case):
        def run():
            s = Setup(*args, **kwargs)
            try:
                case(s)
            finally:
                s.close()
        run.__name__ = case.__name__
        return run
    return wrap


@with_setup("review")
def test_review_mode_makes_a_draft_and_sends_nothing(s):
    s.confirm()
    s.keel_ok("outbox", "send")
    rows = s.outbox()
    assert [r["state"] for r in rows] == ["drafted"], rows
    drafts = s.folder_messages("Drafts")
    assert len(drafts) == 1, drafts
    flags, msgid = drafts[0]
    assert "\\Draft" in flags and "\\Seen" not in flags, flags
    assert msgid == "<%s>" % rows[0]["message_id"], (msgid, rows[0])
    assert s.sink.delivered() == [], "review mode sent mail"
    s.keel_ok("outbox", "send")  # nothing left to do
    assert len(s.folder_messages("Drafts")) == 1


@with_setup("auto")
def test_451_then_250_delivers_exactly_one(s):
    s.confirm()
    s.sink.refuse("rcpt 451")
    s.keel_ok("outbox", "send")
    row = s.outbox()[0]
    assert row["state"] == "tempfail" and "451" in row["last_error"], row
    assert s.sink.delivered() == []
    s.sink.accept()
    s.keel_ok("outbox", "send")  # not due yet: backoff
    assert s.outbox()[0]["state"] == "tempfail" and s.sink.delivered() == []
    s.keel_ok("outbox", "send", "--now", later(5))
    row = s.outbox()[0]
    assert row["state"] == "sent" and row["attempts"] == 2, row
    s.keel_ok("outbox", "send", "--now", later(60))
    delivered = s.sink.delivered()
    assert len(delivered) == 1, delivered
    message, info, _ = delivered[0]
    assert info["rcpt_tos"] == ["sam@acme.example"] and info["tls"] and info["auth"] == USER
    assert message["Message-ID"] == "<%s>" % row["message_id"]
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "1) Please send the signed contract to Sam by Friday 5pm" in body, body
    assert "Fri " in body and "5pm" in body, body
    sent = s.folder_messages("Sent")  # keel's own copy
    assert [m for _, m in sent] == ["<%s>" % row["message_id"]], sent


@with_setup("auto")
def test_550_fails_and_is_never_retried(s):
    s.confirm()
    s.sink.refuse("rcpt 550")
    s.keel_ok("outbox", "send")
    s.sink.accept()
    s.keel_ok("outbox", "send", "--now", later(600))
    row = s.outbox()[0]
    assert row["state"] == "failed" and row["attempts"] == 1, row
    assert "550" in row["last_error"], row
    assert s.sink.delivered() == []
    listing = s.keel_ok("outbox").stdout
    assert "failed" in listing and "550" in listing, listing


@with_setup("auto", read_timeout=2)
def test_timeout_is_temporary(s):
    s.confirm()
    s.sink.refuse("data stall")
    start = time.monotonic()
    s.keel_ok("outbox", "send")
    elapsed = time.monotonic() - start
    row = s.outbox()[0]
    assert row["state"] == "tempfail" and row["next_attempt"], row
    assert "imeout" in row["last_error"] or "timed out" in row["last_error"], row
    assert elapsed < 4.5, "keel waited %.1f s with read_timeout = 2" % elapsed
    assert s.sink.delivered() == []


@with_setup("auto", smtp="plain-server")
def test_no_starttls_means_no_send(s):
    s.confirm()
    s.keel_ok("outbox", "send")
    row = s.outbox()[0]
    assert row["state"] in ("tempfail", "failed") and "TLS" in row["last_error"], row
    assert s.sink.delivered() == [], "sent over a plain connection"


@with_setup("auto", file_sent=True)
def test_sigkill_between_send_and_mark_still_one_delivery(s):
    s.confirm()
    proc = s.keel.run("outbox", "send", "--server-files-sent",
                      env={"KEEL_TEST_CRASH_AFTER_SEND": "1"})
    assert proc.returncode == 137, (proc.returncode, proc.stderr)
    row = s.outbox()[0]
    assert row["state"] == "sending", row
    assert len(s.sink.delivered()) == 1
    out = s.keel_ok("outbox", "send", "--server-files-sent").stdout
    assert "1 found already done" in out, out
    row = s.outbox()[0]
    assert row["state"] == "sent", row
    s.keel_ok("outbox", "send", "--server-files-sent", "--now", later(60))
    delivered = s.sink.delivered()
    assert len(delivered) == 1, "sent %d times" % len(delivered)
    assert delivered[0][0]["Message-ID"] == "<%s>" % row["message_id"]


@with_setup("auto")
def test_crash_after_250_in_the_default_setup_is_never_sent_twice(s):
    """server_files_sent = false (the default): keel files the Sent copy itself.
    A kill right after SMTP's 250 leaves no copy; the restart must not guess."""
    s.confirm()
    proc = s.keel.run("outbox", "send", env={"KEEL_TEST_CRASH_AFTER_SEND": "1"})
    assert proc.returncode == 137, (proc.returncode, proc.stderr)
    assert len(s.sink.delivered()) == 1
    out = s.keel_ok("outbox", "send").stdout
    assert "1 uncertain" in out, out
    row = s.outbox()[0]
    assert row["state"] == "uncertain", row
    s.keel_ok("outbox", "send", "--now", later(600))
    assert len(s.sink.delivered()) == 1, "re-sent on a guess"
    digest = s.keel_ok("digest", "--text").stdout
    assert "a reply to Sam Client" in digest and "may or may not have gone out" in digest \
        and "check your Sent folder" in digest, digest
    shown = s.keel_ok("outbox", "show", str(row["id"])).stdout
    assert "uncertain" in shown and "keel stopped while sending" in shown, shown
    assert "message-id: <%s>" % row["message_id"].lower() in shown.lower(), shown
    # the VA checked: not there, so she sends it again
    assert "queued again" in s.keel_ok("outbox", "retry", str(row["id"])).stdout
    s.keel_ok("outbox", "send")
    assert s.outbox()[0]["state"] == "sent"
    assert len(s.sink.delivered()) == 2
    assert [m for _, m in s.folder_messages("Sent")] == ["<%s>" % row["message_id"]]


@with_setup("auto")
def test_sent_copy_is_filed_before_sent_and_reconciled(s):
    """The Sent copy is APPENDed before the row is SENT; a kill in between is
    found on restart (no second copy, no second send). A copy that could not
    be filed (no such folder) is filed by a later pass."""
    s.confirm()
    proc = s.keel.run("outbox", "send", env={"KEEL_TEST_CRASH_AT": "after-sent-append"})
    assert proc.returncode == -9, (proc.returncode, proc.stderr)
    row = s.outbox()[0]
    assert row["state"] == "unfiled", row
    s.keel_ok("outbox", "send")
    assert s.outbox()[0]["state"] == "sent"
    assert len(s.sink.delivered()) == 1
    assert len(s.folder_messages("Sent")) == 1
    # a Sent folder that does not exist yet: sent, left unfiled, filed later
    with open(s.keel.config) as f:
        text = f.read()
    with open(s.keel.config, "w") as f:
        f.write(text.replace("note_address =", "sent_folder = Filed\nnote_address ="))
    s.confirm()
    s.keel_ok("outbox", "send")
    states = [r["state"] for r in s.outbox()]
    assert states == ["sent", "unfiled"], states
    conn = s.dovecot.client("bob")
    conn.create("Filed")
    conn.logout()
    out = s.keel_ok("outbox", "send").stdout
    assert "1 copied to Sent" in out, out
    assert [r["state"] for r in s.outbox()] == ["sent", "sent"]
    assert len(s.folder_messages("Filed")) == 1 and len(s.sink.delivered()) == 2


@with_setup("auto", extra="[digest]\nat = 00:00\n")
def test_digest_and_retry_go_out_while_imap_is_down(s):
    """The housekeeping timer does not wait for a good IMAP cycle."""
    s.confirm()
    s.sink.refuse("rcpt 451")
    s.keel_ok("outbox", "send")
    assert s.outbox()[0]["state"] == "tempfail"
    s.sink.accept()
    db = sqlite3.connect(s.keel.database)
    db.execute("UPDATE outbox SET next_attempt = 0")  # the retry is due
    db.commit()
    db.close()
    s.dovecot.stop()
    proc = s.keel.run("daemon", "--once")
    assert proc.returncode == 75, (proc.returncode, proc.stderr)
    delivered = s.sink.delivered()
    subjects = sorted(str(m["Subject"]) for m, _, _ in delivered)
    assert len(delivered) == 2, subjects
    digest = [m for m, _, _ in delivered if m["Subject"].startswith("keel")]
    assert len(digest) == 1, subjects
    rows = {r["kind"]: r for r in s.outbox()}
    # sent; its copy waits for IMAP to come back
    assert rows["confirm"]["state"] == "unfiled", rows
    assert rows["digest"]["state"] in ("unfiled", "sent"), rows
    s.dovecot.start()
    s.keel_ok("outbox", "send")
    assert [r["state"] for r in s.outbox()] == ["sent", "sent"], s.outbox()
    assert len(s.sink.delivered()) == 2
    sent = [m for _, m in s.folder_messages("Sent")]
    assert "<%s>" % rows["confirm"]["message_id"] in sent, sent


@with_setup("auto", read_timeout=60)
def test_ingest_continues_while_smtp_stalls(s):
    """A stalled SMTP server holds neither the store nor the IMAP cycle;
    SIGTERM aborts the stalled send at once."""
    s.keel_ok("daemon", "--once")  # first sync of the empty folder
    s.confirm()
    s.sink.refuse("data stall 120")
    keel = s.keel.spawn("daemon")
    try:
        time.sleep(3)  # the housekeeping pass is now stuck in DATA
        assert s.outbox()[0]["state"] == "sending", s.outbox()
        s.dovecot.append("bob", "INBOX", client_mail(
            "while-stalled@acme.example", "Room booking", "Could you book the room?"))
        deadline = time.monotonic() + 20
        stored = 0
        while time.monotonic() < deadline and not stored:
            db = sqlite3.connect(s.keel.database)
            stored = db.execute("SELECT COUNT(*) FROM messages WHERE message_id ="
                                " 'while-stalled@acme.example'").fetchone()[0]
            db.close()
            time.sleep(0.5)
        assert stored == 1, "ingest waited for SMTP"
        assert s.outbox()[0]["state"] == "sending", "SMTP no longer stalled: test proves nothing"
        start = time.monotonic()
        keel.terminate()
        rc = keel.wait(timeout=10)
        took = time.monotonic() - start
    finally:
        if keel.poll() is None:
            keel.kill()
            keel.wait()
    assert rc == 0, (rc, keel.stderr.read())
    assert took < 5.0, "SIGTERM took %.1f s with a stalled send" % took
    assert s.sink.delivered() == []
    assert s.outbox()[0]["state"] == "tempfail", s.outbox()


@with_setup("auto", smtp="smtps")
def test_crlf_subject_injects_no_header(s):
    s.confirm("--subject", "Call notes\r\nBcc: victim@evil.example\r\nX-Injected: yes")
    s.keel_ok("outbox", "send")
    delivered = s.sink.delivered()
    assert len(delivered) == 1, delivered
    message, info, raw = delivered[0]
    assert info["tls"] and info["rcpt_tos"] == ["sam@acme.example"], info
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert not line.lower().startswith((b"bcc:", b"x-injected:")), line
    assert b"\n" not in head.replace(b"\r\n", b""), "bare LF in the header"
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "Bcc: victim@evil.example" in str(message["Subject"]), message["Subject"]


@with_setup("review")
def test_trail_verify_names_the_tampered_event(s):
    s.confirm()
    s.keel_ok("outbox", "send")
    ok = s.keel_ok("trail", "verify").stdout
    assert "trail OK: 5 events" in ok, ok
    trail = json.loads(s.keel_ok("trail", "--format", "json").stdout)
    kinds = [e["kind"] for e in trail]
    assert kinds == ["note", "instruction", "instruction", "confirmation_queued",
                     "confirmation_drafted"], kinds
    db = sqlite3.connect(s.keel.database)
    db.execute("UPDATE trail_events SET detail = 'client asked for nothing' WHERE id = 2")
    db.commit()
    db.close()
    proc = s.keel.run("trail", "verify")
    assert proc.returncode == 65, (proc.returncode, proc.stdout, proc.stderr)
    assert "event 2 " in proc.stderr and "edited" in proc.stderr, proc.stderr


def client_mail(msgid, subject, body, sender="Sam Client <sam@acme.example>", extra=""):
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return ("From: %s\r\nTo: Bob <%s>\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: <%s>\r\n%sMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
            % (sender, USER, subject, date, msgid, extra, body)).encode()


@with_setup("auto")
def test_client_mail_in_confirmation_out_with_threading(s):
    old = client_mail("old-1@acme.example", "Old news", "Please send the 2019 accounts.")
    s.dovecot.seed("bob", "INBOX", [old])
    s.keel_ok("daemon", "--once")  # first sync: history, never answered
    assert s.sink.delivered() == [], "history was answered"
    s.dovecot.append("bob", "INBOX", client_mail(
        "new-1@acme.example", "Room booking",
        "Hi Bob,\r\n\r\nCould you book the meeting room for Monday at 10am, please?\r\n"
        "\r\nThanks\r\nSam"))
    s.keel_ok("daemon", "--once")  # stores, plans the confirmation, runs the outbox
    delivered = s.sink.delivered()
    assert len(delivered) == 1, [m["Subject"] for m, _, _ in delivered]
    msg, info, _ = delivered[0]
    assert info["rcpt_tos"] == ["sam@acme.example"], info
    assert msg["Subject"] == "Re: Room booking", msg["Subject"]
    assert msg["In-Reply-To"] == "<new-1@acme.example>", msg["In-Reply-To"]
    assert "<new-1@acme.example>" in msg["References"], msg["References"]
    assert msg["Auto-Submitted"] == "auto-replied", msg["Auto-Submitted"]
    assert "meeting room" in msg.get_content(), msg.get_content()
    s.keel_ok("daemon", "--once")  # nothing new: nothing more sent
    assert len(s.sink.delivered()) == 1


@with_setup("auto")
def test_angry_automated_and_bulk_mail_get_no_reply(s):
    """Only the VA hears of these (the angry one raises an alert to her)."""
    s.keel_ok("daemon", "--once")  # first sync of the empty folder
    angry = client_mail("angry-1@acme.example", "Invoice",
                        "This is UNACCEPTABLE. I am not paying this invoice and my solicitor "
                        "will be in touch. Send me the timesheets by Friday.")
    away = client_mail("ooo-1@acme.example", "Automatic reply: Invoice",
                       "I am out of the office until Monday. Please send urgent items to Ann.",
                       extra="Auto-Submitted: auto-replied\r\n")
    bulk = client_mail("news-1@acme.example", "URGENT: last chance",
                       "Book now! Please reply to reserve your seat by Friday.",
                       sender="Acme News <news@acme.example>",
                       extra="Precedence: bulk\r\nList-Id: <news.acme.example>\r\n")
    for raw in (angry, away, bulk):
        s.dovecot.append("bob", "INBOX", raw)
    s.keel_ok("daemon", "--once")
    delivered = s.sink.delivered()
    to_client = [m["Subject"] for m, info, _ in delivered if info["rcpt_tos"] != [USER]]
    assert to_client == [], to_client
    # The angry message (a threat) raises one alert, to the VA herself.
    assert [m["Subject"] for m, _, _ in delivered] == [
        'keel alert: Sam Client: a threat in "Invoice"'], delivered
    # and a calm holding draft for her (never sent: drafted, even in auto mode)
    assert sorted(r["kind"] for r in s.outbox()) == ["alert", "holding"], s.outbox()


@with_setup("auto")
def test_note_emailed_to_the_note_address_is_confirmed(s):
    s.keel_ok("daemon", "--once")  # first sync of the empty folder
    s.dovecot.append("bob", "INBOX", client_mail(
        "note-1@va.example", "Call with Sam Client", NOTE,
        sender="Bob <%s>" % USER,
        # her own server (authserv-id: the IMAP host) vouches for it
        extra="Authentication-Results: 127.0.0.1; dkim=pass header.d=va.example\r\n",
    ).replace(b"To: Bob <%s>" % USER.encode(), b"To: bob+keel-%s@va.example" % NOTE_TOKEN.encode()))
    s.keel_ok("daemon", "--once")
    delivered = s.sink.delivered()
    assert len(delivered) == 1, [m["Subject"] for m, _, _ in delivered]
    msg, info, _ = delivered[0]
    assert info["rcpt_tos"] == ["sam@acme.example"], info
    body = msg.get_content()
    assert "signed contract" in body and "meeting room" in body, body
    trail = s.keel_ok("trail", "--format", "json").stdout
    kinds = [e["kind"] for e in json.loads(trail)]
    assert kinds[:3] == ["note", "instruction", "instruction"], kinds


if __name__ == "__main__":
    cases = [test_review_mode_makes_a_draft_and_sends_nothing,
             test_451_then_250_delivers_exactly_one,
             test_550_fails_and_is_never_retried,
             test_timeout_is_temporary,
             test_no_starttls_means_no_send,
             test_sigkill_between_send_and_mark_still_one_delivery,
             test_crash_after_250_in_the_default_setup_is_never_sent_twice,
             test_sent_copy_is_filed_before_sent_and_reconciled,
             test_digest_and_retry_go_out_while_imap_is_down,
             test_ingest_continues_while_smtp_stalls,
             test_crlf_subject_injects_no_header,
             test_trail_verify_names_the_tampered_event,
             test_client_mail_in_confirmation_out_with_threading,
             test_angry_automated_and_bulk_mail_get_no_reply,
             test_note_emailed_to_the_note_address_is_confirmed]
    try:
        rc = harness.Tap(cases).run(sys.argv[1:])
    finally:
        harness.KeelRun.close_all()
    sys.exit(rc)
