/* daemon/ingest/sync-corrections.h: the VA's correction folders (the
 * account's risky_folder and fine_folder, default keel/Risky and keel/Fine),
 * read each cycle: every message she moved or copied there since the last
 * cycle is a correction of the learned `risky` signal
 * (daemon/record/corrections.c). keel creates the folders when they are
 * missing and never moves, flags or deletes anything in them. */
#pragma once

#include "daemon/ingest/sync.h"
#include "daemon/mail/imap.h"

/* Reads both folders of `account` over `session`. A folder the server
 * refuses is logged and skipped; FALSE with `error` for a store failure or a
 * lost connection. */
gboolean sync_corrections(const SyncContext *context, const KeelAccount *account,
                          ImapSession *session, GError **error);
