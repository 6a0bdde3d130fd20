/* daemon/store/store-invoices.h: the rows behind payment chasing (schema v6):
 * invoices, the payments received against them, and the one row per invoice
 * per chase step that makes a step go out at most once. What the rows mean
 * (states, the schedule, the trail) belongs to daemon/payments/; the store
 * only keeps them.
 */
#pragma once

#include <glib.h>
#include "daemon/store/store.h"

/* One invoice. Money in minor units of `currency`; dates "YYYY-MM-DD". */
typedef struct {
  gint64 id;
  char *number;        /* owned: the VA's invoice number, unique */
  char *client_id;     /* owned */
  gint64 amount;       /* minor units */
  char *currency;      /* owned: ISO 4217 */
  char *issued;        /* owned */
  char *due;           /* owned */
  char *terms;         /* owned: "14d" as given, NULL when --due was given */
  gint64 paid;         /* minor units received so far */
  char *paid_date;     /* owned, NULL = not fully paid */
  char *state;         /* owned: open, paused, stopped, paid */
  char *pause_reason;  /* owned, NULL unless paused or stopped */
  char *promise_date;  /* owned: the client's promised payment date, NULL = none */
  char *promise_text;  /* owned: the client's words, NULL = none */
  int last_step;       /* highest chase step queued, 0 = none */
  char *message_id;    /* owned: the invoice email (without <>), NULL = none */
  gint64 thread_id;    /* the invoice email's thread, 0 = none */
  GDateTime *created;  /* owned, UTC */
} StoreInvoiceRow;
void store_invoice_row_free(StoreInvoiceRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreInvoiceRow, store_invoice_row_free)

/* Inserts `row` (id ignored). Returns its id, 0 on error (a duplicate
 * number is a KEEL_STORE_ERROR_FAILED naming the constraint). */
gint64 store_invoice_add(Store *store, const StoreInvoiceRow *row, GError **error);
/* The invoice numbered `number`, or NULL (with `error` only on a failure). */
StoreInvoiceRow *store_invoice_get(Store *store, const char *number, GError **error);
/* Invoices, by due date then number; only `client_id`'s when not NULL, only
 * unpaid ones (open, paused, stopped) when `unpaid_only`. StoreInvoiceRow*. */
GPtrArray *store_invoice_list(Store *store, const char *client_id, gboolean unpaid_only,
                              GError **error);
/* Writes back the changeable fields of `row` (paid, paid_date, state,
 * pause_reason, promise_*, last_step, message_id, thread_id). */
gboolean store_invoice_update(Store *store, const StoreInvoiceRow *row, GError **error);
/* Records a payment of `amount` on `date` (source: "keel invoice paid", a
 * Message-ID...). */
gboolean store_invoice_payment_add(Store *store, gint64 invoice_id, gint64 amount,
                                   const char *date, const char *source, GDateTime *now,
                                   GError **error);

/* Claims chase step `step` ("1", "promise-2026-10-23") of invoice
 * `invoice_id` for outbox row `outbox_id`: `*claimed` is FALSE when that step
 * was claimed before (nothing changes). Call inside the transaction that
 * queues the outbox row. */
gboolean store_invoice_chase_claim(Store *store, gint64 invoice_id, const char *step,
                                   gint64 outbox_id, GDateTime *now, gboolean *claimed,
                                   GError **error);

/* `*date` receives the Date of the newest message the VA sent to `client_id`
 * at or after `since` whose subject or text names `number` and that keel did
 * not write itself (not in the outbox); NULL when there is none. */
gboolean store_invoice_own_mention(Store *store, const char *client_id, const char *number,
                                   GDateTime *since, GDateTime **date, GError **error);

/* The payment category the verdict saved for message `row_id` ("none",
 * "promise"...; NULL when not scored) and its new text. New strings. */
gboolean store_invoice_message_reading(Store *store, gint64 row_id, char **payment,
                                       char **new_text, GError **error);
/* The thread's risk (0 for thread 0 or an unknown one). */
double store_invoice_thread_risk(Store *store, gint64 thread_id, GError **error);
/* The invoice whose email or chases went out in thread `thread_id` (its
 * number, new string), or NULL. */
char *store_invoice_for_thread(Store *store, gint64 thread_id, GError **error);

/* A rule hit on a client's words, for the evidence pack. */
typedef struct {
  GDateTime *date;     /* owned, UTC: the message's Date */
  char *message_id;    /* owned */
  char *rule;          /* owned */
  char *dimension;     /* owned */
  char *match;         /* owned: the words matched */
} StoreClientHit;
void store_client_hit_free(StoreClientHit *hit);
/* Hits in `dimensions` (NULL-terminated) on the incoming messages of
 * `client_id` dated in [since, until), oldest first: StoreClientHit*. */
GPtrArray *store_invoice_client_hits(Store *store, const char *client_id,
                                     const char *const *dimensions, GDateTime *since,
                                     GDateTime *until, GError **error);

/* `*created` receives when the newest chase of invoice `invoice_id` was
 * queued (NULL when never). */
gboolean store_invoice_last_chase(Store *store, gint64 invoice_id, GDateTime **created,
                                  GError **error);

/* The Message-IDs of invoice `invoice_id`'s chases, oldest first: a strv
 * (empty when never chased), NULL on error. */
char **store_invoice_chase_message_ids(Store *store, gint64 invoice_id, GError **error);

/* TRUE when `message_id` is one keel wrote (an outbox row). */
gboolean store_invoice_is_keel_message(Store *store, const char *message_id,
                                       gboolean *is_keel, GError **error);
