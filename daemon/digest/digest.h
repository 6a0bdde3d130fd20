/* daemon/digest/digest.h: the daily digest (what needs the VA today, in one email)
 * and the alert (one short email at once for a threat or a very risky thread).
 *
 * Entry points:
 *   digest_gather()         the store, as of `now`, into a Digest value
 *   digest_subject()        "keel: 2 risky threads · 3 due today"
 *   digest_render_text()    the text/plain part (sparklines for the charts)
 *   digest_render_html()    the text/html part (inline styles, table-cell bars)
 *   digest_build_message()  the multipart/alternative message, as bytes
 *   digest_queue()          into the outbox (kind "digest"), one row per recipient
 *   digest_next_run()       the next local run time ("08:00" in the VA's zone)
 *   digest_due()            whether a digest is due, given when the last one went
 *   digest_next_due()       when the next digest goes (the pending run, else the next)
 *   digest_schedule()       the same from the config and the store (keel status)
 *   digest_run_if_due()     gather + queue when due (for the daemon loop)
 *   digest_alert_for_message() the alert for one stored message, at most one per
 *                           thread per local day
 *
 * Gathering only reads the store; rendering only formats a Digest. Time is
 * always a parameter.
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "filters/rules.h"

#define KEEL_DIGEST_ERROR (keel_digest_error_quark())
GQuark keel_digest_error_quark(void);
typedef enum {
  KEEL_DIGEST_ERROR_ACCOUNT,  /* no account to send through, or no address to send to */
  KEEL_DIGEST_ERROR_SCHEDULE  /* `[digest] at` is not HH:MM */
} KeelDigestError;

/* What the config does not (yet) say; digest_options_init() sets the defaults. */
typedef struct {
  gboolean send_empty;       /* send "nothing needs you today" too (default FALSE) */
  double alert_threshold;    /* thread risk that triggers an alert (default 3) */
  double unanswered_hours;   /* business hours before a client "waits" (default 24) */
  guint weeks;               /* weeks in each risk chart (default 8) */
  const RuleSet *rules;      /* borrowed: the rules in force (their thread half-life);
                                NULL = load the config's rules dir (an error there is a
                                health item) */
  const char *rules_error;   /* borrowed: the daemon's last failed reload, NULL = none */
} DigestOptions;
void digest_options_init(DigestOptions *options);
/* The defaults, then what `config` ([digest] send_empty, alert_threshold) says. */
void digest_options_from_config(DigestOptions *options, const KeelConfig *config);

#define DIGEST_MAX_WEEKS 12

typedef struct {
  char *phrase;      /* owned: what matched */
  char *context;     /* owned: the phrase in a little of its sentence (may equal phrase) */
  char *dimension;   /* owned */
  char *rule;        /* owned: the rule's internal name, never shown (to find its why) */
  char *why;         /* owned: the rule's `why`, what the VA reads; NULL = none */
} DigestQuote;

typedef struct {
  gint64 thread_id;
  char *client_id;         /* owned, may be NULL */
  char *client;            /* owned: name, or the counterpart's address */
  char *subject;           /* owned */
  GDateTime *last_date;    /* owned, in the VA's zone */
  GDateTime *last_reply;   /* owned, in the VA's zone: her last message, NULL = none */
  double risk;
  GPtrArray *dimensions;   /* owned, of char*: flagged dimensions, most serious first */
  GPtrArray *quotes;       /* owned, of DigestQuote* */
  GPtrArray *next_steps;   /* owned, of char*: one per flagged dimension that has one */
  double weekly[DIGEST_MAX_WEEKS]; /* the client's risk per week, oldest first */
  guint risky_this_week;   /* the client's risky messages (risk >= 1) in the 7 days to now */
  char *risk_words;        /* owned: "high: a threat", "rising: second angry message this week" */
} DigestThread;

typedef enum { DIGEST_DUE_OVERDUE, DIGEST_DUE_TODAY, DIGEST_DUE_TOMORROW } DigestDue;

typedef struct {
  gint64 id;
  char *client;            /* owned */
  char *text;              /* owned */
  GDateTime *deadline;     /* owned, in the VA's zone */
  DigestDue due;
} DigestInstruction;

typedef struct {
  gint64 thread_id;
  char *client;            /* owned */
  char *subject;           /* owned */
  GDateTime *since;        /* owned, in the VA's zone */
  double business_hours;   /* waiting for this many business hours */
} DigestWaiting;

typedef struct {
  GDateTime *now;          /* owned, in the VA's zone */
  GDateTime *since;        /* owned: the last digest, NULL = never (activity since then) */
  guint weeks;
  gboolean explain;        /* keel digest --explain: show the risk numbers too */
  GPtrArray *risky;        /* owned, of DigestThread*, riskiest first */
  GPtrArray *instructions; /* owned, of DigestInstruction*: overdue, today, tomorrow */
  GPtrArray *waiting;      /* owned, of DigestWaiting*, longest wait first */
  GPtrArray *activity;     /* owned, of StoreOutboxRow*: what keel sent or drafted */
  GPtrArray *health;       /* owned, of char*: problems, in words */
  GPtrArray *payments;     /* owned, of char*: overdue invoices, promises, disputes, new
                              work while unpaid (digest-payments.c), one line each */
  GPtrArray *word;         /* owned, of char*: her promises due, work probably done, holding
                              drafts waiting (digest-word.c), one line each */
  char *trail_head;        /* owned: the trail's head as COUNT:HASH, printed in every digest
                              so a copy outside the database pins the record; NULL = empty */
} Digest;
void digest_free(Digest *digest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Digest, digest_free)

/* Reads the store as of `now`: every section, each empty when it has no data.
 * A thread's risk is recomputed as of `now` (score_thread_risk with the
 * rules' half-life), so a thread that has calmed down or gone quiet drops out.
 * The activity section covers what was queued since the last digest. NULL with
 * `error` on a store failure. */
Digest *digest_gather(Store *store, const KeelConfig *config, const DigestOptions *options,
                      GDateTime *now, GError **error);

/* TRUE when nothing needs the VA (no risky thread, nothing due, nobody
 * waiting, no problem); what keel sent does not count. */
gboolean digest_is_empty(const Digest *digest);
guint digest_count_due(const Digest *digest, DigestDue due);

char *digest_subject(const Digest *digest);
char *digest_render_text(const Digest *digest);
char *digest_render_html(const Digest *digest);
/* "▁▂█…" for `n` values scaled to their maximum. New string. */
char *digest_sparkline(const double *values, guint n);

/* The whole message (CRLF): multipart/alternative, UTF-8, Auto-Submitted:
 * auto-generated, a fresh Message-ID (`*message_id`, new string, without <>),
 * no In-Reply-To/References. NULL with `error` for an unusable address. */
GBytes *digest_build_message(const Digest *digest, const char *from, const char *to,
                             char **message_id, GError **error);

/* The addresses the digest goes to: `[digest] to`, else the first account's
 * user. New strv; NULL with `error` when there is no account. */
char **digest_recipients(const KeelConfig *config, GError **error);

/* Queues `digest` in the outbox (kind "digest"), one row per recipient, in
 * one transaction. Returns the number of rows queued; -1 with `error`. */
int digest_queue(Store *store, const KeelConfig *config, const Digest *digest, GError **error);

/* The next time, strictly after `now`, that the local clock in `tz` reads `at`
 * ("HH:MM"). Correct across DST changes (a day may have 23 or 25 hours). NULL
 * when `at` does not parse. */
GDateTime *digest_next_run(GDateTime *now, const char *at, GTimeZone *tz);
/* The latest such time at or before `now`. NULL when `at` does not parse. */
GDateTime *digest_previous_run(GDateTime *now, const char *at, GTimeZone *tz);
/* TRUE when a run time has passed since `last_sent` (NULL = never sent: due
 * once today's run time has passed). */
gboolean digest_due(GDateTime *last_sent, GDateTime *now, const char *at, GTimeZone *tz);
/* When the next digest goes, by the same rule as digest_due(): the run time
 * that is pending (at or before `now`) when one is due, else the next run
 * time after `now`; in `tz`. NULL when `at` does not parse. New reference. */
GDateTime *digest_next_due(GDateTime *last_sent, GDateTime *now, const char *at, GTimeZone *tz);
/* The same for `config` and the store (the last digest queued), in the VA's
 * zone ([keel] timezone). `*next` is NULL when `[digest] at` is unset;
 * `*last_sent` (may be NULL) receives the last digest's time or NULL.
 * FALSE only with `error` (a store failure). */
gboolean digest_schedule(Store *store, const KeelConfig *config, GDateTime *now,
                         GDateTime **next, GDateTime **last_sent, GError **error);

/* For the daemon loop: when `[digest] at` is set and a digest is due, gathers
 * it and queues it (unless it is empty and !options->send_empty). TRUE when a
 * digest was queued; FALSE with `error` unset when none was due or needed. */
gboolean digest_run_if_due(Store *store, const KeelConfig *config,
                           const DigestOptions *options, GDateTime *now, GError **error);

/* For the pipeline, after message `row_id` was stored, scored and its thread's
 * risk set (inside the ingest transaction or not): only for a client message
 * that is not automated, not history (first sync, import) and dated within
 * the day before `now`; when it is flagged `threat` or its thread's risk is at
 * least options->alert_threshold, and no alert went for this thread since
 * the VA's local midnight, queues a short alert (kind "alert"). `*outbox_id`
 * (may be NULL) receives the row or 0. FALSE only with `error`. */
gboolean digest_alert_for_message(Store *store, const KeelConfig *config,
                                  const DigestOptions *options, gint64 row_id,
                                  GDateTime *now, gint64 *outbox_id, GError **error);

/* Business hours (`hours`, in `zone`) between `from` and `to`; 0 when `to`
 * is not after `from`. Counts at most about 400 days. */
double digest_business_hours(GDateTime *from, GDateTime *to, const KeelBusinessHours *hours,
                             GTimeZone *zone);
/* `text` around the bytes [start, end) on one line, "…" where cut; NULL when
 * the offsets do not fit the text. New string. */
char *digest_context(const char *text, gint64 start, gint64 end);

/* Fills what the VA reads of each risky thread (digest-words.c): each
 * quote's `why` from `rules` (by its rule; NULL rules: none) and the thread's
 * risk in words. */
void digest_words_fill(Digest *digest, const RuleSet *rules);
/* A thread's risk in words: "high: a threat", "rising: second angry
 * message this week", "raised: payment trouble". New string. */
char *digest_risk_words(const DigestThread *thread);
