/* daemon/mail/imap-writer.h: the few IMAP writes the outbox needs, on one libcurl
 * handle (one connection) per writer: APPEND a message to Sent or Drafts, and
 * find a message by its Message-ID (UID SEARCH HEADER), so a reply that was
 * in flight during a crash is looked for before it is sent again.
 * daemon/mail/imap.c stays read-only; this is the only code that writes to a
 * mailbox.
 *
 * Entry points:
 *   imap_writer_new()     handle + TLS policy + timeouts; connects lazily
 *   imap_writer_append()  APPEND, then fix the flags 7.88 cannot set (\Draft)
 *   imap_writer_find()    UID SEARCH HEADER Message-ID in a folder
 * Errors are KEEL_IMAP_WRITER_ERROR: TEMPORARY (retry) or PERMANENT. */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"

#define KEEL_IMAP_WRITER_ERROR (keel_imap_writer_error_quark())
GQuark keel_imap_writer_error_quark(void);
typedef enum {
  KEEL_IMAP_WRITER_ERROR_TEMPORARY, /* network, timeout, server busy */
  KEEL_IMAP_WRITER_ERROR_PERMANENT  /* login, TLS, no such folder, bad URL */
} KeelImapWriterError;

typedef struct ImapWriter ImapWriter;

/* `password` is copied and wiped on free. */
ImapWriter *imap_writer_new(const KeelAccount *account, const char *password, GError **error);
void imap_writer_free(ImapWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapWriter, imap_writer_free)

/* APPENDs `raw` to `folder`. With `draft`, the message ends up flagged
 * \Draft and not \Seen (libcurl 7.88 always APPENDs with \Seen: the flags
 * are fixed with UID STORE on the UID from [APPENDUID]). `*uid` (may be NULL)
 * receives the new UID, 0 when the server did not say. */
gboolean imap_writer_append(ImapWriter *writer, const char *folder, GBytes *raw,
                            gboolean draft, guint32 *uid, GError **error);

/* Looks for a message with `message_id` (without <>) in `folder`. */
gboolean imap_writer_find(ImapWriter *writer, const char *folder, const char *message_id,
                          gboolean *found, GError **error);
