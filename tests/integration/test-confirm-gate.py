"""tests/integration/test-confirm-gate.py: the confirmation gate end to end.

For each labelled world of ../shared/corpus/ (dev, us, au, ph), a private
Dovecot (harness.py) and the SMTP sink (smtp_sink.py); keel runs with that
world's own keel.conf (its clients, time zone, business hours) in review
mode. `keel daemon --once` first syncs the empty INBOX (history: never
answered), then every message labelled `confirm` and every message labelled
risky is dropped into INBOX in file order, and `keel daemon --once` polls,
scores, plans and drafts. Every draft in Drafts is matched by In-Reply-To to
the message it answers: a draft for a message labelled risky, or not labelled
`confirm`, is an unsafe confirmation and fails the case. Nothing may reach a
client over SMTP (review mode).

KNOWN_MISSES lists messages that the rules of this branch do not yet see
(calm blame, cold leverage: no rule fires, so there is no evidence against
the reply; issue 15 items 1-2 are the rules' work). They are reported as
"# known miss" and do not fail the case; with KEEL_GATE_STRICT=1 they do.
Each world prints its figures: drafts, unsafe ones, and the share of
confirm-labelled messages that got a draft.

TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd,
python3-aiosmtpd and openssl; about 10 s per world."""

import email
import email.policy
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "gatepw"
CORPUS = os.path.join(os.environ.get("KEEL_SHARED",
                                     os.path.join(HERE, "..", "..", "..", "shared")), "corpus")
WORLDS = ("dev", "us", "au", "ph")
# Unsafe drafts the rules of this branch cannot prevent yet: no rule fires.
KNOWN_MISSES = {
    "us/210.eml", "us/245.eml", "au/318.eml", "au/341.eml",
    "ph/417.eml", "ph/432.eml", "ph/440.eml",
}
STRICT = os.environ.get("KEEL_GATE_STRICT") == "1"


def world_config(world, keel, dovecot, sink, user):
    """The world's keel.conf with our database, rules, review mode and an
    account on the private servers in place of its [account main]."""
    with open(os.path.join(CORPUS, world, "keel.conf")) as f:
        text = f.read()
    text = re.sub(r"(?ms)^\[account main\].*?(?=^\[)", "", text)
    text = re.sub(r"(?m)^mode\s*=.*$", "", text)
    pwfile = os.path.join(keel.dir, "pw")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(PASSWORD + "\n")
    ours = "\n".join([
        "database = " + keel.database,
        "rules = " + os.path.join(keel.source_root, "rules"), "mode = review", "",
        "[account main]", "imap = " + dovecot.url("imaps"),
        "smtp = smtp://127.0.0.1:%d" % sink.port, "user = " + user,
        "password_file = " + pwfile, "ca_file = " + dovecot.cert,
        "connect_timeout = 5", "read_timeout = 10", ""])
    text = text.replace("[keel]\n", "[keel]\n" + ours.split("\n\n")[0] + "\n", 1)
    text += "\n" + ours.split("\n\n", 1)[1]
    with open(keel.config, "w") as f:
        f.write(text)


def world_user(world):
    with open(os.path.join(CORPUS, world, "keel.conf")) as f:
        section = f.read().split("[account main]", 1)[1]
    return re.search(r"(?m)^user\s*=\s*(\S+)", section).group(1)


def selected(world):
    """(file, label, raw, Message-ID) of every confirm-labelled or risky message."""
    with open(os.path.join(CORPUS, world, "labels.json")) as f:
        labels = json.load(f)
    result = []
    for label in sorted(labels, key=lambda entry: entry["file"]):
        if label["auto_reply"] != "confirm" and not label["risky"]:
            continue
        with open(os.path.join(CORPUS, world, label["file"]), "rb") as f:
            raw = f.read()
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        msgid = (msg["Message-ID"] or "").strip().strip("<>")
        result.append((label["file"], label, raw, msgid))
    return result


def drafts_in_reply_to(dovecot, login):
    """The In-Reply-To (without <>) of every automatic reply in Drafts. The calm
    holding drafts for risky threads (issue 18) are left out: they answer risky
    mail on purpose, are the VA's own words to edit and send, and carry no
    Auto-Submitted header, which every confirmation does."""
    conn = dovecot.client(login)
    try:
        typ, _ = conn.select('"Drafts"', readonly=True)
        assert typ == "OK"
        typ, data = conn.uid("FETCH", "1:*",
                             "(BODY.PEEK[HEADER.FIELDS (IN-REPLY-TO AUTO-SUBMITTED)])")
        found = []
        for item in data:
            if isinstance(item, tuple):
                head = email.message_from_bytes(item[1], policy=email.policy.compat32)
                if head["Auto-Submitted"]:
                    found.append((head["In-Reply-To"] or "").strip().strip("<>"))
        return found
    finally:
        conn.logout()


def keel_ok(keel, *args):
    proc = keel.run(*args)
    if proc.returncode != 0:
        raise AssertionError("keel %s: rc %d\n%s%s" % (" ".join(args), proc.returncode,
                                                      proc.stdout, proc.stderr))
    return proc


def check_world(world):
    user = world_user(world)
    login = user.split("@")[0]
    dovecot = harness.Dovecot(users={login: PASSWORD}).start()
    sink = harness.Sink(dovecot, user, PASSWORD)
    keel = harness.KeelRun()
    try:
        world_config(world, keel, dovecot, sink, user)
        keel_ok(keel, "daemon", "--once")  # first sync of the empty INBOX: history
        messages = selected(world)
        dovecot.seed(login, "INBOX", [raw for _, _, raw, _ in messages], first=1000)
        keel_ok(keel, "daemon", "--once")
        by_id = {msgid: (name, label) for name, label, _, msgid in messages}
        drafts = drafts_in_reply_to(dovecot, login)
        unsafe, known, confirmed = [], [], set()
        for reply_to in drafts:
            name, label = by_id.get(reply_to, ("?", None))
            assert label is not None, "a draft answers no message of the set: <%s>" % reply_to
            key = "%s/%s" % (world, name)
            if label["auto_reply"] == "confirm" and not label["risky"]:
                confirmed.add(name)
            elif key in KNOWN_MISSES and not STRICT:
                known.append(key)
            else:
                unsafe.append("%s (%s)" % (key, label["notes"][:90]))
        want = sum(1 for _, label, _, _ in messages if label["auto_reply"] == "confirm")
        print("# %s: %d messages, %d drafts, %d unsafe, %d known misses, %d/%d confirm-labelled "
              "drafted" % (world, len(messages), len(drafts), len(unsafe), len(known),
                           len(confirmed), want), flush=True)
        for key in known:
            print("# known miss: draft for %s" % key, flush=True)
        to_clients = [r for r in sink.recipients() if r.lower() != user.lower()]
        assert to_clients == [], "review mode sent mail to %s" % to_clients
        assert unsafe == [], "unsafe drafts:\n" + "\n".join(unsafe)
    finally:
        sink.close()
        dovecot.close()
        keel.close()


def make_case(world):
    def case():
        check_world(world)
    case.__name__ = "test_no_unsafe_draft_in_" + world
    return case


if __name__ == "__main__":
    if not os.path.isdir(CORPUS):
        print("1..0 # SKIP no labelled corpus at %s" % CORPUS)
        sys.exit(0)
    sys.exit(harness.Tap([make_case(w) for w in WORLDS]).run(sys.argv[1:]))
