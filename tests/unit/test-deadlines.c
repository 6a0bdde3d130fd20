/* tests/unit/test-deadlines.c: the deadline_days signal as filters/signals.c
 * gets it from filters/deadlines.c and rules/deadlines.rules (the one place
 * deadlines are resolved): a weekday named on its own day, "next Friday", "by
 * end of day", "by tomorrow", dates with and without a year, the clock
 * changes, the phrases that do not count, and the deadline_window rule giving
 * the same values as a whole read. Pure: links libkeel-filters alone; the
 * message's time is always passed in.
 */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "filters/deadlines.h"
#include "filters/message.h"
#include "filters/signals.h"
#include "mail-texts.h"

static char *rules_text;          /* rules/deadlines.rules */
static DeadlineRules *rules;      /* compiled from rules_text */
static DeadlineRules *whole_rules; /* the same without the deadline_window rule */

static GTimeZone *zone(const char *name)
{
  GTimeZone *tz = g_time_zone_new_identifier(name);
  g_assert_nonnull(tz);
  return tz;
}

/* deadline_days of `text` sent at `sent` (ISO 8601 with offset) in `zone_name`. */
static double days(const char *text, const char *sent, const char *zone_name)
{
  g_autoptr(GTimeZone) tz = zone(zone_name);
  g_autoptr(GDateTime) date = g_date_time_new_from_iso8601(sent, NULL);
  g_assert_nonnull(date);
  return signals_deadline_days(rules, text, date, tz);
}

static double london(const char *text, const char *sent)
{
  return days(text, sent, "Europe/London");
}

static void test_same_day_weekday(void)
{
  /* Friday 6 March 2026: "by Friday" is today until 17:00, then next Friday */
  g_assert_cmpfloat(london("Please send it by Friday.", "2026-03-06T10:00:00Z"), ==, 0);
  g_assert_cmpfloat(london("Please send it by Friday.", "2026-03-06T18:00:00Z"), ==, 5);
  g_assert_cmpfloat(london("Can you have it done by Friday 3pm?", "2026-03-06T14:00:00Z"), ==, 0);
  g_assert_cmpfloat(london("Can you have it done by Friday 3pm?", "2026-03-06T15:30:00Z"), ==, 5);
}

static void test_next_weekday(void)
{
  /* "next Friday" is the Friday of next week, whatever day it is said */
  g_assert_cmpfloat(london("Please send it by next Friday.", "2026-03-02T09:00:00Z"), ==, 9);
  g_assert_cmpfloat(london("Please send it by next Friday.", "2026-03-04T09:00:00Z"), ==, 7);
  g_assert_cmpfloat(london("Please send it by next Friday.", "2026-03-06T09:00:00Z"), ==, 5);
  g_assert_cmpfloat(london("Please send it by Friday.", "2026-03-02T09:00:00Z"), ==, 4);
}

static void test_end_of_day_and_tomorrow(void)
{
  g_assert_cmpfloat(london("Please get it to me by end of day.", "2026-03-02T09:00:00Z"), ==, 0);
  g_assert_cmpfloat(london("Could you finish it by the end of the day?", "2026-03-02T09:00:00Z"), ==, 0);
  g_assert_cmpfloat(london("Can you send it by tomorrow?", "2026-03-02T09:00:00Z"), ==, 1);
  /* Friday: tomorrow is a Saturday, the deadline's own day counts */
  g_assert_cmpfloat(london("Can you send it by tomorrow?", "2026-03-06T09:00:00Z"), ==, 1);
  g_assert_cmpfloat(london("I need it by 12 noon tomorrow.", "2026-03-02T09:00:00Z"), ==, 1);
  /* +1 phrases are deadlines only inside a task: not for the signal */
  g_assert_true(isnan(london("See you tomorrow!", "2026-03-02T09:00:00Z")));
  g_assert_true(isnan(london("I spoke to her this morning.", "2026-03-02T09:00:00Z")));
  g_assert_true(isnan(london("We're open until 9pm on weekdays.", "2026-03-02T09:00:00Z")));
}

static void test_dates(void)
{
  const char *monday = "2026-03-02T09:00:00Z", *wednesday = "2026-03-04T07:52:00Z";
  g_assert_cmpfloat(london("Please file it by 14 April 2026.", monday), ==, 31);
  g_assert_cmpfloat(london("Please file it by 14 April.", monday), ==, 31);
  g_assert_cmpfloat(london("Please file it by 14 January 2027.", monday), ==, 228);
  g_assert_cmpfloat(london("please send it by the 10th", wednesday), ==, 4);
  g_assert_cmpfloat(london("before 5 March", wednesday), ==, 1);
  g_assert_cmpfloat(london("by March 20th", wednesday), ==, 12);
  g_assert_cmpfloat(london("by Monday 16th please", wednesday), ==, 8);
  g_assert_true(isnan(london("due 1 March", wednesday))); /* past, not near */
  g_assert_true(isnan(london("by 31 April", wednesday))); /* no such day: not today either */
  /* US order, and "4/24" can only be 24 April whatever the order */
  g_assert_cmpfloat(days("send the invoice by Friday 4/24", "2026-04-21T16:20:37-04:00",
                         "America/Chicago"), ==, 3);
  g_assert_cmpfloat(london("pay it by 03/04", monday), ==, 24); /* UK: 3 April */
}

static void test_clock_change(void)
{
  /* London: the clocks go forward at 01:00 GMT on Sunday 29 March 2026 */
  g_assert_cmpfloat(london("Please book it by Monday 9am.", "2026-03-27T11:05:38Z"), ==, 1);
  g_assert_cmpfloat(london("Can you send it by tomorrow?", "2026-03-28T23:30:00Z"), ==, 1);
  /* 23:30 GMT on Sunday is already Monday 00:30 BST: "by Monday" is today */
  g_assert_cmpfloat(london("Please send it by Monday.", "2026-03-29T23:30:00Z"), ==, 0);
  g_assert_cmpfloat(london("Please send it by Monday.", "2026-03-29T22:30:00Z"), ==, 1);
  /* the deadline itself stays at the local time meant */
  g_autoptr(GTimeZone) tz = zone("Europe/London");
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-27T11:05:38Z", NULL);
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  ctx.timezone = tz;
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true(deadline_nearest(rules, "Please book it by Monday 9am.", sent, &ctx, &when, &error));
  g_assert_no_error(error);
  g_assert_nonnull(when);
  g_autofree char *iso = g_date_time_format(when, "%Y-%m-%dT%H:%M%:z");
  g_assert_cmpstr(iso, ==, "2026-03-30T09:00+01:00");
  /* Melbourne: daylight saving ends at 03:00 on Sunday 5 April 2026 */
  g_assert_cmpfloat(days("Need it by Monday 9am please", "2026-04-03T23:00:00Z",
                         "Australia/Melbourne"), ==, 1);
}

static void test_not_deadlines(void)
{
  const char *wednesday = "2026-03-04T07:52:00Z", *friday = "2026-03-06T16:04:00Z";
  g_assert_true(isnan(london("Hours are Mon-Sat 7am-4pm", wednesday)));
  g_assert_true(isnan(london("for my Monday clients", friday)));
  g_assert_true(isnan(london("Thanks for last Friday", friday)));
  g_assert_true(isnan(london("the landlord won't let us open before 9 on a Sunday", wednesday)));
  g_assert_true(isnan(london("Nothing about dates here at all.", wednesday)));
  /* the time of an event is not a deadline */
  g_assert_true(isnan(london("Please book the consultation for Saturday 14th at 2pm.", wednesday)));
  g_assert_true(isnan(london("Could you book a table for Friday?", wednesday)));
  g_assert_true(isnan(london("The check-in is on Thursday at 10am.", wednesday)));
  g_assert_cmpfloat(london("Can you do 3 options for Thursday?", wednesday), ==, 1);
  g_assert_cmpfloat(london("sending to Carl by 5pm Thurs", wednesday), ==, 1);
  g_assert_cmpfloat(london("Need it all on a spreadsheet by category for my accountant, she's "
                           "coming in 9am Monday.", friday), ==, 1);
  g_assert_cmpfloat(london("Wednesday ok?", "2026-03-09T10:26:15Z"), ==, 2);
}

/* The nearest of several deadlines wins, wherever it is in a long text. */
static void test_nearest_and_window(void)
{
  const char *wednesday = "2026-03-04T07:52:00Z";
  g_assert_cmpfloat(london("Send the report by next Friday and the invoice by Thursday.",
                           wednesday), ==, 1);
  g_autoptr(GString) text = g_string_new(NULL);
  for (int i = 0; i < 200; i++)
    g_string_append(text, "Some words about the weather and the shop, nothing more. ");
  g_string_append(text, "Could you send the accounts by Thursday please? ");
  for (int i = 0; i < 200; i++)
    g_string_append(text, "More words about the garden, nothing to do. ");
  g_assert_cmpfloat(london(text->str, wednesday), ==, 1);
}

/* The window rule only saves time: every text reads the same without it. */
static void test_window_same_as_whole(void)
{
  static const char *const texts[] = {
    "Please send it by Friday.", "Need it all on a spreadsheet by category for my accountant, "
    "she's coming in 9am Monday.", "I'm out at 1 and need the schedule before then.",
    "Please reply within two working days.", "by the end of the month", "Wednesday ok?",
    "Can you do 3 options for Thursday?", "On my desk 9am Monday.", "by 03/04",
    "the check-in is on Thursday at 10am", "by Monday\n\n16th of March at 9.30am",
  };
  g_autoptr(GTimeZone) tz = zone("Europe/London");
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-04T07:52:00Z", NULL);
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
    double windowed = signals_deadline_days(rules, texts[i], sent, tz);
    double whole = signals_deadline_days(whole_rules, texts[i], sent, tz);
    g_assert_true((isnan(windowed) && isnan(whole)) || windowed == whole);
  }
  g_assert_false(isnan(signals_deadline_days(rules, texts[2], sent, tz)));
}

/* deadline_find() runs only the rules whose literals the text holds (the
 * literal prefilter): each phrase is still read by the rule meant for it. */
static void test_find_each_rule(void)
{
  static const char *const cases[][2] = {
    {"Please do it asap.", "asap"},
    {"No rush on this one.", "no_rush"},
    {"sending to Carl by 5pm Thurs", "by_time_and_weekday"},
    {"I need it by 4pm today.", "by_time_relative"},
    {"Can you send it by tomorrow?", "by_relative"},
    {"Send it tomorrow 9am.", "relative_time"},
    {"Call me 9am tomorrow.", "time_relative"},
    {"Can you have it done by Friday 3pm?", "weekday_time"},
    {"Please send it by Friday.", "by_weekday"},
    {"Let's look at it Thursday morning.", "weekday_part"},
    {"I need it by noon on Wednesday.", "part_on_weekday"},
    {"Send it first thing Monday.", "first_thing_weekday"},
    {"Send it first thing tomorrow.", "first_thing_relative"},
    {"Please get it to me by end of day.", "by_end_of_day"},
    {"Please reply within two working days.", "within"},
    {"Please file it by 14 April.", "by_day_month"},
    {"please send it by the 10th", "by_day_of_month"},
    {"Please pay by 03/12.", "by_numeric_date"},
    {"Please call by 3pm.", "by_clock_time"},
    {"Please call by 15:00.", "by_clock_24h"},
    {"Send it before 1 please.", "before_bare_hour"},
    {"I'm out at 1 and need the schedule before then.", "before_then"},
  };
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601("2026-03-04T07:52:00Z", NULL);
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_auto(Deadline) found = {0};
    g_assert_true(deadline_find(rules, cases[i][0], sent, &ctx, &found, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(found.rule, ==, cases[i][1]);
  }
}

/* A stretch is read as if cut out of the text: a phrase at the very end of
 * the text, or of a stretch long before it, is found, and text that is not
 * UTF-8 is an error, not a read past its end. */
static void test_stretch_ends(void)
{
  const char *wednesday = "2026-03-04T07:52:00Z";
  g_autoptr(GString) text = g_string_new("Could you send the accounts by 5pm Thursday");
  for (int i = 0; i < 40; i++)
    g_string_append(text, " and more words about the garden, nothing to do.");
  g_string_append(text, " The invoice by 4pm today");
  g_assert_cmpfloat(london(text->str, wednesday), ==, 0);
  g_string_truncate(text, 43);
  g_assert_cmpfloat(london(text->str, wednesday), ==, 1);
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601(wednesday, NULL);
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) when = NULL;
  g_assert_false(deadline_nearest(rules, "by Friday \xff\xfe", sent, &ctx, &when, &error));
  g_assert_nonnull(error);
  g_assert_null(when);
  g_clear_error(&error);
  g_auto(Deadline) found = {0};
  g_assert_false(deadline_find(rules, "by Friday \xff\xfe", sent, &ctx, &found, &error));
  g_assert_nonnull(error);
}

/* deadline_window_stretches() as `whole` and not: the same stretches. */
static void assert_same_stretches(const DeadlineRules *set, const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) heads = deadline_window_stretches(set, text, FALSE, &error);
  g_assert_no_error(error);
  g_autoptr(GArray) whole = deadline_window_stretches(set, text, TRUE, &error);
  g_assert_no_error(error);
  g_assert_nonnull(heads);
  g_assert_nonnull(whole);
  g_assert_cmpuint(heads->len, ==, whole->len);
  for (guint i = 0; i < heads->len; i++)
    g_assert_cmpuint(g_array_index(heads, gsize, i), ==, g_array_index(whole, gsize, i));
}

/* A window rule `look` alone: read through its heads and whole, the same
 * stretches of `text`, `stretches` of them. */
static void assert_window_rule(const char *look, const char *text, guint stretches)
{
  g_autofree char *rules_text = g_strdup_printf("dimension deadline flag >= 2\n"
                                                "dimension window flag >= 1\n"
                                                "rule w\n  look text %s\n"
                                                "  adds window +1\n  why x\n", look);
  g_autoptr(GError) error = NULL;
  g_autoptr(DeadlineRules) rules = deadline_rules_compile(rules_text, "window.rules", &error);
  g_assert_no_error(error);
  assert_same_stretches(rules, text);
  g_autoptr(GArray) found = deadline_window_stretches(rules, text, FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(found->len, ==, stretches);
}

/* The window rule tried only where a word starts with one of its heads finds
 * the stretches a whole read finds: words glued to letters, digits, _ or
 * accented letters, any case, U+017F (a caseless s), heads at both ends. */
static void test_window_heads(void)
{
  static const char *const texts[] = {
    "Please send it by Friday.", "by 5", "FRIDAY", "fri", "Mon_day xMonday 2by 5 _by 5 by5",
    "caf\u00e9Monday, na\u00efve Tuesday by\u00a05 and by Wednesday",
    "\u017faturday and \u017fat", "till 5 untill 5 untilTomorrow until tomorrow",
    "within an hour within a day within anhour", "ready for 5, readyfor 5, READY FOR THE 5th",
    "first thing first  thing", "today 9 tomorrow at 10 today  by \n 11", "the end is near by",
    "", "no heads here at all", "Monday\n\nTuesday\n\nby 3pm Thursday \u2014 due on 4 March",
  };
  g_autoptr(GString) longer = g_string_new(NULL);
  for (int i = 0; i < 100; i++)
    g_string_append(longer, "Some words about the weather, by the sea, nothing more. ");
  g_string_append(longer, "Send it by Thursday. ");
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++)
    assert_same_stretches(rules, texts[i]);
  assert_same_stretches(rules, longer->str);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) found = deadline_window_stretches(rules, longer->str, FALSE, &error);
  g_assert_cmpuint(found->len, ==, 2);
  g_assert_null(deadline_window_stretches(whole_rules, "by Friday", FALSE, &error));
  g_assert_null(deadline_window_stretches(rules, "by Friday \xff\xfe", FALSE, &error));
  g_assert_nonnull(error);
  g_clear_error(&error);
  /* a branch with no head (\d+ days): the rule reads whole texts, the same */
  assert_window_rule("/\\b(?:by|before)\\s+\\d|\\d+ days/i", "by 5, in 3 days, before 4", 2);
  /* a verb: (*COMMIT) ends PCRE2's whole search at the first "by 5", so
   * "by soon" is never reached; the rule reads whole texts, the same */
  assert_window_rule("/\\bby(?:\\s+\\d(*COMMIT)x|\\s+soon)/i", "by 5 and by soon", 0);
}

static void test_compute(void)
{
  g_autoptr(GError) error = NULL;
  const char *raw = "From: a@example.com\r\nDate: Wed, 4 Mar 2026 07:52:00 +0000\r\n"
                    "Subject: x\r\n\r\nCould you send the accounts by Thursday please?\r\n";
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)raw, strlen(raw), NULL, 0, &error);
  g_assert_no_error(error);
  double out[SIGNAL_COUNT];
  ScoreContext context;
  score_context_init(&context);
  signals_compute(message, &context, rules, out);
  g_assert_cmpfloat(out[SIGNAL_DEADLINE_DAYS], ==, 1);
  signals_compute(message, &context, NULL, out); /* no deadline rules: unknown */
  g_assert_true(isnan(out[SIGNAL_DEADLINE_DAYS]));
  g_assert_true(isnan(signals_deadline_days(NULL, "by Thursday", message->date, NULL)));
}

/* rules_text without the deadline_window rule (up to the blank line after it). */
static char *without_window(const char *text)
{
  const char *start = strstr(text, "rule deadline_window");
  g_assert_nonnull(start);
  const char *end = strstr(start, "\n\n");
  g_assert_nonnull(end);
  g_autofree char *head = g_strndup(text, (gsize)(start - text));
  return g_strconcat(head, end + 2, NULL);
}

/* rules_text with each look wrapped as "(?=[\s\S])(?:PATTERN)": the same
 * matches (no rule matches empty text), but no branch starts with \b, so
 * no rule has heads and each reads whole texts. */
static char *without_heads(const char *text)
{
  g_autoptr(GRegex) look = g_regex_new("^(\\s*look\\s+\\S+\\s+)/(.*)/([a-z]*)$", G_REGEX_MULTILINE, 0,
                                       NULL);
  return g_regex_replace(look, text, -1, 0, "\\1/(?=[\\\\s\\\\S])(?:\\2)/\\3", 0, NULL);
}

/* deadline_find() and deadline_nearest() of `a` and `b` over `text`: the same. */
static void assert_same_deadlines(const DeadlineRules *a, const DeadlineRules *b, const char *text)
{
  g_autoptr(GDateTime) sent = g_date_time_new_utc(2026, 3, 13, 9, 0, 0);
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  g_auto(Deadline) da = {0};
  g_auto(Deadline) db = {0};
  gboolean ra = deadline_find(a, text, sent, &ctx, &da, NULL);
  gboolean rb = deadline_find(b, text, sent, &ctx, &db, NULL);
  g_assert_cmpint(ra, ==, rb);
  g_assert_cmpint(da.precision, ==, db.precision);
  g_assert_cmpint(da.urgency, ==, db.urgency);
  g_assert_cmpuint(da.offset, ==, db.offset);
  g_assert_cmpuint(da.length, ==, db.length);
  g_assert_cmpstr(da.rule, ==, db.rule);
  g_assert_true((da.when == NULL) == (db.when == NULL));
  if (da.when != NULL && !g_date_time_equal(da.when, db.when))
    g_error("%s: deadlines differ", text);
  g_autoptr(GDateTime) na = NULL;
  g_autoptr(GDateTime) nb = NULL;
  g_assert_cmpint(deadline_nearest(a, text, sent, &ctx, &na, NULL), ==,
                  deadline_nearest(b, text, sent, &ctx, &nb, NULL));
  g_assert_true((na == NULL) == (nb == NULL));
  if (na != NULL && !g_date_time_equal(na, nb))
    g_error("%s: nearest deadlines differ", text);
}

/* The rules with heads (tried only where a word starts with one) find the
 * deadlines the same rules read whole find: over texts made for the heads'
 * edges and over every line of the test mail. */
static void test_rule_heads(void)
{
  g_autofree char *plain_text = without_heads(rules_text);
  g_assert_nonnull(strstr(plain_text, "(?=[\\s\\S])(?:\\b(?:by|before"));
  g_autoptr(GError) error = NULL;
  g_autoptr(DeadlineRules) plain = deadline_rules_compile(plain_text, "plain.rules", &error);
  g_assert_no_error(error);
  static const char *const texts[] = {
    "Please send it by Friday.", "by 5pm", "BY 5PM", "by 14:30", "by 3/12", "before the 14th",
    "no later than 9am Monday", "not later than 10.30", "nobody by 5pm", "2by 5pm _by 5pm",
    "caf\u00e9by 5pm", "\u00e9 by 5pm", "by\u00a05pm", "until 9pm", "till 9pm", "untill 9pm",
    "due on the 4th", "due by 3/4", "latest 4th April", "Wednesday ok?", "is Friday fine",
    "\u017faturday by \u017fat 5pm", "by", "", "by 5pm by 6pm before 7pm", "the end is near by",
    "Can you do it by Thursday 3pm? If not, by Friday 10am at the latest.",
  };
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++)
    assert_same_deadlines(rules, plain, texts[i]);
  g_autoptr(GPtrArray) mail = mail_texts_load();
  for (guint i = 0; i < mail->len; i++)
    assert_same_deadlines(rules, plain, mail->pdata[i]);
  g_assert_cmpuint(mail->len, >, 1000);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_autofree char *path = g_build_filename(root ? root : ".", "rules", "deadlines.rules", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(path, &rules_text, NULL, &error));
  rules = deadline_rules_compile(rules_text, path, &error);
  g_assert_no_error(error);
  g_autofree char *whole = without_window(rules_text);
  whole_rules = deadline_rules_compile(whole, path, &error);
  g_assert_no_error(error);
  g_test_add_func("/deadlines/signal/same-day-weekday", test_same_day_weekday);
  g_test_add_func("/deadlines/signal/next-weekday", test_next_weekday);
  g_test_add_func("/deadlines/signal/end-of-day-tomorrow", test_end_of_day_and_tomorrow);
  g_test_add_func("/deadlines/signal/dates", test_dates);
  g_test_add_func("/deadlines/signal/clock-change", test_clock_change);
  g_test_add_func("/deadlines/signal/not-deadlines", test_not_deadlines);
  g_test_add_func("/deadlines/signal/nearest", test_nearest_and_window);
  g_test_add_func("/deadlines/signal/window-same-as-whole", test_window_same_as_whole);
  g_test_add_func("/deadlines/signal/window-heads", test_window_heads);
  g_test_add_func("/deadlines/find/rule-heads", test_rule_heads);
  g_test_add_func("/deadlines/signal/compute", test_compute);
  g_test_add_func("/deadlines/find/each-rule", test_find_each_rule);
  g_test_add_func("/deadlines/signal/stretch-ends", test_stretch_ends);
  int rc = g_test_run();
  deadline_rules_free(rules);
  deadline_rules_free(whole_rules);
  g_free(rules_text);
  return rc;
}
