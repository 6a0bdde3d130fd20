/* daemon/record/rules-dir.h: the scoring rules of a directory, read from disk and
 * compiled by filters/rules.c. */
#pragma once

#include "filters/instructions.h"
#include "filters/rules.h"

/* Compiles every *.rules file of `dir` (sorted by name; instructions.rules and
 * deadlines.rules belong to the extractors and are left out) into one set. On
 * any mistake returns NULL and an error (KEEL_RULES_ERROR_INVALID) whose
 * message lists every `file:line:col: message`, one per line; an unreadable
 * directory or file gives KEEL_RULES_ERROR_IO. The models of `dir`/learned
 * (risky.model, tone.model, ...; none is fine) become its learned signals;
 * a model with a mistake refuses the set too. `dir`/deadlines.rules (none is
 * fine: deadline_days is then unknown) is compiled into the set for the
 * deadline_days signal; a mistake in it refuses the set. The caller owns the set. */
RuleSet *rules_load_dir(const char *dir, GError **error);

/* The models NAME.model of `dir` (a missing file or folder: no model for
 * that dimension). NULL and an error on an unreadable or broken model. */
LearnedSet *rules_load_learned(const char *dir, GError **error);

/* The instruction extractor's rules: `dir`/instructions.rules with the
 * deadline rules `rules` (from rules_load_dir(`dir`)) compiled already,
 * shared instead of compiled a second time; when `rules` has none,
 * `dir`/deadlines.rules as trail_load_instruction_rules() reads it (a missing
 * file is then an error). NULL and an error on any mistake. */
InstructionRules *rules_load_instructions(const char *dir, const RuleSet *rules, GError **error);
