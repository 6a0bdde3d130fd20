/* daemon/cmd-search.c: `keel search`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_search(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel search: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
