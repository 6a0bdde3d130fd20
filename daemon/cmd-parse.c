/* daemon/cmd-parse.c: `keel parse`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_parse(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel parse: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
