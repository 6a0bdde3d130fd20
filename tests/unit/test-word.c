/* tests/unit/test-word.c: keeping the VA's word (daemon/record/word.c and the
 * digest's use of it), with the real rules of rules/ and the real pipeline on
 * a simulated clock: a promise in her sent mail recorded with its due time
 * and closed by her later reply; an instruction marked probably done by a
 * "Done, attached" reply (out of the overdue list, in "your word" with its
 * ID, back after reopen); history (a first-sync import of last year's mail)
 * never listed as overdue or waiting, except inside history_window; a
 * handled thread out of the digest until new client mail; a calm holding
 * draft for a risky message, quoting the trail, whose sent copy is a tracked
 * promise; v8 -> v9. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include "tests/unit/test-db.h"
#include "daemon/digest/digest.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/outbox/holding.h"
#include "daemon/record/verdict.h"
#include "daemon/record/word.h"

typedef TestDbPipeline WordFixture;

static void fixture_setup(WordFixture *f, gconstpointer data)
{
  (void)data;
  test_db_pipeline_open(f, "keel-word",
    "timezone = Europe/London\n"
    "business_hours = Mon-Fri 09:00-17:30\n\n[account main]\nuser = jo@va.example\n\n"
    "[client acme]\nname = Acme Lettings\naddresses = bob@acme.example\n");
}

/* Mail in (from the client) or out (her Sent) as message <id@test>, a reply
 * to <reply_to@test> when `reply_to` is set; `attach` adds a PDF. */
static void mail(WordFixture *f, gboolean out, const char *id, const char *reply_to,
                 const char *iso, const char *body, gboolean attach, gboolean history)
{
  g_autoptr(GDateTime) date = test_db_at(iso);
  g_autofree char *when = g_date_time_format(date, "%a, %d %b %Y %H:%M:%S %z");
  g_autofree char *refs = reply_to ? g_strdup_printf("In-Reply-To: <%s@test>\r\n", reply_to)
                                   : g_strdup("");
  g_autofree char *part = attach
    ? g_strdup_printf("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: "
                      "text/plain; charset=utf-8\r\n\r\n%s\r\n--b\r\nContent-Type: "
                      "application/pdf; name=report.pdf\r\nContent-Disposition: attachment; "
                      "filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                      "JVBERi0xLjQK\r\n--b--\r\n", body)
    : g_strdup_printf("Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", body);
  g_autofree char *text = g_strdup_printf(
    "From: %s\r\nTo: %s\r\nSubject: %sMarch report\r\nDate: %s\r\nMessage-ID: <%s@test>\r\n"
    "%sMIME-Version: 1.0\r\n%s", out ? "Jo <jo@va.example>" : "Bob <bob@acme.example>",
    out ? "bob@acme.example" : "jo@va.example", reply_to ? "Re: " : "", when, id, refs, part);
  g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
  StoreOrigin origin = { .direction = out ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN,
                         .first_sync = history };
  g_autoptr(GError) error = NULL;
  StoreAddResult result;
  g_assert_true(pipeline_ingest(f->pipeline, &origin, raw, date, &result, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpint(result, ==, STORE_ADDED);
}

static Digest *digest_at(WordFixture *f, const char *iso)
{
  g_autoptr(GDateTime) now = test_db_at(iso);
  g_autoptr(GError) error = NULL;
  DigestOptions options;
  digest_options_from_config(&options, f->config);
  options.rules = f->rules;
  Digest *digest = digest_gather(f->store, f->config, &options, now, &error);
  g_assert_no_error(error);
  return digest;
}

static gboolean lines_have(GPtrArray *lines, const char *needle)
{
  for (guint i = 0; i < lines->len; i++)
    if (strstr(lines->pdata[i], needle))
      return TRUE;
  return FALSE;
}

static void test_promise_kept(WordFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "ask", NULL, "2026-03-04T09:00:00Z", "Hi Jo, where are we with the report?",
       FALSE, FALSE);
  mail(f, TRUE, "p1", "ask", "2026-03-04T10:00:00Z",
       "Hi Bob,\n\nI'll send you the report by Friday 17:00.\n\nJo", FALSE, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) open = store_promise_list(f->store, TRUE, 0, &error);
  g_assert_cmpuint(open->len, ==, 1);
  const StorePromiseRow *row = open->pdata[0];
  g_assert_cmpstr(row->due, ==, "2026-03-06T17:00");
  g_assert_cmpstr(row->client, ==, "Acme Lettings");
  /* due on Friday: listed that day, overdue after */
  g_autoptr(Digest) friday = digest_at(f, "2026-03-06T08:00:00Z");
  g_assert_true(lines_have(friday->word, "today: you told Acme Lettings"));
  g_autoptr(Digest) monday = digest_at(f, "2026-03-09T08:00:00Z");
  g_assert_true(lines_have(monday->word, "OVERDUE: you told Acme Lettings"));
  mail(f, TRUE, "p2", "p1", "2026-03-06T15:00:00Z", "Here it is, the report is attached.",
       TRUE, FALSE);
  g_autoptr(GPtrArray) after = store_promise_list(f->store, TRUE, 0, &error);
  g_assert_cmpuint(after->len, ==, 0);
  g_autoptr(GPtrArray) all = store_promise_list(f->store, FALSE, 0, &error);
  g_assert_cmpstr(((StorePromiseRow *)all->pdata[0])->status, ==, "kept");
  g_autoptr(Digest) later = digest_at(f, "2026-03-09T08:00:00Z");
  g_assert_false(lines_have(later->word, "you told"));
}

static void test_probably_done(WordFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "ask", NULL, "2026-03-02T09:00:00Z",
       "Hi Jo,\n\nPlease send me the March report by Wednesday.\n\nBob", FALSE, FALSE);
  g_autoptr(Digest) before = digest_at(f, "2026-03-05T08:00:00Z");
  g_assert_cmpuint(before->instructions->len, ==, 1);
  gint64 id = ((DigestInstruction *)before->instructions->pdata[0])->id;
  mail(f, TRUE, "done", "ask", "2026-03-04T12:00:00Z", "Hi Bob,\n\nDone, attached.\n\nJo",
       TRUE, FALSE);
  g_autoptr(Digest) after = digest_at(f, "2026-03-05T08:00:00Z");
  g_assert_cmpuint(after->instructions->len, ==, 0);
  g_autofree char *needle = g_strdup_printf("ID %" G_GINT64_FORMAT " Acme Lettings", id);
  g_assert_true(lines_have(after->word, needle));
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_assert_true(word_instruction_set(f->store, id, "open", after->now, &text, &error));
  g_assert_nonnull(strstr(text, "March report"));
  g_autoptr(Digest) reopened = digest_at(f, "2026-03-05T08:00:00Z");
  g_assert_cmpuint(reopened->instructions->len, ==, 1);
  g_assert_true(word_instruction_set(f->store, id, "done", after->now, NULL, &error));
  g_autoptr(Digest) closed = digest_at(f, "2026-03-05T08:00:00Z");
  g_assert_cmpuint(closed->instructions->len, ==, 0);
  g_assert_false(word_instruction_set(f->store, 999, "done", after->now, NULL, &error));
}

/* A reply that delivers one task and promises the other marks only the first. */
static void test_done_and_promised(WordFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "two", NULL, "2026-03-02T09:00:00Z",
       "Hi Jo,\n\n1. Send the March invoices to the tenants.\n2. Book the meeting room for "
       "the landlord forum.\n\nBob", FALSE, FALSE);
  mail(f, TRUE, "half", "two", "2026-03-02T11:00:00Z",
       "Hi Bob,\n\nThe invoices have been sent. I'll book the meeting room for the forum by "
       "Friday.\n\nJo", FALSE, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_instruction_list(f->store, TRUE, NULL, &error);
  g_assert_cmpuint(rows->len, ==, 2);
  for (guint i = 0; i < rows->len; i++) {
    const StoreInstructionRow *row = rows->pdata[i];
    g_assert_true((row->probably_done != NULL) == (strstr(row->text, "invoices") != NULL));
  }
}

static void test_history(WordFixture *f, gconstpointer data)
{
  (void)data;
  /* last year's mail, imported: recorded, never listed */
  mail(f, FALSE, "old", NULL, "2025-06-02T09:00:00Z",
       "Hi Jo,\n\nPlease send me the May figures by Friday.\n\nBob", FALSE, TRUE);
  mail(f, TRUE, "oldp", "old", "2025-06-02T10:00:00Z", "I'll send them by Thursday.", FALSE,
       TRUE);
  g_autoptr(Digest) digest = digest_at(f, "2026-03-09T08:00:00Z");
  g_assert_cmpuint(digest->instructions->len, ==, 0);
  g_assert_cmpuint(digest->waiting->len, ==, 0);
  g_assert_cmpuint(digest->word->len, ==, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM instructions"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM promises WHERE history = 1"), ==, 1);
  /* Friday's history, keel started on Monday: still listed */
  mail(f, FALSE, "fri", NULL, "2026-03-06T16:00:00Z",
       "Hi Jo,\n\nPlease book the venue by Monday noon.\n\nBob", FALSE, TRUE);
  g_autoptr(Digest) monday = digest_at(f, "2026-03-09T08:00:00Z");
  g_assert_cmpuint(monday->instructions->len, ==, 1);
  /* and a date from another year shows its year */
  g_autoptr(GDateTime) old = test_db_at("2025-06-06T17:00:00Z");
  g_autofree char *shown = word_format_when(old, monday->now);
  g_assert_nonnull(strstr(shown, "2025"));
  g_autofree char *recent = word_format_when(monday->now, monday->now);
  g_assert_null(strstr(recent, "2026"));
}

static guint risky_count(WordFixture *f, const char *iso)
{
  g_autoptr(Digest) digest = digest_at(f, iso);
  return digest->risky->len;
}

static void test_handled(WordFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "angry", NULL, "2026-03-09T09:00:00Z",
       "This is UNACCEPTABLE. You missed the deadline AGAIN and I will be taking legal action "
       "and speaking to my solicitor. I am not paying this invoice.", FALSE, FALSE);
  g_assert_cmpuint(risky_count(f, "2026-03-09T12:00:00Z"), ==, 1);
  g_autoptr(Digest) digest = digest_at(f, "2026-03-09T12:00:00Z");
  gint64 thread = ((DigestThread *)digest->risky->pdata[0])->thread_id;
  g_autoptr(GError) error = NULL;
  g_assert_true(word_thread_handled(f->store, thread, digest->now, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(risky_count(f, "2026-03-09T13:00:00Z"), ==, 0);
  /* her own reply does not bring it back; new client mail does */
  mail(f, TRUE, "calm", "angry", "2026-03-09T14:00:00Z", "I'm looking into it now.", FALSE,
       FALSE);
  g_assert_cmpuint(risky_count(f, "2026-03-09T15:00:00Z"), ==, 0);
  mail(f, FALSE, "again", "calm", "2026-03-09T16:00:00Z",
       "Still UNACCEPTABLE. My solicitor will be in touch.", FALSE, FALSE);
  g_assert_cmpuint(risky_count(f, "2026-03-09T17:00:00Z"), ==, 1);
  /* --until: back at that date even without new mail */
  g_autoptr(GDateTime) now = test_db_at("2026-03-09T17:00:00Z");
  g_autoptr(GDateTime) until = test_db_at("2026-03-10T09:00:00Z");
  g_assert_true(word_thread_handled(f->store, thread, now, until, &error));
  g_assert_cmpuint(risky_count(f, "2026-03-09T18:00:00Z"), ==, 0);
  g_assert_cmpuint(risky_count(f, "2026-03-10T10:00:00Z"), ==, 1);
  g_assert_false(word_thread_handled(f->store, 999, now, NULL, &error));
}

/* The raw bytes of the only outbox row of `kind`, as a string. */
static char *outbox_text(WordFixture *f, const char *kind)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_outbox_list(f->store, NULL, &error);
  char *found = NULL;
  for (guint i = 0; i < rows->len; i++) {
    const StoreOutboxRow *row = rows->pdata[i];
    if (g_strcmp0(row->kind, kind) != 0)
      continue;
    g_assert_null(found);
    gsize size = 0;
    const char *data = g_bytes_get_data(row->raw, &size);
    found = g_strndup(data, size);
  }
  return found;
}

/* A risky message gets a calm holding draft quoting the trail; her sent copy
 * of it is a promise due at the end of her next business half-day. */
static void test_holding(WordFixture *f, gconstpointer data)
{
  (void)data;
  mail(f, FALSE, "ask", NULL, "2026-03-02T09:00:00Z",
       "Hi Jo,\n\nPlease send me the March report by Wednesday.\n\nBob", FALSE, FALSE);
  g_assert_null(outbox_text(f, "holding"));
  mail(f, FALSE, "angry", "ask", "2026-03-09T09:00:00Z",
       "This is UNACCEPTABLE. You missed the deadline AGAIN and I will be taking legal action "
       "and speaking to my solicitor. I am not paying this invoice.", FALSE, FALSE);
  g_autofree char *draft = outbox_text(f, "holding");
  g_assert_nonnull(draft);
  g_assert_nonnull(strstr(draft, "In-Reply-To: <angry@test>"));
  g_assert_null(strstr(draft, "Auto-Submitted"));
  g_assert_nonnull(strstr(draft, "Please send me the March report by Wednesday"));
  g_assert_nonnull(strstr(draft, "will update you by 13:15 on 9 March"));
  /* a second angry message the same day: no second draft */
  mail(f, FALSE, "angry2", "angry", "2026-03-09T10:00:00Z",
       "Well? This is UNACCEPTABLE and my solicitor is waiting.", FALSE, FALSE);
  g_autofree char *still_one = outbox_text(f, "holding");
  g_assert_nonnull(still_one);
  g_autoptr(Digest) digest = digest_at(f, "2026-03-09T11:00:00Z");
  g_assert_true(lines_have(digest->word, "holding draft waits"));
  /* she sends it: the promise is tracked */
  mail(f, TRUE, "sent-holding", "angry2", "2026-03-09T11:30:00Z",
       "Hi Bob,\n\nI'm looking into this now and will update you by 13:15 on 9 March."
       "\n\nJo", FALSE, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) open = store_promise_list(f->store, TRUE, 0, &error);
  g_assert_cmpuint(open->len, ==, 1);
  g_assert_cmpstr(((StorePromiseRow *)open->pdata[0])->due, ==, "2026-03-09T13:15");
  /* after close of business on Friday: Monday at midday */
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) friday = test_db_at("2026-03-13T18:00:00Z");
  g_autoptr(GDateTime) by = holding_update_by(friday, &f->config->business_hours, zone);
  g_autofree char *shown = holding_format_time(by);
  g_assert_cmpstr(shown, ==, "13:15 on 16 March");
}

/* A version-8 database (no promises, no marks) upgrades to the latest. */
static void test_migration(WordFixture *f, gconstpointer data)
{
  (void)data;
  pipeline_free(f->pipeline);
  f->pipeline = NULL;
  g_clear_pointer(&f->store, store_close);
  test_db_rewind(f->path, 8);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(store_schema_version(f->store), ==, store_schema_latest());
  g_autoptr(GPtrArray) rows = store_promise_list(f->store, FALSE, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 0);
  f->pipeline = pipeline_new(f->config, f->store);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add(path, WordFixture, NULL, fixture_setup, fn, test_db_pipeline_teardown)
  ADD("/word/promise-kept", test_promise_kept);
  ADD("/word/probably-done", test_probably_done);
  ADD("/word/done-and-promised", test_done_and_promised);
  ADD("/word/history", test_history);
  ADD("/word/handled", test_handled);
  ADD("/word/holding", test_holding);
  ADD("/word/migration", test_migration);
  return g_test_run();
}
