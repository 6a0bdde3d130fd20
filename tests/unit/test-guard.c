/* tests/unit/test-guard.c: nobody but the VA speaks through keel (issue 12).
 * Every test feeds raw mail through the real pipeline (rules from rules/, a
 * temporary store) and reads the outbox, the trail and the digest:
 *   - a forged note in INBOX gives no confirmation and a digest item; a note
 *     from Sent, or at the secret note address with her server's DKIM pass,
 *     still works;
 *   - a flood of client mail (also with forged Dates) gets at most
 *     per_client_per_day replies and is a digest item; 50 threats give at most
 *     alerts_per_day alerts and one summary;
 *   - a stranger's calm replies do not calm a client's angry thread;
 *   - no reply to mail that answers a message keel generated, and no third
 *     automatic reply in a thread without a message from the VA;
 *   - schema version 2 migrates to 3; the [replies] keys, note tokens and
 *     Authentication-Results parsing. */
#include <string.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include "daemon/digest/digest.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/record/verdict.h"
#include "filters/authres.h"
#include "test-db.h"

#define TOKEN "h7k2m9q4x8w3r6t5p2z9"
#define NOTE_ADDRESS "jo+keel-" TOKEN "@va.example"
#define ASK "Please send the signed contract to Sam by Friday 5pm.\r\n"

typedef struct {
  TestDbPipeline db;
  gint64 inbox, sent;
} GuardFixture;

static void guard_setup(GuardFixture *f, gconstpointer data)
{
  const char *note = data ? data : NOTE_ADDRESS;
  g_autofree char *rest = g_strdup_printf(
    "timezone = Europe/London\n\n"
    "[account main]\nimap = imaps://mail.va.example\nsmtp = smtps://mail.va.example\n"
    "user = jo@va.example\npassword_file = /nonexistent\nnote_address = %s\n"
    "sent_folder = Sent\n\n" /* no server to find it on (issue 19) */
    "[client acme]\nname = Acme Lettings\naddresses = bob@acme.example\n", note);
  test_db_pipeline_open(&f->db, "keel-guard", rest);
  g_autoptr(GError) error = NULL;
  f->inbox = store_folder_ensure(f->db.store, "main", "INBOX", &error);
  f->sent = store_folder_ensure(f->db.store, "main", "Sent", &error);
  g_assert_no_error(error);
}

static void guard_teardown(GuardFixture *f, gconstpointer data)
{
  (void)data;
  test_db_pipeline_close(&f->db);
}

/* 2026-03-02 09:00 UTC plus `minutes`. */
static GDateTime *at_minutes(gint64 minutes)
{
  g_autoptr(GDateTime) base = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  return g_date_time_add_minutes(base, minutes);
}

/* Ingests one message (headers `head` without Date unless given, then the
 * body) received at `received`, from INBOX (or Sent when `sent`). */
static gint64 guard_ingest(GuardFixture *f, const char *head, const char *body,
                           GDateTime *received, gboolean sent)
{
  g_autofree char *date = g_date_time_format(received, "%a, %d %b %Y %H:%M:%S +0000");
  g_autofree char *text = g_strdup_printf("%s%s%s\r\nMIME-Version: 1.0\r\n"
                                          "Content-Type: text/plain\r\n\r\n%s",
                                          head, strstr(head, "Date:") ? "" : "Date: ",
                                          strstr(head, "Date:") ? "" : date, body);
  g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
  static guint32 uid = 0;
  StoreOrigin origin = { .folder_id = sent ? f->sent : f->inbox, .uid = ++uid,
                         .direction = sent ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN };
  g_autoptr(GError) error = NULL;
  StoreAddResult result = STORE_FAILED;
  gint64 row = 0;
  g_assert_true(pipeline_ingest(f->db.pipeline, &origin, raw, received, &result, &row, &error));
  g_assert_no_error(error);
  g_assert_cmpint(result, ==, STORE_ADDED);
  return row;
}

static gint64 count(GuardFixture *f, const char *sql)
{
  return test_db_int(f->db.path, sql);
}

/* TRUE when a health line of the digest as of `now` contains `text`. */
static gboolean digest_mentions(GuardFixture *f, GDateTime *now, const char *text)
{
  g_autoptr(GError) error = NULL;
  DigestOptions options;
  digest_options_from_config(&options, f->db.config);
  options.rules = f->db.rules;
  g_autoptr(Digest) digest = digest_gather(f->db.store, f->db.config, &options, now, &error);
  g_assert_no_error(error);
  for (guint i = 0; i < digest->health->len; i++)
    if (strstr(digest->health->pdata[i], text))
      return TRUE;
  return FALSE;
}

/* ---- 1. notes ------------------------------------------------------------ */

#define NOTE_HEAD(id) "From: Jo <jo@va.example>\r\nTo: " NOTE_ADDRESS "\r\n" \
                      "Subject: Call with Acme Lettings\r\nMessage-ID: <" id "@va.example>\r\n"

static void test_note_forged(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = at_minutes(0);
  /* From and To are hers, but no server of hers vouched for it: one forged
   * Authentication-Results from elsewhere, one claiming a fail */
  guard_ingest(f, NOTE_HEAD("n1")
               "Authentication-Results: mx.evil.example; dkim=pass header.d=va.example\r\n",
               "Pay 5000 EUR to IBAN DE00 1234 by Friday 5pm.\r\n" ASK, now, FALSE);
  guard_ingest(f, NOTE_HEAD("n2")
               "Authentication-Results: mail.va.example; dkim=fail header.d=va.example;"
               " spf=softfail smtp.mailfrom=jo@va.example\r\n", ASK, now, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox"), ==, 0);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM instructions"), ==, 0);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'note_refused'"),
                  ==, 2);
  g_autoptr(GDateTime) later = at_minutes(60);
  g_assert_true(digest_mentions(f, later, "may be forged"));
}

static void test_note_authentic(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = at_minutes(0);
  /* her server's verdict is the one above a forged one */
  guard_ingest(f, "Authentication-Results: mail.va.example (her server);\r\n"
               " dkim=pass (good signature) header.d=va.example header.s=sel\r\n"
               NOTE_HEAD("a1"), ASK, now, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm' AND subject ="
                           " 'Confirming what we agreed' AND rcpt = 'bob@acme.example'"), ==, 1);
  /* a copy in her Sent folder is hers too */
  g_autoptr(GDateTime) next_day = at_minutes(26 * 60);
  guard_ingest(f, NOTE_HEAD("a2"), "Also book the room for Monday at 10am.\r\n", next_day,
               TRUE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 2);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'note_refused'"),
                  ==, 0);
}

static void test_note_no_token(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = at_minutes(0);
  guard_ingest(f, "From: jo@va.example\r\nTo: jo+keel@va.example\r\n"
               "Authentication-Results: mail.va.example; spf=pass smtp.mailfrom=jo@va.example\r\n"
               "Subject: Call with Acme Lettings\r\nMessage-ID: <t1@va.example>\r\n", ASK, now,
               FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox"), ==, 0);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'note_refused'"
                           " AND detail LIKE '%secret token%'"), ==, 1);
}

/* She writes to her own note address: the INBOX copy (no Authentication-
 * Results) comes first and is refused, the Sent copy (the same Message-ID)
 * then counts, once, and the digest drops the refusal. */
static void test_note_inbox_then_sent(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = at_minutes(0);
  guard_ingest(f, NOTE_HEAD("both"), ASK, now, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox"), ==, 0);
  g_autoptr(GDateTime) later = at_minutes(1);
  for (int copy = 0; copy < 2; copy++) {   /* the second: a re-scan of Sent */
    g_autofree char *text = g_strdup_printf(NOTE_HEAD("both") "Date: Mon, 02 Mar 2026 "
                                            "09:00:00 +0000\r\n\r\n%s", ASK);
    g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
    StoreOrigin origin = { .folder_id = f->sent, .uid = 100 + copy,
                           .direction = STORE_DIRECTION_OUT };
    g_autoptr(GError) error = NULL;
    StoreAddResult result = STORE_FAILED;
    g_assert_true(pipeline_ingest(f->db.pipeline, &origin, raw, later, &result, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(result, ==, STORE_DUPLICATE);
  }
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 1);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'note_accepted'"),
                  ==, 1);
  g_autoptr(GDateTime) digest_time = at_minutes(60);
  g_assert_false(digest_mentions(f, digest_time, "not acted on"));
}

/* The note still passes the gates of any reply: an angry client gets none. */
static void test_note_gates(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) now = at_minutes(0);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Invoice\r\n"
               "Message-ID: <angry@acme.example>\r\n",
               "This is UNACCEPTABLE. You missed the deadline AGAIN. I will take legal action "
               "and see you in small claims court.\r\n", now, FALSE);
  g_autoptr(GDateTime) later = at_minutes(30);
  guard_ingest(f, NOTE_HEAD("g1"), ASK, later, TRUE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 0);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'note_refused'"
                           " AND client_id = 'acme'"), ==, 1);
}

/* ... and the per-client daily limit: three replies today, then a note. */
static void test_note_limit(GuardFixture *f, gconstpointer data)
{
  (void)data;
  for (int i = 0; i < 3; i++) {
    g_autoptr(GDateTime) t = at_minutes(i);
    g_autofree char *head = g_strdup_printf("From: bob@acme.example\r\nTo: jo@va.example\r\n"
                                            "Subject: Job %d\r\n"
                                            "Message-ID: <j%d@acme.example>\r\n", i, i);
    guard_ingest(f, head, ASK, t, FALSE);
  }
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 3);
  g_autoptr(GDateTime) later = at_minutes(30);
  guard_ingest(f, NOTE_HEAD("l1"), ASK, later, TRUE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 3);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'note_refused'"
                           " AND detail LIKE '%per_client_per_day%'"), ==, 1);
}

/* ---- 2. limits ----------------------------------------------------------- */

static void test_flood(GuardFixture *f, gconstpointer data)
{
  (void)data;
  for (int i = 0; i < 100; i++) {
    g_autoptr(GDateTime) received = at_minutes(i / 2);
    g_autofree char *head = g_strdup_printf("From: bob@acme.example\r\nTo: jo@va.example\r\n"
                                            "Subject: Job number %d\r\n"
                                            "Message-ID: <flood%d@acme.example>\r\n", i, i);
    guard_ingest(f, head, ASK, received, FALSE);
  }
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 3);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM trail_events WHERE kind = 'flood'"), ==, 1);
  g_autoptr(GDateTime) later = at_minutes(120);
  g_assert_true(digest_mentions(f, later, "more than 10 messages within an hour"));
}

static void test_forged_dates(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) epoch = g_date_time_new_utc(2020, 1, 1, 9, 0, 0);
  for (int i = 0; i < 100; i++) {
    g_autoptr(GDateTime) forged = g_date_time_add_days(epoch, 61 * i);
    g_autofree char *date = g_date_time_format(forged, "%a, %d %b %Y %H:%M:%S +0000");
    g_autoptr(GDateTime) received = at_minutes(i);
    g_autofree char *head = g_strdup_printf("From: bob@acme.example\r\nTo: jo@va.example\r\n"
                                            "Subject: Contract\r\nDate: %s\r\n"
                                            "Message-ID: <dated%d@acme.example>\r\n", date, i);
    guard_ingest(f, head, ASK, received, FALSE);
  }
  gint64 confirmations = count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'");
  g_test_message("100 messages, Dates 61 days apart: %" G_GINT64_FORMAT " confirmation(s)",
                 confirmations);
  g_assert_cmpint(confirmations, <=, 3);
}

static void test_alerts_per_day(GuardFixture *f, gconstpointer data)
{
  (void)data;
  for (int i = 0; i < 50; i++) {
    g_autoptr(GDateTime) received = at_minutes(i);
    g_autofree char *head = g_strdup_printf("From: bob@acme.example\r\nTo: jo@va.example\r\n"
                                            "Subject: Final warning %d\r\n"
                                            "Message-ID: <threat%d@acme.example>\r\n", i, i);
    guard_ingest(f, head, "I will take legal action and see you in small claims court.\r\n",
                 received, FALSE);
  }
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'alert'"), ==, 11);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'alert'"
                           " AND subject LIKE '%more than 10 alerts today%'"), ==, 1);
}

/* ---- 3. strangers do not calm a thread ------------------------------------ */

static double thread_risk(GuardFixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) threads = store_list_threads(f->db.store, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(threads->len, ==, 1);
  return ((StoreThreadRow *)threads->pdata[0])->risk;
}

#define ANGRY "This is UNACCEPTABLE. You missed the deadline AGAIN. I will take legal " \
              "action and see you in small claims court.\r\n"

static void test_stranger_calm(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) t0 = at_minutes(0);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Invoice\r\n"
               "Message-ID: <angry@acme.example>\r\n", ANGRY, t0, FALSE);
  double angry = thread_risk(f);
  g_assert_cmpfloat(angry, >=, 1.0);
  for (int i = 0; i < 3; i++) {
    g_autoptr(GDateTime) t = at_minutes(10 + i);
    g_autofree char *head = g_strdup_printf(
      "From: carol@elsewhere.example\r\nTo: jo@va.example\r\nSubject: Re: Invoice\r\n"
      "In-Reply-To: <angry@acme.example>\r\nMessage-ID: <calm%d@elsewhere.example>\r\n", i);
    guard_ingest(f, head, "Thanks, have a lovely day.\r\n", t, FALSE);
  }
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM messages"), ==, 4);
  g_test_message("thread risk %.2f after the angry message, %.2f after 3 calm strangers",
                 angry, thread_risk(f));
  g_assert_cmpfloat(thread_risk(f), >=, angry);
  /* the thread still blocks a confirmation, and is still in the digest */
  g_autoptr(GDateTime) t1 = at_minutes(20);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Re: Invoice\r\n"
               "In-Reply-To: <angry@acme.example>\r\nMessage-ID: <ask@acme.example>\r\n", ASK,
               t1, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) t2 = at_minutes(60);
  g_autoptr(Digest) digest = digest_gather(f->db.store, f->db.config, NULL, t2, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(digest->risky->len, ==, 1);
  /* once the VA has answered herself, calm mail may lower it again */
  g_autoptr(GDateTime) t3 = at_minutes(90);
  guard_ingest(f, "From: jo@va.example\r\nTo: bob@acme.example\r\nSubject: Re: Invoice\r\n"
               "In-Reply-To: <angry@acme.example>\r\nMessage-ID: <va@va.example>\r\n",
               "Hi Bob, I am sorry about the delay; it is done now.\r\n", t3, TRUE);
  g_assert_cmpfloat(thread_risk(f), <, angry);
}

/* The client's own calm mail does not talk the thread down within
 * risk_memory either, until the VA marks it handled. */
static void test_peak_memory(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) t0 = at_minutes(0);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Invoice\r\n"
               "Message-ID: <p0@acme.example>\r\n", ANGRY, t0, FALSE);
  double angry = thread_risk(f);
  for (int i = 1; i <= 3; i++) {
    g_autoptr(GDateTime) t = at_minutes(i * 60);
    g_autofree char *head = g_strdup_printf(
      "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Re: Invoice\r\n"
      "In-Reply-To: <p0@acme.example>\r\nMessage-ID: <p%d@acme.example>\r\n", i);
    guard_ingest(f, head, "Thanks, have a lovely day.\r\n", t, FALSE);
  }
  g_assert_cmpfloat(thread_risk(f), >=, angry);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) handled = at_minutes(5 * 60);
  gint64 thread = count(f, "SELECT thread_id FROM messages LIMIT 1");
  gboolean found = FALSE;
  g_assert_true(store_thread_set_handled(f->db.store, thread, handled, &found, &error));
  g_assert_true(found);
  g_autoptr(GDateTime) t5 = at_minutes(6 * 60);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Re: Invoice\r\n"
               "In-Reply-To: <p0@acme.example>\r\nMessage-ID: <p5@acme.example>\r\n",
               "Thanks again, all good.\r\n", t5, FALSE);
  g_assert_cmpfloat(thread_risk(f), <, angry);
}

/* ---- 5. loops ------------------------------------------------------------ */

static void test_loop_generated_id(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) t0 = at_minutes(0);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Contract\r\n"
               "Message-ID: <c1@acme.example>\r\n", ASK, t0, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_outbox_list(f->db.store, NULL, &error);
  const char *ours = ((StoreOutboxRow *)rows->pdata[0])->message_id;
  /* another keel answers ours, its Auto-Submitted stripped by a relay, a day later */
  g_autoptr(GDateTime) t1 = at_minutes(24 * 60);
  g_autofree char *head = g_strdup_printf(
    "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Something else\r\n"
    "In-Reply-To: <%s>\r\nReferences: <c1@acme.example> <%s>\r\n"
    "Message-ID: <c2@acme.example>\r\n", ours, ours);
  guard_ingest(f, head, "Just confirming: 1) Please book the room for Monday at 10am.\r\n",
               t1, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 1);
}

static void test_loop_two_replies(GuardFixture *f, gconstpointer data)
{
  (void)data;
  /* a relay strips Auto-Submitted, In-Reply-To and References: only the
   * thread's subject holds it together; a day between messages */
  for (int i = 0; i < 5; i++) {
    g_autoptr(GDateTime) t = at_minutes(i * 24 * 60);
    g_autofree char *head = g_strdup_printf(
      "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: %sContract\r\n"
      "Message-ID: <loop%d@acme.example>\r\n", i ? "Re: " : "", i);
    guard_ingest(f, head, ASK, t, FALSE);
  }
  g_assert_cmpint(count(f, "SELECT COUNT(DISTINCT thread_id) FROM messages"), ==, 1);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 2);
  /* the VA writes in the thread herself: keel may answer again */
  g_autoptr(GDateTime) t5 = at_minutes(5 * 24 * 60);
  guard_ingest(f, "From: jo@va.example\r\nTo: bob@acme.example\r\nSubject: Re: Contract\r\n"
               "Message-ID: <va1@va.example>\r\n", "Hi Bob, all in hand.\r\n", t5, TRUE);
  g_autoptr(GDateTime) t6 = at_minutes(6 * 24 * 60);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Re: Contract\r\n"
               "Message-ID: <loop6@acme.example>\r\n", ASK, t6, FALSE);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"), ==, 3);
}

/* ---- migration 2 -> 3 ------------------------------------------------------ */

static void test_migrate_2_to_3(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) t0 = at_minutes(0);
  guard_ingest(f, "From: bob@acme.example\r\nTo: jo@va.example\r\nSubject: Invoice\r\n"
               "Message-ID: <m@acme.example>\r\n", ANGRY, t0, FALSE);
  double risk = thread_risk(f);
  g_clear_pointer(&f->db.pipeline, pipeline_free);
  g_clear_pointer(&f->db.store, store_close);
  test_db_rewind(f->db.path, 2);
  g_autoptr(GError) error = NULL;
  f->db.store = store_open(f->db.path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(store_schema_version(f->db.store), ==, store_schema_latest());
  g_assert_cmpfloat(thread_risk(f), ==, risk);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM threads WHERE risk_peak = 0"
                           " AND risk_peak_at IS NULL AND handled_at IS NULL"), ==, 1);
}

/* ---- config ---------------------------------------------------------------- */

static KeelConfig *load_text(const char *dir, const char *text, GError **error)
{
  g_autofree char *conf = g_build_filename(dir, "limits.conf", NULL);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  KeelConfig *config = config_load(conf, error);
  g_unlink(conf);
  return config;
}

static void test_config_keys(GuardFixture *f, gconstpointer data)
{
  (void)data;
  g_assert_cmpuint(f->db.config->replies_per_client_per_day, ==, 3);
  g_assert_cmpuint(f->db.config->replies_alerts_per_day, ==, 10);
  g_assert_cmpuint(f->db.config->replies_flood_threshold, ==, 10);
  g_assert_cmpuint(f->db.config->replies_risk_memory, ==, 3);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) set = load_text(f->db.dir, "[replies]\nper_client_per_day = 1\n"
                                        "alerts_per_day = 2\nflood_threshold = 5\n"
                                        "risk_memory = 7\n", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(set->replies_per_client_per_day, ==, 1);
  g_assert_cmpuint(set->replies_risk_memory, ==, 7);
  g_autoptr(KeelConfig) bad = load_text(f->db.dir, "[replies]\nalerts_per_day = 0\nflodd = 3\n",
                                        &error);
  g_assert_null(bad);
  g_assert_nonnull(strstr(error->message, ":2: "));
  g_assert_nonnull(strstr(error->message, "unknown key 'flodd' in [replies]"));
  gsize len = 0;
  g_assert_null(config_note_token("jo+keel@va.example", &len));
  g_assert_null(config_note_token("jo+keel-short@va.example", &len));
  g_assert_null(config_note_token("jo+keel-" TOKEN "!@va.example", &len));
  const char *token = config_note_token(NOTE_ADDRESS, &len);
  g_assert_nonnull(token);
  g_assert_cmpuint(len, ==, strlen(TOKEN));
  const KeelAccount *account = f->db.config->accounts->pdata[0];
  g_autofree char *suggested = config_note_address_suggest(account);
  g_assert_true(g_str_has_prefix(suggested, "jo+keel-"));
  g_assert_true(g_str_has_suffix(suggested, "@va.example"));
  g_assert_nonnull(config_note_token(suggested, &len));
  g_autofree char *server = config_account_authserv_id(account);
  g_assert_cmpstr(server, ==, "mail.va.example");
}

static void test_authres(void)
{
  const char *d = "va.example", *s = "mx.va.example";
  g_assert_true(authres_passes("mx.va.example; dkim=pass header.d=va.example", s, d));
  g_assert_true(authres_passes("MX.va.example 1; spf=pass smtp.mailfrom=jo@VA.example", s, d));
  g_assert_true(authres_passes("mx.va.example (x;y); dkim=pass (ok) header.i=@va.example", s, d));
  g_assert_true(authres_passes("mx.va.example; spf=fail smtp.mailfrom=jo@va.example;"
                               " dkim=pass header.d=\"va.example\"", s, d));
  g_assert_false(authres_passes("mx.evil.example; dkim=pass header.d=va.example", s, d));
  g_assert_false(authres_passes("mx.va.example; dkim=fail header.d=va.example", s, d));
  g_assert_false(authres_passes("mx.va.example; dkim=pass header.d=evil.example", s, d));
  g_assert_false(authres_passes("mx.va.example; dkim=pass header.d=va.example.evil", s, d));
  g_assert_false(authres_passes("mx.va.example; none", s, d));
  g_assert_false(authres_passes("mx.va.example (dkim=pass header.d=va.example)", s, d));
  g_assert_false(authres_passes(NULL, s, d));
  g_autofree char *server = authres_server(" (c) MX.va.example 1 ; dkim=pass");
  g_assert_cmpstr(server, ==, "mx.va.example");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn, data) \
  g_test_add(path, GuardFixture, data, guard_setup, fn, guard_teardown)
  ADD("/guard/note/forged-inbox", test_note_forged, NULL);
  ADD("/guard/note/authentic", test_note_authentic, NULL);
  ADD("/guard/note/no-token", test_note_no_token, "jo+keel@va.example");
  ADD("/guard/note/inbox-then-sent", test_note_inbox_then_sent, NULL);
  ADD("/guard/note/gates", test_note_gates, NULL);
  ADD("/guard/note/limit", test_note_limit, NULL);
  ADD("/guard/limits/flood", test_flood, NULL);
  ADD("/guard/limits/forged-dates", test_forged_dates, NULL);
  ADD("/guard/limits/alerts-per-day", test_alerts_per_day, NULL);
  ADD("/guard/risk/stranger-calm", test_stranger_calm, NULL);
  ADD("/guard/risk/peak-memory", test_peak_memory, NULL);
  ADD("/guard/loop/generated-id", test_loop_generated_id, NULL);
  ADD("/guard/loop/two-replies", test_loop_two_replies, NULL);
  ADD("/guard/config/keys", test_config_keys, NULL);
  g_test_add_func("/guard/authres", test_authres);
  ADD("/guard/store/migrate-2-to-3", test_migrate_2_to_3, NULL);
  return g_test_run();
}
