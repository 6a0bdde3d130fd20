/* daemon/base/commands.h: the subcommands of the `keel` binary. Each lives in its
 * own daemon/cmd-*.c, parses its own options with cli_parse_options() (which
 * adds the global --config/--verbose/--now options) and returns a sysexits.h
 * code. main.c only dispatches. */
#pragma once

#include <glib.h>
#include <sysexits.h>

typedef struct {
  char *config_path; /* --config FILE */
  gboolean verbose;  /* --verbose */
  char *now;         /* --now TIME (ISO 8601): run as of this time */
} KeelGlobals;

/* Parses argv (argv[0] is the subcommand name) with `entries` plus the global
 * options. `parameter` and `summary` are shown by --help. Returns FALSE after
 * printing a one-line error to stderr (exit with EX_USAGE). */
gboolean cli_parse_options(int *argc, char ***argv, const char *parameter,
                           const char *summary, const GOptionEntry *entries,
                           KeelGlobals *globals);
void cli_globals_clear(KeelGlobals *globals);

/* The time to run as: --now when given, else the clock. Returns NULL and prints
 * an error when --now does not parse. */
GDateTime *cli_now(const KeelGlobals *globals);

/* The one parser of times typed on the command line (--now, --since, --date,
 * --until): 2026-03-13 (its midnight), 2026-03-13T08:00 or " 08:00",
 * seconds and zone optional; a time without a zone is in `zone`. NULL when
 * it does not parse. */
GDateTime *cli_parse_time(const char *text, GTimeZone *zone);

/* The zone of a time typed without one: [keel] timezone of the config the
 * options name (or the default config), else UTC. Caller owns it. */
GTimeZone *cli_zone(const KeelGlobals *globals);

typedef int (*KeelCommandFunc)(int argc, char **argv);

int cmd_parse(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_threads(int argc, char **argv);
int cmd_thread(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_rescore(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_trail(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_instruction(int argc, char **argv);
int cmd_promises(int argc, char **argv);
int cmd_confirm(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_digest(int argc, char **argv);
int cmd_invoice(int argc, char **argv);
int cmd_learn(int argc, char **argv);
int cmd_mark(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_oauth(int argc, char **argv);
