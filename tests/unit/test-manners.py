#!/usr/bin/env python3
"""tests/unit/test-manners.py: what a VA types and reads says what it means.
An unknown client is a usage error (64) naming the clients keel knows, in
`keel trail --client` and `keel confirm`; exported deadlines carry their
offset (the client's zone); a phone note's confirmation comes from the VA's
name and greets the client's contact. TAP output."""
import json
import os
import sqlite3
import subprocess
import tempfile

keel = os.environ["KEEL_BIN"]
root = os.environ["KEEL_SOURCE_ROOT"]
results = []


def run(*args):
    p = subprocess.run([keel, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def check(name, ok, detail=""):
    results.append((name, ok, detail))


tmp = tempfile.mkdtemp(prefix="keel-manners-")
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

print(f"1..{len(results)}")
for i, (name, ok, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok:
        for line in str(detail).splitlines()[:30]:
            print(f"# {line}")
