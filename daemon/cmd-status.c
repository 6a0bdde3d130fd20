/* daemon/cmd-status.c: `keel status`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_status(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel status: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
