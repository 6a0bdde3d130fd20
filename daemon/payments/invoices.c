/* daemon/payments/invoices.c: recording invoices, payments, pauses and
 * resumes, each with its trail event; the client's chase calendar; the
 * small formatting helpers the rest of daemon/payments/ shares.
 * Money is parsed and formatted by filters/money.c, dates by filters/chase.c.
 * Must not: plan chases or read mail. */
#include <stdarg.h>
#include <string.h>
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "filters/money.h"

G_DEFINE_QUARK(keel-payments-error-quark, keel_payments_error)

void payments_calendar(const KeelConfig *config, const KeelClient *client, ChaseCalendar *cal,
                       GTimeZone **zone)
{
  const char *name = client && client->timezone ? client->timezone : config->timezone;
  *zone = g_time_zone_new_identifier(name ? name : "UTC");
  if (!*zone)
    *zone = g_time_zone_new_utc();
  *cal = (ChaseCalendar){ .zone = *zone, .days = config->business_hours.days,
                          .start_min = config->business_hours.start_min,
                          .end_min = config->business_hours.end_min,
                          .holidays = client ? (const char *const *)client->holidays : NULL };
}

int payments_days_overdue(const StoreInvoiceRow *invoice, const ChaseCalendar *cal,
                          GDateTime *now)
{
  GDate due, today;
  if (!chase_parse_date(invoice->due, &due))
    return 0;
  chase_local_date(cal, now, &today);
  return g_date_days_between(&due, &today);
}

char *payments_human_date(const char *iso_date)
{
  GDate date;
  if (!iso_date || !chase_parse_date(iso_date, &date))
    return g_strdup(iso_date ? iso_date : "");
  char buffer[64];
  g_date_strftime(buffer, sizeof buffer, "%e %b %Y", &date);
  return g_strdup(g_strchug(buffer));
}

char *payments_left_text(const StoreInvoiceRow *invoice)
{
  return money_format(invoice->amount - invoice->paid, invoice->currency);
}

gboolean payments_record(Store *store, const StoreInvoiceRow *invoice, const char *kind,
                         gint64 ref_id, const char *message_id, GDateTime *at,
                         GError **error, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *text = g_strdup_vprintf(format, args);
  va_end(args);
  g_autofree char *detail = g_strdup_printf("%s: %s", invoice->number, text);
  TrailEntry entry = { .kind = kind, .client_id = invoice->client_id,
                       .thread_id = invoice->thread_id, .message_id = message_id,
                       .ref_id = ref_id, .detail = detail, .at = at };
  return trail_append(store, &entry, NULL, error);
}

static gboolean payments_invalid(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);
static gboolean payments_invalid(GError **error, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  g_set_error_literal(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_INVALID, message);
  return FALSE;
}

/* Issued and due dates of `in` into `row` (today when not issued). */
static gboolean payments_invoice_dates(const PaymentsNewInvoice *in, const ChaseCalendar *cal,
                                       GDateTime *now, StoreInvoiceRow *row, GError **error)
{
  GDate issued, due;
  if (in->issued && !chase_parse_date(in->issued, &issued))
    return payments_invalid(error, "--issued '%s' should be a date like 2026-10-05", in->issued);
  if (!in->issued)
    chase_local_date(cal, now, &issued);
  guint days = 0;
  if ((in->due != NULL) == (in->terms != NULL))
    return payments_invalid(error, "give either --due DATE or --terms DAYS (like 14d)");
  if (in->due && !chase_parse_date(in->due, &due))
    return payments_invalid(error, "--due '%s' should be a date like 2026-10-19", in->due);
  if (in->terms && !chase_parse_terms(in->terms, &days))
    return payments_invalid(error, "--terms '%s' should be days, like 14d or 30d", in->terms);
  if (in->terms) {
    due = issued;
    g_date_add_days(&due, days);
  }
  if (g_date_compare(&due, &issued) < 0)
    return payments_invalid(error, "the due date is before the issue date");
  row->issued = chase_format_date(&issued);
  row->due = chase_format_date(&due);
  row->terms = g_strdup(in->terms);
  return TRUE;
}

/* The row of `in`, validated; NULL with `error`. */
static StoreInvoiceRow *payments_invoice_row(const KeelConfig *config,
                                             const PaymentsNewInvoice *in, GDateTime *now,
                                             GError **error)
{
  const KeelClient *client = config_client_by_name(config, in->client);
  if (!client) {
    payments_invalid(error, "no client '%s' in %s (use the id of a [client ID] section)",
                     in->client, config->path);
    return NULL;
  }
  g_autoptr(StoreInvoiceRow) row = g_new0(StoreInvoiceRow, 1);
  row->currency = g_ascii_strup(in->currency ? in->currency : config->payments_currency, -1);
  GError *money_error = NULL;
  if (!in->number || !in->number[0] || strlen(in->number) > 64) {
    payments_invalid(error, "the invoice number must be 1 to 64 characters");
    return NULL;
  }
  if (!money_parse(in->amount, row->currency, &row->amount, &money_error)
      || row->amount <= 0) {
    payments_invalid(error, "amount: %s", money_error ? money_error->message : "must be above 0");
    g_clear_error(&money_error);
    return NULL;
  }
  g_autoptr(GTimeZone) zone = NULL;
  ChaseCalendar cal;
  payments_calendar(config, client, &cal, &zone);
  if (!payments_invoice_dates(in, &cal, now, row, error))
    return NULL;
  row->number = g_strdup(in->number);
  row->client_id = g_strdup(client->id);
  row->state = g_strdup("open");
  row->message_id = g_strdup(in->message_id);
  row->thread_id = in->thread_id;
  row->created = g_date_time_ref(now);
  return g_steal_pointer(&row);
}

static gboolean payments_invoice_insert(Store *store, StoreInvoiceRow *row, const char *source,
                                        GDateTime *now, GError **error)
{
  g_autofree char *amount = money_format(row->amount, row->currency);
  g_autofree char *due = payments_human_date(row->due);
  row->id = store_invoice_add(store, row, error);
  return row->id != 0
    && payments_record(store, row, "invoice_added", 0, row->message_id, now, error,
                       "%s issued %s, due %s%s%s%s (%s)", amount, row->issued, due,
                       row->terms ? " (terms " : "", row->terms ? row->terms : "",
                       row->terms ? ")" : "", source ? source : "keel invoice add");
}

StoreInvoiceRow *payments_invoice_add(Store *store, const KeelConfig *config,
                                      const PaymentsNewInvoice *invoice, GDateTime *now,
                                      GError **error)
{
  g_autoptr(StoreInvoiceRow) row = payments_invoice_row(config, invoice, now, error);
  if (!row || !store_begin(store, error))
    return NULL;
  g_autoptr(StoreInvoiceRow) existing = store_invoice_get(store, invoice->number, error);
  if (existing || (error && *error)) {
    store_rollback(store);
    if (existing)
      g_set_error(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_EXISTS,
                  "invoice %s is already recorded (for %s, due %s)", existing->number,
                  existing->client_id, existing->due);
    return NULL;
  }
  if (!payments_invoice_insert(store, row, invoice->source, now, error)) {
    store_rollback(store);
    return NULL;
  }
  return store_commit(store, error) ? g_steal_pointer(&row) : NULL;
}

/* The invoice `number`, or NULL with KEEL_PAYMENTS_ERROR_NOT_FOUND. */
static StoreInvoiceRow *payments_invoice_find(Store *store, const char *number, GError **error)
{
  GError *local = NULL;
  StoreInvoiceRow *row = store_invoice_get(store, number, &local);
  if (!row && !local)
    g_set_error(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_NOT_FOUND,
                "no invoice %s (see keel invoice list)", number);
  else if (local)
    g_propagate_error(error, local);
  return row;
}

gboolean payments_invoice_apply_payment(Store *store, StoreInvoiceRow *row, gint64 amount,
                                        const char *date, const char *source, GDateTime *now,
                                        GError **error)
{
  row->paid += amount;
  gboolean full = row->paid >= row->amount;
  g_autofree char *paid = money_format(amount, row->currency);
  g_autofree char *left = payments_left_text(row);
  if (full) {
    g_free(row->state), row->state = g_strdup("paid");
    g_free(row->paid_date), row->paid_date = g_strdup(date);
    g_clear_pointer(&row->pause_reason, g_free);
    g_clear_pointer(&row->promise_date, g_free);
    g_clear_pointer(&row->promise_text, g_free);
  }
  return store_invoice_payment_add(store, row->id, amount, date, source, now, error)
    && store_invoice_update(store, row, error)
    && payments_record(store, row, full ? "invoice_paid" : "invoice_part_paid", 0, NULL, now,
                       error, full ? "%s paid on %s (%s)%s" : "%s paid on %s (%s); %s left to chase",
                       paid, date, source ? source : "keel invoice paid", full ? "" : left);
}

/* Amount and date of a payment on `row`; TRUE with both set. */
static gboolean payments_paid_values(const KeelConfig *config, const StoreInvoiceRow *row,
                                     const char *date, const char *amount, GDateTime *now,
                                     gint64 *minor, char **day, GError **error)
{
  GDate parsed;
  if (date && !chase_parse_date(date, &parsed))
    return payments_invalid(error, "--date '%s' should be a date like 2026-10-21", date);
  if (!date) {
    g_autoptr(GTimeZone) zone = NULL;
    ChaseCalendar cal;
    payments_calendar(config, config_client_by_name(config, row->client_id), &cal, &zone);
    chase_local_date(&cal, now, &parsed);
  }
  *minor = row->amount - row->paid;
  GError *money_error = NULL;
  if (amount && (!money_parse(amount, row->currency, minor, &money_error) || *minor <= 0)) {
    payments_invalid(error, "--amount: %s", money_error ? money_error->message : "must be above 0");
    g_clear_error(&money_error);
    return FALSE;
  }
  *day = chase_format_date(&parsed);
  return TRUE;
}

StoreInvoiceRow *payments_invoice_paid(Store *store, const KeelConfig *config,
                                       const char *number, const char *date,
                                       const char *amount, const char *source, GDateTime *now,
                                       GError **error)
{
  g_autoptr(StoreInvoiceRow) row = payments_invoice_find(store, number, error);
  if (!row)
    return NULL;
  if (g_strcmp0(row->state, "paid") == 0) {
    g_set_error(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_STATE,
                "invoice %s is already paid (on %s)", number, row->paid_date);
    return NULL;
  }
  gint64 minor = 0;
  g_autofree char *day = NULL;
  if (!payments_paid_values(config, row, date, amount, now, &minor, &day, error)
      || !store_begin(store, error))
    return NULL;
  if (!payments_invoice_apply_payment(store, row, minor, day, source, now, error)) {
    store_rollback(store);
    return NULL;
  }
  return store_commit(store, error) ? g_steal_pointer(&row) : NULL;
}

gboolean payments_invoice_set_state(Store *store, const char *number, const char *state,
                                    const char *reason, GDateTime *now, GError **error)
{
  g_autoptr(StoreInvoiceRow) row = payments_invoice_find(store, number, error);
  if (!row)
    return FALSE;
  if (g_strcmp0(row->state, "paid") == 0) {
    g_set_error(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_STATE,
                "invoice %s is paid: nothing to chase", number);
    return FALSE;
  }
  gboolean resume = g_strcmp0(state, "open") == 0;
  g_free(row->state), row->state = g_strdup(state);
  g_free(row->pause_reason), row->pause_reason = resume ? NULL : g_strdup(reason);
  if (resume)
    g_clear_pointer(&row->promise_date, g_free);
  const char *kind = resume ? "invoice_resumed" : g_strcmp0(state, "stopped") == 0
                                                    ? "invoice_stopped" : "invoice_paused";
  if (!store_begin(store, error))
    return FALSE;
  if (!store_invoice_update(store, row, error)
      || !payments_record(store, row, kind, 0, NULL, now, error, "chasing %s%s%s",
                          resume ? "resumed" : g_strcmp0(state, "stopped") == 0 ? "stopped"
                                                                                 : "paused",
                          reason ? ": " : "", reason ? reason : "")) {
    store_rollback(store);
    return FALSE;
  }
  return store_commit(store, error);
}
