#!/usr/bin/env python3
"""tests/unit/test-why.py: `keel why MESSAGE` shows every step of the reply
decision with its evidence in the rules' own words (never a rule's internal
name), for a risky message, a vague brief and an automated one, as .eml files
and as stored messages (by row id and by Message-ID), with what keel did.
TAP output."""
import glob
import os
import sys
import re
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitap import KEEL as keel, ROOT as root, check, finish, run  # noqa: E402
data = os.path.join(root, "tests", "data", "why")




tmp = tempfile.mkdtemp(prefix="keel-why-")
config = os.path.join(tmp, "keel.conf")
with open(config, "w") as f:
    f.write(f"[keel]\ndatabase = {tmp}/keel.db\nrules = {root}/rules\ntimezone = Europe/London\n\n"
            "[client beckett]\nname = Beckett Brand Studio\naddresses = @beckettbrand.example\n")

# Rule names with an underscore or a digit, as the VA never wrote them in a sentence.
names = set()
for path in glob.glob(os.path.join(root, "rules", "*.rules")):
    for line in open(path, encoding="utf-8"):
        m = re.match(r"\s*(?:rule|phrases|when)\s+([a-z0-9_]+)\b", line)
        if m and "_" in m.group(1):
            names.add(m.group(1))


def no_rule_names(out):
    return [n for n in names if re.search(r"\b%s\b" % re.escape(n), out)]


cases = {
    "risky": ["STOP  blame, threat, tone", "Mentions legal action", "small claims",
              "because (blame, threat, tone): Blames the VA (blame +4)"],
    "vague": ["ok    blame, threat, tone", "STOP  other dimensions", "no clear brief",
              "because (other dimensions)", "1) Please make the brochure"],
    "automated": ["STOP  automated", "because (automated): the message is automated "
                  "(Auto-Submitted: auto-replied)"],
}
for name, wants in cases.items():
    rc, out, err = run("why", "--config", config, os.path.join(data, name + ".eml"))
    missing = [w for w in wants if w not in out]
    check(f"why {name}.eml: exit 0, decision no reply, evidence shown",
          rc == 0 and "decision: no reply" in out and not missing, f"missing {missing}\n{out}{err}")
    leaked = no_rule_names(out)
    check(f"why {name}.eml: no internal rule name", not leaked, f"{leaked}")
    check(f"why {name}.eml: not in the database", "is not in the database" in out, out)

rc, out, err = run("import", "--config", config, *[os.path.join(data, n + ".eml") for n in cases])
check("import the three", rc == 0, out + err)
rc, out, err = run("why", "--config", config, "1")
check("why by row id: the stored message with what keel did",
      rc == 0 and "<risky1@beckettbrand.example>" in out and "what keel did (stored as row 1" in out
      and "no reply" in out, out + err)
rc, out2, err = run("why", "--config", config, "<vague1@beckettbrand.example>")
check("why by Message-ID (with <>)", rc == 0 and "what keel did (stored as row 2" in out2, out2 + err)
rc, out3, err = run("why", "--config", config, os.path.join(data, "vague.eml"))
check("why FILE.eml of a stored message answers from the store", rc == 0 and out3 == out2,
      out3 + err)
# What the daemon did: a reply drafted for the vague brief's instruction
# (written here as the daemon's outbox would hold it).
import sqlite3
db = sqlite3.connect(os.path.join(tmp, "keel.db"))
instr = db.execute("SELECT id FROM instructions WHERE message_row = 2").fetchone()
if instr:
    db.execute("INSERT INTO outbox (id, account, kind, client_id, thread_id, message_id, mail_from,"
               " rcpt, subject, raw, state, attempts, created, updated) VALUES (7, 'main', 'confirm',"
               " 'beckett', 2, 'keel.x@va.example', 'jo@va.example', 'tom@beckettbrand.example',"
               " 'Re: Brochure', x'00', 'drafted', 1, 1772442300, 1772442360)")
    db.execute("INSERT INTO confirmations (outbox_id, instruction_id) VALUES (7, ?)", instr)
    db.commit()
rc, out, err = run("why", "--config", config, "2")
check("why shows a reply the daemon drafted", rc == 0 and instr is not None
      and 'reply 7 to tom@beckettbrand.example, "Re: Brochure"' in out and "drafted" in out
      and "Drafts folder" in out, out + err)
rc, out, err = run("why", "--config", config, "no-such-id@example")
check("an unknown message is exit 66 (EX_NOINPUT)", rc == 66 and "no stored message" in err,
      f"{rc} {err}")
rc, out, err = run("why", "--config", config)
check("no MESSAGE is a usage error (64)", rc == 64, f"{rc} {err}")

finish()
