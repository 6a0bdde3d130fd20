#!/usr/bin/python3
"""tests/bench/scale.py: does keel cost the same per message at 1k, 10k, 100k?

Usage: tests/bench/scale.py [--build DIR] [SIZE...]   (default sizes 1000 10000)

For each size it writes SIZE messages to a temporary folder: the SpamAssassin
corpus (tests/data/spamassassin) taken with a prime stride (so every prefix
mixes ham, hard ham and spam alike) and repeated, every copy with a fresh
Message-ID (In-Reply-To and References left as they were, so copies of a
reply name the original's Message-ID, which no copy carries). Then, one
process each (as tests/bench/run.sh does):

  score    keel score --json --rules rules FILE...   (xargs, one process)
  import   keel import --database DB --rules rules DIR
  rescore  keel rescore --database DB --rules rules

and prints wall and CPU seconds (user + system, of the command and its
children), CPU microseconds per message, and the ratio of that to the
smallest size's (1.00 = linear). CPU, not wall, is compared: on a shared
machine the wall time of `import` is mostly waiting for fsync.
Not part of the default test path.
"""
import argparse
import glob
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "data", "spamassassin")
MSGID = re.compile(rb"^Message-I[Dd]:[^\n]*\n(?:[ \t][^\n]*\n)*", re.M | re.I)
STRIDE = 7919  # a prime: the corpus in a mixed but fixed order


def with_message_id(raw, n):
    head_end = raw.find(b"\n\n")
    head, body = (raw, b"") if head_end < 0 else (raw[:head_end + 1], raw[head_end + 1:])
    return b"Message-ID: <scale-%d@keel.example>\n" % n + MSGID.sub(b"", head) + body


def build(folder, count, files):
    os.makedirs(folder)
    for n in range(count):
        raw = open(files[(n * STRIDE) % len(files)], "rb").read()
        with open(os.path.join(folder, "%07d.eml" % n), "wb") as f:
            f.write(with_message_id(raw, n))


def cpu_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, stdin=None, env=None):
    """Runs cmd; returns (wall s, CPU s of it and its children)."""
    start, cpu = time.monotonic(), cpu_children()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else None,
                            stdout=subprocess.DEVNULL, env=env)
    proc.communicate(stdin)
    if proc.returncode != 0:
        sys.exit("%s failed (exit %d)" % (cmd[0], proc.returncode))
    return time.monotonic() - start, cpu_children() - cpu


def bench(keel, count, files, work):
    folder = os.path.join(work, "mail-%d" % count)
    build(folder, count, files)
    names = "\n".join(sorted(glob.glob(os.path.join(folder, "*.eml")))) + "\n"
    maxargs = str(os.sysconf("SC_ARG_MAX") - 262144)
    db = os.path.join(work, "keel-%d.db" % count)
    env = dict(os.environ)
    env.pop("KEEL_CONFIG", None)
    rules = os.path.join(ROOT, "rules")
    results = {}
    results["score"] = timed(["xargs", "-s", maxargs, keel, "score", "--json", "--rules", rules],
                             stdin=names.encode(), env=env)
    results["import"] = timed([keel, "import", "--database", db, "--rules", rules, folder],
                              env=env)
    results["rescore"] = timed([keel, "rescore", "--database", db, "--rules", rules], env=env)
    subprocess.run(["rm", "-rf", folder])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    args = ap.parse_args()
    keel = os.path.join(args.build, "daemon", "keel")
    files = sorted(glob.glob(os.path.join(CORPUS, "*", "*.eml")))
    if not files:
        sys.exit("no corpus in %s: run tests/fetch-spamassassin.sh" % CORPUS)
    base = {}
    print("%-8s %8s %8s %8s %12s %9s" % ("command", "messages", "wall s", "CPU s",
                                         "CPU us/msg", "vs first"))
    with tempfile.TemporaryDirectory(prefix="keel-scale-") as work:
        for count in args.sizes:
            for name, (wall, cpu) in bench(keel, count, files, work).items():
                per = cpu / count * 1e6
                base.setdefault(name, per)
                print("%-8s %8d %8.2f %8.2f %12.1f %9.2f" % (name, count, wall, cpu, per,
                                                             per / base[name]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
