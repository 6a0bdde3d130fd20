#!/usr/bin/env python3
"""tests/quality.py: how well the default rules read mail, measured on every labelled world.

Runs `keel score --json` over each world of the labelled corpus
(../shared/corpus/{dev,us,au,ph}, each with its own keel.conf) and compares
with its labels.json (format: corpus/dev/README.md). For every world, side by
side, and their mean: F1 for risky, hostile (tone flagged), threat, scope and
vague; urgency level accuracy; payment category accuracy; unsafe
confirmations (keel plans a confirmation where the label says `none`); and the
share of the `confirm`-labelled messages that get one. Then the false-alarm
rate: the share of the SpamAssassin easy-ham messages scored risky (runs
tests/fetch-spamassassin.sh when the corpus is missing).

The figure that counts is leave one world out (corpus/README.md): a rule
family written while reading three worlds is judged on the fourth. This
script shows every world; which one was held out is the writer's to report.

Usage: tests/quality.py [--keel BUILD/daemon/keel] [--rules rules]
                        [--corpus DIR] [--worlds dev,us,au,ph] [--verbose]
Exit status 1 when a quality floor (FLOORS: what the current rules achieve,
so that a change that reads worse fails meson's 'quality' suite) or the
easy-ham false-alarm ceiling (<= 1 %) is missed. TARGETS are the goals
printed beside the figures; missing one does not fail the run.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORLDS = ("dev", "us", "au", "ph")
FLAG_OF = {"hostile": "tone", "threat": "threat", "scope": "scope", "vague": "vague"}
F1_MEASURES = ("risky", "hostile", "threat", "scope", "vague")
MEASURES = F1_MEASURES + ("urgency", "payment", "unsafe", "confirmed")
# Goals (issue 15), shown beside the mean; "unsafe" is a count per world.
TARGETS = {"risky": 0.90, "hostile": 0.85, "threat": 0.90, "scope": 0.80,
           "urgency": 0.80, "payment": 0.85, "unsafe": 0, "confirmed": 0.70}
# Floors: the mean over the worlds must not fall below these (the unsafe
# count must not rise above its floor). Raise them when the rules improve.
FLOORS = {"risky": 0.92, "hostile": 0.85, "threat": 0.89, "scope": 0.74, "vague": 0.72,
          "urgency": 0.81, "payment": 0.91, "unsafe": 2, "confirmed": 0.65}
EASY_HAM_CEILING = 0.01


def find_keel():
    for build in sorted(glob.glob(os.path.join(ROOT, "build*", "daemon", "keel"))):
        if os.access(build, os.X_OK):
            return build
    sys.exit("quality: no keel binary; build first or pass --keel")


def usable_config(keel, config):
    """A world's keel.conf has an account without imap; when this keel's
    config loader refuses that, score with a copy that names a placeholder
    server (scoring never connects)."""
    probe = subprocess.run([keel, "config", "check", "--config", config],
                           capture_output=True, text=True)
    if probe.returncode == 0 or "needs imap" not in probe.stdout + probe.stderr:
        return config, None
    text = open(config, encoding="utf-8").read()
    text = text.replace("[account main]\n", "[account main]\nimap = imaps://imap.invalid\npassword_command = false\n", 1)
    handle = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    handle.write(text)
    handle.close()
    return handle.name, handle.name


def score(keel, rules, config, files):
    """keel score --json over `files` in the order given (threads need their
    earlier messages first); {path: result}."""
    results = {}
    for start in range(0, len(files), 500):
        batch = files[start:start + 500]
        args = [keel, "score", "--json", "--rules", rules] + (["--config", config] if config else [])
        out = subprocess.run(args + batch, capture_output=True, text=True)
        if out.returncode not in (0, 65):
            sys.exit("quality: keel score failed (%d): %s" % (out.returncode, out.stderr[:500]))
        for line in out.stdout.splitlines():
            item = json.loads(line)
            results[item["file"]] = item
        if any(name not in results for name in batch):
            sys.exit("quality: keel score gave no result (%d): %s" % (out.returncode, out.stderr[:500]))
    return results


def prf(pairs):
    tp = sum(1 for p, a in pairs if p and a)
    fp = sum(1 for p, a in pairs if p and not a)
    fn = sum(1 for p, a in pairs if not p and a)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def predicted(item, name):
    return item["risky"] if name == "risky" else FLAG_OF[name] in item["flags"]


def world_figures(world, labels, results):
    """{measure: value} for one world, and its misses as lines."""
    figures, misses = {}, []
    for name in F1_MEASURES:
        pairs = [(predicted(results[l["file"]], name), l[name]) for l in labels]
        figures[name] = prf(pairs)[2]
        misses += ["%s/%s %s: predicted %s, labelled %s" % (world, l["file"], name, p, a)
                   for l, (p, a) in zip(labels, pairs) if p != a]
    for field in ("urgency", "payment"):
        wrong = [l for l in labels if results[l["file"]][field] != l[field]]
        figures[field] = 1 - len(wrong) / len(labels)
        misses += ["%s/%s %s: predicted %s, labelled %s" % (world, l["file"], field,
                                                            results[l["file"]][field], l[field]) for l in wrong]
    unsafe = [l for l in labels if results[l["file"]]["auto_reply"] == "confirm" and l["auto_reply"] != "confirm"]
    wanted = [l for l in labels if l["auto_reply"] == "confirm"]
    got = [l for l in wanted if results[l["file"]]["auto_reply"] == "confirm"]
    figures["unsafe"] = len(unsafe)
    figures["confirmed"] = len(got) / len(wanted) if wanted else 1.0
    misses += ["%s/%s UNSAFE confirmation (%s)" % (world, l["file"], l["notes"]) for l in unsafe]
    misses += ["%s/%s confirm-labelled, no confirmation: %s" % (world, l["file"], results[l["file"]]["auto_reply_reason"])
               for l in wanted if l not in got]
    return figures, misses


def score_world(keel, rules, directory):
    labels = json.load(open(os.path.join(directory, "labels.json"), encoding="utf-8"))
    labels.sort(key=lambda l: l["file"])
    config, temporary = usable_config(keel, os.path.join(directory, "keel.conf"))
    try:
        scored = score(keel, rules, config, [os.path.join(directory, l["file"]) for l in labels])
    finally:
        if temporary:
            os.unlink(temporary)
    return labels, {os.path.basename(path): item for path, item in scored.items()}


def ham_false_alarms(keel, rules):
    files = sorted(glob.glob(os.path.join(ROOT, "tests/data/spamassassin/easy-ham-*/*.eml")))
    if not files:
        subprocess.run([os.path.join(ROOT, "tests/fetch-spamassassin.sh")], check=False)
        files = sorted(glob.glob(os.path.join(ROOT, "tests/data/spamassassin/easy-ham-*/*.eml")))
    if not files:
        return None, 0, []
    results = score(keel, rules, None, files)
    risky = [os.path.relpath(name, ROOT) for name, item in results.items() if item["risky"]]
    return len(risky) / len(results), len(results), risky


def cell(name, value):
    return "%6d" % value if name == "unsafe" else "%6.2f" % value


def print_table(worlds, figures, sizes):
    """One row per measure, one column per world, then the mean, the target
    and the floor. Returns the measures whose mean misses its floor."""
    means = {m: sum(figures[w][m] for w in worlds) / len(worlds) for m in MEASURES}
    means["unsafe"] = sum(figures[w]["unsafe"] for w in worlds)
    header = "".join("%8s" % ("%s/%d" % (w, sizes[w])) for w in worlds)
    print("%-22s%s %8s %8s %8s" % ("measure", header, "mean", "target", "floor"))
    failed = []
    for m in MEASURES:
        label = {"urgency": "urgency (accuracy)", "payment": "payment (accuracy)",
                 "unsafe": "unsafe confirmations", "confirmed": "confirm-labelled got one"}.get(m, m + " F1")
        ok = means[m] <= FLOORS[m] if m == "unsafe" else means[m] >= FLOORS[m] - 1e-9
        if not ok:
            failed.append(m)
        target = ("%8d" % TARGETS[m]) if m == "unsafe" else ("%8.2f" % TARGETS[m]) if m in TARGETS else "%8s" % "-"
        mean = ("%8d" % means[m]) if m == "unsafe" else "%8.3f" % means[m]
        print("%-22s%s %s %s %8s%s" % (label, "".join("  " + cell(m, figures[w][m]) for w in worlds),
                                      mean, target, FLOORS[m], "" if ok else "  BELOW FLOOR"))
    print("(unsafe confirmations: the mean column is the total)")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keel", default=None)
    parser.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    shared = os.environ.get("KEEL_SHARED", os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--corpus", default=os.path.join(shared, "corpus"))
    parser.add_argument("--worlds", default=",".join(WORLDS), help="comma-separated worlds to score")
    parser.add_argument("--dev", default=None, help="score only this one labelled folder (as before)")
    parser.add_argument("--no-ham", action="store_true", help="skip the easy-ham false alarms")
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    keel = args.keel or find_keel()
    if args.dev:
        dirs = {os.path.basename(os.path.normpath(args.dev)): args.dev}
    else:
        dirs = {w: os.path.join(args.corpus, w) for w in args.worlds.split(",") if w}
    worlds = [w for w in dirs if os.path.exists(os.path.join(dirs[w], "labels.json"))]
    if not worlds:
        sys.exit("quality: no labelled world in %s" % args.corpus)
    figures, sizes, misses = {}, {}, []
    for w in worlds:
        labels, results = score_world(keel, args.rules, dirs[w])
        figures[w], world_misses = world_figures(w, labels, results)
        sizes[w] = len(labels)
        misses += world_misses
    failed = print_table(worlds, figures, sizes)
    risky = []
    if not args.no_ham:
        rate, count, risky = ham_false_alarms(keel, args.rules)
        if rate is not None:
            ok = rate <= EASY_HAM_CEILING
            failed += [] if ok else ["easy-ham"]
            print("easy-ham false alarms: %d of %d = %.2f %%  (ceiling <= %d %%: %s)"
                  % (len(risky), count, 100 * rate, 100 * EASY_HAM_CEILING, "ok" if ok else "MISSED"))
    if args.verbose:
        print("\n".join(["misses:"] + misses + ["risky easy-ham:"] + sorted(risky or [])))
    if failed:
        print("below floor: %s" % ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
