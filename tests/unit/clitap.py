"""tests/unit/clitap.py: what every Python unit test of keel's command line
shares: run the keel binary under test, record named checks, print them as
TAP (a failed check's detail as `#` lines) and exit non-zero on a failure.
Standard library only; it starts no server and writes no file."""
import os
import subprocess
import sys

KEEL = os.environ["KEEL_BIN"]
ROOT = os.environ["KEEL_SOURCE_ROOT"]
_results = []


def run(*args):
    """keel ARGS with no standard input: (exit code, stdout, stderr)."""
    p = subprocess.run([KEEL, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def check(name, ok, detail=""):
    _results.append((name, bool(ok), detail))


def finish(detail_lines=40):
    """Print the plan and one line per check, then exit (1 if any failed)."""
    print("1..%d" % len(_results))
    for n, (name, ok, detail) in enumerate(_results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
        if not ok:
            for line in str(detail).splitlines()[:detail_lines]:
                print("# " + line)
    sys.exit(0 if all(ok for _, ok, _ in _results) else 1)
