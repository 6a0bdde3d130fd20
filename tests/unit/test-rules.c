/* tests/unit/test-rules.c: the rule compiler, the signals, scoring, thread
 * risk, the JSON of `keel score`, and the quality floor on the dev corpus.
 *
 * Fixtures: tests/data/rules/bad-*.rules, each with `# expect: file:line:col:
 * message` lines naming every error the compiler must report (exact position,
 * message prefix); the default rules in KEEL_SOURCE_ROOT/rules; the dev corpus
 * in KEEL_SHARED/corpus/dev with its labels.json.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include "daemon/record/rules-dir.h"
#include "filters/score.h"

static char *source_path(const char *first, ...)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_assert_nonnull(root);
  va_list args;
  va_start(args, first);
  g_autoptr(GString) path = g_string_new(root);
  for (const char *part = first; part; part = va_arg(args, const char *))
    g_string_append_printf(path, "/%s", part);
  va_end(args);
  return g_string_free(g_steal_pointer(&path), FALSE);
}

static RuleSet *compile_one(const char *name, const char *text, GError **error)
{
  const char *names[] = { name };
  const char *texts[] = { text };
  return rules_compile(names, texts, 1, error);
}

static KeelMessage *parse_text(const char *headers, const char *body)
{
  g_autofree char *raw = g_strdup_printf("From: Client <client@example.com>\r\n"
                                         "To: Jo <jo@example.com>\r\n"
                                         "Message-ID: <t1@example.com>\r\n%s\r\n%s", headers, body);
  g_autoptr(GError) error = NULL;
  KeelMessage *message = message_parse((const guint8 *)raw, strlen(raw), NULL, 0, &error);
  g_assert_no_error(error);
  return message;
}

/* ---- compiler errors, table-driven from tests/data/rules/bad-*.rules ---- */

static void test_bad_file(gconstpointer data)
{
  const char *path = data;
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_autofree char *name = g_path_get_basename(path);
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = compile_one(name, text, &error);
  g_assert_null(rules);
  g_assert_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID);
  g_auto(GStrv) reported = g_strsplit(error->message, "\n", -1);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint expected = 0;
  for (guint i = 0; lines[i]; i++) {
    if (!g_str_has_prefix(lines[i], "# expect: "))
      continue;
    const char *want = lines[i] + strlen("# expect: ");
    gboolean found = FALSE;
    for (guint j = 0; reported[j] && !found; j++)
      found = g_str_has_prefix(reported[j], want);
    if (!found)
      g_test_message("missing '%s' in:\n%s", want, error->message);
    g_assert_true(found);
    expected++;
  }
  g_assert_cmpuint(expected, >, 0);
  g_assert_cmpuint(g_strv_length(reported), ==, expected);
}

static void add_bad_file_tests(void)
{
  g_autofree char *dir = source_path("tests", "data", "rules", NULL);
  g_autoptr(GDir) handle = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(handle);
  const char *name;
  while ((name = g_dir_read_name(handle))) {
    if (!g_str_has_prefix(name, "bad-") || !g_str_has_suffix(name, ".rules"))
      continue;
    g_autofree char *test = g_strdup_printf("/rules/compile/%s", name);
    g_test_add_data_func_full(test, g_build_filename(dir, name, NULL), test_bad_file, g_free);
  }
}

static void test_default_rules(void)
{
  g_autofree char *dir = source_path("rules", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_load_dir(dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rules_count(rules), >=, 30);
  g_assert_cmpuint(rules_file_count(rules), >=, 8);
  for (const char *const *d = (const char *const[]){ "tone", "urgency", "threat", "payment",
                                                       "scope", "blame", "vague", NULL }; *d; d++)
    g_assert_cmpint(rules_dimension_index(rules, *d), >=, 0);
}

static void test_errors_across_files(void)
{
  const char *names[] = { "a.rules", "b.rules" };
  const char *texts[] = { "dimension tone flag >= 4\nwhen both\n  if one & two\n  adds tone +1\n",
                          "rule one\n  look text /one/\n  adds tone +1\nrule two\n  look text /(/\n"
                          "  adds tone +1\n" };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_compile(names, texts, 2, &error);
  g_assert_null(rules);
  g_assert_nonnull(strstr(error->message, "b.rules:5:15: bad regex: missing closing parenthesis"));
  g_assert_null(strstr(error->message, "a.rules")); /* `two` exists, only its regex is bad */
}

/* ---- signals ---- */

static void test_caps_ratio(void)
{
  guint words = 0;
  double shouting = signals_caps_ratio("JO WHERE ARE THE SNAGGING LISTS. CARL HAS JUST RANG ME "
                                       "SAYING HE'S GOT NOTHING. YOU HAD ONE JOB.", &words);
  g_assert_cmpfloat(shouting, >, 0.9);
  g_assert_cmpuint(words, >=, 10);
  double normal = signals_caps_ratio("Hi Jo, could you send the VAT return to HMRC and the PDF "
                                     "to Sarah by Friday? Thanks, Martin", &words);
  g_assert_cmpfloat(normal, <, 0.25);
  g_assert_cmpuint(words, ==, 0); /* VAT, HMRC, PDF alone are acronyms, not shouting */
  g_assert_cmpfloat(signals_caps_ratio("ok", &words), ==, 0);
  double emphasis = signals_caps_ratio("Please send it today, it is URGENT and the client is "
                                       "waiting for the paperwork", &words);
  g_assert_cmpfloat(emphasis, <, 0.3);
  g_assert_cmpuint(words, ==, 1);
}

static void test_compute(void)
{
  g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n",
                                              "YOU HAD ONE JOB AND IT IS STILL NOT DONE. Call me!!!\r\n");
  double out[SIGNAL_COUNT];
  signals_compute(message, NULL, NULL, out);
  g_assert_cmpfloat(out[SIGNAL_CAPS_RUN], ==, 10);
  g_assert_cmpfloat(out[SIGNAL_WORDS], ==, 12);
  g_assert_cmpfloat(out[SIGNAL_EXCLAMATION_RUN], ==, 3);
  g_assert_cmpfloat(out[SIGNAL_QUESTION_RUN], ==, 0);
  g_assert_true(isnan(out[SIGNAL_OUTSIDE_BUSINESS_HOURS])); /* no business hours given */
  g_assert_true(isnan(out[SIGNAL_CHASERS_SINCE_REPLY]));    /* no history given */
}

static void test_runs(void)
{
  g_assert_cmpuint(signals_longest_run("still nothing?? really???", '?'), ==, 3);
  g_assert_cmpuint(signals_longest_run("great! thanks!!", '!'), ==, 2);
  g_assert_cmpuint(signals_longest_run("no marks", '!'), ==, 0);
  g_assert_cmpuint(signals_longest_run("wide ！！", '!'), ==, 2);
}

/* signals_compute() counts both runs in one pass: the same as
 * signals_longest_run() of each mark, whatever lies between and around. */
static void test_runs_in_compute(void)
{
  static const char *const bodies[] = {
    "Why?!?! Really !! ? ?", "wide \uff01\uff01 \uff1f\uff1f\uff1f ?\uff1f? !\uff01!",
    "caf\u00e9! \u00e9?? \uefbc!!", "!!!", "?", "no marks at all", "a ! ! ! b ? ? c!!!!",
    "end with a wide one \uff01", "\uff10!\uff10?? \uff10", "\u2014!\u2014??\u2014",
  };
  for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
    g_autofree char *body = g_strconcat(bodies[i], "\r\n", NULL);
    g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n", body);
    const char *text = message->new_text ? message->new_text : message->body_text;
    double out[SIGNAL_COUNT];
    signals_compute(message, NULL, NULL, out);
    g_assert_cmpfloat(out[SIGNAL_EXCLAMATION_RUN], ==, signals_longest_run(text, '!'));
    g_assert_cmpfloat(out[SIGNAL_QUESTION_RUN], ==, signals_longest_run(text, '?'));
  }
  g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n", "Why?! ?? \uff1f?\r\n");
  double out[SIGNAL_COUNT];
  signals_compute(message, NULL, NULL, out);
  g_assert_cmpfloat(out[SIGNAL_QUESTION_RUN], ==, 4);
  g_assert_cmpfloat(out[SIGNAL_EXCLAMATION_RUN], ==, 1);
}

static void test_outside_hours(void)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  guint8 weekdays = 0x1f;
  g_autoptr(GDateTime) evening = g_date_time_new_utc(2026, 3, 5, 19, 42, 0);   /* Thu */
  g_autoptr(GDateTime) morning = g_date_time_new_utc(2026, 3, 5, 10, 0, 0);
  g_autoptr(GDateTime) saturday = g_date_time_new_utc(2026, 3, 7, 11, 0, 0);
  g_autoptr(GDateTime) bst = g_date_time_new_utc(2026, 3, 30, 16, 45, 0);     /* 17:45 BST */
  g_assert_true(signals_outside_hours(evening, london, weekdays, 9 * 60, 17 * 60 + 30));
  g_assert_false(signals_outside_hours(morning, london, weekdays, 9 * 60, 17 * 60 + 30));
  g_assert_true(signals_outside_hours(saturday, london, weekdays, 9 * 60, 17 * 60 + 30));
  g_assert_true(signals_outside_hours(bst, london, weekdays, 9 * 60, 17 * 60 + 30));
}

static void test_history(void)
{
  g_autoptr(GDateTime) t0 = g_date_time_new_utc(2026, 3, 3, 9, 0, 0);
  g_autoptr(GDateTime) t1 = g_date_time_new_utc(2026, 3, 3, 10, 0, 0);
  g_autoptr(GDateTime) t2 = g_date_time_new_utc(2026, 3, 3, 11, 0, 0);
  g_autoptr(GDateTime) t3 = g_date_time_new_utc(2026, 3, 3, 12, 0, 0);
  ScoreThreadEntry entries[] = { { t0, TRUE, 0 }, { t1, FALSE, 0 }, { t2, FALSE, 0 },
                                 { t3, FALSE, 0 } };
  ScoreContext context;
  score_context_init(&context);
  score_context_add_history(&context, entries, G_N_ELEMENTS(entries), t3);
  g_assert_cmpint(context.chasers_since_reply, ==, 3);
  g_assert_cmpint(context.chasers_24h, ==, 3);
  g_assert_cmpfloat_with_epsilon(context.hours_since_reply, 3.0, 1e-9);
  score_context_init(&context);
  score_context_add_history(&context, entries + 1, 1, t1);
  g_assert_cmpint(context.chasers_since_reply, ==, 1);
  g_assert_cmpfloat(context.hours_since_reply, <, 0); /* never replied: unknown */
}

static void test_second_person(void)
{
  g_assert_cmpfloat_with_epsilon(signals_second_person("You forgot it and you didn't check"), 2.0 / 7, 1e-9);
  g_assert_cmpfloat_with_epsilon(signals_second_person("you’re late, yours truly"), 2.0 / 4, 1e-9);
  g_assert_cmpfloat(signals_second_person("Thanks, the youth club is booked"), ==, 0);
  g_assert_cmpfloat(signals_second_person(""), ==, 0);
  g_assert_cmpfloat(signals_second_person(NULL), ==, 0);
}

static void test_quotes(void)
{
  guint scare = 0, back = 0;
  signals_quotes("How naive of me to think \"All done!\" meant all done.",
                 "> Hi, all done! The launch email is scheduled.", &scare, &back);
  g_assert_cmpuint(scare, ==, 1);
  g_assert_cmpuint(back, ==, 1);
  /* names in title case, apostrophes and long quotations are not scare quotes */
  signals_quotes("Put the “Closed Good Friday” sign up, don't forget. "
                 "He said \"we will be there at nine with the whole team and the van\".",
                 NULL, &scare, &back);
  g_assert_cmpuint(scare, ==, 0);
  g_assert_cmpuint(back, ==, 0);
  signals_quotes("So much for ‘sorted’ then. And 'tested'?", "It is sorted now", &scare, &back);
  g_assert_cmpuint(scare, ==, 2);
  g_assert_cmpuint(back, ==, 1);
  signals_quotes("an \"unclosed quotation\nover two lines\"", NULL, &scare, &back);
  g_assert_cmpuint(scare, ==, 0);
  /* a mark anywhere in a run of plain ASCII (read eight bytes at a time), and
   * quoted mail in ASCII or not (both compared ignoring case) */
  for (guint i = 0; i < 20; i++) {
    g_autofree char *pad = g_strnfill(i, 'x');
    g_autofree char *text = g_strdup_printf("%s said \"all done\" and %s: 'it works', "
                                            "caf\u00e9 \"ok then\"%s", pad, pad, pad);
    signals_quotes(text, "ALL DONE, it WORKS", &scare, &back);
    g_assert_cmpuint(scare, ==, 3);
    g_assert_cmpuint(back, ==, 2);
    signals_quotes(text, "Stra\u00dfe: All Done, \u00c9t\u00e9, OK THEN", &scare, &back);
    g_assert_cmpuint(back, ==, 2);
    signals_quotes(text, "nothing like it", &scare, &back);
    g_assert_cmpuint(back, ==, 0);
  }
}

static void test_thread_risk_signal(void)
{
  g_autoptr(GDateTime) t0 = g_date_time_new_utc(2026, 3, 3, 9, 0, 0);
  g_autoptr(GDateTime) t1 = g_date_time_new_utc(2026, 3, 3, 10, 0, 0);
  g_autoptr(GDateTime) t2 = g_date_time_new_utc(2026, 3, 3, 11, 0, 0);
  ScoreThreadEntry entries[] = { { t0, FALSE, 2.0 }, { t1, TRUE, 0 }, { t2, FALSE, 0.0 } };
  ScoreContext context;
  score_context_init(&context);
  g_assert_cmpfloat(context.thread_risk, <, 0); /* unknown until history is given */
  score_context_add_history(&context, entries, G_N_ELEMENTS(entries), t2);
  g_assert_cmpfloat(context.thread_risk, >, 1.9); /* the angry first message, 2 hours old */
  g_assert_cmpfloat(context.thread_risk, <=, 2.0);
  score_context_add_history(&context, entries, 1, t0);
  g_assert_cmpfloat(context.thread_risk, ==, 0); /* nothing before the first message */
  g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n", "Fine.\r\n");
  double out[SIGNAL_COUNT];
  signals_compute(message, NULL, NULL, out);
  g_assert_true(isnan(out[SIGNAL_THREAD_RISK]));
  context.thread_risk = 1.5;
  signals_compute(message, &context, NULL, out);
  g_assert_cmpfloat(out[SIGNAL_THREAD_RISK], ==, 1.5);
}

static void test_signal_rule(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = compile_one("s.rules",
    "dimension tone flag >= 4\n"
    "rule chased\n  look signal chasers_since_reply >= 3\n  adds tone +4\n", &error);
  g_assert_no_error(error);
  g_autoptr(KeelMessage) message = parse_text("Subject: hello\r\n", "Any news?\r\n");
  g_autoptr(ScoreResult) unknown = score_message(rules, message, NULL, &error);
  g_assert_cmpuint(unknown->hits->len, ==, 0); /* no history: the signal is unknown */
  ScoreContext context;
  score_context_init(&context);
  context.chasers_since_reply = 3;
  g_autoptr(ScoreResult) chased = score_message(rules, message, &context, &error);
  g_assert_cmpuint(chased->hits->len, ==, 1);
  g_assert_true(chased->risky); /* no `risky if`: any flagged dimension */
}

/* ---- scoring ---- */

static const char small_rules[] =
  "dimension tone flag >= 4 weight 1\n"
  "dimension payment flag >= 4 weight 0.5\n"
  "dimension urgency flag >= 3\n"
  "automated skips tone urgency\n"
  "payment categories refusal > dispute > promise\n"
  "risky if (tone | refusal | dispute) & !automated\n"
  "urgency level 3 if asap\n"
  "urgency level 1 if friday\n"
  "rule rude\n  look text /\\b(?<insult>idiot|useless)\\b/i\n  adds tone +3\n  why Rude\n"
  "phrases chasing\n  look text subject\n  words still waiting | any update\n  adds tone +1\n"
  "when rude_chaser\n  if rude & chasing\n  adds tone +1\n  why Rude and chasing\n"
  "when rude_not_chasing\n  if rude & !chasing\n  adds tone +0\n"
  "rule asap\n  look text /\\basap\\b/i\n  adds urgency +3\n"
  "rule friday\n  look text /\\bfriday\\b/i\n  adds urgency +1\n"
  "phrases refuses\n  look text\n  words won't pay\n  adds payment +5\n  category refusal\n"
  "phrases promises\n  look text\n  words i'll pay\n  adds payment +1\n  category promise\n";

static ScoreResult *score_small(const char *headers, const char *body)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = compile_one("small.rules", small_rules, &error);
  g_assert_no_error(error);
  g_autoptr(KeelMessage) message = parse_text(headers, body);
  ScoreResult *result = score_message(rules, message, NULL, &error);
  g_assert_no_error(error);
  return result;
}

static const ScoreHit *find_hit(const ScoreResult *result, const char *rule)
{
  for (guint i = 0; i < result->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(result->hits, i);
    if (strcmp(hit->rule, rule) == 0)
      return hit;
  }
  return NULL;
}

static void test_rules_over_rules(void)
{
  g_autoptr(ScoreResult) both = score_small("Subject: still waiting\r\n", "You idiot.\r\n");
  g_assert_nonnull(find_hit(both, "rude_chaser"));
  g_assert_null(find_hit(both, "rude_not_chasing"));
  g_assert_cmpfloat(score_result_points(both, "tone"), ==, 5);
  const ScoreHit *rude = find_hit(both, "rude");
  g_assert_cmpstr(rude->match, ==, "idiot");
  g_assert_cmpstr(rude->where, ==, "text");
  g_assert_cmpint(rude->start, ==, 4);
  g_assert_cmpint(rude->end, ==, 9);
  g_assert_cmpstr(rude->why, ==, "Rude");
  g_assert_cmpuint(rude->captures->len, ==, 1);
  g_assert_cmpstr(((ScoreCapture *)g_ptr_array_index(rude->captures, 0))->value, ==, "idiot");
  g_autoptr(ScoreResult) alone = score_small("Subject: hello\r\n", "You idiot.\r\n");
  g_assert_null(find_hit(alone, "rude_chaser"));
  g_assert_nonnull(find_hit(alone, "rude_not_chasing"));
}

static void test_thresholds(void)
{
  g_autoptr(ScoreResult) mild = score_small("Subject: hello\r\n", "You are useless.\r\n");
  g_assert_cmpfloat(score_result_points(mild, "tone"), ==, 3);
  g_assert_cmpuint(mild->flags->len, ==, 0);
  g_assert_false(mild->risky);
  g_assert_cmpfloat(mild->risk, <, 1);
  g_autoptr(ScoreResult) flagged = score_small("Subject: any update\r\n",
                                               "Useless. I won't pay until Friday, ASAP.\r\n");
  g_autofree char *flags = score_result_flags_csv(flagged);
  g_assert_cmpstr(flags, ==, "tone,payment,urgency");
  g_assert_true(flagged->risky);
  g_assert_cmpfloat(flagged->risk, >=, 1);
  g_assert_cmpint(flagged->urgency, ==, 3);          /* the highest level wins */
  g_assert_cmpstr(flagged->payment, ==, "refusal");
  g_autoptr(ScoreResult) week = score_small("Subject: hi\r\n", "I'll pay on Friday.\r\n");
  g_assert_cmpint(week->urgency, ==, 1);
  g_assert_cmpstr(week->payment, ==, "promise");
  g_assert_false(week->risky);
  g_autoptr(ScoreResult) both = score_small("Subject: hi\r\n", "I'll pay, no wait, I won't pay.\r\n");
  g_assert_cmpstr(both->payment, ==, "refusal"); /* priority order, not text order */
}

static void test_automated(void)
{
  g_autoptr(ScoreResult) list = score_small("Subject: news\r\nList-Id: <news.example.com>\r\n"
                                            "Precedence: bulk\r\n",
                                            "Idiot of the week! ASAP! Still waiting? I won't pay.\r\n");
  g_assert_true(list->automated);
  g_assert_cmpfloat(score_result_points(list, "tone"), ==, 0);
  g_assert_cmpint(list->urgency, ==, 0);
  g_assert_cmpstr(list->payment, ==, "refusal"); /* payment is not skipped */
  g_assert_false(list->risky);                    /* `& !automated` */
}

static void test_quoted_text_ignored(void)
{
  g_autoptr(ScoreResult) calm = score_small("Subject: Re: x\r\n",
                                            "Sorry about yesterday, all good now.\r\n\r\n"
                                            "On Mon, 9 Mar 2026 at 09:18, Client <client@example.com> wrote:\r\n"
                                            "> You idiot. I won't pay.\r\n");
  g_assert_cmpuint(calm->hits->len, ==, 0);
  g_assert_false(calm->risky);
}

static void test_pathological_regex(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = compile_one("slow.rules",
    "dimension tone flag >= 1\n"
    "rule slow\n  look text /(a+)+$/\n  adds tone +1\n"
    "rule fine\n  look text /a!/\n  adds tone +1\n", &error);
  g_assert_no_error(error);
  g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\r\n");
  gint64 start = g_get_monotonic_time();
  g_test_expect_message("keel-filters", G_LOG_LEVEL_WARNING, "rule slow*timed out*");
  g_autoptr(ScoreResult) result = score_message(rules, message, NULL, &error);
  g_test_assert_expected_messages();
  gint64 elapsed = g_get_monotonic_time() - start;
  g_assert_no_error(error);
  g_assert_cmpint(elapsed, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint(result->errors->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(result->errors, 0), ==, "slow: timed out (match limit)");
  g_assert_null(find_hit(result, "slow"));
  g_assert_nonnull(find_hit(result, "fine")); /* the other rules still ran */
  g_autoptr(ScoreResult) again = score_message(rules, message, NULL, &error); /* logged once */
  g_assert_cmpuint(again->errors->len, ==, 1);
}

/* ---- reload: a broken directory leaves the caller's set in force ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void remove_file(const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_unlink(path);
}

static void test_reload_keeps_old(void)
{
  g_autofree char *dir = g_dir_make_tmp("keel-rules-XXXXXX", NULL);
  write_file(dir, "keel.rules", "dimension tone flag >= 1\n");
  write_file(dir, "tone.rules", "rule rude\n  look text /idiot/\n  adds tone +1\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) current = rules_load_dir(dir, &error);
  g_assert_no_error(error);
  write_file(dir, "tone.rules", "rule rude\n  look text /idiot(/\n  adds tone +1\n");
  RuleSet *candidate = rules_load_dir(dir, &error);
  g_assert_null(candidate);
  g_assert_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "tone.rules:2:"));
  if (candidate) /* the reload pattern: swap only on success */
    rules_free(g_steal_pointer(&current)), current = candidate;
  g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n", "You idiot\r\n");
  g_autoptr(ScoreResult) result = score_message(current, message, NULL, NULL);
  g_assert_true(result->risky); /* the old set still scores */
  g_autoptr(GError) missing = NULL;
  g_autofree char *nowhere = g_build_filename(dir, "nowhere", NULL);
  g_assert_null(rules_load_dir(nowhere, &missing));
  g_assert_error(missing, KEEL_RULES_ERROR, KEEL_RULES_ERROR_IO);
  remove_file(dir, "keel.rules");
  remove_file(dir, "tone.rules");
  g_rmdir(dir);
}

/* A rule file that is a symlink to a secret: the error names the file and
 * quotes none of its lines (the first error line goes to the digest). */
static void test_symlinked_secret(void)
{
  g_autofree char *dir = g_dir_make_tmp("keel-rules-XXXXXX", NULL);
  g_autofree char *secret = g_build_filename(dir, "secret.txt", NULL);
  g_assert_true(g_file_set_contents(secret, "hunter2\npassword = sesame\n", -1, NULL));
  write_file(dir, "keel.rules", "dimension tone flag >= 1\n");
  g_autofree char *link = g_build_filename(dir, "zz.rules", NULL);
  g_assert_cmpint(symlink(secret, link), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_load_dir(dir, &error);
  g_assert_null(rules);
  g_assert_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "zz.rules:1:1: this is not a rules file"));
  g_assert_null(strstr(error->message, "hunter2"));
  g_assert_null(strstr(error->message, "sesame"));
  g_assert_null(strstr(error->message, "password"));
  /* A rules file with a mistake further down is still quoted as before. */
  g_assert_true(g_file_set_contents(secret, "# mine\nrule rude\n  look text /x/\n  adds tone +1\n"
                                    "frobnicate\n", -1, NULL));
  g_clear_error(&error);
  g_assert_null(rules_load_dir(dir, &error));
  g_assert_nonnull(strstr(error->message, "zz.rules:5:1: unknown keyword 'frobnicate'"));
  remove_file(dir, "zz.rules");
  remove_file(dir, "secret.txt");
  remove_file(dir, "keel.rules");
  g_rmdir(dir);
}

/* ---- JSON: `keel score --json` fields present and typed ---- */

static void check_json_object(JsonObject *object)
{
  static const struct { const char *name; GType type; } fields[] = {
    { "file", G_TYPE_STRING }, { "message_id", G_TYPE_STRING }, { "automated", G_TYPE_BOOLEAN },
    { "urgency", G_TYPE_INT64 }, { "payment", G_TYPE_STRING }, { "risky", G_TYPE_BOOLEAN },
    { "risk", G_TYPE_DOUBLE },
  };
  for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
    JsonNode *node = json_object_get_member(object, fields[i].name);
    g_assert_nonnull(node);
    g_assert_cmpint(json_node_get_value_type(node), ==, fields[i].type);
  }
  g_assert_true(JSON_NODE_HOLDS_OBJECT(json_object_get_member(object, "scores")));
  g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(object, "flags")));
  g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(object, "errors")));
  JsonArray *hits = json_object_get_array_member(object, "hits");
  g_assert_cmpuint(json_array_get_length(hits), >, 0);
  JsonObject *hit = json_array_get_object_element(hits, 0);
  for (const char *const *m = (const char *const[]){ "rule", "dimension", "match", "where", NULL }; *m; m++)
    g_assert_cmpint(json_node_get_value_type(json_object_get_member(hit, *m)), ==, G_TYPE_STRING);
  g_assert_cmpint(json_node_get_value_type(json_object_get_member(hit, "points")), ==, G_TYPE_DOUBLE);
  g_assert_cmpint(json_node_get_value_type(json_object_get_member(hit, "start")), ==, G_TYPE_INT64);
  g_assert_cmpint(json_node_get_value_type(json_object_get_member(hit, "end")), ==, G_TYPE_INT64);
}

static void test_json_fields(void)
{
  const char *bin = g_getenv("KEEL_BIN");
  g_autofree char *rules = source_path("rules", NULL);
  g_autofree char *shared = g_strdup(g_getenv("KEEL_SHARED"));
  g_autofree char *eml = g_build_filename(shared ? shared : "../shared", "corpus", "dev",
                                          "015.eml", NULL);
  if (!bin || !g_file_test(eml, G_FILE_TEST_EXISTS)) {
    g_test_skip("KEEL_BIN or the dev corpus is missing");
    return;
  }
  const char *argv[] = { bin, "score", "--json", "--rules", rules, eml, NULL };
  g_autofree char *out = NULL;
  int status = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                             NULL, &status, &error));
  g_assert_no_error(error);
  g_assert_true(g_spawn_check_wait_status(status, NULL));
  g_autoptr(JsonParser) parser = json_parser_new();
  g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
  JsonObject *object = json_node_get_object(json_parser_get_root(parser));
  check_json_object(object);
  g_assert_true(json_object_get_boolean_member(object, "risky"));
}

/* ---- `keel rules check` and `keel score --explain` ---- */

static int run_keel(const char *const *args, char **out, char **err)
{
  const char *bin = g_getenv("KEEL_BIN");
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (gpointer)bin);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);
  int status = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out,
                             err, &status, &error));
  g_assert_no_error(error);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_check(void)
{
  if (!g_getenv("KEEL_BIN")) {
    g_test_skip("no KEEL_BIN");
    return;
  }
  g_autofree char *good = source_path("rules", NULL);
  g_autofree char *bad = source_path("tests", "data", "rules", NULL);
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  g_assert_cmpint(run_keel((const char *const[]){ "rules", "check", good, NULL }, &out, &err), ==, 0);
  g_assert_true(g_str_has_prefix(out, "rules OK: "));
  g_assert_cmpint(run_keel((const char *const[]){ "rules", "check", bad, NULL }, &out2, &err2), ==, 65);
  g_assert_nonnull(strstr(err2, "bad-regex.rules:5:33: bad regex: missing closing parenthesis"));
}

static void test_cli_explain(void)
{
  const char *shared = g_getenv("KEEL_SHARED");
  g_autofree char *eml = g_build_filename(shared ? shared : "../shared", "corpus", "dev", "012.eml", NULL);
  if (!g_getenv("KEEL_BIN") || !g_file_test(eml, G_FILE_TEST_EXISTS)) {
    g_test_skip("no KEEL_BIN or dev corpus");
    return;
  }
  g_autofree char *rules = source_path("rules", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run_keel((const char *const[]){ "score", "--explain", "--rules", rules, eml, NULL },
                           &out, &err), ==, 0);
  g_assert_nonnull(strstr(out, "RISKY"));
  g_assert_nonnull(strstr(out, "«YOU HAD ONE JOB»"));  /* the match in context */
  g_assert_nonnull(strstr(out, "why: Blames the VA"));
}

/* ---- thread risk ---- */

static void test_thread_risk(void)
{
  g_autoptr(GDateTime) angry = g_date_time_new_utc(2026, 3, 9, 9, 18, 0);
  g_autoptr(GDateTime) calm = g_date_time_new_utc(2026, 3, 10, 7, 58, 0);
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 10, 8, 0, 0);
  g_autoptr(GDateTime) later = g_date_time_new_utc(2026, 3, 20, 8, 0, 0);
  ScoreThreadEntry thread[] = { { angry, FALSE, 3.0 }, { calm, FALSE, 0.1 } };
  double just_angry = score_thread_risk(thread, 1, now, 72);
  double after_calm = score_thread_risk(thread, 2, now, 72);
  g_assert_cmpfloat(just_angry, >=, 1);
  g_assert_cmpfloat(after_calm, <, just_angry);
  g_assert_cmpfloat(score_thread_risk(thread, 1, later, 72), <, 0.3); /* 11 days: under 1/8 */
  ScoreThreadEntry again[] = { { angry, FALSE, 0.1 }, { calm, FALSE, 3.0 } };
  g_assert_cmpfloat(score_thread_risk(again, 2, now, 72), >, just_angry); /* recent weighs more */
  ScoreThreadEntry reply[] = { { angry, FALSE, 3.0 }, { calm, TRUE, 0 } };
  g_assert_cmpfloat(score_thread_risk(reply, 2, now, 72), ==, just_angry);
}

/* ---- the quality floor on the dev corpus ---- */

typedef struct {
  guint tp, fp, fn;
} Counts;

static double counts_f1(const Counts *c)
{
  double precision = c->tp + c->fp ? (double)c->tp / (c->tp + c->fp) : 0;
  double recall = c->tp + c->fn ? (double)c->tp / (c->tp + c->fn) : 0;
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
}

static void counts_add(Counts *c, gboolean predicted, gboolean actual)
{
  c->tp += predicted && actual;
  c->fp += predicted && !actual;
  c->fn += !predicted && actual;
}

/* The dev corpus's keel.conf: Europe/London, Mon-Fri 09:00-17:30. */
static void dev_context(ScoreContext *context)
{
  score_context_init(context);
  context->timezone = "Europe/London";
  context->has_business_hours = TRUE;
  context->business_days = 0x1f;
  context->business_start_min = 9 * 60;
  context->business_end_min = 17 * 60 + 30;
}

static ScoreResult *score_dev_file(const RuleSet *rules, const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)data, len, NULL, 0, NULL);
  g_assert_nonnull(message);
  ScoreContext context;
  dev_context(&context);
  return score_message(rules, message, &context, NULL);
}

static void test_dev_quality_floor(void)
{
  const char *shared = g_getenv("KEEL_SHARED");
  g_autofree char *dir = g_build_filename(shared ? shared : "../shared", "corpus", "dev", NULL);
  g_autofree char *labels = g_build_filename(dir, "labels.json", NULL);
  if (!g_file_test(labels, G_FILE_TEST_EXISTS)) {
    g_test_skip("no dev corpus");
    return;
  }
  g_autofree char *rules_dir = source_path("rules", NULL);
  g_autoptr(RuleSet) rules = rules_load_dir(rules_dir, NULL);
  g_assert_nonnull(rules);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_assert_true(json_parser_load_from_file(parser, labels, NULL));
  JsonArray *array = json_node_get_array(json_parser_get_root(parser));
  Counts risky = { 0 }, hostile = { 0 };
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonObject *label = json_array_get_object_element(array, i);
    g_autoptr(ScoreResult) result = score_dev_file(rules, dir,
                                                   json_object_get_string_member(label, "file"));
    gboolean tone = g_ptr_array_find_with_equal_func(result->flags, "tone", g_str_equal, NULL);
    counts_add(&risky, result->risky, json_object_get_boolean_member(label, "risky"));
    counts_add(&hostile, tone, json_object_get_boolean_member(label, "hostile"));
  }
  g_test_message("dev risky F1 %.3f, hostile F1 %.3f", counts_f1(&risky), counts_f1(&hostile));
  g_assert_cmpfloat(counts_f1(&risky), >=, 0.85);
}

/* The extractors' sets (rules_compile_unscored()) are the same rules with
 * no branches: a regex with top-level branches gets them for scoring only,
 * and keeps its own literals in the prefilter either way. */
static void test_unscored(void)
{
  const char *names[] = { "u.rules" };
  const char *texts[] = { "dimension tone flag >= 1\n"
                          "rule many\n  look text /zebra\\s+\\w+|antelope\\s+\\w+|kiwi/i\n"
                          "  adds tone +1\n" };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) scored = rules_compile(names, texts, 1, &error);
  g_assert_no_error(error);
  g_autoptr(RuleSet) unscored = rules_compile_unscored(names, texts, 1, &error);
  g_assert_no_error(error);
  const RulesLook *with = g_ptr_array_index(rules_get(scored, 0)->looks, 0);
  const RulesLook *without = g_ptr_array_index(rules_get(unscored, 0)->looks, 0);
  g_assert_cmpuint(with->n_branches, ==, 3);
  g_assert_true(rules_look_branches(with));
  g_assert_cmpuint(without->n_branches, ==, 0);
  g_assert_false(rules_look_branches(without));
  g_assert_nonnull(without->code);
  g_assert_cmpint(without->prefilter, !=, PREFILTER_ALWAYS);
  g_assert_cmpuint(prefilter_filtered_count(unscored->prefilter), ==, 1);
  g_assert_cmpuint(prefilter_filtered_count(scored->prefilter), ==, 4);
  g_assert_null(rules_compile_unscored(names, (const char *[]){ "rule x\n  look text /(/\n" }, 1,
                                       &error));
  g_assert_error(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID);
}

static gsize jit_size(const pcre2_code *code)
{
  gsize size = 0;
  g_assert_cmpint(pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &size), ==, 0);
  return size;
}

/* A look's regex is JIT-compiled when scoring first asks rules_look_branches()
 * (with its branches, when it has some), not by rules_compile(); but not the
 * whole regex of a look with at most RULES_BRANCHES_ALONE_MAX branches,
 * which scoring runs only when a branch fails; the extractors' sets, which
 * have no branches, get every regex JIT-compiled. */
static void test_lazy_jit(void)
{
  const char *names[] = { "j.rules" };
  const char *texts[] = { "dimension tone flag >= 1\n"
                          "rule many\n  look text /zebra\\s+\\w+|kiwi/i\n  adds tone +1\n"
                          "rule one\n  look text /zebra\\s+\\w+/i\n  adds tone +1\n"
                          "rule nine\n  look text /ant+s|bee+s|cat+s|dog+s|eel+s|fox+s|gnu+s|"
                          "hen+s|imp+s/\n  adds tone +1\n" };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) scored = rules_compile(names, texts, 1, &error);
  g_assert_no_error(error);
  g_autoptr(RuleSet) unscored = rules_compile_unscored(names, texts, 1, &error);
  g_assert_no_error(error);
  for (guint r = 0; r < 2; r++)
    if (jit_size(((RulesLook *)g_ptr_array_index(rules_get(unscored, r)->looks, 0))->code) == 0) {
      g_test_skip("no JIT here");
      return;
    }
  const RulesLook *many = g_ptr_array_index(rules_get(scored, 0)->looks, 0);
  const RulesLook *one = g_ptr_array_index(rules_get(scored, 1)->looks, 0);
  g_assert_cmpuint(jit_size(many->code), ==, 0);
  g_assert_cmpuint(jit_size(one->code), ==, 0);
  g_assert_true(rules_look_branches(many));
  g_assert_cmpuint(jit_size(many->code), ==, 0); /* 2 branches: left to the interpreter */
  for (guint i = 0; i < many->n_branches; i++)
    g_assert_cmpuint(jit_size(many->branch_code[i]), >, 0);
  const RulesLook *nine = g_ptr_array_index(rules_get(scored, 2)->looks, 0);
  g_assert_cmpuint(nine->n_branches, ==, RULES_BRANCHES_ALONE_MAX + 1);
  g_assert_cmpuint(jit_size(nine->code), ==, 0);
  g_assert_true(rules_look_branches(nine));
  g_assert_cmpuint(jit_size(nine->code), >, 0);
  g_assert_cmpuint(jit_size(one->code), ==, 0);
  g_assert_false(rules_look_branches(one));
  g_assert_cmpuint(jit_size(one->code), >, 0);
  g_assert_false(rules_look_branches(one)); /* once */
}

/* ---- phrase word boundaries ---- */

/* TRUE when `code` matches `subject` (`len` bytes) from `start` on. */
static gboolean matches(const pcre2_code *code, const char *subject, gsize len, gsize start)
{
  g_autoptr(pcre2_match_data) data = pcre2_match_data_create_from_pattern(code, NULL);
  return pcre2_match(code, (PCRE2_SPTR)subject, len, start, 0, data, NULL) >= 0;
}

/* A phrase ends (and starts) at a word boundary, where a word character is
 * what [A-Za-z0-9_\x{C0}-\x{24F}] matches caselessly; the compiler writes
 * that class out case-closed (rules-compile.c, PHRASE_WORD), once, called
 * at the phrase ends. Every code point before and after a phrase: the
 * phrase list's own regex and its group's trie (anchored, tried where the
 * phrase starts) match exactly when the caseless class does not. */
static void test_phrase_word_class(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = compile_one("w.rules", "dimension tone flag >= 1\n"
                                         "phrases word\n  look text\n  words ab\n  adds tone +1\n",
                                         &error);
  g_assert_no_error(error);
  rules_compile_alone(rules);
  pcre2_code *phrase = ((RulesLook *)g_ptr_array_index(rules_get(rules, 0)->looks, 0))->code;
  g_assert_nonnull(phrase);
  g_assert_cmpuint(rules->phrase_groups->len, ==, 1);
  const RulesPhraseGroup *group = g_ptr_array_index(rules->phrase_groups, 0);
  g_assert_true(group->head_bit != 0);
  const pcre2_code *trie = group->look->code;
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *word = pcre2_compile((PCRE2_SPTR) "^[A-Za-z0-9_\\x{C0}-\\x{24F}]$", PCRE2_ZERO_TERMINATED,
                                   PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
  g_assert_nonnull(word);
  guint words = 0;
  for (gunichar c = 1; c < 0x110000; c++) {
    if (c >= 0xD800 && c < 0xE000)
      continue;
    char after[8] = "ab", before[8], one[6];
    gint n = g_unichar_to_utf8(c, one);
    memcpy(after + 2, one, n);
    memcpy(before, one, n);
    memcpy(before + n, "ab", 2);
    gboolean is_word = matches(word, one, n, 0);
    words += is_word;
    if (matches(phrase, after, n + 2, 0) == is_word || matches(phrase, before, n + 2, 0) == is_word ||
        matches(trie, after, n + 2, 0) == is_word || matches(trie, before, n + 2, n) == is_word)
      g_error("U+%04X: the phrase's word boundary disagrees with the caseless class", c);
  }
  g_assert_cmpuint(words, ==, 491); /* 463 in the range, 28 other cases */
  pcre2_code_free(word);
}

/* Phrases are lowered before they go into the trie (the regex is caseless):
 * ASCII ones byte by byte, others with g_utf8_strdown(); both kinds match
 * any case, a space or tab as any run of (Unicode) white space, ' as a curly
 * quote, whole words only. */
static void test_phrase_case(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = compile_one("c.rules", "dimension tone flag >= 1\n"
                                         "phrases mixed\n  look text\n"
                                         "  words Still\tWAITING | D\u00c9J\u00c0 Vu | Don't Go\n"
                                         "  adds tone +1\n", &error);
  g_assert_no_error(error);
  rules_compile_alone(rules);
  const pcre2_code *code = ((RulesLook *)g_ptr_array_index(rules_get(rules, 0)->looks, 0))->code;
  const char *hit[] = { "still  waiting", "STILL\nWaiting!", "d\u00e9j\u00e0 vu", "D\u00c9J\u00c0 VU",
                        "don\u2019t go", "DON'T GO", "still \t\r\n waiting",
                        "still\u00a0waiting", "still\u180ewaiting", "still\u3000waiting" };
  const char *miss[] = { "still waitings", "stillwaiting", "deja vu", "dont go", "xdon't go",
                         "still\u200bwaiting" };
  for (guint i = 0; i < G_N_ELEMENTS(hit); i++)
    g_assert_true(matches(code, hit[i], strlen(hit[i]), 0));
  for (guint i = 0; i < G_N_ELEMENTS(miss); i++)
    g_assert_false(matches(code, miss[i], strlen(miss[i]), 0));
  /* in one group's trie, the same phrase in two cases is one path: both hit */
  g_autoptr(RuleSet) two = compile_one("c.rules", "dimension tone flag >= 1\n"
                                       "phrases upper\n  look text\n  words STILL Waiting | D\u00c9J\u00c0 Vu\n"
                                       "  adds tone +1\n"
                                       "phrases lower\n  look text\n  words still waiting | d\u00e9j\u00e0 vu\n"
                                       "  adds tone +1\n", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(two->phrase_groups->len, ==, 1);
  const char *bodies[] = { "We are still waiting.\r\n", "D\u00e9j\u00e0 vu!\r\n" };
  for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
    g_autoptr(KeelMessage) message = parse_text("Subject: x\r\n", bodies[i]);
    g_autoptr(ScoreResult) result = score_message(two, message, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(find_hit(result, "upper"));
    g_assert_nonnull(find_hit(result, "lower"));
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  add_bad_file_tests();
  g_test_add_func("/rules/compile/default-rules", test_default_rules);
  g_test_add_func("/rules/compile/errors-across-files", test_errors_across_files);
  g_test_add_func("/rules/compile/phrase-word-class", test_phrase_word_class);
  g_test_add_func("/rules/compile/phrase-case", test_phrase_case);
  g_test_add_func("/rules/compile/unscored", test_unscored);
  g_test_add_func("/rules/compile/lazy-jit", test_lazy_jit);
  g_test_add_func("/rules/signals/caps-ratio", test_caps_ratio);
  g_test_add_func("/rules/signals/runs", test_runs);
  g_test_add_func("/rules/signals/runs-in-compute", test_runs_in_compute);
  g_test_add_func("/rules/signals/compute", test_compute);
  g_test_add_func("/rules/signals/outside-hours", test_outside_hours);
  g_test_add_func("/rules/signals/history", test_history);
  g_test_add_func("/rules/signals/second-person", test_second_person);
  g_test_add_func("/rules/signals/quotes", test_quotes);
  g_test_add_func("/rules/signals/thread-risk", test_thread_risk_signal);
  g_test_add_func("/rules/signals/in-a-rule", test_signal_rule);
  g_test_add_func("/rules/score/rules-over-rules", test_rules_over_rules);
  g_test_add_func("/rules/score/thresholds", test_thresholds);
  g_test_add_func("/rules/score/automated", test_automated);
  g_test_add_func("/rules/score/quoted-text-ignored", test_quoted_text_ignored);
  g_test_add_func("/rules/score/pathological-regex", test_pathological_regex);
  g_test_add_func("/rules/reload/keeps-old", test_reload_keeps_old);
  g_test_add_func("/rules/load/symlinked-secret", test_symlinked_secret);
  g_test_add_func("/rules/json/fields", test_json_fields);
  g_test_add_func("/rules/cli/check", test_cli_check);
  g_test_add_func("/rules/cli/explain", test_cli_explain);
  g_test_add_func("/rules/thread/risk", test_thread_risk);
  g_test_add_func("/rules/quality/dev-risky-f1", test_dev_quality_floor);
  return g_test_run();
}
