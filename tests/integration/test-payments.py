"""tests/integration/test-payments.py: a simulated month of payment chasing
for one late-paying client, against a private Dovecot and the SMTP sink
(harness.py, smtp_sink.py), with `keel daemon --once --now ...` once a
simulated morning.

The VA emails invoice INV-042 (Sent folder): keel records it (£1,486.20,
terms 14 days: due Thu 15 Oct 2026). Step 1 (+3 = Sun 18 Oct) goes on Mon 19
Oct at the first run inside business hours; keel is SIGKILLed between SMTP's
250 and marking the row sent, and the restart delivers nothing twice. The
client answers "I'll pay it on Friday" (promise: Fri 23 Oct): silence until
Mon 26 Oct (after the clock change), then a broken-promise follow-up that
quotes the promise. The client then disputes the invoice: chasing stops,
the digest shows the dispute with its evidence summary, `keel invoice show`
tells the whole story, `keel invoice evidence` lists the trail hashes, and
`keel trail verify` holds. Nothing is sent at night or at the weekend.

A second case: review mode puts the chase in Drafts (\\Draft), sends nothing,
and `keel --now ... invoice list --overdue --json` shows the step taken.

TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd,
python3-aiosmtpd and openssl."""

import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
smtp = __import__("test-smtp")  # Sink and Setup: the same servers as the outbox tests

VA = smtp.USER
LONDON = datetime.timezone(datetime.timedelta(hours=1))  # BST until Sun 25 Oct
GMT = datetime.timezone.utc


def mail(msgid, sender, to, subject, date, body, extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n%s"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
            % (sender, to, subject, date.strftime("%a, %d %b %Y %H:%M:%S %z"), msgid, extra,
               body)).encode()


class Month:
    """Setup (auto mode) plus the simulated clock."""

    def __init__(self, mode="auto"):
        # the sink files what it accepts in Sent, as Gmail does: the proof a
        # restarted keel looks for after a crash between SMTP's 250 and the mark
        self.s = smtp.Setup(mode, file_sent=True)
        with open(self.s.keel.config) as f:
            text = f.read()
        text = text.replace("[account main]\n", "[account main]\nserver_files_sent = true\n")
        with open(self.s.keel.config, "w") as f:
            f.write(text + "[payments]\ncurrency = GBP\n")
        self.runs = []

    def daemon(self, when, env=None, expect=0):
        now = when.isoformat()
        # global options go before or after the command: both forms, in turn
        args = (("--now", now, "daemon", "--once") if len(self.runs) % 2
                else ("daemon", "--once", "--now", now))
        proc = self.s.keel.run(*args, env=env)
        assert proc.returncode == expect, (now, proc.returncode, proc.stderr)
        self.runs.append(now)
        return proc

    def to_client(self):
        return [(m, info) for m, info, _ in self.s.sink.delivered()
                if info["rcpt_tos"] == ["sam@acme.example"] and "INV-042" in m["Subject"]]

    def chase_rows(self):
        return [r for r in self.s.outbox() if r["kind"] == "chase"]

    def invoice(self):
        rows = json.loads(self.s.keel_ok("invoice", "list", "--json").stdout)
        return {r["number"]: r for r in rows}["INV-042"]

    def mornings(self, first, last, hour=10):
        day = first
        while day <= last:
            zone = LONDON if day < datetime.date(2026, 10, 25) else GMT
            yield datetime.datetime(day.year, day.month, day.day, hour, 0, tzinfo=zone)
            day += datetime.timedelta(days=1)


def test_a_month_of_chasing_one_late_payer():
    m = Month()
    try:
        run_month(m)
    finally:
        m.s.close()


def run_month(m):
    s = m.s
    # September's instruction is history when keel starts: recorded, never answered
    s.dovecot.seed("bob", "INBOX", [mail(
        "sam-0@acme.example", "Sam Client <sam@acme.example>", "Bob <%s>" % VA, "Leeds trip",
        datetime.datetime(2026, 9, 8, 9, 30, tzinfo=LONDON),
        "Hi Bob,\r\n\r\nPlease book the train to Leeds for the 14th by Friday.\r\n\r\nSam")])
    m.daemon(datetime.datetime(2026, 10, 1, 9, 0, tzinfo=LONDON))  # first sync
    s.dovecot.append("bob", "Sent", mail(
        "inv-042@va.example", "Bob VA <%s>" % VA, "Sam Client <sam@acme.example>",
        "Invoice INV-042 for September", datetime.datetime(2026, 10, 1, 10, 0, tzinfo=LONDON),
        "Hi Sam,\r\n\r\nPlease find attached invoice INV-042 for September.\r\n"
        "Total: £1,486.20\r\nPayment within 14 days, by bank transfer.\r\n\r\nThanks, Bob"),
        flags="\\Seen")
    m.daemon(datetime.datetime(2026, 10, 1, 11, 0, tzinfo=LONDON))
    inv = m.invoice()
    assert (inv["amount_minor"], inv["currency"], inv["due"]) == (148620, "GBP", "2026-10-15"), inv
    assert inv["amount"] == "£1,486.20", inv

    # every morning to Sun 18 Oct, and the Saturday and Sunday nights: nothing
    for when in m.mornings(datetime.date(2026, 10, 2), datetime.date(2026, 10, 18)):
        m.daemon(when)
    m.daemon(datetime.datetime(2026, 10, 18, 23, 30, tzinfo=LONDON))
    assert m.chase_rows() == [] and m.to_client() == [], m.chase_rows()

    # Mon 19 Oct 07:30: a step is due, but not before business hours
    m.daemon(datetime.datetime(2026, 10, 19, 7, 30, tzinfo=LONDON))
    assert m.chase_rows() == []
    # 10:00: step 1; keel dies between SMTP's 250 and marking it sent
    m.daemon(datetime.datetime(2026, 10, 19, 10, 0, tzinfo=LONDON),
             env={"KEEL_TEST_CRASH_AFTER_SEND": "1"}, expect=137)
    m.daemon(datetime.datetime(2026, 10, 19, 10, 5, tzinfo=LONDON))
    m.daemon(datetime.datetime(2026, 10, 19, 15, 0, tzinfo=LONDON))
    sent = m.to_client()
    assert len(sent) == 1, [x[0]["Subject"] for x in sent]
    first, _ = sent[0]
    assert first["Subject"] == "Invoice INV-042: payment reminder", first["Subject"]
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["In-Reply-To"] == "<inv-042@va.example>", first["In-Reply-To"]
    assert "INV-042: £1,486.20, due 15 Oct 2026 (4 days overdue)" in first.get_content(), \
        first.get_content()

    # Tue 20 Oct: the client promises Friday
    s.dovecot.append("bob", "INBOX", mail(
        "sam-1@acme.example", "Sam Client <sam@acme.example>", "Bob <%s>" % VA,
        "Re: Invoice INV-042: payment reminder",
        datetime.datetime(2026, 10, 20, 14, 0, tzinfo=LONDON),
        "Hi Bob,\r\n\r\nSorry, it slipped through. I'll pay it on Friday.\r\n\r\nSam",
        extra="In-Reply-To: %s\r\n" % first["Message-ID"]))
    for when in m.mornings(datetime.date(2026, 10, 20), datetime.date(2026, 10, 25)):
        m.daemon(when)
    assert m.invoice()["promise_date"] == "2026-10-23", m.invoice()
    assert len(m.to_client()) == 1, "chased during the promise"

    # Mon 26 Oct (GMT now): no payment on Friday -> broken promise, follow-up
    m.daemon(datetime.datetime(2026, 10, 26, 8, 30, tzinfo=GMT))
    assert len(m.to_client()) == 1, "sent before business hours"
    m.daemon(datetime.datetime(2026, 10, 26, 10, 0, tzinfo=GMT))
    sent = m.to_client()
    assert len(sent) == 2, [x[0]["Subject"] for x in sent]
    follow = sent[1][0]
    assert follow["Subject"] == "Invoice INV-042: payment not received", follow["Subject"]
    assert "\"I'll pay it on Friday.\"" in follow.get_content(), follow.get_content()

    # Tue 27 Oct: a dispute
    s.dovecot.append("bob", "INBOX", mail(
        "sam-2@acme.example", "Sam Client <sam@acme.example>", "Bob <%s>" % VA,
        "Re: Invoice INV-042: payment not received",
        datetime.datetime(2026, 10, 27, 9, 15, tzinfo=GMT),
        "Bob, looking at it again this is more than we agreed. You charged for travel, "
        "which I never agreed to.\r\n\r\nSam",
        extra="In-Reply-To: %s\r\n" % follow["Message-ID"]))
    for when in m.mornings(datetime.date(2026, 10, 27), datetime.date(2026, 11, 6)):
        m.daemon(when)
    inv = m.invoice()
    assert (inv["state"], inv["pause_reason"]) == ("paused", "dispute"), inv
    assert len(m.to_client()) == 2, "chased after a dispute"
    assert len(m.chase_rows()) == 2, m.chase_rows()

    story = s.keel_ok("invoice", "show", "INV-042").stdout
    for kind in ("invoice_added", "chase_queued", "promise ", "promise_broken", "dispute",
                 ": sent"):
        assert kind in story, (kind, story)
    evidence = s.keel_ok("invoice", "evidence", "INV-042").stdout
    assert "train to Leeds" in evidence and "more than we agreed" in evidence, evidence
    assert "sha256" in evidence, evidence
    digest = s.keel_ok("digest", "--text", "--now", "2026-10-28T08:00:00Z").stdout
    assert "PAYMENTS" in digest and "INV-042" in digest and "dispute" in digest, digest
    s.keel_ok("trail", "verify")
    trail = json.loads(s.keel_ok("trail", "--format", "json").stdout)
    assert any(e["detail"].startswith("INV-042:") for e in trail)
    print("# simulated month (%d daemon runs): keel invoice show INV-042" % len(m.runs))
    for line in story.splitlines():
        print("#   " + line)


def test_review_mode_drafts_the_chase():
    m = Month("review")
    try:
        s = m.s
        m.daemon(datetime.datetime(2026, 10, 1, 9, 0, tzinfo=LONDON))  # first sync: empty
        s.keel_ok("--now", "2026-10-01T10:00:00+01:00", "invoice", "add", "acme", "INV-7",
                  "150", "--terms", "14d")
        m.daemon(datetime.datetime(2026, 10, 19, 10, 0, tzinfo=LONDON))
        m.daemon(datetime.datetime(2026, 10, 19, 14, 0, tzinfo=LONDON))
        rows = m.chase_rows()
        assert [(r["state"], r["to"], r["subject"]) for r in rows] == [
            ("drafted", "sam@acme.example", "Invoice INV-7: payment reminder")], rows
        drafts = s.folder_messages("Drafts")
        assert len(drafts) == 1 and "\\Draft" in drafts[0][0], drafts
        assert drafts[0][1] == "<%s>" % rows[0]["message_id"], (drafts, rows)
        assert s.sink.delivered() == [], "review mode sent a chase"
        overdue = json.loads(s.keel_ok("--now", "2026-10-19T14:00:00+01:00", "invoice", "list",
                                       "--overdue", "--json").stdout)
        assert [(i["number"], i["days_overdue"], i["last_step"]) for i in overdue] == [
            ("INV-7", 4, 1)], overdue
    finally:
        m.s.close()


if __name__ == "__main__":
    try:
        rc = harness.Tap([test_a_month_of_chasing_one_late_payer,
                          test_review_mode_drafts_the_chase]).run(sys.argv[1:])
    finally:
        harness.KeelRun.close_all()
    sys.exit(rc)
