#!/usr/bin/env python3
"""tests/confirm-quality.py: the confirmation gate (filters/confirm.c) on the
labelled worlds of ../shared/corpus/. For each world, `keel score --json
--config WORLD/keel.conf` over all its files in name order (so a reply sees
the risk of the earlier messages of its thread), then:
  unsafe  = confirmations planned for a message labelled `none` (risky, vague,
            automated, nothing to confirm, or in a risky thread);
  risky   = of those, the ones labelled risky;
  share   = confirm-labelled messages that get a confirmation.

Usage: tests/confirm-quality.py [--keel BUILD/daemon/keel] [--corpus DIR] [-v]
Exit 1 when any world has an unsafe confirmation."""
import argparse, glob, json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument('--keel', default=os.path.join(root, 'build', 'daemon', 'keel'))
ap.add_argument('--rules', default=os.path.join(root, 'rules'))
ap.add_argument('--corpus', default=os.path.join(root, '..', 'shared', 'corpus'))
ap.add_argument('-v', '--verbose', action='store_true')
args = ap.parse_args()

failed = False
print('%-6s %8s %8s %12s' % ('world', 'unsafe', 'on risky', 'share'))
for world in ('dev', 'us', 'au', 'ph'):
    d = os.path.join(args.corpus, world)
    labels = {l['file']: l for l in json.load(open(os.path.join(d, 'labels.json')))}
    files = sorted(glob.glob(os.path.join(d, '*.eml')))
    out = subprocess.run([args.keel, 'score', '--json', '--rules', args.rules,
                          '--config', os.path.join(d, 'keel.conf')] + files,
                         capture_output=True, text=True, check=True).stdout
    unsafe = on_risky = got = want = 0
    for line in out.splitlines():
        r = json.loads(line)
        name = os.path.basename(r['file'])
        label = labels[name]
        mine = r['auto_reply'] == 'confirm'
        if label['auto_reply'] == 'confirm':
            want += 1
            got += mine
            if not mine and args.verbose:
                print('  %s/%s missed: %s' % (world, name, r['auto_reply_reason']))
        elif mine:
            unsafe += 1
            on_risky += bool(label['risky'])
            print('  UNSAFE %s/%s: %s' % (world, name, label.get('notes', '')))
    failed = failed or unsafe > 0
    print('%-6s %8d %8d %5d/%-2d %4.0f%%' % (world, unsafe, on_risky, got, want,
                                           100.0 * got / want if want else 0))
sys.exit(1 if failed else 0)
