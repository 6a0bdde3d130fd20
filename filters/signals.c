/* filters/signals.c: the built-in signals rules test with `look signal NAME OP N`:
 * shouting (caps_ratio, caps_words, caps_run), runs of '!' and '?', length, sent outside
 * business hours, how soon the nearest deadline falls (found and resolved by
 * filters/deadlines.c with rules/deadlines.rules: no date words here), how much of the
 * text addresses "you", short phrases in scare quotes and phrases quoted back
 * from the earlier mail, and the history signals (chasers, hours since the
 * VA's reply, the thread's risk so far) that the caller passes in.
 *
 * Pure: text, the message's Date and a ScoreContext in, numbers out. Never
 * reads the clock, the store or a file. Unknown values are NAN (a comparison
 * with NAN is false, so a rule on an unknown signal never fires).
 *
 * Cost: each pass over the text skips plain ASCII a run at a time (words of
 * ASCII letters at once, bytes that cannot open a quotation at once, a jump
 * to the next '!', '?' or full-width mark), and the runs of '!' and '?' are
 * counted in one pass.
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
G_ALWAYS_INLINE static inline gboolean signals_next_word(const char **p, const char *end,
                                                          SignalWord *word)
{
  word->letters = word->upper = 0;
  const char *q = *p;
  while (q < end && *q) {
    guchar byte = (guchar)*q;
    if (byte < 0x80 && g_ascii_isalpha(byte)) { /* a run of ASCII letters at once */
      word->start = word->letters ? word->start : q;
      const guchar *u = (const guchar *)q, *stop = (const guchar *)end;
      guint upper = 0;
      guint16 kind;
      while (u < stop && ((kind = g_ascii_table[*u]) & G_ASCII_ALPHA)) {
        upper += (kind & G_ASCII_UPPER) != 0;
        u++;
      }
      word->letters += (guint)(u - (const guchar *)q);
      word->upper += upper;
      q = word->stop = (const char *)u;
      continue;
    }
    if (byte < 0x80 && (word->letters == 0 || byte != '\'')) {
      if (word->letters)
        break; /* ASCII that is neither a letter nor an apostrophe ends the word */
      q++;
      continue;
    }
    gboolean ascii = byte < 0x80; /* most text: no decoding */
    gunichar ch = ascii ? byte : g_utf8_get_char(q);
    const char *next = ascii ? q + 1 : g_utf8_next_char(q);
    gboolean letter = ascii ? g_ascii_isalpha(byte) : g_unichar_isalpha(ch);
    if (letter) {
      word->start = word->letters ? word->start : q;
      word->letters++;
      word->upper += ascii ? g_ascii_isupper(byte) : g_unichar_isupper(ch);
      word->stop = next;
    } else if (word->letters && !((ch == '\'' || ch == 0x2019) && next < end &&
                                  g_unichar_isalpha(g_utf8_get_char(next)))) {
      break; /* an apostrophe between letters stays in the word */
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

/* The first of '!', '?' and 0xEF (the first byte of their full-width forms)
 * at or after `p`, or `end`; `next` caches where each was last found. */
static const char *signals_next_mark(const char *p, const char *end, const char *next[3])
{
  static const char marks[3] = { '!', '?', (char)0xEF };
  const char *first = end;
  for (int i = 0; i < 3; i++) {
    if (next[i] == NULL || next[i] < p) {
      next[i] = memchr(p, marks[i], (gsize)(end - p));
      next[i] = next[i] ? next[i] : end;
    }
    first = MIN(first, next[i]);
  }
  return first;
}

/* signals_longest_run() of '!' and of '?' in one pass: the same runs. While
 * neither run is going, it jumps (memchr) to the next mark. */
static void signals_mark_runs(const char *text, guint *exclamation, guint *question)
{
  static const char wide_exclamation[] = "\xEF\xBC\x81", wide_question[] = "\xEF\xBC\x9F";
  guint best[2] = { 0, 0 }, run[2] = { 0, 0 }; /* [0] '!', [1] '?' */
  const char *end = text ? text + strnlen(text, SIGNALS_TEXT_LIMIT) : NULL;
  const char *next[3] = { NULL, NULL, NULL }; /* not looked for yet */
  for (const char *p = text; p && p < end; p++) {
    if (run[0] == 0 && run[1] == 0 && (p = signals_next_mark(p, end, next)) == end)
      break;
    int mark = -1;
    if (*p == '!' || *p == '?') {
      mark = *p == '?';
    } else if ((guchar)*p == 0xEF && end - p >= 3) {
      mark = memcmp(p, wide_exclamation, 3) == 0 ? 0 : memcmp(p, wide_question, 3) == 0 ? 1 : -1;
      p += mark >= 0 ? 2 : 0;
    } else if (*p == ' ') {
      continue;
    }
    for (int i = 0; i < 2; i++) {
      run[i] = i == mark ? run[i] + 1 : 0;
      best[i] = MAX(best[i], run[i]);
    }
  }
  *exclamation = best[0];
  *question = best[1];
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

double signals_deadline_days(const DeadlineRules *rules, const char *text, GDateTime *sent,
                             GTimeZone *tz)
{
  if (!rules || !text || !sent)
    return NAN;
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  ctx.timezone = tz;
  g_autofree char *head = NULL; /* the first SIGNALS_TEXT_LIMIT bytes, cut on a character */
  if (strnlen(text, SIGNALS_TEXT_LIMIT + 1) > SIGNALS_TEXT_LIMIT) {
    const char *cut = text + SIGNALS_TEXT_LIMIT;
    while (cut > text && ((guchar)*cut & 0xC0) == 0x80)
      cut--;
    text = head = g_strndup(text, (gsize)(cut - text));
  }
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GError) error = NULL;
  if (!deadline_nearest(rules, text, sent, &ctx, &when, &error) || !when)
    return NAN; /* a match PCRE2 gave up on reads as no deadline */
  g_autoptr(GDateTime) local = g_date_time_to_timezone(sent, g_date_time_get_timezone(when));
  g_autoptr(GDate) from = g_date_new_dmy((GDateDay)g_date_time_get_day_of_month(local),
                                         (GDateMonth)g_date_time_get_month(local),
                                         (GDateYear)g_date_time_get_year(local));
  g_autoptr(GDate) to = g_date_new_dmy((GDateDay)g_date_time_get_day_of_month(when),
                                       (GDateMonth)g_date_time_get_month(when),
                                       (GDateYear)g_date_time_get_year(when));
  return working_days(local, MAX(0, g_date_days_between(from, to)));
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

/* g_utf8_casefold() of the `len` bytes at `text`: of ASCII text (most quoted
 * mail) that is its ASCII lower case, made without a table lookup a character. */
static char *signals_casefold(const char *text, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar)text[i] >= 0x80)
      return g_utf8_casefold(text, (gssize)len);
  return g_ascii_strdown(text, (gssize)len);
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
    *haystack = signals_casefold(quoted, strnlen(quoted, SIGNALS_TEXT_LIMIT));
  g_autofree char *folded = g_utf8_casefold(phrase, -1);
  if (strstr(*haystack, folded))
    (*back)++;
}

/* 1 for a byte signals_quotes() must look at: a quotation mark, or part of a
 * non-ASCII character (0x80 and above); any other byte is skipped. */
#define SIGNALS_ONES_16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define SIGNALS_ONES_128 SIGNALS_ONES_16, SIGNALS_ONES_16, SIGNALS_ONES_16, SIGNALS_ONES_16, \
                         SIGNALS_ONES_16, SIGNALS_ONES_16, SIGNALS_ONES_16, SIGNALS_ONES_16
static const guint8 quote_stop[256] = { ['"'] = 1, ['\''] = 1, [0x80] = SIGNALS_ONES_128 };

/* The first byte at or after `p` (before `end`) that quote_stop marks, or
 * `end`: eight bytes at a time while none of them is '"', '\'' or 0x80 and
 * above (a byte of x equal to m makes a byte of x ^ m zero, which the
 * borrow of "- 0x01..." shows), then one at a time. */
static const char *quote_skip(const char *p, const char *end)
{
  const guint64 ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  while (end - p >= 8) {
    guint64 x;
    memcpy(&x, p, sizeof x);
    guint64 dq = x ^ (ones * '"'), sq = x ^ (ones * '\'');
    if ((((dq - ones) & ~dq) | ((sq - ones) & ~sq) | x) & highs)
      break;
    p += 8;
  }
  while (p < end && !quote_stop[(guchar)*p])
    p++;
  return p;
}

void signals_quotes(const char *text, const char *quoted, guint *scare, guint *back)
{
  guint n_scare = 0, n_back = 0;
  g_autofree char *haystack = NULL;
  const char *end = text ? text + strnlen(text, SIGNALS_TEXT_LIMIT) : NULL;
  gunichar before = ' ';
  for (const char *p = text; p && p < end && *p; p = g_utf8_next_char(p)) {
    if (!quote_stop[(guchar)*p]) { /* most bytes: ASCII that opens nothing */
      p = quote_skip(p + 1, end) - 1;
      before = (gunichar)*p;
      continue;
    }
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
                                 const DeadlineRules *deadlines, const char *text,
                                 double out[SIGNAL_COUNT])
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
  out[SIGNAL_DEADLINE_DAYS] = signals_deadline_days(deadlines, text, message->date, tz);
}

void signals_compute(const KeelMessage *message, const ScoreContext *context,
                     const DeadlineRules *deadlines, double out[SIGNAL_COUNT])
{
  const char *text = message->new_text ? message->new_text :
                     message->body_text ? message->body_text : "";
  SignalCaps caps;
  signals_caps(text, &caps);
  out[SIGNAL_CAPS_RATIO] = caps.letters ? (double)caps.upper / caps.letters : 0;
  out[SIGNAL_CAPS_WORDS] = caps.shouted;
  out[SIGNAL_CAPS_RUN] = caps.longest_run;
  guint exclamation_run, question_run;
  signals_mark_runs(text, &exclamation_run, &question_run);
  out[SIGNAL_EXCLAMATION_RUN] = exclamation_run;
  out[SIGNAL_QUESTION_RUN] = question_run;
  out[SIGNAL_WORDS] = caps.words;
  signals_compute_time(message, context, deadlines, text, out);
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
