/* daemon/cli/store-cli.h: what the store's subcommands (`keel import`, `keel
 * threads`) share: finding the config and the database from the options.
 * Prints its own one-line errors; no other logic. */
#pragma once

#include "daemon/base/commands.h"
#include "daemon/base/config.h"
#include "daemon/store/store.h"

/* Loads the config when one was asked for (--config, $KEEL_CONFIG) or the
 * default /etc/keel/keel.conf exists; `*config` is NULL when there is none.
 * Returns EX_OK, or EX_CONFIG after printing the problems. */
int store_cli_load_config(const KeelGlobals *globals, KeelConfig **config);

/* store_cli_load_config() with `rules` (a --rules option; NULL: none) in place
 * of the config's `rules` key (config_load_with_rules()). */
int store_cli_load_config_with_rules(const KeelGlobals *globals, const char *rules,
                                     KeelConfig **config);

/* Opens the database `database` (--database), else the config's. Returns
 * NULL after printing why, with `*exit_code` set (EX_USAGE: no path given,
 * EX_TEMPFAIL: busy, EX_CANTCREAT: cannot open, EX_SOFTWARE: schema). */
Store *store_cli_open(const char *database, const KeelConfig *config, int *exit_code);

/* A sysexits code for a store error. */
int store_cli_exit_code(const GError *error);
