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
 * The connection itself (connect, send, read lines and literals, wait on
 * the socket and the cancellable together, so a cancellation stops a
 * command at once) is daemon/mail/imap-raw.c, shared with IDLE and the
 * sync's range fetch.
 * One writer is one connection, opened by the first command and reused by
 * every later one; after a lost connection the next command opens a new one.
 *
 * Must not: fetch, delete or change existing messages, log passwords or
 * message bytes, or accept an answer it did not read whole.
 */
#include <string.h>
#include "daemon/mail/imap-writer.h"
#include "daemon/mail/imap-raw.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/mail-error.h"

struct ImapWriter {
  ImapRaw *raw; /* owned: the connection, tags K1, K2 ... */
};

ImapWriter *imap_writer_new(const KeelAccount *account, const char *password,
                            GCancellable *cancellable, GError **error)
{
  ImapRaw *raw = imap_raw_new(account, password, cancellable, 'K', error);
  if (!raw)
    return NULL;
  ImapWriter *writer = g_new0(ImapWriter, 1);
  writer->raw = raw;
  return writer;
}

void imap_writer_free(ImapWriter *writer)
{
  if (!writer)
    return;
  imap_raw_free(writer->raw);
  g_free(writer);
}

guint imap_writer_connections(const ImapWriter *writer)
{
  return imap_raw_connections(writer->raw);
}

/* Fails unless the tagged answer `done` is OK. A NO/BAD concerns `folder`. */
static gboolean imap_writer_check_ok(ImapWriter *writer, const char *verb, const char *folder,
                                     const char *done, GError **error)
{
  if (g_str_has_prefix(done, "OK"))
    return TRUE;
  return mail_error_set(error, KEEL_MAIL_ERROR_REFUSED, MAIL_SCOPE_FOLDER, MAIL_RETRY_WAIT,
                        "IMAP %s %s on %s: the server answered \"%.200s\": check the folder "
                        "name", verb, folder, imap_raw_server(writer->raw), done);
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
  g_autofree char *command = g_strdup_printf("APPEND %s (%s) {%" G_GSIZE_FORMAT "}", quoted,
                                             draft ? "\\Draft" : "\\Seen", size);
  g_autofree char *tag = imap_raw_start(writer->raw, command, error);
  g_autoptr(GString) done = g_string_new(NULL);
  gboolean plus = FALSE;
  if (!tag || !imap_raw_answer(writer->raw, tag, NULL, done, &plus, error))
    return FALSE;
  if (plus && (!imap_raw_send(writer->raw, data, size, error)
               || !imap_raw_send(writer->raw, "\r\n", 2, error)
               || !imap_raw_answer(writer->raw, tag, NULL, done, NULL, error)))
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
  if (!imap_raw_command(writer->raw, examine, folder, NULL, error)
      || !imap_raw_command(writer->raw, search, folder, untagged, error))
    return FALSE;
  *found = imap_writer_search_found(untagged->str);
  return TRUE;
}
