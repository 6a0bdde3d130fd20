/* filters/promises.h: the VA's own word, read from the new text of a message
 * she sent: the promises she makes ("I'll send it over by Friday"), each with
 * its due time in the client's zone, and whether the message delivers work
 * ("done", "attached", "here it is") or gives an update. Also tells whether a
 * client's instruction asks for a file. Pure: rule text, the new text, the
 * message's Date and the client's calendar in; values out. No clock, no files.
 *
 * Entry points:
 *   promise_rules_compile()  rules/promises.rules + rules/deadlines.rules -> PromiseRules
 *   promises_read()          her new text + Date + calendar -> PromiseReading
 *   promises_asks_for_file() a client's instruction text -> TRUE when it asks for a file
 *   promises_to_json()       the reading as JSON members
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "filters/deadlines.h"

#define KEEL_PROMISE_ERROR (keel_promise_error_quark())
GQuark keel_promise_error_quark(void);
typedef enum {
  KEEL_PROMISE_ERROR_RULES /* a rule file is wrong: message is `file:line:col: ...` */
} KeelPromiseError;

typedef struct {
  char *text;                  /* owned: the sentence, trimmed */
  GDateTime *due;              /* owned, in the client's zone; NULL when no time was given */
  char *due_iso;               /* owned, "YYYY-MM-DDTHH:MM" local; NULL with due */
  DeadlinePrecision precision; /* how exactly she named the time */
} Promise;

void promise_free(Promise *promise);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Promise, promise_free)

typedef struct {
  GPtrArray *promises; /* owned, of Promise*, in text order */
  gboolean delivers;   /* says the work is done / attached / sent / booked / here */
  gboolean updates;    /* gives news on the work */
} PromiseReading;

void promise_reading_free(PromiseReading *reading);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PromiseReading, promise_reading_free)

typedef struct _PromiseRules PromiseRules;

/* Compiles the two rule files (`*_name` for error messages only). NULL with
 * `error` set to `file:line:col: message` on any mistake. */
PromiseRules *promise_rules_compile(const char *promises_text, const char *promises_name,
                                    const char *deadlines_text, const char *deadlines_name,
                                    GError **error);
void promise_rules_free(PromiseRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PromiseRules, promise_rules_free)

/* What her `new_text` (may be NULL) promises and says, due times resolved
 * against `sent` (the message's Date, any zone) in `ctx`'s zone. Never NULL;
 * the caller owns the result. */
PromiseReading *promises_read(const PromiseRules *rules, const char *new_text, GDateTime *sent,
                              const DeadlineContext *ctx);

/* TRUE when a client's instruction text asks for a file (`asks_file` rules). */
gboolean promises_asks_for_file(const PromiseRules *rules, const char *instruction_text);

/* Adds `"promises": [{"text", "due" (ISO local or null)}], "delivers", "updates"`
 * to the object `builder` has open. */
void promises_to_json(const PromiseReading *reading, JsonBuilder *builder);
