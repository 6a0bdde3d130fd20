/* daemon/ingest/sync-corrections.c: the correction folders, read each cycle.
 *
 * Each folder's last UID is kept in the folders table like any watched
 * folder's; a message above it is fetched (BODY.PEEK: never \Seen), parsed
 * and handed to corrections_apply() with the pipeline's rules, then the last
 * UID advances. A correction already recorded changes nothing, so reading a
 * message twice (a UIDVALIDITY change, a crash between the two steps) is
 * harmless. The message need not be stored: its text is what is learned.
 *
 * Must not: move, copy, flag or delete mail; hold the store lock while
 * talking to the server; log a message body.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "keel-imap"

#include "daemon/ingest/sync-corrections.h"
#include "daemon/record/corrections.h"
#include "daemon/store/store-learned.h"

typedef struct {
  const SyncContext *context;  /* borrowed */
  const KeelAccount *account;  /* borrowed */
  ImapSession *session;        /* borrowed */
  const char *folder;          /* borrowed */
  gboolean label;              /* TRUE: risky */
  gint64 folder_id;
  guint32 validity, last_uid;
} SyncCorrections;

/* The folder's stored state; a new UIDVALIDITY starts it over. */
static gboolean sync_corrections_state(SyncCorrections *job, guint32 validity, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  Store *store = job->context->store;
  job->folder_id = store_folder_ensure(store, job->account->name, job->folder, error);
  if (job->folder_id == 0 ||
      !store_folder_state(store, job->folder_id, &job->validity, &job->last_uid, error))
    return FALSE;
  if (job->validity == validity)
    return TRUE;
  job->last_uid = 0;
  return store_folder_reset(store, job->folder_id, validity, error);
}

/* Learns from one fetched message and advances the folder's last UID. */
static gboolean sync_corrections_learn(SyncCorrections *job, guint32 uid, GBytes *raw,
                                       GError **error)
{
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(KeelMessage) message = message_parse(g_bytes_get_data(raw, NULL),
                                                 g_bytes_get_size(raw), NULL, 0, &parse_error);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(job->context->store_lock);
  Store *store = job->context->store;
  if (message) {
    gint64 row_id = 0;
    g_autoptr(GBytes) stored = store_learned_message_raw(store, 0, message->message_id, &row_id,
                                                         NULL);
    g_autofree char *source = g_strdup_printf("folder %s", job->folder);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    CorrectionsOutcome outcome;
    double step = 0;
    if (!corrections_apply(store, pipeline_rules(job->context->pipeline), message, row_id,
                           LEARNED_RISKY, job->label, source, now, &outcome, &step, error))
      return FALSE;
    if (outcome == CORRECTIONS_APPLIED)
      g_message("account '%s' folder '%s': <%s> marked %s (learned_risky moved %+.2f)",
                job->account->name, job->folder, message->message_id,
                job->label ? "risky" : "fine", step);
  }
  return store_folder_advance(store, job->folder_id, uid, error);
}

/* Fetches every message above the last UID. */
static gboolean sync_corrections_fetch(SyncCorrections *job, guint32 exists, GError **error)
{
  for (guint32 first = 1; first <= exists; first += 100) {
    g_autoptr(GArray) infos = imap_folder_sizes(job->session, job->folder, first,
                                                MIN(exists, first + 99), error);
    if (!infos)
      return FALSE;
    for (guint i = 0; i < infos->len; i++) {
      const ImapMessageInfo *info = &g_array_index(infos, ImapMessageInfo, i);
      if (info->uid <= job->last_uid)
        continue;
      g_autoptr(GBytes) raw = imap_fetch_message(job->session, job->folder, info->uid,
                                                 job->context->config->max_message_size, error);
      if (!raw || !sync_corrections_learn(job, info->uid, raw, error))
        return FALSE;
      job->last_uid = info->uid;
    }
  }
  return TRUE;
}

/* One folder: created when missing, read when it holds anything new. */
static gboolean sync_corrections_folder(SyncCorrections *job, GError **error)
{
  ImapFolderStatus status;
  g_autoptr(GError) local = NULL;
  if (!imap_folder_status(job->session, job->folder, &status, &local)) {
    if (!g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    return imap_folder_create(job->session, job->folder, error);
  }
  if (!sync_corrections_state(job, status.uidvalidity, error))
    return FALSE;
  if (status.messages == 0 || (status.uidnext && status.uidnext - 1 <= job->last_uid))
    return TRUE;
  guint32 validity = 0, exists = 0;
  if (!imap_folder_examine(job->session, job->folder, &validity, &exists, error))
    return FALSE;
  return sync_corrections_fetch(job, exists, error);
}

gboolean sync_corrections(const SyncContext *context, const KeelAccount *account,
                          ImapSession *session, GError **error)
{
  const struct { const char *folder; gboolean label; } folders[] = {
    { account->risky_folder, TRUE }, { account->fine_folder, FALSE } };
  for (guint i = 0; i < G_N_ELEMENTS(folders); i++) {
    if (!folders[i].folder || !*folders[i].folder || !context->pipeline)
      continue;
    SyncCorrections job = { .context = context, .account = account, .session = session,
                            .folder = folders[i].folder, .label = folders[i].label };
    g_autoptr(GError) local = NULL;
    if (sync_corrections_folder(&job, &local))
      continue;
    if (!g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED)) {
      g_propagate_prefixed_error(error, g_steal_pointer(&local), "account '%s' folder '%s': ",
                                 account->name, job.folder);
      return FALSE;
    }
    g_warning("account '%s' folder '%s': %s", account->name, job.folder, local->message);
  }
  return TRUE;
}
