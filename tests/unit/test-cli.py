#!/usr/bin/env python3
"""tests/unit/test-cli.py: the global options (--config, --verbose, --now)
mean the same before and after the command name, --now takes the ISO 8601
forms people type, and a non-global option before the command is a usage
error (64). TAP output."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitap import KEEL as keel, ROOT as root, check, finish  # noqa: E402
shared = os.environ.get("KEEL_SHARED", os.path.join(root, "..", "shared"))


def run(*args):
    p = subprocess.run([keel, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout



import tempfile
tmp = tempfile.mkdtemp(prefix="keel-cli-")
config = os.path.join(tmp, "keel.conf")
with open(config, "w") as f:
    f.write(f"[keel]\ndatabase = {tmp}/keel.db\nrules = {root}/rules\n")
eml = sorted(glob.glob(os.path.join(shared, "corpus", "dev", "*.eml")))[0]
dev_conf = os.path.join(shared, "corpus", "dev", "keel.conf")
os.chdir(root)  # keel score falls back to ./rules

before = run("--config", config, "config", "check")
after = run("config", "check", "--config", config)
check("--config before the command == after it", before == after and before[0] == 0)
before = run("--now", "2026-03-13T08:00:00Z", "--config", dev_conf, "score", "--json", eml)
after = run("score", "--json", "--now", "2026-03-13T08:00:00Z", "--config", dev_conf, eml)
check("--now and --config before score == after it", before == after and before[0] == 0)
short = run("score", "--json", "--now", "2026-03-13T08:00", "--config", dev_conf, eml)
check("--now without seconds is read as :00 UTC", short == after)
check("--now with a date only is accepted",
      run("score", "--json", "--now", "2026-03-13", "--config", dev_conf, eml)[0] == 0)
check("--now that is not a time is refused",
      run("score", "--json", "--now", "Friday", "--config", dev_conf, eml)[0] != 0)
check("a command option before the command is a usage error (64)",
      run("--json", "status")[0] == 64)
check("global options and no command is a usage error (64)", run("--verbose")[0] == 64)

# keel backup: a whole copy, 0600 under umask 022, and a bad target is refused.
import sqlite3
import stat
os.umask(0o022)
db = os.path.join(tmp, "keel.db")
run("import", "--database", db, os.path.join(shared, "corpus", "dev"))
copy = os.path.join(tmp, "copy.db")
rc, out = run("backup", "--database", db, copy)
count = lambda path: sqlite3.connect(path).execute("SELECT count(*) FROM messages").fetchone()[0]
check("backup copies every message", rc == 0 and os.path.exists(copy) and count(copy) == count(db) > 0)
check("backup is 0600 under umask 022",
      os.path.exists(copy) and stat.S_IMODE(os.stat(copy).st_mode) == 0o600)
check("backup into a missing folder fails with 73",
      run("backup", "--database", db, os.path.join(tmp, "no", "such", "x.db"))[0] == 73)

# keel digest: text on a terminal, MIME into a pipe, --mime on a terminal too.
import pty


def on_terminal(*args):
    master, slave = pty.openpty()
    p = subprocess.Popen([keel, *args], stdout=slave, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait()
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


digest_args = ["digest", "--database", db, "--now", "2026-03-13T08:00"]
tty_text = on_terminal(*digest_args)
piped = run(*digest_args)[1]
check("digest on a terminal prints the text, no MIME headers",
      tty_text.startswith("keel:") and "Content-Type:" not in tty_text)
check("digest into a pipe prints the MIME message", "Content-Type: multipart/alternative" in piped)
check("digest --mime on a terminal prints the MIME message",
      "Content-Type: multipart/alternative" in on_terminal(*digest_args, "--mime"))

# keel import of last year's mail: recorded, never listed as overdue or
# waiting; its dates show their year; instruction done takes several IDs.
import json
old_dir = os.path.join(tmp, "old", "cur")
os.makedirs(old_dir)
for n, (day, body) in enumerate([("Mon, 02 Jun 2025 09:00:00 +0000",
                                  "Hi Jo,\n\nPlease send me the May figures by Friday.\n\nBob"),
                                 ("Tue, 03 Jun 2025 09:00:00 +0000",
                                  "Hi Jo,\n\nCould you book the venue by Thursday?\n\nBob")]):
    with open(os.path.join(old_dir, "%d.old:2,S" % n), "w") as f:
        f.write("From: Bob <bob@acme.example>\nTo: jo@va.example\nSubject: Job %d\n"
                "Date: %s\nMessage-ID: <old-%d@acme.example>\n\n%s\n" % (n, day, n, body))
old_conf = os.path.join(tmp, "old.conf")
with open(old_conf, "w") as f:
    f.write(f"[keel]\ndatabase = {tmp}/old.db\nrules = {root}/rules\n\n[account main]\n"
            "user = jo@va.example\n\n[client acme]\nname = Acme Lettings\n"
            "addresses = bob@acme.example\n")
run("import", "--config", old_conf, os.path.join(tmp, "old"))
rc, text = run("digest", "--text", "--config", old_conf, "--now", "2026-03-13T08:00")
check("an import of last year's mail lists nothing as overdue or waiting",
      rc == 0 and "OVERDUE" not in text and "WAITING" not in text and "nothing needs you" in text)
rc, listed = run("instruction", "list", "--json", "--config", old_conf)
rows = [json.loads(line) for line in listed.splitlines() if line]
check("the imported instructions are recorded, as history",
      rc == 0 and len(rows) == 2 and all(r["history"] for r in rows))
rc, table = run("instruction", "list", "--config", old_conf, "--now", "2026-03-13T08:00")
check("a deadline from last year shows its year", rc == 0 and "Jun 2025" in table)
rc, done = run("instruction", "done", *[str(r["id"]) for r in rows], "--config", old_conf)
check("instruction done takes several IDs and echoes each task",
      rc == 0 and "May figures" in done and "venue" in done)
check("an unknown instruction ID exits 66",
      run("instruction", "cancel", "999", "--config", old_conf)[0] == 66)

# Every digest carries the trail's head, as `keel trail head` prints it
# (the dev world's clients give it instructions, so a trail).
db = os.path.join(tmp, "trail.db")
run("import", "--config", dev_conf, "--database", db, os.path.join(shared, "corpus", "dev"))
digest_args = ["digest", "--config", dev_conf, "--database", db, "--now", "2026-03-13T08:00"]
rc, head = run("trail", "head", "--database", db)
head = head.strip()
check("trail head prints COUNT:HASH", rc == 0 and re.match(r"^[1-9][0-9]*:[0-9a-f]{64}$", head))
check("the digest carries the trail head",
      ("trail head %s" % head) in run(*digest_args, "--text")[1])
check("trail verify --head accepts the published head",
      run("trail", "verify", "--database", db, "--head", head)[0] == 0)

import shutil
shutil.rmtree(tmp, ignore_errors=True)
finish()
