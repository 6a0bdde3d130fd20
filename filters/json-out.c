/* filters/json-out.c: JSON members as name + value in one call (see
 * json-out.h). No formatting choices here: callers pass the final values. */
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
