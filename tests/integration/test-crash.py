"""tests/integration/test-crash.py: the crash loop (isync's idea). keel is
killed with SIGKILL after each side effect in turn (KEEL_TEST_CRASH_AT=
<point>[:n], daemon/base/crash.h), restarted, and the final state is compared
with an uninterrupted run of the same work:

  every client message stored once, every reply delivered at most once and
  every reply of the uninterrupted run delivered (SMTP sink count per
  Message-ID), the digest delivered once, no draft duplicated (Drafts count
  per Message-ID), no Sent copy duplicated, the same outbox rows.

The one allowed difference is the one at-most-once asks for: a kill right
after SMTP's 250 and before keel recorded it leaves that reply `uncertain`
(delivered once, told to the VA, not re-sent on a guess) where the
uninterrupted run says `sent`.

The work: a first sync of an empty INBOX, three client messages with
instructions (three confirmations), and `[digest] at = 00:00` (a digest).
Auto mode covers fetch, store, claim, SMTP, the Sent append and the digest;
review mode covers the draft append. Each point is killed at its 1st, 2nd
and 3rd passage where there are that many. Prints a summary line with the
number of kills and of duplicates.

TAP output; run with /usr/bin/python3. Needs root, dovecot-imapd,
python3-aiosmtpd and openssl."""

import collections
import importlib.util
import json
import os
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

_spec = importlib.util.spec_from_file_location("smtp_tests", os.path.join(HERE, "test-smtp.py"))
smtp_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smtp_tests)

BODIES = ["Could you book the meeting room for Monday at 10am, please?",
          "Please send the signed contract to Sam by Friday 5pm.",
          "Could you order the new printer by Thursday, please?"]

AUTO_POINTS = [("after-fetch", 3), ("after-store", 1), ("after-claim", 4), ("after-smtp", 4),
               ("after-sent-append", 4), ("after-digest-queued", 1)]
REVIEW_POINTS = [("after-fetch", 1), ("after-claim", 2), ("after-draft-append", 3),
                 ("after-digest-queued", 1)]

TOTALS = {"kills": 0, "duplicates": 0, "uncertain": 0}


def run_work(s, crash=None):
    """The same work every time; `crash` kills keel once on the way."""
    s.keel_ok("daemon", "--once")  # first sync: the empty INBOX
    for i, body in enumerate(BODIES):
        s.dovecot.append("bob", "INBOX", smtp_tests.client_mail(
            "crash-%d@acme.example" % i, "Job %d" % i, "Hi Bob,\r\n\r\n%s\r\n\r\nSam" % body))
    if crash:
        proc = s.keel.run("daemon", "--once", env={"KEEL_TEST_CRASH_AT": crash})
        assert proc.returncode == -9, "not killed at %s: rc %d\n%s" % (crash, proc.returncode,
                                                                      proc.stderr[-2000:])
        TOTALS["kills"] += 1
    for _ in range(3):  # restart until quiet: the Sent copies come back as outgoing mail
        proc = s.keel.run("daemon", "--once")
        assert proc.returncode == 0, proc.stderr[-2000:]


def snapshot(s):
    db = sqlite3.connect(s.keel.database)
    messages = db.execute("SELECT message_id, direction FROM messages").fetchall()
    db.close()
    delivered = collections.Counter(str(m["Message-ID"]) for m, _, _ in s.sink.delivered())
    folders = {f: collections.Counter(m for _, m in s.folder_messages(f))
               for f in ("Drafts", "Sent")}
    rows = sorted((r["kind"], r["to"], r["subject"], r["state"]) for r in s.outbox())
    return {"messages": messages, "delivered": delivered, "folders": folders, "rows": rows,
            "ids": {r["message_id"]: r["state"] for r in s.outbox()}}


def duplicates(snap):
    count = sum(n - 1 for n in snap["delivered"].values() if n > 1)
    for counter in snap["folders"].values():
        count += sum(n - 1 for n in counter.values() if n > 1)
    return count


def compare(point, got, want):
    dup = duplicates(got)
    TOTALS["duplicates"] += dup
    assert dup == 0, "%s: duplicates %s" % (point, got)
    # a reply left uncertain was delivered but has no Sent copy (so it is not
    # stored as outgoing mail either): the VA decides (keel outbox retry)
    uncertain = sum(1 for r in got["rows"] if r[3] == "uncertain")
    assert uncertain == 0 or point == "after-smtp", (point, got["rows"])
    TOTALS["uncertain"] += uncertain
    incoming = sorted(m for m, d in got["messages"] if "acme" in m)
    assert incoming == sorted(m for m, d in want["messages"] if "acme" in m), (point, got)
    assert len(got["messages"]) == len(want["messages"]) - uncertain, \
        (point, got["messages"], want["messages"])
    assert sum(got["delivered"].values()) == sum(want["delivered"].values()), (point, got)
    for folder, missing in (("Drafts", 0), ("Sent", uncertain)):
        assert sum(got["folders"][folder].values()) == \
            sum(want["folders"][folder].values()) - missing, \
            (point, folder, got["folders"], want["folders"])
    allowed = [(k, t, subj, "sent" if st == "uncertain" else st)
               for k, t, subj, st in got["rows"]]
    assert sorted(allowed) == want["rows"], (point, got["rows"], want["rows"])


def make_case(mode, point, n, reference):
    def case():
        s = smtp_tests.Setup(mode, extra="[digest]\nat = 00:00\n")
        try:
            run_work(s, "%s:%d" % (point, n))
            compare(point, snapshot(s), reference[mode])
        finally:
            s.close()
    case.__name__ = "test_%s_killed_%s_%d" % (mode, point.replace("-", "_"), n)
    return case


def make_reference(mode, reference):
    def case():
        s = smtp_tests.Setup(mode, extra="[digest]\nat = 00:00\n")
        try:
            run_work(s)
            snap = snapshot(s)
            assert duplicates(snap) == 0, snap
            states = [r[3] for r in snap["rows"]]
            want = ["sent"] * 4 if mode == "auto" else ["drafted"] * 3 + ["sent"]
            assert sorted(states) == sorted(want), snap["rows"]
            reference[mode] = snap
        finally:
            s.close()
    case.__name__ = "test_%s_uninterrupted_run" % mode
    return case


def test_summary():
    print("# crash loop: %d kills, %d duplicates, %d uncertain rows (after-smtp only)"
          % (TOTALS["kills"], TOTALS["duplicates"], TOTALS["uncertain"]), flush=True)
    assert TOTALS["duplicates"] == 0


if __name__ == "__main__":
    reference = {}
    cases = [make_reference("auto", reference), make_reference("review", reference)]
    for mode, points in (("auto", AUTO_POINTS), ("review", REVIEW_POINTS)):
        for point, times in points:
            for n in range(1, times + 1):
                cases.append(make_case(mode, point, n, reference))
    cases.append(test_summary)
    only = sys.argv[1:]
    if only:  # the references always run
        cases = cases[:2] + [c for c in cases[2:] if any(o in c.__name__ for o in only)]
    try:
        rc = harness.Tap(cases).run()
    finally:
        harness.KeelRun.close_all()
    sys.exit(rc)
