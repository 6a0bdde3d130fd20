/* tests/unit/test-corrections.c: the VA's corrections to the learned signals
 * (daemon/record/corrections.c, daemon/store/store-learned.c): a message found
 * through its Message-ID is marked risky, the trail records it, the model of
 * the mailbox moves by at most the cap, the same correction twice changes
 * nothing, and the corrected model comes back after the store is closed and
 * opened again (a restart). Every test uses a fresh database. */
#include <math.h>
#include <string.h>
#include "daemon/record/corrections.h"
#include "daemon/record/trail.h"
#include "filters/score.h"
#include "tests/unit/test-db.h"

typedef struct {
  char *dir, *path; /* owned */
  Store *store;     /* owned */
} CorrectionsFixture;

static void fixture_setup(CorrectionsFixture *f, gconstpointer data)
{
  (void)data;
  test_db_create("keel-corrections", &f->dir, &f->path, &f->store);
}

static void fixture_teardown(CorrectionsFixture *f, gconstpointer data)
{
  (void)data;
  test_db_remove(&f->dir, &f->path, &f->store);
}

static const char corrections_raw[] =
  "From: Vera <vera@client.example>\r\nTo: va@example.com\r\n"
  "Subject: Spring newsletter\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
  "Message-ID: <poison@client.example>\r\n\r\n"
  "Here is our spring newsletter, thanks for reading and see you soon.\r\n";

/* Rules with a risky model: a few words, bias -2. */
static RuleSet *corrections_rules(void)
{
  const char *names[] = { "keel.rules" };
  const char *texts[] = { "dimension tone flag >= 4\n" };
  g_autoptr(GError) error = NULL;
  RuleSet *rules = rules_compile(names, texts, 1, &error);
  g_assert_no_error(error);
  LearnedSet *set = learned_set_new();
  g_autoptr(GError) parse_error = NULL;
  set->models[LEARNED_RISKY] = learned_model_parse(
    "# test\ndimension risky\nbias -2\n1.5 not paying\n-1.0 thanks\n", "risky.model", &parse_error);
  g_assert_no_error(parse_error);
  rules_set_learned(rules, set);
  return rules;
}

static KeelMessage *corrections_stored(CorrectionsFixture *f, gint64 *row_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = g_bytes_new_static(corrections_raw, strlen(corrections_raw));
  g_autoptr(KeelMessage) parsed = message_parse((const guint8 *)corrections_raw,
                                                strlen(corrections_raw), NULL, 0, &error);
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  g_assert_cmpint(store_add_message(f->store, &origin, raw, parsed, NULL, NULL, &error), ==,
                  STORE_ADDED);
  /* found again through its Message-ID, as `keel mark <poison@client.example>` does */
  g_autoptr(GBytes) found = store_learned_message_raw(f->store, 0, "poison@client.example",
                                                      row_id, &error);
  g_assert_no_error(error);
  g_assert_nonnull(found);
  g_assert_cmpint(*row_id, >, 0);
  return message_parse(g_bytes_get_data(found, NULL), g_bytes_get_size(found), NULL, 0, &error);
}

static double corrections_p(const RuleSet *rules, const KeelMessage *message)
{
  g_autoptr(LearnedFeatures) features = score_learned_features(message);
  return learned_model_predict(rules->learned->models[LEARNED_RISKY], features);
}

static double logit(double p)
{
  return log(p / (1 - p));
}

static void test_mark_and_restart(CorrectionsFixture *f, gconstpointer data)
{
  (void)data;
  gint64 row_id = 0;
  g_autoptr(KeelMessage) message = corrections_stored(f, &row_id);
  g_autoptr(RuleSet) rules = corrections_rules();
  double before = corrections_p(rules, message);
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 3, 10, 0, 0);
  CorrectionsOutcome outcome;
  double step = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(corrections_apply(f->store, rules, message, row_id, LEARNED_RISKY, TRUE, "mark",
                                  now, &outcome, &step, &error));
  g_assert_no_error(error);
  g_assert_cmpint(outcome, ==, CORRECTIONS_APPLIED);
  double after = corrections_p(rules, message);
  g_assert_cmpfloat(after, >, before);
  g_assert_cmpfloat(logit(after) - logit(before), <=, LEARNED_CORRECTION_CAP + 1e-6);
  g_assert_cmpfloat_with_epsilon(logit(after) - logit(before), step, 1e-6);
  /* the same correction again changes nothing */
  g_assert_true(corrections_apply(f->store, rules, message, row_id, LEARNED_RISKY, TRUE, "mark",
                                  now, &outcome, NULL, &error));
  g_assert_cmpint(outcome, ==, CORRECTIONS_UNCHANGED);
  g_assert_cmpfloat(corrections_p(rules, message), ==, after);
  /* recorded in the trail, once */
  gint64 events = 0;
  g_assert_true(trail_verify(f->store, &events, &error));
  g_assert_cmpint(events, ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM trail_events WHERE kind = 'correction'"
                              " AND message_id = 'poison@client.example'"), ==, 1);
  /* a restart: the store closed and opened, the rules loaded afresh */
  g_clear_pointer(&f->store, store_close);
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_autoptr(RuleSet) reloaded = corrections_rules();
  g_assert_cmpfloat(corrections_p(reloaded, message), ==, before);
  g_assert_true(corrections_load(f->store, reloaded, &error));
  g_assert_cmpfloat_with_epsilon(corrections_p(reloaded, message), after, 1e-9);
}

static void test_changed_mind(CorrectionsFixture *f, gconstpointer data)
{
  (void)data;
  gint64 row_id = 0;
  g_autoptr(KeelMessage) message = corrections_stored(f, &row_id);
  g_autoptr(RuleSet) rules = corrections_rules();
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 3, 10, 0, 0);
  CorrectionsOutcome outcome;
  g_autoptr(GError) error = NULL;
  g_assert_true(corrections_apply(f->store, rules, message, row_id, LEARNED_RISKY, TRUE,
                                  "folder keel/Risky", now, &outcome, NULL, &error));
  double risky = corrections_p(rules, message);
  g_assert_true(corrections_apply(f->store, rules, message, row_id, LEARNED_RISKY, FALSE,
                                  "folder keel/Fine", now, &outcome, NULL, &error));
  g_assert_cmpint(outcome, ==, CORRECTIONS_APPLIED);
  g_assert_cmpfloat(corrections_p(rules, message), <, risky);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM learned_corrections"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT label FROM learned_corrections"), ==, 0);
  CorrectionsFigures figures[LEARNED_COUNT];
  g_assert_true(corrections_evaluate(f->store, rules->learned, figures, &error));
  g_assert_cmpuint(figures[LEARNED_RISKY].fine, ==, 1);
  g_assert_cmpuint(figures[LEARNED_RISKY].risky, ==, 0);
  g_assert_cmpuint(figures[LEARNED_RISKY].right, ==, 1);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/corrections/mark-and-restart", CorrectionsFixture, NULL, fixture_setup,
             test_mark_and_restart, fixture_teardown);
  g_test_add("/corrections/changed-mind", CorrectionsFixture, NULL, fixture_setup,
             test_changed_mind, fixture_teardown);
  return g_test_run();
}
