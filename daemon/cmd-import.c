/* daemon/cmd-import.c: `keel import`. Not written yet. */
#include <stdio.h>
#include "daemon/commands.h"

int cmd_import(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "keel import: not available in this build yet\n");
  return EX_UNAVAILABLE;
}
