/* filters/signals.h: the built-in signals that rules test with
 * `look signal NAME OP NUMBER`. Pure: text, the message's date and the
 * history the caller passes in (ScoreContext) -> numbers. Never reads the
 * clock, the store or a file: history signals come from the caller.
 *
 * A signal that cannot be known (no history given, no business hours) is NAN,
 * and every comparison with NAN is false, so such rules simply do not fire.
 */
#pragma once

#include <glib.h>
#include "filters/message.h"
#include "filters/deadlines.h"

typedef enum {
  SIGNAL_CAPS_RATIO,            /* capitals / letters in words of 3+ letters, isolated acronyms left out */
  SIGNAL_CAPS_WORDS,            /* words of 3+ letters written all in capitals (isolated acronyms left out) */
  SIGNAL_CAPS_RUN,              /* longest run of consecutive words (2+ letters) in capitals */
  SIGNAL_EXCLAMATION_RUN,       /* longest run of '!' (and '！') */
  SIGNAL_QUESTION_RUN,          /* longest run of '?' (mixed "?!" runs count for both) */
  SIGNAL_WORDS,                 /* words in the new text */
  SIGNAL_OUTSIDE_BUSINESS_HOURS,/* 1 when sent outside the VA's business hours, else 0 */
  SIGNAL_DEADLINE_DAYS,         /* working days to the nearest deadline (rules/deadlines.rules) */
  SIGNAL_CHASERS_SINCE_REPLY,   /* client messages in this thread since the VA's last reply (history) */
  SIGNAL_CHASERS_24H,           /* client messages in this thread in the last 24 hours (history) */
  SIGNAL_HOURS_SINCE_REPLY,     /* hours since the VA's last reply in this thread (history) */
  SIGNAL_SECOND_PERSON,         /* share of the words that are you/your/you're/yourself... (0-1) */
  SIGNAL_SCARE_QUOTES,          /* short quoted phrases ("all done") with a lower-case word in them */
  SIGNAL_QUOTED_BACK,           /* quoted phrases of the new text that come from the quoted earlier mail */
  SIGNAL_THREAD_RISK,           /* the thread's risk before this message (history; >= 1 is risky) */
  SIGNAL_COUNT
} SignalId;

/* What the caller knows beyond the message. Fill with score_context_init()
 * (everything unknown), then set what you know. All pointers are borrowed. */
typedef struct {
  GDateTime *now;              /* may be NULL: the message's Date is used */
  const char *timezone;        /* the VA's zone (IANA name); NULL = Europe/London */
  GTimeZone *tz;               /* optional: that zone, made once by the caller (faster) */
  gboolean has_business_hours; /* FALSE: outside_business_hours is unknown */
  guint8 business_days;        /* bit 0 = Monday ... bit 6 = Sunday */
  guint business_start_min;    /* minutes after local midnight */
  guint business_end_min;
  int chasers_since_reply;     /* < 0: unknown */
  int chasers_24h;             /* < 0: unknown */
  double hours_since_reply;    /* < 0: unknown (or the VA never replied) */
  double thread_risk;          /* < 0: unknown; the thread's risk before this message */
} ScoreContext;

void score_context_init(ScoreContext *context);

/* The signal called `name`, or -1. */
int signals_lookup(const char *name);
const char *signals_name(SignalId id);
/* A space-separated list of every signal name, for error messages. */
const char *signals_all_names(void);

/* Share of capital letters among the letters of words of 3+ letters. An
 * all-capitals word of 4 letters or fewer (VAT, HMRC, PDF) is left out unless
 * a neighbouring word is in capitals too (then it is shouting, not an acronym).
 * 0 when there is no such word. `caps_words` (may be NULL) receives the number
 * of counted words written all in capitals. */
double signals_caps_ratio(const char *text, guint *caps_words);

/* Longest run of `c` (and its full-width form), ignoring spaces between them. */
guint signals_longest_run(const char *text, gunichar c);

/* TRUE when `date` in zone `tz` falls outside the days/minutes given. */
gboolean signals_outside_hours(GDateTime *date, GTimeZone *tz, guint8 days,
                               guint start_min, guint end_min);

/* Working days from the day of `sent` (in `tz`; NULL = UTC) to the nearest
 * deadline of `text`: deadline_nearest() with `rules` (rules/deadlines.rules),
 * which finds and resolves every phrase, so this file knows no date words.
 * Weekend days do not count, except a deadline that falls on one; the
 * message's own day = 0. NAN when `rules` is NULL or no phrase names a date. */
double signals_deadline_days(const DeadlineRules *rules, const char *text, GDateTime *sent,
                             GTimeZone *tz);

/* Share (0-1) of the words of `text` that address the reader: you, your,
 * yours, yourself, yourselves, you're, you've, you'd, you'll. 0 for no words. */
double signals_second_person(const char *text);

/* The phrases of `text` in quotation marks ("...", “...”, '...', ‘...’) of
 * one to six words on one line. `scare` (may be NULL) receives those of at
 * most four words with a word in lower case ("all done", "sorted"; a name
 * such as "Closed Good Friday" is not counted; the rules weigh the signal with
 * other evidence); `back` (may be NULL) those of 4+ bytes found, ignoring
 * case, in `quoted` (the quoted earlier mail; may be NULL). */
void signals_quotes(const char *text, const char *quoted, guint *scare, guint *back);

/* Every signal of `message` into `out`. `context` may be NULL; `deadlines`
 * (the RuleSet's, may be NULL: deadline_days is then unknown) resolves the
 * deadline_days signal. */
void signals_compute(const KeelMessage *message, const ScoreContext *context,
                     const DeadlineRules *deadlines, double out[SIGNAL_COUNT]);
