/* tests/unit/test-voice.c: replies a client would take from a person.
 *
 * The first name keel greets (replies_first_name: never the company), the
 * voice of a reply (replies_voice_new: display name, then [client] contact,
 * then "Hello,"; the VA's name and signature), and golden confirmations:
 * tests/data/voice/input/NAME.eml answered through outbox_confirm_message()
 * with the shipped rules/templates/confirm.txt must read exactly as
 * tests/data/voice/output/NAME.txt (From, To, Subject, blank line, body).
 * KEEL_GOLDEN_UPDATE=1 rewrites the outputs instead of comparing.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>
#include "tests/unit/test-db.h"
#include "daemon/outbox/outbox.h"
#include "daemon/outbox/replies.h"
#include "filters/instructions.h"

/* ---- first names ------------------------------------------------------- */

static void test_first_name(void)
{
  KeelClient beckett = { .id = "beckett", .name = "Beckett Brand Studio" };
  KeelClient bob = { .id = "acme", .name = "Bob Smith" };
  const struct { const char *display; const KeelClient *client; const char *want; } cases[] = {
    { "Tom Reid", NULL, "Tom" },
    { "\"Reid, Tom\"", NULL, "Tom" },
    { "TOM REID", NULL, "Tom" },
    { "anne-marie o'neill", NULL, "Anne-marie" },
    { "Zoë Brennan", NULL, "Zoë" },
    { "", NULL, NULL },
    { "tom@beckettbrand.example", NULL, NULL },
    { "Beckett Brand Studio", NULL, NULL },
    { "Kestrel Homes Ltd", NULL, NULL },
    { "Accounts Team", NULL, NULL },
    { "Mr Reid", NULL, NULL },
    { "J. Reid", NULL, NULL },
    { "Beckett", &beckett, NULL },
    { "beckett brand studio", &beckett, NULL },
    { "Beckett Studio", &beckett, NULL },
    { "Tom Beckett", &beckett, "Tom" },
    { "Bob", &bob, "Bob" },
    { "Bob Smith", &bob, NULL },
    { "Tom Reid (Beckett Brand Studio)", &beckett, "Tom" },
    { "Tom [External]", NULL, "Tom" },
    { "(Beckett)", &beckett, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = replies_first_name(cases[i].display, cases[i].client);
    g_test_message("'%s' -> %s", cases[i].display, got ? got : "(none)");
    g_assert_cmpstr(got, ==, cases[i].want);
  }
}

static void test_voice_fallbacks(void)
{
  g_autoptr(GError) error = NULL;
  KeelAccount jo = { .name = "main", .va_name = "Jo Bloggs", .business = "Bloggs VA" };
  KeelClient kestrel = { .id = "kestrel", .name = "Kestrel Homes", .contact = "Darren Whitlock" };
  KeelClient beckett = { .id = "beckett", .name = "Beckett Brand Studio" };
  g_autoptr(ReplyVoice) named = replies_voice_new(&jo, &kestrel, "Sue Park", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(named->greeting, ==, "Hi Sue,");
  g_assert_cmpstr(named->signature, ==, "Best wishes,\nJo Bloggs\nBloggs VA");
  g_autoptr(ReplyVoice) contact = replies_voice_new(&jo, &kestrel, "Kestrel Homes", NULL, &error);
  g_assert_cmpstr(contact->greeting, ==, "Hi Darren,");
  g_assert_cmpstr(contact->first_name, ==, "Darren");
  g_autoptr(ReplyVoice) neutral = replies_voice_new(NULL, &beckett, "Beckett", NULL, &error);
  g_assert_cmpstr(neutral->greeting, ==, "Hello,");
  g_assert_cmpstr(neutral->first_name, ==, "");
  g_assert_cmpstr(neutral->signature, ==, "Best wishes,");
  KeelAccount missing = { .name = "main", .signature_file = "/nonexistent/keel-signature" };
  g_assert_null(replies_voice_new(&missing, &beckett, NULL, NULL, &error));
  g_assert_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_SIGNATURE);
  g_assert_nonnull(strstr(error->message, "signature_file"));
}

/* ---- golden confirmations ---------------------------------------------- */

typedef struct {
  char *dir, *path;
  Store *store;
  KeelConfig *config;
} VoiceFixture;

static void voice_setup(VoiceFixture *f, gconstpointer data)
{
  (void)data;
  test_db_create("keel-voice", &f->dir, &f->path, &f->store);
  g_autofree char *rules = g_build_filename(g_getenv("KEEL_SOURCE_ROOT"), "rules", NULL);
  g_autofree char *conf = g_build_filename(f->dir, "keel.conf", NULL);
  g_autofree char *text = g_strdup_printf(
    "[keel]\ndatabase = %s\nrules = %s\ntimezone = Europe/London\n\n"
    "[account main]\nimap = imaps://127.0.0.1:1\nsmtp = smtps://127.0.0.1:2\n"
    "user = jo@va.example\npassword_command = true\nname = Jo Bloggs\n"
    "business = Bloggs Virtual Assistance\n\n"
    "[client beckett]\nname = Beckett Brand Studio\naddresses = @beckettbrand.example\n\n"
    "[client kestrel]\nname = Kestrel Homes\ncontact = Darren Whitlock\n"
    "addresses = @kestrelhomes.example\n", f->path, rules);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  f->config = config_load(conf, &error);
  g_assert_no_error(error);
  g_unlink(conf);
}

static void voice_teardown(VoiceFixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer(&f->config, config_free);
  test_db_remove(&f->dir, &f->path, &f->store);
}

static GPtrArray *voice_instructions(void)
{
  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  Instruction *one = g_new0(Instruction, 1);
  one->text = g_strdup("Please send the signed contract to Sam by Friday 5pm.");
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  one->deadline = g_date_time_new(london, 2026, 3, 6, 17, 0, 0);
  one->deadline_iso = g_strdup("2026-03-06T17:00");
  g_ptr_array_add(list, one);
  return list;
}

/* "From: …\nTo: …\nSubject: …\n\nbody" of the queued reply, decoded. */
static char *voice_as_read(GBytes *raw)
{
  gsize size = 0;
  const char *data = g_bytes_get_data(raw, &size);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(data, size);
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
  g_autoptr(GMimeMessage) message = g_mime_parser_construct_message(parser, NULL);
  g_assert_nonnull(message);
  g_autofree char *from = internet_address_list_to_string(
    g_mime_message_get_from(message), NULL, FALSE);
  g_autofree char *to = internet_address_list_to_string(
    g_mime_message_get_to(message), NULL, FALSE);
  g_autofree char *body = g_mime_text_part_get_text(
    GMIME_TEXT_PART(g_mime_message_get_mime_part(message)));
  g_auto(GStrv) lines = g_strsplit(body, "\r\n", -1);
  g_autofree char *unix_body = g_strjoinv("\n", lines);
  return g_strdup_printf("From: %s\nTo: %s\nSubject: %s\n\n%s", from, to,
                         g_mime_message_get_subject(message), unix_body);
}

static void test_golden(VoiceFixture *f, gconstpointer data)
{
  const char *name = data;
  g_autofree char *input = g_test_build_filename(G_TEST_DIST, "data", "voice", "input",
                                                 name, NULL);
  g_autofree char *in_path = g_strconcat(input, ".eml", NULL);
  g_autofree char *out_path = g_test_build_filename(G_TEST_DIST, "data", "voice",
                                                    "output", name, NULL);
  g_autofree char *golden_path = g_strconcat(out_path, ".txt", NULL);
  g_autofree char *raw = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(in_path, &raw, &len, &error));
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)raw, len, NULL, 0, &error);
  g_assert_no_error(error);
  const KeelClient *client = config_client_for_address(f->config, message->from->address);
  g_assert_nonnull(client);
  g_autoptr(GPtrArray) list = voice_instructions();
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 2, 9, 5, 0);
  g_assert_true(store_begin(f->store, &error));
  g_assert_true(store_client_set(f->store, client->id, client->name, &error));
  gint64 id = outbox_confirm_message(f->store, f->config, NULL, client, message, 0, list, NULL,
                                     now, &error);
  g_assert_no_error(error);
  g_assert_true(store_commit(f->store, &error));
  g_autoptr(GPtrArray) rows = store_outbox_list(f->store, NULL, &error);
  g_assert_cmpuint(rows->len, ==, 1);
  const StoreOutboxRow *row = rows->pdata[0];
  g_assert_cmpint(row->id, ==, id);
  g_autofree char *got = voice_as_read(row->raw);
  if (g_getenv("KEEL_GOLDEN_UPDATE")) {
    g_assert_true(g_file_set_contents(golden_path, got, -1, NULL));
    return;
  }
  g_autofree char *want = NULL;
  g_assert_true(g_file_get_contents(golden_path, &want, NULL, &error));
  g_assert_cmpstr(got, ==, want);
}

/* The VA's name is a display name GMime encodes, never a header of its own. */
static void test_from_encoded(void)
{
  g_autoptr(GDateTime) date = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  ReplySpec spec = { .from_name = "Zoë O'Brien\r\nBcc: victim@evil.example",
                     .from_address = "zoe@va.example", .to_address = "tom@beckettbrand.example",
                     .subject = "Re: x", .body = "Hi", .date = date,
                     .auto_submitted = "auto-replied" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = replies_build(&spec, "id@va.example", &error);
  g_assert_no_error(error);
  gsize size = 0;
  const char *data = g_bytes_get_data(raw, &size);
  g_autofree char *text = g_strndup(data, size);
  g_assert_null(strstr(text, "\nBcc:"));
  g_assert_nonnull(strstr(text, "From: =?"));
  g_assert_nonnull(strstr(text, "<zoe@va.example>"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_mime_init();
  g_test_add_func("/voice/first-name", test_first_name);
  g_test_add_func("/voice/fallbacks", test_voice_fallbacks);
  g_test_add_func("/voice/from-encoded", test_from_encoded);
  static const char *const goldens[] = { "display-name", "no-display-name", "company-name" };
  for (gsize i = 0; i < G_N_ELEMENTS(goldens); i++) {
    g_autofree char *path = g_strdup_printf("/voice/golden/%s", goldens[i]);
    g_test_add(path, VoiceFixture, goldens[i], voice_setup, test_golden, voice_teardown);
  }
  return g_test_run();
}
