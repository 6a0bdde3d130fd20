/* tests/unit/test-families.c: every rule family of the default rules (issue
 * 15) fires on a message no rule was written from and stays quiet on its
 * near-miss.
 *
 * Fixtures: tests/data/families/<family>/fires-*.eml and quiet-*.eml, written
 * for this test, not taken from the labelled corpora. A `fires` message must
 * hit one of the family's rules and be risky (for imperative-now: urgency 3);
 * a `quiet` message must hit none of them and be neither risky nor urgency 3.
 * The rules are KEEL_SOURCE_ROOT/rules, scored without history or clock.
 */
#include <string.h>
#include "daemon/record/rules-dir.h"
#include "filters/score.h"

typedef struct {
  const char *family;
  const char *rules[6];  /* the family's rules, NULL-terminated */
  gboolean by_urgency;   /* judged by urgency level 3 instead of risky */
} Family;

static const Family families[] = {
  { "second-person", { "you_failed_meant", NULL }, FALSE },
  { "repetition", { "keeps_happening", "asked_repeatedly", "still_not_done",
                    "time_gap_complaint", NULL }, FALSE },
  { "sarcasm", { "ironic_self_blame", "ironic_praise_complaint", "quotes_held_up",
                 "scare_quotes_complaint", NULL }, FALSE },
  { "passive-aggressive", { "pointed_reminder", "pointed_reminder_said", "mock_sympathy",
                            "condescension", "condescension_trust", NULL }, FALSE },
  { "self-help", { "self_help_escalation", NULL }, FALSE },
  { "cost", { "cost_stated", NULL }, FALSE },
  { "threat", { "veiled_threat", "one_more_and", "tribunal_or_bank", "warn_others",
                "invoice_leverage", NULL }, FALSE },
  { "imperative-now", { "imperative_now_meant", "short_chaser", NULL }, TRUE },
  { "thread-context", { "delivery_faulted", NULL }, FALSE },
  { "scope", { "availability_pressure", "no_contract_pressure", "not_optional", "extra_on_top", NULL },
    FALSE },
};

typedef struct {
  const Family *family;
  char *path;      /* owned */
  gboolean fires;  /* fires-*.eml (else quiet-*.eml) */
} FamilyCase;

static RuleSet *default_rules;

static void family_case_free(gpointer data)
{
  FamilyCase *c = data;
  g_free(c->path);
  g_free(c);
}

/* The first rule of `family` that `result` hit, or NULL. */
static const char *family_hit(const Family *family, const ScoreResult *result)
{
  for (guint i = 0; i < result->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(result->hits, i);
    for (guint r = 0; family->rules[r]; r++)
      if (strcmp(hit->rule, family->rules[r]) == 0)
        return family->rules[r];
  }
  return NULL;
}

static void test_family_case(gconstpointer data)
{
  const FamilyCase *c = data;
  g_autofree char *raw = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(c->path, &raw, &len, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)raw, len, NULL, 0, &error);
  g_assert_no_error(error);
  g_autoptr(ScoreResult) result = score_message(default_rules, message, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(result->errors->len, ==, 0);
  const char *hit = family_hit(c->family, result);
  gboolean flagged = c->family->by_urgency ? result->urgency >= 3 : result->risky;
  g_test_message("%s: family rule %s, risky %d, urgency %d", c->path, hit ? hit : "-",
                 result->risky, result->urgency);
  if (c->fires) {
    g_assert_nonnull(hit);
    g_assert_true(flagged);
  } else {
    g_assert_null(hit);
    g_assert_false(result->risky);
    g_assert_cmpint(result->urgency, <, 3);
  }
}

/* One test per fixture: /families/<family>/<fires|quiet>-N. */
static guint add_family_tests(const char *root)
{
  guint added = 0;
  for (gsize f = 0; f < G_N_ELEMENTS(families); f++) {
    g_autofree char *dir = g_build_filename(root, "tests", "data", "families",
                                            families[f].family, NULL);
    g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(listing);
    for (const char *name; (name = g_dir_read_name(listing));) {
      gboolean fires = g_str_has_prefix(name, "fires-");
      if ((!fires && !g_str_has_prefix(name, "quiet-")) || !g_str_has_suffix(name, ".eml"))
        continue;
      FamilyCase *c = g_new0(FamilyCase, 1);
      c->family = &families[f];
      c->path = g_build_filename(dir, name, NULL);
      c->fires = fires;
      g_autofree char *stem = g_strndup(name, strlen(name) - 4);
      g_autofree char *test = g_strdup_printf("/families/%s/%s", families[f].family, stem);
      g_test_add_data_func_full(test, c, test_family_case, family_case_free);
      added++;
    }
  }
  return added;
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_assert_nonnull(root);
  g_autofree char *rules_dir = g_build_filename(root, "rules", NULL);
  g_autoptr(GError) error = NULL;
  default_rules = rules_load_dir(rules_dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(add_family_tests(root), >=, 2 * G_N_ELEMENTS(families));
  int status = g_test_run();
  rules_free(default_rules);
  return status;
}
