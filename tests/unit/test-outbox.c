/* tests/unit/test-outbox.c: the outbox state machine (daemon/outbox/outbox.c), the
 * messages keel writes (daemon/outbox/replies.c: headers, Re: subjects, header
 * injection, templates, human dates), queueing inside the caller's
 * transaction, and the pure confirm decision (filters/confirm.c). No
 * network: delivery itself is tested against real servers in
 * tests/integration/test-smtp.py. */
#include <glib.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <sqlite3.h>
#include <string.h>
#include "tests/unit/test-db.h"
#include "daemon/outbox/outbox.h"
#include "daemon/outbox/replies.h"
#include "daemon/record/rules-dir.h"
#include "daemon/record/trail.h"
#include "filters/confirm.h"
#include "filters/instructions.h"

/* ---- states ------------------------------------------------------------ */

static void test_states_allowed(void)
{
  /* the allowed moves, as listed in outbox.h; every other pair is refused */
  static const struct { OutboxState from, to; } allowed[] = {
    { OUTBOX_QUEUED, OUTBOX_CLAIMED }, { OUTBOX_TEMPFAIL, OUTBOX_CLAIMED },
    { OUTBOX_CLAIMED, OUTBOX_SENDING }, { OUTBOX_CLAIMED, OUTBOX_QUEUED },
    { OUTBOX_CLAIMED, OUTBOX_TEMPFAIL }, { OUTBOX_CLAIMED, OUTBOX_FAILED },
    { OUTBOX_SENDING, OUTBOX_SENT }, { OUTBOX_SENDING, OUTBOX_UNFILED },
    { OUTBOX_UNFILED, OUTBOX_SENT }, { OUTBOX_SENDING, OUTBOX_DRAFTED },
    { OUTBOX_SENDING, OUTBOX_TEMPFAIL }, { OUTBOX_SENDING, OUTBOX_FAILED },
    { OUTBOX_SENDING, OUTBOX_QUEUED }, { OUTBOX_SENDING, OUTBOX_UNCERTAIN },
    { OUTBOX_FAILED, OUTBOX_QUEUED }, { OUTBOX_UNCERTAIN, OUTBOX_QUEUED },
    { OUTBOX_QUEUED, OUTBOX_CANCELLED }, { OUTBOX_TEMPFAIL, OUTBOX_CANCELLED },
    { OUTBOX_FAILED, OUTBOX_CANCELLED }, { OUTBOX_UNCERTAIN, OUTBOX_CANCELLED },
  };
  guint count = 0;
  for (int from = OUTBOX_QUEUED; from <= OUTBOX_STATE_LAST; from++)
    for (int to = OUTBOX_QUEUED; to <= OUTBOX_STATE_LAST; to++) {
      gboolean expected = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS(allowed); i++)
        expected |= allowed[i].from == (OutboxState)from && allowed[i].to == (OutboxState)to;
      g_assert_cmpint(outbox_move_allowed(from, to), ==, expected);
      count += expected;
    }
  g_assert_cmpuint(count, ==, G_N_ELEMENTS(allowed));
  OutboxState parsed;
  g_assert_true(outbox_state_parse("tempfail", &parsed));
  g_assert_cmpint(parsed, ==, OUTBOX_TEMPFAIL);
  g_assert_false(outbox_state_parse("delivered", &parsed));
  for (int state = OUTBOX_QUEUED; state <= OUTBOX_STATE_LAST; state++) {
    g_assert_true(outbox_state_parse(outbox_state_name(state), &parsed));
    g_assert_cmpint(parsed, ==, state);
  }
}

static void test_retry_delay(void)
{
  g_assert_cmpint(outbox_retry_delay(1), ==, G_TIME_SPAN_MINUTE);
  g_assert_cmpint(outbox_retry_delay(2), ==, 2 * G_TIME_SPAN_MINUTE);
  g_assert_cmpint(outbox_retry_delay(4), ==, 8 * G_TIME_SPAN_MINUTE);
  g_assert_cmpint(outbox_retry_delay(30), ==, 6 * G_TIME_SPAN_HOUR);
}

/* ---- a store with one queued confirmation ------------------------------ */

typedef struct {
  char *dir, *path;
  Store *store;
  KeelAccount account;
} OutboxFixture;

static void fixture_setup(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  test_db_create("keel-outbox", &f->dir, &f->path, &f->store);
  f->account.name = "main";
  f->account.user = "jo@va.example";
}

static void fixture_teardown(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  test_db_remove(&f->dir, &f->path, &f->store);
}

static GPtrArray *one_instruction(void)
{
  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  Instruction *one = g_new0(Instruction, 1);
  one->text = g_strdup("Please send the contract to Sam by Friday.");
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  one->deadline = g_date_time_new(london, 2026, 3, 6, 17, 0, 0);
  one->deadline_iso = g_strdup("2026-03-06T17:00");
  g_ptr_array_add(list, one);
  return list;
}

static gint64 queue_one(OutboxFixture *f, const char *subject, GError **error)
{
  g_autoptr(GPtrArray) list = one_instruction();
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 10, 0, 0);
  ReplyVoice voice = { .first_name = "Bob", .greeting = "Hi Bob,", .to_name = "Bob Smith", .va_name = "Jo",
                       .business = "", .signature = "Jo" };
  OutboxConfirmation c = {
    .account = &f->account, .client_id = "acme", .client_name = "Bob Smith",
    .to_address = "bob@acme.example", .thread_id = 0, .in_reply_to = "m1@acme.example",
    .subject = subject, .instructions = list,
    .template_text = "Hi {{first_name}},\n{{instructions}}\n{{signature}}\n",
    .template_name = "confirm.txt", .voice = &voice, .now = now, .is_reply = TRUE,
  };
  return outbox_queue_confirmation(f->store, &c, error);
}

static StoreOutboxRow *only_row(OutboxFixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_outbox_list(f->store, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 1);
  return g_ptr_array_steal_index(rows, 0);
}

static void test_move_enforced(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(queue_one(f, "Contract", &error), >, 0);
  g_autoptr(StoreOutboxRow) row = only_row(f);
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 10, 1, 0);
  g_assert_cmpstr(row->state, ==, "queued");
  g_assert_false(outbox_move(f->store, row, OUTBOX_SENT, 1, NULL, NULL, now, &error));
  g_assert_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE);
  g_clear_error(&error);
  g_assert_false(outbox_move(f->store, row, OUTBOX_SENDING, 1, NULL, NULL, now, &error));
  g_assert_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE); /* claim first */
  g_clear_error(&error);
  g_assert_true(outbox_move(f->store, row, OUTBOX_CLAIMED, 1, NULL, NULL, now, &error));
  g_assert_no_error(error);
  /* `row` still says queued: a second claim must fail (another sender won) */
  g_assert_false(outbox_move(f->store, row, OUTBOX_CLAIMED, 1, NULL, NULL, now, &error));
  g_assert_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE);
  g_clear_error(&error);
  g_autoptr(StoreOutboxRow) claimed = only_row(f);
  g_assert_true(outbox_move(f->store, claimed, OUTBOX_SENDING, 1, NULL, NULL, now, &error));
  g_autoptr(StoreOutboxRow) sending = only_row(f);
  g_assert_true(outbox_move(f->store, sending, OUTBOX_FAILED, 1, NULL, "550 no", now, &error));
  g_autoptr(StoreOutboxRow) failed = only_row(f);
  g_assert_cmpstr(failed->state, ==, "failed");
  g_assert_cmpstr(failed->last_error, ==, "550 no");
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM trail_events WHERE kind ="
                             " 'confirmation_failed'"), ==, 1);
  g_assert_true(trail_verify(f->store, NULL, &error));
}

/* An uncertain row waits for the VA: retry queues it, cancel drops it. */
static void test_retry_and_cancel(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 id = queue_one(f, "Contract", &error);
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 10, 1, 0);
  g_autoptr(StoreOutboxRow) queued = only_row(f);
  g_assert_false(outbox_retry(f->store, id, now, &error)); /* queued: nothing to retry */
  g_assert_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE);
  g_clear_error(&error);
  g_assert_true(outbox_move(f->store, queued, OUTBOX_CLAIMED, 1, NULL, NULL, now, &error));
  g_autoptr(StoreOutboxRow) claimed = only_row(f);
  g_assert_true(outbox_move(f->store, claimed, OUTBOX_SENDING, 1, NULL, NULL, now, &error));
  g_autoptr(StoreOutboxRow) sending = only_row(f);
  g_assert_true(outbox_move(f->store, sending, OUTBOX_UNCERTAIN, 1, NULL, "unknown", now,
                            &error));
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM trail_events WHERE kind ="
                             " 'confirmation_uncertain'"), ==, 1);
  g_assert_true(outbox_retry(f->store, id, now, &error));
  g_autoptr(StoreOutboxRow) again = only_row(f);
  g_assert_cmpstr(again->state, ==, "queued");
  g_assert_cmpint(again->attempts, ==, 0);
  g_assert_true(outbox_cancel(f->store, id, now, &error));
  g_assert_no_error(error);
  g_autoptr(StoreOutboxRow) cancelled = only_row(f);
  g_assert_cmpstr(cancelled->state, ==, "cancelled");
  g_assert_false(outbox_cancel(f->store, id, now, &error));
  g_assert_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE);
  g_clear_error(&error);
  g_assert_false(outbox_retry(f->store, id + 100, now, &error));
  g_assert_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_NOT_FOUND);
  g_clear_error(&error);
  /* a cancelled row is never due */
  const char *const due[] = { "queued", "tempfail", NULL };
  g_autoptr(GPtrArray) rows = store_outbox_due(f->store, due, now, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 0);
  g_assert_true(trail_verify(f->store, NULL, &error));
}

/* The due list reads states and times in SQL and leaves the bytes behind. */
static void test_due_without_raw(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 id = queue_one(f, "Contract", &error);
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 10, 1, 0);
  g_autoptr(GDateTime) later = g_date_time_add_minutes(now, 5);
  g_autoptr(StoreOutboxRow) queued = only_row(f);
  g_assert_true(outbox_move(f->store, queued, OUTBOX_CLAIMED, 1, NULL, NULL, now, &error));
  g_autoptr(StoreOutboxRow) sending = only_row(f);
  g_assert_true(outbox_move(f->store, sending, OUTBOX_TEMPFAIL, 1, later, "451", now, &error));
  const char *const due[] = { "queued", "tempfail", NULL };
  g_autoptr(GPtrArray) early = store_outbox_due(f->store, due, now, &error);
  g_assert_cmpuint(early->len, ==, 0);
  g_autoptr(GPtrArray) rows = store_outbox_due(f->store, due, later, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 1);
  StoreOutboxRow *row = rows->pdata[0];
  g_assert_cmpint(row->id, ==, id);
  g_assert_null(row->raw);
  g_autoptr(StoreOutboxRow) full = store_outbox_get(f->store, id, &error);
  g_assert_nonnull(full->raw);
  g_assert_cmpuint(g_bytes_get_size(full->raw), >, 100);
}

static void test_queue_in_transaction(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  g_assert_true(store_begin(f->store, &error));
  g_assert_cmpint(queue_one(f, "Contract", &error), >, 0);
  store_rollback(f->store);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM outbox"), ==, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM trail_events"), ==, 0);
  g_assert_true(store_begin(f->store, &error));
  gint64 id = queue_one(f, "Contract", &error);
  g_assert_true(store_commit(f->store, &error));
  g_assert_cmpint(id, >, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM outbox WHERE state = 'queued'"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM trail_events WHERE kind ="
                             " 'confirmation_queued'"), ==, 1);
  g_autoptr(StoreOutboxRow) row = only_row(f);
  g_assert_cmpstr(row->subject, ==, "Re: Contract");
  gsize size = 0;
  const char *raw = g_bytes_get_data(row->raw, &size);
  g_autofree char *text = g_strndup(raw, size);
  g_assert_nonnull(strstr(text, "Fri 6 Mar, 5pm"));
  g_assert_nonnull(strstr(text, row->message_id));
}

static void test_queue_bad_template(OutboxFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GPtrArray) list = one_instruction();
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 10, 0, 0);
  OutboxConfirmation c = {
    .account = &f->account, .client_id = "acme", .client_name = "Bob",
    .to_address = "bob@acme.example", .subject = "x", .instructions = list,
    .template_text = "Hi\n{{client_nmae}}\n", .template_name = "confirm.txt", .now = now,
  };
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(outbox_queue_confirmation(f->store, &c, &error), ==, 0);
  g_assert_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_TEMPLATE);
  g_assert_nonnull(strstr(error->message, "confirm.txt:2: unknown variable {{client_nmae}}"));
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM outbox"), ==, 0);
}

/* ---- replies ----------------------------------------------------------- */

static void test_subject_re(void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "Hello", "Re: Hello" }, { "Re: Hello", "Re: Hello" }, { "RE: re: Hello", "Re: Hello" },
    { "Re[2]: Hello", "Re: Hello" }, { "AW: Hello", "Re: Hello" }, { "Re:Hello", "Re: Hello" },
    { "Re: Re: Re: Hello", "Re: Hello" }, { "Reply needed", "Re: Reply needed" },
    { "Regarding: fees", "Re: Regarding: fees" }, { "", "Re: " },
    { "Re: Line\r\nBcc: x@evil.example", "Re: Line Bcc: x@evil.example" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *out = replies_subject(cases[i].in);
    g_assert_cmpstr(out, ==, cases[i].out);
  }
}

static void test_clean_value(void)
{
  g_autofree char *a = replies_clean_value("  a\r\nb\tc\x01\x7f d \xe2\x80\xa8 e  ");
  g_assert_cmpstr(a, ==, "a b c d e");
  g_autofree char *b = replies_clean_value("caf\xc3\xa9");
  g_assert_cmpstr(b, ==, "caf\xc3\xa9");
  g_autofree char *c = replies_clean_value(NULL);
  g_assert_cmpstr(c, ==, "");
}

static void test_human_date(void)
{
  static const struct { int day, hour, minute; const char *text; } cases[] = {
    { 6, 17, 0, "Fri 6 Mar, 5pm" }, { 9, 9, 30, "Mon 9 Mar, 9:30am" },
    { 10, 12, 0, "Tue 10 Mar, 12pm" }, { 11, 0, 5, "Wed 11 Mar, 12:05am" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GDateTime) when = g_date_time_new_utc(2026, 3, cases[i].day, cases[i].hour,
                                                    cases[i].minute, 0);
    g_autofree char *text = replies_human_date(when);
    g_assert_cmpstr(text, ==, cases[i].text);
  }
}

static void test_render(void)
{
  g_autoptr(GHashTable) vars = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(vars, "name", "Bob");
  g_autoptr(GError) error = NULL;
  g_autofree char *ok = replies_render("Hi {{ name }}!", "t", vars, &error);
  g_assert_cmpstr(ok, ==, "Hi Bob!");
  g_autofree char *open = replies_render("a\nb {{name", "t.txt", vars, &error);
  g_assert_null(open);
  g_assert_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_TEMPLATE);
  g_assert_nonnull(strstr(error->message, "t.txt:2:"));
}

static GMimeMessage *parse_built(GBytes *raw)
{
  gsize size = 0;
  const char *data = g_bytes_get_data(raw, &size);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(data, size);
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
  return g_mime_parser_construct_message(parser, NULL);
}

static gboolean has_header(GMimeMessage *message, const char *name)
{
  return g_mime_object_get_header(GMIME_OBJECT(message), name) != NULL;
}

/* Every line of the header section ends in CRLF, and no line starts a header
 * the spec did not ask for. */
static void assert_header_lines(GBytes *raw)
{
  static const char *const allowed[] = { "From:", "To:", "Subject:", "Date:", "Message-Id:",
                                         "In-Reply-To:", "References:", "MIME-Version:",
                                         "Auto-Submitted:", "Content-Type:",
                                         "Content-Transfer-Encoding:", NULL };
  gsize size = 0;
  const char *data = g_bytes_get_data(raw, &size);
  g_autofree char *text = g_strndup(data, size);
  char *end = strstr(text, "\r\n\r\n");
  g_assert_nonnull(end);
  *end = '\0';
  g_auto(GStrv) lines = g_strsplit(text, "\r\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_assert_null(strchr(lines[i], '\n'));
    g_assert_null(strchr(lines[i], '\r'));
    if (lines[i][0] == ' ' || lines[i][0] == '\t')
      continue; /* a folded continuation */
    gboolean known = FALSE;
    for (guint k = 0; allowed[k]; k++)
      known |= g_ascii_strncasecmp(lines[i], allowed[k], strlen(allowed[k])) == 0;
    if (!known)
      g_error("unexpected header line: %s", lines[i]);
  }
}

static void test_build_headers(void)
{
  g_autoptr(GDateTime) date = g_date_time_new_utc(2026, 3, 2, 10, 0, 0);
  g_autoptr(GPtrArray) refs = g_ptr_array_new();
  g_ptr_array_add(refs, "r1@acme.example");
  ReplySpec spec = { .from_address = "jo@va.example", .to_name = "Zoë Bloggs",
                     .to_address = "zoe@acme.example", .subject = "Re: Café plans",
                     .in_reply_to = "m1@acme.example", .references = refs,
                     .body = "Confirmed: café at 5pm — thanks\n", .date = date,
                     .auto_submitted = "auto-replied" };
  g_autofree char *id = replies_new_message_id(spec.from_address);
  g_assert_true(g_str_has_suffix(id, "@va.example"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = replies_build(&spec, id, &error);
  g_assert_no_error(error);
  assert_header_lines(raw);
  g_autoptr(GMimeMessage) message = parse_built(raw);
  GMimeObject *object = GMIME_OBJECT(message);
  g_assert_cmpstr(g_mime_message_get_message_id(message), ==, id);
  g_assert_cmpstr(g_mime_message_get_subject(message), ==, "Re: Café plans");
  g_assert_cmpstr(g_mime_object_get_header(object, "In-Reply-To"), ==, "<m1@acme.example>");
  g_assert_cmpstr(g_mime_object_get_header(object, "References"), ==,
                  "<r1@acme.example> <m1@acme.example>");
  g_assert_cmpstr(g_mime_object_get_header(object, "Auto-Submitted"), ==, "auto-replied");
  g_assert_cmpstr(g_mime_object_get_header(object, "MIME-Version"), ==, "1.0");
  g_assert_true(has_header(message, "Date"));
  GMimeObject *part = g_mime_message_get_mime_part(message);
  g_assert_cmpstr(g_mime_object_get_content_type_parameter(part, "charset"), ==, "utf-8");
  g_assert_cmpint(g_mime_part_get_content_encoding(GMIME_PART(part)), ==,
                  GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  g_autofree char *body = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
  g_assert_nonnull(strstr(body, "café at 5pm — thanks"));
}

/* Two keels confirming to each other: what one sends, the other reads as
 * automated mail (Auto-Submitted), and automated mail is never answered, so
 * the loop cannot start. */
static void test_no_reply_loop(void)
{
  g_autoptr(GDateTime) date = g_date_time_new_utc(2026, 3, 6, 10, 0, 0);
  ReplySpec spec = { .from_address = "jo@va.example", .to_address = "sam@other-va.example",
                     .subject = "Re: Viewings", .in_reply_to = "m1@other-va.example",
                     .body = "Just confirming: 1) book the viewings", .date = date,
                     .auto_submitted = "auto-replied" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = replies_build(&spec, "c1@va.example", &error);
  g_assert_no_error(error);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(raw, &len);
  g_autoptr(KeelMessage) seen = message_parse(data, len, date, 0, &error);
  g_assert_no_error(error);
  g_assert_true(seen->automated);
  g_assert_nonnull(strstr(seen->automated_reason, "Auto-Submitted"));
  ConfirmFacts facts = { .known_client = TRUE, .automated = seen->automated,
                         .instructions = 1 };
  g_assert_cmpint(confirm_decide(&facts).action, ==, CONFIRM_NONE);
}

static void test_header_injection(void)
{
  g_autoptr(GDateTime) date = g_date_time_new_utc(2026, 3, 2, 10, 0, 0);
  g_autoptr(GPtrArray) refs = g_ptr_array_new();
  g_ptr_array_add(refs, "ok@acme.example");
  g_ptr_array_add(refs, "bad@acme.example>\r\nX-Ref-Injected: yes");
  g_autofree char *subject = replies_subject("Hi\r\nBcc: victim@evil.example\r\n\r\nbody");
  ReplySpec spec = { .from_name = "Jo\r\nX-From-Injected: 1", .from_address = "jo@va.example",
                     .to_name = "Bob\nX-To-Injected: 1", .to_address = "bob@acme.example",
                     .subject = subject, .in_reply_to = "m1@acme.example\r\nX-Irt-Injected: 1",
                     .references = refs, .body = "text", .date = date,
                     .auto_submitted = "auto-replied\r\nX-Auto-Injected: 1" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = replies_build(&spec, "id1@va.example", &error);
  g_assert_no_error(error);
  assert_header_lines(raw);
  g_autoptr(GMimeMessage) message = parse_built(raw);
  const char *injected[] = { "Bcc", "X-Ref-Injected", "X-From-Injected", "X-To-Injected",
                             "X-Irt-Injected", "X-Auto-Injected" };
  for (gsize i = 0; i < G_N_ELEMENTS(injected); i++)
    g_assert_false(has_header(message, injected[i]));
  g_assert_cmpstr(g_mime_message_get_subject(message), ==,
                  "Re: Hi Bcc: victim@evil.example body");
  g_assert_false(has_header(message, "In-Reply-To")); /* not a plain msg-id: dropped */
  g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(message), "References"), ==,
                  "<ok@acme.example>");
  /* an address with a line break is refused outright */
  spec.to_address = "bob@acme.example\r\nBcc: x@evil.example";
  g_autoptr(GBytes) refused = replies_build(&spec, "id2@va.example", &error);
  g_assert_null(refused);
  g_assert_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_ADDRESS);
}


/* ---- after ingest: instructions recorded, confirmation planned --------- */

typedef struct {
  OutboxFixture base;
  KeelConfig *config;
  InstructionRules *rules;
  RuleSet *score_rules;   /* the scoring rules: the verdict confirm_decide() weighs */
} PlanFixture;

static void plan_setup(PlanFixture *f, gconstpointer data)
{
  fixture_setup(&f->base, data);
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_assert_nonnull(root);
  g_autofree char *rules = g_build_filename(root, "rules", NULL);
  g_autofree char *conf = g_build_filename(f->base.dir, "keel.conf", NULL);
  g_autofree char *pw = g_build_filename(f->base.dir, "pw", NULL);
  g_autofree char *text = g_strdup_printf(
    "[keel]\ndatabase = %s\nrules = %s\ntimezone = Europe/London\n\n"
    "[account main]\nimap = imaps://127.0.0.1:1\nsmtp = smtps://127.0.0.1:2\n"
    "user = jo@va.example\npassword_file = %s\n\n"
    "[client acme]\nname = Bob Smith\naddresses = bob@acme.example\n", f->base.path, rules, pw);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  f->config = config_load(conf, &error);
  g_assert_no_error(error);
  f->rules = trail_load_instruction_rules(f->config->rules, &error);
  g_assert_no_error(error);
  f->score_rules = rules_load_dir(f->config->rules, &error);
  g_assert_no_error(error);
  g_unlink(conf);
}

static void plan_teardown(PlanFixture *f, gconstpointer data)
{
  g_clear_pointer(&f->rules, instruction_rules_free);
  g_clear_pointer(&f->score_rules, rules_free);
  g_clear_pointer(&f->config, config_free);
  fixture_teardown(&f->base, data);
}

/* Stores a message from `from` and runs outbox_after_ingest() on it. */
static ConfirmDecision plan_message(PlanFixture *f, const char *from, const char *msgid,
                                    const char *extra, const char *body, gboolean first_sync,
                                    gboolean risky, gint64 *outbox_id)
{
  g_autofree char *text = g_strdup_printf(
    "From: %s\r\nTo: jo@va.example\r\nSubject: Contract\r\n"
    "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <%s>\r\n%s\r\n%s\r\n", from, msgid,
    extra, body);
  g_autoptr(GBytes) raw = g_bytes_new(text, strlen(text));
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)text, strlen(text), NULL, 0,
                                                 &error);
  g_assert_no_error(error);
  const KeelClient *client = config_client_for_address(f->config, message->from->address);
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN, .first_sync = first_sync,
                         .client_id = client ? client->id : NULL };
  gint64 row = 0, thread = 0;
  g_assert_true(store_begin(f->base.store, &error));
  if (client)
    g_assert_true(store_client_set(f->base.store, client->id, client->name, &error));
  g_assert_cmpint(store_add_message(f->base.store, &origin, raw, message, &row, &thread, &error),
                  ==, STORE_ADDED);
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 9, 5, 0);
  g_autoptr(ScoreResult) verdict = score_message(f->score_rules, message, NULL, &error);
  g_assert_no_error(error);
  verdict->risky = verdict->risky || risky;
  OutboxIngest in = { .config = f->config, .client = client, .message = message,
                      .rules = f->rules, .row_id = row, .thread_id = thread,
                      .first_sync = first_sync, .verdict = verdict, .now = now };
  ConfirmDecision decision = { CONFIRM_NONE, "" };
  g_assert_true(outbox_after_ingest(f->base.store, &in, &decision, outbox_id, &error));
  g_assert_no_error(error);
  g_assert_true(store_commit(f->base.store, &error));
  return decision;
}

#define ASK "Please send the signed contract to Sam by Friday 5pm.\r\n"

static void test_plan_after_ingest(PlanFixture *f, gconstpointer data)
{
  (void)data;
  OutboxFixture *b = &f->base;
  gint64 id = 0;
  ConfirmDecision d = plan_message(f, "Bob <bob@acme.example>", "a1@acme.example", "", ASK,
                                   FALSE, FALSE, &id);
  g_assert_cmpint(d.action, ==, CONFIRM_SEND);
  g_assert_cmpint(id, >, 0);
  g_assert_cmpint(test_db_int(b->path, "SELECT COUNT(*) FROM instructions WHERE message_id ="
                             " 'a1@acme.example' AND deadline = '2026-03-06T17:00'"), ==, 1);
  g_autoptr(StoreOutboxRow) row = only_row(b);
  g_assert_cmpstr(row->rcpt, ==, "bob@acme.example");
  g_assert_cmpstr(row->subject, ==, "Re: Contract");
  gsize size = 0;
  const char *bytes = g_bytes_get_data(row->raw, &size);
  g_autofree char *raw = g_strndup(bytes, size);
  g_assert_nonnull(strstr(raw, "In-Reply-To: <a1@acme.example>"));
  g_assert_nonnull(strstr(raw, "Auto-Submitted: auto-replied"));
  g_autoptr(GMimeMessage) built = parse_built(row->raw);
  g_autofree char *body = g_mime_text_part_get_text(
    GMIME_TEXT_PART(g_mime_message_get_mime_part(built)));
  g_assert_nonnull(strstr(body, "1) Please send the signed contract to Sam by Friday 5pm — by "
                                "Fri 6 Mar, 5pm"));
  g_assert_nonnull(strstr(body, "Hi Bob,"));
  /* the same thread an hour later: recorded, but the rate limit holds */
  d = plan_message(f, "bob@acme.example", "a2@acme.example",
                   "In-Reply-To: <a1@acme.example>\r\n", "Also book the room for Monday.\r\n",
                   FALSE, FALSE, &id);
  g_assert_cmpint(d.action, ==, CONFIRM_NONE);
  g_assert_nonnull(strstr(d.reason, "12 hours"));
  g_assert_cmpint(test_db_int(b->path, "SELECT COUNT(*) FROM outbox"), ==, 1);
  g_assert_cmpint(test_db_int(b->path, "SELECT COUNT(*) FROM confirmations"), ==, 1);
  g_autoptr(GError) error = NULL;
  g_assert_true(trail_verify(b->store, NULL, &error));
}

static void test_plan_refusals(PlanFixture *f, gconstpointer data)
{
  (void)data;
  gint64 id = 0;
  ConfirmDecision d = plan_message(f, "eve@else.example", "s1@else.example", "", ASK, FALSE,
                                   FALSE, &id);
  g_assert_nonnull(strstr(d.reason, "not a known client"));
  d = plan_message(f, "bob@acme.example", "s2@acme.example", "Auto-Submitted: auto-replied\r\n",
                   ASK, FALSE, FALSE, &id);
  g_assert_nonnull(strstr(d.reason, "automated"));
  d = plan_message(f, "bob@acme.example", "s3@acme.example", "", ASK, FALSE, TRUE, &id);
  g_assert_nonnull(strstr(d.reason, "risky"));
  d = plan_message(f, "bob@acme.example", "s4@acme.example", "", ASK, TRUE, FALSE, &id);
  g_assert_nonnull(strstr(d.reason, "first sync"));
  g_assert_cmpint(test_db_int(f->base.path, "SELECT COUNT(*) FROM outbox"), ==, 0);
  /* history is still on record: instructions of s3 and s4, none of the stranger's */
  g_assert_cmpint(test_db_int(f->base.path, "SELECT COUNT(*) FROM instructions WHERE message_id IN"
                                    " ('s3@acme.example', 's4@acme.example')"), ==, 2);
  g_assert_cmpint(test_db_int(f->base.path, "SELECT COUNT(*) FROM instructions WHERE client_id IS NULL"),
                  ==, 0);
}


int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_mime_init();
  g_test_add_func("/outbox/states/allowed", test_states_allowed);
  g_test_add_func("/outbox/states/retry-delay", test_retry_delay);
#define ADD(path, fn) \
  g_test_add(path, OutboxFixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/outbox/states/move-enforced", test_move_enforced);
  ADD("/outbox/states/retry-and-cancel", test_retry_and_cancel);
  ADD("/outbox/store/due-without-raw", test_due_without_raw);
  ADD("/outbox/queue/in-callers-transaction", test_queue_in_transaction);
  ADD("/outbox/queue/bad-template", test_queue_bad_template);
  g_test_add_func("/outbox/replies/subject-re", test_subject_re);
  g_test_add_func("/outbox/replies/clean-value", test_clean_value);
  g_test_add_func("/outbox/replies/human-date", test_human_date);
  g_test_add_func("/outbox/replies/render", test_render);
  g_test_add_func("/outbox/replies/headers", test_build_headers);
  g_test_add_func("/outbox/replies/header-injection", test_header_injection);
  g_test_add_func("/outbox/replies/no-reply-loop", test_no_reply_loop);
  g_test_add("/outbox/plan/after-ingest", PlanFixture, NULL, plan_setup, test_plan_after_ingest,
             plan_teardown);
  g_test_add("/outbox/plan/refusals", PlanFixture, NULL, plan_setup, test_plan_refusals,
             plan_teardown);
  int rc = g_test_run();
  g_mime_shutdown();
  return rc;
}
