/* daemon/record/word.h: keeping the VA's word. Reads the mail she sends for
 * her promises (filters/promises.c) and records each in the store and the
 * trail with its due time; closes her earlier promises in a thread when a
 * later message of hers there delivers or updates; marks a client's
 * instructions *probably done* when her later reply says so (or carries an
 * attachment right after a request for a file); and changes those marks for
 * `keel instruction done|cancel|reopen` and `keel thread handled`.
 *
 * Entry points:
 *   word_load_rules()        rules/promises.rules + rules/deadlines.rules of a rules dir
 *   word_after_message()     one stored message (inside the caller's transaction)
 *   word_instruction_set()   done / cancelled / reopened by the VA, with its event
 *   word_thread_handled()    a thread out of the digest until new client mail
 *   word_history_listed()    whether an item from history is still shown
 *   word_format_when()       a date as the digest and the CLI show it (year when not this year)
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/store/store-word.h"
#include "filters/message.h"
#include "filters/promises.h"

/* Compiles promises.rules and deadlines.rules of `rules_dir`. NULL with
 * `error` (`file:line:col: message`). */
PromiseRules *word_load_rules(const char *rules_dir, GError **error);

/* One newly stored message; every pointer borrowed. */
typedef struct {
  const KeelConfig *config;   /* may be NULL: nothing is done */
  const KeelClient *client;   /* NULL: not a client's thread, nothing is done */
  const KeelMessage *message;
  const PromiseRules *rules;  /* NULL: nothing is done */
  gint64 row_id;
  gint64 thread_id;
  gboolean outgoing;          /* her mail; mail in changes nothing here */
  gboolean first_sync;        /* stored as history: recorded, flagged history */
} WordMessage;

/* For her mail: closes her open promises of the thread (kept when it
 * delivers, updated when it updates or promises again), marks the thread's
 * open instructions probably done when it delivers (or carries an attachment
 * and the instruction asks for a file), and records its promises; each with
 * a trail event. Inside the caller's transaction (or its own). */
gboolean word_after_message(Store *store, const WordMessage *in, GError **error);

/* The VA's word on instruction `id`: "done", "cancelled" or "open" (reopen:
 * status open and the probably-done mark cleared). `*text` (may be NULL)
 * receives the task text (owned). One transaction, one trail event. */
gboolean word_instruction_set(Store *store, gint64 id, const char *status, GDateTime *now,
                              char **text, GError **error);

/* Marks thread `thread_id` handled at `now`, until `until` at the latest
 * (NULL: until new client mail), with a `thread_handled` trail event.
 * FALSE with KEEL_TRAIL_ERROR_NOT_FOUND when there is no such thread. */
gboolean word_thread_handled(Store *store, gint64 thread_id, GDateTime *now, GDateTime *until,
                             GError **error);

/* Whether an item from mail dated `date` is listed as due, overdue or
 * waiting at `now`: always unless it came from history (`history`), then only
 * when `date` is within `window_days` of `now`. */
gboolean word_history_listed(gboolean history, GDateTime *date, GDateTime *now,
                             guint window_days);

/* "Fri 6 Mar 17:00", with the year ("Fri 6 Mar 2025 17:00") when `when` is
 * not in `now`'s year; in `when`'s zone. New string; "?" for NULL. */
char *word_format_when(GDateTime *when, GDateTime *now);

/* A stored "YYYY-MM-DDTHH:MM" local deadline shown the same way (the text as
 * stored when it does not parse). New string. */
char *word_format_deadline(const char *deadline, GDateTime *now);
