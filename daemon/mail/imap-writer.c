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
 *   Kn LIST "" "*" RETURN (SPECIAL-USE)   (daemon/mail/folders.c, on this login)
 * The connection itself (connect, send, read lines and literals, wait on
 * the socket and the cancellable together, so a cancellation stops a
 * command at once) is daemon/mail/imap-raw.c, shared with IDLE and the
 * sync's range fetch.
 *
 * One writer is one connection for one outbox pass of one account: opened
 * (logged in) by the first command, reused by every later one, closed
 * (LOGOUT) when the writer is freed at the end of the pass. Every command
 * goes through imap_writer_run():
 *   - a login that failed is not tried again by this writer: the later
 *     commands fail at once with the same error (a denied login is not
 *     repeated once per row);
 *   - a connection lost under a command, when it had served an earlier one
 *     (the server closed it while the outbox talked SMTP), is reopened
 *     once and the command sent again, unless that could do it twice: an
 *     APPEND whose literal went out may have been stored;
 *   - any other failure is the command's, classified as imap-raw.c and
 *     mail-error.c classify it.
 *
 * Must not: fetch, delete or change existing messages, log passwords or
 * message bytes, accept an answer it did not read whole, or send an
 * APPEND again once its literal may have reached the server.
 */
#include <string.h>
#include "daemon/mail/imap-writer.h"
#include "daemon/mail/imap-raw.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/mail-error.h"

struct ImapWriter {
  ImapRaw *raw;     /* owned: the connection, tags K1, K2 ... */
  GError *failure;  /* owned: why the login failed, NULL while it has not */
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
  if (imap_raw_is_connected(writer->raw)) {
    g_autofree char *tag = imap_raw_start(writer->raw, "LOGOUT", NULL); /* closed next */
  }
  g_clear_error(&writer->failure);
  imap_raw_free(writer->raw);
  g_free(writer);
}

guint imap_writer_connections(const ImapWriter *writer)
{
  return imap_raw_connections(writer->raw);
}

/* Logs in unless connected. A login that failed once fails again at once,
 * with the same error, for the rest of this writer's life. */
static gboolean imap_writer_connect(ImapWriter *writer, GError **error)
{
  if (writer->failure) {
    g_propagate_error(error, g_error_copy(writer->failure));
    return FALSE;
  }
  g_autoptr(GError) local = NULL;
  if (imap_raw_connect(writer->raw, &local))
    return TRUE;
  writer->failure = g_error_copy(local);
  g_propagate_error(error, g_steal_pointer(&local));
  return FALSE;
}

/* One command (or a few) of the writer on its connection. Sets `*unsafe`
 * once sending it again could do it twice. */
typedef gboolean (*ImapWriterStep)(ImapWriter *writer, gpointer data, gboolean *unsafe,
                                   GError **error);

/* Runs `step` on the pass's connection; once more on a new connection when
 * the one it had served before was lost under it (see the top of the file). */
static gboolean imap_writer_run(ImapWriter *writer, ImapWriterStep step, gpointer data,
                                GError **error)
{
  gboolean reused = imap_raw_is_connected(writer->raw), unsafe = FALSE;
  g_autoptr(GError) local = NULL;
  if (!imap_writer_connect(writer, error))
    return FALSE;
  if (step(writer, data, &unsafe, &local))
    return TRUE;
  if (reused && !unsafe && g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_NETWORK)) {
    g_message("IMAP on %s: the outbox's connection was lost (%s); opening a new one",
              imap_raw_server(writer->raw), local->message);
    g_clear_error(&local);
    if (!imap_writer_connect(writer, error))
      return FALSE;
    if (step(writer, data, &unsafe, &local))
      return TRUE;
  }
  g_propagate_error(error, g_steal_pointer(&local));
  return FALSE;
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

typedef struct {
  const char *quoted; /* the folder as an IMAP string */
  const char *folder; /* as the config names it, for errors */
  GBytes *raw;
  gboolean draft;
  guint32 *uid;       /* may be NULL */
} ImapWriterAppend;

/* The APPEND: unsafe to repeat from the moment its literal starts to go out. */
static gboolean imap_writer_append_step(ImapWriter *writer, gpointer data, gboolean *unsafe,
                                        GError **error)
{
  const ImapWriterAppend *append = data;
  gsize size = 0;
  const void *bytes = g_bytes_get_data(append->raw, &size);
  g_autofree char *command = g_strdup_printf("APPEND %s (%s) {%" G_GSIZE_FORMAT "}",
                                             append->quoted,
                                             append->draft ? "\\Draft" : "\\Seen", size);
  g_autofree char *tag = imap_raw_start(writer->raw, command, error);
  g_autoptr(GString) done = g_string_new(NULL);
  gboolean plus = FALSE;
  if (!tag || !imap_raw_answer(writer->raw, tag, NULL, done, &plus, error))
    return FALSE;
  *unsafe = plus;
  if (plus && (!imap_raw_send(writer->raw, bytes, size, error)
               || !imap_raw_send(writer->raw, "\r\n", 2, error)
               || !imap_raw_answer(writer->raw, tag, NULL, done, NULL, error)))
    return FALSE;
  if (!imap_raw_check_ok(writer->raw, command, append->folder, done->str, error))
    return FALSE;
  if (append->uid)
    *append->uid = imap_writer_appenduid(done->str);
  return TRUE;
}

gboolean imap_writer_append(ImapWriter *writer, const char *folder, GBytes *raw,
                            gboolean draft, guint32 *uid, GError **error)
{
  g_autofree char *quoted = imap_quote_folder(folder, error);
  if (!quoted)
    return FALSE;
  ImapWriterAppend append = { quoted, folder, raw, draft, uid };
  return imap_writer_run(writer, imap_writer_append_step, &append, error);
}

typedef struct {
  const char *const *commands; /* NULL-terminated, sent in order, each must be OK */
  const char *folder;          /* named in a refusal, may be NULL */
  GString *untagged;           /* the untagged lines of the last command */
} ImapWriterCommands;

/* Read-only commands: always safe to send again. */
static gboolean imap_writer_commands_step(ImapWriter *writer, gpointer data, gboolean *unsafe,
                                          GError **error)
{
  const ImapWriterCommands *run = data;
  *unsafe = FALSE;
  for (guint i = 0; run->commands[i]; i++) {
    g_string_truncate(run->untagged, 0);
    if (!imap_raw_command(writer->raw, run->commands[i], run->folder, run->untagged, error))
      return FALSE;
  }
  return TRUE;
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
  const char *const commands[] = { examine, search, NULL };
  g_autoptr(GString) untagged = g_string_new(NULL);
  ImapWriterCommands run = { commands, folder, untagged };
  if (!imap_writer_run(writer, imap_writer_commands_step, &run, error))
    return FALSE;
  *found = imap_writer_search_found(untagged->str);
  return TRUE;
}

char *imap_writer_list(ImapWriter *writer, const char *command, GError **error)
{
  const char *const commands[] = { command, NULL };
  GString *untagged = g_string_new(NULL);
  ImapWriterCommands run = { commands, NULL, untagged };
  if (imap_writer_run(writer, imap_writer_commands_step, &run, error))
    return g_string_free(untagged, FALSE);
  g_string_free(untagged, TRUE);
  return NULL;
}
