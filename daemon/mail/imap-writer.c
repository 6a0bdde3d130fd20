/* daemon/mail/imap-writer.c: APPEND and SEARCH over IMAP for the outbox. See
 * imap-writer.h.
 *
 * libcurl 7.88 APPENDs with a hard-coded (\Seen) flag (CURLOPT_UPLOAD_FLAGS
 * came in 8.13) and refuses CR/LF in a custom request, so an APPEND with
 * other flags cannot go through its IMAP transfers. Instead libcurl only
 * connects: CURLOPT_CONNECT_ONLY runs its connection phase (greeting,
 * CAPABILITY, STARTTLS when required, LOGIN/AUTHENTICATE, all with keel's
 * TLS policy) and stops; keel then speaks the few commands it needs itself
 * with curl_easy_send()/curl_easy_recv() on that authenticated connection:
 *   Kn APPEND "Drafts" (\Draft) {size}   -> "+ ..." -> the bytes -> Kn OK [APPENDUID v uid]
 *   Kn EXAMINE "Sent"  /  Kn UID SEARCH HEADER Message-ID "<id>" -> * SEARCH uid...
 * One writer is one connection, opened by the first command and reused by
 * every later one; after a lost connection the next command opens a new one.
 * Every wait polls the socket in slices of at most a second, so the
 * cancellable stops a command within about a second, and read_timeout
 * bounds each wait for the server.
 *
 * Must not: fetch, delete or change existing messages, log passwords or
 * message bytes, or accept an answer it did not read whole.
 */
#include <poll.h>
#include <string.h>
#include "daemon/mail/imap-writer.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/mail-error.h"
#include "daemon/mail/oauth.h"

struct ImapWriter {
  CURL *curl;                /* owned */
  char *base_url;            /* owned: scheme://host[:port] without a path */
  char *password;            /* owned, wiped on free */
  GCancellable *cancellable; /* borrowed, may be NULL */
  GString *input;            /* owned: bytes received and not yet read as lines */
  guint read_timeout;        /* seconds */
  guint tag;                 /* the last command's number (tags K1, K2 ...) */
  guint connections;
  gboolean connected;
  char errbuf[CURL_ERROR_SIZE];
};

static gboolean imap_writer_check_url(const KeelAccount *account, GError **error)
{
  if (account->imap && (g_str_has_prefix(account->imap, "imaps://")
                        || g_str_has_prefix(account->imap, "imap://")))
    return TRUE;
  return mail_error_set(error, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                        "account %s: no usable imap URL (imaps://host or imap://host)",
                        account->name);
}

static void imap_writer_setup(ImapWriter *writer, const KeelAccount *account)
{
  CURL *curl = writer->curl;
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "imap,imaps");
  curl_easy_setopt(curl, CURLOPT_USE_SSL,
                   account->allow_plaintext ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
  if (account->ca_file)
    curl_easy_setopt(curl, CURLOPT_CAINFO, account->ca_file);
  oauth_set_login(curl, account, writer->password); /* password or OAuth2 bearer */
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)MAX(account->connect_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)MAX(account->read_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, writer->errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
}

ImapWriter *imap_writer_new(const KeelAccount *account, const char *password,
                            GCancellable *cancellable, GError **error)
{
  if (!imap_writer_check_url(account, error))
    return NULL;
  ImapWriter *writer = g_new0(ImapWriter, 1);
  writer->curl = curl_easy_init();
  writer->base_url = g_strdup(account->imap);
  char *path = strchr(strstr(writer->base_url, "://") + 3, '/');
  if (path)
    *path = '\0';
  writer->password = g_strdup(password ? password : "");
  writer->cancellable = cancellable;
  writer->input = g_string_new(NULL);
  writer->read_timeout = MAX(account->read_timeout, 1u);
  imap_writer_setup(writer, account);
  return writer;
}

void imap_writer_free(ImapWriter *writer)
{
  if (!writer)
    return;
  if (writer->curl)
    curl_easy_cleanup(writer->curl); /* a CONNECT_ONLY connection is closed, no LOGOUT */
  if (writer->password) {
    memset(writer->password, 0, strlen(writer->password));
    g_free(writer->password);
  }
  g_free(writer->base_url);
  g_string_free(writer->input, TRUE);
  g_free(writer);
}

guint imap_writer_connections(const ImapWriter *writer)
{
  return writer->connections;
}

/* Connects and logs in (libcurl's connection phase only). */
static gboolean imap_writer_connect(ImapWriter *writer, GError **error)
{
  if (writer->connected)
    return TRUE;
  g_autofree char *url = g_strconcat(writer->base_url, "/", NULL);
  writer->errbuf[0] = '\0';
  g_string_truncate(writer->input, 0);
  curl_easy_setopt(writer->curl, CURLOPT_URL, url);
  CURLcode code = curl_easy_perform(writer->curl);
  if (code != CURLE_OK) {
    g_autofree char *what = g_strdup_printf("IMAP login on %s", writer->base_url);
    MailErrorContext context = { .what = what, .detail = writer->errbuf };
    return mail_error_from_curl(code, &context, error);
  }
  writer->connected = TRUE;
  writer->connections++;
  return TRUE;
}

/* A lost connection: the next command reconnects. Always FALSE. */
static gboolean imap_writer_lost(ImapWriter *writer, const char *why, GError **error)
{
  writer->connected = FALSE;
  if (g_cancellable_is_cancelled(writer->cancellable))
    return mail_error_set(error, KEEL_MAIL_ERROR_CANCELLED, MAIL_SCOPE_CONNECTION,
                          MAIL_RETRY_TEMPORARY, "IMAP on %s: keel is shutting down",
                          writer->base_url);
  return mail_error_set(error, KEEL_MAIL_ERROR_NETWORK, MAIL_SCOPE_CONNECTION,
                        MAIL_RETRY_TEMPORARY, "IMAP on %s: %s; will retry", writer->base_url,
                        why);
}

/* Waits until the socket is ready for `events`, a second at a time. */
static gboolean imap_writer_wait(ImapWriter *writer, short events, GError **error)
{
  curl_socket_t socket = CURL_SOCKET_BAD;
  curl_easy_getinfo(writer->curl, CURLINFO_ACTIVESOCKET, &socket);
  if (socket == CURL_SOCKET_BAD)
    return imap_writer_lost(writer, "the connection is closed", error);
  for (guint waited = 0; waited < writer->read_timeout; waited++) {
    if (g_cancellable_is_cancelled(writer->cancellable))
      return imap_writer_lost(writer, "cancelled", error);
    struct pollfd fd = { .fd = socket, .events = events };
    int ready = poll(&fd, 1, 1000);
    if (ready > 0)
      return TRUE;
  }
  return imap_writer_lost(writer, "the server did not answer in time", error);
}

static gboolean imap_writer_send(ImapWriter *writer, const void *data, gsize size,
                                 GError **error)
{
  gsize done = 0;
  while (done < size) {
    size_t sent = 0;
    CURLcode code = curl_easy_send(writer->curl, (const char *)data + done, size - done, &sent);
    if (code == CURLE_AGAIN) {
      if (!imap_writer_wait(writer, POLLOUT, error))
        return FALSE;
      continue;
    }
    if (code != CURLE_OK)
      return imap_writer_lost(writer, curl_easy_strerror(code), error);
    done += sent;
  }
  return TRUE;
}

/* The next line from the server (without CRLF) in `line`. */
static gboolean imap_writer_read_line(ImapWriter *writer, GString *line, GError **error)
{
  for (;;) {
    const char *end = strstr(writer->input->str, "\r\n");
    if (end) {
      gsize len = (gsize)(end - writer->input->str);
      g_string_assign(line, "");
      g_string_append_len(line, writer->input->str, (gssize)len);
      g_string_erase(writer->input, 0, (gssize)(len + 2));
      return TRUE;
    }
    if (writer->input->len > 1024 * 1024)
      return imap_writer_lost(writer, "an answer line longer than 1 MB", error);
    char buffer[16384];
    size_t got = 0;
    CURLcode code = curl_easy_recv(writer->curl, buffer, sizeof buffer, &got);
    if (code == CURLE_AGAIN) {
      if (!imap_writer_wait(writer, POLLIN, error))
        return FALSE;
      continue;
    }
    if (code != CURLE_OK || got == 0)
      return imap_writer_lost(writer, code != CURLE_OK ? curl_easy_strerror(code)
                                                      : "the server closed the connection",
                              error);
    g_string_append_len(writer->input, buffer, (gssize)got);
  }
}

/* Reads lines until the tagged answer to `tag`; untagged lines go to
 * `untagged` (may be NULL), the tagged line to `done`. With `want_plus`, a
 * "+" continuation also ends the wait (TRUE, `*plus` set). */
static gboolean imap_writer_answer(ImapWriter *writer, const char *tag, GString *untagged,
                                   GString *done, gboolean *plus, GError **error)
{
  g_autoptr(GString) line = g_string_new(NULL);
  for (;;) {
    if (!imap_writer_read_line(writer, line, error))
      return FALSE;
    if (plus && g_str_has_prefix(line->str, "+")) {
      *plus = TRUE;
      return TRUE;
    }
    if (g_str_has_prefix(line->str, tag) && line->str[strlen(tag)] == ' ') {
      g_string_assign(done, line->str + strlen(tag) + 1);
      return TRUE;
    }
    if (untagged)
      g_string_append_printf(untagged, "%s\n", line->str);
  }
}

/* Fails unless the tagged answer `done` is OK. A NO/BAD concerns `folder`. */
static gboolean imap_writer_check_ok(ImapWriter *writer, const char *verb, const char *folder,
                                     const char *done, GError **error)
{
  if (g_str_has_prefix(done, "OK"))
    return TRUE;
  return mail_error_set(error, KEEL_MAIL_ERROR_REFUSED, MAIL_SCOPE_FOLDER, MAIL_RETRY_WAIT,
                        "IMAP %s %s on %s: the server answered \"%.200s\": check the folder "
                        "name", verb, folder, writer->base_url, done);
}

/* Sends "Kn `command`" and reads its answer. */
static gboolean imap_writer_simple(ImapWriter *writer, const char *command, const char *verb,
                                   const char *folder, GString *untagged, GError **error)
{
  if (!imap_writer_connect(writer, error))
    return FALSE;
  g_autofree char *tag = g_strdup_printf("K%u", ++writer->tag);
  g_autofree char *line = g_strdup_printf("%s %s\r\n", tag, command);
  g_autoptr(GString) done = g_string_new(NULL);
  if (!imap_writer_send(writer, line, strlen(line), error)
      || !imap_writer_answer(writer, tag, untagged, done, NULL, error))
    return FALSE;
  return imap_writer_check_ok(writer, verb, folder, done->str, error);
}

/* The UID in "[APPENDUID validity uid]", 0 if none. */
static guint32 imap_writer_appenduid(const char *done)
{
  const char *tag = strstr(done, "[APPENDUID ");
  if (!tag)
    return 0;
  char *end = NULL;
  g_ascii_strtoull(tag + 11, &end, 10);
  guint64 uid = end ? g_ascii_strtoull(end, NULL, 10) : 0;
  return uid <= G_MAXUINT32 ? (guint32)uid : 0;
}

static gboolean imap_writer_append_once(ImapWriter *writer, const char *quoted,
                                        const char *folder, GBytes *raw, gboolean draft,
                                        guint32 *uid, GError **error)
{
  gsize size = 0;
  const void *data = g_bytes_get_data(raw, &size);
  if (!imap_writer_connect(writer, error))
    return FALSE;
  g_autofree char *tag = g_strdup_printf("K%u", ++writer->tag);
  g_autofree char *line = g_strdup_printf("%s APPEND %s (%s) {%" G_GSIZE_FORMAT "}\r\n", tag,
                                          quoted, draft ? "\\Draft" : "\\Seen", size);
  g_autoptr(GString) done = g_string_new(NULL);
  gboolean plus = FALSE;
  if (!imap_writer_send(writer, line, strlen(line), error)
      || !imap_writer_answer(writer, tag, NULL, done, &plus, error))
    return FALSE;
  if (plus && (!imap_writer_send(writer, data, size, error)
               || !imap_writer_send(writer, "\r\n", 2, error)
               || !imap_writer_answer(writer, tag, NULL, done, NULL, error)))
    return FALSE;
  if (!imap_writer_check_ok(writer, "APPEND to", folder, done->str, error))
    return FALSE;
  if (uid)
    *uid = imap_writer_appenduid(done->str);
  return TRUE;
}

gboolean imap_writer_append(ImapWriter *writer, const char *folder, GBytes *raw,
                            gboolean draft, guint32 *uid, GError **error)
{
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  return imap_writer_append_once(writer, quoted, folder, raw, draft, uid, error);
}

/* TRUE when a "* SEARCH" line in `lines` lists at least one UID. */
static gboolean imap_writer_search_found(const char *lines)
{
  g_auto(GStrv) split = g_strsplit(lines, "\n", -1);
  for (guint i = 0; split[i]; i++) {
    if (!g_str_has_prefix(split[i], "* SEARCH"))
      continue;
    for (const char *p = split[i] + 8; *p; p++)
      if (g_ascii_isdigit(*p))
        return TRUE;
  }
  return FALSE;
}

gboolean imap_writer_find(ImapWriter *writer, const char *folder, const char *message_id,
                          gboolean *found, GError **error)
{
  *found = FALSE;
  if (!message_id || !*message_id || strpbrk(message_id, "\"\\\r\n"))
    return mail_error_set(error, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_MESSAGE, MAIL_RETRY_FINAL,
                          "cannot search for Message-ID '%s'", message_id ? message_id : "");
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  g_autofree char *examine = g_strdup_printf("EXAMINE %s", quoted);
  g_autofree char *search = g_strdup_printf("UID SEARCH HEADER Message-ID \"<%s>\"", message_id);
  g_autoptr(GString) untagged = g_string_new(NULL);
  if (!imap_writer_simple(writer, examine, "EXAMINE", folder, NULL, error)
      || !imap_writer_simple(writer, search, "SEARCH in", folder, untagged, error))
    return FALSE;
  *found = imap_writer_search_found(untagged->str);
  return TRUE;
}
