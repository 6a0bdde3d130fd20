"""tests/integration/smtp_sink.py: a small SMTP server for keel's SMTP tests.

It accepts mail on 127.0.0.1 and keeps every message it accepts as a file,
so a test can count what was really delivered. It can refuse on purpose.

  /usr/bin/python3 smtp_sink.py --dir DIR --cert CERT --key KEY --user NAME:PASSWORD
                                [--port N] [--tls-port N] [--file-to MAILDIR] [--no-starttls]

- --port: plain SMTP that offers STARTTLS; AUTH (PLAIN, LOGIN) only after TLS.
  With --no-starttls it offers no TLS at all (and AUTH in the clear).
- --tls-port: implicit TLS (smtps://).
- Every accepted message: DIR/NNNN.eml (the DATA bytes) and DIR/NNNN.json
  (envelope, whether TLS was on, who logged in). Written to a .tmp name and
  renamed, so a reader never sees half a file.
- --file-to MAILDIR: also drops a copy in MAILDIR/new (owned by nobody), like
  a provider that files sent mail in the Sent folder itself.
- Refusals: the file DIR/mode, read again at every command, one
  "PHASE CODE" per line, PHASE in mail, rcpt, data; e.g. "rcpt 451" or
  "data 550"; "data stall" waits 5 s ("data stall N": N s) before answering 451 (a client
  timeout). A missing file means accept everything.
Prints "READY <port> <tls-port>" once listening; SIGTERM stops it.
Needs Debian's python3-aiosmtpd: run it with /usr/bin/python3.
"""

import argparse
import asyncio
import json
import os
import pwd
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REFUSALS = {
    "451": "451 4.3.0 sink: try again later",
    "550": "550 5.7.1 sink: refused",
    "421": "421 4.3.2 sink: closing",
}


class Sink:
    def __init__(self, directory, file_to):
        self.directory = directory
        self.file_to = file_to
        self.count = len([n for n in os.listdir(directory) if n.endswith(".eml")])

    def refusal(self, phase):
        """The reply to give instead of accepting, or None."""
        try:
            with open(os.path.join(self.directory, "mode")) as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return None
        for line in lines:
            words = line.split()
            if len(words) == 2 and words[0] == phase:
                return REFUSALS.get(words[1], words[1] + " sink: refused")
            if len(words) == 3 and words[0] == phase and words[1] == "stall":
                return "stall " + words[2]
        return None

    async def handle_MAIL(self, server, session, envelope, address, options):
        refused = self.refusal("mail")
        if refused:
            return refused
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        refused = self.refusal("rcpt")
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        refused = self.refusal("data")
        if refused and refused.startswith("stall"):
            words = refused.split()
            seconds = int(words[1]) if len(words) > 1 and words[1].isdigit() else 5
            await asyncio.sleep(seconds)  # longer than the client waits; then refuse
            return REFUSALS["451"]
        if refused:
            return refused
        self.count += 1
        name = "%04d" % self.count
        data = envelope.original_content or b""
        self.write(name + ".eml", data)
        info = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                "auth": session.auth_data.login.decode()
                if isinstance(session.auth_data, LoginPassword) else None}
        self.write(name + ".json", json.dumps(info).encode())
        if self.file_to:
            self.file_copy(data)
        return "250 OK stored " + name

    def write(self, name, data):
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.directory, name))

    def file_copy(self, data):
        nobody = pwd.getpwnam("nobody")
        for sub in ("tmp", "new", "cur"):
            path = os.path.join(self.file_to, sub)
            os.makedirs(path, exist_ok=True)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        name = "%d.M%dP%d.sink" % (time.time(), self.count, os.getpid())
        tmp = os.path.join(self.file_to, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
        os.rename(tmp, os.path.join(self.file_to, "new", name))


def make_authenticator(users):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = users.get(auth_data.login.decode()) == auth_data.password.decode()
        # handled=False: aiosmtpd answers 235/535 itself (True would send nothing)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
    return authenticate


async def serve(args):
    users = dict(u.split(":", 1) for u in args.user)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    sink = Sink(args.dir, args.file_to)
    common = dict(hostname="sink.test", authenticator=make_authenticator(users),
                  auth_required=False, timeout=60)
    loop = asyncio.get_running_loop()
    offer = None if args.no_starttls else context
    plain = await loop.create_server(
        lambda: SMTP(sink, tls_context=offer, auth_require_tls=offer is not None, **common),
        "127.0.0.1", args.port)
    tls = await loop.create_server(
        lambda: SMTP(sink, tls_context=None, auth_require_tls=False, **common),
        "127.0.0.1", args.tls_port, ssl=context)
    ports = (plain.sockets[0].getsockname()[1], tls.sockets[0].getsockname()[1])
    print("READY %d %d" % ports, flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    plain.close()
    tls.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-port", type=int, default=0)
    parser.add_argument("--file-to")
    parser.add_argument("--no-starttls", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
