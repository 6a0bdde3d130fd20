/* daemon/mail/imap-raw.h: one IMAP connection that keel speaks itself. libcurl
 * (CURLOPT_CONNECT_ONLY) does the greeting, TLS, CAPABILITY and the login,
 * password or OAuth2, with the account's TLS policy; keel then sends its own
 * tagged commands with curl_easy_send() and reads the answers, literals
 * byte-exact, with curl_easy_recv(). Used by the IMAP writer (APPEND, SEARCH)
 * by IDLE (daemon/mail/idle.c) and by the sync for fetching in ranges
 * (issue 19):
 *
 *   imap_raw_new()       TLS policy + timeouts + the secret; connects lazily
 *   imap_raw_command()   "Tn command" and its answer (untagged lines, tagged line)
 *   imap_raw_examine()   EXAMINE folder (read-only): UIDVALIDITY and EXISTS
 *   imap_raw_sizes()     UID FETCH first:* (UID RFC822.SIZE): what is new, with sizes
 *   imap_raw_fetch()     UID FETCH set (UID BODY.PEEK[]): each message handed to a
 *                        callback as it arrives, never \Seen
 * and the pieces the writer builds APPEND from (send, answer, read_line).
 *
 * Every wait polls the socket together with the cancellable's fd, so a
 * cancellation stops any command at once, and read_timeout bounds each
 * wait for the server. After any failure in the middle of an answer the connection is
 * dropped; the next command opens a new one. Errors are KEEL_MAIL_ERROR.
 * Must not: log a secret or message bytes, or accept an answer it did not
 * read whole. */
#pragma once

#include <gio/gio.h>
#include "daemon/base/config.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/mail-error.h"

typedef struct ImapRaw ImapRaw;

/* A connection for `account` (borrowed: must outlive the ImapRaw) logging
 * in with `secret` (copied, wiped on free). Tags are `tag_prefix` and a
 * number ('F1', 'K2', ...; never libcurl's 'A'). `cancellable` is borrowed,
 * may be NULL. Does not connect: the first command does. */
ImapRaw *imap_raw_new(const KeelAccount *account, const char *secret, GCancellable *cancellable,
                      char tag_prefix, GError **error);
void imap_raw_free(ImapRaw *raw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapRaw, imap_raw_free)

/* Connects and logs in unless connected. */
gboolean imap_raw_connect(ImapRaw *raw, GError **error);

/* Connections opened so far, and IMAP commands answered on them (libcurl's
 * login commands included). */
guint imap_raw_connections(const ImapRaw *raw);
guint imap_raw_commands(const ImapRaw *raw);

/* scheme://host[:port], for error messages. */
const char *imap_raw_server(const ImapRaw *raw);

/* Sends `size` bytes as they are (a command line, or an APPEND literal). */
gboolean imap_raw_send(ImapRaw *raw, const void *data, gsize size, GError **error);

/* Connects if needed and sends "<tag> `command`\r\n". Returns the tag (new
 * string) or NULL. */
char *imap_raw_start(ImapRaw *raw, const char *command, GError **error);

/* The next line from the server (without CRLF) in `line`. */
gboolean imap_raw_read_line(ImapRaw *raw, GString *line, GError **error);

/* Like imap_raw_read_line(), but waits for the server until `deadline`
 * (g_get_monotonic_time() microseconds) instead of read_timeout. Reaching
 * it is no failure: FALSE with *timed_out set, no error, the connection
 * kept (IDLE waits like this). */
gboolean imap_raw_read_line_until(ImapRaw *raw, GString *line, gint64 deadline,
                                  gboolean *timed_out, GError **error);

/* TRUE between a successful login and a lost connection. */
gboolean imap_raw_is_connected(const ImapRaw *raw);

/* Reads lines until the tagged answer to `tag`; untagged lines go to
 * `untagged` (may be NULL; literals in them are read and dropped), the
 * tagged line after the tag to `done`. With `plus`, a "+" continuation also
 * ends the wait (TRUE, `*plus` set). */
gboolean imap_raw_answer(ImapRaw *raw, const char *tag, GString *untagged, GString *done,
                         gboolean *plus, GError **error);

/* Fails unless the tagged answer `done` to `command` is OK: a NO/BAD is a
 * REFUSED error (scope folder, naming `folder`, may be NULL). */
gboolean imap_raw_check_ok(ImapRaw *raw, const char *command, const char *folder,
                           const char *done, GError **error);

/* Sends `command` and reads its whole answer; FALSE with a REFUSED error
 * (scope folder, naming `folder`) unless it is OK. */
gboolean imap_raw_command(ImapRaw *raw, const char *command, const char *folder,
                          GString *untagged, GError **error);

/* EXAMINE `folder` (read-only: no fetch can change a flag). `exists` may be NULL. */
gboolean imap_raw_examine(ImapRaw *raw, const char *folder, guint32 *uidvalidity,
                          guint32 *exists, GError **error);

/* Of the examined folder, the messages with UID >= `first_uid`, by
 * ascending UID: a GArray of ImapMessageInfo (owned by the caller). One
 * command, whatever the number of messages. */
GArray *imap_raw_sizes(ImapRaw *raw, guint32 first_uid, GError **error);

/* Called once per message, in ascending UID order, as it arrives: `message`
 * is its raw bytes (borrowed: ref it to keep it), or NULL when it is larger
 * than the max_size given (it was read and dropped). Return FALSE (with
 * `error` set) to stop. */
typedef gboolean (*ImapRawMessageFunc)(guint32 uid, GBytes *message, gpointer user_data,
                                       GError **error);

/* UID FETCH first_uid:last_uid (UID BODY.PEEK[]) on the examined folder,
 * one command: each message is read byte-exact and handed to `func` before
 * the next one is read, so memory holds one message at a time. A message
 * expunged meanwhile is simply not handed over. `max_size` 0: no limit. */
gboolean imap_raw_fetch(ImapRaw *raw, guint32 first_uid, guint32 last_uid, gsize max_size,
                        ImapRawMessageFunc func, gpointer user_data, GError **error);
