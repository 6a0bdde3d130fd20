/* daemon/cmd-rescore.c: `keel rescore`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_rescore(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel rescore: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
