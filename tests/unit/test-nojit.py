#!/usr/bin/env python3
"""tests/unit/test-nojit.py: keel scores the same without PCRE2's JIT (issue
14). Under systemd's MemoryDenyWriteExecute=yes pcre2_jit_compile() fails and
pcre2_match() runs the interpreter; tests/bench/mdwe.py reproduces that with
prctl(PR_SET_MDWE) (Linux >= 6.3). This runs `keel score --json` on the rule
family examples, the parser fixtures and a few SpamAssassin messages (when
tests/data/spamassassin is there) with and without the setting, and checks:
  - under the setting the JIT really is refused (else the test proves nothing)
    and the setting survives execve into the program started,
  - both runs succeed and print the same JSON, byte for byte (no rule hits a
    match limit only in the interpreter, nothing crashes without JIT),
  - the messages do exercise regex rules (hits outside signals),
  - keel itself never imports pcre2_jit_match (a JIT-only entry point).
Skips (77) when the kernel refuses the prctl. TAP output."""
import glob
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitap import KEEL as keel, ROOT as root, check, finish  # noqa: E402
mdwe = [sys.executable, os.path.join(root, "tests", "bench", "mdwe.py")]



def score(files, wrapper=()):
    args = [*wrapper, keel, "score", "--json", "--now", "2026-03-13T08:00:00Z",
            "--rules", os.path.join(root, "rules"), *files]
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          cwd=root)


probe = subprocess.run([*mdwe, "--check"], capture_output=True, text=True)
if probe.returncode != 0:
    reason = ("the kernel refuses PR_SET_MDWE" if probe.returncode == 77
              else "PCRE2's JIT is not refused under MDWE here (%s)" % probe.stdout.strip())
    print("1..0 # SKIP " + reason)
    sys.exit(77)
check("under MDWE pcre2_jit_compile fails with -48", "-48" in probe.stdout, probe.stdout)
inherited = subprocess.run([*mdwe, sys.executable, "-c", "import ctypes; "
                            "print(ctypes.CDLL(None).prctl(66, 0, 0, 0, 0))"],  # PR_GET_MDWE
                           capture_output=True, text=True)
check("the setting survives execve (the keel it starts has it)",
      inherited.stdout.strip() == "1", inherited.stdout + inherited.stderr)

files = sorted(glob.glob(os.path.join(root, "tests", "data", "families", "*", "*.eml")))
files += sorted(glob.glob(os.path.join(root, "tests", "data", "parser", "*.eml")))
for folder in ("spam-1", "easy-ham-1", "hard-ham-1"):
    files += sorted(glob.glob(os.path.join(root, "tests", "data", "spamassassin", folder,
                                           "*.eml")))[:10]
jit = score(files)
nojit = score(files, mdwe)
check("keel score succeeds with JIT", jit.returncode == 0, jit.stderr[-2000:])
check("keel score succeeds without JIT (MDWE)", nojit.returncode == 0, nojit.stderr[-2000:])
lines = jit.stdout.splitlines()
check("one JSON line per message", len(lines) == len(files), "%d lines, %d files"
      % (len(lines), len(files)))
check("the same JSON with and without JIT", jit.stdout == nojit.stdout and jit.stdout,
      "\n".join(a + "\n" + b for a, b in zip(lines, nojit.stdout.splitlines()) if a != b)[:3000])
regex_hits = sum(1 for line in lines for hit in json.loads(line)["hits"]
                 if hit["where"] != "signal")
errors = [json.loads(line)["errors"] for line in lines if json.loads(line)["errors"]]
check("the messages exercise regex rules (%d hits)" % regex_hits, regex_hits >= 20)
check("no rule error (match limit) in either run", not errors, errors[:3])

nm = shutil.which("nm")
if nm:
    imports = subprocess.run([nm, "-D", "--undefined-only", keel], capture_output=True,
                             text=True).stdout
    check("keel imports pcre2_jit_compile but never pcre2_jit_match",
          "pcre2_jit_compile" in imports and "pcre2_jit_match" not in imports,
          [l for l in imports.splitlines() if "pcre2" in l])

finish()
