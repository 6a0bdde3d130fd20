/* filters/json-out.h: JSON output for every `--json` keel prints, two ways.
 *  - json_out_*(): one member of a json-glib JsonBuilder object in one call
 *    (its name and its value), for the commands that print a few objects.
 *  - json_put_*(): the same members written straight into a GString, no tree
 *    and no generator, for `keel score --json` (one object per message). It
 *    prints what json-glib's generator (1.6) prints for the same values, byte
 *    for byte, but where that is not JSON: 0x1f is escaped (\u001f) and a
 *    double in exponent form gets no ".0" ("1e+17", not "1e+17.0").
 * Neither decides what is printed: callers pass the final values. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

void json_out_string(JsonBuilder *b, const char *name, const char *value);
void json_out_int(JsonBuilder *b, const char *name, gint64 value);
void json_out_bool(JsonBuilder *b, const char *name, gboolean value);
void json_out_double(JsonBuilder *b, const char *name, double value);
void json_out_null(JsonBuilder *b, const char *name);

/* `name` is the member's name inside an object, NULL for an element of an
 * array (or the outermost value). The comma before a member or an element
 * is written when the last byte of `out` is not `{` or `[`; so a line starts
 * with json_put_object_start(out, NULL) on an empty string or after "\n". */
void json_put_object_start(GString *out, const char *name);
void json_put_object_end(GString *out);
void json_put_array_start(GString *out, const char *name);
void json_put_array_end(GString *out);
/* A NULL `value` is written as null. */
void json_put_string(GString *out, const char *name, const char *value);
void json_put_int(GString *out, const char *name, gint64 value);
void json_put_bool(GString *out, const char *name, gboolean value);
/* "%.17g" (g_ascii_dtostr), ".0" added when that has no '.' nor exponent:
 * 0.0, -0.0, 226.0, 0.10000000000000001, 1e-300. NaN and infinities: null. */
void json_put_double(GString *out, const char *name, double value);
/* `value` as g_ascii_dtostr() writes it ("%.17g"), byte for byte, into
 * `buffer` (`size` bytes, G_ASCII_DTOSTR_BUF_SIZE is enough): without
 * printf for 1e-6 <= |value| < 1e17, which is what scores and signals are. */
void json_format_g17(char *buffer, gsize size, double value);
void json_put_null(GString *out, const char *name);
/* `value` escaped as in a JSON string, without the quotes. */
void json_put_escaped(GString *out, const char *value);
