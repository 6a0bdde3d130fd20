/* daemon/outbox/holding.h: a calm holding reply for a thread that has turned
 * risky, queued as an outbox row of kind "holding": always a draft in the
 * VA's Drafts folder, threaded onto the client's message, never sent (even
 * with mode = auto). Its text (rules/templates/holding.txt) follows the five
 * steps VAs use after a mistake or an angry email: the facts from the trail,
 * "I'm looking into this now and will update you by <the end of her next
 * business half-day>", the options, an apology she keeps or deletes, and a
 * course of action. Once she sends it, her Sent copy's promise is tracked
 * like any other (daemon/record/word.c).
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "filters/message.h"

/* One client message that made its thread risky; every pointer borrowed. */
typedef struct {
  const KeelConfig *config;
  const KeelClient *client;   /* NULL: no draft */
  const KeelMessage *message;
  const KeelAccount *account; /* the account the message arrived in (it drafts the
                                 reply); NULL: the config's first */
  gint64 thread_id;
  gboolean first_sync;        /* history: no draft */
  gboolean risky;             /* the message or its thread is risky */
  GDateTime *now;
} HoldingIngest;

/* Queues a holding draft for `in` when [replies] holding_drafts is on, the
 * message is a risky, live (not history), human client message, and no
 * holding draft was queued in the thread in the last 24 hours. Inside the
 * caller's transaction, with a `holding_queued` trail event. `*outbox_id`
 * (may be NULL) is 0 when none was queued. A missing or broken template is
 * logged and queues nothing; FALSE only on a store failure. */
gboolean holding_after_ingest(Store *store, const HoldingIngest *in, gint64 *outbox_id,
                              GError **error);

/* The end of the VA's next business half-day after `now` (midday or close
 * of business, on a business day), in `zone`. New reference. */
GDateTime *holding_update_by(GDateTime *now, const KeelBusinessHours *hours, GTimeZone *zone);

/* "12:00 on 13 March": a time keel's deadline rules read back exactly. */
char *holding_format_time(GDateTime *when);
