/* daemon/mail/imap.c: keel's IMAP client on libcurl. Read-only: it asks a folder
 * what changed, lists the new UIDs with their sizes and fetches messages
 * byte-exact without setting \Seen. It must never write to the mailbox, never
 * log a password or a message body, and never block longer than the
 * account's connect and read timeouts.
 *
 * How it works. One CURL easy handle per session keeps one connection open
 * across every command of a cycle. libcurl 7.88 can only fetch with
 * `UID FETCH n BODY[]`, which sets \Seen on a read-write mailbox. keel
 * therefore reads from a folder it opened read-only: a custom NOOP on the
 * folder's URL makes libcurl SELECT it (libcurl then believes it is selected),
 * a custom `EXAMINE` on the bare server URL re-opens it read-only behind
 * libcurl's back, and the ordinary URL fetch (`;UID=n`) then runs on the
 * read-only folder, where BODY[] changes no flag (RFC 3501 6.3.2). If libcurl
 * ever has to reconnect (it does so silently when it finds the connection
 * dead), it re-SELECTs read-write before the next command. So from a
 * successful EXAMINE on, every transfer is guarded: the header callback sees
 * the server's `[READ-WRITE]` and aborts before the command is sent, and that
 * path fails instead of marking mail read (tested by the integration test
 * "reconnect after examine").
 *
 * STATUS and `FETCH a:b (UID RFC822.SIZE)` are custom requests on the bare
 * URL / folder URL whose untagged answers arrive in the write callback. The
 * sizes are asked for in windows of message numbers, because libcurl refuses
 * a response with more than "300 KB" of lines (by its count: 300-400 lines).
 * Every CURLcode becomes a GError through imap_fail(), which hands it to the
 * one converter, mail_error_from_curl(). */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "keel-imap"

#include <string.h>
#include "daemon/mail/imap.h"
#include "daemon/mail/mail-error.h"
#include <curl/curl.h>
#include "daemon/base/log.h"
#include "daemon/mail/oauth.h"
#include "filters/utf7.h"

struct ImapSession {
  CURL *curl;                /* owned */
  char *base_url;            /* owned: scheme://host[:port] without a path */
  char *user;                /* owned, for error messages */
  GCancellable *cancellable; /* borrowed, may be NULL */
  ImapCurlWatch watch;       /* user and cancellable, for the handle's callbacks */
  GByteArray *body;          /* owned: what the write callback received */
  gsize body_limit;          /* the write callback refuses more than this */
  gboolean too_large;        /* the last transfer passed body_limit */
  gboolean guard_read_write; /* abort when the server says [READ-WRITE]: armed from a
                                successful EXAMINE until the next imap_folder_examine() */
  gboolean guard_tripped;    /* the last transfer was aborted by that guard */
  guint commands;            /* IMAP commands answered (tagged replies seen) */
  char errbuf[CURL_ERROR_SIZE];
};

#define IMAP_RESPONSE_LIMIT (64u * 1024u * 1024u)

static size_t imap_on_body(char *data, size_t size, size_t n, void *user_data)
{
  ImapSession *session = user_data;
  if (session->body->len + n > session->body_limit) {
    session->too_large = TRUE;
    return 0;
  }
  g_byte_array_append(session->body, (const guint8 *)data, (guint)n);
  return size * n;
}

/* A tagged completion ("A004 OK ...", also NO/BAD): one per command sent.
 * libcurl's tags are a letter and digits. */
gboolean imap_line_is_tagged_reply(const char *line, size_t n)
{
  size_t i = 1;
  if (n < 5 || !g_ascii_isupper(line[0]))
    return FALSE;
  while (i < n && g_ascii_isdigit(line[i]))
    i++;
  if (i == 1 || i + 3 > n || line[i] != ' ')
    return FALSE;
  return strncmp(line + i + 1, "OK", 2) == 0 || strncmp(line + i + 1, "NO", 2) == 0
         || (i + 4 <= n && strncmp(line + i + 1, "BAD", 3) == 0);
}

/* Every line the server sends passes here; the guard refuses a read-write
 * SELECT that libcurl made on its own after a reconnect. */
static size_t imap_on_header(char *data, size_t size, size_t n, void *user_data)
{
  ImapSession *session = user_data;
  if (session->guard_read_write && g_strstr_len(data, (gssize)n, "[READ-WRITE]")) {
    session->guard_tripped = TRUE;
    return 0;
  }
  if (imap_line_is_tagged_reply(data, n))
    session->commands++;
  return size * n;
}

/* A command line as it may be logged: the arguments of LOGIN and
 * AUTHENTICATE, and SASL continuation lines (no tag), are masked. */
char *imap_masked_command(const char *line, gsize len)
{
  g_autofree char *text = g_strndup(line, len);
  g_strchomp(text);
  g_auto(GStrv) words = g_strsplit(text, " ", 3);
  if (g_strv_length(words) < 2)
    return g_strdup("[SASL data masked]");
  if (g_ascii_strcasecmp(words[1], "LOGIN") == 0 || g_ascii_strcasecmp(words[1], "AUTHENTICATE") == 0)
    return g_strdup_printf("%s %s [masked]", words[0], words[1]);
  return g_steal_pointer(&text);
}

/* libcurl's progress callback for every IMAP handle: non-zero aborts the
 * transfer once the watch's cancellable fires (SIGTERM). */
static int imap_curl_on_progress(void *user_data, curl_off_t dltotal, curl_off_t dlnow,
                                 curl_off_t ultotal, curl_off_t ulnow)
{
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  const ImapCurlWatch *watch = user_data;
  return watch->cancellable && g_cancellable_is_cancelled(watch->cancellable);
}

/* libcurl's debug callback (only with --verbose): commands masked, answers cut short. */
static int imap_curl_on_debug(CURL *curl, curl_infotype type, char *data, size_t size,
                              void *user_data)
{
  (void)curl;
  const ImapCurlWatch *watch = user_data;
  if (type == CURLINFO_HEADER_OUT) {
    g_autofree char *line = imap_masked_command(data, size);
    g_debug("%s > %s", watch->user, line);
  } else if (type == CURLINFO_HEADER_IN || type == CURLINFO_TEXT) {
    g_autofree char *line = g_strndup(data, MIN(size, 200));
    g_strchomp(line);
    g_debug("%s %s %s", watch->user, type == CURLINFO_TEXT ? "*" : "<", line);
  }
  return 0;
}

/* A failed transfer as a GError: the one converter is mail_error_from_curl()
 * (daemon/mail/mail-error.c); this only adds what the session knows (the
 * size limit, the read-write guard, cancellation). `what` says which step. */
static gboolean imap_fail(ImapSession *session, CURLcode rc, const char *what, GError **error)
{
  const char *detail = session->errbuf[0] ? session->errbuf : NULL;
  if (rc == CURLE_WRITE_ERROR && session->guard_tripped)
    detail = "the connection was re-opened read-write; fetch refused so nothing is marked read";
  MailErrorContext context = {
    .what = what, .detail = detail, .too_large = session->too_large,
    .cancelled = session->cancellable && g_cancellable_is_cancelled(session->cancellable),
  };
  return mail_error_from_curl(rc, &context, error);
}

static gboolean imap_perform(ImapSession *session, const char *url, const char *command,
                             const char *what, GError **error)
{
  g_byte_array_set_size(session->body, 0);
  session->errbuf[0] = '\0';
  session->too_large = FALSE;
  session->guard_tripped = FALSE;
  curl_easy_setopt(session->curl, CURLOPT_URL, url);
  curl_easy_setopt(session->curl, CURLOPT_CUSTOMREQUEST, command);
  CURLcode rc = curl_easy_perform(session->curl);
  if (rc == CURLE_OK)
    return TRUE;
  return imap_fail(session, rc, what, error);
}

char *imap_curl_server(const KeelAccount *account, GError **error)
{
  const char *url = account->imap;
  if (!url || !(g_str_has_prefix(url, "imaps://") || g_str_has_prefix(url, "imap://")))
    return mail_error_set(error, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                          "account %s: imap URL '%s' must start with imaps:// (or imap:// for "
                          "STARTTLS)", account->name, url ? url : ""), NULL;
  char *server = g_strdup(url);
  char *path = strchr(strstr(server, "://") + 3, '/');
  if (path)
    *path = '\0'; /* folders come from the config, not from the URL */
  return server;
}

static gpointer imap_curl_global_init(gpointer unused)
{
  (void)unused;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return NULL;
}

/* The account's TLS policy, timeouts and login on `curl`. TLS is required
 * (imaps://, or STARTTLS on imap://) unless allow_plaintext. */
static void imap_curl_set_account(CURL *curl, const KeelAccount *account, const char *secret)
{
  gboolean implicit = g_str_has_prefix(account->imap, "imaps://");
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "imap,imaps");
  curl_easy_setopt(curl, CURLOPT_USE_SSL, !implicit && account->allow_plaintext
                                            ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
  if (account->ca_file)
    curl_easy_setopt(curl, CURLOPT_CAINFO, account->ca_file);
  oauth_set_login(curl, account, secret); /* password or OAuth2 bearer */
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)MAX(account->connect_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)MAX(account->read_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)MAX(account->read_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 65536L);
}

CURL *imap_curl_new(const KeelAccount *account, const char *secret, const ImapCurlWatch *watch,
                    char *errbuf)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, imap_curl_global_init, NULL);
  CURL *curl = curl_easy_init();
  imap_curl_set_account(curl, account, secret);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, imap_curl_on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, watch);
  /* libcurl's verbose mode doubles the cost of a fetch: only with --verbose */
  curl_easy_setopt(curl, CURLOPT_VERBOSE, log_is_verbose() ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, imap_curl_on_debug);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, watch);
  return curl;
}

ImapSession *imap_session_new(const KeelAccount *account, const char *password,
                              GCancellable *cancellable, GError **error)
{
  g_autofree char *server = imap_curl_server(account, error);
  if (!server)
    return NULL;
  g_autoptr(ImapSession) session = g_new0(ImapSession, 1);
  session->base_url = g_steal_pointer(&server);
  session->user = g_strdup(account->user ? account->user : "");
  session->cancellable = cancellable;
  session->watch = (ImapCurlWatch){ .user = session->user, .cancellable = cancellable };
  session->body = g_byte_array_new();
  session->body_limit = IMAP_RESPONSE_LIMIT;
  session->curl = imap_curl_new(account, password ? password : "", &session->watch,
                                session->errbuf);
  curl_easy_setopt(session->curl, CURLOPT_WRITEFUNCTION, imap_on_body);
  curl_easy_setopt(session->curl, CURLOPT_WRITEDATA, session);
  curl_easy_setopt(session->curl, CURLOPT_HEADERFUNCTION, imap_on_header);
  curl_easy_setopt(session->curl, CURLOPT_HEADERDATA, session);
  return g_steal_pointer(&session);
}

void imap_session_free(ImapSession *session)
{
  if (!session)
    return;
  if (session->curl)
    curl_easy_cleanup(session->curl);
  g_free(session->base_url);
  g_free(session->user);
  g_byte_array_unref(session->body);
  g_free(session);
}

guint imap_session_commands(const ImapSession *session)
{
  return session->commands;
}

/* `utf8_folder` as an IMAP quoted string, in modified UTF-7 (issue 19). */
char *imap_quote_folder(const char *utf8_folder, GError **error)
{
  g_autofree char *folder = utf7_encode(utf8_folder);
  if (!folder)
    folder = g_strdup(utf8_folder); /* not UTF-8: refused below */
  GString *quoted = g_string_new("\"");
  for (const char *p = folder; *p; p++) {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
      mail_error_set(error, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_FOLDER, MAIL_RETRY_WAIT,
                     "folder name '%s': only printable ASCII names are supported", folder);
      g_string_free(quoted, TRUE);
      return NULL;
    }
    if (*p == '"' || *p == '\\')
      g_string_append_c(quoted, '\\');
    g_string_append_c(quoted, *p);
  }
  g_string_append_c(quoted, '"');
  return g_string_free(quoted, FALSE);
}

static char *imap_folder_url(ImapSession *session, const char *folder, const char *suffix)
{
  g_autofree char *wire = utf7_encode(folder); /* issue 19: modified UTF-7 */
  g_autofree char *escaped = curl_easy_escape(session->curl, wire ? wire : folder, 0);
  char *url = g_strconcat(session->base_url, "/", escaped, suffix, NULL);
  return url;
}

/* The body of the last transfer as a string (a copy, NUL-terminated). */
static char *imap_body_text(ImapSession *session)
{
  return g_strndup((const char *)session->body->data, session->body->len);
}

/* Reads "NAME number" pairs from `text` (e.g. "MESSAGES 3 UIDNEXT 4"). */
gboolean imap_number_after(const char *text, const char *name, guint64 *value)
{
  g_autofree char *needle = g_strconcat(name, " ", NULL);
  for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
    if (p != text && p[-1] != ' ' && p[-1] != '(' && p[-1] != '[')
      continue;
    char *end = NULL;
    guint64 number = g_ascii_strtoull(p + strlen(needle), &end, 10);
    if (end == p + strlen(needle))
      return FALSE;
    *value = number;
    return TRUE;
  }
  return FALSE;
}

static gboolean imap_parse_status(const char *text, const char *folder, ImapFolderStatus *status,
                                  GError **error)
{
  const char *line = strstr(text, "* STATUS ");
  const char *list = line ? strrchr(line, '(') : NULL;
  guint64 validity = 0, next = 0, messages = 0;
  if (!list || !imap_number_after(list + 1, "UIDVALIDITY", &validity) ||
      !imap_number_after(list + 1, "UIDNEXT", &next) ||
      !imap_number_after(list + 1, "MESSAGES", &messages) || validity == 0 ||
      validity > G_MAXUINT32 || next > G_MAXUINT32 || messages > G_MAXUINT32) {
    return mail_error_set(error, KEEL_MAIL_ERROR_PROTOCOL, MAIL_SCOPE_CONNECTION,
                          MAIL_RETRY_TEMPORARY, "STATUS %s: the server's answer has no "
                          "UIDVALIDITY/UIDNEXT/MESSAGES", folder);
  }
  status->uidvalidity = (guint32)validity;
  status->uidnext = (guint32)next;
  status->messages = (guint32)messages;
  return TRUE;
}

gboolean imap_folder_status(ImapSession *session, const char *folder, ImapFolderStatus *status,
                            GError **error)
{
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  g_autofree char *command = g_strdup_printf("STATUS %s (UIDVALIDITY UIDNEXT MESSAGES)", quoted);
  g_autofree char *what = g_strdup_printf("STATUS %s", folder);
  g_autofree char *url = g_strconcat(session->base_url, "/", NULL);
  if (!imap_perform(session, url, command, what, error))
    return FALSE;
  g_autofree char *text = imap_body_text(session);
  return imap_parse_status(text, folder, status, error);
}

gboolean imap_folder_create(ImapSession *session, const char *folder, GError **error)
{
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  g_autofree char *command = g_strdup_printf("CREATE %s", quoted);
  g_autofree char *what = g_strdup_printf("CREATE %s", folder);
  g_autofree char *url = g_strconcat(session->base_url, "/", NULL);
  g_autoptr(GError) local = NULL;
  if (imap_perform(session, url, command, what, &local))
    return TRUE;
  if (g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED))
    return TRUE; /* already there (or the server says so in its own words) */
  g_propagate_error(error, g_steal_pointer(&local));
  return FALSE;
}

/* One `* n FETCH (UID u RFC822.SIZE s)` line, if it is one. */
gboolean imap_parse_size_line(const char *line, ImapMessageInfo *info)
{
  const char *list = strstr(line, " FETCH (");
  guint64 uid = 0, size = 0;
  if (!g_str_has_prefix(line, "* ") || !list)
    return FALSE;
  if (!imap_number_after(list + 8, "UID", &uid) || !imap_number_after(list + 8, "RFC822.SIZE", &size))
    return FALSE;
  if (uid == 0 || uid > G_MAXUINT32)
    return FALSE;
  info->uid = (guint32)uid;
  info->size = size;
  return TRUE;
}

gint imap_message_info_compare(gconstpointer a, gconstpointer b)
{
  const ImapMessageInfo *x = a, *y = b;
  return x->uid < y->uid ? -1 : x->uid > y->uid;
}

GArray *imap_folder_sizes(ImapSession *session, const char *folder, guint32 first_seq,
                          guint32 last_seq, GError **error)
{
  g_autofree char *command = g_strdup_printf("FETCH %u:%u (UID RFC822.SIZE)", first_seq, last_seq);
  g_autofree char *what = g_strdup_printf("FETCH sizes %u:%u in %s", first_seq, last_seq, folder);
  g_autofree char *url = imap_folder_url(session, folder, "");
  if (!imap_perform(session, url, command, what, error))
    return NULL;
  g_autofree char *text = imap_body_text(session);
  g_auto(GStrv) lines = g_strsplit(text, "\r\n", -1);
  GArray *infos = g_array_new(FALSE, FALSE, sizeof(ImapMessageInfo));
  for (gsize i = 0; lines[i]; i++) {
    ImapMessageInfo info;
    if (imap_parse_size_line(lines[i], &info))
      g_array_append_val(infos, info);
  }
  g_array_sort(infos, imap_message_info_compare);
  return infos;
}

/* The number before " EXISTS" in an EXAMINE answer, 0 when absent. */
guint32 imap_parse_exists(const char *text)
{
  for (const char *p = strstr(text, " EXISTS"); p; p = strstr(p + 1, " EXISTS")) {
    const char *start = p;
    while (start > text && g_ascii_isdigit(start[-1]))
      start--;
    if (start >= text + 2 && start < p && start[-1] == ' ' && start[-2] == '*')
      return (guint32)MIN(g_ascii_strtoull(start, NULL, 10), G_MAXUINT32);
  }
  return 0;
}

gboolean imap_folder_examine(ImapSession *session, const char *folder, guint32 *uidvalidity,
                             guint32 *exists, GError **error)
{
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  g_autofree char *url = imap_folder_url(session, folder, "");
  g_autofree char *what = g_strdup_printf("SELECT %s", folder);
  session->guard_read_write = FALSE; /* this NOOP may SELECT: that one is wanted */
  if (!imap_perform(session, url, "NOOP", what, error))
    return FALSE;
  g_autofree char *command = g_strdup_printf("EXAMINE %s", quoted);
  g_autofree char *bare = g_strconcat(session->base_url, "/", NULL);
  g_free(what);
  what = g_strdup_printf("EXAMINE %s", folder);
  if (!imap_perform(session, bare, command, what, error))
    return FALSE;
  g_autofree char *text = imap_body_text(session);
  guint64 validity = 0;
  if (!imap_number_after(text, "UIDVALIDITY", &validity) || validity == 0 || validity > G_MAXUINT32) {
    return mail_error_set(error, KEEL_MAIL_ERROR_PROTOCOL, MAIL_SCOPE_CONNECTION,
                          MAIL_RETRY_TEMPORARY, "EXAMINE %s: the server's answer has no "
                          "UIDVALIDITY", folder);
  }
  *uidvalidity = (guint32)validity;
  if (exists)
    *exists = imap_parse_exists(text);
  session->guard_read_write = TRUE; /* from now on a read-write SELECT means a reconnect */
  return TRUE;
}

GBytes *imap_fetch_message(ImapSession *session, const char *folder, guint32 uid,
                           gsize max_size, GError **error)
{
  g_autofree char *suffix = g_strdup_printf(";UID=%u", uid);
  g_autofree char *url = imap_folder_url(session, folder, suffix);
  g_autofree char *what = g_strdup_printf("UID FETCH %u in %s", uid, folder);
  session->body_limit = max_size ? max_size : IMAP_RESPONSE_LIMIT;
  gboolean ok = imap_perform(session, url, NULL, what, error);
  session->body_limit = IMAP_RESPONSE_LIMIT;
  if (!ok)
    return NULL;
  GBytes *raw = g_byte_array_free_to_bytes(session->body);
  session->body = g_byte_array_new();
  return raw;
}

/* Issue 19 (special-use discovery, daemon/mail/folders.c): a LIST command on
 * the bare server URL; its untagged "* LIST" lines, as text. Logs in when this
 * is the session's first command. */
char *imap_session_list(ImapSession *session, const char *command, GError **error)
{
  if (!imap_perform(session, session->base_url, command, "LIST", error))
    return NULL;
  return imap_body_text(session);
}
