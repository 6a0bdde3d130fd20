/* daemon/ingest/pipeline-private.h: what pipeline.c shares with its companions
 * (pipeline-note.c: the VA's notes; pipeline-guard.c: floods, thread risk and
 * the account a message arrived in) and nobody else may see. */
#pragma once

#include "daemon/ingest/pipeline.h"
#include "filters/promises.h"
#include "filters/score.h"

struct Pipeline {
  const KeelConfig *config;        /* borrowed, may be NULL */
  Store *store;                    /* borrowed */
  const RuleSet *rules;            /* borrowed, may be NULL: no verdicts */
  const InstructionRules *instruction_rules; /* borrowed, may be NULL */
  PipelineRulesWait rules_wait;    /* non-NULL while the rules still load: call before use */
  gpointer rules_wait_data;
  GTimeZone *tz;                   /* owned: the VA's zone */
  ScoreContext context;            /* zone and business hours; history added per message */
  gboolean direction_from_sender;
  PromiseRules *promise_rules;     /* owned, read from the config's rules on first use */
  gboolean promise_rules_failed;   /* they did not load: said once, not again */
};

/* Where and when a newly stored message arrived; all borrowed. */
typedef struct {
  const StoreOrigin *origin;
  const KeelAccount *account;  /* the account whose folder it came from; NULL = unknown
                                  (keel import): the config's first answers */
  const char *folder;          /* that folder's name, NULL = unknown */
  gint64 row_id;
  gint64 thread_id;
  GDateTime *now;              /* when keel received it: every limit counts from here */
} PipelineArrival;

/* ---- pipeline-note.c ---------------------------------------------------- */

/* The account whose note_address `message` is addressed to (To or Cc), or
 * NULL: then it is no note. */
const KeelAccount *pipeline_note_account(const Pipeline *pipeline, const KeelMessage *message);

/* A message addressed to a note address: authenticated (in her Sent folder,
 * or in INBOX at a note address with a secret token and her own server's
 * Authentication-Results passing DKIM or SPF for her domain), then through
 * the gates of any reply (known client, risk, limits), then its instructions
 * recorded and confirmed to the client. A note that fails any of it is a
 * `note_refused` trail event, which the digest shows; nothing reaches the
 * client. FALSE only on a store failure. */
gboolean pipeline_note(Pipeline *pipeline, const PipelineArrival *arrival,
                       const KeelAccount *note_account, const KeelMessage *message,
                       GError **error);

/* ---- pipeline-guard.c --------------------------------------------------- */

/* The account and folder `origin` came from (NULL for keel import); `*folder`
 * is a new string. FALSE only on a store failure. */
gboolean pipeline_arrival_account(Pipeline *pipeline, const StoreOrigin *origin,
                                  const KeelAccount **account, char **folder, GError **error);

/* When a client has sent more than [replies] flood_threshold messages in the
 * hour before `arrival->now`, a `flood` trail event (once per crossing), which
 * the digest shows. FALSE only on a store failure. */
gboolean pipeline_flood_check(Pipeline *pipeline, const PipelineArrival *arrival,
                              const KeelClient *client, GError **error);

/* The thread's risk after this message (verdict_guarded_thread_risk with
 * [replies] risk_memory), into `*risk`. */
gboolean pipeline_thread_risk(Pipeline *pipeline, const PipelineArrival *arrival,
                              const KeelMessage *message, double *risk, GError **error);

/* The Sent copy of a note whose INBOX copy (same Message-ID, stored first)
 * was refused once: now judged as a note from her Sent folder. Nothing for
 * any other duplicate. FALSE only on a store failure. */
gboolean pipeline_note_sent_copy(Pipeline *pipeline, const StoreOrigin *origin,
                                 const KeelMessage *message, gint64 row_id, gint64 thread_id,
                                 GError **error);
