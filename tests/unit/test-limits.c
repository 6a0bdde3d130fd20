/* tests/unit/test-limits.c: the caps on a message's structure
 * (filters/mime-limits.c) and what message_parse() makes of a message past
 * one: each cap at its value passes and one past it fails with a reason that
 * names it; boundaries are matched as GMime matches them; a malformed message
 * keeps its Message-ID, From and Subject, has no text and is automated; the
 * text of a message within the caps is read up to KEEL_LIMITS_TEXT.
 * Pure: links libkeel-filters alone. (tests/bombs.py measures memory.) */
#include <glib.h>
#include <string.h>
#include "filters/message.h"
#include "filters/mime-limits.h"

static const char head[] = "From: Bob <bob@acme.example>\r\nTo: jo@va.example\r\n"
                           "Subject: Hello\r\nMessage-ID: <m1@acme.example>\r\n";

/* A multipart/mixed message with `parts` empty parts. */
static GString *make_parts(guint parts)
{
  GString *text = g_string_new(head);
  g_string_append(text, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
                        "preamble\r\n");
  for (guint i = 0; i < parts; i++)
    g_string_append(text, "--b\r\n\r\n");
  g_string_append(text, "--b--\r\nepilogue\r\n");
  return text;
}

/* `levels` multiparts inside each other (attached messages when `messages`). */
static GString *make_nested(guint levels, gboolean messages)
{
  GString *text = g_string_new(head);
  for (guint i = 0; i < levels; i++) {
    if (messages && i % 2 == 1)
      g_string_append_printf(text, "Content-Type: message/rfc822\r\n\r\nSubject: inner %u\r\n", i);
    else
      g_string_append_printf(text, "Content-Type: multipart/mixed; boundary=n%u\r\n\r\n--n%u\r\n",
                             i, i);
  }
  g_string_append(text, "\r\ninnermost\r\n");
  return text;
}

/* A To field of `count` addresses, some with quoted commas in the name. */
static GString *make_to(guint count)
{
  GString *text = g_string_new("From: bob@acme.example\r\nSubject: Hi\r\n"
                               "Message-ID: <to@acme.example>\r\nTo: ");
  for (guint i = 0; i < count; i++)
    g_string_append_printf(text, "%s\"Doe, J. (%u)\" <u%u@x.example>", i ? ",\r\n " : "", i, i);
  g_string_append(text, "\r\n\r\nhello\r\n");
  return text;
}

static GString *make_fields(guint count)
{
  GString *text = g_string_new(head);
  for (guint i = 4; i < count; i++)
    g_string_append(text, "X-A: b\r\n");
  g_string_append(text, "\r\nhello\r\n");
  return text;
}

static char *check(const GString *text, const MessageLimits *limits)
{
  return mime_limits_check((const guint8 *)text->str, text->len, limits);
}

static void assert_within(GString *text, const MessageLimits *limits)
{
  g_autofree char *reason = check(text, limits);
  g_assert_null(reason);
  g_string_free(text, TRUE);
}

static void assert_past(GString *text, const MessageLimits *limits, const char *expected)
{
  g_autofree char *reason = check(text, limits);
  g_assert_cmpstr(reason, ==, expected);
  g_string_free(text, TRUE);
}

static void test_parts(void)
{
  assert_within(make_parts(500), NULL);
  assert_past(make_parts(501), NULL, "more than 500 MIME parts");
  MessageLimits three = { .max_parts = 3 };
  assert_within(make_parts(3), &three);
  assert_past(make_parts(4), &three, "more than 3 MIME parts");
}

static void test_nesting(void)
{
  assert_within(make_nested(50, FALSE), NULL);
  assert_past(make_nested(51, FALSE), NULL, "MIME nesting deeper than 50 levels");
  assert_within(make_nested(50, TRUE), NULL);
  assert_past(make_nested(51, TRUE), NULL, "MIME nesting deeper than 50 levels");
}

static void test_addresses(void)
{
  assert_within(make_to(1000), NULL);
  assert_past(make_to(1001), NULL, "more than 1000 addresses in one header field");
  GString *refs = g_string_new(head);
  g_string_append(refs, "References:");
  for (guint i = 0; i < 1001; i++)
    g_string_append_printf(refs, " <r%u@x.example>", i);
  g_string_append(refs, "\r\n\r\nhi\r\n");
  assert_past(refs, NULL, "more than 1000 Message-IDs in one header field");
}

static void test_fields(void)
{
  assert_within(make_fields(1000), NULL);
  assert_past(make_fields(1001), NULL, "more than 1000 header fields in one header section");
}

/* "--b1" is no boundary of "b"; "--b  " (trailing blanks) is; "--b--x" closes. */
static void test_boundary_match(void)
{
  MessageLimits one = { .max_parts = 1 };
  GString *text = g_string_new(head);
  g_string_append(text, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \r\n\r\n"
                        "--b1\r\n--bb\r\n-- b\r\n--b--x\r\n--b\r\n\r\n");
  assert_within(text, &one); /* the part after the close is not counted */
  GString *two = g_string_new(head);
  g_string_append(two, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b\t\r\n\r\n");
  assert_past(two, &one, "more than 1 MIME parts");
}

/* Past a cap: Message-ID, From and Subject still read, no text, automated,
 * raw size kept; the same bytes within the caps parse as usual. */
static void test_parse_malformed(void)
{
  g_autoptr(GString) text = make_parts(501);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)text->str, text->len, NULL, 0,
                                                 &error);
  g_assert_no_error(error);
  g_assert_cmpstr(message->malformed, ==, "more than 500 MIME parts");
  g_assert_cmpstr(message->message_id, ==, "m1@acme.example");
  g_assert_cmpstr(message->from->address, ==, "bob@acme.example");
  g_assert_cmpstr(message->subject, ==, "Hello");
  g_assert_cmpstr(message->new_text, ==, "");
  g_assert_true(message->automated);
  g_assert_cmpstr(message->automated_reason, ==, "malformed: more than 500 MIME parts");
  g_assert_false(message->too_large);
  g_assert_cmpuint(message->size, ==, text->len);
  MessageLimits many = { .max_parts = 1000 };
  g_autoptr(KeelMessage) fine = message_parse_limited((const guint8 *)text->str, text->len, NULL,
                                                      0, &many, &error);
  g_assert_null(fine->malformed);
  g_assert_true(fine->has_text); /* 501 empty text parts, read as usual */
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  message_to_json(message, builder);
  json_builder_end_object(builder);
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "malformed"), ==,
                  "more than 500 MIME parts");
}

/* The To bomb: the field is left out of what is parsed, the rest is read;
 * without a Message-ID the derived one hashes all the bytes. */
static void test_parse_safe_head(void)
{
  g_autoptr(GString) text = make_to(5000);
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)text->str, text->len, NULL, 0,
                                                 NULL);
  g_assert_nonnull(message->malformed);
  g_assert_cmpuint(message->to->len, ==, 0);
  g_assert_cmpstr(message->from->address, ==, "bob@acme.example");
  g_autoptr(GString) a = make_fields(3000), b = make_fields(3000);
  g_string_replace(a, "Message-ID: <m1@acme.example>\r\n", "", 1);
  g_string_replace(b, "Message-ID: <m1@acme.example>\r\n", "", 1);
  g_string_append(b, "another body\r\n");
  g_autoptr(KeelMessage) ma = message_parse((const guint8 *)a->str, a->len, NULL, 0, NULL);
  g_autoptr(KeelMessage) mb = message_parse((const guint8 *)b->str, b->len, NULL, 0, NULL);
  g_assert_true(ma->message_id_derived && mb->message_id_derived);
  g_assert_cmpstr(ma->message_id, !=, mb->message_id);
  g_assert_nonnull(ma->malformed);
}

/* Over the size limit and past a cap in its header section: too large,
 * malformed, still parsed from its safe fields. */
static void test_parse_truncated(void)
{
  g_autoptr(GString) text = make_fields(5000);
  g_autoptr(KeelMessage) message = message_parse_truncated((const guint8 *)text->str, text->len,
                                                           50 * 1024 * 1024, NULL, NULL);
  g_assert_nonnull(message->malformed);
  g_assert_true(message->too_large);
  g_assert_cmpuint(message->size, ==, 50 * 1024 * 1024);
  g_assert_cmpstr(message->subject, ==, "Hello");
}

/* Texts are cut on a character boundary, HTML before a tag; a 3 MB text
 * message is read up to 1 MB, an HTML one from its first 1 MB. */
static void test_text_cut(void)
{
  const char *text = "ab\xc3\xa9" "cd"; /* "abécd": é is 2 bytes at 2..3 */
  g_assert_cmpuint(mime_limits_text_cut(text, 6, 10, FALSE), ==, 6);
  g_assert_cmpuint(mime_limits_text_cut(text, 6, 3, FALSE), ==, 2);
  g_assert_cmpuint(mime_limits_text_cut(text, 6, 4, FALSE), ==, 4);
  const char *html = "<p>one</p><p>two</p>";
  g_assert_cmpuint(mime_limits_text_cut(html, strlen(html), 12, TRUE), ==, 10);
  GString *big = g_string_new("From: bob@acme.example\r\nSubject: big\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n\r\n");
  while (big->len < 3 * 1024 * 1024)
    g_string_append(big, "Caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet.\r\n");
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)big->str, big->len, NULL, 0,
                                                 NULL);
  g_assert_null(message->malformed);
  g_assert_cmpuint(strlen(message->body_text), <=, KEEL_LIMITS_TEXT);
  g_assert_cmpuint(strlen(message->body_text), >, KEEL_LIMITS_TEXT - 64);
  g_assert_true(g_utf8_validate(message->body_text, -1, NULL));
  g_string_free(big, TRUE);
  GString *page = g_string_new("From: bob@acme.example\r\nSubject: big\r\n"
                               "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>");
  while (page->len < 3 * 1024 * 1024)
    g_string_append(page, "<p>Please send the <b>receipts</b>.</p>\r\n");
  g_autoptr(KeelMessage) html_message = message_parse((const guint8 *)page->str, page->len, NULL,
                                                      0, NULL);
  g_assert_true(html_message->from_html);
  g_assert_cmpuint(strlen(html_message->body_text), >, 0);
  g_assert_cmpuint(strlen(html_message->body_text), <=, KEEL_LIMITS_TEXT);
  g_string_free(page, TRUE);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/limits/parts", test_parts);
  g_test_add_func("/limits/nesting", test_nesting);
  g_test_add_func("/limits/addresses", test_addresses);
  g_test_add_func("/limits/fields", test_fields);
  g_test_add_func("/limits/boundary-match", test_boundary_match);
  g_test_add_func("/limits/parse/malformed", test_parse_malformed);
  g_test_add_func("/limits/parse/safe-head", test_parse_safe_head);
  g_test_add_func("/limits/parse/truncated", test_parse_truncated);
  g_test_add_func("/limits/text-cut", test_text_cut);
  return g_test_run();
}
