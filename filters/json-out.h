/* filters/json-out.h: one JSON object member in one call (its name and its
 * value), for every `--json` output keel prints. Thin over json-glib's
 * JsonBuilder; it decides nothing about what is printed. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

void json_out_string(JsonBuilder *b, const char *name, const char *value);
void json_out_int(JsonBuilder *b, const char *name, gint64 value);
void json_out_bool(JsonBuilder *b, const char *name, gboolean value);
void json_out_double(JsonBuilder *b, const char *name, double value);
void json_out_null(JsonBuilder *b, const char *name);
