/* daemon/cmd-rules.c: `keel rules`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_rules(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel rules: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
