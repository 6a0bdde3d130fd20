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
 *     Each unit is read once before any rule looks at it (unit_look): checked
 *     for UTF-8 (so PCRE2 need not check it per rule), scanned for the literals of the rules' regexes
 *     (filters/prefilter.h), and for their marks (a punctuation byte PCRE2
 *     knows every match holds, as the '?' of a question). A rule none of
 *     whose literals, or whose mark, the unit lacks is not run on it, nor on
 *     any part of it. The rules are sorted by dimension once, when compiled.
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
 * Must not change a result to save work: every shortcut above only skips a
 * rule that cannot match, or a count past the number asked about.
 */
#include "filters/instructions.h"

#include <string.h>
#include "filters/rules.h"
#include "filters/json-out.h"

G_DEFINE_QUARK(keel-instruction-error-quark, keel_instruction_error)

#define INSTRUCTIONS_SHORT_WORDS 4
#define INSTRUCTIONS_MAX_LEADS 4
#define INSTRUCTIONS_LEND_WORDS 12

/* The rules of one dimension (and sign), as the passes ask for them. */
typedef enum {
  INSTRUCTIONS_LEAD,      /* `lead` */
  INSTRUCTIONS_ADDS,      /* `instruction`, points > 0 */
  INSTRUCTIONS_TAKES,     /* `instruction`, points <= 0 */
  INSTRUCTIONS_SPLIT,     /* `split` */
  INSTRUCTIONS_FOLLOWUP,  /* `followup` */
  INSTRUCTIONS_LENDS,     /* `lends` */
  INSTRUCTIONS_KINDS
} InstructionsKind;

/* One rule of a kind, and a punctuation byte (in InstructionRules.marks)
 * that every text it matches holds. */
typedef struct {
  const LiteRule *rule; /* borrowed from `set` */
  int mark;             /* index in `marks`, or -1 for none known */
} InstructionsRef;

#define INSTRUCTIONS_MARKS 32 /* bits of Unit.marks */

struct _InstructionRules {
  LiteRuleSet *set;          /* owned, rules/instructions.rules */
  DeadlineRules *deadlines;  /* owned, rules/deadlines.rules */
  int threshold;             /* `dimension instruction flag >= N`, default 3 */
  GArray *kinds[INSTRUCTIONS_KINDS]; /* owned, of InstructionsRef, each in file order:
                                        the dimensions told apart once, not per unit */
  char marks[INSTRUCTIONS_MARKS + 1];  /* the marks of InstructionsRef, NUL-terminated */
  GRegex *non_letters;       /* owned, what separates words in instructions_shared_stems() */
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
  for (int k = 0; k < INSTRUCTIONS_KINDS; k++)
    g_clear_pointer(&rules->kinds[k], g_array_unref);
  g_clear_pointer(&rules->non_letters, g_regex_unref);
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

/* The kind of `rule`; INSTRUCTIONS_KINDS for a dimension other than the five. */
static InstructionsKind instructions_kind(const LiteRule *rule)
{
  const char *dimension = rule->dimension;
  if (strcmp(dimension, "instruction") == 0)
    return rule->points > 0 ? INSTRUCTIONS_ADDS : INSTRUCTIONS_TAKES;
  if (strcmp(dimension, "lead") == 0)
    return INSTRUCTIONS_LEAD;
  if (strcmp(dimension, "split") == 0)
    return INSTRUCTIONS_SPLIT;
  if (strcmp(dimension, "followup") == 0)
    return INSTRUCTIONS_FOLLOWUP;
  if (strcmp(dimension, "lends") == 0)
    return INSTRUCTIONS_LENDS;
  return INSTRUCTIONS_KINDS;
}

/* `byte` as a mark of `rules` (its index in `marks`, added if new), or -1
 * when it is no punctuation or there are too many. */
static int instructions_mark_index(InstructionRules *rules, guint32 byte)
{
  if (byte == 0 || byte > 0x7f || !g_ascii_ispunct((char)byte))
    return -1;
  const char *at = strchr(rules->marks, (char)byte);
  if (at != NULL)
    return (int)(at - rules->marks);
  gsize count = strlen(rules->marks);
  if (count == INSTRUCTIONS_MARKS)
    return -1;
  rules->marks[count] = (char)byte;
  return (int)count;
}

/* The mark of `rule`: a punctuation byte that PCRE2 knows starts (its first
 * code unit) or is in (its last required code unit) every match of its
 * regex, so the rule is not run on a text without it (PCRE2 relies on the
 * same to give up early). Only an ASCII byte that is no letter or digit, as
 * no other character matches it even without case. -1 for none. */
static int instructions_rule_mark(InstructionRules *rules, const LiteRule *rule)
{
  static const guint32 infos[][2] = {{PCRE2_INFO_LASTCODETYPE, PCRE2_INFO_LASTCODEUNIT},
                                     {PCRE2_INFO_FIRSTCODETYPE, PCRE2_INFO_FIRSTCODEUNIT}};
  for (gsize i = 0; i < G_N_ELEMENTS(infos); i++) {
    guint32 type = 0, byte = 0;
    if (pcre2_pattern_info(rule->code, infos[i][0], &type) != 0 || type != 1 ||
        pcre2_pattern_info(rule->code, infos[i][1], &byte) != 0)
      continue;
    int mark = instructions_mark_index(rules, byte);
    if (mark >= 0)
      return mark;
  }
  return -1;
}

/* Sorts the rules of `set` by kind, once, keeping file order within each,
 * each with its mark. */
static void instructions_sort_kinds(InstructionRules *rules)
{
  for (int k = 0; k < INSTRUCTIONS_KINDS; k++)
    rules->kinds[k] = g_array_new(FALSE, FALSE, sizeof(InstructionsRef));
  for (guint i = 0; i < rules->set->rules->len; i++) {
    const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
    InstructionsKind kind = instructions_kind(rule);
    if (kind < INSTRUCTIONS_KINDS)
      g_array_append_val(rules->kinds[kind],
                         ((InstructionsRef){rule, instructions_rule_mark(rules, rule)}));
  }
}

/* The rules of `kind`, and how many. */
static const InstructionsRef *instructions_kind_rules(const InstructionRules *rules,
                                                      InstructionsKind kind, guint *count)
{
  *count = rules->kinds[kind]->len;
  return (const InstructionsRef *)(gpointer)rules->kinds[kind]->data;
}

/* Which of the rules' literals `text` holds: a rule whose literals it lacks
 * cannot match it, nor any part of it. */
static PrefilterSeen *instructions_seen(const InstructionRules *rules, const char *text,
                                        gsize len)
{
  return prefilter_scan(rules->set->compiled->prefilter, text, len);
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
  instructions_sort_kinds(rules);
  rules->non_letters = g_regex_new("[^[:alpha:]]+", 0, 0, NULL);
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
  guint32 options;     /* PCRE2_NO_UTF_CHECK when `text` is valid UTF-8, else 0 */
  PrefilterSeen *seen; /* owned, the literals of `text`; NULL until unit_look() */
  guint32 marks;       /* bit n: `text` holds InstructionRules.marks[n] (all set when
                          it is not UTF-8, so that every rule runs and reports) */
} Unit;

static void unit_free(gpointer data)
{
  Unit *unit = data;
  g_free(unit->text);
  g_free(unit->seen);
  g_free(unit);
}

/* A new unit that owns `text`. */
static Unit *unit_new(char *text, int paragraph, gboolean item, gboolean continues)
{
  Unit *unit = g_new0(Unit, 1);
  *unit = (Unit){text, paragraph, item, continues, 0, NULL, 0};
  return unit;
}

/* Reads `unit` once for every rule that will look at it: whether its text is
 * valid UTF-8 (PCRE2 need not check it again per rule), its literals and its
 * marks. A part of it (its core without the leads, the rest after a split)
 * is valid when it is, and holds no literal or mark it does not. */
static void unit_look(const InstructionRules *rules, Unit *unit)
{
  unit->options = g_utf8_validate(unit->text, -1, NULL) ? PCRE2_NO_UTF_CHECK : 0;
  unit->seen = instructions_seen(rules, unit->text, strlen(unit->text));
  unit->marks = unit->options != 0 ? 0 : G_MAXUINT32;
  for (int i = 0; rules->marks[i] != '\0' && unit->options != 0; i++)
    if (strchr(unit->text, rules->marks[i]) != NULL)
      unit->marks |= 1u << i;
}

/* How many words (runs of letters and digits) `text` has, counting no
 * further than `most`: callers only ask whether there are more than a few. */
static int instructions_count_words(const char *text, int most)
{
  int words = 0;
  gboolean in_word = FALSE;
  for (const char *p = text; *p != '\0' && words < most;) {
    gboolean alnum;
    if ((guchar)*p < 0x80) {
      alnum = g_ascii_isalnum(*p);
      p++;
    } else {
      alnum = g_unichar_isalnum(g_utf8_get_char(p));
      const char *next = g_utf8_next_char(p);
      while (++p < next) /* a sequence cut short by the end: never read past it */
        if (*p == '\0')
          return words + (alnum && !in_word);
    }
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
    if (*p == bullets[i][0] && g_str_has_prefix(p, bullets[i]))
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

/* TRUE when the `len` bytes at `word`, lower-cased, are one of `words`
 * (none longer than `longest`). */
static gboolean instructions_word_in(const char *word, gsize len, const char *const *words,
                                     gsize longest)
{
  char lower[16];
  g_assert(longest < sizeof lower);
  if (len > longest)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    lower[i] = g_ascii_tolower(word[i]);
  lower[len] = '\0';
  for (const char *const *w = words; *w != NULL; w++)
    if ((*w)[0] == lower[0] && strcmp(*w, lower) == 0)
      return TRUE;
  return FALSE;
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
  if (dot - w == 1 && g_ascii_isalpha(*w))
    return TRUE;
  return instructions_word_in(w, (gsize)(dot - w), words, strlen("approx"));
}

/* Where the sentence that starts at `p` ends (exclusive), or NULL at the end. */
static const char *instructions_sentence_end(const char *start, const char *p)
{
  for (p = strpbrk(p, ".!?"); p != NULL; p = strpbrk(p + 1, ".!?")) {
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

/* `*start` and `*end` moved past the ASCII white space at either end (as g_strstrip()). */
static void instructions_trim(const char **start, const char **end)
{
  while (*start < *end && g_ascii_isspace(**start))
    (*start)++;
  while (*end > *start && g_ascii_isspace((*end)[-1]))
    (*end)--;
}

static void instructions_add_unit(GPtrArray *units, const char *text, gsize len, int paragraph,
                                  gboolean item)
{
  const char *start = text, *end = text + len;
  instructions_trim(&start, &end);
  if (start == end)
    return;
  g_ptr_array_add(units, unit_new(g_strndup(start, (gsize)(end - start)), paragraph, item, FALSE));
}

static void instructions_add_sentences(GPtrArray *units, const char *prose, gsize len,
                                       int paragraph)
{
  const char *start = prose;
  const char *end;
  while ((end = instructions_sentence_end(prose, start)) != NULL) {
    instructions_add_unit(units, start, (gsize)(end - start), paragraph, FALSE);
    start = end;
  }
  instructions_add_unit(units, start, len - (gsize)(start - prose), paragraph, FALSE);
}

/* A line that stands alone: a greeting ("Hi Jo,") or a sign-off ("Cheers"):
 * three words or fewer, after a line that ended a sentence (or first), and
 * before a line that starts a new one (or last). A short wrapped line in the
 * middle of a sentence ("contract to Bob") does not. */
static gboolean instructions_line_alone(const char *line, const char *previous, const char *next)
{
  const char *start = line, *end = line + strlen(line);
  instructions_trim(&start, &end);
  if (start == end)
    return FALSE;
  char last = end[-1];
  if (last != ',' && last != '!' && !g_ascii_isalnum(last))
    return FALSE;
  gsize plen = previous != NULL ? strlen(previous) : 0;
  if (plen > 0 && strchr(".!?:,", previous[plen - 1]) == NULL)
    return FALSE;
  /* words counted last, as they cost the most; the white space trimmed holds
   * none, so the whole line is counted */
  return instructions_count_words(line, 4) <= 3 &&
         (next == NULL || !g_unichar_islower(g_utf8_get_char(next)));
}

static void instructions_flush(GPtrArray *units, GString *buffer, int paragraph, gboolean item)
{
  if (buffer->len == 0)
    return;
  if (item)
    instructions_add_unit(units, buffer->str, buffer->len, paragraph, TRUE);
  else
    instructions_add_sentences(units, buffer->str, buffer->len, paragraph);
  g_string_truncate(buffer, 0);
}

static void instructions_append_line(GString *buffer, const char *line)
{
  if (buffer->len > 0)
    g_string_append_c(buffer, ' ');
  g_string_append(buffer, line);
}

/* One paragraph's lines: list items whole, prose as sentences. `buffer` is
 * empty scratch space, left empty. */
static void instructions_paragraph_units(GPtrArray *units, char **lines, int paragraph,
                                         GString *buffer)
{
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
  return instructions_word_in(w, (gsize)(before + len - w), joiners, strlen("before"));
}

/* Ends the paragraph read since `*start` in `out` (if any): it is ended by a
 * '\0' and its start added to `starts`, or it becomes the rest of the last
 * one when the break between them is an artefact. */
static void instructions_end_paragraph(GString *out, GArray *starts, gsize *start)
{
  if (out->len == *start)
    return;
  g_string_append_c(out, '\0');
  if (starts->len > 0 &&
      instructions_broken_paragraph(out->str + g_array_index(starts, gsize, starts->len - 1),
                                    out->str + *start))
    out->str[*start - 1] = ' '; /* the '\0' that ended the last one */
  else
    g_array_append_val(starts, *start);
  *start = out->len;
}

/* The paragraphs of `text`, one after another in `out`, each its lines joined
 * by '\n' and ended by a '\0'; returns where each starts in `out` (of gsize).
 * A line ends at each '\r' or '\n' and is trimmed; a blank one ends a
 * paragraph. */
static GArray *instructions_paragraphs(const char *text, GString *out)
{
  g_autoptr(GArray) starts = g_array_new(FALSE, FALSE, sizeof(gsize));
  gsize start = out->len;
  for (const char *p = text;;) {
    gsize n = strcspn(p, "\r\n");
    const char *line = p, *end = p + n;
    instructions_trim(&line, &end);
    if (line < end) {
      if (out->len > start)
        g_string_append_c(out, '\n');
      g_string_append_len(out, line, end - line);
    } else {
      instructions_end_paragraph(out, starts, &start);
    }
    if (p[n] == '\0')
      break;
    p += n + 1;
  }
  instructions_end_paragraph(out, starts, &start);
  return g_steal_pointer(&starts);
}

/* `paragraph`'s lines, cut in place at each '\n': `lines` is set to them,
 * NULL-terminated. */
static void instructions_cut_lines(char *paragraph, GPtrArray *lines)
{
  g_ptr_array_set_size(lines, 0);
  for (char *p = paragraph; p != NULL;) {
    g_ptr_array_add(lines, p);
    p = strchr(p, '\n');
    if (p != NULL)
      *p++ = '\0';
  }
  g_ptr_array_add(lines, NULL);
}

static GPtrArray *instructions_units(const char *new_text)
{
  GPtrArray *units = g_ptr_array_new_with_free_func(unit_free);
  g_autoptr(GString) text = g_string_new(NULL);
  g_autoptr(GArray) paragraphs = instructions_paragraphs(new_text, text);
  g_autoptr(GPtrArray) lines = g_ptr_array_new();
  g_autoptr(GString) buffer = g_string_new(NULL);
  for (guint i = 0; i < paragraphs->len; i++) {
    instructions_cut_lines(text->str + g_array_index(paragraphs, gsize, i), lines);
    instructions_paragraph_units(units, (char **)lines->pdata, (int)i, buffer);
  }
  return units;
}

GPtrArray *instructions_split_units(const char *new_text)
{
  g_autoptr(GPtrArray) units = instructions_units(new_text != NULL ? new_text : "");
  GPtrArray *texts = g_ptr_array_new_full(units->len, g_free);
  for (guint i = 0; i < units->len; i++)
    g_ptr_array_add(texts, g_steal_pointer(&((Unit *)g_ptr_array_index(units, i))->text));
  return texts;
}

/* ======================= pass 2: scores ======================= */

/* FALSE only when the rule of `ref` cannot match `unit`'s text, nor any part
 * of it: the text lacks its mark, or its literals (filters/prefilter.h). A
 * rule with no literal proven (PREFILTER_ALWAYS) needs no call. */
static gboolean instructions_may_match(const InstructionRules *rules, const InstructionsRef *ref,
                                       const Unit *unit)
{
  if (ref->mark >= 0 && !(unit->marks & (1u << ref->mark)))
    return FALSE;
  return ref->rule->prefilter < 0 ||
         prefilter_may_match(rules->set->compiled->prefilter, ref->rule->prefilter, unit->seen);
}

/* lite_rule_match_with() of the rule of `ref` on `part`, the end of `unit`'s
 * text (not checked for UTF-8 again when the unit is valid): 1, 0, or -1 and
 * `error`. (Not pcre2_jit_match(): keel must run without JIT, test-nojit.) */
static int instructions_match(const InstructionsRef *ref, const Unit *unit, const char *part,
                              pcre2_match_data *match, GError **error)
{
  return lite_rule_match_with(ref->rule, part, 0, unit->options, match, error);
}

/* `unit`'s text without the words `lead` rules match at its start ("Jo, also"). */
static const char *instructions_strip_leads(const InstructionRules *rules, const Unit *unit,
                                            pcre2_match_data *match)
{
  guint count;
  const InstructionsRef *leads = instructions_kind_rules(rules, INSTRUCTIONS_LEAD, &count);
  const char *text = unit->text;
  for (int round = 0; round < INSTRUCTIONS_MAX_LEADS; round++) {
    gboolean stripped = FALSE;
    for (guint i = 0; i < count && !stripped; i++) {
      if (!instructions_may_match(rules, &leads[i], unit))
        continue;
      g_autoptr(GError) error = NULL;
      if (instructions_match(&leads[i], unit, text, match, &error) != 1)
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

/* The points the rules of `kind` give `core`, a part of `unit` (its text
 * without the leads): valid UTF-8 when it is, and holding none of the
 * literals it lacks. */
static int instructions_points(const InstructionRules *rules, const Unit *unit, const char *core,
                               InstructionsKind kind, pcre2_match_data *match)
{
  int points = 0;
  guint count;
  const InstructionsRef *refs = instructions_kind_rules(rules, kind, &count);
  for (guint i = 0; i < count; i++) {
    if (!instructions_may_match(rules, &refs[i], unit))
      continue;
    g_autoptr(GError) error = NULL;
    int rc = instructions_match(&refs[i], unit, core, match, &error);
    if (rc < 0)
      g_warning("%s", error->message);
    if (rc == 1)
      points += refs[i].rule->points;
  }
  return points;
}

/* TRUE when `core` (a unit without its leads) is a task: its `instruction`
 * points plus `bonus` reach the threshold. The rules that take points away
 * run only when the ones that add could reach it (they cannot raise it). */
static gboolean instructions_is_task(const InstructionRules *rules, const Unit *unit,
                                     const char *core, int bonus, pcre2_match_data *match)
{
  int points = bonus + instructions_points(rules, unit, core, INSTRUCTIONS_ADDS, match);
  if (points < rules->threshold)
    return FALSE;
  return points + instructions_points(rules, unit, core, INSTRUCTIONS_TAKES, match) >=
         rules->threshold;
}

/* Cuts `unit` (taken over) where `split` rules match; the pieces, or `unit`
 * itself when nothing cuts it, go to `out`, each looked at (unit_look()). */
static void instructions_split_unit(const InstructionRules *rules, Unit *unit, GPtrArray *out,
                                    pcre2_match_data *match)
{
  unit_look(rules, unit);
  guint count;
  const InstructionsRef *splits = instructions_kind_rules(rules, INSTRUCTIONS_SPLIT, &count);
  const char *rest = unit->text;
  gboolean continues = FALSE;
  for (guint i = 0; i < count && !unit->item; i++) {
    if (!instructions_may_match(rules, &splits[i], unit))
      continue;
    g_autoptr(GError) error = NULL;
    while (instructions_match(&splits[i], unit, rest, match, &error) == 1) {
      PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
      if (ovector[0] == 0 || ovector[1] <= ovector[0] || rest[ovector[1]] == '\0')
        break;
      Unit *piece = unit_new(g_strstrip(g_strndup(rest, ovector[0])), unit->paragraph, FALSE,
                             continues);
      unit_look(rules, piece);
      g_ptr_array_add(out, piece);
      rest += ovector[1];
      continues = TRUE;
    }
  }
  if (!continues) {
    g_ptr_array_add(out, unit);
    return;
  }
  Unit *last = unit_new(g_strstrip(g_strdup(rest)), unit->paragraph, unit->item, TRUE);
  unit_look(rules, last);
  g_ptr_array_add(out, last);
  unit_free(unit);
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

/* TRUE when `unit` is short enough to join the task before it. */
static gboolean instructions_short(const Unit *unit)
{
  return instructions_count_words(unit->text, INSTRUCTIONS_SHORT_WORDS + 1) <=
         INSTRUCTIONS_SHORT_WORDS;
}

/* The words of `text`, lower-cased, for instructions_shared_stems(). */
static GStrv instructions_words(const InstructionRules *rules, const char *text)
{
  g_autofree char *lower = g_utf8_strdown(text, -1);
  return g_regex_split(rules->non_letters, lower, 0);
}

/* How many 4-letter word stems `words` (instructions_words()) and `b` share
 * (words of 4+ letters). */
static int instructions_shared_stems(char **words, const char *b)
{
  g_autofree char *lb = g_utf8_strdown(b, -1);
  int shared = 0;
  for (char **w = words; *w != NULL; w++) {
    if (strlen(*w) < 4)
      continue;
    char stem[5];
    memcpy(stem, *w, 4);
    stem[4] = '\0';
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
  g_auto(GStrv) words = NULL; /* of `unit`, split when first needed */
  for (guint i = a->drafts->len; i-- > 0;) {
    Draft *draft = g_ptr_array_index(a->drafts, i);
    if (draft->paragraph < unit->paragraph - 1)
      break;
    if (draft->deadline.precision >= DEADLINE_UNDATED)
      continue;
    if (words == NULL)
      words = instructions_words(a->rules, unit->text);
    int shared = instructions_shared_stems(words, draft->text->str);
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
  for (guint i = a->drafts->len; i-- > 0;) {
    const Draft *draft = g_ptr_array_index(a->drafts, i);
    if (draft->paragraph < unit->paragraph - 1)
      return FALSE;
    if (draft->deadline.precision < DEADLINE_UNDATED) /* words counted only now: they cost more */
      return instructions_count_words(unit->text, INSTRUCTIONS_LEND_WORDS + 1) <=
             INSTRUCTIONS_LEND_WORDS;
  }
  return FALSE;
}

/* A unit that is no task: a short one naming a time joins the task just
 * before it; a time in a longer one may go to an earlier task. */
static void assembly_other(Assembly *a, const Unit *unit, guint index, const char *core)
{
  Draft *last = assembly_last(a);
  gboolean join = last != NULL && last->last_unit + 1 == index &&
                  last->paragraph == unit->paragraph && instructions_short(unit);
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
  if (instructions_points(a->rules, unit, core, INSTRUCTIONS_LENDS, a->match) >= 0)
    assembly_lend(a, unit, &found);
}

static void assembly_task(Assembly *a, const Unit *unit, guint index, const char *core)
{
  Draft *last = assembly_last(a);
  gboolean adjacent = last != NULL && last->last_unit + 1 == index;
  if (adjacent && unit->paragraph - last->paragraph <= 1 &&
      instructions_points(a->rules, unit, core, INSTRUCTIONS_FOLLOWUP, a->match) > 0) {
    assembly_join(a, last, unit, index);
    return;
  }
  if (last != NULL && !unit->item && !unit->continues && last->paragraph == unit->paragraph &&
      instructions_short(unit)) {
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
  const char *core = instructions_strip_leads(a->rules, unit, a->match);
  gboolean task = instructions_is_task(a->rules, unit, core, bonus, a->match);
  if (task && !unit->item && instructions_ends_with_colon(unit->text)) {
    a->intro_open = TRUE;
    a->intro = unit;
    a->intro_index = index;
    return FALSE;
  }
  if (task)
    assembly_task(a, unit, index, core);
  else
    assembly_other(a, unit, index, core);
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
  GPtrArray *pieces = g_ptr_array_new_full(units->len, unit_free);
  gsize count = 0;
  g_autofree gpointer *taken = g_ptr_array_steal(units, &count); /* each goes on to `pieces` */
  for (gsize i = 0; i < count; i++)
    instructions_split_unit(rules, taken[i], pieces, match);
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
