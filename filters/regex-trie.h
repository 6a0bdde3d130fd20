/* filters/regex-trie.h: long alternations of plain words in a PCRE2 pattern,
 * written as tries, so that the JIT tests a character once per branch of
 * the trie instead of once per word (see regex-trie.c).
 *
 * Must never: change what a pattern matches, where a match starts and ends,
 * or what a capture holds. */
#pragma once

#include <glib.h>

/* A group needs at least this many words (after ? and [...] are read out)
 * to be written as a trie. */
#define REGEX_TRIE_MIN_WORDS 16
/* A group that reads out to more words than this is left as written. */
#define REGEX_TRIE_MAX_WORDS 2048

/* `pattern` (`len` bytes; PCRE2 options `flags`) with each group whose
 * branches are plain words ("(?:send|re-?send|set up|organi[sz]e)")
 * written as a trie ("(?:re(?:\-send|send)|se(?:nd|t up)|organi(?:s|z)e)"
 * in spirit), the branches tried in the same order. A new string, or NULL
 * when nothing is rewritten or the pattern uses what this does not read
 * (extended mode, option settings, \Q, conditionals). */
char *regex_trie_rewrite(const char *pattern, gsize len, guint32 flags);
/* The same with groups of at least `min_words` words (tests try smaller
 * groups than pays for scoring). */
char *regex_trie_rewrite_min(const char *pattern, gsize len, guint32 flags, guint min_words);
