/* daemon/cli/rules-check.c: one check of a rules directory for `keel rules
 * check` and `keel config check`, so that "rules OK" means the daemon will
 * load all of it: the scoring rules (record/rules-dir.c), the instruction and
 * deadline extractors (record/trail.c), and every reply template rendered with
 * sample values (outbox/replies.c), so a typo such as {{frist_name}} in
 * confirm.txt is caught here and not by a confirmation that never goes out.
 * Collects every problem before failing. Never writes a file. */
#include <string.h>
#include "daemon/cli/rules-check.h"
#include "daemon/outbox/replies.h"
#include "daemon/record/rules-dir.h"
#include "daemon/record/trail.h"
#include "daemon/record/word.h"

/* confirm.txt rendered as a real confirmation would be, with sample values. */
static gboolean rules_check_confirm(const char *path, const char *text, GError **error)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new();
  ReplyItem item = { .text = "send the March invoices", .deadline = NULL, .asap = FALSE };
  g_ptr_array_add(items, &item);
  ReplyVoice voice = { .first_name = "Bob", .greeting = "Hi Bob,", .to_name = "Bob Reid", .va_name = "Jo Bloggs",
                      .business = "Bloggs Virtual Assistance",
                      .signature = "Best wishes,\nJo Bloggs\nBloggs Virtual Assistance" };
  g_autofree char *body = replies_confirmation_body(text, path, "Acme Lettings", "Invoices",
                                                    items, &voice, error);
  return body != NULL;
}

/* Every templates/ *.txt: readable, and confirm.txt renders. Problems are
 * appended to `problems`; returns the number of templates. */
static guint rules_check_templates(const char *dir, GPtrArray *problems)
{
  g_autofree char *tdir = g_build_filename(dir, "templates", NULL);
  g_autoptr(GDir) handle = g_dir_open(tdir, 0, NULL);
  guint count = 0;
  gboolean have_confirm = FALSE;
  const char *name;
  while (handle && (name = g_dir_read_name(handle))) {
    if (!g_str_has_suffix(name, ".txt"))
      continue;
    g_autofree char *path = g_build_filename(tdir, name, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    count++;
    if (!g_file_get_contents(path, &text, NULL, &local))
      g_ptr_array_add(problems, g_strdup_printf("%s: cannot be read: %s", path, local->message));
    else if (strcmp(name, "confirm.txt") == 0 && (have_confirm = TRUE)
             && !rules_check_confirm(path, text, &local))
      g_ptr_array_add(problems, g_strdup(local->message));
  }
  if (!have_confirm)
    g_ptr_array_add(problems, g_strdup_printf("%s/confirm.txt: missing: no confirmation can be "
                                              "written without it", tdir));
  return count;
}

/* Adds `message` to `problems` unless it is there already: deadlines.rules is
 * read by the scoring set (deadline_days) and by both extractors, and one
 * mistake should be reported once. */
static void rules_check_add(GPtrArray *problems, const char *message)
{
  if (!g_ptr_array_find_with_equal_func(problems, message, g_str_equal, NULL))
    g_ptr_array_add(problems, g_strdup(message));
}

gboolean rules_check_dir(const char *dir, RulesCheckCounts *counts, GError **error)
{
  if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_IO,
                "%s: the rules directory does not exist (set rules = in keel.conf)", dir);
    return FALSE;
  }
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  gboolean io_failed = FALSE;
  g_autoptr(GError) local = NULL;
  g_autoptr(RuleSet) rules = rules_load_dir(dir, &local);
  if (!rules) {
    io_failed = local->code == KEEL_RULES_ERROR_IO;
    rules_check_add(problems, local->message);
    g_clear_error(&local);
  }
  g_autoptr(InstructionRules) extractors = trail_load_instruction_rules(dir, &local);
  if (!extractors)
    rules_check_add(problems, local->message);
  g_clear_error(&local);
  g_autofree char *promises = g_build_filename(dir, "promises.rules", NULL);
  g_autoptr(PromiseRules) word = g_file_test(promises, G_FILE_TEST_EXISTS)
    ? word_load_rules(dir, &local) : NULL;
  if (local)
    rules_check_add(problems, local->message);
  counts->templates = rules_check_templates(dir, problems);
  counts->rules = rules ? rules_count(rules) : 0;
  counts->files = rules ? rules_file_count(rules) : 0;
  if (problems->len == 0)
    return TRUE;
  g_ptr_array_add(problems, NULL);
  g_autofree char *joined = g_strjoinv("\n", (char **)problems->pdata);
  g_set_error_literal(error, KEEL_RULES_ERROR,
                      io_failed ? KEEL_RULES_ERROR_IO : KEEL_RULES_ERROR_INVALID, joined);
  return FALSE;
}
