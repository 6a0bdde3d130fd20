/* filters/prefilter.h: a literal prefilter for regexes, the idea of
 * SpamAssassin's sa-compile and RE2's FilteredRE2. At compile time each
 * regex gets the literal strings it cannot match without (sets of them: a
 * text it matches holds one literal of each set); per text, one pass finds
 * which literals occur, and a regex with a set none of whose literals occur
 * is not run at all.
 * Pure: pattern text in, sets and bits out. No PCRE2 calls, no I/O.
 *
 *   Prefilter *p = prefilter_new();
 *   int id = prefilter_add(p, pattern, len, flags);   // PREFILTER_ALWAYS: no literal proven
 *   prefilter_build(p);                               // once, after the last add
 *   g_autofree PrefilterSeen *seen = prefilter_scan_whole(p, text, strlen(text));
 *   if (prefilter_may_match(p, id, seen)) pcre2_match(re, text, ...);
 *   // prefilter_scan() when the regexes are matched against parts of text
 *
 * A built Prefilter is read-only: any number of threads may scan with it.
 */
#pragma once

#include <glib.h>

/* The id of a regex that must always run. */
#define PREFILTER_ALWAYS (-1)

typedef struct _Prefilter Prefilter;

/* Which literals occur in one text: one bit per literal. */
typedef guint64 PrefilterSeen;

Prefilter *prefilter_new(void);
void prefilter_free(Prefilter *prefilter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Prefilter, prefilter_free)

/* Derives the required literals of `pattern` (`len` bytes, compiled by PCRE2
 * with the options `flags` and PCRE2_UTF, as the rules always are: a
 * non-ASCII character is one character) and returns the regex's id, or
 * PREFILTER_ALWAYS when no literal can be proven (or after prefilter_build()). */
int prefilter_add(Prefilter *prefilter, const char *pattern, gsize len, guint32 flags);

/* Builds the automaton over every literal added. */
void prefilter_build(Prefilter *prefilter);

/* The literals of `text` (`len` bytes of valid UTF-8), compared without ASCII
 * case (and with U+017F as s, U+212A as k, as PCRE2's caseless matching
 * does) unless a literal keeps its case, for regexes matched against `text`
 * or any part of it. Returns a new
 * bit set (g_free) for prefilter_may_match(). */
PrefilterSeen *prefilter_scan(const Prefilter *prefilter, const char *text, gsize len);

/* As prefilter_scan(), for regexes matched against `text` itself only (from
 * any start offset), never against a part of it: a literal that a pattern
 * has right after (or before) a \b counts only where no ASCII letter, digit
 * or _ is just before (after) it in `text` ("\bnow" is not in "know").
 * A regex matched against a part might find a boundary where the part
 * starts or ends: use prefilter_scan() for those. */
PrefilterSeen *prefilter_scan_whole(const Prefilter *prefilter, const char *text, gsize len);

/* FALSE only when regex `id` cannot match the text `seen` was made from. */
gboolean prefilter_may_match(const Prefilter *prefilter, int id, const PrefilterSeen *seen);

/* The literals prefilter_add() would require of `pattern`, lower-case: an
 * array (g_ptr_array_unref) of sets, each a NULL-terminated array of
 * strings, the most selective first; a match holds one literal of every set.
 * A literal that starts or ends with "\x01" needs a word boundary there
 * (the pattern has \b there, beside a word character); one that starts
 * with "\x02" (in front of any "\x01") keeps the case of its letters (the
 * pattern is matched with its case). NULL when none can be proven. */
GPtrArray *prefilter_literals(const char *pattern, gsize len, guint32 flags);

/* Literals and regexes with literals, for tests and `rules check`. */
guint prefilter_literal_count(const Prefilter *prefilter);
guint prefilter_filtered_count(const Prefilter *prefilter);

/* ---- phrase heads: where a phrase trie may start ----
 * A phrase list's trie (filters/rules-compile.c) is caseless and starts each
 * phrase behind a word boundary. When every phrase starts with an ASCII
 * letter or digit, a match can only start where a word starts (the byte
 * before is no ASCII letter, digit or _) whose leading ASCII letters and
 * digits, lower-cased, are exactly a phrase's head ("you" of "you'll", "a"
 * of "a.s.a.p"): the caseless match of an ASCII letter is an ASCII letter,
 * except U+017F (s) and U+212A (k), so a text holding either has no heads.
 *
 *   g_autofree char *head = prefilter_phrase_head("you'll");   // "you"
 *   prefilter_heads_add(heads, head, list);                     // list < PREFILTER_HEADS_LISTS
 *   g_autoptr(GArray) at = prefilter_heads_find(heads, text, len); // of PrefilterHead
 */
#define PREFILTER_HEADS_LISTS 32

typedef struct _PrefilterHeads PrefilterHeads;

/* A word of a text that is the head of a phrase of some lists. */
typedef struct {
  guint32 offset;  /* where the word starts */
  guint32 lists;   /* bit n: a phrase of list n has this head and may go on as the text does */
} PrefilterHead;

PrefilterHeads *prefilter_heads_new(void);
void prefilter_heads_free(PrefilterHeads *heads);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PrefilterHeads, prefilter_heads_free)

/* The head of `phrase` (UTF-8, lower-cased as the trie does): its leading
 * ASCII letters and digits, a new string; NULL when there are none, or when a
 * non-ASCII character follows them (a list with such a phrase has no heads). */
char *prefilter_phrase_head(const char *phrase);

/* Records that a phrase of list `list` (< PREFILTER_HEADS_LISTS) starts with
 * the word `head` (from prefilter_phrase_head()), followed by anything. */
void prefilter_heads_add(PrefilterHeads *heads, const char *head, guint list);

/* Records the head of `phrase` (as the trie reads it: lower-cased, a run of
 * spaces is white space) for list `list`, and how the phrase goes on after
 * it: when it is white space and a word of ASCII letters or digits, a text
 * whose head word is not followed by white space and a word starting with
 * the same two characters holds no such phrase there, and its head is found
 * without the bit of `list` (a Bloom filter of head, list and what follows,
 * which may keep a list no phrase fits, never drops one). When all of a
 * list's phrases of a head go on with white space, a second word of ASCII
 * letters and digits, white space and a third word, the filter also holds
 * the second word and how the third starts, and the head is found for the
 * list only where both are. FALSE when the phrase has no head. */
gboolean prefilter_heads_add_phrase(PrefilterHeads *heads, const char *phrase, guint list);

/* TRUE when U+017F (C5 BF) or U+212A (E2 84 AA), which PCRE2 matches as s
 * and k ignoring case, starts at `s` (before `end`). */
gboolean prefilter_folds_to_ascii(const guint8 *s, const guint8 *end);

/* Every word start of `text` (`len` bytes of valid UTF-8) whose word is a
 * recorded head that may go on as the text does, in order: an array of
 * PrefilterHead (g_array_unref). NULL when the text holds U+017F or U+212A:
 * any position may then start a phrase. */
GArray *prefilter_heads_find(const PrefilterHeads *heads, const char *text, gsize len);

/* ---- top-level branches ----
 * The leftmost match of "A|B|C" starts where the earliest of the branches'
 * own leftmost matches starts, and is the first branch's (in order) that
 * starts there: so each branch may be matched alone, with its own literals,
 * and the results combined. A regex (or a top-level branch) that starts
 * with a group of alternatives, "\b(?:A|B)R", is "\bAR|\bBR" (tried in the
 * same order at each position). Only when nothing ties the branches
 * together: no backreferences, subroutine calls, recursion, conditionals,
 * verbs, \Q, \G, \K, comments or option settings outside a group, and no
 * extended mode. */
#define PREFILTER_BRANCHES_MAX 24 /* a leading group is not split past this many branches */

/* The branches of `pattern` (`len` bytes, PCRE2 options `flags`), each a
 * pattern (g_ptr_array_unref), or NULL when there are fewer than two or they
 * may not be matched alone. */
GPtrArray *prefilter_branches(const char *pattern, gsize len, guint32 flags);

/* ---- a lookahead hint ----
 * PCRE2's JIT scans a text several times slower for a regex that starts with
 * a lookbehind ("(?<=I\s|we\s)(?:asked|sent)\b..."). The same regex with a
 * lookahead in front that asks for what the item after the lookbehinds must
 * match anyway ("(?=(?:asked|sent))(?<=I\s|we\s)(?:asked|sent)\b...") has the
 * same matches, found faster. */

/* `pattern` (`len` bytes, PCRE2 options `flags`) with the hint in front, a new
 * string; NULL when it starts with no lookbehind, or the item after them is
 * neither plain letters and digits nor a group without captures, references
 * or verbs that is matched at least once. */
char *prefilter_lookahead_hint(const char *pattern, gsize len, guint32 flags);
