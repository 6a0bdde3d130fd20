/* filters/instructions.h: the tasks a client asks for in a message's new text,
 * each with its deadline. Pure: rule text, the new text, the message's Date and
 * the client's calendar in; a list of instructions out. No clock, no files:
 * the caller reads rules/instructions.rules and rules/deadlines.rules and
 * passes their contents.
 *
 * Entry points:
 *   instruction_rules_compile()  both rule files' text -> InstructionRules
 *   instruction_rules_compile_sharing()  the same, sharing compiled deadline rules
 *   instructions_extract()       new text + Date + context -> GPtrArray of Instruction*
 *   instructions_to_json()       the `instructions` member of `keel score --json`
 *   instructions_split_units()   the sentence/list-item splitter (exposed for tests)
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "filters/deadlines.h"

#define KEEL_INSTRUCTION_ERROR (keel_instruction_error_quark())
GQuark keel_instruction_error_quark(void);
typedef enum {
  KEEL_INSTRUCTION_ERROR_RULES /* a rule file is wrong: message is `file:line:col: ...` */
} KeelInstructionError;

typedef struct {
  DeadlineContext dates; /* time zone (borrowed), date order, business day */
  gboolean automated;    /* machine-generated mail: never any instruction */
} InstructionContext;

/* UTC, UK dates, 09:00-17:30, a day with no time = 17:00, not automated. */
void instruction_context_init(InstructionContext *ctx);

typedef struct {
  char *text;          /* owned: the sentence or list item, trimmed */
  GDateTime *deadline; /* owned, in the client's zone; NULL when no date was given */
  char *deadline_iso;  /* owned, "YYYY-MM-DDTHH:MM" local, NULL with deadline */
  int urgency_hint;    /* 3 for "ASAP", "urgently", "as soon as you can"; else 0 */
} Instruction;

void instruction_free(Instruction *instruction);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Instruction, instruction_free)

typedef struct _InstructionRules InstructionRules;

/* Compiles the two rule files. `*_name` are used in error messages only.
 * Returns NULL with `error` set to `file:line:col: message` on any mistake. */
InstructionRules *instruction_rules_compile(const char *instructions_text,
                                            const char *instructions_name,
                                            const char *deadlines_text,
                                            const char *deadlines_name, GError **error);

/* instruction_rules_compile() with deadline rules already compiled (for the
 * deadline_days signal: rules_load_dir()), shared rather than compiled again;
 * takes a reference to `deadlines`. */
InstructionRules *instruction_rules_compile_sharing(const char *instructions_text,
                                                    const char *instructions_name,
                                                    DeadlineRules *deadlines, GError **error);
void instruction_rules_free(InstructionRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(InstructionRules, instruction_rules_free)

/* The instructions in `new_text`, in order. `message_date` is the message's
 * Date (any zone). Never NULL: an empty array when there are none (always for
 * automated mail). The caller owns the array, which frees its elements. */
GPtrArray *instructions_extract(const InstructionRules *rules, const char *new_text,
                                GDateTime *message_date, const InstructionContext *ctx);

/* Appends `"instructions": [{"text", "deadline" (ISO local or null), "urgency"}]`
 * to the object open at the end of `out` (json_put_*, filters/json-out.h). */
void instructions_to_json(const GPtrArray *instructions, GString *out);

/* The units instructions are looked for in: each list item whole, and each
 * sentence of other paragraphs. Returns an array of owned strings. */
GPtrArray *instructions_split_units(const char *new_text);
