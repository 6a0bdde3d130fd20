/* daemon/cmd-trail.c: `keel trail`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_trail(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel trail: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
