/* filters/money.h: amounts of money as integer minor units plus an ISO 4217
 * code, never floating point. Parsing what a VA types ("1,486.20", "€150")
 * and formatting per currency (€1,486.20, £150.00, ¥12,000, 1,200.00 CHF).
 * Pure: no locale, no clock, no I/O.
 *
 * Entry points: money_currency_valid(), money_exponent(), money_parse(),
 * money_format(), money_currency_for_symbol(). */
#pragma once

#include <glib.h>

#define KEEL_MONEY_ERROR (keel_money_error_quark())
GQuark keel_money_error_quark(void);
typedef enum {
  KEEL_MONEY_ERROR_INVALID   /* not an amount, too many decimals, unknown currency */
} KeelMoneyError;

/* TRUE for three upper-case ASCII letters (EUR, GBP, JPY...). */
gboolean money_currency_valid(const char *code);

/* Digits after the decimal point: 0 for JPY, KRW, ISK...; 3 for BHD, KWD,
 * OMR, JOD, TND; 2 otherwise. */
int money_exponent(const char *code);

/* The code a currency symbol stands for (€ EUR, £ GBP, $ USD, ¥ JPY), or
 * NULL. `symbol` is one UTF-8 character or longer text starting with one. */
const char *money_currency_for_symbol(const char *symbol);

/* `text` ("1486.20", "1,486.20", "€1,486.20", "12000", "150") in minor
 * units of `currency`. A leading symbol must agree with `currency`. At most
 * money_exponent() decimals; no sign. FALSE with KEEL_MONEY_ERROR_INVALID. */
gboolean money_parse(const char *text, const char *currency, gint64 *minor, GError **error);

/* `minor` units of `currency` as a person reads them: symbol first for EUR,
 * GBP, USD and JPY ("€1,486.20", "-£5.00"), else "1,200.00 CHF". New string. */
char *money_format(gint64 minor, const char *currency);
