/* daemon/record/rules-dir.c: reads a rules directory (every *.rules file but the
 * extractors', sorted by name) and hands the texts to rules_compile() in the
 * pure core, with the learned models of its learned/ folder (NAME.model, read
 * by learned_model_parse()), and its deadlines.rules for the deadline_days
 * signal (filters/deadlines.c), which the instruction extractor shares
 * (rules_load_instructions: one compile of that file, not two). The only
 * place the scoring rules touch the file system.
 * Must not: compile or interpret rules itself. */
#include <string.h>
#include "daemon/record/rules-dir.h"
#include "daemon/record/trail.h"
#include "filters/deadlines.h"

static gint rules_dir_compare(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of the rules directory read by the extractors (filters/instructions.c,
 * filters/deadlines.c) in their own format; the scoring set leaves them alone. */
static const char *const rules_extractor_files[] = { "instructions.rules", "deadlines.rules",
                                                     "invoices.rules", "promises.rules", NULL };

/* The *.rules files of `dir` but the extractors', sorted; NULL and an error when none. */
static GPtrArray *rules_list_dir(const char *dir, GError **error)
{
  g_autoptr(GDir) handle = g_dir_open(dir, 0, error);
  if (!handle) {
    g_prefix_error(error, "cannot read the rules directory: ");
    if (error && *error)
      (*error)->domain = KEEL_RULES_ERROR, (*error)->code = KEEL_RULES_ERROR_IO;
    return NULL;
  }
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(handle)))
    if (g_str_has_suffix(name, ".rules") && name[0] != '.' &&
        !g_strv_contains(rules_extractor_files, name))
      g_ptr_array_add(paths, g_build_filename(dir, name, NULL));
  if (paths->len == 0) {
    g_set_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_IO, "%s: no *.rules files", dir);
    return NULL;
  }
  g_ptr_array_sort(paths, rules_dir_compare);
  return g_steal_pointer(&paths);
}

/* Sets KEEL_RULES_ERROR_IO from a file error. */
static void rules_dir_io_error(GError **error, GError *local)
{
  g_set_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_IO, "%s", local->message);
  g_error_free(local);
}

LearnedSet *rules_load_learned(const char *dir, GError **error)
{
  g_autoptr(LearnedSet) set = learned_set_new();
  for (guint i = 0; i < LEARNED_COUNT; i++) {
    g_autofree char *name = g_strconcat(learned_dimension_name(i), ".model", NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    GError *local = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
      continue;
    if (!g_file_get_contents(path, &text, NULL, &local)) {
      rules_dir_io_error(error, local);
      return NULL;
    }
    set->models[i] = learned_model_parse(text, path, &local);
    if (!set->models[i]) {
      g_set_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID, "%s", local->message);
      g_error_free(local);
      return NULL;
    }
    set->models[i]->dimension = i;
  }
  return g_steal_pointer(&set);
}

/* `dir`/deadlines.rules compiled for the deadline_days signal (the same file
 * the instruction extractor reads); NULL without error when there is none. */
static gboolean rules_dir_deadlines(const char *dir, DeadlineRules **out, GError **error)
{
  g_autofree char *path = g_build_filename(dir, "deadlines.rules", NULL);
  g_autofree char *text = NULL;
  GError *local = NULL;
  *out = NULL;
  if (!g_file_test(path, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!g_file_get_contents(path, &text, NULL, &local)) {
    rules_dir_io_error(error, local);
    return FALSE;
  }
  *out = deadline_rules_compile(text, path, &local);
  if (*out)
    return TRUE;
  g_set_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID, "%s", local->message);
  g_error_free(local);
  return FALSE;
}

/* The rule set of `paths` (texts in `texts`) with `dir`/learned's models. */
static RuleSet *rules_dir_compile(const char *dir, GPtrArray *paths, GPtrArray *texts,
                                  GError **error)
{
  g_autofree char *learned_dir = g_build_filename(dir, "learned", NULL);
  g_autoptr(LearnedSet) learned = rules_load_learned(learned_dir, error);
  if (!learned)
    return NULL;
  g_autoptr(DeadlineRules) deadlines = NULL;
  if (!rules_dir_deadlines(dir, &deadlines, error))
    return NULL;
  RuleSet *rules = rules_compile((const char *const *)paths->pdata,
                                 (const char *const *)texts->pdata, paths->len, error);
  if (rules) {
    rules_set_learned(rules, g_steal_pointer(&learned));
    rules_set_deadlines(rules, g_steal_pointer(&deadlines));
  }
  return rules;
}

RuleSet *rules_load_dir(const char *dir, GError **error)
{
  g_return_val_if_fail(dir != NULL, NULL);
  g_autoptr(GPtrArray) paths = rules_list_dir(dir, error);
  if (!paths)
    return NULL;
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < paths->len; i++) {
    char *text = NULL;
    GError *local = NULL;
    if (!g_file_get_contents(g_ptr_array_index(paths, i), &text, NULL, &local)) {
      rules_dir_io_error(error, local);
      return NULL;
    }
    g_ptr_array_add(texts, text);
  }
  return rules_dir_compile(dir, paths, texts, error);
}


InstructionRules *rules_load_instructions(const char *dir, const RuleSet *rules, GError **error)
{
  if (!rules->deadlines)
    return trail_load_instruction_rules(dir, error);
  g_autofree char *path = g_build_filename(dir, "instructions.rules", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, error))
    return NULL;
  return instruction_rules_compile_sharing(text, path, rules->deadlines, error);
}
