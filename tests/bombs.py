#!/usr/bin/python3
"""tests/bombs.py: memory bombs under the size limit (issue 12, item 2).

Generates, in a temporary folder (never committed), one message of each kind
at SIZE bytes: empty MIME parts, deep MIME nesting, one To field of many
addresses, many tiny header fields; and two within the caps: one plain text
part, one HTML part. Then, for each, runs under
/usr/bin/time -v
  keel parse --json FILE           (the parser and the JSON of it)
  keel import --database DB FILE   (the pipeline: parse, store, FTS index)
and checks: exit 0; peak RSS <= 4 x SIZE + 64 MB; the parse says malformed
with a reason naming the cap; the imported row keeps the raw bytes and is
marked malformed (automated, so never answered). The text and HTML messages
are not malformed, and their new_text is at most 1 MB.

Usage: tests/bombs.py KEEL [--size MB] [--kinds parts,nesting,to,headers]
       [--no-check] (print the figures only, e.g. for a keel from before)
The unit suite runs it at 2 MB (bombs-small); the integration suite at 24 MB.
Prints one line per kind and command: size, wall time, peak RSS, bound.
"""
import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile

MB = 1024 * 1024
TIMEOUT = 240  # seconds per command; the unbounded keel took minutes at 24 MB


def bomb_parts(size):
    head = (b"From: a@x.example\r\nTo: jo@y.example\r\nSubject: parts\r\n"
            b"Message-ID: <parts@bomb.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n")
    part = b"--b\r\n\r\n"
    return head + part * ((size - len(head)) // len(part)) + b"--b--\r\n"


def bomb_nesting(size):
    head = (b"From: a@x.example\r\nTo: jo@y.example\r\nSubject: nesting\r\n"
            b"Message-ID: <nesting@bomb.example>\r\nMIME-Version: 1.0\r\n")
    out = [head]
    total, level = len(head), 0
    while total < size:
        chunk = b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (level, level)
        out.append(chunk)
        total += len(chunk)
        level += 1
    out.append(b"\r\nend\r\n")
    return b"".join(out)


def bomb_to(size):
    head = (b"From: a@x.example\r\nSubject: to\r\nMessage-ID: <to@bomb.example>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\nTo: ")
    out, total, i = [head], len(head), 0
    while total < size:
        chunk = b"u%d@x.example,\r\n " % i
        out.append(chunk)
        total += len(chunk)
        i += 1
    out.append(b"last@x.example\r\n\r\nhello\r\n")
    return b"".join(out)


def bomb_headers(size):
    head = (b"From: a@x.example\r\nTo: jo@y.example\r\nSubject: headers\r\n"
            b"Message-ID: <headers@bomb.example>\r\n")
    line = b"X-A: b\r\n"
    return head + line * ((size - len(head)) // len(line)) + b"\r\nhello\r\n"


def big_text(size):
    head = (b"From: a@x.example\r\nTo: jo@y.example\r\nSubject: text\r\n"
            b"Message-ID: <text@bomb.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    line = b"Please send the receipts for March and the invoices by Friday 5pm, merci.\r\n"
    return head + line * ((size - len(head)) // len(line))


def big_html(size):
    head = (b"From: a@x.example\r\nTo: jo@y.example\r\nSubject: html\r\n"
            b"Message-ID: <html@bomb.example>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            b"<html><body>")
    line = b"<p>Please send the <b>receipts</b> for March and the <i>invoices</i>.</p>\r\n"
    return head + line * ((size - len(head)) // len(line)) + b"</body></html>\r\n"


# kind -> (generator, what the malformed reason names; None: a message within
# the caps, whose text keel reads only up to KEEL_LIMITS_TEXT)
BOMBS = {"parts": (bomb_parts, "MIME parts"), "nesting": (bomb_nesting, "nesting"),
         "to": (bomb_to, "addresses"), "headers": (bomb_headers, "header fields"),
         "text": (big_text, None), "html": (big_html, None)}


def timed(cmd, out_path):
    """Runs cmd under /usr/bin/time -v; returns (exit, wall s, max RSS bytes)."""
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(["/usr/bin/time", "-v"] + cmd, stdout=out,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # keel too, not only time(1)
            proc.communicate()
            return -1, float(TIMEOUT), 0
    rss, wall = 0, 0.0
    for line in err.decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("Maximum resident set size"):
            rss = int(line.split(":")[1]) * 1024
        elif line.startswith("Elapsed (wall clock) time"):
            parts = line.rsplit(" ", 1)[1].split(":")
            wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))
    return proc.returncode, wall, rss


def check_parse(kind, out_path, failures):
    with open(out_path) as f:
        line = f.readline()
    try:
        parsed = json.loads(line)
    except ValueError:
        failures.append("%s: parse --json printed no JSON" % kind)
        return
    reason = parsed.get("malformed") or ""
    if BOMBS[kind][1] is None:
        if reason or len(parsed.get("new_text", "")) > 1024 * 1024:
            failures.append("%s: parse --json malformed %r, new_text %d bytes (expected a "
                            "message read up to 1 MB of text)"
                            % (kind, reason, len(parsed.get("new_text", ""))))
        return
    if BOMBS[kind][1] not in reason:
        failures.append("%s: parse --json malformed = %r, expected a reason naming %s"
                        % (kind, reason, BOMBS[kind][1]))


def check_import(kind, db, size, failures):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT length(raw), automated, automated_reason FROM messages").fetchall()
    con.close()
    if BOMBS[kind][1] is None:
        if len(rows) != 1 or rows[0][0] != size or rows[0][1]:
            failures.append("%s: import stored %r (expected the raw bytes, not malformed)"
                            % (kind, rows))
        return
    if len(rows) != 1 or rows[0][0] != size or not rows[0][1] \
            or BOMBS[kind][1] not in (rows[0][2] or ""):
        failures.append("%s: import stored %r (expected raw bytes kept, malformed)"
                        % (kind, [(r[0], r[1], r[2]) for r in rows]))


def sanitized(keel):
    """TRUE for a keel built with ASan (its shadow memory is no peak RSS of keel's)."""
    with open(keel, "rb") as f:
        return b"__asan_init" in f.read()


def run(keel, size_mb, kinds, check):
    failures = []
    bound_rss = not sanitized(keel)
    if not bound_rss:
        print("# keel is built with ASan: peak RSS printed, not checked")
    with tempfile.TemporaryDirectory(prefix="keel-bombs-") as tmp:
        for kind in kinds:
            path = os.path.join(tmp, kind + ".eml")
            data = BOMBS[kind][0](int(size_mb * MB))
            with open(path, "wb") as f:
                f.write(data)
            del data
            size = os.path.getsize(path)
            bound = 4 * size + 64 * MB
            db = os.path.join(tmp, kind + ".db")
            out = os.path.join(tmp, kind + ".out")
            for name, cmd in (("parse --json", [keel, "parse", "--json", path]),
                              ("import", [keel, "import", "--database", db, path])):
                code, wall, rss = timed(cmd, out)
                print("%-8s %-13s %6.1f MB  %6.2f s  max RSS %7.1f MB  (bound %6.1f MB)%s"
                      % (kind, name, size / MB, wall, rss / MB, bound / MB,
                         "" if code == 0 else "  exit %d" % code), flush=True)
                if code != 0:
                    failures.append("%s: %s exited %d" % (kind, name, code))
                if bound_rss and rss > bound:
                    failures.append("%s: %s peak RSS %.1f MB > %.1f MB"
                                    % (kind, name, rss / MB, bound / MB))
                if check and code == 0 and name == "import":
                    check_import(kind, db, size, failures)
                elif check and code == 0:
                    check_parse(kind, out, failures)
            os.unlink(path)
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("keel")
    ap.add_argument("--size", type=float, default=24, help="MB per bomb (default 24)")
    ap.add_argument("--kinds", default="parts,nesting,to,headers,text,html")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    if not os.path.exists("/usr/bin/time"):
        print("1..0 # SKIP /usr/bin/time is missing (apt-get install time)")
        return 0
    failures = run(args.keel, args.size, args.kinds.split(","), not args.no_check)
    for failure in failures:
        print("FAIL " + failure)
    return 1 if failures and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
