/* daemon/payments/chase-plan.c: payments_plan_due(), what the daemon's
 * housekeeping runs: for each client, one transaction that
 *   1. turns a promise whose day has passed unpaid into a `promise_broken`
 *      event and a follow-up that quotes it;
 *   2. asks filters/chase.c which step of each open invoice may go now, with
 *      `not_before` set by the VA's own recent mail naming the invoice and by
 *      keel's own last chase of it (own_chase_days business days each);
 *   3. queues one outbox message (kind "chase") for all that is due, from
 *      rules/templates/chase-N.txt (N = the highest step) or
 *      chase-promise.txt, and claims each (invoice, step) in invoice_chases.
 * The claim's primary key and the outbox row commit together: a step goes at
 * most once, even when keel is killed between two runs.
 * Must not: send (the outbox does), chase a paused, stopped or paid invoice,
 * or chase an invoice whose thread is risky. */
#include <string.h>
#include "daemon/outbox/outbox.h"
#include "daemon/outbox/replies.h"
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "filters/money.h"

#define PLAN_MENTION_LOOKBACK_DAYS 45
#define PLAN_RISKY_THREAD 1.0

/* One invoice in the message being built. */
typedef struct {
  StoreInvoiceRow *invoice;  /* borrowed */
  char *key;                 /* owned: "1", "2", "promise-2026-10-23" */
  guint step;                /* 0: a broken promise's follow-up */
  char *promise_text;        /* owned, for a follow-up */
  char *promise_date;        /* owned, for a follow-up */
} PlanItem;

static void plan_item_free(PlanItem *item)
{
  g_free(item->key);
  g_free(item->promise_text);
  g_free(item->promise_date);
  g_free(item);
}

/* The morning `days` business days after `time` (when it is not NULL). */
static GDateTime *plan_after_business_days(const ChaseCalendar *cal, GDateTime *time, guint days)
{
  if (!time)
    return NULL;
  GDate day, later;
  chase_local_date(cal, time, &day);
  chase_add_business_days(cal, &day, days, &later);
  return chase_day_morning(cal, &later);
}

/* The later of the VA's own mail naming the invoice and keel's last chase,
 * each plus own_chase_days business days; NULL when neither. */
static GDateTime *plan_not_before(Store *store, const KeelConfig *config,
                                  const ChaseCalendar *cal, const StoreInvoiceRow *invoice,
                                  GDateTime *now, GError **error)
{
  g_autoptr(GDateTime) since = g_date_time_add_days(now, -PLAN_MENTION_LOOKBACK_DAYS);
  g_autoptr(GDateTime) mention = NULL, chased = NULL;
  if (!store_invoice_own_mention(store, invoice->client_id, invoice->number, since, &mention,
                                 error)
      || !store_invoice_last_chase(store, invoice->id, &chased, error))
    return NULL;
  guint days = config->payments_own_chase_days;
  g_autoptr(GDateTime) a = plan_after_business_days(cal, mention, days);
  g_autoptr(GDateTime) b = plan_after_business_days(cal, chased, days);
  if (!a || (b && g_date_time_compare(b, a) > 0))
    return b ? g_date_time_ref(b) : NULL;
  return g_date_time_ref(a);
}

/* A promise whose day has passed unpaid: its event, and a follow-up item. */
static gboolean plan_promise(Store *store, const ChaseCalendar *cal, StoreInvoiceRow *invoice,
                             GDateTime *now, GPtrArray *items, PaymentsPlanStats *stats,
                             GError **error)
{
  GDate promised;
  if (!chase_parse_date(invoice->promise_date, &promised))
    return TRUE;
  g_date_add_days(&promised, 1);
  g_autoptr(GDateTime) check = chase_day_morning(cal, &promised);
  if (!check || g_date_time_compare(now, check) < 0 || !chase_in_window(cal, now))
    return TRUE;
  g_autofree char *left = payments_left_text(invoice);
  if (!payments_record(store, invoice, "promise_broken", 0, NULL, now, error,
                       "promised payment by %s (\"%s\"); %s still unpaid", invoice->promise_date,
                       invoice->promise_text ? invoice->promise_text : "", left))
    return FALSE;
  PlanItem *item = g_new0(PlanItem, 1);
  item->invoice = invoice;
  item->key = g_strdup_printf("promise-%s", invoice->promise_date);
  item->promise_text = g_steal_pointer(&invoice->promise_text);
  item->promise_date = g_steal_pointer(&invoice->promise_date);
  g_ptr_array_add(items, item);
  if (stats)
    stats->broken_promises++;
  return store_invoice_update(store, invoice, error);
}

/* The item for `invoice` at `now`, if any, added to `items`. */
static gboolean plan_invoice(Store *store, const KeelConfig *config, const ChaseCalendar *cal,
                             StoreInvoiceRow *invoice, GDateTime *now, GPtrArray *items,
                             PaymentsPlanStats *stats, GError **error)
{
  if (g_strcmp0(invoice->state, "open") != 0)
    return TRUE;
  if (invoice->promise_date)
    return plan_promise(store, cal, invoice, now, items, stats, error);
  GError *local = NULL;
  if (store_invoice_thread_risk(store, invoice->thread_id, &local) >= PLAN_RISKY_THREAD) {
    g_debug("invoice %s: its thread is risky; not chased automatically", invoice->number);
    return TRUE;
  }
  if (local) {
    g_propagate_error(error, local);
    return FALSE;
  }
  g_autoptr(GDateTime) not_before = plan_not_before(store, config, cal, invoice, now, error);
  if (error && *error)
    return FALSE;
  ChaseState state = { .last_step = (guint)invoice->last_step, .not_before = not_before };
  if (!chase_parse_date(invoice->due, &state.due))
    return TRUE;
  guint step = chase_due_step(cal, config->payments_steps.offsets, config->payments_steps.count,
                              &state, now, NULL);
  if (step == 0)
    return TRUE;
  PlanItem *item = g_new0(PlanItem, 1);
  item->invoice = invoice;
  item->key = g_strdup_printf("%u", step);
  item->step = step;
  g_ptr_array_add(items, item);
  return TRUE;
}

/* chase-N.txt for the highest step (or the highest N below it that
 * exists), chase-promise.txt when a broken promise is followed up. */
static char *plan_template_name(const KeelConfig *config, GPtrArray *items, guint *top)
{
  gboolean promise = FALSE;
  *top = 0;
  for (guint i = 0; i < items->len; i++) {
    const PlanItem *item = items->pdata[i];
    *top = MAX(*top, item->step);
    promise |= item->step == 0;
  }
  if (promise)
    return g_strdup("chase-promise.txt");
  for (guint n = *top; n > 1; n--) {
    g_autofree char *name = g_strdup_printf("chase-%u.txt", n);
    g_autofree char *path = g_build_filename(config->rules, "templates", name, NULL);
    if (g_file_test(path, G_FILE_TEST_EXISTS))
      return g_steal_pointer(&name);
  }
  return g_strdup("chase-1.txt");
}

/* "Invoice INV-041: payment reminder", "Invoices INV-041 and INV-042: final notice". */
static char *plan_subject(GPtrArray *items, guint top)
{
  const PlanItem *first = items->pdata[0];
  const char *what = first->step == 0 && top == 0 ? "payment not received"
                     : top >= 3 ? "final notice" : top == 2 ? "payment overdue"
                                                            : "payment reminder";
  GString *out = g_string_new(items->len > 1 ? "Invoices " : "Invoice ");
  for (guint i = 0; i < items->len; i++) {
    const PlanItem *item = items->pdata[i];
    if (i > 0)
      g_string_append(out, i + 1 == items->len ? " and " : ", ");
    g_string_append(out, item->invoice->number);
  }
  g_string_append_printf(out, ": %s", what);
  return g_string_free(out, FALSE);
}

/* One line per invoice: "- INV-041: €1,486.20, due 15 Oct 2026 (10 days overdue)". */
static char *plan_invoice_lines(const ChaseCalendar *cal, GPtrArray *items, GDateTime *now,
                                char **total)
{
  GString *out = g_string_new(NULL);
  gint64 sum = 0;
  const char *currency = ((const PlanItem *)items->pdata[0])->invoice->currency;
  for (guint i = 0; i < items->len; i++) {
    const StoreInvoiceRow *invoice = ((const PlanItem *)items->pdata[i])->invoice;
    g_autofree char *left = payments_left_text(invoice);
    g_autofree char *due = payments_human_date(invoice->due);
    int late = payments_days_overdue(invoice, cal, now);
    g_string_append_printf(out, "%s- %s: %s, due %s (%d day%s overdue)", i ? "\n" : "",
                           invoice->number, left, due, late, late == 1 ? "" : "s");
    sum = g_strcmp0(currency, invoice->currency) == 0 && sum >= 0
      ? sum + invoice->amount - invoice->paid : -1;
  }
  *total = sum >= 0 ? money_format(sum, currency) : g_strdup("the amounts above");
  return g_string_free(out, FALSE);
}

/* "14 days from the invoice date" or "payment by 15 Oct 2026". */
static char *plan_terms(const StoreInvoiceRow *invoice)
{
  guint days = 0;
  g_autofree char *due = payments_human_date(invoice->due);
  if (invoice->terms && chase_parse_terms(invoice->terms, &days))
    return g_strdup_printf("payment within %u days of the invoice date", days);
  return g_strdup_printf("payment by %s", due);
}

/* The template's variables (see rules/templates/README.md). */
static GHashTable *plan_vars(const KeelClient *client, const ChaseCalendar *cal,
                             GPtrArray *items, GDateTime *now, const ReplyVoice *voice)
{
  GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  const PlanItem *first = items->pdata[0];
  const StoreInvoiceRow *invoice = first->invoice;
  g_autofree char *total = NULL;
  g_hash_table_insert(vars, "invoices", plan_invoice_lines(cal, items, now, &total));
  g_hash_table_insert(vars, "total", g_steal_pointer(&total));
  g_hash_table_insert(vars, "client_name", g_strdup(client->name));
  g_hash_table_insert(vars, "number", g_strdup(invoice->number));
  g_hash_table_insert(vars, "amount", payments_left_text(invoice));
  g_hash_table_insert(vars, "due_date", payments_human_date(invoice->due));
  g_hash_table_insert(vars, "days_overdue",
                      g_strdup_printf("%d", payments_days_overdue(invoice, cal, now)));
  g_hash_table_insert(vars, "terms", plan_terms(invoice));
  g_hash_table_insert(vars, "count", g_strdup_printf("%u", items->len));
  g_hash_table_insert(vars, "promise", g_strdup(first->promise_text ? first->promise_text : ""));
  g_hash_table_insert(vars, "promise_date", payments_human_date(first->promise_date));
  replies_voice_vars(voice, vars);
  return vars;
}

/* Who the chase is from and to; FALSE (nothing queued, logged) when keel
 * has no account or no address for the client. */
static gboolean plan_parties(const KeelConfig *config, const KeelClient *client,
                             const KeelAccount **account, const char **to)
{
  *account = config->accounts->len > 0 ? config->accounts->pdata[0] : NULL;
  *to = config_client_address(client);
  if (!*account || !(*account)->user || !*to) {
    g_warning("client '%s': no account to send from or no full address to chase", client->id);
    return FALSE;
  }
  return TRUE;
}

/* The chase message's bytes for `items` (one client), with its subject and
 * Message-ID. NULL with `error` when the template is broken. */
static GBytes *plan_build(const KeelConfig *config, const KeelClient *client,
                          const KeelAccount *account, const char *to, const ChaseCalendar *cal,
                          GPtrArray *items, GDateTime *now, char **subject, char **message_id,
                          GError **error)
{
  guint top = 0;
  g_autofree char *name = plan_template_name(config, items, &top);
  g_autofree char *text = outbox_read_template(config, name, FALSE, error);
  g_autoptr(ReplyVoice) voice = text ? replies_voice_new(account, client, NULL, config->rules,
                                                         error) : NULL;
  if (!voice)
    return NULL;
  g_autoptr(GHashTable) vars = plan_vars(client, cal, items, now, voice);
  g_autofree char *body = replies_render(text, name, vars, error);
  if (!body)
    return NULL;
  const StoreInvoiceRow *first = ((const PlanItem *)items->pdata[0])->invoice;
  const char *thread_ref = items->len == 1 ? first->message_id : NULL;
  g_autoptr(GPtrArray) refs = g_ptr_array_new();
  if (thread_ref)
    g_ptr_array_add(refs, (gpointer)thread_ref);
  g_autoptr(GTimeZone) va_zone = g_time_zone_new_identifier(config->timezone);
  g_autoptr(GDateTime) date = g_date_time_to_timezone(now, va_zone ? va_zone : cal->zone);
  *subject = plan_subject(items, top);
  *message_id = replies_new_message_id(account->user);
  ReplySpec spec = { .from_name = voice->va_name, .from_address = account->user,
                     .to_name = voice->to_name, .to_address = to,
                     .subject = *subject, .in_reply_to = thread_ref,
                     .references = thread_ref ? refs : NULL, .body = body, .date = date,
                     .auto_submitted = "auto-generated" };
  return replies_build(&spec, *message_id, error);
}

/* Claims each item's step for `outbox_id`, moves the invoice's last step and
 * records a `chase_queued` event per invoice. */
static gboolean plan_claim(Store *store, GPtrArray *items, gint64 outbox_id,
                           const char *message_id, const char *subject, const char *to,
                           GDateTime *now, GError **error)
{
  for (guint i = 0; i < items->len; i++) {
    PlanItem *item = items->pdata[i];
    gboolean claimed = FALSE;
    if (!store_invoice_chase_claim(store, item->invoice->id, item->key, outbox_id, now,
                                   &claimed, error))
      return FALSE;
    if (!claimed) {
      g_set_error(error, KEEL_PAYMENTS_ERROR, KEEL_PAYMENTS_ERROR_STATE,
                  "invoice %s: chase %s was queued before; not queued again",
                  item->invoice->number, item->key);
      return FALSE;
    }
    if (item->step > 0)
      item->invoice->last_step = (int)item->step;
    const char *what = item->step ? "step" : "follow-up of the promise of";
    if (!store_invoice_update(store, item->invoice, error)
        || !payments_record(store, item->invoice, "chase_queued", outbox_id, message_id, now,
                            error, "chase %s %s queued to %s: \"%s\"", what,
                            item->step ? item->key : item->promise_date, to, subject))
      return FALSE;
  }
  return TRUE;
}

static gboolean plan_queue(Store *store, const KeelConfig *config, const KeelClient *client,
                           const ChaseCalendar *cal, GPtrArray *items, GDateTime *now,
                           PaymentsPlanStats *stats, GError **error)
{
  const KeelAccount *account = NULL;
  const char *to = NULL;
  if (!plan_parties(config, client, &account, &to))
    return TRUE;
  g_autofree char *subject = NULL, *message_id = NULL;
  g_autoptr(GBytes) raw = plan_build(config, client, account, to, cal, items, now, &subject,
                                     &message_id, error);
  if (!raw)
    return FALSE;
  const StoreInvoiceRow *first = ((const PlanItem *)items->pdata[0])->invoice;
  StoreOutboxRow row = { .account = account->name, .kind = "chase", .client_id = client->id,
                         .thread_id = items->len == 1 ? first->thread_id : 0,
                         .message_id = message_id, .mail_from = account->user,
                         .rcpt = (char *)to, .subject = subject, .raw = raw,
                         .state = "queued", .created = now };
  gint64 id = store_outbox_insert(store, &row, error);
  if (id == 0 || !plan_claim(store, items, id, message_id, subject, to, now, error))
    return FALSE;
  if (stats)
    stats->messages++, stats->steps += items->len;
  g_message("client '%s': chase of %u invoice(s) queued, outbox %" G_GINT64_FORMAT, client->id,
            items->len, id);
  return TRUE;
}

/* Everything due for one client's unpaid invoices, in one transaction. */
static gboolean plan_client(Store *store, const KeelConfig *config, const KeelClient *client,
                            GPtrArray *invoices, GDateTime *now, PaymentsPlanStats *stats,
                            GError **error)
{
  g_autoptr(GTimeZone) zone = NULL;
  ChaseCalendar cal;
  payments_calendar(config, client, &cal, &zone);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify)plan_item_free);
  if (!store_begin(store, error))
    return FALSE;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < invoices->len; i++)
    ok = plan_invoice(store, config, &cal, invoices->pdata[i], now, items, stats, error);
  if (ok && items->len > 0)
    ok = plan_queue(store, config, client, &cal, items, now, stats, error);
  if (!ok) {
    store_rollback(store);
    g_prefix_error(error, "chasing %s: ", client->id);
    return FALSE;
  }
  return store_commit(store, error);
}

gboolean payments_plan_due(Store *store, const KeelConfig *config, GDateTime *now,
                           PaymentsPlanStats *stats, GError **error)
{
  g_autoptr(GPtrArray) unpaid = store_invoice_list(store, NULL, TRUE, error);
  if (!unpaid)
    return FALSE;
  for (guint c = 0; c < config->clients->len; c++) {
    const KeelClient *client = config->clients->pdata[c];
    g_autoptr(GPtrArray) mine = g_ptr_array_new();
    gboolean any_open = FALSE;
    for (guint i = 0; i < unpaid->len; i++) {
      const StoreInvoiceRow *row = unpaid->pdata[i];
      if (g_strcmp0(row->client_id, client->id) == 0)
        g_ptr_array_add(mine, unpaid->pdata[i]);
      any_open |= g_strcmp0(row->client_id, client->id) == 0
                  && g_strcmp0(row->state, "open") == 0;
    }
    g_autoptr(GError) local = NULL;
    if (any_open && !plan_client(store, config, client, mine, now, stats, &local)) {
      /* one client's broken template must not stop the others' chases */
      if (local->domain == KEEL_STORE_ERROR) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
      }
      g_warning("%s", local->message);
    }
  }
  return TRUE;
}
