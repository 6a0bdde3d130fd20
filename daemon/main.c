/* daemon/main.c: the `keel` binary's entry point. It only finds the
 * subcommand and hands over argv; each subcommand (daemon/cmd-*.c) does its
 * own option parsing and returns a sysexits.h code. Must not grow logic. */
#include <stdio.h>
#include <string.h>
#include <locale.h>
#include <gmime/gmime.h>
#include "daemon/base/commands.h"
#include "daemon/base/log.h"

typedef struct {
  const char *name;
  KeelCommandFunc run;
  const char *summary;
} KeelCommand;

static const KeelCommand commands[] = {
  { "daemon",  cmd_daemon,  "poll the mailboxes (--once: one cycle, then exit)" },
  { "status",  cmd_status,  "show per-account and per-folder sync state (--json)" },
  { "import",  cmd_import,  "store .eml files or Maildirs offline" },
  { "threads", cmd_threads, "list stored threads (--risky, --json)" },
  { "thread",  cmd_thread,  "thread list (IDs) | thread handled ID [--until DATE]" },
  { "parse",   cmd_parse,   "show what the parser makes of .eml files (--json)" },
  { "score",   cmd_score,   "score .eml files with the rules (--json, --explain)" },
  { "rules",   cmd_rules,   "check the rule files (rules check [DIR] [--profile DIR])" },
  { "rescore", cmd_rescore, "re-run the current rules over stored messages" },
  { "trail",   cmd_trail,   "the record of instructions and confirmations (trail verify)" },
  { "search",  cmd_search,  "full-text search over stored messages" },
  { "why",     cmd_why,     "why keel answered a message or stayed silent (MESSAGE: row id, Message-ID, .eml)" },
  { "instruction", cmd_instruction, "list instructions; mark them done, cancelled or open again" },
  { "promises", cmd_promises, "the promises you made in your sent mail (--json)" },
  { "confirm", cmd_confirm, "record a phone call's instructions and confirm them to the client" },
  { "invoice", cmd_invoice, "invoices and their chasing (add, paid, list, show, pause, resume, evidence)" },
  { "outbox",  cmd_outbox,  "list replies waiting, sent and failed" },
  { "digest",  cmd_digest,  "build today's digest (--send to send it)" },
  { "learn",   cmd_learn,   "build the learned models (learn train), show corrections (learn status)" },
  { "mark",    cmd_mark,    "tell keel a message was risky or fine (MESSAGE risky|fine)" },
  { "config",  cmd_config,  "check the configuration (config check)" },
  { "oauth",   cmd_oauth,   "get an account's first OAuth2 refresh token (oauth login ACCOUNT)" },
  { "backup",  cmd_backup,  "copy the database safely while the daemon runs (0600)" },
};

static void print_usage(FILE *out)
{
  fprintf(out, "Usage: keel [--help] [--version] COMMAND [OPTIONS] [ARGS]\n\n"
               "keel reads a virtual assistant's client mail, scores its tone and urgency,\n"
               "keeps the trail of instructions and tells her what needs her.\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nEvery command takes --config FILE, --verbose, --now TIME and --help,\n"
               "before or after the command name.\n"
               "See keel(1).\n");
}

/* Whether argv[i] is a global option, and how many argv slots it takes
 * (0: not one; 2: "--config FILE"; 1: "--verbose" or "--config=FILE"). */
static int global_option_width(int argc, char **argv, int i)
{
  static const char *const with_value[] = { "--config", "-c", "--now" };
  const char *arg = argv[i];
  if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0
      || g_str_has_prefix(arg, "--config=") || g_str_has_prefix(arg, "--now="))
    return 1;
  for (gsize k = 0; k < G_N_ELEMENTS(with_value); k++)
    if (strcmp(arg, with_value[k]) == 0)
      return i + 1 < argc ? 2 : 1;
  return 0;
}

/* Moves the global options written before the command ("keel --now T daemon")
 * after it ("keel daemon --now T"), where the command's own parser reads them,
 * so both orders mean the same. Rewrites argv in place; returns FALSE when an
 * option that is not global comes before the command. */
static gboolean main_hoist_command(int argc, char **argv)
{
  int first = 1;
  while (first < argc && argv[first][0] == '-') {
    int width = global_option_width(argc, argv, first);
    if (width == 0)
      return strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0
             || strcmp(argv[first], "--version") == 0;
    first += width;
  }
  if (first == 1 || first >= argc)
    return TRUE;
  char *command = argv[first];
  memmove(argv + 2, argv + 1, (gsize)(first - 1) * sizeof *argv);
  argv[1] = command;
  return TRUE;
}

int main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
  if (!main_hoist_command(argc, argv)) {
    fprintf(stderr, "keel: '%s' is not a global option (--config, --verbose, --now); "
                    "command options go after the command\n", argv[1]);
    return EX_USAGE;
  }
  if (argc < 2) {
    print_usage(stderr);
    return EX_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    print_usage(stdout);
    return EX_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("keel %s\n", KEEL_VERSION);
    return EX_OK;
  }
  if (argv[1][0] == '-') {
    fprintf(stderr, "keel: no command given after '%s' (see keel --help)\n", argv[1]);
    return EX_USAGE;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      g_mime_init();
      log_setup(FALSE);
      int rc = commands[i].run(argc - 1, argv + 1);
      g_mime_shutdown();
      return rc;
    }
  }
  fprintf(stderr, "keel: unknown command '%s' (see keel --help)\n", argv[1]);
  return EX_USAGE;
}
