/* daemon/ingest/sync.c: one poll cycle of one account. It compares each folder's
 * UIDVALIDITY and UIDNEXT with the store, lists the UIDs above the last one
 * stored with their sizes (windows of message numbers from the end), fetches
 * them and hands them to the pipeline in batches of up to 50 messages / 8 MB,
 * each batch one transaction that also advances the folder's last UID: a
 * crash before the commit means the batch is fetched again next cycle, and
 * Message-ID de-duplicates. The last UID never passes a fetched message that
 * is not committed yet.
 *
 * First sync. A folder whose UIDVALIDITY the store does not know is being
 * synced for the first time (or re-scanned after a UIDVALIDITY change): its
 * messages are stored with first_sync set, so nothing already in the mailbox
 * is ever answered. The store records the server's UIDVALIDITY only when
 * such a scan has completed (until then it holds 0), so a scan cut short by
 * a crash or a dead server goes on as a first sync next cycle. Known gap: if
 * UIDVALIDITY changes while such a scan is cut short, it resumes from the old
 * last UID (the store keeps no UIDVALIDITY for a scan in progress).
 *
 * Fetching in ranges (issue 19). libcurl can only fetch one message per
 * command. A folder with more than SYNC_RANGE_MIN new messages (by STATUS:
 * an initial sync, a big batch) is instead read on the cycle's raw
 * connection (daemon/mail/imap-raw.c, opened only then): EXAMINE, one
 * `UID FETCH last+1:* (UID RFC822.SIZE)`, then `UID FETCH a:b (UID
 * BODY.PEEK[])` per range of at most SYNC_RANGE_MESSAGES messages and
 * SYNC_RANGE_BYTES bytes. The ranges are fetched, and each message parsed,
 * on a thread of their own ("keel-fetch") while the cycle's thread stores the
 * messages in the order fetched (sync_ranges_overlapped): parsing is pure,
 * everything that reads or writes the store stays on this thread, so the rows
 * are those of a serial run (KEEL_SYNC_SERIAL=1 in the environment parses on
 * this thread instead; tests/integration/test-fetch.py compares the two).
 * Memory holds at most one batch plus SYNC_PIPE_MESSAGES / SYNC_PIPE_BYTES
 * waiting messages whatever the range; a hang-up in the middle of a range
 * keeps what was stored and the rest comes next cycle. A few new messages
 * keep the one-by-one path (no second login, no second thread).
 *
 * An unchanged folder costs one round trip (STATUS). Messages over
 * max_message_size are recorded by advancing the last UID, never downloaded
 * (in ranges: such a message ends the range before it). A folder whose
 * STATUS the server refuses fails only itself (a warning per cycle) and is
 * marked missing in the store until it answers again.
 * Must not: write to the mailbox, hold the store lock while talking to the
 * server, or log a message body or a password. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "keel-imap"

#include <string.h>
#include "daemon/base/crash.h"
#include "daemon/ingest/sync.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/imap-raw.h"
#include "daemon/mail/oauth.h"
#include "daemon/mail/folders.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/ingest/sync-corrections.h"
#include "daemon/ingest/sync-pipe.h"

/* Fetched messages are stored together, in one transaction, once there are
 * this many or this many bytes (one fsync per batch, not per message). */
#define SYNC_BATCH_MESSAGES 50u
#define SYNC_BATCH_BYTES (8u * 1024u * 1024u)

/* Message numbers per size request. libcurl 7.88 (with Debian's fix for
 * CVE-2023-38039) refuses a response whose lines count over 300 KB by its
 * reckoning, which measured 300-400 FETCH lines; 100 stays well clear. */
#define SYNC_WINDOW 100u

/* Fetching in ranges (issue 19): a folder with more new messages than
 * SYNC_RANGE_MIN is fetched on the cycle's raw connection with
 * `UID FETCH a:b (UID BODY.PEEK[])`, a range holding at most this many
 * messages and bytes (by RFC822.SIZE). Each message is stored (through the
 * batch above) as it arrives, so memory does not grow with the range. */
#define SYNC_RANGE_MIN 20u
#define SYNC_RANGE_MESSAGES 500u
#define SYNC_RANGE_BYTES (16u * 1024u * 1024u)

/* Ranges are fetched and parsed on a thread of their own while the cycle's
 * thread stores (see sync_ranges_overlapped): at most this many fetched
 * messages / raw bytes wait between the two, besides the batch. */
#define SYNC_PIPE_MESSAGES SYNC_BATCH_MESSAGES
#define SYNC_PIPE_BYTES SYNC_BATCH_BYTES

typedef struct {
  const SyncContext *context;  /* borrowed */
  const KeelAccount *account;  /* borrowed */
  ImapSession *session;        /* borrowed */
  ImapRaw *raw;                /* borrowed: the cycle's raw connection (ranges) */
  const char *folder;          /* borrowed */
  StoreDirection direction;
  gint64 folder_id;
  guint32 stored_validity;     /* 0: never completed a scan */
  guint32 last_uid;            /* highest UID handled */
  gboolean first_sync;
  SyncStats *stats;            /* borrowed */
  GPtrArray *batch;            /* owned, of SyncItem* (MESSAGE): fetched, not stored yet */
  gsize batch_bytes;
} SyncFolder;

static gboolean sync_folder_load(SyncFolder *job, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  Store *store = job->context->store;
  job->folder_id = store_folder_ensure(store, job->account->name, job->folder, error);
  if (job->folder_id == 0)
    return FALSE;
  return store_folder_state(store, job->folder_id, &job->stored_validity, &job->last_uid, error);
}

/* Decides whether this is a first sync; a UIDVALIDITY change starts the scan
 * over from UID 0 (the store's UIDVALIDITY goes back to 0 until it is done). */
static gboolean sync_folder_compare(SyncFolder *job, const ImapFolderStatus *status, GError **error)
{
  if (status->uidvalidity == job->stored_validity)
    return TRUE;
  job->first_sync = TRUE;
  if (job->stored_validity == 0)
    return TRUE; /* never synced, or a first scan cut short: go on from last_uid */
  g_message("account '%s' folder '%s': UIDVALIDITY changed from %u to %u: re-scanning "
            "(messages already stored are not stored again)", job->account->name, job->folder,
            job->stored_validity, status->uidvalidity);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  if (!store_folder_reset(job->context->store, job->folder_id, 0, error))
    return FALSE;
  job->last_uid = 0;
  return TRUE;
}

static gboolean sync_flush(SyncFolder *job, GError **error);

/* One more step done, for the daemon's watchdog (SyncContext.progress). */
static void sync_progress(const SyncFolder *job)
{
  if (job->context->progress)
    g_atomic_int_inc(job->context->progress);
}

/* Records `uid` as handled without a message. Stores the batch first: the
 * last UID must never pass a fetched message that is not committed yet. */
static gboolean sync_advance(SyncFolder *job, guint32 uid, GError **error)
{
  if (!sync_flush(job, error))
    return FALSE;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  if (!store_folder_advance(job->context->store, job->folder_id, uid, error))
    return FALSE;
  job->last_uid = MAX(job->last_uid, uid);
  return TRUE;
}

/* pipeline_ingest() of `item`, or the store half alone when the fetch
 * thread parsed it already (the same rows either way). */
static gboolean sync_pipeline(SyncFolder *job, const SyncItem *item, const StoreOrigin *origin,
                              StoreAddResult *result, gint64 *row_id, GError **error)
{
  if (item->error) {
    g_propagate_error(error, g_error_copy(item->error));
    return FALSE;
  }
  if (item->message)
    return pipeline_ingest_parsed(job->context->pipeline, origin, item->raw, item->message,
                                  origin->received, result, row_id, error);
  return pipeline_ingest(job->context->pipeline, origin, item->raw, origin->received, result,
                         row_id, error);
}

/* Parses and stores one message through the pipeline, inside the batch's
 * transaction (the caller holds the store lock). Bytes that are not a
 * message at all are recorded as handled and skipped with a warning. */
static gboolean sync_ingest_locked(SyncFolder *job, const SyncItem *item, GError **error)
{
  g_autoptr(GDateTime) received = item->received ? g_date_time_ref(item->received)
                                                 : g_date_time_new_now_utc();
  StoreOrigin origin = { .folder_id = job->folder_id, .uid = item->uid,
                         .direction = job->direction, .first_sync = job->first_sync,
                         .received = received };
  StoreAddResult result = STORE_ADDED;
  gint64 row_id = 0;
  g_autoptr(GError) ingest_error = NULL;
  if (!sync_pipeline(job, item, &origin, &result, &row_id, &ingest_error)) {
    if (ingest_error->domain != KEEL_MESSAGE_ERROR) {
      g_propagate_prefixed_error(error, g_steal_pointer(&ingest_error), "storing UID %u: ",
                                 item->uid);
      return FALSE;
    }
    g_warning("account '%s' folder '%s' UID %u: not a message, skipped: %s", job->account->name,
              job->folder, item->uid, ingest_error->message);
    job->stats->skipped++;
    return store_folder_advance(job->context->store, job->folder_id, item->uid, error);
  }
  if (result == STORE_DUPLICATE)
    job->stats->duplicates++;
  else
    job->stats->stored++;
  g_info("account '%s' folder '%s' UID %u: %s row %" G_GINT64_FORMAT, job->account->name,
         job->folder, item->uid, result == STORE_DUPLICATE ? "already stored as" : "stored as",
         row_id);
  return TRUE;
}

/* Stores the fetched batch in one transaction that also advances the
 * folder's last UID: all of it, or (after a crash) none of it. */
static gboolean sync_flush(SyncFolder *job, GError **error)
{
  if (job->batch->len == 0)
    return TRUE;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  Store *store = job->context->store;
  gboolean begun = store_begin(store, error), ok = begun;
  for (guint i = 0; ok && i < job->batch->len; i++)
    ok = sync_ingest_locked(job, g_ptr_array_index(job->batch, i), error);
  if (ok)
    ok = store_commit(store, error); /* rolls back itself when it fails */
  else if (begun)
    store_rollback(store);
  if (ok)
    keel_crash_point("after-store");
  sync_progress(job);
  if (ok)
    job->last_uid = MAX(job->last_uid,
                        ((SyncItem *)g_ptr_array_index(job->batch, job->batch->len - 1))->uid);
  g_ptr_array_set_size(job->batch, 0);
  job->batch_bytes = 0;
  return ok;
}

/* Adds `item` (a MESSAGE, taken) to the batch; stores the batch when full. */
static gboolean sync_queue_item(SyncFolder *job, SyncItem *item, GError **error)
{
  job->batch_bytes += g_bytes_get_size(item->raw);
  g_ptr_array_add(job->batch, item);
  if (job->batch->len < SYNC_BATCH_MESSAGES && job->batch_bytes < SYNC_BATCH_BYTES)
    return TRUE;
  return sync_flush(job, error);
}

/* A new MESSAGE item for `raw` (referenced), not parsed. */
static SyncItem *sync_item_new_message(guint32 uid, GBytes *raw)
{
  SyncItem *item = g_new0(SyncItem, 1);
  item->kind = SYNC_ITEM_MESSAGE;
  item->uid = uid;
  item->raw = g_bytes_ref(raw);
  return item;
}

static gboolean sync_cancelled(const SyncFolder *job, GError **error)
{
  GCancellable *cancellable = job->context->cancellable;
  if (!cancellable || !g_cancellable_is_cancelled(cancellable))
    return FALSE;
  mail_error_set(error, KEEL_MAIL_ERROR_CANCELLED, MAIL_SCOPE_CONNECTION, MAIL_RETRY_TEMPORARY,
                 "stopped: keel is shutting down");
  return TRUE;
}

/* After a failed fetch libcurl has dropped the connection: records `uid` as
 * handled and opens the folder read-only again. */
static gboolean sync_skip_and_reopen(SyncFolder *job, guint32 uid, GError **error)
{
  guint32 validity = 0;
  return sync_advance(job, uid, error)
         && imap_folder_examine(job->session, job->folder, &validity, NULL, error);
}

/* TRUE (with a warning) when `info` is over max_message_size: the caller
 * counts it as skipped and records it as handled, never downloaded. */
static gboolean sync_is_over_limit(SyncFolder *job, const ImapMessageInfo *info)
{
  gsize limit = job->context->config->max_message_size;
  if (!limit || info->size <= limit)
    return FALSE;
  g_warning("account '%s' folder '%s' UID %u: %" G_GUINT64_FORMAT " bytes, over max_message_size "
            "(%" G_GSIZE_FORMAT "): recorded, not downloaded", job->account->name, job->folder,
            info->uid, info->size, limit);
  return TRUE;
}

/* Fetches and stores one message; a vanished one is recorded as handled and
 * the folder re-opened read-only (libcurl dropped the connection). */
static gboolean sync_message(SyncFolder *job, const ImapMessageInfo *info, GError **error)
{
  sync_progress(job);
  gsize limit = job->context->config->max_message_size;
  if (sync_is_over_limit(job, info)) {
    job->stats->skipped++;
    return sync_advance(job, info->uid, error);
  }
  g_autoptr(GError) fetch_error = NULL;
  g_autoptr(GBytes) raw = imap_fetch_message(job->session, job->folder, info->uid,
                                             limit ? limit + 1 : 0, &fetch_error);
  if (raw) {
    keel_crash_point("after-fetch");
    return sync_queue_item(job, sync_item_new_message(info->uid, raw), error);
  }
  if (g_error_matches(fetch_error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_TOO_LARGE)) {
    g_warning("account '%s' folder '%s' UID %u: larger than its RFC822.SIZE said and over "
              "max_message_size: recorded, not stored", job->account->name, job->folder, info->uid);
    job->stats->skipped++;
    return sync_skip_and_reopen(job, info->uid, error);
  }
  if (!g_error_matches(fetch_error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_GONE)) {
    g_propagate_error(error, g_steal_pointer(&fetch_error));
    return FALSE;
  }
  g_info("account '%s' folder '%s' UID %u: expunged before it could be fetched",
         job->account->name, job->folder, info->uid);
  return sync_skip_and_reopen(job, info->uid, error);
}

static gint sync_info_compare(gconstpointer a, gconstpointer b)
{
  const ImapMessageInfo *x = a, *y = b;
  return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The messages above last_uid, by ascending UID. Asks for windows of
 * SYNC_WINDOW message numbers from the end of the folder backwards, and
 * stops at the first window that reaches a message already handled. */
static GArray *sync_new_messages(SyncFolder *job, guint32 exists, GError **error)
{
  g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(ImapMessageInfo));
  for (guint32 high = exists; high >= 1;) {
    guint32 low = high > SYNC_WINDOW ? high - SYNC_WINDOW + 1 : 1;
    g_autoptr(GArray) infos = imap_folder_sizes(job->session, job->folder, low, high, error);
    if (!infos)
      return NULL;
    gboolean reached_old = FALSE;
    for (guint i = 0; i < infos->len; i++) {
      const ImapMessageInfo *info = &g_array_index(infos, ImapMessageInfo, i);
      if (info->uid > job->last_uid)
        g_array_append_val(found, *info);
      else
        reached_old = TRUE;
    }
    if (reached_old || low == 1)
      break;
    high = low - 1;
  }
  g_array_sort(found, sync_info_compare);
  return g_steal_pointer(&found);
}

static gboolean sync_check_validity(const SyncFolder *job, const ImapFolderStatus *status,
                                    guint32 validity, GError **error)
{
  (void)job;
  if (validity == status->uidvalidity)
    return TRUE;
  return mail_error_set(error, KEEL_MAIL_ERROR_PROTOCOL, MAIL_SCOPE_FOLDER, MAIL_RETRY_TEMPORARY,
                        "UIDVALIDITY changed during the poll (%u, now %u)", status->uidvalidity,
                        validity);
}

/* Ends a folder's fetch by storing the batch; after a failure (`ok` FALSE)
 * what was fetched before it is still stored, and the failure returned. */
static gboolean sync_fetch_end(SyncFolder *job, gboolean ok, GError **error)
{
  if (ok)
    return sync_flush(job, error);
  g_autoptr(GError) flush_error = NULL;
  if (!sync_flush(job, &flush_error))
    g_warning("account '%s' folder '%s': %s", job->account->name, job->folder,
              flush_error->message);
  return FALSE;
}

/* One message at a time, over libcurl (a few new messages). */
static gboolean sync_folder_fetch(SyncFolder *job, const ImapFolderStatus *status, GError **error)
{
  guint32 validity = 0, exists = 0;
  if (!imap_folder_examine(job->session, job->folder, &validity, &exists, error)
      || !sync_check_validity(job, status, validity, error))
    return FALSE;
  g_autoptr(GArray) infos = sync_new_messages(job, exists, error);
  if (!infos)
    return FALSE;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < infos->len; i++)
    ok = !sync_cancelled(job, error)
         && sync_message(job, &g_array_index(infos, ImapMessageInfo, i), error);
  return sync_fetch_end(job, ok, error);
}

/* The fetch thread of a folder's ranges (sync_ranges_overlapped): it reads
 * only the job's context, account, folder and raw connection, never the
 * batch, the stats or the store. */
typedef struct {
  SyncFolder *job;     /* borrowed */
  const GArray *infos; /* borrowed: every message above last_uid, ascending */
  SyncPipe *pipe;      /* borrowed: to the storing thread */
  gboolean parse;      /* parse here; FALSE (KEEL_SYNC_SERIAL set): the storing thread does */
} SyncProducer;

/* Hands `item` (taken) to the storing thread; FALSE once it has given up. */
static gboolean sync_produce_item(SyncProducer *producer, SyncItem *item, GError **error)
{
  if (sync_pipe_push(producer->pipe, item))
    return TRUE;
  return mail_error_set(error, KEEL_MAIL_ERROR_CANCELLED, MAIL_SCOPE_CONNECTION,
                        MAIL_RETRY_TEMPORARY, "stopped: storing failed");
}

/* Hands `uid` on as skipped: recorded as handled, never stored. */
static gboolean sync_produce_skipped(SyncProducer *producer, guint32 uid, GError **error)
{
  SyncItem *skipped = g_new0(SyncItem, 1);
  skipped->kind = SYNC_ITEM_SKIPPED;
  skipped->uid = uid;
  return sync_produce_item(producer, skipped, error);
}

/* A message of a range as it arrives (imap_raw_fetch()'s callback): parsed
 * and handed on, or handed on as skipped when it was over max_message_size. */
static gboolean sync_range_message(guint32 uid, GBytes *raw, gpointer user_data, GError **error)
{
  SyncProducer *producer = user_data;
  SyncFolder *job = producer->job;
  sync_progress(job); /* a message arrived: the watchdog sees the range move */
  if (!raw) {
    g_warning("account '%s' folder '%s' UID %u: larger than its RFC822.SIZE said and over "
              "max_message_size: recorded, not stored", job->account->name, job->folder, uid);
    return sync_produce_skipped(producer, uid, error);
  }
  keel_crash_point("after-fetch");
  SyncItem *item = sync_item_new_message(uid, raw);
  item->received = g_date_time_new_now_utc();
  if (producer->parse)
    item->message = pipeline_parse(pipeline_config(job->context->pipeline), raw,
                                   item->received, &item->error);
  return sync_produce_item(producer, item, error);
}

typedef struct {
  guint32 first, last; /* UIDs: every message listed between them is in the range */
  guint count;
  guint64 bytes;       /* by RFC822.SIZE */
} SyncRange;

/* Fetches `range` (if not empty) and empties it. */
static gboolean sync_range_fetch(SyncProducer *producer, SyncRange *range, GError **error)
{
  if (range->count == 0)
    return TRUE;
  SyncFolder *job = producer->job;
  gsize limit = job->context->config->max_message_size;
  gboolean ok = !sync_cancelled(job, error)
                && imap_raw_fetch(job->raw, range->first, range->last, limit, sync_range_message,
                                  producer, error);
  *range = (SyncRange){ 0 };
  return ok;
}

/* Fetches what comes before a message over the size limit, then hands the
 * message on as skipped (recorded as handled, never downloaded). */
static gboolean sync_range_skip(SyncProducer *producer, SyncRange *range, guint32 uid,
                                GError **error)
{
  return sync_range_fetch(producer, range, error)
         && sync_produce_skipped(producer, uid, error);
}

/* Cuts the infos into ranges of at most SYNC_RANGE_MESSAGES /
 * SYNC_RANGE_BYTES and fetches them; a message over the size limit ends a
 * range. */
static gboolean sync_ranges(SyncProducer *producer, GError **error)
{
  SyncRange range = { 0 };
  for (guint i = 0; i < producer->infos->len; i++) {
    const ImapMessageInfo *info = &g_array_index(producer->infos, ImapMessageInfo, i);
    gboolean full = range.count >= SYNC_RANGE_MESSAGES
                    || range.bytes + info->size > SYNC_RANGE_BYTES;
    if (full && !sync_range_fetch(producer, &range, error))
      return FALSE;
    if (sync_is_over_limit(producer->job, info)) {
      if (!sync_range_skip(producer, &range, info->uid, error))
        return FALSE;
      continue;
    }
    if (range.count++ == 0)
      range.first = info->uid;
    range.last = info->uid;
    range.bytes += info->size;
  }
  return sync_range_fetch(producer, &range, error);
}

/* The fetch thread: every range, then an END item with the outcome. */
static gpointer sync_produce(gpointer data)
{
  SyncProducer *producer = data;
  SyncItem *end = g_new0(SyncItem, 1);
  end->kind = SYNC_ITEM_END;
  sync_ranges(producer, &end->error);
  sync_pipe_push(producer->pipe, end);
  return NULL;
}

/* The storing side: each item in the order fetched, until END. */
static gboolean sync_consume(SyncFolder *job, SyncPipe *pipe, GError **error)
{
  for (;;) {
    g_autoptr(SyncItem) item = sync_pipe_pop(pipe);
    if (item->kind == SYNC_ITEM_END) {
      if (!item->error)
        return TRUE;
      g_propagate_error(error, g_steal_pointer(&item->error));
      return FALSE;
    }
    if (item->kind == SYNC_ITEM_SKIPPED) {
      job->stats->skipped++;
      if (!sync_advance(job, item->uid, error))
        return FALSE;
      continue;
    }
    if (!sync_queue_item(job, g_steal_pointer(&item), error))
      return FALSE;
  }
}

/* The ranges, fetched and parsed on a thread of their own while this one
 * stores (issue 19): parsing is pure (pipeline_parse), so the two halves of
 * the work use the machine's two cores, and everything that reads or writes
 * the store (threading, history, scores, trail) still runs here, one message
 * after the other in UID order: the rows are those of a serial run. A
 * failure on either side stops both; what was stored stays stored. */
static gboolean sync_ranges_overlapped(SyncFolder *job, const GArray *infos, GError **error)
{
  g_autoptr(SyncPipe) pipe = sync_pipe_new(SYNC_PIPE_MESSAGES, SYNC_PIPE_BYTES);
  SyncProducer producer = { .job = job, .infos = infos, .pipe = pipe,
                            .parse = g_getenv("KEEL_SYNC_SERIAL") == NULL };
  GThread *thread = g_thread_try_new("keel-fetch", sync_produce, &producer, error);
  if (!thread)
    return FALSE;
  gboolean ok = sync_consume(job, pipe, error);
  if (!ok)
    sync_pipe_close(pipe); /* the fetch thread stops at its next message */
  g_thread_join(thread);
  return ok;
}

/* Many new messages, in ranges over the raw connection (issue 19). */
static gboolean sync_folder_fetch_ranges(SyncFolder *job, const ImapFolderStatus *status,
                                         GError **error)
{
  guint32 validity = 0;
  if (!imap_raw_examine(job->raw, job->folder, &validity, NULL, error)
      || !sync_check_validity(job, status, validity, error))
    return FALSE;
  g_autoptr(GArray) infos = imap_raw_sizes(job->raw, job->last_uid + 1, error);
  if (!infos)
    return FALSE;
  return sync_fetch_end(job, sync_ranges_overlapped(job, infos, error), error);
}

/* More than SYNC_RANGE_MIN messages may be new (by STATUS). */
static gboolean sync_range_wanted(const SyncFolder *job, const ImapFolderStatus *status)
{
  guint32 above = status->uidnext > job->last_uid ? status->uidnext - 1 - job->last_uid : 0;
  return job->raw && MIN(above, status->messages) > SYNC_RANGE_MIN;
}

/* Every UID below UIDNEXT is now handled. A completed first scan records the
 * server's UIDVALIDITY and the last UID in one transaction. */
static gboolean sync_folder_finish(SyncFolder *job, const ImapFolderStatus *status, GError **error)
{
  guint32 highest = MAX(job->last_uid, status->uidnext > 0 ? status->uidnext - 1 : 0);
  if (!job->first_sync)
    return highest == job->last_uid || sync_advance(job, highest, error);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  Store *store = job->context->store;
  if (!store_begin(store, error))
    return FALSE;
  if (!store_folder_reset(store, job->folder_id, status->uidvalidity, error)
      || !store_folder_advance(store, job->folder_id, highest, error)
      || !store_commit(store, error)) {
    store_rollback(store);
    return FALSE;
  }
  job->last_uid = highest;
  return TRUE;
}

/* Records whether the server knows the folder (issue 19: `keel status` lists
 * the missing ones): a STATUS it refused (NO/BAD, or a name keel cannot send)
 * marks it missing; one it answered clears the mark. A network failure says
 * nothing about the folder. */
static void sync_folder_mark(SyncFolder *job, const GError *refusal)
{
  if (refusal && !g_error_matches(refusal, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED)
      && !g_error_matches(refusal, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_CONFIG))
    return;
  g_autoptr(GDateTime) now = refusal ? g_date_time_new_now_utc() : NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  if (!store_folder_set_missing(job->context->store, job->folder_id, now, &error))
    g_warning("account '%s' folder '%s': %s", job->account->name, job->folder, error->message);
}

static gboolean sync_folder(SyncFolder *job, GError **error)
{
  ImapFolderStatus status = { 0 };
  if (!sync_folder_load(job, error))
    return FALSE;
  g_autoptr(GError) refusal = NULL;
  gboolean answered = imap_folder_status(job->session, job->folder, &status, &refusal);
  sync_folder_mark(job, refusal);
  if (!answered) {
    g_propagate_error(error, g_steal_pointer(&refusal));
    return FALSE;
  }
  if (!sync_folder_compare(job, &status, error))
    return FALSE;
  job->stats->folders++;
  sync_progress(job);
  if (!job->first_sync && status.uidnext <= job->last_uid + 1)
    return TRUE; /* unchanged: STATUS was the only round trip */
  gboolean ranges = sync_range_wanted(job, &status);
  if (status.messages > 0 && !(ranges ? sync_folder_fetch_ranges(job, &status, error)
                                      : sync_folder_fetch(job, &status, error)))
    return FALSE;
  return sync_folder_finish(job, &status, error);
}

/* The folders to poll: the watched ones, then the Sent folder (direction
 * out) unless it is watched already. */
static GPtrArray *sync_folder_list(const KeelAccount *account)
{
  GPtrArray *folders = g_ptr_array_new();
  for (char **f = account->folders; f && *f; f++)
    g_ptr_array_add(folders, *f);
  const char *sent = folders_sent(account);
  if (sent && *sent
      && !(account->folders && g_strv_contains((const char *const *)account->folders, sent)))
    g_ptr_array_add(folders, (gpointer)sent);
  return folders;
}

gboolean sync_error_is_folder_only(const GError *error)
{
  return error && error->domain == KEEL_MAIL_ERROR
         && error->code != KEEL_MAIL_ERROR_CANCELLED
         && mail_error_scope(error) <= MAIL_SCOPE_FOLDER;
}

static gboolean sync_account_folders(const SyncContext *context, const KeelAccount *account,
                                     ImapSession *session, ImapRaw *raw, SyncStats *stats,
                                     GError **error)
{
  g_autoptr(GPtrArray) folders = sync_folder_list(account);
  for (guint i = 0; i < folders->len; i++) {
    const char *name = g_ptr_array_index(folders, i);
    g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func((GDestroyNotify)sync_item_free);
    SyncFolder job = { .context = context, .account = account, .session = session, .raw = raw,
                       .folder = name, .stats = stats, .batch = batch };
    job.direction = g_strcmp0(name, folders_sent(account)) == 0 ? STORE_DIRECTION_OUT
                                                                 : STORE_DIRECTION_IN;
    g_autoptr(GError) folder_error = NULL;
    if (sync_folder(&job, &folder_error))
      continue;
    g_prefix_error(&folder_error, "account '%s' folder '%s': ", account->name, name);
    gboolean ends = !sync_error_is_folder_only(folder_error);
    if (!*error)
      *error = g_steal_pointer(&folder_error);
    else
      g_warning("%s", folder_error->message);
    if (ends)
      break;
  }
  if (*error == NULL)
    sync_corrections(context, account, session, error);
  return *error == NULL;
}

static void sync_record_poll(const SyncContext *context, const KeelAccount *account,
                             const GError *failure)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  g_autoptr(GError) error = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(context->store_lock);
  if (!store_account_record_poll(context->store, account->name, now,
                                 failure ? failure->message : NULL, &error))
    g_warning("account '%s': cannot record the poll: %s", account->name, error->message);
}

gboolean sync_account(const SyncContext *context, const KeelAccount *account, SyncStats *stats,
                      GError **error)
{
  g_autoptr(GError) failure = NULL;
  memset(stats, 0, sizeof *stats);
  char *password = oauth_account_secret(account, &failure); /* or an OAuth2 token */
  if (password) {
    g_autoptr(ImapSession) session = imap_session_new(account, password, context->cancellable,
                                                      &failure);
    /* connects only when a folder has many new messages (issue 19: ranges) */
    g_autoptr(ImapRaw) raw = session ? imap_raw_new(account, password, context->cancellable,
                                                    'F', &failure) : NULL;
    memset(password, 0, strlen(password));
    g_free(password);
    if (raw && folders_resolve(account, session, &failure)) { /* issue 19: Sent/Drafts */
      sync_account_folders(context, account, session, raw, stats, &failure);
      stats->commands = imap_session_commands(session) + imap_raw_commands(raw);
    }
  }
  if (failure && !g_str_has_prefix(failure->message, "account '"))
    g_prefix_error(&failure, "account '%s': ", account->name);
  if (!g_error_matches(failure, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_CANCELLED))
    sync_record_poll(context, account, failure);
  if (!failure)
    return TRUE;
  g_propagate_error(error, g_steal_pointer(&failure));
  return FALSE;
}

guint sync_backoff_seconds(guint failures, gboolean login_denied, guint poll_interval)
{
  const guint base = 30, cap = 30 * 60;
  guint delay = cap;
  if (!login_denied && failures < 7)
    delay = MIN(cap, base << (failures > 0 ? failures - 1 : 0));
  double jitter = g_random_double_range(0.9, 1.1);
  return MAX((guint)(delay * jitter), poll_interval);
}
