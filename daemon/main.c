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
  { "threads", cmd_threads, "list stored threads" },
  { "parse",   cmd_parse,   "show what the parser makes of .eml files (--json)" },
  { "score",   cmd_score,   "score .eml files with the rules (--json, --explain)" },
  { "rules",   cmd_rules,   "check the rule files (rules check [DIR] [--profile DIR])" },
  { "rescore", cmd_rescore, "re-run the current rules over stored messages" },
  { "trail",   cmd_trail,   "the record of instructions and confirmations (trail verify)" },
  { "search",  cmd_search,  "full-text search over stored messages" },
  { "instruction", cmd_instruction, "mark an instruction done or cancelled" },
  { "confirm", cmd_confirm, "record a phone call's instructions and confirm them to the client" },
  { "outbox",  cmd_outbox,  "list replies waiting, sent and failed" },
  { "digest",  cmd_digest,  "build today's digest (--send to send it)" },
  { "learn",   cmd_learn,   "build the learned models (learn train), show corrections (learn status)" },
  { "mark",    cmd_mark,    "tell keel a message was risky or fine (MESSAGE risky|fine)" },
  { "config",  cmd_config,  "check the configuration (config check)" },
};

static void print_usage(FILE *out)
{
  fprintf(out, "Usage: keel [--help] [--version] COMMAND [OPTIONS] [ARGS]\n\n"
               "keel reads a virtual assistant's client mail, scores its tone and urgency,\n"
               "keeps the trail of instructions and tells her what needs her.\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nEvery command takes --config FILE, --verbose, --now TIME and --help.\n"
               "See keel(1).\n");
}

int main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
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
