/* filters/signals.c: the built-in signals rules test with `look signal NAME OP N`:
 * shouting (caps_ratio, caps_words, caps_run), runs of '!' and '?', length, sent outside
 * business hours, how soon a named weekday deadline falls, how much of the
 * text addresses "you", short phrases in scare quotes and phrases quoted back
 * from the earlier mail, and the history signals (chasers, hours since the
 * VA's reply, the thread's risk so far) that the caller passes in.
 *
 * Pure: text, the message's Date and a ScoreContext in, numbers out. Never
 * reads the clock, the store or a file. Unknown values are NAN (a comparison
 * with NAN is false, so a rule on an unknown signal never fires).
 *
 * Entry points: signals_compute() (all at once, for score.c), and one
 * function per text signal for tests: signals_caps_ratio(),
 * signals_longest_run(), signals_outside_hours(), signals_deadline_days(),
 * signals_second_person(), signals_quotes().
 */
#include <math.h>
#include <string.h>
#include "filters/signals.h"

static const char *const signal_names[SIGNAL_COUNT] = {
  [SIGNAL_CAPS_RATIO] = "caps_ratio",
  [SIGNAL_CAPS_WORDS] = "caps_words",
  [SIGNAL_CAPS_RUN] = "caps_run",
  [SIGNAL_EXCLAMATION_RUN] = "exclamation_run",
  [SIGNAL_QUESTION_RUN] = "question_run",
  [SIGNAL_WORDS] = "words",
  [SIGNAL_OUTSIDE_BUSINESS_HOURS] = "outside_business_hours",
  [SIGNAL_DEADLINE_DAYS] = "deadline_days",
  [SIGNAL_CHASERS_SINCE_REPLY] = "chasers_since_reply",
  [SIGNAL_CHASERS_24H] = "chasers_24h",
  [SIGNAL_HOURS_SINCE_REPLY] = "hours_since_reply",
  [SIGNAL_SECOND_PERSON] = "second_person",
  [SIGNAL_SCARE_QUOTES] = "scare_quotes",
  [SIGNAL_QUOTED_BACK] = "quoted_back",
  [SIGNAL_THREAD_RISK] = "thread_risk",
};

void score_context_init(ScoreContext *context)
{
  memset(context, 0, sizeof *context);
  context->chasers_since_reply = -1;
  context->chasers_24h = -1;
  context->hours_since_reply = -1;
  context->thread_risk = -1;
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
  return "caps_ratio caps_words caps_run exclamation_run question_run words outside_business_hours "
         "deadline_days chasers_since_reply chasers_24h hours_since_reply second_person scare_quotes "
         "quoted_back thread_risk";
}

/* ---- words ---- */

/* Signals read at most this much of the text: enough for any e-mail a person
 * wrote, and a bound on the cost of a huge one. */
#define SIGNALS_TEXT_LIMIT (64 * 1024)

typedef struct {
  guint letters;
  guint upper;
  const char *start;  /* borrowed: the word's first byte in the text */
  const char *stop;   /* borrowed: just after its last byte */
} SignalWord;

/* The next word at or after `*p` (before `end`): a run of letters, an
 * apostrophe inside a word (HE'S) staying in it. FALSE at the end. */
static gboolean signals_next_word(const char **p, const char *end, SignalWord *word)
{
  word->letters = word->upper = 0;
  const char *q = *p;
  while (q < end && *q) {
    gunichar ch = g_utf8_get_char(q);
    const char *next = g_utf8_next_char(q);
    gboolean apostrophe = (ch == '\'' || ch == 0x2019) && word->letters > 0 && next < end &&
                          g_unichar_isalpha(g_utf8_get_char(next));
    gboolean letter = ch < 0x80 ? g_ascii_isalpha(ch) : g_unichar_isalpha(ch);
    if (letter) {
      word->start = word->letters ? word->start : q;
      word->letters++;
      word->upper += ch < 0x80 ? g_ascii_isupper(ch) : g_unichar_isupper(ch);
      word->stop = next;
    } else if (!apostrophe && word->letters) {
      break;
    }
    q = next;
  }
  *p = q;
  return word->letters > 0;
}

static gboolean word_shouted(const SignalWord *word)
{
  return word->letters >= 3 && word->upper == word->letters;
}

/* An all-capitals word of 4 letters or fewer with no shouted neighbour is an
 * acronym (VAT, HMRC, PDF) and is not counted. */
static gboolean word_is_acronym(const SignalWord *before, const SignalWord *word,
                                const SignalWord *after)
{
  if (!word_shouted(word) || word->letters > 4)
    return FALSE;
  return !(before && word_shouted(before)) && !(after && word_shouted(after));
}

static gboolean word_is_second_person(const SignalWord *word);

typedef struct {
  guint words, letters, upper, shouted;
  guint second_person;     /* words that are you, your, you're ... */
  guint run, longest_run;  /* consecutive words of 2+ letters in capitals */
} SignalCaps;

static void signals_count_word(SignalCaps *caps, const SignalWord *before,
                               const SignalWord *word, const SignalWord *after)
{
  caps->words++;
  caps->second_person += word_is_second_person(word);
  if (word->letters >= 2 && word->upper == word->letters) {
    caps->run++;
    caps->longest_run = MAX(caps->longest_run, caps->run);
  } else if (word->letters >= 2) {
    caps->run = 0;
  }
  if (word->letters < 3 || word_is_acronym(before, word, after))
    return;
  caps->letters += word->letters;
  caps->upper += word->upper;
  caps->shouted += word_shouted(word);
}

/* One pass over the words of `text`, each judged with its neighbours. */
static void signals_caps(const char *text, SignalCaps *caps)
{
  memset(caps, 0, sizeof *caps);
  if (!text)
    return;
  const char *p = text, *end = text + strnlen(text, SIGNALS_TEXT_LIMIT);
  SignalWord before = { 0 }, word, after;
  gboolean have_before = FALSE, have_word = signals_next_word(&p, end, &word);
  while (have_word) {
    gboolean have_after = signals_next_word(&p, end, &after);
    signals_count_word(caps, have_before ? &before : NULL, &word, have_after ? &after : NULL);
    before = word;
    have_before = TRUE;
    word = after;
    have_word = have_after;
  }
}

double signals_caps_ratio(const char *text, guint *caps_words)
{
  SignalCaps caps;
  signals_caps(text, &caps);
  if (caps_words)
    *caps_words = caps.shouted;
  return caps.letters ? (double)caps.upper / caps.letters : 0;
}

guint signals_longest_run(const char *text, gunichar c)
{
  char wide[8] = { 0 }; /* the full-width form of an ASCII character, in UTF-8 */
  gsize wide_len = (gsize)g_unichar_to_utf8(c + 0xFEE0, wide);
  guint best = 0, run = 0;
  const char *end = text ? text + strnlen(text, SIGNALS_TEXT_LIMIT) : NULL;
  for (const char *p = text; p && p < end; p++) {
    if ((guchar)*p == c || (*p == wide[0] && (gsize)(end - p) >= wide_len &&
                            memcmp(p, wide, wide_len) == 0)) {
      p += (guchar)*p == c ? 0 : wide_len - 1;
      run++;
      best = MAX(best, run);
    } else if (*p != ' ') {
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

/* Lower-case tokens of letters and digits ("9am", "16th", "thurs") of
 * [start, end). */
static GPtrArray *signals_tokens(const char *start, const char *end)
{
  GPtrArray *tokens = g_ptr_array_new_with_free_func(g_free);
  const char *token = NULL;
  for (const char *p = start;; p++) {
    gboolean in = p < end && *p && (g_ascii_isalnum(*p) || (*p & 0x80));
    if (in && !token)
      token = p;
    if (!in && token) {
      g_ptr_array_add(tokens, g_ascii_strdown(token, p - token));
      token = NULL;
    }
    if (p >= end || !*p)
      break;
  }
  return tokens;
}

/* 1 = Monday ... 7 = Sunday, 0 when `token` (lower case) is not a weekday:
 * the full name, its first three letters, or tues, weds, thur, thurs. */
static int token_weekday(const char *token)
{
  static const char *const names[] = { "monday", "tuesday", "wednesday", "thursday", "friday",
                                       "saturday", "sunday" };
  static const struct { const char *name; int day; } more[] = {
    { "tues", 2 }, { "weds", 3 }, { "thur", 4 }, { "thurs", 4 },
  };
  gsize n = strlen(token);
  if (n < 3 || n > 9)
    return 0;
  for (int d = 0; d < 7; d++) {
    if (token[0] != names[d][0] || token[1] != names[d][1])
      continue; /* most words stop here */
    if (n == 3 ? strncmp(token, names[d], 3) == 0 : strcmp(token, names[d]) == 0)
      return d + 1;
  }
  for (guint i = 0; i < G_N_ELEMENTS(more); i++)
    if (strcmp(token, more[i].name) == 0)
      return more[i].day;
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

/* Calendar days from `today` to the weekday at tokens[i] (or to the day of
 * month written after it: "Friday 13th"). Plain arithmetic, no GDateTime. */
static int weekday_days_ahead(GPtrArray *tokens, guint i, GDateTime *today, int weekday)
{
  int days = (weekday - g_date_time_get_day_of_week(today) + 7) % 7;
  if (i > 0 && strcmp(g_ptr_array_index(tokens, i - 1), "next") == 0 && days < 4)
    days += 7;
  int dom = i + 1 < tokens->len ? token_day_of_month(g_ptr_array_index(tokens, i + 1)) : 0;
  if (!dom)
    return days;
  int day = g_date_time_get_day_of_month(today);
  int month_days = g_date_get_days_in_month((GDateMonth)g_date_time_get_month(today),
                                            (GDateYear)g_date_time_get_year(today));
  return dom >= day ? dom - day : month_days - day + dom;
}

/* Working days in (today, today + days]: weekend days do not count, except a
 * deadline that itself falls on a weekend. */
static int working_days(GDateTime *today, int days)
{
  int weekday = g_date_time_get_day_of_week(today) - 1; /* 0 = Monday */
  int count = 0;
  for (int i = 1; i <= days && i <= 400; i++)
    count += (weekday + i) % 7 < 5 || i == days;
  return count;
}

/* The tokens around the weekday at [word, word_end) and its index in them. */
static GPtrArray *signals_window(const char *text, const char *end, const char *word,
                                 const char *word_end, guint *index)
{
  const char *from = word - MIN((gsize)(word - text), 48);
  const char *to = word_end + MIN((gsize)(end - word_end), 40);
  while (from > text && from < word && (g_ascii_isalnum(*from) || (*from & 0x80)))
    from++; /* start on a token boundary */
  g_autoptr(GPtrArray) before = signals_tokens(from, word);
  GPtrArray *tokens = signals_tokens(from, to);
  *index = before->len;
  return tokens;
}

/* TRUE when [word, word_end) spells a weekday (3 to 9 letters). */
static gboolean span_is_weekday(const char *word, const char *word_end)
{
  gsize n = (gsize)(word_end - word);
  if (n < 3 || n > 9 || !strchr("mtwfsMTWFS", word[0]))
    return FALSE;
  char lower[10];
  for (gsize i = 0; i < n; i++)
    lower[i] = g_ascii_tolower(word[i]);
  lower[n] = '\0';
  return token_weekday(lower) != 0;
}

/* 1-12 when `token` names a month ("mar", "march", "sept"), else 0. */
static int token_month(const char *token)
{
  static const char *const months[] = { "january", "february", "march", "april", "may", "june",
                                        "july", "august", "september", "october", "november",
                                        "december" };
  if (strlen(token) < 3)
    return 0;
  for (int m = 0; m < 12; m++)
    if (g_str_has_prefix(months[m], token))
      return m + 1;
  return 0;
}

/* Calendar days from `today` to day `dom` of `month` (0: the next such day
 * of any month); -1 when it is past or impossible. */
static int date_days_ahead(GDateTime *today, int dom, int month)
{
  int year = g_date_time_get_year(today), day = g_date_time_get_day_of_month(today);
  int this_month = g_date_time_get_month(today);
  if (!month)
    month = dom >= day ? this_month : this_month % 12 + 1;
  if (month < this_month - 6)
    year++; /* "by 10 January" written in December */
  if (!g_date_valid_dmy((GDateDay)dom, (GDateMonth)month, (GDateYear)year))
    return -1;
  g_autoptr(GDate) from = g_date_new_dmy((GDateDay)day, (GDateMonth)this_month,
                                         (GDateYear)g_date_time_get_year(today));
  g_autoptr(GDate) to = g_date_new_dmy((GDateDay)dom, (GDateMonth)month, (GDateYear)year);
  int days = g_date_days_between(from, to);
  return days >= 0 ? days : -1;
}

/* "by the 16th", "by 20 March", "before March 20th": calendar days ahead of
 * the date after the deadline word at tokens[i], or -1. A bare number is not
 * a date ("by 5" is a time). */
static int deadline_date_days(GPtrArray *tokens, guint i, GDateTime *today)
{
  guint j = i + 1;
  const char *token = j < tokens->len ? g_ptr_array_index(tokens, j) : "";
  if (strcmp(token, "the") == 0)
    token = ++j < tokens->len ? g_ptr_array_index(tokens, j) : "";
  const char *next = j + 1 < tokens->len ? g_ptr_array_index(tokens, j + 1) : "";
  const char *after = j + 2 < tokens->len ? g_ptr_array_index(tokens, j + 2) : "";
  int dom = token_day_of_month(token), month = 0;
  if (dom) {
    month = token_month(strcmp(next, "of") == 0 ? after : next);
    if (!month && g_ascii_isdigit(token[strlen(token) - 1]))
      return -1;
  } else if ((month = token_month(token))) {
    dom = token_day_of_month(next);
  }
  return dom ? date_days_ahead(today, dom, month) : -1;
}

/* TRUE for by/before/until/due followed by what may be a date: a digit,
 * "the", or the first letters of a month (a cheap look before tokenizing). */
static gboolean span_is_deadline_word(const char *word, const char *word_end, const char *end)
{
  gsize n = (gsize)(word_end - word);
  gboolean deadline = (n == 2 && g_ascii_strncasecmp(word, "by", 2) == 0) ||
                      (n == 6 && g_ascii_strncasecmp(word, "before", 6) == 0) ||
                      (n == 5 && g_ascii_strncasecmp(word, "until", 5) == 0) ||
                      (n == 3 && g_ascii_strncasecmp(word, "due", 3) == 0);
  const char *next = word_end;
  while (deadline && next < end && (*next == ' ' || *next == '\t' || *next == '\n'))
    next++;
  if (!deadline || end - next < 3)
    return FALSE;
  if (g_ascii_isdigit(*next) || g_ascii_strncasecmp(next, "the", 3) == 0)
    return TRUE;
  char month[4] = { g_ascii_tolower(next[0]), g_ascii_tolower(next[1]), g_ascii_tolower(next[2]), 0 };
  return token_month(month) != 0;
}

/* Working days to the deadline at [word, p), or -1 when it is none. */
static int deadline_at(const char *text, const char *end, const char *word, const char *p,
                       GDateTime *today)
{
  gboolean weekday = span_is_weekday(word, p);
  if (!weekday && !span_is_deadline_word(word, p, end))
    return -1;
  guint i = 0;
  g_autoptr(GPtrArray) tokens = signals_window(text, end, word, p, &i);
  if (i >= tokens->len)
    return -1;
  if (!weekday) {
    int days = deadline_date_days(tokens, i, today);
    return days < 0 ? -1 : working_days(today, days);
  }
  int day = token_weekday(g_ptr_array_index(tokens, i));
  if (!day || !weekday_is_deadline(tokens, i))
    return -1;
  return working_days(today, weekday_days_ahead(tokens, i, today, day));
}

double signals_deadline_days(const char *text, GDateTime *local_date)
{
  if (!text)
    return NAN;
  const char *end = text + strnlen(text, SIGNALS_TEXT_LIMIT);
  int best = -1;
  for (const char *p = text; p < end;) {
    while (p < end && !g_ascii_isalpha(*p))
      p++;
    const char *word = p;
    while (p < end && (g_ascii_isalnum(*p) || (*p & 0x80)))
      p++;
    int days = p > word ? deadline_at(text, end, word, p, local_date) : -1;
    if (days >= 0)
      best = best < 0 ? days : MIN(best, days);
  }
  return best < 0 ? NAN : best;
}

/* ---- second person and quotation marks ---- */

/* TRUE when `word` is you, your, yours, yourself, yourselves, you're, you've,
 * you'd or you'll (any case; a typographic apostrophe too). */
static gboolean word_is_second_person(const SignalWord *word)
{
  static const char *const forms[] = { "you", "your", "yours", "yourself", "yourselves",
                                       "you're", "you've", "you'd", "you'll" };
  gsize len = (gsize)(word->stop - word->start);
  if (word->letters < 3 || len > 12 || (word->start[0] | 0x20) != 'y')
    return FALSE;
  char lower[16];
  gsize n = 0;
  for (const char *q = word->start; q < word->stop; q++) {
    gboolean curly = (guchar)q[0] == 0xE2 && q + 2 < word->stop && (guchar)q[1] == 0x80 &&
                     (guchar)q[2] == 0x99;
    lower[n++] = curly ? '\'' : (char)g_ascii_tolower(*q);
    q += curly ? 2 : 0;
  }
  lower[n] = '\0';
  for (gsize i = 0; i < G_N_ELEMENTS(forms); i++)
    if (strcmp(lower, forms[i]) == 0)
      return TRUE;
  return FALSE;
}

double signals_second_person(const char *text)
{
  SignalCaps caps;
  signals_caps(text, &caps);
  return caps.words ? (double)caps.second_person / caps.words : 0;
}

/* TRUE when `ch` (after `before`) opens a quotation: a double mark, a
 * typographic opening mark, or a straight single mark not inside a word. */
static gboolean quote_opens(gunichar ch, gunichar before)
{
  if (ch == 0x201C || ch == 0x2018)
    return TRUE;
  return (ch == '"' || ch == '\'') && !g_unichar_isalnum(before);
}

/* The mark that closes a quotation opened by `open`, searched from `p` on the
 * same line within 80 bytes; NULL when there is none. A single closing mark
 * followed by a letter is an apostrophe (don't), not a close. */
static const char *quote_close(const char *p, const char *end, gunichar open)
{
  gboolean dbl = open == '"' || open == 0x201C;
  for (const char *q = p; q < end && q < p + 80 && *q && *q != '\n'; q = g_utf8_next_char(q)) {
    gunichar ch = g_utf8_get_char(q);
    if (dbl && (ch == '"' || ch == 0x201D))
      return q;
    const char *next = g_utf8_next_char(q);
    if (!dbl && (ch == '\'' || ch == 0x2019) &&
        !(next < end && g_unichar_isalpha(g_utf8_get_char(next))))
      return q;
  }
  return NULL;
}

/* Judges the quoted phrase [start, end): adds to `scare`, and to `back` when
 * it is in `quoted` (case-folded once, on the first phrase, into `*haystack`). */
static void quote_judge(const char *start, const char *end, const char *quoted,
                        char **haystack, guint *scare, guint *back)
{
  g_autofree char *phrase = g_strstrip(g_strndup(start, (gsize)(end - start)));
  gsize len = strlen(phrase);
  while (len && strchr(".,!?;:", phrase[len - 1]))
    phrase[--len] = '\0';
  g_auto(GStrv) words = g_strsplit_set(phrase, " \t", -1);
  guint n = 0, lower = 0;
  for (guint i = 0; words[i]; i++) {
    if (!*words[i])
      continue;
    n++;
    lower += g_unichar_islower(g_utf8_get_char(words[i]));
  }
  if (n == 0 || n > 6 || len < 2)
    return;
  if (n <= 4 && lower)
    (*scare)++;
  if (!quoted || !*quoted || len < 4)
    return;
  if (!*haystack)
    *haystack = g_utf8_casefold(quoted, (gssize)strnlen(quoted, SIGNALS_TEXT_LIMIT));
  g_autofree char *folded = g_utf8_casefold(phrase, -1);
  if (strstr(*haystack, folded))
    (*back)++;
}

void signals_quotes(const char *text, const char *quoted, guint *scare, guint *back)
{
  guint n_scare = 0, n_back = 0;
  g_autofree char *haystack = NULL;
  const char *end = text ? text + strnlen(text, SIGNALS_TEXT_LIMIT) : NULL;
  gunichar before = ' ';
  for (const char *p = text; p && p < end && *p; p = g_utf8_next_char(p)) {
    gunichar ch = (*p & 0x80) ? g_utf8_get_char(p) : (gunichar)*p;
    const char *close = quote_opens(ch, before) ? quote_close(g_utf8_next_char(p), end, ch) : NULL;
    before = ch;
    if (!close)
      continue;
    quote_judge(g_utf8_next_char(p), close, quoted, &haystack, &n_scare, &n_back);
    p = close;
    before = g_utf8_get_char(close);
  }
  if (scare)
    *scare = n_scare;
  if (back)
    *back = n_back;
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
  g_autoptr(GTimeZone) tz = context && context->tz ? g_time_zone_ref(context->tz)
                                                    : g_time_zone_new_identifier(zone);
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
  SignalCaps caps;
  signals_caps(text, &caps);
  out[SIGNAL_CAPS_RATIO] = caps.letters ? (double)caps.upper / caps.letters : 0;
  out[SIGNAL_CAPS_WORDS] = caps.shouted;
  out[SIGNAL_CAPS_RUN] = caps.longest_run;
  out[SIGNAL_EXCLAMATION_RUN] = signals_longest_run(text, '!');
  out[SIGNAL_QUESTION_RUN] = signals_longest_run(text, '?');
  out[SIGNAL_WORDS] = caps.words;
  signals_compute_time(message, context, text, out);
  out[SIGNAL_CHASERS_SINCE_REPLY] = history_value(context ? context->chasers_since_reply : -1);
  out[SIGNAL_CHASERS_24H] = history_value(context ? context->chasers_24h : -1);
  out[SIGNAL_HOURS_SINCE_REPLY] = history_value(context ? context->hours_since_reply : -1);
  out[SIGNAL_THREAD_RISK] = history_value(context ? context->thread_risk : -1);
  guint scare = 0, back = 0;
  signals_quotes(text, message->quoted_text, &scare, &back);
  out[SIGNAL_SECOND_PERSON] = caps.words ? (double)caps.second_person / caps.words : 0;
  out[SIGNAL_SCARE_QUOTES] = scare;
  out[SIGNAL_QUOTED_BACK] = back;
}
