/* daemon/cli/cmd-confirm.c: `keel confirm --client NAME --note "…"` puts what was
 * agreed on the phone in writing: the instructions found in the note are
 * recorded in the trail (with their deadlines, in the client's time zone),
 * and a confirmation is queued to the client's first address. The outbox
 * sender (`keel outbox send`, or the daemon) then drafts it (mode = review)
 * or sends it (mode = auto). All of it in one transaction.
 * Must not: send anything itself.
 */
#include <stdio.h>
#include "daemon/outbox/outbox.h"
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"

typedef struct {
  const char *client;   /* --client, borrowed */
  const char *note;     /* --note, borrowed */
  const char *subject;  /* --subject, borrowed */
  const char *database; /* --database, borrowed */
} ConfirmOptions;

static int cmd_confirm_check(const KeelConfig *config, const KeelClient *client,
                             const ConfirmOptions *opt)
{
  if (!client) {
    g_autofree char *known = config_client_names(config);
    fprintf(stderr, "keel confirm: no client '%s' in %s; keel knows: %s\n", opt->client,
            config->path, known);
    return EX_USAGE;
  }
  if (!config_client_address(client)) {
    fprintf(stderr, "keel confirm: client %s has no full address to write to "
            "(only @domain entries)\n", client->id);
    return EX_DATAERR;
  }
  if (config->accounts->len == 0) {
    fprintf(stderr, "keel confirm: no [account] in %s to send from\n", config->path);
    return EX_CONFIG;
  }
  return EX_OK;
}

/* The instructions of the note, or NULL after printing why. */
static GPtrArray *cmd_confirm_extract(const KeelConfig *config, const KeelClient *client,
                                      const char *note, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(InstructionRules) rules = trail_load_instruction_rules(config->rules, &error);
  if (!rules) {
    fprintf(stderr, "keel confirm: %s\n", error->message);
    return NULL;
  }
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(config, client, &ctx, &zone);
  return instructions_extract(rules, note, now, &ctx);
}

static void cmd_confirm_print(const KeelConfig *config, const KeelClient *client,
                              GPtrArray *instructions, gint64 id)
{
  printf("recorded %u instruction(s) for %s; confirmation queued as outbox %" G_GINT64_FORMAT
         " to %s (%s when the sender runs)\n", instructions->len, client->name, id,
         config_client_address(client),
         config->mode == KEEL_MODE_REVIEW ? "a draft in your Drafts folder" : "sent");
  for (guint i = 0; i < instructions->len; i++) {
    const Instruction *instruction = instructions->pdata[i];
    printf("  %u) %s%s%s\n", i + 1, instruction->text, instruction->deadline_iso ? " — by " : "",
           instruction->deadline_iso ? instruction->deadline_iso : "");
  }
}

/* Opens the store and records everything in one transaction. */
static int cmd_confirm_store(const KeelConfig *config, const KeelClient *client,
                             const ConfirmOptions *opt, GPtrArray *instructions, GDateTime *now)
{
  int rc = EX_OK;
  g_autoptr(Store) store = store_cli_open(opt->database, config, &rc);
  if (!store)
    return rc;
  g_autoptr(GError) error = NULL;
  gint64 id = 0;
  if (store_begin(store, &error)) {
    id = outbox_confirm_note(store, config, NULL, client, opt->note, opt->subject, instructions,
                             now, &error);
    if (id == 0)
      store_rollback(store);
  }
  if (id == 0 || !store_commit(store, &error)) {
    fprintf(stderr, "keel confirm: %s\n", error->message);
    return error->domain == KEEL_STORE_ERROR ? store_cli_exit_code(error) : EX_DATAERR;
  }
  cmd_confirm_print(config, client, instructions, id);
  return EX_OK;
}

static int cmd_confirm_run(const KeelGlobals *globals, const ConfirmOptions *opt)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK || !config) {
    if (!config && rc == EX_OK)
      fprintf(stderr, "keel confirm: needs a config (--config FILE) naming the client\n");
    return rc != EX_OK ? rc : EX_CONFIG;
  }
  const KeelClient *client = config_client_by_name(config, opt->client);
  if ((rc = cmd_confirm_check(config, client, opt)) != EX_OK)
    return rc;
  g_autoptr(GDateTime) now = cli_now(globals);
  g_autoptr(GPtrArray) instructions = now ? cmd_confirm_extract(config, client, opt->note, now)
                                          : NULL;
  if (!instructions)
    return now ? EX_DATAERR : EX_USAGE;
  if (instructions->len == 0) {
    fprintf(stderr, "keel confirm: no instruction found in the note; nothing recorded "
            "(write each task as a sentence, e.g. \"Please send the contract by Friday.\")\n");
    return EX_DATAERR;
  }
  return cmd_confirm_store(config, client, opt, instructions, now);
}

int cmd_confirm(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *client = NULL, *note = NULL, *subject = NULL, *database = NULL;
  const GOptionEntry entries[] = {
    { "client", 0, 0, G_OPTION_ARG_STRING, &client, "The client (id or name)", "NAME" },
    { "note", 0, 0, G_OPTION_ARG_STRING, &note, "What was agreed, in sentences", "TEXT" },
    { "subject", 0, 0, G_OPTION_ARG_STRING, &subject,
      "Subject of the confirmation (default: Confirming what we agreed)", "TEXT" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, NULL,
                         "Records the instructions of a phone call and queues a written\n"
                         "confirmation to the client.", entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (!client || !note || argc > 1) {
    fprintf(stderr, "keel confirm: usage: keel confirm --client NAME --note \"...\"\n");
  } else {
    ConfirmOptions opt = { client, note, subject ? subject : "Confirming what we agreed",
                           database };
    rc = cmd_confirm_run(&globals, &opt);
  }
  cli_globals_clear(&globals);
  return rc;
}
