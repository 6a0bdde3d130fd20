"""tests/integration/demo.py: the IMAP demo. Starts a private Dovecot on
127.0.0.1 (temp dir, generated certificate) holding the demo mailbox
(tests/data/demo/Maildir) for the demo's VA, points the demo keel.conf at it,
runs `keel daemon --once`, prints `keel status` and `keel threads`, then stops
Dovecot and removes every temp file. Leaves nothing running.

Usage: /usr/bin/python3 tests/integration/demo.py KEEL_BINARY"""

import configparser
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Dovecot, KeelRun, _chown_tree  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "tests", "data", "demo")


def demo_account():
    """(user, password) of the demo config's first account."""
    conf = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#",))
    conf.read(os.path.join(DEMO, "keel.conf"))
    section = [s for s in conf.sections() if s.startswith("account ")][0]
    user = conf[section]["user"]
    match = re.match(r"printf\s+(\S+)$", conf[section].get("password_command", ""))
    return section, user, match.group(1) if match else "demo"


def demo_config(path, server, run, section):
    """The demo keel.conf with the database, imap URL and ca_file pointed at
    this run (every other line, clients included, as written)."""
    out, current = [], None
    for line in open(os.path.join(DEMO, "keel.conf")):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]")
        key = stripped.split("=")[0].strip() if "=" in stripped else None
        if current == "keel" and key == "database":
            line = "database = %s\nrules = %s\n" % (run.database, os.path.join(ROOT, "rules"))
        elif current == section and key == "imap":
            line = "imap = %s\nca_file = %s\n" % (server.url(), server.cert)
        out.append(line)
    with open(path, "w") as f:
        f.writelines(out)


def main():
    keel = os.path.abspath(sys.argv[1])
    section, user, password = demo_account()
    login = user.split("@")[0]
    with Dovecot({login: password}) as server:
        server.start()
        target = os.path.join(server.dir, "mail", login, "Maildir")
        shutil.copytree(os.path.join(DEMO, "Maildir"), target)
        _chown_tree(os.path.join(server.dir, "mail", login))
        run = KeelRun(ROOT)
        run.bin = keel
        try:
            demo_config(run.config, server, run, section)
            steps = [["daemon", "--once"], ["status"], ["threads"]]
            for step in steps:
                print("== keel %s" % " ".join(step), flush=True)
                proc = subprocess.run([keel] + step + ["--config", run.config])
                print(flush=True)
                if proc.returncode != 0:
                    print("demo: keel %s failed (rc %d); Dovecot log:\n%s"
                          % (step[0], proc.returncode, server.log()[-2000:]), file=sys.stderr)
                    return proc.returncode
        finally:
            run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
