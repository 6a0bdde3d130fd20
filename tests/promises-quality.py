#!/usr/bin/env python3
"""tests/promises-quality.py: measures promise detection on the VA's own sent mail.

Usage: python3 tests/promises-quality.py [--build DIR] [--verbose] [--check]

Runs the driver mode of DIR/tests/unit/test-promises (the real parser and
filters/promises.c) over tests/data/promises/*.eml with
tests/data/promises/keel.conf, against labels.json there:
  * per promise: found promises matched one-to-one to labelled ones by
    content-word overlap >= 0.5 (as tests/instructions-quality.py): P/R/F1;
  * exact deadlines: over matched pairs, the share whose due time is the
    labelled YYYY-MM-DDTHH:MM (null = null counts as exact);
  * delivery: per message, "delivers" (done/attached/sent/booked/here it is)
    against the label: P/R.
Figures are printed for 001-049 (written together with rules/promises.rules),
for 050-069 (`"heldout": true`, written after the rules were frozen and never
used to change them) and for all. --check exits 1 when the figures over all
are under the floors (promise F1 0.85, exact deadlines 80 %, delivery F1 0.85).
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "promises")
STOP = set("""a an the and or but of to in on at for by with from is are was were be been it its
this that i i'll i'm me my we our us you your you'll will can have has had get got so as if any all
up out over about them they just then""".split())


def words(text):
    return {t[:5] for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOP and len(t) > 1}


def overlap(a, b):
    wa, wb = words(a), words(b)
    return len(wa & wb) / min(len(wa), len(wb)) if wa and wb else 0.0


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(build):
    labels = json.load(open(os.path.join(DATA, "labels.json")))
    exe = os.path.join(build, "tests", "unit", "test-promises")
    files = [os.path.join(DATA, l["file"]) for l in labels]
    out = subprocess.run([exe, "--read", "--config", os.path.join(DATA, "keel.conf")] + files,
                         capture_output=True, text=True,
                         env=dict(os.environ, KEEL_SOURCE_ROOT=ROOT))
    if out.returncode != 0:
        sys.exit(f"{exe} failed ({out.returncode}): {out.stderr.strip()}")
    found = {r["file"]: r for r in map(json.loads, out.stdout.splitlines())}
    return labels, found


def measure(labels, found, verbose):
    """(tp, fp, fn, exact, dtp, dfp, dfn) over `labels`."""
    tp = fp = fn = exact = 0
    dtp = dfp = dfn = 0
    for label in labels:
        got = found[label["file"]]
        pairs = sorted(((overlap(l["text"], f["text"]), i, j)
                        for i, l in enumerate(label["promises"])
                        for j, f in enumerate(got["promises"])), reverse=True)
        used_l, used_f = set(), set()
        for score, i, j in pairs:
            if score >= 0.5 and i not in used_l and j not in used_f:
                used_l.add(i)
                used_f.add(j)
                want, have = label["promises"][i]["deadline"], got["promises"][j]["due"]
                exact += want == have
                if want != have and verbose:
                    print(f"{label['file']}: due {have}, labelled {want}")
        tp += len(used_l)
        fn += len(label["promises"]) - len(used_l)
        fp += len(got["promises"]) - len(used_f)
        if verbose:
            for i, l in enumerate(label["promises"]):
                if i not in used_l:
                    print(f"{label['file']}: missed: {l['text']}")
            for j, f in enumerate(got["promises"]):
                if j not in used_f:
                    print(f"{label['file']}: false promise: {f['text']}")
            if got["delivers"] != label["delivers"]:
                print(f"{label['file']}: delivers {got['delivers']}, labelled {label['delivers']}")
        dtp += got["delivers"] and label["delivers"]
        dfp += got["delivers"] and not label["delivers"]
        dfn += label["delivers"] and not got["delivers"]
    return tp, fp, fn, exact, dtp, dfp, dfn


def report(name, labels, found, verbose):
    tp, fp, fn, exact, dtp, dfp, dfn = measure(labels, found, verbose)
    p, r, f = prf(tp, fp, fn)
    share = exact / tp if tp else 0.0
    dp, dr, df = prf(dtp, dfp, dfn)
    print(f"{name}: {len(labels)} messages, {tp + fn} promises labelled, {tp + fp} found")
    print(f"{name}: promises precision {p:.2f} recall {r:.2f} F1 {f:.2f}; "
          f"exact deadlines {exact}/{tp} = {share:.0%}; "
          f"delivery precision {dp:.2f} recall {dr:.2f} F1 {df:.2f}")
    return f, share, df


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    labels, found = run(args.build)
    tuned = [l for l in labels if not l.get("heldout")]
    heldout = [l for l in labels if l.get("heldout")]
    report("written with the rules (001-049)", tuned, found, args.verbose)
    report("held out (050-069)", heldout, found, args.verbose)
    f, share, df = report("all", labels, found, False)
    if args.check and (f < 0.85 or share < 0.80 or df < 0.85):
        sys.exit(1)


if __name__ == "__main__":
    main()
