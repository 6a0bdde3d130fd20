"""tests/integration/test-digest.py: `keel digest` end to end, from the demo
mailbox (tests/data/demo/Maildir, imported and scored with the real rules):

- the HTML part rendered by headless Chromium: the headings are in the DOM it
  dumps, the chart has its bars, and the screenshot is a real PNG with
  something on it;
- `keel digest --send` then `keel outbox send` (auto mode) delivers it through
  the aiosmtpd sink (smtp_sink.py), which files a copy in a private Dovecot's
  INBOX: the .eml is read back from the sink and the same message over IMAP;
- `keel digest` with nothing to say says so.

Set KEEL_DIGEST_OUT=DIR to keep the sample (digest.txt, digest.html,
digest.png). TAP output; run with /usr/bin/python3. Needs root, chromium,
dovecot-imapd, python3-aiosmtpd and openssl."""

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KEEL_SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE)))
DEMO_CONF = os.path.join(ROOT, "tests", "data", "demo", "keel.conf")
DEMO_MAILDIR = os.path.join(ROOT, "tests", "data", "demo", "Maildir")
NOW = "2026-03-13T08:00:00Z"   # the Friday after the demo mailbox's week
VA = "sam@samtaylor-va.example"
PASSWORD = "sampw"
# Sam answered Lime & Ledger on Thursday (her promise and the work it did show
# under "Your word"); Monday's mail is history older than history_window, so
# nobody is listed as waiting (unit tests cover that section).
HEADINGS = ["Risky threads", "Due and overdue", "Your word"]


def keel_ok(run, *args):
    proc = run.run(*args)
    if proc.returncode != 0:
        raise AssertionError("keel %s: rc %d\n%s%s" % (" ".join(args), proc.returncode,
                                                      proc.stdout, proc.stderr))
    return proc


def demo_config(run, extra_account=None, digest=""):
    """The demo's keel.conf with this run's database, rules and account."""
    with open(DEMO_CONF) as f:
        text = f.read()
    text = text.replace("database = /var/lib/keel/demo.db", "database = " + run.database
                        + "\nrules = " + os.path.join(ROOT, "rules"))
    if extra_account:
        start = text.index("[account sam]")
        end = text.index("[client ")
        text = text[:start] + extra_account + "\n" + text[end:]
    with open(run.config, "w") as f:
        f.write(text + "\n" + digest)


def demo_store(run):
    keel_ok(run, "import", DEMO_MAILDIR)
    keel_ok(run, "rescore", "--now", NOW)


def chromium(*args, timeout=120):
    profile = tempfile.mkdtemp(prefix="keel-chromium-")
    try:
        return subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile] + list(args),
            capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def keep(name, data):
    out = os.environ.get("KEEL_DIGEST_OUT")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def test_html_renders_in_chromium():
    run = harness.KeelRun()
    demo_config(run)
    demo_store(run)
    html = keel_ok(run, "digest", "--html", "--now", NOW).stdout
    text = keel_ok(run, "digest", "--text", "--now", NOW).stdout
    keep("digest.txt", text.encode())
    keep("digest.html", html.encode())
    page = os.path.join(run.dir, "digest.html")
    with open(page, "w") as f:
        f.write(html)
    dom = chromium("--dump-dom", "file://" + page)
    assert dom.returncode == 0, dom.stderr
    for heading in HEADINGS:
        assert ">%s</h2>" % heading in dom.stdout, (heading, dom.stdout[:2000])
    assert "Hollybrook Events" in dom.stdout
    assert dom.stdout.count('class="bar"') == 8, "one bar per week"
    for tag in ("<script", " src=", "<link", "<img"):
        assert tag not in html.lower(), "no scripts, no remote resources: " + tag
    png = os.path.join(run.dir, "digest.png")
    shot = chromium("--screenshot=" + png, "--window-size=600,1200", "file://" + page)
    assert shot.returncode == 0 and os.path.exists(png), shot.stderr
    with open(png, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert len(data) > 20000, "a near-empty screenshot (%d bytes)" % len(data)
    keep("digest.png", data)
    assert text.splitlines()[0].startswith("keel: 1 risky thread"), text


def test_nothing_to_say():
    run = harness.KeelRun()
    demo_config(run)
    text = keel_ok(run, "digest", "--text", "--now", NOW).stdout
    assert text.splitlines()[0] == "keel: nothing needs you today", text
    assert "RISKY" not in text


def imap_messages(dovecot, user):
    conn = dovecot.client(user)
    try:
        typ, _ = conn.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [item[1] for item in data if isinstance(item, tuple)]
    finally:
        conn.logout()


def check_digest_message(raw):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["In-Reply-To"] is None and message["References"] is None
    assert str(message["Subject"]).startswith("keel: 1 risky thread · "), message["Subject"]
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"], parts
    html = message.get_body(("html",)).get_content()
    for heading in HEADINGS:
        assert heading in html, heading
    return message


def test_send_through_smtp_and_read_back_over_imap():
    dovecot = harness.Dovecot(users={"sam": PASSWORD}).start()
    sink = None
    try:
        dovecot.seed("sam", "INBOX", [])
        sink = harness.Sink(dovecot, VA, PASSWORD, file_to=dovecot.maildir("sam", "INBOX"))
        run = harness.KeelRun()
        pwfile = os.path.join(run.dir, "pw")
        with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORD + "\n")
        account = "\n".join([
            "[account sam]", "imap = " + dovecot.url("imaps"),
            "smtp = smtp://127.0.0.1:%d" % sink.port, "user = " + VA,
            "password_file = " + pwfile, "ca_file = " + dovecot.cert, "connect_timeout = 5",
            "read_timeout = 10", ""])
        demo_config(run, account, "[digest]\nat = 08:00\nto = " + VA + "\n")
        with open(run.config) as f:
            conf = f.read()
        with open(run.config, "w") as f:
            f.write(conf.replace("mode = review", "mode = auto"))
        demo_store(run)
        out = keel_ok(run, "digest", "--send", "--now", NOW).stdout
        assert "digest queued for 1 recipient(s)" in out, out
        keel_ok(run, "outbox", "send", "--server-files-sent", "--now", NOW)
        rows = json.loads(keel_ok(run, "outbox", "--json").stdout)
        digests = [r for r in rows if r["kind"] == "digest"]
        assert len(digests) == 1 and digests[0]["state"] == "sent", rows
        delivered = sink.delivered()
        assert len(delivered) == 1, delivered
        _, info, raw = delivered[0]
        assert info["rcpt_tos"] == [VA], info
        message = check_digest_message(raw)
        assert message["Message-ID"] == "<%s>" % digests[0]["message_id"]
        over_imap = imap_messages(dovecot, "sam")
        assert len(over_imap) == 1, len(over_imap)
        check_digest_message(over_imap[0])
        # the next digest lists nothing as sent by keel since this one
        text = keel_ok(run, "digest", "--text", "--now", "2026-03-14T08:00:00Z").stdout
        assert "WHAT KEEL SENT" not in text, text
    finally:
        if sink:
            sink.close()
        dovecot.close()


if __name__ == "__main__":
    cases = [test_html_renders_in_chromium, test_nothing_to_say,
             test_send_through_smtp_and_read_back_over_imap]
    try:
        rc = harness.Tap(cases).run(sys.argv[1:])
    finally:
        harness.KeelRun.close_all()
    sys.exit(rc)
