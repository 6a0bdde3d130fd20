/* daemon/store/store.h: keel's state, every byte of it, in one SQLite file (WAL,
 * foreign keys on, schema migrated by PRAGMA user_version). Every SQLite
 * failure becomes a GError in exactly one place (store.c).
 *
 * Entry points:
 *   store_open()            open/create + migrate
 *   store_folder_*()        per-folder sync state (UIDVALIDITY, last UID)
 *   store_add_message()     one message + its thread + folder last UID, one transaction
 *   store_save_verdict()    rule scores of a message (called inside the same transaction)
 *   store_list_threads()    rows for `keel threads`
 *   store_account_*()       per-account poll status for `keel status`
 *
 * A Store is one SQLite connection. Its open transaction belongs to the
 * connection, not to a thread: callers that share a Store between threads
 * must hold their own lock around each begin..commit (the connection itself
 * is opened serialized, so single calls are safe).
 */
#pragma once

#include <glib.h>
#include "filters/message.h"

#define KEEL_STORE_ERROR (keel_store_error_quark())
GQuark keel_store_error_quark(void);
typedef enum {
  KEEL_STORE_ERROR_OPEN,    /* cannot open or create the database file */
  KEEL_STORE_ERROR_SCHEMA,  /* newer schema than this keel, or a migration failed */
  KEEL_STORE_ERROR_BUSY,    /* locked by another process: temporary */
  KEEL_STORE_ERROR_FAILED   /* any other SQLite failure */
} KeelStoreError;

typedef struct Store Store;

/* Opens (creating it 0600 when missing) and migrates the database at `path`.
 * The file and its -wal, -shm and -journal files end up 0600 whatever the
 * umask. NULL with `error` set on failure. */
Store *store_open(const char *path, GError **error);
/* Narrows `path` and its -wal, -shm and -journal files to 0600 where they
 * exist and are wider (for any copy or backup of the database, too). */
gboolean store_secure_files(const char *path, GError **error);
void store_close(Store *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_close)
int store_schema_version(Store *store);
/* The schema version this keel migrates to (the newest it knows). */
int store_schema_latest(void);

/* A consistent copy of the store at `path` (SQLite's online backup API, safe
 * while the daemon runs), created 0600 and renamed into place when whole.
 * KEEL_STORE_ERROR_OPEN when it cannot be written. store-backup.c. */
gboolean store_backup(Store *store, const char *path, GError **error);

/* Transactions. store_add_message() opens its own unless one is open. */
gboolean store_begin(Store *store, GError **error);
gboolean store_commit(Store *store, GError **error);
void store_rollback(Store *store);

/* Folder sync state. A folder is (account, name). */
gint64 store_folder_ensure(Store *store, const char *account, const char *folder, GError **error);
gboolean store_folder_state(Store *store, gint64 folder_id, guint32 *uidvalidity,
                            guint32 *last_uid, GError **error);
/* A new UIDVALIDITY: remember it and restart from UID 0 (messages already
 * stored stay; Message-ID de-duplicates the re-scan). */
gboolean store_folder_reset(Store *store, gint64 folder_id, guint32 uidvalidity, GError **error);
/* Advances last_uid (never backwards) without storing a message (e.g. a UID
 * that vanished or was too large to keep). */
gboolean store_folder_advance(Store *store, gint64 folder_id, guint32 uid, GError **error);
/* Records that the folder is missing on the server since `since` (kept when
 * already set), or with `since` NULL that it is there again (schema v10). */
gboolean store_folder_set_missing(Store *store, gint64 folder_id, GDateTime *since,
                                  GError **error);

typedef enum { STORE_DIRECTION_IN, STORE_DIRECTION_OUT } StoreDirection;

typedef struct {
  gint64 folder_id;           /* 0: not from a folder (keel import) */
  guint32 uid;                /* the UID in that folder; advances last_uid */
  StoreDirection direction;
  const char *client_id;      /* borrowed, NULL = not a known client */
  gboolean first_sync;        /* stored by the first sync of a folder: never answered */
  GDateTime *received;        /* borrowed: when keel got it; NULL = now */
} StoreOrigin;

typedef enum {
  STORE_ADDED,
  STORE_DUPLICATE,
  STORE_FAILED      /* `error` is set; nothing changed (the transaction rolled back) */
} StoreAddResult;

/* Stores `raw` and the parsed `message`, threads it (References/In-Reply-To,
 * else normalised subject + same client), and advances the folder's last UID,
 * all in one transaction (or inside the caller's). A Message-ID already
 * stored gives STORE_DUPLICATE and changes nothing but the folder's UID.
 * `*row_id` and `*thread_id` (each may be NULL) receive the message's row id and
 * its thread's id (also for a duplicate). */
StoreAddResult store_add_message(Store *store, const StoreOrigin *origin, GBytes *raw,
                                 const KeelMessage *message, gint64 *row_id,
                                 gint64 *thread_id, GError **error);

/* One rule hit, as stored. */
typedef struct {
  const char *rule;
  const char *dimension;
  double points;
  const char *match;
  gint64 start, end;  /* byte offsets in the searched text */
  const char *where;  /* subject, text, quoted, body, header:..., from, signal */
} StoreHit;

/* Replaces the scores of message `row_id`: per-dimension points (`scores`, a
 * GHashTable of char* -> double*), hits (of StoreHit*), and the verdict
 * (`risk`: the message's own risk points, used for the thread's risk). */
gboolean store_save_verdict(Store *store, gint64 row_id, GHashTable *scores, GPtrArray *hits,
                            double risk, gboolean risky, int urgency, const char *payment,
                            const char *flags_csv, GError **error);
gboolean store_set_thread_risk(Store *store, gint64 thread_id, double risk, GError **error);

typedef struct {
  gint64 id;
  char *client;        /* owned: the client's name, NULL = unknown */
  char *client_id;     /* owned, NULL = unknown */
  char *counterpart;   /* owned: the other party's address when the thread began */
  char *subject;       /* owned */
  gint64 message_count;
  GDateTime *last_date;/* owned, UTC */
  double risk;
} StoreThreadRow;
void store_thread_row_free(StoreThreadRow *row);
/* Records a client's display name (insert or update). store_add_message()
 * adds a missing client with its id as name; this gives it its real name. */
gboolean store_client_set(Store *store, const char *id, const char *name, GError **error);

/* Threads, most recent first. Returns a GPtrArray of StoreThreadRow* (owned). */
GPtrArray *store_list_threads(Store *store, GError **error);

/* One stored message, handed to a store_foreach_message() callback. All
 * fields are borrowed for the duration of the callback. */
typedef struct {
  gint64 row_id;
  gint64 thread_id;
  GBytes *raw;
  StoreDirection direction;
  const char *client_id;  /* NULL = unknown */
  GDateTime *date;        /* the message's Date (UTC) */
  GDateTime *received;    /* when keel stored it (UTC) */
} StoreMessageRow;
typedef gboolean (*StoreMessageFunc)(const StoreMessageRow *row, gpointer user_data, GError **error);
/* Calls `func` for every stored message whose Date is at or after `since`
 * (NULL: all), oldest first. Stops at the first callback that returns FALSE.
 * Messages stored as too large (no raw bytes kept) are skipped. */
gboolean store_foreach_message(Store *store, GDateTime *since, StoreMessageFunc func,
                               gpointer user_data, GError **error);

/* One message of a thread, for thread risk and history signals. */
typedef struct {
  gint64 row_id;
  GDateTime *date;         /* owned, UTC */
  StoreDirection direction;
  double risk;             /* 0 when not scored yet */
  gboolean scored;
} StoreThreadEntry;
void store_thread_entry_free(StoreThreadEntry *entry);
/* The messages of `thread_id`, oldest first: a GPtrArray of StoreThreadEntry* (owned). */
GPtrArray *store_thread_entries(Store *store, gint64 thread_id, GError **error);
/* The same, only those dated `since` or later (NULL: all): what a decaying
 * thread risk needs, in time bounded by the window, not by the thread. */
GPtrArray *store_thread_entries_since(Store *store, gint64 thread_id, GDateTime *since,
                                      GError **error);

/* What the history signals need of a thread before a message, counted in SQL
 * (index messages_by_thread_direction) instead of reading every message. */
typedef struct {
  gint64 in_since_reply;  /* incoming messages after the VA's last reply (all when none) */
  gint64 in_last_24h;     /* incoming messages in the 24 hours before */
  GDateTime *last_reply;  /* owned: the VA's last reply before, NULL when none */
} StoreThreadHistory;
/* Fills `history` for the messages of `thread_id` dated strictly before
 * `before` (the message itself and later ones are not counted). */
gboolean store_thread_history(Store *store, gint64 thread_id, GDateTime *before,
                              StoreThreadHistory *history, GError **error);

/* Per-account poll status, shown by `keel status`. */
gboolean store_account_record_poll(Store *store, const char *account, GDateTime *when,
                                   const char *error_text /* NULL = success */, GError **error);

typedef struct {
  char *account;          /* owned */
  char *folder;           /* owned */
  guint32 uidvalidity;    /* 0 = never synced */
  guint32 last_uid;
  gint64 messages;        /* messages stored from this folder */
  GDateTime *missing_since; /* owned, UTC: the server refused its STATUS since; NULL = there */
} StoreFolderRow;
void store_folder_row_free(StoreFolderRow *row);
/* All folders, by account then name: a GPtrArray of StoreFolderRow* (owned). */
GPtrArray *store_list_folders(Store *store, GError **error);

typedef struct {
  char *account;          /* owned */
  GDateTime *last_poll;   /* owned, UTC, last successful poll; NULL = never */
  char *last_error;       /* owned, NULL = the last poll succeeded */
  GDateTime *last_error_at; /* owned, NULL when no error recorded */
} StoreAccountRow;
void store_account_row_free(StoreAccountRow *row);
/* Every account that ever polled: a GPtrArray of StoreAccountRow* (owned). */
GPtrArray *store_list_accounts(Store *store, GError **error);

/* ---- the trail, instructions and search (store-trail.c, schema v2) ------ */

/* One event of the hash-chained trail, as stored. The chain itself (what is
 * hashed, how it is checked) belongs to daemon/record/trail.c; the store only keeps
 * the rows. */
typedef struct {
  gint64 id;           /* 1, 2, 3...: the event's place in the chain */
  GDateTime *at;       /* owned, UTC */
  char *kind;          /* owned: instruction, instruction_done, confirmation_sent... */
  char *client_id;     /* owned, NULL = none */
  gint64 thread_id;    /* 0 = none */
  char *message_id;    /* owned: the Message-ID concerned (without <>), NULL = none */
  gint64 ref_id;       /* the instruction or outbox row concerned, 0 = none */
  char *detail;        /* owned: what happened, in words */
  char *prev_hash;     /* owned: hex SHA-256 of the event before */
  char *hash;          /* owned: hex SHA-256 of this event */
} StoreTrailEvent;
void store_trail_event_free(StoreTrailEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreTrailEvent, store_trail_event_free)

/* The id and hash of the newest event: *id = 0 and *hash = NULL for an empty
 * trail. `*hash` is a new string. */
gboolean store_trail_head(Store *store, gint64 *id, char **hash, GError **error);
/* The trail's seal (schema v8): the count and head hash written with the
 * newest event, kept apart from the events so that removing the newest events
 * shows. store_trail_sealed() gives 0 / NULL before the first event. */
gboolean store_trail_seal(Store *store, gint64 count, const char *hash, GError **error);
gboolean store_trail_sealed(Store *store, gint64 *count, char **hash, GError **error);
/* Inserts `event` as is (id, hashes and all). Call inside a transaction that
 * also read store_trail_head(). */
gboolean store_trail_insert(Store *store, const StoreTrailEvent *event, GError **error);
/* Events in chain order (by id), optionally only for `client_id` and at or
 * after `since`. A GPtrArray of StoreTrailEvent* (owned). */
GPtrArray *store_trail_list(Store *store, const char *client_id, GDateTime *since,
                            GError **error);

/* One instruction a client gave. */
typedef struct {
  gint64 id;
  gint64 message_row;  /* messages.id of the source, 0 = a VA's note */
  char *message_id;    /* owned, source Message-ID, NULL for a note */
  char *client_id;     /* owned, NULL = unknown */
  gint64 thread_id;    /* 0 = none */
  char *text;          /* owned */
  char *deadline;      /* owned, "YYYY-MM-DDTHH:MM" local to the client, NULL = none */
  int urgency;
  char *status;        /* owned: open, done, cancelled */
  GDateTime *created;  /* owned, UTC */
  GDateTime *probably_done; /* owned, UTC: when her reply said it was done; NULL = not */
  gboolean history;    /* from mail stored as history (first sync, rescan, import) */
} StoreInstructionRow;
void store_instruction_row_free(StoreInstructionRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreInstructionRow, store_instruction_row_free)
/* Inserts `row` (id and status ignored: a new row is open). Returns its id,
 * 0 on error. */
gint64 store_instruction_add(Store *store, const StoreInstructionRow *row, GError **error);
/* The instruction `id`, or NULL: with `error` set on a failure, without it
 * when there is no such row. */
StoreInstructionRow *store_instruction_get(Store *store, gint64 id, GError **error);
gboolean store_instruction_set_status(Store *store, gint64 id, const char *status,
                                      GError **error);
/* Links a confirmation (outbox row) to an instruction it confirms. */
gboolean store_confirmation_link(Store *store, gint64 outbox_id, gint64 instruction_id,
                                 GError **error);

/* Full-text search (FTS5 over subject, new text and quoted text). */
typedef struct {
  gint64 row_id;
  char *message_id;    /* owned */
  char *from_address;  /* owned, may be NULL */
  char *client_id;     /* owned, may be NULL */
  char *subject;       /* owned */
  GDateTime *date;     /* owned, UTC */
  char *snippet;       /* owned: the match in context, [brackets] around hits */
} StoreSearchHit;
void store_search_hit_free(StoreSearchHit *hit);
/* Messages matching every word of `query` (each taken literally; a trailing
 * * makes a prefix), best first, at most `limit`. GPtrArray of StoreSearchHit*. */
GPtrArray *store_search(Store *store, const char *query, guint limit, GError **error);
/* New messages are indexed (subject, new text) by a trigger; this adds the
 * quoted text of message `row_id`, which the messages table does not keep. */
gboolean store_search_set_quoted(Store *store, gint64 row_id, const char *quoted_text,
                                 GError **error);

/* ---- the outbox (store-outbox.c, schema v2) ----------------------------- */

/* One outgoing message. Its state names are daemon/outbox/outbox.c's; the store only
 * keeps them and changes one only from the state the caller expects. */
typedef struct {
  gint64 id;
  char *account;       /* owned: the [account] it goes out through */
  char *kind;          /* owned: "confirm" */
  char *client_id;     /* owned, NULL = none */
  gint64 thread_id;    /* 0 = none */
  char *message_id;    /* owned, without <> */
  char *mail_from;     /* owned: envelope sender */
  char *rcpt;          /* owned: envelope recipient */
  char *subject;       /* owned, for listings */
  GBytes *raw;         /* owned: the whole message, built once when queued; NULL from
                          store_outbox_due() */
  char *state;         /* owned */
  int attempts;
  GDateTime *next_attempt; /* owned, UTC, NULL = now */
  char *last_error;    /* owned, NULL = none */
  GDateTime *created;  /* owned, UTC */
  GDateTime *updated;  /* owned, UTC */
} StoreOutboxRow;
void store_outbox_row_free(StoreOutboxRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreOutboxRow, store_outbox_row_free)
/* Inserts `row` (id ignored). Returns its id, 0 on error. */
gint64 store_outbox_insert(Store *store, const StoreOutboxRow *row, GError **error);
/* Rows in `state` (NULL: all), oldest first. GPtrArray of StoreOutboxRow*. */
GPtrArray *store_outbox_list(Store *store, const char *state, GError **error);
/* Rows in one of `states` (NULL-terminated, at most 4) whose next attempt is
 * NULL or at most `now`, oldest first, WITHOUT their raw bytes (raw = NULL):
 * what a sender may claim. */
GPtrArray *store_outbox_due(Store *store, const char *const *states, GDateTime *now,
                            GError **error);
/* Row `id` with its raw bytes, or NULL (`error` set only on a failure). */
StoreOutboxRow *store_outbox_get(Store *store, gint64 id, GError **error);
/* Moves row `id` from state `from` to `to`, with its attempts, next attempt
 * and last error. `*moved` is FALSE (and nothing changes) when the row is not
 * in state `from` any more. */
gboolean store_outbox_move(Store *store, gint64 id, const char *from, const char *to,
                           int attempts, GDateTime *next_attempt, const char *last_error,
                           GDateTime *now, gboolean *moved, GError **error);
/* Outbox rows of `kind` for `thread_id` created at or after `since` (any state). */
gint64 store_outbox_count_thread(Store *store, gint64 thread_id, const char *kind,
                                 GDateTime *since, GError **error);
/* Outbox rows in `state` (any kind), for `keel status`; -1 with `error`. */
gint64 store_outbox_count_state(Store *store, const char *state, GError **error);

/* ---- what the digest reads (store-digest.c) ---------------------------- */

/* Threads whose risk is at least `min_risk`, riskiest first (then newest):
 * a GPtrArray of StoreThreadRow* (owned). */
GPtrArray *store_digest_risky_threads(Store *store, double min_risk, GError **error);
/* The thread `thread_id`, or NULL (with `error` only on a failure). */
StoreThreadRow *store_digest_thread(Store *store, gint64 thread_id, GError **error);

/* A scored message, as the digest quotes it. */
typedef struct {
  gint64 row_id;
  gint64 thread_id;
  GDateTime *date;    /* owned, UTC */
  double risk;
  gboolean risky;
  char *flags;        /* owned: flagged dimensions, "tone,threat" ("" = none) */
  char *payment;      /* owned: payment category, NULL = not scored */
  char *new_text;     /* owned, may be NULL */
  char *subject;      /* owned */
  StoreDirection direction;
  gboolean automated;
  gboolean first_sync;  /* stored as history: never alerted about */
} StoreDigestMessage;
void store_digest_message_free(StoreDigestMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreDigestMessage, store_digest_message_free)
/* The scored incoming messages of `thread_id`, newest first, at most
 * `limit`: a GPtrArray of StoreDigestMessage* (owned). */
GPtrArray *store_digest_thread_messages(Store *store, gint64 thread_id, guint limit,
                                        GError **error);
/* The message `row_id` (scored or not), or NULL (`error` only on a failure). */
StoreDigestMessage *store_digest_message(Store *store, gint64 row_id, GError **error);

/* A stored rule hit (owned strings). */
typedef struct {
  char *rule, *dimension, *match, *where;
  double points;
  gint64 start, end;  /* byte offsets in the text named by `where`; -1 = none */
} StoreHitRow;
void store_hit_row_free(StoreHitRow *hit);
/* The rule hits of message `row_id`, most points first: StoreHitRow* (owned). */
GPtrArray *store_digest_message_hits(Store *store, gint64 row_id, GError **error);

/* Open instructions that have a deadline, soonest first: StoreInstructionRow*. */
GPtrArray *store_digest_open_instructions(Store *store, GError **error);

/* A thread whose client is waiting for the VA. */
typedef struct {
  gint64 thread_id;
  gint64 row_id;        /* the oldest client message since the VA last wrote */
  char *client_id;      /* owned */
  char *client;         /* owned: the client's name */
  char *from_address;   /* owned, may be NULL */
  char *subject;        /* owned */
  GDateTime *since;     /* owned, UTC: that message's date */
} StoreWaitingRow;
void store_waiting_row_free(StoreWaitingRow *row);
/* Per thread, the oldest message from a known client (not automated) dated at
 * or after `since` with no outgoing message in the thread dated after it:
 * oldest first, a GPtrArray of StoreWaitingRow* (owned). */
GPtrArray *store_digest_unanswered(Store *store, GDateTime *since, GError **error);

typedef struct {
  gint64 unix_time;
  double risk;
} StoreRiskPoint;
/* Date and risk of the scored incoming messages of `client_id` at or after
 * `since`: a GArray of StoreRiskPoint. */
GArray *store_digest_client_risks(Store *store, const char *client_id, GDateTime *since,
                                  GError **error);

/* `*created` receives the creation time of the newest outbox row of `kind`
 * (NULL when there is none). */
gboolean store_digest_last_outbox(Store *store, const char *kind, GDateTime **created,
                                  GError **error);

/* ---- who may speak through keel (store-guard.c, schema v3) ------------- */

/* The messages of `thread_id` that move its risk (the VA's, and the client's
 * or, in a thread without client, its first correspondent's), oldest first:
 * a GPtrArray of StoreThreadEntry* (owned). A stranger's mail is left out. */
GPtrArray *store_thread_party_entries(Store *store, gint64 thread_id, GDateTime *since,
                                      GError **error);
/* 1 when message `row_id` is one of those, 0 when not (a stranger's), -1 on error. */
int store_message_is_party(Store *store, gint64 row_id, GError **error);

typedef struct {
  double risk;                 /* the stored thread risk */
  double peak;                 /* the highest risk remembered (0 = none) */
  GDateTime *peak_at;          /* owned, when it was reached; NULL = never */
  GDateTime *handled_at;       /* owned, when the VA marked it handled; NULL = never */
  GDateTime *last_human_reply; /* owned, Date of the VA's own newest message in it
                                  (keel's replies do not count); NULL = none */
} StoreThreadPeak;
void store_thread_peak_clear(StoreThreadPeak *peak);
/* Reads the thread's risk, peak and what resets it (all zero/NULL for no such
 * thread). Clear `peak` with store_thread_peak_clear(). */
gboolean store_thread_peak(Store *store, gint64 thread_id, StoreThreadPeak *peak,
                           GError **error);
gboolean store_thread_set_peak(Store *store, gint64 thread_id, double peak, GDateTime *at,
                               GError **error);
/* Marks `thread_id` handled at `at`; `*found` (may be NULL) says whether it exists. */
gboolean store_thread_set_handled(Store *store, gint64 thread_id, GDateTime *at,
                                  gboolean *found, GError **error);

/* Outbox rows of `kind` ("confirm", "alert") created at or after
 * `since`, for `client_id` (NULL: every client). -1 on error. */
gint64 store_outbox_count_client(Store *store, const char *kind, const char *client_id,
                                 GDateTime *since, GError **error);
/* Incoming messages of `client_id` that keel received at or after `since`
 * (history from a first sync left out). -1 on error. */
gint64 store_client_received_count(Store *store, const char *client_id, GDateTime *since,
                                   GError **error);
/* Messages (in and out, history included) keel stored at or after `since`:
 * the "N messages today" of the daemon's STATUS line. -1 on error. */
gint64 store_messages_count_since(Store *store, GDateTime *since, GError **error);
/* 1 when `message_id` (without <>) is one keel generated (an outbox row), 0
 * when not, -1 on error. */
int store_outbox_generated(Store *store, const char *message_id, GError **error);
/* The account and folder name of `folder_id` (new strings; both NULL when
 * there is no such folder). */
gboolean store_folder_name(Store *store, gint64 folder_id, char **account, char **folder,
                           GError **error);
/* The highest stored risk of `client_id`'s threads active at or after
 * `since` (0 when none), -1 on error. */
double store_client_thread_risk(Store *store, const char *client_id, GDateTime *since,
                                GError **error);
/* Trail events of `kind` about `message_id`; -1 on error. */
gint64 store_trail_count_kind(Store *store, const char *kind, const char *message_id,
                              GError **error);

/* ---- what `keel why` reads (store-why.c) -------------------------------- */

/* One stored message, as `keel why` needs it. */
typedef struct {
  gint64 row_id;
  char *message_id;     /* owned, without <> */
  gint64 thread_id;
  gboolean incoming;    /* direction 'in' */
  char *client_id;      /* owned, NULL = unknown sender */
  gboolean first_sync;  /* stored by the first sync of its folder: history */
  GDateTime *received;  /* owned, UTC: when keel stored it */
  GBytes *raw;          /* owned, NULL when stored too large */
} StoreWhyRow;
void store_why_row_free(StoreWhyRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreWhyRow, store_why_row_free)
/* The message whose row id (all digits) or Message-ID (with or without <>)
 * is `key`; NULL without `error` when there is none. */
StoreWhyRow *store_why_find(Store *store, const char *key, GError **error);
/* The outbox rows queued for the instructions of message `row_id`, oldest
 * first (StoreOutboxRow*, without raw bytes, account or mail_from). */
GPtrArray *store_why_replies(Store *store, gint64 row_id, GError **error);
/* Confirmations queued in `thread_id` at or after `since` and before `until`;
 * -1 with `error`. */
gint64 store_why_confirmations_before(Store *store, gint64 thread_id, GDateTime *since,
                                      GDateTime *until, GError **error);
/* The trail events naming `message_id` or a reply queued for message
 * `row_id`, in chain order (StoreTrailEvent* with id, at, kind, detail). */
GPtrArray *store_why_events(Store *store, const char *message_id, gint64 row_id,
                            GError **error);
