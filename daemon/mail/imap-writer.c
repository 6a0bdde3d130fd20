/* daemon/mail/imap-writer.c: APPEND and SEARCH over IMAP for the outbox, with
 * libcurl. See imap-writer.h.
 *
 * libcurl 7.88 APPENDs with a hard-coded (\Seen) flag and has no way to pass
 * other flags (CURLOPT_UPLOAD_FLAGS came in 8.13). So a draft is APPENDed,
 * its UID read from the tagged `OK [APPENDUID v uid]` (Dovecot and most
 * servers have UIDPLUS; the line arrives in the header callback), then
 * `UID STORE uid +FLAGS.SILENT (\Draft)` and `-FLAGS.SILENT (\Seen)`.
 * A custom `UID SEARCH` hands its `* SEARCH` line to the write callback.
 *
 * Must not: fetch or delete messages, log passwords or message bytes.
 */
#include <string.h>
#include "daemon/base/cleanup.h"
#include "daemon/mail/imap-writer.h"
#include "daemon/mail/oauth.h"
#include "filters/utf7.h"

G_DEFINE_QUARK(keel-imap-writer-error-quark, keel_imap_writer_error)

struct ImapWriter {
  CURL *curl;        /* owned */
  char *base_url;    /* owned: scheme://host[:port] without a trailing / */
  char *password;    /* owned, wiped on free */
  GString *body;     /* owned: what the write callback got for the last command */
  GString *lines;    /* owned: what the header callback got for the last command */
  char errbuf[CURL_ERROR_SIZE];
};

typedef struct {
  const guint8 *data; /* borrowed */
  gsize size, offset;
} ImapWriterSource;

static size_t imap_writer_on_body(char *data, size_t size, size_t count, void *user_data)
{
  g_string_append_len(((ImapWriter *)user_data)->body, data, (gssize)(size * count));
  return size * count;
}

static size_t imap_writer_on_header(char *data, size_t size, size_t count, void *user_data)
{
  ImapWriter *writer = user_data;
  if (writer->lines->len < 65536)
    g_string_append_len(writer->lines, data, (gssize)(size * count));
  return size * count;
}

static size_t imap_writer_read(char *buffer, size_t size, size_t count, void *user_data)
{
  ImapWriterSource *source = user_data;
  gsize n = MIN(size * count, source->size - source->offset);
  memcpy(buffer, source->data + source->offset, n);
  source->offset += n;
  return n;
}

/* The one place a CURLcode becomes a GError here. */
static gboolean imap_writer_fail(ImapWriter *writer, CURLcode code, const char *what,
                                 GError **error)
{
  gboolean permanent = code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED
                       || code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_QUOTE_ERROR
                       || code == CURLE_URL_MALFORMAT || code == CURLE_REMOTE_FILE_NOT_FOUND
                       || code == CURLE_UPLOAD_FAILED;
  g_set_error(error, KEEL_IMAP_WRITER_ERROR,
              permanent ? KEEL_IMAP_WRITER_ERROR_PERMANENT : KEEL_IMAP_WRITER_ERROR_TEMPORARY,
              "IMAP %s on %s: %s%s%s", what, writer->base_url, curl_easy_strerror(code),
              writer->errbuf[0] ? ": " : "", writer->errbuf);
  return FALSE;
}

static gboolean imap_writer_check_url(const KeelAccount *account, GError **error)
{
  if (account->imap && (g_str_has_prefix(account->imap, "imaps://")
                        || g_str_has_prefix(account->imap, "imap://")))
    return TRUE;
  g_set_error(error, KEEL_IMAP_WRITER_ERROR, KEEL_IMAP_WRITER_ERROR_PERMANENT,
              "account %s: no usable imap URL", account->name);
  return FALSE;
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
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, imap_writer_on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, writer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, imap_writer_on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, writer);
}

ImapWriter *imap_writer_new(const KeelAccount *account, const char *password, GError **error)
{
  if (!imap_writer_check_url(account, error))
    return NULL;
  ImapWriter *writer = g_new0(ImapWriter, 1);
  writer->curl = curl_easy_init();
  writer->base_url = g_strdup(account->imap);
  gsize len = strlen(writer->base_url);
  while (len > 0 && writer->base_url[len - 1] == '/')
    writer->base_url[--len] = '\0';
  writer->password = g_strdup(password ? password : "");
  writer->body = g_string_new(NULL);
  writer->lines = g_string_new(NULL);
  imap_writer_setup(writer, account);
  return writer;
}

void imap_writer_free(ImapWriter *writer)
{
  if (!writer)
    return;
  if (writer->curl)
    curl_easy_cleanup(writer->curl);
  if (writer->password) {
    memset(writer->password, 0, strlen(writer->password));
    g_free(writer->password);
  }
  g_free(writer->base_url);
  g_string_free(writer->body, TRUE);
  g_string_free(writer->lines, TRUE);
  g_free(writer);
}

static char *imap_writer_folder_url(ImapWriter *writer, const char *folder)
{
  g_autofree char *wire = utf7_encode(folder); /* issue 19: modified UTF-7 */
  char *escaped = curl_easy_escape(writer->curl, wire ? wire : folder, 0);
  char *url = g_strdup_printf("%s/%s", writer->base_url, escaped);
  curl_free(escaped);
  return url;
}

/* One custom command on `folder`'s URL (libcurl SELECTs it first). */
static gboolean imap_writer_command(ImapWriter *writer, const char *folder, const char *command,
                                    GError **error)
{
  g_autofree char *url = imap_writer_folder_url(writer, folder);
  g_string_truncate(writer->body, 0);
  g_string_truncate(writer->lines, 0);
  writer->errbuf[0] = '\0';
  curl_easy_setopt(writer->curl, CURLOPT_URL, url);
  curl_easy_setopt(writer->curl, CURLOPT_CUSTOMREQUEST, command);
  CURLcode code = curl_easy_perform(writer->curl);
  curl_easy_setopt(writer->curl, CURLOPT_CUSTOMREQUEST, NULL);
  if (code != CURLE_OK)
    return imap_writer_fail(writer, code, command, error);
  return TRUE;
}

/* The UID in "[APPENDUID validity uid]" of the header lines, 0 if none. */
static guint32 imap_writer_appenduid(const char *lines)
{
  const char *tag = strstr(lines, "[APPENDUID ");
  if (!tag)
    return 0;
  char *end = NULL;
  g_ascii_strtoull(tag + 11, &end, 10);
  guint64 uid = end ? g_ascii_strtoull(end, NULL, 10) : 0;
  return uid <= G_MAXUINT32 ? (guint32)uid : 0;
}

static gboolean imap_writer_upload(ImapWriter *writer, const char *folder, GBytes *raw,
                                   GError **error)
{
  g_autofree char *url = imap_writer_folder_url(writer, folder);
  ImapWriterSource source = { .data = g_bytes_get_data(raw, &source.size) };
  g_string_truncate(writer->lines, 0);
  writer->errbuf[0] = '\0';
  curl_easy_setopt(writer->curl, CURLOPT_URL, url);
  curl_easy_setopt(writer->curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(writer->curl, CURLOPT_READFUNCTION, imap_writer_read);
  curl_easy_setopt(writer->curl, CURLOPT_READDATA, &source);
  curl_easy_setopt(writer->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)source.size);
  CURLcode code = curl_easy_perform(writer->curl);
  curl_easy_setopt(writer->curl, CURLOPT_UPLOAD, 0L);
  if (code != CURLE_OK)
    return imap_writer_fail(writer, code, "APPEND", error);
  return TRUE;
}

gboolean imap_writer_append(ImapWriter *writer, const char *folder, GBytes *raw,
                            gboolean draft, guint32 *uid, GError **error)
{
  if (!imap_writer_upload(writer, folder, raw, error))
    return FALSE;
  guint32 new_uid = imap_writer_appenduid(writer->lines->str);
  if (uid)
    *uid = new_uid;
  if (!draft)
    return TRUE;
  if (new_uid == 0) {
    g_warning("IMAP server gave no APPENDUID: the draft in %s keeps \\Seen and has no \\Draft",
              folder);
    return TRUE;
  }
  g_autofree char *add = g_strdup_printf("UID STORE %u +FLAGS.SILENT (\\Draft)", new_uid);
  g_autofree char *remove = g_strdup_printf("UID STORE %u -FLAGS.SILENT (\\Seen)", new_uid);
  return imap_writer_command(writer, folder, add, error)
         && imap_writer_command(writer, folder, remove, error);
}

/* TRUE when a "* SEARCH" line in `body` lists at least one UID. */
static gboolean imap_writer_search_found(const char *body)
{
  g_auto(GStrv) lines = g_strsplit(body, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (!g_str_has_prefix(lines[i], "* SEARCH"))
      continue;
    for (const char *p = lines[i] + 8; *p; p++)
      if (g_ascii_isdigit(*p))
        return TRUE;
  }
  return FALSE;
}

gboolean imap_writer_find(ImapWriter *writer, const char *folder, const char *message_id,
                          gboolean *found, GError **error)
{
  *found = FALSE;
  if (!message_id || strpbrk(message_id, "\"\\\r\n") || !*message_id) {
    g_set_error(error, KEEL_IMAP_WRITER_ERROR, KEEL_IMAP_WRITER_ERROR_PERMANENT,
                "cannot search for Message-ID '%s'", message_id ? message_id : "");
    return FALSE;
  }
  g_autofree char *command = g_strdup_printf("UID SEARCH HEADER Message-ID \"<%s>\"",
                                             message_id);
  if (!imap_writer_command(writer, folder, command, error))
    return FALSE;
  *found = imap_writer_search_found(writer->body->str);
  return TRUE;
}
