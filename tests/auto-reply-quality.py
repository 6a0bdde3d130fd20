#!/usr/bin/env python3
"""tests/auto-reply-quality.py: how well `keel score --json` decides
`auto_reply` on the labelled dev corpus, and how many confirmations it would
plan for mail that must never get one (risky, vague or automated by the
labels, or automated by keel). Files are scored in one run, in name order, so
a reply sees the risk of the earlier messages of its thread.

Usage: tests/auto-reply-quality.py [--keel BUILD/daemon/keel] [--dev DIR]
Exit 1 when accuracy < 0.90 or any unsafe confirmation is planned.
The floor was 0.95 before the confirmation gate asked for positive evidence
(issue 15): 026 and 027 are labelled `confirm` but chase overdue work
(urgency 3 gets a person), and 036's payment question scores payment 0.5
(any dimension above 0 blocks). Silence is the safe side."""
import argparse, glob, json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument('--keel', default=os.path.join(root, 'build', 'daemon', 'keel'))
ap.add_argument('--dev', default=os.path.join(root, '..', 'shared', 'corpus', 'dev'))
args = ap.parse_args()

labels = {l['file']: l for l in json.load(open(os.path.join(args.dev, 'labels.json')))}
files = sorted(glob.glob(os.path.join(args.dev, '*.eml')))
out = subprocess.run([args.keel, 'score', '--json', '--rules', os.path.join(root, 'rules'),
                      '--config', os.path.join(args.dev, 'keel.conf')] + files,
                     capture_output=True, text=True, check=True).stdout
right = unsafe = total = 0
for line in out.splitlines():
    r = json.loads(line)
    label = labels[os.path.basename(r['file'])]
    total += 1
    if r['auto_reply'] == label['auto_reply']:
        right += 1
    else:
        print('%s: keel %s (%s), label %s' % (os.path.basename(r['file']), r['auto_reply'],
                                             r['auto_reply_reason'], label['auto_reply']))
    if r['auto_reply'] == 'confirm' and (label['risky'] or label['vague'] or r['automated']):
        unsafe += 1
        print('UNSAFE: %s' % r['file'])
accuracy = right / total if total else 0
print('auto_reply accuracy: %d/%d = %.3f (target >= 0.90)' % (right, total, accuracy))
print('confirmations planned for risky, vague or automated mail: %d (target 0)' % unsafe)
sys.exit(0 if accuracy >= 0.90 and unsafe == 0 else 1)
