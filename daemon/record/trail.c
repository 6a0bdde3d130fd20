/* daemon/record/trail.c: the hash-chained event log behind `keel trail`.
 *
 * How the chain works. Event N is serialised canonically: a version tag, then
 * id, time (Unix seconds), kind, client, thread, Message-ID, reference id,
 * detail and the previous event's hash, each written as `name=LENGTH:VALUE\n`
 * (a length prefix, so no value can pose as another field). Its hash is the
 * hex SHA-256 (GChecksum) of that text. Event 1's previous hash is 64 zeros.
 * trail_verify() recomputes every hash in id order:
 *   - an edited row no longer matches its own hash;
 *   - a deleted row leaves a gap in the ids, and the next row's prev_hash no
 *     longer matches;
 *   - an inserted row has a prev_hash or an id that does not fit.
 * Whoever can rewrite the whole file can recompute the whole chain: the hash
 * printed by `keel trail verify` is what to keep elsewhere (e.g. in a digest)
 * to pin the trail at a moment.
 *
 * Must not: update or delete an event; log message text.
 */
#include <string.h>
#include "daemon/record/trail.h"

G_DEFINE_QUARK(keel-trail-error-quark, keel_trail_error)

#define TRAIL_FORMAT_TAG "keel-trail-1\n"

static void trail_field(GString *out, const char *name, const char *value)
{
  const char *text = value ? value : "";
  g_string_append_printf(out, "%s=%zu:%s\n", name, strlen(text), text);
}

static void trail_field_int(GString *out, const char *name, gint64 value)
{
  g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, value);
  trail_field(out, name, text);
}

char *trail_event_hash(const StoreTrailEvent *event)
{
  g_autoptr(GString) text = g_string_new(TRAIL_FORMAT_TAG);
  trail_field_int(text, "id", event->id);
  trail_field_int(text, "at", event->at ? g_date_time_to_unix(event->at) : 0);
  trail_field(text, "kind", event->kind);
  trail_field(text, "client", event->client_id);
  trail_field_int(text, "thread", event->thread_id);
  trail_field(text, "message", event->message_id);
  trail_field_int(text, "ref", event->ref_id);
  trail_field(text, "detail", event->detail);
  trail_field(text, "prev", event->prev_hash);
  return g_compute_checksum_for_string(G_CHECKSUM_SHA256, text->str, (gssize)text->len);
}

/* Builds, hashes and inserts the event that follows the current head. */
static gboolean trail_insert_next(Store *store, const TrailEntry *entry, gint64 *event_id,
                                  GError **error)
{
  gint64 head_id = 0;
  g_autofree char *head_hash = NULL;
  if (!store_trail_head(store, &head_id, &head_hash, error))
    return FALSE;
  g_autoptr(StoreTrailEvent) event = g_new0(StoreTrailEvent, 1);
  event->id = head_id + 1;
  event->at = g_date_time_new_from_unix_utc(g_date_time_to_unix(entry->at));
  event->kind = g_strdup(entry->kind);
  event->client_id = g_strdup(entry->client_id);
  event->thread_id = entry->thread_id;
  event->message_id = g_strdup(entry->message_id);
  event->ref_id = entry->ref_id;
  event->detail = g_strdup(entry->detail ? entry->detail : "");
  event->prev_hash = g_strdup(head_hash ? head_hash : TRAIL_GENESIS_HASH);
  event->hash = trail_event_hash(event);
  if (!store_trail_insert(store, event, error)
      || !store_trail_seal(store, event->id, event->hash, error))
    return FALSE;
  if (event_id)
    *event_id = event->id;
  return TRUE;
}

gboolean trail_append(Store *store, const TrailEntry *entry, gint64 *event_id, GError **error)
{
  if (!store_begin(store, error))
    return FALSE;
  if (!trail_insert_next(store, entry, event_id, error)) {
    store_rollback(store);
    g_prefix_error(error, "recording '%s' in the trail: ", entry->kind);
    return FALSE;
  }
  return store_commit(store, error);
}

/* Why `event` does not follow an event with id `prev_id` and hash
 * `prev_hash`; NULL when it does. Returns a new string. */
static char *trail_check_event(const StoreTrailEvent *event, gint64 prev_id,
                               const char *prev_hash)
{
  if (event->id != prev_id + 1)
    return g_strdup_printf("event %" G_GINT64_FORMAT " follows event %" G_GINT64_FORMAT
                           ": events %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
                           " were deleted, or this one was inserted",
                           event->id, prev_id, prev_id + 1, event->id - 1);
  if (g_strcmp0(event->prev_hash, prev_hash) != 0)
    return g_strdup_printf("event %" G_GINT64_FORMAT " (%s): its link to event %"
                           G_GINT64_FORMAT " does not match: an event before it was changed, "
                           "removed or inserted", event->id, event->kind, prev_id);
  g_autofree char *hash = trail_event_hash(event);
  if (g_strcmp0(hash, event->hash) != 0)
    return g_strdup_printf("event %" G_GINT64_FORMAT " (%s): its content does not match its "
                           "hash: it was edited after it was written", event->id, event->kind);
  return NULL;
}

/* The chain ends at event `last_id` with `last_hash`: does the seal written
 * with the newest event agree? FALSE with KEEL_TRAIL_ERROR_BROKEN if the
 * newest events were removed (or the seal was tampered with). */
static gboolean trail_check_seal(Store *store, gint64 last_id, const char *last_hash,
                                 GError **error)
{
  gint64 sealed = 0;
  g_autofree char *sealed_hash = NULL;
  if (!store_trail_sealed(store, &sealed, &sealed_hash, error))
    return FALSE;
  if (sealed == last_id && (sealed == 0 || g_strcmp0(sealed_hash, last_hash) == 0))
    return TRUE;
  if (sealed > last_id)
    g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN,
                "trail broken at the end: it stops at event %" G_GINT64_FORMAT " but was sealed "
                "at event %" G_GINT64_FORMAT ": the newest events were deleted",
                last_id, sealed);
  else
    g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN,
                "trail broken at the end: its head (event %" G_GINT64_FORMAT ") does not match "
                "the seal (event %" G_GINT64_FORMAT "): events were added or the seal edited "
                "outside keel", last_id, sealed);
  return FALSE;
}

gboolean trail_pin_matches(Store *store, gint64 id, const char *hash, GError **error)
{
  g_autoptr(GPtrArray) events = store_trail_list(store, NULL, NULL, error);
  if (!events)
    return FALSE;
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    if (event->id == id && g_ascii_strcasecmp(event->hash, hash) == 0)
      return TRUE;
    if (event->id == id)
      break;
  }
  g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN,
              "the trail does not hold event %" G_GINT64_FORMAT " with hash %.12s…, which "
              "was published as its head: events up to it were removed or changed", id, hash);
  return FALSE;
}

gboolean trail_verify(Store *store, gint64 *count, GError **error)
{
  g_autoptr(GPtrArray) events = store_trail_list(store, NULL, NULL, error);
  if (!events)
    return FALSE;
  gint64 prev_id = 0;
  const char *prev_hash = TRAIL_GENESIS_HASH;
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    g_autofree char *why = trail_check_event(event, prev_id, prev_hash);
    if (why) {
      g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN, "trail broken at %s", why);
      return FALSE;
    }
    prev_id = event->id;
    prev_hash = event->hash;
  }
  if (!trail_check_seal(store, prev_id, prev_hash, error))
    return FALSE;
  if (count)
    *count = events->len;
  return TRUE;
}

/* The instruction row and its event, for one Instruction. 0 on error. */
static gint64 trail_record_one(Store *store, const TrailSource *source,
                               const Instruction *instruction, GError **error)
{
  StoreInstructionRow row = {
    .message_row = source->message_row, .message_id = (char *)source->message_id,
    .client_id = (char *)source->client_id, .thread_id = source->thread_id,
    .text = instruction->text, .deadline = instruction->deadline_iso,
    .urgency = instruction->urgency_hint, .created = source->at,
  };
  gint64 id = store_instruction_add(store, &row, error);
  if (id == 0)
    return 0;
  /* The deadline with its offset (2026-03-06T17:00+00:00), so that an export
   * read in another zone, or after a clock change, says the same moment. */
  g_autofree char *when = instruction->deadline
    ? g_date_time_format(instruction->deadline, "%Y-%m-%dT%H:%M%:z") : NULL;
  g_autofree char *detail = g_strdup_printf("%s asked: %s (deadline: %s)",
                                            source->from ? source->from : "the client",
                                            instruction->text,
                                            when ? when
                                              : instruction->urgency_hint ? "ASAP" : "none");
  TrailEntry entry = { .kind = "instruction", .client_id = source->client_id,
                       .thread_id = source->thread_id, .message_id = source->message_id,
                       .ref_id = id, .detail = detail, .at = source->at };
  return trail_insert_next(store, &entry, NULL, error) ? id : 0;
}

GArray *trail_record_instructions(Store *store, const TrailSource *source,
                                  GPtrArray *instructions, GError **error)
{
  g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  if (!store_begin(store, error))
    return NULL;
  for (guint i = 0; instructions && i < instructions->len; i++) {
    gint64 id = trail_record_one(store, source, instructions->pdata[i], error);
    if (id == 0) {
      store_rollback(store);
      g_prefix_error(error, "recording instructions: ");
      return NULL;
    }
    g_array_append_val(ids, id);
  }
  return store_commit(store, error) ? g_steal_pointer(&ids) : NULL;
}

/* Inside a transaction: checks the row exists, changes it, records it. */
static gboolean trail_set_status_locked(Store *store, gint64 id, const char *status,
                                        GDateTime *now, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(StoreInstructionRow) row = store_instruction_get(store, id, &local);
  if (!row) {
    if (local)
      g_propagate_error(error, g_steal_pointer(&local));
    else
      g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND,
                  "no instruction %" G_GINT64_FORMAT " (see `keel trail`)", id);
    return FALSE;
  }
  if (!store_instruction_set_status(store, id, status, error))
    return FALSE;
  g_autofree char *detail = g_strdup_printf("instruction %" G_GINT64_FORMAT " marked %s "
                                            "(was %s): %s", id, status, row->status, row->text);
  g_autofree char *kind = g_strconcat("instruction_", status, NULL);
  TrailEntry entry = { .kind = kind, .client_id = row->client_id, .thread_id = row->thread_id,
                       .message_id = row->message_id, .ref_id = id, .detail = detail,
                       .at = now };
  return trail_insert_next(store, &entry, NULL, error);
}

gboolean trail_instruction_set_status(Store *store, gint64 id, const char *status,
                                      GDateTime *now, GError **error)
{
  if (!store_begin(store, error))
    return FALSE;
  if (!trail_set_status_locked(store, id, status, now, error)) {
    store_rollback(store);
    return FALSE;
  }
  return store_commit(store, error);
}

InstructionRules *trail_load_instruction_rules(const char *rules_dir, GError **error)
{
  g_autofree char *ipath = g_build_filename(rules_dir, "instructions.rules", NULL);
  g_autofree char *dpath = g_build_filename(rules_dir, "deadlines.rules", NULL);
  g_autofree char *itext = NULL, *dtext = NULL;
  if (!g_file_get_contents(ipath, &itext, NULL, error)
      || !g_file_get_contents(dpath, &dtext, NULL, error))
    return NULL;
  return instruction_rules_compile(itext, ipath, dtext, dpath, error);
}

void trail_instruction_context(const KeelConfig *config, const KeelClient *client,
                               InstructionContext *ctx, GTimeZone **zone)
{
  instruction_context_init(ctx);
  const char *zone_name = client && client->timezone ? client->timezone : config->timezone;
  *zone = g_time_zone_new_identifier(zone_name ? zone_name : "UTC");
  if (!*zone)
    *zone = g_time_zone_new_utc();
  ctx->dates.timezone = *zone;
  ctx->dates.month_first = client && client->date_order == KEEL_DATE_ORDER_US;
  ctx->dates.business_start_min = (int)config->business_hours.start_min;
  ctx->dates.business_end_min = (int)config->business_hours.end_min;
}
