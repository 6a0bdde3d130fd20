/* daemon/mail/imap-raw.c: the IMAP connection keel speaks itself. See
 * imap-raw.h for the entry points.
 *
 * How it works. libcurl 7.88 cannot fetch in ranges, APPEND with chosen
 * flags, or send a command with a literal, but with CURLOPT_CONNECT_ONLY it
 * runs its connection phase alone (greeting, CAPABILITY, STARTTLS, LOGIN or
 * AUTHENTICATE, with keel's TLS policy and OAuth2 options) and hands the
 * connection over. From then on keel sends tagged commands with
 * curl_easy_send() and reads with curl_easy_recv() into one input buffer
 * (`input`, read from `pos`). It waits on the socket only after
 * curl_easy_recv() said CURLE_AGAIN, because TLS may already hold bytes.
 *
 * An answer is read as responses: a line, and when the line ends in a
 * literal `{N}`, exactly N bytes (whatever they contain: a message line
 * reading "A001 OK" or "* 5 FETCH" is message text here, never an answer),
 * then the rest of the response on the next line. Only a literal that is the
 * value of BODY[] is kept; any other is read and dropped.
 *
 * Failures: a dropped or silent server, a cancellation and an answer keel
 * cannot read all leave the connection in the middle of an answer, so it is
 * closed (the easy handle is made anew) and the next command reconnects.
 * A tagged NO/BAD is the server's refusal (REFUSED, scope folder).
 * Must not: write to a mailbox on its own (APPEND is the writer's), log
 * message bytes or a secret, or wait longer than read_timeout per wait. */
#include <poll.h>
#include <string.h>
#include <curl/curl.h>
#include "daemon/base/log.h"
#include "daemon/mail/imap-raw.h"

struct ImapRaw {
  const KeelAccount *account; /* borrowed: outlives the connection */
  CURL *curl;                 /* owned, made anew after a lost connection */
  char *base_url;             /* owned: scheme://host[:port] without a path */
  char *secret;               /* owned, wiped on free: password or access token */
  GCancellable *cancellable;  /* borrowed, may be NULL */
  ImapCurlWatch watch;        /* user and cancellable, for the handle's callbacks */
  GByteArray *input;          /* owned: bytes received; input[pos..] not read yet */
  gsize pos;
  char tag_prefix;
  guint tag;                  /* the last command's number */
  guint connections;
  guint commands;             /* tagged answers seen, libcurl's login included */
  gboolean connected;
  int cancel_fd;              /* the cancellable's fd, -1 without one */
  gint64 deadline;            /* imap_raw_read_line_until(): wait until then, 0: read_timeout */
  gboolean expired;           /* that deadline passed */
  char errbuf[CURL_ERROR_SIZE];
};

#define IMAP_RAW_RECV (64u * 1024u)
#define IMAP_RAW_LINE_MAX (1024u * 1024u)

/* libcurl passes every line of its connection phase here: counts its commands. */
static size_t imap_raw_on_header(char *data, size_t size, size_t n, void *user_data)
{
  ImapRaw *raw = user_data;
  if (imap_line_is_tagged_reply(data, n))
    raw->commands++;
  return size * n;
}

/* A new easy handle for the connection: the account's set-up (imap.c's
 * imap_curl_new(), the same as the poll's), then CONNECT_ONLY. */
static void imap_raw_setup(ImapRaw *raw)
{
  raw->curl = imap_curl_new(raw->account, raw->secret, &raw->watch, raw->errbuf);
  curl_easy_setopt(raw->curl, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(raw->curl, CURLOPT_HEADERFUNCTION, imap_raw_on_header);
  curl_easy_setopt(raw->curl, CURLOPT_HEADERDATA, raw);
}

ImapRaw *imap_raw_new(const KeelAccount *account, const char *secret, GCancellable *cancellable,
                      char tag_prefix, GError **error)
{
  char *server = imap_curl_server(account, error);
  if (!server)
    return NULL;
  ImapRaw *raw = g_new0(ImapRaw, 1);
  raw->account = account;
  raw->base_url = server;
  raw->secret = g_strdup(secret ? secret : "");
  raw->cancellable = cancellable;
  raw->watch = (ImapCurlWatch){ .user = account->user ? account->user : "",
                                .cancellable = cancellable };
  raw->cancel_fd = cancellable ? g_cancellable_get_fd(cancellable) : -1;
  raw->input = g_byte_array_new();
  raw->tag_prefix = tag_prefix;
  imap_raw_setup(raw);
  return raw;
}

void imap_raw_free(ImapRaw *raw)
{
  if (!raw)
    return;
  if (raw->curl)
    curl_easy_cleanup(raw->curl); /* a CONNECT_ONLY connection is closed, no LOGOUT */
  if (raw->secret) {
    memset(raw->secret, 0, strlen(raw->secret));
    g_free(raw->secret);
  }
  if (raw->cancel_fd >= 0)
    g_cancellable_release_fd(raw->cancellable);
  g_free(raw->base_url);
  g_byte_array_unref(raw->input);
  g_free(raw);
}

guint imap_raw_connections(const ImapRaw *raw)
{
  return raw->connections;
}

guint imap_raw_commands(const ImapRaw *raw)
{
  return raw->commands;
}

const char *imap_raw_server(const ImapRaw *raw)
{
  return raw->base_url;
}

/* Closes the connection (whatever it was in the middle of): the next
 * command opens a new one on a new easy handle. */
static void imap_raw_drop(ImapRaw *raw)
{
  curl_easy_cleanup(raw->curl);
  imap_raw_setup(raw);
  raw->connected = FALSE;
  g_byte_array_set_size(raw->input, 0);
  raw->pos = 0;
}

/* A lost connection (dropped, silent, cancelled): always FALSE. */
static gboolean imap_raw_lost(ImapRaw *raw, const char *why, GError **error)
{
  imap_raw_drop(raw);
  if (raw->cancellable && g_cancellable_is_cancelled(raw->cancellable))
    return mail_error_set(error, KEEL_MAIL_ERROR_CANCELLED, MAIL_SCOPE_CONNECTION,
                          MAIL_RETRY_TEMPORARY, "IMAP on %s: keel is shutting down",
                          raw->base_url);
  return mail_error_set(error, KEEL_MAIL_ERROR_NETWORK, MAIL_SCOPE_CONNECTION,
                        MAIL_RETRY_TEMPORARY, "IMAP on %s: %s; will retry", raw->base_url, why);
}

gboolean imap_raw_connect(ImapRaw *raw, GError **error)
{
  if (raw->connected)
    return TRUE;
  g_autofree char *url = g_strconcat(raw->base_url, "/", NULL);
  raw->errbuf[0] = '\0';
  curl_easy_setopt(raw->curl, CURLOPT_URL, url);
  CURLcode code = curl_easy_perform(raw->curl);
  if (code != CURLE_OK) {
    g_autofree char *what = g_strdup_printf("IMAP login on %s", raw->base_url);
    MailErrorContext context = {
      .what = what, .detail = raw->errbuf[0] ? raw->errbuf : NULL,
      .cancelled = raw->cancellable && g_cancellable_is_cancelled(raw->cancellable),
    };
    imap_raw_drop(raw);
    return mail_error_from_curl(code, &context, error);
  }
  raw->connected = TRUE;
  raw->connections++;
  return TRUE;
}

/* Waits until the socket is ready for `events` or the cancellable fires,
 * for read_timeout or until raw->deadline (then raw->expired is set and the
 * connection kept: FALSE without an error). */
static gboolean imap_raw_wait(ImapRaw *raw, short events, GError **error)
{
  curl_socket_t socket = CURL_SOCKET_BAD;
  curl_easy_getinfo(raw->curl, CURLINFO_ACTIVESOCKET, &socket);
  if (socket == CURL_SOCKET_BAD)
    return imap_raw_lost(raw, "the connection is closed", error);
  gint64 until = raw->deadline ? raw->deadline
                               : g_get_monotonic_time()
                                   + (gint64)MAX(raw->account->read_timeout, 1u) * G_USEC_PER_SEC;
  struct pollfd fds[2] = { { .fd = socket, .events = events },
                           { .fd = raw->cancel_fd, .events = POLLIN } };
  for (;;) {
    if (raw->cancellable && g_cancellable_is_cancelled(raw->cancellable))
      return imap_raw_lost(raw, "cancelled", error);
    gint64 left = (until - g_get_monotonic_time()) / 1000;
    if (left <= 0)
      break;
    if (poll(fds, raw->cancel_fd >= 0 ? 2 : 1, (int)MIN(left, 1000)) > 0 && fds[0].revents)
      return TRUE;
  }
  if (!raw->deadline)
    return imap_raw_lost(raw, "the server did not answer in time", error);
  raw->expired = TRUE;
  return FALSE;
}

gboolean imap_raw_send(ImapRaw *raw, const void *data, gsize size, GError **error)
{
  gsize done = 0;
  while (done < size) {
    size_t sent = 0;
    CURLcode code = curl_easy_send(raw->curl, (const char *)data + done, size - done, &sent);
    if (code == CURLE_AGAIN) {
      if (!imap_raw_wait(raw, POLLOUT, error))
        return FALSE;
      continue;
    }
    if (code != CURLE_OK)
      return imap_raw_lost(raw, curl_easy_strerror(code), error);
    done += sent;
  }
  return TRUE;
}

/* Receives more bytes into `input` (dropping what was read already). */
static gboolean imap_raw_fill(ImapRaw *raw, GError **error)
{
  if (raw->pos > 0) {
    g_byte_array_remove_range(raw->input, 0, (guint)raw->pos);
    raw->pos = 0;
  }
  for (;;) {
    if (raw->cancellable && g_cancellable_is_cancelled(raw->cancellable))
      return imap_raw_lost(raw, "cancelled", error);
    guint had = raw->input->len;
    g_byte_array_set_size(raw->input, had + IMAP_RAW_RECV);
    size_t got = 0;
    CURLcode code = curl_easy_recv(raw->curl, raw->input->data + had, IMAP_RAW_RECV, &got);
    g_byte_array_set_size(raw->input, had + (code == CURLE_OK ? (guint)got : 0));
    if (code == CURLE_OK && got > 0)
      return TRUE;
    if (code == CURLE_AGAIN) {
      if (!imap_raw_wait(raw, POLLIN, error))
        return FALSE;
      continue;
    }
    return imap_raw_lost(raw, code != CURLE_OK ? curl_easy_strerror(code)
                                               : "the server closed the connection", error);
  }
}

gboolean imap_raw_read_line(ImapRaw *raw, GString *line, GError **error)
{
  gsize scanned = raw->pos;
  for (;;) {
    const guint8 *data = raw->input->data;
    const guint8 *lf = scanned < raw->input->len
                         ? memchr(data + scanned, '\n', raw->input->len - scanned) : NULL;
    if (lf) {
      gsize end = (gsize)(lf - data);
      gsize len = end - raw->pos - (end > raw->pos && data[end - 1] == '\r');
      g_string_truncate(line, 0);
      g_string_append_len(line, (const char *)data + raw->pos, (gssize)len);
      raw->pos = end + 1;
      return TRUE;
    }
    if (raw->input->len - raw->pos > IMAP_RAW_LINE_MAX)
      return imap_raw_lost(raw, "an answer line longer than 1 MB", error);
    gsize offset = raw->input->len - raw->pos; /* fill() moves the unread bytes to 0 */
    if (!imap_raw_fill(raw, error))
      return FALSE;
    scanned = raw->pos + offset;
  }
}

gboolean imap_raw_read_line_until(ImapRaw *raw, GString *line, gint64 deadline,
                                  gboolean *timed_out, GError **error)
{
  raw->deadline = deadline;
  raw->expired = FALSE;
  gboolean ok = imap_raw_read_line(raw, line, error);
  *timed_out = !ok && raw->expired;
  raw->deadline = 0;
  raw->expired = FALSE;
  return ok;
}

gboolean imap_raw_is_connected(const ImapRaw *raw)
{
  return raw->connected;
}

/* Reads exactly `size` literal bytes into `into` (NULL: drops them). */
static gboolean imap_raw_read_literal(ImapRaw *raw, guint64 size, GByteArray *into,
                                      GError **error)
{
  while (size > 0) {
    if (raw->pos == raw->input->len && !imap_raw_fill(raw, error))
      return FALSE;
    gsize take = (gsize)MIN((guint64)(raw->input->len - raw->pos), size);
    if (into)
      g_byte_array_append(into, raw->input->data + raw->pos, (guint)take);
    raw->pos += take;
    size -= take;
  }
  return TRUE;
}

/* The N of a line ending in the literal announcement "{N}" (or "{N+}"). */
static gboolean imap_raw_literal_size(const GString *line, guint64 *size)
{
  if (line->len < 3 || line->str[line->len - 1] != '}')
    return FALSE;
  const char *open = strrchr(line->str, '{');
  if (!open || !g_ascii_isdigit(open[1]))
    return FALSE;
  char *end = NULL;
  *size = g_ascii_strtoull(open + 1, &end, 10);
  return end && (*end == '}' || (end[0] == '+' && end[1] == '}'));
}

typedef struct {
  gsize max_size;    /* 0: no limit */
  GByteArray *body;  /* owned: the BODY[] literal of this response, NULL if none */
  gboolean too_large;
} ImapRawBody;

/* The literal just announced at the end of `text` is the value of BODY[]. */
static gboolean imap_raw_is_body_literal(const GString *text)
{
  const char *open = strrchr(text->str, '{');
  return open && open - text->str >= 7 && strncmp(open - 7, "BODY[] ", 7) == 0;
}

/* Reads one whole response into `text` (its lines joined, each literal's
 * announcement kept and its bytes left out). With `body`, the BODY[]
 * literal is kept there (or dropped when over body->max_size). */
static gboolean imap_raw_read_response(ImapRaw *raw, GString *text, ImapRawBody *body,
                                       GError **error)
{
  g_autoptr(GString) line = g_string_new(NULL);
  g_string_truncate(text, 0);
  for (;;) {
    if (!imap_raw_read_line(raw, line, error))
      return FALSE;
    g_string_append_len(text, line->str, (gssize)line->len);
    guint64 size = 0;
    if (!imap_raw_literal_size(line, &size))
      return TRUE;
    GByteArray *into = NULL;
    if (body && !body->body && !body->too_large && imap_raw_is_body_literal(text)) {
      body->too_large = body->max_size && size > body->max_size;
      if (!body->too_large)
        into = body->body = g_byte_array_sized_new((guint)MIN(size, 64u * 1024u * 1024u));
    }
    if (!imap_raw_read_literal(raw, size, into, error))
      return FALSE;
  }
}

char *imap_raw_start(ImapRaw *raw, const char *command, GError **error)
{
  if (!imap_raw_connect(raw, error))
    return NULL;
  g_autofree char *tag = g_strdup_printf("%c%u", raw->tag_prefix, ++raw->tag);
  g_autofree char *line = g_strdup_printf("%s %s\r\n", tag, command);
  if (log_is_verbose()) {
    g_autofree char *masked = imap_masked_command(line, strlen(line));
    g_debug("%s > %s", raw->account->user, masked);
  }
  if (!imap_raw_send(raw, line, strlen(line), error))
    return NULL;
  return g_steal_pointer(&tag);
}

/* TRUE when `text` is the tagged answer to `tag`; then `done` gets the rest. */
static gboolean imap_raw_is_tagged(ImapRaw *raw, const char *tag, const GString *text,
                                   GString *done)
{
  gsize n = strlen(tag);
  if (strncmp(text->str, tag, n) != 0 || text->str[n] != ' ')
    return FALSE;
  raw->commands++;
  g_string_assign(done, text->str + n + 1);
  g_debug("%s < %s %.200s", raw->account->user, tag, done->str);
  return TRUE;
}

gboolean imap_raw_answer(ImapRaw *raw, const char *tag, GString *untagged, GString *done,
                         gboolean *plus, GError **error)
{
  g_autoptr(GString) text = g_string_new(NULL);
  for (;;) {
    if (!imap_raw_read_response(raw, text, NULL, error))
      return FALSE;
    if (plus && text->str[0] == '+') {
      *plus = TRUE;
      return TRUE;
    }
    if (imap_raw_is_tagged(raw, tag, text, done))
      return TRUE;
    if (untagged)
      g_string_append_printf(untagged, "%s\n", text->str);
  }
}

gboolean imap_raw_check_ok(ImapRaw *raw, const char *command, const char *folder,
                                  const char *done, GError **error)
{
  if (g_str_has_prefix(done, "OK"))
    return TRUE;
  g_autofree char *verb = g_strndup(command, strcspn(command, " "));
  return mail_error_set(error, KEEL_MAIL_ERROR_REFUSED, MAIL_SCOPE_FOLDER, MAIL_RETRY_WAIT,
                        "IMAP %s %s on %s: the server answered \"%.200s\": check the folder "
                        "name", verb, folder ? folder : "", raw->base_url, done);
}

gboolean imap_raw_command(ImapRaw *raw, const char *command, const char *folder,
                          GString *untagged, GError **error)
{
  g_autofree char *tag = imap_raw_start(raw, command, error);
  g_autoptr(GString) done = g_string_new(NULL);
  if (!tag || !imap_raw_answer(raw, tag, untagged, done, NULL, error))
    return FALSE;
  return imap_raw_check_ok(raw, command, folder, done->str, error);
}

gboolean imap_raw_examine(ImapRaw *raw, const char *folder, guint32 *uidvalidity,
                          guint32 *exists, GError **error)
{
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  g_autofree char *command = g_strdup_printf("EXAMINE %s", quoted);
  g_autoptr(GString) untagged = g_string_new(NULL);
  if (!imap_raw_command(raw, command, folder, untagged, error))
    return FALSE;
  guint64 validity = 0;
  if (!imap_number_after(untagged->str, "UIDVALIDITY", &validity) || validity == 0
      || validity > G_MAXUINT32)
    return mail_error_set(error, KEEL_MAIL_ERROR_PROTOCOL, MAIL_SCOPE_CONNECTION,
                          MAIL_RETRY_TEMPORARY, "EXAMINE %s: the server's answer has no "
                          "UIDVALIDITY", folder);
  *uidvalidity = (guint32)validity;
  if (exists)
    *exists = imap_parse_exists(untagged->str);
  return TRUE;
}

GArray *imap_raw_sizes(ImapRaw *raw, guint32 first_uid, GError **error)
{
  g_autofree char *command = g_strdup_printf("UID FETCH %u:* (UID RFC822.SIZE)", MAX(first_uid, 1u));
  g_autofree char *tag = imap_raw_start(raw, command, error);
  if (!tag)
    return NULL;
  g_autoptr(GArray) infos = g_array_new(FALSE, FALSE, sizeof(ImapMessageInfo));
  g_autoptr(GString) text = g_string_new(NULL);
  g_autoptr(GString) done = g_string_new(NULL);
  for (;;) {
    if (!imap_raw_read_response(raw, text, NULL, error))
      return NULL;
    if (imap_raw_is_tagged(raw, tag, text, done))
      break;
    ImapMessageInfo info;
    if (imap_parse_size_line(text->str, &info) && info.uid >= first_uid)
      g_array_append_val(infos, info); /* "n:*" also names the last message, even below n */
  }
  if (!imap_raw_check_ok(raw, command, NULL, done->str, error))
    return NULL;
  g_array_sort(infos, imap_message_info_compare);
  return g_steal_pointer(&infos);
}

/* One untagged response of a range fetch: hands a BODY[] over to `func`. */
static gboolean imap_raw_fetched(ImapRaw *raw, const GString *text, ImapRawBody *body,
                                 guint32 *previous, guint32 last_uid, ImapRawMessageFunc func,
                                 gpointer user_data, GError **error)
{
  const char *list = strstr(text->str, " FETCH (");
  guint64 uid = 0;
  if (!g_str_has_prefix(text->str, "* ") || !list || (!body->body && !body->too_large))
    return TRUE; /* EXISTS, EXPUNGE, a flag change by another client: not ours */
  if (!imap_number_after(list + 8, "UID", &uid) || uid <= *previous || uid > last_uid) {
    imap_raw_drop(raw);
    return mail_error_set(error, KEEL_MAIL_ERROR_PROTOCOL, MAIL_SCOPE_CONNECTION,
                          MAIL_RETRY_TEMPORARY, "IMAP on %s: a FETCH answer with UID %"
                          G_GUINT64_FORMAT " out of order or out of range (after %u)",
                          raw->base_url, uid, *previous);
  }
  *previous = (guint32)uid;
  g_autoptr(GBytes) message = body->body ? g_byte_array_free_to_bytes(body->body) : NULL;
  body->body = NULL;
  if (func((guint32)uid, message, user_data, error))
    return TRUE;
  imap_raw_drop(raw); /* in the middle of the answer */
  return FALSE;
}

gboolean imap_raw_fetch(ImapRaw *raw, guint32 first_uid, guint32 last_uid, gsize max_size,
                        ImapRawMessageFunc func, gpointer user_data, GError **error)
{
  g_autofree char *command = g_strdup_printf("UID FETCH %u:%u (UID BODY.PEEK[])", first_uid,
                                             last_uid);
  g_autofree char *tag = imap_raw_start(raw, command, error);
  if (!tag)
    return FALSE;
  g_autoptr(GString) text = g_string_new(NULL);
  g_autoptr(GString) done = g_string_new(NULL);
  guint32 previous = first_uid - 1;
  for (;;) {
    ImapRawBody body = { .max_size = max_size };
    gboolean ok = imap_raw_read_response(raw, text, &body, error);
    if (ok && imap_raw_is_tagged(raw, tag, text, done)) {
      if (body.body)
        g_byte_array_unref(body.body);
      break;
    }
    if (ok)
      ok = imap_raw_fetched(raw, text, &body, &previous, last_uid, func, user_data, error);
    if (body.body)
      g_byte_array_unref(body.body);
    if (!ok)
      return FALSE;
  }
  return imap_raw_check_ok(raw, command, NULL, done->str, error);
}
