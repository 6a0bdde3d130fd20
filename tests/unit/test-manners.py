#!/usr/bin/env python3
"""tests/unit/test-manners.py: what a VA types and reads says what it means.
An unknown client is a usage error (64) naming the clients keel knows, in
`keel trail --client` and `keel confirm`; exported deadlines carry their
offset (the client's zone); a phone note's confirmation comes from the VA's
name and greets the client's contact. TAP output."""
import json
import os
import sys
import sqlite3
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitap import KEEL as keel, ROOT as root, check, finish, run  # noqa: E402




tmp = tempfile.mkdtemp(prefix="keel-manners-")
os.chdir(root)  # the demo config finds ./rules
config = os.path.join(tmp, "keel.conf")
with open(config, "w") as f:
    f.write(f"""[keel]
database = {tmp}/keel.db
rules = {root}/rules
timezone = Europe/London

[account main]
imap = imaps://127.0.0.1:1
smtp = smtps://127.0.0.1:2
user = jo@va.example
password_command = true
name = Jo Bloggs
business = Bloggs Virtual Assistance

[client acme]
name = Acme Lettings
contact = Bob Reid
addresses = bob@acme.example
timezone = America/New_York
""")

rc, out, err = run("confirm", "--config", config, "--client", "nobody", "--note", "Send it by Friday")
check("confirm --client unknown: exit 64 naming the clients keel knows",
      rc == 64 and "no client 'nobody'" in err and "acme (Acme Lettings)" in err, f"{rc} {err}")
rc, out, err = run("confirm", "--config", config, "--now", "2026-03-02T10:00", "--client", "acme",
                   "--note", "Please send the lease to Sam by Friday 5pm.")
check("confirm --client acme queues a confirmation", rc == 0, out + err)
rc, out, err = run("trail", "--config", config, "--client", "nobody")
check("trail --client unknown: exit 64 naming the clients keel knows",
      rc == 64 and "acme (Acme Lettings)" in err and "empty" not in out, f"{rc} {out} {err}")
rc, out, err = run("trail", "--config", config, "--client", "Acme Lettings", "--format", "json")
events = json.loads(out) if rc == 0 else []
instr = [e for e in events if e["kind"] == "instruction"]
check("trail --client by name works", rc == 0 and len(events) >= 3, out + err)
check("json export: the deadline with its offset (client's zone)",
      instr and instr[0]["deadline"] == "2026-03-06T17:00-05:00"
      and "2026-03-06T17:00-05:00" in instr[0]["detail"], json.dumps(instr))
rc, out, err = run("trail", "--config", config, "--format", "csv")
lines = out.splitlines()
check("csv export: a deadline column with the offset",
      rc == 0 and lines[0].endswith(",deadline") and '"2026-03-06T17:00-05:00"' in lines[2], out)
rc, out, err = run("trail", "--config", config, "verify")
check("the trail still verifies", rc == 0, out + err)

raw = sqlite3.connect(os.path.join(tmp, "keel.db")).execute("SELECT raw FROM outbox").fetchone()[0]
text = raw.decode() if isinstance(raw, bytes) else raw
check("the note's confirmation is from the VA's name", "From: Jo Bloggs <jo@va.example>" in text, text)
check("it greets the client's contact, signed by the VA",
      "\r\nHi Bob,\r\n" in text and "Jo Bloggs\r\nBloggs Virtual Assistance" in text
      and "virtual assistant\r\n" not in text.lower(), text)

# The demo digest at a glance: risk in words (the number only with --explain),
# quotes cut at word boundaries, "why" only for flagged dimensions, no rule
# names; --now means as of: nothing after it counts.
import glob
import re
demo_conf = os.path.join(root, "tests", "data", "demo", "keel.conf")
demo_db = os.path.join(tmp, "demo.db")
run("import", "--config", demo_conf, "--database", demo_db,
    os.path.join(root, "tests", "data", "demo", "Maildir"))
run("rescore", "--config", demo_conf, "--database", demo_db, "--now", "2026-03-13T08:00:00Z")
rc, text, err = run("digest", "--config", demo_conf, "--database", demo_db,
                    "--now", "2026-03-13T08:00:00Z", "--text")
check("digest: risk in words, no bare number",
      rc == 0 and re.search(r"^   (high|rising|raised): ", text, re.M)
      and not re.search(r"\brisk \d", text), text + err)
rc, explained, err = run("digest", "--config", demo_conf, "--database", demo_db,
                         "--now", "2026-03-13T08:00:00Z", "--text", "--explain")
check("digest --explain keeps the number", rc == 0 and re.search(r"\(risk \d+\.\d\)", explained),
      explained)
names = set()
for path in glob.glob(os.path.join(root, "rules", "*.rules")):
    for line in open(path, encoding="utf-8"):
        m = re.match(r"\s*(?:rule|phrases|when)\s+([a-z0-9_]+)\b", line)
        if m and "_" in m.group(1):
            names.add(m.group(1))
leaked = [n for n in names if re.search(r"\b%s\b" % n, text)]
check("digest: no internal rule name", not leaked, str(leaked))
sources = ""
for path in glob.glob(os.path.join(root, "tests", "data", "demo", "Maildir", "*", "*")):
    sources += " ".join(open(path, encoding="utf-8", errors="replace").read().split()) + " "
cut = []
for quote in re.findall(r'"([^"]*)"', "\n".join(l for l in text.splitlines()
                                              if l.startswith(("   why", "   also")))):
    for part in quote.split("…"):
        part = part.strip()
        if part and not re.search(r"(^|\W)%s(\W|$)" % re.escape(part), sources):
            cut.append(part)
check("digest: quotes end at word boundaries", not cut and "thr…" not in text, str(cut))
flagged = re.search(r"^   flagged: (.*)$", text, re.M)
dims = set(flagged.group(1).split(", ")) if flagged else set()
whys = re.findall(r"^   why \((\w+)\)", text, re.M)
alsos = re.findall(r"^   also \((\w+)\)", text, re.M)
check("digest: why only for flagged dimensions, the rest 'also'",
      whys and all(d in dims for d in whys) and all(d not in dims for d in alsos), text)
rc, early, err = run("digest", "--config", demo_conf, "--database", demo_db,
                     "--now", "2026-03-10T09:00:00Z", "--text")
later = [m for m in re.findall(r"last message (\w+ \d+ \w+ \d\d:\d\d)", early)]
check("digest --now is as of: no message after it (Lime & Ledger wrote at 10:00)",
      rc == 0 and "Lime & Ledger" not in early and "Tue 10 Mar 14:30" not in early, early)

# One exit code per cause: a database that cannot be opened is 73 everywhere;
# a thread that does not exist is 66 like any other missing item.
bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("[keel]\ndatabase = /nonexistent/keel-dir/keel.db\n")
codes = {c: run(*c.split(), "--config", bad)[0]
         for c in ("status", "trail", "threads", "digest", "rescore", "why 1", "search x")}
check("a database that cannot be opened is exit 73 in every command",
      set(codes.values()) == {73}, str(codes))
rc, out, err = run("threads", "--config", config, "--handled", "999")
check("a thread that does not exist is exit 66", rc == 66, f"{rc} {err}")

finish()
