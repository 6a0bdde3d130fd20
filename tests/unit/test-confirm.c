/* tests/unit/test-confirm.c: the confirmation gate (filters/confirm.c) on
 * positive evidence. A small rule set scores short messages; each case checks
 * that one piece of evidence alone blocks the confirmation and that
 * auto_reply_reason names it. Links libkeel-filters alone (pure core).
 * Must not: read the shipped rules (their tuning is not what is tested). */
#include <glib.h>
#include <string.h>
#include "filters/confirm.h"
#include "filters/excerpt.h"
#include "filters/message.h"
#include "filters/rules.h"
#include "filters/score.h"

static const char gate_rules[] =
  "dimension tone    flag >= 4\n"
  "dimension blame   flag >= 4\n"
  "dimension scope   flag >= 4\n"
  "dimension payment flag >= 4\n"
  "dimension urgency flag >= 3\n"
  "risky if tone | blame | scope\n"
  "rule oh_wonderful\n  look text /\\boh (?:wonderful|great)\\b/i\n  adds tone +2\n"
  "rule no_rush\n  look text /\\bno rush\\b/i\n  adds tone -2\n"
  "rule weekend\n  look text /\\bweekend\\b/i\n  adds scope +1\n"
  "rule asap\n  look text /\\basap\\b/i\n  adds urgency +3\n"
  "rule tomorrow\n  look text /\\btomorrow\\b/i\n  adds urgency +2\n"
  "rule slow\n  look text /(x+)+$/\n  adds payment +1\n"
  "urgency level 3 if asap\n"
  "urgency level 2 if tomorrow\n";

static RuleSet *gate_compile(void)
{
  const char *names[] = { "gate.rules" };
  const char *texts[] = { gate_rules };
  g_autoptr(GError) error = NULL;
  RuleSet *rules = rules_compile(names, texts, 1, &error);
  g_assert_no_error(error);
  return rules;
}

static KeelMessage *gate_parse(const char *headers, const char *body)
{
  g_autofree char *raw = g_strdup_printf(
    "From: Bob <bob@acme.example>\r\nTo: Jo <jo@va.example>\r\nSubject: Brochure\r\n"
    "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <g1@acme.example>\r\n%s\r\n%s",
    headers, body);
  g_autoptr(GError) error = NULL;
  KeelMessage *message = message_parse((const guint8 *)raw, strlen(raw), NULL, 0, &error);
  g_assert_no_error(error);
  return message;
}

/* The decision for `body` from a known client with one instruction. */
static ConfirmDecision gate_decide(const char *headers, const char *body, double thread_risk)
{
  g_autoptr(RuleSet) rules = gate_compile();
  g_autoptr(KeelMessage) message = gate_parse(headers, body);
  g_autoptr(GError) error = NULL;
  g_autoptr(ScoreResult) verdict = score_message(rules, message, NULL, &error);
  g_assert_no_error(error);
  ConfirmFacts facts = { .known_client = TRUE, .automated = message->automated,
                         .automated_reason = message->automated_reason, .verdict = verdict,
                         .thread_risk = thread_risk, .instructions = 1 };
  return confirm_decide(&facts);
}

typedef struct {
  const char *name, *headers, *body;
  double thread_risk;
  ConfirmAction action;
  const char *reason_part;
} GateCase;

static const GateCase gate_cases[] = {
  { "calm", "", "Please print the brochure by Friday.\r\n", 0, CONFIRM_SEND, "nothing against" },
  { "calm-tomorrow", "", "Please print the brochure tomorrow.\r\n", 0, CONFIRM_SEND,
    "nothing against" },
  { "softener-alone", "", "No rush: please print the brochure.\r\n", 0, CONFIRM_SEND,
    "nothing against" },
  { "sarcasm-under-flag", "", "Oh wonderful. Please print the brochure.\r\n", 0, CONFIRM_NONE,
    "tone: rule oh_wonderful fired (+2)" },
  { "sarcasm-softened-to-zero", "", "Oh great, no rush. Please print the brochure.\r\n", 0,
    CONFIRM_NONE, "rule oh_wonderful" },
  { "scope-under-flag", "", "Please print the brochure over the weekend.\r\n", 0, CONFIRM_NONE,
    "scope scores 1, first rule weekend" },
  { "urgency-3", "", "Please print the brochure ASAP.\r\n", 0, CONFIRM_NONE, "urgency 3" },
  { "rule-error", "", "Please print the brochure xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!\r\n", 0,
    CONFIRM_NONE, "a rule failed on this message" },
  { "thread", "", "Please print the brochure.\r\n", 0.3, CONFIRM_NONE, "thread is risky" },
  { "thread-calm", "", "Please print the brochure.\r\n", 0.1, CONFIRM_SEND, "nothing against" },
  { "automated", "Auto-Submitted: auto-generated\r\n", "Please print the brochure.\r\n", 0,
    CONFIRM_NONE, "automated (Auto-Submitted" },
};

static void test_gate_case(gconstpointer data)
{
  const GateCase *c = data;
  if (g_str_equal(c->name, "rule-error"))
    g_test_expect_message("keel-filters", G_LOG_LEVEL_WARNING, "rule slow*timed out*");
  ConfirmDecision d = gate_decide(c->headers, c->body, c->thread_risk);
  if (g_str_equal(c->name, "rule-error"))
    g_test_assert_expected_messages();
  if (d.action != c->action || strstr(d.reason, c->reason_part) == NULL)
    g_error("%s: got %s (%s), want %s (%s)", c->name, confirm_action_name(d.action), d.reason,
            confirm_action_name(c->action), c->reason_part);
}

static void test_gate_facts(void)
{
  static const struct { const char *name; ConfirmFacts facts; const char *reason_part; } cases[] = {
    { "stranger", { .instructions = 2 }, "not a known client" },
    { "history", { .known_client = TRUE, .instructions = 1, .first_sync = TRUE }, "first sync" },
    { "unscored", { .known_client = TRUE, .instructions = 1 }, "not scored" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    ConfirmDecision d = confirm_decide(&cases[i].facts);
    g_assert_cmpint(d.action, ==, CONFIRM_NONE);
    if (strstr(d.reason, cases[i].reason_part) == NULL)
      g_error("%s: reason %s", cases[i].name, d.reason);
  }
  g_assert_true(confirm_is_family_dimension("blame"));
  g_assert_true(confirm_is_family_dimension("threat"));
  g_assert_true(confirm_is_family_dimension("tone"));
  g_assert_false(confirm_is_family_dimension("urgency"));
  g_assert_cmpstr(confirm_action_name(CONFIRM_SEND), ==, "confirm");
  g_assert_cmpstr(confirm_action_name(CONFIRM_NONE), ==, "none");
}

/* Nothing to confirm, and the rate limit, come after every piece of evidence. */
static void test_gate_nothing_and_rate(void)
{
  g_autoptr(RuleSet) rules = gate_compile();
  g_autoptr(KeelMessage) message = gate_parse("", "Thanks!\r\n");
  g_autoptr(ScoreResult) verdict = score_message(rules, message, NULL, NULL);
  ConfirmFacts facts = { .known_client = TRUE, .verdict = verdict };
  g_assert_nonnull(strstr(confirm_decide(&facts).reason, "no instruction"));
  facts.instructions = 1;
  facts.recent_confirmations = 1;
  g_assert_nonnull(strstr(confirm_decide(&facts).reason, "12 hours"));
}

/* confirm_steps(): every check, in confirm_decide()'s order, agreeing with it. */
static void test_steps(void)
{
  ConfirmFacts facts = { .known_client = TRUE, .automated = TRUE,
                         .automated_reason = "Auto-Submitted: auto-replied", .instructions = 0 };
  ConfirmStep steps[CONFIRM_STEP_COUNT];
  g_assert_cmpuint(confirm_steps(&facts, steps), ==, 4); /* no verdict: the rest need one */
  g_assert_cmpstr(steps[0].step, ==, "history");
  g_assert_false(steps[0].blocked);
  g_assert_true(steps[2].blocked);
  g_assert_nonnull(strstr(steps[2].reason, "auto-replied"));
  g_assert_true(steps[3].blocked);
  ConfirmDecision d = confirm_decide(&facts);
  g_assert_cmpstr(d.reason, ==, steps[2].reason);
}

/* Quotes end at a sentence or a word, never inside a word. */
static void test_excerpt(void)
{
  const char *text = "If the venue falls through we lose the deposit. Please call them today, "
                     "before noon.";
  g_autofree char *a = excerpt_cut(text, 60);
  g_assert_cmpstr(a, ==, "If the venue falls through we lose the deposit.");
  g_autofree char *b = excerpt_cut("If the venue falls through we lose everything", 20);
  g_assert_cmpstr(b, ==, "If the venue falls…");
  g_autofree char *c = excerpt_cut("short\n\n text", 20);
  g_assert_cmpstr(c, ==, "short text");
  const char *mail = "Hello Jo, I never got a confirmation for the booking, which is odd.";
  const char *at = strstr(mail, "confirmation");
  g_autofree char *d = excerpt_around(mail, at - mail, at - mail + 12, 12);
  g_assert_cmpstr(d, ==, "…never got a confirmation for the…");
  g_assert_null(excerpt_around(mail, 5, 500, 10));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(gate_cases); i++) {
    g_autofree char *path = g_strdup_printf("/confirm/evidence/%s", gate_cases[i].name);
    g_test_add_data_func(path, &gate_cases[i], test_gate_case);
  }
  g_test_add_func("/confirm/facts", test_gate_facts);
  g_test_add_func("/confirm/nothing-and-rate", test_gate_nothing_and_rate);
  g_test_add_func("/confirm/steps", test_steps);
  g_test_add_func("/excerpt/cut-and-around", test_excerpt);
  return g_test_run();
}
