/* daemon/digest/digest-words.c: what the VA reads about a risky thread, in
 * words rather than numbers and rule names: the risk as a level and a reason
 * ("high: a threat", "rising: second angry message this week"), and each
 * quoted phrase with its rule's `why` line. The number stays for `keel digest
 * --explain`; a rule's internal name is never shown.
 *
 * Must not: read the store or the clock; everything comes in the Digest.
 */
#include <string.h>
#include "daemon/digest/digest.h"

/* How each risk dimension is said: as the reason for a level, and as an
 * adjective of a message ("second angry message"). */
static const struct { const char *dimension, *noun, *adjective; } digest_words_table[] = {
  { "threat", "a threat", "threatening" },
  { "blame", "blames you", "blaming" },
  { "tone", "angry", "angry" },
  { "payment", "payment trouble", "payment" },
  { "scope", "more work than agreed", "scope" },
  { "urgency", "pressure to hurry", "pressing" },
  { "vague", "a vague brief", "vague" },
};

static gint digest_words_find(const char *dimension)
{
  for (gsize i = 0; i < G_N_ELEMENTS(digest_words_table); i++)
    if (g_strcmp0(digest_words_table[i].dimension, dimension) == 0)
      return (gint)i;
  return -1;
}

static const char *digest_words_ordinal(guint n)
{
  static const char *const words[] = { "first", "second", "third", "fourth", "fifth" };
  return n >= 1 && n <= G_N_ELEMENTS(words) ? words[n - 1] : "another";
}

char *digest_risk_words(const DigestThread *thread)
{
  const char *top = thread->dimensions->len ? thread->dimensions->pdata[0] : NULL;
  gint at = digest_words_find(top);
  const char *noun = at >= 0 ? digest_words_table[at].noun : "several warning signs";
  const char *adjective = at >= 0 ? digest_words_table[at].adjective : "risky";
  gboolean threat = FALSE;
  for (guint i = 0; i < thread->dimensions->len; i++)
    threat = threat || g_strcmp0(thread->dimensions->pdata[i], "threat") == 0;
  if (threat)
    return g_strdup("high: a threat");
  if (thread->risky_this_week >= 2)
    return g_strdup_printf("rising: %s %s message this week",
                           digest_words_ordinal(thread->risky_this_week), adjective);
  return g_strdup_printf("%s: %s", thread->risk >= 3.0 ? "high" : "raised", noun);
}

/* The `why` of the rule called `name` in `rules`, or NULL. Borrowed. */
static const char *digest_words_why(const RuleSet *rules, const char *name)
{
  for (guint i = 0; rules && name && i < rules_count(rules); i++) {
    const RulesRule *rule = rules_get(rules, i);
    if (g_strcmp0(rule->name, name) == 0)
      return rule->why;
  }
  return NULL;
}

void digest_words_fill(Digest *digest, const RuleSet *rules)
{
  for (guint i = 0; i < digest->risky->len; i++) {
    DigestThread *thread = digest->risky->pdata[i];
    g_free(thread->risk_words);
    thread->risk_words = digest_risk_words(thread);
    for (guint q = 0; q < thread->quotes->len; q++) {
      DigestQuote *quote = thread->quotes->pdata[q];
      g_free(quote->why);
      quote->why = g_strdup(digest_words_why(rules, quote->rule));
    }
  }
}
