/* filters/json-out.c: JSON members as name + value in one call (see
 * json-out.h): into a JsonBuilder (json_out_*) or straight into a GString
 * (json_put_*). No formatting choices here: callers pass the final values.
 * Must not: change a byte of what json-glib's generator prints for valid
 * JSON (`keel score --json` is compared byte for byte across versions). */
#include <math.h>
#include <string.h>
#include "filters/json-out.h"

void json_out_string(JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, value);
}

void json_out_int(JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

void json_out_bool(JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, value);
}

void json_out_double(JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name(b, name);
  json_builder_add_double_value(b, value);
}

void json_out_null(JsonBuilder *b, const char *name)
{
  json_builder_set_member_name(b, name);
  json_builder_add_null_value(b);
}

/* ---- straight into a GString ---- */

/* Bytes a JSON string cannot carry as they are: what json-glib escapes
 * (`"`, `\`, 0x01-0x1e, 0x7f) and 0x1f, which it leaves raw. Bytes from
 * 0x80 pass through: the strings are UTF-8 already. */
static gboolean json_put_needs_escape(unsigned char c)
{
  return c < 0x20 || c == '"' || c == '\\' || c == 0x7f;
}

void json_put_escaped(GString *out, const char *value)
{
  static const char hex[] = "0123456789abcdef";
  const char *run = value;
  for (const char *p = value; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (!json_put_needs_escape(c))
      continue;
    g_string_append_len(out, run, p - run);
    run = p + 1;
    char escape[7] = { '\\', 0 };
    switch (c) {
    case '"': case '\\': escape[1] = (char)c; break;
    case '\b': escape[1] = 'b'; break;
    case '\f': escape[1] = 'f'; break;
    case '\n': escape[1] = 'n'; break;
    case '\r': escape[1] = 'r'; break;
    case '\t': escape[1] = 't'; break;
    default:
      memcpy(escape + 1, "u00", 3);
      escape[4] = hex[c >> 4];
      escape[5] = hex[c & 0xf];
      break;
    }
    g_string_append(out, escape);
  }
  g_string_append_len(out, run, (gssize)strlen(run));
}

/* The comma before a member or element, and the member's name. */
static void json_put_name(GString *out, const char *name)
{
  char last = out->len ? out->str[out->len - 1] : '\n';
  if (last != '{' && last != '[' && last != '\n')
    g_string_append_c(out, ',');
  if (!name)
    return;
  g_string_append_c(out, '"');
  json_put_escaped(out, name);
  g_string_append_len(out, "\":", 2);
}

void json_put_object_start(GString *out, const char *name)
{
  json_put_name(out, name);
  g_string_append_c(out, '{');
}

void json_put_object_end(GString *out)
{
  g_string_append_c(out, '}');
}

void json_put_array_start(GString *out, const char *name)
{
  json_put_name(out, name);
  g_string_append_c(out, '[');
}

void json_put_array_end(GString *out)
{
  g_string_append_c(out, ']');
}

void json_put_string(GString *out, const char *name, const char *value)
{
  json_put_name(out, name);
  if (!value) {
    g_string_append_len(out, "null", 4);
    return;
  }
  g_string_append_c(out, '"');
  json_put_escaped(out, value);
  g_string_append_c(out, '"');
}

/* The decimal digits of `value`, with its sign (G_GINT64_FORMAT's text). */
static void json_put_digits(GString *out, gint64 value)
{
  char digits[24];
  char *p = digits + sizeof digits;
  guint64 magnitude = value < 0 ? 0 - (guint64)value : (guint64)value;
  do {
    *--p = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  if (value < 0)
    *--p = '-';
  g_string_append_len(out, p, digits + sizeof digits - p);
}

void json_put_int(GString *out, const char *name, gint64 value)
{
  json_put_name(out, name);
  json_put_digits(out, value);
}

void json_put_bool(GString *out, const char *name, gboolean value)
{
  json_put_name(out, name);
  if (value)
    g_string_append_len(out, "true", 4);
  else
    g_string_append_len(out, "false", 5);
}

/* Whole numbers below 2^53 print as their digits in "%.17g" (no exponent
 * below 1e17), so they skip printf; -0.0 is "-0". */
#define JSON_PUT_EXACT_LIMIT 9007199254740992.0

void json_put_double(GString *out, const char *name, double value)
{
  json_put_name(out, name);
  if (value != value || value - value != 0) { /* NaN, or an infinity */
    g_string_append_len(out, "null", 4);
    return;
  }
  if (value > -JSON_PUT_EXACT_LIMIT && value < JSON_PUT_EXACT_LIMIT &&
      value == (double)(gint64)value) {
    if (value == 0 && signbit(value))
      g_string_append_c(out, '-');
    json_put_digits(out, (gint64)value);
    g_string_append_len(out, ".0", 2);
    return;
  }
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_dtostr(buffer, sizeof buffer, value);
  g_string_append(out, buffer);
  if (!strpbrk(buffer, ".eE"))
    g_string_append_len(out, ".0", 2);
}

void json_put_null(GString *out, const char *name)
{
  json_put_name(out, name);
  g_string_append_len(out, "null", 4);
}
