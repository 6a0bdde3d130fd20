/* daemon/payments/evidence.c: the evidence pack for a disputed invoice. A
 * dispute is won with the trail: the client's instructions in the billing
 * period with their dates, the confirmations keel sent, the client's own
 * words about rates or scope (the payment and scope rules' hits), and the
 * trail hash of every event quoted, so the record can be checked with
 * `keel trail verify`.
 *
 * The billing period runs from the issue date of the client's previous
 * invoice (or 62 days before this one's) to the end of this one's issue day.
 * Must not: change anything. */
#include <string.h>
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "filters/money.h"

#define EVIDENCE_DEFAULT_PERIOD_DAYS 62

/* Start and end (UTC) of the billing period of `invoice`. */
static void evidence_period(Store *store, const StoreInvoiceRow *invoice, GDateTime **since,
                            GDateTime **until)
{
  GDate issued, start;
  chase_parse_date(invoice->issued, &issued);
  start = issued;
  g_date_subtract_days(&start, EVIDENCE_DEFAULT_PERIOD_DAYS);
  g_autoptr(GPtrArray) others = store_invoice_list(store, invoice->client_id, FALSE, NULL);
  for (guint i = 0; others && i < others->len; i++) {
    const StoreInvoiceRow *other = others->pdata[i];
    GDate date;
    if (other->id != invoice->id && chase_parse_date(other->issued, &date)
        && g_date_compare(&date, &issued) < 0 && g_date_compare(&date, &start) > 0)
      start = date;
  }
  g_date_add_days(&issued, 1);
  *since = g_date_time_new_utc((int)g_date_get_year(&start), (int)g_date_get_month(&start),
                               (int)g_date_get_day(&start), 0, 0, 0);
  *until = g_date_time_new_utc((int)g_date_get_year(&issued), (int)g_date_get_month(&issued),
                               (int)g_date_get_day(&issued), 0, 0, 0);
}

/* TRUE for the sending or drafting of a confirmation: the outbox names
 * every kind's moves confirmation_*, so only a Message-ID that was queued as
 * a confirmation (`confirmations`) counts, never a chase. */
static gboolean evidence_is_confirmation(const StoreTrailEvent *event, GHashTable *confirmations)
{
  return (g_strcmp0(event->kind, "confirmation_sent") == 0
          || g_strcmp0(event->kind, "confirmation_drafted") == 0)
         && event->message_id && g_hash_table_contains(confirmations, event->message_id);
}

/* The instruction and confirmation events of the period, as two sections. */
static void evidence_trail(GString *out, GPtrArray *events, GDateTime *until, guint *counts)
{
  g_autoptr(GHashTable) confirmations = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *e = events->pdata[i];
    if (g_strcmp0(e->kind, "confirmation_queued") == 0 && e->message_id)
      g_hash_table_add(confirmations, e->message_id);
  }
  const char *titles[] = { "The client's instructions in the billing period",
                           "Confirmations keel sent" };
  for (int section = 0; section < 2; section++) {
    g_string_append_printf(out, "\n%s:\n", titles[section]);
    for (guint i = 0; i < events->len; i++) {
      const StoreTrailEvent *e = events->pdata[i];
      gboolean wanted = section == 0 ? g_strcmp0(e->kind, "instruction") == 0
                                     : evidence_is_confirmation(e, confirmations);
      if (!wanted || g_date_time_compare(e->at, until) >= 0)
        continue;
      g_autofree char *when = g_date_time_format(e->at, "%Y-%m-%d %H:%M");
      g_string_append_printf(out, "  %s UTC  %s\n      trail event %" G_GINT64_FORMAT
                             ", sha256 %s\n", when, e->detail, e->id, e->hash);
      counts[section]++;
    }
    if (counts[section] == 0)
      g_string_append(out, "  (none recorded)\n");
  }
}

static void evidence_words(GString *out, GPtrArray *hits)
{
  g_string_append(out, "\nThe client's own words about rates or scope:\n");
  for (guint i = 0; i < hits->len; i++) {
    const StoreClientHit *hit = hits->pdata[i];
    g_autofree char *when = g_date_time_format(hit->date, "%Y-%m-%d %H:%M");
    g_string_append_printf(out, "  %s UTC  %s: \"%s\" (rule %s, message <%s>)\n", when,
                           hit->dimension, hit->match ? hit->match : "", hit->rule,
                           hit->message_id);
  }
  if (hits->len == 0)
    g_string_append(out, "  (none found)\n");
}

/* The pack's text for `invoice`; NULL with `error` on a store failure. */
static char *evidence_build(Store *store, const StoreInvoiceRow *invoice, guint *counts,
                            GError **error)
{
  g_autoptr(GDateTime) since = NULL, until = NULL;
  evidence_period(store, invoice, &since, &until);
  g_autoptr(GPtrArray) events = store_trail_list(store, invoice->client_id, since, error);
  static const char *const dimensions[] = { "payment", "scope", NULL };
  g_autoptr(GPtrArray) hits = events ? store_invoice_client_hits(store, invoice->client_id,
                                                                 dimensions, since, NULL, error)
                                     : NULL;
  if (!hits)
    return NULL;
  g_autofree char *amount = money_format(invoice->amount, invoice->currency);
  g_autofree char *from = g_date_time_format(since, "%Y-%m-%d");
  GString *out = g_string_new(NULL);
  g_string_append_printf(out, "Evidence for invoice %s (%s, %s, issued %s, due %s)\n"
                         "Billing period: %s to %s\n", invoice->number, invoice->client_id,
                         amount, invoice->issued, invoice->due, from, invoice->issued);
  evidence_trail(out, events, until, counts);
  evidence_words(out, hits);
  counts[2] = hits->len;
  gint64 head_id = 0;
  g_autofree char *head = NULL;
  if (!store_trail_head(store, &head_id, &head, error)) {
    g_string_free(out, TRUE);
    return NULL;
  }
  g_string_append_printf(out, "\nEach event above is part of keel's hash-chained trail, whose "
                         "newest event is %" G_GINT64_FORMAT " (sha256 %s): `keel trail verify` "
                         "proves none was edited or removed.\n", head_id,
                         head ? head : TRAIL_GENESIS_HASH);
  return g_string_free(out, FALSE);
}

char *payments_evidence(Store *store, const KeelConfig *config, const char *number,
                        GError **error)
{
  (void)config;
  GError *local = NULL;
  g_autoptr(StoreInvoiceRow) invoice = store_invoice_get(store, number, &local);
  if (!invoice) {
    if (!local)
      g_set_error(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_NOT_FOUND,
                  "no invoice %s (see keel invoice list)", number);
    else
      g_propagate_error(error, local);
    return NULL;
  }
  guint counts[3] = { 0 };
  return evidence_build(store, invoice, counts, error);
}

char *payments_evidence_summary(Store *store, const StoreInvoiceRow *invoice, GError **error)
{
  guint counts[3] = { 0 };
  g_autofree char *text = evidence_build(store, invoice, counts, error);
  if (!text)
    return NULL;
  return g_strdup_printf("evidence: %u instruction(s), %u confirmation(s), %u remark(s) on "
                         "rates or scope (keel invoice evidence %s)", counts[0], counts[1],
                         counts[2], invoice->number);
}
