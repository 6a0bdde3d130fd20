/* daemon/payments/answers.c: payments_after_message(), the pipeline's hook.
 * Runs inside the pipeline's transaction, after the verdict was saved, so
 * the message's payment category (payment.rules: refusal > dispute > haggle
 * > promise > question > paid) is read back from the store.
 *
 *   the VA's own mail      invoices.rules finds number and amount: a new
 *                          invoice, threaded on that email (never from what
 *                          keel itself wrote: chases, confirmations)
 *   a client's message     about an invoice (names its number, or answers
 *                          its email or a chase; a payment category with no
 *                          number means all the client's overdue invoices):
 *                          promise  -> promised date recorded, chasing waits
 *                                      until the day after (chase-plan.c)
 *                          dispute, haggle -> paused for the VA
 *                          refusal  -> stopped
 *                          paid     -> paid when number and amount match,
 *                                      else paused for the VA to confirm
 *                          anything else -> paused: a person answers a person
 *   a payment notice       names an unpaid invoice's number and the amount
 *                          left: paid
 * Times recorded are the message's Date, so a replayed mailbox tells the
 * same story. Must not: queue mail, or read anything from history (first
 * sync) or automated mail from a client.
 */
#include <string.h>
#include "daemon/outbox/outbox.h"
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "filters/cleanup.h"
#include "filters/deadlines.h"
#include "filters/money.h"

#define ANSWERS_DEFAULT_TERMS "14d"
#define ANSWERS_QUOTE_MAX 200

/* What invoices.rules found in one text; owned strings, NULL = not found. */
typedef struct {
  char *number, *amount, *currency, *due, *terms;
  char *weekday, *next, *day, *month, *relative; /* a promised day (`promise` rules) */
  gsize promise_offset;                /* where the promise rule matched */
  gboolean notice;
} AnswersFacts;

static void answers_facts_clear(AnswersFacts *facts)
{
  g_free(facts->number), g_free(facts->amount), g_free(facts->currency);
  g_free(facts->due), g_free(facts->terms);
  g_free(facts->weekday), g_free(facts->next), g_free(facts->day), g_free(facts->month);
  g_free(facts->relative);
  memset(facts, 0, sizeof *facts);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AnswersFacts, answers_facts_clear)

/* Reads and compiles <rules>/NAME; NULL (logged) when it cannot. */
static LiteRuleSet *answers_rules(const KeelConfig *config, const char *name)
{
  g_autofree char *path = g_build_filename(config->rules, name, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  LiteRuleSet *set = g_file_get_contents(path, &text, NULL, &error)
                       ? lite_rules_read(text, path, &error) : NULL;
  if (!set && g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_debug("%s: missing: invoices are not read from mail", path);
  else if (!set)
    g_warning("%s: %s (invoices are not read from mail until it is fixed)", path,
              error->message);
  return set;
}

/* Keeps the first value of capture `group` (into `*slot`). */
static void answers_take(const LiteRule *rule, const char *text, pcre2_match_data *match,
                         const char *group, char **slot)
{
  if (*slot)
    return;
  *slot = lite_rule_capture(rule, text, match, group);
}

static void answers_find(const LiteRuleSet *set, const char *text, AnswersFacts *facts)
{
  for (guint i = 0; i < set->rules->len; i++) {
    const LiteRule *rule = set->rules->pdata[i];
    g_autoptr(pcre2_match_data) match = pcre2_match_data_create_from_pattern(rule->code, NULL);
    g_autoptr(GError) error = NULL;
    if (lite_rule_match(rule, text, 0, match, &error) != 1)
      continue;
    if (strcmp(rule->dimension, "notice") == 0)
      facts->notice = TRUE;
    if (strcmp(rule->dimension, "promise") == 0 && !facts->weekday && !facts->day
        && !facts->relative) {
      facts->promise_offset = pcre2_get_ovector_pointer(match)[0];
      answers_take(rule, text, match, "weekday", &facts->weekday);
      answers_take(rule, text, match, "next", &facts->next);
      answers_take(rule, text, match, "day", &facts->day);
      answers_take(rule, text, match, "month", &facts->month);
      answers_take(rule, text, match, "relative", &facts->relative);
      continue;
    }
    answers_take(rule, text, match, "number", &facts->number);
    answers_take(rule, text, match, "amount", &facts->amount);
    answers_take(rule, text, match, "currency", &facts->currency);
    answers_take(rule, text, match, "due", &facts->due);
    answers_take(rule, text, match, "terms", &facts->terms);
  }
  for (char *p = facts->currency; p && *p; p++)
    *p = g_ascii_toupper(*p); /* "aud" -> "AUD"; a symbol's bytes are not ASCII */
}

/* Subject and new text of `message` through invoices.rules. */
static void answers_read(const KeelConfig *config, const KeelMessage *message,
                         AnswersFacts *facts)
{
  g_autoptr(LiteRuleSet) set = answers_rules(config, "invoices.rules");
  if (!set)
    return;
  g_autofree char *text = g_strdup_printf("%s\n%s", message->subject ? message->subject : "",
                                          message->new_text ? message->new_text : "");
  answers_find(set, text, facts);
}

/* "2026-10-19", "19/10/2026" (month first for a US client), "19 October
 * 2026" -> "YYYY-MM-DD" (new string), or NULL. */
static char *answers_due_date(const char *text, gboolean month_first)
{
  static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                        "sep", "oct", "nov", "dec" };
  GDate date;
  if (chase_parse_date(text, &date))
    return chase_format_date(&date);
  unsigned a = 0, b = 0, year = 0;
  char word[16] = "";
  int month = 0, day = 0;
  if (sscanf(text, "%u/%u/%u", &a, &b, &year) == 3) {
    day = (int)(month_first ? b : a);
    month = (int)(month_first ? a : b);
  } else if (sscanf(text, "%u %15s %u", &a, word, &year) == 3) {
    day = (int)a;
    for (int i = 0; i < 12; i++)
      if (g_ascii_strncasecmp(word, months[i], 3) == 0)
        month = i + 1;
  }
  if (month < 1 || !g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year))
    return NULL;
  g_date_clear(&date, 1);
  g_date_set_dmy(&date, (GDateDay)day, (GDateMonth)month, (GDateYear)year);
  return chase_format_date(&date);
}

static gboolean answers_currency_fits(const AnswersFacts *facts, const char *code);

/* The currency of the facts: a symbol or code, else the config's ("$" is
 * the config's when that is a dollar, else USD). */
static const char *answers_currency(const KeelConfig *config, const AnswersFacts *facts)
{
  if (facts->currency && strcmp(facts->currency, "$") == 0
      && answers_currency_fits(facts, config->payments_currency))
    return config->payments_currency;
  const char *code = facts->currency ? money_currency_for_symbol(facts->currency) : NULL;
  if (code)
    return code;
  if (facts->currency && money_currency_valid(facts->currency))
    return facts->currency;
  return config->payments_currency;
}

/* Records the invoice `facts` describe, from the VA's email `in` (issued on
 * its Date, due on `due`, else after `terms` days, else after 14). A number
 * or amount the store refuses is logged, not an error. */
static gboolean answers_record_invoice(Store *store, const PaymentsMessage *in,
                                       const AnswersFacts *facts, GError **error)
{
  g_autoptr(GTimeZone) zone = NULL;
  ChaseCalendar cal;
  payments_calendar(in->config, in->client, &cal, &zone);
  GDate issued;
  chase_local_date(&cal, in->message->date, &issued);
  g_autofree char *issued_text = chase_format_date(&issued);
  gboolean month_first = in->client->date_order == KEEL_DATE_ORDER_US;
  g_autofree char *due = facts->due ? answers_due_date(facts->due, month_first) : NULL;
  g_autofree char *terms = due ? NULL : facts->terms ? g_strdup_printf("%sd", facts->terms)
                                                     : g_strdup(ANSWERS_DEFAULT_TERMS);
  PaymentsNewInvoice invoice = {
    .client = in->client->id, .number = facts->number, .amount = facts->amount,
    .currency = answers_currency(in->config, facts), .issued = issued_text, .due = due,
    .terms = terms, .message_id = in->message->message_id, .thread_id = in->thread_id,
    .source = "found in the VA's sent mail",
  };
  GError *local = NULL;
  g_autoptr(StoreInvoiceRow) row = payments_invoice_add(store, in->config, &invoice,
                                                        in->message->date, &local);
  if (!row && local->domain == KEEL_STORE_ERROR) {
    g_propagate_error(error, local);
    return FALSE;
  }
  if (!row) {
    g_message("invoice %s in <%s> not recorded: %s", facts->number, in->message->message_id,
              local->message);
    g_error_free(local);
  }
  return TRUE;
}

/* The VA's invoice email to `in->client`: a new invoice when number and
 * amount are found and the number is not recorded yet. */
static gboolean answers_sent_invoice(Store *store, const PaymentsMessage *in, GError **error)
{
  gboolean keel_wrote = FALSE;
  if (!store_invoice_is_keel_message(store, in->message->message_id, &keel_wrote, error))
    return FALSE;
  if (keel_wrote)
    return TRUE; /* a chase or a confirmation keel sent, back from Sent */
  g_auto(AnswersFacts) facts = { 0 };
  answers_read(in->config, in->message, &facts);
  if (!facts.number || !facts.amount || facts.notice)
    return TRUE;
  GError *local = NULL;
  g_autoptr(StoreInvoiceRow) existing = store_invoice_get(store, facts.number, &local);
  if (local) {
    g_propagate_error(error, local);
    return FALSE;
  }
  return existing || answers_record_invoice(store, in, &facts, error);
}

/* The sentence of `text` around byte `offset`, at most ANSWERS_QUOTE_MAX
 * bytes, on one line. New string. */
static char *answers_quote(const char *text, gsize offset)
{
  gsize len = strlen(text), start = MIN(offset, len), end = start;
  while (start > 0 && !strchr(".!?\n", text[start - 1]))
    start--;
  while (end < len && !strchr(".!?\n", text[end]))
    end++;
  if (end < len && text[end] != '\n')
    end++;
  g_autofree char *sentence = g_strstrip(g_strndup(text + start, end - start));
  g_strdelimit(sentence, "\r\n\t", ' ');
  if (strlen(sentence) <= ANSWERS_QUOTE_MAX)
    return g_steal_pointer(&sentence);
  const char *cut = g_utf8_find_prev_char(sentence, sentence + ANSWERS_QUOTE_MAX);
  return g_strdup_printf("%.*s...", (int)(cut - sentence), sentence);
}

/* The day invoices.rules' `promise` rules found in `text`, resolved like a
 * deadline; FALSE when they found none. */
static gboolean answers_promise_rules(const KeelConfig *config, GDateTime *sent,
                                      const InstructionContext *ctx, const char *text,
                                      char **date, char **quote)
{
  g_autoptr(LiteRuleSet) set = answers_rules(config, "invoices.rules");
  g_auto(AnswersFacts) facts = { 0 };
  if (set)
    answers_find(set, text, &facts);
  if (!facts.weekday && !facts.day && !facts.relative)
    return FALSE;
  DeadlinePhrase phrase = { .weekday = facts.weekday, .next = facts.next, .day = facts.day,
                            .month = facts.month, .relative = facts.relative };
  g_autoptr(GDateTime) when = NULL;
  if (deadline_resolve(&phrase, sent, &ctx->dates, &when) < DEADLINE_DAY || !when)
    return FALSE;
  *date = g_date_time_format(when, "%Y-%m-%d");
  *quote = answers_quote(text, facts.promise_offset);
  return TRUE;
}

gboolean payments_promised_date(const KeelConfig *config, const KeelClient *client,
                                const KeelMessage *message, char **date, char **quote)
{
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(config, client, &ctx, &zone);
  const char *text = message->new_text ? message->new_text : "";
  *date = *quote = NULL;
  return answers_promise_rules(config, message->date, &ctx, text, date, quote);
}

/* Sets `row`'s state and reason and records `kind` with `what`. */
static gboolean answers_hold(Store *store, const PaymentsMessage *in, StoreInvoiceRow *row,
                             const char *state, const char *reason, const char *kind,
                             const char *what, GError **error)
{
  g_free(row->state), row->state = g_strdup(state);
  g_free(row->pause_reason), row->pause_reason = g_strdup(reason);
  g_clear_pointer(&row->promise_date, g_free);
  g_clear_pointer(&row->promise_text, g_free);
  return store_invoice_update(store, row, error)
    && payments_record(store, row, kind, 0, in->message->message_id, in->message->date, error,
                       "%s; chasing %s (%s)", what, g_strcmp0(state, "stopped") == 0
                                                     ? "stopped" : "paused for the VA", reason);
}

/* "I'll pay on Friday": the date and the words, chasing waits. */
static gboolean answers_promised(Store *store, const PaymentsMessage *in, StoreInvoiceRow *row,
                                 const char *text, GError **error)
{
  g_autofree char *date = NULL, *quote = NULL;
  if (!payments_promised_date(in->config, in->client, in->message, &date, &quote)) {
    g_autofree char *words = answers_quote(text, 0);
    g_autofree char *what = g_strdup_printf("the client promised payment without a date: \"%s\"",
                                            words);
    return answers_hold(store, in, row, "paused", "client replied", "client_reply", what, error);
  }
  g_free(row->promise_date), row->promise_date = g_strdup(date);
  g_free(row->promise_text), row->promise_text = g_strdup(quote);
  return store_invoice_update(store, row, error)
    && payments_record(store, row, "promise", 0, in->message->message_id, in->message->date,
                       error, "the client promised payment by %s: \"%s\"; no chase until the "
                       "day after", date, quote);
}

/* TRUE when the currency `facts` name (if any) is `code`'s: "$" fits every
 * dollar, "AUD" only itself. */
static gboolean answers_currency_fits(const AnswersFacts *facts, const char *code)
{
  static const char *const dollars[] = { "USD", "AUD", "NZD", "CAD", "SGD", "HKD", NULL };
  if (!facts->currency)
    return TRUE;
  if (strcmp(facts->currency, "$") == 0)
    return g_strv_contains(dollars, code);
  const char *named = money_currency_for_symbol(facts->currency);
  g_autofree char *upper = g_ascii_strup(facts->currency, -1);
  return g_strcmp0(named ? named : upper, code) == 0;
}

/* TRUE when `facts` name `row` and exactly the amount left to pay. */
static gboolean answers_exact(const AnswersFacts *facts, const StoreInvoiceRow *row)
{
  gint64 minor = 0;
  return facts->number && g_ascii_strcasecmp(facts->number, row->number) == 0 && facts->amount
         && answers_currency_fits(facts, row->currency)
         && money_parse(facts->amount, row->currency, &minor, NULL)
         && minor == row->amount - row->paid;
}

gboolean payments_notice_matches(const KeelConfig *config, const KeelMessage *message,
                                 const StoreInvoiceRow *invoice)
{
  g_auto(AnswersFacts) facts = { 0 };
  answers_read(config, message, &facts);
  return answers_exact(&facts, invoice);
}

/* "I've paid" or a notice: paid when number and amount match, else the VA
 * is asked (a client's claim also pauses chasing). */
static gboolean answers_paid(Store *store, const PaymentsMessage *in, StoreInvoiceRow *row,
                             const AnswersFacts *facts, GError **error)
{
  if (answers_exact(facts, row)) {
    g_autoptr(GTimeZone) zone = NULL;
    ChaseCalendar cal;
    payments_calendar(in->config, in->client, &cal, &zone);
    GDate day;
    chase_local_date(&cal, in->message->date, &day);
    g_autofree char *date = chase_format_date(&day);
    g_autofree char *source = g_strdup_printf("payment notice <%s>", in->message->message_id);
    return payments_invoice_apply_payment(store, row, row->amount - row->paid, date, source,
                                          in->message->date, error);
  }
  g_autofree char *left = payments_left_text(row);
  g_autofree char *what = g_strdup_printf("a message says it is paid, but does not name %s and "
                                          "%s: confirm with keel invoice paid %s", row->number,
                                          left, row->number);
  if (!in->client)
    return payments_record(store, row, "payment_unconfirmed", 0, in->message->message_id,
                           in->message->date, error, "%s", what);
  return answers_hold(store, in, row, "paused", "client says it is paid", "payment_claimed",
                      what, error);
}

/* One invoice the client's message is about, read by its category. */
static gboolean answers_apply(Store *store, const PaymentsMessage *in, StoreInvoiceRow *row,
                              const char *category, const AnswersFacts *facts, const char *text,
                              GError **error)
{
  if (g_strcmp0(category, "paid") == 0)
    return answers_paid(store, in, row, facts, error);
  if (g_strcmp0(category, "promise") == 0)
    return answers_promised(store, in, row, text, error);
  g_autofree char *words = answers_quote(text, 0);
  g_autofree char *what = g_strdup_printf("the client wrote: \"%s\"", words);
  if (g_strcmp0(category, "refusal") == 0)
    return answers_hold(store, in, row, "stopped", "refusal", "refusal", what, error);
  if (g_strcmp0(category, "dispute") == 0 || g_strcmp0(category, "haggle") == 0)
    return answers_hold(store, in, row, "paused", category, category, what, error);
  return answers_hold(store, in, row, "paused", "client replied", "client_reply", what, error);
}

/* TRUE for a category that speaks of money even without an invoice number. */
static gboolean answers_about_money(const char *category)
{
  static const char *const money[] = { "promise", "dispute", "refusal", "haggle", "paid", NULL };
  return category && g_strv_contains(money, category);
}

/* The unpaid invoices of `unpaid` the message is about (borrowed rows): those
 * it names or whose thread it answers; failing that, for a money category,
 * every one already due or chased. */
static GPtrArray *answers_concerned(Store *store, const PaymentsMessage *in, GPtrArray *unpaid,
                                    const char *category, const char *text, GError **error)
{
  GError *local = NULL;
  g_autofree char *thread_number = store_invoice_for_thread(store, in->thread_id, &local);
  if (local) {
    g_propagate_error(error, local);
    return NULL;
  }
  g_autofree char *folded = g_ascii_strup(text, -1);
  GPtrArray *out = g_ptr_array_new();
  for (guint i = 0; i < unpaid->len; i++) {
    StoreInvoiceRow *row = unpaid->pdata[i];
    g_autofree char *number = g_ascii_strup(row->number, -1);
    if (strstr(folded, number) || g_strcmp0(thread_number, row->number) == 0)
      g_ptr_array_add(out, row);
  }
  g_autoptr(GTimeZone) zone = NULL;
  ChaseCalendar cal;
  payments_calendar(in->config, in->client, &cal, &zone);
  for (guint i = 0; out->len == 0 && answers_about_money(category) && i < unpaid->len; i++) {
    StoreInvoiceRow *row = unpaid->pdata[i];
    if (row->last_step > 0 || payments_days_overdue(row, &cal, in->message->date) >= 0)
      g_ptr_array_add(out, row);
  }
  return out;
}

/* Mail from someone who is not a client (a payment provider, a bank) or
 * automated mail: a notice naming an unpaid invoice. */
static gboolean answers_notice(Store *store, const PaymentsMessage *in, const char *category,
                               GError **error)
{
  g_auto(AnswersFacts) facts = { 0 };
  answers_read(in->config, in->message, &facts);
  if ((!facts.notice && g_strcmp0(category, "paid") != 0) || !facts.number)
    return TRUE;
  GError *local = NULL;
  g_autoptr(StoreInvoiceRow) row = store_invoice_get(store, facts.number, &local);
  if (local) {
    g_propagate_error(error, local);
    return FALSE;
  }
  if (!row || g_strcmp0(row->state, "paid") == 0)
    return TRUE;
  PaymentsMessage notice = *in;
  notice.client = NULL;
  return answers_paid(store, &notice, row, &facts, error);
}

/* A client's message: each unpaid invoice it is about, read by category. */
static gboolean answers_client(Store *store, const PaymentsMessage *in, const char *category,
                               const char *new_text, GError **error)
{
  g_autoptr(GPtrArray) unpaid = store_invoice_list(store, in->client->id, TRUE, error);
  if (!unpaid)
    return FALSE;
  if (unpaid->len == 0)
    return TRUE;
  g_autofree char *text = g_strdup_printf("%s\n%s", in->message->subject, new_text);
  g_autoptr(GPtrArray) concerned = answers_concerned(store, in, unpaid, category, text, error);
  if (!concerned)
    return FALSE;
  g_auto(AnswersFacts) facts = { 0 };
  if (concerned->len > 0 && g_strcmp0(category, "paid") == 0)
    answers_read(in->config, in->message, &facts);
  for (guint i = 0; i < concerned->len; i++)
    if (!answers_apply(store, in, concerned->pdata[i], category, &facts, new_text, error))
      return FALSE;
  return TRUE;
}

gboolean payments_after_message(Store *store, const PaymentsMessage *in, GError **error)
{
  if (in->first_sync || !in->config)
    return TRUE;
  if (in->outgoing)
    return !in->client || answers_sent_invoice(store, in, error);
  g_autofree char *category = NULL, *new_text = NULL;
  if (!store_invoice_message_reading(store, in->row_id, &category, &new_text, error))
    return FALSE;
  if (!in->client || in->message->automated)
    return answers_notice(store, in, category, error);
  return answers_client(store, in, category, new_text ? new_text : "", error);
}
