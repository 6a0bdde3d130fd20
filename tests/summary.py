#!/usr/bin/env python3
"""tests/summary.py: counts test cases across meson test logs (one TAP case =
one test; a test without TAP output counts once), fuzz results (lines
"PASS name"/"FAIL name") and steps that failed before producing a log, and
prints the single closing line "N passed, N failed"."""
import json, re, sys

passed = failed = 0
*logs, fuzz, failed_steps = sys.argv[1:]

def count_tap(text):
    ok = len(re.findall(r'^ok \d+', text, re.M))
    bad = len(re.findall(r'^not ok \d+', text, re.M))
    return ok, bad

seen_any = False
for path in logs:
    try:
        lines = open(path, encoding='utf-8', errors='replace').read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        seen_any = True
        rec = json.loads(line)
        ok, bad = count_tap(rec.get('stdout') or rec.get('stdo') or '')
        result = rec.get('result')
        if ok + bad == 0:
            if result in ('OK', 'EXPECTEDFAIL'):
                ok = 1
            elif result != 'SKIP':
                bad = 1
        elif result not in ('OK', 'EXPECTEDFAIL', 'SKIP') and bad == 0:
            bad = 1  # crashed or timed out after its last reported case
        passed += ok
        failed += bad
try:
    for line in open(fuzz, encoding='utf-8'):
        if line.startswith('PASS '):
            passed += 1
        elif line.startswith('FAIL '):
            failed += 1
except OSError:
    failed += 1
if not seen_any:
    failed += 1
if failed == 0 and int(failed_steps) > 0:
    failed += int(failed_steps)  # a step failed without a failing case to show for it
print(f"{passed} passed, {failed} failed")
