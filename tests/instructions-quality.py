#!/usr/bin/env python3
"""tests/instructions-quality.py: measures the instruction extractor.

Usage: python3 tests/instructions-quality.py [--build DIR] [--verbose] [--check]

Runs the driver mode of the unit-test program (DIR/tests/unit/test-instructions,
which links the real parser and extractor) over:
  * ../shared/corpus/dev/*.eml with ../shared/corpus/dev/keel.conf, against the
    `instructions` of labels.json:
      - per message: detection of "has at least one instruction" (P/R/F1)
      - per instruction: extracted units matched one-to-one to labelled ones
        (P/R/F1). Two texts match when their content-word overlap is >= 0.5:
        words are lower-cased, stop words dropped, each cut to its first 5
        letters (a crude stem), and overlap = |A & B| / min(|A|, |B|). Pairs
        are taken greedily, best overlap first.
      - deadline exact match: over matched pairs whose label has a deadline,
        the share whose extracted deadline is the same YYYY-MM-DDTHH:MM.
  * ../shared/data/intent-dev.tsv: each sentence is the new text of a message
    from a known client (Europe/London, UK dates) dated Wednesday 4 March 2026
    10:00; a sentence counts as Yes when at least one instruction is
    extracted (P/R/F1 against the labels).
--check exits 1 when a figure is under the targets (F1 0.85, deadlines 85 %,
intent F1 0.80).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("KEEL_SHARED", os.path.join(ROOT, "..", "shared"))
STOP = set("""a an the and or but of to in on at for by with from is are was were be been it its
it's this that these those i i'm i'll i've me my we our us you your jo can could would will
please pls just also then so as if any all up out into over about there their them they he she
his her him do does did have has had get got not no yes some more most very really thanks thank
what when where which who how than too one two""".split())


def words(text):
    tokens = re.findall(r"[a-z0-9£]+(?:['’][a-z]+)?", text.lower())
    return {t[:5] for t in tokens if t not in STOP and len(t) > 1}


def overlap(a, b):
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def run_driver(build, args):
    exe = os.path.join(build, "tests", "unit", "test-instructions")
    env = dict(os.environ, KEEL_SOURCE_ROOT=ROOT)
    out = subprocess.run([exe] + args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{exe} failed ({out.returncode}): {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def match(labelled, found):
    """Pass 1: word overlap >= 0.5, best first. Pass 2: what is left in the
    message, paired when both name the same (non-null) deadline: the labels
    paraphrase ("Tell Brooke whether..." for "Let me know by Friday.")."""
    pairs = sorted(((overlap(l["text"], f["text"]), i, j)
                    for i, l in enumerate(labelled) for j, f in enumerate(found)), reverse=True)
    used_l, used_f, by_words, by_deadline = set(), set(), [], []
    for score, i, j in pairs:
        if score < 0.5 or i in used_l or j in used_f:
            continue
        used_l.add(i)
        used_f.add(j)
        by_words.append((i, j))
    for i, l in enumerate(labelled):
        for j, f in enumerate(found):
            if i in used_l or j in used_f or l["deadline"] is None:
                continue
            if l["deadline"] == f["deadline"]:
                used_l.add(i)
                used_f.add(j)
                by_deadline.append((i, j))
    return by_words, by_deadline


def measure_dev(build, verbose):
    dev = os.path.join(SHARED, "corpus", "dev")
    labels = {l["file"]: l for l in json.load(open(os.path.join(dev, "labels.json")))}
    files = sorted(os.path.join(dev, f) for f in labels)
    results = {r["file"]: r for r in run_driver(
        build, ["--extract", "--config", os.path.join(dev, "keel.conf")] + files)}
    m = {"tp": 0, "fp": 0, "fn": 0}
    i_tp = i_fp = i_fn = 0
    d_total = d_exact = w_tp = m_dated = m_found = 0
    for name, label in sorted(labels.items()):
        want, got = label["instructions"], results[name]["instructions"]
        if want and got:
            m["tp"] += 1
        elif got:
            m["fp"] += 1
        elif want:
            m["fn"] += 1
        by_words, by_deadline = match(want, got)
        pairs = by_words + by_deadline
        i_tp += len(pairs)
        i_fp += len(got) - len(pairs)
        i_fn += len(want) - len(pairs)
        w_tp += len(by_words)
        for li, fj in by_words:
            if want[li]["deadline"] is not None:
                d_total += 1
                d_exact += want[li]["deadline"] == got[fj]["deadline"]
        dated = [w["deadline"] for w in want if w["deadline"] is not None]
        found = [g["deadline"] for g in got]
        m_dated += len(dated)
        for d in dated:
            if d in found:
                found.remove(d)
                m_found += 1
        if verbose:
            report_message(name, want, got, pairs)
    words_only = prf(w_tp, i_tp + i_fp - w_tp, i_tp + i_fn - w_tp)
    return (prf(m["tp"], m["fp"], m["fn"]), prf(i_tp, i_fp, i_fn), words_only,
            (d_exact, d_total), (m_found, m_dated))


def report_message(name, want, got, pairs):
    lines = []
    matched_l = {i for i, _ in pairs}
    matched_f = {j for _, j in pairs}
    for li, fj in pairs:
        if want[li]["deadline"] != got[fj]["deadline"]:
            lines.append(f"  DEADLINE want {want[li]['deadline']} got {got[fj]['deadline']}: {got[fj]['text']}")
    lines += [f"  MISSED  {w['deadline']} {w['text']}" for i, w in enumerate(want) if i not in matched_l]
    lines += [f"  EXTRA   {g['deadline']} {g['text']}" for j, g in enumerate(got) if j not in matched_f]
    if lines:
        print(name)
        print("\n".join(lines))


def measure_intent(build, verbose):
    rows = []
    with open(os.path.join(SHARED, "data", "intent-dev.tsv"), encoding="utf-8") as f:
        for line in f:
            label, _, sentence = line.rstrip("\n").partition("\t")
            rows.append((label == "Yes", sentence.replace("\r", " ")))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as tmp:
        tmp.write("\n".join(s for _, s in rows) + "\n")
    try:
        results = run_driver(build, ["--extract-lines", "--date", "2026-03-04T10:00:00", tmp.name])
    finally:
        os.unlink(tmp.name)
    tp = fp = fn = 0
    for (yes, sentence), result in zip(rows, results):
        said = bool(result["instructions"])
        tp += yes and said
        fp += said and not yes
        fn += yes and not said
        if verbose and yes != said:
            print(f"  intent {'FN' if yes else 'FP'}: {sentence}")
    return prf(tp, fp, fn)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--intent-errors", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    msg, ins, words_only, (d_exact, d_total), (m_found, m_dated) = measure_dev(args.build, args.verbose)
    intent = measure_intent(args.build, args.intent_errors)
    deadline = d_exact / d_total if d_total else 0.0
    print(f"dev messages      P {msg[0]:.3f}  R {msg[1]:.3f}  F1 {msg[2]:.3f}")
    print(f"dev instructions  P {ins[0]:.3f}  R {ins[1]:.3f}  F1 {ins[2]:.3f}")
    print(f"  (word overlap alone, no deadline pass: P {words_only[0]:.3f}  R {words_only[1]:.3f}  F1 {words_only[2]:.3f})")
    print(f"dev deadlines     exact {d_exact}/{d_total} = {deadline:.1%} (pairs matched by words)")
    print(f"                  labelled deadlines found in their message: {m_found}/{m_dated} = {m_found / max(m_dated, 1):.1%}")
    print(f"intent-dev        P {intent[0]:.3f}  R {intent[1]:.3f}  F1 {intent[2]:.3f}")
    if args.check and (ins[2] < 0.85 or deadline < 0.85 or intent[2] < 0.80):
        sys.exit(1)


if __name__ == "__main__":
    main()
