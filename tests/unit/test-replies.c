/* tests/unit/test-replies.c: the text of a reply from data alone
 * (filters/replies.c), linked against libkeel-filters only: first names
 * without a config, the voice's template variables, the confirmation body
 * with numbered instructions and deadlines, template errors that name the
 * line, and values that cannot smuggle a header. */
#include <string.h>
#include "filters/replies.h"

static void test_first_name_of(void)
{
  static const struct { const char *display, *id, *name, *expected; } cases[] = {
    { "Tom Reid", NULL, NULL, "Tom" },
    { "Reid, Tom", NULL, NULL, "Tom" },
    { "TOM REID", NULL, NULL, "Tom" },
    { "Tom Reid (Beckett)", "beckett", "Beckett Brand Studio", "Tom" },
    { "Beckett Studio", "beckett", "Beckett Brand Studio", NULL },
    { "beckett", "beckett", NULL, NULL },
    { "Accounts Team", NULL, NULL, NULL },
    { "tom@example.com", NULL, NULL, NULL },
    { "Mr Reid", NULL, NULL, NULL },
    { "", NULL, NULL, NULL },
    { NULL, NULL, NULL, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = replies_first_name_of(cases[i].display, cases[i].id, cases[i].name);
    g_assert_cmpstr(got, ==, cases[i].expected);
  }
}

static void test_voice_vars(void)
{
  g_autoptr(GHashTable) vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  replies_voice_vars(NULL, vars);
  g_assert_cmpstr(g_hash_table_lookup(vars, "greeting"), ==, "Hello,");
  g_assert_cmpstr(g_hash_table_lookup(vars, "first_name"), ==, "");
  ReplyVoice voice = { "Tom", "Hi Tom,", "Tom Reid", "Jo", "Jo Helps", "Best,\nJo" };
  replies_voice_vars(&voice, vars);
  g_assert_cmpstr(g_hash_table_lookup(vars, "greeting"), ==, "Hi Tom,");
  g_assert_cmpstr(g_hash_table_lookup(vars, "business"), ==, "Jo Helps");
  g_assert_cmpstr(g_hash_table_lookup(vars, "signature"), ==, "Best,\nJo");
}

static void test_confirmation_body(void)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) friday = g_date_time_new(london, 2026, 3, 6, 17, 0, 0);
  ReplyItem contract = { "Send the contract.", friday, FALSE };
  ReplyItem call = { "Call the printer\r\nBcc: x@evil.example", NULL, TRUE };
  ReplyItem note = { "Keep the receipts.", NULL, FALSE };
  g_autoptr(GPtrArray) items = g_ptr_array_new();
  g_ptr_array_add(items, &contract);
  g_ptr_array_add(items, &call);
  g_ptr_array_add(items, &note);
  g_autoptr(GError) error = NULL;
  g_autofree char *body = replies_confirmation_body(
    "{{greeting}}\n{{count}} for {{client_name}} ({{subject}}):\n{{instructions}}\n{{signature}}",
    "confirm.txt", "Beckett\nStudio", "Re: brief", items, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(body, ==, "Hello,\n3 for Beckett Studio (Re: brief):\n"
                  "1) Send the contract — by Fri 6 Mar, 5pm\n"
                  "2) Call the printer Bcc: x@evil.example — as soon as possible\n"
                  "3) Keep the receipts.\n");
}

static void test_render_errors(void)
{
  g_autoptr(GHashTable) vars = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(vars, "name", "Tom");
  g_autoptr(GError) error = NULL;
  g_assert_null(replies_render("line one\nline two {{ nobody }}", "chase.txt", vars, &error));
  g_assert_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_TEMPLATE);
  g_assert_nonnull(strstr(error->message, "chase.txt:2: unknown variable {{nobody}}"));
  g_clear_error(&error);
  g_autofree char *twice = replies_render("{{name}}{{name}}", "t", vars, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(twice, ==, "TomTom");
}

static void test_subject_and_date(void)
{
  g_autofree char *subject = replies_subject("RE : Re[3]: AW:SV: invoice\n42");
  g_assert_cmpstr(subject, ==, "Re: invoice 42");
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  g_autoptr(GDateTime) noon = g_date_time_new(utc, 2026, 3, 9, 12, 5, 0);
  g_autoptr(GDateTime) midnight = g_date_time_new(utc, 2026, 3, 10, 0, 0, 0);
  g_autofree char *a = replies_human_date(noon), *b = replies_human_date(midnight);
  g_assert_cmpstr(a, ==, "Mon 9 Mar, 12:05pm");
  g_assert_cmpstr(b, ==, "Tue 10 Mar, 12am");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/replies/first-name-of", test_first_name_of);
  g_test_add_func("/replies/voice-vars", test_voice_vars);
  g_test_add_func("/replies/confirmation-body", test_confirmation_body);
  g_test_add_func("/replies/render-errors", test_render_errors);
  g_test_add_func("/replies/subject-and-date", test_subject_and_date);
  return g_test_run();
}
