"""tests/integration/test-oauth.py: OAuth2 logins (issue 19) against a real
Dovecot whose oauth2 passdb validates HS256 JWTs locally
(introspection_mode = local, ../shared/notes/oauth2-dovecot.md), with a small
HTTPS token endpoint in this process (http.server + ssl, the Dovecot test
certificate; keel trusts it through oauth_ca_file).

Cases: XOAUTH2 login (Dovecot logs method=XOAUTH2; the first refresh token
rotated and saved 0600 in the state file; no token in keel's output);
OAUTHBEARER login (method=OAUTHBEARER); a token with a bad signature is
refused (nothing stored); an expired access token in the state file is
refreshed before login; a fresh one is used without asking the endpoint; a
revoked refresh token (invalid_grant) fails with "run keel oauth login"
(one log line; the digest's HEALTH section says the same);
SMTP XOAUTH2 and OAUTHBEARER (`keel digest --send` + `keel outbox send`)
through an in-process aiosmtpd that offers only those two mechanisms;
`keel oauth login` by the device-code flow (Microsoft) and by the loopback
redirect with PKCE (Google): a "browser" in this test reads the address keel
prints, checks its parameters and GETs the redirect_uri with a code and the
state, the token endpoint checks SHA256(code_verifier) against the
code_challenge; a wrong state, error=access_denied, a refused code
(invalid_grant) and no browser at all each fail with one line and their exit
code, saving nothing.

What is fake: the token endpoint and Google's consent page (Google's and
Microsoft's are not reachable from here) and the JWT signing (Dovecot checks a shared HMAC key; real
providers' tokens are opaque to keel either way). TAP output; run with
/usr/bin/python3. Needs root, dovecot-imapd and openssl."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import ssl
import stat
import sys
import threading
import time
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, MISSING

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

warnings.filterwarnings("ignore", message="Session.login_data")

KEY = b"keel-test-hmac-secret-0123456789abcdef"
WRONG_KEY = b"some-other-secret-nobody-trusts-000000"
USER = "bob@example.test"  # Dovecot maps it to its user bob (username_format = %n)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(user, key=KEY, lifetime=3600):
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": user, "email": user, "iat": now - 60,
                              "exp": now + lifetime}).encode())
    sig = hmac.new(key, (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64url(sig)


def jwt_valid(token, user):
    """What Dovecot checks: the HS256 signature, exp and the user."""
    try:
        head, body, sig = token.split(".")
        want = hmac.new(KEY, (head + "." + body).encode(), hashlib.sha256).digest()
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        given = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    except ValueError:
        return False
    return hmac.compare_digest(want, given) and claims["exp"] > time.time() and \
        claims["email"] == user


class BearerSmtp:
    """An aiosmtpd handler that offers only XOAUTH2 and OAUTHBEARER and checks
    the bearer token like Dovecot does; `logins` lists (mechanism, ok)."""

    def __init__(self):
        self.logins = []
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 2.0.0 OK"

    async def _bearer(self, server, args, mechanism):
        if len(args) == 1:
            data = await server.challenge_auth("")
            if data is MISSING:
                return AuthResult(success=False, handled=False)
        else:
            data = base64.b64decode(args[1])
        fields = data.decode(errors="replace").split("\x01")
        token = next((f[len("auth=Bearer "):] for f in fields if f.startswith("auth=Bearer ")), "")
        ok = jwt_valid(token, USER)
        self.logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd's naming
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server, args):  # noqa: N802
        return await self._bearer(server, args, "OAUTHBEARER")


class OauthDovecot(harness.Dovecot):
    """harness.Dovecot plus the oauth2 passdb for XOAUTH2 and OAUTHBEARER."""

    def _write_conf(self):
        super()._write_conf()
        keys = os.path.join(self.dir, "keys", "default", "HS256")
        os.makedirs(keys, exist_ok=True)
        with open(os.path.join(keys, "default"), "w") as f:
            f.write(base64.b64encode(KEY).decode() + "\n")
        ext = os.path.join(self.dir, "dovecot-oauth2.conf.ext")
        with open(ext, "w") as f:
            f.write("introspection_mode = local\n"
                    "local_validation_key_dict = fs:posix:prefix=%s/keys/\n"
                    "username_attribute = email\n" % self.dir)
        text = open(self.conf).read()
        text = text.replace("auth_mechanisms = plain login",
                            "auth_mechanisms = plain login xoauth2 oauthbearer\n"
                            "auth_verbose = yes")
        text = text.replace("passdb {\n  driver = passwd-file\n",
                            "passdb {\n  driver = passwd-file\n  mechanisms = plain login\n")
        text = text.replace("userdb {", "passdb {\n  driver = oauth2\n"
                            "  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\nuserdb {" % ext, 1)
        with open(self.conf, "w") as f:
            f.write(text)


class TokenEndpoint:
    """POST /token: grant_type=refresh_token. Rotates the refresh token on
    every use (as Microsoft does); `key` signs the access tokens;
    `revoked` answers invalid_grant."""

    def __init__(self, cert, keyfile):
        self.valid = {"rt-1"}
        self.requests = []
        self.key = KEY
        self.revoked = False
        self.serial = 1
        self.code_grant = None  # what the "browser" handed out: code, challenge, redirect_uri
        self.refuse_code = False
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                endpoint.requests.append(form)
                if self.path.endswith("/devicecode"):
                    answer, code = endpoint.device_code(form)
                else:
                    answer, code = endpoint.answer(form)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, keyfile)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/token" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def device_code(self, form):
        """RFC 8628: the code to show; the user "signs in" on the second poll."""
        self.device_polls = 0
        return {"device_code": "dc-1", "user_code": "KEEL-1234", "interval": 1,
                "expires_in": 60, "verification_uri": "https://microsoft.com/devicelogin"}, 200

    def device_answer(self, form):
        self.device_polls += 1
        if form.get("device_code") != "dc-1" or form.get("client_id") != "keel-test":
            return {"error": "invalid_grant"}, 400
        if self.device_polls < 2:
            return {"error": "authorization_pending"}, 400
        self.valid.add("rt-device")
        return {"access_token": jwt(USER), "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "rt-device"}, 200

    def code_answer(self, form):
        """RFC 7636: the code once, with the verifier whose S256 is the challenge."""
        grant, self.code_grant = self.code_grant, None
        verifier = form.get("code_verifier", "")
        if (self.refuse_code or not grant or form.get("code") != grant["code"]
                or form.get("redirect_uri") != grant["redirect_uri"]
                or form.get("client_id") != "keel-test"
                or form.get("client_secret") != "g-client-secret"
                or not re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier)
                or b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]):
            return {"error": "invalid_grant", "error_description": "Bad Request"}, 400
        self.valid.add("rt-google")
        # 60 s < keel's 300 s margin: the next login must refresh with rt-google
        return {"access_token": jwt(USER), "token_type": "Bearer", "expires_in": 60,
                "refresh_token": "rt-google", "scope": "https://mail.google.com/"}, 200

    def answer(self, form):
        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
            return self.device_answer(form)
        if form.get("grant_type") == "authorization_code":
            return self.code_answer(form)
        token = form.get("refresh_token")
        if (self.revoked or form.get("grant_type") != "refresh_token" or token not in self.valid
                or form.get("client_id") != "keel-test"):
            return {"error": "invalid_grant", "error_description": "revoked"}, 400
        self.valid.discard(token)
        self.serial += 1
        rotated = "rt-%d" % self.serial
        self.valid.add(rotated)
        return {"access_token": jwt(USER, self.key), "token_type": "Bearer",
                "expires_in": 3600, "refresh_token": rotated}, 200

    def close(self):
        self.server.shutdown()
        self.server.server_close()


SERVER = None
ENDPOINT = None


def setup():
    global SERVER, ENDPOINT
    SERVER = OauthDovecot().start()
    ENDPOINT = TokenEndpoint(SERVER.cert, os.path.join(SERVER.dir, "key.pem"))


def write_secret(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text + "\n")


def make_run(auth, refresh_token="rt-1", smtp_port=None, google=False):
    """google: oauth_provider = google (its authorization URL) with a client
    secret file, the local token endpoint and no refresh token file yet."""
    run = harness.KeelRun()
    rtfile = os.path.join(run.dir, "refresh-token")
    if refresh_token:
        write_secret(rtfile, refresh_token)
    lines = ["[keel]", "database = " + run.database,
             "rules = " + os.path.join(run.source_root, "rules"), "",
             "[account main]", "imap = " + SERVER.url(), "user = " + USER,
             "ca_file = " + SERVER.cert, "folders = INBOX", "connect_timeout = 5",
             "read_timeout = 10", "auth = " + auth, "oauth_token_url = " + ENDPOINT.url,
             "oauth_client_id = keel-test", "oauth_refresh_token_file = " + rtfile,
             "oauth_scope = https://mail.google.com/", "oauth_ca_file = " + SERVER.cert, "",
             "[client acme]", "addresses = @acme.example", ""]
    if google:
        secret = os.path.join(run.dir, "client-secret")
        write_secret(secret, "g-client-secret")
        lines[lines.index("[account main]") + 1:1] = [
            "oauth_provider = google", "oauth_client_secret_file = " + secret]
    if smtp_port:
        lines[lines.index("[account main]") + 1:1] = [
            "smtp = smtp://127.0.0.1:%d" % smtp_port, "allow_plaintext = true"]
        lines[3:3] = ["mode = auto", "[digest]", "send_empty = true",
                      "to = bob@example.test", ""]
    with open(run.config, "w") as f:
        f.write("\n".join(lines))
    run.state = os.path.join(run.dir, "oauth-main.json")
    run.rtfile = rtfile
    return run


def stored_count(run):
    return harness.db_rows(run, "SELECT count(*) FROM messages")[0][0]


def seed_one():
    n = int(time.time() * 1000) % 100000000
    SERVER.append("bob", "INBOX", harness.make_message(n, subject="oauth %d" % n))


def login_case(auth, method):
    ENDPOINT.valid = {"rt-1"}
    ENDPOINT.key = KEY
    ENDPOINT.revoked = False
    seed_one()
    run = make_run(auth)
    before = len(ENDPOINT.requests)
    log_before = len(SERVER.log())
    proc = run.run("daemon", "--once", "--verbose")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert stored_count(run) >= 1, "nothing stored"
    assert len(ENDPOINT.requests) == before + 1, "one refresh expected"
    log = SERVER.log()[log_before:]
    assert "method=%s" % method in log, "Dovecot saw no %s login:\n%s" % (method, log[-2000:])
    state = json.load(open(run.state))
    assert state["refresh_token"] == "rt-%d" % ENDPOINT.serial, state["refresh_token"][:8]
    mode = stat.S_IMODE(os.stat(run.state).st_mode)
    assert mode == 0o600, "state file mode %o" % mode
    assert not os.path.exists(run.state + ".tmp")
    for secret in (state["access_token"], state["refresh_token"], "rt-1"):
        assert secret not in proc.stderr and secret not in proc.stdout, "a token was logged"
    assert "rotated" in proc.stderr
    return run


def test_xoauth2_login_rotates_refresh_token():
    login_case("xoauth2", "XOAUTH2")


def test_oauthbearer_login():
    login_case("oauthbearer", "OAUTHBEARER")


def test_bad_signature_refused():
    ENDPOINT.valid = {"rt-1"}
    ENDPOINT.key = WRONG_KEY
    try:
        seed_one()
        run = make_run("xoauth2")
        proc = run.run("daemon", "--once")
        assert proc.returncode != 0, "a badly signed token logged in"
        assert "login denied" in proc.stderr, proc.stderr[-2000:]
        assert not os.path.exists(run.database) or stored_count(run) == 0
    finally:
        ENDPOINT.key = KEY


def write_state(run, access, expires_at, refresh):
    with open(os.open(run.state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump({"refresh_token": refresh, "access_token": access,
                   "expires_at": expires_at}, f)


def test_expired_token_refreshed_before_login():
    ENDPOINT.valid = {"rt-77"}
    seed_one()
    run = make_run("xoauth2", refresh_token="rt-unused")
    write_state(run, jwt(USER, lifetime=-600), int(time.time()) - 600, "rt-77")
    before = len(ENDPOINT.requests)
    proc = run.run("daemon", "--once")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(ENDPOINT.requests) == before + 1
    assert ENDPOINT.requests[-1]["refresh_token"] == "rt-77", "the state file's token comes first"
    state = json.load(open(run.state))
    assert state["expires_at"] > time.time() + 3000
    assert stored_count(run) >= 1


def test_fresh_token_used_without_refresh():
    seed_one()
    run = make_run("oauthbearer")
    write_state(run, jwt(USER), int(time.time()) + 3600, "rt-never-sent")
    before = len(ENDPOINT.requests)
    proc = run.run("daemon", "--once")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(ENDPOINT.requests) == before, "refreshed a token that was still fresh"
    assert stored_count(run) >= 1


def test_revoked_refresh_token():
    ENDPOINT.revoked = True
    try:
        run = make_run("xoauth2")
        log_before = len(SERVER.log())
        proc = run.run("daemon", "--once")
        assert proc.returncode != 0
        assert "run keel oauth login main" in proc.stderr, proc.stderr[-2000:]
        assert proc.stderr.count("expired or was revoked") == 1, proc.stderr[-2000:]
        assert "method=XOAUTH2" not in SERVER.log()[log_before:], "logged in without a token"
        digest = run.run("digest", "--text")
        assert digest.returncode == 0, digest.stderr
        health = digest.stdout[digest.stdout.index("HEALTH"):]
        assert "expired or was revoked" in health and "run keel oauth login main" in health, \
            digest.stdout
    finally:
        ENDPOINT.revoked = False


def smtp_case(auth, method):
    ENDPOINT.valid = {"rt-1"}
    handler = BearerSmtp()
    port = harness.free_ports(1)[0]
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False,
                            auth_exclude_mechanism=["PLAIN", "LOGIN"])
    controller.start()
    try:
        run = make_run(auth, smtp_port=port)
        proc = run.run("digest", "--send")
        assert proc.returncode == 0 and "queued" in proc.stdout, proc.stdout + proc.stderr
        proc = run.run("outbox", "send", "--server-files-sent")
        assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
        assert handler.logins == [(method, True)], handler.logins
        assert len(handler.messages) == 1, len(handler.messages)
    finally:
        controller.stop()


def test_smtp_xoauth2():
    smtp_case("xoauth2", "XOAUTH2")


def test_smtp_oauthbearer():
    smtp_case("oauthbearer", "OAUTHBEARER")


def test_oauth_login_device_code():
    seed_one()
    run = make_run("xoauth2", refresh_token="rt-not-this-one")
    proc = run.run("oauth", "login", "main", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "open https://microsoft.com/devicelogin and enter the code KEEL-1234" in proc.stdout
    assert ENDPOINT.device_polls == 2, ENDPOINT.device_polls
    state = json.load(open(run.state))
    assert state["refresh_token"] == "rt-device"
    assert stat.S_IMODE(os.stat(run.state).st_mode) == 0o600
    assert open(run.rtfile).read() == "rt-device\n", "oauth_refresh_token_file not replaced"
    assert stat.S_IMODE(os.stat(run.rtfile).st_mode) == 0o600
    assert "rt-device" not in proc.stdout + proc.stderr
    before = len(ENDPOINT.requests)
    proc = run.run("daemon", "--once")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(ENDPOINT.requests) == before, "the fresh token from the login was not used"
    assert stored_count(run) >= 1


GOOGLE_AUTH = "https://accounts.google.com/o/oauth2/v2/auth"


def http_get(url):
    """(status, body) of a GET, 4xx included."""
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def read_authorization_url(proc):
    """The address keel prints for the browser (a line of its own)."""
    seen = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("keel printed no address: %r %s" % (seen, proc.stderr.read()))
        seen.append(line)
        if line.startswith("https://"):
            return line.strip()


def check_authorization_url(url):
    """What Google needs for a desktop app with PKCE; returns the parameters."""
    assert url.startswith(GOOGLE_AUTH + "?"), url
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, strict_parsing=True))
    want = {"client_id": "keel-test", "response_type": "code",
            "scope": "https://mail.google.com/", "code_challenge_method": "S256",
            "access_type": "offline", "prompt": "consent", "login_hint": USER}
    for key, value in want.items():
        assert query.get(key) == value, "%s=%r in %s" % (key, query.get(key), url)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", query["redirect_uri"]), query
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"]), query
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", query["state"]), query
    return query


def browser_login(run, answer, timeout="20", before=None):
    """keel oauth login with this test as the browser: `answer(query)` gives
    the redirect's parameters (None: the browser never comes back), `before`
    runs against the listener first. Returns (proc, stdout, stderr, page)."""
    proc = run.spawn("oauth", "login", "main", "--timeout", timeout)
    page = None
    try:
        query = check_authorization_url(read_authorization_url(proc))
        params = answer(query)
        if before:
            before(query["redirect_uri"])
        if params is not None:
            ENDPOINT.code_grant = {"code": "4/0-keel-test-code", "redirect_uri":
                                   query["redirect_uri"], "challenge": query["code_challenge"]}
            page = http_get(query["redirect_uri"] + "?" + urllib.parse.urlencode(params))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, out, err, page


def granted(query):
    return {"state": query["state"], "code": "4/0-keel-test-code",
            "scope": "https://mail.google.com/"}


def idle_preconnect_and_favicon(redirect_uri):
    """A browser's idle pre-connection must not hold up the redirect; other
    paths get 404."""
    port = int(redirect_uri.rsplit(":", 1)[1].strip("/"))
    idle = socket.create_connection(("127.0.0.1", port))
    browser_login.idle = idle
    status, _ = http_get(redirect_uri + "favicon.ico")
    assert status == 404, status


def test_oauth_login_google_pkce():
    seed_one()
    run = make_run("xoauth2", refresh_token=None, google=True)
    before = len(ENDPOINT.requests)
    proc, out, err, page = browser_login(run, granted, before=idle_preconnect_and_favicon)
    browser_login.idle.close()
    assert proc.returncode == 0, out + err
    assert page[0] == 200 and "You can close this tab" in page[1], page
    exchange = ENDPOINT.requests[before:]
    assert [f.get("grant_type") for f in exchange] == ["authorization_code"], exchange
    assert open(run.rtfile).read() == "rt-google\n", "refresh token file"
    assert stat.S_IMODE(os.stat(run.rtfile).st_mode) == 0o600
    assert json.load(open(run.state))["refresh_token"] == "rt-google"
    assert stat.S_IMODE(os.stat(run.state).st_mode) == 0o600
    assert "rt-google" not in out + err and "4/0-keel-test-code" not in out + err, out + err
    log_before = len(SERVER.log())
    daemon = run.run("daemon", "--once")
    assert daemon.returncode == 0, daemon.stderr[-2000:]
    refresh = ENDPOINT.requests[-1]
    assert refresh.get("grant_type") == "refresh_token" and \
        refresh.get("refresh_token") == "rt-google", "the login's refresh token was not used"
    assert "method=XOAUTH2" in SERVER.log()[log_before:], "no XOAUTH2 login at Dovecot"
    assert stored_count(run) >= 1


def google_failure(answer, exit_code, message, page_status=400, timeout="20"):
    run = make_run("xoauth2", refresh_token=None, google=True)
    before = len(ENDPOINT.requests)
    proc, out, err, page = browser_login(run, answer, timeout=timeout)
    assert proc.returncode == exit_code, (proc.returncode, out, err)
    assert len(err.strip().splitlines()) == 1 and message in err, err
    if page_status:
        assert page and page[0] == page_status and "did not work" in page[1], page
    assert not os.path.exists(run.rtfile) and not os.path.exists(run.state), "saved on failure"
    return ENDPOINT.requests[before:]


def test_oauth_login_google_wrong_state():
    sent = google_failure(lambda q: dict(granted(q), state="forged-state-0123456789"), 76,
                          "a state keel did not send")
    assert sent == [], "a code with a wrong state was exchanged"


def test_oauth_login_google_access_denied():
    sent = google_failure(lambda q: {"error": "access_denied", "state": q["state"]}, 77,
                          "refused in the browser (access_denied)")
    assert sent == [], sent


def test_oauth_login_google_invalid_grant():
    ENDPOINT.refuse_code = True
    try:
        sent = google_failure(granted, 77, "refused the sign-in (HTTP 400, invalid_grant)")
    finally:
        ENDPOINT.refuse_code = False
    assert [f.get("grant_type") for f in sent] == ["authorization_code"], sent


def test_oauth_login_google_timeout():
    start = time.monotonic()
    sent = google_failure(lambda q: None, 75, "did not come back to keel within 2 seconds",
                          page_status=None, timeout="2")
    assert time.monotonic() - start < 15
    assert sent == [], sent


def test_config_refuses_bad_auth():
    run = make_run("kerberos")
    proc = run.run("config", "check")
    assert proc.returncode != 0 and "auth must be password, xoauth2 or oauthbearer" in (
        proc.stderr + proc.stdout), proc.stderr


def test_config_refuses_plain_http_auth_url():
    run = make_run("xoauth2")
    with open(run.config, "a") as f:
        f.write("\n[account other]\nauth = xoauth2\noauth_provider = google\n"
                "oauth_client_id = x\noauth_auth_url = http://accounts.example.test/auth\n")
    proc = run.run("config", "check")
    assert proc.returncode == 78 and "oauth_auth_url must be an https:// URL" in (
        proc.stderr + proc.stdout), proc.stdout + proc.stderr


if __name__ == "__main__":
    setup()
    try:
        rc = harness.Tap([test_xoauth2_login_rotates_refresh_token, test_oauthbearer_login,
                          test_bad_signature_refused, test_expired_token_refreshed_before_login,
                          test_fresh_token_used_without_refresh, test_revoked_refresh_token,
                          test_smtp_xoauth2, test_smtp_oauthbearer, test_oauth_login_device_code,
                          test_oauth_login_google_pkce, test_oauth_login_google_wrong_state,
                          test_oauth_login_google_access_denied,
                          test_oauth_login_google_invalid_grant,
                          test_oauth_login_google_timeout, test_config_refuses_bad_auth,
                          test_config_refuses_plain_http_auth_url]).run(sys.argv[1:])
    finally:
        ENDPOINT.close()
        SERVER.close()
        harness.KeelRun.close_all()
    sys.exit(rc)
