/* daemon/mail/folders.h: the Sent and Drafts folders of an account whose
 * sent_folder / drafts_folder are unset (issue 19): asked of the server once
 * per process (LIST "" "*" RETURN (SPECIAL-USE), then a plain LIST), else the
 * common names, else "Sent" / "Drafts".
 *   folders_resolve()          on the session about to be used (no extra login)
 *   folders_resolve_writer()   on the outbox's writer (its login, no extra one)
 *   folders_sent(), folders_drafts()  the names to use: keel.conf's, else found
 * The names found are kept here, per account, never written into KeelConfig. */
#pragma once

#include "daemon/base/config.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/imap-writer.h"

/* Finds the Sent and Drafts folders keel.conf leaves unset, asking over
 * `session` (its first command: it logs in), unless found already in this
 * process. FALSE with `error` only when the session itself fails (login
 * denied, network): the caller's poll would fail the same way. A server that
 * refuses LIST gives "Sent" and "Drafts". Safe from several threads. */
gboolean folders_resolve(const KeelAccount *account, ImapSession *session, GError **error);

/* The same over the outbox's `writer` (the LIST is its first command, so
 * the pass's one login carries it), when a name is unset. When the server
 * cannot be asked (or `writer` is NULL) it warns and uses "Sent" and
 * "Drafts". */
void folders_resolve_writer(const KeelAccount *account, ImapWriter *writer);

/* The Sent (Drafts) folder of `account`: its sent_folder (drafts_folder) from
 * keel.conf, else the name a folders_resolve*() of this process found, else
 * NULL (not asked yet). Borrowed: valid until the process ends. */
const char *folders_sent(const KeelAccount *account);
const char *folders_drafts(const KeelAccount *account);
