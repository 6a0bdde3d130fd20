/* daemon/outbox/outbox.h: replies waiting to go out, and the sender that sends them
 * exactly once.
 *
 * Entry points:
 *   outbox_queue_confirmation()  builds a confirmation and queues it, inside
 *                                the caller's transaction (with its trail events)
 *   outbox_confirm_message()     the same for a client message, template and
 *                                signature read from the rules folder
 *   outbox_move()                the one function that changes a row's state
 *   outbox_run()                 reconciles rows left SENDING, then sends (auto)
 *                                or drafts (review) every row that is due
 *
 * States and the allowed moves (enforced by outbox_move_allowed()). Every side
 * effect is preceded by a committed state that says it may have happened:
 *   QUEUED    -> CLAIMED       a sender claims the row (no other sender may take it)
 *   TEMPFAIL  -> CLAIMED       its retry time has come
 *   CLAIMED   -> SENDING       SMTP or the APPEND to Drafts is about to start (the intent)
 *   CLAIMED   -> QUEUED        at start-up: claimed, but nothing was handed to a server
 *   CLAIMED   -> TEMPFAIL|FAILED  no password or no account: nothing was sent
 *   SENDING   -> UNFILED       SMTP accepted it; keel still has to APPEND its copy to Sent
 *   UNFILED   -> SENT          the copy is in Sent (APPENDed, or found there at start-up)
 *   SENDING   -> SENT          SMTP accepted it and the server files its own copy
 *                              (server_files_sent), or found in Sent at start-up
 *   SENDING   -> DRAFTED       APPENDed to Drafts as \Draft (review mode), or found there
 *   SENDING   -> TEMPFAIL      4xx, timeout, network: retried with backoff
 *   SENDING   -> FAILED        5xx, or too many temporary failures: never retried
 *   SENDING   -> QUEUED        at start-up, a draft that is not in Drafts: it reached nobody
 *   SENDING   -> UNCERTAIN     at start-up, a message for SMTP that is not in Sent: it
 *                              may or may not have gone out; never re-sent on a guess
 *   FAILED    -> QUEUED        the VA asked for it (`keel outbox retry ID`)
 *   UNCERTAIN -> QUEUED        the same, after she checked her Sent folder
 *   QUEUED, TEMPFAIL, FAILED, UNCERTAIN -> CANCELLED   `keel outbox cancel ID`
 */
#pragma once

#include <gio/gio.h>
#include "daemon/base/config.h"
#include "daemon/outbox/replies.h"
#include "daemon/store/store.h"
#include "filters/confirm.h"
#include "filters/instructions.h"
#include "filters/message.h"

#define KEEL_OUTBOX_ERROR (keel_outbox_error_quark())
GQuark keel_outbox_error_quark(void);
typedef enum {
  KEEL_OUTBOX_ERROR_STATE,    /* a move the state machine forbids, or the row moved meanwhile */
  KEEL_OUTBOX_ERROR_TEMPLATE, /* the confirmation template cannot be read or rendered */
  KEEL_OUTBOX_ERROR_ACCOUNT,  /* no account to send through */
  KEEL_OUTBOX_ERROR_NOT_FOUND /* no outbox row with that id */
} KeelOutboxError;

typedef enum {
  OUTBOX_QUEUED,
  OUTBOX_CLAIMED,
  OUTBOX_SENDING,
  OUTBOX_UNFILED,
  OUTBOX_SENT,
  OUTBOX_DRAFTED,
  OUTBOX_TEMPFAIL,
  OUTBOX_FAILED,
  OUTBOX_UNCERTAIN,
  OUTBOX_CANCELLED
} OutboxState;
#define OUTBOX_STATE_LAST OUTBOX_CANCELLED

/* The only two places a state becomes text and text a state (the store
 * keeps the text; nothing else compares state names). */
const char *outbox_state_name(OutboxState state);
/* FALSE for a name that is no state. */
gboolean outbox_state_parse(const char *name, OutboxState *state);
gboolean outbox_move_allowed(OutboxState from, OutboxState to);

/* Retries: the delay before attempt `attempts` + 1 (1 min, 2, 4 ... capped at
 * 6 h); after OUTBOX_MAX_ATTEMPTS temporary failures a row is FAILED. */
#define OUTBOX_MAX_ATTEMPTS 8
GTimeSpan outbox_retry_delay(int attempts);

/* Moves `row` (its state as read) to `to`, with the attempt count, next
 * attempt time and error text, and records a trail event, in one
 * transaction (or the caller's). Fails with KEEL_OUTBOX_ERROR_STATE when the
 * move is not allowed or the row is no longer in the state `row` says. */
gboolean outbox_move(Store *store, const StoreOutboxRow *row, OutboxState to, int attempts,
                     GDateTime *next_attempt, const char *last_error, GDateTime *now,
                     GError **error);

/* One confirmation to queue; every pointer is borrowed. */
typedef struct {
  const KeelAccount *account;   /* sends it; its user is the From address */
  const char *client_id;
  const char *client_name;
  const char *to_address;       /* the client's address */
  gint64 thread_id;             /* 0 = none */
  const char *in_reply_to;      /* Message-ID replied to (without <>), NULL for a note */
  GPtrArray *references;        /* of char*, may be NULL */
  const char *subject;          /* the original subject ("Re: " is added) or a note's */
  GPtrArray *instructions;      /* of Instruction* (filters/instructions.h) */
  GArray *instruction_ids;      /* of gint64, same order; may be NULL */
  const char *template_text;    /* rules/templates/confirm.txt */
  const char *template_name;
  const ReplyVoice *voice;      /* greeting, the VA's name (the From display name), signature */
  GDateTime *now;               /* the reply's Date */
  const char *timezone;         /* the VA's zone for the Date header; NULL = UTC */
  gboolean is_reply;            /* TRUE: Auto-Submitted: auto-replied, "Re:" subject */
} OutboxConfirmation;

/* Builds the message and inserts the outbox row (QUEUED), the links to the
 * instructions and a `confirmation_queued` trail event, inside the caller's
 * transaction when one is open. Returns the outbox id, 0 with `error` set. */
gint64 outbox_queue_confirmation(Store *store, const OutboxConfirmation *confirmation,
                                 GError **error);

/* The confirmation for client message `message` (already stored, in thread
 * `thread_id`), whose instructions were recorded with ids `instruction_ids`:
 * reads <rules>/templates/confirm.txt and signature.txt, sends through
 * `account` (the one the message arrived in; NULL = the config's first), and
 * calls outbox_queue_confirmation(). */
gint64 outbox_confirm_message(Store *store, const KeelConfig *config,
                              const KeelAccount *account, const KeelClient *client,
                              const KeelMessage *message, gint64 thread_id,
                              GPtrArray *instructions, GArray *instruction_ids, GDateTime *now,
                              GError **error);

/* What was agreed on the phone, put in writing: the note as a trail event,
 * its `instructions` (extracted by the caller) recorded, and a confirmation
 * queued to the client's first full address with `subject` (NULL: the
 * template's default), through `account` (NULL: the config's first). Inside the caller's transaction. Returns the outbox
 * row, or 0 with `error`. Used by `keel confirm` and by notes the VA emails
 * to her account's note_address. */
gint64 outbox_confirm_note(Store *store, const KeelConfig *config, const KeelAccount *account,
                           const KeelClient *client, const char *note, const char *subject,
                           GPtrArray *instructions, GDateTime *now, GError **error);

/* Reads <rules>/templates/NAME. Returns a new string, or NULL with `error`. */
char *outbox_read_template(const KeelConfig *config, const char *name, gboolean optional,
                           GError **error);

/* `keel outbox retry ID`: a FAILED or UNCERTAIN row back to QUEUED (the
 * VA's decision), attempts reset. KEEL_OUTBOX_ERROR_STATE for another state,
 * KEEL_OUTBOX_ERROR_NOT_FOUND for no such row. */
gboolean outbox_retry(Store *store, gint64 id, GDateTime *now, GError **error);
/* `keel outbox cancel ID`: a row not yet sent (QUEUED, TEMPFAIL, FAILED,
 * UNCERTAIN) is never sent. */
gboolean outbox_cancel(Store *store, gint64 id, GDateTime *now, GError **error);

typedef struct {
  gboolean server_files_sent; /* the SMTP server files sent mail in Sent itself */
  GMutex *store_lock;         /* borrowed, may be NULL: held around store calls only */
  GCancellable *cancellable;  /* borrowed, may be NULL: aborts SMTP and IMAP (SIGTERM) */
  gint *progress;             /* borrowed, may be NULL: incremented (atomically) after each
                               * row handled, for the daemon's watchdog */
} OutboxSettings;

typedef struct {
  guint sent, drafted, tempfailed, failed, reconciled, requeued, uncertain, filed;
  guint connections; /* IMAP connections the pass opened, all accounts (logins) */
} OutboxRunStats;

/* One pass of the sender: rows left SENDING by a crash are looked up by
 * Message-ID in Sent (auto) or Drafts (review) and marked done, queued
 * again (drafts) or marked UNCERTAIN (anything that went to SMTP);
 * UNFILED rows get their Sent copy; then every QUEUED row and every TEMPFAIL
 * row whose time has come is claimed and sent (auto: SMTP, then UNFILED,
 * then the copy APPENDed to Sent, then SENT; or SENT at once with
 * `server_files_sent`) or APPENDed to Drafts as \Draft (review). One IMAP
 * connection per account serves the whole pass.
 * Returns FALSE only for a store failure; delivery failures are recorded in
 * the rows and counted in `stats`. */
gboolean outbox_run(Store *store, const KeelConfig *config, const OutboxSettings *settings,
                    GDateTime *now, OutboxRunStats *stats, GError **error);

/* ---- after a client message is stored (outbox-plan.c) ------------------ */

/* What the pipeline knows about one stored message; all borrowed. */
typedef struct {
  const KeelConfig *config;
  const KeelClient *client;        /* NULL = not a known client */
  const KeelMessage *message;
  const InstructionRules *rules;   /* trail_load_instruction_rules(), once per pipeline */
  gint64 row_id;                   /* messages.id */
  gint64 thread_id;
  gboolean first_sync;
  const ScoreResult *verdict;      /* the message's scores; NULL = unscored, never answered */
  double thread_risk;              /* score_thread_risk() with this message */
  GDateTime *now;                  /* when keel received it: every limit counts from here */
  const KeelAccount *account;      /* the account it arrived in; NULL = the config's first */
} OutboxIngest;

/* Everything the trail and the outbox do for a newly stored incoming
 * message, inside the caller's transaction: index its quoted text for
 * search; for a known client, extract its instructions and record them in
 * the trail; then ask confirm_decide() (rate: confirmations queued in this
 * thread in the last 12 hours) and, when it says so, queue the confirmation.
 * `decision` (may be NULL) receives the decision, `*outbox_id` (may be NULL)
 * the queued row or 0. FALSE with `error` only on a store or template
 * failure: the caller rolls its transaction back. */
gboolean outbox_after_ingest(Store *store, const OutboxIngest *in, ConfirmDecision *decision,
                             gint64 *outbox_id, GError **error);

/* ---- who may speak through keel (outbox-plan.c) ------------------------ */

/* The limits every automatic reply passes after confirm_decide() said
 * CONFIRM_SEND, a note's confirmation included: at most [replies]
 * per_client_per_day confirmations to `client_id` in the 24 hours before
 * `now` (keel's clock, never a Date header). Turns `*decision` into
 * CONFIRM_NONE with the reason when one forbids it. FALSE only on a store
 * failure. */
gboolean outbox_plan_client_limit(Store *store, const KeelConfig *config, const char *client_id,
                                  GDateTime *now, ConfirmDecision *decision, GError **error);
