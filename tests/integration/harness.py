"""tests/integration/harness.py: real and fake mail servers on 127.0.0.1 for
keel's integration tests, the demo and the IMAP benchmark.

- Dovecot: a private instance from a fresh temp dir (own config, generated
  certificate, passwd-file users, Maildir, IMAPS + IMAP with STARTTLS on free
  ports). start()/stop()/kill(); every process is in its own process group,
  so close() leaves nothing running even after a crash of the test.
- StallServer: accepts connections and never answers.
- NoTlsServer: an IMAP greeting without STARTTLS; records whether a client
  sent a password anyway.
- ThrottleProxy: a TCP relay that slows the server's side down (or holds
  it: `paused`), so a test can kill or stall the server in the middle of a
  fetch.
- KeelRun helpers: write keel.conf + password files, run the keel binary;
  account() is one [account] for it, db_rows() reads its database.
- Sink: smtp_sink.py from a temp dir, logging in as one user; lists what it
  accepted and can be told to refuse.
- Tap: a tiny TAP runner (one `ok N - name` line per case).

Standard library only; run with /usr/bin/python3. Never touches system
configuration (/etc/dovecot, /var/lib/dovecot are not read or written)."""

import email
import email.policy
import glob
import imaplib
import json
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

MAIL_UID = pwd.getpwnam("nobody").pw_uid
MAIL_GID = pwd.getpwnam("nobody").pw_gid


def free_ports(count):
    """Ports the kernel had free a moment ago (Dovecot cannot use port 0)."""
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def make_message(n, subject=None, sender="bob@acme.example", msgid=None, body_lines=20,
                 date="Mon, 02 Mar 2026 09:%02d:00 +0000"):
    """A small client e-mail with CRLF line ends, numbered `n`."""
    msgid = msgid or "keel-test-%d@acme.example" % n
    subject = subject or "Invoice %d and the receipts" % n
    body = "".join("Line %d of message %d: please send the receipts by Friday.\r\n" % (i, n)
                   for i in range(body_lines))
    text = ("From: Bob Client <%s>\r\nTo: Jo VA <alice@va.example>\r\n"
            "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s"
            % (sender, subject, date % (n % 60), msgid, body))
    return text.encode()


def _chown_tree(path):
    for root, dirs, files in os.walk(path):
        os.chown(root, MAIL_UID, MAIL_GID)
        for name in files:
            os.chown(os.path.join(root, name), MAIL_UID, MAIL_GID)


DOVECOT_CONF = """instance_name = keel-test-{pid}-{start}
base_dir = {run}
state_dir = {t}/state
log_path = {t}/dovecot.log
info_log_path = {t}/dovecot.log
debug_log_path = {t}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = dovecot
default_login_user = dovenull
ssl = yes
ssl_cert = <{t}/cert.pem
ssl_key = <{t}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {t}/users.passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {t}/users.passwd
  default_fields = uid=nobody gid=nogroup home={t}/mail/%n
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = create
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class Dovecot:
    """A private Dovecot. `users` maps user name -> password."""

    def __init__(self, users=None):
        self.users = users or {"alice": "alicepw", "bob": "bobpw"}
        self.dir = tempfile.mkdtemp(prefix="keel-dovecot-")
        os.chmod(self.dir, 0o755)
        self.cert = os.path.join(self.dir, "cert.pem")
        self.proc = None
        self.starts = 0
        self.imap_port = self.imaps_port = None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", os.path.join(self.dir, "key.pem"), "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.makedirs(os.path.join(self.dir, "state"))
        os.makedirs(os.path.join(self.dir, "mail"))
        os.chown(os.path.join(self.dir, "mail"), MAIL_UID, MAIL_GID)
        with open(os.path.join(self.dir, "users.passwd"), "w") as f:
            for user, password in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (user, password))

    @property
    def conf(self):
        return os.path.join(self.dir, "dovecot.conf")

    def _write_conf(self):
        run = os.path.join(self.dir, "run%d" % self.starts)  # fresh: no stale sockets
        os.makedirs(run, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(pid=os.getpid(), start=self.starts, run=run, t=self.dir,
                                        imap=self.imap_port, imaps=self.imaps_port))

    def start(self, new_ports=None):
        """Starts Dovecot; keeps its ports across restarts unless new_ports."""
        for attempt in range(5):
            if self.imap_port is None or new_ports or attempt > 0:
                self.imap_port, self.imaps_port = free_ports(2)
            self.starts += 1
            self._write_conf()
            out = open(os.path.join(self.dir, "stdout-%d" % self.starts), "w")
            self.proc = subprocess.Popen(["dovecot", "-c", self.conf, "-F"], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_ready():
                return self
            self._reap()
        raise RuntimeError("dovecot did not start: " + self.log()[-2000:])

    def _wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return True
            except OSError:
                time.sleep(0.02)
        return False

    def _reap(self, sig=signal.SIGKILL):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # children (imap, auth, log) share the group: make sure none is left
        for _ in range(50):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.proc = None

    def stop(self):
        """SIGTERM to the master (about 1 s), then anything left is killed."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._reap()

    def kill(self):
        """SIGKILL to every process of this instance: a crash."""
        self._reap(signal.SIGKILL)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def log(self):
        try:
            return open(os.path.join(self.dir, "dovecot.log"), errors="replace").read()
        except OSError:
            return ""

    def url(self, tls="imaps"):
        if tls == "imaps":
            return "imaps://127.0.0.1:%d" % self.imaps_port
        return "imap://127.0.0.1:%d" % self.imap_port

    def maildir(self, user, folder="INBOX"):
        root = os.path.join(self.dir, "mail", user, "Maildir")
        if folder == "INBOX":
            return root
        return os.path.join(root, "." + folder.replace("/", "."))

    def seed(self, user, folder, messages, first=1):
        """Writes `messages` (bytes, or (bytes, maildir flags like "S"/"FS"))
        straight into the Maildir, in UID order. Returns the file count."""
        path = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        if folder != "INBOX":
            open(os.path.join(path, "maildirfolder"), "a").close()
        stamp = 1700000000 + first
        for i, item in enumerate(messages):
            raw, flags = item if isinstance(item, tuple) else (item, None)
            name = "%d.M%dP%d.keeltest" % (stamp + i, first + i, os.getpid())
            tmp = os.path.join(path, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(raw)
            if flags is None:
                os.rename(tmp, os.path.join(path, "new", name))
            else:
                os.rename(tmp, os.path.join(path, "cur", name + ":2," + flags))
        _chown_tree(os.path.join(self.dir, "mail", user))
        return len(messages)

    def client(self, user):
        """An imaplib IMAPS session for `user`, trusting the test certificate."""
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=ctx)
        conn.login(user, self.users[user])
        return conn

    def flags(self, user, folder="INBOX"):
        """{uid: frozenset of flags} read with EXAMINE (changes nothing)."""
        conn = self.client(user)
        try:
            typ, _ = conn.select('"%s"' % folder, readonly=True)
            assert typ == "OK", typ
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            result = {}
            for line in data:
                if not line:
                    continue
                text = line.decode() if isinstance(line, bytes) else line[0].decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                inner = text.split("FLAGS (")[1].split(")")[0]
                result[uid] = frozenset(f for f in inner.split() if f != "\\Recent")
            return result
        finally:
            conn.logout()

    def append(self, user, folder, raw, flags=""):
        conn = self.client(user)
        try:
            typ, data = conn.append('"%s"' % folder, flags or None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def doveadm(self, *args):
        return subprocess.run(["doveadm", "-c", self.conf] + list(args), check=True,
                              capture_output=True, text=True).stdout


class _Listener:
    """Base for the fake servers: a listening socket served by a thread."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        pass

    def _upstream(self, conn, target):
        """A connection to 127.0.0.1:`target` for a relay, kept for close();
        None (and `conn` closed) when the server does not answer."""
        try:
            upstream = socket.create_connection(("127.0.0.1", target), timeout=30)
        except OSError:
            conn.close()
            return None
        self.conns.append(upstream)
        return upstream

    @staticmethod
    def _hang_up(*socks):
        """Shuts both ways and closes each socket of a relay (errors ignored)."""
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class StallServer(_Listener):
    """Accepts every connection and never sends a byte."""

    def serve(self, conn):
        while not self.closed:
            try:
                if not conn.recv(4096):
                    return
            except OSError:
                return


class NoTlsServer(_Listener):
    """An IMAP server without STARTTLS. `secrets_seen` turns True when a
    client sends LOGIN or AUTHENTICATE over the plain connection."""

    def __init__(self):
        self.secrets_seen = False
        super().__init__()

    def serve(self, conn):
        f = conn.makefile("rwb")
        try:
            f.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n")
            f.flush()
            for line in f:
                words = line.split()
                if len(words) < 2:
                    continue
                tag, cmd = words[0], words[1].upper()
                if cmd in (b"LOGIN", b"AUTHENTICATE"):
                    self.secrets_seen = True
                if cmd == b"CAPABILITY":
                    f.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
                if cmd == b"LOGOUT":
                    f.write(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    f.flush()
                    return
                f.write(tag + b" NO not here\r\n")
                f.flush()
        except OSError:
            pass


class ThrottleProxy(_Listener):
    """Relays to 127.0.0.1:`target`, sleeping `delay` seconds per chunk of at
    most `chunk` bytes from the server."""

    def __init__(self, target, delay=0.002, chunk=4096):
        self.target, self.delay, self.chunk = target, delay, chunk
        self.paused = False  # True: hold everything the server sends (a stalled server)
        super().__init__()

    def serve(self, conn):
        upstream = self._upstream(conn, self.target)
        if upstream is None:
            return
        threading.Thread(target=self._pump, args=(conn, upstream, 0), daemon=True).start()
        self._pump(upstream, conn, self.delay)

    def _pump(self, src, dst, delay):
        try:
            while True:
                data = src.recv(self.chunk)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                while delay and self.paused and not self.closed:
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CutAfterExamineProxy(_Listener):
    """A plaintext IMAP relay to 127.0.0.1:`target` that hides STARTTLS (so a
    client with allow_plaintext talks in the clear and the relay can read
    it) and, on the first connection only, hangs up right after relaying the
    OK to the client's EXAMINE: the client's next command needs a new
    connection. Counts connections in `connections`."""

    def __init__(self, target):
        self.target = target
        self.connections = 0
        super().__init__()

    def serve(self, conn):
        self.connections += 1
        cut = self.connections == 1
        upstream = self._upstream(conn, self.target)
        if upstream is None:
            return
        state = {"tag": None}
        threading.Thread(target=self._client_to_server, args=(conn, upstream, state),
                         daemon=True).start()
        self._server_to_client(upstream, conn, state, cut)

    @staticmethod
    def _client_to_server(src, dst, state):
        try:
            for line in src.makefile("rb"):
                words = line.split()
                if len(words) > 1 and words[1].upper() == b"EXAMINE":
                    state["tag"] = words[0]
                dst.sendall(line)
        except OSError:
            pass

    @staticmethod
    def _server_to_client(src, dst, state, cut):
        try:
            for line in src.makefile("rb"):
                line = line.replace(b" STARTTLS", b"")
                dst.sendall(line)
                if cut and state["tag"] and line.startswith(state["tag"] + b" OK"):
                    break
        except OSError:
            pass
        _Listener._hang_up(src, dst)


class KeelRun:
    """A keel.conf, password files and a database in a temp dir. close_all()
    removes every one made."""

    made = []

    def __init__(self, source_root=None):
        self.dir = tempfile.mkdtemp(prefix="keel-run-")
        KeelRun.made.append(self)
        self.bin = os.environ.get("KEEL_BIN", "keel")
        self.source_root = source_root or os.environ.get(
            "KEEL_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))))
        self.config = os.path.join(self.dir, "keel.conf")
        self.database = os.path.join(self.dir, "keel.db")

    def write_config(self, accounts, clients=None, extra=""):
        """`accounts`: list of dicts with name, imap, user, password and any
        other account key (folders as a list)."""
        lines = ["[keel]", "database = " + self.database,
                 "rules = " + os.path.join(self.source_root, "rules"), extra, ""]
        for acc in accounts:
            acc = dict(acc)
            name, password = acc.pop("name"), acc.pop("password", "")
            pwfile = os.path.join(self.dir, "pw-" + name)
            with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(password + "\n")
            lines += ["[account %s]" % name, "password_file = " + pwfile]
            for key, value in acc.items():
                if isinstance(value, (list, tuple)):
                    value = ";".join(value)
                if isinstance(value, bool):
                    value = "true" if value else "false"
                lines.append("%s = %s" % (key, value))
            lines.append("")
        for cid, addresses in (clients or {"acme": ["@acme.example"]}).items():
            lines += ["[client %s]" % cid, "addresses = " + ";".join(addresses), ""]
        with open(self.config, "w") as f:
            f.write("\n".join(lines))

    def run(self, *args, timeout=120, env=None):
        start = time.monotonic()
        full_env = dict(os.environ, **(env or {}))
        proc = subprocess.run([self.bin] + list(args) + ["--config", self.config],
                              capture_output=True, text=True, timeout=timeout, env=full_env)
        proc.elapsed = time.monotonic() - start
        return proc

    def spawn(self, *args):
        return subprocess.Popen([self.bin] + list(args) + ["--config", self.config],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def status(self):
        import json
        proc = self.run("status", "--json")
        if proc.returncode != 0:
            raise AssertionError("keel status --json failed: %s" % proc.stderr)
        return json.loads(proc.stdout)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def close_all(cls):
        for run in cls.made:
            run.close()
        cls.made = []



def account(server, user, name="work", **extra):
    """One KeelRun account on `server` (a Dovecot) for `user`: INBOX only,
    short timeouts; `extra` adds or overrides keys."""
    acc = {"name": name, "imap": server.url(), "user": user, "password": server.users[user],
           "ca_file": server.cert, "folders": ["INBOX"], "connect_timeout": 5,
           "read_timeout": 10}
    acc.update(extra)
    return acc


def db_rows(run, sql, *args):
    """Rows of `sql` on keel's database, opened read-only (waits up to 10 s
    for a writer)."""
    conn = sqlite3.connect("file:%s?mode=ro" % run.database, uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()

def folder_state(status, account, folder):
    for acc in status["accounts"]:
        if acc["name"] == account:
            for f in acc["folders"]:
                if f["name"] == folder:
                    return f
    return None



class Sink:
    """smtp_sink.py in a temp dir, logging in as `user`; `delivered()` lists
    what it accepted as (message, envelope info, raw bytes), oldest first."""

    def __init__(self, dovecot, user, password, file_to=None, starttls=True):
        self.dir = tempfile.mkdtemp(prefix="keel-sink-")
        here = os.path.dirname(os.path.abspath(__file__))
        args = ["/usr/bin/python3", "-W", "ignore", os.path.join(here, "smtp_sink.py"),
                "--dir", self.dir, "--cert", dovecot.cert,
                "--key", os.path.join(dovecot.dir, "key.pem"), "--user", user + ":" + password]
        if file_to:
            args += ["--file-to", file_to]
        if not starttls:
            args.append("--no-starttls")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError("sink did not start: " + self.proc.stderr.read())
        self.port, self.tls_port = int(line[1]), int(line[2])

    def refuse(self, text):
        """Refuse as `text` says ("rcpt 451", "data stall 5"...) until accept()."""
        with open(os.path.join(self.dir, "mode"), "w") as f:
            f.write(text + "\n")

    def accept(self):
        if os.path.exists(os.path.join(self.dir, "mode")):
            os.unlink(os.path.join(self.dir, "mode"))

    def delivered(self):
        result = []
        for path in sorted(glob.glob(os.path.join(self.dir, "*.eml"))):
            with open(path, "rb") as f:
                raw = f.read()
            with open(path[:-4] + ".json") as f:
                info = json.load(f)
            result.append((email.message_from_bytes(raw, policy=email.policy.default), info, raw))
        return result

    def recipients(self):
        """Every envelope recipient of every accepted message, in order."""
        return [r for _, info, _ in self.delivered() for r in info["rcpt_tos"]]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

class Tap:
    """Runs named cases, prints TAP; failures print diagnostics as # lines."""

    def __init__(self, cases):
        self.cases = cases

    def run(self, only=None):
        cases = [c for c in self.cases if not only or any(o in c.__name__ for o in only)]
        print("1..%d" % len(cases), flush=True)
        failed = 0
        for n, case in enumerate(cases, 1):
            name = case.__name__.replace("test_", "").replace("_", " ")
            start = time.monotonic()
            try:
                case()
                print("ok %d - %s (%.1f s)" % (n, name, time.monotonic() - start), flush=True)
            except Exception:  # noqa: BLE001 - every failure is reported, none hidden
                failed += 1
                print("not ok %d - %s" % (n, name), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
        return 1 if failed else 0


if __name__ == "__main__":
    # Smoke check of the harness itself: start, log in, stop.
    with Dovecot() as d:
        d.start()
        d.seed("alice", "INBOX", [make_message(1)])
        print(d.flags("alice"))
    sys.exit(0)


def dovecot_main(module, users, cases, after=None):
    """The main() of a test file that needs one Dovecot: skips (77) unless
    root, starts Dovecot with `users` as `module.SERVER`, runs `cases` named
    on the command line (all when none), calls `after()` (extra # lines), and
    stops Dovecot and every keel left running whatever happened."""
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (Maildirs belong to the mail uid)")
        return 77
    module.SERVER = Dovecot(users)
    try:
        module.SERVER.start()
        rc = Tap(cases).run(sys.argv[1:])
        if after:
            after()
        return rc
    finally:
        module.SERVER.close()
        KeelRun.close_all()
