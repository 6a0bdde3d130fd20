/* tests/fuzz/fuzz-rules.c: libFuzzer target for the rule compiler. Any bytes
 * as one rule file: rules_compile() must return a set or an error, never
 * crash, leak or hang. Seeds: tests/fuzz/seeds-fuzz-rules/ (the default rules
 * and the bad fixtures); dictionary: fuzz-rules.dict. Built by run.sh. */
#include <string.h>
#include "filters/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup((const char *)data, size);
  const char *names[] = { "fuzz.rules" };
  const char *texts[] = { text };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_compile(names, texts, 1, &error);
  g_assert((rules == NULL) == (error != NULL));
  return 0;
}
