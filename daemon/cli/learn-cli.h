/* daemon/cli/learn-cli.h: what `keel learn` and `keel mark` share: the
 * store, the rules with the mailbox's learned models, reading a message file.
 * Prints its own one-line errors; no other logic. */
#pragma once

#include "daemon/base/commands.h"
#include "daemon/store/store.h"
#include "filters/message.h"
#include "filters/rules.h"
#include "filters/score.h"

/* Reads and parses the file `path`; NULL after printing why. */
KeelMessage *learn_read_message(const char *path);

/* The config's store and rules (`rules_dir` or the config's), the stored
 * corrections applied to the learned models; `*shipped` (may be NULL)
 * receives the models as shipped. Returns EX_OK or an exit code after
 * printing why. */
int learn_open(const KeelGlobals *globals, const char *database, const char *rules_dir,
               Store **store, RuleSet **rules, LearnedSet **shipped);

/* For `keel score --explain`: each learned signal of `result` with the five
 * features that pushed it up most and the five that pushed it down most. */
void learn_print_explain(const RuleSet *rules, const KeelMessage *message,
                         const ScoreResult *result);

/* `keel learn export --out DIR`: the models of her mailbox (shipped plus
 * corrections) as NAME.model files, to review or to score with. */
int learn_export(const KeelGlobals *globals, const char *database, const char *rules_dir,
                 const char *out_dir);

/* `keel learn status`. */
int learn_status(const KeelGlobals *globals, const char *database, const char *rules_dir);
