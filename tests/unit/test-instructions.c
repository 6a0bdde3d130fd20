/* tests/unit/test-instructions.c: unit tests for filters/instructions.c and
 * filters/deadlines.c (sentence units, each deadline phrase family against a
 * fixed message date, non-instructions, rule-file errors, and a floor on the
 * dev corpus), plus a driver mode used by tests/instructions-quality.py:
 *
 *   test-instructions --extract [--config keel.conf] [--rules DIR] FILE.eml...
 *   test-instructions --extract-lines [--rules DIR] --date ISO FILE.txt
 *
 * The first prints one JSON object per message (file, instructions with text,
 * deadline, urgency); the second treats each line of FILE.txt as the new text
 * of a message from a known client. Fixtures come from G_TEST_SRCDIR (tests/),
 * KEEL_SOURCE_ROOT (rules/) and KEEL_SHARED (the dev corpus).
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <string.h>

#include "filters/instructions.h"
#include "filters/json-out.h"
#include "filters/message.h"

/* ======================= shared helpers ======================= */

static char *test_source_root(void)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  const char *tests = g_getenv("G_TEST_SRCDIR");
  if (root != NULL)
    return g_strdup(root);
  return tests != NULL ? g_build_filename(tests, "..", NULL) : g_strdup(".");
}

static InstructionRules *test_load_rules(const char *rules_dir, GError **error)
{
  g_autofree char *root = test_source_root();
  g_autofree char *dir = rules_dir != NULL ? g_strdup(rules_dir) : g_build_filename(root, "rules", NULL);
  g_autofree char *ipath = g_build_filename(dir, "instructions.rules", NULL);
  g_autofree char *dpath = g_build_filename(dir, "deadlines.rules", NULL);
  g_autofree char *itext = NULL;
  g_autofree char *dtext = NULL;
  if (!g_file_get_contents(ipath, &itext, NULL, error) ||
      !g_file_get_contents(dpath, &dtext, NULL, error))
    return NULL;
  return instruction_rules_compile(itext, ipath, dtext, dpath, error);
}

static InstructionRules *shared_rules;

/* Minutes after midnight from "09:00". */
static int test_minutes(const char *hhmm)
{
  int h = 0, m = 0;
  if (sscanf(hhmm, "%d:%d", &h, &m) != 2)
    return -1;
  return h * 60 + m;
}

/* The corpus config: clients (address suffixes, zone, date order) and hours. */
typedef struct {
  GKeyFile *file;
  int start_min;
  int end_min;
} TestConfig;

static gboolean test_config_load(TestConfig *config, const char *path, GError **error)
{
  config->file = g_key_file_new();
  config->start_min = 9 * 60;
  config->end_min = 17 * 60 + 30;
  if (!g_key_file_load_from_file(config->file, path, G_KEY_FILE_NONE, error))
    return FALSE;
  g_autofree char *hours = g_key_file_get_string(config->file, "keel", "business_hours", NULL);
  const char *space = hours != NULL ? strchr(hours, ' ') : NULL;
  if (space != NULL && strlen(space) >= 12) {
    g_autofree char *start = g_strndup(space + 1, 5);
    config->start_min = test_minutes(start);
    config->end_min = test_minutes(space + 7);
  }
  return TRUE;
}

/* Fills `ctx` for sender `address`; returns the client's time zone (owned) or
 * NULL when the sender is not a client. */
static GTimeZone *test_config_client(const TestConfig *config, const char *address,
                                     InstructionContext *ctx)
{
  g_auto(GStrv) groups = g_key_file_get_groups(config->file, NULL);
  g_autofree char *lower = g_ascii_strdown(address != NULL ? address : "", -1);
  for (char **g = groups; *g != NULL; g++) {
    if (!g_str_has_prefix(*g, "client "))
      continue;
    g_auto(GStrv) addresses = g_key_file_get_string_list(config->file, *g, "addresses", NULL, NULL);
    for (char **a = addresses; a != NULL && *a != NULL; a++) {
      g_autofree char *want = g_ascii_strdown(g_strstrip(*a), -1);
      if ((want[0] == '@' && g_str_has_suffix(lower, want)) || g_strcmp0(lower, want) == 0) {
        g_autofree char *zone = g_key_file_get_string(config->file, *g, "timezone", NULL);
        g_autofree char *order = g_key_file_get_string(config->file, *g, "date_order", NULL);
        ctx->dates.month_first = g_strcmp0(order, "US") == 0;
        ctx->dates.business_start_min = config->start_min;
        ctx->dates.business_end_min = config->end_min;
        return zone != NULL ? g_time_zone_new_identifier(zone) : NULL;
      }
    }
  }
  return NULL;
}

static void test_print_json(GString *line)
{
  g_print("%s\n", line->str);
}

/* ======================= driver mode ======================= */

static int driver_eml(const InstructionRules *rules, const TestConfig *config, const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &data, &len, &error)) {
    g_printerr("%s\n", error->message);
    return 1;
  }
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)data, len, NULL, 0, &error);
  if (message == NULL) {
    g_printerr("%s: %s\n", path, error->message);
    return 1;
  }
  InstructionContext ctx;
  instruction_context_init(&ctx);
  g_autoptr(GTimeZone) zone = NULL;
  if (config != NULL && message->from != NULL)
    zone = test_config_client(config, message->from->address, &ctx);
  g_autoptr(GTimeZone) fallback = g_time_zone_new_identifier("Europe/London");
  ctx.dates.timezone = zone != NULL ? zone : fallback;
  ctx.automated = message->automated;
  g_autoptr(GPtrArray) found = instructions_extract(rules, message->new_text, message->date, &ctx);
  g_autoptr(GString) line = g_string_new(NULL);
  json_put_object_start(line, NULL);
  g_autofree char *base = g_path_get_basename(path);
  json_put_string(line, "file", base);
  instructions_to_json(found, line);
  json_put_object_end(line);
  test_print_json(line);
  return 0;
}

static int driver_lines(const InstructionRules *rules, const char *path, const char *date)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &data, NULL, &error)) {
    g_printerr("%s\n", error->message);
    return 1;
  }
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601(date, zone);
  if (sent == NULL) {
    g_printerr("bad --date %s\n", date);
    return 1;
  }
  InstructionContext ctx;
  instruction_context_init(&ctx);
  ctx.dates.timezone = zone;
  g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
  for (char **l = lines; *l != NULL; l++) {
    if (**l == '\0' && l[1] == NULL)
      break;
    g_autoptr(GPtrArray) found = instructions_extract(rules, *l, sent, &ctx);
    g_autoptr(GString) line = g_string_new(NULL);
    json_put_object_start(line, NULL);
    instructions_to_json(found, line);
    json_put_object_end(line);
    test_print_json(line);
  }
  return 0;
}

static int driver_main(int argc, char **argv)
{
  const char *config_path = NULL, *rules_dir = NULL, *date = "2026-03-04T10:00:00";
  gboolean lines = g_strcmp0(argv[1], "--extract-lines") == 0;
  int first = 2;
  for (; first + 1 < argc && g_str_has_prefix(argv[first], "--"); first += 2) {
    if (g_strcmp0(argv[first], "--config") == 0)
      config_path = argv[first + 1];
    else if (g_strcmp0(argv[first], "--rules") == 0)
      rules_dir = argv[first + 1];
    else if (g_strcmp0(argv[first], "--date") == 0)
      date = argv[first + 1];
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(InstructionRules) rules = test_load_rules(rules_dir, &error);
  if (rules == NULL) {
    g_printerr("%s\n", error->message);
    return 78; /* EX_CONFIG */
  }
  TestConfig config = {0};
  if (config_path != NULL && !test_config_load(&config, config_path, &error)) {
    g_printerr("%s\n", error->message);
    return 78;
  }
  int rc = 0;
  for (int i = first; i < argc; i++)
    rc |= lines ? driver_lines(rules, argv[i], date)
                : driver_eml(rules, config_path != NULL ? &config : NULL, argv[i]);
  g_clear_pointer(&config.file, g_key_file_unref);
  return rc;
}

/* ======================= unit tests ======================= */

typedef struct {
  const char *text;
  const char *units[6]; /* expected units, NULL-terminated */
} SplitCase;

static const SplitCase split_cases[] = {
  {"Hi Jo,\n\nCan you send it? Thanks.", {"Hi Jo,", "Can you send it?", "Thanks.", NULL}},
  {"Please call Mr. Smith at 9.30 e.g. tomorrow. Then email him.",
   {"Please call Mr. Smith at 9.30 e.g. tomorrow.", "Then email him.", NULL}},
  {"See www.example.com/a.b and mail jo@example.co.uk now. Done!",
   {"See www.example.com/a.b and mail jo@example.co.uk now.", "Done!", NULL}},
  {"Could you please:\n1) save both\n2) email Hannah the guide -\n   by Monday\n\nThanks",
   {"Could you please:", "save both", "email Hannah the guide - by Monday", "Thanks", NULL}},
  {"Two things:\n\n- send the contract? It's £500. Ideally by Wed\n\n- book a room",
   {"Two things:", "send the contract? It's £500. Ideally by Wed", "book a room", NULL}},
  {"\u2022 Code them to 5010.\n\u2022 Leave it in draft.", {"Code them to 5010.", "Leave it in draft.", NULL}},
  {"Could you:\na) save it\n(b) send it", {"Could you:", "save it", "send it", NULL}},
  {"It's just... flat. Make it sexy.", {"It's just... flat.", "Make it sexy.", NULL}},
  {"Could you send the\ncontract to Bob\ntoday please?\nCheers\nGareth",
   {"Could you send the contract to Bob today please?", "Cheers", "Gareth", NULL}},
  {"add them to the draw by\n\nWednesday noon\n\n, and then email it",
   {"add them to the draw by Wednesday noon , and then email it", NULL}},
  /* a line ends at each \r and \n, so CRLF text has a blank line between
   * any two: each break is an artefact here, and the sentence is joined */
  {"Could you send the\r\ncontract to Bob\r\ntoday please?\r\n",
   {"Could you send the contract to Bob today please?", NULL}},
  {"Send it before\n\nFriday noon\n\nSend it immediately\n\nFriday noon",
   {"Send it before Friday noon", "Send it immediately", "Friday noon", NULL}},
  /* a line alone has three words at most, after a line that ended a sentence */
  {"Please send it.\nThanks a lot for this\nJo", {"Please send it.", "Thanks a lot for this Jo", NULL}},
  {"Please send it.\nThanks a lot\nJo", {"Please send it.", "Thanks a lot", "Jo", NULL}},
  {"Ask Prof. Jones and J. Smith approx. Ten. See the appendix. Then sign.",
   {"Ask Prof. Jones and J. Smith approx. Ten.", "See the appendix.", "Then sign.", NULL}},
  {"\u2013 first\n\u2014 second\n\u00b7 third\no fourth\non Monday",
   {"first", "second", "third", "fourth on Monday", NULL}},
  /* not UTF-8: a sequence cut short by the end is never read past */
  {"Hi \xe2!", {"Hi \xe2!", NULL}},
  {"  \t\n\r\n  ", {NULL}},
};

static void test_split(gconstpointer data)
{
  const SplitCase *c = data;
  g_autoptr(GPtrArray) units = instructions_split_units(c->text);
  guint expected = 0;
  while (c->units[expected] != NULL)
    expected++;
  for (guint i = 0; i < units->len && i < expected; i++)
    g_assert_cmpstr(g_ptr_array_index(units, i), ==, c->units[i]);
  g_assert_cmpuint(units->len, ==, expected);
}

typedef struct {
  const char *sent;      /* message Date, ISO 8601 with offset */
  const char *zone;      /* client's zone */
  gboolean us;           /* US date order */
  const char *text;      /* one instruction */
  const char *deadline;  /* expected ISO local, NULL = none */
  int urgency;
} DeadlineCase;

static const DeadlineCase deadline_cases[] = {
  /* Monday 2 March 2026, 08:47 GMT */
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by Friday.", "2026-03-06T17:00", 0},
  /* a weekday named on that day is today, unless its time has passed */
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by Monday.", "2026-03-02T17:00", 0},
  {"2026-03-02T17:47:00Z", "Europe/London", FALSE, "Please send it by Monday.", "2026-03-09T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by next Monday.", "2026-03-09T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by next Wednesday.", "2026-03-11T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Call him tomorrow 9am please.", "2026-03-03T09:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please have it ready first thing Monday.", "2026-03-02T09:00", 0},
  {"2026-03-02T09:47:00Z", "Europe/London", FALSE, "Please have it ready first thing Monday.", "2026-03-09T09:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it first thing tomorrow.", "2026-03-03T09:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Can you get it over to me by EOD?", "2026-03-02T17:30", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please finish it by close of play.", "2026-03-02T17:30", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Book it by the end of next week.", "2026-03-13T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please file it before the 14th.", "2026-03-14T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please file it before the 1st.", "2026-04-01T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Send it by 3pm please.", "2026-03-02T15:00", 0},
  {"2026-03-02T16:10:00Z", "Europe/London", FALSE, "Send it by 3pm please.", "2026-03-03T15:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "I need it this morning.", "2026-03-02T12:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please email them on Thursday morning.", "2026-03-05T12:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please add them by Wednesday noon.", "2026-03-04T12:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "I need the schedule before 1.", "2026-03-02T13:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please pay it by 03/04.", "2026-04-03T17:00", 0},
  {"2026-03-02T08:47:00Z", "America/New_York", TRUE, "Please pay it by 03/04.", "2026-03-04T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by 14 April.", "2026-04-14T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it ASAP.", NULL, 3},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Could you send them urgently?", NULL, 3},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Send it when you get a chance.", NULL, 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "No rush, but please send the file.", NULL, 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please book the consultation for Saturday 14th at 2pm.", NULL, 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please confirm the clerk for the check in on Thursday at 10am.", NULL, 0},
  /* Friday 27 March 2026 (GMT); the clocks go forward on Sunday 29 March */
  {"2026-03-27T11:05:38Z", "Europe/London", FALSE, "Please book it by the end of next week.", "2026-04-03T17:00", 0},
  {"2026-03-27T11:05:38Z", "Europe/London", FALSE, "Please book it by Monday 9am.", "2026-03-30T09:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by the end of the month.", "2026-03-31T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please reply within 24 hours.", "2026-03-03T08:47", 0},
  {"2026-03-06T10:00:00Z", "Europe/London", FALSE, "Please reply within two working days.", "2026-03-10T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it Friday at the latest.", "2026-03-06T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Can you send it over by end of play Friday?", "2026-03-06T17:30", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send the invoice by 5 March.", "2026-03-05T17:00", 0},
  {"2026-03-02T08:47:00Z", "Europe/London", FALSE, "Please send it by Weds.", "2026-03-04T17:00", 0},
  /* 23:30 UTC on Sunday is already Monday in Sydney */
  {"2026-03-01T23:30:00Z", "Australia/Sydney", FALSE, "Please send it today.", "2026-03-02T17:00", 0},
};

static void test_deadline(gconstpointer data)
{
  const DeadlineCase *c = data;
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(c->zone);
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601(c->sent, NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  ctx.dates.timezone = zone;
  ctx.dates.month_first = c->us;
  g_autoptr(GPtrArray) found = instructions_extract(shared_rules, c->text, sent, &ctx);
  g_assert_cmpuint(found->len, ==, 1);
  Instruction *instruction = g_ptr_array_index(found, 0);
  g_assert_cmpstr(instruction->deadline_iso, ==, c->deadline);
  g_assert_cmpint(instruction->urgency_hint, ==, c->urgency);
}

static void test_deadline_dst(void)
{
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-27T11:05:38Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  ctx.dates.timezone = zone;
  g_autoptr(GPtrArray) found =
      instructions_extract(shared_rules, "Please book it by the end of next week.", sent, &ctx);
  g_assert_cmpuint(found->len, ==, 1);
  Instruction *instruction = g_ptr_array_index(found, 0);
  g_autofree char *full = g_date_time_format_iso8601(instruction->deadline);
  g_assert_cmpstr(full, ==, "2026-04-03T17:00:00+01");
}

static const char *const not_instructions[] = {
  "Click here to claim your prize!",
  "Book now: https://example.org/live",
  "Act now, limited time offer!",
  "Subscribe to our newsletter for weekly tips.",
  "Thank you sooo much for sorting out the inbox last week!",
  "Shall I bring the receipts round on Friday?",
  "I'll be in touch about the Autumn Open in a few weeks.",
  "Would you ever be up for keeping an eye on the inbox on Saturdays?",
  "Would you be willing to take on the Harrogate account?",
  "So going forward I need you to be reachable on WhatsApp in the evenings and on weekends.",
  "And ignore what I said about your invoice, I'll get it paid this week.",
  "No need to reissue.",
  "I'll pay the invoice in full on Friday 27th.",
  "Take the time you need on the receipts.",
  "Please add us to your address book to ensure delivery.",
  "Let me know if you have any questions.",
  "Please find attached the signed contract.",
  "It's fine but it doesn't feel like ME yet, you know?",
};

/* Several sentences: how they join into tasks, and whose deadline is whose. */
typedef struct {
  const char *text;
  const char *tasks[4];     /* expected deadlines, "-" for none; NULL-terminated */
} AssemblyCase;

static const AssemblyCase assembly_cases[] = {
  /* a follow-up sentence gives its time to the task before it */
  {"Can you send me the viewing schedule? Need it this morning if poss.", {"2026-03-02T12:00", NULL}},
  /* a short imperative and a bare time join the task */
  {"Need them typed up and sent to Carl by 5pm Thurs. Copy me in.", {"2026-03-05T17:00", NULL}},
  {"RESEND THEM TONIGHT AND COPY ME IN. BY 9PM.", {"2026-03-02T21:00", NULL}},
  /* ", and then" holds two tasks */
  {"Could you add them to the draw by Wednesday noon, and then email the draw on Thursday morning?",
   {"2026-03-04T12:00", "2026-03-05T12:00", NULL}},
  /* a later sentence lends its date to the task sharing its words */
  {"Could you book the gas check, and then let the tenants know the date?\n\nEnd of next week is fine for getting it booked.",
   {"2026-03-13T17:00", "-", NULL}},
  /* someone else's deadline is not lent */
  {"Could you send them the invites? They need to confirm by tonight.", {"-", NULL}},
  /* a list intro makes its items tasks */
  {"Could you please:\n1) save both to the drive\n2) the How to Rent guide to Hannah by Monday 16th", {"-", "2026-03-16T17:00", NULL}},
  /* an event time is no deadline; a withdrawn task is no task */
  {"Please book a consultation for Saturday 14th at 2pm. And ignore what I said about the invoice.", {"-", NULL}},
};

static void test_assembly(gconstpointer data)
{
  const AssemblyCase *c = data;
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-02T08:47:00Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  ctx.dates.timezone = zone;
  g_autoptr(GPtrArray) found = instructions_extract(shared_rules, c->text, sent, &ctx);
  guint expected = 0;
  while (c->tasks[expected] != NULL)
    expected++;
  for (guint i = 0; i < found->len; i++)
    g_test_message("task %u: %s (%s)", i, ((Instruction *)g_ptr_array_index(found, i))->text,
                   ((Instruction *)g_ptr_array_index(found, i))->deadline_iso);
  g_assert_cmpuint(found->len, ==, expected);
  for (guint i = 0; i < expected; i++) {
    const char *want = g_strcmp0(c->tasks[i], "-") == 0 ? NULL : c->tasks[i];
    g_assert_cmpstr(((Instruction *)g_ptr_array_index(found, i))->deadline_iso, ==, want);
  }
}

static void test_not_instruction(gconstpointer data)
{
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-04T10:00:00Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  g_autoptr(GPtrArray) found = instructions_extract(shared_rules, data, sent, &ctx);
  if (found->len > 0)
    g_test_message("found: %s", ((Instruction *)g_ptr_array_index(found, 0))->text);
  g_assert_cmpuint(found->len, ==, 0);
}

static const char *const instructions_found[] = {
  "Please book a table for six at Marlowe's.",
  "Send the contract to Kate and Rob.",
  "Can you chase the two engagement letters?",
  "Could you possibly move the call to Thursday?",
  "Would you mind updating the rota?",
  "If you can get the spreadsheet over to Sarah by Thursday that would be great.",
  "I need the slides by Friday.",
  "We'll need the signed forms back before the viewing.",
  "Let me know by 4pm if that works.",
  "Is the £608.00 inclusive of VAT?",
  "Pop the invoices in the shared folder when you can.",
  "Just a reminder to send the rota to the team.",
  "I was hoping you could look at the website copy.",
  "The brochure needs proofreading by Thursday.",
};

static void test_is_instruction(gconstpointer data)
{
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-04T10:00:00Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  g_autoptr(GPtrArray) found = instructions_extract(shared_rules, data, sent, &ctx);
  g_assert_cmpuint(found->len, ==, 1);
  g_assert_cmpstr(((Instruction *)g_ptr_array_index(found, 0))->text, ==, data);
}

static void test_automated(void)
{
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-04T10:00:00Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  ctx.automated = TRUE;
  g_autoptr(GPtrArray) found =
      instructions_extract(shared_rules, "Please contact Morag on 01632 960740.", sent, &ctx);
  g_assert_cmpuint(found->len, ==, 0);
}

static void test_rules_errors(void)
{
  static const struct { const char *text; const char *message; } cases[] = {
    {"dimension instruction flag >= 3\nrule a\n  look text /(unclosed/i\n  adds instruction +3\n", "x.rules:3:"},
    {"dimension instruction flag >= 3\n  look text /a/\n", "x.rules:2:3:"},
    {"dimension instruction flag >= 3\nrule a\n  look text /a/q\n  adds instruction +3\n", "x.rules:3:"},
    {"dimension instruction flag >= 3\nrule a\n  adds instruction +3\n", "x.rules:2:1:"},
    {"dimension instruction flag >= 3\nrule a\n  look text /a/\n  adds nonsense +3\n", "x.rules:4:8:"},
    {"dimension instruction flag >= 3\nrule a\n  look text /a/\n  frob\n", "x.rules:4:3:"},
    {"dimension tone flag >= 3\nrule a\n  look text /a/\n  adds tone +3\n", "x.rules:2:1: rule a adds to unknown dimension"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(InstructionRules) rules =
        instruction_rules_compile(cases[i].text, "x.rules", "", "d.rules", &error);
    g_assert_null(rules);
    g_assert_nonnull(strstr(error->message, cases[i].message));
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(InstructionRules) rules = instruction_rules_compile(
      "dimension instruction flag >= 3\n", "x.rules",
      "dimension deadline flag >= 1\nrule b\n  look text /(?<day>/\n  adds deadline +1\n", "d.rules", &error);
  g_assert_null(rules);
  g_assert_nonnull(strstr(error->message, "d.rules:3:"));
}

/* A rule whose every match holds a punctuation byte (PCRE2's first or last
 * required code unit: the '?', ',' and '(' below) is not run on a unit that
 * lacks it; where the unit has it, or is not UTF-8, it runs as before. */
static void test_rule_marks(void)
{
  g_autofree char *root = test_source_root();
  g_autofree char *dpath = g_build_filename(root, "rules", "deadlines.rules", NULL);
  g_autofree char *dtext = NULL;
  g_assert_true(g_file_get_contents(dpath, &dtext, NULL, NULL));
  const char *itext = "dimension instruction flag >= 3\ndimension lead flag >= 1\n"
                      "rule name\n  look text /^[A-Z][a-z]+,\\s+/\n  adds lead +1\n"
                      "rule ask\n  look text /^(?:is|are)\\b[^?]{3,}\\?/i\n  adds instruction +3\n"
                      "rule no_rush\n  look text /\\(no rush\\)/\n  adds instruction -3\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(InstructionRules) rules =
      instruction_rules_compile(itext, "m.rules", dtext, dpath, &error);
  g_assert_no_error(error);
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-12T09:00:00Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  static const struct { const char *text; const char *task; } cases[] = {
    {"Is the report ready?", "Is the report ready?"},
    {"Is the report ready", NULL},
    {"Jo, is the report ready?", "Jo, is the report ready?"},
    {"Jo is the report ready?", NULL},
    {"Is the report (no rush) ready?", NULL},
    {"Is the report (no hurry) ready?", "Is the report (no hurry) ready?"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GPtrArray) found = instructions_extract(rules, cases[i].text, sent, &ctx);
    g_assert_cmpuint(found->len, ==, (cases[i].task != NULL ? 1u : 0u));
    if (cases[i].task != NULL)
      g_assert_cmpstr(((Instruction *)g_ptr_array_index(found, 0))->text, ==, cases[i].task);
  }
  /* not UTF-8: `ask` runs though there is no '?', and its error is reported */
  g_test_expect_message("keel-filters", G_LOG_LEVEL_WARNING, "rule ask (line *): UTF-8 error*");
  g_autoptr(GPtrArray) found = instructions_extract(rules, "Is the report ready \xff", sent, &ctx);
  g_test_assert_expected_messages();
  g_assert_cmpuint(found->len, ==, 0);
}

/* Deadline rules compiled once and shared (the daemon's and `keel score`'s
 * instruction rules borrow the scoring set's): the same instructions as a
 * compile of their own, the shared rules outlive the extractor that took a
 * reference, and a broken instructions file still fails with its line. */
static void test_rules_sharing(void)
{
  g_autofree char *root = test_source_root();
  g_autofree char *dpath = g_build_filename(root, "rules", "deadlines.rules", NULL);
  g_autofree char *ipath = g_build_filename(root, "rules", "instructions.rules", NULL);
  g_autofree char *dtext = NULL, *itext = NULL;
  g_assert_true(g_file_get_contents(dpath, &dtext, NULL, NULL));
  g_assert_true(g_file_get_contents(ipath, &itext, NULL, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(DeadlineRules) deadlines = deadline_rules_compile(dtext, dpath, &error);
  g_assert_no_error(error);
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-12T09:00:00Z", NULL);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  const char *text = "Could you send the signed lease to the landlord by Friday 3pm?";
  for (int round = 0; round < 2; round++) {
    g_autoptr(InstructionRules) rules =
        instruction_rules_compile_sharing(itext, ipath, deadlines, &error);
    g_assert_no_error(error);
    g_autoptr(GPtrArray) found = instructions_extract(rules, text, sent, &ctx);
    g_autoptr(GPtrArray) expected = instructions_extract(shared_rules, text, sent, &ctx);
    g_assert_cmpuint(found->len, ==, 1);
    g_assert_cmpuint(found->len, ==, expected->len);
    const Instruction *got = g_ptr_array_index(found, 0), *want = g_ptr_array_index(expected, 0);
    g_assert_cmpstr(got->text, ==, want->text);
    g_assert_cmpstr(got->deadline_iso, ==, want->deadline_iso);
    g_assert_nonnull(got->deadline_iso);
  } /* each round's rules freed: `deadlines` must still be whole for the next */
  g_autoptr(InstructionRules) broken = instruction_rules_compile_sharing(
      "dimension instruction flag >= 3\nrule a\n  look text /(unclosed/i\n  adds instruction +3\n",
      "x.rules", deadlines, &error);
  g_assert_null(broken);
  g_assert_nonnull(strstr(error->message, "x.rules:3:"));
}

/* ---- the dev corpus floor: same matching as tests/instructions-quality.py ---- */

static const char *const corpus_stop_words[] = {
  "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "by", "with",
  "from", "is", "are", "was", "were", "be", "been", "it", "its", "it's", "this", "that",
  "these", "those", "i", "i'm", "i'll", "i've", "me", "my", "we", "our", "us", "you", "your",
  "jo", "can", "could", "would", "will", "please", "pls", "just", "also", "then", "so", "as",
  "if", "any", "all", "up", "out", "into", "over", "about", "there", "their", "them", "they",
  "he", "she", "his", "her", "him", "do", "does", "did", "have", "has", "had", "get", "got",
  "not", "no", "yes", "some", "more", "most", "very", "really", "thanks", "thank", "what",
  "when", "where", "which", "who", "how", "than", "too", "one", "two", NULL};

/* Content words of `text`, each cut to its first 5 characters. */
static GHashTable *corpus_words(const char *text)
{
  GHashTable *words = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *lower = g_utf8_strdown(text, -1);
  g_autoptr(GRegex) re = g_regex_new("[a-z0-9\u00a3]+(?:['\u2019][a-z]+)?", 0, 0, NULL);
  g_autoptr(GMatchInfo) info = NULL;
  g_regex_match(re, lower, 0, &info);
  for (; g_match_info_matches(info); g_match_info_next(info, NULL)) {
    g_autofree char *word = g_match_info_fetch(info, 0);
    if (g_utf8_strlen(word, -1) < 2 || g_strv_contains(corpus_stop_words, word))
      continue;
    g_hash_table_add(words, g_utf8_substring(word, 0, MIN(5, g_utf8_strlen(word, -1))));
  }
  return words;
}

static double corpus_overlap(const char *a, const char *b)
{
  g_autoptr(GHashTable) wa = corpus_words(a);
  g_autoptr(GHashTable) wb = corpus_words(b);
  guint na = g_hash_table_size(wa), nb = g_hash_table_size(wb), shared = 0;
  if (na == 0 || nb == 0)
    return 0.0;
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init(&iter, wa);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    shared += g_hash_table_contains(wb, key);
  return (double)shared / MIN(na, nb);
}

typedef struct {
  guint tp, fp, fn, dated, exact;
} CorpusCounts;

/* Pass 1: overlap >= 0.5, best first; pass 2: the same non-null deadline. */
static void corpus_match(JsonArray *want, GPtrArray *got, CorpusCounts *counts)
{
  guint nw = json_array_get_length(want);
  g_autofree gboolean *used_w = g_new0(gboolean, nw + 1);
  g_autofree gboolean *used_g = g_new0(gboolean, got->len + 1);
  guint matched = 0;
  for (;;) {
    double best = 0.5;
    int bi = -1, bj = -1;
    for (guint i = 0; i < nw; i++)
      for (guint j = 0; j < got->len && !used_w[i]; j++) {
        JsonObject *label = json_array_get_object_element(want, i);
        Instruction *found = g_ptr_array_index(got, j);
        double score = used_g[j] ? 0.0 : corpus_overlap(json_object_get_string_member(label, "text"), found->text);
        if (score >= best && (bi < 0 || score > best)) {
          best = score;
          bi = (int)i;
          bj = (int)j;
        }
      }
    if (bi < 0)
      break;
    used_w[bi] = used_g[bj] = TRUE;
    matched++;
    const char *deadline = json_object_get_string_member_with_default(
        json_array_get_object_element(want, bi), "deadline", NULL);
    if (deadline != NULL) {
      counts->dated++;
      counts->exact += g_strcmp0(deadline, ((Instruction *)g_ptr_array_index(got, bj))->deadline_iso) == 0;
    }
  }
  for (guint i = 0; i < nw; i++) {
    const char *deadline = json_object_get_string_member_with_default(
        json_array_get_object_element(want, i), "deadline", NULL);
    for (guint j = 0; j < got->len && !used_w[i] && deadline != NULL; j++)
      if (!used_g[j] && g_strcmp0(deadline, ((Instruction *)g_ptr_array_index(got, j))->deadline_iso) == 0) {
        used_w[i] = used_g[j] = TRUE;
        matched++;
      }
  }
  counts->tp += matched;
  counts->fp += got->len - matched;
  counts->fn += nw - matched;
}

static GPtrArray *corpus_extract(const TestConfig *config, const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)data, len, NULL, 0, &error);
  g_assert_no_error(error);
  InstructionContext ctx;
  instruction_context_init(&ctx);
  g_autoptr(GTimeZone) zone = message->from != NULL ? test_config_client(config, message->from->address, &ctx) : NULL;
  g_autoptr(GTimeZone) fallback = g_time_zone_new_identifier("Europe/London");
  ctx.dates.timezone = zone != NULL ? zone : fallback;
  ctx.automated = message->automated;
  return instructions_extract(shared_rules, message->new_text, message->date, &ctx);
}

static void test_corpus_floor(void)
{
  const char *shared = g_getenv("KEEL_SHARED");
  g_autofree char *dir = g_build_filename(shared != NULL ? shared : "../shared", "corpus", "dev", NULL);
  g_autofree char *labels_path = g_build_filename(dir, "labels.json", NULL);
  g_autofree char *config_path = g_build_filename(dir, "keel.conf", NULL);
  if (!g_file_test(labels_path, G_FILE_TEST_EXISTS)) {
    g_test_skip("no dev corpus (set KEEL_SHARED)");
    return;
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  g_assert_true(json_parser_load_from_file(parser, labels_path, NULL));
  TestConfig config = {0};
  g_assert_true(test_config_load(&config, config_path, NULL));
  JsonArray *labels = json_node_get_array(json_parser_get_root(parser));
  CorpusCounts counts = {0};
  for (guint i = 0; i < json_array_get_length(labels); i++) {
    JsonObject *label = json_array_get_object_element(labels, i);
    g_autofree char *path = g_build_filename(dir, json_object_get_string_member(label, "file"), NULL);
    g_autoptr(GPtrArray) got = corpus_extract(&config, path);
    corpus_match(json_object_get_array_member(label, "instructions"), got, &counts);
  }
  g_key_file_unref(config.file);
  double p = (double)counts.tp / MAX(1, counts.tp + counts.fp);
  double r = (double)counts.tp / MAX(1, counts.tp + counts.fn);
  double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  double exact = (double)counts.exact / MAX(1, counts.dated);
  g_test_message("instructions P %.3f R %.3f F1 %.3f; deadlines exact %u/%u", p, r, f1,
                 counts.exact, counts.dated);
  g_assert_cmpfloat(f1, >=, 0.80);
  g_assert_cmpfloat(exact, >=, 0.80);
}

static void test_add_table(void)
{
  for (guint i = 0; i < G_N_ELEMENTS(split_cases); i++) {
    g_autofree char *path = g_strdup_printf("/instructions/split/%u", i);
    g_test_add_data_func(path, &split_cases[i], test_split);
  }
  for (guint i = 0; i < G_N_ELEMENTS(deadline_cases); i++) {
    g_autofree char *path = g_strdup_printf("/deadlines/phrase/%u", i);
    g_test_add_data_func(path, &deadline_cases[i], test_deadline);
  }
  for (guint i = 0; i < G_N_ELEMENTS(not_instructions); i++) {
    g_autofree char *path = g_strdup_printf("/instructions/not-a-task/%u", i);
    g_test_add_data_func(path, not_instructions[i], test_not_instruction);
  }
  for (guint i = 0; i < G_N_ELEMENTS(assembly_cases); i++) {
    g_autofree char *path = g_strdup_printf("/instructions/assembly/%u", i);
    g_test_add_data_func(path, &assembly_cases[i], test_assembly);
  }
  for (guint i = 0; i < G_N_ELEMENTS(instructions_found); i++) {
    g_autofree char *path = g_strdup_printf("/instructions/task/%u", i);
    g_test_add_data_func(path, instructions_found[i], test_is_instruction);
  }
}

int main(int argc, char **argv)
{
  setlocale(LC_ALL, "C.UTF-8");
  if (argc > 1 && (g_strcmp0(argv[1], "--extract") == 0 || g_strcmp0(argv[1], "--extract-lines") == 0))
    return driver_main(argc, argv);
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  shared_rules = test_load_rules(NULL, &error);
  g_assert_no_error(error);
  test_add_table();
  g_test_add_func("/deadlines/dst", test_deadline_dst);
  g_test_add_func("/instructions/automated", test_automated);
  g_test_add_func("/instructions/rules-errors", test_rules_errors);
  g_test_add_func("/instructions/rules-sharing", test_rules_sharing);
  g_test_add_func("/instructions/rule-marks", test_rule_marks);
  g_test_add_func("/instructions/corpus/dev-floor", test_corpus_floor);
  int rc = g_test_run();
  instruction_rules_free(shared_rules);
  return rc;
}
