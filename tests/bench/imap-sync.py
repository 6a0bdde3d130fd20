"""tests/bench/imap-sync.py: initial sync of one big folder from a private
Dovecot, keel against mbsync (isync), in one run, plus the cost of polling
the unchanged folder. Run it through tests/bench/imap-sync.sh.

For each size (default 1000 and 10000 messages) it builds a fresh Maildir
from the SpamAssassin corpus (repeated, each copy with a new Message-ID),
warms Dovecot's index and size cache, then measures with /usr/bin/time -v:
  keel daemon --once   (fetch + parse + score + thread + store in SQLite, one
                        transaction and fsync per 50 messages)
  mbsync -a            (fetch + write a Maildir, Sync Pull)
and, on the largest size, a second `keel daemon --once` against the
unchanged folder (IMAP commands counted from --verbose). RUNS=n (default 1)
repeats each side n times, alternating, and keeps the fastest (a shared
machine's noise only ever adds time); CPU seconds (user + system) are
printed too, as they depend less on what else the machine is doing, with
the 1-minute load average just before the keel run kept (a wall time taken
at a load above 1 on two cores says little).

With --poll-latency N it instead measures, N times, the time from an APPEND
to the message stored by `keel daemon` polling at the default 60 s interval
with idle = false, each APPEND at a random moment (uniform over the interval)
after the previous one was stored.

KEEL_WRAP="valgrind --tool=callgrind --separate-threads=yes" runs the
initial sync under that command (a profile of it; the times then say
nothing).

Usage: /usr/bin/python3 tests/bench/imap-sync.py KEEL_BIN [SIZE...]
       /usr/bin/python3 tests/bench/imap-sync.py KEEL_BIN --poll-latency N"""

import glob
import os
import random
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Dovecot, KeelRun, _chown_tree, make_message  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "data", "spamassassin")
MSGID = re.compile(rb"^Message-I[Dd]:[^\n]*\n(?:[ \t][^\n]*\n)*", re.M | re.I)


def corpus():
    files = sorted(glob.glob(os.path.join(CORPUS, "*", "*.eml")))
    if not files:
        sys.exit("no corpus in %s: run tests/fetch-spamassassin.sh" % CORPUS)
    return files


def with_message_id(raw, n):
    """`raw` with its Message-ID replaced (or added) by a unique one."""
    head_end = raw.find(b"\n\n")
    head, body = (raw, b"") if head_end < 0 else (raw[:head_end + 1], raw[head_end + 1:])
    head = MSGID.sub(b"", head)
    return b"Message-ID: <bench-%d@keel.example>\n" % n + head + body


def build_maildir(server, user, count, files):
    path = server.maildir(user)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    total = 0
    for n in range(count):
        raw = with_message_id(open(files[n % len(files)], "rb").read(), n)
        total += len(raw)
        name = "%d.M%dP1.bench:2," % (1700000000 + n, n)
        with open(os.path.join(path, "cur", name), "wb") as f:
            f.write(raw)
    _chown_tree(os.path.join(server.dir, "mail", user))
    # Dovecot indexes and caches sizes on first access: do it for both clients.
    server.doveadm("fetch", "-u", user, "uid size.virtual", "mailbox", "INBOX", "all")
    return total


def server_flags(server, user):
    """Every message's flags but \\Recent (a session flag the first SELECT clears)."""
    text = server.doveadm("fetch", "-u", user, "uid flags", "mailbox", "INBOX", "all")
    return [re.sub(r"\\Recent", "", line).strip() for line in text.splitlines()]


CPU_SECONDS = {}


def timed(cmd, env=None):
    """(wall seconds, peak RSS in KB, stderr) of `cmd` under /usr/bin/time -v;
    its CPU seconds (user + system) in CPU_SECONDS[cmd[0]]."""
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("%s failed (rc %d):\n%s" % (cmd[0], proc.returncode, proc.stderr[-3000:]))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    CPU_SECONDS[cmd[0]] = sum(float(x) for x in re.findall(
        r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
    return wall, rss, proc.stderr


MBSYNC_CONF = """IMAPAccount bench
Host localhost
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {cert}

IMAPStore remote
Account bench

MaildirStore local
Path {dir}/
Inbox {dir}/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
SyncState *
"""


def run_mbsync(server, user, work):
    target = os.path.join(work, "mbsync")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    conf = os.path.join(work, "mbsyncrc")
    with open(conf, "w") as f:
        f.write(MBSYNC_CONF.format(port=server.imaps_port, user=user, password=server.users[user],
                                   cert=server.cert, dir=target))
    wall, rss, _ = timed(["mbsync", "-q", "-c", conf, "-a"])
    stored = len(os.listdir(os.path.join(target, "INBOX", "cur"))) + \
        len(os.listdir(os.path.join(target, "INBOX", "new")))
    return wall, rss, stored, CPU_SECONDS["mbsync"]


def run_keel(keel, server, user, run):
    run.write_config([{"name": "bench", "imap": server.url(), "user": user,
                       "password": server.users[user], "ca_file": server.cert,
                       "folders": "INBOX", "read_timeout": 120}])
    load = os.getloadavg()[0]
    cmd = shlex.split(os.environ.get("KEEL_WRAP", "")) + [keel, "daemon", "--once", "--config",
                                                          run.config]
    wall, rss, err = timed(cmd)
    summary = re.search(r"polled .*", err)
    return wall, rss, summary.group(0) if summary else "?", CPU_SECONDS[cmd[0]], load


def unchanged_poll(keel, run):
    wall, rss, err = timed([keel, "daemon", "--once", "--verbose", "--config", run.config])
    commands = re.findall(r"<7>keel-\w+: \S+ > \S+ (\S+)", err)
    return wall, commands, re.search(r"polled .*", err).group(0)


def bench_size(keel, count, files):
    user = "bench"
    with Dovecot({user: "benchpw"}) as server, tempfile.TemporaryDirectory() as work:
        server.start()
        size = build_maildir(server, user, count, files)
        flags_before = server_flags(server, user)
        keels, mbsyncs = [], []
        for _ in range(int(os.environ.get("RUNS", "1"))):
            run = KeelRun(ROOT)
            run.bin = keel
            keels.append(run_keel(keel, server, user, run) + (run,))
            mbsyncs.append(run_mbsync(server, user, work))
        k_wall, k_rss, k_summary, k_cpu, k_load, run = min(keels, key=lambda r: r[0])
        m_wall, m_rss, m_stored, m_cpu = min(mbsyncs, key=lambda r: r[0])
        try:
            flags_after = server_flags(server, user)
            result = {"count": count, "mbytes": size / 1e6, "keel_wall": k_wall, "keel_rss": k_rss,
                      "keel_summary": k_summary, "mbsync_wall": m_wall, "mbsync_rss": m_rss,
                      "mbsync_stored": m_stored, "flags_same": flags_before == flags_after,
                      "keel_cpu": k_cpu, "mbsync_cpu": m_cpu, "load": k_load}
            result["poll"] = unchanged_poll(keel, run)
            return result
        finally:
            KeelRun.close_all()


def stored_count(database):
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % database, uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def poll_latency(keel, samples):
    """APPEND-to-stored seconds of `samples` messages, keel polling every 60 s."""
    with Dovecot({"lat": "latpw"}) as server:
        server.start()
        run = KeelRun(ROOT)
        run.bin = keel
        run.write_config([{"name": "lat", "imap": server.url(), "user": "lat",
                           "password": "latpw", "ca_file": server.cert, "folders": "INBOX",
                           "idle": False}])   # poll_interval: the default (60 s)
        err = open(os.path.join(run.dir, "keel.err"), "w")
        proc = subprocess.Popen([keel, "daemon", "--config", run.config],
                                stdout=subprocess.DEVNULL, stderr=err)
        latencies = []
        try:
            time.sleep(3)  # the first poll
            for n in range(samples):
                time.sleep(random.uniform(0, 60))
                start = time.monotonic()
                server.append("lat", "INBOX", make_message(5000 + n))
                while stored_count(run.database) < n + 1 and time.monotonic() - start < 120:
                    time.sleep(0.05)
                latencies.append(time.monotonic() - start)
                print("# APPEND %d stored after %.2f s" % (n + 1, latencies[-1]), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            KeelRun.close_all()
    print("polling every 60 s, idle = false: APPEND to stored, %d samples: median %.2f s, "
          "min %.2f s, max %.2f s" % (samples, statistics.median(latencies), min(latencies),
                                      max(latencies)))
    return 0


def main():
    keel = os.path.abspath(sys.argv[1])
    if len(sys.argv) == 4 and sys.argv[2] == "--poll-latency":
        return poll_latency(keel, int(sys.argv[3]))
    sizes = [int(a) for a in sys.argv[2:]] or [1000, 10000]
    files = corpus()
    results = [bench_size(keel, n, files) for n in sizes]
    print("%-8s %8s %10s %10s %7s %12s %12s %s" % ("messages", "MB", "keel s", "mbsync s",
                                                 "ratio", "keel RSS MB", "mbsync RSS", "flags"))
    for r in results:
        print("%-8d %8.1f %10.2f %10.2f %7.2f %12.1f %12.1f %s" % (
            r["count"], r["mbytes"], r["keel_wall"], r["mbsync_wall"],
            r["keel_wall"] / r["mbsync_wall"], r["keel_rss"] / 1024, r["mbsync_rss"] / 1024,
            "unchanged" if r["flags_same"] else "CHANGED"))
        print("         CPU s (user+sys): keel %.2f, mbsync %.2f; load average before keel: %.2f"
              % (r["keel_cpu"], r["mbsync_cpu"], r["load"]))
        print("         keel: %s; mbsync stored %d" % (r["keel_summary"], r["mbsync_stored"]))
    if len(results) > 1:
        print("keel peak RSS %d vs %d messages: %.2fx" % (
            results[-1]["count"], results[0]["count"],
            results[-1]["keel_rss"] / results[0]["keel_rss"]))
    wall, commands, summary = results[-1]["poll"]
    print("unchanged poll of %d messages: %.3f s wall (process), IMAP commands: %s" % (
        results[-1]["count"], wall, " ".join(commands)))
    print("  %s" % summary)
    return 0 if all(r["flags_same"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
