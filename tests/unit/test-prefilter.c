/* tests/unit/test-prefilter.c: the literal prefilter (filters/prefilter.c).
 *
 *  - /prefilter/literals/N: table-driven, the literal sets derived from a
 *    pattern ("a|b & c": a match holds a or b, and c; NULL where nothing may
 *    be proven: classes, repeats that may be empty,
 *    subroutine calls, conditionals, \Q, extended mode, short literals);
 *  - /prefilter/scan: a regex is skipped on a text lacking its literals and
 *    runs on one that has them, whatever their case when it is caseless, in
 *    its case when not; caseless rules with the two characters PCRE2 takes
 *    for s and k; unprovable regexes always run;
 *  - /prefilter/scan-wide: non-ASCII characters without case forms as
 *    literals, and letters with case forms as "any character";
 *  - /prefilter/scan-bounded: literals beside \b, found only at a word
 *    boundary of the whole text (anywhere for a part of it);
 *  - /prefilter/default-rules: every regex of rules/ (the phrase groups'
 *    tries included) over every committed .eml of tests/data, as it is and
 *    upper-cased: whenever the prefilter says "cannot match", PCRE2 agrees;
 *    every match of a phrase group's trie starts at one of its heads, and a
 *    regex compiled with a lookahead hint matches where it does without;
 *  - /prefilter/branches/...: the top-level branches of a regex matched
 *    alone (where they may be) and scoring with them;
 *  - /prefilter/lookahead-hint: the lookahead put in front of a regex that
 *    starts with lookbehinds, and where none may be;
 *  - /prefilter/heads/...: phrase heads (the first word of a phrase), the
 *    word starts of a text that are heads, and scoring through them.
 */
#include <string.h>
#include "filters/prefilter.h"
#include "filters/rules.h"
#include "filters/score.h"

typedef struct {
  const char *pattern;
  guint32 flags;
  const char *literals; /* sorted, '|'-separated; NULL = the regex always runs */
} LiteralCase;

static const LiteralCase literal_cases[] = {
  { "deadline", 0, "=deadline" },
  { "missed\\s+the\\s+deadline", PCRE2_CASELESS, "deadline & missed & the" },
  { "colou?r", 0, "=color|=colour" },
  { "(?:invoice|bill)s?\\b", 0, "=bill\\b|=bills\\b|=invoice\\b|=invoices\\b" },
  { "(?i)Refund", 0, "refund" },
  { "Refund", 0, "=Refund" },               /* "=": its letters keep their case */
  { "(?<=paid )invoice(?!s)", 0, "=invoice & =paid " },
  { "on\\s+me\\b(?<=that's\\son\\sme)", 0, "=that's" }, /* what a lookbehind needs */
  { "(?<=paid )?invoice", 0, "=invoice" },   /* an optional lookbehind needs nothing */
  { "(?=\\w+ing)\\w+", 0, "=ing" },       /* so does a lookahead */
  { "[Ss]tatement", 0, "=Statement|=statement" },
  { "[a-z]oops", 0, "=oops" },
  { "x*abcd", 0, "=abcd" },
  { "abcx*def", 0, "=abc & =def" },           /* not {abcdef, abcxdef}: x may repeat */
  { "(?:abcd)+", 0, "=abcd" },
  { "(?:abcd)*", 0, NULL },
  { "(?:abcd)?", 0, NULL },
  { "a(?:bc|de)f", 0, "=abcf|=adef" },        /* the run goes into each branch */
  { "a(?:bc|de)+f", 0, NULL },              /* but not into a repeated group */
  { "a(?:bcd|def)+xyz", 0, "=xyz & =bcd|=def" }, /* equally heavy: fewer literals first */
  { "a(?:bcd|def){2}xyz", 0, "=bcdbcd|=bcddef|=defbcd|=defdef & =xyz" }, /* a count repeats */
  { "\\d+\\s*hrs?\\s+on\\b[^.]{0,60}\\?{2,}", PCRE2_CASELESS, "??" }, /* "?" weighs 2 */
  { "x{3,5}", 0, "=xxx" },
  { "(?:a|b|c|d|e){2}", 0, NULL },          /* 25 strings: just one of a-e, too light */
  /* \b beside a word character: the literal needs a word boundary there */
  { "\\bnow\\b", PCRE2_CASELESS, "\\bnow\\b" },
  { "\\b(?<!for\\s)(?:now|right\\s+away)\\b", 0, "=\\bnow|=\\bright" }, /* no longer exact at the end */
  { "\\b-now", 0, "=-now" },                   /* \b before "-": a word character before */
  { "now\\b!", 0, "=now!" },                   /* inside: always true (or never) */
  { "(?:now\\b|now)!", 0, "=now!" },           /* one literal, twice */
  { "\\b\\bnow\\B", 0, "=\\bnow" },
  { "(?:\\bnow){2}", 0, "=\\bnownow" },
  { "\\bfoo(bar)\\1baz\\b", 0, "=\\bfoobar & =baz\\b" }, /* a backreference is "anything" */
  { "need\\s+it\\s+(?:by|before)", PCRE2_CASELESS, "need" },
  { "urgent|asap|right\\s+away", 0, "=asap|=right|=urgent" }, /* a branch gives its best set */
  { "urgent|\\d+", 0, NULL },               /* one branch knows nothing */
  { "urgent|", 0, NULL },                   /* one branch matches empty text */
  { "a|bcd", 0, NULL },                     /* too short to be worth it */
  { "\\w+", 0, NULL },
  { ".", 0, NULL },
  { "\\d{3}-\\d{4}", 0, NULL },
  { "\\x{41}pple", 0, "=Apple" },
  { "caf\\x{e9} au lait", 0, "= au lait & =caf" },
  { "(?x) foo bar", 0, NULL },              /* extended mode: spaces mean nothing */
  { "foo bar", PCRE2_EXTENDED, NULL },
  { "(?(1)abc|def)", 0, NULL },
  { "(abc)(?1)", 0, NULL },
  { "abc(?R)?", 0, NULL },
  { "\\Qa.b\\E", 0, NULL },
  { "(*MARK:1)hello", PCRE2_CASELESS, "hello" },
  { "(*SKIP)hello", 0, NULL },
  { "(?#note)hello", 0, "=hello" },
  { "abcl{2}defg", 0, "=defg & =abc" },       /* "l{2}": the run stops at a count */
  { "x{,3}hello", 0, NULL },                /* PCRE2 versions disagree on {,3} */
  { "(?<name>invoice)|(?P<other>receipt)", 0, "=invoice|=receipt" },
  /* without caseless matching, literals keep their case; "(?i" anywhere in
     the pattern takes it for caseless */
  { "\\b(?:NOW|TODAY)\\s+(?:FIX|SEND)\\b", 0, "=\\bNOW|=\\bTODAY & =FIX\\b|=SEND\\b" },
  { "\\b(?:NOW|TODAY)\\s+(?:FIX|SEND)\\b", PCRE2_CASELESS, "\\bnow|\\btoday & fix\\b|send\\b" },
  { "(?:NOW|TODAY)\\s+(?i:FIX|SEND)", 0, "now|today & fix|send" },
  { "(?:NOW|TODAY)\\s+(?-i:FIX|SEND)", 0, "now|today & fix|send" }, /* (options not read closely) */
  { "Hi\\?\\?", 0, "=Hi??" },
  { "\\d\\?\\?\\d", 0, "??" },                         /* no letters: no case */
  /* a non-ASCII character without other case forms is a literal, which
     weighs as four ASCII letters */
  { "\\bI\\s+(?:can|could)\\s+\xc2\xa3\\s?\\d+", PCRE2_CASELESS, "\xc2\xa3 & can|could" },
  { "\\x{a3}\\d", 0, "\xc2\xa3" },
  { "it(?:'s|\xe2\x80\x99s) done", 0, "=it's done|=it\xe2\x80\x99s done" },
  { "\\\xe2\x82\xac\\d", 0, "\xe2\x82\xac" },            /* an escaped one too */
  { "caf\xc3\xa9 au lait", PCRE2_CASELESS, " au lait & caf" }, /* letters with case: any */
  { "stra\xc3\x9f" "e", PCRE2_CASELESS, "stra" },       /* \xc3\x9f: U+1E9E is its capital */
  { "\xcf\x83\xcf\x82" "ab", PCRE2_CASELESS, NULL },       /* sigmas */
  { "\xe2\x84\xaa" "elvin", 0, "=elvin" },               /* U+212A is a letter */
  /* a class of characters that stand for themselves is an exact set */
  { "don['\xe2\x80\x99]t\\s+worry", PCRE2_CASELESS, "don't|don\xe2\x80\x99t & worry" },
  { "say[\\\"\xe2\x80\x9c]hi", 0, "=say\"hi|=say\xe2\x80\x9chi" },      /* an escaped mark */
  { "abc[\xc3\xa9']s", PCRE2_CASELESS, "abc" },           /* a letter with case forms: any */
  { "abc[x-]yz", 0, "=abc" },                         /* a dash may make a range */
  { "abc[\\w']yz", 0, "=abc" },
  { "\xc2\xb5s", 0, NULL },                         /* U+00B5 MICRO SIGN folds to mu */
};

static int literals_compare(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a|b & c": each set's literals sorted and '|'-joined, the sets (most
 * selective first) joined by " & ", a word boundary written \b and a
 * literal whose letters keep their case after "="; NULL when the regex
 * always runs. */
static char *literals_joined(const char *pattern, guint32 flags)
{
  g_autoptr(GPtrArray) sets = prefilter_literals(pattern, strlen(pattern), flags);
  if (!sets)
    return NULL;
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint s = 0; s < sets->len; s++) {
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    for (char **l = g_ptr_array_index(sets, s); *l; l++)
      g_ptr_array_add(sorted, *l);
    g_ptr_array_sort(sorted, literals_compare);
    g_ptr_array_add(sorted, NULL);
    g_autofree char *joined = g_strjoinv("|", (char **)sorted->pdata);
    g_string_append_printf(out, "%s%s", s ? " & " : "", joined);
  }
  g_string_replace(out, "\x01", "\\b", 0); /* a word boundary there */
  g_string_replace(out, "\x02", "=", 0);   /* letters in this case only */
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void test_literals(gconstpointer data)
{
  const LiteralCase *c = data;
  g_autofree char *got = literals_joined(c->pattern, c->flags);
  g_test_message("%s -> %s", c->pattern, got ? got : "(always)");
  g_assert_cmpstr(got, ==, c->literals);
}

static pcre2_code *compile(const char *pattern, guint32 flags)
{
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 flags | PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
  g_assert_nonnull(re);
  return re;
}

static gboolean regex_matches(const pcre2_code *re, const char *text)
{
  g_autoptr(pcre2_match_data) match = pcre2_match_data_create_from_pattern(re, NULL);
  return pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, match, NULL) >= 0;
}

/* `pattern` on `text`: whether the prefilter lets it run and whether it matches. */
static void check_scan(const char *pattern, guint32 flags, const char *text, gboolean runs,
                       gboolean matches)
{
  g_autoptr(Prefilter) prefilter = prefilter_new();
  int other = prefilter_add(prefilter, "unrelated\\s+words", 17, 0);
  int id = prefilter_add(prefilter, pattern, strlen(pattern), flags);
  prefilter_build(prefilter);
  g_assert_cmpint(other, >=, 0);
  g_autofree PrefilterSeen *seen = prefilter_scan(prefilter, text, strlen(text));
  g_autoptr(pcre2_code) re = compile(pattern, flags);
  g_test_message("%s on \"%s\"", pattern, text);
  g_assert_cmpint(prefilter_may_match(prefilter, id, seen), ==, runs);
  g_assert_cmpint(regex_matches(re, text), ==, matches);
  g_assert_false(prefilter_may_match(prefilter, other, seen) && !strstr(text, "unrelated"));
}

static void test_scan(void)
{
  const char *deadline = "missed\\s+the\\s+deadline";
  check_scan(deadline, PCRE2_CASELESS, "Nothing to see here.", FALSE, FALSE);
  check_scan(deadline, PCRE2_CASELESS, "You MISSED the\n DeadLine again", TRUE, TRUE);
  check_scan(deadline, PCRE2_CASELESS, "the deadline is Friday", FALSE, FALSE); /* no "missed" */
  check_scan(deadline, 0, "Missed it: the deadline is Friday", FALSE, FALSE); /* exact case */
  check_scan(deadline, 0, "Deadline: you missed the\ndeadline", TRUE, TRUE);
  check_scan("(?i)kelvin", 0, "\xe2\x84\xaa" "elvin", TRUE, TRUE); /* U+212A KELVIN SIGN */
  check_scan("(?i)sure", 0, "\xc5\xbf" "ure", TRUE, TRUE);          /* U+017F LONG S */
  check_scan("(?i)sure", 0, "\xc5\xbe" "ure", FALSE, FALSE);        /* U+017E is no s */
  check_scan("Refund", 0, "refund", FALSE, FALSE); /* no caseless matching: case counts */
  check_scan("(?i)Refund", 0, "rEFUND", TRUE, TRUE);
  check_scan("Refund", 0, "REFUND Refund", TRUE, TRUE);
  check_scan("sure", 0, "\xc5\xbfure", FALSE, FALSE);      /* U+017F is no s then */
  check_scan("\\b(?:NOW|TODAY)\\b", 0, "now, Today", FALSE, FALSE);
  check_scan("\\b(?:NOW|TODAY)\\b", 0, "NOWHERE? not TODAY", TRUE, TRUE);
  check_scan("abcx*def", 0, "abcxxdef", TRUE, TRUE);
  check_scan("on\\s+me\\b(?<=that's\\son\\sme)", PCRE2_CASELESS, "it's on me", FALSE, FALSE);
  check_scan("on\\s+me\\b(?<=that's\\son\\sme)", PCRE2_CASELESS, "That's on me!", TRUE, TRUE);
  check_scan("a(?:bc|de)+f", 0, "ABCBCF", TRUE, FALSE);
  check_scan("a(?:bc|de)+f", 0, "abcbcf", TRUE, TRUE);
  check_scan("a(?:bc|de)f", PCRE2_CASELESS, "xx ADEF", TRUE, TRUE);
  check_scan("a(?:bc|de)f", PCRE2_CASELESS, "abc def", FALSE, FALSE);
  check_scan("you\\s+(?:never|forgot)", PCRE2_CASELESS, "you said you would", FALSE, FALSE);
  check_scan("you\\s+(?:never|forgot)", PCRE2_CASELESS, "never mind", FALSE, FALSE);
  check_scan("you\\s+(?:never|forgot)", PCRE2_CASELESS, "I never said you forgot", TRUE, TRUE);
  check_scan("\\d{3}-\\d{4}", 0, "no digits", TRUE, FALSE); /* unprovable: always runs */
  check_scan("\\d{3}-\\d{4}", 0, "555-1234", TRUE, TRUE);
  check_scan("\\d\\s*hrs?\\b[^.]{0,60}\\?{2,}", 0, "5 hrs for what???", TRUE, TRUE);
  check_scan("\\d\\s*hrs?\\b[^.]{0,60}\\?{2,}", 0, "5 hrs for what? ?", FALSE, FALSE);
  check_scan("caf\\x{e9} au lait", PCRE2_CASELESS, "CAF\xc3\x89 AU LAIT", TRUE, TRUE);
}

/* A non-ASCII character with no other case form ("\xc2\xa3", "\xe2\x82\xac",
 * "\xe2\x80\x93") is a literal of its bytes: a regex that needs it is skipped
 * on a text without it; one of its bytes beside U+017F or U+212A (read as s
 * and k) is still found; a literal cut to its first bytes is not cut inside
 * a character; a letter with other case forms stays "any character". */
static void test_scan_wide(void)
{
  const char *pound = "\\b(?:can|could|would|will)\\s+you\\s+(?:do|take)\\s+\xc2\xa3\\s?[0-9]+";
  check_scan(pound, PCRE2_CASELESS, "Could you do \xc2\xa3" "40?", TRUE, TRUE);
  check_scan(pound, PCRE2_CASELESS, "could you do $40?", FALSE, FALSE);
  check_scan(pound, PCRE2_CASELESS, "could you do 40\xc2\xa2?", FALSE, FALSE); /* U+00A2 */
  check_scan("(?i)k\xe2\x82\xac", 0, "\xe2\x84\xaa\xe2\x82\xac", TRUE, TRUE); /* U+212A then the euro */
  check_scan("(?i)\xe2\x82\xacs\\d", 0, "\xe2\x82\xac\xc5\xbf" "5", TRUE, TRUE); /* the euro then U+017F */
  check_scan("a\xe2\x80\x93" "b", 0, "a\xe2\x80\x94" "b", FALSE, FALSE); /* en dash, em dash */
  check_scan("abcdefg\xc2\xa3", 0, "abcdefg\xc2\xa3", TRUE, TRUE);
  check_scan("abcdefg\xc2\xa3", 0, "abcdefg$", TRUE, FALSE); /* cut to "abcdefg" */
  check_scan("abcdefg\xc2\xa3", 0, "xbcdefg\xc2\xa3", FALSE, FALSE);
  check_scan("caf\xc3\xa9s", PCRE2_CASELESS, "CAF\xc3\x89S", TRUE, TRUE);
  check_scan("stra\xc3\x9f" "e", PCRE2_CASELESS, "STRA\xe1\xba\x9e" "E", TRUE, TRUE);
  check_scan("(?i)ab\xcf\x82", 0, "AB\xce\xa3", TRUE, TRUE); /* final sigma, capital sigma */
}

/* `pattern` on `text` (PCRE2_CASELESS): whether the prefilter lets it run
 * after prefilter_scan_whole() and after prefilter_scan() (for a part of the
 * text: word boundaries do not count), and whether it matches. */
static void check_bounded(const char *pattern, const char *text, gboolean runs_whole,
                          gboolean runs_part, gboolean matches)
{
  g_autoptr(Prefilter) prefilter = prefilter_new();
  int id = prefilter_add(prefilter, pattern, strlen(pattern), PCRE2_CASELESS);
  prefilter_build(prefilter);
  g_assert_cmpint(id, >=, 0);
  g_autofree PrefilterSeen *whole = prefilter_scan_whole(prefilter, text, strlen(text));
  g_autofree PrefilterSeen *part = prefilter_scan(prefilter, text, strlen(text));
  g_autoptr(pcre2_code) re = compile(pattern, PCRE2_CASELESS);
  g_test_message("%s on \"%s\"", pattern, text);
  g_assert_cmpint(prefilter_may_match(prefilter, id, whole), ==, runs_whole);
  g_assert_cmpint(prefilter_may_match(prefilter, id, part), ==, runs_part);
  g_assert_cmpint(regex_matches(re, text), ==, matches);
}

/* A literal after or before \b: found only where no ASCII letter, digit or _
 * is beside it (a non-ASCII character may be no letter: it counts as a
 * boundary), whatever U+017F or U+212A it holds; it is a literal of its own
 * beside the same bytes without the boundary, or with others, and ends
 * states that other literals pass through; a cut literal keeps only the
 * boundary in front; a long text read in two halves finds it anywhere. */
static void test_scan_bounded(void)
{
  const char *now = "\\bnow\\b";
  check_bounded(now, "I know it", FALSE, TRUE, FALSE);
  check_bounded(now, "snow, nowhere, now_, 9now", FALSE, TRUE, FALSE);
  check_bounded(now, "do it NOW!", TRUE, TRUE, TRUE);
  check_bounded(now, "now", TRUE, TRUE, TRUE);
  check_bounded(now, "I know: now", TRUE, TRUE, TRUE);             /* the second one */
  check_bounded(now, "\xc3\xa9now", TRUE, TRUE, FALSE);             /* U+00E9 may be a letter */
  check_bounded(now, "\xe2\x80\x94now\xc2\xa0", TRUE, TRUE, TRUE); /* em dash, no-break space */
  check_bounded("\\bkin\\b", "\xe2\x84\xaain", TRUE, TRUE, TRUE);    /* U+212A */
  check_bounded("\\bkin\\b", "a\xe2\x84\xaain", FALSE, TRUE, FALSE);
  check_bounded("\\bkin\\b", "\xc3\xa9\xe2\x84\xaain", TRUE, TRUE, FALSE);
  check_bounded("\\bsure", "x\xc5\xbfure", FALSE, TRUE, FALSE);      /* U+017F */
  check_bounded("\\bsure", "-\xc5\xbfure", TRUE, TRUE, TRUE);
  check_bounded("\\bunbelievable\\b", "unbelievablex", TRUE, TRUE, FALSE); /* cut: "\bunbeliev" */
  check_bounded("\\bunbelievable\\b", "xunbelievable", FALSE, TRUE, FALSE);

  g_autoptr(Prefilter) prefilter = prefilter_new();
  const char *patterns[] = { "now", "\\bnow\\b", "\\bnow", "now\\b", "know\\b" };
  int ids[G_N_ELEMENTS(patterns)];
  for (guint i = 0; i < G_N_ELEMENTS(patterns); i++)
    ids[i] = prefilter_add(prefilter, patterns[i], strlen(patterns[i]), PCRE2_CASELESS);
  prefilter_build(prefilter);
  const struct { const char *text; const char *runs; } cases[] = {
    { "know", "10011" }, { "nowhere", "10100" }, { "snow", "10010" }, { "now", "11110" },
    { "x", "00000" },
  };
  for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
    g_autofree PrefilterSeen *seen = prefilter_scan_whole(prefilter, cases[c].text, strlen(cases[c].text));
    for (guint i = 0; i < G_N_ELEMENTS(patterns); i++) {
      g_test_message("%s on %s", patterns[i], cases[c].text);
      g_assert_cmpint(prefilter_may_match(prefilter, ids[i], seen), ==, cases[c].runs[i] == '1');
    }
  }

  for (gsize at = 0; at + 5 <= 600; at++) {
    g_autofree char *text = g_strnfill(600, 'x');
    memcpy(text + at, " now ", 5);
    g_autofree PrefilterSeen *bounded = prefilter_scan_whole(prefilter, text, 600);
    g_assert_true(prefilter_may_match(prefilter, ids[1], bounded));
    text[at] = text[at + 4] = 'x';
    g_autofree PrefilterSeen *inside = prefilter_scan_whole(prefilter, text, 600);
    g_assert_false(prefilter_may_match(prefilter, ids[1], inside));
    g_assert_true(prefilter_may_match(prefilter, ids[0], inside));
  }
}

/* A long text is read as two halves at once: a literal is found wherever it
 * lies, across the half too, and a character read as a letter (U+212A) in
 * it as well; none is found where there is none. */
static void test_scan_halves(void)
{
  g_autoptr(Prefilter) prefilter = prefilter_new();
  int deadline = prefilter_add(prefilter, "deadline", 8, PCRE2_CASELESS);
  int kelvin = prefilter_add(prefilter, "(?i)kelvins", 11, 0);
  prefilter_build(prefilter);
  const char *const words[] = { "DeadLine", "\xe2\x84\xaa" "elvins" };
  const int ids[] = { deadline, kelvin };
  for (guint w = 0; w < G_N_ELEMENTS(words); w++) {
    for (gsize len = 256; len <= 600; len += 344) {
      for (gsize at = 0; at + strlen(words[w]) <= len; at++) {
        g_autofree char *text = g_strnfill(len, 'x');
        memcpy(text + at, words[w], strlen(words[w]));
        g_autofree PrefilterSeen *seen = prefilter_scan(prefilter, text, len);
        g_test_message("%s at %zu of %zu", words[w], at, len);
        g_assert_true(prefilter_may_match(prefilter, ids[w], seen));
        g_assert_false(prefilter_may_match(prefilter, ids[1 - w], seen));
      }
    }
  }
}

static void test_always(void)
{
  g_autoptr(Prefilter) prefilter = prefilter_new();
  int id = prefilter_add(prefilter, "\\w+", 3, 0);
  g_assert_cmpint(id, ==, PREFILTER_ALWAYS);
  prefilter_build(prefilter);
  g_assert_cmpuint(prefilter_literal_count(prefilter), ==, 0);
  g_autofree PrefilterSeen *seen = prefilter_scan(prefilter, "", 0);
  g_assert_true(prefilter_may_match(prefilter, id, seen));
  g_assert_cmpint(prefilter_add(prefilter, "late", 4, 0), ==, PREFILTER_ALWAYS); /* after build */
}

/* ---- phrase heads ---- */

typedef struct {
  const char *phrase;
  const char *head; /* NULL: the phrase has none */
} HeadCase;

static void test_phrase_head(void)
{
  static const HeadCase cases[] = {
    { "you'll", "you" }, { "a.s.a.p", "a" }, { "9pm", "9pm" }, { "YOU Missed", "you" },
    { "e-mail", "e" }, { "24/7", "24" }, { "thanks", "thanks" },
    { " you", NULL }, { "'cause", NULL }, { "\xc3\xbc" "ber", NULL },
    { "caf\xc3\xa9", NULL },     /* a non-ASCII letter after the head: none */
    { "s\xc5\xbft", NULL },       /* U+017F matches s caselessly */
    { "\xe2\x84\xaaill", "kill" }, /* U+212A lower-cases to k, as the trie does */
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *head = prefilter_phrase_head(cases[i].phrase);
    g_assert_cmpstr(head, ==, cases[i].head);
  }
}

/* The offsets and lists found in `text`, as "offset:lists offset:lists". */
static char *heads_found(const PrefilterHeads *heads, const char *text)
{
  g_autoptr(GArray) found = prefilter_heads_find(heads, text, strlen(text));
  if (!found)
    return g_strdup("none");
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint i = 0; i < found->len; i++) {
    const PrefilterHead *head = &g_array_index(found, PrefilterHead, i);
    g_string_append_printf(out, "%s%u:%u", i ? " " : "", head->offset, head->lists);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void test_heads_find(void)
{
  g_autoptr(PrefilterHeads) heads = prefilter_heads_new();
  prefilter_heads_add(heads, "you", 0);
  prefilter_heads_add(heads, "a", 1);
  prefilter_heads_add(heads, "the", 0);
  prefilter_heads_add(heads, "the", 2);
  for (guint i = 0; i < 200; i++) { /* the table grows */
    g_autofree char *word = g_strdup_printf("w%u", i);
    prefilter_heads_add(heads, word, 3);
  }
  const struct { const char *text, *found; } cases[] = {
    { "", "" },
    { "You, THE end", "0:1 5:5" },
    { "xyou _you you2 yo", "" },          /* inside a word, after _, longer, shorter */
    { "(you) a_b", "1:1 6:2" },           /* a word followed by _ is still found */
    { "\xc3\xa9you", "2:1" },             /* after a non-ASCII letter: the trie decides */
    { "w0 w199 w200", "0:8 3:8" },
    { "you \xc5\xbf", "none" },             /* U+017F: any position may start a phrase */
    { "\xe2\x84\xaaill you", "none" },      /* U+212A */
    { "\xe2\x84\xa2 you", "4:1" },          /* U+2122 is no special */
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *found = heads_found(heads, cases[i].text);
    g_assert_cmpstr(found, ==, cases[i].found);
  }
}

/* A head added with its phrases is found only where the text goes on as one
 * of them may: white space and a word with the same first two characters, the
 * same punctuation, or (for a phrase that is the head alone) no word
 * character; anything not ASCII there keeps it. */
static void test_heads_next(void)
{
  g_autoptr(PrefilterHeads) heads = prefilter_heads_new();
  const char *const phrases[] = { "you missed", "You'll", "kill", "see  you in court", "e-mail",
                                  "pay up" };
  for (guint i = 0; i < G_N_ELEMENTS(phrases); i++)
    g_assert_true(prefilter_heads_add_phrase(heads, phrases[i], i < 2 ? 0 : 1));
  g_assert_false(prefilter_heads_add_phrase(heads, "'cause", 0));
  const struct { const char *text, *found; } cases[] = {
    { "you missed it", "0:1" },
    { "YOU\t\nMIssed", "0:1" },
    { "you made it", "" },             /* "ma" is not "mi" */
    { "you", "" },                     /* no phrase is "you" alone */
    { "you, then", "" },
    { "you'll see", "0:1" },
    { "you\xe2\x80\x99ll see", "0:1" }, /* not ASCII after the head: kept */
    { "you m\xc3\xa9", "0:1" },          /* not ASCII in the next word: kept */
    { "kill", "0:2" }, { "kill.", "0:2" }, { "kill it", "0:2" },
    { "kill_", "" },                    /* "kill" must end at a word boundary */
    { "see\xc2\xa0you", "0:2" },          /* U+00A0 may be white space */
    { "see it", "" },
    { "e mail e-mail e", "0:2 7:2 14:2" }, /* a dash: the filter cannot tell */
    { "pay up now pay it", "0:2" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *found = heads_found(heads, cases[i].text);
    g_test_message("%s", cases[i].text);
    g_assert_cmpstr(found, ==, cases[i].found);
  }
}

/* A head of several lists is found only for the lists with a phrase that may
 * go on as the text does: each list asks the filter for itself. */
static void test_heads_next_lists(void)
{
  g_autoptr(PrefilterHeads) heads = prefilter_heads_new();
  g_assert_true(prefilter_heads_add_phrase(heads, "you missed", 0));
  g_assert_true(prefilter_heads_add_phrase(heads, "you owe", 1));
  g_assert_true(prefilter_heads_add_phrase(heads, "you", 2));
  g_assert_true(prefilter_heads_add_phrase(heads, "you-know-who", 3));
  g_assert_true(prefilter_heads_add_phrase(heads, "you.", 4));
  const struct { const char *text, *found; } cases[] = {
    { "you missed", "0:13" },          /* 0, 2 ("you" ends), 3 (a dash may be white space) */
    { "you owe me", "0:14" },          /* 1, 2, 3 */
    { "you", "0:12" },                 /* 2, 3 */
    { "you.", "0:28" },                /* list 2 (a word ends), 3 and 4 */
    { "you again", "0:12" },
    { "youÂ owe", "0:31" },        /* not ASCII after the head: every list */
    { "you_", "0:8" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *found = heads_found(heads, cases[i].text);
    g_test_message("%s", cases[i].text);
    g_assert_cmpstr(found, ==, cases[i].found);
  }
}

/* A list whose phrases of a head all go on with white space, a second word
 * of ASCII letters and digits, white space and a third word is found only
 * where the text's second word is one of theirs and the third starts as one
 * of theirs does; a list with another phrase of the head (list 1: "in the"
 * ends there, list 2: "you're") is found as the next word's start allows. */
static void test_heads_third(void)
{
  g_autoptr(PrefilterHeads) heads = prefilter_heads_new();
  const struct { const char *phrase; guint list; } phrases[] = {
    { "in the end", 0 }, { "in the long  run", 0 }, { "in the", 1 },
    { "if you want", 2 }, { "if you're", 2 }, { "pay up now", 3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS(phrases); i++)
    g_assert_true(prefilter_heads_add_phrase(heads, phrases[i].phrase, phrases[i].list));
  const struct { const char *text, *found; } cases[] = {
    { "in the end", "0:3" },
    { "In THE\tLong", "0:3" },
    { "in the box", "0:2" },               /* "bo" starts no third word of list 0 */
    { "in theory end", "0:2" },            /* "theory" is not "the" */
    { "in the_end", "0:2" },               /* no white space after "the" */
    { "in the", "0:2" },
    { "in the\xc2\xa0" "end", "0:3" },        /* U+00A0 may be white space */
    { "in the \xc3\xa9t\xc3\xa9", "0:3" },  /* a third word not ASCII: kept */
    { "if you go", "0:4" },                /* list 2 has "you're" */
    { "pay up later", "" },
    { "pay  up   now!", "0:8" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *found = heads_found(heads, cases[i].text);
    g_test_message("%s", cases[i].text);
    g_assert_cmpstr(found, ==, cases[i].found);
  }
}

/* A phrase group scored through its heads finds what the whole-text scan
 * finds: at a word start, after punctuation, in capitals, and in a text
 * holding U+212A (every position tried); never inside a word. */
static void test_heads_scoring(void)
{
  static const char *const rules_text =
    "dimension tone flag >= 1\n"
    "phrases kill\n  look text subject\n  words kill | you'll pay | a.s.a.p | see you in court\n"
    "  adds tone +1\n"
    "phrases other\n  look text subject\n  words pay up\n  adds tone +1\n";
  const char *names[] = { "heads.rules" };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_compile(names, &rules_text, 1, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rules->phrase_groups->len, ==, 1);
  g_assert_cmpuint(((RulesPhraseGroup *)g_ptr_array_index(rules->phrase_groups, 0))->head_bit, ==, 1);
  const struct { const char *body; const char *match; } cases[] = {
    { "I will KILL it", "KILL" },
    { "skill and killer", NULL },
    { "(you\xe2\x80\x99ll pay) now", "you\xe2\x80\x99ll pay" },
    { "please, A.S.A.P!", "A.S.A.P" },
    { "\xc3\xa9kill but kill", "kill" },
    { "I \xe2\x84\xaaILL it", "\xe2\x84\xaaILL" },
    { "a \xc5\xbf then see you\nin court", "see you\nin court" },
    { "seeyou in court", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *raw = g_strdup_printf("From: C <c@example.com>\r\nTo: J <j@example.com>\r\n"
                                           "Subject: hello\r\nContent-Type: text/plain; "
                                           "charset=utf-8\r\n\r\n%s\r\n", cases[i].body);
    g_autoptr(KeelMessage) message = message_parse((const guint8 *)raw, strlen(raw), NULL, 0, &error);
    g_assert_no_error(error);
    g_autoptr(ScoreResult) result = score_message(rules, message, NULL, &error);
    g_assert_no_error(error);
    const ScoreHit *hit = NULL;
    for (guint h = 0; h < result->hits->len; h++)
      if (strcmp(((ScoreHit *)g_ptr_array_index(result->hits, h))->rule, "kill") == 0)
        hit = g_ptr_array_index(result->hits, h);
    g_test_message("%s", cases[i].body);
    g_assert_cmpstr(hit ? hit->match : NULL, ==, cases[i].match);
  }
}

/* ---- top-level branches ---- */

typedef struct {
  const char *pattern;
  guint32 flags;
  const char *branches; /* " ; "-joined; NULL: not matched alone */
} BranchCase;

static void test_branches(void)
{
  static const BranchCase cases[] = {
    { "abc|def", 0, "abc ; def" },
    { "a(?:b|c)d|[|)]x|\\|y|(?i:q|r)", 0, "a(?:b|c)d ; [|)]x ; \\|y ; (?i:q|r)" },
    { "(?<n>a|b)c|(?<=x|y)z", PCRE2_CASELESS, "(?<n>a|b)c ; (?<=x|y)z" },
    { "(?:a(?i)b|c)|d", 0, "(?:a(?i)b|c) ; d" }, /* options inside a group stay there */
    { "(?:ab|c)\\s+d", 0, "ab\\s+d ; c\\s+d" },     /* a leading group goes round the rest */
    { "\\b(?<!x)(?:ab|(?:c|d)e)f(g|h)", 0, "\\b(?<!x)abf(g|h) ; \\b(?<!x)(?:c|d)ef(g|h)" },
    { "(?:^|[.!?]\\s+|\\n)now", PCRE2_MULTILINE, "^now ; [.!?]\\s+now ; \\nnow" },
    { "(?:ab|c)d|(?:e|f)+g|h", 0, "abd ; cd ; (?:e|f)+g ; h" }, /* in a top-level branch */
    { "(?:ab|c)+d", 0, NULL },                /* a repeated group */
    { "(?:ab|c)?d", 0, NULL },
    { "(?:ab|c){2}d", 0, NULL },
    { "(?>ab|a)b", 0, NULL },                 /* atomic */
    { "(?:a(?i)b|c)d", 0, NULL },             /* the option would reach d */
    { "x(?:ab|c)d", 0, NULL },                /* not leading */
    { "(?:abc)d", 0, NULL },                  /* one alternative */
    { "abc", 0, NULL },
    { "(abc|def)", 0, NULL },                 /* one branch */
    { "(a)\\1|b", 0, NULL },                  /* backreference */
    { "(?<n>a)|\\k<n>", 0, NULL },
    { "(?P<n>a)|(?P=n)", 0, NULL },
    { "(a)|(?1)", 0, NULL },                  /* subroutine calls, recursion */
    { "(?&n)|(?<n>a)", 0, NULL },
    { "a(?R)?|b", 0, NULL },
    { "(?(1)a|b)|c", 0, NULL },               /* conditional */
    { "(?i)a|b", 0, NULL },                   /* reaches the later branch */
    { "(?x)a #|\n|b", 0, NULL },              /* extended mode */
    { "a|b", PCRE2_EXTENDED, NULL },
    { "(*SKIP)a|b", 0, NULL },
    { "\\Qa|b\\E|c", 0, NULL },
    { "\\Ga|b", 0, NULL },
    { "ab\\Kc|bc", 0, NULL },                /* \K: the earliest start is not the earliest try */
    { "(?#x|y)a|b", 0, NULL },
    { "(a|b", 0, NULL },
    { "a)|b", 0, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    const BranchCase *c = &cases[i];
    g_autoptr(GPtrArray) branches = prefilter_branches(c->pattern, strlen(c->pattern), c->flags);
    if (branches)
      g_ptr_array_add(branches, NULL);
    g_autofree char *joined = branches ? g_strjoinv(" ; ", (char **)branches->pdata) : NULL;
    g_test_message("%s -> %s", c->pattern, joined ? joined : "(whole)");
    g_assert_cmpstr(joined, ==, c->branches);
  }
}

/* Scoring with a regex whose branches run alone finds what the whole regex
 * finds: the earliest match, the first branch on a tie, its captures. */
static void test_branches_scoring(void)
{
  static const char *const rules_text =
    "dimension tone flag >= 1\n"
    "rule early\n  look text /zebra\\s+\\w+|(?<ant>ant\\w*)|antelope\\s+\\w+|kiwi/i\n"
    "  adds tone +1\n";
  const char *names[] = { "branches.rules" };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_compile(names, &rules_text, 1, &error);
  g_assert_no_error(error);
  const RulesLook *look = g_ptr_array_index(rules_get(rules, 0)->looks, 0);
  g_assert_cmpuint(look->n_branches, ==, 4);
  const struct { const char *body, *match, *ant; } cases[] = {
    { "an antelope runs, a zebra sleeps", "antelope", "antelope" }, /* tie: the earlier branch */
    { "a zebra sleeps by the antelope", "zebra sleeps", NULL },    /* the earlier match */
    { "ZEBRA and then kiwi", "ZEBRA and", NULL },
    { "kiwi, then a zebra", "kiwi", NULL },
    { "nothing here", NULL, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *raw = g_strdup_printf("From: C <c@example.com>\r\nTo: J <j@example.com>\r\n"
                                           "Subject: hello\r\n\r\n%s\r\n", cases[i].body);
    g_autoptr(KeelMessage) message = message_parse((const guint8 *)raw, strlen(raw), NULL, 0, &error);
    g_assert_no_error(error);
    g_autoptr(ScoreResult) result = score_message(rules, message, NULL, &error);
    g_assert_no_error(error);
    const ScoreHit *hit = result->hits->len ? g_ptr_array_index(result->hits, 0) : NULL;
    g_test_message("%s", cases[i].body);
    g_assert_cmpstr(hit ? hit->match : NULL, ==, cases[i].match);
    const ScoreCapture *ant = hit && hit->captures && hit->captures->len
                                ? g_ptr_array_index(hit->captures, 0) : NULL;
    g_assert_cmpstr(ant ? ant->value : NULL, ==, cases[i].ant);
  }
}

/* ---- lookahead hints ---- */

static void test_lookahead_hint(void)
{
  static const struct { const char *pattern, *hinted; } cases[] = {
    { "(?<=I\\s|we\\s)(?:asked|sent)\\b", "(?=(?:asked|sent))(?<=I\\s|we\\s)(?:asked|sent)\\b" },
    { "(?<!not\\s)(?<!never\\s)your\\s+fault", "(?=your)(?<!not\\s)(?<!never\\s)your\\s+fault" },
    { "(?<!\\p{L})(?:son|kid)s?\\b", "(?=(?:son|kid))(?<!\\p{L})(?:son|kid)s?\\b" },
    { "(?<=ll\\s)be\\s+x|y", "(?=be)(?<=ll\\s)be\\s+x|y" },     /* the first branch only */
    { "(?<!a)neighbou?r", "(?=neighbo)(?<!a)neighbou?r" },            /* the u may be missing */
    { "(?<!a)(?:b(?=c)|d)+e", "(?=(?:b(?=c)|d))(?<!a)(?:b(?=c)|d)+e" }, /* at least once */
    { "abc", NULL },                        /* no lookbehind */
    { "x(?<=x)y", NULL },
    { "(?<!a)(?:b|c)?d", NULL },             /* may be missing */
    { "(?<!a)(?:b|c)*d", NULL },
    { "(?<!a)(?:b|c){0,2}d", NULL },
    { "(?<!a)(b|c)d", NULL },                /* a capture */
    { "(?<!a)(?:(?<n>b)|c)d", NULL },
    { "(?<!a)(?:b\\1|c)d", NULL },           /* a reference */
    { "(?<!a)(?:b(*SKIP)|c)d", NULL },       /* a verb */
    { "(?<!a)(?:b(?i)|c)d", NULL },          /* an option setting */
    { "(?<![0-9.])[0-9]+x", NULL },          /* a class */
    { "(?<!a)", NULL },
    { "(?<=a", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *hinted = prefilter_lookahead_hint(cases[i].pattern, strlen(cases[i].pattern),
                                                       PCRE2_CASELESS);
    g_test_message("%s -> %s", cases[i].pattern, hinted ? hinted : "(none)");
    g_assert_cmpstr(hinted, ==, cases[i].hinted);
  }
  g_assert_null(prefilter_lookahead_hint("(?<!a)b", 7, PCRE2_EXTENDED));
}

/* ---- every default rule over every committed message ---- */

typedef struct {
  GPtrArray *codes;    /* of pcre2_code*, borrowed from the sets (or from `owned`) */
  GArray *ids;         /* of int */
  GPtrArray *patterns; /* of char*, borrowed */
  Prefilter *prefilter;
  GPtrArray *owned;    /* of pcre2_code*: the unanchored tries of groups with heads */
  GPtrArray *headed;   /* of CorpusGroup* */
  guint branches;      /* top-level branches matched alone, among `codes` */
  GPtrArray *hinted;   /* of pcre2_code*, borrowed: looks compiled with a lookahead hint */
  GPtrArray *plain;    /* of pcre2_code*, in `owned`: the same regexes without it */
} Corpus;

/* A phrase group scored through its heads: its unanchored trie and bit. */
typedef struct {
  const pcre2_code *code;
  guint32 head_bit;
  const PrefilterHeads *heads;
} CorpusGroup;

/* The unanchored trie of a group compiled anchored for its heads. */
static pcre2_code *corpus_unanchored(const RulesLook *look)
{
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)look->pattern, strlen(look->pattern),
                                 look->flags | PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
  g_assert_nonnull(re);
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  return re;
}

/* Each branch of `look` that scoring matches alone, with its literals. */
static void corpus_add_branches(Corpus *corpus, const RulesLook *look)
{
  g_autoptr(GPtrArray) branches = prefilter_branches(look->pattern, strlen(look->pattern), look->flags);
  g_assert_cmpuint(branches ? branches->len : 0, ==, look->n_branches);
  g_assert_true(look->n_branches == 0 || rules_look_branches(look));
  for (guint b = 0; b < look->n_branches; b++) {
    const char *branch = g_ptr_array_index(branches, b);
    int id = prefilter_add(corpus->prefilter, branch, strlen(branch), look->flags);
    g_ptr_array_add(corpus->codes, look->branch_code[b]);
    g_ptr_array_add(corpus->patterns, look->pattern);
    g_array_append_val(corpus->ids, id);
    corpus->branches++;
  }
}

/* A look compiled with a lookahead hint, and its regex compiled without. */
static void corpus_add_hinted(Corpus *corpus, const RulesLook *look)
{
  guint32 options = look->flags | PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  g_autofree char *hint = prefilter_lookahead_hint(look->pattern, strlen(look->pattern), options);
  if (!hint)
    return;
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *plain = pcre2_compile((PCRE2_SPTR)look->pattern, strlen(look->pattern), options,
                                    &code, &offset, NULL);
  g_assert_nonnull(plain);
  pcre2_jit_compile(plain, PCRE2_JIT_COMPLETE);
  g_ptr_array_add(corpus->owned, plain);
  g_ptr_array_add(corpus->plain, plain);
  g_ptr_array_add(corpus->hinted, look->code);
}

/* Each hinted regex finds the match its plain form finds, where it finds it. */
static guint corpus_check_hinted(const Corpus *corpus, const char *text, pcre2_match_data *match)
{
  g_autoptr(pcre2_match_data) other = pcre2_match_data_create(64, NULL);
  guint matched = 0;
  for (guint i = 0; i < corpus->hinted->len; i++) {
    int a = pcre2_match(g_ptr_array_index(corpus->hinted, i), (PCRE2_SPTR)text, strlen(text), 0, 0,
                        match, NULL);
    int b = pcre2_match(g_ptr_array_index(corpus->plain, i), (PCRE2_SPTR)text, strlen(text), 0, 0,
                        other, NULL);
    g_assert_cmpint(a, ==, b);
    if (a < 0)
      continue;
    matched++;
    g_assert_cmpuint(pcre2_get_ovector_pointer(match)[0], ==, pcre2_get_ovector_pointer(other)[0]);
    g_assert_cmpuint(pcre2_get_ovector_pointer(match)[1], ==, pcre2_get_ovector_pointer(other)[1]);
  }
  return matched;
}

static void corpus_add_set(Corpus *corpus, const RuleSet *set)
{
  for (guint r = 0; r < rules_count(set); r++) {
    const RulesRule *rule = rules_get(set, r);
    for (guint i = 0; i < rule->looks->len; i++) {
      const RulesLook *look = g_ptr_array_index(rule->looks, i);
      if (!look->code || !look->pattern)
        continue;
      int id = prefilter_add(corpus->prefilter, look->pattern, strlen(look->pattern), look->flags);
      g_ptr_array_add(corpus->codes, look->code);
      g_ptr_array_add(corpus->patterns, look->pattern);
      g_array_append_val(corpus->ids, id);
      corpus_add_branches(corpus, look);
      corpus_add_hinted(corpus, look);
    }
  }
  for (guint i = 0; i < set->phrase_groups->len; i++) {
    const RulesPhraseGroup *group = g_ptr_array_index(set->phrase_groups, i);
    const RulesLook *look = group->look;
    int id = prefilter_add(corpus->prefilter, look->pattern, strlen(look->pattern), look->flags);
    pcre2_code *code = look->code;
    if (group->head_bit) {
      code = corpus_unanchored(look);
      g_ptr_array_add(corpus->owned, code);
      CorpusGroup *headed = g_new(CorpusGroup, 1);
      *headed = (CorpusGroup){ code, group->head_bit, set->phrase_heads };
      g_ptr_array_add(corpus->headed, headed);
    }
    g_ptr_array_add(corpus->codes, code);
    g_ptr_array_add(corpus->patterns, look->pattern);
    g_array_append_val(corpus->ids, id);
  }
}

static RuleSet *compile_files(const char *const *names, GPtrArray *texts)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_assert_nonnull(root);
  guint n = 0;
  for (; names[n]; n++) {
    g_autofree char *path = g_build_filename(root, "rules", names[n], NULL);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_ptr_array_add(texts, text);
  }
  g_autoptr(GError) error = NULL;
  RuleSet *set = rules_compile(names, (const char *const *)texts->pdata + texts->len - n, n, &error);
  g_assert_no_error(error);
  rules_compile_alone(set);
  return set;
}

static void corpus_messages(const char *dir, GPtrArray *paths)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && strcmp(name, "spamassassin") != 0)
      corpus_messages(path, paths);
    else if (g_str_has_suffix(name, ".eml"))
      g_ptr_array_add(paths, g_steal_pointer(&path));
  }
}

/* Every regex the prefilter skips on `text` must not match it. */
static guint corpus_check_text(const Corpus *corpus, const char *text, pcre2_match_data *match)
{
  /* the whole-text scan skips whatever prefilter_scan() skips, and more */
  g_autofree PrefilterSeen *seen = prefilter_scan_whole(corpus->prefilter, text, strlen(text));
  guint skipped = 0;
  for (guint i = 0; i < corpus->codes->len; i++) {
    if (prefilter_may_match(corpus->prefilter, g_array_index(corpus->ids, int, i), seen))
      continue;
    skipped++;
    int rc = pcre2_match(g_ptr_array_index(corpus->codes, i), (PCRE2_SPTR)text, strlen(text), 0,
                         0, match, NULL);
    if (rc != PCRE2_ERROR_NOMATCH)
      g_test_message("skipped but matches (%d): %s", rc, (char *)g_ptr_array_index(corpus->patterns, i));
    g_assert_cmpint(rc, ==, PCRE2_ERROR_NOMATCH);
  }
  return skipped;
}

/* Every place where a headed group's trie matches (each match, then again
 * from the next character, as scoring scans) must be a head of the group. */
static guint corpus_check_heads(const Corpus *corpus, const char *text, pcre2_match_data *match)
{
  gsize len = strlen(text);
  guint checked = 0;
  for (guint g = 0; g < corpus->headed->len; g++) {
    const CorpusGroup *group = g_ptr_array_index(corpus->headed, g);
    g_autoptr(GArray) heads = prefilter_heads_find(group->heads, text, len);
    guint next = 0;
    for (gsize offset = 0; heads && offset < len;) {
      if (pcre2_match(group->code, (PCRE2_SPTR)text, len, offset, 0, match, NULL) < 0)
        break;
      gsize start = pcre2_get_ovector_pointer(match)[0];
      while (next < heads->len && g_array_index(heads, PrefilterHead, next).offset < start)
        next++;
      gboolean found = next < heads->len && g_array_index(heads, PrefilterHead, next).offset == start &&
                       (g_array_index(heads, PrefilterHead, next).lists & group->head_bit);
      if (!found)
        g_test_message("trie matches at %zu, no head there: %.40s", start, text + start);
      g_assert_true(found);
      checked++;
      offset = (gsize)(g_utf8_next_char(text + start) - text);
    }
  }
  return checked;
}

static void test_default_rules(void)
{
  static const char *const scoring[] = { "keel.rules", "blame.rules", "invoices.rules",
    "learned.rules", "payment.rules", "scope.rules", "threat.rules", "tone.rules",
    "urgency.rules", "vague.rules", NULL };
  static const char *const alone[][2] = { { "instructions.rules", NULL },
                                          { "deadlines.rules", NULL }, { "promises.rules", NULL } };
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func((GDestroyNotify)rules_free);
  Corpus corpus = { g_ptr_array_new(), g_array_new(FALSE, FALSE, sizeof(int)), g_ptr_array_new(),
                    prefilter_new(), g_ptr_array_new_with_free_func((GDestroyNotify)pcre2_code_free),
                    g_ptr_array_new_with_free_func(g_free), 0, g_ptr_array_new(), g_ptr_array_new() };
  g_ptr_array_add(sets, compile_files(scoring, texts));
  for (guint i = 0; i < G_N_ELEMENTS(alone); i++)
    g_ptr_array_add(sets, compile_files(alone[i], texts));
  for (guint i = 0; i < sets->len; i++)
    corpus_add_set(&corpus, g_ptr_array_index(sets, i));
  prefilter_build(corpus.prefilter);
  g_assert_cmpuint(prefilter_filtered_count(corpus.prefilter), >, corpus.codes->len / 2);

  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *data = g_build_filename(g_getenv("KEEL_SOURCE_ROOT"), "tests", "data", NULL);
  corpus_messages(data, paths);
  g_assert_cmpuint(paths->len, >, 50);
  g_autoptr(pcre2_match_data) match = pcre2_match_data_create(64, NULL);
  guint skipped = 0, heads = 0, hinted = 0;
  for (guint i = 0; i < paths->len; i++) {
    g_autofree char *raw = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(g_ptr_array_index(paths, i), &raw, &len, NULL));
    g_autofree char *text = g_utf8_make_valid(raw, (gssize)len);
    g_autofree char *upper = g_utf8_strup(text, -1);
    skipped += corpus_check_text(&corpus, text, match) + corpus_check_text(&corpus, upper, match);
    heads += corpus_check_heads(&corpus, text, match) + corpus_check_heads(&corpus, upper, match);
    hinted += corpus_check_hinted(&corpus, text, match) + corpus_check_hinted(&corpus, upper, match);
  }
  g_test_message("%u regexes, %u with literals; %u files; %u skips verified; %u phrase matches "
                 "at a head (%u groups); %u branches; %u hinted regexes, %u matches agree",
                 corpus.codes->len, prefilter_filtered_count(corpus.prefilter),
                 paths->len, skipped, heads, corpus.headed->len, corpus.branches,
                 corpus.hinted->len, hinted);
  g_assert_cmpuint(skipped, >, 0);
  g_assert_cmpuint(corpus.headed->len, >, 0);
  g_assert_cmpuint(corpus.branches, >, 0);
  g_assert_cmpuint(hinted, >, 0);
  g_ptr_array_unref(corpus.hinted);
  g_ptr_array_unref(corpus.plain);
  g_assert_cmpuint(heads, >, 0);
  g_ptr_array_unref(corpus.owned);
  g_ptr_array_unref(corpus.headed);
  g_ptr_array_unref(corpus.codes);
  g_array_unref(corpus.ids);
  g_ptr_array_unref(corpus.patterns);
  prefilter_free(corpus.prefilter);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(literal_cases); i++) {
    g_autofree char *path = g_strdup_printf("/prefilter/literals/%u", i);
    g_test_add_data_func(path, &literal_cases[i], test_literals);
  }
  g_test_add_func("/prefilter/scan", test_scan);
  g_test_add_func("/prefilter/always", test_always);
  g_test_add_func("/prefilter/heads/phrase-head", test_phrase_head);
  g_test_add_func("/prefilter/scan-halves", test_scan_halves);
  g_test_add_func("/prefilter/scan-wide", test_scan_wide);
  g_test_add_func("/prefilter/scan-bounded", test_scan_bounded);
  g_test_add_func("/prefilter/heads/find", test_heads_find);
  g_test_add_func("/prefilter/heads/next", test_heads_next);
  g_test_add_func("/prefilter/heads/next-lists", test_heads_next_lists);
  g_test_add_func("/prefilter/heads/third", test_heads_third);
  g_test_add_func("/prefilter/heads/scoring", test_heads_scoring);
  g_test_add_func("/prefilter/branches/cut", test_branches);
  g_test_add_func("/prefilter/lookahead-hint", test_lookahead_hint);
  g_test_add_func("/prefilter/branches/scoring", test_branches_scoring);
  g_test_add_func("/prefilter/default-rules", test_default_rules);
  return g_test_run();
}
