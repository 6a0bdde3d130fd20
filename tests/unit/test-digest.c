/* tests/unit/test-digest.c: the digest (daemon/digest*.c) from a seeded
 * store: its sections, ranking and counts (no thread twice, done and
 * cancelled instructions gone, a calm thread absent), the subject line, the
 * MIME message, business hours, the daily schedule across the Europe/London
 * clock changes with a simulated clock, digest_run_if_due() and the alert's
 * rate limit. No network and no real clock: every time is given. */
#include <glib.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>
#include <unistd.h>
#include "tests/unit/test-db.h"
#include "daemon/digest/digest.h"
#include "daemon/record/rules-dir.h"
#include "filters/cleanup.h"

typedef struct {
  char *dir, *path;
  Store *store;
  KeelConfig *config;
  gint64 risky_thread, invoice_thread, calm_thread, waiting_thread, stale_thread;
  gboolean first_sync;  /* the next add_message() stores history */
} DigestFixture;

static GDateTime *utc(int y, int mo, int d, int h, int mi)
{
  return g_date_time_new_utc(y, mo, d, h, mi, 0);
}

static KeelConfig *load_config(const char *dir, const char *db, const char *extra)
{
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  g_autofree char *text = g_strdup_printf(
    "[keel]\ndatabase = %s\nrules = %s/rules\ntimezone = Europe/London\n"
    "business_hours = Mon-Fri 09:00-17:30\n\n"
    "[account main]\nimap = imaps://127.0.0.1:1\nsmtp = smtps://127.0.0.1:2\n"
    "user = jo@va.example\npassword_file = %s/pw\n\n"
    "[client acme]\nname = Bob Smith\naddresses = bob@acme.example\n\n"
    "[client beckett]\nname = Ann Beckett\naddresses = ann@beckett.example\n\n"
    "[client carl]\nname = Carl Calm\naddresses = carl@calm.example\n\n%s", db,
    g_getenv("KEEL_SOURCE_ROOT"), dir, extra);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  KeelConfig *config = config_load(conf, &error);
  g_assert_no_error(error);
  g_unlink(conf);
  return config;
}

/* Stores one message; returns its row id and thread in `*thread`. */
static gint64 add_message(DigestFixture *f, StoreDirection direction, const char *client,
                          const char *from, const char *subject, GDateTime *date,
                          const char *body, gint64 *thread)
{
  static int counter;
  g_autofree char *when = g_date_time_format(date, "%a, %d %b %Y %H:%M:%S +0000");
  g_autofree char *text = g_strdup_printf(
    "From: %s\r\nTo: jo@va.example\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <m%d@test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", from,
    subject, when, ++counter, body);
  g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)text, strlen(text), NULL, 0,
                                                 &error);
  g_assert_no_error(error);
  StoreOrigin origin = { .direction = direction, .client_id = client, .received = date,
                         .first_sync = f->first_sync };
  gint64 row = 0;
  g_assert_cmpint(store_add_message(f->store, &origin, raw, message, &row, thread, &error), ==,
                  STORE_ADDED);
  g_assert_no_error(error);
  return row;
}

/* Scores message `row` with one hit on `phrase` (found in its new text). */
static void score(DigestFixture *f, gint64 row, const char *phrase, const char *dimension,
                  double risk, const char *payment, const char *flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreDigestMessage) message = store_digest_message(f->store, row, &error);
  g_assert_no_error(error);
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func(g_free);
  const char *at = phrase ? strstr(message->new_text, phrase) : NULL;
  if (phrase)
    g_assert_nonnull(at);
  if (at) {
    StoreHit *hit = g_new0(StoreHit, 1);
    *hit = (StoreHit){ .rule = "test_rule", .dimension = dimension, .points = 6,
                       .match = phrase, .start = at - message->new_text,
                       .end = at - message->new_text + (gint64)strlen(phrase), .where = "text" };
    g_ptr_array_add(hits, hit);
  }
  g_assert_true(store_save_verdict(f->store, row, NULL, hits, risk, risk >= 1, 0, payment,
                                   flags, &error));
  g_assert_no_error(error);
}

static void set_risk(DigestFixture *f, gint64 thread, double risk)
{
  g_autoptr(GError) error = NULL;
  g_assert_true(store_set_thread_risk(f->store, thread, risk, &error));
  g_assert_no_error(error);
}

static void add_instruction(DigestFixture *f, const char *client, const char *text,
                            const char *deadline, const char *status)
{
  g_autoptr(GDateTime) created = utc(2026, 11, 16, 9, 0);
  StoreInstructionRow row = { .client_id = (char *)client, .text = (char *)text,
                              .deadline = (char *)deadline, .created = created };
  g_autoptr(GError) error = NULL;
  gint64 id = store_instruction_add(f->store, &row, &error);
  g_assert_no_error(error);
  if (status)
    g_assert_true(store_instruction_set_status(f->store, id, status, &error));
  g_assert_no_error(error);
}

static void add_outbox(DigestFixture *f, const char *kind, const char *state, GDateTime *created,
                       const char *subject)
{
  static int counter;
  g_autofree char *message_id = g_strdup_printf("out%d@test", ++counter);
  g_autoptr(GBytes) raw = g_bytes_new_static("x", 1);
  StoreOutboxRow row = { .account = "main", .kind = (char *)kind, .message_id = message_id,
                         .mail_from = "jo@va.example", .rcpt = "bob@acme.example",
                         .subject = (char *)subject, .raw = raw, .state = (char *)state,
                         .last_error = g_strcmp0(state, "failed") == 0 ? "550 no such user"
                                                                        : NULL,
                         .created = created };
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(store_outbox_insert(f->store, &row, &error), >, 0);
  g_assert_no_error(error);
}

static void seed_threads(DigestFixture *f)
{
  g_autoptr(GDateTime) old = utc(2026, 11, 2, 7, 0), angry = utc(2026, 11, 23, 7, 30);
  g_autoptr(GDateTime) invoice = utc(2026, 11, 23, 6, 0), calm_in = utc(2026, 11, 19, 9, 0);
  g_autoptr(GDateTime) calm_out = utc(2026, 11, 19, 11, 0);
  gint64 row = add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Late report",
                           old, "Hello Jo,\r\n\r\nWhere is it? I am annoyed.", &f->risky_thread);
  score(f, row, "annoyed", "tone", 1.0, "none", "");
  g_autoptr(GDateTime) old_reply = g_date_time_add_hours(old, 3);
  add_message(f, STORE_DIRECTION_OUT, "acme", "jo@va.example", "Re: Late report", old_reply,
              "Sorry Bob, tomorrow.", NULL);
  row = add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Re: Late report", angry,
                    "Jo,\r\n\r\nIf this isn't fixed by noon I will see you in small claims court."
                    "\r\nBob", NULL);
  score(f, row, "small claims court", "threat", 3.0, "none", "threat,tone");
  set_risk(f, f->risky_thread, 4.5);
  row = add_message(f, STORE_DIRECTION_IN, "beckett", "ann@beckett.example", "Invoice 42",
                    invoice, "Hi,\r\n\r\nThis invoice is more than I expected. I won't pay it.",
                    &f->invoice_thread);
  score(f, row, "won't pay", "payment", 1.5, "dispute", "");
  set_risk(f, f->invoice_thread, 1.5);
  row = add_message(f, STORE_DIRECTION_IN, "carl", "carl@calm.example", "Thanks", calm_in,
                    "Thanks Jo, lovely work as always.", &f->calm_thread);
  score(f, row, NULL, NULL, 0.2, "none", "");
  set_risk(f, f->calm_thread, 0.2);
  add_message(f, STORE_DIRECTION_OUT, "carl", "jo@va.example", "Re: Thanks", calm_out,
              "You're welcome!", NULL);
}

/* A thread that was very risky three weeks ago and went quiet: its stored
 * risk is high, its risk now is not. */
static void seed_stale(DigestFixture *f)
{
  g_autoptr(GDateTime) then = utc(2026, 11, 2, 10, 0), reply = utc(2026, 11, 2, 12, 0);
  gint64 row = add_message(f, STORE_DIRECTION_IN, "beckett", "ann@beckett.example",
                           "Old row", then, "This is a disgrace.", &f->stale_thread);
  score(f, row, "disgrace", "tone", 5.0, "none", "tone");
  set_risk(f, f->stale_thread, 5.0);
  add_message(f, STORE_DIRECTION_OUT, "beckett", "jo@va.example", "Re: Old row", reply,
              "Sorry Ann, let's talk.", NULL);
}

/* A thread where the VA answered once and the client wrote twice since. */
static void seed_waiting(DigestFixture *f)
{
  g_autoptr(GDateTime) first = utc(2026, 11, 17, 9, 0), reply = utc(2026, 11, 17, 12, 0);
  g_autoptr(GDateTime) again = utc(2026, 11, 18, 9, 0), chase = utc(2026, 11, 19, 9, 0);
  add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Receipts needed", first,
              "Could you find the receipts?", &f->waiting_thread);
  add_message(f, STORE_DIRECTION_OUT, "acme", "jo@va.example", "Re: Receipts needed", reply,
              "On it.", NULL);
  add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Re: Receipts needed", again,
              "Any news?", NULL);
  add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Re: Receipts needed", chase,
              "Hello??", NULL);
}

static void seed_rest(DigestFixture *f)
{
  add_instruction(f, "acme", "Send the Q3 receipts", "2026-11-20T17:00", NULL);
  add_instruction(f, "acme", "Book the venue", "2026-11-23T15:00", NULL);
  add_instruction(f, "beckett", "Call the printer", "2026-11-24T10:00", NULL);
  add_instruction(f, "acme", "Update the CRM", "2026-11-23T12:00", "done");
  add_instruction(f, "beckett", "Old errand", "2026-11-19T09:00", "cancelled");
  add_instruction(f, "acme", "Plan Q1", "2026-12-10T09:00", NULL);
  g_autoptr(GDateTime) yesterday = utc(2026, 11, 22, 12, 0), long_ago = utc(2026, 11, 10, 9, 0);
  add_outbox(f, "confirm", "sent", yesterday, "Re: Receipts needed");
  add_outbox(f, "confirm", "sent", long_ago, "Re: Old news");
  add_outbox(f, "confirm", "failed", long_ago, "Re: Bounced");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) poll = utc(2026, 11, 23, 6, 0);
  g_assert_true(store_account_record_poll(f->store, "main", poll, "login denied", &error));
  g_assert_no_error(error);
}

static void fixture_setup(DigestFixture *f, gconstpointer data)
{
  test_db_create("keel-digest", &f->dir, &f->path, &f->store);
  g_autoptr(GError) error = NULL;
  f->config = load_config(f->dir, f->path, data ? data : "");
  for (guint i = 0; i < f->config->clients->len; i++) {
    const KeelClient *client = f->config->clients->pdata[i];
    g_assert_true(store_client_set(f->store, client->id, client->name, &error));
  }
}

static void fixture_setup_seeded(DigestFixture *f, gconstpointer data)
{
  fixture_setup(f, data);
  seed_threads(f);
  seed_stale(f);
  seed_waiting(f);
  seed_rest(f);
}

static void fixture_teardown(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer(&f->config, config_free);
  test_db_remove(&f->dir, &f->path, &f->store);
}

static Digest *gather(DigestFixture *f, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  Digest *digest = digest_gather(f->store, f->config, NULL, now, &error);
  g_assert_no_error(error);
  g_assert_nonnull(digest);
  return digest;
}

/* ---- sections ------------------------------------------------------------ */

static void test_sections_risky(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(Digest) digest = gather(f, now);
  g_assert_cmpuint(digest->risky->len, ==, 2);
  const DigestThread *first = digest->risky->pdata[0], *second = digest->risky->pdata[1];
  g_assert_cmpint(first->thread_id, ==, f->risky_thread);
  g_assert_cmpint(second->thread_id, ==, f->invoice_thread);
  for (guint i = 0; i < digest->risky->len; i++) {
    gint64 id = ((DigestThread *)digest->risky->pdata[i])->thread_id;
    g_assert_cmpint(id, !=, f->stale_thread);
    g_assert_cmpint(id, !=, f->calm_thread);
  }
  g_assert_cmpstr(first->client, ==, "Bob Smith");
  /* risk as of now (decayed since 07:30), not the stored 4.5 */
  g_assert_cmpfloat(first->risk, >, 2.9);
  g_assert_cmpfloat(first->risk, <, 3.1);
  g_assert_cmpfloat(second->risk, <, 1.5);
  g_assert_cmpfloat(second->risk, >=, 1.0);
  g_assert_cmpuint(first->dimensions->len, ==, 2);
  g_assert_cmpstr(first->dimensions->pdata[0], ==, "threat");
  g_assert_cmpstr(first->dimensions->pdata[1], ==, "tone");
  const DigestQuote *quote = first->quotes->pdata[0];
  g_assert_cmpstr(quote->phrase, ==, "small claims court");
  g_assert_nonnull(strstr(quote->context, "I will see you in small claims court."));
  g_assert_true(g_str_has_prefix(quote->context, "…"));
  g_assert_nonnull(strstr(first->next_steps->pdata[0], "keel trail --client acme"));
  g_assert_cmpuint(first->next_steps->len, ==, 2);
  g_assert_cmpfloat(first->weekly[7], ==, 3.0);
  g_assert_cmpfloat(first->weekly[4], ==, 1.0);
  g_assert_cmpfloat(first->weekly[6], ==, 0.0);
  g_assert_cmpstr(second->dimensions->pdata[0], ==, "payment");
  g_assert_nonnull(strstr(second->next_steps->pdata[0], "invoice"));
  g_autofree char *time = g_date_time_format(first->last_date, "%H:%M");
  g_assert_cmpstr(time, ==, "07:30");
  g_assert_nonnull(first->last_reply);
  g_autofree char *reply = g_date_time_format(first->last_reply, "%d %H:%M");
  g_assert_cmpstr(reply, ==, "02 10:00");
  g_assert_null(second->last_reply);
}

static void test_sections_counts(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(Digest) digest = gather(f, now);
  g_assert_cmpuint(digest->instructions->len, ==, 3);
  const DigestInstruction *overdue = digest->instructions->pdata[0];
  g_assert_cmpint(overdue->due, ==, DIGEST_DUE_OVERDUE);
  g_assert_cmpstr(overdue->text, ==, "Send the Q3 receipts");
  g_assert_cmpstr(((DigestInstruction *)digest->instructions->pdata[1])->text, ==,
                  "Book the venue");
  g_assert_cmpint(((DigestInstruction *)digest->instructions->pdata[2])->due, ==,
                  DIGEST_DUE_TOMORROW);
  for (guint i = 0; i < digest->instructions->len; i++) {
    const char *text = ((DigestInstruction *)digest->instructions->pdata[i])->text;
    g_assert_cmpstr(text, !=, "Update the CRM");
    g_assert_cmpstr(text, !=, "Old errand");
  }
  /* one entry for a thread with two unanswered messages, since the first */
  g_assert_cmpuint(digest->waiting->len, ==, 1);
  const DigestWaiting *waiting = digest->waiting->pdata[0];
  g_assert_cmpint(waiting->thread_id, ==, f->waiting_thread);
  g_assert_cmpfloat_with_epsilon(waiting->business_hours, 25.5, 0.01);
  g_assert_cmpuint(digest->activity->len, ==, 1);
  g_assert_cmpuint(digest->health->len, ==, 2);
  g_assert_false(digest_is_empty(digest));
}

static void test_subject_and_text(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(Digest) digest = gather(f, now);
  g_autofree char *subject = digest_subject(digest);
  g_assert_cmpstr(subject, ==, "keel: 2 risky threads · 1 due today · 1 overdue · "
                               "1 due tomorrow · 1 waiting for a reply · 2 problems");
  g_autofree char *text = digest_render_text(digest);
  const char *risky = strstr(text, "RISKY THREADS"), *due = strstr(text, "DUE AND OVERDUE");
  g_assert_nonnull(risky);
  g_assert_nonnull(due);
  g_assert_true(risky < due);
  g_assert_true(strstr(text, "Bob Smith") < strstr(text, "Ann Beckett"));
  g_assert_null(strstr(text, "Carl Calm"));
  g_assert_nonnull(strstr(text, "▁▁▁▁▃▁▁█"));
  g_autofree char *html = digest_render_html(digest);
  g_assert_nonnull(strstr(html, ">Risky threads</h2>"));
  g_assert_nonnull(strstr(html, "<strong style=\"background:#fdebd0;font-style:normal;\">"
                                "small claims court</strong>"));
  g_assert_null(strstr(html, "isn't"));  /* escaped: isn&#39;t */
}

static void test_html_escapes(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  g_assert_true(store_client_set(f->store, "acme", "Bob & <Co>", &error));
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(Digest) digest = gather(f, now);
  g_autofree char *html = digest_render_html(digest);
  g_assert_nonnull(strstr(html, "risk per week for Bob &amp; &lt;Co&gt;"));
  g_assert_null(strstr(html, "<Co>"));
}

static void test_empty(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(Digest) digest = gather(f, now);
  g_assert_true(digest_is_empty(digest));
  g_autofree char *subject = digest_subject(digest);
  g_assert_cmpstr(subject, ==, "keel: nothing needs you today");
}

static void test_rules_error(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  DigestOptions options;
  digest_options_init(&options);
  options.rules_error = "tone.rules:3:1: unknown signal\ntone.rules:9:1: no look\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(Digest) digest = digest_gather(f->store, f->config, &options, now, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(digest->health->len, ==, 1);
  g_assert_cmpstr(digest->health->pdata[0], ==, "the rules did not reload, the previous ones "
                  "are still in force: tone.rules:3:1: unknown signal (and 1 more)");
  g_assert_false(digest_is_empty(digest));
}

/* A rule file that is a symlink to a secret: nothing of it reaches the digest. */
static void test_rules_error_secret(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autofree char *rules = g_build_filename(f->dir, "rules", NULL);
  g_assert_cmpint(g_mkdir(rules, 0700), ==, 0);
  g_autofree char *secret = g_build_filename(f->dir, "secret", NULL);
  g_autofree char *link = g_build_filename(rules, "a.rules", NULL);
  g_assert_true(g_file_set_contents(secret, "hunter2\n", -1, NULL));
  g_assert_cmpint(symlink(secret, link), ==, 0);
  g_autoptr(GError) load = NULL;
  g_assert_null(rules_load_dir(rules, &load));
  DigestOptions options;
  digest_options_init(&options);
  options.rules_error = load->message;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(Digest) digest = digest_gather(f->store, f->config, &options, now, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(digest->health->len, ==, 1);
  g_assert_nonnull(strstr(digest->health->pdata[0], "a.rules:1:1: this is not a rules file"));
  g_assert_null(strstr(digest->health->pdata[0], "hunter2"));
  g_unlink(link);
  g_unlink(secret);
  g_rmdir(rules);
}

/* ---- the message ------------------------------------------------------------ */

static void test_message(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 0);
  g_autoptr(Digest) digest = gather(f, now);
  g_autoptr(GError) error = NULL;
  g_autofree char *message_id = NULL;
  g_autoptr(GBytes) raw = digest_build_message(digest, "jo@va.example", "jo@va.example",
                                               &message_id, &error);
  g_assert_no_error(error);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(
    g_bytes_get_data(raw, NULL), g_bytes_get_size(raw));
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
  g_autoptr(GMimeMessage) message = g_mime_parser_construct_message(parser, NULL);
  g_assert_nonnull(message);
  GMimeObject *object = GMIME_OBJECT(message);
  g_assert_cmpstr(g_mime_object_get_header(object, "Auto-Submitted"), ==, "auto-generated");
  g_assert_null(g_mime_object_get_header(object, "In-Reply-To"));
  g_assert_null(g_mime_object_get_header(object, "References"));
  g_assert_cmpstr(g_mime_message_get_message_id(message), ==, message_id);
  g_assert_nonnull(strstr(g_mime_message_get_subject(message), "2 risky threads · "));
  GMimeObject *body = g_mime_message_get_mime_part(message);
  g_assert_true(GMIME_IS_MULTIPART(body));
  GMimeContentType *type = g_mime_object_get_content_type(body);
  g_assert_cmpstr(g_mime_content_type_get_media_subtype(type), ==, "alternative");
  g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(body)), ==, 2);
  GMimeObject *html = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
  g_assert_cmpstr(g_mime_content_type_get_media_subtype(g_mime_object_get_content_type(html)),
                  ==, "html");
  g_assert_null(digest_build_message(digest, "jo@va.example", "evil\r\nBcc: x@y", NULL,
                                     &error));
  g_assert_error(error, KEEL_DIGEST_ERROR, KEEL_DIGEST_ERROR_ACCOUNT);
}

/* ---- business hours and the schedule ------------------------------------------ */

static void test_business_hours(void)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  KeelBusinessHours hours = { 0x1f, 9 * 60, 17 * 60 + 30 };
  g_autoptr(GDateTime) fri = utc(2026, 11, 20, 16, 0), mon = utc(2026, 11, 23, 10, 0);
  g_assert_cmpfloat_with_epsilon(digest_business_hours(fri, mon, &hours, london), 2.5, 1e-9);
  g_assert_cmpfloat(digest_business_hours(mon, fri, &hours, london), ==, 0);
  /* Fri 27 Mar 16:00 GMT to Mon 30 Mar 10:00 BST (09:00 UTC): 1.5 + 1 */
  g_autoptr(GDateTime) a = utc(2026, 3, 27, 16, 0), b = utc(2026, 3, 30, 9, 0);
  g_assert_cmpfloat_with_epsilon(digest_business_hours(a, b, &hours, london), 2.5, 1e-9);
}

static void assert_next(const char *now_iso, const char *at, const char *expected_iso)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) now = g_date_time_new_from_iso8601(now_iso, NULL);
  g_autoptr(GDateTime) next = digest_next_run(now, at, london);
  g_assert_nonnull(next);
  g_autoptr(GDateTime) next_utc = g_date_time_to_utc(next);
  g_autofree char *text = g_date_time_format(next_utc, "%Y-%m-%dT%H:%MZ");
  g_assert_cmpstr(text, ==, expected_iso);
}

static void test_next_run(void)
{
  /* spring forward on Sun 29 Mar 2026: 08:00 BST is 07:00 UTC */
  assert_next("2026-03-28T09:00:00Z", "08:00", "2026-03-29T07:00Z");
  assert_next("2026-03-29T07:30:00Z", "08:00", "2026-03-30T07:00Z");
  assert_next("2026-03-28T07:59:00Z", "08:00", "2026-03-28T08:00Z");
  /* fall back on Sun 25 Oct 2026: 08:00 GMT is 08:00 UTC */
  assert_next("2026-10-24T08:00:00Z", "08:00", "2026-10-25T08:00Z");
  assert_next("2026-10-25T07:30:00Z", "08:00", "2026-10-25T08:00Z");
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) now = utc(2026, 3, 28, 9, 0);
  g_assert_null(digest_next_run(now, "8am", london));
  g_assert_null(digest_next_run(now, "24:00", london));
}

/* digest_next_due() (what `keel status` shows) agrees with digest_due() (what
 * the daemon does): on a clock ticking every 10 minutes over the spring-forward
 * weekend, the time it predicts while nothing is due is when the digest next
 * becomes due (within one tick), in the zone's local time; while one is due it
 * is the pending run, not later than now. */
static void test_next_due(void)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) start = utc(2026, 3, 27, 0, 0);
  g_autoptr(GDateTime) last = NULL, predicted = NULL;
  guint runs = 0;
  for (int minute = 0; minute < 4 * 24 * 60; minute += 10) {
    g_autoptr(GDateTime) now = g_date_time_add_minutes(start, minute);
    g_autoptr(GDateTime) next = digest_next_due(last, now, "08:00", london);
    g_assert_nonnull(next);
    g_assert_cmpint(g_date_time_get_hour(next), ==, 8); /* local 08:00, GMT or BST */
    if (!digest_due(last, now, "08:00", london)) {
      g_assert_cmpint(g_date_time_compare(next, now), >, 0);
      g_clear_pointer(&predicted, g_date_time_unref);
      predicted = g_date_time_ref(next);
      continue;
    }
    g_assert_cmpint(g_date_time_compare(next, now), <=, 0);
    g_assert_cmpint(g_date_time_difference(now, next), <, 10 * G_TIME_SPAN_MINUTE);
    g_assert_true(predicted && g_date_time_equal(predicted, next));
    g_clear_pointer(&last, g_date_time_unref);
    last = g_date_time_ref(now);
    runs++;
  }
  g_assert_cmpuint(runs, ==, 4);
  g_autoptr(GDateTime) now = utc(2026, 3, 28, 9, 0);
  g_assert_null(digest_next_due(NULL, now, "8am", london));
}

/* A clock ticking every `step` minutes over `days` days from `start`: the
 * digest goes once a local day, at 08:00 local, within one tick. */
static void simulate(GDateTime *start, int days, int step, const char *at, guint expected_runs,
                     int expected_hour, int expected_minute)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) last = NULL;
  g_autoptr(GHashTable) days_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  guint runs = 0;
  for (int minute = 0; minute < days * 24 * 60; minute += step) {
    g_autoptr(GDateTime) now = g_date_time_add_minutes(start, minute);
    if (!digest_due(last, now, at, london))
      continue;
    g_autoptr(GDateTime) local = g_date_time_to_timezone(now, london);
    g_autofree char *day = g_date_time_format(local, "%Y-%m-%d");
    g_assert_false(g_hash_table_contains(days_seen, day));
    g_hash_table_add(days_seen, g_steal_pointer(&day));
    if (expected_hour >= 0) {
      g_assert_cmpint(g_date_time_get_hour(local), ==, expected_hour);
      g_assert_cmpint(g_date_time_get_minute(local), >=, expected_minute);
      g_assert_cmpint(g_date_time_get_minute(local), <, expected_minute + step);
    }
    g_clear_pointer(&last, g_date_time_unref);
    last = g_date_time_ref(now);
    runs++;
  }
  g_assert_cmpuint(runs, ==, expected_runs);
}

static void test_schedule_dst(void)
{
  g_autoptr(GDateTime) march = utc(2026, 3, 26, 0, 0), october = utc(2026, 10, 22, 0, 0);
  simulate(march, 6, 5, "08:00", 6, 8, 0);
  simulate(october, 6, 5, "08:00", 6, 8, 0);
  /* 01:30 does not exist on 29 March in London: still once that day */
  simulate(march, 6, 5, "01:30", 6, -1, 0);
  /* 01:30 happens twice on 25 October: still once that day */
  simulate(october, 6, 5, "01:30", 6, 1, 30);
}

static void test_run_if_due(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  DigestOptions options;
  digest_options_init(&options);
  g_autoptr(GDateTime) early = utc(2026, 11, 23, 7, 59), on_time = utc(2026, 11, 23, 8, 5);
  g_autoptr(GDateTime) later = utc(2026, 11, 23, 8, 20), next_day = utc(2026, 11, 24, 8, 1);
  g_assert_false(digest_run_if_due(f->store, f->config, &options, early, &error));
  g_assert_no_error(error);
  g_assert_true(digest_run_if_due(f->store, f->config, &options, on_time, &error));
  g_assert_no_error(error);
  g_assert_false(digest_run_if_due(f->store, f->config, &options, later, &error));
  g_assert_no_error(error);
  g_autoptr(GPtrArray) rows = store_outbox_list(f->store, "queued", &error);
  g_assert_cmpuint(rows->len, ==, 1);
  const StoreOutboxRow *row = rows->pdata[0];
  g_assert_cmpstr(row->kind, ==, "digest");
  g_assert_cmpstr(row->rcpt, ==, "va@home.example");
  g_assert_cmpint(row->thread_id, ==, 0);
  g_assert_true(digest_run_if_due(f->store, f->config, &options, next_day, &error));
  /* the next digest covers what keel queued since the last one */
  g_autoptr(Digest) digest = gather(f, next_day);
  g_assert_nonnull(digest->since);
  g_assert_cmpuint(digest->activity->len, ==, 0);
}

static void test_run_if_due_empty(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  DigestOptions options;
  digest_options_init(&options);
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 8, 5);
  g_assert_false(digest_run_if_due(f->store, f->config, &options, now, &error));
  g_assert_no_error(error);
  options.send_empty = TRUE;
  g_assert_true(digest_run_if_due(f->store, f->config, &options, now, &error));
  g_assert_no_error(error);
}

/* ---- alerts ------------------------------------------------------------------- */

static gint64 alert(DigestFixture *f, gint64 row, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  gint64 id = -1;
  g_assert_true(digest_alert_for_message(f->store, f->config, NULL, row, now, &id, &error));
  g_assert_no_error(error);
  return id;
}

static void test_alert_rate_limit(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) t1 = utc(2026, 11, 23, 9, 0), t2 = utc(2026, 11, 23, 22, 0);
  g_autoptr(GDateTime) t3 = utc(2026, 11, 24, 0, 5);
  gint64 threat = add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Final warning",
                              t1, "My solicitor will be in touch.", NULL);
  score(f, threat, "My solicitor", "threat", 2.0, "none", "threat");
  gint64 calm = add_message(f, STORE_DIRECTION_IN, "carl", "carl@calm.example", "Lunch?", t1,
                            "Fancy lunch?", NULL);
  score(f, calm, NULL, NULL, 0, "none", "");
  gint64 first = alert(f, threat, t1);
  g_assert_cmpint(first, >, 0);
  g_assert_cmpint(alert(f, threat, t2), ==, 0);   /* same local day */
  g_assert_cmpint(alert(f, threat, t3), >, first); /* the next day */
  g_assert_cmpint(alert(f, calm, t1), ==, 0);     /* nothing to alert about */
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_outbox_list(f->store, NULL, &error);
  g_assert_cmpuint(rows->len, ==, 2);
  const StoreOutboxRow *row = rows->pdata[0];
  g_assert_cmpstr(row->kind, ==, "alert");
  g_assert_nonnull(strstr(row->subject, "a threat"));
  g_autofree char *raw = g_strndup(g_bytes_get_data(row->raw, NULL), g_bytes_get_size(row->raw));
  g_assert_nonnull(strstr(raw, "Auto-Submitted: auto-generated"));
}

static void test_alert_not_for_history(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) then = utc(2026, 11, 20, 9, 0), now = utc(2026, 11, 23, 9, 0);
  gint64 old = add_message(f, STORE_DIRECTION_IN, "acme", "bob@acme.example", "Old threat",
                           then, "My solicitor will be in touch.", NULL);
  score(f, old, "My solicitor", "threat", 2.0, "none", "threat");
  f->first_sync = TRUE;
  gint64 history = add_message(f, STORE_DIRECTION_IN, "beckett", "ann@beckett.example",
                               "Synced threat", now, "See you in court.", NULL);
  score(f, history, "See you in court", "threat", 2.0, "none", "threat");
  g_assert_cmpint(alert(f, old, now), ==, 0);      /* three days old */
  g_assert_cmpint(alert(f, history, now), ==, 0);  /* stored by a first sync */
}

static void test_alert_threshold(DigestFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = utc(2026, 11, 23, 9, 0);
  gint64 thread = 0;
  gint64 row = add_message(f, STORE_DIRECTION_IN, "beckett", "ann@beckett.example", "Rates",
                           now, "You're HOW much? Ridiculous.", &thread);
  score(f, row, "Ridiculous", "tone", 2.0, "haggle", "tone");
  set_risk(f, thread, 2.0);
  g_assert_cmpint(alert(f, row, now), ==, 0);
  set_risk(f, thread, 3.2);
  g_assert_cmpint(alert(f, row, now), >, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_mime_init();
  const char *to = "[digest]\nat = 08:00\nto = va@home.example\n";
#define ADD(path, setup, func, extra) \
  g_test_add(path, DigestFixture, extra, setup, func, fixture_teardown)
  ADD("/digest/sections/risky", fixture_setup_seeded, test_sections_risky, NULL);
  ADD("/digest/sections/counts", fixture_setup_seeded, test_sections_counts, NULL);
  ADD("/digest/render/subject-text-html", fixture_setup_seeded, test_subject_and_text, NULL);
  ADD("/digest/render/empty", fixture_setup, test_empty, NULL);
  ADD("/digest/render/html-escapes", fixture_setup_seeded, test_html_escapes, NULL);
  ADD("/digest/sections/rules-error", fixture_setup, test_rules_error, NULL);
  ADD("/digest/sections/rules-error-secret", fixture_setup, test_rules_error_secret, NULL);
  ADD("/digest/render/message", fixture_setup_seeded, test_message, NULL);
  g_test_add_func("/digest/schedule/business-hours", test_business_hours);
  g_test_add_func("/digest/schedule/next-run", test_next_run);
  g_test_add_func("/digest/schedule/next-due", test_next_due);
  g_test_add_func("/digest/schedule/dst-simulated", test_schedule_dst);
  ADD("/digest/schedule/run-if-due", fixture_setup_seeded, test_run_if_due, to);
  ADD("/digest/schedule/run-if-due-empty", fixture_setup, test_run_if_due_empty, to);
  ADD("/digest/alert/rate-limit", fixture_setup, test_alert_rate_limit, NULL);
  ADD("/digest/alert/threshold", fixture_setup, test_alert_threshold, NULL);
  ADD("/digest/alert/not-for-history", fixture_setup, test_alert_not_for_history, NULL);
  return g_test_run();
}
