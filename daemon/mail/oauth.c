/* daemon/mail/oauth.c: OAuth2 access tokens for IMAP and SMTP logins (issue 19).
 * It turns a refresh token into an access token at the provider's token
 * endpoint (HTTPS POST, grant_type=refresh_token, libcurl), keeps both in a
 * 0600 JSON state file next to the database (written to a temporary file and
 * renamed, so a crash never leaves half a token), and sets the libcurl options
 * that pin XOAUTH2 or OAUTHBEARER. It must never log a token or a client
 * secret, never set CURLOPT_HTTPAUTH on a mail handle, and never talk to a
 * token endpoint other than over verified HTTPS.
 *
 * State file: {"refresh_token": ..., "access_token": ..., "expires_at": unix s}.
 * The first refresh token comes from oauth_refresh_token_file (or `keel oauth
 * login`); a rotated one (Microsoft rotates on every use) replaces it in the
 * state file only, so a read-only systemd credential still works. One mutex
 * serialises refreshes, so two threads never spend the same refresh token. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include "daemon/mail/oauth.h"
#include "daemon/mail/mail-error.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/oauth-loopback.h"
#include "filters/json-out.h"

#define OAUTH_RESPONSE_LIMIT (64u * 1024u)

typedef struct {
  char *refresh_token;
  char *access_token;
  gint64 expires_at; /* unix seconds; 0 = unknown (refresh) */
} OauthState;

static GMutex oauth_lock;

static void oauth_state_clear(OauthState *state)
{
  if (state->refresh_token)
    memset(state->refresh_token, 0, strlen(state->refresh_token));
  if (state->access_token)
    memset(state->access_token, 0, strlen(state->access_token));
  g_clear_pointer(&state->refresh_token, g_free);
  g_clear_pointer(&state->access_token, g_free);
}

/* An absolute path, or a bare name in $CREDENTIALS_DIRECTORY. */
static char *oauth_secret_path(const char *name)
{
  const char *credentials = g_getenv("CREDENTIALS_DIRECTORY");
  if (g_path_is_absolute(name) || !credentials)
    return g_strdup(name);
  return g_build_filename(credentials, name, NULL);
}

/* The first line of a secret file no one but its owner may read. */
static char *oauth_read_secret(const KeelAccount *account, const char *name, const char *key,
                               GError **error)
{
  g_autofree char *path = oauth_secret_path(name);
  struct stat st;
  g_autofree char *text = NULL;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077)
      || !g_file_get_contents(path, &text, NULL, NULL)) {
    mail_error_set(error, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                "account '%s': %s %s is missing, unreadable or readable by other users "
                "(it must be a 0600 file)", account->name, key, path);
    return NULL;
  }
  g_strstrip(text);
  char *line = g_strndup(text, strcspn(text, "\r\n"));
  memset(text, 0, strlen(text));
  return line;
}

static void oauth_state_load(const KeelAccount *account, OauthState *state)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!account->oauth_state_file || !json_parser_load_from_file(parser, account->oauth_state_file, NULL))
    return;
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return;
  JsonObject *object = json_node_get_object(root);
  const char *refresh = json_object_get_string_member_with_default(object, "refresh_token", NULL);
  const char *access = json_object_get_string_member_with_default(object, "access_token", NULL);
  state->refresh_token = refresh && refresh[0] ? g_strdup(refresh) : NULL;
  state->access_token = access && access[0] ? g_strdup(access) : NULL;
  state->expires_at = json_object_get_int_member_with_default(object, "expires_at", 0);
}

/* Written to a temporary file, fsynced and renamed over the old one, 0600. */
static gboolean oauth_state_save(const KeelAccount *account, const OauthState *state,
                                 GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json_out_string(builder, "refresh_token", state->refresh_token ? state->refresh_token : "");
  json_out_string(builder, "access_token", state->access_token ? state->access_token : "");
  json_out_int(builder, "expires_at", state->expires_at);
  json_builder_end_object(builder);
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_autofree char *text = json_to_string(root, FALSE);
  g_autoptr(GError) local = NULL;
  gboolean ok = g_file_set_contents_full(account->oauth_state_file, text, -1,
                                         G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local);
  memset(text, 0, strlen(text));
  if (!ok)
    mail_error_set(error, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                "account '%s': cannot save the OAuth2 tokens: %s", account->name,
                local->message);
  return ok;
}

static size_t oauth_on_body(char *data, size_t size, size_t n, void *user_data)
{
  GByteArray *body = user_data;
  if (body->len + n > OAUTH_RESPONSE_LIMIT)
    return 0;
  g_byte_array_append(body, (const guint8 *)data, (guint)n);
  return size * n;
}

/* application/x-www-form-urlencoded: key=value&... (values escaped). */
static void oauth_form_add(GString *form, const char *key, const char *value)
{
  if (!value)
    return;
  g_autofree char *escaped = g_uri_escape_string(value, NULL, FALSE);
  g_string_append_printf(form, "%s%s=%s", form->len ? "&" : "", key, escaped);
  memset(escaped, 0, strlen(escaped));
}

static char *oauth_form(const KeelAccount *account, const char *refresh_token, GError **error)
{
  g_autofree char *secret = NULL;
  if (account->oauth_client_secret_file) {
    secret = oauth_read_secret(account, account->oauth_client_secret_file,
                               "oauth_client_secret_file", error);
    if (!secret)
      return NULL;
  }
  GString *form = g_string_new(NULL);
  oauth_form_add(form, "grant_type", "refresh_token");
  oauth_form_add(form, "client_id", account->oauth_client_id);
  oauth_form_add(form, "client_secret", secret);
  oauth_form_add(form, "refresh_token", refresh_token);
  oauth_form_add(form, "scope", account->oauth_scope);
  if (secret)
    memset(secret, 0, strlen(secret));
  return g_string_free(form, FALSE);
}

/* POSTs `form` to `url` (https only); the HTTP status in `*status`. */
static gboolean oauth_post_to(const KeelAccount *account, const char *url, const char *form,
                              GByteArray *body, long *status, GError **error)
{
  CURL *curl = curl_easy_init();
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
  if (account->oauth_ca_file)
    curl_easy_setopt(curl, CURLOPT_CAINFO, account->oauth_ca_file);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)MAX(account->connect_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)MAX(account->read_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, oauth_on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(curl);
  if (rc == CURLE_OK)
    return TRUE;
  mail_error_set(error, KEEL_MAIL_ERROR_NETWORK, MAIL_SCOPE_CONNECTION, MAIL_RETRY_TEMPORARY,
              "account '%s': the OAuth2 token endpoint did not answer: %s; will retry",
              account->name, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  return FALSE;
}

static gboolean oauth_post(const KeelAccount *account, const char *form, GByteArray *body,
                           long *status, GError **error)
{
  return oauth_post_to(account, account->oauth_token_url, form, body, status, error);
}

static JsonObject *oauth_parse(GByteArray *body, JsonParser *parser)
{
  if (!json_parser_load_from_data(parser, (const char *)body->data, (gssize)body->len, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root(parser);
  return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* A refused refresh: invalid_grant means expired or revoked (log in again). */
static gboolean oauth_refused(const KeelAccount *account, JsonObject *object, long status,
                              GError **error)
{
  const char *code = object ? json_object_get_string_member_with_default(object, "error", "")
                            : "";
  if (g_strcmp0(code, "invalid_grant") == 0 || status == 401)
    g_set_error(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH,
                "account '%s': the OAuth2 login has expired or was revoked (%s): run keel "
                "oauth login %s", account->name, code[0] ? code : "HTTP 401", account->name);
  else
    mail_error_set(error, status >= 500 ? KEEL_MAIL_ERROR_NETWORK : KEEL_MAIL_ERROR_AUTH,
                   status >= 500 ? MAIL_SCOPE_CONNECTION : MAIL_SCOPE_ACCOUNT,
                   status >= 500 ? MAIL_RETRY_TEMPORARY : MAIL_RETRY_WAIT,
                "account '%s': the OAuth2 token endpoint refused the refresh (HTTP %ld %s): "
                "check oauth_client_id, oauth_client_secret_file and oauth_scope",
                account->name, status, code);
  return FALSE;
}

/* One refresh: `state` gets the new access token, expiry, and any rotated refresh token. */
static gboolean oauth_refresh(const KeelAccount *account, OauthState *state, GError **error)
{
  g_autofree char *form = oauth_form(account, state->refresh_token, error);
  g_autoptr(GByteArray) body = g_byte_array_new();
  long status = 0;
  gboolean posted = form && oauth_post(account, form, body, &status, error);
  if (form)
    memset(form, 0, strlen(form));
  if (!posted)
    return FALSE;
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *object = oauth_parse(body, parser);
  const char *access = object ? json_object_get_string_member_with_default(object, "access_token", NULL) : NULL;
  if (status != 200 || !access || !access[0])
    return oauth_refused(account, object, status, error);
  const char *rotated = json_object_get_string_member_with_default(object, "refresh_token", NULL);
  gint64 lifetime = json_object_get_int_member_with_default(object, "expires_in", 3600);
  g_free(state->access_token);
  state->access_token = g_strdup(access);
  state->expires_at = g_get_real_time() / G_USEC_PER_SEC + MAX(lifetime, 0);
  if (rotated && rotated[0] && g_strcmp0(rotated, state->refresh_token) != 0) {
    g_free(state->refresh_token);
    state->refresh_token = g_strdup(rotated);
    g_message("account '%s': the provider rotated the OAuth2 refresh token; saved", account->name);
  }
  memset(body->data, 0, body->len);
  return oauth_state_save(account, state, error);
}

/* Loads the state, falls back to the configured first refresh token, and
 * refreshes when the access token is missing or expires within the margin
 * (or always, with `force`). Called under oauth_lock. */
static char *oauth_token_locked(const KeelAccount *account, gboolean force, GError **error)
{
  OauthState state = { 0 };
  char *token = NULL;
  oauth_state_load(account, &state);
  if (!state.refresh_token && account->oauth_refresh_token_file)
    state.refresh_token = oauth_read_secret(account, account->oauth_refresh_token_file,
                                            "oauth_refresh_token_file", error);
  else if (!state.refresh_token)
    g_set_error(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH,
                "account '%s' has no OAuth2 refresh token yet: run keel oauth login %s",
                account->name, account->name);
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  gboolean fresh = state.access_token && state.expires_at - now > OAUTH_MARGIN_S;
  if (state.refresh_token && (fresh && !force ? TRUE : oauth_refresh(account, &state, error)))
    token = g_strdup(state.access_token);
  oauth_state_clear(&state);
  return token;
}

char *oauth_refresh_now(const KeelAccount *account, GError **error)
{
  g_mutex_lock(&oauth_lock);
  char *token = oauth_token_locked(account, TRUE, error);
  g_mutex_unlock(&oauth_lock);
  return token;
}

char *oauth_account_secret(const KeelAccount *account, GError **error)
{
  if (!config_account_uses_oauth(account))
    return config_account_password(account, error);
  g_mutex_lock(&oauth_lock);
  char *token = oauth_token_locked(account, FALSE, error);
  g_mutex_unlock(&oauth_lock);
  return token;
}

void oauth_set_login(CURL *curl, const KeelAccount *account, const char *secret)
{
  curl_easy_setopt(curl, CURLOPT_USERNAME, account->user ? account->user : "");
  if (!config_account_uses_oauth(account)) {
    curl_easy_setopt(curl, CURLOPT_PASSWORD, secret);
    return;
  }
  curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, secret);
  curl_easy_setopt(curl, CURLOPT_LOGIN_OPTIONS,
                   g_strcmp0(account->auth, "xoauth2") == 0 ? "AUTH=XOAUTH2" : "AUTH=OAUTHBEARER");
}

/* ---- keel oauth login: what both flows share ---- */

G_DEFINE_QUARK(keel-oauth-login-error-quark, oauth_login_error)

/* A token endpoint's answer with both tokens into `state`; FALSE when one is missing. */
static gboolean oauth_login_tokens(JsonObject *object, OauthState *state)
{
  const char *access = object ? json_object_get_string_member_with_default(object, "access_token", NULL) : NULL;
  const char *refresh = object ? json_object_get_string_member_with_default(object, "refresh_token", NULL) : NULL;
  if (!access || !access[0] || !refresh || !refresh[0])
    return FALSE;
  state->access_token = g_strdup(access);
  state->refresh_token = g_strdup(refresh);
  state->expires_at = g_get_real_time() / G_USEC_PER_SEC
                      + json_object_get_int_member_with_default(object, "expires_in", 3600);
  return TRUE;
}

char *oauth_login_token_file(const KeelAccount *account)
{
  const char *file = account->oauth_refresh_token_file;
  return file && g_path_is_absolute(file) ? g_strdup(file) : NULL;
}

/* The tokens a login got: the state file (what the daemon reads first), then
 * the refresh token alone in oauth_login_token_file(); both 0600, atomic. */
static gboolean oauth_login_save(const KeelAccount *account, const OauthState *state,
                                 GError **error)
{
  g_autoptr(GError) local = NULL;
  g_mutex_lock(&oauth_lock);
  gboolean saved = oauth_state_save(account, state, &local);
  g_mutex_unlock(&oauth_lock);
  if (!saved) {
    g_set_error_literal(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_SAVE, local->message);
    return FALSE;
  }
  g_autofree char *file = oauth_login_token_file(account);
  g_autofree char *text = file ? g_strconcat(state->refresh_token, "\n", NULL) : NULL;
  saved = !file || g_file_set_contents_full(file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                            0600, &local);
  if (text)
    memset(text, 0, strlen(text));
  if (!saved)
    g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_SAVE, "account '%s': the tokens "
                "are saved in %s, but oauth_refresh_token_file could not be written: %s",
                account->name, account->oauth_state_file, local->message);
  return saved;
}

/* ---- keel oauth login: the device-code flow (RFC 8628; Microsoft) ---- */

/* The device authorization endpoint next to the token endpoint
 * (Microsoft: .../oauth2/v2.0/devicecode beside .../oauth2/v2.0/token). */
static char *oauth_device_url(const KeelAccount *account, GError **error)
{
  const char *url = account->oauth_token_url;
  if (g_strcmp0(account->oauth_provider, "google") == 0 || !g_str_has_suffix(url, "/token")) {
    mail_error_set(error, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                "account '%s': set oauth_auth_url for a browser sign-in, or an "
                "oauth_token_url ending in /token for the device-code flow", account->name);
    return NULL;
  }
  g_autofree char *base = g_strndup(url, strlen(url) - strlen("/token"));
  return g_strconcat(base, "/devicecode", NULL);
}

/* One device-code poll: TRUE with `state` filled, FALSE with *pending when
 * the user has not finished yet (and *interval raised on slow_down). */
static gboolean oauth_device_poll(const KeelAccount *account, const char *device_code,
                                  OauthState *state, gboolean *pending, gint64 *interval,
                                  GError **error)
{
  g_autoptr(GString) form = g_string_new(NULL);
  oauth_form_add(form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
  oauth_form_add(form, "client_id", account->oauth_client_id);
  oauth_form_add(form, "device_code", device_code);
  g_autoptr(GByteArray) body = g_byte_array_new();
  long status = 0;
  *pending = FALSE;
  if (!oauth_post(account, form->str, body, &status, error))
    return FALSE;
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *object = oauth_parse(body, parser);
  const char *code = object ? json_object_get_string_member_with_default(object, "error", "") : "";
  if (g_strcmp0(code, "authorization_pending") == 0 || g_strcmp0(code, "slow_down") == 0) {
    *pending = TRUE;
    *interval += g_strcmp0(code, "slow_down") == 0 ? 5 : 0;
    return FALSE;
  }
  if (status != 200 || !oauth_login_tokens(object, state)) {
    g_set_error(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH, "account '%s': the sign-in was "
                "not completed (%s)", account->name, code[0] ? code : "no refresh token");
    return FALSE;
  }
  return TRUE;
}

/* Asks for a device code; `prompt` gets the URL and the code to show. */
static char *oauth_device_start(const KeelAccount *account, OauthPrompt prompt, gpointer data,
                                gint64 *interval, gint64 *expires, GError **error)
{
  g_autofree char *url = oauth_device_url(account, error);
  g_autoptr(GString) form = g_string_new(NULL);
  oauth_form_add(form, "client_id", account->oauth_client_id);
  oauth_form_add(form, "scope", account->oauth_scope);
  g_autoptr(GByteArray) body = g_byte_array_new();
  long status = 0;
  if (!url || !oauth_post_to(account, url, form->str, body, &status, error))
    return NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *object = oauth_parse(body, parser);
  const char *device = object ? json_object_get_string_member_with_default(object, "device_code", NULL) : NULL;
  const char *user_code = object ? json_object_get_string_member_with_default(object, "user_code", NULL) : NULL;
  const char *verify = object ? json_object_get_string_member_with_default(object, "verification_uri", NULL) : NULL;
  if (status != 200 || !device || !user_code || !verify) {
    mail_error_set(error, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT, "account '%s': the device "
                "code request was refused (HTTP %ld): check oauth_client_id and that the app "
                "allows public client flows", account->name, status);
    return NULL;
  }
  *interval = MAX(json_object_get_int_member_with_default(object, "interval", 5), 1);
  *expires = json_object_get_int_member_with_default(object, "expires_in", 900);
  prompt(verify, user_code, data);
  return g_strdup(device);
}

gboolean oauth_device_login(const KeelAccount *account, OauthPrompt prompt, gpointer data,
                            GError **error)
{
  gint64 interval = 5, expires = 900;
  g_autofree char *device = oauth_device_start(account, prompt, data, &interval, &expires, error);
  if (!device)
    return FALSE;
  gint64 deadline = g_get_monotonic_time() + expires * G_USEC_PER_SEC;
  OauthState state = { 0 };
  gboolean pending = TRUE, done = FALSE;
  while (!done && pending && g_get_monotonic_time() < deadline) {
    g_usleep((gulong)(interval * G_USEC_PER_SEC));
    done = oauth_device_poll(account, device, &state, &pending, &interval, error);
  }
  if (!done && pending)
    g_set_error(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH, "account '%s': the code expired "
                "before the sign-in was finished: run keel oauth login again", account->name);
  done = done && oauth_login_save(account, &state, error);
  oauth_state_clear(&state);
  return done;
}

/* ---- keel oauth login: the loopback redirect with PKCE (RFC 8252, 7636; Google) ---- */

/* base64url without padding (RFC 4648 s5). New string. */
static char *oauth_base64url(const guchar *data, gsize len)
{
  char *text = g_base64_encode(data, len);
  g_strdelimit(text, "+", '-');
  g_strdelimit(text, "/", '_');
  char *pad = strchr(text, '=');
  if (pad)
    *pad = '\0';
  return text;
}

/* `n` (at most 32) bytes from the kernel's random source, base64url. */
static char *oauth_random(gsize n, GError **error)
{
  guchar bytes[32];
  gsize got = 0;
  g_return_val_if_fail(n <= sizeof bytes, NULL);
  while (got < n) {
    ssize_t more = getrandom(bytes + got, n - got, 0);
    if (more < 0 && errno == EINTR)
      continue;
    if (more <= 0) {
      g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_LISTEN,
                  "no random bytes from the kernel: %s", g_strerror(errno));
      return NULL;
    }
    got += (gsize)more;
  }
  char *text = oauth_base64url(bytes, n);
  memset(bytes, 0, sizeof bytes);
  return text;
}

/* The S256 code challenge: base64url(SHA-256(verifier)). */
static char *oauth_pkce_challenge(const char *verifier)
{
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(sum, (const guchar *)verifier, (gssize)strlen(verifier));
  g_checksum_get_digest(sum, digest, &len);
  return oauth_base64url(digest, len);
}

/* The address the browser opens: oauth_auth_url with the request's parameters. */
static char *oauth_authorize_url(const KeelAccount *account, const char *redirect,
                                 const char *challenge, const char *nonce)
{
  g_autoptr(GString) query = g_string_new(NULL);
  oauth_form_add(query, "client_id", account->oauth_client_id);
  oauth_form_add(query, "redirect_uri", redirect);
  oauth_form_add(query, "response_type", "code");
  oauth_form_add(query, "scope", account->oauth_scope);
  oauth_form_add(query, "code_challenge", challenge);
  oauth_form_add(query, "code_challenge_method", "S256");
  oauth_form_add(query, "state", nonce);
  oauth_form_add(query, "access_type", "offline");
  oauth_form_add(query, "prompt", "consent");
  oauth_form_add(query, "login_hint", account->user);
  return g_strconcat(account->oauth_auth_url,
                     strchr(account->oauth_auth_url, '?') ? "&" : "?", query->str, NULL);
}

/* A provider's words for one terminal line: no control characters, short. */
static char *oauth_printable(const char *text)
{
  g_autofree char *copy = g_strndup(text ? text : "", 200);
  for (char *p = copy; *p; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  return g_utf8_make_valid(copy, -1);
}

/* The code of a redirect whose state is `nonce`; NULL with the reason otherwise. */
static const char *oauth_redirect_code(const KeelAccount *account, GHashTable *params,
                                       const char *nonce, GError **error)
{
  const char *denied = g_hash_table_lookup(params, "error");
  const char *code = g_hash_table_lookup(params, "code");
  if (g_strcmp0(g_hash_table_lookup(params, "state"), nonce) != 0) {
    g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_STATE, "account '%s': the browser "
                "came back with a state keel did not send (a stale tab or a forged request): "
                "nothing saved; run keel oauth login %s again", account->name, account->name);
    return NULL;
  }
  if (denied) {
    g_autofree char *what = oauth_printable(denied);
    g_autofree char *why = oauth_printable(g_hash_table_lookup(params, "error_description"));
    g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_DENIED, "account '%s': the sign-in "
                "was refused in the browser (%s%s%s); nothing saved", account->name, what,
                why[0] ? ": " : "", why);
    return NULL;
  }
  if (!code || !code[0])
    g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_STATE, "account '%s': the browser "
                "came back without a code; run keel oauth login %s again", account->name,
                account->name);
  return code && code[0] ? code : NULL;
}

/* The token endpoint's answer to the code: both tokens into `state`, or why not. */
static gboolean oauth_code_answer(const KeelAccount *account, GByteArray *body, long status,
                                  OauthState *state, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *object = oauth_parse(body, parser);
  gboolean ok = status == 200 && oauth_login_tokens(object, state);
  memset(body->data, 0, body->len);
  if (ok)
    return TRUE;
  const char *code = object ? json_object_get_string_member_with_default(object, "error", "") : "";
  g_autofree char *what = oauth_printable(code[0] ? code : "no refresh token in the answer");
  g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_REFUSED, "account '%s': the token "
              "endpoint refused the sign-in (HTTP %ld, %s): check oauth_client_id and "
              "oauth_client_secret_file, then run keel oauth login %s again", account->name,
              status, what, account->name);
  return FALSE;
}

/* POSTs grant_type=authorization_code with the PKCE verifier. */
static gboolean oauth_code_exchange(const KeelAccount *account, const char *code,
                                    const char *verifier, const char *redirect,
                                    OauthState *state, GError **error)
{
  g_autofree char *secret = NULL;
  if (account->oauth_client_secret_file
      && !(secret = oauth_read_secret(account, account->oauth_client_secret_file,
                                      "oauth_client_secret_file", error)))
    return FALSE;
  g_autoptr(GString) form = g_string_new(NULL);
  oauth_form_add(form, "grant_type", "authorization_code");
  oauth_form_add(form, "code", code);
  oauth_form_add(form, "redirect_uri", redirect);
  oauth_form_add(form, "client_id", account->oauth_client_id);
  oauth_form_add(form, "client_secret", secret);
  oauth_form_add(form, "code_verifier", verifier);
  if (secret)
    memset(secret, 0, strlen(secret));
  g_autoptr(GByteArray) body = g_byte_array_new();
  long status = 0;
  gboolean posted = oauth_post(account, form->str, body, &status, error);
  memset(form->str, 0, form->len);
  return posted && oauth_code_answer(account, body, status, state, error);
}

/* After the redirect: its code exchanged and saved; the browser told how it went. */
static gboolean oauth_browser_finish(const KeelAccount *account, OauthLoopback *loopback,
                                     GHashTable *params, const char *nonce,
                                     const char *verifier, const char *redirect, GError **error)
{
  OauthState state = { 0 };
  const char *code = oauth_redirect_code(account, params, nonce, error);
  gboolean ok = code && oauth_code_exchange(account, code, verifier, redirect, &state, error)
                && oauth_login_save(account, &state, error);
  oauth_state_clear(&state);
  g_autofree char *page = ok ? g_strdup("keel: signed in. You can close this tab.")
                             : g_strdup_printf("keel: the sign-in did not work: %s",
                                               (*error)->message);
  oauth_loopback_reply(loopback, ok, page);
  return ok;
}

gboolean oauth_browser_login(const KeelAccount *account, guint16 port, guint timeout_s,
                             OauthBrowserPrompt prompt, gpointer data, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *verifier = oauth_random(32, &local);
  g_autofree char *nonce = verifier ? oauth_random(16, &local) : NULL;
  g_autoptr(OauthLoopback) loopback = nonce ? oauth_loopback_new(port, &local) : NULL;
  if (!loopback) {
    g_propagate_prefixed_error(error, g_steal_pointer(&local), "account '%s': ", account->name);
    return FALSE;
  }
  g_autofree char *redirect = g_strdup_printf("http://127.0.0.1:%u/",
                                              oauth_loopback_port(loopback));
  g_autofree char *challenge = oauth_pkce_challenge(verifier);
  g_autofree char *url = oauth_authorize_url(account, redirect, challenge, nonce);
  prompt(url, data);
  g_autoptr(GHashTable) params = oauth_loopback_wait(loopback, timeout_s, &local);
  gboolean ok = params && oauth_browser_finish(account, loopback, params, nonce, verifier,
                                               redirect, &local);
  memset(verifier, 0, strlen(verifier));
  if (!ok && !params)
    g_prefix_error(&local, "account '%s': ", account->name);
  if (!ok)
    g_propagate_error(error, g_steal_pointer(&local));
  return ok;
}
