/* daemon/record/trail.h: the email trail, an append-only event log in which each
 * event carries the SHA-256 of the event before it and its own, so that an
 * edited, inserted or deleted row shows. keel never changes an event once
 * written; `keel trail verify` proves nobody else did.
 *
 * Entry points:
 *   trail_append()               one event, inside the caller's transaction
 *   trail_event_hash()           the hash of an event's canonical form (hex)
 *   trail_verify()               walks the chain and checks its seal; names the first bad event
 *   trail_pin_matches()          a head published earlier is still in the chain
 *   trail_record_instructions()  the instructions of one message, each an event
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "filters/instructions.h"

#define KEEL_TRAIL_ERROR (keel_trail_error_quark())
GQuark keel_trail_error_quark(void);
typedef enum {
  KEEL_TRAIL_ERROR_BROKEN,  /* the chain does not verify: message names the event */
  KEEL_TRAIL_ERROR_NOT_FOUND /* no such instruction */
} KeelTrailError;

/* The hash before the first event. */
#define TRAIL_GENESIS_HASH \
  "0000000000000000000000000000000000000000000000000000000000000000"

/* What to record; every pointer is borrowed. */
typedef struct {
  const char *kind;        /* instruction, note, confirmation_queued, ... */
  const char *client_id;   /* NULL = none */
  gint64 thread_id;        /* 0 = none */
  const char *message_id;  /* NULL = none */
  gint64 ref_id;           /* instruction or outbox id, 0 = none */
  const char *detail;      /* what happened, in words */
  GDateTime *at;           /* when (any zone; stored UTC to the second) */
} TrailEntry;

/* Appends `entry` after the newest event (in a transaction of its own, or
 * the caller's). `*event_id` (may be NULL) receives its id. */
gboolean trail_append(Store *store, const TrailEntry *entry, gint64 *event_id, GError **error);

/* Hex SHA-256 of `event`'s canonical serialisation (id, time, kind, client,
 * thread, Message-ID, reference, detail and prev_hash, each length-prefixed).
 * Ignores event->hash. Returns a new string. */
char *trail_event_hash(const StoreTrailEvent *event);

/* Checks every event in order: ids 1, 2, 3... without gaps, each prev_hash
 * equal to the hash of the event before, each hash equal to its recomputed
 * hash. Returns TRUE and `*count` (may be NULL) events when all hold, else
 * FALSE with KEEL_TRAIL_ERROR_BROKEN naming the first bad event and why
 * (or a store error). */
gboolean trail_verify(Store *store, gint64 *count, GError **error);

/* Whether event `id` is in the trail with hash `hash` (a head published
 * earlier, e.g. in a digest: "trail head 41 3fa2…"). FALSE with
 * KEEL_TRAIL_ERROR_BROKEN when it is not: the record was cut or rewritten. */
gboolean trail_pin_matches(Store *store, gint64 id, const char *hash, GError **error);

/* Where a message's instructions came from; borrowed pointers. */
typedef struct {
  gint64 message_row;      /* messages.id, 0 for a VA's note */
  const char *message_id;  /* NULL for a note */
  const char *client_id;
  gint64 thread_id;
  const char *from;        /* who gave them (address or "phone call"), for the detail */
  GDateTime *at;           /* when they were given */
} TrailSource;

/* Records each Instruction* of `instructions` (an instruction row plus an
 * `instruction` event), inside one transaction (or the caller's). Returns a
 * GArray of gint64 instruction ids in the same order (owned), NULL on error. */
GArray *trail_record_instructions(Store *store, const TrailSource *source,
                                  GPtrArray *instructions, GError **error);

/* Marks instruction `id` done or cancelled (`status`) and records the event. */
gboolean trail_instruction_set_status(Store *store, gint64 id, const char *status,
                                      GDateTime *now, GError **error);

/* Compiles instructions.rules and deadlines.rules of `rules_dir`. NULL with `error` (`file:line:col: message`). */
InstructionRules *trail_load_instruction_rules(const char *rules_dir, GError **error);

/* The calendar of `client` (may be NULL: the config's zone, UK dates) and
 * the config's business hours. `*zone` receives the time zone the context
 * borrows (owned by the caller; keep it alive while `ctx` is used). */
void trail_instruction_context(const KeelConfig *config, const KeelClient *client,
                               InstructionContext *ctx, GTimeZone **zone);
