/* daemon/ingest/pipeline.h: what happens to one raw message, from bytes to a stored
 * row: parse (filters/message), find the client (config), store and thread it
 * (store), score it (daemon/verdict), record its instructions and plan a
 * confirmation (daemon/outbox), all in one transaction. The IMAP sync and
 * `keel import` both feed it. It never fetches mail, never sends any and never reads the clock
 * except for a NULL `received`.
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "filters/instructions.h"
#include "filters/message.h"
#include "filters/rules.h"

typedef struct Pipeline Pipeline;

/* `config` (may be NULL: no clients known, default size limit) and `store` are
 * borrowed and must outlive the pipeline. */
Pipeline *pipeline_new(const KeelConfig *config, Store *store);
void pipeline_free(Pipeline *pipeline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Pipeline, pipeline_free)

/* The rules that score each new message and extract its instructions (both
 * borrowed, may be NULL: stored without a verdict / without trail entries).
 * The daemon swaps them in after a successful reload. */
void pipeline_set_rules(Pipeline *pipeline, const RuleSet *rules,
                        const InstructionRules *instruction_rules);

/* Rules still loading (the daemon's start, on a thread of its own, issue 19):
 * before the first message's verdict, and in pipeline_rules(), the pipeline
 * calls `wait(data)` once, on the thread that needs the rules and with the
 * store lock held (as for every store call); `wait` must return only once it
 * has called pipeline_set_rules() (NULL rules when they did not load), which
 * also ends the wait. */
typedef void (*PipelineRulesWait)(gpointer data);
void pipeline_set_rules_pending(Pipeline *pipeline, PipelineRulesWait wait, gpointer data);

/* The config the pipeline was made with (never changes: may be read from
 * any thread, unlike the rest of the pipeline). */
const KeelConfig *pipeline_config(const Pipeline *pipeline);

/* The rules in force (NULL: none). Their learned models are the one part
 * that changes in place: corrections (daemon/ingest/sync-corrections.c) move
 * them, under the store lock. */
RuleSet *pipeline_rules(Pipeline *pipeline);

/* When on, a message whose From is the user of one of the config's accounts
 * is stored as 'out' whatever the origin template says (for `keel import`,
 * where a Maildir mixes sent and received mail). Off by default. */
void pipeline_set_direction_from_sender(Pipeline *pipeline, gboolean on);

/* Parses `raw` (size limit from the config), sets the client (the From
 * address for mail in, the first To for mail out; the template's client_id
 * when the config knows none) and stores it with store_add_message() in one
 * transaction (nested in the caller's when one is open). `origin_template`
 * gives folder, UID, direction and first_sync. `received` (may be NULL =
 * now) is the fallback Date and the stored arrival time.
 * Returns FALSE with `error` set when the bytes are not a message
 * (KEEL_MESSAGE_ERROR: skip it) or the store failed (KEEL_STORE_ERROR). On
 * success `*result` is STORE_ADDED or STORE_DUPLICATE and `*row_id` (may be
 * NULL) the message's row. */
gboolean pipeline_ingest(Pipeline *pipeline, const StoreOrigin *origin_template, GBytes *raw,
                         GDateTime *received, StoreAddResult *result, gint64 *row_id,
                         GError **error);

/* The two halves of pipeline_ingest(), for a caller that parses one message
 * while it stores another (daemon/ingest/sync.c, issue 19).
 * pipeline_parse() is the parse alone: it reads only `config` (may be NULL:
 * default limits), never the store or a Pipeline, so it may run on any
 * thread. Returns the message (caller owns it), or NULL with a
 * KEEL_MESSAGE_ERROR when the bytes are not a message. `received` as for
 * pipeline_ingest(). */
KeelMessage *pipeline_parse(const KeelConfig *config, GBytes *raw, GDateTime *received,
                            GError **error);

/* pipeline_ingest() of a `message` that pipeline_parse() made from `raw` with
 * the same `received`: the same rows as pipeline_ingest() would store. The
 * store half, under the store lock, in the order the messages arrived. */
gboolean pipeline_ingest_parsed(Pipeline *pipeline, const StoreOrigin *origin_template,
                                GBytes *raw, const KeelMessage *message, GDateTime *received,
                                StoreAddResult *result, gint64 *row_id, GError **error);
