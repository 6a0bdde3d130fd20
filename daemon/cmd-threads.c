/* daemon/cmd-threads.c: `keel threads`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_threads(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel threads: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
