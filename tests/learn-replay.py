#!/usr/bin/env python3
"""tests/learn-replay.py: does keel learn from the VA's corrections?

For each world of ../shared/corpus in turn, keel starts from learned models
trained on the other three worlds (as a new VA's keel starts from the shipped
ones) and reads the world's messages in date order. A simulated VA corrects
keel (`keel mark FILE risky|fine`) wherever its `risky` verdict differs from
the label; after each correction the model of her mailbox is exported
(`keel learn export`) and the next messages are scored with it. Reported:
risky F1 over the second half of the world, without corrections and with
them, and how many corrections she made (in all, and in the second half).

Usage: tests/learn-replay.py [--keel BUILD/daemon/keel] [--rules rules]
       [--corpus ../shared/corpus]
"""
import argparse
import email.utils
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORLDS = ("dev", "us", "au", "ph")


def find_keel():
    for build in [os.path.join(ROOT, "build", "daemon", "keel")] + sorted(
            glob.glob(os.path.join(ROOT, "build*", "daemon", "keel"))):
        if os.access(build, os.X_OK):
            return build
    sys.exit("learn-replay: no keel binary; build first or pass --keel")


def date_of(path):
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.decode("latin-1")
            if line.strip() == "":
                break
            if line.lower().startswith("date:"):
                parsed = email.utils.parsedate_to_datetime(line[5:].strip())
                return parsed.timestamp()
    return 0


def risky(keel, rules, path):
    out = subprocess.run([keel, "score", "--json", "--rules", rules, path],
                         capture_output=True, text=True)
    if out.returncode not in (0, 65) or not out.stdout:
        sys.exit("learn-replay: keel score failed: %s" % out.stderr[:500])
    return json.loads(out.stdout.splitlines()[0])["risky"]


def f1(pairs):
    tp = sum(1 for p, a in pairs if p and a)
    fp = sum(1 for p, a in pairs if p and not a)
    fn = sum(1 for p, a in pairs if not p and a)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def world_rules(keel, rules, corpus, world, tmp):
    """The rules directory with models trained without `world`."""
    directory = os.path.join(tmp, world, "rules")
    shutil.copytree(rules, directory, ignore=shutil.ignore_patterns("learned"))
    args = [keel, "learn", "train", "--out", os.path.join(directory, "learned"),
            "--background", os.path.join(ROOT, "tests/data/spamassassin/hard-ham-1")]
    for other in WORLDS:
        if other != world:
            args += ["--corpus", os.path.join(corpus, other)]
    subprocess.run(args, check=True, capture_output=True)
    return directory


def replay(keel, rules, corpus, world, tmp):
    base = world_rules(keel, rules, corpus, world, tmp)
    current = os.path.join(tmp, world, "current")
    shutil.copytree(base, current)
    database = os.path.join(tmp, world, "keel.db")
    labels = json.load(open(os.path.join(corpus, world, "labels.json"), encoding="utf-8"))
    paths = sorted((os.path.join(corpus, world, l["file"]) for l in labels), key=date_of)
    truth = {os.path.join(corpus, world, l["file"]): l["risky"] for l in labels}
    half = len(paths) // 2
    without, withc, corrections, late = [], [], 0, 0
    for index, path in enumerate(paths):
        plain = risky(keel, base, path)
        learned = risky(keel, current, path)
        if index >= half:
            without.append((plain, truth[path]))
            withc.append((learned, truth[path]))
        if learned == truth[path]:
            continue
        corrections += 1
        late += index >= half
        subprocess.run([keel, "mark", "--database", database, "--rules", base, path,
                        "risky" if truth[path] else "fine"], check=True, capture_output=True)
        subprocess.run([keel, "learn", "export", "--database", database, "--rules", base,
                        "--out", os.path.join(current, "learned")], check=True, capture_output=True)
    return f1(without), f1(withc), corrections, late, len(paths) - half


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keel", default=None)
    parser.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    parser.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    args = parser.parse_args()
    keel = args.keel or find_keel()
    print("replay in date order, models trained on the other worlds; risky F1 over the second half")
    print("  %-6s %-18s %-16s %s" % ("world", "without corrections", "with corrections",
                                     "corrections (in the second half)"))
    with tempfile.TemporaryDirectory(prefix="keel-replay-") as tmp:
        for world in WORLDS:
            plain, learned, corrections, late, n = replay(keel, args.rules, args.corpus, world, tmp)
            print("  %-6s %-19.2f %-16.2f %d (%d of %d)" % (world, plain, learned, corrections,
                                                             late, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
