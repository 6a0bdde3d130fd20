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
