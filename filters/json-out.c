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

/* ---- "%.17g" without printf ----
 * A double is m * 2^e (m an integer below 2^53). Its 17 significant digits
 * are m * 10^k / 2^-e rounded to an integer, k = 16 - d where d is its
 * decimal exponent: for 1e-6 <= |value| < 1e17 (k <= 22, e < 0), m * 10^k
 * fits in 128 bits and the division is a shift, so the digits and their
 * rounding (to nearest, ties to even, as glibc's printf) are exact. Then
 * the digits are laid out as "%.17g" does: trailing zeros dropped, an
 * exponent below -4 written "e-05". Other values go to g_ascii_dtostr(). */

#if defined(__SIZEOF_INT128__) /* GCC and Clang on 64-bit targets */
#define JSON_G17_DIGITS 17

/* The 17 digits of m * 2^e (e < 0) for decimal exponent `*d`, rounded,
 * into `*digits`: 1 when `*d` is its exponent (a rounding that carries to
 * 18 digits moves `*d` up one, as printf does), 0 when `*d` is too small,
 * -1 too large, -2 out of the range done here. */
static int json_g17_digits(guint64 m, int e, int *d, guint64 *digits)
{
  const unsigned __int128 low = 10000000000000000ULL, high = 100000000000000000ULL;
  int k = JSON_G17_DIGITS - 1 - *d;
  if (k < 0 || k > 22 || e >= 0 || e < -120)
    return -2;
  unsigned __int128 n = m;
  for (int i = 0; i < k; i++)
    n *= 10;
  unsigned s = (unsigned)-e;
  unsigned __int128 q = n >> s, r = n & (((unsigned __int128)1 << s) - 1);
  if (q >= high)
    return 0;
  if (q < low)
    return -1;
  unsigned __int128 half = (unsigned __int128)1 << (s - 1);
  if (r > half || (r == half && (q & 1)))
    q++;
  if (q == high) { /* 99999999999999999.5 and up: 1.0000000000000000 at the next exponent */
    q = low;
    (*d)++;
  }
  *digits = (guint64)q;
  return 1;
}

/* "%.17g" of `value` into `buffer` (at least 32 bytes); FALSE when it is
 * not in the range done here. */
static gboolean json_g17(char *buffer, double value)
{
  guint64 bits;
  memcpy(&bits, &value, sizeof bits);
  int biased = (int)((bits >> 52) & 0x7FF);
  if (biased == 0 || biased == 0x7FF)
    return FALSE; /* zero, subnormal, infinite, NaN */
  guint64 m = (bits & ((G_GUINT64_CONSTANT(1) << 52) - 1)) | (G_GUINT64_CONSTANT(1) << 52);
  int e = biased - 1075;
  double magnitude = fabs(value);
  if (magnitude < 1e-6 || magnitude >= 1e17)
    return FALSE;
  int d = (int)floor(log10(magnitude)); /* may be one off near a power of ten */
  guint64 digits = 0;
  int found = json_g17_digits(m, e, &d, &digits);
  for (int tries = 0; found == 0 || found == -1; tries++) {
    if (tries == 2)
      return FALSE;
    d += found == 0 ? 1 : -1;
    found = json_g17_digits(m, e, &d, &digits);
  }
  if (found != 1 || d < -6)
    return FALSE;
  char text[JSON_G17_DIGITS + 1];
  for (int i = JSON_G17_DIGITS - 1; i >= 0; i--, digits /= 10)
    text[i] = (char)('0' + digits % 10);
  int used = JSON_G17_DIGITS;
  while (used > 1 && text[used - 1] == '0')
    used--;
  char *p = buffer;
  if (value < 0)
    *p++ = '-';
  if (d < -4) { /* d.ddde-0N */
    *p++ = text[0];
    if (used > 1) {
      *p++ = '.';
      memcpy(p, text + 1, (gsize)used - 1);
      p += used - 1;
    }
    p += g_snprintf(p, 8, "e-%02d", -d);
  } else if (d < 0) { /* 0.000ddd */
    *p++ = '0';
    *p++ = '.';
    for (int i = 0; i < -d - 1; i++)
      *p++ = '0';
    memcpy(p, text, (gsize)used);
    p += used;
  } else { /* ddd.ddd */
    memcpy(p, text, (gsize)d + 1);
    p += d + 1;
    if (used > d + 1) {
      *p++ = '.';
      memcpy(p, text + d + 1, (gsize)(used - d - 1));
      p += used - d - 1;
    }
  }
  *p = '\0';
  return TRUE;
}

#else
static gboolean json_g17(char *buffer, double value)
{
  (void)buffer;
  (void)value;
  return FALSE; /* no 128-bit integers: printf does it all */
}
#endif

void json_format_g17(char *buffer, gsize size, double value)
{
  if (size < 32 || !json_g17(buffer, value))
    g_ascii_dtostr(buffer, (gint)size, value);
}

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
  json_format_g17(buffer, sizeof buffer, value);
  g_string_append(out, buffer);
  if (!strpbrk(buffer, ".eE"))
    g_string_append_len(out, ".0", 2);
}

void json_put_null(GString *out, const char *name)
{
  json_put_name(out, name);
  g_string_append_len(out, "null", 4);
}
