/* daemon/mail/imap.h: keel's IMAP client, the small read-only subset that polling
 * needs, on one libcurl easy handle (one connection) per account.
 *
 * Entry points:
 *   imap_session_new()      handle + TLS policy + timeouts; connects lazily
 *   imap_folder_status()    STATUS (UIDVALIDITY UIDNEXT MESSAGES): one round trip
 *   imap_folder_sizes()     FETCH a:b (UID RFC822.SIZE): UIDs and sizes of messages a..b
 *   imap_folder_examine()   opens a folder read-only (so fetches never set \Seen)
 *   imap_fetch_message()    the raw bytes of one message, byte-exact, flags untouched
 *
 * Every failure is a KEEL_MAIL_ERROR (daemon/mail/mail-error.h): its code
 * says what failed, its scope and retry class what to do (a refused folder
 * is MAIL_SCOPE_FOLDER; a denied login AUTH, account-wide, MAIL_RETRY_WAIT). Never writes to
 * the mailbox, never logs a password or a message body. */
#pragma once

#include <gio/gio.h>
#include "daemon/base/config.h"
#include "daemon/mail/mail-error.h"

typedef struct ImapSession ImapSession;

typedef struct {
  guint32 uidvalidity;
  guint32 uidnext;
  guint32 messages;
} ImapFolderStatus;

typedef struct {
  guint32 uid;
  guint64 size; /* RFC822.SIZE in bytes */
} ImapMessageInfo;

/* A session for `account` with `password` (libcurl keeps its own copy). Checks
 * the URL scheme against the TLS policy (imaps://, or imap:// with STARTTLS
 * required; plain only with allow_plaintext). `cancellable` (borrowed, may be
 * NULL) aborts a transfer in progress within about a second. Does not
 * connect: the first command does. */
ImapSession *imap_session_new(const KeelAccount *account, const char *password,
                              GCancellable *cancellable, GError **error);
void imap_session_free(ImapSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapSession, imap_session_free)

/* IMAP commands answered so far (login included): the round trips of a cycle. */
guint imap_session_commands(const ImapSession *session);

/* `folder` as an IMAP quoted string (a new string), or NULL with a
 * KEEL_MAIL_ERROR_CONFIG error: only printable ASCII names are supported
 * (modified UTF-7 names are not). Also used by imap-writer.c. */
char *imap_quote_folder(const char *folder, GError **error);

gboolean imap_folder_status(ImapSession *session, const char *folder, ImapFolderStatus *status,
                            GError **error);

/* UIDs and sizes of the messages numbered first_seq..last_seq (1-based
 * sequence numbers) of the examined `folder`, by ascending UID: a GArray of
 * ImapMessageInfo (owned by the caller). Keep windows to about 100:
 * libcurl 7.88 refuses answers of more than 300-400 lines. */
GArray *imap_folder_sizes(ImapSession *session, const char *folder, guint32 first_seq,
                          guint32 last_seq, GError **error);

/* Opens `folder` read-only (EXAMINE) and returns its UIDVALIDITY and the
 * number of messages in it (`exists`, may be NULL). Must be called before
 * imap_folder_sizes() and imap_fetch_message() on that folder, and again
 * after any failed fetch (libcurl reconnects with a read-write SELECT, which
 * the fetch refuses). */
gboolean imap_folder_examine(ImapSession *session, const char *folder, guint32 *uidvalidity,
                             guint32 *exists, GError **error);

/* Creates `folder` (CREATE). An existing folder is not an error. */
gboolean imap_folder_create(ImapSession *session, const char *folder, GError **error);

/* The raw message `uid` of the examined `folder`, at most `max_size` bytes
 * (a larger one fails with TOO_LARGE). Never sets \Seen. Returns a new GBytes. */
/* A LIST command (`command`, e.g. LIST "" "*" RETURN (SPECIAL-USE)) on no
 * folder: the untagged LIST lines as a new string (issue 19). */
char *imap_session_list(ImapSession *session, const char *command, GError **error);

GBytes *imap_fetch_message(ImapSession *session, const char *folder, guint32 uid,
                           gsize max_size, GError **error);

/* Helpers shared with daemon/mail/imap-raw.c (the connection keel speaks itself). */

/* What the callbacks of an IMAP easy handle need; both borrowed, and the
 * struct itself must outlive the handle. */
typedef struct {
  const char *user;          /* names the account in --verbose lines */
  GCancellable *cancellable; /* may be NULL: aborts a transfer when cancelled */
} ImapCurlWatch;

/* scheme://host[:port] of account->imap without its path (a new string),
 * or NULL with a KEEL_MAIL_ERROR_CONFIG error unless it is imaps:// or
 * imap://. Call before imap_curl_new(). */
char *imap_curl_server(const KeelAccount *account, GError **error);

/* The one set-up of a libcurl easy handle for an IMAP account, used by
 * imap.c (libcurl's transfers) and imap-raw.c (CONNECT_ONLY): TLS policy
 * (TLS required unless allow_plaintext), CA file, the login with `secret`
 * (password or OAuth2 bearer; libcurl copies it), connect and read
 * timeouts, errors into `errbuf` (CURL_ERROR_SIZE, must outlive the
 * handle), cancellation and --verbose logging through `watch`. The caller
 * adds its own callbacks (header, body) and CONNECT_ONLY, and sets the URL. */
void *imap_curl_new(const KeelAccount *account, const char *secret, const ImapCurlWatch *watch,
                    char *errbuf);

/* TRUE for a tagged completion line ("A004 OK ...", NO, BAD): one per command. */
gboolean imap_line_is_tagged_reply(const char *line, size_t n);
/* A command line as it may be logged: LOGIN/AUTHENTICATE arguments and SASL
 * continuations masked. New string. */
char *imap_masked_command(const char *line, gsize len);
/* The number after "NAME " in `text` (e.g. "UIDNEXT 4"), if there is one. */
gboolean imap_number_after(const char *text, const char *name, guint64 *value);
/* One `* n FETCH (UID u RFC822.SIZE s)` line, if it is one. */
gboolean imap_parse_size_line(const char *line, ImapMessageInfo *info);
/* Orders ImapMessageInfo by ascending UID (for g_array_sort()). */
gint imap_message_info_compare(gconstpointer a, gconstpointer b);
/* The number in "* n EXISTS" of an EXAMINE answer, 0 when absent. */
guint32 imap_parse_exists(const char *text);
