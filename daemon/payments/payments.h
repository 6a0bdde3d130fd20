/* daemon/payments/payments.h: payment chasing. Invoices the VA records (or
 * sends from her own account), chased politely on the client's business
 * mornings through the outbox, the client's answers read (promise, dispute,
 * refusal, haggle, any other reply), promises checked, and the evidence pack
 * for a dispute. Every change is an event in the trail whose detail starts
 * with the invoice number ("INV-042: ..."), which is how `keel invoice show`
 * finds an invoice's story.
 *
 * Entry points:
 *   payments_invoice_add/paid/pause/resume()  what `keel invoice` does
 *   payments_plan_due()       the daemon's housekeeping: broken promises and
 *                             chase steps due now, queued as outbox kind "chase"
 *   payments_after_message()  the pipeline's hook for each newly stored message
 *   payments_evidence()       the evidence pack of `keel invoice evidence`
 *
 * States of an invoice (invoices.state):
 *   open     chased on schedule (a promise_date pauses it until the day after)
 *   paused   not chased until `keel invoice resume` (the VA, a client reply,
 *            a dispute or a haggle: pause_reason says which)
 *   stopped  a refusal: not chased until resumed
 *   paid     paid in full
 * Must not: send mail (the outbox does), decide a schedule itself
 * (filters/chase.c does), or log message bodies.
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "daemon/store/store-invoices.h"
#include "filters/chase.h"
#include "filters/message.h"

#define KEEL_PAYMENTS_ERROR (keel_payments_error_quark())
GQuark keel_payments_error_quark(void);
typedef enum {
  KEEL_PAYMENTS_ERROR_INVALID,   /* a bad amount, date, terms or client: fix the command */
  KEEL_PAYMENTS_ERROR_NOT_FOUND, /* no such invoice */
  KEEL_PAYMENTS_ERROR_EXISTS,    /* an invoice with that number is already recorded */
  KEEL_PAYMENTS_ERROR_STATE      /* e.g. paying an invoice already paid */
} KeelPaymentsError;

/* ---- invoices (invoices.c) --------------------------------------------- */

/* A new invoice as the VA gives it; borrowed strings. */
typedef struct {
  const char *client;      /* client id or name from keel.conf */
  const char *number;
  const char *amount;      /* "1486.20" */
  const char *currency;    /* NULL = [payments] currency */
  const char *issued;      /* YYYY-MM-DD, NULL = today in the client's zone */
  const char *due;         /* YYYY-MM-DD, or NULL with terms */
  const char *terms;       /* "14d", or NULL with due */
  const char *message_id;  /* the invoice email, NULL = none */
  gint64 thread_id;        /* its thread, 0 = none */
  const char *source;      /* for the trail: "keel invoice add", "sent mail" */
} PaymentsNewInvoice;

/* Records the invoice and an `invoice_added` event (one transaction or the
 * caller's). Returns the row, NULL with `error`. */
StoreInvoiceRow *payments_invoice_add(Store *store, const KeelConfig *config,
                                      const PaymentsNewInvoice *invoice, GDateTime *now,
                                      GError **error);
/* A payment of `amount` (NULL: what is left) on `date` (NULL: today): an
 * `invoice_paid` event, or `invoice_part_paid` when some is left to chase. */
StoreInvoiceRow *payments_invoice_paid(Store *store, const KeelConfig *config,
                                       const char *number, const char *date,
                                       const char *amount, const char *source, GDateTime *now,
                                       GError **error);
/* Applies a payment of `amount` on `date` to `row` (updated in place) and
 * records it, inside the caller's transaction. */
gboolean payments_invoice_apply_payment(Store *store, StoreInvoiceRow *row, gint64 amount,
                                        const char *date, const char *source, GDateTime *now,
                                        GError **error);
/* Sets `state` ("paused", "stopped", or "open" to resume) with `reason`
 * (NULL for open), with its event. */
gboolean payments_invoice_set_state(Store *store, const char *number, const char *state,
                                    const char *reason, GDateTime *now, GError **error);

/* The client's chase calendar: zone (owned by the caller, keep it alive),
 * the config's business hours, the client's holidays. */
void payments_calendar(const KeelConfig *config, const KeelClient *client, ChaseCalendar *cal,
                       GTimeZone **zone);
/* Whole days from the due date to `now`'s local date (negative: not due). */
int payments_days_overdue(const StoreInvoiceRow *invoice, const ChaseCalendar *cal,
                          GDateTime *now);
/* "5 Oct 2026" for "2026-10-05". New string. */
char *payments_human_date(const char *iso_date);
/* Appends `kind` for `invoice` with detail "NUMBER: <text>" (one
 * transaction or the caller's). */
gboolean payments_record(Store *store, const StoreInvoiceRow *invoice, const char *kind,
                         gint64 ref_id, const char *message_id, GDateTime *at,
                         GError **error, const char *format, ...) G_GNUC_PRINTF(8, 9);
/* Amount left to pay, formatted ("€1,486.20"). New string. */
char *payments_left_text(const StoreInvoiceRow *invoice);

/* ---- the chase schedule in action (chase-plan.c) ----------------------- */

typedef struct {
  guint messages;         /* chase messages queued */
  guint steps;            /* invoice steps they carry */
  guint broken_promises;
} PaymentsPlanStats;

/* For every unpaid invoice: a promise whose day has passed unpaid becomes a
 * `promise_broken` event and a follow-up quoting it; a step whose time has
 * come (filters/chase.c, delayed by the VA's own chaser, never for a risky
 * thread) is claimed in invoice_chases (so it goes at most once, even across
 * a crash) and queued with the client's other due invoices as one outbox
 * message of kind "chase", from rules/templates/chase-N.txt. One transaction
 * per client. `stats` may be NULL. */
gboolean payments_plan_due(Store *store, const KeelConfig *config, GDateTime *now,
                           PaymentsPlanStats *stats, GError **error);

/* ---- reading mail about invoices (answers.c) --------------------------- */

/* A newly stored message, as the pipeline knows it; all borrowed. */
typedef struct {
  const KeelConfig *config;
  const KeelClient *client;     /* NULL = not a known client */
  const KeelMessage *message;
  gint64 row_id, thread_id;
  gboolean outgoing;            /* the VA's own mail (Sent) */
  gboolean first_sync;          /* history: nothing is read from it */
} PaymentsMessage;

/* Inside the pipeline's transaction, after the verdict was saved: the VA's
 * invoice emails (rules/invoices.rules) are recorded; a client's message
 * about an invoice is read by its payment category (promise: the promised
 * date recorded and chasing paused until the day after; dispute, haggle:
 * paused for the VA; refusal: stopped; "I've paid": paid when number and
 * amount match, else paused for the VA to confirm; anything else: paused);
 * a payment notice naming an open invoice's number and amount marks it paid.
 * FALSE only on a store failure. */
gboolean payments_after_message(Store *store, const PaymentsMessage *in, GError **error);

/* TRUE when `message` (subject and new text, through invoices.rules) names
 * `invoice`'s number and exactly the amount left to pay, in its currency:
 * what it takes for a notice or a client's "I've paid" to mark it paid. */
gboolean payments_notice_matches(const KeelConfig *config, const KeelMessage *message,
                                 const StoreInvoiceRow *invoice);

/* The day a client's message promises payment on, in the client's calendar
 * ("YYYY-MM-DD", new string) and the sentence that says so (new string):
 * invoices.rules' `promise` rules on the new text, resolved as deadlines are
 * (filters/deadlines.c). Not deadlines.rules itself: a task's "by Thursday"
 * beside the promise is no payment day. FALSE (both NULL) when it names no
 * day ("this week", "soon"). */
gboolean payments_promised_date(const KeelConfig *config, const KeelClient *client,
                                const KeelMessage *message, char **date, char **quote);

/* ---- the evidence pack (evidence.c) ------------------------------------ */

/* The evidence for invoice `number`, as text: the client's instructions in
 * the billing period with their dates, the confirmations keel sent, the
 * client's own words about rates or scope (payment and scope rule hits), and
 * the trail hashes of each event. New string, NULL with `error`. */
char *payments_evidence(Store *store, const KeelConfig *config, const char *number,
                        GError **error);
/* One line for the digest: "12 instructions, 9 confirmations, 3 remarks on
 * rates or scope since 2026-09-01". New string. */
char *payments_evidence_summary(Store *store, const StoreInvoiceRow *invoice, GError **error);
