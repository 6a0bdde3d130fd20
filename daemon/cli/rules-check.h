/* daemon/cli/rules-check.h: everything in a rules directory that the daemon
 * will load, checked the way the daemon loads it: the scoring rules, the
 * instruction and deadline extractors, and the reply templates. Used by
 * `keel rules check` and `keel config check`. Reads files; writes nothing. */
#pragma once

#include <glib.h>

/* What a rules directory holds, once it has checked out. */
typedef struct {
  guint rules;      /* scoring rules */
  guint files;      /* scoring rule files */
  guint templates;  /* reply templates (templates/ *.txt) */
} RulesCheckCounts;

/* Checks `dir`. Returns TRUE and fills `counts`, or FALSE with an error
 * (KEEL_RULES_ERROR_IO when the directory or a file cannot be read,
 * KEEL_RULES_ERROR_INVALID otherwise) listing every problem, one per line,
 * as `file:line[:col]: message`. */
gboolean rules_check_dir(const char *dir, RulesCheckCounts *counts, GError **error);
