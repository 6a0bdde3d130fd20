/* filters/instructions.c: finds each task a client asks for in the new text of
 * a message, and its deadline.
 *
 * How it works, in four passes:
 *  1. Units (instructions_split_units): the text is cut into paragraphs at
 *     blank lines; a numbered or bulleted list item is one unit, whole; other
 *     paragraphs are cut into sentences (not at "e.g.", "Mr.", "9.30", URLs or
 *     e-mail addresses, whose dots are not followed by a space and a capital).
 *  2. Scores: rules/instructions.rules is a list of regex rules, each adding
 *     points to one dimension: `lead` (words stripped from the start before
 *     the other rules look: "Jo,", "Also", "And"), `instruction` (an
 *     imperative, "could you", "I need", minus points for marketing calls to
 *     action, willingness questions, withdrawn tasks...), `split` (a point
 *     where one sentence holds two tasks: ", and then"), `followup` (a sentence
 *     that only adds to the task before it: "Need it by noon"), `lends` (below
 *     zero: a sentence whose time is someone else's, "They need to confirm by
 *     tonight"). A unit is an instruction when its `instruction` points reach
 *     the file's `dimension instruction flag >= N`. A unit that ends in ':' and reaches
 *     it ("Could you please:") is a list intro: the items after it are tasks.
 *     Each unit is scanned once for the literals of the rules' regexes
 *     (filters/prefilter.h), and a rule none of whose literals the unit holds
 *     is not run on it, nor on any part of it.
 *  3. Assembly: a follow-up or a very short instruction ("Copy me in.") joins
 *     the task before it; a sentence that is no task but names a time, as in "Ideally
 *     by Wednesday", or "End of next week is fine", gives that deadline to the
 *     nearest earlier task that has none (preferring one sharing a word).
 *  4. Deadlines: deadlines.c over each task's text.
 * The rule files are compiled by the rules engine (filters/rules.h) and seen
 * through the flat view in deadlines.c.
 *
 * Must never: read files, look at the clock, or touch the network. All
 * English lives in the rule files; the C here only knows about structure.
 */
#include "filters/instructions.h"

#include <string.h>
#include "filters/rules.h"
#include "filters/json-out.h"

G_DEFINE_QUARK(keel-instruction-error-quark, keel_instruction_error)

#define INSTRUCTIONS_SHORT_WORDS 4
#define INSTRUCTIONS_MAX_LEADS 4
#define INSTRUCTIONS_LEND_WORDS 12

struct _InstructionRules {
  LiteRuleSet *set;          /* owned, rules/instructions.rules */
  DeadlineRules *deadlines;  /* owned, rules/deadlines.rules */
  int threshold;             /* `dimension instruction flag >= N`, default 3 */
  int *prefilter;            /* owned, per rule of `set`: its regex's id in the compiled
                                set's literal prefilter (filters/prefilter.h) */
};

void instruction_context_init(InstructionContext *ctx)
{
  deadline_context_init(&ctx->dates);
  ctx->automated = FALSE;
}

void instruction_free(Instruction *instruction)
{
  if (instruction == NULL)
    return;
  g_free(instruction->text);
  g_clear_pointer(&instruction->deadline, g_date_time_unref);
  g_free(instruction->deadline_iso);
  g_free(instruction);
}

void instruction_rules_free(InstructionRules *rules)
{
  if (rules == NULL)
    return;
  lite_rules_free(rules->set);
  deadline_rules_free(rules->deadlines);
  g_free(rules->prefilter);
  g_free(rules);
}

static gboolean instructions_check_dimensions(LiteRuleSet *set, const char *name, GError **error)
{
  static const char *const known[] = {"lead", "instruction", "split", "followup", "lends", NULL};
  for (guint i = 0; i < set->rules->len; i++) {
    LiteRule *rule = g_ptr_array_index(set->rules, i);
    if (!g_strv_contains(known, rule->dimension)) {
      g_set_error(error, KEEL_INSTRUCTION_ERROR, KEEL_INSTRUCTION_ERROR_RULES,
                  "%s:%d:1: rule %s adds to unknown dimension \"%s\" (use lead, instruction, "
                  "split, followup or lends)", name, rule->line, rule->name, rule->dimension);
      return FALSE;
    }
  }
  return TRUE;
}

/* Each rule's prefilter id, found through its regex in the compiled set. */
static int *instructions_prefilter_ids(const LiteRuleSet *set)
{
  g_autoptr(GHashTable) ids = g_hash_table_new(NULL, NULL);
  for (guint r = 0; r < rules_count(set->compiled); r++) {
    const RulesRule *rule = rules_get(set->compiled, r);
    for (guint i = 0; i < rule->looks->len; i++) {
      const RulesLook *look = g_ptr_array_index(rule->looks, i);
      if (look->code != NULL) /* stored + 2: PREFILTER_ALWAYS is -1, and NULL means absent */
        g_hash_table_insert(ids, look->code, GINT_TO_POINTER(look->prefilter + 2));
    }
  }
  int *out = g_new(int, set->rules->len + 1);
  for (guint i = 0; i < set->rules->len; i++) {
    const LiteRule *rule = g_ptr_array_index(set->rules, i);
    gpointer id = g_hash_table_lookup(ids, rule->code);
    out[i] = id != NULL ? GPOINTER_TO_INT(id) - 2 : PREFILTER_ALWAYS;
  }
  return out;
}

/* Which of the rules' literals `text` holds: a rule whose literals it lacks
 * cannot match it, nor any part of it. */
static PrefilterSeen *instructions_seen(const InstructionRules *rules, const char *text)
{
  return prefilter_scan(rules->set->compiled->prefilter, text, strlen(text));
}

static gboolean instructions_may_match(const InstructionRules *rules, guint rule,
                                       const PrefilterSeen *seen)
{
  return prefilter_may_match(rules->set->compiled->prefilter, rules->prefilter[rule], seen);
}

/* The instruction rules of `instructions_text` with `deadlines` (a reference
 * taken over), or, when `deadlines` is NULL, with `deadlines_text` compiled;
 * NULL and `error` on any mistake. */
static InstructionRules *instructions_compile(const char *instructions_text,
                                              const char *instructions_name,
                                              DeadlineRules *deadlines,
                                              const char *deadlines_text,
                                              const char *deadlines_name, GError **error)
{
  g_autoptr(InstructionRules) rules = g_new0(InstructionRules, 1);
  rules->deadlines = deadlines;
  GError *inner = NULL;
  rules->set = lite_rules_read(instructions_text, instructions_name, &inner);
  if (rules->set != NULL && instructions_check_dimensions(rules->set, instructions_name, &inner)
      && rules->deadlines == NULL)
    rules->deadlines = deadline_rules_compile(deadlines_text, deadlines_name, &inner);
  if (inner != NULL) {
    g_set_error_literal(error, KEEL_INSTRUCTION_ERROR, KEEL_INSTRUCTION_ERROR_RULES,
                        inner->message);
    g_error_free(inner);
    return NULL;
  }
  rules->prefilter = instructions_prefilter_ids(rules->set);
  gpointer threshold = NULL;
  rules->threshold = 3;
  if (g_hash_table_lookup_extended(rules->set->thresholds, "instruction", NULL, &threshold))
    rules->threshold = GPOINTER_TO_INT(threshold);
  return g_steal_pointer(&rules);
}

InstructionRules *instruction_rules_compile(const char *instructions_text,
                                            const char *instructions_name,
                                            const char *deadlines_text,
                                            const char *deadlines_name, GError **error)
{
  return instructions_compile(instructions_text, instructions_name, NULL, deadlines_text,
                              deadlines_name, error);
}

InstructionRules *instruction_rules_compile_sharing(const char *instructions_text,
                                                    const char *instructions_name,
                                                    DeadlineRules *deadlines, GError **error)
{
  g_return_val_if_fail(deadlines != NULL, NULL);
  return instructions_compile(instructions_text, instructions_name,
                              deadline_rules_ref(deadlines), NULL, NULL, error);
}

/* ======================= pass 1: units ======================= */

typedef struct {
  char *text;          /* owned, trimmed, whitespace collapsed */
  int paragraph;
  gboolean item;       /* a whole list item */
  gboolean continues;  /* a later piece of a split sentence */
} Unit;

static void unit_free(gpointer data)
{
  Unit *unit = data;
  g_free(unit->text);
  g_free(unit);
}

static int instructions_count_words(const char *text)
{
  int words = 0;
  gboolean in_word = FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
    gboolean alnum = g_unichar_isalnum(g_utf8_get_char(p));
    if (alnum && !in_word)
      words++;
    in_word = alnum;
  }
  return words;
}

/* Length of a list marker at the start of `line` ("1.", "2)", "-", "•"), 0 if none. */
static gsize instructions_list_marker(const char *line)
{
  static const char *const bullets[] = {"- ", "* ", "\u2022 ", "\u00b7 ", "\u2013 ", "\u2014 ",
                                        "\u25aa ", "\u25e6 ", "\u25cf ", "o ", NULL};
  const char *p = line;
  while (*p == ' ' || *p == '\t')
    p++;
  for (int i = 0; bullets[i] != NULL; i++)
    if (g_str_has_prefix(p, bullets[i]))
      return (gsize)(p - line) + strlen(bullets[i]);
  const char *q = p;
  while (g_ascii_isdigit(*q) && q - p < 2)
    q++;
  if (q > p && (*q == '.' || *q == ')') && (q[1] == ' ' || q[1] == '\t'))
    return (gsize)(q + 2 - line);
  if (*p == '(' && g_ascii_isalnum(p[1]) && p[2] == ')' && p[3] == ' ')
    return (gsize)(p + 4 - line);
  if (p[0] >= 'a' && p[0] <= 'h' && p[1] == ')' && p[2] == ' ')
    return (gsize)(p + 3 - line);
  return 0;
}

/* A dot that does not end a sentence: "e.g.", "Mr.", "No. 14", an initial. */
static gboolean instructions_abbreviation(const char *start, const char *dot)
{
  static const char *const words[] = {"e.g", "i.e", "eg", "ie", "mr", "mrs", "ms", "dr", "prof",
                                      "vs", "approx", "no", "nos", "cf", "viz", "st", "fig",
                                      "ref", "tel", "incl", "a.m", "p.m", NULL};
  const char *w = dot;
  while (w > start && !g_ascii_isspace(w[-1]) && w[-1] != '(')
    w--;
  g_autofree char *word = g_ascii_strdown(w, dot - w);
  if (strlen(word) == 1 && g_ascii_isalpha(word[0]))
    return TRUE;
  return g_strv_contains(words, word);
}

/* Where the sentence that starts at `p` ends (exclusive), or NULL at the end. */
static const char *instructions_sentence_end(const char *start, const char *p)
{
  for (; *p != '\0'; p++) {
    if (*p != '.' && *p != '!' && *p != '?')
      continue;
    const char *mark = p;
    while (p[1] == '.' || p[1] == '!' || p[1] == '?' || p[1] == ')' || p[1] == '"' ||
           p[1] == '\'')
      p++;
    if (p[1] != ' ')
      continue;
    const char *next = p + 1;
    while (*next == ' ')
      next++;
    gunichar c = g_utf8_get_char(next);
    if (*mark == '.' && (g_unichar_islower(c) || instructions_abbreviation(start, mark)))
      continue;
    return p + 1;
  }
  return NULL;
}

static void instructions_add_unit(GPtrArray *units, const char *text, gsize len, int paragraph,
                                  gboolean item)
{
  g_autofree char *copy = g_strstrip(g_strndup(text, len));
  if (*copy == '\0')
    return;
  Unit *unit = g_new0(Unit, 1);
  unit->text = g_steal_pointer(&copy);
  unit->paragraph = paragraph;
  unit->item = item;
  g_ptr_array_add(units, unit);
}

static void instructions_add_sentences(GPtrArray *units, const char *prose, int paragraph)
{
  const char *start = prose;
  const char *end;
  while ((end = instructions_sentence_end(prose, start)) != NULL) {
    instructions_add_unit(units, start, end - start, paragraph, FALSE);
    start = end;
  }
  instructions_add_unit(units, start, strlen(start), paragraph, FALSE);
}

/* A line that stands alone: a greeting ("Hi Jo,") or a sign-off ("Cheers"):
 * three words or fewer, after a line that ended a sentence (or first), and
 * before a line that starts a new one (or last). A short wrapped line in the
 * middle of a sentence ("contract to Bob") does not. */
static gboolean instructions_line_alone(const char *line, const char *previous, const char *next)
{
  g_autofree char *copy = g_strstrip(g_strdup(line));
  gsize len = strlen(copy);
  if (len == 0 || instructions_count_words(copy) > 3)
    return FALSE;
  char last = copy[len - 1];
  if (last != ',' && last != '!' && !g_ascii_isalnum(last))
    return FALSE;
  gsize plen = previous != NULL ? strlen(previous) : 0;
  if (plen > 0 && strchr(".!?:,", previous[plen - 1]) == NULL)
    return FALSE;
  return next == NULL || !g_unichar_islower(g_utf8_get_char(next));
}

static void instructions_flush(GPtrArray *units, GString *buffer, int paragraph, gboolean item)
{
  if (buffer->len == 0)
    return;
  if (item)
    instructions_add_unit(units, buffer->str, buffer->len, paragraph, TRUE);
  else
    instructions_add_sentences(units, buffer->str, paragraph);
  g_string_truncate(buffer, 0);
}

static void instructions_append_line(GString *buffer, const char *line)
{
  if (buffer->len > 0)
    g_string_append_c(buffer, ' ');
  g_string_append(buffer, line);
}

/* One paragraph's lines: list items whole, prose as sentences. */
static void instructions_paragraph_units(GPtrArray *units, char **lines, int paragraph)
{
  g_autoptr(GString) buffer = g_string_new(NULL);
  gboolean item = FALSE;
  for (char **l = lines; *l != NULL; l++) {
    gsize marker = instructions_list_marker(*l);
    if (marker > 0) {
      instructions_flush(units, buffer, paragraph, item);
      item = TRUE;
      instructions_append_line(buffer, *l + marker);
    } else if (!item && instructions_line_alone(*l, l == lines ? NULL : l[-1], l[1])) {
      instructions_flush(units, buffer, paragraph, item);
      instructions_add_unit(units, *l, strlen(*l), paragraph, FALSE);
    } else {
      instructions_append_line(buffer, *l);
    }
  }
  instructions_flush(units, buffer, paragraph, item);
}

/* TRUE when a paragraph break inside a sentence is an artefact (HTML turned
 * into text): the first part ends with no stop and the next starts small. */
static gboolean instructions_broken_paragraph(const char *before, const char *after)
{
  static const char *const joiners[] = {"by", "to", "on", "at", "for", "the", "a", "an", "and",
                                        "or", "of", "in", "with", "from", "before", "until",
                                        "your", "my", "our", NULL};
  gsize len = strlen(before);
  if (len == 0 || *after == '\0' || strchr(".!?:", before[len - 1]) != NULL)
    return FALSE;
  if (strchr(",;.)", *after) != NULL || g_unichar_islower(g_utf8_get_char(after)))
    return TRUE;
  const char *w = before + len;
  while (w > before && g_ascii_isalpha(w[-1]))
    w--;
  g_autofree char *word = g_ascii_strdown(w, -1);
  return g_strv_contains(joiners, word);
}

/* Paragraphs as single strings of lines joined by '\n'. */
static GPtrArray *instructions_paragraphs(const char *text)
{
  g_autoptr(GPtrArray) paragraphs = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) current = g_string_new(NULL);
  g_auto(GStrv) lines = g_strsplit_set(text, "\r\n", -1);
  for (char **l = lines; ; l++) {
    g_autofree char *line = *l != NULL ? g_strstrip(g_strdup(*l)) : NULL;
    if (line != NULL && *line != '\0') {
      if (current->len > 0)
        g_string_append_c(current, '\n');
      g_string_append(current, line);
      continue;
    }
    if (current->len > 0) {
      const char *last = paragraphs->len > 0 ? g_ptr_array_index(paragraphs, paragraphs->len - 1) : NULL;
      if (last != NULL && instructions_broken_paragraph(last, current->str)) {
        char *joined = g_strconcat(last, " ", current->str, NULL);
        g_free(g_ptr_array_steal_index(paragraphs, paragraphs->len - 1));
        g_ptr_array_add(paragraphs, joined);
      } else {
        g_ptr_array_add(paragraphs, g_strdup(current->str));
      }
      g_string_truncate(current, 0);
    }
    if (line == NULL && *l == NULL)
      break;
  }
  return g_steal_pointer(&paragraphs);
}

static GPtrArray *instructions_units(const char *new_text)
{
  GPtrArray *units = g_ptr_array_new_with_free_func(unit_free);
  g_autoptr(GPtrArray) paragraphs = instructions_paragraphs(new_text);
  for (guint i = 0; i < paragraphs->len; i++) {
    g_auto(GStrv) lines = g_strsplit(g_ptr_array_index(paragraphs, i), "\n", -1);
    instructions_paragraph_units(units, lines, (int)i);
  }
  return units;
}

GPtrArray *instructions_split_units(const char *new_text)
{
  g_autoptr(GPtrArray) units = instructions_units(new_text != NULL ? new_text : "");
  GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < units->len; i++)
    g_ptr_array_add(texts, g_strdup(((Unit *)g_ptr_array_index(units, i))->text));
  return texts;
}

/* ======================= pass 2: scores ======================= */

/* `text` without the words `lead` rules match at its start ("Jo, also").
 * `seen`: the literals of `text`. */
static const char *instructions_strip_leads(const InstructionRules *rules, const char *text,
                                            pcre2_match_data *match, const PrefilterSeen *seen)
{
  for (int round = 0; round < INSTRUCTIONS_MAX_LEADS; round++) {
    gboolean stripped = FALSE;
    for (guint i = 0; i < rules->set->rules->len && !stripped; i++) {
      const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
      if (strcmp(rule->dimension, "lead") != 0 || !instructions_may_match(rules, i, seen))
        continue;
      g_autoptr(GError) error = NULL;
      if (lite_rule_match(rule, text, 0, match, &error) != 1)
        continue;
      PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
      if (ovector[0] == 0 && ovector[1] > 0 && text[ovector[1]] != '\0') {
        text += ovector[1];
        stripped = TRUE;
      }
    }
    if (!stripped)
      break;
  }
  return text;
}

/* The points `dimension` rules give `core`; `sign` > 0 counts only the
 * rules that add, < 0 only those that take away, 0 all of them. `seen`: the
 * literals of `core` (or of a text it is part of). */
static int instructions_points(const InstructionRules *rules, const char *core,
                               const char *dimension, int sign, pcre2_match_data *match,
                               const PrefilterSeen *seen)
{
  int points = 0;
  guint32 options = g_utf8_validate(core, -1, NULL) ? PCRE2_NO_UTF_CHECK : 0;
  for (guint i = 0; i < rules->set->rules->len; i++) {
    const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
    if ((sign > 0 && rule->points <= 0) || (sign < 0 && rule->points > 0) ||
        strcmp(rule->dimension, dimension) != 0 || !instructions_may_match(rules, i, seen))
      continue;
    g_autoptr(GError) error = NULL;
    int rc = lite_rule_match_with(rule, core, 0, options, match, &error);
    if (rc < 0)
      g_warning("%s", error->message);
    if (rc == 1)
      points += rule->points;
  }
  return points;
}

/* TRUE when `core` (a unit without its leads) is a task: its `instruction`
 * points plus `bonus` reach the threshold. The rules that take points away
 * run only when the ones that add could reach it (they cannot raise it). */
static gboolean instructions_is_task(const InstructionRules *rules, const char *core, int bonus,
                                     pcre2_match_data *match, const PrefilterSeen *seen)
{
  int points = bonus + instructions_points(rules, core, "instruction", 1, match, seen);
  if (points < rules->threshold)
    return FALSE;
  return points + instructions_points(rules, core, "instruction", -1, match, seen) >=
         rules->threshold;
}

/* Cuts `unit` where `split` rules match; the pieces replace it in `out`. */
static void instructions_split_unit(const InstructionRules *rules, Unit *unit, GPtrArray *out,
                                    pcre2_match_data *match)
{
  g_autofree char *rest = g_strdup(unit->text);
  gboolean continues = FALSE;
  g_autofree PrefilterSeen *seen = unit->item ? NULL : instructions_seen(rules, unit->text);
  for (guint i = 0; i < rules->set->rules->len; i++) {
    const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
    if (strcmp(rule->dimension, "split") != 0 || unit->item || !instructions_may_match(rules, i, seen))
      continue;
    g_autoptr(GError) error = NULL;
    while (lite_rule_match(rule, rest, 0, match, &error) == 1) {
      PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
      if (ovector[0] == 0 || ovector[1] <= ovector[0] || rest[ovector[1]] == '\0')
        break;
      Unit *piece = g_new0(Unit, 1);
      *piece = (Unit){g_strstrip(g_strndup(rest, ovector[0])), unit->paragraph, FALSE, continues};
      g_ptr_array_add(out, piece);
      char *tail = g_strdup(rest + ovector[1]);
      g_free(rest);
      rest = tail;
      continues = TRUE;
    }
  }
  Unit *last = g_new0(Unit, 1);
  *last = (Unit){g_strstrip(g_steal_pointer(&rest)), unit->paragraph, unit->item, continues};
  g_ptr_array_add(out, last);
}

/* ======================= pass 3: assembly ======================= */

typedef struct {
  GString *text;      /* owned */
  int paragraph;      /* of its first unit */
  guint last_unit;    /* index of the last unit that joined it */
  Deadline deadline;  /* owned contents */
  gboolean lent;      /* deadline given by another sentence */
} Draft;

static void draft_free(gpointer data)
{
  Draft *draft = data;
  g_string_free(draft->text, TRUE);
  deadline_clear(&draft->deadline);
  g_free(draft);
}

typedef struct {
  const InstructionRules *rules;
  GDateTime *sent;
  const InstructionContext *ctx;
  GPtrArray *drafts;     /* of Draft* */
  gboolean intro_open;   /* a "Could you please:" intro is waiting for its items */
  gboolean items_seen;
  const Unit *intro;     /* borrowed: that intro, a task itself if no item follows */
  guint intro_index;
  pcre2_match_data *match; /* borrowed: shared by every rule of the extraction */
} Assembly;

static void assembly_find_deadline(Assembly *a, const char *text, Deadline *out)
{
  g_autoptr(GError) error = NULL;
  if (!deadline_find(a->rules->deadlines, text, a->sent, &a->ctx->dates, out, &error))
    g_warning("%s", error->message);
}

static void assembly_refresh(Assembly *a, Draft *draft)
{
  if (draft->lent)
    return;
  deadline_clear(&draft->deadline);
  assembly_find_deadline(a, draft->text->str, &draft->deadline);
}

static Draft *assembly_last(Assembly *a)
{
  return a->drafts->len > 0 ? g_ptr_array_index(a->drafts, a->drafts->len - 1) : NULL;
}

static void assembly_join(Assembly *a, Draft *draft, const Unit *unit, guint index)
{
  g_string_append_c(draft->text, ' ');
  g_string_append(draft->text, unit->text);
  draft->last_unit = index;
  assembly_refresh(a, draft);
}

static void assembly_start(Assembly *a, const Unit *unit, guint index)
{
  Draft *draft = g_new0(Draft, 1);
  draft->text = g_string_new(unit->text);
  draft->paragraph = unit->paragraph;
  draft->last_unit = index;
  assembly_refresh(a, draft);
  g_ptr_array_add(a->drafts, draft);
}

/* How many 4-letter word stems `a` and `b` share (words of 4+ letters). */
static int instructions_shared_stems(const char *a, const char *b)
{
  g_autofree char *la = g_utf8_strdown(a, -1);
  g_autofree char *lb = g_utf8_strdown(b, -1);
  g_auto(GStrv) words = g_regex_split_simple("[^[:alpha:]]+", la, 0, 0);
  int shared = 0;
  for (char **w = words; *w != NULL; w++) {
    if (strlen(*w) < 4)
      continue;
    g_autofree char *stem = g_strndup(*w, 4);
    if (strstr(lb, stem) != NULL)
      shared++;
  }
  return shared;
}

/* A short sentence that is no task but names a time: the deadline goes to the
 * nearest earlier task of this or the last paragraph that has no date. */
static void assembly_lend(Assembly *a, const Unit *unit, Deadline *found)
{
  Draft *target = NULL;
  int best = -1;
  for (guint i = a->drafts->len; i-- > 0;) {
    Draft *draft = g_ptr_array_index(a->drafts, i);
    if (draft->paragraph < unit->paragraph - 1)
      break;
    if (draft->deadline.precision >= DEADLINE_UNDATED)
      continue;
    int shared = instructions_shared_stems(unit->text, draft->text->str);
    if (shared > best) {
      best = shared;
      target = draft;
    }
  }
  if (target == NULL)
    return;
  deadline_clear(&target->deadline);
  target->deadline = *found;
  *found = (Deadline){0};
  target->lent = TRUE;
}

/* TRUE when a time said in `unit` could go to an earlier task (see
 * assembly_lend): a short sentence, and a task of this or the last paragraph
 * without a date. Asked before looking for the time, which costs more. */
static gboolean assembly_may_lend(Assembly *a, const Unit *unit)
{
  if (instructions_count_words(unit->text) > INSTRUCTIONS_LEND_WORDS)
    return FALSE;
  for (guint i = a->drafts->len; i-- > 0;) {
    const Draft *draft = g_ptr_array_index(a->drafts, i);
    if (draft->paragraph < unit->paragraph - 1)
      return FALSE;
    if (draft->deadline.precision < DEADLINE_UNDATED)
      return TRUE;
  }
  return FALSE;
}

/* A unit that is no task: a short one naming a time joins the task just
 * before it; a time in a longer one may go to an earlier task. */
static void assembly_other(Assembly *a, const Unit *unit, guint index, const char *core,
                           const PrefilterSeen *seen)
{
  Draft *last = assembly_last(a);
  gboolean join = last != NULL && last->last_unit + 1 == index &&
                  last->paragraph == unit->paragraph &&
                  instructions_count_words(unit->text) <= INSTRUCTIONS_SHORT_WORDS;
  if (!join && !assembly_may_lend(a, unit))
    return;
  g_auto(Deadline) found = {0};
  assembly_find_deadline(a, unit->text, &found);
  if (found.precision == DEADLINE_NONE)
    return;
  if (join) {
    assembly_join(a, last, unit, index);
    return;
  }
  if (instructions_points(a->rules, core, "lends", 0, a->match, seen) >= 0)
    assembly_lend(a, unit, &found);
}

static void assembly_task(Assembly *a, const Unit *unit, guint index, const char *core,
                          const PrefilterSeen *seen)
{
  Draft *last = assembly_last(a);
  gboolean adjacent = last != NULL && last->last_unit + 1 == index;
  if (adjacent && unit->paragraph - last->paragraph <= 1 &&
      instructions_points(a->rules, core, "followup", 0, a->match, seen) > 0) {
    assembly_join(a, last, unit, index);
    return;
  }
  if (last != NULL && !unit->item && !unit->continues && last->paragraph == unit->paragraph &&
      instructions_count_words(unit->text) <= INSTRUCTIONS_SHORT_WORDS) {
    assembly_join(a, last, unit, index);
    return;
  }
  assembly_start(a, unit, index);
}

static gboolean instructions_ends_with_colon(const char *text)
{
  gsize len = strlen(text);
  return len > 0 && text[len - 1] == ':';
}

/* An intro ("Could you please:") followed by no list item is a task itself.
 * `next` is the unit after it, NULL at the end of the text. */
static void assembly_close_intro(Assembly *a, const Unit *next)
{
  if (a->intro != NULL && (next == NULL || !next->item)) {
    if (!a->items_seen)
      assembly_start(a, a->intro, a->intro_index);
    a->intro = NULL;
  }
  if (next != NULL && !next->item && a->items_seen)
    a->intro_open = a->items_seen = FALSE;
  if (next != NULL && next->item && a->intro != NULL)
    a->intro = NULL;
}

/* Decides what `unit` is and adds it to the drafts. `inherited` says the
 * sentence it was split from was a task. */
static gboolean assembly_add(Assembly *a, const Unit *unit, guint index, gboolean inherited)
{
  int threshold = a->rules->threshold;
  assembly_close_intro(a, unit);
  int bonus = 0;
  if (unit->item && a->intro_open) {
    bonus += threshold;
    a->items_seen = TRUE;
  }
  if (inherited && unit->continues)
    bonus += threshold;
  g_autofree PrefilterSeen *seen = instructions_seen(a->rules, unit->text);
  const char *core = instructions_strip_leads(a->rules, unit->text, a->match, seen);
  gboolean task = instructions_is_task(a->rules, core, bonus, a->match, seen);
  if (task && !unit->item && instructions_ends_with_colon(unit->text)) {
    a->intro_open = TRUE;
    a->intro = unit;
    a->intro_index = index;
    return FALSE;
  }
  if (task)
    assembly_task(a, unit, index, core, seen);
  else
    assembly_other(a, unit, index, core, seen);
  return task;
}

/* ======================= pass 4: output ======================= */

static Instruction *instructions_from_draft(Draft *draft)
{
  Instruction *instruction = g_new0(Instruction, 1);
  instruction->text = g_strstrip(g_strdup(draft->text->str));
  if (draft->deadline.when != NULL) {
    instruction->deadline = g_date_time_ref(draft->deadline.when);
    instruction->deadline_iso = g_date_time_format(draft->deadline.when, "%Y-%m-%dT%H:%M");
  }
  instruction->urgency_hint = draft->deadline.urgency;
  return instruction;
}

void instructions_to_json(const GPtrArray *instructions, GString *out)
{
  json_put_array_start(out, "instructions");
  for (guint i = 0; i < instructions->len; i++) {
    const Instruction *instruction = g_ptr_array_index(instructions, i);
    json_put_object_start(out, NULL);
    json_put_string(out, "text", instruction->text);
    json_put_string(out, "deadline", instruction->deadline_iso);
    json_put_int(out, "urgency", instruction->urgency_hint);
    json_put_object_end(out);
  }
  json_put_array_end(out);
}

static GPtrArray *instructions_pieces(const InstructionRules *rules, const char *new_text,
                                      pcre2_match_data *match)
{
  g_autoptr(GPtrArray) units = instructions_units(new_text);
  GPtrArray *pieces = g_ptr_array_new_with_free_func(unit_free);
  for (guint i = 0; i < units->len; i++)
    instructions_split_unit(rules, g_ptr_array_index(units, i), pieces, match);
  return pieces;
}

GPtrArray *instructions_extract(const InstructionRules *rules, const char *new_text,
                                GDateTime *message_date, const InstructionContext *ctx)
{
  GPtrArray *result = g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  if (ctx->automated || new_text == NULL)
    return result;
  g_autoptr(pcre2_match_data) match = lite_rules_match_data(rules->set);
  g_autoptr(GPtrArray) pieces = instructions_pieces(rules, new_text, match);
  g_autoptr(GPtrArray) drafts = g_ptr_array_new_with_free_func(draft_free);
  Assembly a = {rules, message_date, ctx, drafts, FALSE, FALSE, NULL, 0, match};
  gboolean previous_task = FALSE;
  for (guint i = 0; i < pieces->len; i++)
    previous_task = assembly_add(&a, g_ptr_array_index(pieces, i), i, previous_task);
  assembly_close_intro(&a, NULL);
  for (guint i = 0; i < drafts->len; i++)
    g_ptr_array_add(result, instructions_from_draft(g_ptr_array_index(drafts, i)));
  return result;
}
