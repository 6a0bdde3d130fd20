/* daemon/cmd-config.c: `keel config`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_config(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel config: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
