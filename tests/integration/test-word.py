"""tests/integration/test-word.py: keeping the VA's word against a real Dovecot
and the SMTP sink (the Setup of test-smtp.py), keel daemon --once in mode = auto:

  * a risky client message gets a calm holding draft in Drafts (\\Draft,
    threaded onto it, quoting the trail's facts: the instruction asked earlier
    and the confirmation keel sent), and nothing is sent for it;
  * her reply in Sent with "I'll send ... by Friday" is a tracked promise
    (`keel promises --json`); her later "Done, here it is" with an attachment
    keeps it and marks the client's instruction probably done
    (`keel instruction list --json`), and `keel instruction done` echoes it.

TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd,
python3-aiosmtpd and openssl."""

import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

_spec = importlib.util.spec_from_file_location("smtp_cases", os.path.join(HERE, "test-smtp.py"))
smtp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smtp)


def va_mail(msgid, reply_to, subject, body, attach=False):
    """A message the VA sent (as her Sent folder holds it)."""
    raw = smtp.client_mail(msgid, subject, body, sender="Bob <%s>" % smtp.USER,
                           extra="In-Reply-To: <%s>\r\n" % reply_to).decode()
    raw = raw.replace("To: Bob <%s>" % smtp.USER, "To: Sam Client <sam@acme.example>")
    if attach:
        head, text = raw.split("Content-Type: text/plain; charset=utf-8\r\n\r\n", 1)
        raw = (head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text +
               "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
               "filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               "JVBERi0xLjQK\r\n--b--\r\n")
    return raw.encode()


@smtp.with_setup("auto")
def test_risky_message_gets_a_holding_draft_and_nothing_is_sent(s):
    s.dovecot.seed("bob", "Sent", [])
    s.keel_ok("daemon", "--once")  # first sync of empty folders
    s.dovecot.append("bob", "INBOX", smtp.client_mail(
        "ask-1@acme.example", "March report",
        "Hi Bob,\r\n\r\nCould you send me the March report by Friday, please?\r\n\r\nSam"))
    s.keel_ok("daemon", "--once")  # the instruction, confirmed (auto mode: sent)
    confirmations = [m for m, info, _ in s.sink.delivered() if info["rcpt_tos"] != [smtp.USER]]
    assert len(confirmations) == 1, confirmations
    s.dovecot.append("bob", "INBOX", smtp.client_mail(
        "angry-1@acme.example", "Re: March report",
        "This is UNACCEPTABLE. You missed the deadline AGAIN and my solicitor will be in "
        "touch. I am not paying this invoice.",
        extra="In-Reply-To: <ask-1@acme.example>\r\n"))
    s.keel_ok("daemon", "--once")
    holding = [r for r in s.outbox() if r["kind"] == "holding"]
    assert len(holding) == 1 and holding[0]["state"] == "drafted", s.outbox()
    to_client = [m["Subject"] for m, info, _ in s.sink.delivered()
                 if info["rcpt_tos"] != [smtp.USER]]
    assert to_client == ["Re: March report"], to_client  # only the earlier confirmation
    drafts = s.folder_messages("Drafts")
    assert len(drafts) == 1 and "\\Draft" in drafts[0][0], drafts
    assert drafts[0][1] == "<%s>" % holding[0]["message_id"], (drafts, holding)
    conn = s.dovecot.client("bob")
    try:
        conn.select('"Drafts"', readonly=True)
        typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        raw = data[0][1].decode("utf-8", "replace")
    finally:
        conn.logout()
    body = raw.replace("=\r\n", "")
    assert "In-Reply-To: <angry-1@acme.example>" in raw, raw
    assert "March report by Friday" in body, body
    assert "I confirmed this in writing" in body, body
    assert "will update you by" in body, body
    digest = s.keel_ok("digest", "--text").stdout
    assert "holding draft waits" in digest, digest


@smtp.with_setup("auto")
def test_her_promise_is_tracked_and_her_delivery_closes_the_work(s):
    s.dovecot.seed("bob", "Sent", [])
    s.keel_ok("daemon", "--once")
    s.dovecot.append("bob", "INBOX", smtp.client_mail(
        "ask-2@acme.example", "Q1 figures",
        "Hi Bob,\r\n\r\nPlease send me the Q1 figures spreadsheet.\r\n\r\nSam"))
    s.keel_ok("daemon", "--once")
    s.dovecot.append("bob", "Sent", va_mail(
        "va-1@va.example", "ask-2@acme.example", "Re: Q1 figures",
        "Hi Sam,\r\n\r\nI'll send you the figures by Friday 17:00.\r\n\r\nBob"))
    s.keel_ok("daemon", "--once")
    promises = [json.loads(line) for line in s.keel_ok("promises", "--json").stdout.split("\n")
                if line]
    assert len(promises) == 1 and promises[0]["due"] and promises[0]["due"].endswith("T17:00"), \
        promises
    s.dovecot.append("bob", "Sent", va_mail(
        "va-2@va.example", "va-1@va.example", "Re: Q1 figures",
        "Hi Sam,\r\n\r\nHere it is.\r\n\r\nBob", attach=True))
    s.keel_ok("daemon", "--once")
    assert s.keel_ok("promises", "--json").stdout.strip() == "", "the promise is still open"
    work = [json.loads(line) for line in
            s.keel_ok("instruction", "list", "--json").stdout.split("\n") if line]
    assert len(work) == 1 and work[0]["probably_done"], work
    done = s.keel_ok("instruction", "done", str(work[0]["id"])).stdout
    assert "Q1 figures" in done, done


if __name__ == "__main__":
    cases = [test_risky_message_gets_a_holding_draft_and_nothing_is_sent,
             test_her_promise_is_tracked_and_her_delivery_closes_the_work]
    try:
        rc = harness.Tap(cases).run(sys.argv[1:])
    finally:
        harness.KeelRun.close_all()
    sys.exit(rc)
