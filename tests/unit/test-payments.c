/* tests/unit/test-payments.c: payment chasing (daemon/payments/) on a
 * simulated clock, with the real rules of rules/ and the real pipeline:
 * the +3/+10/+21 schedule on business mornings across the October clock
 * change, paid before a step (no chase), part payment (the rest chased), two
 * overdue invoices in one message, a step never queued twice (also after
 * reopening the store), the VA's own chaser delaying a step, a promise
 * (silence, then a broken-promise follow-up quoting it), dispute and
 * refusal (no chase, evidence pack), any other reply pausing, an invoice
 * found in the VA's sent mail and a payment notice marking it paid. No
 * network: the chases stay QUEUED in the outbox. */
#include <glib.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <sqlite3.h>
#include <string.h>
#include "tests/unit/test-db.h"
#include "daemon/base/commands.h"
#include "daemon/digest/digest.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/outbox/outbox.h"
#include "daemon/payments/payments.h"
#include "daemon/record/verdict.h"

typedef TestDbPipeline PayFixture;

static void fixture_setup(PayFixture *f, gconstpointer data)
{
  (void)data;
  test_db_pipeline_open(f, "keel-payments",
    "timezone = Europe/London\n"
    "business_hours = Mon-Fri 09:00-17:30\n\n[account main]\nuser = jo@va.example\n\n"
    "[client acme]\nname = Bob Smith\ncontact = Bob\naddresses = bob@acme.example\n"
    "holidays = 2026-12-25;2026-12-28\n\n[payments]\ncurrency = EUR\n");
}

static void add_invoice(PayFixture *f, const char *number, const char *amount,
                        const char *currency, const char *due)
{
  PaymentsNewInvoice in = { .client = "acme", .number = number, .amount = amount,
                            .currency = currency, .issued = "2026-09-21", .due = due };
  g_autoptr(GDateTime) now = test_db_at("2026-09-21T10:00:00Z");
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreInvoiceRow) row = payments_invoice_add(f->store, f->config, &in, now, &error);
  g_assert_no_error(error);
  g_assert_nonnull(row);
}

/* Mail in (from the client) or out (the VA's Sent), through the pipeline. */
static void mail(PayFixture *f, gboolean out, const char *from, const char *subject,
                 const char *iso, const char *body)
{
  static int counter;
  g_autoptr(GDateTime) date = test_db_at(iso);
  g_autofree char *when = g_date_time_format(date, "%a, %d %b %Y %H:%M:%S +0000");
  g_autofree char *text = g_strdup_printf(
    "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <pay%d@test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", from,
    out ? "bob@acme.example" : "jo@va.example", subject, when, ++counter, body);
  g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
  StoreOrigin origin = { .direction = out ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN };
  g_autoptr(GError) error = NULL;
  StoreAddResult result;
  g_assert_true(pipeline_ingest(f->pipeline, &origin, raw, date, &result, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpint(result, ==, STORE_ADDED);
}

/* Runs the plan every 30 minutes from `from` to `to`; returns how many chase
 * messages were queued. */
static guint run_clock(PayFixture *f, const char *from, const char *to)
{
  g_autoptr(GDateTime) now = test_db_at(from);
  g_autoptr(GDateTime) end = test_db_at(to);
  guint messages = 0;
  while (g_date_time_compare(now, end) < 0) {
    PaymentsPlanStats stats = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(payments_plan_due(f->store, f->config, now, &stats, &error));
    g_assert_no_error(error);
    messages += stats.messages;
    GDateTime *later = g_date_time_add_minutes(now, 30);
    g_date_time_unref(now);
    now = later;
  }
  return messages;
}

static gint64 count(PayFixture *f, const char *sql)
{
  return test_db_int(f->path, sql);
}

/* The raw text of the `n`th chase (1 = oldest). */
static char *chase_text(PayFixture *f, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_outbox_list(f->store, NULL, &error);
  g_assert_no_error(error);
  for (guint i = 0, seen = 0; i < rows->len; i++) {
    const StoreOutboxRow *row = rows->pdata[i];
    if (g_strcmp0(row->kind, "chase") == 0 && ++seen == n) {
      gsize size = 0;
      const char *data = g_bytes_get_data(row->raw, &size);
      g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(data, size);
      g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
      g_autoptr(GMimeMessage) message = g_mime_parser_construct_message(parser, NULL);
      GMimeObject *body = g_mime_message_get_body(message);
      g_autofree char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(body));
      return g_strdup_printf("Subject: %s\n%s", row->subject, text);
    }
  }
  g_assert_not_reached();
  return NULL;
}

static StoreInvoiceRow *invoice(PayFixture *f, const char *number)
{
  g_autoptr(GError) error = NULL;
  StoreInvoiceRow *row = store_invoice_get(f->store, number, &error);
  g_assert_no_error(error);
  g_assert_nonnull(row);
  return row;
}

/* ---- the schedule ------------------------------------------------------- */

static void test_schedule(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-001", "1486.20", NULL, "2026-10-05");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-11-10T00:00:00Z"), ==, 3);
  /* Thu 8 Oct and Thu 15 Oct at 09:00 BST; Mon 26 Oct at 09:00 GMT (after the change) */
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'chase' AND created IN"
                           " (strftime('%s', '2026-10-08 08:00:00'),"
                           "  strftime('%s', '2026-10-15 08:00:00'),"
                           "  strftime('%s', '2026-10-26 09:00:00'))"), ==, 3);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM invoice_chases"), ==, 3);
  g_autofree char *first = chase_text(f, 1);
  g_assert_nonnull(strstr(first, "Invoice INV-001: payment reminder"));
  g_assert_nonnull(strstr(first, "Hi Bob,"));
  g_assert_nonnull(strstr(first, "- INV-001: €1,486.20, due 5 Oct 2026 (3 days overdue)"));
  g_autofree char *last = chase_text(f, 3);
  g_assert_nonnull(strstr(last, "final notice"));
  g_assert_nonnull(strstr(last, "21 days after"));
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'chase_queued'"), ==, 3);
}

static void test_paid_before_step(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-002", "150", "GBP", "2026-10-05");
  g_autoptr(GDateTime) paid = test_db_at("2026-10-07T12:00:00Z");
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreInvoiceRow) row = payments_invoice_paid(f->store, f->config, "INV-002", NULL,
                                                         NULL, NULL, paid, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(row->state, ==, "paid");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-11-10T00:00:00Z"), ==, 0);
}

static void test_part_payment(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-003", "1000", "GBP", "2026-10-05"); /* £ alone: no € to force UTF-8 */
  g_autoptr(GDateTime) now = test_db_at("2026-10-06T12:00:00Z");
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreInvoiceRow) row = payments_invoice_paid(f->store, f->config, "INV-003",
                                                         "2026-10-06", "400", NULL, now, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(row->state, ==, "open");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-09T00:00:00Z"), ==, 1);
  g_autofree char *text = chase_text(f, 1);
  g_assert_nonnull(strstr(text, "- INV-003: £600.00"));
}

static void test_two_invoices_one_message(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-004", "100", NULL, "2026-10-05");
  add_invoice(f, "INV-005", "12000", "JPY", "2026-10-05");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-09T00:00:00Z"), ==, 1);
  g_autofree char *text = chase_text(f, 1);
  g_assert_nonnull(strstr(text, "Invoices INV-004 and INV-005"));
  g_assert_nonnull(strstr(text, "- INV-004: €100.00"));
  g_assert_nonnull(strstr(text, "- INV-005: ¥12,000"));
  g_assert_cmpint(count(f, "SELECT COUNT(DISTINCT outbox_id) FROM invoice_chases"), ==, 1);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM invoice_chases"), ==, 2);
}

static void test_step_once(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-006", "100", NULL, "2026-10-05");
  g_assert_cmpuint(run_clock(f, "2026-10-08T08:00:00Z", "2026-10-08T08:30:00Z"), ==, 1);
  /* keel restarts: the same minute again, a fresh connection */
  g_clear_pointer(&f->store, store_close);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  pipeline_free(f->pipeline);
  f->pipeline = pipeline_new(f->config, f->store);
  g_assert_cmpuint(run_clock(f, "2026-10-08T08:00:00Z", "2026-10-14T00:00:00Z"), ==, 0);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'chase'"), ==, 1);
  /* the key itself refuses a second claim of the same step */
  gboolean claimed = TRUE;
  g_autoptr(GDateTime) now = test_db_at("2026-10-08T09:00:00Z");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-006");
  g_assert_true(store_invoice_chase_claim(f->store, row->id, "1", 0, now, &claimed, &error));
  g_assert_false(claimed);
}

static void test_own_chaser_delays(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-007", "100", NULL, "2026-10-05");
  mail(f, TRUE, "jo@va.example", "INV-007", "2026-10-07T10:00:00Z",
       "Hi Bob, just a nudge about INV-007. Thanks, Jo");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-12T08:00:00Z"), ==, 0);
  g_assert_cmpuint(run_clock(f, "2026-10-12T08:00:00Z", "2026-10-12T08:30:00Z"), ==, 1);
}

static void test_paused(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-008", "100", NULL, "2026-10-05");
  g_autoptr(GDateTime) now = test_db_at("2026-10-06T10:00:00Z");
  g_autoptr(GError) error = NULL;
  g_assert_true(payments_invoice_set_state(f->store, "INV-008", "paused", "by the VA", now,
                                           &error));
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-20T00:00:00Z"), ==, 0);
  g_assert_true(payments_invoice_set_state(f->store, "INV-008", "open", NULL, now, &error));
  /* resumed on Tue 20 Oct: only the latest step due (2) goes */
  g_assert_cmpuint(run_clock(f, "2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z"), ==, 1);
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-008");
  g_assert_cmpint(row->last_step, ==, 2);
}

/* ---- reading the answers ------------------------------------------------ */

static void test_promise_broken(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-010", "1486.20", NULL, "2026-10-05");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-08T12:00:00Z"), ==, 1);
  mail(f, FALSE, "bob@acme.example", "Re: Invoice INV-010: payment reminder",
       "2026-10-08T14:00:00Z", "Hi Jo, sorry, it slipped. I'll pay it on Tuesday. Bob");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-010");
  g_assert_cmpstr(row->promise_date, ==, "2026-10-13");
  g_assert_cmpstr(row->state, ==, "open");
  /* silence until the morning after the promised day */
  g_assert_cmpuint(run_clock(f, "2026-10-08T14:00:00Z", "2026-10-14T08:00:00Z"), ==, 0);
  g_assert_cmpuint(run_clock(f, "2026-10-14T08:00:00Z", "2026-10-14T08:30:00Z"), ==, 1);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'promise_broken'"),
                  ==, 1);
  g_autofree char *text = chase_text(f, 2);
  g_assert_nonnull(strstr(text, "payment not received"));
  g_assert_nonnull(strstr(text, "\"I'll pay it on Tuesday.\""));
  g_assert_nonnull(strstr(text, "13 Oct 2026"));
  /* step 2 (+10, Thu 15) waits 3 business days after the follow-up: Mon 19 */
  g_assert_cmpuint(run_clock(f, "2026-10-14T08:30:00Z", "2026-10-19T08:00:00Z"), ==, 0);
  g_assert_cmpuint(run_clock(f, "2026-10-19T08:00:00Z", "2026-10-19T08:30:00Z"), ==, 1);
}

static void test_dispute_evidence(PayFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "bob@acme.example", "Launch", "2026-09-10T10:00:00Z",
       "Hi Jo, please book the venue for the launch by Friday. Thanks, Bob");
  /* the confirmation keel queued for it goes to Drafts (review mode) */
  g_autoptr(GError) move_error = NULL;
  g_autoptr(GPtrArray) queued = store_outbox_list(f->store, "queued", &move_error);
  g_assert_no_error(move_error);
  g_assert_cmpuint(queued->len, ==, 1);
  StoreOutboxRow *row0 = queued->pdata[0];
  g_autoptr(GDateTime) drafted = test_db_at("2026-09-10T10:01:00Z");
  g_assert_true(outbox_move(f->store, row0, OUTBOX_CLAIMED, 1, NULL, NULL, drafted, &move_error));
  g_free(row0->state), row0->state = g_strdup("claimed");
  g_assert_true(outbox_move(f->store, row0, OUTBOX_SENDING, 1, NULL, NULL, drafted, &move_error));
  g_free(row0->state), row0->state = g_strdup("sending");
  g_assert_true(outbox_move(f->store, row0, OUTBOX_DRAFTED, 1, NULL, NULL, drafted, &move_error));
  g_assert_no_error(move_error);
  add_invoice(f, "INV-011", "640", NULL, "2026-10-05");
  mail(f, FALSE, "bob@acme.example", "INV-011", "2026-10-09T10:00:00Z",
       "Jo, this invoice is more than we agreed. You charged for travel. Bob");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-011");
  g_assert_cmpstr(row->state, ==, "paused");
  g_assert_cmpstr(row->pause_reason, ==, "dispute");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-11-10T00:00:00Z"), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *pack = payments_evidence(f->store, f->config, "INV-011", &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(pack, "book the venue for the launch"));
  g_assert_nonnull(strstr(pack, "more than we agreed"));
  g_assert_nonnull(strstr(pack, "sha256 "));
  g_autofree char *summary = payments_evidence_summary(f->store, row, &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(summary, "1 instruction(s), 1 confirmation(s)"));
}

static void test_refusal_stops(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-012", "100", NULL, "2026-10-05");
  mail(f, FALSE, "bob@acme.example", "Your invoice", "2026-10-06T10:00:00Z",
       "I'm not paying this. The work was late. Bob");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-012");
  g_assert_cmpstr(row->state, ==, "stopped");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-11-10T00:00:00Z"), ==, 0);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'refusal'"), ==, 1);
}

static void test_haggle_pauses(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-015", "450", "GBP", "2026-10-05");
  mail(f, FALSE, "bob@acme.example", "Re: INV-015", "2026-10-06T10:00:00Z",
       "Jo, £450 is a bit steep for a month. Could you knock something off? Bob");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-015");
  g_assert_cmpstr(row->state, ==, "paused");
  g_assert_cmpstr(row->pause_reason, ==, "haggle");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-11-10T00:00:00Z"), ==, 0);
}

static void test_other_reply_pauses(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-013", "100", NULL, "2026-10-05");
  add_invoice(f, "INV-014", "200", NULL, "2026-10-05");
  mail(f, FALSE, "bob@acme.example", "Re: INV-013", "2026-10-06T10:00:00Z",
       "Hi Jo, could you send me a copy of INV-013 with the PO number on it? Bob");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-013");
  g_assert_cmpstr(row->state, ==, "paused");
  g_assert_cmpstr(row->pause_reason, ==, "client replied");
  /* the other invoice is still chased, alone */
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-09T00:00:00Z"), ==, 1);
  g_autofree char *text = chase_text(f, 1);
  g_assert_nonnull(strstr(text, "Invoice INV-014:"));
  g_assert_null(strstr(text, "INV-013"));
}

static void test_sent_invoice_and_notice(PayFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, TRUE, "jo@va.example", "Invoice INV-2026-017 for October", "2026-10-01T10:00:00Z",
       "Hi Bob,\nPlease find attached invoice INV-2026-017.\nTotal: €1,486.20\n"
       "Payment due 19/10/2026.\nThanks, Jo");
  g_autoptr(StoreInvoiceRow) row = invoice(f, "INV-2026-017");
  g_assert_cmpint(row->amount, ==, 148620);
  g_assert_cmpstr(row->currency, ==, "EUR");
  g_assert_cmpstr(row->due, ==, "2026-10-19");
  g_assert_nonnull(row->message_id);
  /* a notice with the wrong amount only asks the VA */
  mail(f, FALSE, "notifications@pay.example", "Payment received", "2026-10-20T10:00:00Z",
       "You've received a payment of €1,000.00 for invoice INV-2026-017.");
  g_autoptr(StoreInvoiceRow) still = invoice(f, "INV-2026-017");
  g_assert_cmpstr(still->state, ==, "open");
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'payment_unconfirmed'"),
                  ==, 1);
  mail(f, FALSE, "notifications@pay.example", "Payment received", "2026-10-21T10:00:00Z",
       "You've received a payment of €1,486.20 for invoice INV-2026-017.");
  g_autoptr(StoreInvoiceRow) paid = invoice(f, "INV-2026-017");
  g_assert_cmpstr(paid->state, ==, "paid");
  g_assert_cmpstr(paid->paid_date, ==, "2026-10-21");
}

static void test_client_says_paid(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-030", "100", "GBP", "2026-10-05");
  add_invoice(f, "INV-031", "250", "GBP", "2026-10-05");
  mail(f, FALSE, "bob@acme.example", "Paid", "2026-10-07T10:00:00Z",
       "Hi Jo, I've paid £100 for INV-030 this morning. Bob");
  g_autoptr(StoreInvoiceRow) paid = invoice(f, "INV-030");
  g_assert_cmpstr(paid->state, ==, "paid");
  /* no number, no amount: keel asks the VA and stops chasing meanwhile */
  mail(f, FALSE, "bob@acme.example", "Re: reminder", "2026-10-08T10:00:00Z",
       "Jo, I have paid it. Bob");
  g_autoptr(StoreInvoiceRow) claimed = invoice(f, "INV-031");
  g_assert_cmpstr(claimed->state, ==, "paused");
  g_assert_cmpstr(claimed->pause_reason, ==, "client says it is paid");
  g_assert_cmpuint(run_clock(f, "2026-10-05T00:00:00Z", "2026-10-20T00:00:00Z"), ==, 0);
}

static void test_first_sync_reads_nothing(PayFixture *f, gconstpointer data)
{
  (void)data;
  g_autofree char *text = g_strdup(
    "From: jo@va.example\r\nTo: bob@acme.example\r\nSubject: Invoice INV-2019-001\r\n"
    "Date: Mon, 07 Jan 2019 10:00:00 +0000\r\nMessage-ID: <old@test>\r\n\r\n"
    "Invoice INV-2019-001. Total: €100.00. Payment due 2019-01-21.\r\n");
  g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
  StoreOrigin origin = { .direction = STORE_DIRECTION_OUT, .first_sync = TRUE };
  g_autoptr(GError) error = NULL;
  g_assert_true(pipeline_ingest(f->pipeline, &origin, raw, NULL, NULL, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM invoices"), ==, 0);
}

/* ---- the schema --------------------------------------------------------- */

/* A version-5 database (before invoices) gains the invoice tables, keeping
 * its rows; the chase key refuses a second row for the same step. */
static void test_migrate_from_5(PayFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "bob@acme.example", "Hello", "2026-10-01T10:00:00Z", "Hi Jo. Bob");
  pipeline_free(f->pipeline);
  f->pipeline = NULL;
  g_clear_pointer(&f->store, store_close);
  test_db_rewind(f->path, 5);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  f->pipeline = pipeline_new(f->config, f->store);
  g_assert_cmpint(store_schema_version(f->store), ==, store_schema_latest());
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM messages"), ==, 1);
  add_invoice(f, "INV-050", "100", NULL, "2026-10-05");
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM invoices"), ==, 1);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db, "INSERT INTO invoice_chases (invoice_id, step, created)"
                                   " VALUES (1, '1', 0); INSERT INTO invoice_chases"
                                   " (invoice_id, step, created) VALUES (1, '1', 0);",
                               NULL, NULL, NULL), ==, SQLITE_CONSTRAINT);
  sqlite3_close(db);
}

/* ---- the digest -------------------------------------------------------- */

static gboolean has_line(GPtrArray *lines, const char *needle)
{
  for (guint i = 0; i < lines->len; i++)
    if (strstr(lines->pdata[i], needle))
      return TRUE;
  return FALSE;
}

static void test_digest_section(PayFixture *f, gconstpointer data)
{
  (void)data;
  add_invoice(f, "INV-020", "100", NULL, "2026-10-05");
  add_invoice(f, "INV-021", "200", NULL, "2026-10-05");
  add_invoice(f, "INV-022", "300", NULL, "2026-10-05");
  mail(f, FALSE, "bob@acme.example", "INV-021", "2026-10-12T10:00:00Z",
       "This invoice is more than we agreed. Bob");
  mail(f, FALSE, "bob@acme.example", "INV-022", "2026-10-19T10:00:00Z",
       "Hi Jo, I'll pay INV-022 on Tuesday. Bob");
  mail(f, FALSE, "bob@acme.example", "New job", "2026-10-19T11:00:00Z",
       "Hi Jo, please update the tenant list by Friday. Thanks, Bob");
  g_autoptr(GDateTime) now = test_db_at("2026-10-20T07:00:00Z");
  g_autoptr(GError) error = NULL;
  g_autoptr(Digest) digest = digest_gather(f->store, f->config, NULL, now, &error);
  g_assert_no_error(error);
  g_assert_true(has_line(digest->payments, "INV-020 (Bob Smith, €100.00): 15 days overdue"));
  g_assert_true(has_line(digest->payments, "INV-021 (Bob Smith, €200.00): paused, waiting for "
                                           "you (dispute)"));
  g_assert_true(has_line(digest->payments, "evidence: "));
  g_assert_true(has_line(digest->payments, "INV-022 (Bob Smith, €300.00): promised for today"));
  g_assert_true(has_line(digest->payments, "Bob Smith is still sending work with INV-020 15 days "
                                           "overdue; consider asking for payment up front"));
  g_autofree char *text = digest_render_text(digest);
  g_assert_nonnull(strstr(text, "\nPAYMENTS\n"));
  g_autofree char *subject = digest_subject(digest);
  g_assert_nonnull(strstr(subject, "about payments"));
}

/* ---- promised dates in labelled mail (../shared/corpus) ----------------- */

/* Every message the corpus labels `promise`, with the day it promises as I
 * read it (NULL: no day, "this week"). */
static const struct { const char *world, *file, *date; } promised[] = {
  { "dev", "018.eml", NULL },         /* "this week" */
  { "dev", "035.eml", "2026-03-27" }, /* "in full on Friday 27th" */
  { "us", "235.eml", "2026-04-24" },  /* "MONEY GOES OUT FRIDAY" (Mon 20 Apr) */
  { "us", "246.eml", "2026-05-05" },  /* "I pay the invoice on the 5th" (27 Apr) */
  { "au", "319.eml", "2026-03-27" },  /* "The money goes out Friday with the pay run" */
  { "au", "344.eml", "2026-04-15" },  /* "I'll pay it on the 15th" */
  { "ph", "427.eml", "2026-10-23" },  /* "he'll mail the check on Friday the 23rd" */
  { "ph", "434.eml", "2026-10-23" },  /* "I'll pay it today." */
  { "ph", "440.eml", "2026-10-30" },  /* "goes out in Friday's payment run (Oct 30)" */
};

/* One corpus message and its world's config (with this tree's rules). */
static KeelMessage *corpus_message(const char *world, const char *file, KeelConfig **config)
{
  g_autofree char *dir = g_build_filename(g_getenv("KEEL_SHARED"), "corpus", world, NULL);
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *rules = g_build_filename(g_getenv("KEEL_SOURCE_ROOT"), "rules", NULL);
  *config = config_load_with_rules(conf, rules, &error);
  g_assert_no_error(error);
  g_autofree char *raw = NULL;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path, &raw, &size, &error));
  KeelMessage *message = message_parse((const guint8 *)raw, size, NULL, 0, &error);
  g_assert_no_error(error);
  return message;
}

/* The promised day of one corpus message, with its world's config. */
static char *corpus_promise(const char *world, const char *file)
{
  g_autoptr(KeelConfig) config = NULL;
  g_autoptr(KeelMessage) message = corpus_message(world, file, &config);
  const KeelClient *client = config_client_for_address(config, message->from->address);
  g_autofree char *date = NULL, *quote = NULL;
  payments_promised_date(config, client, message, &date, &quote);
  g_test_message("%s/%s: %s \"%s\"", world, file, date ? date : "(no day)", quote ? quote : "");
  return g_steal_pointer(&date);
}

static void test_corpus_promises(void)
{
  g_autofree char *readme = g_build_filename(g_getenv("KEEL_SHARED") ? g_getenv("KEEL_SHARED")
                                             : "/nonexistent", "corpus", "README.md", NULL);
  if (!g_file_test(readme, G_FILE_TEST_EXISTS)) {
    g_test_skip("no labelled corpus in $KEEL_SHARED");
    return;
  }
  guint right = 0;
  for (gsize i = 0; i < G_N_ELEMENTS(promised); i++) {
    g_autofree char *date = corpus_promise(promised[i].world, promised[i].file);
    right += g_strcmp0(date, promised[i].date) == 0;
  }
  g_test_message("promised days read right: %u of %zu", right, G_N_ELEMENTS(promised));
  g_assert_cmpuint(right, >=, G_N_ELEMENTS(promised) - 1);
}

/* Every message the corpus labels `paid`, with the invoice it pays as I
 * read it (number, amount left, currency) and whether it says both. */
static const struct {
  const char *world, *file, *number;
  gint64 amount;
  const char *currency;
  gboolean names_both;
} paid_notices[] = {
  { "dev", "002.eml", "BD-2026-018", 54000, "GBP", TRUE },   /* Settle */
  { "dev", "038.eml", "BD-2026-031", 30000, "GBP", FALSE },  /* "I've paid it this morning" */
  { "us", "217.eml", "NS-1044", 86000, "USD", TRUE },        /* Ledgerly */
  { "us", "247.eml", "NS-1058", 93500, "USD", TRUE },        /* Paystream */
  { "au", "320.eml", "INV-0205", 246400, "AUD", TRUE },      /* Xero */
  { "au", "333.eml", "INV-0214", 110000, "AUD", TRUE },      /* Xero */
  { "au", "343.eml", "INV-0222", 66000, "AUD", FALSE },      /* "I've paid this morning" */
  { "au", "346.eml", "INV-0221", 154000, "AUD", TRUE },      /* "full amount AUD 1,540.00 by TT" */
  { "au", "348.eml", "INV-0219", 138600, "AUD", TRUE },      /* "paid INV-0219 in full ($1,386)" */
  { "ph", "403.eml", "BVA-2026-0930-VH", 148000, "USD", TRUE }, /* PayNimbus, note quotes it */
  { "ph", "412.eml", "BVA-2026-0915", 62000, "GBP", TRUE },  /* Brightwire "Reference:" */
};

static void test_corpus_notices(void)
{
  g_autofree char *readme = g_build_filename(g_getenv("KEEL_SHARED") ? g_getenv("KEEL_SHARED")
                                             : "/nonexistent", "corpus", "README.md", NULL);
  if (!g_file_test(readme, G_FILE_TEST_EXISTS)) {
    g_test_skip("no labelled corpus in $KEEL_SHARED");
    return;
  }
  guint right = 0, total = 0;
  for (gsize i = 0; i < G_N_ELEMENTS(paid_notices); i++) {
    g_autoptr(KeelConfig) config = NULL;
    g_autoptr(KeelMessage) message = corpus_message(paid_notices[i].world, paid_notices[i].file,
                                                    &config);
    StoreInvoiceRow row = { .number = (char *)paid_notices[i].number,
                            .amount = paid_notices[i].amount,
                            .currency = (char *)paid_notices[i].currency };
    gboolean matched = payments_notice_matches(config, message, &row);
    g_test_message("%s/%s %s: %s", paid_notices[i].world, paid_notices[i].file, row.number,
                   matched ? "marks it paid" : "asks the VA");
    right += matched == paid_notices[i].names_both;
    total++;
    /* a different amount never pays it */
    row.amount += 1;
    g_assert_false(payments_notice_matches(config, message, &row));
  }
  g_test_message("payment notices read right: %u of %u", right, total);
  g_assert_cmpuint(right, ==, total);
}

/* ---- global options before the command --------------------------------- */

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_mime_init();
#define ADD(path, fn) \
  g_test_add(path, PayFixture, NULL, fixture_setup, fn, test_db_pipeline_teardown)
  ADD("/payments/schedule/steps-business-mornings-dst", test_schedule);
  ADD("/payments/schedule/paid-before-step", test_paid_before_step);
  ADD("/payments/schedule/part-payment", test_part_payment);
  ADD("/payments/schedule/two-invoices-one-message", test_two_invoices_one_message);
  ADD("/payments/schedule/step-once-across-restart", test_step_once);
  ADD("/payments/schedule/own-chaser-delays", test_own_chaser_delays);
  ADD("/payments/schedule/pause-resume", test_paused);
  ADD("/payments/answers/promise-broken", test_promise_broken);
  ADD("/payments/answers/dispute-evidence", test_dispute_evidence);
  ADD("/payments/answers/refusal-stops", test_refusal_stops);
  ADD("/payments/answers/haggle-pauses", test_haggle_pauses);
  ADD("/payments/answers/other-reply-pauses", test_other_reply_pauses);
  ADD("/payments/answers/sent-invoice-and-notice", test_sent_invoice_and_notice);
  ADD("/payments/answers/client-says-paid", test_client_says_paid);
  ADD("/payments/answers/first-sync-reads-nothing", test_first_sync_reads_nothing);
  ADD("/payments/digest/section", test_digest_section);
  ADD("/payments/schema/migrate-from-5", test_migrate_from_5);
  g_test_add_func("/payments/corpus/promised-days", test_corpus_promises);
  g_test_add_func("/payments/corpus/payment-notices", test_corpus_notices);
  int rc = g_test_run();
  g_mime_shutdown();
  return rc;
}
