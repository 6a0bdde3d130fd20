#!/usr/bin/env python3
"""tests/unit/test-status.py: `keel status` (issues 14 and 19) without a mail
server: the outbox counts per state, the next digest time (in the VA's zone,
across a DST change, pending when due), the rules in force (and a broken set
with its file:line:col), and the configured folders the server said were
missing. The store is filled with sqlite3 the way keel's own writers leave it
(outbox rows, folders.missing_since); --now pins the clock. TAP output."""
import json
import os
import sys
import shutil
import sqlite3
import subprocess
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitap import KEEL as keel, ROOT as root, check, finish  # noqa: E402
tmp = tempfile.mkdtemp(prefix="keel-status-")
db = os.path.join(tmp, "keel.db")
STATES = ["queued", "claimed", "sending", "unfiled", "sent", "drafted", "tempfail", "failed",
          "uncertain", "cancelled"]



def write_config(path, rules, digest_at="08:00"):
    with open(path, "w") as f:
        f.write(f"[keel]\ndatabase = {db}\nrules = {rules}\ntimezone = America/New_York\n\n")
        if digest_at:
            f.write(f"[digest]\nat = {digest_at}\n\n")
        f.write("[account work]\nimap = imaps://127.0.0.1:9\nuser = va@example.com\n"
                f"password_file = {tmp}/pw\nfolders = INBOX;Clients\nsent_folder = Sent\n")


def status(config, *extra, json_out=True):
    args = [keel, "status", "--config", config, *extra] + (["--json"] if json_out else [])
    p = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        return None, p.stderr
    return (json.loads(p.stdout) if json_out else p.stdout), p.stderr


def fill_store():
    """Outbox rows in several states (one a digest queued 2026-03-07 08:00
    New York time), and folders: one configured and missing, one missing but
    no longer configured, one present."""
    conn = sqlite3.connect(db)
    rows = [("reply", "queued", 1), ("reply", "queued", 2), ("reply", "sent", 3),
            ("reply", "uncertain", 4), ("digest", "sent", 5)]
    digest_at = 1772888400  # 2026-03-07T13:00:00Z
    for kind, state, n in rows:
        conn.execute("INSERT INTO outbox (account, kind, message_id, mail_from, rcpt, subject,"
                     " raw, state, created, updated) VALUES ('work', ?, ?, 'va@example.com',"
                     " 'c@acme.example', 's', x'00', ?, ?, ?)",
                     (kind, "m%d@keel" % n, state, digest_at - 100 + n if kind != "digest"
                      else digest_at, digest_at))
    for name, missing in (("INBOX", None), ("Clients", digest_at), ("Old", digest_at)):
        conn.execute("INSERT INTO folders (account, name, missing_since) VALUES ('work', ?, ?)",
                     (name, missing))
    conn.commit()
    conn.close()


with open(os.path.join(tmp, "pw"), "w") as f:
    f.write("secret\n")
os.chmod(os.path.join(tmp, "pw"), 0o600)
config = os.path.join(tmp, "keel.conf")
write_config(config, os.path.join(root, "rules"))
empty, err = status(config)  # creates and migrates the database
check("status --json on a new database", empty is not None, err)
check("the JSON has accounts, outbox, digest and rules",
      empty and sorted(empty) == ["accounts", "digest", "outbox", "rules"], empty)
check("an empty outbox counts 0 in every state",
      empty and empty["outbox"] == {s: 0 for s in STATES}, empty and empty["outbox"])
fill_store()

# The day before the US clocks go forward (Sun 8 Mar 2026): the next digest
# is 08:00 EDT (-04:00) although the last one went at 08:00 EST (-05:00).
st, err = status(config, "--now", "2026-03-07T20:00:00Z")
check("status --json with rows", st is not None, err)
st = st or {"outbox": {}, "digest": {}, "rules": {}, "accounts": [{}]}
expected = {s: 0 for s in STATES}
expected.update(queued=2, sent=2, uncertain=1)
check("outbox counts per state (every state listed)", st["outbox"] == expected, st["outbox"])
check("digest: at, zone and last_sent (UTC)",
      st["digest"].get("at") == "08:00" and st["digest"].get("timezone") == "America/New_York"
      and st["digest"].get("last_sent") == "2026-03-07T13:00:00Z", st["digest"])
check("digest: next is 08:00 the next day with the new DST offset, not due",
      st["digest"].get("next") == "2026-03-08T08:00:00-04:00" and st["digest"].get("due") is False,
      st["digest"])
due, _ = status(config, "--now", "2026-03-08T12:30:00Z")  # 08:30 EDT, none sent today
check("digest: past 08:00 with none sent since, next is that run and due",
      due and due["digest"]["next"] == "2026-03-08T08:00:00-04:00" and due["digest"]["due"] is True,
      due and due["digest"])
write_config(config, os.path.join(root, "rules"), digest_at=None)
unset, _ = status(config, "--now", "2026-03-08T12:30:00Z")
check("digest: no [digest] at gives next null, last_sent still known",
      unset and unset["digest"]["next"] is None and unset["digest"]["at"] is None
      and unset["digest"]["last_sent"] == "2026-03-07T13:00:00Z", unset and unset["digest"])
write_config(config, os.path.join(root, "rules"))

# The rules in force: the same counts as keel rules check.
check_out = subprocess.run([keel, "rules", "check", os.path.join(root, "rules")],
                           capture_output=True, text=True).stdout
rules = st["rules"]
check("rules: dir, loads, and the counts keel rules check gives",
      rules.get("dir") == os.path.join(root, "rules") and rules.get("loads") is True
      and rules.get("error") is None and rules.get("rules", 0) > 0
      and "%d rules in %d files" % (rules.get("rules", 0), rules.get("files", 0)) in check_out
      and "%d templates" % rules.get("templates", 0) in check_out, (rules, check_out))

# The missing folders: configured ones only, listed on the account.
acc = st["accounts"][0]
check("account keys", sorted(acc) == ["folders", "last_error", "last_poll", "missing_folders",
                                      "name"], acc)
check("missing_folders lists the configured folder only", acc.get("missing_folders") == ["Clients"],
      acc)
check("every stored folder is still listed",
      sorted(f["name"] for f in acc.get("folders", [])) == ["Clients", "INBOX", "Old"], acc)

text, err = status(config, "--now", "2026-03-07T20:00:00Z", json_out=False)
text = text or ""
check("text: outbox counts", "outbox: 2 queued, 2 sent, 1 uncertain" in text, text)
check("text: next digest", "next 2026-03-08T08:00:00-04:00; last sent 2026-03-07T13:00:00Z" in text,
      text)
check("text: rules in force", "%d rules in %d files" % (rules.get("rules", 0), rules.get("files", 0))
      in text and "they load" in text, text)
check("text: the missing folder on its account",
      "missing folder: Clients" in text and "missing folder: Old" not in text, text)

# A broken rule set: not loading, counts null, every file:line:col given.
broken = os.path.join(tmp, "rules")
shutil.copytree(os.path.join(root, "rules"), broken)
with open(os.path.join(broken, "tone.rules"), "a") as f:
    f.write("\nrule broken_on_purpose\n  look   text  /((/\n  adds   tone +1\n")
lines = open(os.path.join(broken, "tone.rules")).read().count("\n")
write_config(config, broken)
bad, err = status(config)
check("a broken rule set still gives a status (exit 0)", bad is not None, err)
br = bad["rules"] if bad else {}
check("broken rules: loads false, counts null, the error names tone.rules:line:col",
      br.get("loads") is False and br.get("rules") is None and br.get("files") is None
      and ("tone.rules:%d:" % (lines - 1)) in (br.get("error") or ""), br)
text, _ = status(config, json_out=False)
check("broken rules: the text says they do not load", text and "DO NOT LOAD" in text
      and "tone.rules:" in text, text)

shutil.rmtree(tmp, ignore_errors=True)
finish()
