/* filters/money.c: money as integer minor units (see money.h). Amounts are
 * parsed digit by digit into a gint64 with an overflow check, so no amount
 * ever passes through a double. Thousands separators are commas, the decimal
 * point is a dot (the VA's own notation; client mail is read by the rules).
 * Must not: use floating point, the C locale or any I/O. */
#include <string.h>
#include "filters/money.h"

G_DEFINE_QUARK(keel-money-error-quark, keel_money_error)

typedef struct {
  const char *symbol;
  const char *code;
} MoneySymbol;

static const MoneySymbol money_symbols[] = {
  { "€", "EUR" }, { "£", "GBP" }, { "$", "USD" }, { "¥", "JPY" },
};

static const char *const money_zero_decimals[] = { "JPY", "KRW", "ISK", "CLP", "VND", "XOF",
                                                   "XAF", "UGX", "PYG", NULL };
static const char *const money_three_decimals[] = { "BHD", "KWD", "OMR", "JOD", "TND", "IQD",
                                                    "LYD", NULL };

gboolean money_currency_valid(const char *code)
{
  if (!code || strlen(code) != 3)
    return FALSE;
  for (int i = 0; i < 3; i++)
    if (code[i] < 'A' || code[i] > 'Z')
      return FALSE;
  return TRUE;
}

int money_exponent(const char *code)
{
  if (code && g_strv_contains(money_zero_decimals, code))
    return 0;
  if (code && g_strv_contains(money_three_decimals, code))
    return 3;
  return 2;
}

const char *money_currency_for_symbol(const char *symbol)
{
  for (gsize i = 0; symbol && i < G_N_ELEMENTS(money_symbols); i++)
    if (g_str_has_prefix(symbol, money_symbols[i].symbol))
      return money_symbols[i].code;
  return NULL;
}

static const char *money_symbol_for(const char *code)
{
  for (gsize i = 0; i < G_N_ELEMENTS(money_symbols); i++)
    if (g_strcmp0(money_symbols[i].code, code) == 0)
      return money_symbols[i].symbol;
  return NULL;
}

/* Adds one digit to `*value`; FALSE on overflow. */
static gboolean money_push_digit(gint64 *value, char digit)
{
  if (*value > (G_MAXINT64 - (digit - '0')) / 10)
    return FALSE;
  *value = *value * 10 + (digit - '0');
  return TRUE;
}

/* The digits of `p` (commas between groups allowed before the point) into
 * `*value`, scaled to `exponent` decimals. FALSE when it is not an amount. */
static gboolean money_parse_digits(const char *p, int exponent, gint64 *value)
{
  gboolean point = FALSE, any = FALSE;
  int decimals = 0;
  *value = 0;
  for (; *p; p++) {
    if (*p == ',' && !point && any && g_ascii_isdigit(p[1]))
      continue;
    if (*p == '.' && !point) {
      point = TRUE;
      continue;
    }
    if (!g_ascii_isdigit(*p) || (point && ++decimals > exponent) || !money_push_digit(value, *p))
      return FALSE;
    any = TRUE;
  }
  for (; decimals < exponent; decimals++)
    if (!money_push_digit(value, '0'))
      return FALSE;
  return any;
}

gboolean money_parse(const char *text, const char *currency, gint64 *minor, GError **error)
{
  g_autofree char *copy = g_strstrip(g_strdup(text ? text : ""));
  const char *p = copy;
  const char *symbol_code = money_currency_for_symbol(p);
  if (symbol_code && g_strcmp0(symbol_code, currency) != 0) {
    g_set_error(error, KEEL_MONEY_ERROR, KEEL_MONEY_ERROR_INVALID,
                "'%s' is in %s, not %s: give --currency %s", copy, symbol_code, currency,
                symbol_code);
    return FALSE;
  }
  if (symbol_code)
    p = g_utf8_next_char(p);
  if (g_str_has_prefix(p, currency))
    p += 3;
  while (*p == ' ')
    p++;
  if (!money_currency_valid(currency) || !money_parse_digits(p, money_exponent(currency), minor)) {
    g_set_error(error, KEEL_MONEY_ERROR, KEEL_MONEY_ERROR_INVALID,
                "'%s' is not an amount of %s (write it like 1486.20%s)", copy,
                currency ? currency : "?", money_exponent(currency) == 2 ? "" : " or 12000");
    return FALSE;
  }
  return TRUE;
}

/* `units` with a comma every three digits. */
static void money_append_grouped(GString *out, guint64 units)
{
  g_autofree char *digits = g_strdup_printf("%" G_GUINT64_FORMAT, units);
  gsize len = strlen(digits);
  for (gsize i = 0; i < len; i++) {
    if (i > 0 && (len - i) % 3 == 0)
      g_string_append_c(out, ',');
    g_string_append_c(out, digits[i]);
  }
}

char *money_format(gint64 minor, const char *currency)
{
  int exponent = money_exponent(currency);
  guint64 scale = 1;
  for (int i = 0; i < exponent; i++)
    scale *= 10;
  guint64 magnitude = minor < 0 ? (guint64)(-(minor + 1)) + 1 : (guint64)minor;
  const char *symbol = money_symbol_for(currency);
  GString *out = g_string_new(minor < 0 ? "-" : "");
  if (symbol)
    g_string_append(out, symbol);
  money_append_grouped(out, magnitude / scale);
  if (exponent > 0)
    g_string_append_printf(out, ".%0*" G_GUINT64_FORMAT, exponent, magnitude % scale);
  if (!symbol)
    g_string_append_printf(out, " %s", currency ? currency : "?");
  return g_string_free(out, FALSE);
}
