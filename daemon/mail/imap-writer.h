/* daemon/mail/imap-writer.h: the few IMAP writes the outbox needs, on one
 * connection per writer (the outbox opens one writer per account per pass
 * and passes it to every row of that account: one login carries the folder
 * discovery, every lookup and every APPEND of the pass): APPEND a message to Sent or
 * Drafts with its flags set in the APPEND itself, and find a message by its
 * Message-ID (UID SEARCH HEADER), so a reply that was in flight during a
 * crash is looked for before anything else happens to it.
 * daemon/mail/imap.c stays read-only; this is the only code that writes to a
 * mailbox.
 *
 * Entry points:
 *   imap_writer_new()     TLS policy + timeouts; connects (and logs in) lazily
 *   imap_writer_append()  APPEND folder (flags) {n}: \Draft for a draft, \Seen for Sent
 *   imap_writer_find()    EXAMINE folder, UID SEARCH HEADER Message-ID
 *   imap_writer_list()    a LIST command (Sent/Drafts by SPECIAL-USE, folders.c)
 * A connection lost between two commands is reopened once; a failed login
 * is not retried by the same writer (imap-writer.c says when and why).
 * Errors are KEEL_MAIL_ERROR (daemon/mail/mail-error.h). */
#pragma once

#include <gio/gio.h>
#include "daemon/base/config.h"

typedef struct ImapWriter ImapWriter;

/* `password` is copied and wiped on free. `cancellable` (borrowed, may be
 * NULL) aborts a command in progress within about a second. Does not
 * connect: the first command does. Freeing it logs out. */
ImapWriter *imap_writer_new(const KeelAccount *account, const char *password,
                            GCancellable *cancellable, GError **error);
void imap_writer_free(ImapWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapWriter, imap_writer_free)

/* APPENDs `raw` to `folder` with the flags given in the APPEND command
 * itself: `(\Draft)` when `draft` (never \Seen), `(\Seen)` otherwise. So a
 * draft carries \Draft from the moment it exists. `*uid` (may be NULL)
 * receives the new UID from [APPENDUID], 0 when the server did not say. */
gboolean imap_writer_append(ImapWriter *writer, const char *folder, GBytes *raw,
                            gboolean draft, guint32 *uid, GError **error);

/* Looks for a message with `message_id` (without <>) in `folder`. */
gboolean imap_writer_find(ImapWriter *writer, const char *folder, const char *message_id,
                          gboolean *found, GError **error);

/* A LIST command (`command`, e.g. LIST "" "*" RETURN (SPECIAL-USE)): its
 * untagged lines as a new string, one per line; NULL with a REFUSED error
 * when the server answers NO/BAD. A mailbox name the server sends as a
 * literal is left out of its line. */
char *imap_writer_list(ImapWriter *writer, const char *command, GError **error);

/* Connections opened so far (0 or 1 unless the server dropped one). */
guint imap_writer_connections(const ImapWriter *writer);
