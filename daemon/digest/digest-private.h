/* daemon/digest/digest-private.h: what digest.c, digest-render.c and digest-send.c
 * share and nobody else needs. No logic here. */
#pragma once

#include "daemon/digest/digest.h"

/* The zone named `name`, UTC when NULL or unknown. New reference. */
GTimeZone *digest_zone(const char *name);
void digest_thread_free(DigestThread *thread);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DigestThread, digest_thread_free)
/* The risky-thread entry for `row`: dimensions, quotes, next steps and the
 * client's weekly risk. NULL with `error` on a store failure. */
DigestThread *digest_thread_build(Store *store, const StoreThreadRow *row, GTimeZone *zone,
                                  GDateTime *now, guint weeks, GError **error);
/* The short text of an alert about `thread`. New string. */
char *digest_render_alert_text(const DigestThread *thread, GDateTime *now);

/* The payments section (digest-payments.c): one line per item into
 * digest->payments. FALSE with `error` on a store failure. */
gboolean digest_gather_payments(Store *store, const KeelConfig *config, Digest *digest,
                                GError **error);

/* The "your word" section (digest-word.c): her promises due today or
 * overdue, instructions her replies probably did, holding drafts waiting;
 * one line each into digest->word. FALSE with `error` on a store failure. */
gboolean digest_gather_word(Store *store, const KeelConfig *config, Digest *digest,
                            GError **error);
/* [keel] history_window (3 without a config). */
guint digest_word_window(const KeelConfig *config);
/* Whether an open instruction is listed as due: not probably done, and not
 * from history older than the window. */
gboolean digest_word_instruction_listed(const KeelConfig *config, const StoreInstructionRow *row,
                                        GDateTime *now);
/* Whether the unanswered message `row_id` is listed as waiting (`*listed`). */
gboolean digest_word_waiting_listed(Store *store, const KeelConfig *config, gint64 row_id,
                                    GDateTime *now, gboolean *listed, GError **error);
