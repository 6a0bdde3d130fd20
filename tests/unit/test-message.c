/* tests/unit/test-message.c: the parser (filters/message.c, quote.c, html.c,
 * automated.c) on the dev corpus (KEEL_SHARED/corpus/dev), on the hand-made
 * edge cases in tests/data/parser/ (each NAME.eml against its golden
 * NAME.json), on generated inputs (a 2 MB line, a message over the size
 * limit), and `keel parse` end to end (KEEL_BIN).
 * Expected header values are typed in from the files, never read back with
 * GMime. KEEL_UPDATE_GOLDEN=1 rewrites the golden files instead of checking.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include "filters/message.h"

#define RECEIVED "2026-04-01T00:00:00Z"

static char *corpus_path(const char *file)
{
  const char *shared = g_getenv("KEEL_SHARED");
  if (shared == NULL)
    return g_test_build_filename(G_TEST_DIST, "..", "..", "shared", "corpus", "dev", file, NULL);
  return g_build_filename(shared, "corpus", "dev", file, NULL);
}

static char *parser_data_path(const char *file)
{
  return g_test_build_filename(G_TEST_DIST, "data", "parser", file, NULL);
}

static GDateTime *received_time(void)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  return g_date_time_new_from_iso8601(RECEIVED, utc);
}

static KeelMessage *parse_bytes(const char *data, gsize len, gsize max_size)
{
  g_autoptr(GDateTime) received = received_time();
  g_autoptr(GError) error = NULL;
  KeelMessage *message = message_parse((const guint8 *)data, len, received, max_size, &error);
  g_assert_no_error(error);
  g_assert_nonnull(message);
  return message;
}

static KeelMessage *parse_file(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_file_get_contents(path, &data, &len, &error);
  g_assert_no_error(error);
  return parse_bytes(data, len, 0);
}

static KeelMessage *parse_corpus(const char *file)
{
  g_autofree char *path = corpus_path(file);
  return parse_file(path);
}

static char *date_iso(const KeelMessage *message)
{
  return g_date_time_format(message->date, "%Y-%m-%dT%H:%M:%SZ");
}

/* ---- the dev corpus: headers ---- */

typedef struct {
  const char *file;
  const char *message_id;
  const char *from_name;
  const char *from_address;
  const char *subject;
  const char *date;
  const char *in_reply_to;
} HeaderCase;

static const HeaderCase header_cases[] = {
  { "001.eml", "DB7PR06MB54122D703D7AFDCC5B50793967313F15450DF@DB7PR06MB5412.eurprd06.prod.outlook.com",
    "Priya Shah", "priya.shah@crumbandco.co.uk",
    "Beeston opening hours + April rota", "2026-03-02T08:47:13Z", NULL },
  { "002.eml", "0102019cad4e5f71-3b2a9c1d-7e4f-4a8b-b2c6-9d0e1f2a3b4c-000000@eu-west-1.amazonses.com",
    "Settle", "no-reply@settlepay.co.uk",
    "You've been paid £540.00 by Whitcombe & Lowe", "2026-03-02T09:31:40Z", NULL },
  { "003.eml", "4BA0FE09-CBB1-4DC8-A5A5-0FE2D7B329F9@ameliarosephotography.co.uk",
    "Amelia Hartley", "amelia@ameliarosephotography.co.uk",
    "Hendersons + new consult", "2026-03-02T11:05:37Z", NULL },
  { "005.eml", "CAF0ZGTMaTv53V7SyYvn5zq7BpkJwd0UddOGEy5uEHaBtVfCWMZDBN@mail.gmail.com",
    "Gareth Pryce", "gareth@harboursidelettings.co.uk",
    "Re: Viewings this week + Cotham Vale inventory", "2026-03-03T12:16:08Z",
    "CACliBTf_3xxGJsHJaQmhW73dvzCwCMFpQXbcO8tHCj8B4hE6d+k8F@mail.gmail.com" },
  { "009.eml", "AM9PR04MB816195B33E798A25CE7EFAD3B9B44FB507F7E@AM9PR04MB8161.eurprd04.prod.outlook.com",
    "Fraser McLeod", "fraser.mcleod@glenmoorgolf.com",
    "Spring Open – tee times & piper", "2026-03-04T10:15:44Z", NULL },
  { "012.eml", "LO2P265MB331839BD188811824FFEE549C6B48810BFCA5@LO2P265MB3318.GBRP265.PROD.OUTLOOK.COM",
    "Darren Whitlock", "darren.whitlock@kestrelhomes.co.uk",
    "RE: Meanwood snagging lists", "2026-03-05T19:42:37Z",
    "LO2P265MB33180FE6E00520E791278C0E904D926D36153@LO2P265MB3318.GBRP265.PROD.OUTLOOK.COM" },
  { "014.eml", "CAAEmEDYD8FdWnLRexa8XWOPZkKIsmIk375INVLH0mI7rsl5lwbuRK@mail.gmail.com",
    "Rhiannon Ellis", "rhiannon@rhiannonellis.coach",
    "So excited!! ✨ + contract", "2026-03-07T22:14:03Z", NULL },
  { "018.eml", "LO2P265MB3318AF71ABE03476EE9EE287D28ED18CC8291@LO2P265MB3318.GBRP265.PROD.OUTLOOK.COM",
    "Darren Whitlock", "darren.whitlock@kestrelhomes.co.uk",
    "RE: Receipts", "2026-03-10T07:58:40Z",
    "LO2P265MB331808EFB7C89684C99F15E5D133C312BDE5B@LO2P265MB3318.GBRP265.PROD.OUTLOOK.COM" },
  { "019.eml", "AM9PR04MB81614D1E043F6FBA9D09171D394AE94B9F006@AM9PR04MB8161.eurprd04.prod.outlook.com",
    "Fraser McLeod", "fraser.mcleod@glenmoorgolf.com",
    "Automatic reply: Spring Open – tee times sent & piper booked", "2026-03-10T09:02:11Z", NULL },
  { "020.eml", "7c1e9a52-3f0b-4d6e-9a21-b8e4c07d5f13@crumbandco.co.uk",
    "Tomasz Wójcik", "tomasz.wojcik@crumbandco.co.uk",
    "Supplier invoices – February (Xero)", "2026-03-10T14:47:29Z", NULL },
  { "029.eml", "AM9PR04MB81611B9A87AE77BCFA14BFA5BB5FE4827A41B@AM9PR04MB8161.eurprd04.prod.outlook.com",
    "Fraser McLeod", "fraser.mcleod@glenmoorgolf.com",
    "Spring Open – late entries", "2026-03-17T09:35:20Z", NULL },
  { "036.eml", "000101dcbc4a$d9166e80$c5fc1409$@whitcombelowe.co.uk",
    "Martin Lowe", "martin.lowe@whitcombelowe.co.uk",
    "Invoice BD-2026-046 - VAT?", "2026-03-25T11:30:57Z", NULL },
  { "040.eml", "AM9PR04MB8161F50C79A6EEE6F72DCE7467B6DEE617A39@AM9PR04MB8161.eurprd04.prod.outlook.com",
    "Fraser McLeod", "fraser.mcleod@glenmoorgolf.com",
    "Spring Open - thank you!", "2026-03-30T08:12:44Z", NULL },
};

static void test_corpus_headers(gconstpointer data)
{
  const HeaderCase *c = data;
  g_autoptr(KeelMessage) message = parse_corpus(c->file);
  g_autofree char *date = date_iso(message);
  g_assert_cmpstr(message->message_id, ==, c->message_id);
  g_assert_false(message->message_id_derived);
  g_assert_nonnull(message->from);
  g_assert_cmpstr(message->from->name, ==, c->from_name);
  g_assert_cmpstr(message->from->address, ==, c->from_address);
  g_assert_cmpstr(message->subject, ==, c->subject);
  g_assert_cmpstr(date, ==, c->date);
  g_assert_false(message->date_fallback);
  g_assert_cmpstr(message->in_reply_to, ==, c->in_reply_to);
  g_assert_cmpuint(message->to->len, ==, 1);
  g_assert_cmpstr(((KeelAddress *)g_ptr_array_index(message->to, 0))->address, ==,
                  "jo@brightdesk-va.co.uk");
}

/* Every corpus file parses into a message with a sender, a date, its own
 * Message-ID and some new text. */
static void test_corpus_all(void)
{
  for (guint i = 1; i <= 40; i++) {
    g_autofree char *file = g_strdup_printf("%03u.eml", i);
    g_autoptr(KeelMessage) message = parse_corpus(file);
    g_test_message("%s: new_text %zu bytes", file, strlen(message->new_text));
    g_assert_nonnull(message->from);
    g_assert_false(message->message_id_derived);
    g_assert_false(message->date_fallback);
    g_assert_true(message->has_text);
    g_assert_false(message->too_large);
    g_assert_cmpuint(strlen(message->new_text), >, 20);
    g_assert_true(g_utf8_validate(message->body_text, -1, NULL));
  }
}

static void test_corpus_threading(void)
{
  g_autoptr(KeelMessage) m018 = parse_corpus("018.eml");
  g_assert_cmpuint(m018->references->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(m018->references, 0), ==,
                  "LO2P265MB3318154E772E5FFD5C52850F00E2E363ECAB8@LO2P265MB3318.GBRP265.PROD.OUTLOOK.COM");
  g_autoptr(KeelMessage) m001 = parse_corpus("001.eml");
  g_assert_cmpuint(m001->cc->len, ==, 1);
  g_assert_cmpstr(((KeelAddress *)g_ptr_array_index(m001->cc, 0))->name, ==, "Helen Marsh");
  g_assert_cmpuint(m001->attachments->len, ==, 1);
  KeelAttachment *csv = g_ptr_array_index(m001->attachments, 0);
  g_assert_cmpstr(csv->filename, ==, "Beeston rota April 2026.csv");
  g_assert_cmpstr(csv->content_type, ==, "text/csv");
  g_assert_cmpuint(csv->size, >, 500);
  g_autoptr(KeelMessage) m022 = parse_corpus("022.eml");
  g_assert_cmpuint(m022->attachments->len, ==, 2);
  g_autoptr(KeelMessage) m036 = parse_corpus("036.eml");
  g_assert_nonnull(strstr(m036->new_text, "Renée in accounts"));
  g_assert_nonnull(strstr(m036->new_text, "(£608.00)"));
  g_autoptr(KeelMessage) m029 = parse_corpus("029.eml");
  g_assert_true(m029->from_html);
  g_assert_nonnull(strstr(m029->new_text, "Siobhán Kelly"));
}

/* ---- the dev corpus: new / quoted / signature ---- */

typedef struct {
  const char *file;
  const char *new_has;     /* in new_text */
  const char *new_lacks;   /* not in new_text (NULL: skip) */
  const char *quoted_has;  /* in quoted_text (NULL: quoted_text must be empty) */
  const char *signature_has;
} SplitCase;

static const SplitCase split_cases[] = {
  { "005.eml", "I sent this over 3 hours ago", "Can you send me the updated viewing schedule",
    "Can you send me the updated viewing schedule", "G" },
  { "010.eml", "Beeston Sunday hours are 9am-2pm", "Hope you had a good weekend",
    "Hope you had a good weekend", "Founder & Managing Director" },
  { "012.eml", "WHERE ARE THE SNAGGING LISTS", "Snagging lists for plots 3-7",
    "Snagging lists for plots 3-7", "Get Outlook for iOS" },
  { "015.eml", "You missed the deadline", "dropped a bag of reciepts", "dropped a bag of reciepts",
    "Managing Director" },
  { "018.eml", "I owe you an apology", "You missed the deadline", "You missed the deadline",
    "Managing Director" },
  { "021.eml", "You're HOW much??", "my hourly rate will be £38", "my hourly rate will be £38",
    "Brooke" },
  { "026.eml", "just following up on this", "Karen's picked Aisha", "Karen's picked Aisha",
    "Get Outlook for iOS" },
  { "028.eml", "I'm not paying BD-2026-033", "Make it sexy", "Make it sexy",
    "Founder, Beckett Brand Studio" },
  { "034.eml", "Knock it down to 10 hours", "Please find attached invoice",
    "Please find attached invoice", "Managing Director" },
  { "035.eml", "Thanks for the call yesterday", "Why am I being charged", "Why am I being charged",
    "Cheers\nGareth" },
  { "001.eml", "Nothing else urgent this week", "Operations Manager", NULL, "Thanks!\nPriya" },
  { "006.eml", "under separate cover", "Martin Lowe FCA", NULL, "Regards," },
  { "014.eml", "set up my Calendly", "Transformational", NULL, "Love & light," },
  { "016.eml", "Wednesday ok?", "Sent from my iPhone", NULL, "Sent from my iPhone" },
  { "029.eml", "Six late entries", "Events & Membership Manager", NULL, "Many thanks," },
  { "032.eml", "Money Claim Online", "Founder, Beckett", NULL, "Tom Beckett" },
  { "033.eml", "FINAL NOTICE", "Unsubscribe:", NULL, "Unsubscribe:" },
};

static void test_corpus_split(gconstpointer data)
{
  const SplitCase *c = data;
  g_autoptr(KeelMessage) message = parse_corpus(c->file);
  g_test_message("new: %s\nquoted: %s\nsignature: %s", message->new_text, message->quoted_text,
                 message->signature);
  g_assert_nonnull(strstr(message->new_text, c->new_has));
  if (c->new_lacks != NULL)
    g_assert_null(strstr(message->new_text, c->new_lacks));
  if (c->quoted_has != NULL)
    g_assert_nonnull(strstr(message->quoted_text, c->quoted_has));
  else
    g_assert_cmpstr(message->quoted_text, ==, "");
  g_assert_nonnull(strstr(message->signature, c->signature_has));
}

/* 018: a calm apology on top of angry quoted mail: exactly the apology is new. */
static void test_corpus_split_018_exact(void)
{
  g_autoptr(KeelMessage) message = parse_corpus("018.eml");
  g_assert_true(g_str_has_prefix(message->new_text, "Morning Jo,\n\nI owe you an apology"));
  g_assert_true(g_str_has_suffix(message->new_text, "I'll get it paid this week."));
  g_assert_true(g_str_has_prefix(message->signature, "Thanks\nDarren\n\nDarren Whitlock\nManaging Director"));
  g_assert_true(g_str_has_suffix(message->signature, "www.kestrelhomes.co.uk"));
  g_assert_true(g_str_has_prefix(message->quoted_text, "From: Darren Whitlock\nSent: 09 March 2026 09:18"));
  g_assert_nonnull(strstr(message->quoted_text, "it's going straight to my solicitor"));
}

/* ---- automated ---- */

static void test_corpus_automated(void)
{
  for (guint i = 1; i <= 40; i++) {
    g_autofree char *file = g_strdup_printf("%03u.eml", i);
    g_autoptr(KeelMessage) message = parse_corpus(file);
    gboolean expected = i == 2 || i == 19 || i == 33;
    g_test_message("%s: automated=%d (%s)", file, message->automated,
                   message->automated_reason ? message->automated_reason : "-");
    g_assert_cmpint(message->automated, ==, expected);
    g_assert_true((message->automated_reason != NULL) == expected);
  }
  g_autoptr(KeelMessage) m019 = parse_corpus("019.eml");
  g_assert_cmpstr(m019->automated_reason, ==, "Auto-Submitted: auto-replied");
  g_autoptr(KeelMessage) m033 = parse_corpus("033.eml");
  g_assert_cmpstr(m033->automated_reason, ==, "Precedence: bulk");
  g_autoptr(KeelMessage) m002 = parse_corpus("002.eml");
  g_assert_cmpstr(m002->automated_reason, ==, "sender no-reply@settlepay.co.uk");
}

/* ---- hand-made edge cases: field checks ---- */

typedef struct {
  const char *file;
  const char *field;
  const char *expected; /* "=text": exactly; otherwise a substring */
} EdgeCheck;

static const EdgeCheck edge_checks[] = {
  { "missing-headers.eml", "from", "=(none)" },
  { "missing-headers.eml", "message_id_derived", "=true" },
  { "missing-headers.eml", "message_id", "@keel.invalid" },
  { "missing-headers.eml", "date", "=" RECEIVED },
  { "missing-headers.eml", "date_fallback", "=true" },
  { "missing-headers.eml", "new_text", "has no From, Date or Message-ID" },
  { "broken-boundary.eml", "has_text", "=false" },
  { "broken-boundary.eml", "new_text", "never declared" },
  { "wrong-charset.eml", "new_text", "Renée in accounts says the total is £608.00." },
  { "wrong-charset.eml", "new_text", "café labelled UTF-8" },
  { "wrong-charset.eml", "new_text", "naïve UTF-8 inside" },
  { "8bit-headers.eml", "from.name", "=Renée Dupont" },
  { "8bit-headers.eml", "to.name", "=Zoë Baker" },
  { "8bit-headers.eml", "subject", "=Café déjà vu" },
  { "8bit-headers.eml", "date", "=2026-03-05T08:15:00Z" },
  { "rfc2047.eml", "subject", "=Café déjà vu – ok" },
  { "rfc2047.eml", "from.name", "=Renée “Quotes” Dupont" },
  { "rfc2047.eml", "to.name", "=Zoë Baker" },
  { "rfc2047.eml", "cc", "=2" },
  { "rfc2047.eml", "references", "=2" },
  { "rfc2047.eml", "in_reply_to", "=parent@example.com" },
  { "nested-multipart.eml", "new_text", "=The plain part of a nested message." },
  { "nested-multipart.eml", "signature", "=Thanks,\nBrooke" },
  { "nested-multipart.eml", "attachments", "=3" },
  { "html-only.eml", "from_html", "=true" },
  { "html-only.eml", "new_text", "Please see the draw sheet and add Siobhán by Wednesday noon.\nSecond line." },
  { "html-only.eml", "new_text", "Iain 12" },
  { "html-only.eml", "body_text", "!ignored" },
  { "html-only.eml", "quoted_text", "=> An older message that was quoted." },
  { "html-only.eml", "signature", "=Many thanks,\nFraser" },
  { "bounce.eml", "automated", "=true" },
  { "bounce.eml", "automated_reason", "=empty Return-Path (<>)" },
  { "bounce.eml", "return_path", "=" },
  { "calendar.eml", "automated_reason", "=calendar invitation (text/calendar)" },
  { "forwarded.eml", "new_text", "=Jo, can you book this in please?" },
  { "forwarded.eml", "quoted_text", "Your certificate expires on 14 April." },
  { "forwarded.eml", "signature", "=Nadia" },
  { "original-message.eml", "new_text", "Thanks for the quick reply yesterday" },
  { "original-message.eml", "new_text", "send the packs over by noon?" },
  { "original-message.eml", "signature", "=Best regards,\nMartin Lowe\nPartner" },
  { "original-message.eml", "quoted_text", "The packs are nearly ready." },
  { "bottom-post.eml", "new_text", "=That is too short for my link. Can it be an option?\n\nPlease reconsider." },
  { "bottom-post.eml", "quoted_text", "> No plans right now." },
  { "bottom-post.eml", "signature", "=-- \nSven" },
  { "signoff-mid.eml", "new_text", "Thanks!\n\nAlso, please book the venue" },
  { "signoff-mid.eml", "new_text", "Thanks for sorting the invoices last week too." },
  { "signoff-mid.eml", "signature", "=Cheers\nTom\nFounder, Beckett Brand Studio\n020 7946 0813" },
};

static char *edge_count(guint count)
{
  return g_strdup_printf("%u", count);
}

static char *edge_bool(gboolean value)
{
  return g_strdup(value ? "true" : "false");
}

static char *edge_first_name(const GPtrArray *list)
{
  return g_strdup(list->len > 0 ? ((KeelAddress *)g_ptr_array_index(list, 0))->name : "(none)");
}

/* The value of `field` as text, for the table above. */
static char *edge_field(const KeelMessage *m, const char *field)
{
  const struct { const char *name; const char *value; } strings[] = {
    { "new_text", m->new_text }, { "quoted_text", m->quoted_text }, { "signature", m->signature },
    { "body_text", m->body_text }, { "subject", m->subject }, { "message_id", m->message_id },
    { "in_reply_to", m->in_reply_to }, { "automated_reason", m->automated_reason },
    { "return_path", m->return_path },
  };
  for (guint i = 0; i < G_N_ELEMENTS(strings); i++)
    if (g_str_equal(field, strings[i].name))
      return g_strdup(strings[i].value != NULL ? strings[i].value : "(null)");
  if (g_str_equal(field, "from"))
    return g_strdup(m->from != NULL ? m->from->address : "(none)");
  if (g_str_equal(field, "from.name"))
    return g_strdup(m->from != NULL ? m->from->name : "(none)");
  if (g_str_equal(field, "to.name"))
    return edge_first_name(m->to);
  if (g_str_equal(field, "date"))
    return date_iso(m);
  const struct { const char *name; gboolean value; } flags[] = {
    { "date_fallback", m->date_fallback }, { "message_id_derived", m->message_id_derived },
    { "from_html", m->from_html }, { "has_text", m->has_text }, { "automated", m->automated },
  };
  for (guint i = 0; i < G_N_ELEMENTS(flags); i++)
    if (g_str_equal(field, flags[i].name))
      return edge_bool(flags[i].value);
  if (g_str_equal(field, "cc"))
    return edge_count(m->cc->len);
  if (g_str_equal(field, "references"))
    return edge_count(m->references->len);
  g_assert_cmpstr(field, ==, "attachments");
  return edge_count(m->attachments->len);
}

/* "=x": equals x; "!x": does not contain x; else contains. */
static void test_edge_check(gconstpointer data)
{
  const EdgeCheck *c = data;
  g_autofree char *path = parser_data_path(c->file);
  g_autoptr(KeelMessage) message = parse_file(path);
  g_autofree char *value = edge_field(message, c->field);
  if (c->expected[0] == '=')
    g_assert_cmpstr(value, ==, c->expected + 1);
  else if (c->expected[0] == '!')
    g_assert_null(strstr(value, c->expected + 1));
  else if (strstr(value, c->expected) == NULL)
    g_test_fail_printf("%s: %s is \"%s\", which lacks \"%s\"", c->file, c->field, value,
                       c->expected);
}

/* ---- hand-made edge cases: golden JSON ---- */

static JsonNode *message_json(const KeelMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  message_to_json(message, builder);
  json_builder_end_object(builder);
  return json_builder_get_root(builder);
}

/* The message at `path` parses to exactly the JSON in `golden`
 * (KEEL_UPDATE_GOLDEN=1: rewrite `golden` instead). */
static void check_golden(const char *path, const char *golden)
{
  g_autoptr(KeelMessage) message = parse_file(path);
  g_autoptr(JsonNode) actual = message_json(message);
  if (g_getenv("KEEL_UPDATE_GOLDEN") != NULL) {
    g_autofree char *text = json_to_string(actual, TRUE);
    g_autofree char *with_newline = g_strconcat(text, "\n", NULL);
    g_assert_true(g_file_set_contents(golden, with_newline, -1, NULL));
    g_test_skip("golden file rewritten");
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  json_parser_load_from_file(parser, golden, &error);
  g_assert_no_error(error);
  if (!json_node_equal(actual, json_parser_get_root(parser))) {
    g_autofree char *text = json_to_string(actual, TRUE);
    g_test_fail_printf("%s differs from %s; got:\n%s", path, golden, text);
  }
}

/* tests/data/parser/NAME.eml against NAME.json. */
static void test_edge_golden(gconstpointer data)
{
  const char *file = data;
  g_autofree char *path = parser_data_path(file);
  g_autofree char *stem = g_strndup(path, strlen(path) - strlen(".eml"));
  g_autofree char *golden = g_strconcat(stem, ".json", NULL);
  check_golden(path, golden);
}

/* The dev corpus NNN.eml against tests/data/parser/dev/NNN.json: the whole
 * split, reviewed once by hand, kept from drifting. */
static void test_corpus_golden(gconstpointer data)
{
  guint number = GPOINTER_TO_UINT(data);
  g_autofree char *file = g_strdup_printf("%03u.eml", number);
  g_autofree char *json = g_strdup_printf("%03u.json", number);
  g_autofree char *path = corpus_path(file);
  g_autofree char *golden = g_test_build_filename(G_TEST_DIST, "data", "parser", "dev", json, NULL);
  check_golden(path, golden);
}

/* ---- generated inputs ---- */

static const char generated_headers[] =
  "From: Big Sender <big@example.com>\r\n"
  "To: jo@example.org\r\n"
  "Subject: a very big message\r\n"
  "Date: Mon, 2 Mar 2026 08:47:13 +0000\r\n"
  "Message-ID: <big@example.com>\r\n"
  "Content-Type: text/plain; charset=utf-8\r\n"
  "\r\n";

/* A 2 MB body on one line, and a 1 MB header line: parsed; the text is read
 * up to KEEL_LIMITS_TEXT (1 MB, filters/mime-limits.h), the header whole. */
static void test_generated_huge_line(void)
{
  g_autoptr(GString) raw = g_string_new("X-Long: ");
  for (guint i = 0; i < 1024 * 1024 / 8; i++)
    g_string_append(raw, "abcdefg ");
  g_string_append(raw, "\r\n");
  g_string_append(raw, generated_headers);
  gsize body_start = raw->len;
  for (guint i = 0; i < 2 * 1024 * 1024 / 16; i++)
    g_string_append(raw, i % 2 ? "word word word. " : "0123456789abcdef");
  g_autoptr(KeelMessage) message = parse_bytes(raw->str, raw->len, 0);
  g_assert_cmpstr(message->subject, ==, "a very big message");
  g_assert_cmpuint(strlen(message->new_text), ==, KEEL_LIMITS_TEXT);
  g_assert_true(strncmp(message->new_text, raw->str + body_start, KEEL_LIMITS_TEXT) == 0);
  g_assert_cmpuint(strlen(message_header(message, "X-Long")), >=, 1024 * 1024 - 8);
  g_assert_false(message->too_large);
}

/* Over max_size: only the header section is parsed; the body never is. */
static void test_generated_over_size(void)
{
  g_autoptr(GString) raw = g_string_new(generated_headers);
  for (guint i = 0; i < 64 * 1024; i++)
    g_string_append(raw, "This line is body text that must not be parsed.\r\n");
  g_autoptr(KeelMessage) message = parse_bytes(raw->str, raw->len, 1024 * 1024);
  g_assert_true(message->too_large);
  g_assert_cmpuint(message->size, ==, raw->len);
  g_assert_cmpstr(message->subject, ==, "a very big message");
  g_assert_cmpstr(message->message_id, ==, "big@example.com");
  g_assert_cmpstr(message->new_text, ==, "");
  g_assert_cmpstr(message->body_text, ==, "");

  g_autoptr(GDateTime) received = received_time();
  g_autoptr(KeelMessage) head = message_parse_truncated((const guint8 *)raw->str, 4096,
                                                        30u * 1024 * 1024, received, NULL);
  g_assert_nonnull(head);
  g_assert_true(head->too_large);
  g_assert_cmpuint(head->size, ==, 30u * 1024 * 1024);
  g_assert_cmpstr(head->from->address, ==, "big@example.com");
  g_assert_false(head->date_fallback);
}

static void test_generated_not_messages(void)
{
  g_autoptr(GError) error = NULL;
  g_assert_null(message_parse((const guint8 *)"", 0, NULL, 0, &error));
  g_assert_error(error, KEEL_MESSAGE_ERROR, KEEL_MESSAGE_ERROR_EMPTY);
  g_clear_error(&error);
  g_assert_null(message_parse((const guint8 *)" \r\n\r\n", 5, NULL, 0, &error));
  g_assert_error(error, KEEL_MESSAGE_ERROR, KEEL_MESSAGE_ERROR_EMPTY);
  g_clear_error(&error);
  g_assert_null(message_parse((const guint8 *)"hello world", 11, NULL, 0, &error));
  g_assert_error(error, KEEL_MESSAGE_ERROR, KEEL_MESSAGE_ERROR_MALFORMED);
}

/* The derived Message-ID depends only on the bytes. */
static void test_generated_derived_id(void)
{
  static const char a[] = "Subject: one\n\nbody\n";
  static const char b[] = "Subject: two\n\nbody\n";
  g_autoptr(KeelMessage) a1 = parse_bytes(a, sizeof a - 1, 0);
  g_autoptr(KeelMessage) a2 = parse_bytes(a, sizeof a - 1, 0);
  g_autoptr(KeelMessage) b1 = parse_bytes(b, sizeof b - 1, 0);
  g_assert_true(a1->message_id_derived);
  g_assert_cmpstr(a1->message_id, ==, a2->message_id);
  g_assert_cmpstr(a1->message_id, !=, b1->message_id);
  g_assert_cmpuint(strlen(a1->message_id), ==, 64 + strlen("@keel.invalid"));
}

/* ---- subject_normalise ---- */

typedef struct {
  const char *subject;
  const char *normalised;
} SubjectCase;

static const SubjectCase subject_cases[] = {
  { "Re: Receipts", "receipts" },
  { "RE: RE: Fwd: Receipts", "receipts" },
  { "AW: WG: [Kestrel] Re[2]:  Receipts   Now", "receipts now" },
  { "[ILUG] Re: BANK ERROR IN YOUR FAVOR", "bank error in your favor" },
  { "FW: Spring Open – tee times", "spring open – tee times" },
  { "Sv: Re:Re:Hej", "hej" },
  { "Reply needed: rota", "reply needed: rota" },
  { "", "" },
};

static void test_subject_normalise(void)
{
  for (guint i = 0; i < G_N_ELEMENTS(subject_cases); i++) {
    g_autofree char *normalised = subject_normalise(subject_cases[i].subject);
    g_assert_cmpstr(normalised, ==, subject_cases[i].normalised);
  }
  g_autofree char *none = subject_normalise(NULL);
  g_assert_cmpstr(none, ==, "");
}

/* ---- JSON and the command line ---- */

static void test_json_fields(void)
{
  static const char *const members[] = {
    "message_id", "message_id_derived", "from", "to", "cc", "date", "date_fallback", "subject",
    "in_reply_to", "references", "new_text", "quoted_text", "signature", "attachments",
    "automated", "automated_reason", "too_large", "size", "has_text", "from_html", NULL,
  };
  g_autoptr(KeelMessage) message = parse_corpus("005.eml");
  g_autoptr(JsonNode) node = message_json(message);
  JsonObject *object = json_node_get_object(node);
  for (guint i = 0; members[i] != NULL; i++)
    g_assert_true(json_object_has_member(object, members[i]));
  g_assert_cmpstr(json_object_get_string_member(object, "date"), ==, "2026-03-03T12:16:08Z");
  JsonObject *from = json_object_get_object_member(object, "from");
  g_assert_cmpstr(json_object_get_string_member(from, "address"), ==,
                  "gareth@harboursidelettings.co.uk");
  g_assert_true(json_object_get_null_member(object, "automated_reason"));
}

/* `keel parse --json`: one object per line, `file` first; an unreadable file
 * is named on stderr, the others still print, the exit status is EX_NOINPUT. */
static void test_cli_json(void)
{
  const char *bin = g_getenv("KEEL_BIN");
  if (bin == NULL) {
    g_test_skip("KEEL_BIN not set");
    return;
  }
  g_autofree char *a = corpus_path("001.eml");
  g_autofree char *b = corpus_path("018.eml");
  const char *argv[] = { bin, "parse", "--json", a, "/nonexistent/missing.eml", b, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_autoptr(GError) error = NULL;
  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error(error);
  g_assert_cmpint(WEXITSTATUS(status), ==, 66);
  g_assert_nonnull(strstr(err, "missing.eml"));
  g_auto(GStrv) lines = g_strsplit(g_strchomp(out), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 2);
  for (guint i = 0; i < 2; i++) {
    g_autoptr(JsonParser) parser = json_parser_new();
    json_parser_load_from_data(parser, lines[i], -1, &error);
    g_assert_no_error(error);
    JsonObject *object = json_node_get_object(json_parser_get_root(parser));
    g_autoptr(GList) names = json_object_get_members(object);
    g_assert_cmpstr(names->data, ==, "file");
    g_assert_cmpstr(json_object_get_string_member(object, "file"), ==, i == 0 ? a : b);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(header_cases); i++) {
    g_autofree char *name = g_strdup_printf("/parser/corpus/headers/%s", header_cases[i].file);
    g_test_add_data_func(name, &header_cases[i], test_corpus_headers);
  }
  for (guint i = 0; i < G_N_ELEMENTS(split_cases); i++) {
    g_autofree char *name = g_strdup_printf("/parser/quote/corpus/%s", split_cases[i].file);
    g_test_add_data_func(name, &split_cases[i], test_corpus_split);
  }
  for (guint i = 0; i < G_N_ELEMENTS(edge_checks); i++) {
    g_autofree char *name = g_strdup_printf("/parser/edge/%s/%s/%u", edge_checks[i].file,
                                            edge_checks[i].field, i);
    g_test_add_data_func(name, &edge_checks[i], test_edge_check);
  }
  static const char *const golden[] = {
    "8bit-headers.eml", "bottom-post.eml", "bounce.eml", "broken-boundary.eml", "calendar.eml",
    "display-name-notice.eml", "flowed.eml", "yahoo-inline.eml", "yahoo-signature.eml",
    "forwarded.eml", "html-list.eml", "html-only.eml", "missing-headers.eml", "nested-multipart.eml",
    "original-message.eml", "rfc2047.eml", "signoff-mid.eml", "wrong-charset.eml",
  };
  for (guint i = 0; i < G_N_ELEMENTS(golden); i++) {
    g_autofree char *name = g_strdup_printf("/parser/golden/%s", golden[i]);
    g_test_add_data_func(name, golden[i], test_edge_golden);
  }
  for (guint i = 1; i <= 40; i++) {
    g_autofree char *name = g_strdup_printf("/parser/golden/dev/%03u.eml", i);
    g_test_add_data_func(name, GUINT_TO_POINTER(i), test_corpus_golden);
  }
  g_test_add_func("/parser/corpus/all", test_corpus_all);
  g_test_add_func("/parser/corpus/threading", test_corpus_threading);
  g_test_add_func("/parser/quote/outlook-nested-018", test_corpus_split_018_exact);
  g_test_add_func("/parser/automated/corpus", test_corpus_automated);
  g_test_add_func("/parser/generated/huge-line", test_generated_huge_line);
  g_test_add_func("/parser/generated/over-size", test_generated_over_size);
  g_test_add_func("/parser/generated/not-messages", test_generated_not_messages);
  g_test_add_func("/parser/generated/derived-message-id", test_generated_derived_id);
  g_test_add_func("/parser/subject/normalise", test_subject_normalise);
  g_test_add_func("/parser/json/fields", test_json_fields);
  g_test_add_func("/parser/cli/json", test_cli_json);
  return g_test_run();
}
