/* tests/unit/test-json-out.c: filters/json-out.c's direct JSON writer
 * (json_put_*): every escape and number form it writes, each checked against
 * the text expected and against what json-glib's builder and generator print
 * for the same value (they must agree but where json-glib's text is not
 * JSON: a raw 0x1f, and ".0" after an exponent). Links libkeel-filters only.
 */
#include <math.h>
#include <string.h>
#include "filters/json-out.h"

/* What json-glib prints for {"v": <string>}. */
static char *glib_string(const char *value)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_out_string(b, "v", value);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

static char *glib_double(double value)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_out_double(b, "v", value);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

static char *glib_int(gint64 value)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_out_int(b, "v", value);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

static char *put_string(const char *value)
{
  GString *out = g_string_new(NULL);
  json_put_object_start(out, NULL);
  json_put_string(out, "v", value);
  json_put_object_end(out);
  return g_string_free(out, FALSE);
}

static char *put_double(double value)
{
  GString *out = g_string_new(NULL);
  json_put_object_start(out, NULL);
  json_put_double(out, "v", value);
  json_put_object_end(out);
  return g_string_free(out, FALSE);
}

static char *put_int(gint64 value)
{
  GString *out = g_string_new(NULL);
  json_put_object_start(out, NULL);
  json_put_int(out, "v", value);
  json_put_object_end(out);
  return g_string_free(out, FALSE);
}

/* Parses as JSON (json-glib's parser). */
static void assert_json(const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_data(parser, text, -1, &error))
    g_error("not JSON: %s: %s", text, error->message);
}

static void test_escapes(void)
{
  static const struct { const char *value, *json; } cases[] = {
    { "", "{\"v\":\"\"}" },
    { "plain", "{\"v\":\"plain\"}" },
    { "a\"b\\c", "{\"v\":\"a\\\"b\\\\c\"}" },
    { "\b\f\n\r\t", "{\"v\":\"\\b\\f\\n\\r\\t\"}" },
    { "\x01\x02\x0b\x0e\x1e", "{\"v\":\"\\u0001\\u0002\\u000b\\u000e\\u001e\"}" },
    { "x\x1fy", "{\"v\":\"x\\u001fy\"}" },   /* json-glib leaves 0x1f raw */
    { "del\x7f", "{\"v\":\"del\\u007f\"}" },
    { "/ é € 😀 ’", "{\"v\":\"/ é € 😀 ’\"}" }, /* UTF-8 as it is, '/' too */
    { "\xff\xfe", "{\"v\":\"\xff\xfe\"}" },    /* bytes pass through */
    { "end\\", "{\"v\":\"end\\\\\"}" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *mine = put_string(cases[i].value);
    g_assert_cmpstr(mine, ==, cases[i].json);
    g_autofree char *theirs = glib_string(cases[i].value);
    if (!strchr(cases[i].value, 0x1f))
      g_assert_cmpstr(mine, ==, theirs);
    if (g_utf8_validate(cases[i].value, -1, NULL))
      assert_json(mine);
  }
  /* Every byte in a string, as json-glib prints it but for 0x1f. */
  char all[256];
  for (int c = 1; c < 256; c++)
    all[c - 1] = (char)c;
  all[255] = '\0';
  g_autofree char *mine = put_string(all);
  g_autofree char *theirs = glib_string(all);
  g_autofree char *raw_1f = g_strdup(mine);
  char *at = strstr(raw_1f, "\\u001f");
  g_assert_nonnull(at);
  *at = 0x1f;
  memmove(at + 1, at + 6, strlen(at + 6) + 1);
  g_assert_cmpstr(raw_1f, ==, theirs);
  /* Names are escaped as values are. */
  g_autoptr(GString) out = g_string_new(NULL);
  json_put_object_start(out, NULL);
  json_put_null(out, "a\"\n");
  json_put_object_end(out);
  g_assert_cmpstr(out->str, ==, "{\"a\\\"\\n\":null}");
}

static void test_doubles(void)
{
  static const struct { double value; const char *json; } cases[] = {
    { 0.0, "0.0" }, { -0.0, "-0.0" }, { 1.0, "1.0" }, { -1.0, "-1.0" }, { 226.0, "226.0" },
    { 2.5, "2.5" }, { -2.5e-7, "-2.4999999999999999e-07" }, { 0.1, "0.10000000000000001" },
    { 1.0 / 3, "0.33333333333333331" }, { 0.11632700473618342, "0.11632700473618342" },
    { 1e-5, "1.0000000000000001e-05" }, { 4.9406564584124654e-324, "4.9406564584124654e-324" },
    { 1e15, "1000000000000000.0" }, { 1e16, "10000000000000000.0" },
    { 9007199254740993.0, "9007199254740992.0" }, { -9007199254740992.0, "-9007199254740992.0" },
    { 123456789012345678.0, "1.2345678901234568e+17" }, { 1e300 * 10, "1.0000000000000001e+301" },
    /* json-glib 1.6 prints these with ".0" after the exponent, which is not JSON */
    { 1e17, "1e+17" }, { 1e-300, "1e-300" }, { -1e22, "-1e+22" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *mine = put_double(cases[i].value);
    g_autofree char *want = g_strdup_printf("{\"v\":%s}", cases[i].json);
    g_assert_cmpstr(mine, ==, want);
    assert_json(mine);
    g_autofree char *theirs = glib_double(cases[i].value);
    g_autofree char *theirs_fixed = g_strdup(theirs);
    char *e = strchr(theirs_fixed, 'e');
    if (e && g_str_has_suffix(theirs_fixed, ".0}"))
      strcpy(theirs_fixed + strlen(theirs_fixed) - 3, "}");
    g_assert_cmpstr(mine, ==, theirs_fixed);
  }
  g_autofree char *nan = put_double(NAN);
  g_assert_cmpstr(nan, ==, "{\"v\":null}");
  g_autofree char *inf = put_double(-INFINITY);
  g_assert_cmpstr(inf, ==, "{\"v\":null}");
}

static void test_ints(void)
{
  static const gint64 cases[] = { 0, 1, -1, 9, 10, -10, 1234567890123, G_MAXINT64, G_MININT64,
                                  G_MININT64 + 1 };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *mine = put_int(cases[i]);
    g_autofree char *want = g_strdup_printf("{\"v\":%" G_GINT64_FORMAT "}", cases[i]);
    g_assert_cmpstr(mine, ==, want);
    g_autofree char *theirs = glib_int(cases[i]);
    g_assert_cmpstr(mine, ==, theirs);
  }
}

/* Commas, nesting, empty containers, null strings, booleans, and a second
 * line in the same string. */
static void test_structure(void)
{
  g_autoptr(GString) out = g_string_new(NULL);
  for (int line = 0; line < 2; line++) {
    json_put_object_start(out, NULL);
    json_put_string(out, "s", "x");
    json_put_string(out, "n", NULL);
    json_put_bool(out, "t", TRUE);
    json_put_bool(out, "f", FALSE);
    json_put_array_start(out, "empty");
    json_put_array_end(out);
    json_put_object_start(out, "none");
    json_put_object_end(out);
    json_put_array_start(out, "a");
    json_put_string(out, NULL, "one");
    json_put_int(out, NULL, 2);
    json_put_object_start(out, NULL);
    json_put_double(out, "d", 0.5);
    json_put_object_end(out);
    json_put_object_start(out, NULL);
    json_put_object_end(out);
    json_put_array_end(out);
    json_put_object_end(out);
    g_string_append_c(out, '\n');
  }
  const char *want = "{\"s\":\"x\",\"n\":null,\"t\":true,\"f\":false,\"empty\":[],\"none\":{},"
                     "\"a\":[\"one\",2,{\"d\":0.5},{}]}\n";
  g_autofree char *twice = g_strconcat(want, want, NULL);
  g_assert_cmpstr(out->str, ==, twice);
  g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
  assert_json(lines[0]);
  assert_json(lines[1]);
}

/* json_format_g17() writes what g_ascii_dtostr() writes, byte for byte:
 * over random doubles of every magnitude it handles and around it, the
 * doubles next to each power of ten, ties and decimal fractions. */
static void assert_g17(double value)
{
  char mine[G_ASCII_DTOSTR_BUF_SIZE], theirs[G_ASCII_DTOSTR_BUF_SIZE];
  json_format_g17(mine, sizeof mine, value);
  g_ascii_dtostr(theirs, sizeof theirs, value);
  if (strcmp(mine, theirs) != 0)
    g_error("%a: %s, g_ascii_dtostr %s", value, mine, theirs);
}

static void test_g17(void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(20261202);
  for (guint i = 0; i < 300000; i++) {
    guint64 bits = (guint64)g_rand_int(rand) << 32 | g_rand_int(rand);
    guint64 biased = 1023 - 24 + (bits % 85); /* 2^-24 .. 2^60 */
    bits = (bits & ((G_GUINT64_CONSTANT(1) << 52) - 1)) | biased << 52 |
           (i % 2 ? G_GUINT64_CONSTANT(1) << 63 : 0);
    double value;
    memcpy(&value, &bits, sizeof value);
    assert_g17(value);
  }
  for (int k = -8; k <= 18; k++) {
    double power = pow(10, k);
    double x = power;
    for (int step = 0; step < 40; step++)
      x = nextafter(x, 0);
    for (int step = 0; step < 80; step++, x = nextafter(x, INFINITY))
      assert_g17(x), assert_g17(-x);
  }
  for (guint n = 1; n < 20000; n++) {
    assert_g17(n / 10.0), assert_g17(n / 1000.0), assert_g17(n / 1e6), assert_g17(n / 3.0);
    assert_g17(n + 0.5), assert_g17(1.0 / n), assert_g17(n * 1e-7), assert_g17(n * 12345.678);
  }
  assert_g17(0.027777777777777776), assert_g17(0.00028558502684401658);
  assert_g17(0.050092516173311959), assert_g17(1e-6), assert_g17(0.99999999999999989);
  assert_g17(5e-324), assert_g17(1e17), assert_g17(99999999999999984.0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/json-out/escapes", test_escapes);
  g_test_add_func("/json-out/doubles", test_doubles);
  g_test_add_func("/json-out/g17", test_g17);
  g_test_add_func("/json-out/ints", test_ints);
  g_test_add_func("/json-out/structure", test_structure);
  return g_test_run();
}
