/* filters/signals.c: the built-in signals rules test with `look signal NAME OP N`:
 * shouting (caps_ratio, caps_words), runs of '!' and '?', length, sent outside
 * business hours, how soon a named weekday deadline falls, and the history
 * signals (chasers, hours since the VA's reply) that the caller passes in.
 *
 * Pure: text, the message's Date and a ScoreContext in, numbers out. Never
 * reads the clock, the store or a file. Unknown values are NAN (a comparison
 * with NAN is false, so a rule on an unknown signal never fires).
 *
 * Entry points: signals_compute() (all at once, for score.c), and one
 * function per text signal for tests: signals_caps_ratio(),
 * signals_longest_run(), signals_outside_hours(), signals_deadline_days().
 */
#include <math.h>
#include <string.h>
#include "filters/signals.h"

static const char *const signal_names[SIGNAL_COUNT] = {
  [SIGNAL_CAPS_RATIO] = "caps_ratio",
  [SIGNAL_CAPS_WORDS] = "caps_words",
  [SIGNAL_EXCLAMATION_RUN] = "exclamation_run",
  [SIGNAL_QUESTION_RUN] = "question_run",
  [SIGNAL_WORDS] = "words",
  [SIGNAL_OUTSIDE_BUSINESS_HOURS] = "outside_business_hours",
  [SIGNAL_DEADLINE_DAYS] = "deadline_days",
  [SIGNAL_CHASERS_SINCE_REPLY] = "chasers_since_reply",
  [SIGNAL_CHASERS_24H] = "chasers_24h",
  [SIGNAL_HOURS_SINCE_REPLY] = "hours_since_reply",
};

void score_context_init(ScoreContext *context)
{
  memset(context, 0, sizeof *context);
  context->chasers_since_reply = -1;
  context->chasers_24h = -1;
  context->hours_since_reply = -1;
}

int signals_lookup(const char *name)
{
  for (int i = 0; i < SIGNAL_COUNT; i++)
    if (strcmp(signal_names[i], name) == 0)
      return i;
  return -1;
}

const char *signals_name(SignalId id)
{
  return id < SIGNAL_COUNT ? signal_names[id] : "?";
}

const char *signals_all_names(void)
{
  return "caps_ratio caps_words exclamation_run question_run words outside_business_hours "
         "deadline_days chasers_since_reply chasers_24h hours_since_reply";
}

/* ---- words ---- */

typedef struct {
  const char *start;  /* borrowed */
  gsize bytes;
  guint letters;
  guint upper;
} SignalWord;

/* Splits `text` into words: runs of letters (an apostrophe inside a word, as
 * in HE'S, stays in it). Digits and punctuation separate words. */
static GArray *signals_words(const char *text)
{
  GArray *words = g_array_new(FALSE, TRUE, sizeof(SignalWord));
  SignalWord word = { 0 };
  for (const char *p = text; p && *p; p = g_utf8_next_char(p)) {
    gunichar ch = g_utf8_get_char(p);
    gboolean apostrophe = (ch == '\'' || ch == 0x2019) && word.letters > 0 &&
                          g_unichar_isalpha(g_utf8_get_char(g_utf8_next_char(p)));
    if (g_unichar_isalpha(ch) || apostrophe) {
      if (word.letters == 0 && !apostrophe)
        word.start = p;
      word.letters += !apostrophe;
      word.upper += g_unichar_isupper(ch) ? 1 : 0;
      word.bytes = (gsize)(g_utf8_next_char(p) - word.start);
    } else if (word.letters) {
      g_array_append_val(words, word);
      memset(&word, 0, sizeof word);
    }
  }
  if (word.letters)
    g_array_append_val(words, word);
  return words;
}

static gboolean word_shouted(const SignalWord *word)
{
  return word->letters >= 3 && word->upper == word->letters;
}

/* An all-capitals word of 4 letters or fewer with no shouted neighbour is an
 * acronym (VAT, HMRC, PDF) and is not counted. */
static gboolean word_is_acronym(const GArray *words, guint i)
{
  const SignalWord *word = &g_array_index(words, SignalWord, i);
  if (!word_shouted(word) || word->letters > 4)
    return FALSE;
  gboolean before = i > 0 && word_shouted(&g_array_index(words, SignalWord, i - 1));
  gboolean after = i + 1 < words->len && word_shouted(&g_array_index(words, SignalWord, i + 1));
  return !before && !after;
}

double signals_caps_ratio(const char *text, guint *caps_words)
{
  g_autoptr(GArray) words = signals_words(text);
  guint letters = 0, upper = 0, shouted = 0;
  for (guint i = 0; i < words->len; i++) {
    const SignalWord *word = &g_array_index(words, SignalWord, i);
    if (word->letters < 3 || word_is_acronym(words, i))
      continue;
    letters += word->letters;
    upper += word->upper;
    shouted += word_shouted(word);
  }
  if (caps_words)
    *caps_words = shouted;
  return letters ? (double)upper / letters : 0;
}

guint signals_longest_run(const char *text, gunichar c)
{
  gunichar wide = c + 0xFEE0; /* the full-width form of an ASCII character */
  guint best = 0, run = 0;
  for (const char *p = text; p && *p; p = g_utf8_next_char(p)) {
    gunichar ch = g_utf8_get_char(p);
    if (ch == c || ch == wide) {
      run++;
      best = MAX(best, run);
    } else if (ch != ' ') {
      run = 0;
    }
  }
  return best;
}

gboolean signals_outside_hours(GDateTime *date, GTimeZone *tz, guint8 days,
                               guint start_min, guint end_min)
{
  g_autoptr(GDateTime) local = g_date_time_to_timezone(date, tz);
  if (!local)
    return FALSE;
  int weekday = g_date_time_get_day_of_week(local); /* 1 = Monday */
  guint minute = (guint)(g_date_time_get_hour(local) * 60 + g_date_time_get_minute(local));
  if (!(days & (1u << (weekday - 1))))
    return TRUE;
  return minute < start_min || minute >= end_min;
}

/* ---- deadline_days ---- */

/* Lower-case tokens of letters and digits ("9am", "16th", "thurs"). */
static GPtrArray *signals_tokens(const char *text)
{
  GPtrArray *tokens = g_ptr_array_new_with_free_func(g_free);
  const char *start = NULL;
  for (const char *p = text;; p++) {
    gboolean in = *p && (g_ascii_isalnum(*p) || (*p & 0x80));
    if (in && !start)
      start = p;
    if (!in && start) {
      g_ptr_array_add(tokens, g_ascii_strdown(start, p - start));
      start = NULL;
    }
    if (!*p)
      break;
  }
  return tokens;
}

/* 1 = Monday ... 7 = Sunday, 0 when `token` is not a weekday. */
static int token_weekday(const char *token)
{
  static const char *const names[][4] = {
    { "monday", "mon", NULL, NULL }, { "tuesday", "tue", "tues", NULL },
    { "wednesday", "wed", "weds", NULL }, { "thursday", "thu", "thur", "thurs" },
    { "friday", "fri", NULL, NULL }, { "saturday", "sat", NULL, NULL },
    { "sunday", "sun", NULL, NULL },
  };
  for (int day = 0; day < 7; day++)
    for (int i = 0; i < 4 && names[day][i]; i++)
      if (strcmp(token, names[day][i]) == 0)
        return day + 1;
  return 0;
}

static gboolean token_is_time(const char *token)
{
  if (strcmp(token, "noon") == 0 || strcmp(token, "midday") == 0 || strcmp(token, "eod") == 0)
    return TRUE;
  const char *p = token;
  while (g_ascii_isdigit(*p))
    p++;
  return p != token && (strcmp(p, "am") == 0 || strcmp(p, "pm") == 0);
}

static gboolean token_is_deadline_word(const char *token)
{
  static const char *const words[] = { "by", "before", "until", "till", "til", "due",
                                       "for", "latest", "deadline", "ok", "okay", NULL };
  return g_strv_contains(words, token);
}

/* A weekday in a range or a list of hours ("Mon-Sat 7am-4pm", "Sunday
 * 8am-2pm"), after a possessive or an article ("my Monday clients", "on a
 * Sunday") or after "last" is not a deadline. */
static gboolean weekday_is_not_deadline(GPtrArray *tokens, guint i)
{
  static const char *const before[] = { "last", "my", "our", "your", "his", "her", "their",
                                        "a", "every", "each", "on", "from", "since", NULL };
  const char *previous = i > 0 ? g_ptr_array_index(tokens, i - 1) : "";
  const char *next = i + 1 < tokens->len ? g_ptr_array_index(tokens, i + 1) : "";
  const char *after = i + 2 < tokens->len ? g_ptr_array_index(tokens, i + 2) : "";
  if (token_weekday(previous) || token_weekday(next) || g_strv_contains(before, previous))
    return TRUE;
  return token_is_time(next) && token_is_time(after);
}

/* Does the weekday at tokens[i] read as a deadline? */
static gboolean weekday_is_deadline(GPtrArray *tokens, guint i)
{
  if (weekday_is_not_deadline(tokens, i))
    return FALSE;
  for (guint back = 1; back <= 3 && back <= i; back++) {
    const char *token = g_ptr_array_index(tokens, i - back);
    if (back == 1 && strcmp(token, "last") == 0)
      return FALSE;
    if (token_is_deadline_word(token) || (back <= 2 && token_is_time(token)))
      return TRUE;
  }
  for (guint ahead = 1; ahead <= 2 && i + ahead < tokens->len; ahead++) {
    const char *token = g_ptr_array_index(tokens, i + ahead);
    if (token_is_time(token) || strcmp(token, "ok") == 0 || strcmp(token, "latest") == 0)
      return TRUE;
  }
  return FALSE;
}

/* Day of month written as "16", "16th", "1st"; 0 when not one. */
static int token_day_of_month(const char *token)
{
  char *end = NULL;
  long day = strtol(token, &end, 10);
  if (end == token || day < 1 || day > 31)
    return 0;
  return (*end == '\0' || strcmp(end, "st") == 0 || strcmp(end, "nd") == 0 ||
          strcmp(end, "rd") == 0 || strcmp(end, "th") == 0) ? (int)day : 0;
}

/* Calendar days from `today` to the weekday at tokens[i] (or the day of month
 * written after it). */
static int weekday_days_ahead(GPtrArray *tokens, guint i, GDateTime *today, int weekday)
{
  int days = (weekday - g_date_time_get_day_of_week(today) + 7) % 7;
  if (i > 0 && strcmp(g_ptr_array_index(tokens, i - 1), "next") == 0 && days < 4)
    days += 7;
  int dom = i + 1 < tokens->len ? token_day_of_month(g_ptr_array_index(tokens, i + 1)) : 0;
  for (int ahead = 0; dom && ahead < 62; ahead++) {
    g_autoptr(GDateTime) day = g_date_time_add_days(today, ahead);
    if (g_date_time_get_day_of_month(day) == dom)
      return ahead;
  }
  return days;
}

/* Working days in (today, today + days]: weekend days do not count, except a
 * deadline that itself falls on a weekend. */
static int working_days(GDateTime *today, int days)
{
  int count = 0;
  for (int i = 1; i <= days; i++) {
    g_autoptr(GDateTime) day = g_date_time_add_days(today, i);
    count += g_date_time_get_day_of_week(day) <= 5 || i == days;
  }
  return count;
}

double signals_deadline_days(const char *text, GDateTime *local_date)
{
  g_autoptr(GPtrArray) tokens = signals_tokens(text ? text : "");
  int best = -1;
  for (guint i = 0; i < tokens->len; i++) {
    int weekday = token_weekday(g_ptr_array_index(tokens, i));
    if (!weekday || !weekday_is_deadline(tokens, i))
      continue;
    int days = working_days(local_date, weekday_days_ahead(tokens, i, local_date, weekday));
    best = best < 0 ? days : MIN(best, days);
  }
  return best < 0 ? NAN : best;
}

/* ---- all signals of a message ---- */

static double history_value(double value)
{
  return value < 0 ? NAN : value;
}

static void signals_compute_time(const KeelMessage *message, const ScoreContext *context,
                                 const char *text, double out[SIGNAL_COUNT])
{
  const char *zone = context && context->timezone ? context->timezone : "Europe/London";
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(zone);
  if (!tz)
    tz = g_time_zone_new_utc();
  out[SIGNAL_OUTSIDE_BUSINESS_HOURS] = NAN;
  out[SIGNAL_DEADLINE_DAYS] = NAN;
  if (!message->date)
    return;
  if (context && context->has_business_hours)
    out[SIGNAL_OUTSIDE_BUSINESS_HOURS] = signals_outside_hours(
      message->date, tz, context->business_days, context->business_start_min,
      context->business_end_min);
  g_autoptr(GDateTime) local = g_date_time_to_timezone(message->date, tz);
  if (local)
    out[SIGNAL_DEADLINE_DAYS] = signals_deadline_days(text, local);
}

void signals_compute(const KeelMessage *message, const ScoreContext *context,
                     double out[SIGNAL_COUNT])
{
  const char *text = message->new_text ? message->new_text :
                     message->body_text ? message->body_text : "";
  guint caps_words = 0;
  out[SIGNAL_CAPS_RATIO] = signals_caps_ratio(text, &caps_words);
  out[SIGNAL_CAPS_WORDS] = caps_words;
  out[SIGNAL_EXCLAMATION_RUN] = signals_longest_run(text, '!');
  out[SIGNAL_QUESTION_RUN] = signals_longest_run(text, '?');
  g_autoptr(GArray) words = signals_words(text);
  out[SIGNAL_WORDS] = words->len;
  signals_compute_time(message, context, text, out);
  out[SIGNAL_CHASERS_SINCE_REPLY] = history_value(context ? context->chasers_since_reply : -1);
  out[SIGNAL_CHASERS_24H] = history_value(context ? context->chasers_24h : -1);
  out[SIGNAL_HOURS_SINCE_REPLY] = history_value(context ? context->hours_since_reply : -1);
}
