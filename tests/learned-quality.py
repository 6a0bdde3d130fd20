#!/usr/bin/env python3
"""tests/learned-quality.py: the learned signals measured, leave one world out.

For each world of ../shared/corpus (dev, us, au, ph) in turn: train the
learned models on the other three (`keel learn train`), then score the
held-out world three ways and compare with its labels.json:
  rules    the rule files without rules/learned.rules and without models;
  learned  keel.rules (the dimensions) and learned.rules only, with the models;
  both     every rule file, with the models (what keel ships).
F1 for risky, hostile (tone flagged), threat and scope. Then the easy-ham
false alarms of tests/data/spamassassin/easy-ham-* with the shipped rules and
models (rules/ as it is: trained on all four worlds).

Usage: tests/learned-quality.py [--keel BUILD/daemon/keel] [--rules rules]
       [--corpus ../shared/corpus] [--verbose]
Exit status 1 when risky F1 of `both` is below BOTH_RISKY_FLOOR on a world, or
easy-ham false alarms are over 1 %. (`both` is not required to beat `rules`:
the rule families were written reading every world, so the `rules` column is
in-sample; `learned` and `both` are truly held out.)
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORLDS = ("dev", "us", "au", "ph")
MEASURES = ("risky", "hostile", "threat", "scope")
BOTH_RISKY_FLOOR = 0.88  # what the shipped rules + models reach on the worst held-out world
FLAG_OF = {"hostile": "tone", "threat": "threat", "scope": "scope"}
EXTRACTORS = ("instructions.rules", "deadlines.rules")


def find_keel():
    for build in [os.path.join(ROOT, "build", "daemon", "keel")] + sorted(
            glob.glob(os.path.join(ROOT, "build*", "daemon", "keel"))):
        if os.access(build, os.X_OK):
            return build
    sys.exit("learned-quality: no keel binary; build first or pass --keel")


def usable_config(keel, config, tmp):
    """A copy of a world's keel.conf that this keel's loader accepts (an
    account without imap gets a placeholder; scoring never connects)."""
    probe = subprocess.run([keel, "config", "check", "--config", config],
                           capture_output=True, text=True)
    if probe.returncode == 0 or "needs imap" not in probe.stdout + probe.stderr:
        return config
    text = open(config, encoding="utf-8").read()
    text = text.replace("[account main]\n",
                        "[account main]\nimap = imaps://imap.invalid\npassword_command = false\n", 1)
    path = os.path.join(tmp, os.path.basename(os.path.dirname(config)) + ".conf")
    open(path, "w", encoding="utf-8").write(text)
    return path


def score(keel, rules, config, files):
    results = {}
    for start in range(0, len(files), 500):
        args = [keel, "score", "--json", "--rules", rules] + (["--config", config] if config else [])
        out = subprocess.run(args + files[start:start + 500], capture_output=True, text=True)
        if out.returncode not in (0, 65):
            sys.exit("learned-quality: keel score failed (%d): %s" % (out.returncode, out.stderr[:800]))
        for line in out.stdout.splitlines():
            item = json.loads(line)
            results[os.path.basename(item["file"])] = item
    return results


def rules_variant(rules, models, kind, dest):
    """A rules directory: `rules` (rule files only), `learned` or `both`."""
    os.makedirs(dest)
    for path in glob.glob(os.path.join(rules, "*.rules")):
        name = os.path.basename(path)
        keep = {"rules": name != "learned.rules",
                "learned": name in ("keel.rules", "learned.rules") + EXTRACTORS,
                "both": True}[kind]
        if keep:
            shutil.copy(path, dest)
    if kind != "rules":
        shutil.copytree(models, os.path.join(dest, "learned"))
    return dest


def f1(pairs):
    tp = sum(1 for p, a in pairs if p and a)
    fp = sum(1 for p, a in pairs if p and not a)
    fn = sum(1 for p, a in pairs if not p and a)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def measure(labels, results):
    row = {}
    for name in MEASURES:
        pairs = []
        for label in labels:
            item = results[label["file"]]
            predicted = item["risky"] if name == "risky" else FLAG_OF[name] in item["flags"]
            pairs.append((predicted, label[name]))
        row[name] = f1(pairs)
    return row


def held_out(keel, rules, corpus, world, tmp):
    others = [w for w in WORLDS if w != world]
    models = os.path.join(tmp, world, "models")
    args = [keel, "learn", "train", "--out", models, "--background",
            os.path.join(ROOT, "tests/data/spamassassin/hard-ham-1")]
    for other in others:
        args += ["--corpus", os.path.join(corpus, other)]
    subprocess.run(args, check=True, capture_output=True)
    labels = json.load(open(os.path.join(corpus, world, "labels.json"), encoding="utf-8"))
    config = usable_config(keel, os.path.join(corpus, world, "keel.conf"), tmp)
    files = [os.path.join(corpus, world, l["file"]) for l in labels]
    rows = {}
    for kind in ("rules", "learned", "both"):
        directory = rules_variant(rules, models, kind, os.path.join(tmp, world, kind))
        rows[kind] = measure(labels, score(keel, directory, config, files))
    return rows


def easy_ham(keel, rules):
    files = sorted(glob.glob(os.path.join(ROOT, "tests/data/spamassassin/easy-ham-*/*.eml")))
    if not files:
        return None, 0, []
    results = score(keel, rules, None, files)
    risky = sorted(name for name, item in results.items() if item["risky"])
    return len(risky) / len(results), len(results), risky


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keel", default=None)
    parser.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    parser.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    keel = args.keel or find_keel()
    failed = False
    with tempfile.TemporaryDirectory(prefix="keel-learned-") as tmp:
        print("leave one world out: F1 (rules / learned / both)")
        print("  %-6s %s" % ("world", "".join("%-22s" % m for m in MEASURES)))
        for world in WORLDS:
            rows = held_out(keel, args.rules, args.corpus, world, tmp)
            cells = "".join("%-22s" % ("%.2f / %.2f / %.2f" % tuple(rows[k][m] for k in
                                       ("rules", "learned", "both"))) for m in MEASURES)
            print("  %-6s %s" % (world, cells))
            failed |= rows["both"]["risky"] < BOTH_RISKY_FLOOR
    rate, count, risky = easy_ham(keel, args.rules)
    if rate is not None:
        failed |= rate > 0.01
        print("easy-ham false alarms with the learned signals on: %d of %d = %.2f %% (target <= 1 %%)"
              % (len(risky), count, 100 * rate))
        if args.verbose:
            print("\n".join(risky))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
