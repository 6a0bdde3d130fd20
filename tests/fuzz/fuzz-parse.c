/* tests/fuzz/fuzz-parse.c: libFuzzer target for the parser. Every input goes
 * through message_parse() (whole, and with a size limit below its length so
 * the header-only path runs too), message_to_json() and subject_normalise(),
 * and everything is freed, so ASan/UBSan/LSan see any memory error or leak.
 * Built and run by tests/fuzz/run.sh, never by meson. */
#include <stdint.h>
#include "filters/message.h"

static void fuzz_parse_once(const uint8_t *data, size_t size, gsize max_size)
{
  GError *error = NULL;
  KeelMessage *message = message_parse(data, size, NULL, max_size, &error);
  if (message == NULL) {
    g_assert(error != NULL);
    g_error_free(error);
    return;
  }
  JsonBuilder *builder = json_builder_new();
  json_builder_begin_object(builder);
  message_to_json(message, builder);
  json_builder_end_object(builder);
  JsonNode *root = json_builder_get_root(builder);
  char *text = json_to_string(root, FALSE);
  g_assert(g_utf8_validate(text, -1, NULL));
  char *subject = subject_normalise(message->subject);
  g_free(subject);
  g_free(text);
  json_node_unref(root);
  g_object_unref(builder);
  message_free(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_parse_once(data, size, 0);
  if (size > 64)
    fuzz_parse_once(data, size, size / 2);
  return 0;
}
