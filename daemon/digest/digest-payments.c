/* daemon/digest/digest-payments.c: the digest's payments section, one line
 * per thing the VA should know about money: overdue invoices (and where
 * their chasing stands), promises due today, promises broken, disputes,
 * refusals, haggles and replies waiting for her (with the evidence pack's
 * summary beside a dispute), payments a notice claims but keel could not
 * match, and clients still sending new work while an invoice is more than
 * [payments] new_work_days overdue.
 * Must not: change anything (it only reads invoices and the trail). */
#include "daemon/digest/digest-private.h"
#include "daemon/payments/payments.h"
#include "filters/money.h"

static const KeelClient *digest_payments_client(const KeelConfig *config, const char *id)
{
  return config ? config_client_by_name(config, id) : NULL;
}

static const char *digest_payments_name(const KeelConfig *config, const char *id)
{
  const KeelClient *client = digest_payments_client(config, id);
  return client ? client->name : id;
}

/* The line for one unpaid invoice, or NULL when it needs no mention. */
static char *digest_payments_invoice(Store *store, const KeelConfig *config,
                                     const StoreInvoiceRow *row, GDateTime *now)
{
  g_autoptr(GTimeZone) zone = NULL;
  ChaseCalendar cal;
  payments_calendar(config, digest_payments_client(config, row->client_id), &cal, &zone);
  int late = payments_days_overdue(row, &cal, now);
  g_autofree char *left = payments_left_text(row);
  const char *name = digest_payments_name(config, row->client_id);
  g_autofree char *today = g_date_time_format(now, "%Y-%m-%d");
  if (row->promise_date && g_strcmp0(row->promise_date, today) == 0)
    return g_strdup_printf("%s (%s, %s): promised for today: \"%s\"; check the money arrived",
                           row->number, name, left, row->promise_text ? row->promise_text : "");
  if (g_strcmp0(row->state, "open") != 0) {
    g_autofree char *evidence = g_strcmp0(row->pause_reason, "dispute") == 0
      ? payments_evidence_summary(store, row, NULL) : NULL;
    return g_strdup_printf("%s (%s, %s): %s, waiting for you (%s); keel invoice resume %s "
                           "restarts chasing%s%s", row->number, name, left, row->state,
                           row->pause_reason ? row->pause_reason : "paused", row->number,
                           evidence ? "; " : "", evidence ? evidence : "");
  }
  if (late <= 0)
    return NULL;
  g_autofree char *where = row->promise_date
    ? g_strdup_printf("promised for %s", row->promise_date)
    : row->last_step ? g_strdup_printf("chase step %d sent", row->last_step)
                     : g_strdup("not chased yet");
  return g_strdup_printf("%s (%s, %s): %d day%s overdue, %s", row->number, name, left, late,
                         late == 1 ? "" : "s", where);
}

/* Events since the last digest that need the VA's eye (broken promises,
 * payments keel could not match), one line each. */
static gboolean digest_payments_events(Store *store, Digest *digest, GDateTime *since,
                                       GError **error)
{
  g_autoptr(GPtrArray) events = store_trail_list(store, NULL, since, error);
  if (!events)
    return FALSE;
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    if (g_strcmp0(event->kind, "promise_broken") == 0)
      g_ptr_array_add(digest->payments, g_strdup_printf("promise broken: %s", event->detail));
    else if (g_strcmp0(event->kind, "payment_unconfirmed") == 0)
      g_ptr_array_add(digest->payments, g_strdup_printf("to confirm: %s", event->detail));
  }
  return TRUE;
}

/* "still sending work with INV-042 21 days overdue" for each client who gave
 * an instruction since `since` while one of their invoices is more than
 * new_work_days overdue. */
static gboolean digest_payments_new_work(Store *store, const KeelConfig *config,
                                         Digest *digest, GPtrArray *unpaid, GDateTime *since,
                                         GError **error)
{
  g_autoptr(GPtrArray) events = store_trail_list(store, NULL, since, error);
  if (!events)
    return FALSE;
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    if (g_strcmp0(event->kind, "instruction") != 0 || !event->client_id
        || g_hash_table_contains(seen, event->client_id))
      continue;
    for (guint j = 0; j < unpaid->len; j++) {
      const StoreInvoiceRow *row = unpaid->pdata[j];
      g_autoptr(GTimeZone) zone = NULL;
      ChaseCalendar cal;
      payments_calendar(config, digest_payments_client(config, row->client_id), &cal, &zone);
      int late = payments_days_overdue(row, &cal, digest->now);
      if (g_strcmp0(row->client_id, event->client_id) != 0
          || late <= (int)config->payments_new_work_days)
        continue;
      g_hash_table_add(seen, event->client_id);
      g_ptr_array_add(digest->payments, g_strdup_printf(
        "%s is still sending work with %s %d days overdue; consider asking for payment up front",
        digest_payments_name(config, row->client_id), row->number, late));
      break;
    }
  }
  return TRUE;
}

gboolean digest_gather_payments(Store *store, const KeelConfig *config, Digest *digest,
                                GError **error)
{
  if (!config)
    return TRUE;
  g_autoptr(GPtrArray) unpaid = store_invoice_list(store, NULL, TRUE, error);
  if (!unpaid)
    return FALSE;
  for (guint i = 0; i < unpaid->len; i++) {
    char *line = digest_payments_invoice(store, config, unpaid->pdata[i], digest->now);
    if (line)
      g_ptr_array_add(digest->payments, line);
  }
  g_autoptr(GDateTime) since = digest->since ? g_date_time_ref(digest->since)
                                             : g_date_time_add_days(digest->now, -1);
  return digest_payments_events(store, digest, since, error)
         && digest_payments_new_work(store, config, digest, unpaid, since, error);
}
